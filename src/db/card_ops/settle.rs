//! Step 3 and resolution: done or failed from the card read back, or by a supervisor.

use super::*;

pub(super) const OPERATION_COLUMNS: &str =
    "SELECT op.id, op.customer_id, op.kind, op.state, op.plan::text AS plan,
        op.card_id, card.card_no, op.transaction_id, op.idempotency_key, op.payment_method_code,
        op.operator_id, op.purchase_seq, op.volume_litres, t.amount, t.receipt_no, t.account_id
    FROM card_operation op JOIN card ON card.id = op.card_id
    LEFT JOIN ledger_transaction t ON t.id = op.transaction_id";

/// A journaled operation as stored.
pub(super) struct Operation {
    pub(super) id: i64,
    pub(super) customer_id: i64,
    pub(super) kind: OperationKind,
    pub(super) state: OperationState,
    pub(super) plan: Option<String>,
    pub(super) card_id: i64,
    pub(super) card_no: i64,
    pub(super) transaction_id: Option<i64>,
    pub(super) idempotency_key: String,
    pub(super) payment_method: Option<String>,
    pub(super) operator_id: i64,
    pub(super) purchase_seq: Option<i64>,
    pub(super) volume_litres: Option<i64>,
    pub(super) amount: Option<Decimal>,
    pub(super) receipt_no: Option<i64>,
    pub(super) account_id: Option<i64>,
}

impl Operation {
    pub(super) fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(from_columns!(row => Self {
            id, customer_id,
            kind: OperationKind::parse(row.get("kind"))?,
            state: OperationState::parse(row.get("state"))?,
            plan, card_id, card_no, transaction_id, idempotency_key,
            payment_method: row.get("payment_method_code"),
            operator_id, purchase_seq, volume_litres, amount, receipt_no, account_id,
        }))
    }

    pub(super) fn plan(&self) -> Result<CardWritePlan, DbError> {
        let text = self.plan.as_deref().ok_or_else(|| {
            DbError::Inconsistent(format!("card operation {} has no plan", self.id))
        })?;
        serde_json::from_str(text).map_err(|error| {
            DbError::Inconsistent(format!("card operation {} plan: {error}", self.id))
        })
    }

    pub(super) fn settled(&self, now: bool, receipt_no: Option<i64>) -> Settled {
        Settled {
            operation_id: self.id,
            kind: self.kind,
            customer_id: self.customer_id,
            state: self.state,
            now,
            receipt_no,
        }
    }

    /// The pending operation handed out again for its card write.
    pub(super) fn begun(&self) -> Result<Begun, DbError> {
        let purchase = match (self.purchase_seq, self.volume_litres, self.amount) {
            (Some(sequence), Some(litres), Some(amount))
                if matches!(self.kind, OperationKind::Recharge | OperationKind::Refund) =>
            {
                Some(PurchaseSummary {
                    sequence: to_u32(sequence, "card_operation.purchase_seq")?,
                    litres: to_u32(litres, "card_operation.volume_litres")?,
                    amount: amount.abs(),
                    receipt_no: self.receipt_no,
                    quote: None,
                })
            }
            _ => None,
        };
        Ok(Begun {
            operation_id: self.id,
            kind: self.kind,
            plan: self.plan()?,
            card_no: to_u32(self.card_no, "card.card_no")?,
            purchase,
        })
    }
}

/// Step 3 of the protocol: settles operation `operation_id` from the card's records as read
/// back (or read later). The new record on the card → done; the old one → failed and its money
/// reversed; neither → still pending (the answer says so). A finished operation is reported as
/// it stands.
pub async fn settle(
    client: &mut Client,
    operation_id: i64,
    card: &[Record; 3],
    key: &MacKey,
) -> Result<Settled, DbError> {
    let transaction = Transaction::new(client);
    // Finishing the operation is the last statement: COMMIT goes in the same write.
    transaction.commit_behind(FINISH);
    let settled = settle_in(&transaction, operation_id, card, key).await?;
    transaction.commit().await?;
    Ok(settled)
}

pub(super) async fn settle_in(
    tx: &Transaction<'_>,
    operation_id: i64,
    card: &[Record; 3],
    key: &MacKey,
) -> Result<Settled, DbError> {
    // The card's meter state is kept whatever the operation's. Whether it is news is asked in
    // one round trip with the read: the card read back after a write shows the write-back that
    // `begin` (or `touch`) has just noted, and a note that changes nothing still runs the card
    // table's statement guard.
    let content = CardContent::classify(card, key);
    let (operation, news) = tokio::try_join!(
        pending_operation(tx, operation_id),
        meter_state_is_news(tx, &content)
    )?;
    if news {
        note_meter_state(tx, &content).await?;
    }
    let Some(operation) = operation else {
        return finished_operation(tx, operation_id).await;
    };
    let resolution = operation.plan()?.resolve(card);
    finish(tx, operation, resolution, NOT_ON_CARD).await
}

/// The operation, locked, if it is still pending.
pub(super) async fn pending_operation(
    tx: &Transaction<'_>,
    operation_id: i64,
) -> Result<Option<Operation>, DbError> {
    let operation = journaled_operation(tx, operation_id, " FOR UPDATE OF op").await?;
    Ok((operation.state == OperationState::Pending).then_some(operation))
}

pub(super) async fn finished_operation(
    tx: &Transaction<'_>,
    operation_id: i64,
) -> Result<Settled, DbError> {
    Ok(journaled_operation(tx, operation_id, "")
        .await?
        .settled(false, None))
}

/// Operation `operation_id`, which was journaled (`lock`: the statement's locking clause).
pub(super) async fn journaled_operation(
    client: &impl CachingClient,
    operation_id: i64,
    lock: &str,
) -> Result<Operation, DbError> {
    stored(client, operation_id, lock).await?.ok_or_else(|| {
        DbError::Inconsistent(format!("card operation {operation_id} is not journaled"))
    })
}

/// Operation `operation_id` as stored, if there is one.
async fn stored(
    client: &impl CachingClient,
    operation_id: i64,
    lock: &str,
) -> Result<Option<Operation>, DbError> {
    client
        .query_opt(
            &format!("{OPERATION_COLUMNS} WHERE op.id = $1{lock}"),
            &[&operation_id],
        )
        .await?
        .map(|row| Operation::from_row(&row))
        .transpose()
}

/// Operation `operation_id` as it was journaled (card, plan, purchase), whatever its state: a
/// recharge finished elsewhere than where it began gets its receipt from it.
pub async fn journaled(
    client: &impl CachingClient,
    operation_id: i64,
) -> Result<Option<Begun>, DbError> {
    stored(client, operation_id, "")
        .await?
        .map(|operation| operation.begun())
        .transpose()
}

/// A pending operation marked done or failed: the last statement of [`finish`].
const FINISH: &str = "UPDATE card_operation SET state = $2, finished_at = now(),
                          failure_reason = CASE WHEN $2 = 'failed' THEN $3 END
                      WHERE id = $1";

/// Applies a resolution to a pending operation; `failure_reason` is stored if it failed.
pub(super) async fn finish(
    tx: &Transaction<'_>,
    mut operation: Operation,
    resolution: Resolution,
    failure_reason: &str,
) -> Result<Settled, DbError> {
    let mut receipt_no = None;
    match resolution {
        Resolution::Conflict => return Ok(operation.settled(false, None)),
        Resolution::Done => {
            operation.state = OperationState::Done;
            receipt_no = done(tx, &operation).await?;
        }
        Resolution::Failed => {
            operation.state = OperationState::Failed;
            failed(tx, &operation).await?;
        }
    }
    tx.execute(
        FINISH,
        &[
            &operation.id,
            &match operation.state {
                OperationState::Done => "done",
                _ => "failed",
            },
            &failure_reason,
        ],
    )
    .await?;
    Ok(operation.settled(true, receipt_no))
}

/// How a supervisor settles a pending operation whose card cannot be presented (lost, broken):
/// the direction that can lose no money and double no credit, whatever the card holds.
/// - recharge → done: paid for, so the water is the customer's; the replacement card carries the
///   purchase and the meter loads it once by its sequence number, from whichever card comes
///   first.
/// - refund → failed: the purchase stays valid (the meter may still load it from the card), so
///   nothing is paid out.
/// - open → failed: a card written anyway carries no purchase and is not the customer's.
/// - replace → done: the new card is the customer's, so the next replacement's higher
///   generation blacklists it at the meter.
/// - recycle → done: the card carried nothing the meter had not loaded.
pub fn resolution_without_card(kind: OperationKind) -> Resolution {
    match kind {
        OperationKind::Recharge | OperationKind::Replace | OperationKind::Recycle => {
            Resolution::Done
        }
        OperationKind::Refund | OperationKind::Open => Resolution::Failed,
    }
}

/// `card_operation.failure_reason` of an operation a supervisor settled without its card.
pub const SETTLED_WITHOUT_CARD: &str = "settled_without_card";

/// A supervisor settles pending operation `operation_id` without its card (see
/// [`resolution_without_card`]). `None`: the operator may not (`card.resolve`).
pub async fn settle_without_card(
    client: &mut Client,
    operation_id: i64,
    supervisor_id: i64,
) -> Result<Option<Settled>, DbError> {
    let transaction = Transaction::new(client);
    if !has_permission(&transaction, "card.resolve").await? {
        return Ok(None);
    }
    let Some(operation) = pending_operation(&transaction, operation_id).await? else {
        let settled = finished_operation(&transaction, operation_id).await?;
        transaction.commit().await?;
        return Ok(Some(settled));
    };
    let resolution = resolution_without_card(operation.kind);
    let settled = finish(&transaction, operation, resolution, SETTLED_WITHOUT_CARD).await?;
    transaction
        .execute(
            "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
             VALUES ($1, 'card.resolve', 'card_operation', $2,
                     jsonb_build_object('without_card', true, 'state', $3::text))",
            &[
                &supervisor_id,
                &operation_id,
                &match settled.state {
                    OperationState::Done => "done",
                    _ => "failed",
                },
            ],
        )
        .await?;
    transaction.commit().await?;
    Ok(Some(settled))
}

/// What becomes true when the card shows the write: a refund is paid out, a recycled card is
/// no longer the customer's. The receipt of the money: a refund's payout receipt, made now; a
/// recharge's, made when its money was journaled, so a recharge finished later (by a touch, a
/// retry or a supervisor) is handed its receipt where it is finished.
pub(super) async fn done(
    tx: &Transaction<'_>,
    operation: &Operation,
) -> Result<Option<i64>, DbError> {
    match operation.kind {
        OperationKind::Refund => {
            let (Some(method), Some(amount), Some(account_id)) = (
                &operation.payment_method,
                operation.amount,
                operation.account_id,
            ) else {
                return Ok(None);
            };
            let receipt_no = new_receipt(tx, operation.customer_id, operation.operator_id).await?;
            insert_ledger(
                tx,
                account_id,
                &operation.idempotency_key,
                &LedgerRow {
                    kind: "refund",
                    amount: -amount,
                    volume: None,
                    unit_price: None,
                    method: Some(method),
                    receipt_no: Some(receipt_no),
                    key_suffix: "payout",
                },
            )
            .await?;
            Ok(Some(receipt_no))
        }
        OperationKind::Recycle => {
            tx.execute(
                "UPDATE card SET state = 'recycled',
                                 void_reason = coalesce(void_reason, 'returned'),
                                 voided_at = coalesce(voided_at, now())
                 WHERE id = $1",
                &[&operation.card_id],
            )
            .await?;
            Ok(None)
        }
        OperationKind::Recharge => Ok(operation.receipt_no),
        OperationKind::Open | OperationKind::Replace => Ok(None),
    }
}

/// What is undone when the card shows it never took the write: the money movement is
/// reversed, a card that was never issued is void.
pub(super) async fn failed(tx: &Transaction<'_>, operation: &Operation) -> Result<(), DbError> {
    if let (Some(transaction_id), Some(amount), Some(account_id)) = (
        operation.transaction_id,
        operation.amount,
        operation.account_id,
    ) {
        tx.execute(
            "SELECT ledger_post($1, 'reversal', $2, NULL, NULL, NULL, NULL, $3, $4)",
            &[
                &account_id,
                &-amount,
                &format!("card-op:{}:reversal", operation.idempotency_key),
                &transaction_id,
            ],
        )
        .await?;
    }
    if matches!(operation.kind, OperationKind::Open | OperationKind::Replace) {
        tx.execute(
            "UPDATE card SET state = 'void', void_reason = 'not_issued', voided_at = now()
             WHERE id = $1",
            &[&operation.card_id],
        )
        .await?;
    }
    Ok(())
}

/// Whenever a card or a customer is touched: records the meter's write-back the card carries
/// (monotonic), resolves the pending operation of the customer (if given) and of the card's
/// owner from the card's records. Returns what was settled, or
/// left pending because the card is not the one it was for.
pub async fn touch(
    client: &mut Client,
    customer_id: Option<i64>,
    card: &[Record; 3],
    key: &MacKey,
) -> Result<Vec<Settled>, DbError> {
    let owner = match CardContent::classify(card, key) {
        CardContent::User(user) => card_owner(&*client, user.issue.card_number).await?,
        _ => None,
    };
    let mut customers: Vec<i64> = customer_id.into_iter().chain(owner).collect();
    customers.dedup();
    let transaction = Transaction::new(client);
    // Reading a card is card.read's; an operator without it only sees what the card holds.
    if has_permission(&transaction, "card.read").await? {
        note_meter_state(&transaction, &CardContent::classify(card, key)).await?;
    }
    let mut settled = Vec::new();
    for customer in customers {
        let pending: Option<i64> = transaction
            .query_opt(
                "SELECT id FROM card_operation WHERE customer_id = $1 AND state = 'pending'",
                &[&customer],
            )
            .await?
            .map(|row| row.get("id"));
        if let Some(operation_id) = pending {
            settled.push(settle_in(&transaction, operation_id, card, key).await?);
        }
    }
    transaction.commit().await?;
    Ok(settled)
}

/// A supervisor reports the customer's active card lost, without a replacement yet
/// (`sql/V19`, `card_report_lost`): it is void at once, refused at every counter, and
/// blacklisted; the next card issued carries its number to the meter. `Ok(Err(..))`: the
/// operator may not (`card.replace`), or the customer has no active card.
pub async fn report_lost(
    client: &mut Client,
    customer_id: i64,
) -> Result<Result<u32, Refusal>, DbError> {
    let transaction = Transaction::new(client);
    if !has_permission(&transaction, "card.replace").await? {
        return Ok(Err(Refusal::NotPermitted));
    }
    let lost: Option<i64> = transaction
        .query_one("SELECT card_report_lost($1) AS card_no", &[&customer_id])
        .await?
        .get("card_no");
    transaction.commit().await?;
    Ok(match lost {
        Some(card_no) => Ok(to_u32(card_no, "card.card_no")?),
        None => Err(Refusal::NoActiveCard),
    })
}
