//! `update`: the one place that changes `App`. Pure: it returns the requests to send instead
//! of doing I/O, so flows are tested by feeding key sequences.

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::command::Command;
use super::keymap::Key;
use super::state::*;
use crate::i18n::Lang;

/// A request to send, with the id its reply will carry.
pub type Outgoing = (RequestId, Request);

/// What one message asks of the runner.
#[derive(Debug, Default)]
pub struct Update {
    /// Requests to execute off the UI task.
    pub requests: Vec<Outgoing>,
    /// Whether the screen changed; most ticks and health reports change nothing, and an SSH
    /// link should not carry a frame for them.
    pub redraw: bool,
}

/// Applies one message.
pub fn update(app: &mut App, msg: Msg) -> Update {
    let mut out = Vec::new();
    let redraw = match msg {
        Msg::Key(key) => {
            on_key(app, key, &mut out);
            true
        }
        Msg::Resize => true,
        Msg::Tick => {
            app.spinner = app.spinner.wrapping_add(1);
            app.busy()
        }
        Msg::Reply { id, outcome } => match app.in_flight.iter().position(|f| f.id == id) {
            Some(at) => {
                let request = app.in_flight.remove(at).request;
                on_reply(app, request, outcome, &mut out);
                replay_type_ahead(app, &mut out);
                true
            }
            None => false, // cancelled or superseded: the answer no longer matters
        },
        Msg::Database(status) => {
            let changed = status != app.database;
            app.database = status;
            if status == DbStatus::Connected && !app.parked.is_empty() {
                for request in std::mem::take(&mut app.parked) {
                    send(app, request, &mut out);
                }
                say(app, MessageKind::Info, app.lang.t("db.back"));
            }
            changed || !out.is_empty()
        }
        Msg::Reader(state) => {
            let changed = state != app.reader;
            app.reader = state;
            changed
        }
    };
    Update {
        requests: out,
        redraw,
    }
}

fn send(app: &mut App, request: Request, out: &mut Vec<Outgoing>) {
    let id = app.next_request;
    app.next_request += 1;
    app.in_flight.push(InFlight {
        id,
        request: request.clone(),
    });
    out.push((id, request));
}

fn say(app: &mut App, kind: MessageKind, text: impl Into<String>) {
    app.message = Some(Message {
        kind,
        text: text.into(),
    });
}

fn replay_type_ahead(app: &mut App, out: &mut Vec<Outgoing>) {
    while !app.holds_input() {
        let Some(key) = app.type_ahead.pop_front() else {
            break;
        };
        on_key(app, key, out);
    }
}

fn on_key(app: &mut App, key: KeyEvent, out: &mut Vec<Outgoing>) {
    let command = app.keymap.command_for(&key);
    if app.holds_input() {
        if command == Some(Command::Cancel) {
            app.in_flight.retain(|f| !f.request.holds_input());
            app.type_ahead.clear();
            say(app, MessageKind::Info, app.lang.t("msg.cancelled"));
        } else {
            app.type_ahead.push_back(key);
        }
        return;
    }
    match &mut app.overlay {
        Some(Overlay::Help) => {
            if matches!(
                command,
                Some(Command::Help | Command::Cancel | Command::Leave)
            ) {
                app.overlay = None;
            }
        }
        Some(Overlay::CommandLine(line)) => match command {
            Some(Command::Cancel) => app.overlay = None,
            Some(Command::NextField) => complete(line),
            _ if key.code == KeyCode::Enter => {
                let typed = line.input.value().trim().to_owned();
                app.overlay = None;
                run_command_line(app, &typed, out);
            }
            _ => {
                line.completing = None;
                line.input.handle_event(&crossterm::event::Event::Key(key));
            }
        },
        None => on_screen_key(app, key, command, out),
    }
}

/// Keys that edit a text field rather than invoke a command.
fn edits_text(key: &KeyEvent) -> bool {
    Key::of(key).is_text()
        || matches!(
            key.code,
            KeyCode::Backspace
                | KeyCode::Delete
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Home
                | KeyCode::End
        )
}

fn on_screen_key(app: &mut App, key: KeyEvent, command: Option<Command>, out: &mut Vec<Outgoing>) {
    let typing = matches!(app.screen, Screen::Login(_));
    if typing && edits_text(&key) {
        if let Screen::Login(form) = &mut app.screen {
            focused_input(form).handle_event(&crossterm::event::Event::Key(key));
        }
        return;
    }
    if key.code == KeyCode::Enter {
        if let Screen::Login(form) = &mut app.screen {
            match form.focus {
                LoginField::Operator => form.focus = LoginField::Password,
                LoginField::Password => sign_in(app, out),
            }
        }
        return;
    }
    if let Some(command) = command {
        invoke(app, command, out);
    }
}

fn focused_input(form: &mut LoginForm) -> &mut Input {
    match form.focus {
        LoginField::Operator => &mut form.operator,
        LoginField::Password => &mut form.password,
    }
}

/// Runs a command, whether it came from a key or the command line.
fn invoke(app: &mut App, command: Command, out: &mut Vec<Outgoing>) {
    if !app
        .commands()
        .iter()
        .any(|(offered, _)| *offered == command)
    {
        let text = app.lang.tf(
            "msg.not_here",
            &[("command", &app.lang.t(command.label_key()))],
        );
        say(app, MessageKind::Error, text);
        return;
    }
    match command {
        Command::Help => app.overlay = Some(Overlay::Help),
        Command::CommandLine => app.overlay = Some(Overlay::CommandLine(CommandLine::default())),
        Command::Quit => app.quit = true,
        Command::Save => sign_in(app, out),
        Command::NextField | Command::PrevField => {
            if let Screen::Login(form) = &mut app.screen {
                form.focus = match form.focus {
                    LoginField::Operator => LoginField::Password,
                    LoginField::Password => LoginField::Operator,
                };
            }
        }
        Command::Refresh => send(app, Request::Overview, out),
        Command::Leave | Command::Logout => {
            app.session = None;
            app.screen = Screen::Login(LoginForm::default());
            app.in_flight.clear();
            app.parked.clear();
            say(app, MessageKind::Info, app.lang.t("msg.logged_out"));
        }
        Command::Cancel | Command::Lookup | Command::Search => {}
    }
}

fn sign_in(app: &mut App, out: &mut Vec<Outgoing>) {
    let Screen::Login(form) = &mut app.screen else {
        return;
    };
    let login = form.operator.value().trim().to_owned();
    let password = form.password.value().to_owned();
    if login.is_empty() {
        form.focus = LoginField::Operator;
        say(app, MessageKind::Error, app.lang.t("login.need_operator"));
        return;
    }
    if password.is_empty() {
        form.focus = LoginField::Password;
        say(app, MessageKind::Error, app.lang.t("login.need_password"));
        return;
    }
    say(app, MessageKind::Info, app.lang.t("login.signing_in"));
    send(app, Request::Login { login, password }, out);
}

fn on_reply(
    app: &mut App,
    request: Request,
    outcome: Result<Reply, Failure>,
    out: &mut Vec<Outgoing>,
) {
    match outcome {
        Ok(Reply::LoggedIn(session)) => {
            let text = app
                .lang
                .tf("login.welcome", &[("name", &session.full_name)]);
            app.session = Some(session);
            app.screen = Screen::Home(Home::default());
            say(app, MessageKind::Info, text);
            send(app, Request::Overview, out);
        }
        Ok(Reply::LoginRefused(refusal)) => {
            let text = match refusal {
                LoginRefusal::WrongCredentials => app.lang.t("login.wrong").to_owned(),
                LoginRefusal::Disabled => app.lang.t("login.disabled").to_owned(),
                LoginRefusal::Wait(wait) => app
                    .lang
                    .tf("login.wait", &[("seconds", &wait.as_secs().max(1))]),
            };
            if let Screen::Login(form) = &mut app.screen {
                form.password.reset();
                form.focus = LoginField::Password;
            }
            say(app, MessageKind::Error, text);
        }
        Ok(Reply::Overview(overview)) => {
            if let Screen::Home(home) = &mut app.screen {
                home.overview = Some(overview);
            }
        }
        Err(Failure::Unreachable(detail)) => {
            app.database = DbStatus::Reconnecting;
            app.parked.push(request);
            let text = app.lang.tf("db.unreachable", &[("detail", &detail)]);
            say(app, MessageKind::Error, text);
        }
        Err(Failure::Error(detail)) => say(app, MessageKind::Error, detail),
    }
}

/// Names the command line accepts: every command, plus `lang`.
fn command_names() -> impl Iterator<Item = &'static str> {
    Command::ALL.into_iter().map(Command::name).chain(["lang"])
}

/// Tab on the command line: complete the typed prefix, cycling through the matches.
fn complete(line: &mut CommandLine) {
    let (prefix, turn) = line
        .completing
        .clone()
        .unwrap_or_else(|| (line.input.value().to_owned(), 0));
    let matches: Vec<_> = command_names()
        .filter(|name| name.starts_with(&prefix))
        .collect();
    if matches.is_empty() {
        return;
    }
    line.input = Input::new(matches[turn % matches.len()].to_owned());
    line.completing = Some((prefix, turn + 1));
}

fn run_command_line(app: &mut App, typed: &str, out: &mut Vec<Outgoing>) {
    let mut words = typed.split_whitespace();
    let Some(name) = words.next() else {
        return;
    };
    match (name, words.next()) {
        ("q", None) => invoke(app, Command::Quit, out),
        ("lang", language) => {
            let next = Lang::ALL
                .into_iter()
                .find(|lang| Some(lang.code()) == language)
                .unwrap_or_else(|| {
                    if app.lang == Lang::En {
                        Lang::Zh
                    } else {
                        Lang::En
                    }
                });
            app.lang = next;
        }
        (name, None) => match Command::from_name(name) {
            Some(command) => invoke(app, command, out),
            None => {
                let text = app.lang.tf("msg.unknown_command", &[("command", &name)]);
                say(app, MessageKind::Error, text);
            }
        },
        (_, Some(_)) => {
            let text = app.lang.tf("msg.unknown_command", &[("command", &typed)]);
            say(app, MessageKind::Error, text);
        }
    }
}
