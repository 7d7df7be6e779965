-- A receipt names the account holder at the moment its money moved (decision: docs/decisions.md,
-- "The help's command-line words; a receipt's holder during a transfer (s35-k)"). receipt_read
-- (V79) and the card receipts' facts joined the customer as it is now: a receipt read again after
-- the customer was transferred — the read-back after a bill payment's commit, a re-sent
-- deposit's answer, every reprint — named the new owner, though the ledger rows were posted
-- under the old one and the first print named the old one.
--
-- The name is written on the receipt as it is inserted, from the customer row, by the receipt's
-- rules trigger: every writer of a receipt (money_move, bill_pay) holds the account before it
-- inserts the receipt, and a transfer takes the account before it changes the customer, so the
-- name read there is the holder under whom the receipt's ledger rows are posted. An operator
-- cannot write it (the column is granted to no one; the trigger sets it on every INSERT and keeps
-- it on every UPDATE that is not the owner's).

ALTER TABLE receipt ADD COLUMN customer_name text;

-- The receipts already written: the owner before the first transfer after the receipt was
-- issued (customer_owner_history keeps each previous owner's basic information), else the
-- present owner. A change of the name by "modify" kept no history: those read as now.
UPDATE receipt r
SET customer_name = coalesce(
        (SELECT h.previous_owner->>'name' FROM customer_owner_history h
         WHERE h.customer_id = r.customer_id AND h.transferred_at > r.issued_at
         ORDER BY h.transferred_at, h.id LIMIT 1),
        c.name)
FROM customer c
WHERE c.id = r.customer_id;

ALTER TABLE receipt ALTER COLUMN customer_name SET NOT NULL;

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
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        me := current_operator_id();
        IF me IS NOT NULL THEN
            NEW.operator_id := me;
        END IF;
        -- The holder now: the writer holds the account, which a transfer takes first.
        SELECT c.name INTO NEW.customer_name FROM customer c WHERE c.id = NEW.customer_id;
    END IF;
    RETURN NEW;
END $$;

-- V79's, reading the holder the receipt was written for.
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
               r.customer_name AS name, c.business_model, m.meter_no,
               (SELECT sum(t.amount) FROM public.ledger_transaction t
                WHERE t.account_id = a.id AND t.id <= (SELECT max(l.id) FROM lines l))
                   AS balance_after
        FROM public.receipt r
        JOIN public.operator o ON o.id = r.operator_id
        JOIN public.customer c ON c.id = r.customer_id
        JOIN public.meter m ON m.id = c.meter_id
        JOIN public.account a ON a.customer_id = c.id
        WHERE r.receipt_no = p_receipt_no)
    SELECT h.receipt_no, h.issued_at, h.reprints, h.operator, h.customer_no, h.name,
           h.business_model, h.meter_no, h.balance_after, l.kind, l.amount, l.volume,
           l.unit_price, l.method_code, l.method, l.cycle
    FROM header h CROSS JOIN lines l
    ORDER BY l.id
$$;
