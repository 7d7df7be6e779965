-- The water of an account's card purchases (V38's md_card_water, which the recharge's price
-- check in card_operation's rules trigger, the desk's price and the card begin's facts read)
-- reads the customer's refunded purchases once, not once for each purchase (docs/decisions.md,
-- "What this session's checks cost a write (s36-j)").
--
-- V38 asked, for each purchase of the cycle, whether a card operation journaled it and a done
-- refund gave that operation's purchase back: an index probe of card_operation by transaction,
-- then its row (wide: the card records and the plan), for every purchase — 141 probes for the
-- busiest account of an 8-desk soak, 0.006 ms each, growing with the cycle. A customer's done
-- refunds are few (none, mostly): they are read once from their own index
-- (card_operation_refunded), with the purchases they gave back, and each purchase is looked up
-- in that set (a hashed subplan). The same rows, the same m³: a purchase is left out when a done
-- refund of the account's customer gave back the card operation that journaled it. A card
-- operation's purchase is on its customer's account (card_operation's rules refuse any other
-- for an operator; an account is its customer's only: account.customer_id is unique), so the
-- refunds of the account's customer are the ones V38's probe could find. Reversals were already
-- read as one set (a merge of the account's purchases with the reversals' index); a clear
-- card's credit lines are still summed per purchase (no account on them; two index pages
-- each, mostly empty). Still an SQL function without SET: inlined where it is called, its
-- arguments and answer unchanged.
CREATE OR REPLACE FUNCTION md_card_water(p_account_id bigint, p_from date, p_to date)
RETURNS TABLE (transaction_id bigint, read_on date, volume numeric)
LANGUAGE sql STABLE AS $$
    SELECT t.id, t.created_at::date, t.volume - coalesce(credited.litres, 0) * 0.001
    FROM public.ledger_transaction t
    LEFT JOIN LATERAL (SELECT sum(l.litres) AS litres FROM public.system_card_credit_line l
                       WHERE l.purchase_transaction_id = t.id) credited ON true
    WHERE t.account_id = p_account_id AND t.kind = 'card_purchase'
      AND t.created_at >= p_from AND t.created_at < p_to
      AND NOT EXISTS (SELECT FROM public.ledger_transaction r WHERE r.reverses_id = t.id)
      AND t.id NOT IN (SELECT bought.transaction_id
                       FROM public.account a
                       JOIN public.card_operation refund
                         ON refund.customer_id = a.customer_id
                        AND refund.kind = 'refund' AND refund.state = 'done'
                       JOIN public.card_operation bought
                         ON bought.customer_id = refund.customer_id
                        AND bought.purchase_seq = refund.purchase_seq
                        AND bought.kind = 'recharge'
                       WHERE a.id = p_account_id AND bought.transaction_id IS NOT NULL)
$$;
