//! The screens at 80×24 on a TestBackend, driven by key sequences through the real `update`,
//! compared with committed insta snapshots.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meterdesk::app::state::{
    DbStatus, Failure, LoginRefusal, Msg, Overview, Reply, Request, Screen, Session,
};
use meterdesk::app::{App, KeyMap, update};
use meterdesk::card::reader::ReaderState;
use meterdesk::i18n::Lang;
use meterdesk::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rust_decimal::Decimal;

fn app(lang: Lang) -> App {
    App::new(KeyMap::default(), lang, Default::default())
}

fn render(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app)).unwrap();
    terminal.backend().to_string()
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
    }
}

/// Signs in through the keys and answers the login request as the database would.
fn signed_in(lang: Lang) -> App {
    let mut app = app(lang);
    type_text(&mut app, "clerk");
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "secret");
    let sent = press(&mut app, KeyCode::Enter);
    let [(id, _)] = sent.as_slice() else {
        panic!("one login request: {sent:?}")
    };
    let next = update(
        &mut app,
        Msg::Reply {
            id: *id,
            outcome: Ok(Reply::LoggedIn(session())),
        },
    );
    let [(id, Request::Overview)] = next.requests.as_slice() else {
        panic!("the home screen asks for its figures: {:?}", next.requests)
    };
    let overview = Overview {
        customers: 1_000_000,
        card_customers: 333_334,
        uninstalled_meters: 5_000,
        active_cards: 250_001,
        payments_today: 17,
        takings_today: Decimal::new(1_234_550, 2),
    };
    update(
        &mut app,
        Msg::Reply {
            id: *id,
            outcome: Ok(Reply::Overview(overview)),
        },
    );
    update(
        &mut app,
        Msg::Reader(ReaderState::NoCard {
            reader: "Virtual PCD 00 00".into(),
        }),
    );
    app
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
fn home_screen() {
    insta::assert_snapshot!(render(&signed_in(Lang::En)));
}

#[test]
fn home_screen_in_chinese() {
    insta::assert_snapshot!(render(&signed_in(Lang::Zh)));
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
    assert!(matches!(app.screen, Screen::Home(_)));
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
    assert!(matches!(sent.as_slice(), [(_, Request::Overview)]));

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
    assert!(matches!(app.screen, Screen::Login(_)));
    assert!(app.session.is_none());
}

#[test]
fn a_stored_escape_sequence_cannot_reach_the_terminal() {
    let mut app = signed_in(Lang::En);
    app.session.as_mut().unwrap().full_name = "Evil\x1b]0;pwned\x07\x1b[2J".into();
    update(&mut app, Msg::Resize);
    let screen = render(&app);
    assert!(!screen.contains('\x1b'), "{screen}");
    assert!(screen.contains("Evil\\x1b]0;pwned\\x07"), "{screen}");
}
