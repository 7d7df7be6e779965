//! The supervisor's daily reports (`:reports`, `reports.view`): takings by operator and
//! method, the shifts of the day with the office's total, water sold by scheme and nature,
//! arrears by age (from the bills' due dates), the abnormal consumptions read on the day and
//! the low-balance list as it stands. Tab changes the report, PgUp / PgDn the day, `e` writes it as
//! CSV in the receipts directory. The database refuses them to whoever lacks the permission
//! (sql/V21, and `md_require` for the two lists), whatever the screen offers.

use std::iter::Sum;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::legend::{BACK, framed, usual};
use super::receipt::{KeepReport, ReceiptKept};
use super::reference::common::read_or_loading;
use crate::app::permissions;
use crate::app::requests::Read;
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::readings::{AbnormalReading, LowBalance};
use crate::db::shifts::{
    self, ArrearsAge, Report, ReportKind, ShiftRow, TakingsRow, WaterRow, Window,
};
use crate::domain::csv;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table};
use crate::ui::text::{coded, local};
use crate::ui::theme::Theme;

/// The reports screen: which report, which day, and what was read.
#[derive(Debug, Clone, Default)]
pub struct ReportsScreen {
    kind: usize,
    day: Option<NaiveDate>,
    shown: Option<ReportRead>,
}

/// Reads one report of one day; answered with [`ReportRead`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub kind: ReportKind,
    pub window: Window,
}

/// A report as read, with the day it is of.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRead {
    pub kind: ReportKind,
    pub window: Window,
    pub report: Report,
}

impl Read for LoadReport {
    const TOLERATES_LAG: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let report = shifts::report_of(client, self.kind, &self.window).await?;
        Ok(ReportRead {
            kind: self.kind,
            window: self.window.clone(),
            report,
        })
    }
}

fn title(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Takings => "report.title_takings",
        ReportKind::Shifts => "report.title_shifts",
        ReportKind::Water => "report.title_water",
        ReportKind::ArrearsByAge => "report.title_arrears",
        ReportKind::Abnormal => "report_lists.title_abnormal",
        ReportKind::LowBalances => "report_lists.title_low_balances",
    }
}

const TAKINGS: [Column; 5] = [
    Column::new("report.col_operator", 10, 2, false),
    Column::new("report.col_method", 10, 1, false),
    Column::new("report.col_payments", 8, 0, true),
    Column::new("report.col_takings", 14, 1, true),
    Column::new("report.col_refunds", 14, 1, true),
];
const SHIFTS: [Column; 7] = [
    Column::new("report.col_shift", 6, 0, true),
    Column::new("report.col_operator", 8, 2, false),
    // Six: a time is five, "Opened" and "Closed" six.
    Column::new("report.col_opened", 6, 0, false),
    Column::new("report.col_closed", 6, 0, false),
    Column::new("report.col_receipts", 8, 0, true),
    Column::new("report.col_takings", 14, 1, true),
    Column::new("report.col_refunds", 14, 1, true),
];
const WATER: [Column; 4] = [
    Column::new("report.col_scheme", 12, 3, false),
    Column::new("report.col_nature", 10, 1, false),
    Column::new("report.col_volume", 14, 1, true),
    Column::new("report.col_amount", 14, 1, true),
];
const ARREARS: [Column; 4] = [
    Column::new("report.col_age", 6, 1, false),
    Column::new("report.col_bills", 8, 1, true),
    Column::new("report.col_customers", 10, 1, true),
    Column::new("report.col_amount", 14, 1, true),
];

const ABNORMAL: [Column; 5] = [
    Column::new("report_lists.col_customer", 8, 0, false).whole(),
    Column::new("report_lists.col_name", 8, 3, false),
    Column::new("report_lists.col_meter", 9, 1, false),
    Column::new("report_lists.col_reading", 12, 0, true).whole(),
    Column::new("report_lists.col_consumption", 12, 0, true).whole(),
];
const LOW_BALANCES: [Column; 4] = [
    Column::new("report_lists.col_customer", 8, 0, false).whole(),
    Column::new("report_lists.col_name", 8, 3, false),
    Column::new("report_lists.col_balance", 14, 1, true).whole(),
    Column::new("report_lists.col_threshold", 14, 1, true).whole(),
];

/// How one report's rows are shown on the screen and written to its CSV, kept side by side.
trait ReportRow: Sized {
    /// The screen's columns.
    const COLUMNS: &'static [Column];
    /// The CSV's header: stable names, `day` first.
    const FIELDS: &'static [&'static str];

    /// The row's cells on the screen (in `app`'s language, times in the desk's zone).
    fn cells(&self, app: &App) -> Vec<String>;

    /// The total row under `rows`, `total` the word that labels it.
    fn total(rows: &[Self], total: String, lang: Lang) -> Vec<String>;

    /// The row's CSV fields as stored (codes, UTC times), `day` the report's.
    fn fields(&self, day: &str) -> Vec<String>;
}

/// A report's rows, whichever report: drawn and exported the one way.
trait ReportRows {
    /// The columns, the rows as shown and then the total row.
    fn table(&self, app: &App) -> (&'static [Column], Vec<Vec<String>>);

    /// A CSV header, then each row.
    fn csv(&self, day: &str) -> String;
}

impl<R: ReportRow> ReportRows for Vec<R> {
    fn table(&self, app: &App) -> (&'static [Column], Vec<Vec<String>>) {
        let total = app.lang.t("report.total").to_owned();
        let mut lines: Vec<Vec<String>> = self.iter().map(|row| row.cells(app)).collect();
        lines.push(R::total(self, total, app.lang));
        (R::COLUMNS, lines)
    }

    fn csv(&self, day: &str) -> String {
        let mut out = csv::record(R::FIELDS);
        for row in self {
            out.push_str(&csv::record(&row.fields(day)));
        }
        out
    }
}

/// The rows of a report; None when it was refused.
fn rows_of(report: &Report) -> Option<&dyn ReportRows> {
    Some(match report {
        Report::NotPermitted => return None,
        Report::Takings(rows) => rows,
        Report::Shifts(rows) => rows,
        Report::Water(rows) => rows,
        Report::ArrearsByAge(rows) => rows,
        Report::Abnormal(rows) => rows,
        Report::LowBalances(rows) => rows,
    })
}

/// A total row's cell: `column` of every row, summed.
fn sum<R, T: Sum + ToString>(rows: &[R], column: impl Fn(&R) -> T) -> String {
    rows.iter().map(column).sum::<T>().to_string()
}

/// The time of day of `at` in the desk's zone.
fn time_of_day(at: &DateTime<Utc>, app: &App) -> String {
    local(at, app.zone)[11..].to_owned()
}

impl ReportRow for TakingsRow {
    const COLUMNS: &'static [Column] = &TAKINGS;
    const FIELDS: &'static [&'static str] = &[
        "day",
        "operator",
        "method",
        "payments",
        "takings",
        "refunds",
        "refund_count",
    ];

    fn cells(&self, app: &App) -> Vec<String> {
        vec![
            inert(&self.operator).into_owned(),
            coded(app.lang, "payment_method.", &self.takings.method),
            self.takings.payments.to_string(),
            self.takings.takings.to_string(),
            self.takings.refunds.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        vec![
            total,
            String::new(),
            sum(rows, |r| r.takings.payments),
            sum(rows, |r| r.takings.takings),
            sum(rows, |r| r.takings.refunds),
        ]
    }

    /// Its own day: the takings are read by day.
    fn fields(&self, _: &str) -> Vec<String> {
        let t = &self.takings;
        vec![
            self.day.to_string(),
            self.operator.clone(),
            t.method.clone(),
            t.payments.to_string(),
            t.takings.to_string(),
            t.refunds.to_string(),
            t.refund_count.to_string(),
        ]
    }
}

impl ReportRow for ShiftRow {
    const COLUMNS: &'static [Column] = &SHIFTS;
    const FIELDS: &'static [&'static str] = &[
        "day",
        "shift",
        "operator",
        "opened_at",
        "closed_at",
        "receipts",
        "takings",
        "refunds",
    ];

    fn cells(&self, app: &App) -> Vec<String> {
        vec![
            self.shift_id.to_string(),
            inert(&self.operator).into_owned(),
            time_of_day(&self.opened_at, app),
            self.closed_at
                .map(|at| time_of_day(&at, app))
                .unwrap_or_default(),
            self.receipts.to_string(),
            self.takings.to_string(),
            self.refunds.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        vec![
            String::new(),
            total,
            String::new(),
            String::new(),
            sum(rows, |r| r.receipts),
            sum(rows, |r| r.takings),
            sum(rows, |r| r.refunds),
        ]
    }

    fn fields(&self, day: &str) -> Vec<String> {
        vec![
            day.to_owned(),
            self.shift_id.to_string(),
            self.operator.clone(),
            self.opened_at.to_rfc3339(),
            self.closed_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
            self.receipts.to_string(),
            self.takings.to_string(),
            self.refunds.to_string(),
        ]
    }
}

impl ReportRow for WaterRow {
    const COLUMNS: &'static [Column] = &WATER;
    const FIELDS: &'static [&'static str] = &["day", "scheme", "nature", "volume_m3", "amount"];

    fn cells(&self, app: &App) -> Vec<String> {
        vec![
            inert(&self.scheme).into_owned(),
            coded(app.lang, "details.nature_", &self.nature),
            self.volume.to_string(),
            self.amount.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        vec![
            total,
            String::new(),
            sum(rows, |r| r.volume),
            sum(rows, |r| r.amount),
        ]
    }

    fn fields(&self, day: &str) -> Vec<String> {
        vec![
            day.to_owned(),
            self.scheme.clone(),
            self.nature.clone(),
            self.volume.to_string(),
            self.amount.to_string(),
        ]
    }
}

impl ReportRow for ArrearsAge {
    const COLUMNS: &'static [Column] = &ARREARS;
    const FIELDS: &'static [&'static str] = &["day", "age_days", "bills", "customers", "amount"];

    fn cells(&self, _: &App) -> Vec<String> {
        vec![
            self.age.clone(),
            self.bills.to_string(),
            self.customers.to_string(),
            self.amount.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        vec![
            total,
            sum(rows, |r| r.bills),
            String::new(),
            sum(rows, |r| r.amount),
        ]
    }

    fn fields(&self, day: &str) -> Vec<String> {
        vec![
            day.to_owned(),
            self.age.clone(),
            self.bills.to_string(),
            self.customers.to_string(),
            self.amount.to_string(),
        ]
    }
}

impl ReportRow for AbnormalReading {
    const COLUMNS: &'static [Column] = &ABNORMAL;
    const FIELDS: &'static [&'static str] = &[
        "day",
        "customer_no",
        "name",
        "meter_no",
        "read_on",
        "reading_m3",
        "consumption_m3",
    ];

    fn cells(&self, _: &App) -> Vec<String> {
        vec![
            format!("{:08}", self.customer_no),
            inert(&self.name).into_owned(),
            inert(&self.meter_no).into_owned(),
            self.electronic.to_string(),
            self.consumption.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, lang: Lang) -> Vec<String> {
        vec![
            total,
            lang.tf("report_lists.readings", &[("count", &rows.len())]),
            String::new(),
            String::new(),
            sum(rows, |r| r.consumption),
        ]
    }

    fn fields(&self, day: &str) -> Vec<String> {
        vec![
            day.to_owned(),
            self.customer_no.to_string(),
            self.name.clone(),
            self.meter_no.clone(),
            self.read_on.to_string(),
            self.electronic.to_string(),
            self.consumption.to_string(),
        ]
    }
}

impl ReportRow for LowBalance {
    const COLUMNS: &'static [Column] = &LOW_BALANCES;
    const FIELDS: &'static [&'static str] = &["day", "customer_no", "name", "balance", "threshold"];

    fn cells(&self, _: &App) -> Vec<String> {
        vec![
            format!("{:08}", self.customer_no),
            inert(&self.name).into_owned(),
            self.balance.to_string(),
            self.threshold.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, lang: Lang) -> Vec<String> {
        vec![
            total,
            lang.tf("report_lists.customers", &[("count", &rows.len())]),
            sum(rows, |r| r.balance),
            String::new(),
        ]
    }

    fn fields(&self, day: &str) -> Vec<String> {
        vec![
            day.to_owned(),
            self.customer_no.to_string(),
            self.name.clone(),
            self.balance.to_string(),
            self.threshold.to_string(),
        ]
    }
}

/// The report as CSV: a header of stable names, then its rows as stored (codes, UTC times).
pub fn report_csv(read: &ReportRead) -> String {
    rows_of(&read.report).map_or_else(String::new, |rows| rows.csv(&read.window.day.to_string()))
}

/// Today in the desk's zone: the reports' first day and their last.
fn today(hub: &Hub) -> NaiveDate {
    Utc::now().with_timezone(&hub.app.zone).date_naive()
}

impl ReportsScreen {
    fn kind(&self) -> ReportKind {
        ReportKind::ALL[self.kind]
    }

    fn load(&mut self, hub: &mut Hub) {
        let zone = hub.app.zone;
        let day = *self.day.get_or_insert_with(|| today(hub));
        // A read still on its way is of a report or day no longer asked for: its answer, which
        // may come after this one's, must not be shown.
        hub.forget(|request| request.of::<LoadReport>().is_some());
        hub.send(LoadReport {
            kind: self.kind(),
            window: Window::of_day(day, zone),
        });
    }

    fn step_day(&mut self, days: i64, hub: &mut Hub) {
        let day = self.day.map(|day| day + chrono::Duration::days(days));
        if day.is_some_and(|day| day > today(hub)) {
            hub.say(MessageKind::Info, hub.app.lang.t("report.no_later_day"));
            return;
        }
        // What the message line said of the day before no longer holds.
        hub.app.message = None;
        self.day = day;
        self.load(hub);
    }

    fn step_kind(&mut self, hub: &mut Hub) {
        self.kind = (self.kind + 1) % ReportKind::ALL.len();
        self.load(hub);
    }
}

impl Screen for ReportsScreen {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("report.crumb").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        use Command::*;
        framed(
            [
                BACK,
                (NextField, "report.legend_next"),
                (PageUp, "report.legend_previous_day"),
                (PageDown, "report.legend_next_day"),
            ]
            .into_iter()
            .chain(usual([Export, Refresh])),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let Some(read) = read_or_loading(&self.shown, "report.loading", frame, area, (lang, theme))
        else {
            return;
        };
        let [head, table] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(area);
        let day = match read.kind {
            ReportKind::LowBalances => app.t("report_lists.as_it_stands").to_owned(),
            _ => app.tf("report.day", &[("day", &read.window.day)]),
        };
        let head_lines = vec![
            Line::styled(format!(" {}", lang.t(title(read.kind))), theme.title()),
            Line::styled(format!(" {day}"), theme.dim()),
        ];
        frame.render_widget(Paragraph::new(head_lines), head);
        let Some((columns, rows)) = rows_of(&read.report).map(|rows| rows.table(app)) else {
            let refused = Line::styled(
                format!(" {}", lang.t("report.not_permitted")),
                theme.error(),
            );
            frame.render_widget(Paragraph::new(refused), table);
            return;
        };
        // The rows that fit above the total row, which stays in sight (the CSV has them all).
        Table::new(columns, &rows, "")
            .total(theme.title())
            .draw(frame, table, (lang, theme));
    }

    /// Refused as it opens to whoever lacks the permission; the database refuses the reads too.
    fn on_open(&mut self, hub: &mut Hub) {
        if !hub
            .app
            .may(Command::Reports.permission().unwrap_or_default())
        {
            hub.say(MessageKind::Error, hub.app.t("report.not_permitted"));
            hub.leave();
            return;
        }
        self.load(hub);
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::NextField => self.step_kind(hub),
            Command::PageUp => self.step_day(-1, hub),
            Command::PageDown => self.step_day(1, hub),
            Command::Refresh => self.load(hub),
            Command::Export => match &self.shown {
                Some(read) if read.report != Report::NotPermitted => hub.send(KeepReport {
                    stem: format!("report-{}-{}", read.kind.code(), read.window.day),
                    text: None,
                    csv: report_csv(read),
                }),
                _ => return false,
            },
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(read) = reply.of::<ReportRead>() {
            // Drawn where the rows would be; the desk believed the roles allowed it.
            if read.report == Report::NotPermitted {
                permissions::reread(hub.app, hub.out);
            }
            self.shown = Some(read.clone());
        } else if let Some(ReceiptKept(kept)) = reply.of::<ReceiptKept>() {
            let text = match kept {
                Ok(path) => hub
                    .app
                    .lang
                    .tf("report.exported", &[("path", &inert(path))]),
                Err(why) => hub.app.lang.tf(
                    "report.not_exported",
                    &[("why", &inert(&why.text(hub.app.lang)))],
                ),
            };
            let kind = if kept.is_ok() {
                MessageKind::Info
            } else {
                MessageKind::Error
            };
            hub.say(kind, text);
        }
    }
}
