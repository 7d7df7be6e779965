-- An administrator's changes are exactly-once too, by the same means as the customer and
-- reference-data writes (V9, V10): adding an operator, enabling or disabling one, giving one a
-- temporary password or roles, adding or renaming a department and changing a role's
-- permissions carry the idempotency key the desk made at F2 and record it here with their
-- outcome in their transaction. Without it a change re-sent after a connection lost past its
-- commit (the server restarted, the link cut at the COMMIT, a peer frozen past the desk's
-- deadline) was applied again: a second audit row for one reset, one disabling or one change
-- of permissions, and a department the administrator had just added answered "name taken".
-- The kinds are the audit actions of the writes.
ALTER TABLE applied_write DROP CONSTRAINT applied_write_kind_check;
ALTER TABLE applied_write ADD CONSTRAINT applied_write_kind_check CHECK (kind IN (
    'customer.open', 'customer.modify', 'customer.transfer',
    'meter_type.add', 'meter_type.modify', 'meter_type.delete',
    'meter.add', 'meter.modify', 'meter.delete', 'meter.import',
    'price_scheme.add', 'price_scheme.modify', 'price_version.add',
    'customer_type.add', 'customer_type.modify', 'customer_type.delete',
    'operator.create', 'operator.enable', 'operator.disable', 'operator.reset_password',
    'operator.set_roles', 'department.add', 'department.rename', 'role.set_permissions'
));
