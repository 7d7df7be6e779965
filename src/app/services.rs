//! What requests run against: the database pool, the card reader with the card secrets, and
//! where receipts go. A leaf of the hub: it knows no request, reply or screen.

use std::path::PathBuf;
use std::sync::Arc;

use super::print_command::PrintLimit;
use crate::card::reader::ReaderHandle;
use crate::cardflow::{CardAccess, Desk};
use crate::db::session::Sessions;

/// What requests run against: the database, the card reader with the card secrets, and where
/// receipts go.
#[derive(Clone)]
pub struct Services {
    /// The signed-in operator's connections: every request runs as that operator.
    pub pool: Sessions,
    pub reader: Arc<ReaderHandle>,
    /// The card secrets, shared by every request: one card refusing the PIN stops them all.
    pub card_access: Arc<CardAccess>,
    pub receipts: ReceiptOutput,
}

impl Services {
    /// What a card flow (`cardflow`) runs against, for this operator.
    pub fn desk(&self, operator_id: i64) -> Desk<'_> {
        Desk {
            pool: &self.pool,
            reader: &self.reader,
            access: &self.card_access,
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

/// Reports a long request's progress: `done` of `total`. The runner turns each report into a
/// `Msg::Progress` on the one queue.
pub type Progress<'a> = dyn Fn(u64, u64) + Send + Sync + 'a;
