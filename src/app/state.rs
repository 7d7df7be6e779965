//! Everything the screen shows, as plain data: `ui::draw` is a pure function of `App`.

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::KeyEvent;
use rust_decimal::Decimal;
use tui_input::Input;

use super::command::Command;
use super::keymap::KeyMap;
use crate::card::reader::ReaderState;
use crate::i18n::Lang;

/// Identifies one request so a late or superseded reply is recognised and dropped.
pub type RequestId = u64;

/// Everything that arrives on the one queue the loop reads.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal changed size: redraw.
    Resize,
    Reply {
        id: RequestId,
        outcome: Result<Reply, Failure>,
    },
    Database(DbStatus),
    Reader(ReaderState),
    /// 10 Hz, only acted on while something is pending (the spinner).
    Tick,
}

/// Work for the database, executed off the UI task by `requests::execute`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Login { login: String, password: String },
    Overview,
}

impl Request {
    /// Requests whose answer changes the screen: keys typed meanwhile wait for it (type-ahead).
    pub fn holds_input(&self) -> bool {
        matches!(self, Request::Login { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    LoggedIn(Session),
    LoginRefused(LoginRefusal),
    Overview(Overview),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Unknown operator or wrong password: deliberately not told apart.
    WrongCredentials,
    Disabled,
    /// Too many failures: try again after this long.
    Wait(Duration),
}

/// Why a request did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server cannot be reached; the request is kept and re-sent when it is back.
    Unreachable(String),
    /// The request itself failed; the message says why.
    Error(String),
}

/// The operator who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub operator_id: i64,
    pub login: String,
    pub full_name: String,
    pub department: String,
    pub roles: Vec<String>,
}

/// The figures on the home screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overview {
    pub customers: i64,
    pub card_customers: i64,
    pub uninstalled_meters: i64,
    pub active_cards: i64,
    pub payments_today: i64,
    pub takings_today: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbStatus {
    #[default]
    Connected,
    Reconnecting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    Info,
    Error,
}

/// The message line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginField {
    #[default]
    Operator,
    Password,
}

#[derive(Debug, Clone, Default)]
pub struct LoginForm {
    pub operator: Input,
    pub password: Input,
    pub focus: LoginField,
}

#[derive(Debug, Clone, Default)]
pub struct Home {
    pub overview: Option<Overview>,
}

#[derive(Debug, Clone)]
pub enum Screen {
    Login(LoginForm),
    Home(Home),
}

/// The `:` command line with its completion cycle.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    pub input: Input,
    /// What was typed before Tab started cycling through completions.
    pub completing: Option<(String, usize)>,
}

#[derive(Debug, Clone)]
pub enum Overlay {
    Help,
    CommandLine(CommandLine),
}

/// Presentation options fixed at start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Look {
    pub monochrome: bool,
    pub ascii_borders: bool,
}

/// A request on its way, remembered so its reply can be matched.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub id: RequestId,
    pub request: Request,
}

#[derive(Debug, Clone)]
pub struct App {
    pub screen: Screen,
    pub overlay: Option<Overlay>,
    pub session: Option<Session>,
    pub database: DbStatus,
    pub reader: ReaderState,
    pub message: Option<Message>,
    pub keymap: KeyMap,
    pub lang: Lang,
    pub look: Look,
    pub in_flight: Vec<InFlight>,
    /// Requests that met an unreachable database, re-sent when it is back.
    pub parked: Vec<Request>,
    /// Keys typed while a request holds input, applied in order when it answers.
    pub type_ahead: VecDeque<KeyEvent>,
    pub next_request: RequestId,
    pub spinner: usize,
    pub quit: bool,
}

impl App {
    pub fn new(keymap: KeyMap, lang: Lang, look: Look) -> App {
        App {
            screen: Screen::Login(LoginForm::default()),
            overlay: None,
            session: None,
            database: DbStatus::Connected,
            reader: ReaderState::NoService,
            message: None,
            keymap,
            lang,
            look,
            in_flight: Vec::new(),
            parked: Vec::new(),
            type_ahead: VecDeque::new(),
            next_request: 1,
            spinner: 0,
            quit: false,
        }
    }

    /// True while a request whose answer changes the screen is on its way.
    pub fn holds_input(&self) -> bool {
        self.in_flight.iter().any(|f| f.request.holds_input())
    }

    /// True while anything is pending: the spinner turns.
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty() || !self.parked.is_empty()
    }

    /// The commands this screen offers, with the catalogue key of the label it gives each;
    /// the legend and the help screen are built from this and the live keymap.
    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        if let Some(Overlay::CommandLine(_)) = self.overlay {
            return vec![
                (Command::NextField, "legend.complete"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        match self.screen {
            Screen::Login(_) => vec![
                (Command::Save, "legend.sign_in"),
                (Command::NextField, "command.next_field"),
                (Command::Help, "command.help"),
                (Command::Quit, "command.quit"),
            ],
            Screen::Home(_) => vec![
                (Command::Help, "command.help"),
                (Command::Leave, "legend.log_out"),
                (Command::Refresh, "command.refresh"),
                (Command::CommandLine, "command.command_line"),
                (Command::Quit, "command.quit"),
            ],
        }
    }

    /// The breadcrumb trail shown on the top line, as catalogue keys.
    pub fn breadcrumbs(&self) -> Vec<&'static str> {
        match self.screen {
            Screen::Login(_) => vec!["screen.login"],
            Screen::Home(_) => vec!["screen.home"],
        }
    }
}
