-- Search at 100,000 clients: the name indexes carry the card id, and a
-- covering index by id carries the sort keys and filters, so a search finds
-- and orders its matches from indexes alone and reads only the page it shows.
DROP INDEX clients_given;
CREATE INDEX clients_given ON clients (clinic_id, given_key, id);
DROP INDEX clients_full;
CREATE INDEX clients_full ON clients (clinic_id, full_key, id);
CREATE INDEX clients_sort ON clients (clinic_id, id, family_key, given_key, archived, marketing_email, marketing_sms);
