//! The card rig: an emulated card of card.md ([`virtual_card`]) plugged into pcscd's virtual
//! reader ([`vpcd`]), for the tests and for trying the app without hardware (`vcard`).

pub mod virtual_card;
pub mod vpcd;
