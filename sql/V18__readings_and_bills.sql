-- Meter readings, postpaid bills and system-prepaid deductions (issue 12, items 3 and 4, and
-- paying bills). The client prices a reading's water with domain::billing (as it prices a card
-- recharge) inside one transaction that holds the meter's row lock; the functions below check
-- who may, that the reading follows the one the client priced from, and write the reading, the
-- bill or the deduction, and the audit row together. Each is exactly-once by its key.

INSERT INTO permission (code, description) VALUES
    ('reading.enter', 'Enter and import meter readings'),
    ('bill.void',     'Void an unpaid bill');
INSERT INTO role_permission (role_code, permission_code) VALUES
    ('clerk', 'reading.enter'),
    ('supervisor', 'reading.enter'),
    ('supervisor', 'bill.void');

-- A system-prepaid balance may go below zero by consumption (domain.md: the valve-close list),
-- and only by it: no payment, purchase or refund takes more than the balance holds.
-- The account says whether consumption took it below zero; any other negative balance is still
-- refused by the CHECK, whoever writes it.
ALTER TABLE account ADD COLUMN overdrawn_by_consumption boolean NOT NULL DEFAULT false;
ALTER TABLE account DROP CONSTRAINT account_balance_check;
ALTER TABLE account ADD CONSTRAINT account_balance_check
    CHECK (balance >= 0 OR overdrawn_by_consumption);
CREATE OR REPLACE FUNCTION ledger_apply_to_balance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    after numeric(14,2);
BEGIN
    UPDATE account
    SET balance = balance + NEW.amount,
        overdrawn_by_consumption = balance + NEW.amount < 0
                                   AND (NEW.kind = 'consumption' OR overdrawn_by_consumption)
    WHERE id = NEW.account_id
    RETURNING balance INTO after;
    IF NEW.amount < 0 AND after < 0 AND NEW.kind <> 'consumption' THEN
        RAISE EXCEPTION 'the balance of account % does not cover %', NEW.account_id, -NEW.amount
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

-- The low-balance (valve-close) list: a system-prepaid customer whose balance is below the
-- scheme's alert threshold (0: only a negative balance).
ALTER TABLE price_scheme ADD COLUMN alert_threshold numeric(14,2) NOT NULL DEFAULT 0;
CREATE INDEX account_low_balance ON account (balance) WHERE kind = 'prepaid';

-- Bills: one open (unpaid) bill per account and settlement cycle; a void bill keeps its place
-- and a corrected one is made next to it; a paid one is closed, and later water of its cycle
-- goes on a new bill. A rollover's current reading is below its previous one.
ALTER TABLE bill DROP CONSTRAINT bill_account_id_period_start_key;
ALTER TABLE bill DROP CONSTRAINT bill_check1;
CREATE UNIQUE INDEX bill_open_per_cycle ON bill (account_id, period_start) WHERE status = 'unpaid';
ALTER TABLE bill ADD COLUMN vat numeric(14,2) NOT NULL DEFAULT 0 CHECK (vat >= 0);
ALTER TABLE bill ADD COLUMN due_date date;
-- domain::billing::Priced as JSON: the parts, their tier lines and prices (the bill's details).
ALTER TABLE bill ADD COLUMN detail jsonb NOT NULL DEFAULT '{"parts": []}';
ALTER TABLE bill ADD COLUMN void_reason text CHECK (btrim(void_reason) <> '');
ALTER TABLE bill ADD COLUMN voided_by bigint REFERENCES operator;
ALTER TABLE bill ADD COLUMN voided_at timestamptz;
-- Only a void bill has a reason; bill_void (the operators' only way) always gives one. History
-- written by the owner (imports, fixtures) may have void bills without.
ALTER TABLE bill ADD CONSTRAINT bill_reason_only_when_void
    CHECK (status = 'void' OR (void_reason IS NULL AND voided_at IS NULL));

CREATE TABLE meter_reading (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter_id        bigint NOT NULL REFERENCES meter,
    customer_id     bigint NOT NULL REFERENCES customer,
    read_on         date NOT NULL,
    electronic      numeric(12,3) NOT NULL CHECK (electronic >= 0),
    mechanical      numeric(12,3) CHECK (mechanical >= 0),
    source          text NOT NULL CHECK (source IN ('counter', 'import', 'estimate', 'final')),
    -- The reading this one follows (NULL: the meter's initial reading) and its value.
    previous_id     bigint REFERENCES meter_reading,
    previous        numeric(12,3) NOT NULL CHECK (previous >= 0),
    consumption     numeric(12,3) NOT NULL CHECK (consumption >= 0),
    rollover        boolean NOT NULL DEFAULT false,
    -- Above 3 × the recent average, accepted after a confirmation (the abnormal list).
    abnormal        boolean NOT NULL DEFAULT false,
    bill_id         bigint REFERENCES bill,
    transaction_id  bigint REFERENCES ledger_transaction,
    operator_id     bigint REFERENCES operator,
    created_at      timestamptz NOT NULL DEFAULT now(),
    idempotency_key text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    CHECK (rollover = (electronic < previous)),
    CHECK (bill_id IS NULL OR transaction_id IS NULL)
);
CREATE INDEX meter_reading_meter ON meter_reading (meter_id, read_on, id);
CREATE INDEX meter_reading_bill ON meter_reading (bill_id) WHERE bill_id IS NOT NULL;
CREATE INDEX meter_reading_abnormal ON meter_reading (read_on) WHERE abnormal;
CREATE TRIGGER meter_reading_is_append_only BEFORE UPDATE OR DELETE ON meter_reading
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- The meter's latest reading that counts (a void bill's do not): one row or none. SETOF and
-- plain SQL without a SET clause, so a query calling it per meter (a 100 000-line import) has it inlined into an
-- index scan instead of calling a function 100 000 times.
CREATE FUNCTION reading_latest(p_meter_id bigint) RETURNS SETOF meter_reading
LANGUAGE sql STABLE AS $$
    SELECT r.* FROM meter_reading r LEFT JOIN bill b ON b.id = r.bill_id
    WHERE r.meter_id = p_meter_id AND b.status IS DISTINCT FROM 'void'
    ORDER BY r.read_on DESC, r.id DESC LIMIT 1
$$;

CREATE INDEX bill_account ON bill (account_id, period_end);

-- The value a new reading of the meter follows: its latest counted reading, else the current
-- reading of the latest bill made without readings (history loaded from elsewhere, the demo
-- data), else the meter's initial reading. One row; SETOF to be inlined as above.
CREATE FUNCTION reading_previous_value(p_meter_id bigint) RETURNS SETOF numeric
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT electronic FROM reading_latest(p_meter_id)),
        (SELECT b.current_reading FROM customer c JOIN account a ON a.customer_id = c.id
         JOIN bill b ON b.account_id = a.id
         WHERE c.meter_id = p_meter_id AND b.status <> 'void'
         ORDER BY b.period_end DESC, b.id DESC LIMIT 1),
        (SELECT initial_electronic_reading FROM meter WHERE id = p_meter_id))
$$;

-- Records readings priced by the client (one typed at the counter, or a whole import file) in
-- one statement per table. p_bills: the bills the readings make or extend, as they now stand
-- ({ref, bill_id: the open bill extended or null, account_id, period_start, period_end,
-- due_date, previous_reading, current_reading, volume, amount, vat, price_version_id, detail}).
-- p_readings, in the order they were priced (seq) ({seq, line, meter_id, customer_id, account_id, read_on,
-- electronic, mechanical, previous_id: the meter's latest reading the first of its rows
-- follows, previous, consumption, abnormal, bill_ref, amount, volume, unit_price: a
-- system-prepaid deduction}). Each reading's key is p_key:line; the same p_key again records
-- nothing. Refused whole (serialization_failure) when a meter was read, or a bill paid or
-- voided, since the client priced.
CREATE FUNCTION reading_write(p_key text, p_source text, p_bills jsonb, p_readings jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
    extended integer;
BEGIN
    PERFORM md_require('reading.enter');
    PERFORM pg_advisory_xact_lock(hashtext('reading:' || p_key));
    IF EXISTS (SELECT FROM meter_reading
               WHERE idempotency_key = p_key || ':' || (p_readings->0->>'line')) THEN
        RETURN;
    END IF;
    CREATE TEMPORARY TABLE reading_batch ON COMMIT DROP AS
    SELECT r.*, nextval('meter_reading_id_seq') AS id,
           CASE WHEN r.amount > 0 THEN nextval('ledger_transaction_id_seq') END AS transaction_id
    FROM jsonb_to_recordset(p_readings) AS r(
        seq integer, line integer, meter_id bigint, customer_id bigint, account_id bigint, read_on date,
        electronic numeric, mechanical numeric, previous_id bigint, previous numeric,
        consumption numeric, abnormal boolean, bill_ref text, amount numeric, volume numeric,
        unit_price numeric)
    ORDER BY r.seq;
    PERFORM FROM meter WHERE id IN (SELECT meter_id FROM reading_batch) ORDER BY id FOR UPDATE;
    IF EXISTS (SELECT FROM reading_batch r
               LEFT JOIN customer c ON c.id = r.customer_id AND c.meter_id = r.meter_id
                                   AND c.status = 'active' AND c.business_model <> 'meter_prepaid'
               LEFT JOIN account a ON a.id = r.account_id AND a.customer_id = c.id
               WHERE a.id IS NULL) THEN
        RAISE EXCEPTION 'a reading names no active customer of its meter, or a card meter'
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT FROM (SELECT DISTINCT ON (meter_id) meter_id, previous_id, read_on
                            FROM reading_batch ORDER BY meter_id, seq) first
               LEFT JOIN LATERAL reading_latest(first.meter_id) latest ON true
               WHERE latest.id IS DISTINCT FROM first.previous_id
                  OR latest.read_on > first.read_on) THEN
        RAISE EXCEPTION 'another reading of these meters was entered meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;

    CREATE TEMPORARY TABLE bill_batch ON COMMIT DROP AS
    SELECT b.*, coalesce(b.bill_id, nextval('bill_id_seq')) AS id
    FROM jsonb_to_recordset(p_bills) AS b(
        ref text, bill_id bigint, account_id bigint, period_start date, period_end date,
        due_date date, previous_reading numeric, current_reading numeric, volume numeric,
        amount numeric, vat numeric, price_version_id bigint, detail jsonb);
    -- Without statistics the planner takes a temporary table for a few rows.
    ANALYZE reading_batch;
    ANALYZE bill_batch;
    INSERT INTO bill (id, account_id, period_start, period_end, due_date, previous_reading,
                      current_reading, volume, amount, vat, price_version_id, detail)
    OVERRIDING SYSTEM VALUE
    SELECT id, account_id, period_start, period_end, due_date, previous_reading,
           current_reading, volume, amount, vat, price_version_id, detail
    FROM bill_batch
    WHERE bill_id IS NULL AND account_id IN (SELECT account_id FROM reading_batch);
    UPDATE bill
    SET current_reading = b.current_reading, volume = b.volume, amount = b.amount, vat = b.vat,
        price_version_id = b.price_version_id, detail = b.detail, issued_at = now()
    FROM bill_batch b
    WHERE bill.id = b.bill_id AND bill.account_id = b.account_id
      AND b.account_id IN (SELECT account_id FROM reading_batch)
      AND bill.period_start = b.period_start AND bill.status = 'unpaid';
    GET DIAGNOSTICS extended = ROW_COUNT;
    IF extended <> (SELECT count(*) FROM bill_batch WHERE bill_id IS NOT NULL) THEN
        RAISE EXCEPTION 'a bill of these cycles was paid or voided meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;

    INSERT INTO ledger_transaction (id, account_id, kind, amount, volume, unit_price, operator_id,
                                    idempotency_key)
    OVERRIDING SYSTEM VALUE
    SELECT transaction_id, account_id, 'consumption', -amount, volume, unit_price, me,
           'reading:' || p_key || ':' || line
    FROM reading_batch WHERE transaction_id IS NOT NULL ORDER BY seq;
    INSERT INTO meter_reading (id, meter_id, customer_id, read_on, electronic, mechanical, source,
                               previous_id, previous, consumption, rollover, abnormal, bill_id,
                               transaction_id, operator_id, idempotency_key)
    OVERRIDING SYSTEM VALUE
    SELECT r.id, r.meter_id, r.customer_id, r.read_on, r.electronic, r.mechanical, p_source,
           coalesce(lag(r.id) OVER (PARTITION BY r.meter_id ORDER BY r.seq), r.previous_id),
           r.previous, r.consumption, r.electronic < r.previous, r.abnormal, b.id,
           r.transaction_id, me, p_key || ':' || r.line
    FROM reading_batch r LEFT JOIN bill_batch b ON b.ref = r.bill_ref ORDER BY r.seq;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    SELECT me, CASE p_source WHEN 'import' THEN 'reading.import' ELSE 'reading.enter' END,
           'customer', CASE WHEN count(*) = 1 THEN min(customer_id) END,
           jsonb_build_object('after', CASE WHEN count(*) = 1
               THEN (SELECT to_jsonb(r) - 'id' - 'transaction_id' FROM reading_batch r)
               ELSE jsonb_build_object('readings', count(*), 'abnormal', count(*) FILTER (WHERE abnormal),
                                       'deducted', sum(amount), 'bills', jsonb_array_length(p_bills)) END)
    FROM reading_batch;
    DROP TABLE reading_batch, bill_batch;
END $$;

-- Voids an unpaid bill (a supervisor, with a reason). Its readings stop counting, so the
-- corrected reading is entered again and makes the bill that replaces it; arrears drop by its
-- amount. A paid bill is never changed. Voiding a void bill again changes nothing.
CREATE FUNCTION bill_void(p_bill_id bigint, p_reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target bill;
BEGIN
    PERFORM md_require('bill.void');
    SELECT * INTO STRICT target FROM bill WHERE id = p_bill_id FOR UPDATE;
    IF target.status = 'void' THEN
        RETURN;
    END IF;
    IF target.status = 'paid' THEN
        RAISE EXCEPTION 'bill % is paid: a paid bill is never changed', p_bill_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF btrim(coalesce(p_reason, '')) = '' THEN
        RAISE EXCEPTION 'a bill is voided with a reason' USING ERRCODE = 'check_violation';
    END IF;
    UPDATE bill SET status = 'void', void_reason = btrim(p_reason), voided_by = current_operator_id(),
                    voided_at = now()
    WHERE id = p_bill_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'bill.void', 'customer',
            (SELECT customer_id FROM account WHERE id = target.account_id),
            jsonb_build_object('before', jsonb_build_object('bill_id', p_bill_id, 'status', target.status,
                                                            'amount', target.amount),
                               'after', jsonb_build_object('status', 'void', 'reason', btrim(p_reason))));
END $$;

-- A bill payment's key and its receipt: the same key again answers the first receipt (a
-- payment of bills whose amounts are all zero moves no money, so the ledger cannot tell).
CREATE TABLE bill_payment_applied (
    idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    receipt_no      bigint NOT NULL REFERENCES receipt
);

-- Pays unpaid bills of one account from its balance, oldest first, on one receipt: a
-- bill_payment row per bill (key p_key:bill:<id>), each bill paid in full. p_total is the sum
-- the clerk confirmed: a bill paid, voided or extended by a reading since is refused
-- (serialization_failure); a balance that does not cover them, by the ledger (check_violation).
-- Refused as a whole. The same key again answers the first receipt.
-- The receipt row is made here; printing it is the receipts' own business (issue 12 item 5).
CREATE FUNCTION bill_pay(p_key text, p_bill_ids bigint[], p_total numeric) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    receipt bigint;
    acct bigint;
    paying bill;
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
    PERFORM FROM account WHERE id = acct FOR UPDATE;
    PERFORM FROM bill WHERE id = ANY (p_bill_ids) ORDER BY id FOR UPDATE;
    IF EXISTS (SELECT FROM bill WHERE id = ANY (p_bill_ids) AND status <> 'unpaid')
       OR (SELECT sum(amount) FROM bill WHERE id = ANY (p_bill_ids)) <> p_total THEN
        RAISE EXCEPTION 'these bills were paid, voided or changed meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
    INSERT INTO receipt (receipt_no, customer_id, operator_id)
    VALUES (nextval('receipt_no_seq'), (SELECT customer_id FROM account WHERE id = acct),
            current_operator_id())
    RETURNING receipt_no INTO receipt;
    INSERT INTO bill_payment_applied VALUES (p_key, receipt);
    FOR paying IN SELECT * FROM bill WHERE id = ANY (p_bill_ids) ORDER BY period_start, id LOOP
        IF paying.amount > 0 THEN
            INSERT INTO ledger_transaction (account_id, kind, amount, volume, receipt_no, operator_id,
                                            idempotency_key, bill_id)
            VALUES (acct, 'bill_payment', -paying.amount, nullif(paying.volume, 0), receipt,
                    current_operator_id(), p_key || ':bill:' || paying.id, paying.id);
        END IF;
        UPDATE bill SET status = 'paid', paid_at = now() WHERE id = paying.id;
    END LOOP;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'bill.pay', 'customer',
            (SELECT customer_id FROM account WHERE id = acct),
            jsonb_build_object('after', jsonb_build_object('bills', p_bill_ids, 'receipt_no', receipt)));
    RETURN receipt;
END $$;
