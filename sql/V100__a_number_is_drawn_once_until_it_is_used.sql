-- A clerk with psql could use up the customer numbers and the card numbers (s35-d): V13 gave
-- every operator USAGE on every sequence, so `SELECT count(nextval('customer_serial')) FROM
-- generate_series(1, 338496728)` (minutes of one backend) left customer_serial at its MAXVALUE
-- (V25) and every customer opening after it failed with "nextval: reached maximum value of
-- sequence", at every desk, for good; card_no_seq (4 294 967 295) the same for every card
-- opened or replaced. A number drawn and not used is a gap, as a refused opening always left.
--
-- Now an operator draws these numbers only through the functions below, which hand the session
-- the number it drew last again while no customer (card) holds it: a session draws at most one
-- number it has not used, whatever it calls, and a refused or rolled-back opening leaves no gap.
-- Used, the next call draws the next. The triggers of V31 still ask that the row holds the
-- number this session was handed (currval: the sequences' SELECT stays granted). The owner's
-- loads (demo-data) keep drawing with nextval.

-- The customer_serial value to open a customer under (CustomerNumber::from_sequence_value).
CREATE FUNCTION customer_serial_next() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    issued bigint := md_issued_to_session('customer_serial');
    number_base bigint;
BEGIN
    PERFORM md_require('customer.open');
    IF issued IS NOT NULL THEN
        -- V31's customer_number_is_issued: values past 9 999 999 stand for the long numbers;
        -- the customer number is this base and a check digit.
        number_base := CASE WHEN issued > 9999999 THEN 100000000 + issued - 10000000
                            ELSE issued END;
        IF NOT EXISTS (SELECT FROM customer
                       WHERE customer_no >= number_base * 10
                         AND customer_no < number_base * 10 + 10) THEN
            RETURN issued;
        END IF;
    END IF;
    RETURN nextval('customer_serial');
END $$;

-- The number of a card to open or to replace one with.
CREATE FUNCTION card_no_next() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    issued bigint := md_issued_to_session('card_no_seq');
BEGIN
    PERFORM md_require('card.open', 'card.replace');
    IF issued IS NOT NULL AND NOT EXISTS (SELECT FROM card WHERE card_no = issued) THEN
        RETURN issued;
    END IF;
    RETURN nextval('card_no_seq');
END $$;

DO $$
BEGIN
    EXECUTE format('REVOKE USAGE ON SEQUENCE customer_serial, card_no_seq FROM %I',
                   md_role_name('operator'));
END $$;
