-- V263's two steps taken in one transaction by psql (found by the session's review): its
-- check read only the audit entries of earlier transactions (`a.at < now()`), so a clerk's
-- `BEGIN; name; number; COMMIT` changed the owner by two modifies. The entries of this very
-- transaction count too: a modify's own entry never names the other field (V31 writes only
-- the keys it changed, and the trigger fires for one holder field), so it cannot refuse
-- itself. And the entries may be written after both UPDATEs (V31 checks them at commit): the
-- same check runs again at commit, deferred, where every entry of the transaction is there.
-- The desk's modify is refused by the first, as before (one statement: MD442 on it).

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
      AND a.at >= current_date
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

DROP TRIGGER IF EXISTS owner_changed_in_two_steps_at_commit ON customer;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER owner_changed_in_two_steps_at_commit
        AFTER UPDATE ON customer DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW
        WHEN (cardinality(customer_holder_fields_changed(OLD, NEW)) = 1
              AND NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION customer_owner_changed_in_two_steps()$t$, md_role_name('owner'));
END $$;
