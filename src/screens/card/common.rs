//! What the card screen's panes share: the screen and its panes as data (`CardScreen`,
//! `CardPane`, with the confirmation and the recharge form they hold), who an operation is
//! for, and the texts and lines more than one pane draws. The panes build on it; `mod.rs`
//! routes to them.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};
use rust_decimal::Decimal;

use crate::app::Command;
use crate::app::card_status::{CardSeen, NewerWriteBack};
use crate::app::form::Form;
use crate::app::permissions;
use crate::app::screen::Notice;
use crate::app::{App, Hub};
use crate::card::reader::ReaderState;
use crate::db::card_ops::{
    LossReason, Owed, Payment, PendingOperation, Quantity, Quote, RechargeFacts, Refusal, UsageOf,
    UsageRecord,
};
use crate::db::cards::CardOwner;
use crate::domain::card_counter::{CreditOverflow, RechargeRefusal, RecycleRefusal, RefundRefusal};
use crate::domain::card_records::{IssueRecord, UserCard};
use crate::domain::money::{Money, Volume};
use crate::domain::pricing::{PurchaseError, TierCharge};
use crate::i18n::Lang;
use crate::screens::system_card;
use crate::ui::inert::inert;
use crate::ui::text::local;
use crate::ui::theme::Theme;

/// The IC card management screen (`:card`).
#[derive(Debug, Clone)]
pub struct CardScreen {
    pub pane: CardPane,
    /// The idempotency key of the write sent from the confirmation on screen: F2 again after
    /// a failure sends the same key, so a write whose journal did commit is found, not done
    /// twice. Any change of pane forgets it.
    pub write_key: Option<String>,
    /// Something was written here (a card, a loss, a settlement): the screen below reads its
    /// rows again when this one is left, so the card column shows the card as it is now.
    pub changed: bool,
    /// The F2s dropped because they came before the confirmation on screen could be read
    /// (`Hub::asked_unread`); any change of pane forgets them.
    unread: usize,
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

impl CardScreen {
    pub fn new() -> CardScreen {
        CardScreen {
            pane: CardPane::Card,
            write_key: None,
            changed: false,
            unread: 0,
        }
    }

    pub(super) fn set_pane(&mut self, pane: CardPane) {
        self.pane = pane;
        self.write_key = None;
        self.unread = 0;
    }

    /// An F2 on a confirmation naming a debt, typed before it could be read (the second F2 of
    /// a burst; s45-d's rule for the account's sums): dropped and counted, nothing written.
    pub(super) fn drops_unread_f2(&mut self, hub: &mut Hub) -> bool {
        let names_a_debt = matches!(&self.pane, CardPane::Confirm(Confirm::Recharge { owed, .. }) if !owed.is_empty());
        if !(names_a_debt && self.write_key.is_none() && hub.asked_unread()) {
            return false;
        }
        self.unread += 1;
        hub.app.message = None;
        hub.drop_unread_key("", self.unread);
        true
    }
}

impl Default for CardScreen {
    fn default() -> Self {
        CardScreen::new()
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
        /// Boxed: the largest variant's size near the others' (clippy's large_enum_variant).
        form: Box<RechargeForm>,
        quantity: Quantity,
        quote: Box<Quote>,
        /// The meter will not take the purchase whole yet (said, the clerk may still confirm).
        overflow: Option<CreditOverflow>,
        /// The maximum behind `overflow` is a setting card's whose application by the meter
        /// was never brought back to the counter (said with the warning).
        max_not_applied_yet: bool,
        /// What the quote was made from: F2 decides the recharge from it.
        facts: Option<Box<RechargeFacts>>,
        /// The water a meter loaded unpaid the customer owes (sql/V163): said, and paid
        /// first by F2.
        owed: Vec<Owed>,
    },
    Refund {
        customer: Customer,
        /// Which owner `customer` names (`CardOwner::owner_seen`): the refund sends it, and is
        /// refused if another desk transferred the customer since (`Refusal::OwnerChanged`).
        owner_seen: i64,
        card_no: u32,
        litres: u32,
        /// What the purchase was paid: what goes back to the customer.
        amount: Money,
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

/// A recharge: by amount or by volume, whichever field is filled (the other stays empty).
#[derive(Debug, Clone)]
pub struct RechargeForm {
    pub customer: Customer,
    /// Which owner `customer` names (`CardOwner::owner_seen`): the recharge sends it, and is
    /// refused if another desk transferred the customer since (`Refusal::OwnerChanged`).
    pub owner_seen: i64,
    pub card_no: u32,
    pub form: Form,
    /// The account's balance as last read: money a recharge the card did not take left there
    /// ("the money is on the balance, no cash back"), which the form says beside its payment.
    pub balance: crate::domain::money::Money,
}

/// The user card on the reader whose number the database knows, with its owner.
pub(super) fn known_card(app: &App) -> Option<(&UserCard, &CardOwner, Option<&IssueRecord>)> {
    match &app.card {
        Some(CardSeen::User {
            card,
            owner: Some(owner),
            active,
            ..
        }) => Some((card, owner, active.as_ref())),
        _ => None,
    }
}

/// The later meter write-back the read found than the user card on the reader carries: the
/// card is an older image of itself (see [`NewerWriteBack`]).
pub(super) fn newer_write_back(app: &App) -> Option<NewerWriteBack> {
    match &app.card {
        Some(CardSeen::User { newer, .. }) => *newer,
        _ => None,
    }
}

/// True for a signed-in supervisor. (Administrators move no money: V2's roles.) The screen
/// only spares the clerk a refusal; `card_ops::begin` checks the permission.
pub(super) fn customer_of(owner: &CardOwner) -> Customer {
    Customer {
        id: owner.customer_id,
        number: owner.customer_no,
        name: owner.name.clone(),
    }
}

/// The refusal of a refund from an older image of the card, naming when the newer one was read
/// (the database's `Refusal::OlderCardImage`, or the desk's own from the read's finding).
pub(super) fn older_image_refusal(app: &App, seen_at: Option<&DateTime<Utc>>) -> String {
    app.lang
        .tf("ic.refused_older_image", &[("at", &seen_on(app, seen_at))])
}

/// When a newer image of the card was read, in the desk's time; "—" for demo rows that never
/// kept the date.
pub(super) fn seen_on(app: &App, seen_at: Option<&DateTime<Utc>>) -> String {
    seen_at.map_or_else(|| "—".to_owned(), |at| local(at, app.zone))
}

/// A refusal in the clerk's language. Every refusal has the catalogue's words: the match names
/// each one (no catch-all), so a refusal added to the journal does not build until it has them.
pub fn refusal_text(app: &App, refusal: &Refusal) -> String {
    let lang = app.lang;
    let key = match refusal {
        Refusal::Recharge(refusal) => return recharge_refusal(lang, refusal),
        Refusal::Recycle(refusal) => return recycle_refusal(lang, refusal),
        Refusal::Pending(id) => {
            // A card that is lost cannot be presented: the way out is the supervisor's.
            let key = match Command::SettleWithoutCard
                .permission()
                .is_some_and(|p| app.may(p))
            {
                true => "ic.refused_pending",
                false => "ic.refused_pending_ask",
            };
            return app.keymap.fill(&lang.tf(key, &[("id", id)]));
        }
        Refusal::OlderCardImage { seen_at } => return older_image_refusal(app, Some(seen_at)),
        // An older copy than the refunded purchase is told what it shows (s36-k's "Found, not
        // fixed": it read "shows purchase #6 valid" for a card showing #5).
        Refusal::MissingPurchase {
            sequence,
            refunded: true,
        } if shown_on_reader(app) != Some(*sequence) => {
            return lang.tf(
                "ic.refused_missing_refund_older",
                &[
                    ("seq", sequence),
                    ("shown", &card_showed(lang, shown_on_reader(app))),
                ],
            );
        }
        Refusal::MissingPurchase { sequence, refunded } => {
            let key = match refunded {
                true => "ic.refused_missing_refund",
                false => "ic.refused_missing_purchase",
            };
            return lang.tf(key, &[("seq", sequence)]);
        }
        Refusal::MissingPurchaseWritten { sequence, refunded } => {
            let key = match refunded {
                true => "ic.missing_refund_written",
                false => "ic.missing_purchase_written",
            };
            return lang.tf(key, &[("seq", sequence)]);
        }
        Refusal::PaymentMethodNoLongerTaken(code) => {
            return lang.tf(
                "ic.refused_method_no_longer_taken",
                &[(
                    "method",
                    &crate::screens::receipt::named_payment_method(lang, code, code),
                )],
            );
        }
        Refusal::OwnerChanged { owner, .. } => {
            return app.tf("ic.refused_owner_changed", &[("owner", &inert(owner))]);
        }
        // The water a meter loaded unpaid is paid first (sql/V163): the sum and the purchase.
        Refusal::Owes {
            amount,
            sequence,
            more,
        } => {
            let key = match more {
                0 => "ic.refused_owes",
                _ => "ic.refused_owes_more",
            };
            return lang.tf(
                key,
                &[("amount", amount), ("seq", sequence), ("more", more)],
            );
        }
        Refusal::NotPermitted => "ic.not_permitted",
        Refusal::NotBlank(_) | Refusal::Replace(_) => {
            return not_blank(lang, app.card.as_ref(), BlankWanted::Refused);
        }
        // Replace card is a supervisor's: a clerk is told who does it, not a key they lack.
        Refusal::AlreadyHasCard | Refusal::UseReplace => {
            let may_replace = Command::ReplaceCard
                .permission()
                .is_some_and(|p| app.may(p));
            let key = match (refusal, may_replace) {
                (Refusal::AlreadyHasCard, true) => "ic.refused_has_card",
                (Refusal::AlreadyHasCard, false) => "ic.refused_has_card_ask",
                (_, true) => "ic.refused_use_replace",
                (_, false) => "ic.refused_use_replace_ask",
            };
            return app.keymap.fill(lang.t(key));
        }
        Refusal::NoCardToReplace => "ic.refused_no_card",
        Refusal::NoActiveCard => "ic.refused_no_active_card",
        Refusal::NotACardCustomer => "ic.refused_not_card_customer",
        Refusal::CustomerClosed => "ic.refused_closed",
        Refusal::AnotherCustomersCard => "ic.refused_other_customer",
        Refusal::BlankCard | Refusal::ForeignCard | Refusal::UnknownCard => {
            return need_user_card(app);
        }
        Refusal::NoPrice => "ic.refused_no_price",
        Refusal::NothingBought => "ic.refused_nothing_bought",
        Refusal::NoSuchCustomer => "ic.refused_no_such_customer",
        Refusal::KeyReused => "ic.refused_key_reused",
        Refusal::Refund(refusal) => match refusal {
            RefundRefusal::NotTheActiveCard => "ic.refused_void",
            RefundRefusal::NoPurchase => "ic.refund_nothing",
            RefundRefusal::AlreadyRefunded => "ic.refund_cancelled",
            RefundRefusal::AlreadyLoaded => "ic.refund_loaded",
            RefundRefusal::SwipeNewCardOnMeterFirst => "ic.refused_refund_swipe_new_card",
        },
        Refusal::UnknownPurchase => "ic.refused_unknown_purchase",
        Refusal::Price(error) => match error {
            PurchaseError::Volume => "ic.refused_volume",
            PurchaseError::Amount => "ic.refused_amount",
            PurchaseError::VolumeTooLarge => "ic.refused_too_much_water",
        },
        Refusal::TooMuchWater => "ic.refused_too_much_water",
        Refusal::PaymentMethodNotAllowed(code) => {
            let method = crate::screens::receipt::payment_method_of_code(lang, code);
            return app
                .keymap
                .fill(&lang.tf("ic.refused_method_not_taken", &[("method", &method)]));
        }
        // Paying from a balance smaller than the amount is a counter's everyday slip: the
        // words name the key back to the form.
        Refusal::BalanceTooLow => "ic.refused_balance_too_low",
    };
    app.keymap.fill(lang.t(key))
}

/// The purchase a user card shows: its last one's number, if it holds one.
pub(super) fn shown_purchase(card: &UserCard) -> Option<u32> {
    card.purchase.as_ref().map(|purchase| purchase.sequence)
}

/// The purchase the user card on the reader shows, if any.
fn shown_on_reader(app: &App) -> Option<u32> {
    match &app.card {
        Some(CardSeen::User { card, .. }) => shown_purchase(card),
        _ => None,
    }
}

/// What a copy of a card shows, as the words about an older copy name it: "purchase #6", or
/// "no purchase".
pub(super) fn card_showed(lang: Lang, shown: Option<u32>) -> String {
    match shown {
        Some(shown) => lang.tf("ic.card_showed_purchase", &[("seq", &shown)]),
        None => lang.t("ic.card_showed_no_purchase").to_owned(),
    }
}

/// Says `refusal` in the clerk's language; the database's for want of a permission makes the
/// desk read the operator's permissions again.
pub fn say_refusal(hub: &mut Hub, refusal: &Refusal) {
    let text = refusal_text(hub.app, refusal);
    permissions::say_refusal(hub, text, *refusal == Refusal::NotPermitted);
}

pub(super) fn recharge_refusal(lang: Lang, refusal: &RechargeRefusal) -> String {
    let key = match refusal {
        RechargeRefusal::NotTheActiveCard => "ic.refused_void",
        RechargeRefusal::SwipeNewCardOnMeterFirst => "ic.refused_swipe_new_card",
        RechargeRefusal::SwipeMeterFirst => "ic.refused_swipe_meter",
        RechargeRefusal::SequenceNumbersExhausted => "ic.refused_sequence_exhausted",
    };
    lang.t(key).to_owned()
}

pub(super) fn recycle_refusal(lang: Lang, refusal: &RecycleRefusal) -> String {
    lang.t(match refusal {
        RecycleRefusal::UnloadedPurchase => "ic.refused_recycle_unloaded",
        RecycleRefusal::SwipeNewCardOnMeterFirst => "ic.refused_recycle_swipe_new_card",
    })
    .to_owned()
}

/// Why the card on the reader is no user card to act on: a system card says what it is, and
/// with the card service away no card would be.
pub(super) fn need_user_card(app: &App) -> String {
    match &app.card {
        _ if app.reader == ReaderState::NoService => app.lang.t("ic.no_service").to_owned(),
        Some(CardSeen::System(seen)) => app.lang.tf(
            "system_card.not_a_user_card",
            &[("card", &system_card::described(app, seen))],
        ),
        _ => app.lang.t("ic.need_user_card").to_owned(),
    }
}

/// Why no card can be read: the card service away, or no card in the reader.
pub(super) fn no_card_text(reader: &ReaderState) -> &'static str {
    match reader {
        ReaderState::NoService => "ic.no_service",
        _ => "ic.insert",
    }
}

/// Leaves the card screen after it wrote something: the screen below reads its rows again, as
/// the customer's card column changed.
pub(super) fn leave_changed(hub: &mut Hub) {
    hub.leave();
    hub.notify(Notice::Reload);
}

/// What is said of the card on the reader when a blank one is wanted: after a write refused
/// for it, or on an Open / Replace confirmation that waits for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlankWanted {
    /// F2 was refused: nothing was written.
    Refused,
    /// The confirmation is up: what is on the reader now, before F2.
    Waiting,
}

/// Why the card on the reader (`seen`) cannot be opened or issued as a replacement.
pub(super) fn not_blank(lang: Lang, seen: Option<&CardSeen>, wanted: BlankWanted) -> String {
    let [none, reading, user, foreign] = match wanted {
        BlankWanted::Refused => [
            "ic.need_blank_none",
            "ic.need_blank_reading",
            "ic.need_blank_user",
            "ic.need_blank_foreign",
        ],
        BlankWanted::Waiting => [
            "ic.on_reader_none",
            "ic.on_reader_reading",
            "ic.on_reader_user",
            "ic.on_reader_foreign",
        ],
    };
    match seen {
        None => lang.t(none).to_owned(),
        Some(CardSeen::Reading) => lang.t(reading).to_owned(),
        Some(CardSeen::User { card, .. }) => {
            lang.tf(user, &[("card", &card_no(card.issue.card_number))])
        }
        Some(_) => lang.t(foreign).to_owned(),
    }
}

/// An operation's money movement (negative: paid for a purchase); empty when it moves none.
pub(super) fn amount_text(amount: Option<Decimal>) -> String {
    // A NUMERIC(…, 2): rounding changes nothing.
    amount
        .map(|amount| Money::round_half_up(amount).to_string())
        .unwrap_or_default()
}

/// An operation's purchase volume in m³; empty when it writes no purchase.
pub(super) fn volume_text(litres: Option<i64>) -> String {
    // A card's counter: it fits a u32.
    litres
        .and_then(|litres| u32::try_from(litres).ok())
        .map(|litres| Volume::from_litres(litres).to_string())
        .unwrap_or_default()
}

/// The tier lines of a charge, for the confirmation and the receipt.
pub(super) fn tier_line(tier: &TierCharge) -> String {
    format!(
        "{:>10} m³ × {} = {}",
        tier.volume, tier.unit_price, tier.amount
    )
}

pub(super) fn card_no(number: impl Into<i64>) -> String {
    format!("{:08}", number.into())
}

/// The cells of a list's card column: its widest card number, eight at least, so that a ninth
/// or tenth digit (card numbers run to 4 294 967 295) moves no column after it.
pub(super) fn card_cells(numbers: impl IntoIterator<Item = i64>) -> u16 {
    numbers
        .into_iter()
        .map(|number| card_no(number).len() as u16)
        .fold(8, u16::max)
}

/// The first key of `command` in the live keymap, for texts that name it.
pub(super) fn key_of(app: &App, command: Command) -> String {
    app.keymap.name(command)
}

pub(super) fn customer_line(customer: &Customer) -> String {
    format!("{:08} {}", customer.number, inert(&customer.name))
}

pub(super) fn heading(lang: Lang, theme: &Theme, key: &str) -> Line<'static> {
    Line::from(Span::styled(format!(" {}", lang.t(key)), theme.title()))
}

pub(super) fn text(line: impl Into<String>) -> Line<'static> {
    Line::raw(format!("   {}", line.into()))
}

/// A table of card operations: a heading, then the header and rows, or a word while they load.
pub(super) fn table(
    lang: Lang,
    theme: &Theme,
    title: &str,
    header: String,
    rows: Option<Vec<String>>,
    selected: Option<usize>,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(format!(" {title}"), theme.title()))];
    match rows {
        None => lines.push(Line::styled(
            format!("   {}", lang.t("ic.loading")),
            theme.dim(),
        )),
        Some(rows) if rows.is_empty() => lines.push(text(lang.t("ic.no_operations"))),
        Some(rows) => {
            lines.push(Line::styled(header, theme.header()));
            // The selected row is marked, not only coloured.
            lines.extend(rows.into_iter().enumerate().map(|(index, row)| {
                if Some(index) == selected {
                    Line::styled(format!("›{}", &row[1..]), theme.selected())
                } else {
                    Line::raw(row)
                }
            }));
        }
    }
    lines
}
