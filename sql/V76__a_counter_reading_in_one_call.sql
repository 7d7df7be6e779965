-- A reading at the counter is one call of one function (docs/decisions.md, "A counter reading in
-- one call (s30-a)"). The desk read the meter's book, priced the reading in Rust and sent it to
-- reading_write, which read the same rows again and priced it again (reading_write_is_priced,
-- reading_write_is_marked) to check what the desk sent: about ten round trips inside the
-- transaction and every price worked out twice. reading_enter does it once, in the database,
-- from the rows it has locked:
--  * the permission and the key's lock, then a reading recorded under the key answers as the
--    first did (what db::readings::batch::recorded read back);
--  * reading_lock, then the meter's book in one statement: its active customer, account, type
--    and scheme, its latest reading and previous value, the recent consumptions, the open bill
--    of the reading's settlement cycle;
--  * the refusals of domain::billing and db::readings::batch::Batch::take, in their order, as
--    a row whose outcome names the refusal: nothing is written then;
--  * the price by md_price, with the water reading_write_is_priced prices it from (the meter's
--    charged water by md_charged_water, the open bill's by md_water_on_bill), and the abnormal
--    mark as reading_write_is_marked works it out: what the desk sent and those two checks
--    accepted is exactly what they work out, so there is nothing left to check;
--  * the write by reading_write_rows, reading_write's own statements, now apart.
-- A clerk with psql can do no more with it than with reading_write: every value written is
-- worked out here from the locked rows; only the meter, the date, the register's values, the
-- rollover and the confirmation of an abnormal consumption are the caller's, as they are the
-- desk's. reading_write keeps every check, refusal and message (the import and psql call it).

-- reading_write's writing part (V72's, whole): the deductions, then the bills, the readings and
-- the audit entry in one statement, then the refusal of a bill paid or voided meanwhile. Called
-- by reading_write and reading_enter once they have checked or worked out everything; nobody
-- else may call it. No SET clause: it runs inside its callers', whose search_path it keeps.
CREATE FUNCTION reading_write_rows(p_key text, p_source text, p_readings reading_write_reading[],
                                   p_bills reading_write_bill[], p_deducts boolean)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    me bigint := current_operator_id();
    deduction_ids jsonb;
    extended bigint;
    to_extend bigint;
BEGIN
    -- The deductions first, when there are any; the readings' foreign keys to them are checked
    -- at the end of the statement below.
    IF p_deducts THEN
        WITH deducted AS (
            INSERT INTO ledger_transaction (id, account_id, kind, amount, volume, unit_price,
                                            operator_id, idempotency_key)
            OVERRIDING SYSTEM VALUE
            SELECT nextval('ledger_transaction_id_seq'), account_id, 'consumption', -amount,
                   volume, unit_price, me, 'reading:' || p_key || ':' || line
            FROM unnest(p_readings) WHERE amount > 0 ORDER BY seq
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
        FROM unnest(p_readings) r
    ), bills AS MATERIALIZED (
        SELECT b.*, coalesce(b.bill_id, nextval('bill_id_seq')) AS id
        FROM unnest(p_bills) b
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
                                           'bills', cardinality(p_bills)) END)
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

-- Only reading_write and reading_enter (SECURITY DEFINER, the owner's) call it: it checks nothing.
REVOKE EXECUTE ON FUNCTION reading_write_rows(text, text, reading_write_reading[],
                                              reading_write_bill[], boolean) FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION reading_write_rows(text, text, reading_write_reading[],
                        reading_write_bill[], boolean) FROM %I', md_role_name('operator'));
END $$;

-- V72's reading_write: its permission, key, locks, checks, refusals and messages, in the same
-- order, then its writes by reading_write_rows.
CREATE OR REPLACE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    recorded_before boolean;
    readings reading_write_reading[];
    bills_given reading_write_bill[];
    refused integer;
    deducts boolean;
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
    PERFORM reading_write_rows(p_key, p_source, readings, bills_given, deducts);
END $$;

-- Enters one reading of meter `p_meter_id` exactly once (`p_key`; its row's key is p_key:1, as
-- reading_write's one-line call makes it). Returns what the reading form shows:
--  * outcome 'recorded': consumption, abnormal, bill (the total of the bill made or extended,
--    postpaid), deducted (system prepaid); a re-sent call answers as the first;
--  * or a refusal, nothing written: 'no_customer', 'card_meter', 'after_today' (today),
--    'before_previous' (previous_on), 'below_previous' and 'not_a_rollover' (previous),
--    'abnormal' (consumption: recorded only once p_abnormal_confirmed), 'no_price'.
-- Water a bill or a deduction cannot hold fails as md_price and the tables' columns fail
-- (numeric_value_out_of_range). Every statement keeps one generic plan per session: it is one
-- reading, whatever the meter (V48).
CREATE FUNCTION reading_enter(p_key text, p_source text, p_meter_id bigint, p_read_on date,
                              p_electronic numeric, p_mechanical numeric, p_rollover boolean,
                              p_abnormal_confirmed boolean,
                              OUT outcome text, OUT consumption numeric, OUT abnormal boolean,
                              OUT bill numeric, OUT deducted numeric, OUT previous numeric,
                              OUT previous_on date, OUT today date)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    book record;
    slices md_slice[];
    priced record;
    unit_price numeric;
    bill_ref text;
    bills reading_write_bill[] := '{}';
BEGIN
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
    -- The meter's book, behind its locks; the recent consumptions as reading_write_is_marked
    -- counts them (the latest 6 that count, a void bill's not).
    SELECT c.id AS customer_id, a.id AS account_id, c.business_model, t.charges,
           s.id AS scheme_id, s.settlement_cycle_months IS NOT NULL AS settles,
           cycle.first_day, cycle.next_first_day, open_bill.id AS open_bill_id,
           latest.id AS latest_id, latest.read_on AS latest_on, p.previous, current_date AS today,
           recent.n, recent.total
    INTO book
    FROM meter m
    JOIN customer c ON c.meter_id = m.id AND c.status = 'active'
    JOIN customer_type t ON t.id = c.customer_type_id
    JOIN account a ON a.customer_id = c.id
    LEFT JOIN price_scheme s ON s.id = t.price_scheme_id
    LEFT JOIN LATERAL md_cycle(s.start_date, s.settlement_cycle_months, p_read_on) cycle
        ON s.settlement_cycle_months IS NOT NULL
    LEFT JOIN LATERAL (SELECT b.id FROM bill b
                       WHERE b.account_id = a.id AND b.status = 'unpaid'
                         AND b.period_start = cycle.first_day
                       ORDER BY b.id DESC LIMIT 1) open_bill ON true
    LEFT JOIN LATERAL reading_latest(m.id) latest ON true
    CROSS JOIN LATERAL reading_previous_value(m.id) AS p(previous)
    CROSS JOIN LATERAL (SELECT count(*) AS n, sum(h.consumption) AS total
                        FROM (SELECT r.consumption
                              FROM meter_reading r LEFT JOIN bill b ON b.id = r.bill_id
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
    consumption := md_consumption(previous, p_electronic)::numeric(12,3);
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
                           ELSE md_water_on_bill(book.open_bill_id) END
                      || ROW(p_read_on, consumption)::md_slice;
        ELSE
            slices := ARRAY[ROW(p_read_on, consumption)::md_slice];
        END IF;
        -- Every slice has a price in force when the earliest has.
        IF NOT EXISTS (SELECT FROM price_version v
                       WHERE v.price_scheme_id = book.scheme_id
                         AND v.effective_from <= (SELECT min(s.read_on) FROM unnest(slices) s)) THEN
            outcome := 'no_price';
            RETURN;
        END IF;
        SELECT p.* INTO priced
        FROM md_price(book.scheme_id,
                      ARRAY(SELECT w FROM md_charged_water(book.customer_id, p_meter_id,
                                                           book.account_id, book.open_bill_id) w),
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
    PERFORM reading_write_rows(
        p_key, p_source,
        ARRAY[ROW(0, 1, p_meter_id, book.customer_id, book.account_id, p_read_on, p_electronic,
                  p_mechanical, book.latest_id, previous, consumption, abnormal, bill_ref,
                  deducted, CASE WHEN deducted IS NOT NULL THEN consumption END,
                  unit_price)::reading_write_reading],
        bills, deducted > 0);
    outcome := 'recorded';
END $$;
