//! How `db` reads a row: by column name (`row.get("customer_no")`), never by position, so a
//! column added to a SELECT cannot shift what another one means. Every SQL expression that
//! is read gets an explicit alias (`count(*) AS meters`). A struct read whole takes each field
//! from the column of its name ([`from_columns!`]). A struct read from more than one query has
//! its own `from_row` next to it.

use std::fmt::Display;
use std::str::FromStr;

use crate::db::CachingClient;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::DbError;

/// Every row `statement` answers, each read by `read` (which may find a stored word it does
/// not know).
pub(crate) async fn read_all<T>(
    client: &impl CachingClient,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
    read: impl Fn(&Row) -> Result<T, DbError>,
) -> Result<Vec<T>, DbError> {
    client
        .query(statement, params)
        .await?
        .iter()
        .map(read)
        .collect()
}

/// The row `statement` answers, read by `read`; None when it answers none.
pub(crate) async fn read_opt<T>(
    client: &impl CachingClient,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
    read: impl FnOnce(&Row) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    client
        .query_opt(statement, params)
        .await?
        .as_ref()
        .map(read)
        .transpose()
}

/// `Type { field, … }` read from `row`, each field from the column of its name, so that a
/// name is written once; `field: value` takes what `value` gives instead (a renamed column, a
/// word parsed, a nested struct).
macro_rules! from_columns {
    ($row:ident => $type:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        $type { $($field: from_columns!(@value $row, $field $(, $value)?)),* }
    };
    (@value $row:ident, $field:ident) => {
        $row.get(stringify!($field))
    };
    (@value $row:ident, $field:ident, $value:expr) => {
        $value
    };
}

pub(crate) use from_columns;

/// The word stored in `column` (an enum's `as_str`, a CHECKed text column), parsed. A word
/// the code does not know is reported as an inconsistency, not guessed.
pub(crate) fn word<T>(row: &Row, column: &str) -> Result<T, DbError>
where
    T: FromStr,
    T::Err: Display,
{
    row.get::<_, &str>(column)
        .parse()
        .map_err(|error| DbError::Inconsistent(format!("{column}: {error}")))
}

/// What a statement answered, or None when the server refused it with `refusal` (a name
/// taken, a row referenced): the caller answers that as an outcome, not an error. Any other
/// error stays one.
pub(crate) fn accepted<T>(
    result: Result<T, tokio_postgres::Error>,
    refusal: &SqlState,
) -> Result<Option<T>, DbError> {
    Ok(accepted_or(result, [(refusal.clone(), ())])?.ok())
}

/// What a statement answered, or the outcome `refusals` pair with the SQLSTATE the server
/// refused it with. Any other error stays one.
pub(crate) fn accepted_or<T, O, const N: usize>(
    result: Result<T, tokio_postgres::Error>,
    refusals: [(SqlState, O); N],
) -> Result<Result<T, O>, DbError> {
    let error = match result {
        Ok(answer) => return Ok(Ok(answer)),
        Err(error) => error,
    };
    match refusals
        .into_iter()
        .find(|(refusal, _)| error.code() == Some(refusal))
    {
        Some((_, outcome)) => Ok(Err(outcome)),
        None => Err(error.into()),
    }
}

/// A modify replaces only the row its form was filled from (s44-e, s44-g): `now` reads the row
/// as its form shows it, locked until the save commits (`FOR UPDATE`, or a lock taken before).
/// Unless it is still `read`, the save answers `changed` and writes nothing: saved, it would
/// silently undo another desk's save made meanwhile. A row gone is left to the save's own
/// "not found".
pub(crate) async fn as_read<T: PartialEq, O>(
    now: impl Future<Output = Result<Option<T>, DbError>>,
    read: &T,
    changed: O,
) -> Result<Result<(), O>, DbError> {
    Ok(match now.await? {
        Some(now) if now != *read => Err(changed),
        _ => Ok(()),
    })
}
