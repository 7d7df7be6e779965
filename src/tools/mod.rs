//! The tools around the counter app, which the app itself never uses: they use it.
//!
//! - [`rig`]: the card rig's emulated card and its link to pcscd's virtual reader (binaries
//!   `vcard` and `card-watch` in `bin/`).
//! - [`meter_sim`]: the meter simulator (`meterdesk meter`).
//! - [`card_status`]: `meterdesk card status`, the reader, the card and its PIN tries left.
//! - [`bench`]: `meterdesk bench`, the figures at a million customers.
//! - [`demo`]: `meterdesk demo-data`, demo customers with their history (COPY streams).
//! - [`check`]: `meterdesk check`, whether the books balance.
//! - [`soak`]: `meterdesk soak`, many desks at once, against pgbench on the same server.

pub mod bench;
pub mod card_status;
pub mod check;
pub mod demo;
pub mod meter_sim;
pub mod rig;
pub mod soak;
