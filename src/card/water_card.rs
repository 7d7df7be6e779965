//! The card profile of card.md: the WATER application on an ISO 7816-4 CPU card (T=1).
//!
//! A profile knows what to send to a card and where the records live; it does no I/O. The reader
//! thread only moves bytes, so a second profile (SLE4442 memory cards behind CLA FF
//! pseudo-APDUs) can sit next to this one without touching the thread or the screens.

use super::apdu::{CommandApdu, ins};

/// The records' format is the domain's (card.md); the profile only says how to reach them.
pub use crate::domain::card_records::{Ef, RECORD_LEN, Record};

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
