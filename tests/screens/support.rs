//! Builders shared by the screen tests: an app signed in on a test terminal, key presses,
//! the database played by answering the requests, and the render to compare with snapshots.

pub use chrono::{FixedOffset, TimeZone, Utc};
pub use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
pub use meterdesk::app::paging::PageApply;
pub use meterdesk::app::state::{DbStatus, Failure, Msg, Problem, Reply, Request, Session};
pub use meterdesk::app::{App, KeyMap, update};
pub use meterdesk::card::reader::ReaderState;
pub use meterdesk::db::LostConnection;
pub use meterdesk::db::customers::{
    AccountSummary, BasicInfo, CardSummary, CustomerDetails, CustomerRow, CustomerTypeSummary,
    MeterSummary, Page, PreviousOwner, TransactionSummary,
};
pub use meterdesk::db::overview::{Overview, Takings};
pub use meterdesk::i18n::Lang;
pub use meterdesk::screens::details::{Found, LoadDetails};
pub use meterdesk::screens::login::{Login, LoginRefusal, SignIn, SignInAnswer};
pub use meterdesk::screens::table::{CustomerTable, Fetch};
pub use meterdesk::ui;
pub use ratatui::Terminal;
pub use ratatui::backend::TestBackend;
pub use rust_decimal::Decimal;

/// A desk showing times in UTC, whatever the process's time zone.
pub fn app(lang: Lang) -> App {
    let mut app = meterdesk::screens::app(KeyMap::default(), lang, Default::default());
    app.zone = FixedOffset::east_opt(0).unwrap();
    app
}

/// The text on the message line, whole (the line wraps it).
pub fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

/// The clerk read the question: the next key comes after `READ_TIME` (1 s) has passed.
pub fn read_the_question(app: &mut App) {
    let at = app.asked_at.expect("a question asked");
    app.asked_at = Some(at - chrono::TimeDelta::seconds(2));
}

pub fn render(app: &App) -> String {
    render_at(app, (80, 24))
}

pub fn press(app: &mut App, code: KeyCode) -> Vec<(u64, Request)> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))).requests
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

pub fn session() -> Session {
    Session {
        must_change_password: false,
        serves_customers: true,
        operator_id: 3,
        login: "clerk".into(),
        full_name: "王芳".into(),
        department: "Central office".into(),
        roles: vec!["clerk".into()],
        // A clerk's (sql/V2, V18).
        permissions: [
            "customer.view",
            "customer.open",
            "customer.modify",
            "customer.transfer",
            "card.read",
            "card.open",
            "card.recharge",
            "card.recycle",
            "account.deposit",
            "account.pay_bills",
            "receipt.reprint",
            "reading.enter",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

pub fn row(id: i64, customer_no: i64, name: &str, address: &str) -> CustomerRow {
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
        arrears: meterdesk::domain::money::Money::ZERO,
        card_state: (id % 2 == 0).then(|| "active".to_owned()),
        phone: Some(format!("138{:08}", id * 7919)),
        address: address.into(),
        status: if id == 5 { "closed" } else { "active" }.into(),
    }
}

/// A page as the database would send it: CJK and Latin names, a long address, and a name
/// carrying an escape sequence.
pub fn sample_page(rows: usize) -> Page {
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

pub fn answer(app: &mut App, sent: &[(u64, Request)], reply: Reply) -> Vec<(u64, Request)> {
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

/// A reference screen's request `id` answered with `reply` (done, as permitted).
pub fn reply<R>(app: &mut App, id: u64, reply: R) -> Vec<(u64, Request)>
where
    R: std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static,
{
    update(
        app,
        Msg::Reply {
            id,
            outcome: Ok(Reply::screen(
                meterdesk::screens::reference::requests::RefAnswer::Done(reply),
            )),
        },
    )
    .requests
}

/// Signs in through the keys on a terminal of `size`, answering as the database would.
pub fn signed_in_at(lang: Lang, size: (u16, u16)) -> App {
    let mut app = app(lang);
    update(&mut app, Msg::Resize(size.0, size.1));
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    let next = answer(
        &mut app,
        &sent,
        Reply::screen(SignInAnswer::LoggedIn(session())),
    );
    let [(_, request)] = next.as_slice() else {
        panic!("the customer table asks for its first page: {next:?}")
    };
    let rows = request.of::<Fetch>().expect("a page of customers").size;
    assert_eq!(
        rows,
        usize::from(size.1) - 6,
        "a page fills the table, less the line that shows the selected row whole"
    );
    answer(&mut app, &next, Reply::screen(sample_page(rows)));
    update(
        &mut app,
        Msg::Reader(ReaderState::NoCard {
            reader: "Virtual PCD 00 00".into(),
        }),
    );
    app
}

pub fn signed_in(lang: Lang) -> App {
    signed_in_at(lang, (80, 24))
}

pub fn render_at(app: &App, size: (u16, u16)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app)).unwrap();
    let screen = terminal.backend().to_string();
    assert!(
        !screen.contains("{key"),
        "a text naming a key was drawn without the keymap: {screen}"
    );
    screen
}

/// The database went while the request was on its way.
pub fn connection_lost(app: &mut App, sent: &[(u64, Request)]) {
    update(
        app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Err(Failure::Unreachable(LostConnection::Reset)),
        },
    );
}

/// A payment method as the database gives it: its code and the utility's name.
pub fn method(code: &str, name: &str) -> meterdesk::db::cards::PaymentMethod {
    meterdesk::db::cards::PaymentMethod {
        code: code.into(),
        name: name.into(),
    }
}

/// A card customer's debt of water a meter loaded unpaid: recharge 77's purchase #4 of 2 m³,
/// 5.00, on card 40001.
pub fn a_card_debt() -> meterdesk::db::card_ops::Owed {
    meterdesk::db::card_ops::Owed {
        operation_id: 77,
        sequence: 4,
        litres: 2_000,
        amount: "5.00".parse().unwrap(),
        card_no: 40_001,
    }
}

/// The receipt of [`a_card_debt`] paid by WeChat Pay (`card_ops::pay_owed`'s, as a recharge's F2
/// keeps it): receipt #2051.
pub fn a_card_debts_receipt() -> meterdesk::screens::card::Receipt {
    use meterdesk::domain::money::Money;
    meterdesk::screens::card::Receipt {
        kind: meterdesk::screens::card::ReceiptKind::Owed,
        receipt_no: 2051,
        at: "2026-12-06T09:30:00Z".parse().unwrap(),
        operator: "王芳".into(),
        customer_no: 10_000_017,
        name: "张伟".into(),
        meter_no: "M02000001".into(),
        card_no: 40_001,
        amount: "5.00".parse().unwrap(),
        volume: "2".parse().unwrap(),
        tiers: Vec::new(),
        vat: None,
        not_taken: Money::ZERO,
        method: Some(method("wechat_pay", "WeChat Pay")),
        balance: Money::ZERO,
    }
}

/// The reader's news that a card came into it.
pub fn card_present() -> Msg {
    Msg::Reader(ReaderState::CardPresent {
        reader: "Virtual PCD 00 00".into(),
        atr: vec![0x3b, 0x80],
    })
}

/// A card comes into the reader: the app reads it for the operator signed in (`ReadCard`), and
/// the read is answered with `seen`; what the answer sent.
pub fn insert_card(
    app: &mut App,
    seen: meterdesk::app::card_status::CardSeen,
) -> Vec<(u64, Request)> {
    use meterdesk::app::card_status::{CardRead, ReadCard};
    let sent = update(app, card_present()).requests;
    let [(_, request)] = sent.as_slice() else {
        panic!("one request: {sent:?}")
    };
    assert_eq!(
        request.of::<ReadCard>().map(|read| read.operator_id),
        app.session.as_ref().map(|session| session.operator_id),
        "an inserted card is read"
    );
    answer(
        app,
        &sent,
        Reply::screen(CardRead {
            seen,
            settled: Vec::new(),
            discrepancies: Vec::new(),
        }),
    )
}

/// Whether `sent` holds the desk's re-read of the operator's permissions (`app::permissions`).
pub fn rereads_permissions(sent: &[(u64, Request)]) -> bool {
    use meterdesk::app::permissions::RereadPermissions;
    sent.iter()
        .any(|(_, request)| request.of::<RereadPermissions>().is_some())
}

/// The table's pages among `sent` answered (a read that settled money has it read its rows
/// again, and keys typed meanwhile wait for them): the other requests, and what the answers sent.
pub fn pages_answered(app: &mut App, sent: Vec<(u64, Request)>) -> Vec<(u64, Request)> {
    let (pages, mut rest): (Vec<_>, Vec<_>) = sent
        .into_iter()
        .partition(|(_, request)| request.of::<Fetch>().is_some());
    for page in pages {
        let rows = page.1.of::<Fetch>().map_or(0, |fetch| fetch.size);
        rest.extend(answer(app, &[page], Reply::screen(sample_page(rows))));
    }
    rest
}

/// The screen's text with its rows' quotes, frames and spaces taken out, so words broken over
/// rows read on.
pub fn flat(screen: &str) -> String {
    screen
        .lines()
        .map(|row| {
            let row = row.split("\" Hidden").next().unwrap_or(row);
            row.trim_matches('"')
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '│')
                .collect::<String>()
        })
        .collect()
}
