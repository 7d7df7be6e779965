//! A customer's bills (`b` on the customer table): oldest first, with the balance and arrears
//! above and the selected bill's details (tier slices, prices, VAT) below. Space chooses bills
//! to pay; F2 pays the chosen ones — all unpaid bills, oldest first, when none is chosen —
//! after a confirmation that echoes the figures, and shows, writes and prints its receipt
//! (the bills it paid, cycle and amount) as a deposit's is; `z` voids the selected unpaid
//! bill with a reason (a supervisor); `e` writes the selected bill to a text file.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::account::{AccountScreen, refused_while_moving};
use super::basic_info::{
    below, customer_crumb, customer_read, customer_write, line_at, tell_after_leaving,
};
use super::legend::{BACK, framed, usual};
use super::receipt::{ReceiptKept, Receipted};
use super::reference::common::{Sideways, more_columns};
use crate::app::file_error::FileError;
use crate::app::form::{Field, FieldKind, Form, FormKey};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, Notice, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind, Problem};
use crate::app::{App, Command, Hub, Screen};
use crate::db::accounts::BillsToPay;
use crate::db::readings::{self, Bill, Bills, PayOutcome, VoidOutcome};
use crate::domain::money::Money;
use crate::i18n::Lang;
use crate::ui::form;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table, table_width, widths_for};
use crate::ui::text::{truncate, width};
use crate::ui::theme::Theme;

/// The bills of one customer.
#[derive(Debug, Clone)]
pub struct BillsScreen {
    customer_id: i64,
    customer_no: i64,
    bills: Option<Bills>,
    selected: usize,
    chosen: BTreeSet<i64>,
    /// The bills a first F2 asked to pay: the second F2, pressed once the question could be
    /// read, pays them.
    confirming: Option<Confirming>,
    /// The reason form of a void under way, and the bill it voids.
    voiding: Option<(i64, Form)>,
    /// The receipt of the payment just made, shown in the lower pane until a key moves on.
    receipt: Option<Vec<String>>,
    /// Bills were paid or voided here (or paid by a deposit over this screen): the screen below
    /// is told when this one is left.
    bills_changed: bool,
    /// A payment here was refused for an owner another desk gave the customer meanwhile: the
    /// confirmations name the owner they pay for.
    owner_changed: bool,
    sideways: Sideways,
}

/// A payment from the balance asked, not yet answered.
#[derive(Debug, Clone)]
struct Confirming {
    paying: Vec<i64>,
    /// The question, as the message line says it.
    question: String,
    /// F2s pressed before the question could be read, dropped.
    unread: usize,
}

impl BillsScreen {
    pub fn of(customer_id: i64, customer_no: i64) -> BillsScreen {
        BillsScreen {
            customer_id,
            customer_no,
            bills: None,
            selected: 0,
            chosen: BTreeSet::new(),
            confirming: None,
            owner_changed: false,
            voiding: None,
            receipt: None,
            bills_changed: false,
            sideways: Sideways::default(),
        }
    }

    fn selected_bill(&self) -> Option<&Bill> {
        self.bills.as_ref()?.bills.get(self.selected)
    }

    /// What F2 pays: the chosen bills, or every unpaid one; oldest first.
    fn to_pay(&self) -> Vec<&Bill> {
        let Some(bills) = &self.bills else {
            return Vec::new();
        };
        bills
            .bills
            .iter()
            .filter(|bill| bill.status == "unpaid")
            .filter(|bill| self.chosen.is_empty() || self.chosen.contains(&bill.id))
            .collect()
    }
}

customer_read!(
    /// The customer's bills; answered with `Option<Bills>`.
    LoadBills => readings::bills
);

/// Pays bills from the balance, exactly once by the key made on the confirming F2.
#[derive(Debug, Clone, PartialEq)]
pub struct PayBills {
    pub idempotency_key: String,
    /// Whose bills (`moves_balance_of`).
    pub customer_id: i64,
    pub bill_ids: Vec<i64>,
    /// Their sum, as confirmed.
    pub total: Money,
    /// The owner the screen showed (`Bills::owner_seen`): refused if another desk transferred
    /// the customer since.
    pub owner_seen: i64,
}

/// What paying answered, with the receipt as recorded when the bills were paid.
pub type BillsPaid = Receipted<PayOutcome>;

impl ScreenRequest for PayBills {
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }

    fn moves_balance_of(&self) -> Option<i64> {
        Some(self.customer_id)
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let client = services.pool.get().await?;
            let outcome = readings::pay_bills_for(
                &client,
                &self.idempotency_key,
                &self.bill_ids,
                self.total,
                self.owner_seen,
            )
            .await?;
            Ok(Box::new(BillsPaid::read_back(&client, outcome).await?) as _)
        })
    }

    /// The clerk left the bills meanwhile: the receipt is still kept and the outcome told.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(paid) = reply.of::<BillsPaid>() {
            paid.keep_and_show(hub);
            let told = told_paid(&paid.outcome, hub.app);
            tell_after_leaving(hub, false, told);
        }
    }
}

fn told_paid(outcome: &PayOutcome, app: &crate::app::App) -> (bool, MessageKind, String) {
    let lang = app.lang;
    match outcome {
        PayOutcome::Paid { receipt_no } => (
            true,
            MessageKind::Info,
            lang.tf("bills.paid", &[("receipt", receipt_no)]),
        ),
        PayOutcome::NotCovered => (
            false,
            MessageKind::Error,
            lang.t("bills.not_covered").into(),
        ),
        PayOutcome::Changed => (false, MessageKind::Error, lang.t("bills.changed").into()),
        PayOutcome::OwnerChanged { owner } => (
            false,
            MessageKind::Error,
            app.tf("bills.owner_changed", &[("owner", &inert(owner))]),
        ),
    }
}

/// Voids a bill with a reason (a supervisor; the database refuses anyone else).
#[derive(Debug, Clone, PartialEq)]
pub struct VoidBill {
    pub idempotency_key: String,
    pub bill_id: i64,
    pub reason: String,
}

customer_write!(VoidBill, VoidOutcome, told_voided, |client, request| {
    readings::void_bill(&client, request.bill_id, &request.reason).await
});

fn told_voided(outcome: &VoidOutcome, lang: Lang) -> (bool, MessageKind, String) {
    match outcome {
        VoidOutcome::Voided => (true, MessageKind::Info, lang.t("bills.voided").into()),
        // Another desk's void stands; this one's reason is not kept, and the clerk is told so.
        VoidOutcome::VoidedBefore { by, reason } => (
            false,
            MessageKind::Error,
            lang.tf(
                "bills.voided_before",
                &[("by", &inert(by)), ("reason", &inert(reason))],
            ),
        ),
        VoidOutcome::Paid => (false, MessageKind::Error, lang.t("bills.paid_stays").into()),
    }
}

/// Writes a bill's text to `path`; answered with the absolute path written.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBill {
    pub path: String,
    pub text: String,
}

/// Where a bill was written.
#[derive(Debug, Clone, PartialEq)]
pub struct BillWritten(pub String);

impl ScreenRequest for WriteBill {
    fn execute<'a>(&'a self, _services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            // A file's trouble, not the database's: said as the file's, in words.
            let not_written = |error: std::io::Error| {
                Failure::Error(Problem::file(
                    "failure.file_write",
                    FileError::new(&self.path, &error),
                ))
            };
            let path = std::path::absolute(&self.path).map_err(not_written)?;
            std::fs::write(&path, &self.text).map_err(not_written)?;
            Ok(Box::new(BillWritten(path.display().to_string())) as _)
        })
    }
}

/// The bills table: at 80 columns the minimums leave room to grow the status.
const COLUMNS: [Column; 7] = [
    Column::new("bills.col_chosen", 3, 0, false),
    Column::new("bills.col_cycle", 10, 0, false),
    Column::new("bills.col_volume", 13, 1, true),
    Column::new("bills.col_amount", 14, 1, true),
    Column::new("bills.col_vat", 12, 1, true),
    Column::new("bills.col_due", 10, 0, false),
    Column::new("bills.col_status", 6, 2, false),
];

fn status_text(bill: &Bill, lang: Lang) -> &'static str {
    match bill.status.as_str() {
        "paid" => lang.t("bills.status_paid"),
        "void" => lang.t("bills.status_void"),
        _ => lang.t("bills.status_unpaid"),
    }
}

/// The bill's details as lines: its cycle, readings, each part's tier slices with their
/// prices, VAT and total. The text of a written bill, and the lower pane of the screen.
pub fn bill_lines(bills: &Bills, bill: &Bill, lang: Lang) -> Vec<String> {
    let mut lines = vec![
        lang.tf(
            "bills.head",
            &[
                ("number", &format!("{:08}", bills.customer_no)),
                ("name", &inert(&bills.name)),
                ("from", &bill.period_start),
                ("to", &bill.period_end),
                ("status", &status_text(bill, lang)),
            ],
        ),
        lang.tf(
            "bills.readings",
            &[
                ("previous", &bill.previous_reading),
                ("current", &bill.current_reading),
                ("volume", &bill.volume),
            ],
        ),
    ];
    for part in &bill.detail.parts {
        lines.push(lang.tf(
            "bills.part",
            &[
                ("from", &part.prices_from),
                ("before", &part.accumulated_before),
            ],
        ));
        for tier in &part.tiers {
            lines.push(lang.tf(
                "bills.tier",
                &[
                    ("tier", &tier.tier),
                    ("volume", &tier.volume),
                    ("price", &tier.unit_price),
                    ("amount", &tier.amount),
                ],
            ));
        }
    }
    let due = bill
        .due_date
        .map_or_else(String::new, |due| due.to_string());
    lines.push(lang.tf(
        "bills.total",
        &[("amount", &bill.amount), ("vat", &bill.vat), ("due", &due)],
    ));
    if let Some(reason) = &bill.void_reason {
        lines.push(lang.tf("bills.void_reason", &[("reason", &inert(reason))]));
    }
    lines
}

impl BillsScreen {
    fn pay(&mut self, hub: &mut Hub) {
        let lang = hub.app.lang;
        let paying: Vec<i64> = self.to_pay().iter().map(|bill| bill.id).collect();
        if paying.is_empty() {
            return hub.say(MessageKind::Info, lang.t("bills.nothing_to_pay"));
        }
        if refused_while_moving(self.customer_id, hub) || !hub.allowed("account.pay_bills") {
            return;
        }
        let total: Money = self.to_pay().iter().map(|bill| bill.amount).sum();
        let balance = self
            .bills
            .as_ref()
            .map_or(Money::ZERO, |bills| bills.balance);
        if balance < total {
            // The balance does not cover them: a deposit at the counter pays them.
            if hub.allowed("account.deposit") {
                let bills = BillsToPay {
                    bill_ids: paying,
                    total,
                };
                let screen =
                    AccountScreen::deposit_paying(self.customer_id, self.customer_no, bills);
                hub.open(Box::new(screen));
            }
            return;
        }
        if let Some(confirming) = self
            .confirming
            .as_mut()
            .filter(|confirming| confirming.paying == paying)
        {
            // A sum the desk worked out: an F2 typed before it could be read pays nothing.
            if hub.asked_unread() {
                confirming.unread += 1;
                return hub.drop_unread_key(&confirming.question, confirming.unread);
            }
            self.confirming = None;
            hub.say(MessageKind::Info, lang.t("bills.paying"));
            let owner_seen = self.bills.as_ref().map_or(0, |bills| bills.owner_seen);
            return hub.send(PayBills {
                idempotency_key: hub.app.write_key(),
                customer_id: self.customer_id,
                bill_ids: paying,
                total,
                owner_seen,
            });
        }
        let name = self
            .bills
            .as_ref()
            .map(|bills| inert(&bills.name).into_owned())
            .unwrap_or_default();
        let text = hub.app.tf(
            if self.owner_changed {
                "bills.confirm_pay_for"
            } else {
                "bills.confirm_pay"
            },
            &[
                ("count", &paying.len()),
                ("total", &total),
                ("balance", &balance),
                ("owner", &name),
            ],
        );
        self.confirming = Some(Confirming {
            paying,
            question: text.clone(),
            unread: 0,
        });
        hub.ask_to_be_read(text);
    }

    fn start_void(&mut self, hub: &mut Hub) {
        let Some(bill) = self.selected_bill() else {
            return;
        };
        if bill.status != "unpaid" {
            return hub.say(MessageKind::Error, hub.app.lang.t("bills.only_unpaid"));
        }
        if hub.allowed("bill.void") {
            // What the line said of another bill does not hold for this one.
            hub.app.message = None;
            let reason = Field::new("bills.f_reason", FieldKind::Text { max: 200 }, true);
            self.voiding = Some((bill.id, Form::new(vec![reason])));
        }
    }

    fn void_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let Some((bill_id, form)) = &mut self.voiding else {
            return false;
        };
        if matches!(command, Some(Command::Cancel)) {
            self.voiding = None;
            return true;
        }
        match hub.form_key(form, key, command) {
            FormKey::Taken => {}
            FormKey::Unhandled => return false,
            FormKey::Submit => {
                let request = VoidBill {
                    idempotency_key: hub.app.write_key(),
                    bill_id: *bill_id,
                    reason: form.value(0).trim().to_owned(),
                };
                self.voiding = None;
                hub.send(request);
            }
        }
        // The form's own leave closes the form, not the screen.
        true
    }

    fn write_bill(&self, hub: &mut Hub) {
        let (Some(bills), Some(bill)) = (&self.bills, self.selected_bill()) else {
            return;
        };
        let mut text = bill_lines(bills, bill, hub.app.lang).join("\n");
        text.push('\n');
        hub.send(WriteBill {
            path: format!("bill-{:08}-{}.txt", bills.customer_no, bill.period_start),
            text,
        });
    }

    fn answered(&mut self, done: bool, told: (bool, MessageKind, String), hub: &mut Hub) {
        let (_, kind, text) = told;
        if done {
            self.chosen.clear();
            self.bills_changed = true;
        }
        hub.send(LoadBills {
            customer_id: self.customer_id,
        });
        hub.say(kind, text);
    }
}

/// The key that ticks (or unticks) the selected unpaid bill to pay, as the help names it.
const TICK: KeyCode = KeyCode::Char(' ');
const TICK_NAME: &str = "Space";

impl Screen for BillsScreen {
    fn has_fields(&self) -> bool {
        // Only the void pane has a field (its reason).
        self.voiding.is_some()
    }

    fn crumb(&self, lang: Lang) -> String {
        customer_crumb(self.customer_no, lang.t("bills.title"))
    }

    fn keys(&self) -> Vec<(&'static str, &'static str)> {
        if self.voiding.is_some() {
            return Vec::new();
        }
        vec![(TICK_NAME, "bills.tick")]
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.voiding.is_some() {
            return vec![
                (Command::Help, "command.help"),
                (Command::Save, "bills.void"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        framed(
            [(Command::Save, "bills.pay")]
                .into_iter()
                .chain(usual([
                    Command::VoidBill,
                    Command::Export,
                    Command::Refresh,
                ]))
                .chain([BACK])
                // After Back: the legend keeps the way out when it has no room for them.
                .chain(usual([Command::First, Command::Last])),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let Some(bills) = &self.bills else {
            let loading = format!("  {}", lang.t("customers.loading"));
            return line_at(frame, area, 0, Line::raw(loading));
        };
        // The minimums hold every figure a bill can have: no row is measured.
        let widths = widths_for::<[String; 0]>(&COLUMNS, &[], area.width);
        let hidden = table_width(&widths).saturating_sub(area.width);
        // The name gives way to the figures: cut, a balance or arrears would be another sum
        // (s44-e, by hand at 60×20: "欠费 13" for 1345.41).
        let head = |name: &str| {
            let text = lang.tf(
                "bills.account",
                &[
                    ("name", &name),
                    ("balance", &bills.balance),
                    ("arrears", &bills.arrears()),
                ],
            );
            format!(" {}{text}", more_columns(lang, hidden > 0))
        };
        let room = usize::from(area.width).saturating_sub(width(&head("")));
        let name = truncate(&inert(&bills.name), room);
        line_at(
            frame,
            area,
            0,
            Line::from(Span::styled(head(&name), theme.title())),
        );
        if let Some(receipt) = &self.receipt {
            let title = Line::styled(format!(" {}", lang.t("acct.receipt_title")), theme.title());
            line_at(frame, area, 1, title);
            for (y, text) in receipt.iter().enumerate() {
                line_at(frame, area, 2 + y as u16, Line::raw(format!("   {text}")));
            }
            return;
        }
        let cells: Vec<[String; 7]> = bills
            .bills
            .iter()
            .map(|bill| {
                let mark = if self.chosen.contains(&bill.id) {
                    "[x]"
                } else {
                    "[ ]"
                };
                [
                    mark.to_owned(),
                    bill.period_start.to_string(),
                    bill.volume.to_string(),
                    bill.amount.to_string(),
                    bill.vat.to_string(),
                    bill.due_date
                        .map_or_else(String::new, |due| due.to_string()),
                    status_text(bill, lang).to_owned(),
                ]
            })
            .collect();
        // The header on the line under the account's, then the rows that fit in half the
        // screen; the selected bill's details below them.
        let rows = (area.height / 2).saturating_sub(2).max(1);
        let table = Rect {
            y: area.y + 1,
            height: (rows + 1).min(area.height.saturating_sub(1)),
            ..area
        };
        Table::new(&COLUMNS, &cells, lang.t("bills.none"))
            .selected(Some(self.selected), COLUMNS.len())
            .sideways(self.sideways.0)
            .draw(frame, table, (lang, theme));
        if bills.bills.is_empty() {
            return;
        }
        let pane = below(area, 3 + rows);
        if let Some((_, form)) = &self.voiding {
            return form::draw(frame, pane, form, lang, theme);
        }
        if let Some(bill) = self.selected_bill() {
            for (y, text) in bill_lines(bills, bill, lang).into_iter().enumerate() {
                line_at(frame, pane, y as u16, Line::raw(format!(" {text}")));
            }
        }
    }

    fn on_open(&mut self, hub: &mut Hub) {
        hub.send(LoadBills {
            customer_id: self.customer_id,
        });
    }

    /// The question of a payment from the balance (figures the desk worked out) is answered
    /// only by a key pressed once it is seen, as a deposit paying bills is.
    fn drops_type_ahead(&self) -> bool {
        self.confirming.is_some()
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if self.void_key(key, command, hub) {
            return true;
        }
        // The minimums hold every figure: no row is measured.
        if self.sideways.on_key(&key, &COLUMNS, &[], hub.app) {
            return true;
        }
        // The receipt stays in view until the clerk moves on.
        self.receipt = None;
        let count = self.bills.as_ref().map_or(0, |bills| bills.bills.len());
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down if self.selected + 1 < count => self.selected += 1,
            TICK => {
                if let Some(bill) = self.selected_bill().filter(|bill| bill.status == "unpaid") {
                    let id = bill.id;
                    if !self.chosen.remove(&id) {
                        self.chosen.insert(id);
                    }
                }
            }
            KeyCode::Down => {}
            _ => return false,
        }
        self.confirming = None;
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Save => self.pay(hub),
            Command::VoidBill => self.start_void(hub),
            Command::Export => self.write_bill(hub),
            // Home and End, as in every list: the first or the last bill selected.
            Command::First | Command::Last => {
                let count = self.bills.as_ref().map_or(0, |bills| bills.bills.len());
                self.selected = match command {
                    Command::First => 0,
                    _ => count.saturating_sub(1),
                };
                self.confirming = None;
            }
            Command::Leave if self.bills_changed => {
                hub.leave();
                hub.notify(Notice::Reload);
            }
            _ => {
                self.confirming = None;
                return false;
            }
        }
        true
    }

    /// A deposit that paid bills, or money moved elsewhere: the bills read again.
    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            self.bills_changed = true;
            hub.send(LoadBills {
                customer_id: self.customer_id,
            });
        }
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let lang = hub.app.lang;
        if let Some(bills) = reply.of::<Option<Bills>>() {
            match bills {
                Some(bills) => {
                    self.selected = self.selected.min(bills.bills.len().saturating_sub(1));
                    // Paid meanwhile (a deposit over this screen) or voided: no longer to pay.
                    let unpaid = |id: &i64| {
                        let bill = bills.bills.iter().find(|bill| bill.id == *id);
                        bill.is_some_and(|bill| bill.status == "unpaid")
                    };
                    self.chosen.retain(unpaid);
                    self.bills = Some(bills.clone());
                }
                None => hub.say(MessageKind::Error, lang.t("details.gone")),
            }
        } else if let Some(paid) = reply.of::<BillsPaid>() {
            if let PayOutcome::OwnerChanged { .. } = paid.outcome {
                self.owner_changed = true;
            }
            self.receipt = paid.keep_and_show(hub);
            let told = told_paid(&paid.outcome, hub.app);
            self.answered(told.0, told, hub);
        } else if let Some(ReceiptKept(Err(why))) = reply.of::<ReceiptKept>() {
            let text = lang.tf("acct.not_kept", &[("why", &inert(&why.text(lang)))]);
            hub.say(MessageKind::Error, text);
        } else if let Some(outcome) = reply.of::<VoidOutcome>() {
            let told = told_voided(outcome, lang);
            self.answered(told.0, told, hub);
        } else if let Some(BillWritten(path)) = reply.of::<BillWritten>() {
            hub.say(
                MessageKind::Info,
                lang.tf("bills.written", &[("path", path)]),
            );
        }
    }
}
