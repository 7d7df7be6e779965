//! meterdesk: the counter desk for metered water.
//!
//! The arrows point one way: `screens` use `app` (the hub) and `ui` (shared drawing); `ui`
//! reads `app` state; `app` imports neither and talks to `db` and `card` only by sending work
//! and receiving messages; `db` and `card` use `domain`; `domain` does no I/O.

// The counter app.
pub mod app;
pub mod card;
pub mod cardflow;
pub mod config;
pub mod db;
pub mod domain;
pub mod i18n;
pub mod init;
pub mod screens;
pub mod startup;
pub mod ui;

// The unit tests' own.
#[cfg(test)]
mod scratch_dir;

// Around it, never used by it: the card rig, the meter simulator, the bench.
pub mod tools;
