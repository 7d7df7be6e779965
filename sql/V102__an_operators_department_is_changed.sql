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
