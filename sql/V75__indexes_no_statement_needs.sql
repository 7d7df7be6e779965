-- Two indexes no statement needs (docs/decisions.md, "The cost of concurrency on the server").
-- Every index of a table is written by each insert and each update that is not HOT, is opened
-- and locked by every statement planned on the table and by every write to it (a counter
-- transaction holds 30 to 140 relation locks, past the 16 a backend keeps without the shared
-- lock table), and is weighed by the planner each time it plans.
--
-- customer_phone (V1): no statement asks for a customer by the phone as typed; the phone search
-- reads customer_phone_digits (V3), on the digits of the phone. Not scanned once in soaks of 2
-- and 64 desks nor in `meterdesk bench` at a million customers.
DROP INDEX customer_phone;

-- bill_unpaid (V1): (account_id) WHERE status = 'unpaid' is the first column of
-- bill_unpaid_by_account_issued (V21: account_id, issued_at, amount, same predicate), which
-- answers every question it answered, and a page's arrears (the sum of the amounts) from the
-- index alone.
DROP INDEX bill_unpaid;
