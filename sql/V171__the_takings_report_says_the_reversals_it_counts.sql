-- The takings report says the reversals each of its rows counts (docs/decisions.md, "The
-- takings report says the reversals it counts (s40-e)").
--
-- md_takings (V21) counts a reversal with what it reverses, against whoever reversed, on the
-- day they did: books that agree with the shifts and the overview (V91), unchanged here. But a
-- supervisor who reversed a clerk's payments read "现金 29 -63760.00": 29 payments that took
-- money, a negative sum, and nothing to say why. The report's rows now also carry how many
-- deposits their operator reversed in the window and for how much (negative: already in the
-- takings), by the day and payment method md_takings gives them. Only report_takings changes:
-- the shift's X/Z report and the overview keep md_takings' figures.
-- Runs again on its own result (tests/two_desks.rs): DROP … IF EXISTS before CREATE.

DROP FUNCTION IF EXISTS report_takings(timestamptz, timestamptz, integer);
CREATE FUNCTION report_takings(p_from timestamptz, p_to timestamptz, p_offset_secs integer)
RETURNS TABLE (day date, operator text, payment_method_code text, takings numeric,
               refunds numeric, payments bigint, refund_count bigint, reversed numeric,
               reversals bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT m.day, o.login, m.payment_method_code, m.takings, m.refunds, m.payments,
           m.refund_count, coalesce(r.reversed, 0), coalesce(r.reversals, 0)::bigint
    FROM md_takings(p_from, p_to, NULL, p_offset_secs) m
    JOIN operator o ON o.id = m.operator_id
    LEFT JOIN (
        -- md_takings' rule for the day and the method; only reversals of deposits.
        SELECT (t.created_at AT TIME ZONE make_interval(secs => p_offset_secs))::date AS day,
               t.operator_id,
               coalesce(t.payment_method_code, d.payment_method_code) AS method,
               sum(t.amount) AS reversed, count(*) AS reversals
        FROM ledger_transaction t
        JOIN ledger_transaction d ON d.id = t.reverses_id AND d.kind = 'deposit'
        WHERE t.created_at >= p_from AND t.created_at < p_to
          AND t.operator_id IS NOT NULL
        GROUP BY 1, 2, 3
    ) r ON r.day = m.day AND r.operator_id = m.operator_id
       AND r.method IS NOT DISTINCT FROM m.payment_method_code
    ORDER BY m.day, o.login, m.payment_method_code;
END $$;
