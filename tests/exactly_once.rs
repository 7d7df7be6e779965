//! The exactly-once bookkeeping of writes (`db::applied_write::write_once`) against a real
//! PostgreSQL, where only its advisory lock and its lookup keep one key to one write: the
//! same account opening sent on two connections at once, and sent again while the first
//! attempt hangs in a transaction on a connection that died.

mod support;

use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use meterdesk::db::DbError;
use meterdesk::db::customer_changes::{self, OpenOutcome, Opening};
use meterdesk::db::customer_types::{self, CustomerTypeInput, CustomerTypeOutcome};
use meterdesk::db::meters::{self, MeterFields, MeterOutcome};
use meterdesk::domain::customer_rules::{BasicInfo, BusinessModel, Nature, PersonalInfo};
use meterdesk::domain::meter_csv::MeterNo;
use rust_decimal::Decimal;
use support::commit_cutter::CommitHolder;
use support::pg::{TestDb, fresh_db};
use tokio::task::JoinHandle;

const CLERK: i64 = 1;
const PLAIN_METERS: i64 = 1;
const SCHEME: i64 = 1;
const KEY: &str = "desk-test-1";

const FIXTURE: &str = "
    INSERT INTO department (name) VALUES ('Hall 1');
    INSERT INTO operator (login, full_name, department_id)
        VALUES ('clerk', 'Clerk One', 1);
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
        VALUES ('Plain DN20', 'postpayment', false, 'DN20', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date)
        VALUES ('prepaid flat', 'prepaid', 'fixed', 0.09, '2024-01-01');
";

/// A database with a customer type and one uninstalled meter to open an account on, and a
/// connection of the test's own.
async fn with_fixture() -> (TestDb, Object, Opened) {
    let db = fresh_db().await;
    let mut client = db.pool.get().await.expect("connect to the test database");
    client.batch_execute(FIXTURE).await.unwrap();
    let input = CustomerTypeInput {
        name: "Residents".to_owned(),
        nature: Nature::Personal,
        business_model: BusinessModel::SystemPrepaid,
        meter_type_ids: vec![PLAIN_METERS],
        counts_water_usage: true,
        charges: true,
        price_scheme_id: Some(SCHEME),
        payment_methods: vec!["cash".to_owned()],
    };
    let outcome = customer_types::add_customer_type(&mut client, CLERK, "type-1", &input)
        .await
        .unwrap();
    let CustomerTypeOutcome::Saved {
        id: customer_type_id,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    let fields = MeterFields {
        meter_type_id: PLAIN_METERS,
        initial_electronic_reading: Decimal::ZERO,
        initial_mechanical_reading: Decimal::ZERO,
    };
    let meter_no = MeterNo::parse("ONCE-1").unwrap();
    let outcome = meters::add_meter(&mut client, CLERK, "meter-1", &meter_no, &fields)
        .await
        .unwrap();
    assert_eq!(outcome, MeterOutcome::Done);
    let meter_id = client
        .query_one("SELECT id FROM meter WHERE meter_no = 'ONCE-1'", &[])
        .await
        .unwrap()
        .get("id");
    (
        db,
        client,
        Opened {
            customer_type_id,
            meter_id,
        },
    )
}

/// What the opening is about: the same for every desk that sends it.
#[derive(Clone, Copy)]
struct Opened {
    customer_type_id: i64,
    meter_id: i64,
}

/// A desk's connection of its own.
async fn desk(conn_str: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Sends the opening under [`KEY`] on `client`, in a task of its own.
fn send_opening(
    mut client: tokio_postgres::Client,
    opened: Opened,
) -> JoinHandle<Result<OpenOutcome, DbError>> {
    tokio::spawn(async move {
        let info = BasicInfo::Personal(PersonalInfo {
            name: "张伟".to_owned(),
            id_document_no: None,
            mobile: "13800138000".to_owned(),
            address: "建国路88号".to_owned(),
            household_size: Some(3),
            email: None,
            remark: None,
        });
        let opening = Opening {
            customer_type_id: opened.customer_type_id,
            info: &info,
            meter_id: opened.meter_id,
        };
        customer_changes::open_account(&mut client, CLERK, KEY, &opening).await
    })
}

/// Waits until `done` says so, failing the test after ten seconds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a session of the database waits for a lock another transaction holds.
async fn someone_waits_for_a_lock(client: &Object) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_stat_activity
                            WHERE datname = current_database() AND wait_event_type = 'Lock')
                 AS waiting",
            &[],
        )
        .await
        .unwrap()
        .get("waiting")
}

/// How many customers, and how many writes recorded under [`KEY`], the database holds.
async fn written(client: &Object) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM customer) AS customers,
                    (SELECT count(*) FROM applied_write WHERE idempotency_key = $1) AS recorded",
            &[&KEY],
        )
        .await
        .unwrap();
    (row.get("customers"), row.get("recorded"))
}

#[tokio::test]
async fn one_key_sent_on_two_connections_at_once_writes_once_and_both_hear_the_same() {
    let (db, client, opened) = with_fixture().await;
    let holder = CommitHolder::start(&db);

    // The first attempt has written everything and sent its COMMIT, which the network holds.
    holder.arm();
    let first = send_opening(desk(&holder.conn_str).await, opened);
    until("the first COMMIT", async || holder.holding()).await;
    let second = send_opening(desk(&db.conn_str).await, opened);
    until("the second attempt to wait", async || {
        someone_waits_for_a_lock(&client).await || second.is_finished()
    })
    .await;
    holder.release();

    let first = first.await.unwrap().unwrap();
    let second = second.await.unwrap().unwrap();
    assert!(matches!(first, OpenOutcome::Opened(_)), "{first:?}");
    assert_eq!(second, first, "the second desk hears what the first did");
    assert_eq!(written(&client).await, (1, 1), "one customer, one record");
}

#[tokio::test]
async fn one_key_sent_again_while_the_first_attempt_hangs_on_a_dead_connection_writes_once() {
    let (db, client, opened) = with_fixture().await;
    // The app's connections make the server end a transaction whose desk vanished (30 s);
    // this desk does it after a second, to keep the test short.
    let app_timeout: String = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .await
        .unwrap()
        .get("idle_in_transaction_session_timeout");
    assert_ne!(
        app_timeout, "0",
        "the app's sessions end an idle transaction"
    );
    let holder = CommitHolder::start(&db);
    let first_desk = desk(&format!(
        "{} options='-c idle_in_transaction_session_timeout=1s'",
        holder.conn_str
    ))
    .await;

    // The first desk's network dies with its COMMIT: never released, the transaction idles.
    holder.arm();
    let first = send_opening(first_desk, opened);
    until("the first COMMIT", async || holder.holding()).await;
    let sent_again = Instant::now();
    let second = send_opening(desk(&db.conn_str).await, opened);
    until("the second attempt to wait", async || {
        someone_waits_for_a_lock(&client).await || second.is_finished()
    })
    .await;

    let second = second.await.unwrap().unwrap();
    assert!(
        sent_again.elapsed() >= Duration::from_millis(500),
        "the second attempt waited for the first to end"
    );
    let first = first.await.unwrap();
    assert!(
        first.as_ref().is_err_and(DbError::is_connection_lost),
        "the first desk lost its connection: {first:?}"
    );
    let OpenOutcome::Opened(account) = &second else {
        panic!("the second attempt opens the account: {second:?}");
    };
    assert_eq!(written(&client).await, (1, 1), "one customer, one record");
    let customer_no: i64 = client
        .query_one(
            "SELECT customer_no FROM customer WHERE id = $1",
            &[&account.customer_id],
        )
        .await
        .unwrap()
        .get("customer_no");
    assert_eq!(customer_no, i64::from(account.customer_no.value()));

    // The first desk, back, sends its parked request again: the same answer, nothing written.
    let again = send_opening(desk(&db.conn_str).await, opened)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, second);
    assert_eq!(written(&client).await, (1, 1));
    holder.release();
}
