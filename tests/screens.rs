//! The screens at 80×24 on a TestBackend, driven by key sequences through the real `update`,
//! compared with committed insta snapshots.

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meterdesk::app::state::{
    DbStatus, Failure, LoginRefusal, Msg, Overview, Problem, Reply, Request, Screen, Session,
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
        business_model: if id % 2 == 0 {
            "meter_prepaid"
        } else {
            "postpaid"
        }
        .into(),
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
    let screen = terminal.backend().to_string();
    assert!(
        !screen.contains("{key"),
        "a text naming a key was drawn without the keymap: {screen}"
    );
    screen
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
    let first_page = answer(&mut app, &sent, Reply::LoggedIn(session()));
    assert!(matches!(app.screen, Screen::Customers(_)));
    // Keys typed before the table's rows are in are for those rows: they wait for them.
    assert!(app.overlay.is_none());
    answer(&mut app, &first_page, Reply::Customers(sample_page(19)));
    assert!(
        matches!(app.overlay, Some(meterdesk::app::state::Overlay::Help)),
        "the typed-ahead :help ran after the login and the first page answered"
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
            // As the database sends it: sorted by key.
            kept: vec![
                ("mobile".into(), "13911112222".into()),
                ("name".into(), "李娜".into()),
            ],
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

// ───────────────────────────── IC cards ─────────────────────────────

mod cards {
    use super::*;
    use chrono::NaiveDate;
    use meterdesk::app::card::{CardReply, CardRequest, CardSeen, Written};
    use meterdesk::app::receipt::Receipt;
    use meterdesk::db::card_ops::{
        LossReason, OperationKind, OperationState, Payment, PendingOperation, Quantity, Quote,
        Refusal, Request as CardOp, Settled, UsageOf, UsageRecord,
    };
    use meterdesk::db::cards::{CardOwner, PaymentMethod};
    use meterdesk::domain::card_counter::RecycleRefusal;
    use meterdesk::domain::card_records::{
        IssueRecord, MeterNumber, MeterStatus, MeterWriteBack, PurchaseRecord, PurchaseStatus,
        UserCard,
    };
    use meterdesk::domain::pricing::{BillingMode, PriceVersion, Tier};

    const READER: &str = "Virtual PCD 00 00";
    const CARD: u32 = 40_000_017;
    const CUSTOMER_NO: i64 = 10_023_457;

    fn card_in() -> Msg {
        Msg::Reader(ReaderState::CardPresent {
            reader: READER.into(),
            atr: vec![0x3b, 0x80],
        })
    }

    fn no_card() -> Msg {
        Msg::Reader(ReaderState::NoCard {
            reader: READER.into(),
        })
    }

    fn issue(generation: u8) -> IssueRecord {
        IssueRecord {
            card_number: CARD,
            customer_number: CUSTOMER_NO as u32,
            meter_number: MeterNumber::new("WM-0042").unwrap(),
            generation,
            replacement: generation > 1,
        }
    }

    /// A first-issue card carrying purchase #5 (12.5 m³); the meter has loaded up to `loaded`.
    fn user_card(loaded: u32) -> UserCard {
        UserCard {
            issue: issue(1),
            purchase: Some(PurchaseRecord {
                sequence: 5,
                volume_litres: 12_500,
                generation: 1,
                status: PurchaseStatus::Valid,
                written_at: 1_795_836_000,
            }),
            write_back: Some(MeterWriteBack {
                last_loaded_sequence: loaded,
                registered_generation: 1,
                credit_litres: 3_250,
                total_litres: 1_234_567,
                status: MeterStatus {
                    low_credit: true,
                    ..MeterStatus::default()
                },
                written_at: 1_795_736_000,
            }),
        }
    }

    fn owner(state: &str) -> CardOwner {
        CardOwner {
            customer_id: 42,
            customer_no: CUSTOMER_NO,
            name: "Zhang Wei".into(),
            card_state: state.into(),
            void_reason: (state == "void").then(|| "replaced".to_owned()),
            balance: Decimal::new(2_500, 2),
            payment_methods: vec![
                PaymentMethod {
                    code: "cash".into(),
                    name: "Cash".into(),
                },
                PaymentMethod {
                    code: "wechat".into(),
                    name: "WeChat Pay".into(),
                },
            ],
        }
    }

    fn seen_user(card: UserCard) -> CardSeen {
        let active = Some(card.issue.clone());
        CardSeen::User {
            card: Box::new(card),
            owner: Some(owner("active")),
            active,
        }
    }

    /// The card read answers for the card just inserted.
    fn insert(app: &mut App, seen: CardSeen) {
        let sent = update(app, card_in()).requests;
        assert!(
            matches!(
                sent.as_slice(),
                [(_, Request::Card(CardRequest::Read { operator_id: 3, .. }))]
            ),
            "an inserted card is read: {sent:?}"
        );
        answer(
            app,
            &sent,
            Reply::Card(CardReply::Read {
                seen,
                settled: Vec::new(),
            }),
        );
    }

    fn top_line(app: &App) -> String {
        render(app).lines().next().unwrap().to_owned()
    }

    fn supervisor(app: &mut App) {
        app.session.as_mut().unwrap().roles = vec!["supervisor".into()];
    }

    fn open_card_screen(app: &mut App) {
        press(app, KeyCode::Char(':'));
        type_text(app, "card");
        press(app, KeyCode::Enter);
        assert!(matches!(app.screen, Screen::Card(_)));
    }

    /// 120.00 at 3.45 /m³ in a 1.00-to-50 / 3.45 stepped scheme, 60 m³ already bought.
    fn quote() -> Quote {
        let prices = PriceVersion::new(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            BillingMode::Stepped,
            vec![
                Tier {
                    up_to: Some(Decimal::new(50, 0)),
                    unit_price: Decimal::new(100, 2),
                },
                Tier {
                    up_to: None,
                    unit_price: Decimal::new(345, 2),
                },
            ],
            Decimal::new(9, 0),
        )
        .unwrap();
        let purchase = prices
            .charge_for_amount(Decimal::new(60, 0), Decimal::new(12_000, 2))
            .unwrap();
        Quote {
            litres: 34_782,
            not_taken: purchase.not_taken.to_decimal(),
            charge: purchase.charge,
        }
    }

    #[test]
    fn status_line_follows_the_card_as_it_comes_and_goes() {
        let mut app = signed_in(Lang::En);
        let mut lines = Vec::new();
        for state in [ReaderState::NoService, ReaderState::NoReader] {
            update(&mut app, Msg::Reader(state));
            lines.push(top_line(&app));
        }
        update(&mut app, no_card());
        lines.push(top_line(&app));
        let sent = update(&mut app, card_in()).requests;
        lines.push(top_line(&app));
        answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Read {
                seen: CardSeen::Blank,
                settled: Vec::new(),
            }),
        );
        lines.push(top_line(&app));
        update(&mut app, no_card());
        insert(&mut app, seen_user(user_card(5)));
        lines.push(top_line(&app));
        update(&mut app, no_card());
        insert(
            &mut app,
            CardSeen::User {
                card: Box::new(user_card(5)),
                owner: Some(owner("void")),
                active: None,
            },
        );
        lines.push(top_line(&app));
        update(&mut app, no_card());
        insert(&mut app, CardSeen::NotOurs);
        lines.push(top_line(&app));
        update(&mut app, no_card());
        lines.push(top_line(&app));
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn a_card_inserted_before_the_sign_in_is_read_after_it() {
        let mut app = app(Lang::En);
        assert!(
            update(&mut app, card_in()).requests.is_empty(),
            "no operator yet"
        );
        type_text(&mut app, "clerk");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "secret");
        let sent = press(&mut app, KeyCode::Enter);
        let next = answer(&mut app, &sent, Reply::LoggedIn(session()));
        assert!(
            next.iter()
                .any(|(_, r)| matches!(r, Request::Card(CardRequest::Read { .. }))),
            "{next:?}"
        );
    }

    #[test]
    fn a_read_that_answers_after_the_card_went_is_dropped() {
        let mut app = signed_in(Lang::En);
        let sent = update(&mut app, card_in()).requests;
        update(&mut app, no_card());
        let late = update(
            &mut app,
            Msg::Reply {
                id: sent[0].0,
                outcome: Ok(Reply::Card(CardReply::Read {
                    seen: CardSeen::Blank,
                    settled: Vec::new(),
                })),
            },
        );
        assert!(!late.redraw, "the answer is for a card that is gone");
        assert_eq!(app.card, None);
    }

    #[test]
    fn ic_card_screen_with_a_user_card() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(4)));
        open_card_screen(&mut app);
        insta::assert_snapshot!(render(&app));
    }

    #[test]
    fn ic_card_screen_in_chinese_with_a_chinese_name() {
        let mut app = signed_in(Lang::Zh);
        let mut seen = seen_user(user_card(4));
        if let CardSeen::User {
            owner: Some(owner), ..
        } = &mut seen
        {
            owner.name = "欧阳娜娜".into();
        }
        insert(&mut app, seen);
        open_card_screen(&mut app);
        insta::assert_snapshot!(render(&app));
    }

    #[test]
    fn recharge_is_confirmed_with_the_figures_then_written_and_receipted() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        open_card_screen(&mut app);
        press(&mut app, KeyCode::Char('r'));
        type_text(&mut app, "12x0");
        let sent = press(&mut app, KeyCode::Tab);
        assert!(sent.is_empty());
        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                _,
                Request::Card(CardRequest::Quote {
                    customer_id: 42,
                    quantity,
                }),
            ),
        ] = sent.as_slice()
        else {
            panic!("F2 asks for the price: {sent:?}")
        };
        assert_eq!(*quantity, Quantity::Amount(Decimal::new(12_000, 2)));
        answer(&mut app, &sent, Reply::Card(CardReply::Quote(Ok(quote()))));
        let confirmation = render(&app);
        assert!(
            confirmation.contains("Recharge 120.00 (34.782 m³) to card 40000017 of 10023457 Zhang"),
            "{confirmation}"
        );
        insta::assert_snapshot!("recharge_confirmation", confirmation);

        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                _,
                Request::Card(CardRequest::Write {
                    operation,
                    idempotency_key,
                    ..
                }),
            ),
        ] = sent.as_slice()
        else {
            panic!("F2 writes the card: {sent:?}")
        };
        assert!(matches!(operation, CardOp::Recharge { .. }));
        assert!(idempotency_key.starts_with("desk-"));
        // Keys typed while the card is written wait; F12 cannot call the write back.
        press(&mut app, KeyCode::Char('u'));
        press(&mut app, KeyCode::F(12));
        assert_eq!(app.in_flight.len(), 1, "the write is still awaited");
        assert!(
            app.type_ahead.is_empty(),
            "F12 dropped the typed-ahead keys"
        );
        let receipt = Receipt {
            receipt_no: 1017,
            at: Utc.with_ymd_and_hms(2026, 11, 28, 9, 30, 0).unwrap(),
            operator: "王芳".into(),
            customer_no: CUSTOMER_NO,
            name: "Zhang Wei".into(),
            meter_no: "WM-0042".into(),
            card_no: CARD,
            amount: quote().charge.amount.to_decimal(),
            volume: quote().charge.volume.to_decimal(),
            tiers: quote().charge.tiers,
            vat: Some(quote().charge.vat.to_decimal()),
            not_taken: quote().not_taken,
            method: Some("Cash".into()),
            balance: Decimal::ZERO,
        };
        let next = answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Done {
                kind: OperationKind::Recharge,
                card_no: CARD,
                receipt: Some(Box::new(receipt)),
                receipt_no: None,
            })),
        );
        assert!(
            next.iter().any(|(_, r)| matches!(
                r,
                Request::Card(CardRequest::KeepReceipt {
                    receipt_no: 1017,
                    ..
                })
            )),
            "the receipt is kept: {next:?}"
        );
        assert!(
            next.iter()
                .any(|(_, r)| matches!(r, Request::Card(CardRequest::Read { .. }))),
            "the card is read again: {next:?}"
        );
        insta::assert_snapshot!("recharge_receipt", render(&app));
    }

    #[test]
    fn recharge_form_offers_the_types_payment_methods_and_the_balance() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        open_card_screen(&mut app);
        press(&mut app, KeyCode::Char('r'));
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "10.5");
        press(&mut app, KeyCode::Tab);
        insta::assert_snapshot!("recharge_form", render(&app));
        type_text(&mut app, "we");
        press(&mut app, KeyCode::Enter);
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, Request::Card(CardRequest::Quote { quantity, .. }))] = sent.as_slice() else {
            panic!("F2 asks for the price: {sent:?}")
        };
        assert_eq!(*quantity, Quantity::Volume(Decimal::new(10_500, 3)));
        answer(&mut app, &sent, Reply::Card(CardReply::Quote(Ok(quote()))));
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, Request::Card(CardRequest::Write { operation, .. }))] = sent.as_slice() else {
            panic!("F2 writes the card: {sent:?}")
        };
        assert!(
            matches!(
                operation,
                CardOp::Recharge { payment: Payment::Method(code), .. } if code == "wechat"
            ),
            "{operation:?}"
        );
    }

    #[test]
    fn a_write_confirmed_again_after_a_failure_reuses_its_idempotency_key() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        open_card_screen(&mut app);
        press(&mut app, KeyCode::Char('r'));
        type_text(&mut app, "120");
        let sent = press(&mut app, KeyCode::F(2));
        answer(&mut app, &sent, Reply::Card(CardReply::Quote(Ok(quote()))));
        let key_of = |sent: &[(u64, Request)]| match sent {
            [
                (
                    _,
                    Request::Card(CardRequest::Write {
                        idempotency_key, ..
                    }),
                ),
            ] => idempotency_key.clone(),
            other => panic!("a card write: {other:?}"),
        };
        let first = press(&mut app, KeyCode::F(2));
        update(
            &mut app,
            Msg::Reply {
                id: first[0].0,
                outcome: Err(Failure::Error(Problem::new(
                    "failure.database",
                    "the commit was lost",
                ))),
            },
        );
        assert!(
            render(&app).contains("Recharge 120.00"),
            "the confirmation stays"
        );
        let again = press(&mut app, KeyCode::F(2));
        assert_eq!(key_of(&first), key_of(&again));
    }

    #[test]
    fn a_bad_amount_is_refused_at_the_field_and_kept() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        open_card_screen(&mut app);
        press(&mut app, KeyCode::Char('r'));
        type_text(&mut app, "12,50");
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent.is_empty(), "nothing is priced: {sent:?}");
        let screen = render(&app);
        assert!(screen.contains("12,50"), "what was typed is kept: {screen}");
        assert!(
            screen.contains('!'),
            "the error is next to the field: {screen}"
        );
    }

    #[test]
    fn recharge_is_refused_until_the_replacement_card_is_swiped_on_the_meter() {
        let mut app = signed_in(Lang::En);
        let mut card = user_card(5);
        card.issue = issue(2);
        card.purchase.as_mut().unwrap().generation = 2;
        insert(&mut app, seen_user(card));
        open_card_screen(&mut app);
        let sent = press(&mut app, KeyCode::Char('r'));
        assert!(sent.is_empty());
        insta::assert_snapshot!("recharge_refused_before_the_swipe", render(&app));
    }

    #[test]
    fn recharge_is_refused_while_the_meter_has_not_loaded_the_purchase() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(4)));
        open_card_screen(&mut app);
        press(&mut app, KeyCode::F(8));
        let message = app.message.clone().unwrap().text;
        assert!(message.contains("Swipe the meter first"), "{message}");
    }

    #[test]
    fn pending_operations_are_a_supervisors_list() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        open_card_screen(&mut app);
        let sent = press(&mut app, KeyCode::Char('p'));
        assert!(sent.is_empty(), "a clerk is refused");
        assert!(app.message.clone().unwrap().text.contains("supervisor"));
        supervisor(&mut app);
        let sent = press(&mut app, KeyCode::Char('p'));
        let rows = vec![PendingOperation {
            operation_id: 88,
            kind: OperationKind::Recharge,
            customer_id: 42,
            customer_no: CUSTOMER_NO,
            customer_name: "Zhang Wei".into(),
            card_no: i64::from(CARD),
            operator: "王芳".into(),
            started_at: Utc.with_ymd_and_hms(2026, 11, 28, 8, 5, 0).unwrap(),
        }];
        answer(&mut app, &sent, Reply::Card(CardReply::Pending(rows)));
        insta::assert_snapshot!(render(&app));

        // The card is lost: the supervisor settles the operation without it.
        press(&mut app, KeyCode::Char('w'));
        let screen = render(&app);
        assert!(
            screen.contains("Settle pending recharge #88 on card 40000017")
                && screen.contains("It counts as done"),
            "{screen}"
        );
        let sent = press(&mut app, KeyCode::F(2));
        assert!(matches!(
            sent.as_slice(),
            [(
                _,
                Request::Card(CardRequest::SettleWithoutCard {
                    operator_id: 3,
                    operation_id: 88
                })
            )]
        ));
        let next = answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::SettledWithoutCard(Some(Settled {
                operation_id: 88,
                kind: OperationKind::Recharge,
                customer_id: 42,
                state: OperationState::Done,
                now: true,
                receipt_no: None,
            }))),
        );
        assert!(
            matches!(next.as_slice(), [(_, Request::Card(CardRequest::Pending))]),
            "the list is fetched again: {next:?}"
        );
        assert_eq!(
            app.message.clone().unwrap().text,
            "Settled without its card: recharge #88, done."
        );
    }

    #[test]
    fn open_card_writes_only_a_blank_card_then_offers_the_recharge() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        let row_customer = card_customer_row(&mut app, None, "active");
        let sent = press(&mut app, KeyCode::F(6));
        assert!(sent.is_empty());
        assert!(render(&app).contains("Open a card for"));
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent.is_empty(), "a user card is not written: {sent:?}");
        let message = app.message.clone().unwrap().text;
        assert!(message.contains("not a blank card"), "{message}");

        update(&mut app, no_card());
        insert(&mut app, CardSeen::Blank);
        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                _,
                Request::Card(CardRequest::Write {
                    operation: CardOp::Open,
                    customer_id,
                    ..
                }),
            ),
        ] = sent.as_slice()
        else {
            panic!("F2 opens the card: {sent:?}")
        };
        assert_eq!(*customer_id, row_customer);
        answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Done {
                kind: OperationKind::Open,
                card_no: CARD,
                receipt: None,
                receipt_no: None,
            })),
        );
        assert!(render(&app).contains("Go to recharge"));
    }

    #[test]
    fn open_and_replace_on_a_row_refuse_at_once_what_the_row_shows() {
        let mut app = signed_in(Lang::En);
        supervisor(&mut app);
        insert(&mut app, CardSeen::Blank);
        let refused = |app: &mut App, key: u8, expected: &str| {
            let sent = press(app, KeyCode::F(key));
            assert!(sent.is_empty(), "nothing is sent: {sent:?}");
            assert!(
                matches!(app.screen, Screen::Customers(_)),
                "F{key} stays on the table for {expected:?}"
            );
            assert_eq!(app.message.clone().unwrap().text, expected);
        };
        // The first row is a postpaid customer; a system-prepaid one has no card meter either.
        refused(&mut app, 6, "This customer has no card meter.");
        refused(&mut app, 8, "This customer has no card meter.");
        let Screen::Customers(table) = &mut app.screen else {
            panic!("on the customer table")
        };
        table.page.rows[table.selected].account_kind = "prepaid".into();
        table.page.rows[table.selected].business_model = "system_prepaid".into();
        refused(&mut app, 7, "This customer has no card meter.");
        card_customer_row(&mut app, None, "closed");
        refused(&mut app, 6, "The customer's account is closed.");
        card_customer_row(&mut app, Some("active"), "active");
        refused(
            &mut app,
            6,
            "The customer already has an active card: use Replace card.",
        );
        card_customer_row(&mut app, Some("recycled"), "active");
        refused(
            &mut app,
            6,
            "The customer had cards before: issue the next one with Replace card.",
        );
        card_customer_row(&mut app, None, "active");
        refused(
            &mut app,
            7,
            "The customer has no card to replace: use Open card.",
        );
        // What the row allows goes to the confirmation, whose F2 the journal checks again.
        press(&mut app, KeyCode::F(6));
        assert!(render(&app).contains("Open a card for"));
        press(&mut app, KeyCode::F(12));
        press(&mut app, KeyCode::F(3));
        card_customer_row(&mut app, Some("void"), "active");
        press(&mut app, KeyCode::F(7));
        assert!(render(&app).contains("Reason: lost"));
    }

    #[test]
    fn replace_card_asks_the_reason_and_says_the_new_card_must_be_swiped_first() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, CardSeen::Blank);
        card_customer_row(&mut app, Some("active"), "active");
        press(&mut app, KeyCode::F(7));
        assert!(
            matches!(app.screen, Screen::Customers(_)),
            "a clerk is refused"
        );
        assert!(app.message.clone().unwrap().text.contains("supervisor"));
        supervisor(&mut app);
        press(&mut app, KeyCode::F(7));
        assert!(render(&app).contains("Reason: lost"));
        press(&mut app, KeyCode::Tab);
        assert!(render(&app).contains("Reason: damaged"));
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, Request::Card(CardRequest::Write { operation, .. }))] = sent.as_slice() else {
            panic!("F2 replaces the card: {sent:?}")
        };
        assert_eq!(
            *operation,
            CardOp::Replace {
                reason: LossReason::Damaged
            }
        );
        answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Done {
                kind: OperationKind::Replace,
                card_no: CARD,
                receipt: None,
                receipt_no: None,
            })),
        );
        let message = app.message.clone().unwrap().text;
        assert!(
            message.contains("must swipe the new card on the meter before the next recharge"),
            "{message}"
        );
    }

    #[test]
    fn keys_waiting_for_the_read_after_a_write_go_on_when_the_card_is_pulled() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, CardSeen::Blank);
        card_customer_row(&mut app, Some("active"), "active");
        supervisor(&mut app);
        press(&mut app, KeyCode::F(7));
        let sent = press(&mut app, KeyCode::F(2));
        let next = answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Done {
                kind: OperationKind::Replace,
                card_no: CARD,
                receipt: None,
                receipt_no: None,
            })),
        );
        assert!(
            next.iter().any(|(_, r)| matches!(
                r,
                Request::Card(CardRequest::Read {
                    after: meterdesk::app::card::ReadFor::AfterWrite,
                    ..
                })
            )),
            "{next:?}"
        );
        // F1 waits for the card as written; the card leaves before it is read.
        press(&mut app, KeyCode::F(1));
        assert_eq!(app.type_ahead.len(), 1);
        update(&mut app, no_card());
        assert!(app.type_ahead.is_empty(), "the waiting key went on");
        assert!(
            render(&app).contains("Help — keys on this screen"),
            "{}",
            render(&app)
        );
        // Later keys act at once again.
        press(&mut app, KeyCode::Esc);
        assert!(!render(&app).contains("Help — keys on this screen"));
        press(&mut app, KeyCode::F(1));
        assert!(app.type_ahead.is_empty());
        assert!(render(&app).contains("Help — keys on this screen"));
    }

    #[test]
    fn refund_is_a_supervisors_and_only_of_an_unloaded_purchase() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(4)));
        open_card_screen(&mut app);
        press(&mut app, KeyCode::F(9));
        assert!(app.message.clone().unwrap().text.contains("supervisor"));
        supervisor(&mut app);
        press(&mut app, KeyCode::F(9));
        let screen = render(&app);
        assert!(
            screen.contains("Refund the unloaded purchase of 12.500 m³ on card 40000017"),
            "{screen}"
        );
        let sent = press(&mut app, KeyCode::F(2));
        assert!(matches!(
            sent.as_slice(),
            [(
                _,
                Request::Card(CardRequest::Write {
                    operation: CardOp::Refund { .. },
                    ..
                })
            )]
        ));
        // A pending outcome tells the clerk what to do.
        answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Pending {
                operation_id: 91,
                cause: Problem::new("failure.card_none", "no card"),
            })),
        );
        let message = app.message.clone().unwrap().text;
        assert!(
            message.contains("#91 is pending (There is no card in the reader.)")
                && message.contains("put the same card back"),
            "{message}"
        );

        update(&mut app, no_card());
        insert(&mut app, seen_user(user_card(5)));
        press(&mut app, KeyCode::F(9));
        let message = app.message.clone().unwrap().text;
        assert!(message.contains("meter has loaded"), "{message}");
    }

    #[test]
    fn recycle_and_usage_records_of_the_card_on_the_reader() {
        let mut app = signed_in(Lang::En);
        insert(&mut app, seen_user(user_card(5)));
        open_card_screen(&mut app);
        let sent = press(&mut app, KeyCode::Char('u'));
        let [(_, Request::Card(CardRequest::Usage { of }))] = sent.as_slice() else {
            panic!("u asks for the usage records: {sent:?}")
        };
        assert_eq!(*of, UsageOf::Customer(42));
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let records = vec![
            UsageRecord {
                operation_id: 7,
                kind: OperationKind::Recharge,
                state: OperationState::Failed,
                card_no: i64::from(CARD),
                generation: 1,
                purchase_seq: Some(5),
                volume_litres: Some(12_500),
                amount: Some(Decimal::new(-2_500, 2)),
                operator: "王芳".into(),
                started_at: at,
                finished_at: Some(at),
                failure_reason: Some("not_on_card".into()),
            },
            UsageRecord {
                operation_id: 3,
                kind: OperationKind::Open,
                state: OperationState::Done,
                card_no: i64::from(CARD),
                generation: 1,
                purchase_seq: None,
                volume_litres: None,
                amount: None,
                operator: "Li Ming".into(),
                started_at: at - chrono::Duration::days(30),
                finished_at: Some(at),
                failure_reason: None,
            },
        ];
        answer(&mut app, &sent, Reply::Card(CardReply::Usage(records)));
        insta::assert_snapshot!("card_usage_records", render(&app));
        press(&mut app, KeyCode::F(3));
        press(&mut app, KeyCode::Char('y'));
        assert!(render(&app).contains("Wipe card 40000017 of 10023457 Zhang Wei back to blank?"));
        let sent = press(&mut app, KeyCode::F(2));
        assert!(matches!(
            sent.as_slice(),
            [(
                _,
                Request::Card(CardRequest::Write {
                    operation: CardOp::Recycle,
                    ..
                })
            )]
        ));
        answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Refused(Refusal::Recycle(
                RecycleRefusal::UnloadedPurchase,
            )))),
        );
        let message = app.message.clone().unwrap().text;
        assert!(
            message.contains("swipe the meter or refund it"),
            "{message}"
        );

        // The refusal wrote nothing: the card is read again without holding the keys.
        assert!(!app.holds_input());
        press(&mut app, KeyCode::F(3));
        press(&mut app, KeyCode::Char('y'));
        let sent = press(&mut app, KeyCode::F(2));
        answer(
            &mut app,
            &sent,
            Reply::Card(CardReply::Written(Written::Done {
                kind: OperationKind::Recycle,
                card_no: CARD,
                receipt: None,
                receipt_no: None,
            })),
        );
        assert_eq!(
            app.message.clone().unwrap().text,
            "The card is blank again."
        );
    }

    /// Makes the selected row a card-meter customer in `status` whose newest card is in
    /// `card_state`; returns the customer's id.
    fn card_customer_row(app: &mut App, card_state: Option<&str>, status: &str) -> i64 {
        let Screen::Customers(table) = &mut app.screen else {
            panic!("on the customer table")
        };
        let row = &mut table.page.rows[table.selected];
        row.account_kind = "prepaid".into();
        row.business_model = "meter_prepaid".into();
        row.card_state = card_state.map(str::to_owned);
        row.status = status.into();
        row.id
    }
}
// ───────────────────────────── Reference data screens ─────────────────────────────

mod reference {
    use std::sync::Arc;

    use super::*;
    use chrono::NaiveDate;
    use meterdesk::app::refdata::{ImportCheck, RefReply, RefRequest, RefScreen};
    use meterdesk::app::state::MessageKind;
    use meterdesk::db::customer_types::{CustomerTypeInput, CustomerTypeOutcome, CustomerTypeRow};
    use meterdesk::db::customers::PageAt;
    use meterdesk::db::meters::{
        ImportReport, Meter, MeterListRow, MeterListing, MeterType, MeterTypeRow,
    };
    use meterdesk::db::price_schemes::{SchemeDetail, SchemeRow, SchemeVersion};
    use meterdesk::domain::customer_rules::{
        AccountKind, BusinessModel, CustomerTypeProblem, Nature, PaymentModel,
    };
    use meterdesk::domain::meter_csv::{
        LineError, LineProblem, MeterCsv, MeterNo, MeterNoError, MeterRow,
    };
    use meterdesk::domain::money::Volume;
    use meterdesk::domain::pricing::{BillingMode, Tier};

    const SUPERVISOR: [&str; 5] = [
        "customer.view",
        "meter.maintain",
        "meter.import",
        "price.maintain",
        "customer_type.maintain",
    ];

    /// Signed in with these permissions, then `:name` typed on the command line.
    fn at_command(permissions: &[&str], name: &str) -> (App, Vec<(u64, Request)>) {
        let mut app = signed_in(Lang::En);
        if let Some(session) = app.session.as_mut() {
            session.permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
        }
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, name);
        let sent = press(&mut app, KeyCode::Enter);
        (app, sent)
    }

    fn reply(app: &mut App, id: u64, reply: RefReply) -> Vec<(u64, Request)> {
        update(
            app,
            Msg::Reply {
                id,
                outcome: Ok(Reply::Ref(reply)),
            },
        )
        .requests
    }

    fn ref_requests(sent: &[(u64, Request)]) -> Vec<(u64, RefRequest)> {
        sent.iter()
            .filter_map(|(id, request)| match request {
                Request::Ref(_, request) => Some((*id, request.clone())),
                _ => None,
            })
            .collect()
    }

    fn meter_type(id: i64, name: &str, prepayment: bool) -> MeterType {
        MeterType {
            id,
            name: name.into(),
            payment_model: if prepayment {
                PaymentModel::Prepayment
            } else {
                PaymentModel::Postpayment
            },
            takes_card: prepayment,
            caliber: "DN15".into(),
            manufacturer: "宁波水表".into(),
        }
    }

    fn meter_type_rows() -> Vec<MeterTypeRow> {
        vec![
            MeterTypeRow {
                meter_type: meter_type(1, "IC 卡表 DN15", true),
                meters: 12_345,
                customer_types: 2,
            },
            MeterTypeRow {
                meter_type: meter_type(2, "Plain DN20 with a very long name indeed", false),
                meters: 0,
                customer_types: 0,
            },
        ]
    }

    fn meter_row(n: i64, installed: bool) -> MeterListRow {
        MeterListRow {
            meter: Meter {
                id: n,
                meter_no: format!("M{:08}", n),
                meter_type_id: 1,
                meter_type: "IC 卡表 DN15".into(),
                initial_electronic_reading: Decimal::new(n * 125, 3),
                initial_mechanical_reading: Decimal::ZERO,
            },
            status: if installed {
                "installed"
            } else {
                "uninstalled"
            }
            .into(),
            customer: installed.then(|| (10_000_017 + n, "欧阳娜娜".to_owned())),
        }
    }

    fn meter_page(rows: usize, installed: bool) -> Page<MeterListRow> {
        Page {
            rows: (1..=rows as i64).map(|n| meter_row(n, installed)).collect(),
            more_before: false,
            more_after: true,
        }
    }

    #[test]
    fn meter_types_list_add_form_and_permissions() {
        let (mut clerk, sent) = at_command(&["customer.view"], "metertypes");
        let [(id, RefRequest::MeterTypes)] = ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        reply(&mut clerk, id, RefReply::MeterTypes(meter_type_rows()));
        insta::assert_snapshot!("meter_types_list", render(&clerk));
        press(&mut clerk, KeyCode::Char('a'));
        let message = clerk.message.clone().expect("a refusal");
        assert_eq!(message.kind, MessageKind::Error);
        assert!(message.text.contains("meter.maintain"), "{message:?}");
        assert!(matches!(
            clerk.screen,
            Screen::Ref(RefScreen::MeterTypes(_))
        ));

        let (mut app, sent) = at_command(&SUPERVISOR, "metertypes");
        reply(&mut app, sent[0].0, RefReply::MeterTypes(meter_type_rows()));
        // In use: refused at once, with the figures.
        press(&mut app, KeyCode::Char('x'));
        let text = app.message.clone().unwrap().text;
        assert!(text.contains("12345 meters"), "{text}");
        press(&mut app, KeyCode::Insert);
        type_text(&mut app, "Card DN25");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "pre");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::Home);
        press(&mut app, KeyCode::Char('x'));
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "Acme");
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent.is_empty(), "a bad caliber sends nothing");
        insta::assert_snapshot!("meter_type_form_with_an_error", render(&app));
        // F2 put the cursor on the bad field.
        press(&mut app, KeyCode::Home);
        press(&mut app, KeyCode::Delete);
        press(&mut app, KeyCode::End);
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Backspace);
        type_text(&mut app, "25");
        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                id,
                RefRequest::SaveMeterType {
                    id: None,
                    name,
                    payment_model,
                    caliber,
                    ..
                },
            ),
        ] = &ref_requests(&sent)[..]
        else {
            panic!("{sent:?}")
        };
        assert_eq!(
            (name.as_str(), *payment_model, caliber.as_str()),
            ("Card DN25", PaymentModel::Prepayment, "DN25")
        );
        let next = reply(
            &mut app,
            *id,
            RefReply::MeterTypeSaved(meterdesk::db::meters::MeterTypeOutcome::Saved { id: 3 }),
        );
        assert!(matches!(app.screen, Screen::Ref(RefScreen::MeterTypes(_))));
        assert!(matches!(
            ref_requests(&next)[..],
            [(_, RefRequest::MeterTypes)]
        ));
        // The unused type: asked once, F2 deletes.
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Delete);
        assert!(
            app.message
                .clone()
                .unwrap()
                .text
                .starts_with("Delete Plain")
        );
        let sent = press(&mut app, KeyCode::F(2));
        assert!(matches!(
            ref_requests(&sent)[..],
            [(_, RefRequest::DeleteMeterType { id: 2, .. })]
        ));
    }

    #[test]
    fn meters_uninstalled_and_installed_read_only() {
        let (mut app, sent) = at_command(&SUPERVISOR, "meters");
        let requests = ref_requests(&sent);
        let [
            (types, RefRequest::MeterTypes),
            (page, RefRequest::Meters { size, .. }),
        ] = requests[..]
        else {
            panic!("{requests:?}")
        };
        assert_eq!(size, 19);
        reply(&mut app, types, RefReply::MeterTypes(meter_type_rows()));
        reply(&mut app, page, RefReply::Meters(meter_page(19, false)));
        insta::assert_snapshot!("meters_uninstalled", render(&app));

        // Search by prefix: a new first page.
        press(&mut app, KeyCode::Char('/'));
        let sent = press(&mut app, KeyCode::Char('m'));
        assert!(matches!(
            &ref_requests(&sent)[..],
            [(_, RefRequest::Meters { prefix, at: PageAt::First, .. })] if prefix == "m"
        ));
        // A digit an input method types full-width searches as its ASCII twin.
        let sent = press(&mut app, KeyCode::Char('０'));
        assert!(matches!(
            &ref_requests(&sent)[..],
            [(_, RefRequest::Meters { prefix, .. })] if prefix == "m0"
        ));
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Enter);
        // Past the last row: one more row after it.
        for _ in 0..18 {
            press(&mut app, KeyCode::Down);
        }
        let sent = press(&mut app, KeyCode::Down);
        assert!(matches!(
            &ref_requests(&sent)[..],
            [(_, RefRequest::Meters { at: PageAt::After(no), size: 1, .. })] if no == "M00000019"
        ));

        let sent = press(&mut app, KeyCode::Char('l'));
        let [
            (
                id,
                RefRequest::Meters {
                    listing: MeterListing::Placed,
                    ..
                },
            ),
        ] = ref_requests(&sent)[..]
        else {
            panic!("{sent:?}")
        };
        reply(&mut app, id, RefReply::Meters(meter_page(3, true)));
        press(&mut app, KeyCode::Char('m'));
        let message = app.message.clone().unwrap();
        assert_eq!(message.kind, MessageKind::Error);
        assert!(
            message.text.contains("10000018 欧阳娜娜"),
            "{}",
            message.text
        );
        assert!(matches!(app.screen, Screen::Ref(RefScreen::Meters(_))));
        insta::assert_snapshot!("meters_installed_read_only", render(&app));
        let sent = press(&mut app, KeyCode::Char('x'));
        assert!(sent.is_empty(), "an installed meter is never deleted");
    }

    /// `:meters` answered: the meter types and three uninstalled meters.
    fn meters_screen() -> App {
        let (mut app, sent) = at_command(&SUPERVISOR, "meters");
        let requests = ref_requests(&sent);
        reply(
            &mut app,
            requests[0].0,
            RefReply::MeterTypes(meter_type_rows()),
        );
        reply(
            &mut app,
            requests[1].0,
            RefReply::Meters(meter_page(3, false)),
        );
        app
    }

    #[test]
    fn meter_form_adds_and_modifies_without_the_number() {
        let mut app = meters_screen();
        press(&mut app, KeyCode::Char('a'));
        type_text(&mut app, "ab-12");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::F(4));
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "1.2345");
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent.is_empty());
        insta::assert_snapshot!("meter_form_reading_error", render(&app));
        press(&mut app, KeyCode::Backspace);
        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                _,
                RefRequest::SaveMeter {
                    add: true,
                    meter_no,
                    fields,
                    ..
                },
            ),
        ] = &ref_requests(&sent)[..]
        else {
            panic!("{sent:?}")
        };
        assert_eq!(meter_no.as_str(), "AB-12");
        assert_eq!(fields.meter_type_id, 1);
        assert_eq!(fields.initial_electronic_reading, Decimal::new(1234, 3));

        let mut app = meters_screen();
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('m'));
        insta::assert_snapshot!("meter_modify_form", render(&app));
        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                id,
                RefRequest::SaveMeter {
                    add: false,
                    meter_no,
                    ..
                },
            ),
        ] = &ref_requests(&sent)[..]
        else {
            panic!("{sent:?}")
        };
        assert_eq!(meter_no.as_str(), "M00000002");
        reply(
            &mut app,
            *id,
            RefReply::MeterSaved(meterdesk::db::meters::MeterOutcome::NotUninstalled {
                status: "installed".into(),
            }),
        );
        let message = app.message.clone().unwrap();
        assert!(message.text.contains("installed now"), "{}", message.text);
        assert!(
            matches!(app.screen, Screen::Ref(RefScreen::Form(_))),
            "the form stays with what was typed"
        );
    }

    /// The meter add form filled in (AB-12, the first meter type), F2 pressed.
    fn meter_add_sent() -> (App, Vec<(u64, Request)>) {
        let mut app = meters_screen();
        press(&mut app, KeyCode::Char('a'));
        type_text(&mut app, "ab-12");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::F(4));
        press(&mut app, KeyCode::Enter);
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, RefRequest::SaveMeter { add: true, .. })] = &ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        (app, sent)
    }

    #[test]
    fn a_reference_save_that_lost_the_database_waits_and_is_sent_again_with_its_key() {
        let (mut app, sent) = meter_add_sent();
        let key = ref_requests(&sent)[0]
            .1
            .idempotency_key()
            .map(str::to_owned);
        assert!(
            key.as_ref().is_some_and(|key| key.starts_with("desk-")),
            "{key:?}"
        );

        super::connection_lost(&mut app, &sent);
        assert_eq!(app.database, DbStatus::Reconnecting);
        let screen = render(&app);
        assert!(
            screen.contains("The save waits for the database"),
            "told it waits, not asked to retype: {screen}"
        );
        assert!(!screen.contains("! "), "no error: {screen}");
        insta::assert_snapshot!("meter_form_waits_for_the_database", screen);
        // What was sent is what will be saved: no second save, no edit meanwhile.
        for code in [KeyCode::F(2), KeyCode::Enter, KeyCode::Char('9')] {
            assert!(press(&mut app, code).is_empty(), "{code:?} sends nothing");
        }
        let Screen::Ref(RefScreen::Form(form)) = &app.screen else {
            panic!("the form stays")
        };
        assert_eq!(form.form.value(0), "ab-12", "nothing typed into it");
        assert!(render(&app).contains("The save waits for the database"));

        let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
        assert_eq!(
            resent.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            sent.iter().map(|(_, r)| r).collect::<Vec<_>>(),
            "sent again as it was, with the same idempotency key"
        );
        let next = reply(
            &mut app,
            resent[0].0,
            RefReply::MeterSaved(meterdesk::db::meters::MeterOutcome::Done),
        );
        assert!(matches!(app.screen, Screen::Ref(RefScreen::Meters(_))));
        assert_eq!(
            app.message.as_ref().map(|m| m.text.as_str()),
            Some("Saved.")
        );
        assert!(
            matches!(&ref_requests(&next)[..], [(_, RefRequest::Meters { .. })]),
            "the list is fetched again: {next:?}"
        );
        // The answer freed the screen: the next add is a new change with a new key.
        press(&mut app, KeyCode::Char('a'));
        type_text(&mut app, "ab-13");
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::F(4));
        press(&mut app, KeyCode::Enter);
        let again = press(&mut app, KeyCode::F(2));
        let other = ref_requests(&again)[0]
            .1
            .idempotency_key()
            .map(str::to_owned);
        assert!(other.is_some() && other != key, "{other:?}");
    }

    #[test]
    fn a_reference_change_answered_after_the_clerk_left_is_still_told() {
        // A delete on the list waits; the list takes no second change meanwhile.
        let mut app = meters_screen();
        press(&mut app, KeyCode::Char('x'));
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, RefRequest::DeleteMeter { .. })] = &ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        super::connection_lost(&mut app, &sent);
        for code in [KeyCode::Char('x'), KeyCode::Char('a'), KeyCode::Char('m')] {
            assert!(press(&mut app, code).is_empty(), "{code:?}");
            assert!(render(&app).contains("The save waits for the database"));
        }
        assert!(
            matches!(app.screen, Screen::Ref(RefScreen::Meters(_))),
            "no form opened"
        );

        // A save waits too, and the clerk leaves its form (asked once: it has changes).
        let (mut app, sent) = meter_add_sent();
        super::connection_lost(&mut app, &sent);
        press(&mut app, KeyCode::F(3));
        press(&mut app, KeyCode::F(3));
        assert!(matches!(app.screen, Screen::Ref(RefScreen::Meters(_))));
        let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
        assert_eq!(resent[0].1, sent[0].1);
        // Refused: said on the message line, not put on a form that is not the sender's.
        press(&mut app, KeyCode::Char('a'));
        reply(
            &mut app,
            resent[0].0,
            RefReply::MeterSaved(meterdesk::db::meters::MeterOutcome::NumberTaken),
        );
        let Screen::Ref(RefScreen::Form(form)) = &app.screen else {
            panic!("the new form stays")
        };
        assert!(
            form.form.first_error().is_none(),
            "the new form is untouched"
        );
        let message = app.message.clone().unwrap();
        assert_eq!(message.kind, MessageKind::Error);
        assert!(message.text.contains("exists"), "{}", message.text);
    }

    fn checked_file() -> ImportCheck {
        let row = |line: usize, no: &str| MeterRow {
            line,
            meter_no: MeterNo::parse(no).unwrap(),
            meter_type_id: 1,
            initial_electronic_reading: Volume::ZERO,
            initial_mechanical_reading: Volume::ZERO,
        };
        let mut errors = vec![
            LineError {
                line: 3,
                problem: LineProblem::MeterNo(MeterNoError::Character(' ')),
            },
            LineError {
                line: 4,
                problem: LineProblem::UnknownMeterType("Gold\u{1b}[31m DN99".into()),
            },
            LineError {
                line: 6,
                problem: LineProblem::DuplicateInFile {
                    meter_no: "A6".into(),
                    other_lines: vec![7],
                },
            },
            LineError {
                line: 7,
                problem: LineProblem::DuplicateInFile {
                    meter_no: "A6".into(),
                    other_lines: vec![6],
                },
            },
            LineError {
                line: 9,
                problem: LineProblem::AlreadyInDatabase("A9".into()),
            },
        ];
        errors.extend((20..60).map(|line| LineError {
            line,
            problem: LineProblem::ColumnCount { found: 3 },
        }));
        ImportCheck {
            csv: Arc::new(MeterCsv {
                rows: vec![row(2, "A1"), row(5, "A5"), row(9, "A9")],
                errors: Vec::new(),
            }),
            errors,
            good: 2,
        }
    }

    #[test]
    fn meter_import_reports_lines_and_lets_the_clerk_choose() {
        let mut app = meters_screen();
        // F12 while a file is being checked: back to the list, the check dropped.
        press(&mut app, KeyCode::Char('i'));
        type_text(&mut app, "/huge.csv");
        press(&mut app, KeyCode::F(2));
        press(&mut app, KeyCode::F(12));
        assert!(matches!(app.screen, Screen::Ref(RefScreen::Meters(_))));
        assert!(app.in_flight.is_empty(), "{:?}", app.in_flight);

        press(&mut app, KeyCode::Char('i'));
        type_text(&mut app, "/home/counter/meters.csv");
        insta::assert_snapshot!("import_path", render(&app));
        let sent = press(&mut app, KeyCode::F(2));
        let [(id, RefRequest::CheckImport { path })] = &ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        assert_eq!(path, "/home/counter/meters.csv");
        reply(&mut app, *id, RefReply::ImportChecked(Ok(checked_file())));
        insta::assert_snapshot!("import_checked", render(&app));
        for _ in 0..3 {
            press(&mut app, KeyCode::PageDown);
        }
        let screen = render(&app);
        assert!(screen.contains("line 59:"), "the list scrolls: {screen}");

        // F12: import nothing, nothing sent, back on the list.
        let sent = press(&mut app, KeyCode::F(12));
        assert!(sent.is_empty());
        assert!(matches!(app.screen, Screen::Ref(RefScreen::Meters(_))));
        assert_eq!(app.message.clone().unwrap().text, "Nothing was imported.");

        // A file without a good row: F2 has nothing to import and says so.
        press(&mut app, KeyCode::Char('i'));
        type_text(&mut app, "bad.csv");
        let sent = press(&mut app, KeyCode::F(2));
        let mut nothing_good = checked_file();
        nothing_good.good = 0;
        reply(
            &mut app,
            sent[0].0,
            RefReply::ImportChecked(Ok(nothing_good)),
        );
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent.is_empty());
        assert_eq!(app.message.clone().unwrap().kind, MessageKind::Error);
        press(&mut app, KeyCode::F(12));

        // Again, and F2: the good rows, with progress on the queue.
        press(&mut app, KeyCode::Char('i'));
        type_text(&mut app, "meters.csv");
        let sent = press(&mut app, KeyCode::F(2));
        reply(
            &mut app,
            sent[0].0,
            RefReply::ImportChecked(Ok(checked_file())),
        );
        let sent = press(&mut app, KeyCode::F(2));
        let [(id, RefRequest::Import { choice, csv, .. })] = &ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        assert_eq!(*choice, meterdesk::db::meters::ImportChoice::GoodRows);
        assert_eq!(csv.rows.len(), 3);
        let redraw = update(
            &mut app,
            Msg::Progress {
                id: *id,
                done: 45_000,
                total: 100_000,
            },
        )
        .redraw;
        assert!(redraw);
        insta::assert_snapshot!("import_progress", render(&app));
        // The database refuses the import (rolled back whole): the check is shown again and
        // F2 sends it once more, under a new key.
        update(
            &mut app,
            Msg::Reply {
                id: *id,
                outcome: Err(Failure::Error(Problem::new(
                    "failure.database",
                    "deadlock detected",
                ))),
            },
        );
        assert!(
            render(&app).contains("deadlock detected"),
            "{}",
            render(&app)
        );
        let again = press(&mut app, KeyCode::F(2));
        let [
            (
                id,
                RefRequest::Import {
                    idempotency_key, ..
                },
            ),
        ] = &ref_requests(&again)[..]
        else {
            panic!("F2 imports again after the failure: {again:?}")
        };
        let [
            (
                _,
                RefRequest::Import {
                    idempotency_key: first_key,
                    ..
                },
            ),
        ] = &ref_requests(&sent)[..]
        else {
            unreachable!()
        };
        assert_ne!(
            idempotency_key, first_key,
            "a rolled-back import is a new write"
        );
        press(&mut app, KeyCode::F(12));
        assert!(
            app.in_flight.iter().any(|f| f.id == *id),
            "F12 does not drop an import on its way: it may have been committed"
        );
        reply(
            &mut app,
            *id,
            RefReply::Imported(ImportReport {
                imported: 2,
                errors: checked_file().errors,
            }),
        );
        insta::assert_snapshot!("import_done", render(&app));
        let sent = press(&mut app, KeyCode::F(3));
        assert!(matches!(app.screen, Screen::Ref(RefScreen::Meters(_))));
        assert!(
            matches!(ref_requests(&sent)[..], [(_, RefRequest::Meters { .. })]),
            "the list is fetched again: {sent:?}"
        );
    }

    fn scheme_row() -> SchemeRow {
        SchemeRow {
            id: 7,
            name: "居民阶梯水价".into(),
            kind: AccountKind::Prepaid,
            mode: BillingMode::Stepped,
            vat_percent: Decimal::new(9, 0),
            accumulation_months: Some(12),
            settlement_months: None,
            start_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            current_from: NaiveDate::from_ymd_opt(2025, 1, 1),
            versions: 2,
            used_by: 3,
        }
    }

    fn tier(up_to: Option<i64>, cents: i64) -> Tier {
        Tier {
            up_to: up_to.map(Decimal::from),
            unit_price: Decimal::new(cents, 2),
        }
    }

    #[test]
    fn price_schemes_list_and_a_price_preview() {
        let (mut app, sent) = at_command(&SUPERVISOR, "schemes");
        let mut postpaid = scheme_row();
        postpaid.id = 8;
        postpaid.name = "Commercial fixed".into();
        postpaid.kind = AccountKind::Postpaid;
        postpaid.mode = BillingMode::Fixed;
        postpaid.accumulation_months = None;
        postpaid.settlement_months = Some(2);
        postpaid.used_by = 0;
        reply(
            &mut app,
            sent[0].0,
            RefReply::Schemes(vec![scheme_row(), postpaid]),
        );
        insta::assert_snapshot!("schemes_list", render(&app));
        let sent = press(&mut app, KeyCode::Enter);
        let [(id, RefRequest::Scheme { id: 7 })] = ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        let detail = SchemeDetail {
            row: scheme_row(),
            versions: vec![
                SchemeVersion {
                    effective_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                    tiers: vec![tier(Some(50), 100), tier(Some(100), 200), tier(None, 300)],
                },
                SchemeVersion {
                    effective_from: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                    tiers: vec![tier(Some(50), 120), tier(None, 350)],
                },
            ],
        };
        reply(&mut app, id, RefReply::Scheme(Some(Box::new(detail))));
        type_text(&mut app, "90");
        insta::assert_snapshot!("scheme_price_preview", render(&app));
        // The manual's Q2: 60 m³ after 30 accumulated costs 100.00.
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Backspace);
        type_text(&mut app, "60");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "30");
        let screen = render(&app);
        assert!(screen.contains("Amount 100.00"), "{screen}");
        assert!(
            screen.contains("tier 2: 40.000 m³ × 2.0000 = 80"),
            "{screen}"
        );
        press(&mut app, KeyCode::Char('?'));
        assert!(
            matches!(app.overlay, Some(meterdesk::app::state::Overlay::Help)),
            "? is help, not part of the volume"
        );
        press(&mut app, KeyCode::Esc);
        // F8 from here: the prices in force to start from.
        press(&mut app, KeyCode::Char('n'));
        type_text(&mut app, "2020-01-01");
        let sent = press(&mut app, KeyCode::F(2));
        let [(id, RefRequest::ChangePrices { tiers, .. })] = &ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        assert_eq!(
            tiers.len(),
            3,
            "the prices in force were the starting point"
        );
        reply(
            &mut app,
            *id,
            RefReply::SchemeSaved(meterdesk::db::price_schemes::SchemeOutcome::PastDate {
                today: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            }),
        );
        insta::assert_snapshot!("price_change_refused_past_date", render(&app));
    }

    #[test]
    fn a_new_scheme_with_falling_prices_is_refused_at_the_tier() {
        let (mut app, sent) = at_command(&SUPERVISOR, "schemes");
        reply(&mut app, sent[0].0, RefReply::Schemes(vec![scheme_row()]));
        press(&mut app, KeyCode::Char('a'));
        type_text(&mut app, "Shops stepped");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "pre");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "step");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "2027-01-01");
        press(&mut app, KeyCode::Tab); // VAT 9 stays
        type_text(&mut app, "12");
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "50");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "2.00");
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "1.00");
        let sent = press(&mut app, KeyCode::F(2));
        assert!(sent.is_empty(), "{sent:?}");
        let message = app.message.clone().unwrap().text;
        assert!(message.contains("below the previous tier"), "{message}");
        insta::assert_snapshot!("scheme_form_falling_prices", render(&app));
    }

    fn customer_type_row(id: i64, name: &str, customers: i64) -> CustomerTypeRow {
        CustomerTypeRow {
            id,
            input: CustomerTypeInput {
                name: name.into(),
                nature: Nature::Personal,
                business_model: BusinessModel::MeterPrepaid,
                meter_type_ids: vec![1],
                counts_water_usage: true,
                charges: true,
                price_scheme_id: Some(7),
                payment_methods: vec!["cash".into(), "wechat_pay".into()],
            },
            meter_type_names: vec!["IC 卡表 DN15".into()],
            price_scheme_name: Some("居民阶梯水价".into()),
            customers,
        }
    }

    #[test]
    fn customer_types_refusals_are_shown_clearly() {
        let (mut app, sent) = at_command(&SUPERVISOR, "custtypes");
        let choices = meterdesk::app::refdata::TypeChoices {
            meter_types: meter_type_rows()
                .into_iter()
                .map(|r| r.meter_type)
                .collect(),
            schemes: vec![scheme_row()],
            payment_methods: vec![
                ("cash".into(), "Cash".into()),
                ("wechat_pay".into(), "WeChat Pay".into()),
            ],
        };
        reply(
            &mut app,
            sent[0].0,
            RefReply::CustomerTypes {
                rows: vec![
                    customer_type_row(1, "居民卡表", 250_000),
                    customer_type_row(2, "Spare type", 0),
                ],
                choices,
            },
        );
        insta::assert_snapshot!("customer_types_list", render(&app));
        let sent = press(&mut app, KeyCode::Char('x'));
        assert!(sent.is_empty());
        assert_eq!(
            app.message.clone().unwrap().text,
            "250000 customers have this type: it cannot be deleted"
        );
        press(&mut app, KeyCode::Char('m'));
        insta::assert_snapshot!("customer_type_form", render(&app));
        // Business model to system prepaid: the server refuses, the field says why.
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "system");
        press(&mut app, KeyCode::Enter);
        let sent = press(&mut app, KeyCode::F(2));
        let [
            (
                id,
                RefRequest::SaveCustomerType {
                    id: Some(1), input, ..
                },
            ),
        ] = &ref_requests(&sent)[..]
        else {
            panic!("{sent:?}")
        };
        assert_eq!(input.business_model, BusinessModel::SystemPrepaid);
        assert_eq!(input.payment_methods, ["cash", "wechat_pay"]);
        reply(
            &mut app,
            *id,
            RefReply::CustomerTypeSaved(CustomerTypeOutcome::Refused(vec![
                CustomerTypeProblem::BusinessModelInUse,
                CustomerTypeProblem::MeterTypeDoesNotFit {
                    meter_type: "IC 卡表 DN15".into(),
                    needs: PaymentModel::Postpayment,
                    business_model: BusinessModel::SystemPrepaid,
                },
            ])),
        );
        insta::assert_snapshot!("customer_type_refused", render(&app));
        // Meter types are ticked in their list: F4, the second one, Enter; Esc closes.
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::F(4));
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Enter);
        insta::assert_snapshot!("customer_type_meter_types_ticked", render(&app));
        press(&mut app, KeyCode::Esc);
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, RefRequest::SaveCustomerType { input, .. })] = &ref_requests(&sent)[..] else {
            panic!("{sent:?}")
        };
        assert_eq!(input.meter_type_ids, [1, 2]);
    }

    #[test]
    fn the_overview_lists_the_reference_screens() {
        let mut app = signed_in(Lang::En);
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, "overview");
        press(&mut app, KeyCode::Enter);
        let screen = render(&app);
        for name in [":meters", ":metertypes", ":schemes", ":custtypes"] {
            assert!(screen.contains(name), "{name}: {screen}");
        }
        press(&mut app, KeyCode::Char(':'));
        type_text(&mut app, "cust");
        press(&mut app, KeyCode::Tab);
        let sent = press(&mut app, KeyCode::Enter);
        assert!(matches!(
            ref_requests(&sent)[..],
            [(_, RefRequest::CustomerTypes)]
        ));
        assert_eq!(app.breadcrumbs().last().unwrap(), "Customer types");
    }
}
// ───────────────────────────── Customer management screens ─────────────────────────────

use meterdesk::app::accounts::WizardStep;
use meterdesk::db::customer_changes::{
    CustomerBasics, ModifyOutcome, OpenOutcome, OpenedAccount, TransferOutcome, TransferPreview,
};
use meterdesk::db::customer_types::CustomerTypeOption;
use meterdesk::db::meters::Meter;
use meterdesk::domain::customer_number::CustomerNumber;
use meterdesk::domain::customer_rules::{
    AccountKind, BasicInfo as Info, BusinessModel, Field, Nature, PersonalInfo,
};

fn customer_types() -> Vec<CustomerTypeOption> {
    vec![
        CustomerTypeOption {
            id: 1,
            name: "居民卡表".into(),
            nature: Nature::Personal,
            business_model: BusinessModel::MeterPrepaid,
            meter_type_ids: vec![1],
        },
        CustomerTypeOption {
            id: 2,
            name: "Shops\x1b[5m postpaid".into(),
            nature: Nature::Enterprise,
            business_model: BusinessModel::Postpaid,
            meter_type_ids: vec![2],
        },
    ]
}

fn meter_page(first: i64, count: i64) -> Vec<Meter> {
    (first..first + count)
        .map(|id| Meter {
            id,
            meter_no: format!("M{:08}", 30_000 + id),
            meter_type_id: 1,
            meter_type: "Card DN15".into(),
            initial_electronic_reading: Decimal::new(125, 1),
            initial_mechanical_reading: Decimal::ZERO,
        })
        .collect()
}

/// The only request sent, which must be of the kind `what` describes.
fn only(sent: &[(u64, Request)]) -> &Request {
    let [(_, request)] = sent else {
        panic!("one request: {sent:?}")
    };
    request
}

fn wizard(app: &App) -> &meterdesk::app::accounts::OpenAccount {
    let Screen::OpenAccount(wizard) = &app.screen else {
        panic!("the wizard is on screen")
    };
    wizard
}

/// `o` on the table, the types answered: step 1 with its list open.
fn wizard_at_step_1() -> App {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::Char('o'));
    assert_eq!(only(&sent), &Request::CustomerTypes);
    answer(&mut app, &sent, Reply::CustomerTypes(customer_types()));
    app
}

/// Step 2 of the personal type with a name, a mobile and an address typed.
fn wizard_at_step_2() -> App {
    let mut app = wizard_at_step_1();
    press(&mut app, KeyCode::Enter); // the first type, 居民卡表
    press(&mut app, KeyCode::PageDown);
    assert_eq!(wizard(&app).step, WizardStep::BasicInfo);
    type_text(&mut app, "张伟");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter); // no ID card number
    type_text(&mut app, "13800138000"); // full: moves on by itself
    type_text(&mut app, "北京市朝阳区建国路88号");
    app
}

#[test]
fn open_account_step_1_lists_the_customer_types() {
    let app = wizard_at_step_1();
    let screen = render(&app);
    assert!(screen.contains("Step 1 of 3"), "{screen}");
    assert!(!screen.contains('\x1b'), "a stored escape is drawn inert");
    insta::assert_snapshot!(screen);
}

#[test]
fn open_account_step_2_asks_for_the_natures_fields() {
    let app = wizard_at_step_2();
    let screen = render(&app);
    assert!(
        screen.contains("Step 2 of 3") && screen.contains("Mobile"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn open_account_step_2_marks_a_bad_field_and_stays() {
    let mut app = wizard_at_step_1();
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::PageDown);
    type_text(&mut app, "Zhang3");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "110105199001011234"); // check character wrong
    let sent = press(&mut app, KeyCode::PageDown);
    assert!(sent.is_empty());
    let w = wizard(&app);
    assert_eq!(w.step, WizardStep::BasicInfo, "a bad step is not left");
    let form = &w.basic.as_ref().unwrap().form;
    assert_eq!(form.focus, 0, "the cursor is on the first bad field");
    assert_eq!(form.value(0), "Zhang3", "nothing typed is lost");
    let screen = render(&app);
    assert!(screen.contains("! Name: a name has no digits"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn open_account_going_back_keeps_what_was_typed_and_meter_taken_keeps_step_3() {
    let mut app = wizard_at_step_2();
    let sent = press(&mut app, KeyCode::PageDown);
    let Request::UninstalledMeters {
        meter_type_ids,
        prefix,
        after: None,
        ..
    } = only(&sent)
    else {
        panic!("step 3 asks for the type's meters: {sent:?}")
    };
    assert_eq!((meter_type_ids.as_slice(), prefix.as_str()), (&[1][..], ""));
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    insta::assert_snapshot!("open_account_step_3_meters", render(&app));

    // Back to step 2 and to step 1: everything is still there.
    press(&mut app, KeyCode::PageUp);
    press(&mut app, KeyCode::PageUp);
    assert_eq!(wizard(&app).step, WizardStep::CustomerType);
    press(&mut app, KeyCode::PageDown);
    let basic = wizard(&app).basic.as_ref().unwrap();
    assert_eq!(basic.value(Field::Name), "张伟");
    assert_eq!(basic.value(Field::Mobile), "13800138000");

    // Typing in step 3 searches by prefix; the answer to the typed search is a new list.
    let sent = press(&mut app, KeyCode::PageDown);
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    let sent = press(&mut app, KeyCode::Char('m'));
    let Request::UninstalledMeters { prefix, .. } = only(&sent) else {
        panic!("{sent:?}")
    };
    assert_eq!(prefix, "m");
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 3)));
    press(&mut app, KeyCode::Down);
    let sent = press(&mut app, KeyCode::F(2));
    let Request::OpenAccount {
        customer_type_id: 1,
        meter_id: 2,
        info,
        operator_id: 3,
        ..
    } = only(&sent)
    else {
        panic!("F2 opens with the chosen type and meter: {sent:?}")
    };
    assert_eq!(info.values()[0].1.as_deref(), Some("张伟"));

    // Someone took the meter: still step 3, the search and step 2 kept, a fresh list asked.
    let next = answer(&mut app, &sent, Reply::Opened(OpenOutcome::MeterTaken));
    assert!(matches!(only(&next), Request::UninstalledMeters { prefix, .. } if prefix == "m"));
    let w = wizard(&app);
    assert_eq!(w.step, WizardStep::Meter);
    assert_eq!(w.meters.search.value(), "m");
    assert_eq!(w.basic.as_ref().unwrap().value(Field::Name), "张伟");
    assert!(render(&app).contains("installed by someone else"));

    // The second try opens it; the table searches for the new customer.
    answer(&mut app, &next, Reply::Meters(meter_page(4, 2)));
    let sent = press(&mut app, KeyCode::Enter);
    let opened = OpenedAccount {
        customer_id: 77,
        customer_no: CustomerNumber::from_serial(1_002_345).unwrap(),
        account_id: 77,
        account_kind: AccountKind::Prepaid,
    };
    let number = format!("{:08}", opened.customer_no.value());
    let next = answer(&mut app, &sent, Reply::Opened(OpenOutcome::Opened(opened)));
    let Screen::Customers(table) = &app.screen else {
        panic!("back on the table")
    };
    assert_eq!(table.search.value(), number);
    assert!(matches!(only(&next), Request::Customers { .. }));
}

#[test]
fn leaving_the_wizard_with_typed_information_asks_once() {
    let mut app = wizard_at_step_2();
    press(&mut app, KeyCode::PageUp);
    press(&mut app, KeyCode::F(3));
    assert!(
        matches!(app.screen, Screen::OpenAccount(_)),
        "asked, not left"
    );
    assert!(render(&app).contains("Unsaved changes"));
    press(&mut app, KeyCode::F(3));
    assert!(matches!(app.screen, Screen::Customers(_)));
}

fn personal(name: &str, mobile: &str) -> Info {
    Info::Personal(PersonalInfo {
        name: name.into(),
        id_document_no: None,
        mobile: mobile.into(),
        address: "北京市朝阳区建国路88号".into(),
        household_size: Some(3),
        email: None,
        remark: None,
    })
}

fn basics(version: i32, info: Info) -> CustomerBasics {
    CustomerBasics {
        customer_id: 1,
        version,
        active: true,
        info,
    }
}

#[test]
fn modify_shows_what_another_clerk_changed_and_overwrites_nothing() {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::Char('m'));
    assert_eq!(only(&sent), &Request::CustomerBasics { customer_id: 1 });
    answer(
        &mut app,
        &sent,
        Reply::Basics(Some(basics(4, personal("张伟", "13800138000")))),
    );
    // The clerk changes the household size (field 5).
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "5");
    insta::assert_snapshot!("modify_form", render(&app));
    let sent = press(&mut app, KeyCode::F(2));
    let Request::Modify { read, info, .. } = only(&sent) else {
        panic!("{sent:?}")
    };
    assert_eq!(read.version, 4);
    let Info::Personal(p) = info else { panic!() };
    assert_eq!(p.household_size, Some(5));

    // Meanwhile another clerk changed the mobile.
    let current = basics(5, personal("张伟", "13900139000"));
    answer(
        &mut app,
        &sent,
        Reply::Modified(ModifyOutcome::Conflict {
            changed_fields: vec![Field::Mobile],
            current,
        }),
    );
    let screen = render(&app);
    assert!(screen.contains("another clerk changed Mobile"), "{screen}");
    insta::assert_snapshot!("modify_conflict", screen);
    // Their mobile is taken (the clerk did not touch it), the clerk's household size kept.
    let sent = press(&mut app, KeyCode::F(2));
    let Request::Modify { read, info, .. } = only(&sent) else {
        panic!("{sent:?}")
    };
    assert_eq!(read.version, 5, "the second save answers the new version");
    assert_eq!(info, &{
        let Info::Personal(mut p) = personal("张伟", "13900139000") else {
            panic!()
        };
        p.household_size = Some(5);
        Info::Personal(p)
    });
    answer(
        &mut app,
        &sent,
        Reply::Modified(ModifyOutcome::Saved { version: 6 }),
    );
    assert!(matches!(app.screen, Screen::Customers(_)));
    assert!(render(&app).contains("Basic information saved"));
}

fn transfer_screen(balance: Decimal, unpaid_bills: i64) -> App {
    transfer_screen_on(signed_in(Lang::En), balance, unpaid_bills)
}

/// `t` on the first row of `app`'s table, the preview and the stored information answered.
fn transfer_screen_on(mut app: App, balance: Decimal, unpaid_bills: i64) -> App {
    let sent = press(&mut app, KeyCode::Char('t'));
    let [
        (preview_id, Request::TransferPreview { customer_id: 1 }),
        (basics_id, _),
    ] = sent.as_slice()
    else {
        panic!("{sent:?}")
    };
    let preview = TransferPreview {
        balance,
        account_kind: AccountKind::Prepaid,
        unpaid_bills,
    };
    for (id, reply) in [
        (*preview_id, Reply::TransferPreview(Some(preview))),
        (
            *basics_id,
            Reply::Basics(Some(basics(2, personal("张伟", "13800138000")))),
        ),
    ] {
        update(
            &mut app,
            Msg::Reply {
                id,
                outcome: Ok(reply),
            },
        );
    }
    app
}

#[test]
fn transfer_confirms_with_the_balance_that_stays() {
    let mut app = transfer_screen(Decimal::new(12_050, 2), 0);
    type_text(&mut app, "李娜");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "13712345678");
    type_text(&mut app, "北京市海淀区中关村大街1号");
    insta::assert_snapshot!("transfer_form", render(&app));
    let sent = press(&mut app, KeyCode::F(2));
    assert!(sent.is_empty(), "F2 first asks for confirmation");
    let screen = render(&app);
    assert!(screen.contains("from 张伟 to 李娜"), "{screen}");
    assert!(screen.contains("120.50 stays"), "{screen}");
    insta::assert_snapshot!("transfer_confirmation", screen);
    press(&mut app, KeyCode::F(12));
    assert!(
        !render(&app).contains("Confirm the transfer"),
        "F12 goes back"
    );
    press(&mut app, KeyCode::F(2));
    let sent = press(&mut app, KeyCode::F(2));
    let Request::Transfer {
        customer_id: 1,
        info,
        ..
    } = only(&sent)
    else {
        panic!("{sent:?}")
    };
    assert_eq!(info.values()[0].1.as_deref(), Some("李娜"));
    answer(
        &mut app,
        &sent,
        Reply::Transferred(TransferOutcome::Transferred {
            balance: Decimal::new(12_050, 2),
            version: 3,
        }),
    );
    assert!(matches!(app.screen, Screen::Customers(_)));
    assert!(render(&app).contains("120.50 stayed"));
}

#[test]
fn transfer_is_refused_while_bills_are_unpaid() {
    let mut app = transfer_screen(Decimal::ZERO, 2);
    let screen = render(&app);
    assert!(screen.contains("2 unpaid bill(s)"), "{screen}");
    type_text(&mut app, "李娜");
    let sent = press(&mut app, KeyCode::F(2));
    assert!(sent.is_empty(), "nothing is sent");
    assert!(render(&app).contains("the present owner pays them"));
}

#[test]
fn the_command_line_opens_the_wizard_only_from_the_table() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "open");
    let sent = press(&mut app, KeyCode::Enter);
    assert_eq!(only(&sent), &Request::CustomerTypes);
    assert!(matches!(app.screen, Screen::OpenAccount(_)));
    answer(&mut app, &sent, Reply::CustomerTypes(customer_types()));
    press(&mut app, KeyCode::Esc); // closes the list
    press(&mut app, KeyCode::Esc); // leaves: nothing typed
    assert!(matches!(app.screen, Screen::Customers(_)));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "open");
    let sent = press(&mut app, KeyCode::Enter);
    assert!(sent.is_empty(), "not from the details");
    assert!(render(&app).contains("Open account is not available here"));
}

#[test]
fn escape_cannot_cancel_a_save_on_its_way() {
    let mut app = transfer_screen(Decimal::new(500, 2), 0);
    type_text(&mut app, "李娜");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "13712345678");
    type_text(&mut app, "海淀区1号");
    press(&mut app, KeyCode::F(2));
    let sent = press(&mut app, KeyCode::F(2));
    assert!(matches!(only(&sent), Request::Transfer { .. }));
    press(&mut app, KeyCode::Esc);
    assert!(render(&app).contains("cannot be cancelled"));
    answer(
        &mut app,
        &sent,
        Reply::Transferred(TransferOutcome::Transferred {
            balance: Decimal::new(500, 2),
            version: 3,
        }),
    );
    assert!(
        render(&app).contains("5.00 stayed"),
        "the answer is still applied"
    );
}

#[test]
fn step_3_pages_through_the_meters_by_keyset() {
    let mut app = wizard_at_step_2();
    let sent = press(&mut app, KeyCode::PageDown);
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    for _ in 0..11 {
        assert!(press(&mut app, KeyCode::Down).is_empty());
    }
    let sent = press(&mut app, KeyCode::Down);
    let Request::UninstalledMeters { after, .. } = only(&sent) else {
        panic!("{sent:?}")
    };
    assert_eq!(
        after.as_deref(),
        Some("M00030012"),
        "after the last row shown"
    );
    answer(&mut app, &sent, Reply::Meters(meter_page(13, 5)));
    let w = wizard(&app);
    assert_eq!(w.meters.selected_meter().map(|m| m.id), Some(13));
    assert!(!w.meters.more);
    assert!(press(&mut app, KeyCode::Down).is_empty());
    press(&mut app, KeyCode::Up);
    let sent = press(&mut app, KeyCode::Up);
    let Request::UninstalledMeters { after: None, .. } = only(&sent) else {
        panic!("Up before the first row goes back to the first page: {sent:?}")
    };
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    assert_eq!(
        wizard(&app).meters.selected_meter().map(|m| m.id),
        Some(12),
        "the last row of the page before"
    );
}

#[test]
fn an_enterprise_type_asks_for_the_company_and_changing_the_nature_changes_the_form() {
    let mut app = wizard_at_step_2();
    press(&mut app, KeyCode::PageUp);
    press(&mut app, KeyCode::F(4));
    type_text(&mut app, "shops");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::PageDown);
    let screen = render(&app);
    assert!(screen.contains("Company *") && screen.contains("Contact person *"));
    assert!(!screen.contains("Household"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn reference_screens_in_chinese() {
    use meterdesk::app::refdata::{RefReply, RefRequest};
    let mut app = signed_in(Lang::Zh);
    if let Some(session) = app.session.as_mut() {
        session.permissions = vec!["meter.maintain".into()];
    }
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "metertypes");
    let sent = press(&mut app, KeyCode::Enter);
    let [(id, Request::Ref(_, RefRequest::MeterTypes))] = &sent[..] else {
        panic!("{sent:?}")
    };
    let rows = vec![meterdesk::db::meters::MeterTypeRow {
        meter_type: meterdesk::db::meters::MeterType {
            id: 1,
            name: "IC 卡表 DN15".into(),
            payment_model: meterdesk::domain::customer_rules::PaymentModel::Prepayment,
            takes_card: true,
            caliber: "DN15".into(),
            manufacturer: "宁波水表股份有限公司".into(),
        },
        meters: 12_345,
        customer_types: 2,
    }];
    update(
        &mut app,
        Msg::Reply {
            id: *id,
            outcome: Ok(Reply::Ref(RefReply::MeterTypes(rows))),
        },
    );
    insta::assert_snapshot!("meter_types_in_chinese", render(&app));
    press(&mut app, KeyCode::Char('m'));
    insta::assert_snapshot!("meter_type_form_in_chinese", render(&app));
}

#[test]
fn enter_before_the_typed_meter_search_answers_chooses_from_its_answer() {
    let mut app = wizard_at_step_2();
    let sent = press(&mut app, KeyCode::PageDown);
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    // The clerk types the start of a number and presses Enter, then Down, at once.
    let search = press(&mut app, KeyCode::Char('9'));
    assert!(matches!(only(&search), Request::UninstalledMeters { prefix, .. } if prefix == "9"));
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "not the highlighted meter of the old list"
    );
    assert!(
        press(&mut app, KeyCode::Char('x')).is_empty(),
        "a key typed meanwhile waits too"
    );
    assert_eq!(app.type_ahead.len(), 2);
    // The typed search answers: Enter chooses from it; the key after it is applied after it.
    let next = answer(&mut app, &search, Reply::Meters(meter_page(90, 2)));
    let Request::OpenAccount { meter_id: 90, .. } = only(&next) else {
        panic!("Enter chose the first meter of the typed search: {next:?}")
    };
    assert_eq!(
        app.type_ahead.len(),
        1,
        "the key after Enter waits for the opening"
    );
    let fresh = answer(&mut app, &next, Reply::Opened(OpenOutcome::MeterTaken));
    answer(&mut app, &fresh, Reply::Meters(meter_page(90, 2)));
    assert_eq!(
        wizard(&app).meters.search.value(),
        "9x",
        "the key typed after Enter was not lost"
    );
}

#[test]
fn f2_with_no_answer_for_the_list_on_screen_says_so() {
    let mut app = wizard_at_step_2();
    let sent = press(&mut app, KeyCode::PageDown);
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    let search = press(&mut app, KeyCode::Char('9'));
    let [(id, _)] = search.as_slice() else {
        panic!("{search:?}")
    };
    update(
        &mut app,
        Msg::Reply {
            id: *id,
            outcome: Err(Failure::Unreachable("gone".into())),
        },
    );
    let sent = press(&mut app, KeyCode::F(2));
    assert!(
        sent.is_empty(),
        "nothing opened from a list the search did not answer"
    );
    assert!(render(&app).contains("still loading"), "{}", render(&app));
}

#[test]
fn transfer_is_not_confirmed_before_the_balance_is_read() {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::Char('t'));
    let [
        (preview_id, Request::TransferPreview { .. }),
        (basics_id, _),
    ] = sent.as_slice()
    else {
        panic!("{sent:?}")
    };
    for (id, outcome) in [
        (
            *preview_id,
            Err(Failure::Error(Problem::new(
                "failure.database",
                "statement timeout",
            ))),
        ),
        (
            *basics_id,
            Ok(Reply::Basics(Some(basics(
                2,
                personal("张伟", "13800138000"),
            )))),
        ),
    ] {
        update(&mut app, Msg::Reply { id, outcome });
    }
    type_text(&mut app, "李娜");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "13712345678");
    type_text(&mut app, "北京市海淀区中关村大街1号");
    let sent = press(&mut app, KeyCode::F(2));
    assert!(sent.is_empty());
    let Screen::Transfer(view) = &app.screen else {
        panic!("still the transfer form")
    };
    assert!(
        view.confirming.is_none(),
        "no confirmation without the balance"
    );
    let screen = render(&app);
    assert!(screen.contains("not read yet"), "{screen}");
    assert_eq!(
        view.basic.as_ref().unwrap().value(Field::Name),
        "李娜",
        "nothing typed is lost"
    );
}

#[test]
fn a_closed_customer_cannot_be_transferred_and_the_screen_does_not_open() {
    let mut app = signed_in(Lang::En);
    for _ in 0..4 {
        press(&mut app, KeyCode::Down);
    }
    let Screen::Customers(table) = &app.screen else {
        panic!()
    };
    assert_eq!(table.selected_row().unwrap().status, "closed");
    let sent = press(&mut app, KeyCode::Char('t'));
    assert!(sent.is_empty(), "nothing asked");
    assert!(matches!(app.screen, Screen::Customers(_)));
    let screen = render(&app);
    assert!(screen.contains("10000085 is closed"), "{screen}");

    // Closed meanwhile: the screen goes as soon as the stored information says so.
    press(&mut app, KeyCode::Up);
    let sent = press(&mut app, KeyCode::Char('t'));
    let [(preview_id, _), (basics_id, _)] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    let mut closed = basics(2, personal("张伟", "13800138000"));
    closed.active = false;
    update(
        &mut app,
        Msg::Reply {
            id: *basics_id,
            outcome: Ok(Reply::Basics(Some(closed))),
        },
    );
    assert!(matches!(app.screen, Screen::Customers(_)));
    assert!(
        render(&app).contains("10000068 is closed"),
        "{}",
        render(&app)
    );
    assert!(!app.holds_input(), "the table takes keys at once");
    let late = update(
        &mut app,
        Msg::Reply {
            id: *preview_id,
            outcome: Ok(Reply::TransferPreview(None)),
        },
    );
    assert!(late.requests.is_empty());
    assert!(matches!(app.screen, Screen::Customers(_)));
}

#[test]
fn a_conflict_mark_draws_the_stored_value_inert() {
    let (mut app, sent) = modify_sent();
    let mut current = personal("张伟", "13800138000");
    if let Info::Personal(p) = &mut current {
        p.address = "\x1b]0;pwned\x07\x1b[2J建国路1号".into();
    }
    answer(
        &mut app,
        &sent,
        Reply::Modified(ModifyOutcome::Conflict {
            changed_fields: vec![Field::Address],
            current: basics(5, current),
        }),
    );
    let screen = render(&app);
    assert!(!screen.contains('\x1b'), "{screen}");
    assert!(screen.contains("\\x1b]0;pwned"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn free_form_identity_documents_accept_what_the_resident_card_check_refuses() {
    use meterdesk::domain::validation::IdDocumentPolicy;
    for (policy, accepted) in [
        (IdDocumentPolicy::ResidentIdentityCard, false),
        (IdDocumentPolicy::FreeForm, true),
    ] {
        let mut app = wizard_at_step_1();
        app.id_policy = policy;
        press(&mut app, KeyCode::Enter);
        press(&mut app, KeyCode::PageDown);
        type_text(&mut app, "张伟");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "E12345678"); // a passport
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "13800138000");
        type_text(&mut app, "北京市朝阳区建国路88号");
        let sent = press(&mut app, KeyCode::PageDown);
        let step = wizard(&app).step;
        if accepted {
            assert_eq!(step, WizardStep::Meter, "{policy:?}: {}", render(&app));
            assert!(matches!(only(&sent), Request::UninstalledMeters { .. }));
            assert_eq!(
                wizard(&app).info.as_ref().unwrap().values()[1].1.as_deref(),
                Some("E12345678")
            );
        } else {
            assert_eq!(step, WizardStep::BasicInfo, "{policy:?}");
            assert!(sent.is_empty());
            assert!(render(&app).contains("ID card No."), "{}", render(&app));
        }
    }
}

#[test]
fn texts_name_the_keys_as_rebound_in_the_config() {
    let rebound = std::collections::BTreeMap::from([
        ("save".to_owned(), vec!["F11".to_owned()]),
        (
            "cancel".to_owned(),
            vec!["F13".to_owned(), "Esc".to_owned()],
        ),
        ("leave".to_owned(), vec!["F14".to_owned()]),
        ("lookup".to_owned(), vec!["F15".to_owned()]),
    ]);
    let mut app = signed_in(Lang::En);
    app.keymap = KeyMap::new(&rebound).unwrap();
    let mut app = transfer_screen_on(app, Decimal::new(12_050, 2), 0);
    type_text(&mut app, "李娜");
    press(&mut app, KeyCode::F(14));
    assert!(
        render(&app).contains("Unsaved changes: F14 again discards them"),
        "{}",
        render(&app)
    );
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "13712345678");
    type_text(&mut app, "北京市海淀区中关村大街1号");
    assert!(press(&mut app, KeyCode::F(2)).is_empty());
    assert!(
        !render(&app).contains("Confirm the transfer"),
        "F2 is no longer save"
    );
    press(&mut app, KeyCode::F(11));
    let screen = render(&app);
    assert!(screen.contains("F11 confirm · F13 cancel"), "{screen}");
    assert!(
        !screen.contains("F2") && !screen.contains("F12"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
    press(&mut app, KeyCode::F(13));
    assert!(!render(&app).contains("Confirm the transfer"));

    // Leaving, the table; the wizard's step 1 names the rebound lookup key.
    press(&mut app, KeyCode::F(14));
    press(&mut app, KeyCode::F(14));
    let sent = press(&mut app, KeyCode::Char('o'));
    answer(&mut app, &sent, Reply::CustomerTypes(customer_types()));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::PageDown);
    assert!(
        render(&app).contains("Choose a customer type (F15 lists them)"),
        "{}",
        render(&app)
    );
    // The help names every key of a command, as rebound.
    press(&mut app, KeyCode::F(1));
    assert!(
        render(&app).contains("F1 / ? or F13 / Esc closes this help"),
        "{}",
        render(&app)
    );
}

#[test]
fn a_full_width_meter_number_searches_as_ascii() {
    let mut app = wizard_at_step_2();
    let sent = press(&mut app, KeyCode::PageDown);
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 13)));
    press(&mut app, KeyCode::Char('Ｍ'));
    let sent = press(&mut app, KeyCode::Char('０'));
    let Request::UninstalledMeters { prefix, .. } = only(&sent) else {
        panic!("{sent:?}")
    };
    assert_eq!(prefix, "M0");
    assert_eq!(wizard(&app).meters.search.value(), "M0");
}

#[test]
fn the_customer_screens_fit_a_tiny_terminal_without_panicking_or_overlapping() {
    let mut states = Vec::new();
    let mut app = wizard_at_step_1();
    states.push(("step 1, its list open", app.clone()));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::PageDown);
    states.push(("step 2", app.clone()));
    let mut step_3 = wizard_at_step_2();
    let sent = press(&mut step_3, KeyCode::PageDown);
    answer(&mut step_3, &sent, Reply::Meters(meter_page(1, 13)));
    states.push(("step 3", step_3));
    let mut transfer = transfer_screen(Decimal::new(500, 2), 0);
    type_text(&mut transfer, "李娜");
    states.push(("transfer", transfer.clone()));
    press(&mut transfer, KeyCode::Enter);
    press(&mut transfer, KeyCode::Enter);
    type_text(&mut transfer, "13712345678");
    type_text(&mut transfer, "海淀区1号");
    press(&mut transfer, KeyCode::F(2));
    states.push(("transfer confirmation", transfer));
    for (what, app) in &states {
        for size in [(80, 6), (80, 5), (80, 4), (30, 8), (12, 4), (3, 2), (1, 1)] {
            let screen = render_at(app, size);
            if size.1 >= 4 {
                // The last two lines are the message line and the legend: nothing of the
                // form may be drawn over them.
                let lines: Vec<&str> = screen.lines().collect();
                let message = lines[lines.len() - 2];
                assert!(
                    !message.contains('*') && !message.contains('│') && !message.contains('┌'),
                    "{what} at {size:?}: the form overlaps the message line:\n{screen}"
                );
            }
        }
    }
}

// ───────────────────────────── Saves and a lost database ─────────────────────────────

/// The database went while the request was on its way.
fn connection_lost(app: &mut App, sent: &[(u64, Request)]) {
    update(
        app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Err(Failure::Unreachable("connection reset by peer".into())),
        },
    );
}

/// The modify screen of customer 1 (version 4) with the household size changed, F2 pressed.
fn modify_sent() -> (App, Vec<(u64, Request)>) {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::Char('m'));
    answer(
        &mut app,
        &sent,
        Reply::Basics(Some(basics(4, personal("张伟", "13800138000")))),
    );
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "5");
    let sent = press(&mut app, KeyCode::F(2));
    assert!(matches!(only(&sent), Request::Modify { .. }), "{sent:?}");
    (app, sent)
}

#[test]
fn an_opening_that_lost_the_database_waits_and_is_sent_again_with_its_key() {
    let mut app = wizard_at_step_2();
    let sent = press(&mut app, KeyCode::PageDown);
    answer(&mut app, &sent, Reply::Meters(meter_page(1, 3)));
    let sent = press(&mut app, KeyCode::F(2));
    let Request::OpenAccount {
        idempotency_key, ..
    } = only(&sent)
    else {
        panic!("{sent:?}")
    };
    assert!(idempotency_key.starts_with("desk-"), "{idempotency_key}");

    connection_lost(&mut app, &sent);
    assert_eq!(app.database, DbStatus::Reconnecting);
    let screen = render(&app);
    assert!(
        screen.contains("The save waits for the database"),
        "told it waits, not asked to retype: {screen}"
    );
    assert!(!screen.contains("! "), "no error: {screen}");
    insta::assert_snapshot!("open_account_waits_for_the_database", screen);
    assert_eq!(wizard(&app).step, WizardStep::Meter, "everything kept");
    for key in [KeyCode::F(2), KeyCode::Enter] {
        assert!(
            press(&mut app, key).is_empty(),
            "the same save is not started twice"
        );
    }
    assert!(render(&app).contains("The save waits for the database"));

    let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
    assert_eq!(
        only(&resent),
        only(&sent),
        "sent again as it was, with the same idempotency key"
    );
    let opened = OpenedAccount {
        customer_id: 77,
        customer_no: CustomerNumber::from_serial(1_002_345).unwrap(),
        account_id: 77,
        account_kind: AccountKind::Prepaid,
    };
    let number = format!("{:08}", opened.customer_no.value());
    answer(
        &mut app,
        &resent,
        Reply::Opened(OpenOutcome::Opened(opened)),
    );
    assert!(matches!(app.screen, Screen::Customers(_)));
    assert!(render(&app).contains(&format!("Account opened: customer {number}")));
}

#[test]
fn a_save_answered_after_the_clerk_left_its_screen_is_still_told() {
    let (mut app, sent) = modify_sent();
    connection_lost(&mut app, &sent);
    // What was sent is what will be saved: the form takes no edit meanwhile.
    press(&mut app, KeyCode::Backspace);
    let Screen::Modify(view) = &app.screen else {
        panic!("the form stays")
    };
    assert_eq!(
        view.basic.as_ref().unwrap().value(Field::HouseholdSize),
        "5"
    );
    assert!(render(&app).contains("The save waits for the database"));
    // The clerk leaves the form (asked once, as it has unsaved changes).
    press(&mut app, KeyCode::F(3));
    press(&mut app, KeyCode::F(3));
    assert!(matches!(app.screen, Screen::Customers(_)));
    // Logging out would lose the save's answer.
    press(&mut app, KeyCode::F(3));
    assert!(app.session.is_some(), "not logged out while a save waits");
    assert!(render(&app).contains("A save is waiting for the database"));
    // Quitting would lose it: said once, naming the quit key.
    press(&mut app, KeyCode::F(10));
    assert!(!app.quit, "not quit at the first F10 while a save waits");
    assert!(
        render(&app).contains("quitting now loses it: F10 again quits."),
        "{}",
        render(&app)
    );

    let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
    assert_eq!(only(&resent), only(&sent));
    let next = answer(
        &mut app,
        &resent,
        Reply::Modified(ModifyOutcome::Saved { version: 5 }),
    );
    assert!(
        render(&app).contains("Basic information saved"),
        "{}",
        render(&app)
    );
    assert!(
        matches!(only(&next), Request::Customers { .. }),
        "the table on screen is refreshed: {next:?}"
    );
}

#[test]
fn a_second_quit_quits_though_a_save_waits() {
    let (mut app, sent) = modify_sent();
    connection_lost(&mut app, &sent);
    // Back on the table (the form asks once before it is left with changes).
    press(&mut app, KeyCode::F(3));
    press(&mut app, KeyCode::F(3));
    press(&mut app, KeyCode::F(10));
    assert!(!app.quit);
    press(&mut app, KeyCode::F(10));
    assert!(app.quit, "the database may never come back");
}

#[test]
fn modify_with_nothing_changed_saves_nothing() {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::Char('m'));
    answer(
        &mut app,
        &sent,
        Reply::Basics(Some(basics(4, personal("张伟", "13800138000")))),
    );
    // Typed and typed back: the same as read.
    press(&mut app, KeyCode::Char('x'));
    press(&mut app, KeyCode::Backspace);
    assert!(press(&mut app, KeyCode::F(2)).is_empty(), "nothing sent");
    assert!(matches!(app.screen, Screen::Modify(_)), "the form stays");
    assert!(render(&app).contains("Nothing changed"));
}

#[test]
fn a_refused_save_names_what_the_other_clerk_changed_in_form_order() {
    let (mut app, sent) = modify_sent();
    let Info::Personal(mut theirs) = personal("张伟", "13900139000") else {
        panic!()
    };
    theirs.email = Some("zhang@example.com".into());
    answer(
        &mut app,
        &sent,
        Reply::Modified(ModifyOutcome::Conflict {
            changed_fields: vec![Field::Email, Field::Mobile],
            current: basics(5, Info::Personal(theirs)),
        }),
    );
    let Some(message) = &app.message else {
        panic!("a message")
    };
    assert!(
        message
            .text
            .contains("another clerk changed Mobile, E-mail meanwhile"),
        "{}",
        message.text
    );
    app.lang = Lang::Zh;
    let sent = press(&mut app, KeyCode::F(2));
    answer(
        &mut app,
        &sent,
        Reply::Modified(ModifyOutcome::Conflict {
            changed_fields: vec![Field::Name],
            current: basics(6, personal("张伟伟", "13900139000")),
        }),
    );
    let text = &app.message.as_ref().unwrap().text;
    assert!(text.contains("姓名") || text.contains("名称"), "{text}");
}

/// The customer table's keys through `update`, the database played by answering the requests:
/// which page each key asks for, which answer is shown, and that no key is lost on the way.
mod table_keys {
    use super::*;
    use meterdesk::app::state::{CustomerTable, PageApply};
    use meterdesk::app::update::Update;
    use meterdesk::db::customers::PageAt;
    use meterdesk::domain::search::{CustomerSearch, classify};

    /// Customers `ids` as a page of the table.
    fn page_of(ids: impl IntoIterator<Item = i64>, more_before: bool, more_after: bool) -> Page {
        Page {
            rows: ids
                .into_iter()
                .map(|id| {
                    row(
                        id,
                        10_000_000 + id * 17,
                        &format!("Zhang {id:03}"),
                        "Ring Rd",
                    )
                })
                .collect(),
            more_before,
            more_after,
        }
    }

    fn table(app: &App) -> &CustomerTable {
        match &app.screen {
            Screen::Customers(table) => table,
            other => panic!("the customer table is on top, not {other:?}"),
        }
    }

    fn shown_ids(app: &App) -> Vec<i64> {
        table(app).page.rows.iter().map(|row| row.id).collect()
    }

    fn selected_id(app: &App) -> i64 {
        table(app).selected_row().expect("a row is selected").id
    }

    /// The one page request sent: its search, where it starts, its size and how it is shown.
    fn page_request(sent: &[(u64, Request)]) -> (CustomerSearch, PageAt, usize, PageApply) {
        match sent {
            [
                (
                    _,
                    Request::Customers {
                        search,
                        at,
                        size,
                        apply,
                    },
                ),
            ] => (search.clone(), at.clone(), *size, *apply),
            _ => panic!("one page request: {sent:?}"),
        }
    }

    /// Where the table's row of `id` stands in the display order of `search`.
    fn cursor_of(app: &App, id: i64, search: &CustomerSearch) -> meterdesk::db::customers::Cursor {
        let row = table(app).page.rows.iter().find(|row| row.id == id);
        row.expect("the row is on screen").cursor(search)
    }

    fn reply(app: &mut App, sent: &[(u64, Request)], page: Page) -> Update {
        update(
            app,
            Msg::Reply {
                id: sent[0].0,
                outcome: Ok(Reply::Customers(page)),
            },
        )
    }

    #[test]
    fn search_as_you_type_shows_only_the_latest_answer_and_loses_no_key() {
        let mut app = signed_in(Lang::En);
        let before = shown_ids(&app);
        press(&mut app, KeyCode::Char('/'));
        let searches: Vec<_> = "Zha"
            .chars()
            .map(|c| press(&mut app, KeyCode::Char(c)))
            .collect();
        for (typed, sent) in ["Z", "Zh", "Zha"].iter().zip(&searches) {
            let (search, at, _, apply) = page_request(sent);
            assert_eq!(search, CustomerSearch::Text((*typed).into()));
            assert_eq!((at, apply), (PageAt::First, PageApply::Search));
        }
        // The clerk leaves the box and moves down twice before any answer: these keys are for
        // the rows of "Zha", so they wait for them.
        assert!(press(&mut app, KeyCode::Enter).is_empty());
        assert!(press(&mut app, KeyCode::Down).is_empty());
        assert!(press(&mut app, KeyCode::Down).is_empty());
        assert_eq!(app.type_ahead.len(), 3);
        assert_eq!(shown_ids(&app), before, "nothing moved on the old rows");

        // The answers come back out of order: a stale one first changes nothing…
        let stale = reply(&mut app, &searches[1], page_of(200..219, false, true));
        assert!(!stale.redraw && stale.requests.is_empty());
        assert_eq!(shown_ids(&app), before);
        assert_eq!(app.type_ahead.len(), 3, "the keys still wait");
        // …the latest is shown and the waiting keys act on it, in order…
        let latest = reply(&mut app, &searches[2], page_of(300..319, false, true));
        assert!(latest.redraw && latest.requests.is_empty());
        assert_eq!(shown_ids(&app), (300..319).collect::<Vec<_>>());
        assert!(!table(&app).search_focused, "Enter left the box");
        assert_eq!(
            selected_id(&app),
            302,
            "both Down keys moved on the new rows"
        );
        assert!(app.type_ahead.is_empty());
        // …and the oldest, arriving last, is dropped too.
        let oldest = reply(&mut app, &searches[0], page_of(100..119, false, true));
        assert!(!oldest.redraw);
        assert_eq!(shown_ids(&app), (300..319).collect::<Vec<_>>());
        assert_eq!(
            table(&app).search.value(),
            "Zha",
            "every typed key is in the box"
        );
        let screen = render(&app);
        assert!(screen.contains("M02000302"), "{screen}");
    }

    #[test]
    fn typing_on_while_a_search_is_on_its_way_searches_again_at_once() {
        let mut app = signed_in(Lang::En);
        press(&mut app, KeyCode::Char('/'));
        let first = press(&mut app, KeyCode::Char('Z'));
        press(&mut app, KeyCode::Backspace);
        let again = press(&mut app, KeyCode::Char('L'));
        assert_eq!(page_request(&again).0, CustomerSearch::Text("L".into()));
        assert!(app.type_ahead.is_empty(), "editing the box never waits");
        assert!(!reply(&mut app, &first, page_of(1..5, false, false)).redraw);
        // The terminal grows before the answer: the search is asked again for a fuller page,
        // not the old rows reloaded.
        let resized = update(&mut app, Msg::Resize(100, 30)).requests;
        assert_eq!(
            page_request(&resized),
            (
                CustomerSearch::Text("L".into()),
                PageAt::First,
                25,
                PageApply::Search
            )
        );
        assert!(!reply(&mut app, &again, page_of(1..5, false, false)).redraw);
        reply(&mut app, &resized, page_of(40..65, false, false));
        assert_eq!(shown_ids(&app), (40..65).collect::<Vec<_>>());
    }

    #[test]
    fn paging_keys_ask_for_the_right_page_and_show_it() {
        let mut app = signed_in(Lang::En);
        let size = table(&app).page.rows.len();
        assert_eq!(size, 19);
        let all = CustomerSearch::All;

        // PgDn: the page after the last row, the selection kept where it was on screen.
        press(&mut app, KeyCode::Down);
        let sent = press(&mut app, KeyCode::PageDown);
        let last = cursor_of(&app, 19, &all);
        assert_eq!(
            page_request(&sent),
            (all.clone(), PageAt::After(last), size, PageApply::Select(1))
        );
        // Keys pressed meanwhile wait for that page.
        assert!(press(&mut app, KeyCode::Down).is_empty());
        reply(&mut app, &sent, page_of(20..39, true, true));
        assert_eq!(shown_ids(&app), (20..39).collect::<Vec<_>>());
        assert_eq!(selected_id(&app), 22, "Select(1), then the waiting Down");

        // PgUp: the page before the first row.
        let sent = press(&mut app, KeyCode::PageUp);
        let first = cursor_of(&app, 20, &all);
        assert_eq!(
            page_request(&sent),
            (
                all.clone(),
                PageAt::Before(first),
                size,
                PageApply::Select(2)
            )
        );
        reply(&mut app, &sent, page_of(1..20, false, true));
        assert_eq!(selected_id(&app), 3);

        // End: the last page, its last row selected.
        let sent = press(&mut app, KeyCode::End);
        assert_eq!(
            page_request(&sent),
            (
                all.clone(),
                PageAt::Last,
                size,
                PageApply::Select(usize::MAX)
            )
        );
        reply(&mut app, &sent, page_of(982..1001, true, false));
        assert_eq!(selected_id(&app), 1000);
        // Down on the last row of the last page asks nothing; PgDn just selects the last row.
        assert!(press(&mut app, KeyCode::Down).is_empty());
        press(&mut app, KeyCode::Up);
        assert!(press(&mut app, KeyCode::PageDown).is_empty());
        assert_eq!(selected_id(&app), 1000);

        // Home: the first page, its first row selected.
        let sent = press(&mut app, KeyCode::Home);
        assert_eq!(
            page_request(&sent),
            (all.clone(), PageAt::First, size, PageApply::Select(0))
        );
        reply(&mut app, &sent, page_of(1..20, false, true));
        assert_eq!(selected_id(&app), 1);
        // Up on the first row of the first page asks nothing.
        assert!(press(&mut app, KeyCode::Up).is_empty());

        // Down past the bottom edge: one row after the last, the page scrolls by one.
        for _ in 0..18 {
            assert!(press(&mut app, KeyCode::Down).is_empty());
        }
        let sent = press(&mut app, KeyCode::Down);
        let last = cursor_of(&app, 19, &all);
        assert_eq!(
            page_request(&sent),
            (all.clone(), PageAt::After(last), 1, PageApply::ScrollDown)
        );
        reply(&mut app, &sent, page_of([20], true, true));
        assert_eq!(shown_ids(&app), (2..21).collect::<Vec<_>>());
        assert_eq!(selected_id(&app), 20);

        // Up past the top edge: one row before the first.
        for _ in 0..18 {
            assert!(press(&mut app, KeyCode::Up).is_empty());
        }
        let sent = press(&mut app, KeyCode::Up);
        let first = cursor_of(&app, 2, &all);
        assert_eq!(
            page_request(&sent),
            (all, PageAt::Before(first), 1, PageApply::ScrollUp)
        );
        reply(&mut app, &sent, page_of([1], false, true));
        assert_eq!(shown_ids(&app), (1..20).collect::<Vec<_>>());
        assert_eq!(selected_id(&app), 1);
        assert!(render(&app).contains("M02000001"));
    }

    #[test]
    fn a_text_search_pages_by_name_and_goes_on_paging_it_under_a_wrong_check_digit() {
        let mut app = signed_in(Lang::En);
        press(&mut app, KeyCode::Char('/'));
        let sent = press(&mut app, KeyCode::Char('Z'));
        reply(&mut app, &sent, page_of(1..20, false, true));
        let text = CustomerSearch::Text("Z".into());
        press(&mut app, KeyCode::Enter);
        let sent = press(&mut app, KeyCode::PageDown);
        let (search, at, ..) = page_request(&sent);
        assert_eq!(search, text);
        assert_eq!(at, PageAt::After(cursor_of(&app, 19, &text)), "by name");
        reply(&mut app, &sent, page_of(20..39, true, true));

        // Seven digits search; an eighth with a wrong check digit cannot be searched, so the
        // rows of the seven stay and paging goes on through them, not through everyone.
        press(&mut app, KeyCode::Char('/'));
        press(&mut app, KeyCode::Backspace);
        for c in "1234567".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        let digits = CustomerSearch::Digits("1234567".into());
        let Some(wrong) = ('0'..='9').find(|d| classify(&format!("1234567{d}")).is_err()) else {
            panic!("one eighth digit is a wrong check digit")
        };
        let sent = press(&mut app, KeyCode::Char(wrong));
        assert!(sent.is_empty(), "a wrong check digit is not searched");
        assert!(render(&app).contains("check digit"), "{}", render(&app));
        // The answer of the seven digits, still on its way, is the one shown.
        let on_its_way = app.in_flight.last().map(|f| f.id).unwrap();
        update(
            &mut app,
            Msg::Reply {
                id: on_its_way,
                outcome: Ok(Reply::Customers(page_of(50..69, false, true))),
            },
        );
        assert_eq!(shown_ids(&app), (50..69).collect::<Vec<_>>());
        press(&mut app, KeyCode::Enter);
        let sent = press(&mut app, KeyCode::PageDown);
        let (search, at, ..) = page_request(&sent);
        assert_eq!(search, digits);
        assert_eq!(at, PageAt::After(cursor_of(&app, 68, &digits)));
    }

    #[test]
    fn refresh_keeps_the_selected_customer() {
        let mut app = signed_in(Lang::En);
        let size = table(&app).page.rows.len();
        let all = CustomerSearch::All;
        for _ in 0..3 {
            press(&mut app, KeyCode::Down);
        }
        assert_eq!(selected_id(&app), 4);

        // F5 reloads from the first row on screen, so the rows stay where they were, and the
        // selection follows customer 4 to where it is now: customer 2 has gone meanwhile.
        let sent = press(&mut app, KeyCode::F(5));
        assert_eq!(
            page_request(&sent),
            (
                all.clone(),
                PageAt::From(cursor_of(&app, 1, &all)),
                size,
                PageApply::Keep(Some(4))
            )
        );
        let without_2 = [1].into_iter().chain(3..21);
        assert!(
            reply(&mut app, &sent, page_of(without_2, false, true))
                .requests
                .is_empty()
        );
        assert_eq!(selected_id(&app), 4);
        assert_eq!(table(&app).selected, 2);

        // So many customers came in above it that customer 4 is off the page that starts at
        // the first row: the page that starts at customer 4 is asked for, and it stays selected.
        let sent = press(&mut app, KeyCode::F(5));
        let newcomers = [1].into_iter().chain(1001..1019);
        let next = reply(&mut app, &sent, page_of(newcomers, false, true)).requests;
        assert_eq!(
            page_request(&next),
            (
                all.clone(),
                PageAt::From(cursor_of(&app, 4, &all)),
                size,
                PageApply::Keep(Some(4))
            )
        );
        assert_eq!(selected_id(&app), 4, "the first answer is not shown");
        assert!(
            reply(&mut app, &next, page_of(4..23, true, true))
                .requests
                .is_empty()
        );
        assert_eq!(selected_id(&app), 4);
        assert_eq!(table(&app).selected, 0);

        // Customer 5, selected, has gone: the page from where it was starts at the one after it.
        press(&mut app, KeyCode::Down);
        assert_eq!(selected_id(&app), 5);
        let sent = press(&mut app, KeyCode::F(5));
        let without_5 = [4].into_iter().chain(6..24);
        let next = reply(&mut app, &sent, page_of(without_5, true, true)).requests;
        let (_, at, _, apply) = page_request(&next);
        assert_eq!(at, PageAt::From(cursor_of(&app, 5, &all)));
        assert_eq!(apply, PageApply::Keep(Some(5)));
        assert!(
            reply(&mut app, &next, page_of(6..25, true, true))
                .requests
                .is_empty()
        );
        assert_eq!(selected_id(&app), 6);
    }
}
