-- A payment posts its bills in one statement (docs/decisions.md, "Bills paid in one statement;
-- the reading's costs counted, its check kept (s25-a)"). bill_pay (V22, V48) looped over the
-- bills: one INSERT into ledger_transaction and one UPDATE of bill per bill. Every INSERT into
-- the ledger fires its statement triggers once (V21's shift opening, V24's closed-account check,
-- V31's checks of what was posted, each a query over the transition table), so a payment of
-- n bills ran them n times. In the soak (64 desks, pg_stat_statements, track = all) the
-- ledger INSERT of bill_pay was 2.6 ms a call at load ~30, 1.37 calls a payment.
--  * The bills' ledger rows are one INSERT … SELECT, in the loop's order (period_start, id:
--    the ledger ids come out in that order, as before), skipping a bill of 0.00 as the loop
--    did; the bills are marked paid by one UPDATE.
--  * Everything else is V22's: the permission, the key, the account first (V42), the bills
--    locked in id order and checked unpaid and at the clerk's total, the receipt's checks, the
--    idempotency row, the audit entry, the errors. A balance that does not cover the bills
--    still fails on account_balance_check (each row lowers it; the last is the total).

CREATE OR REPLACE FUNCTION bill_pay(p_key text, p_bill_ids bigint[], p_total numeric, p_receipt bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    receipt bigint;
    acct bigint;
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
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, receipt_no, operator_id,
                                    idempotency_key, bill_id)
    SELECT acct, 'bill_payment', -b.amount, nullif(b.volume, 0), receipt, current_operator_id(),
           p_key || ':bill:' || b.id, b.id
    FROM bill b WHERE b.id = ANY (p_bill_ids) AND b.amount > 0
    ORDER BY b.period_start, b.id;
    UPDATE bill SET status = 'paid', paid_at = now() WHERE id = ANY (p_bill_ids);
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'bill.pay', 'customer',
            (SELECT customer_id FROM account WHERE id = acct),
            jsonb_build_object('after', jsonb_build_object('bills', p_bill_ids, 'receipt_no', receipt)));
    RETURN receipt;
END $$;
