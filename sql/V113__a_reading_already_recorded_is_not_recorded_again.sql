-- A reading already recorded is not recorded again (docs/decisions.md, "A meter reading
-- recorded twice (s36-b)"). The same figure typed for the same meter on the same date as its
-- latest reading — a second reading screen after the first was told saved, a clerk at each
-- window, a reading import run twice — was recorded again: 0 m³, a second bill line of nothing,
-- and a meter history saying the meter was read twice that day. It is the same reading:
--  * reading_recorded(meter, date, figure): the meter's latest counted reading (reading_latest:
--    not one of a void bill) if it is that date and that figure, with who entered it;
--  * reading_enter answers 'already_recorded' with it (previous, previous_on, recorded_by),
--    nothing written, behind the meter's locks and after a re-sent key's first answer;
--  * reading_enter_after answers it before 'previous_changed': a clerk whose form showed an
--    older reading and who typed the one another desk recorded meanwhile is told it is recorded,
--    not invited to record it after itself (0 m³);
--  * reading_write refuses a batch (an import, psql) whose reading is the one its meter's
--    previous reading already is (check_violation): the desk's import lists such a line and
--    leaves it out (db::readings::batch).
-- A final reading (closing an account) is the account's last bill or deduction: one with the
-- figure and date of the latest counter reading is recorded, or the account could never close
-- on the day its meter was read; a final reading equal to a final one is the same reading.
-- A different figure on the same date (a correction) and the same figure on a later date (a
-- meter that did not move) are recorded as before.

CREATE FUNCTION reading_recorded(p_meter_id bigint, p_source text, p_read_on date,
                                 p_electronic numeric)
RETURNS TABLE (electronic numeric, read_on date, recorded_by text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT l.electronic, l.read_on, o.full_name
    FROM reading_latest(p_meter_id) l LEFT JOIN operator o ON o.id = l.operator_id
    WHERE l.read_on = p_read_on AND l.electronic = p_electronic
      AND (p_source IS DISTINCT FROM 'final' OR l.source = 'final')
$$;

-- V105's reading_enter, which checks a reading's litres and calls V76's, with recorded_by.
DROP FUNCTION reading_enter(text, text, bigint, date, numeric, numeric, boolean, boolean);
CREATE FUNCTION reading_enter(p_key text, p_source text, p_meter_id bigint, p_read_on date,
                              p_electronic numeric, p_mechanical numeric, p_rollover boolean,
                              p_abnormal_confirmed boolean,
                              OUT outcome text, OUT consumption numeric, OUT abnormal boolean,
                              OUT bill numeric, OUT deducted numeric, OUT previous numeric,
                              OUT previous_on date, OUT today date, OUT recorded_by text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF p_electronic <> round(p_electronic, 3) OR p_mechanical <> round(p_mechanical, 3) THEN
        RAISE EXCEPTION 'a reading is in litres, 3 decimals of a m³: % / % does not fit',
            p_electronic, p_mechanical USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    PERFORM md_require('reading.enter'), pg_advisory_xact_lock(hashtext('reading:' || p_key));
    IF NOT EXISTS (SELECT FROM meter_reading WHERE idempotency_key = p_key || ':1') THEN
        PERFORM reading_lock(ARRAY[p_meter_id]);
        SELECT 'already_recorded', r.electronic, r.read_on, r.recorded_by, current_date
        INTO outcome, previous, previous_on, recorded_by, today
        FROM reading_recorded(p_meter_id, p_source, p_read_on, p_electronic) r;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today
    FROM reading_enter_unchecked(p_key, p_source, p_meter_id, p_read_on, p_electronic,
                                 p_mechanical, p_rollover, p_abnormal_confirmed) e;
END $$;

-- V98's reading_enter_after, with recorded_by and 'already_recorded' before 'previous_changed'.
DROP FUNCTION reading_enter_after(text, text, bigint, bigint, date, numeric, numeric, boolean,
                                  boolean);
CREATE FUNCTION reading_enter_after(p_key text, p_source text, p_meter_id bigint, p_after_id bigint,
                                    p_read_on date, p_electronic numeric, p_mechanical numeric,
                                    p_rollover boolean, p_abnormal_confirmed boolean,
                                    OUT outcome text, OUT consumption numeric, OUT abnormal boolean,
                                    OUT bill numeric, OUT deducted numeric, OUT previous numeric,
                                    OUT previous_on date, OUT today date, OUT recorded_by text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    latest_id bigint;
BEGIN
    PERFORM md_require('reading.enter'), pg_advisory_xact_lock(hashtext('reading:' || p_key));
    IF NOT EXISTS (SELECT FROM meter_reading WHERE idempotency_key = p_key || ':1') THEN
        PERFORM reading_lock(ARRAY[p_meter_id]);
        SELECT 'already_recorded', r.electronic, r.read_on, r.recorded_by, current_date
        INTO outcome, previous, previous_on, recorded_by, today
        FROM reading_recorded(p_meter_id, p_source, p_read_on, p_electronic) r;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT l.id, l.read_on INTO latest_id, previous_on FROM reading_latest(p_meter_id) l;
        IF latest_id IS DISTINCT FROM p_after_id THEN
            outcome := 'previous_changed';
            previous := (SELECT v FROM reading_previous_value(p_meter_id) v);
            today := current_date;
            RETURN;
        END IF;
    END IF;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today,
                    recorded_by
    FROM reading_enter(p_key, p_source, p_meter_id, p_read_on, p_electronic, p_mechanical,
                       p_rollover, p_abnormal_confirmed) e;
END $$;

-- V105's reading_write, refusing a reading its meter's previous reading already is. The
-- readings name the previous reading they follow (previous_id); reading_write_unchecked then
-- refuses, behind the meters' locks, a batch whose previous is no longer the latest, so the
-- reading compared here is the one the batch follows when it is written.
CREATE OR REPLACE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM jsonb_populate_recordset(NULL::reading_write_reading, p_readings) r
               WHERE r.electronic <> round(r.electronic, 3)
                  OR r.mechanical <> round(r.mechanical, 3)) THEN
        RAISE EXCEPTION 'a reading is in litres, 3 decimals of a m³: a reading of the file does not fit'
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    PERFORM md_require('reading.enter');
    IF NOT EXISTS (SELECT FROM meter_reading
                   WHERE idempotency_key = p_key || ':' || (p_readings->0->>'line'))
       AND EXISTS (SELECT FROM jsonb_populate_recordset(NULL::reading_write_reading, p_readings) r
                   JOIN meter_reading l ON l.id = r.previous_id
                   WHERE l.meter_id = r.meter_id AND l.read_on = r.read_on
                     AND l.electronic = r.electronic
                     AND (p_source IS DISTINCT FROM 'final' OR l.source = 'final')) THEN
        RAISE EXCEPTION 'a reading of these meters is already recorded (the same date and figure)'
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM reading_write_unchecked(p_key, p_source, p_bills, p_readings);
END $$;
