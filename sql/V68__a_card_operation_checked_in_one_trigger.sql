-- A card operation's row checks in one trigger (issue 14: a card recharge's p99 at 64 desks;
-- decision: docs/decisions.md, "A card operation's checks in one trigger"). Every check is the
-- one it was, in the order it ran, with the same refusal; what changes is what each cost to run.
--
--  * Six BEFORE row triggers fired on a card operation's INSERT, by name: carries_its_money
--    (V31), guard_write (V13), pays_the_price (V61), refunds_the_purchase (V61),
--    refuses_closed_customer (V24), stamp_operator (V13); two on its UPDATE: guard_write,
--    settles_once (V31). Each was a PL/pgSQL call with its own SET search_path, and five asked
--    the owner's role name of `installation` in a query of its own. One trigger, `rules`, now
--    runs them in that order in one call: the owner's role name is written into the trigger
--    when it is made (as V63 wrote it into the WHEN clauses of account's and receipt's
--    guards), the owner's membership of the current user is asked once.
--  * The ledger row a recharge or refund carries is read once: carries_its_money's lookup (the
--    row under the operation's own key on the customer's account, for a recharge with the
--    water bought) returns the row pays_the_price priced, which it read again by id.
--  * The operator is stamped without md_stamp_operator's round trip of the row through jsonb
--    (as V63 stamps a receipt's).
--  * Whose role is asked stays each check's own: the closed customer's refusal asks the
--    session's user (V24), every other check the current user.

CREATE FUNCTION card_operation_rules() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    owner_role name := TG_ARGV[0];
    by_owner boolean := pg_has_role(current_user, owner_role, 'MEMBER');
    own_key text;
    money ledger_transaction;
    scheme price_scheme;
    months integer;
    in_force bigint;
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
            SELECT s.* INTO scheme
            FROM customer c
            JOIN customer_type ct ON ct.id = c.customer_type_id
            JOIN price_scheme s ON s.id = ct.price_scheme_id AND s.kind = 'prepaid'
            WHERE c.id = NEW.customer_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
                    NEW.customer_id USING ERRCODE = 'insufficient_privilege';
            END IF;
            SELECT v.id INTO in_force FROM price_version v
            WHERE v.price_scheme_id = scheme.id AND v.effective_from <= current_date
            ORDER BY v.effective_from DESC LIMIT 1;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'permission denied: price scheme % has no price on %',
                    scheme.id, current_date USING ERRCODE = 'insufficient_privilege';
            END IF;
            -- A fixed price accumulates nothing: any cycle will do (12 months, as md_price).
            months := coalesce(scheme.accumulation_cycle_months, 12);
            cycle := md_cycle(scheme.start_date, months, current_date);
            SELECT coalesce(sum(w.volume), 0) INTO accumulated
            FROM md_card_water(money.account_id,
                               greatest(cycle.first_day,
                                        (current_date - make_interval(months => months))::date),
                               current_date + 1) w
            WHERE w.transaction_id <> money.id;
            charge := md_charge(in_force, scheme.billing_mode, accumulated, money.volume);
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
       AND EXISTS (SELECT FROM customer WHERE id = NEW.customer_id AND status = 'closed') THEN
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

DROP TRIGGER carries_its_money ON card_operation;
DROP TRIGGER guard_write ON card_operation;
DROP TRIGGER pays_the_price ON card_operation;
DROP TRIGGER refunds_the_purchase ON card_operation;
DROP TRIGGER refuses_closed_customer ON card_operation;
DROP TRIGGER stamp_operator ON card_operation;
DROP TRIGGER settles_once ON card_operation;
-- card_refuses_closed_customer stays: card's own trigger of that name calls it.
DROP FUNCTION card_operation_carries_its_money();
DROP FUNCTION card_operation_guard();
DROP FUNCTION card_recharge_is_paid();
DROP FUNCTION card_refund_is_the_purchase();
DROP FUNCTION card_operation_settles_once();

DO $$
BEGIN
    EXECUTE format($t$CREATE TRIGGER rules BEFORE INSERT OR UPDATE OR DELETE ON card_operation
        FOR EACH ROW EXECUTE FUNCTION card_operation_rules(%L)$t$, md_role_name('owner'));
END $$;
