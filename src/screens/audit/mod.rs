//! The audit viewer (`:audit`, permission `audit.view`: supervisors and administrators): the
//! audit log newest first, paged by keyset, one line per entry (time, operator, action, what
//! it concerns, the customer); `/` filters by operator, customer, kind and dates (`filter`),
//! Enter shows an entry in full (`entry`), `e` exports the filtered rows as CSV (`requests`).
//! An operator without the permission is refused at once, and again by each request.

pub mod entry;
pub mod filter;
pub mod requests;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use tui_input::Input;

use crate::app::form::{Field, FieldKind, Form, FormKey};
use crate::app::paging::{self, PageApply};
use crate::app::permissions;
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::audit::{AuditCursor, AuditRow};
use crate::db::customers::{Page, PageAt};
use crate::i18n::Lang;
use crate::screens::legend::{BACK, PAGING, framed, usual};
use crate::ui::table::{Column, Table};
use crate::ui::text::{local, truncate};
use crate::ui::theme::Theme;
use filter::Typed;
use requests::{AuditCall, AuditReply, AuditWork, PERMISSION, tell_exported};

/// The viewer: the filter that is on, the page shown, and what is in front of the rows.
#[derive(Debug, Clone, Default)]
pub struct AuditScreen {
    pub typed: Typed,
    pub page: Page<AuditRow>,
    pub selected: usize,
    pub loading: bool,
    pub pane: Pane,
}

/// What the viewer shows.
#[derive(Debug, Clone, Default)]
pub enum Pane {
    #[default]
    Rows,
    /// The filter form, filled in with the filter that is on.
    Filter(Form),
    /// One entry in full, scrolled by this many lines.
    Entry(Box<AuditRow>, usize),
    /// The path of the export file.
    Export(Form),
}

/// Whether the operator signed in may read the log.
pub fn permitted(app: &App) -> bool {
    app.may(PERMISSION)
}

/// The log refused, by the roles the desk was told at sign-in or by the database: said, and
/// the screen left.
fn refused(hub: &mut Hub) {
    hub.say(
        MessageKind::Error,
        hub.app.lang.t("audit_log.not_permitted"),
    );
    hub.leave();
}

impl AuditScreen {
    pub fn selected_row(&self) -> Option<&AuditRow> {
        self.page.rows.get(self.selected)
    }

    /// Asks for a page of the filtered log; a newer one supersedes any still on its way.
    fn fetch(&mut self, at: PageAt<AuditCursor>, apply: PageApply, hub: &mut Hub) {
        let size = if matches!(apply, PageApply::ScrollDown | PageApply::ScrollUp) {
            1
        } else {
            hub.app.table_rows()
        };
        hub.forget(|request| {
            request
                .of::<AuditCall>()
                .is_some_and(|call| matches!(call.work, AuditWork::Page { .. }))
        });
        let work = AuditWork::Page {
            filter: self.typed.filter(hub.app.zone),
            at,
            size,
            apply,
        };
        let call = AuditCall::new(work);
        hub.send(call);
    }

    /// A paging command, or F5: the page shown, again.
    fn page(&mut self, command: Command, hub: &mut Hub) {
        if let Some((at, apply)) = paging::page_for(
            &self.page,
            &mut self.selected,
            command,
            AuditRow::cursor,
            |row| row.id,
        ) {
            self.fetch(at, apply, hub);
        }
    }

    /// The export form, its path a new file in the current directory named by the time.
    fn export_form(&self, app: &App) -> Form {
        let now = chrono::Utc::now().with_timezone(&app.zone);
        let mut form = Form::new(vec![Field::new(
            "audit_log.f_path",
            FieldKind::Text { max: 255 },
            true,
        )]);
        form.fields[0].input = Input::new(format!("audit-{}.csv", now.format("%Y%m%d-%H%M%S")));
        form
    }

    /// A key to the filter or the export form.
    fn form_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let (Pane::Filter(form) | Pane::Export(form)) = &mut self.pane else {
            return false;
        };
        match hub.pane_form_key(form, key, command) {
            None => self.pane = Pane::Rows,
            Some(FormKey::Unhandled) => return false,
            Some(FormKey::Taken) => {}
            Some(FormKey::Submit) => self.submit(hub),
        }
        true
    }

    /// F2 on a form: the filter is put on and its first page asked for, or the export sent.
    fn submit(&mut self, hub: &mut Hub) {
        match &mut self.pane {
            Pane::Filter(form) => match Typed::read(form, hub.app.lang, hub.app.today()) {
                Ok(typed) => {
                    self.typed = typed;
                    self.pane = Pane::Rows;
                    self.loading = true;
                    self.fetch(PageAt::First, PageApply::Search, hub);
                }
                Err(errors) => {
                    form.fail(&errors);
                    hub.say_form_error(form);
                }
            },
            Pane::Export(form) => {
                let path = form.fields[0].value().trim().to_owned();
                let work = AuditWork::Export {
                    filter: self.typed.filter(hub.app.zone),
                    path,
                    zone: hub.app.zone,
                };
                self.pane = Pane::Rows;
                let call = AuditCall::new(work);
                hub.send(call);
                hub.say(MessageKind::Info, hub.app.lang.t("audit_log.exporting"));
            }
            Pane::Rows | Pane::Entry(..) => {}
        }
    }

    fn exporting(hub: &Hub) -> bool {
        hub.asking(|request| {
            request
                .of::<AuditCall>()
                .is_some_and(|call| matches!(call.work, AuditWork::Export { .. }))
        })
    }
}

impl Screen for AuditScreen {
    fn crumb(&self, lang: Lang) -> String {
        let screen = lang.t("screen.audit");
        match self.pane {
            Pane::Rows => screen.to_owned(),
            Pane::Filter(_) => format!("{screen} › {}", lang.t("audit_log.screen_filter")),
            Pane::Entry(..) => format!("{screen} › {}", lang.t("audit_log.screen_entry")),
            Pane::Export(_) => format!("{screen} › {}", lang.t("audit_log.screen_export")),
        }
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        use Command::*;
        match self.pane {
            Pane::Rows => framed(
                [(Search, "audit_log.legend_filter")]
                    .into_iter()
                    .chain(usual([Details, Export]))
                    .chain([BACK])
                    .chain(usual([Refresh]))
                    .chain(usual(PAGING)),
            ),
            Pane::Filter(_) => usual([Help])
                .chain([(Save, "audit_log.legend_apply")])
                // F3 leaves the filter as F12 does (its question names both): listed (s38-e).
                .chain(usual([NextField, Leave, Cancel]))
                .collect(),
            Pane::Export(_) => usual([Help])
                .chain([(Save, "audit_log.legend_export")])
                .chain(usual([Cancel]))
                .collect(),
            Pane::Entry(..) => usual([Help, PageDown, PageUp])
                .chain([BACK])
                .chain(usual([Cancel]))
                .collect(),
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        draw(frame, area, self, app, &Theme::new(app.look));
    }

    fn on_open(&mut self, hub: &mut Hub) {
        if !permitted(hub.app) {
            return refused(hub);
        }
        self.loading = true;
        self.fetch(PageAt::First, PageApply::Search, hub);
    }

    /// Keys to the forms first; Up/Down move on the rows (past the page's edge: one more
    /// row) or scroll an entry.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if self.form_key(key, command, hub) {
            return true;
        }
        let step = match key.code {
            KeyCode::Up => -1,
            KeyCode::Down => 1,
            _ => return false,
        };
        match &mut self.pane {
            Pane::Entry(row, scroll) => {
                *scroll = scroll
                    .saturating_add_signed(step)
                    .min(last_scroll(row, hub.app))
            }
            Pane::Rows => {
                if let Some((at, apply)) =
                    paging::scroll(&self.page, &mut self.selected, step, AuditRow::cursor)
                {
                    self.fetch(at, apply, hub);
                }
            }
            Pane::Filter(_) | Pane::Export(_) => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        if let Pane::Entry(row, scroll) = &mut self.pane {
            let lines = body_height(hub.app);
            match command {
                Command::PageDown => *scroll = (*scroll + lines).min(last_scroll(row, hub.app)),
                Command::PageUp => *scroll = scroll.saturating_sub(lines),
                Command::Leave | Command::Cancel => self.pane = Pane::Rows,
                _ => return false,
            }
            return true;
        }
        match command {
            Command::Refresh
            | Command::PageDown
            | Command::PageUp
            | Command::First
            | Command::Last => self.page(command, hub),
            Command::Search => self.pane = Pane::Filter(self.typed.form()),
            Command::Details => {
                if let Some(row) = self.selected_row() {
                    self.pane = Pane::Entry(Box::new(row.clone()), 0);
                }
            }
            Command::Export if Self::exporting(hub) => hub.say(
                MessageKind::Info,
                hub.app.lang.t("audit_log.export_running"),
            ),
            Command::Export => self.pane = Pane::Export(self.export_form(hub.app)),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let (Some(call), Some(reply)) = (request.of::<AuditCall>(), reply.of::<AuditReply>())
        else {
            return;
        };
        match (&call.work, reply) {
            (AuditWork::Page { apply, .. }, AuditReply::Page(page)) => {
                self.loading = false;
                paging::show(
                    &mut self.page,
                    &mut self.selected,
                    page.clone(),
                    *apply,
                    |row| row.id,
                );
            }
            (_, AuditReply::NotPermitted) => {
                // The desk believed the roles allowed it: they changed since it read them.
                permissions::reread(hub.app, hub.out);
                refused(hub)
            }
            (_, exported) => tell_exported(exported, hub),
        }
    }

    fn on_failure(&mut self, _request: &dyn ScreenRequest, _hub: &mut Hub) {
        self.loading = false;
    }

    fn on_resize(&mut self, hub: &mut Hub) {
        self.page(Command::Refresh, hub);
    }
}

/// Lines of the body: all but the top line, the message line and the legend.
fn body_height(app: &App) -> usize {
    usize::from(app.viewport.1.saturating_sub(3)).max(1)
}

/// Whether the database masks the customers' personal values for the operator signed in
/// (their roles serve no customer, sql/V254/V255).
fn masks(app: &App) -> bool {
    app.session
        .as_ref()
        .is_some_and(|session| !session.serves_customers)
}

/// How far an entry scrolls: until its last line is at the bottom.
fn last_scroll(row: &AuditRow, app: &App) -> usize {
    let room = usize::from(app.viewport.0);
    let theme = Theme::new(app.look);
    let lines = entry::lines(row, app.lang, app.zone, room, &theme, masks(app));
    lines.len().saturating_sub(body_height(app))
}

const COLUMNS: [Column; 5] = [
    Column::new("audit_log.col_at", 16, 0, false),
    Column::new("audit_log.col_operator", 8, 1, false),
    Column::new("audit_log.col_action", 16, 1, false),
    Column::new("audit_log.col_entity", 14, 3, false),
    Column::new("audit_log.col_customer", 8, 0, false),
];

fn draw(frame: &mut Frame, area: Rect, view: &AuditScreen, app: &App, theme: &Theme) {
    let lang = app.lang;
    let room = usize::from(area.width);
    let [head, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let heading = |key: &str| {
        Paragraph::new(Line::styled(
            truncate(&format!(" {}", app.t(key)), room),
            theme.dim(),
        ))
    };
    match &view.pane {
        Pane::Rows => {
            let summary = truncate(&format!(" {}", view.typed.summary(lang)), room);
            frame.render_widget(Paragraph::new(Line::styled(summary, theme.title())), head);
            let rows: Vec<Vec<String>> = view
                .page
                .rows
                .iter()
                .map(|row| {
                    vec![
                        local(&row.at, app.zone),
                        entry::operator_text(row, lang),
                        entry::action_text(row, lang),
                        entry::entity_text(row, lang),
                        row.customer_no
                            .map(|no| format!("{no:08}"))
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            let none = view.typed.none(lang);
            Table::new(&COLUMNS, &rows, &none)
                .loading(view.loading, lang.t("audit_log.loading"))
                .selected(Some(view.selected), 1)
                .draw(frame, rest, (lang, theme));
        }
        Pane::Filter(form) => {
            frame.render_widget(heading("audit_log.filter_hint"), head);
            crate::ui::form::draw(frame, below_a_line(rest), form, lang, theme);
        }
        Pane::Export(form) => {
            let text = lang.tf(
                "audit_log.export_hint",
                &[("filter", &view.typed.summary(lang))],
            );
            let hint = Paragraph::new(Line::styled(
                truncate(&format!(" {text}"), room),
                theme.dim(),
            ));
            frame.render_widget(hint, head);
            crate::ui::form::draw(frame, below_a_line(rest), form, lang, theme);
        }
        Pane::Entry(row, scroll) => {
            let lines = entry::lines(row, lang, app.zone, room, theme, masks(app));
            let shown: Vec<Line> = lines.into_iter().skip(*scroll).collect();
            frame.render_widget(Paragraph::new(shown), area);
        }
    }
}

/// `area` without its first line: room between a heading and a form.
fn below_a_line(area: Rect) -> Rect {
    let [_, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    rest
}
