-- No two clinics that have not been offboarded share a name, compared in
-- lower case (the platform's own row is not a clinic). The app checks it
-- too, to answer with a field error; this index decides when two clinics
-- of one name are created at once.
CREATE UNIQUE INDEX clinics_live_name ON clinics (lower(name))
    WHERE kind = 'clinic' AND status <> 'offboarded';
