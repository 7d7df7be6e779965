//! ISO 7816-4 short APDUs: command encoding and decoding, responses and status words.
//!
//! Both sides use this module: the counter builds commands and parses responses, the virtual
//! card parses commands and builds responses, so the two can never disagree on the encoding.
//! [`Exchange`] (one command, one response) and its [`CardError`] are here too: the reader
//! implements it and the card profile (`water_card`) builds on it, so neither imports the other.

use std::fmt;

/// Instruction bytes of the ISO 7816-4 commands our cards use.
pub mod ins {
    pub const VERIFY: u8 = 0x20;
    pub const SELECT: u8 = 0xA4;
    pub const READ_BINARY: u8 = 0xB0;
    pub const UPDATE_BINARY: u8 = 0xD6;
}

/// A command APDU with short length fields (Lc and Le up to 256), which is all our cards need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandApdu {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; `Some(256)` is encoded as Le = 00.
    pub le: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("a command APDU needs at least 4 bytes, got {0}")]
    TooShort(usize),
    #[error("the command's length fields do not match its {0} bytes")]
    BadLength(usize),
    #[error("command data of {0} bytes does not fit a short APDU")]
    DataTooLong(usize),
    #[error("Le of {0} does not fit a short APDU")]
    LeTooLarge(u16),
    #[error("the response has no status word ({0} bytes)")]
    NoStatusWord(usize),
}

impl CommandApdu {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    pub fn with_le(mut self, le: u16) -> Self {
        self.le = Some(le);
        self
    }

    /// Encodes the command; always at least 4 bytes, which matters because vpcd takes a 1-byte
    /// message for a control code and the transmit then hangs.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        let mut bytes = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            let lc = u8::try_from(self.data.len())
                .map_err(|_| ApduError::DataTooLong(self.data.len()))?;
            bytes.push(lc);
            bytes.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            bytes.push(match le {
                256 => 0,
                1..=255 => le as u8,
                _ => return Err(ApduError::LeTooLarge(le)),
            });
        }
        Ok(bytes)
    }

    /// Decodes the four short cases of ISO 7816-3 §12.1.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(ApduError::TooShort(bytes.len()));
        };
        let mut command = Self::new(*cla, *ins, *p1, *p2);
        let decode_le = |byte: u8| if byte == 0 { 256 } else { u16::from(byte) };
        match body {
            [] => {}
            [le] => command.le = Some(decode_le(*le)),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) if lc > 0 => {}
                    Some(1) if lc > 0 => command.le = Some(decode_le(rest[lc])),
                    _ => return Err(ApduError::BadLength(bytes.len())),
                }
                command.data = rest[..lc].to_vec();
            }
        }
        Ok(command)
    }
}

/// The two trailing bytes of every response.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const SUCCESS: Self = Self(0x9000);
    /// Fewer bytes than Le were left before the end of the file.
    pub const END_OF_FILE: Self = Self(0x6282);
    pub const WRONG_LENGTH: Self = Self(0x6700);
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    pub const AUTHENTICATION_BLOCKED: Self = Self(0x6983);
    pub const NO_CURRENT_EF: Self = Self(0x6986);
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    pub const INCORRECT_P1_P2: Self = Self(0x6A86);
    pub const REFERENCED_DATA_NOT_FOUND: Self = Self(0x6A88);
    pub const OFFSET_OUTSIDE_EF: Self = Self(0x6B00);
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);

    /// `63 Cx`: verification failed, x tries left.
    pub fn verify_failed(tries_left: u8) -> Self {
        Self(0x63C0 | u16::from(tries_left.min(0x0F)))
    }

    /// The tries left from a `63 Cx` answer to VERIFY, if that is what this is.
    pub fn tries_left(self) -> Option<u8> {
        (self.0 & 0xFFF0 == 0x63C0).then_some((self.0 & 0x0F) as u8)
    }

    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }

    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SW {:04X}", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseApdu {
    pub data: Vec<u8>,
    pub status: StatusWord,
}

impl ResponseApdu {
    pub fn status_only(status: StatusWord) -> Self {
        Self {
            data: Vec::new(),
            status,
        }
    }

    pub fn success(data: Vec<u8>) -> Self {
        Self {
            data,
            status: StatusWord::SUCCESS,
        }
    }

    /// A response without a status word is a failure, never an empty success: it is what a
    /// pulled card's first transmit returns through pcscd + vpcd.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let Some((data, [sw1, sw2])) = bytes.split_last_chunk::<2>() else {
            return Err(ApduError::NoStatusWord(bytes.len()));
        };
        Ok(Self {
            data: data.to_vec(),
            status: StatusWord(u16::from_be_bytes([*sw1, *sw2])),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.data.clone();
        bytes.extend_from_slice(&self.status.to_bytes());
        bytes
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("the smart card service (pcscd) is not running")]
    NoService,
    #[error("there is no card in the reader")]
    NoCard,
    #[error(transparent)]
    Apdu(#[from] ApduError),
    #[error("card reader: {0}")]
    Pcsc(#[from] pcsc::Error),
    #[error("the card reader thread has stopped")]
    ReaderStopped,
    #[error("the card has no WATER application: not a card of this utility")]
    NoApplication,
    #[error("the card refused {command} (status {status})")]
    Refused { command: String, status: StatusWord },
    #[error("the card refused the issuer PIN; {tries_left} tries left before it blocks")]
    WrongPin { tries_left: u8 },
    #[error("the card's issuer PIN is blocked")]
    PinBlocked,
    /// Asked before VERIFY: the PIN was not presented, so the card lost nothing.
    #[error(
        "the card has only {tries_left} issuer PIN tries left: the PIN is not presented to it, \
         lest a wrong one block the card"
    )]
    LastPinTries { tries_left: u8 },
    #[error("{command} answered {length} bytes, not a whole record")]
    NotARecord { command: String, length: usize },
    /// A card session's plan came later than `reader::PLAN_WAIT`: nothing was sent to write it.
    #[error("the card session ended before the database answered: nothing was written")]
    SessionExpired,
}

impl CardError {
    /// The card went from the reader in the middle of an exchange: what PC/SC answers, in
    /// turn, for a card pulled a moment ago (docs/card.md, "Test rig": an empty response, then
    /// `NotTransacted`, then `RemovedCard`), or for one reset or gone by the next command.
    pub fn card_left_the_reader(&self) -> bool {
        matches!(
            self,
            CardError::Apdu(ApduError::NoStatusWord(_))
                | CardError::Pcsc(
                    pcsc::Error::RemovedCard
                        | pcsc::Error::NotTransacted
                        | pcsc::Error::ResetCard
                        | pcsc::Error::NoSmartcard
                )
        )
    }
}

/// A card error by what the clerk can be told of it, for the desk to word in its language;
/// `Other` is what it has no words for, as the error says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCause {
    /// The card answered nothing (an empty response): pulled a moment ago.
    NoAnswer,
    /// The card was taken from the reader.
    Removed,
    /// The card was reset (by another program, or pulled and put back) under the exchange.
    Reset,
    /// The exchange with the card was interrupted.
    Interrupted,
    /// The card does not respond, or is not powered.
    Unresponsive,
    /// Another program holds the reader.
    ReaderBusy,
    /// The reader timed out.
    ReaderTimedOut,
    /// The reader went away (unplugged, or unknown to the card service).
    ReaderGone,
    /// The card refused a command with its status word.
    Refused { command: String, status: String },
    /// A read answered a length no record has.
    NotARecord { command: String, length: usize },
    /// The card session ended before the database answered: nothing was written.
    SessionExpired,
    /// The smart card service (pcscd) is not running.
    NoService,
    /// The connection to the smart card service broke (pcscd stopped or restarted under it).
    ServiceLost,
    /// No card is in the reader.
    NoCard,
    /// The desk's card reader thread has stopped.
    ReaderStopped,
    /// The card has no application of this utility.
    NoApplication,
    /// The card refused the issuer PIN, with the tries it has left.
    WrongPin { tries_left: u8 },
    /// The card's issuer PIN is blocked.
    PinBlocked,
    /// The PIN was not presented: the card has only these tries left.
    LastPinTries { tries_left: u8 },
    /// This desk has no card PIN and key configured: it can neither check nor write a card.
    NoSecrets,
    /// A card refused this desk's issuer PIN earlier: no card is written until a restart.
    WritesStopped,
    /// A text already in the desk's language (a read the database failed).
    Said(String),
    /// An error the desk has no words of its own for: the reader's or the system's English,
    /// kept for the log and `:messages`' detail, never the line the clerk reads.
    Other(String),
}

impl CardError {
    /// What the clerk can be told of this error.
    pub fn cause(&self) -> CardCause {
        match self {
            CardError::Apdu(ApduError::NoStatusWord(_)) => CardCause::NoAnswer,
            CardError::Pcsc(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard) => {
                CardCause::Removed
            }
            CardError::Pcsc(pcsc::Error::ResetCard) => CardCause::Reset,
            CardError::Pcsc(pcsc::Error::NotTransacted) => CardCause::Interrupted,
            CardError::Pcsc(pcsc::Error::UnresponsiveCard | pcsc::Error::UnpoweredCard) => {
                CardCause::Unresponsive
            }
            CardError::Pcsc(pcsc::Error::SharingViolation) => CardCause::ReaderBusy,
            CardError::Pcsc(pcsc::Error::Timeout) => CardCause::ReaderTimedOut,
            CardError::Pcsc(
                pcsc::Error::ReaderUnavailable
                | pcsc::Error::NoReadersAvailable
                | pcsc::Error::UnknownReader,
            ) => CardCause::ReaderGone,
            CardError::Refused { command, status } => CardCause::Refused {
                command: command.clone(),
                status: status.to_string(),
            },
            CardError::NotARecord { command, length } => CardCause::NotARecord {
                command: command.clone(),
                length: *length,
            },
            CardError::SessionExpired => CardCause::SessionExpired,
            CardError::NoService
            | CardError::Pcsc(pcsc::Error::NoService | pcsc::Error::ServiceStopped) => {
                CardCause::NoService
            }
            CardError::Pcsc(pcsc::Error::CommError) => CardCause::ServiceLost,
            CardError::NoCard => CardCause::NoCard,
            CardError::ReaderStopped => CardCause::ReaderStopped,
            CardError::NoApplication => CardCause::NoApplication,
            CardError::WrongPin { tries_left } => CardCause::WrongPin {
                tries_left: *tries_left,
            },
            CardError::PinBlocked => CardCause::PinBlocked,
            CardError::LastPinTries { tries_left } => CardCause::LastPinTries {
                tries_left: *tries_left,
            },
            other => {
                tracing::warn!("card error the desk has no words for: {other}");
                CardCause::Other(other.to_string())
            }
        }
    }
}

/// One command and its response: what a card profile builds its operations from. Here, with
/// the errors of an exchange, because both the reader (which exchanges) and the card profile
/// (which builds operations from exchanges) speak them.
pub trait Exchange {
    /// A response without a status word is an error, never an empty success.
    fn exchange(&mut self, command: &CommandApdu) -> Result<ResponseApdu, CardError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_four_cases() {
        let case1 = CommandApdu::new(0x00, 0xA4, 0x00, 0x0C);
        assert_eq!(case1.to_bytes().unwrap(), [0x00, 0xA4, 0x00, 0x0C]);
        let case2 = CommandApdu::new(0x00, 0xB0, 0x81, 0x00).with_le(256);
        assert_eq!(case2.to_bytes().unwrap(), [0x00, 0xB0, 0x81, 0x00, 0x00]);
        let case3 = CommandApdu::new(0x00, 0x20, 0x00, 0x81).with_data([1, 2]);
        assert_eq!(
            case3.to_bytes().unwrap(),
            [0x00, 0x20, 0x00, 0x81, 0x02, 1, 2]
        );
        let case4 = case3.clone().with_le(32);
        assert_eq!(
            case4.to_bytes().unwrap(),
            [0x00, 0x20, 0x00, 0x81, 0x02, 1, 2, 32]
        );
    }

    #[test]
    fn parse_is_the_inverse_of_encode() {
        for command in [
            CommandApdu::new(0x00, 0xA4, 0x04, 0x0C),
            CommandApdu::new(0x00, 0xB0, 0x83, 0x00).with_le(256),
            CommandApdu::new(0x00, 0xB0, 0x83, 0x00).with_le(7),
            CommandApdu::new(0x00, 0xD6, 0x82, 0x00).with_data(vec![0xAB; 32]),
            CommandApdu::new(0x00, 0xA4, 0x04, 0x00)
                .with_data(vec![0xF0; 255])
                .with_le(256),
        ] {
            let bytes = command.to_bytes().unwrap();
            assert_eq!(CommandApdu::parse(&bytes).unwrap(), command, "{bytes:02X?}");
        }
    }

    #[test]
    fn refuses_what_does_not_fit_or_does_not_add_up() {
        assert_eq!(
            CommandApdu::new(0, 0xD6, 0, 0)
                .with_data(vec![0; 256])
                .to_bytes(),
            Err(ApduError::DataTooLong(256))
        );
        assert_eq!(
            CommandApdu::new(0, 0xB0, 0, 0).with_le(257).to_bytes(),
            Err(ApduError::LeTooLarge(257))
        );
        assert_eq!(
            CommandApdu::parse(&[0, 0xB0, 0]),
            Err(ApduError::TooShort(3))
        );
        // Lc says 3 bytes follow, only 2 do; and Lc = 0 is not a short case 3.
        assert_eq!(
            CommandApdu::parse(&[0, 0xD6, 0, 0, 3, 1, 2]),
            Err(ApduError::BadLength(7))
        );
        assert_eq!(
            CommandApdu::parse(&[0, 0xD6, 0, 0, 0, 1]),
            Err(ApduError::BadLength(6))
        );
    }

    #[test]
    fn a_response_needs_a_status_word() {
        assert_eq!(ResponseApdu::parse(&[]), Err(ApduError::NoStatusWord(0)));
        assert_eq!(
            ResponseApdu::parse(&[0x90]),
            Err(ApduError::NoStatusWord(1))
        );
        let response = ResponseApdu::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert_eq!(response.data, [1, 2]);
        assert!(response.status.is_success());
        assert_eq!(response.to_bytes(), [1, 2, 0x90, 0x00]);
    }

    #[test]
    fn verify_failures_count_down() {
        assert_eq!(StatusWord::verify_failed(2), StatusWord(0x63C2));
        assert_eq!(StatusWord(0x63C2).tries_left(), Some(2));
        assert_eq!(StatusWord::SUCCESS.tries_left(), None);
    }
}
