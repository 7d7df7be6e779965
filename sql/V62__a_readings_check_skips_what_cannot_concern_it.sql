-- A reading's pricing check runs only the checks a call can fail (docs/decisions.md, "A
-- reading's check skips what cannot concern it (s27-b)"). Profiled one reading at a time
-- (perf on the backend), a quarter of reading_write's CPU is the executor starting its plans,
-- whatever they then find: reading_write_is_priced started and ran its system-prepaid
-- deduction check for every postpaid reading (the customer lookup, md_price, the charged
-- water, the tiers' lines: ~30 plan nodes that find nothing), and its bill check, the largest
-- plan of all, for every reading that names no bill.
--  * The deduction check runs when a reading of the call is of a system-prepaid customer of a
--    type that charges, found as the check itself finds them (the same LATERAL lookup by key);
--    the bill check when a reading of the call names a bill (`used_refs`, already worked out:
--    the check's rows are the readings with a bill_ref). Each skipped check had no row to
--    refuse: what is refused, with which message, in which order, is V45's.
--  * Everything else is V45's: the four checks' statements, their order, the generic plans,
--    the SET clauses, the rights.

-- V45's check, whole, its last two checks run when the call has a reading they concern.
CREATE OR REPLACE FUNCTION reading_write_is_priced(p_readings reading_write_reading[],
                                        p_bills reading_write_bill[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
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
        wrong := (SELECT format('line %s does not follow the reading before it', r.line)
            FROM (SELECT r.*, lag(r.electronic) OVER w AS before, lag(r.read_on) OVER w AS before_on
                  FROM unnest(p_readings) r WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.seq)) r
            WHERE r.previous IS DISTINCT FROM
                      coalesce(r.before, (SELECT v FROM public.reading_previous_value(r.meter_id) v))
               OR r.consumption IS DISTINCT FROM public.md_consumption(r.previous, r.electronic)
               OR r.read_on IS NULL OR r.read_on < r.before_on
            LIMIT 1);
    END IF;

    -- A postpaid reading of a type that charges is on a bill of its account and settlement
    -- cycle, with no deduction; V37: a reading of a type that does not charge (a statistical
    -- district meter's) is on no bill and deducted nothing, whatever its business model.
    IF wrong IS NULL THEN
        wrong := (SELECT format(CASE WHEN s.charges
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
            LIMIT 1);
    END IF;

    -- A system-prepaid reading of a type that charges is deducted the price of its water after
    -- the water charged before it (the meter's, then the call's earlier readings of the meter),
    -- at its one unit price when it has one. V62: checked when the call has such a reading.
    IF wrong IS NULL AND EXISTS (
           SELECT FROM unnest(p_readings) r
           CROSS JOIN LATERAL (
               SELECT FROM public.customer c JOIN public.customer_type t ON t.id = c.customer_type_id
               WHERE c.id = r.customer_id AND c.business_model = 'system_prepaid' AND t.charges
               LIMIT 1) deducted) THEN
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
