//! The screens, one module each: its state, keys, replies, requests (and how they execute),
//! commands, crumb and draw; see "How to add a screen" in ARCHITECTURE.md.

pub mod account;
pub mod arrears;
pub mod audit;
pub mod basic_info;
pub mod bills;
pub mod card;
pub mod close_account;
pub mod details;
pub mod legend;
pub mod login;
pub mod measure;
pub mod modify;
pub mod open_account;
pub mod operators;
pub mod overview;
pub mod password;
pub mod reading;
pub mod reading_import;
pub mod receipt;
pub mod reference;
pub mod reports;
pub mod row_actions;
pub mod shift;
pub mod system_card;
pub mod table;
pub mod transfer;

use crate::app::App;
use crate::app::screen::{Registry, new_screen};
use crate::app::{Command, KeyMap, state::Look};
use crate::i18n::Lang;
use reference::list::ShortList;
use reference::{customer_types, meter_types, scheme_list};

/// What the hub opens by name: the first screen, and a screen per command that opens one from
/// any screen offering the command. Adding a screen reachable by a command is one line here.
pub static REGISTRY: Registry = Registry {
    after_a_read: card::after_a_read,
    sign_in: new_screen::<login::SignIn>,
    opens: &[(Command::Overview, new_screen::<overview::OverviewScreen>)],
    opens_anywhere: &[
        (Command::Card, new_screen::<card::CardScreen>),
        (Command::Password, new_screen::<password::PasswordChange>),
        (Command::Meters, new_screen::<reference::meters::MetersView>),
        (
            Command::MeterTypes,
            new_screen::<ShortList<meter_types::MeterTypeList>>,
        ),
        (
            Command::Schemes,
            new_screen::<ShortList<scheme_list::SchemeList>>,
        ),
        (
            Command::CustomerTypes,
            new_screen::<ShortList<customer_types::CustomerTypeList>>,
        ),
        (Command::Audit, new_screen::<audit::AuditScreen>),
        (
            Command::Readings,
            new_screen::<reading_import::ReadingImportView>,
        ),
        (
            Command::Operators,
            new_screen::<ShortList<operators::list::OperatorList>>,
        ),
        (
            Command::Departments,
            new_screen::<ShortList<operators::departments::DepartmentList>>,
        ),
        (
            Command::Roles,
            new_screen::<ShortList<operators::roles::RoleList>>,
        ),
        (Command::Shift, new_screen::<shift::ShiftScreen>),
        (Command::Arrears, new_screen::<arrears::ArrearsScreen>),
        (Command::Reports, new_screen::<reports::ReportsScreen>),
        (
            Command::SystemCard,
            new_screen::<system_card::SystemCardScreen>,
        ),
    ],
    draw: crate::ui::draw,
};

/// The app at its sign-in screen, with these screens.
pub fn app(keymap: KeyMap, lang: Lang, look: Look) -> App {
    App::new(keymap, lang, look, &REGISTRY)
}
