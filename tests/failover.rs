//! A hot standby takes over (issue 14, item 3): a real primary and a real streaming standby
//! (`support::standby`), two desks on `[database] url` listing both and `replica` naming the
//! standby. One desk searches all along; the other saves a customer, then saves again while
//! the primary is gone. The primary stops, the standby is promoted, and:
//! - every search is answered from the replica, before, during and after the switch, with no
//!   error on the searching desk's message line (its status line says the primary is being
//!   reconnected to, docs/decisions.md "A hot standby, and failover");
//! - the save made while the primary was gone waits, parked with its idempotency key (its
//!   desk's reads, on the primary since its save, turn to the replica meanwhile), and is
//!   applied once on the new primary when the desk's health check finds it (a second send of
//!   the same request is answered from its record, not applied again);
//! - nothing is lost: customers, ledger and applied writes counted before the switch are all
//!   on the new primary, with both saves, and `meterdesk check` finds the books balanced.
//!
//! And a replica that cannot be reached leaves the searches to the primary.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crossterm::event::KeyCode;
use meterdesk::app::requests;
use meterdesk::app::state::{DbStatus, MessageKind, Msg};
use meterdesk::db::embedded::APP_DATABASE;
use meterdesk::db::session::{Sessions, role_name};
use meterdesk::db::{DbError, Deadlines, HealthProbe, books, migrate};
use meterdesk::i18n::Lang;
use meterdesk::screens::modify::ModifyView;
use meterdesk::screens::table::CustomerTable;
use meterdesk::tools::demo;
use support::desk::Desk;
use support::pg::fresh_db;
use support::standby::StandbyPair;

/// Short deadlines, so a dead server is found out quickly.
const DEADLINES: Deadlines = Deadlines {
    statement: Duration::from_secs(10),
    tcp_user: Duration::from_secs(2),
    connect: Duration::from_secs(2),
    pool_wait: Duration::from_secs(2),
};

/// Searches the searching desk completes in each phase of the switch before the next begins.
const SEARCHES_PER_PHASE: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_carries_on_while_the_standby_takes_over() {
    let (pair, (password, numbers)) = StandbyPair::start(|owner| async move {
        let mut client = connect(&owner).await;
        migrate::run(&mut client)
            .await
            .expect("migrate the primary");
        demo_clerk(&owner).await
    })
    .await;
    let desk = || {
        let sessions = Sessions::with_replica(&pair.url(), Some(&pair.replica()), 2, DEADLINES)
            .expect("the pair's settings");
        Desk::on(support::services_on(sessions), Lang::En)
    };

    // The searching desk, on a task of its own for the whole run.
    let mut searcher = desk();
    searcher.sign_in("clerk", &password).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let searching = tokio::spawn(keep_searching(
        searcher,
        numbers.clone(),
        answered.clone(),
        done.clone(),
    ));
    let searches_go_on = || searches_answered(&answered, &searching);
    searches_go_on().await;
    let standby_owner = pair.standby.connection_string(APP_DATABASE);
    assert!(
        sessions_of("clerk", &standby_owner).await > 0,
        "the searches are answered by the replica"
    );

    // The saving desk: one save on the primary, the next typed and kept until it is gone.
    let mut saver = desk();
    saver.sign_in("clerk", &password).await;
    let mut saver_health = HealthProbe::new(saver.services.pool.clone());
    let customer = numbers[0];
    find(&mut saver, customer).await;
    modify_address(&mut saver, "A座").await;
    saver.key(KeyCode::F(2)).await;
    assert!(saver.message().contains("saved"), "{}", saver.message());
    modify_address(&mut saver, "B座").await;
    let before = Tally::of(&pair.primary.connection_string(APP_DATABASE)).await;

    let pair = Arc::new(pair);
    let stopping = pair.clone();
    tokio::task::spawn_blocking(move || stopping.stop_primary())
        .await
        .unwrap();
    searches_go_on().await;

    saver.key(KeyCode::F(2)).await;
    assert_eq!(
        saver.message(),
        "The save waits for the database and is sent by itself: nothing to retype.",
        "{}",
        saver.screen()
    );
    let [parked] = &saver.app.parked[..] else {
        panic!("one save parked: {:?}", saver.app.parked)
    };
    let save = parked.request.clone();
    let key = save.idempotency_key().expect("a save has a key").to_owned();
    report_health(&mut saver, &mut saver_health).await;
    assert_eq!(saver.app.database, DbStatus::Reconnecting);
    assert_eq!(saver.app.parked.len(), 1, "still waiting: no primary yet");
    // That desk's lag-tolerant reads, on the primary since its save, turn to the replica.
    let read = saver.services.pool.for_reads().await.expect("a connection");
    let on_standby: bool = read
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(on_standby, "the read went to the standby");
    drop(read);
    searches_go_on().await;

    let promoting = pair.clone();
    tokio::task::spawn_blocking(move || promoting.promote())
        .await
        .unwrap();
    // The saving desk's health check finds the new primary; the parked save goes there.
    for _ in 0..100 {
        report_health(&mut saver, &mut saver_health).await;
        if saver.app.database == DbStatus::Connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(saver.app.database, DbStatus::Connected);
    assert!(saver.app.parked.is_empty());
    assert!(saver.message().contains("saved"), "{}", saver.message());
    searches_go_on().await;
    done.store(true, Ordering::Relaxed);
    let searcher = searching
        .await
        .expect("the searching desk answered every search");
    assert_eq!(searcher.app.message.map(|m| m.kind), None::<MessageKind>);

    // Sent once more, as after a commit whose answer was lost: answered from its record.
    let again = requests::execute(&saver.services, save).await;
    assert!(again.is_ok(), "{again:?}");

    let after = Tally::of(&standby_owner).await;
    assert_eq!(
        Tally {
            applied_writes: before.applied_writes + 1,
            ..before
        },
        after,
        "everything of the primary is on the new primary, and the parked save once"
    );
    let mut client = connect(&standby_owner).await;
    let applied: i64 = client
        .query_one(
            "SELECT count(*) FROM applied_write WHERE idempotency_key = $1",
            &[&key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, 1);
    let address: String = client
        .query_one(
            "SELECT address FROM customer WHERE customer_no = $1",
            &[&customer],
        )
        .await
        .unwrap()
        .get(0);
    assert!(address.ends_with("A座B座"), "both saves kept: {address}");
    for check in books::check(&mut client).await.unwrap() {
        assert!(check.disagreements.is_empty(), "{check:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_go_to_the_primary_while_the_replica_cannot_be_reached() {
    let db = fresh_db().await;
    let (password, numbers) = demo_clerk(&db.conn_str).await;
    let nowhere = "host=/tmp/meterdesk-no-replica-here port=5432";
    let sessions =
        Sessions::with_replica(&db.conn_str, Some(nowhere), 2, DEADLINES).expect("the settings");
    let mut desk = Desk::on(support::services_on(sessions), Lang::En);
    desk.sign_in("clerk", &password).await;
    find(&mut desk, numbers[0]).await;
    let table = desk.app.screen.module::<CustomerTable>();
    assert_eq!(
        table
            .and_then(CustomerTable::selected_row)
            .map(|row| row.customer_no),
        Some(numbers[0]),
        "{}",
        desk.screen()
    );
    assert!(desk.app.parked.is_empty() && desk.app.message.is_none());
}

/// Demo data written as the owner (`owner`, a connection string): the clerk's password and a
/// few customer numbers.
async fn demo_clerk(owner: &str) -> (String, Vec<i64>) {
    let pool = meterdesk::db::pool_from_conn_str(owner, 2).expect("a pool as the owner");
    let summary = demo::load(&pool, 40, |_| {}).await.expect("demo data");
    let client = pool.get().await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let numbers = client
        .query("SELECT customer_no FROM customer ORDER BY id LIMIT 8", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("customer_no"))
        .collect();
    (clerk.password.clone(), numbers)
}

/// What must survive the switch, counted as the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tally {
    customers: i64,
    ledger_rows: i64,
    applied_writes: i64,
}

impl Tally {
    async fn of(owner: &str) -> Tally {
        let row = connect(owner)
            .await
            .query_one(
                "SELECT (SELECT count(*) FROM customer) AS customers,
                        (SELECT count(*) FROM ledger_transaction) AS ledger_rows,
                        (SELECT count(*) FROM applied_write) AS applied_writes",
                &[],
            )
            .await
            .unwrap();
        Tally {
            customers: row.get("customers"),
            ledger_rows: row.get("ledger_rows"),
            applied_writes: row.get("applied_writes"),
        }
    }
}

async fn connect(conn_str: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conn_str, tokio_postgres::NoTls)
        .await
        .expect("connect as the owner");
    tokio::spawn(connection);
    client
}

/// How many connections operator `login` has open on the server of `owner`.
async fn sessions_of(login: &str, owner: &str) -> i64 {
    connect(owner)
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
            &[&role_name(login, APP_DATABASE)],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until the searching desk has answered [`SEARCHES_PER_PHASE`] more searches (or
/// stopped: its task's panic is the test's failure).
async fn searches_answered(answered: &AtomicUsize, searching: &tokio::task::JoinHandle<Desk>) {
    let target = answered.load(Ordering::Relaxed) + SEARCHES_PER_PHASE;
    while answered.load(Ordering::Relaxed) < target && !searching.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!searching.is_finished(), "the searching desk stopped");
}

/// Types each customer number in turn into the search box, digit by digit (each digit a
/// search of its own), checks the customer is found with nothing said against it, and clears
/// the box again; the desk's health check runs between searches, as the watcher does.
async fn keep_searching(
    mut desk: Desk,
    numbers: Vec<i64>,
    answered: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
) -> Desk {
    let mut health = HealthProbe::new(desk.services.pool.clone());
    desk.key(KeyCode::Char('/')).await;
    for number in numbers.iter().cycle() {
        if done.load(Ordering::Relaxed) {
            break;
        }
        report_health(&mut desk, &mut health).await;
        let typed = format!("{number:08}");
        desk.text(&typed).await;
        let table = desk
            .app
            .screen
            .module::<CustomerTable>()
            .expect("the table");
        assert_eq!(
            table.selected_row().map(|row| row.customer_no),
            Some(*number),
            "{}",
            desk.screen()
        );
        assert!(
            desk.app.parked.is_empty(),
            "a search waits: {}",
            desk.screen()
        );
        assert_ne!(
            desk.app.message.as_ref().map(|message| &message.kind),
            Some(&MessageKind::Error),
            "{}",
            desk.screen()
        );
        for _ in typed.chars() {
            desk.key(KeyCode::Backspace).await;
        }
        answered.fetch_add(1, Ordering::Relaxed);
    }
    desk
}

/// One health check, reported to the desk as the runner's watcher does.
async fn report_health(desk: &mut Desk, health: &mut HealthProbe) {
    let status = match health.ping().await.expect("signed in") {
        Ok(()) => DbStatus::Connected,
        Err(DbError::SignedOut(detail)) => panic!("signed out: {detail}"),
        Err(_) => DbStatus::Reconnecting,
    };
    desk.send(Msg::Database(status)).await;
}

/// Selects customer `number` on the table.
async fn find(desk: &mut Desk, number: i64) {
    desk.key(KeyCode::Char('/')).await;
    desk.text(&format!("{number:08}")).await;
    desk.key(KeyCode::Enter).await;
}

/// Opens Modify on the selected customer and types `text` at the end of the address.
async fn modify_address(desk: &mut Desk, text: &str) {
    desk.key(KeyCode::Char('m')).await;
    assert!(desk.app.screen.is::<ModifyView>(), "{}", desk.screen());
    for _ in 0..3 {
        desk.key(KeyCode::Tab).await;
    }
    // The field entered has its text selected: End puts the cursor after it.
    desk.key(KeyCode::End).await;
    desk.text(text).await;
}
