-- A receipt names the meter its money was for at its moment (decision: docs/decisions.md, "A
-- receipt says the meter of its moment (s36-e)"). receipt_read (V79, V109) and the card
-- receipts' facts joined the customer's meter as it is now: after the customer's meter was
-- changed, a reprint of last month's receipt — and every other copy read again — named the new
-- meter, though the money was paid (and the paper printed) for the old one.
--
-- The meter number is written on the receipt as it is inserted, by the receipt's rules trigger,
-- from the customer's meter in the same statement that V109 reads the holder's name with: every
-- writer of a receipt (money_move, bill_pay, the card operations, a clear card's credit) holds
-- the account when it inserts the receipt, so the meter read there is the one of the moment its
-- ledger rows are posted. An operator cannot write it: the column is granted to no one, the
-- trigger sets it on every INSERT (the owner's too) and keeps it on every UPDATE that is not the
-- owner's (a reprint). A meter's number never changes (domain.md), so the number is the meter.
--
-- And V109's fill of the holder's name for the receipts written before it ordered a receipt and
-- a transfer by their transactions' starts; where that named another holder than the order of
-- the account's lock does, the receipt takes the lock's (below).

ALTER TABLE receipt ADD COLUMN meter_no text;

-- The receipts already written. No statement any operator may run changes a customer's meter
-- (V31 grants no UPDATE of customer.meter_id; the desk has no meter change): only the owner, at
-- psql, ever did, and nothing recorded when. What history tells is where the customer's meter
-- was seen: the opening's audit entry (customer.open, its meter_no, at the opening) and each
-- reading (its meter, entered at created_at). A customer never seen on a meter other than the
-- present one — every customer of a database where nobody changed a meter — has the present
-- meter on every receipt. A customer seen on another: each receipt names the meter last seen at
-- or before it was issued (each time its transaction's start, as issued_at), else the first
-- seen after, else the present one. A change between two sightings cannot be placed: a receipt
-- issued between them names the earlier meter.
WITH present AS MATERIALIZED (
    SELECT c.id AS customer_id, m.meter_no
    FROM customer c JOIN meter m ON m.id = c.meter_id
), moved AS MATERIALIZED (
    SELECT g.customer_id
    FROM meter_reading g JOIN customer c ON c.id = g.customer_id
    WHERE g.meter_id <> c.meter_id
    UNION
    SELECT a.entity_id
    FROM audit_log a JOIN present p ON p.customer_id = a.entity_id
    WHERE a.action = 'customer.open' AND a.entity = 'customer'
      AND a.detail->>'meter_no' <> p.meter_no
), seen AS MATERIALIZED (
    SELECT g.customer_id, g.created_at AS at, g.id AS nth, m.meter_no
    FROM meter_reading g JOIN meter m ON m.id = g.meter_id
    WHERE g.customer_id IN (SELECT customer_id FROM moved)
    UNION ALL
    SELECT a.entity_id, a.at, 0, a.detail->>'meter_no'
    FROM audit_log a
    WHERE a.action = 'customer.open' AND a.entity = 'customer'
      AND a.entity_id IN (SELECT customer_id FROM moved) AND a.detail->>'meter_no' IS NOT NULL
)
UPDATE receipt r
SET meter_no = CASE
        WHEN r.customer_id IN (SELECT customer_id FROM moved) THEN coalesce(
            (SELECT s.meter_no FROM seen s
             WHERE s.customer_id = r.customer_id AND s.at <= r.issued_at
             ORDER BY s.at DESC, s.nth DESC LIMIT 1),
            (SELECT s.meter_no FROM seen s
             WHERE s.customer_id = r.customer_id AND s.at > r.issued_at
             ORDER BY s.at, s.nth LIMIT 1),
            p.meter_no)
        ELSE p.meter_no
    END
FROM present p
WHERE p.customer_id = r.customer_id;

ALTER TABLE receipt ALTER COLUMN meter_no SET NOT NULL;

-- V109's fill of the holder's name, where it could misname. It ordered a receipt and a transfer
-- of its customer by their transactions' starts (issued_at, transferred_at); they are ordered by
-- the account's lock, which each takes after it starts. A deposit that started first and waited
-- (for its key's lock, say) while a transfer started, took the account and committed, was posted
-- under the new owner — the trigger names them now — and V109 named the old one; a transfer that
-- started first and waited while a receipt took the account the other way round. The order of
-- the account's lock is kept by the audit entries each writes holding it (one identity): the
-- transfer's (customer.transfer, at its transferred_at) and the last of the receipt's
-- transaction (at its issued_at, by its operator). Where both are there for a receipt and every
-- transfer of its customer, and V109's name is the one the starts gave but the entries give
-- another holder, the receipt takes that one. A name the trigger wrote (every receipt since V109)
-- is the holder in the lock's order, which the entries give too, so it is left as it is.
WITH transfer AS MATERIALIZED (
    SELECT h.id, h.customer_id, h.transferred_at, h.previous_owner->>'name' AS previous_name,
           (SELECT max(a.id) FROM audit_log a
            WHERE a.entity = 'customer' AND a.entity_id = h.customer_id
              AND a.action = 'customer.transfer' AND a.at = h.transferred_at) AS entry
    FROM customer_owner_history h
), told AS MATERIALIZED (
    SELECT r.receipt_no, r.customer_id, r.issued_at,
           (SELECT max(a.id) FROM audit_log a
            WHERE a.at = r.issued_at AND a.operator_id = r.operator_id) AS entry
    FROM receipt r
    WHERE r.customer_id IN (SELECT customer_id FROM transfer)
), named AS MATERIALIZED (
    SELECT t.receipt_no,
           coalesce((SELECT x.previous_name FROM transfer x
                     WHERE x.customer_id = t.customer_id AND x.transferred_at > t.issued_at
                     ORDER BY x.transferred_at, x.id LIMIT 1), c.name) AS by_start,
           coalesce((SELECT x.previous_name FROM transfer x
                     WHERE x.customer_id = t.customer_id AND x.entry > t.entry
                     ORDER BY x.entry LIMIT 1), c.name) AS by_lock
    FROM told t JOIN customer c ON c.id = t.customer_id
    WHERE t.entry IS NOT NULL
      AND NOT EXISTS (SELECT FROM transfer x
                      WHERE x.customer_id = t.customer_id AND x.entry IS NULL)
)
UPDATE receipt r
SET customer_name = n.by_lock
FROM named n
WHERE n.receipt_no = r.receipt_no
  AND r.customer_name = n.by_start AND n.by_lock <> n.by_start;

-- V109's, with the meter: read with the holder, kept on a reprint.
CREATE OR REPLACE FUNCTION receipt_rules() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me bigint;
BEGIN
    IF NOT pg_has_role(current_user, TG_ARGV[0], 'MEMBER') THEN
        IF TG_OP = 'INSERT' THEN
            IF NEW.receipt_no IS DISTINCT FROM md_issued_to_session('receipt_no_seq') THEN
                RAISE EXCEPTION 'permission denied: receipt number % is not the one receipt_no_seq issued to this session',
                    NEW.receipt_no USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF NEW.reprints IS DISTINCT FROM OLD.reprints + 1 THEN
            RAISE EXCEPTION 'permission denied: a reprint of receipt % counts one (reprints = reprints + 1)',
                OLD.receipt_no USING ERRCODE = 'insufficient_privilege';
        ELSE
            NEW.last_reprinted_at := now();
            NEW.customer_name := OLD.customer_name;
            NEW.meter_no := OLD.meter_no;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        me := current_operator_id();
        IF me IS NOT NULL THEN
            NEW.operator_id := me;
        END IF;
        -- The holder and the meter now: the writer holds the account, which a transfer takes
        -- first.
        SELECT c.name, m.meter_no INTO NEW.customer_name, NEW.meter_no
        FROM customer c JOIN meter m ON m.id = c.meter_id
        WHERE c.id = NEW.customer_id;
    END IF;
    RETURN NEW;
END $$;

-- V109's, reading the meter the receipt was written for.
CREATE OR REPLACE FUNCTION receipt_read(p_receipt_no bigint) RETURNS SETOF receipt_line
LANGUAGE sql STABLE AS $$
    WITH lines AS MATERIALIZED (
        SELECT t.id, CASE WHEN s.card_no IS NULL THEN t.kind ELSE 'clear_card_credit' END AS kind,
               t.amount, t.volume, t.unit_price, p.code AS method_code, p.name AS method,
               b.period_start AS cycle
        FROM public.ledger_transaction t
        LEFT JOIN public.payment_method p ON p.code = t.payment_method_code
        LEFT JOIN public.bill b ON b.id = t.bill_id
        LEFT JOIN public.system_card s ON s.credited_transaction_id = t.id
        WHERE t.receipt_no = p_receipt_no),
    header AS MATERIALIZED (
        SELECT r.receipt_no, r.issued_at, r.reprints, o.full_name AS operator, c.customer_no,
               r.customer_name AS name, c.business_model, r.meter_no,
               (SELECT sum(t.amount) FROM public.ledger_transaction t
                WHERE t.account_id = a.id AND t.id <= (SELECT max(l.id) FROM lines l))
                   AS balance_after
        FROM public.receipt r
        JOIN public.operator o ON o.id = r.operator_id
        JOIN public.customer c ON c.id = r.customer_id
        JOIN public.account a ON a.customer_id = c.id
        WHERE r.receipt_no = p_receipt_no)
    SELECT h.receipt_no, h.issued_at, h.reprints, h.operator, h.customer_no, h.name,
           h.business_model, h.meter_no, h.balance_after, l.kind, l.amount, l.volume,
           l.unit_price, l.method_code, l.method, l.cycle
    FROM header h CROSS JOIN lines l
    ORDER BY l.id
$$;
