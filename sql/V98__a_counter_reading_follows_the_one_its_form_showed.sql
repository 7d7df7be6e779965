-- A counter reading follows the reading its form showed (docs/decisions.md, "Two desks on one
-- customer at once (s35-c)"). reading_enter worked a reading's consumption out from the meter's
-- latest reading as it stood when the reading was written, never from the one the clerk's form
-- showed: with two clerks entering the same meter at once (a family member at each window), the
-- second's register was recorded again with no water (the same figure) or refused as "below the
-- previous one (…): if the register wrapped, set Rollover to Yes" (a lower one, the previous the
-- form showed being lower still) — and a clerk who did so recorded a wrap the meter never made,
-- a meter's whole range of water. reading_write (an import) has refused a batch whose first
-- reading does not follow the meter's latest since V29; the counter's call now does the same.
--
-- reading_enter_after is reading_enter for a reading that follows reading p_after_id (NULL: the
-- meter had none, only its initial or billed value): a re-sent key answers as the first did;
-- otherwise, behind the same locks reading_enter takes (the account, then the meter), a latest
-- reading other than p_after_id (another entered, or its bill voided, meanwhile) answers
-- 'previous_changed' with the latest's value and date, nothing written. Else it is reading_enter.
CREATE FUNCTION reading_enter_after(p_key text, p_source text, p_meter_id bigint, p_after_id bigint,
                                    p_read_on date, p_electronic numeric, p_mechanical numeric,
                                    p_rollover boolean, p_abnormal_confirmed boolean,
                                    OUT outcome text, OUT consumption numeric, OUT abnormal boolean,
                                    OUT bill numeric, OUT deducted numeric, OUT previous numeric,
                                    OUT previous_on date, OUT today date)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    latest_id bigint;
BEGIN
    PERFORM md_require('reading.enter'), pg_advisory_xact_lock(hashtext('reading:' || p_key));
    IF NOT EXISTS (SELECT FROM meter_reading WHERE idempotency_key = p_key || ':1') THEN
        PERFORM reading_lock(ARRAY[p_meter_id]);
        SELECT l.id, l.read_on INTO latest_id, previous_on FROM reading_latest(p_meter_id) l;
        IF latest_id IS DISTINCT FROM p_after_id THEN
            outcome := 'previous_changed';
            previous := (SELECT v FROM reading_previous_value(p_meter_id) v);
            today := current_date;
            RETURN;
        END IF;
    END IF;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today
    FROM reading_enter(p_key, p_source, p_meter_id, p_read_on, p_electronic, p_mechanical,
                       p_rollover, p_abnormal_confirmed) e;
END $$;
