-- A failed recharge found on its card takes the customer's account before its operation (s41-e;
-- docs/decisions.md, "A card recharge's server cost").
--
-- s40-b's "Found, not fixed": `card_recharge_found_on_card` (V163's) locked the operation, then
-- the account (`FOR UPDATE`, its balance); `card_operation_settle` (V165) takes a pending
-- operation's account first, then the operation, as every customer write and a card begin do.
-- The two met when a third desk settled the operation failed between a settle's read and its
-- lock: each held what the other waited for, and PostgreSQL ended one of them (`40P01`). The
-- account is now taken first here too, by the operation's customer (whose account the money
-- moves on: one account a customer), in a statement of its own before the operation's lock.
-- Nothing else changes: the same arguments, checks, refusals, rows and answer. A caller that
-- already holds the account (`card_recharge_owed_pay`: its deposit's ledger_post took it)
-- waits for nothing more.
--
-- Re-runnable on its own result (tests/two_desks.rs runs V109 and what follows it again).

CREATE OR REPLACE FUNCTION card_recharge_found_on_card(p_operation_id bigint, p_purchase_record bytea)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    op card_operation;
    paid ledger_transaction;
    held numeric;
    purchase bigint;
    owed_receipt bigint;
BEGIN
    PERFORM md_require('card.read');
    -- The account before the operation (V165's order).
    PERFORM FROM account a
    WHERE a.customer_id = (SELECT o.customer_id FROM card_operation o WHERE o.id = p_operation_id)
    FOR UPDATE;
    SELECT * INTO op FROM card_operation WHERE id = p_operation_id FOR UPDATE;
    IF NOT FOUND OR op.kind <> 'recharge' OR op.state <> 'failed'
       OR op.purchase_record_after IS DISTINCT FROM p_purchase_record THEN
        RAISE EXCEPTION 'permission denied: only a failed recharge whose journaled record is on the card is settled from it'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO paid FROM ledger_transaction WHERE id = op.transaction_id;
    SELECT balance INTO held FROM account WHERE id = paid.account_id FOR UPDATE;
    IF held < -paid.amount THEN
        RETURN false;
    END IF;
    -- Its debt paid just now (`card_recharge_owed_pay`): the water goes on that receipt with
    -- the money that bought it, which then says the balance the two left.
    SELECT t.receipt_no INTO owed_receipt FROM ledger_transaction t
    WHERE t.idempotency_key = 'card-op:' || op.idempotency_key || ':owed';
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price, operator_id,
                                    receipt_no, idempotency_key)
    VALUES (paid.account_id, 'card_purchase', paid.amount, paid.volume, paid.unit_price,
            current_operator_id(), owed_receipt, 'card-op:' || op.idempotency_key || ':found')
    RETURNING id INTO purchase;
    UPDATE card_operation SET state = 'done', transaction_id = purchase, failure_reason = NULL,
                              finished_at = now()
    WHERE id = op.id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.found_on_card', 'card_operation', op.id,
            jsonb_build_object('customer_id', op.customer_id, 'purchase_seq', op.purchase_seq,
                               'amount', -paid.amount));
    RETURN true;
END $$;
