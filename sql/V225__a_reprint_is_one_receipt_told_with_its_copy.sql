-- A reprint is told, one receipt at a time (s43-f's "found, not fixed"; s44-a; docs/decisions.md,
-- "What a clerk or an administrator reads with psql").
--
-- V31 granted every operator UPDATE (reprints, last_reprinted_at) on receipt and V109's rules
-- (now V167's receipt_rules) let a reprint count one: `UPDATE receipt SET reprints = reprints
-- + 1` took every receipt of the database in one statement, each then printed as one more
-- copy, and no entry said who reprinted which. Now a reprint is `receipt_reprint(receipt_no)`:
-- it asks receipt.reprint, counts one on that receipt only, and writes the entry
-- `receipt.reprint` (the customer's, with the receipt's number and the copy's) in the same
-- transaction; it answers the copy's number, or NULL when there is no such receipt (nothing
-- counted, nothing written). The column grant goes: no operator updates a receipt any more
-- (the desk's only update was the reprint, db::receipts::reprint; no statement of the desk
-- locks a receipt's row). receipt_rules' reprint branch stays for the owner's loads as is.
-- Re-runnable: CREATE OR REPLACE, the revoke and grant are idempotent.

CREATE OR REPLACE FUNCTION receipt_reprint(p_receipt_no bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    counted public.receipt;
BEGIN
    PERFORM public.md_require('receipt.reprint');
    UPDATE public.receipt
    SET reprints = reprints + 1, last_reprinted_at = now()
    WHERE receipt_no = p_receipt_no
    RETURNING * INTO counted;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (public.current_operator_id(), 'receipt.reprint', 'customer', counted.customer_id,
            jsonb_build_object('receipt_no', counted.receipt_no, 'copy', counted.reprints));
    RETURN counted.reprints;
END $$;

REVOKE EXECUTE ON FUNCTION receipt_reprint(bigint) FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE UPDATE (reprints, last_reprinted_at) ON receipt FROM %I',
                   md_role_name('operator'));
    EXECUTE format('GRANT EXECUTE ON FUNCTION receipt_reprint(bigint) TO %I',
                   md_role_name('operator'));
END $$;
