//! The supervisor's daily reports (`:reports`, `reports.view`): takings by operator and
//! method, the shifts of the day with the office's total, water sold by scheme and nature,
//! arrears by age (from the bills' due dates), the abnormal consumptions read on the day and
//! the low-balance list as it stands. Tab changes the report, PgUp / PgDn the day, `e` writes it as
//! CSV in the receipts directory. The database refuses them to whoever lacks the permission
//! (sql/V21, and `md_require` for the two lists), whatever the screen offers.

use chrono::{NaiveDate, Utc};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::legend::{BACK, framed, usual};
use super::receipt::{KeepReport, ReceiptKept};
use super::reference::common::note;
use crate::app::requests::Read;
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::shifts::{self, Report, ReportKind, Window};
use crate::domain::csv;
use crate::domain::money::{Money, Volume};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, header_of, line_of, widths_for};
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
    Column::new("report.col_opened", 5, 0, false),
    Column::new("report.col_closed", 5, 0, false),
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

/// `rows` under `columns`, each as its `cells` give it, then the `total` row.
fn shown<R>(
    columns: &'static [Column],
    rows: &[R],
    cells: impl Fn(&R) -> Vec<String>,
    total: Vec<String>,
) -> (&'static [Column], Vec<Vec<String>>) {
    let mut lines: Vec<Vec<String>> = rows.iter().map(cells).collect();
    lines.push(total);
    (columns, lines)
}

/// A report's columns, its rows as shown and its total row (in `lang`, times in the desk's
/// zone); None when it was refused.
fn table(read: &ReportRead, app: &App) -> Option<(&'static [Column], Vec<Vec<String>>)> {
    let lang = app.lang;
    let total = lang.t("report.total").to_owned();
    let time = |at: &chrono::DateTime<Utc>| local(at, app.zone)[11..].to_owned();
    Some(match &read.report {
        Report::NotPermitted => return None,
        Report::Takings(rows) => {
            let sum = |f: fn(&shifts::TakingsRow) -> Money| rows.iter().map(f).sum::<Money>();
            let payments: i64 = rows.iter().map(|r| r.takings.payments).sum();
            shown(
                &TAKINGS,
                rows,
                |row| {
                    vec![
                        inert(&row.operator).into_owned(),
                        coded(lang, "payment_method.", &row.takings.method),
                        row.takings.payments.to_string(),
                        row.takings.takings.to_string(),
                        row.takings.refunds.to_string(),
                    ]
                },
                vec![
                    total,
                    String::new(),
                    payments.to_string(),
                    sum(|r| r.takings.takings).to_string(),
                    sum(|r| r.takings.refunds).to_string(),
                ],
            )
        }
        Report::Shifts(rows) => shown(
            &SHIFTS,
            rows,
            |row| {
                vec![
                    row.shift_id.to_string(),
                    inert(&row.operator).into_owned(),
                    time(&row.opened_at),
                    row.closed_at.as_ref().map(time).unwrap_or_default(),
                    row.receipts.to_string(),
                    row.takings.to_string(),
                    row.refunds.to_string(),
                ]
            },
            vec![
                String::new(),
                total,
                String::new(),
                String::new(),
                rows.iter().map(|r| r.receipts).sum::<i64>().to_string(),
                rows.iter().map(|r| r.takings).sum::<Money>().to_string(),
                rows.iter().map(|r| r.refunds).sum::<Money>().to_string(),
            ],
        ),
        Report::Water(rows) => shown(
            &WATER,
            rows,
            |row| {
                vec![
                    inert(&row.scheme).into_owned(),
                    coded(lang, "details.nature_", &row.nature),
                    row.volume.to_string(),
                    row.amount.to_string(),
                ]
            },
            vec![
                total,
                String::new(),
                rows.iter().map(|r| r.volume).sum::<Volume>().to_string(),
                rows.iter().map(|r| r.amount).sum::<Money>().to_string(),
            ],
        ),
        Report::ArrearsByAge(rows) => shown(
            &ARREARS,
            rows,
            |row| {
                vec![
                    row.age.clone(),
                    row.bills.to_string(),
                    row.customers.to_string(),
                    row.amount.to_string(),
                ]
            },
            vec![
                total,
                rows.iter().map(|r| r.bills).sum::<i64>().to_string(),
                String::new(),
                rows.iter().map(|r| r.amount).sum::<Money>().to_string(),
            ],
        ),
        Report::Abnormal(rows) => shown(
            &ABNORMAL,
            rows,
            |row| {
                vec![
                    format!("{:08}", row.customer_no),
                    inert(&row.name).into_owned(),
                    inert(&row.meter_no).into_owned(),
                    row.electronic.to_string(),
                    row.consumption.to_string(),
                ]
            },
            vec![
                total,
                lang.tf("report_lists.readings", &[("count", &rows.len())]),
                String::new(),
                String::new(),
                rows.iter()
                    .map(|r| r.consumption)
                    .sum::<Volume>()
                    .to_string(),
            ],
        ),
        Report::LowBalances(rows) => shown(
            &LOW_BALANCES,
            rows,
            |row| {
                vec![
                    format!("{:08}", row.customer_no),
                    inert(&row.name).into_owned(),
                    row.balance.to_string(),
                    row.threshold.to_string(),
                ]
            },
            vec![
                total,
                lang.tf("report_lists.customers", &[("count", &rows.len())]),
                rows.iter().map(|r| r.balance).sum::<Money>().to_string(),
                String::new(),
            ],
        ),
    })
}

/// A CSV header of `names`, then each of `rows` as its `fields` give it.
fn table_csv<R>(names: &[&str], rows: &[R], fields: impl Fn(&R) -> Vec<String>) -> String {
    let mut out = csv::record(names);
    for row in rows {
        out.push_str(&csv::record(&fields(row)));
    }
    out
}

/// The report as CSV: a header of stable names, then its rows as stored (codes, UTC times).
pub fn report_csv(read: &ReportRead) -> String {
    let day = read.window.day.to_string();
    match &read.report {
        Report::NotPermitted => String::new(),
        Report::Takings(rows) => table_csv(
            &[
                "day",
                "operator",
                "method",
                "payments",
                "takings",
                "refunds",
                "refund_count",
            ],
            rows,
            |row| {
                let t = &row.takings;
                vec![
                    row.day.to_string(),
                    row.operator.clone(),
                    t.method.clone(),
                    t.payments.to_string(),
                    t.takings.to_string(),
                    t.refunds.to_string(),
                    t.refund_count.to_string(),
                ]
            },
        ),
        Report::Shifts(rows) => table_csv(
            &[
                "day",
                "shift",
                "operator",
                "opened_at",
                "closed_at",
                "receipts",
                "takings",
                "refunds",
            ],
            rows,
            |row| {
                vec![
                    day.clone(),
                    row.shift_id.to_string(),
                    row.operator.clone(),
                    row.opened_at.to_rfc3339(),
                    row.closed_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
                    row.receipts.to_string(),
                    row.takings.to_string(),
                    row.refunds.to_string(),
                ]
            },
        ),
        Report::Water(rows) => table_csv(
            &["day", "scheme", "nature", "volume_m3", "amount"],
            rows,
            |row| {
                vec![
                    day.clone(),
                    row.scheme.clone(),
                    row.nature.clone(),
                    row.volume.to_string(),
                    row.amount.to_string(),
                ]
            },
        ),
        Report::ArrearsByAge(rows) => table_csv(
            &["day", "age_days", "bills", "customers", "amount"],
            rows,
            |row| {
                vec![
                    day.clone(),
                    row.age.clone(),
                    row.bills.to_string(),
                    row.customers.to_string(),
                    row.amount.to_string(),
                ]
            },
        ),
        Report::Abnormal(rows) => table_csv(
            &[
                "day",
                "customer_no",
                "name",
                "meter_no",
                "read_on",
                "reading_m3",
                "consumption_m3",
            ],
            rows,
            |row| {
                vec![
                    day.clone(),
                    row.customer_no.to_string(),
                    row.name.clone(),
                    row.meter_no.clone(),
                    row.read_on.to_string(),
                    row.electronic.to_string(),
                    row.consumption.to_string(),
                ]
            },
        ),
        Report::LowBalances(rows) => table_csv(
            &["day", "customer_no", "name", "balance", "threshold"],
            rows,
            |row| {
                vec![
                    day.clone(),
                    row.customer_no.to_string(),
                    row.name.clone(),
                    row.balance.to_string(),
                    row.threshold.to_string(),
                ]
            },
        ),
    }
}

impl ReportsScreen {
    fn kind(&self) -> ReportKind {
        ReportKind::ALL[self.kind]
    }

    fn load(&mut self, hub: &mut Hub) {
        let zone = hub.app.zone;
        let day = *self
            .day
            .get_or_insert_with(|| Utc::now().with_timezone(&zone).date_naive());
        hub.send(LoadReport {
            kind: self.kind(),
            window: Window::of_day(day, zone),
        });
    }

    fn step_day(&mut self, days: i64, hub: &mut Hub) {
        self.day = self.day.map(|day| day + chrono::Duration::days(days));
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
        let Some(read) = &self.shown else {
            frame.render_widget(Paragraph::new(note(lang.t("report.loading"), theme)), area);
            return;
        };
        let [head, header, body] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(area);
        let day = match read.kind {
            ReportKind::LowBalances => app.t("report_lists.as_it_stands").to_owned(),
            _ => app.tf("report.day", &[("day", &read.window.day)]),
        };
        let head_lines = vec![
            Line::styled(format!(" {}", lang.t(title(read.kind))), theme.title()),
            Line::styled(format!(" {day}"), theme.dim()),
        ];
        frame.render_widget(Paragraph::new(head_lines), head);
        let Some((columns, rows)) = table(read, app) else {
            let refused = Line::styled(
                format!(" {}", lang.t("report.not_permitted")),
                theme.error(),
            );
            frame.render_widget(Paragraph::new(refused), header);
            return;
        };
        let widths = widths_for(columns, &rows, area.width);
        frame.render_widget(
            Paragraph::new(header_of(columns, &widths, lang, theme.header())),
            header,
        );
        // The rows that fit above the total row, which stays in sight (the CSV has them all).
        let (total, listed) = rows.split_last().expect("a report has its total row");
        let room = usize::from(body.height).saturating_sub(1);
        let lines: Vec<Line> = listed
            .iter()
            .take(room)
            .map(|cells| line_of(columns, cells, &widths, Style::new(), columns.len()))
            .chain([line_of(
                columns,
                total,
                &widths,
                theme.title(),
                columns.len(),
            )])
            .collect();
        frame.render_widget(Paragraph::new(lines), body);
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
            self.shown = Some(read.clone());
        } else if let Some(ReceiptKept(kept)) = reply.of::<ReceiptKept>() {
            let text = match kept {
                Ok(path) => hub
                    .app
                    .lang
                    .tf("report.exported", &[("path", &inert(path))]),
                Err(why) => hub
                    .app
                    .lang
                    .tf("report.not_exported", &[("why", &inert(why))]),
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
