-- "Name contains" for Latin text through the same side table as Chinese (V7). Through the
-- trigram GIN index a common Latin fragment ("anna": ~2 500 names) fetched every match from
-- the heap and sorted them: ~35 ms a page. customer_name_char now also keeps, for every name,
-- each distinct run of three ASCII characters after its first character (lower-cased): the
-- page of names containing "anna" walks the name-ordered range of its rarer run ("nna" or
-- "ann") index-only and filters, like 伟. A key (column ch) is one non-ASCII character or one
-- run of three ASCII characters; src/db/customers.rs computes a fragment's keys the same way.
CREATE FUNCTION name_keys(name text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT DISTINCT k FROM (
        SELECT ch AS k FROM unnest(string_to_array(lower(substr(name, 2)), NULL)) ch
        WHERE ascii(ch) > 127
        UNION ALL
        SELECT substr(lower(substr(name, 2)), i, 3) FROM generate_series(1, length(name) - 3) i
        WHERE octet_length(substr(lower(substr(name, 2)), i, 3)) = 3
    ) keys;
END;

CREATE OR REPLACE FUNCTION customer_name_char_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
    SELECT k, n.name, n.customer_no, n.id FROM inserted_customers n, name_keys(n.name) k;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION customer_name_char_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_name_char k
    USING previous_customers o JOIN updated_customers n ON n.id = o.id
    WHERE k.customer_id = o.id AND (o.name, o.customer_no) IS DISTINCT FROM (n.name, n.customer_no);
    INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
    SELECT k, n.name, n.customer_no, n.id
    FROM updated_customers n JOIN previous_customers o ON o.id = n.id, name_keys(n.name) k
    WHERE (o.name, o.customer_no) IS DISTINCT FROM (n.name, n.customer_no);
    RETURN NULL;
END $$;

DROP FUNCTION name_characters(text);

-- The runs of names already stored (their characters are there since V7).
INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
SELECT k, c.name, c.customer_no, c.id FROM customer c, name_keys(c.name) k
WHERE length(k) = 3;

-- Name contains no longer reads the trigram index; the address keeps its own (V3).
DROP INDEX customer_name_after_first_trgm;

ANALYZE customer_name_char;
