-- V163's `card_recharge_owed` came without its table's numbers check (sql/V148's rule: one
-- constraint a table over all its `numeric` columns, `<table>_numbers_a_number`). Its `amount >
-- 0` lets NaN through (in `numeric` NaN sorts above every number). Written only by SECURITY
-- DEFINER functions from a card operation's sum, so no row holds one; the check says so for
-- every later writer. tests/schema.rs's nan_and_infinity test finds a table without it.
ALTER TABLE card_recharge_owed
    DROP CONSTRAINT IF EXISTS card_recharge_owed_numbers_a_number,
    ADD CONSTRAINT card_recharge_owed_numbers_a_number
        CHECK ('(-Infinity,Infinity)'::numrange @> ALL (ARRAY[amount])) NOT VALID;
