-- A reading's "already recorded" check and a customer change's audit, planned once a session
-- instead of at every call (docs/decisions.md, "What this session's checks cost a write
-- (s36-j)"). Same names, arguments, answers, volatility, search_path and rights: CREATE OR
-- REPLACE keeps their owners and grants.
--
-- Both were SQL functions with a SET clause. PostgreSQL inlines no SQL function with a SET
-- clause, and before version 18 an SQL function that is not inlined parses and plans its body
-- again at every call (V117 did the same for customer_owner_seen). As tracked on an 8-desk
-- `--no-think` soak (pg_stat_user_functions, track_functions = all):
--  * reading_recorded (V113), called by every counter reading behind the meter's locks:
--    0.36 ms a call, for one index probe of the meter's latest reading;
--  * customer_basic_info (V31), called twice by every customer change's audit trigger (and by
--    the audit checks of V32/V97): 0.11 ms a call, for a jsonb_build_object of the row.
-- As PL/pgSQL the statement of each is planned once a session: reading_recorded's with a
-- generic plan (its callers, reading_enter and reading_enter_after, already force one), which
-- reading_latest (an SQL function without SET: inlined) is part of; customer_basic_info's
-- expression is a simple expression, evaluated without the executor.

CREATE OR REPLACE FUNCTION reading_recorded(p_meter_id bigint, p_source text, p_read_on date,
                                            p_electronic numeric)
RETURNS TABLE (electronic numeric, read_on date, recorded_by text)
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN QUERY
    SELECT l.electronic, l.read_on, o.full_name
    FROM reading_latest(p_meter_id) l LEFT JOIN operator o ON o.id = l.operator_id
    WHERE l.read_on = p_read_on AND l.electronic = p_electronic
      AND (p_source IS DISTINCT FROM 'final' OR l.source = 'final');
END $$;

CREATE OR REPLACE FUNCTION customer_basic_info(c customer) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN CASE c.nature
        WHEN 'personal' THEN jsonb_build_object(
            'name', c.name, 'id_document_no', c.id_document_no, 'mobile', c.phone,
            'address', c.address, 'household_size', c.household_size::text, 'email', c.email,
            'remark', c.remark)
        WHEN 'enterprise' THEN jsonb_build_object(
            'company_name', c.name, 'registration_no', c.credit_code,
            'contact_person', c.contact_person, 'phone', c.phone, 'address', c.address,
            'remark', c.remark)
        ELSE jsonb_build_object('label', c.name, 'location', c.address, 'remark', c.remark)
    END;
END $$;
