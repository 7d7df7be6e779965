//! A customer's account at the counter (domain.md, "Accounts"): its balance and the payment
//! methods its customer type takes, the ledger as a history with a running balance (keyset
//! pages, newest first), and the money the counter moves on it — a recharge or deposit, a
//! refund — exactly once per idempotency key, with a receipt.
//!
//! Who may move money is the database's to decide: every row goes through `ledger_post`
//! (`account.deposit`, `account.refund`), the receipt through its table's guard, and a refund
//! above the balance is refused by the account's `CHECK (balance >= 0)` whatever the client
//! checked before.

use crate::db::{CachingClient, Transaction};
use chrono::{DateTime, Utc};
use deadpool_postgres::ClientWrapper as Client;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::DbError;
use super::applied_write::lock_then_look_up;
use super::cards::{PaymentMethod, payment_methods};
use super::customers::{Page, PageAt};
use super::receipts;
use super::rows::from_columns;
use crate::domain::money::{Money, Volume};

/// A customer's account as the account screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub customer_id: i64,
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    /// `meter_prepaid` (money travels on the card: transactions only here), `system_prepaid`
    /// (recharge, refund) or `postpaid` (deposit, refund).
    pub business_model: String,
    /// `active` or `closed`.
    pub status: String,
    pub account_id: i64,
    pub balance: Money,
    /// What the customer's type takes, cash first.
    pub payment_methods: Vec<PaymentMethod>,
}

/// The account of `customer_id`; `None`: no such customer.
pub async fn account(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<Account>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, m.meter_no, c.business_model, c.status,
                    c.customer_type_id, a.id AS account_id, a.balance
             FROM customer c JOIN account a ON a.customer_id = c.id
                  JOIN meter m ON m.id = c.meter_id
             WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(from_columns!(row => Account {
        customer_id: row.get("id"),
        customer_no, name, meter_no, business_model, status, account_id, balance,
        payment_methods: payment_methods(client, row.get("customer_type_id")).await?,
    })))
}

/// One ledger row with the balance right after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub amount: Money,
    pub volume: Option<Volume>,
    pub method: Option<PaymentMethod>,
    pub receipt_no: Option<i64>,
    /// The operator's login; `None`: the system (a deduction from a reading).
    pub operator: Option<String>,
    pub balance_after: Money,
}

impl LedgerLine {
    fn from_row(row: &Row) -> LedgerLine {
        from_columns!(row => LedgerLine {
            id,
            at: row.get("created_at"),
            kind, amount, volume,
            method: PaymentMethod::of_row(row),
            receipt_no, operator, balance_after,
        })
    }
}

/// A page of `account_id`'s ledger, newest first (`PageAt` cursors are ledger ids). The
/// running balance is a window over the account's own rows (an account holds tens to a few
/// thousand), so every page shows the balance each row left, not today's.
pub async fn history(
    client: &impl CachingClient,
    account_id: i64,
    at: &PageAt<i64>,
    size: usize,
) -> Result<Page<LedgerLine>, DbError> {
    // Forward is the display order: newer to older (the ids descend).
    let seek = at.seek();
    let (forward, cursor, comparison) =
        (seek.forward, seek.cursor.copied(), seek.comparison(false));
    let rows = read(client, account_id, cursor, comparison, forward, size + 1).await?;
    at.page_of(rows, size, async |id| {
        Ok(!read(client, account_id, Some(*id), ">", false, 1)
            .await?
            .is_empty())
    })
    .await
}

async fn read(
    client: &impl CachingClient,
    account_id: i64,
    cursor: Option<i64>,
    comparison: &str,
    forward: bool,
    limit: usize,
) -> Result<Vec<LedgerLine>, DbError> {
    let order = if forward { "DESC" } else { "ASC" };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &format!(
                "SELECT * FROM (
                     SELECT t.id, t.created_at, t.kind, t.amount, t.volume, p.code AS method_code,
                            p.name AS method,
                            t.receipt_no, o.login AS operator,
                            sum(t.amount) OVER (ORDER BY t.id) AS balance_after
                     FROM ledger_transaction t
                     LEFT JOIN payment_method p ON p.code = t.payment_method_code
                     LEFT JOIN operator o ON o.id = t.operator_id
                     WHERE t.account_id = $1) AS h
                 WHERE $2::bigint IS NULL OR h.id {comparison} $2
                 ORDER BY h.id {order} LIMIT $3"
            ),
            &[&account_id, &cursor, &limit],
        )
        .await?;
    Ok(rows.iter().map(LedgerLine::from_row).collect())
}

/// Money the counter moves on an account: in (a system-prepaid recharge, a postpaid deposit:
/// both the ledger's `deposit`) or out (a `refund`, paid out by `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Deposit,
    Refund,
}

impl Movement {
    /// The ledger's kind of the row.
    pub fn kind(self) -> &'static str {
        match self {
            Movement::Deposit => "deposit",
            Movement::Refund => "refund",
        }
    }
}

/// A movement the clerk confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyMove {
    pub customer_id: i64,
    pub movement: Movement,
    /// Positive: how much comes in or goes out.
    pub amount: Money,
    /// A payment method code the customer's type takes.
    pub method: String,
    /// Bills a deposit pays in the same step, on its receipt.
    pub pays: Option<BillsToPay>,
}

/// Unpaid bills of the account, paid in full, oldest first, if they still come to `total`
/// (what the clerk confirmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillsToPay {
    pub bill_ids: Vec<i64>,
    pub total: Money,
}

/// What moving the money answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveOutcome {
    /// Moved (now, or by an earlier attempt with the same key): the receipt to print.
    Moved {
        receipt_no: i64,
    },
    Refused(MoveRefusal),
}

impl receipts::Issued for MoveOutcome {
    fn receipt_no(&self) -> Option<i64> {
        match self {
            MoveOutcome::Moved { receipt_no } => Some(*receipt_no),
            MoveOutcome::Refused(_) => None,
        }
    }
}

/// Why no money moved; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefusal {
    NoSuchCustomer,
    Closed,
    /// A card-meter account: its money travels on the card (the card screen).
    CardMeter,
    NotPositive,
    MethodNotAllowed,
    /// A refund above the balance (the database's CHECK refuses it too).
    AboveBalance,
    /// The operator's roles do not allow it (`account.deposit`, `account.refund`,
    /// `account.pay_bills`).
    NotPermitted,
    /// The bills a deposit was to pay were paid, voided or extended meanwhile.
    BillsChanged,
    /// The balance with the deposit does not cover the bills it was to pay.
    BillsNotCovered,
}

/// Moves the money of `change` once under `key`: in one transaction an advisory lock on the
/// key (a re-send waits for an attempt still running on a connection the client lost), the
/// ledger looked up by the key (`ledger_transaction.idempotency_key` is the record: found,
/// nothing is written and its receipt is the answer), the account locked and checked, a
/// receipt number, the ledger row through `ledger_post`, its audit row (`account.deposit` or
/// `account.refund`, on the customer), the commit. Refusals write nothing
/// and are decided afresh when sent again.
///
/// A later payment of bills in the same step posts its rows in the same transaction with the
/// same receipt, each under `key` with a suffix (`post`); the deposit row keeps `key` itself.
pub async fn move_money(
    client: &mut Client,
    key: &str,
    change: &MoneyMove,
) -> Result<MoveOutcome, DbError> {
    let transaction = Transaction::new(client);
    let (_, moved_before) = lock_then_look_up(
        &transaction,
        key,
        "SELECT t.receipt_no, t.kind, a.customer_id FROM ledger_transaction t
         JOIN account a ON a.id = t.account_id WHERE t.idempotency_key = $1",
    )
    .await?;
    if let Some(row) = moved_before {
        let (kind, customer_id): (&str, i64) = (row.get("kind"), row.get("customer_id"));
        if kind != change.movement.kind() || customer_id != change.customer_id {
            return Err(DbError::Inconsistent(format!(
                "idempotency key {key} moved a {kind} for customer {customer_id}"
            )));
        }
        return Ok(MoveOutcome::Moved {
            receipt_no: row.get("receipt_no"),
        });
    }
    let moved = match refused(&transaction, change).await? {
        Err(refusal) => Ok(MoveOutcome::Refused(refusal)),
        Ok(account_id) => {
            let posted = async {
                let receipt_no = receipts::issue(&transaction, change.customer_id).await?;
                let amount = match change.movement {
                    Movement::Deposit => change.amount,
                    Movement::Refund => Money::ZERO - change.amount,
                };
                let posting = Posting {
                    account_id,
                    kind: change.movement.kind(),
                    amount,
                    method: Some(&change.method),
                    receipt_no,
                    key,
                };
                let posted = post(&transaction, &posting).await?;
                transaction
                    .execute(
                        "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                         VALUES (current_operator_id(), 'account.' || $1, 'customer', $2,
                                 jsonb_build_object('amount', $3::numeric, 'method', $4::text,
                                                    'receipt_no', $5::bigint,
                                                    'transaction_id', $6::bigint))",
                        &[
                            &change.movement.kind(),
                            &change.customer_id,
                            &amount,
                            &change.method,
                            &receipt_no,
                            &posted,
                        ],
                    )
                    .await?;
                Ok::<_, tokio_postgres::Error>(receipt_no)
            }
            .await;
            match posted {
                Ok(receipt_no) => match &change.pays {
                    Some(bills) => pay_on(&transaction, key, bills, receipt_no).await,
                    None => Ok(MoveOutcome::Moved { receipt_no }),
                },
                Err(error) => refusal_of(error).map(MoveOutcome::Refused),
            }
        }
    };
    match moved? {
        moved @ MoveOutcome::Moved { .. } => {
            transaction.commit().await?;
            Ok(moved)
        }
        refused => {
            transaction.rollback().await?;
            Ok(refused)
        }
    }
}

/// Pays `bills` on the deposit's receipt in its transaction (`bill_pay`, which checks
/// `account.pay_bills` and that the receipt is the one just taken), under `key` with the
/// suffix `:bills`.
async fn pay_on(
    transaction: &Transaction<'_>,
    key: &str,
    bills: &BillsToPay,
    receipt_no: i64,
) -> Result<MoveOutcome, DbError> {
    let paid = transaction
        .execute(
            "SELECT bill_pay($1, $2, $3::numeric, $4)",
            &[
                &format!("{key}:bills"),
                &bills.bill_ids,
                &bills.total,
                &receipt_no,
            ],
        )
        .await;
    let Err(error) = paid else {
        return Ok(MoveOutcome::Moved { receipt_no });
    };
    let refusal = match error.code() {
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) => MoveRefusal::BillsChanged,
        Some(&SqlState::CHECK_VIOLATION) => MoveRefusal::BillsNotCovered,
        _ => return refusal_of(error).map(MoveOutcome::Refused),
    };
    Ok(MoveOutcome::Refused(refusal))
}

/// The account to post on, locked (concurrent movements queue behind it), or why not.
async fn refused(
    transaction: &Transaction<'_>,
    change: &MoneyMove,
) -> Result<Result<i64, MoveRefusal>, DbError> {
    let Some(row) = transaction
        .query_opt(
            "SELECT a.id, a.balance, c.business_model, c.status,
                    EXISTS (SELECT FROM customer_type_payment_method m
                            JOIN payment_method p ON p.code = m.payment_method_code
                            WHERE m.customer_type_id = c.customer_type_id AND p.enabled
                              AND p.code = $2) AS method_allowed
             FROM account a JOIN customer c ON c.id = a.customer_id
             WHERE c.id = $1 FOR UPDATE OF a",
            &[&change.customer_id, &change.method],
        )
        .await?
    else {
        return Ok(Err(MoveRefusal::NoSuchCustomer));
    };
    let balance: Money = row.get("balance");
    let refusal = if row.get::<_, &str>("status") == "closed" {
        Some(MoveRefusal::Closed)
    } else if row.get::<_, &str>("business_model") == "meter_prepaid" {
        Some(MoveRefusal::CardMeter)
    } else if change.amount <= Money::ZERO {
        Some(MoveRefusal::NotPositive)
    } else if !row.get::<_, bool>("method_allowed") {
        Some(MoveRefusal::MethodNotAllowed)
    } else if change.movement == Movement::Refund && change.amount > balance {
        Some(MoveRefusal::AboveBalance)
    } else {
        None
    };
    Ok(refusal.map_or_else(|| Ok(row.get("id")), Err))
}

/// A refusal the database made (the operator's roles; a balance that would go below zero),
/// or the error.
fn refusal_of(error: tokio_postgres::Error) -> Result<MoveRefusal, DbError> {
    let refusal = match error.as_db_error() {
        Some(server) if *server.code() == SqlState::INSUFFICIENT_PRIVILEGE => {
            MoveRefusal::NotPermitted
        }
        Some(server) if server.constraint() == Some("account_balance_check") => {
            MoveRefusal::AboveBalance
        }
        _ => return Err(error.into()),
    };
    Ok(refusal)
}

/// One ledger row of the counter on receipt `receipt_no`: money in or out, through
/// `ledger_post`, which checks the kind against the operator's permissions and stamps the
/// operator. Bills are paid by `bill_pay` (sql/V34: not through `ledger_post`).
pub struct Posting<'a> {
    pub account_id: i64,
    pub kind: &'a str,
    pub amount: Money,
    pub method: Option<&'a str>,
    pub receipt_no: i64,
    pub key: &'a str,
}

/// Posts `row`; answers the ledger row's id. The raw error, so the caller can tell the
/// database's refusals (42501, a CHECK) from failures.
pub async fn post(
    client: &impl CachingClient,
    row: &Posting<'_>,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT ledger_post($1, $2, $3::numeric, NULL, NULL, $4, $5, $6) AS id",
            &[
                &row.account_id,
                &row.kind,
                &row.amount,
                &row.method,
                &row.receipt_no,
                &row.key,
            ],
        )
        .await?
        .get("id"))
}
