-- Two-step sign-in set-up is bound to the session that shows it.
--
-- A pending TOTP secret lives on the enrolment session (sealed under the
-- clinic key, its associated data naming the session), never on the account:
-- each enrolment session gets its own secret, only that session can confirm
-- it, and once the account has confirmed one no session shows a secret again.
ALTER TABLE sessions ADD COLUMN totp_pending BYTEA;

-- Secrets shown before this migration but never confirmed were kept on the
-- account; they are dropped, and the next sign-in shows a fresh one.
UPDATE staff SET totp_sealed = NULL WHERE totp_confirmed = FALSE;

-- Recovery codes: ten single-use codes shown once when two-step sign-in is
-- set up (or made again by their owner). Only a SHA-256 of each code, with
-- its clinic and account bound in, is stored (velum-crypto recovery.rs says
-- why a slow hash is not needed for an 80-bit random code).
CREATE TABLE staff_recovery_codes (
    clinic_id  UUID NOT NULL,
    staff_id   UUID NOT NULL,
    code_hash  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (clinic_id, staff_id, code_hash),
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
);
