-- A table's NaN checks in one constraint (issue 14, s38-g; docs/decisions.md, "A table's
-- numbers checked in one short constraint (s38-g)"). sql/V104 gave every `numeric` column of
-- every table a constraint of its own, `<table>_<column>_a_number`, three comparisons each.
-- PostgreSQL 15 reads every CHECK of a table again for each INSERT or UPDATE statement
-- (ExecRelCheck: stringToNode and ExecPrepareExpr a constraint, once a statement, every
-- statement inside PL/pgSQL too): a bill written read five of them, a reading four, a ledger
-- row three.
--
-- Now ONE constraint a table, `<table>_numbers_a_number`, over all its `numeric` columns (the
-- same columns V104 chose: information_schema's `numeric` of a base table of the schema), NOT
-- VALID as before (rows already stored are not read again), and written short, since what
-- costs is the size of the expression read again, not the number of constraints (measured:
-- V104's three comparisons a column merged into one constraint saved 0.5 % of a counter
-- reading's instructions, this form 7.8 %):
--     '(-Infinity,Infinity)'::numrange @> ALL (ARRAY[col1, col2, …])
-- An open range: -Infinity and Infinity are outside it, and NaN too (in `numeric` NaN sorts
-- above every number and above Infinity). `@> ALL` is false when any column is outside, NULL
-- (the row passes) when none is outside and some column is NULL: a NULL column passes as
-- before and the others still decide, a NaN beside a NULL is refused. The refusal is the same
-- SQLSTATE (23514, check_violation) and its constraint's name still ends in `_a_number` (no
-- Decimal the desk sends is NaN or infinite: no desk words, the report names the constraint;
-- src/db/refused.rs).
--
-- Re-runnable on its own result (tests/two_desks.rs replays from V109 and V116): V104's are
-- dropped IF EXISTS, the table's own dropped IF EXISTS before it is added again.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.table_name,
               string_agg(format('DROP CONSTRAINT IF EXISTS %I',
                                 left(c.table_name || '_' || c.column_name, 50) || '_a_number'),
                          ', ' ORDER BY c.column_name) AS drops,
               string_agg(format('%I', c.column_name), ', ' ORDER BY c.ordinal_position)
                   AS columns
        FROM information_schema.columns c
        JOIN information_schema.tables tb
          ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
        WHERE c.table_schema = 'public' AND tb.table_type = 'BASE TABLE'
          AND c.data_type = 'numeric'
        GROUP BY c.table_name
        ORDER BY c.table_name
    LOOP
        EXECUTE format(
            'ALTER TABLE public.%I %s, DROP CONSTRAINT IF EXISTS %I, ADD CONSTRAINT %I '
            'CHECK (''(-Infinity,Infinity)''::numrange @> ALL (ARRAY[%s])) NOT VALID',
            t.table_name, t.drops,
            left(t.table_name, 46) || '_numbers_a_number',
            left(t.table_name, 46) || '_numbers_a_number',
            t.columns);
    END LOOP;
END $$;
