//! Transfer an account to a new owner (`t` on the customer table): the balance and unpaid
//! bills are read with the nature of water usage; the new owner's information (the premises
//! address offered, `BasicForm::for_next_owner`), then a
//! confirmation with the balance that stays; F2 there transfers. Unpaid bills refuse it before
//! anything else, and offer to take the payment first: F2 again opens the customer's bills,
//! and leaving them after a payment reads the preview again. Water a meter loaded unpaid (an
//! old card copy, sql/V163, V183) refuses it next, and is offered the same way: F2 again asks
//! for its payment here (`card::DebtPayment`, as the close and the details pay it), and once it
//! is paid the preview is read again. A pending card operation, read
//! with the preview, is said before the new owner is typed and on the confirmation, with the
//! way out (the database refuses the transfer until it is settled, sql/V131).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use rust_decimal::Decimal;

use super::basic_info::{
    BasicForm, LoadBasics, answer_save, change_commands, customer_crumb, customer_heading,
    customer_read, customer_write, draw_basic_form, key_to_form, leaves_or_refused_while_saving,
    line_at, operator, who,
};
use super::bills::BillsScreen;
use super::card::{DebtPayment, Heard};
use crate::app::form::Form;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::customer_changes::{self, CustomerBasics, TransferOutcome, TransferPreview};
use crate::db::customers::CustomerRow;
use crate::domain::customer_rules::{BasicInfo, Field};
use crate::domain::money::Money;
use crate::i18n::Lang;
use crate::ui::chrome::popup;
use crate::ui::inert::inert;
use crate::ui::text::{lines as text_lines, truncate};
use crate::ui::theme::Theme;

/// The confirmation's width, its frame included.
const CONFIRM_WIDTH: u16 = 64;

/// Transfer to a new owner: the new owner's information, then a confirmation.
#[derive(Debug, Clone)]
pub struct TransferView {
    pub customer_id: i64,
    pub customer_no: i64,
    /// The present owner, as the table shows them, then as read with [`Self::read`].
    pub owner: String,
    /// The present owner's information as read (with its version): what the transfer hands
    /// over, refused if another desk changed it meanwhile.
    pub read: Option<CustomerBasics>,
    pub preview: Option<TransferPreview>,
    /// Empty, for the new owner, once the nature is known.
    pub basic: Option<BasicForm>,
    /// The checked new owner, waiting for F2 to confirm.
    pub confirming: Option<BasicInfo>,
    /// F2 refused the transfer for unpaid bills or water owed and offered to take the payment
    /// first: F2 again opens the bills, or asks for the debt's payment.
    pub offered: bool,
    /// The water a meter loaded unpaid, paid from here: asked, F2 pays it.
    debt: DebtPayment,
    /// What the clerk typed for the new owner on the Modify form that was refused as a change
    /// of owner (`ModifyView`, F2 again): put on the new owner's form when it is made, so
    /// nothing is typed twice.
    carried: Vec<(Field, String)>,
}

customer_read!(
    /// The balance and the unpaid bills; answered with an `Option<TransferPreview>`.
    LoadTransferPreview => customer_changes::transfer_preview
);

/// Transfers the account, with the idempotency key made on F2; answered with a
/// [`TransferOutcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub operator_id: i64,
    pub idempotency_key: String,
    pub customer_id: i64,
    /// The present owner as the clerk read them.
    pub from: CustomerBasics,
    pub info: BasicInfo,
}

customer_write!(Transfer, TransferOutcome, told, |client, request| {
    customer_changes::transfer_from(
        &mut client,
        request.operator_id,
        &request.idempotency_key,
        &request.from,
        &request.info,
    )
    .await
});

/// The outcome of a transfer told on the message line after its screen was left: whether it
/// is done, and what to say.
fn told(outcome: &TransferOutcome, lang: Lang) -> (bool, MessageKind, String) {
    match outcome {
        TransferOutcome::Transferred { balance, .. } => {
            let text = lang.tf("transfer.done", &[("balance", &money(*balance))]);
            (true, MessageKind::Info, text)
        }
        TransferOutcome::UnpaidBills { count } => {
            (false, MessageKind::Error, unpaid_text(lang, *count))
        }
        TransferOutcome::WaterOwed { amount } => {
            (false, MessageKind::Error, owed_text(lang, *amount))
        }
        TransferOutcome::Changed { current } => {
            let owner = who(&current.info);
            let text = lang.tf("transfer.changed_left", &[("owner", &inert(&owner))]);
            (false, MessageKind::Error, text)
        }
        refused => (
            false,
            MessageKind::Error,
            lang.t(refusal_key(refused)).to_owned(),
        ),
    }
}

/// Catalogue key of a transfer refused for the customer's state.
fn refusal_key(outcome: &TransferOutcome) -> &'static str {
    match outcome {
        TransferOutcome::Closed => "modify.closed",
        TransferOutcome::NotFound => "details.gone",
        TransferOutcome::CardOperationPending => "transfer.card_pending",
        _ => "open.type_changed",
    }
}

/// The balance as the screen says it: money, two decimals, rounded half-up (the column holds
/// two, so nothing is rounded).
fn money(amount: Decimal) -> Money {
    Money::round_half_up(amount)
}

/// Why unpaid bills refuse a transfer: one text for the message line and the screen.
fn unpaid_text(lang: Lang, count: i64) -> String {
    lang.tf("transfer.unpaid", &[("count", &count)])
}

/// Why water a meter loaded unpaid refuses a transfer, on the message line.
fn owed_text(lang: Lang, amount: Money) -> String {
    lang.tf("transfer.water_owed", &[("amount", &amount)])
}

/// `t` on the customer table's `row`: a closed account has nothing to hand over, which is said
/// before any form is typed; otherwise the screen opens and asks for what it needs.
pub fn start(row: &CustomerRow, hub: &mut Hub) {
    if row.status != "active" {
        let number = format!("{:08}", row.customer_no);
        let text = hub.app.lang.tf("transfer.closed", &[("number", &number)]);
        hub.say(MessageKind::Error, text);
        return;
    }
    hub.open(Box::new(TransferView::of(
        row.id,
        row.customer_no,
        &row.name,
        Vec::new(),
    )));
}

impl TransferView {
    /// The transfer of the customer `customer_id` (number `customer_no`, owned by `owner` as
    /// the screen below shows them), the new owner's form to be filled with `carried`.
    pub fn of(
        customer_id: i64,
        customer_no: i64,
        owner: &str,
        carried: Vec<(Field, String)>,
    ) -> TransferView {
        TransferView {
            customer_id,
            customer_no,
            owner: owner.to_owned(),
            preview: None,
            read: None,
            basic: None,
            confirming: None,
            offered: false,
            debt: DebtPayment::default(),
            carried,
        }
    }

    /// The unpaid bills that refuse the transfer, once the preview has counted any.
    pub fn unpaid_bills(&self) -> Option<i64> {
        self.preview
            .as_ref()
            .map(|p| p.unpaid_bills)
            .filter(|count| *count > 0)
    }

    /// What the customer owes for water a meter loaded unpaid, once the preview has read a
    /// debt (and no unpaid bills, said first): the present owner pays it before a transfer.
    pub fn water_owed(&self) -> Option<Money> {
        self.preview
            .as_ref()
            .map(|p| p.water_owed)
            .filter(|owed| self.unpaid_bills().is_none() && !owed.is_zero())
    }

    /// Whether the preview read a pending card operation (and no unpaid bills nor debt, said
    /// first).
    pub fn card_operation_pending(&self) -> bool {
        self.unpaid_bills().is_none()
            && self.water_owed().is_none()
            && self
                .preview
                .as_ref()
                .is_some_and(|p| p.card_operation_pending)
    }

    /// The new owner's form; none while the confirmation is shown.
    fn form_mut(&mut self) -> Option<&mut Form> {
        match self.confirming {
            Some(_) => None,
            None => self.basic.as_mut().map(|basic| &mut basic.form),
        }
    }

    /// F2 on the form asks for confirmation; F2 on the confirmation transfers.
    fn submit(&mut self, hub: &mut Hub) {
        let lang = hub.app.lang;
        if let Some(count) = self.unpaid_bills() {
            // Refused, but the payment can be taken first: the bills, and back here.
            if std::mem::take(&mut self.offered) {
                hub.open(Box::new(BillsScreen::of(
                    self.customer_id,
                    self.customer_no,
                )));
            } else {
                self.offered = true;
                let text = hub
                    .app
                    .tf("counter_bills.transfer_unpaid", &[("count", &count)]);
                hub.say(MessageKind::Error, text);
            }
            return;
        }
        if let Some(owed) = self.water_owed() {
            // Refused, but the payment can be taken here first: asked (F2 again pays), then the
            // preview is read again. A second F2, as for the bills: a form typed ahead with F2 F2
            // behind it ends on the question, never on a payment.
            if std::mem::take(&mut self.offered) {
                self.debt.offer(self.customer_id, hub);
            } else {
                self.offered = true;
                let text = hub
                    .app
                    .tf("transfer.water_owed_offer", &[("amount", &owed)]);
                hub.say(MessageKind::Error, text);
            }
            return;
        }
        if self.preview.is_none() {
            // The confirmation shows the balance that stays: not without it.
            hub.say(MessageKind::Error, hub.app.t("transfer.no_preview"));
            return;
        }
        if let (Some(info), Some(from)) = (self.confirming.clone(), self.read.clone()) {
            let request = Transfer {
                operator_id: operator(hub),
                idempotency_key: hub.app.write_key(),
                customer_id: self.customer_id,
                from,
                info,
            };
            hub.say(MessageKind::Info, lang.t("transfer.working"));
            hub.send(request);
            return;
        }
        let Some(basic) = self.basic.as_mut() else {
            return;
        };
        match basic.validate(lang, hub.app.id_policy, hub.app.today()) {
            Some(info) => {
                self.confirming = Some(info);
                hub.app.message = None;
            }
            None => hub.say_form_error(&basic.form),
        }
    }

    /// F2 while bills are unpaid or before the balance is read says so before anything else;
    /// F12/Esc/F3 on the confirmation go back to the form, everything kept, unless the transfer
    /// is on its way: then they leave the screen. True if taken.
    fn confirmation_key(&mut self, command: Option<Command>, hub: &mut Hub) -> bool {
        let refused =
            self.preview.is_none() || self.unpaid_bills().is_some() || self.water_owed().is_some();
        if command == Some(Command::Save) && refused {
            self.submit(hub);
            return true;
        }
        if self.confirming.is_none() {
            return false;
        }
        match command {
            // A transfer waiting for the database is not cancelled: the clerk may leave the
            // screen, and its answer is told wherever they are (`answered_after_close`).
            Some(Command::Cancel | Command::Leave) if hub.saving() => hub.leave(),
            Some(Command::Cancel | Command::Leave) => {
                self.confirming = None;
                hub.say(MessageKind::Info, hub.app.lang.t("msg.cancelled"));
            }
            Some(Command::Save) => self.submit(hub),
            _ => {}
        }
        true
    }

    /// The answer to the transfer, on top.
    fn transferred(&mut self, outcome: &TransferOutcome, hub: &mut Hub) {
        let lang = hub.app.lang;
        match outcome {
            TransferOutcome::Transferred { balance, .. } => {
                hub.leave();
                hub.notify(Notice::Reload);
                let text = lang.tf("transfer.done", &[("balance", &money(*balance))]);
                hub.say(MessageKind::Info, text);
            }
            TransferOutcome::UnpaidBills { count } => {
                self.confirming = None;
                hub.say(MessageKind::Error, unpaid_text(lang, *count));
            }
            // Recorded after the preview was read (the card read at another desk): said on the
            // form from now on, as the preview would have.
            TransferOutcome::WaterOwed { amount } => {
                self.confirming = None;
                if let Some(preview) = self.preview.as_mut() {
                    preview.water_owed = *amount;
                }
                hub.say(MessageKind::Error, owed_text(lang, *amount));
            }
            TransferOutcome::Changed { current } => {
                // The new owner typed stays, in the confirmation: F2 hands over the owner
                // stored now, whom it names; the balance and bills are read again.
                self.owner = who(&current.info);
                self.read = Some(current.clone());
                let owner = inert(&self.owner);
                let text = hub.app.tf("transfer.changed", &[("owner", &owner)]);
                hub.say(MessageKind::Error, text);
                hub.send(LoadTransferPreview {
                    customer_id: self.customer_id,
                });
            }
            // The new owner typed stays, in the confirmation: F2 transfers once the card's
            // operation is settled (sql/V131).
            TransferOutcome::CardOperationPending => {
                if let Some(preview) = self.preview.as_mut() {
                    preview.card_operation_pending = true;
                }
                let text = hub.app.t(refusal_key(outcome));
                hub.say(MessageKind::Error, text);
            }
            TransferOutcome::Closed
            | TransferOutcome::NotFound
            | TransferOutcome::WrongNature { .. } => {
                hub.say(MessageKind::Error, lang.t(refusal_key(outcome)))
            }
        }
    }
}

impl Screen for TransferView {
    fn unsaved(&self) -> bool {
        self.basic
            .as_ref()
            .is_some_and(|basic| basic.form.is_dirty())
    }

    /// The debt's payment holds a sum the desk read, not one typed: it is answered only by a
    /// key pressed once it is seen (walk s42-f, on the close's step: F2 F2 in one burst paid it
    /// before its question was drawn).
    fn drops_type_ahead(&self) -> bool {
        self.debt.asking()
    }

    fn crumb(&self, lang: Lang) -> String {
        customer_crumb(self.customer_no, lang.t("screen.transfer"))
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.debt.asking() {
            return DebtPayment::COMMANDS.to_vec();
        }
        if self.confirming.is_some() {
            return vec![
                (Command::Save, "legend.confirm"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        change_commands("legend.check_transfer")
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let room = usize::from(area.width);
        let customer = (self.customer_no, self.owner.as_str());
        customer_heading(frame, area, theme, lang.t("screen.transfer"), customer);
        if let Some(preview) = &self.preview {
            // What refuses the transfer, else the balance that stays.
            let refused = if let Some(count) = self.unpaid_bills() {
                Some(unpaid_text(lang, count))
            } else if let Some(owed) = self.water_owed() {
                Some(lang.tf("transfer.water_owed_line", &[("amount", &owed)]))
            } else if self.card_operation_pending() {
                Some(lang.t("transfer.card_pending_line").to_owned())
            } else {
                None
            };
            let line = match refused {
                Some(text) => Line::from(Span::styled(
                    truncate(&format!(" ! {text}"), room),
                    theme.error(),
                )),
                None => {
                    let text = lang.tf(
                        "transfer.balance_stays",
                        &[("balance", &money(preview.balance))],
                    );
                    Line::raw(truncate(&format!(" {text}"), room))
                }
            };
            line_at(frame, area, 1, line);
        }
        let note = lang.t("transfer.new_owner").to_owned();
        draw_basic_form(frame, area, self.basic.as_ref(), Some(note), lang, theme);
        if let (Some(info), Some(preview)) = (&self.confirming, &self.preview) {
            let question = lang.tf(
                "transfer.confirm",
                &[
                    ("number", &format!("{:08}", self.customer_no)),
                    ("from", &inert(&self.owner)),
                    ("to", &inert(&who(info))),
                ],
            );
            let stays = lang.tf(
                "transfer.balance_stays",
                &[("balance", &money(preview.balance))],
            );
            let mut lines = vec![
                Line::raw(question),
                Line::raw(""),
                Line::raw(stays),
                Line::raw(""),
            ];
            // Said before F2 sends a transfer the database refuses until it is settled.
            let mut height = 8;
            if self.card_operation_pending() {
                let pending = text_lines(
                    lang.t("transfer.card_pending_first"),
                    usize::from(CONFIRM_WIDTH - 2),
                );
                height += pending.len() as u16 + 1;
                lines.extend(
                    pending
                        .into_iter()
                        .map(|row| Line::styled(row, theme.error())),
                );
                lines.push(Line::raw(""));
            }
            lines.push(Line::from(Span::styled(
                app.t("transfer.confirm_keys"),
                theme.key(),
            )));
            let title = lang.t("transfer.confirm_title");
            popup(
                frame,
                area,
                (CONFIRM_WIDTH, height),
                title,
                lines,
                true,
                theme,
            );
        }
        self.debt.draw(frame, area, app, theme);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        let customer_id = self.customer_id;
        hub.send(LoadTransferPreview { customer_id });
        hub.send(LoadBasics { customer_id });
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        // The payment asked takes every key.
        if self.debt.asking() {
            self.debt.on_key(&key, command, hub);
            return true;
        }
        if command != Some(Command::Save) {
            self.offered = false;
        }
        leaves_or_refused_while_saving(&key, command, hub)
            || self.confirmation_key(command, hub)
            || key_to_form(self, Self::form_mut, Self::submit, (key, command), hub)
    }

    /// Bills paid over this screen: the transfer may be allowed now.
    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            hub.send(LoadTransferPreview {
                customer_id: self.customer_id,
            });
        }
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        match self.debt.on_reply(reply, hub) {
            Heard::Other => {}
            Heard::Asked => return,
            // Paid (here or meanwhile): the transfer may be allowed now.
            Heard::Changed => {
                return hub.send(LoadTransferPreview {
                    customer_id: self.customer_id,
                });
            }
        }
        let lang = hub.app.lang;
        if let Some(basics) = reply.of::<Option<CustomerBasics>>() {
            match basics {
                Some(read) if !read.active => {
                    // Closed since the table was read.
                    let number = format!("{:08}", self.customer_no);
                    hub.leave();
                    // Its balance no longer matters: keys go to the table at once.
                    hub.forget(|request| request.of::<LoadTransferPreview>().is_some());
                    let text = lang.tf("transfer.closed", &[("number", &number)]);
                    hub.say(MessageKind::Error, text);
                }
                Some(read) => {
                    let mut basic = BasicForm::for_next_owner(&read.info);
                    // The fields this nature's form has (another desk may have changed it).
                    let fields = Field::of(read.info.nature());
                    for (field, value) in &self.carried {
                        if fields.contains(field) {
                            basic.set(*field, value);
                        }
                    }
                    self.basic = Some(basic);
                    self.owner = who(&read.info);
                    self.read = Some(read.clone());
                }
                None => hub.say(MessageKind::Error, lang.t("details.gone")),
            }
        } else if let Some(preview) = reply.of::<Option<TransferPreview>>() {
            self.preview = preview.clone();
            if let Some(count) = self.unpaid_bills() {
                hub.say(MessageKind::Error, unpaid_text(lang, count));
            } else if let Some(owed) = self.water_owed() {
                hub.say(MessageKind::Error, owed_text(lang, owed));
            } else if self.card_operation_pending() {
                // Before the new owner is typed, with the way out, as unpaid bills are said.
                hub.say(MessageKind::Error, lang.t("transfer.card_pending_first"));
            }
        } else if let Some(outcome) = reply.of::<TransferOutcome>() {
            answer_save(self, outcome, hub, Self::transferred, told);
        }
    }
}
