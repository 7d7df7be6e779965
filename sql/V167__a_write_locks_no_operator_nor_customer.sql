-- A write no longer locks the operator who writes it nor, for a receipt or a reading, the
-- customer it names (issue 14; docs/decisions.md, "A write locks no operator, customer nor
-- price version (s40-c)").
--
-- Every ledger row, receipt, audit entry, card operation, reading and exactly-once key names its
-- operator, and a receipt and a reading their customer, by a foreign key: each insert ran the
-- key's check (`SELECT 1 FROM ONLY operator x WHERE id = $1 FOR KEY SHARE OF x`, 140 000 a
-- 90-second soak), and the lock it takes writes the referenced row (its xmax) and a WAL record.
-- Without these eight keys a counter reading costs 3.2 % fewer instructions and a deposit 3.4 %
-- (valgrind, single-user backend).
--
-- What the keys guaranteed is kept another way:
--   * an operator's row and a customer's row are never deleted nor their id changed, by anyone
--     (`operator_kept`, `customer_kept`): an operator is disabled, a customer closed, and no
--     path of the desk, the back office or a migration ever deleted either (the bulk loader's
--     undo of a failed load deletes the customers it loaded with its own guards off, as it
--     does the ledger's refusal of a DELETE);
--   * the id an operator's row names is the database's: `current_operator_id()` (from
--     `session_user`), stamped over what the client sent on an audit entry (`audit_log_stamp`),
--     a receipt (`receipt_rules`), a card operation (`card_operation_rules`) and an exactly-once
--     key (`md_stamp_operator`), or written by the SECURITY DEFINER functions that alone write
--     the ledger and the readings. Where nothing is stamped (the owner, or a role no operator
--     signs in as), an id typed on an audit entry, a receipt or a key must name an operator
--     (`foreign_key_violation`), asked only on that path;
--     The owner's own ledger rows and card operations are the owner's to get right, as V161
--     left the payment method the owner names;
--   * a receipt's customer is the one its holder is read from (`receipt_rules`): none, and the
--     receipt is refused (`foreign_key_violation`); a reading's customer is the meter's active
--     customer, read behind the account's lock by the function that writes it.
-- The other keys to operator and customer stay (rarely written: shifts, openings, transfers,
-- cards, price versions, closings; a card operation's customer, which for some kinds nothing
-- else checks).
-- Runs again on its own result (tests/two_desks.rs): DROP … IF EXISTS, CREATE OR REPLACE.

ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_operator_id_fkey;
ALTER TABLE receipt DROP CONSTRAINT IF EXISTS receipt_operator_id_fkey;
ALTER TABLE receipt DROP CONSTRAINT IF EXISTS receipt_customer_id_fkey;
ALTER TABLE ledger_transaction DROP CONSTRAINT IF EXISTS ledger_transaction_operator_id_fkey;
ALTER TABLE card_operation DROP CONSTRAINT IF EXISTS card_operation_operator_id_fkey;
ALTER TABLE applied_write DROP CONSTRAINT IF EXISTS applied_write_operator_id_fkey;
ALTER TABLE meter_reading DROP CONSTRAINT IF EXISTS meter_reading_operator_id_fkey;
ALTER TABLE meter_reading DROP CONSTRAINT IF EXISTS meter_reading_customer_id_fkey;

-- An operator's and a customer's row are kept: disabled or closed, never deleted nor
-- renumbered.
CREATE OR REPLACE FUNCTION md_row_kept() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION '% % is kept: other rows name it by id without a key (%)',
            TG_TABLE_NAME, OLD.id, TG_ARGV[0] USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS operator_kept ON operator;
CREATE TRIGGER operator_kept BEFORE DELETE OR UPDATE OF id ON operator
    FOR EACH ROW EXECUTE FUNCTION md_row_kept('disable the operator instead');
DROP TRIGGER IF EXISTS customer_kept ON customer;
CREATE TRIGGER customer_kept BEFORE DELETE OR UPDATE OF id ON customer
    FOR EACH ROW EXECUTE FUNCTION md_row_kept('close the customer instead');

-- Whether `p_id` names an operator, refused where not (it tells what the key's refusal told:
-- whether an id is an operator's).
CREATE OR REPLACE FUNCTION md_names_an_operator(p_id bigint) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_id IS NOT NULL AND NOT EXISTS (SELECT FROM operator WHERE id = p_id) THEN
        RAISE EXCEPTION 'no operator %: a row names one of operator''s', p_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END $$;

-- V13's stamp; where no operator is signed in, the id written names one.
CREATE OR REPLACE FUNCTION md_stamp_operator() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    operator_id bigint := current_operator_id();
BEGIN
    IF operator_id IS NOT NULL THEN
        NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], operator_id));
    ELSE
        PERFORM md_names_an_operator((to_jsonb(NEW)->>TG_ARGV[0])::bigint);
    END IF;
    RETURN NEW;
END $$;

-- V82's stamp; the owner's entry names an operator, if any.
CREATE OR REPLACE FUNCTION audit_log_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    NEW.db_user := session_user;
    -- The owner (set-up, demo data, imports of history) writes what it writes; an operator's
    -- row is theirs and now.
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        NEW.operator_id := current_operator_id();
        NEW.at := now();
    ELSE
        PERFORM md_names_an_operator(NEW.operator_id);
    END IF;
    RETURN NEW;
END $$;

-- V116's rules; a receipt's customer is one (its holder is read from it), and where no
-- operator is signed in its operator is one.
CREATE OR REPLACE FUNCTION receipt_rules() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me bigint;
BEGIN
    IF NOT pg_has_role(current_user, TG_ARGV[0], 'MEMBER') THEN
        IF TG_OP = 'INSERT' THEN
            IF NEW.receipt_no IS DISTINCT FROM md_issued_to_session('receipt_no_seq') THEN
                RAISE EXCEPTION 'permission denied: receipt number % is not the one receipt_no_seq issued to this session',
                    NEW.receipt_no USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF NEW.reprints IS DISTINCT FROM OLD.reprints + 1 THEN
            RAISE EXCEPTION 'permission denied: a reprint of receipt % counts one (reprints = reprints + 1)',
                OLD.receipt_no USING ERRCODE = 'insufficient_privilege';
        ELSE
            NEW.last_reprinted_at := now();
            NEW.customer_name := OLD.customer_name;
            NEW.meter_no := OLD.meter_no;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        me := current_operator_id();
        IF me IS NOT NULL THEN
            NEW.operator_id := me;
        ELSE
            PERFORM md_names_an_operator(NEW.operator_id);
        END IF;
        -- The holder and the meter now: the writer holds the account, which a transfer takes
        -- first.
        SELECT c.name, m.meter_no INTO NEW.customer_name, NEW.meter_no
        FROM customer c JOIN meter m ON m.id = c.meter_id
        WHERE c.id = NEW.customer_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no customer %: a receipt names one of customer''s', NEW.customer_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
