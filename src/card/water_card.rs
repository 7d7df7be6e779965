//! The card profile of card.md: the WATER application on an ISO 7816-4 CPU card (T=1).
//!
//! A profile knows what to send to a card and where the records live; it does no I/O. The reader
//! thread only moves bytes, so a second profile (SLE4442 memory cards behind CLA FF
//! pseudo-APDUs) can sit next to this one without touching the thread or the screens.
//!
//! Its operations ([`read_card`], [`write_plan`]) are sequences of APDUs over an [`Exchange`]:
//! the reader thread runs them against the card, unit tests against the virtual card.

use super::apdu::{CardError, CommandApdu, Exchange, ResponseApdu, StatusWord, ins};
use crate::domain::card_counter::CardWritePlan;

/// The records' format is the domain's (card.md); the profile only says how to reach them.
pub use crate::domain::card_records::{Ef, IssuerPin, RECORD_LEN, Record};

/// 'F0' + "WATER" + 0001.
pub const AID: [u8; 8] = [0xF0, 0x57, 0x41, 0x54, 0x45, 0x52, 0x00, 0x01];

/// The issuer PIN's reference in VERIFY's P2: bit 8 set means "specific to the selected
/// application", which is where the PIN lives.
pub const ISSUER_PIN_REFERENCE: u8 = 0x81;

/// P1 of READ/UPDATE BINARY with bit 8 set carries an SFI in bits 5..1 (ISO 7816-4 §11.3.3).
const P1_SFI_FLAG: u8 = 0x80;

/// SELECT by DF name, asking for no FCI back (P2 = 0C): nothing reads it, and an FCI is what
/// made stock `vicc` crash.
pub fn select_application() -> CommandApdu {
    CommandApdu::new(0x00, ins::SELECT, 0x04, 0x0C).with_data(AID)
}

pub fn verify_issuer_pin(pin: &[u8]) -> CommandApdu {
    CommandApdu::new(0x00, ins::VERIFY, 0x00, ISSUER_PIN_REFERENCE).with_data(pin)
}

/// VERIFY without a data field: checks nothing, spends no try, and answers how many are left
/// (card.md; ISO 7816-4 §11.5.6).
pub fn ask_pin_tries() -> CommandApdu {
    CommandApdu::new(0x00, ins::VERIFY, 0x00, ISSUER_PIN_REFERENCE)
}

/// A desk presents its PIN only to a card with at least this many tries left: were the PIN
/// wrong, the card keeps one after it and cannot be blocked by this desk.
pub const TRIES_TO_PRESENT_THE_PIN: u8 = 2;

/// What the card says of its issuer PIN when asked without presenting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinTries {
    /// Already verified in this session.
    Verified,
    Left(u8),
    Blocked,
}

impl PinTries {
    /// Asks the selected application; spends no try.
    pub fn ask(card: &mut dyn Exchange) -> Result<PinTries, CardError> {
        let status = card.exchange(&ask_pin_tries())?.status;
        Ok(match status {
            StatusWord::SUCCESS => PinTries::Verified,
            StatusWord::AUTHENTICATION_BLOCKED => PinTries::Blocked,
            status => PinTries::Left(
                status
                    .tries_left()
                    .ok_or_else(|| refused("VERIFY (tries left)", status))?,
            ),
        })
    }

    /// Whether this desk may present its PIN; if not, the error says why and nothing is sent.
    pub fn may_present(self) -> Result<(), CardError> {
        match self {
            PinTries::Verified => Ok(()),
            PinTries::Left(tries) if tries >= TRIES_TO_PRESENT_THE_PIN => Ok(()),
            PinTries::Left(tries_left) => Err(CardError::LastPinTries { tries_left }),
            PinTries::Blocked => Err(CardError::PinBlocked),
        }
    }
}

/// Reads a whole record by SFI, so no SELECT of the EF is needed.
pub fn read_record(ef: Ef) -> CommandApdu {
    CommandApdu::new(0x00, ins::READ_BINARY, P1_SFI_FLAG | ef.sfi(), 0x00)
        .with_le(RECORD_LEN as u16)
}

/// Writes a whole record by SFI; the card refuses it until the issuer PIN is verified.
pub fn update_record(ef: Ef, record: &Record) -> CommandApdu {
    CommandApdu::new(0x00, ins::UPDATE_BINARY, P1_SFI_FLAG | ef.sfi(), 0x00)
        .with_data(record.as_slice())
}

/// What [`read_card`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardRead {
    /// The three records, indexed by [`Ef::index`]; `CardContent::classify` says what they are.
    Application([Record; 3]),
    /// The card refused to select the WATER application: a foreign card (card.md), which is
    /// neither read nor written.
    NoApplication,
}

/// SELECT, then one READ BINARY by SFI per EF: 4 APDUs, the fewest this card allows, since an
/// EF is read whole by one command and no command reads two.
pub fn read_card(card: &mut dyn Exchange) -> Result<CardRead, CardError> {
    if !card.exchange(&select_application())?.status.is_success() {
        return Ok(CardRead::NoApplication);
    }
    Ok(CardRead::Application(read_records(card)?))
}

/// The records and the PIN's tries of a card; `None` for one without the application.
pub type RecordsAndPinTries = Option<([Record; 3], PinTries)>;

/// [`read_card`] with the PIN's tries asked between SELECT and the reads (5 APDUs): what a
/// write reads first, so that one the card cannot authorize is refused before it is journaled.
/// `None` for a card without the application (foreign).
pub fn read_card_and_pin_tries(card: &mut dyn Exchange) -> Result<RecordsAndPinTries, CardError> {
    if !card.exchange(&select_application())?.status.is_success() {
        return Ok(None);
    }
    let tries = PinTries::ask(card)?;
    Ok(Some((read_records(card)?, tries)))
}

/// SELECT, the PIN's tries asked (the PIN is never presented to a card with fewer than
/// [`TRIES_TO_PRESENT_THE_PIN`] left), VERIFY of the issuer PIN, one UPDATE BINARY per write in
/// the plan's order, then the three records read back: a write is known to have happened only
/// when the card shows it.
/// Any refusal or lost card stops the sequence with an error, so the writes made so far are
/// always a prefix of the plan's, and the caller resolves the plan from the card.
pub fn write_plan(
    card: &mut dyn Exchange,
    plan: &CardWritePlan,
    pin: &IssuerPin,
) -> Result<[Record; 3], CardError> {
    if !card.exchange(&select_application())?.status.is_success() {
        return Err(CardError::NoApplication);
    }
    PinTries::ask(card)?.may_present()?;
    let verified = card.exchange(&verify_issuer_pin(pin.as_bytes()))?.status;
    match verified {
        StatusWord::SUCCESS => {}
        StatusWord::AUTHENTICATION_BLOCKED => return Err(CardError::PinBlocked),
        status => {
            return Err(match status.tries_left() {
                Some(tries_left) => CardError::WrongPin { tries_left },
                None => refused("VERIFY", status),
            });
        }
    }
    for write in plan.writes() {
        let status = card
            .exchange(&update_record(write.ef, &write.record))?
            .status;
        if !status.is_success() {
            return Err(refused(&describe("UPDATE BINARY", write.ef), status));
        }
    }
    read_records(card)
}

/// The three EFs of the selected application.
fn read_records(card: &mut dyn Exchange) -> Result<[Record; 3], CardError> {
    let mut records = [[0; RECORD_LEN]; 3];
    for ef in Ef::ALL {
        let ResponseApdu { data, status } = card.exchange(&read_record(ef))?;
        let command = || describe("READ BINARY", ef);
        if !status.is_success() {
            return Err(refused(&command(), status));
        }
        records[ef.index()] = data
            .try_into()
            .map_err(|data: Vec<u8>| CardError::NotARecord {
                command: command(),
                length: data.len(),
            })?;
    }
    Ok(records)
}

fn describe(command: &str, ef: Ef) -> String {
    format!("{command} of EF {:04X}", ef.file_id())
}

fn refused(command: &str, status: StatusWord) -> CardError {
    CardError::Refused {
        command: command.to_owned(),
        status,
    }
}

/// How a READ/UPDATE BINARY names its file and offset, as the card sees P1 P2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryTarget {
    /// P1 bit 8 set: this SFI, offset P2.
    ShortFileId { sfi: u8, offset: usize },
    /// P1 bit 8 clear: the currently selected EF, 15-bit offset.
    CurrentEf { offset: usize },
}

impl BinaryTarget {
    pub fn from_p1_p2(p1: u8, p2: u8) -> Self {
        if p1 & P1_SFI_FLAG != 0 {
            BinaryTarget::ShortFileId {
                sfi: p1 & 0x1F,
                offset: usize::from(p2),
            }
        } else {
            BinaryTarget::CurrentEf {
                offset: usize::from(u16::from_be_bytes([p1, p2])),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card_counter::{Resolution, plan_open};
    use crate::domain::card_records::{CardContent, MacKey, MeterNumber};
    use crate::tools::rig::virtual_card::{VirtualCard, WaterApplication};

    const PIN: &str = "24680";

    /// The virtual card without pcscd; it is pulled (answers nothing) after `apdus_left`.
    struct InHand {
        card: VirtualCard,
        apdus_left: usize,
        sent: Vec<u8>,
    }

    impl InHand {
        fn new(application: Option<WaterApplication>) -> Self {
            Self {
                card: VirtualCard::new(application, PIN.as_bytes().to_vec(), None),
                apdus_left: usize::MAX,
                sent: Vec::new(),
            }
        }

        fn records(&self) -> [Record; 3] {
            self.card.application().unwrap().records
        }
    }

    impl Exchange for InHand {
        fn exchange(&mut self, command: &CommandApdu) -> Result<ResponseApdu, CardError> {
            // What pcscd returns for a card pulled a moment ago: no status word.
            let Some(left) = self.apdus_left.checked_sub(1) else {
                return Ok(ResponseApdu::parse(&[])?);
            };
            self.apdus_left = left;
            self.sent.push(command.ins);
            Ok(self.card.respond(&command.to_bytes()?))
        }
    }

    fn open_plan() -> CardWritePlan {
        let meter = MeterNumber::new("WM-0042").unwrap();
        plan_open(
            &CardContent::Blank,
            40_000_017,
            10_023_457,
            meter,
            &MacKey::demo(),
        )
        .unwrap()
        .plan
    }

    fn pin() -> IssuerPin {
        PIN.parse().unwrap()
    }

    #[test]
    fn read_card_selects_then_reads_each_ef_once() {
        let mut card = InHand::new(Some(WaterApplication::blank()));
        assert_eq!(
            read_card(&mut card).unwrap(),
            CardRead::Application([[0; RECORD_LEN]; 3])
        );
        assert_eq!(
            card.sent,
            [
                ins::SELECT,
                ins::READ_BINARY,
                ins::READ_BINARY,
                ins::READ_BINARY
            ]
        );
        let mut foreign = InHand::new(None);
        assert_eq!(read_card(&mut foreign).unwrap(), CardRead::NoApplication);
        assert_eq!(foreign.sent, [ins::SELECT]);
    }

    #[test]
    fn write_plan_verifies_writes_in_order_and_reads_back() {
        let plan = open_plan();
        let mut card = InHand::new(Some(WaterApplication::blank()));
        let read_back = write_plan(&mut card, &plan, &pin()).unwrap();
        assert_eq!(read_back, card.records());
        assert_eq!(plan.resolve(&read_back), Resolution::Done);
        use ins::*;
        assert_eq!(
            card.sent,
            [
                SELECT,
                VERIFY,
                VERIFY,
                UPDATE_BINARY,
                UPDATE_BINARY,
                UPDATE_BINARY
            ]
            .into_iter()
            .chain([READ_BINARY; 3])
            .collect::<Vec<_>>()
        );
    }

    #[test]
    fn write_plan_stops_at_the_first_refusal() {
        let plan = open_plan();
        let mut card = InHand::new(Some(WaterApplication::blank()));
        assert!(matches!(
            write_plan(&mut card, &plan, &"1357".parse().unwrap()),
            Err(CardError::WrongPin { tries_left: 2 })
        ));
        assert_eq!(card.sent, [ins::SELECT, ins::VERIFY, ins::VERIFY]);
        assert!(matches!(
            write_plan(&mut InHand::new(None), &plan, &pin()),
            Err(CardError::NoApplication)
        ));
        let mut blocked = WaterApplication::blank();
        blocked.pin_tries_left = 0;
        assert!(matches!(
            write_plan(&mut InHand::new(Some(blocked)), &plan, &pin()),
            Err(CardError::PinBlocked)
        ));
    }

    #[test]
    fn the_pin_is_never_presented_to_a_card_with_one_try_left() {
        let plan = open_plan();
        for (tries, presented) in [(3, true), (2, true), (1, false), (0, false)] {
            let mut application = WaterApplication::blank();
            application.pin_tries_left = tries;
            let mut card = InHand::new(Some(application));
            let asked = read_card_and_pin_tries(&mut card).unwrap().unwrap().1;
            let written = write_plan(&mut card, &plan, &"1357".parse().unwrap());
            let verifies = card
                .sent
                .iter()
                .filter(|&&sent| sent == ins::VERIFY)
                .count();
            assert_eq!(verifies, if presented { 3 } else { 2 }, "{tries} tries");
            match tries {
                0 => assert!(matches!(written, Err(CardError::PinBlocked))),
                1 => assert!(matches!(
                    written,
                    Err(CardError::LastPinTries { tries_left: 1 })
                )),
                _ => assert!(matches!(written, Err(CardError::WrongPin { .. }))),
            }
            assert_eq!(asked.may_present().is_ok(), presented, "{tries} tries");
            let left = card.card.application().unwrap().pin_tries_left;
            assert_eq!(left, if presented { tries - 1 } else { tries });
        }
    }

    #[test]
    fn a_card_pulled_at_any_apdu_is_an_error_and_resolves_from_what_it_holds() {
        let plan = open_plan();
        let all = InHand::new(Some(WaterApplication::blank()));
        let mut complete = all;
        write_plan(&mut complete, &plan, &pin()).unwrap();
        for apdus_left in 0..complete.sent.len() {
            let mut card = InHand::new(Some(WaterApplication::blank()));
            card.apdus_left = apdus_left;
            assert!(
                matches!(
                    write_plan(&mut card, &plan, &pin()),
                    Err(CardError::Apdu(_))
                ),
                "pulled after {apdus_left} APDUs"
            );
            // SELECT, two VERIFYs and three UPDATEs: the decisive one is the sixth APDU.
            let expected = match apdus_left {
                0..6 => Resolution::Failed,
                _ => Resolution::Done,
            };
            assert_eq!(
                plan.resolve(&card.records()),
                expected,
                "after {apdus_left}"
            );
        }
    }

    #[test]
    fn commands_match_card_md() {
        assert_eq!(
            select_application().to_bytes().unwrap(),
            [
                0x00, 0xA4, 0x04, 0x0C, 0x08, 0xF0, 0x57, 0x41, 0x54, 0x45, 0x52, 0x00, 0x01
            ]
        );
        assert_eq!(
            read_record(Ef::MeterWriteBack).to_bytes().unwrap(),
            [0x00, 0xB0, 0x83, 0x00, 0x20]
        );
        let update = update_record(Ef::Purchase, &[0x11; RECORD_LEN])
            .to_bytes()
            .unwrap();
        assert_eq!(update[..5], [0x00, 0xD6, 0x82, 0x00, 0x20]);
        assert_eq!(update.len(), 5 + RECORD_LEN);
        assert_eq!(
            verify_issuer_pin(b"1234").to_bytes().unwrap(),
            [0x00, 0x20, 0x00, 0x81, 0x04, b'1', b'2', b'3', b'4']
        );
    }

    #[test]
    fn the_card_reads_back_what_the_counter_addresses() {
        for ef in Ef::ALL {
            let command = read_record(ef);
            assert_eq!(
                BinaryTarget::from_p1_p2(command.p1, command.p2),
                BinaryTarget::ShortFileId {
                    sfi: ef.sfi(),
                    offset: 0
                }
            );
            assert_eq!(Ef::from_sfi(ef.sfi()), Some(ef));
            assert_eq!(Ef::from_file_id(ef.file_id()), Some(ef));
        }
        assert_eq!(
            BinaryTarget::from_p1_p2(0x01, 0x02),
            BinaryTarget::CurrentEf { offset: 0x0102 }
        );
        assert_eq!(Ef::from_sfi(4), None);
    }
}
