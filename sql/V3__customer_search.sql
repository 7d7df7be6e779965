-- The customer table's search (src/db/customers.rs): keyset paging in display order, and an
-- index for every kind of search, so a page costs the same at the top and 40 000 rows deep.
--
-- How a page is found. Every search is a UNION of branches; each branch is
--     SELECT … WHERE <one condition> AND <key beyond the cursor> ORDER BY <key> LIMIT page + 1
-- and the UNION is ordered and limited again. Per branch the planner has two ways, and picks by
-- its estimate of how many rows match:
--   * walk:  scan the index in display order from the cursor and filter, stopping after a page of
--            matches — cheap when matches are common (reads page / share rows);
--   * seek:  collect every match from the condition's own index (bitmap), then sort the top page
--            — cheap when matches are rare (reads every match).
-- A walk is only cheap when the matches are spread along the display order. Matches of a name
-- prefix are not: all 王… names sit together, hundreds of thousands of rows after the start, and
-- a walk for "王" would read them all; a seek would fetch them all. So a name prefix is its own
-- branch (a range of customer_by_name, always cheap), and the "name contains" branch looks only
-- after the first character (substr(name, 2)), with indexes of its own: its matches are spread
-- along the name order, and the planner's estimate for it is not inflated by the prefix ones.
-- Two kinds of branch are not left to that choice, because a wrong estimate turns a walk into a
-- read of the whole table (seen: 1–3 s): "contains" (name after the first character, address)
-- walks at most a window of the name index, then seeks beyond it only if the window held less
-- than a page (src/db/customers.rs, `Contains`); a meter prefix finds the meters first, then
-- their customers by key (`meter_prefix_branch`).
-- The app sends each search as a fresh statement, so the planner always plans with the
-- actual values (a custom plan), never a generic one that cannot see how common "138" is.

-- Text searches are shown by name; equal names by customer number (a unique tie-breaker keeps
-- the keyset exact across a run of equal names). In the C locale of the embedded cluster a
-- plain btree also serves name LIKE 'prefix%' as a range.
-- It also carries what a "contains" search looks at, so the bounded walk of src/db/customers.rs
-- (`Contains`) is an index-only scan: the name order is not the heap's order, and fetching
-- thousands of rows from all over the table would cost more than the walk itself.
CREATE INDEX customer_by_name ON customer (name, customer_no) INCLUDE (id, address);

-- Phones are written with separators ("010-65123456"); a clerk types digits. The prefix search
-- runs on the digits alone.
CREATE FUNCTION phone_digits(phone text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(phone, '[^0-9]', '', 'g');
CREATE INDEX customer_phone_digits ON customer (phone_digits(phone));

-- Meter numbers may carry dashes ("2016-0001"); the prefix search ignores them, as the clerk
-- may type them or not.
CREATE INDEX meter_no_without_dashes ON meter (replace(meter_no, '-', ''));

-- "Name contains" of three characters or more: trigrams of the name after its first character.
CREATE INDEX customer_name_after_first_trgm ON customer USING gin (substr(name, 2) gin_trgm_ops);

-- Trigram indexes need three characters, and Chinese queries are often one or two ("王",
-- "朝阳"). For those, GIN indexes over the set of characters: all of the query's characters
-- must occur, then strpos rechecks that they are adjacent. (The short query's recheck is strpos,
-- not ILIKE, so the planner never tries a trigram index that would have to read all of itself
-- for a pattern without trigrams.) string_to_array(…, NULL) splits into characters in C,
-- cheap enough to evaluate as a filter when the planner walks instead. The array statistics
-- ANALYZE keeps for these expressions (most common elements) tell the planner how common a
-- character is.
CREATE INDEX customer_name_after_first_chars ON customer
    USING gin (string_to_array(lower(substr(name, 2)), NULL));
CREATE INDEX customer_address_chars ON customer USING gin (string_to_array(lower(address), NULL));

-- Walk or seek is decided on estimates; finer histograms make "how common is this fragment"
-- estimates good to 0.1 % instead of 1 %, which is where the two ways cross over. (The
-- expression indexes keep the default target: their array statistics already track the 1000
-- most common characters, and the demo loader rebuilds indexes, which would drop a setting.)
ALTER TABLE customer ALTER COLUMN name SET STATISTICS 1000;
ALTER TABLE customer ALTER COLUMN address SET STATISTICS 1000;

-- The new expression indexes' statistics exist only after an ANALYZE; until autovacuum gets to
-- it the planner would guess.
ANALYZE customer;
