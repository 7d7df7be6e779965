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

-- The card number this session drew last while no card and no system card holds it (a card
-- number is unique forever, whatever the card: V20), else the next. The definer functions'.
CREATE FUNCTION md_card_no_draw() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    issued bigint := md_issued_to_session('card_no_seq');
BEGIN
    IF issued IS NOT NULL AND NOT EXISTS (SELECT FROM card WHERE card_no = issued)
       AND NOT EXISTS (SELECT FROM system_card WHERE card_no = issued) THEN
        RETURN issued;
    END IF;
    RETURN nextval('card_no_seq');
END $$;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_card_no_draw() FROM %I',
                   md_role_name('operator'));
END $$;

-- The number of a card to open or to replace one with.
CREATE FUNCTION card_no_next() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('card.open', 'card.replace');
    RETURN md_card_no_draw();
END $$;

-- system_card_begin drew its card number in its DECLARE, before its permission check and its
-- look-up of the meter: any operator's call burned one (a clerk's refused one too, and a DO
-- block catching the refusal burns as many as it loops), and a supervisor's for a meter number
-- that does not exist burned one and answered NULL without an error, so `SELECT
-- count(system_card_begin('setting', 'none', 0, 0, 0, 0)) FROM generate_series(1, 4e9)` used
-- the card numbers up. V83's function, the number now drawn after the checks, and as
-- card_no_next draws it: a write refused after it (a kind that is none) leaves it to the
-- session's next card.
CREATE OR REPLACE FUNCTION system_card_begin(
    p_kind text, p_meter_no text, p_alarm_litres bigint, p_max_credit_litres bigint,
    p_test_litres bigint, p_written_at bigint
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    new_card_no bigint;
    target_meter_id bigint;
    meter_customer_id bigint;
    meter_takes_card boolean;
BEGIN
    PERFORM md_require('card.system');
    SELECT m.id, c.id, t.takes_card INTO target_meter_id, meter_customer_id, meter_takes_card
    FROM meter m JOIN meter_type t ON t.id = m.meter_type_id
    LEFT JOIN customer c ON c.meter_id = m.id AND c.status = 'active'
    WHERE m.meter_no = p_meter_no;
    IF target_meter_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT meter_takes_card THEN
        RAISE EXCEPTION 'meter % takes no card: a system card is for a card meter', p_meter_no
            USING ERRCODE = 'check_violation';
    END IF;
    new_card_no := md_card_no_draw();
    INSERT INTO system_card (card_no, kind, meter_id, customer_id, alarm_litres,
                             max_credit_litres, test_litres, written_at, issued_by)
    VALUES (new_card_no, p_kind, target_meter_id, meter_customer_id, p_alarm_litres,
            p_max_credit_litres, p_test_litres, p_written_at, current_operator_id());
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_issue', 'system_card', new_card_no,
            jsonb_build_object('kind', p_kind, 'meter_no', p_meter_no,
                               'customer_id', meter_customer_id,
                               'alarm_litres', p_alarm_litres,
                               'max_credit_litres', p_max_credit_litres,
                               'test_litres', p_test_litres));
    RETURN new_card_no;
END $$;

DO $$
BEGIN
    EXECUTE format('REVOKE USAGE ON SEQUENCE customer_serial, card_no_seq FROM %I',
                   md_role_name('operator'));
END $$;
