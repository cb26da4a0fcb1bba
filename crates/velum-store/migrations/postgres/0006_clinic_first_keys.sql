-- Clinic first in every key, so the schema can be distributed by clinic
-- (docs/deploy/postgres.md) without change.
--
-- Sessions and single-use links: a token now names its clinic
-- ("<clinic id>.<secret>"), and the table is keyed by (clinic_id, token_hash).
-- Tokens issued before this migration do not name their clinic, so they end
-- here: staff sign in again, and an unused set-up or reset link is replaced
-- through "Forgot password" (or a new invitation).
DELETE FROM sessions;
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey;
ALTER TABLE sessions ADD PRIMARY KEY (clinic_id, token_hash);

DELETE FROM one_time_tokens;
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_pkey;
ALTER TABLE one_time_tokens ADD PRIMARY KEY (clinic_id, token_hash);

-- Outgoing email always names a clinic; mail that belongs to none goes under
-- the platform's all-zero id.
UPDATE outbox SET clinic_id = '00000000-0000-0000-0000-000000000000' WHERE clinic_id IS NULL;
ALTER TABLE outbox ALTER COLUMN clinic_id SET NOT NULL;
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox ADD PRIMARY KEY (clinic_id, id);

-- Sign-in is by email alone, so an email names one account installation-wide.
-- That rule lives in this small directory (a reference table when the schema
-- is distributed); staff itself is unique per clinic only. The store writes
-- both in one transaction.
CREATE TABLE staff_logins (
    email     TEXT PRIMARY KEY,
    clinic_id UUID NOT NULL,
    staff_id  UUID NOT NULL
);
INSERT INTO staff_logins (email, clinic_id, staff_id) SELECT email, clinic_id, id FROM staff;
DROP INDEX staff_email;
CREATE UNIQUE INDEX staff_email ON staff (clinic_id, email);
