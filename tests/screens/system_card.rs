//! System cards (`:system-card`, issue 11 item 4): a supervisor's form (kind, meter, the
//! setting card's volumes), the meter checked against the database, the confirmation, the write
//! and its outcome; a clerk refused as it opens; a system card on the reader said in words on
//! the status line, the card screen, and where a user card is expected.

use crate::support::insert_card as insert;
use crate::support::*;
use meterdesk::app::card_status::{CardSeen, ReadCard};
use meterdesk::cardflow::SystemCardSeen;
use meterdesk::db::card_ops::{
    ClearedCredit, OperationState, SettingApplied, SystemCardFacts, SystemCardMeter,
    SystemCardRefusal,
};
use meterdesk::db::receipts::{ReceiptLine, ReceiptRecord};
use meterdesk::domain::card_records::{MeterNumber, MeterStatus, MeterWriteBack};
use meterdesk::domain::system_cards::{SystemCard, SystemCardKind};
use meterdesk::screens::card::{
    CardScreen, FinishedReceipt, KeepReceipt, Receipt, ReceiptKept, ReceiptOfClearCredit,
    receipt_text,
};
use meterdesk::screens::system_card::{
    CheckMeter, IssueOutcome, IssueSystemCard, Issued, MeterChecked, SystemCardScreen,
};

const READER: &str = "Virtual PCD 00 00";

fn supervisor(app: &mut App) {
    let session = app.session.as_mut().unwrap();
    session.login = "super".into();
    session.roles = vec!["supervisor".into()];
    session.permissions = [
        "customer.view",
        "card.read",
        "card.recharge",
        "card.refund",
        "card.resolve",
        "card.system",
    ]
    .map(str::to_owned)
    .to_vec();
}

fn command(app: &mut App, name: &str) -> Vec<(u64, Request)> {
    press(app, KeyCode::Char(':'));
    type_text(app, name);
    press(app, KeyCode::Enter)
}

/// A supervisor with a blank card in the reader, on the system card form.
fn form(lang: Lang) -> App {
    let mut app = signed_in(lang);
    supervisor(&mut app);
    insert(&mut app, CardSeen::Blank);
    assert!(
        command(&mut app, "system-card").is_empty(),
        "nothing is read"
    );
    assert!(app.screen.is::<SystemCardScreen>());
    app
}

fn meter() -> MeterNumber {
    MeterNumber::new("WM-0042").unwrap()
}

fn found(customer: bool) -> SystemCardMeter {
    SystemCardMeter {
        meter_no: "WM-0042".into(),
        customer: customer.then(|| (10_023_457, "张伟".to_owned())),
        takes_card: true,
    }
}

fn only<T: 'static>(sent: &[(u64, Request)]) -> &T {
    match sent {
        [(_, request)] => request.of::<T>().expect("the request expected"),
        _ => panic!("one request: {sent:?}"),
    }
}

/// Types a setting card for meter WM-0042 (alarm at 2 m³, at most 60 m³) and presses F2: what
/// it sent, the meter's check.
fn type_setting_card(app: &mut App) -> Vec<(u64, Request)> {
    press(app, KeyCode::Tab);
    type_text(app, "wm-0042");
    press(app, KeyCode::Tab);
    type_text(app, "2");
    press(app, KeyCode::Tab);
    type_text(app, "60");
    press(app, KeyCode::F(2))
}

/// Types a kind into the choice field (its lookup list) and picks it.
fn choose_kind(app: &mut App, label: &str) {
    type_text(app, label);
    press(app, KeyCode::Enter);
}

#[test]
fn a_setting_card_is_checked_confirmed_written_and_told() {
    let mut app = form(Lang::En);
    insta::assert_snapshot!("system_card_form_en", render(&app));
    let sent = type_setting_card(&mut app);
    let check = only::<CheckMeter>(&sent);
    assert_eq!(
        (check.kind, check.meter.clone()),
        (
            SystemCardKind::Setting {
                alarm_litres: 2_000,
                max_credit_litres: 60_000
            },
            meter()
        )
    );
    let checked = MeterChecked {
        kind: check.kind,
        meter: meter(),
        found: Some(found(true)),
    };
    answer(&mut app, &sent, Reply::screen(checked));
    insta::assert_snapshot!("system_card_confirm_setting_en", render(&app));

    let sent = press(&mut app, KeyCode::F(2));
    let issue = only::<IssueSystemCard>(&sent).issue.clone();
    assert_eq!(issue.meter, meter());
    let next = answer(
        &mut app,
        &sent,
        Reply::screen(IssueOutcome {
            issue,
            issued: Issued::Done {
                card_no: 10_000_031,
            },
        }),
    );
    assert!(
        next.iter().any(|(_, r)| r.of::<ReadCard>().is_some()),
        "the card is read again: {next:?}"
    );
    let message = app.message.as_ref().unwrap().text.clone();
    assert_eq!(
        message,
        "Setting card 10000031 for meter WM-0042 written and journaled."
    );
    assert!(app.screen.is::<SystemCardScreen>(), "another may follow");
}

#[test]
fn a_clear_card_in_chinese_names_whose_credit_it_wipes() {
    let mut app = form(Lang::Zh);
    insta::assert_snapshot!("system_card_form_zh", render(&app));
    choose_kind(&mut app, "清零");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "WM-0042");
    let sent = press(&mut app, KeyCode::F(2));
    let check = only::<CheckMeter>(&sent);
    assert_eq!(
        check.kind,
        SystemCardKind::Clear,
        "the volumes are not asked"
    );
    let checked = MeterChecked {
        kind: SystemCardKind::Clear,
        meter: meter(),
        found: Some(found(true)),
    };
    answer(&mut app, &sent, Reply::screen(checked));
    insta::assert_snapshot!("system_card_confirm_clear_zh", render(&app));
    // F12 goes back to the form, the typing kept.
    press(&mut app, KeyCode::F(12));
    assert!(render(&app).contains("WM-0042"));
    assert!(render(&app).contains("清零卡"));
}

#[test]
fn wrong_volumes_an_unknown_meter_and_a_card_that_is_not_blank_are_said_in_words() {
    let mut app = form(Lang::En);
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "WM-0042");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "60");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "2");
    assert!(press(&mut app, KeyCode::F(2)).is_empty());
    assert_eq!(
        app.message.as_ref().unwrap().text,
        "The alarm must be below the maximum credit."
    );

    let mut app = form(Lang::En);
    choose_kind(&mut app, "Check");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "WM-9999");
    let sent = press(&mut app, KeyCode::F(2));
    let checked = MeterChecked {
        kind: SystemCardKind::Check,
        meter: MeterNumber::new("WM-9999").unwrap(),
        found: None,
    };
    answer(&mut app, &sent, Reply::screen(checked));
    assert_eq!(
        app.message.as_ref().unwrap().text,
        "No meter WM-9999 in the system."
    );

    // The meter is known, but the card in the reader is a user's: nothing is sent.
    let sent = {
        let mut app = form(Lang::En);
        choose_kind(&mut app, "Check");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "WM-0042");
        let sent = press(&mut app, KeyCode::F(2));
        let checked = MeterChecked {
            kind: SystemCardKind::Check,
            meter: meter(),
            found: Some(found(false)),
        };
        answer(&mut app, &sent, Reply::screen(checked));
        update(
            &mut app,
            Msg::Reader(ReaderState::NoCard {
                reader: READER.into(),
            }),
        );
        insert(&mut app, clear_card_seen(None));
        let sent = press(&mut app, KeyCode::F(2));
        assert_eq!(
            app.message.as_ref().unwrap().text,
            "Put a blank card in the reader first: a system card is written only onto a blank card."
        );
        sent
    };
    assert!(sent.is_empty(), "{sent:?}");
}

/// A meter that takes no card gets no system card: said on the meter's field, nothing to
/// confirm (session 31, by hand: a postpaid remote-read meter's setting card was confirmed).
#[test]
fn a_meter_that_takes_no_card_is_refused_at_the_check() {
    for (lang, said) in [
        (
            Lang::En,
            "Meter WM-0042 takes no card: system cards are for IC card meters.",
        ),
        (
            Lang::Zh,
            "水表 WM-0042 不用 IC 卡：系统卡只用于 IC 卡水表。",
        ),
    ] {
        let mut app = form(lang);
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "WM-0042");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "2");
        press(&mut app, KeyCode::Tab);
        type_text(&mut app, "60");
        let sent = press(&mut app, KeyCode::F(2));
        let checked = MeterChecked {
            kind: SystemCardKind::Setting {
                alarm_litres: 2_000,
                max_credit_litres: 60_000,
            },
            meter: meter(),
            found: Some(SystemCardMeter {
                takes_card: false,
                ..found(true)
            }),
        };
        answer(&mut app, &sent, Reply::screen(checked));
        assert_eq!(app.message.as_ref().unwrap().text, said);
        let screen = render(&app);
        assert!(
            !screen.contains("Write this system card?") && !screen.contains("写入这张系统卡？"),
            "nothing to confirm: {screen}"
        );
        assert!(
            screen.contains("WM-0042"),
            "the meter typed stays: {screen}"
        );
    }
}

/// F4 on the kind lists all three kinds, at 80×24: the list opens over the notes below the
/// form (inside the form's rows it showed two, the clear card hidden).
#[test]
fn the_kinds_list_shows_all_three_kinds() {
    let mut app = form(Lang::Zh);
    press(&mut app, KeyCode::F(4));
    let screen = render(&app);
    for kind in ["│ 设置卡", "│ 检查卡", "│ 清零卡"] {
        assert!(screen.contains(kind), "{kind}: {screen}");
    }
    insta::assert_snapshot!("system_card_kinds_list_zh", screen);
}

#[test]
fn a_clerk_is_refused_as_it_opens() {
    let mut app = signed_in(Lang::En);
    command(&mut app, "system-card");
    assert!(!app.screen.is::<SystemCardScreen>());
    assert_eq!(
        app.message.as_ref().unwrap().text,
        "Only a supervisor issues system cards (issue system cards)."
    );
}

fn at(hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, hour, 5, 0).unwrap()
}

/// A clear card for meter WM-0042 that its meter applied, wiping 10.100 m³.
fn clear_card_seen(cleared: Option<ClearedCredit>) -> CardSeen {
    let credited = match cleared {
        Some(ClearedCredit::Recorded { credited, .. }) => Some((10_100, credited)),
        _ => None,
    };
    CardSeen::System(Box::new(SystemCardSeen {
        card: SystemCard {
            card_number: 10_000_033,
            meter_number: meter(),
            kind: SystemCardKind::Clear,
            written_at: 1_796_295_600,
            applied: Some(MeterWriteBack {
                last_loaded_sequence: 1,
                registered_generation: 1,
                credit_litres: 10_100,
                total_litres: 10_100,
                status: MeterStatus::default(),
                written_at: 1_796_299_200,
            }),
        },
        facts: Some(SystemCardFacts {
            state: OperationState::Done,
            issued_at: at(9),
            issued_by: "super".into(),
            customer: Some((10_023_457, "张伟".into())),
            cleared: credited,
        }),
        cleared,
        setting_applied: None,
    }))
}

/// A setting card for meter WM-0042 (at most 30 m³) that its meter applied, holding 24 m³,
/// with what this read recorded of it: [`clear_card_seen`]'s issue, another kind.
fn setting_card_seen(recorded: SettingApplied) -> CardSeen {
    let CardSeen::System(mut seen) = clear_card_seen(None) else {
        unreachable!("a system card")
    };
    seen.card.card_number = 10_000_031;
    seen.card.kind = SystemCardKind::Setting {
        alarm_litres: 3_000,
        max_credit_litres: 30_000,
    };
    if let Some(applied) = &mut seen.card.applied {
        applied.credit_litres = 24_000;
        applied.total_litres = 24_000;
    }
    seen.setting_applied = Some(recorded);
    CardSeen::System(seen)
}

/// A setting card brought back from its meter, read by a clerk: the read recorded that the
/// meter applied it and says so, once; the card screen says it is recorded.
#[test]
fn a_setting_card_back_from_its_meter_says_its_application_was_recorded() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = signed_in(lang);
        insert(&mut app, setting_card_seen(SettingApplied::RecordedNow));
        let said = app.message.as_ref().unwrap().text.clone();
        let expected = match lang {
            Lang::En => {
                "Recorded: meter WM-0042 applied setting card 10000031 (at most 30.000 m³)."
            }
            Lang::Zh => "已记录：水表 WM-0042 已使用设置卡 10000031（最多存 30.000 m³）。",
        };
        assert_eq!(said, expected);
        let (said_name, screen_name) = match lang {
            Lang::En => (
                "setting_card_applied_said_en",
                "setting_card_applied_on_the_card_screen_en",
            ),
            Lang::Zh => (
                "setting_card_applied_said_zh",
                "setting_card_applied_on_the_card_screen_zh",
            ),
        };
        insta::assert_snapshot!(said_name, render(&app));
        command(&mut app, "card");
        assert!(app.screen.is::<CardScreen>());
        insta::assert_snapshot!(screen_name, render(&app));
    }
    // Read again: recorded before, nothing said of it (the card screen still says recorded).
    let mut app = signed_in(Lang::En);
    insert(&mut app, setting_card_seen(SettingApplied::RecordedBefore));
    let said = app.message.as_ref().map(|message| message.text.clone());
    assert!(
        !said.as_deref().unwrap_or("").contains("recorded"),
        "{said:?}"
    );
    command(&mut app, "card");
    assert!(render(&app).contains("Recorded at the counter as applied by its meter."));
}

#[test]
fn a_clear_card_read_at_the_counter_says_what_it_is_and_what_was_credited() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = signed_in(lang);
        supervisor(&mut app);
        let credited = ClearedCredit::Recorded {
            credited: Decimal::new(1000, 2),
            receipt_no: Some(1017),
        };
        let sent = insert(&mut app, clear_card_seen(Some(credited)));
        // The credit is on a customer's balance: the table reads its rows again.
        assert!(
            sent.iter()
                .any(|(_, request)| request.of::<Fetch>().is_some()),
            "{sent:?}"
        );
        let sent = pages_answered(&mut app, sent);
        let said = app.message.as_ref().unwrap().text.clone();
        // The receipt, read back and kept, is the next test's.
        answer(&mut app, &sent, Reply::screen(FinishedReceipt(None)));
        let expected = match lang {
            Lang::En => {
                "Clear card 10000033: 10.100 m³ wiped; 10.00 credited to 10023457 张伟; \
                 receipt #1017."
            }
            Lang::Zh => {
                "清零卡 10000033：清除 10.100 m³，已向 10023457 张伟 退款 10.00；收据 #1017。"
            }
        };
        assert_eq!(said, expected);
        command(&mut app, "card");
        assert!(app.screen.is::<CardScreen>());
        let name = match lang {
            Lang::En => "system_card_on_the_card_screen_en",
            Lang::Zh => "system_card_on_the_card_screen_zh",
        };
        insta::assert_snapshot!(name, render(&app));
        // Where a user card is expected, the card says what it is instead of an error.
        press(&mut app, KeyCode::Char('r'));
        let said = app.message.as_ref().unwrap().text.clone();
        let expected = match lang {
            Lang::En => {
                "This is a Clear card (10000033) for meter WM-0042, issued 2026-12-03 09:05 by \
                 super. It is no user card."
            }
            Lang::Zh => {
                "这是表 WM-0042 的清零卡（10000033），2026-12-03 09:05 由 super 发行。它不是用户卡。"
            }
        };
        assert_eq!(said, expected);
    }
}

/// The receipt of the credit as the database recorded it: one `card_refund` row of 10.00 for
/// 10.000 m³, the balance 10.00 after it.
fn credit_record() -> ReceiptRecord {
    ReceiptRecord {
        receipt_no: 1017,
        issued_at: at(10),
        operator: "王芳".into(),
        customer_no: 10_023_457,
        name: "张伟".into(),
        meter_no: "WM-0042".into(),
        business_model: "meter_prepaid".into(),
        method: None,
        lines: vec![ReceiptLine {
            kind: "clear_card_credit".into(),
            amount: "10.00".parse().unwrap(),
            volume: Some("10".parse().unwrap()),
            unit_price: None,
            cycle: None,
        }],
        balance_after: "10.00".parse().unwrap(),
        reprints: 0,
    }
}

/// A supervisor's read that credits the wiped water gets the credit's receipt read back and
/// kept (file, print command) wherever the desk is, once: a read of the same card again,
/// credited before, asks for none.
#[test]
fn the_credit_a_read_records_gets_its_receipt_kept_once() {
    let mut app = signed_in(Lang::Zh);
    supervisor(&mut app);
    let credited = ClearedCredit::Recorded {
        credited: Decimal::new(1000, 2),
        receipt_no: Some(1017),
    };
    let sent = insert(&mut app, clear_card_seen(Some(credited)));
    let asked: Vec<_> = pages_answered(&mut app, sent)
        .into_iter()
        .filter(|(_, request)| request.of::<ReceiptOfClearCredit>().is_some())
        .collect();
    assert_eq!(
        only::<ReceiptOfClearCredit>(&asked),
        &ReceiptOfClearCredit {
            card_no: 10_000_033,
            receipt_no: 1017
        }
    );
    let receipt = Receipt::of_credit(10_000_033, credit_record()).unwrap();
    let kept = answer(
        &mut app,
        &asked,
        Reply::screen(FinishedReceipt(Some(Box::new(receipt)))),
    );
    let keep = only::<KeepReceipt>(&kept);
    assert_eq!(keep.receipt_no, 1017);
    assert!(keep.text.contains("清零卡退款收据"), "{}", keep.text);
    let path = "receipts/receipt-0000001017.txt".to_owned();
    answer(&mut app, &kept, Reply::screen(ReceiptKept(Ok(path))));
    insta::assert_snapshot!("clear_card_credit_receipt_kept_zh", render(&app));

    update(
        &mut app,
        Msg::Reader(ReaderState::NoCard {
            reader: READER.into(),
        }),
    );
    let again = insert(&mut app, clear_card_seen(Some(ClearedCredit::Before)));
    assert!(
        again
            .iter()
            .all(|(_, request)| request.of::<ReceiptOfClearCredit>().is_none()),
        "{again:?}"
    );
}

/// The receipt of a clear card's credit, on the paper every card receipt shares, in both
/// languages at the demo's width.
#[test]
fn the_credit_receipt_in_both_languages() {
    let utc = chrono::FixedOffset::east_opt(0).unwrap();
    let receipt = Receipt::of_credit(10_000_033, credit_record()).unwrap();
    for (lang, name) in [
        (Lang::En, "clear_card_credit_receipt_en"),
        (Lang::Zh, "clear_card_credit_receipt_zh"),
    ] {
        insta::assert_snapshot!(name, receipt_text(lang, utc, &receipt, 40));
    }
}

#[test]
fn a_clerks_read_of_a_clear_card_leaves_the_credit_to_a_supervisor() {
    let mut app = signed_in(Lang::En);
    let sent = insert(&mut app, clear_card_seen(Some(ClearedCredit::NotPermitted)));
    // The desk knew the clerk may not: nothing to learn.
    assert!(!rereads_permissions(&sent), "{sent:?}");
    command(&mut app, "card");
    assert!(
        render(&app).contains("A supervisor reads this card to credit the water wiped."),
        "{}",
        render(&app)
    );
}

#[test]
fn help_offers_the_command_to_supervisors_only() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::F(1));
    assert!(!render(&app).contains(":system-card"), "{}", render(&app));
    press(&mut app, KeyCode::Esc);
    supervisor(&mut app);
    press(&mut app, KeyCode::F(1));
    assert!(render(&app).contains(":system-card"), "{}", render(&app));
}

/// A supervisor whose `card.system` was taken since the sign-in: the read of a clear card that
/// could not record its credit, and a system card the database refuses to journal, make the
/// desk read the operator's permissions again.
#[test]
fn a_system_card_refused_for_want_of_a_permission_reads_the_permissions_again() {
    let mut app = signed_in(Lang::En);
    supervisor(&mut app);
    let sent = insert(&mut app, clear_card_seen(Some(ClearedCredit::NotPermitted)));
    assert!(rereads_permissions(&sent), "{sent:?}");

    let mut app = form(Lang::En);
    let sent = type_setting_card(&mut app);
    let check = only::<CheckMeter>(&sent);
    let checked = MeterChecked {
        kind: check.kind,
        meter: meter(),
        found: Some(found(true)),
    };
    answer(&mut app, &sent, Reply::screen(checked));
    let sent = press(&mut app, KeyCode::F(2));
    let issue = only::<IssueSystemCard>(&sent).issue.clone();
    let refused = IssueOutcome {
        issue,
        issued: Issued::Refused(SystemCardRefusal::NotPermitted),
    };
    let next = answer(&mut app, &sent, Reply::screen(refused));
    assert!(rereads_permissions(&next), "{next:?}");
    assert!(
        next.iter().any(|(_, r)| r.of::<ReadCard>().is_some()),
        "the card is read again: {next:?}"
    );
}
