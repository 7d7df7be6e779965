//! Customer numbers: 8 digits, a 7-digit serial followed by a Damm check digit. Damm catches
//! every single-digit error and every swap of adjacent digits, the two mistakes made at a counter.

use std::fmt;

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

/// Smallest and largest serials: 7 digits, so every customer number has exactly 8.
pub const FIRST_SERIAL: u32 = 1_000_000;
pub const LAST_SERIAL: u32 = 9_999_999;
/// Digits in a customer number.
pub const LEN: usize = 8;

/// A customer number whose check digit is known to be right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerNumber(u32);

/// Why typed text is not a customer number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CustomerNumberError {
    #[error("a customer number has 8 digits")]
    Length,
    #[error("a customer number has digits only")]
    NotDigits,
    #[error("check digit is wrong: a digit was mistyped")]
    CheckDigit,
}

fn check_digit(digits: impl Iterator<Item = u8>) -> u8 {
    digits.fold(0, |interim, digit| DAMM[interim as usize][digit as usize])
}

fn digits_of(serial: u32) -> impl Iterator<Item = u8> {
    serial.to_string().into_bytes().into_iter().map(|b| b - b'0')
}

impl CustomerNumber {
    /// The customer number for a serial in `FIRST_SERIAL..=LAST_SERIAL`.
    pub fn from_serial(serial: u32) -> Option<Self> {
        (FIRST_SERIAL..=LAST_SERIAL)
            .contains(&serial)
            .then(|| Self(serial * 10 + u32::from(check_digit(digits_of(serial)))))
    }

    /// The number as stored and printed, e.g. 10023457.
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
        if text.len() != LEN {
            return Err(CustomerNumberError::Length);
        }
        if check_digit(text.bytes().map(|b| b - b'0')) != 0 {
            return Err(CustomerNumberError::CheckDigit);
        }
        text.parse().map(Self).map_err(|_| CustomerNumberError::NotDigits)
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
    fn bounds_and_round_trip() {
        assert!(CustomerNumber::from_serial(FIRST_SERIAL - 1).is_none());
        assert!(CustomerNumber::from_serial(LAST_SERIAL + 1).is_none());
        let number = CustomerNumber::from_serial(1_002_345).unwrap();
        assert_eq!(number.serial(), 1_002_345);
        assert_eq!(number.to_string().parse::<CustomerNumber>(), Ok(number));
        assert_eq!(CustomerNumber::try_from(number.value()), Ok(number));
    }

    #[test]
    fn bad_text_says_why() {
        assert_eq!("1234".parse::<CustomerNumber>(), Err(CustomerNumberError::Length));
        assert_eq!("1234567x".parse::<CustomerNumber>(), Err(CustomerNumberError::NotDigits));
        assert_eq!("".parse::<CustomerNumber>(), Err(CustomerNumberError::Length));
    }

    proptest! {
        #[test]
        fn every_single_digit_error_is_caught(serial in FIRST_SERIAL..=LAST_SERIAL, pos in 0usize..LEN, delta in 1u8..10) {
            let good = CustomerNumber::from_serial(serial).unwrap().to_string().into_bytes();
            let mut bad = good.clone();
            bad[pos] = b'0' + (bad[pos] - b'0' + delta) % 10;
            let bad = String::from_utf8(bad).unwrap();
            prop_assert!(bad.parse::<CustomerNumber>().is_err());
        }

        #[test]
        fn every_adjacent_swap_is_caught(serial in FIRST_SERIAL..=LAST_SERIAL, pos in 0usize..LEN - 1) {
            let good = CustomerNumber::from_serial(serial).unwrap().to_string().into_bytes();
            prop_assume!(good[pos] != good[pos + 1]);
            let mut bad = good.clone();
            bad.swap(pos, pos + 1);
            let bad = String::from_utf8(bad).unwrap();
            prop_assert!(bad.parse::<CustomerNumber>().is_err());
        }
    }
}
