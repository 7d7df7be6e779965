-- A meter changes only with its audit entry (session 25, s25-c), as V53 made reference data.
-- A supervisor (`meter.maintain`) could set an uninstalled meter's initial reading, which its
-- first bill is counted from, or its type, add a meter or delete one from psql, with no entry.
-- Now, for every operator (the owner's migrations, the demo loader and the tests' fixtures are
-- not subject to it), a statement writing `meter` commits only with the entry the desk writes
-- with it (db::meters), in the same transaction, by the same login:
--   * a meter added: `meter.add` of its number, or `meter.import` naming it;
--   * a meter changed in anything but its status: `meter.modify` of its number;
--   * a meter deleted: `meter.delete` of its number.
-- A change of the status alone is the opening's or the closing's (meter_update_guard asks for
-- `customer.open` or `customer.close`, meter_guard lets it only go forward), told by their
-- entries (V31, V32).
--
-- Set-based, once per statement: one `meter.import` entry names up to 100 000 numbers, and a
-- check per row searching that array made the import quadratic (docs/decisions.md, "A meter
-- changes only with its audit entry"). The statement's rows (a transition table) minus the
-- numbers its entries name is a hashed or sorted EXCEPT, linear in both, whatever the planner
-- estimates. Asked at the end of the statement, not at commit (a constraint trigger cannot see
-- a transition table): the desk writes each meter and its entry in one statement (a CTE, whose
-- sibling's rows the trigger sees), and an entry written first by a statement of its own is
-- there too; one written after its meter comes too late.

-- The meter numbers the entries of this transaction by this login tell with one of `actions`:
-- an entry's `meter_no`, or every number an import's `meter_nos` names.
CREATE FUNCTION meter_numbers_told(actions text[]) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT jsonb_array_elements_text(CASE a.action WHEN 'meter.import' THEN a.detail -> 'meter_nos'
                                                   ELSE jsonb_build_array(a.detail -> 'meter_no')
                                     END)
    FROM public.audit_log a
    WHERE a.entity = 'meter' AND a.action = ANY (actions)
      AND a.at = now() AND a.db_user = session_user
$$;

-- TG_ARGV: the actions whose entries tell the statement's meters.
CREATE FUNCTION meter_write_is_told() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    untold text;
BEGIN
    CASE TG_OP
    WHEN 'INSERT' THEN
        SELECT min(meter_no) INTO untold FROM (
            SELECT meter_no FROM written EXCEPT SELECT meter_numbers_told(TG_ARGV)) untold;
    WHEN 'UPDATE' THEN
        SELECT min(meter_no) INTO untold FROM (
            SELECT n.meter_no FROM written n JOIN was o ON o.id = n.id
            WHERE (to_jsonb(n) - 'status') IS DISTINCT FROM (to_jsonb(o) - 'status')
            EXCEPT SELECT meter_numbers_told(TG_ARGV)) untold;
    WHEN 'DELETE' THEN
        SELECT min(meter_no) INTO untold FROM (
            SELECT meter_no FROM was EXCEPT SELECT meter_numbers_told(TG_ARGV)) untold;
    END CASE;
    IF untold IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied: a change of meter % is written with its audit entry (%)',
            untold, array_to_string(TG_ARGV, ' or ') USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

-- A trigger with transition tables has one event; the three share the function.
CREATE TRIGGER added_is_told AFTER INSERT ON meter
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION meter_write_is_told('meter.add', 'meter.import');
CREATE TRIGGER changed_is_told AFTER UPDATE ON meter
    REFERENCING OLD TABLE AS was NEW TABLE AS written
    FOR EACH STATEMENT
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION meter_write_is_told('meter.modify');
CREATE TRIGGER deleted_is_told AFTER DELETE ON meter
    REFERENCING OLD TABLE AS was
    FOR EACH STATEMENT
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION meter_write_is_told('meter.delete');
