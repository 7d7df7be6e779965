//! Customer numbers: a serial followed by a Damm check digit. Damm catches every single-digit
//! error and every swap of adjacent digits, the two mistakes made at a counter.
//!
//! Two lengths (docs/decisions.md, "Customer numbers past nine million"): the first nine million
//! customers have 8 digits (a 7-digit serial), the ones after them 10 (a 9-digit serial). No
//! length lies between, so a digit dropped from or added to either is a wrong length, never
//! another number. The 10-digit numbers end at 4 294 967 283: a card keeps its holder's number
//! in 4 bytes (`card_records`).

use std::fmt;
use std::ops::RangeInclusive;

/// The Damm algorithm's quasigroup of order 10 (totally anti-symmetric).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// Serials of the 8-digit numbers (7 digits, the first nine million customers).
pub const SHORT_SERIALS: RangeInclusive<u32> = 1_000_000..=9_999_999;
/// Serials of the 10-digit numbers (9 digits); the last keeps the number within a `u32`.
pub const LONG_SERIALS: RangeInclusive<u32> = 100_000_000..=429_496_728;
/// Digits of a customer number with a short serial.
pub const SHORT_LEN: usize = 8;
/// Digits of a customer number with a long serial.
pub const LONG_LEN: usize = 10;

/// The values of the database's `customer_serial` sequence (sql/V25), one per customer number
/// in the order they are issued: the short serials themselves, then on into the long ones
/// (10 000 000 stands for 100 000 000). A sequence cannot jump, and it stays one counter.
pub const SEQUENCE_VALUES: RangeInclusive<u32> = *SHORT_SERIALS.start()
    ..=*SHORT_SERIALS.end() + (*LONG_SERIALS.end() - *LONG_SERIALS.start() + 1);

/// A customer number whose check digit is known to be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerNumber(u32);

/// Why typed text is not a customer number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CustomerNumberError {
    #[error("a customer number has 8 or 10 digits")]
    Length,
    #[error("a customer number has digits only")]
    NotDigits,
    #[error("check digit is wrong: a digit was mistyped")]
    CheckDigit,
    #[error("no customer number has these digits")]
    OutOfRange,
}

fn check_digit(digits: impl Iterator<Item = u8>) -> u8 {
    digits.fold(0, |interim, digit| DAMM[interim as usize][digit as usize])
}

fn digits_of(serial: u32) -> impl Iterator<Item = u8> {
    serial
        .to_string()
        .into_bytes()
        .into_iter()
        .map(|b| b - b'0')
}

impl CustomerNumber {
    /// The customer number for a serial of either length.
    pub fn from_serial(serial: u32) -> Option<Self> {
        (SHORT_SERIALS.contains(&serial) || LONG_SERIALS.contains(&serial))
            .then(|| Self(serial * 10 + u32::from(check_digit(digits_of(serial)))))
    }

    /// The customer number a value of the `customer_serial` sequence stands for
    /// ([`SEQUENCE_VALUES`]).
    pub fn from_sequence_value(value: u32) -> Option<Self> {
        let serial = match value.checked_sub(*SHORT_SERIALS.end() + 1) {
            None => value,
            Some(past_short) => LONG_SERIALS.start().checked_add(past_short)?,
        };
        Self::from_serial(serial)
    }

    /// The number as stored and printed, e.g. 10023453.
    pub fn value(self) -> u32 {
        self.0
    }

    /// The serial it was made from.
    pub fn serial(self) -> u32 {
        self.0 / 10
    }
}

impl TryFrom<u32> for CustomerNumber {
    type Error = CustomerNumberError;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        value.to_string().parse()
    }
}

impl std::str::FromStr for CustomerNumber {
    type Err = CustomerNumberError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CustomerNumberError::NotDigits);
        }
        if text.len() != SHORT_LEN && text.len() != LONG_LEN {
            return Err(CustomerNumberError::Length);
        }
        if check_digit(text.bytes().map(|b| b - b'0')) != 0 {
            return Err(CustomerNumberError::CheckDigit);
        }
        let serial = text[..text.len() - 1]
            .parse()
            .map_err(|_| CustomerNumberError::OutOfRange)?;
        Self::from_serial(serial).ok_or(CustomerNumberError::OutOfRange)
    }
}

impl fmt::Display for CustomerNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_damm_check_digit() {
        // The textbook example: 572 has check digit 4.
        assert_eq!(check_digit([5, 7, 2].into_iter()), 4);
        assert_eq!(check_digit([5, 7, 2, 4].into_iter()), 0);
    }

    #[test]
    fn check_digit_at_both_lengths() {
        // Check digits worked out by hand from the table.
        let short = CustomerNumber::from_serial(1_002_345).unwrap();
        assert_eq!(short.to_string(), "10023453");
        let long = CustomerNumber::from_serial(100_002_345).unwrap();
        assert_eq!(long.to_string(), "1000023452");
        assert_eq!(long.serial(), 100_002_345);
        let last = CustomerNumber::from_serial(*LONG_SERIALS.end()).unwrap();
        assert_eq!(last.value(), 4_294_967_283);
        for number in [short, long] {
            assert_eq!(check_digit(digits_of(number.value())), 0, "{number}");
        }
    }

    #[test]
    fn bounds_and_round_trip() {
        for outside in [
            SHORT_SERIALS.start() - 1,
            SHORT_SERIALS.end() + 1,
            LONG_SERIALS.start() - 1,
            LONG_SERIALS.end() + 1,
        ] {
            assert!(CustomerNumber::from_serial(outside).is_none(), "{outside}");
        }
        for serial in [
            *SHORT_SERIALS.start(),
            1_002_345,
            *SHORT_SERIALS.end(),
            *LONG_SERIALS.start(),
            *LONG_SERIALS.end(),
        ] {
            let number = CustomerNumber::from_serial(serial).unwrap();
            assert_eq!(number.serial(), serial);
            assert_eq!(number.to_string().parse::<CustomerNumber>(), Ok(number));
            assert_eq!(CustomerNumber::try_from(number.value()), Ok(number));
        }
    }

    #[test]
    fn the_sequence_counts_on_from_the_short_serials_into_the_long_ones() {
        let serial_of = |value| CustomerNumber::from_sequence_value(value).map(|n| n.serial());
        assert_eq!(serial_of(SHORT_SERIALS.start() - 1), None);
        assert_eq!(serial_of(1_000_000), Some(1_000_000));
        assert_eq!(serial_of(9_999_999), Some(9_999_999));
        assert_eq!(serial_of(10_000_000), Some(100_000_000));
        assert_eq!(serial_of(10_000_001), Some(100_000_001));
        assert_eq!(serial_of(*SEQUENCE_VALUES.end()), Some(*LONG_SERIALS.end()));
        assert_eq!(serial_of(SEQUENCE_VALUES.end() + 1), None);
        assert_eq!(serial_of(u32::MAX), None);
    }

    #[test]
    fn bad_text_says_why() {
        for (typed, why) in [
            ("1234", CustomerNumberError::Length),
            ("", CustomerNumberError::Length),
            ("1234567x", CustomerNumberError::NotDigits),
            // Nine digits: neither length, though a digit more or less than either.
            ("100023457", CustomerNumberError::Length),
        ] {
            assert_eq!(typed.parse::<CustomerNumber>(), Err(why), "{typed:?}");
        }
    }

    #[test]
    fn right_check_digit_outside_the_serials_is_no_number() {
        // 0100000 and 999999999 are no serial, though their check digits can be right.
        for serial in [100_000, 999_999_999u64] {
            let mut digits: Vec<u8> = serial.to_string().bytes().map(|b| b - b'0').collect();
            if serial < 1_000_000 {
                digits.insert(0, 0);
            }
            let check = check_digit(digits.iter().copied());
            let typed: String = digits
                .iter()
                .chain([check].iter())
                .map(|d| char::from(b'0' + d))
                .collect();
            assert_eq!(
                typed.parse::<CustomerNumber>(),
                Err(CustomerNumberError::OutOfRange),
                "{typed}"
            );
        }
    }

    fn any_serial() -> impl Strategy<Value = u32> {
        prop_oneof![SHORT_SERIALS, LONG_SERIALS]
    }

    proptest! {
        #[test]
        fn every_single_digit_error_is_caught(serial in any_serial(), pos in 0usize..LONG_LEN, delta in 1u8..10) {
            let good = CustomerNumber::from_serial(serial).unwrap().to_string().into_bytes();
            let pos = pos % good.len();
            let mut bad = good.clone();
            bad[pos] = b'0' + (bad[pos] - b'0' + delta) % 10;
            let bad = String::from_utf8(bad).unwrap();
            prop_assert!(bad.parse::<CustomerNumber>().is_err());
        }

        #[test]
        fn every_adjacent_swap_is_caught(serial in any_serial(), pos in 0usize..LONG_LEN - 1) {
            let good = CustomerNumber::from_serial(serial).unwrap().to_string().into_bytes();
            let pos = pos % (good.len() - 1);
            prop_assume!(good[pos] != good[pos + 1]);
            let mut bad = good.clone();
            bad.swap(pos, pos + 1);
            let bad = String::from_utf8(bad).unwrap();
            prop_assert!(bad.parse::<CustomerNumber>().is_err());
        }

        #[test]
        fn a_dropped_digit_is_never_another_number(serial in any_serial(), pos in 0usize..LONG_LEN) {
            let mut digits = CustomerNumber::from_serial(serial).unwrap().to_string();
            digits.remove(pos % digits.len());
            prop_assert!(digits.parse::<CustomerNumber>().is_err());
        }
    }
}
