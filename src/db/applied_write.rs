//! Writes applied exactly once (`sql/V9`, `V10`): every write the clerk confirms carries the
//! idempotency key the app made at F2, and its transaction first looks the key up here, then,
//! if the key is new, records it with the write's outcome before committing. A request sent
//! again after a connection lost between the commit and the reply so writes nothing and
//! answers what the first attempt answered. Refusals record nothing: sent again, they are
//! decided afresh. Used by the customer changes and every reference-data change.

use serde_json::json;
use tokio_postgres::{Row, Transaction};

use super::DbError;

/// The outcome recorded under `key`, as `fields` (SQL over the `outcome` column) select it
/// from column 1 on, or None if no write was applied under it. Waits first for any other
/// transaction of the same key: a re-send can arrive while the first attempt still runs on a
/// connection the client has lost, and must see whether it committed. The lock is
/// transaction-scoped, in a class of its own (9, after the migration) so it cannot meet
/// another advisory lock. A key recorded by another kind of write is an error, not an answer.
pub(super) async fn applied(
    transaction: &Transaction<'_>,
    key: &str,
    kind: &str,
    fields: &str,
) -> Result<Option<Row>, DbError> {
    transaction
        .execute("SELECT pg_advisory_xact_lock(9, hashtext($1))", &[&key])
        .await?;
    let Some(row) = transaction
        .query_opt(
            &format!("SELECT kind, {fields} FROM applied_write WHERE idempotency_key = $1"),
            &[&key],
        )
        .await?
    else {
        return Ok(None);
    };
    let recorded: &str = row.get(0);
    if recorded != kind {
        return Err(DbError::Inconsistent(format!(
            "idempotency key {key} was used by a {recorded}, not a {kind}"
        )));
    }
    Ok(Some(row))
}

/// Records the write's key and outcome, in the write's own transaction.
pub(super) async fn record_applied(
    transaction: &Transaction<'_>,
    key: &str,
    kind: &str,
    operator_id: i64,
    outcome: serde_json::Value,
) -> Result<(), DbError> {
    transaction
        .execute(
            "INSERT INTO applied_write (idempotency_key, kind, outcome, operator_id)
             VALUES ($1, $2, $3::text::jsonb, $4)",
            &[&key, &kind, &outcome.to_string(), &operator_id],
        )
        .await?;
    Ok(())
}

/// [`applied`] for a write whose recorded outcome is the id it saved (`{"id": …}`).
pub(super) async fn applied_id(
    transaction: &Transaction<'_>,
    key: &str,
    kind: &str,
) -> Result<Option<i64>, DbError> {
    let row = applied(transaction, key, kind, "(outcome->>'id')::bigint").await?;
    Ok(row.map(|row| row.get(1)))
}

/// Records a write whose outcome is the id it saved, as [`applied_id`] reads it back.
pub(super) async fn record_applied_id(
    transaction: &Transaction<'_>,
    key: &str,
    kind: &str,
    operator_id: i64,
    id: i64,
) -> Result<(), DbError> {
    record_applied(transaction, key, kind, operator_id, json!({ "id": id })).await
}

/// [`applied`] for a write whose outcome is only that it was done.
pub(super) async fn applied_done(
    transaction: &Transaction<'_>,
    key: &str,
    kind: &str,
) -> Result<bool, DbError> {
    Ok(applied(transaction, key, kind, "outcome").await?.is_some())
}

/// Records a write whose outcome is only that it was done, as [`applied_done`] reads it.
pub(super) async fn record_applied_done(
    transaction: &Transaction<'_>,
    key: &str,
    kind: &str,
    operator_id: i64,
) -> Result<(), DbError> {
    record_applied(transaction, key, kind, operator_id, json!({})).await
}
