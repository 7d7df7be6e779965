-- Review of session 46: `audit_entry_is_true` (V32) refused an entry only when
-- `audit_entry_tells_a_write` answered false, and let one through when it answered NULL — as it
-- does for an entry with no entity (`entry.entity = 'operator'` is NULL, and `NULL AND …` is
-- NULL when the rest holds): a clerk's psql `INSERT INTO audit_log (action, entity, entity_id)
-- VALUES ('login.succeeded', NULL, 1)`, a supervisor's `('customer_type.delete', NULL, 4242)`
-- committed, telling what did not happen. An entry tells a write of its transaction only when
-- the check says so: `IS NOT TRUE` refuses the unknown as well. V32's body otherwise whole.
CREATE OR REPLACE FUNCTION audit_entry_is_true() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF audit_entry_tells_a_write(NEW) IS NOT TRUE THEN
        RAISE EXCEPTION 'permission denied: audit entry % (%) tells no write of this transaction that % may make',
            NEW.id, NEW.action, session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
