//! The meter import dialog (F-key Import on `:meters`, `meter.import`): the clerk types a
//! file's path, the file is checked (nothing written) and its problems listed; then F2 imports
//! the good rows or F12 nothing. The import reports its progress as it goes
//! (`Screen::on_progress`); rolled back whole, the dialog shows the check again.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::common::{
    ImportHints, ImportLeft, ImportShown, draw_import, fail, import_choice, import_choice_text,
    import_line, import_path_form, import_summary, move_in,
};
use super::requests::{ChangeAnswer, Db, RefAnswer, RefWork, answer, change_done, keyed, send};
use super::texts::meter_no_error_text;
use crate::app::file_error::FileError;
use crate::app::form::{Form, field_error_text};
use crate::app::keymap::edits_text;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind, Problem};
use crate::app::{App, Command, Hub, Screen};
use crate::db::Deadlines;
use crate::db::meters::{self, ImportChoice, ImportReport};
use crate::domain::meter_csv::{
    LineError, LineProblem, METER_CSV_TEMPLATE, MeterCsv, MeterTypeNames, Reading, bad_lines,
    parse_meter_file,
};
use crate::domain::validation::FieldError;
use crate::i18n::Lang;
use crate::screens::legend::{Labelled, PAGING, usual};
use crate::ui::inert::inert;
use crate::ui::theme::Theme;
use deadpool_postgres::Client;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// The import dialog's requests.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRequest {
    /// Reads and checks an import file: nothing is written.
    Check { path: String },
    Import {
        idempotency_key: String,
        csv: Arc<MeterCsv>,
        choice: ImportChoice,
    },
    /// Writes the listed problems to a file, as CSV (`line,problem`); nothing in the database.
    WriteProblems { path: String, csv: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImportReply {
    Checked(Result<ImportCheck, FileError>),
    Imported(ImportReport),
    /// The problems file written, or the system's reason why not.
    ProblemsWritten(Result<(), FileError>),
}

/// A checked import file: the good rows, and every problem (the file's and the database's).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportCheck {
    pub csv: Arc<MeterCsv>,
    pub errors: Vec<LineError>,
    /// Rows that would go in: the file's good rows not already in the database.
    pub good: usize,
}

impl RefWork for ImportRequest {
    type Reply = ImportReply;

    const PERMISSION: &'static str = "meter.import";

    keyed!(ImportRequest, reads: [Check, WriteProblems], writes: [Import]);

    fn deadline(&self, deadlines: &Deadlines) -> Duration {
        match self {
            ImportRequest::Import { .. } => deadlines.import(),
            _ => deadlines.request(),
        }
    }

    /// The import reports its progress (rows sent, of all) as it goes.
    async fn run(&self, db: Db<'_>) -> Result<ImportReply, Failure> {
        Ok(match self {
            ImportRequest::Check { path } => ImportReply::Checked(check(db.client, path).await?),
            ImportRequest::WriteProblems { path, csv } => ImportReply::ProblemsWritten(
                tokio::fs::write(path, csv)
                    .await
                    .map_err(|error| FileError::new(path, &error)),
            ),
            ImportRequest::Import {
                idempotency_key: key,
                csv,
                choice,
            } => ImportReply::Imported(
                meters::import_meters_reporting(
                    db.client,
                    db.operator_id,
                    key,
                    csv,
                    *choice,
                    db.progress,
                )
                .await?,
            ),
        })
    }

    fn told(&self, reply: &ImportReply, lang: Lang) -> Option<ChangeAnswer> {
        match reply {
            ImportReply::Imported(report) => Some(Ok(lang.tf(
                "ref.imported",
                &[
                    ("count", &report.imported),
                    ("bad", &bad_lines(&report.errors)),
                ],
            ))),
            ImportReply::Checked(_) | ImportReply::ProblemsWritten(_) => None,
        }
    }
}

/// Reads the file at `path` and checks it: its own problems (parsed off the UI task) and the
/// database's (numbers already there).
async fn check(client: &Client, path: &str) -> Result<Result<ImportCheck, FileError>, Failure> {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        // A file that cannot be read at all (a line that is not UTF-8 is that line's problem).
        Err(error) => return Ok(Err(FileError::new(path, &error))),
    };
    let types = meters::meter_types(client).await?;
    let csv = tokio::task::spawn_blocking(move || {
        let names = MeterTypeNames::new(types.iter().map(|t| (t.name.as_str(), t.id)));
        parse_meter_file(&bytes, &names)
    })
    .await
    .map_err(|error| Failure::Error(Problem::new("failure.file", error)))?;
    let errors = meters::check_import(client, &csv).await?;
    let present = errors
        .iter()
        .filter(|e| matches!(e.problem, LineProblem::AlreadyInDatabase(_)))
        .count();
    Ok(Ok(ImportCheck {
        good: csv.rows.len() - present,
        csv: Arc::new(csv),
        errors,
    }))
}

/// The keys of the listed problems, on a checked file and after an import: paging, find, and
/// writing them to a file.
fn problem_keys() -> impl Iterator<Item = Labelled> {
    usual(PAGING).chain([
        (Command::Search, "strict.legend_find"),
        (Command::Export, "strict.legend_write_problems"),
    ])
}

const HINTS: ImportHints = ImportHints {
    template: "ref.import_template",
    columns: "ref.import_columns",
    header: METER_CSV_TEMPLATE,
};

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
    /// The text looked for in the listed problems (`/`), while the find box is open.
    pub find: Option<Input>,
}

impl Default for ImportView {
    fn default() -> Self {
        ImportView {
            form: import_path_form(),
            stage: ImportStage::Path,
            find: None,
        }
    }
}

impl ImportView {
    /// The problems listed, and how far the list is scrolled.
    fn listed(&mut self) -> Option<(&[LineError], &mut usize)> {
        match &mut self.stage {
            ImportStage::Checked { check, scroll } => Some((&check.errors, scroll)),
            ImportStage::Done { report, scroll } => Some((&report.errors, scroll)),
            _ => None,
        }
    }

    /// Scrolls to the first problem from `from` on (wrapping round) whose line number or text
    /// holds what the find box holds; says so when none does.
    fn find_from(&mut self, from: usize, hub: &mut Hub) {
        let lang = hub.app.lang;
        let wanted = self
            .find
            .as_ref()
            .map(|find| find.value().trim().to_lowercase())
            .unwrap_or_default();
        let Some((errors, scroll)) = self.listed() else {
            return;
        };
        if wanted.is_empty() || errors.is_empty() {
            return;
        }
        let found = (0..errors.len())
            .map(|step| (from + step) % errors.len())
            .find(|&at| {
                problem_line(lang, &errors[at])
                    .to_lowercase()
                    .contains(&wanted)
            });
        match found {
            Some(at) => *scroll = at,
            None => hub.say(
                MessageKind::Error,
                lang.tf("strict.find_none", &[("text", &wanted)]),
            ),
        }
    }

    /// The find box while it is open (`/`), else `otherwise`.
    fn find_line(&self, otherwise: String, app: &App, theme: &Theme) -> Line<'static> {
        match &self.find {
            Some(find) => Line::from(vec![
                Span::raw(format!(" {} ", app.lang.t("strict.find"))),
                Span::styled(format!("{} ", inert(find.value())), theme.focused()),
                Span::styled(format!(" {}", app.t("strict.find_keys")), theme.dim()),
            ]),
            None => Line::styled(format!(" {otherwise}"), theme.title()),
        }
    }

    /// Writes the listed problems next to the import file, as `<file>.problems.csv`.
    fn write_problems(&mut self, hub: &mut Hub) {
        let lang = hub.app.lang;
        let path = format!("{}.problems.csv", self.form.value(0).trim());
        let Some((errors, _)) = self.listed() else {
            return;
        };
        let mut csv =
            crate::domain::csv::record(&[lang.t("strict.col_line"), lang.t("strict.col_problem")]);
        for error in errors {
            csv.push_str(&crate::domain::csv::record(&[
                error.line.to_string(),
                line_problem_text(lang, &error.problem),
            ]));
        }
        hub.say(
            MessageKind::Info,
            lang.tf("strict.writing_problems", &[("path", &path)]),
        );
        send(hub, ImportRequest::WriteProblems { path, csv });
    }

    /// Moves through the listed problems.
    fn scroll(&mut self, step: isize) {
        let (scroll, len) = match &mut self.stage {
            ImportStage::Checked { check, scroll } => (scroll, check.errors.len()),
            ImportStage::Done { report, scroll } => (scroll, report.errors.len()),
            _ => return,
        };
        move_in(scroll, len, step);
    }

    /// F2 on the path: the file is read and checked.
    fn check(&mut self, hub: &mut Hub) {
        let path = self.form.value(0).trim().to_owned();
        self.stage = ImportStage::Checking;
        hub.say(MessageKind::Info, hub.app.lang.t("ref.checking"));
        send(hub, ImportRequest::Check { path });
    }

    /// F2 on a checked file: its good rows go in.
    fn import(&mut self, hub: &mut Hub) {
        let ImportStage::Checked { check, .. } = &self.stage else {
            return;
        };
        if check.good == 0 {
            hub.say(MessageKind::Error, hub.app.t("ref.nothing_to_import"));
            return;
        }
        // With no problem to skip, the file goes in whole or not at all: a number added
        // meanwhile by someone else then stops the import instead of thinning it.
        let choice = if check.errors.is_empty() {
            ImportChoice::AllOrNothing
        } else {
            ImportChoice::GoodRows
        };
        let request = ImportRequest::Import {
            idempotency_key: hub.app.write_key(),
            csv: Arc::clone(&check.csv),
            choice,
        };
        self.stage = ImportStage::Importing {
            done: 0,
            total: check.csv.rows.len() as u64,
            check: check.clone(),
        };
        hub.say(MessageKind::Info, hub.app.lang.t("ref.importing"));
        send(hub, request);
    }

    /// F12 or F3: a check still reading the file is no longer wanted (the runner aborts it);
    /// after an import the meter list is read again. What becomes of the file is said
    /// ([`ImportLeft`]); an import left is told on the list, read again then
    /// (`RefCall::answered_after_close`).
    fn leave(&self, hub: &mut Hub) {
        hub.forget(|request| {
            super::requests::is(request, |work| matches!(work, ImportRequest::Check { .. }))
        });
        match self.stage {
            ImportStage::Path => hub.leave(),
            ImportStage::Checking => ImportLeft::Checking.leave(hub),
            ImportStage::Checked { .. } => ImportLeft::NothingChosen.leave(hub),
            ImportStage::Importing { .. } => ImportLeft::Waiting.leave(hub),
            ImportStage::Done { .. } => {
                hub.leave();
                hub.notify(Notice::Reload);
            }
        }
    }
}

impl Screen for ImportView {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("ref.screen_import").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        let own: Vec<Labelled> = match self.stage {
            ImportStage::Path => vec![(Command::Save, "ref.legend_check")],
            ImportStage::Checked { ref check, .. } => {
                import_choice(check.good).chain(problem_keys()).collect()
            }
            ImportStage::Done { .. } => problem_keys().collect(),
            ImportStage::Checking => vec![(Command::Cancel, "command.cancel")],
            ImportStage::Importing { .. } => Vec::new(),
        };
        super::common::commands_with(&own)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        draw_import(
            frame,
            area,
            (&self.form, app, theme),
            &HINTS,
            |height| match &self.stage {
                ImportStage::Path => ImportShown::Path,
                ImportStage::Checking => ImportShown::Checking,
                ImportStage::Checked { check, scroll } => ImportShown::Lines(
                    vec![
                        import_summary(
                            &lang.tf(
                                "ref.checked",
                                &[("good", &check.good), ("bad", &bad_lines(&check.errors))],
                            ),
                            check.errors.is_empty(),
                            theme,
                        ),
                        self.find_line(import_choice_text(check.good, app), app, theme),
                    ],
                    problems(&check.errors, *scroll, height, lang),
                ),
                ImportStage::Importing { done, total, .. } => {
                    let bar_width = 40usize;
                    let filled = if *total == 0 {
                        bar_width
                    } else {
                        (*done as usize * bar_width) / (*total as usize).max(1)
                    };
                    let bar = format!("[{}{}]", "#".repeat(filled), "-".repeat(bar_width - filled));
                    ImportShown::Lines(
                        vec![
                            Line::raw(format!(" {}", lang.t("ref.importing"))),
                            Line::raw(format!(
                                " {bar} {}",
                                lang.tf("ref.progress", &[("done", done), ("total", total)])
                            )),
                        ],
                        Vec::new(),
                    )
                }
                ImportStage::Done { report, scroll } => ImportShown::Lines(
                    vec![
                        import_summary(
                            &lang.tf(
                                "ref.imported",
                                &[
                                    ("count", &report.imported),
                                    ("bad", &bad_lines(&report.errors)),
                                ],
                            ),
                            true,
                            theme,
                        ),
                        self.find_line(String::new(), app, theme),
                    ],
                    problems(&report.errors, *scroll, height, lang),
                ),
            },
        );
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let on_form = self.stage == ImportStage::Path;
        if super::common::waits_for_save(hub, &key, command, on_form) {
            return true;
        }
        // F2 is not offered on a file with no good row, yet it says why, not "not here".
        if command == Some(Command::Save)
            && matches!(&self.stage, ImportStage::Checked { check, .. } if check.good == 0)
        {
            self.import(hub);
            return true;
        }
        if on_form
            && hub
                .form_key(&mut self.form, key, command)
                .handled(|| self.check(hub))
        {
            return true;
        }
        if self.find.is_some() {
            match (key.code, command) {
                (_, Some(Command::Cancel)) => self.find = None,
                (KeyCode::Enter, _) => {
                    let next = self.listed().map_or(0, |(_, scroll)| *scroll + 1);
                    self.find_from(next, hub);
                }
                _ if edits_text(&key) => {
                    if let Some(find) = self.find.as_mut() {
                        find.handle_event(&crossterm::event::Event::Key(key));
                    }
                    let here = self.listed().map_or(0, |(_, scroll)| *scroll);
                    self.find_from(here, hub);
                }
                _ => return false,
            }
            return true;
        }
        match key.code {
            KeyCode::Up => self.scroll(-1),
            KeyCode::Down => self.scroll(1),
            _ => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        let page = hub.app.table_rows().saturating_sub(4).max(1) as isize;
        match command {
            Command::PageDown => self.scroll(page),
            Command::PageUp => self.scroll(-page),
            Command::First => self.scroll(isize::MIN),
            Command::Last => self.scroll(isize::MAX),
            Command::Search if self.listed().is_some() => self.find = Some(Input::default()),
            Command::Export if self.listed().is_some() => self.write_problems(hub),
            Command::Save => self.import(hub),
            Command::Cancel | Command::Leave => self.leave(hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some((work, answer)) = answer::<ImportRequest>(request, reply) else {
            return;
        };
        let lang = hub.app.lang;
        match answer {
            RefAnswer::Done(ImportReply::Checked(Ok(check))) => {
                let text = lang.tf(
                    "ref.checked",
                    &[("good", &check.good), ("bad", &bad_lines(&check.errors))],
                );
                self.stage = ImportStage::Checked {
                    check: check.clone(),
                    scroll: 0,
                };
                hub.say(MessageKind::Info, text);
            }
            RefAnswer::Done(ImportReply::Checked(Err(error))) => {
                self.stage = ImportStage::Path;
                let text = lang.tf("ref.file_unreadable", &[("detail", &error.text(lang))]);
                fail(&mut self.form, &[(0, text)], hub);
            }
            RefAnswer::Done(ImportReply::ProblemsWritten(written)) => {
                let ImportRequest::WriteProblems { path, .. } = work else {
                    return;
                };
                match written {
                    Ok(()) => hub.say(
                        MessageKind::Info,
                        lang.tf("strict.problems_written", &[("path", path)]),
                    ),
                    Err(error) => hub.say(
                        MessageKind::Error,
                        lang.tf("failure.file_write", &[("detail", &error.text(lang))]),
                    ),
                }
            }
            answer => {
                if let RefAnswer::Done(ImportReply::Imported(report)) = answer {
                    self.stage = ImportStage::Done {
                        report: report.clone(),
                        scroll: 0,
                    };
                }
                change_done(work, answer, hub);
            }
        }
    }

    /// The import rolled back whole: the dialog shows the check again, so the clerk can
    /// choose once more or leave, instead of waiting on a bar that will not move.
    fn on_failure(&mut self, _request: &dyn ScreenRequest, _hub: &mut Hub) {
        if let ImportStage::Importing { check, .. } = &self.stage {
            self.stage = ImportStage::Checked {
                check: check.clone(),
                scroll: 0,
            };
        }
    }

    /// Rows sent of all.
    fn on_progress(&mut self, done: u64, total: u64) -> bool {
        let ImportStage::Importing {
            done: sent,
            total: all,
            ..
        } = &mut self.stage
        else {
            return false;
        };
        (*sent, *all) = (done, total);
        true
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

/// A problem of an import line in the clerk's language.
pub fn line_problem_text(lang: Lang, problem: &LineProblem) -> String {
    match problem {
        LineProblem::Header => lang.tf(
            "ref.lp_header",
            &[("header", &METER_CSV_TEMPLATE.trim_end())],
        ),
        LineProblem::ColumnCount { found } => lang.tf("ref.lp_columns", &[("found", found)]),
        LineProblem::UnclosedQuote => lang.t("ref.lp_unclosed_quote").into(),
        LineProblem::StrayQuote => lang.t("ref.lp_stray_quote").into(),
        LineProblem::MeterNo(error) => meter_no_error_text(lang, error),
        LineProblem::UnknownMeterType(name) => {
            lang.tf("ref.lp_unknown_type", &[("name", &inert(name))])
        }
        LineProblem::Reading { column, error } => lang.tf(
            match column {
                Reading::Electronic => "ref.lp_electronic",
                Reading::Mechanical => "ref.lp_mechanical",
            },
            &[("error", &file_field_error_text(lang, error))],
        ),
        LineProblem::DuplicateInFile {
            meter_no,
            other_lines,
        } => meter_on_other_lines(lang, "ref.lp_duplicate", meter_no, other_lines),
        LineProblem::AlreadyInDatabase(meter_no) => {
            lang.tf("ref.lp_present", &[("meter", &inert(meter_no))])
        }
        LineProblem::NotUtf8 => lang.t("strict.lp_not_utf8").into(),
    }
}

/// The text `key` of a meter a file names on other lines too (`{meter}`, `{lines}`): the meter
/// import's duplicates, the reading import's two readings of a day.
pub fn meter_on_other_lines(
    lang: Lang,
    key: &str,
    meter_no: &str,
    other_lines: &[usize],
) -> String {
    let lines: Vec<String> = other_lines.iter().map(ToString::to_string).collect();
    lang.tf(
        key,
        &[
            ("meter", &inert(meter_no)),
            ("count", &lines.len()),
            ("lines", &lang.list(&lines)),
        ],
    )
}

/// A reading field's problem in an import file: as on a form, but "not a number" gives an
/// example without the thousands comma, which in a CSV file separates the fields.
pub fn file_field_error_text(lang: Lang, error: &FieldError) -> String {
    match error {
        FieldError::NotANumber { .. } => lang.t("ref.lp_not_a_number").into(),
        _ => field_error_text(lang, error),
    }
}

/// The problems from `scroll` on, one per line with its line number.
fn problems(errors: &[LineError], scroll: usize, height: usize, lang: Lang) -> Vec<Line<'static>> {
    errors
        .iter()
        .skip(scroll)
        .take(height)
        .map(|error| Line::raw(format!(" {}", problem_line(lang, error))))
        .collect()
}

/// A listed problem as shown: `     line 12: …`.
fn problem_line(lang: Lang, error: &LineError) -> String {
    import_line(lang, error.line, &line_problem_text(lang, &error.problem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::meter_csv::{EXAMPLE_ROW, parse_meter_csv};

    /// The other lines of a meter (or a day's reading) are a list as the language writes one
    /// (s35-f, found: "见第 4, 6, 8 行" in Chinese), and "not a number" in a file gives an
    /// example without the comma that separates a CSV file's fields (it said "1,234.50").
    #[test]
    fn an_imports_words_suit_a_file_and_the_language() {
        assert_eq!(
            meter_on_other_lines(Lang::Zh, "reading_import.same_day", "PM-1", &[4, 6, 8]),
            "水表 PM-1 在同一日期另有读数，见第 4、6、8 行"
        );
        assert_eq!(
            meter_on_other_lines(Lang::En, "ref.lp_duplicate", "PM-1", &[4, 6]),
            "meter number PM-1 is also on lines 4, 6"
        );
        assert_eq!(
            meter_on_other_lines(Lang::En, "reading_import.same_day", "PM-1", &[4]),
            "meter PM-1 has another reading on this date, on line 4"
        );
        for lang in [Lang::Zh, Lang::En] {
            let text = file_field_error_text(
                lang,
                &FieldError::NotANumber {
                    example: rust_decimal::Decimal::new(1_234_567, 3),
                },
            );
            assert!(!text.contains(','), "{lang:?}: {text}");
            assert!(text.contains("12.5"), "{lang:?}: {text}");
        }
        let problem = LineProblem::Reading {
            column: Reading::Electronic,
            error: FieldError::NotANumber {
                example: rust_decimal::Decimal::new(1_234_567, 3),
            },
        };
        let error = LineError { line: 3, problem };
        assert!(
            problem_line(Lang::Zh, &error).contains("不是数字，如 12.5"),
            "{}",
            problem_line(Lang::Zh, &error)
        );
    }

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
