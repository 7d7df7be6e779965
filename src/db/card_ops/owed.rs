//! The debt of a purchase a meter loaded unpaid (sql/V163): a recharge settled failed from an
//! old copy of its card, whose money the balance spent since, whose purchase the card that took
//! the write brought to the meter. Recorded by the database when that card is read
//! ([`reconcile`](super::reconcile), `card_recharge_found_loaded`), listed here for the
//! recharge's quote and the supervisor, and paid ([`pay_owed`]) in the details, by a recharge's
//! F2, on the transfer form or at the account's close: until then the database refuses the
//! customer's recharges (SQLSTATE MD430), transfer and close.

use super::*;
use crate::db::applied_write::{Outcome, lock_then_look_up, write_once};
use std::sync::LazyLock;

/// One debt: recharge `operation_id`'s purchase `sequence` of `litres`, loaded by a meter,
/// whose `amount` the customer owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    pub operation_id: i64,
    pub sequence: u32,
    pub litres: u32,
    pub amount: Money,
    pub card_no: u32,
}

impl Owed {
    /// What several debts come to.
    pub fn total(owed: &[Owed]) -> Money {
        owed.iter().map(|debt| debt.amount).sum()
    }
}

/// The card debts still owed, as a FROM item: the database's one definition of a debt owed
/// (sql/V234, `card_debts_owed(at)`: the rows of `card_recharge_owed` owed at an instant, here
/// never paid), which the payment, the transfer's and the close's checks and the arrears by age
/// read too. An inlinable SQL function: PostgreSQL plans it in the caller's query, the caller's
/// customer reaching the debts' index, and probes each debt's recharge by key, so that a read of
/// every debt (the arrears list) reads the few debts and never the card operations (s41-a's and
/// s43-c's measured plans; a join on the recharge's state read the card operations' whole
/// primary key). Read by the recharge's quote and the debts listed ([`OWED`]), the customer
/// table's "owes", the transfer's and the close's facts ([`WATER_OWED`]), the details
/// ([`DEBTS_OWED`] and the card's line) and `:arrears` (`db::arrears`). A payment reads the
/// state on the recharge it locks (`pay_one`).
macro_rules! debts_still_owed {
    () => {
        "card_debts_owed()"
    };
}

/// [`debts_still_owed!`] for `format!`.
pub(crate) const DEBTS_STILL_OWED: &str = debts_still_owed!();

/// The statement of [`owed`]: customer `$1`'s outstanding debts, oldest first; also a recharge
/// quote's (`read_recharge_quote`), beside the facts, whose names its columns' do not take.
pub(super) const OWED: &str = concat!(
    "SELECT w.operation_id AS owed_operation_id,
            o.purchase_seq AS owed_purchase_seq, o.volume_litres AS owed_litres,
            w.amount AS owed_amount, w.card_no AS owed_card_no
     FROM ",
    debts_still_owed!(),
    " w
     JOIN card_operation o ON o.id = w.operation_id
     WHERE w.customer_id = $1
     ORDER BY w.operation_id"
);

/// The debts the customer of account `a` still owes: the FROM and WHERE of [`WATER_OWED`] and
/// [`DEBTS_OWED`].
macro_rules! owed_by_account {
    () => {
        concat!(
            " FROM ",
            debts_still_owed!(),
            " w WHERE w.customer_id = a.customer_id"
        )
    };
}

/// What the customer of account `a` owes for water a meter loaded unpaid, as a subquery: the
/// sum of [`OWED`]'s debts, zero when none. A transfer and a close wait for it (sql/V183, V184);
/// the customer table counts it in a row's arrears.
pub(crate) const WATER_OWED: &str =
    concat!("SELECT coalesce(sum(w.amount), 0)", owed_by_account!());

/// [`WATER_OWED`] and how many debts it sums, as a lateral subquery: columns `water_owed` and
/// `card_debts` (the details' arrears line).
pub(crate) const DEBTS_OWED: &str = concat!(
    "SELECT coalesce(sum(w.amount), 0) AS water_owed, count(*) AS card_debts",
    owed_by_account!()
);

/// The debts customer `customer_id` has not paid yet.
pub async fn owed(client: &impl CachingClient, customer_id: i64) -> Result<Vec<Owed>, DbError> {
    client
        .query(OWED, &[&customer_id])
        .await?
        .iter()
        .map(owed_of)
        .collect()
}

/// A debt from the columns of [`OWED`].
pub(super) fn owed_of(row: &Row) -> Result<Owed, DbError> {
    let number = |column: &str| {
        u32::try_from(row.get::<_, i64>(column))
            .map_err(|_| DbError::Inconsistent(format!("debt's {column} out of range")))
    };
    Ok(Owed {
        operation_id: row.get("owed_operation_id"),
        sequence: number("owed_purchase_seq")?,
        litres: number("owed_litres")?,
        amount: row.get("owed_amount"),
        card_no: number("owed_card_no")?,
    })
}

/// A debt paid: its receipt and sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwedPaid {
    pub operation_id: i64,
    pub receipt_no: i64,
    pub amount: Money,
}

/// The debts one request paid, as `applied_write` keeps them (`card.owed_paid`, sql/V190).
struct PaidOnce(Vec<OwedPaid>);

impl Outcome for PaidOnce {
    const FIELDS: &str = "outcome::text AS paid";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        paid_of(row.get("paid")).map(PaidOnce)
    }

    /// None paid (each was paid meanwhile): nothing written, nothing to record.
    fn to_record(&self) -> Option<serde_json::Value> {
        (!self.0.is_empty()).then(|| serde_json::json!(self.0))
    }
}

/// The debts a request paid, from the text of its `applied_write.outcome`.
fn paid_of(recorded: &str) -> Result<Vec<OwedPaid>, DbError> {
    serde_json::from_str(recorded)
        .map_err(|error| DbError::Inconsistent(format!("applied debt payment: {error}")))
}

/// Pays the debts of recharges `operations` with payment method `method`, exactly once under
/// the desk's idempotency key `key` (`applied_write::write_once`, kind `card.owed_paid`,
/// sql/V190), in one transaction: each debt still owed on its own receipt
/// (`card_recharge_owed_pay`: the deposit `card-op:K:owed`, the recharge settled done with it).
/// A debt paid meanwhile (elsewhere) is left out. The same key sent again — its answer lost, or
/// on two connections at once — writes nothing and answers the receipts the first paid.
pub async fn pay_owed(
    client: &mut Client,
    key: &str,
    operator_id: i64,
    operations: &[i64],
    method: &str,
) -> Result<Vec<OwedPaid>, DbError> {
    let paid = write_once(
        client,
        key,
        "card.owed_paid",
        operator_id,
        async |transaction| {
            let mut paid = Vec::new();
            for operation_id in operations {
                paid.extend(pay_one(transaction, *operation_id, method).await?);
            }
            Ok(PaidOnce(paid))
        },
    )
    .await?;
    Ok(paid.0)
}

/// What an earlier send of a card request's key `key` left in the books: the debts it paid
/// first, on their receipts (`card.owed_paid`, sql/V190), and the operation it journaled, if its
/// begin committed ([`Journaled`]). Asked when a send fails before the card took the PIN, having
/// done nothing itself: sent again after a lost connection, its first send may have done both
/// (`cardflow::run_decided`). One round trip: BEGIN, the key's lock, one look-up of both and
/// COMMIT in one write (the look-up behind the lock, so a first send still running on a
/// connection the desk lost is waited for, as a payment sent again waits; it writes nothing, so
/// COMMIT only ends it and lets the lock go).
pub async fn sent_before(client: &mut Client, key: &str) -> Result<SentBefore, DbError> {
    static LOOK_UP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT (SELECT outcome::text FROM applied_write
                     WHERE idempotency_key = $1 AND kind = 'card.owed_paid') AS paid,
                    journaled.*
             FROM (VALUES (1)) AS one
             LEFT JOIN LATERAL ({OPERATION_COLUMNS} WHERE op.idempotency_key = $1) AS journaled
                 ON true"
        )
    });
    let transaction = Transaction::new(client);
    transaction.commit_behind(LOOK_UP.as_str());
    let (_, row) = lock_then_look_up(&transaction, key, &LOOK_UP).await?;
    transaction.commit().await?;
    let row = row.ok_or_else(|| DbError::Inconsistent("no row from a scalar SELECT".into()))?;
    let owed = match row.get::<_, Option<&str>>("paid") {
        Some(paid) => paid_of(paid)?,
        None => Vec::new(),
    };
    let operation = match row.get::<_, Option<i64>>("id") {
        Some(_) => {
            let operation = Operation::from_row(&row)?;
            Some(match operation.state {
                OperationState::Pending => Journaled::Pending(Box::new(operation.begun()?)),
                _ => Journaled::Finished(operation.settled(false, None)),
            })
        }
        None => None,
    };
    Ok(SentBefore { owed, operation })
}

/// What an earlier send of a request's key left (see [`sent_before`]).
#[derive(Debug)]
pub struct SentBefore {
    pub owed: Vec<OwedPaid>,
    pub operation: Option<Journaled>,
}

/// The operation an earlier send of a request's key journaled.
#[derive(Debug)]
pub enum Journaled {
    /// Still pending: the card it was for finishes it.
    Pending(Box<Begun>),
    /// Settled since.
    Finished(Settled),
}

/// Pays the debt of recharge `operation_id` in `transaction`; `None`: it was paid meanwhile (or
/// never owed).
async fn pay_one(
    transaction: &Transaction<'_>,
    operation_id: i64,
    method: &str,
) -> Result<Option<OwedPaid>, DbError> {
    // The customer's account first (in the filter of the debt's scan, below the operation's
    // lock), then the operation: the order of every card write (sql/V165, V181).
    let still_owed = transaction
        .query_opt(
            "SELECT 1 FROM card_recharge_owed w
             JOIN card_operation o ON o.id = w.operation_id AND o.state = 'failed'
             WHERE w.operation_id = $1
               AND EXISTS (SELECT FROM account a WHERE a.customer_id = w.customer_id
                           FOR UPDATE OF a)
             FOR UPDATE OF o",
            &[&operation_id],
        )
        .await?;
    if still_owed.is_none() {
        return Ok(None);
    }
    let row = transaction
        .query_one(
            "SELECT receipt_no, amount FROM card_recharge_owed_pay($1, $2)",
            &[&operation_id, &method],
        )
        .await?;
    Ok(Some(OwedPaid {
        operation_id,
        receipt_no: row.get("receipt_no"),
        amount: row.get("amount"),
    }))
}

/// Whether `error` is the database's refusal of a recharge while its customer owes water a
/// meter loaded unpaid (SQLSTATE MD430, sql/V163).
pub fn owes(error: &DbError) -> bool {
    matches!(error, DbError::Query(error)
        if error.as_db_error().is_some_and(|server| server.code().code() == "MD430"))
}
