-- What every money write pays in triggers, cut (docs/decisions.md, "What a ledger row pays in
-- triggers"). Every check is the one it was, with the same refusal; what changes is how often
-- a check runs where it cannot refuse.
--
--  * The guard statement triggers of account and receipt, and receipt's row rules, ask the
--    owner's membership of the current user first and do nothing for it: every ledger row's
--    balance update (ledger_apply_to_balance, the owner's) and the receipt the card recharge
--    journals (card_recharge_journal, the owner's) paid a PL/pgSQL call with its SET clause
--    and the role name read from `installation` for that. The same test is now the trigger's
--    WHEN clause, with the owner's role name written in when the trigger is made: a clerk's
--    statement still calls md_guard / receipt_rules exactly as before. (The owner's role name
--    is the installation's from set-up: `installation` is written by the owner alone, and a
--    database copied from a template keeps the template's prefix and roles.)
--  * The ledger's two statement triggers, the closed-account refusal (V24) and the shift opened
--    at the first money (V21), were two calls over the same transition table: one function now,
--    the refusal first as before. The shift's insert is skipped when the operator's open shift
--    is one no transaction has touched (its xmax is 0), which it is for every posting but the
--    first of a shift; otherwise it runs as before: its ON CONFLICT waits for a close of the
--    shift in progress on the operator's other connection, where a plain look for an open
--    shift would see the shift still open and leave the posting outside every shift.
--  * A receipt's operator is stamped by a function of its own: md_stamp_operator, shared by
--    the tables whose column it is told by name, rebuilt the row through jsonb.

DO $$
DECLARE
    owner_role name := md_role_name('owner');
BEGIN
    DROP TRIGGER guard_change ON account;
    EXECUTE format($t$CREATE TRIGGER guard_change BEFORE UPDATE OR DELETE ON account
        FOR EACH STATEMENT WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION md_guard()$t$, owner_role);
    DROP TRIGGER guard_insert ON account;
    EXECUTE format($t$CREATE TRIGGER guard_insert BEFORE INSERT ON account
        FOR EACH STATEMENT WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION md_guard('customer.open')$t$, owner_role);

    DROP TRIGGER guard_insert ON receipt;
    EXECUTE format($t$CREATE TRIGGER guard_insert BEFORE INSERT ON receipt
        FOR EACH STATEMENT WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION md_guard('card.open', 'card.recharge', 'card.refund', 'card.replace',
                                  'card.resolve', 'account.deposit', 'account.pay_bills',
                                  'account.refund')$t$, owner_role);
    DROP TRIGGER guard_update ON receipt;
    EXECUTE format($t$CREATE TRIGGER guard_update BEFORE UPDATE OR DELETE ON receipt
        FOR EACH STATEMENT WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION md_guard('receipt.reprint')$t$, owner_role);
    DROP TRIGGER rules ON receipt;
    EXECUTE format($t$CREATE TRIGGER rules BEFORE INSERT OR UPDATE ON receipt
        FOR EACH ROW WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION receipt_rules()$t$, owner_role);
END $$;

-- V24's refusal, then V21's shift, over the statement's rows: the refusal is asked of an
-- operator's session (the owner's loads are not asked), the shift opened for the session's
-- operator at their first row's time when none is open.
CREATE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := (SELECT id FROM operator WHERE db_role = session_user);
BEGIN
    IF NOT pg_has_role(session_user, md_role_name('owner'), 'MEMBER')
       AND EXISTS (SELECT FROM posted p JOIN account a ON a.id = p.account_id
                   JOIN customer c ON c.id = a.customer_id WHERE c.status = 'closed') THEN
        RAISE EXCEPTION 'the customer is closed: its account moves no money'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF me IS NOT NULL AND NOT EXISTS (SELECT FROM shift WHERE operator_id = me
                                      AND closed_at IS NULL AND xmax = '0'::xid) THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER refuses_closed_accounts ON ledger_transaction;
DROP TRIGGER shift_opens_at_first_money ON ledger_transaction;
DROP FUNCTION ledger_refuses_closed_accounts();
DROP FUNCTION shift_opens_at_first_money();
CREATE TRIGGER refuses_closed_then_opens_the_shift AFTER INSERT ON ledger_transaction
    REFERENCING NEW TABLE AS posted FOR EACH STATEMENT EXECUTE FUNCTION ledger_posted();

-- md_stamp_operator('operator_id') for receipt, without the row's round trip through jsonb.
CREATE FUNCTION receipt_stamp_operator() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
BEGIN
    IF me IS NOT NULL THEN
        NEW.operator_id := me;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER stamp_operator ON receipt;
CREATE TRIGGER stamp_operator BEFORE INSERT ON receipt
    FOR EACH ROW EXECUTE FUNCTION receipt_stamp_operator();
