-- The durable job queue: background work (sending a queued mail, and the
-- recurring work of the worker) as rows, claimed by one worker at a time.
--
-- `payload` is sealed (AES-256-GCM) under the key of the job's clinic, or
-- the platform's when that clinic has none, named by (key_clinic_id,
-- key_id); it is cleared once the job is done or failed. `last_error` never
-- holds personal data. `unique_key` makes queueing idempotent: a second job
-- of the same clinic with the same key is not queued. `state` is queued, running, done or
-- failed (attempts exhausted or refused for good).
CREATE TABLE jobs (
    id             BLOB NOT NULL,
    kind           TEXT NOT NULL,
    clinic_id      BLOB NOT NULL,
    unique_key     TEXT,
    payload        BLOB,
    key_clinic_id  BLOB,
    key_id         INTEGER,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL,
    backoff_micros INTEGER NOT NULL,
    run_at         INTEGER NOT NULL,
    claimed_until  INTEGER,
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, unique_key)
) STRICT;
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_clinic_state ON jobs (clinic_id, state);
-- Workers update a claimed job by its id alone.
CREATE INDEX jobs_id ON jobs (id);

-- Mail waiting in the outbox becomes a job to send it.
INSERT INTO jobs (id, kind, clinic_id, unique_key, state, attempts, max_attempts, backoff_micros, run_at, created_at)
SELECT id, 'mail', COALESCE(clinic_id, zeroblob(16)), 'mail:' || lower(hex(id)), 'queued', attempts, 1000, 60000000,
       next_attempt_at, created_at
FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL;
