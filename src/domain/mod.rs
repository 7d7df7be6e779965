//! Pure rules of the water utility: no I/O here, everything unit-tested.

pub mod customer_number;
pub mod login;
pub mod password;
pub mod search;
