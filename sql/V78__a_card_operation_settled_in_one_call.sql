-- A card operation's settle in one call (issue 14: fewer statements and round trips per business
-- operation; decision: docs/decisions.md, "A card operation's settle in one call"). The desk
-- (db::card_ops::settle) sent BEGIN with the operation's read (locked) and the question whether
-- the card's meter write-back is news, waited, then the note of the write-back if it was, the
-- reversal or payout and the card's row if the resolution asked for them, and the operation's
-- finishing with COMMIT: two to five round trips, each a wake-up of the backend. This function
-- runs the same statements in the same order in one call, with the caller's rights (SECURITY
-- INVOKER, as V33's card_recharge_journal): the card table's statement guard, card_operation's
-- `rules` (settled once, from pending, by card.read or card.resolve), ledger_post's permission
-- checks, the receipt's and the audit log's triggers, and the checks at commit (V73's
-- settles_with_its_money: a failed operation reversed, a refund paid out) apply exactly as to the
-- statements sent one by one, with the same refusals. A clerk can do nothing with it that the
-- statements did not let them do.
--
-- The resolution from the card read back is the comparison domain::card_counter's
-- CardWritePlan::resolve makes, on the plan the operation journaled: `p_card` is the card's three
-- records as the desk serializes them (a JSON array indexed by Ef::index, each record an array
-- of its bytes, as the plan's records are). `p_resolution` ('done' or 'failed') is a
-- supervisor's, settling without the card: then `p_card` is not asked.
--
-- Answers the operation's kind, customer, state, whether this call finished it, and the receipt
-- of its money when it did (a recharge's, made at begin; a refund's payout receipt, made now);
-- all NULL when there is no such operation. One record, not a set: a set function's rows go
-- through a tuplestore.
CREATE FUNCTION card_operation_settle(
    p_operation_id bigint, p_card jsonb, p_resolution text, p_failure_reason text,
    p_card_no bigint, p_meter_loaded_seq bigint, p_meter_generation smallint,
    OUT kind text, OUT customer_id bigint, OUT state text, OUT settled_now boolean,
    OUT receipt_no bigint
)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    op card_operation;
    money ledger_transaction;
    resolution text := p_resolution;
    decisive jsonb;
    found_record jsonb;
BEGIN
    -- A resolution without the card is a supervisor's (card.resolve), whoever else may settle.
    IF p_resolution IS NOT NULL THEN
        PERFORM md_require('card.resolve');
    END IF;
    SELECT o.* INTO op FROM card_operation o WHERE o.id = p_operation_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- The card's meter state is kept whatever the operation's, and written only when it is news:
    -- an UPDATE that matches no row still runs the card table's statement guard.
    IF p_card_no IS NOT NULL AND EXISTS (
           SELECT FROM card c
           WHERE c.card_no = p_card_no
             AND (c.meter_loaded_seq IS NULL OR c.meter_loaded_seq < p_meter_loaded_seq
                  OR c.meter_generation IS NULL OR c.meter_generation < p_meter_generation)) THEN
        UPDATE card SET meter_loaded_seq = GREATEST(meter_loaded_seq, p_meter_loaded_seq),
                        meter_generation = GREATEST(meter_generation, p_meter_generation),
                        meter_read_at = CASE WHEN meter_loaded_seq >= p_meter_loaded_seq
                                             THEN meter_read_at ELSE now() END
        WHERE card_no = p_card_no
          AND (meter_loaded_seq IS NULL OR meter_loaded_seq < p_meter_loaded_seq
               OR meter_generation IS NULL OR meter_generation < p_meter_generation);
    END IF;

    kind := op.kind;
    customer_id := op.customer_id;
    state := op.state;
    settled_now := false;
    IF op.state <> 'pending' THEN
        RETURN;
    END IF;
    SELECT t.* INTO money FROM ledger_transaction t WHERE t.id = op.transaction_id;

    -- CardWritePlan::resolve: a card that is not the one written (its issue record, when the
    -- operation leaves it alone) concludes nothing; then the decisive write's record as it is
    -- after (done: a write that changed nothing is done all the same) or before (failed).
    IF resolution IS NULL THEN
        decisive := op.plan -> 'decisive';
        found_record := p_card -> (CASE decisive ->> 'ef' WHEN 'Issue' THEN 0
                                                          WHEN 'Purchase' THEN 1
                                                          WHEN 'MeterWriteBack' THEN 2 END);
        resolution := CASE
            WHEN jsonb_typeof(op.plan -> 'issue_record') = 'array'
                 AND (p_card -> 0) IS DISTINCT FROM op.plan -> 'issue_record' THEN 'conflict'
            WHEN found_record = decisive -> 'after' THEN 'done'
            WHEN found_record = decisive -> 'before' THEN 'failed'
            ELSE 'conflict' END;
    END IF;
    IF resolution NOT IN ('done', 'failed') THEN
        RETURN;
    END IF;

    IF resolution = 'done' THEN
        -- What becomes true when the card shows the write: a refund is paid out on a receipt of
        -- its own, a recycled card is no longer the customer's; a recharge's receipt was made
        -- at begin.
        CASE op.kind
            WHEN 'refund' THEN
                IF op.payment_method_code IS NOT NULL AND money.id IS NOT NULL THEN
                    INSERT INTO receipt (receipt_no, customer_id, operator_id)
                    VALUES (nextval('receipt_no_seq'), op.customer_id, op.operator_id)
                    RETURNING receipt.receipt_no INTO card_operation_settle.receipt_no;
                    PERFORM ledger_post(money.account_id, 'refund', -money.amount, NULL, NULL,
                                        op.payment_method_code, card_operation_settle.receipt_no,
                                        'card-op:' || op.idempotency_key || ':payout');
                END IF;
            WHEN 'recycle' THEN
                UPDATE card SET state = 'recycled',
                                void_reason = coalesce(void_reason, 'returned'),
                                voided_at = coalesce(voided_at, now())
                WHERE id = op.card_id;
            WHEN 'recharge' THEN
                receipt_no := money.receipt_no;
            ELSE
        END CASE;
    ELSE
        -- What is undone when the card shows it never took the write: the money movement is
        -- reversed, a card that was never issued is void.
        IF money.id IS NOT NULL THEN
            PERFORM ledger_post(money.account_id, 'reversal', -money.amount, NULL, NULL, NULL,
                                NULL, 'card-op:' || op.idempotency_key || ':reversal', money.id);
        END IF;
        IF op.kind IN ('open', 'replace') THEN
            UPDATE card SET state = 'void', void_reason = 'not_issued', voided_at = now()
            WHERE id = op.card_id;
        END IF;
    END IF;
    UPDATE card_operation
    SET state = resolution, finished_at = now(),
        failure_reason = CASE WHEN resolution = 'failed' THEN p_failure_reason END
    WHERE id = op.id;
    state := resolution;
    settled_now := true;
END $$;
