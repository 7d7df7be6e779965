-- The database is the security boundary (docs/security.md). Clerks run meterdesk on a shared
-- server, so whatever the app can do with its connection a clerk can do with psql: each
-- operator therefore signs in to PostgreSQL as a role of their own, and every rule about who may
-- do what is here, not in the client.
--
-- Roles (names start with the installation's prefix P, the database's name when it was made):
--   P_owner        owns the schema; runs migrations and nothing else (made at set-up, not here)
--   P_operator     every operator: reads, and the guarded writes below
--   P_<role code>  one group per meterdesk role (clerk, supervisor, administrator, …)
--   <login>@<db>   one LOGIN role per operator (SCRAM password), member of P_operator and of
--                  the groups of their roles
-- What a meterdesk role may do is `role_permission`, one table for the client's messages and for
-- the database's checks: `md_permitted` finds the permission through the session user's group
-- memberships. Row triggers (`md_guard`) check it on every guarded write; money moves only
-- through `ledger_post`, operators change only through the operator_* functions; the columns
-- that say who did something are stamped from `session_user`, which no client can forge.

CREATE TABLE installation (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    role_prefix text NOT NULL CHECK (role_prefix ~ '^[a-z_][a-z0-9_]{0,31}$')
);
INSERT INTO installation (role_prefix) VALUES (current_database());

-- The name of the installation's role `suffix` (owner, operator, or a meterdesk role's code).
CREATE FUNCTION md_role_name(suffix text) RETURNS name LANGUAGE sql STABLE AS $$
    SELECT (role_prefix || '_' || suffix)::name FROM installation
$$;

-- A role code becomes part of a role name: keep the names of the owner and the base group free.
ALTER TABLE role ADD CONSTRAINT role_code_is_no_reserved_name
    CHECK (code NOT IN ('owner', 'operator'));

-- ───────────────────────────── Operators sign in as PostgreSQL roles ─────────────────────────────

-- The server checks passwords now (SCRAM); the failure counter gives way to the server's
-- auth_delay and log.
ALTER TABLE operator DROP COLUMN password_hash;
ALTER TABLE operator DROP COLUMN failed_logins;
ALTER TABLE operator DROP COLUMN last_failed_login_at;
ALTER TABLE operator ADD COLUMN db_role name;
UPDATE operator SET db_role = (lower(login) || '@' || current_database())::name;
ALTER TABLE operator ALTER COLUMN db_role SET NOT NULL;
-- An operator row written without its role name (the owner's fixtures) gets the usual one.
CREATE FUNCTION operator_default_db_role() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    NEW.db_role := coalesce(NEW.db_role, (lower(NEW.login) || '@' || current_database())::name);
    RETURN NEW;
END $$;
CREATE TRIGGER operator_default_db_role BEFORE INSERT ON operator
    FOR EACH ROW EXECUTE FUNCTION operator_default_db_role();
ALTER TABLE operator ADD CONSTRAINT operator_db_role_key UNIQUE (db_role);
-- A login is part of a role name, and psql users type it: letters, digits, _ . -
ALTER TABLE operator ADD CONSTRAINT operator_login_is_a_name
    CHECK (login ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$') NOT VALID;
-- A temporary password (set by an administrator) must be changed at the first sign-in; until
-- then the operator may change nothing else.
ALTER TABLE operator ADD COLUMN must_change_password boolean NOT NULL DEFAULT true;

-- Who is signed in: the operator whose role is the session user, or NULL (the owner, a
-- superuser). SECURITY DEFINER so that it reads the operator table whatever the caller's
-- privileges; `session_user` is the role that authenticated and cannot be changed by SET ROLE.
CREATE FUNCTION current_operator_id() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM operator WHERE db_role = session_user
$$;

-- Whether the session may do what `permission` names: an enabled operator without a pending
-- password change, in the group of a role that holds the permission. The owner and superusers
-- (migrations, set-up, demo data) may.
CREATE FUNCTION md_permitted(permission text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT CASE
        WHEN o.id IS NULL THEN pg_has_role(session_user, md_role_name('owner'), 'MEMBER')
        ELSE o.enabled AND NOT o.must_change_password AND EXISTS (
            SELECT FROM role_permission rp
            WHERE rp.permission_code = permission
              AND pg_has_role(session_user, md_role_name(rp.role_code), 'MEMBER'))
    END
    FROM (SELECT 1) AS always LEFT JOIN operator o ON o.db_role = session_user
$$;

CREATE FUNCTION md_require(VARIADIC permissions text[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    permission text;
BEGIN
    FOREACH permission IN ARRAY permissions LOOP
        IF md_permitted(permission) THEN
            RETURN;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'permission denied: % may not do this (needs %)',
        session_user, array_to_string(permissions, ' or ')
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Statement guard: the write needs one of the permissions in the trigger's arguments (none:
-- nobody may, except the owner's own functions). Asked once per statement, not per row (a meter
-- import writes 100 000 rows in one), and also for a statement that matches no row. A write done
-- inside a SECURITY DEFINER function of the owner (current_user is then the owner) has been
-- checked by that function.
CREATE FUNCTION md_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        IF TG_NARGS = 0 THEN
            RAISE EXCEPTION 'permission denied: % on % is not allowed to %',
                TG_OP, TG_TABLE_NAME, session_user USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM md_require(VARIADIC TG_ARGV);
    END IF;
    RETURN NULL;
END $$;

-- Stamps the column named in the trigger's argument with the session's operator, whatever the
-- client sent. Writes of the owner and superusers (demo data, tests' fixtures) keep theirs.
CREATE FUNCTION md_stamp_operator() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    operator_id bigint := current_operator_id();
BEGIN
    IF operator_id IS NOT NULL THEN
        NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], operator_id));
    END IF;
    RETURN NEW;
END $$;

-- ───────────────────────────── The audit log names the session user ─────────────────────────────

ALTER TABLE audit_log ADD COLUMN db_user name NOT NULL DEFAULT session_user;
CREATE INDEX audit_log_operator ON audit_log (operator_id, at);
CREATE FUNCTION audit_log_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    NEW.db_user := session_user;
    -- The owner (set-up, demo data, imports of history) writes what it writes; an operator's
    -- row is theirs and now.
    IF NOT pg_has_role(session_user, md_role_name('owner'), 'MEMBER') THEN
        NEW.operator_id := current_operator_id();
        NEW.at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_stamp BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_stamp();

-- ───────────────────────────── Guards and stamps, table by table ─────────────────────────────

CREATE TRIGGER guard_insert BEFORE INSERT ON customer
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer.open');
CREATE TRIGGER guard_update BEFORE UPDATE ON customer
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer.modify', 'customer.transfer', 'customer.close');
CREATE TRIGGER guard_delete BEFORE DELETE ON customer
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();
CREATE TRIGGER stamp_opened_by BEFORE INSERT ON customer
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('opened_by');

-- An account's balance changes only through its ledger (ledger_apply_to_balance, the owner's).
CREATE TRIGGER guard_insert BEFORE INSERT ON account
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer.open');
CREATE TRIGGER guard_change BEFORE UPDATE OR DELETE ON account
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();
ALTER FUNCTION ledger_apply_to_balance() SECURITY DEFINER SET search_path = public, pg_temp;

CREATE TRIGGER guard_insert BEFORE INSERT ON customer_owner_history
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer.transfer');
CREATE TRIGGER guard_change BEFORE UPDATE OR DELETE ON customer_owner_history
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();
CREATE TRIGGER stamp_transferred_by BEFORE INSERT ON customer_owner_history
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('transferred_by');

-- The name index follows the customer whoever writes it.
ALTER FUNCTION customer_name_char_after_insert() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION customer_name_char_after_update() SECURITY DEFINER SET search_path = public, pg_temp;

CREATE TRIGGER guard_insert_delete BEFORE INSERT OR DELETE ON meter
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('meter.maintain', 'meter.import');
-- Opening an account installs its meter and closing one removes it: those change the status
-- alone; any other change of a meter is its maintenance.
CREATE FUNCTION meter_update_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        IF (to_jsonb(NEW) - 'status') IS DISTINCT FROM (to_jsonb(OLD) - 'status') THEN
            PERFORM md_require('meter.maintain', 'meter.import');
        ELSIF OLD.status = 'uninstalled' AND NEW.status = 'installed' THEN
            PERFORM md_require('customer.open');
        ELSIF OLD.status = 'installed' AND NEW.status = 'removed' THEN
            PERFORM md_require('customer.close');
        ELSE
            PERFORM md_require('meter.maintain');
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER guard_update BEFORE UPDATE ON meter
    FOR EACH ROW EXECUTE FUNCTION meter_update_guard();
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON meter_type
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('meter.maintain');

CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON customer_type
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer_type.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON customer_type_meter_type
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer_type.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON customer_type_payment_method
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('customer_type.maintain');

CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON price_scheme
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('price.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON price_version
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('price.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON price_tier
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('price.maintain');
CREATE TRIGGER stamp_created_by BEFORE INSERT ON price_version
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('created_by');

CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON payment_method
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('settings.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON department
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('department.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON role_permission
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('role.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON role
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('role.maintain');
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON operator
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON operator_role
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON permission
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON installation
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();

-- Cards: issuing one is opening or replacing; every card operation touches the card's row (its
-- state, the meter's write-back read from it).
CREATE TRIGGER guard_insert BEFORE INSERT ON card
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('card.open', 'card.replace');
CREATE TRIGGER guard_update BEFORE UPDATE ON card
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('card.read', 'card.open', 'card.recharge', 'card.refund',
                                           'card.replace', 'card.recycle', 'card.resolve', 'customer.close');
CREATE TRIGGER stamp_issued_by BEFORE INSERT ON card
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('issued_by');

-- A card operation of kind K needs card.K. Finishing one is whichever desk next reads its card
-- (the card is the evidence: card.read) or a supervisor settling it without (card.resolve); what
-- finishing may post to the ledger is bounded by ledger_post.
CREATE FUNCTION card_operation_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, md_role_name('owner'), 'MEMBER') THEN
        IF TG_OP = 'INSERT' THEN
            PERFORM md_require('card.' || NEW.kind);
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM md_require('card.read', 'card.resolve');
        ELSE
            RAISE EXCEPTION 'permission denied: a card operation is never deleted'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER guard_write BEFORE INSERT OR UPDATE OR DELETE ON card_operation
    FOR EACH ROW EXECUTE FUNCTION card_operation_guard();
CREATE TRIGGER stamp_operator BEFORE INSERT ON card_operation
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('operator_id');

CREATE TRIGGER guard_insert BEFORE INSERT ON receipt
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('card.open', 'card.recharge', 'card.refund', 'card.replace',
                                           'card.resolve', 'account.deposit', 'account.pay_bills',
                                           'account.refund');
CREATE TRIGGER guard_update BEFORE UPDATE OR DELETE ON receipt
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard('receipt.reprint');
CREATE TRIGGER stamp_operator BEFORE INSERT ON receipt
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('operator_id');

CREATE TRIGGER stamp_operator BEFORE INSERT ON applied_write
    FOR EACH ROW EXECUTE FUNCTION md_stamp_operator('operator_id');
CREATE TRIGGER guard_change BEFORE UPDATE OR DELETE ON applied_write
    FOR EACH STATEMENT EXECUTE FUNCTION md_guard();

-- ───────────────────────────── Money moves only through ledger_post ─────────────────────────────

-- The one way into the ledger for a session that is not the owner: the kind decides the
-- permission. Settling a pending card operation (by whoever's desk sees its card) posts what
-- that operation, checked when it began, implies and nothing else: the reversal of its money
-- when the card never took the write, the cash payout of a refund the card took. The operator
-- is the session's.
CREATE FUNCTION ledger_post(
    p_account_id bigint, p_kind text, p_amount numeric, p_volume numeric, p_unit_price numeric,
    p_payment_method_code text, p_receipt_no bigint, p_idempotency_key text,
    p_reverses_id bigint DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    posted bigint;
BEGIN
    CASE p_kind
        WHEN 'card_purchase' THEN PERFORM md_require('card.recharge');
        WHEN 'card_refund' THEN PERFORM md_require('card.refund');
        WHEN 'deposit' THEN PERFORM md_require('account.deposit');
        WHEN 'refund' THEN
            IF NOT EXISTS (SELECT FROM card_operation o JOIN ledger_transaction t ON t.id = o.transaction_id
                           WHERE o.kind = 'refund' AND o.state = 'pending'
                             AND p_idempotency_key = 'card-op:' || o.idempotency_key || ':payout'
                             AND t.account_id = p_account_id AND p_amount = -t.amount) THEN
                PERFORM md_require('account.refund');
            END IF;
        WHEN 'bill_payment' THEN PERFORM md_require('account.pay_bills');
        WHEN 'reversal' THEN
            IF NOT EXISTS (SELECT FROM card_operation
                           WHERE transaction_id = p_reverses_id AND state = 'pending') THEN
                PERFORM md_require('account.reverse');
            END IF;
        ELSE
            RAISE EXCEPTION 'permission denied: no operator posts % to the ledger', p_kind
                USING ERRCODE = 'insufficient_privilege';
    END CASE;
    INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price,
                                    payment_method_code, receipt_no, operator_id,
                                    idempotency_key, reverses_id)
    VALUES (p_account_id, p_kind, p_amount, p_volume, p_unit_price, p_payment_method_code,
            p_receipt_no, current_operator_id(), p_idempotency_key, p_reverses_id)
    RETURNING id INTO posted;
    RETURN posted;
END $$;

-- ───────────────────────────── Operators, by the administrator ─────────────────────────────

-- The role of the operator signing in as `login` to this database (the client makes the same
-- name from the login typed and the database it connects to: db::session::role_name).
CREATE FUNCTION operator_role_name(login text) RETURNS name LANGUAGE sql STABLE AS $$
    SELECT (lower(login) || '@' || current_database())::name
$$;

-- Makes the group role of each meterdesk role that has none yet.
CREATE FUNCTION md_ensure_groups() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    code text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = md_role_name('operator')) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', md_role_name('operator'));
    END IF;
    FOR code IN SELECT r.code FROM role r LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = md_role_name(code)) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', md_role_name(code));
        END IF;
    END LOOP;
END $$;
SELECT md_ensure_groups();
CREATE FUNCTION role_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM md_ensure_groups();
    RETURN NULL;
END $$;
CREATE TRIGGER role_added AFTER INSERT ON role
    FOR EACH STATEMENT EXECUTE FUNCTION role_added();

-- Sets `role_name`'s meterdesk groups to exactly `role_codes`.
CREATE FUNCTION md_set_groups(role_name name, role_codes text[]) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    code text;
BEGIN
    FOR code IN SELECT r.code FROM role r LOOP
        IF code = ANY (role_codes) THEN
            EXECUTE format('GRANT %I TO %I', md_role_name(code), role_name);
        ELSIF pg_has_role(role_name, md_role_name(code), 'MEMBER') THEN
            EXECUTE format('REVOKE %I FROM %I', md_role_name(code), role_name);
        END IF;
    END LOOP;
END $$;

-- Creates an operator: its LOGIN role with the password verifier (`SCRAM-SHA-256$…`, made by
-- the client, so no password crosses the wire or reaches a log in clear), its groups and its
-- row. The password is temporary: it must be changed at the first sign-in.
CREATE FUNCTION operator_create(
    p_login text, p_full_name text, p_department_id bigint, p_role_codes text[], p_verifier text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    created bigint;
    role_name name := operator_role_name(p_login);
BEGIN
    PERFORM md_require('operator.maintain');
    IF p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
        RAISE EXCEPTION 'a password is set as a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO operator (login, full_name, department_id, db_role)
    VALUES (p_login, p_full_name, p_department_id, role_name)
    RETURNING id INTO created;
    INSERT INTO operator_role (operator_id, role_code) SELECT created, unnest(p_role_codes);
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', role_name, p_verifier,
                   md_role_name('operator'));
    PERFORM md_set_groups(role_name, p_role_codes);
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'operator.create', 'operator', created,
            jsonb_build_object('after', jsonb_build_object('login', p_login, 'full_name', p_full_name,
                                                           'department_id', p_department_id,
                                                           'roles', p_role_codes)));
    RETURN created;
END $$;

-- Enables or disables an operator. A disabled operator can no longer sign in, and their open
-- sessions are ended, so their next request fails.
CREATE FUNCTION operator_set_enabled(p_operator_id bigint, p_enabled boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
BEGIN
    PERFORM md_require('operator.maintain');
    -- Disabling oneself would end one's own session at once.
    IF NOT p_enabled AND p_operator_id = current_operator_id() THEN
        RAISE EXCEPTION 'an administrator cannot disable themselves' USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    UPDATE operator SET enabled = p_enabled WHERE id = p_operator_id;
    EXECUTE format('ALTER ROLE %I %s', target.db_role, CASE WHEN p_enabled THEN 'LOGIN' ELSE 'NOLOGIN' END);
    IF NOT p_enabled THEN
        PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = target.db_role;
    END IF;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), CASE WHEN p_enabled THEN 'operator.enable' ELSE 'operator.disable' END,
            'operator', p_operator_id,
            jsonb_build_object('before', jsonb_build_object('enabled', target.enabled),
                               'after', jsonb_build_object('enabled', p_enabled)));
END $$;

-- Sets a temporary password (made again if the role was lost), to be changed at next sign-in.
CREATE FUNCTION operator_reset_password(p_operator_id bigint, p_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
BEGIN
    PERFORM md_require('operator.maintain');
    IF p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
        RAISE EXCEPTION 'a password is set as a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = target.db_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN IN ROLE %I', target.db_role, md_role_name('operator'));
        PERFORM md_set_groups(target.db_role,
                              ARRAY(SELECT role_code FROM operator_role WHERE operator_id = target.id));
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', target.db_role, p_verifier);
    UPDATE operator SET must_change_password = true WHERE id = p_operator_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id)
    VALUES (current_operator_id(), 'operator.reset_password', 'operator', p_operator_id);
END $$;

-- Gives an operator exactly these roles.
CREATE FUNCTION operator_set_roles(p_operator_id bigint, p_role_codes text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target operator;
    before text[];
BEGIN
    PERFORM md_require('operator.maintain');
    -- Without operator.maintain nobody would be left at this desk to undo it.
    IF p_operator_id = current_operator_id() AND NOT EXISTS (
        SELECT FROM role_permission
        WHERE role_code = ANY (p_role_codes) AND permission_code = 'operator.maintain') THEN
        RAISE EXCEPTION 'an administrator cannot take away their own operator.maintain'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO STRICT target FROM operator WHERE id = p_operator_id FOR UPDATE;
    before := ARRAY(SELECT role_code FROM operator_role WHERE operator_id = p_operator_id ORDER BY 1);
    DELETE FROM operator_role WHERE operator_id = p_operator_id;
    INSERT INTO operator_role (operator_id, role_code) SELECT p_operator_id, unnest(p_role_codes);
    PERFORM md_set_groups(target.db_role, p_role_codes);
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'operator.set_roles', 'operator', p_operator_id,
            jsonb_build_object('before', jsonb_build_object('roles', before),
                               'after', jsonb_build_object('roles', p_role_codes)));
END $$;

-- Any operator's own password (and the end of a temporary one).
CREATE FUNCTION operator_change_own_password(p_verifier text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := current_operator_id();
BEGIN
    IF me IS NULL THEN
        RAISE EXCEPTION 'only an operator changes their own password here' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
        RAISE EXCEPTION 'a password is set as a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', session_user, p_verifier);
    UPDATE operator SET must_change_password = false WHERE id = me;
    INSERT INTO audit_log (operator_id, action, entity, entity_id)
    VALUES (me, 'operator.change_password', 'operator', me);
END $$;

-- ───────────────────────────── Privileges ─────────────────────────────

REVOKE ALL ON SCHEMA public FROM PUBLIC;
DO $$
DECLARE
    operator_group name := md_role_name('operator');
    owned regprocedure;
BEGIN
    -- Our functions are the operators', not everyone's; pg_trgm's (not ours) stay as they are.
    FOR owned IN SELECT p.oid::regprocedure FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'public' AND p.proowner = current_user::regrole LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', owned);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', owned, operator_group);
    END LOOP;
    EXECUTE format('ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC');
    EXECUTE format('ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO %I', operator_group);
    EXECUTE format('ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO %I', operator_group);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', operator_group);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', operator_group);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', operator_group);
    -- Guarded writes: the triggers above decide, row by row. Row locks (FOR UPDATE, FOR
    -- SHARE) need an UPDATE privilege on the table, which its guard refuses to use.
    -- What nobody may delete is not granted at all (card_operation's guard is a row trigger,
    -- which does not fire when no row matches): `DELETE FROM card_operation` is refused by the
    -- privilege even on an empty table.
    EXECUTE format('GRANT INSERT, UPDATE ON customer, account, customer_owner_history, card,
                        card_operation, receipt TO %I', operator_group);
    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON meter, meter_type, customer_type,
                        customer_type_meter_type, customer_type_payment_method, price_scheme,
                        price_version, price_tier, payment_method, department, role,
                        role_permission TO %I', operator_group);
    EXECUTE format('GRANT INSERT ON audit_log, applied_write TO %I', operator_group);
    -- Ledger rows only through ledger_post; the ledger's row lock is the account's.
    EXECUTE format('REVOKE ALL ON ledger_transaction, bill FROM %I', operator_group);
    EXECUTE format('GRANT SELECT ON ledger_transaction, bill TO %I', operator_group);
END $$;
