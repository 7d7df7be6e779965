//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use super::card_requests;
pub use super::card_requests::{ReceiptOutput, Services};
use super::state::{Failure, Problem, Reply, Request};
use crate::db::DbError;

impl From<DbError> for Failure {
    fn from(err: DbError) -> Failure {
        if err.is_connection_lost() {
            Failure::Unreachable(err.to_string())
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

/// Reports a long request's progress: `done` of `total`. The runner turns each report into a
/// `Msg::Progress` on the one queue.
pub type Progress<'a> = dyn Fn(u64, u64) + Send + Sync + 'a;

pub async fn execute(services: &Services, request: Request) -> Result<Reply, Failure> {
    execute_reporting(services, request, &|_, _| {}).await
}

/// [`execute`], with a long request reporting its progress through `progress`.
pub async fn execute_reporting(
    services: &Services,
    request: Request,
    progress: &Progress<'_>,
) -> Result<Reply, Failure> {
    let pool = &services.pool;
    match request {
        Request::Ref(operator_id, request) => {
            super::ref_requests::execute(pool, operator_id, request, progress)
                .await
                .map(Reply::Ref)
        }
        Request::Screen(request) => request.execute(services, progress).await.map(Reply::Screen),
        Request::Card(request) => card_requests::execute(services, request)
            .await
            .map(Reply::Card),
    }
}
