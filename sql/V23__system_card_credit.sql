-- A clear card's wiped credit, recorded and credited (issue 11, item 4; docs/decisions.md,
-- "System cards: the screen and the wiped credit"). V20 recorded the litres a clear card's
-- meter wiped; nobody got them back. Now:
--  * a clear card names the customer its meter was installed for when it was issued
--    (`system_card.customer_id`), the one whose water it wipes;
--  * brought back to the counter, its credit is recorded once and its value goes onto that
--    customer's balance as a `card_refund` ledger row (the water the customer paid for and the
--    meter no longer holds, as for a purchase refunded from a card), exactly once: the row's
--    idempotency key is the card's, `system-card:<no>:cleared`;
--  * the value: the credit a meter holds is the water it loaded last, so the litres are valued
--    at the customer's newest loaded purchases (sequence at most the meter's last loaded one,
--    above any earlier clear card's), each at what it was paid; litres no purchase covers
--    (a check card's test water) are recorded but not credited;
--  * who: a supervisor (`card.system`), as for issuing: the figure comes from the card, which
--    only the desk's MAC key vouches for, and it moves money. A clerk's read shows the card and
--    says a supervisor must read it.

ALTER TABLE system_card
    ADD COLUMN customer_id bigint REFERENCES customer,
    -- The meter's last loaded purchase when it was wiped (the write-back on the clear card).
    ADD COLUMN cleared_loaded_seq bigint CHECK (cleared_loaded_seq BETWEEN 0 AND 4294967295),
    ADD COLUMN credited_litres bigint CHECK (credited_litres >= 0),
    ADD COLUMN credited_amount numeric(14,2) CHECK (credited_amount >= 0),
    ADD COLUMN credited_transaction_id bigint REFERENCES ledger_transaction,
    ADD CHECK ((cleared_credit_litres IS NULL) = (credited_amount IS NULL)),
    ADD CHECK ((cleared_credit_litres IS NULL) = (cleared_loaded_seq IS NULL)),
    ADD CHECK ((credited_amount > 0) = (credited_transaction_id IS NOT NULL));

-- The customer a meter is installed for is recorded on every system card (a clear card's
-- credit goes to them).
CREATE OR REPLACE FUNCTION system_card_begin(
    p_kind text, p_meter_no text, p_alarm_litres bigint, p_max_credit_litres bigint,
    p_test_litres bigint, p_written_at bigint
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    new_card_no bigint := nextval('card_no_seq');
    target_meter_id bigint;
    meter_customer_id bigint;
BEGIN
    PERFORM md_require('card.system');
    SELECT m.id, c.id INTO target_meter_id, meter_customer_id
    FROM meter m LEFT JOIN customer c ON c.meter_id = m.id AND c.status = 'active'
    WHERE m.meter_no = p_meter_no;
    IF target_meter_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO system_card (card_no, kind, meter_id, customer_id, alarm_litres,
                             max_credit_litres, test_litres, written_at, issued_by)
    VALUES (new_card_no, p_kind, target_meter_id, meter_customer_id, p_alarm_litres,
            p_max_credit_litres, p_test_litres, p_written_at, current_operator_id());
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_issue', 'system_card', new_card_no,
            jsonb_build_object('kind', p_kind, 'meter_no', p_meter_no,
                               'customer_id', meter_customer_id,
                               'alarm_litres', p_alarm_litres,
                               'max_credit_litres', p_max_credit_litres,
                               'test_litres', p_test_litres));
    RETURN new_card_no;
END $$;

DROP FUNCTION system_card_cleared(bigint, bigint);

-- A clear card read at the counter after its meter applied it: records the credit wiped and
-- credits its value to the meter's customer, once. Returns the amount credited now, or NULL
-- when nothing was done (recorded before, not a done clear card).
CREATE FUNCTION system_card_cleared(
    p_card_no bigint, p_credit_litres bigint, p_loaded_seq bigint
) RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    clear system_card;
    acct bigint;
    earlier_seq bigint;
    purchase record;
    left_litres bigint := p_credit_litres;
    taken bigint;
    covered bigint := 0;
    value numeric := 0;
    credited numeric(14,2);
    posted bigint;
BEGIN
    PERFORM md_require('card.system');
    SELECT * INTO clear FROM system_card
    WHERE card_no = p_card_no AND kind = 'clear' AND state = 'done'
      AND cleared_credit_litres IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF clear.customer_id IS NOT NULL THEN
        SELECT id INTO acct FROM account WHERE customer_id = clear.customer_id FOR UPDATE;
        -- Water an earlier clear card of this customer took back is not taken back again.
        SELECT max(cleared_loaded_seq) INTO earlier_seq FROM system_card
        WHERE customer_id = clear.customer_id AND cleared_loaded_seq IS NOT NULL;
        FOR purchase IN
            SELECT o.volume_litres, -t.amount AS paid
            FROM card_operation o JOIN ledger_transaction t ON t.id = o.transaction_id
            WHERE o.customer_id = clear.customer_id AND o.kind = 'recharge' AND o.state = 'done'
              AND o.volume_litres > 0
              AND o.purchase_seq <= p_loaded_seq
              AND o.purchase_seq > coalesce(earlier_seq, 0)
            ORDER BY o.purchase_seq DESC
        LOOP
            EXIT WHEN left_litres = 0;
            taken := least(left_litres, purchase.volume_litres);
            value := value + purchase.paid * taken / purchase.volume_litres;
            covered := covered + taken;
            left_litres := left_litres - taken;
        END LOOP;
    END IF;
    credited := round(value, 2);
    IF credited > 0 THEN
        INSERT INTO ledger_transaction (account_id, kind, amount, volume, operator_id,
                                        idempotency_key)
        VALUES (acct, 'card_refund', credited, covered / 1000.0, current_operator_id(),
                'system-card:' || p_card_no || ':cleared')
        RETURNING id INTO posted;
    END IF;
    UPDATE system_card SET cleared_credit_litres = p_credit_litres, cleared_seen_at = now(),
                           cleared_loaded_seq = p_loaded_seq, credited_litres = covered,
                           credited_amount = credited, credited_transaction_id = posted
    WHERE card_no = p_card_no;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (current_operator_id(), 'card.system_cleared', 'system_card', p_card_no,
            jsonb_build_object('card_no', p_card_no, 'meter_id', clear.meter_id,
                               'customer_id', clear.customer_id,
                               'credit_litres', p_credit_litres, 'loaded_seq', p_loaded_seq,
                               'credited_litres', covered, 'credited_amount', credited));
    RETURN credited;
END $$;
