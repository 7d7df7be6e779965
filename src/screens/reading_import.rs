//! The reading import (`:readings`, permission `reading.enter`): the clerk types a file's path;
//! F2 reads and checks it against the database without writing anything, listing every bad line
//! once with its number and every reason, and the abnormal consumptions; a second F2 imports
//! the good lines (the abnormal ones confirmed and listed) or F12 nothing. One transaction:
//! all the good lines or none. docs/reading-import.md is the clerk's description.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::legend::Labelled;
use super::reading::{entered_by, reading_error_text};
use super::reference::common::{
    ImportHints, ImportLeft, ImportShown, commands_with, draw_import, import_choice,
    import_choice_text, import_key, import_line, import_page, import_path_form, import_summary,
    move_in,
};
use super::reference::meter_import::{
    file_field_error_text, line_problem_text, meter_on_other_lines,
};
use super::reference::texts::meter_no_error_text;
use crate::app::file_error::FileError;
use crate::app::form::{Form, no_such_date};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind, Problem};
use crate::app::{App, Command, Hub, Screen};
use crate::db::Deadlines;
use crate::db::readings::{self, ImportReport};
use crate::domain::billing::ReadingError;
use crate::domain::reading_csv::{
    self, BadLine, READING_CSV_TEMPLATE, ReadingCsv, ReadingProblem, parse_reading_file,
};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::theme::Theme;

/// Reads and checks a file (`idempotency_key` None), or imports its good lines.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingImport {
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The file as checked: the import takes what the clerk saw, not the file as it is now.
    pub csv: Option<Arc<ReadingCsv>>,
}

/// The file checked or imported, or why it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportAnswer {
    Done {
        csv: Arc<ReadingCsv>,
        report: ImportReport,
    },
    Unreadable(FileError),
}

impl ScreenRequest for ReadingImport {
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    fn deadline(&self, deadlines: &Deadlines) -> Duration {
        deadlines.import()
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let csv = match &self.csv {
                Some(csv) => Arc::clone(csv),
                None => match read(&self.path).await? {
                    Ok(csv) => Arc::new(csv),
                    Err(reason) => return Ok(Box::new(ImportAnswer::Unreadable(reason)) as _),
                },
            };
            let mut client = services.pool.get().await?;
            let report =
                readings::import_readings(&mut client, self.idempotency_key.as_deref(), &csv)
                    .await?;
            Ok(Box::new(ImportAnswer::Done { csv, report }) as _)
        })
    }

    /// An import sent after its screen was left (parked for the database) is told wherever
    /// the clerk is: written, or not because the meters changed since its check. A check's
    /// answer is dropped.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some(ImportAnswer::Done { report, .. }) = reply.of::<ImportAnswer>() else {
            return;
        };
        if report.written {
            let text = summary(hub.app.lang, "reading_import.imported", report);
            hub.say(MessageKind::Info, text);
        } else if self.idempotency_key.is_some() {
            hub.say(MessageKind::Error, hub.app.lang.t("readings.changed"));
        }
    }
}

/// The file at `path`, parsed off the UI task; Err: why it cannot be read.
async fn read(path: &str) -> Result<Result<ReadingCsv, FileError>, Failure> {
    // A line that is not UTF-8 is that line's problem, as in the meter import.
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) => return Ok(Err(FileError::new(path, &error))),
    };
    let csv = tokio::task::spawn_blocking(move || parse_reading_file(&bytes))
        .await
        .map_err(|error| Failure::Error(Problem::new("failure.file", error)))?;
    Ok(Ok(csv))
}

/// The counts of `report` in the text `key` (`checked` or `imported`).
fn summary(lang: Lang, key: &str, report: &ImportReport) -> String {
    let (bad, abnormal) = (report.bad.len(), report.abnormal.len());
    lang.tf(
        key,
        &[
            ("good", &report.good),
            ("bad", &bad),
            ("abnormal", &abnormal),
        ],
    )
}

const HINTS: ImportHints = ImportHints {
    template: "reading_import.template",
    columns: "reading_import.columns",
    header: READING_CSV_TEMPLATE,
};

/// Where the import stands.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Path,
    Checking,
    Checked {
        csv: Arc<ReadingCsv>,
        report: ImportReport,
        scroll: usize,
    },
    Importing,
    Done {
        report: ImportReport,
        scroll: usize,
    },
}

#[derive(Debug, Clone)]
pub struct ReadingImportView {
    form: Form,
    stage: Stage,
}

impl Default for ReadingImportView {
    fn default() -> Self {
        ReadingImportView {
            form: import_path_form(),
            stage: Stage::Path,
        }
    }
}

/// A problem of a line in the clerk's language.
pub fn problem_text(lang: Lang, problem: &ReadingProblem) -> String {
    match problem {
        ReadingProblem::Header => lang.tf(
            "reading_import.header",
            &[("header", &READING_CSV_TEMPLATE.trim_end())],
        ),
        ReadingProblem::ColumnCount { found } => {
            lang.tf("reading_import.columns_count", &[("found", found)])
        }
        ReadingProblem::NotUtf8 => lang.t("strict.lp_not_utf8").into(),
        ReadingProblem::Quote(problem) => line_problem_text(lang, problem),
        ReadingProblem::MeterNo(error) => meter_no_error_text(lang, error),
        // s39-g, by hand: "2026-02-30" was told "a date as YYYY-MM-DD", which it is.
        ReadingProblem::Date(text) => match no_such_date(text, lang) {
            Some(why) => lang.tf("reading_import.no_such_date", &[("why", &why)]),
            None => lang.t("reading_import.date").to_owned(),
        },
        ReadingProblem::Electronic(error) => lang.tf(
            "ref.lp_electronic",
            &[("error", &file_field_error_text(lang, error))],
        ),
        ReadingProblem::Mechanical(error) => lang.tf(
            "ref.lp_mechanical",
            &[("error", &file_field_error_text(lang, error))],
        ),
        ReadingProblem::Rollover => lang.t("reading_import.rollover").to_owned(),
        ReadingProblem::SameDay {
            meter_no,
            other_lines,
        } => meter_on_other_lines(lang, "reading_import.same_day", meter_no, other_lines),
        ReadingProblem::UnknownMeter(meter_no) => lang.tf(
            "reading_import.unknown_meter",
            &[("meter", &inert(meter_no))],
        ),
        // The reading form's words end a sentence on the message line; a listed line has
        // the 66 cells after its number (s39-g, by hand: "…check the year and…").
        ReadingProblem::Reading(ReadingError::AfterToday { today }) => {
            lang.tf("reading_import.after_today", &[("today", today)])
        }
        ReadingProblem::Reading(error) => {
            reading_error_text(lang, error, "reading_import.below_previous")
        }
        ReadingProblem::NoPrice => lang.t("readings.no_price").to_owned(),
        ReadingProblem::CardMeter => lang.t("readings.card_meter").to_owned(),
        ReadingProblem::TooMuchWater => lang.t("readings.too_much_water").to_owned(),
        ReadingProblem::AlreadyRecorded { electronic, on, by } => lang.tf(
            "reading_import.already_recorded",
            &[
                ("reading", electronic),
                ("on", on),
                ("by", &entered_by(lang, by.as_deref())),
            ],
        ),
    }
}

/// The rows listed: one for each reason of a bad line (as the meter import lists them: s39-g,
/// by hand, a line's reasons joined on one row were cut at the edge), and one for each
/// abnormal consumption.
fn row_count(report: &ImportReport) -> usize {
    let reasons: usize = report.bad.iter().map(|bad| bad.problems.len()).sum();
    reasons + report.abnormal.len()
}

/// The listed rows from `scroll` on, in line order.
fn listed(report: &ImportReport, scroll: usize, height: usize, lang: Lang) -> Vec<Line<'static>> {
    let bad = report.bad.iter().flat_map(|BadLine { line, problems }| {
        problems
            .iter()
            .map(move |problem| (*line, problem_text(lang, problem)))
    });
    let abnormal = report.abnormal.iter().map(|(line, volume)| {
        (
            *line,
            lang.tf("reading_import.abnormal", &[("volume", volume)]),
        )
    });
    let mut lines: Vec<(usize, String)> = bad.chain(abnormal).collect();
    lines.sort_by_key(|(line, _)| *line);
    lines
        .into_iter()
        .skip(scroll)
        .take(height)
        .map(|(line, text)| Line::raw(format!(" {}", import_line(lang, line, &text))))
        .collect()
}

impl ReadingImportView {
    fn scroll(&mut self, step: isize) {
        if let Stage::Checked { report, scroll, .. } | Stage::Done { report, scroll } =
            &mut self.stage
        {
            move_in(scroll, row_count(report), step);
        }
    }

    fn check(&mut self, hub: &mut Hub) {
        if !hub.allowed("reading.enter") {
            return;
        }
        self.stage = Stage::Checking;
        hub.say(MessageKind::Info, hub.app.lang.t("ref.checking"));
        hub.send(ReadingImport {
            path: self.form.value(0).trim().to_owned(),
            idempotency_key: None,
            csv: None,
        });
    }

    fn import(&mut self, hub: &mut Hub) {
        let Stage::Checked { csv, report, .. } = &self.stage else {
            return;
        };
        if report.good == 0 {
            return hub.say(MessageKind::Error, hub.app.t("ref.nothing_to_import"));
        }
        let request = ReadingImport {
            path: String::new(),
            idempotency_key: Some(hub.app.write_key()),
            csv: Some(Arc::clone(csv)),
        };
        self.stage = Stage::Importing;
        hub.say(MessageKind::Info, hub.app.lang.t("ref.importing"));
        hub.send(request);
    }
}

impl Screen for ReadingImportView {
    /// Refused as it opens to whoever may not enter readings, as every screen of a permission
    /// is (s35-f: the administrator typed a path and only F2 said no).
    fn on_open(&mut self, hub: &mut Hub) {
        if !hub.allowed("reading.enter") {
            hub.leave();
        }
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("reading_import.title").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        let paging = [
            (Command::PageDown, "command.page_down"),
            (Command::PageUp, "command.page_up"),
        ];
        let own: Vec<Labelled> = match &self.stage {
            Stage::Path => vec![(Command::Save, "ref.legend_check")],
            Stage::Checked { report, .. } => import_choice(report.good).chain(paging).collect(),
            Stage::Done { .. } => paging.to_vec(),
            Stage::Checking | Stage::Importing => Vec::new(),
        };
        commands_with(&own)
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
                Stage::Path => ImportShown::Path,
                Stage::Checking => ImportShown::Checking,
                Stage::Importing => ImportShown::Importing,
                Stage::Checked { report, scroll, .. } => ImportShown::Lines(
                    vec![
                        import_summary(
                            &summary(lang, "reading_import.checked", report),
                            report.bad.is_empty(),
                            theme,
                        ),
                        Line::styled(
                            format!(" {}", import_choice_text(report.good, app)),
                            theme.title(),
                        ),
                    ],
                    listed(report, *scroll, height, lang),
                ),
                Stage::Done { report, scroll } => ImportShown::Lines(
                    vec![import_summary(
                        &summary(lang, "reading_import.imported", report),
                        true,
                        theme,
                    )],
                    listed(report, *scroll, height, lang),
                ),
            },
        );
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let on_path = self.stage == Stage::Path;
        // F2 is not offered on a file with no good line, yet it says why, not "not here".
        if command == Some(Command::Save)
            && matches!(&self.stage, Stage::Checked { report, .. } if report.good == 0)
        {
            self.import(hub);
            return true;
        }
        import_key(
            self,
            on_path,
            (key, command),
            hub,
            |view| &mut view.form,
            Self::check,
            Self::scroll,
        )
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        let page = import_page(hub);
        match command {
            Command::PageDown => self.scroll(page),
            Command::PageUp => self.scroll(-page),
            Command::Save => self.import(hub),
            // What becomes of the file is said, as the meter import says it.
            Command::Cancel | Command::Leave => match self.stage {
                Stage::Checking => ImportLeft::Checking.leave(hub),
                Stage::Checked { .. } => ImportLeft::NothingChosen.leave(hub),
                Stage::Importing => ImportLeft::Waiting.leave(hub),
                Stage::Path | Stage::Done { .. } => return false,
            },
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let (Some(asked), Some(answer)) =
            (request.of::<ReadingImport>(), reply.of::<ImportAnswer>())
        else {
            return;
        };
        let lang = hub.app.lang;
        match answer {
            ImportAnswer::Unreadable(reason) => {
                self.stage = Stage::Path;
                let text = lang.tf("ref.file_unreadable", &[("detail", &reason.text(lang))]);
                self.form.fail(&[(0, text)]);
                hub.say_form_error(&self.form);
            }
            // A check writes nothing; an import writes nothing when the meters changed since
            // the check: then it is the check again, shown to choose once more.
            ImportAnswer::Done { csv, report } if !report.written => {
                if asked.idempotency_key.is_none() {
                    hub.say(
                        MessageKind::Info,
                        summary(lang, "reading_import.checked", report),
                    );
                } else {
                    hub.say(MessageKind::Error, lang.t("readings.changed"));
                }
                self.stage = Stage::Checked {
                    csv: Arc::clone(csv),
                    report: report.clone(),
                    scroll: 0,
                };
            }
            ImportAnswer::Done { report, .. } => {
                hub.say(
                    MessageKind::Info,
                    summary(lang, "reading_import.imported", report),
                );
                self.stage = Stage::Done {
                    report: report.clone(),
                    scroll: 0,
                };
            }
        }
    }

    /// A failed import rolled back whole: the file is checked again.
    fn on_failure(&mut self, _request: &dyn ScreenRequest, _hub: &mut Hub) {
        if matches!(self.stage, Stage::Importing | Stage::Checking) {
            self.stage = Stage::Path;
        }
    }
}

/// The reading import template as `meterdesk readings template` prints it: the header, the
/// columns explained in `lang` and a commented-out example row.
pub fn reading_import_template(lang: Lang) -> String {
    let notes = [
        "reading_template.file",
        "reading_template.meter_no",
        "reading_template.read_on",
        "reading_template.readings",
        "reading_template.rollover",
        "meter_template.quoting",
        "reading_template.example",
    ]
    .map(|key| lang.t(key));
    reading_csv::template(&notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reading_csv::{EXAMPLE_ROW, parse_reading_csv};

    /// In every language the printed template imports nothing, and its example once the `# `
    /// is removed: no note can be taken for a row or break the file.
    #[test]
    fn the_printed_template_round_trips_in_every_language() {
        for lang in Lang::ALL {
            let printed = reading_import_template(lang);
            assert!(printed.starts_with(READING_CSV_TEMPLATE), "{printed}");
            assert_eq!(parse_reading_csv(&printed), ReadingCsv::default());
            let kept = printed.replace(&format!("# {EXAMPLE_ROW}"), EXAMPLE_ROW);
            let csv = parse_reading_csv(&kept);
            assert_eq!((csv.rows.len(), csv.bad), (1, vec![]), "{lang:?}");
        }
    }

    /// A read_on in a date's shape that does not exist is told so (s39-g, by hand:
    /// "2026-02-30" was told "read_on: a date as YYYY-MM-DD", the shape it has); another text
    /// is told the shape.
    #[test]
    fn a_date_that_does_not_exist_is_told_so() {
        let told = |lang: Lang, line: &str| {
            let csv = parse_reading_csv(&format!("{READING_CSV_TEMPLATE}{line}\n"));
            let [bad] = csv.bad.as_slice() else {
                panic!("one bad line: {csv:?}")
            };
            problem_text(lang, &bad.problems[0])
        };
        for (lang, line, said) in [
            (
                Lang::En,
                "PM-1, 2026-02-30 ,10,,",
                "read_on: no such day: 2026-02 has 28 days",
            ),
            (
                Lang::Zh,
                "PM-1,2026-02-30,10,,",
                "read_on：日期不存在：2026-02 只有 28 天",
            ),
            (Lang::Zh, "PM-1,2026-13-01,10,,", "read_on：月份不存在：13"),
            (
                Lang::En,
                "PM-1,03/01/2026,10,,",
                "read_on: a date as YYYY-MM-DD",
            ),
        ] {
            assert_eq!(told(lang, line), said, "{line}");
        }
    }
}
