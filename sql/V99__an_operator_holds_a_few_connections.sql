-- One operator could take every connection the server has (s35-d): the operators' roles had no
-- CONNECTION LIMIT, so a clerk's shell opening psql after psql (or one libpq loop) held all 247
-- of the embedded cluster's ordinary slots (max_connections 250, 3 for superusers) and every
-- other desk's sign-in, and every desk's next connection, was refused with "sorry, too many
-- clients already". A user setting (statement_timeout, idle_in_transaction_session_timeout)
-- the role can SET away; a role's CONNECTION LIMIT it cannot change (ALTER ROLE of one's own
-- role's attributes other than the password needs CREATEROLE).
--
-- A desk holds at most its pool (`[database] pool_size`, 2 by default), its health watcher,
-- and a connection made to check a password being changed: 4. md_operator_connection_limit
-- allows four desks signed in as the same operator at once; an installation wanting another
-- figure replaces the function (as the owner) and signs each operator in again or runs
-- md_limit_operator_connections for everyone.

-- Connections one operator may hold at once.
CREATE FUNCTION md_operator_connection_limit() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 16 $$;

-- Gives `p_role`, an operator's login role if it exists, the operators' connection limit.
CREATE FUNCTION md_limit_operator_connections(p_role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles
               WHERE rolname = p_role AND rolconnlimit <> md_operator_connection_limit()) THEN
        EXECUTE format('ALTER ROLE %I CONNECTION LIMIT %s', p_role,
                       md_operator_connection_limit());
    END IF;
END $$;
DO $$
BEGIN
    EXECUTE format('REVOKE EXECUTE ON FUNCTION md_limit_operator_connections(name) FROM %I',
                   md_role_name('operator'));
END $$;

-- operator_create and operator_reset_password (a lost role made again) make the role after
-- writing the operator's row; at commit the role exists and gets its limit.
CREATE FUNCTION operator_connections_limited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_limit_operator_connections(NEW.db_role);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER operator_connections_limited AFTER INSERT OR UPDATE ON operator
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION operator_connections_limited();

SELECT md_limit_operator_connections(db_role) FROM operator;
