//! Receipts of money moved at the counter (domain.md, "Accounts"): numbered from the one
//! `receipt_no_seq` (never reused: a rolled-back number is a gap, never handed out again), one
//! receipt for the ledger rows of one payment. A write takes a number in its transaction (the
//! receipt's INSERT, in `money_move` or `bill_pay`), posts its ledger rows with it, and the
//! receipt is read whole as recorded by `receipt_read` (sql/V79): [`receipt`] reads it after the
//! commit, `money_move` answers it ([`Receipted`]) — what the paper says is what the database
//! recorded. Reprints count in `receipt.reprints`, one receipt at a time and audited ([`reprint`]). The card receipts read their
//! facts with `cards::receipt_facts`, from [`receipt`] too (one balance for every receipt: the
//! one its last ledger row left); bill payments use these.

use crate::db::CachingClient;
use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::Row;

use super::DbError;
use super::cards::PaymentMethod;
use super::rows::from_columns;
use crate::domain::money::{Money, UnitPrice, Volume};

/// One ledger row on a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    /// The ledger kind: deposit, refund, bill_payment, …; `clear_card_credit` for the
    /// `card_refund` row a clear card's credit posted (sql/V23), which cancelled no purchase.
    pub kind: String,
    pub amount: Money,
    pub volume: Option<Volume>,
    pub unit_price: Option<UnitPrice>,
    /// A bill payment's bill: the first day of its settlement cycle.
    pub cycle: Option<NaiveDate>,
}

/// A receipt as recorded: its rows, who, when, for whom, and the balance right after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRecord {
    pub receipt_no: i64,
    pub issued_at: DateTime<Utc>,
    pub operator: String,
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    /// `system_prepaid`, `postpaid` or `meter_prepaid`: words the rows as a recharge or a
    /// deposit.
    pub business_model: String,
    /// `None`: paid from the balance.
    pub method: Option<PaymentMethod>,
    pub lines: Vec<ReceiptLine>,
    /// The account's balance after the receipt's last row, whenever it is read (a reprint
    /// shows what the first print showed).
    pub balance_after: Money,
    pub reprints: i32,
}

/// The receipt `receipt_no` as recorded; `None` if there is none or it has no ledger rows.
pub async fn receipt(
    client: &impl CachingClient,
    receipt_no: i64,
) -> Result<Option<ReceiptRecord>, DbError> {
    let lines = client
        .query("SELECT * FROM receipt_read($1)", &[&receipt_no])
        .await?;
    Ok(record_of(&lines))
}

/// The receipt of `lines`, rows of `receipt_read` (sql/V79: one a ledger row, each with the
/// receipt's header); `None` if there are none.
pub(super) fn record_of(lines: &[Row]) -> Option<ReceiptRecord> {
    let header = lines.first()?;
    Some(from_columns!(header => ReceiptRecord {
        receipt_no, issued_at, operator, customer_no, name, meter_no, business_model,
        method: lines.iter().find_map(PaymentMethod::of_row),
        lines: lines
            .iter()
            .map(|line| {
                from_columns!(line => ReceiptLine {
                    kind, amount, volume, unit_price, cycle,
                })
            })
            .collect(),
        balance_after, reprints,
    }))
}

/// A write's answer with the receipt it issued, as recorded: money moved
/// (`accounts::move_money`), bills paid (`read_back` after `readings::pay_bills`).
#[derive(Debug, Clone, PartialEq)]
pub struct Receipted<O> {
    pub outcome: O,
    pub receipt: Option<Box<ReceiptRecord>>,
}

impl<O: Issued> Receipted<O> {
    /// `outcome` with the receipt it issued, if any, read back after the commit.
    pub async fn read_back(client: &impl CachingClient, outcome: O) -> Result<Self, DbError> {
        let receipt = issued_by(client, &outcome).await?.map(Box::new);
        Ok(Receipted { outcome, receipt })
    }
}

/// What a write that may issue a receipt answered (money moved, bills paid).
pub trait Issued {
    /// The receipt the write issued; `None`: it issued none (it was refused).
    fn receipt_no(&self) -> Option<i64>;
}

/// The receipt `outcome` issued, as recorded; `None` if it issued none.
pub async fn issued_by(
    client: &impl CachingClient,
    outcome: &impl Issued,
) -> Result<Option<ReceiptRecord>, DbError> {
    match outcome.receipt_no() {
        Some(receipt_no) => receipt(client, receipt_no).await,
        None => Ok(None),
    }
}

/// Counts a reprint of that one receipt with its audit entry, `receipt.reprint` naming the
/// copy (`receipt_reprint`, sql/V225, which asks `receipt.reprint`), and answers the receipt
/// with its new count, to be printed marked COPY; `None`: no such receipt.
pub async fn reprint(
    client: &impl CachingClient,
    receipt_no: i64,
) -> Result<Option<ReceiptRecord>, DbError> {
    let copy: Option<i32> = client
        .query_one("SELECT receipt_reprint($1) AS copy", &[&receipt_no])
        .await?
        .get("copy");
    match copy {
        Some(_) => receipt(client, receipt_no).await,
        None => Ok(None),
    }
}
