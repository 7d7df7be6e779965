-- reading_write (sql/V18) without temporary tables. V18 copied its arguments into two
-- temporary tables and analyzed them: for a single reading typed at the counter that was two
-- CREATEs, two ANALYZEs and a DROP — catalog writes every other session is told about, a third
-- of the server's time under 64 desks (`meterdesk soak`). Now the arguments are read once into
-- arrays, and everything written is one statement (data-modifying WITH) whose ids are drawn
-- once in its materialized WITH queries. The rules, the refusals, the audit row and the
-- exactly-once key are V18's.
--
-- The planner still needs to know how many rows there are (the reason V18 analyzed): one typed
-- reading wants index lookups, a 100 000-line import hash joins — a nested loop over two
-- 100 000-row sets never ends. The statements that join the two arrays are planned at every
-- call for the arrays at hand (EXECUTE … USING: unnest() of a known array tells the planner
-- its length); a cached plan made for one reading would be kept for the import. The rest
-- only look rows up by key, as fast either way.

-- The arguments' rows, as the client sends them (db::readings::batch).
CREATE TYPE reading_write_reading AS (
    seq integer, line integer, meter_id bigint, customer_id bigint, account_id bigint,
    read_on date, electronic numeric, mechanical numeric, previous_id bigint, previous numeric,
    consumption numeric, abnormal boolean, bill_ref text, amount numeric, volume numeric,
    unit_price numeric);
CREATE TYPE reading_write_bill AS (
    ref text, bill_id bigint, account_id bigint, period_start date, period_end date,
    due_date date, previous_reading numeric, current_reading numeric, volume numeric,
    amount numeric, vat numeric, price_version_id bigint, detail jsonb);

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
    IF EXISTS (SELECT FROM unnest(readings) r
               LEFT JOIN customer c ON c.id = r.customer_id AND c.meter_id = r.meter_id
                                   AND c.status = 'active' AND c.business_model <> 'meter_prepaid'
               LEFT JOIN account a ON a.id = r.account_id AND a.customer_id = c.id
               WHERE a.id IS NULL) THEN
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
