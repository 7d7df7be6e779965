//! Keys typed ahead of a screen change land where the clerk meant them (s39-b): behind a
//! question not yet read they wait for its answer; behind a save that is refused, or a session
//! the server ended, they are dropped with a word, never typed into the screen that stays.

use crate::support::*;

use meterdesk::app::state::Slot;
use meterdesk::db::customer_changes::CustomerBasics;
use meterdesk::domain::customer_rules::{BasicInfo as Info, Field, PersonalInfo};
use meterdesk::screens::basic_info::LoadBasics;
use meterdesk::screens::details::Details;
use meterdesk::screens::modify::{Modify, ModifyView};

/// The details of the table's first customer, read.
fn on_the_details(lang: Lang) -> App {
    let mut app = signed_in(lang);
    let sent = press(&mut app, KeyCode::Enter);
    answer(
        &mut app,
        &sent,
        Reply::screen(Found(Some(Box::new(crate::details::sample_details())))),
    );
    assert!(app.screen.is::<Details>());
    app
}

/// Every key of `keys` as one burst, with the requests they sent.
fn burst(app: &mut App, keys: &[KeyCode]) -> Vec<(u64, Request)> {
    keys.iter().flat_map(|key| press(app, *key)).collect()
}

fn chars(text: &str) -> Vec<KeyCode> {
    text.chars().map(KeyCode::Char).collect()
}

/// s38-e by hand: `:logout Enter`, then the next operator's name and password and `:audit`,
/// typed as one burst on the details.
fn sign_out_burst() -> Vec<KeyCode> {
    [
        chars(":logout"),
        vec![KeyCode::Enter],
        chars("admin"),
        vec![KeyCode::Tab],
        chars("PUUmUCY9NfDV"),
        vec![KeyCode::Enter],
        chars(":audit"),
        vec![KeyCode::Enter],
    ]
    .concat()
}

/// The burst does not open Modify nor type the password into its ID number: the keys wait
/// behind the question, which says so; `:logout` typed once it is read signs out and the keys
/// sign the next operator in.
#[test]
fn a_sign_in_typed_behind_logout_waits_for_the_answer_and_signs_in() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = on_the_details(lang);
        let sent = burst(&mut app, &sign_out_burst());
        assert!(sent.is_empty(), "{lang:?}: nothing asked for: {sent:?}");
        assert!(app.screen.is::<Details>(), "{lang:?}: still on the details");
        assert!(app.session.is_some(), "{lang:?}: not signed out unasked");
        let screen = message(&app);
        let (waits, answer) = match lang {
            Lang::En => (
                "The 26 keys typed after this wait",
                ":logout again signs out",
            ),
            Lang::Zh => ("其后键入的 26 个键在等待", "再输入 :logout 退出"),
        };
        assert!(screen.contains(waits), "{screen}");
        assert!(screen.contains(answer), "{screen}");
        assert!(
            !screen.contains("PUUm"),
            "the password is never shown: {screen}"
        );

        read_the_question(&mut app);
        let sent = burst(&mut app, &[chars(":logout"), vec![KeyCode::Enter]].concat());
        let [(_, request)] = sent.as_slice() else {
            panic!("{lang:?}: the sign-in the keys typed: {sent:?}")
        };
        let Some(login) = request.of::<Login>() else {
            panic!("{lang:?}: a sign-in: {request:?}")
        };
        assert_eq!(login.login, "admin", "{lang:?}");
        assert!(app.held.is_empty() && app.asked.is_none(), "{lang:?}");
        // `:audit` waits in the type-ahead for the sign-in's answer, as typed.
        assert_eq!(app.type_ahead.len(), 7, "{lang:?}: {:?}", app.type_ahead);
    }
}

/// Any other key, pressed once the question is read, stays signed in on the details and drops
/// the keys held behind it, saying how many; nothing of them reached the details.
#[test]
fn keys_typed_behind_logout_are_dropped_by_a_no_with_a_word() {
    for (lang, said) in [
        (
            Lang::En,
            "Stayed. The 26 keys typed before the question was read were dropped",
        ),
        (Lang::Zh, "已留下。问题显示前键入的 26 个键已丢弃"),
    ] {
        let mut app = on_the_details(lang);
        burst(&mut app, &sign_out_burst());
        read_the_question(&mut app);
        // `m`: this one key only says no.
        let sent = press(&mut app, KeyCode::Char('m'));
        assert!(sent.is_empty(), "{lang:?}: {sent:?}");
        assert!(app.screen.is::<Details>(), "{lang:?}");
        assert!(app.session.is_some() && app.held.is_empty(), "{lang:?}");
        assert!(message(&app).contains(said), "{lang:?}: {}", message(&app));
        // The next `m`, read, modifies.
        let sent = press(&mut app, KeyCode::Char('m'));
        assert!(
            sent.iter().any(|(_, r)| r.of::<LoadBasics>().is_some()),
            "{lang:?}: {sent:?}"
        );
    }
}

/// One key typed behind the question is "1 key" in English, its verbs and pronouns with it;
/// Chinese counts as before.
#[test]
fn one_key_typed_behind_logout_is_said_as_one() {
    for (lang, waits, dropped) in [
        (
            Lang::En,
            "The 1 key typed after this waits: :logout again signs out and types it on the \
             sign-in; any other key drops it.",
            "Stayed. The 1 key typed before the question was read was dropped: type it again.",
        ),
        (
            Lang::Zh,
            "其后键入的 1 个键在等待",
            "已留下。问题显示前键入的 1 个键已丢弃",
        ),
    ] {
        let mut app = on_the_details(lang);
        burst(
            &mut app,
            &[chars(":logout"), vec![KeyCode::Enter, KeyCode::Char('m')]].concat(),
        );
        assert!(message(&app).contains(waits), "{lang:?}: {}", message(&app));
        read_the_question(&mut app);
        press(&mut app, KeyCode::Char('x'));
        assert!(
            message(&app).contains(dropped),
            "{lang:?}: {}",
            message(&app)
        );
    }
}

/// A question left unanswered while a reply says something over it: the held keys go with
/// it, kept in `:messages`.
#[test]
fn keys_held_behind_a_question_a_reply_takes_away_are_dropped_and_kept_in_the_messages() {
    let mut app = on_the_details(Lang::En);
    burst(&mut app, &sign_out_burst());
    let sent = press(&mut app, KeyCode::F(5));
    assert!(sent.is_empty(), "F5 is held too");
    update(&mut app, Msg::SessionEnded("disabled".into()));
    assert!(app.held.is_empty());
    assert!(
        app.said.iter().any(|said| said
            .message
            .text
            .contains("The 27 keys typed before the question")),
        "{:?}",
        app.said
    );
}

/// The question's answer typed ahead by a clerk who knows it still answers: F3 F3 F2 from the
/// details signs out, and the sign-in typed behind it signs in.
#[test]
fn the_answer_typed_ahead_still_signs_out_and_the_keys_behind_it_sign_in() {
    let mut app = on_the_details(Lang::En);
    let keys = [
        vec![KeyCode::F(3), KeyCode::F(3), KeyCode::F(2)],
        chars("admin"),
        vec![KeyCode::Enter],
        chars("secret"),
        vec![KeyCode::Enter],
    ]
    .concat();
    let sent = burst(&mut app, &keys);
    let [(_, request)] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(
        request.of::<Login>().map(|l| l.login.as_str()),
        Some("admin")
    );
}

/// The modify form of 张伟, read.
fn modifying(lang: Lang) -> App {
    let mut app = signed_in(lang);
    let sent = press(&mut app, KeyCode::Char('m'));
    answer(
        &mut app,
        &sent,
        Reply::screen(Some(CustomerBasics {
            customer_id: 1,
            version: 4,
            active: true,
            info: Info::Personal(PersonalInfo {
                name: "张伟".into(),
                id_document_no: None,
                mobile: "13800138000".into(),
                address: "北京市朝阳区建国路88号".into(),
                household_size: Some(3),
                email: None,
                remark: None,
            }),
        })),
    );
    assert!(app.screen.is::<ModifyView>());
    app
}

fn name_typed(app: &App) -> String {
    let Some(view) = app.screen.module::<ModifyView>() else {
        panic!("the modify form: {:?}", app.screen)
    };
    view.basic.as_ref().unwrap().value(Field::Name).to_owned()
}

/// Ctrl-G on a changed form asks; keys typed behind it before it is read wait, and Ctrl-G
/// again goes home and types them there (a search), not into the form.
#[test]
fn keys_typed_behind_going_home_wait_and_are_typed_on_the_table() {
    let mut app = modifying(Lang::Zh);
    type_text(&mut app, "李");
    let ctrl_g = KeyEvent::new(KeyCode::Char('g'), KeyModifiers::CONTROL);
    update(&mut app, Msg::Key(ctrl_g));
    let sent = burst(&mut app, &chars("/138"));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(name_typed(&app), "李", "nothing typed into the form");
    assert!(
        message(&app).contains("其后键入的 4 个键在等待"),
        "{}",
        message(&app)
    );
    read_the_question(&mut app);
    let sent = update(&mut app, Msg::Key(ctrl_g)).requests;
    let Some(table) = app.screen.module::<CustomerTable>() else {
        panic!("home: {:?}", app.screen)
    };
    assert_eq!(table.search.value(), "138", "typed on the table's search");
    assert!(
        sent.iter().any(|(_, r)| r.of::<Fetch>().is_some()),
        "{sent:?}"
    );
}

/// A save the database refuses leaves its form on top: the keys typed behind the F2, for where
/// the save would have gone, are not typed into it, and the message line says so.
#[test]
fn keys_typed_behind_a_refused_save_are_dropped_with_a_word() {
    for (lang, said) in [
        (Lang::En, "The keys pressed after F2 were not done."),
        (Lang::Zh, "按 F2 之后按下的键未执行。"),
    ] {
        let mut app = modifying(lang);
        type_text(&mut app, "李娜");
        let sent = press(&mut app, KeyCode::F(2));
        assert!(only_modify(&sent));
        // Back on the table, the clerk thinks: `m` and a name for the next customer.
        let more = burst(&mut app, &chars("m王"));
        assert!(more.is_empty(), "the keys wait for the save: {more:?}");
        let [(id, _)] = sent.as_slice() else { panic!() };
        update(
            &mut app,
            Msg::Reply {
                id: *id,
                outcome: Err(Failure::Error(Problem::new(
                    "failure.database_unknown",
                    "SQLSTATE 23514, customer_check",
                ))),
            },
        );
        assert_eq!(
            name_typed(&app),
            "李娜",
            "{lang:?}: nothing typed into the form"
        );
        assert!(app.type_ahead.is_empty());
        // Behind the refusal, which comes first (long, it is whole in `:messages`).
        let screen = message(&app);
        assert!(screen.contains(said), "{lang:?}: {screen}");
        // Both whole at 80×24: the refusal fills two rows, the words added after it a third
        // (s39: cut, "… (all in :messages)" in their place).
        let screen = render_at(&app, (80, 24));
        let shown = flat(&screen);
        assert!(shown.contains(&flat(said)), "{lang:?}: {screen}");
        let refusal = app.message.clone().unwrap().text;
        assert!(
            shown.contains(&flat(&refusal)),
            "{lang:?}: {refusal}: {screen}"
        );
        assert!(!screen.contains(":messages"), "{lang:?}: {screen}");
    }
}

/// The screen's text without its rows' quotes and spaces, so words broken over rows read on.
fn flat(screen: &str) -> String {
    screen
        .lines()
        .map(|row| {
            let row = row.split("\" Hidden").next().unwrap_or(row);
            row.trim_matches('"')
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
        })
        .collect()
}

fn only_modify(sent: &[(u64, Request)]) -> bool {
    matches!(sent, [(_, request)] if request.of::<Modify>().is_some())
}

/// The server ended the session while a save was on its way: the keys typed behind it were for
/// that session, not for the sign-in's operator field.
#[test]
fn keys_waiting_when_the_server_ends_the_session_are_not_typed_on_the_sign_in() {
    let mut app = modifying(Lang::En);
    type_text(&mut app, "李娜");
    let sent = press(&mut app, KeyCode::F(2));
    assert!(only_modify(&sent));
    type_text(&mut app, "m王");
    update(&mut app, Msg::SessionEnded("password changed".into()));
    let Slot::Module(_, _) = &app.screen else {
        panic!()
    };
    let Some(sign_in) = app.screen.module::<SignIn>() else {
        panic!("signed out: {:?}", app.screen)
    };
    assert_eq!(sign_in.operator.value(), "", "nothing typed for the form");
}

/// F3 on a changed form asks ("F3 or F12 again discards"); keys typed behind it before it is
/// read were for the screen below, not the form: they wait, F3 again leaves and types them
/// there; another key keeps editing and drops them.
#[test]
fn keys_typed_behind_leaving_a_changed_form_wait_and_go_below() {
    for lang in [Lang::En, Lang::Zh] {
        let mut app = modifying(lang);
        type_text(&mut app, "李");
        press(&mut app, KeyCode::F(3));
        let sent = burst(&mut app, &chars("/138"));
        assert!(sent.is_empty(), "{sent:?}");
        assert_eq!(
            name_typed(&app),
            "李",
            "{lang:?}: nothing typed into the form"
        );
        read_the_question(&mut app);
        let sent = press(&mut app, KeyCode::F(3));
        let Some(table) = app.screen.module::<CustomerTable>() else {
            panic!("{lang:?}: left: {:?}", app.screen)
        };
        assert_eq!(table.search.value(), "138", "{lang:?}");
        assert!(sent.iter().any(|(_, r)| r.of::<Fetch>().is_some()));

        let mut app = modifying(lang);
        type_text(&mut app, "李");
        press(&mut app, KeyCode::F(3));
        burst(&mut app, &chars("/138"));
        read_the_question(&mut app);
        press(&mut app, KeyCode::Char('娜'));
        assert_eq!(
            name_typed(&app),
            "李娜",
            "{lang:?}: the key read keeps editing"
        );
        let said = match lang {
            Lang::En => "The 4 keys typed before the question was read were dropped",
            Lang::Zh => "问题显示前键入的 4 个键已丢弃",
        };
        assert!(message(&app).contains(said), "{lang:?}: {}", message(&app));
        // Asked again, F3 again leaves.
        press(&mut app, KeyCode::F(3));
        read_the_question(&mut app);
        press(&mut app, KeyCode::F(3));
        assert!(app.screen.is::<CustomerTable>(), "{lang:?}");
    }
}
