-- The same way around V264: an administrator holding `role.maintain` ticked a permission
-- (refunds, every customer's data) into a role they hold, the administrator role itself
-- included, and had it at their next statement. A role an operator holds gains a permission
-- from another operator only (or, for the administrator role every administrator holds, from
-- a migration); taking one away stays theirs. The owner (migrations, the installer) is not
-- an operator and is not asked.
CREATE OR REPLACE FUNCTION role_permission_not_by_its_holder() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM operator_role
               WHERE operator_id = current_operator_id() AND role_code = NEW.role_code) THEN
        RAISE EXCEPTION 'role % is yours: another administrator gives it a permission',
            NEW.role_code USING ERRCODE = 'MD443';
    END IF;
    RETURN NEW;
END $$;
REVOKE EXECUTE ON FUNCTION role_permission_not_by_its_holder() FROM PUBLIC;

DROP TRIGGER IF EXISTS not_by_its_holder ON role_permission;
CREATE TRIGGER not_by_its_holder BEFORE INSERT OR UPDATE ON role_permission
    FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION role_permission_not_by_its_holder();
