-- Close account (issue 12, item 7; domain.md, Customers → Close account), a supervisor's
-- (customer.close, V2). The counter walks the steps — final reading, its bill paid or its
-- deduction made, the balance refunded or made good, the card recycled or reported lost — with
-- the screens that already do each; customer_close checks them all again, here, and then
-- releases the meter as removed and makes the customer read-only. A closed customer is
-- read-only for every operator, whatever the client: its row, its ledger and its cards.

-- Who closed an account, and the key the close was confirmed with: the same key again answers
-- "closed" without writing (exactly once, as bill_payment_applied does for payments).
CREATE TABLE account_closing (
    customer_id     bigint PRIMARY KEY REFERENCES customer,
    idempotency_key text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    closed_by       bigint REFERENCES operator,
    closed_at       timestamptz NOT NULL DEFAULT now()
);

-- What still stands in the way of closing customer p_customer_id, first step first; NULL when
-- nothing does. The counter's screen shows the same words (db::closing).
CREATE FUNCTION customer_close_blocker(p_customer_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT CASE
        WHEN c.id IS NULL THEN 'not_found'
        WHEN c.status = 'closed' THEN 'already_closed'
        WHEN EXISTS (SELECT FROM card_operation o
                     WHERE o.customer_id = c.id AND o.state = 'pending') THEN 'card_pending'
        WHEN c.business_model <> 'meter_prepaid'
             AND (SELECT source FROM reading_latest(c.meter_id)) IS DISTINCT FROM 'final'
            THEN 'final_reading'
        WHEN EXISTS (SELECT FROM bill b
                     WHERE b.account_id = a.id AND b.status = 'unpaid') THEN 'unpaid_bills'
        WHEN a.balance < 0 THEN 'balance_owed'
        WHEN a.balance > 0 THEN 'balance_left'
        WHEN EXISTS (SELECT FROM card k
                     WHERE k.customer_id = c.id AND k.state = 'active') THEN 'card_active'
    END
    FROM (SELECT p_customer_id AS id) AS asked
    LEFT JOIN customer c ON c.id = asked.id
    LEFT JOIN account a ON a.customer_id = c.id
$$;

-- Closes the account of p_customer_id: 'closed', or the blocker that refuses it (nothing
-- written). The account row is locked first, as every money and card write of the customer
-- does, so no payment or card operation slips in between the checks and the close.
CREATE FUNCTION customer_close(p_customer_id bigint, p_key text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    blocker text;
    closing customer;
BEGIN
    PERFORM md_require('customer.close');
    PERFORM pg_advisory_xact_lock(hashtext('customer_close:' || p_key));
    IF EXISTS (SELECT FROM account_closing WHERE idempotency_key = p_key) THEN
        RETURN 'closed';
    END IF;
    PERFORM FROM account WHERE customer_id = p_customer_id FOR UPDATE;
    SELECT * INTO closing FROM customer WHERE id = p_customer_id FOR UPDATE;
    blocker := customer_close_blocker(p_customer_id);
    IF blocker IS NOT NULL THEN
        RETURN blocker;
    END IF;
    UPDATE customer SET status = 'closed', closed_at = now(), version = version + 1
    WHERE id = p_customer_id;
    -- customer.meter_status follows (ON UPDATE CASCADE); the customer is closed by now.
    UPDATE meter SET status = 'removed' WHERE id = closing.meter_id;
    INSERT INTO account_closing (customer_id, idempotency_key, closed_by)
    VALUES (p_customer_id, p_key, current_operator_id());
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'customer.close', 'customer', p_customer_id,
            jsonb_build_object('before', jsonb_build_object('status', 'active', 'meter_status', 'installed'),
                               'after', jsonb_build_object('status', 'closed', 'meter_status', 'removed',
                                                           'meter_id', closing.meter_id)));
    RETURN 'closed';
END $$;

-- A closed customer's row is read-only (modify, transfer), and an account is closed only by
-- customer_close: both for any writer but the owner's own functions.
CREATE FUNCTION customer_closed_is_read_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        IF OLD.status = 'closed' THEN
            RAISE EXCEPTION 'customer % is closed: it is read-only', OLD.customer_no
                USING ERRCODE = 'object_not_in_prerequisite_state';
        ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
            RAISE EXCEPTION 'permission denied: an account is closed only by customer_close (needs customer.close)'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER closed_is_read_only BEFORE UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_closed_is_read_only();

-- No money moves on a closed customer's account: recharge, deposit, refund, a reading's
-- deduction. Asked of the operator's session (ledger_post and reading_write run as the owner,
-- on behalf of the session); the owner's history loads keep theirs. Per statement: an import
-- of 100 000 readings asks once.
CREATE FUNCTION ledger_refuses_closed_accounts() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(session_user, md_role_name('owner'), 'MEMBER')
       AND EXISTS (SELECT FROM posted p JOIN account a ON a.id = p.account_id
                   JOIN customer c ON c.id = a.customer_id WHERE c.status = 'closed') THEN
        RAISE EXCEPTION 'the customer is closed: its account moves no money'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER refuses_closed_accounts AFTER INSERT ON ledger_transaction
    REFERENCING NEW TABLE AS posted FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuses_closed_accounts();

-- No card is issued, recharged, refunded or replaced for a closed customer; a card of theirs
-- that comes back later may still be recycled (wiped back to blank).
CREATE FUNCTION card_refuses_closed_customer() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(session_user, md_role_name('owner'), 'MEMBER')
       AND EXISTS (SELECT FROM customer WHERE id = NEW.customer_id AND status = 'closed') THEN
        RAISE EXCEPTION 'customer % is closed: no card is written for it', NEW.customer_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuses_closed_customer BEFORE INSERT ON card
    FOR EACH ROW EXECUTE FUNCTION card_refuses_closed_customer();
CREATE TRIGGER refuses_closed_customer BEFORE INSERT ON card_operation
    FOR EACH ROW WHEN (NEW.kind <> 'recycle') EXECUTE FUNCTION card_refuses_closed_customer();

-- Arrears by age (V21) count from the bill's due date, as a utility counts arrears: a bill
-- is in arrears from the day after it fell due; one not yet due is in the first bucket. A bill
-- without a due date (history loaded from elsewhere) counts from its issue.
CREATE OR REPLACE FUNCTION report_arrears_by_age(p_day date)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT bucket.age, count(b.id), count(DISTINCT b.account_id), coalesce(sum(b.amount), 0)
    FROM (VALUES ('0-30', 0, 30), ('31-90', 31, 90), ('90+', 91, NULL)) bucket(age, low, high)
    LEFT JOIN LATERAL (
        SELECT u.id, u.account_id, u.amount,
               greatest(p_day - coalesce(u.due_date, u.issued_at::date), 0) AS days
        FROM bill u WHERE u.status = 'unpaid') b
        ON b.days >= bucket.low AND (bucket.high IS NULL OR b.days <= bucket.high)
    GROUP BY bucket.age, bucket.low ORDER BY bucket.low;
END $$;
