//! Card readers and IC cards (card.md).
//!
//! - [`reader`]: the reader thread, the only code that calls PC/SC; the app talks to it by
//!   messages only.
//! - [`apdu`]: ISO 7816-4 command and response encoding, shared by both sides of the wire.
//! - [`water_card`]: the card profile (what to send, where records live); no I/O, so another
//!   profile can be added next to it.
//!
//! The emulated card of the test rig is not here: it is a tool, in `tools::rig`.

pub mod apdu;
pub mod reader;
pub mod water_card;
