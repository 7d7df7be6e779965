//! `meterdesk card status`: the reader, the card in it and its issuer PIN's tries left, for
//! the installer and the supervisor. It reads (SELECT, whose answer tells the PIN's tries, and
//! three READ BINARY); it never presents the PIN, so it spends no try.

use std::fmt::Write as _;

use crate::card::reader::ReaderState;
use crate::card::water_card::{PinTries, Record, RecordsAndPinTries, TRIES_TO_PRESENT_THE_PIN};
use crate::config::Config;
use crate::domain::card_records::{CardContent, MacKey};
use crate::tools::meter_sim::follow_reader;

/// What was found; `card` is `None` when no card was read.
pub struct CardStatus {
    pub reader: Option<ReaderState>,
    /// `Ok(None)`: a card without the WATER application; `Err`: why it could not be read.
    pub card: Option<Result<RecordsAndPinTries, String>>,
}

/// Prints the status; fails only when the configuration cannot be read.
pub async fn card_status(config: &Config) -> anyhow::Result<()> {
    let credentials = config.card.credentials()?;
    let key = credentials.secrets.map(|secrets| secrets.key);
    let (reader, state) = follow_reader(config).await;
    let card = match state {
        Some(ReaderState::CardPresent { .. }) => Some(
            reader
                .read_card_and_pin_tries()
                .recv()
                .await
                .map_err(|error| error.to_string()),
        ),
        _ => None,
    };
    let status = CardStatus {
        reader: state,
        card,
    };
    print!("{}", status.describe(key.as_ref()));
    Ok(())
}

impl CardStatus {
    /// One line each for the reader, the card and the PIN; without `key` the records' MACs are
    /// not checked and the card's owner is not named.
    pub fn describe(&self, key: Option<&MacKey>) -> String {
        let mut text = String::new();
        let reader = match &self.reader {
            None => "did not answer".to_owned(),
            Some(ReaderState::NoService) => {
                "none: the smart card service (pcscd) is not running".to_owned()
            }
            Some(ReaderState::NoReader) => "none: pcscd has no reader".to_owned(),
            Some(ReaderState::NoCard { reader } | ReaderState::CardPresent { reader, .. }) => {
                reader.clone()
            }
        };
        let _ = writeln!(text, "reader: {reader}");
        let card = match &self.reader {
            Some(ReaderState::CardPresent { atr, .. }) => format!("present, ATR {}", hex(atr)),
            _ => "none".to_owned(),
        };
        let _ = writeln!(text, "card: {card}");
        let (content, pin) = match &self.card {
            None => return text,
            Some(Err(error)) => (format!("not read: {error}"), None),
            Some(Ok(None)) => ("foreign: no WATER application".to_owned(), None),
            Some(Ok(Some((records, tries)))) => (content(records, key), Some(*tries)),
        };
        let _ = writeln!(text, "content: {content}");
        if let Some(tries) = pin {
            let _ = writeln!(text, "issuer PIN: {}", pin_line(tries));
        }
        text
    }
}

fn content(records: &[Record; 3], key: Option<&MacKey>) -> String {
    let Some(key) = key else {
        return "WATER application (no card key configured: records not checked)".to_owned();
    };
    match CardContent::classify(records, key) {
        CardContent::Blank => "blank".to_owned(),
        CardContent::Foreign { ef, error } => {
            format!("foreign: EF {:04X}: {error}", ef.file_id())
        }
        CardContent::User(card) => {
            let issue = &card.issue;
            let loaded = card
                .write_back
                .map_or(0, |write_back| write_back.last_loaded_sequence);
            let purchase = card.purchase.map_or(0, |purchase| purchase.sequence);
            format!(
                "user card {} of customer {}, meter {}, generation {}; purchase #{purchase}, \
                 meter loaded up to #{loaded}",
                issue.card_number, issue.customer_number, issue.meter_number, issue.generation
            )
        }
    }
}

fn pin_line(tries: PinTries) -> String {
    match tries {
        PinTries::Verified => "verified".to_owned(),
        PinTries::Blocked => "blocked: the card can no longer be written".to_owned(),
        PinTries::Left(left) if left >= TRIES_TO_PRESENT_THE_PIN => format!("{left} tries left"),
        PinTries::Left(left) => format!(
            "{left} try left: no desk presents its PIN to this card, so it is not written \
             (the card issuer must reset it)"
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_card(card: Result<RecordsAndPinTries, String>) -> CardStatus {
        CardStatus {
            reader: Some(ReaderState::CardPresent {
                reader: "Virtual PCD 00 00".into(),
                atr: vec![0x3B, 0x88],
            }),
            card: Some(card),
        }
    }

    #[test]
    fn names_the_reader_the_card_and_the_tries_left() {
        let blank = [[0; 32]; 3];
        let key = MacKey::demo();
        assert_eq!(
            with_card(Ok(Some((blank, PinTries::Left(3))))).describe(Some(&key)),
            "reader: Virtual PCD 00 00\ncard: present, ATR 3B88\ncontent: blank\n\
             issuer PIN: 3 tries left\n"
        );
        let last_try = with_card(Ok(Some((blank, PinTries::Left(1))))).describe(None);
        assert!(last_try.contains("records not checked"), "{last_try}");
        assert!(
            last_try.contains("issuer PIN: 1 try left: no desk presents its PIN"),
            "{last_try}"
        );
        let foreign = with_card(Ok(None)).describe(Some(&key));
        assert!(
            foreign.ends_with("content: foreign: no WATER application\n"),
            "{foreign}"
        );
        let blocked = with_card(Ok(Some((blank, PinTries::Blocked)))).describe(Some(&key));
        assert!(blocked.ends_with("issuer PIN: blocked: the card can no longer be written\n"));
    }

    #[test]
    fn without_a_card_says_where_it_looked() {
        let empty = CardStatus {
            reader: Some(ReaderState::NoCard {
                reader: "Virtual PCD 00 01".into(),
            }),
            card: None,
        };
        assert_eq!(
            empty.describe(None),
            "reader: Virtual PCD 00 01\ncard: none\n"
        );
        let no_pcscd = CardStatus {
            reader: Some(ReaderState::NoService),
            card: None,
        };
        assert!(
            no_pcscd
                .describe(None)
                .starts_with("reader: none: the smart card service")
        );
    }
}
