//! The supervisor's daily reports (`:reports`): a report of a day, the next report and the
//! previous day by keys, written as CSV; refused to a clerk before it opens.

use crate::support::*;
use meterdesk::db::readings::AbnormalReading;
use meterdesk::db::shifts::{MethodTakings, Report, ReportKind, ShiftRow, TakingsRow, Window};
use meterdesk::domain::money::Money;
use meterdesk::screens::receipt::KeepReport;
use meterdesk::screens::reports::{LoadReport, ReportRead, ReportsScreen, report_csv};

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()
}

fn window() -> Window {
    Window::of_day(day(), FixedOffset::east_opt(0).unwrap())
}

fn at(hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, hour, 5, 0).unwrap()
}

fn takings(operator: &str, method: &str, cents: i64, payments: i64) -> TakingsRow {
    TakingsRow {
        day: day(),
        operator: operator.into(),
        takings: MethodTakings {
            method: method.into(),
            takings: Money::from_cents(cents),
            refunds: Money::ZERO,
            payments,
            refund_count: 0,
        },
    }
}

/// `:reports` as a supervisor: the first report asked for today.
fn reports(lang: Lang) -> (App, Vec<(u64, Request)>) {
    let mut app = signed_in(lang);
    let session = app.session.as_mut().unwrap();
    session.roles = vec!["supervisor".into()];
    session.permissions.push("reports.view".into());
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "reports");
    let sent = press(&mut app, KeyCode::Enter);
    let asked = sent[0].1.of::<LoadReport>().expect("the report is read");
    assert_eq!(asked.kind, ReportKind::Takings);
    (app, sent)
}

#[test]
fn takings_of_the_day_then_the_shifts_of_the_previous_day_written_as_csv() {
    let (mut app, sent) = reports(Lang::En);
    let read = ReportRead {
        kind: ReportKind::Takings,
        window: window(),
        report: Report::Takings(vec![
            takings("anna", "cash", 1_303_550, 41),
            takings("anna", "wechat_pay", 250_000, 9),
            takings("ben", "cash", 8_000, 1),
        ]),
    };
    answer(&mut app, &sent, Reply::screen(read.clone()));
    assert!(app.screen.is::<ReportsScreen>());
    insta::assert_snapshot!("reports_takings_en", render(&app));

    let kept = press(&mut app, KeyCode::Char('e'));
    let report = kept[0].1.of::<KeepReport>().expect("written");
    assert_eq!(report.stem, "report-takings-2026-12-03");
    assert_eq!(report.csv, report_csv(&read));
    assert_eq!(
        report.csv.lines().nth(1),
        Some("2026-12-03,anna,cash,41,13035.50,0.00,0")
    );

    let next = press(&mut app, KeyCode::Tab);
    assert_eq!(
        next[0].1.of::<LoadReport>().unwrap().kind,
        ReportKind::Shifts
    );
}

/// PgDn pages to the day after, but not past today: there is no report of a day to come
/// (session 31, by hand: PgDn on today's report read tomorrow's, empty takings and all).
#[test]
fn the_day_after_today_is_not_read() {
    let (mut app, sent) = reports(Lang::En);
    let today = sent[0].1.of::<LoadReport>().unwrap().window.day;
    let back = press(&mut app, KeyCode::PageUp);
    assert_eq!(
        back[0].1.of::<LoadReport>().unwrap().window.day,
        today.pred_opt().unwrap()
    );
    let again = press(&mut app, KeyCode::PageDown);
    assert_eq!(again[0].1.of::<LoadReport>().unwrap().window.day, today);
    let past = press(&mut app, KeyCode::PageDown);
    assert!(past.is_empty(), "{past:?}");
    let message = app.message.clone().expect("told why");
    assert_eq!(
        message.text,
        "Today's report is the last: there is no report of a day to come."
    );
    // The day before is read, and the message about today goes.
    assert!(!press(&mut app, KeyCode::PageUp).is_empty());
    assert_eq!(app.message, None);
}

/// PgUp pressed twice in a burst sends two reads; the older one's answer may come last (two
/// connections). It is dropped, so the screen shows the day it was last asked for (session 33,
/// by hand: six PgUp, then six PgDn, ended on "2026-12-03" while the screen's day was today,
/// and the next PgUp went from today).
#[test]
fn a_days_report_answered_after_the_next_days_is_not_shown() {
    let (mut app, sent) = reports(Lang::En);
    let today = sent[0].1.of::<LoadReport>().unwrap().window.day;
    let read_of = |request: &(u64, Request)| {
        let asked = request.1.of::<LoadReport>().unwrap();
        ReportRead {
            kind: asked.kind,
            window: asked.window.clone(),
            report: Report::Takings(Vec::new()),
        }
    };
    let yesterday = press(&mut app, KeyCode::PageUp);
    let day_before = press(&mut app, KeyCode::PageUp);
    answer(
        &mut app,
        &day_before,
        Reply::screen(read_of(&day_before[0])),
    );
    answer(&mut app, &yesterday, Reply::screen(read_of(&yesterday[0])));
    let shown = today - chrono::Days::new(2);
    assert!(
        render(&app).contains(&format!("Day {shown}")),
        "{}",
        render(&app)
    );
}

#[test]
fn the_shifts_of_the_day_in_chinese() {
    let screen = shifts_of_the_day(Lang::Zh);
    insta::assert_snapshot!("reports_shifts_zh", screen);
}

/// In English at 80 columns the times' headings are whole (session 33, by hand: "Open… Clos…").
#[test]
fn the_shifts_of_the_day_in_english_name_their_times_whole() {
    let screen = shifts_of_the_day(Lang::En);
    let headings = screen.lines().nth(4).unwrap_or_default().to_owned();
    assert!(
        headings.contains(" Opened ") && headings.contains(" Closed "),
        "{screen}"
    );
}

/// The shifts report of a day with an open and a closed shift, rendered at 80×24.
fn shifts_of_the_day(lang: Lang) -> String {
    let (mut app, sent) = reports(lang);
    let shift = |id, operator: &str, closed: Option<u32>, cents| ShiftRow {
        shift_id: id,
        operator: operator.into(),
        opened_at: at(8),
        closed_at: closed.map(at),
        receipts: 12,
        takings: Money::from_cents(cents),
        refunds: Money::ZERO,
    };
    let read = ReportRead {
        kind: ReportKind::Shifts,
        window: window(),
        report: Report::Shifts(vec![
            shift(17, "anna", Some(17), 1_553_550),
            shift(18, "ben", None, 8_000),
        ]),
    };
    answer(&mut app, &sent, Reply::screen(read));
    render(&app)
}

#[test]
fn a_clerk_is_refused_the_reports_before_they_open() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "reports");
    let sent = press(&mut app, KeyCode::Enter);
    assert!(sent.is_empty(), "{sent:?}");
    assert!(!app.screen.is::<ReportsScreen>());
    assert!(render(&app).contains("The daily reports need"));
}

fn low(customer_no: i64, name: &str, balance: &str) -> meterdesk::db::readings::LowBalance {
    meterdesk::db::readings::LowBalance {
        customer_no,
        name: name.into(),
        balance: balance.parse().unwrap(),
        threshold: "10.00".parse().unwrap(),
    }
}

/// Tab through to the readings' lists: the abnormal consumptions of the day and the low
/// balances as they stand, each written as CSV; a list longer than the screen keeps its total
/// row in sight.
#[test]
fn abnormal_consumptions_and_low_balances_written_as_csv() {
    let (mut app, sent) = reports(Lang::En);
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![]),
        }),
    );
    for _ in 0..3 {
        press(&mut app, KeyCode::Tab);
    }
    let sent = press(&mut app, KeyCode::Tab);
    assert_eq!(
        sent[0].1.of::<LoadReport>().unwrap().kind,
        ReportKind::Abnormal
    );
    let abnormal = ReportRead {
        kind: ReportKind::Abnormal,
        window: window(),
        report: Report::Abnormal(vec![AbnormalReading {
            customer_no: 10_000_017,
            name: "张伟".into(),
            meter_no: "M02000001".into(),
            read_on: day(),
            electronic: "1480.5".parse().unwrap(),
            consumption: "96.25".parse().unwrap(),
        }]),
    };
    answer(&mut app, &sent, Reply::screen(abnormal.clone()));
    insta::assert_snapshot!("reports_abnormal_en", render(&app));
    let kept = press(&mut app, KeyCode::Char('e'));
    let report = kept[0].1.of::<KeepReport>().expect("written");
    assert_eq!(report.stem, "report-abnormal-2026-12-03");
    assert_eq!(
        report.csv.lines().nth(1),
        Some("2026-12-03,10000017,张伟,M02000001,2026-12-03,1480.500,96.250")
    );

    let sent = press(&mut app, KeyCode::Tab);
    assert_eq!(
        sent[0].1.of::<LoadReport>().unwrap().kind,
        ReportKind::LowBalances
    );
    let many: Vec<_> = (0..40)
        .map(|n| low(10_000_100 + n, "Li Na", &format!("-{n}.50")))
        .collect();
    let lows = ReportRead {
        kind: ReportKind::LowBalances,
        window: window(),
        report: Report::LowBalances(many),
    };
    answer(&mut app, &sent, Reply::screen(lows.clone()));
    let screen = render(&app);
    assert!(screen.contains("Total    40 customer(s)"), "{screen}");
    assert!(screen.contains("As it stands now"), "{screen}");
    let kept = press(&mut app, KeyCode::Char('e'));
    let report = kept[0].1.of::<KeepReport>().expect("written");
    assert_eq!(
        report.csv.lines().count(),
        41,
        "a header and every customer"
    );
    // Round: back to the first report.
    let sent = press(&mut app, KeyCode::Tab);
    assert_eq!(
        sent[0].1.of::<LoadReport>().unwrap().kind,
        ReportKind::Takings
    );
}

#[test]
fn low_balances_in_chinese() {
    let (mut app, _) = reports(Lang::Zh);
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    let sent = press(&mut app, KeyCode::Tab);
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::LowBalances,
            window: window(),
            report: Report::LowBalances(vec![
                low(10_000_017, "张伟", "-12.30"),
                low(10_000_034, "Zhang Wei", "3.00"),
            ]),
        }),
    );
    insta::assert_snapshot!("reports_low_balances_zh", render(&app));
}

/// A report the database refuses for want of a permission (taken since the sign-in) is said
/// where its rows would be, and the desk reads the operator's permissions again; a report read
/// does not.
#[test]
fn a_report_refused_for_want_of_a_permission_reads_the_permissions_again() {
    let (mut app, sent) = reports(Lang::En);
    let read = |report| {
        Reply::screen(ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report,
        })
    };
    let next = answer(&mut app, &sent, read(Report::Takings(vec![])));
    assert!(!rereads_permissions(&next), "{next:?}");
    let sent = press(&mut app, KeyCode::F(5));
    let next = answer(&mut app, &sent, read(Report::NotPermitted));
    assert!(rereads_permissions(&next), "{next:?}");
    assert!(
        render(&app).contains("The daily reports need the permission"),
        "{}",
        render(&app)
    );
}
