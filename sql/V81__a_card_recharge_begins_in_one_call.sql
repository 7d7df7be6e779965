-- A card recharge's begin in one round trip (issue 14 item 1; decision: docs/decisions.md, "A
-- card recharge begins in one call"). The begin was two: `card_begin_facts` (V77) locked the
-- account and read the facts, the desk decided and signed the plan from them (the card's MAC is
-- made with the desk's key, which the database does not hold), then `card_recharge_journal`
-- journaled it, with COMMIT. The recharge form already asks the database for a quote before the
-- confirmation: it now reads the facts the plan is decided from with it (`card_recharge_facts`,
-- no lock), the desk decides and signs from them and the card it reads at F2, and sends one call
-- (`card_recharge`) that locks as the begin did, reads the facts again and journals only if
-- they are the ones the desk decided from. Nothing is decided here that was not decided before:
-- every check of the journal (privileges, the card operation's `rules` with its price check,
-- ledger_post's) runs as it did, with the caller's rights.

-- What a recharge of customer `p_customer_id` paid with `p_payment_method_code` (NULL: from the
-- balance) is decided from, except the cycle's water: the holder's facts (V77's
-- `card_holder_facts`), whether the operator holds card.recharge, the sale's terms (V77's
-- `card_sale_facts`, its water left out), and `digest`, the md5 of all of them as text. The
-- cycle's water follows from these: it is the purchases of the customer's account today's
-- cycle counts (a purchase, a reversal, a refund each change the purchase sequences, the
-- pending operation, the last purchase written or the balance; the date and the scheme are
-- here themselves). One statement, inlined where it is called; no row: no such customer.
CREATE FUNCTION card_recharge_terms(p_customer_id bigint, p_payment_method_code text)
RETURNS TABLE (customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint, permitted boolean,
               scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               method_allowed boolean, digest text)
LANGUAGE sql STABLE AS $$
    SELECT terms.*, md5(terms::text)
    FROM (SELECT h.*, public.md_permitted('card.recharge') AS permitted,
                 sale.scheme_id, sale.billing_mode, sale.vat_percent,
                 sale.accumulation_cycle_months, sale.start_date, sale.tier_version_ids,
                 sale.tier_effective_from, sale.tier_upper_bounds, sale.tier_unit_prices,
                 sale.method_allowed
          FROM public.card_holder_facts(p_customer_id) h
          -- Its water is not asked for: the planner leaves it out.
          CROSS JOIN LATERAL public.card_sale_facts(h.customer_type_id, h.account_id,
                                                    p_payment_method_code) sale) terms
$$;

-- The terms and the water bought in today's cycle (`accumulated`, as `card_sale_facts` computes
-- it): all a recharge is decided from, read by the recharge form with its quote (no lock).
CREATE FUNCTION card_recharge_facts(p_customer_id bigint, p_payment_method_code text)
RETURNS TABLE (customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint, permitted boolean,
               scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               method_allowed boolean, digest text, accumulated numeric)
LANGUAGE sql STABLE AS $$
    SELECT terms.*, sale.accumulated
    FROM public.card_recharge_terms(p_customer_id, p_payment_method_code) terms
    CROSS JOIN LATERAL public.card_sale_facts(terms.customer_type_id, terms.account_id,
                                              p_payment_method_code) sale
$$;

-- A recharge's begin in one call: the customer's account locked first and idempotency key
-- `p_idempotency_key`'s operation locked, as `card_begin_facts` locks them; then
--  * the key's operation exists (a retry): nothing is journaled, `seen` answers it, and the
--    desk takes the begin's path for it;
--  * the terms read again under the lock are not those of `p_digest` (another desk recharged or
--    refunded, a price or the balance changed, an operation is pending): nothing is journaled,
--    the fresh facts are the answer, and the desk decides again from them;
--  * else the plan decided from them is journaled by `card_recharge_journal` (V77) with the
--    arguments it takes, as the begin's second statement did: `operation_id` and `receipt_no`.
-- The desk's digest decides only whether to journal: what is journaled is checked by the
-- journal's own checks as it is when `card_recharge_journal` is called alone. The cycle's
-- water is computed once, by the price check of card_operation's `rules`.
CREATE FUNCTION card_recharge(
    p_digest text,
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint, p_meter_generation smallint
)
RETURNS TABLE (operation_id bigint, receipt_no bigint, seen boolean,
               customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint, permitted boolean,
               scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               method_allowed boolean, digest text, accumulated numeric)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM FROM account a WHERE a.customer_id = p_customer_id FOR UPDATE;
    PERFORM FROM card_operation op WHERE op.idempotency_key = p_idempotency_key FOR UPDATE;
    -- The answers of one row leave the facts' columns NULL (RETURN NEXT of the output
    -- columns as they stand): no statement plans the facts only to return none of them.
    seen := FOUND;
    IF seen THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF (SELECT t.digest FROM card_recharge_terms(p_customer_id, p_payment_method_code) t)
       IS DISTINCT FROM p_digest THEN
        RETURN QUERY SELECT NULL::bigint, NULL::bigint, false, facts.*
                     FROM card_recharge_facts(p_customer_id, p_payment_method_code) facts;
        RETURN;
    END IF;
    SELECT j.operation_id, j.receipt_no INTO operation_id, receipt_no
    FROM card_recharge_journal(p_customer_id, p_account_id, p_card_id, p_card_no, p_operator_id,
                               p_idempotency_key, p_amount, p_volume, p_unit_price,
                               p_payment_method_code, p_purchase_seq, p_volume_litres,
                               p_issue_record_before, p_issue_record_after,
                               p_purchase_record_before, p_purchase_record_after, p_plan,
                               p_meter_loaded_seq, p_meter_generation) j;
    RETURN NEXT;
END $$;

-- A recharge no longer begins with `card_begin_facts`: only the other kinds (an open, a
-- replacement, a refund, a recycle) and a recharge's rare path call it now. For them the
-- statement's custom plan, with the recharge's sale facts cut off at planning, looks cheaper
-- than the generic one, so PL/pgSQL's plan cache planned it afresh at every call — 3 ms of
-- planning for each card open in the soak, against a quarter of a millisecond of work.
-- The generic plan skips the sale facts at run time (the gate is a one-time filter on
-- `p_recharge`), as it did when recharges made most of its calls.
ALTER FUNCTION card_begin_facts(bigint, text, text, boolean, text)
    SET plan_cache_mode = force_generic_plan;
