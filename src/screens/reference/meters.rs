//! The meters (`:meters`): uninstalled meters (or installed and removed ones, read-only),
//! searched by number prefix, paged by meter number; add, modify and delete an uninstalled one
//! (`meter.maintain`), and the import of a file (`meter.import`, [`super::meter_import`]).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rust_decimal::Decimal;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::common::{Sideways, more_columns};
use super::form::{Errors, FormTarget, RefForm, Saves, choose, key_of, set, text_of};
use super::meter_types::{MeterTypeReply, MeterTypeRequest};
use super::requests::{
    ChangeAnswer, Db, RefAnswer, RefWork, Says, answer, change_done, command_waits_for, keyed,
    read_waiting_says, send,
};
use super::texts::{meter_no_error_text, status_key};
use crate::app::form::{Choice, Field, FieldKind, Form, halfwidth_key};
use crate::app::keymap::edits_text;
use crate::app::paging::{self, PageApply};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::Failure;
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::customers::{Page, PageAt};
use crate::db::meters::{
    self, MeterFields, MeterListRow, MeterListing, MeterOutcome, MeterTypeRow,
};
use crate::domain::meter_csv::MeterNo;
use crate::domain::money::{MAX_VOLUME, Volume};
use crate::domain::validation;
use crate::i18n::Lang;
use crate::screens::legend::{Labelled, PAGING, usual};
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table};
use crate::ui::text::{truncate, width};
use crate::ui::theme::Theme;

#[derive(Debug, Clone)]
pub struct MetersView {
    pub listing: MeterListing,
    pub search: Input,
    pub search_focused: bool,
    pub page: Page<MeterListRow>,
    pub selected: usize,
    pub loading: bool,
    pub deleting: bool,
    /// For the meter form's type choice.
    pub meter_types: Vec<MeterTypeRow>,
    pub sideways: Sideways,
}

impl Default for MetersView {
    fn default() -> Self {
        MetersView {
            listing: MeterListing::default(),
            search: Input::default(),
            search_focused: false,
            page: Page::default(),
            selected: 0,
            loading: true,
            deleting: false,
            meter_types: Vec::new(),
            sideways: Sideways::default(),
        }
    }
}

/// The meter list's requests.
#[derive(Debug, Clone, PartialEq)]
pub enum MeterRequest {
    Page {
        listing: MeterListing,
        prefix: String,
        at: PageAt<String>,
        size: usize,
        apply: PageApply,
    },
    /// Adds (`read` None) or modifies an uninstalled meter whose form was filled from `read`:
    /// saved by another desk since, it is refused (`Changed`).
    Save {
        idempotency_key: String,
        read: Option<MeterFields>,
        meter_no: MeterNo,
        fields: MeterFields,
    },
    /// Deletes an uninstalled meter with the type and readings its list showed (`read`):
    /// changed by another desk since, it is refused (`Changed`).
    Delete {
        idempotency_key: String,
        meter_no: MeterNo,
        read: MeterFields,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeterReply {
    Page(Page<MeterListRow>),
    Saved(MeterOutcome),
    Deleted(MeterOutcome),
}

impl RefWork for MeterRequest {
    type Reply = MeterReply;

    const PERMISSION: &'static str = "meter.maintain";

    keyed!(MeterRequest, reads: [Page], writes: [Save, Delete]);

    async fn run(&self, db: Db<'_>) -> Result<MeterReply, Failure> {
        Ok(match self {
            MeterRequest::Page {
                listing,
                prefix,
                at,
                size,
                ..
            } => MeterReply::Page(
                meters::meter_page(&*db.client, *listing, prefix, at, *size).await?,
            ),
            MeterRequest::Save {
                idempotency_key: key,
                read,
                meter_no,
                fields,
            } => MeterReply::Saved(match read {
                None => meters::add_meter(db.client, db.operator_id, key, meter_no, fields).await?,
                Some(read) => {
                    meters::modify_meter(db.client, db.operator_id, key, meter_no, read, fields)
                        .await?
                }
            }),
            MeterRequest::Delete {
                idempotency_key: key,
                meter_no,
                read,
            } => MeterReply::Deleted(
                meters::delete_meter(db.client, db.operator_id, key, meter_no, read).await?,
            ),
        })
    }

    fn told(&self, reply: &MeterReply, lang: Lang) -> Option<ChangeAnswer> {
        let says = Says { lang };
        let (MeterReply::Saved(outcome) | MeterReply::Deleted(outcome)) = reply else {
            return None;
        };
        Some(match outcome {
            MeterOutcome::Done => match self {
                MeterRequest::Delete { meter_no, .. } => {
                    says.deleted("audit_log.entity_meter", meter_no.as_str())
                }
                MeterRequest::Save { meter_no, .. } => {
                    says.saved("audit_log.entity_meter", meter_no.as_str())
                }
                // A page answers no change (`Page`, above); never `Done`.
                _ => return None,
            },
            MeterOutcome::NumberTaken => {
                says.on("ref.f_meter_no", lang.t("ref.meter_no_taken").into())
            }
            MeterOutcome::UnknownMeterType => {
                says.on("ref.f_meter_type", lang.t("ref.gone").into())
            }
            MeterOutcome::NotUninstalled { status } => says.said(lang.tf(
                "ref.meter_not_uninstalled",
                &[("status", &lang.t(status_key(status)))],
            )),
            MeterOutcome::NotFound => says.said(lang.t("ref.gone").into()),
            MeterOutcome::Changed => match self {
                MeterRequest::Delete { .. } => says.not_deleted("audit_log.entity_meter"),
                _ => says.changed("audit_log.entity_meter"),
            },
        })
    }
}

impl MetersView {
    /// The rows' cells, as `COLUMNS` head them.
    fn cells(&self, lang: Lang) -> Vec<Vec<String>> {
        self.page
            .rows
            .iter()
            .map(|row| {
                vec![
                    row.meter.meter_no.clone(),
                    inert(&row.meter.meter_type).into_owned(),
                    reading_text(row.meter.initial_electronic_reading),
                    reading_text(row.meter.initial_mechanical_reading),
                    lang.t(status_key(&row.status)).to_owned(),
                    row.customer
                        .as_ref()
                        .map(|(no, name)| format!("{no:08} {}", inert(name)))
                        .unwrap_or_default(),
                ]
            })
            .collect()
    }

    pub fn selected_row(&self) -> Option<&MeterListRow> {
        self.page.rows.get(self.selected)
    }

    /// Asks for a page of the meter list; a newer one supersedes any still on its way.
    fn fetch(&self, at: PageAt<String>, apply: PageApply, hub: &mut Hub) {
        let size = if matches!(apply, PageApply::ScrollDown | PageApply::ScrollUp) {
            1
        } else {
            hub.app.table_rows()
        };
        let request = MeterRequest::Page {
            listing: self.listing,
            prefix: self.search.value().to_owned(),
            at,
            size,
            apply,
        };
        hub.forget(|request| {
            super::requests::is(request, |work| matches!(work, MeterRequest::Page { .. }))
        });
        send(hub, request);
    }

    /// A paging command (or F5: the page shown, again).
    fn page(&mut self, command: Command, hub: &mut Hub) {
        if let Some((at, apply)) = paging::page_for(
            &self.page,
            &mut self.selected,
            command,
            |row| row.meter.meter_no.clone(),
            |row| row.meter.id,
        ) {
            self.fetch(at, apply, hub);
        }
    }

    /// Delete: refused at once for a placed meter, else asked once.
    fn ask_delete(&mut self, hub: &mut Hub) {
        match self.page.rows.get(self.selected) {
            Some(row) if row.status != "uninstalled" => {
                let text = read_only_text(hub.app.lang, row);
                hub.say(MessageKind::Error, text);
            }
            Some(row) => {
                let name = row.meter.meter_no.clone();
                super::common::ask_delete(&mut self.deleting, &name, hub);
            }
            None => super::common::say_list_empty(hub),
        }
    }

    fn confirm_delete(&self, hub: &mut Hub) {
        let idempotency_key = hub.app.write_key();
        if let Some(row) = self.selected_row()
            && let Ok(meter_no) = MeterNo::parse(&row.meter.meter_no)
        {
            let read = row.meter.fields();
            send(
                hub,
                MeterRequest::Delete {
                    idempotency_key,
                    meter_no,
                    read,
                },
            );
        }
    }

    /// Add, or modify the selected meter; a placed meter is read-only (said why).
    fn open_form(&self, add: bool, hub: &mut Hub) {
        let row = if add {
            None
        } else {
            let Some(row) = self.selected_row() else {
                super::common::say_list_empty(hub);
                return;
            };
            if row.status != "uninstalled" {
                let text = read_only_text(hub.app.lang, row);
                hub.say(MessageKind::Error, text);
                return;
            }
            Some(row)
        };
        let types = FieldKind::Choice(
            self.meter_types
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
            Field::new(
                "ref.f_electronic",
                FieldKind::Volume { max: MAX_VOLUME },
                false,
            ),
            Field::new(
                "ref.f_mechanical",
                FieldKind::Volume { max: MAX_VOLUME },
                false,
            ),
        ]);
        let mut form = Form::new(fields);
        if let Some(row) = row {
            let meter = &row.meter;
            choose(
                &mut form,
                "ref.f_meter_type",
                &meter.meter_type_id.to_string(),
            );
            set(
                &mut form,
                "ref.f_electronic",
                &meter.initial_electronic_reading.to_string(),
            );
            set(
                &mut form,
                "ref.f_mechanical",
                &meter.initial_mechanical_reading.to_string(),
            );
        }
        let stored = row.map(|row| (row.meter.meter_no.clone(), row.meter.fields()));
        hub.open(Box::new(RefForm::new(
            form,
            FormTarget::Meter { stored },
            &SAVES,
        )));
    }
}

/// The meter form's rules: the request, or None with the bad fields in `errors`. `stored`:
/// the number of the meter modified and what its form was filled from (None: a new meter, its
/// number typed).
pub(super) fn build(
    f: &Form,
    stored: Option<&(String, MeterFields)>,
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<MeterRequest> {
    let number = match stored {
        Some((stored, _)) => MeterNo::parse(stored).ok(),
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
        errors.valid(label, validation::volume(text, MAX_VOLUME), lang)
    };
    let electronic = reading("ref.f_electronic");
    let mechanical = reading("ref.f_mechanical");
    Some(MeterRequest::Save {
        idempotency_key,
        read: stored.map(|(_, read)| read.clone()),
        meter_no: number?,
        fields: MeterFields {
            meter_type_id: meter_type_id?,
            initial_electronic_reading: electronic?,
            initial_mechanical_reading: mechanical?,
        },
    })
}

/// Why a placed meter cannot be changed: it is installed at (or removed from) a customer.
fn read_only_text(lang: Lang, row: &MeterListRow) -> String {
    let customer = row
        .customer
        .as_ref()
        .map(|(no, name)| format!("{no:08} {}", inert(name)))
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

/// A reading as stored (`NUMERIC(12,3)`), at its 3 decimals.
fn reading_text(reading: Decimal) -> String {
    Volume::exact(reading).map_or_else(|_| reading.to_string(), |volume| volume.to_string())
}

impl Screen for MetersView {
    /// A list with a search line, as the customer table: its changes open a form of their own.
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("ref.screen_meters").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.deleting {
            return super::common::question_commands("ref.legend_confirm_delete");
        }
        if self.search_focused {
            return vec![
                (Command::Details, "legend.to_rows"),
                (Command::Cancel, "legend.to_rows"),
                (Command::Help, "command.help"),
            ];
        }
        use Command::*;
        let own: Vec<Labelled> = match self.listing {
            MeterListing::Uninstalled => usual([Search, Add, Modify, Delete, Import])
                .chain([(Listing, "ref.legend_installed")])
                .chain(usual([Refresh]))
                .chain(usual(PAGING))
                .collect(),
            // Modify and delete stay on the keys to say why a placed meter is read-only.
            MeterListing::Placed => usual([Search, Modify, Delete])
                .chain([(Listing, "ref.legend_uninstalled")])
                .chain(usual([Refresh]))
                .chain(usual(PAGING))
                .collect(),
        };
        super::common::commands_with(&own)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let [search_line, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        let label = format!(" {} ", lang.t("ref.search_meter"));
        let room = 13;
        let value = truncate(&inert(self.search.value()), room);
        let style = theme.input(self.search_focused);
        let listing = match self.listing {
            MeterListing::Uninstalled => lang.t("ref.listing_uninstalled"),
            MeterListing::Placed => lang.t("ref.listing_placed"),
        };
        if self.search_focused {
            let cursor = self.search.visual_cursor().min(room) as u16;
            frame.set_cursor_position((
                search_line.x + width(&label) as u16 + cursor,
                search_line.y,
            ));
        }
        let rows = self.cells(lang);
        let selected = (!self.search_focused).then_some(self.selected);
        let hidden = Table::new(&COLUMNS, &rows, lang.t("ref.no_meters"))
            .loading(self.loading, lang.t("ref.loading"))
            .selected(selected, 1)
            .sideways(self.sideways.0)
            .draw(frame, rest, (lang, theme));
        let line = Line::from(vec![
            Span::raw(label.clone()),
            Span::styled(
                format!("{value}{}", " ".repeat(room.saturating_sub(width(&value)))),
                style,
            ),
            // The hint first: the listing's name is long, and cut on a narrow screen.
            Span::styled(
                format!("  {}{listing}", more_columns(lang, hidden)),
                theme.title(),
            ),
        ]);
        frame.render_widget(Paragraph::new(line), search_line);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        send(hub, MeterTypeRequest::List);
        self.fetch(PageAt::First, PageApply::Search, hub);
    }

    /// Add and Modify wait for the meter types their form chooses from (as the short
    /// lists' commands wait for their read); text typed into the search box does not.
    fn key_waits(&self, key: &KeyEvent, app: &App) -> bool {
        let needs_types = |command| matches!(command, Command::Add | Command::Modify);
        !self.search_focused && command_waits_for(key, app, &MeterTypeRequest::List, needs_types)
    }

    fn waiting_says(&self, app: &App) -> Option<&'static str> {
        Some(read_waiting_says(app, &MeterTypeRequest::List))
    }

    /// Text into the search box, Up/Down on the rows (past the page's edge: one more row).
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if super::common::waits_for_save(hub, &key, command, false) {
            return true;
        }
        if self.deleting {
            if super::common::confirms_delete(&mut self.deleting, command, hub) {
                self.confirm_delete(hub);
            }
            return true;
        }
        // Meter numbers are ASCII: what an input method types full-width is read so.
        let key = halfwidth_key(key);
        if self.search_focused && edits_text(&key) {
            let before = self.search.value().to_owned();
            self.search.handle_event(&crossterm::event::Event::Key(key));
            if self.search.value() != before {
                self.fetch(PageAt::First, PageApply::Search, hub);
            }
            return true;
        }
        if !self.search_focused
            && self
                .sideways
                .on_key(&key, &COLUMNS, &self.cells(hub.app.lang), hub.app)
        {
            return true;
        }
        let step = match key.code {
            KeyCode::Up => -1,
            KeyCode::Down => 1,
            KeyCode::Enter | KeyCode::Tab if self.search_focused => {
                self.search_focused = false;
                return true;
            }
            _ => return false,
        };
        if self.search_focused {
            if step > 0 {
                self.search_focused = false;
            }
        } else if let Some((at, apply)) =
            paging::scroll(&self.page, &mut self.selected, step, |row| {
                row.meter.meter_no.clone()
            })
        {
            self.fetch(at, apply, hub);
        }
        true
    }

    fn permission(&self, command: Command) -> Option<&'static str> {
        super::common::change_permission(command, MeterRequest::PERMISSION)
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Refresh => self.page(command, hub),
            Command::Search => self.search_focused = true,
            Command::Details | Command::Cancel if self.search_focused => {
                self.search_focused = false
            }
            Command::Listing => {
                self.listing = match self.listing {
                    MeterListing::Uninstalled => MeterListing::Placed,
                    MeterListing::Placed => MeterListing::Uninstalled,
                };
                self.loading = true;
                self.fetch(PageAt::First, PageApply::Search, hub);
            }
            Command::PageDown | Command::PageUp | Command::First | Command::Last => {
                self.page(command, hub)
            }
            Command::Import => hub.open(Box::new(super::meter_import::ImportView::default())),
            Command::Add | Command::Modify => self.open_form(command == Command::Add, hub),
            Command::Delete => self.ask_delete(hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some((_, RefAnswer::Done(MeterTypeReply::Rows(rows)))) =
            answer::<MeterTypeRequest>(request, reply)
        {
            self.meter_types = rows.clone();
        }
        let Some((work, answer)) = answer::<MeterRequest>(request, reply) else {
            return;
        };
        match (work, answer) {
            (MeterRequest::Page { apply, .. }, RefAnswer::Done(MeterReply::Page(page))) => {
                self.loading = false;
                paging::show(
                    &mut self.page,
                    &mut self.selected,
                    page.clone(),
                    *apply,
                    |row| row.meter.id,
                );
            }
            (work, answer) => {
                // Done or refused (a delete of a meter changed meanwhile), the page is read
                // again.
                change_done(work, answer, hub);
                if work.idempotency_key().is_some() {
                    self.page(Command::Refresh, hub);
                }
            }
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            self.page(Command::Refresh, hub);
        }
    }
}

const COLUMNS: [Column; 6] = [
    Column::new("ref.col_meter_no", 12, 0, false).whole(),
    Column::new("ref.col_meter_type", 10, 3, false),
    Column::new("ref.col_electronic", 12, 0, true).whole(),
    Column::new("ref.col_mechanical", 12, 0, true).whole(),
    Column::new("ref.col_status", 11, 0, false),
    Column::new("ref.col_customer", 8, 4, false),
];

/// What its forms are saved with: its rules and its request.
static SAVES: Saves<MeterRequest> = Saves(|target, f, errors, lang, key| match target {
    FormTarget::Meter { stored } => build(f, stored.as_ref(), errors, lang, key),
    _ => None,
});
