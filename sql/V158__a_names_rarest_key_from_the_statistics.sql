-- A name fragment's rarest key chosen from the statistics, not by counting (s39-d; docs/
-- decisions.md, "The counter's reads and writes, measured (s39-d)").
--
-- The name-contains branch of a text search (db::customers, V7/V11) reads the range of one of
-- the fragment's keys in customer_name_char, the rarest; it found it by counting up to 1 000
-- index entries of EVERY key (a two-character name typed at the counter: two counts of a
-- common surname's and a common given name's entries, 500 and more at 10 000 customers), a
-- third of the search's server time. Any key gives the same rows (every name holding the
-- fragment has an entry for each of its keys, and the fragment itself is checked on the row):
-- only the range walked differs. Now the choice is ANALYZE's: the most common values of
-- customer_name_char.ch, in their order (most common first), read once and kept in the
-- session for ten minutes, as address_fragment_is_rare (V80) keeps the address's; the first
-- key (in the keys' order: db::customers sorts them) not among them is taken, else the one
-- listed last (the least common). Without statistics the first key. Keys are compared
-- lower-cased, as the entries are written.
-- The caller's rights (operators read customer_name_char, so pg_stats shows them its row) and
-- no SET clause: a SECURITY DEFINER function with its own search_path saves, sets and puts
-- back the setting at every call (about 20 000 instructions). Every name it uses is pg_catalog's or
-- written with its schema. Re-runnable (CREATE OR REPLACE).
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
        SELECT chr(1) || array_to_string(s.most_common_vals::text::text[], chr(1)) || chr(1)
        INTO common
        FROM pg_catalog.pg_stats s
        WHERE s.schemaname = 'public' AND s.tablename = 'customer_name_char'
          AND s.attname = 'ch';
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
