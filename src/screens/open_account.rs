//! The account-opening wizard (`o` / `:open` on the customer table): customer type → basic
//! information → meter, PgDn / PgUp between the steps. Step 3 lists the type's uninstalled
//! meters, searched in the database by number prefix as typed, under a summary of what will be
//! opened; Enter there chooses a meter, F2 opens the account in one transaction, with its
//! idempotency key.

use crossterm::event::{Event, KeyCode, KeyEvent};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::basic_info::{
    BasicForm, answer_save, below, customer_write, key_to_form, label_key,
    leaves_or_refused_while_saving, line_at, nature_text, operator,
};
use super::modify::{IdElsewhere, IdHolders, id_number, say_id_elsewhere};
use crate::app::form::{Choice, Field as FormField, FieldKind, Form, halfwidth_key};
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, Notice, ScreenReply, ScreenRequest, asking};
use crate::app::state::{MessageKind, Typed};
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::customer_changes::{self, OpenOutcome, Opening};
use crate::db::customer_types::{self, CustomerTypeOption};
use crate::db::meters::{self, Meter};
use crate::domain::customer_rules::{BasicInfo, Field};
use crate::domain::money::Volume;
use crate::i18n::Lang;
use crate::ui::form;
use crate::ui::inert::inert;
use crate::ui::text::{coded, fit, truncate, width};
use crate::ui::theme::Theme;

/// Meters shown per page in step 3.
pub const METER_PAGE: usize = 12;

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
    /// The meter Enter chose; kept while the clerk searches and moves through the list.
    pub chosen: Option<Meter>,
}

impl MeterPick {
    pub fn selected_meter(&self) -> Option<&Meter> {
        self.rows.get(self.selected)
    }

    /// The meter F2 opens the account on: the one Enter chose, else the highlighted row (a
    /// clerk who takes the next meter on the shelf presses F2 at once).
    pub fn meter(&self) -> Option<&Meter> {
        self.chosen.as_ref().or_else(|| self.selected_meter())
    }
}

/// The account-opening wizard.
#[derive(Debug, Clone)]
pub struct OpenAccountWizard {
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
    /// The identity number the clerk was told is also on another customer: F2 again opens.
    pub id_said: Option<String>,
}

impl Default for OpenAccountWizard {
    fn default() -> Self {
        OpenAccountWizard {
            step: WizardStep::CustomerType,
            types: None,
            type_form: type_form(&[]),
            basic: None,
            info: None,
            meters: MeterPick::default(),
            asked_leave: false,
            id_said: None,
        }
    }
}

/// The customer types the wizard offers; answered with a `Vec<CustomerTypeOption>`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerTypes;

impl Read for CustomerTypes {
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        customer_types::customer_type_options(client).await
    }
}

/// A page of step 3's uninstalled meters (one more than shown, to know if more follow);
/// answered with a `Vec<Meter>`.
#[derive(Debug, Clone, PartialEq)]
pub struct UninstalledMeters {
    pub meter_type_ids: Vec<i64>,
    pub prefix: String,
    pub after: Option<String>,
    /// Sent as the search was typed: the next key supersedes it.
    pub typed: bool,
}

impl ScreenRequest for UninstalledMeters {
    /// A search as you type does not hold the keys: the next key simply supersedes it.
    fn holds_input(&self) -> bool {
        !self.typed
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let client = services.pool.get().await?;
            let limit = METER_PAGE as i64 + 1;
            let page = meters::uninstalled_meters(
                &client,
                &self.meter_type_ids,
                &self.prefix,
                self.after.as_deref(),
                limit,
            )
            .await?;
            Ok(Box::new(page) as _)
        })
    }
}

/// Opens the account; carries the idempotency key made when the clerk pressed F2
/// (`App::write_key`): sent again after a lost connection, it is applied once. Answered with
/// an [`OpenOutcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAccount {
    pub operator_id: i64,
    pub idempotency_key: String,
    pub customer_type_id: i64,
    pub info: BasicInfo,
    pub meter_id: i64,
}

customer_write!(OpenAccount, OpenOutcome, told, |client, request| {
    let opening = Opening {
        customer_type_id: request.customer_type_id,
        info: &request.info,
        meter_id: request.meter_id,
    };
    customer_changes::open_account(
        &mut client,
        request.operator_id,
        &request.idempotency_key,
        &opening,
    )
    .await
});

/// The outcome of an opening told on the message line after the wizard was left: whether it
/// is done, and what to say.
fn told(outcome: &OpenOutcome, lang: Lang) -> (bool, MessageKind, String) {
    match outcome {
        OpenOutcome::Opened(opened) => {
            let number = format!("{:08}", opened.customer_no.value());
            let text = lang.tf("open.opened", &[("number", &number)]);
            (true, MessageKind::Info, text)
        }
        _ => (
            false,
            MessageKind::Error,
            lang.t("open.not_opened_left").to_owned(),
        ),
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

impl OpenAccountWizard {
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
            || self.meters.chosen.is_some()
    }

    /// The form of the step on screen; step 3 has none (its list takes the keys).
    pub fn form_mut(&mut self) -> Option<&mut Form> {
        match self.step {
            WizardStep::CustomerType => Some(&mut self.type_form),
            WizardStep::BasicInfo => self.basic.as_mut().map(|b| &mut b.form),
            WizardStep::Meter => None,
        }
    }

    /// The wizard's keys before its form (leaving asks about everything typed in any step) and
    /// in step 3 (the meter list). True if the key was taken.
    fn wizard_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let lookup_open = self.form_mut().is_some_and(|f| f.lookup.is_some());
        if matches!(command, Some(Command::Leave | Command::Cancel)) && !lookup_open {
            if self.is_dirty() && !self.asked_leave {
                self.asked_leave = true;
                hub.ask_leave();
            } else {
                hub.leave();
            }
            return true;
        }
        self.asked_leave = false;
        if self.step != WizardStep::Meter {
            return false;
        }
        match (key.code, command) {
            (KeyCode::Up, _) => self.move_meter(-1, hub),
            (KeyCode::Down, _) => self.move_meter(1, hub),
            (KeyCode::Enter, _) | (_, Some(Command::Save)) => {
                if searching_as_typed(hub.app) {
                    // The clerk chose from what they typed, not from the rows still on screen:
                    // the search is asked again as one that holds the keys, and this key goes
                    // first again, so it and any typed after it wait for the answer (F12 then
                    // drops them with the search).
                    self.fetch_meters(None, false, 0, hub);
                    hub.app.type_ahead.push_front(Typed::Key(key));
                } else if command == Some(Command::Save) {
                    self.open_account(false, hub);
                } else {
                    self.choose_meter(hub);
                }
            }
            (KeyCode::Char(_) | KeyCode::Backspace | KeyCode::Delete, _)
            | (KeyCode::Left | KeyCode::Right | KeyCode::Home | KeyCode::End, _) => {
                let before = self.meters.search.value().to_owned();
                // Meter numbers are ASCII: a full-width `Ｍ０` searches as `M0`.
                self.meters
                    .search
                    .handle_event(&Event::Key(halfwidth_key(key)));
                if self.meters.search.value() != before {
                    self.fetch_meters(None, true, 0, hub);
                }
            }
            _ => return false,
        }
        true
    }

    /// Sends the request for a page of step 3's list, superseding any on its way.
    /// `select`: the row to select when the page comes (clamped).
    fn fetch_meters(&mut self, after: Option<String>, typed: bool, select: usize, hub: &mut Hub) {
        let Some(meter_type_ids) = self.customer_type().map(|t| t.meter_type_ids.clone()) else {
            return;
        };
        let prefix = self.meters.search.value().to_owned();
        if after.is_none() {
            self.meters.pages.clear();
        }
        self.meters.pages.push(after.clone());
        self.meters.loading = true;
        self.meters.selected = select;
        hub.forget(|request| request.of::<UninstalledMeters>().is_some());
        hub.send(UninstalledMeters {
            meter_type_ids,
            prefix,
            after,
            typed,
        });
    }

    /// Up/Down in step 3: within the page; past its end the next page, before its start the
    /// previous one.
    fn move_meter(&mut self, step: isize, hub: &mut Hub) {
        let pick = &mut self.meters;
        match pick.selected.checked_add_signed(step) {
            Some(index) if index < pick.rows.len() => pick.selected = index,
            Some(_) if pick.more => {
                let after = pick.rows.last().map(|m| m.meter_no.clone());
                self.fetch_meters(after, false, 0, hub);
            }
            None if pick.pages.len() > 1 => {
                pick.pages.pop();
                let after = pick.pages.pop().flatten();
                self.fetch_meters(after, false, usize::MAX, hub);
            }
            _ => {}
        }
    }

    /// PgDn / PgUp: the next or previous step. Going on checks the step; going back keeps it.
    fn step(&mut self, forward: bool, hub: &mut Hub) {
        let lang = hub.app.lang;
        match (self.step, forward) {
            (WizardStep::CustomerType, true) => {
                let Some(nature) = self.customer_type().map(|t| t.nature) else {
                    self.type_form.check(lang);
                    hub.say(MessageKind::Error, hub.app.t("open.choose_type"));
                    return;
                };
                match &self.basic {
                    Some(basic) if basic.nature == nature => {}
                    Some(typed) => self.basic = Some(BasicForm::keeping(nature, typed)),
                    None => self.basic = Some(BasicForm::new(nature)),
                }
                self.step = WizardStep::BasicInfo;
                hub.app.message = None;
            }
            (WizardStep::BasicInfo, true) => {
                let Some(basic) = self.basic.as_mut() else {
                    return;
                };
                match basic.validate(lang, hub.app.id_policy, hub.app.today()) {
                    Some(info) => {
                        self.info = Some(info);
                        // A meter chosen for a type since changed in step 1 may not fit it.
                        let allowed = self.customer_type().map(|t| t.meter_type_ids.clone());
                        self.meters.chosen.take_if(|meter| {
                            !allowed.is_some_and(|ids| ids.contains(&meter.meter_type_id))
                        });
                        self.step = WizardStep::Meter;
                        hub.app.message = None;
                        self.fetch_meters(None, false, 0, hub);
                    }
                    None => hub.say_form_error(&basic.form),
                }
            }
            (WizardStep::BasicInfo, false) => self.step = WizardStep::CustomerType,
            (WizardStep::Meter, false) => self.step = WizardStep::BasicInfo,
            (WizardStep::CustomerType, false) | (WizardStep::Meter, true) => {}
        }
    }

    /// Whether the highlighted row can be taken: not while the list on screen does not answer
    /// the search yet (its request was parked), nor from an empty list (said why, if not).
    fn highlighted_ready(&self, hub: &mut Hub) -> bool {
        let key = if self.meters.loading {
            "open.meters_loading"
        } else if self.meters.selected_meter().is_none() {
            "open.choose_meter"
        } else {
            return true;
        };
        hub.say(MessageKind::Error, hub.app.lang.t(key));
        false
    }

    /// Enter in step 3: the highlighted meter is the one the account opens on.
    fn choose_meter(&mut self, hub: &mut Hub) {
        if !self.highlighted_ready(hub) {
            return;
        }
        self.meters.chosen = self.meters.selected_meter().cloned();
        hub.app.message = None;
    }

    /// F2 in step 3: opens the account in one transaction, on the chosen meter.
    fn open_account(&mut self, checked: bool, hub: &mut Hub) {
        let (Some(customer_type), Some(info)) = (self.customer_type(), self.info.clone()) else {
            return;
        };
        if self.meters.chosen.is_none() && !self.highlighted_ready(hub) {
            return;
        }
        let Some(meter) = self.meters.meter() else {
            return;
        };
        // A number another customer holds is said before the account is opened.
        if let Some(id) = id_number(&info)
            && self.id_said.as_deref() != Some(id)
            && !checked
        {
            hub.say(MessageKind::Info, hub.app.lang.t("open.opening"));
            hub.send(IdElsewhere {
                id_document_no: id.to_owned(),
                except: None,
            });
            return;
        }
        let request = OpenAccount {
            operator_id: operator(hub),
            idempotency_key: hub.app.write_key(),
            customer_type_id: customer_type.id,
            info,
            meter_id: meter.id,
        };
        hub.say(MessageKind::Info, hub.app.lang.t("open.opening"));
        hub.send(request);
    }

    /// The answer to the opening, on top: back to the table, searching for the new number; a
    /// meter taken meanwhile stays in step 3 with a fresh list, everything kept.
    fn opened(&mut self, outcome: &OpenOutcome, hub: &mut Hub) {
        let lang = hub.app.lang;
        match outcome {
            OpenOutcome::Opened(opened) => {
                let number = format!("{:08}", opened.customer_no.value());
                hub.leave();
                let text = lang.tf("open.opened", &[("number", &number)]);
                hub.notify(Notice::ShowCustomer {
                    number,
                    open: false,
                });
                hub.say(MessageKind::Info, text);
            }
            OpenOutcome::MeterTaken | OpenOutcome::MeterNotAllowed => {
                let key = if *outcome == OpenOutcome::MeterTaken {
                    "open.meter_taken"
                } else {
                    "open.meter_not_allowed"
                };
                self.meters.chosen = None;
                self.fetch_meters(None, false, 0, hub);
                hub.say(MessageKind::Error, lang.t(key));
            }
            OpenOutcome::CustomerTypeGone | OpenOutcome::WrongNature { .. } => {
                self.step = WizardStep::CustomerType;
                hub.send(CustomerTypes);
                hub.say(MessageKind::Error, lang.t("open.type_changed"));
            }
        }
    }
}

/// Step 3's summary above the meter list: the type, the data typed, the meter.
const SUMMARY_ROWS: u16 = 3;

/// The chosen type with its nature, how its customers pay and the price scheme it charges by.
fn type_summary(lang: Lang, customer_type: &CustomerTypeOption) -> String {
    let scheme = customer_type
        .price_scheme
        .as_deref()
        .map_or_else(|| lang.t("open_summary.no_scheme").into(), inert);
    let text = lang.tf(
        "open_summary.type",
        &[
            ("type", &inert(&customer_type.name)),
            ("nature", &nature_text(lang, customer_type.nature)),
            (
                "model",
                &coded(
                    lang,
                    "details.model_",
                    customer_type.business_model.as_str(),
                ),
            ),
            ("scheme", &scheme),
        ],
    );
    format!(" {text}")
}

/// What step 2 took, every value given, in the form's order.
fn data_summary(lang: Lang, info: &BasicInfo) -> String {
    let values: Vec<String> = info
        .values()
        .into_iter()
        .filter_map(|(_, value)| value.map(|v| inert(&v).into_owned()))
        .collect();
    let text = lang.tf("open_summary.data", &[("data", &values.join(" · "))]);
    format!(" {text}")
}

/// The meter F2 opens the account on, whether Enter chose it or it is only highlighted, and
/// those keys, in `room` cells. Too long, the meter's type is cut first: the highlighted row
/// below shows it whole, and the keys are what the line is for (session 32, s32-g).
fn meter_summary(app: &App, pick: &MeterPick, room: usize) -> String {
    let Some(meter) = pick.meter() else {
        return format!(" {}", app.t("open_summary.no_meter"));
    };
    let key = if pick.chosen.is_some() {
        "open_summary.meter_chosen"
    } else {
        "open_summary.meter_highlighted"
    };
    let meter_type = inert(&meter.meter_type);
    let with_type = |meter_type: &str| {
        let text = app.tf(
            key,
            &[("meter", &inert(&meter.meter_no)), ("type", &meter_type)],
        );
        format!(" {text}")
    };
    let whole = with_type(&meter_type);
    let over = width(&whole).saturating_sub(room);
    if over == 0 {
        return whole;
    }
    with_type(&truncate(
        &meter_type,
        width(&meter_type).saturating_sub(over).max(1),
    ))
}

/// What choosing `customer_type` means, under it in step 1: how its customers pay, and the
/// information step 2 will ask for.
fn type_means(lang: Lang, customer_type: &CustomerTypeOption) -> String {
    let fields: Vec<&str> = Field::of(customer_type.nature)
        .iter()
        .map(|&field| lang.t(label_key(field)))
        .collect();
    format!(
        " {}",
        lang.tf(
            "helps.type_means",
            &[
                (
                    "model",
                    &coded(
                        lang,
                        "details.model_",
                        customer_type.business_model.as_str()
                    ),
                ),
                ("fields", &lang.list(&fields)),
            ],
        )
    )
}

/// Whether a meter search sent as typed is on its way.
fn searching_as_typed(app: &App) -> bool {
    asking(app, |request| {
        request
            .of::<UninstalledMeters>()
            .is_some_and(|search| search.typed)
    })
}

impl Screen for OpenAccountWizard {
    fn unsaved(&self) -> bool {
        self.is_dirty()
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.open_account").to_owned()
    }

    /// The commands of the wizard's step, for the legend and help.
    fn commands(&self) -> Vec<(Command, &'static str)> {
        let mut commands = vec![(Command::Help, "command.help")];
        match self.step {
            WizardStep::Meter => commands.push((Command::Save, "legend.open_account")),
            _ => commands.push((Command::PageDown, "legend.next_step")),
        }
        if self.step != WizardStep::CustomerType {
            commands.push((Command::PageUp, "legend.previous_step"));
        }
        if self.step == WizardStep::CustomerType {
            commands.push((Command::Lookup, "command.lookup"));
        }
        commands.extend([
            (Command::Leave, "command.leave"),
            (Command::Cancel, "command.cancel"),
        ]);
        if self.step == WizardStep::BasicInfo {
            commands.extend([
                (Command::NextField, "command.next_field"),
                (Command::PrevField, "command.prev_field"),
            ]);
        }
        commands
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let step = lang.tf(
            "open.step",
            &[
                ("step", &self.step.number()),
                ("title", &lang.t(self.step.title_key())),
            ],
        );
        line_at(
            frame,
            area,
            0,
            Line::from(Span::styled(format!(" {step}"), theme.title())),
        );
        let room = usize::from(area.width);
        if let (WizardStep::Meter, Some(customer_type), Some(info)) =
            (self.step, self.customer_type(), &self.info)
        {
            let summary = [
                type_summary(lang, customer_type),
                data_summary(lang, info),
                meter_summary(app, &self.meters, room),
            ];
            for (row, text) in (1..).zip(summary) {
                line_at(frame, area, row, Line::raw(truncate(&text, room)));
            }
        } else if let Some(customer_type) = self.customer_type() {
            let chosen = lang.aside(
                &inert(&customer_type.name),
                nature_text(lang, customer_type.nature),
            );
            let text = format!(" {}", lang.labelled(lang.t("open.customer_type"), &chosen));
            line_at(frame, area, 1, Line::raw(truncate(&text, room)));
            if self.step == WizardStep::CustomerType {
                line_at(
                    frame,
                    area,
                    2,
                    Line::styled(
                        truncate(&type_means(lang, customer_type), room),
                        theme.dim(),
                    ),
                );
            }
        }
        let body = below(area, 3);
        match self.step {
            WizardStep::CustomerType => match &self.types {
                None => line_at(
                    frame,
                    body,
                    0,
                    Line::raw(format!("  {}", lang.t("customers.loading"))),
                ),
                Some(_) => form::draw(frame, body, &self.type_form, lang, theme),
            },
            WizardStep::BasicInfo => {
                if let Some(basic) = &self.basic {
                    form::draw(frame, body, &basic.form, lang, theme);
                }
            }
            WizardStep::Meter => {
                let pick = &self.meters;
                // The header sits over the list's items: past its border and their one space.
                let header = METER_COLUMNS.map(|(key, ..)| lang.t(key).to_owned());
                line_at(
                    frame,
                    area,
                    SUMMARY_ROWS + 1,
                    Line::from(Span::styled(
                        format!("  {}", meter_columns(&header)),
                        theme.dim(),
                    )),
                );
                let items: Vec<String> = pick
                    .rows
                    .iter()
                    .map(|m| {
                        meter_columns(&[
                            inert(&m.meter_no).into_owned(),
                            inert(&m.meter_type).into_owned(),
                            reading(m.initial_electronic_reading),
                            reading(m.initial_mechanical_reading),
                        ])
                    })
                    .collect();
                let empty = if pick.loading {
                    lang.t("customers.loading")
                } else {
                    lang.t("open.no_meters")
                };
                let list = below(area, SUMMARY_ROWS + 2);
                let height = (METER_PAGE as u16 + 3).min(list.height);
                let boxed = Rect { height, ..list };
                form::list(
                    frame,
                    boxed,
                    lang.t("open.meter_list"),
                    &pick.search,
                    &items,
                    pick.selected,
                    empty,
                    theme,
                );
            }
        }
    }

    fn on_open(&mut self, hub: &mut Hub) {
        hub.send(CustomerTypes);
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if leaves_or_refused_while_saving(&key, command, hub) || self.wizard_key(key, command, hub)
        {
            return true;
        }
        // Enter on the last field of a wizard step goes on to the next step.
        let next_step = |wizard: &mut Self, hub: &mut Hub| wizard.step(true, hub);
        key_to_form(self, Self::form_mut, next_step, (key, command), hub)
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::PageDown | Command::PageUp => self.step(command == Command::PageDown, hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let lang = hub.app.lang;
        if let Some(types) = reply.of::<Vec<CustomerTypeOption>>() {
            self.type_form = type_form(types);
            self.types = Some(types.clone());
            // The list is what step 1 asks: open it at once.
            self.type_form.lookup = Some(Default::default());
            if types.is_empty() {
                hub.say(MessageKind::Error, lang.t("open.no_types"));
            }
        } else if let Some(meters) = reply.of::<Vec<Meter>>() {
            let pick = &mut self.meters;
            pick.loading = false;
            pick.more = meters.len() > METER_PAGE;
            pick.rows = meters.iter().take(METER_PAGE).cloned().collect();
            pick.selected = pick.selected.min(pick.rows.len().saturating_sub(1));
        } else if let Some(answer) = reply.of::<IdHolders>() {
            let asked = self.info.as_ref().and_then(id_number);
            if asked != Some(answer.id_document_no.as_str()) {
                // Step 2 changed meanwhile: the F2 to come looks again.
            } else if hub.saving() {
                // An F2 pressed again while the first look waited for the database asked
                // twice: the first answer sent the opening, which is told when it lands.
            } else if answer.holders.is_empty() {
                self.open_account(true, hub);
            } else {
                self.id_said = Some(answer.id_document_no.clone());
                say_id_elsewhere(answer, "basic.id_elsewhere_open", hub);
            }
        } else if let Some(outcome) = reply.of::<OpenOutcome>() {
            answer_save(self, outcome, hub, Self::opened, told);
        }
    }
}

/// A meter reading as a volume: m³ to the litre. The column (`NUMERIC(12,3)`) holds no more
/// decimals, so nothing is rounded away.
fn reading(value: rust_decimal::Decimal) -> String {
    Volume::round_down(value).to_string()
}

/// Step 3's columns: header key, cells, right-aligned. The readings are m³ to the litre.
const METER_COLUMNS: [(&str, u16, bool); 4] = [
    ("ref.col_meter_no", 12, false),
    ("ref.col_meter_type", 24, false),
    ("ref.col_electronic", 12, true),
    ("ref.col_mechanical", 12, true),
];

/// One line of step 3's list (or its header), each value fitted to its column's cells.
fn meter_columns(values: &[String; 4]) -> String {
    values
        .iter()
        .zip(METER_COLUMNS)
        .map(|(value, (_, cells, right))| fit(value, cells, right))
        .collect::<Vec<_>>()
        .join("  ")
}
