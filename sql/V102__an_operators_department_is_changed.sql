-- An operator's department is changed by an administrator (s35-f; docs/decisions.md, "An
-- operator moves to another department"). domain.md: the administrator "assigns roles and
-- departments"; V13 gave a department only at the operator's creation, so an operator who
-- moved to a new office stayed in the old one on every screen, receipt and audit entry.
-- Checked as V13's operator functions are (operator.maintain), audited with before and after;
-- the same department again changes nothing and writes no entry (a request sent again after a
-- lost connection, or a form saved for its roles alone).
CREATE FUNCTION operator_set_department(p_operator_id bigint, p_department_id bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
BEGIN
    PERFORM md_require('operator.maintain');
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    IF target.department_id = p_department_id THEN
        RETURN;
    END IF;
    UPDATE operator SET department_id = p_department_id WHERE id = p_operator_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'operator.set_department', 'operator', p_operator_id,
            jsonb_build_object('before', jsonb_build_object('department_id', target.department_id),
                               'after', jsonb_build_object('department_id', p_department_id)));
END $$;

-- The same roles again change nothing either, and write no entry: the form that moves an
-- operator sends their roles with the department, and a move alone wrote "roles changed" with
-- no field changed beside it. V13's function otherwise, its checks first as before.
CREATE OR REPLACE FUNCTION operator_set_roles(p_operator_id bigint, p_role_codes text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
    before text[];
BEGIN
    PERFORM md_require('operator.maintain');
    -- Without operator.maintain nobody would be left at this desk to undo it.
    IF p_operator_id = current_operator_id() AND NOT EXISTS (
        SELECT FROM role_permission
        WHERE role_code = ANY (p_role_codes) AND permission_code = 'operator.maintain') THEN
        RAISE EXCEPTION 'an administrator cannot take away their own operator.maintain'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    before := ARRAY(SELECT role_code FROM operator_role WHERE operator_id = p_operator_id ORDER BY 1);
    IF before = ARRAY(SELECT DISTINCT unnest(p_role_codes) ORDER BY 1) THEN
        RETURN;
    END IF;
    DELETE FROM operator_role WHERE operator_id = p_operator_id;
    INSERT INTO operator_role (operator_id, role_code) SELECT p_operator_id, unnest(p_role_codes);
    PERFORM md_set_groups(target.db_role, p_role_codes);
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'operator.set_roles', 'operator', p_operator_id,
            jsonb_build_object('before', jsonb_build_object('roles', before),
                               'after', jsonb_build_object('roles', p_role_codes)));
END $$;
