//! What the card on the reader is, as plain data: `App::card` holds it, the status line and
//! the card screens read it; `card_status` finds it out.

use chrono::{DateTime, Utc};

use crate::card::apdu::CardCause;
use crate::card::water_card::PinTries;
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
    /// is the owner's active card as the database knows it. `newer`: the read found the card an
    /// older image of itself (`Discrepancy::OlderImage`).
    User {
        card: Box<UserCard>,
        owner: Option<CardOwner>,
        active: Option<IssueRecord>,
        newer: Option<NewerWriteBack>,
        /// The issuer PIN's tries, when the read's SELECT gave them (not after a write).
        pin_tries: Option<PinTries>,
    },
    /// A meter's tool card (setting, check, clear) of this system, with what the database
    /// knows of it.
    System(Box<SystemCardSeen>),
    /// The read failed (card pulled, reader error): the message says why.
    Unreadable(CardCause),
}

/// A meter write-back the database read from the customer's cards later than the one the card
/// on the reader carries, which is therefore an older image of the card (replayed): the meter
/// has loaded every purchase up to `loaded`, and the database refuses to refund any of them
/// from this image (`Refusal::OlderCardImage`). `seen_at`: when it was read (`None` for demo
/// rows that never kept the date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewerWriteBack {
    pub loaded: u32,
    pub seen_at: Option<DateTime<Utc>>,
}

impl NewerWriteBack {
    /// The one `discrepancies` (a read's) name, if any.
    pub fn found_in(discrepancies: &[Discrepancy]) -> Option<Self> {
        discrepancies.iter().find_map(|found| match found {
            Discrepancy::OlderImage { seen_at, loaded } => Some(Self {
                loaded: *loaded,
                seen_at: *seen_at,
            }),
            _ => None,
        })
    }

    /// Whether a refund of purchase `sequence` is refused for it: the meter loaded it.
    pub fn refuses_refund_of(&self, sequence: u32) -> bool {
        sequence <= self.loaded
    }
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
