-- Every meter write-back noted on a card's row leaves an audit entry naming the operator
-- (s42-e; docs/decisions.md, "The meter's write-back, audited").
--
-- V173's "Found, not fixed": `card_meter_noted` is the clerk's to call without a card (psql with
-- the desk's role), within its bounds: a write-back up to the customer's last journaled purchase
-- could be noted by hand with no trace, and it refuses that purchase's refund as loaded. The
-- database cannot tell a note made from a read of the card from one typed by hand: the
-- write-back's MAC needs the card key, which is not in the database (V173's decision), and the
-- bytes of EF 0003 can be read off the card by any PC/SC tool anyway. So it is not refused; it
-- is told: each note that changes the card's row writes `card.meter_noted` (entity `card`, the
-- card number; the customer, and the row's last loaded purchase and registered generation
-- `before` and `after`, as the audit viewer shows a change), naming the operator whose session
-- called it — through the desk's read (`NOTE_METER_STATE`), a recharge's journal, a settle, a
-- debt's read, or psql. A write-back seen before still writes nothing, not even an entry.
--
-- V173's body otherwise unchanged (its permission, its bounds, its words). Runs again on its own
-- result (tests/two_desks.rs): CREATE OR REPLACE.
CREATE OR REPLACE FUNCTION card_meter_noted(p_card_no bigint, p_loaded bigint,
                                            p_generation smallint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target record;
    noted record;
BEGIN
    -- Whoever may write a card row (the card table's statement guard, V13), or settle one.
    PERFORM md_require('card.read', 'card.open', 'card.recharge', 'card.refund', 'card.replace',
                       'card.recycle', 'card.resolve');
    IF p_loaded IS NULL THEN
        RETURN;
    END IF;
    -- A write-back seen before changes nothing: no statement, no new row version, no entry.
    SELECT c.id, c.card_no, c.customer_id, c.meter_loaded_seq, c.meter_generation
    INTO target FROM card c
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
    WHERE id = target.id
    RETURNING meter_loaded_seq, meter_generation INTO noted;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.meter_noted', 'card', target.card_no,
            jsonb_build_object('customer_id', target.customer_id, 'card_no', target.card_no,
                               'before', jsonb_build_object(
                                   'meter_loaded_seq', target.meter_loaded_seq,
                                   'meter_generation', target.meter_generation),
                               'after', jsonb_build_object(
                                   'meter_loaded_seq', noted.meter_loaded_seq,
                                   'meter_generation', noted.meter_generation)));
END $$;
