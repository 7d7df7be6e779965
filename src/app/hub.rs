//! The hub's core contract, in one file because its types refer to each other: the app's
//! state ([`App`], its screen stack of [`Slot`]s), the messages the loop reads ([`Msg`]), the
//! requests and replies that travel ([`Request`], [`Reply`]), what the hub knows of a screen
//! ([`Screen`], [`ScreenRequest`], [`ScreenReply`], the [`Registry`]) and the operations a
//! screen asks through [`Hub`] (send, say, open, leave, replace, notify). `update` routes
//! messages with these; nothing here calls back into it.
//!
//! Each screen is a module of `crate::screens` that implements [`Screen`] (its state, keys,
//! replies, commands, crumb and draw) and owns its requests, each a [`ScreenRequest`] that
//! knows how to execute itself. The hub routes: a key to the screen on top, a reply to the
//! screen that asked (wherever it is in the stack), effects back to the loop through [`Hub`].
//! The hub never names a screen: the first screen and the screens a command opens come from
//! the [`Registry`] that the composition root (`screens::REGISTRY`) hands to `App::new`.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use tui_input::Input;

use super::card_seen::{CardRead, CardSeen};
use super::command::Command;
use super::file_error::FileError;
use super::form::{Form, FormEvent, FormKey, Typing};
use super::keymap::{KeyMap, edits_text};
use super::services::{Progress, Services};
use crate::card::apdu::CardCause;
use crate::card::reader::{CardError, ReaderState};
use crate::cardflow::PinRefusal;
use crate::db::{Deadlines, LostConnection};
use crate::domain::validation::IdDocumentPolicy;
use crate::i18n::Lang;

/// Identifies one request so a late or superseded reply is recognised and dropped.
pub type RequestId = u64;

/// How often `Msg::Tick` comes: the spinner's speed.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// How long a save may wait for the database before the message line says it still waits and
/// that nothing is lost: longer than an ordinary save takes, short beside the request's
/// deadline (44 s by default), until which only the spinner would move.
pub const SAVE_WAIT_TOLD: std::time::Duration = std::time::Duration::from_secs(3);

/// Everything that arrives on the one queue the loop reads.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): text only, never navigation — each
    /// character goes where a typed one would, a Tab or line break as a space, and no
    /// character of it invokes a command.
    Paste(String),
    /// The terminal's size (columns, rows), at start and whenever it changes.
    Resize(u16, u16),
    Reply {
        id: RequestId,
        outcome: Result<Reply, Failure>,
    },
    Database(DbStatus),
    /// The server refuses the signed-in operator's connections now (seen by the health
    /// watcher): disabled, or the password changed elsewhere.
    SessionEnded(String),
    Reader(ReaderState),
    /// Every [`TICK`]: redraws only while something is pending (the spinner); counts the
    /// time to the next read of the permissions (`permissions::reread`).
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

    /// A save the clerk waits on: a write with the ordinary deadline (an import's is long on
    /// purpose, and it says how far it is).
    pub fn is_save(&self) -> bool {
        let deadlines = Deadlines::default();
        self.writes() && self.0.deadline(&deadlines) == deadlines.request()
    }
}

/// The answer to a [`Request`], of the type its screen knows.
#[derive(Debug, Clone)]
pub struct Reply(pub Box<dyn ScreenReply>);

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
    Unreachable(LostConnection),
    /// The request itself failed; the message says why.
    Error(Problem),
    /// The server refuses the operator's connections now (disabled, or the password changed
    /// elsewhere): the desk signs out.
    SignedOut(String),
}

/// A failure as the clerk reads it: a catalogue text (section `failure`) in the desk's
/// language, quoting the technical detail as it came (from PostgreSQL, the system or the
/// reader) for whoever supports the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub detail: String,
    /// The permissions (codes) the database found the operator without: the text names them
    /// in words.
    pub permissions: Vec<String>,
    /// The file it was about: its words are the detail.
    pub file: Option<FileError>,
    /// The card error or the lost connection it was: its words are the detail (boxed: a
    /// failure stays small).
    pub cause: Option<Box<ProblemCause>>,
}

/// What a [`Problem`]'s detail says in the desk's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemCause {
    Card(CardCause),
    Lost(LostConnection),
}

impl Problem {
    pub fn new(key: &'static str, detail: impl ToString) -> Problem {
        Problem {
            key,
            detail: detail.to_string(),
            permissions: Vec::new(),
            file: None,
            cause: None,
        }
    }

    /// A card error (`key`: what it did to the operation), said in the desk's words.
    pub fn card(key: &'static str, error: &CardError) -> Problem {
        Problem {
            cause: Some(Box::new(ProblemCause::Card(error.cause()))),
            ..Problem::new(key, error)
        }
    }

    /// A file that could not be read or written (`key`: which).
    pub fn file(key: &'static str, file: FileError) -> Problem {
        Problem {
            file: Some(file),
            ..Problem::new(key, "")
        }
    }

    /// The database refused for want of any of `permissions` (its `md_require`).
    pub fn not_permitted(permissions: Vec<String>, detail: impl ToString) -> Problem {
        Problem {
            permissions,
            ..Problem::new(NOT_PERMITTED, detail)
        }
    }

    /// The database refused the audit entry of `action` (sql/V53) the desk wrote true: the
    /// operator's roles no longer allow it.
    pub fn roles_changed(action: String, detail: impl ToString) -> Problem {
        Problem {
            permissions: vec![action],
            ..Problem::new("failure.roles_changed", detail)
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        let codes: Vec<&str> = self.permissions.iter().map(String::as_str).collect();
        let detail = match (&self.file, self.cause.as_deref()) {
            (Some(file), _) => file.text(lang),
            (None, Some(ProblemCause::Card(cause))) => card_cause_words(lang, cause),
            (None, Some(ProblemCause::Lost(lost))) => lost_connection_words(lang, lost),
            (None, None) => self.detail.clone(),
        };
        lang.tf(
            self.key,
            &[
                ("detail", &detail),
                ("permission", &lang.permission_names(&codes)),
            ],
        )
    }
}

/// Why the database is out of reach, in the desk's language: each cause the desk knows from
/// the catalogue (`db_cause`), one it does not as the driver said it.
pub fn lost_connection_words(lang: Lang, cause: &LostConnection) -> String {
    let key = match cause {
        LostConnection::NoAnswerWithin(limit) => {
            let seconds = LostConnection::seconds(*limit);
            return lang.tf("db_cause.no_answer_within", &[("seconds", &seconds)]);
        }
        // The driver's English is in the log (`db::connection_lost`), not on the line.
        LostConnection::Other(_) => "db_cause.other",
        LostConnection::Rejected => "db_cause.rejected",
        LostConnection::ConnectionFailed => "db_cause.connection_failed",
        LostConnection::Tls => "db_cause.tls",
        LostConnection::NoConnectionInTime => "db_cause.no_connection_in_time",
        LostConnection::NotListening => "db_cause.not_listening",
        LostConnection::Reset => "db_cause.reset",
        LostConnection::TimedOut => "db_cause.timed_out",
        LostConnection::StatementTimedOut => "db_cause.statement_timed_out",
        LostConnection::ServerShuttingDown => "db_cause.server_shutting_down",
        LostConnection::ServerCrashed => "db_cause.server_crashed",
        LostConnection::ServerNotReady => "db_cause.server_not_ready",
        LostConnection::IdleSessionEnded => "db_cause.idle_session_ended",
        LostConnection::Closed => "db_cause.closed",
        LostConnection::NewPasswordRefused => "db_cause.new_password_refused",
    };
    lang.t(key).to_owned()
}

/// A card error in the desk's language: each cause it knows from the catalogue
/// (`card_cause`), one it does not as the error said it.
pub fn card_cause_words(lang: Lang, cause: &CardCause) -> String {
    let key = match cause {
        CardCause::Refused { command, status } => {
            let args: [(&str, &dyn std::fmt::Display); 2] =
                [("command", command), ("status", status)];
            return lang.tf("card_cause.refused", &args);
        }
        CardCause::NotARecord { command, length } => {
            let args: [(&str, &dyn std::fmt::Display); 2] =
                [("command", command), ("length", length)];
            return lang.tf("card_cause.not_a_record", &args);
        }
        CardCause::WrongPin { tries_left } => {
            return lang.tf("card_cause.wrong_pin", &[("tries", tries_left)]);
        }
        CardCause::LastPinTries { tries_left } => {
            return lang.tf("card_cause.last_pin_tries", &[("tries", tries_left)]);
        }
        CardCause::Said(said) => return said.clone(),
        // The reader's own English is in the log (`CardError::cause`), not on the line.
        CardCause::Other(_) => "card_cause.other",
        CardCause::NoService => "card_cause.no_service",
        CardCause::ServiceLost => "card_cause.service_lost",
        CardCause::NoCard => "card_cause.no_card",
        CardCause::ReaderStopped => "card_cause.reader_stopped",
        CardCause::NoApplication => "card_cause.no_application",
        CardCause::PinBlocked => "card_cause.pin_blocked",
        CardCause::NoSecrets => "card_cause.no_secrets",
        CardCause::WritesStopped => "card_cause.writes_stopped",
        CardCause::NoAnswer => "card_cause.no_answer",
        CardCause::Removed => "card_cause.removed",
        CardCause::Reset => "card_cause.reset",
        CardCause::Interrupted => "card_cause.interrupted",
        CardCause::Unresponsive => "card_cause.unresponsive",
        CardCause::ReaderBusy => "card_cause.reader_busy",
        CardCause::ReaderTimedOut => "card_cause.reader_timed_out",
        CardCause::ReaderGone => "card_cause.reader_gone",
        CardCause::SessionExpired => "card_cause.session_expired",
    };
    lang.t(key).to_owned()
}

/// The refusal of what the operator's roles do not allow, naming the permission in words.
const NOT_PERMITTED: &str = "msg.not_permitted";

/// Says that the operator's roles allow none of `permissions` (codes), named in words.
pub fn not_permitted(lang: Lang, permissions: &[&str]) -> String {
    lang.tf(
        NOT_PERMITTED,
        &[("permission", &lang.permission_names(permissions))],
    )
}

/// The operator who signed in, as the database knows them.
pub use crate::db::operators::SignedIn as Session;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbStatus {
    /// Nothing has answered yet: the desk checks nothing before a sign-in.
    #[default]
    Unknown,
    Connected,
    Reconnecting,
    /// A sign-in found no server; nothing tries again before the next sign-in.
    Unreachable,
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

/// A message said, with when: the last [`MESSAGES_KEPT`] are kept for `:messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub at: DateTime<Utc>,
    pub message: Message,
}

/// How many messages `:messages` can show.
pub const MESSAGES_KEPT: usize = 50;

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
    /// F1 help, scrolled `scroll` rows from its top (`help::page`); `in_lookup`: opened over a
    /// form's open lookup list, whose keys it shows first.
    Help {
        scroll: usize,
        in_lookup: bool,
    },
    CommandLine(CommandLine),
    /// The last messages with their times (`:messages`), scrolled `back` lines from the newest.
    Messages {
        back: usize,
    },
}

/// A question the hub asked on the message line; the next key answers it (the key each
/// question names: yes; anything else: no).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// Sign out (F3 on the customer table, `:logout`).
    SignOut,
    /// Go home although a screen holds unsaved typing.
    Home,
    /// Leave a form with unsaved typing (F3 / F12 on a changed form, which the form itself
    /// counts): F3 or F12 again discards it. Asked here so that keys typed behind it before it
    /// was read are held ([`App::held`]) rather than typed into the form.
    Leave,
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
    /// Ticks since it was sent.
    pub ticks: u32,
    /// A read the desk sent to show what a saved change left (a notice's reload, the read
    /// after a write's answer), not one the clerk's key asked for: F12 / Esc does not cancel
    /// it, lest the screen keep showing what the change replaced (s38-e, by hand: Esc pressed
    /// on after paying a bill cancelled the table's reload, which kept "75.00 · owes" for a
    /// customer whose balance had paid the bill).
    pub reload: bool,
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
    /// Set by the card tasks when a card refuses the desk's issuer PIN (`cardflow`).
    pub card_pin: PinRefusal,
    pub message: Option<Message>,
    /// The last messages said, oldest first.
    pub said: VecDeque<Said>,
    /// How many messages have been said: a key that changes the screen without saying one
    /// clears the message line.
    pub said_count: u64,
    pub keymap: KeyMap,
    pub lang: Lang,
    pub look: Look,
    pub in_flight: Vec<InFlight>,
    /// Requests that met an unreachable database, re-sent when it is back; a write keeps its
    /// idempotency key, so one that did commit is not applied again.
    pub parked: Vec<Parked>,
    /// Keys typed while a request holds input, applied in order when it answers.
    pub type_ahead: VecDeque<Typed>,
    pub next_request: RequestId,
    pub spinner: usize,
    /// Ticks since the operator's permissions were last read (`permissions::reread`).
    pub permissions_age: u32,
    pub quit: bool,
    /// Quit was pressed once while a save waited for the database, and the clerk was told.
    pub quit_warned: bool,
    /// The question on the message line waiting for its answer; asked while it is there
    /// (`say` drops it).
    pub asked: Option<Question>,
    /// When the question was asked, or the last key held behind it ([`App::held`]) came: a
    /// key within [`READ_TIME`] of it was typed before the question could be read.
    pub asked_at: Option<DateTime<Utc>>,
    /// Keys typed behind a question before it could be read (a burst `:logout Enter` and the
    /// next operator's sign-in): not its answer, nor keys for the screen it was asked on. They
    /// wait for the answer: a yes gives them to the screen it puts on top, any other key drops
    /// them, said with their number (`update::hold_behind_question`).
    pub held: VecDeque<Typed>,
    /// What was typed and refused while a save waits for the database, as the message line
    /// quotes it (`refused_while_saving`); any other message starts it afresh.
    pub refused_typing: String,
    /// Random per run: with the request id it makes a write's idempotency key
    /// ([`App::write_key`]), unique across sessions and restarts.
    pub desk_id: u64,
    /// Secret per run (keyed from the operating system's randomness): the tag that makes the
    /// next write's key unpredictable ([`App::write_key`]).
    pub key_secret: std::collections::hash_map::RandomState,
    /// Characters per receipt line (`receipts.width`).
    pub receipt_width: usize,
    /// Which identity documents the customer forms accept (`customers.id_documents`).
    pub id_policy: IdDocumentPolicy,
    /// A full field moves on by itself (`[ui] auto_advance`); every form asks through
    /// [`App::typing`].
    pub auto_advance: bool,
    /// The time zone times are shown in: the machine's, fixed at start, so a drawing is a pure
    /// function of the state (tests set it).
    pub zone: FixedOffset,
}

impl App {
    /// Today in the desk's zone (`db::zone`), not the machine's clock's: the day the desk's
    /// reports, dates and checks (an identity number's birth date) are of.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.zone).date_naive()
    }

    /// Whether the signed-in operator's roles hold `permission` (`role_permission`): what the
    /// database will check; asked only to refuse early, in words.
    pub fn may(&self, permission: &str) -> bool {
        self.session
            .as_ref()
            .is_some_and(|session| session.permissions.iter().any(|p| p == permission))
    }

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
            database: DbStatus::Unknown,
            reader: ReaderState::NoService,
            card: None,
            card_pin: PinRefusal::default(),
            message: None,
            said: VecDeque::new(),
            said_count: 0,
            keymap,
            lang,
            look,
            in_flight: Vec::new(),
            parked: Vec::new(),
            type_ahead: VecDeque::new(),
            next_request: 1,
            spinner: 0,
            permissions_age: 0,
            quit: false,
            quit_warned: false,
            asked: None,
            asked_at: None,
            held: VecDeque::new(),
            refused_typing: String::new(),
            desk_id: fastrand::u64(..),
            key_secret: std::collections::hash_map::RandomState::new(),
            receipt_width: 48,
            id_policy: IdDocumentPolicy::ResidentIdentityCard,
            auto_advance: false,
            zone: crate::db::zone::desk_zone(),
        }
    }

    /// How keys edit a form on this desk: what every `Form::on_key` is given.
    pub fn typing(&self) -> Typing {
        Typing {
            lang: self.lang,
            auto_advance: self.auto_advance,
        }
    }

    /// The id of the screen on top.
    pub fn top_screen(&self) -> ScreenId {
        match &self.screen {
            Slot::Module(id, _) | Slot::Vacant(id) => *id,
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
    /// alike): the id the request is about to get, on this desk, and a tag of it under the
    /// desk's secret. Made once per F2 and kept in the request, so a re-send carries the same
    /// key. The tag is what no one else can tell in advance: the keys are in the ledger for any
    /// operator to read, and a write waits on an advisory lock of its key's hash (sql/V79,
    /// db::applied_write), which a clerk's psql may take; a key `desk-<id>-<n + 1>` they could
    /// hold before the desk sent it (docs/decisions.md, s35-i).
    pub fn write_key(&self) -> String {
        use std::hash::BuildHasher;
        let tag = self.key_secret.hash_one((self.desk_id, self.next_request));
        format!(
            "desk-{:016x}-{}-{tag:016x}",
            self.desk_id, self.next_request
        )
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

    /// The keys the screen on top takes outside the keymap (`Screen::keys`), for the help.
    pub fn screen_keys(&self) -> Vec<(&'static str, &'static str)> {
        match (&self.overlay, &self.screen) {
            (Some(Overlay::CommandLine(_)), _) | (_, Slot::Vacant(_)) => Vec::new(),
            (_, Slot::Module(_, screen)) => screen.keys(),
        }
    }

    /// Whether the screen on top has fields to move between (`Screen::has_fields`): the help's
    /// line on Tab / Shift-Tab / Enter is shown only then.
    pub fn screen_has_fields(&self) -> bool {
        match (&self.overlay, &self.screen) {
            (Some(Overlay::CommandLine(_)), _) | (_, Slot::Vacant(_)) => false,
            (_, Slot::Module(_, screen)) => screen.has_fields(),
        }
    }

    /// The commands offered here that the operator's roles allow: what the legend and the help
    /// show.
    pub fn allowed_commands(&self) -> Vec<(Command, &'static str)> {
        let mut commands = self.commands();
        commands.retain(|(command, _)| self.lacks(*command).is_none());
        commands
    }

    /// The commands a name typed on the `:` command line runs here, in `Command::ALL`'s order
    /// (`update::invoke`'s gate): the screen's own that the roles allow, the lists opened from
    /// any screen once signed in, home and sign out — none where the screen does not open the
    /// line (a form types `:` into its field). Not the keys of a field or of the line itself:
    /// `next-field` and `prev-field` move between a form's fields (on the line, Tab completes),
    /// and `:command-line` would open the line just closed.
    pub fn typed_commands(&self) -> Vec<Command> {
        let Slot::Module(_, screen) = &self.screen else {
            return Vec::new();
        };
        let offered = screen.commands();
        let offers = |command: Command| offered.iter().any(|(c, _)| *c == command);
        if !offers(Command::CommandLine) {
            return Vec::new();
        }
        let navigation = self
            .session
            .as_ref()
            .is_some_and(|session| !session.must_change_password);
        Command::ALL
            .into_iter()
            .filter(|command| {
                !matches!(
                    command,
                    Command::NextField | Command::PrevField | Command::CommandLine
                )
            })
            .filter(|command| {
                offers(*command)
                    || (navigation
                        && self
                            .registry
                            .opens_anywhere
                            .iter()
                            .any(|(c, _)| c == command))
                    || (self.session.is_some()
                        && matches!(command, Command::Home | Command::Logout))
            })
            .filter(|command| {
                command
                    .permission()
                    .is_none_or(|permission| self.may(permission))
                    && self.lacks(*command).is_none()
            })
            .collect()
    }

    /// The permission the screen on top needs for `command` that the operator lacks, if any.
    pub fn lacks(&self, command: Command) -> Option<&'static str> {
        let Slot::Module(_, screen) = &self.screen else {
            return None;
        };
        screen
            .permission(command)
            .filter(|permission| !self.may(permission))
    }

    /// Rows of the customer table that fit: all but the top line, the search line, the
    /// header, the message line and the legend.
    pub fn table_rows(&self) -> usize {
        usize::from(self.viewport.1.saturating_sub(5)).max(1)
    }

    /// The breadcrumb trail shown on the top line, one crumb a screen. A crumb names the
    /// customer once: a screen about a customer ("10006685 › Bills", `customer_crumb`) over
    /// screens that name them already (their details "10006685", their bills) leaves the
    /// number out ("… › Arrears › 10006685 › Bills › Account", not "… › 10006685 ›
    /// 10006685 › Bills › 10006685 › Account", s39).
    pub fn breadcrumbs(&self) -> Vec<String> {
        let mut crumbs: Vec<String> = Vec::new();
        for screen in self.below.iter().chain(std::iter::once(&self.screen)) {
            let crumb = match screen {
                Slot::Module(_, screen) => screen.crumb(self.lang),
                Slot::Vacant(_) => String::new(),
            };
            // The customer the trail names last, if any (`customer_crumb`'s number).
            let named = crumbs
                .iter()
                .rev()
                .flat_map(|before| before.rsplit(" › "))
                .find(|segment| segment.len() == 8 && segment.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|named| crumb.strip_prefix(named))
                .and_then(|rest| rest.strip_prefix(" › "));
            let crumb = match named {
                Some(rest) => rest.to_owned(),
                None => crumb,
            };
            crumbs.push(crumb);
        }
        crumbs
    }
}

/// A screen: one module of `crate::screens`. The hub calls it only while it is on top (keys,
/// commands, notices, draw) or when an answer to one of its requests arrives.
pub trait Screen: ScreenBase + Debug + Send {
    /// Its part of the breadcrumbs on the top line.
    fn crumb(&self, lang: Lang) -> String;

    /// The commands it offers with the catalogue key of each label: the legend, the help and
    /// the command line are built from this, and `invoke` refuses any other command.
    fn commands(&self) -> Vec<(Command, &'static str)>;

    /// Keys it acts on that no command is bound to (Space ticks a bill), each as the help
    /// names it with the catalogue key of what it does: the help lists them beside the
    /// commands, so that no key the screen takes is one a clerk cannot find.
    fn keys(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// Whether it shows fields that Tab / Shift-Tab and Enter move between (a form, a form's
    /// pane open now): the help says how only where there are. A list or a read-only view
    /// (the customer table, the bills without the void pane) answers false.
    fn has_fields(&self) -> bool {
        true
    }

    /// The permission `command` needs here, if any: the legend and the help leave out what the
    /// operator's roles do not allow, and the hub refuses it in words before `on_command`.
    fn permission(&self, command: Command) -> Option<&'static str> {
        command.permission()
    }

    /// Draws its body: a pure function of its state and the app's shared parts (language,
    /// keymap, look, session, time zone).
    fn draw(&self, frame: &mut Frame, area: Rect, app: &App);

    /// Just put on the stack: ask for what it shows. Refresh asks again through it, unless
    /// `on_command` handles Refresh itself.
    fn on_open(&mut self, _hub: &mut Hub) {}

    /// A key no overlay took, with the command it is bound to; true when the screen used it,
    /// otherwise the hub invokes the command.
    fn on_key(&mut self, _key: KeyEvent, _command: Option<Command>, _hub: &mut Hub) -> bool {
        false
    }

    /// A command it does not offer here, asked anyway (its key, or its name on the command
    /// line); true when it told why in its own words, otherwise the hub says "not available
    /// here". A screen whose offer follows what it shows (a card key on a customer without a
    /// card meter) says what the key would have met.
    fn on_not_offered(&mut self, _command: Command, _hub: &mut Hub) -> bool {
        false
    }

    /// A command it offers, from a key or the command line; true when it handled it (the hub
    /// handles help, the command line, quit, the registry's screens, leave and log out, and
    /// Refresh by `on_open`).
    fn on_command(&mut self, _command: Command, _hub: &mut Hub) -> bool {
        false
    }

    /// The answer to one of its requests, even if other screens cover it meanwhile.
    fn on_reply(&mut self, _request: &dyn ScreenRequest, _reply: &dyn ScreenReply, _hub: &mut Hub) {
    }

    /// One of its requests failed (the hub says why on the message line): a screen that
    /// waited on a save may save again.
    fn on_failure(&mut self, _request: &dyn ScreenRequest, _hub: &mut Hub) {}

    /// Whether `key` must wait for an answer on its way (type-ahead), beyond the requests that
    /// hold input: the customer table's rows wait for the search typed before.
    fn key_waits(&self, _key: &KeyEvent, _app: &App) -> bool {
        false
    }

    /// What the message line says (a catalogue key), once, when a key first waits
    /// ([`Screen::key_waits`]) for a read the clerk would otherwise not know of: a list's
    /// read its commands need. A screen saying something here also has the keys that waited
    /// dropped if that read fails (they were typed for what it would bring).
    fn waiting_says(&self, _app: &App) -> Option<&'static str> {
        None
    }

    /// Whether the keys typed before it came on top are dropped rather than given to it: a
    /// temporary password shown once, which F2 closes, is not closed by the F2 a tired
    /// administrator pressed again while the save that made it was on its way.
    fn drops_type_ahead(&self) -> bool {
        false
    }

    /// Whether it holds typed data not saved: going home or a `:` command never drops it
    /// silently (home asks first, a `:` command opens over it instead of in its place).
    fn unsaved(&self) -> bool {
        false
    }

    /// A long request of its own is `done` of `total` through (the meter import); true when
    /// the screen shows it.
    fn on_progress(&mut self, _done: u64, _total: u64) -> bool {
        false
    }

    /// The terminal's rows changed the table's page size.
    fn on_resize(&mut self, _hub: &mut Hub) {}

    /// Another screen changed what this one shows (see [`Notice`]).
    fn on_notice(&mut self, _notice: &Notice, _hub: &mut Hub) {}
}

/// What one screen tells the one below it after a change (the screens that save, to the
/// customer table they were opened from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Data changed: reload where you are.
    Reload,
    /// Show this customer number (just opened, or asked for by `:c`); `open`: and open its
    /// details once it is found.
    ShowCustomer { number: String, open: bool },
}

/// Cloning and downcasting a boxed screen; implemented for every `Clone` screen.
pub trait ScreenBase: Any {
    fn clone_box(&self) -> Box<dyn Screen>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Screen + Clone> ScreenBase for T {
    fn clone_box(&self) -> Box<dyn Screen> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn Screen> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// What the clerk typed: a key, or one character of a paste, which is text and never a
/// command (`Msg::Paste`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    Key(KeyEvent),
    Pasted(char),
}

impl Typed {
    /// The key event a screen is given.
    pub fn key(self) -> KeyEvent {
        match self {
            Typed::Key(key) => key,
            Typed::Pasted(c) => KeyEvent::from(crossterm::event::KeyCode::Char(c)),
        }
    }
}

/// The characters a paste types: a Tab or a line break (CR LF as one) is a space, other
/// control characters are dropped.
pub fn pasted_text(text: &str) -> Vec<char> {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| {
            if matches!(c, '\t' | '\r' | '\n') {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect()
}

/// Identifies a screen on the stack, so an answer finds the screen that asked.
pub type ScreenId = u64;

/// What executing a request answers: the screen's own reply type, or why it failed.
pub type Answer<'a> =
    Pin<Box<dyn Future<Output = Result<Box<dyn ScreenReply>, Failure>> + Send + 'a>>;

/// A screen's request: its own type, executed off the UI task by the runner. The hub knows of
/// it only what it needs for type-ahead and for writes exactly once.
pub trait ScreenRequest: RequestBase + Debug + Send + Sync {
    /// Its answer changes the screen: keys typed meanwhile wait for it. A write does; a read
    /// that only fills in what the screen shows does not.
    fn holds_input(&self) -> bool {
        self.writes()
    }

    /// It changes the database: once sent it is never cancelled, and when the connection is
    /// lost it is parked and sent again as it was (with its idempotency key). A request with an
    /// idempotency key writes; one that writes without (the card's own journal) says so.
    fn writes(&self) -> bool {
        self.idempotency_key().is_some()
    }

    /// The key that makes a write apply once however often it is sent (`App::write_key`).
    fn idempotency_key(&self) -> Option<&str> {
        None
    }

    /// How long it may go unanswered before it is given up as the database unreachable: a
    /// request's deadline; an import's is longer.
    fn deadline(&self, deadlines: &Deadlines) -> std::time::Duration {
        deadlines.request()
    }

    /// The catalogue key of what the message line says when this write is parked for the
    /// database (connection lost), if anything: a save's "waits … sent by itself". The read
    /// of the card after a write says nothing there: the write's outcome on the line says
    /// what to do (walk s45-e: "The save waits" said over "pending: leave the card on the
    /// reader", of no save the clerk made).
    fn parked_says(&self) -> Option<&'static str> {
        Some("db.write_parked")
    }

    /// The catalogue key of what the message line says once this save has waited
    /// `SAVE_WAIT_TOLD`: the database, unless it also waits on something else (a card write
    /// waits on the card too).
    fn still_waiting(&self) -> &'static str {
        "db.write_waiting"
    }

    /// The customer whose balance this write moves (a deposit, a refund, a payment of bills):
    /// while it waits, no other movement of that account is taken, whichever screen asks.
    fn moves_balance_of(&self) -> Option<i64> {
        None
    }

    /// Runs it against the database (and the reader): on a tokio task, never the UI task. A
    /// long one reports how far it is through `progress` (the meter import).
    fn execute<'a>(&'a self, services: &'a Services, progress: &'a Progress<'a>) -> Answer<'a>;

    /// Its answer came after its screen was closed: a write tells its outcome here, on the
    /// message line wherever the clerk is; a read is simply dropped.
    fn answered_after_close(&self, _reply: &dyn ScreenReply, _hub: &mut Hub) {}
}

/// Cloning, comparing and downcasting a boxed request; implemented for every request type.
pub trait RequestBase: Any {
    fn clone_box(&self) -> Box<dyn ScreenRequest>;
    fn eq_dyn(&self, other: &dyn Any) -> bool;
    fn as_any(&self) -> &dyn Any;
}

/// A screen's answer: any plain data type; the screen that asked knows which.
pub trait ScreenReply: Any + Debug + Send + Sync {
    fn clone_box(&self) -> Box<dyn ScreenReply>;
    fn eq_dyn(&self, other: &dyn Any) -> bool;
    fn as_any(&self) -> &dyn Any;
}

/// Implements `$base` (clone into a box, compare, see as `Any`) for every type with `$bounds`,
/// and with it `Clone` and `PartialEq` for `Box<dyn $object>` and for `$message` that carries
/// it, and `of`, which downcasts a `dyn $object` to the type its screen knows: requests and
/// replies travel as trait objects.
macro_rules! boxed_values {
    ($base:ident, $object:ident in $message:ident, $($bounds:tt)+) => {
        impl<T: $($bounds)+> $base for T {
            fn clone_box(&self) -> Box<dyn $object> {
                Box::new(self.clone())
            }
            fn eq_dyn(&self, other: &dyn Any) -> bool {
                other.downcast_ref::<T>() == Some(self)
            }
            fn as_any(&self) -> &dyn Any {
                self
            }
        }

        impl Clone for Box<dyn $object> {
            fn clone(&self) -> Self {
                $base::clone_box(self.as_ref())
            }
        }

        impl PartialEq for Box<dyn $object> {
            fn eq(&self, other: &Self) -> bool {
                $base::eq_dyn(self.as_ref(), $base::as_any(other.as_ref()))
            }
        }

        // Derived, the comparison would try to move the boxes out (a trait object's `==`).
        impl PartialEq for $message {
            fn eq(&self, other: &$message) -> bool {
                PartialEq::eq(&self.0, &other.0)
            }
        }

        impl dyn $object {
            /// This value as the type the screen sent or expects.
            pub fn of<T: 'static>(&self) -> Option<&T> {
                $base::as_any(self).downcast_ref()
            }
        }
    };
}

boxed_values!(
    RequestBase,
    ScreenRequest in Request,
    ScreenRequest + Clone + PartialEq
);
boxed_values!(
    ScreenReply,
    ScreenReply in Reply,
    Any + Debug + Clone + PartialEq + Send + Sync
);

/// What the hub cannot name, handed over by the composition root (`screens::REGISTRY`): the
/// first screen, the screens a command opens from any screen that offers it, and the drawing
/// of a whole frame (`ui::draw`, which the runner calls).
#[derive(Debug)]
pub struct Registry {
    /// The sign-in screen: at start and after logging out.
    pub sign_in: NewScreen,
    /// A command and the screen it opens on top, from a screen that offers the command.
    pub opens: &'static [(Command, NewScreen)],
    /// A command and the screen it opens on top from any screen once signed in (`:meters`).
    pub opens_anywhere: &'static [(Command, NewScreen)],
    pub draw: fn(&mut Frame, &App),
    /// A card read answered (`card_status::CardRead`): the screens keep the receipts of the
    /// operations it finished and tell what the card holds that the database disagrees with.
    pub after_a_read: fn(&mut Hub, &CardRead),
}

/// Makes a screen, to be opened.
pub type NewScreen = fn() -> Box<dyn Screen>;

/// The `NewScreen` of a screen that opens as its `Default` (empty until it has read what it
/// shows).
pub fn new_screen<S: Screen + Default>() -> Box<dyn Screen> {
    Box::new(S::default())
}

/// What a screen may do to the rest of the app while the hub calls it: read the shared state
/// (`app`), send requests, say a message, open, leave or replace screens. The screen being
/// called is out of the stack meanwhile (a vacant slot keeps its place).
pub struct Hub<'a> {
    pub app: &'a mut App,
    pub out: &'a mut Vec<Outgoing>,
}

impl Hub<'_> {
    /// Sends a request; its answer comes back to the screen being called.
    pub fn send(&mut self, request: impl ScreenRequest + Clone + PartialEq) {
        send(self.app, Request(Box::new(request)), self.out);
    }

    /// Forgets the requests on their way that `unwanted` picks: their answers are dropped and
    /// their tasks aborted (a newer search supersedes an older one).
    pub fn forget(&mut self, unwanted: impl Fn(&dyn ScreenRequest) -> bool) {
        self.app.in_flight.retain(|InFlight { request, .. }| {
            !matches!(request, Request(request) if unwanted(request.as_ref()))
        });
    }

    /// Whether a request on its way matches `wanted`.
    pub fn asking(&self, wanted: impl Fn(&dyn ScreenRequest) -> bool) -> bool {
        asking(self.app, wanted)
    }

    /// Whether a write that `wanted` picks is on its way or parked, whichever screen sent it.
    pub fn writing(&self, wanted: impl Fn(&dyn ScreenRequest) -> bool) -> bool {
        write_waiting(self.app, |Request(request), _| wanted(request.as_ref()))
    }

    /// Whether a write the calling screen sent is on its way or parked: what was sent is what
    /// will be saved, so the screen refuses to edit or save again meanwhile (and says that the
    /// save waits, `db.write_parked`).
    pub fn saving(&self) -> bool {
        self.app.calling.is_some_and(|id| saving(self.app, id))
    }

    pub fn say(&mut self, kind: MessageKind, text: impl Into<String>) {
        say(self.app, kind, text);
    }

    /// Says `text`, which tells all that `earlier` (said before, if it was) told and more: kept
    /// once for `:messages`, `earlier`'s entry gone (s45-e: a finished recharge was listed as
    /// "…written." and then "…written; receipt #35."). A note said after `earlier` in its entry
    /// (the keys dropped after a read following a write, `say_dropped`) is said after `text`.
    pub fn say_in_place_of(&mut self, earlier: &str, kind: MessageKind, text: impl Into<String>) {
        let mut text = text.into();
        let noted = |said: &str| {
            said.strip_prefix(earlier)
                .filter(|note| note.is_empty() || note.starts_with(' '))
                .map(str::to_owned)
        };
        if let Some((at, note)) = (self.app.said.iter().enumerate().rev())
            .find_map(|(at, said)| noted(&said.message.text).map(|note| (at, note)))
        {
            self.app.said.remove(at);
            text.push_str(&note);
        }
        say(self.app, kind, text);
    }

    /// Drops the keys typed ahead of a question just asked, to be read before it is answered,
    /// and says how many after it (see [`Screen::drops_type_ahead`], which does it for a
    /// screen on top).
    pub fn drop_type_ahead_unread(&mut self) {
        drop_type_ahead_unread(self.app);
    }

    /// Drops the keys typed while a card was written, to be read before a key acts on its
    /// outcome (`screens::card`), and says how many after it.
    pub fn drop_type_ahead_written(&mut self) {
        drop_type_ahead_written(self.app);
    }

    /// Asks a question on the message line (`text`) that a key of the screen answers and that
    /// names what the desk worked out (a sum): [`Hub::asked_unread`] tells whether a key now
    /// came before it could be read.
    pub fn ask_to_be_read(&mut self, text: String) {
        self.say(MessageKind::Info, text);
        self.app.asked_at = Some(Utc::now());
    }

    /// As [`Hub::ask_to_be_read`], for a question the screen draws itself (a confirmation
    /// pane): the message line is left to it.
    pub fn ask_on_screen_to_be_read(&mut self) {
        self.app.asked_at = Some(Utc::now());
    }

    /// Whether a key now comes within [`READ_TIME`] of the question [`Hub::ask_to_be_read`]
    /// asked, or of the last key dropped before it: typed before it could be read (the second
    /// F2 of a burst, a tired clerk's double F2), it must not answer it.
    pub fn asked_unread(&self) -> bool {
        self.app
            .asked_at
            .is_some_and(|at| Utc::now() - at < READ_TIME)
    }

    /// Drops the key that came before `question` could be read ([`Hub::asked_unread`]): the
    /// question stays on the message line, the `count` keys dropped so far said after it, as
    /// [`Hub::drop_type_ahead_unread`] says them; the clerk has [`READ_TIME`] again to read.
    pub fn drop_unread_key(&mut self, question: &str, count: usize) {
        let app = &mut *self.app;
        if let Some(line) = app
            .message
            .as_mut()
            .filter(|line| line.text.starts_with(question))
        {
            if let Some(said) = app.said.back_mut().filter(|said| said.message == *line) {
                said.message.text = question.to_owned();
            }
            line.text = question.to_owned();
        }
        say_dropped(app, count, "keyboard.ahead_dropped");
        app.asked_at = Some(Utc::now());
    }

    /// Refuses `key`, an edit or a save, because the save of the screen being called waits
    /// for the database (what was sent is what will be saved). The message line quotes all
    /// that was typed and refused since it last said something else: nothing typed vanishes
    /// silently.
    pub fn refuse_while_saving(&mut self, key: &KeyEvent) {
        let mut typed = std::mem::take(&mut self.app.refused_typing);
        if let crossterm::event::KeyCode::Char(c) = key.code {
            typed.push(c);
        }
        let text = if typed.is_empty() {
            self.app.lang.t("db.write_parked").to_owned()
        } else {
            self.app
                .lang
                .tf("keyboard.typing_refused", &[("typed", &typed)])
        };
        self.say(MessageKind::Info, text);
        self.app.refused_typing = typed;
    }

    /// Whether the operator may do what `permission` names; when not, says so, naming it in
    /// words.
    pub fn allowed(&mut self, permission: &str) -> bool {
        let allowed = self.app.may(permission);
        if !allowed {
            let text = not_permitted(self.app.lang, &[permission]);
            self.say(MessageKind::Error, text);
        }
        allowed
    }

    /// Hands `key` to `form`, a form of the screen being called, and does what the form asks:
    /// an edit clears the message line, a bad field or an unsaved leave is said there, a leave
    /// closes the screen.
    pub fn form_key(
        &mut self,
        form: &mut Form,
        key: KeyEvent,
        command: Option<Command>,
    ) -> FormKey {
        self.pane_form_key(form, key, command).unwrap_or_else(|| {
            self.leave();
            FormKey::Taken
        })
    }

    /// As [`Hub::form_key`] for a form that is a pane of its screen: `None` when the form is
    /// left, for the screen to close the pane; the question the form asked goes with it.
    pub fn pane_form_key(
        &mut self,
        form: &mut Form,
        key: KeyEvent,
        command: Option<Command>,
    ) -> Option<FormKey> {
        // The lookup takes every other key; F1 is help everywhere (ui.md), and Esc from it
        // comes back to the list still open. A `?` typed is the list's filter.
        if form.lookup.is_some() && command == Some(Command::Help) && !edits_text(&key) {
            self.app.overlay = Some(Overlay::Help {
                scroll: 0,
                in_lookup: true,
            });
            return Some(FormKey::Taken);
        }
        let focus = form.focus;
        match form.on_key(key, command, self.app.typing()) {
            FormEvent::Unhandled => return Some(FormKey::Unhandled),
            FormEvent::Submit => return Some(FormKey::Submit),
            // The cursor onto a bad field: its whole error on the message line, where beside
            // the field it may be cut at 80 columns.
            FormEvent::Consumed if form.focus != focus => self.say_field_error(form, form.focus),
            FormEvent::Consumed => {}
            FormEvent::Edited(_) => self.app.message = None,
            FormEvent::Invalid => self.say_form_error(form),
            FormEvent::Refused(index) => self.say_field_error(form, index),
            FormEvent::AskLeave => self.ask_leave(),
            FormEvent::Leave => {
                self.app.message = None;
                return None;
            }
        }
        Some(FormKey::Taken)
    }

    /// Asks whether to leave a form with unsaved typing ("F3 or F12 again discards"): the
    /// keys typed behind it before it was read wait for the answer.
    pub fn ask_leave(&mut self) {
        let text = self.app.t("form.ask_leave");
        ask(self.app, Question::Leave, text);
    }

    /// Puts the first bad field of `form` on the message line, named by its label.
    pub fn say_form_error(&mut self, form: &Form) {
        if let Some((index, _)) = form.first_error() {
            self.say_field_error(form, index);
        }
    }

    /// Puts the error of `form`'s field `index` on the message line, named by its label.
    fn say_field_error(&mut self, form: &Form, index: usize) {
        let lang = self.app.lang;
        if let Some(error) = &form.fields[index].error {
            let text = lang.tf(
                "form.fix_field",
                &[
                    ("field", &lang.t(form.fields[index].label)),
                    ("error", error),
                ],
            );
            self.say(MessageKind::Error, text);
        }
    }

    /// Tells the screen on top (not the one being called) that what it shows changed: a save,
    /// to the list or table it was opened from.
    pub fn notify(&mut self, notice: Notice) {
        notify(self.app, notice, self.out);
    }

    /// Tells the screen the one being called covers (the list a form or details were opened
    /// from) that what it shows changed, whatever is on top: a save refused as another desk's
    /// came first, a scheme's details read as gone (under its prices form too).
    pub fn notify_beneath(&mut self, notice: Notice) {
        let Some(id) = self.app.calling else {
            return;
        };
        let stack: Vec<&Slot> = self.app.below.iter().chain([&self.app.screen]).collect();
        let beneath = stack
            .iter()
            .position(|slot| matches!(slot, Slot::Vacant(at) if *at == id))
            .and_then(|at| at.checked_sub(1))
            .and_then(|under| match stack[under] {
                Slot::Module(under, _) => Some(*under),
                _ => None,
            });
        if let Some(beneath) = beneath {
            notify_at(self.app, Place::Id(beneath), notice, self.out);
        }
    }

    /// Puts `screen` on top (F3 comes back) and lets it ask for what it shows.
    pub fn open(&mut self, screen: Box<dyn Screen>) {
        let id = self.app.screen_id();
        open(self.app, Slot::Module(id, screen));
        opened(self.app, self.out, id);
    }

    /// Puts `screen` in the place of the screen being called (sign-in → the customer table)
    /// and lets it ask for what it shows.
    pub fn replace(&mut self, screen: Box<dyn Screen>) {
        let id = self.app.screen_id();
        let slot = Slot::Module(id, screen);
        match calling_slot(self.app) {
            Some(place) => *place = slot,
            None => self.app.screen = slot,
        }
        opened(self.app, self.out, id);
    }

    /// Closes the screen being called; if it was on top, the one below comes back.
    pub fn leave(&mut self) {
        match self.app.calling {
            Some(id) if !matches!(self.app.screen, Slot::Vacant(at) if at == id) => self
                .app
                .below
                .retain(|slot| !matches!(slot, Slot::Vacant(at) if *at == id)),
            _ => leave(self.app),
        }
    }
}

/// Whether a write the screen `id` sent is on its way or parked.
pub fn saving(app: &App, id: ScreenId) -> bool {
    write_waiting(app, |_, asker| asker == Some(id))
}

/// Whether a write that `picked` picks (by the request and the screen that asked) is on its
/// way or parked.
fn write_waiting(app: &App, picked: impl Fn(&Request, Option<ScreenId>) -> bool) -> bool {
    let waiting = |request: &Request, asker| request.writes() && picked(request, asker);
    app.in_flight.iter().any(|f| waiting(&f.request, f.asker))
        || app.parked.iter().any(|p| waiting(&p.request, p.asker))
}

/// Whether a screen request on its way matches `wanted`.
pub fn asking(app: &App, wanted: impl Fn(&dyn ScreenRequest) -> bool) -> bool {
    app.in_flight
        .iter()
        .any(|f| matches!(&f.request, Request(request) if wanted(request.as_ref())))
}

impl Slot {
    /// The screen module in this slot as its own type.
    pub fn module<T: 'static>(&self) -> Option<&T> {
        match self {
            Slot::Module(_, screen) => screen.as_ref().as_any().downcast_ref(),
            _ => None,
        }
    }

    pub fn module_mut<T: 'static>(&mut self) -> Option<&mut T> {
        match self {
            Slot::Module(_, screen) => screen.as_mut().as_any_mut().downcast_mut(),
            _ => None,
        }
    }

    pub fn is<T: 'static>(&self) -> bool {
        self.module::<T>().is_some()
    }
}

// ───────────── What the hub does: behind `Hub`, and for `update` ─────────────

/// A request to send, with the id its reply will carry.
pub type Outgoing = (RequestId, Request);

/// Sends `request` on behalf of the screen being called (`App::calling`): its answer goes
/// back there.
pub(super) fn send(app: &mut App, request: Request, out: &mut Vec<Outgoing>) {
    let id = app.next_request;
    app.next_request += 1;
    app.in_flight.push(InFlight {
        id,
        request: request.clone(),
        asker: app.calling,
        ticks: 0,
        reload: false,
    });
    out.push((id, request));
}

/// Where a screen module to call is: on top, or wherever the one with this id is.
pub(super) enum Place {
    Top,
    Id(ScreenId),
}

/// Calls the screen module at `place` with a `Hub`, taking it out of the stack meanwhile (a
/// vacant slot keeps its place): it may open, leave or replace screens. It goes back to its
/// slot unless it left; `None` when no screen module is there.
pub(super) fn call<R>(
    app: &mut App,
    out: &mut Vec<Outgoing>,
    place: Place,
    f: impl FnOnce(&mut dyn Screen, &mut Hub) -> R,
) -> Option<R> {
    let slot = match place {
        Place::Top => Some(&mut app.screen),
        Place::Id(id) => std::iter::once(&mut app.screen)
            .chain(app.below.iter_mut())
            .find(|slot| matches!(slot, Slot::Module(at, _) if *at == id)),
    }?;
    let Slot::Module(id, _) = *slot else {
        return None;
    };
    let Slot::Module(_, mut screen) = std::mem::replace(slot, Slot::Vacant(id)) else {
        unreachable!("a module was found there")
    };
    let caller = app.calling.replace(id);
    let result = f(screen.as_mut(), &mut Hub { app, out });
    app.calling = caller;
    if let Some(vacant) = std::iter::once(&mut app.screen)
        .chain(app.below.iter_mut())
        .find(|slot| matches!(slot, Slot::Vacant(at) if *at == id))
    {
        *vacant = Slot::Module(id, screen);
    }
    Some(result)
}

pub(super) fn call_top<R>(
    app: &mut App,
    out: &mut Vec<Outgoing>,
    f: impl FnOnce(&mut dyn Screen, &mut Hub) -> R,
) -> Option<R> {
    call(app, out, Place::Top, f)
}

/// The screen module just put on the stack asks for what it shows.
pub(super) fn opened(app: &mut App, out: &mut Vec<Outgoing>, id: ScreenId) {
    call(app, out, Place::Id(id), |screen, hub| screen.on_open(hub));
}

/// The slot of the screen module the hub is calling (vacant while it is called).
pub(super) fn calling_slot(app: &mut App) -> Option<&mut Slot> {
    let id = app.calling?;
    std::iter::once(&mut app.screen)
        .chain(app.below.iter_mut())
        .find(|slot| matches!(slot, Slot::Vacant(at) if *at == id))
}

/// Tells the screen on top that another changed what it shows.
pub(super) fn notify(app: &mut App, notice: Notice, out: &mut Vec<Outgoing>) {
    notify_at(app, Place::Top, notice, out);
}

/// Tells the screen at `place` that another changed what it shows.
fn notify_at(app: &mut App, place: Place, notice: Notice, out: &mut Vec<Outgoing>) {
    let first = app.next_request;
    call(app, out, place, |screen, hub| {
        screen.on_notice(&notice, hub)
    });
    reloads_since(app, first);
}

/// Marks the requests sent since the one numbered `first` as reloads ([`InFlight::reload`]).
pub(super) fn reloads_since(app: &mut App, first: RequestId) {
    for sent in app.in_flight.iter_mut().filter(|sent| sent.id >= first) {
        sent.reload = true;
    }
}

/// Puts `text` on the message line, in the place of a question asked there: a reply said
/// while it waited for its answer (a card read, a save) takes it away, lest the next key answer
/// a question the clerk no longer sees, or clear the reply's words as it says no.
pub(super) fn say(app: &mut App, kind: MessageKind, text: impl Into<String>) {
    app.refused_typing.clear();
    app.asked = None;
    // Keys held behind the question, which goes unanswered: dropped, and said where
    // `:messages` keeps it (the message line is the reply's).
    if !app.held.is_empty() {
        let dropped = held_dropped(app);
        keep_for_messages(app, dropped);
    }
    let message = Message {
        kind,
        text: text.into(),
    };
    keep_for_messages(app, message.clone());
    app.message = Some(message);
}

/// Asks `question` on the message line (`text`): the next key read answers it.
pub(super) fn ask(app: &mut App, question: Question, text: String) {
    say(app, MessageKind::Info, text);
    app.asked = Some(question);
    app.asked_at = Some(Utc::now());
}

/// Drops the keys held behind a question ([`App::held`]), and says how many.
pub(super) fn held_dropped(app: &mut App) -> Message {
    let count = std::mem::take(&mut app.held).len();
    Message {
        kind: MessageKind::Info,
        text: app.tf("keyboard.held_dropped", &[("count", &count)]),
    }
}

/// Drops the keys typed ahead of what the screen on top shows to be read before it is answered
/// ([`Screen::drops_type_ahead`]: a sum the desk worked out, a password shown once), and says how
/// many after what the message line says — the question itself when it is asked there, which
/// stays.
pub(super) fn drop_type_ahead_unread(app: &mut App) {
    let count = std::mem::take(&mut app.type_ahead).len();
    say_dropped(app, count, "keyboard.ahead_dropped");
}

/// Says that `count` keys typed before what the message line says could be read were dropped,
/// after it, in the words of `text` (a catalogue key with `{count}`; see
/// [`drop_type_ahead_unread`]).
fn say_dropped(app: &mut App, count: usize, text: &str) {
    if count == 0 {
        return;
    }
    let dropped = app.tf(text, &[("count", &count)]);
    let Some(line) = &mut app.message else {
        return say(app, MessageKind::Info, dropped);
    };
    // One message with what the line says, kept once for `:messages`.
    let last_said = app.said.back_mut().filter(|said| said.message == *line);
    line.text = format!("{} {dropped}", line.text);
    match last_said {
        Some(said) => said.message = line.clone(),
        None => {
            let line = line.clone();
            keep_for_messages(app, line);
        }
    }
}

/// [`Hub::drop_type_ahead_written`]; also for the read of the card after the write
/// (`card_status`), which the clerk waits on as a part of the write.
pub(super) fn drop_type_ahead_written(app: &mut App) {
    let count = std::mem::take(&mut app.type_ahead).len();
    say_dropped(app, count, "keyboard.written_dropped");
}

/// How long an error stays on the message line against a key "not available here": less than
/// a clerk takes to read it, more than a burst of keys typed ahead takes to arrive.
pub const READ_TIME: TimeDelta = TimeDelta::seconds(1);

/// Says that a key is not available here, unless it comes within [`READ_TIME`] of an error
/// still on the line: a clerk typing ahead is told what stopped them, not that the keys typed
/// behind it did nothing. The refusal is kept for `:messages` either way.
pub(super) fn say_not_available(app: &mut App, text: String) {
    let on_the_line = app
        .said
        .iter()
        .rev()
        .find(|said| app.message.as_ref() == Some(&said.message));
    let unread_error = on_the_line.is_some_and(|said| {
        said.message.kind == MessageKind::Error && Utc::now() - said.at < READ_TIME
    });
    if unread_error {
        keep_for_messages(
            app,
            Message {
                kind: MessageKind::Error,
                text,
            },
        );
    } else {
        say(app, MessageKind::Error, text);
    }
}

/// Keeps `message` for `:messages`.
fn keep_for_messages(app: &mut App, message: Message) {
    if app.said.len() == MESSAGES_KEPT {
        app.said.pop_front();
    }
    app.said.push_back(Said {
        at: Utc::now(),
        message,
    });
    app.said_count += 1;
}

/// Back to the screen below (F3 on a screen without unsaved changes).
pub(super) fn leave(app: &mut App) {
    if let Some(previous) = app.below.pop() {
        app.screen = previous;
    }
}

/// Puts `screen` on top; F3 comes back to the one it covers.
pub(super) fn open(app: &mut App, screen: Slot) {
    let covered = std::mem::replace(&mut app.screen, screen);
    app.below.push(covered);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// s35-i: the next write's key is no one's to tell from the keys before it (they are in
    /// the ledger): the key `desk-<id>-<n>` of the request after one seen was, and a clerk's
    /// psql held its advisory lock before the desk sent it.
    #[test]
    fn the_next_write_key_cannot_be_told_from_the_last() {
        let mut app = crate::screens::app(
            crate::app::keymap::KeyMap::default(),
            Lang::En,
            Default::default(),
        );
        let seen = app.write_key();
        app.next_request += 1;
        let next = app.write_key();
        assert_eq!(next, app.write_key(), "made again, the same key");
        let guessed = format!("desk-{:016x}-{}", app.desk_id, app.next_request);
        assert_ne!(next, guessed, "told from {seen}");
        // The tag is the desk's secret's: another desk's of the same id and number differs.
        let mut other = app.clone();
        other.key_secret = std::collections::hash_map::RandomState::new();
        assert_ne!(other.write_key(), next);
        assert_ne!(
            next.rsplit('-').next(),
            seen.rsplit('-').next(),
            "the tag changes with the number"
        );
    }

    #[test]
    fn every_cause_the_desk_knows_is_said_in_its_language() {
        let known = [
            LostConnection::NoAnswerWithin(Duration::from_secs(44)),
            LostConnection::NoConnectionInTime,
            LostConnection::NotListening,
            LostConnection::Reset,
            LostConnection::TimedOut,
            LostConnection::StatementTimedOut,
            LostConnection::ServerShuttingDown,
            LostConnection::ServerCrashed,
            LostConnection::ServerNotReady,
            LostConnection::IdleSessionEnded,
            LostConnection::Closed,
            LostConnection::NewPasswordRefused,
            LostConnection::Rejected,
            LostConnection::ConnectionFailed,
            LostConnection::Tls,
            LostConnection::Other("error communicating with the server: Bad address".to_owned()),
        ];
        for cause in &known {
            let zh = lost_connection_words(Lang::Zh, cause);
            assert!(
                !zh.chars().any(|c| c.is_ascii_alphabetic()),
                "{cause:?}: {zh}"
            );
            let en = lost_connection_words(Lang::En, cause);
            assert!(!en.contains('.') && en != zh, "{cause:?}: {en}");
        }
        assert_eq!(lost_connection_words(Lang::Zh, &known[0]), "44 秒内无应答");
    }

    #[test]
    fn a_card_errors_cause_is_said_in_the_desks_language() {
        use crate::card::apdu::ApduError;
        use crate::cardflow::WritesStopped;
        for error in [
            CardError::Apdu(ApduError::NoStatusWord(0)),
            CardError::Apdu(ApduError::TooShort(2)),
            CardError::Pcsc(pcsc::Error::RemovedCard),
            CardError::Pcsc(pcsc::Error::NoSmartcard),
            CardError::Pcsc(pcsc::Error::ResetCard),
            CardError::Pcsc(pcsc::Error::NotTransacted),
            CardError::Pcsc(pcsc::Error::UnresponsiveCard),
            CardError::Pcsc(pcsc::Error::UnpoweredCard),
            CardError::Pcsc(pcsc::Error::SharingViolation),
            CardError::Pcsc(pcsc::Error::Timeout),
            CardError::Pcsc(pcsc::Error::ReaderUnavailable),
            CardError::Pcsc(pcsc::Error::NoReadersAvailable),
            CardError::Pcsc(pcsc::Error::UnknownReader),
            CardError::Pcsc(pcsc::Error::InsufficientBuffer),
            CardError::Pcsc(pcsc::Error::NoService),
            CardError::Pcsc(pcsc::Error::ServiceStopped),
            CardError::Pcsc(pcsc::Error::CommError),
            CardError::NoService,
            CardError::NoCard,
            CardError::ReaderStopped,
            CardError::NoApplication,
            CardError::Refused {
                command: "READ BINARY".to_owned(),
                status: crate::card::apdu::StatusWord(0x6982),
            },
            CardError::WrongPin { tries_left: 2 },
            CardError::PinBlocked,
            CardError::LastPinTries { tries_left: 1 },
            CardError::NotARecord {
                command: "READ BINARY".to_owned(),
                length: 3,
            },
            CardError::SessionExpired,
        ] {
            let cause = error.cause();
            let zh = card_cause_words(Lang::Zh, &cause);
            assert!(zh_words(&zh), "{error:?}: {zh}");
            let en = card_cause_words(Lang::En, &cause);
            assert!(!en.contains('.') && en != zh, "{error:?}: {en}");
        }
        for stopped in [WritesStopped::NotConfigured, WritesStopped::PinRefused] {
            let zh = card_cause_words(Lang::Zh, &stopped.into());
            assert!(zh_words(&zh), "{stopped:?}: {zh}");
            assert_ne!(card_cause_words(Lang::En, &stopped.into()), zh);
        }
        let problem = Problem::card("failure.card", &CardError::Apdu(ApduError::NoStatusWord(0)));
        assert_eq!(problem.text(Lang::Zh), "读卡器：卡未应答");
        // What it has no words for is said as such; its English goes to the log.
        let unknown = CardError::Pcsc(pcsc::Error::InsufficientBuffer);
        assert_eq!(
            card_cause_words(Lang::Zh, &unknown.cause()),
            "读卡器报告了错误（原文已记入日志）"
        );
    }

    /// Chinese words with no Latin letter but the names the clerk is told to set or run
    /// (the issuer PIN, the card service, the program) and the card's command codes.
    fn zh_words(text: &str) -> bool {
        let rest = ["PIN", "pcscd", "meterdesk", "READ BINARY"]
            .iter()
            .fold(text.to_owned(), |rest, name| rest.replace(name, ""));
        !rest.chars().any(|c| c.is_ascii_alphabetic())
    }

    #[test]
    fn a_cause_the_desk_does_not_know_is_said_as_such_not_in_the_drivers_english() {
        let said = "db error: FATAL: terminating connection due to conflict with recovery";
        let cause = LostConnection::Other(said.to_owned());
        assert_eq!(
            lost_connection_words(Lang::Zh, &cause),
            "连接出错（原文已记入日志）"
        );
    }
}
