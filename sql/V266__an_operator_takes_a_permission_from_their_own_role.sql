-- V265's trigger fired for every row of the desk's save of a role's permissions, which
-- inserts the kept ones again `ON CONFLICT DO NOTHING` (a BEFORE INSERT trigger runs before
-- the conflict is found): an administrator could no longer take a permission away from a
-- role they hold, which V265 meant to leave theirs. A row already there is no gain.
CREATE OR REPLACE FUNCTION role_permission_not_by_its_holder() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM operator_role
               WHERE operator_id = current_operator_id() AND role_code = NEW.role_code)
       AND NOT EXISTS (SELECT FROM role_permission
                       WHERE role_code = NEW.role_code
                         AND permission_code = NEW.permission_code) THEN
        RAISE EXCEPTION 'role % is yours: another administrator gives it a permission',
            NEW.role_code USING ERRCODE = 'MD443';
    END IF;
    RETURN NEW;
END $$;
