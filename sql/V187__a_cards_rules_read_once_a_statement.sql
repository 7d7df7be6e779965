-- What a card's row costs the statements that write it (issue 14, s42-a; docs/decisions.md,
-- "A card operation's rules read once a statement…").
--
-- `card` had eleven CHECKs (V1's nine, V5's reason and blacklist), 7.7 KB of node text that
-- PostgreSQL reads again at every statement writing the table: a card recharge whose meter wrote
-- back updates the card's meter columns (`card_meter_noted`), an open or a replace inserts one,
-- a loss or a recycle updates one. As V186 did for `card_operation`, they become one,
-- `card_check`, a call of `md_card_row_rules` with the nine columns they read: the same rules in
-- the constraints' names' order (PostgreSQL's), and for the first one a row breaks what that
-- constraint raised (`md_check_refused`: SQLSTATE 23514, the constraint's name, the table, the
-- same message). A rule that comes out NULL passes, as a CHECK's does. No migration after V109
-- names one of these constraints, so all eleven go. Added NOT VALID: the stored rows passed the
-- constraints it replaces, every later write is checked, and this migration reads no row.
--
-- Re-runnable on its own result (two_desks).

CREATE OR REPLACE FUNCTION md_card_row_rules(
    p_card_no bigint, p_business_model text, p_generation smallint, p_state text,
    p_blacklisted boolean, p_void_reason text, p_voided_at timestamptz,
    p_meter_loaded_seq bigint, p_meter_generation smallint)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    broken text;
BEGIN
    -- Each rule as the constraint of the name said (V1's, V5's), in the names' order.
    IF NOT (p_business_model = 'meter_prepaid') THEN
        broken := 'card_business_model_check';
    ELSIF NOT (p_card_no BETWEEN 1 AND 4294967295) THEN
        broken := 'card_card_no_check';
    ELSIF NOT ((p_state = 'active') = (p_voided_at IS NULL)) THEN
        broken := 'card_check';
    ELSIF NOT ((p_state = 'active') = (p_void_reason IS NULL)) THEN
        broken := 'card_check1';
    ELSIF NOT (p_state <> 'active' OR NOT p_blacklisted) THEN
        broken := 'card_check2';
    ELSIF NOT (p_generation BETWEEN 1 AND 255) THEN
        broken := 'card_generation_check';
    ELSIF NOT (p_meter_generation BETWEEN 0 AND 255) THEN
        broken := 'card_meter_generation_check';
    ELSIF NOT (p_meter_loaded_seq BETWEEN 0 AND 4294967295) THEN
        broken := 'card_meter_loaded_seq_check';
    ELSIF NOT (p_void_reason IS DISTINCT FROM 'not_issued' OR NOT p_blacklisted) THEN
        broken := 'card_not_issued_is_not_blacklisted';
    ELSIF NOT (p_state = ANY ('{active,void,recycled}')) THEN
        broken := 'card_state_check';
    ELSIF NOT (p_void_reason = ANY ('{lost,damaged,replaced,account_closed,returned,not_issued}')) THEN
        broken := 'card_void_reason_check';
    ELSE
        RETURN true;
    END IF;
    RETURN md_check_refused('card', broken);
END $$;

-- IF EXISTS: a test runs every migration after V109 again (two_desks).
ALTER TABLE card
    DROP CONSTRAINT IF EXISTS card_business_model_check,
    DROP CONSTRAINT IF EXISTS card_card_no_check,
    DROP CONSTRAINT IF EXISTS card_check,
    DROP CONSTRAINT IF EXISTS card_check1,
    DROP CONSTRAINT IF EXISTS card_check2,
    DROP CONSTRAINT IF EXISTS card_generation_check,
    DROP CONSTRAINT IF EXISTS card_meter_generation_check,
    DROP CONSTRAINT IF EXISTS card_meter_loaded_seq_check,
    DROP CONSTRAINT IF EXISTS card_not_issued_is_not_blacklisted,
    DROP CONSTRAINT IF EXISTS card_state_check,
    DROP CONSTRAINT IF EXISTS card_void_reason_check;
ALTER TABLE card ADD CONSTRAINT card_check
    CHECK (md_card_row_rules(card_no, business_model, generation, state, blacklisted,
                             void_reason, voided_at, meter_loaded_seq, meter_generation))
    NOT VALID;
