-- An address search no longer counts a fragment's candidates in a statement of their own
-- (V49's EXPLAIN of the bitmap index scan, V57's small bitmap): the search's own bitmap index
-- scan counts every entry it proposes before the first row is read, in the index's statistics
-- of the transaction (pg_stat_get_xact_tuples_returned, idx_tup_read), and the search reads
-- that count after its first candidate (src/db/customers.rs, `PageQuery::within`). A rare
-- fragment's index is scanned once instead of twice (at 10 M customers "人民路1号" reads 233 000
-- index entries for its 2 118 candidates each time).
DROP FUNCTION address_index_entries(text[]);
