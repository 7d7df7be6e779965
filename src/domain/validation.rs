//! Field validators for the customer forms: each takes the text as typed and returns the value
//! to store, normalised (trimmed, spaces folded, codes uppercased, phone separators dropped), or
//! a [`FieldError`] the screen shows next to the field.
//!
//! Every validator refuses a blank field with [`FieldError::Required`]; wrap optional fields in
//! [`optional`]. Full-width characters that a Chinese input method types (`１３８`, `－`, `＠`)
//! are read as their ASCII twins in numbers, codes, phones and e-mail.
//!
//! A value a validator returns, typed in again, validates to itself.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::money::{MONEY_DECIMALS, PRICE_DECIMALS, VOLUME_DECIMALS, with_thousands};

/// Longest personal name or contact person, in characters.
pub const PERSONAL_NAME_MAX: usize = 50;
/// Longest company name, in characters.
pub const COMPANY_NAME_MAX: usize = 100;
/// Longest label of a statistical customer, in characters.
pub const LABEL_MAX: usize = 50;
/// Longest address or location, in characters.
pub const ADDRESS_MAX: usize = 200;
/// Longest remark, in characters.
pub const REMARK_MAX: usize = 500;
/// Longest free-form document or registration number, in characters.
pub const DOCUMENT_NUMBER_MAX: usize = 32;
/// Longest e-mail address (RFC 5321's path limit less the angle brackets).
pub const EMAIL_MAX: usize = 254;
/// Smallest and largest household size.
pub const HOUSEHOLD_MIN: u32 = 1;
pub const HOUSEHOLD_MAX: u32 = 99;

/// What is wrong with a field. Each variant is one text of the catalogue, its fields the text's
/// placeholders; the `Display` text is the English one, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("required")]
    Required,
    #[error("at most {max} characters")]
    TooLong { max: usize },
    #[error("contains an invisible control character")]
    ControlCharacter,
    #[error("a name has no digits or symbols like {character}")]
    NameCharacter { character: char },
    #[error("a mobile number has 11 digits starting 13–19, e.g. 138 0013 8000")]
    MobileNumber,
    #[error("a landline number is an area code and 7–8 digits, e.g. 010-12345678")]
    LandlineNumber,
    #[error("not a mobile or landline number")]
    PhoneNumber,
    #[error("an identity card number has 18 characters")]
    IdNumberLength,
    #[error("an identity card number is 17 digits and a digit or X")]
    IdNumberCharacters,
    #[error("the birth date in the identity card number is not a real date")]
    IdNumberBirthDate,
    #[error("the birth date in the identity card number is in the future")]
    IdNumberFutureBirthDate,
    #[error("the identity card number's check character is wrong: a character was mistyped")]
    IdNumberCheckCharacter,
    #[error("a unified social credit code has 18 characters")]
    CreditCodeLength,
    #[error("a unified social credit code has digits and capitals other than I, O, S, V, Z")]
    CreditCodeCharacters,
    #[error("the credit code's check character is wrong: a character was mistyped")]
    CreditCodeCheckCharacter,
    #[error("not an e-mail address, e.g. name@example.com")]
    Email,
    #[error("a whole number, digits only")]
    NotAWholeNumber,
    #[error("digits only")]
    DigitsOnly,
    #[error("from {min} to {max}")]
    OutOfRange { min: u32, max: u32 },
    /// With the field's example, true to its type ([`number_example`]; a rate's, [`percent`]).
    #[error("not a number, e.g. {}", with_thousands(*example))]
    NotANumber { example: Decimal },
    #[error("commas separate thousands: {}", with_thousands(*example))]
    ThousandsSeparator { example: Decimal },
    #[error("must not be negative")]
    Negative,
    #[error("at most {max} decimals")]
    TooManyDecimals { max: u32 },
    /// `max` at the field's decimals, with thousands separators as the examples are written.
    #[error("at most {}", with_thousands(*max))]
    AboveMaximum { max: Decimal },
}

/// Which identity documents the utility accepts (a setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdDocumentPolicy {
    /// Only an 18-character PRC resident identity card number, its birth date and check
    /// character checked (GB 11643-1999).
    ResidentIdentityCard,
    /// Any document (passport, travel permit, …): length and characters only.
    FreeForm,
}

/// An optional field: blank is `None`, anything else must pass `validate`.
pub fn optional<T>(
    text: &str,
    validate: impl FnOnce(&str) -> Result<T, FieldError>,
) -> Result<Option<T>, FieldError> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        validate(text).map(Some)
    }
}

/// Free text on one line: trimmed, runs of whitespace (pasted tabs and line breaks too)
/// folded to one space, no invisible control characters, at most `max` characters.
pub fn plain_text(text: &str, max: usize) -> Result<String, FieldError> {
    if text.chars().any(is_invisible_control) {
        return Err(FieldError::ControlCharacter);
    }
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        return Err(FieldError::Required);
    }
    if folded.chars().count() > max {
        return Err(FieldError::TooLong { max });
    }
    Ok(folded)
}

/// A person's name (customer or contact person): letters of any script, spaces, and the
/// marks names carry (`·` as in 阿依古丽·买买提, `.`, `-`, `'`); no digits, which are mostly a
/// phone number typed into the wrong field.
pub fn personal_name(text: &str) -> Result<String, FieldError> {
    let name = plain_text(text, PERSONAL_NAME_MAX)?;
    match name
        .chars()
        .find(|&c| c.is_numeric() || (c.is_ascii_punctuation() && !matches!(c, '.' | '-' | '\'')))
    {
        Some(character) => Err(FieldError::NameCharacter { character }),
        None => Ok(name),
    }
}

/// A company's name: free text, since names hold digits, brackets and ampersands.
pub fn company_name(text: &str) -> Result<String, FieldError> {
    plain_text(text, COMPANY_NAME_MAX)
}

/// The label of a statistical (non-billed) customer.
pub fn label(text: &str) -> Result<String, FieldError> {
    plain_text(text, LABEL_MAX)
}

/// An address, or a statistical customer's location.
pub fn address(text: &str) -> Result<String, FieldError> {
    plain_text(text, ADDRESS_MAX)
}

pub fn remark(text: &str) -> Result<String, FieldError> {
    plain_text(text, REMARK_MAX)
}

/// A mainland mobile number, optionally with +86 or 0086, stored as its 11 digits.
pub fn mobile(text: &str) -> Result<String, FieldError> {
    mobile_digits(&non_blank(text)?).ok_or(FieldError::MobileNumber)
}

/// A mainland landline: area code (010 and 02x have 3 digits, the others 4), a 7–8 digit
/// number, an optional extension of 1–6 digits (after `ext`, `x`, `转`, `#`, or as a last group
/// after the number, as in `0755-1234567-8`); optionally +86 with the area code's 0 dropped.
/// Stored as `area-number[-extension]`: the dashes are kept because the extension cannot be
/// told from the number without them.
pub fn landline(text: &str) -> Result<String, FieldError> {
    landline_parts(&non_blank(text)?).ok_or(FieldError::LandlineNumber)
}

/// A mobile or a landline number (an enterprise's phone may be either).
pub fn phone(text: &str) -> Result<String, FieldError> {
    let text = non_blank(text)?;
    mobile_digits(&text)
        .or_else(|| landline_parts(&text))
        .ok_or(FieldError::PhoneNumber)
}

/// An identity document number under the utility's policy; uppercased (a typed `x` is `X`).
/// `today` is the desk's (`App::today`, in the desk's zone): a resident ID's birth date must not
/// be after it. Passed in, so the domain reads no clock and knows no zone.
pub fn id_document_number(
    text: &str,
    policy: IdDocumentPolicy,
    today: NaiveDate,
) -> Result<String, FieldError> {
    match policy {
        IdDocumentPolicy::ResidentIdentityCard => resident_identity_number(text, today),
        // A number shaped like a resident identity card's (17 digits and a digit or X) is one,
        // check character and all, whatever the policy: the database refuses it otherwise
        // (sql/V108), as `registration_number` holds a credit code's shape.
        IdDocumentPolicy::FreeForm if looks_like_a_resident_id(text) => {
            resident_identity_number(text, today)
        }
        IdDocumentPolicy::FreeForm => free_form_number(text),
    }
}

/// 17 digits and a digit or an X, spaces and case aside.
fn looks_like_a_resident_id(text: &str) -> bool {
    let code = compact_code(&halfwidth_text(text));
    let bytes = code.as_bytes();
    bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X')
}

/// A unified social credit code (GB 32100-2015): 18 characters of its alphabet, the last a
/// check character; spaces dropped, uppercased.
pub fn unified_social_credit_code(text: &str) -> Result<String, FieldError> {
    let code = compact_code(&non_blank(text)?);
    let values: Vec<u32> = code
        .chars()
        .map(|c| CREDIT_CODE_ALPHABET.find(c).map(|value| value as u32))
        .collect::<Option<_>>()
        .ok_or(FieldError::CreditCodeCharacters)?;
    if values.len() != 18 {
        return Err(FieldError::CreditCodeLength);
    }
    let sum: u32 = values
        .iter()
        .zip(CREDIT_CODE_WEIGHTS)
        .map(|(v, w)| v * w)
        .sum();
    if (31 - sum % 31) % 31 != values[17] {
        return Err(FieldError::CreditCodeCheckCharacter);
    }
    Ok(code)
}

/// An enterprise's registration: anything shaped like a unified social credit code (18
/// characters of its alphabet) must be one, check character and all, so a mistyped code is
/// caught; anything else (an old 15-digit registration number, a foreign one) is free form.
pub fn registration_number(text: &str) -> Result<String, FieldError> {
    let code = compact_code(&non_blank(text)?);
    if code.chars().count() == 18 && code.chars().all(|c| CREDIT_CODE_ALPHABET.contains(c)) {
        unified_social_credit_code(&code)
    } else {
        free_form_number(text)
    }
}

/// A plain e-mail address: `local@domain.tld`, ASCII, the domain lowercased.
pub fn email(text: &str) -> Result<String, FieldError> {
    let text = non_blank(text)?;
    let (local, domain) = text.split_once('@').ok_or(FieldError::Email)?;
    let local_ok = (1..=64).contains(&local.len())
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if !(local_ok && domain_ok && text.len() <= EMAIL_MAX) {
        return Err(FieldError::Email);
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// The number of people in a household, 1–99.
pub fn household_size(text: &str) -> Result<u32, FieldError> {
    let text = non_blank(text)?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::NotAWholeNumber);
    }
    let out_of_range = FieldError::OutOfRange {
        min: HOUSEHOLD_MIN,
        max: HOUSEHOLD_MAX,
    };
    let significant = text.trim_start_matches('0');
    // More than two digits is out of range already, and would not fit a u32 if long enough.
    if significant.len() > 2 {
        return Err(out_of_range);
    }
    let size = significant.parse().unwrap_or(0);
    if (HOUSEHOLD_MIN..=HOUSEHOLD_MAX).contains(&size) {
        Ok(size)
    } else {
        Err(out_of_range)
    }
}

/// Money as a clerk types it (`120`, `120.5`, `1,234.50`): not negative, at most 2 decimals,
/// at most `max`. Comes back with exactly 2 decimals.
pub fn amount(text: &str, max: Decimal) -> Result<Decimal, FieldError> {
    decimal_number(text, MONEY_DECIMALS, max)
}

/// A volume in m³: not negative, at most 3 decimals, at most `max`. Comes back with exactly 3
/// decimals.
pub fn volume(text: &str, max: Decimal) -> Result<Decimal, FieldError> {
    decimal_number(text, VOLUME_DECIMALS, max)
}

/// A unit price per m³: not negative, at most 4 decimals, at most `max`.
pub fn unit_price(text: &str, max: Decimal) -> Result<Decimal, FieldError> {
    decimal_number(text, PRICE_DECIMALS, max)
}

/// A rate in percent (VAT): not negative, at most 2 decimals, at most `max`. Its example is a
/// rate's.
pub fn percent(text: &str, max: Decimal) -> Result<Decimal, FieldError> {
    decimal_number(text, 2, max).map_err(|error| match error {
        FieldError::NotANumber { .. } => FieldError::NotANumber {
            example: RATE_EXAMPLE,
        },
        FieldError::ThousandsSeparator { .. } => FieldError::ThousandsSeparator {
            example: RATE_EXAMPLE,
        },
        error => error,
    })
}

/// The GB 32100-2015 alphabet: digits and capitals without I, O, S, V, Z; a character's value
/// is its position.
const CREDIT_CODE_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// 3^i mod 31 for the first 17 positions.
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// 2^(17−i) mod 11 for the first 17 positions (ISO 7064 MOD 11-2).
const ID_NUMBER_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder of the weighted sum.
const ID_NUMBER_CHECK: &[u8; 11] = b"10X98765432";
/// Longest extension of a landline.
const EXTENSION_MAX_DIGITS: usize = 6;

/// Control characters a terminal shows as nothing, and the bidirectional overrides and
/// zero-width characters that make stored text read differently from what it holds.
/// Whitespace controls (tab, line breaks) are not here: `plain_text` folds them into spaces.
fn is_invisible_control(c: char) -> bool {
    (c.is_control() && !c.is_whitespace())
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Full-width ASCII forms (U+FF01–U+FF5E) and the ideographic space as their ASCII twins: how
/// every number, code, login and meter number a Chinese input method typed is read — in the
/// forms, the search, the sign-in and the import files alike.
pub fn halfwidth_text(text: &str) -> String {
    text.chars().map(halfwidth).collect()
}

/// The ASCII twin of a full-width character a Chinese input method types (`１` → `1`, `－` →
/// `-`, the ideographic space → space); any other character as it is.
pub fn halfwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// The typed text in ASCII forms and trimmed, or `Required` when there is nothing.
fn non_blank(text: &str) -> Result<String, FieldError> {
    let text = halfwidth_text(text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(FieldError::Required)
    } else {
        Ok(trimmed.to_owned())
    }
}

/// A code as typed with its spaces dropped and uppercased.
fn compact_code(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn free_form_number(text: &str) -> Result<String, FieldError> {
    plain_text(&halfwidth_text(text), DOCUMENT_NUMBER_MAX).map(|number| number.to_ascii_uppercase())
}

/// A resident identity card number of someone born by `today`.
fn resident_identity_number(text: &str, today: NaiveDate) -> Result<String, FieldError> {
    let number = compact_code(&non_blank(text)?);
    if number.chars().count() != 18 {
        return Err(FieldError::IdNumberLength);
    }
    let bytes = number.as_bytes();
    if !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
    {
        return Err(FieldError::IdNumberCharacters);
    }
    let digits = |range: std::ops::Range<usize>| number[range].parse::<u32>().unwrap_or(0);
    let born = i32::try_from(digits(6..10))
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, digits(10..12), digits(12..14)));
    if born.is_none_or(|date| date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN))
    {
        return Err(FieldError::IdNumberBirthDate);
    }
    if born.is_some_and(|date| date > today) {
        return Err(FieldError::IdNumberFutureBirthDate);
    }
    if check_character(&bytes[..17]) != bytes[17] {
        return Err(FieldError::IdNumberCheckCharacter);
    }
    Ok(number)
}

/// The check character (GB 11643) of an identity number's first seventeen digits.
fn check_character(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(ID_NUMBER_WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    ID_NUMBER_CHECK[(sum % 11) as usize]
}

fn is_phone_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '(' | ')')
}

/// The text without separators and without a +86 / 0086 prefix; `true` when there was one.
fn phone_digits(text: &str) -> (bool, String) {
    let compact: String = text.chars().filter(|&c| !is_phone_separator(c)).collect();
    match compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
    {
        Some(national) => (true, national.to_owned()),
        None => (false, compact),
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn mobile_digits(text: &str) -> Option<String> {
    let (_, digits) = phone_digits(text);
    let bytes = digits.as_bytes();
    (bytes.len() == 11
        && all_digits(&digits)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1]))
    .then_some(digits)
}

/// `area-number[-extension]` from a typed landline, extension and all.
fn landline_parts(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let marked = ["ext.", "ext", "x", "转", "#"]
        .iter()
        .find_map(|marker| lower.split_once(marker));
    let (number, extension) = match marked {
        Some((number, extension)) => (number.to_owned(), Some(extension.trim().to_owned())),
        None => match last_group_as_extension(&lower) {
            Some((number, extension)) => (number, Some(extension)),
            None => (lower, None),
        },
    };
    let number = landline_number(&number)?;
    match extension {
        None => Some(number),
        Some(extension) if all_digits(&extension) && extension.len() <= EXTENSION_MAX_DIGITS => {
            Some(format!("{number}-{extension}"))
        }
        Some(_) => None,
    }
}

/// `0755-1234567-8`: with three or more groups, a short last group is the extension when the
/// groups before it make a whole number.
fn last_group_as_extension(text: &str) -> Option<(String, String)> {
    let groups: Vec<&str> = text
        .split(is_phone_separator)
        .filter(|group| !group.is_empty())
        .collect();
    let (last, before) = groups.split_last()?;
    let number = before.join("-");
    (groups.len() >= 3
        && all_digits(last)
        && last.len() <= EXTENSION_MAX_DIGITS
        && landline_number(&number).is_some())
    .then(|| (number, (*last).to_owned()))
}

/// `area-number` from a landline without extension.
fn landline_number(text: &str) -> Option<String> {
    let (international, digits) = phone_digits(text);
    // After +86 the area code loses its 0, though some write it in brackets: +86 (0)755 …
    let digits = if international && !digits.starts_with('0') {
        format!("0{digits}")
    } else {
        digits
    };
    if !all_digits(&digits) || !digits.starts_with('0') || digits[1..].starts_with('0') {
        return None;
    }
    let area_len = if digits.starts_with("01") || digits.starts_with("02") {
        3
    } else {
        4
    };
    let (area, number) = digits.split_at_checked(area_len)?;
    // A number starting with 0 is an area code typed twice, or split in the wrong place.
    ((7..=8).contains(&number.len()) && !number.starts_with('0'))
        .then(|| format!("{area}-{number}"))
}

/// The example a number field's hints give, true to its type: `1,234.567` for a volume (three
/// decimals), `1,234.56` for money, `1,234.5678` for a unit price; a rate's is its own
/// ([`percent`]).
pub fn number_example(decimals: u32) -> Decimal {
    Decimal::new(12_345_678, 4).trunc_with_scale(decimals)
}

/// A rate in percent as the hints give it: a VAT rate, not an amount (s44-d: "e.g. 1,234.56").
const RATE_EXAMPLE: Decimal = Decimal::from_parts(95, 0, 0, false, 1);

/// A non-negative decimal with at most `decimals` decimals and at most `max`, commas allowed
/// only between groups of three digits (so a decimal comma, `12,50`, is refused, not read as
/// 1250).
fn decimal_number(text: &str, decimals: u32, max: Decimal) -> Result<Decimal, FieldError> {
    let text = non_blank(text)?;
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || !whole.bytes().all(|b| b.is_ascii_digit() || b == b',')
    {
        return Err(FieldError::NotANumber {
            example: number_example(decimals),
        });
    }
    let whole = ungrouped(whole, decimals)?;
    // "-0" is zero: only a number other than zero is negative.
    let zero = whole.bytes().chain(fraction.bytes()).all(|b| b == b'0');
    if negative && !zero {
        return Err(FieldError::Negative);
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > decimals as usize {
        return Err(FieldError::TooManyDecimals { max: decimals });
    }
    let whole = whole.trim_start_matches('0');
    let mut shown_max = max;
    shown_max.rescale(decimals);
    let too_large = FieldError::AboveMaximum { max: shown_max };
    // Decimal holds 28 digits; anything with more than 20 before the point is above any max.
    if whole.len() > 20 {
        return Err(too_large);
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut value: Decimal = format!("{whole}.{fraction}")
        .trim_end_matches('.')
        .parse()
        .map_err(|_| FieldError::NotANumber {
            example: number_example(decimals),
        })?;
    if value > max {
        return Err(too_large);
    }
    value.rescale(decimals);
    Ok(value)
}

/// The digits of `1,234,567`; commas, if any, must split the digits in groups of three after
/// a first group of one to three.
fn ungrouped(whole: &str, decimals: u32) -> Result<String, FieldError> {
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or_default();
    let rest: Vec<&str> = groups.collect();
    if !rest.is_empty()
        && (!(1..=3).contains(&first.len()) || rest.iter().any(|group| group.len() != 3))
    {
        return Err(FieldError::ThousandsSeparator {
            example: number_example(decimals),
        });
    }
    Ok(whole.replace(',', ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::tests::dec;
    use proptest::prelude::*;

    #[test]
    fn an_identity_card_number_born_after_today_is_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        // 110105 20261204 001 and its check character: born tomorrow.
        let tomorrow = "11010520261204001";
        let number = format!("{tomorrow}{}", check_character(tomorrow.as_bytes()) as char);
        assert_eq!(
            resident_identity_number(&number, today),
            Err(FieldError::IdNumberFutureBirthDate)
        );
        let day_after = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(resident_identity_number(&number, day_after), Ok(number));
    }

    /// The desk's today the other cases are checked on (none is near it).
    fn a_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    fn strict_id(text: &str) -> Result<String, FieldError> {
        id_document_number(text, IdDocumentPolicy::ResidentIdentityCard, a_day())
    }

    fn free_id(text: &str) -> Result<String, FieldError> {
        id_document_number(text, IdDocumentPolicy::FreeForm, a_day())
    }

    #[test]
    fn an_identity_number_is_checked_against_the_day_it_is_given_not_the_machines_clock() {
        // Born on 2026-12-06: the day in Shanghai while the machine's clock (UTC) still says
        // the 5th. The desk's today is what decides, under either policy; no clock is read.
        let born = "11010520261206001";
        let number = format!("{born}{}", check_character(born.as_bytes()) as char);
        let desk_today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let day_before = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        for policy in [
            IdDocumentPolicy::ResidentIdentityCard,
            IdDocumentPolicy::FreeForm,
        ] {
            assert_eq!(
                id_document_number(&number, policy, desk_today),
                Ok(number.clone()),
                "{policy:?}"
            );
            assert_eq!(
                id_document_number(&number, policy, day_before),
                Err(FieldError::IdNumberFutureBirthDate),
                "{policy:?}"
            );
        }
        // Far in the future whatever the clock says: the given day alone decides.
        assert_eq!(
            id_document_number(&number, IdDocumentPolicy::FreeForm, NaiveDate::MIN),
            Err(FieldError::IdNumberFutureBirthDate)
        );
    }

    fn money(text: &str) -> Result<Decimal, FieldError> {
        amount(text, dec("100000"))
    }

    fn cubic_metres(text: &str) -> Result<Decimal, FieldError> {
        volume(text, dec("10000"))
    }

    fn ok(text: &str) -> Result<String, FieldError> {
        Ok(text.to_owned())
    }

    #[test]
    fn blank_is_required_everywhere_and_optional_makes_it_none() {
        for blank in ["", "   ", "\u{3000}", "\t\n"] {
            assert_eq!(plain_text(blank, 10), Err(FieldError::Required));
            assert_eq!(personal_name(blank), Err(FieldError::Required));
            assert_eq!(mobile(blank), Err(FieldError::Required));
            assert_eq!(landline(blank), Err(FieldError::Required));
            assert_eq!(strict_id(blank), Err(FieldError::Required));
            assert_eq!(free_id(blank), Err(FieldError::Required));
            assert_eq!(registration_number(blank), Err(FieldError::Required));
            assert_eq!(email(blank), Err(FieldError::Required));
            assert_eq!(household_size(blank), Err(FieldError::Required));
            assert_eq!(money(blank), Err(FieldError::Required));
            assert_eq!(optional(blank, email), Ok(None));
        }
        assert_eq!(optional(" a@b.cn ", email), Ok(Some("a@b.cn".to_owned())));
        assert_eq!(optional("nope", email), Err(FieldError::Email));
    }

    #[test]
    fn text_is_trimmed_folded_and_limited() {
        assert_eq!(
            plain_text("  Hai Dian\t Road \n 5 ", 50),
            ok("Hai Dian Road 5")
        );
        assert_eq!(plain_text("海淀路　5号", 50), ok("海淀路 5号"));
        assert_eq!(plain_text("水水水", 3), ok("水水水"));
        assert_eq!(
            plain_text("水水水水", 3),
            Err(FieldError::TooLong { max: 3 })
        );
    }

    /// A validator of a text field.
    type TextField = fn(&str) -> Result<String, FieldError>;

    #[test]
    fn each_text_field_takes_up_to_its_limit() {
        let fields: [(&str, TextField, usize); 5] = [
            ("personal name", personal_name, PERSONAL_NAME_MAX),
            ("company name", company_name, COMPANY_NAME_MAX),
            ("label", label, LABEL_MAX),
            ("address", address, ADDRESS_MAX),
            ("remark", remark, REMARK_MAX),
        ];
        for (field, validate, max) in fields {
            let longest = "水".repeat(max);
            assert_eq!(validate(&longest), ok(&longest), "{field} at its limit");
            let too_long = format!("{longest}水");
            assert_eq!(
                validate(&too_long),
                Err(FieldError::TooLong { max }),
                "{field}"
            );
        }
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        for sneaky in [
            "a\u{0}b",
            "a\u{1b}[31mb",
            "abc\u{202E}cba",
            "a\u{2066}b",
            "a\u{200B}b",
            "\u{FEFF}a",
            "a\u{7f}",
        ] {
            assert_eq!(
                address(sneaky),
                Err(FieldError::ControlCharacter),
                "{sneaky:?}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(personal_name(" 张 伟 "), ok("张 伟"));
        assert_eq!(personal_name("阿依古丽·买买提"), ok("阿依古丽·买买提"));
        assert_eq!(
            personal_name("Mary-Jane O'Neil Jr."),
            ok("Mary-Jane O'Neil Jr.")
        );
        assert_eq!(
            personal_name("张伟13800138000"),
            Err(FieldError::NameCharacter { character: '1' })
        );
        assert_eq!(
            personal_name("Zhang@Wei"),
            Err(FieldError::NameCharacter { character: '@' })
        );
        assert_eq!(
            company_name("福州自来水有限公司（第2分公司）& Co."),
            ok("福州自来水有限公司（第2分公司）& Co.")
        );
        assert_eq!(label("Fire hydrant 7"), ok("Fire hydrant 7"));
    }

    #[test]
    fn mobiles() {
        for typed in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+86 138 0013 8000",
            "0086 13800138000",
            "(+86)13800138000",
            "１３８００１３８０００",
            "19912345678",
        ] {
            assert_eq!(mobile(typed), ok(typed_digits(typed)), "{typed}");
        }
        for bad in [
            "1380013800",
            "138001380001",
            "12800138000",
            "23800138000",
            "1380013800a",
            "+1 13800138000",
            "86 13800138000",
        ] {
            assert_eq!(mobile(bad), Err(FieldError::MobileNumber), "{bad}");
        }
    }

    /// The 11 digits a valid mobile in `mobiles` stands for.
    fn typed_digits(typed: &str) -> &'static str {
        if typed.starts_with("199") {
            "19912345678"
        } else {
            "13800138000"
        }
    }

    #[test]
    fn landlines() {
        let cases = [
            ("010-12345678", "010-12345678"),
            ("010 1234 5678", "010-12345678"),
            ("01012345678", "010-12345678"),
            ("(0755) 1234567", "0755-1234567"),
            ("0755-12345678", "0755-12345678"),
            ("0591 8765 4321", "0591-87654321"),
            ("+86 10 1234 5678", "010-12345678"),
            ("+86 (0)755 1234567", "0755-1234567"),
            ("0086-21-62345678", "021-62345678"),
            ("010-12345678-123", "010-12345678-123"),
            ("0755-1234567-8", "0755-1234567-8"),
            ("010-12345678 ext. 42", "010-12345678-42"),
            ("010 12345678 x42", "010-12345678-42"),
            ("010-12345678转8001", "010-12345678-8001"),
            ("０１０－１２３４５６７８", "010-12345678"),
        ];
        for (typed, stored) in cases {
            assert_eq!(landline(typed), ok(stored), "{typed}");
        }
        for bad in [
            "12345678",
            "010-123456",
            "010-123456789",
            "0010-12345678",
            "010-02345678",
            "010-12345678-1234567",
            "010-12345678 ext",
            "13800138000",
        ] {
            assert_eq!(landline(bad), Err(FieldError::LandlineNumber), "{bad}");
        }
    }

    #[test]
    fn a_phone_is_either() {
        assert_eq!(phone("138 0013 8000"), ok("13800138000"));
        assert_eq!(phone("0591-87654321"), ok("0591-87654321"));
        assert_eq!(phone("12345"), Err(FieldError::PhoneNumber));
    }

    #[test]
    fn resident_identity_numbers() {
        // GB 11643-1999's own examples.
        assert_eq!(strict_id("11010519491231002X"), ok("11010519491231002X"));
        assert_eq!(
            strict_id(" 110105 19491231 002x "),
            ok("11010519491231002X")
        );
        assert_eq!(
            strict_id("440524188001010014"),
            Err(FieldError::IdNumberBirthDate)
        ); // born 1880
        assert_eq!(
            strict_id("110105194912310021"),
            Err(FieldError::IdNumberCheckCharacter)
        );
        assert_eq!(
            strict_id("11010519491231002"),
            Err(FieldError::IdNumberLength)
        );
        assert_eq!(
            strict_id("110105194912310"),
            Err(FieldError::IdNumberLength)
        ); // 15-digit, first generation
        assert_eq!(
            strict_id("1101051949123100XX"),
            Err(FieldError::IdNumberCharacters)
        );
        assert_eq!(
            strict_id("11010519490231002X"),
            Err(FieldError::IdNumberBirthDate)
        ); // 31 Feb
        assert_eq!(
            strict_id("11010519491331002X"),
            Err(FieldError::IdNumberBirthDate)
        ); // month 13
        assert_eq!(free_id(" e1234567x "), ok("E1234567X"));
        assert_eq!(
            free_id(&"9".repeat(DOCUMENT_NUMBER_MAX + 1)),
            Err(FieldError::TooLong {
                max: DOCUMENT_NUMBER_MAX
            })
        );
        assert_eq!(free_id("E12\u{202E}34"), Err(FieldError::ControlCharacter));
        // sql/V108: a number shaped like a resident identity card's is one, whatever the policy.
        assert_eq!(
            free_id("110105194912310021"),
            Err(FieldError::IdNumberCheckCharacter)
        );
        assert_eq!(free_id(" 11010519491231002x"), ok("11010519491231002X"));
        assert_eq!(free_id("11010519491231002"), ok("11010519491231002"));
    }

    #[test]
    fn unified_social_credit_codes() {
        for good in [
            "91350100M000100Y43",
            "91110000600037341L",
            "91310000MA1FL1NL88",
        ] {
            assert_eq!(unified_social_credit_code(good), ok(good));
            assert_eq!(registration_number(good), ok(good));
        }
        assert_eq!(
            unified_social_credit_code("9135 0100 m000 100y43"),
            ok("91350100M000100Y43")
        );
        assert_eq!(
            unified_social_credit_code("91350100M000100Y44"),
            Err(FieldError::CreditCodeCheckCharacter)
        );
        assert_eq!(
            unified_social_credit_code("91350100M000100Y4"),
            Err(FieldError::CreditCodeLength)
        );
        assert_eq!(
            unified_social_credit_code("91350100M000100O43"),
            Err(FieldError::CreditCodeCharacters)
        );
        // Shaped like a credit code, so held to one; anything else is a free-form number.
        assert_eq!(
            registration_number("91350100M000100Y44"),
            Err(FieldError::CreditCodeCheckCharacter)
        );
        assert_eq!(
            registration_number("350100400012345"),
            ok("350100400012345")
        );
        assert_eq!(registration_number("hrb 12345 b"), ok("HRB 12345 B"));
    }

    #[test]
    fn emails() {
        assert_eq!(
            email(" Zhang.Wei+water@Example.COM.cn "),
            ok("Zhang.Wei+water@example.com.cn")
        );
        assert_eq!(email("ｌｉ＠ｆｚ.ｃｎ"), ok("li@fz.cn"));
        for bad in [
            "zhang",
            "zhang@",
            "@example.com",
            "a@b",
            "a@b.c",
            "a b@c.cn",
            "a@@b.cn",
            "a@b..cn",
            ".a@b.cn",
            "a..b@c.cn",
            "a@-b.cn",
            "张@例子.中国",
            "a@b.c1",
        ] {
            assert_eq!(email(bad), Err(FieldError::Email), "{bad}");
        }
    }

    #[test]
    fn household_sizes() {
        assert_eq!(household_size(" 4 "), Ok(4));
        assert_eq!(household_size("099"), Ok(99));
        assert_eq!(household_size("０３"), Ok(3));
        let range = FieldError::OutOfRange { min: 1, max: 99 };
        assert_eq!(household_size("0"), Err(range.clone()));
        assert_eq!(household_size("100"), Err(range.clone()));
        assert_eq!(household_size("99999999999999999999999"), Err(range));
        assert_eq!(household_size("-1"), Err(FieldError::NotAWholeNumber));
        assert_eq!(household_size("2.5"), Err(FieldError::NotAWholeNumber));
    }

    /// What typing each text into a number field gives, as the field shows it back; a failure
    /// names the text.
    fn check_numbers(
        field: fn(&str) -> Result<Decimal, FieldError>,
        cases: &[(&str, Result<&str, FieldError>)],
    ) {
        for (typed, expected) in cases {
            let read = field(typed).map(|value| value.to_string());
            assert_eq!(read, expected.clone().map(str::to_owned), "typed {typed:?}");
        }
    }

    #[test]
    fn amounts() {
        use FieldError::*;
        let above = AboveMaximum { max: dec("100000") };
        let example = dec("1234.56");
        let forty_nines = "9".repeat(40);
        let mut cases = vec![
            ("120", Ok("120.00")),
            ("120.5", Ok("120.50")),
            ("1,234.50", Ok("1234.50")),
            (" .5", Ok("0.50")),
            ("7.", Ok("7.00")),
            ("0", Ok("0.00")),
            ("120.500", Ok("120.50")),
            ("１２０.５", Ok("120.50")),
            ("100000.00", Ok("100000.00")),
            ("12,345,678", Err(above.clone())),
            ("100000.01", Err(above.clone())),
            (&forty_nines, Err(above)),
            ("-5", Err(Negative)),
            // Zero with a sign is zero, not a negative number (s43-e: "-0" was said negative).
            ("-0", Ok("0.00")),
            ("-0.00", Ok("0.00")),
            ("-0.01", Err(Negative)),
            ("1.005", Err(TooManyDecimals { max: 2 })),
            ("12,50", Err(ThousandsSeparator { example })),
            ("1234,567", Err(ThousandsSeparator { example })),
        ];
        let junk = ["abc", ".", "-", "1.2.3", "+5", "1 234", "1e3", "¥5", "1.-5"];
        cases.extend(junk.map(|junk| (junk, Err(NotANumber { example }))));
        check_numbers(money, &cases);
    }

    /// A rate's example is a rate: "e.g. 9.5", not money's "1,234.56" (s44-d, found).
    #[test]
    fn a_rates_example_is_a_rate_and_an_amounts_is_money() {
        let vat = |text: &str| percent(text, dec("99.99"));
        assert_eq!(
            vat("abc"),
            Err(FieldError::NotANumber {
                example: dec("9.5")
            })
        );
        assert_eq!(
            vat("abc").unwrap_err().to_string(),
            "not a number, e.g. 9.5"
        );
        assert_eq!(
            vat("9,50").unwrap_err().to_string(),
            "commas separate thousands: 9.5"
        );
        assert_eq!(
            money("abc").unwrap_err().to_string(),
            "not a number, e.g. 1,234.56"
        );
        assert_eq!(
            cubic_metres("1e3").unwrap_err().to_string(),
            "not a number, e.g. 1,234.567"
        );
    }

    #[test]
    fn volumes() {
        let above = FieldError::AboveMaximum { max: dec("10000") };
        check_numbers(
            cubic_metres,
            &[
                ("34.782", Ok("34.782")),
                ("2", Ok("2.000")),
                ("1,000.5", Ok("1000.500")),
                ("0.0001", Err(FieldError::TooManyDecimals { max: 3 })),
                ("10000.001", Err(above)),
            ],
        );
    }

    /// A validator with its result shown as text, the way it would be typed back in.
    type Validator = Box<dyn Fn(&str) -> Result<String, FieldError>>;

    /// Every validator, named (by its function) for failure messages.
    fn all_validators() -> Vec<(&'static str, Validator)> {
        fn plain_text_20(text: &str) -> Result<String, FieldError> {
            plain_text(text, 20)
        }
        macro_rules! named {
            ($($validator:ident),+) => {
                vec![$((
                    stringify!($validator),
                    Box::new(|text: &str| $validator(text).map(|value| value.to_string()))
                        as Validator,
                )),+]
            };
        }
        named![
            plain_text_20,
            personal_name,
            company_name,
            label,
            address,
            remark,
            mobile,
            landline,
            phone,
            strict_id,
            free_id,
            unified_social_credit_code,
            registration_number,
            email,
            household_size,
            money,
            cubic_metres
        ]
    }

    /// Text that looks like what a clerk types into these fields, so that many inputs pass.
    fn typed_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9 ,.+()xX-]{0,24}",
            "(\\+86 ?)?1[3-9][0-9]{9}",
            "(\\+86 )?0[1-9][0-9]{1,2}[- ]?[2-9][0-9]{6,7}([- ]?[0-9]{1,4}| ext [0-9]{1,4})?",
            "[1-6][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}[0-9Xx]",
            "[0-9A-HJ-NP-RTUW-Ya-z ]{15,20}",
            "[a-zA-Z0-9._+-]{1,10}@[a-zA-Z0-9-]{1,8}(\\.[a-zA-Z]{2,4}){1,2}",
            "[0-9]{0,3}(,[0-9]{3}){0,3}(\\.[0-9]{0,4})?",
            "[ \t\u{3000}]{0,2}[张伟王芳李娜·a-zA-Z0-9 '.@\u{202E}\u{200B}\u{0}-]{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// No validator panics, whatever is typed or pasted.
        #[test]
        fn no_validator_panics(text in typed_text()) {
            for (_, validate) in all_validators() {
                let _ = validate(&text);
            }
        }

        /// Whatever a validator accepts, typed in again, is accepted as itself.
        #[test]
        fn accepted_values_validate_to_themselves(text in typed_text()) {
            for (name, validate) in all_validators() {
                if let Ok(value) = validate(&text) {
                    prop_assert_eq!(validate(&value), Ok(value.clone()), "{} of {:?}", name, text);
                }
            }
        }

        /// A valid resident identity number with one character changed is always refused.
        #[test]
        fn a_mistyped_identity_number_is_caught(position in 0usize..18, replacement in "[0-9X]") {
            let good = "11010519491231002X";
            let mut typed: Vec<char> = good.chars().collect();
            let replacement = replacement.chars().next().unwrap();
            prop_assume!(typed[position] != replacement);
            typed[position] = replacement;
            let typed: String = typed.into_iter().collect();
            prop_assert!(strict_id(&typed).is_err());
        }

        /// So is a valid credit code with one character changed.
        #[test]
        fn a_mistyped_credit_code_is_caught(position in 0usize..18, value in 0usize..31) {
            let good = "91350100M000100Y43";
            let mut typed: Vec<char> = good.chars().collect();
            let replacement = CREDIT_CODE_ALPHABET.chars().nth(value).unwrap();
            prop_assume!(typed[position] != replacement);
            typed[position] = replacement;
            let typed: String = typed.into_iter().collect();
            prop_assert_eq!(unified_social_credit_code(&typed), Err(FieldError::CreditCodeCheckCharacter));
        }
    }
}
