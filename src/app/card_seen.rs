//! What the card on the reader is, as plain data: `App::card` holds it, the status line and
//! the card screens read it; `card_status` finds it out.

use crate::card::apdu::CardCause;
use crate::cardflow::SystemCardSeen;
use crate::db::card_ops::{Discrepancy, Settled};
use crate::db::cards::CardOwner;
use crate::domain::card_records::{Ef, IssueRecord, UserCard};

/// What the card on the reader is, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSeen {
    /// Inserted; the read is on its way (or waits for a sign-in).
    Reading,
    /// The card has no WATER application: not a card of this utility.
    NotOurs,
    Blank,
    /// A record this system did not write (bad MAC or layout): nothing is written to it.
    Foreign {
        ef: Ef,
    },
    /// A user card; `owner` is `None` when the database has never issued its number, `active`
    /// is the owner's active card as the database knows it.
    User {
        card: Box<UserCard>,
        owner: Option<CardOwner>,
        active: Option<IssueRecord>,
    },
    /// A meter's tool card (setting, check, clear) of this system, with what the database
    /// knows of it.
    System(Box<SystemCardSeen>),
    /// The read failed (card pulled, reader error): the message says why.
    Unreadable(CardCause),
}

/// What a card read (`card_status::ReadCard`) found.
#[derive(Debug, Clone, PartialEq)]
pub struct CardRead {
    pub seen: CardSeen,
    /// Pending operations the card resolved.
    pub settled: Vec<Settled>,
    /// What the card holds that the database does not agree with (audited).
    pub discrepancies: Vec<Discrepancy>,
}
