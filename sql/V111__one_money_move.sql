-- One body for a deposit or a refund at the counter (s36).
--
-- money_move_for (V110) repeated money_move's (V79) steps to add one refusal, the owner the
-- screen showed. Now money_move is money_move_for with no owner to compare (NULL): the desk's
-- screens always send the owner they showed; the soak, the tests and an operator at psql may
-- call either. A NULL owner guards nothing an operator could not pass anyway: the present
-- owner's mark is theirs to read (V110's header).

CREATE OR REPLACE FUNCTION money_move_for(p_key text, p_customer_id bigint, p_owner bigint,
                                          p_kind text, p_amount numeric, p_method text,
                                          p_bill_ids bigint[], p_bills_total numeric)
RETURNS SETOF money_moved
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    receipt bigint;
    moved_kind text;
    moved_customer bigint;
    acct bigint;
    acct_balance numeric;
    model text;
    acct_status text;
    method_allowed boolean;
    signed numeric := CASE p_kind WHEN 'refund' THEN -p_amount ELSE p_amount END;
    posted bigint;
BEGIN
    -- A NULL kind is no kind; bills are paid by a deposit only, as the account screen pays them.
    IF p_kind IS NULL OR p_kind NOT IN ('deposit', 'refund') THEN
        RAISE EXCEPTION 'money_move moves a deposit or a refund, not %', coalesce(p_kind, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    ELSIF p_kind = 'refund' AND p_bill_ids IS NOT NULL THEN
        RAISE EXCEPTION 'a refund pays no bills' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A re-send waits for an attempt still running on a connection the desk lost (class 9:
    -- db::applied_write's), then sees whether it committed.
    PERFORM pg_advisory_xact_lock(9, hashtext(p_key));
    SELECT t.receipt_no, t.kind, a.customer_id INTO receipt, moved_kind, moved_customer
    FROM ledger_transaction t JOIN account a ON a.id = t.account_id
    WHERE t.idempotency_key = p_key;
    IF NOT FOUND THEN
        -- Concurrent movements of the account queue behind its lock.
        SELECT a.id, a.balance, c.business_model, c.status,
               EXISTS (SELECT FROM customer_type_payment_method m
                       JOIN payment_method p ON p.code = m.payment_method_code
                       WHERE m.customer_type_id = c.customer_type_id AND p.enabled
                         AND p.code = p_method)
        INTO acct, acct_balance, model, acct_status, method_allowed
        FROM account a JOIN customer c ON c.id = a.customer_id
        WHERE c.id = p_customer_id FOR UPDATE OF a;
        RETURN QUERY SELECT refused, NULL::text, NULL::bigint, NULL::receipt_line
            FROM (SELECT CASE
                      WHEN acct IS NULL THEN 'no_such_customer'
                      WHEN acct_status = 'closed' THEN 'closed'
                      -- A statement of its own after the wait for the account: it sees a
                      -- transfer that held the account and committed meanwhile.
                      WHEN p_owner IS NOT NULL
                           AND customer_owner_seen(p_customer_id) IS DISTINCT FROM p_owner
                          THEN 'owner_changed'
                      WHEN model = 'meter_prepaid' THEN 'card_meter'
                      WHEN p_amount <= 0 THEN 'not_positive'
                      WHEN NOT method_allowed THEN 'method_not_allowed'
                      WHEN p_kind = 'refund' AND p_amount > acct_balance THEN 'above_balance'
                  END AS refused) r
            WHERE refused IS NOT NULL;
        IF FOUND THEN
            RETURN;
        END IF;
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), p_customer_id, current_operator_id())
        RETURNING receipt_no INTO receipt;
        posted := ledger_post(acct, p_kind, signed, NULL, NULL, p_method, receipt, p_key);
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (current_operator_id(), 'account.' || p_kind, 'customer', p_customer_id,
                jsonb_build_object('amount', signed, 'method', p_method, 'receipt_no', receipt,
                                   'transaction_id', posted));
        IF p_bill_ids IS NOT NULL THEN
            PERFORM bill_pay(p_key || ':bills', p_bill_ids, p_bills_total, receipt);
        END IF;
        moved_kind := p_kind;
        moved_customer := p_customer_id;
    END IF;
    RETURN QUERY SELECT NULL::text, moved_kind, moved_customer, line
        FROM receipt_read(receipt) line;
END $$;

CREATE OR REPLACE FUNCTION money_move(p_key text, p_customer_id bigint, p_kind text,
                                      p_amount numeric, p_method text, p_bill_ids bigint[],
                                      p_bills_total numeric)
RETURNS SETOF money_moved
LANGUAGE sql SET search_path = public, pg_temp AS $$
    SELECT * FROM money_move_for(p_key, p_customer_id, NULL, p_kind, p_amount, p_method,
                                 p_bill_ids, p_bills_total)
$$;
