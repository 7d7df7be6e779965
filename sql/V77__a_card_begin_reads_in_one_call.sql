-- What a card operation's begin reads, in one call (issue 14 item 1: statements and round trips
-- a business operation; decision: docs/decisions.md, "A card begin reads in one call"). The desk
-- (db::card_ops::begin) sent ten statements together behind BEGIN: the account's lock, the
-- customer, the card, the purchase sequences, the last purchase, the idempotency key's
-- operation, the permission, and for a recharge the prepaid scheme, its versions and tiers, the
-- cycle's water and the payment method. Each statement's start (plan-cache revalidation,
-- relation locks, executor start, its messages) cost as much as its reading. They are now
-- three statements of one function: the lock, the key's operation, and one read of the rest.
-- Nothing is written, checked or refused here: these are the reads the desk made, with the
-- caller's rights (SECURITY INVOKER), and the desk decides from them as before.

-- A card customer's facts as the journal needs them (db::card_ops::holder, `CardHolder`): the
-- customer and their account, the card the database considers theirs (the active one, else the
-- latest really issued), the highest purchase sequence ever given, the pending operation, and
-- the last purchase written to a card for good (from the latest finished recharge, refund or
-- replacement, which carries it). No row: no such customer. One statement, so one snapshot; a
-- SQL function, inlined into the statement that calls it.
CREATE FUNCTION card_holder_facts(p_customer_id bigint)
RETURNS TABLE (customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.customer_no, m.meter_no, a.id, a.balance, c.customer_type_id, c.status = 'closed',
           c.business_model = 'meter_prepaid', current_date,
           known.id, known.card_no, known.generation, known.state = 'active',
           (SELECT max(op.purchase_seq) FROM public.card_operation op
            WHERE op.customer_id = c.id AND op.kind = 'recharge'),
           (SELECT op.id FROM public.card_operation op
            WHERE op.customer_id = c.id AND op.state = 'pending'),
           written.purchase_record_after, written.card_no, written.kind, written.purchase_seq,
           written.volume_litres, written.generation, written.written_at
    FROM public.customer c JOIN public.meter m ON m.id = c.meter_id
         JOIN public.account a ON a.customer_id = c.id
    LEFT JOIN LATERAL (
        SELECT card.id, card.card_no, card.generation, card.state FROM public.card
        WHERE card.customer_id = c.id AND card.void_reason IS DISTINCT FROM 'not_issued'
        ORDER BY card.state = 'active' DESC, card.generation DESC LIMIT 1) known ON true
    LEFT JOIN LATERAL (
        SELECT op.purchase_record_after, card.card_no, op.kind, op.purchase_seq,
               op.volume_litres, card.generation,
               extract(epoch FROM op.started_at)::bigint AS written_at
        FROM public.card_operation op JOIN public.card ON card.id = op.card_id
        WHERE op.customer_id = c.id AND op.state = 'done'
          AND op.kind IN ('recharge', 'refund', 'replace')
        ORDER BY op.id DESC LIMIT 1) written ON true
    WHERE c.id = p_customer_id
$$;

-- What a recharge is priced and paid against (db::card_ops::prices): the prepaid scheme of
-- customer type `p_customer_type_id` (no row of it: none), its versions' tiers oldest first (one
-- array element a tier: its version, the version's first day, its upper bound, its price), the
-- water account `p_account_id` bought in today's cycle of that scheme (md_card_water, V38: the
-- slices the database prices a recharge from; 0 without a scheme), and whether the type takes
-- payment method `p_payment_method_code` (NULL, paid from the balance: always).
CREATE FUNCTION card_sale_facts(p_customer_type_id bigint, p_account_id bigint,
                                p_payment_method_code text)
RETURNS TABLE (scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               accumulated numeric, method_allowed boolean)
LANGUAGE sql STABLE AS $$
    SELECT s.id, s.billing_mode, s.vat_rate * 100, s.accumulation_cycle_months, s.start_date,
           tiers.version_ids, tiers.effective_from, tiers.upper_bounds, tiers.unit_prices,
           coalesce((SELECT sum(w.volume)
                     FROM public.md_cycle(s.start_date, coalesce(s.accumulation_cycle_months, 12),
                                          current_date) in_cycle
                     CROSS JOIN LATERAL public.md_card_water(p_account_id, in_cycle.first_day,
                                                             in_cycle.next_first_day) w), 0),
           p_payment_method_code IS NULL OR EXISTS (
               SELECT FROM public.customer_type_payment_method tm
               JOIN public.payment_method pm ON pm.code = tm.payment_method_code
               WHERE tm.customer_type_id = p_customer_type_id
                 AND pm.code = p_payment_method_code AND pm.enabled)
    FROM (SELECT) AS always
    LEFT JOIN (public.customer_type t
               JOIN public.price_scheme s ON s.id = t.price_scheme_id AND s.kind = 'prepaid')
           ON t.id = p_customer_type_id
    LEFT JOIN LATERAL (
        SELECT array_agg(v.id ORDER BY v.effective_from, pt.tier_no) AS version_ids,
               array_agg(v.effective_from ORDER BY v.effective_from, pt.tier_no) AS effective_from,
               array_agg(pt.upper_bound_m3 ORDER BY v.effective_from, pt.tier_no) AS upper_bounds,
               array_agg(pt.unit_price ORDER BY v.effective_from, pt.tier_no) AS unit_prices
        FROM public.price_version v JOIN public.price_tier pt ON pt.price_version_id = v.id
        WHERE v.price_scheme_id = s.id) tiers ON true
$$;

-- Everything a card operation's begin reads, in one call: the customer's account locked first
-- (so every read after it sees what the lock's last holder wrote, as each statement behind the
-- lock did), then idempotency key `p_idempotency_key`'s operation locked (`seen`: a retry), then
-- the holder's facts, whether the operator holds `p_permission` (md_permitted), and for a
-- recharge (`p_recharge`) its sale facts. No row: no such customer.
CREATE FUNCTION card_begin_facts(p_customer_id bigint, p_idempotency_key text,
                                 p_permission text, p_recharge boolean,
                                 p_payment_method_code text)
RETURNS TABLE (customer_no bigint, meter_no text, account_id bigint, balance numeric,
               customer_type_id bigint, closed boolean, meter_prepaid boolean, today date,
               card_id bigint, card_no bigint, generation smallint, active boolean,
               last_sequence bigint, pending bigint,
               purchase_record_after bytea, purchase_card_no bigint, purchase_kind text,
               purchase_seq bigint, volume_litres bigint, purchase_generation smallint,
               written_at bigint, seen bigint, permitted boolean,
               scheme_id bigint, billing_mode text, vat_percent numeric,
               accumulation_cycle_months smallint, start_date date,
               tier_version_ids bigint[], tier_effective_from date[],
               tier_upper_bounds numeric[], tier_unit_prices numeric[],
               accumulated numeric, method_allowed boolean)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    operation bigint;
BEGIN
    PERFORM FROM account a WHERE a.customer_id = p_customer_id FOR UPDATE;
    SELECT op.id INTO operation FROM card_operation op
    WHERE op.idempotency_key = p_idempotency_key FOR UPDATE;
    RETURN QUERY
        SELECT h.*, operation, md_permitted(p_permission), sale.*
        FROM card_holder_facts(p_customer_id) h
        -- Gated in the subquery, not the join: another operation's begin runs none of it.
        LEFT JOIN LATERAL (SELECT * FROM card_sale_facts(h.customer_type_id, h.account_id,
                                                         p_payment_method_code)
                           WHERE p_recharge) sale ON true;
END $$;

-- A recharge's journal with the card's meter write-back noted first, in the same call: the desk
-- sent the note (db::card_ops::begin, NOTE_METER_STATE) as a statement of its own in front of
-- the call. The same UPDATE, run first as it was, with the caller's rights (the card table's
-- privileges and triggers apply as to the desk's statement); without a write-back on the card
-- (`p_meter_loaded_seq` NULL) nothing is noted. V33's seventeen arguments keep their meaning and
-- order; the two new ones default to NULL, so a call of V33's form does what V33 did.
DROP FUNCTION card_recharge_journal(bigint, bigint, bigint, bigint, bigint, text, numeric,
                                    numeric, numeric, text, bigint, bigint, bytea, bytea, bytea,
                                    bytea, jsonb);
CREATE FUNCTION card_recharge_journal(
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint DEFAULT NULL, p_meter_generation smallint DEFAULT NULL,
    OUT operation_id bigint, OUT receipt_no bigint
)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    purchase bigint;
BEGIN
    -- NOTE_METER_STATE's statement: a write-back seen before changes nothing (no new row
    -- version, no row trigger); `meter_read_at` is when the highest one was first read.
    IF p_meter_loaded_seq IS NOT NULL THEN
        UPDATE card SET meter_loaded_seq = GREATEST(meter_loaded_seq, p_meter_loaded_seq),
                        meter_generation = GREATEST(meter_generation, p_meter_generation),
                        meter_read_at = CASE WHEN meter_loaded_seq >= p_meter_loaded_seq
                                             THEN meter_read_at ELSE now() END
        WHERE card_no = p_card_no
          AND (meter_loaded_seq IS NULL OR meter_loaded_seq < p_meter_loaded_seq
               OR meter_generation IS NULL OR meter_generation < p_meter_generation);
    END IF;
    INSERT INTO receipt (receipt_no, customer_id, operator_id)
    VALUES (nextval('receipt_no_seq'), p_customer_id, p_operator_id)
    RETURNING receipt.receipt_no INTO card_recharge_journal.receipt_no;
    -- Paid at the counter: the money comes in on the receipt before the purchase takes it.
    IF p_payment_method_code IS NOT NULL THEN
        PERFORM ledger_post(p_account_id, 'deposit', p_amount, NULL, NULL, p_payment_method_code,
                            card_recharge_journal.receipt_no,
                            'card-op:' || p_idempotency_key || ':deposit');
    END IF;
    purchase := ledger_post(p_account_id, 'card_purchase', -p_amount, p_volume, p_unit_price,
                            NULL, card_recharge_journal.receipt_no,
                            'card-op:' || p_idempotency_key || ':purchase');
    INSERT INTO card_operation (customer_id, card_id, kind, purchase_seq, volume_litres,
                                issue_record_before, issue_record_after, purchase_record_before,
                                purchase_record_after, transaction_id, idempotency_key,
                                operator_id, plan, payment_method_code)
    VALUES (p_customer_id, p_card_id, 'recharge', p_purchase_seq, p_volume_litres,
            p_issue_record_before, p_issue_record_after, p_purchase_record_before,
            p_purchase_record_after, purchase, p_idempotency_key, p_operator_id, p_plan,
            p_payment_method_code)
    RETURNING card_operation.id INTO card_recharge_journal.operation_id;
    INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
    VALUES (p_operator_id, 'card.recharge', 'card_operation', card_recharge_journal.operation_id,
            jsonb_build_object('customer_id', p_customer_id, 'card_no', p_card_no));
END $$;
