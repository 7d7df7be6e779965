-- "Name contains" and "address contains" searches walk a bounded window of the name index, then
-- seek beyond it only if the window held less than a page (src/db/customers.rs, `Contains`); a
-- meter prefix finds the meters first, then their customers by key (`meter_prefix_branch`).
-- Both are fixed plans because a wrong row estimate turned a walk into a read of the whole
-- table (seen: 1–3 s at 1 000 000 customers).
-- The name index carries what such a walk looks at, so the walk is an index-only scan: the name
-- order is not the heap's order, and fetching thousands of rows from all over the table would
-- cost more than the walk itself. (A new migration rather than an edit of V3: databases that
-- already ran V3 keep working.)
DROP INDEX customer_by_name;
CREATE INDEX customer_by_name ON customer (name, customer_no) INCLUDE (id, address);
