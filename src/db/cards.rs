//! What the card screens read: whose a card is, a customer's card usage records, the pending
//! card operations. (Writing cards and their journal is `db::card_ops`.)

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::GenericClient;

use super::DbError;

/// The customer a card number belongs to, and the card's state in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOwner {
    pub customer_id: i64,
    pub customer_no: i64,
    pub name: String,
    /// active, void or recycled.
    pub card_state: String,
    /// lost, damaged, replaced or account_closed, for a void card.
    pub void_reason: Option<String>,
    /// The generation the database holds for this card number.
    pub generation: i16,
}

/// Looks a card number up; `None`: no card of this system was ever issued with it.
pub async fn owner_of(
    client: &impl GenericClient,
    card_no: u32,
) -> Result<Option<CardOwner>, DbError> {
    let row = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, k.state, k.void_reason, k.generation
             FROM card k JOIN customer c ON c.id = k.customer_id
             WHERE k.card_no = $1",
            &[&i64::from(card_no)],
        )
        .await?;
    Ok(row.map(|row| CardOwner {
        customer_id: row.get(0),
        customer_no: row.get(1),
        name: row.get(2),
        card_state: row.get(3),
        void_reason: row.get(4),
        generation: row.get(5),
    }))
}

/// One card operation as the usage records and the pending list show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardOperationRow {
    pub id: i64,
    pub customer_no: i64,
    pub customer_name: String,
    pub card_no: i64,
    /// open, recharge, refund, replace or recycle.
    pub kind: String,
    /// pending, done or failed.
    pub state: String,
    pub operator: String,
    pub started_at: DateTime<Utc>,
    /// The money the operation moved (signed, as on the account), if any.
    pub amount: Option<Decimal>,
    /// m³ written to the card by a recharge or taken back by a refund.
    pub volume: Option<Decimal>,
    pub failure_reason: Option<String>,
}

const OPERATION_COLUMNS: &str = "o.id, c.customer_no, c.name, k.card_no, o.kind, o.state,
        op.login, o.started_at, t.amount, o.volume_litres, o.failure_reason
     FROM card_operation o
     JOIN customer c ON c.id = o.customer_id
     JOIN card k ON k.id = o.card_id
     JOIN operator op ON op.id = o.operator_id
     LEFT JOIN ledger_transaction t ON t.id = o.transaction_id";

fn operation_row(row: &tokio_postgres::Row) -> CardOperationRow {
    let litres: Option<i64> = row.get(9);
    CardOperationRow {
        id: row.get(0),
        customer_no: row.get(1),
        customer_name: row.get(2),
        card_no: row.get(3),
        kind: row.get(4),
        state: row.get(5),
        operator: row.get(6),
        started_at: row.get(7),
        amount: row.get(8),
        volume: litres.map(|litres| Decimal::new(litres, 3)),
        failure_reason: row.get(10),
    }
}

/// The card usage records of a customer (every card the customer held), newest first. By the
/// customer's cards, so the `card (customer_id, generation)` and `card_operation (card_id)`
/// indexes serve it.
pub async fn usage(
    client: &impl GenericClient,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<CardOperationRow>, DbError> {
    let rows = client
        .query(
            &format!(
                "SELECT {OPERATION_COLUMNS}
                 WHERE o.card_id IN (SELECT id FROM card WHERE customer_id = $1)
                 ORDER BY o.started_at DESC, o.id DESC
                 LIMIT $2"
            ),
            &[&customer_id, &limit],
        )
        .await?;
    Ok(rows.iter().map(operation_row).collect())
}

/// Every pending card operation, oldest first: the supervisor's list.
pub async fn pending(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<CardOperationRow>, DbError> {
    let rows = client
        .query(
            &format!(
                "SELECT {OPERATION_COLUMNS}
                 WHERE o.state = 'pending'
                 ORDER BY o.started_at, o.id
                 LIMIT $1"
            ),
            &[&limit],
        )
        .await?;
    Ok(rows.iter().map(operation_row).collect())
}
