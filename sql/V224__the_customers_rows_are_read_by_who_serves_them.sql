-- What an operator may READ of the customers (s43-f's "found, not fixed"; s44-a;
-- docs/decisions.md, "What a clerk or an administrator reads with psql").
--
-- V13 granted every operator SELECT on every table, so an operator whose roles serve no
-- customer — an administrator's role made with the operators, roles, departments, settings and
-- the audit log only — read every customer's identity number and phone, every ledger row,
-- card and receipt from psql. Now the rows of the customer side are read only by the operators
-- whose roles take a permission that serves customers: every permission but the five of
-- administration (`md_administration_permissions()`: operators, roles, departments, settings,
-- the audit log). The supervisor's maintenance of meters, types and prices serves customers
-- (their rules ask whether a customer uses what is changed), so it reads them.
--
-- How: row-level security on each table of the customer side, with one policy for reading,
-- `USING (true)` for the group `md_role_name('reads.customers')` — no filter a row, nothing
-- evaluated a row, the customer search's indexes used as before — and none for anyone else,
-- who reads no row (a statement answers nothing, never an error: the desk's home table, the
-- overview's counts and the audit viewer's customer numbers are empty for them). Writing stays
-- as V13, V31 and V36 grant it and their guards check it (a policy for each write, `true`, for
-- every operator). The owner, whose functions, loads and checks read everything, is not
-- subject to it. The group's members are exactly the groups of the roles holding a permission
-- that serves customers, kept in step with role_permission (and a new role) by a trigger, as
-- V36 keeps DELETE. A role code is `[a-z_]+`, so no role's group is named as this one.
-- Re-runnable: the group, its members and the policies are made if missing.

-- The permissions of administration: they serve no customer, so they read none.
CREATE OR REPLACE FUNCTION md_administration_permissions() RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('operator.maintain'), ('role.maintain'), ('department.maintain'),
           ('settings.maintain'), ('audit.view')
$$;

-- The tables of the customer side: who a customer is, their account, money, bills, readings,
-- cards and receipts, and what is derived from them.
CREATE OR REPLACE FUNCTION md_customer_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    VALUES ('public.customer'::regclass), ('public.customer_name_char'),
           ('public.customer_owner_history'), ('public.account'), ('public.account_closing'),
           ('public.ledger_transaction'), ('public.bill'), ('public.bill_payment_applied'),
           ('public.meter_reading'), ('public.card'), ('public.card_operation'),
           ('public.card_recharge_owed'), ('public.receipt'), ('public.system_card_credit_line')
$$;

-- Makes the readers' group a member of exactly the groups of the roles that serve customers
-- (the groups are the members: an operator is in its roles' groups, V13's md_set_groups).
CREATE OR REPLACE FUNCTION md_grant_customer_reads() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    readers name := public.md_role_name('reads.customers');
    change record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = readers) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', readers);
    END IF;
    FOR change IN
        WITH wanted AS (
            SELECT DISTINCT public.md_role_name(rp.role_code)::name AS member
            FROM public.role_permission rp
            WHERE rp.permission_code NOT IN (SELECT public.md_administration_permissions())
        ), granted AS (
            SELECT m.rolname AS member
            FROM pg_catalog.pg_auth_members a
            JOIN pg_catalog.pg_roles g ON g.oid = a.roleid
            JOIN pg_catalog.pg_roles m ON m.oid = a.member
            WHERE g.rolname = readers
        )
        SELECT w.member, true AS may FROM wanted w
        WHERE NOT EXISTS (SELECT FROM granted g WHERE g.member = w.member)
          AND EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = w.member)
        UNION ALL
        SELECT g.member, false FROM granted g
        WHERE NOT EXISTS (SELECT FROM wanted w WHERE w.member = g.member)
    LOOP
        IF change.may THEN
            EXECUTE format('GRANT %I TO %I', readers, change.member);
        ELSE
            EXECUTE format('REVOKE %I FROM %I', readers, change.member);
        END IF;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION md_grant_customer_reads() FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_grant_customer_reads() FROM %I',
                   md_role_name('operator'));
END $$;

CREATE OR REPLACE FUNCTION role_permission_grants_customer_reads() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM public.md_grant_customer_reads();
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS grants_customer_reads ON role_permission;
CREATE TRIGGER grants_customer_reads AFTER INSERT OR UPDATE OR DELETE ON role_permission
    FOR EACH STATEMENT EXECUTE FUNCTION role_permission_grants_customer_reads();

SELECT md_grant_customer_reads();

-- Row security and the four policies on each table of `md_customer_tables()`, those missing
-- (a later migration adding a table to the customer side calls it again).
CREATE OR REPLACE FUNCTION md_guard_customer_tables() RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    readers name := md_role_name('reads.customers');
    operators name := md_role_name('operator');
    customer_table regclass;
    policy record;
BEGIN
    FOR customer_table IN SELECT md_customer_tables() LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', customer_table);
        FOR policy IN
            SELECT * FROM (VALUES
                ('read_by_who_serves_customers', 'SELECT', readers, 'USING (true)'),
                ('written_under_its_guards', 'INSERT', operators, 'WITH CHECK (true)'),
                ('changed_under_its_guards', 'UPDATE', operators, 'USING (true) WITH CHECK (true)'),
                ('deleted_under_its_guards', 'DELETE', operators, 'USING (true)'))
                AS p (name, command, grantee, clause)
        LOOP
            IF NOT EXISTS (SELECT FROM pg_policies
                           WHERE schemaname = 'public' AND policyname = policy.name
                             AND format('%I', tablename)::regclass = customer_table) THEN
                EXECUTE format('CREATE POLICY %I ON %s FOR %s TO %I %s', policy.name,
                               customer_table, policy.command, policy.grantee, policy.clause);
            END IF;
        END LOOP;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION md_guard_customer_tables() FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_guard_customer_tables() FROM %I',
                   md_role_name('operator'));
END $$;

SELECT md_guard_customer_tables();
