-- One "today" for the utility (s46-e). Every rule that hangs on a day read `current_date` (or a
-- cast of a timestamp to a date) in the session's `TimeZone`, which the desk sets
-- (db::zone) but any session may change: a clerk in psql who runs `SET TimeZone = '<+167>-167'`
-- (POSIX offsets up to 167 hours are accepted) moved "today" up to a week either way, and with
-- it a reading "later than today" (dated next week, billed), a price version "from today"
-- (backdated a week by a supervisor, or one in force corrected in place as "not yet in force",
-- V250), a change of owner in two modifies "of one day" (V263/V267: a zone whose day began a
-- minute ago), a card meter's cycle and the price in force at a recharge.
--
-- Now the utility has one zone, the installation's (`installation.utility_zone`): the
-- installer's session's when this migration first runs (the desk's connection sets it to the
-- installer machine's offset, db::zone), changed only through `md_utility_zone_set` (the
-- owner, or an operator with settings.maintain), audited as `installation.zone`.
--   * `md_today()` is the utility's date now, for the SQL the desk sends (a form's "today").
--   * The functions whose rule decides a write on a day (`md_day_rules()`) carry
--     `SET TimeZone = <the utility's zone>` (`md_pin_today()`): inside them `current_date`
--     and every date of a timestamp are the utility's whatever the caller's session says, and
--     their bodies stay their owners' (no replacement here). A later CREATE OR REPLACE drops
--     the clause: `meterdesk migrate` (db::migrate) pins again after every run, and
--     tests/boundary.rs (`the_utilitys_zone_is_the_administrators_and_every_day_rule_keeps_it`)
--     fails on a day-dependent function neither pinned nor listed as a read.
-- Re-runnable: ADD COLUMN IF NOT EXISTS keeps a zone already chosen; CREATE OR REPLACE; the
-- pins are written only where they differ.

ALTER TABLE installation
    ADD COLUMN IF NOT EXISTS utility_zone text NOT NULL DEFAULT current_setting('TimeZone');
ALTER TABLE installation ALTER COLUMN utility_zone DROP DEFAULT;

-- The utility's date now, for the desk's SQL. Its session's day read under the pin every day
-- rule carries (it is one of md_day_rules()), so that it and the rules read the zone alike:
-- `AT TIME ZONE` would read a name that is also an abbreviation ('CET') as a fixed offset where
-- the `TimeZone` setting reads its summer time (review of session 46).
CREATE OR REPLACE FUNCTION md_today() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT current_date
$$;

-- The functions whose rule decides a write by a day: V250's price versions (a version
-- "from today", one "not yet in force" corrected in place), the counter's and the import's
-- readings (V142's book: "later than today", the settlement cycle), a card operation's rules
-- (V258: the price in force, the card meter's cycle and its water, md_card_water within),
-- V263/V267's change of owner in two modifies of a day. By name: every overload.
CREATE OR REPLACE FUNCTION md_day_rules() RETURNS SETOF regprocedure
LANGUAGE sql STABLE AS $$
    SELECT p.oid::regprocedure
    FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND p.proname IN ('md_today', 'price_version_is_history', 'price_version_is_ahead',
                        'reading_enter_book', 'reading_enter_unchecked', 'reading_enter_after',
                        'card_operation_rules', 'customer_owner_changed_in_two_steps')
$$;

-- Pins each of md_day_rules() to the utility's zone (only those not pinned to it already, so
-- that a migration run at every start rewrites no catalogue row). The owner's.
CREATE OR REPLACE FUNCTION md_pin_today() RETURNS integer
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    zone constant text := (SELECT utility_zone FROM public.installation);
    rule regprocedure;
    pinned integer := 0;
BEGIN
    FOR rule IN
        SELECT r FROM md_day_rules() r JOIN pg_catalog.pg_proc p ON p.oid = r
        WHERE NOT coalesce(p.proconfig @> ARRAY['TimeZone=' || zone], false)
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET TimeZone = %L', rule, zone);
        pinned := pinned + 1;
    END LOOP;
    RETURN pinned;
END $$;
REVOKE EXECUTE ON FUNCTION md_pin_today() FROM PUBLIC;

-- The utility's zone changed: a place's name in the tz database ('Asia/Shanghai'; not one
-- that is also an abbreviation, 'CET', which `AT TIME ZONE` reads as a fixed offset) or a
-- fixed offset as the desk writes it ('<+08:00>-08:00'), within 14 hours of Greenwich — no
-- POSIX rule of its own, whose summer could be days away ('AAA-10BBB-150,J350/0,J360/0'
-- passes a check of today's offset and is six days east in its "summer"); only at an hour
-- when the new zone's date is the utility's today, so that a change never reopens a day
-- (today's prices "not yet in force" again, V250) nor skips one. By the owner or an operator
-- with settings.maintain; told in the audit log with the zone it replaces; the day rules
-- pinned to it in the same transaction.
CREATE OR REPLACE FUNCTION md_utility_zone_set(p_zone text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    was text;
    east interval;
BEGIN
    IF NOT pg_has_role(session_user, md_role_name('owner'), 'MEMBER') THEN
        PERFORM md_require('settings.maintain');
    END IF;
    IF p_zone IS NULL
       OR NOT (p_zone ~ '^<[+-][0-9]{2}(:[0-9]{2}){0,2}>[+-][0-9]{1,2}(:[0-9]{2}){0,2}$'
               OR (EXISTS (SELECT FROM pg_catalog.pg_timezone_names n WHERE n.name = p_zone)
                   AND NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_abbrevs a
                                   WHERE lower(a.abbrev) = lower(p_zone)))) THEN
        east := NULL;
    ELSE
        east := (now() AT TIME ZONE p_zone) - (now() AT TIME ZONE 'UTC');
    END IF;
    IF east IS NULL OR abs(extract(epoch FROM east)) > 14 * 3600 THEN
        RAISE EXCEPTION 'not a time zone of a place: % (a name of the tz database, e.g. Asia/Shanghai, or a fixed offset, e.g. <+08:00>-08:00)', p_zone
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT utility_zone INTO was FROM installation FOR UPDATE;
    IF was = p_zone THEN
        PERFORM md_pin_today();
        RETURN;
    END IF;
    IF (now() AT TIME ZONE p_zone)::date <> md_today() THEN
        RAISE EXCEPTION 'not now: it is % in %, and the utility''s today is %; change the zone at an hour when both say the same day',
            (now() AT TIME ZONE p_zone)::date, p_zone, md_today()
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE installation SET utility_zone = p_zone;
    INSERT INTO audit_log (operator_id, action, entity, detail)
    VALUES (current_operator_id(), 'installation.zone', 'installation',
            jsonb_build_object('utility_zone', p_zone, 'was', was));
    PERFORM md_pin_today();
END $$;
REVOKE EXECUTE ON FUNCTION md_utility_zone_set(text) FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION md_utility_zone_set(text) TO %I',
                   md_role_name('operator'));
END $$;

SELECT md_pin_today();
