-- The takings report says the reversals of refunds each of its rows counts, as V171 made it
-- say the reversals of deposits (docs/decisions.md, "The takings report says its refunds'
-- reversals … (s41-c)").
--
-- md_takings (V21) counts a reversal with what it reverses, against whoever reversed, on the
-- day they did: a reversed refund takes its money out of the reverser's refunds, which then
-- read less than the refunds they paid, or negative, with nothing to say why. No operator can
-- reverse a refund (V163's guard: an operator's reversal is a card operation's money, settled
-- failed, and a card refund's money is its `card_refund` credit, which md_takings counts in
-- neither column); the owner can (a correction, a load), and the report read it unsaid.
-- The rows now also carry how many refunds their operator reversed in the window and for how
-- much (negative: already in the refunds, which md_takings gives as a positive sum of money
-- paid out), by the day and payment method md_takings gives them, beside V171's deposits.
-- Only report_takings changes: md_takings, the shift's X/Z report and the overview keep their
-- figures. Runs again on its own result (tests/two_desks.rs): DROP … IF EXISTS before CREATE.

DROP FUNCTION IF EXISTS report_takings(timestamptz, timestamptz, integer);
CREATE FUNCTION report_takings(p_from timestamptz, p_to timestamptz, p_offset_secs integer)
RETURNS TABLE (day date, operator text, payment_method_code text, takings numeric,
               refunds numeric, payments bigint, refund_count bigint, reversed numeric,
               reversals bigint, refunds_reversed numeric, refund_reversals bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT m.day, o.login, m.payment_method_code, m.takings, m.refunds, m.payments,
           m.refund_count, coalesce(r.reversed, 0), coalesce(r.reversals, 0)::bigint,
           coalesce(r.refunds_reversed, 0), coalesce(r.refund_reversals, 0)::bigint
    FROM md_takings(p_from, p_to, NULL, p_offset_secs) m
    JOIN operator o ON o.id = m.operator_id
    LEFT JOIN (
        -- md_takings' rule for the day and the method; only reversals of deposits and refunds.
        -- A refund's reversal is money back in (positive), which md_takings takes off the
        -- refunds: said as that negative.
        SELECT (t.created_at AT TIME ZONE make_interval(secs => p_offset_secs))::date AS day,
               t.operator_id,
               coalesce(t.payment_method_code, d.payment_method_code) AS method,
               sum(t.amount) FILTER (WHERE d.kind = 'deposit') AS reversed,
               count(*) FILTER (WHERE d.kind = 'deposit') AS reversals,
               -sum(t.amount) FILTER (WHERE d.kind = 'refund') AS refunds_reversed,
               count(*) FILTER (WHERE d.kind = 'refund') AS refund_reversals
        FROM ledger_transaction t
        JOIN ledger_transaction d ON d.id = t.reverses_id AND d.kind IN ('deposit', 'refund')
        WHERE t.created_at >= p_from AND t.created_at < p_to
          AND t.operator_id IS NOT NULL
        GROUP BY 1, 2, 3
    ) r ON r.day = m.day AND r.operator_id = m.operator_id
       AND r.method IS NOT DISTINCT FROM m.payment_method_code
    ORDER BY m.day, o.login, m.payment_method_code;
END $$;
