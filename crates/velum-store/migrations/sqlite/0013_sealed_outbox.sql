-- Outgoing mail is sealed (AES-256-GCM) under its clinic's key as it is
-- queued: recipient, subject and body together, in `sealed`, with the key
-- that sealed it named by (key_clinic_id, key_id) — the clinic's own key, or
-- the platform's when the clinic has none left. The plaintext columns stay
-- (SQLite cannot relax NOT NULL without rebuilding the table) and are
-- written empty. Once a message is sent or given up (`failed_at`), `sealed`
-- is cleared too.
--
-- Rows queued before this migration are still plaintext here: the app seals
-- them when it next starts (velum_app::App::open), before it sends anything.
-- Rows already sent or given up lose their recipient and subject now.
ALTER TABLE outbox ADD COLUMN sealed BLOB;
ALTER TABLE outbox ADD COLUMN key_clinic_id BLOB;
ALTER TABLE outbox ADD COLUMN key_id INTEGER;
ALTER TABLE outbox ADD COLUMN failed_at INTEGER;
UPDATE outbox SET to_addr = '', subject = '', body = '' WHERE sent_at IS NOT NULL;
