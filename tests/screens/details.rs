//! The details of one customer.

use crate::support::*;
use meterdesk::app::Command;
use meterdesk::app::help::{self, HelpLine};
use meterdesk::domain::money::{Money, Volume};
use meterdesk::screens::card::{KeepReceipt, LoadOwed, OwedPaidHere, OwedToPay, PayOwed};
use meterdesk::screens::details::Details;

pub(crate) fn sample_details() -> CustomerDetails {
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
            balance: Money::from_cents(24_690),
            arrears: Money::ZERO,
            unpaid_bills: 0,
            card_debts: 0,
            recent_transactions: vec![TransactionSummary {
                at: at(20, 10),
                kind: "card_purchase".into(),
                amount: Money::from_cents(-12_000),
                volume: Some(Volume::from_litres(34_782)),
                payment_method: Some(meterdesk::db::cards::PaymentMethod {
                    code: "cash".into(),
                    name: "Cash".into(),
                }),
                receipt_no: Some(123),
            }],
        },
        card: Some(CardSummary {
            state: "active".into(),
            card_no: 12_345,
            generation: 2,
            last_purchase_seq: Some(7),
            last_purchase_loaded: Some(false),
            owed: None,
            owed_seq: None,
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
    let mut app = signed_in(Lang::En);
    // Times are shown in the desk's time zone: Beijing time.
    app.zone = FixedOffset::east_opt(8 * 3600).unwrap();
    press(&mut app, KeyCode::Down);
    let sent = press(&mut app, KeyCode::Enter);
    let [(_, request)] = sent.as_slice() else {
        panic!("Enter asks for the selected customer's details: {sent:?}")
    };
    assert_eq!(request.of(), Some(&LoadDetails { customer_id: 2 }));
    assert!(
        render(&app).contains("10000034"),
        "the breadcrumbs name the customer"
    );
    answer(
        &mut app,
        &sent,
        Reply::screen(Found(Some(Box::new(sample_details())))),
    );
    let screen = render(&app);
    assert!(!screen.contains('\x1b'), "{screen}");
    insta::assert_snapshot!(screen);

    press(&mut app, KeyCode::F(3));
    let Some(table) = app.screen.module::<CustomerTable>() else {
        panic!("F3 goes back to the table")
    };
    assert_eq!(table.selected, 1, "with the same row selected");
}

/// A long receipt number is never cut at 80×24: the payment method's name gives way.
#[test]
fn a_long_receipt_number_is_shown_whole() {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::Enter);
    let mut details = sample_details();
    let transaction = &mut details.account.recent_transactions[0];
    transaction.receipt_no = Some(123_456_789);
    transaction.payment_method = Some(meterdesk::db::cards::PaymentMethod {
        code: "bank_transfer".into(),
        name: "Bank transfer".into(),
    });
    answer(
        &mut app,
        &sent,
        Reply::screen(Found(Some(Box::new(details)))),
    );
    let screen = render(&app);
    assert!(
        screen.contains("Bank tr… #123456789"),
        "the whole receipt number: {screen}"
    );
}

/// The details of a card customer (`sample_details`), as `signed_in`'s clerk or as whoever
/// `permissions` makes them.
fn details_as(permissions: Option<&[&str]>) -> App {
    let mut app = signed_in(Lang::En);
    if let Some(permissions) = permissions {
        app.session.as_mut().unwrap().permissions =
            permissions.iter().map(|p| (*p).to_owned()).collect();
    }
    press(&mut app, KeyCode::Down);
    let sent = press(&mut app, KeyCode::Enter);
    answer(
        &mut app,
        &sent,
        Reply::screen(Found(Some(Box::new(sample_details())))),
    );
    app
}

fn legend(app: &App) -> String {
    render(app).lines().last().unwrap().to_owned()
}

const SUPERVISOR: [&str; 8] = [
    "customer.view",
    "customer.modify",
    "customer.transfer",
    "card.read",
    "card.open",
    "card.replace",
    "card.recharge",
    "card.refund",
];

/// The customer's commands of the table work on the details, with the same keys, each as the
/// operator's roles allow: the legend offers only those, and the others are refused in words.
#[test]
fn the_customers_commands_on_the_details_as_the_roles_allow() {
    let mut clerk = details_as(None);
    assert_eq!(
        legend(&clerk),
        "\"F1 Help  F3 Back  m Modify  t Transfer  F6 Open card  F8 Recharge  $ Account    \""
    );
    let sent = press(&mut clerk, KeyCode::F(7));
    assert!(sent.is_empty(), "{sent:?}");
    assert!(clerk.screen.is::<Details>());
    assert_eq!(
        clerk.message.clone().unwrap().text,
        "Your roles do not allow you to replace lost or damaged cards."
    );
    // The row's own refusal, as on the table: this customer has an active card.
    press(&mut clerk, KeyCode::F(6));
    assert!(clerk.screen.is::<Details>());
    assert!(
        clerk.message.clone().unwrap().text.contains("already has"),
        "{:?}",
        clerk.message
    );

    let mut supervisor = details_as(Some(&SUPERVISOR));
    assert_eq!(
        legend(&supervisor),
        "\"F1 Help  F3 Back  m Modify  t Transfer  F6 Open card  F7 Replace card           \""
    );
    press(&mut supervisor, KeyCode::F(7));
    let screen = render(&supervisor);
    assert!(screen.contains("Reason: lost"), "{screen}");
    assert!(screen.contains("10000034"), "{screen}");

    let mut administrator = details_as(Some(&["customer.view", "card.read", "operator.maintain"]));
    assert_eq!(
        legend(&administrator),
        "\"F1 Help  F3 Back  $ Account  b Bills  F5 Refresh  : Command  F10 Quit           \""
    );
    for (key, permission) in [
        (KeyCode::Char('m'), "modify a customer's basic information"),
        (KeyCode::Char('t'), "transfer a customer to a new owner"),
        (KeyCode::F(8), "recharge cards"),
    ] {
        let sent = press(&mut administrator, key);
        assert!(sent.is_empty(), "{key:?}: {sent:?}");
        assert!(administrator.screen.is::<Details>(), "{key:?}");
        assert_eq!(
            administrator.message.clone().unwrap().text,
            format!("Your roles do not allow you to {permission}.")
        );
    }
}

/// Session 32, by hand: a system-prepaid customer's recharge was "存入" (deposit) in the details'
/// latest transactions and "充值" (recharge) on the account screen and its receipt.
#[test]
fn a_system_prepaid_recharge_is_named_as_the_account_names_it() {
    for (lang, recharge, deposit) in [
        (Lang::Zh, "充值", "存入"),
        (Lang::En, "recharge", "deposit"),
    ] {
        let mut app = signed_in(lang);
        let sent = press(&mut app, KeyCode::Enter);
        let mut details = sample_details();
        details.customer_type.business_model = "system_prepaid".into();
        let transaction = &mut details.account.recent_transactions[0];
        transaction.kind = "deposit".into();
        transaction.amount = Money::from_cents(10_000);
        transaction.volume = None;
        answer(
            &mut app,
            &sent,
            Reply::screen(Found(Some(Box::new(details)))),
        );
        let line = render(&app)
            .lines()
            .find(|line| line.contains("100.00"))
            .map(str::to_owned)
            .expect("the transaction is shown");
        assert!(line.contains(recharge), "{line}");
        assert!(!line.contains(deposit), "{line}");
    }
}

/// A customer whose meter takes no card (system-side prepaid), as the details read them.
fn details_without_a_card_meter() -> CustomerDetails {
    let mut details = sample_details();
    details.customer_type.name = "居民预付费".into();
    details.customer_type.business_model = "system_prepaid".into();
    details.meter.meter_type = "Remote meter".into();
    details.card = None;
    let transaction = &mut details.account.recent_transactions[0];
    transaction.kind = "deposit".into();
    transaction.amount = Money::from_cents(10_000);
    transaction.volume = None;
    details
}

/// Sessions 32 (s32-e, s32-i): F6 Open card was offered on the details of a customer whose
/// meter takes no card, and refused in words when pressed. The card's keys (open, replace) are
/// offered in the legend and the help only where the meter takes a card; typed anyway, they
/// are refused in the row's words, not as a key not available here.
#[test]
fn the_card_keys_are_offered_only_where_the_meter_takes_a_card() {
    for lang in [Lang::Zh, Lang::En] {
        for (kind, details, takes_a_card) in [
            ("card_meter", sample_details(), true),
            ("no_card_meter", details_without_a_card_meter(), false),
        ] {
            let mut app = signed_in(lang);
            // A supervisor who may also take money into an account: F8 is offered to both.
            app.session.as_mut().unwrap().permissions = SUPERVISOR
                .iter()
                .chain(&["account.deposit"])
                .map(|p| (*p).to_owned())
                .collect();
            let sent = press(&mut app, KeyCode::Enter);
            answer(
                &mut app,
                &sent,
                Reply::screen(Found(Some(Box::new(details)))),
            );
            let screen = render(&app);
            insta::assert_snapshot!(format!("details_{kind}_{}", lang.code()), screen);
            let what = format!("{kind} {lang:?}");
            assert_eq!(legend(&app).contains("F6"), takes_a_card, "{what}");
            // s33-j: where the meter takes no card, the card line says so, not "no card issued".
            let no_card = [
                ("未开卡", "此表不用卡"),
                ("no card issued", "the meter takes no card"),
            ];
            let (not_yet, takes_none) = no_card[usize::from(lang == Lang::En)];
            assert!(!screen.contains(not_yet), "{what}: {screen}");
            assert_eq!(
                screen.contains(takes_none),
                !takes_a_card,
                "{what}: {screen}"
            );
            let help = help::page(&app).lines;
            for command in [Command::OpenCard, Command::ReplaceCard] {
                let label = lang.t(command.label_key());
                let offered = help.iter().any(|line| {
                    matches!(line, HelpLine::Keys(keys) if keys.iter().any(|(_, l)| *l == label))
                });
                assert_eq!(offered, takes_a_card, "{what} {label}: {help:?}");
            }
            if takes_a_card {
                continue;
            }
            for key in [KeyCode::F(6), KeyCode::F(7)] {
                let sent = press(&mut app, key);
                assert!(sent.is_empty(), "{what} {key:?}: {sent:?}");
                assert!(app.screen.is::<Details>(), "{what} {key:?}");
                assert_eq!(
                    app.message.clone().unwrap().text,
                    lang.t("ic.refused_not_card_customer"),
                    "{what} {key:?}"
                );
            }
        }
    }
}

/// s33-e's "found, not fixed": `:open-card` typed on the command line on the details of a
/// customer whose meter takes no card said "not available here", where F6 says the row's
/// words; the command line now meets the same words as the key.
#[test]
fn a_card_key_typed_by_name_meets_the_words_of_its_key() {
    for lang in [Lang::Zh, Lang::En] {
        let mut app = signed_in(lang);
        app.session.as_mut().unwrap().permissions =
            SUPERVISOR.iter().map(|p| (*p).to_owned()).collect();
        let sent = press(&mut app, KeyCode::Enter);
        let details = details_without_a_card_meter();
        answer(
            &mut app,
            &sent,
            Reply::screen(Found(Some(Box::new(details)))),
        );
        for (key, name) in [
            (KeyCode::F(6), "open-card"),
            (KeyCode::F(7), "replace-card"),
        ] {
            press(&mut app, key);
            let by_key = app.message.take().unwrap().text;
            assert_eq!(by_key, lang.t("ic.refused_not_card_customer"), "{name}");
            press(&mut app, KeyCode::Char(':'));
            type_text(&mut app, name);
            let sent = press(&mut app, KeyCode::Enter);
            assert!(sent.is_empty(), "{lang:?} :{name}: {sent:?}");
            assert!(app.screen.is::<Details>(), "{lang:?} :{name}");
            assert_eq!(
                app.message.clone().unwrap().text,
                by_key,
                "{lang:?} :{name}"
            );
        }
    }
}

/// The top line of `app` (its breadcrumbs and states), trimmed.
fn top_line(app: &App) -> String {
    render(app).lines().next().unwrap().to_owned()
}

/// A crumb names a customer once: Modify, the bills and the account over the customer's
/// details say "Customers › 10000034 › Modify", not "… › 10000034 › 10000034 › Modify" (s39,
/// "客户 › 10000004 › 10000004 › 修改" by hand; a Modify over its details was taken for a second
/// copy of the details). `d` on the details opens nothing over them; F3 goes back to them.
#[test]
fn a_crumb_names_the_customer_once() {
    for (lang, customers, modify, bills, account) in [
        (Lang::En, "Customers", "Modify", "Bills", "Account"),
        (Lang::Zh, "客户", "修改", "账单", "账户"),
    ] {
        let details = || {
            let mut app = details_as(None);
            app.lang = lang;
            app
        };
        let mut app = details();
        press(&mut app, KeyCode::Char('d'));
        assert!(app.screen.is::<Details>(), "{lang:?}");
        assert_eq!(app.below.len(), 1, "{lang:?}: d opens no second copy");
        for (key, title) in [('m', modify), ('b', bills), ('$', account)] {
            let mut app = details();
            press(&mut app, KeyCode::Char(key));
            let crumbs = app.breadcrumbs();
            assert_eq!(
                crumbs.last().map(String::as_str),
                Some(title),
                "{lang:?} {key}: {crumbs:?}"
            );
            let top = top_line(&app);
            assert!(
                top.contains(&format!(" meterdesk › {customers} › 10000034 › {title}")),
                "{lang:?} {key}: {top}"
            );
            assert_eq!(top.matches("10000034").count(), 1, "{lang:?} {key}: {top}");
        }
        // The bills, then the deposit that pays a ticked one (F2, the balance short): the
        // customer once in the whole trail (by hand: "… › 10000406 › 账单 › 10000406 › 账户").
        let mut app = details();
        let sent = press(&mut app, KeyCode::Char('b'));
        let mut owing = crate::readings::bills();
        owing.customer_no = 10_000_034;
        owing.balance = Money::ZERO;
        answer(&mut app, &sent, Reply::screen(Some(owing)));
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char(' '));
        press(&mut app, KeyCode::F(2));
        let crumbs = app.breadcrumbs();
        assert_eq!(
            crumbs[2..],
            [bills.to_owned(), account.to_owned()],
            "{lang:?}: {crumbs:?}"
        );
        let top = top_line(&app);
        assert_eq!(top.matches("10000034").count(), 1, "{lang:?}: {top}");
        // From the table (no details below) the crumb names the customer too.
        let mut app = signed_in(lang);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('m'));
        let top = top_line(&app);
        assert!(
            top.contains(&format!(" meterdesk › {customers} › 10000034 › {modify}")),
            "{lang:?}: {top}"
        );
    }
}

/// s40-a: the water a meter loaded unpaid (sql/V163) is in the customer's details — what is
/// owed, for which purchase — whole at 80×24 in both languages. s42-b: and it is paid there.
/// The clerk met the debt only on this line, which said "paid with the next recharge": now the
/// line names the key that pays it, the legend offers it while it is owed (`P Pay debt`, right
/// after Back: never cut at 80 columns), and `P` asks as the close's step asks — the sum, how
/// many purchases, the method (→ another) —, F2 pays it with a key made then (F2 again while
/// it is on its way sends nothing), the receipt is kept and told, the details read again.
/// s42-c: the account's line counts it in the arrears, as a card debt (before, only unpaid
/// bills were: no arrears at all for a card meter's customer owing it).
#[test]
fn the_details_say_what_is_owed_for_water_a_meter_loaded_unpaid_and_p_pays_it() {
    for (lang, said, arrears, offered, asked, paid) in [
        (
            Lang::En,
            [
                "OWES 5.00: purchase #4 loaded unpaid",
                "P pays it here; so do a recharge, a transfer and the account's close",
            ],
            " · arrears 5.00 (1 card debt)",
            "F3 Back  P Pay debt  m Modify",
            [
                "Pay 5.00 owed for water a meter loaded unpaid",
                "WeChat Pay? Each debt",
            ],
            "Debt 5.00 paid, receipt #2051.",
        ),
        (
            Lang::Zh,
            [
                "欠款 5.00：第 4 笔购水已被水表充入而未付款",
                "按 P 在此收款；充值、过户、销户时也先收此款",
            ],
            " · 欠费 5.00（1 笔卡欠款）",
            "F3 返回  P 收欠款  m 修改",
            ["以微信支付收取", "水费 5.00"],
            "欠款 5.00 已收，收据 #2051。",
        ),
    ] {
        let mut app = signed_in(lang);
        press(&mut app, KeyCode::Down);
        let sent = press(&mut app, KeyCode::Enter);
        let mut details = sample_details();
        let owed = Money::from_cents(500);
        details.account.arrears = owed;
        details.account.card_debts = 1;
        if let Some(card) = details.card.as_mut() {
            card.owed = Some(owed);
            card.owed_seq = Some(4);
        }
        answer(
            &mut app,
            &sent,
            Reply::screen(Found(Some(Box::new(details)))),
        );
        let screen = render_at(&app, (80, 24));
        for said in said {
            assert!(screen.contains(said), "{lang:?}: {screen}");
        }
        assert!(screen.contains(arrears), "{lang:?}: {screen}");
        insta::assert_snapshot!(
            format!("details_owing_card_debt_{lang:?}").to_lowercase(),
            screen
        );
        assert!(legend(&app).contains(offered), "{lang:?}: {}", legend(&app));

        let sent = press(&mut app, KeyCode::Char('P'));
        let [(_, load)] = sent.as_slice() else {
            panic!("{lang:?}: {sent:?}")
        };
        assert_eq!(load.of(), Some(&LoadOwed { customer_id: 2 }));
        let to_pay = OwedToPay {
            owed: vec![a_card_debt()],
            methods: vec![method("cash", "Cash"), method("wechat_pay", "WeChat Pay")],
        };
        answer(&mut app, &sent, Reply::screen(to_pay));
        press(&mut app, KeyCode::Right);
        let screen = render_at(&app, (80, 24));
        for part in asked {
            assert!(screen.contains(part), "{lang:?}: {part} {screen}");
        }
        insta::assert_snapshot!(format!("details_pay_owed_{}", lang.code()), screen);

        read_the_question(&mut app);
        let sent = press(&mut app, KeyCode::F(2));
        let [(_, pay)] = sent.as_slice() else {
            panic!("{lang:?}: {sent:?}")
        };
        let pay = pay.of::<PayOwed>().expect("the payment").clone();
        assert_eq!(
            (
                pay.customer_id,
                pay.operations.as_slice(),
                pay.method.as_str()
            ),
            (2, &[77][..], "wechat_pay")
        );
        assert!(!pay.idempotency_key.is_empty());
        assert!(
            press(&mut app, KeyCode::F(2)).is_empty(),
            "F2 twice pays once"
        );

        let after = answer(
            &mut app,
            &sent,
            Reply::screen(OwedPaidHere(vec![a_card_debts_receipt()])),
        );
        assert!(
            after.iter().any(|(_, r)| r.of::<KeepReceipt>().is_some()),
            "the receipt kept: {after:?}"
        );
        assert!(
            after.iter().any(|(_, r)| r.of::<LoadDetails>().is_some()),
            "the details read again: {after:?}"
        );
        assert!(app.screen.is::<Details>());
        let screen = render_at(&app, (80, 24));
        assert!(screen.contains(paid), "{lang:?}: {screen}");
    }
}

/// Nothing owed: the legend does not offer the debt's payment, and `P` says there is none,
/// sending nothing; the details of an operator who may not sell water do not offer it either,
/// nor say that `P` pays it (s42-f's walk: "paid with the next recharge"), and `P` says why.
#[test]
fn p_pays_nothing_where_nothing_is_owed_or_for_whom_may_not_take_it() {
    let mut app = details_as(None);
    assert!(!legend(&app).contains("Pay debt"), "{}", legend(&app));
    assert!(press(&mut app, KeyCode::Char('P')).is_empty());
    assert_eq!(
        app.message.clone().unwrap().text,
        "The customer owes nothing for water a meter loaded unpaid."
    );

    let mut app = signed_in(Lang::En);
    app.session.as_mut().unwrap().permissions =
        ["customer.view", "card.read"].map(str::to_owned).into();
    press(&mut app, KeyCode::Down);
    let sent = press(&mut app, KeyCode::Enter);
    let mut details = sample_details();
    if let Some(card) = details.card.as_mut() {
        card.owed = Some(Money::from_cents(500));
        card.owed_seq = Some(4);
    }
    answer(
        &mut app,
        &sent,
        Reply::screen(Found(Some(Box::new(details)))),
    );
    assert!(!legend(&app).contains("Pay debt"), "{}", legend(&app));
    let screen = render_at(&app, (80, 24));
    for said in [
        "OWES 5.00: purchase #4 loaded unpaid",
        "a clerk takes it here, at a recharge, a transfer or the account's close",
    ] {
        assert!(screen.contains(said), "{screen}");
    }
    assert!(!screen.contains("P pays"), "{screen}");
    assert!(press(&mut app, KeyCode::Char('P')).is_empty());
    assert_eq!(
        app.message.clone().unwrap().text,
        "Your roles do not allow you to recharge cards."
    );
}
