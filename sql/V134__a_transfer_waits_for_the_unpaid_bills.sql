-- A transfer waits for the account's unpaid bills, in the database too (session 37,
-- integrator; docs/decisions.md, "A transfer with unpaid bills is refused by the database").
--
-- domain.md: a transfer is "refused while a postpaid account has unpaid bills" — they are the
-- previous owner's to pay. The desk asked (`customer_changes::transfer`, behind the account's
-- lock) but the database did not: a clerk's psql could write the owner history row and the
-- customer's new owner for an account with bills unpaid, and the new owner would find them.
-- The owner history row is the transfer's mark (V131 asks it for a pending card operation);
-- an unpaid bill of the customer's account is one probe of `bill_unpaid_by_account_issued`.
-- SQLSTATE MD421 (`refused.transfer_unpaid_bills`): the desk asks first, so it meets this only
-- when a bill is committed between its question and its write. The owner (imports of history,
-- the demo loader) is not asked. Runs again on the schema it made (tests/two_desks.rs).

CREATE OR REPLACE FUNCTION customer_transfer_waits_for_the_bills() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    unpaid bigint;
BEGIN
    SELECT count(*) INTO unpaid
    FROM account a JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
    WHERE a.customer_id = NEW.customer_id;
    IF unpaid > 0 THEN
        RAISE EXCEPTION 'customer % has % unpaid bills: they are paid before a transfer',
            NEW.customer_id, unpaid
            USING ERRCODE = 'MD421';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS waits_for_the_bills ON customer_owner_history;
DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER waits_for_the_bills BEFORE INSERT ON customer_owner_history
        FOR EACH ROW WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_transfer_waits_for_the_bills()$t$, md_role_name('owner'));
END $$;
