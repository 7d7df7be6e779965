//! The journal of system cards (`sql/V20`): a supervisor's setting, check and clear cards,
//! pending before the card is written, done or failed from the card read back, and a clear
//! card's wiped credit once the card comes back from its meter.

use super::*;
use crate::domain::card_records::MeterNumber;
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
    let transaction = client.transaction().await?;
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
        Some(card_no) => Ok(to_u32(card_no, "system_card.card_no")?),
        None => Err(SystemCardRefusal::UnknownMeter),
    })
}

/// Settles system card `card_no` from the card read back; `true`: it is on the card.
pub async fn finish_system_card(
    client: &impl GenericClient,
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

/// Whether system card `card_no` is still pending (its write was cut off).
pub async fn system_card_pending(
    client: &impl GenericClient,
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

/// Records the credit a clear card's meter wiped, read from the card back at the counter;
/// `false` when it was recorded before (or the card is no done clear card).
pub async fn record_cleared_credit(
    client: &impl GenericClient,
    card_no: u32,
    credit_litres: u32,
) -> Result<bool, DbError> {
    Ok(client
        .query_one(
            "SELECT system_card_cleared($1, $2) AS recorded",
            &[&i64::from(card_no), &i64::from(credit_litres)],
        )
        .await?
        .get("recorded"))
}
