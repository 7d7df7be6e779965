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
use super::cards::{PaymentMethod, payment_methods};
use super::customers::{Page, PageAt};
use super::receipts::{self, Receipted};
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
    /// Which owner `name` is (`customer_owner_seen`, sql/V110: the latest transfer's id, 0 the
    /// first owner): sent back with a movement ([`move_money_for`]), which is refused if another
    /// desk transferred the customer since.
    pub owner_seen: i64,
}

/// The account of `customer_id`; `None`: no such customer.
pub async fn account(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<Account>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, m.meter_no, c.business_model, c.status,
                    c.customer_type_id, a.id AS account_id, a.balance,
                    customer_owner_seen(c.id) AS owner_seen
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
        customer_no, name, meter_no, business_model, status, account_id, balance, owner_seen,
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

/// Why no money moved; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefusal {
    NoSuchCustomer,
    Closed,
    /// A card-meter account: its money travels on the card (the card screen).
    CardMeter,
    NotPositive,
    MethodNotAllowed,
    /// The method (its code) was taken when the desk read the type's methods and `money_move`
    /// asked, but disabled or taken off the type before the row was posted: the ledger's
    /// trigger `a_method_the_type_takes` (sql/V107) refused it.
    MethodNoLongerTaken(String),
    /// A refund above the balance (the database's CHECK refuses it too).
    AboveBalance,
    /// The operator's roles do not allow it (`account.deposit`, `account.refund`,
    /// `account.pay_bills`).
    NotPermitted,
    /// The bills a deposit was to pay were paid, voided or extended meanwhile.
    BillsChanged,
    /// The balance with the deposit does not cover the bills it was to pay.
    BillsNotCovered,
    /// Another desk transferred the customer since the screen read its owner
    /// ([`move_money_for`]): the money would have gone to an owner the clerk did not see.
    /// `owner`: the name stored now.
    OwnerChanged {
        owner: String,
    },
}

/// Moves the money of `change` once under `key`, and answers it with its receipt as recorded:
/// one call of `money_move` (sql/V79) sent with BEGIN and COMMIT in one write, one round trip. It
/// takes an advisory lock on the key (a re-send waits for an attempt still running on a
/// connection the client lost), looks the ledger up by the key
/// (`ledger_transaction.idempotency_key` is the record: found, nothing is written and its
/// receipt is the answer), locks and checks the account, takes a receipt number, posts the
/// ledger row through `ledger_post` and its audit row (`account.deposit` or `account.refund`,
/// on the customer), as the operator: every guard of those statements refuses as it would
/// refuse them sent one by one. Refusals write nothing and are decided afresh when sent again.
///
/// A payment of bills in the same step (`bill_pay`, which checks `account.pay_bills` and that
/// the receipt is the one just taken) posts its rows in the same transaction with the same
/// receipt, under `key` with the suffix `:bills`; the deposit row keeps `key` itself.
pub async fn move_money(
    client: &mut Client,
    key: &str,
    change: &MoneyMove,
) -> Result<Receipted<MoveOutcome>, DbError> {
    move_money_of(client, key, change, None).await
}

/// [`move_money`] for the owner the clerk's screen showed (`owner_seen`, from [`Account`]):
/// `money_move_for` (sql/V110), behind the account's lock — after a transfer that held it —
/// refuses with [`MoveRefusal::OwnerChanged`] if the customer has another owner now, nothing
/// written. A key already applied answers its receipt, whoever the owner is now.
pub async fn move_money_for(
    client: &mut Client,
    key: &str,
    change: &MoneyMove,
    owner_seen: i64,
) -> Result<Receipted<MoveOutcome>, DbError> {
    move_money_of(client, key, change, Some(owner_seen)).await
}

async fn move_money_of(
    client: &mut Client,
    key: &str,
    change: &MoneyMove,
    owner_seen: Option<i64>,
) -> Result<Receipted<MoveOutcome>, DbError> {
    const MOVE: &str = "SELECT m.refusal, m.moved_kind, m.moved_customer_id, (m.line).*
                        FROM money_move($1, $2, $3, $4::numeric, $5, $6, $7::numeric) m";
    const MOVE_FOR: &str = "SELECT m.refusal, m.moved_kind, m.moved_customer_id, (m.line).*
                            FROM money_move_for($1, $2, $8, $3, $4::numeric, $5, $6,
                                                $7::numeric) m";
    let (bill_ids, bills_total) = match &change.pays {
        Some(bills) => (Some(&bills.bill_ids), Some(bills.total)),
        None => (None, None),
    };
    let statement = if owner_seen.is_some() { MOVE_FOR } else { MOVE };
    let transaction = Transaction::new(client);
    transaction.commit_behind(statement);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &key,
        &change.customer_id,
        &change.movement.kind(),
        &change.amount,
        &change.method,
        &bill_ids,
        &bills_total,
        &owner_seen,
    ];
    let moved = transaction
        .query(
            statement,
            &params[..if owner_seen.is_some() { 8 } else { 7 }],
        )
        .await;
    transaction.commit().await?;
    let rows = match moved {
        Ok(rows) => rows,
        Err(error) => {
            return refusal_of(error, change).map(|refusal| Receipted {
                outcome: MoveOutcome::Refused(refusal),
                receipt: None,
            });
        }
    };
    let Some(first) = rows.first() else {
        return Err(DbError::Inconsistent(format!(
            "idempotency key {key}: money_move answered nothing"
        )));
    };
    if let Some(refusal) = first.get::<_, Option<&str>>("refusal") {
        let mut refusal = desk_refusal(refusal)?;
        if let MoveRefusal::OwnerChanged { owner } = &mut refusal {
            *owner = owner_now(client, change.customer_id).await?;
        }
        return Ok(Receipted {
            outcome: MoveOutcome::Refused(refusal),
            receipt: None,
        });
    }
    let (kind, customer_id): (&str, i64) =
        (first.get("moved_kind"), first.get("moved_customer_id"));
    if kind != change.movement.kind() || customer_id != change.customer_id {
        return Err(DbError::Inconsistent(format!(
            "idempotency key {key} moved a {kind} for customer {customer_id}"
        )));
    }
    let receipt = receipts::record_of(&rows).ok_or_else(|| {
        DbError::Inconsistent(format!("idempotency key {key}: a move without its receipt"))
    })?;
    Ok(Receipted {
        outcome: MoveOutcome::Moved {
            receipt_no: receipt.receipt_no,
        },
        receipt: Some(Box::new(receipt)),
    })
}

/// The name of the customer's owner as stored now (told to a clerk whose screen showed another).
pub(crate) async fn owner_now(client: &Client, customer_id: i64) -> Result<String, DbError> {
    Ok(client
        .query_one("SELECT name FROM customer WHERE id = $1", &[&customer_id])
        .await?
        .get("name"))
}

/// The refusal `money_move` answered as a row: the checks the desk made before it posted.
fn desk_refusal(refusal: &str) -> Result<MoveRefusal, DbError> {
    Ok(match refusal {
        "no_such_customer" => MoveRefusal::NoSuchCustomer,
        "closed" => MoveRefusal::Closed,
        "card_meter" => MoveRefusal::CardMeter,
        "not_positive" => MoveRefusal::NotPositive,
        "method_not_allowed" => MoveRefusal::MethodNotAllowed,
        "above_balance" => MoveRefusal::AboveBalance,
        "owner_changed" => MoveRefusal::OwnerChanged {
            owner: String::new(),
        },
        other => {
            return Err(DbError::Inconsistent(format!(
                "money_move refused: {other}"
            )));
        }
    })
}

/// A refusal the database made (the operator's roles; a balance that would go below zero; the
/// bills a deposit was to pay changed meanwhile, or not covered by the balance with it; the
/// customer closed meanwhile), or the error. `bill_pay` refuses changed bills as a serialization failure and uncovered ones as a
/// CHECK violation; only a deposit paying bills meets those.
fn refusal_of(error: tokio_postgres::Error, change: &MoneyMove) -> Result<MoveRefusal, DbError> {
    let pays = change.pays.is_some();
    // Before the bills' check violation below: this one is the method's (sql/V107).
    if let Some(method) = super::method_no_longer_taken(&error) {
        return Ok(MoveRefusal::MethodNoLongerTaken(method));
    }
    let refusal = match error.as_db_error() {
        Some(server) if *server.code() == SqlState::INSUFFICIENT_PRIVILEGE => {
            MoveRefusal::NotPermitted
        }
        Some(server) if pays && *server.code() == SqlState::T_R_SERIALIZATION_FAILURE => {
            MoveRefusal::BillsChanged
        }
        Some(server) if pays && *server.code() == SqlState::CHECK_VIOLATION => {
            MoveRefusal::BillsNotCovered
        }
        Some(server) if server.constraint() == Some("account_balance_check") => {
            MoveRefusal::AboveBalance
        }
        // Closed by another desk while this movement waited for the account: `money_move`
        // checks the status in the statement that locks the account, from the customer row as
        // it was before the wait, and the ledger's trigger (`ledger_posted`) refuses the row.
        Some(server) if *server.code() == SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE => {
            MoveRefusal::Closed
        }
        _ => return Err(error.into()),
    };
    Ok(refusal)
}
