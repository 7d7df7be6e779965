//! The loop's half of the app: state, messages, the pure `update`, and the runner that owns the
//! terminal, the database pool and the card reader thread.

pub mod card_seen;
pub mod card_status;
pub mod command;
pub mod file_error;
pub mod form;
pub mod help;
pub mod hub;
pub mod key_burst;
pub mod keymap;
pub mod paging;
pub mod permissions;
pub mod print_command;
pub mod request_task;
pub mod requests;
pub mod run;
pub mod screen;
pub mod services;
pub mod state;
pub mod update;

pub use command::Command;
pub use hub::{App, Hub, Screen};
pub use keymap::KeyMap;
pub use update::update;
