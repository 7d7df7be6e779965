-- A transfer waits for the water a meter loaded unpaid (s41-f; docs/decisions.md, "The counter
-- walked by hand after session 40").
--
-- Walked by hand: a card customer's debt recorded by the read (V163: 5.00 for purchase #5, which
-- an old copy of the card had settled failed and the card that took it brought to the meter),
-- then the customer transferred: the transfer form said only "The balance 0.00 stays with the
-- account", the debt stayed on the customer's row, and the new owner's first recharge asked the
-- new owner for it ("First paid: …, owes 5.00"; the debt's receipt in the new owner's name) —
-- water the previous owner drew. Unpaid bills are the present owner's to pay before a transfer
-- (V134, MD421); so is this debt. The desk asks first, behind the account's lock
-- (`customer_changes::transfer`: bills, then the debt, then a pending card operation); the owner
-- history's row refuses it for psql (SQLSTATE MD431). V160's body otherwise unchanged: the
-- account taken first, the bills, the pending card operation. Re-runnable: CREATE OR REPLACE
-- (the trigger of V138 calls it by name).
CREATE OR REPLACE FUNCTION customer_transfer_waits() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    unpaid bigint;
    owed numeric;
    pending card_operation;
BEGIN
    PERFORM FROM account a WHERE a.customer_id = NEW.customer_id FOR NO KEY UPDATE;
    SELECT count(*) INTO unpaid
    FROM account a JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
    WHERE a.customer_id = NEW.customer_id;
    IF unpaid > 0 THEN
        RAISE EXCEPTION 'customer % has % unpaid bills: they are paid before a transfer',
            NEW.customer_id, unpaid
            USING ERRCODE = 'MD421';
    END IF;
    -- A debt is outstanding while its recharge is still failed (V163: paying it settles it done).
    SELECT sum(w.amount) INTO owed
    FROM card_recharge_owed w
    JOIN card_operation o ON o.id = w.operation_id AND o.state = 'failed'
    WHERE w.customer_id = NEW.customer_id;
    IF owed IS NOT NULL THEN
        RAISE EXCEPTION 'customer % owes % for water a meter loaded unpaid: paid before a transfer (card_recharge_owed_pay, with the next recharge)',
            NEW.customer_id, owed
            USING ERRCODE = 'MD431';
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
