//! The exactly-once bookkeeping of writes (`db::applied_write::write_once`) against a real
//! PostgreSQL, where only its advisory lock and its lookup keep one key to one write: the
//! same account opening sent on two connections at once, and sent again while the first
//! attempt hangs in a transaction on a connection that died. Every desk is the clerk's own
//! database role; the reference data they open on is set up by a supervisor's.

mod support;

use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Object};
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
use tokio_postgres::error::SqlState;

const PLAIN_METERS: i64 = 1;
const SCHEME: i64 = 1;
const KEY: &str = "desk-test-1";

const FIXTURE: &str = "
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
        VALUES ('Plain DN20', 'postpayment', false, 'DN20', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date)
        VALUES ('prepaid flat', 'prepaid', 'fixed', 0.09, '2024-01-01');
";

/// A database with a clerk, a customer type and one uninstalled meter to open an account on
/// (added by a supervisor), and a connection of the test's own as the owner, to look.
async fn with_fixture() -> (TestDb, Object, Opened) {
    let db = fresh_db().await;
    let owner = db.pool.get().await.expect("connect to the test database");
    owner.batch_execute(FIXTURE).await.unwrap();
    let clerk = db.create_operator("clerk", &["clerk"]).await;
    let supervisor = db.create_operator("super", &["supervisor"]).await;
    let mut client = db
        .pool_of("super")
        .get()
        .await
        .expect("sign in as the supervisor");
    let outcome =
        customer_types::add_customer_type(&mut client, supervisor, "type-1", &residents())
            .await
            .unwrap();
    let CustomerTypeOutcome::Saved {
        id: customer_type_id,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    let outcome = meters::add_meter(&mut client, supervisor, "meter-1", &meter_no(), &FIELDS)
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
        owner,
        Opened {
            customer_type_id,
            meter_id,
            clerk,
            supervisor,
        },
    )
}

fn residents() -> CustomerTypeInput {
    CustomerTypeInput {
        name: "Residents".to_owned(),
        nature: Nature::Personal,
        business_model: BusinessModel::SystemPrepaid,
        meter_type_ids: vec![PLAIN_METERS],
        counts_water_usage: true,
        charges: true,
        price_scheme_id: Some(SCHEME),
        payment_methods: vec!["cash".to_owned()],
    }
}

const FIELDS: MeterFields = MeterFields {
    meter_type_id: PLAIN_METERS,
    initial_electronic_reading: Decimal::ZERO,
    initial_mechanical_reading: Decimal::ZERO,
};

fn meter_no() -> MeterNo {
    MeterNo::parse("ONCE-1").unwrap()
}

/// What the opening is about: the same for every desk that sends it.
#[derive(Clone, Copy)]
struct Opened {
    customer_type_id: i64,
    meter_id: i64,
    /// The operator every desk signs in as.
    clerk: i64,
    /// The operator id each desk's request names: the database stamps whoever signed in.
    supervisor: i64,
}

/// A desk's connection of its own, signed in as the clerk through `via` (the database's
/// connection string, or a relay's in front of it), with the server `settings` given. As the
/// app's connections, a statement waits at most 15 s: a desk stuck behind a lock fails
/// instead of hanging the test.
async fn desk(db: &TestDb, via: &str, settings: &str) -> ClientWrapper {
    let conn_str = format!(
        "{} options='-c statement_timeout=15s {settings}'",
        db.as_operator(via, "clerk")
    );
    let (client, connection) = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    ClientWrapper::new(client, connection)
}

/// Sends the opening under [`KEY`] on `client`, in a task of its own.
fn send_opening(
    mut client: ClientWrapper,
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
        customer_changes::open_account(&mut client, opened.supervisor, KEY, &opening).await
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

/// Whether a session of the database waits for a lock another transaction holds. Asked of
/// `pg_locks`, which shows every session's locks: `pg_stat_activity` hides another role's
/// wait events from whoever is neither that role nor a reader of all statistics (the owner
/// looking at a clerk's sessions).
async fn someone_waits_for_a_lock(client: &Object) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_locks
                            WHERE NOT granted
                              AND database = (SELECT oid FROM pg_database
                                              WHERE datname = current_database()))
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

/// Who the customer and the record of [`KEY`] name as the operator who wrote them.
async fn written_by(client: &Object) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT (SELECT opened_by FROM customer) AS opened_by,
                    (SELECT operator_id FROM applied_write WHERE idempotency_key = $1)
                        AS recorded_by",
            &[&KEY],
        )
        .await
        .unwrap();
    (row.get("opened_by"), row.get("recorded_by"))
}

#[tokio::test]
async fn one_key_sent_on_two_connections_at_once_writes_once_and_both_hear_the_same() {
    let (db, client, opened) = with_fixture().await;
    let holder = CommitHolder::start(&db);

    // The first attempt has written everything and sent its COMMIT, which the network holds.
    holder.arm();
    let first = send_opening(desk(&db, &holder.conn_str, "").await, opened);
    until("the first COMMIT", async || holder.holding()).await;
    let second = send_opening(desk(&db, &db.conn_str, "").await, opened);
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
    assert_eq!(
        written_by(&client).await,
        (opened.clerk, opened.clerk),
        "the clerk signed in wrote them, whoever the request named"
    );
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
    let first_desk = desk(
        &db,
        &holder.conn_str,
        "-c idle_in_transaction_session_timeout=1s",
    )
    .await;

    // The first desk's network dies with its COMMIT: never released, the transaction idles.
    holder.arm();
    let first = send_opening(first_desk, opened);
    until("the first COMMIT", async || holder.holding()).await;
    let sent_again = Instant::now();
    let second = send_opening(desk(&db, &db.conn_str, "").await, opened);
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
    let again = send_opening(desk(&db, &db.conn_str, "").await, opened)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, second);
    assert_eq!(written(&client).await, (1, 1));
    assert_eq!(written_by(&client).await, (opened.clerk, opened.clerk));
    holder.release();
}

#[tokio::test]
async fn a_clerks_refused_reference_write_records_nothing_and_its_key_stays_free() {
    let (db, client, opened) = with_fixture().await;
    let mut clerk = db.pool_of("clerk").get().await.unwrap();
    let refused = |answer: Result<_, DbError>| match answer {
        Err(error) => assert_eq!(
            error.sql_state(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{error}"
        ),
        Ok(outcome) => panic!("the clerk's write was done: {outcome:?}"),
    };
    let mut other_type = residents();
    other_type.name = "Shops".to_owned();
    refused(
        customer_types::add_customer_type(&mut clerk, opened.supervisor, "clerk-1", &other_type)
            .await
            .map(|outcome| format!("{outcome:?}")),
    );
    refused(
        customer_types::delete_customer_type(
            &mut clerk,
            opened.supervisor,
            "clerk-2",
            opened.customer_type_id,
            &residents(),
        )
        .await
        .map(|outcome| format!("{outcome:?}")),
    );
    let spare = MeterNo::parse("ONCE-2").unwrap();
    refused(
        meters::add_meter(&mut clerk, opened.supervisor, "clerk-3", &spare, &FIELDS)
            .await
            .map(|outcome| format!("{outcome:?}")),
    );
    let recorded: i64 = client
        .query_one(
            "SELECT count(*) AS count FROM applied_write WHERE idempotency_key LIKE 'clerk-%'",
            &[],
        )
        .await
        .unwrap()
        .get("count");
    assert_eq!(recorded, 0, "a refusal records nothing");

    // The key of a refused write is free: the supervisor's write under it is done.
    let mut supervisor = db.pool_of("super").get().await.unwrap();
    let outcome = customer_types::add_customer_type(
        &mut supervisor,
        opened.supervisor,
        "clerk-1",
        &other_type,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, CustomerTypeOutcome::Saved { .. }),
        "{outcome:?}"
    );
}
