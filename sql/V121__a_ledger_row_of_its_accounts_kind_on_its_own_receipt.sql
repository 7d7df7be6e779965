-- A ledger row of a kind its account takes, on the receipt its own transaction wrote
-- (docs/decisions.md, "A clerk with psql and the ledger (s36-l)"). s36-i's "found, not fixed":
--
-- 1. `ledger_post`, which every operator may call, asks the kind's permission, not whether the
--    account takes that kind: from psql a clerk's `ledger_post(<a card meter's account>,
--    'deposit', 10.00, …)` was posted, where the counter's `money_move` refuses `card_meter`.
--    What each account takes through the desk's own paths, and nothing else from an operator:
--    * a card meter's (meter_prepaid): a card purchase (the recharge's journal, a recharge found
--      on its card), a card refund (a refund's credit, a clear card's credit), a reversal (of
--      a card operation that failed), a refund only as a card refund's pay-out
--      (`card-op:K:payout`, of the amount operation K's card refund credited on this account),
--      and a deposit only as a card recharge's payment (`card-op:K:deposit`, checked at commit
--      by `ledger_card_recharge_is_its_payment`: the purchase `card-op:K:purchase` of the same
--      amount on the same receipt and account, journaled as a recharge — the purchase is
--      posted after the deposit, so it can only be asked at the end);
--    * a system-prepaid one's: a deposit, a refund (money_move), consumption (readings' own
--      deductions), a reversal;
--    * a postpaid one's: a deposit, a refund (money_move), a bill payment (bill_pay), a reversal.
--    No reading writes a card meter (`card_meter`), no card or card operation is a system-
--    prepaid or postpaid customer's, no reading of a postpaid meter deducts.
-- 2. V120 took "the receipt of this transaction" as `issued_at = now()`: a receipt of another
--    session whose transaction started in the same microsecond passed. The receipt now records
--    the transaction that inserted it (`issued_in`, `pg_current_xact_id()`, the top-level
--    transaction's id also from a savepoint; granted to no operator, so neither inserted nor
--    updated by one), and an operator's ledger row goes only on a receipt whose `issued_in` is
--    the current transaction. Not `xmin`: a reprint (`UPDATE receipt SET reprints = …`, an
--    operator's) makes an old receipt's row version the updating transaction's, and a row
--    written in a savepoint carries the subtransaction's id. Receipts written before have no
--    `issued_in`: no operator's row goes on them, as V120 already refused.
--
-- The checks are V120's statement trigger's (`ledger_posted`, the one function of the ledger
-- this step restates; one query where V120 had one), and the deferred trigger on a card
-- recharge's payment, queued only for a deposit keyed as one. The owner (the demo loader, imports
-- of history) is not held to either. Runs again on the schema it made (tests/two_desks.rs).
ALTER TABLE receipt ADD COLUMN IF NOT EXISTS issued_in xid8;
ALTER TABLE receipt ALTER COLUMN issued_in SET DEFAULT pg_current_xact_id();

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
               p.receipt_no IS NOT NULL
               AND (r.receipt_no IS NULL OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                    OR r.customer_id IS DISTINCT FROM a.customer_id) AS foreign_receipt
        INTO wrong
        FROM posted p
        JOIN account a ON a.id = p.account_id
        JOIN customer c ON c.id = a.customer_id
        LEFT JOIN receipt r ON r.receipt_no = p.receipt_no
        WHERE (p.receipt_no IS NOT NULL
               AND (r.receipt_no IS NULL OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                    OR r.customer_id IS DISTINCT FROM a.customer_id))
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
                      p.kind IN ('deposit', 'refund', 'consumption', 'reversal')
                  ELSE p.kind IN ('deposit', 'refund', 'bill_payment', 'reversal')
              END
        LIMIT 1;
        IF FOUND AND wrong.foreign_receipt THEN
            RAISE EXCEPTION 'permission denied: a ledger row goes on a receipt written in its own transaction for its account''s customer, not on receipt %',
                wrong.receipt_no USING ERRCODE = 'insufficient_privilege';
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

-- A card meter's deposit from an operator is a card recharge's payment: by the end of its
-- transaction, the purchase of its operation (`card-op:K:deposit` → `card-op:K:purchase`) of
-- the same amount is on the same receipt and account, and journaled as a recharge.
CREATE OR REPLACE FUNCTION ledger_card_recharge_is_its_payment() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM account a JOIN customer c ON c.id = a.customer_id
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
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS card_recharge_is_its_payment ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER card_recharge_is_its_payment
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind = 'deposit' AND NEW.idempotency_key LIKE 'card-op:%%:deposit'
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION ledger_card_recharge_is_its_payment()$t$, md_role_name('owner'));
END $$;
