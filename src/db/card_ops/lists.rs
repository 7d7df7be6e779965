//! The supervisor's pending list and the card usage records.

use super::*;

/// Every pending operation, oldest first: the supervisor's list.
pub async fn pending_operations(
    client: &impl GenericClient,
) -> Result<Vec<PendingOperation>, DbError> {
    let rows = client
        .query(
            "SELECT op.id, op.kind, c.id, c.customer_no, c.name, card.card_no, o.full_name,
                    op.started_at
             FROM card_operation op
             JOIN customer c ON c.id = op.customer_id
             JOIN card ON card.id = op.card_id
             JOIN operator o ON o.id = op.operator_id
             WHERE op.state = 'pending'
             ORDER BY op.started_at, op.id",
            &[],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingOperation {
                operation_id: row.get(0),
                kind: OperationKind::parse(row.get(1))?,
                customer_id: row.get(2),
                customer_no: row.get(3),
                customer_name: row.get(4),
                card_no: row.get(5),
                operator: row.get(6),
                started_at: row.get(7),
            })
        })
        .collect()
}

/// Card usage records, newest first, at most `limit`.
pub async fn usage_records(
    client: &impl GenericClient,
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
    let rows = client
        .query(
            &format!(
                "SELECT op.id, op.kind, op.state, card.card_no, card.generation, op.purchase_seq,
                        op.volume_litres, t.amount, o.full_name, op.started_at, op.finished_at,
                        op.failure_reason
                 FROM card_operation op
                 JOIN card ON card.id = op.card_id
                 JOIN operator o ON o.id = op.operator_id
                 LEFT JOIN ledger_transaction t ON t.id = op.transaction_id
                 WHERE {condition}
                 ORDER BY op.id DESC LIMIT $2"
            ),
            &[&id, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(UsageRecord {
                operation_id: row.get(0),
                kind: OperationKind::parse(row.get(1))?,
                state: OperationState::parse(row.get(2))?,
                card_no: row.get(3),
                generation: row.get(4),
                purchase_seq: row.get(5),
                volume_litres: row.get(6),
                amount: row.get(7),
                operator: row.get(8),
                started_at: row.get(9),
                finished_at: row.get(10),
                failure_reason: row.get(11),
            })
        })
        .collect()
}
