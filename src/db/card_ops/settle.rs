//! Step 3 and resolution: done or failed from the card read back, or by a supervisor.

use super::*;

pub(super) const OPERATION_COLUMNS: &str =
    "SELECT op.id, op.customer_id, op.kind, op.state, op.plan::text AS plan, card.card_no,
        op.purchase_seq, op.volume_litres, t.amount, t.receipt_no
    FROM card_operation op JOIN card ON card.id = op.card_id
    LEFT JOIN ledger_transaction t ON t.id = op.transaction_id";

/// A journaled operation as stored.
pub(super) struct Operation {
    pub(super) id: i64,
    pub(super) customer_id: i64,
    pub(super) kind: OperationKind,
    pub(super) state: OperationState,
    pub(super) plan: Option<String>,
    pub(super) card_no: i64,
    pub(super) purchase_seq: Option<i64>,
    pub(super) volume_litres: Option<i64>,
    pub(super) amount: Option<Decimal>,
    pub(super) receipt_no: Option<i64>,
}

impl Operation {
    pub(super) fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(from_columns!(row => Self {
            id, customer_id,
            kind: OperationKind::parse(row.get("kind"))?,
            state: OperationState::parse(row.get("state"))?,
            plan, card_no, purchase_seq, volume_litres, amount, receipt_no,
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
            // A NUMERIC(…, 2): rounding changes nothing.
            amount: self.amount.map(|amount| Money::round_half_up(amount.abs())),
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
/// it stands. One statement in a transaction of its own: one round trip.
pub async fn settle(
    client: &mut Client,
    operation_id: i64,
    card: &[Record; 3],
    key: &MacKey,
) -> Result<Settled, DbError> {
    settle_in(&*client, operation_id, card, key).await
}

/// [`settle`] of an operation whose card refused the write (`why`): failed, when the card as
/// read after the refusal still holds the old record, with the card's reason kept rather than
/// "not on the card".
pub async fn settle_refused(
    client: &mut Client,
    operation_id: i64,
    card: &[Record; 3],
    key: &MacKey,
    why: FailureReason,
) -> Result<Settled, DbError> {
    settled_by_database(&*client, operation_id, SettledFrom::Card(card, key, why)).await
}

/// [`settle`] on `client`, which may be a transaction of the caller's.
pub(super) async fn settle_in(
    client: &impl CachingClient,
    operation_id: i64,
    card: &[Record; 3],
    key: &MacKey,
) -> Result<Settled, DbError> {
    let from = SettledFrom::Card(card, key, FailureReason::NotOnCard);
    settled_by_database(client, operation_id, from).await
}

/// What a settle concludes from.
enum SettledFrom<'a> {
    /// The card's records as read: the database compares them with the operation's plan as
    /// [`CardWritePlan::resolve`] does, and keeps the card's meter state whatever the
    /// operation's; the reason is kept if it failed.
    Card(&'a [Record; 3], &'a MacKey, FailureReason),
    /// A supervisor's resolution, without the card.
    WithoutCard(Resolution),
}

/// Settles operation `operation_id` in one call of sql/V78's `card_operation_settle`, which runs
/// every statement of the settle (the meter state's note when it is news, the reversal or the
/// payout, the card's row, the operation's state) with the operator's own rights.
async fn settled_by_database(
    client: &impl CachingClient,
    operation_id: i64,
    from: SettledFrom<'_>,
) -> Result<Settled, DbError> {
    let (card, resolution, failure_reason, write_back) = match from {
        SettledFrom::Card(card, key, why) => (
            Some(serde_json::to_string(card).map_err(|error| {
                DbError::Inconsistent(format!("card records as JSON: {error}"))
            })?),
            None,
            why.as_str(),
            write_back_of(&CardContent::classify(card, key)),
        ),
        SettledFrom::WithoutCard(resolution) => (
            None,
            Some(match resolution {
                Resolution::Done => "done",
                Resolution::Failed => "failed",
                Resolution::Conflict => "conflict",
            }),
            FailureReason::SettledWithoutCard.as_str(),
            None,
        ),
    };
    let (card_no, loaded, generation) = match write_back {
        Some((card_no, loaded, generation)) => (Some(card_no), Some(loaded), Some(generation)),
        None => (None, None, None),
    };
    let row = client
        .query_one(
            // The amount is the operation's money row's, which the settle reads with the
            // operation (sql/V145) and leaves where it was (a failure adds a reversal).
            "SELECT s.kind, s.customer_id, s.state, s.settled_now, s.receipt_no, s.amount
             FROM card_operation_settle($1, $2::text::jsonb, $3, $4, $5, $6, $7) s",
            &[
                &operation_id,
                &card,
                &resolution,
                &failure_reason,
                &card_no,
                &loaded,
                &generation,
            ],
        )
        .await?;
    let kind: Option<&str> = row.get("kind");
    let kind = kind.ok_or_else(|| not_journaled(operation_id))?;
    Ok(Settled {
        operation_id,
        kind: OperationKind::parse(kind)?,
        customer_id: row.get("customer_id"),
        state: OperationState::parse(row.get("state"))?,
        now: row.get("settled_now"),
        receipt_no: row.get("receipt_no"),
        amount: row.get("amount"),
    })
}

/// Operation `operation_id`, which was journaled.
pub(super) async fn journaled_operation(
    client: &impl CachingClient,
    operation_id: i64,
) -> Result<Operation, DbError> {
    stored(client, operation_id)
        .await?
        .ok_or_else(|| not_journaled(operation_id))
}

fn not_journaled(operation_id: i64) -> DbError {
    DbError::Inconsistent(format!("card operation {operation_id} is not journaled"))
}

/// Operation `operation_id` as stored, if there is one.
async fn stored(
    client: &impl CachingClient,
    operation_id: i64,
) -> Result<Option<Operation>, DbError> {
    read_opt(
        client,
        &format!("{OPERATION_COLUMNS} WHERE op.id = $1"),
        &[&operation_id],
        Operation::from_row,
    )
    .await
}

/// Operation `operation_id` as it was journaled (card, plan, purchase), whatever its state: a
/// recharge finished elsewhere than where it began gets its receipt from it.
pub async fn journaled(
    client: &impl CachingClient,
    operation_id: i64,
) -> Result<Option<Begun>, DbError> {
    stored(client, operation_id)
        .await?
        .map(|operation| operation.begun())
        .transpose()
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
    // Its kind decides; the call locks it and reports it as it stands if it is finished.
    let kind = journaled_operation(&transaction, operation_id).await?.kind;
    let settled = settled_by_database(
        &transaction,
        operation_id,
        SettledFrom::WithoutCard(resolution_without_card(kind)),
    )
    .await?;
    if settled.now {
        transaction
            .execute(
                "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 VALUES ($1, 'card.resolve', 'card_operation', $2,
                         jsonb_build_object('without_card', true, 'state', $3::text))",
                &[&supervisor_id, &operation_id, &settled.state.as_str()],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(Some(settled))
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
