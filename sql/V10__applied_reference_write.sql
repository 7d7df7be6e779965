-- Reference-data writes are exactly-once too, by the same means as the customer writes (V9):
-- adding, changing and deleting meter types, meters and customer types, the meter import,
-- adding and changing price schemes and a price change from a date carry the idempotency key
-- made when the clerk confirmed, and record it here with their outcome in their transaction.
-- Without it a request re-sent after a connection lost past the commit would add a price
-- version twice, or answer "meter number exists" to the clerk whose meter it added.
-- The kinds are the audit actions of the writes.
ALTER TABLE applied_write DROP CONSTRAINT applied_write_kind_check;
ALTER TABLE applied_write ADD CONSTRAINT applied_write_kind_check CHECK (kind IN (
    'customer.open', 'customer.modify', 'customer.transfer',
    'meter_type.add', 'meter_type.modify', 'meter_type.delete',
    'meter.add', 'meter.modify', 'meter.delete', 'meter.import',
    'price_scheme.add', 'price_scheme.modify', 'price_version.add',
    'customer_type.add', 'customer_type.modify', 'customer_type.delete'
));
