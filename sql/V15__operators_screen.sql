-- The operators screen (issue #10, item 2): what an administrator may not do, in the database as
-- well as in the client, whoever calls (psql included). V13's operator functions refuse
-- disabling oneself and giving oneself roles without `operator.maintain`; here, taking from
-- the roles the permissions that administer the installation must leave some enabled operator
-- with each. Refusals are check_violation.

-- Nor may a change of the roles' permissions leave the installation without anyone to
-- administer it: when permissions that maintain operators or roles are taken from a role that
-- enabled operators have, some enabled operator must still have each of them. (Disabling the
-- last administrator is disabling oneself, refused by operator_set_enabled.)
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
