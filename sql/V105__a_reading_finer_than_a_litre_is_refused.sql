-- A reading finer than a litre is refused, not rounded (docs/decisions.md, s35-i): as the clerk,
-- `reading_enter(…, 12.3456, …)` recorded 12.346; the desk's form refuses a fourth decimal
-- (Volume), as V70 made ledger_post refuse a figure finer than its column. The value is rounded
-- by meter_reading's numeric(12,3) before any trigger sees it, so the check is the functions'
-- that take it: V76's reading_enter and reading_write are renamed `…_unchecked` (no operator
-- may call them) and their names now check first and then call them, unchanged otherwise (the
-- same arguments, answers, rights and settings: reading_enter_after calls reading_enter by name).
ALTER FUNCTION reading_enter(text, text, bigint, date, numeric, numeric, boolean, boolean)
    RENAME TO reading_enter_unchecked;
ALTER FUNCTION reading_write(text, text, jsonb, jsonb) RENAME TO reading_write_unchecked;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION
                        reading_enter_unchecked(text, text, bigint, date, numeric, numeric,
                                                boolean, boolean),
                        reading_write_unchecked(text, text, jsonb, jsonb)
                    FROM PUBLIC, %I', md_role_name('operator'));
END $$;

CREATE FUNCTION reading_enter(p_key text, p_source text, p_meter_id bigint, p_read_on date,
                              p_electronic numeric, p_mechanical numeric, p_rollover boolean,
                              p_abnormal_confirmed boolean,
                              OUT outcome text, OUT consumption numeric, OUT abnormal boolean,
                              OUT bill numeric, OUT deducted numeric, OUT previous numeric,
                              OUT previous_on date, OUT today date)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF p_electronic <> round(p_electronic, 3) OR p_mechanical <> round(p_mechanical, 3) THEN
        RAISE EXCEPTION 'a reading is in litres, 3 decimals of a m³: % / % does not fit',
            p_electronic, p_mechanical USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today
    FROM reading_enter_unchecked(p_key, p_source, p_meter_id, p_read_on, p_electronic,
                                 p_mechanical, p_rollover, p_abnormal_confirmed) e;
END $$;

CREATE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM jsonb_populate_recordset(NULL::reading_write_reading, p_readings) r
               WHERE r.electronic <> round(r.electronic, 3)
                  OR r.mechanical <> round(r.mechanical, 3)) THEN
        RAISE EXCEPTION 'a reading is in litres, 3 decimals of a m³: a reading of the file does not fit'
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    PERFORM reading_write_unchecked(p_key, p_source, p_bills, p_readings);
END $$;
