//! The database is the security boundary: a clerk who opens `psql` with the desk's connection
//! (their own role and password) can do no more than the desk lets them, and nothing the
//! client decides is believed. Each statement goes through the real `psql` of the server
//! installation, signed in as an operator, and must be refused by the server itself.

mod support;

use std::process::Command;

use meterdesk::db::embedded::BinSearch;
use support::card_desk::{CLERK, SUPERVISOR, card_customer};
use support::pg::{TEST_PASSWORD, TestDb, give_password};

/// What `psql` made of one statement as `login`.
struct Outcome {
    ok: bool,
    said: String,
}

fn psql(db: &TestDb, login: &str, sql: &str) -> Outcome {
    let bin = BinSearch::default()
        .find()
        .expect("the PostgreSQL programs");
    let output = Command::new(bin.join("psql"))
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(db.operator_conn_str(login))
        .env("PGPASSWORD", TEST_PASSWORD)
        .output()
        .expect("run psql");
    Outcome {
        ok: output.status.success(),
        said: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn refused(db: &TestDb, login: &str, sql: &str) {
    let outcome = psql(db, login, sql);
    assert!(
        !outcome.ok,
        "{login} may not, yet the server did: {sql}\n{}",
        outcome.said
    );
    assert!(
        outcome.said.contains("permission denied")
            || outcome.said.contains("must be owner")
            || outcome.said.contains("not allowed"),
        "{login}: {sql}: refused for another reason: {}",
        outcome.said
    );
}

fn allowed(db: &TestDb, login: &str, sql: &str) -> String {
    let outcome = psql(db, login, sql);
    assert!(outcome.ok, "{login} may: {sql}\n{}", outcome.said);
    outcome.said.trim().to_owned()
}

/// A customer with an account, a clerk (`clerk`), a supervisor (`super`) and an
/// administrator (`admin`) who can sign in.
async fn desk() -> (TestDb, i64) {
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    give_password(&customer.client, SUPERVISOR).await;
    let account: i64 = customer
        .client
        .query_one(
            "SELECT id FROM account WHERE customer_id = $1",
            &[&customer.customer_id],
        )
        .await
        .unwrap()
        .get("id");
    customer
        .db
        .create_operator("admin", &["administrator"])
        .await;
    (customer.db, account)
}

/// What no operator may do, whatever their roles.
const NOBODY_MAY: [&str; 13] = [
    "UPDATE account SET balance = 1000",
    "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code, idempotency_key)
     VALUES (1, 'deposit', 1000, 'cash', 'forged')",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET action = 'nothing.happened'",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "ALTER TABLE account DISABLE TRIGGER guard_change",
    "SET session_replication_role = replica",
    "CREATE ROLE intruder LOGIN",
    "SELECT rolpassword FROM pg_authid",
    "SELECT pg_read_file('/etc/meterdesk/card.toml')",
    "UPDATE operator SET enabled = true",
    "DELETE FROM card_operation",
];

#[tokio::test]
async fn a_clerk_with_psql_can_do_no_more_than_the_desk() {
    let (db, account) = desk().await;
    for sql in NOBODY_MAY {
        refused(&db, "clerk", sql);
    }
    // Prices, the refund, another role's powers, the operators.
    refused(&db, "clerk", "UPDATE price_tier SET unit_price = 0");
    refused(
        &db,
        "clerk",
        "INSERT INTO price_version (price_scheme_id, effective_from) VALUES (1, '2030-01-01')",
    );
    refused(&db, "clerk", "DELETE FROM meter_type");
    refused(
        &db,
        "clerk",
        "UPDATE meter SET initial_electronic_reading = 5",
    );
    refused(&db, "clerk", "UPDATE meter SET status = 'removed'");
    refused(&db, "clerk", "UPDATE customer_type SET charges = false");
    refused(
        &db,
        "clerk",
        &format!(
            "SELECT ledger_post({account}, 'card_refund', 5.00, NULL, NULL, NULL, NULL, 'r-1')"
        ),
    );
    refused(
        &db,
        "clerk",
        &format!("SELECT ledger_post({account}, 'refund', -5.00, NULL, NULL, 'cash', NULL, 'r-2')"),
    );
    refused(&db, "clerk", "SET ROLE meterdesk_supervisor");
    refused(
        &db,
        "clerk",
        "SELECT operator_create('mole', 'Mole', 1, ARRAY['supervisor'], 'SCRAM-SHA-256$4096:x$y:z')",
    );
    refused(&db, "clerk", "SELECT operator_set_enabled(2, false)");

    // What a clerk does at the desk stays possible, and is theirs whatever they claim.
    let deposit = allowed(
        &db,
        "clerk",
        &format!(
            "SELECT ledger_post({account}, 'deposit', 10.00, NULL, NULL, 'cash', NULL, 'd-1')"
        ),
    );
    let posted_by = allowed(
        &db,
        "clerk",
        &format!("SELECT operator_id FROM ledger_transaction WHERE id = {deposit}"),
    );
    assert_eq!(posted_by, CLERK.to_string());
    allowed(
        &db,
        "clerk",
        &format!(
            "INSERT INTO audit_log (operator_id, action) VALUES ({SUPERVISOR}, 'blame.shifted')"
        ),
    );
    let blamed = allowed(
        &db,
        "clerk",
        "SELECT operator_id || ' ' || db_user FROM audit_log WHERE action = 'blame.shifted'",
    );
    assert_eq!(blamed, format!("{CLERK} clerk@{}", db.name));
    let balance = allowed(
        &db,
        "clerk",
        &format!("SELECT balance FROM account WHERE id = {account}"),
    );
    assert_eq!(
        balance, "10.00",
        "the balance moved only through the ledger"
    );
}

#[tokio::test]
async fn a_supervisor_has_the_corrective_powers_and_no_more() {
    let (db, account) = desk().await;
    for sql in NOBODY_MAY {
        refused(&db, "super", sql);
    }
    allowed(
        &db,
        "super",
        "UPDATE price_tier SET unit_price = 1.10 WHERE tier_no = 1",
    );
    allowed(
        &db,
        "super",
        &format!(
            "SELECT ledger_post({account}, 'deposit', 20.00, NULL, NULL, 'cash', NULL, 'd-2')"
        ),
    );
    allowed(
        &db,
        "super",
        &format!("SELECT ledger_post({account}, 'refund', -5.00, NULL, NULL, 'cash', NULL, 'r-3')"),
    );
    refused(
        &db,
        "super",
        "SELECT operator_create('mole', 'Mole', 1, ARRAY['supervisor'], 'SCRAM-SHA-256$4096:x$y:z')",
    );
    refused(
        &db,
        "super",
        "INSERT INTO role_permission VALUES ('clerk', 'card.refund')",
    );
}

#[tokio::test]
async fn an_administrator_manages_operators_and_moves_no_money() {
    let (db, account) = desk().await;
    for sql in NOBODY_MAY {
        refused(&db, "admin", sql);
    }
    refused(
        &db,
        "admin",
        &format!(
            "SELECT ledger_post({account}, 'deposit', 10.00, NULL, NULL, 'cash', NULL, 'd-3')"
        ),
    );
    refused(&db, "admin", "UPDATE customer SET name = 'Somebody Else'");
    refused(&db, "admin", "UPDATE price_tier SET unit_price = 0");
    allowed(
        &db,
        "admin",
        &format!("SELECT operator_set_enabled({CLERK}, false)"),
    );
    // The disabled clerk cannot come back in.
    let outcome = psql(&db, "clerk", "SELECT 1");
    assert!(!outcome.ok);
    assert!(
        outcome.said.contains("not permitted to log in"),
        "{}",
        outcome.said
    );
}

#[tokio::test]
async fn the_audit_log_is_read_by_who_may_view_it() {
    let (db, _) = desk().await;
    allowed(
        &db,
        "clerk",
        "INSERT INTO audit_log (action) VALUES ('clerk.was_here')",
    );
    allowed(
        &db,
        "super",
        "INSERT INTO audit_log (action) VALUES ('super.was_here')",
    );
    // A clerk sees their own rows only; a supervisor and an administrator see all.
    let seen = |login| {
        allowed(
            &db,
            login,
            "SELECT string_agg(action, ',' ORDER BY action) FROM audit_log
             WHERE action LIKE '%.was_here'",
        )
    };
    assert_eq!(seen("clerk"), "clerk.was_here");
    assert_eq!(seen("super"), "clerk.was_here,super.was_here");
    assert_eq!(seen("admin"), "clerk.was_here,super.was_here");
}
