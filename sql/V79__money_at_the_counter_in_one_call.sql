-- Money at the counter in one call (issue 14; decision: docs/decisions.md, "Money at the counter
-- in one call (s30-d)"). A recharge, a deposit (paying bills or not) or a refund was nine round
-- trips: BEGIN with the key's lock and look-up, the account locked and checked, the receipt's
-- INSERT, ledger_post, the audit entry, bill_pay, COMMIT, then the receipt read back in two
-- statements. money_move makes the same statements, in the same order, in one call: one
-- statement, its own transaction, one round trip; it answers the receipt as recorded.
--
-- money_move is SECURITY INVOKER: it runs as the operator who calls it, so every guard, trigger
-- and check that refused a statement of the desk's refuses it here, with the same message
-- (receipt's guard and rules, ledger_post's permission, the closed account, the balance's CHECK,
-- the audit entry's truth, bill_pay's). It grants nothing an operator could not do with the
-- statements it makes; the desk's own refusals (no such customer, closed, a card meter, not
-- positive, a method the customer's type does not take, a refund above the balance) are
-- answered as a row, as the desk decided them, and write nothing.

-- A receipt as recorded, one row per ledger row in their order, each with the receipt's header
-- and the balance right after its last row (what db::receipts read in two statements).
CREATE TYPE receipt_line AS (
    receipt_no bigint,
    issued_at timestamptz,
    reprints integer,
    operator text,
    customer_no bigint,
    name text,
    business_model text,
    meter_no text,
    balance_after numeric,
    kind text,
    amount numeric,
    volume numeric,
    unit_price numeric,
    method_code text,
    method text,
    cycle date);

-- Inlined into the statement that calls it (LANGUAGE sql, STABLE, no SET): the rows are read
-- with the caller's rights, as the desk read them.
CREATE FUNCTION receipt_read(p_receipt_no bigint) RETURNS SETOF receipt_line
LANGUAGE sql STABLE AS $$
    WITH lines AS MATERIALIZED (
        SELECT t.id, CASE WHEN s.card_no IS NULL THEN t.kind ELSE 'clear_card_credit' END AS kind,
               t.amount, t.volume, t.unit_price, p.code AS method_code, p.name AS method,
               b.period_start AS cycle
        FROM public.ledger_transaction t
        LEFT JOIN public.payment_method p ON p.code = t.payment_method_code
        LEFT JOIN public.bill b ON b.id = t.bill_id
        LEFT JOIN public.system_card s ON s.credited_transaction_id = t.id
        WHERE t.receipt_no = p_receipt_no),
    header AS MATERIALIZED (
        SELECT r.receipt_no, r.issued_at, r.reprints, o.full_name AS operator, c.customer_no,
               c.name, c.business_model, m.meter_no,
               (SELECT sum(t.amount) FROM public.ledger_transaction t
                WHERE t.account_id = a.id AND t.id <= (SELECT max(l.id) FROM lines l))
                   AS balance_after
        FROM public.receipt r
        JOIN public.operator o ON o.id = r.operator_id
        JOIN public.customer c ON c.id = r.customer_id
        JOIN public.meter m ON m.id = c.meter_id
        JOIN public.account a ON a.customer_id = c.id
        WHERE r.receipt_no = p_receipt_no)
    SELECT h.receipt_no, h.issued_at, h.reprints, h.operator, h.customer_no, h.name,
           h.business_model, h.meter_no, h.balance_after, l.kind, l.amount, l.volume,
           l.unit_price, l.method_code, l.method, l.cycle
    FROM header h CROSS JOIN lines l
    ORDER BY l.id
$$;

-- What money_move answered: a refusal of the desk's (no line), or the ledger row of the key —
-- its kind and customer, for the desk to tell a key reused for another movement — with each
-- line of its receipt.
CREATE TYPE money_moved AS (
    refusal text,
    moved_kind text,
    moved_customer_id bigint,
    line receipt_line);

-- Moves p_amount (positive) in (p_kind 'deposit') or out ('refund', paid out by p_method) of
-- p_customer_id's account once under p_key, and pays p_bill_ids (if given, still coming to
-- p_bills_total) on its receipt under p_key || ':bills'. The statements are the desk's (V79's
-- header); the key's ledger row is the record of exactly-once: found, nothing is written and its
-- receipt is the answer.
CREATE FUNCTION money_move(p_key text, p_customer_id bigint, p_kind text, p_amount numeric,
                           p_method text, p_bill_ids bigint[], p_bills_total numeric)
RETURNS SETOF money_moved
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    receipt bigint;
    moved_kind text;
    moved_customer bigint;
    acct bigint;
    acct_balance numeric;
    model text;
    acct_status text;
    method_allowed boolean;
    signed numeric := CASE p_kind WHEN 'refund' THEN -p_amount ELSE p_amount END;
    posted bigint;
BEGIN
    -- A NULL kind is no kind; bills are paid by a deposit only, as the account screen pays them.
    IF p_kind IS NULL OR p_kind NOT IN ('deposit', 'refund') THEN
        RAISE EXCEPTION 'money_move moves a deposit or a refund, not %', coalesce(p_kind, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF p_kind = 'refund' AND p_bill_ids IS NOT NULL THEN
        RAISE EXCEPTION 'a refund pays no bills' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A re-send waits for an attempt still running on a connection the desk lost (class 9:
    -- db::applied_write's), then sees whether it committed.
    PERFORM pg_advisory_xact_lock(9, hashtext(p_key));
    SELECT t.receipt_no, t.kind, a.customer_id INTO receipt, moved_kind, moved_customer
    FROM ledger_transaction t JOIN account a ON a.id = t.account_id
    WHERE t.idempotency_key = p_key;
    IF NOT FOUND THEN
        -- Concurrent movements of the account queue behind its lock.
        SELECT a.id, a.balance, c.business_model, c.status,
               EXISTS (SELECT FROM customer_type_payment_method m
                       JOIN payment_method p ON p.code = m.payment_method_code
                       WHERE m.customer_type_id = c.customer_type_id AND p.enabled
                         AND p.code = p_method)
        INTO acct, acct_balance, model, acct_status, method_allowed
        FROM account a JOIN customer c ON c.id = a.customer_id
        WHERE c.id = p_customer_id FOR UPDATE OF a;
        RETURN QUERY SELECT refused, NULL::text, NULL::bigint, NULL::receipt_line
            FROM (SELECT CASE
                      WHEN acct IS NULL THEN 'no_such_customer'
                      WHEN acct_status = 'closed' THEN 'closed'
                      WHEN model = 'meter_prepaid' THEN 'card_meter'
                      WHEN p_amount <= 0 THEN 'not_positive'
                      WHEN NOT method_allowed THEN 'method_not_allowed'
                      WHEN p_kind = 'refund' AND p_amount > acct_balance THEN 'above_balance'
                  END AS refused) r
            WHERE refused IS NOT NULL;
        IF FOUND THEN
            RETURN;
        END IF;
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), p_customer_id, current_operator_id())
        RETURNING receipt_no INTO receipt;
        posted := ledger_post(acct, p_kind, signed, NULL, NULL, p_method, receipt, p_key);
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (current_operator_id(), 'account.' || p_kind, 'customer', p_customer_id,
                jsonb_build_object('amount', signed, 'method', p_method, 'receipt_no', receipt,
                                   'transaction_id', posted));
        IF p_bill_ids IS NOT NULL THEN
            PERFORM bill_pay(p_key || ':bills', p_bill_ids, p_bills_total, receipt);
        END IF;
        moved_kind := p_kind;
        moved_customer := p_customer_id;
    END IF;
    RETURN QUERY SELECT NULL::text, moved_kind, moved_customer, line
        FROM receipt_read(receipt) line;
END $$;
