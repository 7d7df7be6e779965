-- Every change of reference data is in the audit log (session 24, found with psql as the demo
-- administrator). `role.maintain` let an administrator `INSERT INTO role_permission VALUES
-- ('administrator', 'card.recharge')` — money powers for themselves — and take them back,
-- leaving no entry, while docs/decisions.md promised every change of a role's permissions is in
-- the audit log; likewise a supervisor could `UPDATE customer_type SET price_scheme_id = …`
-- (what a whole customer type pays), `SET charges = false`, rename meter types, and an
-- administrator rename departments or the roles, or disable payment methods, all without a
-- trace. V32 made every entry tell a write of its transaction; this makes every write of these
-- tables commit only with its entry, as V47 did for prices, for every operator (the owner's
-- migrations, loads and tests' fixtures are not subject to it):
--   * role_permission: with `role.set_permissions` of its role (db::roles::set_permissions);
--   * department: added or renamed with `department.add` / `department.rename`; never deleted
--     from a desk (no desk deletes one, no entry tells it);
--   * meter_type: with `meter_type.add`, `.modify` or `.delete` (db::meters);
--   * customer_type and the meter types and payment methods it allows: with `customer_type.add`,
--     `.modify` or `.delete` of that type (db::customer_types);
--   * role and payment_method: written by the owner's migrations only (no desk writes them).
-- The meter table is not here (yet): its rows are also written by opening, transferring and
-- closing accounts, and an import of 100 000 meters is told by one entry naming them all, which a
-- check per row would search 100 000 times (docs/decisions.md, "Reference data changes only with
-- its audit entry").

-- Checked at commit, so the desk's statement may write the rows and the entry in any order.
-- TG_ARGV: the entity its entry names, the written row's column naming it, where the entry
-- holds that ('entity_id', or a key of its detail), then the actions that may tell it.
CREATE FUNCTION reference_write_is_told() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    written text := to_jsonb(CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[1];
    actions text[] := TG_ARGV[3:];
BEGIN
    IF NOT EXISTS (SELECT FROM public.audit_log a
                   WHERE a.entity = TG_ARGV[0] AND a.action = ANY (actions)
                     AND a.at = now() AND a.db_user = session_user
                     AND CASE TG_ARGV[2]
                             WHEN 'entity_id' THEN a.entity_id = written::bigint
                             ELSE a.detail ->> TG_ARGV[2] = written
                         END) THEN
        RAISE EXCEPTION 'permission denied: a change of % % (%) is written with its audit entry (%)',
            TG_ARGV[0], written, TG_TABLE_NAME, array_to_string(actions, ' or ')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER is_told AFTER INSERT OR UPDATE OR DELETE ON role_permission
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION reference_write_is_told('role', 'role_code', 'role', 'role.set_permissions');
CREATE CONSTRAINT TRIGGER is_told AFTER INSERT OR UPDATE ON department
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION reference_write_is_told('department', 'id', 'entity_id',
                                             'department.add', 'department.rename');
CREATE CONSTRAINT TRIGGER is_told AFTER INSERT OR UPDATE OR DELETE ON meter_type
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION reference_write_is_told('meter_type', 'id', 'entity_id',
                                             'meter_type.add', 'meter_type.modify',
                                             'meter_type.delete');
CREATE CONSTRAINT TRIGGER is_told AFTER INSERT OR UPDATE OR DELETE ON customer_type
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION reference_write_is_told('customer_type', 'id', 'entity_id',
                                             'customer_type.add', 'customer_type.modify',
                                             'customer_type.delete');
CREATE CONSTRAINT TRIGGER is_told AFTER INSERT OR UPDATE OR DELETE ON customer_type_meter_type
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION reference_write_is_told('customer_type', 'customer_type_id', 'entity_id',
                                             'customer_type.add', 'customer_type.modify',
                                             'customer_type.delete');
CREATE CONSTRAINT TRIGGER is_told AFTER INSERT OR UPDATE OR DELETE ON customer_type_payment_method
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION reference_write_is_told('customer_type', 'customer_type_id', 'entity_id',
                                             'customer_type.add', 'customer_type.modify',
                                             'customer_type.delete');

-- What no desk writes: refused to every operator at once, with the reason.
CREATE FUNCTION written_by_the_owner_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'permission denied: % is not changed from a desk (% here); the owner''s migrations change it',
        TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER owner_only BEFORE INSERT OR UPDATE OR DELETE ON role
    FOR EACH STATEMENT
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION written_by_the_owner_only();
CREATE TRIGGER owner_only BEFORE INSERT OR UPDATE OR DELETE ON payment_method
    FOR EACH STATEMENT
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION written_by_the_owner_only();
CREATE TRIGGER owner_only BEFORE DELETE ON department
    FOR EACH STATEMENT
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION written_by_the_owner_only();
