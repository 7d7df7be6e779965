//! The screens at 80×24 on a TestBackend, driven by key sequences through the real `update`,
//! compared with committed insta snapshots.

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meterdesk::app::state::{
    DbStatus, Failure, LoginRefusal, Msg, Overview, Reply, Request, Screen, Session,
};
use meterdesk::app::{App, KeyMap, update};
use meterdesk::card::reader::ReaderState;
use meterdesk::db::customers::{
    AccountSummary, BasicInfo, CardSummary, CustomerDetails, CustomerRow, CustomerTypeSummary,
    MeterSummary, Page, PreviousOwner, TransactionSummary,
};
use meterdesk::i18n::Lang;
use meterdesk::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal::Decimal;

fn app(lang: Lang) -> App {
    App::new(KeyMap::default(), lang, Default::default())
}

fn render(app: &App) -> String {
    render_at(app, (80, 24))
}

fn press(app: &mut App, code: KeyCode) -> Vec<(u64, Request)> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))).requests
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn session() -> Session {
    Session {
        operator_id: 3,
        login: "clerk".into(),
        full_name: "王芳".into(),
        department: "Central office".into(),
        roles: vec!["clerk".into()],
        permissions: vec!["customer.view".into()],
    }
}

fn row(id: i64, customer_no: i64, name: &str, address: &str) -> CustomerRow {
    CustomerRow {
        id,
        customer_no,
        name: name.into(),
        customer_type: if id % 2 == 0 {
            "居民卡表"
        } else {
            "Commercial postpaid"
        }
        .into(),
        meter_no: format!("M{:08}", 2_000_000 + id),
        account_kind: if id % 2 == 0 { "prepaid" } else { "postpaid" }.into(),
        balance: Decimal::new(12_345 * id, 2),
        card_state: (id % 2 == 0).then(|| "active".to_owned()),
        phone: Some(format!("138{:08}", id * 7919)),
        address: address.into(),
        status: if id == 5 { "closed" } else { "active" }.into(),
    }
}

/// A page as the database would send it: CJK and Latin names, a long address, and a name
/// carrying an escape sequence.
fn sample_page(rows: usize) -> Page {
    let names = [
        "张伟",
        "Zhang Wei",
        "欧阳娜娜",
        "Evil\x1b]0;pwned\x07\x1b[31mName",
        "北京市自来水集团有限责任公司第三营业所",
        "Li Xiaoming",
    ];
    let rows = (0..rows)
        .map(|i| {
            let id = i as i64 + 1;
            row(
                id,
                10_000_000 + id * 17,
                names[i % names.len()],
                "北京市朝阳区建国路88号3单元502室",
            )
        })
        .collect();
    Page {
        rows,
        more_before: false,
        more_after: true,
    }
}

fn answer(app: &mut App, sent: &[(u64, Request)], reply: Reply) -> Vec<(u64, Request)> {
    let [(id, _)] = sent else {
        panic!("one request: {sent:?}")
    };
    update(
        app,
        Msg::Reply {
            id: *id,
            outcome: Ok(reply),
        },
    )
    .requests
}

/// Signs in through the keys on a terminal of `size`, answering as the database would.
fn signed_in_at(lang: Lang, size: (u16, u16)) -> App {
    let mut app = app(lang);
    update(&mut app, Msg::Resize(size.0, size.1));
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    let next = answer(&mut app, &sent, Reply::LoggedIn(session()));
    let [(_, Request::Customers { size: rows, .. })] = next.as_slice() else {
        panic!("the customer table asks for its first page: {next:?}")
    };
    assert_eq!(*rows, usize::from(size.1) - 5, "a page fills the table");
    answer(&mut app, &next, Reply::Customers(sample_page(*rows)));
    update(
        &mut app,
        Msg::Reader(ReaderState::NoCard {
            reader: "Virtual PCD 00 00".into(),
        }),
    );
    app
}

fn signed_in(lang: Lang) -> App {
    signed_in_at(lang, (80, 24))
}

fn render_at(app: &App, size: (u16, u16)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn login_screen() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "pw");
    insta::assert_snapshot!(render(&app));
}

#[test]
fn login_screen_in_chinese_after_a_wrong_password() {
    let mut app = app(Lang::Zh);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "wrong");
    let sent = press(&mut app, KeyCode::F(2));
    update(
        &mut app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Ok(Reply::LoginRefused(LoginRefusal::WrongCredentials)),
        },
    );
    insta::assert_snapshot!(render(&app));
}

#[test]
fn customer_table() {
    insta::assert_snapshot!(render(&signed_in(Lang::En)));
}

#[test]
fn customer_table_in_chinese() {
    insta::assert_snapshot!(render(&signed_in(Lang::Zh)));
}

#[test]
fn customer_table_uses_the_room_at_120_by_40() {
    insta::assert_snapshot!(render_at(&signed_in_at(Lang::En, (120, 40)), (120, 40)));
}

#[test]
fn overview_screen() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "overview");
    let sent = press(&mut app, KeyCode::Enter);
    let overview = Overview {
        customers: 1_000_000,
        card_customers: 333_334,
        uninstalled_meters: 5_000,
        active_cards: 250_001,
        payments_today: 17,
        takings_today: Decimal::new(1_234_550, 2),
    };
    answer(&mut app, &sent, Reply::Overview(overview));
    insta::assert_snapshot!(render(&app));
    press(&mut app, KeyCode::F(3));
    assert!(
        matches!(app.screen, Screen::Customers(_)),
        "F3 goes back to the table"
    );
}

#[test]
fn help_is_generated_from_the_live_keymap() {
    let mut app = signed_in(Lang::En);
    app.keymap = KeyMap::new(&[("quit".to_owned(), vec!["Ctrl-q".to_owned()])].into()).unwrap();
    press(&mut app, KeyCode::F(1));
    let screen = render(&app);
    assert!(screen.contains("Ctrl-q"), "{screen}");
    assert!(!screen.contains("F10"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn database_lost_while_signing_in_keeps_the_form_and_retries() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Err(Failure::Unreachable("connection refused".into())),
        },
    );
    assert_eq!(app.database, DbStatus::Reconnecting);
    let Screen::Login(form) = &app.screen else {
        panic!("still on the login screen")
    };
    assert_eq!(form.operator.value(), "clerk");
    assert_eq!(form.password.value(), "secret");
    insta::assert_snapshot!(render(&app));

    let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
    assert_eq!(
        resent.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        vec![Request::Login {
            login: "clerk".into(),
            password: "secret".into()
        }],
        "the parked login is sent again when the database is back"
    );
}

#[test]
fn keys_typed_while_signing_in_are_applied_in_order_afterwards() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    // Typed ahead before the answer: open the command line and ask for help.
    type_text(&mut app, ":help");
    press(&mut app, KeyCode::Enter);
    assert!(matches!(app.screen, Screen::Login(_)));
    update(
        &mut app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Ok(Reply::LoggedIn(session())),
        },
    );
    assert!(matches!(app.screen, Screen::Customers(_)));
    assert!(
        matches!(app.overlay, Some(meterdesk::app::state::Overlay::Help)),
        "the typed-ahead :help ran after the login answered"
    );
}

#[test]
fn escape_cancels_a_pending_sign_in_and_drops_its_answer() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    type_text(&mut app, "xyz");
    press(&mut app, KeyCode::Esc);
    assert!(app.type_ahead.is_empty());
    let late = update(
        &mut app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Ok(Reply::LoggedIn(session())),
        },
    );
    assert!(!late.redraw);
    assert!(matches!(app.screen, Screen::Login(_)));
}

#[test]
fn command_line_completes_and_runs_commands() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "ref");
    press(&mut app, KeyCode::Tab);
    let screen = render(&app);
    assert!(screen.contains(":refresh"), "{screen}");
    let sent = press(&mut app, KeyCode::Enter);
    assert!(matches!(sent.as_slice(), [(_, Request::Customers { .. })]));
    // Keys typed before the refreshed page arrives wait for it (type-ahead).
    press(&mut app, KeyCode::Char(':'));
    assert!(app.overlay.is_none(), "the ':' waits for the page");
    answer(&mut app, &sent, Reply::Customers(sample_page(19)));
    assert!(app.overlay.is_some(), "…and is applied when it comes");
    press(&mut app, KeyCode::Esc);

    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "fly");
    press(&mut app, KeyCode::Enter);
    let screen = render(&app);
    assert!(screen.contains("Unknown command: fly"), "{screen}");

    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "lang zh");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.lang, Lang::Zh);

    press(&mut app, KeyCode::F(3));
    assert!(
        matches!(app.screen, Screen::Login(_)),
        "F3 on the table logs out"
    );
    assert!(app.session.is_none());
}

#[test]
fn a_stored_escape_sequence_cannot_reach_the_terminal() {
    let mut app = signed_in(Lang::En);
    app.session.as_mut().unwrap().full_name = "Evil\x1b]0;pwned\x07\x1b[2J".into();
    update(&mut app, Msg::Resize(80, 24));
    let screen = render(&app);
    assert!(!screen.contains('\x1b'), "{screen}");
    assert!(screen.contains("Evil\\x1b]0;pwned\\x07"), "{screen}");
}

fn sample_details() -> CustomerDetails {
    let at = |day: u32, hour: u32| Utc.with_ymd_and_hms(2026, 11, day, hour, 30, 0).unwrap();
    CustomerDetails {
        customer_type: CustomerTypeSummary {
            name: "居民卡表".into(),
            nature: "personal".into(),
            business_model: "meter_prepaid".into(),
        },
        basic: BasicInfo {
            id: 2,
            customer_no: 10_000_034,
            name: "张伟".into(),
            address: "北京市朝阳区建国路88号3单元502室".into(),
            phone: Some("13800015838".into()),
            id_document_no: Some("11010519491231002X".into()),
            household_size: Some(3),
            email: None,
            credit_code: None,
            contact_person: None,
            remark: Some("gate code \x1b[2J1234".into()),
            status: "active".into(),
            version: 4,
            opened_at: at(2, 9),
            closed_at: None,
        },
        meter: MeterSummary {
            meter_no: "M02000002".into(),
            meter_type: "IC card meter".into(),
            caliber: "DN15".into(),
        },
        account: AccountSummary {
            kind: "prepaid".into(),
            balance: Decimal::new(24_690, 2),
            recent_transactions: vec![TransactionSummary {
                at: at(20, 10),
                kind: "card_purchase".into(),
                amount: Decimal::new(-12_000, 2),
                volume: Some(Decimal::new(34_782, 3)),
                payment_method: Some("cash".into()),
                receipt_no: Some(123),
            }],
        },
        card: Some(CardSummary {
            state: "active".into(),
            card_no: 12_345,
            generation: 2,
            last_purchase_seq: Some(7),
            last_purchase_loaded: Some(false),
        }),
        owner_history: vec![PreviousOwner {
            basic_info: vec!["name: 李娜".into(), "phone: 13911112222".into()],
            transferred_at: at(10, 15),
            transferred_by: "Wang Fang".into(),
        }],
    }
}

#[test]
fn details_of_the_selected_customer() {
    // Timestamps are shown in local time: pin it for the snapshot.
    unsafe { std::env::set_var("TZ", "Asia/Shanghai") };
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Down);
    let sent = press(&mut app, KeyCode::Enter);
    let [(_, Request::Details { customer_id: 2 })] = sent.as_slice() else {
        panic!("Enter asks for the selected customer's details: {sent:?}")
    };
    assert!(
        render(&app).contains("10000034"),
        "the breadcrumbs name the customer"
    );
    answer(
        &mut app,
        &sent,
        Reply::Details(Some(Box::new(sample_details()))),
    );
    let screen = render(&app);
    assert!(!screen.contains('\x1b'), "{screen}");
    insta::assert_snapshot!(screen);

    press(&mut app, KeyCode::F(3));
    let Screen::Customers(table) = &app.screen else {
        panic!("F3 goes back to the table")
    };
    assert_eq!(table.selected, 1, "with the same row selected");
}

/// Over SSH every byte counts: moving the selection redraws two rows, not the screen.
/// (Bytes are deterministic, unlike times, so this is a test; the frame time is in the bench.)
#[test]
fn a_row_move_sends_two_rows_not_the_screen() {
    let figures = meterdesk::ui::measure::measure(sample_page(35), 3).unwrap();
    assert!(
        figures.bytes_per_row_move > 50.0 && figures.bytes_per_row_move <= 400.0,
        "{figures:?}"
    );
}

/// The form framework on its own at 80×24: labels, a required mark, a right-aligned amount, a
/// stored value with an escape sequence drawn inert, errors next to the fields after F2, then
/// the F4 lookup over a choice field.
#[test]
fn form_with_errors_and_a_lookup() {
    use meterdesk::app::Command;
    use meterdesk::app::form::{Choice, Field, FieldKind, Form};
    let mut form = Form::new(vec![
        Field::new("details.address", FieldKind::Text { max: 200 }, true),
        Field::new("details.phone", FieldKind::Digits { len: 11 }, true),
        Field::new(
            "details.balance",
            FieldKind::Amount {
                max: Decimal::new(100_000, 0),
            },
            false,
        ),
        Field::new(
            "details.type",
            FieldKind::Choice(vec![
                Choice {
                    key: "1".into(),
                    label: "居民卡表".into(),
                },
                Choice {
                    key: "2".into(),
                    label: "Commercial postpaid".into(),
                },
            ]),
            true,
        ),
        Field::new("details.opened", FieldKind::Date, false),
    ]);
    form.set(0, "Evil\x1b[31m road");
    form.focus = 2;
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    for c in "1234.5".chars() {
        form.on_key(key(KeyCode::Char(c)), None, Lang::En);
    }
    form.on_key(key(KeyCode::Tab), Some(Command::NextField), Lang::En);
    form.on_key(key(KeyCode::Tab), Some(Command::NextField), Lang::En);
    for c in "2026-02-30".chars() {
        form.on_key(key(KeyCode::Char(c)), None, Lang::En);
    }
    form.on_key(key(KeyCode::F(2)), Some(Command::Save), Lang::En);
    let draw = |form: &Form| {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal
            .draw(|frame| {
                let theme = ui::theme::Theme::new(Default::default());
                ui::form::draw(frame, frame.area(), form, Lang::En, &theme)
            })
            .unwrap();
        terminal.backend().to_string()
    };
    insta::assert_snapshot!("form_errors_next_to_fields", draw(&form));
    form.focus = 3;
    form.on_key(key(KeyCode::F(4)), Some(Command::Lookup), Lang::En);
    form.on_key(key(KeyCode::Char('c')), None, Lang::En);
    insta::assert_snapshot!("form_lookup_list", draw(&form));
}
