-- A card recharge's money and journal in one call (issue 14: 64 desks on one server). The desk
-- (db::card_ops::begin, Journal::recharge) sent four statements one after another, each waiting
-- for the last's answer: the receipt, the ledger rows under its number, the operation under the
-- purchase's row, its audit entry. This function runs the same statements in the same order in
-- one round trip, with the caller's rights (SECURITY INVOKER, not the owner's): the column
-- privileges and row triggers of V31, ledger_post's permission check (V17), the receipt number
-- the session drew, and the checks at commit of V31/V32 (the operation carries its money, the
-- recharge pays the price in force, the audit entry tells a write this transaction made) apply
-- exactly as to the statements sent one by one. It writes no audit action of its own: the entry
-- is the desk's card.recharge, as before. Decision: docs/decisions.md, "A card recharge in
-- fewer round trips".
CREATE FUNCTION card_recharge_journal(
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    OUT operation_id bigint, OUT receipt_no bigint
)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    purchase bigint;
BEGIN
    INSERT INTO receipt (receipt_no, customer_id, operator_id)
    VALUES (nextval('receipt_no_seq'), p_customer_id, p_operator_id)
    RETURNING receipt.receipt_no INTO card_recharge_journal.receipt_no;
    -- Paid at the counter: the money comes in on the receipt before the purchase takes it.
    IF p_payment_method_code IS NOT NULL THEN
        PERFORM ledger_post(p_account_id, 'deposit', p_amount, NULL, NULL, p_payment_method_code,
                            card_recharge_journal.receipt_no,
                            'card-op:' || p_idempotency_key || ':deposit');
    END IF;
    purchase := ledger_post(p_account_id, 'card_purchase', -p_amount, p_volume, p_unit_price,
                            NULL, card_recharge_journal.receipt_no,
                            'card-op:' || p_idempotency_key || ':purchase');
    INSERT INTO card_operation (customer_id, card_id, kind, purchase_seq, volume_litres,
                                issue_record_before, issue_record_after, purchase_record_before,
                                purchase_record_after, transaction_id, idempotency_key,
                                operator_id, plan, payment_method_code)
    VALUES (p_customer_id, p_card_id, 'recharge', p_purchase_seq, p_volume_litres,
            p_issue_record_before, p_issue_record_after, p_purchase_record_before,
            p_purchase_record_after, purchase, p_idempotency_key, p_operator_id, p_plan,
            p_payment_method_code)
    RETURNING card_operation.id INTO card_recharge_journal.operation_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (p_operator_id, 'card.recharge', 'card_operation', card_recharge_journal.operation_id,
            jsonb_build_object('customer_id', p_customer_id, 'card_no', p_card_no));
END $$;
