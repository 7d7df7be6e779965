-- A system card (setting, check, clear) is a card meter's tool: journaled only for a meter whose
-- type takes cards. Session 31 by hand: a supervisor checked, confirmed and could write a
-- setting card for a postpaid remote-read meter, which has no card slot. Everything else as
-- sql/V23: the permission first, an unknown meter answered NULL, the journal row and its entry.
CREATE OR REPLACE FUNCTION system_card_begin(
    p_kind text, p_meter_no text, p_alarm_litres bigint, p_max_credit_litres bigint,
    p_test_litres bigint, p_written_at bigint
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    new_card_no bigint := nextval('card_no_seq');
    target_meter_id bigint;
    meter_customer_id bigint;
    meter_takes_card boolean;
BEGIN
    PERFORM md_require('card.system');
    SELECT m.id, c.id, t.takes_card INTO target_meter_id, meter_customer_id, meter_takes_card
    FROM meter m JOIN meter_type t ON t.id = m.meter_type_id
    LEFT JOIN customer c ON c.meter_id = m.id AND c.status = 'active'
    WHERE m.meter_no = p_meter_no;
    IF target_meter_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF NOT meter_takes_card THEN
        RAISE EXCEPTION 'meter % takes no card: a system card is for a card meter', p_meter_no
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO system_card (card_no, kind, meter_id, customer_id, alarm_litres,
                             max_credit_litres, test_litres, written_at, issued_by)
    VALUES (new_card_no, p_kind, target_meter_id, meter_customer_id, p_alarm_litres,
            p_max_credit_litres, p_test_litres, p_written_at, current_operator_id());
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_issue', 'system_card', new_card_no,
            jsonb_build_object('kind', p_kind, 'meter_no', p_meter_no,
                               'customer_id', meter_customer_id,
                               'alarm_litres', p_alarm_litres,
                               'max_credit_litres', p_max_credit_litres,
                               'test_litres', p_test_litres));
    RETURN new_card_no;
END $$;
