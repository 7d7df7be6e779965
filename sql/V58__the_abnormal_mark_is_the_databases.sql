-- A reading's abnormal mark is the database's (docs/decisions.md, "A recharge above the meter's
-- maximum credit; the abnormal flag decided by the database (s26-e)"). V18 to V48 recorded the
-- `abnormal` the client sent, so a clerk with psql could keep an abnormal consumption off the
-- supervisors' abnormal list, or put a normal one on it (V34's "Not verified").
--  * reading_write_is_marked works the mark out as domain::billing::is_abnormal does: a
--    consumption above 3 x the average of the meter's latest 6 consumptions before it (its
--    stored readings that count, a void bill's not, newest by date then id; then the call's
--    earlier readings of the meter, in their order); none without history. A call whose mark
--    differs on any reading, either way, is refused whole (insufficient_privilege), nothing
--    written, as V34 refuses a price: the desk asks the clerk to confirm an abnormal
--    consumption before it sends the mark, so a recorded mark stays one the clerk confirmed,
--    and a desk whose rule drifted from the database's is told at once instead of being
--    silently overruled.
--  * One statement over the call's readings, under generic plans (as V45's check): the latest 6
--    stored consumptions of each meter by the meter_reading_meter index, then a window of the
--    6 rows before each reading.
--  * reading_write is V48's with the check called after the pricing check; nothing else of it
--    changes.

CREATE FUNCTION reading_write_is_marked(p_readings reading_write_reading[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    wrong integer;
BEGIN
    wrong := (SELECT h.line
        FROM (SELECT h.*, count(*) OVER before AS n, sum(h.consumption) OVER before AS total
              FROM (SELECT m.meter_id, 0 AS part, s.read_on, s.id AS seq, s.consumption,
                           NULL::integer AS line, NULL::boolean AS abnormal
                    FROM (SELECT DISTINCT r.meter_id FROM unnest(p_readings) r) m
                    CROSS JOIN LATERAL (
                        SELECT r.id, r.read_on, r.consumption
                        FROM public.meter_reading r LEFT JOIN public.bill b ON b.id = r.bill_id
                        WHERE r.meter_id = m.meter_id AND b.status IS DISTINCT FROM 'void'
                        ORDER BY r.read_on DESC, r.id DESC
                        LIMIT 6) s
                    UNION ALL
                    -- The call's readings follow the stored ones in the call's order.
                    SELECT r.meter_id, 1, NULL, r.seq, r.consumption, r.line, r.abnormal
                    FROM unnest(p_readings) r) h
              WINDOW before AS (PARTITION BY h.meter_id ORDER BY h.part, h.read_on, h.seq
                                ROWS BETWEEN 6 PRECEDING AND 1 PRECEDING)) h
        WHERE h.part = 1
          AND h.abnormal IS DISTINCT FROM (h.n > 0 AND h.consumption * h.n > 3 * h.total)
        ORDER BY h.seq
        LIMIT 1);
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied: a reading is marked abnormal by the meter''s history (line %)',
            wrong USING ERRCODE = 'insufficient_privilege';
    END IF;
END $$;

-- V48's reading_write, whole, with the check above.
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
    -- V58: what the client marked abnormal is what the meter's history makes abnormal.
    PERFORM reading_write_is_marked(readings);

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
