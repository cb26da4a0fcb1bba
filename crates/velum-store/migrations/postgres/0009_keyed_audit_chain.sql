-- The keyed audit chain (link version 2). Each event records how its link
-- was made: 1 = plain SHA-256 (every event written before this migration),
-- 2 = HMAC-SHA-256 under a key derived from the master key. A chain holds
-- v1 events first, then v2 events only.
ALTER TABLE audit_events ADD COLUMN link_version BIGINT NOT NULL DEFAULT 1;

-- Existing chains are re-linked under the key on the first start after this
-- migration (velum-app's App::open), which clears this marker in the same
-- transaction; `velum audit upgrade` does the same by hand.
INSERT INTO meta (key, value) VALUES ('audit_chain_upgrade', 'pending');

-- When each clinic's owners were last emailed the signed head of the
-- clinic's chain (the background worker sends it weekly), so a restart
-- does not send it again.
CREATE TABLE audit_head_mailings (
    clinic_id    UUID PRIMARY KEY,
    last_sent_at BIGINT NOT NULL
);
