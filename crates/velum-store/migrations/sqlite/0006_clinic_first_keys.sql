-- Clinic first in every key, so the schema can be distributed by clinic
-- (docs/deploy/postgres.md) without change.
--
-- Sessions and single-use links: a token now names its clinic
-- ("<clinic id>.<secret>"), and the table is keyed by (clinic_id, token_hash).
-- Tokens issued before this migration do not name their clinic, so they end
-- here: staff sign in again, and an unused set-up or reset link is replaced
-- through "Forgot password" (or a new invitation).
DROP TABLE sessions;
CREATE TABLE sessions (
    clinic_id         BLOB NOT NULL,
    token_hash        BLOB NOT NULL,
    staff_id          BLOB NOT NULL,
    kind              TEXT NOT NULL,
    stage             TEXT NOT NULL,
    csrf_token        TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    last_seen_at      INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    support_clinic_id BLOB,
    support_grant_id  BLOB,
    PRIMARY KEY (clinic_id, token_hash),
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
) STRICT;
CREATE INDEX sessions_staff ON sessions (clinic_id, staff_id);

DROP TABLE one_time_tokens;
CREATE TABLE one_time_tokens (
    clinic_id  BLOB NOT NULL,
    token_hash BLOB NOT NULL,
    staff_id   BLOB NOT NULL,
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (clinic_id, token_hash),
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
) STRICT;

-- Outgoing email always names a clinic; mail that belongs to none goes under
-- the platform's all-zero id.
CREATE TABLE outbox_new (
    clinic_id       BLOB NOT NULL,
    id              BLOB NOT NULL,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    sent_at         INTEGER,
    last_error      TEXT,
    PRIMARY KEY (clinic_id, id)
) STRICT;
INSERT INTO outbox_new (clinic_id, id, to_addr, subject, body, created_at, attempts, next_attempt_at,
                        claimed_until, sent_at, last_error)
SELECT COALESCE(clinic_id, X'00000000000000000000000000000000'), id, to_addr, subject, body, created_at,
       attempts, next_attempt_at, claimed_until, sent_at, last_error
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

-- Sign-in is by email alone, so an email names one account installation-wide.
-- That rule lives in this small directory (a reference table when the schema
-- is distributed); staff itself is unique per clinic only. The store writes
-- both in one transaction.
CREATE TABLE staff_logins (
    email     TEXT PRIMARY KEY,
    clinic_id BLOB NOT NULL,
    staff_id  BLOB NOT NULL
) STRICT;
INSERT INTO staff_logins (email, clinic_id, staff_id) SELECT email, clinic_id, id FROM staff;
DROP INDEX staff_email;
CREATE UNIQUE INDEX staff_email ON staff (clinic_id, email);
