-- A customer's name keys rewritten only when its name or number changes (s39-d; docs/
-- decisions.md, "The counter's reads and writes, measured (s39-d)").
--
-- customer_name_char (the name-contains search's keys, V7/V11) followed every UPDATE of the
-- customer by a statement trigger with transition tables: every update — a modify of a phone,
-- a transfer, the meter's status cascaded at an opening — captured its old and new rows and ran
-- two statements joining them, which found the name unchanged and wrote nothing (0.12 ms a
-- call in the soak). Now a row trigger whose WHEN compares the name and the number: the
-- executor decides without calling anything, and a changed name has its keys deleted and
-- written again as before (same rows: name_keys of the new name, its number, its id). The
-- function keeps its name, owner, SECURITY DEFINER and search_path (V13: the index follows
-- the customer whoever writes it). Re-runnable: CREATE OR REPLACE, DROP TRIGGER IF EXISTS.
CREATE OR REPLACE FUNCTION customer_name_char_after_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM customer_name_char k WHERE k.customer_id = OLD.id;
    INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
    SELECT k, NEW.name, NEW.customer_no, NEW.id FROM name_keys(NEW.name) k;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS customer_name_char_after_update ON customer;
CREATE TRIGGER customer_name_char_after_update AFTER UPDATE ON customer
    FOR EACH ROW
    WHEN ((OLD.name, OLD.customer_no) IS DISTINCT FROM (NEW.name, NEW.customer_no))
    EXECUTE FUNCTION customer_name_char_after_update();
