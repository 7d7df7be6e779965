-- A clerk's psql could create temporary tables (s37 and s38's "found, not fixed"; s39-f):
-- PostgreSQL grants TEMPORARY on a new database to PUBLIC, so every operator could fill the
-- server's disk with them (`CREATE TEMP TABLE t AS SELECT … FROM generate_series(…)`: a
-- temporary table counts against no limit, `temp_file_limit` bounds only a query's work
-- files), and held session state of its own (the shadowing V32 closed for the names the
-- checks read). The desk makes one temporary table, the meter import's scratch table
-- (db::meters::import_meters, which asks for meter.import or meter.maintain with meter.import);
-- nothing else of the desk's, and no function of ours an operator runs as themselves, makes
-- one.
--
-- So TEMPORARY is taken from PUBLIC and given to the groups of the roles holding meter.import,
-- kept in step with role_permission by a trigger, as V36 keeps the reference tables' DELETE.
-- The owner owns the database and keeps it (the demo load). A database's privileges are not
-- copied by CREATE DATABASE … TEMPLATE nor by pg_dump without --create, so
-- `db::migrate::run` (every `meterdesk migrate` and every start as the owner) calls
-- md_grant_temporary again after the migrations. Re-runnable: CREATE OR REPLACE, DROP … IF
-- EXISTS before CREATE.

-- Takes TEMPORARY on this database from PUBLIC, gives it to exactly the groups of the roles
-- that may import meters and takes it from every other role that has it.
CREATE OR REPLACE FUNCTION md_grant_temporary() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    change record;
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    FOR change IN
        WITH wanted AS (
            SELECT DISTINCT public.md_role_name(rp.role_code)::name AS grantee
            FROM public.role_permission rp
            WHERE rp.permission_code = 'meter.import'
              AND EXISTS (SELECT FROM pg_catalog.pg_roles r
                          WHERE r.rolname = public.md_role_name(rp.role_code))
        ), granted AS (
            SELECT r.rolname AS grantee
            FROM pg_catalog.pg_database d
            CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) acl
            JOIN pg_catalog.pg_roles r ON r.oid = acl.grantee
            WHERE d.datname = current_database()
              AND acl.privilege_type = 'TEMPORARY'
              AND acl.grantee <> d.datdba
        )
        SELECT w.grantee, true AS may FROM wanted w
        WHERE NOT EXISTS (SELECT FROM granted g WHERE g.grantee = w.grantee)
        UNION ALL
        SELECT g.grantee, false FROM granted g
        WHERE NOT EXISTS (SELECT FROM wanted w WHERE w.grantee = g.grantee)
    LOOP
        IF change.may THEN
            EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I',
                           current_database(), change.grantee);
        ELSE
            EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM %I',
                           current_database(), change.grantee);
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION role_permission_grants_temporary() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM public.md_grant_temporary();
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS grants_temporary ON role_permission;
CREATE TRIGGER grants_temporary AFTER INSERT OR UPDATE OR DELETE ON role_permission
    FOR EACH STATEMENT EXECUTE FUNCTION role_permission_grants_temporary();

SELECT md_grant_temporary();

-- Only the owner (migrate) and the trigger run it.
REVOKE EXECUTE ON FUNCTION md_grant_temporary() FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_grant_temporary() FROM %I',
                   md_role_name('operator'));
END $$;
