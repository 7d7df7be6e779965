//! A temporary password, shown once: after an operator is added or their password reset, on top
//! of wherever the administrator is, until they close it. It lives only in this screen (and the
//! request that set it); nothing can show it again, and its `Debug` hides it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::app::{App, Command, Hub, Screen};
use crate::domain::password::Secret;
use crate::i18n::Lang;
use crate::ui::chrome::popup;
use crate::ui::inert::inert;
use crate::ui::theme::Theme;

#[derive(Debug, Clone)]
pub struct PasswordShown {
    login: String,
    password: Secret,
}

impl PasswordShown {
    pub fn new(login: &str, password: Secret) -> PasswordShown {
        PasswordShown {
            login: login.to_owned(),
            password,
        }
    }
}

impl Screen for PasswordShown {
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("operators.screen_password").to_owned()
    }

    /// Closing it is all there is: nothing else may cover it and come back to it.
    fn commands(&self) -> Vec<(Command, &'static str)> {
        vec![
            (Command::Save, "operators.legend_close"),
            (Command::Help, "command.help"),
        ]
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let (lang, theme) = (app.lang, Theme::new(app.look));
        let lines = vec![
            Line::raw(lang.tf("operators.password_for", &[("login", &inert(&self.login))])),
            Line::raw(""),
            Line::from(Span::styled(
                self.password.as_str().to_owned(),
                theme.title(),
            ))
            .centered(),
            Line::raw(""),
            Line::raw(lang.t("operators.password_once")),
            Line::raw(""),
            Line::from(Span::styled(app.t("operators.password_keys"), theme.key())),
        ];
        let title = lang.t("operators.screen_password");
        popup(frame, area, (64, 10), title, lines, true, &theme);
    }

    fn drops_type_ahead(&self) -> bool {
        true
    }

    /// F2 or Enter closes it; any other key is taken, so nothing is left open under it by
    /// mistake.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        match (key.code, command) {
            (_, Some(Command::Help)) => false,
            (KeyCode::Enter, _) | (_, Some(Command::Save)) => {
                hub.leave();
                true
            }
            _ => true,
        }
    }
}
