//! Drawing the shared parts: the frame around every screen (`chrome`), the help overlay,
//! tables, forms with their lookup list, text, inert text and the theme; each screen draws its
//! body (`Screen::draw`). Pure functions of `App`: nothing here changes state or does I/O.

mod card_status;
pub mod chrome;
pub mod credentials;
pub mod form;
mod help;
pub mod inert;
pub mod table;
pub mod text;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::App;
use crate::app::state::{Overlay, Slot};
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
    let spill = match app.overlay {
        None => body.height.saturating_sub(1).min(chrome::SPILL_ROWS),
        Some(_) => 0,
    };
    match &app.screen {
        Slot::Module(_, screen) => {
            screen.draw(frame, body, app);
            // A message longer than its line takes the body's last rows (`SPILL_ROWS` at most).
            // A screen that drew something there is drawn again above them, so that nothing
            // of it is under the message: a form scrolls to its focused field, a lookup list
            // ends above it (s41-c), a table's selected row stays in sight, its rows scrolled
            // up by the rows taken (s42-d: the customer table's last rows were covered).
            let taken = chrome::message_spill(app, message, spill);
            let covered = Rect {
                y: body.bottom() - taken,
                height: taken,
                ..body
            };
            if !blank(frame.buffer_mut(), covered) {
                frame.render_widget(ratatui::widgets::Clear, body);
                let above = Rect {
                    height: body.height - taken,
                    ..body
                };
                screen.draw(frame, above, app);
            }
        }
        // Only while the hub calls that screen: never drawn.
        Slot::Vacant(_) => {}
    }
    match &app.overlay {
        Some(Overlay::Help { scroll, .. }) => help::draw(frame, body, app, *scroll, &theme),
        Some(Overlay::Messages { back }) => {
            chrome::messages(frame, body, app, *back, &theme);
            chrome::message_line(frame, message, 0, true, app, &theme);
        }
        Some(Overlay::CommandLine(line)) => chrome::command_line(frame, message, line, &theme),
        None => chrome::message_line(frame, message, spill, false, app, &theme),
    }
    chrome::legend(frame, legend, app, &theme);
}

/// Whether nothing is drawn in `area` of `buffer` (every cell a space, whatever its style).
fn blank(buffer: &ratatui::buffer::Buffer, area: Rect) -> bool {
    area.positions().all(|position| {
        buffer
            .cell(position)
            .is_none_or(|cell| cell.symbol() == " ")
    })
}
