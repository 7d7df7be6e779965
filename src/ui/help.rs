//! F1 help: the keys of this screen, read from the live keymap, and the command line's words.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::login::centred;
use super::text::width;
use super::theme::Theme;
use crate::app::{App, Command};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lang = app.lang;
    let rows: Vec<(String, &str)> = app
        .commands()
        .into_iter()
        .map(|(command, label)| {
            let keys = app.keymap.keys(command);
            let keys = if keys.is_empty() {
                format!(":{}", command.name())
            } else {
                keys.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            (keys, lang.t(label))
        })
        .collect();
    let key_width = rows.iter().map(|(keys, _)| width(keys)).max().unwrap_or(0);
    let mut lines: Vec<Line> = rows
        .into_iter()
        .map(|(keys, label)| {
            let pad = " ".repeat(key_width - width(&keys));
            Line::from(vec![
                Span::styled(format!(" {keys}{pad}"), theme.key()),
                Span::raw(format!("  {label}")),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw(format!(" {}", lang.t("help.fields"))));
    let names: Vec<_> = Command::ALL
        .iter()
        .map(|c| format!(":{}", c.name()))
        .collect();
    lines.push(Line::raw(format!(
        " {} {} :lang",
        lang.t("help.command_line"),
        names.join(" ")
    )));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(" {}", lang.t("help.close")),
        theme.dim(),
    ));

    let height = lines.len() as u16 + 2;
    let boxed = centred(area, 78, height);
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            format!(" {} ", lang.t("help.title")),
            theme.title(),
        ));
    frame.render_widget(Clear, boxed);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        boxed,
    );
}
