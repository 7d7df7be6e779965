-- A password is handed to the server only as a whole SCRAM-SHA-256 verifier (s43-f;
-- docs/decisions.md, "A clerk with psql after sessions 40–42…").
--
-- V13's three functions that set a role's password (`operator_create`, `operator_reset_password`,
-- `operator_change_own_password`) asked `p_verifier NOT LIKE 'SCRAM-SHA-256$%'`. NULL passed
-- that test (NULL, not true), and `format('… PASSWORD %L', NULL)` is `PASSWORD NULL`: tried as
-- an operator with psql, `SELECT operator_change_own_password(NULL)` removed the operator's
-- password (no sign-in any more), cleared the forced change of a temporary one and wrote
-- `operator.change_password` as if a password had been chosen; an administrator's
-- `operator_reset_password(id, NULL)` and `operator_create(…, NULL)` left an operator who can
-- never sign in, said done. A text that starts like a verifier but is not one
-- (`'SCRAM-SHA-256$x'`) PostgreSQL takes as a clear-text password and hashes: the password is
-- then that text, which the desk never sends.
--
-- `md_password_verifier(text)` answers its argument if it has the form PostgreSQL reads as a
-- SCRAM-SHA-256 verifier (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, the
-- keys 32 bytes in base64: what `db::session::password_verifier` makes), and otherwise refuses
-- in V13's words and SQLSTATE (22023). The three functions write what it answers; their bodies
-- are otherwise V13's. Runs again on its own result (CREATE OR REPLACE).

CREATE OR REPLACE FUNCTION md_password_verifier(p_verifier text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF p_verifier IS NULL
       OR p_verifier !~ '^SCRAM-SHA-256\$[1-9][0-9]{0,9}:([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$' THEN
        RAISE EXCEPTION 'a password is set as a SCRAM-SHA-256 verifier'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_verifier;
END $$;

CREATE OR REPLACE FUNCTION operator_create(
    p_login text, p_full_name text, p_department_id bigint, p_role_codes text[], p_verifier text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    created bigint;
    role_name name := operator_role_name(p_login);
    verifier text;
BEGIN
    PERFORM md_require('operator.maintain');
    verifier := md_password_verifier(p_verifier);
    INSERT INTO operator (login, full_name, department_id, db_role)
    VALUES (p_login, p_full_name, p_department_id, role_name)
    RETURNING id INTO created;
    INSERT INTO operator_role (operator_id, role_code) SELECT created, unnest(p_role_codes);
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', role_name, verifier,
                   md_role_name('operator'));
    PERFORM md_set_groups(role_name, p_role_codes);
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'operator.create', 'operator', created,
            jsonb_build_object('after', jsonb_build_object('login', p_login, 'full_name', p_full_name,
                                                           'department_id', p_department_id,
                                                           'roles', p_role_codes)));
    RETURN created;
END $$;

CREATE OR REPLACE FUNCTION operator_reset_password(p_operator_id bigint, p_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
    verifier text;
BEGIN
    PERFORM md_require('operator.maintain');
    verifier := md_password_verifier(p_verifier);
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = target.db_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE %I', target.db_role, md_role_name('operator'));
        PERFORM md_set_groups(target.db_role,
                              ARRAY(SELECT role_code FROM operator_role WHERE operator_id = target.id));
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', target.db_role, verifier);
    UPDATE operator SET must_change_password = true WHERE id = p_operator_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id)
    VALUES (current_operator_id(), 'operator.reset_password', 'operator', p_operator_id);
END $$;

CREATE OR REPLACE FUNCTION operator_change_own_password(p_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
    verifier text;
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'only an operator changes their own password here' USING ERRCODE = 'insufficient_privilege';
    END IF;
    verifier := md_password_verifier(p_verifier);
    EXECUTE format('ALTER ROLE %I PASSWORD %L', session_user, verifier);
    UPDATE operator SET must_change_password = false WHERE id = me;
    INSERT INTO audit_log (operator_id, action, entity, entity_id)
    VALUES (me, 'operator.change_password', 'operator', me);
END $$;

-- Only the three functions above (the owner's) call it: no operator needs it.
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_password_verifier(text) FROM %I',
                   md_role_name('operator'));
END $$;
