-- The ledger's two longest WHEN clauses left after V201, shorter (issue 14, s43-a;
-- docs/decisions.md, "A ledger row's checks at commit one trigger…").
--
-- Every ledger INSERT statement reads each row trigger's WHEN from its node text:
-- `within_the_counters_limits` 1 167 bytes and `a_method_the_type_takes` 690, of 2 597 after
-- V201. Each WHEN keeps the test that decides nearly every row and hands the rest to its
-- function, which asked it already or asks it now; the same rows are refused, with the same
-- words:
--
-- 1. `within_the_counters_limits` (V179's form of V118): `abs(NEW.amount) > <limit>` alone.
--    Its kinds (`deposit`, `refund`, `card_purchase`) are each asked again in its function's
--    condition (V179's body, unchanged), so a consumption, bill payment, card refund or
--    reversal beyond the counter's limit now queues a check that finds nothing to refuse; a
--    row within the limit still queues none (V118). The limit is written as V179 wrote it
--    (`schema::a_ledger_rows_rules_are_one_short_check…` compares it with
--    `md_counter_most_amount()`).
-- 2. `a_method_the_type_takes` on the ledger: `NEW.payment_method_code IS NOT NULL`, as on
--    `card_operation`; a card refund's pay-out (`card-op:%:payout`, paid the way its refund
--    was journaled) returns in the function before its question, after the owner's test.
--    The function is V179's with that one test, asked of the ledger's rows only.

DO $do$
DECLARE
    owner_role text := quote_literal(md_role_name('owner'));
BEGIN
EXECUTE replace($f$CREATE OR REPLACE FUNCTION md_a_method_the_type_takes()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $$
DECLARE
    owner_id bigint;
BEGIN
    -- The owner's rows (the loader's, a migration's) are not an operator's: not asked (V179).
    IF pg_has_role(session_user, @owner@, 'MEMBER') THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'ledger_transaction' THEN
        -- A card refund's pay-out is paid as its refund was journaled: not asked (V203; the
        -- ledger trigger's WHEN said so before).
        IF NEW.idempotency_key LIKE 'card-op:%:payout' THEN
            RETURN NEW;
        END IF;
        SELECT a.customer_id INTO owner_id FROM account a WHERE a.id = NEW.account_id;
    ELSE
        owner_id := NEW.customer_id;
    END IF;
    IF NOT EXISTS (SELECT FROM customer c
                   JOIN customer_type_payment_method m ON m.customer_type_id = c.customer_type_id
                   JOIN payment_method p ON p.code = m.payment_method_code
                   WHERE c.id = owner_id AND p.code = NEW.payment_method_code
                     AND p.enabled) THEN
        RAISE EXCEPTION 'payment method % is not one the customer''s type takes (or it is disabled)',
            NEW.payment_method_code USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$$f$, '@owner@', owner_role);
END $do$;

DROP TRIGGER IF EXISTS a_method_the_type_takes ON ledger_transaction;
CREATE TRIGGER a_method_the_type_takes BEFORE INSERT ON ledger_transaction FOR EACH ROW
    WHEN (NEW.payment_method_code IS NOT NULL)
    EXECUTE FUNCTION md_a_method_the_type_takes();

DROP TRIGGER IF EXISTS within_the_counters_limits ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER within_the_counters_limits
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (abs(NEW.amount) > %s)
        EXECUTE FUNCTION ledger_within_the_counters_limits()$t$, md_counter_most_amount());
END $$;
