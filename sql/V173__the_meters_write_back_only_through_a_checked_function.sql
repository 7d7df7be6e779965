-- The meter's write-back as the counter read it is noted only by a checked function, a
-- recharge's purchase sequence follows the customer's last, and a debt of water a meter loaded
-- unpaid is recorded only from a write-back that says that purchase was the last loaded, kept
-- with the debt (s41-a; docs/decisions.md, "The card debt's boundary").
--
-- V163's "Found, not fixed": a clerk's psql could raise `card.meter_loaded_seq` (`UPDATE card`,
-- or the write-back arguments of `card_recharge_journal` / `card_operation_settle`, which run
-- with the clerk's own rights) past any purchase, and then record a debt for any failed
-- recharge of the customer's through `card_recharge_found_loaded`, which asked only that some
-- card of the customer's had a write-back at or past it noted.
--   1. `card_meter_noted(card_no, loaded, generation)` (SECURITY DEFINER) is the only writer of
--      a card's meter columns (`meter_loaded_seq`, `meter_generation`, `meter_read_at`): no
--      operator may UPDATE them any more. It keeps what V31's trigger held (forward only, read
--      now) and adds what the database knows of every card the counter wrote: a meter loads
--      only a purchase the counter journaled for the customer, so the last loaded sequence is
--      at most the customer's highest journaled purchase, and a meter registers only a
--      generation the customer's cards were issued with. Past either it is refused.
--      `card_recharge_journal` (V119's) and `card_operation_settle` (V165's) call it instead of
--      their UPDATE (nothing else of them changes); the desk's own note (db::card_ops,
--      NOTE_METER_STATE) calls it too.
--   2. A recharge's purchase sequence is the customer's last recharge's plus one (what the
--      desk plans, `plan_recharge`): a clerk cannot journal a purchase far ahead to lift the
--      bound of 1.
--   3. `card_recharge_found_loaded(K, record, write_back)` takes the 32 bytes of the card's
--      meter write-back (EF 0003) it decides from: its last loaded purchase must be K's own
--      (the desk's `MeterSaw::Loaded`, not "at or past"), of K's card; the function notes it
--      (1) and keeps it with the debt (`card_recharge_owed.write_back`). The database cannot
--      check its MAC (the card key is not in the database, and should not be: see the
--      decision); `meterdesk check`, which runs where the key is, checks the MACs of every
--      debt's journaled purchase and write-back.
-- The owner (the demo loader, imports, fixtures) is not held to these. Runs again on its own
-- result (tests/two_desks.rs): IF NOT EXISTS, CREATE OR REPLACE, DROP … IF EXISTS.

-- ───────────────────────────── 1. The meter's write-back ─────────────────────────────

CREATE OR REPLACE FUNCTION card_meter_noted(p_card_no bigint, p_loaded bigint,
                                            p_generation smallint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target record;
BEGIN
    -- Whoever may write a card row (the card table's statement guard, V13), or settle one.
    PERFORM md_require('card.read', 'card.open', 'card.recharge', 'card.refund', 'card.replace',
                       'card.recycle', 'card.resolve');
    IF p_loaded IS NULL THEN
        RETURN;
    END IF;
    -- A write-back seen before changes nothing: no statement, no new row version.
    SELECT c.id, c.card_no, c.customer_id INTO target FROM card c
    WHERE c.card_no = p_card_no
      AND (c.meter_loaded_seq IS NULL OR c.meter_loaded_seq < p_loaded
           OR c.meter_generation IS NULL OR c.meter_generation < p_generation);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_loaded > coalesce((SELECT max(o.purchase_seq) FROM card_operation o
                            WHERE o.customer_id = target.customer_id
                              AND o.kind IN ('recharge', 'replace')), 0)
       OR p_generation > (SELECT max(c.generation) FROM card c
                          WHERE c.customer_id = target.customer_id) THEN
        RAISE EXCEPTION 'permission denied: card % shows a meter that loaded purchase % and registered generation %: no such purchase or card was written for its customer',
            p_card_no, p_loaded, p_generation USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE card SET meter_loaded_seq = GREATEST(meter_loaded_seq, p_loaded),
                    meter_generation = GREATEST(meter_generation, p_generation),
                    meter_read_at = CASE WHEN meter_loaded_seq >= p_loaded
                                         THEN meter_read_at ELSE now() END
    WHERE id = target.id;
END $$;

DO $$
BEGIN
    EXECUTE format('REVOKE UPDATE (meter_loaded_seq, meter_generation, meter_read_at) ON card FROM %I',
                   md_role_name('operator'));
END $$;

-- V119's journal of a recharge, its write-back noted by card_meter_noted; otherwise unchanged.
CREATE OR REPLACE FUNCTION card_recharge_journal(
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint DEFAULT NULL, p_meter_generation smallint DEFAULT NULL,
    p_owner_seen bigint DEFAULT NULL,
    OUT operation_id bigint, OUT receipt_no bigint
)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    purchase bigint;
BEGIN
    -- Behind the account's lock, which the caller took in an earlier statement: a transfer
    -- that held the account has committed, and this statement sees it.
    PERFORM customer_owner_unchanged(p_customer_id, p_owner_seen);
    -- NOTE_METER_STATE's call: a write-back seen before changes nothing.
    IF p_meter_loaded_seq IS NOT NULL THEN
        PERFORM card_meter_noted(p_card_no, p_meter_loaded_seq, p_meter_generation);
    END IF;
    INSERT INTO receipt (receipt_no, customer_id, operator_id)
    VALUES (nextval('receipt_no_seq'), p_customer_id, p_operator_id)
    RETURNING receipt.receipt_no INTO card_recharge_journal.receipt_no;
    -- Paid at the counter: the money comes in on the receipt before the purchase takes it.
    IF p_payment_method_code IS NOT NULL THEN
        PERFORM ledger_post(p_account_id, 'deposit', p_amount, NULL, NULL, p_payment_method_code,
                            card_recharge_journal.receipt_no,
                            'card-op:' || p_idempotency_key || ':deposit');
    END IF;
    purchase := ledger_post(p_account_id, 'card_purchase', -p_amount, p_volume, p_unit_price,
                            NULL, card_recharge_journal.receipt_no,
                            'card-op:' || p_idempotency_key || ':purchase');
    INSERT INTO card_operation (customer_id, card_id, kind, purchase_seq, volume_litres,
                                issue_record_before, issue_record_after, purchase_record_before,
                                purchase_record_after, transaction_id, idempotency_key,
                                operator_id, plan, payment_method_code)
    VALUES (p_customer_id, p_card_id, 'recharge', p_purchase_seq, p_volume_litres,
            p_issue_record_before, p_issue_record_after, p_purchase_record_before,
            p_purchase_record_after, purchase, p_idempotency_key, p_operator_id, p_plan,
            p_payment_method_code)
    RETURNING card_operation.id INTO card_recharge_journal.operation_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (p_operator_id, 'card.recharge', 'card_operation', card_recharge_journal.operation_id,
            jsonb_build_object('customer_id', p_customer_id, 'card_no', p_card_no));
END $$;

-- V165's settle, its write-back noted by card_meter_noted; otherwise unchanged.
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
    -- news (card_meter_noted asks).
    IF p_card_no IS NOT NULL THEN
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

-- ───────────────────────────── 2. A purchase follows the last ─────────────────────────────

-- An operator's recharge writes the purchase after the customer's last recharge's, whatever
-- became of it (a failed one's number is not used again): `plan_recharge`'s sequence. The
-- caller holds the customer's account (every begin takes it first), so two desks cannot both
-- take the same number. Named to fire after V68's `rules` (BEFORE triggers fire by name), whose
-- refusals come first as they did.
CREATE OR REPLACE FUNCTION card_operation_purchase_follows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    last bigint;
BEGIN
    SELECT max(o.purchase_seq) INTO last FROM card_operation o
    WHERE o.customer_id = NEW.customer_id AND o.kind = 'recharge';
    IF NEW.purchase_seq IS DISTINCT FROM coalesce(last, 0) + 1 THEN
        RAISE EXCEPTION 'permission denied: customer %''s next purchase is %, not %',
            NEW.customer_id, coalesce(last, 0) + 1, NEW.purchase_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS sequence_follows ON card_operation;
DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER sequence_follows BEFORE INSERT ON card_operation
        FOR EACH ROW
        WHEN (NEW.kind = 'recharge' AND NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION card_operation_purchase_follows()$t$, md_role_name('owner'));
END $$;

-- ───────────────────────────── 3. The debt and its write-back ─────────────────────────────

ALTER TABLE card_recharge_owed ADD COLUMN IF NOT EXISTS write_back bytea;
DROP FUNCTION IF EXISTS card_recharge_found_loaded(bigint, bytea);

-- Read at the counter from the card that took recharge `p_operation_id`: its journaled record
-- `p_purchase_record` is on the card, whose meter write-back `p_write_back` (EF 0003's 32
-- bytes) says the meter loaded it last. Notes the write-back, records the debt with it (once)
-- and returns its sum.
CREATE OR REPLACE FUNCTION card_recharge_found_loaded(p_operation_id bigint,
                                                      p_purchase_record bytea,
                                                      p_write_back bytea)
RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    op card_operation;
    owed numeric;
    held numeric;
    card_number bigint;
BEGIN
    PERFORM md_require('card.read');
    SELECT * INTO op FROM card_operation WHERE id = p_operation_id FOR UPDATE;
    IF NOT FOUND OR op.kind <> 'recharge' OR op.state <> 'failed'
       OR op.purchase_record_after IS DISTINCT FROM p_purchase_record THEN
        RAISE EXCEPTION 'permission denied: only a recharge settled failed, whose journaled record is on the card, is owed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT -t.amount INTO owed FROM ledger_transaction t WHERE t.id = op.transaction_id;
    SELECT a.balance INTO held FROM account a WHERE a.customer_id = op.customer_id FOR UPDATE;
    IF held >= owed THEN
        RAISE EXCEPTION 'permission denied: the balance covers recharge %: card_recharge_found_on_card settles it',
            op.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The write-back of card_records::MeterWriteBack: format 1, the last loaded purchase in
    -- bytes 1-4, the generation in byte 5, bytes 19-23 zero, the MAC in 24-31. The purchase
    -- it names last loaded is K's (MeterSaw::Loaded; a later one says nothing of K).
    IF p_write_back IS NULL OR length(p_write_back) <> 32 OR get_byte(p_write_back, 0) <> 1
       OR substr(p_write_back, 20, 5) <> '\x0000000000'::bytea
       OR (get_byte(p_write_back, 1)::bigint << 24) + (get_byte(p_write_back, 2) << 16)
          + (get_byte(p_write_back, 3) << 8) + get_byte(p_write_back, 4)
          IS DISTINCT FROM op.purchase_seq THEN
        RAISE EXCEPTION 'permission denied: the meter write-back presented does not say purchase % was the last the meter loaded',
            op.purchase_seq USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- K's own card (an old copy is an image of it, under its number); noted as any read notes
    -- it, within what was written for the customer.
    SELECT c.card_no INTO card_number FROM card c WHERE c.id = op.card_id;
    PERFORM card_meter_noted(card_number, op.purchase_seq, get_byte(p_write_back, 5)::smallint);
    INSERT INTO card_recharge_owed (operation_id, customer_id, card_no, amount, found_by,
                                    write_back)
    VALUES (op.id, op.customer_id, card_number, owed, current_operator_id(), p_write_back)
    ON CONFLICT (operation_id) DO NOTHING;
    IF FOUND THEN
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (current_operator_id(), 'card.owed', 'card_operation', op.id,
                jsonb_build_object('customer_id', op.customer_id, 'card_no', card_number,
                                   'purchase_seq', op.purchase_seq, 'amount', owed));
    END IF;
    RETURN owed;
END $$;
