-- Offboarding. A clinic that leaves keeps only its row in clinics, as a
-- tombstone with status 'offboarded' (ids are never reused; sign-in is
-- refused), and this record: the offboarding certificate (JSON; nothing
-- personal beyond the clinic's name: ids, counts, hashes). Its SHA-256 is
-- also in the platform's audit chain.
--
-- archive holds the clinic's readable archive, sealed under a key that is
-- shown once and never stored, only when the offboarding was done from the
-- web page: until the operator has downloaded it and deleted this copy, or
-- until archive_expires_at, whichever comes first. NULL otherwise.
CREATE TABLE clinic_offboardings (
    clinic_id          UUID PRIMARY KEY REFERENCES clinics (id),
    at                 BIGINT NOT NULL,
    certificate        TEXT NOT NULL,
    archive            BYTEA,
    archive_expires_at BIGINT
);
