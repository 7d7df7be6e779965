-- A card recharge asks the operator's permission fewer times, each ask cheaper (issue 14,
-- s45-c; docs/decisions.md, "A recharge's permission asked once…").
--
-- 1. card_operation_rules (V182's body whole): a recharge's guard_write (`card.recharge`) is
--    not asked again when the purchase it carries was written by this very transaction:
--    ledger_post asked `card.recharge` of the session's user before it wrote that row, and no
--    other writer makes a card_purchase under a ':purchase' key in an operator's transaction
--    (card_recharge_found_on_card's is ':found'). The proof is the row's xmin, which no client
--    sets; a purchase of another transaction or subtransaction is asked again, as before.
-- 2. md_permission_granted, md_permitted and md_require without their SET clause (as
--    current_operator_id since V180): each call of the two saved the caller's settings, set
--    the path and put it back. Their bodies name every table, function, operator and type with
--    its schema, so no name is looked up on the caller's path. They stay SECURITY DEFINER and
--    ask `session_user`, which no client sets; md_permission_granted stays the owner's alone.
CREATE OR REPLACE FUNCTION md_permission_granted(permissions text[]) RETURNS TABLE (permitted boolean)
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN o.id IS NULL THEN pg_catalog.pg_has_role(session_user, public.md_role_name('owner'), 'MEMBER')
        ELSE o.enabled AND NOT o.must_change_password AND EXISTS (
            SELECT FROM public.role_permission rp
            WHERE rp.permission_code OPERATOR(pg_catalog.=) ANY (permissions)
              AND pg_catalog.pg_has_role(
                      session_user,
                      (i.role_prefix OPERATOR(pg_catalog.||) '_'
                       OPERATOR(pg_catalog.||) rp.role_code)::pg_catalog.name,
                      'MEMBER'))
    END
    FROM (SELECT 1) AS always LEFT JOIN public.operator o ON o.db_role OPERATOR(pg_catalog.=) session_user
    LEFT JOIN public.installation i ON o.id IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION md_permitted(permission text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    RETURN (SELECT permitted FROM public.md_permission_granted(ARRAY[permission]));
END $$;

CREATE OR REPLACE FUNCTION md_require(VARIADIC permissions text[]) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    -- The loop this replaces refused a NULL list in PL/pgSQL's words, and an empty one in its own.
    IF permissions IS NULL THEN
        RAISE EXCEPTION 'FOREACH expression must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.cardinality(permissions) OPERATOR(pg_catalog.>) 0
       AND (SELECT permitted FROM public.md_permission_granted(permissions)) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'permission denied: % may not do this (needs %)',
        session_user, pg_catalog.array_to_string(permissions, ' or ')
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- V182's card_operation_rules, a recharge's purchase written here asked once (above).
CREATE OR REPLACE FUNCTION card_operation_rules()
 RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    owner_role name := TG_ARGV[0];
    by_owner boolean := pg_has_role(current_user, owner_role, 'MEMBER');
    own_key text;
    money ledger_transaction;
    scheme record;
    months integer;
    closed boolean;
    cycle record;
    accumulated numeric;
    charge record;
    me bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT by_owner THEN
            RAISE EXCEPTION 'permission denied: a card operation is never deleted'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;

    IF TG_OP = 'UPDATE' THEN
        IF NOT by_owner THEN
            -- guard_write: finishing one is whichever desk next reads its card, or a supervisor.
            PERFORM md_require('card.read', 'card.resolve');
            -- settles_once.
            IF OLD.state <> 'pending' OR NEW.state NOT IN ('done', 'failed') THEN
                RAISE EXCEPTION 'permission denied: card operation % is settled once, from pending to done or failed (it is %)',
                    OLD.id, OLD.state USING ERRCODE = 'insufficient_privilege';
            END IF;
            NEW.finished_at := now();
        END IF;
        RETURN NEW;
    END IF;

    IF NOT by_owner THEN
        -- carries_its_money: a recharge or refund with the money it moved under its own key,
        -- a recharge with the water it bought; another kind moves no money.
        IF NEW.kind = 'recharge' THEN
            own_key := 'card-op:' || NEW.idempotency_key || ':purchase';
            -- The money, and what pays_the_price below asks of the customer (the prepaid
            -- scheme, the version in force today, whether its one tier is its whole price, the
            -- customer's status), in one statement: `priced` is false where V125's statement
            -- found no row.
            SELECT t AS money, s.id AS scheme_id, s.billing_mode, s.accumulation_cycle_months,
                   s.start_date, v.id AS in_force, v.one_price, c.status = 'closed' AS closed,
                   s.id IS NOT NULL AS priced, t.xmin AS money_xmin
            INTO scheme
            FROM ledger_transaction t
            JOIN account a ON a.id = t.account_id
            LEFT JOIN (customer c
                       JOIN customer_type ct ON ct.id = c.customer_type_id
                       JOIN price_scheme s ON s.id = ct.price_scheme_id AND s.kind = 'prepaid')
                   ON c.id = NEW.customer_id
            LEFT JOIN LATERAL (
                SELECT v.id,
                       (SELECT count(*) = 1 AND bool_and(pt.upper_bound_m3 IS NULL)
                        FROM price_tier pt WHERE pt.price_version_id = v.id) AS one_price
                FROM price_version v
                WHERE v.price_scheme_id = s.id AND v.effective_from <= current_date
                ORDER BY v.effective_from DESC LIMIT 1) v ON true
            WHERE t.id = NEW.transaction_id AND a.customer_id = NEW.customer_id
              AND t.idempotency_key = own_key AND t.volume * 1000 = NEW.volume_litres;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: a card % is journaled with the money it moved under its own key (%), and a recharge with the water it bought',
                    NEW.kind, own_key USING ERRCODE = 'insufficient_privilege';
            END IF;
            money := scheme.money;
        ELSIF NEW.kind = 'refund' THEN
            own_key := 'card-op:' || NEW.idempotency_key || ':card_refund';
            SELECT t.* INTO money FROM ledger_transaction t JOIN account a ON a.id = t.account_id
            WHERE t.id = NEW.transaction_id AND a.customer_id = NEW.customer_id
              AND t.idempotency_key = own_key;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: a card % is journaled with the money it moved under its own key (%), and a recharge with the water it bought',
                    NEW.kind, own_key USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF NEW.transaction_id IS NOT NULL THEN
            RAISE EXCEPTION 'permission denied: a card % moves no money', NEW.kind
                USING ERRCODE = 'insufficient_privilege';
        END IF;

        -- guard_write: a card operation of kind K needs card.K. A recharge whose purchase
        -- (kind card_purchase, under its own key) this transaction wrote was asked it by
        -- ledger_post, for this session's user, in this transaction (V258): the only writer of
        -- a ':purchase' card_purchase in an operator's transaction. A purchase of an earlier
        -- transaction, or of a subtransaction (another xid), is asked again. (`scheme` is read
        -- for a recharge alone: another kind does not name it.)
        IF NEW.kind <> 'recharge' THEN
            PERFORM md_require('card.' || NEW.kind);
        ELSIF money.kind <> 'card_purchase'
              OR scheme.money_xmin IS DISTINCT FROM pg_current_xact_id_if_assigned()::xid THEN
            PERFORM md_require('card.recharge');
        END IF;

        -- pays_the_price: exactly the price in force for its water (V61's one slice, today).
        IF NEW.kind = 'recharge' THEN
            IF NOT scheme.priced THEN
                RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
                    NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF scheme.in_force IS NULL THEN
                RAISE EXCEPTION 'permission denied: price scheme % has no price on %',
                    scheme.scheme_id, current_date USING ERRCODE = 'insufficient_privilege';
            END IF;
            closed := scheme.closed;
            IF scheme.one_price THEN
                -- One unbounded tier: every m³ costs its price, whatever the cycle's water
                -- before it (md_charge's answer for any water the desk sells after).
                accumulated := 0;
            ELSE
                -- A fixed price accumulates nothing: any cycle will do (12 months, as md_price).
                months := coalesce(scheme.accumulation_cycle_months, 12);
                cycle := md_cycle(scheme.start_date, months, current_date);
                SELECT coalesce(sum(w.volume), 0) INTO accumulated
                FROM md_card_water(money.account_id,
                                   greatest(cycle.first_day,
                                            (current_date - make_interval(months => months))::date),
                                   current_date + 1) w
                WHERE w.transaction_id <> money.id;
            END IF;
            charge := md_charge(scheme.in_force, scheme.billing_mode, accumulated, money.volume);
            IF (-money.amount = charge.amount
                AND money.unit_price IS NOT DISTINCT FROM
                    (CASE WHEN jsonb_array_length(charge.lines) = 1
                          THEN (charge.lines #>> '{0,unit_price}')::numeric END)) IS NOT TRUE THEN
                RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
                    NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
        END IF;

        -- refunds_the_purchase: a purchase given back as it was paid, for its water, once,
        -- before a meter loads it. Asked of a refund alone, behind an IF of its own: as one
        -- condition with `NEW.kind = 'refund'`, the plan cache planned its three subqueries
        -- afresh at every recharge's row (a custom plan, where the kind folds the condition to
        -- false, always looked cheaper than the generic one).
        IF NEW.kind = 'refund' THEN
            IF NOT EXISTS (
                   SELECT FROM card_operation p
                   JOIN ledger_transaction paid ON paid.id = p.transaction_id
                   JOIN ledger_transaction back ON back.id = NEW.transaction_id
                   WHERE p.customer_id = NEW.customer_id AND p.kind = 'recharge'
                     AND p.state = 'done' AND p.purchase_seq = NEW.purchase_seq
                     AND p.volume_litres = NEW.volume_litres
                     AND back.amount = -paid.amount AND back.account_id = paid.account_id)
               OR EXISTS (SELECT FROM card_operation r
                          WHERE r.customer_id = NEW.customer_id AND r.kind = 'refund'
                            AND r.purchase_seq = NEW.purchase_seq AND r.state <> 'failed')
               OR EXISTS (SELECT FROM card
                          WHERE customer_id = NEW.customer_id
                            AND meter_loaded_seq >= NEW.purchase_seq) THEN
                RAISE EXCEPTION 'permission denied: a card refund gives back purchase % of customer % as it was paid, for its water, once, before a meter loads it',
                    NEW.purchase_seq, NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
        END IF;
    END IF;

    -- refuses_closed_customer: asked of the session's user; a closed customer's card may
    -- still be recycled.
    IF NEW.kind <> 'recycle' AND NOT pg_has_role(session_user, owner_role, 'MEMBER')
       AND coalesce(closed,
                    EXISTS (SELECT FROM customer WHERE id = NEW.customer_id AND status = 'closed')) THEN
        RAISE EXCEPTION 'customer % is closed: no card is written for it', NEW.customer_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    -- stamp_operator: the signed-in operator, over what the row says.
    me := current_operator_id();
    IF me IS NOT NULL THEN
        NEW.operator_id := me;
    END IF;
    RETURN NEW;
END $$;
