-- The water each card purchase counts toward its cycle's tiers, kept by the database as the
-- books change, so that a recharge's quote and its price check read it in one index range
-- (issue 14, s44-f; docs/decisions.md, "The cycle's water kept a purchase a row").
--
-- md_card_water (V145's) found the cycle's water from the books at every call: for each card
-- purchase of the account in the cycle its ledger row, its clear-card credit lines (a probe),
-- whether a reversal undid it (a probe) and whether a done refund gave it back (a hashed
-- subplan of the customer's refunds) — a recharge asked it twice (the quote before F2, the
-- price check of card_operation's rules under the lock), its cost growing with the cycle's
-- purchases. `card_water` holds one row a purchase that counts, with what it counts: its
-- volume less the litres clear cards credited from it, in litres; a purchase reversed or given
-- back by a done refund has no row. A row a purchase and not a sum a cycle or a day: the cycle's bounds
-- are dates in the session's time zone (a desk's, sql `current_date`; desks may sit in other
-- zones than the server), and the scheme's first day and cycle length, the customer's type, may
-- change; the purchase's own time answers every zone and every cycle exactly as the books did.
--
-- Kept by the writes that change what counts, whoever makes them (the desk, psql, the owner):
--  * a `card_purchase` ledger row adds its row, a reversal of one takes it away — in
--    ledger_apply_to_balance (V18's, the ledger's one AFTER INSERT row trigger, which every
--    ledger row already fires: no trigger more a purchase);
--  * a refund done (inserted or settled so) takes away the purchases of the recharges it gave
--    back (`refund_takes_back_its_water` on card_operation);
--  * a clear card's credit line takes its litres from its purchase
--    (`credit_takes_its_litres_from_the_water` on system_card_credit_line).
-- The ledger is append-only and a credit line never changes (V1, V28); a card operation is
-- settled once. Only the owner could make it drift (a trigger turned off, a row deleted):
-- `meterdesk check` compares it with the books (`card_water_in_the_books`, the same rows
-- md_card_water found), and the demo loader, which turns the ledger's row triggers off,
-- fills it from that function in its last transaction.
--
-- Re-runnable on its own result (tests/two_desks.rs runs V109 and what follows it again).

-- One index, the table's key: an account's purchases in time order with what they count (an
-- index-only range for the cycle's sum), the transaction last to keep two purchases of one
-- instant apart. The water in whole litres (a ledger row's volume has three decimals, V70; a
-- credit line is litres): an integer, exact, and no `numeric` column for a NaN check to read
-- at every insert (V148). No foreign key to the ledger (its check would be a statement a
-- purchase; the ledger row is never deleted). Operators read it (the default privileges:
-- SELECT), and write it only through the triggers' functions, which are the owner's.
CREATE TABLE IF NOT EXISTS card_water (
    account_id     bigint NOT NULL,
    bought_at      timestamptz NOT NULL,
    transaction_id bigint NOT NULL,
    litres         bigint NOT NULL,
    PRIMARY KEY (account_id, bought_at, transaction_id) INCLUDE (litres)
);

-- Every card purchase that counts, with what it counts, as md_card_water (V145) found them from
-- the books for one account and cycle: the purchase's volume less its credit lines' litres, the
-- ones a reversal undid or a done refund of the account's customer gave back left out. What
-- `card_water` must hold: the migration fills it from here, `meterdesk check` compares it, the
-- demo loader fills it.
CREATE OR REPLACE FUNCTION card_water_in_the_books()
RETURNS TABLE (account_id bigint, bought_at timestamptz, transaction_id bigint, litres bigint)
LANGUAGE sql STABLE AS $$
    SELECT t.account_id, t.created_at, t.id,
           (t.volume * 1000)::bigint - coalesce(credited.litres, 0)
    FROM public.ledger_transaction t
    LEFT JOIN (SELECT l.purchase_transaction_id, sum(l.litres) AS litres
               FROM public.system_card_credit_line l GROUP BY l.purchase_transaction_id) credited
           ON credited.purchase_transaction_id = t.id
    WHERE t.kind = 'card_purchase'
      AND NOT EXISTS (SELECT FROM public.ledger_transaction r WHERE r.reverses_id = t.id)
      AND NOT EXISTS (SELECT FROM public.account a
                      JOIN public.card_operation refund
                        ON refund.customer_id = a.customer_id
                       AND refund.kind = 'refund' AND refund.state = 'done'
                      JOIN public.card_operation bought
                        ON bought.customer_id = refund.customer_id
                       AND bought.purchase_seq = refund.purchase_seq
                       AND bought.kind = 'recharge'
                      WHERE a.id = t.account_id AND bought.transaction_id = t.id)
$$;

-- `card_water` made again from the books: here, and by the demo loader after its rows are in.
-- With the caller's rights: only the owner writes the table.
CREATE OR REPLACE FUNCTION card_water_from_the_books() RETURNS void
LANGUAGE sql VOLATILE AS $$
    DELETE FROM public.card_water;
    INSERT INTO public.card_water (account_id, bought_at, transaction_id, litres)
    SELECT w.account_id, w.bought_at, w.transaction_id, w.litres
    FROM public.card_water_in_the_books() w;
$$;
SELECT card_water_from_the_books();

-- V18's, the purchase's water kept too. Every ledger row already fires it; the kinds that
-- change the water are asked after the balance, in one IF.
CREATE OR REPLACE FUNCTION ledger_apply_to_balance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    after numeric(14,2);
BEGIN
    UPDATE account
    SET balance = balance + NEW.amount,
        overdrawn_by_consumption = balance + NEW.amount < 0
                                   AND (NEW.kind = 'consumption' OR overdrawn_by_consumption)
    WHERE id = NEW.account_id
    RETURNING balance INTO after;
    IF NEW.amount < 0 AND after < 0 AND NEW.kind <> 'consumption' THEN
        RAISE EXCEPTION 'the balance of account % does not cover %', NEW.account_id, -NEW.amount
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.kind = 'card_purchase' THEN
        INSERT INTO card_water (account_id, bought_at, transaction_id, litres)
        VALUES (NEW.account_id, NEW.created_at, NEW.id, (NEW.volume * 1000)::bigint);
    ELSIF NEW.kind = 'reversal' THEN
        -- A reversal is on the account of what it reverses (ledger_check_reversal); anything
        -- but a purchase has no row.
        DELETE FROM card_water w USING ledger_transaction t
        WHERE t.id = NEW.reverses_id AND w.account_id = t.account_id
          AND w.bought_at = t.created_at AND w.transaction_id = t.id;
    END IF;
    RETURN NULL;
END $$;

-- A refund done gives back the purchase of the recharge of its sequence (md_card_water's
-- refunds: every recharge of the customer with that sequence). The trigger's WHEN asks the kind
-- alone, the function the state: every statement writing a card operation reads the WHEN (a
-- settle's, a begin's), a refund's rows are few.
CREATE OR REPLACE FUNCTION card_water_refunded() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.state <> 'done' THEN
        RETURN NULL;
    END IF;
    DELETE FROM card_water w
    USING card_operation bought JOIN ledger_transaction t ON t.id = bought.transaction_id
    WHERE bought.customer_id = NEW.customer_id AND bought.purchase_seq = NEW.purchase_seq
      AND bought.kind = 'recharge'
      AND w.account_id = t.account_id AND w.bought_at = t.created_at AND w.transaction_id = t.id;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS refund_takes_back_its_water ON card_operation;
CREATE TRIGGER refund_takes_back_its_water AFTER INSERT OR UPDATE OF state ON card_operation
    FOR EACH ROW WHEN (NEW.kind = 'refund')
    EXECUTE FUNCTION card_water_refunded();

-- A clear card's credit line takes its litres from the water of its purchase (none left when
-- the purchase no longer counts).
CREATE OR REPLACE FUNCTION card_water_credited() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE card_water w SET litres = w.litres - NEW.litres
    FROM ledger_transaction t
    WHERE t.id = NEW.purchase_transaction_id AND w.account_id = t.account_id
      AND w.bought_at = t.created_at AND w.transaction_id = t.id;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS credit_takes_its_litres_from_the_water ON system_card_credit_line;
CREATE TRIGGER credit_takes_its_litres_from_the_water AFTER INSERT ON system_card_credit_line
    FOR EACH ROW EXECUTE FUNCTION card_water_credited();

-- V145's arguments and answer, read from the purchases' rows: the same purchases, the same m³,
-- for any bounds (dates in the session's zone, as before). Still SQL without SET, inlined where
-- it is called (the quote's card_sale_facts, the price check of card_operation_rules).
CREATE OR REPLACE FUNCTION md_card_water(p_account_id bigint, p_from date, p_to date)
RETURNS TABLE (transaction_id bigint, read_on date, volume numeric)
LANGUAGE sql STABLE AS $$
    SELECT w.transaction_id, w.bought_at::date, w.litres * 0.001
    FROM public.card_water w
    WHERE w.account_id = p_account_id AND w.bought_at >= p_from AND w.bought_at < p_to
$$;
