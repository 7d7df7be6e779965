-- The shift's X and Z reports say the reversals they count, in the takings report's words
-- (docs/decisions.md, "The shift's X and Z reports say the reversals they count … (s42-d)").
--
-- md_takings (V21) counts a reversal with what it reverses, against whoever reversed, on the
-- day they did: a deposit reversed comes off the reverser's takings, a refund reversed off
-- their refunds. The takings report says them (V171: deposits, V177: refunds, by a second
-- read of the ledger joined to md_takings' rows); the shift's X/Z report (`shift_takings`)
-- counted them unsaid, and its Z report is printed. Only the owner reverses a deposit or a
-- refund, in the name of the operator whose shift it then is (V163's guard).
--
-- The rule is now md_takings' own: it answers, beside each row's takings and refunds, how
-- many deposits and refunds of them are reversals and their money (negative: already in the
-- takings; and in the refunds, a positive sum of money paid out), in the same read. The
-- takings report and the shift's figures pass them on; the figures themselves (takings,
-- refunds, payments, refund_count), the overview (`takings_today`) and the shifts report
-- (`report_shifts`) are unchanged.
--
-- Runs again on its own result (tests/two_desks.rs): DROP … IF EXISTS before CREATE.

DROP FUNCTION IF EXISTS md_takings(timestamptz, timestamptz, bigint, integer);
-- Money taken and paid out in a time window by operators (NULL: all), per operator and
-- method: deposits (recharges, card purchases' money in) as takings, refunds paid out apart,
-- a reversal of either counted with what it reverses, and said: how many and how much of
-- each is reversals. `day` at p_offset_secs east of UTC.
CREATE FUNCTION md_takings(p_from timestamptz, p_to timestamptz, p_operator_id bigint,
                           p_offset_secs integer)
RETURNS TABLE (day date, operator_id bigint, payment_method_code text, takings numeric,
               refunds numeric, payments bigint, refund_count bigint, reversed numeric,
               reversals bigint, refunds_reversed numeric, refund_reversals bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT (t.created_at AT TIME ZONE make_interval(secs => p_offset_secs))::date, t.operator_id,
           coalesce(t.payment_method_code, o.payment_method_code),
           coalesce(sum(t.amount) FILTER (WHERE coalesce(o.kind, t.kind) = 'deposit'), 0),
           coalesce(-sum(t.amount) FILTER (WHERE coalesce(o.kind, t.kind) = 'refund'), 0),
           count(*) FILTER (WHERE t.kind = 'deposit'),
           count(*) FILTER (WHERE t.kind = 'refund'),
           coalesce(sum(t.amount) FILTER (WHERE o.kind = 'deposit'), 0),
           count(*) FILTER (WHERE o.kind = 'deposit'),
           -- A refund's reversal is money back in (positive), which the refunds lose: said as
           -- that negative.
           coalesce(-sum(t.amount) FILTER (WHERE o.kind = 'refund'), 0),
           count(*) FILTER (WHERE o.kind = 'refund')
    FROM ledger_transaction t
    LEFT JOIN ledger_transaction o ON o.id = t.reverses_id
    WHERE t.created_at >= p_from AND t.created_at < p_to
      AND t.operator_id IS NOT NULL
      AND (p_operator_id IS NULL OR t.operator_id = p_operator_id)
      AND coalesce(o.kind, t.kind) IN ('deposit', 'refund')
    GROUP BY 1, 2, 3
$$;

-- md_takings stays the definer functions' part (V21): created again, it is revoked again.
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_takings(timestamptz, timestamptz, bigint, integer)
                        FROM %I', md_role_name('operator'));
END $$;

-- The takings report (V177's columns and order), its reversals now md_takings' own.
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
           m.refund_count, m.reversed, m.reversals, m.refunds_reversed, m.refund_reversals
    FROM md_takings(p_from, p_to, NULL, p_offset_secs) m
    JOIN operator o ON o.id = m.operator_id
    ORDER BY m.day, o.login, m.payment_method_code;
END $$;

-- A shift's takings by method (an X report while open, the Z report once closed), with the
-- reversals they count.
DROP FUNCTION IF EXISTS shift_takings(bigint);
CREATE FUNCTION shift_takings(p_shift_id bigint)
RETURNS TABLE (payment_method_code text, takings numeric, refunds numeric, payments bigint,
               refund_count bigint, reversed numeric, reversals bigint,
               refunds_reversed numeric, refund_reversals bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.payment_method_code, sum(m.takings), sum(m.refunds), sum(m.payments)::bigint,
           sum(m.refund_count)::bigint, sum(m.reversed), sum(m.reversals)::bigint,
           sum(m.refunds_reversed), sum(m.refund_reversals)::bigint
    FROM shift_visible(p_shift_id) s,
         md_takings(s.opened_at, coalesce(s.closed_at, 'infinity'), s.operator_id, 0) m
    WHERE s.id IS NOT NULL
    GROUP BY 1 ORDER BY 1
$$;
