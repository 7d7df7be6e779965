//! The clerk's shift (`:shift`): the operator's open shift (else their last) with its X report
//! as it would print, `b` to open one, `g` to print an X report, `z` to close it (asked once)
//! with its Z report kept (and printed, with a print command), each written as CSV beside it.
//! The figures are the database's (`db::shifts`, sql/V21), which shows a clerk their own
//! shifts only.

use chrono::FixedOffset;
use crossterm::event::KeyEvent;
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::legend::{BACK, framed, usual};
use super::receipt::{KeepReport, Paper, ReceiptKept};
use super::reports::reversal_fields;
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::shifts::{self, Closed, MethodTakings, Opened, ShiftReport};
use crate::domain::csv;
use crate::domain::money::Money;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{coded, local};
use crate::ui::theme::Theme;

/// The shift screen: the operator's latest shift's report once read, and whether its close
/// is being asked.
#[derive(Debug, Clone, Default)]
pub struct ShiftScreen {
    /// None until read; Some(None): the operator has had no shift.
    report: Option<Option<ShiftReport>>,
    asking_close: bool,
    /// The operator's roles take money (the database's `shift_open` asks for either of
    /// these): only then is opening a shift offered (s38-e, by hand: the administrator was
    /// offered "O Open shift", and O answered that their roles take no deposits).
    takes_money: bool,
}

/// What `shift_open` (sql) asks of an operator: any of these.
const TAKES_MONEY: [&str; 2] = ["account.deposit", "card.recharge"];

/// Reads the operator's open (else last) shift with its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadShift;

/// The operator's latest shift and its figures; None before their first.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftLoaded(pub Option<ShiftReport>);

impl Read for LoadShift {
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let report = match shifts::own_latest(client).await? {
            Some(shift) => shifts::report(client, shift.id).await?,
            None => None,
        };
        Ok(ShiftLoaded(report))
    }
}

/// Opens a shift; answered with [`ShiftOpened`].
#[derive(Debug, Clone, PartialEq)]
pub struct OpenShift;

#[derive(Debug, Clone, PartialEq)]
pub struct ShiftOpened(pub Opened);

impl Read for OpenShift {
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        Ok(ShiftOpened(shifts::open(client).await?))
    }
}

/// Closes shift `shift_id` (sent again after a lost answer, it closes nothing else) and reads
/// its Z report; answered with [`ShiftClosed`].
#[derive(Debug, Clone, PartialEq)]
pub struct CloseShift {
    pub shift_id: i64,
    pub idempotency_key: String,
}

/// What the close did, with the closed shift's report.
#[derive(Debug, Clone, PartialEq)]
pub enum ShiftClosed {
    /// Closed by this close: its Z report is printed and kept.
    Now(ShiftReport),
    /// Closed before by another desk of the same operator, whose Z report was printed there:
    /// shown, not printed twice.
    Before(ShiftReport),
    /// Not the operator's shift, or gone: nothing was closed.
    Not,
}

impl ScreenRequest for CloseShift {
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let client = services.pool.get().await?;
            let closed = shifts::close(&client, self.shift_id, &self.idempotency_key).await?;
            let report = match closed {
                Closed::Not => None,
                Closed::Now | Closed::Before => shifts::report(&client, self.shift_id).await?,
            };
            let answer = match (closed, report) {
                (Closed::Now, Some(report)) => ShiftClosed::Now(report),
                (Closed::Before, Some(report)) => ShiftClosed::Before(report),
                _ => ShiftClosed::Not,
            };
            Ok(Box::new(answer) as _)
        })
    }

    /// The clerk left meanwhile: the Z report is still printed and kept.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(ShiftClosed::Now(report)) = reply.of::<ShiftClosed>() {
            keep(report, true, hub);
            hub.say(MessageKind::Info, hub.app.t("shift.closed"));
        }
    }
}

/// Sends the report to be printed and kept with its CSV: `shift-<id>-x` or `-z`.
fn keep(report: &ShiftReport, z: bool, hub: &mut Hub) {
    let app = &*hub.app;
    let text = report_text(app.lang, app.zone, report, app.receipt_width, z);
    hub.send(KeepReport {
        stem: format!("shift-{:06}-{}", report.shift.id, if z { "z" } else { "x" }),
        text: Some(text),
        csv: report_csv(report),
    });
}

/// Whether `kept` is an X report's paper.
fn x_report(kept: &KeepReport) -> bool {
    kept.stem.starts_with("shift-") && kept.stem.ends_with("-x")
}

/// The X (open shift, any time) or Z (at the close) report on paper `cells` wide, times in
/// `zone`: the shift, its takings by method, refunds apart, the receipts and their range.
pub fn report_text(
    lang: Lang,
    zone: FixedOffset,
    report: &ShiftReport,
    cells: usize,
    z: bool,
) -> String {
    let shift = &report.shift;
    let mut paper = Paper::new(cells);
    paper.centred(lang.t(if z { "shift.z_title" } else { "shift.x_title" }));
    paper.rule();
    paper.row(lang.t("shift.number"), &shift.id.to_string());
    paper.row(lang.t("receipt.operator"), &inert(&shift.operator));
    paper.row(lang.t("shift.opened"), &local(&shift.opened_at, zone));
    let closed = shift.closed_at.as_ref().map_or_else(
        || lang.t("shift.still_open").to_owned(),
        |at| local(at, zone),
    );
    paper.row(lang.t("shift.closed_at"), &closed);
    paper.rule();
    // Each method's payments (refunds) with how many, then how many of them are reversals and
    // their money (only the owner reverses a deposit or a refund, in the operator's name:
    // sql/V21 counts it in this shift's figures), in the takings report's words (sql/V198).
    let listed = |paper: &mut Paper, figures: fn(&MethodTakings) -> [(i64, Money); 2]| {
        for method in &report.methods {
            let [(count, money), (reversals, reversed)] = figures(method);
            if count == 0 && reversals == 0 {
                continue;
            }
            let name = coded(lang, "payment_method.", &method.method);
            paper.row(&format!("{name} ×{count}"), &money.to_string());
            if reversals > 0 {
                let label = format!("  {} ×{reversals}", lang.t("report.col_reversed"));
                paper.row(&label, &reversed.to_string());
            }
        }
    };
    listed(&mut paper, |m| {
        [(m.payments, m.takings), (m.reversals, m.reversed)]
    });
    let total = report.total();
    paper.row(lang.t("shift.takings"), &total.takings.to_string());
    paper.rule();
    listed(&mut paper, |m| {
        [
            (m.refund_count, m.refunds),
            (m.refund_reversals, m.refunds_reversed),
        ]
    });
    paper.row(lang.t("shift.refunds"), &total.refunds.to_string());
    paper.row(
        lang.t("shift.net"),
        &(total.takings - total.refunds).to_string(),
    );
    paper.rule();
    paper.row(lang.t("shift.receipts"), &report.receipts.to_string());
    let number = |no: Option<i64>| no.map_or_else(|| "-".to_owned(), |no| no.to_string());
    paper.row(lang.t("shift.first_receipt"), &number(report.first_receipt));
    paper.row(lang.t("shift.last_receipt"), &number(report.last_receipt));
    paper.rule();
    paper.finish()
}

/// The report as CSV: one record per payment method, the shift and its receipts on each.
pub fn report_csv(report: &ShiftReport) -> String {
    let shift = &report.shift;
    let mut out = csv::record(&[
        "shift",
        "operator",
        "opened_at",
        "closed_at",
        "method",
        "takings",
        "payments",
        "refunds",
        "refund_count",
        "receipts",
        "first_receipt",
        "last_receipt",
        "reversed",
        "reversals",
        "refunds_reversed",
        "refund_reversals",
    ]);
    let number = |no: Option<i64>| no.map(|no| no.to_string()).unwrap_or_default();
    for method in &report.methods {
        out.push_str(&csv::record(
            &[
                shift.id.to_string(),
                shift.operator.clone(),
                shift.opened_at.to_rfc3339(),
                shift
                    .closed_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default(),
                method.method.clone(),
                method.takings.to_string(),
                method.payments.to_string(),
                method.refunds.to_string(),
                method.refund_count.to_string(),
                report.receipts.to_string(),
                number(report.first_receipt),
                number(report.last_receipt),
            ]
            .into_iter()
            .chain(reversal_fields(method))
            .collect::<Vec<_>>(),
        ));
    }
    out
}

impl ShiftScreen {
    fn open_report(&self) -> Option<&ShiftReport> {
        self.shown().filter(|r| r.shift.closed_at.is_none())
    }

    fn shown(&self) -> Option<&ShiftReport> {
        self.report.as_ref().and_then(Option::as_ref)
    }
}

impl Screen for ShiftScreen {
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("shift.crumb").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        use Command::*;
        if self.asking_close {
            return framed([(Save, "shift.legend_close"), (Cancel, Cancel.label_key())]);
        }
        let shift = match self.open_report() {
            Some(_) => vec![CloseShift, PrintReport],
            None if self.report.is_some() && self.takes_money => vec![OpenShift],
            None => Vec::new(),
        };
        framed(
            [BACK]
                .into_iter()
                .chain(usual(shift))
                .chain(usual([Refresh])),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let mut head = vec![Line::raw("")];
        let mut paper = Vec::new();
        match &self.report {
            None => head.push(Line::styled(
                format!(" {}", lang.t("shift.loading")),
                theme.dim(),
            )),
            Some(None) if !self.takes_money => head.push(Line::raw(format!(
                " {}",
                app.t("shift.none_takes_no_money")
            ))),
            Some(None) => head.push(Line::raw(format!(" {}", app.t("shift.none")))),
            Some(Some(report)) => {
                let state = match (report.shift.closed_at, report.shift.opened_by_payment) {
                    (Some(_), _) => app.t("shift.state_closed"),
                    (None, true) => lang.t("shift.state_by_payment").to_owned(),
                    (None, false) => lang.t("shift.state_open").to_owned(),
                };
                head.push(Line::styled(format!(" {state}"), theme.title()));
                let z = report.shift.closed_at.is_some();
                // As printed, narrowed to half the screen so two halves fit side by side.
                let cells = app
                    .receipt_width
                    .min(usize::from(area.width / 2).saturating_sub(4));
                let text = report_text(lang, app.zone, report, cells, z);
                paper = text.lines().map(str::to_owned).collect();
            }
        }
        if self.asking_close {
            head.push(Line::styled(
                format!(" {}", app.t("shift.ask_close")),
                theme.title(),
            ));
        }
        let [head_area, paper_area] = Layout::vertical([
            Constraint::Length(head.len() as u16 + 1),
            Constraint::Min(0),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(head), head_area);
        // The paper side by side in two halves when it is taller than the screen.
        let halves = if paper.len() > usize::from(paper_area.height) {
            2
        } else {
            1
        };
        let per_half = paper.len().div_ceil(halves);
        let columns =
            Layout::horizontal(vec![Constraint::Length(area.width / 2); halves]).split(paper_area);
        for (half, column) in paper.chunks(per_half.max(1)).zip(columns.iter()) {
            let lines: Vec<Line> = half.iter().map(|l| Line::raw(format!("   {l}"))).collect();
            frame.render_widget(Paragraph::new(lines), *column);
        }
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.takes_money = TAKES_MONEY.iter().any(|p| hub.app.may(p));
        hub.send(LoadShift);
    }

    fn on_key(&mut self, _key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        // Closing is asked once: any key but confirm and cancel keeps the shift open.
        if self.asking_close && !matches!(command, Some(Command::Save | Command::Cancel)) {
            self.asking_close = false;
            hub.app.message = None;
            return true;
        }
        false
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Save if self.asking_close => {
                self.asking_close = false;
                if let Some(report) = self.open_report() {
                    let shift_id = report.shift.id;
                    let idempotency_key = hub.app.write_key();
                    hub.send(CloseShift {
                        shift_id,
                        idempotency_key,
                    });
                    hub.say(MessageKind::Info, hub.app.t("shift.closing"));
                }
            }
            Command::Cancel if self.asking_close => self.asking_close = false,
            Command::OpenShift
                if self.takes_money && self.report.is_some() && self.open_report().is_none() =>
            {
                hub.send(OpenShift)
            }
            // The question stands alone: the last message (an X report's "sent to …") is not
            // about it (s43-e, s44-e by hand).
            Command::CloseShift if self.open_report().is_some() && !hub.saving() => {
                self.asking_close = true;
                hub.app.message = None;
            }
            // Each X prints a paper: one pressed again before the last was kept asks nothing.
            Command::PrintReport if hub.asking(|request| request.of().is_some_and(x_report)) => {}
            Command::PrintReport => match self.open_report().cloned() {
                Some(report) => {
                    keep(&report, false, hub);
                    hub.say(MessageKind::Info, hub.app.t("shift.x_printed"));
                }
                None => return false,
            },
            Command::Refresh => hub.send(LoadShift),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(ShiftLoaded(report)) = reply.of::<ShiftLoaded>() {
            self.report = Some(report.clone());
        } else if let Some(ShiftOpened(opened)) = reply.of::<ShiftOpened>() {
            let key = match opened {
                Opened::Opened(_) => "shift.opened_now",
                Opened::AlreadyOpen => "shift.already_open",
            };
            hub.say(MessageKind::Info, hub.app.t(key));
            hub.send(LoadShift);
        } else if let Some(closed) = reply.of::<ShiftClosed>() {
            match closed {
                ShiftClosed::Now(report) => {
                    keep(report, true, hub);
                    hub.say(MessageKind::Info, hub.app.t("shift.closed"));
                    self.report = Some(Some(report.clone()));
                }
                ShiftClosed::Before(report) => {
                    let app = &*hub.app;
                    let at = report
                        .shift
                        .closed_at
                        .map(|at| local(&at, app.zone))
                        .unwrap_or_default();
                    let text = app.lang.tf("shift.closed_before", &[("at", &at)]);
                    hub.say(MessageKind::Error, text);
                    self.report = Some(Some(report.clone()));
                }
                ShiftClosed::Not => {
                    hub.say(MessageKind::Error, hub.app.t("shift.not_closed"));
                    hub.send(LoadShift);
                }
            }
        } else if let (Some(ReceiptKept(Ok(went))), Some(kept)) =
            (reply.of::<ReceiptKept>(), request.of::<KeepReport>())
        {
            // Where the paper went, as it is: the files, and the print command only when one
            // is set (s39-g, by hand: "Z 报表已打印并保存" at a desk with no printer).
            let report = if x_report(kept) { "X" } else { "Z" };
            let text = hub.app.lang.tf(
                "shift.kept",
                &[("report", &report), ("where", &inert(went))],
            );
            hub.say(MessageKind::Info, text);
        } else if let Some(ReceiptKept(Err(why))) = reply.of::<ReceiptKept>() {
            let text = hub.app.lang.tf(
                "shift.not_kept",
                &[("why", &inert(&why.text(hub.app.lang)))],
            );
            hub.say(MessageKind::Error, text);
        }
    }
}
