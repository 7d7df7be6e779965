-- A change of owner in two steps is a change of owner (s45-d; docs/decisions.md, "A change
-- of owner in two modifies of a day").
--
-- V230 refuses a modify that changes both the holder's name and an identifying number that was
-- filled in: a change of owner, made by a transfer. Two modifies of one day did it in steps —
-- the name today, the number an hour later (or the number cleared, then the name) — each a
-- correction alone. Now a modify that changes one of them is refused (SQLSTATE MD442) when the
-- other was changed by a modify earlier the same day (`current_date`: the desk's sessions
-- run in the desk's zone, db::zone) since the customer's last transfer. Which counts as the
-- name and which as a number is V230's rule: a number filled in where there was none is a
-- correction, whatever the name; one cleared counts as changed; a statistical customer has no
-- holder. A correction of the other field the day after is the utility's: the audit log keeps
-- both, with before and after.
--
-- The earlier modify is read from the audit log (V31 keeps its before and after true), whose
-- rows a clerk reads only of their own (V14): the function runs as the owner to read another
-- operator's. The owner (migrations, imports) is not asked, as in V31 and V230.

-- Which holder fields an update changes, as V230 counts them: 'name', 'number', both or none.
CREATE OR REPLACE FUNCTION customer_holder_fields_changed(old customer, new customer)
RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN old.nature = 'statistical' THEN ARRAY[]::text[] ELSE
        array_remove(ARRAY[
            CASE WHEN old.name IS DISTINCT FROM new.name THEN 'name' END,
            CASE WHEN CASE old.nature
                          WHEN 'enterprise' THEN old.credit_code IS NOT NULL
                                                 AND old.credit_code IS DISTINCT FROM new.credit_code
                          ELSE old.id_document_no IS NOT NULL
                               AND old.id_document_no IS DISTINCT FROM new.id_document_no
                      END THEN 'number' END
        ], NULL)
    END
$$;

CREATE OR REPLACE FUNCTION customer_owner_changed_in_two_steps() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    changed text := (customer_holder_fields_changed(OLD, NEW))[1];
    -- The audit log's keys of the field not changed now (customer_basic_info, V31).
    other_key text := CASE
        WHEN changed = 'name' AND NEW.nature = 'enterprise' THEN 'registration_no'
        WHEN changed = 'name' THEN 'id_document_no'
        WHEN NEW.nature = 'enterprise' THEN 'company_name'
        ELSE 'name'
    END;
    earlier audit_log;
BEGIN
    SELECT * INTO earlier FROM audit_log a
    WHERE a.entity = 'customer' AND a.entity_id = NEW.id AND a.action = 'customer.modify'
      AND a.at >= current_date AND a.at < now()
      AND a.detail -> 'after' ? other_key
      -- A number filled in where there was none was a correction (V230).
      AND (other_key IN ('name', 'company_name') OR a.detail -> 'before' ->> other_key IS NOT NULL)
      AND a.at > coalesce((SELECT max(h.transferred_at) FROM customer_owner_history h
                           WHERE h.customer_id = NEW.id), '-infinity')
    ORDER BY a.at DESC LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'customer % gets another holder in two steps: its % was changed by a modify today (at %), its % now: that is a change of owner, made by a transfer (customer.transfer), not a modify',
            NEW.customer_no, other_key, earlier.at,
            CASE changed WHEN 'name' THEN 'name' ELSE 'identifying number' END
            USING ERRCODE = 'MD442',
                  HINT = 'a transfer keeps the previous owner in the history and waits for unpaid bills, a debt and a pending card operation; a correction of the other field waits for another day';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS owner_changed_in_two_steps ON customer;
DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER owner_changed_in_two_steps AFTER UPDATE ON customer
        FOR EACH ROW
        WHEN (cardinality(customer_holder_fields_changed(OLD, NEW)) = 1
              AND NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_owner_changed_in_two_steps()$t$, md_role_name('owner'));
END $$;
