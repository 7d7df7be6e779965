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

use crate::db::{CachingClient, Transaction};
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::ClientWrapper as Client;
use rust_decimal::Decimal;

use crate::domain::money::Money;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::operators::has_permission;
use super::rows::{from_columns, read_all, read_opt};
use crate::domain::card_counter::{
    CardWritePlan, NotBlank, Planned, RechargeRefusal, RecycleRefusal, RefundRefusal,
    ReplaceRefusal, Resolution, check_recharge, plan_missing_purchase, plan_open, plan_recharge,
    plan_recycle, plan_refund, plan_replace,
};
use crate::domain::card_records::{
    CardBoundRecord, CardContent, Ef, IssueRecord, MacKey, MeterNumber, PurchaseRecord,
    PurchaseStatus, Record, UserCard,
};
use crate::domain::pricing::{AccumulationCycle, Charge, PriceScheme, PriceVersion, PurchaseError};

/// Why a card operation failed: `card_operation.failure_reason`, whose words the database
/// checks (sql/V175). The usage records and the audit log say them (`ic.failure_<word>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The card read back (or later) still holds the old record: the card never got it.
    NotOnCard,
    /// A supervisor settled it without its card.
    SettledWithoutCard,
    /// The card refused this desk's issuer PIN at the write.
    PinRefused,
    /// The card's issuer PIN is blocked.
    PinBlocked,
    /// The card had one PIN try left: the desk did not present its PIN.
    PinLastTry,
    /// The card refused the write itself (an UPDATE BINARY), with its status word.
    CardRefused,
}

impl FailureReason {
    /// The word stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotOnCard => "not_on_card",
            Self::SettledWithoutCard => "settled_without_card",
            Self::PinRefused => "pin_refused",
            Self::PinBlocked => "pin_blocked",
            Self::PinLastTry => "pin_last_try",
            Self::CardRefused => "card_refused",
        }
    }
}

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
    /// The word stored in `card_operation.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, DbError> {
        [Self::Pending, Self::Done, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| DbError::Inconsistent(format!("card operation state {text}")))
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
        /// The owner the card screen showed (`CardOwner::owner_seen`, `customer_owner_seen`,
        /// sql/V110): the journal refuses the recharge, nothing written and nothing on the card,
        /// if another desk transferred the customer since ([`Refusal::OwnerChanged`], sql/V112).
        /// `None`: whoever owns it (the soak and the tests may send it so).
        owner_seen: Option<i64>,
    },
    /// Cancel the purchase on the card, which the meter has not loaded, and refund it in full
    /// (paid out with the method, or to the balance). Supervisors only.
    Refund {
        payout: Payment,
        /// The owner the card screen showed, as [`Request::Recharge::owner_seen`]: the refund is
        /// refused, nothing written and nothing on the card, if another desk transferred the
        /// customer since (sql/V119).
        owner_seen: Option<i64>,
    },
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
    #[error("the customer has no active card to report lost")]
    NoActiveCard,
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
    /// A refund from a card image older than one read before (replayed): the meter has loaded
    /// the purchase, as a write-back read at `seen_at` showed.
    #[error(
        "this card image is older than the last one seen on {seen_at}; nothing can be refunded from it"
    )]
    OlderCardImage { seen_at: DateTime<Utc> },
    /// The active card lacks purchase `sequence`, which a supervisor settled without it, or
    /// (`refunded`) is an older copy still showing it valid after its refund: nothing is sold
    /// or refunded over it; `cardflow` writes it to the card first.
    #[error(
        "this card misses purchase #{sequence} as the books hold it (refunded: {refunded}): \
         present the card again to have it written"
    )]
    MissingPurchase { sequence: u32, refunded: bool },
    /// Purchase `sequence` is now written on the card as the books hold it: settled without
    /// the card, the meter loads it at the next swipe, then the card can be recharged;
    /// `refunded`, the meter loads nothing from it and the card can be recharged at once.
    #[error(
        "purchase #{sequence} is now written on this card as the books hold it (refunded: \
         {refunded}); nothing else was done"
    )]
    MissingPurchaseWritten { sequence: u32, refunded: bool },
    #[error("the customer's type has no prepaid price")]
    NoPrice,
    #[error(transparent)]
    Price(#[from] PurchaseError),
    #[error("the amount buys no water")]
    NothingBought,
    #[error("one purchase holds at most 4294967.295 m³")]
    TooMuchWater,
    /// The method's code: the type does not take it (said by name, `named_payment_method`).
    #[error("the customer's type does not take payment method {0}")]
    PaymentMethodNotAllowed(String),
    /// Taken when asked, then disabled or taken off the type before the journal's row was
    /// written: the trigger `a_method_the_type_takes` (sql/V107) refused it. The method's code.
    #[error("payment method {0} is no longer taken for the customer's type")]
    PaymentMethodNoLongerTaken(String),
    #[error("the balance does not cover the purchase")]
    BalanceTooLow,
    /// Another desk transferred the customer since the card screen read its owner
    /// (`Request::Recharge::owner_seen`, `Request::Refund::owner_seen`): the money would have
    /// gone on the card, back, or the receipt to, an owner the clerk did not name. `owner`: the
    /// name stored now; `owner_seen`: which owner that is, the mark an operation confirmed for
    /// them sends; `balance`: the account's balance read with them, for the recharge form's
    /// "from the balance" choice.
    /// The customer owes `amount` for purchase `sequence` (and `more` other debts) a meter
    /// loaded unpaid (sql/V163, SQLSTATE MD430): no recharge until it is paid, which a
    /// recharge confirmed with the debt shown does first.
    #[error("the customer owes {amount} for purchase #{sequence}, which a meter loaded unpaid")]
    Owes {
        amount: Money,
        sequence: u32,
        more: usize,
    },
    #[error("another desk transferred the customer meanwhile; the owner now is {owner}")]
    OwnerChanged {
        owner: String,
        owner_seen: i64,
        balance: Money,
    },
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
    /// The receipt of the operation's money, when this call finished it done: a recharge's
    /// (made at begin), a refund's payout receipt (with a payment method).
    pub receipt_no: Option<i64>,
    /// The money the operation moved, as a positive amount (a recharge's price, which a failed
    /// one put on the customer's balance); `None` for one that moves none.
    pub amount: Option<Money>,
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
    /// The money movement's amount (negative: paid for a purchase), as in [`UsageRecord`].
    pub amount: Option<Decimal>,
    /// The purchase written (recharge, refund) or carried (replace).
    pub volume_litres: Option<i64>,
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
    /// A replacement whose carried purchase (`purchase_seq`, `volume_litres`) had been refunded:
    /// the new card carries it cancelled, no water.
    pub carries_refunded: bool,
    /// A recharge a meter loaded unpaid (sql/V163): owed, or paid since.
    pub debt: Option<UsageDebt>,
}

/// What a usage record says of a recharge whose purchase a meter loaded unpaid (settled failed
/// from an old copy of its card, its money spent since): a debt of the customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageDebt {
    /// Still owed (the recharge still failed): `amount`, taken before the next recharge.
    Owed(Money),
    /// Paid since (the recharge done): on its own receipt (`card_recharge_owed_pay`), or, with
    /// none, taken from the balance by a later read of the card (`card_recharge_found_on_card`).
    Paid { receipt_no: Option<i64> },
}

/// Whose usage records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOf {
    Customer(i64),
    /// By card number.
    Card(i64),
}

mod begin;
mod holder;
mod lists;
mod owed;
mod prices;
mod reconcile;
mod settle;
mod system;

use begin::*;
pub use begin::{begin, begin_decided, missing_purchase, missing_purchase_written, unix_now};
use holder::*;
pub use holder::{CardHolder, KnownCard, card_holder, card_owner, missing_on_card};
pub use lists::{pending_operations, purchase_paid, usage_records};
pub(crate) use owed::{DEBTS_OWED, DEBTS_STILL_OWED, WATER_OWED};
pub use owed::{Journaled, Owed, OwedPaid, SentBefore, owed, owes, pay_owed, sent_before};
use prices::*;
pub use prices::{
    RechargeFacts, RechargeQuote, quote_recharge, read_recharge_quote, recharge_facts,
};
use reconcile::audit_card;
pub use reconcile::{Discrepancy, MeterSaw, reconcile};
use settle::*;
pub use settle::{
    journaled, report_lost, resolution_without_card, settle, settle_refused, settle_without_card,
    touch,
};
pub use system::{
    ClearedCredit, SettingApplied, SystemCardFacts, SystemCardMeter, SystemCardRefusal,
    begin_system_card, finish_system_card, may_issue_system_cards, record_cleared_credit,
    record_setting_applied, system_card_facts, system_card_meter, system_card_pending,
};
