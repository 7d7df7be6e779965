//! The screens, one module each: its state, keys, replies, requests (and how they execute),
//! commands, crumb and draw; see "How to add a screen" in ARCHITECTURE.md.

pub mod basic_info;
pub mod card;
pub mod details;
pub mod login;
pub mod measure;
pub mod modify;
pub mod open_account;
pub mod operators;
pub mod overview;
pub mod password;
pub mod reference;
pub mod table;
pub mod transfer;

use crate::app::App;
use crate::app::screen::Registry;
use crate::app::{Command, KeyMap, Screen, state::Look};
use crate::i18n::Lang;
use reference::{customer_types, list, meter_types, scheme_list};

/// What the hub opens by name: the first screen, and a screen per command that opens one from
/// any screen offering the command. Adding a screen reachable by a command is one line here.
pub static REGISTRY: Registry = Registry {
    sign_in: || Box::new(login::SignIn::default()) as Box<dyn Screen>,
    opens: &[(Command::Overview, overview::open)],
    opens_anywhere: &[
        (Command::Card, card::open),
        (Command::Password, password::open),
        (Command::Meters, reference::meters::open),
        (
            Command::MeterTypes,
            list::open::<meter_types::MeterTypeList>,
        ),
        (Command::Schemes, list::open::<scheme_list::SchemeList>),
        (
            Command::CustomerTypes,
            list::open::<customer_types::CustomerTypeList>,
        ),
        (Command::Operators, operators::list::open),
        (
            Command::Departments,
            list::open::<operators::departments::DepartmentList>,
        ),
        (Command::Roles, list::open::<operators::roles::RoleList>),
    ],
    draw: crate::ui::draw,
};

/// The app at its sign-in screen, with these screens.
pub fn app(keymap: KeyMap, lang: Lang, look: Look) -> App {
    App::new(keymap, lang, look, &REGISTRY)
}
