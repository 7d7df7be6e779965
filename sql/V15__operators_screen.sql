-- The operators screen (issue #10, item 2): what an administrator may not do to themselves, in
-- the database as well as in the client. Disabling oneself ends one's own session at once, and
-- giving oneself roles without `operator.maintain` leaves the desk without the one who could
-- undo it; both are refused here, whoever calls the functions (psql included).

CREATE OR REPLACE FUNCTION operator_set_enabled(p_operator_id bigint, p_enabled boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
BEGIN
    PERFORM md_require('operator.maintain');
    IF NOT p_enabled AND p_operator_id = current_operator_id() THEN
        RAISE EXCEPTION 'an administrator cannot disable themselves' USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    UPDATE operator SET enabled = p_enabled WHERE id = p_operator_id;
    EXECUTE format('ALTER ROLE %I %s', target.db_role, CASE WHEN p_enabled THEN 'LOGIN' ELSE 'NOLOGIN' END);
    IF NOT p_enabled THEN
        PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = target.db_role;
    END IF;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), CASE WHEN p_enabled THEN 'operator.enable' ELSE 'operator.disable' END,
            'operator', p_operator_id,
            jsonb_build_object('before', jsonb_build_object('enabled', target.enabled),
                               'after', jsonb_build_object('enabled', p_enabled)));
END $$;

CREATE OR REPLACE FUNCTION operator_set_roles(p_operator_id bigint, p_role_codes text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
    before text[];
BEGIN
    PERFORM md_require('operator.maintain');
    IF p_operator_id = current_operator_id() AND NOT EXISTS (
        SELECT FROM role_permission
        WHERE role_code = ANY (p_role_codes) AND permission_code = 'operator.maintain') THEN
        RAISE EXCEPTION 'an administrator cannot take away their own operator.maintain'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    before := ARRAY(SELECT role_code FROM operator_role WHERE operator_id = p_operator_id ORDER BY 1);
    DELETE FROM operator_role WHERE operator_id = p_operator_id;
    INSERT INTO operator_role (operator_id, role_code) SELECT p_operator_id, unnest(p_role_codes);
    PERFORM md_set_groups(target.db_role, p_role_codes);
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'operator.set_roles', 'operator', p_operator_id,
            jsonb_build_object('before', jsonb_build_object('roles', before),
                               'after', jsonb_build_object('roles', p_role_codes)));
END $$;
