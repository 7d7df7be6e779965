-- A ledger row's checks at commit read once a statement (issue 14, s43-a; docs/decisions.md,
-- "A ledger row's checks at commit one trigger…").
--
-- PostgreSQL reads every row trigger's WHEN clause again from its stored node text at each
-- statement that writes the table (stringToNode, then the expression is built): the ledger's
-- seven WHEN clauses were 6.4 kB at every INSERT of a deduction, a deposit, each of a card
-- recharge's two rows. Four of them (4.3 kB) only chose which of four deferred checks an
-- operator's row queues for its commit:
--
--   card_money_goes_with_its_operation  (V135, V163, V179)  a card purchase, a reversal, a card
--                                        refund's pay-out go with their card operation
--   card_recharge_is_its_payment        (V121, V163, V179)  a card meter's deposit is its
--                                        recharge's payment (or pays its debt)
--   card_refund_is_journaled            (V32, V82, V179)     a card_refund is a card refund's or
--                                        a clear card's credit
--   counter_money_is_audited            (V132, V179)         a counter deposit or refund comes
--                                        with its audit entry
--
-- They are now one deferred trigger, `money_checked_at_commit`, whose short WHEN queues an event
-- for every row of a kind one of them asked (all but a consumption and a bill payment), and whose
-- function asks each check under the WHEN clause it had, in the order they fired (by name, as
-- PostgreSQL fires a row's triggers), with the same queries, refusals, words and SQLSTATEs
-- (their bodies: V179's, each returning for the owner's rows first; the test is asked once).
-- The four WHEN clauses exclude each other (by kind, and a deposit's or refund's by its key),
-- so the function asks them as one IF … ELSIF: a row runs the queries of its one check only.
-- A row that queued none of them queues one event that asks nothing (a deposit or refund keyed
-- card-op: of no recharge's deposit, debt or pay-out: the desk writes none).
--
-- The function is SECURITY DEFINER, as two of the four were; the two others (card_recharge_is_
-- its_payment, card_refund_is_journaled) ran with the session's rights, and read account,
-- customer, ledger_transaction, card_operation and system_card, which every operator reads
-- whole (V13: SELECT on every table, no row security on these): the same rows are found.
-- `within_the_counters_limits` stays its own trigger: its WHEN (V118) queues nothing for a row
-- within the counter's limits, and a check of it alone (SET CONSTRAINTS … IMMEDIATE) stays
-- possible. `a_method_the_type_takes` and `ledger_check_reversal` are BEFORE triggers, asked at
-- once: unchanged.

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
                SELECT w.amount, o.purchase_seq INTO debt
                FROM account a
                JOIN card_recharge_owed w ON w.customer_id = a.customer_id
                JOIN card_operation o ON o.id = w.operation_id AND o.state = 'failed'
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

-- IF EXISTS: a test runs every migration after V109 again (two_desks), V179 making the four.
DROP TRIGGER IF EXISTS card_money_goes_with_its_operation ON ledger_transaction;
DROP TRIGGER IF EXISTS card_recharge_is_its_payment ON ledger_transaction;
DROP TRIGGER IF EXISTS card_refund_is_journaled ON ledger_transaction;
DROP TRIGGER IF EXISTS counter_money_is_audited ON ledger_transaction;
DROP FUNCTION IF EXISTS ledger_card_money_goes_with_its_operation();
DROP FUNCTION IF EXISTS ledger_card_recharge_is_its_payment();
DROP FUNCTION IF EXISTS card_refund_is_journaled();
DROP FUNCTION IF EXISTS ledger_counter_movement_is_audited();
DROP TRIGGER IF EXISTS money_checked_at_commit ON ledger_transaction;
CREATE CONSTRAINT TRIGGER money_checked_at_commit
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind <> ALL ('{consumption,bill_payment}'))
    EXECUTE FUNCTION ledger_money_checked_at_commit();
