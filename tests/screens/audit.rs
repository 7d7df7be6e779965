//! The audit viewer (`:audit`): refused to a clerk; the log at 80×24 in both languages; a
//! filter typed, an entry opened in full, the filtered rows exported.

use crate::support::*;
use meterdesk::db::audit::{AuditFilter, AuditRow};
use meterdesk::db::card_ops::OperationState;
use meterdesk::db::customers::PageAt;
use meterdesk::screens::audit::requests::{AuditCall, AuditReply, AuditWork};
use meterdesk::screens::audit::{AuditScreen, Pane};
use serde_json::json;

/// Signed in as a supervisor, who may read the audit log.
fn supervisor(lang: Lang) -> App {
    let mut app = signed_in(lang);
    if let Some(session) = app.session.as_mut() {
        session.login = "super".into();
        session.roles = vec!["supervisor".into()];
        session.permissions = vec!["customer.view".into(), "audit.view".into()];
    }
    app
}

/// `:audit` typed on the command line.
fn open_audit(app: &mut App) -> Vec<(u64, Request)> {
    press(app, KeyCode::Char(':'));
    type_text(app, "audit");
    press(app, KeyCode::Enter)
}

/// The one request sent, as the viewer's.
fn work(sent: &[(u64, Request)]) -> &AuditWork {
    let [(_, request)] = sent else {
        panic!("one request: {sent:?}")
    };
    &request
        .of::<AuditCall>()
        .expect("the viewer's request")
        .work
}

fn row(id: i64, minute: u32, operator: Option<&str>, action: &str) -> AuditRow {
    let (entity, entity_id, customer_no, detail) = match action {
        "customer.modify" => (
            "customer",
            40 + id,
            Some(10_023_453),
            json!({
                "version": 3,
                "before": {"name": "张伟", "phone": "13800000000", "address": "北京市朝阳区建国路88号"},
                "after": {"name": "张伟伟", "phone": "13800000000",
                          "address": "北京市朝阳区建国路88号3单元502室，靠近地铁站的那一栋楼"},
            }),
        ),
        "card.recharge" => (
            "card_operation",
            900 + id,
            Some(10_000_012),
            json!({"customer_id": 7, "card_no": 12345}),
        ),
        _ => (
            "operator",
            3,
            None,
            json!({"login": "Evil\u{1b}[31m", "failed_logins": 2}),
        ),
    };
    AuditRow {
        id,
        at: Utc.with_ymd_and_hms(2026, 12, 3, 9, minute, 2).unwrap(),
        operator: operator.map(str::to_owned),
        action: action.into(),
        entity: Some(entity.into()),
        entity_id: Some(entity_id),
        // What the database names it: a customer's number, an operator's login (drawn inert);
        // a card operation has none.
        entity_key: match entity {
            "customer" => customer_no.map(|no| no.to_string()),
            "operator" => Some("Evil\u{1b}[31m".to_owned()),
            _ => None,
        },
        customer_no,
        business_model: customer_no.map(|_| "postpaid".to_owned()),
        detail,
        department_names: Default::default(),
        bill_cycles: Default::default(),
        // Every other card operation failed: its card refused the write.
        operation_state: (entity == "card_operation").then_some(if id % 2 == 0 {
            OperationState::Failed
        } else {
            OperationState::Done
        }),
        failure_reason: (entity == "card_operation" && id % 2 == 0)
            .then(|| "not_on_card".to_owned()),
    }
}

/// A page of the log as the database would send it, newest first.
fn log_page(rows: usize) -> Page<AuditRow> {
    let kinds = [
        (Some("super"), "customer.modify"),
        (Some("clerk"), "card.recharge"),
        (None, "login.failed"),
    ];
    Page {
        rows: (0..rows)
            .map(|i| {
                let (operator, action) = kinds[i % kinds.len()];
                row(100 - i as i64, 59 - i as u32, operator, action)
            })
            .collect(),
        more_before: false,
        more_after: true,
    }
}

/// The viewer open as a supervisor, its first page answered.
fn viewer(lang: Lang) -> App {
    let mut app = supervisor(lang);
    let sent = open_audit(&mut app);
    let AuditWork::Page {
        filter, at, size, ..
    } = work(&sent)
    else {
        panic!("a page first: {sent:?}")
    };
    assert_eq!(
        (filter, at, *size),
        (&AuditFilter::default(), &PageAt::First, 19),
        "the first page, unfiltered, fills the screen"
    );
    answer(
        &mut app,
        &sent,
        Reply::screen(AuditReply::Page(log_page(19))),
    );
    app
}

fn audit_screen(app: &App) -> &AuditScreen {
    app.screen
        .module::<AuditScreen>()
        .expect("the audit viewer")
}

#[test]
fn a_clerk_is_refused_the_audit_log() {
    let mut app = signed_in(Lang::En);
    let sent = open_audit(&mut app);
    assert!(sent.is_empty(), "nothing is asked: {sent:?}");
    assert!(app.screen.is::<CustomerTable>(), "the table stays");
    let text = app.message.clone().unwrap().text;
    assert!(
        text.contains("supervisors and administrators")
            && text.contains("do not allow you to view it")
            && !text.contains("audit.view"),
        "{text}"
    );
}

#[test]
fn the_audit_log_in_english_and_chinese() {
    for (lang, name) in [(Lang::En, "audit_log_en"), (Lang::Zh, "audit_log_zh")] {
        let app = viewer(lang);
        insta::assert_snapshot!(name, render(&app));
    }
}

/// A filter that keeps no entry says, when it names an operator, that the login is matched
/// whole; one day is shown once on the line over the rows (s39-g, by hand: "super" for the
/// login `supervisor` said only "No entries for this filter.", and "operator supervisor ·
/// customer 10000020 · kind bill. · 2026-12-06–2026…" was cut at 80 columns).
#[test]
fn an_empty_filter_by_operator_says_the_login_is_matched_whole() {
    for (lang, said) in [
        (
            Lang::En,
            "No entries for this filter. Is super an operator's whole login?",
        ),
        (Lang::Zh, "此筛选下没有记录。super 是操作员完整的登录名吗？"),
    ] {
        let mut app = viewer(lang);
        press(&mut app, KeyCode::Char('/'));
        type_text(&mut app, "super");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "10023453");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "bill.");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "2026-12-06");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "2026-12-06");
        let sent = press(&mut app, KeyCode::F(2));
        let mut page = log_page(0);
        page.more_after = false;
        answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
        let screen = render(&app);
        assert!(screen.contains(said), "{lang:?}: {screen}");
        assert!(
            screen.contains("super · ") && screen.contains("bill. · 2026-12-06 "),
            "{lang:?}: {screen}"
        );
        assert!(!screen.contains('…'), "{lang:?}: {screen}");
    }
}

#[test]
fn a_filter_an_entry_in_full_and_the_export() {
    let mut app = viewer(Lang::En);
    // A wrong check digit is refused on its field; nothing is asked.
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "10023458");
    let sent = press(&mut app, KeyCode::F(2));
    assert!(sent.is_empty(), "{sent:?}");
    let text = app.message.clone().unwrap().text;
    assert!(text.contains("customer number"), "{text}");
    // Fixed, with the other fields: the first page of the filter is asked for.
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "3");
    press(&mut app, KeyCode::BackTab);
    type_text(&mut app, "Super");
    press(&mut app, KeyCode::Tab);
    for text in ["card.", "2026-12-01", "2026-12-03"] {
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, text);
    }
    press(&mut app, KeyCode::Tab);
    insta::assert_snapshot!("audit_filter_form", render(&app));
    let sent = press(&mut app, KeyCode::F(2));
    let AuditWork::Page { filter, at, .. } = work(&sent).clone() else {
        panic!("{sent:?}")
    };
    let day = |d| Utc.with_ymd_and_hms(2026, 12, d, 0, 0, 0).unwrap();
    assert_eq!(
        filter,
        AuditFilter {
            operator: Some("Super".into()),
            customer_no: Some(10_023_453),
            kind: Some("card.".into()),
            from: Some(day(1)),
            until: Some(day(4)),
        },
        "the dates are whole days in the desk's zone, both included"
    );
    assert_eq!(at, PageAt::First);
    let mut page = log_page(2);
    page.more_after = false;
    answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
    insta::assert_snapshot!("audit_filtered", render(&app));

    // PgDn on the last page goes to its last row, asking nothing; nothing is above the first
    // row; Enter shows the entry in full.
    assert!(press(&mut app, KeyCode::PageDown).is_empty());
    assert_eq!(audit_screen(&app).selected, 1);
    press(&mut app, KeyCode::Up);
    let sent = press(&mut app, KeyCode::Up);
    assert!(sent.is_empty(), "nothing above the first row: {sent:?}");
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("audit_entry_change_en", render(&app));
    press(&mut app, KeyCode::F(3));
    assert!(
        matches!(audit_screen(&app).pane, Pane::Rows),
        "F3: back to the rows"
    );
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("audit_entry_detail_en", render(&app));
    press(&mut app, KeyCode::Esc);

    // The export: a new file named by the time, in the current directory, unless typed.
    press(&mut app, KeyCode::Char('e'));
    let Pane::Export(form) = &audit_screen(&app).pane else {
        panic!("the export form")
    };
    let default = form.fields[0].value().to_owned();
    assert!(
        default.starts_with("audit-") && default.ends_with(".csv"),
        "{default}"
    );
    for _ in default.chars() {
        press(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "/srv/exports/cards.csv");
    insta::assert_snapshot!("audit_export_form", render(&app));
    let sent = press(&mut app, KeyCode::F(2));
    assert_eq!(
        work(&sent),
        &AuditWork::Export {
            filter,
            path: "/srv/exports/cards.csv".into(),
            zone: FixedOffset::east_opt(0).unwrap(),
        },
        "the rows of the filter on screen"
    );
    assert!(matches!(audit_screen(&app).pane, Pane::Rows));
    // A second export waits for the first.
    press(&mut app, KeyCode::Char('e'));
    assert!(matches!(audit_screen(&app).pane, Pane::Rows));
    answer(
        &mut app,
        &sent,
        Reply::screen(AuditReply::Exported {
            rows: 1234,
            path: "/srv/exports/cards.csv".into(),
        }),
    );
    assert_eq!(
        app.message.clone().unwrap().text,
        "1234 entries written to /srv/exports/cards.csv"
    );
}

/// F3 on a typed filter asks once, naming the keys that discard; F3 again closes the filter and
/// its question.
#[test]
fn leaving_a_typed_filter_asks_once_in_words() {
    let mut app = viewer(Lang::En);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "Super");
    press(&mut app, KeyCode::F(3));
    let asked = app.message.clone().unwrap().text;
    assert!(asked.contains("F3 or F12 / Esc again discards"), "{asked}");
    assert!(!asked.contains('{'), "{asked}");
    press(&mut app, KeyCode::F(3));
    assert!(app.message.is_none(), "{:?}", app.message);
    assert!(!render(&app).contains("Super"));
}

/// Every kind of thing the log names, and every action, is named in the desk's language
/// (session 31, by hand: a role's entry said "role" on a Chinese desk; a department's and a
/// card's had no name either, nor the card discrepancy and missing purchase entries).
#[test]
fn roles_departments_and_cards_are_named_in_chinese() {
    let mut app = supervisor(Lang::Zh);
    let sent = open_audit(&mut app);
    let named = |id: i64, action: &str, entity: &str, entity_id: Option<i64>| AuditRow {
        action: action.into(),
        entity: Some(entity.into()),
        entity_id,
        entity_key: None,
        customer_no: None,
        operation_state: None,
        failure_reason: None,
        ..row(id, 10, Some("admin"), "login.failed")
    };
    let page = Page {
        rows: vec![
            named(3, "role.set_permissions", "role", None),
            named(2, "department.add", "department", Some(4)),
            named(1, "card.discrepancy", "card", Some(12345)),
            named(0, "card.found_on_card", "system_card", Some(77)),
            // s41-f, by hand: the debt of water a meter loaded unpaid (sql/V163) and its
            // payment showed as "card.owed" and "card.owed_paid".
            named(-1, "card.owed", "card_operation", Some(2102)),
            named(-2, "card.owed_paid", "card_operation", Some(2102)),
            // s42-e: a meter write-back noted on the card's row (sql/V200).
            named(-3, "card.meter_noted", "card", Some(12345)),
        ],
        more_before: false,
        more_after: false,
    };
    answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
    let screen = render(&app);
    for name in [
        "角色",
        "部门 4",
        "卡 12345",
        "卡与数据库不一致",
        "系统卡 77",
        "卡上找到失败充值",
        "记欠款：未付水费",
        "补收未付水费",
        "记录水表回写",
    ] {
        assert!(screen.contains(name), "{name}: {screen}");
    }
    for raw in [
        "role",
        "department",
        "card",
        "discrepancy",
        "found_on",
        "owed",
        "meter_noted",
    ] {
        assert!(!screen.contains(raw), "{raw}: {screen}");
    }
}

/// A deposit into a system-prepaid account is a recharge, as its account screen names it, and
/// every key of its detail is in the desk's language (session 33, by hand: "存款" and
/// `new_owner.address` on a Chinese desk), and so are its values: the payment method by its
/// name, the amount with its two decimals (the integrator, by hand: "付款方式：cash", "25.5").
#[test]
fn a_system_prepaid_recharge_and_its_details_are_named_in_the_desks_language() {
    for (lang, recharge, deposit, keys) in [
        (
            Lang::Zh,
            "充值",
            "存款",
            [
                "金额：50.50",
                "付款方式：现金",
                "收据号：16988",
                "新户主 · 地址：北京",
            ],
        ),
        (
            Lang::En,
            "Recharge",
            "Deposit",
            [
                "Amount: 50.50",
                "Payment method: Cash",
                "Receipt number: 16988",
                "New owner · Address: 北京",
            ],
        ),
    ] {
        let mut app = supervisor(lang);
        let sent = open_audit(&mut app);
        let deposit_row = |business_model: &str| AuditRow {
            action: "account.deposit".into(),
            entity: Some("customer".into()),
            business_model: Some(business_model.into()),
            detail: json!({"amount": 50.5, "method": "cash", "receipt_no": 16988,
                           "transaction_id": 12917, "new_owner": {"address": "北京"}}),
            operation_state: None,
            failure_reason: None,
            ..row(2, 10, Some("clerk"), "customer.modify")
        };
        let page = Page {
            rows: vec![deposit_row("system_prepaid"), deposit_row("postpaid")],
            more_before: false,
            more_after: false,
        };
        answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
        let list = render(&app);
        assert_eq!(list.matches(recharge).count(), 1, "{list}");
        assert_eq!(
            list.matches(deposit).count(),
            1,
            "a postpaid deposit: {list}"
        );
        press(&mut app, KeyCode::Enter);
        let entry = render(&app);
        assert!(entry.contains(recharge), "{entry}");
        for key in keys {
            assert!(entry.contains(key), "{key}: {entry}");
        }
        for raw in ["amount", "receipt_no", "transaction_id", "new_owner"] {
            assert!(!entry.contains(raw), "{raw}: {entry}");
        }
    }
}

#[test]
fn an_entry_in_chinese() {
    let mut app = viewer(Lang::Zh);
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("audit_entry_change_zh", render(&app));
    press(&mut app, KeyCode::F(3));
    press(&mut app, KeyCode::Char('/'));
    insta::assert_snapshot!("audit_filter_form_zh", render(&app));
}

/// A card operation's entry is written before the card is touched: the line and the entry say
/// when the operation failed, and why.
#[test]
fn a_failed_card_operation_says_so() {
    let mut app = viewer(Lang::Zh);
    let list = render(&app);
    assert!(list.contains("充值（失败）"), "{list}");
    assert_eq!(
        list.matches("充值（失败）").count(),
        3,
        "ids 96, 90, 84: {list}"
    );
    for _ in 0..4 {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    let entry = render(&app);
    assert!(entry.contains("充值（失败）"), "{entry}");
    assert!(entry.contains("结果    失败 — 卡上未写入"), "{entry}");
    press(&mut app, KeyCode::F(3));
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Enter);
    let done = render(&app);
    assert!(done.contains("结果    完成"), "{done}");
}

#[test]
fn roles_taken_away_since_sign_in_close_the_viewer() {
    let mut app = supervisor(Lang::En);
    let sent = open_audit(&mut app);
    let next = answer(&mut app, &sent, Reply::screen(AuditReply::NotPermitted));
    assert!(app.screen.is::<CustomerTable>(), "the viewer is closed");
    // The desk believed the roles allowed it: it reads them again.
    assert!(rereads_permissions(&next), "{next:?}");
    let text = app.message.clone().unwrap().text;
    assert!(text.contains("do not allow you to view it"), "{text}");
}

#[test]
fn the_overview_lists_the_audit_log_to_those_who_may_read_it() {
    let mut app = supervisor(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "overview");
    press(&mut app, KeyCode::Enter);
    assert!(render(&app).contains(":audit"));
    let mut clerk = signed_in(Lang::En);
    press(&mut clerk, KeyCode::Char(':'));
    type_text(&mut clerk, "overview");
    press(&mut clerk, KeyCode::Enter);
    assert!(!render(&clerk).contains(":audit"));
}

/// Tab on the filter's last date, full, then a date typed: it replaces the one there
/// (session 33, by hand: every digit was refused as "not a date").
#[test]
fn a_date_typed_after_tab_on_the_full_last_date_replaces_it() {
    let mut app = viewer(Lang::Zh);
    press(&mut app, KeyCode::Char('/'));
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
    }
    type_text(&mut app, "2026-12-03");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "2026-12-05");
    let Pane::Filter(form) = &audit_screen(&app).pane else {
        panic!("the filter form")
    };
    assert_eq!(form.value(4), "2026-12-05");
    assert!(app.message.is_none(), "{:?}", app.message);
}

/// The codes an entry stores are named as the desk names them elsewhere (session 33's "Found,
/// not fixed"): a reading's source, a customer's, a bill's and a meter's status, a card
/// operation's state, an operator's department by its name (read with the entry) and roles.
#[test]
fn an_entrys_codes_are_named_in_the_desks_language() {
    for (lang, names) in [
        (
            Lang::Zh,
            [
                "来源：柜台录入",
                "部门：营业厅",
                "角色：收费员、主管",
                "状态：正常 → 销户",
                "水表状态：已安装 → 已拆除",
                "状态：未缴 → 作废",
                "状态：完成",
            ],
        ),
        (
            Lang::En,
            [
                "Source: Entered at the counter",
                "Department: Front office",
                "Roles: Clerk, Supervisor",
                "Status: open → closed",
                "Meter status: installed → removed",
                "Status: unpaid → void",
                "State: done",
            ],
        ),
    ] {
        let front_office = match lang {
            Lang::Zh => "营业厅",
            Lang::En => "Front office",
        };
        let entries = [
            (
                "reading.enter",
                json!({"after": {"source": "counter", "meter_id": 5}}),
            ),
            (
                "operator.create",
                json!({"after": {"login": "li", "department_id": 4,
                                 "roles": ["clerk", "supervisor"]}}),
            ),
            (
                "customer.close",
                json!({"before": {"status": "active", "meter_status": "installed"},
                       "after": {"status": "closed", "meter_status": "removed"}}),
            ),
            (
                "bill.void",
                json!({"before": {"status": "unpaid"}, "after": {"status": "void"}}),
            ),
            (
                "card.resolve",
                json!({"without_card": true, "state": "done"}),
            ),
        ];
        let mut shown = String::new();
        for (action, detail) in entries {
            let mut app = supervisor(lang);
            let sent = open_audit(&mut app);
            let entry = AuditRow {
                action: action.into(),
                detail,
                department_names: [(4, front_office.to_owned())].into(),
                bill_cycles: Default::default(),
                ..row(1, 10, Some("admin"), "login.failed")
            };
            let page = Page {
                rows: vec![entry],
                more_before: false,
                more_after: false,
            };
            answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
            press(&mut app, KeyCode::Enter);
            shown.push_str(&render(&app));
        }
        for name in names {
            assert!(shown.contains(name), "{name}: {shown}");
        }
        for raw in [
            "\"clerk\"",
            ": 4 ",
            "：4 ",
            ": active",
            "：active",
            "：unpaid",
        ] {
            assert!(!shown.contains(raw), "{raw}: {shown}");
        }
    }
}

/// A date with a letter in it (s38-e: a date field dropped what it refused, with a word gone
/// by the next key): the field keeps it and says so; F2 asks for nothing.
#[test]
fn a_date_with_a_letter_is_kept_and_said() {
    let mut app = viewer(Lang::En);
    press(&mut app, KeyCode::Char('/'));
    for _ in 0..3 {
        press(&mut app, KeyCode::Tab);
    }
    type_text(&mut app, "2026-1z-01");
    let Pane::Filter(form) = &audit_screen(&app).pane else {
        panic!("the filter form")
    };
    assert_eq!(form.value(3), "2026-1z-01", "nothing typed lost");
    let screen = render(&app);
    let line = screen
        .lines()
        .find(|line| line.contains("2026-1z-01"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(line.contains("! a date, e.g. 2026-11-28"), "{screen}");
    let sent = press(&mut app, KeyCode::F(2));
    assert!(sent.is_empty(), "{sent:?}");
}

/// s46-c: a correction of prices not yet in force (sql/V250, a `price_version.add` entry with
/// what it `replaces`) is named a correction on the list and in full, not "New prices"; the
/// personal values the database masks for a reader who serves no customer (sql/V255: `***`,
/// `*** (changed)`) are said in the reader's language; nothing of either is left in English
/// on the Chinese screen (80×24).
#[test]
fn a_price_correction_is_named_so_and_masked_values_are_said_in_the_readers_language() {
    for (lang, said, unsaid) in [
        (
            Lang::En,
            [
                "Prices corrected",
                "New prices",
                "Mobile: (hidden) → (hidden, changed)",
                "Replaced · Unit prices",
            ],
            vec!["***"],
        ),
        (
            Lang::Zh,
            [
                "价格更正",
                "新价格",
                "手机：（已隐藏） → （已隐藏，已更改）",
                "原价格 · 单价",
            ],
            vec!["***", "changed", "replaces"],
        ),
    ] {
        let prices = |id: i64, replaces: bool| {
            let mut detail = json!({"effective_from": "2026-12-08", "upper_bounds": [null],
                                    "unit_prices": [3.6]});
            if replaces {
                detail["replaces"] = json!({"upper_bounds": [null], "unit_prices": [0]});
            }
            AuditRow {
                action: "price_version.add".into(),
                entity: Some("price_scheme".into()),
                entity_id: Some(1),
                entity_key: None,
                detail,
                ..row(id, 10, Some("super"), "login.failed")
            }
        };
        let masked = AuditRow {
            detail: json!({"before": {"mobile": "***", "name": "***"},
                           "after": {"mobile": "*** (changed)", "name": "***"}}),
            ..row(1, 9, Some("clerk"), "customer.modify")
        };
        // A reader whose roles serve no customer: the database masks for them.
        let mut app = supervisor(lang);
        if let Some(session) = app.session.as_mut() {
            session.serves_customers = false;
        }
        let sent = open_audit(&mut app);
        let page = Page {
            rows: vec![prices(3, true), prices(2, false), masked.clone()],
            more_before: false,
            more_after: false,
        };
        answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
        let mut shown = render(&app);
        press(&mut app, KeyCode::Enter);
        let correction = render(&app);
        insta::assert_snapshot!(
            format!("audit_price_correction_{lang:?}").to_lowercase(),
            correction
        );
        shown.push_str(&correction);
        press(&mut app, KeyCode::Esc);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Enter);
        let hidden = render(&app);
        insta::assert_snapshot!(
            format!("audit_masked_values_{lang:?}").to_lowercase(),
            hidden
        );
        shown.push_str(&hidden);
        for words in said {
            assert!(
                flat(&shown).contains(&flat(words)),
                "{lang:?} {words}:\n{shown}"
            );
        }
        for words in unsaid {
            assert!(!shown.contains(words), "{lang:?} {words}:\n{shown}");
        }
        // To a reader the database masks nothing for, "***" is what is stored.
        let mut app = supervisor(lang);
        let sent = open_audit(&mut app);
        let page = Page {
            rows: vec![masked.clone()],
            more_before: false,
            more_after: false,
        };
        answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
        press(&mut app, KeyCode::Enter);
        let stored = render(&app);
        assert!(stored.contains("*** → *** (changed)"), "{stored}");
    }
}

/// s46-f, from the review: the database masks the personal values only in the entries that
/// can name a customer (sql/V255's `audit_detail`); in an operator's, a role's, a
/// department's, a type's or a scheme's entry a "***" is the value stored, and is shown as
/// stored even to a reader the database masks for, not "(hidden)".
#[test]
fn a_value_stored_as_stars_where_the_database_never_masks_is_shown_as_stored() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = supervisor(lang);
        if let Some(session) = app.session.as_mut() {
            session.serves_customers = false;
        }
        let sent = open_audit(&mut app);
        let mut rows = Vec::new();
        for (id, entity) in [
            "operator",
            "role",
            "department",
            "meter_type",
            "customer_type",
            "price_scheme",
        ]
        .into_iter()
        .enumerate()
        {
            rows.push(AuditRow {
                entity: Some(entity.into()),
                detail: json!({"before": {"name": "***"}, "after": {"name": "*** (changed)"}}),
                ..row(id as i64 + 1, 9, Some("admin"), "operator.modify")
            });
        }
        let page = Page {
            rows,
            more_before: false,
            more_after: false,
        };
        answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
        for at in 0..6 {
            for _ in 0..at {
                press(&mut app, KeyCode::Down);
            }
            press(&mut app, KeyCode::Enter);
            let screen = render(&app);
            assert!(
                screen.contains("*** → *** (changed)"),
                "{lang:?} entry {at}:\n{screen}"
            );
            press(&mut app, KeyCode::Esc);
            for _ in 0..at {
                press(&mut app, KeyCode::Up);
            }
        }
    }
}

/// s46-f, from the review: the utility's time zone changed (sql/V280: `installation.zone`,
/// entity `installation`, keys `utility_zone` and `was`) showed its codes on `:audit`; it is
/// named in the desk's language, its keys too (en, zh).
#[test]
fn the_utilitys_time_zone_changed_is_named_in_the_desks_language() {
    for (lang, said) in [
        (
            Lang::En,
            [
                "The utility's time zone changed",
                "installation",
                "Utility's time zone: Asia/Shanghai",
                "Was: UTC",
            ],
        ),
        (
            Lang::Zh,
            [
                "更改水司时区",
                "系统安装",
                "水司时区：Asia/Shanghai",
                "原为：UTC",
            ],
        ),
    ] {
        let mut app = supervisor(lang);
        let sent = open_audit(&mut app);
        let entry = AuditRow {
            action: "installation.zone".into(),
            entity: Some("installation".into()),
            entity_id: None,
            entity_key: None,
            detail: json!({"utility_zone": "Asia/Shanghai", "was": "UTC"}),
            ..row(1, 9, Some("admin"), "login.failed")
        };
        let page = Page {
            rows: vec![entry],
            more_before: false,
            more_after: false,
        };
        answer(&mut app, &sent, Reply::screen(AuditReply::Page(page)));
        press(&mut app, KeyCode::Enter);
        let screen = render(&app);
        for words in said {
            assert!(
                flat(&screen).contains(&flat(words)),
                "{lang:?} {words}:\n{screen}"
            );
        }
        for raw in ["installation.zone", "utility_zone", "was:"] {
            assert!(!screen.contains(raw), "{lang:?} {raw}:\n{screen}");
        }
    }
}
