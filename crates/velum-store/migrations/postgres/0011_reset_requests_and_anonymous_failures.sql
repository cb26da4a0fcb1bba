-- Password-reset requests, queued by the request itself (the same small
-- write whether or not the email has an account) and handled by the
-- background worker, which looks the email up and sends the link. A row
-- lives only until the worker takes it.
CREATE TABLE password_reset_requests (
    id           UUID PRIMARY KEY,
    email        TEXT NOT NULL,
    source       TEXT,
    requested_at BIGINT NOT NULL
);

-- Failed sign-ins with an email that has no account, counted per source
-- address and window; each window becomes one summary event in the
-- platform's audit chain (not one event per attempt).
CREATE TABLE anonymous_sign_in_failures (
    source       TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);
