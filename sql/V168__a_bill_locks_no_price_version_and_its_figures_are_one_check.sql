-- A counter reading's bill locks no price version, the reading locks neither the reading before
-- it nor its deduction, and a reading's and a bill's figures are checked in one short
-- constraint each (issue 14; docs/decisions.md, "A write locks no
-- operator, customer nor price version (s40-c)").
--
-- 1. The bill's foreign key to `price_version` took a KEY SHARE lock on the version's row at
--    every bill a reading made or extended, and every desk's readings name the same few
--    versions: after V161 (the payment method's) and V167 (the operators' and customers') the
--    rows a 16-desk soak left holding a multixact were price versions (and a customer type,
--    whose key to the customer is kept: types are deleted). The key goes; what it guaranteed
--    is kept: a price version is never changed nor deleted, by an operator (V47's
--    `price_version_is_history`) nor now by the owner (`price_version_kept`: V47 let the owner
--    through, and the key refused the owner's delete of a version a bill names; no path of the
--    owner's deletes one), and a bill's version is the one `md_price` found (the
--    reading's own, or an import's checked against it by `reading_write_is_priced`); the
--    owner's own bills are the owner's to get right, as V161 left a payment method.
-- 2. A reading's keys to the reading before it and to its deduction locked those rows (an
--    older reading's page written again for its lock): both tables are append-only, by
--    anyone (`refuse_change`: a reading or a ledger row is never changed nor deleted), and
--    both ids are the database's (the meter's latest reading read by `reading_enter_book`, or
--    an import's: its first of a meter checked against the meter's latest by `reading_write`,
--    the next ones the call's own; the deduction the same call wrote). The keys go.
--    The reading's key to its bill stays (a bill has no such guard).
-- 3. PostgreSQL 15 reads a table's CHECK constraints again from their stored text at every
--    INSERT or UPDATE statement (s38-b, s38-g): a counter reading writes a meter_reading row
--    and a bill, a payment updates its bills. `meter_reading`'s four `… >= 0` checks and
--    `bill`'s four (V18's) were 2.2 KB of node text a table. One constraint a table,
--    `0 <= ALL (ARRAY[…])` over the same columns, refuses the same rows (a negative figure) and
--    lets the same pass (NULL: an ALL with a NULL and no false is NULL). Their names were
--    PostgreSQL's own (`<table>_<column>_check`), which no code named; the new ones are
--    decided in db::refused (NOT_SAID).
-- Together 4.1 % fewer instructions a counter reading than V167 alone (valgrind, single-user
-- backend); with V167, 7.2 % fewer than before.
-- Runs again on its own result (tests/two_desks.rs): every name dropped IF EXISTS first.

ALTER TABLE bill DROP CONSTRAINT IF EXISTS bill_price_version_id_fkey;
DROP TRIGGER IF EXISTS price_version_kept ON price_version;
CREATE TRIGGER price_version_kept BEFORE DELETE OR UPDATE OF id ON price_version
    FOR EACH ROW EXECUTE FUNCTION md_row_kept('a price changes by a new version');

ALTER TABLE meter_reading DROP CONSTRAINT IF EXISTS meter_reading_previous_id_fkey;
ALTER TABLE meter_reading DROP CONSTRAINT IF EXISTS meter_reading_transaction_id_fkey;

ALTER TABLE meter_reading
    DROP CONSTRAINT IF EXISTS meter_reading_electronic_check,
    DROP CONSTRAINT IF EXISTS meter_reading_mechanical_check,
    DROP CONSTRAINT IF EXISTS meter_reading_previous_check,
    DROP CONSTRAINT IF EXISTS meter_reading_consumption_check,
    DROP CONSTRAINT IF EXISTS meter_reading_figures_not_negative,
    ADD CONSTRAINT meter_reading_figures_not_negative
        CHECK (0 <= ALL (ARRAY[electronic, mechanical, previous, consumption]));

ALTER TABLE bill
    DROP CONSTRAINT IF EXISTS bill_previous_reading_check,
    DROP CONSTRAINT IF EXISTS bill_volume_check,
    DROP CONSTRAINT IF EXISTS bill_amount_check,
    DROP CONSTRAINT IF EXISTS bill_vat_check,
    DROP CONSTRAINT IF EXISTS bill_figures_not_negative,
    ADD CONSTRAINT bill_figures_not_negative
        CHECK (0 <= ALL (ARRAY[previous_reading, volume, amount, vat]));
