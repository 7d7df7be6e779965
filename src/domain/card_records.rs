//! The three records of the WATER card (card.md): their bytes, the MAC that ties each record to
//! its card, and what a card on the reader is (blank, foreign or a user card).
//!
//! The card's format lives here rather than in `card::water_card` because the counter's rules
//! and the meter simulator decide on it, and `domain` imports nothing of ours; the card profile
//! re-exports [`Ef`], [`Record`] and [`RECORD_LEN`].
//!
//! Decoding is strict: every field value this format does not define is an error, so a record
//! that decodes re-encodes to exactly the same bytes. The counter's journal relies on that: it
//! compares records read back with records it meant to write.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Every EF holds exactly one record of this size, read or written with one APDU.
pub const RECORD_LEN: usize = 32;

pub type Record = [u8; RECORD_LEN];

/// All zero bytes: a blank card's EF 0001, "no purchase yet" in EF 0002, "no meter has written
/// back yet" in EF 0003.
pub const EMPTY_RECORD: Record = [0; RECORD_LEN];

/// The transparent EFs under the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ef {
    /// EF 0001, written by the counter at open / replace / recycle.
    Issue,
    /// EF 0002, written by the counter at recharge / refund / replace.
    Purchase,
    /// EF 0003, written by the meter at each swipe.
    MeterWriteBack,
}

impl Ef {
    pub const ALL: [Ef; 3] = [Ef::Issue, Ef::Purchase, Ef::MeterWriteBack];

    pub fn file_id(self) -> u16 {
        match self {
            Ef::Issue => 0x0001,
            Ef::Purchase => 0x0002,
            Ef::MeterWriteBack => 0x0003,
        }
    }

    /// The short file identifier equals the low byte of the file id on this card.
    pub fn sfi(self) -> u8 {
        self.file_id() as u8
    }

    pub fn from_sfi(sfi: u8) -> Option<Ef> {
        Ef::ALL.into_iter().find(|ef| ef.sfi() == sfi)
    }

    pub fn from_file_id(file_id: u16) -> Option<Ef> {
        Ef::ALL.into_iter().find(|ef| ef.file_id() == file_id)
    }

    /// Index into an array of the three records, in file id order.
    pub fn index(self) -> usize {
        usize::from(self.sfi() - 1)
    }
}

/// Byte 0 of every record.
pub const FORMAT_VERSION: u8 = 1;
/// Byte 1 of the issue record; 2.. are reserved for tool cards, which this system does not make.
pub(super) const USER_CARD_KIND: u8 = 1;
/// The generation of a card at open; each replacement adds one.
pub const FIRST_GENERATION: u8 = 1;

/// Bytes `0..SIGNED_LEN` are covered by the MAC that fills the rest of the record.
const SIGNED_LEN: usize = 24;
type SignedBytes = [u8; SIGNED_LEN];

/// The key shared by the counter and the meters.
#[derive(Clone, PartialEq, Eq)]
pub struct MacKey([u8; MacKey::LEN]);

/// A key anyone can read in this source: cards written with it can be forged by anyone. For
/// demos and tests only; configuration must warn loudly when it is in use.
const DEMO_KEY: [u8; MacKey::LEN] = *b"meterdesk demo key - NOT SECRET!";

impl MacKey {
    pub const LEN: usize = 32;

    /// The well-known demo key (see [`DEMO_KEY`]).
    pub fn demo() -> Self {
        Self(DEMO_KEY)
    }

    /// HMAC-SHA256 over card number ‖ EF id ‖ signed bytes, as card.md defines it.
    fn hmac(&self, card_number: u32, ef: Ef, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(&card_number.to_be_bytes());
        mac.update(&ef.file_id().to_be_bytes());
        mac.update(signed);
        mac
    }

    /// The whole record: the signed bytes followed by the first bytes of their MAC.
    pub(super) fn seal(&self, card_number: u32, ef: Ef, signed: SignedBytes) -> Record {
        let tag = self.hmac(card_number, ef, &signed).finalize().into_bytes();
        let mut record = EMPTY_RECORD;
        record[..SIGNED_LEN].copy_from_slice(&signed);
        record[SIGNED_LEN..].copy_from_slice(&tag[..RECORD_LEN - SIGNED_LEN]);
        record
    }

    /// Compared in constant time, so a forger learns nothing from how fast a card is refused.
    pub(super) fn verify(
        &self,
        card_number: u32,
        ef: Ef,
        record: &Record,
    ) -> Result<(), RecordError> {
        self.hmac(card_number, ef, &record[..SIGNED_LEN])
            .verify_truncated_left(&record[SIGNED_LEN..])
            .map_err(|_| RecordError::BadMac)
    }
}

/// `Debug` for card secrets that never prints them (`MacKey(..)`), so they cannot end up in a
/// log.
macro_rules! debug_hides {
    ($($secret:ident),+) => {
        $(impl fmt::Debug for $secret {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($secret), "(..)"))
            }
        })+
    };
}

debug_hides!(MacKey, IssuerPin);

/// 64 hex digits, as in the configuration file.
impl FromStr for MacKey {
    type Err = CardSecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = CardSecret::Key.hex_digits(text)?;
        let mut key = [0; MacKey::LEN];
        for (byte, digits) in key.iter_mut().zip(text.as_bytes().chunks(2)) {
            let digits = std::str::from_utf8(digits).expect("checked hex digits");
            *byte = u8::from_str_radix(digits, 16).expect("checked hex digits");
        }
        Ok(Self(key))
    }
}

/// The issuer PIN that must be verified before the card takes a write: 4 to 16 hex digits, as in
/// the configuration file and `vcard --pin`. VERIFY carries the digits as ASCII characters,
/// upper case, so `ab12` and `AB12` are the same PIN everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerPin(String);

/// A PIN anyone can read in this source, like [`DEMO_KEY`]: for demos and tests only.
const DEMO_PIN: &str = "0000";

impl IssuerPin {
    pub const MIN_DIGITS: usize = 4;
    pub const MAX_DIGITS: usize = 16;

    /// The well-known demo PIN (see [`DEMO_PIN`]).
    pub fn demo() -> Self {
        Self(DEMO_PIN.to_owned())
    }

    /// The bytes VERIFY sends.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for IssuerPin {
    type Err = CardSecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = CardSecret::Pin.hex_digits(text)?;
        Ok(Self(text.to_ascii_uppercase()))
    }
}

/// A secret of the cards that the configuration file gives in hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardSecret {
    /// The [`MacKey`]: 64 digits.
    Key,
    /// The [`IssuerPin`]: 4 to 16 digits.
    Pin,
}

impl CardSecret {
    /// How many hex digits it has.
    fn lengths(self) -> RangeInclusive<usize> {
        match self {
            CardSecret::Key => 2 * MacKey::LEN..=2 * MacKey::LEN,
            CardSecret::Pin => IssuerPin::MIN_DIGITS..=IssuerPin::MAX_DIGITS,
        }
    }

    /// Its lengths as an error says them: "64", "4 to 16".
    fn lengths_said(self) -> String {
        let lengths = self.lengths();
        if lengths.start() == lengths.end() {
            lengths.start().to_string()
        } else {
            format!("{} to {}", lengths.start(), lengths.end())
        }
    }

    /// `text` without the white space around it (a secret kept in a file ends with a line
    /// break) when it is hex digits only, as many as this secret has. Checked digit by digit:
    /// `from_str_radix` would also take a sign.
    fn hex_digits(self, text: &str) -> Result<&str, CardSecretError> {
        let text = text.trim();
        if !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(CardSecretError::NotHex(self));
        }
        if !self.lengths().contains(&text.len()) {
            return Err(CardSecretError::Length(self, text.len()));
        }
        Ok(text)
    }
}

impl fmt::Display for CardSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CardSecret::Key => "card key",
            CardSecret::Pin => "issuer PIN",
        })
    }
}

/// Why the configuration file's card key or issuer PIN was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardSecretError {
    /// The secret, and how many digits it had.
    #[error("the {0} is {lengths} hex digits, not {1}", lengths = .0.lengths_said())]
    Length(CardSecret, usize),
    #[error("the {0} has hex digits only (0-9, a-f)")]
    NotHex(CardSecret),
}

/// Bytes a meter number takes on the card.
pub const METER_NUMBER_LEN: usize = 12;

/// A meter number as a card carries it: 1 to 12 printable ASCII characters. It may not end in a
/// space, because the card pads it with spaces and the padding would swallow it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MeterNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MeterNumberError {
    #[error("the meter number is empty")]
    Empty,
    #[error("a meter number on a card has at most 12 characters")]
    TooLong,
    #[error("a meter number on a card has printable ASCII characters only")]
    NotPrintableAscii,
    #[error("a meter number on a card cannot end with a space")]
    EndsWithSpace,
}

impl MeterNumber {
    pub fn new(text: &str) -> Result<Self, MeterNumberError> {
        Self::check(text.as_bytes())?;
        Ok(Self(text.to_owned()))
    }

    fn check(bytes: &[u8]) -> Result<(), MeterNumberError> {
        match bytes {
            [] => Err(MeterNumberError::Empty),
            _ if bytes.len() > METER_NUMBER_LEN => Err(MeterNumberError::TooLong),
            _ if !bytes.iter().all(|byte| (b' '..=b'~').contains(byte)) => {
                Err(MeterNumberError::NotPrintableAscii)
            }
            [.., b' '] => Err(MeterNumberError::EndsWithSpace),
            _ => Ok(()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn to_field(&self) -> [u8; METER_NUMBER_LEN] {
        let mut field = [b' '; METER_NUMBER_LEN];
        field[..self.0.len()].copy_from_slice(self.0.as_bytes());
        field
    }

    pub(super) fn from_field(field: &[u8]) -> Result<Self, MeterNumberError> {
        let end = field
            .iter()
            .rposition(|&byte| byte != b' ')
            .map_or(0, |last| last + 1);
        let text = &field[..end];
        Self::check(text)?;
        Ok(Self(
            String::from_utf8(text.to_vec()).expect("checked printable ASCII"),
        ))
    }
}

impl TryFrom<String> for MeterNumber {
    type Error = MeterNumberError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::check(text.as_bytes())?;
        Ok(Self(text))
    }
}

impl From<MeterNumber> for String {
    fn from(number: MeterNumber) -> Self {
        number.0
    }
}

impl fmt::Display for MeterNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why bytes read from an EF are not a record this system wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("a record is 32 bytes, this one {0}")]
    WrongLength(usize),
    #[error("unknown record format version {0}")]
    UnknownVersion(u8),
    #[error("not a user card (card kind {0})")]
    UnknownCardKind(u8),
    #[error("unknown issue flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("unknown purchase status {0}")]
    UnknownPurchaseStatus(u8),
    #[error("unknown meter status bits {0:#04x}")]
    UnknownMeterStatus(u8),
    #[error("the record's MAC does not verify: written outside this system, or for another card")]
    BadMac,
    #[error("bad meter number: {0}")]
    BadMeterNumber(MeterNumberError),
    #[error("reserved bytes are not zero")]
    NonzeroReserved,
}

/// The checks every record gets before its MAC: length, emptiness, version.
/// `Ok(None)` is an all-zero record.
pub(super) fn record_to_verify(bytes: &[u8]) -> Result<Option<&Record>, RecordError> {
    let record: &Record = bytes
        .try_into()
        .map_err(|_| RecordError::WrongLength(bytes.len()))?;
    if *record == EMPTY_RECORD {
        return Ok(None);
    }
    if record[0] != FORMAT_VERSION {
        return Err(RecordError::UnknownVersion(record[0]));
    }
    Ok(Some(record))
}

/// A record of a card whose number EF 0001 gave: the shared checks, its MAC for `ef`, and
/// zero in the reserved bytes after the first `used` ones. `Ok(None)` is an all-zero record.
pub(super) fn verified_record<'a>(
    bytes: &'a [u8],
    card_number: u32,
    ef: Ef,
    key: &MacKey,
    used: usize,
) -> Result<Option<&'a Record>, RecordError> {
    let Some(record) = record_to_verify(bytes)? else {
        return Ok(None);
    };
    key.verify(card_number, ef, record)?;
    reserved_bytes_are_zero(&record[used..SIGNED_LEN])?;
    Ok(Some(record))
}

/// The signed part of a new record: its format version, the rest zero.
pub(super) fn new_signed_bytes() -> SignedBytes {
    let mut signed = [0; SIGNED_LEN];
    signed[0] = FORMAT_VERSION;
    signed
}

fn reserved_bytes_are_zero(reserved: &[u8]) -> Result<(), RecordError> {
    match reserved.iter().all(|&byte| byte == 0) {
        true => Ok(()),
        false => Err(RecordError::NonzeroReserved),
    }
}

pub(super) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

pub(super) fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// EF 0002 and EF 0003: records signed for the card number EF 0001 gives, their fields in the
/// first 19 bytes, the rest of the signed part zero.
pub trait CardBoundRecord: Sized {
    const EF: Ef;

    /// Writes the fields into a new record's signed part.
    fn put_fields(&self, signed: &mut SignedBytes);

    /// Reads the fields of a verified record.
    fn from_fields(record: &Record) -> Result<Self, RecordError>;

    fn encode(&self, card_number: u32, key: &MacKey) -> Record {
        let mut signed = new_signed_bytes();
        self.put_fields(&mut signed);
        key.seal(card_number, Self::EF, signed)
    }

    /// `Ok(None)`: all zero, nothing written yet (no purchase, no meter has written back).
    fn decode(bytes: &[u8], card_number: u32, key: &MacKey) -> Result<Option<Self>, RecordError> {
        verified_record(bytes, card_number, Self::EF, key, 19)?
            .map(Self::from_fields)
            .transpose()
    }
}

/// EF 0001: who the card belongs to. Written by the counter at open and replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRecord {
    /// Assigned by the system, unique forever; every record's MAC includes it.
    pub card_number: u32,
    pub customer_number: u32,
    pub meter_number: MeterNumber,
    /// 1 at open, +1 at each replacement; a meter refuses generations below the one it knows.
    pub generation: u8,
    pub replacement: bool,
}

/// Issue flags: bit 0.
const REPLACEMENT_FLAG: u8 = 0x01;

impl IssueRecord {
    pub fn encode(&self, key: &MacKey) -> Record {
        let mut signed = new_signed_bytes();
        signed[1] = USER_CARD_KIND;
        put_u32(&mut signed, 2, self.card_number);
        put_u32(&mut signed, 6, self.customer_number);
        signed[10..22].copy_from_slice(&self.meter_number.to_field());
        signed[22] = self.generation;
        signed[23] = if self.replacement {
            REPLACEMENT_FLAG
        } else {
            0
        };
        key.seal(self.card_number, Ef::Issue, signed)
    }

    /// `Ok(None)`: all zero, a blank card.
    pub fn decode(bytes: &[u8], key: &MacKey) -> Result<Option<Self>, RecordError> {
        let Some(record) = record_to_verify(bytes)? else {
            return Ok(None);
        };
        if record[1] != USER_CARD_KIND {
            return Err(RecordError::UnknownCardKind(record[1]));
        }
        // EF 0001 is the record that says which card this is.
        let card_number = u32_at(record, 2);
        key.verify(card_number, Ef::Issue, record)?;
        if record[23] & !REPLACEMENT_FLAG != 0 {
            return Err(RecordError::UnknownFlags(record[23]));
        }
        Ok(Some(Self {
            card_number,
            customer_number: u32_at(record, 6),
            meter_number: MeterNumber::from_field(&record[10..22])
                .map_err(RecordError::BadMeterNumber)?,
            generation: record[22],
            replacement: record[23] & REPLACEMENT_FLAG != 0,
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PurchaseStatus {
    Valid,
    /// Refunded at the counter: the meter loads nothing.
    Cancelled,
}

impl PurchaseStatus {
    fn to_byte(self) -> u8 {
        match self {
            PurchaseStatus::Valid => 1,
            PurchaseStatus::Cancelled => 2,
        }
    }

    fn from_byte(byte: u8) -> Result<Self, RecordError> {
        match byte {
            1 => Ok(PurchaseStatus::Valid),
            2 => Ok(PurchaseStatus::Cancelled),
            other => Err(RecordError::UnknownPurchaseStatus(other)),
        }
    }
}

/// EF 0002: a purchase on its way to the meter. Written by the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRecord {
    /// Per customer, +1 per purchase, never reused: the meter loads each number once.
    pub sequence: u32,
    pub volume_litres: u32,
    /// The card generation it was written for; a meter loads it only for a generation at least
    /// the one it has registered.
    pub generation: u8,
    pub status: PurchaseStatus,
    /// Unix seconds when the purchase was made; a refund or a replacement card keeps it.
    pub written_at: u32,
    /// Bytes 15–18: a card number the meter must refuse from now on (the card this one
    /// replaced: lost or damaged), carried by a replacement card's first purchase record
    /// (docs/card-records.md); 0 on the card, `None` here, for none.
    #[serde(default)]
    pub blacklisted_card: Option<u32>,
}

impl CardBoundRecord for PurchaseRecord {
    const EF: Ef = Ef::Purchase;

    fn put_fields(&self, signed: &mut SignedBytes) {
        put_u32(signed, 1, self.sequence);
        put_u32(signed, 5, self.volume_litres);
        signed[9] = self.generation;
        signed[10] = self.status.to_byte();
        put_u32(signed, 11, self.written_at);
        put_u32(signed, 15, self.blacklisted_card.unwrap_or(0));
    }

    fn from_fields(record: &Record) -> Result<Self, RecordError> {
        Ok(Self {
            sequence: u32_at(record, 1),
            volume_litres: u32_at(record, 5),
            generation: record[9],
            status: PurchaseStatus::from_byte(record[10])?,
            written_at: u32_at(record, 11),
            blacklisted_card: Some(u32_at(record, 15)).filter(|&card| card != 0),
        })
    }
}

/// The meter's status byte in EF 0003.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterStatus {
    pub valve_closed: bool,
    pub low_battery: bool,
    pub tamper: bool,
    pub low_credit: bool,
}

impl MeterStatus {
    const VALVE_CLOSED: u8 = 1 << 0;
    const LOW_BATTERY: u8 = 1 << 1;
    const TAMPER: u8 = 1 << 2;
    const LOW_CREDIT: u8 = 1 << 3;
    const KNOWN: u8 = Self::VALVE_CLOSED | Self::LOW_BATTERY | Self::TAMPER | Self::LOW_CREDIT;

    fn to_byte(self) -> u8 {
        [
            (self.valve_closed, Self::VALVE_CLOSED),
            (self.low_battery, Self::LOW_BATTERY),
            (self.tamper, Self::TAMPER),
            (self.low_credit, Self::LOW_CREDIT),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .fold(0, |byte, (_, bit)| byte | bit)
    }

    fn from_byte(byte: u8) -> Result<Self, RecordError> {
        if byte & !Self::KNOWN != 0 {
            return Err(RecordError::UnknownMeterStatus(byte));
        }
        Ok(Self {
            valve_closed: byte & Self::VALVE_CLOSED != 0,
            low_battery: byte & Self::LOW_BATTERY != 0,
            tamper: byte & Self::TAMPER != 0,
            low_credit: byte & Self::LOW_CREDIT != 0,
        })
    }
}

/// EF 0003: the meter's state as of the card's last swipe. Written by the meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterWriteBack {
    pub last_loaded_sequence: u32,
    pub registered_generation: u8,
    pub credit_litres: u32,
    pub total_litres: u32,
    pub status: MeterStatus,
    /// Unix seconds of the swipe.
    pub written_at: u32,
}

impl CardBoundRecord for MeterWriteBack {
    const EF: Ef = Ef::MeterWriteBack;

    fn put_fields(&self, signed: &mut SignedBytes) {
        put_u32(signed, 1, self.last_loaded_sequence);
        signed[5] = self.registered_generation;
        put_u32(signed, 6, self.credit_litres);
        put_u32(signed, 10, self.total_litres);
        signed[14] = self.status.to_byte();
        put_u32(signed, 15, self.written_at);
    }

    fn from_fields(record: &Record) -> Result<Self, RecordError> {
        Ok(Self {
            last_loaded_sequence: u32_at(record, 1),
            registered_generation: record[5],
            credit_litres: u32_at(record, 6),
            total_litres: u32_at(record, 10),
            status: MeterStatus::from_byte(record[14])?,
            written_at: u32_at(record, 15),
        })
    }
}

/// A card of this system with a verified issue record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCard {
    pub issue: IssueRecord,
    pub purchase: Option<PurchaseRecord>,
    pub write_back: Option<MeterWriteBack>,
}

/// What a card with the WATER application holds. (A card without it is foreign too, but that
/// shows at SELECT, before any record is read.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardContent {
    /// EF 0001 is all zero, whatever the other EFs hold: the card may be opened.
    Blank,
    /// A record this system did not write: nothing is written to this card.
    Foreign {
        ef: Ef,
        error: RecordError,
    },
    User(UserCard),
}

impl CardContent {
    /// The three records as read, indexed by [`Ef::index`].
    pub fn classify<R: AsRef<[u8]>>(records: &[R; 3], key: &MacKey) -> Self {
        match Self::user_card(records, key) {
            Ok(Some(card)) => CardContent::User(card),
            Ok(None) => CardContent::Blank,
            Err((ef, error)) => CardContent::Foreign { ef, error },
        }
    }

    fn user_card<R: AsRef<[u8]>>(
        records: &[R; 3],
        key: &MacKey,
    ) -> Result<Option<UserCard>, (Ef, RecordError)> {
        let bytes = |ef: Ef| records[ef.index()].as_ref();
        let in_ef = |ef: Ef| move |error| (ef, error);
        let Some(issue) = IssueRecord::decode(bytes(Ef::Issue), key).map_err(in_ef(Ef::Issue))?
        else {
            return Ok(None);
        };
        let card_number = issue.card_number;
        Ok(Some(UserCard {
            purchase: PurchaseRecord::decode(bytes(Ef::Purchase), card_number, key)
                .map_err(in_ef(Ef::Purchase))?,
            write_back: MeterWriteBack::decode(bytes(Ef::MeterWriteBack), card_number, key)
                .map_err(in_ef(Ef::MeterWriteBack))?,
            issue,
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const CARD: u32 = 40_000_017;

    /// A change made to a record's signed bytes before it is sealed again.
    type Edit<'a> = dyn Fn(&mut SignedBytes) + 'a;

    pub(crate) fn meter_number(text: &str) -> MeterNumber {
        MeterNumber::new(text).unwrap()
    }

    pub(crate) fn issue(card_number: u32, generation: u8) -> IssueRecord {
        IssueRecord {
            card_number,
            customer_number: 10_023_457,
            meter_number: meter_number("WM-0042"),
            generation,
            replacement: generation > FIRST_GENERATION,
        }
    }

    /// A valid purchase of generation 1, made at the epoch, that blacklists no card.
    fn purchase(sequence: u32, volume_litres: u32) -> PurchaseRecord {
        PurchaseRecord {
            sequence,
            volume_litres,
            generation: FIRST_GENERATION,
            status: PurchaseStatus::Valid,
            written_at: 0,
            blacklisted_card: None,
        }
    }

    fn any_meter_number() -> impl Strategy<Value = MeterNumber> {
        "[ -~]{0,11}[!-~]".prop_map(|text| MeterNumber::new(&text).unwrap())
    }

    fn any_issue() -> impl Strategy<Value = IssueRecord> {
        (
            any::<u32>(),
            any::<u32>(),
            any_meter_number(),
            any::<u8>(),
            any::<bool>(),
        )
            .prop_map(
                |(card_number, customer_number, meter_number, generation, replacement)| {
                    IssueRecord {
                        card_number,
                        customer_number,
                        meter_number,
                        generation,
                        replacement,
                    }
                },
            )
    }

    fn any_purchase() -> impl Strategy<Value = PurchaseRecord> {
        let status = prop_oneof![Just(PurchaseStatus::Valid), Just(PurchaseStatus::Cancelled)];
        (
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            status,
            any::<u32>(),
            proptest::option::of(1..=u32::MAX),
        )
            .prop_map(
                |(sequence, volume_litres, generation, status, written_at, blacklisted_card)| {
                    PurchaseRecord {
                        sequence,
                        volume_litres,
                        generation,
                        status,
                        written_at,
                        blacklisted_card,
                    }
                },
            )
    }

    fn any_meter_status() -> impl Strategy<Value = MeterStatus> {
        any::<[bool; 4]>().prop_map(
            |[valve_closed, low_battery, tamper, low_credit]| MeterStatus {
                valve_closed,
                low_battery,
                tamper,
                low_credit,
            },
        )
    }

    fn any_write_back() -> impl Strategy<Value = MeterWriteBack> {
        (
            any::<u32>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any_meter_status(),
            any::<u32>(),
        )
            .prop_map(
                |(
                    last_loaded_sequence,
                    registered_generation,
                    credit_litres,
                    total_litres,
                    status,
                    written_at,
                )| MeterWriteBack {
                    last_loaded_sequence,
                    registered_generation,
                    credit_litres,
                    total_litres,
                    status,
                    written_at,
                },
            )
    }

    /// The three records of one card, encoded, with the card number their MACs carry.
    fn any_card_records() -> impl Strategy<Value = (u32, [Record; 3])> {
        (any_issue(), any_purchase(), any_write_back()).prop_map(|(issue, purchase, write_back)| {
            let key = MacKey::demo();
            let card_number = issue.card_number;
            let records = [
                issue.encode(&key),
                purchase.encode(card_number, &key),
                write_back.encode(card_number, &key),
            ];
            (card_number, records)
        })
    }

    /// Decodes the record of `ef`, checking its MAC against `card_number`, and encodes it again.
    fn decode_and_encode(
        ef: Ef,
        bytes: &[u8],
        card_number: u32,
    ) -> Result<Option<Record>, RecordError> {
        let key = MacKey::demo();
        Ok(match ef {
            Ef::Issue => IssueRecord::decode(bytes, &key)?.map(|issue| issue.encode(&key)),
            Ef::Purchase => PurchaseRecord::decode(bytes, card_number, &key)?
                .map(|purchase| purchase.encode(card_number, &key)),
            Ef::MeterWriteBack => MeterWriteBack::decode(bytes, card_number, &key)?
                .map(|write_back| write_back.encode(card_number, &key)),
        })
    }

    #[test]
    fn issue_record_bytes_match_card_md() {
        let record = issue(0x0102_0304, 2).encode(&MacKey::demo());
        assert_eq!(record[..10], [1, 1, 1, 2, 3, 4, 0x00, 0x98, 0xF2, 0x21]);
        assert_eq!(&record[10..22], b"WM-0042     ");
        assert_eq!(record[22..24], [2, 1]);
    }

    #[test]
    fn purchase_and_write_back_bytes_match_card_md() {
        let key = MacKey::demo();
        let purchase = PurchaseRecord {
            sequence: 7,
            volume_litres: 10_000,
            generation: 1,
            status: PurchaseStatus::Cancelled,
            written_at: 0x6500_0000,
            blacklisted_card: None,
        };
        let record = purchase.encode(CARD, &key);
        assert_eq!(
            record[..24],
            [
                1, 0, 0, 0, 7, 0, 0, 0x27, 0x10, 1, 2, 0x65, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        let write_back = MeterWriteBack {
            last_loaded_sequence: 7,
            registered_generation: 3,
            credit_litres: 0x0102,
            total_litres: 0x0A0B,
            status: MeterStatus {
                valve_closed: true,
                low_credit: true,
                ..MeterStatus::default()
            },
            written_at: 0x6500_0001,
        };
        let record = write_back.encode(CARD, &key);
        assert_eq!(
            record[..24],
            [
                1, 0, 0, 0, 7, 3, 0, 0, 1, 2, 0, 0, 0x0A, 0x0B, 0b1001, 0x65, 0, 0, 1, 0, 0, 0, 0,
                0
            ]
        );
    }

    #[test]
    fn the_mac_is_the_first_8_bytes_of_hmac_sha256_over_card_number_ef_and_record() {
        // An independent computation of card.md's formula, so the layout of the MAC input is
        // pinned down and not only self-consistent.
        let key = MacKey::demo();
        let record = purchase(1, 1000).encode(CARD, &key);
        let mut input = CARD.to_be_bytes().to_vec();
        input.extend_from_slice(&[0x00, 0x02]);
        input.extend_from_slice(&record[..24]);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&DEMO_KEY).unwrap();
        mac.update(&input);
        assert_eq!(record[24..], mac.finalize().into_bytes()[..8]);
    }

    #[test]
    fn all_zero_records_mean_blank_no_purchase_and_nothing_written_back() {
        let key = MacKey::demo();
        assert_eq!(IssueRecord::decode(&EMPTY_RECORD, &key), Ok(None));
        assert_eq!(PurchaseRecord::decode(&EMPTY_RECORD, CARD, &key), Ok(None));
        assert_eq!(MeterWriteBack::decode(&EMPTY_RECORD, CARD, &key), Ok(None));
    }

    #[test]
    fn every_malformed_record_says_why() {
        let key = MacKey::demo();
        let good = issue(CARD, 1);
        let resealed = |edit: &Edit<'_>| {
            let mut signed: SignedBytes = good.encode(&key)[..SIGNED_LEN].try_into().unwrap();
            edit(&mut signed);
            key.seal(CARD, Ef::Issue, signed)
        };
        let decode = |record: &Record| IssueRecord::decode(record, &key);

        assert_eq!(
            IssueRecord::decode(&[0; 31], &key),
            Err(RecordError::WrongLength(31))
        );
        assert_eq!(
            PurchaseRecord::decode(&[0; 33], CARD, &key),
            Err(RecordError::WrongLength(33))
        );
        // Each case: a byte or field of a properly sealed record changed, and why it is refused.
        let edited: [(&Edit<'_>, RecordError); 6] = [
            (&|signed| signed[0] = 2, RecordError::UnknownVersion(2)),
            (&|signed| signed[1] = 2, RecordError::UnknownCardKind(2)),
            (&|signed| signed[23] = 0x03, RecordError::UnknownFlags(0x03)),
            (
                &|signed| signed[12] = 0xE9,
                RecordError::BadMeterNumber(MeterNumberError::NotPrintableAscii),
            ),
            (
                &|signed| signed[10..22].fill(b' '),
                RecordError::BadMeterNumber(MeterNumberError::Empty),
            ),
            (
                &|signed| signed[11] = 0,
                RecordError::BadMeterNumber(MeterNumberError::NotPrintableAscii),
            ),
        ];
        for (edit, refused) in edited {
            assert_eq!(decode(&resealed(edit)), Err(refused));
        }
        let mut forged = good.encode(&key);
        forged[6] ^= 1;
        assert_eq!(decode(&forged), Err(RecordError::BadMac));
    }

    #[test]
    fn purchase_and_write_back_refuse_unknown_values_and_reserved_bytes() {
        let key = MacKey::demo();
        let seal = |ef, edit: &Edit<'_>| {
            let mut signed = [0; SIGNED_LEN];
            signed[0] = FORMAT_VERSION;
            signed[10] = 1;
            edit(&mut signed);
            key.seal(CARD, ef, signed)
        };
        let purchase =
            |edit: &Edit<'_>| PurchaseRecord::decode(&seal(Ef::Purchase, edit), CARD, &key);
        let write_back =
            |edit: &Edit<'_>| MeterWriteBack::decode(&seal(Ef::MeterWriteBack, edit), CARD, &key);
        assert!(purchase(&|_| ()).unwrap().is_some());
        for status in [0, 3, 0xFF] {
            assert_eq!(
                purchase(&|signed| signed[10] = status),
                Err(RecordError::UnknownPurchaseStatus(status))
            );
        }
        for reserved in 19..SIGNED_LEN {
            assert_eq!(
                purchase(&|signed| signed[reserved] = 1),
                Err(RecordError::NonzeroReserved)
            );
        }
        // Bytes 15–18: the card number a replacement card blacklists.
        let blacklisting = purchase(&|signed| signed[18] = 7).unwrap().unwrap();
        assert_eq!(blacklisting.blacklisted_card, Some(7));
        assert_eq!(purchase(&|_| ()).unwrap().unwrap().blacklisted_card, None);
        assert!(write_back(&|_| ()).unwrap().is_some());
        assert_eq!(
            write_back(&|signed| signed[14] = 0x10),
            Err(RecordError::UnknownMeterStatus(0x10))
        );
        for reserved in 19..SIGNED_LEN {
            assert_eq!(
                write_back(&|signed| signed[reserved] = 1),
                Err(RecordError::NonzeroReserved)
            );
        }
    }

    #[test]
    fn a_record_is_tied_to_its_ef() {
        let key = MacKey::demo();
        let purchase = purchase(1, 0).encode(CARD, &key);
        assert_eq!(
            MeterWriteBack::decode(&purchase, CARD, &key),
            Err(RecordError::BadMac)
        );
    }

    #[test]
    fn another_key_makes_every_record_foreign() {
        let other: MacKey = "00".repeat(32).parse().unwrap();
        let record = issue(CARD, 1).encode(&MacKey::demo());
        assert_eq!(
            IssueRecord::decode(&record, &other),
            Err(RecordError::BadMac)
        );
    }

    #[test]
    fn mac_keys_are_64_hex_digits_and_never_printed() {
        let hex: String = DEMO_KEY.iter().map(|byte| format!("{byte:02X}")).collect();
        assert_eq!(hex.parse::<MacKey>(), Ok(MacKey::demo()));
        assert_eq!(
            format!(" {} ", hex.to_lowercase()).parse(),
            Ok(MacKey::demo())
        );
        assert_eq!(
            "abc".parse::<MacKey>(),
            Err(CardSecretError::Length(CardSecret::Key, 3))
        );
        assert_eq!(
            "g".repeat(64).parse::<MacKey>(),
            Err(CardSecretError::NotHex(CardSecret::Key))
        );
        assert_eq!(
            "+1".repeat(32).parse::<MacKey>(),
            Err(CardSecretError::NotHex(CardSecret::Key))
        );
        assert_eq!(
            "é".repeat(32).parse::<MacKey>(),
            Err(CardSecretError::NotHex(CardSecret::Key))
        );
        assert_eq!(format!("{:?}", MacKey::demo()), "MacKey(..)");
    }

    #[test]
    fn issuer_pins_are_4_to_16_hex_digits_sent_as_upper_case_ascii() {
        let pin: IssuerPin = "24680".parse().unwrap();
        assert_eq!(pin.as_bytes(), b"24680");
        assert_eq!(
            "ab12".parse::<IssuerPin>().unwrap(),
            "AB12".parse().unwrap()
        );
        assert_eq!("ab12".parse::<IssuerPin>().unwrap().as_bytes(), b"AB12");
        for kept_in_a_file in [" 24680", "24680\n", "\t24680\r\n"] {
            assert_eq!(kept_in_a_file.parse::<IssuerPin>(), Ok(pin.clone()));
        }
        assert_eq!(
            "123".parse::<IssuerPin>(),
            Err(CardSecretError::Length(CardSecret::Pin, 3))
        );
        assert_eq!(
            "1".repeat(17).parse::<IssuerPin>(),
            Err(CardSecretError::Length(CardSecret::Pin, 17))
        );
        assert_eq!(
            "12 34".parse::<IssuerPin>(),
            Err(CardSecretError::NotHex(CardSecret::Pin))
        );
        assert_eq!(format!("{:?}", IssuerPin::demo()), "IssuerPin(..)");
    }

    #[test]
    fn a_refused_card_secret_says_which_and_how_many_digits() {
        let refused = [
            (
                "abc".parse::<MacKey>().map(drop),
                "the card key is 64 hex digits, not 3",
            ),
            (
                "g".parse::<MacKey>().map(drop),
                "the card key has hex digits only (0-9, a-f)",
            ),
            (
                "123".parse::<IssuerPin>().map(drop),
                "the issuer PIN is 4 to 16 hex digits, not 3",
            ),
            (
                "1 2".parse::<IssuerPin>().map(drop),
                "the issuer PIN has hex digits only (0-9, a-f)",
            ),
        ];
        for (parsed, said) in refused {
            assert_eq!(parsed.unwrap_err().to_string(), said);
        }
    }

    #[test]
    fn meter_numbers_fit_the_card() {
        assert_eq!(meter_number("123456789012").as_str(), "123456789012");
        assert_eq!(meter_number("A B").to_string(), "A B");
        for (text, refused) in [
            ("", MeterNumberError::Empty),
            ("1234567890123", MeterNumberError::TooLong),
            ("WM\u{7}1", MeterNumberError::NotPrintableAscii),
            ("水表1", MeterNumberError::NotPrintableAscii),
            ("WM1 ", MeterNumberError::EndsWithSpace),
        ] {
            assert_eq!(MeterNumber::new(text), Err(refused), "{text:?}");
        }
    }

    #[test]
    fn a_card_is_blank_foreign_or_a_user_card() {
        let key = MacKey::demo();
        let user = issue(CARD, 1).encode(&key);
        let purchase = purchase(3, 5000);
        let classify = |records: [&[u8]; 3]| CardContent::classify(&records, &key);

        // Blank is about EF 0001 only: leftovers elsewhere are overwritten at open.
        assert_eq!(
            classify([&EMPTY_RECORD, &[0xFF; 32], &[1; 7]]),
            CardContent::Blank
        );
        assert_eq!(
            classify([&user, &EMPTY_RECORD, &EMPTY_RECORD]),
            CardContent::User(UserCard {
                issue: issue(CARD, 1),
                purchase: None,
                write_back: None,
            })
        );
        assert_eq!(
            classify([&user, &purchase.encode(CARD, &key), &EMPTY_RECORD]),
            CardContent::User(UserCard {
                issue: issue(CARD, 1),
                purchase: Some(purchase.clone()),
                write_back: None,
            })
        );
        assert_eq!(
            classify([&[0xFF; 32], &EMPTY_RECORD, &EMPTY_RECORD]),
            CardContent::Foreign {
                ef: Ef::Issue,
                error: RecordError::UnknownVersion(0xFF)
            }
        );
        // Another card's purchase copied onto this one.
        assert_eq!(
            classify([&user, &purchase.encode(CARD + 1, &key), &EMPTY_RECORD]),
            CardContent::Foreign {
                ef: Ef::Purchase,
                error: RecordError::BadMac
            }
        );
        assert_eq!(
            classify([&user, &EMPTY_RECORD, &[0; 16]]),
            CardContent::Foreign {
                ef: Ef::MeterWriteBack,
                error: RecordError::WrongLength(16)
            }
        );
    }

    #[test]
    fn meter_numbers_are_checked_when_read_from_a_file() {
        #[derive(Deserialize)]
        struct Meter {
            number: MeterNumber,
        }
        let meter: Meter = toml::from_str("number = 'WM-1'").unwrap();
        assert_eq!(meter.number, meter_number("WM-1"));
        assert!(toml::from_str::<Meter>("number = 'WM-1 '").is_err());
    }

    proptest! {
        #[test]
        fn every_record_round_trips(
            issue in any_issue(),
            purchase in any_purchase(),
            write_back in any_write_back(),
            card_number in any::<u32>(),
        ) {
            let key = MacKey::demo();
            prop_assert_eq!(IssueRecord::decode(&issue.encode(&key), &key), Ok(Some(issue)));
            prop_assert_eq!(
                PurchaseRecord::decode(&purchase.encode(card_number, &key), card_number, &key),
                Ok(Some(purchase))
            );
            prop_assert_eq!(
                MeterWriteBack::decode(&write_back.encode(card_number, &key), card_number, &key),
                Ok(Some(write_back))
            );
        }

        #[test]
        fn flipping_any_bit_of_any_record_is_detected(
            (card_number, records) in any_card_records(),
            ef in proptest::sample::select(Ef::ALL.to_vec()),
            bit in 0..RECORD_LEN * 8,
        ) {
            let record = records[ef.index()];
            prop_assert_eq!(decode_and_encode(ef, &record, card_number), Ok(Some(record)));
            let mut tampered = record;
            tampered[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode_and_encode(ef, &tampered, card_number).is_err());
        }

        #[test]
        fn a_record_copied_to_another_card_does_not_verify(
            (card_number, records) in any_card_records(),
            other_card in any::<u32>(),
        ) {
            prop_assume!(other_card != card_number);
            for ef in [Ef::Purchase, Ef::MeterWriteBack] {
                prop_assert_eq!(
                    decode_and_encode(ef, &records[ef.index()], other_card),
                    Err(RecordError::BadMac)
                );
            }
        }

        #[test]
        fn whatever_decodes_encodes_to_the_same_bytes(
            (card_number, records) in any_card_records(),
            ef in proptest::sample::select(Ef::ALL.to_vec()),
            position in 0..SIGNED_LEN,
            byte in any::<u8>(),
        ) {
            // Any byte of a properly signed record set to anything: strict decoding is what lets
            // the journal compare records as bytes.
            let mut signed: SignedBytes = records[ef.index()][..SIGNED_LEN].try_into().unwrap();
            signed[position] = byte;
            let card_number = match ef {
                Ef::Issue => u32_at(&signed, 2),
                _ => card_number,
            };
            let record = MacKey::demo().seal(card_number, ef, signed);
            match decode_and_encode(ef, &record, card_number) {
                Ok(again) => prop_assert_eq!(again, Some(record)),
                Err(error) => prop_assert_ne!(error, RecordError::BadMac),
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            records in proptest::array::uniform3(proptest::collection::vec(any::<u8>(), 0..40)),
            card_number in any::<u32>(),
        ) {
            for ef in Ef::ALL {
                let _ = decode_and_encode(ef, &records[ef.index()], card_number);
            }
            let _ = CardContent::classify(&records, &MacKey::demo());
        }
    }
}
