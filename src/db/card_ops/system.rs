//! The journal of system cards (`sql/V20`): a supervisor's setting, check and clear cards,
//! pending before the card is written, done or failed from the card read back; a clear card's
//! wiped credit and a setting card's application once the card comes back from its meter.

use super::*;
use crate::domain::card_records::{MeterNumber, MeterWriteBack};
use crate::domain::system_cards::{CHECK_CARD_LITRES, SystemCardKind};

/// Why no system card is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SystemCardRefusal {
    #[error("the operator may not issue system cards")]
    NotPermitted,
    #[error("no such meter")]
    UnknownMeter,
    #[error("the card is not blank")]
    NotBlank,
    #[error("this is not a card of this system")]
    ForeignCard,
}

/// Journals a `kind` card for `meter`, written at `written_at` (unix seconds), pending; its new
/// card number, or why not (`card.system`, checked by the database).
pub async fn begin_system_card(
    client: &mut Client,
    kind: SystemCardKind,
    meter: &MeterNumber,
    written_at: u32,
) -> Result<Result<u32, SystemCardRefusal>, DbError> {
    let transaction = Transaction::new(client);
    if !has_permission(&transaction, "card.system").await? {
        return Ok(Err(SystemCardRefusal::NotPermitted));
    }
    let (alarm, max_credit, test) = match kind {
        SystemCardKind::Setting {
            alarm_litres,
            max_credit_litres,
        } => (
            Some(i64::from(alarm_litres)),
            Some(i64::from(max_credit_litres)),
            None,
        ),
        SystemCardKind::Check => (None, None, Some(i64::from(CHECK_CARD_LITRES))),
        SystemCardKind::Clear => (None, None, None),
    };
    let card_no: Option<i64> = transaction
        .query_one(
            "SELECT system_card_begin($1, $2, $3, $4, $5, $6) AS card_no",
            &[
                &kind.as_str(),
                &meter.as_str(),
                &alarm,
                &max_credit,
                &test,
                &i64::from(written_at),
            ],
        )
        .await?
        .get("card_no");
    transaction.commit().await?;
    Ok(match card_no {
        Some(card_no) => Ok(to_u32(card_no, "the system card number")?),
        None => Err(SystemCardRefusal::UnknownMeter),
    })
}

/// Settles system card `card_no` from the card read back; `true`: it is on the card.
pub async fn finish_system_card(
    client: &impl CachingClient,
    card_no: u32,
    written: bool,
) -> Result<OperationState, DbError> {
    let state: String = client
        .query_one(
            "SELECT system_card_finish($1, $2) AS state",
            &[&i64::from(card_no), &written],
        )
        .await?
        .get("state");
    Ok(match state.as_str() {
        "done" => OperationState::Done,
        "failed" => OperationState::Failed,
        _ => OperationState::Pending,
    })
}

/// Whether the signed-in operator may issue system cards and credit a clear card's credit
/// (`card.system`); the database checks it again in each of its functions.
pub async fn may_issue_system_cards(client: &impl CachingClient) -> Result<bool, DbError> {
    Ok(has_permission(client, "card.system").await?)
}

/// Whether system card `card_no` is still pending (its write was cut off).
pub async fn system_card_pending(
    client: &impl CachingClient,
    card_no: u32,
) -> Result<bool, DbError> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM system_card WHERE card_no = $1 AND state = 'pending'",
            &[&i64::from(card_no)],
        )
        .await?
        .is_some())
}

/// How bringing a clear card back to the counter ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearedCredit {
    /// Recorded now; `credited` went onto the meter's customer's balance (zero when no
    /// purchase of theirs covers the litres wiped: test water, or no customer), on receipt
    /// `receipt_no` (none when nothing was credited).
    Recorded {
        credited: Decimal,
        receipt_no: Option<i64>,
    },
    /// Recorded before (or the card is no done clear card): nothing changed.
    Before,
    /// Only a supervisor (`card.system`) records it: the figure comes from the card and moves
    /// money.
    NotPermitted,
}

/// Records the credit a clear card's meter wiped (`applied`: the meter's state before the
/// wipe, read from the card back at the counter) and credits its value to the meter's
/// customer, once per card, on a receipt of its own (sql/V23, V28).
pub async fn record_cleared_credit(
    client: &impl CachingClient,
    card_no: u32,
    applied: &MeterWriteBack,
) -> Result<ClearedCredit, DbError> {
    if !may_issue_system_cards(client).await? {
        return Ok(ClearedCredit::NotPermitted);
    }
    let credited: Option<Decimal> = client
        .query_one(
            "SELECT system_card_cleared($1, $2, $3) AS credited",
            &[
                &i64::from(card_no),
                &i64::from(applied.credit_litres),
                &i64::from(applied.last_loaded_sequence),
            ],
        )
        .await?
        .get("credited");
    let Some(credited) = credited else {
        return Ok(ClearedCredit::Before);
    };
    let receipt_no = client
        .query_one(
            "SELECT t.receipt_no FROM system_card s
             LEFT JOIN ledger_transaction t ON t.id = s.credited_transaction_id
             WHERE s.card_no = $1",
            &[&i64::from(card_no)],
        )
        .await?
        .get("receipt_no");
    Ok(ClearedCredit::Recorded {
        credited,
        receipt_no,
    })
}

/// A setting card back from its meter: its application recorded by this read, or before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingApplied {
    RecordedNow,
    RecordedBefore,
}

/// Records that setting card `card_no`, written for `meter`, was applied by it (`applied`: the
/// meter's state after it, read from the card back at the counter), once per card (sql/V65;
/// `card.read`). The database refuses a card it never wrote, another kind, another meter.
pub async fn record_setting_applied(
    client: &impl CachingClient,
    card_no: u32,
    meter: &MeterNumber,
    applied: &MeterWriteBack,
) -> Result<SettingApplied, DbError> {
    let recorded: bool = client
        .query_one(
            "SELECT system_card_applied($1, $2, $3, $4) AS recorded",
            &[
                &i64::from(card_no),
                &meter.as_str(),
                &i64::from(applied.written_at),
                &i64::from(applied.credit_litres),
            ],
        )
        .await?
        .get("recorded");
    Ok(match recorded {
        true => SettingApplied::RecordedNow,
        false => SettingApplied::RecordedBefore,
    })
}

/// What the database knows of a system card: its journal row, the meter and the customer the
/// meter was installed for, and a clear card's credit once it came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCardFacts {
    pub state: OperationState,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub customer: Option<(i64, String)>,
    /// A clear card brought back: the litres wiped and what was credited for them.
    pub cleared: Option<(i64, Decimal)>,
}

/// The journal's facts of system card `card_no`; `None` when this database never issued it.
pub async fn system_card_facts(
    client: &impl CachingClient,
    card_no: u32,
) -> Result<Option<SystemCardFacts>, DbError> {
    read_opt(
        client,
        "SELECT s.state, s.issued_at, o.login, c.customer_no, c.name,
                s.cleared_credit_litres, s.credited_amount
         FROM system_card s JOIN operator o ON o.id = s.issued_by
         LEFT JOIN customer c ON c.id = s.customer_id
         WHERE s.card_no = $1",
        &[&i64::from(card_no)],
        |row| {
            let state: String = row.get("state");
            let customer_no: Option<i64> = row.get("customer_no");
            let litres: Option<i64> = row.get("cleared_credit_litres");
            let credited: Option<Decimal> = row.get("credited_amount");
            Ok(SystemCardFacts {
                state: match state.as_str() {
                    "done" => OperationState::Done,
                    "failed" => OperationState::Failed,
                    _ => OperationState::Pending,
                },
                issued_at: row.get("issued_at"),
                issued_by: row.get("login"),
                customer: customer_no.map(|no| (no, row.get("name"))),
                cleared: litres.zip(credited),
            })
        },
    )
    .await
}

/// A meter a system card may be issued for, with the customer it is installed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCardMeter {
    pub meter_no: String,
    pub customer: Option<(i64, String)>,
    /// Whether its type takes cards: a system card is a card meter's tool (sql/V83).
    pub takes_card: bool,
}

/// Meter `meter_no` with its customer; `None`: no such meter.
pub async fn system_card_meter(
    client: &impl CachingClient,
    meter_no: &MeterNumber,
) -> Result<Option<SystemCardMeter>, DbError> {
    read_opt(
        client,
        "SELECT m.meter_no, c.customer_no, c.name, t.takes_card
         FROM meter m JOIN meter_type t ON t.id = m.meter_type_id
         LEFT JOIN customer c ON c.meter_id = m.id AND c.status = 'active'
         WHERE m.meter_no = $1",
        &[&meter_no.as_str()],
        |row| {
            let customer_no: Option<i64> = row.get("customer_no");
            Ok(SystemCardMeter {
                meter_no: row.get("meter_no"),
                customer: customer_no.map(|no| (no, row.get("name"))),
                takes_card: row.get("takes_card"),
            })
        },
    )
    .await
}
