//! The reference-data screens (4.5.1 meters and meter types, 4.8.1 price schemes, 4.6.1
//! customer types), one module each, and what they share: the short list, the reference form
//! that adds and modifies their rows (`form`), their requests (`requests`), and the delete
//! question, the keys refused while a change waits and the drawing they share (`common`). The
//! children import each other and `common`, never this file.
//!
//! Every list is reached by a command from any screen once signed in (`:meters`,
//! `:metertypes`, `:schemes`, `:custtypes`); add and modify open a [`form::RefForm`] on top of
//! the list; a delete asks once on the message line (F2 confirm, F12 cancel). Changes need the
//! operator's permission (`sql/V2`): `meter.maintain`, `meter.import`, `price.maintain`,
//! `customer_type.maintain`; viewing needs none.

pub mod common;
pub mod customer_types;
pub mod form;
pub mod list;
pub mod meter_import;
pub mod meter_types;
pub mod meters;
pub mod requests;
pub mod scheme_detail;
pub mod scheme_list;
pub mod schemes;
pub mod texts;
