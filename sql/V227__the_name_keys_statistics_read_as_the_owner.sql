-- The name keys' statistics read as the owner (s44-a; docs/decisions.md, "What a clerk or an
-- administrator reads with psql").
--
-- V158's name_key_rarest and the desk's db::customers::search_statistics read
-- customer_name_char's most common keys from pg_stats with the operator's rights ("operators
-- read customer_name_char, so pg_stats shows them its row"). Since V224 the table has
-- row-level security, and pg_stats shows no row of a table whose row security is active for
-- the reader: every operator's name search would have taken its first key, not its rarest
-- (V158's choice, without statistics), and walked a common key's range. The list is now read
-- by md_name_keys_common(), the owner's (as V169's address_chars_not_rare is): the keys
-- ANALYZE found most common, most common first; NULL without statistics. It says only how
-- common a name character is, which any operator knew before. name_key_rarest is V158's with
-- that one read changed (its caller's rights and no SET clause kept: the function is called
-- only when the session's copy is older than ten minutes).
CREATE OR REPLACE FUNCTION md_name_keys_common() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.most_common_vals::text::text[] FROM pg_catalog.pg_stats s
    WHERE s.schemaname = 'public' AND s.tablename = 'customer_name_char' AND s.attname = 'ch'
$$;

CREATE OR REPLACE FUNCTION name_key_rarest(keys text[]) RETURNS text
LANGUAGE plpgsql STRICT AS $$
DECLARE
    -- The time it was read, then the common values, each between two U+0001 characters, the
    -- most common first. A key is looked up by strpos: no array is parsed and no query run at
    -- a call (either would cost as much as the counting it replaces).
    kept text := current_setting('meterdesk.name_keys_common', true);
    now_at double precision := extract(epoch FROM clock_timestamp());
    common text;
    key text;
    at integer;
    rarest text;
    rarest_at integer := -1;
BEGIN
    IF cardinality(keys) < 2 THEN
        RETURN lower(keys[1]);
    END IF;
    IF coalesce(kept, '') = ''
       OR now_at - split_part(kept, chr(1), 1)::double precision > 600 THEN
        common := chr(1) || array_to_string(public.md_name_keys_common(), chr(1)) || chr(1);
        common := coalesce(common, chr(1));
        PERFORM set_config('meterdesk.name_keys_common', now_at || common, false);
    ELSE
        common := substr(kept, strpos(kept, chr(1)));
    END IF;
    FOREACH key IN ARRAY keys LOOP
        at := strpos(common, chr(1) || lower(key) || chr(1));
        IF at = 0 THEN
            RETURN lower(key);
        ELSIF at > rarest_at THEN
            rarest := lower(key);
            rarest_at := at;
        END IF;
    END LOOP;
    RETURN rarest;
END $$;
