//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use std::fmt::Debug;
use std::future::Future;

use deadpool_postgres::Client;
use tokio_postgres::error::SqlState;

use super::hub::{
    Answer, Failure, Problem, ProblemCause, Reply, Request, ScreenReply, ScreenRequest,
};
pub use super::services::{Progress, ReceiptOutput, Services};
use crate::db::{DbError, refused};

/// A request that only reads, on one connection from the pool, as most screens' loads do:
/// implementing `read` makes it a [`ScreenRequest`] that answers with what `read` returns.
pub trait Read: Debug + Clone + PartialEq + Send + Sync + 'static {
    /// Its answer changes what the keys act on: keys typed meanwhile wait for it.
    const HOLDS_INPUT: bool = false;
    /// Answered from the replica, when one is configured: a moment's lag does no harm
    /// (`Sessions::for_reads`).
    const TOLERATES_LAG: bool = false;

    fn read(
        &self,
        client: &Client,
    ) -> impl Future<Output = Result<impl ScreenReply, DbError>> + Send;
}

impl<T: Read> ScreenRequest for T {
    fn holds_input(&self) -> bool {
        T::HOLDS_INPUT
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let client = if T::TOLERATES_LAG {
                services.pool.for_reads().await?
            } else {
                services.pool.get().await?
            };
            Ok(Box::new(self.read(&client).await?) as _)
        })
    }
}

impl From<DbError> for Failure {
    fn from(err: DbError) -> Failure {
        // The cause alone: the catalogue's text says, in the desk's language, what the error's
        // English advice would (the desk reconnects by itself).
        if let DbError::Unreachable(cause) = err {
            Failure::Unreachable(cause)
        } else if let DbError::SignedOut(detail) = err {
            Failure::SignedOut(detail)
        } else if let Some(permissions) = missing_permissions(&err) {
            Failure::Error(Problem::not_permitted(permissions, err))
        } else if let Some(action) = refused_entry_action(&err) {
            Failure::Error(Problem::roles_changed(action, err))
        } else if let Some(key) = refused::known(&err) {
            // The desk's words; the server's English is the log's.
            tracing::info!("the database refused a request: {err}");
            Failure::Error(Problem::new(key, ""))
        } else {
            Failure::Error(unknown_refusal(&err))
        }
    }
}

/// Any database error as a problem told in the desk's words: a lost connection by its cause,
/// a refusal as a request's failure says it (a sign-out's detail is the log's).
pub fn problem_of(err: DbError) -> Problem {
    match Failure::from(err) {
        Failure::Error(problem) => problem,
        Failure::Unreachable(cause) => Problem {
            cause: Some(Box::new(ProblemCause::Lost(cause))),
            ..Problem::new("failure.database_lost", "")
        },
        Failure::SignedOut(detail) => {
            tracing::warn!("signed out by the server: {detail}");
            Problem::new("failure.database_signed_out", "")
        }
    }
}

/// A database error the desk has no words for, said without the server's English (logged by
/// `refused::unknown_marks`): its SQLSTATE and constraint, or, for the desk's own finding that
/// the database holds what its rules forbid, that.
pub fn unknown_refusal(err: &DbError) -> Problem {
    match err {
        DbError::Inconsistent(_) => {
            tracing::warn!("{err}");
            Problem::new("failure.inconsistent", "")
        }
        _ => Problem::new("failure.database_unknown", refused::unknown_marks(err)),
    }
}

/// The message of the database's refusal for a missing privilege (SQLSTATE
/// insufficient_privilege), if `err` is one.
fn refused_privilege(err: &DbError) -> Option<&str> {
    let DbError::Query(error) = err else {
        return None;
    };
    error
        .as_db_error()
        .filter(|db| *db.code() == SqlState::INSUFFICIENT_PRIVILEGE)
        .map(|refused| refused.message())
}

/// The permissions the database found the session without, when it refused for that: its
/// `md_require` (sql/V13) says "permission denied: <role> may not do this (needs <code> or
/// <code>)" with SQLSTATE insufficient_privilege.
fn missing_permissions(err: &DbError) -> Option<Vec<String>> {
    let needs = refused_privilege(err)?
        .rsplit_once("(needs ")?
        .1
        .strip_suffix(')')?;
    Some(needs.split(" or ").map(str::to_owned).collect())
}

/// The action of the change's audit entry the database refused at commit (sql/V53: "permission
/// denied: audit entry <id> (<action>) tells no write of this transaction that <role> may
/// make"). The desk writes true entries, so what it lacks is the permission: the roles changed
/// after the sign-in told the desk what they allow.
fn refused_entry_action(err: &DbError) -> Option<String> {
    let (told, _) = refused_privilege(err)?
        .strip_prefix("permission denied: audit entry ")?
        .split_once(") tells no write")?;
    Some(told.split_once(" (")?.1.to_owned())
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Failure {
        DbError::from(err).into()
    }
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(err: deadpool_postgres::PoolError) -> Failure {
        DbError::from(err).into()
    }
}

pub async fn execute(services: &Services, request: Request) -> Result<Reply, Failure> {
    execute_reporting(services, request, &|_, _| {}).await
}

/// [`execute`], with a long request reporting its progress through `progress`. It is answered
/// within its deadline ([`ScreenRequest::deadline`]).
pub async fn execute_reporting(
    services: &Services,
    request: Request,
    progress: &Progress<'_>,
) -> Result<Reply, Failure> {
    let Request(request) = request;
    let deadline = request.deadline(&services.pool.deadlines());
    let outcome = services
        .pool
        .answering_within(deadline, request.execute(services, progress))
        .await
        .map(Reply);
    // A write that failed is sent again, and noted when that succeeds.
    if request.writes() && outcome.is_ok() {
        services.pool.wrote();
    }
    outcome
}
