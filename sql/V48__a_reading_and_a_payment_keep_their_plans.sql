-- A reading at the counter keeps its plans (docs/decisions.md, "The reading and the bill
-- payment keep their plans (s24-a)"). In the soak (64 desks, pg_stat_statements with
-- track = all, track_planning = on) reading_write's write statement, an EXECUTE, was parsed and
-- planned at every call (2 687 plans in 2 687 calls, 5.5 ms a plan at that load, for 14 ms of
-- running), and so was its check that every bill is of an account a reading names.
--  * Both are static statements now: PL/pgSQL keeps them in the session's plan cache, and the
--    plan cache mode of the caller decides between a generic plan and one made for the call's
--    arrays. The desk's counter reading (`readings::enter_reading`, one reading) runs its
--    transaction with plan_cache_mode = force_generic_plan: one plan per session, made once.
--    An import (`readings::import_readings`, up to 100 000 readings) runs with
--    force_custom_plan: planned for its sizes at every call, as the EXECUTE was. A call from
--    psql gets the server's choice (plan_cache_mode = auto): custom plans for a session's first
--    five calls, then a generic one only where the planner costs it no dearer.
--  * The statements, their order, rights, settings and errors are V42's; nothing the
--    function checks or writes changes.
-- bill_pay planned its five statements on the bills' ids (`id = ANY (p_bill_ids)`) at every
-- call (2 101 plans in 2 037 calls): a custom plan looked cheaper than the generic one, which
-- sizes an array of unknown length. Each is a lookup by the primary key whatever the ids, so
-- bill_pay now runs with plan_cache_mode = force_generic_plan (one plan per session), and its
-- three-argument form, a SQL function that could not be inlined (SECURITY DEFINER, a SET
-- clause) and so parsed and planned its body at every call, is PL/pgSQL.

-- V42's reading_write, whole, its two EXECUTEs static.
CREATE OR REPLACE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
    readings reading_write_reading[];
    bills_given reading_write_bill[];
    extended bigint;
    to_extend bigint;
BEGIN
    PERFORM md_require('reading.enter');
    PERFORM pg_advisory_xact_lock(hashtext('reading:' || p_key));
    IF EXISTS (SELECT FROM meter_reading
               WHERE idempotency_key = p_key || ':' || (p_readings->0->>'line')) THEN
        RETURN;
    END IF;
    readings := ARRAY(SELECT r FROM jsonb_populate_recordset(NULL::reading_write_reading, p_readings) r
                      ORDER BY r.seq);
    bills_given := ARRAY(SELECT b FROM jsonb_populate_recordset(NULL::reading_write_bill, p_bills) b);
    PERFORM reading_lock(ARRAY(SELECT DISTINCT meter_id FROM unnest(readings)));
    -- A subquery per reading (an index lookup each): V29's join was planned on the
    -- customers' statistics, a nested loop over every customer when they were just loaded.
    IF EXISTS (SELECT FROM unnest(readings) r
               WHERE (SELECT a.id FROM account a JOIN customer c ON c.id = a.customer_id
                      WHERE a.id = r.account_id AND c.id = r.customer_id
                        AND c.meter_id = r.meter_id AND c.status = 'active'
                        AND c.business_model <> 'meter_prepaid') IS NULL) THEN
        RAISE EXCEPTION 'a reading names no active customer of its meter, or a card meter'
            USING ERRCODE = 'check_violation';
    END IF;
    -- V18 passed over a bill of an account no reading names; refused here, which keeps such
    -- a join out of the statement that writes.
    IF EXISTS (SELECT FROM unnest(bills_given) b
               WHERE NOT EXISTS (SELECT FROM unnest(readings) r WHERE r.account_id = b.account_id)) THEN
        RAISE EXCEPTION 'a bill is of an account no reading names'
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT FROM (SELECT DISTINCT ON (meter_id) meter_id, previous_id, read_on
                            FROM unnest(readings) ORDER BY meter_id, seq) first
               LEFT JOIN LATERAL reading_latest(first.meter_id) latest ON true
               WHERE latest.id IS DISTINCT FROM first.previous_id
                  OR latest.read_on > first.read_on) THEN
        RAISE EXCEPTION 'another reading of these meters was entered meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
    -- V34: what the client priced is the scheme's price.
    PERFORM reading_write_is_priced(readings, bills_given);

    -- Triggers (the ledger's balance, foreign keys) run at the end of the statement, when
    -- every row of it is in.
    WITH batch AS MATERIALIZED (
        SELECT r.*, nextval('meter_reading_id_seq') AS id,
               CASE WHEN r.amount > 0 THEN nextval('ledger_transaction_id_seq') END AS transaction_id
        FROM unnest(readings) r
    ), bills AS MATERIALIZED (
        SELECT b.*, coalesce(b.bill_id, nextval('bill_id_seq')) AS id
        FROM unnest(bills_given) b
    ), made AS (
        INSERT INTO bill (id, account_id, period_start, period_end, due_date, previous_reading,
                          current_reading, volume, amount, vat, price_version_id, detail)
        OVERRIDING SYSTEM VALUE
        SELECT id, account_id, period_start, period_end, due_date, previous_reading,
               current_reading, volume, amount, vat, price_version_id, detail
        FROM bills WHERE bill_id IS NULL
    ), extension AS (
        UPDATE bill
        SET current_reading = b.current_reading, volume = b.volume, amount = b.amount, vat = b.vat,
            price_version_id = b.price_version_id, detail = b.detail, issued_at = now()
        FROM bills b
        WHERE bill.id = b.bill_id AND bill.account_id = b.account_id
          AND bill.period_start = b.period_start AND bill.status = 'unpaid'
        RETURNING bill.id
    ), deducted AS (
        INSERT INTO ledger_transaction (id, account_id, kind, amount, volume, unit_price,
                                        operator_id, idempotency_key)
        OVERRIDING SYSTEM VALUE
        SELECT transaction_id, account_id, 'consumption', -amount, volume, unit_price, me,
               'reading:' || p_key || ':' || line
        FROM batch WHERE transaction_id IS NOT NULL ORDER BY seq
    ), recorded AS (
        INSERT INTO meter_reading (id, meter_id, customer_id, read_on, electronic, mechanical,
                                   source, previous_id, previous, consumption, rollover, abnormal,
                                   bill_id, transaction_id, operator_id, idempotency_key)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, r.meter_id, r.customer_id, r.read_on, r.electronic, r.mechanical, p_source,
               coalesce(lag(r.id) OVER (PARTITION BY r.meter_id ORDER BY r.seq), r.previous_id),
               r.previous, r.consumption, r.electronic < r.previous, r.abnormal, b.id,
               r.transaction_id, me, p_key || ':' || r.line
        FROM batch r LEFT JOIN bills b ON b.ref = r.bill_ref ORDER BY r.seq
    ), audited AS (
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        SELECT me, CASE p_source WHEN 'import' THEN 'reading.import' ELSE 'reading.enter' END,
               'customer', CASE WHEN count(*) = 1 THEN min(customer_id) END,
               jsonb_build_object('after', CASE WHEN count(*) = 1
                   THEN (SELECT to_jsonb(r) - 'id' - 'transaction_id' FROM batch r)
                   ELSE jsonb_build_object('readings', count(*),
                                           'abnormal', count(*) FILTER (WHERE abnormal),
                                           'deducted', sum(amount),
                                           'bills', jsonb_array_length(p_bills)) END)
        FROM batch
    )
    SELECT (SELECT count(*) FROM extension), (SELECT count(*) FROM bills WHERE bill_id IS NOT NULL)
        INTO extended, to_extend;
    -- Raised after the writes, it undoes them with the whole call.
    IF extended <> to_extend THEN
        RAISE EXCEPTION 'a bill of these cycles was paid or voided meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

ALTER FUNCTION bill_pay(text, bigint[], numeric, bigint) SET plan_cache_mode = force_generic_plan;

-- V22's, in PL/pgSQL.
CREATE OR REPLACE FUNCTION bill_pay(p_key text, p_bill_ids bigint[], p_total numeric)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN bill_pay(p_key, p_bill_ids, p_total, NULL);
END $$;
