//! A small boxed form of one-line fields, a secret one shown as stars: the sign-in and the
//! password change.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use tui_input::Input;

use super::chrome::centred;
use super::text::{widest, width, window};
use super::theme::Theme;

/// A small boxed form of one-line fields (the sign-in, the password change), a secret one
/// shown as stars.
pub struct CredentialForm<'a> {
    pub title: &'a str,
    /// Label, input, secret.
    pub fields: &'a [(&'a str, &'a Input, bool)],
    pub focus: usize,
    pub hint: &'a str,
}

impl CredentialForm<'_> {
    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let rows_needed = self.fields.len() as u16 + 4;
        let boxed = centred(area, 56, rows_needed + 2);
        let block = Block::bordered()
            .border_set(theme.border())
            .title(Span::styled(format!(" {} ", self.title), theme.title()));
        let inner = block.inner(boxed);
        frame.render_widget(block, boxed);

        let label_width = widest(self.fields.iter().map(|(label, _, _)| label)) as u16 + 3;
        let field_width = inner.width.saturating_sub(label_width + 2);
        let rows =
            Layout::vertical(vec![Constraint::Length(1); usize::from(rows_needed)]).split(inner);
        for (index, (label, input, secret)) in self.fields.iter().enumerate() {
            let row = rows[index + 1];
            let focused = self.focus == index;
            let shown = visible(input, *secret, field_width);
            let padding = usize::from(field_width).saturating_sub(width(&shown));
            let style = theme.input(focused);
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
        let hint = Line::from(Span::styled(format!("  {}", self.hint), theme.dim()));
        frame.render_widget(Paragraph::new(hint), rows[self.fields.len() + 2]);
    }
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
