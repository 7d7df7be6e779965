-- A ledger row's checks asked in fewer statements; the CHECK constraints' lists of names kept
-- as constants (issue 14; docs/decisions.md, "A money write's ledger row: its trigger in two
-- statements, its lists of names as constants (s39-c)").
--
-- Every money write an operator makes posts ledger rows through these triggers and checks;
-- each statement a trigger runs pays an executor start, which is where a deposit's server time
-- goes (s38-a, s38-b). Each check below is the same check, asked of the same rows, with the
-- same refusal, words and SQLSTATE, in the same order; only the statements that ask are fewer:
--   1. `ledger_posted` (V132's statement trigger): the closed customer and the wrong row (a
--      foreign receipt, no receipt, a kind its account does not take) in one statement, a
--      closed customer's row first as before (sorted first); the operator and whether their
--      shift is open in one statement. Four queries for an operator's rows (the operator, the
--      closed customer, the wrong row, the open shift) become two.
--   2. The lists of names the CHECK constraints keep (`kind IN ('deposit', 'refund', …)`) are
--      stored by PostgreSQL as an ARRAY[…] of one node a name, read again from text and folded
--      at every INSERT and UPDATE statement (`ExecRelCheck`, s38-g). Each such constraint of the
--      schema's tables is added again under its own name with the same list as one array
--      constant (`kind = ANY ('{deposit,refund}'::text[])`), validated as it was. The list is
--      read from the constraint as it stands, so a list another migration changed is kept as
--      changed; a constraint already in this form is left alone.
--   3. `money_move_for` (V128's): its refusals asked by PL/pgSQL conditions after the account's
--      lock, in V111's order, with no statement of their own (it ran one for every movement,
--      refused or not); the owner's check still by `customer_owner_seen`, in an expression
--      evaluated with a snapshot of its own after the wait for the account, as its statement
--      was, so it sees a transfer that held the account and committed meanwhile.
-- The owner (set-up, demo data, imports of history) is not held to the operator's checks, as
-- before. Runs again on the schema it made (tests/two_desks.rs): CREATE OR REPLACE, and (2)
-- finds nothing left to do.

CREATE OR REPLACE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint;
    wrong record;
BEGIN
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        SELECT p.kind, p.receipt_no, c.business_model,
               CASE WHEN c.status = 'closed' THEN 'closed'
                    WHEN p.receipt_no IS NOT NULL
                         AND (r.receipt_no IS NULL
                              OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                              OR r.customer_id IS DISTINCT FROM a.customer_id)
                        THEN 'foreign_receipt'
                    WHEN p.receipt_no IS NULL AND p.kind IN ('deposit', 'refund')
                        THEN 'no_receipt'
                    ELSE 'kind' END AS why
        INTO wrong
        FROM posted p
        JOIN account a ON a.id = p.account_id
        JOIN customer c ON c.id = a.customer_id
        LEFT JOIN receipt r ON r.receipt_no = p.receipt_no
        WHERE c.status = 'closed'
           OR (p.receipt_no IS NOT NULL
               AND (r.receipt_no IS NULL OR r.issued_in IS DISTINCT FROM pg_current_xact_id()
                    OR r.customer_id IS DISTINCT FROM a.customer_id))
           OR (p.receipt_no IS NULL AND p.kind IN ('deposit', 'refund'))
           OR NOT CASE c.business_model
                  WHEN 'meter_prepaid' THEN
                      p.kind IN ('card_purchase', 'card_refund', 'reversal')
                      OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:deposit')
                      OR (p.kind = 'refund' AND p.idempotency_key LIKE 'card-op:%:payout'
                          AND EXISTS (SELECT FROM card_operation o
                                      JOIN ledger_transaction t ON t.id = o.transaction_id
                                      -- K of `card-op:K:payout`, by the operation's unique key.
                                      WHERE o.idempotency_key = left(substr(p.idempotency_key, 9), -7)
                                        AND o.kind = 'refund'
                                        AND t.account_id = p.account_id AND t.amount = -p.amount))
                  WHEN 'system_prepaid' THEN
                      p.kind IN ('consumption', 'reversal')
                      OR (p.kind IN ('deposit', 'refund')
                          AND p.idempotency_key NOT LIKE 'card-op:%')
                  ELSE
                      p.kind IN ('bill_payment', 'reversal')
                      OR (p.kind IN ('deposit', 'refund')
                          AND p.idempotency_key NOT LIKE 'card-op:%')
              END
        -- A closed customer's row answers first, as V132's statement of its own did.
        ORDER BY c.status = 'closed' DESC
        LIMIT 1;
        IF FOUND AND wrong.why = 'closed' THEN
            RAISE EXCEPTION 'the customer is closed: its account moves no money'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        ELSIF FOUND AND wrong.why = 'foreign_receipt' THEN
            RAISE EXCEPTION 'permission denied: a ledger row goes on a receipt written in its own transaction for its account''s customer, not on receipt %',
                wrong.receipt_no USING ERRCODE = 'insufficient_privilege';
        ELSIF FOUND AND wrong.why = 'no_receipt' THEN
            RAISE EXCEPTION 'permission denied: an operator''s % goes on the receipt written with it, with its audit entry, as the desk writes it (money_move)',
                wrong.kind USING ERRCODE = 'insufficient_privilege';
        ELSIF FOUND THEN
            RAISE EXCEPTION 'permission denied: a % account takes no % from an operator but as the desk posts it',
                wrong.business_model, wrong.kind USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    -- The operator whose shift is not open (none, or only one being closed meanwhile): the
    -- first money opens it. Found for nobody (the owner, an operator with an open shift), as
    -- V132 asked the operator and then the shift.
    SELECT o.id INTO me
    FROM operator o
    WHERE o.db_role = session_user
      AND NOT EXISTS (SELECT FROM shift WHERE operator_id = o.id
                      AND closed_at IS NULL AND xmax = '0'::xid);
    IF FOUND THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- 3. The refusals of a movement at the counter without a statement of their own.
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
    me bigint;
    refused money_moved;
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
        -- The refusals in V111's order, asked by PL/pgSQL conditions (no statement of their
        -- own); the owner's by its function, evaluated after the wait for the account with a
        -- snapshot of its own, so it sees a transfer that held the account and committed
        -- meanwhile.
        refused.refusal := CASE
            WHEN acct IS NULL THEN 'no_such_customer'
            WHEN acct_status = 'closed' THEN 'closed'
        END;
        IF refused.refusal IS NULL AND p_owner IS NOT NULL
           AND customer_owner_seen(p_customer_id) IS DISTINCT FROM p_owner THEN
            refused.refusal := 'owner_changed';
        END IF;
        IF refused.refusal IS NULL THEN
            refused.refusal := CASE
                WHEN model = 'meter_prepaid' THEN 'card_meter'
                WHEN p_amount <= 0 THEN 'not_positive'
                WHEN NOT method_allowed THEN 'method_not_allowed'
                WHEN p_kind = 'refund' AND p_amount > acct_balance THEN 'above_balance'
            END;
        END IF;
        IF refused.refusal IS NOT NULL THEN
            RETURN NEXT refused;
            RETURN;
        END IF;
        me := current_operator_id();
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), p_customer_id, me)
        RETURNING receipt_no INTO receipt;
        posted := ledger_post(acct, p_kind, signed, NULL, NULL, p_method, receipt, p_key);
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (me, 'account.' || p_kind, 'customer', p_customer_id,
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

-- 2. The CHECK constraints' lists of names as one array constant each.
DO $$
DECLARE
    c record;
    def text;
    found text;
    list text[];
    -- ARRAY['a'::text, 'b'::text]: a list of names (none of the schema's has a quote in it).
    names constant text := 'ARRAY\[''[^'']*''::text(?:, ''[^'']*''::text)*\]';
BEGIN
    FOR c IN
        SELECT k.conrelid::regclass AS tab, k.conname, pg_get_constraintdef(k.oid) AS def
        FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
        WHERE k.contype = 'c' AND t.relnamespace = 'public'::regnamespace
        ORDER BY 1, 2
    LOOP
        def := c.def;
        found := substring(def FROM names);
        WHILE found IS NOT NULL LOOP
            SELECT array_agg(x.m[1] ORDER BY x.n) INTO list
            FROM regexp_matches(found, '''([^'']*)''::text', 'g') WITH ORDINALITY AS x (m, n);
            def := replace(def, found, quote_literal(list::text) || '::text[]');
            found := substring(def FROM names);
        END LOOP;
        IF def <> c.def THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I %s',
                           c.tab, c.conname, c.conname, def);
        END IF;
    END LOOP;
END $$;
