//! The card screens' state and their part of `update`: what the card on the reader is (the
//! status line follows it), the IC card management screen (`:card`), and the card requests.
//!
//! A card is read whenever one is inserted (`Msg::Reader` with a new card); the read and the
//! database lookup of its card number run off the UI task as `CardRequest::Read`, and the
//! answer lands in `App::card`.

use crate::card::reader::ReaderState;
use crate::db::cards::{CardOperationRow, CardOwner};
use crate::domain::card_records::{Ef, UserCard};

use super::command::Command;
use super::state::{App, MessageKind, Request, Screen};
use super::update::{Outgoing, say, send};

/// How many rows the usage records and the pending list fetch: more than a screen holds, far
/// fewer than would slow a terminal.
pub const LIST_LIMIT: i64 = 200;

/// What the card on the reader is, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSeen {
    /// Inserted; the read is on its way.
    Reading,
    /// The card has no WATER application: not a card of this utility.
    NotOurs,
    Blank,
    /// A record this system did not write (bad MAC or layout): nothing is written to it.
    Foreign {
        ef: Ef,
    },
    /// A user card; `owner` is `None` when the database has never issued its number.
    User {
        card: Box<UserCard>,
        owner: Option<CardOwner>,
    },
    /// The read failed (card pulled, reader error): the message says why.
    Unreadable(String),
}

/// Card work, executed off the UI task by `card_requests::execute`.
#[derive(Debug, Clone, PartialEq)]
pub enum CardRequest {
    /// Read the card on the reader and look its number up.
    Read,
    /// A customer's card usage records.
    Usage { customer_id: i64 },
    /// Every pending card operation (supervisor).
    Pending,
}

impl CardRequest {
    /// Reads and lists do not hold the keyboard: the screen stays usable while they load.
    pub fn holds_input(&self) -> bool {
        match self {
            CardRequest::Read | CardRequest::Usage { .. } | CardRequest::Pending => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CardReply {
    Read(CardSeen),
    Usage(Vec<CardOperationRow>),
    Pending(Vec<CardOperationRow>),
}

/// The IC card management screen (`:card`).
#[derive(Debug, Clone, PartialEq)]
pub struct CardScreen {
    pub pane: CardPane,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CardPane {
    /// What the card on the reader holds (`App::card`).
    Card,
    /// The card usage records of the card's customer; `None` while they load.
    Usage {
        customer_id: i64,
        customer_no: i64,
        rows: Option<Vec<CardOperationRow>>,
    },
    /// Pending card operations (supervisor); `None` while they load.
    Pending { rows: Option<Vec<CardOperationRow>> },
}

impl CardScreen {
    pub fn new() -> CardScreen {
        CardScreen {
            pane: CardPane::Card,
        }
    }

    /// The commands the screen offers, with their legend labels.
    pub fn commands(&self) -> Vec<(Command, &'static str)> {
        let mut commands = vec![(Command::Help, "command.help")];
        match self.pane {
            CardPane::Card => commands.extend([
                (Command::Refresh, "ic.legend_read"),
                (Command::CardUsage, "ic.cmd_usage"),
                (Command::PendingCards, "ic.cmd_pending"),
                (Command::Leave, "legend.back"),
            ]),
            CardPane::Usage { .. } | CardPane::Pending { .. } => commands.extend([
                (Command::Refresh, "command.refresh"),
                (Command::Leave, "legend.back"),
            ]),
        }
        commands.extend([
            (Command::CommandLine, "command.command_line"),
            (Command::Quit, "command.quit"),
        ]);
        commands
    }
}

impl Default for CardScreen {
    fn default() -> Self {
        CardScreen::new()
    }
}

impl App {
    /// The user card on the reader whose number the database knows, with its owner.
    pub fn known_card(&self) -> Option<(&UserCard, &CardOwner)> {
        match &self.card {
            Some(CardSeen::User {
                card,
                owner: Some(owner),
            }) => Some((card, owner)),
            _ => None,
        }
    }

    /// True for a signed-in supervisor. (Administrators move no money: V2's roles.) The
    /// screen only spares the clerk a refusal; the database side checks again.
    pub fn is_supervisor(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|session| session.roles.iter().any(|role| role == "supervisor"))
    }
}

/// A new reader state: a card that came is read, a card that went is forgotten.
pub(super) fn on_reader(app: &mut App, state: ReaderState, out: &mut Vec<Outgoing>) -> bool {
    if state == app.reader {
        return false;
    }
    let inserted = matches!(state, ReaderState::CardPresent { .. });
    app.reader = state;
    forget_card_reads(app);
    if inserted {
        read_card(app, out);
    } else {
        app.card = None;
    }
    true
}

/// A read still on its way answers for a card that may have gone: drop it.
fn forget_card_reads(app: &mut App) {
    app.in_flight
        .retain(|f| f.request != Request::Card(CardRequest::Read));
}

fn read_card(app: &mut App, out: &mut Vec<Outgoing>) {
    forget_card_reads(app);
    app.card = Some(CardSeen::Reading);
    send(app, Request::Card(CardRequest::Read), out);
}

/// `:card` from anywhere: the IC card management screen.
pub(super) fn open_card_screen(app: &mut App) {
    if !matches!(app.screen, Screen::Card(_)) {
        let covered = std::mem::replace(&mut app.screen, Screen::Card(CardScreen::new()));
        app.below.push(covered);
    }
}

/// A command on the card screen; false when it is not one of the screen's own.
pub(super) fn invoke(app: &mut App, command: Command, out: &mut Vec<Outgoing>) -> bool {
    let Screen::Card(screen) = &app.screen else {
        return false;
    };
    match (&screen.pane, command) {
        (CardPane::Card, Command::Refresh) => {
            if matches!(app.reader, ReaderState::CardPresent { .. }) {
                read_card(app, out);
            } else {
                say(app, MessageKind::Error, app.lang.t("ic.insert"));
            }
        }
        (CardPane::Card, Command::CardUsage) => match app.known_card() {
            Some((_, owner)) => {
                let (customer_id, customer_no) = (owner.customer_id, owner.customer_no);
                set_pane(
                    app,
                    CardPane::Usage {
                        customer_id,
                        customer_no,
                        rows: None,
                    },
                );
                send(app, Request::Card(CardRequest::Usage { customer_id }), out);
            }
            None => say(app, MessageKind::Error, app.lang.t("ic.need_user_card")),
        },
        (CardPane::Card, Command::PendingCards) => {
            if app.is_supervisor() {
                set_pane(app, CardPane::Pending { rows: None });
                send(app, Request::Card(CardRequest::Pending), out);
            } else {
                say(app, MessageKind::Error, app.lang.t("ic.supervisor_only"));
            }
        }
        (CardPane::Usage { customer_id, .. }, Command::Refresh) => {
            let customer_id = *customer_id;
            send(app, Request::Card(CardRequest::Usage { customer_id }), out);
        }
        (CardPane::Pending { .. }, Command::Refresh) => {
            send(app, Request::Card(CardRequest::Pending), out)
        }
        (CardPane::Usage { .. } | CardPane::Pending { .. }, Command::Leave | Command::Cancel) => {
            set_pane(app, CardPane::Card)
        }
        _ => return false,
    }
    true
}

fn set_pane(app: &mut App, pane: CardPane) {
    if let Screen::Card(screen) = &mut app.screen {
        screen.pane = pane;
    }
}

/// A card reply arrived.
pub(super) fn on_reply(app: &mut App, reply: CardReply) {
    match reply {
        CardReply::Read(seen) => {
            // A read answers only while the card it read is still in.
            if matches!(app.reader, ReaderState::CardPresent { .. }) {
                app.card = Some(seen);
            }
        }
        CardReply::Usage(found) => {
            if let Screen::Card(CardScreen {
                pane: CardPane::Usage { rows, .. },
            }) = &mut app.screen
            {
                *rows = Some(found);
            }
        }
        CardReply::Pending(found) => {
            if let Screen::Card(CardScreen {
                pane: CardPane::Pending { rows },
            }) = &mut app.screen
            {
                *rows = Some(found);
            }
        }
    }
}
