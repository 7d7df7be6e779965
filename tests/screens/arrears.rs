//! Unpaid bills at the counter: the customer table marks who owes, and `:arrears` lists them
//! largest first, a page at a time.

use crate::support::*;
use meterdesk::db::arrears::{Owing, OwingCursor};
use meterdesk::db::customers::{Page, PageAt};
use meterdesk::domain::customer_number::CustomerNumber;
use meterdesk::domain::money::Money;
use meterdesk::screens::arrears::{
    ArrearsScreen, LoadOwing, LoadOwingCustomer, OwingCustomer, OwingPage, PAGE_ROWS,
};
use meterdesk::screens::details::Details;

fn owing(i: i64) -> Owing {
    Owing {
        customer_no: 10_000_000 + i * 17,
        name: [
            "李娜",
            "Anna Schmidt",
            "北京市自来水集团有限责任公司第三营业所",
        ][i as usize % 3]
            .into(),
        arrears: Money::from_cents(1_000_000 - i * 3_115),
        bills: 1 + i % 4,
        card_debts: 0,
        oldest: Utc.with_ymd_and_hms(2026, 9, 1, 2, 0, 0).unwrap(),
    }
}

fn arrears_screen(lang: Lang) -> (App, Vec<(u64, Request)>) {
    let mut app = signed_in(lang);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "arrears");
    let sent = press(&mut app, KeyCode::Enter);
    assert_eq!(
        sent[0].1.of::<LoadOwing>(),
        Some(&LoadOwing { at: PageAt::First })
    );
    (app, sent)
}

fn page(rows: Vec<Owing>, more_before: bool, more_after: bool) -> Reply {
    Reply::screen(OwingPage(Page {
        rows,
        more_before,
        more_after,
    }))
}

#[test]
fn arrears_are_listed_largest_first_a_page_at_a_time() {
    let (mut app, sent) = arrears_screen(Lang::En);
    let rows: Vec<_> = (0..PAGE_ROWS as i64).map(owing).collect();
    answer(&mut app, &sent, page(rows.clone(), false, true));
    assert!(app.screen.is::<ArrearsScreen>());
    insta::assert_snapshot!("arrears_en", render(&app));
    assert!(
        press(&mut app, KeyCode::PageUp).is_empty(),
        "the first page"
    );

    let next = press(&mut app, KeyCode::PageDown);
    let after = OwingCursor::from(&rows[PAGE_ROWS - 1]);
    assert_eq!(
        next[0].1.of::<LoadOwing>(),
        Some(&LoadOwing {
            at: PageAt::After(after)
        })
    );
    answer(&mut app, &next, page(vec![owing(40)], true, false));
    assert!(
        press(&mut app, KeyCode::PageDown).is_empty(),
        "the last page"
    );
    let back = press(&mut app, KeyCode::PageUp);
    assert_eq!(
        back[0].1.of::<LoadOwing>(),
        Some(&LoadOwing {
            at: PageAt::Before(OwingCursor::from(&owing(40)))
        })
    );
    answer(&mut app, &back, page(rows[1..].to_vec(), true, true));
    let refresh = press(&mut app, KeyCode::F(5));
    assert_eq!(
        refresh[0].1.of::<LoadOwing>(),
        Some(&LoadOwing {
            at: PageAt::From(OwingCursor::from(&rows[1]))
        })
    );
}

#[test]
fn end_reads_the_last_page_and_home_the_first() {
    let (mut app, sent) = arrears_screen(Lang::En);
    answer(&mut app, &sent, page(vec![owing(0)], false, true));
    let end = press(&mut app, KeyCode::End);
    assert_eq!(
        end[0].1.of::<LoadOwing>(),
        Some(&LoadOwing { at: PageAt::Last })
    );
    answer(&mut app, &end, page(vec![owing(40)], true, false));
    assert!(render(&app).contains("10000680"), "{}", render(&app));
    let home = press(&mut app, KeyCode::Home);
    assert_eq!(
        home[0].1.of::<LoadOwing>(),
        Some(&LoadOwing { at: PageAt::First })
    );
}

#[test]
fn arrears_in_chinese() {
    let (mut app, sent) = arrears_screen(Lang::Zh);
    answer(
        &mut app,
        &sent,
        page((0..3).map(owing).collect(), false, false),
    );
    insta::assert_snapshot!("arrears_zh", render(&app));
}

/// A card meter's customer owes no bill but the water a meter loaded unpaid (sql/V163): the
/// list says so in the count column, in both languages, at 80×24.
#[test]
fn a_card_meters_water_loaded_unpaid_is_listed_as_a_card_debt() {
    let card_meter = Owing {
        customer_no: 10_000_057,
        name: "陈芳".into(),
        arrears: Money::from_cents(600),
        bills: 0,
        card_debts: 1,
        oldest: Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap(),
    };
    for (lang, unpaid) in [(Lang::En, "1 card"), (Lang::Zh, "1 卡")] {
        let (mut app, sent) = arrears_screen(lang);
        answer(
            &mut app,
            &sent,
            page(vec![owing(0), card_meter.clone(), owing(1)], false, false),
        );
        let screen = render(&app);
        let line = screen
            .lines()
            .find(|line| line.contains("10000057"))
            .unwrap_or_else(|| panic!("{screen}"));
        assert!(
            line.contains(unpaid) && line.contains("2026-12-05") && line.contains("6.00"),
            "{screen}"
        );
        insta::assert_snapshot!(format!("arrears_card_debt_{lang:?}"), screen);
    }
}

#[test]
fn the_customer_table_marks_who_owes_in_the_status_column() {
    let mut app = app(Lang::En);
    update(&mut app, Msg::Resize(80, 24));
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    let next = answer(
        &mut app,
        &sent,
        Reply::screen(SignInAnswer::LoggedIn(session())),
    );
    let mut page = sample_page(19);
    page.rows[0].arrears = Money::from_cents(3_815);
    answer(&mut app, &next, Reply::screen(page));
    let screen = render(&app);
    let lines: Vec<&str> = screen.lines().collect();
    let owes = lines.iter().find(|l| l.contains("10000017")).unwrap();
    let pays = lines.iter().find(|l| l.contains("10000034")).unwrap();
    assert!(owes.contains("owes") && !pays.contains("owes"), "{screen}");
}

/// Details with unpaid bills, in the desk's language.
fn details_owing(lang: Lang) -> String {
    let mut app = signed_in(lang);
    press(&mut app, KeyCode::Down);
    let sent = press(&mut app, KeyCode::Enter);
    let mut details = crate::details::sample_details();
    details.account.arrears = Money::from_cents(3_815);
    details.account.unpaid_bills = 1;
    answer(
        &mut app,
        &sent,
        Reply::screen(Found(Some(Box::new(details)))),
    );
    render(&app)
}

#[test]
fn details_say_the_arrears_and_how_many_bills() {
    // In mid-line, after "balance …", in lower case (s38-e: "balance 109.05 · Arrears 243.73").
    let en = details_owing(Lang::En);
    assert!(en.contains(" · arrears 38.15 (1 unpaid bill)"), "{en}");
    let zh = details_owing(Lang::Zh);
    assert!(zh.contains("38.15"), "{zh}");
    insta::assert_snapshot!("details_owing_zh", zh);
}

/// Enter on a row opens that customer's details, as on the customer table (session 33, by
/// hand: Enter said "此处不能使用“详情”"); Up/Down select the row.
#[test]
fn enter_opens_the_selected_customers_details() {
    let (mut app, sent) = arrears_screen(Lang::Zh);
    let number = CustomerNumber::from_serial(1_002_345).expect("a customer number");
    let second = Owing {
        customer_no: i64::from(number.value()),
        ..owing(1)
    };
    answer(&mut app, &sent, page(vec![owing(0), second], false, false));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(
        app.screen.module::<ArrearsScreen>().unwrap().selected,
        1,
        "the last row stays selected"
    );
    assert!(render(&app).contains("Enter 详情"), "{}", render(&app));
    let asked = press(&mut app, KeyCode::Enter);
    assert_eq!(
        asked[0].1.of::<LoadOwingCustomer>(),
        Some(&LoadOwingCustomer {
            customer_no: number
        })
    );
    let customer = row(7, i64::from(number.value()), "李娜", "北京");
    let loads = answer(
        &mut app,
        &asked,
        Reply::screen(OwingCustomer(Some(customer))),
    );
    assert!(app.screen.is::<Details>(), "the customer's details");
    assert_eq!(
        loads[0].1.of::<LoadDetails>(),
        Some(&LoadDetails { customer_id: 7 })
    );
    press(&mut app, KeyCode::F(3));
    assert!(app.screen.is::<ArrearsScreen>(), "F3: back to the arrears");
}

/// The arrears list reads pages of 18 rows, drawn from their first: at 80×24 they end just
/// above a message said over three rows, but on a smaller terminal (70×18) the selected last
/// row was under the message, or under the screen's edge even without one. The list scrolls
/// so that the selected row shows above the message (s41-c's "found, not fixed", the same for
/// every list drawn by `ui::table::Table`).
#[test]
fn a_message_over_three_rows_hides_no_selected_row_of_the_arrears() {
    use meterdesk::app::hub::Message;
    use meterdesk::app::state::MessageKind;
    for size in [(80, 24), (70, 18)] {
        let (mut app, sent) = arrears_screen(Lang::En);
        let rows: Vec<_> = (0..PAGE_ROWS as i64).map(owing).collect();
        answer(&mut app, &sent, page(rows.clone(), false, true));
        for _ in 1..PAGE_ROWS {
            press(&mut app, KeyCode::Down);
        }
        let last = format!("{:08}", rows[PAGE_ROWS - 1].customer_no);
        app.message = Some(Message {
            kind: MessageKind::Error,
            text: format!("{}END", "settlement ".repeat(15)),
        });
        let screen = render_at(&app, size);
        let lines: Vec<&str> = screen.lines().collect();
        let at = lines
            .iter()
            .position(|line| line.contains(&last))
            .unwrap_or_else(|| panic!("{size:?}: the selected row: {screen}"));
        assert!(
            at < lines.len() - 4 && lines[lines.len() - 4].contains("settlement"),
            "{size:?}: above the message's three rows: {screen}"
        );
        insta::assert_snapshot!(
            format!("arrears_selected_above_a_message_{}x{}", size.0, size.1),
            screen
        );
    }
}
