//! The schema's invariants, checked against a real PostgreSQL: each constraint refuses the
//! illegal state it exists for. Plus the operator queries and the demo data loader.

mod support;

use deadpool_postgres::Object;
use meterdesk::db::bulk_load::{self, Filled};
use meterdesk::domain::customer_number::{CustomerNumber, SEQUENCE_VALUES};
use meterdesk::tools::demo::{self, DemoError};
use rust_decimal::Decimal;
use support::pg::{TestDb, fresh_db};
use tokio_postgres::error::SqlState;

/// A fresh database and a connection to it as the owner (the demo loader takes its own
/// connections from the database's pool).
async fn owner_db() -> (TestDb, Object) {
    let db = fresh_db().await;
    let client = db.pool.get().await.expect("connect to the test database");
    (db, client)
}

async fn client() -> Object {
    fresh_db()
        .await
        .pool
        .get()
        .await
        .expect("connect to the test database")
}

/// The SQLSTATE a statement was refused with; panics if it was accepted.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> SqlState {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("accepted, but must be refused: {sql}"),
        Err(error) => error
            .code()
            .cloned()
            .unwrap_or_else(|| panic!("{sql}: {error}")),
    }
}

async fn scalar<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    client: &tokio_postgres::Client,
    sql: &str,
) -> T {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .get(0)
}

/// A department, a clerk, a card and a plain meter type, a card-meter and a system-prepaid
/// customer type, and one customer of each (card meter C-1, plain meter P-1), both accounts.
const FIXTURE: &str = "
    INSERT INTO department (name) VALUES ('Hall 1');
    INSERT INTO operator (login, full_name, department_id)
        VALUES ('clerk', 'Clerk One', 1);
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer) VALUES
        ('card DN15', 'prepayment', true, 'DN15', 'Acme'),
        ('plain DN15', 'postpayment', false, 'DN15', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date)
        VALUES ('flat', 'prepaid', 'fixed', 0.09, '2024-01-01');
    INSERT INTO customer_type (name, nature, business_model, counts_water_usage, charges, price_scheme_id)
        VALUES ('card', 'personal', 'meter_prepaid', true, true, 1),
               ('prepaid', 'personal', 'system_prepaid', true, true, 1);
    INSERT INTO customer_type_meter_type VALUES (1, 1, 'prepayment'), (2, 2, 'postpayment');
    INSERT INTO meter (meter_no, meter_type_id) VALUES ('C-1', 1), ('P-1', 2), ('C-2', 1), ('P-2', 2);
    UPDATE meter SET status = 'installed' WHERE meter_no IN ('C-1', 'P-1');
    INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name, address, phone,
                          meter_id, meter_type_id)
        VALUES (10000004, 1, 'personal', 'meter_prepaid', '张伟', '北京市朝阳区建国路88号', '13800000000', 1, 1),
               (10000012, 2, 'personal', 'system_prepaid', 'Anna Schmidt', 'Rue 1', '13900000000', 2, 2);
    INSERT INTO account (customer_id, kind) VALUES (1, 'prepaid'), (2, 'prepaid');
";

/// The first column of every row `sql` returns, as text.
async fn texts(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A table's CHECK constraints, each "its name, the length of its node text", by name; and the
/// length of all their text, which the server reads again at every statement.
async fn checks_and_their_size(client: &tokio_postgres::Client, table: &str) -> (Vec<String>, i64) {
    let checks = texts(
        client,
        &format!(
            "SELECT conname || ' ' || length(conbin) FROM pg_constraint
             WHERE conrelid = '{table}'::regclass AND contype = 'c' ORDER BY 1"
        ),
    )
    .await;
    let size = checks
        .iter()
        .map(|check| check.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
        .sum();
    (checks, size)
}

/// "name language" of each of the schema's functions named `names`, in order of name.
async fn languages(client: &tokio_postgres::Client, names: &[&str]) -> Vec<String> {
    client
        .query(
            "SELECT p.proname || ' ' || l.lanname FROM pg_proc p
             JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'public'::regnamespace AND p.proname = ANY ($1)
             ORDER BY 1",
            &[&names],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn with_fixture() -> Object {
    let client = client().await;
    client
        .batch_execute(FIXTURE)
        .await
        .expect("load the fixture");
    client
}

fn deposit(amount: &str, key: &str) -> String {
    format!(
        "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code, operator_id, idempotency_key)
         VALUES (2, 'deposit', {amount}, 'cash', 1, '{key}')"
    )
}

#[tokio::test]
async fn reference_roles_permissions_and_payment_methods_exist() {
    let client = client().await;
    let roles: Vec<String> = client
        .query("SELECT code FROM role ORDER BY code", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("code"))
        .collect();
    assert_eq!(roles, ["administrator", "clerk", "supervisor"]);
    let supervisor_only: i64 = scalar(
        &client,
        "SELECT count(*) FROM role_permission WHERE role_code = 'supervisor'
           AND permission_code IN ('card.replace', 'account.refund', 'price.maintain')",
    )
    .await;
    assert_eq!(supervisor_only, 3);
    let clerk_refunds: i64 = scalar(
        &client,
        "SELECT count(*) FROM role_permission WHERE role_code = 'clerk' AND permission_code = 'account.refund'",
    )
    .await;
    assert_eq!(clerk_refunds, 0);
    let methods: i64 = scalar(&client, "SELECT count(*) FROM payment_method").await;
    assert_eq!(methods, 5);
}

#[tokio::test]
async fn meter_numbers_are_unique() {
    let client = with_fixture().await;
    let state = refused(
        &client,
        "INSERT INTO meter (meter_no, meter_type_id) VALUES ('C-2', 2)",
    )
    .await;
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
}

#[tokio::test]
async fn a_meter_is_installed_for_one_customer_only() {
    let client = with_fixture().await;
    let state = refused(
        &client,
        "INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name, address, phone, meter_id, meter_type_id)
         VALUES (10000020, 1, 'personal', 'meter_prepaid', 'Second', 'Addr', '13700000000', 1, 1)",
    )
    .await;
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
}

#[tokio::test]
async fn a_customers_meter_must_be_installed() {
    let client = with_fixture().await;
    // C-2 is still uninstalled.
    let state = refused(
        &client,
        "INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name, address, phone, meter_id, meter_type_id)
         VALUES (10000020, 1, 'personal', 'meter_prepaid', 'Second', 'Addr', '13700000000', 3, 1)",
    )
    .await;
    assert_eq!(state, SqlState::FOREIGN_KEY_VIOLATION);
    // An active customer's meter cannot be removed (closing the customer comes first) …
    let state = refused(&client, "UPDATE meter SET status = 'removed' WHERE id = 1").await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
    // … nor go back to uninstalled, nor change type, nor be deleted.
    let state = refused(
        &client,
        "UPDATE meter SET status = 'uninstalled' WHERE id = 1",
    )
    .await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
    let state = refused(&client, "UPDATE meter SET meter_type_id = 2 WHERE id = 1").await;
    assert_eq!(state, SqlState::RESTRICT_VIOLATION);
    let state = refused(&client, "DELETE FROM meter WHERE id = 1").await;
    assert_eq!(state, SqlState::RESTRICT_VIOLATION);
    // Closing: customer first, then the meter is released as removed.
    client
        .batch_execute(
            "UPDATE customer SET status = 'closed', closed_at = now() WHERE id = 1;
             UPDATE meter SET status = 'removed' WHERE id = 1;",
        )
        .await
        .expect("close a customer and remove the meter");
    let meter_status: String =
        scalar(&client, "SELECT meter_status FROM customer WHERE id = 1").await;
    assert_eq!(meter_status, "removed");
}

#[tokio::test]
async fn card_meters_only_for_card_meter_customer_types() {
    let client = with_fixture().await;
    // A card meter type cannot be allowed for a system-prepaid type …
    let state = refused(
        &client,
        "INSERT INTO customer_type_meter_type VALUES (2, 1, 'prepayment')",
    )
    .await;
    assert_eq!(state, SqlState::FOREIGN_KEY_VIOLATION);
    // … and a customer's meter must be of a type its customer type allows.
    client
        .batch_execute("UPDATE meter SET status = 'installed' WHERE meter_no = 'C-2'")
        .await
        .unwrap();
    let state = refused(
        &client,
        "INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name, address, phone, meter_id, meter_type_id)
         VALUES (10000020, 2, 'personal', 'system_prepaid', 'Second', 'Addr', '13700000000', 3, 1)",
    )
    .await;
    assert_eq!(state, SqlState::FOREIGN_KEY_VIOLATION);
    // A type in use keeps its business model.
    let state = refused(
        &client,
        "UPDATE customer_type SET business_model = 'postpaid' WHERE id = 2",
    )
    .await;
    assert_eq!(state, SqlState::FOREIGN_KEY_VIOLATION);
}

#[tokio::test]
async fn basic_information_follows_the_nature_of_water_usage() {
    let client = with_fixture().await;
    // A personal customer needs a phone.
    let state = refused(&client, "UPDATE customer SET phone = NULL WHERE id = 2").await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
    // and has no enterprise fields.
    let state = refused(
        &client,
        "UPDATE customer SET contact_person = 'Boss' WHERE id = 2",
    )
    .await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
}

#[tokio::test]
async fn at_most_one_active_card_per_customer() {
    let client = with_fixture().await;
    client
        .batch_execute(
            "INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (10000001, 1, 1, 1)",
        )
        .await
        .unwrap();
    let state = refused(
        &client,
        "INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (10000002, 1, 2, 1)",
    )
    .await;
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
    // Only card-meter customers hold cards.
    let state = refused(
        &client,
        "INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (10000003, 2, 1, 1)",
    )
    .await;
    assert_eq!(state, SqlState::FOREIGN_KEY_VIOLATION);
    // Replacing: void (and blacklist) the old one, then the new generation is the active one.
    client
        .batch_execute(
            "UPDATE card SET state = 'void', void_reason = 'lost', voided_at = now(), blacklisted = true
             WHERE card_no = 10000001;
             INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (10000002, 1, 2, 1);",
        )
        .await
        .expect("replace a card");
    // Card numbers are never reused, so card rows are never deleted.
    let state = refused(&client, "DELETE FROM card WHERE card_no = 10000001").await;
    assert_eq!(state, SqlState::RESTRICT_VIOLATION);
}

#[tokio::test]
async fn the_balance_follows_the_ledger_and_never_goes_negative() {
    let client = with_fixture().await;
    client
        .batch_execute(&deposit("100.00", "d1"))
        .await
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price, idempotency_key)
             VALUES (2, 'consumption', -30.50, 10.167, 3.0000, 'c1')",
        )
        .await
        .unwrap();
    let balance: Decimal = scalar(&client, "SELECT balance FROM account WHERE id = 2").await;
    assert_eq!(balance, Decimal::new(6950, 2));
    // More than the balance: refused, and nothing changes.
    let state = refused(
        &client,
        "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code, operator_id, idempotency_key)
         VALUES (2, 'refund', -69.51, 'cash', 1, 'r1')",
    )
    .await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
    // The same idempotency key twice moves money once.
    let state = refused(&client, &deposit("5.00", "d1")).await;
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
    // Signs follow the kind: a deposit takes money in.
    let state = refused(&client, &deposit("-5.00", "d2")).await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
    let (balance, sum): (Decimal, Decimal) = {
        let row = client
            .query_one(
                "SELECT balance,
                        (SELECT sum(amount) FROM ledger_transaction WHERE account_id = 2) AS sum
                 FROM account WHERE id = 2",
                &[],
            )
            .await
            .unwrap();
        (row.get("balance"), row.get("sum"))
    };
    assert_eq!(balance, sum);
    assert_eq!(balance, Decimal::new(6950, 2));
    // The balance is the ledger's to maintain: a direct update below zero is refused too.
    let state = refused(&client, "UPDATE account SET balance = -1 WHERE id = 2").await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
}

#[tokio::test]
async fn a_reversal_undoes_exactly_one_transaction_once() {
    let client = with_fixture().await;
    client
        .batch_execute(&deposit("100.00", "d1"))
        .await
        .unwrap();
    let reverse = |amount: &str, key: &str| {
        format!(
            "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key, reverses_id)
             VALUES (2, 'reversal', {amount}, 1, '{key}', 1)"
        )
    };
    let state = refused(&client, &reverse("-90.00", "x1")).await;
    assert_eq!(state, SqlState::CHECK_VIOLATION);
    client
        .batch_execute(&reverse("-100.00", "x2"))
        .await
        .unwrap();
    let state = refused(&client, &reverse("-100.00", "x3")).await;
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
    let balance: Decimal = scalar(&client, "SELECT balance FROM account WHERE id = 2").await;
    assert_eq!(balance, Decimal::ZERO);
}

#[tokio::test]
async fn ledger_and_audit_rows_are_never_changed_or_removed() {
    let client = with_fixture().await;
    client
        .batch_execute(&deposit("100.00", "d1"))
        .await
        .unwrap();
    client
        .batch_execute("INSERT INTO audit_log (action) VALUES ('test.done')")
        .await
        .unwrap();
    for sql in [
        "UPDATE ledger_transaction SET amount = 1000",
        "DELETE FROM ledger_transaction",
        "TRUNCATE ledger_transaction CASCADE",
        "UPDATE audit_log SET action = 'test.undone'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        assert_eq!(
            refused(&client, sql).await,
            SqlState::RESTRICT_VIOLATION,
            "{sql}"
        );
    }
}

#[tokio::test]
async fn one_pending_card_operation_per_customer() {
    let client = with_fixture().await;
    client
        .batch_execute(
            "INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (10000001, 1, 1, 1)",
        )
        .await
        .unwrap();
    let pending = |key: &str| {
        format!(
            "INSERT INTO card_operation (customer_id, card_id, kind, purchase_seq, purchase_record_after,
                                         idempotency_key, operator_id, plan)
             VALUES (1, 1, 'recharge', 1, decode(repeat('00', 32), 'hex'), '{key}', 1, '{{}}')"
        )
    };
    client.batch_execute(&pending("op1")).await.unwrap();
    let state = refused(&client, &pending("op2")).await;
    assert_eq!(state, SqlState::UNIQUE_VIOLATION);
    // A pending operation must keep its plan: resolution compares the card with it (V5).
    client
        .batch_execute("UPDATE card_operation SET state = 'done', finished_at = now()")
        .await
        .unwrap();
    let without_plan = pending("op3")
        .replace(", plan)", ")")
        .replace(", '{}')", ")");
    assert_eq!(
        refused(&client, &without_plan).await,
        SqlState::CHECK_VIOLATION
    );
}

async fn holds(client: &tokio_postgres::Client, rule: &str, sql: &str) {
    let violations: i64 = scalar(client, sql).await;
    assert_eq!(violations, 0, "{rule}");
}

#[tokio::test]
async fn demo_data_is_consistent() {
    let (db, client) = owner_db().await;
    let mut phases = Vec::new();
    let summary = demo::load(&db.pool, 2_000, |progress| phases.push(progress.phase))
        .await
        .expect("load demo data");
    assert_eq!(summary.customers, 2_000);
    assert_eq!(summary.operators.len(), 3);
    assert!(summary.operators.iter().all(|o| o.password.len() == 12));
    assert!(phases.contains(&demo::Phase::Ledger));
    assert!(demo::has_customers(&client).await.unwrap());
    let vacuumed: bool = scalar(
        &client,
        "SELECT bool_and(relpages > 0 AND relallvisible = relpages) FROM pg_class
         WHERE relname IN ('customer', 'customer_name_char')",
    )
    .await;
    assert!(
        vacuumed,
        "the searches' index-only scans need the visibility map"
    );

    let customers: i64 = scalar(&client, "SELECT count(*) FROM customer").await;
    assert_eq!(customers, 2_000);
    holds(
        &client,
        "every balance is the sum of its account's transactions",
        "SELECT count(*) FROM account a
         WHERE balance <> COALESCE((SELECT sum(amount) FROM ledger_transaction l WHERE l.account_id = a.id), 0)",
    )
    .await;
    holds(
        &client,
        "every installed meter is bound to exactly one customer",
        "SELECT count(*) FROM meter m WHERE status = 'installed'
           AND (SELECT count(*) FROM customer c WHERE c.meter_id = m.id) <> 1",
    )
    .await;
    holds(
        &client,
        "card meters only for meter_prepaid customer types",
        "SELECT count(*) FROM customer c JOIN meter_type t ON t.id = c.meter_type_id
         WHERE t.takes_card <> (c.business_model = 'meter_prepaid')",
    )
    .await;
    holds(
        &client,
        "closed customers have zero balance and no unpaid bills",
        "SELECT count(*) FROM customer c JOIN account a ON a.customer_id = c.id
         WHERE c.status = 'closed'
           AND (a.balance <> 0 OR EXISTS (SELECT 1 FROM bill b WHERE b.account_id = a.id AND b.status = 'unpaid'))",
    )
    .await;
    holds(
        &client,
        "paid bills are paid by exactly their amount",
        "SELECT count(*) FROM bill b WHERE status = 'paid'
           AND -b.amount <> (SELECT sum(amount) FROM ledger_transaction l WHERE l.bill_id = b.id)",
    )
    .await;
    holds(
        &client,
        "every bill is one of its scheme's settlement cycles, as a reading's bill would be",
        "SELECT count(*) FROM bill b JOIN account a ON a.id = b.account_id
           JOIN customer c ON c.id = a.customer_id
           JOIN customer_type t ON t.id = c.customer_type_id
           JOIN price_scheme s ON s.id = t.price_scheme_id
         WHERE b.period_start <> (s.start_date + make_interval(months =>
                   ((extract(year FROM b.period_start)::int * 12 + extract(month FROM b.period_start)::int
                     - extract(year FROM s.start_date)::int * 12 - extract(month FROM s.start_date)::int)
                    / s.settlement_cycle_months) * s.settlement_cycle_months))::date
            OR b.period_end <> (b.period_start
                   + make_interval(months => s.settlement_cycle_months) - interval '1 day')::date",
    )
    .await;
    holds(
        &client,
        "every bill has the one reading that priced it: read in its cycle, its volume between \
         its readings",
        "SELECT count(*) FROM bill b JOIN account a ON a.id = b.account_id
           JOIN customer c ON c.id = a.customer_id
         WHERE (SELECT count(*) FROM meter_reading r
                WHERE r.bill_id = b.id AND r.meter_id = c.meter_id AND r.customer_id = c.id
                  AND r.read_on BETWEEN b.period_start AND b.period_end
                  AND r.created_at = b.issued_at AND r.previous = b.previous_reading
                  AND r.electronic = b.current_reading AND r.consumption = b.volume) <> 1",
    )
    .await;
    holds(
        &client,
        "every deduction has the one reading that priced it, read when it was deducted",
        "SELECT count(*) FROM ledger_transaction t JOIN account a ON a.id = t.account_id
           JOIN customer c ON c.id = a.customer_id
         WHERE t.kind = 'consumption'
           AND (SELECT count(*) FROM meter_reading r
                WHERE r.transaction_id = t.id AND r.meter_id = c.meter_id AND r.customer_id = c.id
                  AND r.read_on = (t.created_at AT TIME ZONE 'UTC')::date AND r.created_at = t.created_at
                  AND r.consumption = t.volume) <> 1",
    )
    .await;
    holds(
        &client,
        "every reading prices a bill or a deduction of its customer",
        "SELECT count(*) FROM meter_reading r
         WHERE r.bill_id IS NULL AND r.transaction_id IS NULL",
    )
    .await;
    holds(
        &client,
        "each meter's readings are one chain, by date, from its initial reading: each follows \
         the one before it, its consumption the difference",
        "SELECT count(*) FROM (
             SELECT r.*, lag(r.id) OVER w AS before_id, lag(r.electronic) OVER w AS before,
                    lag(r.read_on) OVER w AS before_on
             FROM meter_reading r WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.read_on, r.id)) r
           JOIN meter m ON m.id = r.meter_id
         WHERE r.previous_id IS DISTINCT FROM r.before_id
            OR r.previous <> coalesce(r.before, m.initial_electronic_reading)
            OR r.read_on = r.before_on OR r.rollover
            OR r.consumption <> r.electronic - r.previous OR r.consumption <= 0",
    )
    .await;
    holds(
        &client,
        "a reading is marked abnormal exactly as the database marks one (sql/V58)",
        "SELECT count(*) FROM (
             SELECT r.abnormal, r.consumption, count(*) OVER w AS n, sum(r.consumption) OVER w AS total
             FROM meter_reading r
             WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.read_on, r.id
                          ROWS BETWEEN 6 PRECEDING AND 1 PRECEDING)) r
         WHERE r.abnormal <> (r.n > 0 AND r.consumption * r.n > 3 * r.total)",
    )
    .await;
    holds(
        &client,
        "a new reading follows the latest reading, the latest bill's current reading",
        "SELECT count(*) FROM customer c
           JOIN LATERAL (SELECT b.current_reading FROM account a JOIN bill b ON b.account_id = a.id
                         WHERE a.customer_id = c.id
                         ORDER BY b.period_end DESC LIMIT 1) last_bill ON true
           CROSS JOIN LATERAL reading_latest(c.meter_id) latest
         WHERE latest.electronic <> last_bill.current_reading
            OR latest.bill_id IS NULL",
    )
    .await;
    let models_read: i64 = scalar(
        &client,
        "SELECT count(DISTINCT c.business_model) FROM meter_reading r
         JOIN customer c ON c.id = r.customer_id",
    )
    .await;
    assert_eq!(
        models_read, 2,
        "postpaid and system-prepaid meters are read"
    );
    let abnormal: i64 = scalar(&client, "SELECT count(*) FROM meter_reading WHERE abnormal").await;
    assert!(abnormal > 0, "the abnormal list has demo readings");
    holds(
        &client,
        "every card purchase has its card operation",
        "SELECT count(*) FROM ledger_transaction l WHERE kind = 'card_purchase'
           AND NOT EXISTS (SELECT 1 FROM card_operation o WHERE o.transaction_id = l.id)",
    )
    .await;
    let uninstalled: i64 = scalar(
        &client,
        "SELECT count(*) FROM meter WHERE status = 'uninstalled'",
    )
    .await;
    assert!(uninstalled >= 2_000);
    let combinations: i64 = scalar(
        &client,
        "SELECT count(DISTINCT (nature, business_model)) FROM customer",
    )
    .await;
    assert_eq!(combinations, 9, "every nature × business model");
    let active_cards: i64 =
        scalar(&client, "SELECT count(*) FROM card WHERE state = 'active'").await;
    assert!(active_cards > 0);
    let by_character: i64 = scalar(
        &client,
        "SELECT count(*) FROM customer
         WHERE string_to_array(lower(name), NULL) @> string_to_array('张', NULL) AND name LIKE '%张%'",
    )
    .await;
    assert!(by_character > 0, "name search by one character");
    let latin_and_chinese: i64 = scalar(
        &client,
        "SELECT count(DISTINCT name ~ '^[A-Za-z]') FROM customer WHERE nature = 'personal'",
    )
    .await;
    assert_eq!(latin_and_chinese, 2);
    let numbers: Vec<i64> = client
        .query("SELECT customer_no FROM customer", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("customer_no"))
        .collect();
    assert!(numbers.iter().all(|&number| {
        u32::try_from(number)
            .ok()
            .and_then(|number| CustomerNumber::try_from(number).ok())
            .is_some()
    }));

    // The sequences moved past the loaded rows: the next customer gets a fresh serial and
    // plain inserts get fresh ids.
    let next_serial: i64 = scalar(&client, "SELECT nextval('customer_serial')").await;
    let max_serial: i64 = scalar(&client, "SELECT max(customer_no) / 10 FROM customer").await;
    assert!(next_serial > max_serial);
    client
        .batch_execute(
            "INSERT INTO meter (meter_no, meter_type_id) SELECT 'NEW-1', min(id) FROM meter_type;
             INSERT INTO receipt (receipt_no, customer_id, operator_id)
                 SELECT nextval('receipt_no_seq'), min(customer_id), min(operator_id) FROM receipt;
             INSERT INTO meter_reading (meter_id, customer_id, read_on, electronic, source,
                                        previous_id, previous, consumption, idempotency_key)
                 SELECT meter_id, customer_id, read_on, electronic, 'counter', id, electronic, 0,
                        'after-demo'
                 FROM meter_reading ORDER BY id DESC LIMIT 1;",
        )
        .await
        .expect("sequences are past the loaded rows");
    // The ledger trigger is back on.
    client
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code, idempotency_key)
             SELECT min(id), 'deposit', 10, 'cash', 'after-demo' FROM account WHERE kind = 'prepaid'",
        )
        .await
        .unwrap();
    holds(
        &client,
        "the balance trigger works again after the load",
        "SELECT count(*) FROM account a
         WHERE balance <> COALESCE((SELECT sum(amount) FROM ledger_transaction l WHERE l.account_id = a.id), 0)",
    )
    .await;

    let again = demo::load(&db.pool, 10, |_| {}).await;
    assert!(matches!(again, Err(DemoError::NotEmpty(2_000))));
}

/// The demo's payments belong to shifts as a clerk's do (session 33's "Found, not fixed": its
/// COPY opened none, so a demo day's shifts report was empty beside its takings, and the
/// demo clerks' Z reports too): each operator's shift of a day opens at their first money of
/// that day, in the desk's zone, and is closed by the day's end, or the load's for today's;
/// every payment lies in exactly one, and the books still balance.
#[tokio::test]
async fn the_demos_payments_belong_to_shifts_opened_at_each_days_first_money() {
    let (db, mut client) = owner_db().await;
    demo::load(&db.pool, 300, |_| {})
        .await
        .expect("load demo data");
    let zone = chrono::Local::now().offset().local_minus_utc();
    let east = format!("make_interval(secs => {zone})");
    holds(
        &client,
        "every operator's ledger row lies in exactly one of their shifts",
        "SELECT count(*) FROM ledger_transaction t
         WHERE t.operator_id IS NOT NULL
           AND (SELECT count(*) FROM shift s
                WHERE s.operator_id = t.operator_id AND t.created_at >= s.opened_at
                  AND t.created_at < coalesce(s.closed_at, 'infinity')) <> 1",
    )
    .await;
    holds(
        &client,
        "a shift opens at its operator's first money of its day, and is closed within that day",
        &format!(
            "SELECT count(*) FROM shift s
             WHERE NOT s.opened_by_payment OR s.closed_at IS NULL
                OR s.opened_at <> (SELECT min(t.created_at) FROM ledger_transaction t
                                   WHERE t.operator_id = s.operator_id
                                     AND t.created_at >= s.opened_at AND t.created_at < s.closed_at)
                OR s.closed_at > ((s.opened_at AT TIME ZONE {east})::date + 1)::timestamp
                                 AT TIME ZONE {east}"
        ),
    )
    .await;
    holds(
        &client,
        "a shift a day with money, closed at the day's end but the last (the load's today)",
        &format!(
            "SELECT count(*) FROM (
                 SELECT s.closed_at, (s.opened_at AT TIME ZONE {east})::date AS day,
                        lead(s.opened_at) OVER (PARTITION BY s.operator_id ORDER BY s.opened_at)
                            AS next
                 FROM shift s) s
             WHERE s.next IS NOT NULL
               AND (s.closed_at <> (s.day + 1)::timestamp AT TIME ZONE {east}
                    OR (s.next AT TIME ZONE {east})::date = s.day)"
        ),
    )
    .await;
    // The supervisor's reports of the last whole demo day that took money (300 customers do
    // not pay every day: the day before the load's today may have taken nothing, as it did
    // at 03:50 in Shanghai): its shifts took what the day took.
    let (shifts, takings): (Decimal, Decimal) = {
        let row = client
            .query_one(
                &format!(
                    "WITH day AS (
                         SELECT d::timestamp AT TIME ZONE {east} AS from_,
                                (d + 1)::timestamp AT TIME ZONE {east} AS to_
                         FROM (SELECT max(paid.on_) AS d
                               FROM (SELECT (created_at AT TIME ZONE {east})::date AS on_
                                     FROM ledger_transaction
                                     WHERE operator_id IS NOT NULL AND kind = 'deposit') paid
                               WHERE paid.on_ < (SELECT (max(created_at) AT TIME ZONE {east})::date
                                                 FROM ledger_transaction
                                                 WHERE operator_id IS NOT NULL)) latest)
                     SELECT (SELECT coalesce(sum(r.takings), 0) FROM report_shifts(from_, to_) r),
                            (SELECT coalesce(sum(r.takings), 0)
                             FROM report_takings(from_, to_, {zone}) r)
                     FROM day"
                ),
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(takings > Decimal::ZERO, "the day took money");
    assert_eq!(shifts, takings, "its shifts report says what it took");
    let checks = meterdesk::db::books::check(&mut client).await.unwrap();
    assert!(
        checks.iter().all(|check| check.disagreements.is_empty()),
        "{}",
        meterdesk::tools::check::report(&checks)
    );
}

/// Where the sequences of the bulk-loaded rows and of customer and card numbers stand.
async fn demo_sequences(client: &tokio_postgres::Client) -> Vec<(String, Option<i64>)> {
    client
        .query(
            "SELECT sequencename::text AS name, last_value FROM pg_sequences
             WHERE sequencename IN ('customer_serial', 'card_no_seq', 'receipt_no_seq',
                   'customer_id_seq', 'meter_id_seq', 'customer_owner_history_id_seq',
                   'account_id_seq', 'bill_id_seq', 'ledger_transaction_id_seq', 'card_id_seq',
                   'card_operation_id_seq', 'meter_reading_id_seq')
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("name"), row.get("last_value")))
        .collect()
}

#[tokio::test]
async fn a_refused_or_failed_demo_load_uses_up_no_number() {
    let (db, client) = owner_db().await;
    let untouched = demo_sequences(&client).await;
    assert_eq!(untouched.len(), 12, "{untouched:?}");

    let every_number = u64::from(SEQUENCE_VALUES.end() - SEQUENCE_VALUES.start()) + 1;
    let refused = demo::load(&db.pool, every_number + 1, |_| {}).await;
    assert!(
        matches!(refused, Err(DemoError::TooMany { max, .. }) if max == every_number),
        "{refused:?}"
    );
    assert_eq!(demo_sequences(&client).await, untouched);

    // A meter numbered as the demo's first one: the load fails at its very end, when the
    // meter numbers' unique key is built again.
    client
        .batch_execute(
            "INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
                 VALUES ('in the way', 'postpayment', false, 'DN15', 'Acme');
             INSERT INTO meter (meter_no, meter_type_id)
                 SELECT '201600000001', id FROM meter_type WHERE name = 'in the way';",
        )
        .await
        .unwrap();
    let before = demo_sequences(&client).await;
    let (migrated, rows) = (definitions(&client).await, row_counts(&client).await);
    let failed = demo::load(&db.pool, 200, |_| {}).await;
    assert!(matches!(failed, Err(DemoError::Database(_))), "{failed:?}");
    assert_eq!(demo_sequences(&client).await, before);
    // The tables were filled and committed before the key failed: undone, one for one.
    assert_eq!(definitions(&client).await, migrated);
    assert_eq!(row_counts(&client).await, rows);
    assert_eq!(
        scalar::<i64>(&client, "SELECT count(*) FROM customer").await,
        0
    );

    client
        .batch_execute(
            "DELETE FROM meter WHERE meter_no = '201600000001';
             DELETE FROM meter_type WHERE name = 'in the way';",
        )
        .await
        .unwrap();
    demo::load(&db.pool, 200, |_| {}).await.unwrap();
    let first_number: i64 = scalar(&client, "SELECT min(customer_no) FROM customer").await;
    let first = CustomerNumber::from_sequence_value(*SEQUENCE_VALUES.start()).unwrap();
    assert_eq!(
        first_number,
        i64::from(first.value()),
        "the first number is the first one"
    );
}

/// A clerk's psql holding advisory locks (the load's keys before sql/V89, keys of the load's
/// classes now) keeps no load from starting, and cannot take the lock that keeps two loads
/// apart (s33-c: on main the load answered "under way" while the clerk's session lived).
#[tokio::test]
async fn a_clerks_locks_keep_no_demo_load_from_starting() {
    let (db, client) = owner_db().await;
    let clerk_pool = db.operator("clerk.one", &["clerk"]).await;
    let clerk = clerk_pool.get().await.unwrap();
    // A session lock is the owner's alone now (db::embedded's SESSION_LOCKS): held in an
    // open transaction of another connection instead, through the load.
    let session_lock = clerk
        .batch_execute("SELECT pg_advisory_lock(x'006d645f62756c6b'::bigint)")
        .await;
    assert_eq!(
        session_lock.unwrap_err().code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    );
    let holder = clerk_pool.get().await.unwrap();
    holder
        .batch_execute(
            "BEGIN;
             SELECT pg_advisory_xact_lock(x'006d645f62756c6b'::bigint);
             SELECT pg_advisory_xact_lock(x'006d645f62756c6c'::bigint);
             SELECT pg_advisory_xact_lock(x'6d5f6275'::int, k) FROM generate_series(0, 99) k;
             SELECT pg_advisory_xact_lock_shared(x'6d5f6276'::int, k)
             FROM generate_series(0, 99) k;",
        )
        .await
        .unwrap();
    let gate = clerk
        .batch_execute("BEGIN; LOCK TABLE bulk_load_gate IN ACCESS EXCLUSIVE MODE")
        .await;
    assert_eq!(
        gate.unwrap_err().code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    );
    clerk.batch_execute("ROLLBACK").await.unwrap();
    let take = clerk
        .query_one("SELECT bulk_load_take(x'6d5f6275'::int, true)", &[])
        .await;
    assert_eq!(
        take.unwrap_err().code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    );

    demo::load(&db.pool, 300, |_| {}).await.unwrap();
    assert_eq!(
        scalar::<i64>(&client, "SELECT count(*) FROM customer").await,
        300
    );
    holder.batch_execute("ROLLBACK").await.unwrap();
}

/// A load that fails in its last transaction, after the foreign keys between the loaded tables
/// were added and checked on both connections (and a meter in stock kept): those foreign keys
/// are dropped with the rows and added again, and everything is as before.
#[tokio::test]
async fn a_demo_load_failing_at_its_end_undoes_the_foreign_keys_it_had_checked() {
    let (db, client) = owner_db().await;
    client
        .batch_execute(
            "INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
                 VALUES ('in stock', 'postpayment', false, 'DN15', 'Acme');
             INSERT INTO meter (meter_no, meter_type_id)
                 SELECT 'STOCK-1', id FROM meter_type WHERE name = 'in stock';
             CREATE FUNCTION refuse_the_load() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 RAISE EXCEPTION 'no load today';
             END $$;
             CREATE TRIGGER refuse_the_load BEFORE INSERT ON audit_log FOR EACH ROW
                 WHEN (NEW.action = 'demo.load') EXECUTE FUNCTION refuse_the_load();",
        )
        .await
        .unwrap();
    let (migrated, rows) = (definitions(&client).await, row_counts(&client).await);
    let sequences = demo_sequences(&client).await;
    let mut checked = 0;
    let failed = demo::load(&db.pool, 300, |progress| {
        if progress.phase == demo::Phase::ForeignKeys {
            checked += 1;
        }
    })
    .await;
    assert!(matches!(failed, Err(DemoError::Database(_))), "{failed:?}");
    assert!(
        checked > 0,
        "foreign keys were added before the last transaction"
    );
    assert_eq!(definitions(&client).await, migrated);
    assert_eq!(row_counts(&client).await, rows);
    assert_eq!(demo_sequences(&client).await, sequences);
}

/// A loader killed between two of its steps can leave a key's index built and not yet attached
/// to its key, and a foreign key added and not yet checked: the undoing drops both and builds
/// them again as the migration defined them.
#[tokio::test]
async fn an_undone_load_rebuilds_a_key_left_as_an_index_and_an_unchecked_foreign_key() {
    let (_db, mut client) = owner_db().await;
    let migrated = definitions(&client).await;
    let raw: &mut tokio_postgres::Client = &mut client;
    let tx = raw.transaction().await.unwrap();
    let dropped = bulk_load::definitions(&tx, demo::BULK_TABLES)
        .await
        .unwrap();
    let filled: Vec<Filled> = demo::BULK_TABLES
        .iter()
        .map(|table| Filled::Empty((*table).to_owned()))
        .collect();
    bulk_load::begin(&tx, &filled, &dropped).await.unwrap();
    tx.commit().await.unwrap();
    let named = |name: &str| dropped.iter().find(|d| d.name == name).unwrap();
    let (attached, unattached) = (
        named("customer_id_account_kind_key"),
        named("customer_pkey"),
    );
    let statements = [
        attached.index_statement().unwrap().to_owned(),
        attached.attach_statement().unwrap(),
        unattached.index_statement().unwrap().to_owned(),
        named("account_customer_id_kind_fkey").unchecked_statement(),
    ];
    client.batch_execute(&statements.join(";\n")).await.unwrap();
    assert_ne!(definitions(&client).await, migrated);

    let undone = bulk_load::finish_abandoned(&mut client).await.unwrap();
    assert_eq!(undone, bulk_load::Abandoned::Undone);
    assert_eq!(definitions(&client).await, migrated);
}

/// Every row trigger that fires on a bulk table's insert is a call per loaded row (tens of
/// millions at 10 M): the loader turns off those that do nothing for the owner. One that
/// checks the owner's rows too is kept on, and named here; a new one must be placed.
#[tokio::test]
async fn a_demo_load_keeps_on_only_the_row_triggers_that_check_its_rows() {
    let client = client().await;
    let kept_on: Vec<String> = client
        .query(
            "SELECT tgrelid::regclass::text || '.' || tgname AS trigger FROM pg_trigger
             WHERE NOT tgisinternal
               AND tgtype & 1 = 1 -- for each row
               AND tgtype & 4 = 4 -- on insert
               AND tgrelid = ANY($1::text[]::regclass[])
               AND NOT (tgrelid::regclass::text || '.' || tgname) = ANY($2)
             ORDER BY 1",
            &[
                &demo::BULK_TABLES,
                &demo::ROW_TRIGGERS_OFF
                    .iter()
                    .map(|(table, trigger)| format!("{table}.{trigger}"))
                    .collect::<Vec<_>>(),
            ],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("trigger"))
        .collect();
    // A reversal's original must exist, whoever writes it.
    assert_eq!(kept_on, ["ledger_transaction.ledger_check_reversal"]);
}

/// A trigger with a transition table of a bulk table's inserts makes PostgreSQL keep a copy of
/// every loaded row, enabled or not: the loader drops those that do nothing for the owner in
/// the table's transaction and creates them again before it commits. Every such trigger is
/// named (a new one must be placed), and after a load, a failed one and the next, each is there
/// as the migration defined it and enabled.
#[tokio::test]
async fn a_demo_load_leaves_every_trigger_it_dropped_for_its_rows_as_it_was() {
    let (db, client) = owner_db().await;
    let with_transition_tables = bulk_table_triggers(
        &client,
        "tgtype & 4 = 4 -- on insert
         AND tgnewtable IS NOT NULL",
    )
    .await;
    let mut named: Vec<String> = demo::TRANSITION_TRIGGERS_DROPPED
        .iter()
        .map(|(table, trigger)| format!("{table}.{trigger}"))
        .collect();
    named.sort();
    assert_eq!(with_transition_tables, named);

    // The load fails in its last transaction, after every table was copied.
    client
        .batch_execute(
            "CREATE FUNCTION refuse_the_load() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 RAISE EXCEPTION 'no load today';
             END $$;
             CREATE TRIGGER refuse_the_load BEFORE INSERT ON audit_log FOR EACH ROW
                 WHEN (NEW.action = 'demo.load') EXECUTE FUNCTION refuse_the_load();",
        )
        .await
        .unwrap();
    let triggers = || async {
        texts(
            &client,
            "SELECT format('%s.%s %s %s', tgrelid::regclass, tgname, tgenabled,
                          pg_get_triggerdef(oid))
             FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
        )
        .await
    };
    let migrated = triggers().await;
    assert!(
        migrated
            .iter()
            .any(|t| t.starts_with("meter.added_is_told O ")
                && t.contains("REFERENCING NEW TABLE AS written")
                && t.contains("WHEN ((NOT pg_has_role")),
        "{migrated:?}"
    );
    let mut copied = Vec::new();
    let failed = demo::load(&db.pool, 200, |progress| {
        if progress.rows > 0 && !copied.contains(&progress.phase) {
            copied.push(progress.phase);
        }
    })
    .await;
    assert!(matches!(failed, Err(DemoError::Database(_))), "{failed:?}");
    for phase in [
        demo::Phase::Meters,
        demo::Phase::Customers,
        demo::Phase::Ledger,
    ] {
        assert!(copied.contains(&phase), "{phase} was copied: {copied:?}");
    }
    assert_eq!(triggers().await, migrated);

    client
        .batch_execute("DROP TRIGGER refuse_the_load ON audit_log")
        .await
        .unwrap();
    let migrated = triggers().await;
    demo::load(&db.pool, 200, |_| {}).await.unwrap();
    assert_eq!(triggers().await, migrated);
}

/// The customer's statistics are gathered in two passes (`db::bulk_load::statistics_statements`):
/// the index expressions' from the default sample, the columns' from the sample their raised
/// targets ask for. Afterwards the targets are the migration's, and every column and every
/// index expression the searches' plans read has its statistics.
#[tokio::test]
async fn a_demo_load_gathers_every_statistic_the_searches_plan_with() {
    let (db, client) = owner_db().await;
    let targets = "SELECT attname || ' ' || attstattarget FROM pg_attribute
                   WHERE attrelid = 'customer'::regclass AND attnum > 0 AND attstattarget >= 0
                   ORDER BY 1";
    let migrated = texts(&client, targets).await;
    assert_eq!(migrated, ["address 1000", "name 1000"]);
    let statements = bulk_load::statistics_statements(&**client, &["customer", "meter"])
        .await
        .unwrap();
    let of = |table: &str| {
        statements
            .iter()
            .find(|(of, _)| of == table)
            .map(|(_, statements)| statements.as_str())
            .unwrap()
    };
    assert_eq!(of("meter"), "ANALYZE meter");
    assert!(
        of("customer").contains("ANALYZE customer (id, "),
        "{}",
        of("customer")
    );

    demo::load(&db.pool, 2_000, |_| {}).await.unwrap();
    assert_eq!(texts(&client, targets).await, migrated);
    let gathered = texts(
        &client,
        "SELECT tablename || '.' || attname FROM pg_stats
         WHERE schemaname = 'public'
           AND tablename IN ('customer', 'customer_address_trigrams', 'customer_address_chars',
                             'customer_phone_digits')
         ORDER BY 1",
    )
    .await;
    let columns = texts(
        &client,
        "SELECT 'customer.' || attname FROM pg_attribute
         WHERE attrelid = 'customer'::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .await;
    for expected in columns.iter().map(String::as_str).chain([
        "customer_address_trigrams.text_trigrams",
        "customer_address_chars.string_to_array",
        "customer_phone_digits.phone_digits",
    ]) {
        assert!(
            gathered.iter().any(|g| g == expected),
            "{expected}: {gathered:?}"
        );
    }
    let common_runs: i64 = scalar(
        &client,
        "SELECT cardinality(most_common_elems::text::text[])::bigint FROM pg_stats
         WHERE tablename = 'customer_address_trigrams'",
    )
    .await;
    assert!(common_runs > 100, "{common_runs} runs");
}

/// The loader truncates the empty bulk tables (so COPY may freeze their rows and, on a cluster
/// with `wal_level = minimal`, write them without WAL); the triggers that refuse a TRUNCATE are
/// named, and a new one must be placed.
#[tokio::test]
async fn a_demo_load_names_every_trigger_that_refuses_a_truncate_and_freezes_its_rows() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let guards = bulk_table_triggers(&client, "tgtype & 32 = 32 -- on truncate").await;
    let named: Vec<String> = demo::TRUNCATE_GUARDS
        .iter()
        .map(|(table, trigger)| format!("{table}.{trigger}"))
        .collect();
    assert_eq!(guards, named);

    // Rows written frozen are visible even to a snapshot taken before the load committed
    // (COPY FREEZE's documented exception to MVCC); rows written the usual way are not.
    let earlier = db.pool.get().await.unwrap();
    earlier
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        .await
        .unwrap();
    demo::load(&db.pool, 50, |_| {}).await.unwrap();
    let seen: i64 = scalar(&earlier, "SELECT count(*) FROM customer").await;
    assert_eq!(seen, 50, "the customers were copied frozen");
    earlier.batch_execute("COMMIT").await.unwrap();
    assert!(
        client
            .batch_execute("TRUNCATE ledger_transaction")
            .await
            .is_err(),
        "the guard is on again after the load"
    );
}

/// The loader writes customer_name_char itself, with the customers' trigger off: the rows
/// must be exactly those the trigger (sql/V11's `name_keys`) would have written.
#[tokio::test]
async fn a_demo_load_writes_the_name_keys_the_trigger_would() {
    let (db, client) = owner_db().await;
    demo::load(&db.pool, 2_000, |_| {}).await.unwrap();
    let by_the_trigger =
        "SELECT k, c.name, c.customer_no, c.id FROM customer c, name_keys(c.name) k";
    let loaded = "SELECT ch, name, customer_no, customer_id FROM customer_name_char";
    let differing: i64 = scalar(
        &client,
        &format!(
            "SELECT count(*) FROM (({by_the_trigger} EXCEPT ALL {loaded})
                                   UNION ALL ({loaded} EXCEPT ALL {by_the_trigger})) d"
        ),
    )
    .await;
    assert_eq!(differing, 0);
    let (characters, runs): (i64, i64) = {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE length(ch) = 1) AS characters,
                        count(*) FILTER (WHERE length(ch) = 3) AS runs
                 FROM customer_name_char",
                &[],
            )
            .await
            .unwrap();
        (row.get("characters"), row.get("runs"))
    };
    assert!(
        characters > 1_000 && runs > 1_000,
        "{characters} characters, {runs} runs"
    );
}

#[tokio::test]
async fn demo_data_is_deterministic_apart_from_passwords() {
    let (first_db, first) = owner_db().await;
    let (second_db, second) = owner_db().await;
    demo::load(&first_db.pool, 300, |_| {}).await.unwrap();
    demo::load(&second_db.pool, 300, |_| {}).await.unwrap();
    let fingerprint = "SELECT md5(string_agg(concat_ws('|', customer_no, name, address, phone, meter_id), ',' ORDER BY id))
                       FROM customer";
    let a: String = scalar(&first, fingerprint).await;
    let b: String = scalar(&second, fingerprint).await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_refused_statement_says_what_the_server_said() {
    let client = client().await;
    let error = client
        .execute("INSERT INTO meter_type (name) VALUES (NULL)", &[])
        .await
        .unwrap_err();
    let text = meterdesk::db::DbError::from(error).to_string();
    assert!(
        text.contains("null value in column \"name\"") && text.contains("(SQLSTATE 23502)"),
        "{text}"
    );
}

#[tokio::test]
async fn the_server_ends_a_transaction_its_client_abandoned() {
    let client = client().await;
    let timeout: String = client
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .await
        .unwrap()
        .get("idle_in_transaction_session_timeout");
    assert_eq!(timeout, "30s", "a lost desk's transaction frees its keys");
}

/// V36: the operators may write every column of the reference tables (their guards decide),
/// and a table's guard names exactly the permissions whose roles may delete from it — so a
/// column or a guard added later without its grant is caught here, not at a counter.
#[tokio::test]
async fn every_reference_column_is_granted_and_deletes_follow_the_guards() {
    let client = client().await;
    let ungranted = texts(
        &client,
        "SELECT m.reference::text || '.' || a.attname AS missing
             FROM (SELECT DISTINCT reference FROM md_reference_maintainers()) m
             JOIN pg_attribute a ON a.attrelid = m.reference AND a.attnum > 0
                                 AND NOT a.attisdropped
             WHERE NOT has_column_privilege(md_role_name('operator'), m.reference, a.attnum,
                                            'INSERT, UPDATE')
             ORDER BY 1",
    )
    .await;
    assert_eq!(
        ungranted,
        Vec::<String>::new(),
        "columns the desk cannot write"
    );
    let differ = texts(
        &client,
        "WITH guarded AS (
                 SELECT t.tgrelid::regclass AS reference, p AS permission
                 FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid,
                      unnest(string_to_array(encode(t.tgargs, 'escape'), '\\000')) p
                 WHERE f.proname = 'md_guard' AND p <> ''
                   AND t.tgrelid IN (SELECT reference FROM md_reference_maintainers())
                   AND t.tgtype & 8 <> 0)
             SELECT coalesce(g.reference, m.reference)::text || ' ' ||
                    coalesce(g.permission, m.permission) AS differ
             FROM guarded g FULL JOIN md_reference_maintainers() m
                  ON m.reference = g.reference AND m.permission = g.permission
             WHERE g.reference IS NULL OR m.reference IS NULL
             ORDER BY 1",
    )
    .await;
    assert_eq!(differ, Vec::<String>::new(), "deletes and guards disagree");
    let may_delete: bool = scalar(
        &client,
        "SELECT has_table_privilege(md_role_name('operator'), 'price_tier', 'DELETE')
             OR has_table_privilege(md_role_name('clerk'), 'price_tier', 'DELETE')",
    )
    .await;
    assert!(!may_delete, "a clerk may delete price tiers");
}

/// V40: the checks every write calls — who is signed in, whether a permission is held, a role's
/// name — are PL/pgSQL, whose queries are planned once per session. As SQL functions that cannot
/// be inlined (SECURITY DEFINER, a FROM) every statement calling them parsed and planned them
/// again (docs/decisions.md, "The soak's CPU, session 22"). What they answer is V13's. V73:
/// md_written_here, which every audit entry's check asks, likewise (a SQL function with a SET
/// clause: "A card recharge asks less").
#[tokio::test]
async fn the_checks_every_write_calls_keep_their_plans() {
    let client = client().await;
    let languages = languages(
        &client,
        &[
            "current_operator_id",
            "md_permitted",
            "md_role_name",
            "md_written_here",
        ],
    )
    .await;
    assert_eq!(
        languages,
        [
            "current_operator_id plpgsql",
            "md_permitted plpgsql",
            "md_role_name plpgsql",
            "md_written_here plpgsql"
        ]
    );
    let answers = client
        .query_one(
            "SELECT current_operator_id() IS NULL AS owner_is_no_operator,
                    md_permitted('customer.modify') AS owner_may,
                    to_regrole(md_role_name('clerk')) IS NOT NULL AS role_named",
            &[],
        )
        .await
        .unwrap();
    for column in ["owner_is_no_operator", "owner_may", "role_named"] {
        assert!(answers.get::<_, bool>(column), "{column}");
    }
}

/// V43: md_cycle and md_charge, which md_price calls for every card recharge's and reading's
/// check, are PL/pgSQL: as SQL functions that cannot be inlined, every call planned its body
/// again (docs/decisions.md, "The soak's other operations (s23-b)"). What they answer is V34's:
/// md_cycle over every day of two years against V34's query, for cycles of 1, 2, 5 and 12
/// months from a month's last day and from its middle; md_charge on tiers of its own, in steps
/// and by a leap, as V34's answered.
#[tokio::test]
async fn the_prices_helpers_keep_their_plans_and_their_answers() {
    let client = client().await;
    let languages = languages(&client, &["md_cycle", "md_charge"]).await;
    assert_eq!(languages, ["md_charge plpgsql", "md_cycle plpgsql"]);
    let cycles = client
        .query_one(
            "SELECT count(*) AS days,
                    count(*) FILTER (WHERE (c.first_day, c.next_first_day)
                                           IS NOT DISTINCT FROM (v34.first_day, v34.next_first_day))
                        AS same
             FROM (VALUES (date '2025-01-31'), (date '2025-02-15')) starts(p_start)
             CROSS JOIN (VALUES (1), (2), (5), (12)) lengths(p_months)
             CROSS JOIN generate_series(date '2025-01-31', date '2027-01-31', interval '1 day') d
             CROSS JOIN LATERAL (SELECT d::date AS p_date) day
             CROSS JOIN LATERAL md_cycle(p_start, p_months, p_date) c
             CROSS JOIN LATERAL (
                 SELECT (p_start + make_interval(months => cycle * p_months))::date AS first_day,
                        (p_start + make_interval(months => (cycle + 1) * p_months))::date
                            AS next_first_day
                 FROM (SELECT apart - CASE WHEN (p_start + make_interval(months => apart * p_months))::date > p_date
                                           THEN 1 ELSE 0 END AS cycle
                       FROM (SELECT floor(((extract(year FROM p_date) - extract(year FROM p_start)) * 12
                                           + extract(month FROM p_date) - extract(month FROM p_start))
                                          / p_months)::integer AS apart) months) cycles) v34
             WHERE p_date >= p_start",
            &[],
        )
        .await
        .unwrap();
    let (days, same): (i64, i64) = (cycles.get("days"), cycles.get("same"));
    assert!(days > 5000, "{days}");
    assert_eq!(same, days);
    client
        .batch_execute(
            "INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, accumulation_cycle_months, start_date)
             VALUES ('stepped', 'prepaid', 'stepped', 0.09, 12, '2025-01-01'),
                    ('leap', 'prepaid', 'leap', 0.13, 3, '2025-01-31');
             INSERT INTO price_version (price_scheme_id, effective_from)
             SELECT id, start_date FROM price_scheme;
             INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
             SELECT v.id, t.tier_no, t.upper_bound_m3, t.unit_price
             FROM price_version v JOIN price_scheme s ON s.id = v.price_scheme_id
             JOIN (VALUES ('stepped', 1, 50, 1), ('stepped', 2, 100, 2), ('stepped', 3, NULL, 3),
                          ('leap', 1, 500, 8), ('leap', 2, 1000, 12), ('leap', 3, NULL, 16))
                 t(mode, tier_no, upper_bound_m3, unit_price) ON t.mode = s.billing_mode;",
        )
        .await
        .unwrap();
    let charges = texts(
        &client,
        "SELECT c.amount::text || ' ' || c.lines::text
         FROM (VALUES ('stepped', 40, 20), ('leap', 400, 200)) cases(mode, accumulated, volume)
         JOIN price_scheme s ON s.billing_mode = cases.mode
         JOIN price_version v ON v.price_scheme_id = s.id
         CROSS JOIN LATERAL md_charge(v.id, mode, accumulated, volume) c
         ORDER BY s.id",
    )
    .await;
    assert_eq!(
        charges,
        [
            r#"30.00 [{"tier": 1, "amount": "10.00", "volume": "10.000", "unit_price": "1.0000"}, {"tier": 2, "amount": "20.00", "volume": "10.000", "unit_price": "2.0000"}]"#,
            r#"2400.00 [{"tier": 2, "amount": "2400.00", "volume": "200.000", "unit_price": "12.0000"}]"#,
        ]
    );
}

/// V45: a reading's pricing check plans its queries once per session, not at every call: its
/// four checks are static statements under generic plans (no EXECUTE), and the pricing helpers
/// it calls are PL/pgSQL (as SQL functions that cannot be inlined they were planned at every
/// call site). What they answer is held to the desk's pricing by tests/readings_priced.rs
/// (docs/decisions.md, "The reading's locks and cost (s23-a)"). V58's check of the abnormal
/// mark plans its one statement the same way.
#[tokio::test]
async fn the_reading_check_keeps_its_plans() {
    let client = client().await;
    let functions = texts(
        &client,
        "SELECT p.proname || ' ' || l.lanname || ' ' || coalesce(array_to_string(p.proconfig, ' '), '')
                || CASE WHEN p.prosrc ~* '\\mEXECUTE\\M' THEN ' EXECUTE' ELSE '' END
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proname IN ('reading_write_is_priced', 'reading_write_is_marked',
                                 'md_charge', 'md_cycle', 'md_water_on_bill')
             ORDER BY 1",
    )
    .await;
    assert_eq!(
        functions,
        [
            "md_charge plpgsql ",
            "md_cycle plpgsql ",
            "md_water_on_bill plpgsql ",
            "reading_write_is_marked plpgsql search_path=public, pg_temp \
             plan_cache_mode=force_generic_plan",
            "reading_write_is_priced plpgsql search_path=public, pg_temp \
             plan_cache_mode=force_generic_plan"
        ]
    );
}

/// V48: reading_write runs no EXECUTE (its statements are kept in the session's plan cache;
/// the caller's plan_cache_mode chooses their plans, tests/readings_bills.rs
/// `a_counter_reading_keeps_its_plans_and_an_import_does_not`), bill_pay keeps generic plans of
/// its lookups by the bills' ids, and its three-argument form is PL/pgSQL, whose call is planned
/// once per session.
#[tokio::test]
async fn the_reading_and_the_bill_payment_keep_their_plans() {
    let client = client().await;
    let functions = texts(
        &client,
        "SELECT p.proname || '(' || p.pronargs || ') ' || l.lanname || ' '
                || coalesce(array_to_string(p.proconfig, ' '), '')
                || CASE WHEN p.prosrc ~* '\\mEXECUTE\\M' THEN ' EXECUTE' ELSE '' END
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'public'::regnamespace
               AND p.proname IN ('reading_write', 'bill_pay')
             ORDER BY 1",
    )
    .await;
    assert_eq!(
        functions,
        [
            "bill_pay(3) plpgsql search_path=public, pg_temp",
            "bill_pay(4) plpgsql search_path=public, pg_temp plan_cache_mode=force_generic_plan",
            "reading_write(4) plpgsql search_path=public, pg_temp"
        ]
    );
}

/// Every index, constraint and trigger of the schema as the catalog defines it: what a demo
/// load drops and builds again, or undoes, must come back exactly.
async fn definitions(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT 'index ' || indexname || ': ' || indexdef AS definition FROM pg_indexes
             WHERE schemaname = 'public'
             UNION ALL
             SELECT format('constraint %s.%s (%s): %s', conrelid::regclass, conname,
                           CASE WHEN convalidated THEN 'valid' ELSE 'not valid' END,
                           pg_get_constraintdef(oid))
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT format('trigger %s.%s: %s %s', tgrelid::regclass, tgname, tgenabled,
                           pg_get_triggerdef(oid))
             FROM pg_trigger WHERE NOT tgisinternal
             UNION ALL
             SELECT 'table ' || tablename FROM pg_tables WHERE schemaname = 'public'
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("definition"))
        .collect()
}

/// The rows of every table.
async fn row_counts(client: &tokio_postgres::Client) -> Vec<(String, i64)> {
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("name"))
        .collect();
    let mut counts = Vec::new();
    for table in tables {
        let rows: i64 = scalar(client, &format!("SELECT count(*) FROM {table}")).await;
        counts.push((table, rows));
    }
    counts
}

/// The loader drops the bulk tables' keys, indexes and foreign keys and builds them again from
/// the catalog's own definitions: after a load they are those of a fresh migration, one for
/// one (and one index missing is seen).
#[tokio::test]
async fn a_demo_load_leaves_the_keys_indexes_and_triggers_of_a_fresh_migration() {
    let (db, client) = owner_db().await;
    let migrated = definitions(&client).await;
    assert!(migrated.iter().any(|d| d.starts_with("index customer_")));
    demo::load(&db.pool, 300, |_| {}).await.unwrap();
    assert_eq!(definitions(&client).await, migrated);

    let index = migrated
        .iter()
        .find_map(|d| d.strip_prefix("index customer_name_char"))
        .and_then(|rest| rest.split(':').next())
        .map(|rest| format!("customer_name_char{rest}"))
        .unwrap();
    client
        .batch_execute(&format!("DROP INDEX {index}"))
        .await
        .unwrap();
    let missing = definitions(&client).await;
    assert_eq!(missing.len() + 1, migrated.len(), "{index} is missed");
}

/// A loader killed mid-way (its connections gone, as when the process dies) has committed
/// some tables without their keys; the marker it wrote first keeps the desk out, and the next
/// start undoes it: every table, definition and sequence as before. Then a load works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_demo_load_is_undone_at_the_next_start_and_the_next_load_works() {
    let (db, mut client) = owner_db().await;
    let migrated = definitions(&client).await;
    let rows = row_counts(&client).await;
    let sequences = demo_sequences(&client).await;

    let loader_pool = meterdesk::db::pool_from_conn_str(&db.conn_str, 2).unwrap();
    let (indexing, mut indexing_started) = tokio::sync::mpsc::unbounded_channel();
    let loader = tokio::spawn(async move {
        demo::load(&loader_pool, 3_000, |progress| {
            if progress.phase == demo::Phase::KeysAndIndexes {
                let _ = indexing.send(());
            }
        })
        .await
    });
    indexing_started
        .recv()
        .await
        .expect("the load reaches its indexes");
    loader.abort();
    assert!(loader.await.unwrap_err().is_cancelled());

    assert!(
        meterdesk::db::bulk_load::in_progress(&**client)
            .await
            .unwrap()
    );
    assert_ne!(
        row_counts(&client).await,
        rows,
        "a table was committed before its keys"
    );
    assert_ne!(definitions(&client).await, migrated);

    // One of the load's connections is still at work (its statement may yet commit): nothing
    // is undone while it lives, though the loader's first server process is gone within a second.
    let straggler = db.pool.get().await.unwrap();
    meterdesk::db::bulk_load::hold_other(&**straggler)
        .await
        .unwrap();
    for _ in 0..15 {
        assert_eq!(
            meterdesk::db::bulk_load::finish_abandoned(&mut client)
                .await
                .unwrap(),
            meterdesk::db::bulk_load::Abandoned::StillLoading
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    meterdesk::db::bulk_load::release_other(&**straggler)
        .await
        .unwrap();
    drop(straggler);

    // The killed loader's server processes notice within a second that it is gone.
    let mut undone = meterdesk::db::bulk_load::Abandoned::StillLoading;
    for _ in 0..100 {
        undone = meterdesk::db::bulk_load::finish_abandoned(&mut client)
            .await
            .unwrap();
        if undone != meterdesk::db::bulk_load::Abandoned::StillLoading {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(undone, meterdesk::db::bulk_load::Abandoned::Undone);
    assert_eq!(definitions(&client).await, migrated);
    assert_eq!(row_counts(&client).await, rows);
    assert_eq!(demo_sequences(&client).await, sequences);

    demo::load(&db.pool, 300, |_| {}).await.unwrap();
    assert_eq!(definitions(&client).await, migrated);
    assert_eq!(
        scalar::<i64>(&client, "SELECT count(*) FROM customer").await,
        300
    );
}

/// The triggers of the bulk-loaded tables that meet `condition`, as `table.trigger`, in order.
async fn bulk_table_triggers(client: &tokio_postgres::Client, condition: &str) -> Vec<String> {
    client
        .query(
            &format!(
                "SELECT tgrelid::regclass::text || '.' || tgname AS trigger FROM pg_trigger
                 WHERE NOT tgisinternal
                   AND {condition}
                   AND tgrelid = ANY($1::text[]::regclass[])
                 ORDER BY 1"
            ),
            &[&demo::BULK_TABLES],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("trigger"))
        .collect()
}

/// The search reads a prefix as a range of the collation's order (db::customers): a database
/// whose text is not ordered by code point is refused before anything is migrated into it,
/// with what to do; C and glibc's C.UTF-8 are taken.
#[tokio::test]
async fn a_database_not_ordered_by_code_point_is_refused_before_its_migrations() {
    let db = fresh_db().await;
    let cluster = support::pg::cluster();
    for (name, options, refused_as) in [
        ("collation_c_utf8", "LOCALE 'C.utf8'", None),
        (
            "collation_icu",
            "LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en'",
            Some("(ICU)"),
        ),
    ] {
        db.execute_as_superuser(&format!(
            "CREATE DATABASE {name} ENCODING 'UTF8' {options} TEMPLATE template0"
        ))
        .await;
        let (client, connection) = tokio_postgres::connect(
            &cluster.superuser_connection_string(name),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        let connection = tokio::spawn(connection);
        let checked = meterdesk::db::migrate::require_code_point_order(&client)
            .await
            .unwrap();
        match (checked, refused_as) {
            (Ok(()), None) => {}
            (Err(refused), Some(provider)) => {
                let said = refused.to_string();
                assert!(said.contains(name) && said.contains(provider), "{said}");
                assert!(said.contains("LOCALE 'C' TEMPLATE template0"), "{said}");
            }
            (checked, _) => panic!("{name}: {checked:?}"),
        }
        drop(client);
        let _ = connection.await;
    }
    let client = db.pool.get().await.unwrap();
    assert!(matches!(
        meterdesk::db::migrate::require_code_point_order(&client).await,
        Ok(Ok(()))
    ));
}

/// V75: no statement reads customer_phone (the phone search reads the phone's digits) and
/// bill_unpaid is the first column of bill_unpaid_by_account_issued; every index is written by
/// each insert and locked by each statement planned on its table, so both are gone, and what
/// they served still seeks an index.
#[tokio::test]
async fn the_phone_search_and_the_unpaid_bills_seek_an_index_without_the_two_no_statement_needs() {
    let client = with_fixture().await;
    let gone = texts(
        &client,
        "SELECT name FROM unnest(ARRAY['customer_phone', 'bill_unpaid']) name
         WHERE to_regclass(name) IS NOT NULL",
    )
    .await;
    assert!(gone.is_empty(), "still there: {gone:?}");
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    for (sql, index) in [
        (
            "SELECT c.id FROM customer c
             WHERE phone_digits(c.phone) >= '1380' AND phone_digits(c.phone) < '1381'",
            "customer_phone_digits",
        ),
        (
            "SELECT coalesce(sum(b.amount), 0) FROM bill b
             WHERE b.account_id = 1 AND b.status = 'unpaid'",
            "bill_unpaid_by_account_issued",
        ),
        (
            "SELECT count(*) FROM bill WHERE account_id = 1 AND status = 'unpaid'",
            "bill_unpaid_by_account_issued",
        ),
    ] {
        let plan = texts(&client, &format!("EXPLAIN (COSTS OFF) {sql}"))
            .await
            .join("\n");
        assert!(plan.contains(&format!("using {index}")), "{sql}:\n{plan}");
    }
}

/// sql/V272: whether any bill was priced at a price version (`price_version_is_ahead`, sql/V250,
/// asked before a version not yet in force is corrected or its tiers deleted) is one probe of
/// an index, not a read of every bill. Without the index the plan is a sequential scan of `bill`
/// even with sequential scans discouraged.
#[tokio::test]
async fn a_price_versions_bills_are_found_by_an_index() {
    let client = with_fixture().await;
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let plan = texts(
        &client,
        "EXPLAIN (COSTS OFF) SELECT NOT EXISTS (SELECT FROM bill b WHERE b.price_version_id = 1)",
    )
    .await
    .join("\n");
    assert!(plan.contains("using bill_price_version on bill"), "{plan}");
}

/// `customer_owner_seen` (sql/V110), which every deposit's, refund's and system-prepaid
/// recharge's check calls (`money_move_for`) and every read of the account and of the reading
/// form, plans its statement once a session (sql/V117): as V110's SQL function (not inlined:
/// it reads a table and has a SET clause) it parsed and planned its body again in every
/// statement that called it. Counted as the planner's LOG messages (`log_planner_stats`) of ten
/// calls, each a statement of its own (prepared once, no parameter: its own plan is kept),
/// after ten that warm the session's plans; V110's function plans ten times.
#[tokio::test]
async fn the_owner_seen_is_planned_once_a_session() {
    use futures_util::StreamExt;
    use tokio_postgres::AsyncMessage;

    let db = fresh_db().await;
    let superuser = support::pg::cluster().superuser_connection_string(&db.name);
    let (client, mut connection) = tokio_postgres::connect(&superuser, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (planned, mut plans) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notice(notice) = message
                && notice.message().contains("PLANNER STATISTICS")
            {
                let _ = planned.send(());
            }
        }
    });
    client
        .batch_execute("SET client_min_messages = log; SET log_planner_stats = on")
        .await
        .unwrap();
    // No customer has had a transfer: the first owner, 0, whichever it is.
    let owner_seen = client
        .prepare("SELECT customer_owner_seen(1)")
        .await
        .unwrap();
    let mut count_plans = async |calls: usize| {
        for _ in 0..calls {
            let seen: i64 = client.query_one(&owner_seen, &[]).await.unwrap().get(0);
            assert_eq!(seen, 0, "no transfer yet: the first owner");
        }
        let mut count = 0;
        while plans.try_recv().is_ok() {
            count += 1;
        }
        count
    };
    count_plans(10).await;
    assert_eq!(count_plans(10).await, 0, "plans made by ten calls");
}

/// `reading_recorded` (sql/V113: is the reading typed the meter's latest, same date and
/// figure?), which every counter reading calls behind the meter's locks, and
/// `customer_basic_info` (sql/V31), which every customer change's audit trigger calls twice,
/// plan their statements once a session (sql/V123): as SQL functions with a SET clause (never
/// inlined) they parsed and planned their bodies again at every call, 0.36 and 0.11 ms a call on
/// an 8-desk soak. Counted as in `the_owner_seen_is_planned_once_a_session`: the planner's LOG
/// messages of ten calls, each a statement of its own (prepared once, no parameter), after ten
/// that warm the session's plans; the SQL functions plan ten times each. A personal customer's
/// fields are keyed as the desk keys them.
#[tokio::test]
async fn a_readings_check_and_a_customers_audit_are_planned_once_a_session() {
    use futures_util::StreamExt;
    use tokio_postgres::AsyncMessage;

    let db = fresh_db().await;
    let superuser = support::pg::cluster().superuser_connection_string(&db.name);
    let (client, mut connection) = tokio_postgres::connect(&superuser, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (planned, mut plans) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notice(notice) = message
                && notice.message().contains("PLANNER STATISTICS")
            {
                let _ = planned.send(());
            }
        }
    });
    // A customer row held in a table of its own: not a constant, so the statement calls the
    // function at every execution instead of folding it once when it is planned. The readings'
    // answers are readings_bills' (V113's tests): here a meter without readings.
    client
        .batch_execute(
            "CREATE TEMP TABLE one_customer AS
             SELECT jsonb_populate_record(NULL::customer, '{\"nature\": \"personal\",
                 \"name\": \"Zhang Wei\", \"phone\": \"13800000000\"}') AS c;",
        )
        .await
        .unwrap();
    let recorded = client
        .prepare("SELECT count(*) FROM reading_recorded(0, 'counter', DATE '2025-03-01', 12.5)")
        .await
        .unwrap();
    let basic_info = client
        .prepare("SELECT customer_basic_info(c)::text FROM one_customer")
        .await
        .unwrap();
    client
        .batch_execute("SET client_min_messages = log; SET log_planner_stats = on")
        .await
        .unwrap();
    let mut count_plans = async |calls: usize| {
        for _ in 0..calls {
            let found: i64 = client.query_one(&recorded, &[]).await.unwrap().get(0);
            assert_eq!(found, 0, "no reading of that meter");
        }
        let reading_plans = std::iter::from_fn(|| plans.try_recv().ok()).count();
        for _ in 0..calls {
            let info: String = client.query_one(&basic_info, &[]).await.unwrap().get(0);
            let info: serde_json::Value = serde_json::from_str(&info).unwrap();
            assert_eq!(info["name"], "Zhang Wei", "{info}");
            assert_eq!(info["mobile"], "13800000000", "{info}");
        }
        let audit_plans = std::iter::from_fn(|| plans.try_recv().ok()).count();
        (reading_plans, audit_plans)
    };
    count_plans(10).await;
    assert_eq!(
        count_plans(10).await,
        (0, 0),
        "plans made by ten reading checks, and by ten customers' basic infos"
    );
}

/// `md_card_water` (sql/V38), which a card recharge's price check (card_operation's rules) and
/// the desk's quote read, is one index range of the purchases' water the database keeps
/// (`card_water`, sql/V245): no ledger row, credit line, reversal nor refund is read at the
/// call (V124 and V145 read each purchase's from the books, a hashed set of the customer's
/// refunds, a probe for each purchase's credit lines and reversal). Read from the plan of the
/// price check's statement (the function is inlined there).
#[tokio::test]
async fn a_cards_water_is_one_index_range_of_its_purchases_kept_water() {
    let db = fresh_db().await;
    let superuser = support::pg::cluster().superuser_connection_string(&db.name);
    let (client, connection) = tokio_postgres::connect(&superuser, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let plan = texts(
        &client,
        "EXPLAIN (COSTS OFF) SELECT coalesce(sum(w.volume), 0)
         FROM md_card_water(1, current_date - 31, current_date + 1) w WHERE w.transaction_id <> 7",
    )
    .await
    .join("\n");
    assert!(
        plan.contains("Index Only Scan using card_water_pkey on card_water"),
        "{plan}"
    );
    for books in [
        "ledger_transaction",
        "card_operation",
        "system_card_credit_line",
        "SubPlan",
    ] {
        assert!(!plan.contains(books), "{books}:\n{plan}");
    }
}

/// Issue 14 (s38-g, sql/V148): a table's NaN checks are one constraint,
/// `<table>_numbers_a_number`, over all its `numeric` columns. Every refusal of V104's kept:
/// NaN and infinity in EVERY numeric column of EVERY table, tried one at a time by an UPDATE
/// of a stored row (the demo data's) as the owner, in a transaction rolled back, the table's
/// own triggers off and its other CHECKs dropped in it (a trigger, or a check before it by
/// name, refusing the UPDATE first would hide the constraint); beside a NULL in another numeric column too. NaN is refused by the table's one constraint;
/// an infinity by it, or before it by a `numeric(p,s)` column's type (it stores no infinity).
/// A table the demo leaves empty is tried by an INSERT.
#[tokio::test]
async fn nan_and_infinity_are_refused_in_every_numeric_column_of_every_table() {
    let (db, mut owner) = owner_db().await;
    demo::load(&db.pool, 40, |_| {})
        .await
        .expect("load the demo data");
    let columns: Vec<(String, String)> = owner
        .query(
            "SELECT c.table_name::text, c.column_name::text
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
               AND c.data_type = 'numeric'
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(
        columns.len() >= 20,
        "the schema's numeric columns: {columns:?}"
    );
    // One constraint a table with numeric columns, and none of V104's one a column left.
    let tables: std::collections::BTreeSet<&str> =
        columns.iter().map(|(table, _)| table.as_str()).collect();
    let checks = texts(
        &owner,
        "SELECT conrelid::regclass::text || ' ' || conname FROM pg_constraint
         WHERE contype = 'c' AND conname LIKE '%\\_a\\_number' AND NOT convalidated
         ORDER BY 1",
    )
    .await;
    let expected: Vec<String> = tables
        .iter()
        .map(|table| format!("{table} {table}_numbers_a_number"))
        .collect();
    assert_eq!(checks, expected);

    let mut empty = Vec::new();
    let mut tried = 0;
    for (table, column) in &columns {
        let row: Option<String> = owner
            .query_opt(&format!("SELECT ctid::text FROM {table} LIMIT 1"), &[])
            .await
            .unwrap()
            .map(|row| row.get(0));
        if row.is_none() {
            empty.push(table.as_str());
        }
        // Another numeric column of the table NULL beside it, when it may be.
        let other: Option<String> = owner
            .query_opt(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 AND column_name <> $2
                   AND data_type = 'numeric' AND is_nullable = 'YES'
                 ORDER BY column_name LIMIT 1",
                &[table, column],
            )
            .await
            .unwrap()
            .map(|row| row.get(0));
        for value in ["NaN", "Infinity", "-Infinity"] {
            for with_null in [None, other.as_deref()] {
                let set = match with_null {
                    Some(other) => format!("{column} = '{value}', {other} = NULL"),
                    None => format!("{column} = '{value}'"),
                };
                // A table the demo leaves empty is tried by an INSERT of the value alone, its
                // keys and NOT NULLs dropped in the transaction (as its other CHECKs).
                let sql = match &row {
                    Some(ctid) => format!("UPDATE {table} SET {set} WHERE ctid = '{ctid}'"),
                    None => format!(
                        "DO $$ DECLARE c text; BEGIN
                             FOR c IN SELECT conname FROM pg_constraint
                                      WHERE conrelid = '{table}'::regclass AND contype = 'p'
                             LOOP
                                 EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I CASCADE', c);
                             END LOOP;
                             FOR c IN SELECT attname FROM pg_attribute
                                      WHERE attrelid = '{table}'::regclass AND attnum > 0
                                        AND attnotnull AND NOT attisdropped
                             LOOP
                                 EXECUTE format('ALTER TABLE {table} ALTER %I DROP NOT NULL', c);
                             END LOOP;
                         END $$;
                         INSERT INTO {table} ({column}{}) VALUES ('{value}'{})",
                        with_null.map(|other| format!(", {other}")).unwrap_or_default(),
                        if with_null.is_some() { ", NULL" } else { "" },
                    ),
                };
                let transaction = owner.transaction().await.unwrap();
                transaction
                    .batch_execute(&format!(
                        "ALTER TABLE {table} DISABLE TRIGGER USER;
                         DO $$ DECLARE c text; BEGIN
                             FOR c IN SELECT conname FROM pg_constraint
                                      WHERE conrelid = '{table}'::regclass AND contype = 'c'
                                        AND conname <> '{table}_numbers_a_number'
                             LOOP
                                 EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', c);
                             END LOOP;
                         END $$"
                    ))
                    .await
                    .unwrap();
                let error = match transaction.batch_execute(&sql).await {
                    Ok(()) => panic!("{sql}: taken, but a number column refuses {value}"),
                    Err(error) => error,
                };
                transaction.rollback().await.unwrap();
                let server = error
                    .as_db_error()
                    .unwrap_or_else(|| panic!("{sql}: {error}"));
                let by_the_check = *server.code() == SqlState::CHECK_VIOLATION
                    && server.constraint() == Some(&format!("{table}_numbers_a_number"));
                let by_the_type =
                    value != "NaN" && *server.code() == SqlState::NUMERIC_VALUE_OUT_OF_RANGE;
                assert!(
                    by_the_check || by_the_type,
                    "{sql}: refused by {:?} {:?}: {}",
                    server.code(),
                    server.constraint(),
                    server.message()
                );
                tried += 1;
            }
        }
    }
    // The demo stores no system card (they are the card rig's) nor a card's debt (a meter
    // that loaded an old copy's water): tried by an INSERT.
    assert_eq!(
        empty,
        [
            "card_recharge_owed",
            "system_card",
            "system_card_credit_line"
        ]
    );
    assert!(tried >= 3 * columns.len(), "tried {tried}");
}

/// Issue 14 (s39-c, sql/V153): a CHECK constraint's list of names (`kind IN ('deposit', …)`)
/// was stored as an `ARRAY[…]` of one node a name, which PostgreSQL reads again from text and
/// folds at every INSERT and UPDATE; each is now one array constant under its own name, with
/// the same list, validated as before. No CHECK of the schema's tables keeps a list of names
/// node by node, the lists are the ones the constraints had (the bills', spelled out; the
/// ledger's are `md_ledger_row_rules`' since sql/V179, the card operations'
/// `md_card_operation_row_rules`' since sql/V186), and a value outside a list, or a row the
/// list's rule refuses, is refused by the same constraint as before.
#[tokio::test]
async fn every_list_of_names_a_check_keeps_is_one_constant_and_refuses_as_before() {
    let client = with_fixture().await;
    let listed_node_by_node = texts(
        &client,
        "SELECT k.conname || ': ' || pg_get_constraintdef(k.oid)
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
         WHERE k.contype = 'c' AND t.relnamespace = 'public'::regnamespace
           AND pg_get_constraintdef(k.oid) ~ 'ARRAY\\[''' ORDER BY 1",
    )
    .await;
    assert!(listed_node_by_node.is_empty(), "{listed_node_by_node:?}");
    let constants = texts(
        &client,
        "SELECT k.conname || ' ' || k.convalidated || ': ' || pg_get_constraintdef(k.oid)
         FROM pg_constraint k
         WHERE k.conrelid IN ('ledger_transaction'::regclass, 'bill'::regclass,
                              'card_operation'::regclass)
           AND k.contype = 'c' AND pg_get_constraintdef(k.oid) ~ '''\\{'
         ORDER BY 1",
    )
    .await;
    assert_eq!(
        constants,
        ["bill_status_check true: CHECK ((status = ANY ('{unpaid,paid,void}'::text[])))",]
    );
    for (sql, constraint) in [
        (
            "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key)
             VALUES (2, 'gift', -1.00, 1, 'gift')",
            "ledger_transaction_kind_check",
        ),
        (
            "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key)
             VALUES (2, 'deposit', 1.00, 1, 'no-method')",
            "ledger_transaction_check3",
        ),
        (
            "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key)
             VALUES (2, 'consumption', -1.00, 1, 'no-volume')",
            "ledger_transaction_check4",
        ),
        (
            "UPDATE customer SET status = 'gone' WHERE id = 1",
            "customer_status_check",
        ),
    ] {
        let error = client
            .batch_execute(sql)
            .await
            .expect_err("a value outside the list");
        let server = error.as_db_error().expect(sql);
        assert_eq!(
            (server.code(), server.constraint()),
            (&SqlState::CHECK_VIOLATION, Some(constraint)),
            "{sql}: {}",
            server.message()
        );
    }
    // What the lists take is taken: the fixture's deposit.
    client
        .batch_execute(&deposit("5.00", "in-the-list"))
        .await
        .unwrap();
}

/// sql/V168: a reading's and a bill's figures are checked by one short constraint a table
/// (PostgreSQL reads a table's CHECKs from their text at every statement that writes it), which
/// refuses a negative figure in each column V18's four checks a table held, and lets a zero and
/// a NULL pass as they did. Tried on the demo's rows by an UPDATE as the owner, in a
/// transaction rolled back, the table's triggers off and its other CHECKs dropped in it.
#[tokio::test]
async fn a_negative_figure_of_a_reading_or_a_bill_is_refused_by_one_short_check() {
    let (db, mut owner) = owner_db().await;
    demo::load(&db.pool, 40, |_| {})
        .await
        .expect("load the demo data");
    let checks = texts(
        &owner,
        "SELECT conrelid::regclass::text || ' ' || conname FROM pg_constraint
         WHERE contype = 'c' AND conrelid IN ('meter_reading'::regclass, 'bill'::regclass)
           AND (pg_get_constraintdef(oid) LIKE '%>= (0)::numeric%'
                OR conname LIKE '%figures_not_negative')
         ORDER BY 1",
    )
    .await;
    assert_eq!(
        checks,
        [
            "bill bill_figures_not_negative",
            "meter_reading meter_reading_figures_not_negative"
        ]
    );
    for (table, column) in [
        ("meter_reading", "electronic"),
        ("meter_reading", "mechanical"),
        ("meter_reading", "previous"),
        ("meter_reading", "consumption"),
        ("bill", "previous_reading"),
        ("bill", "volume"),
        ("bill", "amount"),
        ("bill", "vat"),
    ] {
        let nullable: bool = owner
            .query_one(
                "SELECT is_nullable = 'YES' FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
                &[&table, &column],
            )
            .await
            .unwrap()
            .get(0);
        let transaction = owner.transaction().await.unwrap();
        transaction
            .batch_execute(&format!(
                "ALTER TABLE {table} DISABLE TRIGGER USER;
                 DO $$ DECLARE c text; BEGIN
                     FOR c IN SELECT conname FROM pg_constraint
                              WHERE conrelid = '{table}'::regclass AND contype = 'c'
                                AND conname <> '{table}_figures_not_negative'
                     LOOP
                         EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', c);
                     END LOOP;
                 END $$;"
            ))
            .await
            .unwrap();
        let row = format!("ctid = (SELECT ctid FROM {table} ORDER BY id LIMIT 1)");
        let mut passing = vec!["0"];
        if nullable {
            passing.push("NULL");
        }
        for value in passing {
            transaction
                .batch_execute(&format!(
                    "UPDATE {table} SET {column} = {value} WHERE {row}"
                ))
                .await
                .unwrap_or_else(|error| panic!("{table}.{column} = {value}: {error}"));
        }
        let Err(refusal) = transaction
            .batch_execute(&format!("UPDATE {table} SET {column} = -1 WHERE {row}"))
            .await
        else {
            panic!("{table}.{column} = -1 was not refused");
        };
        let server = refusal.as_db_error().expect("the server's refusal");
        assert_eq!(
            server.code(),
            &SqlState::CHECK_VIOLATION,
            "{table}.{column}"
        );
        assert_eq!(
            server.constraint(),
            Some(format!("{table}_figures_not_negative").as_str()),
            "{table}.{column}"
        );
        transaction.rollback().await.unwrap();
    }
}

/// Issue 14 (s41-d, sql/V179): a ledger row's nine rules of its own columns are one CHECK, a
/// call of `md_ledger_row_rules`, which PostgreSQL reads from 1 KB of text at every INSERT
/// where it read 10 KB. Each rule refuses what its constraint refused, by the constraint's own
/// name and SQLSTATE, the first broken by the names' order; a rule that comes out NULL lets
/// the row pass, as a CHECK did. The triggers' WHEN clauses no longer ask who the session is
/// (their functions do) and the counter's limit is in its WHEN as the number
/// `md_counter_most_amount()` answers. The exactly-once keys of the readings, the card
/// operations and the desk's records refuse an empty key and one over 200 characters, by
/// their own names.
#[tokio::test]
async fn a_ledger_rows_rules_are_one_short_check_that_refuses_by_each_rules_name() {
    let client = with_fixture().await;
    let (checks, text) = checks_and_their_size(&client, "ledger_transaction").await;
    let names: Vec<&str> = checks
        .iter()
        .map(|check| check.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ledger_transaction_check",
            "ledger_transaction_numbers_a_number"
        ]
    );
    assert!(text < 2_500, "the ledger's CHECKs: {checks:?}");
    let whens = texts(
        &client,
        "SELECT tgname || ': ' || pg_get_triggerdef(oid) FROM pg_trigger
         WHERE tgrelid = 'ledger_transaction'::regclass AND tgqual IS NOT NULL
           AND (tgqual LIKE '%:funcid 2705 %' OR length(tgqual) > 1600)
         ORDER BY 1",
    )
    .await;
    assert!(
        whens.is_empty(),
        "WHEN clauses asking pg_has_role or long: {whens:?}"
    );
    let limit: String = scalar(&client, "SELECT md_counter_most_amount()::text").await;
    let within: String = scalar(
        &client,
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger
         WHERE tgrelid = 'ledger_transaction'::regclass
           AND tgname = 'within_the_counters_limits'",
    )
    .await;
    assert!(
        within.contains(&format!("abs(new.amount) > {limit}")),
        "{within}"
    );

    let row = |kind: &str, amount: &str, more: &str, values: &str, key: &str| {
        format!(
            "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id,
                                             idempotency_key{more})
             VALUES (2, '{kind}', {amount}, 1, '{key}'{values})"
        )
    };
    let long_key = "k".repeat(201);
    for (sql, constraint) in [
        // The amount's sign by kind.
        (
            row("deposit", "-1.00", ", payment_method_code", ", 'cash'", "a"),
            "ledger_transaction_check",
        ),
        (
            row("consumption", "1.00", ", volume", ", 1", "b"),
            "ledger_transaction_check",
        ),
        (
            row("reversal", "0", "", "", "c"),
            "ledger_transaction_check",
        ),
        // Two rules broken (the sign, the method): the first by name.
        (
            row("deposit", "-1.00", "", "", "d"),
            "ledger_transaction_check",
        ),
        // A reversal reverses a row, and only a reversal does.
        (
            row("reversal", "1.00", "", "", "e"),
            "ledger_transaction_check1",
        ),
        // A bill's payment names its bill, and only it does.
        (
            row("bill_payment", "-1.00", "", "", "f"),
            "ledger_transaction_check2",
        ),
        (
            row(
                "deposit",
                "1.00",
                ", payment_method_code, bill_id",
                ", 'cash', 1",
                "g",
            ),
            "ledger_transaction_check2",
        ),
        (
            row("deposit", "1.00", "", "", "h"),
            "ledger_transaction_check3",
        ),
        (
            row("refund", "-1.00", "", "", "i"),
            "ledger_transaction_check3",
        ),
        (
            row("consumption", "-1.00", "", "", "j"),
            "ledger_transaction_check4",
        ),
        (
            row("card_purchase", "-1.00", "", "", "k"),
            "ledger_transaction_check4",
        ),
        (
            row("deposit", "1.00", ", payment_method_code", ", 'cash'", ""),
            "ledger_transaction_idempotency_key_check",
        ),
        (
            row(
                "deposit",
                "1.00",
                ", payment_method_code",
                ", 'cash'",
                &long_key,
            ),
            "ledger_transaction_idempotency_key_check",
        ),
        (
            row("gift", "-1.00", "", "", "l"),
            "ledger_transaction_kind_check",
        ),
        (
            row(
                "consumption",
                "-1.00",
                ", volume, unit_price",
                ", 1, -0.0001",
                "m",
            ),
            "ledger_transaction_unit_price_check",
        ),
        (
            row("consumption", "-1.00", ", volume", ", 0", "n"),
            "ledger_transaction_volume_check",
        ),
        (
            row("card_purchase", "-1.00", ", volume", ", -1", "o"),
            "ledger_transaction_volume_check",
        ),
    ] {
        let error = client.batch_execute(&sql).await.expect_err(&sql);
        let server = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: {error}"));
        assert_eq!(
            (server.code(), server.constraint(), server.table()),
            (
                &SqlState::CHECK_VIOLATION,
                Some(constraint),
                Some("ledger_transaction")
            ),
            "{sql}: {}",
            server.message()
        );
        assert_eq!(
            server.message(),
            format!(
                "new row for relation \"ledger_transaction\" violates check constraint \"{constraint}\""
            )
        );
    }
    // What the rules take is taken: NULL where a rule does not ask, a key of 1 and of 200. The
    // owner's rows (this connection's) pass the deferred checks an operator's would not (no
    // audit entry, no card operation, no refund journaled, above the counter's limit): their
    // functions let the owner through, as the WHEN clauses did before V179.
    for sql in [
        row("deposit", "1.00", ", payment_method_code", ", 'cash'", "p"),
        row(
            "deposit",
            "1.00",
            ", payment_method_code",
            ", 'cash'",
            &"k".repeat(200),
        ),
        row(
            "consumption",
            "-1.00",
            ", volume, unit_price",
            ", 0.001, 0",
            "q",
        ),
        row("card_purchase", "-1.00", ", volume", ", 1", "r"),
        row("card_refund", "1.00", "", "", "s"),
        row(
            "deposit",
            "100000.01",
            ", payment_method_code",
            ", 'cash'",
            "t",
        ),
    ] {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
    // A rule that comes out NULL passes: every one for a row of no kind, the sign's for no
    // amount.
    for call in [
        "md_ledger_row_rules(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        "md_ledger_row_rules('deposit', NULL, NULL, NULL, 'cash', NULL, NULL, 'k')",
    ] {
        assert!(
            scalar::<bool>(&client, &format!("SELECT {call}")).await,
            "{call}"
        );
    }

    // The exactly-once keys of the other tables, by their own constraints.
    for table in ["meter_reading", "card_operation", "applied_write"] {
        let definition: String = scalar(
            &client,
            &format!(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE conname = '{table}_idempotency_key_check'"
            ),
        )
        .await;
        assert_eq!(
            definition,
            "CHECK ((length(idempotency_key) <@ '[1,201)'::int4range))"
        );
    }
    for (key, refused) in [
        (String::new(), true),
        ("k".repeat(201), true),
        ("k".repeat(200), false),
        ("k".to_owned(), false),
    ] {
        let sql = format!(
            "INSERT INTO applied_write (idempotency_key, kind, outcome, operator_id)
             VALUES ('{key}', 'meter.add', '{{}}', 1)"
        );
        match client.batch_execute(&sql).await {
            Ok(()) => assert!(!refused, "{sql}: taken"),
            Err(error) => {
                let server = error
                    .as_db_error()
                    .unwrap_or_else(|| panic!("{sql}: {error}"));
                assert!(refused, "{sql}: {}", server.message());
                assert_eq!(
                    (server.code(), server.constraint()),
                    (
                        &SqlState::CHECK_VIOLATION,
                        Some("applied_write_idempotency_key_check")
                    )
                );
            }
        }
    }
}

/// Issue 14 (s42-a, sql/V186): a card operation's rules of its own columns — V1's fourteen but
/// its key's, V5's plan and V175's reasons — are one CHECK, a call of
/// `md_card_operation_row_rules`, which PostgreSQL reads from under 2.5 KB of text at every
/// journal INSERT and settle UPDATE where it read 10 KB. Each rule refuses what its constraint
/// refused, by the constraint's own name, table, SQLSTATE and message, the first broken by the
/// names' order, at an INSERT and at an UPDATE; a rule that comes out NULL lets the row pass,
/// as a CHECK did. The key's own check (V179's) is asked after them.
#[tokio::test]
async fn a_card_operations_rules_are_one_short_check_that_refuses_by_each_rules_name() {
    let client = with_fixture().await;
    client
        .batch_execute(
            "INSERT INTO card (card_no, customer_id, generation, issued_by)
             VALUES (10000001, 1, 1, 1)",
        )
        .await
        .unwrap();
    let (checks, text) = checks_and_their_size(&client, "card_operation").await;
    let names: Vec<&str> = checks
        .iter()
        .map(|check| check.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "card_operation_check",
            "card_operation_idempotency_key_check"
        ]
    );
    assert!(text < 2_500, "card_operation's CHECKs: {checks:?}");

    // A recharge settled done; each case changes some of its columns.
    let record = |bytes: usize| format!("decode(repeat('00', {bytes}), 'hex')");
    let (whole, short) = (record(32), record(31));
    let operation = |changes: &[(&str, &str)], key: &str| {
        let mut columns = vec![
            ("kind", "'recharge'"),
            ("state", "'done'"),
            ("purchase_seq", "1"),
            ("volume_litres", "1000"),
            ("issue_record_before", "NULL"),
            ("issue_record_after", "NULL"),
            ("purchase_record_before", "NULL"),
            ("purchase_record_after", whole.as_str()),
            ("finished_at", "now()"),
            ("failure_reason", "NULL"),
            ("replaced_card_id", "NULL"),
            ("plan", "NULL"),
        ];
        for &(column, value) in changes {
            columns
                .iter_mut()
                .find(|(name, _)| *name == column)
                .unwrap_or_else(|| panic!("no column {column}"))
                .1 = value;
        }
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let values: Vec<&str> = columns.iter().map(|(_, value)| *value).collect();
        format!(
            "INSERT INTO card_operation (customer_id, card_id, operator_id, idempotency_key, {})
             VALUES (1, 1, 1, '{key}', {})",
            names.join(", "),
            values.join(", ")
        )
    };
    let pending = [
        ("state", "'pending'"),
        ("finished_at", "NULL"),
        ("plan", "'{}'"),
    ];
    let refusals: Vec<(String, &str)> = vec![
        // Pending ⇔ not finished.
        (
            operation(&[("finished_at", "NULL")], "a"),
            "card_operation_check",
        ),
        (
            operation(&[("state", "'pending'"), ("plan", "'{}'")], "b"),
            "card_operation_check",
        ),
        // A failed one says why.
        (
            operation(&[("state", "'failed'")], "c"),
            "card_operation_check1",
        ),
        // Two rules broken (the reason, the kind): the first by name.
        (
            operation(&[("state", "'failed'"), ("kind", "'gift'")], "d"),
            "card_operation_check1",
        ),
        // A replace names the card replaced, and only a replace does.
        (
            operation(&[("kind", "'replace'")], "e"),
            "card_operation_check2",
        ),
        (
            operation(&[("kind", "'open'"), ("replaced_card_id", "1")], "f"),
            "card_operation_check2",
        ),
        // A recharge and a refund write a purchase.
        (
            operation(&[("purchase_seq", "NULL")], "g"),
            "card_operation_check3",
        ),
        (
            operation(&[("kind", "'refund'"), ("purchase_seq", "NULL")], "h"),
            "card_operation_check3",
        ),
        // A pending one knows what the card should hold.
        (
            operation(
                &[
                    pending[0],
                    pending[1],
                    pending[2],
                    ("purchase_record_after", "NULL"),
                ],
                "i",
            ),
            "card_operation_check4",
        ),
        (
            operation(&[("state", "'failed'"), ("failure_reason", "'tired'")], "j"),
            "card_operation_failure_reason_known",
        ),
        (
            operation(&[("issue_record_after", short.as_str())], "k"),
            "card_operation_issue_record_after_check",
        ),
        (
            operation(&[("issue_record_before", short.as_str())], "l"),
            "card_operation_issue_record_before_check",
        ),
        (
            operation(&[("kind", "'gift'")], "m"),
            "card_operation_kind_check",
        ),
        (
            operation(&[pending[0], pending[1]], "n"),
            "card_operation_pending_has_plan",
        ),
        (
            operation(&[("purchase_record_after", short.as_str())], "o"),
            "card_operation_purchase_record_after_check",
        ),
        (
            operation(&[("purchase_record_before", short.as_str())], "p"),
            "card_operation_purchase_record_before_check",
        ),
        (
            operation(&[("purchase_seq", "0")], "q"),
            "card_operation_purchase_seq_check",
        ),
        (
            operation(&[("purchase_seq", "4294967296")], "r"),
            "card_operation_purchase_seq_check",
        ),
        (
            operation(&[("state", "'lost'")], "s"),
            "card_operation_state_check",
        ),
        (
            operation(&[("volume_litres", "-1")], "t"),
            "card_operation_volume_litres_check",
        ),
        (
            operation(&[("volume_litres", "4294967296")], "u"),
            "card_operation_volume_litres_check",
        ),
        (operation(&[], ""), "card_operation_idempotency_key_check"),
        (
            operation(&[], &"k".repeat(201)),
            "card_operation_idempotency_key_check",
        ),
        // The key's check is asked after the rules (before V186 it came before the kind's).
        (
            operation(&[("kind", "'gift'")], ""),
            "card_operation_kind_check",
        ),
    ];
    let refused_by = async |sql: &str, constraint: &str| {
        let error = client.batch_execute(sql).await.expect_err(sql);
        let server = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: {error}"));
        assert_eq!(
            (server.code(), server.constraint(), server.table()),
            (
                &SqlState::CHECK_VIOLATION,
                Some(constraint),
                Some("card_operation")
            ),
            "{sql}: {}",
            server.message()
        );
        assert_eq!(
            server.message(),
            format!(
                "new row for relation \"card_operation\" violates check constraint \"{constraint}\""
            )
        );
    };
    for (sql, constraint) in &refusals {
        refused_by(sql, constraint).await;
    }

    // What the rules take is taken: NULL where a rule does not ask, the ranges' ends, a key
    // of 200, each reason, an open, a replace, a pending operation with its plan.
    let mut taken = vec![
        operation(
            &[("purchase_seq", "4294967295"), ("volume_litres", "0")],
            "v",
        ),
        operation(
            &[("purchase_seq", "2"), ("volume_litres", "4294967295")],
            &"k".repeat(200),
        ),
        operation(
            &[
                ("kind", "'open'"),
                ("purchase_seq", "NULL"),
                ("volume_litres", "NULL"),
                ("issue_record_before", whole.as_str()),
                ("issue_record_after", whole.as_str()),
                ("purchase_record_before", whole.as_str()),
                ("purchase_record_after", "NULL"),
            ],
            "w",
        ),
        operation(
            &[
                ("kind", "'replace'"),
                ("purchase_seq", "NULL"),
                ("replaced_card_id", "1"),
            ],
            "x",
        ),
    ];
    let reasons = [
        "not_on_card",
        "settled_without_card",
        "pin_refused",
        "pin_blocked",
        "pin_last_try",
        "card_refused",
    ];
    let quoted: Vec<String> = reasons.iter().map(|reason| format!("'{reason}'")).collect();
    for (at, reason) in quoted.iter().enumerate() {
        let seq = (10 + at).to_string();
        taken.push(operation(
            &[
                ("state", "'failed'"),
                ("failure_reason", reason.as_str()),
                ("purchase_seq", seq.as_str()),
            ],
            &format!("y{at}"),
        ));
    }
    taken.push(operation(
        &[pending[0], pending[1], pending[2], ("purchase_seq", "3")],
        "z",
    ));
    for sql in &taken {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
    // The settle's UPDATE is asked the same rules: done without its finish, failed without
    // its reason or with one not known are refused; done, finished, is taken.
    for (set, constraint) in [
        ("state = 'done'", "card_operation_check"),
        (
            "state = 'failed', finished_at = now()",
            "card_operation_check1",
        ),
        (
            "state = 'failed', finished_at = now(), failure_reason = 'tired'",
            "card_operation_failure_reason_known",
        ),
        ("plan = NULL", "card_operation_pending_has_plan"),
    ] {
        refused_by(
            &format!("UPDATE card_operation SET {set} WHERE idempotency_key = 'z'"),
            constraint,
        )
        .await;
    }
    client
        .batch_execute(
            "UPDATE card_operation SET state = 'done', finished_at = now()
             WHERE idempotency_key = 'z'",
        )
        .await
        .unwrap();
    // A rule that comes out NULL passes: every one for a row of nothing.
    assert!(
        scalar::<bool>(
            &client,
            "SELECT md_card_operation_row_rules(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                NULL, NULL, NULL, NULL)"
        )
        .await
    );
}

/// Issue 14 (s42-a, sql/V187): a card's eleven rules of its own columns are one CHECK, a call of
/// `md_card_row_rules`, read from under 1.5 KB of text at every statement writing a card (a
/// recharge's meter write-back noted on it) where it read 7.7 KB. Each rule refuses what its
/// constraint refused, by the constraint's own name, table, SQLSTATE and message, the first
/// broken by the names' order, at an INSERT and at an UPDATE; a rule that comes out NULL lets
/// the row pass, as a CHECK did.
#[tokio::test]
async fn a_cards_rules_are_one_short_check_that_refuses_by_each_rules_name() {
    let client = with_fixture().await;
    let (checks, text) = checks_and_their_size(&client, "card").await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert!(checks[0].starts_with("card_check "), "{checks:?}");
    assert!(text < 1_500, "card's CHECKs: {checks:?}");

    // A card voided as lost; each case changes some of its columns.
    let card = |changes: &[(&str, &str)]| {
        let mut columns = vec![
            ("card_no", "1"),
            ("business_model", "'meter_prepaid'"),
            ("generation", "1"),
            ("state", "'void'"),
            ("blacklisted", "false"),
            ("void_reason", "'lost'"),
            ("voided_at", "now()"),
            ("meter_loaded_seq", "NULL"),
            ("meter_generation", "NULL"),
        ];
        for &(column, value) in changes {
            columns
                .iter_mut()
                .find(|(name, _)| *name == column)
                .unwrap_or_else(|| panic!("no column {column}"))
                .1 = value;
        }
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let values: Vec<&str> = columns.iter().map(|(_, value)| *value).collect();
        format!(
            "INSERT INTO card (customer_id, issued_by, {}) VALUES (1, 1, {})",
            names.join(", "),
            values.join(", ")
        )
    };
    let active = [
        ("state", "'active'"),
        ("void_reason", "NULL"),
        ("voided_at", "NULL"),
    ];
    let refused_by = async |sql: &str, constraint: &str| {
        let error = client.batch_execute(sql).await.expect_err(sql);
        let server = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: {error}"));
        assert_eq!(
            (server.code(), server.constraint(), server.table()),
            (&SqlState::CHECK_VIOLATION, Some(constraint), Some("card")),
            "{sql}: {}",
            server.message()
        );
        assert_eq!(
            server.message(),
            format!("new row for relation \"card\" violates check constraint \"{constraint}\"")
        );
    };
    for (sql, constraint) in [
        (
            card(&[("business_model", "'postpaid'")]),
            "card_business_model_check",
        ),
        (card(&[("card_no", "0")]), "card_card_no_check"),
        (card(&[("card_no", "4294967296")]), "card_card_no_check"),
        // Two rules broken (the number, the generation): the first by name.
        (
            card(&[("card_no", "0"), ("generation", "0")]),
            "card_card_no_check",
        ),
        // Active ⇔ not voided, ⇔ no reason.
        (card(&[active[0], active[1]]), "card_check"),
        (card(&[("voided_at", "NULL")]), "card_check"),
        (card(&[("void_reason", "NULL")]), "card_check1"),
        // An active card is not blacklisted.
        (
            card(&[active[0], active[1], active[2], ("blacklisted", "true")]),
            "card_check2",
        ),
        (card(&[("generation", "0")]), "card_generation_check"),
        (card(&[("generation", "256")]), "card_generation_check"),
        (
            card(&[("meter_generation", "-1")]),
            "card_meter_generation_check",
        ),
        (
            card(&[("meter_generation", "256")]),
            "card_meter_generation_check",
        ),
        (
            card(&[("meter_loaded_seq", "-1")]),
            "card_meter_loaded_seq_check",
        ),
        (
            card(&[("meter_loaded_seq", "4294967296")]),
            "card_meter_loaded_seq_check",
        ),
        (
            card(&[("void_reason", "'not_issued'"), ("blacklisted", "true")]),
            "card_not_issued_is_not_blacklisted",
        ),
        (card(&[("state", "'lost'")]), "card_state_check"),
        (
            card(&[("void_reason", "'stolen'")]),
            "card_void_reason_check",
        ),
    ] {
        refused_by(&sql, constraint).await;
    }

    // What the rules take is taken: each reason, a blacklisted void card, a recycled one, the
    // ranges' ends, and the active card.
    let reasons = [
        "'lost'",
        "'damaged'",
        "'replaced'",
        "'account_closed'",
        "'returned'",
        "'not_issued'",
    ];
    let numbers: Vec<(String, String)> = (0..reasons.len())
        .map(|at| ((10 + at).to_string(), (2 + at).to_string()))
        .collect();
    let mut taken: Vec<String> = reasons
        .iter()
        .zip(&numbers)
        .map(|(reason, (no, generation))| {
            card(&[
                ("card_no", no.as_str()),
                ("generation", generation.as_str()),
                ("void_reason", reason),
            ])
        })
        .collect();
    taken.extend([
        card(&[
            ("card_no", "4294967295"),
            ("generation", "255"),
            ("blacklisted", "true"),
            ("meter_loaded_seq", "4294967295"),
            ("meter_generation", "255"),
        ]),
        card(&[
            ("card_no", "20"),
            ("generation", "20"),
            ("state", "'recycled'"),
            ("void_reason", "'returned'"),
            ("meter_loaded_seq", "0"),
            ("meter_generation", "0"),
        ]),
        card(&[
            active[0],
            active[1],
            active[2],
            ("card_no", "21"),
            ("generation", "21"),
        ]),
    ]);
    for sql in &taken {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }
    // An UPDATE is asked the same rules: the meter's write-back out of range, a card voided
    // without its time, refused; the write-back noted, taken.
    for (set, constraint) in [
        ("meter_generation = 256", "card_meter_generation_check"),
        ("meter_loaded_seq = -1", "card_meter_loaded_seq_check"),
        ("state = 'void', void_reason = 'lost'", "card_check"),
    ] {
        refused_by(
            &format!("UPDATE card SET {set} WHERE card_no = 21"),
            constraint,
        )
        .await;
    }
    client
        .batch_execute(
            "UPDATE card SET meter_loaded_seq = 5, meter_generation = 21 WHERE card_no = 21",
        )
        .await
        .unwrap();
    // A rule that comes out NULL passes: every one for a row of nothing.
    assert!(
        scalar::<bool>(
            &client,
            "SELECT md_card_row_rules(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        )
        .await
    );
}

/// Issue 14 (s43-a, sql/V201, V202, V203): the ledger's four deferred checks that only chose
/// what an operator's row queues for its commit are one trigger, `money_checked_at_commit`,
/// whose WHEN PostgreSQL reads from 0.55 kB of text at every ledger INSERT where it read 4.3 kB;
/// the counter's limits keep their own (V118: nothing queued within them), its WHEN the limit
/// alone, and a method's the method alone (V203). A card operation's two
/// triggers that skipped the owner in their WHEN ask it in their functions, of the same user:
/// `card_operation_purchase_follows` runs as the inserting statement's user (no longer SECURITY
/// DEFINER). The owner's rows these checks would refuse from an operator commit: a card meter's
/// deposit, a card purchase, a card refund and a counter deposit with nothing of theirs, a
/// recharge out of its sequence, settled failed without its reversal.
#[tokio::test]
async fn a_ledger_rows_commit_checks_are_one_trigger_and_no_when_asks_the_owner() {
    let client = with_fixture().await;
    let deferred = texts(
        &client,
        "SELECT tgname || ' ' || length(tgqual) FROM pg_trigger
         WHERE tgrelid = 'ledger_transaction'::regclass AND tgdeferrable AND tginitdeferred
         ORDER BY 1",
    )
    .await;
    let names: Vec<&str> = deferred
        .iter()
        .map(|trigger| trigger.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["money_checked_at_commit", "within_the_counters_limits"],
        "{deferred:?}"
    );
    let ledger_whens: i64 = scalar(
        &client,
        "SELECT sum(length(tgqual)) FROM pg_trigger
         WHERE tgrelid = 'ledger_transaction'::regclass",
    )
    .await;
    // 6 392 bytes before V201 (seven WHENs), 2 597 after it (four), 1 477 after V203.
    assert!(ledger_whens < 1_700, "the ledger's WHENs: {ledger_whens}");
    let owner_asked = texts(
        &client,
        "SELECT tgrelid::regclass || '.' || tgname FROM pg_trigger
         WHERE tgrelid IN ('ledger_transaction'::regclass, 'card_operation'::regclass)
           AND tgqual LIKE '%:funcid 2705 %'
         ORDER BY 1",
    )
    .await;
    assert!(
        owner_asked.is_empty(),
        "WHENs asking pg_has_role: {owner_asked:?}"
    );
    let operation_whens: i64 = scalar(
        &client,
        "SELECT sum(length(tgqual)) FROM pg_trigger
         WHERE tgrelid = 'card_operation'::regclass",
    )
    .await;
    // 4 262 bytes before V202, 2 815 after; V245's refund taking back its water asks the kind
    // alone (412 bytes more, 862 with the state).
    assert!(
        operation_whens < 3_300,
        "card_operation's WHENs: {operation_whens}"
    );
    let definers = texts(
        &client,
        "SELECT proname || ' ' || prosecdef FROM pg_proc
         WHERE proname IN ('ledger_money_checked_at_commit', 'card_operation_purchase_follows',
                           'card_settlement_moves_its_money')
         ORDER BY 1",
    )
    .await;
    assert_eq!(
        definers,
        [
            "card_operation_purchase_follows false",
            "card_settlement_moves_its_money false",
            "ledger_money_checked_at_commit true"
        ]
    );
    // The owner's rows an operator's would be refused for, each committed.
    client
        .batch_execute(
            "INSERT INTO card (card_no, customer_id, generation, issued_by)
             VALUES (10000001, 1, 1, 1)",
        )
        .await
        .unwrap();
    for sql in [
        "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code,
                                         operator_id, idempotency_key)
         VALUES (1, 'deposit', 10.00, 'cash', 1, 'card-op:bare:deposit')",
        "INSERT INTO ledger_transaction (account_id, kind, amount, volume, operator_id,
                                         idempotency_key)
         VALUES (1, 'card_purchase', -1.00, 1, 1, 'card-op:bare:purchase')",
        "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key)
         VALUES (1, 'card_refund', 1.00, 1, 'bare-refund')",
        "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code,
                                         operator_id, idempotency_key)
         VALUES (2, 'deposit', 1.00, 'cash', 1, 'unaudited')",
        "INSERT INTO card_operation (customer_id, card_id, operator_id, idempotency_key, kind,
                                     state, purchase_seq, volume_litres, plan,
                                     purchase_record_after)
         VALUES (1, 1, 1, 'out-of-sequence', 'recharge', 'pending', 1000, 1000, '{}',
                 decode(repeat('00', 32), 'hex'))",
        "UPDATE card_operation SET state = 'failed', finished_at = now(),
                                   failure_reason = 'not_on_card',
                                   transaction_id = (SELECT max(id) FROM ledger_transaction)
         WHERE idempotency_key = 'out-of-sequence'",
    ] {
        client
            .batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error:?}"));
    }
}
