-- How many customers the address index proposes for a fragment's runs of three (V35's keys),
-- counted in the index alone. An address search whose first rows of the name order held less
-- than a page reads the fragment's candidates, at most a bound of them, and walks on if there
-- are more (src/db/customers.rs, `Contains`). Reading them costs a heap page each: at 10 M
-- customers "幸福里27" has 22 948 candidates, and the 5 001 read only to learn that there are
-- more than 5 000 took 4 828 heap pages (40-77 ms), then the walk found the page. Counted
-- first, a fragment with more candidates than the bound walks on without reading any.
-- PostgreSQL 15 counts a bitmap's entries in the bitmap index scan, before any heap page is
-- read (its bitmap heap scan reads every page since the skip-fetch shortcut was withdrawn, so
-- count(*) reads the candidates too); the only place the count is shown is EXPLAIN ANALYZE's
-- "Actual Rows" of that node, so that is where it is taken: the statement runs with LIMIT 1
-- (the whole bitmap is built first, then one heap row is read). A GIN index is only ever read
-- through a bitmap; the other scans are turned off, or a fragment the planner thinks common
-- would be looked for in the table's order (LIMIT 1 expects an early match). NULL if no bitmap
-- index scan was used (then the search reads the candidates, as before). The count may include row versions not yet
-- vacuumed away: it only chooses between two ways to the same rows.
-- VOLATILE: PostgreSQL runs no EXPLAIN in a STABLE function. SECURITY INVOKER: the clerk's
-- own reading of customer.
CREATE FUNCTION address_index_entries(keys text[]) RETURNS bigint
    LANGUAGE plpgsql VOLATILE STRICT SET search_path = public, pg_temp
    SET enable_seqscan = off SET enable_indexscan = off SET enable_indexonlyscan = off AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON)
             SELECT FROM customer c WHERE text_trigrams(c.address) @> $1 LIMIT 1'
        INTO plan USING keys;
    RETURN jsonb_path_query_first(
        plan, 'strict $.**?(@."Node Type" == "Bitmap Index Scan")."Actual Rows"')::bigint;
END $$;
