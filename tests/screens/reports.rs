//! The supervisor's daily reports (`:reports`): a report of a day, the next report and the
//! previous day by keys, written as CSV; a range of days typed in a form or chosen as a month,
//! paged by its length; refused to a clerk before it opens.

use crate::support::*;
use chrono::{Datelike, Days, NaiveDate};
use meterdesk::db::readings::AbnormalReading;
use meterdesk::db::shifts::{
    ArrearsAge, MethodTakings, Report, ReportKind, ShiftRow, TakingsRow, Window,
};
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
        takings: figures(method, cents, payments),
    }
}

/// `cents` taken by `method` in `payments` payments, nothing paid out or reversed.
fn figures(method: &str, cents: i64, payments: i64) -> MethodTakings {
    MethodTakings {
        method: method.into(),
        takings: Money::from_cents(cents),
        refunds: Money::ZERO,
        payments,
        refund_count: 0,
        reversals: 0,
        reversed: Money::ZERO,
        refund_reversals: 0,
        refunds_reversed: Money::ZERO,
    }
}

/// Shift `id` of `operator`, opened at `opened`, closed at `closed` (if it is), its 12
/// receipts' takings `cents` (the shift's total: under no method).
fn shift_row(
    id: i64,
    operator: &str,
    opened: chrono::DateTime<Utc>,
    closed: Option<chrono::DateTime<Utc>>,
    cents: i64,
) -> ShiftRow {
    ShiftRow {
        shift_id: id,
        operator: operator.into(),
        opened_at: opened,
        closed_at: closed,
        receipts: 12,
        figures: figures("", cents, 12),
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
        Some("2026-12-03,anna,cash,41,13035.50,0.00,0,0.00,0,0.00,0")
    );

    let next = press(&mut app, KeyCode::Tab);
    assert_eq!(
        next[0].1.of::<LoadReport>().unwrap().kind,
        ReportKind::Shifts
    );
}

/// s39's walk: the supervisor's takings row read "现金 29 -63760.00": the six deposits of the
/// clerk they reversed (81 000.00) count against them, on their day (sql/V21), and nothing
/// said so. The row says the reversals it counts, beside the takings, whole at 80×24, in both
/// languages; the total too; the CSV keeps them.
#[test]
fn a_takings_row_says_the_reversals_it_counts() {
    for (lang, row_words) in [
        (
            Lang::Zh,
            ["supervisor", "现金", "29", "-63760.00", "-81000.00 ×6"],
        ),
        (
            Lang::En,
            ["supervisor", "Cash", "29", "-63760.00", "-81000.00 ×6"],
        ),
    ] {
        let (mut app, sent) = reports(lang);
        let read = ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![takings("anna", "cash", 8_100_000 + 23_450, 7), {
                let mut supervisor = takings("supervisor", "cash", -6_376_000, 29);
                supervisor.takings.reversals = 6;
                supervisor.takings.reversed = Money::from_cents(-8_100_000);
                supervisor
            }]),
        };
        answer(&mut app, &sent, Reply::screen(read.clone()));
        let screen = render_at(&app, (80, 24));
        let header = screen
            .lines()
            .find(|line| {
                line.contains(if lang == Lang::En {
                    "Reversed"
                } else {
                    "其中冲正"
                })
            })
            .unwrap_or_else(|| panic!("{lang:?}: a column for them: {screen}"));
        assert!(
            header.contains("Payments") || header.contains("笔数"),
            "{header}"
        );
        let row = screen
            .lines()
            .find(|line| line.contains("supervisor"))
            .unwrap_or_else(|| panic!("{lang:?}: {screen}"));
        for words in row_words {
            assert!(row.contains(words), "{lang:?} {words}: {row}");
        }
        let anna = screen.lines().find(|line| line.contains("anna")).unwrap();
        assert!(!anna.contains('×'), "{lang:?}: none reversed: {anna}");
        assert!(
            screen
                .lines()
                .any(|line| line.contains("17474.50") && line.contains("-81000.00 ×6")),
            "{lang:?}: the total says them too: {screen}"
        );
        let kept = press(&mut app, KeyCode::Char('e'));
        let report = kept[0].1.of::<KeepReport>().expect("written");
        assert!(
            report
                .csv
                .lines()
                .next()
                .unwrap()
                .ends_with(",reversed,reversals,refunds_reversed,refund_reversals"),
            "{}",
            report.csv
        );
        assert!(
            report
                .csv
                .contains("supervisor,cash,29,-63760.00,0.00,0,-81000.00,6,0.00,0"),
            "{}",
            report.csv
        );
    }
}

/// A refund reversed (only the owner can: a correction) takes its money out of the reverser's
/// refunds, which read less than they paid out, or negative, as a reversed deposit's did in the
/// takings. The row says it in its own "Reversed" beside the refunds, whole at 80×24 in both
/// languages, with the total; the column is there only when a row has one, so a report
/// without (every report a desk makes) is drawn as before; the CSV keeps them always, and a
/// range adds them up by operator and method.
#[test]
fn a_takings_row_says_the_refunds_it_counts_reversed() {
    for (lang, reversed_header) in [(Lang::Zh, "其中冲正"), (Lang::En, "Reversed")] {
        let (mut app, sent) = reports(lang);
        let mut boss = takings("supervisor", "cash", 2_000, 1);
        boss.takings.refund_reversals = 2;
        boss.takings.refunds_reversed = Money::from_cents(-12_000);
        boss.takings.refunds = Money::from_cents(-9_000);
        boss.takings.refund_count = 1;
        let mut anna = takings("anna", "cash", 50_000, 3);
        anna.takings.refunds = Money::from_cents(12_000);
        anna.takings.refund_count = 2;
        let read = ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![anna.clone(), boss.clone()]),
        };
        answer(&mut app, &sent, Reply::screen(read.clone()));
        let screen = render_at(&app, (80, 24));
        // A row as drawn, without the note on wide characters the backend adds.
        let drawn = |line: &str| -> String {
            let line = line.split("\" Hidden").next().unwrap_or(line);
            line.trim_matches('"').trim_end().to_owned()
        };
        let header = screen
            .lines()
            .find(|line| line.contains(reversed_header))
            .map(drawn)
            .unwrap_or_else(|| panic!("{lang:?}: {screen}"));
        assert_eq!(
            header.matches(reversed_header).count(),
            2,
            "{lang:?}: the takings' and the refunds': {header}"
        );
        assert!(
            header.ends_with(reversed_header),
            "{lang:?}: the refunds' last, beside them: {header}"
        );
        let row = screen
            .lines()
            .find(|line| line.contains("supervis"))
            .map(drawn)
            .unwrap_or_else(|| panic!("{lang:?}: {screen}"));
        assert!(
            row.ends_with("-90.00 -120.00 ×2"),
            "{lang:?}: the refunds, then what of them is reversals: {row}"
        );
        let total = screen
            .lines()
            .rev()
            .find(|line| line.contains('×'))
            .map(drawn)
            .unwrap();
        assert!(
            total.ends_with("30.00 -120.00 ×2"),
            "{lang:?}: the total says them too: {total}"
        );
        let anna_row = screen.lines().find(|line| line.contains("anna")).unwrap();
        assert!(!anna_row.contains('×'), "{lang:?}: {anna_row}");
        if lang == Lang::En {
            insta::assert_snapshot!("reports_takings_refunds_reversed_en", screen);
        }
        let kept = press(&mut app, KeyCode::Char('e'));
        let report = kept[0].1.of::<KeepReport>().expect("written");
        assert!(
            report
                .csv
                .contains("supervisor,cash,1,20.00,-90.00,1,0.00,0,-120.00,2"),
            "{}",
            report.csv
        );

        // Without one, the report has no column for them.
        let (mut app, sent) = reports(lang);
        let read = ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![anna.clone()]),
        };
        answer(&mut app, &sent, Reply::screen(read));
        let screen = render_at(&app, (80, 24));
        let header = screen
            .lines()
            .find(|line| line.contains(reversed_header))
            .unwrap_or_else(|| panic!("{lang:?}: {screen}"));
        assert_eq!(header.matches(reversed_header).count(), 1, "{header}");
    }
}

/// PgDn pages to the day after, but not past today: there is no report of a day to come
/// (session 31, by hand: PgDn on today's report read tomorrow's, empty takings and all).
#[test]
fn the_day_after_today_is_not_read() {
    let (mut app, sent) = reports(Lang::En);
    let today = sent[0].1.of::<LoadReport>().unwrap().window.first;
    let back = press(&mut app, KeyCode::PageUp);
    assert_eq!(
        back[0].1.of::<LoadReport>().unwrap().window.first,
        today.pred_opt().unwrap()
    );
    let again = press(&mut app, KeyCode::PageDown);
    assert_eq!(again[0].1.of::<LoadReport>().unwrap().window.first, today);
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
    let today = sent[0].1.of::<LoadReport>().unwrap().window.first;
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
    let read = ReportRead {
        kind: ReportKind::Shifts,
        window: window(),
        report: Report::Shifts(vec![
            shift_row(17, "anna", at(8), Some(at(17)), 1_553_550),
            shift_row(18, "ben", at(8), None, 8_000),
        ]),
    };
    answer(&mut app, &sent, Reply::screen(read));
    render(&app)
}

/// s42-d's "Found, not fixed" (s43-c, sql/V210): the shifts report's takings and refunds
/// counted the reversals the owner made in a shift's operator's name, unsaid, where the shift's
/// X/Z paper says them. A shift with reversals says them on a line under it, as the paper does
/// under its method — "Reversed" / "其中冲正", each one's money and count under the figure that
/// counts it —, and the total under the total; at 80×24 in both languages, of a day and of a
/// range (its times with their dates), every figure whole; the CSV writes them last. A report
/// without reversals is as it was (`reports_shifts_zh`).
#[test]
fn the_shifts_report_says_the_reversals_it_counts() {
    let boss = |opened, closed| {
        let mut boss = shift_row(19, "boss", opened, closed, -48_000);
        let f = &mut boss.figures;
        (f.reversals, f.reversed) = (2, Money::from_cents(-50_000));
        (f.refunds, f.refund_count) = (Money::from_cents(2_000), 2);
        (f.refund_reversals, f.refunds_reversed) = (1, Money::from_cents(-3_000));
        boss
    };
    for (lang, reversed, total) in [
        (Lang::En, "Reversed", "Total"),
        (Lang::Zh, "其中冲正", "合计"),
    ] {
        let (mut app, sent) = reports(lang);
        let next = press(&mut app, KeyCode::Tab);
        let read = ReportRead {
            kind: ReportKind::Shifts,
            window: window(),
            report: Report::Shifts(vec![
                shift_row(17, "anna", at(8), Some(at(17)), 1_553_550),
                boss(at(9), Some(at(18))),
            ]),
        };
        answer(&mut app, &sent, Reply::screen(read.clone()));
        answer(&mut app, &next, Reply::screen(read.clone()));
        let screen = render_at(&app, (80, 24));
        let lines: Vec<&str> = screen.lines().collect();
        let at_line = |words: &str| {
            lines
                .iter()
                .position(|line| line.contains(words))
                .unwrap_or_else(|| panic!("{lang:?} {words}: {screen}"))
        };
        let (anna, boss_row) = (at_line("anna"), at_line("boss"));
        let under = |line: usize| lines[line + 1];
        assert!(!under(anna).contains(reversed), "{lang:?}: {screen}");
        for words in [reversed, "-500.00 ×2", "-30.00 ×1"] {
            assert!(
                under(boss_row).contains(words),
                "{lang:?} {words}: {screen}"
            );
        }
        let total = at_line(total);
        assert!(lines[total].contains("15055.50"), "{lang:?}: {screen}");
        for words in [reversed, "-500.00 ×2", "-30.00 ×1"] {
            assert!(
                lines[total + 1].contains(words),
                "{lang:?} {words}: {screen}"
            );
        }
        insta::assert_snapshot!(format!("reports_shifts_reversed_{}", lang.code()), screen);
        let csv = report_csv(&read);
        assert_eq!(
            csv.lines().take(3).collect::<Vec<_>>(),
            [
                "day,shift,operator,opened_at,closed_at,receipts,takings,refunds,\
                 reversed,reversals,refunds_reversed,refund_reversals",
                "2026-12-03,17,anna,2026-12-03T08:05:00+00:00,2026-12-03T17:05:00+00:00,12,\
                 15535.50,0.00,0.00,0,0.00,0",
                "2026-12-03,19,boss,2026-12-03T09:05:00+00:00,2026-12-03T18:05:00+00:00,12,\
                 -480.00,20.00,-500.00,2,-30.00,1",
            ]
        );
    }

    // A range's shifts: the times with their dates, the reversals whole beside them.
    let (mut app, sent) = reports(Lang::En);
    let range = Window::of_days(
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        day(),
        FixedOffset::east_opt(0).unwrap(),
    );
    let read = ReportRead {
        kind: ReportKind::Shifts,
        window: range,
        report: Report::Shifts(vec![boss(
            Utc.with_ymd_and_hms(2026, 12, 1, 9, 5, 0).unwrap(),
            Some(at(18)),
        )]),
    };
    answer(&mut app, &sent, Reply::screen(read));
    let screen = render_at(&app, (80, 24));
    let lines: Vec<&str> = screen.lines().collect();
    let boss_row = lines
        .iter()
        .position(|line| line.contains("12-01 09:05 12-03 18:05"))
        .unwrap_or_else(|| panic!("{screen}"));
    for words in ["Reversed", "-500.00 ×2", "-30.00 ×1"] {
        assert!(lines[boss_row + 1].contains(words), "{words}: {screen}");
    }
}

/// s43-c's "Found, not fixed": "rows 1–18 of N" counted the lines drawn, a shift's reversal line
/// among them, so a day of 20 shifts, every other one with reversals, said "of 30", and ↓ moved
/// a line, showing a reversal line without its shift. It counts rows, and scrolls by a row:
/// the rows in sight are whole (a shift with its line under it), the position says them, in
/// both languages at 80×24; End shows the last shift with its line, "of 20".
#[test]
fn a_shifts_report_with_reversals_counts_its_rows_not_its_lines() {
    let shifts: Vec<ShiftRow> = (1..=20)
        .map(|n| {
            let mut row = shift_row(n, &format!("op{n:02}"), at(8), Some(at(17)), 10_000 * n);
            if n % 2 == 1 {
                (row.figures.reversals, row.figures.reversed) = (1, Money::from_cents(-500));
            }
            row
        })
        .collect();
    for (lang, first_rows, second_rows, last_rows) in [
        (
            Lang::En,
            "rows 1–10 of 20",
            "rows 2–11 of 20",
            "rows 11–20 of 20",
        ),
        (
            Lang::Zh,
            "第 1–10 行，共 20 行",
            "第 2–11 行，共 20 行",
            "第 11–20 行，共 20 行",
        ),
    ] {
        let (mut app, sent) = reports(lang);
        let next = press(&mut app, KeyCode::Tab);
        let read = ReportRead {
            kind: ReportKind::Shifts,
            window: window(),
            report: Report::Shifts(shifts.clone()),
        };
        answer(&mut app, &sent, Reply::screen(read.clone()));
        answer(&mut app, &next, Reply::screen(read));
        // The shifts in sight, each whole: the table's first line a shift's (line 5, under
        // the head and the columns), and each shift with reversals (the odd ones) followed by
        // its line, the others not.
        let in_sight = |screen: &str| {
            let lines: Vec<&str> = screen.lines().collect();
            assert!(lines[5].contains(" op"), "{lang:?}: {screen}");
            let mut shown = Vec::new();
            for (at, line) in lines.iter().enumerate() {
                let Some(name) = line.split(" op").nth(1) else {
                    continue;
                };
                let n: u32 = name[..2].parse().unwrap();
                let under = lines[at + 1].contains("-5.00 ×1");
                assert_eq!(under, n % 2 == 1, "{lang:?} op{n:02} whole: {screen}");
                shown.push(n);
            }
            shown
        };
        // What is in sight: its "rows" words and the shifts, each whole.
        let shows = |app: &App, rows: &str, shifts: std::ops::RangeInclusive<u32>| {
            let screen = render_at(app, (80, 24));
            assert!(screen.contains(rows), "{lang:?}: {screen}");
            assert_eq!(
                in_sight(&screen),
                shifts.collect::<Vec<_>>(),
                "{lang:?}: {screen}"
            );
            screen
        };
        shows(&app, first_rows, 1..=10);
        // ↓ moves a row: the first shift and its line leave together.
        press(&mut app, KeyCode::Down);
        shows(&app, second_rows, 2..=11);
        press(&mut app, KeyCode::End);
        let end = shows(&app, last_rows, 11..=20);
        insta::assert_snapshot!(
            format!("reports_shifts_rows_counted_end_{}", lang.code()),
            end
        );
    }
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
    answer(
        &mut app,
        &kept,
        Reply::screen(meterdesk::screens::receipt::ReceiptKept(Ok(
            "/srv/r/report-abnormal-2026-12-03.csv".into(),
        ))),
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
    assert!(screen.contains("Total    40 customers"), "{screen}");
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

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The days a read asked for, first and last.
fn days_asked(sent: &[(u64, Request)]) -> (NaiveDate, NaiveDate) {
    let window = &sent[0].1.of::<LoadReport>().expect("a report read").window;
    (window.first, window.last)
}

/// `:reports` answered with today's empty takings, then `/` and the two dates typed: the form
/// filled in, F2 not yet pressed. Also today, as the screen took it.
fn days_typed(lang: Lang, first: &str, last: &str) -> (App, NaiveDate) {
    let (mut app, sent) = reports(lang);
    let today = days_asked(&sent).0;
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::Takings,
            window: Window::of_day(today, FixedOffset::east_opt(0).unwrap()),
            report: Report::Takings(vec![]),
        }),
    );
    assert!(press(&mut app, KeyCode::Char('/')).is_empty());
    type_text(&mut app, first);
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, last);
    (app, today)
}

#[test]
fn the_form_of_the_days_in_chinese() {
    let (app, _) = days_typed(Lang::Zh, "2026-12-01", "2026-12-03");
    insta::assert_snapshot!("reports_days_form_zh", render(&app));
}

#[test]
fn the_form_of_the_days_in_english() {
    let (app, _) = days_typed(Lang::En, "2026-12-01", "2026-12-03");
    insta::assert_snapshot!("reports_days_form_en", render(&app));
}

/// Three days' takings as the database reads them (by day, operator and method).
fn three_days_takings() -> Vec<TakingsRow> {
    let on = |day: &str, operator: &str, method: &str, cents, payments| TakingsRow {
        day: date(day),
        ..takings(operator, method, cents, payments)
    };
    vec![
        on("2026-12-01", "anna", "cash", 100_000, 10),
        on("2026-12-02", "anna", "cash", 50_050, 4),
        on("2026-12-02", "ben", "wechat_pay", 20_000, 2),
        on("2026-12-03", "anna", "alipay", 3_000, 1),
        on("2026-12-03", "anna", "cash", 25_000, 3),
    ]
}

/// F2 on the form reads the range; its takings are shown by operator and method, the days
/// added up, in the day report's order (an operator's method first met on a later day is not
/// put after the other operators), under a heading that says the range.
fn a_ranges_takings(lang: Lang) -> (App, ReportRead) {
    let (mut app, _) = days_typed(lang, "2026-12-01", "2026-12-03");
    let sent = press(&mut app, KeyCode::F(2));
    assert_eq!(days_asked(&sent), (date("2026-12-01"), date("2026-12-03")));
    let asked = sent[0].1.of::<LoadReport>().unwrap();
    assert_eq!(asked.kind, ReportKind::Takings);
    let read = ReportRead {
        kind: ReportKind::Takings,
        window: asked.window.clone(),
        report: Report::Takings(three_days_takings()),
    };
    answer(&mut app, &sent, Reply::screen(read.clone()));
    (app, read)
}

#[test]
fn a_ranges_takings_in_chinese() {
    let (app, _) = a_ranges_takings(Lang::Zh);
    let screen = render(&app);
    insta::assert_snapshot!("reports_range_takings_zh", screen);
    // At 80 columns the legend names the range's keys and the export; the help names the rest.
    let legend = screen.lines().last().unwrap_or_default().to_owned();
    for key in ["/ 日期", "PgUp 向前", "PgDn 向后", "e 导出", "L 上月"] {
        assert!(legend.contains(key), "{key}: {legend}");
    }
    let mut app = app;
    press(&mut app, KeyCode::F(1));
    let help = render(&app);
    for key in ["M       本月", "L       上月", "F5      刷新"] {
        assert!(help.contains(key), "{key}: {help}");
    }
}

/// The range's takings in English, written as CSV: a file named by the range, each day's rows
/// as read; PgUp and PgDn step by the range's three days.
#[test]
fn a_ranges_takings_in_english_written_as_csv_and_paged_by_its_length() {
    let (mut app, read) = a_ranges_takings(Lang::En);
    let screen = render(&app);
    insta::assert_snapshot!("reports_range_takings_en", screen);
    assert!(
        screen.contains("Days 2026-12-01 to 2026-12-03 (3 days)"),
        "{screen}"
    );

    let kept = press(&mut app, KeyCode::Char('e'));
    let report = kept[0].1.of::<KeepReport>().expect("written");
    assert_eq!(report.stem, "report-takings-2026-12-01--2026-12-03");
    assert_eq!(report.csv, report_csv(&read));
    assert_eq!(
        report.csv.lines().collect::<Vec<_>>(),
        [
            "day,operator,method,payments,takings,refunds,refund_count,reversed,reversals,\
             refunds_reversed,refund_reversals",
            "2026-12-01,anna,cash,10,1000.00,0.00,0,0.00,0,0.00,0",
            "2026-12-02,anna,cash,4,500.50,0.00,0,0.00,0,0.00,0",
            "2026-12-02,ben,wechat_pay,2,200.00,0.00,0,0.00,0,0.00,0",
            "2026-12-03,anna,alipay,1,30.00,0.00,0,0.00,0,0.00,0",
            "2026-12-03,anna,cash,3,250.00,0.00,0,0.00,0,0.00,0",
        ]
    );

    let before = press(&mut app, KeyCode::PageUp);
    assert_eq!(
        days_asked(&before),
        (date("2026-11-28"), date("2026-11-30"))
    );
    let after = press(&mut app, KeyCode::PageDown);
    assert_eq!(days_asked(&after), (date("2026-12-01"), date("2026-12-03")));
}

/// The other reports of a range: the shifts with their dates, water sold over the range as
/// one CSV, the arrears as they stood on its last day.
#[test]
fn a_ranges_shifts_water_and_arrears() {
    let (mut app, _) = a_ranges_takings(Lang::En);
    let sent = press(&mut app, KeyCode::Tab);
    let window = sent[0].1.of::<LoadReport>().unwrap().window.clone();
    assert_eq!(
        (window.first, window.last),
        (date("2026-12-01"), date("2026-12-03"))
    );
    let shift = shift_row(
        17,
        "anna",
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 5, 0).unwrap(),
        Some(at(17)),
        1_553_550,
    );
    let shifts = ReportRead {
        kind: ReportKind::Shifts,
        window: window.clone(),
        report: Report::Shifts(vec![shift]),
    };
    answer(&mut app, &sent, Reply::screen(shifts.clone()));
    let screen = render(&app);
    assert!(screen.contains("12-01 08:05 12-03 17:05"), "{screen}");
    assert_eq!(
        report_csv(&shifts).lines().nth(1),
        Some(
            "2026-12-01--2026-12-03,17,anna,2026-12-01T08:05:00+00:00,\
             2026-12-03T17:05:00+00:00,12,15535.50,0.00,0.00,0,0.00,0"
        )
    );

    press(&mut app, KeyCode::Tab);
    let sent = press(&mut app, KeyCode::Tab);
    let asked = sent[0].1.of::<LoadReport>().unwrap();
    assert_eq!(asked.kind, ReportKind::ArrearsByAge);
    assert_eq!(asked.window, window);
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::ArrearsByAge,
            window: window.clone(),
            report: Report::ArrearsByAge(vec![]),
        }),
    );
    let screen = render(&app);
    assert!(
        screen.contains("As of 2026-12-03, the last day of 2026-12-01 to 2026-12-03"),
        "{screen}"
    );
}

/// A range that ends before it starts, reaches past today or is longer than a leap year is
/// refused on F2, said on the message line and beside its field; the form stays, as typed.
#[test]
fn a_bad_range_is_refused_and_the_form_kept() {
    let (mut app, _) = days_typed(Lang::En, "2026-12-03", "2026-12-01");
    assert!(press(&mut app, KeyCode::F(2)).is_empty());
    let said = app.message.clone().expect("told why").text;
    assert_eq!(said, "To date: the range ends before it starts");
    let screen = render(&app);
    assert!(
        screen.contains("2026-12-03") && screen.contains("2026-12-01"),
        "{screen}"
    );
    assert!(screen.contains("Reports › Dates"), "{screen}");

    let (mut app, today) = days_typed(Lang::En, "2026-12-01", "");
    let tomorrow = today + Days::new(1);
    type_text(&mut app, &tomorrow.to_string());
    assert!(press(&mut app, KeyCode::F(2)).is_empty());
    let said = app.message.clone().expect("told why").text;
    assert_eq!(
        said,
        format!("To date: after today ({today}): there is no report of a day to come")
    );

    let year_and_a_day = today - Days::new(366);
    let (mut app, _) = days_typed(Lang::Zh, &year_and_a_day.to_string(), &today.to_string());
    assert!(press(&mut app, KeyCode::F(2)).is_empty());
    let said = app.message.clone().expect("told why").text;
    assert_eq!(said, "截止日期：超过 366 天：最多一年");
    // One day less is a leap year's: read.
    press(&mut app, KeyCode::BackTab);
    type_text(&mut app, &(year_and_a_day + Days::new(1)).to_string());
    let sent = press(&mut app, KeyCode::F(2));
    assert_eq!(days_asked(&sent), (year_and_a_day + Days::new(1), today));
}

/// `L` reads last month and `M` this month, up to today; PgUp and PgDn then move a calendar
/// month, and not past today. A range of days ending today is the last too.
#[test]
fn months_by_one_key_paged_by_months_and_not_past_today() {
    let (mut app, sent) = reports(Lang::En);
    let today = days_asked(&sent).0;
    let this_month = today - Days::new(u64::from(today.day0()));
    let last_month = this_month
        .checked_sub_months(chrono::Months::new(1))
        .unwrap();
    let end_of =
        |first: NaiveDate| first.checked_add_months(chrono::Months::new(1)).unwrap() - Days::new(1);
    let sent = press(&mut app, KeyCode::Char('L'));
    assert_eq!(days_asked(&sent), (last_month, end_of(last_month)));
    let sent = press(&mut app, KeyCode::PageUp);
    let before = last_month
        .checked_sub_months(chrono::Months::new(1))
        .unwrap();
    assert_eq!(days_asked(&sent), (before, end_of(before)));
    let sent = press(&mut app, KeyCode::Char('M'));
    assert_eq!(days_asked(&sent), (this_month, today));
    assert!(press(&mut app, KeyCode::PageDown).is_empty());
    assert_eq!(
        app.message.clone().map(|message| message.text).as_deref(),
        Some("Today's report is the last: there is no report of a day to come.")
    );
    let sent = press(&mut app, KeyCode::PageUp);
    assert_eq!(days_asked(&sent), (last_month, end_of(last_month)));
    let sent = press(&mut app, KeyCode::PageDown);
    assert_eq!(days_asked(&sent), (this_month, today));

    let (mut app, today) = days_typed(
        Lang::En,
        &(today - Days::new(5)).to_string(),
        &(today - Days::new(3)).to_string(),
    );
    press(&mut app, KeyCode::F(2));
    let sent = press(&mut app, KeyCode::PageDown);
    assert_eq!(days_asked(&sent), (today - Days::new(2), today));
    assert!(press(&mut app, KeyCode::PageDown).is_empty());
}

/// A busy day's takings, in the order the database reads them: twelve operators by three
/// methods, 36 rows, more than the 16 that fit at 80×24 above the total.
fn busy_takings() -> Vec<TakingsRow> {
    let methods = ["alipay", "cash", "wechat_pay"];
    (1..=12)
        .flat_map(|operator| {
            methods.map(|method| {
                takings(
                    &format!("clerk{operator:02}"),
                    method,
                    i64::from(operator) * 10_000,
                    1,
                )
            })
        })
        .collect()
}

/// Those takings as the report of 2026-12-03, typed in the form: a fixed day, whatever today
/// is.
fn a_busy_days_takings(lang: Lang) -> App {
    let (mut app, _) = days_typed(lang, "2026-12-03", "2026-12-03");
    let sent = press(&mut app, KeyCode::F(2));
    let read = ReportRead {
        kind: ReportKind::Takings,
        window: sent[0].1.of::<LoadReport>().unwrap().window.clone(),
        report: Report::Takings(busy_takings()),
    };
    answer(&mut app, &sent, Reply::screen(read));
    app
}

/// ↓ a row at a time to the middle, End to the last row: the position is said above the
/// table, the total row stays in sight under the rows (session 34: only the first 16 rows of a
/// longer report could be seen, the rest only in the CSV).
fn a_long_report_scrolled(lang: Lang) -> (String, String, String) {
    let mut app = a_busy_days_takings(lang);
    let top = render(&app);
    for _ in 0..10 {
        assert!(press(&mut app, KeyCode::Down).is_empty());
    }
    let middle = render(&app);
    press(&mut app, KeyCode::End);
    let end = render(&app);
    // Down past the end does not pile up: one Up moves at once.
    press(&mut app, KeyCode::Down);
    assert_eq!(render(&app), end);
    press(&mut app, KeyCode::Up);
    assert_ne!(render(&app), end);
    press(&mut app, KeyCode::Home);
    assert_eq!(render(&app), top);
    (top, middle, end)
}

#[test]
fn a_long_report_scrolls_in_english() {
    let (top, middle, end) = a_long_report_scrolled(Lang::En);
    assert!(top.contains("rows 1–16 of 36"), "{top}");
    insta::assert_snapshot!("reports_scrolled_middle_en", middle);
    insta::assert_snapshot!("reports_scrolled_end_en", end);
    for screen in [&top, &middle, &end] {
        assert!(
            screen.contains("Total                              36"),
            "{screen}"
        );
    }
    assert!(middle.contains("rows 11–26 of 36"), "{middle}");
    assert!(end.contains("rows 21–36 of 36"), "{end}");
    let last_row = end.lines().nth(20).unwrap_or_default();
    assert!(
        last_row.contains("clerk12") && last_row.contains("WeChat Pay"),
        "{end}"
    );
}

#[test]
fn a_long_report_scrolls_in_chinese() {
    let (_, middle, end) = a_long_report_scrolled(Lang::Zh);
    insta::assert_snapshot!("reports_scrolled_middle_zh", middle);
    insta::assert_snapshot!("reports_scrolled_end_zh", end);
    assert!(middle.contains("第 11–26 行，共 36 行"), "{middle}");
}

/// The help names the keys that scroll; at 80 columns the legend still ends at the export.
#[test]
fn the_help_names_the_keys_that_scroll() {
    let mut app = a_busy_days_takings(Lang::En);
    let legend = render(&app).lines().last().unwrap_or_default().to_owned();
    assert!(legend.contains("e Export"), "{legend}");
    press(&mut app, KeyCode::F(1));
    let help = render(&app);
    for key in ["Home    First", "End     Last"] {
        assert!(help.contains(key), "{key}: {help}");
    }
}

/// A report scrolled down is shown from its first row once another report or other days are
/// read; read again (F5), it stays where it was.
#[test]
fn another_report_or_other_days_are_shown_from_the_top() {
    let mut app = a_busy_days_takings(Lang::En);
    let scrolled_down = |app: &mut App| {
        press(app, KeyCode::End);
        assert!(render(app).contains("rows 21–36 of 36"), "{}", render(app));
    };
    let answered_alike = |app: &mut App, sent: &[(u64, Request)]| {
        let asked = sent[0].1.of::<LoadReport>().unwrap();
        let rows = (0..40)
            .map(|n| low(10_000_100 + n, "Li Na", &format!("-{n}.50")))
            .collect();
        let report = match asked.kind {
            ReportKind::LowBalances => Report::LowBalances(rows),
            _ => Report::Takings(busy_takings()),
        };
        let read = ReportRead {
            kind: asked.kind,
            window: asked.window.clone(),
            report,
        };
        answer(app, sent, Reply::screen(read));
        render(app)
    };

    scrolled_down(&mut app);
    let again = press(&mut app, KeyCode::F(5));
    let screen = answered_alike(&mut app, &again);
    assert!(screen.contains("rows 21–36 of 36"), "{screen}");

    let before = press(&mut app, KeyCode::PageUp);
    let screen = answered_alike(&mut app, &before);
    assert!(screen.contains("rows 1–16 of 36"), "{screen}");

    scrolled_down(&mut app);
    let month = press(&mut app, KeyCode::Char('M'));
    let screen = answered_alike(&mut app, &month);
    assert!(screen.contains("rows 1–16 of 36"), "{screen}");

    scrolled_down(&mut app);
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    let lows = press(&mut app, KeyCode::Tab);
    let screen = answered_alike(&mut app, &lows);
    assert!(screen.contains("rows 1–16 of 40"), "{screen}");
}

/// Scrolled to the end, then on a taller terminal where every row fits: no position, and ↑
/// moves from the row in sight (the first), not from where the smaller screen had it.
#[test]
fn a_report_that_fits_a_taller_screen_scrolls_up_from_what_it_shows() {
    let mut app = a_busy_days_takings(Lang::En);
    press(&mut app, KeyCode::End);
    update(&mut app, Msg::Resize(80, 50));
    let tall = render_at(&app, (80, 50));
    assert!(!tall.contains("rows "), "{tall}");
    assert!(tall.contains("clerk01"), "{tall}");
    press(&mut app, KeyCode::Up);
    update(&mut app, Msg::Resize(80, 24));
    let screen = render(&app);
    assert!(screen.contains("rows 1–16 of 36"), "{screen}");
}

/// s42-c: the arrears by age counted unpaid bills only, so a card meter's customer owing water
/// a meter loaded unpaid (sql/V163) owed nothing in it. The card debts have a column of their
/// own beside the bills (the amount is both, the customers those owing either) and their total;
/// the CSV writes them last, the columns of before in their places. Whole at 80×24 in both
/// languages.
#[test]
fn the_arrears_by_age_count_the_card_debts_apart_from_the_bills() {
    let age = |age: &str, bills, card_debts, customers, cents| ArrearsAge {
        age: age.into(),
        bills,
        card_debts,
        customers,
        amount: Money::from_cents(cents),
    };
    let read = ReportRead {
        kind: ReportKind::ArrearsByAge,
        window: window(),
        report: Report::ArrearsByAge(vec![
            age("0-30", 3, 1, 4, 15_840),
            age("31-90", 1, 0, 1, 4_000),
            age("90+", 0, 2, 1, 1_200),
        ]),
    };
    for (lang, heading, total) in [
        (Lang::En, "Card debts", "Total"),
        (Lang::Zh, "卡欠款", "合计"),
    ] {
        let (mut app, sent) = reports(lang);
        answer(
            &mut app,
            &sent,
            Reply::screen(ReportRead {
                kind: ReportKind::Takings,
                window: window(),
                report: Report::Takings(vec![]),
            }),
        );
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        let sent = press(&mut app, KeyCode::Tab);
        let asked = sent[0].1.of::<LoadReport>().expect("the arrears are read");
        assert_eq!(asked.kind, ReportKind::ArrearsByAge);
        answer(&mut app, &sent, Reply::screen(read.clone()));
        let screen = render_at(&app, (80, 24));
        let lines: Vec<&str> = screen.lines().collect();
        assert!(
            lines.iter().any(|line| line.contains(heading)),
            "{lang:?}: {screen}"
        );
        // A rendered line is quoted, a note on wide characters after it.
        let cells = |line: &str| {
            let drawn = line.split('"').nth(1).unwrap_or_default();
            drawn
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let row = |first: &str| {
            lines
                .iter()
                .map(|line| cells(line))
                .find(|cells| cells.first().is_some_and(|cell| cell == first))
                .unwrap_or_else(|| panic!("{lang:?}, {first}: {screen}"))
        };
        assert_eq!(row("90+"), ["90+", "0", "2", "1", "12.00"], "{lang:?}");
        assert_eq!(row(total), [total, "4", "3", "210.40"], "{lang:?}");
        insta::assert_snapshot!(
            format!("reports_arrears_card_debts_{lang:?}").to_lowercase(),
            screen
        );
    }
    let csv = report_csv(&read);
    let csv: Vec<&str> = csv.lines().collect();
    assert_eq!(
        csv[..2],
        [
            "day,age_days,bills,customers,amount,card_debts",
            "2026-12-03,0-30,3,4,158.40,1"
        ]
    );
}

/// s44-e, by hand: `e` pressed six times wrote six files (`report-…csv` to `-6.csv`): each `e`
/// before the first was kept sent another, as X did on the shift until s34-d. One is on its
/// way at a time; the next `e` after it was kept writes the next.
#[test]
fn a_report_written_is_not_written_again_while_it_is_on_its_way() {
    let (mut app, sent) = reports(Lang::En);
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![takings("anna", "cash", 1_000, 1)]),
        }),
    );
    let kept = press(&mut app, KeyCode::Char('e'));
    assert!(kept[0].1.of::<KeepReport>().is_some(), "{kept:?}");
    for _ in 0..5 {
        let again = press(&mut app, KeyCode::Char('e'));
        assert!(again.is_empty(), "no second file meanwhile: {again:?}");
    }
    answer(
        &mut app,
        &kept,
        Reply::screen(meterdesk::screens::receipt::ReceiptKept(Ok(
            "/srv/r/report-takings-2026-12-03.csv".into(),
        ))),
    );
    let next = press(&mut app, KeyCode::Char('e'));
    assert!(next[0].1.of::<KeepReport>().is_some(), "the next: {next:?}");
}

/// s44-e, by hand: the low balances are the list as it stands now, yet PgUp read it again
/// "of" the day before and wrote it as `report-low-balances-2026-12-05.csv` with that day in
/// its CSV; a range typed before Tab did the same. The list is read as of today, whatever
/// days the other reports show, and offers no keys of days.
#[test]
fn the_low_balances_are_of_today_whatever_the_days_of_the_other_reports() {
    let (mut app, sent) = reports(Lang::En);
    let today = days_asked(&sent).0;
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![]),
        }),
    );
    press(&mut app, KeyCode::Char('L'));
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent = press(&mut app, KeyCode::Tab);
    }
    assert_eq!(
        sent[0].1.of::<LoadReport>().unwrap().kind,
        ReportKind::LowBalances
    );
    assert_eq!(days_asked(&sent), (today, today), "as it stands: today");
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::LowBalances,
            window: Window::of_day(today, FixedOffset::east_opt(0).unwrap()),
            report: Report::LowBalances(vec![low(10_000_100, "Li Na", "3.50")]),
        }),
    );
    let screen = render(&app);
    for key in ["PgUp", "PgDn", "/ Dates"] {
        assert!(!screen.contains(key), "{key} offered: {screen}");
    }
    for key in [KeyCode::PageUp, KeyCode::PageDown, KeyCode::Char('L')] {
        assert!(press(&mut app, key).is_empty(), "{key:?} read it again");
    }
    let kept = press(&mut app, KeyCode::Char('e'));
    let report = kept[0].1.of::<KeepReport>().expect("written");
    assert_eq!(report.stem, format!("report-low-balances-{today}"));
}

/// s44-e, by hand at 80×24: the takings said "Bank trans…" for a bank transfer, while the
/// reversals' column beside it was empty: a method's name is whole.
#[test]
fn a_takings_method_is_named_whole_at_80_columns() {
    let (mut app, sent) = reports(Lang::En);
    answer(
        &mut app,
        &sent,
        Reply::screen(ReportRead {
            kind: ReportKind::Takings,
            window: window(),
            report: Report::Takings(vec![takings("clerk", "bank_transfer", 220_000, 2)]),
        }),
    );
    let screen = render(&app);
    assert!(screen.contains("Bank transfer "), "{screen}");
}
