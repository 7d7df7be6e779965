//! Every database call ends: a statement past the statement timeout, a connection whose peer
//! stops answering, a request whose peer acknowledges and never answers, and a pool busy with
//! long requests (which is no outage).

mod support;

use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use meterdesk::app::run::spawn_health_watcher;
use meterdesk::app::screen::ScreenRequest;
use meterdesk::app::state::{DbStatus, Failure, Msg, Request};
use meterdesk::db::meters::ImportChoice;
use meterdesk::db::session::Sessions;
use meterdesk::db::{
    DbError, Deadlines, HealthProbe, IMPORT_STATEMENT_TIMEOUT, LostConnection, pool_with_deadlines,
};
use meterdesk::i18n::Lang;
use meterdesk::screens::account::MoveMoney;
use meterdesk::screens::reading_import::ReadingImport;
use meterdesk::screens::reference::meter_import::ImportRequest;
use meterdesk::screens::reference::requests::RefCall;
use meterdesk::tools::demo;
use support::desk::Desk;
use support::pg;
use support::stalling_relay::StallingRelay;

#[tokio::test]
async fn a_statement_past_the_statement_timeout_counts_as_the_database_unreachable() {
    let db = pg::fresh_db().await;
    let deadlines = Deadlines {
        statement: Duration::from_secs(1),
        ..Deadlines::default()
    };
    let pool = pool_with_deadlines(&db.conn_str, 1, &deadlines).unwrap();
    let client = pool.get().await.unwrap();
    let started = Instant::now();
    let error = DbError::from(
        client
            .simple_query("SELECT pg_sleep(10)")
            .await
            .expect_err("the server cancels the statement"),
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(error.is_connection_lost(), "{error:?}");
    assert!(error.to_string().contains("statement timeout"), "{error}");
    assert!(
        matches!(
            error,
            DbError::Unreachable(LostConnection::StatementTimedOut)
        ),
        "{error:?}"
    );
    assert!(matches!(Failure::from(error), Failure::Unreachable(_)));
    // The connection is still good for the next statement.
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn a_connection_whose_peer_stops_answering_ends_within_the_tcp_user_timeout() {
    let db = pg::fresh_db().await;
    let relay = StallingRelay::start(&db);
    let deadlines = Deadlines {
        tcp_user: Duration::from_secs(2),
        ..Deadlines::default()
    };
    let pool = pool_with_deadlines(&relay.conn_str, 1, &deadlines).unwrap();
    let client = pool.get().await.unwrap();
    // Prepared first: preparing sends only a few bytes, which the stalled relay would take.
    let length = client.prepare("SELECT length($1)").await.unwrap();

    relay.stall();
    // More than the relay's and the sockets' buffers take, so some of it stays unacknowledged.
    let big = "x".repeat(32 << 20);
    let started = Instant::now();
    let sent = tokio::time::timeout(Duration::from_secs(60), client.query_one(&length, &[&big]))
        .await
        .expect("the connection ends instead of hanging");
    let error = DbError::from(sent.expect_err("no answer comes"));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(error.is_connection_lost(), "{error:?}");
}

#[tokio::test]
async fn a_pool_busy_with_long_requests_is_not_an_outage() {
    let db = pg::fresh_db().await;
    let sessions = Sessions::new(&db.conn_str, 2, Deadlines::default()).unwrap();
    sessions.open_as_configured().unwrap();
    let _held = [sessions.get().await.unwrap(), sessions.get().await.unwrap()];
    let busy = DbError::from(
        sessions
            .get()
            .await
            .expect_err("every connection is in use"),
    );
    assert!(busy.is_connection_lost(), "{busy:?}");

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    spawn_health_watcher(HealthProbe::new(sessions.clone()), tx);
    for _ in 0..3 {
        let Some(Msg::Database(status)) = rx.recv().await else {
            panic!("the watcher reports the database");
        };
        assert_eq!(status, DbStatus::Connected);
    }
}

/// Short deadlines, so a request to a peer that never answers is given up in seconds.
const SHORT: Deadlines = Deadlines {
    statement: Duration::from_secs(1),
    tcp_user: Duration::from_secs(2),
    connect: Duration::from_secs(1),
    pool_wait: Duration::from_secs(1),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_sent_to_a_peer_that_never_answers_is_parked_and_lands_once() {
    let db = pg::fresh_db().await;
    let summary = demo::load(&db.pool, 50, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let owner = db.pool.get().await.unwrap();
    let number: i64 = owner
        .query_one(
            "SELECT customer_no FROM customer
             WHERE business_model = 'system_prepaid' AND status = 'active'
             ORDER BY customer_no LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let relay = StallingRelay::start(&db);
    let sessions = Sessions::new(&relay.conn_str, 2, SHORT).unwrap();
    let mut desk = Desk::on(support::services_on(sessions.clone()), Lang::En);
    desk.sign_in("clerk", &clerk.password).await;
    desk.key(KeyCode::Char('/')).await;
    desk.text(&format!("{number:08}")).await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::Char('r')).await;
    desk.text("88").await;
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.screen().contains("Recharge 88.00 to"),
        "{}",
        desk.screen()
    );
    let before = Written::of(&owner).await;
    let connections = sessions.pool().unwrap().status().size;

    relay.stall();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), desk.key(KeyCode::F(2)))
        .await
        .expect("the deposit is answered while its peer stays silent");
    let waited = started.elapsed();
    assert!(
        waited >= SHORT.request() && waited < SHORT.request() + Duration::from_secs(3),
        "answered after {waited:?}"
    );
    assert_eq!(
        desk.message(),
        "The save waits for the database and is sent by itself: nothing to retype."
    );
    let [parked] = &desk.app.parked[..] else {
        panic!("the deposit is parked: {:?}", desk.app.parked)
    };
    let key = parked.request.idempotency_key().unwrap().to_owned();
    assert!(parked.request.0.of::<MoveMoney>().is_some());
    // The next request, a search as often as not, is not handed the connection the deposit
    // waits on: it leaves the pool, and a new one cannot be made while the peer is silent.
    let next = sessions.for_reads().await;
    assert!(
        next.as_ref().is_err_and(DbError::is_connection_lost),
        "{next:?}"
    );
    assert_eq!(sessions.pool().unwrap().status().size, connections - 1);

    relay.unstall();
    desk.send(Msg::Database(DbStatus::Connected)).await;
    assert!(desk.app.parked.is_empty(), "{:?}", desk.app.parked);
    assert!(desk.message().contains("receipt"), "{}", desk.message());
    assert_eq!(
        Written::of(&owner).await,
        Written {
            ledger_rows: before.ledger_rows + 1,
            receipts: before.receipts + 1,
        },
        "the deposit landed once"
    );
    let keyed = pg::count(
        &owner,
        &format!("SELECT count(*) FROM ledger_transaction WHERE idempotency_key = '{key}'"),
    )
    .await;
    assert_eq!(keyed, 1);
    // The pool still serves, on connections that never carried the abandoned deposit.
    let client = sessions.get().await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
}

/// What a deposit writes, counted as the owner.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    ledger_rows: i64,
    receipts: i64,
}

impl Written {
    async fn of(owner: &tokio_postgres::Client) -> Written {
        let row = owner
            .query_one(
                "SELECT (SELECT count(*) FROM ledger_transaction) AS ledger_rows,
                        (SELECT count(*) FROM receipt) AS receipts",
                &[],
            )
            .await
            .unwrap();
        Written {
            ledger_rows: row.get("ledger_rows"),
            receipts: row.get("receipts"),
        }
    }
}

#[test]
fn a_request_is_given_up_only_after_the_servers_own_deadlines() {
    let deadlines = Deadlines::default();
    assert_eq!(deadlines.request(), Duration::from_secs(30 + 10 + 2 + 2));
    assert!(deadlines.request() > deadlines.statement + deadlines.tcp_user);
    let deposit = MoveMoney {
        change: meterdesk::db::accounts::MoneyMove {
            customer_id: 1,
            movement: meterdesk::db::accounts::Movement::Deposit,
            amount: "1.00".parse().unwrap(),
            method: "cash".into(),
            pays: None,
        },
        idempotency_key: "k".into(),
        owner_seen: None,
    };
    assert_eq!(deposit.deadline(&deadlines), deadlines.request());

    // The imports' one long statement may take the import's statement timeout.
    assert!(deadlines.import() > IMPORT_STATEMENT_TIMEOUT + deadlines.tcp_user);
    let readings = ReadingImport {
        path: "readings.csv".into(),
        idempotency_key: Some("k".into()),
        csv: None,
    };
    assert_eq!(readings.deadline(&deadlines), deadlines.import());
    let meters = |work| RefCall {
        operator_id: 1,
        work,
    };
    let import = meters(ImportRequest::Import {
        idempotency_key: "k".into(),
        csv: Default::default(),
        choice: ImportChoice::GoodRows,
    });
    assert_eq!(import.deadline(&deadlines), deadlines.import());
    let check = meters(ImportRequest::Check {
        path: "meters.csv".into(),
    });
    assert_eq!(check.deadline(&deadlines), deadlines.request());

    // A save's wait is told on the message line after `SAVE_WAIT_TOLD`; an import's is not:
    // it is long on purpose, and says how far it is.
    let is_save = |request: Box<dyn ScreenRequest>| Request(request).is_save();
    assert!(is_save(Box::new(deposit)));
    assert!(!is_save(Box::new(readings)));
    assert!(!is_save(Box::new(import)));
    assert!(!is_save(Box::new(check)), "a check writes nothing");
}

/// A counter reading sent to a peer that never answers (a frozen server, a stuck proxy), as
/// the deposit above: parked at the deadline; meanwhile F2 six times and Esc six times leave
/// nothing twice and lose nothing, and signing out is refused in words while the save waits.
/// Unfrozen, what the peer held reaches the server (the first attempt) and the health
/// watcher's "connected" re-sends the reading with its key: one reading, one audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_sent_to_a_peer_that_never_answers_is_parked_and_recorded_once() {
    let db = pg::fresh_db().await;
    let summary = demo::load(&db.pool, 50, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let owner = db.pool.get().await.unwrap();
    let row = owner
        .query_one(
            "SELECT c.customer_no, c.meter_id,
                    (SELECT r.electronic FROM meter_reading r WHERE r.meter_id = c.meter_id
                     ORDER BY r.read_on DESC, r.id DESC LIMIT 1) AS latest
             FROM customer c JOIN customer_type t ON t.id = c.customer_type_id
             WHERE c.business_model = 'postpaid' AND c.status = 'active' AND t.charges
               AND EXISTS (SELECT FROM meter_reading r WHERE r.meter_id = c.meter_id)
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (number, meter_id): (i64, i64) = (row.get("customer_no"), row.get("meter_id"));
    let latest: rust_decimal::Decimal = row.get("latest");
    let readings = async || {
        pg::count(
            &owner,
            &format!(
                "SELECT (SELECT count(*) FROM meter_reading WHERE meter_id = {meter_id})
                      + (SELECT count(*) FROM audit_log WHERE action = 'reading.enter') * 1000
                      AS count"
            ),
        )
        .await
    };
    let before = readings().await;
    let relay = StallingRelay::start(&db);
    let sessions = Sessions::new(&relay.conn_str, 2, SHORT).unwrap();
    let mut desk = Desk::on(support::services_on(sessions.clone()), Lang::En);
    desk.sign_in("clerk", &clerk.password).await;
    desk.key(KeyCode::Char('/')).await;
    desk.text(&format!("{number:08}")).await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::Char('g')).await;
    desk.text(&(latest + rust_decimal::Decimal::ONE).to_string())
        .await;

    relay.stall();
    tokio::time::timeout(Duration::from_secs(60), desk.key(KeyCode::F(2)))
        .await
        .expect("the reading is answered while its peer stays silent");
    assert_eq!(
        desk.message(),
        "The save waits for the database and is sent by itself: nothing to retype."
    );
    let [parked] = &desk.app.parked[..] else {
        panic!("the reading is parked: {:?}", desk.app.parked)
    };
    let key = parked.request.idempotency_key().unwrap().to_owned();
    for _ in 0..6 {
        desk.key(KeyCode::F(2)).await;
    }
    assert_eq!(desk.app.parked.len(), 1, "F2 sends nothing more");
    assert!(desk.app.in_flight.is_empty(), "{:?}", desk.app.in_flight);
    for _ in 0..6 {
        desk.key(KeyCode::Esc).await;
    }
    desk.command("logout").await;
    assert_eq!(
        desk.message(),
        "A save is waiting for the database: log out once its answer has come."
    );
    assert!(desk.app.session.is_some(), "still signed in");
    assert_eq!(
        readings().await,
        before,
        "nothing landed while the peer was silent"
    );

    relay.unstall();
    desk.send(Msg::Database(DbStatus::Connected)).await;
    assert!(desk.app.parked.is_empty(), "{:?}", desk.app.parked);
    assert!(
        desk.message().starts_with("Reading saved: 1.000 m³ used"),
        "{}",
        desk.message()
    );
    assert_eq!(
        readings().await,
        before + 1001,
        "one reading, one audit entry"
    );
    let keyed = pg::count(
        &owner,
        &format!("SELECT count(*) FROM meter_reading WHERE idempotency_key = '{key}:1'"),
    )
    .await;
    assert_eq!(keyed, 1);
    desk.command("logout").await;
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.app.session.is_none(),
        "signed out once the save was told"
    );
}
