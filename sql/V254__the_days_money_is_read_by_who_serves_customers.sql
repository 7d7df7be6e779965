-- The day's payments and takings are read by who serves customers (s44-a's "found, not
-- fixed"; s45-b; docs/decisions.md, "What each role reads and can do with psql").
--
-- V224 keeps the customer side's rows — the ledger among them — from an operator whose roles
-- serve no customer (only the five permissions of administration). The overview's
-- `takings_today` (V91) is the owner's and summed the whole office's ledger for anyone: an
-- administration-only role read the day's payments and takings. Money is not administration's
-- business unless a role grants it: the function now refuses such an operator, in words, and
-- the overview says so (the desk reads the refusal, never shows "0.00").

-- Whether the signed-in operator reads the customer side: a member of V224's readers' group
-- (the groups of the roles that serve customers), or the owner (or a superuser), whom row
-- security never touches. Asked of the login (`session_user`), as `current_operator_id()` is:
-- inside the owner's functions `current_user` is the owner.
CREATE OR REPLACE FUNCTION md_serves_customers() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT pg_catalog.pg_has_role(session_user, current_user, 'MEMBER')
        OR pg_catalog.pg_has_role(session_user, public.md_role_name('reads.customers'), 'MEMBER')
$$;

-- V91's, refused to who serves no customer.
CREATE OR REPLACE FUNCTION takings_today(p_offset_secs integer, OUT payments bigint,
                                         OUT takings numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT md_serves_customers() THEN
        RAISE EXCEPTION 'the day''s payments and takings are read only by operators whose roles serve customers'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT coalesce(sum(m.payments), 0)::bigint, coalesce(sum(m.takings), 0)
    INTO payments, takings
    FROM (SELECT make_interval(secs => p_offset_secs) AS zone) desk,
         LATERAL (SELECT (now() AT TIME ZONE desk.zone)::date AS day) today,
         md_takings(today.day::timestamp AT TIME ZONE desk.zone,
                    (today.day + 1)::timestamp AT TIME ZONE desk.zone, NULL, p_offset_secs) m;
END $$;
