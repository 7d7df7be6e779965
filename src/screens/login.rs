//! The sign-in screen: operator and password, checked off the UI task (argon2, with the same
//! cost for an unknown name), then the customer table in its place.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::table::CustomerTable;
use crate::app::card_status::{ReadFor, read_card};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind, Problem, Session};
use crate::app::update::edits_text;
use crate::app::{App, Command, Hub, Screen};
use crate::db::{Pool, operators};
use crate::domain::login::delay_after;
use crate::domain::password::{generate_password, hash_password, verify_password};
use crate::i18n::Lang;
use crate::ui::chrome::centred;
use crate::ui::text::{width, window};
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
#[derive(Clone, PartialEq)]
pub struct Login {
    pub login: String,
    pub password: String,
}

/// What `Debug` shows of a password: whether one was typed, never the text, so no log line,
/// panic message or `{:?}` of the app's state can carry it.
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

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("login", &self.login)
            .field("password", &HIDDEN)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SignInAnswer {
    LoggedIn(Session),
    Refused(LoginRefusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Unknown operator or wrong password: deliberately not told apart.
    WrongCredentials,
    Disabled,
    /// Too many failures: try again after this long.
    Wait(Duration),
}

impl ScreenRequest for Login {
    fn holds_input(&self) -> bool {
        true
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let answer = sign_in(&services.pool, &self.login, self.password.clone()).await?;
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
        hub.send(Login { login, password });
    }
}

impl Screen for SignIn {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.login").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        vec![
            (Command::Save, "legend.sign_in"),
            (Command::NextField, "command.next_field"),
            (Command::Help, "command.help"),
            (Command::Quit, "command.quit"),
        ]
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        draw(frame, area, self, app, &Theme::new(app.look));
    }

    fn on_key(&mut self, key: KeyEvent, _command: Option<Command>, hub: &mut Hub) -> bool {
        if edits_text(&key) {
            self.focused_input()
                .handle_event(&crossterm::event::Event::Key(key));
            return true;
        }
        match (key.code, self.focus) {
            (KeyCode::Enter, LoginField::Operator) => self.focus = LoginField::Password,
            (KeyCode::Enter, LoginField::Password) => self.sign_in(hub),
            _ => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Save => self.sign_in(hub),
            Command::NextField | Command::PrevField => {
                self.focus = match self.focus {
                    LoginField::Operator => LoginField::Password,
                    LoginField::Password => LoginField::Operator,
                };
            }
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let lang = hub.app.lang;
        match reply.of::<SignInAnswer>() {
            Some(SignInAnswer::LoggedIn(session)) => {
                let text = lang.tf("login.welcome", &[("name", &session.full_name)]);
                hub.app.session = Some(session.clone());
                hub.say(MessageKind::Info, text);
                hub.replace(Box::new(CustomerTable::default()));
                // A card inserted before the sign-in is read now.
                read_card(hub.app, ReadFor::Status, hub.out);
            }
            Some(SignInAnswer::Refused(refusal)) => {
                let text = match refusal {
                    LoginRefusal::WrongCredentials => lang.t("login.wrong").to_owned(),
                    LoginRefusal::Disabled => lang.t("login.disabled").to_owned(),
                    LoginRefusal::Wait(wait) => {
                        lang.tf("login.wait", &[("seconds", &wait.as_secs().max(1))])
                    }
                };
                self.password.reset();
                self.focus = LoginField::Password;
                hub.say(MessageKind::Error, text);
            }
            None => {}
        }
    }
}

/// Checks a password off the UI task; `None` for the hash means "no such operator", which
/// is checked against a throw-away hash so an unknown name costs as much time as a wrong
/// password and names cannot be probed by timing.
async fn password_matches(password: String, hash: Option<String>) -> Result<bool, Failure> {
    static NO_SUCH_OPERATOR: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            let stand_in = NO_SUCH_OPERATOR.get_or_init(|| hash_password(&generate_password()));
            // Spend the time; the answer is no either way.
            verify_password(&password, stand_in);
            false
        }
    })
    .await
    .map_err(|err| Failure::Error(Problem::new("failure.password_check", err)))
}

async fn sign_in(pool: &Pool, login: &str, password: String) -> Result<SignInAnswer, Failure> {
    let client = pool.get().await?;
    let Some(operator) = operators::find_for_login(&**client, login).await? else {
        password_matches(password, None).await?;
        operators::record_failed_login(&**client, login).await?;
        return Ok(SignInAnswer::Refused(LoginRefusal::WrongCredentials));
    };
    let since_failure = operator
        .last_failed_login_at
        .map(|at| (Utc::now() - at).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(Duration::MAX);
    let wait = delay_after(operator.failed_logins).saturating_sub(since_failure);
    if !wait.is_zero() {
        return Ok(SignInAnswer::Refused(LoginRefusal::Wait(wait)));
    }
    if !password_matches(password, Some(operator.password_hash.clone())).await? {
        operators::record_failed_login(&**client, login).await?;
        return Ok(SignInAnswer::Refused(LoginRefusal::WrongCredentials));
    }
    if !operator.enabled {
        return Ok(SignInAnswer::Refused(LoginRefusal::Disabled));
    }
    operators::record_successful_login(&**client, operator.id).await?;
    Ok(SignInAnswer::LoggedIn(Session {
        operator_id: operator.id,
        login: operator.login,
        full_name: operator.full_name,
        department: operator.department,
        roles: operator.roles,
        permissions: operator.permissions,
    }))
}

fn draw(frame: &mut Frame, area: Rect, form: &SignIn, app: &App, theme: &Theme) {
    let lang = app.lang;
    let boxed = centred(area, 56, 8);
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            format!(" {} ", lang.t("login.title")),
            theme.title(),
        ));
    let inner = block.inner(boxed);
    frame.render_widget(block, boxed);

    let labels = [lang.t("login.operator"), lang.t("login.password")];
    let label_width = labels.iter().map(|l| width(l)).max().unwrap_or(0) as u16 + 3;
    let field_width = inner.width.saturating_sub(label_width + 2);
    let rows = Layout::vertical([1, 1, 1, 1, 1, 1].map(Constraint::Length)).split(inner);
    let fields = [
        (LoginField::Operator, &form.operator, false),
        (LoginField::Password, &form.password, true),
    ];
    for ((field, input, secret), (label, row)) in fields
        .into_iter()
        .zip(labels.into_iter().zip([rows[1], rows[2]]))
    {
        let focused = form.focus == field;
        let shown = visible(input, secret, field_width);
        let padding = usize::from(field_width).saturating_sub(width(&shown));
        let style = if focused {
            theme.focused()
        } else {
            theme.field()
        };
        let line = Line::from(vec![
            Span::raw(format!("  {label}")),
            Span::raw(" ".repeat(usize::from(label_width) - width(label) - 1)),
            Span::styled(format!("{shown}{}", " ".repeat(padding)), style),
        ]);
        frame.render_widget(Paragraph::new(line), row);
        if focused {
            let scroll = input.visual_scroll(usize::from(field_width));
            let cursor = (input.visual_cursor().max(scroll) - scroll) as u16;
            frame.set_cursor_position((row.x + 1 + label_width + cursor, row.y));
        }
    }
    let hint = Line::from(Span::styled(
        format!("  {}", app.t("login.hint")),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(hint), rows[4]);
}

/// The part of a field that fits, with a password shown as one `*` per character.
fn visible(input: &Input, secret: bool, room: u16) -> String {
    let scroll = input.visual_scroll(usize::from(room));
    let value = if secret {
        "*".repeat(input.value().chars().count())
    } else {
        input.value().to_owned()
    };
    window(&value, scroll, usize::from(room))
}
