-- A transfer waits for the account's unpaid bills and the customer's pending card operation in
-- one trigger (session 37, integrator; docs/decisions.md, "Integrating session 37").
--
-- V131 (a pending card operation, MD420) and V134 (unpaid bills, MD421) each made a trigger of
-- their own on the owner history, the same shape twice. One function now asks both, in the
-- order the desk asks them (`customer_changes::transfer`: the bills first), with the same
-- refusals. Runs again on the schema it made, and after V131 and V134 run again
-- (tests/two_desks.rs): their triggers and functions are dropped here.

CREATE OR REPLACE FUNCTION customer_transfer_waits() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    unpaid bigint;
    pending card_operation;
BEGIN
    SELECT count(*) INTO unpaid
    FROM account a JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
    WHERE a.customer_id = NEW.customer_id;
    IF unpaid > 0 THEN
        RAISE EXCEPTION 'customer % has % unpaid bills: they are paid before a transfer',
            NEW.customer_id, unpaid
            USING ERRCODE = 'MD421';
    END IF;
    SELECT o.* INTO pending FROM card_operation o
    WHERE o.customer_id = NEW.customer_id AND o.state = 'pending';
    IF FOUND THEN
        RAISE EXCEPTION 'card operation % (%) of customer % is pending: the customer is transferred once it is settled',
            pending.id, pending.kind, NEW.customer_id
            USING ERRCODE = 'MD420';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS waits_for_the_bills ON customer_owner_history;
DROP TRIGGER IF EXISTS waits_for_the_card ON customer_owner_history;
DROP FUNCTION IF EXISTS customer_transfer_waits_for_the_bills();
DROP FUNCTION IF EXISTS customer_transfer_waits_for_the_card();
DROP TRIGGER IF EXISTS waits_for_the_bills_and_the_card ON customer_owner_history;
DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER waits_for_the_bills_and_the_card
        BEFORE INSERT ON customer_owner_history
        FOR EACH ROW WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_transfer_waits()$t$, md_role_name('owner'));
END $$;
