-- Name search reads its candidates' sort keys and filters from the name
-- indexes themselves, so sorting a few thousand matches reads no table rows
-- and needs no second lookup per match. (clients_sort, from 0002, is no
-- longer used by any query.)
DROP INDEX clients_sort;
DROP INDEX clients_family;
CREATE INDEX clients_family ON clients (clinic_id, family_key, given_key, id, archived, marketing_email, marketing_sms);
DROP INDEX clients_given;
CREATE INDEX clients_given ON clients (clinic_id, given_key, family_key, id, archived, marketing_email, marketing_sms);
DROP INDEX clients_full;
CREATE INDEX clients_full ON clients (clinic_id, full_key, family_key, given_key, id, archived, marketing_email, marketing_sms);
