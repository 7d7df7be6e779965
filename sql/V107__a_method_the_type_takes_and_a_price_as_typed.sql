-- What the desk's forms check, the database checks too (docs/decisions.md, s35-j).
--
-- 1. A payment method the customer's type takes. money_move (V79) and the card recharge's begin
--    (V77, V81) refuse a method the customer's type does not take, or one disabled; ledger_post
--    (V70), which every operator may call, did not ask: as the clerk,
--    `SELECT ledger_post(<account>, 'deposit', 10.00, NULL, NULL, 'wechat_pay', NULL, 'k')` was
--    posted for a type that takes cash only (and `bank_transfer`, disabled, the same). Now every
--    ledger row an operator posts with a payment method (a deposit, a refund) carries one the
--    customer's type takes and that is enabled, and so does every card operation an operator
--    begins with one (a recharge's payment, a refund's pay-out). A card refund's pay-out
--    (`card-op:…:payout`) is posted when the card shows the refund, perhaps later, with the
--    method its operation was begun with: that method was asked then, and the refund the card
--    already shows is not refused at its settlement because a method was disabled since.
--    The owner (set-up, demo data, imports of history) is not the counter, as in V82 and V104.
CREATE FUNCTION md_a_method_the_type_takes() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    owner_id bigint;
BEGIN
    IF TG_TABLE_NAME = 'ledger_transaction' THEN
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
END $$;

DO $$
DECLARE
    owner_role name := md_role_name('owner');
BEGIN
    EXECUTE format($t$CREATE TRIGGER a_method_the_type_takes BEFORE INSERT
        ON ledger_transaction FOR EACH ROW
        WHEN (NEW.payment_method_code IS NOT NULL
              AND NEW.idempotency_key NOT LIKE 'card-op:%%:payout'
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION md_a_method_the_type_takes()$t$, owner_role);
    EXECUTE format($t$CREATE TRIGGER a_method_the_type_takes BEFORE INSERT
        ON card_operation FOR EACH ROW
        WHEN (NEW.payment_method_code IS NOT NULL
              AND NOT pg_has_role(session_user, %L, 'MEMBER'))
        EXECUTE FUNCTION md_a_method_the_type_takes()$t$, owner_role);
END $$;

-- 2. A price tier as typed. `price_tier.unit_price numeric(10,4)` and `upper_bound_m3
--    numeric(12,3)` rounded a supervisor's `INSERT … unit_price 2.34567` to 2.3457 (and a bound
--    of 50.0005 to 50.001) before any CHECK or trigger saw it; the form refuses a fifth
--    decimal (UnitPrice) and a fourth (Volume). A CHECK on the typed column cannot see what was
--    typed, so the columns lose their typmod (a change of the type's modifier only: no table
--    rewrite, the values stay) and keep its bounds and scales as CHECKs: a figure finer than
--    the column is refused, and one as fine or coarser is stored at the column's scale as
--    before (a trigger pads 2.5 to 2.5000, so what is read back is unchanged).
ALTER TABLE price_tier
    ALTER COLUMN unit_price TYPE numeric,
    ALTER COLUMN upper_bound_m3 TYPE numeric;
ALTER TABLE price_tier
    ADD CONSTRAINT price_tier_unit_price_to_four_decimals
        CHECK (unit_price = round(unit_price, 4) AND unit_price < 1000000),
    ADD CONSTRAINT price_tier_upper_bound_m3_to_the_litre
        CHECK (upper_bound_m3 = round(upper_bound_m3, 3) AND upper_bound_m3 < 1000000000);

CREATE FUNCTION price_tier_at_its_scale() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    -- Only a figure the CHECKs take is padded; a finer one is left for them to refuse.
    IF NEW.unit_price = round(NEW.unit_price, 4) THEN
        NEW.unit_price := round(NEW.unit_price, 4);
    END IF;
    IF NEW.upper_bound_m3 = round(NEW.upper_bound_m3, 3) THEN
        NEW.upper_bound_m3 := round(NEW.upper_bound_m3, 3);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER at_its_scale BEFORE INSERT OR UPDATE ON price_tier
    FOR EACH ROW EXECUTE FUNCTION price_tier_at_its_scale();
