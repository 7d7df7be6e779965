-- The supervisor's shifts report says the reversals it counts, as the shift's X and Z reports
-- do (s43-c; docs/decisions.md, "… the shifts report's reversals …").
--
-- s42-d's "Found, not fixed": V198 made `shift_takings` (the X/Z report) answer, per method,
-- how many of the shift's deposits and refunds are reversals and their money; V21's
-- `report_shifts` summed only the shift's takings and refunds from it, reversals counted in
-- them unsaid. It now answers every figure of the shift's total, summed from one read of
-- `shift_takings` (V21 read it twice, once a column): V21's seven columns first, in their
-- order, then payments, refund_count, reversed, reversals, refunds_reversed and
-- refund_reversals — the figures `shifts::MethodTakings` holds, so a row is the shift's X/Z
-- total figure by figure (tests/shifts.rs: a_shifts_x_and_z_reports_say_the_reversals_they_count).
--
-- The returned row changes: dropped and made again (the default privileges give the operators
-- EXECUTE, as V13 set them; `reports.view` is still asked first). Runs again on its own result
-- (tests/two_desks.rs): DROP … IF EXISTS.
DROP FUNCTION IF EXISTS report_shifts(timestamptz, timestamptz);

CREATE FUNCTION report_shifts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (shift_id bigint, operator text, opened_at timestamptz, closed_at timestamptz,
               receipts bigint, takings numeric, refunds numeric, payments bigint,
               refund_count bigint, reversed numeric, reversals bigint,
               refunds_reversed numeric, refund_reversals bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT s.id, o.login, s.opened_at, s.closed_at,
           (SELECT r.receipts FROM shift_receipts(s.id) r),
           coalesce(t.takings, 0), coalesce(t.refunds, 0), coalesce(t.payments, 0)::bigint,
           coalesce(t.refund_count, 0)::bigint, coalesce(t.reversed, 0),
           coalesce(t.reversals, 0)::bigint, coalesce(t.refunds_reversed, 0),
           coalesce(t.refund_reversals, 0)::bigint
    FROM shift s
    JOIN operator o ON o.id = s.operator_id
    -- One row whatever the shift took (an aggregate without GROUP BY).
    CROSS JOIN LATERAL (
        SELECT sum(m.takings) AS takings, sum(m.refunds) AS refunds,
               sum(m.payments) AS payments, sum(m.refund_count) AS refund_count,
               sum(m.reversed) AS reversed, sum(m.reversals) AS reversals,
               sum(m.refunds_reversed) AS refunds_reversed,
               sum(m.refund_reversals) AS refund_reversals
        FROM shift_takings(s.id) m
    ) t
    WHERE s.opened_at < p_to AND coalesce(s.closed_at, 'infinity') > p_from
    ORDER BY s.opened_at, s.id;
END $$;
