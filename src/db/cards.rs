//! What the card screens show of a card number (whose it is, the card's state) and what a card
//! purchase's receipt says. (The journal, the lists and the quotes are `db::card_ops`.)

use crate::db::CachingClient;
use chrono::{DateTime, Utc};

use super::DbError;
use super::receipts::ReceiptRecord;
use super::rows::{from_columns, read_all};
use crate::domain::money::Money;
use tokio_postgres::Row;

/// The customer a card number belongs to, and the card's state in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOwner {
    pub customer_id: i64,
    pub customer_no: i64,
    pub name: String,
    /// active, void or recycled.
    pub card_state: String,
    /// Why a card is not active (lost, damaged, replaced, returned, …).
    pub void_reason: Option<String>,
    /// The account's balance (money of a recharge the card did not take stays there).
    pub balance: Money,
    /// The payment methods the customer's type takes, enabled ones only, cash first.
    pub payment_methods: Vec<PaymentMethod>,
    /// Which owner `name` is (`customer_owner_seen`, sql/V110): a recharge sends it back
    /// (`card_ops::Request::Recharge::owner_seen`) and is refused if another desk transferred
    /// the customer since.
    pub owner_seen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub code: String,
    pub name: String,
}

impl PaymentMethod {
    /// The method of a row that selects `method_code` and `method` (its name); `None`: none
    /// (paid from the balance).
    pub fn of_row(row: &tokio_postgres::Row) -> Option<PaymentMethod> {
        let code: Option<String> = row.get("method_code");
        code.map(|code| PaymentMethod {
            code,
            name: row.get("method"),
        })
    }
}

/// Looks a card number up; `None`: no card of this system was ever issued with it.
pub async fn owner_of(
    client: &impl CachingClient,
    card_no: u32,
) -> Result<Option<CardOwner>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, k.state AS card_state, k.void_reason, a.balance,
                    c.customer_type_id, customer_owner_seen(c.id) AS owner_seen
             FROM card k JOIN customer c ON c.id = k.customer_id
                  JOIN account a ON a.customer_id = c.id
             WHERE k.card_no = $1",
            &[&i64::from(card_no)],
        )
        .await?
    else {
        return Ok(None);
    };
    let payment_methods = payment_methods(client, row.get("customer_type_id")).await?;
    Ok(Some(CardOwner {
        customer_id: row.get("id"),
        customer_no: row.get("customer_no"),
        name: row.get("name"),
        card_state: row.get("card_state"),
        void_reason: row.get("void_reason"),
        balance: row.get("balance"),
        payment_methods,
        owner_seen: row.get("owner_seen"),
    }))
}

/// The payment methods customer type `customer_type_id` takes, enabled ones only, cash first.
pub async fn payment_methods(
    client: &impl CachingClient,
    customer_type_id: i64,
) -> Result<Vec<PaymentMethod>, DbError> {
    read_all(
        client,
        "SELECT p.code, p.name FROM customer_type_payment_method m
         JOIN payment_method p ON p.code = m.payment_method_code
         WHERE m.customer_type_id = $1 AND p.enabled
         ORDER BY p.code <> 'cash', p.name",
        &[&customer_type_id],
        |row| Ok(from_columns!(row => PaymentMethod { code, name })),
    )
    .await
}

/// What a receipt says besides the purchase itself, as the database recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFacts {
    pub issued_at: DateTime<Utc>,
    pub operator: String,
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    /// `None` when paid from the balance.
    pub method: Option<PaymentMethod>,
    /// The account's balance right after the receipt's last ledger row, whenever it is read
    /// (`receipt_read`'s `balance_after`: the balance that row left, as the account's ledger
    /// shows it), not the balance now.
    pub balance: Money,
}

/// The facts of receipt `receipt_no` as recorded; `None` if there is none or it has no ledger
/// rows (every card receipt has: a recharge's purchase, a refund's payout).
pub async fn receipt_facts(
    client: &impl CachingClient,
    receipt_no: i64,
) -> Result<Option<ReceiptFacts>, DbError> {
    // The receipt as `receipt_read` records it (sql/V79, V116), as its reprint reads it: one
    // source, so a card receipt read later (a recharge finished by another card read, a
    // pending one resolved) says the balance its own rows left, not the account's now.
    Ok(super::receipts::receipt(client, receipt_no)
        .await?
        .map(ReceiptFacts::from))
}

impl From<ReceiptRecord> for ReceiptFacts {
    fn from(record: ReceiptRecord) -> ReceiptFacts {
        ReceiptFacts {
            issued_at: record.issued_at,
            operator: record.operator,
            customer_no: record.customer_no,
            name: record.name,
            meter_no: record.meter_no,
            method: record.method,
            balance: record.balance_after,
        }
    }
}

/// The most credit a customer's meter holds, from a setting card written for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterMaxCredit {
    pub litres: u32,
    /// The meter applied that card (its return was recorded, sql/V65); `false`: the card was
    /// written and no setting card's application has been recorded yet.
    pub applied: bool,
}

/// The most credit customer `customer_id`'s meter holds: the maximum of the setting card the
/// meter applied last (by the meter's time on the card brought back), else of the newest
/// written (`system_card`, done) while none was brought back; `None` when none was written
/// (docs/decisions.md, "A setting card's return from its meter is recorded").
pub async fn meter_max_credit(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<MeterMaxCredit>, DbError> {
    Ok(client
        .query_opt(METER_MAX_CREDIT, &[&customer_id])
        .await?
        .as_ref()
        .map(MeterMaxCredit::of)
        .transpose()?
        .flatten())
}

/// The statement of [`meter_max_credit`], of customer `$1`: also a recharge quote's
/// (`card_ops::read_recharge_quote`), which reads it in its own statement.
pub(crate) const METER_MAX_CREDIT: &str =
    "SELECT s.max_credit_litres, s.applied_at IS NOT NULL AS applied FROM customer c
     JOIN system_card s ON s.meter_id = c.meter_id
     WHERE c.id = $1 AND s.kind = 'setting' AND s.state = 'done'
     ORDER BY s.applied_at DESC NULLS LAST, s.issued_at DESC, s.card_no DESC LIMIT 1";

impl MeterMaxCredit {
    /// From the columns of [`METER_MAX_CREDIT`] (`max_credit_litres` NULL: none written).
    pub(crate) fn of(row: &Row) -> Result<Option<Self>, DbError> {
        let Some(litres) = row.get::<_, Option<i64>>("max_credit_litres") else {
            return Ok(None);
        };
        Ok(Some(MeterMaxCredit {
            litres: u32::try_from(litres).map_err(|_| {
                DbError::Inconsistent(format!("a maximum credit of {litres} litres"))
            })?,
            applied: row.get("applied"),
        }))
    }
}
