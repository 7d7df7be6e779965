-- A setting card back from its meter is recorded (docs/decisions.md, "A setting card's return
-- from its meter is recorded"; the gap of "A recharge above the meter's maximum credit",
-- "Written, not necessarily applied"). Until now the counter knew a setting card was written,
-- not that its meter had applied it, so the newest written was taken as the meter's maximum.
-- Read back at the counter after its swipe, the card's EF 0003 is the meter's state after it:
-- its time (the meter's clock) and credit are recorded on the journal row, once, audited
-- `card.system_applied`. Any operator who reads cards (`card.read`) may bring it back: it moves
-- no money, and the desk's read at the counter is how the card comes home.

ALTER TABLE system_card
    -- Unix seconds the meter wrote its write-back onto the card (the meter's clock).
    ADD COLUMN applied_at bigint CHECK (applied_at BETWEEN 0 AND 4294967295),
    -- The meter's credit after it, litres.
    ADD COLUMN applied_credit_litres bigint CHECK (applied_credit_litres BETWEEN 0 AND 4294967295),
    -- When the counter read it back.
    ADD COLUMN applied_seen_at timestamptz,
    ADD CHECK (kind = 'setting' OR applied_seen_at IS NULL),
    ADD CHECK ((applied_at IS NULL) = (applied_seen_at IS NULL)),
    ADD CHECK ((applied_credit_litres IS NULL) = (applied_seen_at IS NULL));

-- Setting card `p_card_no`, read back at the counter with meter `p_meter_no` named on it and
-- the meter's write-back (`p_applied_at`, `p_credit_litres`): records that its meter applied
-- it. Returns true when recorded now, false when recorded before (a second read changes
-- nothing). Refused, writing nothing: a card this database never wrote (unknown, pending or
-- failed), another kind of card, and a meter that is not the card's.
CREATE FUNCTION system_card_applied(
    p_card_no bigint, p_meter_no text, p_applied_at bigint, p_credit_litres bigint
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    setting system_card;
    card_meter_no text;
BEGIN
    PERFORM md_require('card.read');
    SELECT * INTO setting FROM system_card WHERE card_no = p_card_no FOR UPDATE;
    IF NOT FOUND OR setting.state <> 'done' THEN
        RAISE EXCEPTION 'permission denied: system card % was never written', p_card_no
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF setting.kind <> 'setting' THEN
        RAISE EXCEPTION 'permission denied: system card % is a % card, not a setting card',
            p_card_no, setting.kind USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT meter_no INTO card_meter_no FROM meter WHERE id = setting.meter_id;
    IF card_meter_no IS DISTINCT FROM p_meter_no THEN
        RAISE EXCEPTION 'permission denied: setting card % was written for meter %, not %',
            p_card_no, card_meter_no, p_meter_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF setting.applied_seen_at IS NOT NULL THEN
        RETURN false;
    END IF;
    UPDATE system_card SET applied_at = p_applied_at, applied_credit_litres = p_credit_litres,
                           applied_seen_at = now()
    WHERE card_no = p_card_no;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_applied', 'system_card', p_card_no,
            jsonb_build_object('card_no', p_card_no, 'meter_no', p_meter_no,
                               'applied_at', p_applied_at, 'credit_litres', p_credit_litres,
                               'max_credit_litres', setting.max_credit_litres));
    RETURN true;
END $$;
