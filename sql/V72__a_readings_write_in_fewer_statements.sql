-- A reading's write runs fewer statements (docs/decisions.md, "A reading's write in fewer
-- statements (s29-b)"). At the counter reading_write was the server's largest single cost
-- (1.53 ms a reading at 2 desks); nearly a quarter of a reading's CPU is the executor starting
-- statements, whatever they then find, and a postpaid reading's one write statement still ran
-- the ledger's INSERT, which wrote nothing but fired ledger_posted, a SECURITY DEFINER trigger
-- of four statements, over an empty transition table.
--  * The look-up of a re-sent call and the parsing of the call's readings and bills are one
--    statement; the readings and bills are parsed only when the call was not recorded before
--    (as V58 returned before parsing them).
--  * V42's three checks against the locked rows (the readings' customers, the bills'
--    accounts, another reading meanwhile) are one statement whose CASE runs them in V58's
--    order and stops at the first that fails: each refusal, its message and its SQLSTATE are
--    V58's.
--  * A system-prepaid deduction is written by a statement of its own before the readings, run
--    only when the call deducts something: a call without a deduction no longer fires the
--    ledger's statement triggers, which found nothing in it (no closed customer's row, no row
--    to open a shift with). The ledger rows, their ids' order (the readings', by seq), keys,
--    amounts and triggers are V58's; the readings name them as before.
--  * Everything else is V58's: the permission, the key's lock, reading_lock, the pricing and
--    abnormal checks, the statement that writes the bills, readings and audit entry, the
--    refusal of a bill paid or voided meanwhile, the rights.

CREATE OR REPLACE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
    recorded_before boolean;
    readings reading_write_reading[];
    bills_given reading_write_bill[];
    refused integer;
    deducts boolean;
    deduction_ids jsonb;
    extended bigint;
    to_extend bigint;
BEGIN
    PERFORM md_require('reading.enter');
    PERFORM pg_advisory_xact_lock(hashtext('reading:' || p_key));
    SELECT seen.recorded,
           CASE WHEN NOT seen.recorded THEN
               ARRAY(SELECT r FROM jsonb_populate_recordset(NULL::reading_write_reading, p_readings) r
                     ORDER BY r.seq) END,
           CASE WHEN NOT seen.recorded THEN
               ARRAY(SELECT b FROM jsonb_populate_recordset(NULL::reading_write_bill, p_bills) b) END
    INTO recorded_before, readings, bills_given
    FROM (SELECT EXISTS (SELECT FROM meter_reading
                         WHERE idempotency_key = p_key || ':' || (p_readings->0->>'line')) AS recorded) seen;
    IF recorded_before THEN
        RETURN;
    END IF;
    PERFORM reading_lock(ARRAY(SELECT DISTINCT meter_id FROM unnest(readings)));
    SELECT CASE
        -- A subquery per reading (an index lookup each): V29's join was planned on the
        -- customers' statistics, a nested loop over every customer when they were just loaded.
        WHEN EXISTS (SELECT FROM unnest(readings) r
                     WHERE (SELECT a.id FROM account a JOIN customer c ON c.id = a.customer_id
                            WHERE a.id = r.account_id AND c.id = r.customer_id
                              AND c.meter_id = r.meter_id AND c.status = 'active'
                              AND c.business_model <> 'meter_prepaid') IS NULL) THEN 1
        -- V18 passed over a bill of an account no reading names; refused here, which keeps
        -- such a join out of the statement that writes.
        WHEN EXISTS (SELECT FROM unnest(bills_given) b
                     WHERE NOT EXISTS (SELECT FROM unnest(readings) r
                                       WHERE r.account_id = b.account_id)) THEN 2
        WHEN EXISTS (SELECT FROM (SELECT DISTINCT ON (meter_id) meter_id, previous_id, read_on
                                  FROM unnest(readings) ORDER BY meter_id, seq) first
                     LEFT JOIN LATERAL reading_latest(first.meter_id) latest ON true
                     WHERE latest.id IS DISTINCT FROM first.previous_id
                        OR latest.read_on > first.read_on) THEN 3 END,
           EXISTS (SELECT FROM unnest(readings) r WHERE r.amount > 0)
    INTO refused, deducts;
    IF refused = 1 THEN
        RAISE EXCEPTION 'a reading names no active customer of its meter, or a card meter'
            USING ERRCODE = 'check_violation';
    ELSIF refused = 2 THEN
        RAISE EXCEPTION 'a bill is of an account no reading names'
            USING ERRCODE = 'check_violation';
    ELSIF refused = 3 THEN
        RAISE EXCEPTION 'another reading of these meters was entered meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
    -- V34: what the client priced is the scheme's price; then (V58) what the client marked
    -- abnormal is what the meter's history makes abnormal. One statement, called in that order.
    PERFORM reading_write_is_priced(readings, bills_given), reading_write_is_marked(readings);

    -- The deductions first, when there are any; the readings' foreign keys to them are checked
    -- at the end of the statement below.
    IF deducts THEN
        WITH deducted AS (
            INSERT INTO ledger_transaction (id, account_id, kind, amount, volume, unit_price,
                                            operator_id, idempotency_key)
            OVERRIDING SYSTEM VALUE
            SELECT nextval('ledger_transaction_id_seq'), account_id, 'consumption', -amount,
                   volume, unit_price, me, 'reading:' || p_key || ':' || line
            FROM unnest(readings) WHERE amount > 0 ORDER BY seq
            RETURNING id, idempotency_key
        )
        SELECT jsonb_object_agg(idempotency_key, id) INTO deduction_ids FROM deducted;
    END IF;
    -- Triggers (foreign keys) run at the end of the statement, when every row of it is in.
    WITH batch AS MATERIALIZED (
        SELECT r.*, nextval('meter_reading_id_seq') AS id,
               CASE WHEN r.amount > 0
                    THEN (deduction_ids ->> ('reading:' || p_key || ':' || r.line))::bigint
               END AS transaction_id
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

-- V62's check, whole, with fewer statements: the two maps of the call's bills one statement,
-- the "follows" and "on a bill" checks and the deduction check's guard one statement (the
-- second check run only when the first passes, as before). What is checked, in which order,
-- with which message, and the SET clauses are V62's.
CREATE OR REPLACE FUNCTION reading_write_is_priced(p_readings reading_write_reading[],
                                        p_bills reading_write_bill[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    bill_by_ref jsonb;
    used_refs jsonb;
    deduction_to_check boolean;
    wrong text;
BEGIN
    SELECT (SELECT coalesce(jsonb_object_agg(b.ref, to_jsonb(b)), '{}') FROM unnest(p_bills) b),
           (SELECT coalesce(jsonb_object_agg(r.bill_ref, true), '{}')
            FROM unnest(p_readings) r WHERE r.bill_ref IS NOT NULL)
    INTO bill_by_ref, used_refs;
    -- Each bill is named by a reading of the call, once.
    IF (SELECT count(*) FROM jsonb_object_keys(bill_by_ref)) <> cardinality(p_bills)
       OR EXISTS (SELECT FROM unnest(p_bills) b WHERE NOT used_refs ? b.ref) THEN
        wrong := 'a bill no reading of the call is on';
    END IF;

    -- Each reading follows the one before it: the meter's latest (V18's reading_previous_value)
    -- or the call's previous of the meter, on a later or the same day. Then (COALESCE: only
    -- when every reading follows) a postpaid reading of a type that charges is on a bill of its
    -- account and settlement cycle, with no deduction; V37: a reading of a type that does not
    -- charge (a statistical district meter's) is on no bill and deducted nothing, whatever its
    -- business model. V72: the two checks and whether the call has a system-prepaid reading of
    -- a type that charges (V62's guard of the deduction check) are one statement.
    IF wrong IS NULL THEN
        SELECT coalesce(
            (SELECT format('line %s does not follow the reading before it', r.line)
             FROM (SELECT r.*, lag(r.electronic) OVER w AS before, lag(r.read_on) OVER w AS before_on
                   FROM unnest(p_readings) r WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.seq)) r
             WHERE r.previous IS DISTINCT FROM
                       coalesce(r.before, (SELECT v FROM public.reading_previous_value(r.meter_id) v))
                OR r.consumption IS DISTINCT FROM public.md_consumption(r.previous, r.electronic)
                OR r.read_on IS NULL OR r.read_on < r.before_on
             LIMIT 1),
            (SELECT format(CASE WHEN s.charges
                                THEN 'line %s is not on a bill of its account and cycle'
                                ELSE 'line %s is of a type that does not charge: no bill, no deduction'
                           END, r.line)
             FROM unnest(p_readings) r
             CROSS JOIN LATERAL (
                 SELECT t.charges, s.start_date, s.settlement_cycle_months
                 FROM public.customer c
                 JOIN public.customer_type t ON t.id = c.customer_type_id
                 LEFT JOIN public.price_scheme s ON s.id = t.price_scheme_id
                 WHERE c.id = r.customer_id AND (c.business_model = 'postpaid' OR NOT t.charges)
                 LIMIT 1) s
             CROSS JOIN LATERAL jsonb_populate_record(NULL::reading_write_bill, bill_by_ref -> r.bill_ref) b
             WHERE CASE WHEN s.charges
                        THEN b.ref IS NULL OR b.account_id IS DISTINCT FROM r.account_id
                             OR b.period_start IS DISTINCT FROM
                                    (public.md_cycle(s.start_date, s.settlement_cycle_months,
                                                     r.read_on)).first_day
                        ELSE r.bill_ref IS NOT NULL END
                OR r.amount IS NOT NULL OR r.volume IS NOT NULL OR r.unit_price IS NOT NULL
             LIMIT 1)),
               EXISTS (SELECT FROM unnest(p_readings) r
                       CROSS JOIN LATERAL (
                           SELECT FROM public.customer c
                           JOIN public.customer_type t ON t.id = c.customer_type_id
                           WHERE c.id = r.customer_id AND c.business_model = 'system_prepaid'
                             AND t.charges
                           LIMIT 1) deducted)
        INTO wrong, deduction_to_check;
    END IF;

    -- A system-prepaid reading of a type that charges is deducted the price of its water after
    -- the water charged before it (the meter's, then the call's earlier readings of the meter),
    -- at its one unit price when it has one. V62: checked when the call has such a reading.
    IF wrong IS NULL AND deduction_to_check THEN
        wrong := (SELECT format('line %s is not deducted the price of its water', r.line)
            FROM (SELECT r.*, array_agg(r) OVER (PARTITION BY r.meter_id ORDER BY r.seq) AS so_far
                  FROM unnest(p_readings) r) r
            CROSS JOIN LATERAL (
                SELECT t.price_scheme_id
                FROM public.customer c JOIN public.customer_type t ON t.id = c.customer_type_id
                WHERE c.id = r.customer_id AND c.business_model = 'system_prepaid' AND t.charges
                LIMIT 1) t
            CROSS JOIN LATERAL public.md_price(
                t.price_scheme_id,
                ARRAY(SELECT w FROM public.md_charged_water(r.customer_id, r.meter_id,
                                                            r.account_id, NULL) w
                      UNION ALL
                      SELECT ROW(e.read_on, e.consumption)::md_slice
                      FROM unnest(r.so_far) e WHERE e.seq < r.seq),
                ARRAY[ROW(r.read_on, r.consumption)::md_slice]) p
            WHERE r.bill_ref IS NOT NULL OR r.amount IS DISTINCT FROM p.amount
               OR r.volume IS DISTINCT FROM r.consumption
               OR r.unit_price IS DISTINCT FROM (
                      SELECT CASE WHEN count(*) = 1
                                  THEN min((tier_line->>'unit_price')::numeric) END
                      FROM jsonb_array_elements(p.detail->'parts') part
                      CROSS JOIN jsonb_array_elements(part->'tiers') tier_line)
            LIMIT 1);
    END IF;

    -- A bill is the price of its water (what it held and the readings put on it) after the
    -- water charged before its last reading, in the cycle of its readings, due 30 days after
    -- its last day. Each bill is checked at its last reading of the call; V62: when a reading
    -- of the call names a bill.
    IF wrong IS NULL AND used_refs <> '{}' THEN
        wrong := (SELECT format('bill %s is not the price of its water', b.ref)
            FROM (SELECT r.*, array_agg(r) OVER (PARTITION BY r.meter_id ORDER BY r.seq) AS so_far,
                          first_value(r.previous) OVER on_bill AS bill_previous,
                          last_value(r.seq) OVER on_bill AS bill_last_seq
                  FROM unnest(p_readings) r
                  WHERE r.bill_ref IS NOT NULL
                  WINDOW on_bill AS (PARTITION BY r.bill_ref ORDER BY r.seq
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) r
            CROSS JOIN LATERAL jsonb_populate_record(NULL::reading_write_bill, bill_by_ref -> r.bill_ref) b
            CROSS JOIN LATERAL (
                SELECT s.id, s.start_date, s.settlement_cycle_months
                FROM public.customer c
                JOIN public.customer_type t ON t.id = c.customer_type_id
                JOIN public.price_scheme s ON s.id = t.price_scheme_id
                WHERE c.id = r.customer_id
                LIMIT 1) s
            CROSS JOIN LATERAL public.md_cycle(s.start_date, s.settlement_cycle_months,
                                               b.period_start) cycle
            CROSS JOIN LATERAL public.md_price(
                s.id,
                ARRAY(SELECT w FROM public.md_charged_water(r.customer_id, r.meter_id,
                                                            r.account_id, b.bill_id) w
                      UNION ALL
                      SELECT ROW(e.read_on, e.consumption)::md_slice FROM unnest(r.so_far) e
                      WHERE e.bill_ref IS DISTINCT FROM b.ref),
                CASE WHEN b.bill_id IS NULL THEN '{}' ELSE public.md_water_on_bill(b.bill_id) END
                || ARRAY(SELECT ROW(e.read_on, e.consumption)::md_slice FROM unnest(r.so_far) e
                         WHERE e.bill_ref = b.ref ORDER BY e.seq)) p
            WHERE r.seq = r.bill_last_seq
              AND ((b.period_start, b.period_end, b.due_date, b.current_reading)
                   IS DISTINCT FROM (cycle.first_day, cycle.next_first_day - 1,
                                     cycle.next_first_day - 1 + 30, r.electronic)
                   OR (b.bill_id IS NULL AND b.previous_reading IS DISTINCT FROM r.bill_previous)
                   OR (b.volume, b.amount, b.vat, b.price_version_id, b.detail)
                      IS DISTINCT FROM (p.volume, p.amount, p.vat, p.version_id, p.detail))
            LIMIT 1);
    END IF;
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied: a reading is priced by its scheme (%)', wrong
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;
