-- "Address contains" of three characters or more asks the index of the addresses' runs of three
-- characters (V12, V30) for every run of the fragment. A run that is in a large share of all
-- addresses costs that index scan the most and narrows its candidates the least: at 10 M
-- customers "建国路" is in 624 000 addresses; "建国路88号" asked with it read that run's whole
-- posting tree (13-25 ms of index scan, measured on a busy machine), without it 2 ms, for the
-- same 2 047 candidates: the fragment's other runs overlap it by two characters and carry its
-- selectivity. So the runs asked for are those that the index's own statistics (ANALYZE's most
-- common elements of text_trigrams(address)) put in at most one address in twenty (a city's,
-- district's or road's name is in more; a road with its house number's first digit, "民路1",
-- in 2.3 %, is kept: without it "人民路1号" had 22 987 candidates instead of 2 118); if every
-- run is more common, the rarest one. Without statistics (a new database) every run is asked,
-- as before. The index only proposes candidates; the fragment decides (strpos,
-- src/db/customers.rs), so the rows found are the same.
-- Called once per search, and only when its first rows of the name order held less than a
-- page. PL/pgSQL keeps the statistics' query planned for the session. SECURITY DEFINER: an
-- index's statistics are shown only to the roles that may read them.
CREATE FUNCTION address_index_keys(fragment text) RETURNS text[]
    LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    common text[];
    shares real[];
    kept text[];
    rarest text;
BEGIN
    SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs INTO common, shares
    FROM pg_catalog.pg_stats s
    WHERE s.schemaname = 'public' AND s.tablename = 'customer_address_trigrams';
    SELECT array_agg(DISTINCT r.run) FILTER (WHERE r.share <= 0.05),
           (array_agg(r.run ORDER BY r.share, r.run))[1]
    INTO kept, rarest
    FROM (SELECT t.run, coalesce(shares[array_position(common, t.run)], 0) AS share
          FROM unnest(text_trigrams(fragment)) AS t(run)) r;
    RETURN coalesce(kept, ARRAY[rarest]);
END $$;
