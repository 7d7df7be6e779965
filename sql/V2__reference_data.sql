-- Reference rows every installation needs: permissions, the three roles, payment methods.
-- Administrators manage people and settings but move no money (separation of duties);
-- supervisors do everything a clerk does plus the corrective and pricing actions.

INSERT INTO permission (code, description) VALUES
    ('customer.view',            'Search and view customers'),
    ('customer.open',            'Open an account for a new customer'),
    ('customer.modify',          'Modify a customer''s basic information'),
    ('customer.transfer',        'Transfer a customer to a new owner'),
    ('customer.close',           'Close a customer''s account'),
    ('card.read',                'Read a card'),
    ('card.open',                'Open a card'),
    ('card.recharge',            'Recharge a card'),
    ('card.refund',              'Refund a purchase still on a card'),
    ('card.replace',             'Replace a lost or damaged card'),
    ('card.recycle',             'Recycle a returned card'),
    ('card.resolve',             'Resolve pending card operations'),
    ('account.deposit',          'Take a deposit or recharge into an account'),
    ('account.pay_bills',        'Pay bills from an account balance'),
    ('account.refund',           'Refund money from an account'),
    ('account.reverse',          'Reverse a ledger transaction'),
    ('receipt.reprint',          'Reprint a receipt'),
    ('meter.maintain',           'Add, modify and delete uninstalled meters'),
    ('meter.import',             'Import meters from a CSV file'),
    ('customer_type.maintain',   'Maintain customer types'),
    ('price.maintain',           'Maintain price schemes and prices'),
    ('operator.maintain',        'Maintain operators'),
    ('role.maintain',            'Maintain roles and their permissions'),
    ('department.maintain',      'Maintain departments'),
    ('settings.maintain',        'Maintain system settings'),
    ('audit.view',               'View the audit log');

INSERT INTO role (code, name) VALUES
    ('administrator', 'Administrator'),
    ('supervisor',    'Supervisor'),
    ('clerk',         'Clerk');

INSERT INTO role_permission (role_code, permission_code)
SELECT 'clerk', code FROM permission WHERE code IN (
    'customer.view', 'customer.open', 'customer.modify', 'customer.transfer',
    'card.read', 'card.open', 'card.recharge', 'card.recycle',
    'account.deposit', 'account.pay_bills', 'receipt.reprint');

INSERT INTO role_permission (role_code, permission_code)
SELECT 'supervisor', permission_code FROM role_permission WHERE role_code = 'clerk'
UNION
SELECT 'supervisor', code FROM permission WHERE code IN (
    'customer.close', 'card.refund', 'card.replace', 'card.resolve',
    'account.refund', 'account.reverse', 'meter.maintain', 'meter.import',
    'customer_type.maintain', 'price.maintain', 'audit.view');

INSERT INTO role_permission (role_code, permission_code)
SELECT 'administrator', code FROM permission WHERE code IN (
    'customer.view', 'card.read', 'operator.maintain', 'role.maintain', 'department.maintain',
    'settings.maintain', 'audit.view');

INSERT INTO payment_method (code, name) VALUES
    ('cash',          'Cash'),
    ('bank_card',     'Bank card'),
    ('wechat_pay',    'WeChat Pay'),
    ('alipay',        'Alipay'),
    ('bank_transfer', 'Bank transfer');
