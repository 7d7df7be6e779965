-- No operator makes temporary tables (s44-a's "found, not fixed"; s45-b; docs/decisions.md,
-- "What each role reads and can do with psql").
--
-- V159 gave TEMPORARY on the database to the roles that import meters, for the import's one
-- scratch table: their psql could fill the server's disk with temporary tables (which count
-- against no limit) and keep session state of its own. The import now sends its rows as
-- arrays, a chunk an INSERT (db::meters::import_meters), so nobody needs it: md_grant_temporary
-- (still run by `meterdesk migrate` after the migrations, as a copied database has PUBLIC's
-- TEMPORARY again) takes it from PUBLIC and from every role but the database's owner, and
-- V159's trigger, which kept it in step with the roles' permissions, is dropped.
CREATE OR REPLACE FUNCTION md_grant_temporary() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    grantee name;
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    FOR grantee IN
        SELECT r.rolname
        FROM pg_catalog.pg_database d
        CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) acl
        JOIN pg_catalog.pg_roles r ON r.oid = acl.grantee
        WHERE d.datname = current_database()
          AND acl.privilege_type = 'TEMPORARY'
          AND acl.grantee <> d.datdba
    LOOP
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM %I', current_database(), grantee);
    END LOOP;
END $$;

DROP TRIGGER IF EXISTS grants_temporary ON role_permission;
DROP FUNCTION IF EXISTS role_permission_grants_temporary();

SELECT md_grant_temporary();
