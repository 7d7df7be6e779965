-- What a card operation's row costs the statements that write it (issue 14, s42-a;
-- docs/decisions.md, "A card operation's rules read once a statement…").
--
-- PostgreSQL reads a table's CHECKs again from their stored node text at every statement that
-- writes it, and builds their expressions: `card_operation` had sixteen (V1's fourteen, V5's
-- plan, V175's reasons), about 10 KB of text, read at a recharge's journal INSERT and again at
-- its settle's UPDATE. As V179 did for the ledger, fifteen of them become one,
-- `card_operation_check`, a call of `md_card_operation_row_rules` with the twelve columns they
-- read. It asks the same rules in the constraints' names' order (PostgreSQL's) and, for the
-- first one a row breaks, raises what that constraint raised: SQLSTATE 23514 naming that
-- constraint, its table and schema, and the same message (not the DETAIL of the row). A rule
-- that comes out NULL passes, as a CHECK's does. Nothing is refused less: every row the
-- fifteen refused it refuses, by the same name.
--
-- `card_operation_idempotency_key_check` stays its own constraint (V179's short form, 0.5 KB):
-- V179 drops it by name without IF EXISTS, and two_desks runs every migration after V109
-- again. It sorted between `…_failure_reason_known` and `…_issue_record_after_check`; it is now
-- asked after all the others: only a row with an empty or over-long key that also breaks one
-- of the rules named after it (the records' lengths, the kinds, the plan, the purchase's
-- range, the states, the volume's range) is refused by another name than before.
--
-- The rows stored passed the constraints this replaces, and every later write of a row is
-- checked: the constraint is added NOT VALID, so this migration reads no row (V179's way).
-- The function has no SET clause (a GUC save and restore a row): it names no table and no
-- type, and its operators are pg_catalog's, where only the database's owner could put others in
-- front of them.
--
-- The refusal itself is one function, `md_check_refused`, which `md_ledger_row_rules` (V179's
-- body, restated) now calls too: the same SQLSTATE, names and message as before.
--
-- Re-runnable on its own result (two_desks).

CREATE OR REPLACE FUNCTION md_check_refused(p_table text, p_constraint text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"',
        p_table, p_constraint USING ERRCODE = 'check_violation', CONSTRAINT = p_constraint,
                                    TABLE = p_table, SCHEMA = 'public';
END $$;

-- V179's body, its refusal through md_check_refused.
CREATE OR REPLACE FUNCTION md_ledger_row_rules(p_kind text, p_amount numeric,
                                               p_volume numeric, p_unit_price numeric,
                                               p_method text, p_reverses_id bigint,
                                               p_bill_id bigint, p_key text)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    broken text;
BEGIN
    -- Each rule as the constraint of the name said, in the names' order.
    IF NOT (CASE p_kind WHEN 'deposit' THEN p_amount > 0 WHEN 'card_refund' THEN p_amount > 0
                        WHEN 'reversal' THEN p_amount <> 0 ELSE p_amount < 0 END) THEN
        broken := 'ledger_transaction_check';
    ELSIF NOT ((p_kind = 'reversal') = (p_reverses_id IS NOT NULL)) THEN
        broken := 'ledger_transaction_check1';
    ELSIF NOT ((p_kind = 'bill_payment') = (p_bill_id IS NOT NULL)) THEN
        broken := 'ledger_transaction_check2';
    ELSIF NOT (p_kind <> ALL ('{deposit,refund}') OR p_method IS NOT NULL) THEN
        broken := 'ledger_transaction_check3';
    ELSIF NOT (p_kind <> ALL ('{consumption,card_purchase}') OR p_volume IS NOT NULL) THEN
        broken := 'ledger_transaction_check4';
    ELSIF NOT (length(p_key) >= 1 AND length(p_key) <= 200) THEN
        broken := 'ledger_transaction_idempotency_key_check';
    ELSIF NOT (p_kind = ANY ('{deposit,refund,consumption,bill_payment,card_purchase,card_refund,reversal}')) THEN
        broken := 'ledger_transaction_kind_check';
    ELSIF NOT (p_unit_price >= 0) THEN
        broken := 'ledger_transaction_unit_price_check';
    ELSIF NOT (p_volume > 0) THEN
        broken := 'ledger_transaction_volume_check';
    ELSE
        RETURN true;
    END IF;
    RETURN md_check_refused('ledger_transaction', broken);
END $$;

-- A card operation's own rules, in one CHECK.
CREATE OR REPLACE FUNCTION md_card_operation_row_rules(
    p_kind text, p_state text, p_purchase_seq bigint, p_volume_litres bigint,
    p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea,
    p_finished_at timestamptz, p_failure_reason text, p_replaced_card_id bigint, p_plan jsonb)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    broken text;
BEGIN
    -- Each rule as the constraint of the name said (V1's, V5's, V175's), in the names' order.
    IF NOT ((p_state = 'pending') = (p_finished_at IS NULL)) THEN
        broken := 'card_operation_check';
    ELSIF NOT (p_state <> 'failed' OR p_failure_reason IS NOT NULL) THEN
        broken := 'card_operation_check1';
    ELSIF NOT ((p_kind = 'replace') = (p_replaced_card_id IS NOT NULL)) THEN
        broken := 'card_operation_check2';
    ELSIF NOT (p_kind <> ALL ('{recharge,refund}') OR p_purchase_seq IS NOT NULL) THEN
        broken := 'card_operation_check3';
    ELSIF NOT (p_state <> 'pending' OR p_issue_record_after IS NOT NULL
               OR p_purchase_record_after IS NOT NULL) THEN
        broken := 'card_operation_check4';
    ELSIF NOT (p_failure_reason = ANY ('{not_on_card,settled_without_card,pin_refused,pin_blocked,pin_last_try,card_refused}')) THEN
        broken := 'card_operation_failure_reason_known';
    ELSIF NOT (length(p_issue_record_after) = 32) THEN
        broken := 'card_operation_issue_record_after_check';
    ELSIF NOT (length(p_issue_record_before) = 32) THEN
        broken := 'card_operation_issue_record_before_check';
    ELSIF NOT (p_kind = ANY ('{open,recharge,refund,replace,recycle}')) THEN
        broken := 'card_operation_kind_check';
    ELSIF NOT (p_state <> 'pending' OR p_plan IS NOT NULL) THEN
        broken := 'card_operation_pending_has_plan';
    ELSIF NOT (length(p_purchase_record_after) = 32) THEN
        broken := 'card_operation_purchase_record_after_check';
    ELSIF NOT (length(p_purchase_record_before) = 32) THEN
        broken := 'card_operation_purchase_record_before_check';
    ELSIF NOT (p_purchase_seq BETWEEN 1 AND 4294967295) THEN
        broken := 'card_operation_purchase_seq_check';
    ELSIF NOT (p_state = ANY ('{pending,done,failed}')) THEN
        broken := 'card_operation_state_check';
    ELSIF NOT (p_volume_litres BETWEEN 0 AND 4294967295) THEN
        broken := 'card_operation_volume_litres_check';
    ELSE
        RETURN true;
    END IF;
    RETURN md_check_refused('card_operation', broken);
END $$;

-- IF EXISTS: a test runs every migration after V109 again (two_desks).
ALTER TABLE card_operation
    DROP CONSTRAINT IF EXISTS card_operation_check,
    DROP CONSTRAINT IF EXISTS card_operation_check1,
    DROP CONSTRAINT IF EXISTS card_operation_check2,
    DROP CONSTRAINT IF EXISTS card_operation_check3,
    DROP CONSTRAINT IF EXISTS card_operation_check4,
    DROP CONSTRAINT IF EXISTS card_operation_failure_reason_known,
    DROP CONSTRAINT IF EXISTS card_operation_issue_record_after_check,
    DROP CONSTRAINT IF EXISTS card_operation_issue_record_before_check,
    DROP CONSTRAINT IF EXISTS card_operation_kind_check,
    DROP CONSTRAINT IF EXISTS card_operation_pending_has_plan,
    DROP CONSTRAINT IF EXISTS card_operation_purchase_record_after_check,
    DROP CONSTRAINT IF EXISTS card_operation_purchase_record_before_check,
    DROP CONSTRAINT IF EXISTS card_operation_purchase_seq_check,
    DROP CONSTRAINT IF EXISTS card_operation_state_check,
    DROP CONSTRAINT IF EXISTS card_operation_volume_litres_check;
ALTER TABLE card_operation ADD CONSTRAINT card_operation_check
    CHECK (md_card_operation_row_rules(kind, state, purchase_seq, volume_litres,
                                       issue_record_before, issue_record_after,
                                       purchase_record_before, purchase_record_after,
                                       finished_at, failure_reason, replaced_card_id, plan))
    NOT VALID;
