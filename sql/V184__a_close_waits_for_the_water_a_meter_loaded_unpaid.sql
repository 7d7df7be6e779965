-- An account is not closed while its customer owes water a meter loaded unpaid (s41-f;
-- docs/decisions.md, "The counter walked by hand after session 40").
--
-- A card customer's debt (V163: the water an old copy of the card let the meter load unpaid) is
-- paid only by `card_recharge_owed_pay`, which the next recharge's F2 calls. V24's close asked
-- for a final reading, the bills, the balance and the card, and nothing of the debt: a customer
-- who owed it, their card recycled and their balance at zero, was closed, read-only, the debt
-- left on a closed customer whom no recharge would ever reach — the water never paid. Now the
-- debt is a step of its own, after the bills and before the balance (`water_owed`; the desk's
-- close screen opens the card screen, whose recharge takes it first), in
-- `customer_close_blocker`, which `customer_close` asks again behind the account's lock. V24's
-- body otherwise unchanged. Re-runnable: CREATE OR REPLACE.
CREATE OR REPLACE FUNCTION customer_close_blocker(p_customer_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT CASE
        WHEN c.id IS NULL THEN 'not_found'
        WHEN c.status = 'closed' THEN 'already_closed'
        WHEN EXISTS (SELECT FROM card_operation o
                     WHERE o.customer_id = c.id AND o.state = 'pending') THEN 'card_pending'
        WHEN c.business_model <> 'meter_prepaid'
             AND (SELECT source FROM reading_latest(c.meter_id)) IS DISTINCT FROM 'final'
            THEN 'final_reading'
        WHEN EXISTS (SELECT FROM bill b
                     WHERE b.account_id = a.id AND b.status = 'unpaid') THEN 'unpaid_bills'
        -- A debt is outstanding while its recharge is still failed (paying it settles it done).
        WHEN EXISTS (SELECT FROM card_recharge_owed w
                     JOIN card_operation o ON o.id = w.operation_id AND o.state = 'failed'
                     WHERE w.customer_id = c.id) THEN 'water_owed'
        WHEN a.balance < 0 THEN 'balance_owed'
        WHEN a.balance > 0 THEN 'balance_left'
        WHEN EXISTS (SELECT FROM card k
                     WHERE k.customer_id = c.id AND k.state = 'active') THEN 'card_active'
    END
    FROM (SELECT p_customer_id AS id) AS asked
    LEFT JOIN customer c ON c.id = asked.id
    LEFT JOIN account a ON a.customer_id = c.id
$$;
