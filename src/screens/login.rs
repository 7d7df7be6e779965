//! The sign-in screen: operator and password, checked by the database server itself (each
//! operator is a PostgreSQL role: signing in is connecting as it), then the customer table in
//! its place — or first the change of a temporary password.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::legend::usual;
use super::password::PasswordChange;
use super::table::CustomerTable;
use crate::app::keymap::edits_text;
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::{DbStatus, Failure, MessageKind, Session, lost_connection_words};
use crate::app::{App, Command, Hub, Screen};
use crate::db::session::{Refusal, Sessions};
use crate::db::{self, LostConnection, operators};
use crate::domain::password::Secret;
use crate::i18n::Lang;
use crate::ui::credentials::CredentialForm;
use crate::ui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginField {
    #[default]
    Operator,
    Password,
}

/// The sign-in form.
#[derive(Clone, Default)]
pub struct SignIn {
    pub operator: Input,
    pub password: Input,
    pub focus: LoginField,
}

/// Checks the operator's password; answered with a [`SignInAnswer`].
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub login: String,
    pub password: Secret,
}

/// What `Debug` shows of the form's password field: whether one was typed, never the text.
const HIDDEN: &str = "<hidden>";

impl fmt::Debug for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("operator", &self.operator.value())
            .field("password", &HIDDEN)
            .field("focus", &self.focus)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SignInAnswer {
    LoggedIn(Session),
    Refused(LoginRefusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Unknown operator or wrong password: deliberately not told apart.
    WrongCredentials,
    Disabled,
    /// The operator holds as many connections as one operator may (other desks signed in).
    TooManyConnections,
    /// Demo data is being loaded (or a load that stopped is not undone yet).
    LoadInProgress,
    /// The server could not be reached (the cause). Answered, not parked: nothing would send
    /// it again, since the desk watches the database only for a signed-in operator.
    Unreachable(LostConnection),
}

impl ScreenRequest for Login {
    fn holds_input(&self) -> bool {
        true
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let answer = sign_in(&services.pool, &self.login, self.password.as_str()).await?;
            Ok(Box::new(answer) as _)
        })
    }
}

impl SignIn {
    fn focused_input(&mut self) -> &mut Input {
        match self.focus {
            LoginField::Operator => &mut self.operator,
            LoginField::Password => &mut self.password,
        }
    }

    fn sign_in(&mut self, hub: &mut Hub) {
        let login = self.operator.value().trim().to_owned();
        let password = self.password.value().to_owned();
        if login.is_empty() {
            self.focus = LoginField::Operator;
            hub.say(MessageKind::Error, hub.app.lang.t("login.need_operator"));
            return;
        }
        if password.is_empty() {
            self.focus = LoginField::Password;
            hub.say(MessageKind::Error, hub.app.lang.t("login.need_password"));
            return;
        }
        hub.say(MessageKind::Info, hub.app.lang.t("login.signing_in"));
        hub.send(Login {
            login,
            password: password.as_str().into(),
        });
    }
}

impl Screen for SignIn {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.login").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        [(Command::Save, "legend.sign_in")]
            .into_iter()
            .chain(usual([Command::NextField, Command::Help, Command::Quit]))
            .collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let lang = app.lang;
        let fields = [
            (lang.t("login.operator"), &self.operator, false),
            (lang.t("login.password"), &self.password, true),
        ];
        let focus = match self.focus {
            LoginField::Operator => 0,
            LoginField::Password => 1,
        };
        let form = CredentialForm {
            title: lang.t("login.title"),
            fields: &fields,
            focus,
            hint: &app.t("login.hint"),
        };
        form.draw(frame, area, &Theme::new(app.look));
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if edits_text(&key) {
            self.focused_input()
                .handle_event(&crossterm::event::Event::Key(key));
            return true;
        }
        // Shift-Tab and Up go back, Down on, as on every form; Tab goes round the two.
        match (key.code, command, self.focus) {
            (KeyCode::Enter, _, LoginField::Operator)
            | (KeyCode::Down, ..)
            | (_, Some(Command::NextField), LoginField::Operator) => {
                self.focus = LoginField::Password
            }
            (KeyCode::Enter, _, LoginField::Password) => self.sign_in(hub),
            (KeyCode::Up, ..)
            | (_, Some(Command::PrevField), _)
            | (_, Some(Command::NextField), LoginField::Password) => {
                self.focus = LoginField::Operator
            }
            _ => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Save => self.sign_in(hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let lang = hub.app.lang;
        // What the sign-in found is all the desk knows of the server until it is watched.
        match reply.of::<SignInAnswer>() {
            Some(SignInAnswer::LoggedIn(session)) => {
                hub.app.database = DbStatus::Connected;
                hub.app.session = Some(session.clone());
                if session.must_change_password {
                    hub.say(MessageKind::Info, lang.t("password.must_change"));
                    hub.replace(Box::new(PasswordChange::forced()));
                } else {
                    let text = lang.tf("login.welcome", &[("name", &session.full_name)]);
                    hub.say(MessageKind::Info, text);
                    CustomerTable::after_sign_in(hub);
                }
            }
            Some(SignInAnswer::Refused(refusal)) => {
                let text = match refusal {
                    LoginRefusal::WrongCredentials => lang.t("login.wrong").to_owned(),
                    LoginRefusal::Disabled => lang.t("login.disabled").to_owned(),
                    LoginRefusal::TooManyConnections => {
                        lang.t("login.too_many_connections").to_owned()
                    }
                    LoginRefusal::LoadInProgress => lang.t("login.loading").to_owned(),
                    LoginRefusal::Unreachable(cause) => {
                        let cause = lost_connection_words(lang, cause);
                        hub.app.tf("login.unreachable", &[("detail", &cause)])
                    }
                };
                // What was typed is right; only the server was not there.
                if matches!(refusal, LoginRefusal::Unreachable(_)) {
                    hub.app.database = DbStatus::Unreachable;
                } else {
                    hub.app.database = DbStatus::Connected;
                    self.password.reset();
                }
                self.focus = LoginField::Password;
                hub.say(MessageKind::Error, text);
            }
            None => {}
        }
    }
}

/// Connects as the operator: the server checks the password (and slows down and logs the
/// failures). A role that is no operator of this database is refused like a wrong password,
/// and a server that cannot be reached is said as a refusal (`LoginRefusal::Unreachable`).
async fn sign_in(
    sessions: &Sessions,
    login: &str,
    password: &str,
) -> Result<SignInAnswer, Failure> {
    match signed_in(sessions, login, password).await {
        Err(Failure::Unreachable(cause)) => {
            sessions.sign_out();
            Ok(SignInAnswer::Refused(LoginRefusal::Unreachable(cause)))
        }
        answer => answer,
    }
}

/// `sign_in`'s steps: the connection, the load's marker, the operator and the audit row.
async fn signed_in(
    sessions: &Sessions,
    login: &str,
    password: &str,
) -> Result<SignInAnswer, Failure> {
    match sessions.sign_in(login, password).await? {
        Err(Refusal::WrongCredentials) => {
            return Ok(SignInAnswer::Refused(LoginRefusal::WrongCredentials));
        }
        Err(Refusal::Disabled) => return Ok(SignInAnswer::Refused(LoginRefusal::Disabled)),
        Err(Refusal::TooManyConnections) => {
            return Ok(SignInAnswer::Refused(LoginRefusal::TooManyConnections));
        }
        Ok(()) => {}
    }
    let client = sessions.get().await?;
    // Its tables are half-filled and without their keys until the load's last transaction.
    if db::bulk_load::in_progress(&**client).await? {
        drop(client);
        sessions.sign_out();
        return Ok(SignInAnswer::Refused(LoginRefusal::LoadInProgress));
    }
    let Some(operator) = operators::signed_in(&client).await? else {
        drop(client);
        sessions.sign_out();
        return Ok(SignInAnswer::Refused(LoginRefusal::WrongCredentials));
    };
    operators::record_sign_in(&client, operator.operator_id).await?;
    Ok(SignInAnswer::LoggedIn(operator))
}
