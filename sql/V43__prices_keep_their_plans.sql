-- The price's helpers keep their plans for the session (docs/decisions.md, "The soak's other
-- operations (s23-b)").
--
-- md_cycle and md_charge (V34) were LANGUAGE sql. PostgreSQL inlines a SQL function only when
-- its body is a bare expression (no FROM) or, in a FROM clause, when it returns a set: neither
-- is, so every call parsed, analysed and planned its body again. md_price calls md_cycle for
-- each slice and md_charge for each part, and md_price runs in every card recharge's check
-- (card_recharge_is_paid, V38) and every reading's (V34, V37): at 64 desks, 11 748 plans of
-- md_cycle in 11 769 calls and 6 046 of md_charge in 6 046 over two minutes
-- (pg_stat_statements), planning several times their run. In PL/pgSQL md_charge's query is
-- planned once per session and md_cycle is arithmetic on its arguments, with no query at all.
-- Arguments, results, volatility and rights are V34's; the answers are the same (tests/schema.rs
-- `the_prices_helpers_keep_their_plans_and_their_answers`, the pricing tests of readings and
-- card recharges).

-- The accumulation or settlement cycle of `p_months` months, counted from `p_start`, that
-- holds `p_date`: its first day and the next cycle's.
CREATE OR REPLACE FUNCTION md_cycle(p_start date, p_months integer, p_date date,
                                    OUT first_day date, OUT next_first_day date)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    cycle integer := floor(((extract(year FROM p_date) - extract(year FROM p_start)) * 12
                            + extract(month FROM p_date) - extract(month FROM p_start))
                           / p_months)::integer;
BEGIN
    IF (p_start + make_interval(months => cycle * p_months))::date > p_date THEN
        cycle := cycle - 1;
    END IF;
    first_day := (p_start + make_interval(months => cycle * p_months))::date;
    next_first_day := (p_start + make_interval(months => (cycle + 1) * p_months))::date;
END $$;

-- The charge of `p_volume` m³ by price version `p_version_id`'s tiers, after `p_accumulated`
-- m³ of the cycle: the amount and the tiers' lines (V34).
CREATE OR REPLACE FUNCTION md_charge(p_version_id bigint, p_mode text, p_accumulated numeric,
                                     p_volume numeric, OUT amount numeric, OUT lines jsonb)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    WITH tiers AS (
        SELECT tier_no, unit_price, upper_bound_m3 AS up_to,
               coalesce(lag(upper_bound_m3) OVER (ORDER BY tier_no), 0) AS from_m3
        FROM public.price_tier WHERE price_version_id = p_version_id
    ), charged AS (
        SELECT tier_no, unit_price,
               CASE WHEN p_mode = 'leap' THEN p_volume
                    ELSE greatest(least(coalesce(up_to, p_accumulated + p_volume),
                                        p_accumulated + p_volume)
                                  - greatest(p_accumulated, from_m3), 0) END AS volume
        FROM tiers
        WHERE p_mode <> 'leap'
           OR tier_no = (SELECT min(tier_no) FROM tiers
                         WHERE up_to IS NULL OR p_accumulated + p_volume <= up_to)
    ), tier_lines AS (
        SELECT tier_no, unit_price, volume, volume * unit_price AS exact,
               sum(volume * unit_price) OVER (ORDER BY tier_no) AS so_far
        FROM charged WHERE volume > 0
    )
    SELECT round(coalesce(sum(exact), 0), 2),
           coalesce(jsonb_agg(jsonb_build_object(
               'tier', tier_no,
               'volume', volume::numeric(12,3)::text,
               'unit_price', unit_price::numeric(10,4)::text,
               'amount', (round(so_far, 2) - round(so_far - exact, 2))::numeric(14,2)::text)
               ORDER BY tier_no), '[]')
    INTO amount, lines
    FROM tier_lines;
END $$;
