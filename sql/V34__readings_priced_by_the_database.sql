-- A reading's water and money are what the database works out, not what the client says
-- (found after V32: `reading_write` took consumption, bills and deductions as sent, so a clerk
-- with psql could post a reading billed at any price, or at none). Decision: docs/decisions.md,
-- "Readings priced by the database".
--  * md_price prices slices of water by a scheme as domain::billing::price does (tiers per
--    version in force, accumulated in the scheme's cycle, half-up to 0.01 once per part, VAT
--    worked out of the amount), with the bill's details as db::readings::BillDetail writes them.
--  * reading_write checks, before it writes, that each reading follows the one before it (the
--    previous value and the consumption, a rollover's included) and that every bill and every
--    system-prepaid deduction of the call is exactly the price md_price gives: its cycle, dates,
--    volume, amount, VAT, price version and details. Anything else is refused as a whole
--    (insufficient_privilege), nothing written. The desk keeps pricing in Rust (the screen's
--    preview is the same arithmetic); tests/readings_priced.rs prices many cases both ways.

-- The helpers below have no SET clause, so none pays a configuration change per call (one per
-- bill of a 100 000-line import) and the simple ones can be inlined: they name their tables and
-- types with the schema, and reading_write_is_priced, which calls them, fixes the search_path
-- (an operator calling them from psql with a path of their own can only fool themselves).

-- A slice of water: m³ on a date.
CREATE TYPE md_slice AS (read_on date, volume numeric);

-- The cycle of `p_months` months, one starting on `p_start`, that `p_date` lies in
-- (domain::pricing::AccumulationCycle::period_containing): each start counted from `p_start`
-- (a start on the 31st comes back to the 31st after a short month).
CREATE FUNCTION md_cycle(p_start date, p_months integer, p_date date,
                         OUT first_day date, OUT next_first_day date)
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_start + make_interval(months => cycle * p_months))::date,
           (p_start + make_interval(months => (cycle + 1) * p_months))::date
    FROM (SELECT apart - CASE WHEN (p_start + make_interval(months => apart * p_months))::date > p_date
                              THEN 1 ELSE 0 END AS cycle
          FROM (SELECT floor(((extract(year FROM p_date) - extract(year FROM p_start)) * 12
                              + extract(month FROM p_date) - extract(month FROM p_start))
                             / p_months)::integer AS apart) months) cycles
$$;

-- What `p_volume` m³ cost at version `p_version_id` when `p_accumulated` m³ are already counted
-- (PriceVersion::charge_for_volume): the exact tier products' sum half-up to 0.01, and the
-- tier lines, each the rounded running sum less the lines before it. Stepped (and fixed, one
-- tier) charges each part in its tier; leap the whole slice at the tier its last litre is in.
CREATE FUNCTION md_charge(p_version_id bigint, p_mode text, p_accumulated numeric,
                          p_volume numeric, OUT amount numeric, OUT lines jsonb)
LANGUAGE sql STABLE AS $$
    WITH tiers AS (
        SELECT tier_no, unit_price, upper_bound_m3 AS up_to,
               coalesce(lag(upper_bound_m3) OVER (ORDER BY tier_no), 0) AS from_m3
        FROM public.price_tier WHERE price_version_id = p_version_id
    ), charged AS (
        SELECT tier_no, unit_price,
               CASE WHEN p_mode = 'leap' THEN p_volume
                    ELSE greatest(least(coalesce(up_to, p_accumulated + p_volume),
                                        p_accumulated + p_volume)
                                  - greatest(p_accumulated, from_m3), 0) END AS volume
        FROM tiers
        WHERE p_mode <> 'leap'
           OR tier_no = (SELECT min(tier_no) FROM tiers
                         WHERE up_to IS NULL OR p_accumulated + p_volume <= up_to)
    ), lines AS (
        SELECT tier_no, unit_price, volume, volume * unit_price AS exact,
               sum(volume * unit_price) OVER (ORDER BY tier_no) AS so_far
        FROM charged WHERE volume > 0
    )
    SELECT round(coalesce(sum(exact), 0), 2),
           coalesce(jsonb_agg(jsonb_build_object(
               'tier', tier_no,
               'volume', volume::numeric(12,3)::text,
               'unit_price', unit_price::numeric(10,4)::text,
               'amount', (round(so_far, 2) - round(so_far - exact, 2))::numeric(14,2)::text)
               ORDER BY tier_no), '[]')
    FROM lines
$$;

-- The price of `p_slices` (in date order) by scheme `p_scheme_id` when `p_earlier` (any order)
-- were charged before them (domain::billing::price): consecutive slices of one accumulation
-- cycle and one price version are one part, priced from the cycle's water charged before it.
-- version_id: the last part's version (the bill's). No version in force: refused.
CREATE FUNCTION md_price(p_scheme_id bigint, p_earlier public.md_slice[], p_slices public.md_slice[],
                         OUT amount numeric, OUT vat numeric, OUT volume numeric,
                         OUT version_id bigint, OUT detail jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    scheme public.price_scheme;
    months integer;
    percent numeric;
    charged public.md_slice[] := coalesce(p_earlier, '{}');
    slice public.md_slice;
    cycle record;
    in_force record;
    -- The parts, as (cycle's first day, its next, version id, version's first day, m³).
    firsts date[] := '{}';
    nexts date[] := '{}';
    versions bigint[] := '{}';
    froms date[] := '{}';
    volumes numeric[] := '{}';
    n integer := 0;
    accumulated numeric;
    charge record;
    part_vat numeric;
    parts jsonb := '[]';
BEGIN
    SELECT * INTO scheme FROM public.price_scheme WHERE id = p_scheme_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: water is priced by a price scheme'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- A fixed price accumulates nothing: any cycle gives the same prices (db::price_schemes).
    months := coalesce(scheme.accumulation_cycle_months, 12);
    percent := scheme.vat_rate * 100;
    FOREACH slice IN ARRAY p_slices LOOP
        SELECT v.id, v.effective_from INTO in_force FROM public.price_version v
        WHERE v.price_scheme_id = p_scheme_id AND v.effective_from <= slice.read_on
        ORDER BY v.effective_from DESC LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'permission denied: price scheme % has no price on %',
                p_scheme_id, slice.read_on USING ERRCODE = 'insufficient_privilege';
        END IF;
        cycle := public.md_cycle(scheme.start_date, months, slice.read_on);
        IF n > 0 AND firsts[n] = cycle.first_day AND versions[n] = in_force.id THEN
            volumes[n] := volumes[n] + slice.volume;
        ELSE
            n := n + 1;
            firsts[n] := cycle.first_day;
            nexts[n] := cycle.next_first_day;
            versions[n] := in_force.id;
            froms[n] := in_force.effective_from;
            volumes[n] := slice.volume;
        END IF;
    END LOOP;
    amount := 0;
    vat := 0;
    FOR part IN 1 .. n LOOP
        SELECT coalesce(sum(c.volume), 0) INTO accumulated FROM unnest(charged) c
        WHERE c.read_on >= firsts[part] AND c.read_on < nexts[part];
        charge := public.md_charge(versions[part], scheme.billing_mode, accumulated, volumes[part]);
        part_vat := round(charge.amount * percent / (100 + percent), 2);
        charged := charged || ROW(greatest(firsts[part], froms[part]), volumes[part])::public.md_slice;
        amount := amount + charge.amount;
        vat := vat + part_vat;
        parts := parts || jsonb_build_array(jsonb_build_object(
            'prices_from', to_char(froms[part], 'YYYY-MM-DD'),
            'accumulated_before', accumulated::numeric(12,3)::text,
            'volume', volumes[part]::numeric(12,3)::text,
            'amount', charge.amount::numeric(14,2)::text,
            'vat', part_vat::numeric(14,2)::text,
            'tiers', charge.lines));
    END LOOP;
    volume := (SELECT coalesce(sum(s.volume), 0) FROM unnest(p_slices) s);
    version_id := versions[n];
    detail := jsonb_build_object('parts', parts);
END $$;

-- The consumption from `p_previous` to `p_current` (domain::billing::consumption): below the
-- previous, the register wrapped at the smallest power of ten (at least 10) above it.
CREATE FUNCTION md_consumption(p_previous numeric, p_current numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_current >= p_previous THEN p_current - p_previous
                ELSE 10::numeric ^ length(trunc(p_previous)::bigint::text) - p_previous + p_current END
$$;

-- The water charged to customer `p_customer_id` (meter `p_meter_id`, account `p_account_id`)
-- before a call of reading_write, as db::readings::batch loads it: its readings that count (a
-- void bill's do not), and each bill's water not on its readings (a bill made without them),
-- on the bill's first day; bill `p_except_bill`'s left out.
CREATE FUNCTION md_charged_water(p_customer_id bigint, p_meter_id bigint, p_account_id bigint,
                                 p_except_bill bigint)
RETURNS SETOF public.md_slice
LANGUAGE sql STABLE AS $$
    SELECT r.read_on, r.consumption
    FROM public.meter_reading r LEFT JOIN public.bill b ON b.id = r.bill_id
    WHERE r.meter_id = p_meter_id AND r.customer_id = p_customer_id
      AND b.status IS DISTINCT FROM 'void'
      AND (p_except_bill IS NULL OR r.bill_id IS DISTINCT FROM p_except_bill)
    UNION ALL
    SELECT b.period_start, b.volume - coalesce(sum(r.consumption), 0)
    FROM public.bill b LEFT JOIN public.meter_reading r ON r.bill_id = b.id
    WHERE b.account_id = p_account_id AND b.status <> 'void' AND b.id IS DISTINCT FROM p_except_bill
    GROUP BY b.id
    HAVING b.volume > coalesce(sum(r.consumption), 0)
$$;

-- The same water on bill `p_bill_id` (an open bill a call extends), in its order.
CREATE FUNCTION md_water_on_bill(p_bill_id bigint) RETURNS public.md_slice[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(ROW(w.read_on, w.volume)::public.md_slice ORDER BY w.read_on, w.seq), '{}')
    FROM (SELECT r.read_on, r.id AS seq, r.consumption AS volume
          FROM public.meter_reading r WHERE r.bill_id = p_bill_id
          UNION ALL
          SELECT b.period_start, 0, b.volume - coalesce(sum(r.consumption), 0)
          FROM public.bill b LEFT JOIN public.meter_reading r ON r.bill_id = b.id
          WHERE b.id = p_bill_id
          GROUP BY b.id
          HAVING b.volume > coalesce(sum(r.consumption), 0)) w
$$;

-- Refuses (insufficient_privilege) a call of reading_write whose readings do not follow each
-- other, or whose bills and deductions are not the price of their water (the arguments as
-- reading_write reads them; the meters are locked). Every statement walks the readings once:
-- the bills are looked up by their ref in a jsonb object, rows of tables by key in LATERAL
-- subqueries (LIMIT 1: not flattened into a join), the meter's earlier readings of the call come from a window. A join of the two
-- arrays, or of an array with a table whose statistics are stale (customers just loaded), was
-- planned as a nested loop over both: minutes for a 100 000-line import.
CREATE FUNCTION reading_write_is_priced(p_readings reading_write_reading[],
                                        p_bills reading_write_bill[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    bill_by_ref jsonb := (SELECT coalesce(jsonb_object_agg(b.ref, to_jsonb(b)), '{}')
                          FROM unnest(p_bills) b);
    used_refs jsonb := (SELECT coalesce(jsonb_object_agg(r.bill_ref, true), '{}')
                        FROM unnest(p_readings) r WHERE r.bill_ref IS NOT NULL);
    wrong text;
BEGIN
    -- Each bill is named by a reading of the call, once.
    IF (SELECT count(*) FROM jsonb_object_keys(bill_by_ref)) <> cardinality(p_bills)
       OR EXISTS (SELECT FROM unnest(p_bills) b WHERE NOT used_refs ? b.ref) THEN
        wrong := 'a bill no reading of the call is on';
    END IF;

    -- Each reading follows the one before it: the meter's latest (V18's reading_previous_value)
    -- or the call's previous of the meter, on a later or the same day.
    IF wrong IS NULL THEN
        EXECUTE $chain$
            SELECT format('line %s does not follow the reading before it', r.line)
            FROM (SELECT r.*, lag(r.electronic) OVER w AS before, lag(r.read_on) OVER w AS before_on
                  FROM unnest($1) r WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.seq)) r
            WHERE r.previous IS DISTINCT FROM
                      coalesce(r.before, (SELECT v FROM public.reading_previous_value(r.meter_id) v))
               OR r.consumption IS DISTINCT FROM public.md_consumption(r.previous, r.electronic)
               OR r.read_on IS NULL OR r.read_on < r.before_on
            LIMIT 1
        $chain$ INTO wrong USING p_readings;
    END IF;

    -- A postpaid reading is on a bill of its account and settlement cycle, with no deduction.
    IF wrong IS NULL THEN
        EXECUTE $postpaid$
            SELECT format('line %s is not on a bill of its account and cycle', r.line)
            FROM unnest($1) r
            CROSS JOIN LATERAL (
                SELECT s.start_date, s.settlement_cycle_months
                FROM public.customer c
                JOIN public.customer_type t ON t.id = c.customer_type_id
                LEFT JOIN public.price_scheme s ON s.id = t.price_scheme_id
                WHERE c.id = r.customer_id AND c.business_model = 'postpaid'
                LIMIT 1) s
            CROSS JOIN LATERAL jsonb_populate_record(NULL::reading_write_bill, $2 -> r.bill_ref) b
            WHERE b.ref IS NULL OR b.account_id IS DISTINCT FROM r.account_id
               OR b.period_start IS DISTINCT FROM
                      (public.md_cycle(s.start_date, s.settlement_cycle_months, r.read_on)).first_day
               OR r.amount IS NOT NULL OR r.volume IS NOT NULL OR r.unit_price IS NOT NULL
            LIMIT 1
        $postpaid$ INTO wrong USING p_readings, bill_by_ref;
    END IF;

    -- A system-prepaid reading is deducted the price of its water after the water charged
    -- before it (the meter's, then the call's earlier readings of the meter), at its one unit
    -- price when it has one.
    IF wrong IS NULL THEN
        EXECUTE $prepaid$
            SELECT format('line %s is not deducted the price of its water', r.line)
            FROM (SELECT r.*, array_agg(r) OVER (PARTITION BY r.meter_id ORDER BY r.seq) AS so_far
                  FROM unnest($1) r) r
            CROSS JOIN LATERAL (
                SELECT t.price_scheme_id
                FROM public.customer c JOIN public.customer_type t ON t.id = c.customer_type_id
                WHERE c.id = r.customer_id AND c.business_model = 'system_prepaid'
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
            LIMIT 1
        $prepaid$ INTO wrong USING p_readings;
    END IF;

    -- A bill is the price of its water (what it held and the readings put on it) after the
    -- water charged before its last reading, in the cycle of its readings, due 30 days after
    -- its last day. Each bill is checked at its last reading of the call.
    IF wrong IS NULL THEN
        EXECUTE $bills$
            SELECT format('bill %s is not the price of its water', b.ref)
            FROM (SELECT r.*, array_agg(r) OVER (PARTITION BY r.meter_id ORDER BY r.seq) AS so_far,
                          first_value(r.previous) OVER on_bill AS bill_previous,
                          last_value(r.seq) OVER on_bill AS bill_last_seq
                  FROM unnest($1) r
                  WHERE r.bill_ref IS NOT NULL
                  WINDOW on_bill AS (PARTITION BY r.bill_ref ORDER BY r.seq
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) r
            CROSS JOIN LATERAL jsonb_populate_record(NULL::reading_write_bill, $2 -> r.bill_ref) b
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
            LIMIT 1
        $bills$ INTO wrong USING p_readings, bill_by_ref;
    END IF;
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied: a reading is priced by its scheme (%)', wrong
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

-- V29's reading_write, checking what the client priced before it writes.
CREATE OR REPLACE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
    readings reading_write_reading[];
    bills_given reading_write_bill[];
    foreign_bill boolean;
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
    PERFORM FROM meter WHERE id IN (SELECT meter_id FROM unnest(readings))
    ORDER BY id FOR UPDATE;
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
    EXECUTE $check$
        SELECT EXISTS (SELECT FROM unnest($2) b
                       WHERE NOT EXISTS (SELECT FROM unnest($1) r WHERE r.account_id = b.account_id))
    $check$
        INTO foreign_bill USING readings, bills_given;
    IF foreign_bill THEN
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
    EXECUTE $write$
    WITH batch AS MATERIALIZED (
        SELECT r.*, nextval('meter_reading_id_seq') AS id,
               CASE WHEN r.amount > 0 THEN nextval('ledger_transaction_id_seq') END AS transaction_id
        FROM unnest($1) r
    ), bills AS MATERIALIZED (
        SELECT b.*, coalesce(b.bill_id, nextval('bill_id_seq')) AS id
        FROM unnest($2) b
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
        SELECT transaction_id, account_id, 'consumption', -amount, volume, unit_price, $5,
               'reading:' || $3 || ':' || line
        FROM batch WHERE transaction_id IS NOT NULL ORDER BY seq
    ), recorded AS (
        INSERT INTO meter_reading (id, meter_id, customer_id, read_on, electronic, mechanical,
                                   source, previous_id, previous, consumption, rollover, abnormal,
                                   bill_id, transaction_id, operator_id, idempotency_key)
        OVERRIDING SYSTEM VALUE
        SELECT r.id, r.meter_id, r.customer_id, r.read_on, r.electronic, r.mechanical, $4,
               coalesce(lag(r.id) OVER (PARTITION BY r.meter_id ORDER BY r.seq), r.previous_id),
               r.previous, r.consumption, r.electronic < r.previous, r.abnormal, b.id,
               r.transaction_id, $5, $3 || ':' || r.line
        FROM batch r LEFT JOIN bills b ON b.ref = r.bill_ref ORDER BY r.seq
    ), audited AS (
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        SELECT $5, CASE $4 WHEN 'import' THEN 'reading.import' ELSE 'reading.enter' END,
               'customer', CASE WHEN count(*) = 1 THEN min(customer_id) END,
               jsonb_build_object('after', CASE WHEN count(*) = 1
                   THEN (SELECT to_jsonb(r) - 'id' - 'transaction_id' FROM batch r)
                   ELSE jsonb_build_object('readings', count(*),
                                           'abnormal', count(*) FILTER (WHERE abnormal),
                                           'deducted', sum(amount),
                                           'bills', $6) END)
        FROM batch
    )
    SELECT (SELECT count(*) FROM extension), (SELECT count(*) FROM bills WHERE bill_id IS NOT NULL)
    $write$
        INTO extended, to_extend
        USING readings, bills_given, p_key, p_source, me, jsonb_array_length(p_bills);
    -- Raised after the writes, it undoes them with the whole call.
    IF extended <> to_extend THEN
        RAISE EXCEPTION 'a bill of these cycles was paid or voided meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

-- V17's ledger_post, without the operators' bill payments: the desk pays bills with bill_pay
-- (which takes each bill's stored amount and marks it paid); through ledger_post a clerk with
-- account.pay_bills could take any amount off a balance against a bill and leave it unpaid.
CREATE OR REPLACE FUNCTION ledger_post(
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
