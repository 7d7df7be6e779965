//! Close account (`C` or `:close-account` on a customer row or in Details; supervisors): the
//! steps of domain.md — final reading, its bill paid or its deduction made, the balance made
//! good or refunded, the card recycled or reported lost — each shown done or not, as the
//! database sees them (`db::closing`). Under the list the screen says what the first step
//! still to take needs, and F2 opens the screen that takes it (the reading as final, the
//! bills, the deposit or refund, the card screen), as Transfer offers the bills; `v` reports
//! the card lost. The water a meter loaded unpaid is paid here, without a card (s41-g): F2 asks
//! with its sum and a payment method (←/→ another), F2 again pays it, each debt on its receipt
//! (`card::DebtPayment`, as the details and the transfer pay it). With every step done F2 asks,
//! and F2 again closes: the database checks every step once more, releases the meter as removed
//! and makes the customer read-only.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::account::AccountScreen;
use super::basic_info::{
    answer_save, customer_crumb, customer_heading, customer_read, customer_write,
    leaves_or_refused_while_saving, line_at,
};
use super::bills::BillsScreen;
use super::card::{self, CardScreen, DebtPayment, Heard, ReportLost, ReportedLost};
use super::legend::{BACK, framed, usual};
use super::reading::ReadingForm;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::accounts::Movement;
use crate::db::closing::{self, CloseBlocker, CloseOutcome, Closing};
use crate::db::customers::CustomerRow;
use crate::domain::money::Money;
use crate::i18n::Lang;
use crate::ui::chrome::popup;
use crate::ui::inert::inert;
use crate::ui::text::{truncate, widest, width};
use crate::ui::theme::Theme;

/// The close of one customer's account.
#[derive(Debug, Clone)]
pub struct CloseAccountScreen {
    row: CustomerRow,
    closing: Option<Closing>,
    /// Every step is done and F2 asked: F2 again closes.
    confirming: bool,
    /// The water a meter loaded unpaid, paid on its step: asked, F2 again pays it.
    debt: DebtPayment,
    /// Money moved here or on a step's screen above: the screen below reads again once this
    /// one is left (walk s42-f: Details still said the debt paid here, `:arrears` listed it).
    changed: bool,
}

customer_read!(
    /// The close as it stands; answered with an `Option<Closing>`.
    LoadClosing => closing::closing
);

/// Closes the account with the key made on F2; answered with a [`CloseOutcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct CloseAccount {
    pub idempotency_key: String,
    pub customer_id: i64,
    pub customer_no: i64,
    pub meter_no: String,
}

customer_write!(CloseAccount, ClosedAnswer, told, |client, request| {
    closing::close(&client, &request.idempotency_key, request.customer_id)
        .await
        .map(|outcome| ClosedAnswer {
            outcome,
            customer_no: request.customer_no,
            meter_no: request.meter_no.clone(),
        })
});

/// The close's outcome with what its message names, so it is told the same wherever the
/// clerk is by then.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedAnswer {
    pub outcome: CloseOutcome,
    pub customer_no: i64,
    pub meter_no: String,
}

/// How much a balance is, whichever way it goes (the text says which).
fn unsigned(balance: Money) -> Money {
    Money::round_half_up(balance.to_decimal().abs())
}

fn number(customer_no: i64) -> String {
    format!("{customer_no:08}")
}

/// What a close's answer says: whether it is done, and the text.
fn told(answer: &ClosedAnswer, lang: Lang) -> (bool, MessageKind, String) {
    match answer.outcome {
        CloseOutcome::Closed => {
            let text = lang.tf(
                "close_account.closed",
                &[
                    ("number", &number(answer.customer_no)),
                    ("meter", &inert(&answer.meter_no)),
                ],
            );
            (true, MessageKind::Info, text)
        }
        // The other steps' texts need the figures the refusal does not carry: the screen
        // reads them again and shows the step, the message says why it is not closed.
        CloseOutcome::Refused(blocker) => {
            let text = match blocker {
                CloseBlocker::AlreadyClosed => {
                    lang.tf(why_key(blocker), &[("number", &number(answer.customer_no))])
                }
                CloseBlocker::NotFound => lang.t(why_key(blocker)).to_owned(),
                _ => lang.t("close_account.refused_changed").to_owned(),
            };
            (false, MessageKind::Error, text)
        }
    }
}

/// The catalogue key of why `blocker` stops the close.
fn why_key(blocker: CloseBlocker) -> &'static str {
    match blocker {
        CloseBlocker::NotFound => "close_account.why_not_found",
        CloseBlocker::AlreadyClosed => "close_account.why_already_closed",
        CloseBlocker::CardPending => "close_account.why_card_pending",
        CloseBlocker::FinalReading => "close_account.why_final_reading",
        CloseBlocker::UnpaidBills => "close_account.why_unpaid_bills",
        CloseBlocker::WaterOwed => "close_account.why_water_owed",
        CloseBlocker::BalanceOwed => "close_account.why_balance_owed",
        CloseBlocker::BalanceLeft => "close_account.why_balance_left",
        CloseBlocker::CardActive => "close_account.why_card_active",
    }
}

/// Why `blocker` stops the close of `closing`, with its figures and the keys that go on.
fn why(app: &App, closing: &Closing, blocker: CloseBlocker, customer_no: i64) -> String {
    let card = closing
        .card_no
        .map(|no| format!("{no:08}"))
        .unwrap_or_default();
    let owed = match blocker {
        CloseBlocker::WaterOwed => closing.water_owed,
        _ => unsigned(closing.balance),
    };
    app.tf(
        why_key(blocker),
        &[
            ("count", &closing.unpaid_bills),
            ("total", &closing.arrears),
            ("amount", &owed),
            ("card", &card),
            ("number", &number(customer_no)),
        ],
    )
}

/// `C` on the customer table's `row` or in Details: a closed customer is said at once;
/// otherwise the screen opens and reads where the close stands.
pub fn start(row: &CustomerRow, hub: &mut Hub) {
    if row.status != "active" {
        let text = hub.app.lang.tf(
            "close_account.why_already_closed",
            &[("number", &number(row.customer_no))],
        );
        hub.say(MessageKind::Error, text);
        return;
    }
    hub.open(Box::new(CloseAccountScreen {
        row: row.clone(),
        closing: None,
        confirming: false,
        debt: DebtPayment::default(),
        changed: false,
    }));
}

impl CloseAccountScreen {
    fn load(&self, hub: &mut Hub) {
        hub.send(LoadClosing {
            customer_id: self.row.id,
        });
    }

    /// F2: the step the screen offers under its list is taken (one it cannot take is said);
    /// with none left, the close is asked, then sent on F2 again. Keys wait while the close is
    /// read again (`LoadClosing` holds input), so F2 never takes a step done meanwhile.
    fn next_step(&mut self, hub: &mut Hub) {
        let Some(closing) = &self.closing else {
            return;
        };
        match closing.blocker {
            Some(blocker) if takes_a_step(blocker) => self.take(blocker, hub),
            Some(blocker) => {
                let text = why(hub.app, closing, blocker, self.row.customer_no);
                hub.say(MessageKind::Error, text);
            }
            None if self.confirming => {
                hub.say(MessageKind::Info, hub.app.t("close_account.working"));
                hub.send(CloseAccount {
                    idempotency_key: hub.app.write_key(),
                    customer_id: self.row.id,
                    customer_no: self.row.customer_no,
                    meter_no: closing.meter_no.clone(),
                });
            }
            None => {
                self.confirming = true;
                hub.app.message = None;
            }
        }
    }

    /// Opens the screen that takes the step `blocker` names.
    fn take(&mut self, blocker: CloseBlocker, hub: &mut Hub) {
        let (id, no) = (self.row.id, self.row.customer_no);
        match blocker {
            CloseBlocker::FinalReading => hub.open(Box::new(ReadingForm::final_of(id, no))),
            CloseBlocker::UnpaidBills => hub.open(Box::new(BillsScreen::of(id, no))),
            CloseBlocker::BalanceOwed => hub.open(Box::new(AccountScreen::settling(
                &self.row,
                Movement::Deposit,
            ))),
            CloseBlocker::BalanceLeft => hub.open(Box::new(AccountScreen::settling(
                &self.row,
                Movement::Refund,
            ))),
            // Paid here, without a card, once its sum and the methods are read.
            CloseBlocker::WaterOwed => self.debt.offer(id, hub),
            CloseBlocker::CardPending | CloseBlocker::CardActive => {
                hub.open(Box::new(CardScreen::new()));
            }
            CloseBlocker::NotFound | CloseBlocker::AlreadyClosed => {}
        }
    }

    fn report_lost(&mut self, hub: &mut Hub) {
        let card_active = self
            .closing
            .as_ref()
            .is_some_and(|c| c.blocker == Some(CloseBlocker::CardActive));
        if card_active && hub.allowed("card.replace") {
            hub.send(ReportLost {
                customer_id: self.row.id,
            });
        }
    }

    fn closed(&mut self, answer: &ClosedAnswer, hub: &mut Hub) {
        self.confirming = false;
        let (done, kind, text) = told(answer, hub.app.lang);
        if done {
            hub.leave();
            hub.notify(Notice::Reload);
        } else {
            // A step came undone meanwhile (a payment, a card): show where it stands now.
            self.load(hub);
        }
        hub.say(kind, text);
    }
}

/// Whether F2 can take the step `blocker` names on another screen.
fn takes_a_step(blocker: CloseBlocker) -> bool {
    !matches!(
        blocker,
        CloseBlocker::NotFound | CloseBlocker::AlreadyClosed
    )
}

/// The steps as the screen lists them: each label with its figures, and whether it is done.
fn steps(closing: &Closing, lang: Lang) -> Vec<(&'static str, String, bool)> {
    let card_meter = closing.business_model == "meter_prepaid";
    let reading = match (&closing.final_reading, card_meter) {
        (_, true) => (lang.t("close_account.reading_not_needed").to_owned(), true),
        (Some(last), false) => (
            lang.tf(
                "close_account.reading_on",
                &[("volume", &last.electronic), ("on", &last.read_on)],
            ),
            true,
        ),
        (None, false) => (lang.t("close_account.reading_missing").to_owned(), false),
    };
    let bills = if closing.unpaid_bills > 0 {
        let text = lang.tf(
            "close_account.bills_unpaid",
            &[
                ("count", &closing.unpaid_bills),
                ("total", &closing.arrears),
            ],
        );
        (text, false)
    } else {
        (lang.t("close_account.bills_none").to_owned(), true)
    };
    let owed = unsigned(closing.balance);
    let balance = match closing.balance.to_decimal() {
        // Water a meter loaded unpaid is money owed too, taken before the balance is settled.
        _ if !closing.water_owed.is_zero() => (
            lang.tf(
                "close_account.water_owed",
                &[("amount", &closing.water_owed)],
            ),
            false,
        ),
        amount if amount.is_sign_negative() && !amount.is_zero() => (
            lang.tf("close_account.balance_owed", &[("amount", &owed)]),
            false,
        ),
        amount if amount.is_zero() => (lang.t("close_account.balance_zero").to_owned(), true),
        _ => (
            lang.tf("close_account.balance_left", &[("amount", &owed)]),
            false,
        ),
    };
    let card = match closing.card_no {
        Some(no) => (
            lang.tf(
                "close_account.card_active",
                &[("card", &format!("{no:08}"))],
            ),
            false,
        ),
        None => (lang.t("close_account.card_none").to_owned(), true),
    };
    vec![
        ("close_account.step_reading", reading.0, reading.1),
        ("close_account.step_bills", bills.0, bills.1),
        ("close_account.step_balance", balance.0, balance.1),
        ("close_account.step_card", card.0, card.1),
    ]
}

impl Screen for CloseAccountScreen {
    fn has_fields(&self) -> bool {
        false
    }

    /// The payment of the water owed holds a sum the desk read, not one typed: it is answered
    /// only by a key pressed once it is seen, as a deposit paying bills is (walk s42-f: F2 F2
    /// in one burst paid it before its question was drawn).
    fn drops_type_ahead(&self) -> bool {
        self.debt.asking()
    }

    fn crumb(&self, lang: Lang) -> String {
        customer_crumb(self.row.customer_no, lang.t("close_account.title"))
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.debt.asking() {
            return DebtPayment::COMMANDS.to_vec();
        }
        if self.confirming {
            return vec![
                (Command::Save, "legend.confirm"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        let blocker = self.closing.as_ref().and_then(|c| c.blocker);
        let save = match blocker {
            None => "close_account.cmd_close",
            Some(_) => "close_account.next",
        };
        let report_lost = (blocker == Some(CloseBlocker::CardActive))
            .then_some((Command::ReportLost, "ic.legend_report_lost"));
        framed(
            [(Command::Save, save)]
                .into_iter()
                .chain(report_lost)
                .chain(usual([Command::Refresh]))
                .chain([BACK]),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let room = usize::from(area.width);
        let customer = (self.row.customer_no, self.row.name.as_str());
        customer_heading(frame, area, theme, lang.t("close_account.title"), customer);
        let Some(closing) = &self.closing else {
            let loading = format!(" {}", lang.t("close_account.loading"));
            return line_at(frame, area, 2, Line::styled(loading, theme.dim()));
        };
        let facts = lang.tf(
            "close_account.facts",
            &[
                ("meter", &inert(&closing.meter_no)),
                ("balance", &closing.balance),
            ],
        );
        line_at(
            frame,
            area,
            1,
            Line::styled(truncate(&format!(" {facts}"), room), theme.dim()),
        );
        let steps = steps(closing, lang);
        let label_width = widest(steps.iter().map(|(label, ..)| lang.t(label)));
        let mut y = 3;
        for (n, (label, facts, done)) in steps.iter().enumerate() {
            let mark = lang.t(if *done {
                "close_account.done"
            } else {
                "close_account.todo"
            });
            let label = lang.t(label);
            let pad = " ".repeat(label_width - width(label));
            let text = format!(" {mark} {} {label}{pad}  {facts}", n + 1);
            let style = if *done { theme.dim() } else { Style::default() };
            line_at(frame, area, y, Line::styled(truncate(&text, room), style));
            y += 1;
        }
        let last = format!(
            " {} {} {}",
            lang.t("close_account.todo"),
            steps.len() + 1,
            lang.t("close_account.step_close")
        );
        line_at(frame, area, y, Line::raw(truncate(&last, room)));
        let next = match closing.blocker {
            Some(blocker) => Line::styled(
                format!(" ! {}", why(app, closing, blocker, self.row.customer_no)),
                theme.error(),
            ),
            None => Line::raw(format!(" {}", app.t("close_account.ready"))),
        };
        let below = Rect {
            y: area.y + y + 2,
            height: area.height.saturating_sub(y + 2),
            ..area
        };
        frame.render_widget(Paragraph::new(next).wrap(Wrap { trim: false }), below);
        if self.confirming {
            let question = lang.tf(
                "close_account.confirm",
                &[
                    ("number", &number(self.row.customer_no)),
                    ("name", &inert(&self.row.name)),
                    ("meter", &inert(&closing.meter_no)),
                ],
            );
            let lines = vec![
                Line::raw(question),
                Line::raw(""),
                Line::from(Span::styled(
                    app.t("close_account.confirm_keys"),
                    theme.key(),
                )),
            ];
            let title = lang.t("close_account.confirm_title");
            popup(frame, area, (64, 8), title, lines, true, theme);
        }
        self.debt.draw(frame, area, app, theme);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.confirming = false;
        self.debt.put_away();
        self.load(hub);
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if leaves_or_refused_while_saving(&key, command, hub) {
            return true;
        }
        if self.debt.asking() {
            self.debt.on_key(&key, command, hub);
            return true;
        }
        match command {
            // A close waiting for the database is not cancelled: the supervisor may leave, and
            // its answer is told wherever they are.
            Some(Command::Cancel | Command::Leave) if self.confirming && hub.saving() => {
                hub.leave();
                true
            }
            Some(Command::Cancel | Command::Leave) if self.confirming => {
                self.confirming = false;
                hub.say(MessageKind::Info, hub.app.lang.t("msg.cancelled"));
                true
            }
            Some(Command::Save) => {
                self.next_step(hub);
                true
            }
            Some(Command::ReportLost) if !self.confirming => {
                self.report_lost(hub);
                true
            }
            // The confirmation takes every other key: nothing moves under it.
            _ => self.confirming,
        }
    }

    /// Left after money moved: the screen below reads what it shows again.
    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        if command == Command::Leave && self.changed {
            hub.leave();
            hub.notify(Notice::Reload);
            return true;
        }
        false
    }

    /// A step taken on a screen over this one: read where the close stands now.
    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            self.changed = true;
            self.load(hub);
        }
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        match self.debt.on_reply(reply, hub) {
            Heard::Other => {}
            Heard::Asked => return,
            Heard::Changed => {
                self.changed = true;
                return self.load(hub);
            }
        }
        if let Some(closing) = reply.of::<Option<Closing>>() {
            match closing {
                Some(closing) => {
                    self.closing = Some(closing.clone());
                    if closing.blocker.is_some() {
                        self.confirming = false;
                    }
                }
                None => hub.say(MessageKind::Error, hub.app.lang.t("details.gone")),
            }
        } else if let Some(answer) = reply.of::<ClosedAnswer>() {
            answer_save(self, answer, hub, Self::closed, told);
        } else if let Some(ReportedLost(reported)) = reply.of::<ReportedLost>() {
            match reported {
                Ok(no) => {
                    let text = hub
                        .app
                        .lang
                        .tf("ic.reported_lost", &[("card", &format!("{no:08}"))]);
                    hub.say(MessageKind::Info, text);
                }
                Err(refusal) => card::say_refusal(hub, refusal),
            }
            self.load(hub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A close refused by the database (a deposit landed after the steps were checked) says
    /// so in words, never with a template's placeholders.
    #[test]
    fn a_refused_close_says_why_in_words() {
        let blockers = [
            CloseBlocker::NotFound,
            CloseBlocker::AlreadyClosed,
            CloseBlocker::CardPending,
            CloseBlocker::FinalReading,
            CloseBlocker::UnpaidBills,
            CloseBlocker::WaterOwed,
            CloseBlocker::BalanceOwed,
            CloseBlocker::BalanceLeft,
            CloseBlocker::CardActive,
        ];
        for lang in [Lang::En, Lang::Zh] {
            for blocker in blockers {
                let answer = ClosedAnswer {
                    outcome: CloseOutcome::Refused(blocker),
                    customer_no: 10_020_003,
                    meter_no: "201600002035".into(),
                };
                let (done, kind, text) = told(&answer, lang);
                assert!(!done);
                assert_eq!(kind, MessageKind::Error);
                assert!(!text.contains('{'), "{lang:?} {blocker:?}: {text}");
            }
        }
        let closed_meanwhile = ClosedAnswer {
            outcome: CloseOutcome::Refused(CloseBlocker::AlreadyClosed),
            customer_no: 10_020_003,
            meter_no: String::new(),
        };
        assert!(told(&closed_meanwhile, Lang::En).2.contains("10020003"));
    }
}
