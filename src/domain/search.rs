//! What a clerk typed in the customer search box, classified (interim; replaced by the search
//! branch).

use crate::domain::customer_number::{CustomerNumber, CustomerNumberError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerSearch {
    All,
    CustomerNo(CustomerNumber),
    Digits(String),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("check digit is wrong")]
    CheckDigit,
}

pub fn classify(typed: &str) -> Result<CustomerSearch, SearchError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(CustomerSearch::All);
    }
    if typed.len() == 8 && typed.bytes().all(|b| b.is_ascii_digit()) {
        return match typed.parse::<CustomerNumber>() {
            Ok(number) => Ok(CustomerSearch::CustomerNo(number)),
            Err(CustomerNumberError::CheckDigit) => Err(SearchError::CheckDigit),
            Err(_) => Ok(CustomerSearch::Digits(typed.to_owned())),
        };
    }
    if typed
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-')
    {
        return Ok(CustomerSearch::Digits(typed.to_owned()));
    }
    Ok(CustomerSearch::Text(typed.to_owned()))
}
