-- A card operation's two owner-skipping WHEN clauses read once a statement (issue 14, s43-a;
-- docs/decisions.md, "A ledger row's checks at commit one trigger…").
--
-- `sequence_follows` (V173, 1.2 kB of node text, read at every journal INSERT) and
-- `settles_with_its_money` (V73, 2.9 kB, read at every settle's UPDATE) end their WHEN clauses
-- with `NOT pg_has_role(current_user, <owner>, 'MEMBER')`, some 700 bytes each (the role's name
-- a 64-byte `name` constant). The term moves into their functions, as V179 moved the ledger's,
-- and each still asks it of the user the WHEN asked it of:
--
-- * `card_operation_purchase_follows` was SECURITY DEFINER, where `current_user` is the owner;
--   it now runs with the rights of the statement that inserts (a BEFORE trigger's function runs
--   as that statement's user), so its `current_user` is the WHEN's. What it reads, the
--   customer's recharges in `card_operation`, every operator reads whole (V13: SELECT on every
--   table; no row security there): the same number is found. Its refusal is the same.
-- * `card_settlement_moves_its_money` runs at commit (deferred), where `current_user` is the
--   session's, not the settling statement's. The two writers that settle an operation
--   (grep of sql/ for `UPDATE card_operation`): `card_operation_settle`, SECURITY INVOKER, whose
--   UPDATE runs as the session's user (the same user at commit); `card_recharge_found_on_card`,
--   SECURITY DEFINER (the owner), which settles a recharge done, a row the WHEN's other terms
--   never take. A clerk's own UPDATE by psql runs as the clerk, who is no member of the owner;
--   the owner's and a superuser's rows return at once. Only a session that updates under
--   another role (SET ROLE) and changes role again before its commit is asked as the role it
--   commits as.

DO $do$
DECLARE
    -- The owner's role name written into the functions, as V73 and V173 wrote it into the WHEN
    -- clauses (V179's way).
    owner_role text := quote_literal(md_role_name('owner'));
BEGIN
EXECUTE replace($f$CREATE OR REPLACE FUNCTION card_operation_purchase_follows() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
    last bigint;
BEGIN
    -- The owner's rows (a migration's, a test's) are not an operator's: not asked (V202).
    IF pg_has_role(current_user, @owner@, 'MEMBER') THEN
        RETURN NEW;
    END IF;
    SELECT max(o.purchase_seq) INTO last FROM card_operation o
    WHERE o.customer_id = NEW.customer_id AND o.kind = 'recharge';
    IF NEW.purchase_seq IS DISTINCT FROM coalesce(last, 0) + 1 THEN
        RAISE EXCEPTION 'permission denied: customer %''s next purchase is %, not %',
            NEW.customer_id, coalesce(last, 0) + 1, NEW.purchase_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$$f$, '@owner@', owner_role);
EXECUTE replace($f$CREATE OR REPLACE FUNCTION card_settlement_moves_its_money() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    -- The owner's settlements are not an operator's: not asked (V202; V73 asked it in the WHEN).
    IF pg_has_role(current_user, @owner@, 'MEMBER') THEN
        RETURN NULL;
    END IF;
    IF (NEW.state = 'failed' AND NEW.transaction_id IS NOT NULL
        AND NOT EXISTS (SELECT FROM ledger_transaction WHERE reverses_id = NEW.transaction_id))
       OR (NEW.state = 'done' AND NEW.kind = 'refund' AND NEW.payment_method_code IS NOT NULL
           AND NOT EXISTS (SELECT FROM ledger_transaction
                           WHERE idempotency_key = 'card-op:' || NEW.idempotency_key || ':payout')) THEN
        RAISE EXCEPTION 'permission denied: card operation % is settled % with its money (a failed one reversed, a refund paid out)',
            NEW.id, NEW.state USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$$f$, '@owner@', owner_role);
END $do$;

DROP TRIGGER IF EXISTS sequence_follows ON card_operation;
CREATE TRIGGER sequence_follows BEFORE INSERT ON card_operation FOR EACH ROW
    WHEN (NEW.kind = 'recharge')
    EXECUTE FUNCTION card_operation_purchase_follows();
DROP TRIGGER IF EXISTS settles_with_its_money ON card_operation;
CREATE CONSTRAINT TRIGGER settles_with_its_money AFTER UPDATE ON card_operation
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state = 'pending'
          AND ((NEW.state = 'failed' AND NEW.transaction_id IS NOT NULL)
               OR (NEW.state = 'done' AND NEW.kind = 'refund'
                   AND NEW.payment_method_code IS NOT NULL)))
    EXECUTE FUNCTION card_settlement_moves_its_money();
