//! The card screens' state and their part of `update`: what the card on the reader is (the
//! status line follows it), the IC card management screen (`:card`) with its forms,
//! confirmations and receipt, and Open / Replace card from the customer table.
//!
//! A card is read whenever one is inserted (`Msg::Reader` with a new card) while someone is
//! signed in; the read, the resolution of pending operations and the lookup of the card number
//! run off the UI task as `CardRequest::Read`, and the answer lands in `App::card`. Card writes
//! are `CardRequest::Write`: `cardflow` does the journaled work, the reply says how it ended.

use rust_decimal::Decimal;

use crate::card::reader::ReaderState;
use crate::db::card_ops::{
    LossReason, OperationKind, OperationState, Payment, PendingOperation, Quantity, Quote, Refusal,
    Request as CardOp, Settled, UsageOf, UsageRecord,
};
use crate::db::cards::CardOwner;
use crate::db::customers::CustomerRow;
use crate::domain::card_counter::{PurchaseState, RechargeRefusal, check_recharge};
use crate::domain::card_records::{Ef, IssueRecord, UserCard};
use crate::domain::pricing::TierCharge;
use crate::domain::validation;
use crate::i18n::Lang;

use super::command::Command;
use super::form::{Choice, Field, FieldKind, Form, field_error_text};
use super::receipt::{Receipt, receipt_text};
use super::state::{App, MessageKind, Problem, Request, Slot};
use super::update::{Outgoing, say, send};

/// How many usage records to fetch: more than a screen holds, far fewer than would slow a
/// terminal.
pub const USAGE_LIMIT: i64 = 200;

/// What the card on the reader is, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSeen {
    /// Inserted; the read is on its way (or waits for a sign-in).
    Reading,
    /// The card has no WATER application: not a card of this utility.
    NotOurs,
    Blank,
    /// A record this system did not write (bad MAC or layout): nothing is written to it.
    Foreign {
        ef: Ef,
    },
    /// A user card; `owner` is `None` when the database has never issued its number, `active`
    /// is the owner's active card as the database knows it.
    User {
        card: Box<UserCard>,
        owner: Option<CardOwner>,
        active: Option<IssueRecord>,
    },
    /// The read failed (card pulled, reader error): the message says why.
    Unreadable(String),
}

/// Card work, executed off the UI task by `card_requests::execute`.
#[derive(Debug, Clone, PartialEq)]
pub enum CardRequest {
    /// Read the card on the reader, resolve pending operations from it, look its number up.
    Read {
        operator_id: i64,
        after: ReadFor,
    },
    Usage {
        of: UsageOf,
    },
    /// Every pending card operation (supervisor).
    Pending,
    /// A supervisor settles a pending operation whose card cannot be presented.
    SettleWithoutCard {
        operator_id: i64,
        operation_id: i64,
    },
    /// The price of a recharge, for the confirmation.
    Quote {
        customer_id: i64,
        quantity: Quantity,
    },
    /// A journaled card write (`cardflow`). The idempotency key is made when the clerk
    /// confirms, so a request re-sent after a lost connection never charges twice.
    Write {
        operator_id: i64,
        customer_id: i64,
        operation: CardOp,
        idempotency_key: String,
    },
    /// Keep a receipt: a text file in the receipts directory, and the print command if one is
    /// configured.
    KeepReceipt {
        receipt_no: i64,
        text: String,
    },
}

/// Why a card is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFor {
    /// A card came (or the clerk pressed F5): for the status line and the card screen, while
    /// the clerk goes on typing.
    Status,
    /// After a write: the next keys (Go to recharge, a recharge) need the card as written, so
    /// they wait for it.
    AfterWrite,
}

impl CardRequest {
    /// Quotes, writes and the read after a write hold the keyboard: keys typed meanwhile wait
    /// for the answer.
    pub fn holds_input(&self) -> bool {
        matches!(
            self,
            CardRequest::Quote { .. }
                | CardRequest::Write { .. }
                | CardRequest::SettleWithoutCard { .. }
                | CardRequest::Read {
                    after: ReadFor::AfterWrite,
                    ..
                }
        )
    }

    /// Card writes (and the read that follows one, and a settlement) cannot be called back
    /// once sent: F12 drops the typed-ahead keys but the answer is still awaited and shown.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            CardRequest::Write { .. }
                | CardRequest::SettleWithoutCard { .. }
                | CardRequest::Read {
                    after: ReadFor::AfterWrite,
                    ..
                }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CardReply {
    Read {
        seen: CardSeen,
        /// Pending operations the card resolved.
        settled: Vec<Settled>,
    },
    Usage(Vec<UsageRecord>),
    Pending(Vec<PendingOperation>),
    Quote(Result<Quote, Refusal>),
    Written(Written),
    /// `None`: the operator may not settle operations (`card.resolve`).
    SettledWithoutCard(Option<Settled>),
    /// Where the receipt was kept, or why it could not be.
    ReceiptKept(Result<String, String>),
}

/// How a card write ended (`cardflow::Flow`, as the screen needs it).
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// Written, read back, journaled done.
    Done {
        kind: OperationKind,
        card_no: u32,
        /// A recharge's receipt.
        receipt: Option<Box<Receipt>>,
        /// A refund's payout receipt number.
        receipt_no: Option<i64>,
    },
    /// The card still holds the old record: the operation failed and its money was reversed.
    Failed {
        kind: OperationKind,
    },
    /// The outcome is not known yet (card pulled, reader or database failed midway).
    Pending {
        operation_id: i64,
        cause: Problem,
    },
    Refused(Refusal),
    /// A retry found the operation finished before.
    Finished(OperationState),
}

/// The IC card management screen (`:card`).
#[derive(Debug, Clone)]
pub struct CardScreen {
    pub pane: CardPane,
    /// The idempotency key of the write sent from the confirmation on screen: F2 again after
    /// a failure sends the same key, so a write whose journal did commit is found, not done
    /// twice. Any change of pane forgets it.
    pub write_key: Option<String>,
}

#[derive(Debug, Clone)]
pub enum CardPane {
    /// What the card on the reader holds (`App::card`).
    Card,
    /// A customer's card usage records; `None` while they load.
    Usage {
        customer_no: i64,
        rows: Option<Vec<UsageRecord>>,
        of: UsageOf,
    },
    /// Pending card operations (supervisor); `None` while they load.
    Pending {
        rows: Option<Vec<PendingOperation>>,
        selected: usize,
    },
    /// Volume or amount of a recharge.
    Recharge(RechargeForm),
    /// An operation waiting for F2, with the facts it echoes.
    Confirm(Confirm),
    /// After a recharge: the receipt as printed.
    Receipt { lines: Vec<String> },
    /// After a card was opened: "Go to recharge?".
    GoToRecharge { card_no: u32 },
}

/// Who an operation is for, as the confirmation names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub number: i64,
    pub name: String,
}

/// A recharge: by amount or by volume, whichever field is filled (the other stays empty).
#[derive(Debug, Clone)]
pub struct RechargeForm {
    pub customer: Customer,
    pub card_no: u32,
    pub form: Form,
}

/// The fields of the recharge form.
const AMOUNT: usize = 0;
const VOLUME: usize = 1;
const PAYMENT: usize = 2;

/// The payment choice that takes the money from the account's balance.
const FROM_BALANCE: &str = "";

impl RechargeForm {
    /// The form for `owner`'s card: the payment methods its type takes (cash first, and
    /// chosen), and the account's balance when there is money on it.
    fn new(lang: crate::i18n::Lang, owner: &CardOwner, card_no: u32) -> RechargeForm {
        let mut choices: Vec<Choice> = owner
            .payment_methods
            .iter()
            .map(|method| Choice {
                key: method.code.clone(),
                label: method.name.clone(),
            })
            .collect();
        if owner.balance > Decimal::ZERO {
            choices.push(Choice {
                key: FROM_BALANCE.to_owned(),
                label: lang.tf(
                    "ic.from_balance",
                    &[("balance", &format!("{:.2}", owner.balance))],
                ),
            });
        }
        let first = choices.first().map(|choice| choice.label.clone());
        let mut form = Form::new(vec![
            Field::new(
                "ic.field_amount",
                FieldKind::Amount { max: MAX_AMOUNT },
                false,
            ),
            Field::new("ic.field_volume", FieldKind::Text { max: 16 }, false),
            Field::new("ic.field_payment", FieldKind::Choice(choices), true),
        ]);
        if let Some(first) = first {
            form.set(PAYMENT, &first);
        }
        form.mark_saved();
        RechargeForm {
            customer: customer_of(owner),
            card_no,
            form,
        }
    }

    /// How the recharge is paid: the chosen method, or the balance.
    fn payment(&self) -> Payment {
        match self.form.fields[PAYMENT].chosen() {
            Some(choice) if choice.key != FROM_BALANCE => Payment::Method(choice.key.clone()),
            _ => Payment::Balance,
        }
    }

    /// The quantity typed: exactly one of amount and volume, each valid; else the errors by
    /// field.
    fn quantity(&self, lang: crate::i18n::Lang) -> Result<Quantity, Vec<(usize, String)>> {
        let amount = self.form.value(AMOUNT).trim();
        let volume = self.form.value(VOLUME).trim();
        let field = |index: usize, error| vec![(index, field_error_text(lang, &error))];
        let quantity = match (amount.is_empty(), volume.is_empty()) {
            (true, true) => return Err(vec![(AMOUNT, lang.t("ic.amount_or_volume").to_owned())]),
            (false, false) => return Err(vec![(VOLUME, lang.t("ic.not_both").to_owned())]),
            (false, true) => Quantity::Amount(
                validation::amount(amount, MAX_AMOUNT).map_err(|e| field(AMOUNT, e))?,
            ),
            (true, false) => Quantity::Volume(
                validation::volume(volume, MAX_VOLUME).map_err(|e| field(VOLUME, e))?,
            ),
        };
        match quantity {
            Quantity::Amount(zero) if zero.is_zero() => {
                Err(vec![(AMOUNT, lang.t("ic.more_than_zero").to_owned())])
            }
            Quantity::Volume(zero) if zero.is_zero() => {
                Err(vec![(VOLUME, lang.t("ic.more_than_zero").to_owned())])
            }
            quantity => Ok(quantity),
        }
    }
}

/// An operation the clerk is asked to confirm with F2.
#[derive(Debug, Clone)]
pub enum Confirm {
    Open {
        customer: Customer,
    },
    Replace {
        customer: Customer,
        reason: LossReason,
    },
    Recharge {
        form: RechargeForm,
        quantity: Quantity,
        quote: Box<Quote>,
    },
    Refund {
        customer: Customer,
        card_no: u32,
        litres: u32,
        /// Paid out in the type's first payment method (cash), else onto the balance.
        payout: Payment,
        /// The payout as the clerk reads it.
        payout_label: String,
    },
    Recycle {
        customer: Customer,
        card_no: u32,
    },
    /// A pending operation settled by a supervisor without its card (lost, broken).
    WithoutCard {
        operation: PendingOperation,
    },
}

impl CardScreen {
    pub fn new() -> CardScreen {
        CardScreen {
            pane: CardPane::Card,
            write_key: None,
        }
    }

    /// The commands the screen offers, with their legend labels.
    pub fn crumb(&self, lang: Lang) -> String {
        lang.t("ic.screen").to_owned()
    }

    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        let mut commands = vec![(Command::Help, "command.help")];
        match self.pane {
            CardPane::Card => commands.extend([
                (Command::Refresh, "ic.legend_read"),
                (Command::Recharge, "ic.cmd_recharge"),
                (Command::CardRefund, "ic.cmd_refund"),
                (Command::Recycle, "ic.cmd_recycle"),
                (Command::CardUsage, "ic.cmd_usage"),
                (Command::PendingCards, "ic.cmd_pending"),
                (Command::Leave, "legend.back"),
            ]),
            CardPane::Usage { .. } => commands.extend([
                (Command::Refresh, "command.refresh"),
                (Command::Leave, "legend.back"),
            ]),
            CardPane::Pending { .. } => commands.extend([
                (Command::SettleWithoutCard, "ic.cmd_without_card"),
                (Command::Refresh, "command.refresh"),
                (Command::Leave, "legend.back"),
            ]),
            CardPane::Recharge(_) => commands.extend([
                (Command::Save, "ic.legend_price"),
                (Command::NextField, "command.next_field"),
                (Command::Cancel, "command.cancel"),
            ]),
            CardPane::Confirm(Confirm::Replace { .. }) => commands.extend([
                (Command::Save, "ic.legend_confirm"),
                (Command::NextField, "ic.legend_reason"),
                (Command::Cancel, "command.cancel"),
            ]),
            CardPane::Confirm(_) => commands.extend([
                (Command::Save, "ic.legend_confirm"),
                (Command::Cancel, "command.cancel"),
            ]),
            CardPane::Receipt { .. } => commands.extend([
                (Command::Leave, "legend.back"),
                (Command::Cancel, "legend.back"),
            ]),
            CardPane::GoToRecharge { .. } => commands.extend([
                (Command::Save, "ic.legend_go_recharge"),
                (Command::Cancel, "ic.legend_not_now"),
            ]),
        }
        commands.extend([
            (Command::CommandLine, "command.command_line"),
            (Command::Quit, "command.quit"),
        ]);
        commands
    }
}

impl CardScreen {
    /// The recharge form, which takes the keys first while it is on screen.
    pub fn form_mut(&mut self) -> Option<&mut Form> {
        match &mut self.pane {
            CardPane::Recharge(recharge) => Some(&mut recharge.form),
            _ => None,
        }
    }
}

impl Default for CardScreen {
    fn default() -> Self {
        CardScreen::new()
    }
}

impl App {
    /// The user card on the reader whose number the database knows, with its owner.
    pub fn known_card(&self) -> Option<(&UserCard, &CardOwner, Option<&IssueRecord>)> {
        match &self.card {
            Some(CardSeen::User {
                card,
                owner: Some(owner),
                active,
            }) => Some((card, owner, active.as_ref())),
            _ => None,
        }
    }

    /// True for a signed-in supervisor. (Administrators move no money: V2's roles.) The
    /// screen only spares the clerk a refusal; `card_ops::begin` checks the permission.
    pub fn is_supervisor(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|session| session.roles.iter().any(|role| role == "supervisor"))
    }
}

/// A new reader state: a card that came is read, a card that went is forgotten.
pub(super) fn on_reader(app: &mut App, state: ReaderState, out: &mut Vec<Outgoing>) -> bool {
    if state == app.reader {
        return false;
    }
    app.reader = state;
    read_card(app, ReadFor::Status, out);
    true
}

/// Reads the card on the reader, if there is one and someone is signed in; forgets any read
/// still on its way (it answers for a card that may have gone).
pub fn read_card(app: &mut App, after: ReadFor, out: &mut Vec<Outgoing>) {
    app.in_flight
        .retain(|f| !matches!(f.request, Request::Card(CardRequest::Read { .. })));
    let present = matches!(app.reader, ReaderState::CardPresent { .. });
    match (&app.session, present) {
        (Some(session), true) => {
            let operator_id = session.operator_id;
            app.card = Some(CardSeen::Reading);
            send(
                app,
                Request::Card(CardRequest::Read { operator_id, after }),
                out,
            );
        }
        (None, true) => app.card = Some(CardSeen::Reading),
        (_, false) => app.card = None,
    }
}

/// `:card` from anywhere: the IC card management screen.
pub(super) fn open_card_screen(app: &mut App) {
    if !matches!(app.screen, Slot::Card(_)) {
        let covered = std::mem::replace(&mut app.screen, Slot::Card(CardScreen::new()));
        app.below.push(covered);
    }
}

/// Open card, Replace card or Recharge on a customer row: the card screen, with the
/// confirmation (open, replace) or the recharge form for the customer's card on the reader.
/// What the row already shows to refuse is refused at once, on the table.
pub fn for_customer(app: &mut App, command: Command, row: &CustomerRow) {
    if let Some(refusal) = refused_by_row(command, row) {
        let text = refusal_text(app, &refusal);
        say(app, MessageKind::Error, text);
        return;
    }
    // Replacing a card blacklists the old one: a supervisor's act (V2's permissions).
    if command == Command::ReplaceCard && !app.is_supervisor() {
        say(app, MessageKind::Error, app.lang.t("ic.supervisor_only"));
        return;
    }
    let customer = Customer {
        id: row.id,
        number: row.customer_no,
        name: row.name.clone(),
    };
    open_card_screen(app);
    let confirm = match command {
        Command::OpenCard => Confirm::Open { customer },
        Command::ReplaceCard => Confirm::Replace {
            customer,
            reason: LossReason::Lost,
        },
        _ => {
            match app.known_card() {
                Some((_, owner, _)) if owner.customer_id != customer.id => {
                    let text = app.lang.tf(
                        "ic.card_of_another",
                        &[("customer", &format!("{:08}", customer.number))],
                    );
                    say(app, MessageKind::Error, text);
                }
                _ => start_recharge(app),
            }
            return;
        }
    };
    set_pane(app, CardPane::Confirm(confirm));
}

/// What `card_ops::begin` would refuse `command` on `row`'s customer for, as far as the row
/// shows it (business model, status, the state of the newest issued card), in begin's order.
/// Only a shortcut: begin checks again, with the row's facts as they are by then.
fn refused_by_row(command: Command, row: &CustomerRow) -> Option<Refusal> {
    if row.business_model != "meter_prepaid" {
        return Some(Refusal::NotACardCustomer);
    }
    if row.status == "closed" {
        return Some(Refusal::CustomerClosed);
    }
    match (command, row.card_state.as_deref()) {
        (Command::OpenCard, Some("active")) => Some(Refusal::AlreadyHasCard),
        (Command::OpenCard, Some(_)) => Some(Refusal::UseReplace),
        (Command::ReplaceCard, None) => Some(Refusal::NoCardToReplace),
        _ => None,
    }
}

/// A command on the card screen; false when it is not one of the screen's own.
pub(super) fn invoke(app: &mut App, command: Command, out: &mut Vec<Outgoing>) -> bool {
    let Slot::Card(screen) = &mut app.screen else {
        return false;
    };
    let on_card = matches!(screen.pane, CardPane::Card);
    match (&mut screen.pane, command) {
        (CardPane::Card, Command::Refresh) => {
            if matches!(app.reader, ReaderState::CardPresent { .. }) {
                read_card(app, ReadFor::Status, out);
            } else {
                say(app, MessageKind::Error, app.lang.t("ic.insert"));
            }
        }
        (CardPane::Card, Command::Recharge) => start_recharge(app),
        (CardPane::Card, Command::CardRefund) => start_refund(app),
        (CardPane::Card, Command::Recycle) => start_recycle(app),
        (CardPane::Card, Command::CardUsage) => match app.known_card() {
            Some((_, owner, _)) => {
                let of = UsageOf::Customer(owner.customer_id);
                let customer_no = owner.customer_no;
                set_pane(
                    app,
                    CardPane::Usage {
                        customer_no,
                        rows: None,
                        of,
                    },
                );
                send(app, Request::Card(CardRequest::Usage { of }), out);
            }
            None => say(app, MessageKind::Error, app.lang.t("ic.need_user_card")),
        },
        (CardPane::Card, Command::PendingCards) => {
            if app.is_supervisor() {
                app.message = None;
                set_pane(
                    app,
                    CardPane::Pending {
                        rows: None,
                        selected: 0,
                    },
                );
                send(app, Request::Card(CardRequest::Pending), out);
            } else {
                say(app, MessageKind::Error, app.lang.t("ic.supervisor_only"));
            }
        }
        (CardPane::Usage { of, .. }, Command::Refresh) => {
            let of = *of;
            send(app, Request::Card(CardRequest::Usage { of }), out);
        }
        (CardPane::Pending { .. }, Command::Refresh) => {
            send(app, Request::Card(CardRequest::Pending), out)
        }
        (CardPane::Pending { rows, selected }, Command::SettleWithoutCard) => {
            match rows.as_ref().and_then(|rows| rows.get(*selected)) {
                Some(operation) => {
                    let operation = operation.clone();
                    set_pane(app, CardPane::Confirm(Confirm::WithoutCard { operation }));
                }
                None => say(
                    app,
                    MessageKind::Error,
                    app.lang.t("ic.no_operation_chosen"),
                ),
            }
        }
        (CardPane::Confirm(Confirm::Replace { reason, .. }), Command::NextField) => {
            *reason = match reason {
                LossReason::Lost => LossReason::Damaged,
                LossReason::Damaged => LossReason::Lost,
            };
        }
        (CardPane::Confirm(_), Command::Save) => confirmed(app, out),
        (CardPane::Confirm(Confirm::Recharge { form, .. }), Command::Cancel | Command::Leave) => {
            // Back to the form with the value as typed.
            let form = form.clone();
            set_pane(app, CardPane::Recharge(form));
        }
        (CardPane::GoToRecharge { .. }, Command::Save) => {
            set_pane(app, CardPane::Card);
            start_recharge(app);
        }
        (_, Command::Leave | Command::Cancel) if !on_card => set_pane(app, CardPane::Card),
        _ => return false,
    }
    true
}

/// Up / Down on the pending list.
pub(super) fn move_selection(app: &mut App, step: isize) {
    if let Slot::Card(CardScreen {
        pane: CardPane::Pending {
            rows: Some(rows),
            selected,
        },
        ..
    }) = &mut app.screen
    {
        *selected = selected
            .saturating_add_signed(step)
            .min(rows.len().saturating_sub(1));
    }
}

fn set_pane(app: &mut App, pane: CardPane) {
    if let Slot::Card(screen) = &mut app.screen {
        screen.pane = pane;
        screen.write_key = None;
    }
}

fn customer_of(owner: &CardOwner) -> Customer {
    Customer {
        id: owner.customer_id,
        number: owner.customer_no,
        name: owner.name.clone(),
    }
}

/// Recharge: only the customer's active card, with nothing unloaded on it (`check_recharge`
/// says why not, before anything is typed).
fn start_recharge(app: &mut App) {
    let Some((card, owner, active)) = app.known_card() else {
        say(app, MessageKind::Error, app.lang.t("ic.need_user_card"));
        return;
    };
    if let Err(refusal) = check_recharge(card, active) {
        let text = recharge_refusal(app, &refusal);
        say(app, MessageKind::Error, text);
        return;
    }
    let form = RechargeForm::new(app.lang, owner, card.issue.card_number);
    app.message = None;
    set_pane(app, CardPane::Recharge(form));
}

fn recharge_refusal(app: &App, refusal: &RechargeRefusal) -> String {
    let key = match refusal {
        RechargeRefusal::NotTheActiveCard => "ic.refused_void",
        RechargeRefusal::SwipeNewCardOnMeterFirst => "ic.refused_swipe_new_card",
        RechargeRefusal::SwipeMeterFirst => "ic.refused_swipe_meter",
        RechargeRefusal::SequenceNumbersExhausted => return refusal.to_string(),
    };
    app.lang.t(key).to_owned()
}

/// Refund: a supervisor's, and only of a purchase the meter has not loaded.
fn start_refund(app: &mut App) {
    if !app.is_supervisor() {
        say(app, MessageKind::Error, app.lang.t("ic.supervisor_only"));
        return;
    }
    let Some((card, owner, _)) = app.known_card() else {
        say(app, MessageKind::Error, app.lang.t("ic.need_user_card"));
        return;
    };
    let refused = match (card.purchase_state(), &card.purchase) {
        (PurchaseState::NotLoaded, Some(purchase)) => {
            let confirm = Confirm::Refund {
                customer: customer_of(owner),
                card_no: card.issue.card_number,
                litres: purchase.volume_litres,
                payout: owner
                    .payment_methods
                    .first()
                    .map_or(Payment::Balance, |method| {
                        Payment::Method(method.code.clone())
                    }),
                payout_label: owner.payment_methods.first().map_or_else(
                    || app.lang.t("ic.to_balance").to_owned(),
                    |method| method.name.clone(),
                ),
            };
            set_pane(app, CardPane::Confirm(confirm));
            return;
        }
        (PurchaseState::UnknownUntilSwiped, _) => "ic.refused_swipe_new_card",
        (PurchaseState::Loaded, _) => "ic.refund_loaded",
        (PurchaseState::Cancelled, _) => "ic.refund_cancelled",
        _ => "ic.refund_nothing",
    };
    say(app, MessageKind::Error, app.lang.t(refused));
}

fn start_recycle(app: &mut App) {
    let Some((card, owner, _)) = app.known_card() else {
        say(app, MessageKind::Error, app.lang.t("ic.need_user_card"));
        return;
    };
    let confirm = Confirm::Recycle {
        customer: customer_of(owner),
        card_no: card.issue.card_number,
    };
    set_pane(app, CardPane::Confirm(confirm));
}

/// F2 (or Enter on the last field) on the recharge form: the fields passed their own checks;
/// one of amount and volume must be filled, then the database prices it.
pub(super) fn ask_price(app: &mut App, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    let Slot::Card(CardScreen {
        pane: CardPane::Recharge(recharge),
        ..
    }) = &mut app.screen
    else {
        return;
    };
    match recharge.quantity(lang) {
        Ok(quantity) => {
            let customer_id = recharge.customer.id;
            app.message = None;
            send(
                app,
                Request::Card(CardRequest::Quote {
                    customer_id,
                    quantity,
                }),
                out,
            );
        }
        Err(errors) => {
            recharge.form.fail(&errors);
            let text = errors[0].1.clone();
            say(app, MessageKind::Error, text);
        }
    }
}

/// F3 / F12 on the recharge form (asked once if something was typed): back to the card.
pub(super) fn leave_form(app: &mut App) {
    set_pane(app, CardPane::Card);
}

/// The most one recharge takes at the counter: a typo guard far above any real purchase.
const MAX_AMOUNT: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 2);
/// …and in m³ (the card holds up to 4 294 967.295 m³).
const MAX_VOLUME: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 3);

/// F2 on a confirmation: the card write goes out with a fresh idempotency key.
fn confirmed(app: &mut App, out: &mut Vec<Outgoing>) {
    let (Some(session), Slot::Card(screen)) = (&app.session, &app.screen) else {
        return;
    };
    let CardPane::Confirm(confirm) = &screen.pane else {
        return;
    };
    let operator_id = session.operator_id;
    let (customer_id, operation) = match confirm {
        Confirm::Open { customer } => (customer.id, CardOp::Open),
        Confirm::Replace { customer, reason } => (customer.id, CardOp::Replace { reason: *reason }),
        Confirm::Recharge { form, quantity, .. } => (
            form.customer.id,
            CardOp::Recharge {
                quantity: *quantity,
                payment: form.payment(),
            },
        ),
        Confirm::Refund {
            customer, payout, ..
        } => (
            customer.id,
            CardOp::Refund {
                payout: payout.clone(),
            },
        ),
        Confirm::Recycle { customer, .. } => (customer.id, CardOp::Recycle),
        Confirm::WithoutCard { operation } => {
            let operation_id = operation.operation_id;
            send(
                app,
                Request::Card(CardRequest::SettleWithoutCard {
                    operator_id,
                    operation_id,
                }),
                out,
            );
            return;
        }
    };
    // Open and replace write only a blank card: say why not before anything is sent.
    if matches!(operation, CardOp::Open | CardOp::Replace { .. })
        && app.card != Some(CardSeen::Blank)
    {
        let text = not_blank(app);
        say(app, MessageKind::Error, text);
        return;
    }
    let fresh = app.write_key();
    let Slot::Card(screen) = &mut app.screen else {
        return;
    };
    let idempotency_key = screen.write_key.get_or_insert(fresh).clone();
    say(app, MessageKind::Info, app.lang.t("ic.writing"));
    send(
        app,
        Request::Card(CardRequest::Write {
            operator_id,
            customer_id,
            operation,
            idempotency_key,
        }),
        out,
    );
}

/// Why the card on the reader cannot be opened or issued as a replacement.
fn not_blank(app: &App) -> String {
    let lang = app.lang;
    match &app.card {
        None => lang.t("ic.need_blank_none").to_owned(),
        Some(CardSeen::Reading) => lang.t("ic.need_blank_reading").to_owned(),
        Some(CardSeen::User { card, .. }) => lang.tf(
            "ic.need_blank_user",
            &[("card", &format!("{:08}", card.issue.card_number))],
        ),
        Some(_) => lang.t("ic.need_blank_foreign").to_owned(),
    }
}

/// A card reply arrived.
pub(super) fn on_reply(app: &mut App, reply: CardReply, out: &mut Vec<Outgoing>) {
    match reply {
        CardReply::Read { seen, settled } => {
            // A read answers only while the card it read is still in.
            if matches!(app.reader, ReaderState::CardPresent { .. }) {
                app.card = Some(seen);
            }
            if let Some(settled) = settled.iter().find(|settled| settled.now) {
                let text = resolved_text(app, settled);
                say(app, MessageKind::Info, text);
            }
        }
        CardReply::Usage(found) => {
            if let Slot::Card(CardScreen {
                pane: CardPane::Usage { rows, .. },
                ..
            }) = &mut app.screen
            {
                *rows = Some(found);
            }
        }
        CardReply::Pending(found) => {
            if let Slot::Card(CardScreen {
                pane: CardPane::Pending { rows, selected },
                ..
            }) = &mut app.screen
            {
                *selected = (*selected).min(found.len().saturating_sub(1));
                *rows = Some(found);
            }
        }
        CardReply::SettledWithoutCard(settled) => {
            let lang = app.lang;
            let text = match &settled {
                Some(settled) => lang.tf(
                    "ic.settled_without_card",
                    &[
                        ("kind", &lang.t(kind_key(settled.kind))),
                        ("id", &settled.operation_id),
                        ("state", &lang.t(state_key(settled.state))),
                    ],
                ),
                None => lang.t("ic.supervisor_only").to_owned(),
            };
            let kind = if settled.is_some() {
                MessageKind::Info
            } else {
                MessageKind::Error
            };
            say(app, kind, text);
            set_pane(
                app,
                CardPane::Pending {
                    rows: None,
                    selected: 0,
                },
            );
            send(app, Request::Card(CardRequest::Pending), out);
        }
        CardReply::Quote(quote) => on_quote(app, quote),
        CardReply::Written(written) => {
            // Show what the card holds now; after a refusal nothing was written, so the keys
            // need not wait for it.
            let after = match written {
                Written::Refused(_) => ReadFor::Status,
                _ => ReadFor::AfterWrite,
            };
            on_written(app, written, out);
            read_card(app, after, out);
        }
        CardReply::ReceiptKept(Ok(_)) => {}
        CardReply::ReceiptKept(Err(why)) => {
            let text = app.lang.tf("ic.receipt_not_kept", &[("why", &why)]);
            say(app, MessageKind::Error, text);
        }
    }
}

fn resolved_text(app: &App, settled: &Settled) -> String {
    let key = match settled.state {
        OperationState::Done => "ic.resolved_done",
        OperationState::Failed => "ic.resolved_failed",
        OperationState::Pending => "ic.resolved_pending",
    };
    app.lang.tf(
        key,
        &[
            ("id", &settled.operation_id),
            ("kind", &app.lang.t(kind_key(settled.kind))),
        ],
    )
}

/// The catalogue key naming an operation kind.
pub fn kind_key(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Open => "ic.op_open",
        OperationKind::Recharge => "ic.op_recharge",
        OperationKind::Refund => "ic.op_refund",
        OperationKind::Replace => "ic.op_replace",
        OperationKind::Recycle => "ic.op_recycle",
    }
}

/// The catalogue key naming an operation state.
pub fn state_key(state: OperationState) -> &'static str {
    match state {
        OperationState::Pending => "ic.opstate_pending",
        OperationState::Done => "ic.opstate_done",
        OperationState::Failed => "ic.opstate_failed",
    }
}

fn on_quote(app: &mut App, quote: Result<Quote, Refusal>) {
    let lang = app.lang;
    let refused = quote
        .as_ref()
        .err()
        .map(|refusal| refusal_text(app, refusal));
    let Slot::Card(CardScreen {
        pane: CardPane::Recharge(recharge),
        ..
    }) = &mut app.screen
    else {
        return;
    };
    let Ok(quantity) = recharge.quantity(lang) else {
        return;
    };
    match quote {
        Ok(quote) => {
            let form = recharge.clone();
            set_pane(
                app,
                CardPane::Confirm(Confirm::Recharge {
                    form,
                    quantity,
                    quote: Box::new(quote),
                }),
            );
        }
        Err(_) => {
            let text = refused.unwrap_or_default();
            let field = match quantity {
                Quantity::Amount(_) => AMOUNT,
                Quantity::Volume(_) => VOLUME,
            };
            recharge.form.fail(&[(field, text.clone())]);
            say(app, MessageKind::Error, text);
        }
    }
}

fn on_written(app: &mut App, written: Written, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    match written {
        Written::Done {
            kind: OperationKind::Recharge,
            receipt: Some(receipt),
            ..
        } => {
            let text = receipt_text(lang, app.zone, &receipt, app.receipt_width);
            say(
                app,
                MessageKind::Info,
                lang.tf("ic.recharged", &[("receipt", &receipt.receipt_no)]),
            );
            let lines = text.lines().map(str::to_owned).collect();
            set_pane(app, CardPane::Receipt { lines });
            send(
                app,
                Request::Card(CardRequest::KeepReceipt {
                    receipt_no: receipt.receipt_no,
                    text,
                }),
                out,
            );
        }
        Written::Done {
            kind: OperationKind::Open,
            card_no,
            ..
        } => {
            let text = lang.tf("ic.opened", &[("card", &format!("{card_no:08}"))]);
            say(app, MessageKind::Info, text);
            set_pane(app, CardPane::GoToRecharge { card_no });
        }
        Written::Done {
            kind,
            receipt_no,
            card_no,
            ..
        } => {
            let key = match kind {
                OperationKind::Replace => "ic.replaced",
                OperationKind::Refund => "ic.refunded",
                OperationKind::Recycle => "ic.recycled",
                // Only when its receipt could not be read back (it is in the database).
                OperationKind::Recharge => "ic.recharged_plain",
                OperationKind::Open => "ic.opened",
            };
            let receipt = receipt_no.map(|no| format!("#{no}")).unwrap_or_default();
            let card = format!("{card_no:08}");
            say(
                app,
                MessageKind::Info,
                lang.tf(key, &[("receipt", &receipt), ("card", &card)]),
            );
            set_pane(app, CardPane::Card);
        }
        Written::Failed { kind } => {
            let text = lang.tf("ic.write_failed", &[("kind", &lang.t(kind_key(kind)))]);
            say(app, MessageKind::Error, text);
            set_pane(app, CardPane::Card);
        }
        Written::Pending {
            operation_id,
            cause,
        } => {
            let text = lang.tf(
                "ic.write_pending",
                &[("id", &operation_id), ("cause", &cause.text(lang))],
            );
            say(app, MessageKind::Error, text);
            set_pane(app, CardPane::Card);
        }
        Written::Refused(refusal) => {
            let text = refusal_text(app, &refusal);
            say(app, MessageKind::Error, text);
        }
        Written::Finished(state) => {
            let text = lang.tf(
                "ic.finished_before",
                &[("state", &lang.t(state_key(state)))],
            );
            say(app, MessageKind::Info, text);
            set_pane(app, CardPane::Card);
        }
    }
}

/// A refusal in the clerk's language; the rarest ones keep the journal's English wording.
fn refusal_text(app: &App, refusal: &Refusal) -> String {
    let lang = app.lang;
    let key = match refusal {
        Refusal::Recharge(refusal) => return recharge_refusal(app, refusal),
        Refusal::Pending(id) => return lang.tf("ic.refused_pending", &[("id", id)]),
        Refusal::NotPermitted => "ic.supervisor_only",
        Refusal::NotBlank(_) | Refusal::Replace(_) => return not_blank(app),
        Refusal::AlreadyHasCard => "ic.refused_has_card",
        Refusal::UseReplace => "ic.refused_use_replace",
        Refusal::NoCardToReplace => "ic.refused_no_card",
        Refusal::NotACardCustomer => "ic.refused_not_card_customer",
        Refusal::CustomerClosed => "ic.refused_closed",
        Refusal::AnotherCustomersCard => "ic.refused_other_customer",
        Refusal::BlankCard | Refusal::ForeignCard | Refusal::UnknownCard => "ic.need_user_card",
        Refusal::NoPrice => "ic.refused_no_price",
        Refusal::NothingBought => "ic.refused_nothing_bought",
        _ => return refusal.to_string(),
    };
    lang.t(key).to_owned()
}

/// m³ from the card's litres.
pub fn m3(litres: u32) -> Decimal {
    Decimal::new(i64::from(litres), 3)
}

/// The tier lines of a charge, for the confirmation and the receipt.
pub fn tier_line(tier: &TierCharge) -> String {
    format!(
        "{:>10.3} m³ × {:.2} = {:.2}",
        tier.volume, tier.unit_price, tier.amount
    )
}
