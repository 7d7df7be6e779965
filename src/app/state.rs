//! Everything the screen shows, as plain data: `ui::draw` is a pure function of `App`.

use std::collections::VecDeque;

use chrono::{FixedOffset, Local};
use crossterm::event::KeyEvent;
use tui_input::Input;

use super::card_status::CardSeen;
use super::command::Command;
use super::keymap::KeyMap;
use super::screen::{Registry, Screen, ScreenId, ScreenReply, ScreenRequest};
use crate::card::reader::ReaderState;
use crate::domain::validation::IdDocumentPolicy;
use crate::i18n::Lang;

/// Identifies one request so a late or superseded reply is recognised and dropped.
pub type RequestId = u64;

/// Everything that arrives on the one queue the loop reads.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal's size (columns, rows), at start and whenever it changes.
    Resize(u16, u16),
    Reply {
        id: RequestId,
        outcome: Result<Reply, Failure>,
    },
    Database(DbStatus),
    Reader(ReaderState),
    /// 10 Hz, only acted on while something is pending (the spinner).
    Tick,
    /// A long request's progress (the meter import): `done` of `total`.
    Progress {
        id: RequestId,
        done: u64,
        total: u64,
    },
}

/// Work for the database or the reader, executed off the UI task by `requests::execute`: a
/// screen module's own request (`crate::screens`), which executes itself.
#[derive(Debug, Clone)]
pub struct Request(pub Box<dyn ScreenRequest>);

// Derived, the comparison would try to move the boxes out (a trait object's `==`).
impl PartialEq for Request {
    fn eq(&self, other: &Request) -> bool {
        PartialEq::eq(&self.0, &other.0)
    }
}

impl Request {
    /// A screen module's request as its own type.
    pub fn of<T: 'static>(&self) -> Option<&T> {
        self.0.of()
    }

    /// Requests that change the database: once sent they cannot be cancelled, since the
    /// change may already be made; their answer is always applied.
    pub fn writes(&self) -> bool {
        self.0.writes()
    }

    /// The idempotency key of a customer or reference-data write (card writes keep theirs in
    /// their journal).
    pub fn idempotency_key(&self) -> Option<&str> {
        self.0.idempotency_key()
    }

    /// Requests whose answer changes the screen: keys typed meanwhile wait for it (type-ahead).
    /// A search as you type does not: the next key simply supersedes it.
    pub fn holds_input(&self) -> bool {
        self.0.holds_input()
    }
}

/// The answer to a [`Request`], of the type its screen knows.
#[derive(Debug, Clone)]
pub struct Reply(pub Box<dyn ScreenReply>);

impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        PartialEq::eq(&self.0, &other.0)
    }
}

impl Reply {
    /// A screen module's answer.
    pub fn screen(reply: impl ScreenReply) -> Reply {
        Reply(Box::new(reply))
    }
}

/// Why a request did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server cannot be reached; the request is kept and re-sent when it is back.
    Unreachable(String),
    /// The request itself failed; the message says why.
    Error(Problem),
}

/// A failure as the clerk reads it: a catalogue text (section `failure`) in the desk's
/// language, quoting the technical detail as it came (from PostgreSQL, the system or the
/// reader) for whoever supports the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(key: &'static str, detail: impl ToString) -> Problem {
        Problem {
            key,
            detail: detail.to_string(),
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        lang.tf(self.key, &[("detail", &self.detail)])
    }
}

/// The operator who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub operator_id: i64,
    pub login: String,
    pub full_name: String,
    pub department: String,
    pub roles: Vec<String>,
    /// The union of the roles' permissions (`sql/V2`), e.g. `meter.maintain`.
    pub permissions: Vec<String>,
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

/// A place on the screen stack: a screen module (`crate::screens`), or the place of the one
/// the hub is calling (`Vacant`: it is out of the stack meanwhile).
#[derive(Debug, Clone)]
pub enum Slot {
    Module(ScreenId, Box<dyn Screen>),
    Vacant(ScreenId),
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

/// A request that met an unreachable database, with the screen that sent it.
#[derive(Debug, Clone)]
pub struct Parked {
    pub request: Request,
    pub asker: Option<ScreenId>,
}

/// A request on its way, remembered so its reply can be matched.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub id: RequestId,
    pub request: Request,
    /// The screen module that sent it: its answer goes back there.
    pub asker: Option<ScreenId>,
}

#[derive(Debug, Clone)]
pub struct App {
    /// The screen on top; `F3` goes back to the one below it in `below`.
    pub screen: Slot,
    pub below: Vec<Slot>,
    /// The first screen and the screens commands open (`screens::REGISTRY`).
    pub registry: &'static Registry,
    pub next_screen: ScreenId,
    /// The screen module the hub is calling: the requests it sends answer to it.
    pub calling: Option<ScreenId>,
    /// Terminal size (columns, rows): the table's page size follows it.
    pub viewport: (u16, u16),
    pub overlay: Option<Overlay>,
    pub session: Option<Session>,
    pub database: DbStatus,
    pub reader: ReaderState,
    /// What the card on the reader is; `None` while no card is in.
    pub card: Option<CardSeen>,
    pub message: Option<Message>,
    pub keymap: KeyMap,
    pub lang: Lang,
    pub look: Look,
    pub in_flight: Vec<InFlight>,
    /// Requests that met an unreachable database, re-sent when it is back; a write keeps its
    /// idempotency key, so one that did commit is not applied again.
    pub parked: Vec<Parked>,
    /// Keys typed while a request holds input, applied in order when it answers.
    pub type_ahead: VecDeque<KeyEvent>,
    pub next_request: RequestId,
    pub spinner: usize,
    pub quit: bool,
    /// Quit was pressed once while a save waited for the database, and the clerk was told.
    pub quit_warned: bool,
    /// Random per run: with the request id it makes a write's idempotency key
    /// ([`App::write_key`]), unique across sessions and restarts.
    pub desk_id: u64,
    /// Characters per receipt line (`receipts.width`).
    pub receipt_width: usize,
    /// Which identity documents the customer forms accept (`customers.id_documents`).
    pub id_policy: IdDocumentPolicy,
    /// The time zone times are shown in: the machine's, fixed at start, so a drawing is a pure
    /// function of the state (tests set it).
    pub zone: FixedOffset,
}

impl App {
    pub fn new(keymap: KeyMap, lang: Lang, look: Look, registry: &'static Registry) -> App {
        App {
            screen: Slot::Module(0, (registry.sign_in)()),
            below: Vec::new(),
            registry,
            next_screen: 1,
            calling: None,
            viewport: (80, 24),
            overlay: None,
            session: None,
            database: DbStatus::Connected,
            reader: ReaderState::NoService,
            card: None,
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
            quit_warned: false,
            desk_id: fastrand::u64(..),
            receipt_width: 48,
            id_policy: IdDocumentPolicy::ResidentIdentityCard,
            zone: *Local::now().offset(),
        }
    }

    /// A fresh id for a screen put on the stack.
    pub fn screen_id(&mut self) -> ScreenId {
        let id = self.next_screen;
        self.next_screen += 1;
        id
    }

    /// The catalogue text of `key` with the live keymap's key names filled in
    /// (`KeyMap::fill`): every text that names a key is shown through this or `tf`.
    pub fn t(&self, key: &str) -> String {
        self.keymap.fill(self.lang.t(key))
    }

    /// `t` with each `{name}` replaced by its value; the keys are filled in first, so a
    /// value (stored text) is never read as a key name.
    pub fn tf(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        crate::i18n::fill_args(&self.t(key), args)
    }

    /// A fresh idempotency key for a write the clerk just confirmed (card and customer writes
    /// alike): the id the request is about to get, on this desk. Made once per F2 and kept in
    /// the request, so a re-send carries the same key.
    pub fn write_key(&self) -> String {
        format!("desk-{:016x}-{}", self.desk_id, self.next_request)
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
        match &self.screen {
            Slot::Module(_, screen) => screen.commands(),
            Slot::Vacant(_) => Vec::new(),
        }
    }

    /// Rows of the customer table that fit: all but the top line, the search line, the
    /// header, the message line and the legend.
    pub fn table_rows(&self) -> usize {
        usize::from(self.viewport.1.saturating_sub(5)).max(1)
    }

    /// The breadcrumb trail shown on the top line.
    pub fn breadcrumbs(&self) -> Vec<String> {
        self.below
            .iter()
            .chain(std::iter::once(&self.screen))
            .map(|screen| match screen {
                Slot::Module(_, screen) => screen.crumb(self.lang),
                Slot::Vacant(_) => String::new(),
            })
            .collect()
    }
}
