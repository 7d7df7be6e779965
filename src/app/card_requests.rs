//! Executes a `CardRequest`: `cardflow` (card I/O on the reader thread, awaited, and the
//! journal) and the database through the pool. Never on the UI task.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::card::{CardReply, CardRequest, CardSeen, USAGE_LIMIT, Written, m3};
use super::print_command::{self, PrintLimit};
use super::receipt::Receipt;
use super::state::{Failure, Problem};
use crate::card::reader::{CardError, ReaderHandle};
use crate::cardflow::{self, Desk, Flow, FlowError, PendingCause};
use crate::db::card_ops::{self, Begun, OperationKind, Request as CardOp};
use crate::db::{DbError, Pool, cards};
use crate::domain::card_records::{CardContent, IssuerPin, MacKey};

/// What requests run against: the database, the card reader with the card secrets, and where
/// receipts go.
#[derive(Clone)]
pub struct Services {
    pub pool: Pool,
    pub reader: Arc<ReaderHandle>,
    pub card_key: MacKey,
    pub card_pin: IssuerPin,
    pub receipts: ReceiptOutput,
}

/// Where a receipt is kept besides the database: a text file per receipt in `directory`,
/// and the text piped to `print_command` (run by `sh -c`, stopped after `print_limit`) when
/// one is configured.
#[derive(Debug, Clone, Default)]
pub struct ReceiptOutput {
    pub directory: Option<PathBuf>,
    pub print_command: Option<String>,
    pub print_limit: PrintLimit,
}

impl From<FlowError> for Failure {
    fn from(error: FlowError) -> Failure {
        match error {
            FlowError::Database(error) => error.into(),
            FlowError::Card(error) => Failure::Error(card_problem(&error)),
        }
    }
}

/// A card error in the clerk's words; the reader's own codes are quoted as they came.
fn card_problem(error: &CardError) -> Problem {
    let key = match error {
        CardError::NoService => "failure.card_no_service",
        CardError::NoCard => "failure.card_none",
        CardError::ReaderStopped => "failure.card_reader_stopped",
        CardError::NoApplication => "failure.card_foreign",
        CardError::WrongPin { tries_left } => {
            return Problem::new("failure.card_wrong_pin", tries_left);
        }
        CardError::PinBlocked => "failure.card_pin_blocked",
        CardError::Apdu(_)
        | CardError::Pcsc(_)
        | CardError::Refused { .. }
        | CardError::NotARecord { .. } => "failure.card",
    };
    Problem::new(key, error)
}

impl Services {
    fn desk(&self, operator_id: i64) -> Desk<'_> {
        Desk {
            pool: &self.pool,
            reader: &self.reader,
            key: &self.card_key,
            pin: &self.card_pin,
            operator_id,
        }
    }
}

pub async fn execute(services: &Services, request: CardRequest) -> Result<CardReply, Failure> {
    match request {
        CardRequest::Read { operator_id, .. } => read(services, operator_id).await,
        CardRequest::Usage { of } => {
            let client = services.pool.get().await?;
            let rows = card_ops::usage_records(&**client, of, USAGE_LIMIT).await?;
            Ok(CardReply::Usage(rows))
        }
        CardRequest::Pending => {
            let client = services.pool.get().await?;
            Ok(CardReply::Pending(
                card_ops::pending_operations(&**client).await?,
            ))
        }
        CardRequest::Quote {
            customer_id,
            quantity,
        } => {
            let client = services.pool.get().await?;
            let quote = card_ops::quote_recharge(&**client, customer_id, quantity).await?;
            Ok(CardReply::Quote(quote))
        }
        CardRequest::Write {
            operator_id,
            customer_id,
            operation,
            idempotency_key,
        } => {
            let desk = services.desk(operator_id);
            let key = idempotency_key.as_str();
            let flow = match operation {
                CardOp::Recycle => cardflow::recycle(&desk, key).await?,
                operation => cardflow::run(&desk, customer_id, &operation, key).await?,
            };
            Ok(CardReply::Written(written(services, flow).await?))
        }
        CardRequest::SettleWithoutCard {
            operator_id,
            operation_id,
        } => {
            let mut client = services.pool.get().await?;
            let settled =
                card_ops::settle_without_card(&mut client, operation_id, operator_id).await?;
            Ok(CardReply::SettledWithoutCard(settled))
        }
        CardRequest::KeepReceipt { receipt_no, text } => {
            let receipts = services.receipts.clone();
            let kept =
                tokio::task::spawn_blocking(move || keep_receipt(&receipts, receipt_no, &text))
                    .await
                    .unwrap_or_else(|error| Err(error.to_string()));
            Ok(CardReply::ReceiptKept(kept))
        }
    }
}

/// Reads the card, resolves pending operations from it, and looks a user card's number up.
async fn read(services: &Services, operator_id: i64) -> Result<CardReply, Failure> {
    let touched = match cardflow::touch(&services.desk(operator_id), None).await {
        Ok(touched) => touched,
        Err(FlowError::Card(error)) => {
            return Ok(CardReply::Read {
                seen: CardSeen::Unreadable(error.to_string()),
                settled: Vec::new(),
            });
        }
        Err(FlowError::Database(error)) => return Err(error.into()),
    };
    let seen = match touched.content {
        None => CardSeen::NotOurs,
        Some(CardContent::Blank) => CardSeen::Blank,
        Some(CardContent::Foreign { ef, .. }) => CardSeen::Foreign { ef },
        Some(CardContent::User(card)) => {
            let client = services.pool.get().await?;
            let owner = cards::owner_of(&**client, card.issue.card_number).await?;
            let active = match &owner {
                Some(owner) => {
                    card_ops::card_holder(&**client, owner.customer_id, &services.card_key)
                        .await?
                        .and_then(|holder| holder.active().cloned())
                }
                None => None,
            };
            CardSeen::User {
                card: Box::new(card),
                owner,
                active,
            }
        }
    };
    Ok(CardReply::Read {
        seen,
        settled: touched.settled,
    })
}

/// How the flow ended, as the screen shows it; a recharge done brings its receipt.
async fn written(services: &Services, flow: Flow) -> Result<Written, Failure> {
    Ok(match flow {
        Flow::Done { begun, settled, .. } => Written::Done {
            kind: begun.kind,
            card_no: begun.card_no,
            receipt: match begun.kind {
                OperationKind::Recharge => receipt(services, &begun).await?.map(Box::new),
                _ => None,
            },
            receipt_no: settled.receipt_no,
        },
        Flow::Failed { begun, .. } => Written::Failed { kind: begun.kind },
        Flow::Pending { begun, cause, .. } => Written::Pending {
            operation_id: begun.operation_id,
            cause: match cause {
                PendingCause::Card(error) => card_problem(&error),
                PendingCause::Database(error) => Problem::new("failure.database", error),
                PendingCause::NotTheCard => Problem::new("failure.card_not_the_card", ""),
            },
        },
        Flow::Refused { refusal, .. } => Written::Refused(refusal),
        Flow::Finished(settled) => Written::Finished(settled.state),
    })
}

/// The receipt of a recharge: the price from the quote it was sold at, the rest as recorded.
async fn receipt(services: &Services, begun: &Begun) -> Result<Option<Receipt>, DbError> {
    let Some(purchase) = &begun.purchase else {
        return Ok(None);
    };
    let Some(receipt_no) = purchase.receipt_no else {
        return Ok(None);
    };
    let client = services.pool.get().await?;
    let Some(facts) = cards::receipt_facts(&**client, receipt_no).await? else {
        return Ok(None);
    };
    let quote = purchase.quote.as_ref();
    Ok(Some(Receipt {
        receipt_no,
        at: facts.issued_at,
        operator: facts.operator,
        customer_no: facts.customer_no,
        name: facts.name,
        meter_no: facts.meter_no,
        card_no: begun.card_no,
        amount: purchase.amount,
        volume: m3(purchase.litres),
        tiers: quote.map(|q| q.charge.tiers.clone()).unwrap_or_default(),
        vat: quote.map(|q| q.charge.vat.to_decimal()),
        not_taken: quote.map_or(Decimal::ZERO, |q| q.not_taken),
        method: facts.method,
        balance: facts.balance,
    }))
}

/// Writes `receipt-<no>.txt` (never overwriting one already there) and pipes the text to the
/// print command. Returns where it went.
fn keep_receipt(receipts: &ReceiptOutput, receipt_no: i64, text: &str) -> Result<String, String> {
    let mut kept = Vec::new();
    if let Some(directory) = &receipts.directory {
        std::fs::create_dir_all(directory).map_err(|e| format!("{}: {e}", directory.display()))?;
        let path = directory.join(format!("receipt-{receipt_no:010}.txt"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        file.write_all(text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        kept.push(path.display().to_string());
    }
    if let Some(command) = &receipts.print_command {
        print_command::print(command, text, receipts.print_limit.0)?;
        kept.push(command.clone());
    }
    Ok(kept.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn card_errors_read_in_the_desk_language_with_the_reader_codes_quoted() {
        let pulled = card_problem(&CardError::NoCard);
        assert_eq!(pulled.text(Lang::Zh), "读卡器中没有卡。");
        assert_eq!(pulled.text(Lang::En), "There is no card in the reader.");
        let pin = card_problem(&CardError::WrongPin { tries_left: 2 });
        assert_eq!(
            pin.text(Lang::Zh),
            "卡片拒绝了发卡方 PIN：再错 2 次将被锁定。"
        );
        let odd = card_problem(&CardError::NotARecord {
            command: "READ BINARY".into(),
            length: 3,
        });
        assert_eq!(
            odd.text(Lang::Zh),
            "读卡器：READ BINARY answered 3 bytes, not a whole record"
        );
    }
}
