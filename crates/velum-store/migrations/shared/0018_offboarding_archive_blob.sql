-- An offboarding archive kept for download is stored in the blob store
-- under this id (`offboarding-archives/<clinic>/<id>`), not in `archive`.
-- Rows written before keep their `archive` value until it is dropped.
ALTER TABLE clinic_offboardings ADD COLUMN archive_blob UUID;
