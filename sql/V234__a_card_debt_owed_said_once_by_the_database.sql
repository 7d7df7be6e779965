-- A card debt owed, said once by the database (s44-c; docs/decisions.md, "One \"card debt
-- owed\" in the database…").
--
-- s43-c's "Found, not fixed": the desk said "a debt still owed" once (`card_ops::STILL_OWED`,
-- its recharge's state probed by key), but the database's functions each spelled it their own
-- way: the payment (`card_recharge_owed_pay`, V163), the transfer's and the close's checks
-- (`customer_transfer_waits`, V183; `customer_close_blocker`, V184) joined the recharge on
-- `state = 'failed'`, and the arrears by age (`report_arrears_by_age`, V194) asked "owed at the
-- end of a day" with a join and a condition of its own.
--
-- `card_debts_owed(p_at)` is the one definition: the debts (rows of `card_recharge_owed`) owed
-- at the instant `p_at` — found before it, their recharge still failed then: failed now, or
-- settled done (the debt paid, by `card_recharge_owed_pay` or from the balance by V41's
-- `card_recharge_found_on_card`, both setting `finished_at` to that moment) at or after it.
-- Without `p_at` ('infinity'): the debts still owed, never paid. Its recharge is probed by key
-- (a subquery on `card_operation`'s primary key per debt), never joined: a read of every debt
-- (`:arrears`, the arrears by age) reads the few debts, not the card operations (s41-a's and
-- s43-c's measured plans).
--
-- It is an inlinable set-returning SQL function: LANGUAGE sql, STABLE, not SECURITY DEFINER,
-- no SET clause, one SELECT. Called in a FROM clause, PostgreSQL plans its SELECT in the
-- caller's query (the customer's condition of the caller reaches the debts' index); it runs
-- with the caller's rights (an operator reads both tables, V13). Its tables are named with
-- their schema: the inlined body is parsed under the caller's search_path.
--
-- The desk's reads (the quote, the customer table, the details, `:arrears`, the transfer's and
-- the close's facts) read it too (`card_ops::DEBTS_STILL_OWED`). Left as they are: the
-- recharge's refusal MD430 (`ledger_money_checked_at_commit`, V201) and the debt's payment
-- among a card meter's ledger rows (`ledger_posted`, V163): ledger triggers a recharge fires,
-- which branch s44-f may replace this session.
--
-- Re-runnable (tests/two_desks.rs): CREATE OR REPLACE, every body V-newest but for the debt.

CREATE OR REPLACE FUNCTION card_debts_owed(p_at timestamptz DEFAULT 'infinity')
RETURNS SETOF card_recharge_owed
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT w.*
    FROM public.card_recharge_owed w
    WHERE w.found_at < p_at
      AND (SELECT s.state = 'failed' OR (s.state = 'done' AND s.finished_at >= p_at)
           FROM public.card_operation s WHERE s.id = w.operation_id)
$$;

-- V163's payment of a debt, the debt read by `card_debts_owed`; otherwise unchanged.
CREATE OR REPLACE FUNCTION card_recharge_owed_pay(p_operation_id bigint,
                                                  p_payment_method_code text,
                                                  OUT receipt_no bigint, OUT amount numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    op card_operation;
    account_id bigint;
BEGIN
    PERFORM md_require('card.recharge');
    SELECT o.* INTO op FROM card_debts_owed() w
    JOIN card_operation o ON o.id = w.operation_id
    WHERE w.operation_id = p_operation_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: recharge % owes nothing', p_operation_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT w.amount INTO card_recharge_owed_pay.amount
    FROM card_recharge_owed w WHERE w.operation_id = op.id;
    SELECT a.id INTO account_id FROM account a WHERE a.customer_id = op.customer_id;
    -- A method the customer's type takes, as a recharge's journal asks it (V107's words).
    IF NOT EXISTS (SELECT FROM customer c
                   JOIN customer_type_payment_method m ON m.customer_type_id = c.customer_type_id
                   JOIN payment_method p ON p.code = m.payment_method_code
                   WHERE c.id = op.customer_id AND p.code = p_payment_method_code
                     AND p.enabled) THEN
        RAISE EXCEPTION 'payment method % is not one the customer''s type takes (or it is disabled)',
            p_payment_method_code USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO receipt (receipt_no, customer_id, operator_id)
    VALUES (nextval('receipt_no_seq'), op.customer_id, current_operator_id())
    RETURNING receipt.receipt_no INTO card_recharge_owed_pay.receipt_no;
    PERFORM ledger_post(account_id, 'deposit', card_recharge_owed_pay.amount, NULL, NULL,
                        p_payment_method_code, card_recharge_owed_pay.receipt_no,
                        'card-op:' || op.idempotency_key || ':owed');
    IF NOT card_recharge_found_on_card(op.id, op.purchase_record_after) THEN
        RAISE EXCEPTION 'recharge %: its debt paid, the balance still does not cover it', op.id;
    END IF;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.owed_paid', 'card_operation', op.id,
            jsonb_build_object('customer_id', op.customer_id,
                               'receipt_no', card_recharge_owed_pay.receipt_no,
                               'amount', card_recharge_owed_pay.amount));
END $$;

-- V183's transfer check, the debts read by `card_debts_owed`; otherwise unchanged.
CREATE OR REPLACE FUNCTION customer_transfer_waits() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    unpaid bigint;
    owed numeric;
    pending card_operation;
BEGIN
    PERFORM FROM account a WHERE a.customer_id = NEW.customer_id FOR NO KEY UPDATE;
    SELECT count(*) INTO unpaid
    FROM account a JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
    WHERE a.customer_id = NEW.customer_id;
    IF unpaid > 0 THEN
        RAISE EXCEPTION 'customer % has % unpaid bills: they are paid before a transfer',
            NEW.customer_id, unpaid
            USING ERRCODE = 'MD421';
    END IF;
    SELECT sum(w.amount) INTO owed
    FROM card_debts_owed() w
    WHERE w.customer_id = NEW.customer_id;
    IF owed IS NOT NULL THEN
        RAISE EXCEPTION 'customer % owes % for water a meter loaded unpaid: paid before a transfer (card_recharge_owed_pay, with the next recharge)',
            NEW.customer_id, owed
            USING ERRCODE = 'MD431';
    END IF;
    SELECT o.* INTO pending FROM card_operation o
    WHERE o.customer_id = NEW.customer_id AND o.state = 'pending';
    IF FOUND THEN
        RAISE EXCEPTION 'card operation % (%) of customer % is pending: the customer is transferred once it is settled',
            pending.id, pending.kind, NEW.customer_id
            USING ERRCODE = 'MD420';
    END IF;
    RETURN NEW;
END $$;

-- V184's close blocker, the debts read by `card_debts_owed`; otherwise unchanged.
CREATE OR REPLACE FUNCTION customer_close_blocker(p_customer_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT CASE
        WHEN c.id IS NULL THEN 'not_found'
        WHEN c.status = 'closed' THEN 'already_closed'
        WHEN EXISTS (SELECT FROM card_operation o
                     WHERE o.customer_id = c.id AND o.state = 'pending') THEN 'card_pending'
        WHEN c.business_model <> 'meter_prepaid'
             AND (SELECT source FROM reading_latest(c.meter_id)) IS DISTINCT FROM 'final'
            THEN 'final_reading'
        WHEN EXISTS (SELECT FROM bill b
                     WHERE b.account_id = a.id AND b.status = 'unpaid') THEN 'unpaid_bills'
        WHEN EXISTS (SELECT FROM card_debts_owed() w WHERE w.customer_id = c.id) THEN 'water_owed'
        WHEN a.balance < 0 THEN 'balance_owed'
        WHEN a.balance > 0 THEN 'balance_left'
        WHEN EXISTS (SELECT FROM card k
                     WHERE k.customer_id = c.id AND k.state = 'active') THEN 'card_active'
    END
    FROM (SELECT p_customer_id AS id) AS asked
    LEFT JOIN customer c ON c.id = asked.id
    LEFT JOIN account a ON a.customer_id = c.id
$$;

-- V194's arrears by age, the card debts owed at the day's end read by `card_debts_owed`;
-- otherwise unchanged.
CREATE OR REPLACE FUNCTION report_arrears_by_age(p_day date, p_offset_secs integer)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric, card_debts bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    zone constant interval := make_interval(secs => p_offset_secs);
    day_end constant timestamptz := (p_day + 1)::timestamp AT TIME ZONE zone;
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT bucket.age, count(o.account_id) FILTER (WHERE o.bill), count(DISTINCT o.account_id),
           coalesce(sum(o.amount), 0), count(o.account_id) FILTER (WHERE NOT o.bill)
    FROM (VALUES ('0-30', 0, 30), ('31-90', 31, 90), ('90+', 91, NULL)) bucket(age, low, high)
    LEFT JOIN LATERAL (
        -- V90's bills, as they stood at the day's end.
        SELECT true AS bill, u.account_id, u.amount,
               greatest(p_day - coalesce(u.due_date, (u.issued_at AT TIME ZONE zone)::date), 0)
                   AS days
        FROM bill u
        WHERE u.issued_at < day_end
          AND CASE u.status WHEN 'unpaid' THEN true
                            WHEN 'paid' THEN u.paid_at >= day_end
                            ELSE u.voided_at >= day_end END
        UNION ALL
        -- The card debts owed at the day's end.
        SELECT false, a.id, w.amount,
               greatest(p_day - (w.found_at AT TIME ZONE zone)::date, 0)
        FROM card_debts_owed(day_end) w
        JOIN account a ON a.customer_id = w.customer_id) o
        ON o.days >= bucket.low AND (bucket.high IS NULL OR o.days <= bucket.high)
    GROUP BY bucket.age, bucket.low ORDER BY bucket.low;
END $$;
