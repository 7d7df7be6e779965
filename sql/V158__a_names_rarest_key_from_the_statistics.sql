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
-- session for ten minutes, as address_fragment_is_rare (V80) keeps the address's; a key not
-- among them is rarer than any that is, a later one rarer than an earlier one, and among keys
-- alike the first in the keys' order (db::customers sorts them). Without statistics the first
-- key. Keys are compared lower-cased, as the entries are written.
-- SECURITY DEFINER: pg_stats shows an operator no row of a table it may not read. Re-runnable
-- (CREATE OR REPLACE).
CREATE OR REPLACE FUNCTION name_key_rarest(keys text[]) RETURNS text
LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    kept text := current_setting('meterdesk.name_keys_common', true);
    read_at double precision := nullif(split_part(kept, '|', 1), '')::double precision;
    now_at double precision := extract(epoch FROM clock_timestamp());
    common text[];
BEGIN
    IF cardinality(keys) < 2 THEN
        RETURN lower(keys[1]);
    END IF;
    IF coalesce(kept, '') = '' OR now_at - read_at > 600 THEN
        SELECT s.most_common_vals::text::text[] INTO common
        FROM pg_catalog.pg_stats s
        WHERE s.schemaname = 'public' AND s.tablename = 'customer_name_char'
          AND s.attname = 'ch';
        PERFORM set_config('meterdesk.name_keys_common',
                           now_at || '|' || coalesce(common, '{}'::text[])::text, false);
    ELSE
        common := substr(kept, strpos(kept, '|') + 1)::text[];
    END IF;
    RETURN (SELECT lower(k.key) FROM unnest(keys) WITH ORDINALITY AS k(key, n)
            ORDER BY coalesce(array_position(common, lower(k.key)), 2147483647) DESC, k.n
            LIMIT 1);
END $$;
