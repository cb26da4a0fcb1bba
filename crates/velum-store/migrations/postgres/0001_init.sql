-- Velum schema, PostgreSQL 15 (the same tables and columns as migrations/sqlite). Forward-only: never edit an applied migration; add a
-- new numbered file instead (the PostgreSQL tree will carry the same numbers).
-- Instants are BIGINT unix microseconds (UTC), as on SQLite. Ids are UUIDs. Search
-- keys use the C collation so prefix ranges compare bytewise, as on SQLite.
-- Every table of clinic data has clinic_id first in its primary key, so the
-- schema can later be distributed by clinic.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE clinics (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL
);

-- The clinic's data key, wrapped by the master key. key_id allows rotation.
CREATE TABLE clinic_keys (
    clinic_id  UUID NOT NULL REFERENCES clinics (id),
    key_id     BIGINT NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, key_id)
);

CREATE TABLE staff (
    clinic_id       UUID NOT NULL REFERENCES clinics (id),
    id              UUID NOT NULL,
    email           TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    password_hash   TEXT,
    totp_sealed     BYTEA,
    totp_confirmed  BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step  BIGINT NOT NULL DEFAULT 0,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, id)
);
-- Sign-in is by email alone, so an email names one account installation-wide.
CREATE UNIQUE INDEX staff_email ON staff (email);

-- Server-side sessions. Only a SHA-256 of the token is stored.
-- stage: 'totp' (password accepted, code pending), 'enrol' (must set up TOTP), 'full'.
CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,
    clinic_id    UUID NOT NULL,
    staff_id     UUID NOT NULL,
    kind         TEXT NOT NULL,
    stage        TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
);
CREATE INDEX sessions_staff ON sessions (clinic_id, staff_id);

-- Single-use links: account set-up and password reset. Stored hashed.
CREATE TABLE one_time_tokens (
    token_hash BYTEA PRIMARY KEY,
    clinic_id  UUID NOT NULL,
    staff_id   UUID NOT NULL,
    purpose    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    FOREIGN KEY (clinic_id, staff_id) REFERENCES staff (clinic_id, id)
);

CREATE TABLE clients (
    clinic_id       UUID NOT NULL REFERENCES clinics (id),
    id              UUID NOT NULL,
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    given_key       TEXT COLLATE "C" NOT NULL,
    family_key      TEXT COLLATE "C" NOT NULL,
    full_key        TEXT COLLATE "C" NOT NULL,
    date_of_birth   TEXT NOT NULL,
    email           TEXT COLLATE "C",
    mobile          TEXT COLLATE "C",
    line1           TEXT,
    line2           TEXT,
    town            TEXT,
    postcode        TEXT,
    marketing_email BOOLEAN NOT NULL DEFAULT FALSE,
    marketing_sms   BOOLEAN NOT NULL DEFAULT FALSE,
    archived        BOOLEAN NOT NULL DEFAULT FALSE,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, id)
);
CREATE INDEX clients_family ON clients (clinic_id, family_key, given_key, id);
CREATE INDEX clients_given ON clients (clinic_id, given_key);
CREATE INDEX clients_full ON clients (clinic_id, full_key);
CREATE INDEX clients_dob ON clients (clinic_id, date_of_birth);
CREATE INDEX clients_email ON clients (clinic_id, email);
CREATE INDEX clients_mobile ON clients (clinic_id, mobile);

-- Each client's data key, wrapped by the clinic key (key_id names which).
-- Deleting this row crypto-shreds everything sealed for the client.
CREATE TABLE client_keys (
    clinic_id  UUID NOT NULL,
    client_id  UUID NOT NULL,
    key_id     BIGINT NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, client_id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, id)
);

-- Medical summary, sealed (AES-256-GCM) under the client's key.
CREATE TABLE client_medical (
    clinic_id  UUID NOT NULL,
    client_id  UUID NOT NULL,
    sealed     BYTEA NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by UUID NOT NULL,
    PRIMARY KEY (clinic_id, client_id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, id)
);

-- Every change keeps the previous value, sealed under the client's key.
CREATE TABLE client_history (
    clinic_id       UUID NOT NULL,
    client_id       UUID NOT NULL,
    id              UUID NOT NULL,
    section         TEXT NOT NULL,
    changed_at      BIGINT NOT NULL,
    changed_by      UUID NOT NULL,
    previous_sealed BYTEA,
    PRIMARY KEY (clinic_id, client_id, id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, id)
);

-- The audit trail: one hash chain per clinic (the all-zero clinic id holds
-- events that belong to no clinic). audit_heads holds each chain's tip, so
-- truncating the tail is detected too.
CREATE TABLE audit_heads (
    clinic_id UUID PRIMARY KEY,
    seq       BIGINT NOT NULL,
    hash      BYTEA NOT NULL
);

CREATE TABLE audit_events (
    clinic_id UUID NOT NULL,
    seq       BIGINT NOT NULL,
    id        UUID NOT NULL,
    at        BIGINT NOT NULL,
    actor_id  UUID,
    client_id UUID,
    sections  TEXT NOT NULL,
    action    TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    source    TEXT,
    detail    TEXT,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL,
    PRIMARY KEY (clinic_id, seq)
);
CREATE INDEX audit_events_client ON audit_events (clinic_id, client_id, seq);

-- Outgoing email, written in the same transaction as the action that sends it.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    clinic_id       UUID,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    sent_at         BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

-- Failed sign-ins per source address, to slow down guessing.
CREATE TABLE login_throttle (
    source       TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);
