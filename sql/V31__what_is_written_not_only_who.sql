-- The database checks what an operator writes, not only which permission the write needs
-- (V13 asked only the second). Found by psql as the demo clerk: with customer.modify a clerk
-- could renumber a customer, forge who opened it and when, change its basic information with no
-- audit entry, and multiply a recharge's water in the card journal. Each operator's writable
-- columns are now only those the desk's own statements write (column privileges), and row
-- triggers say which values may go there: a state only moves forward, a count only by one, a
-- number is the one its sequence handed out, a time is now. The owner's SECURITY DEFINER
-- functions (customer_close, ledger_post, card_report_lost, …), the owner's loads and the
-- foreign keys' cascades run as the owner and are not subject to them. Decision:
-- docs/decisions.md, "What an operator writes is checked, not only who writes".

-- ───────────────────────────── Customers ─────────────────────────────

-- The basic information of a customer row, keyed as the desk keys it in the audit log and the
-- owner history (domain::customer_rules::Field::key, BasicInfo::values).
CREATE FUNCTION customer_basic_info(c customer) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
    SELECT CASE c.nature
        WHEN 'personal' THEN jsonb_build_object(
            'name', c.name, 'id_document_no', c.id_document_no, 'mobile', c.phone,
            'address', c.address, 'household_size', c.household_size::text, 'email', c.email,
            'remark', c.remark)
        WHEN 'enterprise' THEN jsonb_build_object(
            'company_name', c.name, 'registration_no', c.credit_code,
            'contact_person', c.contact_person, 'phone', c.phone, 'address', c.address,
            'remark', c.remark)
        ELSE jsonb_build_object('label', c.name, 'location', c.address, 'remark', c.remark)
    END
$$;

-- The fields of `info` whose values differ in `other`.
CREATE FUNCTION jsonb_changed_fields(info jsonb, other jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_object_agg(key, value) FROM jsonb_each(info) WHERE value IS DISTINCT FROM other -> key
$$;

-- The Damm check digit of a number's digits: 0 for a customer number whose check digit is right
-- (domain::customer_number).
CREATE FUNCTION damm_check(digits text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    damm constant integer[] := '{{0,3,1,7,5,9,8,6,4,2},{7,0,9,2,1,5,4,8,6,3},{4,2,0,6,8,7,1,3,5,9},
                                 {1,7,5,0,9,8,3,4,2,6},{6,1,2,3,0,4,5,9,7,8},{3,6,7,4,2,0,9,5,8,1},
                                 {5,8,6,9,7,2,0,1,3,4},{8,9,4,5,3,6,2,0,1,7},{9,4,3,8,6,1,7,2,0,5},
                                 {2,5,8,1,4,3,6,7,9,0}}';
    interim integer := 0;
    digit text;
BEGIN
    FOREACH digit IN ARRAY regexp_split_to_array(digits, '') LOOP
        interim := damm[interim + 1][digit::integer + 1];
    END LOOP;
    RETURN interim;
END $$;

-- The value `sequence` last handed to this session (currval), or NULL when it handed none.
CREATE FUNCTION md_issued_to_session(sequence regclass) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
BEGIN
    RETURN currval(sequence);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    RETURN NULL;
END $$;

-- An operator opens a customer under the number customer_serial just handed to their session
-- (CustomerNumber::from_sequence_value: values past 9 999 999 stand for the long serials).
CREATE FUNCTION customer_number_is_issued() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    issued bigint := md_issued_to_session('customer_serial');
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        IF issued > 9999999 THEN
            issued := 100000000 + issued - 10000000;
        END IF;
        IF NEW.customer_no / 10 IS DISTINCT FROM issued OR damm_check(NEW.customer_no::text) <> 0 THEN
            RAISE EXCEPTION 'permission denied: customer number % is not the one customer_serial issued to this session',
                NEW.customer_no USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END $$;
-- Named to fire after the other row triggers' refusals (BEFORE row triggers fire by name).
CREATE TRIGGER takes_the_issued_number BEFORE INSERT ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_number_is_issued();

-- Every change moves the version by one: a version set back would let a stale form overwrite
-- another clerk's save without the conflict (db::customer_changes::modify_basic_info).
CREATE FUNCTION customer_version_moves_by_one() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER')
       AND NEW.version IS DISTINCT FROM OLD.version + 1 THEN
        RAISE EXCEPTION 'permission denied: a change of customer % sets version = version + 1',
            OLD.customer_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER version_moves_by_one BEFORE UPDATE ON customer
    FOR EACH ROW EXECUTE FUNCTION customer_version_moves_by_one();

-- A change of a customer's basic information commits only with its audit entry, true to the
-- change, written by the same session in the same transaction (at = now() and db_user are the
-- stamp's, V13): a modify with the changed fields before and after and the new version, as
-- db::customer_changes writes it; a transfer (an owner history row of this transaction) with its
-- history row keeping the previous owner as stored and the new owner in its audit entry. The
-- desk writes the entry in the statement of the change; checked at commit, so the order of the
-- statement's parts does not matter.
CREATE FUNCTION customer_change_is_audited() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    before jsonb := customer_basic_info(OLD);
    after jsonb := customer_basic_info(NEW);
    transferred customer_owner_history;
    transfers integer := 0;
BEGIN
    FOR transferred IN SELECT * FROM customer_owner_history
                       WHERE customer_id = NEW.id AND transferred_at = now()
                         AND transferred_by = current_operator_id() LOOP
        transfers := transfers + 1;
        IF transferred.previous_owner IS DISTINCT FROM before OR NOT EXISTS (
               SELECT FROM audit_log a
               WHERE a.entity = 'customer' AND a.entity_id = NEW.id AND a.action = 'customer.transfer'
                 AND a.at = now() AND a.db_user = session_user
                 AND a.detail -> 'history_id' = to_jsonb(transferred.id)
                 AND a.detail -> 'new_owner' = after) THEN
            RAISE EXCEPTION 'permission denied: a transfer of customer % keeps the previous owner as stored and is audited with the new one (customer.transfer)',
                NEW.customer_no USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    IF transfers = 0 AND before IS DISTINCT FROM after AND NOT EXISTS (
           SELECT FROM audit_log a
           WHERE a.entity = 'customer' AND a.entity_id = NEW.id AND a.action = 'customer.modify'
             AND a.at = now() AND a.db_user = session_user
             AND a.detail = jsonb_build_object('version', NEW.version,
                                               'before', jsonb_changed_fields(before, after),
                                               'after', jsonb_changed_fields(after, before))) THEN
        RAISE EXCEPTION 'permission denied: a change of customer %''s basic information is written with its audit entry (customer.modify)',
            NEW.customer_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER change_is_audited AFTER UPDATE ON customer
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION customer_change_is_audited();

-- An owner history row comes with the transfer that makes it: the customer's row changes in
-- the same transaction (and customer_change_is_audited checks the row against that change).
CREATE FUNCTION customer_owner_history_is_a_transfer() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM customer
                   WHERE id = NEW.customer_id AND xmin = pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'permission denied: an owner history row is written only by the transfer of customer % (customer.transfer)',
            NEW.customer_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER is_a_transfer AFTER INSERT ON customer_owner_history
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION customer_owner_history_is_a_transfer();

-- ───────────────────────────── Cards ─────────────────────────────

-- A card is issued under the number card_no_seq just handed to the session.
CREATE FUNCTION card_number_is_issued() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER')
       AND NEW.card_no IS DISTINCT FROM md_issued_to_session('card_no_seq') THEN
        RAISE EXCEPTION 'permission denied: card number % is not the one card_no_seq issued to this session',
            NEW.card_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
-- After refuses_closed_customer (V24): BEFORE row triggers fire by name.
CREATE TRIGGER takes_the_issued_number BEFORE INSERT ON card
    FOR EACH ROW EXECUTE FUNCTION card_number_is_issued();

-- What a card's row may become at the desk (db::card_ops): active → void when replaced (its
-- reason, blacklisted; card.replace) or when its own open or replacement failed (not_issued,
-- while that operation is being settled); active or void → recycled while its recycle is being
-- settled. Voided now, a reason given once, blacklisted only as it leaves active. The meter's
-- write-back as read from the card only moves forward, read now.
CREATE FUNCTION card_update_rules() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF NEW.meter_loaded_seq IS DISTINCT FROM greatest(OLD.meter_loaded_seq, NEW.meter_loaded_seq)
       OR NEW.meter_generation IS DISTINCT FROM greatest(OLD.meter_generation, NEW.meter_generation)
       OR (NEW.meter_read_at IS DISTINCT FROM OLD.meter_read_at AND NEW.meter_read_at <> now()) THEN
        RAISE EXCEPTION 'permission denied: the meter''s write-back on card % only moves forward, read now',
            OLD.card_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.state IS NOT DISTINCT FROM OLD.state THEN
        IF (NEW.void_reason, NEW.voided_at, NEW.blacklisted)
           IS DISTINCT FROM (OLD.void_reason, OLD.voided_at, OLD.blacklisted) THEN
            RAISE EXCEPTION 'permission denied: card %''s reason, void time and blacklisting change only with its state',
                OLD.card_no USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.state = 'active' AND NEW.state = 'void' AND NEW.void_reason = 'not_issued' THEN
        IF NOT EXISTS (SELECT FROM card_operation
                       WHERE card_id = OLD.id AND state = 'pending' AND kind IN ('open', 'replace')) THEN
            RAISE EXCEPTION 'permission denied: card % is not_issued only when its open or replacement fails',
                OLD.card_no USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF OLD.state = 'active' AND NEW.state = 'void' THEN
        PERFORM md_require('card.replace');
    ELSIF OLD.state IN ('active', 'void') AND NEW.state = 'recycled' THEN
        IF NOT EXISTS (SELECT FROM card_operation
                       WHERE card_id = OLD.id AND state = 'pending' AND kind = 'recycle') THEN
            RAISE EXCEPTION 'permission denied: card % is recycled only by its recycle operation',
                OLD.card_no USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSE
        RAISE EXCEPTION 'permission denied: card % cannot go from % to %', OLD.card_no, OLD.state, NEW.state
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.voided_at IS DISTINCT FROM coalesce(OLD.voided_at, now())
       OR (OLD.void_reason IS NOT NULL AND NEW.void_reason IS DISTINCT FROM OLD.void_reason)
       OR (OLD.state <> 'active' AND NEW.blacklisted IS DISTINCT FROM OLD.blacklisted) THEN
        RAISE EXCEPTION 'permission denied: card % is voided now, its reason given once, blacklisted as it leaves active',
            OLD.card_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER update_rules BEFORE UPDATE ON card
    FOR EACH ROW EXECUTE FUNCTION card_update_rules();

-- A card row issued at the desk is the card of an open or a replacement journaled in the same
-- transaction (db::card_ops::begin): no card is active without the journal that wrote it.
CREATE FUNCTION card_is_journaled() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM card_operation
                   WHERE card_id = NEW.id AND kind IN ('open', 'replace')) THEN
        RAISE EXCEPTION 'permission denied: card % is issued only by a card open or replacement (card.open, card.replace)',
            NEW.card_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER is_journaled AFTER INSERT ON card
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION card_is_journaled();

-- A recharge or refund is journaled with the money it moved for it in the same request: the
-- ledger row ledger_post wrote under the operation's own key (db::card_ops::begin::insert_ledger)
-- on the customer's account, for a recharge the water that money bought (m³ × 1000 = litres).
-- Another kind moves no money. So a journal cannot borrow another movement (a reversal of a
-- pending operation's transaction needs no account.reverse, V13) or multiply the water.
CREATE FUNCTION card_operation_carries_its_money() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    own_key text := 'card-op:' || NEW.idempotency_key || ':'
                    || (CASE NEW.kind WHEN 'recharge' THEN 'purchase' ELSE 'card_refund' END);
BEGIN
    IF pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF NEW.kind IN ('recharge', 'refund') THEN
        IF NOT EXISTS (SELECT FROM ledger_transaction t JOIN account a ON a.id = t.account_id
                       WHERE t.id = NEW.transaction_id AND a.customer_id = NEW.customer_id
                         AND t.idempotency_key = own_key
                         AND (NEW.kind = 'refund' OR t.volume * 1000 = NEW.volume_litres)) THEN
            RAISE EXCEPTION 'permission denied: a card % is journaled with the money it moved under its own key (%), and a recharge with the water it bought',
                NEW.kind, own_key USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF NEW.transaction_id IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied: a card % moves no money', NEW.kind
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER carries_its_money BEFORE INSERT ON card_operation
    FOR EACH ROW EXECUTE FUNCTION card_operation_carries_its_money();

-- A card operation is journaled with what it writes and settled once: pending → done or
-- failed, finished now. What it writes (kind, customer, card, volume, sequence, records,
-- transaction, operator) is the columns no operator may update.
CREATE FUNCTION card_operation_settles_once() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        IF OLD.state <> 'pending' OR NEW.state NOT IN ('done', 'failed') THEN
            RAISE EXCEPTION 'permission denied: card operation % is settled once, from pending to done or failed (it is %)',
                OLD.id, OLD.state USING ERRCODE = 'insufficient_privilege';
        END IF;
        NEW.finished_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER settles_once BEFORE UPDATE ON card_operation
    FOR EACH ROW EXECUTE FUNCTION card_operation_settles_once();

-- ───────────────────────────── Meters ─────────────────────────────

-- Installing a meter is opening an account on it (customer.open, V13): the customer is there
-- by the end of the transaction, or a clerk could take meters out of the uninstalled list for
-- good (a meter never goes back).
CREATE FUNCTION meter_installed_for_a_customer() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM customer WHERE meter_id = NEW.id) THEN
        RAISE EXCEPTION 'permission denied: meter % is installed only by opening an account on it (customer.open)',
            NEW.meter_no USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER installed_for_a_customer AFTER UPDATE ON meter
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status = 'uninstalled' AND NEW.status = 'installed'
          AND NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION meter_installed_for_a_customer();

-- ───────────────────────────── Receipts ─────────────────────────────

-- A receipt has the number receipt_no_seq just handed to the session; a reprint counts one,
-- now.
CREATE FUNCTION receipt_rules() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        RETURN NEW;
    END IF;
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
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rules BEFORE INSERT OR UPDATE ON receipt
    FOR EACH ROW EXECUTE FUNCTION receipt_rules();

-- ───────────────────────────── Privileges: the desk's columns ─────────────────────────────

-- Exactly the columns the desk's own statements write (src/db: customer_changes, card_ops,
-- receipts); everything else of these rows is the owner's functions', the defaults' and the
-- stamps'. Row locks (FOR UPDATE, FOR NO KEY UPDATE) need UPDATE on one column, which each
-- locked table keeps. Ledger, audit log and applied writes stay as V13 has them.
DO $$
DECLARE
    operator_group name := md_role_name('operator');
BEGIN
    EXECUTE format('REVOKE INSERT, UPDATE ON customer, account, customer_owner_history, card,
                        card_operation, receipt FROM %I', operator_group);
    EXECUTE format('GRANT INSERT (customer_no, customer_type_id, nature, business_model, meter_id,
                                  meter_type_id, opened_by, name, address, phone, id_document_no,
                                  household_size, email, credit_code, contact_person, remark),
                          UPDATE (name, address, phone, id_document_no, household_size, email,
                                  credit_code, contact_person, remark, version)
                    ON customer TO %I', operator_group);
    -- account: its balance only through the ledger; UPDATE (refused by its guard) for the row
    -- lock of a transfer.
    EXECUTE format('GRANT INSERT (customer_id, kind), UPDATE ON account TO %I', operator_group);
    EXECUTE format('GRANT INSERT (customer_id, previous_owner, transferred_by)
                    ON customer_owner_history TO %I', operator_group);
    EXECUTE format('GRANT INSERT (card_no, customer_id, generation, issued_by),
                          UPDATE (state, void_reason, voided_at, blacklisted, meter_loaded_seq,
                                  meter_generation, meter_read_at)
                    ON card TO %I', operator_group);
    EXECUTE format('GRANT INSERT (customer_id, card_id, replaced_card_id, kind, purchase_seq,
                                  volume_litres, issue_record_before, issue_record_after,
                                  purchase_record_before, purchase_record_after, transaction_id,
                                  idempotency_key, operator_id, plan, payment_method_code),
                          UPDATE (state, finished_at, failure_reason)
                    ON card_operation TO %I', operator_group);
    EXECUTE format('GRANT INSERT (receipt_no, customer_id, operator_id),
                          UPDATE (reprints, last_reprinted_at)
                    ON receipt TO %I', operator_group);
END $$;
