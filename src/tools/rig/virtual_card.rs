//! An emulated card of card.md, for the test rig and for trying the app without hardware.
//!
//! It answers APDUs like the real card would, with ISO 7816-4 status words for every refusal,
//! and can keep its EFs in a state file so that killing the process pulls the card and starting
//! it again reinserts the same card. [`super::vpcd`] connects it to pcscd.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::card::apdu::{CommandApdu, ResponseApdu, StatusWord, ins};
use crate::card::water_card::{
    AID, BinaryTarget, Ef, ISSUER_PIN_REFERENCE, RECORD_LEN, Record, fci,
};

/// T=1 only, historical bytes "MTRDESK1", with the check byte T=1 requires.
pub const ATR: [u8; 13] = atr(*b"MTRDESK1");

const fn atr(historical: [u8; 8]) -> [u8; 13] {
    // TS direct convention; T0: TD1 follows, 8 historical bytes; TD1: TD2 follows, T=0 offered
    // first as ISO wants; TD2: T=1.
    let mut atr = [0x3B, 0x88, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut i = 0;
    while i < historical.len() {
        atr[4 + i] = historical[i];
        i += 1;
    }
    // TCK: the XOR of every byte from T0 up to it is zero.
    let mut check = 0;
    let mut i = 1;
    while i < 12 {
        check ^= atr[i];
        i += 1;
    }
    atr[12] = check;
    atr
}

/// Wrong PINs allowed before the PIN blocks, as on most issuer cards.
const PIN_TRIES: u8 = 3;

/// Status word for a state file that could not be written: the card's memory "failed".
const MEMORY_FAILURE: StatusWord = StatusWord(0x6581);

/// What survives pulling the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterApplication {
    pub records: [Record; 3],
    pub pin_tries_left: u8,
}

impl WaterApplication {
    /// The blank card of card.md: the application with all EFs zero.
    pub fn blank() -> Self {
        Self {
            records: [[0; RECORD_LEN]; 3],
            pin_tries_left: PIN_TRIES,
        }
    }

    pub fn record(&self, ef: Ef) -> &Record {
        &self.records[ef.index()]
    }

    /// A small text file a developer can read and edit by hand.
    fn to_text(&self) -> String {
        let mut text = String::new();
        for ef in Ef::ALL {
            let _ = write!(text, "ef{:04x} ", ef.file_id());
            self.records[ef.index()]
                .iter()
                .for_each(|byte| _ = write!(text, "{byte:02x}"));
            text.push('\n');
        }
        let _ = writeln!(text, "pin-tries-left {}", self.pin_tries_left);
        text
    }

    fn from_text(text: &str) -> Result<Self, String> {
        let mut application = Self::blank();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| format!("no value in line {line:?}"))?;
            if key == "pin-tries-left" {
                application.pin_tries_left =
                    value.parse().map_err(|_| format!("bad tries {value:?}"))?;
                continue;
            }
            let ef = key
                .strip_prefix("ef")
                .and_then(|id| u16::from_str_radix(id, 16).ok())
                .and_then(Ef::from_file_id)
                .ok_or_else(|| format!("unknown key {key:?}"))?;
            application.records[ef.index()] = parse_record(value)?;
        }
        Ok(application)
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        Self::from_text(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// Written to a temporary file and renamed, so a card killed mid-write keeps the old state
    /// whole, like a real EEPROM page write.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".new");
        std::fs::write(&temporary, self.to_text())?;
        std::fs::rename(&temporary, path)
    }
}

fn parse_record(hex: &str) -> Result<Record, String> {
    let hex = hex.trim();
    if hex.len() != RECORD_LEN * 2 || !hex.is_ascii() {
        return Err(format!(
            "a record is {} hex digits: {hex:?}",
            RECORD_LEN * 2
        ));
    }
    let mut record = [0; RECORD_LEN];
    for (byte, digits) in record.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let digits = std::str::from_utf8(digits).expect("checked ASCII");
        *byte = u8::from_str_radix(digits, 16).map_err(|_| format!("not hex: {digits:?}"))?;
    }
    Ok(record)
}

/// The card: its lasting contents plus what a reset forgets.
pub struct VirtualCard {
    /// `None` is a foreign card: a CPU card without our application.
    application: Option<WaterApplication>,
    pin: Vec<u8>,
    state_file: Option<PathBuf>,
    session: Session,
}

/// Cleared at power-on and reset, as on a real card.
#[derive(Default)]
struct Session {
    application_selected: bool,
    current_ef: Option<Ef>,
    pin_verified: bool,
}

impl VirtualCard {
    pub fn new(
        application: Option<WaterApplication>,
        pin: Vec<u8>,
        state_file: Option<PathBuf>,
    ) -> Self {
        Self {
            application,
            pin,
            state_file,
            session: Session::default(),
        }
    }

    pub fn application(&self) -> Option<&WaterApplication> {
        self.application.as_ref()
    }

    /// Power on, power off and warm reset all end the session.
    pub fn reset(&mut self) {
        self.session = Session::default();
    }

    pub fn respond(&mut self, apdu: &[u8]) -> ResponseApdu {
        let Ok(command) = CommandApdu::parse(apdu) else {
            return ResponseApdu::status_only(StatusWord::WRONG_LENGTH);
        };
        if command.cla != 0x00 {
            return ResponseApdu::status_only(StatusWord::CLA_NOT_SUPPORTED);
        }
        let outcome = match command.ins {
            ins::SELECT => self.select(&command),
            ins::VERIFY => self.verify(&command),
            ins::READ_BINARY => self.read_binary(&command),
            ins::UPDATE_BINARY => self.update_binary(&command),
            _ => Err(StatusWord::INS_NOT_SUPPORTED),
        };
        outcome.unwrap_or_else(ResponseApdu::status_only)
    }

    fn select(&mut self, command: &CommandApdu) -> Result<ResponseApdu, StatusWord> {
        const BY_DF_NAME: u8 = 0x04;
        const EF_UNDER_CURRENT_DF: u8 = 0x02;
        const RETURN_FCI: u8 = 0x00;
        const NO_RESPONSE_DATA: u8 = 0x0C;
        match (command.p1, command.p2) {
            (BY_DF_NAME, p2 @ (RETURN_FCI | NO_RESPONSE_DATA)) => {
                if self.application.is_none() || command.data != AID {
                    return Err(StatusWord::FILE_NOT_FOUND);
                }
                self.session = Session {
                    application_selected: true,
                    ..Session::default()
                };
                // The FCI tells the PIN's tries, so a desk asks them with no command of its own.
                let fci = match (p2, &self.application) {
                    (RETURN_FCI, Some(application)) => fci(application.pin_tries_left),
                    _ => Vec::new(),
                };
                Ok(ResponseApdu::success(fci))
            }
            (EF_UNDER_CURRENT_DF, NO_RESPONSE_DATA) => {
                let ef = <[u8; 2]>::try_from(command.data.as_slice())
                    .ok()
                    .map(u16::from_be_bytes)
                    .and_then(Ef::from_file_id)
                    .filter(|_| self.session.application_selected)
                    .ok_or(StatusWord::FILE_NOT_FOUND)?;
                self.session.current_ef = Some(ef);
                Ok(ResponseApdu::success(Vec::new()))
            }
            _ => Err(StatusWord::INCORRECT_P1_P2),
        }
    }

    fn verify(&mut self, command: &CommandApdu) -> Result<ResponseApdu, StatusWord> {
        if (command.p1, command.p2) != (0x00, ISSUER_PIN_REFERENCE) {
            return Err(StatusWord::INCORRECT_P1_P2);
        }
        let application = match self.application.as_mut() {
            Some(application) if self.session.application_selected => application,
            _ => return Err(StatusWord::REFERENCED_DATA_NOT_FOUND),
        };
        if application.pin_tries_left == 0 {
            return Err(StatusWord::AUTHENTICATION_BLOCKED);
        }
        // VERIFY without data asks whether the PIN is verified, without spending a try.
        if command.data.is_empty() {
            return match self.session.pin_verified {
                true => Ok(ResponseApdu::success(Vec::new())),
                false => Err(StatusWord::verify_failed(application.pin_tries_left)),
            };
        }
        let correct = command.data == self.pin;
        self.session.pin_verified = correct;
        application.pin_tries_left = if correct {
            PIN_TRIES
        } else {
            application.pin_tries_left - 1
        };
        let tries_left = application.pin_tries_left;
        self.persist()?;
        match tries_left {
            _ if correct => Ok(ResponseApdu::success(Vec::new())),
            0 => Err(StatusWord::AUTHENTICATION_BLOCKED),
            _ => Err(StatusWord::verify_failed(tries_left)),
        }
    }

    /// Which EF and offset a READ/UPDATE BINARY means; addressing by SFI makes that EF current.
    fn binary_target(&mut self, command: &CommandApdu) -> Result<(Ef, usize), StatusWord> {
        if !self.session.application_selected {
            return Err(StatusWord::NO_CURRENT_EF);
        }
        let (ef, offset) = match BinaryTarget::from_p1_p2(command.p1, command.p2) {
            BinaryTarget::ShortFileId { sfi, offset } => {
                (Ef::from_sfi(sfi).ok_or(StatusWord::FILE_NOT_FOUND)?, offset)
            }
            BinaryTarget::CurrentEf { offset } => (
                self.session.current_ef.ok_or(StatusWord::NO_CURRENT_EF)?,
                offset,
            ),
        };
        if offset > RECORD_LEN {
            return Err(StatusWord::OFFSET_OUTSIDE_EF);
        }
        self.session.current_ef = Some(ef);
        Ok((ef, offset))
    }

    fn read_binary(&mut self, command: &CommandApdu) -> Result<ResponseApdu, StatusWord> {
        let (ef, offset) = self.binary_target(command)?;
        let application = self.application.as_ref().expect("selected, so present");
        let available = &application.record(ef)[offset..];
        // Le = 00 (256) means "as much as there is".
        match command.le.map_or(0, usize::from) {
            256 => Ok(ResponseApdu::success(available.to_vec())),
            wanted if wanted > available.len() => Ok(ResponseApdu {
                data: available.to_vec(),
                status: StatusWord::END_OF_FILE,
            }),
            wanted => Ok(ResponseApdu::success(available[..wanted].to_vec())),
        }
    }

    fn update_binary(&mut self, command: &CommandApdu) -> Result<ResponseApdu, StatusWord> {
        let (ef, offset) = self.binary_target(command)?;
        if !self.session.pin_verified {
            return Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let end = offset + command.data.len();
        if command.data.is_empty() || end > RECORD_LEN {
            return Err(StatusWord::WRONG_LENGTH);
        }
        let application = self.application.as_mut().expect("selected, so present");
        application.records[ef.index()][offset..end].copy_from_slice(&command.data);
        self.persist()?;
        Ok(ResponseApdu::success(Vec::new()))
    }

    fn persist(&self) -> Result<(), StatusWord> {
        let (Some(path), Some(application)) = (&self.state_file, &self.application) else {
            return Ok(());
        };
        application.save(path).map_err(|error| {
            tracing::error!(%error, path = %path.display(), "saving the virtual card");
            MEMORY_FAILURE
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::water_card::{
        read_record, select_application, update_record, verify_issuer_pin,
    };

    fn card() -> VirtualCard {
        VirtualCard::new(Some(WaterApplication::blank()), b"4321".to_vec(), None)
    }

    fn send(card: &mut VirtualCard, command: CommandApdu) -> ResponseApdu {
        card.respond(&command.to_bytes().unwrap())
    }

    fn status(card: &mut VirtualCard, command: CommandApdu) -> StatusWord {
        send(card, command).status
    }

    #[test]
    fn atr_check_byte_makes_the_xor_zero() {
        assert_eq!(ATR[1..].iter().fold(0, |acc, byte| acc ^ byte), 0);
    }

    #[test]
    fn writes_need_the_issuer_pin() {
        let mut card = card();
        let record = [0x5A; RECORD_LEN];
        assert_eq!(status(&mut card, select_application()), StatusWord::SUCCESS);
        assert_eq!(
            status(&mut card, update_record(Ef::Issue, &record)),
            StatusWord::SECURITY_STATUS_NOT_SATISFIED
        );
        assert_eq!(
            status(&mut card, verify_issuer_pin(b"0000")),
            StatusWord(0x63C2)
        );
        assert_eq!(
            status(&mut card, verify_issuer_pin(b"4321")),
            StatusWord::SUCCESS
        );
        assert_eq!(
            status(&mut card, update_record(Ef::Issue, &record)),
            StatusWord::SUCCESS
        );
        let read = send(&mut card, read_record(Ef::Issue));
        assert_eq!(
            (read.data.as_slice(), read.status),
            (record.as_slice(), StatusWord::SUCCESS)
        );
        assert_eq!(
            send(&mut card, read_record(Ef::Purchase)).data,
            [0; RECORD_LEN]
        );

        card.reset();
        assert_eq!(
            status(&mut card, read_record(Ef::Issue)),
            StatusWord::NO_CURRENT_EF
        );
        status(&mut card, select_application());
        assert_eq!(
            status(&mut card, update_record(Ef::Issue, &record)),
            StatusWord::SECURITY_STATUS_NOT_SATISFIED,
            "a reset forgets the PIN"
        );
    }

    #[test]
    fn the_pin_blocks_after_three_wrong_tries() {
        let mut card = card();
        status(&mut card, select_application());
        let query = CommandApdu::new(0x00, ins::VERIFY, 0x00, ISSUER_PIN_REFERENCE);
        assert_eq!(status(&mut card, query.clone()), StatusWord(0x63C3));
        for (pin, answer) in [
            (b"1".as_slice(), StatusWord(0x63C2)),
            (b"2", StatusWord(0x63C1)),
            (b"3", StatusWord::AUTHENTICATION_BLOCKED),
            (b"4321", StatusWord::AUTHENTICATION_BLOCKED),
        ] {
            assert_eq!(
                status(&mut card, verify_issuer_pin(pin)),
                answer,
                "PIN {pin:?}"
            );
        }
        assert_eq!(card.application().unwrap().pin_tries_left, 0);
    }

    #[test]
    fn refusals_carry_iso_status_words() {
        let mut card = card();
        let wrong_aid = CommandApdu::new(0x00, ins::SELECT, 0x04, 0x0C).with_data([0xA0, 0, 0, 0]);
        assert_eq!(status(&mut card, wrong_aid), StatusWord::FILE_NOT_FOUND);
        assert_eq!(
            card.respond(&[0x00, 0xB0, 0x81]).status,
            StatusWord::WRONG_LENGTH
        );
        assert_eq!(
            status(&mut card, CommandApdu::new(0x80, 0xB0, 0x81, 0).with_le(32)),
            StatusWord::CLA_NOT_SUPPORTED
        );
        assert_eq!(
            status(&mut card, CommandApdu::new(0x00, 0xCA, 0, 0).with_le(256)),
            StatusWord::INS_NOT_SUPPORTED
        );
        status(&mut card, select_application());
        assert_eq!(
            status(
                &mut card,
                CommandApdu::new(0x00, ins::READ_BINARY, 0x84, 0).with_le(32)
            ),
            StatusWord::FILE_NOT_FOUND
        );
        assert_eq!(
            status(
                &mut card,
                CommandApdu::new(0x00, ins::READ_BINARY, 0x81, 33).with_le(1)
            ),
            StatusWord::OFFSET_OUTSIDE_EF
        );
        let overlong = CommandApdu::new(0x00, ins::READ_BINARY, 0x81, 30).with_le(4);
        let response = send(&mut card, overlong);
        assert_eq!(
            (response.data.len(), response.status),
            (2, StatusWord::END_OF_FILE)
        );
        status(&mut card, verify_issuer_pin(b"4321"));
        let past_the_end =
            CommandApdu::new(0x00, ins::UPDATE_BINARY, 0x81, 30).with_data([1, 2, 3]);
        assert_eq!(status(&mut card, past_the_end), StatusWord::WRONG_LENGTH);
    }

    #[test]
    fn selects_efs_by_file_id_and_reads_at_an_offset() {
        let mut records = WaterApplication::blank();
        records.records[Ef::MeterWriteBack.index()][4] = 0x77;
        let mut card = VirtualCard::new(Some(records), b"4321".to_vec(), None);
        let with_fci = CommandApdu::new(0x00, ins::SELECT, 0x04, 0x00)
            .with_data(AID)
            .with_le(256);
        assert_eq!(send(&mut card, with_fci).data[..4], [0x6F, 16, 0x84, 8]);
        let select_ef = CommandApdu::new(0x00, ins::SELECT, 0x02, 0x0C).with_data([0x00, 0x03]);
        assert_eq!(status(&mut card, select_ef), StatusWord::SUCCESS);
        let read = send(
            &mut card,
            CommandApdu::new(0x00, ins::READ_BINARY, 0x00, 4).with_le(1),
        );
        assert_eq!(read.data, [0x77]);
    }

    #[test]
    fn a_foreign_card_has_no_application() {
        let mut card = VirtualCard::new(None, b"4321".to_vec(), None);
        assert_eq!(
            status(&mut card, select_application()),
            StatusWord::FILE_NOT_FOUND
        );
        assert_eq!(
            status(&mut card, read_record(Ef::Issue)),
            StatusWord::NO_CURRENT_EF
        );
        assert_eq!(
            status(&mut card, verify_issuer_pin(b"4321")),
            StatusWord::REFERENCED_DATA_NOT_FOUND
        );
    }

    #[test]
    fn the_state_file_round_trips_and_survives_the_process() {
        let dir = std::env::temp_dir().join(format!("meterdesk-vcard-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("card.state");
        let mut card = VirtualCard::new(
            Some(WaterApplication::blank()),
            b"4321".to_vec(),
            Some(path.clone()),
        );
        status(&mut card, select_application());
        status(&mut card, verify_issuer_pin(b"4321"));
        status(&mut card, update_record(Ef::Purchase, &[0xC3; RECORD_LEN]));
        status(&mut card, verify_issuer_pin(b"0"));
        let reloaded = WaterApplication::load(&path).unwrap();
        assert_eq!(reloaded.record(Ef::Purchase), &[0xC3; RECORD_LEN]);
        assert_eq!(reloaded.pin_tries_left, 2);
        assert_eq!(&reloaded, card.application().unwrap());
        assert!(WaterApplication::from_text("ef0004 00").is_err());
        assert!(WaterApplication::from_text("ef0001 0g").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
