//! The reference-data screens (4.5.1 meters and meter types, 4.8.1 price schemes, 4.6.1
//! customer types): their state, the requests they send and what their replies do. Pure like
//! `update`, which hands these screens their keys, commands and replies.
//!
//! Every list is reached by a command (`:meters`, `:metertypes`, `:schemes`, `:custtypes`);
//! add and modify open a [`RefForm`] (the shared `app::form::Form`) on top of the list; a
//! delete asks once on the message line (F2 confirm, F12 cancel). Changes need the operator's
//! permission (`sql/V2`): `meter.maintain`, `meter.import`, `price.maintain`,
//! `customer_type.maintain`; viewing needs none.

use std::sync::Arc;

use chrono::NaiveDate;
use crossterm::event::{KeyCode, KeyEvent};
use rust_decimal::Decimal;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::command::Command;
use super::form::{
    CHOICES_SEPARATOR, Choice, Field, FieldKind, Form, field_error_text, halfwidth_key,
};
use super::keymap::KeyMap;
use super::paging;
use super::paging::PageApply;
use super::saving::{SavedFrom, Saving, answered};
use super::state::{App, MessageKind, Request, Slot};
use super::update::{Outgoing, open, say, send};
use crate::db::customer_types::{CustomerTypeInput, CustomerTypeOutcome, CustomerTypeRow};
use crate::db::customers::{Page, PageAt};
use crate::db::meters::{
    ImportChoice, ImportReport, MeterFields, MeterListRow, MeterListing, MeterOutcome, MeterType,
    MeterTypeDeletion, MeterTypeOutcome, MeterTypeRow,
};
use crate::db::price_schemes::{SchemeDetail, SchemeFields, SchemeOutcome, SchemeRow};
use crate::domain::customer_rules::{
    AccountKind, BusinessModel, CustomerTypeProblem, Nature, PaymentModel,
};
use crate::domain::meter_csv::{LineError, MeterCsv, MeterNo, caliber};
use crate::domain::pricing::{BillingMode, Charge, SchemeError, SchemeFieldsError, Tier};
use crate::domain::validation;
use crate::i18n::Lang;

/// Largest initial reading: the schema's `NUMERIC(12,3)`.
const MAX_READING: Decimal = crate::domain::pricing::MAX_VOLUME;
/// Tiers a scheme form offers; the last one filled has no upper bound.
pub const TIER_FIELDS: usize = 4;

// ───────────────────────────── Requests and replies ─────────────────────────────

/// Work for the database on behalf of these screens (`requests::execute`). Every change carries
/// the idempotency key made when the clerk pressed F2 ([`App::write_key`]): sent again after a
/// lost connection, it is applied once (`db::applied_write`).
#[derive(Debug, Clone, PartialEq)]
pub enum RefRequest {
    MeterTypes,
    SaveMeterType {
        idempotency_key: String,
        id: Option<i64>,
        name: String,
        payment_model: PaymentModel,
        caliber: String,
        manufacturer: String,
    },
    DeleteMeterType {
        idempotency_key: String,
        id: i64,
    },
    Meters {
        listing: MeterListing,
        prefix: String,
        at: PageAt<String>,
        size: usize,
        apply: PageApply,
    },
    /// Adds (`add`) or modifies an uninstalled meter.
    SaveMeter {
        idempotency_key: String,
        add: bool,
        meter_no: MeterNo,
        fields: MeterFields,
    },
    DeleteMeter {
        idempotency_key: String,
        meter_no: MeterNo,
    },
    /// Reads and checks an import file: nothing is written.
    CheckImport {
        path: String,
    },
    Import {
        idempotency_key: String,
        csv: Arc<MeterCsv>,
        choice: ImportChoice,
    },
    Schemes,
    Scheme {
        id: i64,
    },
    AddScheme {
        idempotency_key: String,
        fields: SchemeFields,
        tiers: Vec<Tier>,
    },
    ModifyScheme {
        idempotency_key: String,
        id: i64,
        fields: SchemeFields,
    },
    ChangePrices {
        idempotency_key: String,
        id: i64,
        effective_from: NaiveDate,
        tiers: Vec<Tier>,
    },
    CustomerTypes,
    SaveCustomerType {
        idempotency_key: String,
        id: Option<i64>,
        input: CustomerTypeInput,
    },
    DeleteCustomerType {
        idempotency_key: String,
        id: i64,
    },
}

impl RefRequest {
    /// The permission the request needs (`sql/V2`); viewing needs none.
    pub fn permission(&self) -> Option<&'static str> {
        match self {
            RefRequest::MeterTypes
            | RefRequest::Meters { .. }
            | RefRequest::CheckImport { .. }
            | RefRequest::Schemes
            | RefRequest::Scheme { .. }
            | RefRequest::CustomerTypes => None,
            RefRequest::SaveMeterType { .. }
            | RefRequest::DeleteMeterType { .. }
            | RefRequest::SaveMeter { .. }
            | RefRequest::DeleteMeter { .. } => Some("meter.maintain"),
            RefRequest::Import { .. } => Some("meter.import"),
            RefRequest::AddScheme { .. }
            | RefRequest::ModifyScheme { .. }
            | RefRequest::ChangePrices { .. } => Some("price.maintain"),
            RefRequest::SaveCustomerType { .. } | RefRequest::DeleteCustomerType { .. } => {
                Some("customer_type.maintain")
            }
        }
    }

    /// The idempotency key of a change or an import.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            RefRequest::SaveMeterType {
                idempotency_key, ..
            }
            | RefRequest::DeleteMeterType {
                idempotency_key, ..
            }
            | RefRequest::SaveMeter {
                idempotency_key, ..
            }
            | RefRequest::DeleteMeter {
                idempotency_key, ..
            }
            | RefRequest::Import {
                idempotency_key, ..
            }
            | RefRequest::AddScheme {
                idempotency_key, ..
            }
            | RefRequest::ModifyScheme {
                idempotency_key, ..
            }
            | RefRequest::ChangePrices {
                idempotency_key, ..
            }
            | RefRequest::SaveCustomerType {
                idempotency_key, ..
            }
            | RefRequest::DeleteCustomerType {
                idempotency_key, ..
            } => Some(idempotency_key),
            RefRequest::MeterTypes
            | RefRequest::Meters { .. }
            | RefRequest::CheckImport { .. }
            | RefRequest::Schemes
            | RefRequest::Scheme { .. }
            | RefRequest::CustomerTypes => None,
        }
    }

    /// A change or an import writes: F12 does not drop its answer (it may have been written).
    pub fn writes(&self) -> bool {
        self.idempotency_key().is_some()
    }

    /// A change or an import holds the keys until it answers; lists, pages and the check of a
    /// file do not (F3 or F12 leaves a long check, whose answer is then dropped).
    pub fn holds_input(&self) -> bool {
        !matches!(
            self,
            RefRequest::MeterTypes
                | RefRequest::CheckImport { .. }
                | RefRequest::Meters { .. }
                | RefRequest::Schemes
                | RefRequest::Scheme { .. }
                | RefRequest::CustomerTypes
        )
    }
}

/// A checked import file: the good rows, and every problem (the file's and the database's).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportCheck {
    pub csv: Arc<MeterCsv>,
    pub errors: Vec<LineError>,
    /// Rows that would go in: the file's good rows not already in the database.
    pub good: usize,
}

/// Why an import file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportFileError {
    /// The system's reason (no such file, permission denied …).
    Unreadable(String),
    NotUtf8,
}

/// What the customer type form chooses from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeChoices {
    pub meter_types: Vec<MeterType>,
    pub schemes: Vec<SchemeRow>,
    /// Code and name.
    pub payment_methods: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefReply {
    MeterTypes(Vec<MeterTypeRow>),
    MeterTypeSaved(MeterTypeOutcome),
    MeterTypeDeleted(MeterTypeDeletion),
    Meters(Page<MeterListRow>),
    MeterSaved(MeterOutcome),
    MeterDeleted(MeterOutcome),
    ImportChecked(Result<ImportCheck, ImportFileError>),
    Imported(ImportReport),
    Schemes(Vec<SchemeRow>),
    Scheme(Option<Box<SchemeDetail>>),
    SchemeSaved(SchemeOutcome),
    CustomerTypes {
        rows: Vec<CustomerTypeRow>,
        choices: TypeChoices,
    },
    CustomerTypeSaved(CustomerTypeOutcome),
    /// The operator's roles (as the database holds them now) do not allow the change.
    NotPermitted(&'static str),
}

// ───────────────────────────── State ─────────────────────────────

/// A short list loaded whole (meter types, schemes, customer types).
#[derive(Debug, Clone)]
pub struct ListView<R> {
    pub rows: Vec<R>,
    pub selected: usize,
    pub loading: bool,
    /// Delete asked: F2 confirms, anything else cancels.
    pub deleting: bool,
    /// The delete sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
}

impl<R> Default for ListView<R> {
    fn default() -> Self {
        ListView {
            rows: Vec::new(),
            selected: 0,
            loading: true,
            deleting: false,
            saving: None,
        }
    }
}

impl<R> ListView<R> {
    pub fn selected_row(&self) -> Option<&R> {
        self.rows.get(self.selected)
    }

    fn show(&mut self, rows: Vec<R>) {
        self.loading = false;
        self.selected = self.selected.min(rows.len().saturating_sub(1));
        self.rows = rows;
    }
}

/// The meter list: uninstalled meters (or installed and removed ones, read-only), searched by
/// number prefix, paged by meter number.
#[derive(Debug, Clone, Default)]
pub struct MetersView {
    pub listing: MeterListing,
    pub search: Input,
    pub search_focused: bool,
    pub page: Page<MeterListRow>,
    pub selected: usize,
    pub loading: bool,
    pub deleting: bool,
    /// The delete sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
    /// For the meter form's type choice.
    pub meter_types: Vec<MeterTypeRow>,
}

impl MetersView {
    pub fn selected_row(&self) -> Option<&MeterListRow> {
        self.page.rows.get(self.selected)
    }
}

/// One scheme with its versions, and the price of a typed volume.
#[derive(Debug, Clone)]
pub struct SchemeView {
    pub id: i64,
    pub name: String,
    pub detail: Option<Box<SchemeDetail>>,
    /// m³ to price; typing goes here.
    pub volume: Input,
    /// m³ already accumulated in the cycle (blank: 0): where the volume starts in the tiers.
    pub accumulated: Input,
    /// Typing goes to `accumulated` (Tab switches).
    pub on_accumulated: bool,
    /// The price of `volume` at the prices in force after `accumulated`; `Err` says why not.
    pub preview: Option<Result<Charge, String>>,
}

/// Where an import stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportStage {
    /// Typing the file's path.
    Path,
    Checking,
    /// Problems shown; the clerk chooses: F2 import the good rows, F12 import nothing.
    Checked {
        check: ImportCheck,
        scroll: usize,
    },
    Importing {
        done: u64,
        total: u64,
        /// What was checked, to choose again if the import fails.
        check: ImportCheck,
    },
    Done {
        report: ImportReport,
        scroll: usize,
    },
}

#[derive(Debug, Clone)]
pub struct ImportView {
    pub form: Form,
    pub stage: ImportStage,
    /// The import sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
}

/// What a reference form saves.
#[derive(Debug, Clone)]
pub enum FormTarget {
    MeterType {
        id: Option<i64>,
    },
    /// `meter_no` None: a new meter (its number is a field); else that meter (it never changes).
    Meter {
        meter_no: Option<String>,
    },
    Scheme {
        stored: Option<Box<SchemeRow>>,
    },
    Prices {
        id: i64,
        name: String,
    },
    CustomerType {
        id: Option<i64>,
    },
}

#[derive(Debug, Clone)]
pub struct RefForm {
    pub form: Form,
    pub target: FormTarget,
    /// The save sent from here, until its answer comes (see [`Saving`]).
    pub saving: Saving,
}

#[derive(Debug, Clone)]
pub enum RefScreen {
    MeterTypes(ListView<MeterTypeRow>),
    Meters(MetersView),
    Import(ImportView),
    Schemes(ListView<SchemeRow>),
    Scheme(SchemeView),
    CustomerTypes(ListView<CustomerTypeRow>, Box<TypeChoices>),
    Form(RefForm),
}

impl RefScreen {
    /// The change this screen sent (a save, a delete, an import) while it waits for its answer.
    pub fn saving_mut(&mut self) -> Option<&mut Saving> {
        match self {
            RefScreen::MeterTypes(list) => Some(&mut list.saving),
            RefScreen::CustomerTypes(list, _) => Some(&mut list.saving),
            RefScreen::Meters(view) => Some(&mut view.saving),
            RefScreen::Import(view) => Some(&mut view.saving),
            RefScreen::Form(form) => Some(&mut form.saving),
            RefScreen::Schemes(_) | RefScreen::Scheme(_) => None,
        }
    }

    pub fn form_mut(&mut self) -> Option<&mut Form> {
        match self {
            RefScreen::Form(form) => Some(&mut form.form),
            RefScreen::Import(view) if view.stage == ImportStage::Path => Some(&mut view.form),
            _ => None,
        }
    }

    /// The text field that takes text keys outside a form. The scheme's volume is not one: it
    /// takes only the keys of a number (`on_key`), so `:`, `?` and letters keep their meaning.
    pub fn focused_input(&mut self) -> Option<&mut Input> {
        match self {
            RefScreen::Meters(view) if view.search_focused => Some(&mut view.search),
            _ => None,
        }
    }

    /// The breadcrumb of this screen.
    pub fn crumb(&self, lang: Lang) -> String {
        let key = match self {
            RefScreen::MeterTypes(_) => "ref.screen_meter_types",
            RefScreen::Meters(_) => "ref.screen_meters",
            RefScreen::Import(_) => "ref.screen_import",
            RefScreen::Schemes(_) => "ref.screen_schemes",
            RefScreen::Scheme(view) => return crate::ui::inert::inert(&view.name).into_owned(),
            RefScreen::CustomerTypes(..) => "ref.screen_customer_types",
            RefScreen::Form(form) => match &form.target {
                FormTarget::MeterType { id: None }
                | FormTarget::Meter { meter_no: None }
                | FormTarget::Scheme { stored: None }
                | FormTarget::CustomerType { id: None, .. } => "ref.screen_add",
                FormTarget::Prices { .. } => "ref.screen_prices",
                _ => "ref.screen_modify",
            },
        };
        lang.t(key).to_owned()
    }

    /// The commands this screen offers, with their legend labels.
    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        let deleting = match self {
            RefScreen::MeterTypes(list) => list.deleting,
            RefScreen::CustomerTypes(list, _) => list.deleting,
            RefScreen::Meters(view) => view.deleting,
            _ => false,
        };
        if deleting {
            return vec![
                (Command::Save, "ref.legend_confirm_delete"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        let mut commands = vec![(Command::Help, "command.help")];
        let rest: &[(Command, &'static str)] = match self {
            RefScreen::MeterTypes(_) | RefScreen::CustomerTypes(..) => &[
                (Command::Add, "command.add"),
                (Command::Modify, "command.modify"),
                (Command::Delete, "command.delete"),
                (Command::Refresh, "command.refresh"),
            ],
            RefScreen::Meters(view) if view.search_focused => {
                return vec![
                    (Command::Details, "legend.to_rows"),
                    (Command::Cancel, "legend.to_rows"),
                    (Command::Help, "command.help"),
                ];
            }
            RefScreen::Meters(view) => match view.listing {
                MeterListing::Uninstalled => &[
                    (Command::Search, "command.search"),
                    (Command::Add, "command.add"),
                    (Command::Modify, "command.modify"),
                    (Command::Delete, "command.delete"),
                    (Command::Import, "command.import"),
                    (Command::Listing, "ref.legend_installed"),
                    (Command::Refresh, "command.refresh"),
                    (Command::PageDown, "command.page_down"),
                    (Command::PageUp, "command.page_up"),
                    (Command::First, "command.first"),
                    (Command::Last, "command.last"),
                ],
                // Modify and delete stay on the keys to say why a placed meter is read-only.
                MeterListing::Placed => &[
                    (Command::Search, "command.search"),
                    (Command::Modify, "command.modify"),
                    (Command::Delete, "command.delete"),
                    (Command::Listing, "ref.legend_uninstalled"),
                    (Command::Refresh, "command.refresh"),
                    (Command::PageDown, "command.page_down"),
                    (Command::PageUp, "command.page_up"),
                    (Command::First, "command.first"),
                    (Command::Last, "command.last"),
                ],
            },
            RefScreen::Import(view) => match view.stage {
                ImportStage::Path => &[(Command::Save, "ref.legend_check")],
                ImportStage::Checked { .. } => &[
                    (Command::Save, "ref.legend_import_good"),
                    (Command::Cancel, "ref.legend_import_nothing"),
                    (Command::PageDown, "command.page_down"),
                    (Command::PageUp, "command.page_up"),
                ],
                ImportStage::Done { .. } => &[
                    (Command::PageDown, "command.page_down"),
                    (Command::PageUp, "command.page_up"),
                ],
                ImportStage::Checking => &[(Command::Cancel, "command.cancel")],
                ImportStage::Importing { .. } => &[],
            },
            RefScreen::Schemes(_) => &[
                (Command::Details, "command.details"),
                (Command::Add, "command.add"),
                (Command::Modify, "command.modify"),
                (Command::Prices, "command.prices"),
                (Command::Refresh, "command.refresh"),
            ],
            RefScreen::Scheme(_) => &[
                (Command::Prices, "command.prices"),
                (Command::Refresh, "command.refresh"),
            ],
            RefScreen::Form(_) => &[
                (Command::Save, "command.save"),
                (Command::Lookup, "command.lookup"),
                (Command::NextField, "command.next_field"),
            ],
        };
        commands.extend_from_slice(rest);
        commands.extend([
            (Command::Leave, "legend.back"),
            (Command::CommandLine, "command.command_line"),
            (Command::Quit, "command.quit"),
        ]);
        commands
    }
}

/// Sends a request of these screens, on behalf of the operator signed in. The screen that
/// sends a change holds its key until the answer comes (see [`Saving`]).
fn send_ref(app: &mut App, request: RefRequest, out: &mut Vec<Outgoing>) {
    let operator_id = app.session.as_ref().map_or(0, |s| s.operator_id);
    if let Some(key) = request.idempotency_key()
        && let Slot::Ref(screen) = &mut app.screen
        && let Some(saving) = screen.saving_mut()
    {
        *saving = Some(key.to_owned());
    }
    send(app, Request::Ref(operator_id, request), out);
}

/// The permission a command needs on a screen, if any.
fn permission_for(screen: &RefScreen, command: Command) -> Option<&'static str> {
    let changes = matches!(
        command,
        Command::Add | Command::Modify | Command::Delete | Command::Prices
    );
    match screen {
        RefScreen::Meters(_) if command == Command::Import => Some("meter.import"),
        RefScreen::MeterTypes(_) | RefScreen::Meters(_) if changes => Some("meter.maintain"),
        RefScreen::Schemes(_) | RefScreen::Scheme(_) if changes => Some("price.maintain"),
        RefScreen::CustomerTypes(..) if changes => Some("customer_type.maintain"),
        _ => None,
    }
}

fn permitted(app: &App, permission: &str) -> bool {
    app.session
        .as_ref()
        .is_some_and(|session| session.permissions.iter().any(|p| p == permission))
}

// ───────────────────────────── Opening the screens ─────────────────────────────

/// `:meters`, `:metertypes`, `:schemes`, `:custtypes`: opens the list on top of the screen.
pub fn open_list(app: &mut App, command: Command, out: &mut Vec<Outgoing>) {
    let (screen, request) = match command {
        Command::MeterTypes => (
            RefScreen::MeterTypes(ListView::default()),
            RefRequest::MeterTypes,
        ),
        Command::Schemes => (RefScreen::Schemes(ListView::default()), RefRequest::Schemes),
        Command::CustomerTypes => (
            RefScreen::CustomerTypes(ListView::default(), Box::default()),
            RefRequest::CustomerTypes,
        ),
        _ => {
            let view = MetersView {
                loading: true,
                ..MetersView::default()
            };
            open(app, Slot::Ref(RefScreen::Meters(view)));
            send_ref(app, RefRequest::MeterTypes, out);
            fetch_meters(app, PageAt::First, PageApply::Search, out);
            return;
        }
    };
    open(app, Slot::Ref(screen));
    send_ref(app, request, out);
}

/// Asks for a page of the meter list; a newer one supersedes any still on its way.
fn fetch_meters(app: &mut App, at: PageAt<String>, apply: PageApply, out: &mut Vec<Outgoing>) {
    let size = app.table_rows();
    let Slot::Ref(RefScreen::Meters(view)) = &app.screen else {
        return;
    };
    let request = RefRequest::Meters {
        listing: view.listing,
        prefix: view.search.value().to_owned(),
        at,
        size: if matches!(apply, PageApply::ScrollDown | PageApply::ScrollUp) {
            1
        } else {
            size
        },
        apply,
    };
    app.in_flight
        .retain(|f| !matches!(f.request, Request::Ref(_, RefRequest::Meters { .. })));
    send_ref(app, request, out);
}

/// The list request of the screen on top, to refresh it after a change.
fn refresh(app: &mut App, out: &mut Vec<Outgoing>) {
    let request = match &app.screen {
        Slot::Ref(RefScreen::MeterTypes(_)) => RefRequest::MeterTypes,
        Slot::Ref(RefScreen::Schemes(_)) => RefRequest::Schemes,
        Slot::Ref(RefScreen::Scheme(view)) => RefRequest::Scheme { id: view.id },
        Slot::Ref(RefScreen::CustomerTypes(..)) => RefRequest::CustomerTypes,
        Slot::Ref(RefScreen::Meters(view)) => {
            let mut selected = view.selected;
            let at = paging::page_for(
                &view.page,
                &mut selected,
                Command::Refresh,
                |row| row.meter.meter_no.clone(),
                |row| row.meter.id,
            );
            if let Some((at, apply)) = at {
                fetch_meters(app, at, apply, out);
            }
            return;
        }
        _ => return,
    };
    send_ref(app, request, out);
}

// ───────────────────────────── Keys ─────────────────────────────

/// Keys these screens take before the keymap: Up/Down on lists, text into the meter search and
/// the scheme's volume, any key but F2 cancelling a delete question. True if taken.
pub fn on_key(
    app: &mut App,
    key: KeyEvent,
    command: Option<Command>,
    out: &mut Vec<Outgoing>,
) -> bool {
    let lang = app.lang;
    let Slot::Ref(screen) = &mut app.screen else {
        return false;
    };
    if let Some(flag) = deleting_flag(screen)
        && *flag
    {
        *flag = false;
        if command == Some(Command::Save) {
            confirm_delete(app, out);
        } else {
            say(app, MessageKind::Info, lang.t("msg.cancelled"));
        }
        return true;
    }
    // Meter numbers and volumes are ASCII: what an input method types full-width is read so.
    let key = halfwidth_key(key);
    let input = match (&mut *screen, key.code) {
        (RefScreen::Scheme(_), KeyCode::Char(c)) if !(c.is_ascii_digit() || c == '.') => None,
        (RefScreen::Scheme(view), _) if view.on_accumulated => Some(&mut view.accumulated),
        (RefScreen::Scheme(view), _) => Some(&mut view.volume),
        (screen, _) => screen.focused_input(),
    };
    if super::update::edits_text(&key)
        && let Some(input) = input
    {
        let before = input.value().to_owned();
        input.handle_event(&crossterm::event::Event::Key(key));
        if input.value() != before {
            match screen {
                RefScreen::Meters(_) => fetch_meters(app, PageAt::First, PageApply::Search, out),
                RefScreen::Scheme(view) => price_preview(view, lang),
                _ => {}
            }
        }
        return true;
    }
    let step = match key.code {
        KeyCode::Up => -1,
        KeyCode::Down => 1,
        KeyCode::Tab | KeyCode::BackTab if matches!(screen, RefScreen::Scheme(_)) => {
            if let RefScreen::Scheme(view) = screen {
                view.on_accumulated = !view.on_accumulated;
            }
            return true;
        }
        KeyCode::Enter | KeyCode::Tab => {
            if let RefScreen::Meters(view) = screen
                && view.search_focused
            {
                view.search_focused = false;
                return true;
            }
            return false;
        }
        _ => return false,
    };
    match screen {
        RefScreen::Meters(view) if view.search_focused => {
            if step > 0 {
                view.search_focused = false;
            }
        }
        RefScreen::Meters(view) => {
            if let Some((at, apply)) = paging::scroll(&view.page, &mut view.selected, step, |row| {
                row.meter.meter_no.clone()
            }) {
                fetch_meters(app, at, apply, out);
            }
        }
        RefScreen::MeterTypes(list) => move_in(&mut list.selected, list.rows.len(), step),
        RefScreen::Schemes(list) => move_in(&mut list.selected, list.rows.len(), step),
        RefScreen::CustomerTypes(list, _) => move_in(&mut list.selected, list.rows.len(), step),
        RefScreen::Import(view) => scroll_report(&mut view.stage, step),
        RefScreen::Scheme(_) | RefScreen::Form(_) => return false,
    }
    true
}

fn deleting_flag(screen: &mut RefScreen) -> Option<&mut bool> {
    match screen {
        RefScreen::MeterTypes(list) => Some(&mut list.deleting),
        RefScreen::CustomerTypes(list, _) => Some(&mut list.deleting),
        RefScreen::Meters(view) => Some(&mut view.deleting),
        _ => None,
    }
}

fn move_in(selected: &mut usize, len: usize, step: isize) {
    *selected = selected
        .saturating_add_signed(step)
        .min(len.saturating_sub(1));
}

fn scroll_report(stage: &mut ImportStage, step: isize) {
    let (scroll, len) = match stage {
        ImportStage::Checked { check, scroll } => (scroll, check.errors.len()),
        ImportStage::Done { report, scroll } => (scroll, report.errors.len()),
        _ => return,
    };
    move_in(scroll, len, step);
}

/// The price of the typed volume at the prices in force (or the first ones, before the
/// scheme starts), after the typed accumulated volume.
fn price_preview(view: &mut SchemeView, lang: Lang) {
    let text = view.volume.value().trim();
    view.preview = match (&view.detail, text.is_empty()) {
        (_, true) | (None, _) => None,
        (Some(detail), false) => Some(preview_of(
            detail,
            text,
            view.accumulated.value().trim(),
            lang,
        )),
    };
}

fn preview_of(
    detail: &SchemeDetail,
    text: &str,
    accumulated: &str,
    lang: Lang,
) -> Result<Charge, String> {
    let volume =
        validation::volume(text, MAX_READING).map_err(|error| field_error_text(lang, &error))?;
    let accumulated = if accumulated.is_empty() {
        Decimal::ZERO
    } else {
        validation::volume(accumulated, MAX_READING)
            .map_err(|error| field_error_text(lang, &error))?
    };
    let scheme = detail
        .pricing()
        .map_err(|error| scheme_error_text(lang, &error))?;
    let on = detail.row.current_from.unwrap_or(detail.row.start_date);
    let prices = scheme
        .prices_on(on)
        .ok_or_else(|| lang.t("ref.no_prices").to_owned())?;
    prices
        .charge_for_volume(accumulated, volume)
        .map_err(|_| lang.t("ref.volume_too_large").to_owned())
}

// ───────────────────────────── Commands ─────────────────────────────

/// A command on one of these screens (it is one the screen offers). True if handled.
pub fn invoke(app: &mut App, command: Command, out: &mut Vec<Outgoing>) -> bool {
    let lang = app.lang;
    let report_page = app.table_rows().saturating_sub(4).max(1) as isize;
    let needed = match &app.screen {
        Slot::Ref(screen) => permission_for(screen, command),
        _ => return false,
    };
    if let Some(permission) = needed
        && !permitted(app, permission)
    {
        let text = lang.tf("ref.not_permitted", &[("permission", &permission)]);
        say(app, MessageKind::Error, text);
        return true;
    }
    let Slot::Ref(screen) = &mut app.screen else {
        return false;
    };
    match (screen, command) {
        (_, Command::Refresh) => refresh(app, out),
        (RefScreen::Meters(view), Command::Search) => view.search_focused = true,
        (RefScreen::Meters(view), Command::Details | Command::Cancel) if view.search_focused => {
            view.search_focused = false
        }
        (RefScreen::Meters(view), Command::Listing) => {
            view.listing = match view.listing {
                MeterListing::Uninstalled => MeterListing::Placed,
                MeterListing::Placed => MeterListing::Uninstalled,
            };
            view.loading = true;
            fetch_meters(app, PageAt::First, PageApply::Search, out);
        }
        (
            RefScreen::Meters(view),
            Command::PageDown | Command::PageUp | Command::First | Command::Last,
        ) => {
            if let Some((at, apply)) = paging::page_for(
                &view.page,
                &mut view.selected,
                command,
                |row| row.meter.meter_no.clone(),
                |row| row.meter.id,
            ) {
                fetch_meters(app, at, apply, out);
            }
        }
        (RefScreen::Meters(_), Command::Import) => {
            let form = Form::new(vec![Field::new(
                "ref.import_path",
                FieldKind::Text { max: 500 },
                true,
            )]);
            open(
                app,
                Slot::Ref(RefScreen::Import(ImportView {
                    form,
                    stage: ImportStage::Path,
                    saving: None,
                })),
            );
        }
        (RefScreen::Import(view), Command::PageDown | Command::PageUp) => {
            scroll_report(
                &mut view.stage,
                if command == Command::PageDown {
                    report_page
                } else {
                    -report_page
                },
            );
        }
        (RefScreen::Import(view), Command::Save) => {
            if let ImportStage::Checked { check, .. } = &view.stage
                && check.good == 0
            {
                say(app, MessageKind::Error, app.t("ref.nothing_to_import"));
            } else if let ImportStage::Checked { check, .. } = &view.stage {
                let total = check.csv.rows.len() as u64;
                // With no problem to skip, the file goes in whole or not at all: a number
                // added meanwhile by someone else then stops the import instead of thinning it.
                let choice = if check.errors.is_empty() {
                    ImportChoice::AllOrNothing
                } else {
                    ImportChoice::GoodRows
                };
                let csv = Arc::clone(&check.csv);
                view.stage = ImportStage::Importing {
                    done: 0,
                    total,
                    check: check.clone(),
                };
                let request = RefRequest::Import {
                    idempotency_key: app.write_key(),
                    csv,
                    choice,
                };
                say(app, MessageKind::Info, lang.t("ref.importing"));
                send_ref(app, request, out);
            }
        }
        (RefScreen::Import(view), Command::Cancel | Command::Leave) => {
            let checked = matches!(view.stage, ImportStage::Checked { .. });
            let done = matches!(view.stage, ImportStage::Done { .. });
            // A check still reading the file is no longer wanted (the runner aborts it).
            app.in_flight
                .retain(|f| !matches!(f.request, Request::Ref(_, RefRequest::CheckImport { .. })));
            super::update::leave(app);
            if checked {
                say(app, MessageKind::Info, lang.t("ref.imported_nothing"));
            }
            if done {
                refresh(app, out);
            }
        }
        (RefScreen::Schemes(list), Command::Details) => {
            if let Some(row) = list.selected_row() {
                let view = SchemeView {
                    id: row.id,
                    name: row.name.clone(),
                    detail: None,
                    volume: Input::default(),
                    accumulated: Input::default(),
                    on_accumulated: false,
                    preview: None,
                };
                let id = row.id;
                open(app, Slot::Ref(RefScreen::Scheme(view)));
                send_ref(app, RefRequest::Scheme { id }, out);
            }
        }
        (screen, Command::Add | Command::Modify | Command::Prices) => {
            if let Some(form) = form_for(screen, command, lang) {
                open(app, Slot::Ref(RefScreen::Form(form)));
            } else if let Some(refusal) = refusal_for(screen, lang) {
                say(app, MessageKind::Error, refusal);
            }
        }
        (screen, Command::Delete) => {
            let (kind, text) = ask_delete(screen, lang, &app.keymap);
            say(app, kind, text);
        }
        _ => return false,
    }
    true
}

/// Delete on a list: refused at once when the row is plainly in use, else asked once.
fn ask_delete(screen: &mut RefScreen, lang: Lang, keys: &KeyMap) -> (MessageKind, String) {
    let question = |flag: &mut bool, name: &str| {
        *flag = true;
        let name = crate::ui::inert::inert(name).into_owned();
        let text = keys.fill(lang.t("ref.ask_delete"));
        (
            MessageKind::Info,
            crate::i18n::fill_args(&text, &[("name", &name)]),
        )
    };
    match screen {
        RefScreen::MeterTypes(list) => match list.rows.get(list.selected) {
            Some(row) if row.meters + row.customer_types > 0 => (
                MessageKind::Error,
                in_use_text(lang, row.meters, row.customer_types),
            ),
            Some(row) => {
                let name = row.meter_type.name.clone();
                question(&mut list.deleting, &name)
            }
            None => (MessageKind::Info, String::new()),
        },
        RefScreen::CustomerTypes(list, _) => match list.rows.get(list.selected) {
            Some(row) if row.customers > 0 => (
                MessageKind::Error,
                problem_text(
                    lang,
                    &CustomerTypeProblem::InUse {
                        customers: row.customers,
                    },
                ),
            ),
            Some(row) => {
                let name = row.input.name.clone();
                question(&mut list.deleting, &name)
            }
            None => (MessageKind::Info, String::new()),
        },
        RefScreen::Meters(view) => match view.page.rows.get(view.selected) {
            Some(row) if row.status != "uninstalled" => {
                (MessageKind::Error, read_only_text(lang, row))
            }
            Some(row) => {
                let name = row.meter.meter_no.clone();
                question(&mut view.deleting, &name)
            }
            None => (MessageKind::Info, String::new()),
        },
        _ => (MessageKind::Info, String::new()),
    }
}

/// F2 on a delete question: sends the delete of the selected row.
fn confirm_delete(app: &mut App, out: &mut Vec<Outgoing>) {
    let idempotency_key = app.write_key();
    let Slot::Ref(screen) = &app.screen else {
        return;
    };
    let request = match screen {
        RefScreen::MeterTypes(list) => list.selected_row().map(|row| RefRequest::DeleteMeterType {
            idempotency_key,
            id: row.meter_type.id,
        }),
        RefScreen::CustomerTypes(list, _) => {
            list.selected_row()
                .map(|row| RefRequest::DeleteCustomerType {
                    idempotency_key,
                    id: row.id,
                })
        }
        RefScreen::Meters(view) => view.selected_row().and_then(|row| {
            MeterNo::parse(&row.meter.meter_no)
                .ok()
                .map(|meter_no| RefRequest::DeleteMeter {
                    idempotency_key,
                    meter_no,
                })
        }),
        _ => None,
    };
    if let Some(request) = request {
        send_ref(app, request, out);
    }
}

fn in_use_text(lang: Lang, meters: i64, customer_types: i64) -> String {
    lang.tf(
        "ref.meter_type_in_use",
        &[("meters", &meters), ("types", &customer_types)],
    )
}

/// Why a placed meter cannot be changed: it is installed at (or removed from) a customer.
fn read_only_text(lang: Lang, row: &MeterListRow) -> String {
    let customer = row
        .customer
        .as_ref()
        .map(|(no, name)| format!("{no:08} {}", crate::ui::inert::inert(name)))
        .unwrap_or_default();
    lang.tf(
        "ref.meter_read_only",
        &[
            ("meter", &row.meter.meter_no),
            ("status", &lang.t(status_key(&row.status))),
            ("customer", &customer),
        ],
    )
}

/// The catalogue key of a meter status.
pub fn status_key(status: &str) -> &'static str {
    match status {
        "uninstalled" => "ref.status_uninstalled",
        "installed" => "ref.status_installed",
        _ => "ref.status_removed",
    }
}

// ───────────────────────────── Forms ─────────────────────────────

const TIER_TO: [&str; TIER_FIELDS] = [
    "ref.f_tier1_to",
    "ref.f_tier2_to",
    "ref.f_tier3_to",
    "ref.f_tier4_to",
];
const TIER_PRICE: [&str; TIER_FIELDS] = [
    "ref.f_tier1_price",
    "ref.f_tier2_price",
    "ref.f_tier3_price",
    "ref.f_tier4_price",
];

/// Choices whose labels come from the catalogue.
fn word_choices(lang: Lang, words: &[(&str, &'static str)]) -> FieldKind {
    FieldKind::Choice(
        words
            .iter()
            .map(|(key, label)| Choice {
                key: (*key).to_owned(),
                label: lang.t(label).to_owned(),
            })
            .collect(),
    )
}

fn yes_no(lang: Lang) -> FieldKind {
    word_choices(lang, &[("yes", "ref.yes"), ("no", "ref.no")])
}

/// Sets a choice field to the entry with `key`.
fn choose(form: &mut Form, label: &str, key: &str) {
    if let Some(index) = index_of(form, label)
        && let FieldKind::Choice(choices) = &form.fields[index].kind
        && let Some(choice) = choices.iter().find(|c| c.key == key)
    {
        let text = choice.label.clone();
        form.set(index, &text);
    }
}

/// Ticks the entries with these keys in a multiple-choice field.
fn choose_many(form: &mut Form, label: &str, keys: &[String]) {
    if let Some(index) = index_of(form, label)
        && let FieldKind::Choices(choices) = &form.fields[index].kind
    {
        let labels: Vec<&str> = choices
            .iter()
            .filter(|c| keys.contains(&c.key))
            .map(|c| c.label.as_str())
            .collect();
        let text = labels.join(CHOICES_SEPARATOR);
        form.set(index, &text);
    }
}

fn set(form: &mut Form, label: &str, text: &str) {
    if let Some(index) = index_of(form, label) {
        form.set(index, text);
    }
}

fn index_of(form: &Form, label: &str) -> Option<usize> {
    form.fields.iter().position(|field| field.label == label)
}

fn text_of<'a>(form: &'a Form, label: &str) -> &'a str {
    index_of(form, label).map_or("", |index| form.value(index).trim())
}

fn key_of<'a>(form: &'a Form, label: &str) -> Option<&'a str> {
    index_of(form, label)
        .and_then(|index| form.fields[index].chosen())
        .map(|choice| choice.key.as_str())
}

fn tier_fields(fields: &mut Vec<Field>) {
    for (to, price) in TIER_TO.iter().zip(TIER_PRICE) {
        fields.push(Field::new(to, FieldKind::Text { max: 16 }, false));
        fields.push(Field::new(price, FieldKind::Text { max: 12 }, false));
    }
}

fn set_tiers(form: &mut Form, tiers: &[Tier]) {
    for ((to, price), tier) in TIER_TO.iter().zip(TIER_PRICE).zip(tiers) {
        set(
            form,
            to,
            &tier.up_to.map(|b| b.to_string()).unwrap_or_default(),
        );
        set(form, price, &tier.unit_price.to_string());
    }
}

/// The form Add, Modify or Prices opens on this screen, for the selected row.
fn form_for(screen: &RefScreen, command: Command, lang: Lang) -> Option<RefForm> {
    let add = command == Command::Add;
    match screen {
        RefScreen::MeterTypes(list) => {
            let row = if add {
                None
            } else {
                Some(list.selected_row()?)
            };
            let mut form = Form::new(vec![
                Field::new("ref.f_name", FieldKind::Text { max: 50 }, true),
                Field::new(
                    "ref.f_payment_model",
                    word_choices(
                        lang,
                        &[
                            ("prepayment", "ref.pm_prepayment"),
                            ("postpayment", "ref.pm_postpayment"),
                        ],
                    ),
                    true,
                ),
                Field::new("ref.f_caliber", FieldKind::Text { max: 8 }, true),
                Field::new("ref.f_manufacturer", FieldKind::Text { max: 50 }, true),
            ]);
            if let Some(row) = row {
                let t = &row.meter_type;
                set(&mut form, "ref.f_name", &t.name);
                choose(&mut form, "ref.f_payment_model", t.payment_model.as_str());
                set(&mut form, "ref.f_caliber", &t.caliber);
                set(&mut form, "ref.f_manufacturer", &t.manufacturer);
            } else {
                set(&mut form, "ref.f_caliber", "DN15");
            }
            form.mark_saved();
            Some(RefForm {
                form,
                target: FormTarget::MeterType {
                    id: row.map(|row| row.meter_type.id),
                },
                saving: None,
            })
        }
        RefScreen::Meters(view) => {
            let row = if add {
                None
            } else {
                let row = view.selected_row()?;
                if row.status != "uninstalled" {
                    return None;
                }
                Some(row)
            };
            let types = FieldKind::Choice(
                view.meter_types
                    .iter()
                    .map(|t| Choice {
                        key: t.meter_type.id.to_string(),
                        label: t.meter_type.name.clone(),
                    })
                    .collect(),
            );
            let mut fields = Vec::new();
            if add {
                fields.push(Field::new(
                    "ref.f_meter_no",
                    FieldKind::Text { max: 12 },
                    true,
                ));
            }
            fields.extend([
                Field::new("ref.f_meter_type", types, true),
                Field::new("ref.f_electronic", FieldKind::Text { max: 13 }, false),
                Field::new("ref.f_mechanical", FieldKind::Text { max: 13 }, false),
            ]);
            let mut form = Form::new(fields);
            if let Some(row) = row {
                choose(
                    &mut form,
                    "ref.f_meter_type",
                    &row.meter.meter_type_id.to_string(),
                );
                set(
                    &mut form,
                    "ref.f_electronic",
                    &row.meter.initial_electronic_reading.to_string(),
                );
                set(
                    &mut form,
                    "ref.f_mechanical",
                    &row.meter.initial_mechanical_reading.to_string(),
                );
            }
            form.mark_saved();
            Some(RefForm {
                form,
                target: FormTarget::Meter {
                    meter_no: row.map(|row| row.meter.meter_no.clone()),
                },
                saving: None,
            })
        }
        RefScreen::Schemes(list) if command == Command::Prices => {
            let row = list.selected_row()?;
            Some(prices_form(row.id, &row.name, &[]))
        }
        RefScreen::Scheme(view) if command == Command::Prices => {
            // The prices in force (or the latest) as the starting point of the change.
            let tiers = view.detail.as_ref().and_then(|detail| {
                detail
                    .versions
                    .iter()
                    .rev()
                    .find(|v| Some(v.effective_from) <= detail.row.current_from)
                    .or(detail.versions.last())
                    .map(|v| v.tiers.as_slice())
            });
            Some(prices_form(view.id, &view.name, tiers.unwrap_or_default()))
        }
        RefScreen::Schemes(list) => {
            let row = if add {
                None
            } else {
                Some(list.selected_row()?)
            };
            let mut fields = vec![Field::new("ref.f_name", FieldKind::Text { max: 50 }, true)];
            if add {
                fields.extend([
                    Field::new(
                        "ref.f_kind",
                        word_choices(
                            lang,
                            &[
                                ("prepaid", "ref.kind_prepaid"),
                                ("postpaid", "ref.kind_postpaid"),
                            ],
                        ),
                        true,
                    ),
                    Field::new(
                        "ref.f_mode",
                        word_choices(
                            lang,
                            &[
                                ("fixed", "ref.mode_fixed"),
                                ("stepped", "ref.mode_stepped"),
                                ("leap", "ref.mode_leap"),
                            ],
                        ),
                        true,
                    ),
                    Field::new("ref.f_start", FieldKind::Date, true),
                ]);
            }
            fields.extend([
                Field::new("ref.f_vat", FieldKind::Text { max: 6 }, true),
                Field::new("ref.f_accumulation", FieldKind::Digits { len: 3 }, false),
                Field::new("ref.f_settlement", FieldKind::Digits { len: 2 }, false),
            ]);
            if add {
                tier_fields(&mut fields);
            }
            let mut form = Form::new(fields);
            if let Some(row) = row {
                set(&mut form, "ref.f_name", &row.name);
                set(&mut form, "ref.f_vat", &row.vat_percent.to_string());
                let months = |m: Option<u32>| m.map(|m| m.to_string()).unwrap_or_default();
                set(
                    &mut form,
                    "ref.f_accumulation",
                    &months(row.accumulation_months),
                );
                set(
                    &mut form,
                    "ref.f_settlement",
                    &months(row.settlement_months),
                );
            } else {
                set(&mut form, "ref.f_vat", "9");
            }
            form.mark_saved();
            Some(RefForm {
                form,
                target: FormTarget::Scheme {
                    stored: row.cloned().map(Box::new),
                },
                saving: None,
            })
        }
        RefScreen::CustomerTypes(list, choices) => {
            let row = if add {
                None
            } else {
                Some(list.selected_row()?)
            };
            let schemes = std::iter::once(Choice {
                key: String::new(),
                label: lang.t("ref.no_scheme").to_owned(),
            })
            .chain(choices.schemes.iter().map(|s| Choice {
                key: s.id.to_string(),
                label: s.name.clone(),
            }))
            .collect();
            let mut form = Form::new(vec![
                Field::new("ref.f_name", FieldKind::Text { max: 50 }, true),
                Field::new(
                    "ref.f_nature",
                    word_choices(
                        lang,
                        &[
                            ("personal", "ref.nature_personal"),
                            ("enterprise", "ref.nature_enterprise"),
                            ("statistical", "ref.nature_statistical"),
                        ],
                    ),
                    true,
                ),
                Field::new(
                    "ref.f_business_model",
                    word_choices(
                        lang,
                        &[
                            ("meter_prepaid", "ref.bm_meter_prepaid"),
                            ("system_prepaid", "ref.bm_system_prepaid"),
                            ("postpaid", "ref.bm_postpaid"),
                        ],
                    ),
                    true,
                ),
                Field::new(
                    "ref.f_meter_types",
                    FieldKind::Choices(
                        choices
                            .meter_types
                            .iter()
                            .map(|t| Choice {
                                key: t.id.to_string(),
                                label: format!(
                                    "{} · {}",
                                    t.name,
                                    lang.t(payment_model_key(t.payment_model))
                                ),
                            })
                            .collect(),
                    ),
                    true,
                ),
                Field::new("ref.f_counts", yes_no(lang), true),
                Field::new("ref.f_charges", yes_no(lang), true),
                Field::new("ref.f_scheme", FieldKind::Choice(schemes), false),
                Field::new(
                    "ref.f_payment_methods",
                    FieldKind::Choices(
                        choices
                            .payment_methods
                            .iter()
                            .map(|(code, name)| Choice {
                                key: code.clone(),
                                label: name.clone(),
                            })
                            .collect(),
                    ),
                    false,
                ),
            ]);
            match row {
                Some(row) => {
                    let input = &row.input;
                    set(&mut form, "ref.f_name", &input.name);
                    choose(&mut form, "ref.f_nature", input.nature.as_str());
                    choose(
                        &mut form,
                        "ref.f_business_model",
                        input.business_model.as_str(),
                    );
                    let ids: Vec<String> = input
                        .meter_type_ids
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    choose_many(&mut form, "ref.f_meter_types", &ids);
                    let yes = |b: bool| if b { "yes" } else { "no" };
                    choose(&mut form, "ref.f_counts", yes(input.counts_water_usage));
                    choose(&mut form, "ref.f_charges", yes(input.charges));
                    choose(
                        &mut form,
                        "ref.f_scheme",
                        &input
                            .price_scheme_id
                            .map(|id| id.to_string())
                            .unwrap_or_default(),
                    );
                    choose_many(&mut form, "ref.f_payment_methods", &input.payment_methods);
                }
                None => {
                    choose(&mut form, "ref.f_counts", "yes");
                    choose(&mut form, "ref.f_charges", "yes");
                    choose_many(&mut form, "ref.f_payment_methods", &["cash".to_owned()]);
                }
            }
            form.mark_saved();
            Some(RefForm {
                form,
                target: FormTarget::CustomerType {
                    id: row.map(|row| row.id),
                },
                saving: None,
            })
        }
        _ => None,
    }
}

fn prices_form(id: i64, name: &str, tiers: &[Tier]) -> RefForm {
    let mut fields = vec![Field::new("ref.f_from", FieldKind::Date, true)];
    tier_fields(&mut fields);
    let mut form = Form::new(fields);
    set_tiers(&mut form, tiers);
    form.mark_saved();
    RefForm {
        form,
        target: FormTarget::Prices {
            id,
            name: name.to_owned(),
        },
        saving: None,
    }
}

/// Why Modify opened nothing: a placed meter is read-only.
fn refusal_for(screen: &RefScreen, lang: Lang) -> Option<String> {
    match screen {
        RefScreen::Meters(view) => view
            .selected_row()
            .filter(|row| row.status != "uninstalled")
            .map(|row| read_only_text(lang, row)),
        _ => None,
    }
}

/// What the screen's rules make of a submitted form: the request, or the bad fields.
type Built = Result<RefRequest, Vec<(usize, String)>>;

/// F2 on a reference form whose fields passed their own checks: the screen's rules, then the
/// request.
pub fn submit(app: &mut App, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    let idempotency_key = app.write_key();
    let built = match &app.screen {
        Slot::Ref(RefScreen::Form(form)) => build(form, lang, idempotency_key),
        Slot::Ref(RefScreen::Import(view)) => Ok(RefRequest::CheckImport {
            path: view.form.value(0).trim().to_owned(),
        }),
        _ => return,
    };
    match built {
        Ok(request) => {
            if let Slot::Ref(RefScreen::Import(view)) = &mut app.screen {
                view.stage = ImportStage::Checking;
                say(app, MessageKind::Info, lang.t("ref.checking"));
            }
            send_ref(app, request, out);
        }
        Err(errors) => fail(app, &errors),
    }
}

/// Marks the form's bad fields and puts the first on the message line.
fn fail(app: &mut App, errors: &[(usize, String)]) {
    if let Some(form) = app.screen.form_mut() {
        form.fail(errors);
        super::update::say_form_error(app);
    }
}

/// Collects field errors by label.
struct Errors<'a> {
    form: &'a Form,
    list: Vec<(usize, String)>,
}

impl Errors<'_> {
    fn add(&mut self, label: &str, text: String) {
        if let Some(index) = index_of(self.form, label)
            && !self.list.iter().any(|(bad, _)| *bad == index)
        {
            self.list.push((index, text));
        }
    }

    fn check<T, E>(
        &mut self,
        label: &str,
        result: Result<T, E>,
        text: impl Fn(E) -> String,
    ) -> Option<T> {
        result.map_err(|error| self.add(label, text(error))).ok()
    }
}

/// The request of a change carries `idempotency_key`, made when the clerk pressed F2.
fn build(form: &RefForm, lang: Lang, idempotency_key: String) -> Built {
    let f = &form.form;
    let mut errors = Errors {
        form: f,
        list: Vec::new(),
    };
    let field_error = |error| field_error_text(lang, &error);
    let request = match &form.target {
        FormTarget::MeterType { id } => {
            let caliber = errors.check(
                "ref.f_caliber",
                caliber(text_of(f, "ref.f_caliber")).ok_or(()),
                |()| lang.t("ref.caliber_format").to_owned(),
            );
            let payment_model = key_of(f, "ref.f_payment_model").and_then(|k| k.parse().ok());
            let name = errors.check(
                "ref.f_name",
                validation::plain_text(text_of(f, "ref.f_name"), 50),
                field_error,
            );
            let manufacturer = errors.check(
                "ref.f_manufacturer",
                validation::plain_text(text_of(f, "ref.f_manufacturer"), 50),
                field_error,
            );
            match (name, payment_model, caliber, manufacturer) {
                (Some(name), Some(payment_model), Some(caliber), Some(manufacturer)) => {
                    Some(RefRequest::SaveMeterType {
                        idempotency_key,
                        id: *id,
                        name,
                        payment_model,
                        caliber,
                        manufacturer,
                    })
                }
                _ => None,
            }
        }
        FormTarget::Meter { meter_no } => {
            let number = match meter_no {
                Some(stored) => MeterNo::parse(stored).ok(),
                None => errors.check(
                    "ref.f_meter_no",
                    MeterNo::parse(text_of(f, "ref.f_meter_no")),
                    |error| meter_no_error_text(lang, &error),
                ),
            };
            let meter_type_id = key_of(f, "ref.f_meter_type").and_then(|k| k.parse().ok());
            let mut reading = |label: &str| {
                let text = text_of(f, label);
                if text.is_empty() {
                    return Some(Decimal::ZERO);
                }
                errors.check(label, validation::volume(text, MAX_READING), field_error)
            };
            let electronic = reading("ref.f_electronic");
            let mechanical = reading("ref.f_mechanical");
            match (number, meter_type_id, electronic, mechanical) {
                (Some(meter_no), Some(meter_type_id), Some(electronic), Some(mechanical)) => {
                    Some(RefRequest::SaveMeter {
                        idempotency_key,
                        add: meter_no_is_new(&form.target),
                        meter_no,
                        fields: MeterFields {
                            meter_type_id,
                            initial_electronic_reading: electronic,
                            initial_mechanical_reading: mechanical,
                        },
                    })
                }
                _ => None,
            }
        }
        FormTarget::Scheme { stored } => {
            let name = errors.check(
                "ref.f_name",
                validation::plain_text(text_of(f, "ref.f_name"), 50),
                field_error,
            );
            let vat = errors.check(
                "ref.f_vat",
                validation::percent(text_of(f, "ref.f_vat"), Decimal::new(9999, 2)),
                field_error,
            );
            let months = |label| text_of(f, label).parse::<u32>().ok();
            let (kind, mode, start) = match stored {
                Some(row) => (Some(row.kind), Some(row.mode), Some(row.start_date)),
                None => (
                    key_of(f, "ref.f_kind").and_then(|k| k.parse::<AccountKind>().ok()),
                    key_of(f, "ref.f_mode")
                        .and_then(|k| crate::db::price_schemes::billing_mode_of(k).ok()),
                    NaiveDate::parse_from_str(text_of(f, "ref.f_start"), "%Y-%m-%d").ok(),
                ),
            };
            let tiers = if stored.is_none() {
                tiers_of(f, &mut errors, lang)
            } else {
                Some(Vec::new())
            };
            match (name, vat, kind, mode, start, tiers) {
                (Some(name), Some(vat), Some(kind), Some(mode), Some(start), Some(tiers)) => {
                    let fields = SchemeFields {
                        name,
                        kind,
                        mode,
                        vat_percent: vat,
                        accumulation_months: months("ref.f_accumulation"),
                        settlement_months: months("ref.f_settlement"),
                        start_date: start,
                    };
                    if let Err(error) = crate::domain::pricing::check_scheme_fields(
                        mode,
                        kind,
                        vat,
                        fields.accumulation_months,
                        fields.settlement_months,
                    ) {
                        errors.add(fields_error_label(error), fields_error_text(lang, error));
                        None
                    } else if let Some(row) = stored {
                        Some(RefRequest::ModifyScheme {
                            idempotency_key,
                            id: row.id,
                            fields,
                        })
                    } else if let Err(error) =
                        crate::domain::pricing::PriceVersion::new(start, mode, tiers.clone(), vat)
                    {
                        errors.add(scheme_error_label(&error), scheme_error_text(lang, &error));
                        None
                    } else {
                        Some(RefRequest::AddScheme {
                            idempotency_key,
                            fields,
                            tiers,
                        })
                    }
                }
                _ => None,
            }
        }
        FormTarget::Prices { id, .. } => {
            let from = NaiveDate::parse_from_str(text_of(f, "ref.f_from"), "%Y-%m-%d").ok();
            let tiers = tiers_of(f, &mut errors, lang);
            match (from, tiers) {
                (Some(effective_from), Some(tiers)) => Some(RefRequest::ChangePrices {
                    idempotency_key,
                    id: *id,
                    effective_from,
                    tiers,
                }),
                _ => None,
            }
        }
        FormTarget::CustomerType { id } => {
            let keys = |label| -> Vec<String> {
                index_of(f, label).map_or(Vec::new(), |index| {
                    f.fields[index]
                        .chosen_many()
                        .iter()
                        .map(|c| c.key.clone())
                        .collect()
                })
            };
            let meter_type_ids = keys("ref.f_meter_types")
                .iter()
                .filter_map(|id| id.parse().ok())
                .collect();
            let payment_methods = keys("ref.f_payment_methods");
            let nature = key_of(f, "ref.f_nature").and_then(|k| k.parse::<Nature>().ok());
            let model =
                key_of(f, "ref.f_business_model").and_then(|k| k.parse::<BusinessModel>().ok());
            let yes = |label| key_of(f, label) == Some("yes");
            match (nature, model) {
                (Some(nature), Some(business_model)) => Some(RefRequest::SaveCustomerType {
                    idempotency_key,
                    id: *id,
                    input: CustomerTypeInput {
                        name: text_of(f, "ref.f_name").to_owned(),
                        nature,
                        business_model,
                        meter_type_ids,
                        counts_water_usage: yes("ref.f_counts"),
                        charges: yes("ref.f_charges"),
                        price_scheme_id: key_of(f, "ref.f_scheme").and_then(|k| k.parse().ok()),
                        payment_methods,
                    },
                }),
                _ => None,
            }
        }
    };
    match request {
        Some(request) if errors.list.is_empty() => Ok(request),
        _ => Err(errors.list),
    }
}

fn meter_no_is_new(target: &FormTarget) -> bool {
    matches!(target, FormTarget::Meter { meter_no: None })
}

/// The tiers typed in the tier fields, in order; the last filled one has no upper bound.
fn tiers_of(form: &Form, errors: &mut Errors, lang: Lang) -> Option<Vec<Tier>> {
    let mut tiers = Vec::new();
    let mut ok = true;
    let mut ended = false;
    for (to, price) in TIER_TO.iter().zip(TIER_PRICE) {
        let (to_text, price_text) = (text_of(form, to), text_of(form, price));
        if price_text.is_empty() {
            if !to_text.is_empty() {
                errors.add(
                    price,
                    field_error_text(lang, &validation::FieldError::Required),
                );
                ok = false;
            }
            ended = true;
            continue;
        }
        if ended {
            errors.add(price, lang.t("ref.tier_gap").to_owned());
            ok = false;
            continue;
        }
        let unit_price = errors.check(
            price,
            validation::unit_price(price_text, crate::domain::pricing::MAX_UNIT_PRICE),
            |e| field_error_text(lang, &e),
        );
        let up_to = if to_text.is_empty() {
            Some(None)
        } else {
            errors
                .check(to, validation::volume(to_text, MAX_READING), |e| {
                    field_error_text(lang, &e)
                })
                .map(Some)
        };
        match (unit_price, up_to) {
            (Some(unit_price), Some(up_to)) => tiers.push(Tier { up_to, unit_price }),
            _ => ok = false,
        }
    }
    if tiers.is_empty() && ok {
        errors.add(
            TIER_PRICE[0],
            field_error_text(lang, &validation::FieldError::Required),
        );
        ok = false;
    }
    ok.then_some(tiers)
}

/// The field a price problem belongs to.
fn scheme_error_label(error: &SchemeError) -> &'static str {
    let tier = match error {
        SchemeError::UnboundedTierNotLast { tier }
        | SchemeError::BoundNotIncreasing { tier }
        | SchemeError::BoundOutOfRange { tier } => {
            return TIER_TO[(tier - 1).min(TIER_FIELDS - 1)];
        }
        SchemeError::PriceOutOfRange { tier } | SchemeError::PriceFalls { tier } => *tier,
        SchemeError::LastTierBounded
        | SchemeError::FreeLastTier
        | SchemeError::FixedNeedsOneTier => TIER_FIELDS,
        SchemeError::VatRateOutOfRange => return "ref.f_vat",
        _ => 1,
    };
    TIER_PRICE[(tier.max(1) - 1).min(TIER_FIELDS - 1)]
}

pub fn scheme_error_text(lang: Lang, error: &SchemeError) -> String {
    match error {
        SchemeError::NoTiers => lang.t("ref.se_no_tiers").into(),
        SchemeError::FixedNeedsOneTier => lang.t("ref.se_fixed_one_tier").into(),
        SchemeError::LastTierBounded => lang.t("ref.se_last_bounded").into(),
        SchemeError::UnboundedTierNotLast { tier } => {
            lang.tf("ref.se_unbounded_not_last", &[("tier", tier)])
        }
        SchemeError::BoundNotIncreasing { tier } => {
            lang.tf("ref.se_bound_not_increasing", &[("tier", tier)])
        }
        SchemeError::BoundOutOfRange { tier } => lang.tf("ref.se_bound_range", &[("tier", tier)]),
        SchemeError::PriceOutOfRange { tier } => lang.tf("ref.se_price_range", &[("tier", tier)]),
        SchemeError::PriceFalls { tier } => lang.tf("ref.se_price_falls", &[("tier", tier)]),
        SchemeError::FreeLastTier => lang.t("ref.se_free_last").into(),
        SchemeError::VatRateOutOfRange => lang.t("ref.se_vat").into(),
        SchemeError::CycleMonths { months } => lang.tf("ref.se_cycle", &[("months", months)]),
        SchemeError::NoVersions => lang.t("ref.se_no_versions").into(),
        SchemeError::SameEffectiveDate { date } => lang.tf("ref.se_same_date", &[("date", date)]),
    }
}

fn fields_error_label(error: SchemeFieldsError) -> &'static str {
    match error {
        SchemeFieldsError::VatRate => "ref.f_vat",
        SchemeFieldsError::AccumulationCycle => "ref.f_accumulation",
        SchemeFieldsError::SettlementCycle => "ref.f_settlement",
    }
}

fn fields_error_text(lang: Lang, error: SchemeFieldsError) -> String {
    lang.t(match error {
        SchemeFieldsError::VatRate => "ref.se_vat",
        SchemeFieldsError::AccumulationCycle => "ref.se_accumulation",
        SchemeFieldsError::SettlementCycle => "ref.se_settlement",
    })
    .to_owned()
}

pub fn meter_no_error_text(lang: Lang, error: &crate::domain::meter_csv::MeterNoError) -> String {
    match error {
        crate::domain::meter_csv::MeterNoError::Length => lang.t("ref.meter_no_length").into(),
        crate::domain::meter_csv::MeterNoError::Character(c) => lang.tf(
            "ref.meter_no_character",
            &[("character", &format!("{c:?}"))],
        ),
    }
}

/// The meter import template as `meterdesk meters template` prints it: the header, the columns
/// explained in `lang` and a commented-out example row.
pub fn meter_import_template(lang: Lang) -> String {
    let notes = [
        "meter_template.file",
        "meter_template.meter_no",
        "meter_template.meter_type",
        "meter_template.readings",
        "meter_template.quoting",
        "meter_template.example",
    ]
    .map(|key| lang.t(key));
    crate::domain::meter_csv::template(&notes)
}

/// A customer type problem in the clerk's language.
pub fn problem_text(lang: Lang, problem: &CustomerTypeProblem) -> String {
    match problem {
        CustomerTypeProblem::Name(error) => field_error_text(lang, error),
        CustomerTypeProblem::NoMeterTypes => lang.t("ref.ct_no_meter_types").into(),
        CustomerTypeProblem::MeterTypeDoesNotFit {
            meter_type, needs, ..
        } => lang.tf(
            "ref.ct_meter_type_fit",
            &[
                ("meter_type", &crate::ui::inert::inert(meter_type)),
                ("needs", &lang.t(payment_model_key(*needs))),
            ],
        ),
        CustomerTypeProblem::NoPriceScheme => lang.t("ref.ct_no_scheme").into(),
        CustomerTypeProblem::PriceSchemeKind { scheme, needs } => lang.tf(
            "ref.ct_scheme_kind",
            &[
                ("scheme", &crate::ui::inert::inert(scheme)),
                ("needs", &lang.t(kind_key(*needs))),
            ],
        ),
        CustomerTypeProblem::NoPaymentMethods => lang.t("ref.ct_no_payment_methods").into(),
        CustomerTypeProblem::InUse { customers } => {
            lang.tf("ref.ct_in_use", &[("customers", customers)])
        }
        CustomerTypeProblem::NatureInUse => lang.t("ref.ct_nature_in_use").into(),
        CustomerTypeProblem::BusinessModelInUse => lang.t("ref.ct_model_in_use").into(),
        CustomerTypeProblem::MeterTypeInUse { meter_type } => lang.tf(
            "ref.ct_meter_type_in_use",
            &[("meter_type", &crate::ui::inert::inert(meter_type))],
        ),
    }
}

/// The form field a customer type problem belongs to.
fn problem_label(problem: &CustomerTypeProblem) -> &'static str {
    match problem {
        CustomerTypeProblem::Name(_) => "ref.f_name",
        CustomerTypeProblem::NoMeterTypes
        | CustomerTypeProblem::MeterTypeDoesNotFit { .. }
        | CustomerTypeProblem::MeterTypeInUse { .. } => "ref.f_meter_types",
        CustomerTypeProblem::NoPriceScheme | CustomerTypeProblem::PriceSchemeKind { .. } => {
            "ref.f_scheme"
        }
        CustomerTypeProblem::NoPaymentMethods => "ref.f_payment_methods",
        CustomerTypeProblem::NatureInUse => "ref.f_nature",
        CustomerTypeProblem::BusinessModelInUse | CustomerTypeProblem::InUse { .. } => {
            "ref.f_business_model"
        }
    }
}

pub fn payment_model_key(model: PaymentModel) -> &'static str {
    match model {
        PaymentModel::Prepayment => "ref.pm_prepayment",
        PaymentModel::Postpayment => "ref.pm_postpayment",
    }
}

pub fn kind_key(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Prepaid => "ref.kind_prepaid",
        AccountKind::Postpaid => "ref.kind_postpaid",
    }
}

pub fn mode_key(mode: BillingMode) -> &'static str {
    match mode {
        BillingMode::Fixed => "ref.mode_fixed",
        BillingMode::Stepped => "ref.mode_stepped",
        BillingMode::Leap => "ref.mode_leap",
    }
}

pub fn business_model_key(model: BusinessModel) -> &'static str {
    match model {
        BusinessModel::MeterPrepaid => "ref.bm_meter_prepaid",
        BusinessModel::SystemPrepaid => "ref.bm_system_prepaid",
        BusinessModel::Postpaid => "ref.bm_postpaid",
    }
}

pub fn nature_key(nature: Nature) -> &'static str {
    match nature {
        Nature::Personal => "ref.nature_personal",
        Nature::Enterprise => "ref.nature_enterprise",
        Nature::Statistical => "ref.nature_statistical",
    }
}

// ───────────────────────────── Replies ─────────────────────────────

/// What the answer to a change says: done (the text to tell), or refused (each text with the
/// form field it concerns, if any).
type Answer = Result<String, Vec<(Option<&'static str>, String)>>;

/// The screen that sent a change, wherever it is now.
fn sender(app: &mut App, from: SavedFrom) -> Option<&mut Slot> {
    match from {
        SavedFrom::Top => Some(&mut app.screen),
        SavedFrom::Below(index) => app.below.get_mut(index),
        SavedFrom::Gone => None,
    }
}

/// A change was made: the form that sent it is closed (wherever it is: the clerk may have
/// covered it while the save waited for the database), the list on top is fetched again.
fn saved(app: &mut App, from: SavedFrom, text: String, out: &mut Vec<Outgoing>) {
    if let Some(Slot::Ref(RefScreen::Form(_))) = sender(app, from) {
        match from {
            SavedFrom::Below(index) => {
                app.below.remove(index);
            }
            _ => super::update::leave(app),
        }
    }
    refresh(app, out);
    say(app, MessageKind::Info, text);
}

/// A change was refused: on the fields of the form that sent it if that is on top, else on
/// the message line.
fn refused(app: &mut App, from: SavedFrom, problems: Vec<(Option<&'static str>, String)>) {
    if from == SavedFrom::Top
        && let Slot::Ref(RefScreen::Form(form)) = &app.screen
    {
        let errors: Vec<(usize, String)> = problems
            .iter()
            .filter_map(|(label, text)| {
                label
                    .and_then(|label| index_of(&form.form, label))
                    .map(|index| (index, text.clone()))
            })
            .collect();
        if !errors.is_empty() {
            return fail(app, &errors);
        }
    }
    let text: Vec<String> = problems.into_iter().map(|(_, text)| text).collect();
    say(app, MessageKind::Error, text.join("; "));
}

/// What the answer to a change says; None for the answers to reads.
fn answer_of(lang: Lang, request: &RefRequest, reply: &RefReply) -> Option<Answer> {
    let on = |label: &'static str, text: String| Err(vec![(Some(label), text)]);
    let said = |text: String| Err(vec![(None, text)]);
    let done = |key: &str| Ok(lang.t(key).to_owned());
    Some(match reply {
        RefReply::NotPermitted(permission) => {
            said(lang.tf("ref.not_permitted", &[("permission", permission)]))
        }
        RefReply::MeterTypeSaved(outcome) => match outcome {
            MeterTypeOutcome::Saved { .. } => done("ref.saved"),
            MeterTypeOutcome::NameTaken => on("ref.f_name", lang.t("ref.name_taken").into()),
            MeterTypeOutcome::PaymentModelInUse => on(
                "ref.f_payment_model",
                lang.t("ref.payment_model_in_use").into(),
            ),
            MeterTypeOutcome::NotFound => said(lang.t("ref.gone").into()),
        },
        RefReply::MeterTypeDeleted(outcome) => match outcome {
            MeterTypeDeletion::Deleted => done("ref.deleted"),
            MeterTypeDeletion::InUse {
                meters,
                customer_types,
            } => said(in_use_text(lang, *meters, *customer_types)),
            MeterTypeDeletion::NotFound => done("ref.gone"),
        },
        RefReply::MeterSaved(outcome) | RefReply::MeterDeleted(outcome) => match outcome {
            MeterOutcome::Done if matches!(request, RefRequest::DeleteMeter { .. }) => {
                done("ref.deleted")
            }
            MeterOutcome::Done => done("ref.saved"),
            MeterOutcome::NumberTaken => on("ref.f_meter_no", lang.t("ref.meter_no_taken").into()),
            MeterOutcome::UnknownMeterType => on("ref.f_meter_type", lang.t("ref.gone").into()),
            MeterOutcome::NotUninstalled { status } => said(lang.tf(
                "ref.meter_not_uninstalled",
                &[("status", &lang.t(status_key(status)))],
            )),
            MeterOutcome::NotFound => said(lang.t("ref.gone").into()),
        },
        RefReply::SchemeSaved(outcome) => match outcome {
            SchemeOutcome::Saved { .. } => done("ref.saved"),
            SchemeOutcome::NotFound => said(lang.t("ref.gone").into()),
            SchemeOutcome::NameTaken => on("ref.f_name", lang.t("ref.name_taken").into()),
            SchemeOutcome::Fields(error) => {
                on(fields_error_label(*error), fields_error_text(lang, *error))
            }
            SchemeOutcome::Prices(error) => {
                on(scheme_error_label(error), scheme_error_text(lang, error))
            }
            SchemeOutcome::Fixed => said(lang.t("ref.scheme_fixed").into()),
            SchemeOutcome::PastDate { today } => {
                on("ref.f_from", lang.tf("ref.past_date", &[("today", today)]))
            }
            SchemeOutcome::DateTaken => on("ref.f_from", lang.t("ref.date_taken").into()),
        },
        RefReply::CustomerTypeSaved(outcome) => match outcome {
            CustomerTypeOutcome::Saved { .. } => done("ref.saved"),
            CustomerTypeOutcome::Deleted => done("ref.deleted"),
            CustomerTypeOutcome::NameTaken => on("ref.f_name", lang.t("ref.name_taken").into()),
            CustomerTypeOutcome::NotFound => said(lang.t("ref.gone").into()),
            CustomerTypeOutcome::Refused(problems) => Err(problems
                .iter()
                .map(|problem| (Some(problem_label(problem)), problem_text(lang, problem)))
                .collect()),
        },
        RefReply::Imported(report) => Ok(lang.tf(
            "ref.imported",
            &[("count", &report.imported), ("bad", &report.errors.len())],
        )),
        _ => return None,
    })
}

pub fn on_reply(app: &mut App, request: &RefRequest, reply: RefReply, out: &mut Vec<Outgoing>) {
    let lang = app.lang;
    // A change is answered to the screen that sent it, wherever the clerk has gone meanwhile.
    if let Some(key) = request.idempotency_key() {
        let from = answered(app, key);
        if let RefReply::Imported(report) = &reply
            && let Some(Slot::Ref(RefScreen::Import(view))) = sender(app, from)
        {
            view.stage = ImportStage::Done {
                report: report.clone(),
                scroll: 0,
            };
        }
        match answer_of(lang, request, &reply) {
            Some(Ok(text)) if matches!(request, RefRequest::Import { .. }) => {
                say(app, MessageKind::Info, text)
            }
            Some(Ok(text)) => saved(app, from, text, out),
            Some(Err(problems)) => refused(app, from, problems),
            None => {}
        }
        return;
    }
    let Slot::Ref(screen) = &mut app.screen else {
        return;
    };
    match (screen, reply) {
        (RefScreen::MeterTypes(list), RefReply::MeterTypes(rows)) => list.show(rows),
        (RefScreen::Meters(view), RefReply::MeterTypes(rows)) => view.meter_types = rows,
        (RefScreen::Meters(view), RefReply::Meters(page)) => {
            if let RefRequest::Meters { apply, .. } = request {
                view.loading = false;
                paging::show(&mut view.page, &mut view.selected, page, *apply, |row| {
                    row.meter.id
                });
            }
        }
        (RefScreen::Schemes(list), RefReply::Schemes(rows)) => list.show(rows),
        (RefScreen::Scheme(view), RefReply::Scheme(detail)) => {
            if detail.is_none() {
                say(app, MessageKind::Error, lang.t("ref.gone"));
                return;
            }
            view.detail = detail;
            price_preview(view, lang);
        }
        (RefScreen::CustomerTypes(list, held), RefReply::CustomerTypes { rows, choices }) => {
            list.show(rows);
            **held = choices;
        }
        (RefScreen::Import(view), RefReply::ImportChecked(Ok(check))) => {
            let text = lang.tf(
                "ref.checked",
                &[("good", &check.good), ("bad", &check.errors.len())],
            );
            view.stage = ImportStage::Checked { check, scroll: 0 };
            say(app, MessageKind::Info, text);
        }
        (RefScreen::Import(view), RefReply::ImportChecked(Err(error))) => {
            view.stage = ImportStage::Path;
            let text = match error {
                ImportFileError::Unreadable(detail) => {
                    lang.tf("ref.file_unreadable", &[("detail", &detail)])
                }
                ImportFileError::NotUtf8 => lang.t("ref.file_not_utf8").to_owned(),
            };
            fail(app, &[(0, text)]);
        }
        _ => {}
    }
}

/// Progress of the import on its way: rows sent of all.
pub fn on_progress(app: &mut App, done: u64, total: u64) -> bool {
    if let Slot::Ref(RefScreen::Import(view)) = &mut app.screen
        && let ImportStage::Importing {
            done: sent,
            total: all,
            ..
        } = &mut view.stage
    {
        (*sent, *all) = (done, total);
        return true;
    }
    false
}

/// A reference request failed (the database refused it; the message line says why). An import
/// rolled back whole: its dialog shows the check again, so the clerk can choose once more or
/// leave, instead of waiting on a bar that will not move.
pub fn on_failure(app: &mut App, request: &RefRequest) {
    if let (RefRequest::Import { .. }, Slot::Ref(RefScreen::Import(view))) =
        (request, &mut app.screen)
        && let ImportStage::Importing { check, .. } = &view.stage
    {
        view.stage = ImportStage::Checked {
            check: check.clone(),
            scroll: 0,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::meter_csv::{
        EXAMPLE_ROW, METER_CSV_TEMPLATE, MeterTypeNames, parse_meter_csv,
    };

    /// In every language the printed template imports nothing, and its example imports once
    /// the `# ` is removed: no note can be taken for a row or break the file.
    #[test]
    fn the_printed_template_round_trips_through_the_importer_in_every_language() {
        let demo_types = MeterTypeNames::new([("IC卡水表 DN15 宁波", 1)]);
        for lang in Lang::ALL {
            let printed = meter_import_template(lang);
            assert!(printed.starts_with(METER_CSV_TEMPLATE), "{printed}");
            assert_eq!(printed.lines().count(), 8, "{printed}");
            assert_eq!(parse_meter_csv(&printed, &demo_types), MeterCsv::default());
            let kept = printed.replace(&format!("# {EXAMPLE_ROW}"), EXAMPLE_ROW);
            let csv = parse_meter_csv(&kept, &demo_types);
            assert_eq!((csv.rows.len(), csv.errors), (1, vec![]), "{lang:?}");
        }
    }
}
