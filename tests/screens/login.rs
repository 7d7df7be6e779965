//! The sign-in screen.

use crate::support::*;

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
            outcome: Ok(Reply::screen(SignInAnswer::Refused(
                LoginRefusal::WrongCredentials,
            ))),
        },
    );
    insta::assert_snapshot!(render(&app));
}

/// A sign-in that finds the database down keeps the form and says to press F2 again: it is not
/// parked, since nothing would send it again — the desk watches the database only for a
/// signed-in operator (session 33, by hand: the sign-in spun on "DB: reconnecting…" long after
/// the server was back; F2 again signed in).
#[test]
fn database_lost_while_signing_in_keeps_the_form_and_says_to_sign_in_again() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Ok(Reply::screen(SignInAnswer::Refused(
                LoginRefusal::Unreachable(LostConnection::NotListening),
            ))),
        },
    );
    assert!(app.parked.is_empty() && app.in_flight.is_empty());
    let Some(form) = app.screen.module::<SignIn>() else {
        panic!("still on the login screen")
    };
    assert_eq!(form.operator.value(), "clerk");
    assert_eq!(form.password.value(), "secret");
    insta::assert_snapshot!(render(&app));

    let again = press(&mut app, KeyCode::F(2));
    assert_eq!(
        again.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        vec![Request(Box::new(Login {
            login: "clerk".into(),
            password: "secret".into()
        }))],
        "F2 signs in again with what was typed"
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
    assert!(app.screen.is::<SignIn>());
    let first_page = answer(
        &mut app,
        &sent,
        Reply::screen(SignInAnswer::LoggedIn(session())),
    );
    assert!(app.screen.is::<CustomerTable>());
    // Keys typed before the table's rows are in are for those rows: they wait for them.
    assert!(app.overlay.is_none());
    answer(&mut app, &first_page, Reply::screen(sample_page(19)));
    assert!(
        matches!(
            app.overlay,
            Some(meterdesk::app::state::Overlay::Help { .. })
        ),
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
            outcome: Ok(Reply::screen(SignInAnswer::LoggedIn(session()))),
        },
    );
    assert!(!late.redraw);
    assert!(app.screen.is::<SignIn>());
}

#[test]
fn a_typed_password_never_shows_in_debug_output() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "Tr0ub4dor&3");
    assert!(
        !format!("{app:?}").contains("Tr0ub4dor"),
        "the form in the app's state"
    );
    let sent = press(&mut app, KeyCode::Enter);
    let [(_, request)] = &sent[..] else {
        panic!("one request: {sent:?}")
    };
    assert_eq!(
        request.of::<Login>().map(|login| login.password.as_str()),
        Some("Tr0ub4dor&3"),
        "the request carries the password to the check"
    );
    let shown = format!("{request:?} {app:?}");
    assert!(!shown.contains("Tr0ub4dor"), "{shown}");
    assert!(
        shown.contains("clerk"),
        "the operator's name is still shown"
    );
}

#[test]
fn a_session_the_server_ends_signs_the_desk_out_with_the_reason() {
    let mut app = signed_in(Lang::En);
    let sent = press(&mut app, KeyCode::F(5));
    assert!(!sent.is_empty(), "F5 asks the database again");
    update(
        &mut app,
        Msg::Reply {
            id: sent[0].0,
            outcome: Err(Failure::SignedOut(
                "role \"clerk@meterdesk\" is not permitted to log in".into(),
            )),
        },
    );
    assert!(app.session.is_none());
    assert!(app.screen.is::<SignIn>());
    let screen = render(&app);
    assert!(
        screen.contains("Signed out: the database no longer accepts"),
        "{screen}"
    );

    // The health watcher may see it first: the same.
    let mut app = signed_in(Lang::En);
    update(
        &mut app,
        Msg::SessionEnded("not permitted to log in".into()),
    );
    assert!(app.session.is_none() && app.screen.is::<SignIn>());

    // In the desk's language alone: the server's English goes to the log (session 35: a
    // Chinese desk ended "…请联系管理员。（password authentication failed for user …）").
    let mut app = signed_in(Lang::Zh);
    update(
        &mut app,
        Msg::SessionEnded(
            "password authentication failed for user \"clerk@meterdesk\" (SQLSTATE 28P01)".into(),
        ),
    );
    let said = app.message.clone().expect("said").text;
    assert_eq!(
        said,
        "已退出：数据库不再接受您的登录（已停用或密码已被修改），请联系管理员。"
    );
}

#[test]
fn shift_tab_and_up_go_back_on_the_sign_in_form() {
    let mut app = app(Lang::En);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "pw");
    press(&mut app, KeyCode::BackTab);
    type_text(&mut app, "2");
    press(&mut app, KeyCode::Down);
    type_text(&mut app, "3");
    press(&mut app, KeyCode::Up);
    type_text(&mut app, "4");
    let Some(form) = app.screen.module::<SignIn>() else {
        panic!("{:?}", app.screen)
    };
    assert_eq!(form.operator.value(), "clerk24", "{}", render(&app));
    assert_eq!(form.password.value(), "pw3");
    assert!(app.message.is_none(), "nothing refused: {:?}", app.message);
}

/// The sign-in screen shows what is known of the database: nothing before a sign-in has
/// answered, unreachable when a sign-in found it down, ok once a server answered (session 33,
/// by hand: "数据库：正常" with the server stopped).
#[test]
fn the_sign_in_shows_the_database_as_known() {
    let mut app = app(Lang::Zh);
    let first = render(&app);
    assert!(
        first.contains("数据库：未知") && !first.contains("数据库：正常"),
        "{first}"
    );
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    for (refusal, shown) in [
        (
            LoginRefusal::Unreachable(LostConnection::NotListening),
            "数据库：无法连接",
        ),
        (LoginRefusal::WrongCredentials, "数据库：正常"),
    ] {
        let sent = press(&mut app, KeyCode::F(2));
        answer(
            &mut app,
            &sent,
            Reply::screen(SignInAnswer::Refused(refusal)),
        );
        let screen = render(&app);
        assert!(screen.contains(shown), "{shown}: {screen}");
    }
}
