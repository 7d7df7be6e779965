//! The card profile of card.md: the WATER application on an ISO 7816-4 CPU card (T=1).
//!
//! A profile knows what to send to a card and where the records live; it does no I/O. The reader
//! thread only moves bytes, so a second profile (SLE4442 memory cards behind CLA FF
//! pseudo-APDUs) can sit next to this one without touching the thread or the screens.
//!
//! Its operations ([`read_card`], [`write_plan`], and a card session's steps,
//! [`read_card_and_pin_tries`], [`verify`], then [`write_in_session`]) are sequences of APDUs
//! over an [`Exchange`]: the reader thread runs them against the card, unit tests against the
//! virtual card.

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

/// SELECT by DF name with its FCI asked back (P2 = 00): the application's FCI carries the
/// issuer PIN's tries left ([`fci`]), so no command of its own asks them before a write.
pub fn select_application() -> CommandApdu {
    CommandApdu::new(0x00, ins::SELECT, 0x04, 0x00)
        .with_data(AID)
        .with_le(256)
}

/// BER-TLV tags of the application's FCI (docs/card-records.md, "The SELECT answer").
const FCI_TEMPLATE: [u8; 1] = [0x6F];
const DF_NAME: [u8; 1] = [0x84];
const PROPRIETARY_TEMPLATE: [u8; 1] = [0xA5];
/// EMV's PIN Try Counter: one byte, the tries left (0: blocked).
const PIN_TRY_COUNTER: [u8; 2] = [0x9F, 0x17];

/// The FCI the application answers SELECT with: `6F { 84 AID, A5 { 9F17 tries } }`.
pub fn fci(pin_tries_left: u8) -> Vec<u8> {
    let tlv = |tag: &[u8], value: &[u8]| {
        let length = u8::try_from(value.len()).expect("a short data object");
        [tag, &[length], value].concat()
    };
    let proprietary = tlv(
        &PROPRIETARY_TEMPLATE,
        &tlv(&PIN_TRY_COUNTER, &[pin_tries_left]),
    );
    tlv(&FCI_TEMPLATE, &[tlv(&DF_NAME, &AID), proprietary].concat())
}

/// The issuer PIN's tries in SELECT's answer; `None` when the FCI does not carry them (a card
/// that gives no FCI, or another layout): they are then asked with [`ask_pin_tries`].
pub fn pin_tries_in_fci(answer: &[u8]) -> Option<PinTries> {
    let template = data_object(answer, &FCI_TEMPLATE)?;
    let proprietary = data_object(template, &PROPRIETARY_TEMPLATE)?;
    match data_object(proprietary, &PIN_TRY_COUNTER)? {
        [0] => Some(PinTries::Blocked),
        &[tries] => Some(PinTries::Left(tries)),
        _ => None,
    }
}

/// The value of the first data object tagged `tag` among `objects` (BER-TLV with tags of one
/// or two bytes and short lengths, all this FCI uses); `None` if absent or malformed.
fn data_object<'a>(mut objects: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    const MORE_TAG_BYTES: u8 = 0x1F;
    while let Some(&first) = objects.first() {
        let tag_length = if first & MORE_TAG_BYTES == MORE_TAG_BYTES {
            2
        } else {
            1
        };
        let length = usize::from(*objects.get(tag_length)?);
        if length >= 0x80 {
            return None;
        }
        let start = tag_length + 1;
        let value = objects.get(start..start + length)?;
        if &objects[..tag_length] == tag {
            return Some(value);
        }
        objects = &objects[start + length..];
    }
    None
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

/// The application selected, and what its answer said of the PIN.
struct Selected {
    pin_tries: Option<PinTries>,
}

impl Selected {
    /// The PIN's tries: from SELECT's answer, else asked (one APDU more).
    fn pin_tries(self, card: &mut dyn Exchange) -> Result<PinTries, CardError> {
        match self.pin_tries {
            Some(tries) => Ok(tries),
            None => PinTries::ask(card),
        }
    }
}

/// SELECT of the application; `None` for a card without it (foreign).
fn select(card: &mut dyn Exchange) -> Result<Option<Selected>, CardError> {
    let answer = card.exchange(&select_application())?;
    Ok(answer.status.is_success().then(|| Selected {
        pin_tries: pin_tries_in_fci(&answer.data),
    }))
}

/// SELECT, then one READ BINARY by SFI per EF: 4 APDUs, the fewest this card allows, since an
/// EF is read whole by one command and no command reads two.
pub fn read_card(card: &mut dyn Exchange) -> Result<CardRead, CardError> {
    Ok(match read_card_and_fci_tries(card)? {
        Some((records, _)) => CardRead::Application(records),
        None => CardRead::NoApplication,
    })
}

/// The records of a card, and its issuer PIN's tries when SELECT's answer carries them (no
/// APDU more than [`read_card`]; `None` from a card whose FCI does not): what the card pane
/// shows, so a clerk sees a card one wrong PIN from locked before typing a recharge. `None`
/// for a card without the application (foreign).
pub fn read_card_and_fci_tries(card: &mut dyn Exchange) -> Result<RecordsAndFciTries, CardError> {
    let Some(selected) = select(card)? else {
        return Ok(None);
    };
    Ok(Some((read_records(card)?, selected.pin_tries)))
}

/// The records of a card and the PIN's tries its SELECT answer gave, if any; `None` for one
/// without the application.
pub type RecordsAndFciTries = Option<([Record; 3], Option<PinTries>)>;

/// The records and the PIN's tries of a card; `None` for one without the application.
pub type RecordsAndPinTries = Option<([Record; 3], PinTries)>;

/// [`read_card`] with the PIN's tries from SELECT's answer (4 APDUs; 5 with a card whose FCI
/// does not carry them): what a write reads first, so that one the card cannot authorize is
/// refused before it is journaled. `None` for a card without the application (foreign).
pub fn read_card_and_pin_tries(card: &mut dyn Exchange) -> Result<RecordsAndPinTries, CardError> {
    let Some(selected) = select(card)? else {
        return Ok(None);
    };
    let tries = selected.pin_tries(card)?;
    Ok(Some((read_records(card)?, tries)))
}

/// SELECT (its answer giving the PIN's tries: the PIN is never presented to a card with fewer
/// than [`TRIES_TO_PRESENT_THE_PIN`] left), VERIFY of the issuer PIN, one UPDATE BINARY per
/// write in the plan's order, then the three records read back: a write is known to have
/// happened only when the card shows it. For a plan whose card was not read in the same
/// operation; one that was is written by [`write_in_session`].
/// Any refusal or lost card stops the sequence with an error, so the writes made so far are
/// always a prefix of the plan's, and the caller resolves the plan from the card.
pub fn write_plan(
    card: &mut dyn Exchange,
    plan: &CardWritePlan,
    pin: &IssuerPin,
) -> Result<[Record; 3], CardError> {
    let selected = select(card)?.ok_or(CardError::NoApplication)?;
    let tries = selected.pin_tries(card)?;
    verify(card, tries, pin)?;
    update(card, plan)?;
    read_records(card)
}

/// The second half of a card session: the card was selected and `read` (with its PIN's
/// `tries`) by [`read_card_and_pin_tries`] earlier in the same operation of the reader thread,
/// on the same connection and in the same PC/SC transaction, the database's decision between
/// them included, so nothing of ours or of another program's has reached it since; another
/// card would fail this write's first APDU. So no SELECT and no question of the tries:
/// VERIFY (none when `tries` says the session verified the PIN already, [`verify`] before the
/// decision), one UPDATE BINARY per write, and the decisive record read back (the others are
/// as read, with the preparatory writes the card accepted) — 3 APDUs for a recharge or a
/// refund, 2 after a [`verify`]. Errors and resolution as for [`write_plan`].
pub fn write_in_session(
    card: &mut dyn Exchange,
    read: &[Record; 3],
    tries: PinTries,
    plan: &CardWritePlan,
    pin: &IssuerPin,
) -> Result<[Record; 3], CardError> {
    verify(card, tries, pin)?;
    update(card, plan)?;
    let mut records = *read;
    for write in &plan.preparatory {
        records[write.ef.index()] = write.record;
    }
    let decisive = plan.decisive.ef;
    records[decisive.index()] = read_one(card, decisive)?;
    Ok(records)
}

/// VERIFY of the issuer PIN on the selected application whose PIN has `tries` (as its
/// SELECT or [`PinTries::ask`] said): nothing is sent to a card already verified in this
/// session, nor to one this desk may not present its PIN to ([`PinTries::may_present`], the
/// error says why). A card session's write verifies this way before the database journals
/// anything (`cardflow`): a card that refuses the PIN leaves nothing to take back.
pub fn verify(card: &mut dyn Exchange, tries: PinTries, pin: &IssuerPin) -> Result<(), CardError> {
    tries.may_present()?;
    if tries == PinTries::Verified {
        return Ok(());
    }
    match card.exchange(&verify_issuer_pin(pin.as_bytes()))?.status {
        StatusWord::SUCCESS => Ok(()),
        StatusWord::AUTHENTICATION_BLOCKED => Err(CardError::PinBlocked),
        status => Err(match status.tries_left() {
            Some(tries_left) => CardError::WrongPin { tries_left },
            None => refused("VERIFY", status),
        }),
    }
}

/// Ends the PIN's verification by selecting the application again (a SELECT ends the card's
/// verified PIN: ISO 7816-4, the virtual card too), for a session that verified it for a write
/// that did not come.
pub fn end_verification(card: &mut dyn Exchange) -> Result<(), CardError> {
    card.exchange(&select_application()).map(drop)
}

/// The plan's UPDATE BINARYs in order, the PIN verified.
fn update(card: &mut dyn Exchange, plan: &CardWritePlan) -> Result<(), CardError> {
    for write in plan.writes() {
        let status = card
            .exchange(&update_record(write.ef, &write.record))?
            .status;
        if !status.is_success() {
            return Err(refused(&describe("UPDATE BINARY", write.ef), status));
        }
    }
    Ok(())
}

/// The three EFs of the selected application.
fn read_records(card: &mut dyn Exchange) -> Result<[Record; 3], CardError> {
    let mut records = [[0; RECORD_LEN]; 3];
    for ef in Ef::ALL {
        records[ef.index()] = read_one(card, ef)?;
    }
    Ok(records)
}

fn read_one(card: &mut dyn Exchange, ef: Ef) -> Result<Record, CardError> {
    let ResponseApdu { data, status } = card.exchange(&read_record(ef))?;
    let command = || describe("READ BINARY", ef);
    if !status.is_success() {
        return Err(refused(&command(), status));
    }
    data.try_into()
        .map_err(|data: Vec<u8>| CardError::NotARecord {
            command: command(),
            length: data.len(),
        })
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

    /// A plan that writes over the purchase record of the card `read`.
    fn purchase_plan(read: &[Record; 3]) -> CardWritePlan {
        let mut purchase = read[Ef::Purchase.index()];
        purchase[0] ^= 0xFF;
        CardWritePlan {
            preparatory: Vec::new(),
            decisive: crate::domain::card_counter::DecisiveWrite {
                ef: Ef::Purchase,
                before: read[Ef::Purchase.index()],
                after: purchase,
            },
            issue_record: Some(read[Ef::Issue.index()]),
        }
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
            [SELECT, VERIFY, UPDATE_BINARY, UPDATE_BINARY, UPDATE_BINARY]
                .into_iter()
                .chain([READ_BINARY; 3])
                .collect::<Vec<_>>()
        );
    }

    /// A recharge's card session: SELECT and three READs, then VERIFY, the UPDATE and the
    /// decisive record read back — 7 APDUs; the card as it now is comes back whole.
    #[test]
    fn a_card_session_writes_after_its_read_with_no_select_and_one_read_back() {
        let mut card = InHand::new(Some(WaterApplication::blank()));
        let open = open_plan();
        write_plan(&mut card, &open, &pin()).unwrap();
        card.sent.clear();
        let (read, tries) = read_card_and_pin_tries(&mut card).unwrap().unwrap();
        assert_eq!(tries, PinTries::Left(3), "from SELECT's answer");
        let recharge = purchase_plan(&read);
        let now = write_in_session(&mut card, &read, tries, &recharge, &pin()).unwrap();
        assert_eq!(now, card.records());
        assert_eq!(recharge.resolve(&now), Resolution::Done);
        use ins::*;
        assert_eq!(
            card.sent,
            [
                SELECT,
                READ_BINARY,
                READ_BINARY,
                READ_BINARY,
                VERIFY,
                UPDATE_BINARY,
                READ_BINARY
            ]
        );
        // One try left at the read: nothing is sent.
        card.sent.clear();
        let refused = write_in_session(&mut card, &read, PinTries::Left(1), &recharge, &pin());
        assert!(matches!(refused, Err(CardError::LastPinTries { .. })));
        assert!(card.sent.is_empty());
    }

    /// The read for the screens gives the PIN's tries SELECT's answer carried, in the 4 APDUs
    /// of a plain read: one wrong PIN spent shows as 2 left.
    #[test]
    fn a_read_for_the_screens_takes_the_pin_tries_from_select_with_no_apdu_more() {
        let mut card = InHand::new(Some(WaterApplication::blank()));
        write_plan(&mut card, &open_plan(), &pin()).unwrap();
        let wrong = verify(&mut card, PinTries::Left(3), &"1357".parse().unwrap());
        assert!(matches!(wrong, Err(CardError::WrongPin { tries_left: 2 })));
        card.sent.clear();
        let (records, tries) = read_card_and_fci_tries(&mut card).unwrap().unwrap();
        assert_eq!((records, tries), (card.records(), Some(PinTries::Left(2))));
        use ins::*;
        assert_eq!(card.sent, [SELECT, READ_BINARY, READ_BINARY, READ_BINARY]);
    }

    /// A card session verifies before the database decides: a card that refuses the PIN has
    /// been sent nothing to write, and one that took it gets no second VERIFY at the write —
    /// still 7 APDUs for a recharge.
    #[test]
    fn a_card_session_verifies_before_the_decision_and_not_again_at_the_write() {
        let mut card = InHand::new(Some(WaterApplication::blank()));
        write_plan(&mut card, &open_plan(), &pin()).unwrap();
        card.sent.clear();
        let (read, tries) = read_card_and_pin_tries(&mut card).unwrap().unwrap();
        let wrong = verify(&mut card, tries, &"1357".parse().unwrap());
        assert!(matches!(wrong, Err(CardError::WrongPin { tries_left: 2 })));
        assert_eq!(card.card.application().unwrap().pin_tries_left, 2);
        assert_eq!(card.records(), read, "nothing written");

        card.sent.clear();
        verify(&mut card, tries, &pin()).unwrap();
        let recharge = purchase_plan(&read);
        let now = write_in_session(&mut card, &read, PinTries::Verified, &recharge, &pin());
        assert_eq!(recharge.resolve(&now.unwrap()), Resolution::Done);
        use ins::*;
        assert_eq!(card.sent, [VERIFY, UPDATE_BINARY, READ_BINARY]);
        // Not presented to a card with one try left, nor to a blocked one.
        card.sent.clear();
        for (tries, refused) in [
            (PinTries::Left(1), "LastPinTries"),
            (PinTries::Blocked, "PinBlocked"),
        ] {
            let error = verify(&mut card, tries, &pin()).unwrap_err();
            assert!(format!("{error:?}").starts_with(refused), "{error:?}");
        }
        assert!(card.sent.is_empty());
    }

    #[test]
    fn the_pin_tries_come_with_select_or_are_asked_of_a_card_that_does_not_give_them() {
        for (tries, told) in [
            (3, PinTries::Left(3)),
            (1, PinTries::Left(1)),
            (0, PinTries::Blocked),
        ] {
            assert_eq!(pin_tries_in_fci(&fci(tries)), Some(told));
        }
        assert_eq!(pin_tries_in_fci(&[]), None);
        assert_eq!(pin_tries_in_fci(&[0x6F, 0x02, 0x84, 0x00]), None);
        assert_eq!(pin_tries_in_fci(&[0x6F, 0x09, 0xA5]), None, "cut short");

        /// A card whose SELECT answers no FCI.
        struct NoFci(InHand);
        impl Exchange for NoFci {
            fn exchange(&mut self, command: &CommandApdu) -> Result<ResponseApdu, CardError> {
                let mut response = self.0.exchange(command)?;
                if command.ins == ins::SELECT {
                    response.data.clear();
                }
                Ok(response)
            }
        }
        let mut application = WaterApplication::blank();
        application.pin_tries_left = 2;
        let mut card = NoFci(InHand::new(Some(application)));
        let (_, tries) = read_card_and_pin_tries(&mut card).unwrap().unwrap();
        assert_eq!(tries, PinTries::Left(2));
        assert_eq!(
            card.0.sent[..2],
            [ins::SELECT, ins::VERIFY],
            "asked without a PIN"
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
        assert_eq!(card.sent, [ins::SELECT, ins::VERIFY]);
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
            assert_eq!(verifies, usize::from(presented), "{tries} tries");
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
            // SELECT, VERIFY and three UPDATEs: the decisive one is the fifth APDU.
            let expected = match apdus_left {
                0..5 => Resolution::Failed,
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
                0x00, 0xA4, 0x04, 0x00, 0x08, 0xF0, 0x57, 0x41, 0x54, 0x45, 0x52, 0x00, 0x01, 0x00
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
