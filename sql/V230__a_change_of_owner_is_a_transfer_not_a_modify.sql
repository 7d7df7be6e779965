-- A change of owner is a transfer, not a modify (s44-b; docs/decisions.md, "A new name with a
-- new identity number is a transfer").
--
-- A modify could change a customer's name and identity number at once (an enterprise's company
-- name and credit code): another holder, without the owner history row, its date and operator,
-- and without the waits of a transfer (unpaid bills, a debt, a pending card operation: V183).
-- The clerk holds both permissions, and psql could do it too. Now an UPDATE of the customer
-- that changes both the name and an identifying number that was filled in is refused (SQLSTATE
-- MD441) unless this transaction wrote the customer's owner history row, which is a transfer
-- (its row's own triggers make the waits, V31's deferred check that it keeps the previous
-- owner). One of the two alone is a correction, so is a number filled in where there was none;
-- a statistical customer has no holder. `BasicInfo::changes_owner` is the desk's rule, the same.
--
-- An AFTER row trigger, not deferred: it runs at the end of the statement, when the transfer's
-- one statement (`customer_changes::transfer_of`: the history row, the customer and the audit
-- in one WITH) has written its history row, and the refusal is the statement's, which the desk
-- names. The owner (migrations, imports) is not asked, as in V31.

CREATE OR REPLACE FUNCTION customer_owner_changes(old customer, new customer) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT old.nature <> 'statistical' AND old.name IS DISTINCT FROM new.name
       AND CASE old.nature
               WHEN 'enterprise' THEN old.credit_code IS NOT NULL
                                      AND old.credit_code IS DISTINCT FROM new.credit_code
               ELSE old.id_document_no IS NOT NULL
                    AND old.id_document_no IS DISTINCT FROM new.id_document_no
           END
$$;

CREATE OR REPLACE FUNCTION customer_owner_changed_by_a_transfer() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM customer_owner_history
                   WHERE customer_id = NEW.id AND transferred_at = now()
                     AND transferred_by = current_operator_id()) THEN
        RAISE EXCEPTION 'customer % gets another holder (% → %): that is a change of owner, made by a transfer (customer.transfer), not a modify',
            NEW.customer_no, OLD.name, NEW.name
            USING ERRCODE = 'MD441',
                  HINT = 'a transfer keeps the previous owner in the history and waits for unpaid bills, a debt and a pending card operation';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS owner_changed_by_a_transfer ON customer;
DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER owner_changed_by_a_transfer AFTER UPDATE ON customer
        FOR EACH ROW
        WHEN (customer_owner_changes(OLD, NEW)
              AND NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_owner_changed_by_a_transfer()$t$, md_role_name('owner'));
END $$;
