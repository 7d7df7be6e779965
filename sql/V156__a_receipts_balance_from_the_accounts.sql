-- A receipt's balance from the account's balance, less what was posted after it (s39-d; docs/
-- decisions.md, "The counter's reads and writes, measured (s39-d)").
--
-- `receipt_read` (V116) said the balance a receipt's rows left by summing the account's whole
-- ledger up to its last row: every deposit's answer and every reprint read every ledger row the
-- account ever had, a cost that grows with the account's years. The account's balance is the
-- running sum of its ledger, kept in the same transaction as each row (ledger_apply_to_balance;
-- `meterdesk check` holds it), so within one snapshot the same figure is the balance less the
-- account's rows after the receipt's last: none for a receipt just issued, a few when it is
-- read again soon. Those rows are read by the ledger's key from the receipt's last row on, a
-- hundred and one at most (any account's: the LIMIT keeps the plan on the key's index); when
-- there are more than a hundred (an older receipt's reprint), the account's rows up to it are
-- summed as before. Same value, same type and scale
-- (numeric(14,2) on both sides), same rows; re-runnable (CREATE OR REPLACE).
CREATE OR REPLACE FUNCTION receipt_read(p_receipt_no bigint) RETURNS SETOF receipt_line
LANGUAGE sql STABLE AS $$
    WITH lines AS MATERIALIZED (
        SELECT t.id, CASE WHEN s.card_no IS NULL THEN t.kind ELSE 'clear_card_credit' END AS kind,
               t.amount, t.volume, t.unit_price, p.code AS method_code, p.name AS method,
               b.period_start AS cycle
        FROM public.ledger_transaction t
        LEFT JOIN public.payment_method p ON p.code = t.payment_method_code
        LEFT JOIN public.bill b ON b.id = t.bill_id
        LEFT JOIN public.system_card s ON s.credited_transaction_id = t.id
        WHERE t.receipt_no = p_receipt_no),
    header AS MATERIALIZED (
        SELECT r.receipt_no, r.issued_at, r.reprints, o.full_name AS operator, c.customer_no,
               r.customer_name AS name, c.business_model, r.meter_no,
               (SELECT CASE WHEN count(*) <= 100
                            THEN a.balance - coalesce(sum(after.amount)
                                                          FILTER (WHERE after.account_id = a.id), 0)
                            ELSE (SELECT sum(t.amount) FROM public.ledger_transaction t
                                  WHERE t.account_id = a.id
                                    AND t.id <= (SELECT max(l.id) FROM lines l))
                       END
                FROM (SELECT t.amount, t.account_id FROM public.ledger_transaction t
                      WHERE t.id > (SELECT max(l.id) FROM lines l)
                      ORDER BY t.id LIMIT 101) after) AS balance_after
        FROM public.receipt r
        JOIN public.operator o ON o.id = r.operator_id
        JOIN public.customer c ON c.id = r.customer_id
        JOIN public.account a ON a.customer_id = c.id
        WHERE r.receipt_no = p_receipt_no)
    SELECT h.receipt_no, h.issued_at, h.reprints, h.operator, h.customer_no, h.name,
           h.business_model, h.meter_no, h.balance_after, l.kind, l.amount, l.volume,
           l.unit_price, l.method_code, l.method, l.cycle
    FROM header h CROSS JOIN lines l
    ORDER BY l.id
$$;
