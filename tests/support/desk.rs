//! The app driven through `update` against a real database: every request a key leads to is
//! executed by `requests::execute` and answered, in order, as the runner would.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meterdesk::app::requests::Services;
use meterdesk::app::state::Msg;
use meterdesk::app::{App, KeyMap, requests, update};
use meterdesk::i18n::Lang;
use meterdesk::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The app and the database it talks to.
pub struct Desk {
    pub app: App,
    pub services: Services,
}

impl Desk {
    /// The sign-in screen in `lang`, on the server of `conn_str`.
    pub fn new(conn_str: &str, lang: Lang) -> Desk {
        Desk::on(super::desk_services(conn_str), lang)
    }

    /// The sign-in screen in `lang`, running against `services`.
    pub fn on(services: Services, lang: Lang) -> Desk {
        Desk {
            app: meterdesk::screens::app(KeyMap::default(), lang, Default::default()),
            services,
        }
    }

    /// Signs in through the keys.
    pub async fn sign_in(&mut self, login: &str, password: &str) {
        self.text(login).await;
        self.key(KeyCode::Enter).await;
        self.text(password).await;
        self.key(KeyCode::Enter).await;
    }

    /// One key, and every request it leads to executed and answered, in order.
    pub async fn key(&mut self, code: KeyCode) {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
            .await;
    }

    /// Ctrl and a letter.
    pub async fn ctrl(&mut self, c: char) {
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
        .await;
    }

    /// A paste, as a terminal with bracketed paste delivers it.
    pub async fn paste(&mut self, text: &str) {
        self.send(Msg::Paste(text.to_owned())).await;
    }

    /// `:name` on the command line.
    pub async fn command(&mut self, name: &str) {
        self.key(KeyCode::Char(':')).await;
        self.text(name).await;
        self.key(KeyCode::Enter).await;
    }

    /// One message, and every request it leads to executed and answered, in order.
    pub async fn send(&mut self, msg: Msg) {
        let mut queue: VecDeque<_> = update(&mut self.app, msg).requests.into();
        while let Some((id, request)) = queue.pop_front() {
            let outcome = requests::execute(&self.services, request).await;
            queue.extend(update(&mut self.app, Msg::Reply { id, outcome }).requests);
        }
    }

    pub async fn text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c)).await;
        }
    }

    /// The screen at 80×24.
    pub fn screen(&self) -> String {
        self.screen_at((80, 24))
    }

    pub fn screen_at(&self, (columns, rows): (u16, u16)) -> String {
        let mut terminal = Terminal::new(TestBackend::new(columns, rows)).unwrap();
        terminal.draw(|frame| ui::draw(frame, &self.app)).unwrap();
        terminal.backend().to_string()
    }

    pub fn message(&self) -> String {
        self.app
            .message
            .as_ref()
            .map(|m| m.text.clone())
            .unwrap_or_default()
    }
}
