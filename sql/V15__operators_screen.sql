-- The operators screen (issue #10, item 2): what an administrator may not do, in the database as
-- well as in the client, whoever calls (psql included). Disabling oneself ends one's own
-- session at once, and giving oneself roles without `operator.maintain` leaves the desk without
-- the one who could undo it; taking from the roles the permissions that administer the
-- installation must leave some enabled operator with each. Refusals are check_violation.

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

-- Nor may a change of the roles' permissions leave the installation without anyone to
-- administer it: when permissions that maintain operators or roles are taken from a role that
-- enabled operators have, some enabled operator must still have each of them. (Disabling the
-- last administrator is disabling oneself, refused above.)
CREATE FUNCTION role_permission_keeps_administration() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    permission text;
BEGIN
    FOR permission IN
        SELECT DISTINCT g.permission_code FROM taken g
        WHERE g.permission_code IN ('operator.maintain', 'role.maintain')
          AND EXISTS (SELECT FROM operator_role r JOIN operator o ON o.id = r.operator_id
                      WHERE r.role_code = g.role_code AND o.enabled)
    LOOP
        IF NOT EXISTS (SELECT FROM role_permission rp
                       JOIN operator_role r ON r.role_code = rp.role_code
                       JOIN operator o ON o.id = r.operator_id
                       WHERE rp.permission_code = permission AND o.enabled) THEN
            RAISE EXCEPTION 'no enabled operator would keep %: nobody could administer the installation', permission
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER keeps_administration AFTER DELETE ON role_permission
    REFERENCING OLD TABLE AS taken
    FOR EACH STATEMENT EXECUTE FUNCTION role_permission_keeps_administration();
REVOKE EXECUTE ON FUNCTION role_permission_keeps_administration() FROM PUBLIC;
