-- A bill voided already says by whom, when and why (s44-e, by hand: two supervisors' desks
-- voided one bill at once; the second was answered as the first, "The bill is void", and its
-- reason was nowhere). bill_void (V18) returned nothing, so a second void could not be told
-- from the first sent again after its reply was lost. It now answers the bill's void:
-- `voided` is true when this call voided it, or when it was voided by this operator with this
-- reason (the same void sent again); otherwise the facts of the void that stands. V18's body
-- is kept whole otherwise: the permission, the lock, a paid bill refused, a reason required,
-- the audit entry.
DROP FUNCTION bill_void(bigint, text);
CREATE FUNCTION bill_void(p_bill_id bigint, p_reason text)
RETURNS TABLE (voided boolean, voided_by text, voided_at timestamptz, void_reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target bill;
BEGIN
    PERFORM md_require('bill.void');
    SELECT * INTO STRICT target FROM bill WHERE id = p_bill_id FOR UPDATE;
    IF target.status = 'void' THEN
        RETURN QUERY
            SELECT target.voided_by = current_operator_id()
                       AND target.void_reason = btrim(coalesce(p_reason, '')),
                   o.login, target.voided_at, target.void_reason
            FROM operator o WHERE o.id = target.voided_by;
        RETURN;
    END IF;
    IF target.status = 'paid' THEN
        RAISE EXCEPTION 'bill % is paid: a paid bill is never changed', p_bill_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF btrim(coalesce(p_reason, '')) = '' THEN
        RAISE EXCEPTION 'a bill is voided with a reason' USING ERRCODE = 'check_violation';
    END IF;
    UPDATE bill SET status = 'void', void_reason = btrim(p_reason), voided_by = current_operator_id(),
                    voided_at = now()
    WHERE id = p_bill_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'bill.void', 'customer',
            (SELECT customer_id FROM account WHERE id = target.account_id),
            jsonb_build_object('before', jsonb_build_object('bill_id', p_bill_id, 'status', target.status,
                                                            'amount', target.amount),
                               'after', jsonb_build_object('status', 'void', 'reason', btrim(p_reason))));
    RETURN QUERY SELECT true, NULL::text, NULL::timestamptz, NULL::text;
END $$;

DO $$
BEGIN
    REVOKE EXECUTE ON FUNCTION bill_void(bigint, text) FROM PUBLIC;
    EXECUTE format('GRANT EXECUTE ON FUNCTION bill_void(bigint, text) TO %I', md_role_name('operator'));
END $$;
