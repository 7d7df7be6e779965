//! F1 help: the page `app::help` lays out, in a box over the screen, scrolled as the operator
//! scrolled it; the box's bottom border says where they are when it does not all fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::chrome::{centred, clear};
use super::text::width;
use super::theme::Theme;
use crate::app::App;
use crate::app::help::{HelpLine, WIDTH, page};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, scroll: usize, theme: &Theme) {
    let page = page(app);
    let first = scroll.min(page.last_scroll());
    let entry = |(keys, label): &(String, &str)| {
        let pad = " ".repeat(page.key_width.saturating_sub(width(keys)));
        vec![
            Span::styled(format!(" {keys}{pad}"), theme.key()),
            Span::raw(format!("  {label}")),
        ]
    };
    let total = page.lines.len();
    let lines: Vec<Line> = page
        .lines
        .iter()
        .skip(first)
        .take(page.visible)
        .map(|line| match line {
            HelpLine::Keys(entries) => {
                let mut spans = Vec::new();
                for (i, row) in entries.iter().enumerate() {
                    if i > 0 {
                        let used: usize = spans.iter().map(|s: &Span| width(&s.content)).sum();
                        spans.push(Span::raw(" ".repeat(page.column.saturating_sub(used))));
                    }
                    spans.extend(entry(row));
                }
                Line::from(spans)
            }
            HelpLine::Text(text) => Line::raw(text.clone()),
            HelpLine::Hint(text) => Line::styled(text.clone(), theme.dim()),
        })
        .collect();
    let mut block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            format!(" {} ", app.t("help.title")),
            theme.title(),
        ));
    if total > page.visible {
        block = block.title_bottom(Span::styled(
            format!(
                " {} ",
                app.tf(
                    "help.scrolled",
                    &[
                        ("from", &(first + 1)),
                        ("to", &(first + lines.len())),
                        ("total", &total)
                    ]
                )
            ),
            theme.key(),
        ));
    }
    let boxed = centred(area, WIDTH, (lines.len() + 2) as u16);
    clear(frame, boxed);
    frame.render_widget(Paragraph::new(lines).block(block), boxed);
}
