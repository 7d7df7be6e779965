-- What the audit log tells and what a refund gives back are what happened, and no name the
-- database checks by can be shadowed (found by psql as the demo clerk and supervisor, after
-- V31). Decision: docs/decisions.md, "What an entry tells is what happened".
--  * A temporary table (or a role's search_path) shadowed `installation` in the functions the
--    row triggers' WHEN clauses call: md_role_name('owner') became NULL, the clause false, and
--    V31's checks at commit (a basic-info change with its audit entry, an owner history row
--    with its transfer, a card with its journal, a meter with its customer) never ran. Every
--    function of ours that reads a table now names its tables with their schema or runs with a
--    fixed search_path.
--  * An operator's audit entry is accepted only when it tells a write the same transaction made,
--    with the permission that write needs (the entries the desk writes itself, src/db; the
--    owner's functions write theirs as the owner and are not asked).
--  * A card refund gives back what the purchase was paid, for the water it bought, once, while
--    no meter write-back shows it loaded; a card_refund ledger row is a refund's or a clear
--    card's credit. A recharge pays at least the cheapest price in force for its water.
--  * A pending card operation settled failed has its money reversed, a refund settled done with
--    a payout method is paid out, in the same transaction.
--  * No operator locks the whole account table (LOCK TABLE): its UPDATE privilege, there for
--    the desk's row locks, is a column's.

-- ───────────────────────────── Names nobody shadows ─────────────────────────────

-- Inlined where it is called (the WHEN clauses of the row triggers), so its table is named with
-- its schema rather than by a SET clause: the caller's search_path, which an operator sets and
-- where pg_temp comes first, must not decide which `installation` it reads.
CREATE OR REPLACE FUNCTION md_role_name(suffix text) RETURNS name LANGUAGE sql STABLE AS $$
    SELECT (role_prefix || '_' || suffix)::name FROM public.installation
$$;

-- As V18 has them (inlined into the reading import's index scans), tables named with their
-- schema.
CREATE OR REPLACE FUNCTION reading_latest(p_meter_id bigint) RETURNS SETOF meter_reading
LANGUAGE sql STABLE AS $$
    SELECT r.* FROM public.meter_reading r LEFT JOIN public.bill b ON b.id = r.bill_id
    WHERE r.meter_id = p_meter_id AND b.status IS DISTINCT FROM 'void'
    ORDER BY r.read_on DESC, r.id DESC LIMIT 1
$$;
CREATE OR REPLACE FUNCTION reading_previous_value(p_meter_id bigint) RETURNS SETOF numeric
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT electronic FROM public.reading_latest(p_meter_id)),
        (SELECT b.current_reading FROM public.customer c JOIN public.account a ON a.customer_id = c.id
         JOIN public.bill b ON b.account_id = a.id
         WHERE c.meter_id = p_meter_id AND b.status <> 'void'
         ORDER BY b.period_end DESC, b.id DESC LIMIT 1),
        (SELECT initial_electronic_reading FROM public.meter WHERE id = p_meter_id))
$$;

-- The trigger functions V1 made without a search_path.
ALTER FUNCTION ledger_check_reversal() SET search_path = public, pg_temp;
ALTER FUNCTION meter_guard() SET search_path = public, pg_temp;
ALTER FUNCTION refuse_change() SET search_path = public, pg_temp;

-- ───────────────────────────── Written by this transaction ─────────────────────────────

-- Whether the row version whose xmin is `row_xmin` was written by the current transaction or
-- one of its subtransactions (a savepoint's): a visible row version whose writer is still in
-- progress can only be our own.
CREATE FUNCTION md_written_here(row_xmin xid) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = public, pg_temp AS $$
    SELECT row_xmin = pg_current_xact_id_if_assigned()::xid
        OR (row_xmin::text::bigint >= (pg_current_xact_id()::text::bigint & 4294967295)
            AND pg_xact_status(((pg_current_xact_id()::text::bigint >> 32) << 32
                                | row_xmin::text::bigint)::text::xid8) = 'in progress')
$$;

-- ───────────────────────────── An audit entry tells a write ─────────────────────────────

-- Whether `entry`, written by an operator, tells a write this transaction made and the
-- operator may make: the entries of src/db, action by action. Unknown actions tell nothing.
CREATE FUNCTION audit_entry_tells_a_write(entry audit_log) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    d jsonb := coalesce(entry.detail, '{}');
    verb text := split_part(entry.action, '.', 2);
BEGIN
    CASE entry.action
    -- db::operators::record_sign_in: the operator's own sign-in.
    WHEN 'login.succeeded' THEN
        RETURN entry.entity = 'operator' AND entry.entity_id = current_operator_id();
    -- db::customer_changes: the customer row written here, as the entry tells it.
    WHEN 'customer.open' THEN
        RETURN md_permitted('customer.open') AND entry.entity = 'customer' AND EXISTS (
            SELECT FROM customer c JOIN account a ON a.customer_id = c.id
            JOIN meter m ON m.id = c.meter_id
            WHERE c.id = entry.entity_id AND md_written_here(c.xmin)
              AND d = jsonb_build_object('customer_no', c.customer_no,
                                         'customer_type_id', c.customer_type_id,
                                         'meter_no', m.meter_no, 'account_id', a.id,
                                         'account_kind', a.kind));
    WHEN 'customer.modify' THEN
        RETURN md_permitted('customer.modify') AND entry.entity = 'customer' AND EXISTS (
            SELECT FROM customer c
            WHERE c.id = entry.entity_id AND md_written_here(c.xmin)
              AND d -> 'version' = to_jsonb(c.version)
              AND customer_basic_info(c) @> (d -> 'after')
              AND jsonb_typeof(d -> 'before') = 'object');
    WHEN 'customer.transfer' THEN
        RETURN md_permitted('customer.transfer') AND entry.entity = 'customer' AND EXISTS (
            SELECT FROM customer c JOIN customer_owner_history h ON h.customer_id = c.id
            WHERE c.id = entry.entity_id AND md_written_here(c.xmin)
              AND d -> 'history_id' = to_jsonb(h.id) AND md_written_here(h.xmin)
              AND d -> 'new_owner' = customer_basic_info(c));
    -- db::accounts: the ledger row posted here on the customer's account, as told.
    WHEN 'account.deposit', 'account.refund' THEN
        RETURN md_permitted(entry.action) AND entry.entity = 'customer' AND EXISTS (
            SELECT FROM ledger_transaction t JOIN account a ON a.id = t.account_id
            WHERE t.id = (d ->> 'transaction_id')::bigint AND md_written_here(t.xmin)
              AND a.customer_id = entry.entity_id AND t.kind = verb
              AND t.amount = (d ->> 'amount')::numeric
              AND t.operator_id IS NOT DISTINCT FROM current_operator_id());
    -- db::card_ops: the operation journaled or settled here, of its card and customer.
    WHEN 'card.open', 'card.recharge', 'card.refund', 'card.replace', 'card.recycle' THEN
        RETURN md_permitted(entry.action) AND entry.entity = 'card_operation' AND EXISTS (
            SELECT FROM card_operation o JOIN card k ON k.id = o.card_id
            WHERE o.id = entry.entity_id AND md_written_here(o.xmin) AND o.kind = verb
              AND d -> 'customer_id' = to_jsonb(o.customer_id)
              AND d -> 'card_no' = to_jsonb(k.card_no));
    WHEN 'card.resolve' THEN
        RETURN md_permitted('card.resolve') AND entry.entity = 'card_operation' AND EXISTS (
            SELECT FROM card_operation o
            WHERE o.id = entry.entity_id AND md_written_here(o.xmin) AND o.state <> 'pending'
              AND d ->> 'state' = o.state);
    -- What a card read showed (db::card_ops::begin, reconcile): told of a card of the customer
    -- named, and, where the database can tell, true: a refund refused for a purchase a meter
    -- write-back already shows loaded, a missing purchase that was journaled.
    WHEN 'card.refund_refused' THEN
        RETURN md_permitted('card.refund') AND entry.entity = 'card' AND EXISTS (
            SELECT FROM card k
            WHERE k.card_no = entry.entity_id AND d -> 'customer_id' = to_jsonb(k.customer_id)
              AND EXISTS (SELECT FROM card l
                          WHERE l.customer_id = k.customer_id
                            AND l.meter_loaded_seq >= (d ->> 'purchase_seq')::bigint));
    WHEN 'card.missing_purchase' THEN
        RETURN md_permitted('card.read') AND entry.entity = 'card' AND EXISTS (
            SELECT FROM card k JOIN card_operation o ON o.customer_id = k.customer_id
            WHERE k.card_no = entry.entity_id AND d -> 'customer_id' = to_jsonb(k.customer_id)
              AND o.kind = 'recharge' AND o.purchase_seq = (d ->> 'purchase_seq')::bigint);
    WHEN 'card.discrepancy' THEN
        RETURN md_permitted('card.read') AND entry.entity = 'card' AND EXISTS (
            SELECT FROM card k
            WHERE k.card_no = entry.entity_id
              AND (d -> 'customer_id' = to_jsonb(k.customer_id) OR d -> 'customer_id' = 'null'));
    -- db::meters: the meter or meter type written here, as told; deleted ones gone.
    WHEN 'meter.add', 'meter.modify' THEN
        RETURN md_permitted('meter.maintain') AND entry.entity = 'meter' AND EXISTS (
            SELECT FROM meter m
            WHERE m.id = entry.entity_id AND md_written_here(m.xmin) AND to_jsonb(m) @> d);
    WHEN 'meter.delete' THEN
        RETURN md_permitted('meter.maintain') AND entry.entity = 'meter'
           AND entry.entity_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM meter WHERE id = entry.entity_id OR meter_no = d ->> 'meter_no');
    WHEN 'meter.import' THEN
        RETURN md_permitted('meter.import') AND entry.entity = 'meter' AND entry.entity_id IS NULL
           AND jsonb_typeof(d -> 'meter_nos') = 'array'
           AND d -> 'imported' = to_jsonb(jsonb_array_length(d -> 'meter_nos'))
           AND NOT EXISTS (SELECT FROM jsonb_array_elements_text(d -> 'meter_nos') told (meter_no)
                           WHERE NOT EXISTS (SELECT FROM meter m
                                             WHERE m.meter_no = told.meter_no
                                               AND md_written_here(m.xmin)));
    WHEN 'meter_type.add', 'meter_type.modify' THEN
        RETURN md_permitted('meter.maintain') AND entry.entity = 'meter_type' AND EXISTS (
            SELECT FROM meter_type t
            WHERE t.id = entry.entity_id AND md_written_here(t.xmin) AND to_jsonb(t) @> d);
    WHEN 'meter_type.delete' THEN
        RETURN md_permitted('meter.maintain') AND entry.entity = 'meter_type'
           AND entry.entity_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM meter_type WHERE id = entry.entity_id);
    -- db::operators, db::roles: the department written here, the role's permissions as told.
    WHEN 'department.add', 'department.rename' THEN
        RETURN md_permitted('department.maintain') AND entry.entity = 'department' AND EXISTS (
            SELECT FROM department t
            WHERE t.id = entry.entity_id AND md_written_here(t.xmin)
              AND to_jsonb(t) @> (d -> 'after'));
    WHEN 'role.set_permissions' THEN
        RETURN md_permitted('role.maintain') AND entry.entity = 'role'
           AND EXISTS (SELECT FROM role WHERE code = d ->> 'role')
           AND ARRAY(SELECT permission_code FROM role_permission
                     WHERE role_code = d ->> 'role' ORDER BY 1)
               = ARRAY(SELECT DISTINCT p FROM jsonb_array_elements_text(d #> '{after,permissions}') p
                       ORDER BY 1);
    -- db::price_schemes, db::customer_types: the row written here; deleted ones gone.
    WHEN 'price_scheme.add', 'price_scheme.modify' THEN
        RETURN md_permitted('price.maintain') AND entry.entity = 'price_scheme' AND EXISTS (
            SELECT FROM price_scheme s
            WHERE s.id = entry.entity_id AND md_written_here(s.xmin));
    WHEN 'price_version.add' THEN
        RETURN md_permitted('price.maintain') AND entry.entity = 'price_scheme' AND EXISTS (
            SELECT FROM price_version v
            WHERE v.price_scheme_id = entry.entity_id AND md_written_here(v.xmin)
              AND v.effective_from = (d ->> 'effective_from')::date);
    WHEN 'customer_type.add', 'customer_type.modify' THEN
        RETURN md_permitted('customer_type.maintain') AND entry.entity = 'customer_type' AND EXISTS (
            SELECT FROM customer_type t
            WHERE t.id = entry.entity_id AND md_written_here(t.xmin));
    WHEN 'customer_type.delete' THEN
        RETURN md_permitted('customer_type.maintain') AND entry.entity = 'customer_type'
           AND entry.entity_id IS NOT NULL
           AND NOT EXISTS (SELECT FROM customer_type WHERE id = entry.entity_id);
    ELSE
        RETURN false;
    END CASE;
END $$;

-- Asked at commit, when every part of the desk's statement (a CTE writes the row and its entry
-- together) and of its transaction is there.
CREATE FUNCTION audit_entry_is_true() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT audit_entry_tells_a_write(NEW) THEN
        RAISE EXCEPTION 'permission denied: audit entry % (%) tells no write of this transaction that % may make',
            NEW.id, NEW.action, session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER tells_a_write AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION audit_entry_is_true();

-- ───────────────────────────── A refund gives back what was paid ─────────────────────────────

-- A card refund (db::card_ops::begin::refund) is of a purchase the customer made and paid
-- (a recharge done, its ledger row), for exactly its water and what it was paid, refunded
-- once, and not loaded by the meter as far as any card's write-back shows.
CREATE FUNCTION card_refund_is_the_purchase() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.kind <> 'refund' OR pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (
           SELECT FROM card_operation p
           JOIN ledger_transaction paid ON paid.id = p.transaction_id
           JOIN ledger_transaction back ON back.id = NEW.transaction_id
           WHERE p.customer_id = NEW.customer_id AND p.kind = 'recharge' AND p.state = 'done'
             AND p.purchase_seq = NEW.purchase_seq AND p.volume_litres = NEW.volume_litres
             AND back.amount = -paid.amount AND back.account_id = paid.account_id)
       OR EXISTS (SELECT FROM card_operation r
                  WHERE r.customer_id = NEW.customer_id AND r.kind = 'refund'
                    AND r.purchase_seq = NEW.purchase_seq AND r.state <> 'failed')
       OR EXISTS (SELECT FROM card
                  WHERE customer_id = NEW.customer_id AND meter_loaded_seq >= NEW.purchase_seq) THEN
        RAISE EXCEPTION 'permission denied: a card refund gives back purchase % of customer % as it was paid, for its water, once, before a meter loads it',
            NEW.purchase_seq, NEW.customer_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
-- After carries_its_money (V31): BEFORE row triggers fire by name.
CREATE TRIGGER refunds_the_purchase BEFORE INSERT ON card_operation
    FOR EACH ROW EXECUTE FUNCTION card_refund_is_the_purchase();

-- A card recharge (db::card_ops::begin::recharge, priced by db::card_ops::prices) pays for its
-- water at least the cheapest unit price of the version in force of the customer type's
-- prepaid scheme: whatever tier the slices fall in, and with VAT, no slice costs less (the
-- half-cent is the rounding of a by-volume charge). The exact tier price stays the desk's
-- (docs/decisions.md: what is checked here is a floor no forged price goes under).
CREATE FUNCTION card_recharge_is_paid() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.kind <> 'recharge' OR pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (
           SELECT FROM ledger_transaction t, customer c
           JOIN customer_type ct ON ct.id = c.customer_type_id
           JOIN price_scheme s ON s.id = ct.price_scheme_id AND s.kind = 'prepaid'
           CROSS JOIN LATERAL (SELECT v.id FROM price_version v
                               WHERE v.price_scheme_id = s.id AND v.effective_from <= current_date
                               ORDER BY v.effective_from DESC LIMIT 1) in_force
           WHERE t.id = NEW.transaction_id AND c.id = NEW.customer_id
             AND -t.amount + 0.005 >= t.volume * (SELECT min(unit_price) FROM price_tier
                                                  WHERE price_version_id = in_force.id)) THEN
        RAISE EXCEPTION 'permission denied: a card recharge of customer % pays at least the cheapest price in force for its water',
            NEW.customer_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
-- After carries_its_money (V31), which ties the ledger row's water to the journal's.
CREATE TRIGGER pays_the_price BEFORE INSERT ON card_operation
    FOR EACH ROW EXECUTE FUNCTION card_recharge_is_paid();

-- A card_refund ledger row an operator's session posts (through ledger_post or
-- system_card_cleared, which run as the owner) is, by the end of its transaction, the money of
-- a refund journaled above or a clear card's credit: never money onto a balance on its own.
CREATE FUNCTION card_refund_is_journaled() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM card_operation WHERE transaction_id = NEW.id AND kind = 'refund')
       AND NOT EXISTS (SELECT FROM system_card WHERE credited_transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'permission denied: a card_refund is the money of a card refund or of a clear card''s credit'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER card_refund_is_journaled AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.kind = 'card_refund' AND NOT pg_has_role(session_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION card_refund_is_journaled();

-- ───────────────────────────── A settlement moves its money ─────────────────────────────

-- A pending operation an operator settles (db::card_ops::settle::finish) does what its result
-- implies in the same transaction: failed, the money it moved is reversed; a refund done with
-- a payout method, the refund is paid out under the operation's key.
CREATE FUNCTION card_settlement_moves_its_money() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF (NEW.state = 'failed' AND NEW.transaction_id IS NOT NULL
        AND NOT EXISTS (SELECT FROM ledger_transaction WHERE reverses_id = NEW.transaction_id))
       OR (NEW.state = 'done' AND NEW.kind = 'refund' AND NEW.payment_method_code IS NOT NULL
           AND NOT EXISTS (SELECT FROM ledger_transaction
                           WHERE idempotency_key = 'card-op:' || NEW.idempotency_key || ':payout')) THEN
        RAISE EXCEPTION 'permission denied: card operation % is settled % with its money (a failed one reversed, a refund paid out)',
            NEW.id, NEW.state USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER settles_with_its_money AFTER UPDATE ON card_operation
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state = 'pending' AND NEW.state <> 'pending'
          AND NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER'))
    EXECUTE FUNCTION card_settlement_moves_its_money();

-- ───────────────────────────── No whole-table lock on accounts ─────────────────────────────

-- V13 granted UPDATE on the whole account table for the row locks of the desk (FOR UPDATE OF
-- a, FOR NO KEY UPDATE OF c, a), which its guard refuses to use for an update. A table-level
-- UPDATE also lets LOCK TABLE take any mode: a clerk's ACCESS EXCLUSIVE in an idle transaction
-- stopped every read of every balance. A row lock needs UPDATE on one column only, which
-- LOCK TABLE does not accept.
DO $$
BEGIN
    EXECUTE format('REVOKE UPDATE ON account FROM %I', md_role_name('operator'));
    EXECUTE format('GRANT UPDATE (kind) ON account TO %I', md_role_name('operator'));
END $$;
