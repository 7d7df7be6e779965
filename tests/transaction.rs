//! `db::Transaction` against a real PostgreSQL: BEGIN goes with the first statement and COMMIT
//! with the last one named, and what failed or was dropped is still rolled back. Round trips
//! are counted through the test relay. A statement the connection keeps is prepared anew once
//! its table changed.

mod support;

use deadpool_postgres::Object;
use meterdesk::db::{CachingClient, Transaction, pool_from_conn_str};
use support::pg::{TestDb, fresh_db};
use support::stalling_relay::StallingRelay;
use tokio_postgres::error::SqlState;

const NOTE: &str = "INSERT INTO note (n) VALUES ($1)";
const LAST_NOTE: &str = "INSERT INTO note (n) VALUES ($1 + 1000)";

/// A database with an empty table `note`, a connection to it through a relay that counts the
/// round trips, and the relay.
async fn noting() -> (TestDb, Object, StallingRelay) {
    let db = fresh_db().await;
    db.pool
        .get()
        .await
        .unwrap()
        .batch_execute("CREATE TABLE note (n integer PRIMARY KEY)")
        .await
        .unwrap();
    let relay = StallingRelay::start(&db);
    let client = pool_from_conn_str(&relay.conn_str, 1)
        .unwrap()
        .get()
        .await
        .unwrap();
    (db, client, relay)
}

/// The notes committed, as another connection sees them.
async fn notes(db: &TestDb) -> Vec<i32> {
    db.pool
        .get()
        .await
        .unwrap()
        .query("SELECT n FROM note ORDER BY n", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("n"))
        .collect()
}

#[tokio::test]
async fn begin_goes_with_the_first_statement_and_commit_with_the_last() {
    let (db, mut client, relay) = noting().await;
    let mut turns = Vec::new();
    // The second time round, the statements are prepared on the connection.
    for n in [1, 2] {
        relay.take_turns();
        let transaction = Transaction::new(&mut client);
        transaction.commit_behind(LAST_NOTE);
        transaction.execute(NOTE, &[&n]).await.unwrap();
        transaction.execute(LAST_NOTE, &[&n]).await.unwrap();
        transaction.commit().await.unwrap();
        turns.push(relay.take_turns());
    }
    assert_eq!(turns[1], 2, "round trips: {turns:?}");
    assert_eq!(notes(&db).await, [1, 2, 1001, 1002]);

    // Without a last statement named, COMMIT is a round trip of its own.
    relay.take_turns();
    let transaction = Transaction::new(&mut client);
    transaction.execute(NOTE, &[&3]).await.unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(relay.take_turns(), 2);
    assert_eq!(notes(&db).await, [1, 2, 3, 1001, 1002]);
}

#[tokio::test]
async fn a_last_statement_that_fails_takes_its_transaction_with_it() {
    let (db, mut client, _relay) = noting().await;
    client.execute(LAST_NOTE, &[&7]).await.unwrap();
    let transaction = Transaction::new(&mut client);
    transaction.commit_behind(LAST_NOTE);
    transaction.execute(NOTE, &[&5]).await.unwrap();
    // 1007 is taken: the statement fails, and the COMMIT sent behind it rolls back.
    let error = transaction.execute(LAST_NOTE, &[&7]).await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::UNIQUE_VIOLATION));
    drop(transaction);
    assert_eq!(notes(&db).await, [1007]);
    // The connection is in no transaction: a statement of its own commits at once.
    client.execute(NOTE, &[&6]).await.unwrap();
    assert_eq!(notes(&db).await, [6, 1007]);
}

#[tokio::test]
async fn a_transaction_dropped_or_failed_unfinished_is_rolled_back() {
    let (db, mut client, _relay) = noting().await;
    let transaction = Transaction::new(&mut client);
    transaction.execute(NOTE, &[&1]).await.unwrap();
    drop(transaction);

    // A first statement that fails, with BEGIN before it; the transaction is then dropped.
    client.execute(NOTE, &[&2]).await.unwrap();
    let transaction = Transaction::new(&mut client);
    let error = transaction.execute(NOTE, &[&2]).await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::UNIQUE_VIOLATION));
    drop(transaction);

    // The next transaction on the connection is a new one: had the first not been rolled
    // back, its note would be committed with this one's.
    let transaction = Transaction::new(&mut client);
    transaction.execute(NOTE, &[&3]).await.unwrap();
    transaction.rollback().await.unwrap();
    let transaction = Transaction::new(&mut client);
    transaction.execute(NOTE, &[&4]).await.unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(notes(&db).await, [2, 4]);
}

/// A statement kept on the pool's connection whose table changed under it (a newer meterdesk
/// migrated the database) fails once and is prepared anew at its next call, on the connection
/// and on a transaction on it alike: both keep their statements in the connection's cache.
#[tokio::test]
async fn a_kept_statement_whose_table_changed_fails_once_then_is_prepared_anew() {
    const READ: &str = "SELECT * FROM note";
    let (db, mut client, _relay) = noting().await;
    let change_the_table = async |column: &str| {
        let sql = format!("ALTER TABLE note ADD COLUMN {column} integer");
        db.pool
            .get()
            .await
            .unwrap()
            .batch_execute(&sql)
            .await
            .unwrap();
    };
    let changed = SqlState::FEATURE_NOT_SUPPORTED;
    CachingClient::query(&client, READ, &[]).await.unwrap();
    change_the_table("m").await;
    let error = CachingClient::query(&client, READ, &[]).await.unwrap_err();
    assert_eq!(error.code(), Some(&changed), "{error}");
    CachingClient::query(&client, READ, &[]).await.unwrap();

    change_the_table("k").await;
    let transaction = Transaction::new(&mut client);
    let error = transaction.query(READ, &[]).await.unwrap_err();
    assert_eq!(error.code(), Some(&changed), "{error}");
    drop(transaction);
    let transaction = Transaction::new(&mut client);
    assert!(transaction.query(READ, &[]).await.unwrap().is_empty());
    transaction.commit().await.unwrap();
}
