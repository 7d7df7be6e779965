-- A card recharge's price check at one price reads no cycle's water; its scheme, price in force
-- and the customer's status in one statement (issue 14, s37-a; docs/decisions.md, "A card
-- recharge's own server time").
--
-- V68's `card_operation_rules` priced a recharge's water with four statements (the scheme, the
-- version in force, md_cycle, the cycle's water by md_card_water) before md_charge, and asked
-- the customer's status once more for the closed-customer refusal. Replayed untracked under a
-- clerk's rights (s37-a's decision section), the trigger was ~0.28 ms of a ~1.0 ms
-- card_recharge_journal, of it the water 0.12–0.15 ms for an account with 55 purchases in the
-- cycle, and the water grows with the customer's purchases.
--
--  * Price versions with one tier, unbounded (every `fixed` scheme: the desk's PriceVersion
--    has an unbounded last tier), price every m³ at that tier whatever the cycle's water before
--    it: md_charge's amount and its one line are the same for any water of 0 m³ or more bought
--    before (V38's water: purchases less the litres a clear card credited from each, each
--    line at most its purchase's; the desk refuses to price from below 0 m³). So the check
--    prices them from 0 m³ and reads neither the cycle nor the water; a stepped or leap price
--    reads them as before.
--  * The scheme, the version in force with whether it is that one price, and whether the
--    customer is closed: one statement where there were two, the status used by the
--    closed-customer refusal below it (which still asks it of any other write).
--  * Every refusal is in its words, in its order; nothing else changes. Replaced if it is
--    there: the step runs again unchanged (tests/two_desks.rs runs V109 and what follows it
--    again).

CREATE OR REPLACE FUNCTION card_operation_rules() RETURNS trigger
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
        IF NEW.kind IN ('recharge', 'refund') THEN
            own_key := 'card-op:' || NEW.idempotency_key || ':'
                       || (CASE NEW.kind WHEN 'recharge' THEN 'purchase' ELSE 'card_refund' END);
            SELECT t.* INTO money FROM ledger_transaction t JOIN account a ON a.id = t.account_id
            WHERE t.id = NEW.transaction_id AND a.customer_id = NEW.customer_id
              AND t.idempotency_key = own_key
              AND (NEW.kind = 'refund' OR t.volume * 1000 = NEW.volume_litres);
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
            -- The customer's prepaid scheme, the version in force today, whether its one tier
            -- is its whole price, and whether the customer is closed: one statement.
            SELECT s.id, s.billing_mode, s.accumulation_cycle_months, s.start_date,
                   v.id AS in_force, v.one_price, c.status = 'closed' AS closed
            INTO scheme
            FROM customer c
            JOIN customer_type ct ON ct.id = c.customer_type_id
            JOIN price_scheme s ON s.id = ct.price_scheme_id AND s.kind = 'prepaid'
            LEFT JOIN LATERAL (
                SELECT v.id,
                       (SELECT count(*) = 1 AND bool_and(t.upper_bound_m3 IS NULL)
                        FROM price_tier t WHERE t.price_version_id = v.id) AS one_price
                FROM price_version v
                WHERE v.price_scheme_id = s.id AND v.effective_from <= current_date
                ORDER BY v.effective_from DESC LIMIT 1) v ON true
            WHERE c.id = NEW.customer_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
                    NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF scheme.in_force IS NULL THEN
                RAISE EXCEPTION 'permission denied: price scheme % has no price on %',
                    scheme.id, current_date USING ERRCODE = 'insufficient_privilege';
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
        -- before a meter loads it.
        IF NEW.kind = 'refund' AND (
               NOT EXISTS (
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
                            AND meter_loaded_seq >= NEW.purchase_seq)) THEN
            RAISE EXCEPTION 'permission denied: a card refund gives back purchase % of customer % as it was paid, for its water, once, before a meter loads it',
                NEW.purchase_seq, NEW.customer_id USING ERRCODE = 'insufficient_privilege';
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
