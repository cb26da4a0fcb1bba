-- A clinic's own settings, one row per clinic (none until the owner first
-- saves them: the app then uses the defaults). Values are stored as parsed
-- by velum_core::settings; NULL means "none" (for the retention columns:
-- the statutory minimum, which a clinic may lengthen but never shorten).
CREATE TABLE clinic_settings (
    clinic_id                 UUID PRIMARY KEY REFERENCES clinics (id),
    time_zone                 TEXT NOT NULL,
    display_name              TEXT,
    line1                     TEXT,
    line2                     TEXT,
    town                      TEXT,
    postcode                  TEXT,
    regulator                 TEXT,
    registration_number       TEXT,
    licensing_authority       TEXT,
    licence_number            TEXT,
    cancellation_notice_hours BIGINT NOT NULL,
    reminder_lead_hours       BIGINT NOT NULL,
    clinical_retention_years  BIGINT,
    financial_retention_years BIGINT,
    updated_at                BIGINT NOT NULL,
    updated_by                UUID NOT NULL
);

-- Each clinic's public slug (the address of its future booking page),
-- unique across the installation. Like staff_logins for emails it is a
-- directory keyed by the slug rather than by clinic, so the database, not a
-- read before the write, decides who has a slug.
CREATE TABLE clinic_slugs (
    slug      TEXT PRIMARY KEY,
    clinic_id UUID NOT NULL REFERENCES clinics (id)
);
CREATE UNIQUE INDEX clinic_slugs_clinic ON clinic_slugs (clinic_id);
