-- Arrears by age of a day are the arrears as they stood at the end of that day (s33-d found
-- V24's report to read the bills unpaid now, a bill issued after the day counted as 0-30 days).
--
-- The day ends at the desk's next midnight, p_offset_secs east of UTC, as the takings report's
-- days do (md_takings). A bill is owed at that instant when it was issued before it and was
-- neither paid nor voided before it. The times are the bill's own: paid_at, set with the status
-- by every payment (V1's check: a paid bill has one; the same now() as the ledger row that pays
-- it, which a bill of 0.00 does not have), and voided_at, set by bill_void. A void bill without
-- voided_at (history the owner wrote, V18 allows it) is taken as void from its issue: never
-- owed, as every report before this one counted it.
--
-- Aged as V24 ages: days from the due date, else from the day of issue (now the desk's day, as
-- p_day is), to p_day; a bill not yet due on p_day is in the first bucket.
CREATE FUNCTION report_arrears_by_age(p_day date, p_offset_secs integer)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    zone constant interval := make_interval(secs => p_offset_secs);
    day_end constant timestamptz := (p_day + 1)::timestamp AT TIME ZONE zone;
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT bucket.age, count(b.id), count(DISTINCT b.account_id), coalesce(sum(b.amount), 0)
    FROM (VALUES ('0-30', 0, 30), ('31-90', 31, 90), ('90+', 91, NULL)) bucket(age, low, high)
    LEFT JOIN LATERAL (
        SELECT u.id, u.account_id, u.amount,
               greatest(p_day - coalesce(u.due_date, (u.issued_at AT TIME ZONE zone)::date), 0)
                   AS days
        FROM bill u
        WHERE u.issued_at < day_end
          AND CASE u.status WHEN 'unpaid' THEN true
                            WHEN 'paid' THEN u.paid_at >= day_end
                            ELSE u.voided_at >= day_end END) b
        ON b.days >= bucket.low AND (bucket.high IS NULL OR b.days <= bucket.high)
    GROUP BY bucket.age, bucket.low ORDER BY bucket.low;
END $$;

-- The one-day form psql knew: the day in the session's time zone.
CREATE OR REPLACE FUNCTION report_arrears_by_age(p_day date)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT * FROM report_arrears_by_age(p_day,
                                        extract(timezone FROM (p_day + 1)::timestamptz)::integer)
$$;
