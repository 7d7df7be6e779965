-- A transfer waits for the customer's pending card operation (s37-d; docs/decisions.md, "A card
-- refund paid out to the owner its begin checked: a transfer waits for a pending card
-- operation").
--
-- s36-h's and s36-a's "found, not fixed": a supervisor's card refund is begun for the owner the
-- confirmation named (V119's `customer_owner_unchanged`, behind the account's lock); its money
-- goes onto the balance then, and is paid out, on a receipt of its own, at the settle — once
-- the card shows the purchase cancelled, in a transaction of its own. A transfer between the
-- two was not asked about: it told the new owner that a balance holding the refund "stays with
-- the account", then the settle paid that money out of it, on a receipt naming whoever held
-- the customer then (V109: the holder when the receipt is written). The card is written before
-- the settle runs (docs/card.md's write protocol), so the settle cannot be refused; what the
-- desk can refuse is the transfer. A pending recharge is the same: a failed one's reversal puts
-- the money the old owner paid onto the balance the new owner was told stays.
--
-- So a customer with a card operation pending is not transferred until it is settled (read with
-- its card, or settled by a supervisor without it), as V24's close of an account already waits
-- for one. The one pending operation a customer may have (V1's unique index
-- `card_operation_one_pending_per_customer`) is found by an index probe; asked when the owner
-- history row is written, in the transfer's own statement, after the transfer took the account
-- in an earlier one: a refund's or recharge's begin holds the account (card_begin_facts) while
-- it journals, so the transfer either sees the operation it waited for or the begin, waiting
-- for the transfer, is refused for the owner it showed (MD410). SQLSTATE MD420; the desk answers
-- it as `TransferOutcome::CardOperationPending`. The owner (imports of history, the demo loader)
-- is not asked. Runs again on the schema it made (tests/two_desks.rs).

CREATE OR REPLACE FUNCTION customer_transfer_waits_for_the_card() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    pending card_operation;
BEGIN
    SELECT o.* INTO pending FROM card_operation o
    WHERE o.customer_id = NEW.customer_id AND o.state = 'pending';
    IF FOUND THEN
        RAISE EXCEPTION 'card operation % (%) of customer % is pending: the customer is transferred once it is settled',
            pending.id, pending.kind, NEW.customer_id
            USING ERRCODE = 'MD420';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS waits_for_the_card ON customer_owner_history;
DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER waits_for_the_card BEFORE INSERT ON customer_owner_history
        FOR EACH ROW WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_transfer_waits_for_the_card()$t$, md_role_name('owner'));
END $$;
