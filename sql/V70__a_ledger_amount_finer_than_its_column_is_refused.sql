-- A ledger amount is exact to the cent, or refused (docs/decisions.md, "A ledger amount finer
-- than its column is refused"). ledger_post's parameters are plain numeric and its row's
-- columns are numeric(14,2), (12,3), (10,4): a deposit of 10.001 sent from psql with a clerk's
-- own role was stored as 10.00 without a word (found in session 28). The desk never sends one
-- (its Money, Volume and UnitPrice have the columns' scales), so nothing it does changes; a
-- caller whose figure does not fit is now told so and nothing is written. Restated whole from
-- V34 with the check first; every other line is V34's.
CREATE OR REPLACE FUNCTION ledger_post(
    p_account_id bigint, p_kind text, p_amount numeric, p_volume numeric, p_unit_price numeric,
    p_payment_method_code text, p_receipt_no bigint, p_idempotency_key text,
    p_reverses_id bigint DEFAULT NULL, p_bill_id bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    posted bigint;
BEGIN
    IF p_amount <> round(p_amount, 2) OR p_volume <> round(p_volume, 3)
       OR p_unit_price <> round(p_unit_price, 4) THEN
        RAISE EXCEPTION 'a ledger row holds an amount in cents, a volume in litres and a unit price to 4 decimals: % / % / % does not fit',
            p_amount, p_volume, p_unit_price USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    CASE p_kind
        WHEN 'card_purchase' THEN PERFORM md_require('card.recharge');
        WHEN 'card_refund' THEN PERFORM md_require('card.refund');
        WHEN 'deposit' THEN PERFORM md_require('account.deposit');
        WHEN 'refund' THEN
            IF NOT EXISTS (SELECT FROM card_operation o JOIN ledger_transaction t ON t.id = o.transaction_id
                           WHERE o.kind = 'refund' AND o.state = 'pending'
                             AND p_idempotency_key = 'card-op:' || o.idempotency_key || ':payout'
                             AND t.account_id = p_account_id AND p_amount = -t.amount) THEN
                PERFORM md_require('account.refund');
            END IF;
        WHEN 'bill_payment' THEN
            -- V34: an operator pays bills with bill_pay (V18, V22), at their amounts, marking
            -- them paid; a row of any amount that leaves the bill unpaid is not theirs to post.
            IF current_operator_id() IS NOT NULL THEN
                RAISE EXCEPTION 'permission denied: bills are paid by bill_pay, at their amounts'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            PERFORM md_require('account.pay_bills');
            IF NOT EXISTS (SELECT FROM bill WHERE id = p_bill_id AND account_id = p_account_id) THEN
                RAISE EXCEPTION 'bill % is not a bill of account %', p_bill_id, p_account_id
                    USING ERRCODE = 'check_violation';
            END IF;
        WHEN 'reversal' THEN
            IF NOT EXISTS (SELECT FROM card_operation
                           WHERE transaction_id = p_reverses_id AND state = 'pending') THEN
                PERFORM md_require('account.reverse');
            END IF;
        ELSE
            RAISE EXCEPTION 'permission denied: no operator posts % to the ledger', p_kind
                USING ERRCODE = 'insufficient_privilege';
    END CASE;
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price,
                                    payment_method_code, receipt_no, operator_id,
                                    idempotency_key, reverses_id, bill_id)
    VALUES (p_account_id, p_kind, p_amount, p_volume, p_unit_price, p_payment_method_code,
            p_receipt_no, current_operator_id(), p_idempotency_key, p_reverses_id, p_bill_id)
    RETURNING id INTO posted;
    RETURN posted;
END $$;
