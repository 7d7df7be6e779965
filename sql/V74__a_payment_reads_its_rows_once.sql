-- A payment of bills reads its rows once (docs/decisions.md, "Money at the counter and the
-- meters in stock, read once (s29-d)"). Every check is the one it was, with the same refusal
-- and message, in the same order; what changes is how often a row is read to make it.
--
--  * bill_pay checked that the receipt pays no other bills with a scan of every payment ever
--    made (bill_payment_applied had no index on receipt_no): now an index look-up.
--  * bill_pay locked the bills, then read them twice more (any not unpaid, their sum): one
--    statement now locks them and answers both, from the rows it locked. It then read them
--    again to post their ledger rows and once more to mark them paid: the bills marked paid
--    now hand their rows to the ledger's INSERT (one statement, the rows in V54's order). The
--    account's customer, read twice (the audit entry, a receipt of its own), is read with the
--    account's lock. Everything else is V54's.

CREATE INDEX bill_payment_applied_receipt ON bill_payment_applied (receipt_no);

CREATE OR REPLACE FUNCTION bill_pay(p_key text, p_bill_ids bigint[], p_total numeric, p_receipt bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    receipt bigint;
    acct bigint;
    customer bigint;
    changed boolean;
    total numeric;
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
    SELECT customer_id INTO customer FROM account WHERE id = acct FOR UPDATE;
    -- The locked rows are the bills as they are now (a row changed meanwhile is read again).
    SELECT bool_or(b.status <> 'unpaid'), sum(b.amount) INTO changed, total
    FROM (SELECT status, amount FROM bill WHERE id = ANY (p_bill_ids) ORDER BY id FOR UPDATE) b;
    IF changed OR total <> p_total THEN
        RAISE EXCEPTION 'these bills were paid, voided or changed meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
    IF p_receipt IS NULL THEN
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), customer, current_operator_id())
        RETURNING receipt_no INTO receipt;
    ELSIF EXISTS (SELECT FROM receipt r
                  WHERE r.receipt_no = p_receipt AND r.customer_id = customer
                    AND r.operator_id = current_operator_id() AND r.issued_at = now())
          AND NOT EXISTS (SELECT FROM bill_payment_applied WHERE receipt_no = p_receipt) THEN
        receipt := p_receipt;
    ELSE
        RAISE EXCEPTION 'receipt % is not one this payment took for this customer', p_receipt
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO bill_payment_applied VALUES (p_key, receipt);
    WITH paid AS (
        UPDATE bill SET status = 'paid', paid_at = now() WHERE id = ANY (p_bill_ids)
        RETURNING id, amount, volume, period_start)
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, receipt_no, operator_id,
                                    idempotency_key, bill_id)
    SELECT acct, 'bill_payment', -b.amount, nullif(b.volume, 0), receipt, current_operator_id(),
           p_key || ':bill:' || b.id, b.id
    FROM paid b WHERE b.amount > 0
    ORDER BY b.period_start, b.id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'bill.pay', 'customer', customer,
            jsonb_build_object('after', jsonb_build_object('bills', p_bill_ids, 'receipt_no', receipt)));
    RETURN receipt;
END $$;
