-- Offboarding needs two parties. clinic_leaving: the clinic's owner asked
-- to leave, signed in with password and a fresh two-step code, and chose an
-- archive passphrase. The passphrase is never stored: only the Argon2id
-- salt and the X25519 public key derived from it, which can seal the
-- archive to the passphrase but open nothing (velum_crypto::archive).
-- offboarding_approvals: operators who approved an offboarding the owner
-- did not ask for; it proceeds at the second, different operator. Both are
-- deleted with the clinic's other rows when it is offboarded.
CREATE TABLE clinic_leaving (
    clinic_id      BLOB PRIMARY KEY REFERENCES clinics (id),
    requested_by   BLOB NOT NULL,
    requested_at   INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    archive_salt   BLOB NOT NULL,
    archive_public BLOB NOT NULL
) STRICT;

CREATE TABLE offboarding_approvals (
    clinic_id   BLOB NOT NULL REFERENCES clinics (id),
    operator_id BLOB NOT NULL,
    approved_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (clinic_id, operator_id)
) STRICT;
