-- What a ledger row costs its INSERT statement (issue 14, s41-d; docs/decisions.md, "A ledger
-- row's rules read once a statement…").
--
-- PostgreSQL reads a table's CHECKs and its triggers' WHEN clauses again from their stored node
-- text at every statement that writes it, plans them, and builds their expressions: for
-- `ledger_transaction` 10.4 KB of CHECK text (nine constraints) and 11.7 KB of WHEN (seven),
-- 0.38 M and 0.52 M instructions a one-row INSERT (measured: valgrind, a single-user backend).
-- Every deduction, deposit, bill payment and card recharge pays them. Nothing is refused less:
--
-- 1. The nine CHECKs of a ledger row's own columns become one, `ledger_transaction_check`, whose
--    expression is a call of `md_ledger_row_rules` with the eight columns they read. It asks
--    the same nine rules in the same order (the constraints' names', as PostgreSQL checks
--    them) and, for the first one a row breaks, raises what the constraint raised: SQLSTATE
--    23514 (check_violation) naming that constraint, its table and schema, and the same
--    message (not its DETAIL of the row). A rule that comes out NULL passes, as a CHECK's does. Rows already stored were
--    validated by the constraints it replaces, and the table takes no UPDATE (refuse_change):
--    it is added NOT VALID, so this migration reads no row. `ledger_transaction_numbers_a_number`
--    stays as it is (V148's, one a table, schema.rs tries it on every table); it is now asked
--    after the others (it sorted between the kind's and the unit price's): only a row with a
--    NaN or an infinite figure that also breaks the unit price's or the volume's rule is
--    refused by another of the two constraints than before.
--    The function has no SET clause (its call would cost a GUC save and restore a row): it
--    names no table and no type, and its operators are found in pg_catalog, where only the
--    owner of the database could put others in front of them (no other role creates in any
--    schema; pg_temp is never searched for operators or functions).
-- 2. The six WHEN clauses that ended `AND NOT pg_has_role(session_user, <owner>, 'MEMBER')`
--    lose that term (700 bytes of node text each): their functions ask it first (the owner's
--    role name written into them, as into the WHEN clauses: no md_role_name query) and return at
--    once for the owner (the loader turns these triggers off while it copies, tools::demo's
--    ROW_TRIGGERS_OFF; any other owner's row now queues the deferred event, which answers
--    nothing, and an ALTER TABLE of the ledger after it in the same transaction waits for
--    SET CONSTRAINTS ALL IMMEDIATE). An operator's row is asked exactly what it was, in the same order (the
--    triggers keep their names, timing and deferral).
--    `within_the_counters_limits`' WHEN compared |amount| with `md_counter_most_amount()`, an
--    immutable SQL function PostgreSQL ran — parsed and planned its body — at every statement
--    to fold it (0.13 M instructions): its value is now written into the WHEN as a number, as
--    V118 wrote the owner's name. `schema::a_ledger_rows_rules_are_one_short_check…` checks
--    that the WHEN says the function's value: a migration changing the limit must write the
--    trigger again.
-- 3. The exactly-once key's length check of `meter_reading`, `card_operation` and
--    `applied_write` (1.1 KB each) is written `length(idempotency_key) <@ '[1,200]'::int4range`
--    under the same name: the same keys refused (empty, over 200 characters), NULL passes.

-- 1. A ledger row's own rules, in one CHECK.
CREATE OR REPLACE FUNCTION md_ledger_row_rules(p_kind text, p_amount numeric,
                                               p_volume numeric, p_unit_price numeric,
                                               p_method text, p_reverses_id bigint,
                                               p_bill_id bigint, p_key text)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    broken text;
BEGIN
    -- Each rule as the constraint of the name said, in the names' order.
    IF NOT (CASE p_kind WHEN 'deposit' THEN p_amount > 0 WHEN 'card_refund' THEN p_amount > 0
                        WHEN 'reversal' THEN p_amount <> 0 ELSE p_amount < 0 END) THEN
        broken := 'ledger_transaction_check';
    ELSIF NOT ((p_kind = 'reversal') = (p_reverses_id IS NOT NULL)) THEN
        broken := 'ledger_transaction_check1';
    ELSIF NOT ((p_kind = 'bill_payment') = (p_bill_id IS NOT NULL)) THEN
        broken := 'ledger_transaction_check2';
    ELSIF NOT (p_kind <> ALL ('{deposit,refund}') OR p_method IS NOT NULL) THEN
        broken := 'ledger_transaction_check3';
    ELSIF NOT (p_kind <> ALL ('{consumption,card_purchase}') OR p_volume IS NOT NULL) THEN
        broken := 'ledger_transaction_check4';
    ELSIF NOT (length(p_key) >= 1 AND length(p_key) <= 200) THEN
        broken := 'ledger_transaction_idempotency_key_check';
    ELSIF NOT (p_kind = ANY ('{deposit,refund,consumption,bill_payment,card_purchase,card_refund,reversal}')) THEN
        broken := 'ledger_transaction_kind_check';
    ELSIF NOT (p_unit_price >= 0) THEN
        broken := 'ledger_transaction_unit_price_check';
    ELSIF NOT (p_volume > 0) THEN
        broken := 'ledger_transaction_volume_check';
    ELSE
        RETURN true;
    END IF;
    RAISE EXCEPTION 'new row for relation "ledger_transaction" violates check constraint "%"',
        broken USING ERRCODE = 'check_violation', CONSTRAINT = broken,
                     TABLE = 'ledger_transaction', SCHEMA = 'public';
END $$;

-- IF EXISTS: a test runs every migration after V109 again (two_desks).
ALTER TABLE ledger_transaction
    DROP CONSTRAINT IF EXISTS ledger_transaction_check,
    DROP CONSTRAINT IF EXISTS ledger_transaction_check1,
    DROP CONSTRAINT IF EXISTS ledger_transaction_check2,
    DROP CONSTRAINT IF EXISTS ledger_transaction_check3,
    DROP CONSTRAINT IF EXISTS ledger_transaction_check4,
    DROP CONSTRAINT IF EXISTS ledger_transaction_idempotency_key_check,
    DROP CONSTRAINT IF EXISTS ledger_transaction_kind_check,
    DROP CONSTRAINT IF EXISTS ledger_transaction_unit_price_check,
    DROP CONSTRAINT IF EXISTS ledger_transaction_volume_check;
ALTER TABLE ledger_transaction ADD CONSTRAINT ledger_transaction_check
    CHECK (md_ledger_row_rules(kind, amount, volume, unit_price, payment_method_code,
                               reverses_id, bill_id, idempotency_key)) NOT VALID;

-- 2. The owner asked by the triggers' functions, not their WHEN clauses (their newest bodies,
--    V163, V135, V82, V132, V104, V107, each with the owner's return first).
DO $do$
DECLARE
    -- The owner's role name written into the functions, as V118 wrote it into the WHEN
    -- clauses (md_role_name is a query: a recharge's triggers call it no more, V82).
    owner_role text := quote_literal(md_role_name('owner'));
BEGIN
EXECUTE replace($f$CREATE OR REPLACE FUNCTION ledger_card_money_goes_with_its_operation()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $$
DECLARE
    debt record;
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
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
END $$$f$, '@owner@', owner_role);
EXECUTE replace($f$CREATE OR REPLACE FUNCTION ledger_card_recharge_is_its_payment()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $$
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
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
END $$$f$, '@owner@', owner_role);
EXECUTE replace($f$CREATE OR REPLACE FUNCTION card_refund_is_journaled()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $$
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT FROM card_operation WHERE transaction_id = NEW.id AND kind = 'refund')
       AND NOT EXISTS (SELECT FROM system_card WHERE credited_transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'permission denied: a card_refund is the money of a card refund or of a clear card''s credit'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$$f$, '@owner@', owner_role);
EXECUTE replace($f$CREATE OR REPLACE FUNCTION ledger_counter_movement_is_audited()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $$
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT FROM audit_log e
                   WHERE e.operator_id = NEW.operator_id AND e.at = now()
                     AND e.action = 'account.' || NEW.kind AND e.entity = 'customer'
                     AND e.detail -> 'transaction_id' = to_jsonb(NEW.id)) THEN
        RAISE EXCEPTION 'permission denied: an operator''s % of % is written with its audit entry (account.%) as the desk writes it (money_move); ledger row % has none',
            NEW.kind, abs(NEW.amount), NEW.kind, NEW.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$$f$, '@owner@', owner_role);
EXECUTE replace($f$CREATE OR REPLACE FUNCTION ledger_within_the_counters_limits()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $$
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
    IF (NEW.kind = 'deposit' AND NEW.amount > md_counter_most_amount()
        AND NOT (NEW.idempotency_key LIKE 'card-op:%:deposit'
                 AND EXISTS (SELECT FROM ledger_transaction p
                             WHERE p.receipt_no = NEW.receipt_no AND p.kind = 'card_purchase'
                               AND p.amount = -NEW.amount)))
       OR (NEW.kind = 'refund' AND -NEW.amount > md_counter_most_amount()
           AND NEW.idempotency_key NOT LIKE 'card-op:%:payout')
       OR (NEW.kind = 'card_purchase' AND -NEW.amount > md_counter_most_amount()
           AND NEW.volume > md_counter_most_volume()) THEN
        RAISE EXCEPTION 'one % at the counter is at most % (or % m³ of water): % / % m³ is refused',
            NEW.kind, md_counter_most_amount(), md_counter_most_volume(), abs(NEW.amount),
            coalesce(NEW.volume::text, '-') USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$$f$, '@owner@', owner_role);
EXECUTE replace($f$CREATE OR REPLACE FUNCTION md_a_method_the_type_takes()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $$
DECLARE
    owner_id bigint;
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'ledger_transaction' THEN
        SELECT a.customer_id INTO owner_id FROM account a WHERE a.id = NEW.account_id;
    ELSE
        owner_id := NEW.customer_id;
    END IF;
    IF NOT EXISTS (SELECT FROM customer c
                   JOIN customer_type_payment_method m ON m.customer_type_id = c.customer_type_id
                   JOIN payment_method p ON p.code = m.payment_method_code
                   WHERE c.id = owner_id AND p.code = NEW.payment_method_code
                     AND p.enabled) THEN
        RAISE EXCEPTION 'payment method % is not one the customer''s type takes (or it is disabled)',
            NEW.payment_method_code USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$$f$, '@owner@', owner_role);
END $do$;

DROP TRIGGER IF EXISTS card_money_goes_with_its_operation ON ledger_transaction;
CREATE CONSTRAINT TRIGGER card_money_goes_with_its_operation
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = ANY ('{card_purchase,reversal}')
          OR (NEW.kind = 'refund' AND NEW.idempotency_key LIKE 'card-op:%:payout'))
    EXECUTE FUNCTION ledger_card_money_goes_with_its_operation();
DROP TRIGGER IF EXISTS card_recharge_is_its_payment ON ledger_transaction;
CREATE CONSTRAINT TRIGGER card_recharge_is_its_payment
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'deposit' AND (NEW.idempotency_key LIKE 'card-op:%:deposit'
                                    OR NEW.idempotency_key LIKE 'card-op:%:owed'))
    EXECUTE FUNCTION ledger_card_recharge_is_its_payment();
DROP TRIGGER IF EXISTS card_refund_is_journaled ON ledger_transaction;
CREATE CONSTRAINT TRIGGER card_refund_is_journaled
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'card_refund')
    EXECUTE FUNCTION card_refund_is_journaled();
DROP TRIGGER IF EXISTS counter_money_is_audited ON ledger_transaction;
CREATE CONSTRAINT TRIGGER counter_money_is_audited
    AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = ANY ('{deposit,refund}') AND NEW.idempotency_key NOT LIKE 'card-op:%')
    EXECUTE FUNCTION ledger_counter_movement_is_audited();
DROP TRIGGER IF EXISTS within_the_counters_limits ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER within_the_counters_limits
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind = ANY ('{deposit,refund,card_purchase}') AND abs(NEW.amount) > %s)
        EXECUTE FUNCTION ledger_within_the_counters_limits()$t$, md_counter_most_amount());
END $$;
DROP TRIGGER IF EXISTS a_method_the_type_takes ON ledger_transaction;
CREATE TRIGGER a_method_the_type_takes BEFORE INSERT ON ledger_transaction FOR EACH ROW
    WHEN (NEW.payment_method_code IS NOT NULL
          AND NEW.idempotency_key NOT LIKE 'card-op:%:payout')
    EXECUTE FUNCTION md_a_method_the_type_takes();
DROP TRIGGER IF EXISTS a_method_the_type_takes ON card_operation;
CREATE TRIGGER a_method_the_type_takes BEFORE INSERT ON card_operation FOR EACH ROW
    WHEN (NEW.payment_method_code IS NOT NULL)
    EXECUTE FUNCTION md_a_method_the_type_takes();

-- 3. The exactly-once key's length, in a shorter expression under the same name.
ALTER TABLE meter_reading DROP CONSTRAINT meter_reading_idempotency_key_check,
    ADD CONSTRAINT meter_reading_idempotency_key_check
        CHECK (length(idempotency_key) <@ '[1,200]'::int4range);
ALTER TABLE card_operation DROP CONSTRAINT card_operation_idempotency_key_check,
    ADD CONSTRAINT card_operation_idempotency_key_check
        CHECK (length(idempotency_key) <@ '[1,200]'::int4range);
ALTER TABLE applied_write DROP CONSTRAINT applied_write_idempotency_key_check,
    ADD CONSTRAINT applied_write_idempotency_key_check
        CHECK (length(idempotency_key) <@ '[1,200]'::int4range);
