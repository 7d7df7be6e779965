-- Why a card operation failed is one of the reasons the desk words (s41-b; docs/decisions.md,
-- "A wrong PIN takes no money; the reason a card refused is kept").
--
-- card_operation.failure_reason was any text: the desk wrote 'not_on_card' (the card read back
-- the old record) or 'settled_without_card' (a supervisor settled it without the card), so a
-- recharge the card refused for this desk's PIN read "the card never got it" in the usage
-- records: true, but not why. The desk now keeps the card's own reason when it refused the
-- write (db::card_ops::FailureReason): 'pin_refused' (a wrong issuer PIN), 'pin_blocked' (the
-- card's PIN blocked), 'pin_last_try' (one try left: the PIN not presented), 'card_refused'
-- (the card answered a write with a refusal). card_operation_settle (V165's) stores the
-- reason its caller passes, with the operator's rights: a clerk's psql could pass any text, so
-- the words are the database's to check. NULL stays the reason of an operation not failed
-- (V1's check asks one of a failed operation).
--
-- Only 'not_on_card' and 'settled_without_card' were ever written, so the check validates at
-- once. Re-runnable on its own result.

ALTER TABLE card_operation DROP CONSTRAINT IF EXISTS card_operation_failure_reason_known;
ALTER TABLE card_operation ADD CONSTRAINT card_operation_failure_reason_known
    -- One array constant, as sql/V153's lists: not a node a name read again at every write.
    CHECK (failure_reason = ANY ('{not_on_card,settled_without_card,pin_refused,pin_blocked,pin_last_try,card_refused}'::text[]));
