-- An operator's deposit or refund comes with its receipt and its audit entry (s37-d;
-- docs/decisions.md, "A clerk's deposit at psql comes with its receipt and its audit entry").
--
-- s36-l's "found, not fixed": `ledger_post`, which every operator may call, posted a clerk's
-- `ledger_post(<a counter account>, 'deposit', 10.00, NULL, NULL, 'cash', NULL, 'k')` with no
-- receipt and no `account.deposit` audit entry, both of which the desk always writes with a
-- movement at the counter (`money_move_for`: the receipt, the row on it, the entry naming the
-- row). The database is the boundary: an operator's money row comes with what the desk writes
-- with it. What each desk path writes with an operator's deposit or refund:
--   * at the counter (money_move_for, a system-prepaid or postpaid account): the receipt, then
--     the row on it, then the entry `account.deposit` / `account.refund` naming the row
--     (`transaction_id`), which V32's `tells_a_write` checks against the row at commit;
--   * a card recharge paid at the counter (card_recharge_journal, a card meter's account): the
--     receipt, the deposit `card-op:K:deposit` on it, the purchase; V121's deferred
--     `card_recharge_is_its_payment` wants the journaled recharge's purchase on that receipt;
--   * a card refund's pay-out (card_operation_settle, a card meter's account): the receipt,
--     the refund `card-op:K:payout` on it, of operation K's credit (V121).
-- So:
--   1. `ledger_posted` (V121's statement trigger, restated with these additions): an
--      operator's deposit or refund goes on a receipt (V120/V121 already ask that the receipt
--      be its own transaction's, for its account's customer); and a counter account (system-
--      prepaid, postpaid) takes no deposit or refund keyed as a card operation's
--      (`card-op:…`), which no desk path posts there: the check below is skipped for those
--      keys, as a card meter's are asked by V121's.
--   2. A deferred constraint trigger, `counter_money_is_audited`, queued only for an
--      operator's deposit or refund not keyed `card-op:…` (one event a movement at the
--      counter; none for the card's rows), wants at commit the entry `account.<kind>` naming
--      the row: an index probe of this operator's entries at this transaction's time
--      (`audit_log_operator (operator_id, at)`; the entry is stamped so, V82), not a scan. The
--      entry is written after the row (money_move_for), so this can only be asked at commit.
-- The owner (the demo loader, imports of history, fixtures) is not held to either. Runs again
-- on the schema it made (tests/two_desks.rs).

CREATE OR REPLACE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := (SELECT id FROM operator WHERE db_role = session_user);
    wrong record;
BEGIN
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        IF EXISTS (SELECT FROM posted p JOIN account a ON a.id = p.account_id
                   JOIN customer c ON c.id = a.customer_id WHERE c.status = 'closed') THEN
            RAISE EXCEPTION 'the customer is closed: its account moves no money'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        SELECT p.kind, p.receipt_no, c.business_model,
               CASE WHEN p.receipt_no IS NOT NULL
                         AND (r.receipt_no IS NULL
                              OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                              OR r.customer_id IS DISTINCT FROM a.customer_id)
                        THEN 'foreign_receipt'
                    WHEN p.receipt_no IS NULL AND p.kind IN ('deposit', 'refund')
                        THEN 'no_receipt'
                    ELSE 'kind' END AS why
        INTO wrong
        FROM posted p
        JOIN account a ON a.id = p.account_id
        JOIN customer c ON c.id = a.customer_id
        LEFT JOIN receipt r ON r.receipt_no = p.receipt_no
        WHERE (p.receipt_no IS NOT NULL
               AND (r.receipt_no IS NULL OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                    OR r.customer_id IS DISTINCT FROM a.customer_id))
           OR (p.receipt_no IS NULL AND p.kind IN ('deposit', 'refund'))
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
        LIMIT 1;
        IF FOUND AND wrong.why = 'foreign_receipt' THEN
            RAISE EXCEPTION 'permission denied: a ledger row goes on a receipt written in its own transaction for its account''s customer, not on receipt %',
                wrong.receipt_no USING ERRCODE = 'insufficient_privilege';
        ELSIF FOUND AND wrong.why = 'no_receipt' THEN
            RAISE EXCEPTION 'permission denied: an operator''s % goes on the receipt written with it, with its audit entry, as the desk writes it (money_move)',
                wrong.kind USING ERRCODE = 'insufficient_privilege';
        ELSIF FOUND THEN
            RAISE EXCEPTION 'permission denied: a % account takes no % from an operator but as the desk posts it',
                wrong.business_model, wrong.kind USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF me IS NOT NULL AND NOT EXISTS (SELECT FROM shift WHERE operator_id = me
                                      AND closed_at IS NULL AND xmax = '0'::xid) THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- An operator's deposit or refund at the counter is told by its entry `account.<kind>` naming
-- it, written by the same operator in the same transaction (V82's stamp: the operator and the
-- transaction's time). SECURITY DEFINER: the audit log's read policy (V14) is not asked here.
CREATE OR REPLACE FUNCTION ledger_counter_movement_is_audited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM audit_log e
                   WHERE e.operator_id = NEW.operator_id AND e.at = now()
                     AND e.action = 'account.' || NEW.kind AND e.entity = 'customer'
                     AND e.detail -> 'transaction_id' = to_jsonb(NEW.id)) THEN
        RAISE EXCEPTION 'permission denied: an operator''s % of % is written with its audit entry (account.%) as the desk writes it (money_move); ledger row % has none',
            NEW.kind, abs(NEW.amount), NEW.kind, NEW.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS counter_money_is_audited ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER counter_money_is_audited
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind IN ('deposit', 'refund') AND NEW.idempotency_key NOT LIKE 'card-op:%%'
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION ledger_counter_movement_is_audited()$t$, md_role_name('owner'));
END $$;
