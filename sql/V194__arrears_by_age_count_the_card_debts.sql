-- The arrears by age count the card debts too (s42-c; docs/decisions.md, "A card debt counts
-- wherever the desk says what a customer owes").
--
-- s41-a's "Found, not fixed": V90's report counted unpaid bills only, so a card meter's
-- customer owing water a meter loaded unpaid (V163's `card_recharge_owed`) owed nothing in it.
-- A debt is owed at the end of day p_day when it was found before that instant and its
-- recharge was still failed then: still failed now, or settled done (the debt paid, by
-- `card_recharge_owed_pay` or from the balance by V41's `card_recharge_found_on_card`, both of
-- which set `finished_at` to that moment) at or after it. It is aged from the day it was found
-- (it has no due date), as a bill without one is from its issue. Each bucket says the bills and
-- the card debts apart (`card_debts`, a column added last: V90's four keep their places), the
-- customers owing either once, and the sum of both.
--
-- The returned row changes: both forms are dropped and made again (the default privileges give
-- the operators EXECUTE, as V13 set them). Runs again on its own result (tests/two_desks.rs).
DROP FUNCTION IF EXISTS report_arrears_by_age(date);
DROP FUNCTION IF EXISTS report_arrears_by_age(date, integer);

CREATE FUNCTION report_arrears_by_age(p_day date, p_offset_secs integer)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric, card_debts bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    zone constant interval := make_interval(secs => p_offset_secs);
    day_end constant timestamptz := (p_day + 1)::timestamp AT TIME ZONE zone;
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT bucket.age, count(o.account_id) FILTER (WHERE o.bill), count(DISTINCT o.account_id),
           coalesce(sum(o.amount), 0), count(o.account_id) FILTER (WHERE NOT o.bill)
    FROM (VALUES ('0-30', 0, 30), ('31-90', 31, 90), ('90+', 91, NULL)) bucket(age, low, high)
    LEFT JOIN LATERAL (
        -- V90's bills, as they stood at the day's end.
        SELECT true AS bill, u.account_id, u.amount,
               greatest(p_day - coalesce(u.due_date, (u.issued_at AT TIME ZONE zone)::date), 0)
                   AS days
        FROM bill u
        WHERE u.issued_at < day_end
          AND CASE u.status WHEN 'unpaid' THEN true
                            WHEN 'paid' THEN u.paid_at >= day_end
                            ELSE u.voided_at >= day_end END
        UNION ALL
        -- The card debts, found before the day's end and not paid before it.
        SELECT false, a.id, w.amount,
               greatest(p_day - (w.found_at AT TIME ZONE zone)::date, 0)
        FROM card_recharge_owed w
        JOIN card_operation op ON op.id = w.operation_id
        JOIN account a ON a.customer_id = w.customer_id
        WHERE w.found_at < day_end
          AND (op.state = 'failed' OR (op.state = 'done' AND op.finished_at >= day_end))) o
        ON o.days >= bucket.low AND (bucket.high IS NULL OR o.days <= bucket.high)
    GROUP BY bucket.age, bucket.low ORDER BY bucket.low;
END $$;

-- The one-day form psql knew: the day in the session's time zone.
CREATE FUNCTION report_arrears_by_age(p_day date)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric, card_debts bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM report_arrears_by_age(p_day,
                                        extract(timezone FROM (p_day + 1)::timestamptz)::integer)
$$;
