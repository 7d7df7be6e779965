-- The ledger's statement trigger asks each of a row's refusals once (issue 14, s46-b;
-- docs/decisions.md, "The money path profiled…").
-- ledger_posted (V163's body whole, every refusal, its words, its SQLSTATE and its order kept)
-- runs at every statement writing ledger rows: a deposit's, each bill payment's, a reading's
-- deduction, a recharge's purchase and its payment. Its one statement wrote each refusal twice,
-- once in the WHERE that found a wrong row and once in the CASE that named why, and sorted the
-- rows it found to answer a closed customer's first: the executor built both copies of every
-- condition (the payment method's probe twice) and a sort at every run, where the desk's rows
-- are never wrong. Now the reason is asked once, in a subquery the planner keeps whole (OFFSET
-- 0), the rows without a reason are dropped, and a loop over the wrong rows (none from the
-- desk) takes a closed customer's first, else the first found, as the sort did.
-- The shift's statement is V163's.
-- CREATE OR REPLACE keeps the owner, the grants and the trigger (V82's, with the owner's role as
-- its argument); re-runnable (tests/two_desks.rs replays it).
CREATE OR REPLACE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint;
    wrong record;
    found_wrong record;
    told boolean := false;
BEGIN
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        FOR found_wrong IN SELECT w.*
        FROM (SELECT p.kind, p.receipt_no, c.business_model, p.payment_method_code,
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
                          WHEN NOT CASE c.business_model
                              WHEN 'meter_prepaid' THEN
                                  p.kind IN ('card_purchase', 'card_refund', 'reversal')
                                  OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:deposit')
                                  -- A debt the database recorded (card_recharge_found_loaded), paid: of its
                                  -- sum, while its recharge K of `card-op:K:owed` is still failed.
                                  OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:owed'
                                      AND EXISTS (SELECT FROM card_operation o
                                                  JOIN card_recharge_owed w ON w.operation_id = o.id
                                                  WHERE o.idempotency_key = left(substr(p.idempotency_key, 9), -5)
                                                    AND o.state = 'failed'
                                                    AND w.customer_id = a.customer_id
                                                    AND w.amount = p.amount))
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
                          END THEN 'kind' END AS why
              FROM posted p
              JOIN account a ON a.id = p.account_id
              JOIN customer c ON c.id = a.customer_id
              LEFT JOIN receipt r ON r.receipt_no = p.receipt_no
              OFFSET 0) w
        -- OFFSET 0: the subquery stays one, its reason computed once a row (pulled up, the
        -- planner would copy the CASE into the filter and the target list).
        WHERE w.why IS NOT NULL LOOP
            -- A closed customer's row answers first, as V132's statement of its own did.
            IF NOT told OR found_wrong.why = 'closed' THEN
                wrong := found_wrong;
                told := true;
            END IF;
            EXIT WHEN found_wrong.why = 'closed';
        END LOOP;
        IF told THEN
            IF wrong.why = 'closed' THEN
                RAISE EXCEPTION 'the customer is closed: its account moves no money'
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            ELSIF wrong.why = 'foreign_receipt' THEN
                RAISE EXCEPTION 'permission denied: a ledger row goes on a receipt written in its own transaction for its account''s customer, not on receipt %',
                    wrong.receipt_no USING ERRCODE = 'insufficient_privilege';
            ELSIF wrong.why = 'no_receipt' THEN
                RAISE EXCEPTION 'permission denied: an operator''s % goes on the receipt written with it, with its audit entry, as the desk writes it (money_move)',
                    wrong.kind USING ERRCODE = 'insufficient_privilege';
            ELSIF wrong.why = 'no_such_method' THEN
                RAISE EXCEPTION 'no payment method %: a ledger row names one of payment_method''s',
                    wrong.payment_method_code USING ERRCODE = 'foreign_key_violation';
            ELSE
                RAISE EXCEPTION 'permission denied: a % account takes no % from an operator but as the desk posts it',
                    wrong.business_model, wrong.kind USING ERRCODE = 'insufficient_privilege';
            END IF;
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
