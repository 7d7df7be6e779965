//! The IC card management screen (`:card`) and Open / Replace card and Recharge from a customer
//! row. One screen with panes, each a module with its keys, requests and drawing: what the card
//! on the reader holds (`reader`), the usage records (`usage`), the pending operations
//! (`pending`), the recharge form (`recharge`), the confirmations and the card write
//! (`confirm`), the receipt (`receipt`) and, after an opening, "Go to recharge". What the card
//! on the reader is lives in the hub (`app::card_status`, the status line follows it); this
//! screen reads it there and asks for a read after a write. What the panes share is in
//! `common`: they import it, never this file, which routes to them.

mod common;
mod confirm;
mod debt;
mod lost;
mod pending;
mod reader;
mod receipt;
mod recharge;
mod usage;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::app::card_status::{CardSeen, ReadFor, read_card};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::card::reader::ReaderState;
use crate::db::card_ops::{LossReason, PendingOperation, Refusal, UsageRecord};
use crate::db::customers::CustomerRow;
use crate::i18n::Lang;
use crate::screens::legend::{BACK, Labelled, framed, usual};
use crate::ui::chrome::draw_lines;
use crate::ui::text::wrap;
use crate::ui::theme::Theme;
use common::{card_no, key_of, known_card, leave_changed, no_card_text};

pub use common::{
    CardPane, CardScreen, Confirm, Customer, RechargeForm, refusal_text, say_refusal,
};
pub use confirm::{CardDid, WriteCard, WriteOutcome, Written};
pub use debt::{DebtPayment, Heard, LoadOwed, OwedPaidHere, OwedToPay, PayOwed};
pub use lost::{ReportLost, ReportedLost};
pub use pending::{LoadPending, SettleWithoutCard, SettledWithoutCard};
pub use reader::{PriceRefund, RefundPriced, after_a_read};
pub use receipt::{
    FinishedReceipt, KeepReceipt, Receipt, ReceiptKept, ReceiptKind, ReceiptOfClearCredit,
    ReceiptOfFinished, ReceiptOfFound, keep_receipts_of, receipt_text,
};
pub use recharge::{QuoteRecharge, Quoted};
pub use usage::LoadUsage;

impl Screen for CardScreen {
    /// "Go to recharge" after an opening is a question: an F2 pressed again while the card was
    /// written must not answer it (and then price an empty form) before the clerk sees it. A
    /// recharge's confirmation that adds a debt (water a meter loaded unpaid) asks for more than
    /// was typed: it too is answered only once seen (walk s42-f: "r 120 F2 F2" in one burst
    /// charged the debt with the recharge before its confirmation was drawn).
    fn drops_type_ahead(&self) -> bool {
        match &self.pane {
            CardPane::GoToRecharge { .. } => true,
            CardPane::Confirm(Confirm::Recharge { owed, .. }) => !owed.is_empty(),
            _ => false,
        }
    }

    fn key_waits(&self, key: &KeyEvent, app: &App) -> bool {
        matches!(self.pane, CardPane::Card) && waits_for_the_card_read(key, app)
    }

    fn unsaved(&self) -> bool {
        matches!(&self.pane, CardPane::Recharge(recharge) if recharge.form.is_dirty())
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("ic.screen").to_owned()
    }

    /// Only the recharge form has fields: the card, its usage records, the pending list, a
    /// confirmation (Tab there switches a replacement's reason) and a receipt have none, and
    /// their help does not say how to move between fields.
    fn has_fields(&self) -> bool {
        matches!(self.pane, CardPane::Recharge(_))
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        use Command::*;
        let own: Vec<Labelled> = match self.pane {
            // The card pane's most-used keys fit at 80 columns in both languages, a
            // supervisor's too (s36-d: English dropped "p Pending" and "F3 Back"): the legend
            // says them in short words; the screens' list and the command line keep the long.
            CardPane::Card => [(Refresh, "ic.legend_read")]
                .into_iter()
                .chain(usual([Recharge, CardRefund, Recycle]))
                .chain([
                    (CardUsage, "ic.legend_usage"),
                    (PendingCards, "ic.legend_pending"),
                    BACK,
                ])
                .collect(),
            CardPane::Usage { .. } => usual([Refresh]).chain([BACK]).collect(),
            CardPane::Pending { .. } => usual([SettleWithoutCard, Refresh]).chain([BACK]).collect(),
            CardPane::Recharge(_) => [(Save, "ic.legend_price")]
                .into_iter()
                .chain(usual([NextField, Cancel]))
                .collect(),
            CardPane::Confirm(Confirm::Replace { .. }) => vec![
                (Save, "ic.legend_confirm"),
                (NextField, "ic.legend_reason"),
                (ReportLost, "ic.legend_report_lost"),
                (Cancel, "command.cancel"),
            ],
            CardPane::Confirm(_) => vec![(Save, "ic.legend_confirm"), (Cancel, "command.cancel")],
            CardPane::Receipt { .. } => vec![BACK, (Cancel, "legend.back")],
            CardPane::GoToRecharge { .. } => {
                vec![
                    (Save, "ic.legend_go_recharge"),
                    (Cancel, "ic.legend_not_now"),
                ]
            }
        };
        framed(own)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = Theme::new(app.look);
        let lines = match &self.pane {
            CardPane::Card => reader::lines(app, &theme, area.width),
            CardPane::Usage {
                customer_no, rows, ..
            } => usage::lines(app, &theme, *customer_no, rows.as_deref()),
            CardPane::Pending { rows, selected } => pending::lines(
                app.lang,
                app.zone,
                &theme,
                (rows.as_deref(), *selected),
                area.width,
            ),
            CardPane::Recharge(form) => return recharge::draw(frame, area, form, app, &theme),
            CardPane::Confirm(confirm) => confirm::lines(app, &theme, confirm, area.width),
            CardPane::Receipt { lines } => receipt::lines(app.lang, &theme, lines),
            CardPane::GoToRecharge { card_no: number } => {
                let offer = app.lang.tf(
                    "ic.go_to_recharge",
                    &[
                        ("card", &card_no(*number)),
                        ("save", &key_of(app, Command::Save)),
                        ("cancel", &key_of(app, Command::Cancel)),
                    ],
                );
                // Wrapped as a confirmation's question is: at 80 columns the English offer
                // was cut before its keys ("…before it is useful at th…").
                let mut lines = vec![Line::raw("")];
                lines.extend(
                    wrap(&offer, usize::from(area.width).saturating_sub(2))
                        .into_iter()
                        .map(|line| Line::from(Span::styled(format!(" {line}"), theme.title()))),
                );
                lines
            }
        };
        draw_lines(frame, area, lines);
    }

    /// `:card` on the card screen leaves it as it is: the new one goes at once.
    fn on_open(&mut self, hub: &mut Hub) {
        if hub
            .app
            .below
            .last()
            .is_some_and(|covered| covered.is::<CardScreen>())
        {
            hub.leave();
        }
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if let CardPane::Recharge(form) = &mut self.pane {
            match form.on_key(key, command, hub) {
                recharge::Asked::Nothing => {}
                recharge::Asked::Handled => return true,
                recharge::Asked::Leave => {
                    self.set_pane(CardPane::Card);
                    return true;
                }
            }
        }
        match key.code {
            // Up and Down move on the pending list, and nowhere else on this screen.
            KeyCode::Up | KeyCode::Down => {
                if let CardPane::Pending { rows, selected } = &mut self.pane {
                    pending::move_selection(rows.as_deref(), selected, key.code == KeyCode::Up);
                }
                true
            }
            _ => false,
        }
    }

    /// F3 on a confirmation or on the "Go to recharge" offer goes back one level, as F12 does
    /// (ui.md: F3 leaves; on the form before it, F3 goes back to the card). s38-d on the rig:
    /// F3 six times on a recharge's confirmation said "'Leave' is not available here." six
    /// times, the arm for it in `on_command` never reached. Not in the legend: F12 is there.
    fn on_not_offered(&mut self, command: Command, hub: &mut Hub) -> bool {
        command == Command::Leave
            && matches!(
                self.pane,
                CardPane::Confirm(_) | CardPane::GoToRecharge { .. }
            )
            && self.on_command(Command::Cancel, hub)
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        let on_card = matches!(self.pane, CardPane::Card);
        match (&mut self.pane, command) {
            (CardPane::Card, Command::Refresh) => {
                if matches!(hub.app.reader, ReaderState::CardPresent { .. }) {
                    // What was said of the card before does not stay under it read again
                    // (walk s45-e: "swipe the meter first" under a card just swiped).
                    hub.app.message = None;
                    read_card(hub.app, ReadFor::Status, hub.out);
                } else {
                    let why = no_card_text(&hub.app.reader);
                    hub.say(MessageKind::Error, hub.app.lang.t(why));
                }
            }
            (CardPane::Card, Command::Recharge) => self.start_recharge(hub),
            (CardPane::Card, Command::CardRefund) => self.start_refund(hub),
            (CardPane::Card, Command::Recycle) => self.start_recycle(hub),
            (CardPane::Card, Command::CardUsage) => self.show_usage(hub),
            (CardPane::Card, Command::PendingCards) => self.show_pending(hub),
            (CardPane::Usage { of, .. }, Command::Refresh) => hub.send(LoadUsage { of: *of }),
            (CardPane::Pending { .. }, Command::Refresh) => hub.send(LoadPending),
            (CardPane::Pending { rows, selected }, Command::SettleWithoutCard) => {
                match rows.as_ref().and_then(|rows| rows.get(*selected)) {
                    Some(operation) => {
                        let operation = operation.clone();
                        self.set_pane(CardPane::Confirm(Confirm::WithoutCard { operation }));
                    }
                    None => hub.say(MessageKind::Error, hub.app.lang.t("ic.no_operation_chosen")),
                }
            }
            (CardPane::Confirm(Confirm::Replace { reason, .. }), Command::NextField) => {
                *reason = match reason {
                    LossReason::Lost => LossReason::Damaged,
                    LossReason::Damaged => LossReason::Lost,
                };
            }
            (CardPane::Confirm(Confirm::Replace { customer, .. }), Command::ReportLost) => {
                let customer = customer.clone();
                self.report_lost(&customer, hub);
            }
            (CardPane::Confirm(_), Command::Save) => self.confirmed(hub),
            (
                CardPane::Confirm(Confirm::Recharge { form, .. }),
                Command::Cancel | Command::Leave,
            ) => {
                // Back to the form with the value as typed.
                let form = RechargeForm::clone(form);
                self.set_pane(CardPane::Recharge(form));
            }
            // Back to the pending list it was chosen from, read again (s38-d on the rig: F12
            // went to the card pane, the list to be opened again with p).
            (CardPane::Confirm(Confirm::WithoutCard { .. }), Command::Cancel | Command::Leave) => {
                self.load_pending(hub);
            }
            (CardPane::GoToRecharge { .. }, Command::Save) => {
                self.set_pane(CardPane::Card);
                self.start_recharge(hub);
            }
            (_, Command::Leave | Command::Cancel) if !on_card => self.set_pane(CardPane::Card),
            (CardPane::Card, Command::Leave | Command::Cancel) if self.changed => {
                leave_changed(hub)
            }
            _ => return false,
        }
        true
    }

    /// A card read settled or took back money while this screen was on top: the screen below
    /// reads its rows again when this one is left, and the pending list or the usage records
    /// on screen are read again now — the list kept "2101 … recharge -8.00" beside "Pending
    /// recharge #2101 finished" when the card came back (walk s40-f), and `w` on it would
    /// offer to settle what was settled.
    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            self.changed = true;
            match &self.pane {
                CardPane::Pending { .. } => hub.send(LoadPending),
                CardPane::Usage { of, .. } => hub.send(LoadUsage { of: *of }),
                _ => {}
            }
        }
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        self.changed |= reply.of::<WriteOutcome>().is_some()
            || reply.of::<ReportedLost>().is_some()
            || reply.of::<SettledWithoutCard>().is_some();
        if let Some(found) = reply.of::<Vec<UsageRecord>>() {
            if let CardPane::Usage { rows, .. } = &mut self.pane {
                *rows = Some(found.clone());
            }
        } else if let Some(found) = reply.of::<Vec<PendingOperation>>() {
            if let CardPane::Pending { rows, selected } = &mut self.pane {
                *selected = (*selected).min(found.len().saturating_sub(1));
                *rows = Some(found.clone());
            }
        } else if let Some(settled) = reply.of::<SettledWithoutCard>() {
            self.settled_without_card(settled, hub);
        } else if let Some(reported) = reply.of::<ReportedLost>() {
            self.reported_lost(reported, hub);
        } else if let Some(quoted) = reply.of::<Quoted>() {
            self.on_quote(quoted, hub);
        } else if let (Some(RefundPriced(paid)), Some(asked)) =
            (reply.of::<RefundPriced>(), request.of::<PriceRefund>())
        {
            self.on_refund_priced(asked, *paid, hub);
        } else if let (Some(outcome), Some(write)) =
            (reply.of::<WriteOutcome>(), request.of::<WriteCard>())
        {
            self.on_written(write, outcome, hub);
        } else if let Some(ReceiptKept(Err(why))) = reply.of::<ReceiptKept>() {
            let text = hub
                .app
                .lang
                .tf("ic.receipt_not_kept", &[("why", &why.text(hub.app.lang))]);
            hub.say(MessageKind::Error, text);
        }
    }
}

/// Whether `key` must wait for the read of a card just put on the reader: recharge, refund,
/// recycle and the usage records act on the card as read, so they wait for it, with the keys
/// typed after them (a recharge typed in one burst as the card goes on), rather than saying
/// that no user card is there.
pub fn waits_for_the_card_read(key: &KeyEvent, app: &App) -> bool {
    app.card == Some(CardSeen::Reading)
        && matches!(
            app.keymap.command_for(key),
            Some(Command::Recharge | Command::CardRefund | Command::Recycle | Command::CardUsage)
        )
}

/// Whether the customer's meter takes a card (business model `meter_prepaid`).
pub fn takes_a_card(row: &CustomerRow) -> bool {
    row.business_model == "meter_prepaid"
}

/// Open card, Replace card or Recharge on a customer row: the card screen, with the
/// confirmation (open, replace) or the recharge form for the customer's card on the reader.
/// What the row already shows to refuse is refused at once, on the table.
pub fn for_customer(hub: &mut Hub, command: Command, row: &CustomerRow) {
    let permission = match command {
        Command::OpenCard => "card.open",
        Command::ReplaceCard => "card.replace",
        _ => "card.recharge",
    };
    if !hub.allowed(permission) {
        return;
    }
    if let Some(refusal) = refused_by_row(command, row) {
        let text = refusal_text(hub.app, &refusal);
        hub.say(MessageKind::Error, text);
        return;
    }
    let customer = Customer {
        id: row.id,
        number: row.customer_no,
        name: row.name.clone(),
    };
    let mut screen = CardScreen::new();
    match command {
        Command::OpenCard => screen.set_pane(CardPane::Confirm(Confirm::Open { customer })),
        Command::ReplaceCard => screen.set_pane(CardPane::Confirm(Confirm::Replace {
            customer,
            reason: LossReason::Lost,
        })),
        _ => match known_card(hub.app) {
            Some((_, owner, _)) if owner.customer_id != customer.id => {
                let text = hub.app.lang.tf(
                    "ic.card_of_another",
                    &[("customer", &format!("{:08}", customer.number))],
                );
                hub.say(MessageKind::Error, text);
            }
            _ => screen.start_recharge(hub),
        },
    }
    hub.open(Box::new(screen));
}

/// What `card_ops::begin` would refuse `command` on `row`'s customer for, as far as the row
/// shows it (business model, status, the state of the newest issued card), in begin's order.
/// Only a shortcut: begin checks again, with the row's facts as they are by then.
fn refused_by_row(command: Command, row: &CustomerRow) -> Option<Refusal> {
    if !takes_a_card(row) {
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

#[cfg(test)]
mod tests {
    use super::common::{BlankWanted, not_blank, tier_line};
    use super::*;
    use crate::app::card_status::CardSeen;
    use crate::domain::money::{Money, UnitPrice, Volume};
    use crate::domain::pricing::TierCharge;
    use rust_decimal::Decimal;

    fn row(business_model: &str, status: &str, card_state: Option<&str>) -> CustomerRow {
        CustomerRow {
            id: 42,
            customer_no: 10_023_457,
            name: "Zhang Wei".into(),
            customer_type: "Card residents".into(),
            meter_no: "WM-0042".into(),
            account_kind: "prepaid".into(),
            business_model: business_model.into(),
            balance: Decimal::ZERO,
            arrears: Money::ZERO,
            card_state: card_state.map(str::to_owned),
            phone: None,
            address: String::new(),
            status: status.into(),
        }
    }

    #[test]
    fn a_row_refuses_what_it_shows_in_the_journals_order() {
        let refused = |command, row: &CustomerRow| refused_by_row(command, row);
        let card_meter = |card_state| row("meter_prepaid", "active", card_state);
        for command in [Command::OpenCard, Command::ReplaceCard, Command::Recharge] {
            assert_eq!(
                refused(command, &row("system_prepaid", "closed", None)),
                Some(Refusal::NotACardCustomer),
                "not a card customer comes first"
            );
            assert_eq!(
                refused(command, &row("meter_prepaid", "closed", Some("active"))),
                Some(Refusal::CustomerClosed)
            );
        }
        assert_eq!(
            refused(Command::OpenCard, &card_meter(Some("active"))),
            Some(Refusal::AlreadyHasCard)
        );
        assert_eq!(
            refused(Command::OpenCard, &card_meter(Some("void"))),
            Some(Refusal::UseReplace)
        );
        assert_eq!(refused(Command::OpenCard, &card_meter(None)), None);
        assert_eq!(
            refused(Command::ReplaceCard, &card_meter(None)),
            Some(Refusal::NoCardToReplace)
        );
        assert_eq!(
            refused(Command::ReplaceCard, &card_meter(Some("void"))),
            None
        );
        assert_eq!(refused(Command::Recharge, &card_meter(None)), None);
    }

    #[test]
    fn a_card_that_is_not_blank_is_named() {
        let lang = Lang::En;
        assert_eq!(
            not_blank(lang, None, BlankWanted::Refused),
            lang.t("ic.need_blank_none")
        );
        assert_eq!(
            not_blank(lang, Some(&CardSeen::Reading), BlankWanted::Refused),
            lang.t("ic.need_blank_reading")
        );
        assert_eq!(
            not_blank(lang, Some(&CardSeen::NotOurs), BlankWanted::Refused),
            lang.t("ic.need_blank_foreign")
        );
    }

    #[test]
    fn a_tier_line_shows_the_price_with_its_four_decimals() {
        let volume = Volume::exact(Decimal::new(10_000, 3)).unwrap();
        let unit_price = UnitPrice::exact(Decimal::new(12_345, 4)).unwrap();
        let tier = TierCharge {
            tier: 1,
            volume,
            unit_price,
            exact: volume * unit_price,
            amount: volume.priced_at(unit_price),
        };
        assert_eq!(tier_line(&tier), "    10.000 m³ × 1.2345 = 12.35");
    }
}
