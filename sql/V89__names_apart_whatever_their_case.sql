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
