//! Executes a `CardRequest`: card I/O on the reader thread (awaited, never blocking the UI
//! task) and the database through the pool.

use std::sync::Arc;

use super::card::{CardReply, CardRequest, CardSeen, LIST_LIMIT};
use super::state::Failure;
use crate::card::reader::ReaderHandle;
use crate::card::water_card::CardRead;
use crate::db::{Pool, cards};
use crate::domain::card_records::{CardContent, IssuerPin, MacKey};

/// What requests run against: the database, and the card reader with the card secrets.
#[derive(Clone)]
pub struct Services {
    pub pool: Pool,
    pub reader: Arc<ReaderHandle>,
    pub card_key: MacKey,
    pub card_pin: IssuerPin,
}

pub async fn execute(services: &Services, request: CardRequest) -> Result<CardReply, Failure> {
    match request {
        CardRequest::Read => read(services).await.map(CardReply::Read),
        CardRequest::Usage { customer_id } => {
            let client = services.pool.get().await?;
            let rows = cards::usage(&**client, customer_id, LIST_LIMIT).await?;
            Ok(CardReply::Usage(rows))
        }
        CardRequest::Pending => {
            let client = services.pool.get().await?;
            let rows = cards::pending(&**client, LIST_LIMIT).await?;
            Ok(CardReply::Pending(rows))
        }
    }
}

/// Reads the card on the reader and, for a user card, looks its number up.
async fn read(services: &Services) -> Result<CardSeen, Failure> {
    let records = match services.reader.read_card().recv().await {
        Ok(CardRead::Application(records)) => records,
        Ok(CardRead::NoApplication) => return Ok(CardSeen::NotOurs),
        Err(err) => return Ok(CardSeen::Unreadable(err.to_string())),
    };
    Ok(match CardContent::classify(&records, &services.card_key) {
        CardContent::Blank => CardSeen::Blank,
        CardContent::Foreign { ef, .. } => CardSeen::Foreign { ef },
        CardContent::User(card) => {
            let client = services.pool.get().await?;
            let owner = cards::owner_of(&**client, card.issue.card_number).await?;
            CardSeen::User {
                card: Box::new(card),
                owner,
            }
        }
    })
}
