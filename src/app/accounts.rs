//! The customer-management screens' state and their part of `update` (still pure: requests
//! are returned, never executed): the account-opening wizard (customer type → basic
//! information → meter), modifying the basic information and transferring to a new owner.

use crossterm::event::{Event, KeyCode, KeyEvent};
use rust_decimal::Decimal;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::command::Command;
use super::form::{Choice, Field as FormField, FieldKind, Form, field_error_text, halfwidth_key};
use super::saving::{SavedFrom, Saving, answered};
use super::screen::Notice;
use super::state::*;
use super::update::{Outgoing, leave, say, send};
use crate::db::customer_changes::{
    CustomerBasics, ModifyOutcome, OpenOutcome, TransferOutcome, TransferPreview,
};
use crate::db::customer_types::CustomerTypeOption;
use crate::db::customers::CustomerRow;
use crate::db::meters::Meter;
use crate::domain::customer_rules::{BasicInfo, Field, Nature};
use crate::domain::validation::{self, IdDocumentPolicy};
use crate::i18n::Lang;

/// Meters shown per page in step 3.
pub const METER_PAGE: usize = 12;

// ───────────────────────────── Basic information form ─────────────────────────────

/// The basic-information form of one nature of water usage (domain::customer_rules).
#[derive(Debug, Clone)]
pub struct BasicForm {
    pub nature: Nature,
    pub form: Form,
}

/// Catalogue key of a basic-information field's label.
pub fn label_key(field: Field) -> &'static str {
    match field {
        Field::Name => "basic.name",
        Field::IdDocumentNo => "basic.id_document_no",
        Field::Mobile => "basic.mobile",
        Field::Address => "basic.address",
        Field::HouseholdSize => "basic.household_size",
        Field::Email => "basic.email",
        Field::CompanyName => "basic.company_name",
        Field::RegistrationNo => "basic.registration_no",
        Field::ContactPerson => "basic.contact_person",
        Field::Phone => "basic.phone",
        Field::Label => "basic.label",
        Field::Location => "basic.location",
        Field::Remark => "basic.remark",
    }
}

fn kind_of(field: Field) -> FieldKind {
    let text = |max| FieldKind::Text { max };
    match field {
        Field::Name | Field::ContactPerson => text(validation::PERSONAL_NAME_MAX),
        Field::CompanyName => text(validation::COMPANY_NAME_MAX),
        Field::Label => text(validation::LABEL_MAX),
        Field::Address | Field::Location => text(validation::ADDRESS_MAX),
        Field::Remark => text(validation::REMARK_MAX),
        Field::IdDocumentNo | Field::RegistrationNo => text(validation::DOCUMENT_NUMBER_MAX),
        Field::Email => text(validation::EMAIL_MAX),
        Field::Phone => text(20),
        Field::Mobile => FieldKind::Digits { len: 11 },
        Field::HouseholdSize => FieldKind::Digits { len: 2 },
    }
}

impl BasicForm {
    pub fn new(nature: Nature) -> BasicForm {
        let fields = Field::of(nature)
            .iter()
            .map(|&field| FormField::new(label_key(field), kind_of(field), field.is_required()))
            .collect();
        BasicForm {
            nature,
            form: Form::new(fields),
        }
    }

    /// The form filled with stored information, not dirty.
    pub fn of(info: &BasicInfo) -> BasicForm {
        let mut basic = BasicForm::new(info.nature());
        for (field, value) in info.values() {
            basic.set(field, value.as_deref().unwrap_or(""));
        }
        basic.form.mark_saved();
        basic
    }

    fn index(&self, field: Field) -> usize {
        Field::of(self.nature)
            .iter()
            .position(|&f| f == field)
            .expect("a field of the form's nature")
    }

    pub fn value(&self, field: Field) -> &str {
        self.form.value(self.index(field))
    }

    pub fn set(&mut self, field: Field, text: &str) {
        let index = self.index(field);
        self.form.set(index, text);
    }

    /// Checks the fields by kind and by the domain's rules; on errors the form shows them all
    /// and the cursor goes to the first.
    pub fn validate(&mut self, lang: Lang, policy: IdDocumentPolicy) -> Option<BasicInfo> {
        let mut errors = self.form.kind_errors(lang);
        let checked =
            BasicInfo::validate(self.nature, policy, |field| self.value(field).to_owned());
        if let Err(rule_errors) = &checked {
            for (field, error) in rule_errors {
                let index = self.index(*field);
                if !errors.iter().any(|(bad, _)| *bad == index) {
                    errors.push((index, field_error_text(lang, error)));
                }
            }
        }
        errors.sort_by_key(|(index, _)| *index);
        self.form.fail(&errors);
        checked.ok().filter(|_| errors.is_empty())
    }
}

// ───────────────────────────── Open account ─────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WizardStep {
    CustomerType,
    BasicInfo,
    Meter,
}

impl WizardStep {
    pub fn number(self) -> usize {
        match self {
            WizardStep::CustomerType => 1,
            WizardStep::BasicInfo => 2,
            WizardStep::Meter => 3,
        }
    }

    pub fn title_key(self) -> &'static str {
        match self {
            WizardStep::CustomerType => "open.step_type",
            WizardStep::BasicInfo => "open.step_basic",
            WizardStep::Meter => "open.step_meter",
        }
    }
}

/// Step 3's list of uninstalled meters, searched in the database by number prefix as typed.
#[derive(Debug, Clone, Default)]
pub struct MeterPick {
    pub search: Input,
    pub rows: Vec<Meter>,
    pub selected: usize,
    /// More meters after the last row.
    pub more: bool,
    /// The `after` of every page down to the one on screen (keyset paging).
    pub pages: Vec<Option<String>>,
    pub loading: bool,
}

impl MeterPick {
    pub fn selected_meter(&self) -> Option<&Meter> {
        self.rows.get(self.selected)
    }
}

/// The account-opening wizard.
#[derive(Debug, Clone)]
pub struct OpenAccount {
    pub step: WizardStep,
    /// Until the customer types arrive.
    pub types: Option<Vec<CustomerTypeOption>>,
    /// Step 1: one choice field.
    pub type_form: Form,
    /// Step 2, built for the chosen type's nature; kept when going back, rebuilt only when a
    /// type of another nature is chosen.
    pub basic: Option<BasicForm>,
    /// Step 2 as validated when moving to step 3.
    pub info: Option<BasicInfo>,
    pub meters: MeterPick,
    /// F3 with typed information was pressed once.
    pub asked_leave: bool,
    /// The save sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
}

impl OpenAccount {
    fn new() -> OpenAccount {
        OpenAccount {
            step: WizardStep::CustomerType,
            types: None,
            type_form: type_form(&[]),
            basic: None,
            info: None,
            meters: MeterPick::default(),
            asked_leave: false,
            saving: None,
        }
    }

    /// The customer type chosen in step 1.
    pub fn customer_type(&self) -> Option<&CustomerTypeOption> {
        let key = self.type_form.fields[0].chosen()?.key.clone();
        self.types
            .as_ref()?
            .iter()
            .find(|t| t.id.to_string() == key)
    }

    fn is_dirty(&self) -> bool {
        self.type_form.is_dirty()
            || self.basic.as_ref().is_some_and(|b| b.form.is_dirty())
            || !self.meters.search.value().is_empty()
    }

    /// The form of the step on screen; step 3 has none (its list takes the keys).
    pub fn form_mut(&mut self) -> Option<&mut Form> {
        match self.step {
            WizardStep::CustomerType => Some(&mut self.type_form),
            WizardStep::BasicInfo => self.basic.as_mut().map(|b| &mut b.form),
            WizardStep::Meter => None,
        }
    }
}

fn type_form(types: &[CustomerTypeOption]) -> Form {
    let choices = types
        .iter()
        .map(|t| Choice {
            key: t.id.to_string(),
            label: t.name.clone(),
        })
        .collect();
    Form::new(vec![FormField::new(
        "open.customer_type",
        FieldKind::Choice(choices),
        true,
    )])
}

/// `o` / `:open` on the customer table.
pub fn start_open_account(app: &mut App, out: &mut Vec<Outgoing>) {
    super::update::open(app, Slot::OpenAccount(Box::new(OpenAccount::new())));
    send(app, Request::CustomerTypes, out);
}

/// The wizard's keys before its form (leaving asks about everything typed in any step) and in
/// step 3 (the meter list). True if the key was taken.
pub fn wizard_key(
    app: &mut App,
    key: KeyEvent,
    command: Option<Command>,
    out: &mut Vec<Outgoing>,
) -> bool {
    let Slot::OpenAccount(wizard) = &mut app.screen else {
        return false;
    };
    let lookup_open = wizard.form_mut().is_some_and(|f| f.lookup.is_some());
    if matches!(command, Some(Command::Leave | Command::Cancel)) && !lookup_open {
        if wizard.is_dirty() && !wizard.asked_leave {
            wizard.asked_leave = true;
            say(app, MessageKind::Info, app.t("form.ask_leave"));
        } else {
            leave(app);
        }
        return true;
    }
    wizard.asked_leave = false;
    if wizard.step != WizardStep::Meter {
        return false;
    }
    match (key.code, command) {
        (KeyCode::Up, _) => move_meter(app, -1, out),
        (KeyCode::Down, _) => move_meter(app, 1, out),
        (KeyCode::Enter, _) | (_, Some(Command::Save)) => {
            if wait_for_typed_search(app) {
                // The clerk chose from what they typed, not from the rows still on screen. It
                // goes first again: keys typed after it wait behind it.
                app.type_ahead.push_front(key);
            } else {
                open_account(app, out);
            }
        }
        (KeyCode::Char(_) | KeyCode::Backspace | KeyCode::Delete, _)
        | (KeyCode::Left | KeyCode::Right | KeyCode::Home | KeyCode::End, _) => {
            let before = wizard.meters.search.value().to_owned();
            // Meter numbers are ASCII: a full-width `Ｍ０` searches as `M0`.
            wizard
                .meters
                .search
                .handle_event(&Event::Key(halfwidth_key(key)));
            if wizard.meters.search.value() != before {
                fetch_meters(app, None, true, 0, out);
            }
        }
        _ => return false,
    }
    true
}

/// Sends the request for a page of step 3's list, superseding any on its way.
/// `select`: the row to select when the page comes (clamped).
fn fetch_meters(
    app: &mut App,
    after: Option<String>,
    typed: bool,
    select: usize,
    out: &mut Vec<Outgoing>,
) {
    let Slot::OpenAccount(wizard) = &mut app.screen else {
        return;
    };
    let Some(meter_type_ids) = wizard.customer_type().map(|t| t.meter_type_ids.clone()) else {
        return;
    };
    let prefix = wizard.meters.search.value().to_owned();
    if after.is_none() {
        wizard.meters.pages.clear();
    }
    wizard.meters.pages.push(after.clone());
    wizard.meters.loading = true;
    wizard.meters.selected = select;
    app.in_flight
        .retain(|f| !matches!(f.request, Request::UninstalledMeters { .. }));
    send(
        app,
        Request::UninstalledMeters {
            meter_type_ids,
            prefix,
            after,
            typed,
        },
        out,
    );
}

/// A meter search sent as typed is on its way: from now on it holds input, so the key that
/// chooses (and any typed after it) waits for its answer instead of superseding it.
/// False if none is on its way.
fn wait_for_typed_search(app: &mut App) -> bool {
    let search = app.in_flight.iter_mut().find_map(|f| match &mut f.request {
        Request::UninstalledMeters { typed, .. } if *typed => Some(typed),
        _ => None,
    });
    match search {
        Some(typed) => {
            *typed = false;
            true
        }
        None => false,
    }
}

/// Up/Down in step 3: within the page; past its end the next page, before its start the
/// previous one.
fn move_meter(app: &mut App, step: isize, out: &mut Vec<Outgoing>) {
    let Slot::OpenAccount(wizard) = &mut app.screen else {
        return;
    };
    let pick = &mut wizard.meters;
    match pick.selected.checked_add_signed(step) {
        Some(index) if index < pick.rows.len() => pick.selected = index,
        Some(_) if pick.more => {
            let after = pick.rows.last().map(|m| m.meter_no.clone());
            fetch_meters(app, after, false, 0, out);
        }
        None if pick.pages.len() > 1 => {
            pick.pages.pop();
            let after = pick.pages.pop().flatten();
            fetch_meters(app, after, false, usize::MAX, out);
        }
        _ => {}
    }
}

/// PgDn / PgUp: the next or previous step. Going on checks the step; going back keeps it.
pub fn wizard_step(app: &mut App, forward: bool, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    let Slot::OpenAccount(wizard) = &mut app.screen else {
        return;
    };
    match (wizard.step, forward) {
        (WizardStep::CustomerType, true) => {
            let Some(nature) = wizard.customer_type().map(|t| t.nature) else {
                wizard.type_form.check(lang);
                say(app, MessageKind::Error, app.t("open.choose_type"));
                return;
            };
            if wizard.basic.as_ref().is_none_or(|b| b.nature != nature) {
                wizard.basic = Some(BasicForm::new(nature));
            }
            wizard.step = WizardStep::BasicInfo;
            app.message = None;
        }
        (WizardStep::BasicInfo, true) => {
            let Some(basic) = wizard.basic.as_mut() else {
                return;
            };
            match basic.validate(lang, app.id_policy) {
                Some(info) => {
                    wizard.info = Some(info);
                    wizard.step = WizardStep::Meter;
                    app.message = None;
                    fetch_meters(app, None, false, 0, out);
                }
                None => super::update::say_form_error(app),
            }
        }
        (WizardStep::BasicInfo, false) => wizard.step = WizardStep::CustomerType,
        (WizardStep::Meter, false) => wizard.step = WizardStep::BasicInfo,
        (WizardStep::CustomerType, false) | (WizardStep::Meter, true) => {}
    }
}

/// F2 in step 3: opens the account in one transaction.
fn open_account(app: &mut App, out: &mut Vec<Outgoing>) {
    let Slot::OpenAccount(wizard) = &app.screen else {
        return;
    };
    let (Some(customer_type), Some(info)) = (wizard.customer_type(), wizard.info.clone()) else {
        return;
    };
    if wizard.meters.loading {
        // The list on screen does not answer the search yet (its request was parked).
        say(app, MessageKind::Error, app.lang.t("open.meters_loading"));
        return;
    }
    let Some(meter) = wizard.meters.selected_meter() else {
        say(app, MessageKind::Error, app.lang.t("open.choose_meter"));
        return;
    };
    let idempotency_key = app.write_key();
    let request = Request::OpenAccount {
        operator_id: operator(app),
        idempotency_key: idempotency_key.clone(),
        customer_type_id: customer_type.id,
        info,
        meter_id: meter.id,
    };
    if let Slot::OpenAccount(wizard) = &mut app.screen {
        wizard.saving = Some(idempotency_key);
    }
    say(app, MessageKind::Info, app.lang.t("open.opening"));
    send(app, request, out);
}

fn operator(app: &App) -> i64 {
    app.session.as_ref().map_or(0, |s| s.operator_id)
}

// ───────────────────────────── Modify and transfer ─────────────────────────────

/// Modify basic information: the form as read, with the version it was read at.
#[derive(Debug, Clone)]
pub struct ModifyView {
    pub customer_id: i64,
    pub customer_no: i64,
    /// Until the stored information arrives.
    pub read: Option<CustomerBasics>,
    pub basic: Option<BasicForm>,
    /// The save sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
}

/// Transfer to a new owner: the new owner's information, then a confirmation.
#[derive(Debug, Clone)]
pub struct TransferView {
    pub customer_id: i64,
    pub customer_no: i64,
    /// The present owner, as the table shows them.
    pub owner: String,
    pub preview: Option<TransferPreview>,
    /// Empty, for the new owner, once the nature is known.
    pub basic: Option<BasicForm>,
    /// The checked new owner, waiting for F2 to confirm.
    pub confirming: Option<BasicInfo>,
    /// The transfer sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
}

impl OpenAccount {
    pub fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.open_account").to_owned()
    }

    /// The commands of the wizard's step, for the legend and help.
    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        let wizard = self;
        let mut commands = vec![(Command::Help, "command.help")];
        match wizard.step {
            WizardStep::Meter => commands.push((Command::Save, "legend.open_account")),
            _ => commands.push((Command::PageDown, "legend.next_step")),
        }
        if wizard.step != WizardStep::CustomerType {
            commands.push((Command::PageUp, "legend.previous_step"));
        }
        if wizard.step == WizardStep::CustomerType {
            commands.push((Command::Lookup, "command.lookup"));
        }
        commands.extend([
            (Command::Leave, "command.leave"),
            (Command::Cancel, "command.cancel"),
        ]);
        if wizard.step == WizardStep::BasicInfo {
            commands.extend([
                (Command::NextField, "command.next_field"),
                (Command::PrevField, "command.prev_field"),
            ]);
        }
        commands
    }
}

/// The form's commands on modify and transfer (`save` names F2 there).
fn change_commands(save: &'static str) -> Vec<(Command, &'static str)> {
    vec![
        (Command::Help, "command.help"),
        (Command::Save, save),
        (Command::Leave, "command.leave"),
        (Command::Cancel, "command.cancel"),
        (Command::NextField, "command.next_field"),
        (Command::PrevField, "command.prev_field"),
    ]
}

impl ModifyView {
    pub fn crumb(&self, lang: Lang) -> String {
        format!("{:08} › {}", self.customer_no, lang.t("screen.modify"))
    }

    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        change_commands("command.save")
    }
}

impl TransferView {
    pub fn crumb(&self, lang: Lang) -> String {
        format!("{:08} › {}", self.customer_no, lang.t("screen.transfer"))
    }

    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.confirming.is_some() {
            return vec![
                (Command::Save, "legend.confirm"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        change_commands("legend.check_transfer")
    }
}

impl TransferView {
    /// The unpaid bills that refuse the transfer, once the preview has counted any.
    pub fn unpaid_bills(&self) -> Option<i64> {
        self.preview
            .as_ref()
            .map(|p| p.unpaid_bills)
            .filter(|count| *count > 0)
    }
}

/// Why unpaid bills refuse a transfer: one text for the message line and the screen.
pub fn unpaid_text(lang: Lang, count: i64) -> String {
    lang.tf("transfer.unpaid", &[("count", &count)])
}

/// `m` and `t` on the customer table's `row`: the screen opens and asks for what it needs.
pub fn start_change(app: &mut App, row: &CustomerRow, transfer: bool, out: &mut Vec<Outgoing>) {
    let (customer_id, customer_no) = (row.id, row.customer_no);
    if transfer && row.status != "active" {
        // A closed account has nothing to hand over: say so before any form is typed.
        let text = app.lang.tf(
            "transfer.closed",
            &[("number", &format!("{customer_no:08}"))],
        );
        say(app, MessageKind::Error, text);
        return;
    }
    if transfer {
        let view = TransferView {
            customer_id,
            customer_no,
            owner: row.name.clone(),
            preview: None,
            basic: None,
            confirming: None,
            saving: None,
        };
        super::update::open(app, Slot::Transfer(Box::new(view)));
        send(app, Request::TransferPreview { customer_id }, out);
    } else {
        let view = ModifyView {
            customer_id,
            customer_no,
            read: None,
            basic: None,
            saving: None,
        };
        super::update::open(app, Slot::Modify(Box::new(view)));
    }
    send(app, Request::CustomerBasics { customer_id }, out);
}

/// F2 on the modify form: nothing changed is said and nothing sent.
pub fn submit_modify(app: &mut App, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    let operator_id = operator(app);
    let idempotency_key = app.write_key();
    let Slot::Modify(view) = &mut app.screen else {
        return;
    };
    let (Some(read), Some(basic)) = (view.read.clone(), view.basic.as_mut()) else {
        return;
    };
    if !read.active {
        say(app, MessageKind::Error, lang.t("modify.closed"));
        return;
    }
    let Some(info) = basic.validate(lang, app.id_policy) else {
        return super::update::say_form_error(app);
    };
    if read.info.changed_fields(&info).is_empty() {
        say(app, MessageKind::Info, lang.t("modify.nothing_changed"));
        return;
    }
    view.saving = Some(idempotency_key.clone());
    say(app, MessageKind::Info, lang.t("modify.saving"));
    send(
        app,
        Request::Modify {
            operator_id,
            idempotency_key,
            read,
            info,
        },
        out,
    );
}

/// F2 on the transfer form asks for confirmation; F2 on the confirmation transfers.
pub fn submit_transfer(app: &mut App, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    let operator_id = operator(app);
    let idempotency_key = app.write_key();
    let Slot::Transfer(view) = &mut app.screen else {
        return;
    };
    if let Some(count) = view.unpaid_bills() {
        say(app, MessageKind::Error, unpaid_text(lang, count));
        return;
    }
    if view.preview.is_none() {
        // The confirmation shows the balance that stays: not without it.
        say(app, MessageKind::Error, app.t("transfer.no_preview"));
        return;
    }
    if let Some(info) = view.confirming.clone() {
        let customer_id = view.customer_id;
        view.saving = Some(idempotency_key.clone());
        say(app, MessageKind::Info, lang.t("transfer.working"));
        send(
            app,
            Request::Transfer {
                operator_id,
                idempotency_key,
                customer_id,
                info,
            },
            out,
        );
        return;
    }
    let Some(basic) = view.basic.as_mut() else {
        return;
    };
    match basic.validate(lang, app.id_policy) {
        Some(info) => {
            view.confirming = Some(info);
            app.message = None;
        }
        None => super::update::say_form_error(app),
    }
}

/// F2 while bills are unpaid or before the balance is read says so before anything else;
/// F12/Esc/F3 on the transfer confirmation go back to the form, everything kept.
pub fn transfer_key(app: &mut App, command: Option<Command>, out: &mut Vec<Outgoing>) -> bool {
    let Slot::Transfer(view) = &mut app.screen else {
        return false;
    };
    let refused = view.preview.is_none() || view.unpaid_bills().is_some();
    if command == Some(Command::Save) && refused {
        submit_transfer(app, out);
        return true;
    }
    if view.confirming.is_none() {
        return false;
    }
    match command {
        Some(Command::Cancel | Command::Leave) => {
            view.confirming = None;
            say(app, MessageKind::Info, app.lang.t("msg.cancelled"));
        }
        Some(Command::Save) => submit_transfer(app, out),
        _ => {}
    }
    true
}

/// The amount as the confirmation shows it: two decimals.
pub fn money(amount: Decimal) -> String {
    format!("{:.2}", amount.round_dp(2))
}

// ───────────────────────────── Replies ─────────────────────────────

/// Applies a reply of one of these screens' requests; false if it is not one. The answer to
/// a save goes to the screen that sent it if that is on top; otherwise [`told_after_leaving`].
pub fn on_reply(app: &mut App, request: &Request, reply: &Reply, out: &mut Vec<Outgoing>) -> bool {
    if let Some(key) = request.customer_write_key() {
        let from = answered(app, key);
        if from != SavedFrom::Top {
            told_after_leaving(app, from, reply, out);
            return true;
        }
    }
    let lang = app.lang;
    match (&mut app.screen, reply) {
        (Slot::OpenAccount(wizard), Reply::CustomerTypes(types)) => {
            wizard.type_form = type_form(types);
            wizard.types = Some(types.clone());
            // The list is what step 1 asks: open it at once.
            wizard.type_form.lookup = Some(Default::default());
            if types.is_empty() {
                say(app, MessageKind::Error, lang.t("open.no_types"));
            }
        }
        (Slot::OpenAccount(wizard), Reply::Meters(meters)) => {
            let pick = &mut wizard.meters;
            pick.loading = false;
            pick.more = meters.len() > METER_PAGE;
            pick.rows = meters.iter().take(METER_PAGE).cloned().collect();
            pick.selected = pick.selected.min(pick.rows.len().saturating_sub(1));
        }
        (Slot::OpenAccount(wizard), Reply::Opened(outcome)) => match outcome {
            OpenOutcome::Opened(opened) => {
                let number = format!("{:08}", opened.customer_no.value());
                leave(app);
                let text = lang.tf("open.opened", &[("number", &number)]);
                super::update::notify(app, Notice::ShowCustomer(number.clone()), out);
                say(app, MessageKind::Info, text);
            }
            OpenOutcome::MeterTaken | OpenOutcome::MeterNotAllowed => {
                let key = if *outcome == OpenOutcome::MeterTaken {
                    "open.meter_taken"
                } else {
                    "open.meter_not_allowed"
                };
                fetch_meters(app, None, false, 0, out);
                say(app, MessageKind::Error, lang.t(key));
            }
            OpenOutcome::CustomerTypeGone | OpenOutcome::WrongNature { .. } => {
                wizard.step = WizardStep::CustomerType;
                send(app, Request::CustomerTypes, out);
                say(app, MessageKind::Error, lang.t("open.type_changed"));
            }
        },
        (Slot::Modify(view), Reply::Basics(basics)) => match basics {
            Some(read) => {
                view.basic = Some(BasicForm::of(&read.info));
                view.read = Some(read.clone());
                if !read.active {
                    say(app, MessageKind::Error, lang.t("modify.closed"));
                }
            }
            None => say(app, MessageKind::Error, lang.t("details.gone")),
        },
        (Slot::Transfer(view), Reply::Basics(basics)) => match basics {
            Some(read) if !read.active => {
                // Closed since the table was read.
                let number = format!("{:08}", view.customer_no);
                leave(app);
                // Its balance no longer matters: keys go to the table at once.
                app.in_flight
                    .retain(|f| !matches!(f.request, Request::TransferPreview { .. }));
                let text = lang.tf("transfer.closed", &[("number", &number)]);
                say(app, MessageKind::Error, text);
            }
            Some(read) => view.basic = Some(BasicForm::new(read.info.nature())),
            None => say(app, MessageKind::Error, lang.t("details.gone")),
        },
        (Slot::Transfer(view), Reply::TransferPreview(preview)) => {
            view.preview = preview.clone();
            if let Some(count) = view.unpaid_bills() {
                say(app, MessageKind::Error, unpaid_text(lang, count));
            }
        }
        (Slot::Modify(view), Reply::Modified(outcome)) => match outcome {
            ModifyOutcome::Saved { .. } => {
                leave(app);
                super::update::notify(app, Notice::Reload, out);
                say(app, MessageKind::Info, lang.t("modify.saved"));
            }
            ModifyOutcome::Unchanged => {
                say(app, MessageKind::Info, lang.t("modify.nothing_changed"))
            }
            ModifyOutcome::Conflict {
                changed_fields,
                current,
            } => {
                conflict(view, changed_fields, current, lang);
                let names = field_names(lang, current.info.nature(), changed_fields);
                let text = app.tf("modify.conflict", &[("fields", &names)]);
                say(app, MessageKind::Error, text);
            }
            ModifyOutcome::Closed | ModifyOutcome::NotFound | ModifyOutcome::WrongNature { .. } => {
                say(app, MessageKind::Error, lang.t(refusal_key(outcome)))
            }
        },
        (Slot::Transfer(view), Reply::Transferred(outcome)) => match outcome {
            TransferOutcome::Transferred { balance, .. } => {
                leave(app);
                super::update::notify(app, Notice::Reload, out);
                let text = lang.tf("transfer.done", &[("balance", &money(*balance))]);
                say(app, MessageKind::Info, text);
            }
            TransferOutcome::UnpaidBills { count } => {
                view.confirming = None;
                say(app, MessageKind::Error, unpaid_text(lang, *count));
            }
            TransferOutcome::Closed
            | TransferOutcome::NotFound
            | TransferOutcome::WrongNature { .. } => say(
                app,
                MessageKind::Error,
                lang.t(transfer_refusal_key(outcome)),
            ),
        },
        _ => return false,
    }
    true
}

/// Catalogue key of a modify refused for the customer's state.
fn refusal_key(outcome: &ModifyOutcome) -> &'static str {
    match outcome {
        ModifyOutcome::Closed => "modify.closed",
        ModifyOutcome::NotFound => "details.gone",
        _ => "open.type_changed",
    }
}

/// Catalogue key of a transfer refused for the customer's state.
fn transfer_refusal_key(outcome: &TransferOutcome) -> &'static str {
    match outcome {
        TransferOutcome::Closed => "modify.closed",
        TransferOutcome::NotFound => "details.gone",
        _ => "open.type_changed",
    }
}

/// The answer to a save whose screen the clerk left, or covered with another, while it
/// waited for the database: the clerk is told the outcome on the message line all the same.
/// A screen whose save is done is closed, and the customer table, if on top, shows the change.
fn told_after_leaving(app: &mut App, from: SavedFrom, reply: &Reply, out: &mut Vec<Outgoing>) {
    use MessageKind::{Error, Info};
    let lang = app.lang;
    let (done, kind, text) = match reply {
        Reply::Opened(OpenOutcome::Opened(opened)) => {
            let number = format!("{:08}", opened.customer_no.value());
            (true, Info, lang.tf("open.opened", &[("number", &number)]))
        }
        Reply::Opened(_) => (false, Error, lang.t("open.not_opened_left").to_owned()),
        Reply::Modified(ModifyOutcome::Saved { .. }) => {
            (true, Info, lang.t("modify.saved").to_owned())
        }
        Reply::Modified(ModifyOutcome::Unchanged) => {
            (true, Info, lang.t("modify.nothing_changed").to_owned())
        }
        Reply::Modified(ModifyOutcome::Conflict {
            changed_fields,
            current,
        }) => {
            let names = field_names(lang, current.info.nature(), changed_fields);
            let text = lang.tf("modify.conflict_left", &[("fields", &names)]);
            (false, Error, text)
        }
        Reply::Modified(refused) => (false, Error, lang.t(refusal_key(refused)).to_owned()),
        Reply::Transferred(TransferOutcome::Transferred { balance, .. }) => {
            let text = lang.tf("transfer.done", &[("balance", &money(*balance))]);
            (true, Info, text)
        }
        Reply::Transferred(TransferOutcome::UnpaidBills { count }) => (
            false,
            Error,
            lang.tf("transfer.unpaid", &[("count", count)]),
        ),
        Reply::Transferred(refused) => {
            let text = lang.t(transfer_refusal_key(refused)).to_owned();
            (false, Error, text)
        }
        _ => return,
    };
    if done {
        if let SavedFrom::Below(index) = from {
            app.below.remove(index);
        }
        super::update::notify(app, Notice::Reload, out);
    }
    say(app, kind, text);
}

/// The fields' labels, in the order the form of `nature` shows them.
fn field_names(lang: Lang, nature: Nature, fields: &[Field]) -> String {
    Field::of(nature)
        .iter()
        .filter(|field| fields.contains(field))
        .map(|field| lang.t(label_key(*field)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Someone saved the customer meanwhile: what they changed is marked next to each field with
/// its new value; fields the clerk had not touched take the new value, the clerk's own edits
/// stay. The form now answers the new version, so F2 saves the clerk's values knowingly.
fn conflict(view: &mut ModifyView, changed: &[Field], current: &CustomerBasics, lang: Lang) {
    let (Some(read), Some(basic)) = (&view.read, view.basic.as_mut()) else {
        return;
    };
    let before: Vec<_> = read.info.values();
    let now: Vec<_> = current.info.values();
    let mut marks = Vec::new();
    for field in changed {
        let old = value_of(&before, *field);
        let new = value_of(&now, *field);
        if basic.value(*field) == old {
            basic.set(*field, &new);
        }
        let shown = if new.is_empty() {
            "—".to_owned()
        } else {
            new
        };
        marks.push((
            basic.index(*field),
            lang.tf("modify.changed_to", &[("value", &shown)]),
        ));
    }
    marks.sort_by_key(|(index, _)| *index);
    basic.form.fail(&marks);
    view.read = Some(current.clone());
}

fn value_of(values: &[(Field, Option<String>)], field: Field) -> String {
    values
        .iter()
        .find(|(f, _)| *f == field)
        .and_then(|(_, v)| v.clone())
        .unwrap_or_default()
}
