//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use std::path::PathBuf;
use std::sync::Arc;

use super::print_command::PrintLimit;
use super::state::{Failure, Problem, Reply, Request};
use crate::card::reader::ReaderHandle;
use crate::cardflow::Desk;
use crate::db::{DbError, Pool};
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
    let Request(request) = request;
    request.execute(services, progress).await.map(Reply)
}
