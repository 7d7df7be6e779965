-- Names of departments, customer types, meter types and price schemes are unique whatever their
-- case, as logins are (session 33, s33-c's walk: "营业一厅 counter hall 1" was added beside
-- "营业一厅 Counter Hall 1"). The desk's forms already trim a name and fold its runs of spaces
-- (`validation::plain_text`), so case is what was left; an index on `lower(name)` refuses the
-- twin with the unique_violation the exact duplicate gets, which the desk tells as "名称已被使用".
--
-- A database that already holds such twins keeps its oldest row's name; each later twin is
-- renamed "<name> #<id>" (told by a NOTICE at migration) for an administrator to rename, so the
-- migration never fails and no row is lost (docs/decisions.md, "Names apart whatever their case").
-- Re-runnable: a test runs it again on twins it made.
DO $$
DECLARE
    tbl text;
    twin record;
    renamed text;
    taken boolean;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['department', 'customer_type', 'meter_type', 'price_scheme'] LOOP
        FOR twin IN EXECUTE format(
            'SELECT id, name FROM %I later
              WHERE EXISTS (SELECT FROM %I earlier
                            WHERE lower(earlier.name) = lower(later.name) AND earlier.id < later.id)
              ORDER BY id', tbl, tbl) LOOP
            renamed := twin.name;
            LOOP
                renamed := renamed || ' #' || twin.id;
                EXECUTE format('SELECT EXISTS (SELECT FROM %I WHERE lower(name) = lower($1))', tbl)
                    INTO taken USING renamed;
                EXIT WHEN NOT taken;
            END LOOP;
            EXECUTE format('UPDATE %I SET name = $1 WHERE id = $2', tbl) USING renamed, twin.id;
            RAISE NOTICE '% % was named "%" as another in another case: renamed "%"',
                tbl, twin.id, twin.name, renamed;
        END LOOP;
    END LOOP;
END $$;

CREATE UNIQUE INDEX IF NOT EXISTS department_name_any_case ON department (lower(name));
CREATE UNIQUE INDEX IF NOT EXISTS customer_type_name_any_case ON customer_type (lower(name));
CREATE UNIQUE INDEX IF NOT EXISTS meter_type_name_any_case ON meter_type (lower(name));
CREATE UNIQUE INDEX IF NOT EXISTS price_scheme_name_any_case ON price_scheme (lower(name));

-- The bulk load's locks are the owner's alone (s33-c: as the clerk,
-- `pg_try_advisory_lock(x'006d645f62756c6b'::bigint)` answered true, and then `demo-data`
-- could not start, nor a killed load be undone, so no desk signed in). `pg_advisory_lock` is
-- PUBLIC's and cannot be revoked; what counts now is who holds a lock: a live load is an
-- advisory lock of the load's class held by a server process of the owner (or a superuser),
-- on any key of that class, so a clerk's locks, of any key, are not a load and stand in the way
-- of none. Two loads are kept apart by a table lock no operator may take (no privilege on
-- `bulk_load_gate`: an operator may lock only what they may read or write, and a read's lock
-- conflicts with none taken here). The locks stay session locks, as before: a lock lives exactly
-- as long as the server process that may still commit a load's statement.
CREATE TABLE IF NOT EXISTS bulk_load_gate ();
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON bulk_load_gate FROM PUBLIC, %I', md_role_name('operator'));
END $$;

-- Whether another server process of the owner's holds an advisory lock of class `p_class` in
-- this database.
CREATE OR REPLACE FUNCTION bulk_load_held(p_class int) RETURNS boolean
LANGUAGE sql STABLE SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT EXISTS (
        SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = p_class::bigint::oid
          AND l.pid <> pg_backend_pid()
          AND pg_has_role(a.usesysid, md_role_name('owner'), 'MEMBER'))
$$;

-- Takes a session lock of class `p_class` on a key no one holds; with `p_alone`, only if no
-- other server process of the owner's holds one (false then).
CREATE OR REPLACE FUNCTION bulk_load_take(p_class int, p_alone boolean) RETURNS boolean
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    LOCK TABLE bulk_load_gate IN EXCLUSIVE MODE;
    IF p_alone AND bulk_load_held(p_class) THEN
        RETURN false;
    END IF;
    -- A key someone else (a clerk) holds is passed over.
    LOOP
        EXIT WHEN pg_try_advisory_lock(p_class, (random() * 2147483646)::int);
    END LOOP;
    RETURN true;
END $$;

-- Lets go of this session's locks of class `p_class`.
CREATE OR REPLACE FUNCTION bulk_load_release(p_class int) RETURNS void
LANGUAGE sql SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT count(pg_advisory_unlock(p_class, l.objid::bigint::int)) FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.objsubid = 2
      AND l.classid = p_class::bigint::oid AND l.granted;
$$;

DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION bulk_load_held(int), bulk_load_take(int, boolean),
                        bulk_load_release(int) FROM PUBLIC, %I', md_role_name('operator'));
END $$;
