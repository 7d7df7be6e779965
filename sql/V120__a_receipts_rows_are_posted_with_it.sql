-- A receipt's rows are posted with it (docs/decisions.md, "A card receipt says the balance its
-- own rows left (s36-i)"). What a receipt says of money — its lines and the balance after them
-- (`receipt_read`'s `balance_after`: the balance its last ledger row left, which the card
-- receipts now read too) — is read from the ledger rows that carry its number. The receipt
-- itself is an operator's only as the number receipt_no_seq just issued to the session (V31's
-- rules), but a ledger row could name any receipt: from psql a clerk's
-- `ledger_post(…, 'deposit', 10.00, …, <an earlier receipt>, …)` was posted, and that receipt,
-- read again or reprinted, showed one more line and a balance 10.00 higher.
--
-- Now a ledger row an operator's session posts with a receipt number is on a receipt written
-- in the same transaction (its `issued_at`, which no operator may write, is the transaction's
-- start, `now()`) for the customer whose account the row moves. Every writer of the desk posts
-- its rows right after writing their receipt, in one transaction (money_move, bill_pay, the
-- card recharge's journal, a card refund's pay-out, a clear card's credit); rows without a
-- receipt (reversals, consumption, a card refund's credit) are not asked. The owner (the demo
-- loader, imports of history) is not held to it. Checked in V82's statement trigger on the
-- ledger, which every posting already calls once: no call more a row.
CREATE OR REPLACE FUNCTION ledger_posted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me bigint := (SELECT id FROM operator WHERE db_role = session_user);
    foreign_receipt bigint;
BEGIN
    IF NOT pg_has_role(session_user, TG_ARGV[0], 'MEMBER') THEN
        IF EXISTS (SELECT FROM posted p JOIN account a ON a.id = p.account_id
                   JOIN customer c ON c.id = a.customer_id WHERE c.status = 'closed') THEN
            RAISE EXCEPTION 'the customer is closed: its account moves no money'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        SELECT p.receipt_no INTO foreign_receipt
        FROM posted p
        JOIN account a ON a.id = p.account_id
        LEFT JOIN receipt r ON r.receipt_no = p.receipt_no
        WHERE p.receipt_no IS NOT NULL
          AND (r.receipt_no IS NULL OR r.issued_at <> now()
               OR r.customer_id IS DISTINCT FROM a.customer_id)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'permission denied: a ledger row goes on a receipt written in its own transaction for its account''s customer, not on receipt %',
                foreign_receipt USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF me IS NOT NULL AND NOT EXISTS (SELECT FROM shift WHERE operator_id = me
                                      AND closed_at IS NULL AND xmax = '0'::xid) THEN
        INSERT INTO shift (operator_id, opened_at, opened_by_payment)
        SELECT me, min(p.created_at), true FROM posted p WHERE p.operator_id = me
        HAVING count(*) > 0
        ON CONFLICT (operator_id) WHERE closed_at IS NULL DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
