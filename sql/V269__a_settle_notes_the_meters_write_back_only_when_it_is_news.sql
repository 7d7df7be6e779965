-- A card operation's settle sends the card's meter write-back to card_meter_noted only when it
-- is news (issue 14, s46-a; docs/decisions.md, "A card recharge's begin cut").
--
-- V173's settle called card_meter_noted (SECURITY DEFINER: its own permission ask, its own
-- search_path) for every card it was given; a settle most often follows the begin that noted
-- the same write-back, so the call asked a permission to change nothing. The settle now reads
-- the card's row first, as the session's user (its row security applies: a card the user does
-- not serve is not read, and its operation is not read either), and calls card_meter_noted only
-- for a write-back the row does not show yet; card_meter_noted asks and reads again as before.
-- A pending operation's settle still asks card.read or card.resolve (its rules, at the UPDATE).
-- V173's body otherwise whole. Runs again on its own result.
CREATE OR REPLACE FUNCTION card_operation_settle(p_operation_id bigint, p_card jsonb, p_resolution text, p_failure_reason text, p_card_no bigint, p_meter_loaded_seq bigint, p_meter_generation smallint, OUT kind text, OUT customer_id bigint, OUT state text, OUT settled_now boolean, OUT receipt_no bigint,
    OUT amount numeric)
RETURNS record
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    op card_operation;
    money ledger_transaction;
    locked record;
    resolution text := p_resolution;
    decisive jsonb;
    found_record jsonb;
BEGIN
    -- A resolution without the card is a supervisor's (card.resolve), whoever else may settle.
    IF p_resolution IS NOT NULL THEN
        PERFORM md_require('card.resolve');
    END IF;
    -- The operation, locked, and the money it moved, in one statement; the amount is told
    -- whatever the operation's state (a failure adds a reversal, not another row for it).
    -- A pending operation's customer's account is taken first, in the scan's filter, before
    -- the operation's row is locked above it: what the settle writes then (a refund's receipt,
    -- which holds the customer's key, and its money; a reversal) comes after the account, as in
    -- every customer write and in a card operation's begin (account, then the operation).
    -- Taken after its receipt, a transfer holding the account and waiting for the customer
    -- deadlocked with it, and the receipt named the holder before a transfer that committed
    -- before its money moved. A settled operation's account is not taken (nothing is written).
    SELECT o AS op, t AS money INTO locked
    FROM card_operation o LEFT JOIN ledger_transaction t ON t.id = o.transaction_id
    WHERE o.id = p_operation_id
      AND (o.state <> 'pending'
           OR EXISTS (SELECT FROM account a WHERE a.customer_id = o.customer_id
                      FOR NO KEY UPDATE OF a))
    FOR UPDATE OF o;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    op := locked.op;
    money := locked.money;
    amount := abs(money.amount);
    -- The card's meter state is kept whatever the operation's, and written only when it is
    -- news (card_meter_noted asks). A write-back the card's row already shows is not sent
    -- (V269): most settles follow the begin that noted it; the row is read as this session's
    -- user reads it, and card_meter_noted asks its permission and reads it again when it goes.
    IF p_card_no IS NOT NULL AND p_meter_loaded_seq IS NOT NULL
       AND EXISTS (SELECT FROM card c
                   WHERE c.card_no = p_card_no
                     AND (c.meter_loaded_seq IS NULL OR c.meter_loaded_seq < p_meter_loaded_seq
                          OR c.meter_generation IS NULL
                          OR c.meter_generation < p_meter_generation)) THEN
        PERFORM card_meter_noted(p_card_no, p_meter_loaded_seq, p_meter_generation);
    END IF;

    kind := op.kind;
    customer_id := op.customer_id;
    state := op.state;
    settled_now := false;
    IF op.state <> 'pending' THEN
        RETURN;
    END IF;

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

