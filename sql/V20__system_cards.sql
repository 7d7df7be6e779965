-- System cards (issue 11, item 4; domain.md 4.9.3 "system card management";
-- docs/card-records.md, "System cards"): a setting card (a meter's alarm volume and maximum
-- credit), a check card (a fixed test volume for the installer, never billed) and a clear card
-- (wipes a meter's credit and registration for reinstallation; the credit wiped comes back to
-- the counter on the card). Supervisors only, by the database: each is journaled here —
-- pending before the card is written, done or failed from the card read back — and audited.

INSERT INTO permission (code, description) VALUES
    ('card.system', 'Issue system cards: setting, check and clear cards');
INSERT INTO role_permission (role_code, permission_code) VALUES ('supervisor', 'card.system');

CREATE TABLE system_card (
    -- From the user cards' sequence: a card number is unique forever, whatever the card.
    card_no             bigint PRIMARY KEY CHECK (card_no BETWEEN 1 AND 4294967295),
    kind                text NOT NULL CHECK (kind IN ('setting', 'check', 'clear')),
    meter_id            bigint NOT NULL REFERENCES meter,
    alarm_litres        bigint CHECK (alarm_litres BETWEEN 0 AND 4294967295),
    max_credit_litres   bigint CHECK (max_credit_litres BETWEEN 1 AND 4294967295),
    test_litres         bigint CHECK (test_litres BETWEEN 1 AND 4294967295),
    -- Unix seconds written on the card (its parameter record), so the plan can be rebuilt.
    written_at          bigint NOT NULL CHECK (written_at BETWEEN 0 AND 4294967295),
    state               text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    issued_by           bigint NOT NULL REFERENCES operator,
    issued_at           timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    -- A clear card brought back from its meter: the credit the meter held when wiped.
    cleared_credit_litres bigint CHECK (cleared_credit_litres BETWEEN 0 AND 4294967295),
    cleared_seen_at     timestamptz,
    CHECK ((kind = 'setting') = (alarm_litres IS NOT NULL AND max_credit_litres IS NOT NULL)),
    CHECK ((kind = 'check') = (test_litres IS NOT NULL)),
    CHECK ((state = 'pending') = (finished_at IS NULL)),
    CHECK (kind = 'clear' OR cleared_credit_litres IS NULL),
    CHECK ((cleared_credit_litres IS NULL) = (cleared_seen_at IS NULL))
);
CREATE TRIGGER system_card_is_never_deleted BEFORE DELETE ON system_card
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Journals a new system card for meter `p_meter_no`, pending; returns its card number.
CREATE FUNCTION system_card_begin(
    p_kind text, p_meter_no text, p_alarm_litres bigint, p_max_credit_litres bigint,
    p_test_litres bigint, p_written_at bigint
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    new_card_no bigint := nextval('card_no_seq');
    target_meter_id bigint;
BEGIN
    PERFORM md_require('card.system');
    SELECT id INTO target_meter_id FROM meter WHERE meter_no = p_meter_no;
    IF target_meter_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO system_card (card_no, kind, meter_id, alarm_litres, max_credit_litres,
                             test_litres, written_at, issued_by)
    VALUES (new_card_no, p_kind, target_meter_id, p_alarm_litres, p_max_credit_litres,
            p_test_litres, p_written_at, current_operator_id());
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_issue', 'system_card', new_card_no,
            jsonb_build_object('kind', p_kind, 'meter_no', p_meter_no,
                               'alarm_litres', p_alarm_litres,
                               'max_credit_litres', p_max_credit_litres,
                               'test_litres', p_test_litres));
    RETURN new_card_no;
END $$;

-- Settles a pending system card from the card read back: on it (done) or not (failed).
-- Returns the state it is in; settling again changes nothing.
CREATE FUNCTION system_card_finish(p_card_no bigint, p_written boolean) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    settled text;
BEGIN
    PERFORM md_require('card.system');
    UPDATE system_card SET state = CASE WHEN p_written THEN 'done' ELSE 'failed' END,
                           finished_at = now()
    WHERE card_no = p_card_no AND state = 'pending'
    RETURNING state INTO settled;
    IF settled IS NULL THEN
        SELECT state INTO settled FROM system_card WHERE card_no = p_card_no;
        RETURN settled;
    END IF;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_' || settled, 'system_card', p_card_no,
            jsonb_build_object('card_no', p_card_no));
    RETURN settled;
END $$;

-- A clear card read at the counter after its meter applied it: records the credit the meter
-- wiped, once (a later read changes nothing). Any operator who reads cards may bring it back.
CREATE FUNCTION system_card_cleared(p_card_no bigint, p_credit_litres bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cleared_meter_id bigint;
BEGIN
    PERFORM md_require('card.read');
    UPDATE system_card SET cleared_credit_litres = p_credit_litres, cleared_seen_at = now()
    WHERE card_no = p_card_no AND kind = 'clear' AND state = 'done'
      AND cleared_credit_litres IS NULL
    RETURNING meter_id INTO cleared_meter_id;
    IF cleared_meter_id IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_cleared', 'system_card', p_card_no,
            jsonb_build_object('card_no', p_card_no, 'meter_id', cleared_meter_id,
                               'credit_litres', p_credit_litres));
    RETURN true;
END $$;
