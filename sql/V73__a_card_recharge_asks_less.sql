-- What a card recharge asks of the server that answers nothing new (issue 14: a recharge's server
-- CPU; decision: docs/decisions.md, "A card recharge asks less"). Every check is the one it
-- was, with the same refusal; what changes is what each costs to run.
--
--  * md_permitted asked md_role_name, a PL/pgSQL call with a query of `installation`, for every
--    role that holds the permission until one is the operator's: a clerk's recharge asks
--    md_permitted nine times (the desk's question, the receipt's and the meter state's guards,
--    ledger_post twice, the operation's insert and update, the audit entry's check), some twenty
--    role names in all. The role's name is now made in md_permitted's own query from the one
--    row of `installation`, as md_role_name makes it (prefix, '_', code); the owner's branch,
--    taken by no operator, still asks md_role_name.
--  * md_written_here (V32), a SQL function with a SET clause, cannot be inlined, so each call
--    parsed and planned its expression again; in PL/pgSQL the expression is planned once per
--    session (as V40 did for md_permitted). Same expression, same settings.
--  * settles_with_its_money (V32) called card_settlement_moves_its_money for every settlement,
--    which refuses only a failed operation with money and no reversal, or a refund done with a
--    payout method and no payout; its WHEN clause now says so, and names the owner's role as
--    written when the trigger is made (as V63 and V68 do), where it asked md_role_name. A
--    recharge settled done no longer calls it; the refusals are asked of the same rows, at
--    commit, as before.

CREATE OR REPLACE FUNCTION md_permitted(permission text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (
        SELECT CASE
            WHEN o.id IS NULL THEN pg_has_role(session_user, md_role_name('owner'), 'MEMBER')
            ELSE o.enabled AND NOT o.must_change_password AND EXISTS (
                SELECT FROM role_permission rp
                WHERE rp.permission_code = permission
                  AND pg_has_role(session_user, (i.role_prefix || '_' || rp.role_code)::name,
                                  'MEMBER'))
        END
        FROM (SELECT 1) AS always LEFT JOIN operator o ON o.db_role = session_user
        LEFT JOIN public.installation i ON o.id IS NOT NULL);
END $$;

CREATE OR REPLACE FUNCTION md_written_here(row_xmin xid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN row_xmin = pg_current_xact_id_if_assigned()::xid
        OR (row_xmin::text::bigint >= (pg_current_xact_id()::text::bigint & 4294967295)
            AND pg_xact_status(((pg_current_xact_id()::text::bigint >> 32) << 32
                                | row_xmin::text::bigint)::text::xid8) = 'in progress');
END $$;

DO $$
BEGIN
    DROP TRIGGER settles_with_its_money ON card_operation;
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER settles_with_its_money AFTER UPDATE ON card_operation
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (OLD.state = 'pending'
              AND ((NEW.state = 'failed' AND NEW.transaction_id IS NOT NULL)
                   OR (NEW.state = 'done' AND NEW.kind = 'refund'
                       AND NEW.payment_method_code IS NOT NULL))
              AND NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION card_settlement_moves_its_money()$t$, md_role_name('owner'));
END $$;
