-- The customer's two address indexes (GIN) kept PostgreSQL's default `fastupdate`: a written
-- address's keys went to a list of pending entries, merged into the index by a vacuum or once
-- the list passed gin_pending_list_limit (4 MB), and every search of those indexes read that
-- whole list. Every customer opened or changed at the counter adds to it, so the searches
-- paid for the day's writes: at 10 000 customers after a minute of two desks, 669 pending
-- entries on 29 and 34 pages cost each index scan ~0.1 ms of CPU against ~0.02 once merged;
-- a busy 10 M database could let 4 MB pend (docs/decisions.md, "An address search reads no
-- pending entries"). Now each write puts its keys in the index's tree at once, and whatever
-- is pending is merged here. The bulk loader rebuilds the indexes from their definitions
-- (`pg_get_indexdef`, with this option), after the data is in.
ALTER INDEX customer_address_chars SET (fastupdate = off);
ALTER INDEX customer_address_trigrams SET (fastupdate = off);
SELECT gin_clean_pending_list('customer_address_chars'::regclass),
       gin_clean_pending_list('customer_address_trigrams'::regclass);
