-- A recharge settled failed from a card that held the old purchase record — an old copy of the
-- card, brought back while the card that took the write stays at home — whose new record then
-- turns up on a card (db::card_ops::reconcile). The record is the one the database journaled
-- for the operation (its MAC included), so this desk wrote it and a meter will load it: the
-- water is the customer's, and the money the failure put on the balance pays for it again.
-- Settled done here, with the money taken back from the balance in a new purchase row of the
-- same water (the first one and its reversal stay: the ledger is history); `false` when the
-- balance no longer covers it, with nothing changed (a supervisor's case: the reconciliation
-- audits it). The desk's word is only that the card holds the journaled record, which moves
-- the customer's own balance to water already sold; docs/decisions.md, "A failed recharge
-- found on its card".
CREATE FUNCTION card_recharge_found_on_card(p_operation_id bigint, p_purchase_record bytea)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    op card_operation;
    paid ledger_transaction;
    held numeric;
    purchase bigint;
BEGIN
    PERFORM md_require('card.read');
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
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price, operator_id,
                                    idempotency_key)
    VALUES (paid.account_id, 'card_purchase', paid.amount, paid.volume, paid.unit_price,
            current_operator_id(), 'card-op:' || op.idempotency_key || ':found')
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
