//! The clerk's shift (`:shift`): the X report of the open shift on screen, closing it asked
//! once and its Z report kept with its CSV (and printed, with a print command); the paper at 32 and 48 columns.

use crate::support::*;
use meterdesk::db::shifts::{MethodTakings, Shift, ShiftReport};
use meterdesk::domain::money::Money;
use meterdesk::screens::receipt::{KeepReport, ReceiptKept};
use meterdesk::screens::shift::{
    CloseShift, LoadShift, ShiftClosed, ShiftLoaded, ShiftScreen, report_csv, report_text,
};

fn at(hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, hour, minute, 0).unwrap()
}

/// A method's takings and refunds, none reversed.
fn by_method(
    code: &str,
    cents: i64,
    payments: i64,
    refunds: i64,
    refund_count: i64,
) -> MethodTakings {
    MethodTakings {
        method: code.into(),
        takings: Money::from_cents(cents),
        refunds: Money::from_cents(refunds),
        payments,
        refund_count,
        reversals: 0,
        reversed: Money::ZERO,
        refund_reversals: 0,
        refunds_reversed: Money::ZERO,
    }
}

fn sample(closed: bool) -> ShiftReport {
    ShiftReport {
        shift: Shift {
            id: 17,
            operator: "clerk".into(),
            opened_at: at(8, 2),
            closed_at: closed.then(|| at(17, 31)),
            opened_by_payment: false,
        },
        methods: vec![
            by_method("cash", 1_303_550, 41, 3_000, 1),
            by_method("wechat_pay", 250_000, 9, 0, 0),
        ],
        receipts: 51,
        first_receipt: Some(120_017),
        last_receipt: Some(120_071),
    }
}

/// `:shift` opened and answered with the open shift's figures.
fn shift_screen(lang: Lang) -> App {
    let mut app = signed_in(lang);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "shift");
    let sent = press(&mut app, KeyCode::Enter);
    assert!(sent[0].1.of::<LoadShift>().is_some(), "{sent:?}");
    answer(
        &mut app,
        &sent,
        Reply::screen(ShiftLoaded(Some(sample(false)))),
    );
    assert!(app.screen.is::<ShiftScreen>());
    app
}

#[test]
fn the_open_shift_shows_its_x_report_and_closing_prints_the_z_report() {
    let mut app = shift_screen(Lang::En);
    insta::assert_snapshot!("shift_open_en", render(&app));

    assert!(close_shift(&mut app).is_empty(), "asked first");
    insta::assert_snapshot!("shift_ask_close_en", render(&app));
    let sent = press(&mut app, KeyCode::F(2));
    let close = sent[0].1.of::<CloseShift>().expect("the close is sent");
    assert_eq!(close.shift_id, 17);

    let kept = answer(
        &mut app,
        &sent,
        Reply::screen(ShiftClosed::Now(sample(true))),
    );
    let report = kept[0].1.of::<KeepReport>().expect("the Z report is kept");
    assert_eq!(report.stem, "shift-000017-z");
    assert!(report.text.as_deref().unwrap().contains("Z REPORT"));
    assert!(report.csv.starts_with("shift,operator,"), "{}", report.csv);
    insta::assert_snapshot!("shift_closed_en", render(&app));
}

/// The desk says where the Z report went once it is kept, and never that it was printed
/// before it knows (s39-g, by hand: "已结班；Z 报表已打印并保存。" at a desk with no print command,
/// whose report went to two files and no printer).
#[test]
fn the_z_report_is_said_where_it_went_not_printed() {
    for (lang, closed, went) in [
        (
            Lang::En,
            "Shift closed; its Z report on its way.",
            "Z report sent to /srv/r/shift-000017-z.txt, /srv/r/shift-000017-z.csv",
        ),
        (
            Lang::Zh,
            "已结班；正在输出 Z 报表。",
            "Z 报表已送往：/srv/r/shift-000017-z.txt, /srv/r/shift-000017-z.csv",
        ),
    ] {
        let mut app = shift_screen(lang);
        close_shift(&mut app);
        let sent = press(&mut app, KeyCode::F(2));
        let kept = answer(
            &mut app,
            &sent,
            Reply::screen(ShiftClosed::Now(sample(true))),
        );
        assert_eq!(app.message.clone().unwrap().text, closed);
        answer(
            &mut app,
            &kept,
            Reply::screen(ReceiptKept(Ok(
                "/srv/r/shift-000017-z.txt, /srv/r/shift-000017-z.csv".into(),
            ))),
        );
        assert_eq!(app.message.clone().unwrap().text, went, "{lang:?}");
    }
}

/// The close waited for the database and the clerk went back to the table meanwhile: the Z
/// report is still kept, and where it went is said there (s39-g, by hand: the cluster stopped,
/// F2, F3 ×6, started — "已结班…" and then nothing about the report).
#[test]
fn a_z_report_kept_after_the_screen_was_left_says_where_it_went() {
    let mut app = shift_screen(Lang::En);
    close_shift(&mut app);
    let sent = press(&mut app, KeyCode::F(2));
    assert!(sent[0].1.of::<CloseShift>().is_some(), "{sent:?}");
    connection_lost(&mut app, &sent);
    for _ in 0..6 {
        press(&mut app, KeyCode::F(3));
    }
    assert!(!app.screen.is::<ShiftScreen>(), "left: {}", render(&app));
    let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
    assert!(resent[0].1.of::<CloseShift>().is_some(), "{resent:?}");
    let kept = answer(
        &mut app,
        &resent,
        Reply::screen(ShiftClosed::Now(sample(true))),
    );
    assert!(kept[0].1.of::<KeepReport>().is_some(), "{kept:?}");
    answer(
        &mut app,
        &kept,
        Reply::screen(ReceiptKept(Ok("/srv/r/shift-000017-z.txt".into()))),
    );
    assert_eq!(
        app.message.clone().unwrap().text,
        "Report written: /srv/r/shift-000017-z.txt"
    );
}

/// Another desk of the same clerk closed the shift first: its Z report was printed there, so
/// this desk shows it and prints nothing.
#[test]
fn a_shift_closed_by_another_desk_is_shown_and_not_printed_again() {
    let mut app = shift_screen(Lang::En);
    close_shift(&mut app);
    let sent = press(&mut app, KeyCode::F(2));
    let kept = answer(
        &mut app,
        &sent,
        Reply::screen(ShiftClosed::Before(sample(true))),
    );
    assert!(kept.is_empty(), "no second Z report: {kept:?}");
    let screen = render(&app);
    assert!(
        screen.contains("This shift was closed at") && screen.contains("Z REPORT"),
        "{screen}"
    );
}

/// s34-d, by hand: while the close waited for the database the question was gone and the
/// message line said nothing, the X report still shown with "Z Close shift" in the legend.
/// It says the shift is being closed.
#[test]
fn a_close_on_its_way_says_so() {
    for (lang, words) in [(Lang::En, "Closing the shift…"), (Lang::Zh, "正在结班…")] {
        let mut app = shift_screen(lang);
        close_shift(&mut app);
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent[0].1.of::<CloseShift>().is_some(), "{sent:?}");
        assert_eq!(app.message.clone().unwrap().text, words);
    }
}

/// s34-d, by hand: X pressed six times fast printed six X reports (`shift-…-x.txt` to
/// `-x-6.txt`): each X before the first was kept sent another. One is on its way at a time.
#[test]
fn an_x_report_on_its_way_is_not_printed_again() {
    let mut app = shift_screen(Lang::En);
    let sent = press(&mut app, KeyCode::Char('X'));
    assert!(sent[0].1.of::<KeepReport>().is_some(), "{sent:?}");
    for _ in 0..5 {
        let again = press(&mut app, KeyCode::Char('X'));
        assert!(again.is_empty(), "no second X report meanwhile: {again:?}");
    }
    answer(
        &mut app,
        &sent,
        Reply::screen(ReceiptKept(Ok("shift-000017-x.txt".into()))),
    );
    let sent = press(&mut app, KeyCode::Char('X'));
    assert!(sent[0].1.of::<KeepReport>().is_some(), "the next: {sent:?}");
}

/// s43-e and s44-e, by hand: X, then Z — "Close the shift and print its Z report?" showed
/// with the X report's "X report sent to …" still on the message line under it, as if the
/// question were about that paper. The question stands alone; the X report, kept, was said.
#[test]
fn the_z_question_is_not_under_the_x_reports_message() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = shift_screen(lang);
        let sent = press(&mut app, KeyCode::Char('X'));
        answer(
            &mut app,
            &sent,
            Reply::screen(ReceiptKept(Ok("/srv/r/shift-000017-x.txt".into()))),
        );
        assert!(app.message.is_some(), "the X report said where it went");
        assert!(close_shift(&mut app).is_empty(), "asked first");
        assert_eq!(app.message, None, "{lang:?}: {}", render(&app));
    }
}

#[test]
fn any_other_key_keeps_the_shift_open() {
    let mut app = shift_screen(Lang::En);
    close_shift(&mut app);
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert!(press(&mut app, KeyCode::F(2)).is_empty(), "no longer asked");
}

#[test]
fn the_shift_in_chinese_with_no_shift_yet() {
    let app = shift_screen(Lang::Zh);
    insta::assert_snapshot!("shift_open_zh", render(&app));
    let mut app = signed_in(Lang::Zh);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "shift");
    let sent = press(&mut app, KeyCode::Enter);
    answer(&mut app, &sent, Reply::screen(ShiftLoaded(None)));
    insta::assert_snapshot!("shift_none_zh", render(&app));
}

/// s38-e, by hand: the administrator's `:shift` offered "O Open shift" and said "O opens
/// one"; O answered "Your roles do not allow you to take deposits into accounts or recharge
/// cards." An operator whose roles take no money is offered no shift to open, in both
/// languages; a clerk still is.
#[test]
fn an_operator_who_takes_no_money_is_offered_no_shift_to_open() {
    for (lang, offered, words) in [
        (Lang::En, "Open shift", "your roles take no money"),
        (Lang::Zh, "开班", "您的角色不收款"),
    ] {
        let mut app = signed_in(lang);
        if let Some(session) = app.session.as_mut() {
            session.permissions = vec![
                "customer.view".into(),
                "audit.view".into(),
                "operator.maintain".into(),
            ];
        }
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, "shift");
        let sent = press(&mut app, KeyCode::Enter);
        answer(&mut app, &sent, Reply::screen(ShiftLoaded(None)));
        let screen = render(&app);
        let legend = screen.lines().last().unwrap();
        assert!(!legend.contains(offered), "{lang:?}:\n{screen}");
        assert!(screen.contains(words), "{lang:?}:\n{screen}");
        let sent = press(&mut app, KeyCode::Char('O'));
        assert!(
            sent.is_empty(),
            "{lang:?}: nothing asked of the database: {sent:?}"
        );
        // A clerk takes money: offered.
        let mut app = signed_in(lang);
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, "shift");
        let sent = press(&mut app, KeyCode::Enter);
        answer(&mut app, &sent, Reply::screen(ShiftLoaded(None)));
        let screen = render(&app);
        assert!(
            screen.lines().last().unwrap().contains(offered),
            "{lang:?}:\n{screen}"
        );
    }
}

#[test]
fn x_and_z_reports_on_paper_32_and_48_wide() {
    let zone = FixedOffset::east_opt(8 * 3600).unwrap();
    insta::assert_snapshot!(
        "shift_x_report_32",
        report_text(Lang::En, zone, &sample(false), 32, false)
    );
    insta::assert_snapshot!(
        "shift_z_report_48",
        report_text(Lang::En, zone, &sample(true), 48, true)
    );
    insta::assert_snapshot!(
        "shift_z_report_32_zh",
        report_text(Lang::Zh, zone, &sample(true), 32, true)
    );
    assert_eq!(
        report_csv(&sample(true)).lines().nth(1).unwrap(),
        "17,clerk,2026-12-03T08:02:00+00:00,2026-12-03T17:31:00+00:00,cash,13035.50,41,30.00,1,51,120017,120071,0.00,0,0.00,0"
    );
}

/// s41-c's "found, not fixed": the X and Z reports counted the reversals the owner made in the
/// operator's name (deposits in the takings, refunds in the refunds) without saying so, and the
/// Z report is printed. Under each method's payments and refunds, the reversals of them, in the
/// takings report's words ("Reversed" / "其中冲正", the money negative) with how many, as its
/// "Cash ×41" says the payments; a method with only a reversal is listed (×0) so that its money
/// is on the paper; nothing more where none. On screen at 80×24, printed at 32 and 48, in both
/// languages; the CSV gains the four figures at its end, always.
#[test]
fn the_x_and_z_reports_say_the_reversals_they_count() {
    let reversed = || {
        let mut report = sample(true);
        let cash = &mut report.methods[0];
        (cash.reversals, cash.reversed) = (2, Money::from_cents(-50_000));
        (cash.refund_reversals, cash.refunds_reversed) = (1, Money::from_cents(-3_000));
        report.methods.push(MethodTakings {
            reversals: 1,
            reversed: Money::from_cents(-8_000),
            ..by_method("alipay", -8_000, 0, 0, 0)
        });
        report.methods.sort_by(|a, b| a.method.cmp(&b.method));
        report
    };
    let zone = FixedOffset::east_opt(8 * 3600).unwrap();
    for (lang, cash, cash_refunds, alipay, reversed_word) in [
        (Lang::En, "Cash ×41", "Cash ×1 ", "Alipay ×0", "Reversed"),
        (Lang::Zh, "现金 ×41", "现金 ×1 ", "支付宝 ×0", "其中冲正"),
    ] {
        for width in [32, 48] {
            let paper = report_text(lang, zone, &reversed(), width, true);
            let lines: Vec<&str> = paper.lines().collect();
            // The line under the one that begins with `label`.
            let under = |label: &str| {
                let at = lines
                    .iter()
                    .position(|line| line.starts_with(label))
                    .unwrap_or_else(|| panic!("{lang:?} {width}: {label}:\n{paper}"));
                lines[at + 1]
            };
            for (method, count, money) in [
                (alipay, 1, "-80.00"),
                (cash, 2, "-500.00"),
                (cash_refunds, 1, "-30.00"),
            ] {
                let line = under(method);
                assert!(
                    line.starts_with(&format!("  {reversed_word} ×{count} "))
                        && line.ends_with(money),
                    "{lang:?} {width}: under {method}, its reversals: {line}\n{paper}"
                );
            }
        }
        let plain = report_text(lang, zone, &sample(true), 48, true);
        assert!(!plain.contains(reversed_word), "{plain}");
    }
    insta::assert_snapshot!(
        "shift_z_report_reversed_32_zh",
        report_text(Lang::Zh, zone, &reversed(), 32, true)
    );
    let csv = report_csv(&reversed());
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",last_receipt,reversed,reversals,refunds_reversed,refund_reversals"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().nth(1).unwrap(),
        "17,clerk,2026-12-03T08:02:00+00:00,2026-12-03T17:31:00+00:00,alipay,-80.00,0,0.00,0,51,120017,120071,-80.00,1,0.00,0"
    );
    assert!(
        csv.contains(",cash,13035.50,41,30.00,1,51,120017,120071,-500.00,2,-30.00,1\r\n"),
        "{csv}"
    );

    // The screen: the open shift's X report at 80×24, in both languages.
    for lang in [Lang::En, Lang::Zh] {
        let mut app = signed_in(lang);
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, "shift");
        let sent = press(&mut app, KeyCode::Enter);
        let mut open = reversed();
        open.shift.closed_at = None;
        answer(&mut app, &sent, Reply::screen(ShiftLoaded(Some(open))));
        let screen = render_at(&app, (80, 24));
        let word = if lang == Lang::En {
            "Reversed ×2"
        } else {
            "其中冲正 ×2"
        };
        assert!(
            screen
                .lines()
                .any(|line| line.contains(word) && line.contains("-500.00")),
            "{lang:?}:\n{screen}"
        );
        insta::assert_snapshot!(format!("shift_open_reversed_{lang:?}"), screen);
    }
}

/// `Z`: the Z report, which closes the shift.
fn close_shift(app: &mut App) -> Vec<(u64, Request)> {
    press(app, KeyCode::Char('Z'))
}
