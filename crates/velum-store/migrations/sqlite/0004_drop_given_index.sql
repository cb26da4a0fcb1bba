-- Name search walks the family-name index, then the full-name index (which
-- covers every given-name prefix too); the given-name index is no longer read.
DROP INDEX clients_given;
