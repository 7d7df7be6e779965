//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use std::path::PathBuf;
use std::sync::Arc;

use super::accounts::METER_PAGE;
use super::print_command::PrintLimit;
use super::state::{Failure, Problem, Reply, Request};
use crate::card::reader::ReaderHandle;
use crate::cardflow::Desk;
use crate::db::customer_changes::{self, Opening};
use crate::db::{DbError, Pool, customer_types, meters};
use crate::domain::card_records::{IssuerPin, MacKey};

/// What requests run against: the database, the card reader with the card secrets, and where
/// receipts go.
#[derive(Clone)]
pub struct Services {
    pub pool: Pool,
    pub reader: Arc<ReaderHandle>,
    pub card_key: MacKey,
    pub card_pin: IssuerPin,
    pub receipts: ReceiptOutput,
}

impl Services {
    /// What a card flow (`cardflow`) runs against, for this operator.
    pub fn desk(&self, operator_id: i64) -> Desk<'_> {
        Desk {
            pool: &self.pool,
            reader: &self.reader,
            key: &self.card_key,
            pin: &self.card_pin,
            operator_id,
        }
    }
}

/// Where a receipt is kept besides the database: a text file per receipt in `directory`,
/// and the text piped to `print_command` (run by `sh -c`, stopped after `print_limit`) when
/// one is configured.
#[derive(Debug, Clone, Default)]
pub struct ReceiptOutput {
    pub directory: Option<PathBuf>,
    pub print_command: Option<String>,
    pub print_limit: PrintLimit,
}

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
    }
}
