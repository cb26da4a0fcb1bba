-- Hosted mode. Platform operators are accounts of the platform's own row in
-- clinics (kind 'platform', the all-zero id, whose audit chain already holds
-- events that belong to no clinic); every other row is a clinic.
ALTER TABLE clinics ADD COLUMN kind TEXT NOT NULL DEFAULT 'clinic';

-- Break-glass support access: an operator asks with a reason, the clinic's
-- owner grants or refuses, and a grant ends at expires_at (or when revoked).
-- status: 'requested', 'granted', 'denied', 'revoked'.
CREATE TABLE support_grants (
    clinic_id    UUID NOT NULL REFERENCES clinics (id),
    id           UUID NOT NULL,
    operator_id  UUID NOT NULL,
    reason       TEXT NOT NULL,
    minutes      BIGINT NOT NULL,
    status       TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by   UUID,
    decided_at   BIGINT,
    expires_at   BIGINT,
    PRIMARY KEY (clinic_id, id)
);

-- An operator's session inside a clinic under a grant (both NULL otherwise).
ALTER TABLE sessions ADD COLUMN support_clinic_id UUID;
ALTER TABLE sessions ADD COLUMN support_grant_id UUID;
