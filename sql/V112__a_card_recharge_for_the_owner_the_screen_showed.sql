-- A card recharge for the owner the clerk's card screen showed (s36-a; docs/decisions.md, "A card
-- recharge for the owner the card screen showed").
--
-- s35-l's "found, not fixed": the card screen names the holder read from the card's customer;
-- another desk transfers the customer (customer_changes::transfer_of holds the account while it
-- changes the owner); the clerk's F2 waited for the account and then recharged — the receipt
-- named the NEW owner (V109) and a recharge paid from the balance took the new owner's money,
-- though the clerk had told the person at the counter it was for the old one.
--
-- The recharge now carries the owner its screen showed, as a deposit does (V110, V111):
-- `card_recharge_journal` takes `p_owner_seen` (`customer_owner_seen`, V110) and, when it is
-- given, refuses with SQLSTATE MD410 (as bill_pay_for) before anything of the recharge is
-- written when the customer has another owner now. Its callers lock the account first
-- (card_begin_facts, V77; card_recharge, V81), and the check is a statement of its own after
-- that lock: it sees a transfer that held the account and committed meanwhile. The card is
-- written only after a journal committed, so a refused recharge never reaches the card.
-- `card_recharge` passes the owner on. NULL: no owner to compare (the tests' and an operator's
-- calls of V33's and V81's forms, which keep their meaning: both new arguments default to
-- NULL). A key already journaled never reaches the journal again (card_recharge answers `seen`,
-- the begin's retry answers from the operation): exactly once whoever owns the customer now.
-- V77's and V81's forms are dropped if they are there and the new ones replaced if they are
-- (the steps run again unchanged: tests/two_desks.rs runs V109 and what follows it again).

DROP FUNCTION IF EXISTS card_recharge_journal(bigint, bigint, bigint, bigint, bigint, text,
                                              numeric, numeric, numeric, text, bigint, bigint,
                                              bytea, bytea, bytea, bytea, jsonb, bigint,
                                              smallint);
CREATE OR REPLACE FUNCTION card_recharge_journal(
    p_customer_id bigint, p_account_id bigint, p_card_id bigint, p_card_no bigint,
    p_operator_id bigint, p_idempotency_key text, p_amount numeric, p_volume numeric,
    p_unit_price numeric, p_payment_method_code text, p_purchase_seq bigint,
    p_volume_litres bigint, p_issue_record_before bytea, p_issue_record_after bytea,
    p_purchase_record_before bytea, p_purchase_record_after bytea, p_plan jsonb,
    p_meter_loaded_seq bigint DEFAULT NULL, p_meter_generation smallint DEFAULT NULL,
    p_owner_seen bigint DEFAULT NULL,
    OUT operation_id bigint, OUT receipt_no bigint
)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    purchase bigint;
BEGIN
    -- Behind the account's lock, which the caller took in an earlier statement: a transfer
    -- that held the account has committed, and this statement sees it.
    IF p_owner_seen IS NOT NULL
       AND customer_owner_seen(p_customer_id) IS DISTINCT FROM p_owner_seen THEN
        RAISE EXCEPTION 'the customer was transferred to another owner since it was read'
            USING ERRCODE = 'MD410';
    END IF;
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

-- V81's one call of a recharge's begin, with the owner passed on to the journal: unchanged
-- otherwise.
DROP FUNCTION IF EXISTS card_recharge(text, bigint, bigint, bigint, bigint, bigint, text,
                                      numeric, numeric, numeric, text, bigint, bigint, bytea,
                                      bytea, bytea, bytea, jsonb, bigint, smallint);
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
                               p_meter_loaded_seq, p_meter_generation, p_owner_seen) j;
    RETURN NEXT;
END $$;
