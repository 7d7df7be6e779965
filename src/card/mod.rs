//! Card readers and IC cards (card.md).
//!
//! - [`reader`]: the reader thread, the only code that calls PC/SC; the app talks to it by
//!   messages only.
//! - [`apdu`]: ISO 7816-4 command and response encoding, shared by both sides of the wire.
//! - [`water_card`]: the card profile (what to send, where records live); no I/O, so another
//!   profile can be added next to it.
//! - [`virtual_card`] and [`vpcd`]: an emulated card plugged into pcscd's virtual reader, for the
//!   test rig and for demos (`vcard` binary).

pub mod apdu;
pub mod reader;
pub mod virtual_card;
pub mod vpcd;
pub mod water_card;
