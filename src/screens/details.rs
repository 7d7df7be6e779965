//! One customer's details (Enter on the table), loaded when the screen opens and on F5:
//! type, basic information, meter, account with its latest transactions, card, previous
//! owners. Every stored text goes through `inert`. The customer's commands of the table
//! (`row_actions`: modify, transfer, the card's) work here too, with the same keys. What a card
//! customer owes for water a meter loaded unpaid is said under the card, and `P` pays it here
//! (`card::DebtPayment`, as the close's step pays it), offered in the legend while it is owed.

use crossterm::event::KeyEvent;
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::account::kind_label;
use super::basic_info::label_key;
use super::card::{self, DebtPayment, Heard};
use super::legend::{BACK, framed, usual};
use super::receipt::payment_method_name;
use super::row_actions::{ROW_ACTIONS, act_on, labelled_on, refuse_not_offered, row_permission};
use crate::app::requests::Read;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::customers::{self, CustomerDetails, CustomerRow};
use crate::domain::customer_rules::{Field, Nature};
use crate::i18n::Lang;
use crate::ui::chrome::draw_lines;
use crate::ui::inert::inert;
use crate::ui::text::{coded, fit, local, widest, width};
use crate::ui::theme::Theme;

/// One customer's details.
#[derive(Debug, Clone)]
pub struct Details {
    /// The customer as the table showed them, then as the details read: what the row's
    /// commands act on (its number is in the breadcrumbs while the details load).
    pub row: CustomerRow,
    pub details: Option<Box<CustomerDetails>>,
    /// A change made from here (Modify, Transfer) was saved: the table below reads its page
    /// again when the clerk goes back.
    pub changed: bool,
    /// The water a meter loaded unpaid, paid from here: asked, F2 pays it.
    debt: DebtPayment,
}

/// Reads one customer's details; answered with a [`Found`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadDetails {
    pub customer_id: i64,
}

/// The details read; `None`: the customer no longer exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Found(pub Option<Box<CustomerDetails>>);

impl Read for LoadDetails {
    const TOLERATES_LAG: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let details = customers::details(client, self.customer_id).await?;
        Ok(Found(details.map(Box::new)))
    }
}

impl Details {
    /// The details of the customer on `row`, to be loaded.
    pub fn of(row: &CustomerRow) -> Details {
        Details {
            row: row.clone(),
            details: None,
            changed: false,
            debt: DebtPayment::default(),
        }
    }

    fn load(&self, hub: &mut Hub) {
        hub.send(LoadDetails {
            customer_id: self.row.id,
        });
    }

    /// Whether the details read say the customer owes for water a meter loaded unpaid.
    fn owes(&self) -> bool {
        self.details
            .as_ref()
            .and_then(|details| details.card.as_ref())
            .is_some_and(|card| card.owed.is_some())
    }
}

/// The row actions that only a card meter's customer has: the others act on every customer
/// (a recharge without a card meter is the account's).
/// The customer's row as the table would show it now, from their details.
fn row_of(details: &CustomerDetails) -> CustomerRow {
    let basic = &details.basic;
    CustomerRow {
        id: basic.id,
        customer_no: basic.customer_no,
        name: basic.name.clone(),
        customer_type: details.customer_type.name.clone(),
        meter_no: details.meter.meter_no.clone(),
        account_kind: details.account.kind.clone(),
        business_model: details.customer_type.business_model.clone(),
        balance: details.account.balance.to_decimal(),
        arrears: details.account.arrears,
        card_state: details.card.as_ref().map(|card| card.state.clone()),
        phone: basic.phone.clone(),
        address: basic.address.clone(),
        status: basic.status.clone(),
    }
}

impl Screen for Details {
    fn has_fields(&self) -> bool {
        false
    }

    /// The debt's payment holds a sum the desk read, not one typed: it is answered only by a
    /// key pressed once it is seen (walk s42-f, on the close's step: F2 F2 in one burst paid it
    /// before its question was drawn).
    fn drops_type_ahead(&self) -> bool {
        self.debt.asking()
    }

    fn crumb(&self, _lang: Lang) -> String {
        format!("{:08}", self.row.customer_no)
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.debt.asking() {
            return DebtPayment::COMMANDS.to_vec();
        }
        // Back first: with every row action offered, the legend's end is cut at 80 columns.
        // The debt's payment next, while one is owed; the card's own keys only where the
        // meter takes a card.
        framed(
            [BACK]
                .into_iter()
                .chain(
                    self.owes()
                        .then_some((Command::PayOwed, Command::PayOwed.label_key())),
                )
                .chain(labelled_on(Some(&self.row)))
                .chain(usual([Command::Refresh])),
        )
    }

    /// The payment asked takes every key.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let asking = self.debt.asking();
        if asking {
            self.debt.on_key(&key, command, hub);
        }
        asking
    }

    fn on_not_offered(&mut self, command: Command, hub: &mut Hub) -> bool {
        if command == Command::PayOwed {
            hub.say(MessageKind::Info, hub.app.lang.t("details.owes_nothing"));
            return true;
        }
        refuse_not_offered(Some(&self.row), command, hub)
    }

    fn permission(&self, command: Command) -> Option<&'static str> {
        row_permission(command, Some(&self.row))
    }

    fn key_waits(&self, key: &KeyEvent, app: &App) -> bool {
        card::waits_for_the_card_read(key, app)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let Some(details) = &self.details else {
            let loading = Line::styled(format!(" {}", app.lang.t("details.loading")), theme.dim());
            frame.render_widget(Paragraph::new(loading), area);
            return;
        };
        let lines = lines(details, app, area.width, theme);
        draw_lines(frame, area, lines);
        self.debt.draw(frame, area, app, theme);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.debt.put_away();
        self.load(hub);
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::PayOwed => self.debt.offer(self.row.id, hub),
            command if ROW_ACTIONS.contains(&command) => act_on(&self.row, command, hub),
            Command::Leave if self.changed => {
                hub.leave();
                hub.notify(Notice::Reload);
            }
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        match self.debt.on_reply(reply, hub) {
            Heard::Other => {}
            Heard::Asked => return,
            // Paid: the details (the debt's line, the balance, the latest transactions) read
            // again, and the table's page once back.
            Heard::Changed => {
                self.changed = true;
                return self.load(hub);
            }
        }
        match reply.of::<Found>() {
            Some(Found(Some(details))) => {
                self.row = row_of(details);
                self.details = Some(details.clone());
            }
            Some(Found(None)) => hub.say(MessageKind::Error, hub.app.lang.t("details.gone")),
            None => {}
        }
    }

    /// A change saved from here: the details are read again, and the table's page once back.
    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            self.changed = true;
            self.load(hub);
        }
    }
}

/// `label: value` lines with the labels padded to one width; empty values are left out.
fn fields(lang: Lang, pairs: &[(&str, Option<String>)]) -> Vec<Line<'static>> {
    let present: Vec<_> = pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (lang.t(key), v)))
        .collect();
    let label_width = widest(present.iter().map(|(label, _)| label));
    present
        .into_iter()
        .map(|(label, value)| {
            let pad = " ".repeat(label_width - width(label));
            Line::raw(format!("   {label}{pad}  {}", inert(value)))
        })
        .collect()
}

/// The details as lines for a screen `room` cells wide, times in the desk's zone.
fn lines(details: &CustomerDetails, app: &App, room: u16, theme: &Theme) -> Vec<Line<'static>> {
    let (lang, zone) = (app.lang, app.zone);
    let heading = |key: &str| Line::from(Span::styled(format!(" {}", lang.t(key)), theme.title()));
    let basic = &details.basic;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(" {:08}  {}", basic.customer_no, inert(&basic.name)),
            theme.title(),
        ),
        Span::raw(format!(
            "   {} · {}",
            inert(&details.customer_type.name),
            lang.aside(
                &coded(lang, "details.nature_", &details.customer_type.nature),
                &coded(
                    lang,
                    "details.model_",
                    &details.customer_type.business_model
                ),
            ),
        )),
    ])];
    lines.push(heading("details.basic"));
    lines.extend(fields(
        lang,
        &[
            ("details.phone", basic.phone.clone()),
            ("details.contact", basic.contact_person.clone()),
            ("details.id_document", basic.id_document_no.clone()),
            ("details.credit_code", basic.credit_code.clone()),
            (
                "details.household",
                basic.household_size.map(|n| n.to_string()),
            ),
            ("details.email", basic.email.clone()),
            ("details.address", Some(basic.address.clone())),
            ("details.remark", basic.remark.clone()),
            ("details.opened", Some(local(&basic.opened_at, zone))),
            (
                "details.closed",
                basic.closed_at.as_ref().map(|at| local(at, zone)),
            ),
        ],
    ));
    let meter = &details.meter;
    lines.push(Line::raw(format!(
        " {}  {} · {} · {}",
        lang.t("details.meter"),
        inert(&meter.meter_no),
        inert(&meter.meter_type),
        inert(&meter.caliber)
    )));
    let account = &details.account;
    let mut account_line = vec![Span::raw(format!(
        " {}  {} · {} {}",
        lang.t("details.account"),
        coded(lang, "details.kind_", &account.kind),
        lang.t("details.balance"),
        account.balance
    ))];
    // What is owed, each kind counted apart: unpaid bills, card purchases a meter loaded unpaid.
    let kinds: Vec<String> = [
        (account.unpaid_bills, "arrears.in_details_bills"),
        (account.card_debts, "arrears.in_details_card_debts"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, key)| lang.tf(key, &[("count", &count)]))
    .collect();
    if !kinds.is_empty() {
        account_line.push(Span::styled(
            format!(
                " · {}",
                lang.tf(
                    "arrears.in_details",
                    &[
                        ("amount", &account.arrears),
                        ("kinds", &kinds.join(lang.t("punct.list")))
                    ]
                )
            ),
            theme.error(),
        ));
    }
    lines.push(Line::from(account_line));
    lines.extend(card_lines(details, app));
    lines.push(heading("details.transactions"));
    if account.recent_transactions.is_empty() {
        lines.push(Line::raw(format!(
            "   {}",
            lang.t("details.no_transactions")
        )));
    }
    for transaction in &account.recent_transactions {
        let volume = transaction
            .volume
            .map(|v| format!("{v} m³"))
            .unwrap_or_default();
        let numbers = format!(
            "   {}  {} {:>11} {:>12}  ",
            local(&transaction.at, zone),
            fit(
                &kind_label(
                    lang,
                    Some(&details.customer_type.business_model),
                    &transaction.kind
                ),
                13,
                false
            ),
            transaction.amount,
            volume,
        );
        let receipt = transaction
            .receipt_no
            .map(|n| format!("#{n}"))
            .unwrap_or_default();
        // The receipt number is read out whole: the method's name gives way to it.
        let method_room = usize::from(room)
            .saturating_sub(width(&numbers) + 1 + width(&receipt))
            .min(METHOD_CELLS);
        let method = transaction
            .payment_method
            .as_ref()
            .map(|method| payment_method_name(lang, method))
            .unwrap_or_default();
        lines.push(Line::raw(format!(
            "{numbers}{} {receipt}",
            fit(&method, method_room as u16, false)
        )));
    }
    lines.push(heading("details.owners"));
    if details.owner_history.is_empty() {
        lines.push(Line::raw(format!("   {}", lang.t("details.no_owners"))));
    }
    for owner in &details.owner_history {
        let when = lang.tf(
            "details.owner_line",
            &[
                ("date", &local(&owner.transferred_at, zone)),
                ("operator", &inert(&owner.transferred_by)),
            ],
        );
        // Two lines: a long address must not push the date and the clerk off the screen.
        let kept = previous_owner(lang, &details.customer_type.nature, &owner.kept);
        lines.push(Line::raw(format!("   {kept}")));
        lines.push(Line::raw(format!("     {when}")));
    }
    lines
}

/// A previous owner's kept information, labelled as the form labels it and in its order (the
/// form of the customer's nature); a key no form has is shown as stored, last.
fn previous_owner(lang: Lang, nature: &str, kept: &[(String, String)]) -> String {
    let form = nature.parse::<Nature>().map_or(&[][..], Field::of);
    let mut fields: Vec<_> = kept
        .iter()
        .map(|(key, value)| (Field::from_key(key), key, value))
        .collect();
    fields.sort_by_key(|(field, key, _)| {
        let place = field.and_then(|field| form.iter().position(|f| *f == field));
        (place.is_none(), place, field.is_none(), *field, *key)
    });
    fields
        .into_iter()
        .map(|(field, key, value)| {
            let label = field.map_or_else(|| inert(key), |field| lang.t(label_key(field)).into());
            lang.labelled(&label, &inert(value))
        })
        .collect::<Vec<_>>()
        .join(lang.t("punct.clauses"))
}

/// Cells of a recent transaction's payment method, when the line has the room.
const METHOD_CELLS: usize = 14;

/// The card line, and what the meter has made of the last purchase on it. Without a card,
/// whether one could be opened: not where the meter takes none.
fn card_lines(details: &CustomerDetails, app: &App) -> Vec<Line<'static>> {
    let lang = app.lang;
    let label = lang.t("details.card");
    let Some(card) = &details.card else {
        let none = if card::takes_a_card(&row_of(details)) {
            "details.no_card"
        } else {
            "details.no_card_meter"
        };
        return vec![Line::raw(format!(" {label}  {}", lang.t(none)))];
    };
    let state = coded(lang, "customers.card_", &card.state);
    let line = lang.tf(
        "details.card_line",
        &[
            ("number", &format!("{:08}", card.card_no)),
            ("generation", &card.generation),
            ("state", &state),
        ],
    );
    let purchase = match (card.last_purchase_seq, card.last_purchase_loaded) {
        (Some(seq), Some(true)) => lang.tf("details.purchase_loaded", &[("seq", &seq)]),
        (Some(seq), _) => lang.tf("details.purchase_not_loaded", &[("seq", &seq)]),
        (None, _) => lang.t("details.no_purchase").to_owned(),
    };
    let indent = " ".repeat(width(label) + 3);
    let mut lines = vec![
        Line::raw(format!(" {label}  {line}")),
        Line::raw(format!("{indent}{purchase}")),
    ];
    // Water a meter loaded unpaid (sql/V163): what is owed, and where it is paid: here by the
    // key the legend offers whoever may take it (s42-b), and first by a recharge, a transfer
    // and the close (s41-g, sql/V183, V184).
    if let (Some(owed), Some(seq)) = (card.owed, card.owed_seq) {
        let paid = if app.may(Command::PayOwed.permission().unwrap_or_default()) {
            "details.owed_paid_here"
        } else {
            "details.owed_paid_by_a_clerk"
        };
        lines.extend(
            [
                app.tf("details.owed", &[("amount", &owed), ("seq", &seq)]),
                app.t(paid),
            ]
            .map(|text| Line::raw(format!("{indent}{text}"))),
        );
    }
    lines
}
