-- The debt of a purchase a meter loaded unpaid, recorded when the card that carries it is read,
-- and collected before the customer's next recharge (s40-a; docs/decisions.md, "The water an
-- old card copy let the meter load unpaid is a debt the read records, paid before the next
-- recharge").
--
-- s39-a's "Found, not fixed": a recharge K settled failed from an old copy of the card (its
-- money back on the balance, spent since on a recharge onto the copy) whose purchase the card
-- that took the write brought to the meter first: the meter loaded it, the read at the counter
-- says "水表已充入，这笔水未付款。请主管处理。" and audits it, and the water is never paid for.
--   1. `card_recharge_owed`: the debt, one row a failed recharge, written only by
--      `card_recharge_found_loaded(K, record)` (SECURITY DEFINER; no operator may write the
--      table), which the read calls when the card carries K's journaled record, the balance
--      cannot take it back (V41's `card_recharge_found_on_card` answered false) and the card's
--      meter write-back says the meter loaded it. What the database holds itself: K is a
--      recharge settled failed (from an old copy, or by a supervisor without its card), the
--      record is K's own, the balance does not cover K, a write-back of the customer's cards at
--      or past K's purchase was noted (`card.meter_loaded_seq`), and the sum is K's. What it
--      cannot: the card's MACs and its write-back are checked by the desk, which holds the key
--      (as V41 takes the record).
--   2. Paid by `card_recharge_owed_pay(K, method)` (`card.recharge`'s): a receipt, the deposit
--      `card-op:K:owed` of the sum on it, and `card_recharge_found_on_card(K)` in the same
--      transaction (K done, its water bought with the deposit, `card-op:K:found`, on that
--      receipt). `ledger_posted` lets an
--      operator's `card-op:K:owed` deposit through only for a recorded debt of that sum whose
--      K is still failed, for the account's customer; `card_recharge_is_its_payment` (now also
--      queued for those keys) wants K settled done in the same transaction at commit. A debt
--      is cleared only by K done, which takes its money (the deposit, or the balance V41 asks).
--   3. While a debt is outstanding the customer's recharges are refused at commit (SQLSTATE
--      MD430, `card_money_goes_with_its_operation` on a recharge's purchase `card-op:%:purchase`):
--      whatever the desk shows, no water is sold before the water loaded unpaid is paid.
-- The owner (the demo loader, imports, fixtures) is not held to these. Runs again on its own
-- result (tests/two_desks.rs): IF NOT EXISTS, CREATE OR REPLACE, DROP … IF EXISTS.

CREATE TABLE IF NOT EXISTS card_recharge_owed (
    operation_id bigint PRIMARY KEY REFERENCES card_operation,
    customer_id  bigint NOT NULL,
    card_no      bigint NOT NULL,
    amount       numeric(12, 2) NOT NULL CHECK (amount > 0),
    found_at     timestamptz NOT NULL DEFAULT now(),
    found_by     bigint
);
CREATE INDEX IF NOT EXISTS card_recharge_owed_customer ON card_recharge_owed (customer_id);
-- Read by every operator (the default privileges grant SELECT); written by no operator.
DO $$
BEGIN
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON card_recharge_owed FROM %I',
                   md_role_name('operator'));
END $$;

-- Read at the counter from the card that took recharge `p_operation_id`: its journaled record
-- `p_purchase_record` is on the card, whose meter write-back says the meter loaded it. Records
-- the debt (once) and returns its sum.
CREATE OR REPLACE FUNCTION card_recharge_found_loaded(p_operation_id bigint,
                                                      p_purchase_record bytea)
RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    op card_operation;
    owed numeric;
    held numeric;
    card_number bigint;
BEGIN
    PERFORM md_require('card.read');
    SELECT * INTO op FROM card_operation WHERE id = p_operation_id FOR UPDATE;
    IF NOT FOUND OR op.kind <> 'recharge' OR op.state <> 'failed'
       OR op.purchase_record_after IS DISTINCT FROM p_purchase_record THEN
        RAISE EXCEPTION 'permission denied: only a recharge settled failed, whose journaled record is on the card, is owed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT -t.amount INTO owed FROM ledger_transaction t WHERE t.id = op.transaction_id;
    SELECT a.balance INTO held FROM account a WHERE a.customer_id = op.customer_id FOR UPDATE;
    IF held >= owed THEN
        RAISE EXCEPTION 'permission denied: the balance covers recharge %: card_recharge_found_on_card settles it',
            op.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Any card of the customer's (a replacement carries the purchase over).
    SELECT c.card_no INTO card_number FROM card c
    WHERE c.customer_id = op.customer_id AND c.meter_loaded_seq >= op.purchase_seq
    ORDER BY c.generation DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: no meter write-back of the customer''s cards at or past purchase % was read',
            op.purchase_seq USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO card_recharge_owed (operation_id, customer_id, card_no, amount, found_by)
    VALUES (op.id, op.customer_id, card_number, owed, current_operator_id())
    ON CONFLICT (operation_id) DO NOTHING;
    IF FOUND THEN
        INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
        VALUES (current_operator_id(), 'card.owed', 'card_operation', op.id,
                jsonb_build_object('customer_id', op.customer_id, 'card_no', card_number,
                                   'purchase_seq', op.purchase_seq, 'amount', owed));
    END IF;
    RETURN owed;
END $$;

-- The debt of recharge `p_operation_id` paid at the counter with `p_payment_method_code`: its
-- receipt, the deposit `card-op:K:owed` on it, K settled done with that money (V41), the audit
-- entry: a recharge's (`card.recharge`). The ledger's checks hold its rows as the session's
-- operator's (they ask `session_user`); its own rights write the entry.
CREATE OR REPLACE FUNCTION card_recharge_owed_pay(p_operation_id bigint,
                                                  p_payment_method_code text,
                                                  OUT receipt_no bigint, OUT amount numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    op card_operation;
    account_id bigint;
BEGIN
    PERFORM md_require('card.recharge');
    SELECT o.* INTO op FROM card_operation o
    JOIN card_recharge_owed w ON w.operation_id = o.id
    WHERE o.id = p_operation_id AND o.state = 'failed';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: recharge % owes nothing', p_operation_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT w.amount INTO card_recharge_owed_pay.amount
    FROM card_recharge_owed w WHERE w.operation_id = op.id;
    SELECT a.id INTO account_id FROM account a WHERE a.customer_id = op.customer_id;
    -- A method the customer's type takes, as a recharge's journal asks it (V107's words).
    IF NOT EXISTS (SELECT FROM customer c
                   JOIN customer_type_payment_method m ON m.customer_type_id = c.customer_type_id
                   JOIN payment_method p ON p.code = m.payment_method_code
                   WHERE c.id = op.customer_id AND p.code = p_payment_method_code
                     AND p.enabled) THEN
        RAISE EXCEPTION 'payment method % is not one the customer''s type takes (or it is disabled)',
            p_payment_method_code USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO receipt (receipt_no, customer_id, operator_id)
    VALUES (nextval('receipt_no_seq'), op.customer_id, current_operator_id())
    RETURNING receipt.receipt_no INTO card_recharge_owed_pay.receipt_no;
    PERFORM ledger_post(account_id, 'deposit', card_recharge_owed_pay.amount, NULL, NULL,
                        p_payment_method_code, card_recharge_owed_pay.receipt_no,
                        'card-op:' || op.idempotency_key || ':owed');
    IF NOT card_recharge_found_on_card(op.id, op.purchase_record_after) THEN
        RAISE EXCEPTION 'recharge %: its debt paid, the balance still does not cover it', op.id;
    END IF;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.owed_paid', 'card_operation', op.id,
            jsonb_build_object('customer_id', op.customer_id,
                               'receipt_no', card_recharge_owed_pay.receipt_no,
                               'amount', card_recharge_owed_pay.amount));
END $$;

-- V41's settle of a failed recharge found on its card, unchanged but for the receipt of a debt
-- paid in the same transaction, which its purchase goes on.
CREATE OR REPLACE FUNCTION card_recharge_found_on_card(p_operation_id bigint, p_purchase_record bytea)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    op card_operation;
    paid ledger_transaction;
    held numeric;
    purchase bigint;
    owed_receipt bigint;
BEGIN
    PERFORM md_require('card.read');
    SELECT * INTO op FROM card_operation WHERE id = p_operation_id FOR UPDATE;
    IF NOT FOUND OR op.kind <> 'recharge' OR op.state <> 'failed'
       OR op.purchase_record_after IS DISTINCT FROM p_purchase_record THEN
        RAISE EXCEPTION 'permission denied: only a failed recharge whose journaled record is on the card is settled from it'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO paid FROM ledger_transaction WHERE id = op.transaction_id;
    SELECT balance INTO held FROM account WHERE id = paid.account_id FOR UPDATE;
    IF held < -paid.amount THEN
        RETURN false;
    END IF;
    -- Its debt paid just now (`card_recharge_owed_pay`): the water goes on that receipt with
    -- the money that bought it, which then says the balance the two left.
    SELECT t.receipt_no INTO owed_receipt FROM ledger_transaction t
    WHERE t.idempotency_key = 'card-op:' || op.idempotency_key || ':owed';
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price, operator_id,
                                    receipt_no, idempotency_key)
    VALUES (paid.account_id, 'card_purchase', paid.amount, paid.volume, paid.unit_price,
            current_operator_id(), owed_receipt, 'card-op:' || op.idempotency_key || ':found')
    RETURNING id INTO purchase;
    UPDATE card_operation SET state = 'done', transaction_id = purchase, failure_reason = NULL,
                              finished_at = now()
    WHERE id = op.id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.found_on_card', 'card_operation', op.id,
            jsonb_build_object('customer_id', op.customer_id, 'purchase_seq', op.purchase_seq,
                               'amount', -paid.amount));
    RETURN true;
END $$;

-- V121's deferred check of a card meter's deposit, now queued for a debt's payment too: a
-- recharge's payment `card-op:K:deposit` is its purchase's on the receipt (as before); a debt's
-- `card-op:K:owed` pays recharge K, settled done from it in this transaction.
CREATE OR REPLACE FUNCTION ledger_card_recharge_is_its_payment() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.idempotency_key LIKE 'card-op:%:owed' THEN
        IF NOT EXISTS (SELECT FROM card_operation o
                       JOIN ledger_transaction p ON p.id = o.transaction_id
                       WHERE o.idempotency_key = left(substr(NEW.idempotency_key, 9), -5)
                         AND o.state = 'done' AND md_written_here(o.xmin)
                         AND p.idempotency_key = 'card-op:' || o.idempotency_key || ':found'
                         AND p.account_id = NEW.account_id AND p.amount = -NEW.amount) THEN
            RAISE EXCEPTION 'permission denied: a card meter''s deposit % pays the debt of its recharge, settled done from it in the same transaction (card_recharge_owed_pay)',
                NEW.idempotency_key USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF EXISTS (SELECT FROM account a JOIN customer c ON c.id = a.customer_id
                  WHERE a.id = NEW.account_id AND c.business_model = 'meter_prepaid')
       AND NOT EXISTS (SELECT FROM ledger_transaction p
                       JOIN card_operation o ON o.transaction_id = p.id AND o.kind = 'recharge'
                       WHERE p.idempotency_key = left(NEW.idempotency_key, -length(':deposit'))
                                                 || ':purchase'
                         AND p.kind = 'card_purchase' AND p.account_id = NEW.account_id
                         AND p.receipt_no = NEW.receipt_no AND p.amount = -NEW.amount) THEN
        RAISE EXCEPTION 'permission denied: a card meter''s deposit % is the payment of a card recharge on its receipt, and no recharge of % was journaled on receipt %',
            NEW.idempotency_key, NEW.amount, coalesce(NEW.receipt_no::text, '-')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS card_recharge_is_its_payment ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER card_recharge_is_its_payment
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind = 'deposit'
              AND (NEW.idempotency_key LIKE 'card-op:%%:deposit'
                   OR NEW.idempotency_key LIKE 'card-op:%%:owed')
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION ledger_card_recharge_is_its_payment()$t$, md_role_name('owner'));
END $$;

-- V135's check of an operator's card money, with the debt: a recharge's purchase
-- (`card-op:K:purchase`, the water sold) commits only while its customer owes no water a meter
-- loaded unpaid (SQLSTATE MD430). A purchase settled from the card (`:found`) is not asked:
-- the read that finds one may find the debt too.
CREATE OR REPLACE FUNCTION ledger_card_money_goes_with_its_operation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    debt record;
BEGIN
    IF NEW.kind = 'card_purchase' THEN
        -- The recharge journaled with it (card_recharge_journal), or settled done from the card
        -- with it (card_recharge_found_on_card): the operation names the new row.
        IF NOT EXISTS (SELECT FROM card_operation o
                       WHERE o.transaction_id = NEW.id AND o.kind = 'recharge') THEN
            RAISE EXCEPTION 'permission denied: an operator''s card_purchase is the money of the card recharge journaled with it, as the desk writes it (a card recharge); ledger row % is no recharge''s',
                NEW.id USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.idempotency_key LIKE 'card-op:%:purchase' THEN
            SELECT w.amount, o.purchase_seq INTO debt
            FROM account a
            JOIN card_recharge_owed w ON w.customer_id = a.customer_id
            JOIN card_operation o ON o.id = w.operation_id AND o.state = 'failed'
            WHERE a.id = NEW.account_id
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'the customer owes % for purchase % a meter loaded unpaid: paid first (card_recharge_owed_pay), then recharged',
                    debt.amount, debt.purchase_seq USING ERRCODE = 'MD430';
            END IF;
        END IF;
    ELSIF NEW.kind = 'reversal' THEN
        IF NOT EXISTS (SELECT FROM card_operation o
                       WHERE o.transaction_id = NEW.reverses_id AND o.state = 'failed'
                         AND NEW.idempotency_key = 'card-op:' || o.idempotency_key || ':reversal'
                         AND md_written_here(o.xmin)) THEN
            RAISE EXCEPTION 'permission denied: an operator reverses only a card operation''s money, keyed card-op:<operation>:reversal, as the operation is settled failed in the same transaction (card_operation_settle); ledger row % reverses row % otherwise',
                NEW.id, NEW.reverses_id USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM card_operation o
                      -- K of `card-op:K:payout`, by the operation's unique key.
                      WHERE o.idempotency_key = left(substr(NEW.idempotency_key, 9), -7)
                        AND o.kind = 'refund' AND o.state = 'done'
                        AND md_written_here(o.xmin)) THEN
        RAISE EXCEPTION 'permission denied: a card refund is paid out as it is settled done in the same transaction (card_operation_settle); ledger row % (%) is not',
            NEW.id, NEW.idempotency_key USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

-- V161's `ledger_posted`, with the debt's payment among a card meter's rows.
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
                    WHEN p.payment_method_code IS NOT NULL
                         AND NOT EXISTS (SELECT FROM payment_method m
                                         WHERE m.code = p.payment_method_code)
                        THEN 'no_such_method'
                    ELSE 'kind' END AS why, p.payment_method_code
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
           OR (p.payment_method_code IS NOT NULL
               AND NOT EXISTS (SELECT FROM payment_method m WHERE m.code = p.payment_method_code))
           OR NOT CASE c.business_model
                  WHEN 'meter_prepaid' THEN
                      p.kind IN ('card_purchase', 'card_refund', 'reversal')
                      OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:deposit')
                      -- A debt the database recorded (card_recharge_found_loaded), paid: of its
                      -- sum, while its recharge K of `card-op:K:owed` is still failed.
                      OR (p.kind = 'deposit' AND p.idempotency_key LIKE 'card-op:%:owed'
                          AND EXISTS (SELECT FROM card_operation o
                                      JOIN card_recharge_owed w ON w.operation_id = o.id
                                      WHERE o.idempotency_key = left(substr(p.idempotency_key, 9), -5)
                                        AND o.state = 'failed'
                                        AND w.customer_id = a.customer_id
                                        AND w.amount = p.amount))
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
        ELSIF FOUND AND wrong.why = 'no_such_method' THEN
            RAISE EXCEPTION 'no payment method %: a ledger row names one of payment_method''s',
                wrong.payment_method_code USING ERRCODE = 'foreign_key_violation';
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
