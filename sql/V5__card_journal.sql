-- The card write journal at work (docs/card.md, "Card and ledger never disagree";
-- src/db/card_ops.rs): what V1's card and card_operation tables need to carry it out.

-- A card row is made when an open or a replacement begins, before the card is written. If the
-- write never happened (the operation failed), the row stays as a fact, void for 'not_issued':
-- its number is never handed out again, but its generation does not count, so the next attempt
-- gives the same generation to the card that really gets written.
-- 'returned': the customer's active card handed back at the counter and recycled.
ALTER TABLE card DROP CONSTRAINT card_void_reason_check;
ALTER TABLE card ADD CONSTRAINT card_void_reason_check
    CHECK (void_reason IN ('lost', 'damaged', 'replaced', 'account_closed', 'returned', 'not_issued'));
ALTER TABLE card ADD CONSTRAINT card_not_issued_is_not_blacklisted
    CHECK (void_reason IS DISTINCT FROM 'not_issued' OR NOT blacklisted);
ALTER TABLE card DROP CONSTRAINT card_customer_id_generation_key;
CREATE UNIQUE INDEX card_generation_issued ON card (customer_id, generation)
    WHERE void_reason IS DISTINCT FROM 'not_issued';

-- The whole write plan (domain::card_counter::CardWritePlan as JSON): resolution compares the
-- card with its decisive write, and a retried request with the same idempotency key writes the
-- same records again. Older (demo) rows, all finished, have none.
ALTER TABLE card_operation ADD COLUMN plan jsonb;
ALTER TABLE card_operation ADD CONSTRAINT card_operation_pending_has_plan
    CHECK (state <> 'pending' OR plan IS NOT NULL);

-- How a refund is paid out once the card shows the purchase cancelled (NULL: it stays on the
-- account's balance), and how a recharge was paid (NULL: from the balance).
ALTER TABLE card_operation ADD COLUMN payment_method_code text
    REFERENCES payment_method ON UPDATE CASCADE;

-- The supervisor's list of pending operations, oldest first.
CREATE INDEX card_operation_pending ON card_operation (started_at) WHERE state = 'pending';
-- Usage records of one customer, newest first.
CREATE INDEX card_operation_customer ON card_operation (customer_id, id);
