//! The card pane: what the card on the reader holds (`App::card`), and what starts from it —
//! refund and recycle (recharge, usage records and the pending list have their own panes).

use chrono::{DateTime, FixedOffset, Utc};
use deadpool_postgres::Client;
use ratatui::text::Line;

use super::common::{
    CardPane, CardScreen, Confirm, Customer, card_no, card_showed, customer_of, heading,
    known_card, need_user_card, newer_write_back, no_card_text, older_image_refusal,
    recycle_refusal, say_refusal, seen_on, shown_purchase, text,
};
use super::confirm::pin_stops_writes;
use super::receipt::{keep_receipt_of_credit, keep_receipts_of, keep_receipts_of_found};
use crate::app::card_status::{CardRead, CardSeen, NewerWriteBack};
use crate::app::permissions;
use crate::app::requests::Read;
use crate::app::screen::{Notice, ScreenReply};
use crate::app::state::{MessageKind, card_cause_words};
use crate::app::{App, Hub};
use crate::card::apdu::CardCause;
use crate::card::reader::ReaderState;
use crate::card::water_card::{PinTries, TRIES_TO_PRESENT_THE_PIN};
use crate::db::DbError;
use crate::db::card_ops::{self, ClearedCredit, Discrepancy, MeterSaw, Payment, Refusal};
use crate::db::cards::CardOwner;
use crate::domain::card_counter::{PurchaseState, check_recycle};
use crate::domain::card_records::{IssueRecord, MeterWriteBack, PurchaseRecord, UserCard};
use crate::domain::money::{Money, Volume};
use crate::i18n::Lang;
use crate::screens::receipt::payment_method_name;
use crate::screens::system_card;
use crate::ui::inert::inert;
use crate::ui::text::{coded, lines as text_lines, local, width as text_width};
use crate::ui::theme::Theme;

/// A card read answered, wherever the clerk is (the hub's `Registry::after_a_read`): the
/// receipts of the recharges it finished, and of a clear card's credit it recorded, are kept,
/// a setting card's application it recorded is said, and what the card holds that the database disagrees with (audited by the read) is told in
/// words.
pub fn after_a_read(hub: &mut Hub, read: &CardRead) {
    keep_receipts_of(hub, &read.settled);
    keep_receipts_of_found(hub, &read.discrepancies);
    if let CardSeen::System(seen) = &read.seen {
        keep_receipt_of_credit(hub, seen);
        // The read records a clear card's credit for whoever may issue system cards: refused
        // to one the desk believed may, their roles changed since it read them.
        if seen.cleared == Some(ClearedCredit::NotPermitted) && hub.app.may("card.system") {
            permissions::reread(hub.app, hub.out);
        }
        let credited = system_card::credited_now(hub.app, seen);
        if credited.is_some() {
            // A clear card's credit is on a customer's balance now.
            hub.notify(Notice::Reload);
        }
        let recorded = credited.or_else(|| system_card::applied_now(hub.app, seen));
        if let Some(text) = recorded {
            hub.say(MessageKind::Info, text);
        }
    }
    // What the read settled or took back changed the balance the screen on top may show: the
    // table kept "0.00" beside a failed recharge's 20.00 put on the balance (s38-d, on the rig).
    let taken_back = read.discrepancies.iter().any(|discrepancy| {
        matches!(
            discrepancy,
            Discrepancy::FailedPurchaseFound {
                taken_back: true,
                ..
            }
        )
    });
    if taken_back || read.settled.iter().any(|settled| settled.now) {
        hub.notify(Notice::Reload);
    }
    if read.discrepancies.is_empty() {
        return;
    }
    let (card_no, shown) = match &read.seen {
        CardSeen::User { card, .. } => (card.issue.card_number, shown_purchase(card)),
        _ => (0, None),
    };
    // A failed recharge found on the card first: what the clerk must do now (keep the card
    // off the meter, call a supervisor) is whole on the message line, the card's missing
    // purchase after it (s39-a, on the rig: the other way round it was cut).
    let mut found: Vec<&Discrepancy> = read.discrepancies.iter().collect();
    found.sort_by_key(|discrepancy| {
        !matches!(
            discrepancy,
            Discrepancy::FailedPurchaseFound { .. } | Discrepancy::FailedPurchaseReplaced { .. }
        )
    });
    let texts: Vec<String> = found
        .into_iter()
        .map(|discrepancy| discrepancy_text(hub.app, (card_no, shown), discrepancy))
        .collect();
    hub.say(MessageKind::Error, texts.join(" "));
}

/// A difference between the card and the database, in the clerk's words. The card is known by
/// its number and the purchase it shows (`shown_purchase`).
fn discrepancy_text(
    app: &App,
    (number, shown): (u32, Option<u32>),
    discrepancy: &Discrepancy,
) -> String {
    let lang = app.lang;
    let card = card_no(number);
    match discrepancy {
        Discrepancy::UnknownCard => lang.tf("ic.discrepancy_unknown_card", &[("card", &card)]),
        Discrepancy::VoidCard { reason } => {
            let reason = reason
                .as_deref()
                .map(|reason| coded(lang, "ic.reason_", reason))
                .unwrap_or_default();
            lang.tf(
                "ic.discrepancy_void",
                &[("card", &card), ("reason", &reason)],
            )
        }
        Discrepancy::UnknownPurchase { sequence, litres } => lang.tf(
            "ic.discrepancy_unknown_purchase",
            &[
                ("card", &card),
                ("seq", sequence),
                ("volume", &Volume::from_litres(*litres)),
            ],
        ),
        Discrepancy::FailedPurchaseFound {
            operation_id,
            sequence,
            litres,
            amount,
            taken_back,
            receipt_no,
            meter,
            owed,
        } => {
            // Not taken back: what the clerk does now depends on what the meter did with it.
            let mut text = lang.tf(
                match (*taken_back, meter) {
                    (true, _) => "ic.discrepancy_failed_purchase_taken_back",
                    // Loaded: the database recorded the debt, paid before the next recharge.
                    (false, MeterSaw::Loaded) if *owed => "ic.discrepancy_failed_purchase_owed",
                    (false, MeterSaw::NotLoaded) => "ic.discrepancy_failed_purchase_not_covered",
                    (false, MeterSaw::Loaded) => "ic.discrepancy_failed_purchase_loaded",
                    (false, MeterSaw::Unknown) => "ic.discrepancy_failed_purchase_meter_unknown",
                },
                &[
                    ("card", &card),
                    ("seq", sequence),
                    ("volume", &Volume::from_litres(*litres)),
                    ("operation", operation_id),
                    ("amount", amount),
                ],
            );
            // Its receipt is kept now (`keep_receipts_of_found`): said with it.
            if let (true, Some(receipt_no)) = (*taken_back, receipt_no) {
                text.push_str(&lang.tf("ic.found_receipt", &[("receipt", receipt_no)]));
            }
            text
        }
        Discrepancy::FailedPurchaseReplaced {
            operation_id,
            sequence,
            litres,
            amount,
            written,
        } => lang.tf(
            "ic.discrepancy_failed_purchase_replaced",
            &[
                ("card", &card),
                ("seq", sequence),
                ("volume", &Volume::from_litres(*litres)),
                ("operation", operation_id),
                ("amount", amount),
                ("later_seq", written),
            ],
        ),
        // The copy showed the purchase valid, or was older than it: said as it was.
        Discrepancy::RefundWritten { sequence, shown } if *shown == Some(*sequence) => lang.tf(
            "ic.discrepancy_refund_written",
            &[("card", &card), ("seq", sequence)],
        ),
        Discrepancy::RefundWritten { sequence, shown } => lang.tf(
            "ic.discrepancy_refund_written_older",
            &[
                ("card", &card),
                ("seq", sequence),
                ("shown", &card_showed(lang, *shown)),
            ],
        ),
        // A copy showing the refunded purchase valid, or one older than it (s36-k): said as it
        // is, and only the first loads water already paid back.
        Discrepancy::MissingPurchase {
            sequence,
            refunded: true,
        } if shown != Some(*sequence) => lang.tf(
            "ic.discrepancy_missing_refund_older",
            &[
                ("card", &card),
                ("seq", sequence),
                ("shown", &card_showed(lang, shown)),
            ],
        ),
        Discrepancy::MissingPurchase { sequence, refunded } => lang.tf(
            match refunded {
                true => "ic.discrepancy_missing_refund",
                false => "ic.discrepancy_missing_purchase",
            },
            &[("card", &card), ("seq", sequence)],
        ),
        Discrepancy::OlderImage { seen_at, .. } => lang.tf(
            "ic.discrepancy_older_image",
            &[("card", &card), ("at", &seen_on(app, seen_at.as_ref()))],
        ),
    }
}

impl CardScreen {
    /// Refund: a supervisor's, and only of a purchase the meter has not loaded.
    pub(super) fn start_refund(&mut self, hub: &mut Hub) {
        let lang = hub.app.lang;
        if !hub.allowed("card.refund") {
            return;
        }
        let Some((card, owner, active)) = known_card(hub.app) else {
            hub.say(MessageKind::Error, need_user_card(hub.app));
            return;
        };
        if let Some(refused) = pin_stops_writes(hub.app) {
            hub.say(MessageKind::Error, refused);
            return;
        }
        let newer = newer_write_back(hub.app);
        match refund_of(lang, card, owner, active, newer.as_ref()) {
            Ok(asked) => hub.send(asked),
            Err(NoRefund::Said(refused)) => hub.say(MessageKind::Error, lang.t(refused)),
            // Refused before its confirmation, as the database would refuse it after the card
            // had been presented the PIN (s42-f's walk: a try of the card spent for nothing).
            Err(NoRefund::OlderImage { seen_at }) => {
                let text = older_image_refusal(hub.app, seen_at.as_ref());
                hub.say(MessageKind::Error, text);
            }
        }
    }

    /// The refund's confirmation, with what its purchase was paid; a purchase no recharge of
    /// the customer's wrote is refused as the write would refuse it.
    pub(super) fn on_refund_priced(
        &mut self,
        asked: &PriceRefund,
        paid: Option<Money>,
        hub: &mut Hub,
    ) {
        match paid {
            Some(amount) => self.set_pane(CardPane::Confirm(asked.confirm(amount))),
            None => say_refusal(hub, &Refusal::UnknownPurchase),
        }
    }

    /// Recycle: refused before the confirmation when a purchase on the card could be lost
    /// (`check_recycle`), as the write would refuse it.
    pub(super) fn start_recycle(&mut self, hub: &mut Hub) {
        let Some((card, owner, active)) = known_card(hub.app) else {
            hub.say(MessageKind::Error, need_user_card(hub.app));
            return;
        };
        // First: no other change of the card lets a desk write it.
        if let Some(refused) = pin_stops_writes(hub.app) {
            hub.say(MessageKind::Error, refused);
            return;
        }
        if let Err(refusal) = check_recycle(card, active) {
            hub.say(MessageKind::Error, recycle_refusal(hub.app.lang, &refusal));
            return;
        }
        let confirm = Confirm::Recycle {
            customer: customer_of(owner),
            card_no: card.issue.card_number,
        };
        self.set_pane(CardPane::Confirm(confirm));
    }
}

/// A refund asked for (F9): what the purchase on the card was paid, read for its
/// confirmation (the clerk confirms what goes back to the customer); answered with
/// [`RefundPriced`].
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRefund {
    pub customer: Customer,
    /// Which owner `customer` names (`CardOwner::owner_seen`), for the refund to send.
    pub owner_seen: i64,
    pub card_no: u32,
    /// The purchase's, on the card.
    pub sequence: u32,
    pub litres: u32,
    pub payout: Payment,
    pub payout_label: String,
}

/// What the purchase was paid; `None`: no recharge of the customer's wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundPriced(pub Option<Money>);

impl Read for PriceRefund {
    /// F2 typed right after F9 confirms the refund once its confirmation is up.
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let paid = card_ops::purchase_paid(client, self.customer.id, self.sequence).await?;
        Ok(RefundPriced(paid))
    }
}

impl PriceRefund {
    fn confirm(&self, amount: Money) -> Confirm {
        Confirm::Refund {
            customer: self.customer.clone(),
            owner_seen: self.owner_seen,
            card_no: self.card_no,
            litres: self.litres,
            amount,
            payout: self.payout.clone(),
            payout_label: self.payout_label.clone(),
        }
    }
}

/// Why F9 offers no refund of the card on the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRefund {
    /// The catalogue key that says why.
    Said(&'static str),
    /// The card is an older image of itself, and the meter loaded its purchase (as a write-back
    /// read on `seen_at` showed): the database refuses it (`Refusal::OlderCardImage`).
    OlderImage { seen_at: Option<DateTime<Utc>> },
}

/// The refund of the purchase on `card`, paid out in the type's first payment method (cash),
/// else onto the balance; or why there is nothing to refund. Only the active card (`active`, as
/// the database knows it) is refunded: a void card's purchase is carried by the active card,
/// and the journal refuses it. Nor a purchase an older image of the card shows not loaded which
/// the meter loaded (`newer`, the read's finding): the journal refuses it too, and the card is
/// presented no PIN for a refusal.
fn refund_of(
    lang: Lang,
    card: &UserCard,
    owner: &CardOwner,
    active: Option<&IssueRecord>,
    newer: Option<&NewerWriteBack>,
) -> Result<PriceRefund, NoRefund> {
    if active != Some(&card.issue) {
        return Err(NoRefund::Said("ic.refused_void"));
    }
    match (card.purchase_state(), &card.purchase) {
        (PurchaseState::NotLoaded, Some(purchase)) => {
            if let Some(newer) = newer.filter(|newer| newer.refuses_refund_of(purchase.sequence)) {
                return Err(NoRefund::OlderImage {
                    seen_at: newer.seen_at,
                });
            }
            Ok(PriceRefund {
                customer: customer_of(owner),
                owner_seen: owner.owner_seen,
                card_no: card.issue.card_number,
                sequence: purchase.sequence,
                litres: purchase.volume_litres,
                payout: owner
                    .payment_methods
                    .first()
                    .map_or(Payment::Balance, |method| {
                        Payment::Method(method.code.clone())
                    }),
                payout_label: owner.payment_methods.first().map_or_else(
                    || lang.t("ic.to_balance").to_owned(),
                    |method| payment_method_name(lang, method),
                ),
            })
        }
        // The refund's own words: the recharge's ("…then recharge it") were said on F9
        // (walk s40-f).
        (PurchaseState::UnknownUntilSwiped, _) => {
            Err(NoRefund::Said("ic.refused_refund_swipe_new_card"))
        }
        (PurchaseState::Loaded, _) => Err(NoRefund::Said("ic.refund_loaded")),
        (PurchaseState::Cancelled, _) => Err(NoRefund::Said("ic.refund_cancelled")),
        _ => Err(NoRefund::Said("ic.refund_nothing")),
    }
}

/// Litres on a card as m³.
fn m3(litres: u32) -> String {
    Volume::from_litres(litres).to_string()
}

/// Unix seconds written on a card, in local time; 0 shows as "—".
fn card_time(seconds: u32, zone: FixedOffset) -> String {
    DateTime::<Utc>::from_timestamp(i64::from(seconds), 0)
        .filter(|_| seconds != 0)
        .map_or_else(|| "—".to_owned(), |at| local(&at, zone))
}

/// What the card on the reader holds.
pub(super) fn lines(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let lang = app.lang;
    let mut lines = vec![heading(lang, theme, "ic.on_reader")];
    let say = |key: &str| vec![heading(lang, theme, "ic.on_reader"), text(lang.t(key))];
    let seen = match (&app.reader, &app.card) {
        (ReaderState::CardPresent { .. }, Some(seen)) => seen,
        (ReaderState::CardPresent { .. }, None) => return say("ic.reading"),
        _ => return say(no_card_text(&app.reader)),
    };
    match seen {
        CardSeen::Reading => lines.push(text(lang.t("ic.reading"))),
        CardSeen::NotOurs => lines.push(text(lang.t("ic.not_ours"))),
        CardSeen::Foreign { ef } => lines.push(text(
            lang.tf("ic.foreign", &[("ef", &format!("{:04X}", ef.file_id()))]),
        )),
        CardSeen::Blank => lines.push(text(lang.t("ic.blank"))),
        CardSeen::Unreadable(why_cause) => {
            let why = card_cause_words(lang, why_cause);
            // Taking the card out and back helps only with what the card did.
            let key = if why_is_the_desks(why_cause) {
                "ic.unreadable_here"
            } else {
                "ic.unreadable"
            };
            lines.push(text(lang.tf(key, &[("why", &inert(&why))])))
        }
        CardSeen::User {
            card,
            owner,
            newer,
            pin_tries,
            ..
        } => {
            let seen = UserCardSeen {
                card,
                owner,
                pin_tries: *pin_tries,
            };
            user_card_lines(lang, app.zone, theme, seen, width, &mut lines);
            // The purchase line above says what this image shows; the meter did more.
            if let Some(newer) = newer {
                let at = seen_on(app, newer.seen_at.as_ref());
                lines.push(text(lang.tf(
                    "ic.older_image_line",
                    &[("seq", &newer.loaded), ("at", &at)],
                )));
            }
        }
        CardSeen::System(seen) => lines.extend(system_card::lines(app, seen).into_iter().map(text)),
    }
    lines
}

/// What the pane shows of a user card read.
struct UserCardSeen<'a> {
    card: &'a UserCard,
    owner: &'a Option<CardOwner>,
    pin_tries: Option<PinTries>,
}

fn user_card_lines(
    lang: Lang,
    zone: FixedOffset,
    theme: &Theme,
    seen: UserCardSeen<'_>,
    width: u16,
    lines: &mut Vec<Line<'static>>,
) {
    let UserCardSeen {
        card,
        owner,
        pin_tries,
    } = seen;
    let issue = &card.issue;
    let kind = if issue.replacement {
        lang.t("ic.replacement")
    } else {
        lang.t("ic.first_issue")
    };
    lines.push(text(lang.tf(
        "ic.user_line",
        &[
            ("card", &card_no(issue.card_number)),
            ("generation", &issue.generation),
            ("kind", &kind),
        ],
    )));
    let customer = match owner {
        Some(owner) => format!("{:08}  {}", owner.customer_no, inert(&owner.name)),
        None => format!("{:08}", issue.customer_number),
    };
    lines.push(text(format!("{}  {customer}", lang.t("ic.customer"))));
    lines.push(text(format!(
        "{}  {}",
        lang.t("ic.meter"),
        inert(issue.meter_number.as_str())
    )));
    let in_system = match owner {
        None => lang.t("ic.not_issued_here").to_owned(),
        Some(owner) if owner.card_state == "active" => lang.t("ic.state_active").to_owned(),
        Some(owner) => lang.tf(
            "ic.state_void",
            &[
                ("state", &coded(lang, "customers.card_", &owner.card_state)),
                (
                    "reason",
                    &owner
                        .void_reason
                        .as_deref()
                        .map(|reason| coded(lang, "ic.reason_", reason))
                        .unwrap_or_default(),
                ),
            ],
        ),
    };
    labelled(lang.t("ic.in_system"), &in_system, width, lines);
    // card.md: the card's PIN tries. A card with fewer than this desk presents its PIN to is
    // written by no desk: seen here before a recharge is typed, not at its F2 (s45-e's walk).
    let tries = match pin_tries {
        Some(PinTries::Left(tries)) if tries >= TRIES_TO_PRESENT_THE_PIN => {
            Some(lang.tf("ic.pin_tries_left", &[("tries", &tries)]))
        }
        Some(PinTries::Left(tries)) => Some(lang.tf("ic.pin_tries_last", &[("tries", &tries)])),
        Some(PinTries::Blocked) => Some(lang.t("ic.pin_tries_blocked").to_owned()),
        Some(PinTries::Verified) | None => None,
    };
    if let Some(tries) = tries {
        labelled(lang.t("ic.pin_tries"), &tries, width, lines);
    }
    lines.push(heading(lang, theme, "ic.last_purchase"));
    lines.push(text(purchase_line(lang, zone, card)));
    lines.push(heading(lang, theme, "ic.write_back"));
    match &card.write_back {
        None => lines.push(text(lang.t("ic.never_swiped"))),
        Some(write_back) => lines.extend(
            write_back_lines(lang, zone, write_back)
                .into_iter()
                .map(text),
        ),
    }
}

/// `value` after `label` in the pane's label column, wrapped under itself, not cut: what the
/// meter still does with a void card is its end (s36-d: "…the meter refuses it once a…" at 80
/// columns in English).
fn labelled(label: &str, value: &str, width: u16, lines: &mut Vec<Line<'static>>) {
    let label = format!("{label}  ");
    let room = usize::from(width)
        .saturating_sub(3 + text_width(&label))
        .max(10);
    for (index, piece) in text_lines(value, room).into_iter().enumerate() {
        let lead = match index {
            0 => label.clone(),
            _ => " ".repeat(text_width(&label)),
        };
        lines.push(text(format!("{lead}{piece}")));
    }
}

fn purchase_line(lang: Lang, zone: FixedOffset, card: &UserCard) -> String {
    let Some(PurchaseRecord {
        sequence,
        volume_litres,
        written_at,
        ..
    }) = &card.purchase
    else {
        return lang.t("ic.no_purchase").to_owned();
    };
    let state = match card.purchase_state() {
        PurchaseState::NoPurchase => unreachable!("a purchase is on the card"),
        PurchaseState::Cancelled => lang.t("ic.purchase_cancelled"),
        PurchaseState::Loaded => lang.t("ic.purchase_loaded"),
        PurchaseState::NotLoaded => lang.t("ic.purchase_not_loaded"),
        PurchaseState::UnknownUntilSwiped => lang.t("ic.purchase_until_swiped"),
    };
    lang.tf(
        "ic.purchase_line",
        &[
            ("seq", sequence),
            ("volume", &m3(*volume_litres)),
            ("at", &card_time(*written_at, zone)),
            ("state", &state),
        ],
    )
}

fn write_back_lines(lang: Lang, zone: FixedOffset, write_back: &MeterWriteBack) -> Vec<String> {
    let status = &write_back.status;
    let mut flags = vec![if status.valve_closed {
        lang.t("ic.valve_closed")
    } else {
        lang.t("ic.valve_open")
    }];
    for (on, key) in [
        (status.low_credit, "ic.low_credit"),
        (status.low_battery, "ic.low_battery"),
        (status.tamper, "ic.tamper"),
    ] {
        if on {
            flags.push(lang.t(key));
        }
    }
    vec![
        lang.tf(
            "ic.write_back_line",
            &[
                ("seq", &write_back.last_loaded_sequence),
                ("generation", &write_back.registered_generation),
                ("credit", &m3(write_back.credit_litres)),
                ("total", &m3(write_back.total_litres)),
            ],
        ),
        format!(
            "{} · {}",
            flags.join(" · "),
            lang.tf(
                "ic.written_at",
                &[("at", &card_time(write_back.written_at, zone))]
            )
        ),
    ]
}

/// Whether a card is unreadable for a reason of this desk's (its secrets, its card service or
/// reader), which putting the card back would not mend.
fn why_is_the_desks(cause: &CardCause) -> bool {
    matches!(
        cause,
        CardCause::NoSecrets
            | CardCause::WritesStopped
            | CardCause::NoService
            | CardCause::ServiceLost
            | CardCause::ReaderStopped
            | CardCause::ReaderGone
            | CardCause::ReaderBusy
            | CardCause::Said(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::cards::PaymentMethod;
    use crate::domain::card_records::{IssueRecord, MeterNumber, PurchaseStatus};

    /// A first-issue card carrying purchase #5 of 12.5 m³; the meter has loaded up to
    /// `loaded` (none: never swiped).
    fn card(loaded: Option<u32>, status: PurchaseStatus) -> UserCard {
        UserCard {
            issue: IssueRecord {
                card_number: 40_000_017,
                customer_number: 10_023_457,
                meter_number: MeterNumber::new("WM-0042").unwrap(),
                generation: 1,
                replacement: false,
            },
            purchase: Some(PurchaseRecord {
                sequence: 5,
                volume_litres: 12_500,
                generation: 1,
                status,
                written_at: 1_795_836_000,
                blacklisted_card: None,
            }),
            write_back: loaded.map(|last_loaded_sequence| MeterWriteBack {
                last_loaded_sequence,
                registered_generation: 1,
                credit_litres: 0,
                total_litres: 0,
                status: Default::default(),
                written_at: 1_795_736_000,
            }),
        }
    }

    fn owner(methods: &[&str]) -> CardOwner {
        CardOwner {
            customer_id: 42,
            customer_no: 10_023_457,
            name: "Zhang Wei".into(),
            card_state: "active".into(),
            void_reason: None,
            balance: Default::default(),
            payment_methods: methods
                .iter()
                .map(|name| PaymentMethod {
                    code: name.to_lowercase(),
                    name: (*name).to_owned(),
                })
                .collect(),
            owner_seen: 0,
        }
    }

    #[test]
    fn only_a_purchase_the_meter_has_not_loaded_is_refunded_in_the_first_method() {
        let on_the_reader = card(Some(4), PurchaseStatus::Valid);
        let refund = refund_of(
            Lang::En,
            &on_the_reader,
            &owner(&["Cash", "WeChat"]),
            Some(&on_the_reader.issue),
            None,
        );
        let Ok(PriceRefund {
            card_no,
            sequence,
            litres,
            payout,
            payout_label,
            customer,
            ..
        }) = refund
        else {
            panic!("a refund: {refund:?}")
        };
        assert_eq!((card_no, sequence, litres), (40_000_017, 5, 12_500));
        assert_eq!(payout, Payment::Method("cash".into()));
        assert_eq!(payout_label, "Cash");
        assert_eq!(customer.id, 42);
        let refused = |card: &UserCard| {
            refund_of(Lang::En, card, &owner(&["Cash"]), Some(&card.issue), None).unwrap_err()
        };
        assert_eq!(
            refused(&card(Some(5), PurchaseStatus::Valid)),
            NoRefund::Said("ic.refund_loaded")
        );
        assert_eq!(
            refused(&card(Some(4), PurchaseStatus::Cancelled)),
            NoRefund::Said("ic.refund_cancelled")
        );
        let mut bought_nothing = card(None, PurchaseStatus::Valid);
        bought_nothing.purchase = None;
        assert_eq!(
            refused(&bought_nothing),
            NoRefund::Said("ic.refund_nothing")
        );
        let mut replacement = card(None, PurchaseStatus::Valid);
        replacement.issue.replacement = true;
        assert_eq!(
            refused(&replacement),
            NoRefund::Said("ic.refused_refund_swipe_new_card")
        );
        // Finding 6 of #11: a void card (replaced, or reported lost) is offered no refund.
        let void = refund_of(Lang::En, &on_the_reader, &owner(&["Cash"]), None, None);
        assert_eq!(void.unwrap_err(), NoRefund::Said("ic.refused_void"));
        let mut newer = on_the_reader.issue.clone();
        newer.generation += 1;
        let replaced = refund_of(
            Lang::En,
            &on_the_reader,
            &owner(&["Cash"]),
            Some(&newer),
            None,
        );
        assert_eq!(replaced.unwrap_err(), NoRefund::Said("ic.refused_void"));
    }

    /// s42-f's walk: the read found the card an older image of itself (a later write-back
    /// read on `seen_at`, the meter loaded up to `loaded`): a purchase it shows not loaded up to
    /// `loaded` is refused as the database refuses it, before any confirmation; a later one
    /// (written onto the old image since) is still refunded, as the database refunds it.
    #[test]
    fn a_purchase_an_older_image_shows_not_loaded_which_the_meter_loaded_is_not_refunded() {
        let on_the_reader = card(Some(4), PurchaseStatus::Valid);
        let seen_at = DateTime::<Utc>::from_timestamp(1_795_900_000, 0);
        let refund = |loaded| {
            let newer = NewerWriteBack { loaded, seen_at };
            refund_of(
                Lang::En,
                &on_the_reader,
                &owner(&["Cash"]),
                Some(&on_the_reader.issue),
                Some(&newer),
            )
        };
        for loaded in [5, 6] {
            assert_eq!(
                refund(loaded).unwrap_err(),
                NoRefund::OlderImage { seen_at },
                "purchase #5, loaded up to #{loaded}"
            );
        }
        let refund = refund(4).expect("purchase #5 is after what the meter loaded");
        assert_eq!(refund.sequence, 5);
    }

    #[test]
    fn without_a_payment_method_the_refund_goes_onto_the_balance() {
        let on_the_reader = card(None, PurchaseStatus::Valid);
        let refund = refund_of(
            Lang::En,
            &on_the_reader,
            &owner(&[]),
            Some(&on_the_reader.issue),
            None,
        );
        let Ok(PriceRefund {
            payout,
            payout_label,
            ..
        }) = refund
        else {
            panic!("a refund: {refund:?}")
        };
        assert_eq!(payout, Payment::Balance);
        assert_eq!(payout_label, Lang::En.t("ic.to_balance"));
    }

    #[test]
    fn litres_on_the_card_read_as_cubic_metres() {
        assert_eq!(m3(12_500), "12.500");
        assert_eq!(m3(1), "0.001");
        assert_eq!(m3(u32::MAX), "4294967.295");
        assert_eq!(card_time(0, FixedOffset::east_opt(0).unwrap()), "—");
    }
}
