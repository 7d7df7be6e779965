//! The short lists (meter types, price schemes, customer types; operators, departments,
//! roles): a list loaded whole, Up/Down, Home/End, PgUp/PgDn, F5, add and modify through the
//! reference form, a change asked once on the message line (a delete, an operator disabled).
//! What differs from list to list is its [`ListKind`]; this is the one screen they all are.

use std::fmt::Debug;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::common::{Sideways, more_columns};
use super::form::RefForm;
use super::requests::{
    RefAnswer, RefWork, answer, change_done, command_waits_for, read_waiting_says, send, show_after,
};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::i18n::Lang;
use crate::screens::legend::{BACK, PAGING, framed, usual};
use crate::ui::table::{Column, Table};
use crate::ui::theme::Theme;

/// What makes a short list the list of one kind of row.
pub trait ListKind: Debug + Clone + Default + Send + 'static {
    type Row: Debug + Clone + Send + 'static;
    /// The catalogue key of its crumb.
    const CRUMB: &'static str;
    const COLUMNS: &'static [Column];
    /// Its commands besides help, back, the command line and quit.
    const COMMANDS: &'static [(Command, &'static str)];
    /// The commands that start a change: while one waits for the database they only say so.
    const CHANGES: &'static [Command] = &super::common::LIST_CHANGES;
    /// Whether only those who may make its changes see it (the operators): anyone else is
    /// told why as it opens, and it leaves.
    const PRIVATE: bool = false;
    /// The commands that ask once on the message line before their change is made.
    const QUESTIONS: &'static [Command] = &[Command::Delete];
    /// The legend's label of F2 while a change is asked.
    const CONFIRM: &'static str = "ref.legend_confirm_delete";
    /// Its requests.
    type Work: RefWork;
    /// Reads it.
    const READ: Self::Work;

    /// Its rows in `reply`, if that answers [`Self::READ`] (keeping what else it brings).
    fn rows(&mut self, reply: &<Self::Work as RefWork>::Reply) -> Option<Vec<Self::Row>>;

    /// A row's cells, as [`Self::COLUMNS`] head them.
    fn cells(row: &Self::Row, lang: Lang) -> Vec<String>;

    /// The form Add (no row), Modify or Prices (the selected row) opens.
    fn form(&self, row: Option<&Self::Row>, command: Command, app: &App) -> Option<RefForm>;

    /// Delete of `row`: its name for the question, or why it is refused at once.
    fn deletable(_row: &Self::Row, _lang: Lang) -> Result<String, String> {
        Err(String::new())
    }

    /// The delete of `row`, with the idempotency key made on F2.
    fn delete(_row: &Self::Row, _idempotency_key: String) -> Option<Self::Work> {
        None
    }

    /// What `command`, one of [`Self::QUESTIONS`], asks about `row`, or why it is refused at
    /// once: the delete of [`Self::deletable`].
    fn question(&self, row: &Self::Row, _command: Command, app: &App) -> Result<String, String> {
        Self::deletable(row, app.lang).map(|name| super::common::delete_question(&name, app))
    }

    /// The change `command` asked about `row`, confirmed (F2) with the idempotency key made
    /// then: [`Self::delete`].
    fn confirmed(
        &self,
        row: &Self::Row,
        _command: Command,
        idempotency_key: String,
    ) -> Option<Self::Work> {
        Self::delete(row, idempotency_key)
    }

    /// What is said of the selected row under the table, wrapped (a role's permissions); none
    /// for most.
    fn detail(_row: &Self::Row, _lang: Lang) -> Option<String> {
        None
    }

    /// A command of its own, on the selected row (the schemes' Details); true if handled.
    fn on_command(&self, _row: Option<&Self::Row>, _command: Command, _hub: &mut Hub) -> bool {
        false
    }
}

/// A short list of `K`'s rows.
#[derive(Debug, Clone)]
pub struct ShortList<K: ListKind> {
    pub rows: Vec<K::Row>,
    pub selected: usize,
    pub loading: bool,
    /// The command whose change is asked: F2 makes it, anything else cancels.
    pub asking: Option<Command>,
    pub kind: K,
    pub sideways: Sideways,
}

/// A short list as it opens: loading its rows.
impl<K: ListKind> Default for ShortList<K> {
    fn default() -> Self {
        ShortList {
            rows: Vec::new(),
            selected: 0,
            loading: true,
            asking: None,
            kind: K::default(),
            sideways: Sideways::default(),
        }
    }
}

impl<K: ListKind> ShortList<K> {
    pub fn selected_row(&self) -> Option<&K::Row> {
        self.rows.get(self.selected)
    }

    fn cells(&self, lang: Lang) -> Vec<Vec<String>> {
        self.rows.iter().map(|row| K::cells(row, lang)).collect()
    }

    /// The change `command` (one of the kind's questions) asks about the selected row: asked
    /// once, or refused at once (a row plainly in use).
    fn ask(&mut self, command: Command, hub: &mut Hub) {
        match self
            .selected_row()
            .map(|row| self.kind.question(row, command, hub.app))
        {
            Some(Ok(question)) => {
                self.asking = Some(command);
                hub.say(MessageKind::Info, question);
            }
            Some(Err(refusal)) => hub.say(MessageKind::Error, refusal),
            None => super::common::say_list_empty(hub),
        }
    }
}

impl<K: ListKind> Screen for ShortList<K> {
    /// A list: its changes open a form of their own (`RefForm`).
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t(K::CRUMB).to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.asking.is_some() {
            return super::common::question_commands(K::CONFIRM);
        }
        // After Back: the legend keeps the way out when it has no room for them.
        framed(
            K::COMMANDS
                .iter()
                .copied()
                .chain([BACK])
                .chain(usual(PAGING)),
        )
    }

    fn permission(&self, command: Command) -> Option<&'static str> {
        super::common::change_permission(command, K::Work::PERMISSION)
    }

    /// A title line with a count, then its table, and the selected row's detail if its kind
    /// has one.
    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let (lang, theme) = (app.lang, &Theme::new(app.look));
        let [title, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        let detail = self.selected_row().and_then(|row| K::detail(row, lang));
        let rest = match detail {
            Some(detail) => {
                let table_rows = (self.rows.len() as u16 + 1).min(rest.height / 2);
                let [table, _, below] = Layout::vertical([
                    Constraint::Length(table_rows),
                    Constraint::Length(1),
                    Constraint::Min(0),
                ])
                .areas(rest);
                let below = below.inner(Margin::new(1, 0));
                let lines = crate::ui::text::lines(&detail, usize::from(below.width));
                frame.render_widget(
                    Paragraph::new(lines.into_iter().map(Line::raw).collect::<Vec<_>>()),
                    below,
                );
                table
            }
            None => rest,
        };
        let rows = self.cells(lang);
        let hidden = Table::new(K::COLUMNS, &rows, lang.t("ref.none"))
            .loading(self.loading, lang.t("ref.loading"))
            .selected(Some(self.selected), 1)
            .sideways(self.sideways.0)
            .draw(frame, rest, (lang, theme));
        let count = lang.tf("ref.count", &[("count", &self.rows.len())]);
        let count = format!("{}{count}", more_columns(lang, hidden));
        frame.render_widget(Paragraph::new(super::common::note(&count, theme)), title);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        if K::PRIVATE && !hub.allowed(K::Work::PERMISSION) {
            hub.leave();
        } else {
            send(hub, K::READ);
        }
    }

    /// Its commands (add, modify, ask) wait for its first read: a form built before it came
    /// would offer no choices (session 34: an administrator's `a` typed as `:operators`
    /// opened an Add form with no department and no role). F5 and the way out do not.
    fn key_waits(&self, key: &KeyEvent, app: &App) -> bool {
        let waits = |command: Command| {
            command != Command::Refresh && K::COMMANDS.iter().any(|(own, _)| *own == command)
        };
        self.loading && command_waits_for(key, app, &K::READ, waits)
    }

    fn waiting_says(&self, app: &App) -> Option<&'static str> {
        Some(read_waiting_says(app, &K::READ))
    }

    /// Refused while its change waits; F2 or a cancel while a change is asked; Up/Down.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if super::common::change_waits(hub, command, K::CHANGES) {
            return true;
        }
        if let Some(asked) = self.asking.take() {
            if super::common::answered(asked, command, hub).is_some()
                && let Some(request) = self
                    .selected_row()
                    .and_then(|row| self.kind.confirmed(row, asked, hub.app.write_key()))
            {
                send(hub, request);
            }
            return true;
        }
        let rows = self.cells(hub.app.lang);
        if self.sideways.on_key(&key, K::COLUMNS, &rows, hub.app) {
            return true;
        }
        let step = match key.code {
            KeyCode::Up => -1,
            KeyCode::Down => 1,
            _ => return false,
        };
        super::common::move_in(&mut self.selected, self.rows.len(), step);
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        if self.kind.on_command(self.selected_row(), command, hub) {
            return true;
        }
        match command {
            Command::Add | Command::Modify | Command::Prices => {
                let row = match command {
                    Command::Add => None,
                    _ => match self.selected_row() {
                        Some(row) => Some(row),
                        None => {
                            super::common::say_list_empty(hub);
                            return true;
                        }
                    },
                };
                if let Some(form) = self.kind.form(row, command, hub.app) {
                    hub.open(Box::new(form));
                }
            }
            Command::First => self.selected = 0,
            Command::Last => self.selected = self.rows.len().saturating_sub(1),
            Command::PageDown | Command::PageUp => {
                // A page is the rows drawn less one, as on the customer table.
                let page = hub.app.table_rows().saturating_sub(1).max(1) as isize;
                let step = if command == Command::PageDown {
                    page
                } else {
                    -page
                };
                super::common::move_in(&mut self.selected, self.rows.len(), step);
            }
            _ if K::QUESTIONS.contains(&command) => self.ask(command, hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some((work, answer)) = answer::<K::Work>(request, reply) else {
            return;
        };
        if let RefAnswer::Done(reply) = answer
            && let Some(rows) = self.kind.rows(reply)
        {
            self.loading = false;
            self.selected = self.selected.min(rows.len().saturating_sub(1));
            self.rows = rows;
        } else {
            let done = change_done(work, answer, hub);
            // Done or refused, the list is read again: a delete refused as its row changed
            // meanwhile shows what the row holds now, before the next delete is asked.
            if work.idempotency_key().is_some() {
                send(hub, K::READ);
            }
            if done {
                show_after(work, answer, hub);
            }
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        super::requests::reload(notice, K::READ, hub);
    }
}
