-- Whether an address fragment is too rare for the customer table's search to walk its window
-- of the name order first (db::customers, `rarity`): the fragment has a character that the
-- address character index's statistics find in fewer than 0.02 % of all addresses, or do not
-- list at all while their list is not full (ANALYZE then lists every character above ~0.007 %).
-- Such a fragment would show fewer than two matches in the window of 1 000 rows all but once
-- in fifty, and the search would then ask the index anyway: it asks at once. A name's first
-- characters (most text searches at the counter) are rarely in any address. The answer costs
-- time only, never rows: a fragment judged rare that is not still has its candidates bounded,
-- and the walk goes on past them (docs/decisions.md, "Digits kept; a rare fragment asks the
-- index first").
-- The characters not rare are read from pg_stats once per session and ten minutes (reading
-- them costs ~0.5 ms, more than the walk it spares: V64), kept in a setting of the session.
CREATE FUNCTION address_fragment_is_rare(fragment text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    kept text := current_setting('meterdesk.address_chars_not_rare', true);
    read_at double precision := nullif(split_part(kept, '|', 1), '')::double precision;
    not_rare text := substr(kept, strpos(kept, '|') + 1);
    now_at double precision := extract(epoch FROM clock_timestamp());
    listed text[];
    shares real[];
BEGIN
    IF coalesce(kept, '') = '' OR now_at - read_at > 600 THEN
        SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs INTO listed, shares
        FROM pg_catalog.pg_stats s
        WHERE s.schemaname = 'public' AND s.tablename = 'customer_address_chars';
        IF listed IS NULL OR cardinality(listed) >= 1000 THEN
            -- No statistics, or a full list: no character is known rare.
            not_rare := '*';
        ELSE
            SELECT coalesce(string_agg(x.ch, '') FILTER (WHERE x.share >= 0.0002), '')
            INTO not_rare
            FROM unnest(listed, shares[1:cardinality(listed)]) AS x(ch, share);
        END IF;
        PERFORM set_config('meterdesk.address_chars_not_rare', now_at || '|' || not_rare, false);
    END IF;
    RETURN not_rare <> '*' AND EXISTS (
        SELECT FROM unnest(string_to_array(lower(fragment), NULL)) AS f(ch)
        WHERE strpos(not_rare, f.ch) = 0);
END $$;
