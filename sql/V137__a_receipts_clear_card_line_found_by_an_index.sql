-- A receipt's read finds a clear card's credit line by an index (session 37, integrator, from
-- s37-b's "found, not fixed"; docs/decisions.md, "A receipt's read no longer reads every
-- system card").
--
-- `receipt_read` (V116; every deposit's answer, every reprint) joins each line to
-- `system_card` on `credited_transaction_id` to name a clear card's credit, and
-- `card_refund_is_journaled` (V32) asks it for every operator's card_refund row; the column had
-- no index, so each read went through every system card the utility had issued, a cost that
-- grows with the years. Only a cleared clear card's row carries the id.
CREATE INDEX IF NOT EXISTS system_card_credited_transaction ON system_card (credited_transaction_id)
    WHERE credited_transaction_id IS NOT NULL;
