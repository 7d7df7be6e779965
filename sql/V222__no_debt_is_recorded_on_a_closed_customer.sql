-- No debt of water a meter loaded unpaid is recorded on a closed customer (s43-f;
-- docs/decisions.md, "A clerk with psql after sessions 40–42…").
--
-- V184 keeps a customer who owes such a debt from being closed: paid by nothing once closed (a
-- closed account moves no money, V132's `ledger_posted`), it would be owed for ever. The other
-- order was open: a closed customer's failed recharge, its card's write-back noted (the card is
-- recycled, its row's meter columns are `card_meter_noted`'s), and a clerk's psql
-- `card_recharge_found_loaded(K, record, write_back)` recorded a debt on the closed customer —
-- read-only since V24 — which `card_recharge_owed_pay` could never take ("the customer is
-- closed"), which `report_arrears_by_age` counted among the customers owing, and whose
-- `card.owed` entry said it was found. The desk never asks it for a closed customer: its read
-- of a card that is not its holder's active one stops at "void card" before the purchase is
-- compared (`card_ops::reconcile`), and a closed customer has no active card (V24).
--
-- Now refused, in the words and SQLSTATE of a closed customer's money (55000), after the
-- recharge's own checks: nothing is written, not even the card's write-back. V185's body
-- otherwise unchanged. `meterdesk check` says a debt still owed by a closed customer (one
-- recorded before this). Runs again on its own result (CREATE OR REPLACE).
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
                                   'purchase_seq', op.purchase_seq, 'amount', owed));
    END IF;
    RETURN owed;
END $$;
