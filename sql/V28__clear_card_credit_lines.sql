-- A clear card's credit, purchase by purchase, and its receipt (docs/decisions.md, "A clear
-- card's credit, purchase by purchase" and "A receipt for a clear card's credit").
--  * V23 credited the value of the litres a clear card wiped, walking the customer's newest
--    loaded purchases, but kept only the sum: the water given back still counted in the tier
--    volume of the year it was bought in. Each purchase's share is now a credit line; the tier
--    volume of a cycle is its purchases' volumes less their credit lines (the purchase keeps
--    its date, so a credit spanning two cycles takes from each what it took there). The lines
--    of the cards credited before are written here by the same walk.
--  * The credit is money onto the balance: it gets a receipt, numbered from the one
--    `receipt_no_seq`, on its `card_refund` ledger row, like every other payment at the
--    counter (reprinted from the account's history).

CREATE TABLE system_card_credit_line (
    system_card_no          bigint NOT NULL REFERENCES system_card,
    card_operation_id       bigint NOT NULL REFERENCES card_operation,
    -- The purchase's `card_purchase` ledger row, which the tier volume sums.
    purchase_transaction_id bigint NOT NULL REFERENCES ledger_transaction,
    litres                  bigint NOT NULL CHECK (litres > 0),
    -- Exact (the share of what the purchase was paid); the card's credited_amount is the
    -- lines' sum rounded half-up to 0.01.
    value                   numeric NOT NULL CHECK (value >= 0),
    PRIMARY KEY (system_card_no, card_operation_id)
);
CREATE INDEX system_card_credit_line_purchase
    ON system_card_credit_line (purchase_transaction_id);
CREATE TRIGGER system_card_credit_line_is_never_changed
    BEFORE UPDATE OR DELETE ON system_card_credit_line
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- The purchases `p_credit_litres` wiped from customer `p_customer_id`'s meter come from, newest
-- first: done recharges with a sequence at most the meter's last loaded one and above an
-- earlier clear card's (that water was taken back then), each giving at most its volume, at
-- the share of what it was paid.
CREATE FUNCTION system_card_credit_walk(
    p_customer_id bigint, p_credit_litres bigint, p_loaded_seq bigint, p_earlier_seq bigint
) RETURNS TABLE (card_operation_id bigint, purchase_transaction_id bigint, litres bigint,
                 value numeric)
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    purchase record;
    left_litres bigint := p_credit_litres;
BEGIN
    FOR purchase IN
        SELECT o.id, o.transaction_id, o.volume_litres, -t.amount AS paid
        FROM card_operation o JOIN ledger_transaction t ON t.id = o.transaction_id
        WHERE o.customer_id = p_customer_id AND o.kind = 'recharge' AND o.state = 'done'
          AND o.volume_litres > 0
          AND o.purchase_seq <= p_loaded_seq
          AND o.purchase_seq > coalesce(p_earlier_seq, 0)
        ORDER BY o.purchase_seq DESC
    LOOP
        EXIT WHEN left_litres = 0;
        card_operation_id := purchase.id;
        purchase_transaction_id := purchase.transaction_id;
        litres := least(left_litres, purchase.volume_litres);
        value := purchase.paid * litres / purchase.volume_litres;
        left_litres := left_litres - litres;
        RETURN NEXT;
    END LOOP;
END $$;

-- The lines of the clear cards credited before this migration, in the order they came back.
INSERT INTO system_card_credit_line
SELECT s.card_no, walk.*
FROM system_card s
CROSS JOIN LATERAL system_card_credit_walk(
    s.customer_id, s.cleared_credit_litres, s.cleared_loaded_seq,
    (SELECT max(e.cleared_loaded_seq) FROM system_card e
     WHERE e.customer_id = s.customer_id AND e.cleared_seen_at < s.cleared_seen_at)) walk
WHERE s.customer_id IS NOT NULL AND s.credited_litres > 0;

-- As V23's (same signature, same permission, same value), now writing the credit lines and
-- issuing the credit's receipt.
CREATE OR REPLACE FUNCTION system_card_cleared(
    p_card_no bigint, p_credit_litres bigint, p_loaded_seq bigint
) RETURNS numeric
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    clear system_card;
    acct bigint;
    earlier_seq bigint;
    covered bigint := 0;
    value numeric := 0;
    credited numeric(14,2);
    posted bigint;
    receipt_number bigint;
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
        INSERT INTO system_card_credit_line
        SELECT p_card_no, walk.*
        FROM system_card_credit_walk(clear.customer_id, p_credit_litres, p_loaded_seq,
                                     earlier_seq) walk;
        SELECT coalesce(sum(l.litres), 0), coalesce(sum(l.value), 0) INTO covered, value
        FROM system_card_credit_line l WHERE l.system_card_no = p_card_no;
    END IF;
    credited := round(value, 2);
    IF credited > 0 THEN
        INSERT INTO receipt (receipt_no, customer_id, operator_id)
        VALUES (nextval('receipt_no_seq'), clear.customer_id, current_operator_id())
        RETURNING receipt_no INTO receipt_number;
        INSERT INTO ledger_transaction (account_id, kind, amount, volume, operator_id,
                                        receipt_no, idempotency_key)
        VALUES (acct, 'card_refund', credited, covered / 1000.0, current_operator_id(),
                receipt_number, 'system-card:' || p_card_no || ':cleared')
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
                               'credited_litres', covered, 'credited_amount', credited,
                               'receipt_no', receipt_number));
    RETURN credited;
END $$;
