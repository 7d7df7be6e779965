-- A reading is never dated after today (docs/decisions.md, "A reading dated after today, in the
-- database too"). The desk refuses one at the counter and in an import (db::readings::batch,
-- s28-e), but the database is the boundary: a clerk calling reading_write from psql with their
-- own role could still record a reading a year ahead, priced at a future price, and every real
-- reading dated before it would then be refused as "before the previous one". Today is the
-- database's date, as the desk's check and the reading form's default date take it; a date
-- that is today stays valid as time goes on, so the constraint never turns false for a row it
-- accepted. NOT VALID: a server upgraded with such a reading already recorded keeps it (a
-- supervisor reverses it by hand) rather than failing the upgrade; every new row is checked.
ALTER TABLE meter_reading
    ADD CONSTRAINT meter_reading_not_after_today CHECK (read_on <= current_date) NOT VALID;
