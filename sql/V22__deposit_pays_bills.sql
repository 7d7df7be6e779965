-- A deposit at the counter pays the chosen bills in the same step (issue 12, "Money at the
-- counter"): one transaction posts the deposit on a receipt and pays the bills on that same
-- receipt, so the customer gets one paper for both. bill_pay gains the receipt to use; the
-- three-argument form keeps making its own. The receipt handed in must be one this operator
-- took in this very transaction (issued now(), by them) for the bills' customer, and not yet
-- used for bills: a receipt cannot be borrowed from another payment.

CREATE FUNCTION bill_pay(p_key text, p_bill_ids bigint[], p_total numeric, p_receipt bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    receipt bigint;
    acct bigint;
    paying bill;
BEGIN
    PERFORM md_require('account.pay_bills');
    PERFORM pg_advisory_xact_lock(hashtext('bill_pay:' || p_key));
    SELECT receipt_no INTO receipt FROM bill_payment_applied WHERE idempotency_key = p_key;
    IF FOUND THEN
        RETURN receipt;
    END IF;
    SELECT min(account_id) INTO acct FROM bill WHERE id = ANY (p_bill_ids)
    HAVING count(DISTINCT account_id) = 1;
    IF acct IS NULL THEN
        RAISE EXCEPTION 'bills of one account, at least one, are paid together' USING ERRCODE = 'check_violation';
    END IF;
    PERFORM FROM account WHERE id = acct FOR UPDATE;
    PERFORM FROM bill WHERE id = ANY (p_bill_ids) ORDER BY id FOR UPDATE;
    IF EXISTS (SELECT FROM bill WHERE id = ANY (p_bill_ids) AND status <> 'unpaid')
       OR (SELECT sum(amount) FROM bill WHERE id = ANY (p_bill_ids)) <> p_total THEN
        RAISE EXCEPTION 'these bills were paid, voided or changed meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF p_receipt IS NULL THEN
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), (SELECT customer_id FROM account WHERE id = acct),
                current_operator_id())
        RETURNING receipt_no INTO receipt;
    ELSIF EXISTS (SELECT FROM receipt r JOIN account a ON a.customer_id = r.customer_id
                  WHERE r.receipt_no = p_receipt AND a.id = acct
                    AND r.operator_id = current_operator_id() AND r.issued_at = now())
          AND NOT EXISTS (SELECT FROM bill_payment_applied WHERE receipt_no = p_receipt) THEN
        receipt := p_receipt;
    ELSE
        RAISE EXCEPTION 'receipt % is not one this payment took for this customer', p_receipt
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO bill_payment_applied VALUES (p_key, receipt);
    FOR paying IN SELECT * FROM bill WHERE id = ANY (p_bill_ids) ORDER BY period_start, id LOOP
        IF paying.amount > 0 THEN
            INSERT INTO ledger_transaction (account_id, kind, amount, volume, receipt_no, operator_id,
                                            idempotency_key, bill_id)
            VALUES (acct, 'bill_payment', -paying.amount, nullif(paying.volume, 0), receipt,
                    current_operator_id(), p_key || ':bill:' || paying.id, paying.id);
        END IF;
        UPDATE bill SET status = 'paid', paid_at = now() WHERE id = paying.id;
    END LOOP;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'bill.pay', 'customer',
            (SELECT customer_id FROM account WHERE id = acct),
            jsonb_build_object('after', jsonb_build_object('bills', p_bill_ids, 'receipt_no', receipt)));
    RETURN receipt;
END $$;

CREATE OR REPLACE FUNCTION bill_pay(p_key text, p_bill_ids bigint[], p_total numeric)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT bill_pay(p_key, p_bill_ids, p_total, NULL) $$;

DO $$
BEGIN
    REVOKE EXECUTE ON FUNCTION bill_pay(text, bigint[], numeric, bigint) FROM PUBLIC;
    EXECUTE format('GRANT EXECUTE ON FUNCTION bill_pay(text, bigint[], numeric, bigint) TO %I',
                   md_role_name('operator'));
END $$;
