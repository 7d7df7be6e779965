-- A movement within the counter's limits queues no check for its commit (docs/decisions.md,
-- "A card visit in three round trips").
--
-- V104's `within_the_counters_limits` is a deferred constraint trigger: every deposit, refund
-- and card purchase an operator posted queued an event that called
-- `ledger_within_the_counters_limits` at commit (two a card recharge paid at the counter: its
-- deposit and its purchase; one a deposit, a refund, a system-prepaid recharge), ~0.03–0.05 ms
-- each, which in all but a typo's case found the amount far within the limit. Each of the
-- function's three refusals needs |amount| above md_counter_most_amount() (a deposit above it,
-- a refund or a card purchase below its negative), so the trigger's WHEN now asks that first:
-- a row within it is never queued, a row beyond it is checked at commit exactly as before by
-- the same function (unchanged), refused in the same words. NaN is above every number, so a
-- NaN amount is still queued (and refused before, by the column's own check). The owner's role
-- name written into the WHEN, as V104 wrote it.
DROP TRIGGER within_the_counters_limits ON ledger_transaction;
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER within_the_counters_limits
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind IN ('deposit', 'refund', 'card_purchase')
              AND abs(NEW.amount) > md_counter_most_amount()
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION ledger_within_the_counters_limits()$t$, md_role_name('owner'));
END $$;
