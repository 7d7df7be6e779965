-- A supervisor's card refund for the owner the card screen showed (s36-h; docs/decisions.md,
-- "A card refund for the owner the card screen showed").
--
-- s36-a's "found, not fixed": a card refund (a purchase the meter has not loaded, cancelled and
-- paid back: onto the balance at its begin, paid out with the method once the card shows it
-- cancelled) was journaled for whoever owned the customer when it took the account: another
-- desk's transfer meanwhile sent the money back to the new owner's balance, or out to the
-- counter, while the supervisor's confirmation named the old one.
--
-- One check for both card operations that move money: `customer_owner_unchanged` refuses with
-- SQLSTATE MD410 (V110's, bill_pay_for's, V112's) when `p_owner_seen` is given and the customer
-- has another owner now. The caller holds the account's lock, taken in an earlier statement, so
-- the check sees a transfer that held the account and committed. `card_recharge_journal` now
-- calls it instead of V112's own copy (unchanged otherwise); a refund's begin (db::card_ops,
-- `Journal::refund`) calls it before anything of the refund is written. Both are replaced if
-- they are there: the step runs again unchanged (tests/two_desks.rs runs V109 and what follows
-- it again).

CREATE OR REPLACE FUNCTION customer_owner_unchanged(p_customer_id bigint, p_owner_seen bigint)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_owner_seen IS NOT NULL
       AND customer_owner_seen(p_customer_id) IS DISTINCT FROM p_owner_seen THEN
        RAISE EXCEPTION 'the customer was transferred to another owner since it was read'
            USING ERRCODE = 'MD410';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION card_recharge_journal(
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint DEFAULT NULL, p_meter_generation smallint DEFAULT NULL,
    p_owner_seen bigint DEFAULT NULL,
    OUT operation_id bigint, OUT receipt_no bigint
)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    purchase bigint;
BEGIN
    -- Behind the account's lock, which the caller took in an earlier statement: a transfer
    -- that held the account has committed, and this statement sees it.
    PERFORM customer_owner_unchanged(p_customer_id, p_owner_seen);
    -- NOTE_METER_STATE's statement: a write-back seen before changes nothing (no new row
    -- version, no row trigger); `meter_read_at` is when the highest one was first read.
    IF p_meter_loaded_seq IS NOT NULL THEN
        UPDATE card SET meter_loaded_seq = GREATEST(meter_loaded_seq, p_meter_loaded_seq),
                        meter_generation = GREATEST(meter_generation, p_meter_generation),
                        meter_read_at = CASE WHEN meter_loaded_seq >= p_meter_loaded_seq
                                             THEN meter_read_at ELSE now() END
        WHERE card_no = p_card_no
          AND (meter_loaded_seq IS NULL OR meter_loaded_seq < p_meter_loaded_seq
               OR meter_generation IS NULL OR meter_generation < p_meter_generation);
    END IF;
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
