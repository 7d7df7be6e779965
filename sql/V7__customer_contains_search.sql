-- "Name contains" for Chinese (and any non-ASCII) text. A fragment such as 伟 is in ~3 % of all
-- names, spread over the whole name order, and Latin names sort before Chinese ones: neither a
-- walk of the name order (tens of thousands of Latin names first) nor a seek through a GIN index
-- (every match fetched and sorted, ~30 000 rows) gives a page in a few milliseconds. This table
-- keeps, for every customer, each distinct non-ASCII character of the name after its first
-- (the first is the name prefix search's), keyed in display order: the page of names containing
-- 伟 is a range of its primary key, read index-only, exactly like a name prefix. A longer
-- fragment walks the range of its first non-ASCII character and filters (src/db/customers.rs).
-- Maintained by statement-level triggers, so a bulk COPY of customers fills it in one INSERT.
-- Characters are lower-cased the way the searches compare (lower()), and kept only above
-- ASCII: ASCII fragments of three letters or more use the trigram index, shorter ones only
-- match a name's start (docs/decisions.md).
CREATE TABLE customer_name_char (
    ch          text   NOT NULL,
    name        text   NOT NULL,
    customer_no bigint NOT NULL,
    customer_id bigint NOT NULL REFERENCES customer (id) ON DELETE CASCADE,
    PRIMARY KEY (ch, name, customer_no) INCLUDE (customer_id)
);
CREATE INDEX customer_name_char_customer ON customer_name_char (customer_id);

-- The characters of a name that customer_name_char keeps.
CREATE FUNCTION name_characters(name text) RETURNS SETOF text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT DISTINCT ch FROM unnest(string_to_array(lower(substr(name, 2)), NULL)) ch
    WHERE ascii(ch) > 127;
END;

CREATE FUNCTION customer_name_char_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
    SELECT ch, n.name, n.customer_no, n.id FROM inserted_customers n, name_characters(n.name) ch;
    RETURN NULL;
END $$;
CREATE TRIGGER customer_name_char_after_insert AFTER INSERT ON customer
    REFERENCING NEW TABLE AS inserted_customers
    FOR EACH STATEMENT EXECUTE FUNCTION customer_name_char_after_insert();

CREATE FUNCTION customer_name_char_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_name_char k
    USING previous_customers o JOIN updated_customers n ON n.id = o.id
    WHERE k.customer_id = o.id AND (o.name, o.customer_no) IS DISTINCT FROM (n.name, n.customer_no);
    INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
    SELECT ch, n.name, n.customer_no, n.id
    FROM updated_customers n JOIN previous_customers o ON o.id = n.id, name_characters(n.name) ch
    WHERE (o.name, o.customer_no) IS DISTINCT FROM (n.name, n.customer_no);
    RETURN NULL;
END $$;
CREATE TRIGGER customer_name_char_after_update AFTER UPDATE ON customer
    REFERENCING OLD TABLE AS previous_customers NEW TABLE AS updated_customers
    FOR EACH STATEMENT EXECUTE FUNCTION customer_name_char_after_update();

INSERT INTO customer_name_char (ch, name, customer_no, customer_id)
SELECT ch, c.name, c.customer_no, c.id FROM customer c, name_characters(c.name) ch;

-- Replaced by customer_name_char for non-ASCII fragments; ASCII ones use the trigram index.
DROP INDEX customer_name_after_first_chars;

-- "Address contains" of two characters or more: a GIN index of the address's two-character
-- substrings. The character-set index (V3) matches an address holding the characters anywhere:
-- for "建国路88号" that was 16 749 candidates to fetch and recheck for 223 matches (150 ms);
-- with bigrams, 223. Single characters keep the character-set index.
CREATE FUNCTION text_bigrams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(SELECT DISTINCT substr(lower(t), i, 2) FROM generate_series(1, length(t) - 1) i);
CREATE INDEX customer_address_bigrams ON customer USING gin (text_bigrams(address));

ANALYZE customer, customer_name_char;
