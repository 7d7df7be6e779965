//! Changing one's own password: `:password` from any screen, and forced right after signing in
//! with a temporary one (then leaving it signs out). The current password, when asked, is
//! checked by the server (a connection made with it); the new one goes to the database as a
//! SCRAM verifier, and the desk's connections are made again with it.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::legend::{BACK, usual};
use super::table::CustomerTable;
use crate::app::keymap::edits_text;
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind};
use crate::app::{App, Command, Hub, Screen};
use crate::db::{LostConnection, operators};
use crate::domain::password::{Secret, check_new_password};
use crate::i18n::Lang;
use crate::ui::credentials::CredentialForm;
use crate::ui::theme::Theme;

/// The form. `forced`: the password is temporary, there is no current one to type, and the
/// customer table follows.
#[derive(Clone, Default)]
pub struct PasswordChange {
    forced: bool,
    current: Input,
    new: Input,
    again: Input,
    focus: usize,
    sent: bool,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChange")
            .field("forced", &self.forced)
            .field("passwords", &"<hidden>")
            .field("focus", &self.focus)
            .finish()
    }
}

impl PasswordChange {
    /// After a sign-in with a temporary password.
    pub fn forced() -> PasswordChange {
        PasswordChange {
            forced: true,
            ..PasswordChange::default()
        }
    }

    /// The inputs shown, in order.
    fn inputs(&self) -> Vec<&Input> {
        let typed = [&self.new, &self.again];
        if self.forced {
            typed.to_vec()
        } else {
            [&self.current].into_iter().chain(typed).collect()
        }
    }

    fn focused(&mut self) -> &mut Input {
        let first_new = usize::from(!self.forced);
        match self.focus.checked_sub(first_new) {
            None => &mut self.current,
            Some(0) => &mut self.new,
            Some(_) => &mut self.again,
        }
    }

    fn move_focus(&mut self, forward: bool) {
        let count = self.inputs().len();
        self.focus = if forward {
            (self.focus + 1) % count
        } else {
            (self.focus + count - 1) % count
        };
    }

    fn save(&mut self, hub: &mut Hub) {
        if self.sent {
            return;
        }
        let Some(login) = hub
            .app
            .session
            .as_ref()
            .map(|session| session.login.clone())
        else {
            return;
        };
        let current = (!self.forced).then(|| self.current.value().to_owned());
        let new = self.new.value().to_owned();
        if let Err(problem) =
            check_new_password(&login, current.as_deref(), &new, self.again.value())
        {
            self.new.reset();
            self.again.reset();
            self.focus = usize::from(!self.forced);
            hub.say(MessageKind::Error, hub.app.lang.t(problem.key()));
            return;
        }
        self.sent = true;
        hub.send(ChangePassword::new(&login, current.as_deref(), &new));
    }
}

/// Changes the signed-in operator's password.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePassword {
    login: String,
    current: Option<Secret>,
    new: Secret,
}

impl ChangePassword {
    /// `login`'s password becomes `new`; `current` is checked first when given.
    pub fn new(login: &str, current: Option<&str>, new: &str) -> ChangePassword {
        ChangePassword {
            login: login.to_owned(),
            current: current.map(Secret::from),
            new: new.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordAnswer {
    Changed,
    WrongCurrent,
}

impl ScreenRequest for ChangePassword {
    fn holds_input(&self) -> bool {
        true
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let sessions = &services.pool;
            if let Some(current) = &self.current
                && !sessions.password_is(&self.login, current.as_str()).await?
            {
                return Ok(Box::new(PasswordAnswer::WrongCurrent) as _);
            }
            let client = sessions.get().await?;
            operators::change_own_password(&client, self.new.as_str()).await?;
            drop(client);
            // The pool's connections were made with the old password; new ones need the new.
            if sessions
                .sign_in(&self.login, self.new.as_str())
                .await?
                .is_err()
            {
                return Err(Failure::Unreachable(LostConnection::NewPasswordRefused));
            }
            Ok(Box::new(PasswordAnswer::Changed) as _)
        })
    }
}

impl Screen for PasswordChange {
    fn unsaved(&self) -> bool {
        [&self.current, &self.new, &self.again]
            .iter()
            .any(|input| !input.value().is_empty())
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.password").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        [(Command::Save, "legend.change_password")]
            .into_iter()
            .chain(usual([Command::NextField]))
            .chain([BACK])
            .chain(usual([Command::Help]))
            .collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let lang = app.lang;
        let labels = [
            lang.t("password.current"),
            lang.t("password.new"),
            lang.t("password.again"),
        ];
        let labels = &labels[usize::from(self.forced)..];
        let fields: Vec<(&str, &Input, bool)> = labels
            .iter()
            .zip(self.inputs())
            .map(|(label, input)| (*label, input, true))
            .collect();
        let form = CredentialForm {
            title: lang.t("password.title"),
            fields: &fields,
            focus: self.focus,
            hint: &app.t("password.hint"),
        };
        form.draw(frame, area, &Theme::new(app.look));
    }

    fn on_key(&mut self, key: KeyEvent, _command: Option<Command>, hub: &mut Hub) -> bool {
        if edits_text(&key) {
            self.focused()
                .handle_event(&crossterm::event::Event::Key(key));
            return true;
        }
        match key.code {
            KeyCode::Enter if self.focus + 1 == self.inputs().len() => self.save(hub),
            KeyCode::Enter => self.move_focus(true),
            _ => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Save => self.save(hub),
            Command::NextField => self.move_focus(true),
            Command::PrevField => self.move_focus(false),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some(answer) = reply.of::<PasswordAnswer>() else {
            return;
        };
        self.sent = false;
        let lang = hub.app.lang;
        match answer {
            PasswordAnswer::WrongCurrent => {
                // All three typed again: a clerk retyping from the top must not add to what
                // the new fields still hold.
                for input in [&mut self.current, &mut self.new, &mut self.again] {
                    input.reset();
                }
                self.focus = 0;
                hub.say(MessageKind::Error, lang.t("password.wrong_current"));
            }
            PasswordAnswer::Changed => {
                hub.say(MessageKind::Info, lang.t("password.changed"));
                if let Some(session) = hub.app.session.as_mut() {
                    session.must_change_password = false;
                }
                if self.forced {
                    CustomerTable::after_sign_in(hub);
                } else {
                    hub.leave();
                }
            }
        }
    }

    fn on_failure(&mut self, _request: &dyn ScreenRequest, _hub: &mut Hub) {
        self.sent = false;
    }
}
