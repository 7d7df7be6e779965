-- Whether a card purchase was refunded is asked for every recharge (the water already bought in
-- the tier cycle, db::card_ops::prices): found through the purchase's ledger row and the refund
-- of the same purchase, by index, not by a scan of every card operation (21 ms at 10 000
-- customers, growing with the table; seen in `meterdesk soak`).
CREATE INDEX card_operation_transaction ON card_operation (transaction_id)
    WHERE transaction_id IS NOT NULL;
CREATE INDEX card_operation_refunded ON card_operation (customer_id, purchase_seq)
    WHERE kind = 'refund' AND state = 'done';
