-- The medical record's associated data now names its version (scheme 2):
-- an older ciphertext of the same record copied over the current row no
-- longer opens. Rows written before this migration were sealed under the
-- record's identity only (scheme 1); the app re-seals them under scheme 2
-- with the master key when it starts (a data migration, resumable row by
-- row) and records in `meta` ('medical_aad_v2') when none are left. After
-- that a scheme-1 row is refused as an integrity failure, never opened.
ALTER TABLE client_medical ADD COLUMN aad_scheme INTEGER NOT NULL DEFAULT 1;
