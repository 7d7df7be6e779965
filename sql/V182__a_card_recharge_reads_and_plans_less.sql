-- A card recharge's begin reads again, under its lock, only the facts its own checks do not
-- hold, and its journal row's trigger plans no refund check (s41-e; docs/decisions.md, "A card
-- recharge's server cost").
--
-- `card_recharge` (V112's) read the whole of `card_recharge_terms` again under the account's
-- lock — the holder's facts, the operator's permission (md_permitted), the customer type's
-- prepaid scheme with every version's tiers and the payment method — and journaled only when
-- their md5 was the digest the desk decided from (V81). Of these, the sale's terms are each
-- held by the journal itself, with the same rights, whatever the desk read: the permission
-- (`card_operation_rules`' md_require), the scheme and the price in force for the water, the
-- cycle's water included (its price check: exactly md_charge's amount and unit price), and the
-- payment method the type takes (V107's trigger). A recharge decided from a stale price,
-- method or permission is refused by them, nothing written, and the desk decides it again on
-- the begin's own path under the lock (`card_ops::begin_decided`: a journal refused by the
-- database), which answers what fresh facts say. What the database does not hold itself is
-- the holder's side, which only the desk decides from with the card: the active card and its
-- number, the last purchase written for good (a card behind the books), the balance, the
-- pending operation, the purchase sequence, the customer's status and business model, the
-- date. The digest is now those alone: md5 of `card_holder_facts`' row, read again under the
-- lock in one statement of that function alone.
--
-- `card_recharge_terms` keeps its columns (the quote reads them through card_recharge_facts);
-- only its digest changes, to the same expression `card_recharge` compares. A desk that
-- decided from an older digest meets a difference once, and decides again from the fresh facts
-- answered, as after any change.
--
-- Re-runnable on its own result (tests/two_desks.rs runs V109 and what follows it again).

CREATE OR REPLACE FUNCTION card_recharge_terms(p_customer_id bigint, p_payment_method_code text)
RETURNS TABLE (customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint, permitted boolean,
               scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               method_allowed boolean, digest text)
LANGUAGE sql STABLE AS $$
    SELECT h.*, public.md_permitted('card.recharge') AS permitted,
           sale.scheme_id, sale.billing_mode, sale.vat_percent,
           sale.accumulation_cycle_months, sale.start_date, sale.tier_version_ids,
           sale.tier_effective_from, sale.tier_upper_bounds, sale.tier_unit_prices,
           sale.method_allowed,
           -- The holder's facts alone: card_recharge compares this under its lock.
           md5(h::text)
    FROM public.card_holder_facts(p_customer_id) h
    -- Its water is not asked for: the planner leaves it out.
    CROSS JOIN LATERAL public.card_sale_facts(h.customer_type_id, h.account_id,
                                              p_payment_method_code) sale
$$;

-- V112's one call of a recharge's begin, the holder's facts alone compared: unchanged otherwise.
CREATE OR REPLACE FUNCTION card_recharge(
    p_digest text,
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint, p_meter_generation smallint, p_owner_seen bigint DEFAULT NULL
)
RETURNS TABLE (operation_id bigint, receipt_no bigint, seen boolean,
               customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint, permitted boolean,
               scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               method_allowed boolean, digest text, accumulated numeric)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM FROM account a WHERE a.customer_id = p_customer_id FOR UPDATE;
    PERFORM FROM card_operation op WHERE op.idempotency_key = p_idempotency_key FOR UPDATE;
    -- The answers of one row leave the facts' columns NULL (RETURN NEXT of the output
    -- columns as they stand): no statement plans the facts only to return none of them.
    seen := FOUND;
    IF seen THEN
        RETURN NEXT;
        RETURN;
    END IF;
    -- card_recharge_terms' digest: the holder's facts, which only the desk decides from.
    IF (SELECT md5(h::text) FROM card_holder_facts(p_customer_id) h)
       IS DISTINCT FROM p_digest THEN
        RETURN QUERY SELECT NULL::bigint, NULL::bigint, false, facts.*
                     FROM card_recharge_facts(p_customer_id, p_payment_method_code) facts;
        RETURN;
    END IF;
    SELECT j.operation_id, j.receipt_no INTO operation_id, receipt_no
    FROM card_recharge_journal(p_customer_id, p_account_id, p_card_id, p_card_no, p_operator_id,
                               p_idempotency_key, p_amount, p_volume, p_unit_price,
                               p_payment_method_code, p_purchase_seq, p_volume_litres,
                               p_issue_record_before, p_issue_record_after,
                               p_purchase_record_before, p_purchase_record_after, p_plan,
                               p_meter_loaded_seq, p_meter_generation, p_owner_seen) j;
    RETURN NEXT;
END $$;

-- card_operation_rules (V145's, CREATE OR REPLACE, the same trigger): its refund check
-- (refunds_the_purchase) was one IF condition with `NEW.kind = 'refund'`; PL/pgSQL's plan cache
-- planned that condition, three subqueries, afresh for every recharge's row (its custom plan,
-- where the kind folds it to false, always looked cheaper than the generic one:
-- pg_stat_statements counted as many plans as calls). The check is now asked of a refund only,
-- behind an IF of the kind; the same check, words and SQLSTATE; nothing else changes.

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
                   s.id IS NOT NULL AS priced
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

        -- guard_write: a card operation of kind K needs card.K.
        PERFORM md_require('card.' || NEW.kind);

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

