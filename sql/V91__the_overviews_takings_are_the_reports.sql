-- The overview's payments and takings of today by the takings report's own rule (s33-d fixed
-- the overview's figures by writing md_takings' rule again in the desk's SQL: deposits, a
-- reversal counted with what it reverses, rows an operator made; two copies to keep in step).
--
-- md_takings stays the definer functions' part (V21): an operator running it could ask any
-- window. The overview asks this one instead, which runs it for one window only: today, the
-- day that is today at the desk (p_offset_secs east of UTC) by the server's clock, the clock
-- that stamps the ledger. Whatever offset is passed, that day's midnight is within the last 24
-- hours: a clerk sees a day's total and nothing more than today.
CREATE FUNCTION takings_today(p_offset_secs integer, OUT payments bigint, OUT takings numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(sum(m.payments), 0)::bigint, coalesce(sum(m.takings), 0)
    FROM (SELECT make_interval(secs => p_offset_secs) AS zone) desk,
         LATERAL (SELECT (now() AT TIME ZONE desk.zone)::date AS day) today,
         md_takings(today.day::timestamp AT TIME ZONE desk.zone,
                    (today.day + 1)::timestamp AT TIME ZONE desk.zone, NULL, p_offset_secs) m
$$;
