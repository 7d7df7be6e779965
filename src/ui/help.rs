//! F1 help: the keys of this screen, read from the live keymap, and the command line's words;
//! only what the operator's roles allow.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::popup;
use super::text::width;
use super::theme::Theme;
use crate::app::{App, Command};

/// Width of the help box.
const WIDTH: u16 = 78;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lang = app.lang;
    // Home is the hub's, offered on every screen above the customer table once signed in
    // (`update::invoke`).
    let home = (app.session.is_some() && !app.below.is_empty())
        .then_some((Command::Home, Command::Home.label_key()));
    let rows: Vec<(String, &str)> = app
        .allowed_commands()
        .into_iter()
        .chain(home)
        .map(|(command, label)| (app.keymap.names(command), lang.t(label)))
        .collect();
    let key_width = rows.iter().map(|(keys, _)| width(keys)).max().unwrap_or(0);
    let entry = |(keys, label): &(String, &str)| {
        let pad = " ".repeat(key_width - width(keys));
        vec![
            Span::styled(format!(" {keys}{pad}"), theme.key()),
            Span::raw(format!("  {label}")),
        ]
    };
    let mut footer = vec![
        Line::raw(""),
        Line::raw(format!(" {}", app.t("help.fields"))),
    ];
    let names: Vec<_> = Command::ALL
        .iter()
        .filter(|c| c.permission().is_none_or(|permission| app.may(permission)))
        .map(|c| format!(":{}", c.name()))
        .collect();
    footer.push(Line::raw(format!(
        " {} {} :lang :messages",
        lang.t("help.command_line"),
        names.join(" ")
    )));
    footer.push(Line::raw(""));
    footer.push(Line::styled(
        format!(" {}", app.t("help.close")),
        theme.dim(),
    ));
    let inner_width = usize::from(area.width.min(WIDTH)).saturating_sub(2).max(1);
    let footer_rows: usize = footer
        .iter()
        .map(|line| wrapped_rows(&line.to_string(), inner_width))
        .sum();
    // The keys in two columns when one does not leave room for the rest.
    let room = usize::from(area.height).saturating_sub(2 + footer_rows);
    let column = inner_width / 2;
    let mut lines: Vec<Line> = if rows.len() <= room {
        rows.iter().map(|row| Line::from(entry(row))).collect()
    } else {
        let half = rows.len().div_ceil(2);
        (0..half)
            .map(|i| {
                let mut spans = entry(&rows[i]);
                let used: usize = spans.iter().map(|s| width(&s.content)).sum();
                spans.push(Span::raw(" ".repeat(column.saturating_sub(used))));
                if let Some(right) = rows.get(i + half) {
                    spans.extend(entry(right));
                }
                Line::from(spans)
            })
            .collect()
    };
    let height = (lines.len() + footer_rows + 2) as u16;
    lines.extend(footer);

    popup(
        frame,
        area,
        (WIDTH, height),
        lang.t("help.title"),
        lines,
        false,
        theme,
    );
}

/// Rows `text` takes when wrapped at words to `cells` columns.
fn wrapped_rows(text: &str, cells: usize) -> usize {
    let mut rows = 1;
    let mut used = 0;
    for word in text.split(' ') {
        let w = width(word);
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= cells {
            used = need;
        } else {
            rows += 1 + w.saturating_sub(1) / cells;
            used = w % cells;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::wrapped_rows;

    #[test]
    fn rows_of_wrapped_text() {
        assert_eq!(wrapped_rows("", 10), 1);
        assert_eq!(wrapped_rows("abc def", 7), 1);
        assert_eq!(wrapped_rows("abc defg", 7), 2);
        assert_eq!(wrapped_rows("abc def ghi", 7), 2);
    }
}
