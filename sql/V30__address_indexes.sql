-- "Address contains" through two GIN indexes instead of four (src/db/customers.rs, `Contains`):
-- the address's characters (V3) and its runs of three characters (V12). Building, analyzing
-- and maintaining each GIN index of the address is a large share of a bulk load's index time
-- (1 M customers, while other builds ran: the runs of three 69 s; one index of all runs of
-- one to three characters, tried instead of the four, 180 s). The search now reads at most a
-- bounded number of the index's candidates before it walks the name order instead, so an
-- index that returns more candidates than matches costs a bounded time, and these two go:
--   * pg_trgm's trigrams (V1): Latin fragments are three characters or more and take the
--     runs of three (lower-cased, as the search compares);
--   * the runs of two (V7): a two-character fragment takes the character index, whose
--     candidates hold both characters somewhere; the recheck keeps those holding them side by
--     side.
-- The rows found are the same: the index only proposes, the fragment itself decides (strpos).
DROP INDEX customer_address_trgm;
DROP INDEX customer_address_bigrams;
DROP FUNCTION text_bigrams(text);

-- The runs of three as the index is built: lower-cased once, not once per run, and without
-- DISTINCT (GIN and the array operators take each element once however often it occurs):
-- the same set of elements, so the index built with the old body stays valid, in
-- about half the time (2.2 s against 3.9 s for 100 000 addresses, measured in turn).
CREATE OR REPLACE FUNCTION text_trigrams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(SELECT substr(l.t, i, 3)
                 FROM (SELECT lower(t) AS t) l, generate_series(1, length(l.t) - 2) i);
