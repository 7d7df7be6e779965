-- V209's and V222's `card_recharge_found_loaded`, one function (session 43, integrator;
-- docs/decisions.md, "What the integrator changed at the merges of session 43").
--
-- Two branches of session 43 each replaced it from V185's body: V209 (s43-c) added the
-- finding's `card.discrepancy` entry, written once by the call whose INSERT recorded the debt;
-- V222 (s43-f) refused a debt on a closed customer. Run in order, V222's body took V209's
-- entry away (the desk writes none for a debt since s43-c: the finding would go unaudited).
-- This is V209's body with V222's refusal, in V222's place (after the recharge's own checks,
-- before anything is written). Runs again on its own result (CREATE OR REPLACE).
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
    PERFORM FROM account a
    WHERE a.customer_id = (SELECT o.customer_id FROM card_operation o WHERE o.id = p_operation_id)
    FOR UPDATE;
    SELECT * INTO op FROM card_operation WHERE id = p_operation_id FOR UPDATE;
    IF NOT FOUND OR op.kind <> 'recharge' OR op.state <> 'failed'
       OR op.purchase_record_after IS DISTINCT FROM p_purchase_record THEN
        RAISE EXCEPTION 'permission denied: only a recharge settled failed, whose journaled record is on the card, is owed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT FROM customer c WHERE c.id = op.customer_id AND c.status = 'closed') THEN
        RAISE EXCEPTION 'the customer is closed: no debt is recorded on it (recharge %)', op.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
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
                                   'purchase_seq', op.purchase_seq, 'amount', owed)),
               -- What the read found, as the desk audits any difference
               -- (`reconcile::audit_card`): the meter loaded the failed recharge's purchase.
               (current_operator_id(), 'card.discrepancy', 'card', card_number,
                jsonb_build_object('kind', 'failed_purchase_found',
                                   'purchase_seq', op.purchase_seq, 'meter', 'loaded',
                                   'customer_id', op.customer_id, 'card_no', card_number));
    END IF;
    RETURN owed;
END $$;
