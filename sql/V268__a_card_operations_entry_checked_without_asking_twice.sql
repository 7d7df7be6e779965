-- A card operation's audit entry checked at commit without asking again the permission its own
-- journal asked (issue 14, s46-a; docs/decisions.md, "A card recharge's begin cut").
--
-- V97's audit_entry_tells_a_write asked md_permitted('card.<kind>') of every card operation's
-- entry at commit, after the operation's rules (card_operation_rules) had asked the same
-- permission of the same session's user as they inserted the row in the same transaction. An
-- operation written here and still pending was inserted here: an operator settles one only to
-- done or failed (the rules' settles_once), no function of the owner inserts one (the journals
-- are SECURITY INVOKER) or leaves one pending, and the row's xmin is no client's to set. Such an
-- entry is true without a second ask; one whose operation this transaction only settled (done
-- or failed) is asked as before. V97's body otherwise whole. Runs again on its own result.
-- Whether `entry`, written by an operator, tells a write this transaction made and the
-- operator may make: the entries of src/db, action by action. Unknown actions tell nothing.
CREATE OR REPLACE FUNCTION audit_entry_tells_a_write(entry audit_log) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    d jsonb := coalesce(entry.detail, '{}');
    verb text := split_part(entry.action, '.', 2);
    journaled_here boolean;
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
    -- An operation still pending that this transaction wrote was inserted by it (an operator
    -- settles one only to done or failed, and no function of the owner inserts one or leaves
    -- one pending), and its rules asked card.<kind> of this session's user as they inserted it
    -- (V268): asked again only of one settled here.
    WHEN 'card.open', 'card.recharge', 'card.refund', 'card.replace', 'card.recycle' THEN
        IF entry.entity IS DISTINCT FROM 'card_operation' THEN
            RETURN false;
        END IF;
        SELECT o.state = 'pending' INTO journaled_here
        FROM card_operation o JOIN card k ON k.id = o.card_id
        WHERE o.id = entry.entity_id AND md_written_here(o.xmin) AND o.kind = verb
          AND d -> 'customer_id' = to_jsonb(o.customer_id)
          AND d -> 'card_no' = to_jsonb(k.card_no);
        RETURN FOUND AND (journaled_here OR md_permitted(entry.action));
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
    -- A card of this database, or (`unknown_card`) a number none of its cards holds.
    WHEN 'card.discrepancy' THEN
        RETURN md_permitted('card.read') AND entry.entity = 'card' AND (
            EXISTS (
                SELECT FROM card k
                WHERE k.card_no = entry.entity_id
                  AND (d -> 'customer_id' = to_jsonb(k.customer_id) OR d -> 'customer_id' = 'null'))
            OR (d ->> 'kind' = 'unknown_card' AND d -> 'customer_id' = 'null'
                AND entry.entity_id IS NOT NULL
                AND NOT EXISTS (SELECT FROM card k WHERE k.card_no = entry.entity_id)));
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
