//! Receipts of money moved at the counter (domain.md, "Accounts"): numbered from the one
//! `receipt_no_seq` (never reused: a rolled-back number is a gap, never handed out again), one
//! receipt for the ledger rows of one payment. A write takes a number with [`issue`] in its
//! transaction, posts its ledger rows with it, and after the commit the receipt is read back
//! whole with [`receipt`] — what the paper says is what the database recorded. Reprints count
//! in `receipt.reprints` ([`reprint`]). The card receipts read their facts with
//! `cards::receipt_facts`; bill payments use these.

use crate::db::CachingClient;
use chrono::{DateTime, NaiveDate, Utc};

use super::DbError;
use super::cards::PaymentMethod;
use super::rows::from_columns;
use crate::domain::money::{Money, UnitPrice, Volume};

/// A new receipt number for `customer_id`, in the caller's transaction (the operator is
/// stamped by the database). The raw error, so the caller can tell a refusal of the table's
/// guard (SQLSTATE 42501) from a failure.
pub async fn issue(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "INSERT INTO receipt (receipt_no, customer_id, operator_id)
             VALUES (nextval('receipt_no_seq'), $1, current_operator_id())
             RETURNING receipt_no",
            &[&customer_id],
        )
        .await?
        .get("receipt_no"))
}

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
        .query(
            "SELECT t.id, CASE WHEN s.card_no IS NULL THEN t.kind ELSE 'clear_card_credit' END
                        AS kind,
                    t.amount, t.volume, t.unit_price, p.code AS method_code,
                    p.name AS method, b.period_start AS cycle
             FROM ledger_transaction t
             LEFT JOIN payment_method p ON p.code = t.payment_method_code
             LEFT JOIN bill b ON b.id = t.bill_id
             LEFT JOIN system_card s ON s.credited_transaction_id = t.id
             WHERE t.receipt_no = $1 ORDER BY t.id",
            &[&receipt_no],
        )
        .await?;
    let Some(last) = lines.last() else {
        return Ok(None);
    };
    let last_id: i64 = last.get("id");
    let Some(row) = client
        .query_opt(
            "SELECT r.issued_at, r.reprints, o.full_name AS operator, c.customer_no, c.name,
                    c.business_model, m.meter_no,
                    (SELECT sum(t.amount) FROM ledger_transaction t
                     WHERE t.account_id = a.id AND t.id <= $2) AS balance_after
             FROM receipt r
             JOIN operator o ON o.id = r.operator_id
             JOIN customer c ON c.id = r.customer_id
             JOIN meter m ON m.id = c.meter_id
             JOIN account a ON a.customer_id = c.id
             WHERE r.receipt_no = $1",
            &[&receipt_no, &last_id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(ReceiptRecord {
        receipt_no,
        issued_at: row.get("issued_at"),
        operator: row.get("operator"),
        customer_no: row.get("customer_no"),
        name: row.get("name"),
        meter_no: row.get("meter_no"),
        business_model: row.get("business_model"),
        method: lines.iter().find_map(PaymentMethod::of_row),
        lines: lines
            .iter()
            .map(|line| {
                from_columns!(line => ReceiptLine {
                    kind, amount, volume, unit_price, cycle,
                })
            })
            .collect(),
        balance_after: row.get("balance_after"),
        reprints: row.get("reprints"),
    }))
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

/// Counts a reprint (permission `receipt.reprint`, checked by the table's guard) and answers
/// the receipt with its new count, to be printed marked COPY; `None`: no such receipt.
pub async fn reprint(
    client: &impl CachingClient,
    receipt_no: i64,
) -> Result<Option<ReceiptRecord>, DbError> {
    let counted = client
        .execute(
            "UPDATE receipt SET reprints = reprints + 1, last_reprinted_at = now()
             WHERE receipt_no = $1",
            &[&receipt_no],
        )
        .await?;
    if counted == 0 {
        return Ok(None);
    }
    receipt(client, receipt_no).await
}
