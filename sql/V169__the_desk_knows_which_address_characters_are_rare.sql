-- The address characters common enough for the customer search to walk its window for, read by
-- the desk (s40-d; docs/decisions.md, "The name search's server cost (s40-d)").
--
-- A text search asked address_fragment_is_rare (V80) inside its statement, and the statement
-- held every way its address page can be found (the walk, the walk on, the seek, the walk past
-- too many candidates): some forty InitPlans started at every call, though a fragment judged
-- rare runs the seek alone. The desk now reads the list once a connection and ten minutes
-- (db::customers, `AddressRarity`), judges the fragment itself and sends the statement of the
-- way it takes: one without the walk for a rare fragment, one without the question otherwise.
-- The answer costs time only, never rows (V80), as before.
--
-- address_chars_not_rare: the characters ANALYZE finds in at least 0.02 % of the addresses
-- (the character index's most common elements), or '*' when no character is known rare (no
-- statistics, or a full list). The owner's rights: pg_stats shows an index's statistics to
-- the table's owner only. Its search_path is its own.
CREATE OR REPLACE FUNCTION address_chars_not_rare() RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    listed text[];
    shares real[];
    not_rare text;
BEGIN
    SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs INTO listed, shares
    FROM pg_catalog.pg_stats s
    WHERE s.schemaname = 'public' AND s.tablename = 'customer_address_chars';
    IF listed IS NULL OR cardinality(listed) >= 1000 THEN
        RETURN '*';
    END IF;
    SELECT coalesce(string_agg(x.ch, '') FILTER (WHERE x.share >= 0.0002), '')
    INTO not_rare
    FROM unnest(listed, shares[1:cardinality(listed)]) AS x(ch, share);
    RETURN not_rare;
END $$;

-- V80's question, for a statement sent by a client that keeps no list (a bare connection:
-- the desk's own transactions, tools): the same list, kept in the session ten minutes as
-- before, now read by the function above. The caller's rights and no SET clause (a SECURITY
-- DEFINER function with its own search_path saves, sets and puts back the setting at every
-- call, V158): every name it uses is pg_catalog's or written with its schema.
CREATE OR REPLACE FUNCTION address_fragment_is_rare(fragment text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE STRICT SECURITY INVOKER AS $$
DECLARE
    kept text := current_setting('meterdesk.address_chars_not_rare', true);
    read_at double precision := nullif(split_part(kept, '|', 1), '')::double precision;
    not_rare text := substr(kept, strpos(kept, '|') + 1);
    now_at double precision := extract(epoch FROM clock_timestamp());
BEGIN
    IF coalesce(kept, '') = '' OR now_at - read_at > 600 THEN
        not_rare := public.address_chars_not_rare();
        PERFORM set_config('meterdesk.address_chars_not_rare', now_at || '|' || not_rare, false);
    END IF;
    RETURN not_rare <> '*' AND EXISTS (
        SELECT FROM unnest(string_to_array(lower(fragment), NULL)) AS f(ch)
        WHERE strpos(not_rare, f.ch) = 0);
END $$;
ALTER FUNCTION address_fragment_is_rare(text) RESET ALL;
