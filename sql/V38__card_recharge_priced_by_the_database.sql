-- A card recharge pays exactly what the prepaid scheme in force makes of its water (found after
-- V34: V32 checked a recharge only against a floor, the cheapest unit price in force, so a
-- clerk with psql could sell 100 m³ at the first tier's price when the tiers said otherwise, a
-- cent less, more water for the same money, or the prices of a version not in force). Decision:
-- docs/decisions.md, "A card recharge priced by the database".
--  * md_card_water is the water of an account's card purchases that counts toward the tiers in
--    a cycle: reversed and refunded purchases left out, a clear card's credit taken off the
--    purchase it came from (sql/V28). db::card_ops::prices reads it too, so the desk's price and
--    the check below start from the same slices, written once.
--  * card_recharge_is_paid (V32's trigger function, replaced whole) prices the journaled water
--    with V34's md_price, on today's date, after the cycle's earlier purchases, and refuses the
--    operation unless its ledger row took exactly that amount and names a unit price exactly
--    when one tier priced it (what the receipt prints). The owner (migrations, demo data,
--    imports of history) is exempt as before.

-- The card purchases of account `p_account_id` made from `p_from` up to, not including, `p_to`
-- (the dates in the session's time zone, as current_date), each with the m³ that count toward
-- the tiers: not a purchase reversed (its card never took it) or refunded, and less the litres
-- a clear card credited back from it. No SET clause: inlined where it is called.
CREATE FUNCTION md_card_water(p_account_id bigint, p_from date, p_to date)
RETURNS TABLE (transaction_id bigint, read_on date, volume numeric)
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.created_at::date, t.volume - coalesce(credited.litres, 0) * 0.001
    FROM public.ledger_transaction t
    LEFT JOIN LATERAL (SELECT sum(l.litres) AS litres FROM public.system_card_credit_line l
                       WHERE l.purchase_transaction_id = t.id) credited ON true
    WHERE t.account_id = p_account_id AND t.kind = 'card_purchase'
      AND t.created_at >= p_from AND t.created_at < p_to
      AND NOT EXISTS (SELECT FROM public.ledger_transaction r WHERE r.reverses_id = t.id)
      AND NOT EXISTS (SELECT FROM public.card_operation bought
                      JOIN public.card_operation refund
                        ON refund.customer_id = bought.customer_id
                       AND refund.purchase_seq = bought.purchase_seq
                       AND refund.kind = 'refund' AND refund.state = 'done'
                      WHERE bought.transaction_id = t.id AND bought.kind = 'recharge')
$$;

-- A card recharge (db::card_ops::begin::recharge, priced by db::card_ops::prices) pays exactly
-- the price of its water by the customer type's prepaid scheme: the version in force today,
-- from the water bought before it in today's accumulation cycle (md_card_water, this purchase
-- left out), VAT included, rounded as the desk rounds (md_price). Its ledger row's unit price
-- is the one tier's when a single tier priced it, else none. Runs after carries_its_money
-- (V31), which ties the ledger row's water to the journal's.
CREATE OR REPLACE FUNCTION card_recharge_is_paid() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    paid ledger_transaction;
    scheme price_scheme;
    price record;
    tiers jsonb;
BEGIN
    IF NEW.kind <> 'recharge' OR pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        RETURN NEW;
    END IF;
    SELECT * INTO paid FROM ledger_transaction WHERE id = NEW.transaction_id;
    SELECT s.* INTO scheme
    FROM customer c
    JOIN customer_type ct ON ct.id = c.customer_type_id
    JOIN price_scheme s ON s.id = ct.price_scheme_id AND s.kind = 'prepaid'
    WHERE c.id = NEW.customer_id;
    IF FOUND AND paid.id IS NOT NULL THEN
        -- The purchases of the last cycle's length up to today: today's cycle began within it,
        -- and md_price counts those of today's cycle (a fixed price accumulates nothing, and
        -- any cycle will do: 12 months, as db::card_ops::prices). Working out the cycle here
        -- as well would cost a second md_cycle call, a third of this check's time.
        SELECT * INTO price
        FROM md_price(scheme.id,
                      ARRAY(SELECT ROW(w.read_on, w.volume)::md_slice
                            FROM md_card_water(paid.account_id,
                                               (current_date - make_interval(months =>
                                                   coalesce(scheme.accumulation_cycle_months, 12)))::date,
                                               current_date + 1) w
                            WHERE w.transaction_id <> paid.id),
                      ARRAY[ROW(current_date, paid.volume)::md_slice]);
        tiers := price.detail #> '{parts,0,tiers}';
        IF -paid.amount = price.amount
           AND paid.unit_price IS NOT DISTINCT FROM
               (CASE WHEN jsonb_array_length(tiers) = 1
                     THEN (tiers #>> '{0,unit_price}')::numeric END) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
        NEW.customer_id USING ERRCODE = 'insufficient_privilege';
END $$;
