-- A card recharge's price check does the one part's work itself (issue 14: the recharge is
-- ~14 % of the server's time at 64 desks; decision: docs/decisions.md, "The card recharge's
-- price check without md_price").
--  * card_recharge_is_paid (V38) priced the recharge with md_price, built for many slices over
--    several cycles and versions: it takes the earlier purchases as an array of slices, loops
--    over the new ones, reads the scheme again, sums the array in a query, adds up VAT and
--    builds the bill's jsonb details (to_char, casts to text), of which the check reads the
--    tiers back. A recharge is one slice, today: one version (the one in force today), one
--    cycle (today's), one md_charge. So the check now takes those directly: the version in
--    force, md_cycle, the cycle's earlier water summed in the query that reads it, md_charge.
--    Same answer, same refusals and messages: a scheme with no price today is refused with
--    md_price's own words. Measured alone (2 000 calls in one session, same data): 0.38 →
--    0.25 ms a check.
--  * The earlier water is read from the later of the cycle's first day and today less the
--    cycle's length (V38's window), so exactly the purchases md_price counted are counted.
--  * pays_the_price and refunds_the_purchase are called only for the kind they check (a WHEN
--    clause, evaluated without a call): each returned at once for any other kind, after a
--    PL/pgSQL call with its own search_path and a question of the owner's role. Their names,
--    and so their order among the BEFORE triggers (by name) and the demo loader's list of
--    triggers it turns off, are kept.

CREATE OR REPLACE FUNCTION card_recharge_is_paid() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    paid ledger_transaction;
    scheme price_scheme;
    months integer;
    in_force bigint;
    cycle record;
    accumulated numeric;
    charge record;
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
        -- md_price's version and refusal for the one slice, today.
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
        FROM md_card_water(paid.account_id,
                           greatest(cycle.first_day,
                                    (current_date - make_interval(months => months))::date),
                           current_date + 1) w
        WHERE w.transaction_id <> paid.id;
        charge := md_charge(in_force, scheme.billing_mode, accumulated, paid.volume);
        IF -paid.amount = charge.amount
           AND paid.unit_price IS NOT DISTINCT FROM
               (CASE WHEN jsonb_array_length(charge.lines) = 1
                     THEN (charge.lines #>> '{0,unit_price}')::numeric END) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'permission denied: a card recharge of customer % pays exactly the price in force for its water',
        NEW.customer_id USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE TRIGGER pays_the_price BEFORE INSERT ON card_operation
    FOR EACH ROW WHEN (NEW.kind = 'recharge') EXECUTE FUNCTION card_recharge_is_paid();
CREATE OR REPLACE TRIGGER refunds_the_purchase BEFORE INSERT ON card_operation
    FOR EACH ROW WHEN (NEW.kind = 'refund') EXECUTE FUNCTION card_refund_is_the_purchase();
