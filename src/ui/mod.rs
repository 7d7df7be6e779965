//! Drawing: pure functions from `App` to a frame. Nothing here changes state or does I/O.

mod accounts;
mod card;
mod chrome;
mod customers;
mod details;
pub mod form;
mod help;
pub mod inert;
mod login;
pub mod measure;
mod overview;
mod refdata;
pub mod table;
pub mod text;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use crate::app::App;
use crate::app::state::{Overlay, Screen};
use theme::Theme;

/// Draws the whole screen: top line, body, message line, key legend, then any overlay.
pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme::new(app.look);
    let [top, body, message, legend] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    chrome::top_line(frame, top, app, &theme);
    match &app.screen {
        Screen::Login(form) => login::draw(frame, body, form, app, &theme),
        Screen::Customers(table) => customers::draw(frame, body, table, app, &theme),
        Screen::Details(view) => details::draw(frame, body, view, app, &theme),
        Screen::Overview(view) => overview::draw(frame, body, view, app, &theme),
        Screen::Card(screen) => card::draw(frame, body, screen, app, &theme),
        Screen::Ref(screen) => refdata::draw(frame, body, screen, app, &theme),
        Screen::OpenAccount(wizard) => {
            accounts::draw_open_account(frame, body, wizard, app, &theme)
        }
        Screen::Modify(view) => accounts::draw_modify(frame, body, view, app, &theme),
        Screen::Transfer(view) => accounts::draw_transfer(frame, body, view, app, &theme),
    }
    match &app.overlay {
        Some(Overlay::Help) => help::draw(frame, body, app, &theme),
        Some(Overlay::CommandLine(line)) => chrome::command_line(frame, message, line, &theme),
        None => chrome::message_line(frame, message, app, &theme),
    }
    chrome::legend(frame, legend, app, &theme);
}
