//! What the reference-data screens share: the keys refused while a change waits, the delete
//! question, permissions, their commands around help and back, how problems are said, and the
//! drawing of a note and a table. The screens build on it; it names none of them.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::app::form::{Field, FieldKind, Form};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub};
use crate::i18n::Lang;
use crate::screens::legend::{BACK, Labelled, framed};
use crate::ui::inert::inert;
use crate::ui::table::{Column, scrolled_sideways, widths_for};
use crate::ui::theme::Theme;

/// The two hints under an import dialog's path: the catalogue keys of what the file is
/// (`template`) and of its columns (`columns`, given the file's `header` line).
pub(crate) struct ImportHints {
    pub template: &'static str,
    pub columns: &'static str,
    pub header: &'static str,
}

/// What an import dialog shows under its hints: a note while the clerk types the path, while the
/// file is checked and while it is imported, else its summary lines and its listed lines.
pub(crate) enum ImportShown {
    Path,
    Checking,
    Importing,
    Lines(Vec<Line<'static>>, Vec<Line<'static>>),
}

/// An import dialog's form: the path of the file, as the clerk types it.
pub(crate) fn import_path_form() -> Form {
    Form::new(vec![Field::new(
        "ref.import_path",
        FieldKind::Text { max: 500 },
        true,
    )])
}

/// An import dialog (meters, readings): the path `form`, the two `hints` under it, then what
/// the `stage` shows: its summary lines and, below them, its listed lines for the rows left
/// (`stage` is given that height).
pub(crate) fn draw_import(
    frame: &mut Frame,
    area: Rect,
    (form, app, theme): (&Form, &App, &Theme),
    hints: &ImportHints,
    stage: impl FnOnce(usize) -> ImportShown,
) {
    let lang = app.lang;
    let [path, hint, status, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(area);
    crate::ui::form::draw(frame, path, form, lang, theme);
    let columns = lang.tf(hints.columns, &[("header", &hints.header.trim_end())]);
    frame.render_widget(
        Paragraph::new(vec![
            note(lang.t(hints.template), theme),
            note(&columns, theme),
        ]),
        hint,
    );
    let noted = |text: &str| (vec![note(text, theme)], Vec::new());
    let (summary, shown) = match stage(usize::from(list.height)) {
        ImportShown::Path => noted(&app.t("ref.import_enter_path")),
        ImportShown::Checking => noted(lang.t("ref.checking")),
        ImportShown::Importing => noted(lang.t("ref.importing")),
        ImportShown::Lines(summary, shown) => (summary, shown),
    };
    frame.render_widget(Paragraph::new(summary), status);
    // A line the edge cuts says so (a bad line's list of the other lines it repeats).
    let width = usize::from(list.width);
    let shown: Vec<Line> = shown
        .into_iter()
        .map(|line| crate::ui::text::truncate_line(line, width))
        .collect();
    frame.render_widget(Paragraph::new(shown), list);
}

/// Where an import dialog (meters, readings) was left before it imported its file, and what
/// leaving says of the file: a check dropped imports nothing; so does the choice to import
/// nothing; an import left can only be one parked for the database (one on its way holds the
/// keys), which is sent by itself and told wherever the clerk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportLeft {
    Checking,
    NothingChosen,
    Waiting,
}

impl ImportLeft {
    /// Leaves the dialog, saying what becomes of its file.
    pub(crate) fn leave(self, hub: &mut Hub) {
        hub.leave();
        let key = match self {
            ImportLeft::Checking => "ref.import_left_checking",
            ImportLeft::NothingChosen => "ref.imported_nothing",
            ImportLeft::Waiting => "ref.import_left_waiting",
        };
        hub.say(MessageKind::Info, hub.app.lang.t(key));
    }
}

/// A checked file's choice: F2 imports its good rows, offered only when there is one; F12
/// imports nothing.
pub(crate) fn import_choice(good: usize) -> impl Iterator<Item = Labelled> {
    [
        (Command::Save, "ref.legend_import_good"),
        (Command::Cancel, "ref.legend_import_nothing"),
    ]
    .into_iter()
    .filter(move |(command, _)| good > 0 || *command != Command::Save)
}

/// The line that says that choice: with no good row, that there is nothing to import.
pub(crate) fn import_choice_text(good: usize, app: &App) -> String {
    app.t(if good > 0 {
        "ref.import_choice"
    } else {
        "ref.nothing_to_import"
    })
}

/// A line of the file an import dialog lists under its summary (a problem, an abnormal
/// consumption): `     line 12: ` and `text`, the numbers right-aligned under each other.
pub(crate) fn import_line(lang: Lang, line: usize, text: &str) -> String {
    let number = lang.tf("ref.line_no", &[("line", &line)]);
    format!("{number:>12} {text}")
}

/// An import dialog's summary line: said as good when nothing was refused (`clean`), else as
/// an error.
pub(crate) fn import_summary(text: &str, clean: bool, theme: &Theme) -> Line<'static> {
    let style = if clean { theme.good() } else { theme.error() };
    Line::styled(format!(" {text}"), style)
}

/// A key on an import dialog: on the path (`on_path`) the form's, where F2 `check`s the file;
/// Up and Down `scroll` the listed lines. False: not the dialog's key.
pub(crate) fn import_key<S>(
    screen: &mut S,
    on_path: bool,
    (key, command): (KeyEvent, Option<Command>),
    hub: &mut Hub,
    form: fn(&mut S) -> &mut Form,
    check: fn(&mut S, &mut Hub),
    scroll: fn(&mut S, isize),
) -> bool {
    if on_path
        && hub
            .form_key(form(screen), key, command)
            .handled(|| check(screen, hub))
    {
        return true;
    }
    match key.code {
        KeyCode::Up => scroll(screen, -1),
        KeyCode::Down => scroll(screen, 1),
        _ => return false,
    }
    true
}

/// PgDn and PgUp on an import dialog's list: the rows of a table less the dialog's head.
pub(crate) fn import_page(hub: &Hub) -> isize {
    hub.app.table_rows().saturating_sub(4).max(1) as isize
}

/// Moves a selection (or a scroll) by `step`, within `len` rows.
pub(crate) fn move_in(selected: &mut usize, len: usize, step: isize) {
    *selected = selected
        .saturating_add_signed(step)
        .min(len.saturating_sub(1));
}

/// The permission `command` needs on a list whose changes need `permission`: the commands
/// starting a change need it, the others what they need everywhere (`Command::permission`).
pub(super) fn change_permission(
    command: Command,
    permission: &'static str,
) -> Option<&'static str> {
    match command {
        Command::Add | Command::Modify | Command::Delete | Command::Prices => Some(permission),
        _ => command.permission(),
    }
}

/// A screen's commands: help, its own, then the way back, the command line and quit.
pub(crate) fn commands_with(own: &[Labelled]) -> Vec<Labelled> {
    framed(own.iter().copied().chain([BACK]))
}

/// The commands while a change is asked: F2, labelled `confirm`, or cancel.
pub(crate) fn question_commands(confirm: &'static str) -> Vec<(Command, &'static str)> {
    vec![
        (Command::Save, confirm),
        (Command::Cancel, "command.cancel"),
    ]
}

/// The question that asks once whether to delete the row called `name`.
pub(super) fn delete_question(name: &str, app: &App) -> String {
    let name = inert(name).into_owned();
    let text = app.keymap.fill(app.lang.t("ref.ask_delete"));
    crate::i18n::fill_args(&text, &[("name", &name)])
}

/// Delete asked once on the message line for the row called `name`.
pub(super) fn ask_delete(deleting: &mut bool, name: &str, hub: &mut Hub) {
    *deleting = true;
    hub.say(MessageKind::Info, delete_question(name, hub.app));
}

/// A key while the change `asked` is asked: F2 confirms it (given back), any other key cancels
/// it (said).
pub(super) fn answered<T>(asked: T, command: Option<Command>, hub: &mut Hub) -> Option<T> {
    if command == Some(Command::Save) {
        return Some(asked);
    }
    hub.say(MessageKind::Info, hub.app.lang.t("msg.cancelled"));
    None
}

/// A key while a delete is asked: F2 confirms (true), any other key cancels (said).
pub(super) fn confirms_delete(
    deleting: &mut bool,
    command: Option<Command>,
    hub: &mut Hub,
) -> bool {
    *deleting = false;
    answered((), command, hub).is_some()
}

/// While a change this screen sent waits for the database, what it sent is what will be
/// saved: a key that would edit or save again is refused (true: taken). On a form it is the
/// customer forms' rule (`basic_info::leaves_or_refused_while_saving`): the keys that edit or
/// save are refused, what was typed quoted, and F3 or F12 leaves at once saying that the save
/// is still sent — the form's "F3 or F12 again discards them" was untrue there too: its answer
/// is told after the form closed (`RefCall::answered_after_close`). On a list only the
/// commands that start a change, so its search and rows stay usable. Help and moving between
/// fields stay free.
pub(super) fn waits_for_save(
    hub: &mut Hub,
    key: &KeyEvent,
    command: Option<Command>,
    on_form: bool,
) -> bool {
    if !on_form {
        return change_waits(hub, command, &LIST_CHANGES);
    }
    crate::screens::basic_info::leaves_or_refused_while_saving(key, command, hub)
}

/// The commands that start a change on a reference list.
pub(super) const LIST_CHANGES: [Command; 6] = [
    Command::Save,
    Command::Add,
    Command::Modify,
    Command::Delete,
    Command::Prices,
    Command::Import,
];

/// [`waits_for_save`] on a list whose commands starting a change are `changes`.
pub(super) fn change_waits(hub: &mut Hub, command: Option<Command>, changes: &[Command]) -> bool {
    waits(
        hub,
        command.is_some_and(|command| changes.contains(&command)),
    )
}

/// A key that would edit or save (`edits_or_saves`) only says that the change sent waits.
fn waits(hub: &mut Hub, edits_or_saves: bool) -> bool {
    let waits = edits_or_saves && hub.saving();
    if waits {
        hub.say(MessageKind::Info, hub.app.lang.t("db.write_parked"));
    }
    waits
}

/// Marks the form's bad fields and puts the first on the message line, named by its label.
pub(super) fn fail(form: &mut Form, errors: &[(usize, String)], hub: &mut Hub) {
    form.fail(errors);
    hub.say_form_error(form);
}

/// Modify or delete with no row to act on: the list is empty (a search that found nothing).
pub(super) fn say_list_empty(hub: &mut Hub) {
    hub.say(MessageKind::Info, hub.app.t("ref.list_empty"));
}

/// Refused: every problem on the message line.
pub(super) fn say_problems(hub: &mut Hub, problems: Vec<(Option<&'static str>, String)>) {
    let text: Vec<String> = problems.into_iter().map(|(_, text)| text).collect();
    hub.say(MessageKind::Error, text.join("; "));
}

// ───────────────────────────── Drawing ─────────────────────────────

/// A note on one line, dimmed.
pub(crate) fn note(text: &str, theme: &Theme) -> Line<'static> {
    Line::styled(format!(" {text}"), theme.dim())
}

/// What a screen has read, or None once its `loading` note is drawn in its place.
pub(crate) fn read_or_loading<'a, T>(
    read: &'a Option<T>,
    loading: &str,
    frame: &mut Frame,
    area: Rect,
    (lang, theme): (Lang, &Theme),
) -> Option<&'a T> {
    if read.is_none() {
        frame.render_widget(Paragraph::new(note(lang.t(loading), theme)), area);
    }
    read.as_ref()
}

/// A table's scroll sideways (Left/Right while its rows have the focus), as the customer
/// table's: the lists and the meter list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sideways(pub u16);

impl Sideways {
    /// Left or Right on a table of `columns` with `rows`: a step within what does not fit on
    /// the screen. True if the key was one of them.
    pub(crate) fn on_key(
        &mut self,
        key: &KeyEvent,
        columns: &[Column],
        rows: &[Vec<String>],
        app: &App,
    ) -> bool {
        let direction = match key.code {
            KeyCode::Left => -1,
            KeyCode::Right => 1,
            _ => return false,
        };
        let screen = app.viewport.0;
        let widths = widths_for(columns, rows, screen);
        self.0 = scrolled_sideways(self.0, direction, &widths, screen);
        true
    }
}

/// What a title line says when a table's columns are off screen: how to see them (with a
/// separator after it).
pub(crate) fn more_columns(lang: Lang, hidden: bool) -> String {
    if hidden {
        format!("{} · ", lang.t("whole.sideways"))
    } else {
        String::new()
    }
}
