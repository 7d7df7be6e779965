-- What the desk's form refuses, the database refuses too (docs/decisions.md, "The counter's
-- limits on money and water, in the database (s35-i)"). From psql with a clerk's own role:
-- `ledger_post(…, 'deposit', 99999999999.99, …)` was posted (the desk's form stops at
-- 100 000.00), and `ledger_post(…, 'deposit', 'NaN', …)` too: NaN is a value of `numeric` and
-- of every `numeric(p,s)` column, it equals itself (so V70's `<> round(…)` let it by) and sorts
-- above every number (so `amount > 0` held), and the balance it is added to becomes NaN.

-- The most one movement at the counter takes: a deposit, a refund, a card recharge by amount
-- (100 000.00), a card recharge by volume (100 000.000 m³). One place: the desk's
-- domain::money::COUNTER_MAX_AMOUNT / COUNTER_MAX_VOLUME are these figures, and
-- tests/boundary.rs asks these functions that they are.
CREATE FUNCTION md_counter_most_amount() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 100000.00::numeric $$;
CREATE FUNCTION md_counter_most_volume() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 100000.000::numeric $$;

-- A ledger row an operator's session posts is, by the end of its transaction, within what one
-- movement at the counter takes:
-- * a deposit at most md_counter_most_amount(), or the payment of a card recharge on its
--   receipt (`card-op:…:deposit`, the purchase of the same amount on the same receipt, which is
--   held to its own limit: a recharge by volume costs what its water costs);
-- * a refund at most md_counter_most_amount(), or a card refund's pay-out (`card-op:…:payout`,
--   which ledger_post already ties to the pending refund of the same amount: the card's credit);
-- * a card purchase at most md_counter_most_amount() or at most md_counter_most_volume() (as
--   the recharge form takes one or the other).
-- Bill payments, card refunds, reversals and consumption are figures the database computes from
-- other rows, not typed; the owner (the desk's tools, demo data) is not held to the counter.
CREATE FUNCTION ledger_within_the_counters_limits() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF (NEW.kind = 'deposit' AND NEW.amount > md_counter_most_amount()
        AND NOT (NEW.idempotency_key LIKE 'card-op:%:deposit'
                 AND EXISTS (SELECT FROM ledger_transaction p
                             WHERE p.receipt_no = NEW.receipt_no AND p.kind = 'card_purchase'
                               AND p.amount = -NEW.amount)))
       OR (NEW.kind = 'refund' AND -NEW.amount > md_counter_most_amount()
           AND NEW.idempotency_key NOT LIKE 'card-op:%:payout')
       OR (NEW.kind = 'card_purchase' AND -NEW.amount > md_counter_most_amount()
           AND NEW.volume > md_counter_most_volume()) THEN
        RAISE EXCEPTION 'one % at the counter is at most % (or % m³ of water): % / % m³ is refused',
            NEW.kind, md_counter_most_amount(), md_counter_most_volume(), abs(NEW.amount),
            coalesce(NEW.volume::text, '-') USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
-- The owner's role name written into the WHEN, as V82 did for the ledger's other triggers (no
-- md_role_name call a row).
DO $$
BEGIN
    EXECUTE format($t$CREATE CONSTRAINT TRIGGER within_the_counters_limits
        AFTER INSERT ON ledger_transaction DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.kind IN ('deposit', 'refund', 'card_purchase')
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION ledger_within_the_counters_limits()$t$, md_role_name('owner'));
END $$;

-- No NaN and no infinity in any number of ours: every `numeric` column of a table of the schema
-- (money, water, prices, readings, tiers, percentages) refuses them. NOT VALID: rows already
-- stored are not read again (there can be none the desk wrote); every new or changed row is
-- checked.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND c.data_type = 'numeric'
        ORDER BY c.table_name, c.column_name
    LOOP
        EXECUTE format(
            'ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%I <> ''NaN'' AND %I < ''Infinity'' AND %I > ''-Infinity'') NOT VALID',
            col.table_name, left(col.table_name || '_' || col.column_name, 50) || '_a_number',
            col.column_name, col.column_name, col.column_name);
    END LOOP;
END $$;
