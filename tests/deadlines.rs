//! Every database call ends: a statement past the statement timeout, a connection whose peer
//! stops answering, and a pool busy with long requests (which is no outage).

mod support;

use std::time::{Duration, Instant};

use meterdesk::app::run::spawn_health_watcher;
use meterdesk::app::state::{DbStatus, Failure, Msg};
use meterdesk::db::session::Sessions;
use meterdesk::db::{DbError, Deadlines, HealthProbe, pool_with_deadlines};
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
