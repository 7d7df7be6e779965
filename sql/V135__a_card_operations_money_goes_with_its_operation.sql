-- An operator's reversal, card purchase and card refund's pay-out go with the card operation
-- the desk writes them with (s37-g; docs/decisions.md, "Every money row an operator posts
-- comes with what the desk writes with it").
--
-- s37-d's "found, not fixed": a supervisor's `reversal` through `ledger_post` was not asked
-- for anything the desk writes with it; nor were the other kinds an operator's session can
-- post. What every desk path writes with each kind an operator's session posts (ledger_post's
-- callers, V121's table):
--   * deposit, refund at the counter (money_move_for): the receipt, the entry naming the row
--     (V120, V121, V132 ask it);
--   * deposit `card-op:K:deposit` (card_recharge_journal): the recharge's purchase on the same
--     receipt (V121's deferred `card_recharge_is_its_payment`);
--   * card_purchase (card_recharge_journal; card_recharge_found_on_card): the recharge's
--     journal row naming it (`card_operation.transaction_id`), inserted after it (V68's
--     `carries_its_money` ties the operation to the row, nothing tied the row to an operation);
--   * card_refund (a card refund's begin; system_card_cleared): the journal or the clear card's
--     credit naming it (V32's deferred `card_refund_is_journaled`);
--   * refund `card-op:K:payout` (card_operation_settle, done): operation K settled done in the
--     same transaction, on the payout's receipt (V121 asks the amount, V32 asks a refund settled
--     done for its payout; nothing asked the payout for its settle);
--   * reversal (card_operation_settle, failed; the only reversal any desk path posts): the
--     money of operation K, keyed `card-op:K:reversal`, with K settled failed in the same
--     transaction (V32 asks a failed operation for its reversal; nothing asked the reversal for
--     its settle). No desk path reverses any other row, and none writes an `account.reverse`
--     entry (V32's `tells_a_write` knows no such action), so a supervisor's reversal of a
--     deposit, a bill's payment or a purchase is refused here until a desk path for it exists;
--   * consumption, bill_payment: never through ledger_post from an operator (refused there);
--     only the reading and bill functions post them, with their reading or bill.
-- So a new deferred constraint trigger, `card_money_goes_with_its_operation`, queued only for
-- an operator's card_purchase, reversal or card-op pay-out (one event a recharge; one a failed
-- operation or a refund paid out; none at the counter), wants at commit the operation the desk
-- writes with it: an index probe of `card_operation_transaction` (V27) or of the operation's
-- unique key. Without it, from psql: a clerk's reversal of a pending recharge's purchase with
-- the recharge left pending (V13 lets the pending operation's money be reversed without
-- account.reverse) gave the money back while the card kept its water; a supervisor's reversal
-- of a deposit took money off a balance with no receipt and no entry; a clerk's card purchase
-- with no recharge took money off a card meter's balance for water no card got; a supervisor's
-- pay-out of a pending card refund left the refund pending, to be paid out or reversed again.
-- The owner is not asked (the demo loader turns it off with the others, ROW_TRIGGERS_OFF). Runs
-- again on the schema it made (tests/two_desks.rs).

CREATE OR REPLACE FUNCTION ledger_card_money_goes_with_its_operation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.kind = 'card_purchase' THEN
        -- The recharge journaled with it (card_recharge_journal), or settled done from the card
        -- with it (card_recharge_found_on_card): the operation names the new row.
        IF NOT EXISTS (SELECT FROM card_operation o
                       WHERE o.transaction_id = NEW.id AND o.kind = 'recharge') THEN
            RAISE EXCEPTION 'permission denied: an operator''s card_purchase is the money of the card recharge journaled with it, as the desk writes it (a card recharge); ledger row % is no recharge''s',
                NEW.id USING ERRCODE = 'insufficient_privilege';
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
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS card_money_goes_with_its_operation ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER card_money_goes_with_its_operation
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN ((NEW.kind IN ('card_purchase', 'reversal')
               OR (NEW.kind = 'refund' AND NEW.idempotency_key LIKE 'card-op:%%:payout'))
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION ledger_card_money_goes_with_its_operation()$t$, md_role_name('owner'));
END $$;
