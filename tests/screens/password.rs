//! Changing one's password: forced after a sign-in with a temporary one (nothing else until
//! then), and `:password` from anywhere.

use meterdesk::screens::password::{ChangePassword, PasswordAnswer, PasswordChange};

use crate::support::*;

/// Signs in through the keys, the database answering that the password is temporary.
fn signed_in_with_a_temporary_password(lang: Lang) -> App {
    let mut app = app(lang);
    update(&mut app, Msg::Resize(80, 24));
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "temp-pass-1");
    let sent = press(&mut app, KeyCode::Enter);
    let session = Session {
        must_change_password: true,
        ..session()
    };
    let next = answer(
        &mut app,
        &sent,
        Reply::screen(SignInAnswer::LoggedIn(session)),
    );
    assert!(
        next.is_empty(),
        "nothing is asked before the password is changed: {next:?}"
    );
    app
}

fn only_change(sent: &[(u64, Request)]) -> ChangePassword {
    let [(_, request)] = sent else {
        panic!("one request: {sent:?}")
    };
    request
        .of::<ChangePassword>()
        .expect("a password change")
        .clone()
}

#[test]
fn a_temporary_password_is_changed_before_anything_else() {
    let mut app = signed_in_with_a_temporary_password(Lang::En);
    assert!(app.screen.is::<PasswordChange>());
    insta::assert_snapshot!(render(&app));

    // Too short: said, nothing sent, both fields to type again.
    type_text(&mut app, "short");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "short");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(
        app.message
            .clone()
            .unwrap()
            .text
            .contains("at least 8 characters")
    );

    type_text(&mut app, "my-own-pass");
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "my-own-pass");
    let sent = press(&mut app, KeyCode::F(2));
    assert_eq!(
        only_change(&sent),
        ChangePassword::new("clerk", None, "my-own-pass")
    );
    assert!(
        !format!("{:?} {:?}", sent, app).contains("my-own-pass"),
        "a password never shows in Debug"
    );
    let next = answer(&mut app, &sent, Reply::screen(PasswordAnswer::Changed));
    assert!(app.screen.is::<CustomerTable>());
    assert!(!app.session.as_ref().unwrap().must_change_password);
    assert!(
        next.iter()
            .any(|(_, request)| request.of::<Fetch>().is_some())
    );
}

#[test]
fn a_temporary_password_in_chinese() {
    let app = signed_in_with_a_temporary_password(Lang::Zh);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn leaving_the_forced_change_signs_out() {
    let mut app = signed_in_with_a_temporary_password(Lang::En);
    press(&mut app, KeyCode::F(3));
    assert!(app.screen.is::<SignIn>());
    assert!(app.session.is_none());
}

#[test]
fn a_wrong_current_password_clears_all_three_fields() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "password");
    press(&mut app, KeyCode::Enter);
    assert!(app.screen.is::<PasswordChange>());
    for text in ["old-guess", "river-2027"] {
        type_text(&mut app, text);
        press(&mut app, KeyCode::Enter);
    }
    type_text(&mut app, "river-2027");
    let sent = press(&mut app, KeyCode::Enter);
    assert_eq!(
        only_change(&sent),
        ChangePassword::new("clerk", Some("old-guess"), "river-2027")
    );
    answer(&mut app, &sent, Reply::screen(PasswordAnswer::WrongCurrent));
    insta::assert_snapshot!(render(&app));

    // Typed again from the top, the new password is what was typed, not appended.
    for text in ["right-one", "river-2027"] {
        type_text(&mut app, text);
        press(&mut app, KeyCode::Enter);
    }
    type_text(&mut app, "river-2027");
    let sent = press(&mut app, KeyCode::Enter);
    assert_eq!(
        only_change(&sent),
        ChangePassword::new("clerk", Some("right-one"), "river-2027")
    );
    answer(&mut app, &sent, Reply::screen(PasswordAnswer::Changed));
    assert!(app.screen.is::<CustomerTable>(), "back where it was opened");
}
