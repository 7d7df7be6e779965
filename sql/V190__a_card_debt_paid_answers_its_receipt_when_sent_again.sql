-- A card debt's payment is recorded under the desk's idempotency key, as every other write the
-- clerk confirms (s42-b; docs/decisions.md, "A card debt paid where the clerk meets it").
--
-- V163's `card_recharge_owed_pay(K, method)` is exactly once by its own facts: a debt paid is its
-- recharge K settled done, and the deposit `card-op:K:owed` is unique. But the desk's key for
-- the payment (the close's F2, the details' pay key, a recharge's F2 paying first) was recorded
-- nowhere: a request whose first send committed and whose answer was lost (a connection cut at
-- the COMMIT), sent again with the same key, found the debt paid and answered "nothing owed any
-- more" — no receipt for the money the customer had just handed over. The desk now runs the
-- payment through `db::applied_write::write_once` (V9): the key's advisory lock, the lookup, the
-- debts paid, the key recorded with the receipts they got, in one transaction. Sent again, or on
-- two connections at once, the same key writes nothing and answers the same receipts. Its kind
-- is the audit action of the write, `card.owed_paid`, added to V101's list, kept as one array
-- constant (V153's form). Re-runnable: the constraint is dropped if it exists and added again.
ALTER TABLE applied_write DROP CONSTRAINT IF EXISTS applied_write_kind_check;
ALTER TABLE applied_write ADD CONSTRAINT applied_write_kind_check CHECK (kind = ANY (
    '{customer.open,customer.modify,customer.transfer,meter_type.add,meter_type.modify,meter_type.delete,meter.add,meter.modify,meter.delete,meter.import,price_scheme.add,price_scheme.modify,price_version.add,customer_type.add,customer_type.modify,customer_type.delete,operator.create,operator.enable,operator.disable,operator.reset_password,operator.set_roles,department.add,department.rename,role.set_permissions,card.owed_paid}'::text[]));
