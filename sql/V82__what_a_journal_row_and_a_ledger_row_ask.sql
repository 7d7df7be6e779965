-- What a journal row and a ledger row ask of the server that answers nothing new (issue 14
-- item 1; decision: docs/decisions.md, "What a journal row and a ledger row ask"). Every check
-- is the one it was, asked of the same user, with the same refusal; what changes is how many
-- PL/pgSQL calls (each with its SET clause) and statements it takes to ask it.
--
--  * md_require asked md_permitted once per permission it names, in a loop: two calls with SET
--    clauses and a statement each time, and its callers PERFORM it (a statement of its own).
--    It now asks once, in one statement, whether any of them is the session user's, by the
--    same query md_permitted asks of one (md_permission_granted, a SQL function the planner
--    inlines into both: one definition of a permission). It runs as the owner, as
--    md_permitted does, to read the operator and the roles' permissions.
--  * The owner's role name was read from `installation` by md_role_name, a PL/pgSQL call with
--    a query, by the ledger's statement trigger for every posting, by the audit entry's stamp
--    and by its deferred check's WHEN for every entry, and by the refund check's WHEN for a
--    card_refund row. It is written into those triggers when they are made, as V63, V68 and
--    V73 did for the others (installation is written by the owner alone at set-up).
--  * A receipt called two row triggers for a clerk: `rules` (whose function asked again, with
--    md_role_name, what its WHEN had just answered) and `stamp_operator`. One trigger, `rules`,
--    now does both, in the order they fired: the clerk's rules, then the stamp for everyone.

CREATE FUNCTION md_permission_granted(permissions text[]) RETURNS TABLE (permitted boolean)
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN o.id IS NULL THEN pg_has_role(session_user, public.md_role_name('owner'), 'MEMBER')
        ELSE o.enabled AND NOT o.must_change_password AND EXISTS (
            SELECT FROM public.role_permission rp
            WHERE rp.permission_code = ANY (permissions)
              AND pg_has_role(session_user, (i.role_prefix || '_' || rp.role_code)::name,
                              'MEMBER'))
    END
    FROM (SELECT 1) AS always LEFT JOIN public.operator o ON o.db_role = session_user
    LEFT JOIN public.installation i ON o.id IS NOT NULL
$$;
-- Asked through md_permitted and md_require, which run as the owner; nobody else needs it.
REVOKE ALL ON FUNCTION md_permission_granted(text[]) FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON FUNCTION md_permission_granted(text[]) FROM %I',
                   md_role_name('operator'));
END $$;

CREATE OR REPLACE FUNCTION md_permitted(permission text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN (SELECT permitted FROM md_permission_granted(ARRAY[permission]));
END $$;

CREATE OR REPLACE FUNCTION md_require(VARIADIC permissions text[]) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- The loop this replaces refused a NULL list in PL/pgSQL's words, and an empty one in its own.
    IF permissions IS NULL THEN
        RAISE EXCEPTION 'FOREACH expression must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF cardinality(permissions) > 0
       AND (SELECT permitted FROM md_permission_granted(permissions)) THEN
        RETURN;
    END IF;
    RAISE EXCEPTION 'permission denied: % may not do this (needs %)',
        session_user, array_to_string(permissions, ' or ')
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- V63's function, the owner's role name its trigger's argument.
CREATE OR REPLACE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := (SELECT id FROM operator WHERE db_role = session_user);
BEGIN
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER')
       AND EXISTS (SELECT FROM posted p JOIN account a ON a.id = p.account_id
                   JOIN customer c ON c.id = a.customer_id WHERE c.status = 'closed') THEN
        RAISE EXCEPTION 'the customer is closed: its account moves no money'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF me IS NOT NULL AND NOT EXISTS (SELECT FROM shift WHERE operator_id = me
                                      AND closed_at IS NULL AND xmax = '0'::xid) THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

-- V13's stamp, the owner's role name its trigger's argument.
CREATE OR REPLACE FUNCTION audit_log_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    NEW.db_user := session_user;
    -- The owner (set-up, demo data, imports of history) writes what it writes; an operator's
    -- row is theirs and now.
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        NEW.operator_id := current_operator_id();
        NEW.at := now();
    END IF;
    RETURN NEW;
END $$;

-- V31's rules of a clerk's receipt and V63's stamp of everyone's, in the order they fired.
CREATE OR REPLACE FUNCTION receipt_rules() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    me bigint;
BEGIN
    IF NOT pg_has_role(current_user, TG_ARGV[0], 'MEMBER') THEN
        IF TG_OP = 'INSERT' THEN
            IF NEW.receipt_no IS DISTINCT FROM md_issued_to_session('receipt_no_seq') THEN
                RAISE EXCEPTION 'permission denied: receipt number % is not the one receipt_no_seq issued to this session',
                    NEW.receipt_no USING ERRCODE = 'insufficient_privilege';
            END IF;
        ELSIF NEW.reprints IS DISTINCT FROM OLD.reprints + 1 THEN
            RAISE EXCEPTION 'permission denied: a reprint of receipt % counts one (reprints = reprints + 1)',
                OLD.receipt_no USING ERRCODE = 'insufficient_privilege';
        ELSE
            NEW.last_reprinted_at := now();
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        me := current_operator_id();
        IF me IS NOT NULL THEN
            NEW.operator_id := me;
        END IF;
    END IF;
    RETURN NEW;
END $$;

DO $$
DECLARE
    owner_role name := md_role_name('owner');
BEGIN
    DROP TRIGGER refuses_closed_then_opens_the_shift ON ledger_transaction;
    EXECUTE format($t$CREATE TRIGGER refuses_closed_then_opens_the_shift AFTER INSERT
        ON ledger_transaction REFERENCING NEW TABLE AS posted
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_posted(%L)$t$, owner_role);

    DROP TRIGGER card_refund_is_journaled ON ledger_transaction;
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER card_refund_is_journaled AFTER INSERT
        ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind = 'card_refund' AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION card_refund_is_journaled()$t$, owner_role);

    DROP TRIGGER audit_log_stamp ON audit_log;
    EXECUTE format($t$CREATE TRIGGER audit_log_stamp BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_stamp(%L)$t$, owner_role);

    DROP TRIGGER tells_a_write ON audit_log;
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER tells_a_write AFTER INSERT ON audit_log
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NOT pg_has_role(current_user, %L, 'MEMBER'))
        EXECUTE FUNCTION audit_entry_is_true()$t$, owner_role);

    DROP TRIGGER rules ON receipt;
    DROP TRIGGER stamp_operator ON receipt;
    EXECUTE format($t$CREATE TRIGGER rules BEFORE INSERT OR UPDATE ON receipt
        FOR EACH ROW EXECUTE FUNCTION receipt_rules(%L)$t$, owner_role);
END $$;
DROP FUNCTION receipt_stamp_operator();
