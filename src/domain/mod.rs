//! Pure rules of the water utility: no I/O here, everything unit-tested.

pub mod billing;
pub mod card_counter;
pub mod card_records;
pub mod csv;
pub mod customer_number;
pub mod customer_rules;
pub mod meter;
pub mod meter_csv;
pub mod money;
pub mod password;
pub mod pricing;
pub mod reading_csv;
pub mod report_days;
pub mod search;
pub mod system_cards;
pub mod validation;
