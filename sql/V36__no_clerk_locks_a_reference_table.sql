-- No operator can LOCK a reference table they may not maintain (docs/decisions.md, "A clerk
-- locks no reference table").
--
-- V13 granted every operator table-level INSERT, UPDATE and DELETE on the reference tables,
-- their guard triggers deciding row by row. A table-level UPDATE or DELETE also lets
-- `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` through, so a clerk with psql could hold price_tier
-- in an idle transaction and stop every recharge's price at every counter. PostgreSQL checks
-- LOCK TABLE against table-level privileges only (as V32 did for account): so INSERT and
-- UPDATE become column grants on every column, for every operator as before (the guards still
-- decide, and row locks — which need UPDATE on one column — stay possible), and DELETE, which
-- has no column form, is granted only to the groups of the roles holding a permission that
-- maintains the table, kept in step with role_permission by a trigger.

-- Which permissions maintain each reference table (any one of them), as its guard says.
CREATE FUNCTION md_reference_maintainers() RETURNS TABLE (reference regclass, permission text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    VALUES ('public.meter'::regclass, 'meter.maintain'),
           ('public.meter', 'meter.import'),
           ('public.meter_type', 'meter.maintain'),
           ('public.customer_type', 'customer_type.maintain'),
           ('public.customer_type_meter_type', 'customer_type.maintain'),
           ('public.customer_type_payment_method', 'customer_type.maintain'),
           ('public.price_scheme', 'price.maintain'),
           ('public.price_version', 'price.maintain'),
           ('public.price_tier', 'price.maintain'),
           ('public.payment_method', 'settings.maintain'),
           ('public.department', 'department.maintain'),
           ('public.role', 'role.maintain'),
           ('public.role_permission', 'role.maintain')
$$;

-- Grants DELETE on each reference table to exactly the groups of the roles that may maintain
-- it, and revokes it from every other role that has it (the owner keeps its own).
CREATE FUNCTION md_grant_reference_deletes() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    change record;
BEGIN
    FOR change IN
        WITH wanted AS (
            SELECT DISTINCT m.reference, public.md_role_name(rp.role_code)::name AS grantee
            FROM public.md_reference_maintainers() m
            JOIN public.role_permission rp ON rp.permission_code = m.permission
        ), granted AS (
            SELECT c.oid::regclass AS reference, r.rolname AS grantee
            FROM pg_catalog.pg_class c
            CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) acl
            JOIN pg_catalog.pg_roles r ON r.oid = acl.grantee
            WHERE c.oid IN (SELECT m.reference FROM public.md_reference_maintainers() m)
              AND acl.privilege_type = 'DELETE'
              AND acl.grantee <> c.relowner
        )
        SELECT w.reference, w.grantee, true AS may FROM wanted w
        WHERE NOT EXISTS (SELECT 1 FROM granted g
                          WHERE g.reference = w.reference AND g.grantee = w.grantee)
        UNION ALL
        SELECT g.reference, g.grantee, false FROM granted g
        WHERE NOT EXISTS (SELECT 1 FROM wanted w
                          WHERE w.reference = g.reference AND w.grantee = g.grantee)
    LOOP
        IF change.may THEN
            EXECUTE format('GRANT DELETE ON %s TO %I', change.reference, change.grantee);
        ELSE
            EXECUTE format('REVOKE DELETE ON %s FROM %I', change.reference, change.grantee);
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION role_permission_grants_deletes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM public.md_grant_reference_deletes();
    RETURN NULL;
END $$;
CREATE TRIGGER grants_deletes AFTER INSERT OR UPDATE OR DELETE ON role_permission
    FOR EACH STATEMENT EXECUTE FUNCTION role_permission_grants_deletes();

DO $$
DECLARE
    operator_group name := md_role_name('operator');
    reference regclass;
    columns text;
BEGIN
    FOR reference IN SELECT DISTINCT m.reference FROM md_reference_maintainers() m LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM %I', reference, operator_group);
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
        FROM pg_attribute a
        WHERE a.attrelid = reference AND a.attnum > 0 AND NOT a.attisdropped;
        EXECUTE format('GRANT INSERT (%s), UPDATE (%s) ON %s TO %I',
                       columns, columns, reference, operator_group);
    END LOOP;
    PERFORM md_grant_reference_deletes();
END $$;

-- Only the operators run these through the trigger; nobody calls them by hand.
REVOKE EXECUTE ON FUNCTION md_grant_reference_deletes() FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_grant_reference_deletes() FROM %I',
                   md_role_name('operator'));
END $$;
