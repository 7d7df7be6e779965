-- A reading takes its customer's account before anything else of the customer's (docs/decisions.md,
-- "The reading's locks and cost (s23-a)"). A reading and a transfer of the same customer
-- deadlocked (`meterdesk soak`, session 22; tests/reading_and_transfer.rs forces it):
--  * the transfer locks the customer and its account FOR NO KEY UPDATE, then updates the
--    customer. On PostgreSQL 15 that update locks the row as FOR UPDATE does, whatever columns
--    it sets: the customer has BEFORE UPDATE row triggers and a stored generated column in a
--    unique key (account_kind, in UNIQUE (id, account_kind)), so the executor counts the key as
--    changed when it locks the row for the triggers. It waits for every FOR KEY SHARE of the row;
--  * the reading's write statement took such a key share (meter_reading's foreign key to the
--    customer) and then waited, in the ledger's trigger, for the account the transfer held.
-- The meter's FOR UPDATE (V18) was not part of it. Now reading_lock takes the accounts of the
-- meters' customers FOR NO KEY UPDATE first, in id order, then the meters: a reading waits for
-- a transfer (or a payment, or a close, which all take the account first) before it holds
-- anything of the customer's, and a transfer or payment that comes second waits at the
-- account. The meters are locked FOR NO KEY UPDATE: readings of a meter still wait for each
-- other, and a foreign key's FOR KEY SHARE of the meter (a system card's) no longer waits for
-- a reading. The desk's Batch::load calls reading_lock too, as its first statement, so the
-- order is the same whether the desk or a clerk's psql calls reading_write.

-- Locks the accounts of the customers of meters `p_meter_ids`, then the meters, each in id
-- order. No SET clause (a reading's every call would pay it): the tables are named with their
-- schema; run by the caller, who may lock these rows anyway (V31, V32).
CREATE FUNCTION reading_lock(p_meter_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM public.account a JOIN public.customer c ON c.id = a.customer_id
    WHERE c.meter_id = ANY (p_meter_ids)
    ORDER BY a.id FOR NO KEY UPDATE OF a;
    PERFORM FROM public.meter WHERE id = ANY (p_meter_ids)
    ORDER BY id FOR NO KEY UPDATE;
END $$;

-- V34's reading_write, whole, taking its locks through reading_lock.
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
