-- A card debt still owed said by card_debts_owed (s44-c, V234) in the two ledger checks that
-- spelled it their own way (issue 14, s45-c; docs/decisions.md, "A recharge's permission asked
-- once…"): a recharge's refusal MD430 (`ledger_money_checked_at_commit`, V201's body whole) and
-- a debt's payment among a card meter's ledger rows (`ledger_posted`, V163's body whole). The
-- same debts: card_debts_owed() at 'infinity' is a recorded debt whose recharge is failed.
-- Re-runnable (tests/two_desks.rs): CREATE OR REPLACE only.

DO $do$
DECLARE
    owner_role text := quote_literal(md_role_name('owner'));
BEGIN
EXECUTE replace($f$CREATE OR REPLACE FUNCTION ledger_money_checked_at_commit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $$
DECLARE
    debt record;
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
    -- card_money_goes_with_its_operation (V135, V163).
    IF NEW.kind = ANY ('{card_purchase,reversal}')
       OR (NEW.kind = 'refund' AND NEW.idempotency_key LIKE 'card-op:%:payout') THEN
        IF NEW.kind = 'card_purchase' THEN
            -- The recharge journaled with it (card_recharge_journal), or settled done from the
            -- card with it (card_recharge_found_on_card): the operation names the new row.
            IF NOT EXISTS (SELECT FROM card_operation o
                           WHERE o.transaction_id = NEW.id AND o.kind = 'recharge') THEN
                RAISE EXCEPTION 'permission denied: an operator''s card_purchase is the money of the card recharge journaled with it, as the desk writes it (a card recharge); ledger row % is no recharge''s',
                    NEW.id USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.idempotency_key LIKE 'card-op:%:purchase' THEN
                -- A debt still owed, as card_debts_owed says it (V259).
                SELECT w.amount, o.purchase_seq INTO debt
                FROM account a
                JOIN card_debts_owed() w ON w.customer_id = a.customer_id
                JOIN card_operation o ON o.id = w.operation_id
                WHERE a.id = NEW.account_id
                LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION 'the customer owes % for purchase % a meter loaded unpaid: paid first (card_recharge_owed_pay), then recharged',
                        debt.amount, debt.purchase_seq USING ERRCODE = 'MD430';
                END IF;
            END IF;
        ELSIF NEW.kind = 'reversal' THEN
            IF NOT EXISTS (SELECT FROM card_operation o
                           WHERE o.transaction_id = NEW.reverses_id AND o.state = 'failed'
                             AND NEW.idempotency_key = 'card-op:' || o.idempotency_key || ':reversal'
                             AND md_written_here(o.xmin)) THEN
                RAISE EXCEPTION 'permission denied: an operator reverses only a card operation''s money, keyed card-op:<operation>:reversal, as the operation is settled failed in the same transaction (card_operation_settle); ledger row % reverses row % otherwise',
                    NEW.id, NEW.reverses_id USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF NOT EXISTS (SELECT FROM card_operation o
                          -- K of `card-op:K:payout`, by the operation's unique key.
                          WHERE o.idempotency_key = left(substr(NEW.idempotency_key, 9), -7)
                            AND o.kind = 'refund' AND o.state = 'done'
                            AND md_written_here(o.xmin)) THEN
            RAISE EXCEPTION 'permission denied: a card refund is paid out as it is settled done in the same transaction (card_operation_settle); ledger row % (%) is not',
                NEW.id, NEW.idempotency_key USING ERRCODE = 'insufficient_privilege';
        END IF;
    -- card_recharge_is_its_payment (V121, V163).
    ELSIF NEW.kind = 'deposit' AND (NEW.idempotency_key LIKE 'card-op:%:deposit'
                                 OR NEW.idempotency_key LIKE 'card-op:%:owed') THEN
        IF NEW.idempotency_key LIKE 'card-op:%:owed' THEN
            IF NOT EXISTS (SELECT FROM card_operation o
                           JOIN ledger_transaction p ON p.id = o.transaction_id
                           WHERE o.idempotency_key = left(substr(NEW.idempotency_key, 9), -5)
                             AND o.state = 'done' AND md_written_here(o.xmin)
                             AND p.idempotency_key = 'card-op:' || o.idempotency_key || ':found'
                             AND p.account_id = NEW.account_id AND p.amount = -NEW.amount) THEN
                RAISE EXCEPTION 'permission denied: a card meter''s deposit % pays the debt of its recharge, settled done from it in the same transaction (card_recharge_owed_pay)',
                    NEW.idempotency_key USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF EXISTS (SELECT FROM account a JOIN customer c ON c.id = a.customer_id
                      WHERE a.id = NEW.account_id AND c.business_model = 'meter_prepaid')
           AND NOT EXISTS (SELECT FROM ledger_transaction p
                           JOIN card_operation o ON o.transaction_id = p.id AND o.kind = 'recharge'
                           WHERE p.idempotency_key = left(NEW.idempotency_key, -length(':deposit'))
                                                     || ':purchase'
                             AND p.kind = 'card_purchase' AND p.account_id = NEW.account_id
                             AND p.receipt_no = NEW.receipt_no AND p.amount = -NEW.amount) THEN
            RAISE EXCEPTION 'permission denied: a card meter''s deposit % is the payment of a card recharge on its receipt, and no recharge of % was journaled on receipt %',
                NEW.idempotency_key, NEW.amount, coalesce(NEW.receipt_no::text, '-')
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    -- card_refund_is_journaled (V32, V82).
    ELSIF NEW.kind = 'card_refund' THEN
        IF NOT EXISTS (SELECT FROM card_operation WHERE transaction_id = NEW.id AND kind = 'refund')
           AND NOT EXISTS (SELECT FROM system_card WHERE credited_transaction_id = NEW.id) THEN
            RAISE EXCEPTION 'permission denied: a card_refund is the money of a card refund or of a clear card''s credit'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    -- counter_money_is_audited (V132).
    ELSIF NEW.kind = ANY ('{deposit,refund}') AND NEW.idempotency_key NOT LIKE 'card-op:%' THEN
        IF NOT EXISTS (SELECT FROM audit_log e
                       WHERE e.operator_id = NEW.operator_id AND e.at = now()
                         AND e.action = 'account.' || NEW.kind AND e.entity = 'customer'
                         AND e.detail -> 'transaction_id' = to_jsonb(NEW.id)) THEN
            RAISE EXCEPTION 'permission denied: an operator''s % of % is written with its audit entry (account.%) as the desk writes it (money_move); ledger row % has none',
                NEW.kind, abs(NEW.amount), NEW.kind, NEW.id USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NULL;
END $$$f$, '@owner@', owner_role);
END $do$;

-- V163's ledger_posted, the debt's payment asked of card_debts_owed.
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
                      -- A debt the database recorded (card_recharge_found_loaded), paid: of its
                      -- sum, while it is still owed (card_debts_owed, V259) by recharge K of
                      -- `card-op:K:owed`.
                      OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:owed'
                          AND EXISTS (SELECT FROM card_debts_owed() w
                                      JOIN card_operation o ON o.id = w.operation_id
                                      WHERE o.idempotency_key = left(substr(p.idempotency_key, 9), -5)
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
