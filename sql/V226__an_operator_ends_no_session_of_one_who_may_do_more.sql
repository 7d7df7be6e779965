-- Who ends whose session left in a transaction (s43-f's "found, not fixed"; s44-a;
-- docs/decisions.md, "What a clerk or an administrator reads with psql").
--
-- V160's md_end_idle_transactions() is what it must be for every desk's health watcher to
-- call it (db::health, every 10 pings, as the signed-in operator): any operator's sweep ended
-- any operator's session idle in a transaction past md_idle_transaction_limit(), or in one
-- open past it that another session waits for. So a clerk whose own psql session waited on a
-- lock of a supervisor's long transaction (an import: its statements run up to 10 minutes,
-- db::IMPORT_STATEMENT_TIMEOUT) ended it by calling the function, and nothing said who had.
--
-- Now:
-- * it ends only the sessions of operators whose permissions are all the caller's too: a
--   clerk's sweep ends a clerk's psql left holding locks (as before, the lock holder the
--   counter meets most), a supervisor's sweep a clerk's or a supervisor's; nobody's sweep the
--   session of one who may do more than they may. The owner's (a superuser's) ends any.
--   Every operator may still call it: their desk's watcher does, and a call by hand does no
--   more than that watcher does within ten seconds;
-- * each session it ends is told in the audit log: `session.ended`, by the caller, of the
--   operator ended, with the process, since when its transaction was open, its state and
--   why (`idle` past the limit, or `blocking` another session past it).
-- The rule of what is ended is V160's. Re-runnable: CREATE OR REPLACE.

CREATE OR REPLACE FUNCTION md_end_idle_transactions() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old record;
    why text;
    ended integer := 0;
    since timestamptz := clock_timestamp() - public.md_idle_transaction_limit();
BEGIN
    FOR old IN
        SELECT a.pid, a.usename, a.state, a.state_change, a.xact_start, o.id AS operator_id
        FROM pg_catalog.pg_stat_activity a
        JOIN public.operator o ON o.db_role = a.usename
        WHERE a.datname = current_database()
          AND a.xact_start < since
    LOOP
        why := CASE
            WHEN old.state IN ('idle in transaction', 'idle in transaction (aborted)')
                 AND old.state_change < since THEN 'idle'
            WHEN EXISTS (SELECT FROM pg_catalog.pg_stat_activity w
                         WHERE w.wait_event_type = 'Lock'
                           AND old.pid = ANY (pg_catalog.pg_blocking_pids(w.pid))) THEN 'blocking'
        END;
        IF why IS NOT NULL
           -- One who may do more than the caller is not the caller's to end.
           AND NOT EXISTS (SELECT FROM public.operator_role r
                           JOIN public.role_permission p ON p.role_code = r.role_code
                           WHERE r.operator_id = old.operator_id
                             AND NOT public.md_permitted(p.permission_code))
           AND pg_catalog.pg_terminate_backend(old.pid) THEN
            ended := ended + 1;
            RAISE LOG 'meterdesk: ended % (pid %), in a transaction since % (%)',
                old.usename, old.pid, old.xact_start, old.state;
            INSERT INTO public.audit_log (operator_id, action, entity, entity_id, detail)
            VALUES (public.current_operator_id(), 'session.ended', 'operator', old.operator_id,
                    jsonb_build_object('pid', old.pid, 'since', old.xact_start,
                                       'state', old.state, 'why', why));
        END IF;
    END LOOP;
    RETURN ended;
END $$;
