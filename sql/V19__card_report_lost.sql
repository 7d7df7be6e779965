-- Reporting a card lost before a replacement is issued (issue 11, item 5): the customer's active
-- card is void at once — refused at every counter — and blacklisted; the next card issued
-- (Replace card) carries its number to the meter in its purchase record's blacklist field
-- (docs/card-records.md), so the meter refuses it after the new card's first swipe.
-- Replace card's own permission; serialised with the customer's card operations, which lock
-- the account row first.
CREATE FUNCTION card_report_lost(p_customer_id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    lost_card_no bigint;
BEGIN
    PERFORM md_require('card.replace');
    PERFORM FROM account WHERE customer_id = p_customer_id FOR UPDATE;
    UPDATE card SET state = 'void', void_reason = 'lost', voided_at = now(), blacklisted = true
    WHERE customer_id = p_customer_id AND state = 'active'
    RETURNING card_no INTO lost_card_no;
    IF lost_card_no IS NOT NULL THEN
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (current_operator_id(), 'card.report_lost', 'card', lost_card_no,
                jsonb_build_object('customer_id', p_customer_id, 'card_no', lost_card_no));
    END IF;
    RETURN lost_card_no;
END $$;
