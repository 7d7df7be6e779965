-- A money write no longer locks the payment method it names (issue 14; docs/decisions.md,
-- "A money write locks no payment method (session 39)").
--
-- The ledger's and the card operations' foreign keys to `payment_method` took a KEY SHARE lock
-- on the method's row at every money write, and nearly every write names `cash`: at 64 desks
-- the one row was locked by many transactions at once, each new locker making a new multixact
-- (44 000 in a 2-minute soak) and writing the row's lock into the WAL. Without the two keys a
-- soak did 5-11 % more operations a second, 8 % less server CPU an operation.
--
-- What the keys guaranteed is kept another way:
--   * a method's row is never deleted nor its code changed (`payment_method_kept`), so a code
--     a row names once is there for good (the keys' ON UPDATE CASCADE renamed codes; no code
--     was ever renamed, and the desk and the reports know methods by code);
--   * an operator's ledger row names a method that exists (`ledger_posted`, the statement
--     trigger that asks an operator's rows, asks it in its first statement); the money
--     functions refuse a method the customer's type does not take before that, so the desk
--     never meets it. A card operation names the method of the deposit posted before it in
--     the same transaction (`card_recharge_*`).
-- Runs again on its own result (tests/two_desks.rs): DROP … IF EXISTS, CREATE OR REPLACE.

ALTER TABLE ledger_transaction DROP CONSTRAINT IF EXISTS ledger_transaction_payment_method_code_fkey;
ALTER TABLE card_operation DROP CONSTRAINT IF EXISTS card_operation_payment_method_code_fkey;

CREATE OR REPLACE FUNCTION payment_method_kept() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.code IS DISTINCT FROM OLD.code THEN
        RAISE EXCEPTION 'payment method % is kept: the ledger names methods by code (disable it instead)',
            OLD.code USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS payment_method_kept ON payment_method;
CREATE TRIGGER payment_method_kept BEFORE DELETE OR UPDATE OF code ON payment_method
    FOR EACH ROW EXECUTE FUNCTION payment_method_kept();

CREATE OR REPLACE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint;
    wrong record;
BEGIN
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        SELECT p.kind, p.receipt_no, c.business_model,
               CASE WHEN c.status = 'closed' THEN 'closed'
                    WHEN p.receipt_no IS NOT NULL
                         AND (r.receipt_no IS NULL
                              OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                              OR r.customer_id IS DISTINCT FROM a.customer_id)
                        THEN 'foreign_receipt'
                    WHEN p.receipt_no IS NULL AND p.kind IN ('deposit', 'refund')
                        THEN 'no_receipt'
                    WHEN p.payment_method_code IS NOT NULL
                         AND NOT EXISTS (SELECT FROM payment_method m
                                         WHERE m.code = p.payment_method_code)
                        THEN 'no_such_method'
                    ELSE 'kind' END AS why, p.payment_method_code
        INTO wrong
        FROM posted p
        JOIN account a ON a.id = p.account_id
        JOIN customer c ON c.id = a.customer_id
        LEFT JOIN receipt r ON r.receipt_no = p.receipt_no
        WHERE c.status = 'closed'
           OR (p.receipt_no IS NOT NULL
               AND (r.receipt_no IS NULL OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                    OR r.customer_id IS DISTINCT FROM a.customer_id))
           OR (p.receipt_no IS NULL AND p.kind IN ('deposit', 'refund'))
           OR (p.payment_method_code IS NOT NULL
               AND NOT EXISTS (SELECT FROM payment_method m WHERE m.code = p.payment_method_code))
           OR NOT CASE c.business_model
                  WHEN 'meter_prepaid' THEN
                      p.kind IN ('card_purchase', 'card_refund', 'reversal')
                      OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:deposit')
                      OR (p.kind = 'refund' AND p.idempotency_key LIKE 'card-op:%:payout'
                          AND EXISTS (SELECT FROM card_operation o
                                      JOIN ledger_transaction t ON t.id = o.transaction_id
                                      -- K of `card-op:K:payout`, by the operation's unique key.
                                      WHERE o.idempotency_key = left(substr(p.idempotency_key, 9), -7)
                                        AND o.kind = 'refund'
                                        AND t.account_id = p.account_id AND t.amount = -p.amount))
                  WHEN 'system_prepaid' THEN
                      p.kind IN ('consumption', 'reversal')
                      OR (p.kind IN ('deposit', 'refund')
                          AND p.idempotency_key NOT LIKE 'card-op:%')
                  ELSE
                      p.kind IN ('bill_payment', 'reversal')
                      OR (p.kind IN ('deposit', 'refund')
                          AND p.idempotency_key NOT LIKE 'card-op:%')
              END
        -- A closed customer's row answers first, as V132's statement of its own did.
        ORDER BY c.status = 'closed' DESC
        LIMIT 1;
        IF FOUND AND wrong.why = 'closed' THEN
            RAISE EXCEPTION 'the customer is closed: its account moves no money'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        ELSIF FOUND AND wrong.why = 'foreign_receipt' THEN
            RAISE EXCEPTION 'permission denied: a ledger row goes on a receipt written in its own transaction for its account''s customer, not on receipt %',
                wrong.receipt_no USING ERRCODE = 'insufficient_privilege';
        ELSIF FOUND AND wrong.why = 'no_receipt' THEN
            RAISE EXCEPTION 'permission denied: an operator''s % goes on the receipt written with it, with its audit entry, as the desk writes it (money_move)',
                wrong.kind USING ERRCODE = 'insufficient_privilege';
        ELSIF FOUND AND wrong.why = 'no_such_method' THEN
            RAISE EXCEPTION 'no payment method %: a ledger row names one of payment_method''s',
                wrong.payment_method_code USING ERRCODE = 'foreign_key_violation';
        ELSIF FOUND THEN
            RAISE EXCEPTION 'permission denied: a % account takes no % from an operator but as the desk posts it',
                wrong.business_model, wrong.kind USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    -- The operator whose shift is not open (none, or only one being closed meanwhile): the
    -- first money opens it. Found for nobody (the owner, an operator with an open shift), as
    -- V132 asked the operator and then the shift.
    SELECT o.id INTO me
    FROM operator o
    WHERE o.db_role = session_user
      AND NOT EXISTS (SELECT FROM shift WHERE operator_id = o.id
                      AND closed_at IS NULL AND xmax = '0'::xid);
    IF FOUND THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
