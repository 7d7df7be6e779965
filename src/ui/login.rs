//! The sign-in screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use tui_input::Input;

use super::text::{width, window};
use super::theme::Theme;
use crate::app::App;
use crate::app::state::{LoginField, LoginForm};

/// A box of `w`×`h` cells centred in `area` (shrunk to fit).
pub fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

pub fn draw(frame: &mut Frame, area: Rect, form: &LoginForm, app: &App, theme: &Theme) {
    let lang = app.lang;
    let boxed = centred(area, 56, 8);
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            format!(" {} ", lang.t("login.title")),
            theme.title(),
        ));
    let inner = block.inner(boxed);
    frame.render_widget(block, boxed);

    let labels = [lang.t("login.operator"), lang.t("login.password")];
    let label_width = labels.iter().map(|l| width(l)).max().unwrap_or(0) as u16 + 3;
    let field_width = inner.width.saturating_sub(label_width + 2);
    let rows = Layout::vertical([1, 1, 1, 1, 1, 1].map(Constraint::Length)).split(inner);
    let fields = [
        (LoginField::Operator, &form.operator, false),
        (LoginField::Password, &form.password, true),
    ];
    for ((field, input, secret), (label, row)) in fields
        .into_iter()
        .zip(labels.into_iter().zip([rows[1], rows[2]]))
    {
        let focused = form.focus == field;
        let shown = visible(input, secret, field_width);
        let padding = usize::from(field_width).saturating_sub(width(&shown));
        let style = if focused {
            theme.focused()
        } else {
            theme.field()
        };
        let line = Line::from(vec![
            Span::raw(format!("  {label}")),
            Span::raw(" ".repeat(usize::from(label_width) - width(label) - 1)),
            Span::styled(format!("{shown}{}", " ".repeat(padding)), style),
        ]);
        frame.render_widget(Paragraph::new(line), row);
        if focused {
            let scroll = input.visual_scroll(usize::from(field_width));
            let cursor = (input.visual_cursor().max(scroll) - scroll) as u16;
            frame.set_cursor_position((row.x + 1 + label_width + cursor, row.y));
        }
    }
    let hint = Line::from(Span::styled(
        format!("  {}", app.t("login.hint")),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(hint), rows[4]);
}

/// The part of a field that fits, with a password shown as one `*` per character.
fn visible(input: &Input, secret: bool, room: u16) -> String {
    let scroll = input.visual_scroll(usize::from(room));
    let value = if secret {
        "*".repeat(input.value().chars().count())
    } else {
        input.value().to_owned()
    };
    window(&value, scroll, usize::from(room))
}
