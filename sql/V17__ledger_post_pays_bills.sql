-- Money at the counter (issue 12). The counter's recharges, deposits and refunds go through
-- ledger_post as V13 made it (account.deposit, account.refund; the account's balance >= 0
-- CHECK refuses a refund above the balance). What V13's ledger_post could not post is a bill
-- payment: ledger_transaction requires bill_id exactly for kind bill_payment, and ledger_post
-- took none. It now takes the bill as a last, optional argument (calls with 8 or 9 arguments
-- mean what they meant), and refuses a payment of a bill of another account: the permission
-- (account.pay_bills) is the operator's, the bill must be the account's. Marking the bill paid
-- is the bills' own function (bill is not writable by operators).

DROP FUNCTION ledger_post(bigint, text, numeric, numeric, numeric, text, bigint, text, bigint);

CREATE FUNCTION ledger_post(
    p_account_id bigint, p_kind text, p_amount numeric, p_volume numeric, p_unit_price numeric,
    p_payment_method_code text, p_receipt_no bigint, p_idempotency_key text,
    p_reverses_id bigint DEFAULT NULL, p_bill_id bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    posted bigint;
BEGIN
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

-- As V13 did for every function of the owner: the operators', not everyone's.
DO $$
BEGIN
    REVOKE EXECUTE ON FUNCTION ledger_post(bigint, text, numeric, numeric, numeric, text, bigint,
                                           text, bigint, bigint) FROM PUBLIC;
    EXECUTE format('GRANT EXECUTE ON FUNCTION ledger_post(bigint, text, numeric, numeric, numeric,
                        text, bigint, text, bigint, bigint) TO %I', md_role_name('operator'));
END $$;
