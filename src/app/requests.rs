//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use super::hub::{Failure, Problem, Reply, Request};
pub use super::services::{Progress, ReceiptOutput, Services};
use crate::db::DbError;

impl From<DbError> for Failure {
    fn from(err: DbError) -> Failure {
        if err.is_connection_lost() {
            Failure::Unreachable(err.to_string())
        } else if let DbError::SignedOut(detail) = err {
            Failure::SignedOut(detail)
        } else {
            Failure::Error(Problem::new("failure.database", err))
        }
    }
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

/// [`execute`], with a long request reporting its progress through `progress`.
pub async fn execute_reporting(
    services: &Services,
    request: Request,
    progress: &Progress<'_>,
) -> Result<Reply, Failure> {
    let Request(request) = request;
    request.execute(services, progress).await.map(Reply)
}
