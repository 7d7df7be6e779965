-- The clerk's shift and the daily reports (issue 12, items 6 and 8).
--
-- A shift is an operator's stretch at the counter: opened, closed, at most one open per
-- operator (a partial unique index). Its money is found by time and operator, not by a column
-- on the ledger: the ledger rows (and receipts) an operator made from opened_at until
-- closed_at (or now). ledger_post stays as it is, and every kind of money row — the counter's,
-- the card's, bill payments — belongs to a shift without its writer knowing shifts exist.
--
-- No money is refused for want of a shift: the operator's first ledger row with none open
-- opens one (opened_by_payment), so a payment is never lost from the takings.
--
-- Who sees what, checked here: an operator reads their own shifts and their figures; other
-- operators' shifts and the office's reports need reports.view (supervisors). The raw ledger
-- stays readable to operators as V13 made it (account histories need it).

INSERT INTO permission (code, description) VALUES
    ('reports.view', 'View every operator''s shifts and the daily reports');
INSERT INTO role_permission (role_code, permission_code) VALUES ('supervisor', 'reports.view');

CREATE TABLE shift (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator_id       bigint NOT NULL REFERENCES operator,
    opened_at         timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    -- Opened by the operator's first payment, not by the clerk.
    opened_by_payment boolean NOT NULL DEFAULT false,
    CHECK (closed_at >= opened_at)
);
CREATE UNIQUE INDEX shift_one_open_per_operator ON shift (operator_id) WHERE closed_at IS NULL;
CREATE INDEX shift_opened ON shift (opened_at);

-- Written only by the functions below (the default privileges gave SELECT only).
ALTER TABLE shift ENABLE ROW LEVEL SECURITY;
CREATE POLICY shift_read ON shift FOR SELECT
    USING ((SELECT md_permitted('reports.view')) OR operator_id = (SELECT current_operator_id()));

-- Takes money at the counter: whoever may take a deposit or recharge a card.
CREATE FUNCTION shift_open() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    opened bigint;
BEGIN
    PERFORM md_require('account.deposit', 'card.recharge');
    INSERT INTO shift (operator_id) VALUES (current_operator_id()) RETURNING id INTO opened;
    RETURN opened;
END $$;

-- Closes shift p_shift_id of the session operator if it is open; true when it is closed (now
-- or before), so a close sent again after a lost answer closes nothing else.
CREATE FUNCTION shift_close(p_shift_id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE shift SET closed_at = greatest(now(), opened_at)
    WHERE id = p_shift_id AND operator_id = current_operator_id() AND closed_at IS NULL;
    RETURN EXISTS (SELECT FROM shift WHERE id = p_shift_id
                   AND operator_id = current_operator_id() AND closed_at IS NOT NULL);
END $$;

-- The first money an operator posts with no shift open opens one at that row's time. Per
-- statement: a demo load's COPY (as the owner) costs one call, and makes no shift.
CREATE FUNCTION shift_opens_at_first_money() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
BEGIN
    IF me IS NOT NULL THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER shift_opens_at_first_money AFTER INSERT ON ledger_transaction
    REFERENCING NEW TABLE AS posted FOR EACH STATEMENT EXECUTE FUNCTION shift_opens_at_first_money();

-- The shift, if the session may see its figures: its own operator, or reports.view.
CREATE FUNCTION shift_visible(p_shift_id bigint) RETURNS shift
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    found shift;
BEGIN
    SELECT * INTO found FROM shift WHERE id = p_shift_id;
    IF found.operator_id IS DISTINCT FROM current_operator_id() THEN
        PERFORM md_require('reports.view');
    END IF;
    RETURN found;
END $$;

-- Money taken and paid out in a time window by operators (NULL: all), per operator and
-- method: deposits (recharges, card purchases' money in) as takings, refunds paid out apart,
-- a reversal of either counted with what it reverses. `day` at p_offset_secs east of UTC.
CREATE FUNCTION md_takings(p_from timestamptz, p_to timestamptz, p_operator_id bigint,
                           p_offset_secs integer)
RETURNS TABLE (day date, operator_id bigint, payment_method_code text, takings numeric,
               refunds numeric, payments bigint, refund_count bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT (t.created_at AT TIME ZONE make_interval(secs => p_offset_secs))::date, t.operator_id,
           coalesce(t.payment_method_code, o.payment_method_code),
           coalesce(sum(t.amount) FILTER (WHERE coalesce(o.kind, t.kind) = 'deposit'), 0),
           coalesce(-sum(t.amount) FILTER (WHERE coalesce(o.kind, t.kind) = 'refund'), 0),
           count(*) FILTER (WHERE t.kind = 'deposit'),
           count(*) FILTER (WHERE t.kind = 'refund')
    FROM ledger_transaction t
    LEFT JOIN ledger_transaction o ON o.id = t.reverses_id
    WHERE t.created_at >= p_from AND t.created_at < p_to
      AND t.operator_id IS NOT NULL
      AND (p_operator_id IS NULL OR t.operator_id = p_operator_id)
      AND coalesce(o.kind, t.kind) IN ('deposit', 'refund')
    GROUP BY 1, 2, 3
$$;

-- A shift's takings by method (an X report while open, the Z report once closed).
CREATE FUNCTION shift_takings(p_shift_id bigint)
RETURNS TABLE (payment_method_code text, takings numeric, refunds numeric, payments bigint,
               refund_count bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.payment_method_code, sum(m.takings), sum(m.refunds), sum(m.payments)::bigint,
           sum(m.refund_count)::bigint
    FROM shift_visible(p_shift_id) s,
         md_takings(s.opened_at, coalesce(s.closed_at, 'infinity'), s.operator_id, 0) m
    WHERE s.id IS NOT NULL
    GROUP BY 1 ORDER BY 1
$$;

-- A shift's receipts: how many, the first and the last number.
CREATE FUNCTION shift_receipts(p_shift_id bigint)
RETURNS TABLE (receipts bigint, first_no bigint, last_no bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(r.receipt_no), min(r.receipt_no), max(r.receipt_no)
    FROM shift_visible(p_shift_id) s
    LEFT JOIN receipt r ON r.operator_id = s.operator_id AND r.issued_at >= s.opened_at
                       AND r.issued_at < coalesce(s.closed_at, 'infinity')
    WHERE s.id IS NOT NULL
$$;

-- ───────────────────────────── The supervisor's daily reports ─────────────────────────────

-- Takings by day, operator and method between two instants (days p_offset_secs east of UTC).
CREATE FUNCTION report_takings(p_from timestamptz, p_to timestamptz, p_offset_secs integer)
RETURNS TABLE (day date, operator text, payment_method_code text, takings numeric,
               refunds numeric, payments bigint, refund_count bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT m.day, o.login, m.payment_method_code, m.takings, m.refunds, m.payments,
           m.refund_count
    FROM md_takings(p_from, p_to, NULL, p_offset_secs) m JOIN operator o ON o.id = m.operator_id
    ORDER BY m.day, o.login, m.payment_method_code;
END $$;

-- Every shift that overlaps the window, with its figures: the supervisor's view of the day.
CREATE FUNCTION report_shifts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (shift_id bigint, operator text, opened_at timestamptz, closed_at timestamptz,
               receipts bigint, takings numeric, refunds numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT s.id, o.login, s.opened_at, s.closed_at,
           (SELECT r.receipts FROM shift_receipts(s.id) r),
           coalesce((SELECT sum(t.takings) FROM shift_takings(s.id) t), 0),
           coalesce((SELECT sum(t.refunds) FROM shift_takings(s.id) t), 0)
    FROM shift s JOIN operator o ON o.id = s.operator_id
    WHERE s.opened_at < p_to AND coalesce(s.closed_at, 'infinity') > p_from
    ORDER BY s.opened_at, s.id;
END $$;

-- Water sold between two instants by price scheme and nature: card purchases and system
-- deductions, less card refunds, a reversal taking back what it reverses.
CREATE FUNCTION report_water_sold(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (scheme text, nature text, volume numeric, amount numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT coalesce(ps.name, ''), c.nature,
           coalesce(sum(CASE WHEN coalesce(o.kind, t.kind) = 'card_refund' OR o.id IS NOT NULL
                             THEN -coalesce(o.volume, t.volume) ELSE t.volume END), 0),
           -sum(t.amount)
    FROM ledger_transaction t
    LEFT JOIN ledger_transaction o ON o.id = t.reverses_id
    JOIN account a ON a.id = t.account_id
    JOIN customer c ON c.id = a.customer_id
    JOIN customer_type ct ON ct.id = c.customer_type_id
    LEFT JOIN price_scheme ps ON ps.id = ct.price_scheme_id
    WHERE t.created_at >= p_from AND t.created_at < p_to
      AND coalesce(o.kind, t.kind) IN ('card_purchase', 'consumption', 'card_refund')
    GROUP BY 1, 2 ORDER BY 1, 2;
END $$;

-- Unpaid bills by age on p_day (days since issued: 0–30, 31–90, over 90).
CREATE FUNCTION report_arrears_by_age(p_day date)
RETURNS TABLE (age text, bills bigint, customers bigint, amount numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_require('reports.view');
    RETURN QUERY
    SELECT bucket.age, count(b.id), count(DISTINCT b.account_id), coalesce(sum(b.amount), 0)
    FROM (VALUES ('0-30', 0, 30), ('31-90', 31, 90), ('90+', 91, NULL)) bucket(age, low, high)
    LEFT JOIN bill b ON b.status = 'unpaid'
        AND p_day - b.issued_at::date >= bucket.low
        AND (bucket.high IS NULL OR p_day - b.issued_at::date <= bucket.high)
    GROUP BY bucket.age, bucket.low ORDER BY bucket.low;
END $$;

-- ───────────────────────────── Arrears at the counter ─────────────────────────────

-- A customer's arrears = the sum of their unpaid bills. The customer table asks per row of a
-- page through V1's partial index bill_unpaid (account_id WHERE unpaid); the :arrears list walks
-- this one, largest first then oldest.
CREATE INDEX bill_unpaid_by_account_issued ON bill (account_id, issued_at, amount)
    WHERE status = 'unpaid';

-- md_takings is the definer functions' part (V13's default privileges gave it to operators).
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_takings(timestamptz, timestamptz, bigint, integer)
                        FROM %I', md_role_name('operator'));
END $$;
