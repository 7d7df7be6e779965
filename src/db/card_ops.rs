//! The database side of the card write journal (docs/card.md, "Card and ledger never
//! disagree"): [`begin`] an operation, [`settle`] it from the card read back, resolve a pending
//! one from whatever card is presented next ([`touch`]), and the lists of pending operations
//! and card usage records.
//!
//! One operation, three steps:
//! 1. [`begin`]: ONE transaction locks the customer's account, first resolves any pending
//!    operation of the customer from the card just read, checks the request against the card and
//!    the database (`domain::card_counter` plans the writes), and records the operation as
//!    `pending` with its plan and its money movement (ledger transactions, receipt) and the card
//!    rows it creates or voids.
//! 2. The card is written (`ReaderHandle::write_plan`, not here) and read back.
//! 3. [`settle`]: a second transaction marks it `done` or `failed` from what the card read back
//!    holds; `failed` reverses the money. A card that is neither (another card, a card changed
//!    since) leaves it pending.
//!
//! Everything is idempotent: a retried [`begin`] with the same idempotency key finds its
//! operation, [`settle`] on a finished operation reports it as it is, and every ledger row has an
//! idempotency key derived from the operation's.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tokio_postgres::{Client, GenericClient, Row, Transaction};

use super::DbError;
use crate::domain::card_counter::{
    CardWritePlan, NotBlank, RechargeRefusal, RecycleRefusal, RefundRefusal, ReplaceRefusal,
    Resolution, check_recharge, plan_open, plan_recharge, plan_recycle, plan_refund, plan_replace,
};
use crate::domain::card_records::{
    CardContent, Ef, IssueRecord, MacKey, MeterNumber, PurchaseRecord, PurchaseStatus, Record,
    UserCard,
};
use crate::domain::pricing::{
    AccumulationCycle, BillingMode, Charge, PriceScheme, PriceVersion, PurchaseError, Tier,
};

/// Litres in a cubic metre: the card counts litres, the ledger m³.
const LITRES_PER_M3: Decimal = Decimal::ONE_THOUSAND;

/// `card_operation.failure_reason` of an operation whose card read back the old record.
pub const NOT_ON_CARD: &str = "not_on_card";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    Open,
    Recharge,
    Refund,
    Replace,
    Recycle,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Recharge => "recharge",
            Self::Refund => "refund",
            Self::Replace => "replace",
            Self::Recycle => "recycle",
        }
    }

    fn parse(text: &str) -> Result<Self, DbError> {
        Ok(match text {
            "open" => Self::Open,
            "recharge" => Self::Recharge,
            "refund" => Self::Refund,
            "replace" => Self::Replace,
            "recycle" => Self::Recycle,
            other => {
                return Err(DbError::Inconsistent(format!(
                    "card operation kind {other}"
                )));
            }
        })
    }

    /// The permission an operator needs (sql/V2__reference_data.sql).
    fn permission(self) -> &'static str {
        match self {
            Self::Open => "card.open",
            Self::Recharge => "card.recharge",
            Self::Refund => "card.refund",
            Self::Replace => "card.replace",
            Self::Recycle => "card.recycle",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    Pending,
    Done,
    Failed,
}

impl OperationState {
    fn parse(text: &str) -> Result<Self, DbError> {
        Ok(match text {
            "pending" => Self::Pending,
            "done" => Self::Done,
            "failed" => Self::Failed,
            other => {
                return Err(DbError::Inconsistent(format!(
                    "card operation state {other}"
                )));
            }
        })
    }
}

/// How much water a recharge buys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// m³, at most 3 decimals.
    Volume(Decimal),
    /// Money offered; the most whole litres it buys are sold and the rest is handed back.
    Amount(Decimal),
}

/// Where the money comes from (recharge) or goes to (refund).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// Paid in (or out) at the counter with this payment method, on a receipt.
    Method(String),
    /// From (or to) the account's balance: where the money of a failed recharge went.
    Balance,
}

/// Why a card is replaced; the old card is void for this reason and blacklisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReason {
    Lost,
    Damaged,
}

impl LossReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Damaged => "damaged",
        }
    }
}

/// A card operation asked for at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Issue the customer's first card on the blank card presented.
    Open,
    Recharge {
        quantity: Quantity,
        payment: Payment,
    },
    /// Cancel the purchase on the card, which the meter has not loaded, and refund it in full
    /// (paid out with the method, or to the balance). Supervisors only.
    Refund { payout: Payment },
    /// Issue the next generation on the blank card presented; the customer's active card (if
    /// any) becomes void for `reason` and blacklisted. Also how a customer whose last card was
    /// recycled gets a card again.
    Replace { reason: LossReason },
    /// Wipe the card presented back to blank.
    Recycle,
}

impl Request {
    pub fn kind(&self) -> OperationKind {
        match self {
            Self::Open => OperationKind::Open,
            Self::Recharge { .. } => OperationKind::Recharge,
            Self::Refund { .. } => OperationKind::Refund,
            Self::Replace { .. } => OperationKind::Replace,
            Self::Recycle => OperationKind::Recycle,
        }
    }
}

/// Who asks for what, with which card on the reader.
#[derive(Debug, Clone, Copy)]
pub struct Begin<'a> {
    pub customer_id: i64,
    pub operator_id: i64,
    /// One per confirmed request: a retry with the same key never does the work twice.
    pub idempotency_key: &'a str,
    /// The card's three records as just read, indexed by `Ef::index`.
    pub card: &'a [Record; 3],
    pub key: &'a MacKey,
}

/// Why nothing was journaled. Nothing was written to the card either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such customer")]
    NoSuchCustomer,
    #[error("the customer has no card meter")]
    NotACardCustomer,
    #[error("the customer's account is closed")]
    CustomerClosed,
    #[error("the operator may not do this card operation")]
    NotPermitted,
    #[error("operation {0} on this customer's card is pending: present the card it was for")]
    Pending(i64),
    #[error("the idempotency key belongs to another request")]
    KeyReused,
    #[error("the customer already has a card")]
    AlreadyHasCard,
    #[error("the customer had cards before: issue the next one by replacement")]
    UseReplace,
    #[error("the customer has no card to replace: open one")]
    NoCardToReplace,
    #[error(transparent)]
    NotBlank(#[from] NotBlank),
    #[error(transparent)]
    Replace(#[from] ReplaceRefusal),
    #[error(transparent)]
    Recharge(#[from] RechargeRefusal),
    #[error(transparent)]
    Refund(#[from] RefundRefusal),
    #[error(transparent)]
    Recycle(#[from] RecycleRefusal),
    #[error("the card is blank")]
    BlankCard,
    #[error("this is not a card of this system")]
    ForeignCard,
    #[error("the card belongs to another customer")]
    AnotherCustomersCard,
    #[error("the card's number is unknown here")]
    UnknownCard,
    #[error("the purchase on the card is unknown here")]
    UnknownPurchase,
    #[error("the customer's type has no prepaid price")]
    NoPrice,
    #[error(transparent)]
    Price(#[from] PurchaseError),
    #[error("the amount buys no water")]
    NothingBought,
    #[error("one purchase holds at most 4294967.295 m³")]
    TooMuchWater,
    #[error("the customer's type does not take this payment method")]
    PaymentMethodNotAllowed,
    #[error("the balance does not cover the purchase")]
    BalanceTooLow,
}

/// What a recharge sells, for the confirmation, the journal and the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub charge: Charge,
    pub litres: u32,
    /// Of an amount offered, what the water did not take (handed back).
    pub not_taken: Decimal,
}

/// The purchase of a recharge or refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseSummary {
    pub sequence: u32,
    pub litres: u32,
    /// What the customer paid (recharge) or gets back (refund).
    pub amount: Decimal,
    /// The recharge's receipt (at begin); a refund's payout receipt comes with [`Settled`].
    pub receipt_no: Option<i64>,
    /// The recharge's price, when begun now (not on a retry).
    pub quote: Option<Quote>,
}

/// A journaled operation: write `plan` to the card, read it back, then [`settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begun {
    pub operation_id: i64,
    pub kind: OperationKind,
    pub plan: CardWritePlan,
    /// The card number written (open, replace) or written to.
    pub card_no: u32,
    pub purchase: Option<PurchaseSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginOutcome {
    Begun(Box<Begun>),
    Refused(Refusal),
    /// The idempotency key's operation is finished already (a retry after it was settled).
    Finished(Settled),
}

/// What [`begin`] did: the customer's pending operation it resolved first, if any, and the
/// request's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeginReport {
    pub resolved: Option<Settled>,
    pub outcome: BeginOutcome,
}

/// An operation after [`settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub operation_id: i64,
    pub kind: OperationKind,
    pub customer_id: i64,
    pub state: OperationState,
    /// True when this call finished it; false when it was finished before, or (state pending)
    /// the card was not the operation's.
    pub now: bool,
    /// A refund's payout receipt (with a payment method, once done).
    pub receipt_no: Option<i64>,
}

/// A pending operation, for the supervisor's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOperation {
    pub operation_id: i64,
    pub kind: OperationKind,
    pub customer_id: i64,
    pub customer_no: i64,
    pub customer_name: String,
    pub card_no: i64,
    pub operator: String,
    pub started_at: DateTime<Utc>,
}

/// One card operation, as the usage records show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub operation_id: i64,
    pub kind: OperationKind,
    pub state: OperationState,
    pub card_no: i64,
    pub generation: i16,
    pub purchase_seq: Option<i64>,
    pub volume_litres: Option<i64>,
    /// The money movement's amount (negative: paid for a purchase).
    pub amount: Option<Decimal>,
    pub operator: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub failure_reason: Option<String>,
}

/// Whose usage records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOf {
    Customer(i64),
    /// By card number.
    Card(i64),
}

// ───────────────────────────── What the database knows of a customer's cards ─────────────────

/// The card the database considers the customer's, with the issue record it must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCard {
    pub card_id: i64,
    pub issue: IssueRecord,
    pub active: bool,
}

/// A card customer as the journal needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardHolder {
    pub customer_id: i64,
    pub customer_no: u32,
    pub meter_no: MeterNumber,
    pub account_id: i64,
    pub balance: Decimal,
    pub customer_type_id: i64,
    /// The active card, else the latest card really issued (void or recycled); `None` before
    /// the first card.
    pub card: Option<KnownCard>,
    /// The highest purchase sequence number ever given to the customer (0 before the first).
    pub last_sequence: u32,
    /// The last purchase written to a card for good (what a replacement card carries).
    pub last_purchase: Option<PurchaseRecord>,
    pub pending: Option<i64>,
    closed: bool,
    meter_prepaid: bool,
}

impl CardHolder {
    pub fn active(&self) -> Option<&IssueRecord> {
        self.card
            .as_ref()
            .filter(|card| card.active)
            .map(|card| &card.issue)
    }
}

/// The customer's card facts; `lock` takes the account row for the rest of the transaction.
async fn holder(
    client: &impl GenericClient,
    customer_id: i64,
    key: &MacKey,
    lock: bool,
) -> Result<Option<CardHolder>, DbError> {
    let lock = if lock { "FOR UPDATE OF a" } else { "" };
    let Some(row) = client
        .query_opt(
            &format!(
                "SELECT c.customer_no, m.meter_no, a.id, a.balance, c.customer_type_id,
                        c.status = 'closed', c.business_model = 'meter_prepaid'
                 FROM customer c JOIN meter m ON m.id = c.meter_id
                      JOIN account a ON a.customer_id = c.id
                 WHERE c.id = $1 {lock}"
            ),
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let customer_no = to_u32(row.get::<_, i64>(0), "customer.customer_no")?;
    let meter_no = MeterNumber::new(row.get(1))
        .map_err(|error| DbError::Inconsistent(format!("meter number: {error}")))?;
    let card = client
        .query_opt(
            "SELECT id, card_no, generation, state = 'active' FROM card
             WHERE customer_id = $1 AND void_reason IS DISTINCT FROM 'not_issued'
             ORDER BY state = 'active' DESC, generation DESC LIMIT 1",
            &[&customer_id],
        )
        .await?
        .map(|card| {
            let generation = u8::try_from(card.get::<_, i16>(2))
                .map_err(|_| DbError::Inconsistent("card.generation".into()))?;
            Ok::<_, DbError>(KnownCard {
                card_id: card.get(0),
                active: card.get(3),
                issue: IssueRecord {
                    card_number: to_u32(card.get(1), "card.card_no")?,
                    customer_number: customer_no,
                    meter_number: meter_no.clone(),
                    generation,
                    // Only the first card is opened; every later one is a replacement.
                    replacement: generation > 1,
                },
            })
        })
        .transpose()?;
    let facts = client
        .query_one(
            "SELECT (SELECT max(purchase_seq) FROM card_operation
                     WHERE customer_id = $1 AND kind = 'recharge'),
                    (SELECT id FROM card_operation WHERE customer_id = $1 AND state = 'pending')",
            &[&customer_id],
        )
        .await?;
    let last_sequence = facts
        .get::<_, Option<i64>>(0)
        .map_or(Ok(0), |seq| to_u32(seq, "card_operation.purchase_seq"))?;
    Ok(Some(CardHolder {
        customer_id,
        customer_no,
        meter_no,
        account_id: row.get(2),
        balance: row.get(3),
        customer_type_id: row.get(4),
        card,
        last_sequence,
        last_purchase: last_purchase(client, customer_id, key).await?,
        pending: facts.get(1),
        closed: row.get(5),
        meter_prepaid: row.get(6),
    }))
}

/// The customer's card facts, for a screen (no lock).
pub async fn card_holder(
    client: &impl GenericClient,
    customer_id: i64,
    key: &MacKey,
) -> Result<Option<CardHolder>, DbError> {
    holder(client, customer_id, key, false).await
}

/// The last purchase written to a card for good: from the latest finished recharge, refund or
/// replacement (which carries it). Rows without record bytes (demo data) are rebuilt from their
/// columns.
async fn last_purchase(
    client: &impl GenericClient,
    customer_id: i64,
    key: &MacKey,
) -> Result<Option<PurchaseRecord>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT op.purchase_record_after, card.card_no, op.kind, op.purchase_seq,
                    op.volume_litres, card.generation, extract(epoch FROM op.started_at)::bigint
             FROM card_operation op JOIN card ON card.id = op.card_id
             WHERE op.customer_id = $1 AND op.state = 'done'
               AND op.kind IN ('recharge', 'refund', 'replace')
             ORDER BY op.id DESC LIMIT 1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let card_no = to_u32(row.get(1), "card.card_no")?;
    if let Some(bytes) = row.get::<_, Option<Vec<u8>>>(0) {
        return PurchaseRecord::decode(&bytes, card_no, key)
            .map_err(|error| DbError::Inconsistent(format!("stored purchase record: {error}")));
    }
    let (Some(sequence), Some(litres)) = (row.get::<_, Option<i64>>(3), row.get(4)) else {
        return Ok(None);
    };
    let kind: String = row.get(2);
    Ok(Some(PurchaseRecord {
        sequence: to_u32(sequence, "card_operation.purchase_seq")?,
        volume_litres: to_u32(litres, "card_operation.volume_litres")?,
        generation: u8::try_from(row.get::<_, i16>(5)).unwrap_or(u8::MAX),
        status: if kind == "refund" {
            PurchaseStatus::Cancelled
        } else {
            PurchaseStatus::Valid
        },
        written_at: u32::try_from(row.get::<_, i64>(6)).unwrap_or(0),
    }))
}

fn to_u32(value: i64, what: &str) -> Result<u32, DbError> {
    u32::try_from(value).map_err(|_| DbError::Inconsistent(format!("{what} = {value}")))
}

/// The customer that card number `card_no` was issued to.
pub async fn card_owner(client: &impl GenericClient, card_no: u32) -> Result<Option<i64>, DbError> {
    Ok(client
        .query_opt(
            "SELECT customer_id FROM card WHERE card_no = $1",
            &[&i64::from(card_no)],
        )
        .await?
        .map(|row| row.get(0)))
}

// ───────────────────────────── Prices ─────────────────────────────

/// The prepaid price of `quantity` for the customer today: the customer type's scheme, the
/// version in force, the volume already bought in the accumulation cycle (reversed purchases do
/// not count).
pub async fn quote_recharge(
    client: &impl GenericClient,
    customer_id: i64,
    quantity: Quantity,
) -> Result<Result<Quote, Refusal>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.customer_type_id, a.id, current_date
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(Err(Refusal::NoSuchCustomer));
    };
    quote(client, row.get(0), row.get(1), row.get(2), quantity).await
}

async fn quote(
    client: &impl GenericClient,
    customer_type_id: i64,
    account_id: i64,
    today: NaiveDate,
    quantity: Quantity,
) -> Result<Result<Quote, Refusal>, DbError> {
    let Some(scheme) = prepaid_scheme(client, customer_type_id).await? else {
        return Ok(Err(Refusal::NoPrice));
    };
    let Some(prices) = scheme.prices_on(today) else {
        return Ok(Err(Refusal::NoPrice));
    };
    let cycle = scheme.cycle().period_containing(today);
    let accumulated: Decimal = client
        .query_one(
            "SELECT coalesce(sum(t.volume), 0) FROM ledger_transaction t
             WHERE t.account_id = $1 AND t.kind = 'card_purchase'
               AND t.created_at >= $2::date AND t.created_at < $3::date
               AND NOT EXISTS (SELECT 1 FROM ledger_transaction r WHERE r.reverses_id = t.id)",
            &[&account_id, &cycle.first_day, &cycle.next_first_day],
        )
        .await?
        .get(0);
    let priced = match quantity {
        Quantity::Volume(volume) => prices
            .charge_for_volume(accumulated, volume)
            .map(|charge| (charge, Decimal::ZERO)),
        Quantity::Amount(offered) => prices
            .charge_for_amount(accumulated, offered)
            .map(|purchase| (purchase.charge, purchase.not_taken)),
    };
    let (charge, not_taken) = match priced {
        Ok(priced) => priced,
        Err(error) => return Ok(Err(error.into())),
    };
    // The ledger records payments: water that costs nothing is not sold at the counter.
    if charge.volume.is_zero() || charge.amount.is_zero() {
        return Ok(Err(Refusal::NothingBought));
    }
    let Some(litres) = (charge.volume * LITRES_PER_M3).to_u32() else {
        return Ok(Err(Refusal::TooMuchWater));
    };
    Ok(Ok(Quote {
        charge,
        litres,
        not_taken,
    }))
}

/// The customer type's prepaid price scheme, with every version and its tiers.
async fn prepaid_scheme(
    client: &impl GenericClient,
    customer_type_id: i64,
) -> Result<Option<PriceScheme>, DbError> {
    let Some(scheme) = client
        .query_opt(
            "SELECT s.id, s.billing_mode, s.vat_rate * 100, s.accumulation_cycle_months,
                    s.start_date
             FROM customer_type t JOIN price_scheme s ON s.id = t.price_scheme_id
             WHERE t.id = $1 AND s.kind = 'prepaid'",
            &[&customer_type_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let mode = match scheme.get::<_, &str>(1) {
        "fixed" => BillingMode::Fixed,
        "stepped" => BillingMode::Stepped,
        "leap" => BillingMode::Leap,
        other => return Err(DbError::Inconsistent(format!("billing mode {other}"))),
    };
    let vat_percent: Decimal = scheme.get(2);
    let inconsistent = |error: crate::domain::pricing::SchemeError| {
        DbError::Inconsistent(format!("price scheme {}: {error}", scheme.get::<_, i64>(0)))
    };
    let rows = client
        .query(
            "SELECT v.id, v.effective_from, t.upper_bound_m3, t.unit_price
             FROM price_version v JOIN price_tier t ON t.price_version_id = v.id
             WHERE v.price_scheme_id = $1 ORDER BY v.effective_from, t.tier_no",
            &[&scheme.get::<_, i64>(0)],
        )
        .await?;
    let mut versions = Vec::new();
    for group in rows.chunk_by(|a, b| a.get::<_, i64>(0) == b.get::<_, i64>(0)) {
        let tiers = group
            .iter()
            .map(|row| Tier {
                up_to: row.get(2),
                unit_price: row.get(3),
            })
            .collect();
        versions.push(
            PriceVersion::new(group[0].get(1), mode, tiers, vat_percent.normalize())
                .map_err(inconsistent)?,
        );
    }
    if versions.is_empty() {
        return Ok(None);
    }
    // A fixed price has no cycle; any one will do, since nothing accumulates across tiers.
    let months = scheme.get::<_, Option<i16>>(3).unwrap_or(12);
    let cycle = AccumulationCycle::new(scheme.get(4), u32::from(months.unsigned_abs()))
        .map_err(inconsistent)?;
    PriceScheme::new(cycle, versions)
        .map(Some)
        .map_err(inconsistent)
}

// ───────────────────────────── Begin ─────────────────────────────

/// Step 1 of the protocol: see the module documentation. The caller writes `Begun::plan` to the
/// card and calls [`settle`] with what the card reads back.
pub async fn begin(
    client: &mut Client,
    begin: &Begin<'_>,
    request: &Request,
) -> Result<BeginReport, DbError> {
    let transaction = client.transaction().await?;
    let report = begin_in(&transaction, begin, request).await?;
    transaction.commit().await?;
    Ok(report)
}

async fn begin_in(
    tx: &Transaction<'_>,
    begin: &Begin<'_>,
    request: &Request,
) -> Result<BeginReport, DbError> {
    let refused = |refusal| {
        Ok(BeginReport {
            resolved: None,
            outcome: BeginOutcome::Refused(refusal),
        })
    };
    let Some(holder) = holder(tx, begin.customer_id, begin.key, true).await? else {
        return refused(Refusal::NoSuchCustomer);
    };
    // A retry: the same key's operation, wherever it stands.
    if let Some(row) = tx
        .query_opt(
            &format!("{OPERATION_COLUMNS} WHERE op.idempotency_key = $1 FOR UPDATE OF op"),
            &[&begin.idempotency_key],
        )
        .await?
    {
        let operation = Operation::from_row(&row)?;
        if operation.customer_id != begin.customer_id || operation.kind != request.kind() {
            return refused(Refusal::KeyReused);
        }
        return retry(tx, &operation, begin).await;
    }
    let resolved = match holder.pending {
        Some(pending) => Some(settle_in(tx, pending, begin.card, begin.key).await?),
        None => None,
    };
    let outcome = match &resolved {
        Some(settled) if settled.state == OperationState::Pending => {
            BeginOutcome::Refused(Refusal::Pending(settled.operation_id))
        }
        _ => {
            // Settling may have changed the facts (a card made active or void, a purchase).
            let holder = match resolved {
                Some(_) => self::holder(tx, begin.customer_id, begin.key, false)
                    .await?
                    .ok_or_else(|| DbError::Inconsistent("customer vanished".into()))?,
                None => holder,
            };
            match start(tx, &holder, begin, request).await? {
                Ok(begun) => BeginOutcome::Begun(Box::new(begun)),
                Err(refusal) => BeginOutcome::Refused(refusal),
            }
        }
    };
    Ok(BeginReport { resolved, outcome })
}

/// A request seen before: a pending operation is resolved from the card; if the card still holds
/// what it held before the write, the same plan is handed out again to be written.
async fn retry(
    tx: &Transaction<'_>,
    operation: &Operation,
    begin: &Begin<'_>,
) -> Result<BeginReport, DbError> {
    let outcome = if operation.state != OperationState::Pending {
        BeginOutcome::Finished(operation.settled(false, None))
    } else {
        match operation.plan()?.resolve(begin.card) {
            Resolution::Failed => BeginOutcome::Begun(Box::new(operation.begun()?)),
            Resolution::Done => {
                BeginOutcome::Finished(settle_in(tx, operation.id, begin.card, begin.key).await?)
            }
            Resolution::Conflict => BeginOutcome::Refused(Refusal::Pending(operation.id)),
        }
    };
    Ok(BeginReport {
        resolved: None,
        outcome,
    })
}

/// Checks, plans and journals a new operation.
async fn start(
    tx: &Transaction<'_>,
    holder: &CardHolder,
    begin: &Begin<'_>,
    request: &Request,
) -> Result<Result<Begun, Refusal>, DbError> {
    if !holder.meter_prepaid {
        return Ok(Err(Refusal::NotACardCustomer));
    }
    if holder.closed {
        return Ok(Err(Refusal::CustomerClosed));
    }
    if !permitted(tx, begin.operator_id, request.kind().permission()).await? {
        return Ok(Err(Refusal::NotPermitted));
    }
    let content = CardContent::classify(begin.card, begin.key);
    note_meter_state(tx, &content).await?;
    let journal = Journal { tx, holder, begin };
    match request {
        Request::Open => journal.open(&content).await,
        Request::Replace { reason } => journal.replace(&content, *reason).await,
        Request::Recharge { quantity, payment } => {
            let card = match user_card(&content) {
                Ok(card) => card,
                Err(refusal) => return Ok(Err(refusal)),
            };
            journal.recharge(card, *quantity, payment).await
        }
        Request::Refund { payout } => match user_card(&content) {
            Ok(card) => journal.refund(card, payout).await,
            Err(refusal) => Ok(Err(refusal)),
        },
        Request::Recycle => match user_card(&content) {
            Ok(card) => journal.recycle(card).await,
            Err(refusal) => Ok(Err(refusal)),
        },
    }
}

/// Whether the operator is enabled and one of their roles grants `permission`.
async fn permitted(
    tx: &Transaction<'_>,
    operator_id: i64,
    permission: &str,
) -> Result<bool, DbError> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM operator o
                            JOIN operator_role r ON r.operator_id = o.id
                            JOIN role_permission p ON p.role_code = r.role_code
                            WHERE o.id = $1 AND o.enabled AND p.permission_code = $2)",
            &[&operator_id, &permission],
        )
        .await?
        .get(0))
}

fn user_card(content: &CardContent) -> Result<&UserCard, Refusal> {
    match content {
        CardContent::User(card) => Ok(card),
        CardContent::Blank => Err(Refusal::BlankCard),
        CardContent::Foreign { .. } => Err(Refusal::ForeignCard),
    }
}

/// Keeps the meter's write-back as last read at the counter (the customer's details show it).
async fn note_meter_state(tx: &Transaction<'_>, content: &CardContent) -> Result<(), DbError> {
    if let CardContent::User(UserCard {
        issue,
        write_back: Some(write_back),
        ..
    }) = content
    {
        tx.execute(
            "UPDATE card SET meter_loaded_seq = $2, meter_generation = $3, meter_read_at = now()
             WHERE card_no = $1",
            &[
                &i64::from(issue.card_number),
                &i64::from(write_back.last_loaded_sequence),
                &i16::from(write_back.registered_generation),
            ],
        )
        .await?;
    }
    Ok(())
}

/// A new operation's rows, in the transaction of [`begin`].
struct Journal<'a> {
    tx: &'a Transaction<'a>,
    holder: &'a CardHolder,
    begin: &'a Begin<'a>,
}

/// The operation row to insert.
struct NewOperation {
    kind: OperationKind,
    card_id: i64,
    card_no: u32,
    replaced_card_id: Option<i64>,
    plan: CardWritePlan,
    purchase_seq: Option<u32>,
    volume_litres: Option<u32>,
    transaction_id: Option<i64>,
    payment_method: Option<String>,
}

impl NewOperation {
    /// An operation that moves no money and writes no purchase of its own.
    fn new(kind: OperationKind, card_id: i64, card_no: u32, plan: CardWritePlan) -> Self {
        Self {
            kind,
            card_id,
            card_no,
            replaced_card_id: None,
            plan,
            purchase_seq: None,
            volume_litres: None,
            transaction_id: None,
            payment_method: None,
        }
    }
}

impl Journal<'_> {
    async fn next_card_no(&self) -> Result<u32, DbError> {
        let card_no: i64 = self
            .tx
            .query_one("SELECT nextval('card_no_seq')", &[])
            .await?
            .get(0);
        to_u32(card_no, "card_no_seq")
    }

    async fn new_card(&self, card_no: u32, generation: u8) -> Result<i64, DbError> {
        Ok(self
            .tx
            .query_one(
                "INSERT INTO card (card_no, customer_id, generation, issued_by)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[
                    &i64::from(card_no),
                    &self.holder.customer_id,
                    &i16::from(generation),
                    &self.begin.operator_id,
                ],
            )
            .await?
            .get(0))
    }

    async fn open(&self, content: &CardContent) -> Result<Result<Begun, Refusal>, DbError> {
        match &self.holder.card {
            Some(card) if card.active => return Ok(Err(Refusal::AlreadyHasCard)),
            Some(_) => return Ok(Err(Refusal::UseReplace)),
            None => {}
        }
        if let Err(refusal) = require_blank(content) {
            return Ok(Err(refusal));
        }
        let card_no = self.next_card_no().await?;
        let planned = match plan_open(
            content,
            card_no,
            self.holder.customer_no,
            self.holder.meter_no.clone(),
            self.begin.key,
        ) {
            Ok(planned) => planned,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let card_id = self.new_card(card_no, planned.record.generation).await?;
        self.journal(NewOperation::new(
            OperationKind::Open,
            card_id,
            card_no,
            planned.plan,
        ))
        .await
        .map(Ok)
    }

    async fn replace(
        &self,
        content: &CardContent,
        reason: LossReason,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        let Some(old) = &self.holder.card else {
            return Ok(Err(Refusal::NoCardToReplace));
        };
        if let Err(refusal) = require_blank(content) {
            return Ok(Err(refusal));
        }
        let card_no = self.next_card_no().await?;
        let planned = match plan_replace(
            content,
            &old.issue,
            self.holder.last_purchase.as_ref(),
            card_no,
            self.begin.key,
        ) {
            Ok(planned) => planned,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        if old.active {
            // Void at once, whatever becomes of the new card.
            self.tx
                .execute(
                    "UPDATE card SET state = 'void', void_reason = $2, voided_at = now(),
                                     blacklisted = true
                     WHERE id = $1",
                    &[&old.card_id, &reason.as_str()],
                )
                .await?;
        }
        let card_id = self.new_card(card_no, planned.record.generation).await?;
        let carried = self.holder.last_purchase.as_ref();
        self.journal(NewOperation {
            replaced_card_id: Some(old.card_id),
            purchase_seq: carried.map(|purchase| purchase.sequence),
            volume_litres: carried.map(|purchase| purchase.volume_litres),
            ..NewOperation::new(OperationKind::Replace, card_id, card_no, planned.plan)
        })
        .await
        .map(Ok)
    }

    /// The active card on the reader, or why not.
    fn active_card(&self, card: &UserCard) -> Result<i64, Refusal> {
        match &self.holder.card {
            Some(known) if known.active && known.issue == card.issue => Ok(known.card_id),
            _ if card.issue.customer_number != self.holder.customer_no => {
                Err(Refusal::AnotherCustomersCard)
            }
            _ => Err(RechargeRefusal::NotTheActiveCard.into()),
        }
    }

    async fn recharge(
        &self,
        card: &UserCard,
        quantity: Quantity,
        payment: &Payment,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        let card_id = match self.active_card(card) {
            Ok(card_id) => card_id,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Err(refusal) = check_recharge(card, self.holder.active()) {
            return Ok(Err(refusal.into()));
        }
        let today: NaiveDate = self.tx.query_one("SELECT current_date", &[]).await?.get(0);
        let quote = match quote(
            self.tx,
            self.holder.customer_type_id,
            self.holder.account_id,
            today,
            quantity,
        )
        .await?
        {
            Ok(quote) => quote,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let planned = match plan_recharge(
            card,
            self.holder.active(),
            self.holder.last_sequence,
            quote.litres,
            unix_now(),
            self.begin.key,
        ) {
            Ok(planned) => planned,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let amount = quote.charge.amount;
        let method = match payment {
            Payment::Method(method) => {
                if !self.method_allowed(method).await? {
                    return Ok(Err(Refusal::PaymentMethodNotAllowed));
                }
                Some(method.clone())
            }
            Payment::Balance if self.holder.balance < amount => {
                return Ok(Err(Refusal::BalanceTooLow));
            }
            Payment::Balance => None,
        };
        let receipt_no = self.receipt().await?;
        if let Some(method) = &method {
            self.ledger(LedgerRow {
                kind: "deposit",
                amount,
                volume: None,
                unit_price: None,
                method: Some(method),
                receipt_no: Some(receipt_no),
                key_suffix: "deposit",
            })
            .await?;
        }
        let single_price = match quote.charge.tiers.as_slice() {
            [tier] => Some(tier.unit_price),
            _ => None,
        };
        let transaction_id = self
            .ledger(LedgerRow {
                kind: "card_purchase",
                amount: -amount,
                volume: Some(quote.charge.volume),
                unit_price: single_price,
                method: None,
                receipt_no: Some(receipt_no),
                key_suffix: "purchase",
            })
            .await?;
        let summary = PurchaseSummary {
            sequence: planned.record.sequence,
            litres: quote.litres,
            amount,
            receipt_no: Some(receipt_no),
            quote: Some(quote),
        };
        let new = NewOperation::new(
            OperationKind::Recharge,
            card_id,
            card.issue.card_number,
            planned.plan,
        );
        self.journal_purchase(new, summary, transaction_id, method)
            .await
            .map(Ok)
    }

    async fn refund(
        &self,
        card: &UserCard,
        payout: &Payment,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        let card_id = match self.active_card(card) {
            Ok(card_id) => card_id,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let planned = match plan_refund(card, self.holder.active(), self.begin.key) {
            Ok(planned) => planned,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        let sequence = planned.record.sequence;
        let Some(paid) = self
            .tx
            .query_opt(
                "SELECT -t.amount FROM card_operation op
                 JOIN ledger_transaction t ON t.id = op.transaction_id
                 WHERE op.customer_id = $1 AND op.kind = 'recharge' AND op.state = 'done'
                   AND op.purchase_seq = $2",
                &[&self.holder.customer_id, &i64::from(sequence)],
            )
            .await?
        else {
            return Ok(Err(Refusal::UnknownPurchase));
        };
        let amount: Decimal = paid.get(0);
        let method = match payout {
            Payment::Method(method) if !self.method_allowed(method).await? => {
                return Ok(Err(Refusal::PaymentMethodNotAllowed));
            }
            Payment::Method(method) => Some(method.clone()),
            Payment::Balance => None,
        };
        // Onto the balance now; paid out only once the card shows the purchase cancelled.
        let transaction_id = self
            .ledger(LedgerRow {
                kind: "card_refund",
                amount,
                volume: None,
                unit_price: None,
                method: None,
                receipt_no: None,
                key_suffix: "card_refund",
            })
            .await?;
        let summary = PurchaseSummary {
            sequence,
            litres: planned.record.volume_litres,
            amount,
            receipt_no: None,
            quote: None,
        };
        let new = NewOperation::new(
            OperationKind::Refund,
            card_id,
            card.issue.card_number,
            planned.plan,
        );
        self.journal_purchase(new, summary, transaction_id, method)
            .await
            .map(Ok)
    }

    async fn recycle(&self, card: &UserCard) -> Result<Result<Begun, Refusal>, DbError> {
        let Some(row) = self
            .tx
            .query_opt(
                "SELECT id, customer_id FROM card WHERE card_no = $1",
                &[&i64::from(card.issue.card_number)],
            )
            .await?
        else {
            return Ok(Err(Refusal::UnknownCard));
        };
        if row.get::<_, i64>(1) != self.holder.customer_id {
            return Ok(Err(Refusal::AnotherCustomersCard));
        }
        let plan = match plan_recycle(card, self.holder.active(), self.begin.key) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        self.journal(NewOperation::new(
            OperationKind::Recycle,
            row.get(0),
            card.issue.card_number,
            plan,
        ))
        .await
        .map(Ok)
    }

    async fn method_allowed(&self, method: &str) -> Result<bool, DbError> {
        Ok(self
            .tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM customer_type_payment_method tm
                                JOIN payment_method m ON m.code = tm.payment_method_code
                                WHERE tm.customer_type_id = $1 AND m.code = $2 AND m.enabled)",
                &[&self.holder.customer_type_id, &method],
            )
            .await?
            .get(0))
    }

    async fn receipt(&self) -> Result<i64, DbError> {
        new_receipt(self.tx, self.holder.customer_id, self.begin.operator_id).await
    }

    async fn ledger(&self, row: LedgerRow<'_>) -> Result<i64, DbError> {
        insert_ledger(
            self.tx,
            self.holder.account_id,
            Some(self.begin.operator_id),
            self.begin.idempotency_key,
            &row,
        )
        .await
    }

    /// A recharge or refund: the purchase written and the money moved for it.
    async fn journal_purchase(
        &self,
        new: NewOperation,
        summary: PurchaseSummary,
        transaction_id: i64,
        method: Option<String>,
    ) -> Result<Begun, DbError> {
        let mut begun = self
            .journal(NewOperation {
                purchase_seq: Some(summary.sequence),
                volume_litres: Some(summary.litres),
                transaction_id: Some(transaction_id),
                payment_method: method,
                ..new
            })
            .await?;
        begun.purchase = Some(summary);
        Ok(begun)
    }

    async fn journal(&self, new: NewOperation) -> Result<Begun, DbError> {
        let (issue_before, issue_after) = records_of(&new.plan, Ef::Issue);
        let (purchase_before, purchase_after) = records_of(&new.plan, Ef::Purchase);
        let plan = serde_json::to_string(&new.plan)
            .map_err(|error| DbError::Inconsistent(format!("card write plan: {error}")))?;
        let operation_id: i64 = self
            .tx
            .query_one(
                "INSERT INTO card_operation (customer_id, card_id, replaced_card_id, kind,
                     purchase_seq, volume_litres, issue_record_before, issue_record_after,
                     purchase_record_before, purchase_record_after, transaction_id,
                     idempotency_key, operator_id, plan, payment_method_code)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                         $14::text::jsonb, $15)
                 RETURNING id",
                &[
                    &self.holder.customer_id,
                    &new.card_id,
                    &new.replaced_card_id,
                    &new.kind.as_str(),
                    &new.purchase_seq.map(i64::from),
                    &new.volume_litres.map(i64::from),
                    &issue_before,
                    &issue_after,
                    &purchase_before,
                    &purchase_after,
                    &new.transaction_id,
                    &self.begin.idempotency_key,
                    &self.begin.operator_id,
                    &plan,
                    &new.payment_method,
                ],
            )
            .await?
            .get(0);
        self.tx
            .execute(
                "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 VALUES ($1, $2, 'card_operation', $3,
                         jsonb_build_object('customer_id', $4::bigint, 'card_no', $5::bigint))",
                &[
                    &self.begin.operator_id,
                    &new.kind.permission(),
                    &operation_id,
                    &self.holder.customer_id,
                    &i64::from(new.card_no),
                ],
            )
            .await?;
        Ok(Begun {
            operation_id,
            kind: new.kind,
            plan: new.plan,
            card_no: new.card_no,
            purchase: None,
        })
    }
}

fn require_blank(content: &CardContent) -> Result<(), Refusal> {
    match content {
        CardContent::Blank => Ok(()),
        CardContent::User(_) => Err(NotBlank::UserCard.into()),
        CardContent::Foreign { .. } => Err(NotBlank::Foreign.into()),
    }
}

/// What the plan expects EF `ef` to hold before and after, as the journal's byte columns keep
/// them (`None`: not known or not written).
fn records_of(plan: &CardWritePlan, ef: Ef) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let after = plan
        .writes()
        .filter(|write| write.ef == ef)
        .last()
        .map(|write| write.record);
    let before = if plan.decisive.ef == ef {
        Some(plan.decisive.before)
    } else if ef == Ef::Issue {
        plan.issue_record
    } else {
        None
    };
    // An operation that leaves the issue record alone still needs it there.
    let after = after.or(if ef == Ef::Issue {
        plan.issue_record
    } else {
        None
    });
    (before.map(Vec::from), after.map(Vec::from))
}

fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| u32::try_from(since.as_secs()).ok())
        .unwrap_or(u32::MAX)
}

struct LedgerRow<'a> {
    kind: &'static str,
    amount: Decimal,
    volume: Option<Decimal>,
    unit_price: Option<Decimal>,
    method: Option<&'a str>,
    receipt_no: Option<i64>,
    /// Appended to the operation's idempotency key.
    key_suffix: &'static str,
}

async fn insert_ledger(
    tx: &Transaction<'_>,
    account_id: i64,
    operator_id: Option<i64>,
    operation_key: &str,
    row: &LedgerRow<'_>,
) -> Result<i64, DbError> {
    Ok(tx
        .query_one(
            "INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price,
                 payment_method_code, receipt_no, operator_id, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &account_id,
                &row.kind,
                &row.amount,
                &row.volume,
                &row.unit_price,
                &row.method,
                &row.receipt_no,
                &operator_id,
                &format!("card-op:{operation_key}:{}", row.key_suffix),
            ],
        )
        .await?
        .get(0))
}

async fn new_receipt(
    tx: &Transaction<'_>,
    customer_id: i64,
    operator_id: i64,
) -> Result<i64, DbError> {
    Ok(tx
        .query_one(
            "INSERT INTO receipt (receipt_no, customer_id, operator_id)
             VALUES (nextval('receipt_no_seq'), $1, $2) RETURNING receipt_no",
            &[&customer_id, &operator_id],
        )
        .await?
        .get(0))
}

// ───────────────────────────── Settle ─────────────────────────────

const OPERATION_COLUMNS: &str = "SELECT op.id, op.customer_id, op.kind, op.state, op.plan::text,
        op.card_id, card.card_no, op.transaction_id, op.idempotency_key, op.payment_method_code,
        op.operator_id, op.purchase_seq, op.volume_litres, t.amount, t.receipt_no, t.account_id
    FROM card_operation op JOIN card ON card.id = op.card_id
    LEFT JOIN ledger_transaction t ON t.id = op.transaction_id";

/// A journaled operation as stored.
struct Operation {
    id: i64,
    customer_id: i64,
    kind: OperationKind,
    state: OperationState,
    plan: Option<String>,
    card_id: i64,
    card_no: i64,
    transaction_id: Option<i64>,
    idempotency_key: String,
    payment_method: Option<String>,
    operator_id: i64,
    purchase_seq: Option<i64>,
    volume_litres: Option<i64>,
    amount: Option<Decimal>,
    receipt_no: Option<i64>,
    account_id: Option<i64>,
}

impl Operation {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            id: row.get(0),
            customer_id: row.get(1),
            kind: OperationKind::parse(row.get(2))?,
            state: OperationState::parse(row.get(3))?,
            plan: row.get(4),
            card_id: row.get(5),
            card_no: row.get(6),
            transaction_id: row.get(7),
            idempotency_key: row.get(8),
            payment_method: row.get(9),
            operator_id: row.get(10),
            purchase_seq: row.get(11),
            volume_litres: row.get(12),
            amount: row.get(13),
            receipt_no: row.get(14),
            account_id: row.get(15),
        })
    }

    fn plan(&self) -> Result<CardWritePlan, DbError> {
        let text = self.plan.as_deref().ok_or_else(|| {
            DbError::Inconsistent(format!("card operation {} has no plan", self.id))
        })?;
        serde_json::from_str(text).map_err(|error| {
            DbError::Inconsistent(format!("card operation {} plan: {error}", self.id))
        })
    }

    fn settled(&self, now: bool, receipt_no: Option<i64>) -> Settled {
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
    fn begun(&self) -> Result<Begun, DbError> {
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
    let transaction = client.transaction().await?;
    let settled = settle_in(&transaction, operation_id, card, key).await?;
    transaction.commit().await?;
    Ok(settled)
}

async fn settle_in(
    tx: &Transaction<'_>,
    operation_id: i64,
    card: &[Record; 3],
    key: &MacKey,
) -> Result<Settled, DbError> {
    let Some(operation) = pending_operation(tx, operation_id).await? else {
        return finished_operation(tx, operation_id).await;
    };
    note_meter_state(tx, &CardContent::classify(card, key)).await?;
    let resolution = operation.plan()?.resolve(card);
    finish(tx, operation, resolution, NOT_ON_CARD).await
}

/// The operation, locked, if it is still pending.
async fn pending_operation(
    tx: &Transaction<'_>,
    operation_id: i64,
) -> Result<Option<Operation>, DbError> {
    let row = tx
        .query_one(
            &format!("{OPERATION_COLUMNS} WHERE op.id = $1 FOR UPDATE OF op"),
            &[&operation_id],
        )
        .await?;
    let operation = Operation::from_row(&row)?;
    Ok((operation.state == OperationState::Pending).then_some(operation))
}

async fn finished_operation(tx: &Transaction<'_>, operation_id: i64) -> Result<Settled, DbError> {
    let row = tx
        .query_one(
            &format!("{OPERATION_COLUMNS} WHERE op.id = $1"),
            &[&operation_id],
        )
        .await?;
    Ok(Operation::from_row(&row)?.settled(false, None))
}

/// Applies a resolution to a pending operation; `failure_reason` is stored if it failed.
async fn finish(
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
        "UPDATE card_operation SET state = $2, finished_at = now(),
             failure_reason = CASE WHEN $2 = 'failed' THEN $3 END
         WHERE id = $1",
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
    let transaction = client.transaction().await?;
    if !permitted(&transaction, supervisor_id, "card.resolve").await? {
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
/// no longer the customer's.
async fn done(tx: &Transaction<'_>, operation: &Operation) -> Result<Option<i64>, DbError> {
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
                Some(operation.operator_id),
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
        OperationKind::Open | OperationKind::Recharge | OperationKind::Replace => Ok(None),
    }
}

/// What is undone when the card shows it never took the write: the money movement is
/// reversed, a card that was never issued is void.
async fn failed(tx: &Transaction<'_>, operation: &Operation) -> Result<(), DbError> {
    if let (Some(transaction_id), Some(amount), Some(account_id)) = (
        operation.transaction_id,
        operation.amount,
        operation.account_id,
    ) {
        tx.execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id,
                 idempotency_key)
             VALUES ($1, 'reversal', $2, $3, $4)",
            &[
                &account_id,
                &-amount,
                &transaction_id,
                &format!("card-op:{}:reversal", operation.idempotency_key),
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

/// Whenever a card or a customer is touched: resolves the pending operation of the customer
/// (if given) and of the card's owner from the card's records. Returns what was settled, or
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
    let transaction = client.transaction().await?;
    let mut settled = Vec::new();
    for customer in customers {
        let pending: Option<i64> = transaction
            .query_opt(
                "SELECT id FROM card_operation WHERE customer_id = $1 AND state = 'pending'",
                &[&customer],
            )
            .await?
            .map(|row| row.get(0));
        if let Some(operation_id) = pending {
            settled.push(settle_in(&transaction, operation_id, card, key).await?);
        }
    }
    transaction.commit().await?;
    Ok(settled)
}

// ───────────────────────────── Lists ─────────────────────────────

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
