//! The meter's tool cards (domain.md 4.9.3, "system card management"; docs/card-records.md,
//! "System cards"): a setting card writes a meter's parameters, a check card loads a fixed
//! test volume for the installer, a clear card wipes a meter's credit and registration for
//! reinstallation and brings the wiped credit back to the counter. Issued by a supervisor onto
//! a blank card for one meter; each is applied once by that meter.

use super::card_counter::{CardWritePlan, onto_blank_card};
use super::card_records::{
    CardBoundRecord, Ef, MacKey, MeterNumber, MeterWriteBack, Record, RecordError, USER_CARD_KIND,
    new_signed_bytes, put_u32, record_to_verify, u32_at, verified_record,
};

/// The water a check card loads, never billed: enough for an installer to see the valve open
/// and the register turn.
pub const CHECK_CARD_LITRES: u32 = 100;

/// What a system card does at its meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemCardKind {
    /// Writes the meter's low-credit alarm volume and the most credit it may hold.
    Setting {
        alarm_litres: u32,
        max_credit_litres: u32,
    },
    /// Loads [`CHECK_CARD_LITRES`] once.
    Check,
    /// Wipes the meter's credit and its registered card for reinstallation; the credit wiped
    /// comes back in the card's EF 0003.
    Clear,
}

impl SystemCardKind {
    /// EF 0001 byte 1 (1 is the user card).
    fn code(self) -> u8 {
        match self {
            SystemCardKind::Setting { .. } => 2,
            SystemCardKind::Check => 3,
            SystemCardKind::Clear => 4,
        }
    }

    /// The name the database journals it under.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemCardKind::Setting { .. } => "setting",
            SystemCardKind::Check => "check",
            SystemCardKind::Clear => "clear",
        }
    }
}

/// A system card as the counter writes it and the meter reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCard {
    /// From the same sequence as user cards: unique forever.
    pub card_number: u32,
    /// The only meter that applies it.
    pub meter_number: MeterNumber,
    pub kind: SystemCardKind,
    /// Unix seconds of the issue.
    pub written_at: u32,
    /// The meter's state after applying it (for a clear card: before, the credit wiped);
    /// `None` until a meter has.
    pub applied: Option<MeterWriteBack>,
}

impl SystemCard {
    /// EF 0001: version, kind, card number, zero, meter number, zero, MAC.
    fn issue_record(&self, key: &MacKey) -> Record {
        let mut signed = new_signed_bytes();
        signed[1] = self.kind.code();
        put_u32(&mut signed, 2, self.card_number);
        signed[10..22].copy_from_slice(&self.meter_number.to_field());
        key.seal(self.card_number, Ef::Issue, signed)
    }

    /// EF 0002: version, the parameters (bytes 1–8), zero, written at (11–14), zero, MAC.
    fn parameter_record(&self, key: &MacKey) -> Record {
        let mut signed = new_signed_bytes();
        match self.kind {
            SystemCardKind::Setting {
                alarm_litres,
                max_credit_litres,
            } => {
                put_u32(&mut signed, 1, alarm_litres);
                put_u32(&mut signed, 5, max_credit_litres);
            }
            SystemCardKind::Check => put_u32(&mut signed, 1, CHECK_CARD_LITRES),
            SystemCardKind::Clear => {}
        }
        put_u32(&mut signed, 11, self.written_at);
        key.seal(self.card_number, Ef::Purchase, signed)
    }

    /// The write onto a blank card: EF 0003 zeroed, the parameters, then EF 0001, decisive.
    pub fn plan(&self, key: &MacKey) -> CardWritePlan {
        onto_blank_card(self.issue_record(key), self.parameter_record(key))
    }

    /// The system card in `records`; `Ok(None)` for any other card (blank, user, foreign
    /// kind), an error for a system card whose records do not verify.
    pub fn read<R: AsRef<[u8]>>(
        records: &[R; 3],
        key: &MacKey,
    ) -> Result<Option<SystemCard>, (Ef, RecordError)> {
        let bytes = |ef: Ef| records[ef.index()].as_ref();
        let in_ef = |ef: Ef| move |error| (ef, error);
        let Some(issue) = record_to_verify(bytes(Ef::Issue)).map_err(in_ef(Ef::Issue))? else {
            return Ok(None);
        };
        if issue[1] == USER_CARD_KIND || !(2..=4).contains(&issue[1]) {
            return Ok(None);
        }
        let card_number = u32_at(issue, 2);
        key.verify(card_number, Ef::Issue, issue)
            .map_err(in_ef(Ef::Issue))?;
        if issue[6..10] != [0; 4] || issue[22..24] != [0; 2] {
            return Err((Ef::Issue, RecordError::NonzeroReserved));
        }
        let meter_number = MeterNumber::from_field(&issue[10..22])
            .map_err(|error| (Ef::Issue, RecordError::BadMeterNumber(error)))?;
        let parameters = verified_record(bytes(Ef::Purchase), card_number, Ef::Purchase, key, 15)
            .map_err(in_ef(Ef::Purchase))?
            .ok_or((Ef::Purchase, RecordError::NonzeroReserved))?;
        let kind = match issue[1] {
            2 => SystemCardKind::Setting {
                alarm_litres: u32_at(parameters, 1),
                max_credit_litres: u32_at(parameters, 5),
            },
            3 => SystemCardKind::Check,
            _ => SystemCardKind::Clear,
        };
        // What a kind does not use is zero, and a check card's volume is the fixed one.
        let as_written = match kind {
            SystemCardKind::Setting { .. } => parameters[9..11] == [0; 2],
            SystemCardKind::Check => {
                u32_at(parameters, 1) == CHECK_CARD_LITRES && parameters[5..11] == [0; 6]
            }
            SystemCardKind::Clear => parameters[1..11] == [0; 10],
        };
        if !as_written {
            return Err((Ef::Purchase, RecordError::NonzeroReserved));
        }
        Ok(Some(SystemCard {
            card_number,
            meter_number,
            kind,
            written_at: u32_at(parameters, 11),
            applied: MeterWriteBack::decode(bytes(Ef::MeterWriteBack), card_number, key)
                .map_err(in_ef(Ef::MeterWriteBack))?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card_counter::tests::written;
    use crate::domain::card_records::tests::meter_number;
    use crate::domain::card_records::{CardContent, EMPTY_RECORD, MeterStatus};

    fn card(kind: SystemCardKind) -> SystemCard {
        SystemCard {
            card_number: 10_000_123,
            meter_number: meter_number("WM-0042"),
            kind,
            written_at: 1_760_000_000,
            applied: None,
        }
    }

    const KINDS: [SystemCardKind; 3] = [
        SystemCardKind::Setting {
            alarm_litres: 3_000,
            max_credit_litres: 60_000,
        },
        SystemCardKind::Check,
        SystemCardKind::Clear,
    ];

    #[test]
    fn each_kind_reads_back_as_written_and_is_no_user_card() {
        let key = MacKey::demo();
        for kind in KINDS {
            let records = written(&card(kind).plan(&key), [EMPTY_RECORD; 3]);
            assert_eq!(SystemCard::read(&records, &key), Ok(Some(card(kind))));
            assert_eq!(
                CardContent::classify(&records, &key),
                CardContent::Foreign {
                    ef: Ef::Issue,
                    error: RecordError::UnknownCardKind(kind.code())
                },
                "the counter's user-card rules never take it for a customer's"
            );
        }
    }

    #[test]
    fn a_changed_parameter_or_a_record_from_another_card_does_not_verify() {
        let key = MacKey::demo();
        let setting = KINDS[0];
        let mut records = written(&card(setting).plan(&key), [EMPTY_RECORD; 3]);
        records[Ef::Purchase.index()][5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            SystemCard::read(&records, &key),
            Err((Ef::Purchase, RecordError::BadMac))
        );
        let other = SystemCard {
            card_number: 10_000_124,
            ..card(setting)
        };
        let mut records = written(&card(setting).plan(&key), [EMPTY_RECORD; 3]);
        records[Ef::Purchase.index()] =
            written(&other.plan(&key), [EMPTY_RECORD; 3])[Ef::Purchase.index()];
        assert_eq!(
            SystemCard::read(&records, &key),
            Err((Ef::Purchase, RecordError::BadMac))
        );
        let user_card_or_blank = [EMPTY_RECORD; 3];
        assert_eq!(SystemCard::read(&user_card_or_blank, &key), Ok(None));
    }

    #[test]
    fn the_meters_write_back_is_read_with_the_card() {
        let key = MacKey::demo();
        let clear = card(SystemCardKind::Clear);
        let mut records = written(&clear.plan(&key), [EMPTY_RECORD; 3]);
        let applied = MeterWriteBack {
            last_loaded_sequence: 7,
            registered_generation: 2,
            credit_litres: 12_345,
            total_litres: 99_000,
            status: MeterStatus::default(),
            written_at: 1_760_000_100,
        };
        records[Ef::MeterWriteBack.index()] = applied.encode(clear.card_number, &key);
        assert_eq!(
            SystemCard::read(&records, &key).unwrap().unwrap().applied,
            Some(applied)
        );
    }
}
