-- An administrator's own login gained any role by its own hand (s45-b, by psql): the
-- administrator role read every customer, a supervisor's refunds, with nobody else's say.
-- Now a role is given to an operator by another operator only; dropping one of one's own
-- roles stays allowed (keeping operator.maintain, as before). The rest is V102's body.
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
    IF p_operator_id = current_operator_id() AND NOT p_role_codes <@ before THEN
        RAISE EXCEPTION 'an operator cannot give themselves a role: another administrator does'
            USING ERRCODE = 'check_violation';
    END IF;
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
