//! What the clerk typed into the customer table's search field, and what to look for.
//!
//! The rules, in order (the text is trimmed first; digits, spaces and dashes a Chinese input
//! method typed full-width count as their ASCII twins):
//! - nothing → every customer;
//! - exactly 8 digits and nothing else, not starting with 0 → a customer number, and its check
//!   digit must be right. Eight bare digits are always read as a customer number, never as a
//!   phone or meter prefix: it is what clerks type most, and a mistyped number must be caught,
//!   not silently turned into an unrelated phone search. A clerk who wants the 8-digit phone
//!   prefix types it with a separator ("138 1234 5") or one digit more.
//! - 8 digits starting with 0 cannot be a customer number (they run from 10000000): digits.
//!   Card numbers have nine digits or more (sql/V8), so a card number typed as printed is never
//!   taken for a customer number.
//! - 10 digits are read as digits (below), and a valid 10-digit customer number among them is
//!   found too (the numbers past nine million, `customer_number`): ten digits were a phone or
//!   card prefix before those numbers existed, and still find what they found.
//! - other digits, optionally grouped by spaces or dashes as phone numbers are written
//!   ("138-1234-5678", "010 6512") → digits, separators dropped: phone prefix, meter number
//!   prefix, card number.
//! - anything else → text: name prefix and name contains, address fragment, meter number prefix
//!   (meter numbers may have letters: "AB12"). Case-insensitive.

use crate::domain::customer_number::{self, CustomerNumber};
use crate::domain::validation::halfwidth_text;

/// What to look for in the customer table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CustomerSearch {
    All,
    CustomerNo(CustomerNumber),
    /// Digits only (separators removed): phone prefix, meter number prefix, card number.
    Digits(String),
    /// Trimmed, as typed: name, address fragment, meter number prefix.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// Eight digits whose Damm check digit is wrong: a digit was mistyped or two swapped.
    #[error("check digit is wrong")]
    CheckDigit,
}

/// Classifies what was typed into the search field; see the module documentation for the rules.
pub fn classify(typed: &str) -> Result<CustomerSearch, SearchError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(CustomerSearch::All);
    }
    // A number a Chinese input method typed full-width is that number, as in every form
    // (`validation::halfwidth_text`); text keeps its full-width characters, as stored.
    let ascii = halfwidth_text(typed);
    if is_grouped_digits(&ascii) {
        return classify_number(&ascii);
    }
    Ok(CustomerSearch::Text(typed.to_owned()))
}

/// `typed`, ASCII digits possibly grouped: a customer number or digits.
fn classify_number(typed: &str) -> Result<CustomerSearch, SearchError> {
    let bare_digits = typed.bytes().all(|b| b.is_ascii_digit());
    if bare_digits && typed.len() == customer_number::SHORT_LEN && !typed.starts_with('0') {
        // Length and digits were checked: only the check digit can be wrong.
        return typed
            .parse()
            .map(CustomerSearch::CustomerNo)
            .map_err(|_| SearchError::CheckDigit);
    }
    let digits = typed.chars().filter(char::is_ascii_digit).collect();
    Ok(CustomerSearch::Digits(digits))
}

/// Digits, possibly grouped by single spaces or dashes, starting and ending with a digit.
fn is_grouped_digits(text: &str) -> bool {
    let mut previous_was_digit = false;
    for c in text.chars() {
        match c {
            '0'..='9' => previous_was_digit = true,
            ' ' | '-' if previous_was_digit => previous_was_digit = false,
            _ => return false,
        }
    }
    previous_was_digit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer_no(serial: u32) -> CustomerNumber {
        CustomerNumber::from_serial(serial).unwrap()
    }

    #[test]
    fn nothing_typed_lists_everyone() {
        assert_eq!(classify(""), Ok(CustomerSearch::All));
        assert_eq!(classify("  \t "), Ok(CustomerSearch::All));
    }

    #[test]
    fn eight_digits_are_a_customer_number() {
        let number = customer_no(1_002_345);
        assert_eq!(
            classify(&format!(" {number} ")),
            Ok(CustomerSearch::CustomerNo(number))
        );
    }

    #[test]
    fn a_mistyped_customer_number_is_refused() {
        let good = customer_no(1_002_345).to_string();
        let last = good.as_bytes()[7] - b'0';
        let bad = format!("{}{}", &good[..7], (last + 1) % 10);
        assert_eq!(classify(&bad), Err(SearchError::CheckDigit));
        assert_eq!(SearchError::CheckDigit.to_string(), "check digit is wrong");
    }

    #[test]
    fn eight_digits_with_a_separator_are_a_phone_prefix_not_a_customer_number() {
        assert_eq!(
            classify("138 1234 5"),
            Ok(CustomerSearch::Digits("13812345".into()))
        );
        assert_eq!(
            classify("1381-2345"),
            Ok(CustomerSearch::Digits("13812345".into()))
        );
    }

    #[test]
    fn eight_digits_starting_with_zero_are_digits() {
        assert_eq!(
            classify("01065123"),
            Ok(CustomerSearch::Digits("01065123".into()))
        );
    }

    #[test]
    fn other_digit_strings_are_digits() {
        for (typed, digits) in [
            ("138", "138"),
            ("1", "1"),
            ("1234567", "1234567"),
            ("123456789", "123456789"),
            ("138-1234-5678", "13812345678"),
            ("010 6512 3456", "01065123456"),
            ("201600000001", "201600000001"),
        ] {
            assert_eq!(
                classify(typed),
                Ok(CustomerSearch::Digits(digits.into())),
                "{typed}"
            );
        }
    }

    #[test]
    fn badly_grouped_digits_are_text() {
        for typed in ["138--1234", "-138", "138 -1", "+86 138", "(010) 6512"] {
            assert_eq!(
                classify(typed),
                Ok(CustomerSearch::Text(typed.into())),
                "{typed}"
            );
        }
    }

    #[test]
    fn names_addresses_and_meter_numbers_are_text() {
        for typed in [
            "王",
            "王伟",
            "wang",
            "Anna Schmidt",
            "朝阳",
            "AB12",
            "3单元",
            "2016A",
        ] {
            assert_eq!(
                classify(typed),
                Ok(CustomerSearch::Text(typed.into())),
                "{typed}"
            );
        }
        assert_eq!(classify("  王伟 "), Ok(CustomerSearch::Text("王伟".into())));
    }

    #[test]
    fn full_width_digits_are_their_ascii_twins() {
        // s34-d, by hand: "１００００１１６" typed by a Chinese input method found no one.
        let number = customer_no(1_002_345);
        let full_width: String = number
            .to_string()
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
            .collect();
        assert_eq!(
            classify(&format!("\u{3000}{full_width} ")),
            Ok(CustomerSearch::CustomerNo(number))
        );
        assert_eq!(
            classify("１３８－１２３４"),
            Ok(CustomerSearch::Digits("1381234".into()))
        );
        // Text stays as typed: an address may hold full-width digits.
        assert_eq!(
            classify("文化街２９５号"),
            Ok(CustomerSearch::Text("文化街２９５号".into()))
        );
    }
}
