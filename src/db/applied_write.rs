//! Writes applied exactly once (`sql/V9`, `V10`): every write the clerk confirms carries the
//! idempotency key the app made at F2, and [`write_once`] runs it: it looks the key up first
//! and, if the key is new, runs the write and records the key with the write's outcome before
//! committing. A request sent again after a connection lost between the commit and the reply
//! so writes nothing and answers what the first attempt answered. Refusals record nothing:
//! sent again, they are decided afresh. Used by the customer changes and every reference-data
//! change.

use crate::db::{CachingClient, Transaction};
use deadpool_postgres::ClientWrapper as Client;
use tokio_postgres::Row;

use super::DbError;

/// A write's answer, as it is kept in `applied_write.outcome` (jsonb) and read back from it.
pub(super) trait Outcome: Sized {
    /// The columns [`Outcome::read_back`] reads, selected from `outcome`, each named
    /// (`(outcome->>'id')::bigint AS id`).
    const FIELDS: &'static str;

    /// The answer recorded, from a row of [`Outcome::FIELDS`].
    fn read_back(row: &Row) -> Result<Self, DbError>;

    /// What to record for this answer, or None for one that wrote nothing (a refusal): its
    /// transaction is rolled back and the key stays free.
    fn to_record(&self) -> Option<serde_json::Value>;
}

/// Runs `write` once under `key`, in one transaction with its bookkeeping: an advisory lock on
/// the key, the lookup, the write, the key recorded with its outcome, the commit.
///
/// The lock makes a re-send wait for any other transaction of the same key: it can arrive
/// while the first attempt still runs on a connection the client has lost, and must see
/// whether that committed. The lock is transaction-scoped, in a class of its own (9, after the
/// migration) so it cannot meet another advisory lock. A key recorded by another kind of write
/// is an error, not an answer.
pub(super) async fn write_once<O: Outcome>(
    client: &mut Client,
    key: &str,
    kind: &str,
    operator_id: i64,
    write: impl AsyncFnOnce(&Transaction<'_>) -> Result<O, DbError>,
) -> Result<O, DbError> {
    let transaction = Transaction::new(client);
    // The lookup is sent behind the lock, with BEGIN before both: one round trip, and the
    // lookup runs once the lock is granted (see `lock_then_look_up`).
    let (_, recorded) = lock_then_look_up(
        &transaction,
        key,
        &format!(
            "SELECT kind AS recorded_kind, {} FROM applied_write WHERE idempotency_key = $1",
            O::FIELDS
        ),
    )
    .await?;
    if let Some(row) = recorded {
        let recorded_kind: &str = row.get("recorded_kind");
        if recorded_kind != kind {
            return Err(DbError::Inconsistent(format!(
                "idempotency key {key} was used by a {recorded_kind}, not a {kind}"
            )));
        }
        return O::read_back(&row);
    }
    let outcome = write(&transaction).await?;
    let Some(record) = outcome.to_record() else {
        transaction.rollback().await?;
        return Ok(outcome);
    };
    // The key's record is the last statement: COMMIT goes in the same write.
    transaction.commit_behind(RECORD);
    transaction
        .execute(RECORD, &[&key, &kind, &record.to_string(), &operator_id])
        .await?;
    transaction.commit().await?;
    Ok(outcome)
}

/// A write's key recorded with its outcome.
const RECORD: &str = "INSERT INTO applied_write (idempotency_key, kind, outcome, operator_id)
                      VALUES ($1, $2, $3::text::jsonb, $4)";

/// Takes the transaction-scoped advisory lock of idempotency key `key` (class 9) and runs
/// `lookup` (its `$1`: the key) once it is granted, in one round trip: a connection runs its
/// statements in the order they are sent, so the lookup, sent behind the lock, sees what the
/// lock's previous holder committed. The lock's statement is prepared before either is sent,
/// so that a lookup prepared sooner cannot overtake it.
pub(super) async fn lock_then_look_up(
    transaction: &Transaction<'_>,
    key: &str,
    lookup: &str,
) -> Result<(u64, Option<Row>), tokio_postgres::Error> {
    const LOCK: &str = "SELECT pg_advisory_xact_lock(9, hashtext($1))";
    transaction.prepared(LOCK).await?;
    tokio::try_join!(
        biased;
        async { transaction.execute(LOCK, &[&key]).await },
        async { transaction.query_opt(lookup, &[&key]).await },
    )
}

/// Implements [`Outcome`] for an answer recorded as the id it saved, `Type::Variant { id }`
/// (`{"id": …}`); any other answer is a refusal.
macro_rules! outcome_saved_id {
    ($type:ident :: $variant:ident) => {
        impl $crate::db::applied_write::Outcome for $type {
            const FIELDS: &str = "(outcome->>'id')::bigint AS id";

            fn read_back(row: &tokio_postgres::Row) -> Result<Self, DbError> {
                Ok($type::$variant { id: row.get("id") })
            }

            fn to_record(&self) -> Option<serde_json::Value> {
                match self {
                    $type::$variant { id } => Some(serde_json::json!({ "id": id })),
                    _ => None,
                }
            }
        }
    };
}

/// Implements [`Outcome`] for an answer recorded only as done, `Type::Variant` (`{}`); any
/// other answer is a refusal.
macro_rules! outcome_done {
    ($type:ident :: $variant:ident) => {
        impl $crate::db::applied_write::Outcome for $type {
            const FIELDS: &str = "outcome";

            fn read_back(_: &tokio_postgres::Row) -> Result<Self, DbError> {
                Ok($type::$variant)
            }

            fn to_record(&self) -> Option<serde_json::Value> {
                matches!(self, $type::$variant).then(|| serde_json::json!({}))
            }
        }
    };
}

pub(super) use {outcome_done, outcome_saved_id};
