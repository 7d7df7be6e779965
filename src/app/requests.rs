//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use super::accounts::METER_PAGE;
use super::card_requests;
pub use super::card_requests::{ReceiptOutput, Services};
use super::state::{Failure, Problem, Reply, Request};
use crate::db::customer_changes::{self, Opening};
use crate::db::{DbError, customer_types, meters};

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
        Request::Screen(request) => request.execute(services, progress).await.map(Reply::Screen),
        Request::CustomerTypes => {
            let client = pool.get().await?;
            let types = customer_types::customer_type_options(&**client).await?;
            Ok(Reply::CustomerTypes(types))
        }
        Request::UninstalledMeters {
            meter_type_ids,
            prefix,
            after,
            ..
        } => {
            let client = pool.get().await?;
            let limit = METER_PAGE as i64 + 1;
            let page = meters::uninstalled_meters(
                &**client,
                &meter_type_ids,
                &prefix,
                after.as_deref(),
                limit,
            )
            .await?;
            Ok(Reply::Meters(page))
        }
        Request::OpenAccount {
            operator_id,
            idempotency_key,
            customer_type_id,
            info,
            meter_id,
        } => {
            let mut client = pool.get().await?;
            let opening = Opening {
                customer_type_id,
                info: &info,
                meter_id,
            };
            let outcome = customer_changes::open_account(
                &mut client,
                operator_id,
                &idempotency_key,
                &opening,
            )
            .await?;
            Ok(Reply::Opened(outcome))
        }
        Request::CustomerBasics { customer_id } => {
            let client = pool.get().await?;
            let basics = customer_changes::customer_basics(&**client, customer_id).await?;
            Ok(Reply::Basics(basics))
        }
        Request::Modify {
            operator_id,
            idempotency_key,
            read,
            info,
        } => {
            let mut client = pool.get().await?;
            let outcome = customer_changes::modify_basic_info(
                &mut client,
                operator_id,
                &idempotency_key,
                &read,
                &info,
            )
            .await?;
            Ok(Reply::Modified(outcome))
        }
        Request::TransferPreview { customer_id } => {
            let client = pool.get().await?;
            let preview = customer_changes::transfer_preview(&**client, customer_id).await?;
            Ok(Reply::TransferPreview(preview))
        }
        Request::Transfer {
            operator_id,
            idempotency_key,
            customer_id,
            info,
        } => {
            let mut client = pool.get().await?;
            let outcome = customer_changes::transfer(
                &mut client,
                operator_id,
                &idempotency_key,
                customer_id,
                &info,
            )
            .await?;
            Ok(Reply::Transferred(outcome))
        }
        Request::Card(request) => card_requests::execute(services, request)
            .await
            .map(Reply::Card),
    }
}
