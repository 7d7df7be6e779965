//! A customer's account (domain.md, "Accounts"; `$` on a customer row or in Details, `r` on a
//! row without a card meter): the balance and the transactions with the balance each left,
//! paged newest first. The screen adapts to the account: a system-side prepaid account is
//! recharged (`r`), a postpaid one takes a deposit (`r`), both refund at most the balance
//! (`f`, supervisor); a card-meter account shows its transactions only and sends the clerk to
//! the card screen. Every movement is confirmed with its facts, written exactly once
//! ([`MoveMoney`], `db::accounts::move_money`) and printed; any receipt of the list is
//! reprinted marked COPY (`v`).

use crossterm::event::{KeyCode, KeyEvent};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use rust_decimal::Decimal;

use super::basic_info::{customer_crumb, tell_after_leaving};
use super::legend::{BACK, PAGING, framed, usual};
use super::receipt::{
    LoadReceipt, ReceiptLoaded, Receipted, keep_and_show, payment_choices, payment_method_name,
};
use super::reference::common::read_or_loading;
use crate::app::form::{Field, FieldKind, Form, FormKey};
use crate::app::paging::{PageApply, page_for, scroll};
use crate::app::permissions;
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::accounts::{
    self, Account, BillsToPay, LedgerLine, MoneyMove, MoveOutcome, MoveRefusal, Movement,
};
use crate::db::customers::{CustomerRow, Page, PageAt};
use crate::domain::money::Money;
use crate::domain::validation;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table};
use crate::ui::text::{coded, local};
use crate::ui::theme::Theme;

/// The form's fields.
const AMOUNT: usize = 0;
const METHOD: usize = 1;

/// The most one movement takes at the counter: a typo guard far above any real payment, which
/// the database holds too (sql/V104).
const MAX_AMOUNT: Decimal = crate::domain::money::COUNTER_MAX_AMOUNT;

/// Lines above the history's rows: the customer, the account, a blank line, the header.
const HEAD_LINES: usize = 4;

/// One customer's account.
#[derive(Debug, Clone)]
pub struct AccountScreen {
    pub customer_id: i64,
    /// Shown in the breadcrumbs while the account loads.
    pub customer_no: i64,
    pub account: Option<Account>,
    pub page: Page<LedgerLine>,
    pub selected: usize,
    pub pane: AccountPane,
    /// Open the recharge or deposit form as soon as the account is known (`r` on a row).
    start_with: Option<Movement>,
    /// The bills the deposit pays in the same step (F2 on bills the balance does not cover).
    pays: Option<BillsToPay>,
    /// What the customer's row showed unpaid when this screen opened: a deposit that pays no
    /// bill says that this stays owed.
    arrears: Money,
    /// Opened to bring the balance to zero (a close's step): the form offers the amount that
    /// does, which a typed amount replaces.
    settles: bool,
    /// Money moved here: the screen below (table, details) shows the balance, and is told
    /// to read it again when this one is left.
    moved: bool,
}

#[derive(Debug, Clone)]
pub enum AccountPane {
    History,
    /// Amount and payment method of a movement.
    Form {
        movement: Movement,
        form: Form,
    },
    /// The movement waiting for F2, with the key it is sent with (made on the first F2 and
    /// kept for another after a failure, so a write that did commit is found, not repeated).
    Confirm {
        movement: Movement,
        form: Form,
        change: MoneyMove,
        key: Option<String>,
        /// The owner the confirmation names (`Account::owner_seen`): the database refuses the
        /// movement if another desk transferred the customer since.
        owner_seen: i64,
        /// F2s pressed before a confirmation naming the desk's sum could be read, dropped.
        unread: usize,
    },
    /// A receipt as printed.
    Receipt {
        lines: Vec<String>,
    },
}

impl AccountScreen {
    /// The account of the customer on `row`, to be loaded; `start_with` opens its form.
    pub fn of(row: &CustomerRow, start_with: Option<Movement>) -> AccountScreen {
        AccountScreen {
            arrears: row.arrears,
            ..AccountScreen::for_customer(row.id, row.customer_no, start_with)
        }
    }

    pub fn for_customer(
        customer_id: i64,
        customer_no: i64,
        start_with: Option<Movement>,
    ) -> AccountScreen {
        AccountScreen {
            customer_id,
            customer_no,
            account: None,
            page: Page::default(),
            selected: 0,
            pane: AccountPane::History,
            start_with,
            pays: None,
            arrears: Money::ZERO,
            settles: false,
            moved: false,
        }
    }

    /// A deposit that pays `bills` in the same step, its form opened with what the balance
    /// lacks.
    pub fn deposit_paying(customer_id: i64, customer_no: i64, bills: BillsToPay) -> AccountScreen {
        AccountScreen {
            pays: Some(bills),
            ..AccountScreen::for_customer(customer_id, customer_no, Some(Movement::Deposit))
        }
    }

    /// The refund or the deposit that brings the account of `row` to zero.
    pub fn settling(row: &CustomerRow, movement: Movement) -> AccountScreen {
        AccountScreen {
            settles: true,
            ..AccountScreen::of(row, Some(movement))
        }
    }

    fn history_rows(app: &App) -> usize {
        app.table_rows().saturating_sub(HEAD_LINES - 1).max(1)
    }

    fn load(&self, hub: &mut Hub) {
        hub.send(LoadAccount {
            customer_id: self.customer_id,
            size: Self::history_rows(hub.app),
        });
    }

    /// Recharge, deposit or refund: the form, unless the account does not take it.
    fn start(&mut self, movement: Movement, hub: &mut Hub) {
        let Some(account) = &self.account else {
            return;
        };
        let permission = movement_permission(movement);
        let refusal = if account.business_model == "meter_prepaid" {
            Some(MoveRefusal::CardMeter)
        } else if account.status == "closed" {
            Some(MoveRefusal::Closed)
        } else if movement == Movement::Refund && account.balance <= Money::ZERO {
            Some(MoveRefusal::AboveBalance)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let text = refusal_text(hub.app, &refusal);
            hub.say(MessageKind::Error, text);
            return;
        }
        if refused_while_moving(self.customer_id, hub) || !hub.allowed(permission) {
            return;
        }
        hub.app.message = None;
        let mut form = movement_form(account, hub.app.lang);
        if let Some((lacking, _)) = lacking(&self.pays, movement, account) {
            form.set(AMOUNT, &lacking.to_string());
            form.mark_saved();
        } else if self.settles {
            let settling = match movement {
                Movement::Refund => account.balance,
                _ => Money::ZERO - account.balance,
            };
            if settling > Money::ZERO {
                form.offer(AMOUNT, &settling.to_string());
            }
        }
        self.pane = AccountPane::Form { movement, form };
    }

    /// F2 on the form: the amount (more than zero, a refund at most the balance), then the
    /// confirmation echoing the facts.
    fn confirm(&mut self, hub: &mut Hub) {
        let (AccountPane::Form { movement, form }, Some(account)) = (&mut self.pane, &self.account)
        else {
            return;
        };
        let lacking = lacking(&self.pays, *movement, account);
        let lang = hub.app.lang;
        let amount = match validation::amount(form.value(AMOUNT).trim(), MAX_AMOUNT) {
            Ok(amount) => Money::round_half_up(amount),
            Err(error) => {
                let text = crate::app::form::field_error_text(lang, &error);
                form.fail(&[(AMOUNT, text)]);
                hub.say_form_error(form);
                return;
            }
        };
        let refusal = if amount <= Money::ZERO {
            Some(lang.t("acct.more_than_zero").to_owned())
        } else if *movement == Movement::Refund && amount > account.balance {
            Some(lang.tf("acct.above_balance", &[("balance", &account.balance)]))
        } else if let Some((lacking, bills)) = lacking.filter(|(lacking, _)| amount < *lacking) {
            Some(lang.tf(
                "counter_bills.at_least",
                &[("lacking", &lacking), ("total", &bills.total)],
            ))
        } else {
            None
        };
        if let Some(text) = refusal {
            form.fail(&[(AMOUNT, text)]);
            hub.say_form_error(form);
            return;
        }
        let method = form.fields[METHOD]
            .chosen()
            .map(|choice| choice.key.clone())
            .unwrap_or_default();
        let change = MoneyMove {
            customer_id: account.customer_id,
            movement: *movement,
            amount,
            method,
            pays: lacking.map(|(_, bills)| bills.clone()),
        };
        hub.app.message = None;
        if names_the_desks_sum(&change, form) {
            hub.ask_on_screen_to_be_read();
        }
        self.pane = AccountPane::Confirm {
            movement: *movement,
            form: form.clone(),
            change,
            key: None,
            owner_seen: account.owner_seen,
            unread: 0,
        };
    }

    /// F2 on the confirmation: sent with its key.
    fn send(&mut self, hub: &mut Hub) {
        // Parked (keys wait while it is on its way): F2 again sends nothing and says why, lest
        // the clerk think the key lost (or the save).
        if hub.saving() {
            let parked = hub.app.lang.t("db.write_parked");
            hub.say(MessageKind::Info, parked);
            return;
        }
        let AccountPane::Confirm {
            change,
            form,
            key,
            owner_seen,
            unread,
            ..
        } = &mut self.pane
        else {
            return;
        };
        // A sum the desk worked out: an F2 typed before it could be read moves nothing.
        if names_the_desks_sum(change, form) && hub.asked_unread() {
            *unread += 1;
            hub.app.message = None;
            return hub.drop_unread_key("", *unread);
        }
        let key = key.get_or_insert_with(|| hub.app.write_key()).clone();
        hub.send(MoveMoney {
            change: change.clone(),
            idempotency_key: key,
            owner_seen: Some(*owner_seen),
        });
        hub.say(MessageKind::Info, hub.app.lang.t("acct.saving"));
    }

    fn reprint(&mut self, hub: &mut Hub) {
        // Each copy is counted and printed: a `#` pressed again before the copy came back
        // would print another (a tired clerk's six presses, six copies).
        if hub.asking(|request| request.of::<LoadReceipt>().is_some_and(|asked| asked.copy)) {
            return;
        }
        let Some(receipt_no) = self
            .page
            .rows
            .get(self.selected)
            .and_then(|line| line.receipt_no)
        else {
            hub.say(MessageKind::Error, hub.app.lang.t("acct.no_receipt"));
            return;
        };
        hub.send(LoadReceipt {
            receipt_no,
            copy: true,
        });
    }

    fn page_command(&mut self, command: Command, hub: &mut Hub) {
        let Some(account) = &self.account else {
            return;
        };
        if let Some((at, apply)) = page_for(
            &self.page,
            &mut self.selected,
            command,
            |line| line.id,
            |line| line.id,
        ) {
            let size = Self::history_rows(hub.app);
            hub.forget(|request| request.of::<LoadHistory>().is_some());
            hub.send(LoadHistory {
                account_id: account.account_id,
                at,
                size,
                apply,
            });
        }
    }

    fn move_selection(&mut self, step: isize, hub: &mut Hub) {
        let Some(account) = &self.account else {
            return;
        };
        if let Some((at, apply)) = scroll(&self.page, &mut self.selected, step, |line| line.id) {
            hub.send(LoadHistory {
                account_id: account.account_id,
                at,
                size: Self::history_rows(hub.app),
                apply,
            });
        }
    }

    fn show_page(&mut self, page: &Page<LedgerLine>, apply: PageApply) {
        let keep = |page: &Page<LedgerLine>, id: Option<i64>| {
            id.and_then(|id| page.rows.iter().position(|line| line.id == id))
        };
        self.selected = match apply {
            PageApply::Search => 0,
            PageApply::Select(index) => index,
            PageApply::Keep(id) => keep(page, id).unwrap_or(0),
            PageApply::ScrollDown => page.rows.len(),
            PageApply::ScrollUp => 0,
        }
        .min(page.rows.len().saturating_sub(1));
        self.page = page.clone();
    }

    fn on_moved(&mut self, moved: &Moved, hub: &mut Hub) {
        match &moved.outcome {
            MoveOutcome::Moved { receipt_no } => {
                self.moved = true;
                // Paid: another deposit here is only a deposit.
                self.pays = None;
                let text = hub.app.lang.tf("acct.moved", &[("receipt", receipt_no)]);
                let lines = moved.keep_and_show(hub).unwrap_or_default();
                self.pane = AccountPane::Receipt { lines };
                hub.say(MessageKind::Info, text);
                self.load(hub);
            }
            MoveOutcome::Refused(refusal) => {
                let text = refusal_text(hub.app, refusal);
                if let AccountPane::Confirm { movement, form, .. } = &self.pane {
                    let (movement, mut form) = (*movement, form.clone());
                    // A method no longer taken is the method field's to change; the rest the
                    // amount's.
                    let field = match refusal {
                        MoveRefusal::MethodNoLongerTaken(_) => METHOD,
                        _ => AMOUNT,
                    };
                    form.fail(&[(field, text.clone())]);
                    self.pane = AccountPane::Form { movement, form };
                }
                say_refusal(hub, refusal, text);
                self.load(hub);
            }
        }
    }
}

/// Whether money of the account of `customer_id` is on its way to the database or waits for
/// it (a movement from any account screen, a payment of bills from any bills screen, even one
/// since closed, or any write of the calling screen); if so, says so. What it was sent with is
/// what will be saved: a second one, on the balance read before the first landed, would be
/// refused or pay the same bills twice.
pub(super) fn refused_while_moving(customer_id: i64, hub: &mut Hub) -> bool {
    let moving =
        hub.saving() || hub.writing(|request| request.moves_balance_of() == Some(customer_id));
    if moving {
        hub.say(MessageKind::Info, hub.app.lang.t("acct.still_saving"));
    }
    moving
}

/// Whether the confirmation of `change`, made from `form`, names a sum the desk worked out
/// rather than one the clerk typed: the bills a deposit pays (their total, and what the balance
/// lacks), or the amount that settles a closing account as the desk offered it. It is answered
/// only by an F2 pressed once it could be read ([`Hub::asked_unread`]; s45-d: `F2 F2` on the
/// form shown paid 200.00 of bills, or refunded the balance, never seen asked).
fn names_the_desks_sum(change: &MoneyMove, form: &Form) -> bool {
    change.pays.is_some() || form.fields[AMOUNT].offered
}

/// The form of a movement on `account`: amount, and the methods its customer type takes
/// (cash first, chosen).
fn movement_form(account: &Account, lang: Lang) -> Form {
    let choices = payment_choices(lang, &account.payment_methods);
    let mut form = Form::new(vec![
        Field::new(
            "acct.field_amount",
            FieldKind::Amount { max: MAX_AMOUNT },
            true,
        ),
        Field::new("acct.field_method", FieldKind::Choice(choices), true),
    ]);
    form.choose_first(METHOD);
    form.mark_saved();
    form
}

/// What a deposit must bring for the bills it pays, and those bills; `None`: it pays none.
fn lacking<'a>(
    pays: &'a Option<BillsToPay>,
    movement: Movement,
    account: &Account,
) -> Option<(Money, &'a BillsToPay)> {
    let bills = pays.as_ref().filter(|_| movement == Movement::Deposit)?;
    Some((bills.total - account.balance, bills))
}

/// Why money did not move, in the clerk's words.
fn refusal_text(app: &App, refusal: &MoveRefusal) -> String {
    match refusal {
        MoveRefusal::NoSuchCustomer => app.t("acct.no_customer"),
        MoveRefusal::Closed => app.t("acct.closed"),
        MoveRefusal::CardMeter => app.t("acct.card_meter"),
        MoveRefusal::NotPositive => app.t("acct.more_than_zero"),
        MoveRefusal::MethodNotAllowed => app.t("acct.method_not_allowed"),
        MoveRefusal::MethodNoLongerTaken(code) => app.lang.tf(
            "acct.method_no_longer_taken",
            &[(
                "method",
                &super::receipt::named_payment_method(app.lang, code, code),
            )],
        ),
        MoveRefusal::AboveBalance => app.t("acct.refund_above_balance"),
        MoveRefusal::NotPermitted => app.t("acct.not_permitted"),
        MoveRefusal::BillsChanged => app.t("bills.changed"),
        MoveRefusal::BillsNotCovered => app.t("bills.not_covered"),
        MoveRefusal::OwnerChanged { owner } => {
            app.tf("acct.owner_changed", &[("owner", &inert(owner))])
        }
    }
}

/// Says `text`, the words for `refusal`; the database's for want of a permission makes the desk
/// read the operator's permissions again.
fn say_refusal(hub: &mut Hub, refusal: &MoveRefusal, text: String) {
    let for_want_of_permission = *refusal == MoveRefusal::NotPermitted;
    permissions::say_refusal(hub, text, for_want_of_permission);
}

/// Reads the account and its newest transactions; answered with [`Loaded`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadAccount {
    pub customer_id: i64,
    pub size: usize,
}

/// The account and the first page of its history; `None`: no such customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded(pub Option<(Box<Account>, Page<LedgerLine>)>);

impl Read for LoadAccount {
    /// What the keys act on (the account's kind, its form) comes with the answer: keys typed
    /// ahead (`r`, the amount, F2) wait for it.
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let Some(account) = accounts::account(client, self.customer_id).await? else {
            return Ok(Loaded(None));
        };
        let page = accounts::history(client, account.account_id, &PageAt::First, self.size).await?;
        Ok(Loaded(Some((Box::new(account), page))))
    }
}

/// A page of the history; answered with the `Page<LedgerLine>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadHistory {
    pub account_id: i64,
    pub at: PageAt<i64>,
    pub size: usize,
    pub apply: PageApply,
}

impl Read for LoadHistory {
    /// Keys pressed meanwhile act on the page they were meant for.
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        accounts::history(client, self.account_id, &self.at, self.size).await
    }
}

/// Moves the money the clerk confirmed, exactly once per key; answered with [`Moved`].
#[derive(Debug, Clone, PartialEq)]
pub struct MoveMoney {
    pub change: MoneyMove,
    pub idempotency_key: String,
    /// The owner the clerk's screen showed (`Account::owner_seen`): refused if another desk
    /// transferred the customer since. `None`: whoever owns it (`accounts::move_money`).
    pub owner_seen: Option<i64>,
}

/// What moving answered, with the receipt as recorded when it moved.
pub type Moved = Receipted<MoveOutcome>;

impl ScreenRequest for MoveMoney {
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }

    fn moves_balance_of(&self) -> Option<i64> {
        Some(self.change.customer_id)
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let mut client = services.pool.get().await?;
            let key = &self.idempotency_key;
            let moved: Moved = match self.owner_seen {
                Some(owner_seen) => {
                    accounts::move_money_for(&mut client, key, &self.change, owner_seen).await?
                }
                None => accounts::move_money(&mut client, key, &self.change).await?,
            };
            Ok(Box::new(moved) as _)
        })
    }

    /// The clerk left the account meanwhile: the receipt is still kept and the outcome told.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some(moved) = reply.of::<Moved>() else {
            return;
        };
        match &moved.outcome {
            MoveOutcome::Moved { receipt_no } => {
                moved.keep_and_show(hub);
                let text = hub.app.lang.tf("acct.moved", &[("receipt", receipt_no)]);
                // The screen the clerk went back to reads the new balance (s38-e, by hand: the
                // table kept "0.00" beside a customer whose 50.00 and 25.00 had been saved).
                tell_after_leaving(hub, false, (true, MessageKind::Info, text));
            }
            MoveOutcome::Refused(refusal) => {
                let text = refusal_text(hub.app, refusal);
                say_refusal(hub, refusal, text);
            }
        }
    }
}

impl Screen for AccountScreen {
    fn has_fields(&self) -> bool {
        // The history, a confirmation and a receipt have none; the movement's form has two.
        matches!(self.pane, AccountPane::Form { .. })
    }

    fn crumb(&self, lang: Lang) -> String {
        customer_crumb(self.customer_no, lang.t("acct.crumb"))
    }

    /// Here a recharge takes money into the account, not onto a card.
    fn permission(&self, command: Command) -> Option<&'static str> {
        match command {
            Command::Recharge => Some(movement_permission(Movement::Deposit)),
            Command::Refund => Some(movement_permission(Movement::Refund)),
            _ => command.permission(),
        }
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        use Command::*;
        match &self.pane {
            AccountPane::History => {
                let money = match self.account.as_ref().map(|a| a.business_model.as_str()) {
                    Some("meter_prepaid") | None => Vec::new(),
                    Some("postpaid") => {
                        vec![(Recharge, "acct.cmd_deposit"), (Refund, Refund.label_key())]
                    }
                    Some(_) => vec![
                        (Recharge, "acct.cmd_recharge"),
                        (Refund, Refund.label_key()),
                    ],
                };
                framed(
                    [BACK]
                        .into_iter()
                        .chain(money)
                        .chain(usual([Reprint, Refresh]))
                        .chain(usual(PAGING)),
                )
            }
            // F3 leaves the form as F12 does, and the form's own question names both ("F3 or F12
            // again discards them"): listed, or the legend and help hid a key that works (s38-e).
            // F2 saves nothing here: it checks and asks the confirmation, as the hint says.
            AccountPane::Form { .. } => framed(
                [(Save, "acct.legend_confirm")]
                    .into_iter()
                    .chain(usual([Lookup, Leave, Cancel])),
            ),
            AccountPane::Confirm { .. } => framed([
                (Save, "acct.legend_confirm"),
                BACK,
                (Cancel, Cancel.label_key()),
            ]),
            AccountPane::Receipt { .. } => framed([BACK]),
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let Some(account) =
            read_or_loading(&self.account, "acct.loading", frame, area, (lang, theme))
        else {
            return;
        };
        let [head, body] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(area);
        frame.render_widget(Paragraph::new(head_lines(account, lang, theme)), head);
        match &self.pane {
            AccountPane::History => self.draw_history(frame, body, app, theme),
            AccountPane::Form { movement, form } => {
                draw_form(frame, body, *movement, form, account, app, theme)
            }
            AccountPane::Confirm { change, .. } => {
                // Wrapped: a long name, or the arrears' line at 80 columns, ran past the edge
                // and lost its end (s43-e).
                let lines = confirm_lines(change, account, self.arrears, app, theme);
                frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
            }
            AccountPane::Receipt { lines } => {
                let mut shown = vec![Line::styled(
                    format!(" {}", lang.t("acct.receipt_title")),
                    theme.title(),
                )];
                shown.extend(lines.iter().map(|line| Line::raw(format!("   {line}"))));
                frame.render_widget(Paragraph::new(shown), body);
            }
        }
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.load(hub);
    }

    /// A deposit paying bills, or a settling amount as offered, holds a sum the desk worked
    /// out, not one the clerk typed: its confirmation is answered only by a key pressed once it
    /// is seen (a tired clerk's F2s on a transfer refused for the bills went on through the
    /// bills and this confirmation).
    fn drops_type_ahead(&self) -> bool {
        matches!(&self.pane, AccountPane::Confirm { change, form, .. } if names_the_desks_sum(change, form))
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        match &mut self.pane {
            AccountPane::Form { form, .. } => match hub.pane_form_key(form, key, command) {
                None => {
                    self.pane = AccountPane::History;
                    true
                }
                Some(FormKey::Unhandled) => false,
                Some(FormKey::Taken) => true,
                Some(FormKey::Submit) => {
                    self.confirm(hub);
                    true
                }
            },
            AccountPane::History => match key.code {
                KeyCode::Up => {
                    self.move_selection(-1, hub);
                    true
                }
                KeyCode::Down => {
                    self.move_selection(1, hub);
                    true
                }
                _ => false,
            },
            AccountPane::Receipt { .. } if key.code == KeyCode::Enter => {
                self.pane = AccountPane::History;
                true
            }
            _ => false,
        }
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match (&self.pane, command) {
            (AccountPane::History, Command::Recharge) => self.start(Movement::Deposit, hub),
            (AccountPane::History, Command::Refund) => self.start(Movement::Refund, hub),
            (AccountPane::History, Command::Reprint) => self.reprint(hub),
            (AccountPane::History, Command::Refresh) => self.load(hub),
            (AccountPane::History, Command::Leave) if self.moved => {
                hub.leave();
                hub.notify(Notice::Reload);
            }
            (
                AccountPane::History,
                Command::PageDown | Command::PageUp | Command::First | Command::Last,
            ) => self.page_command(command, hub),
            (AccountPane::Confirm { .. }, Command::Save) => self.send(hub),
            // A movement waiting for the database cannot be edited: the clerk may leave the
            // screen, and its answer is told wherever they are (`answered_after_close`). Said
            // as the customer forms say it: the table showed nothing of the deposit still sent.
            (AccountPane::Confirm { .. }, Command::Cancel | Command::Leave) if hub.saving() => {
                hub.leave();
                hub.say(MessageKind::Info, hub.app.lang.t("db.write_parked_left"));
            }
            (AccountPane::Confirm { movement, form, .. }, Command::Cancel | Command::Leave) => {
                // What the line said was of the confirmation (its keys dropped unread).
                hub.app.message = None;
                self.pane = AccountPane::Form {
                    movement: *movement,
                    form: form.clone(),
                };
            }
            (AccountPane::Receipt { .. }, Command::Leave | Command::Cancel) => {
                self.pane = AccountPane::History
            }
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(Loaded(loaded)) = reply.of::<Loaded>() {
            match loaded {
                Some((account, page)) => {
                    self.customer_no = account.customer_no;
                    self.account = Some((**account).clone());
                    self.show_page(page, PageApply::Search);
                    if let Some(movement) = self.start_with.take() {
                        self.start(movement, hub);
                    }
                }
                None => hub.say(MessageKind::Error, hub.app.lang.t("acct.no_customer")),
            }
        } else if let (Some(asked), Some(page)) =
            (request.of::<LoadHistory>(), reply.of::<Page<LedgerLine>>())
        {
            self.show_page(page, asked.apply);
        } else if let Some(moved) = reply.of::<Moved>() {
            self.on_moved(moved, hub);
        } else if let Some(loaded) = reply.of::<ReceiptLoaded>() {
            match loaded {
                ReceiptLoaded::Found(record) => {
                    let lines = keep_and_show(record, true, hub);
                    self.pane = AccountPane::Receipt { lines };
                }
                ReceiptLoaded::Missing => hub.say(MessageKind::Error, hub.app.t("acct.no_receipt")),
                ReceiptLoaded::NotPermitted => {
                    permissions::say_refusal(hub, hub.app.t("acct.not_permitted"), true)
                }
            }
        } else if let Some(super::receipt::ReceiptKept(Err(why))) =
            reply.of::<super::receipt::ReceiptKept>()
        {
            let text = hub
                .app
                .lang
                .tf("acct.not_kept", &[("why", &inert(&why.text(hub.app.lang)))]);
            hub.say(MessageKind::Error, text);
        }
    }

    fn on_resize(&mut self, hub: &mut Hub) {
        self.load(hub);
    }
}

/// The customer and the account: kind and balance, and for a card meter where its money
/// moves.
fn head_lines(account: &Account, lang: Lang, theme: &Theme) -> Vec<Line<'static>> {
    let kind = coded(lang, "acct.model_", &account.business_model);
    let mut second = vec![Span::raw(format!(
        " {kind} · {} {}",
        lang.t("acct.balance"),
        account.balance
    ))];
    if account.status == "closed" {
        second.push(Span::styled(
            format!(" · {}", lang.t("acct.status_closed")),
            theme.error(),
        ));
    }
    let third = if account.business_model == "meter_prepaid" {
        Line::styled(format!(" {}", lang.t("acct.card_meter")), theme.dim())
    } else {
        Line::raw("")
    };
    vec![
        Line::from(vec![
            Span::styled(
                format!(" {:08}  {}", account.customer_no, inert(&account.name)),
                theme.title(),
            ),
            Span::raw(format!(
                "   {} {}",
                lang.t("acct.meter"),
                inert(&account.meter_no)
            )),
        ]),
        Line::from(second),
        third,
    ]
}

const COLUMNS: [Column; 7] = [
    Column::new("acct.col_date", 16, 0, false),
    Column::new("acct.col_kind", 10, 2, false),
    Column::new("acct.col_amount", 10, 1, true).whole(),
    Column::new("acct.col_balance", 10, 1, true).whole(),
    Column::new("acct.col_method", 6, 2, false),
    Column::new("acct.col_receipt", 7, 0, true).whole(),
    Column::new("acct.col_operator", 5, 1, false),
];

impl AccountScreen {
    fn draw_history(&self, frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
        let lang = app.lang;
        let account = self.account.as_ref();
        let cells: Vec<[String; 7]> = self
            .page
            .rows
            .iter()
            .map(|line| {
                [
                    local(&line.at, app.zone),
                    kind_label(lang, account.map(|a| a.business_model.as_str()), &line.kind),
                    line.amount.to_string(),
                    line.balance_after.to_string(),
                    line.method
                        .as_ref()
                        .map(|method| payment_method_name(lang, method))
                        .unwrap_or_default(),
                    line.receipt_no.map(|n| n.to_string()).unwrap_or_default(),
                    inert(line.operator.as_deref().unwrap_or("")).into_owned(),
                ]
            })
            .collect();
        Table::new(&COLUMNS, &cells, lang.t("acct.no_transactions"))
            .selected(Some(self.selected), COLUMNS.len())
            .draw(frame, area, (lang, theme));
    }
}

/// A ledger kind in the clerk's words: money in is a recharge on a system-prepaid account (as
/// its receipt says), in this history and in the details' latest transactions alike.
pub(super) fn kind_label(lang: Lang, business_model: Option<&str>, kind: &str) -> String {
    match (kind, business_model) {
        ("deposit", Some("system_prepaid")) => lang.t("acct.tx_recharge").to_owned(),
        _ => coded(lang, "details.tx_", kind),
    }
}

/// The title of a movement on this account.
fn movement_title(movement: Movement, account: &Account) -> &'static str {
    match (movement, account.business_model.as_str()) {
        (Movement::Refund, _) => "acct.refund_title",
        (Movement::Deposit, "postpaid") => "acct.deposit_title",
        (Movement::Deposit, _) => "acct.recharge_title",
    }
}

fn draw_form(
    frame: &mut Frame,
    area: Rect,
    movement: Movement,
    form: &Form,
    account: &Account,
    app: &App,
    theme: &Theme,
) {
    let lang = app.lang;
    let [head, fields, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(form.fields.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(area);
    let title = lang.tf(
        movement_title(movement, account),
        &[("balance", &account.balance)],
    );
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {title}"), theme.title())),
        head,
    );
    let hint = app.t("acct.form_hint");
    frame.render_widget(Paragraph::new(Line::raw(format!(" {hint}"))), foot);
    crate::ui::form::draw(frame, fields.union(foot), form, lang, theme);
}

/// "Recharge 120.00 to 10000012 Anna Schmidt by Cash?" and the keys.
fn confirm_lines(
    change: &MoneyMove,
    account: &Account,
    arrears: Money,
    app: &App,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let question = match (change.movement, account.business_model.as_str()) {
        (Movement::Refund, _) => "acct.confirm_refund",
        (Movement::Deposit, "postpaid") => "acct.confirm_deposit",
        (Movement::Deposit, _) => "acct.confirm_recharge",
    };
    let method = account
        .payment_methods
        .iter()
        .find(|method| method.code == change.method)
        .map_or_else(
            || inert(&change.method).into_owned(),
            |method| payment_method_name(app.lang, method),
        );
    let text = app.tf(
        question,
        &[
            ("amount", &change.amount),
            ("customer", &format!("{:08}", account.customer_no)),
            ("name", &inert(&account.name)),
            ("method", &method),
        ],
    );
    let mut lines = vec![
        Line::raw(""),
        Line::styled(format!(" {text}"), theme.title()),
    ];
    if let Some(bills) = &change.pays {
        let pays = app.tf(
            "counter_bills.confirm_pays",
            &[("count", &bills.bill_ids.len()), ("total", &bills.total)],
        );
        lines.push(Line::styled(format!(" {pays}"), theme.title()));
    } else if change.movement == Movement::Deposit && arrears > Money::ZERO {
        // Money taken from a customer who owes goes to the balance only: the bills are paid
        // from the bills (`b`), lest the clerk believe them paid.
        let owed = app.tf("acct.deposit_pays_no_bill", &[("arrears", &arrears)]);
        lines.push(Line::styled(format!(" {owed}"), theme.error()));
    }
    lines.extend([
        Line::raw(""),
        Line::raw(format!(" {}", app.t("acct.confirm_keys"))),
    ]);
    lines
}

/// What the operator's roles must allow for `movement` (the database asks the same).
fn movement_permission(movement: Movement) -> &'static str {
    match movement {
        Movement::Deposit => "account.deposit",
        Movement::Refund => "account.refund",
    }
}
