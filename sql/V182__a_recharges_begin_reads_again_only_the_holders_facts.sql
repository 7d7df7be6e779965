-- A card recharge's begin reads again, under its lock, only the facts its own checks do not
-- hold (s41-e; docs/decisions.md, "A card recharge's server cost").
--
-- `card_recharge` (V112's) read the whole of `card_recharge_terms` again under the account's
-- lock — the holder's facts, the operator's permission (md_permitted), the customer type's
-- prepaid scheme with every version's tiers and the payment method — and journaled only when
-- their md5 was the digest the desk decided from (V81). Of these, the sale's terms are each
-- held by the journal itself, with the same rights, whatever the desk read: the permission
-- (`card_operation_rules`' md_require), the scheme and the price in force for the water, the
-- cycle's water included (its price check: exactly md_charge's amount and unit price), and the
-- payment method the type takes (V107's trigger). A recharge decided from a stale price,
-- method or permission is refused by them, nothing written, and the desk decides it again on
-- the begin's own path under the lock (`card_ops::begin_decided`: a journal refused by the
-- database), which answers what fresh facts say. What the database does not hold itself is
-- the holder's side, which only the desk decides from with the card: the active card and its
-- number, the last purchase written for good (a card behind the books), the balance, the
-- pending operation, the purchase sequence, the customer's status and business model, the
-- date. The digest is now those alone: md5 of `card_holder_facts`' row, read again under the
-- lock in one statement of that function alone.
--
-- `card_recharge_terms` keeps its columns (the quote reads them through card_recharge_facts);
-- only its digest changes, to the same expression `card_recharge` compares. A desk that
-- decided from an older digest meets a difference once, and decides again from the fresh facts
-- answered, as after any change.
--
-- Re-runnable on its own result (tests/two_desks.rs runs V109 and what follows it again).

CREATE OR REPLACE FUNCTION card_recharge_terms(p_customer_id bigint, p_payment_method_code text)
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
    SELECT h.*, public.md_permitted('card.recharge') AS permitted,
           sale.scheme_id, sale.billing_mode, sale.vat_percent,
           sale.accumulation_cycle_months, sale.start_date, sale.tier_version_ids,
           sale.tier_effective_from, sale.tier_upper_bounds, sale.tier_unit_prices,
           sale.method_allowed,
           -- The holder's facts alone: card_recharge compares this under its lock.
           md5(h::text)
    FROM public.card_holder_facts(p_customer_id) h
    -- Its water is not asked for: the planner leaves it out.
    CROSS JOIN LATERAL public.card_sale_facts(h.customer_type_id, h.account_id,
                                              p_payment_method_code) sale
$$;

-- V112's one call of a recharge's begin, the holder's facts alone compared: unchanged otherwise.
CREATE OR REPLACE FUNCTION card_recharge(
    p_digest text,
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint, p_meter_generation smallint, p_owner_seen bigint DEFAULT NULL
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
    -- card_recharge_terms' digest: the holder's facts, which only the desk decides from.
    IF (SELECT md5(h::text) FROM card_holder_facts(p_customer_id) h)
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
                               p_meter_loaded_seq, p_meter_generation, p_owner_seen) j;
    RETURN NEXT;
END $$;
