//! meterdesk: the counter desk for metered water.
//!
//! The arrows point one way: `ui` reads `app` state; `app` talks to `db` and `card` only by
//! sending work and receiving messages; `db` and `card` use `domain`; `domain` does no I/O.

pub mod app;
pub mod bench;
pub mod card;
pub mod cardflow;
pub mod config;
pub mod db;
pub mod domain;
pub mod i18n;
pub mod meter_sim;
pub mod startup;
pub mod ui;
