-- A card recharge's price check and a card operation's settle in fewer statements; a card
-- account's water without a walk of all its recharges (issue 14, s38-c; docs/decisions.md, "A card
-- recharge's begin and settle in fewer statements").
--
--  * card_operation_rules (V125's, CREATE OR REPLACE, the same trigger): a recharge's money
--    (its ledger row under its own key, on the customer's account, for the water it bought) and
--    what the price check asks of the customer (the prepaid scheme, the version in force today,
--    whether its one tier is its whole price, the customer's status) are one statement where
--    they were two. Every refusal is in its words and its order: no money first, then the
--    operator's permission (md_require), then no prepaid scheme, then no price in force. A
--    refund's money is read as before; nothing else changes.
--  * card_operation_settle (V78's): the operation, locked, and its money row in one statement
--    where they were two, and the money's amount told as `amount` (the desk asked it in a
--    subselect of its own, reading the operation and the ledger row again). A new OUT column
--    changes the function's row type: dropped and created again (the default privileges give
--    the operators EXECUTE, as V13 set them).
--  * md_card_water (V124's, CREATE OR REPLACE): the refunds that leave a purchase out are read
--    from the account's customer's done refunds (card_operation_refunded, nearly always none)
--    to the purchases they gave back; V124's hashed subplan was planned from the purchases'
--    side and walked every recharge the customer ever made (card_operation_purchase_seq,
--    fetching each row) to find the few refunded. The same rows, the same m³; still SQL
--    without SET, inlined, its arguments and answer unchanged.
--
-- Re-runnable on its own result (tests/two_desks.rs runs V109 and what follows it again).

CREATE OR REPLACE FUNCTION card_operation_rules()
 RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    owner_role name := TG_ARGV[0];
    by_owner boolean := pg_has_role(current_user, owner_role, 'MEMBER');
    own_key text;
    money ledger_transaction;
    scheme record;
    months integer;
    closed boolean;
    cycle record;
    accumulated numeric;
    charge record;
    me bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT by_owner THEN
            RAISE EXCEPTION 'permission denied: a card operation is never deleted'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;

    IF TG_OP = 'UPDATE' THEN
        IF NOT by_owner THEN
            -- guard_write: finishing one is whichever desk next reads its card, or a supervisor.
            PERFORM md_require('card.read', 'card.resolve');
            -- settles_once.
            IF OLD.state <> 'pending' OR NEW.state NOT IN ('done', 'failed') THEN
                RAISE EXCEPTION 'permission denied: card operation % is settled once, from pending to done or failed (it is %)',
                    OLD.id, OLD.state USING ERRCODE = 'insufficient_privilege';
            END IF;
            NEW.finished_at := now();
        END IF;
        RETURN NEW;
    END IF;

    IF NOT by_owner THEN
        -- carries_its_money: a recharge or refund with the money it moved under its own key,
        -- a recharge with the water it bought; another kind moves no money.
        IF NEW.kind = 'recharge' THEN
            own_key := 'card-op:' || NEW.idempotency_key || ':purchase';
            -- The money, and what pays_the_price below asks of the customer (the prepaid
            -- scheme, the version in force today, whether its one tier is its whole price, the
            -- customer's status), in one statement: `priced` is false where V125's statement
            -- found no row.
            SELECT t AS money, s.id AS scheme_id, s.billing_mode, s.accumulation_cycle_months,
                   s.start_date, v.id AS in_force, v.one_price, c.status = 'closed' AS closed,
                   s.id IS NOT NULL AS priced
            INTO scheme
            FROM ledger_transaction t
            JOIN account a ON a.id = t.account_id
            LEFT JOIN (customer c
                       JOIN customer_type ct ON ct.id = c.customer_type_id
                       JOIN price_scheme s ON s.id = ct.price_scheme_id AND s.kind = 'prepaid')
                   ON c.id = NEW.customer_id
            LEFT JOIN LATERAL (
                SELECT v.id,
                       (SELECT count(*) = 1 AND bool_and(pt.upper_bound_m3 IS NULL)
                        FROM price_tier pt WHERE pt.price_version_id = v.id) AS one_price
                FROM price_version v
                WHERE v.price_scheme_id = s.id AND v.effective_from <= current_date
                ORDER BY v.effective_from DESC LIMIT 1) v ON true
            WHERE t.id = NEW.transaction_id AND a.customer_id = NEW.customer_id
              AND t.idempotency_key = own_key AND t.volume * 1000 = NEW.volume_litres;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: a card % is journaled with the money it moved under its own key (%), and a recharge with the water it bought',
                    NEW.kind, own_key USING ERRCODE = 'insufficient_privilege';
            END IF;
            money := scheme.money;
        ELSIF NEW.kind = 'refund' THEN
            own_key := 'card-op:' || NEW.idempotency_key || ':card_refund';
            SELECT t.* INTO money FROM ledger_transaction t JOIN account a ON a.id = t.account_id
            WHERE t.id = NEW.transaction_id AND a.customer_id = NEW.customer_id
              AND t.idempotency_key = own_key;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: a card % is journaled with the money it moved under its own key (%), and a recharge with the water it bought',
                    NEW.kind, own_key USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF NEW.transaction_id IS NOT NULL THEN
            RAISE EXCEPTION 'permission denied: a card % moves no money', NEW.kind
                USING ERRCODE = 'insufficient_privilege';
        END IF;

        -- guard_write: a card operation of kind K needs card.K.
        PERFORM md_require('card.' || NEW.kind);

        -- pays_the_price: exactly the price in force for its water (V61's one slice, today).
        IF NEW.kind = 'recharge' THEN
            IF NOT scheme.priced THEN
                RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
                    NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF scheme.in_force IS NULL THEN
                RAISE EXCEPTION 'permission denied: price scheme % has no price on %',
                    scheme.scheme_id, current_date USING ERRCODE = 'insufficient_privilege';
            END IF;
            closed := scheme.closed;
            IF scheme.one_price THEN
                -- One unbounded tier: every m³ costs its price, whatever the cycle's water
                -- before it (md_charge's answer for any water the desk sells after).
                accumulated := 0;
            ELSE
                -- A fixed price accumulates nothing: any cycle will do (12 months, as md_price).
                months := coalesce(scheme.accumulation_cycle_months, 12);
                cycle := md_cycle(scheme.start_date, months, current_date);
                SELECT coalesce(sum(w.volume), 0) INTO accumulated
                FROM md_card_water(money.account_id,
                                   greatest(cycle.first_day,
                                            (current_date - make_interval(months => months))::date),
                                   current_date + 1) w
                WHERE w.transaction_id <> money.id;
            END IF;
            charge := md_charge(scheme.in_force, scheme.billing_mode, accumulated, money.volume);
            IF (-money.amount = charge.amount
                AND money.unit_price IS NOT DISTINCT FROM
                    (CASE WHEN jsonb_array_length(charge.lines) = 1
                          THEN (charge.lines #>> '{0,unit_price}')::numeric END)) IS NOT TRUE THEN
                RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
                    NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
        END IF;

        -- refunds_the_purchase: a purchase given back as it was paid, for its water, once,
        -- before a meter loads it.
        IF NEW.kind = 'refund' AND (
               NOT EXISTS (
                   SELECT FROM card_operation p
                   JOIN ledger_transaction paid ON paid.id = p.transaction_id
                   JOIN ledger_transaction back ON back.id = NEW.transaction_id
                   WHERE p.customer_id = NEW.customer_id AND p.kind = 'recharge'
                     AND p.state = 'done' AND p.purchase_seq = NEW.purchase_seq
                     AND p.volume_litres = NEW.volume_litres
                     AND back.amount = -paid.amount AND back.account_id = paid.account_id)
               OR EXISTS (SELECT FROM card_operation r
                          WHERE r.customer_id = NEW.customer_id AND r.kind = 'refund'
                            AND r.purchase_seq = NEW.purchase_seq AND r.state <> 'failed')
               OR EXISTS (SELECT FROM card
                          WHERE customer_id = NEW.customer_id
                            AND meter_loaded_seq >= NEW.purchase_seq)) THEN
            RAISE EXCEPTION 'permission denied: a card refund gives back purchase % of customer % as it was paid, for its water, once, before a meter loads it',
                NEW.purchase_seq, NEW.customer_id USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;

    -- refuses_closed_customer: asked of the session's user; a closed customer's card may
    -- still be recycled.
    IF NEW.kind <> 'recycle' AND NOT pg_has_role(session_user, owner_role, 'MEMBER')
       AND coalesce(closed,
                    EXISTS (SELECT FROM customer WHERE id = NEW.customer_id AND status = 'closed')) THEN
        RAISE EXCEPTION 'customer % is closed: no card is written for it', NEW.customer_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- stamp_operator: the signed-in operator, over what the row says.
    me := current_operator_id();
    IF me IS NOT NULL THEN
        NEW.operator_id := me;
    END IF;
    RETURN NEW;
END $$;


DROP FUNCTION IF EXISTS card_operation_settle(bigint, jsonb, text, text, bigint, bigint, smallint);

CREATE FUNCTION card_operation_settle(p_operation_id bigint, p_card jsonb, p_resolution text, p_failure_reason text, p_card_no bigint, p_meter_loaded_seq bigint, p_meter_generation smallint, OUT kind text, OUT customer_id bigint, OUT state text, OUT settled_now boolean, OUT receipt_no bigint,
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
    SELECT o AS op, t AS money INTO locked
    FROM card_operation o LEFT JOIN ledger_transaction t ON t.id = o.transaction_id
    WHERE o.id = p_operation_id FOR UPDATE OF o;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    op := locked.op;
    money := locked.money;
    amount := abs(money.amount);
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


CREATE OR REPLACE FUNCTION md_card_water(p_account_id bigint, p_from date, p_to date)
RETURNS TABLE (transaction_id bigint, read_on date, volume numeric)
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.created_at::date, t.volume - coalesce(credited.litres, 0) * 0.001
    FROM public.ledger_transaction t
    LEFT JOIN LATERAL (SELECT sum(l.litres) AS litres FROM public.system_card_credit_line l
                       WHERE l.purchase_transaction_id = t.id) credited ON true
    WHERE t.account_id = p_account_id AND t.kind = 'card_purchase'
      AND t.created_at >= p_from AND t.created_at < p_to
      AND NOT EXISTS (SELECT FROM public.ledger_transaction r WHERE r.reverses_id = t.id)
      AND t.id NOT IN (SELECT bought.transaction_id
                       FROM public.card_operation refund
                       JOIN public.card_operation bought
                         ON bought.customer_id = refund.customer_id
                        AND bought.purchase_seq = refund.purchase_seq
                        AND bought.kind = 'recharge'
                       WHERE refund.customer_id = (SELECT a.customer_id FROM public.account a
                                                   WHERE a.id = p_account_id)
                         AND refund.kind = 'refund' AND refund.state = 'done'
                         AND bought.transaction_id IS NOT NULL)
$$;
