-- The checks every write calls keep their plans for the session (docs/decisions.md, "The soak's
-- CPU, session 22").
--
-- current_operator_id, md_permitted and md_role_name were LANGUAGE sql. PostgreSQL inlines a
-- SQL function only when its body is a bare expression (no FROM) and it is neither SECURITY
-- DEFINER nor has a SET clause: none of these three is, so each statement that calls one
-- parsed, analysed and planned its body again (a SQL function keeps its plan only for the
-- statement it runs in). Every write calls them — the column defaults and row triggers that
-- stamp who wrote, the permission checks of the statement triggers, the WHEN clauses of V31's
-- checks —, some 2 500 times a second at 64 desks, and measured one by one the parse and plan
-- was two thirds of each call's time. In PL/pgSQL the same query is planned once per session
-- and its plan kept. The bodies, rights, volatility and settings are V13's and V32's:
-- md_role_name still has no SET clause and names its table with its schema, so a temporary
-- table of the caller's named `installation` changes nothing (tests/boundary.rs). The one
-- difference: a second row of `installation` would be an error here where the SQL function
-- took the first — the table holds one row by its primary key (`singleton`, CHECK true).

CREATE OR REPLACE FUNCTION current_operator_id() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (SELECT id FROM operator WHERE db_role = session_user);
END $$;

CREATE OR REPLACE FUNCTION md_permitted(permission text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (
        SELECT CASE
            WHEN o.id IS NULL THEN pg_has_role(session_user, md_role_name('owner'), 'MEMBER')
            ELSE o.enabled AND NOT o.must_change_password AND EXISTS (
                SELECT FROM role_permission rp
                WHERE rp.permission_code = permission
                  AND pg_has_role(session_user, md_role_name(rp.role_code), 'MEMBER'))
        END
        FROM (SELECT 1) AS always LEFT JOIN operator o ON o.db_role = session_user);
END $$;

CREATE OR REPLACE FUNCTION md_role_name(suffix text) RETURNS name
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT (role_prefix || '_' || suffix)::name FROM public.installation);
END $$;
