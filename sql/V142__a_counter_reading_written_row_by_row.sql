-- A counter reading's server time (issue 14; docs/decisions.md, "A counter reading's server
-- time: its rows written one by one, its book read once (s38-b)"). Every check is the one it
-- was, asked of the same user, in the same order, with the same refusal and words; the rows
-- written are the same rows, with the same values, keys, audit entry and triggers. What goes
-- is work that found nothing or read again what the call had read (an executor starts every
-- node of a plan, a join's or a subquery's, even one that reads no row):
--  * reading_enter (V128) looked a re-sent key up joined to its bill, ledger row, customer and
--    type, for a key that is almost never there: the key is looked up alone now, and the
--    first answer read only when it is there.
--  * it then called reading_lock and reading_recorded (a PL/pgSQL function with two SET
--    clauses) for one statement each; reading_enter_book read the meter's latest reading again
--    (reading_latest), then again (reading_previous_value, whose subquery of the bills and the
--    meter was started even when the meter had readings), then its latest six (the recent
--    consumptions, the same rows in the same order). Now reading_enter takes the locks by
--    reading_lock's own statements, and reading_enter_book reads the latest six once, behind
--    them: the first is reading_latest's (what reading_recorded compares, asked first, as it
--    was: p_recorded), its figure reading_previous_value's (whose fallback to the bills and
--    the meter is asked when there is no reading, as it was), the six the recent consumptions.
--    The meter's book now comes without an active customer too, so the latest reading of a
--    meter with no customer answers 'already_recorded' before 'no_customer', as before.
--  * reading_enter_book wrote the one reading through reading_write_rows (V76), the import's
--    writer of many: the reading and its bill packed into arrays, unpacked by a MATERIALIZED
--    CTE, a window for each meter's previous reading, a jsonb map of the deductions' ids, an
--    INSERT and an UPDATE of bills both started whichever was needed, and the counts of both
--    to find an extended bill paid or voided meanwhile. Now the deduction, the bill (made or
--    extended), the reading and its audit entry are each one row by its own statement; the
--    refusal of a bill paid or voided meanwhile is the same, raised with the same words before
--    the reading is written (the call is undone whole either way).
--  * md_charge (V43) priced a part by one statement of three CTEs, two windows and an
--    ordered aggregate; it walks the version's tiers in order now (one plain statement), and
--    md_price (V34) adds the slices' water up as it walks them (one statement less): the same
--    lines, amounts, VAT and detail (compared with V34's and V43's over 7 140 schemes, dates,
--    volumes and earlier water before this was written; see docs/decisions.md). The card
--    recharge prices by both too.
-- reading_write_rows stays the import's and reading_write's writer, reading_lock and
-- reading_recorded stay for theirs; reading_enter_after asks what it asked, in its order.
-- reading_enter_book takes one argument more (p_recorded) and answers recorded_by: V128's is
-- dropped, the new one revoked from PUBLIC and the operators as V128's was. CREATE OR REPLACE
-- keeps reading_enter's and reading_enter_after's owners, grants and settings; re-runnable
-- on its own result (tests/two_desks.rs replays V128 and this after it).

DROP FUNCTION IF EXISTS reading_enter_book(text, text, bigint, date, numeric, numeric, boolean,
                                           boolean);

-- V128's reading_enter_book, with the latest reading's comparison when p_recorded
-- (reading_recorded's, V113), and the rows written one by one.
CREATE OR REPLACE FUNCTION reading_enter_book(p_key text, p_source text, p_meter_id bigint,
                                              p_read_on date, p_electronic numeric,
                                              p_mechanical numeric, p_rollover boolean,
                                              p_abnormal_confirmed boolean, p_recorded boolean,
                                              OUT outcome text, OUT consumption numeric,
                                              OUT abnormal boolean, OUT bill numeric,
                                              OUT deducted numeric, OUT previous numeric,
                                              OUT previous_on date, OUT today date,
                                              OUT recorded_by text)
LANGUAGE plpgsql AS $$
DECLARE
    book record;
    slices md_slice[];
    first_on date;
    priced record;
    unit_price numeric;
    bill_ref text;
    me bigint;
    written reading_write_reading;
    written_bill bigint;
    written_deduction bigint;
BEGIN
    -- The meter's book, behind its locks: its active customer, account, type and scheme, the
    -- open bill of the reading's settlement cycle, and its latest six counted readings (a void
    -- bill's do not count), newest first: the first is reading_latest's, the six are
    -- reading_write_is_marked's recent consumptions.
    SELECT c.id AS customer_id, a.id AS account_id, c.business_model, t.charges,
           s.id AS scheme_id, s.settlement_cycle_months IS NOT NULL AS settles,
           cycle.first_day, cycle.next_first_day, open_bill.id AS open_bill_id,
           recent.id AS latest_id, recent.read_on AS latest_on,
           recent.electronic AS latest_electronic, recent.source AS latest_source,
           recent.operator_id AS latest_operator_id, current_date AS today,
           coalesce(recent.n, 0) AS n, recent.total
    INTO book
    FROM public.meter m
    LEFT JOIN (public.customer c
               JOIN public.customer_type t ON t.id = c.customer_type_id
               JOIN public.account a ON a.customer_id = c.id)
        ON c.meter_id = m.id AND c.status = 'active'
    LEFT JOIN public.price_scheme s ON s.id = t.price_scheme_id
    LEFT JOIN LATERAL public.md_cycle(s.start_date, s.settlement_cycle_months, p_read_on) cycle
        ON s.settlement_cycle_months IS NOT NULL
    LEFT JOIN LATERAL (SELECT b.id FROM public.bill b
                       WHERE b.account_id = a.id AND b.status = 'unpaid'
                         AND b.period_start = cycle.first_day
                       ORDER BY b.id DESC LIMIT 1) open_bill ON true
    LEFT JOIN LATERAL (SELECT h.id, h.read_on, h.electronic, h.source, h.operator_id,
                              count(*) OVER () AS n, sum(h.consumption) OVER () AS total
                       FROM (SELECT r.id, r.read_on, r.electronic, r.source, r.operator_id,
                                    r.consumption
                             FROM public.meter_reading r
                             LEFT JOIN public.bill b ON b.id = r.bill_id
                             WHERE r.meter_id = m.id AND b.status IS DISTINCT FROM 'void'
                             ORDER BY r.read_on DESC, r.id DESC
                             LIMIT 6) h
                       ORDER BY h.read_on DESC, h.id DESC
                       LIMIT 1) recent ON true
    WHERE m.id = p_meter_id
    LIMIT 1;
    -- The meter's latest reading typed again: recorded, by whom (reading_recorded's).
    IF p_recorded AND book.latest_on = p_read_on AND book.latest_electronic = p_electronic
       AND (p_source IS DISTINCT FROM 'final' OR book.latest_source = 'final') THEN
        outcome := 'already_recorded';
        previous := book.latest_electronic;
        previous_on := book.latest_on;
        recorded_by := (SELECT o.full_name FROM public.operator o
                        WHERE o.id = book.latest_operator_id);
        today := book.today;
        RETURN;
    END IF;
    IF book.customer_id IS NULL THEN
        outcome := 'no_customer';
        RETURN;
    ELSIF book.business_model = 'meter_prepaid' THEN
        outcome := 'card_meter';
        RETURN;
    END IF;
    today := book.today;
    -- reading_previous_value's: the latest reading's figure, or, with none, the bills' and the
    -- meter's.
    previous := book.latest_electronic;
    IF previous IS NULL THEN
        previous := (SELECT v FROM public.reading_previous_value(p_meter_id) v);
    END IF;
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
        -- Every slice has a price in force when the earliest has: without an open bill, the
        -- reading's own.
        first_on := p_read_on;
        IF book.open_bill_id IS NOT NULL THEN
            first_on := (SELECT min(s.read_on) FROM unnest(slices) s);
        END IF;
        IF NOT EXISTS (SELECT FROM public.price_version v
                       WHERE v.price_scheme_id = book.scheme_id
                         AND v.effective_from <= first_on) THEN
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
        ELSE
            deducted := priced.amount;
            unit_price := (SELECT CASE WHEN count(*) = 1
                                       THEN min((tier_line->>'unit_price')::numeric) END
                           FROM jsonb_array_elements(priced.detail->'parts') part
                           CROSS JOIN jsonb_array_elements(part->'tiers') tier_line);
        END IF;
    END IF;

    -- The write: what reading_write_rows wrote for this one reading, row by row, in its order.
    -- The reading as reading_write_rows was given it: its audit entry tells it whole.
    written := ROW(0, 1, p_meter_id, book.customer_id, book.account_id, p_read_on, p_electronic,
                   p_mechanical, book.latest_id, previous, consumption, abnormal, bill_ref,
                   deducted, CASE WHEN deducted IS NOT NULL THEN consumption END,
                   unit_price)::reading_write_reading;
    me := public.current_operator_id();
    -- A system-prepaid deduction of more than 0.00.
    IF deducted > 0 THEN
        INSERT INTO public.ledger_transaction (account_id, kind, amount, volume, unit_price,
                                               operator_id, idempotency_key)
        VALUES (book.account_id, 'consumption', -deducted, written.volume, unit_price, me,
                'reading:' || p_key || ':1')
        RETURNING id INTO written_deduction;
    END IF;
    -- The bill of the cycle: a new one, or the open one extended while it is still unpaid.
    IF bill_ref = 'n0' THEN
        INSERT INTO public.bill (account_id, period_start, period_end, due_date,
                                 previous_reading, current_reading, volume, amount, vat,
                                 price_version_id, detail)
        VALUES (book.account_id, book.first_day, book.next_first_day - 1,
                book.next_first_day - 1 + 30, previous, p_electronic, priced.volume,
                priced.amount, priced.vat, priced.version_id, priced.detail)
        RETURNING id INTO written_bill;
    ELSIF bill_ref IS NOT NULL THEN
        UPDATE public.bill
        SET current_reading = p_electronic, volume = priced.volume, amount = priced.amount,
            vat = priced.vat, price_version_id = priced.version_id, detail = priced.detail,
            issued_at = now()
        WHERE id = book.open_bill_id AND account_id = book.account_id
          AND period_start = book.first_day AND status = 'unpaid'
        RETURNING id INTO written_bill;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'a bill of these cycles was paid or voided meanwhile'
                USING ERRCODE = 'serialization_failure';
        END IF;
    END IF;
    INSERT INTO public.meter_reading (meter_id, customer_id, read_on, electronic, mechanical,
                                      source, previous_id, previous, consumption, rollover,
                                      abnormal, bill_id, transaction_id, operator_id,
                                      idempotency_key)
    VALUES (p_meter_id, book.customer_id, p_read_on, p_electronic, p_mechanical, p_source,
            book.latest_id, previous, consumption, p_electronic < previous, abnormal,
            written_bill, written_deduction, me, p_key || ':1');
    INSERT INTO public.audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (me, CASE p_source WHEN 'import' THEN 'reading.import' ELSE 'reading.enter' END,
            'customer', book.customer_id, jsonb_build_object('after', to_jsonb(written)));
    outcome := 'recorded';
END $$;

REVOKE EXECUTE ON FUNCTION reading_enter_book(text, text, bigint, date, numeric, numeric, boolean,
                                              boolean, boolean) FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION reading_enter_book(text, text, bigint, date, numeric,
                        numeric, boolean, boolean, boolean) FROM %I', md_role_name('operator'));
END $$;

-- V128's reading_enter: the litre check, the permission and the key's lock; a key recorded
-- answers as its first call did; then the meter's locks (reading_lock's statements), and the
-- book, which answers a reading already recorded first.
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
    IF EXISTS (SELECT FROM meter_reading WHERE idempotency_key = p_key || ':1') THEN
        -- A system-prepaid deduction of 0.00 has no ledger row; a reading of a type that does
        -- not charge has neither a bill nor a deduction.
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
    END IF;
    -- reading_lock's (V42): the meter's customers' accounts, then the meter.
    PERFORM FROM account a JOIN customer c ON c.id = a.customer_id
    WHERE c.meter_id = p_meter_id
    ORDER BY a.id FOR NO KEY UPDATE OF a;
    PERFORM FROM meter WHERE id = p_meter_id FOR NO KEY UPDATE;
    SELECT e.* INTO outcome, consumption, abnormal, bill, deducted, previous, previous_on, today,
                    recorded_by
    FROM reading_enter_book(p_key, p_source, p_meter_id, p_read_on, p_electronic, p_mechanical,
                            p_rollover, p_abnormal_confirmed, true) e;
END $$;

-- V128's reading_enter_after, unchanged but for the book's call: it compared the latest reading
-- itself (reading_recorded, before 'previous_changed').
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
                            p_rollover, p_abnormal_confirmed, false) e;
END $$;

-- V43's md_charge: the tiers read by one plain statement and walked in order, instead of one
-- statement of three CTEs, two windows and an ordered aggregate started at every call. The same
-- lines and amount: a tier's water is what of the accumulated water plus this volume falls
-- between the tier below's bound and its own (stepped, fixed), or, leap, all of the volume at
-- the first tier the whole fits in; a tier of no water has no line; a line's amount is the
-- running total rounded less the running total before it rounded, so the lines add up to the
-- amount (the whole rounded once). The card recharge (V38) prices by it too.
CREATE OR REPLACE FUNCTION md_charge(p_version_id bigint, p_mode text, p_accumulated numeric,
                                     p_volume numeric, OUT amount numeric, OUT lines jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    tier record;
    from_m3 numeric := 0;
    tier_volume numeric;
    exact numeric;
    so_far numeric := 0;
    leap_found boolean := false;
BEGIN
    lines := '[]';
    FOR tier IN SELECT t.tier_no, t.unit_price, t.upper_bound_m3 AS up_to
                FROM public.price_tier t WHERE t.price_version_id = p_version_id
                ORDER BY t.tier_no LOOP
        IF p_mode = 'leap' THEN
            -- Only the first tier the whole accumulated water fits in, all of the volume at it.
            IF leap_found OR NOT coalesce(tier.up_to IS NULL
                                          OR p_accumulated + p_volume <= tier.up_to, false) THEN
                CONTINUE;
            END IF;
            leap_found := true;
            tier_volume := p_volume;
        ELSE
            tier_volume := greatest(least(coalesce(tier.up_to, p_accumulated + p_volume),
                                          p_accumulated + p_volume)
                                    - greatest(p_accumulated, from_m3), 0);
            from_m3 := coalesce(tier.up_to, 0);
        END IF;
        IF tier_volume > 0 THEN
            exact := tier_volume * tier.unit_price;
            so_far := so_far + exact;
            lines := lines || jsonb_build_array(jsonb_build_object(
                'tier', tier.tier_no,
                'volume', tier_volume::numeric(12,3)::text,
                'unit_price', tier.unit_price::numeric(10,4)::text,
                'amount', (round(so_far, 2) - round(so_far - exact, 2))::numeric(14,2)::text));
        END IF;
    END LOOP;
    amount := round(so_far, 2);
END $$;

-- V34's md_price, the slices' water added up as they are walked (it was one statement more).
CREATE OR REPLACE FUNCTION md_price(p_scheme_id bigint, p_earlier public.md_slice[], p_slices public.md_slice[],
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
    volume := 0;
    FOREACH slice IN ARRAY p_slices LOOP
        volume := volume + coalesce(slice.volume, 0);
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
    version_id := versions[n];
    detail := jsonb_build_object('parts', parts);
END $$;
