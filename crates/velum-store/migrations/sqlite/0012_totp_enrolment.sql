-- Two-step sign-in set-up is bound to the session that shows it.
--
-- A pending TOTP secret lives on the enrolment session (sealed under the
-- clinic key, its associated data naming the session), never on the account:
-- each enrolment session gets its own secret, only that session can confirm
-- it, and once the account has confirmed one no session shows a secret again.
ALTER TABLE sessions ADD COLUMN totp_pending BLOB;

-- Secrets shown before this migration but never confirmed were kept on the
-- account; they are dropped, and the next sign-in shows a fresh one.
UPDATE staff SET totp_sealed = NULL WHERE totp_confirmed = 0;
