-- A customer's phone and identity number as the desk stores them (docs/decisions.md, s35-j).
-- A customer is written by a plain INSERT or UPDATE with its audit entry (V31), so a clerk's
-- psql writes what V1's loose CHECKs take: a personal customer's phone `+86 138-0013-8000`
-- or `12345` (V1: `^[0-9+() -]{3,24}$`), an identity number `11010519491231002x` or with a
-- wrong check character. The desk's form (domain::validation) stores a mobile as its 11 digits
-- and a landline as `area-number[-extension]`, and the phone search matches the typed digits as
-- a prefix of `phone_digits(phone)` (V3): `+86 138…` is `86138…`, a customer the counter's
-- search for 138… never finds, nor a phone of another shape it was told of. The identity number
-- is the owner's proof at a transfer and a close; one the form would refuse, stored, is a
-- document no one holds. The other rules of the form (a name's characters, the lengths, the
-- e-mail's shape) are the desk's comfort (docs/decisions.md says why).
--
-- Rows already stored are not read again (the desk wrote every one through its form); every
-- phone or number an operator writes is checked.

-- A resident identity card number's check character (GB 11643, ISO 7064 MOD 11-2), for
-- 17 digits and a digit or X.
CREATE FUNCTION md_resident_id_check_holds(number text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = public, pg_temp
RETURN number ~ '^[0-9]{17}[0-9X]$'
   AND substr('10X98765432',
              (SELECT (sum(substr(number, i, 1)::int
                           * ('{7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2}'::int[])[i]) % 11)::int + 1
               FROM generate_series(1, 17) AS i),
              1) = substr(number, 18, 1);

-- A mobile: 1, 3 to 9, nine more digits. An enterprise's phone may also be a landline: area
-- code (01x and 02x of 3 digits, the others 4, never 00), 7 or 8 digits not starting with 0, an
-- extension of up to 6 digits.
CREATE FUNCTION md_phone_as_the_desk_stores_it(nature text, phone text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = public, pg_temp
RETURN phone IS NULL
    OR phone ~ '^1[3-9][0-9]{9}$'
    OR (nature = 'enterprise'
        AND phone ~ '^0([12][0-9]|[3-9][0-9]{2})-[1-9][0-9]{6,7}(-[0-9]{1,6})?$');

-- Any document, uppercased, trimmed, at most 32 characters; one shaped like a resident identity
-- card number (17 digits and a digit or an x) is one, its check character right.
CREATE FUNCTION md_id_document_no_as_the_desk_stores_it(number text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = public, pg_temp
RETURN number IS NULL
    OR (number = upper(number) AND number = btrim(number) AND number <> ''
        AND char_length(number) <= 32
        AND (number !~ '^[0-9]{17}[0-9X]$' OR md_resident_id_check_holds(number)));

-- An operator's row; the owner (set-up, demo data, history brought in: the search reads phones
-- of any shape by their digits) is not the counter, as in V82 and V104. Only when the phone or
-- the number is written: a row stored before keeps its other columns changeable. Named to fire
-- after the customer's other BEFORE triggers (alphabetical), so their refusals come first.
CREATE FUNCTION customer_written_as_the_desk_stores_it() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT md_phone_as_the_desk_stores_it(NEW.nature, NEW.phone) THEN
        RAISE EXCEPTION 'customer_phone_as_the_desk_stores_it: % is not a phone as the desk stores it (a mobile''s 11 digits; an enterprise''s landline as area-number[-extension])',
            NEW.phone USING ERRCODE = 'check_violation';
    END IF;
    IF NOT md_id_document_no_as_the_desk_stores_it(NEW.id_document_no) THEN
        RAISE EXCEPTION 'customer_id_document_no_as_the_desk_stores_it: "%" is not an identity number as the desk stores it (uppercase, trimmed, at most 32 characters; a resident ID with its check character right)',
            NEW.id_document_no USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER written_as_the_desk_stores_it
        BEFORE INSERT OR UPDATE OF phone, id_document_no, nature ON customer FOR EACH ROW
        WHEN (NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_written_as_the_desk_stores_it()$t$, md_role_name('owner'));
END $$;
