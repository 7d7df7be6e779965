//! The confirmations (open, replace, recharge, refund, recycle, settle without the card): the
//! facts each echoes, F2 that sends the journaled card write, and how the write ended.

use ratatui::text::{Line, Span};

use super::common::{
    BlankWanted, CardPane, CardScreen, Confirm, RechargeForm, card_no, customer_line, key_of,
    not_blank, say_refusal, text, tier_line,
};
use super::pending::SettleWithoutCard;
use super::receipt::{Receipt, keep_and_show, keep_receipts_of, owed_receipt, receipt_of};
use crate::app::card_status::{
    CardRead, CardSeen, ReadFor, kind_key, read_card, read_written, state_key, writes_stopped,
    written_card_seen,
};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, Notice, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind, Problem};
use crate::app::{App, Command, Hub};
use crate::card::reader::CardError;
use crate::cardflow::{self, Flow, FlowError, PendingCause};
use crate::db::card_ops::{
    LossReason, OperationKind, OperationState, RechargeFacts, Refusal, Request as CardOp, Settled,
    resolution_without_card,
};
use crate::domain::card_counter::{CreditOverflow, Resolution};
use crate::domain::money::{Money, Volume};
use crate::ui::inert::inert;
use crate::ui::text::wrap;
use crate::ui::theme::Theme;

/// A journaled card write (`cardflow`); answered with [`WriteOutcome`]. The idempotency key is made
/// when the clerk confirms, so a request re-sent after a lost connection never charges twice.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCard {
    pub operator_id: i64,
    pub customer_id: i64,
    pub operation: CardOp,
    pub idempotency_key: String,
    /// A recharge's facts, read with its quote: its begin is one round trip
    /// (`cardflow::run_decided`).
    pub decided_from: Option<Box<RechargeFacts>>,
    /// The recharges whose purchase a meter loaded unpaid, which the confirmation showed: paid
    /// first, with the recharge's payment method (`cardflow::pay_owed`, sql/V163).
    pub owed: Vec<i64>,
}

/// How a card write ended (`cardflow::Flow`, as the screen needs it).
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Written, read back, journaled done.
    Done {
        kind: OperationKind,
        card_no: u32,
        /// A recharge's receipt, or a refund's paid out.
        receipt: Option<Box<Receipt>>,
        /// The receipt's number (a refund onto the balance has none).
        receipt_no: Option<i64>,
    },
    /// The card still holds the old record: the operation failed and its money was reversed.
    Failed {
        kind: OperationKind,
        /// Why the card took nothing, when it refused the write (the desk's issuer PIN).
        refused: Option<Problem>,
    },
    /// The outcome is not known yet (card pulled, reader or database failed midway).
    Pending {
        operation_id: i64,
        cause: Problem,
        /// What the card did with the write: the words tell it (the review of session 45:
        /// a refusal the database did not record was told "the card took it").
        card: CardDid,
    },
    Refused(Refusal),
    /// A retry found the operation finished before.
    Finished(OperationState),
    /// Not begun, nothing journaled nor charged for it, for `Problem` (the database refused
    /// the begin, the card failed before anything was journaled): said after the debts paid
    /// before it (`WriteOutcome::owed`), whose receipts are the customer's all the same.
    NotBegun(Problem),
}

/// What the card did with a write left pending ([`Written::Pending`]), which its words tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardDid {
    /// Not known: the card left the reader, the reader failed, or another card was read back.
    /// The same card put back finishes it.
    NotKnown,
    /// Took it and was read back; the database did not take the outcome. The card is still on
    /// the reader, and its read with the database back finishes it.
    Took,
    /// Refused it (its issuer PIN, a command): nothing is written on it; the database did not
    /// take the refusal. The read with the database back settles it failed.
    Refused,
    /// Nothing was sent to it: this desk's card writes stopped between the journal and the
    /// write. The card's next read settles it.
    NothingSent,
}

/// The answer to a [`WriteCard`]: how the write ended, and the customer's earlier pending
/// operation its begin settled on the way, from the card presented — a recharge so finished
/// gets its receipt kept and told, like one a card read finishes. `card`: the card as the write
/// left it (its session read the decisive record back), seen as a read would see it; `None`
/// when the write did not end with the card read back (pulled, refused): it is read again.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    pub written: Written,
    pub resolved: Option<Settled>,
    pub card: Option<CardRead>,
    /// The receipts of the debts paid before the recharge (`WriteCard::owed`).
    pub owed: Vec<Receipt>,
}

impl From<Written> for WriteOutcome {
    fn from(written: Written) -> Self {
        Self {
            written,
            resolved: None,
            card: None,
            owed: Vec::new(),
        }
    }
}

impl WriteOutcome {
    /// Told (with its receipt kept), the card as written shown (or read again), a finished
    /// recharge's receipt asked for; the pane that shows the outcome, if any. `kind`: the
    /// operation asked for, whose words a refusal may need.
    pub(super) fn follow(&self, kind: OperationKind, hub: &mut Hub) -> Option<CardPane> {
        let pane = tell(&self.written, kind, hub);
        owed_told(&self.owed, hub);
        match &self.card {
            Some(card) => written_card_seen(hub, card),
            None => read_after(&self.written, hub),
        }
        keep_receipts_of(hub, self.resolved.as_slice());
        pane
    }
}

impl ScreenRequest for WriteCard {
    /// A card write cannot be called back once sent (it writes, having a key): it holds the
    /// keys, F12 drops the typed-ahead ones but the answer is still awaited and shown.
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }

    /// A card that does not answer holds the write as a silent database does: the clerk is
    /// told to leave the card where it is (s36-d: "the save is still waiting for the database"
    /// was said with the database fine and the card frozen).
    fn still_waiting(&self) -> &'static str {
        "ic.write_waiting"
    }

    /// A write parked for the database may be answered after the clerk left the card screen:
    /// its outcome is told and its receipt kept all the same, and the screen on top reads its
    /// rows again, as leaving the card screen after a write does (`leave_changed`): the
    /// customer table kept "20.00" beside a recharge paid from that balance, landed after the
    /// clerk left (walk s40-f, `meterdesk db stop` under the confirmation).
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(outcome) = reply.of::<WriteOutcome>() {
            outcome.follow(self.operation.kind(), hub);
            hub.notify(Notice::Reload);
        }
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let desk = services.desk(self.operator_id);
            let key = self.idempotency_key.as_str();
            // The water a meter loaded unpaid is paid first, each debt on its receipt, once
            // the card has taken this desk's PIN: the database refuses the recharge until then
            // (sql/V163), and a card that refuses the PIN takes no money.
            let ran = match &self.operation {
                CardOp::Recycle => cardflow::Ran {
                    flow: Ok(cardflow::recycle(&desk, key).await?),
                    owed: Vec::new(),
                },
                operation => {
                    let decided_from = self.decided_from.as_deref();
                    cardflow::run_decided(
                        &desk,
                        self.customer_id,
                        operation,
                        key,
                        decided_from,
                        &self.owed,
                    )
                    .await?
                }
            };
            let mut owed = Vec::new();
            for debt in &ran.owed {
                owed.extend(owed_receipt(services, debt).await?);
            }
            let flow = match ran.flow {
                Ok(flow) => flow,
                // The debts paid, the begin then failed for certain: their receipts are kept
                // and told, with why the recharge was not begun (nothing journaled for it).
                Err(error) => {
                    let written = Written::NotBegun(not_begun(error));
                    return Ok(Box::new(WriteOutcome {
                        owed,
                        ..written.into()
                    }) as _);
                }
            };
            let resolved = match &flow {
                Flow::Done { resolved, .. }
                | Flow::Failed { resolved, .. }
                | Flow::Pending { resolved, .. }
                | Flow::Refused { resolved, .. } => resolved.clone(),
                Flow::Finished(_) => None,
            };
            let card = match &flow {
                Flow::Done { card, .. } | Flow::Failed { card, .. } => Some(*card),
                _ => None,
            };
            let written = written(services, flow).await?;
            // Seen as a read sees it, without reading the card again; if the database fails
            // here, the card is read again instead, as after any write.
            let card = match card {
                Some(card) => read_written(services, self.operator_id, card).await.ok(),
                None => None,
            };
            Ok(Box::new(WriteOutcome {
                written,
                resolved,
                card,
                owed,
            }) as _)
        })
    }
}

impl From<FlowError> for Failure {
    fn from(error: FlowError) -> Failure {
        match error {
            FlowError::Database(error) => error.into(),
            // Only the read and the PIN's VERIFY before anything is paid or journaled fail this
            // way (a write that fails leaves its operation pending, or settles it failed).
            FlowError::Card(error) if error.card_left_the_reader() => {
                Failure::Error(Problem::new("card_by_hand.card_left_before_writing", ""))
            }
            FlowError::Card(CardError::WrongPin { tries_left }) => Failure::Error(Problem::new(
                "card_by_hand.wrong_pin_nothing_taken",
                tries_left,
            )),
            FlowError::Card(CardError::PinBlocked) => {
                Failure::Error(Problem::new("card_by_hand.pin_blocked_nothing_taken", ""))
            }
            FlowError::Card(error) => Failure::Error(card_problem(&error)),
            FlowError::Stopped(stopped) => Failure::Error(writes_stopped(stopped)),
        }
    }
}

/// Why no write of the card on the reader can begin, when its read says no desk presents its
/// issuer PIN to it (fewer tries than `TRIES_TO_PRESENT_THE_PIN`, or blocked): said when
/// the recharge, the refund or the recycle is asked, before anything is typed, in the words
/// its F2 would be refused in (s45-e's walk: a card with 1 try left was refused only at F2).
pub(super) fn pin_stops_writes(app: &App) -> Option<String> {
    let Some(CardSeen::User {
        pin_tries: Some(tries),
        ..
    }) = &app.card
    else {
        return None;
    };
    let error = tries.may_present().err()?;
    match Failure::from(FlowError::Card(error)) {
        Failure::Error(problem) => Some(problem.text(app.lang)),
        _ => None,
    }
}

/// Why a recharge was not begun after the debts it paid first (`Written::NotBegun`): the
/// database's or the card's words, none of which says that nothing was paid.
fn not_begun(error: FlowError) -> Problem {
    match error {
        FlowError::Database(error) => crate::app::requests::problem_of(error),
        FlowError::Card(error) => card_problem(&error),
        FlowError::Stopped(stopped) => writes_stopped(stopped),
    }
}

/// A card error in the clerk's words; the reader's own codes are quoted as they came.
fn card_problem(error: &CardError) -> Problem {
    if error.card_left_the_reader() {
        return Problem::card("card_by_hand.card_left", error);
    }
    let key = match error {
        CardError::NoService => "failure.card_no_service",
        CardError::NoCard => "failure.card_none",
        CardError::ReaderStopped => "failure.card_reader_stopped",
        CardError::NoApplication => "failure.card_foreign",
        CardError::WrongPin { tries_left } => {
            return Problem::new("card_by_hand.wrong_pin", tries_left);
        }
        CardError::PinBlocked => "failure.card_pin_blocked",
        CardError::LastPinTries { tries_left } => {
            return Problem::new("failure.card_last_pin_tries", tries_left);
        }
        CardError::Apdu(_)
        | CardError::Pcsc(_)
        | CardError::Refused { .. }
        | CardError::NotARecord { .. }
        | CardError::SessionExpired => "failure.card",
    };
    Problem::card(key, error)
}

/// How the flow ended, as the screen shows it; a recharge done brings its receipt.
async fn written(services: &Services, flow: Flow) -> Result<Written, Failure> {
    Ok(match flow {
        Flow::Done { begun, settled, .. } => Written::Done {
            kind: begun.kind,
            card_no: begun.card_no,
            receipt: receipt_of(services, &begun, settled.receipt_no)
                .await?
                .map(Box::new),
            receipt_no: settled.receipt_no,
        },
        Flow::Failed { begun, refused, .. } => Written::Failed {
            kind: begun.kind,
            refused: refused.as_ref().map(card_problem),
        },
        Flow::Pending { begun, cause, .. } => Written::Pending {
            operation_id: begun.operation_id,
            card: match &cause {
                PendingCause::Card(_) | PendingCause::NotTheCard => CardDid::NotKnown,
                PendingCause::Database(_) => CardDid::Took,
                PendingCause::RefusalUnrecorded(_) => CardDid::Refused,
                PendingCause::Stopped(_) => CardDid::NothingSent,
            },
            cause: match cause {
                PendingCause::Card(error) => card_problem(&error),
                PendingCause::Database(error) | PendingCause::RefusalUnrecorded(error) => {
                    crate::app::requests::problem_of(error)
                }
                PendingCause::NotTheCard => Problem::new("failure.card_not_the_card", ""),
                PendingCause::Stopped(stopped) => writes_stopped(stopped),
            },
        },
        Flow::Refused { refusal, .. } => Written::Refused(refusal),
        Flow::Finished(settled) => Written::Finished(settled.state),
    })
}

impl Confirm {
    /// The customer and the card operation F2 writes; `None` for a settlement without the
    /// card, which is no card write.
    fn operation(&self) -> Option<(i64, CardOp)> {
        Some(match self {
            Confirm::Open { customer } => (customer.id, CardOp::Open),
            Confirm::Replace { customer, reason } => {
                (customer.id, CardOp::Replace { reason: *reason })
            }
            Confirm::Recharge { form, quantity, .. } => (
                form.customer.id,
                CardOp::Recharge {
                    quantity: *quantity,
                    payment: form.payment(),
                    owner_seen: Some(form.owner_seen),
                },
            ),
            Confirm::Refund {
                customer,
                payout,
                owner_seen,
                ..
            } => (
                customer.id,
                CardOp::Refund {
                    payout: payout.clone(),
                    owner_seen: Some(*owner_seen),
                },
            ),
            Confirm::Recycle { customer, .. } => (customer.id, CardOp::Recycle),
            Confirm::WithoutCard { .. } => return None,
        })
    }
}

/// Whether the card seen is a blank one, the only card open and replace write on.
fn blank_on_reader(seen: Option<&CardSeen>) -> bool {
    seen == Some(&CardSeen::Blank)
}

/// Why `operation` cannot be written on the card seen, before anything is sent: open and
/// replace write only a blank card.
fn refused_before_sending(operation: &CardOp, seen: Option<&CardSeen>) -> bool {
    matches!(operation, CardOp::Open | CardOp::Replace { .. }) && !blank_on_reader(seen)
}

impl CardScreen {
    /// F2 on a confirmation: the card write goes out with a fresh idempotency key (the same
    /// one again after a failure).
    pub(super) fn confirmed(&mut self, hub: &mut Hub) {
        let Some(operator_id) = hub.app.session.as_ref().map(|s| s.operator_id) else {
            return;
        };
        if !matches!(self.pane, CardPane::Confirm(_)) {
            return;
        }
        // What was sent is what will be written: a write parked for the database waits.
        if hub.saving() {
            hub.say(MessageKind::Info, hub.app.lang.t("db.write_parked"));
            return;
        }
        if self.drops_unread_f2(hub) {
            return;
        }
        let CardPane::Confirm(confirm) = &self.pane else {
            return;
        };
        let Some((customer_id, operation)) = confirm.operation() else {
            if let Confirm::WithoutCard { operation } = confirm {
                let operation_id = operation.operation_id;
                hub.send(SettleWithoutCard {
                    operator_id,
                    operation_id,
                });
            }
            return;
        };
        if refused_before_sending(&operation, hub.app.card.as_ref()) {
            let text = not_blank(hub.app.lang, hub.app.card.as_ref(), BlankWanted::Refused);
            hub.say(MessageKind::Error, text);
            return;
        }
        let fresh = hub.app.write_key();
        let idempotency_key = self.write_key.get_or_insert(fresh).clone();
        hub.say(MessageKind::Info, hub.app.lang.t("ic.writing"));
        let decided_from = match confirm {
            Confirm::Recharge { facts, .. } => facts.clone(),
            _ => None,
        };
        let owed = match confirm {
            Confirm::Recharge { owed, .. } => owed.iter().map(|debt| debt.operation_id).collect(),
            _ => Vec::new(),
        };
        hub.send(WriteCard {
            operator_id,
            customer_id,
            operation,
            idempotency_key,
            decided_from,
            owed,
        });
    }

    /// The write's outcome: told, the receipts kept, the card read again, and the pane that
    /// follows it. The keys typed while the card was written are dropped, and the message line
    /// says so after the outcome: it is read before a key acts on it (walk s45-e: F3 six times
    /// and Esc during a write, the F3s after the Esc replayed on the receipt, left the card
    /// screen and asked "Sign out?" — the clerk never saw what the write did).
    pub(super) fn on_written(&mut self, write: &WriteCard, outcome: &WriteOutcome, hub: &mut Hub) {
        if let Some(pane) = outcome.follow(write.operation.kind(), hub) {
            self.set_pane(pane);
        }
        hub.drop_type_ahead_written();
        // The debts paid and the recharge refused: the confirmation stays without them (they
        // are paid), so F2 again neither names them nor tells their receipts a second time.
        if let (false, CardPane::Confirm(Confirm::Recharge { owed, .. })) =
            (outcome.owed.is_empty(), &mut self.pane)
        {
            owed.clear();
        }
        // A method no longer taken (sql/V107): F2 again would be refused again; back to the
        // recharge's form with what was typed, to choose another method.
        if let (
            Written::Refused(Refusal::PaymentMethodNoLongerTaken(_)),
            CardPane::Confirm(Confirm::Recharge { form, .. }),
        ) = (&outcome.written, &self.pane)
        {
            let form = RechargeForm::clone(form);
            self.set_pane(CardPane::Recharge(form));
        }
        // Another desk transferred the customer meanwhile (sql/V112, V119). A recharge: back to
        // the form with what was typed, now for the owner the refusal named, whom its title,
        // the confirmation F2 asks for, and the recharge it sends name (a new key: the refused
        // one wrote nothing); its "from the balance" choice says the balance read with them. A
        // refund: its confirmation now names them, and F2 refunds for them under a new key.
        if let Written::Refused(Refusal::OwnerChanged {
            owner,
            owner_seen,
            balance,
        }) = &outcome.written
        {
            match &self.pane {
                CardPane::Confirm(Confirm::Recharge { form, .. }) => {
                    let mut form = RechargeForm::clone(form);
                    form.customer.name = owner.clone();
                    form.owner_seen = *owner_seen;
                    form.balance_read_again(hub.app.lang, *balance);
                    self.set_pane(CardPane::Recharge(form));
                }
                CardPane::Confirm(confirm @ Confirm::Refund { .. }) => {
                    let mut confirm = confirm.clone();
                    if let Confirm::Refund {
                        customer,
                        owner_seen: seen,
                        ..
                    } = &mut confirm
                    {
                        customer.name = owner.clone();
                        *seen = *owner_seen;
                    }
                    self.set_pane(CardPane::Confirm(confirm));
                }
                _ => {}
            }
        }
    }
}

/// Tells how the write ended and keeps a recharge's or refund's receipt; the pane that shows it (none
/// after a refusal: nothing was written, the confirmation stays and F2 may try again — but
/// the card pane after a refund or a recharge that wrote the purchase the card lacked).
fn tell(written: &Written, kind: OperationKind, hub: &mut Hub) -> Option<CardPane> {
    let app = &*hub.app;
    let lang = app.lang;
    let (kind, text, pane) = match written {
        Written::Done {
            kind,
            receipt: Some(receipt),
            ..
        } => {
            let lines = keep_and_show(receipt, hub);
            let told = match kind {
                OperationKind::Refund => "ic.refunded",
                _ => "ic.recharged",
            };
            let told = lang.tf(told, &[("receipt", &receipt.receipt_no)]);
            (MessageKind::Info, told, Some(CardPane::Receipt { lines }))
        }
        Written::Done {
            kind: OperationKind::Open,
            card_no,
            ..
        } => (
            MessageKind::Info,
            lang.tf("ic.opened", &[("card", &card_no_text(*card_no))]),
            Some(CardPane::GoToRecharge { card_no: *card_no }),
        ),
        Written::Done {
            kind,
            receipt_no,
            card_no,
            ..
        } => {
            let key = match kind {
                OperationKind::Replace => "ic.replaced",
                // Onto the balance: no receipt.
                OperationKind::Refund if receipt_no.is_none() => "ic.refunded_to_balance",
                OperationKind::Refund => "ic.refunded",
                OperationKind::Recycle => "ic.recycled",
                // Only when its receipt could not be read back (it is in the database).
                OperationKind::Recharge => "ic.recharged_plain",
                OperationKind::Open => "ic.opened",
            };
            let receipt = receipt_no.map(|no| no.to_string()).unwrap_or_default();
            let card = card_no_text(*card_no);
            let told = lang.tf(key, &[("receipt", &receipt), ("card", &card)]);
            (MessageKind::Info, told, Some(CardPane::Card))
        }
        // A recharge's reversal leaves its money on the balance (decisions.md, "Money of a
        // recharge"): said so, lest the clerk also hand the cash back.
        // With the card's refusal after it, in shorter words: the whole fits the message
        // line's two rows at 80 columns.
        Written::Failed { kind, refused } => {
            let kind_name = lang.t(kind_key(*kind));
            let told = match (refused, kind) {
                (None, OperationKind::Recharge) => {
                    lang.t("card_by_hand.recharge_failed").to_owned()
                }
                (None, _) => lang.tf("ic.write_failed", &[("kind", &kind_name)]),
                (Some(cause), OperationKind::Recharge) => lang.tf(
                    "card_by_hand.recharge_refused",
                    &[("cause", &cause.text(lang))],
                ),
                (Some(cause), _) => lang.tf(
                    "ic.write_refused",
                    &[("kind", &kind_name), ("cause", &cause.text(lang))],
                ),
            };
            (MessageKind::Error, told, Some(CardPane::Card))
        }
        // s45-e on the rig: the database lost at the settle was told "put the same card back"
        // of a card that never left the reader; the review of session 45: a refusal the
        // database did not record was told "the card took it".
        Written::Pending {
            operation_id,
            cause,
            card,
        } => (
            MessageKind::Error,
            lang.tf(
                match card {
                    CardDid::NotKnown => "ic.write_pending",
                    CardDid::Took => "ic.write_pending_database",
                    CardDid::Refused => "ic.write_pending_refused",
                    CardDid::NothingSent => "ic.write_pending_nothing_sent",
                },
                &[("id", operation_id), ("cause", &cause.text(lang))],
            ),
            Some(CardPane::Card),
        ),
        // The purchase the card lacked was written before a refund: the card now carries
        // another purchase than the one its confirmation named, so the confirmation goes (F2
        // would refund what was not confirmed) and the card is shown as it now is; the words
        // are a refund's (swiping first would load the water to be refunded).
        Written::Refused(Refusal::MissingPurchaseWritten { sequence, refunded })
            if kind == OperationKind::Refund =>
        {
            let key = match refunded {
                true => "ic.refund_missing_refund_written",
                false => "ic.refund_missing_purchase_written",
            };
            let told = app.tf(key, &[("seq", sequence)]);
            (MessageKind::Error, told, Some(CardPane::Card))
        }
        // The purchase the card lacked was written before a recharge: the card now carries a
        // purchase the meter has not loaded, so F2 on the confirmation could only be refused
        // ("swipe the meter first"). s38-d on the rig: the confirmation stayed, "F2 confirm"
        // under "Not recharged, nothing charged: swipe the meter first". It goes; the card is
        // shown as it now is.
        Written::Refused(
            refusal @ Refusal::MissingPurchaseWritten {
                refunded: false, ..
            },
        ) if kind == OperationKind::Recharge => (
            MessageKind::Error,
            super::common::refusal_text(app, refusal),
            Some(CardPane::Card),
        ),
        // A refund for an owner another desk transferred the customer from meanwhile
        // (sql/V119): in a refund's words; the confirmation stays, now naming the owner.
        Written::Refused(Refusal::OwnerChanged { owner, .. }) if kind == OperationKind::Refund => {
            let told = app.tf(
                "ic.refund_refused_owner_changed",
                &[("owner", &inert(owner))],
            );
            (MessageKind::Error, told, None)
        }
        Written::Refused(refusal) => {
            say_refusal(hub, refusal);
            return None;
        }
        Written::Finished(state) => (
            MessageKind::Info,
            lang.tf(
                "ic.finished_before",
                &[("state", &lang.t(state_key(*state)))],
            ),
            Some(CardPane::Card),
        ),
        Written::NotBegun(problem) => (
            MessageKind::Error,
            lang.tf("ic.not_begun", &[("cause", &problem.text(lang))]),
            Some(CardPane::Card),
        ),
    };
    hub.say(kind, text);
    pane
}

/// The debts paid before a recharge (sql/V163): each receipt kept (file, print command), and
/// said before what the write did.
pub(super) fn owed_told(owed: &[Receipt], hub: &mut Hub) {
    if owed.is_empty() {
        return;
    }
    let lang = hub.app.lang;
    let mut text: Vec<String> = owed
        .iter()
        .map(|receipt| {
            keep_and_show(receipt, hub);
            lang.tf(
                "ic.owed_paid",
                &[
                    ("amount", &receipt.amount),
                    ("receipt", &receipt.receipt_no),
                ],
            )
        })
        .collect();
    let kind = match hub.app.message.take() {
        Some(message) => {
            text.push(message.text);
            message.kind
        }
        None => MessageKind::Info,
    };
    hub.say(kind, text.join(" "));
}

/// What follows a write on the card: the card is read again, so the screens and the status
/// line show what it holds now; after a refusal nothing was written, so the keys need not
/// wait for it.
fn read_after(written: &Written, hub: &mut Hub) {
    let after = match written {
        Written::Refused(_) => ReadFor::Status,
        _ => ReadFor::AfterWrite,
    };
    read_card(hub.app, after, hub.out);
}

fn card_no_text(number: u32) -> String {
    format!("{number:08}")
}

/// An Open / Replace confirmation names the blank card in the reader (`ready`) only while one
/// is there; else it asks for one (`waiting`) and says first what the reader holds, as F2
/// would be refused.
fn blank_or_waiting(
    app: &App,
    details: &mut Vec<String>,
    [ready, waiting]: [&'static str; 2],
) -> &'static str {
    if blank_on_reader(app.card.as_ref()) {
        return ready;
    }
    details.insert(
        0,
        not_blank(app.lang, app.card.as_ref(), BlankWanted::Waiting),
    );
    waiting
}

/// The question a confirmation asks, echoing the facts, and the details behind the figures.
fn facts(app: &App, confirm: &Confirm) -> (String, Vec<String>) {
    let lang = app.lang;
    let ask = |key: &str, facts: &[(&str, String)]| {
        let args: Vec<(&str, &dyn std::fmt::Display)> = facts
            .iter()
            .map(|(k, v)| (*k, v as &dyn std::fmt::Display))
            .collect();
        lang.tf(key, &args)
    };
    let mut details = Vec::new();
    let question = match confirm {
        Confirm::Open { customer } => {
            let key = blank_or_waiting(
                app,
                &mut details,
                ["ic.confirm_open", "ic.confirm_open_waiting"],
            );
            ask(key, &[("customer", customer_line(customer))])
        }
        Confirm::Replace { customer, reason } => {
            let reason = match reason {
                LossReason::Lost => lang.t("ic.reason_lost"),
                LossReason::Damaged => lang.t("ic.reason_damaged"),
            };
            details.push(lang.tf(
                "ic.replace_reason",
                &[
                    ("reason", &reason),
                    ("key", &key_of(app, Command::NextField)),
                ],
            ));
            details.extend(lang.t("ic.replace_note").lines().map(str::to_owned));
            let key = blank_or_waiting(
                app,
                &mut details,
                ["ic.confirm_replace", "ic.confirm_replace_waiting"],
            );
            ask(key, &[("customer", customer_line(customer))])
        }
        Confirm::Recharge {
            form,
            quote,
            overflow,
            max_not_applied_yet,
            owed,
            ..
        } => {
            let charge = &quote.charge;
            // The water a meter loaded unpaid, paid first (sql/V163): each debt, then the sum
            // the customer hands over.
            for debt in owed {
                details.push(lang.tf(
                    "ic.owed_first",
                    &[
                        ("amount", &debt.amount),
                        ("seq", &debt.sequence),
                        ("volume", &Volume::from_litres(debt.litres)),
                    ],
                ));
            }
            if !owed.is_empty() {
                let total = charge.amount + crate::db::card_ops::Owed::total(owed);
                details.push(lang.tf(
                    "ic.owed_total",
                    &[("total", &total), ("amount", &charge.amount)],
                ));
            }
            let warning = match overflow {
                Some(CreditOverflow::Waits {
                    max,
                    held,
                    room,
                    wait,
                }) => Some(lang.tf(
                    "ic.meter_overflow",
                    &[("max", max), ("held", held), ("room", room), ("wait", wait)],
                )),
                Some(CreditOverflow::Never { max }) => {
                    Some(lang.tf("ic.meter_overflow_never", &[("max", max)]))
                }
                None => None,
            };
            let not_applied = (warning.is_some() && *max_not_applied_yet)
                .then(|| lang.t("ic.meter_max_not_applied").to_owned());
            details.extend(
                warning
                    .iter()
                    .chain(&not_applied)
                    .flat_map(|text| text.lines().map(str::to_owned)),
            );
            details.extend(charge.tiers.iter().map(tier_line));
            details.push(lang.tf("ic.vat_contained", &[("vat", &charge.vat)]));
            details.push(lang.tf("card_by_hand.paid_by", &[("method", &form.paid_by())]));
            // What the water did not take of an amount offered: a NUMERIC(…, 2).
            let not_taken = Money::round_half_up(quote.not_taken);
            if !not_taken.is_zero() {
                details.push(lang.tf("ic.not_taken", &[("amount", &not_taken)]));
            }
            ask(
                "ic.confirm_recharge",
                &[
                    ("amount", charge.amount.to_string()),
                    ("volume", Volume::from_litres(quote.litres).to_string()),
                    ("card", card_no(form.card_no)),
                    ("customer", customer_line(&form.customer)),
                ],
            )
        }
        Confirm::Refund {
            customer,
            card_no: number,
            litres,
            amount,
            payout_label,
            ..
        } => ask(
            "ic.confirm_refund",
            &[
                ("amount", amount.to_string()),
                ("payout", inert(payout_label).into_owned()),
                ("volume", Volume::from_litres(*litres).to_string()),
                ("card", card_no(*number)),
                ("customer", customer_line(customer)),
            ],
        ),
        Confirm::WithoutCard { operation } => {
            let outcome = match resolution_without_card(operation.kind) {
                Resolution::Done => "ic.without_card_done",
                _ => "ic.without_card_failed",
            };
            details.push(lang.t(outcome).to_owned());
            ask(
                "ic.confirm_without_card",
                &[
                    ("kind", lang.t(kind_key(operation.kind)).to_owned()),
                    ("id", operation.operation_id.to_string()),
                    ("card", card_no(operation.card_no)),
                    (
                        "customer",
                        format!(
                            "{:08} {}",
                            operation.customer_no,
                            inert(&operation.customer_name)
                        ),
                    ),
                ],
            )
        }
        Confirm::Recycle {
            customer,
            card_no: number,
        } => ask(
            "ic.confirm_recycle",
            &[
                ("card", card_no(*number)),
                ("customer", customer_line(customer)),
            ],
        ),
    };
    (question, details)
}

/// The question, the keys that answer it, then the details behind the figures.
pub(super) fn lines(app: &App, theme: &Theme, confirm: &Confirm, cells: u16) -> Vec<Line<'static>> {
    let lang = app.lang;
    let (question, details) = facts(app, confirm);
    let mut lines = vec![Line::raw("")];
    lines.extend(
        wrap(&question, usize::from(cells).saturating_sub(2))
            .into_iter()
            .map(|line| Line::from(Span::styled(format!(" {line}"), theme.title()))),
    );
    let keys = lang.tf(
        "ic.confirm_keys",
        &[
            ("save", &key_of(app, Command::Save)),
            ("cancel", &key_of(app, Command::Cancel)),
        ],
    );
    lines.push(Line::from(Span::styled(format!(" {keys}"), theme.key())));
    lines.push(Line::raw(""));
    // A fact wider than the room goes on over more lines (where a line may break, CJK too):
    // at 80 columns the English "It counts as done: … a replacement card carries the …" was
    // cut on settling without the card (walk s40-f). One that fits keeps its own spacing.
    let room = usize::from(cells).saturating_sub(3);
    for detail in details {
        if crate::ui::text::width(&detail) <= room {
            lines.push(text(detail));
        } else {
            lines.extend(crate::ui::text::lines(&detail, room).into_iter().map(text));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::KeyMap;
    use crate::cardflow::WritesStopped;
    use crate::db::card_ops::{Payment, PendingOperation};
    use crate::i18n::Lang;
    use crate::screens::card::Customer;

    fn app() -> App {
        crate::screens::app(KeyMap::default(), Lang::En, Default::default())
    }

    fn customer() -> Customer {
        Customer {
            id: 7,
            number: 10_000_007,
            name: "张伟\x1b[2J".into(),
        }
    }

    #[test]
    fn card_errors_read_in_the_desk_language_with_the_reader_codes_quoted() {
        let pulled = card_problem(&CardError::NoCard);
        assert_eq!(pulled.text(Lang::Zh), "读卡器中没有卡。");
        let left = card_problem(&CardError::Pcsc(pcsc::Error::RemovedCard));
        assert!(
            left.text(Lang::Zh)
                .starts_with("卡在读写中途离开了读卡器（读卡器："),
            "{left:?}"
        );
        assert_eq!(pulled.text(Lang::En), "There is no card in the reader.");
        let pin = card_problem(&CardError::WrongPin { tries_left: 2 });
        assert_eq!(
            pin.text(Lang::Zh),
            "卡片拒绝了本柜台的发卡方 PIN（此卡还剩 2 次机会）。已停止写卡：请改正 PIN 后重新启动 \
             meterdesk。"
        );
        let last_try = card_problem(&CardError::LastPinTries { tries_left: 1 });
        assert!(
            last_try.text(Lang::En).starts_with(
                "Nothing written, charged or paid out: this card has only 1 issuer PIN try"
            ),
            "{last_try:?}"
        );
        assert!(
            last_try.text(Lang::Zh).contains("PIN 只剩 1 次机会"),
            "{last_try:?}"
        );
        let stopped = Failure::from(FlowError::Stopped(WritesStopped::PinRefused));
        let Failure::Error(stopped) = stopped else {
            panic!("{stopped:?}");
        };
        assert!(
            stopped
                .text(Lang::En)
                .contains("PIN configured for this desk"),
            "{stopped:?}"
        );
        let unconfigured = writes_stopped(WritesStopped::NotConfigured).text(Lang::En);
        assert!(
            unconfigured.contains("[card] secrets_file"),
            "{unconfigured}"
        );
        let odd = card_problem(&CardError::NotARecord {
            command: "READ BINARY".into(),
            length: 3,
        });
        assert_eq!(
            odd.text(Lang::Zh),
            "读卡器：READ BINARY 返回 3 字节，不是完整的记录"
        );
    }

    #[test]
    fn open_and_replace_are_sent_only_for_a_blank_card() {
        let replace = CardOp::Replace {
            reason: LossReason::Damaged,
        };
        for operation in [CardOp::Open, replace] {
            assert!(!refused_before_sending(&operation, Some(&CardSeen::Blank)));
            assert!(refused_before_sending(&operation, None));
            assert!(refused_before_sending(&operation, Some(&CardSeen::Reading)));
            assert!(refused_before_sending(&operation, Some(&CardSeen::NotOurs)));
        }
        assert!(!refused_before_sending(&CardOp::Recycle, None));
    }

    /// A refund of 16.50 (1 500 litres) on card 42 for the owner seen as 3.
    fn refund_paid(payout: Payment, payout_label: &str) -> Confirm {
        Confirm::Refund {
            customer: customer(),
            owner_seen: 3,
            card_no: 42,
            litres: 1_500,
            amount: Money::from_cents(1_650),
            payout,
            payout_label: payout_label.into(),
        }
    }

    #[test]
    fn each_confirmation_writes_its_operation_for_its_customer() {
        let refund = refund_paid(Payment::Method("cash".into()), "Cash");
        assert_eq!(
            refund.operation(),
            Some((
                7,
                CardOp::Refund {
                    payout: Payment::Method("cash".into()),
                    owner_seen: Some(3),
                }
            ))
        );
        let replace = Confirm::Replace {
            customer: customer(),
            reason: LossReason::Damaged,
        };
        assert_eq!(
            replace.operation(),
            Some((
                7,
                CardOp::Replace {
                    reason: LossReason::Damaged
                }
            ))
        );
        let without_card = Confirm::WithoutCard {
            operation: PendingOperation {
                operation_id: 9,
                kind: OperationKind::Recharge,
                customer_id: 7,
                customer_no: 10_000_007,
                customer_name: "张伟".into(),
                card_no: 42,
                operator: "clerk".into(),
                started_at: chrono::DateTime::UNIX_EPOCH,
                amount: None,
                volume_litres: None,
            },
        };
        assert_eq!(without_card.operation(), None, "no card write");
    }

    #[test]
    fn a_refund_echoes_the_amount_the_volume_the_card_and_the_customer_made_inert() {
        let refund = refund_paid(Payment::Balance, "Balance");
        let (question, details) = facts(&app(), &refund);
        assert!(question.contains("16.50"), "{question}");
        assert!(question.contains("1.500"), "{question}");
        assert!(question.contains("00000042"), "{question}");
        assert!(question.contains("10000007"), "{question}");
        assert!(
            !question.contains('\x1b'),
            "stored text is inert: {question:?}"
        );
        assert!(details.is_empty());
    }

    #[test]
    fn a_replacement_names_its_reason_and_the_key_that_changes_it() {
        let replace = Confirm::Replace {
            customer: customer(),
            reason: LossReason::Damaged,
        };
        let mut app = app();
        app.card = Some(CardSeen::Blank);
        let (question, details) = facts(&app, &replace);
        assert!(question.contains("with the blank card in the reader?"));
        assert!(
            details[0].contains(Lang::En.t("ic.reason_damaged")),
            "{details:?}"
        );
        assert!(
            details[0].contains(&app.keymap.name(Command::NextField)),
            "{details:?}"
        );
        // No blank card yet: the question asks for one, and what the reader holds comes first.
        app.card = None;
        let (question, details) = facts(&app, &replace);
        assert!(question.ends_with("Put a blank card on the reader first."));
        assert_eq!(details[0], "The reader is empty.");
    }
}
