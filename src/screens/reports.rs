//! The supervisor's daily reports (`:reports`, `reports.view`): takings by operator and
//! method, the shifts of the day with the office's total, water sold by scheme and nature,
//! arrears by age (the bills from their due dates, the card debts from when they were found),
//! the abnormal consumptions read on the day and the low-balance list as it stands. A report
//! is of one day, today first, or of a range of days (`domain::report_days`): typed in a form
//! (`/`), or this month (`M`) and the last (`L`); the arrears are those on its last day. Tab
//! changes the report, PgUp / PgDn move by the range's length (a month by a month), ↑ / ↓
//! scroll a report longer than the screen by a row and Home / End to its ends (the total row
//! stays in sight), `e` writes it as CSV in the receipts directory. The database refuses them
//! to whoever lacks the permission (sql/V21, and `md_require` for the two lists), whatever the
//! screen offers.

use std::borrow::Cow;
use std::iter::Sum;
use std::ops::Range;

use chrono::{DateTime, NaiveDate, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::legend::{BACK, framed, usual};
use super::receipt::{KeepReport, ReceiptKept};
use super::reference::common::read_or_loading;
use crate::app::form::{Field, FieldKind, Form, FormKey};
use crate::app::permissions;
use crate::app::requests::Read;
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::readings::{AbnormalReading, LowBalance};
use crate::db::shifts::{
    self, ArrearsAge, MethodTakings, Report, ReportKind, ShiftRow, TakingsRow, WaterRow, Window,
};
use crate::domain::csv;
use crate::domain::money::Money;
use crate::domain::report_days::{MOST_DAYS, RangeError, ReportDays};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table};
use crate::ui::text::{coded, local, truncate};
use crate::ui::theme::Theme;

/// The reports screen: which report, which days, and what was read.
#[derive(Debug, Clone, Default)]
pub struct ReportsScreen {
    kind: usize,
    days: Option<ReportDays>,
    shown: Option<ReportRead>,
    /// The first row in sight: the report scrolled down; back to 0 when another report or
    /// other days are shown.
    first_row: usize,
    /// The form of the days (`/`), open over the report.
    days_form: Option<Form>,
}

/// Reads one report of its days; answered with [`ReportRead`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub kind: ReportKind,
    pub window: Window,
}

/// A report as read, with the days it is of.
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

/// The takings of an operator who reversed deposits count the reversals against them, on
/// their day (sql/V21): their own column says so beside the takings ("Reversed", s40-e: the
/// supervisor's "现金 29 -63760.00" left a negative sum unexplained). Reversed refunds, the same
/// in the refunds, are said in the same words beside the refunds (s41-c); only the owner
/// reverses a refund, so that column is shown only on a report that has one
/// (`TakingsRow::columns`): at 80 columns it takes the operator's spare cells.
const OPERATOR: Column = Column::new("report.col_operator", 9, 2, false);
const PAYMENTS: Column = Column::new("report.col_payments", 8, 0, true);
const TAKEN: Column = Column::new("report.col_takings", 12, 1, true);
const TAKINGS_REVERSED: Column = Column::new("report.col_reversed", 13, 1, true);
const REFUNDS: Column = Column::new("report.col_refunds", 12, 1, true);
const TAKINGS: [Column; 7] = [
    OPERATOR,
    Column::new("report.col_method", 10, 1, false),
    PAYMENTS,
    TAKEN,
    TAKINGS_REVERSED,
    REFUNDS,
    Column::new("report.col_reversed", 10, 1, true).whole(),
];
/// Without the refunds' "Reversed", the method has the cells to be named whole ("Bank
/// transfer": s44-e, by hand, read "Bank trans…" beside an empty column).
const TAKINGS_NO_REFUND_REVERSED: [Column; 6] = [
    OPERATOR,
    Column::new("report.col_method", 13, 1, false),
    PAYMENTS,
    TAKEN,
    TAKINGS_REVERSED,
    REFUNDS,
];
const SHIFTS: [Column; 7] = [
    Column::new("report.col_shift", 6, 0, true),
    Column::new("report.col_operator", 8, 2, false),
    // Six: a time is five, "Opened" and "Closed" six; whole: with its date, eleven.
    Column::new("report.col_opened", 6, 0, false).whole(),
    Column::new("report.col_closed", 6, 0, false).whole(),
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
/// The unpaid bills and the card debts (sql/V194) apart, beside each other: the amount is both.
const ARREARS: [Column; 5] = [
    Column::new("report.col_age", 6, 1, false),
    Column::new("report.col_bills", 8, 1, true),
    Column::new("report.col_card_debts", 10, 1, true),
    Column::new("report.col_customers", 10, 1, true),
    Column::new("report.col_amount", 14, 1, true),
];

const ABNORMAL: [Column; 6] = [
    Column::new("report_lists.col_customer", 8, 0, false).whole(),
    Column::new("report_lists.col_name", 8, 3, false),
    Column::new("report_lists.col_meter", 9, 1, false),
    Column::new("report_lists.col_read_on", 10, 0, false).whole(),
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
trait ReportRow: Sized + Clone {
    /// The screen's columns.
    const COLUMNS: &'static [Column];

    /// The columns shown over `shown` (the rows as shown, the total aside): all, unless the
    /// report leaves out one that would say nothing of these rows; its cells are then not
    /// drawn.
    fn columns(_shown: &[Self]) -> &'static [Column] {
        Self::COLUMNS
    }
    /// The CSV's header: stable names, `day` first.
    const FIELDS: &'static [&'static str];

    /// The rows as the screen shows them: as read, unless the report adds a range's days up.
    fn shown(rows: &[Self]) -> Cow<'_, [Self]> {
        Cow::Borrowed(rows)
    }

    /// The row's cells on the screen (in `app`'s language, times in the desk's zone) in a
    /// report of `window`'s days.
    fn cells(&self, app: &App, window: &Window) -> Vec<String>;

    /// The row's lines on the screen: its cells, unless the report says more under them.
    fn lines(&self, app: &App, window: &Window) -> Vec<Vec<String>> {
        vec![self.cells(app, window)]
    }

    /// The total row under `rows`, `total` the word that labels it.
    fn total(rows: &[Self], total: String, lang: Lang) -> Vec<String>;

    /// The total's lines: its row, unless the report says more under it.
    fn total_lines(rows: &[Self], total: String, lang: Lang) -> Vec<Vec<String>> {
        vec![Self::total(rows, total, lang)]
    }

    /// The row's CSV fields as stored (codes, UTC times): its `day` is its own where it has
    /// one, else the report's days (`days_text`).
    fn fields(&self, window: &Window) -> Vec<String>;
}

/// A report as the screen shows it: its columns, its rows each as its lines, then its total's
/// lines.
struct Shown {
    columns: &'static [Column],
    rows: Vec<Vec<Vec<String>>>,
    total: Vec<Vec<String>>,
}

impl Shown {
    /// How many lines each row takes.
    fn heights(&self) -> Vec<usize> {
        self.rows.iter().map(Vec::len).collect()
    }
}

/// A report's rows, whichever report: drawn and exported the one way.
trait ReportRows {
    /// The report as the screen shows it.
    fn table(&self, app: &App, window: &Window) -> Shown;

    /// A CSV header, then each row as read.
    fn csv(&self, window: &Window) -> String;
}

impl<R: ReportRow> ReportRows for Vec<R> {
    fn table(&self, app: &App, window: &Window) -> Shown {
        let total = app.lang.t("report.total").to_owned();
        let shown = R::shown(self);
        Shown {
            columns: R::columns(&shown),
            rows: shown.iter().map(|row| row.lines(app, window)).collect(),
            total: R::total_lines(&shown, total, app.lang),
        }
    }

    fn csv(&self, window: &Window) -> String {
        let mut out = csv::record(R::FIELDS);
        for row in self {
            out.push_str(&csv::record(&row.fields(window)));
        }
        out
    }
}

/// The report's days as its file name and its CSV say them: `2026-12-03` for a day,
/// `2026-12-01--2026-12-31` for a range (ISO 8601's interval, `--` for the `/` no file name
/// holds).
fn days_text(window: &Window) -> String {
    if window.is_one_day() {
        window.first.to_string()
    } else {
        format!("{}--{}", window.first, window.last)
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

/// `at` in the desk's zone: its time of day in a report of that one day, else with its date
/// (a month's shifts, a shift opened the evening before).
fn shift_time(at: &DateTime<Utc>, app: &App, window: &Window) -> String {
    let at = local(at, app.zone);
    if window.is_one_day() && at.starts_with(&window.first.to_string()) {
        at[11..].to_owned()
    } else {
        at[5..].to_owned()
    }
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
        "reversed",
        "reversals",
        "refunds_reversed",
        "refund_reversals",
    ];

    /// The refunds' "Reversed" only when a row has one.
    fn columns(shown: &[Self]) -> &'static [Column] {
        if shown.iter().any(|row| row.takings.refund_reversals != 0) {
            &TAKINGS
        } else {
            &TAKINGS_NO_REFUND_REVERSED
        }
    }

    /// A range's takings by operator and method, its days added up (the CSV keeps each day),
    /// in a day's order: by operator, then method (sql/V21's `report_takings`).
    fn shown(rows: &[Self]) -> Cow<'_, [Self]> {
        let mut merged: Vec<TakingsRow> = Vec::new();
        for row in rows {
            let same = |shown: &&mut TakingsRow| {
                shown.operator == row.operator && shown.takings.method == row.takings.method
            };
            match merged.iter_mut().find(same) {
                Some(shown) => shown.takings.add(&row.takings),
                None => merged.push(row.clone()),
            }
        }
        merged.sort_by(|a, b| {
            (&a.operator, &a.takings.method).cmp(&(&b.operator, &b.takings.method))
        });
        Cow::Owned(merged)
    }

    fn cells(&self, app: &App, _: &Window) -> Vec<String> {
        [
            inert(&self.operator).into_owned(),
            coded(app.lang, "payment_method.", &self.takings.method),
        ]
        .into_iter()
        .chain(figures(&self.takings))
        .collect()
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        let all = MethodTakings::total(rows.iter().map(|row| &row.takings));
        [total, String::new()]
            .into_iter()
            .chain(figures(&all))
            .collect()
    }

    /// Its own day: the takings are read by day.
    fn fields(&self, _: &Window) -> Vec<String> {
        let t = &self.takings;
        [
            self.day.to_string(),
            self.operator.clone(),
            t.method.clone(),
            t.payments.to_string(),
            t.takings.to_string(),
            t.refunds.to_string(),
            t.refund_count.to_string(),
        ]
        .into_iter()
        .chain(reversal_fields(t))
        .collect()
    }
}

/// The reversals' CSV fields of a takings row or a shift's method, at the end of its record:
/// `reversed,reversals,refunds_reversed,refund_reversals`.
pub fn reversal_fields(t: &MethodTakings) -> [String; 4] {
    [
        t.reversed.to_string(),
        t.reversals.to_string(),
        t.refunds_reversed.to_string(),
        t.refund_reversals.to_string(),
    ]
}

/// A takings row's figures as the screen shows them: payments, takings, the deposits of them
/// reversed, refunds, the refunds of them reversed.
fn figures(t: &MethodTakings) -> [String; 5] {
    [
        t.payments.to_string(),
        t.takings.to_string(),
        reversed(t.reversals, t.reversed),
        t.refunds.to_string(),
        reversed(t.refund_reversals, t.refunds_reversed),
    ]
}

/// The reversals of deposits or of refunds a takings row or a shift's method counts: their
/// money, negative, with how many ("-81000.00 ×6"); none, blank.
pub fn reversed(count: i64, money: Money) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("{money} ×{count}")
    }
}

impl ReportRow for ShiftRow {
    const COLUMNS: &'static [Column] = &SHIFTS;
    /// The reversals last, as the takings' and the shift's CSV have them.
    const FIELDS: &'static [&'static str] = &[
        "day",
        "shift",
        "operator",
        "opened_at",
        "closed_at",
        "receipts",
        "takings",
        "refunds",
        "reversed",
        "reversals",
        "refunds_reversed",
        "refund_reversals",
    ];

    fn cells(&self, app: &App, window: &Window) -> Vec<String> {
        vec![
            self.shift_id.to_string(),
            inert(&self.operator).into_owned(),
            shift_time(&self.opened_at, app, window),
            self.closed_at
                .map(|at| shift_time(&at, app, window))
                .unwrap_or_default(),
            self.receipts.to_string(),
            self.figures.takings.to_string(),
            self.figures.refunds.to_string(),
        ]
    }

    /// A shift with reversals says them on a line under it.
    fn lines(&self, app: &App, window: &Window) -> Vec<Vec<String>> {
        let mut lines = vec![self.cells(app, window)];
        lines.extend(reversed_under(&self.figures, app.lang));
        lines
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        let all = MethodTakings::total(rows.iter().map(|row| &row.figures));
        vec![
            String::new(),
            total,
            String::new(),
            String::new(),
            sum(rows, |r| r.receipts),
            all.takings.to_string(),
            all.refunds.to_string(),
        ]
    }

    /// The shifts' reversals, all of them, under the total as under a shift.
    fn total_lines(rows: &[Self], total: String, lang: Lang) -> Vec<Vec<String>> {
        let all = MethodTakings::total(rows.iter().map(|row| &row.figures));
        let mut lines = vec![Self::total(rows, total, lang)];
        lines.extend(reversed_under(&all, lang));
        lines
    }

    fn fields(&self, window: &Window) -> Vec<String> {
        let f = &self.figures;
        [
            days_text(window),
            self.shift_id.to_string(),
            self.operator.clone(),
            self.opened_at.to_rfc3339(),
            self.closed_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
            self.receipts.to_string(),
            f.takings.to_string(),
            f.refunds.to_string(),
        ]
        .into_iter()
        .chain(reversal_fields(f))
        .collect()
    }
}

/// The line under a shift (or the shifts' total) whose takings or refunds count reversals:
/// "Reversed" / "其中冲正" where the operator is, then each one's reversals under the figure that
/// counts them, as the takings report's cells say them ("-500.00 ×2"); none without.
fn reversed_under(f: &MethodTakings, lang: Lang) -> Option<Vec<String>> {
    (f.reversals != 0 || f.refund_reversals != 0).then(|| {
        vec![
            String::new(),
            lang.t("report.col_reversed").to_owned(),
            String::new(),
            String::new(),
            String::new(),
            reversed(f.reversals, f.reversed),
            reversed(f.refund_reversals, f.refunds_reversed),
        ]
    })
}

impl ReportRow for WaterRow {
    const COLUMNS: &'static [Column] = &WATER;
    const FIELDS: &'static [&'static str] = &["day", "scheme", "nature", "volume_m3", "amount"];

    fn cells(&self, app: &App, _: &Window) -> Vec<String> {
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

    fn fields(&self, window: &Window) -> Vec<String> {
        vec![
            days_text(window),
            self.scheme.clone(),
            self.nature.clone(),
            self.volume.to_string(),
            self.amount.to_string(),
        ]
    }
}

impl ReportRow for ArrearsAge {
    const COLUMNS: &'static [Column] = &ARREARS;
    /// The card debts last: the columns a file of before keep their places.
    const FIELDS: &'static [&'static str] = &[
        "day",
        "age_days",
        "bills",
        "customers",
        "amount",
        "card_debts",
    ];

    fn cells(&self, _: &App, _: &Window) -> Vec<String> {
        vec![
            self.age.clone(),
            self.bills.to_string(),
            self.card_debts.to_string(),
            self.customers.to_string(),
            self.amount.to_string(),
        ]
    }

    fn total(rows: &[Self], total: String, _: Lang) -> Vec<String> {
        vec![
            total,
            sum(rows, |r| r.bills),
            sum(rows, |r| r.card_debts),
            String::new(),
            sum(rows, |r| r.amount),
        ]
    }

    /// The day the arrears stood on: the range's last.
    fn fields(&self, window: &Window) -> Vec<String> {
        vec![
            window.last.to_string(),
            self.age.clone(),
            self.bills.to_string(),
            self.customers.to_string(),
            self.amount.to_string(),
            self.card_debts.to_string(),
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

    fn cells(&self, _: &App, _: &Window) -> Vec<String> {
        vec![
            format!("{:08}", self.customer_no),
            inert(&self.name).into_owned(),
            inert(&self.meter_no).into_owned(),
            self.read_on.to_string(),
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
            String::new(),
            sum(rows, |r| r.consumption),
        ]
    }

    /// Its own day: the day it was read.
    fn fields(&self, _: &Window) -> Vec<String> {
        vec![
            self.read_on.to_string(),
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

    fn cells(&self, _: &App, _: &Window) -> Vec<String> {
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

    fn fields(&self, window: &Window) -> Vec<String> {
        vec![
            days_text(window),
            self.customer_no.to_string(),
            self.name.clone(),
            self.balance.to_string(),
            self.threshold.to_string(),
        ]
    }
}

/// The report as CSV: a header of stable names, then its rows as stored (codes, UTC times).
pub fn report_csv(read: &ReportRead) -> String {
    rows_of(&read.report).map_or_else(String::new, |rows| rows.csv(&read.window))
}

/// The file a report is written to, without its extension: the report and its days.
fn report_stem(read: &ReportRead) -> String {
    format!("report-{}-{}", read.kind.code(), days_text(&read.window))
}

const FIRST_DAY: &str = "report.f_first";
const LAST_DAY: &str = "report.f_last";

/// The form of the days, filled in with `days`.
fn days_form(days: ReportDays) -> Form {
    let mut form = Form::new(vec![
        Field::new(FIRST_DAY, FieldKind::Date, true),
        Field::new(LAST_DAY, FieldKind::Date, true),
    ]);
    form.set(0, &days.first.to_string());
    form.set(1, &days.last.to_string());
    form.mark_saved();
    form
}

/// The days `form` holds, checked against `today`; otherwise the bad fields (index, text).
fn typed_days(
    form: &Form,
    today: NaiveDate,
    lang: Lang,
) -> Result<ReportDays, Vec<(usize, String)>> {
    let date = |index| NaiveDate::parse_from_str(form.value(index).trim(), "%Y-%m-%d");
    let (Ok(first), Ok(last)) = (date(0), date(1)) else {
        return Err(form.kind_errors(lang));
    };
    ReportDays::typed(first, last, today).map_err(|errors| {
        errors
            .into_iter()
            .map(|error| {
                let text = match error {
                    RangeError::FirstAfterToday | RangeError::LastAfterToday => {
                        lang.tf("report.after_today", &[("today", &today)])
                    }
                    RangeError::EndsBeforeItStarts => {
                        lang.t("report.ends_before_it_starts").to_owned()
                    }
                    RangeError::TooLong => lang.tf("report.too_long", &[("most", &MOST_DAYS)]),
                };
                (usize::from(!error.concerns_the_first_day()), text)
            })
            .collect()
    })
}

/// The lines above a report's table: its title, its days, and where it is scrolled to.
const HEAD_LINES: u16 = 3;

/// The lines for rows in a report's table `height` lines high: all but its header and the
/// `total` lines of its total.
fn lines_for_rows(height: u16, total: usize) -> usize {
    usize::from(height.saturating_sub(1)).saturating_sub(total)
}

/// The rows in sight from row `first`, of rows `heights` lines high, in `room` lines: those
/// that fit whole (a shift with the line under it), and at least the first (cut, on a screen
/// lower than it).
fn rows_in_sight(heights: &[usize], first: usize, room: usize) -> Range<usize> {
    let first = first.min(heights.len());
    let fit = rows_that_fit(heights[first..].iter(), room);
    first..first + fit.max(1).min(heights.len() - first)
}

/// How many rows of `heights`, taken in their order, fit whole in `room` lines.
fn rows_that_fit<'a>(heights: impl Iterator<Item = &'a usize>, room: usize) -> usize {
    let mut used = 0;
    heights
        .take_while(|height| {
            used += *height;
            used <= room
        })
        .count()
}

/// The first row in sight of a report scrolled to its end: the fewest last rows that fit
/// whole in `room` lines (at least the last).
fn first_of_the_end(heights: &[usize], room: usize) -> usize {
    let fit = rows_that_fit(heights.iter().rev(), room);
    heights.len() - fit.max(1).min(heights.len())
}

/// Today in the desk's zone: the reports' first day and their last.
fn today(hub: &Hub) -> NaiveDate {
    hub.app.today()
}

impl ReportsScreen {
    fn kind(&self) -> ReportKind {
        ReportKind::ALL[self.kind]
    }

    /// Whether the report shown is of days (every report but the low balances, a list as it
    /// stands: read as of today, whatever days the others show, and offered no keys of days).
    fn of_days(&self) -> bool {
        self.kind() != ReportKind::LowBalances
    }

    fn load(&mut self, hub: &mut Hub) {
        let zone = hub.app.zone;
        let days = *self.days.get_or_insert_with(|| ReportDays::day(today(hub)));
        let days = if self.of_days() {
            days
        } else {
            ReportDays::day(today(hub))
        };
        // A read still on its way is of a report or days no longer asked for: its answer,
        // which may come after this one's, must not be shown.
        hub.forget(|request| request.of::<LoadReport>().is_some());
        hub.send(LoadReport {
            kind: self.kind(),
            window: Window::of_days(days.first, days.last, zone),
        });
    }

    /// The report of `days` read; what the message line said of the days before no longer
    /// holds.
    fn show_days(&mut self, days: ReportDays, hub: &mut Hub) {
        hub.app.message = None;
        self.days = Some(days);
        self.load(hub);
    }

    /// PgUp / PgDn: the days before or after, by the range's step, never past today.
    fn step(&mut self, later: bool, hub: &mut Hub) {
        let today = today(hub);
        let days = self.days.unwrap_or_else(|| ReportDays::day(today));
        match days.stepped(later, today) {
            Some(next) => self.show_days(next, hub),
            None => hub.say(MessageKind::Info, hub.app.lang.t("report.no_later_day")),
        }
    }

    /// F2 on the form of the days: its report read, or the form kept with its fields marked.
    fn submit_days(&mut self, hub: &mut Hub) {
        let today = today(hub);
        let Some(form) = &mut self.days_form else {
            return;
        };
        match typed_days(form, today, hub.app.lang) {
            Ok(days) => {
                self.days_form = None;
                self.show_days(days, hub);
            }
            Err(errors) => {
                form.fail(&errors);
                hub.say_form_error(form);
            }
        }
    }

    /// How far the report shown scrolls: until its last row is just above the total.
    fn last_first_row(&self, app: &App) -> usize {
        // The desk's top line, message line and legend are not the screen's.
        let table = app.viewport.1.saturating_sub(3 + HEAD_LINES);
        let Some(shown) = self
            .shown
            .as_ref()
            .and_then(|read| rows_of(&read.report).map(|rows| rows.table(app, &read.window)))
        else {
            return 0;
        };
        first_of_the_end(&shown.heights(), lines_for_rows(table, shown.total.len()))
    }

    /// ↓ or End: the first row in sight moved to `to`, within the report.
    fn scroll(&mut self, to: usize, app: &App) {
        self.first_row = to.min(self.last_first_row(app));
    }

    fn step_kind(&mut self, hub: &mut Hub) {
        self.kind = (self.kind + 1) % ReportKind::ALL.len();
        self.load(hub);
    }
}

impl Screen for ReportsScreen {
    fn crumb(&self, lang: Lang) -> String {
        let screen = lang.t("report.crumb");
        match self.days_form {
            Some(_) => format!("{screen} › {}", lang.t("report.screen_days")),
            None => screen.to_owned(),
        }
    }

    /// The report's keys; the form's while it is open. The months come after the export: at
    /// 80 columns in Chinese the legend ends at "L 上月" (the help lists every key).
    fn commands(&self) -> Vec<(Command, &'static str)> {
        use Command::*;
        if self.days_form.is_some() {
            return usual([Help])
                .chain([(Save, "report.legend_show")])
                // F3 leaves the form as F12 does (its question names both): listed (s38-e).
                .chain(usual([NextField, Leave, Cancel]))
                .collect();
        }
        let days: &[_] = if self.of_days() {
            &[
                (Search, "report.legend_days"),
                (PageUp, "report.legend_earlier"),
                (PageDown, "report.legend_later"),
            ]
        } else {
            &[]
        };
        let months: &[_] = if self.of_days() {
            &[LastMonth, ThisMonth]
        } else {
            &[]
        };
        framed(
            [BACK, (NextField, "report.legend_next")]
                .into_iter()
                .chain(days.iter().copied())
                .chain(usual([Export]))
                .chain(usual(months.iter().copied()))
                .chain(usual([Refresh, First, Last])),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        if let Some(form) = &self.days_form {
            let [head, rest] =
                Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
            let hint = app.tf("report.days_hint", &[("most", &MOST_DAYS)]);
            let hint = truncate(&format!(" {hint}"), usize::from(area.width));
            frame.render_widget(Paragraph::new(Line::styled(hint, theme.dim())), head);
            crate::ui::form::draw(frame, rest, form, lang, theme);
            return;
        }
        let Some(read) = read_or_loading(&self.shown, "report.loading", frame, area, (lang, theme))
        else {
            return;
        };
        let [head, table] =
            Layout::vertical([Constraint::Length(HEAD_LINES), Constraint::Min(0)]).areas(area);
        let (first, last) = (&read.window.first, &read.window.last);
        let day = match read.kind {
            ReportKind::LowBalances => app.t("report_lists.as_it_stands").to_owned(),
            _ if read.window.is_one_day() => app.tf("report.day", &[("day", first)]),
            ReportKind::ArrearsByAge => app.tf(
                "report.arrears_on_last",
                &[("first", first), ("last", last)],
            ),
            _ => {
                let count = (*last - *first).num_days() + 1;
                app.tf(
                    "report.days",
                    &[("first", first), ("last", last), ("count", &count)],
                )
            }
        };
        let mut head_lines = vec![
            Line::styled(format!(" {}", lang.t(title(read.kind))), theme.title()),
            Line::styled(format!(" {day}"), theme.dim()),
        ];
        let Some(shown) = rows_of(&read.report).map(|rows| rows.table(app, &read.window)) else {
            frame.render_widget(Paragraph::new(head_lines), head);
            let refused = Line::styled(
                format!(" {}", lang.t("report.not_permitted")),
                theme.error(),
            );
            frame.render_widget(Paragraph::new(refused), table);
            return;
        };
        // The rows that fit whole from the first in sight, above the total's lines, which
        // stay; counted as rows, whatever lines they take.
        let heights = shown.heights();
        let room = lines_for_rows(table.height, shown.total.len());
        let first = self.first_row.min(first_of_the_end(&heights, room));
        let in_sight = rows_in_sight(&heights, first, room);
        if in_sight.len() < heights.len() {
            let position = app.tf(
                "report.rows_in_sight",
                &[
                    ("from", &(in_sight.start + 1)),
                    ("to", &in_sight.end),
                    ("total", &heights.len()),
                ],
            );
            head_lines.push(Line::styled(format!(" {position}"), theme.dim()));
        }
        frame.render_widget(Paragraph::new(head_lines), head);
        let total = shown.total.len();
        let lines: Vec<Vec<String>> = shown
            .rows
            .into_iter()
            .skip(in_sight.start)
            .take(in_sight.len())
            .flatten()
            .chain(shown.total)
            .collect();
        Table::new(shown.columns, &lines, "")
            .total(total, theme.title())
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

    /// Keys to the form of the days while it is open; else ↑ / ↓ scroll the report by a row.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let Some(form) = &mut self.days_form else {
            match key.code {
                // From the row in sight: a report scrolled down on a smaller screen may be
                // further than this one's last.
                KeyCode::Up => {
                    let shown = self.first_row.min(self.last_first_row(hub.app));
                    self.first_row = shown.saturating_sub(1);
                }
                KeyCode::Down => self.scroll(self.first_row + 1, hub.app),
                _ => return false,
            }
            return true;
        };
        match hub.pane_form_key(form, key, command) {
            None => self.days_form = None,
            Some(FormKey::Unhandled) => return false,
            Some(FormKey::Taken) => {}
            Some(FormKey::Submit) => self.submit_days(hub),
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        if self.days_form.is_some() {
            return false;
        }
        let today = today(hub);
        let days = matches!(
            command,
            Command::PageUp
                | Command::PageDown
                | Command::Search
                | Command::ThisMonth
                | Command::LastMonth
        );
        if days && !self.of_days() {
            return false;
        }
        match command {
            Command::NextField => self.step_kind(hub),
            Command::PageUp => self.step(false, hub),
            Command::PageDown => self.step(true, hub),
            Command::Search => {
                let days = self.days.unwrap_or_else(|| ReportDays::day(today));
                self.days_form = Some(days_form(days));
            }
            Command::ThisMonth => self.show_days(ReportDays::month(today, 0), hub),
            Command::LastMonth => self.show_days(ReportDays::month(today, 1), hub),
            Command::Refresh => self.load(hub),
            Command::First => self.first_row = 0,
            Command::Last => self.scroll(usize::MAX, hub.app),
            // Each `e` writes a file: one pressed again before the last was kept writes
            // nothing (s44-e, by hand: six presses, six files).
            Command::Export if hub.asking(|request| request.of::<KeepReport>().is_some()) => {}
            Command::Export => match &self.shown {
                Some(read) if read.report != Report::NotPermitted => hub.send(KeepReport {
                    stem: report_stem(read),
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
            // Read again (F5), it stays where it was; another report or days, from the top.
            let same = |shown: &ReportRead| shown.kind == read.kind && shown.window == read.window;
            if !self.shown.as_ref().is_some_and(same) {
                self.first_row = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_in_sight_are_whole_rows_and_at_least_one() {
        // A shift with its reversal line (2), one without (1), another with (2).
        let heights = [2, 1, 2];
        assert_eq!(rows_in_sight(&heights, 0, 3), 0..2, "the third not cut");
        assert_eq!(rows_in_sight(&heights, 1, 3), 1..3);
        assert_eq!(rows_in_sight(&heights, 0, 5), 0..3);
        assert_eq!(rows_in_sight(&heights, 0, 1), 0..1, "the first, cut");
        assert_eq!(rows_in_sight(&[], 0, 3), 0..0);
        assert_eq!(first_of_the_end(&heights, 3), 1);
        assert_eq!(first_of_the_end(&heights, 2), 2);
        assert_eq!(first_of_the_end(&heights, 1), 2, "the last, cut");
        assert_eq!(first_of_the_end(&heights, 9), 0);
        assert_eq!(first_of_the_end(&[], 3), 0);
    }
}
