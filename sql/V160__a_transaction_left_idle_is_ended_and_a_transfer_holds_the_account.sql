-- A clerk's psql could hold row locks in an idle transaction for as long as it liked (s37 and
-- s38's "found, not fixed"; s39-f): `SET idle_in_transaction_session_timeout = 0; BEGIN;
-- SELECT … FROM account WHERE id = … FOR UPDATE` (the column UPDATE grant the desk's own row
-- locks need allows it), or any write function called and the transaction left open, and
-- every other desk's write on those rows waited until its statement deadline and failed.
-- PostgreSQL has no session limit a role cannot lift: idle_in_transaction_session_timeout is
-- a user setting (a role's own default is SET away), and an operator's write cannot be kept
-- from holding its rows' locks until it ends. What the server does allow is ending such a
-- session from outside: the owner holds pg_signal_backend (to end a disabled operator's
-- sessions, V13) and, reading pg_stat_activity through pg_read_all_stats, sees which of the
-- operators' sessions sit idle in a transaction and since when.
--
-- So:
-- * every operator's role gets idle_in_transaction_session_timeout as its default (the
--   server ends a plain psql session itself; the desk's connections set their own 30 s);
-- * md_end_idle_transactions() ends every operator session of this database idle in a
--   transaction for longer than md_idle_transaction_limit() (60 s, twice the desk's own
--   limit, so no desk's connection is ever ended by it), or in one open longer than that and
--   holding a lock another session waits for; any signed-in operator may call it,
--   and every desk's health watcher does (db::health, every 10 s): while one desk runs, a
--   psql transaction holding locks is ended within the limit and a few seconds.
-- And a transfer typed by hand holds the customer's account as the desk's does (below).
-- Re-runnable: CREATE OR REPLACE; the grants and role settings are idempotent.

-- How long an operator's session may sit idle inside a transaction. An installation wanting
-- another figure replaces the function as the owner (a desk's own connections end theirs at
-- 30 s, db::pool: keep it above that).
CREATE OR REPLACE FUNCTION md_idle_transaction_limit() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '60 seconds' $$;

-- The owner reads the state of the operators' sessions (PostgreSQL shows another role's
-- session's state only to a member of pg_read_all_stats). A role with CREATEROLE may grant it
-- on PostgreSQL 15; the embedded cluster and the README's installation grant it as the
-- superuser too.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') THEN
        EXECUTE format('GRANT pg_read_all_stats TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'the owner % cannot read the operators'' sessions: a superuser grants it '
                  'pg_read_all_stats (README, "Installation"), else a transaction an operator '
                  'leaves idle is ended only by the role''s own default', current_user;
END $$;

-- Ends every session of an operator of this database whose transaction has sat idle for
-- longer than md_idle_transaction_limit(), or has been open for longer than it and holds a lock
-- another session waits for (`SET statement_timeout = 0; BEGIN; SELECT … FOR UPDATE; SELECT
-- pg_sleep(86400)` is not idle); answers how many. Its locks go with it. A desk's transaction
-- lasts a statement deadline or two, the meter import's longer (its COPY, db::meters) but it
-- holds nothing another desk's write waits for but a meter number being imported. Who blocks
-- is asked only of a session already past the limit (pg_blocking_pids takes the lock
-- manager's state), so a sweep finding none reads pg_stat_activity once.
CREATE OR REPLACE FUNCTION md_end_idle_transactions() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old record;
    ended integer := 0;
    since timestamptz := clock_timestamp() - public.md_idle_transaction_limit();
BEGIN
    FOR old IN
        SELECT a.pid, a.usename, a.state, a.state_change, a.xact_start
        FROM pg_catalog.pg_stat_activity a
        WHERE a.datname = current_database()
          AND a.xact_start < since
          AND a.usename IN (SELECT o.db_role FROM public.operator o)
    LOOP
        IF (old.state IN ('idle in transaction', 'idle in transaction (aborted)')
            AND old.state_change < since)
           OR EXISTS (SELECT FROM pg_catalog.pg_stat_activity w
                      WHERE w.wait_event_type = 'Lock'
                        AND old.pid = ANY (pg_catalog.pg_blocking_pids(w.pid))) THEN
            IF pg_catalog.pg_terminate_backend(old.pid) THEN
                ended := ended + 1;
                RAISE LOG 'meterdesk: ended % (pid %), in a transaction since % (%)',
                    old.usename, old.pid, old.xact_start, old.state;
            END IF;
        END IF;
    END LOOP;
    RETURN ended;
END $$;
REVOKE EXECUTE ON FUNCTION md_end_idle_transactions() FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION md_end_idle_transactions() TO %I',
                   md_role_name('operator'));
END $$;

-- V99's, with the role's default idle_in_transaction_session_timeout: every operator's role,
-- made by operator_create or again by operator_reset_password, at commit (V99's trigger) and
-- now for the existing ones.
CREATE OR REPLACE FUNCTION md_limit_operator_connections(p_role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    idle_limit text := (extract(epoch FROM md_idle_transaction_limit()) * 1000)::bigint || 'ms';
BEGIN
    IF EXISTS (SELECT FROM pg_roles
               WHERE rolname = p_role AND rolconnlimit <> md_operator_connection_limit()) THEN
        EXECUTE format('ALTER ROLE %I CONNECTION LIMIT %s', p_role,
                       md_operator_connection_limit());
    END IF;
    IF EXISTS (SELECT FROM pg_roles r
               WHERE r.rolname = p_role
                 AND NOT coalesce('idle_in_transaction_session_timeout=' || idle_limit
                                  = ANY (r.rolconfig), false)) THEN
        EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', p_role,
                       idle_limit);
    END IF;
END $$;

SELECT md_limit_operator_connections(db_role) FROM operator;

-- A transfer typed by hand did not hold the account (s37-d's "found, not fixed", tried in
-- s39-f): the owner history row's check (V138) read the pending card operations without a
-- lock, so a card operation begun at another counter while the transfer's transaction was open
-- (a begin holds the account while it journals, and nothing held it here) was not seen, and
-- the customer was transferred with an operation pending that its begin checked against the
-- previous owner — what V131 refuses. The desk's transfer takes the account before anything
-- else (customer_changes::transfer); the row's check now takes it too, before it asks, so a
-- begin waits for the transfer and one committed before is seen. The account before the
-- customer, as every write of a customer takes them. V138's body otherwise unchanged.
CREATE OR REPLACE FUNCTION customer_transfer_waits() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    unpaid bigint;
    pending card_operation;
BEGIN
    PERFORM FROM account a WHERE a.customer_id = NEW.customer_id FOR NO KEY UPDATE;
    SELECT count(*) INTO unpaid
    FROM account a JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
    WHERE a.customer_id = NEW.customer_id;
    IF unpaid > 0 THEN
        RAISE EXCEPTION 'customer % has % unpaid bills: they are paid before a transfer',
            NEW.customer_id, unpaid
            USING ERRCODE = 'MD421';
    END IF;
    SELECT o.* INTO pending FROM card_operation o
    WHERE o.customer_id = NEW.customer_id AND o.state = 'pending';
    IF FOUND THEN
        RAISE EXCEPTION 'card operation % (%) of customer % is pending: the customer is transferred once it is settled',
            pending.id, pending.kind, NEW.customer_id
            USING ERRCODE = 'MD420';
    END IF;
    RETURN NEW;
END $$;
