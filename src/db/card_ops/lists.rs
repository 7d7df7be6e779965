//! The supervisor's pending list, the card usage records and what a purchase was paid.

use super::*;
use crate::domain::money::Money;

/// Every pending operation, oldest first: the supervisor's list.
pub async fn pending_operations(
    client: &impl CachingClient,
) -> Result<Vec<PendingOperation>, DbError> {
    read_all(
        client,
        "SELECT op.id AS operation_id, op.kind, c.id AS customer_id, c.customer_no,
                c.name AS customer_name, card.card_no, o.full_name AS operator, op.started_at,
                t.amount, op.volume_litres
         FROM card_operation op
         JOIN customer c ON c.id = op.customer_id
         JOIN card ON card.id = op.card_id
         JOIN operator o ON o.id = op.operator_id
         LEFT JOIN ledger_transaction t ON t.id = op.transaction_id
         WHERE op.state = 'pending'
         ORDER BY op.started_at, op.id",
        &[],
        |row| {
            Ok(from_columns!(row => PendingOperation {
                operation_id,
                kind: OperationKind::parse(row.get("kind"))?,
                customer_id, customer_no, customer_name, card_no, operator, started_at, amount,
                volume_litres,
            }))
        },
    )
    .await
}

/// Card usage records, newest first, at most `limit`.
pub async fn usage_records(
    client: &impl CachingClient,
    of: UsageOf,
    limit: i64,
) -> Result<Vec<UsageRecord>, DbError> {
    let (condition, id) = match of {
        UsageOf::Customer(customer_id) => ("op.customer_id = $1", customer_id),
        UsageOf::Card(card_no) => {
            // A replacement is a record of the old card too.
            (
                "(card.card_no = $1 OR op.replaced_card_id = (SELECT id FROM card WHERE card_no = $1))",
                card_no,
            )
        }
    };
    read_all(
        client,
        &format!(
            "SELECT op.id AS operation_id, op.kind, op.state, card.card_no, card.generation,
                    op.purchase_seq, op.volume_litres, t.amount, o.full_name AS operator,
                    op.started_at, op.finished_at, op.failure_reason,
                    -- A replacement carries the card's last purchase, cancelled if it was
                    -- refunded before: no water then.
                    (op.kind = 'replace' AND EXISTS (
                        SELECT FROM card_operation r
                        WHERE r.customer_id = op.customer_id AND r.kind = 'refund'
                          AND r.state = 'done' AND r.purchase_seq = op.purchase_seq
                          AND r.id < op.id)) AS carries_refunded,
                    -- A debt of water a meter loaded unpaid (sql/V163). Paid, its recharge is
                    -- done with the purchase on the debt's receipt (none: from the balance).
                    w.amount AS debt_amount, t.receipt_no AS debt_receipt_no
             FROM card_operation op
             JOIN card ON card.id = op.card_id
             JOIN operator o ON o.id = op.operator_id
             LEFT JOIN ledger_transaction t ON t.id = op.transaction_id
             LEFT JOIN card_recharge_owed w ON w.operation_id = op.id
             WHERE {condition}
             ORDER BY op.id DESC LIMIT $2"
        ),
        &[&id, &limit],
        |row| {
            let state = OperationState::parse(row.get("state"))?;
            // Paid once its recharge is done (nothing else settles a debt's recharge done).
            let debt_of = |owed| match state {
                OperationState::Done => UsageDebt::Paid {
                    receipt_no: row.get("debt_receipt_no"),
                },
                _ => UsageDebt::Owed(owed),
            };
            Ok(from_columns!(row => UsageRecord {
                operation_id,
                kind: OperationKind::parse(row.get("kind"))?,
                state: state,
                card_no, generation, purchase_seq, volume_litres, amount, operator, started_at,
                finished_at, failure_reason, carries_refunded,
                debt: row.get::<_, Option<Money>>("debt_amount").map(debt_of),
            }))
        },
    )
    .await
}

/// What `customer_id`'s purchase `sequence` was paid (its recharge done): what its refund gives
/// back. `None`: no recharge of the customer's wrote it.
pub async fn purchase_paid(
    client: &impl CachingClient,
    customer_id: i64,
    sequence: u32,
) -> Result<Option<Money>, DbError> {
    let row = client
        .query_opt(
            "SELECT -t.amount AS paid FROM card_operation op
             JOIN ledger_transaction t ON t.id = op.transaction_id
             WHERE op.customer_id = $1 AND op.kind = 'recharge' AND op.state = 'done'
               AND op.purchase_seq = $2",
            &[&customer_id, &i64::from(sequence)],
        )
        .await?;
    Ok(row.map(|row| row.get("paid")))
}
