-- A counter operation asks each thing once (issue 14; docs/decisions.md, "A counter operation
-- asks each thing once (s37-b)"). Every check is the one it was, asked of the same user, in the
-- same order, with the same refusal and words; what goes is a second asking of what the same
-- call had just asked, behind the same locks:
--  * reading_enter (V113) asked the permission, took the key's lock, looked up the key and
--    locked the meter's account and meter (reading_lock), then called V105's
--    reading_enter_unchecked — a SECURITY DEFINER call with three SET clauses — which asked the
--    permission, took the key's lock, looked the key up and locked the meter AGAIN. Now the
--    first of each stays and the rest of V76's body (the meter's book, the refusals, the price,
--    the write) is reading_enter_book, a function without SET clauses or rights of its own that
--    runs inside its caller's (as reading_write_rows does); nobody else may call it.
--    reading_enter_after (V113) asked the same four things, then called reading_enter, which
--    asked them again and called reading_enter_unchecked for a third time: it now calls
--    reading_enter_book too, its litre check where reading_enter made it for it.
--  * money_move_for (V111) called current_operator_id() for the receipt and again for the audit
--    entry; bill_pay (V74) for its receipt check, for every bill it posted (an INSERT … SELECT
--    calls a STABLE function per row) and for its audit entry. Each asks it once now. The
--    receipt's and the audit entry's triggers still stamp who wrote them (V82's receipt_rules,
--    audit_log_stamp): a clerk's psql meets them as before.
--  * money_move (V111), an SQL function with a SET clause that planned its one statement at
--    every call, is PL/pgSQL: planned once a session.
-- CREATE OR REPLACE keeps the functions' owners and grants, their settings given again; re-runnable on its own
-- result (tests/two_desks.rs replays it).

-- V76's reading_enter after its reading_lock: the meter's book, the refusals, the price and
-- the write. Called by reading_enter and reading_enter_after (SECURITY DEFINER, the owner's,
-- plan_cache_mode = force_generic_plan) once they hold the permission, the key's lock and the
-- meter's locks and know the key unrecorded and the reading not already recorded; it checks
-- none of that itself, so nobody else may call it.
CREATE OR REPLACE FUNCTION reading_enter_book(p_key text, p_source text, p_meter_id bigint,
                                              p_read_on date, p_electronic numeric,
                                              p_mechanical numeric, p_rollover boolean,
                                              p_abnormal_confirmed boolean,
                                              OUT outcome text, OUT consumption numeric,
                                              OUT abnormal boolean, OUT bill numeric,
                                              OUT deducted numeric, OUT previous numeric,
                                              OUT previous_on date, OUT today date)
LANGUAGE plpgsql AS $$
DECLARE
    book record;
    slices md_slice[];
    priced record;
    unit_price numeric;
    bill_ref text;
    bills reading_write_bill[] := '{}';
BEGIN
    -- The meter's book, behind its locks; the recent consumptions as reading_write_is_marked
    -- counts them (the latest 6 that count, a void bill's not).
    SELECT c.id AS customer_id, a.id AS account_id, c.business_model, t.charges,
           s.id AS scheme_id, s.settlement_cycle_months IS NOT NULL AS settles,
           cycle.first_day, cycle.next_first_day, open_bill.id AS open_bill_id,
           latest.id AS latest_id, latest.read_on AS latest_on, p.previous, current_date AS today,
           recent.n, recent.total
    INTO book
    FROM public.meter m
    JOIN public.customer c ON c.meter_id = m.id AND c.status = 'active'
    JOIN public.customer_type t ON t.id = c.customer_type_id
    JOIN public.account a ON a.customer_id = c.id
    LEFT JOIN public.price_scheme s ON s.id = t.price_scheme_id
    LEFT JOIN LATERAL public.md_cycle(s.start_date, s.settlement_cycle_months, p_read_on) cycle
        ON s.settlement_cycle_months IS NOT NULL
    LEFT JOIN LATERAL (SELECT b.id FROM public.bill b
                       WHERE b.account_id = a.id AND b.status = 'unpaid'
                         AND b.period_start = cycle.first_day
                       ORDER BY b.id DESC LIMIT 1) open_bill ON true
    LEFT JOIN LATERAL public.reading_latest(m.id) latest ON true
    CROSS JOIN LATERAL public.reading_previous_value(m.id) AS p(previous)
    CROSS JOIN LATERAL (SELECT count(*) AS n, sum(h.consumption) AS total
                        FROM (SELECT r.consumption
                              FROM public.meter_reading r
                              LEFT JOIN public.bill b ON b.id = r.bill_id
                              WHERE r.meter_id = m.id AND b.status IS DISTINCT FROM 'void'
                              ORDER BY r.read_on DESC, r.id DESC
                              LIMIT 6) h) recent
    WHERE m.id = p_meter_id
    LIMIT 1;
    IF NOT FOUND THEN
        outcome := 'no_customer';
        RETURN;
    ELSIF book.business_model = 'meter_prepaid' THEN
        outcome := 'card_meter';
        RETURN;
    END IF;
    today := book.today;
    previous := book.previous;
    previous_on := book.latest_on;
    IF p_read_on > today THEN
        outcome := 'after_today';
        RETURN;
    ELSIF previous_on > p_read_on THEN
        outcome := 'before_previous';
        RETURN;
    ELSIF (p_electronic >= previous) = coalesce(p_rollover, false) THEN
        outcome := CASE WHEN p_rollover THEN 'not_a_rollover' ELSE 'below_previous' END;
        RETURN;
    END IF;
    consumption := public.md_consumption(previous, p_electronic)::numeric(12,3);
    abnormal := book.n > 0 AND consumption * book.n > 3 * book.total;
    IF abnormal AND NOT coalesce(p_abnormal_confirmed, false) THEN
        outcome := 'abnormal';
        RETURN;
    END IF;

    -- A type that does not charge (a statistical district meter's) records the water and
    -- nothing else (V37). Otherwise the reading is priced as reading_write_is_priced prices it:
    -- on the open bill of its settlement cycle, or a new one (postpaid), or deducted (system
    -- prepaid), after the customer's water charged before it.
    IF book.charges THEN
        IF book.settles THEN
            slices := CASE WHEN book.open_bill_id IS NULL THEN '{}'
                           ELSE public.md_water_on_bill(book.open_bill_id) END
                      || ROW(p_read_on, consumption)::md_slice;
        ELSE
            slices := ARRAY[ROW(p_read_on, consumption)::md_slice];
        END IF;
        -- Every slice has a price in force when the earliest has.
        IF NOT EXISTS (SELECT FROM public.price_version v
                       WHERE v.price_scheme_id = book.scheme_id
                         AND v.effective_from <= (SELECT min(s.read_on) FROM unnest(slices) s)) THEN
            outcome := 'no_price';
            RETURN;
        END IF;
        SELECT p.* INTO priced
        FROM public.md_price(book.scheme_id,
                             ARRAY(SELECT w FROM public.md_charged_water(book.customer_id,
                                                                         p_meter_id,
                                                                         book.account_id,
                                                                         book.open_bill_id) w),
                             slices) p;
        IF book.settles THEN
            bill_ref := coalesce('s' || book.open_bill_id, 'n0');
            bill := priced.amount;
            bills := ARRAY[ROW(bill_ref, book.open_bill_id, book.account_id, book.first_day,
                               book.next_first_day - 1, book.next_first_day - 1 + 30, previous,
                               p_electronic, priced.volume, priced.amount, priced.vat,
                               priced.version_id, priced.detail)::reading_write_bill];
        ELSE
            deducted := priced.amount;
            unit_price := (SELECT CASE WHEN count(*) = 1
                                       THEN min((tier_line->>'unit_price')::numeric) END
                           FROM jsonb_array_elements(priced.detail->'parts') part
                           CROSS JOIN jsonb_array_elements(part->'tiers') tier_line);
        END IF;
    END IF;
    PERFORM public.reading_write_rows(
        p_key, p_source,
        ARRAY[ROW(0, 1, p_meter_id, book.customer_id, book.account_id, p_read_on, p_electronic,
                  p_mechanical, book.latest_id, previous, consumption, abnormal, bill_ref,
                  deducted, CASE WHEN deducted IS NOT NULL THEN consumption END,
                  unit_price)::reading_write_reading],
        bills, deducted > 0);
    outcome := 'recorded';
END $$;

REVOKE EXECUTE ON FUNCTION reading_enter_book(text, text, bigint, date, numeric, numeric, boolean,
                                              boolean) FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION reading_enter_book(text, text, bigint, date, numeric,
                        numeric, boolean, boolean) FROM %I', md_role_name('operator'));
END $$;

-- V113's reading_enter: the litre check, the permission and the key's lock; a key recorded
-- answers as its first call did (V76's look-up); then the meter's locks, a reading already
-- recorded, and the book. Each once.
CREATE OR REPLACE FUNCTION reading_enter(p_key text, p_source text, p_meter_id bigint,
                                         p_read_on date, p_electronic numeric,
                                         p_mechanical numeric, p_rollover boolean,
                                         p_abnormal_confirmed boolean,
                                         OUT outcome text, OUT consumption numeric,
                                         OUT abnormal boolean, OUT bill numeric,
                                         OUT deducted numeric, OUT previous numeric,
                                         OUT previous_on date, OUT today date,
                                         OUT recorded_by text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF p_electronic <> round(p_electronic, 3) OR p_mechanical <> round(p_mechanical, 3) THEN
        RAISE EXCEPTION 'a reading is in litres, 3 decimals of a m³: % / % does not fit',
            p_electronic, p_mechanical USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    PERFORM md_require('reading.enter'), pg_advisory_xact_lock(hashtext('reading:' || p_key));
    -- A system-prepaid deduction of 0.00 has no ledger row; a reading of a type that does not
    -- charge has neither a bill nor a deduction.
    SELECT 'recorded', r.consumption, r.abnormal, b.amount,
           CASE WHEN r.transaction_id IS NOT NULL THEN -l.amount
                WHEN r.bill_id IS NULL AND t.charges THEN 0 END
    INTO outcome, consumption, abnormal, bill, deducted
    FROM meter_reading r LEFT JOIN bill b ON b.id = r.bill_id
    LEFT JOIN ledger_transaction l ON l.id = r.transaction_id
    JOIN customer c ON c.id = r.customer_id
    JOIN customer_type t ON t.id = c.customer_type_id
    WHERE r.idempotency_key = p_key || ':1';
    IF FOUND THEN
        RETURN;
    END IF;
    PERFORM reading_lock(ARRAY[p_meter_id]);
    SELECT 'already_recorded', r.electronic, r.read_on, r.recorded_by, current_date
    INTO outcome, previous, previous_on, recorded_by, today
    FROM reading_recorded(p_meter_id, p_source, p_read_on, p_electronic) r;
    IF FOUND THEN
        RETURN;
    END IF;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today
    FROM reading_enter_book(p_key, p_source, p_meter_id, p_read_on, p_electronic, p_mechanical,
                            p_rollover, p_abnormal_confirmed) e;
END $$;

-- V113's reading_enter_after, in the same order: the permission, the key's lock, a recorded
-- key's first answer (after reading_enter's litre check, which that answer came through), the
-- meter's locks, a reading already recorded, the previous reading the form showed, the litre
-- check, the book.
CREATE OR REPLACE FUNCTION reading_enter_after(p_key text, p_source text, p_meter_id bigint,
                                               p_after_id bigint, p_read_on date,
                                               p_electronic numeric, p_mechanical numeric,
                                               p_rollover boolean, p_abnormal_confirmed boolean,
                                               OUT outcome text, OUT consumption numeric,
                                               OUT abnormal boolean, OUT bill numeric,
                                               OUT deducted numeric, OUT previous numeric,
                                               OUT previous_on date, OUT today date,
                                               OUT recorded_by text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    latest_id bigint;
    key_recorded boolean;
BEGIN
    PERFORM md_require('reading.enter'), pg_advisory_xact_lock(hashtext('reading:' || p_key));
    key_recorded := EXISTS (SELECT FROM meter_reading WHERE idempotency_key = p_key || ':1');
    IF NOT key_recorded THEN
        PERFORM reading_lock(ARRAY[p_meter_id]);
        SELECT 'already_recorded', r.electronic, r.read_on, r.recorded_by, current_date
        INTO outcome, previous, previous_on, recorded_by, today
        FROM reading_recorded(p_meter_id, p_source, p_read_on, p_electronic) r;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT l.id, l.read_on INTO latest_id, previous_on FROM reading_latest(p_meter_id) l;
        IF latest_id IS DISTINCT FROM p_after_id THEN
            outcome := 'previous_changed';
            previous := (SELECT v FROM reading_previous_value(p_meter_id) v);
            today := current_date;
            RETURN;
        END IF;
    END IF;
    IF p_electronic <> round(p_electronic, 3) OR p_mechanical <> round(p_mechanical, 3) THEN
        RAISE EXCEPTION 'a reading is in litres, 3 decimals of a m³: % / % does not fit',
            p_electronic, p_mechanical USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    IF key_recorded THEN
        SELECT 'recorded', r.consumption, r.abnormal, b.amount,
               CASE WHEN r.transaction_id IS NOT NULL THEN -l.amount
                    WHEN r.bill_id IS NULL AND t.charges THEN 0 END
        INTO outcome, consumption, abnormal, bill, deducted
        FROM meter_reading r LEFT JOIN bill b ON b.id = r.bill_id
        LEFT JOIN ledger_transaction l ON l.id = r.transaction_id
        JOIN customer c ON c.id = r.customer_id
        JOIN customer_type t ON t.id = c.customer_type_id
        WHERE r.idempotency_key = p_key || ':1';
        RETURN;
    END IF;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today
    FROM reading_enter_book(p_key, p_source, p_meter_id, p_read_on, p_electronic, p_mechanical,
                            p_rollover, p_abnormal_confirmed) e;
END $$;

-- V111's money_move_for, who posts asked once.
CREATE OR REPLACE FUNCTION money_move_for(p_key text, p_customer_id bigint, p_owner bigint,
                                          p_kind text, p_amount numeric, p_method text,
                                          p_bill_ids bigint[], p_bills_total numeric)
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
    me bigint;
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
                      -- A statement of its own after the wait for the account: it sees a
                      -- transfer that held the account and committed meanwhile.
                      WHEN p_owner IS NOT NULL
                           AND customer_owner_seen(p_customer_id) IS DISTINCT FROM p_owner
                          THEN 'owner_changed'
                      WHEN model = 'meter_prepaid' THEN 'card_meter'
                      WHEN p_amount <= 0 THEN 'not_positive'
                      WHEN NOT method_allowed THEN 'method_not_allowed'
                      WHEN p_kind = 'refund' AND p_amount > acct_balance THEN 'above_balance'
                  END AS refused) r
            WHERE refused IS NOT NULL;
        IF FOUND THEN
            RETURN;
        END IF;
        me := current_operator_id();
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), p_customer_id, me)
        RETURNING receipt_no INTO receipt;
        posted := ledger_post(acct, p_kind, signed, NULL, NULL, p_method, receipt, p_key);
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (me, 'account.' || p_kind, 'customer', p_customer_id,
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

-- V74's bill_pay, who pays asked once (it was asked again for every bill the INSERT posted).
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
    me bigint;
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
    me := current_operator_id();
    IF p_receipt IS NULL THEN
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), customer, me)
        RETURNING receipt_no INTO receipt;
    ELSIF EXISTS (SELECT FROM receipt r
                  WHERE r.receipt_no = p_receipt AND r.customer_id = customer
                    AND r.operator_id = me AND r.issued_at = now())
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
    SELECT acct, 'bill_payment', -b.amount, nullif(b.volume, 0), receipt, me,
           p_key || ':bill:' || b.id, b.id
    FROM paid b WHERE b.amount > 0
    ORDER BY b.period_start, b.id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (me, 'bill.pay', 'customer', customer,
            jsonb_build_object('after', jsonb_build_object('bills', p_bill_ids, 'receipt_no', receipt)));
    RETURN receipt;
END $$;

-- V111's money_move, money_move_for with no owner to compare. It was an SQL function with a SET
-- clause: never inlined, and before PostgreSQL 18 such a function parses and plans its body
-- again at every call (V117, V123). In PL/pgSQL its one statement is planned once a session.
CREATE OR REPLACE FUNCTION money_move(p_key text, p_customer_id bigint, p_kind text,
                                      p_amount numeric, p_method text, p_bill_ids bigint[],
                                      p_bills_total numeric)
RETURNS SETOF money_moved
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT * FROM money_move_for(p_key, p_customer_id, NULL, p_kind, p_amount,
                                              p_method, p_bill_ids, p_bills_total);
END $$;
