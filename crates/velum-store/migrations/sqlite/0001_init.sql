-- Velum schema, SQLite. Forward-only: never edit an applied migration; add a
-- new numbered file instead (the PostgreSQL tree will carry the same numbers).
-- Instants are INTEGER unix microseconds (UTC). Ids are 16-byte UUID BLOBs.
-- Every table of clinic data has clinic_id first in its primary key, so the
-- schema can later be distributed by clinic.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE clinics (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active',
    created_at INTEGER NOT NULL
) STRICT;

-- The clinic's data key, wrapped by the master key. key_id allows rotation.
CREATE TABLE clinic_keys (
    clinic_id  BLOB NOT NULL REFERENCES clinics (id),
    key_id     INTEGER NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, key_id)
) STRICT;

CREATE TABLE staff (
    clinic_id       BLOB NOT NULL REFERENCES clinics (id),
    id              BLOB NOT NULL,
    email           TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    password_hash   TEXT,
    totp_sealed     BLOB,
    totp_confirmed  INTEGER NOT NULL DEFAULT 0,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, id)
) STRICT;
-- Sign-in is by email alone, so an email names one account installation-wide.
CREATE UNIQUE INDEX staff_email ON staff (email);

-- Server-side sessions. Only a SHA-256 of the token is stored.
-- stage: 'totp' (password accepted, code pending), 'enrol' (must set up TOTP), 'full'.
CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    clinic_id    BLOB NOT NULL,
    staff_id     BLOB NOT NULL,
    kind         TEXT NOT NULL,
    stage        TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
) STRICT;
CREATE INDEX sessions_staff ON sessions (clinic_id, staff_id);

-- Single-use links: account set-up and password reset. Stored hashed.
CREATE TABLE one_time_tokens (
    token_hash BLOB PRIMARY KEY,
    clinic_id  BLOB NOT NULL,
    staff_id   BLOB NOT NULL,
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
) STRICT;

CREATE TABLE clients (
    clinic_id       BLOB NOT NULL REFERENCES clinics (id),
    id              BLOB NOT NULL,
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    given_key       TEXT NOT NULL,
    family_key      TEXT NOT NULL,
    full_key        TEXT NOT NULL,
    date_of_birth   TEXT NOT NULL,
    email           TEXT,
    mobile          TEXT,
    line1           TEXT,
    line2           TEXT,
    town            TEXT,
    postcode        TEXT,
    marketing_email INTEGER NOT NULL DEFAULT 0,
    marketing_sms   INTEGER NOT NULL DEFAULT 0,
    archived        INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, id)
) STRICT;
CREATE INDEX clients_family ON clients (clinic_id, family_key, given_key, id);
CREATE INDEX clients_given ON clients (clinic_id, given_key);
CREATE INDEX clients_full ON clients (clinic_id, full_key);
CREATE INDEX clients_dob ON clients (clinic_id, date_of_birth);
CREATE INDEX clients_email ON clients (clinic_id, email);
CREATE INDEX clients_mobile ON clients (clinic_id, mobile);

-- Each client's data key, wrapped by the clinic key (key_id names which).
-- Deleting this row crypto-shreds everything sealed for the client.
CREATE TABLE client_keys (
    clinic_id  BLOB NOT NULL,
    client_id  BLOB NOT NULL,
    key_id     INTEGER NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, client_id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, id)
) STRICT;

-- Medical summary, sealed (AES-256-GCM) under the client's key.
CREATE TABLE client_medical (
    clinic_id  BLOB NOT NULL,
    client_id  BLOB NOT NULL,
    sealed     BLOB NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by BLOB NOT NULL,
    PRIMARY KEY (clinic_id, client_id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, id)
) STRICT;

-- Every change keeps the previous value, sealed under the client's key.
CREATE TABLE client_history (
    clinic_id       BLOB NOT NULL,
    client_id       BLOB NOT NULL,
    id              BLOB NOT NULL,
    section         TEXT NOT NULL,
    changed_at      INTEGER NOT NULL,
    changed_by      BLOB NOT NULL,
    previous_sealed BLOB,
    PRIMARY KEY (clinic_id, client_id, id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, id)
) STRICT;

-- The audit trail: one hash chain per clinic (the all-zero clinic id holds
-- events that belong to no clinic). audit_heads holds each chain's tip, so
-- truncating the tail is detected too.
CREATE TABLE audit_heads (
    clinic_id BLOB PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      BLOB NOT NULL
) STRICT;

CREATE TABLE audit_events (
    clinic_id BLOB NOT NULL,
    seq       INTEGER NOT NULL,
    id        BLOB NOT NULL,
    at        INTEGER NOT NULL,
    actor_id  BLOB,
    client_id BLOB,
    sections  TEXT NOT NULL,
    action    TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    source    TEXT,
    detail    TEXT,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL,
    PRIMARY KEY (clinic_id, seq)
) STRICT;
CREATE INDEX audit_events_client ON audit_events (clinic_id, client_id, seq);

-- Outgoing email, written in the same transaction as the action that sends it.
CREATE TABLE outbox (
    id              BLOB PRIMARY KEY,
    clinic_id       BLOB,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    sent_at         INTEGER,
    last_error      TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

-- Failed sign-ins per source address, to slow down guessing.
CREATE TABLE login_throttle (
    source       TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL
) STRICT;
