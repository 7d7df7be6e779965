//! The screens at 80×24 on a TestBackend, driven by key sequences through the real `update`,
//! compared with committed insta snapshots: one file per screen group, the builders in
//! `support`.

mod account;
mod accounts;
mod arrears;
mod audit;
mod cards;
mod close_account;
mod details;
mod hub;
mod login;
mod operators;
mod overview;
mod password;
mod readings;
mod reference;
mod reports;
mod shell;
mod shift;
mod support;
mod system_card;
mod table;
mod typed_ahead;
