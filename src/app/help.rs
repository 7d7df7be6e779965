//! F1 help laid out for the terminal's size: the keys of the screen on top, read from the live
//! keymap, then the command line's words; only what the operator's roles allow. Laid out here,
//! not in the draw, because the loop scrolls it (`Overlay::Help`) and must know how far it goes:
//! at 80×24 the busiest screens' help is taller than the screen.

use unicode_width::UnicodeWidthStr;

use super::command::Command;
use super::hub::{App, Overlay};

/// Width of the help box, borders included.
pub const WIDTH: u16 = 78;

/// One row of the help box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    /// One or two `(keys, label)` entries, the keys padded to one column.
    Keys(Vec<(String, &'static str)>),
    /// Plain text, already wrapped to the box.
    Text(String),
    /// How to close the help: drawn dim.
    Hint(String),
}

/// The help's rows and how many of them the box shows at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpPage {
    pub lines: Vec<HelpLine>,
    /// Cells of the widest keys, so labels line up.
    pub key_width: usize,
    /// Cells from the box's inside edge to its second column of keys.
    pub column: usize,
    /// Rows inside the box that the body of the screen leaves room for.
    pub visible: usize,
}

impl HelpPage {
    /// The first row shown at the end: scrolling further would show nothing new.
    pub fn last_scroll(&self) -> usize {
        self.lines.len().saturating_sub(self.visible)
    }
}

/// The help of the screen on top, laid out for `app.viewport`.
pub fn page(app: &App) -> HelpPage {
    let lang = app.lang;
    // Home is the hub's, offered on every screen above the customer table once signed in
    // (`update::invoke`).
    let home = (app.session.is_some() && !app.below.is_empty())
        .then_some((Command::Home, Command::Home.label_key()));
    let mut rows: Vec<(String, &'static str)> = app
        .allowed_commands()
        .into_iter()
        .chain(home)
        .map(|(command, label)| (app.keymap.names(command), lang.t(label)))
        .collect();
    // The screen's keys outside the keymap, after its own commands (before the command line).
    let line = app.keymap.names(Command::CommandLine);
    let at = rows
        .iter()
        .position(|(keys, _)| *keys == line)
        .unwrap_or(rows.len());
    rows.splice(
        at..at,
        app.screen_keys()
            .into_iter()
            .map(|(keys, label)| (keys.to_owned(), lang.t(label))),
    );
    let key_width = rows.iter().map(|(keys, _)| keys.width()).max().unwrap_or(0);
    let inner_width = usize::from(app.viewport.0.min(WIDTH))
        .saturating_sub(2)
        .max(1);
    // Text keeps a blank cell at either side, like the keys.
    let text_width = inner_width.saturating_sub(1);
    // The body: all but the top line, the message line and the legend; the box's borders.
    let visible = usize::from(app.viewport.1.saturating_sub(3))
        .saturating_sub(2)
        .max(1);

    // The words typed on the command line that run here; none where the line does not open.
    let typed = app.typed_commands();
    let words: Vec<String> = if typed.is_empty() {
        Vec::new()
    } else {
        std::iter::once(lang.t("help.command_line").to_owned())
            .chain(typed.into_iter().map(|c| format!(":{}", c.name())))
            .chain([
                ":lang".to_owned(),
                ":messages".to_owned(),
                lang.t("help.customer_word").to_owned(),
            ])
            .collect()
    };
    let mut footer = Vec::new();
    // How to move between fields, only where there are fields (not the customer table, not
    // the bills' list): `Screen::has_fields`.
    if app.screen_has_fields() {
        footer.extend(
            wrap(&[app.t("help.fields")], text_width)
                .into_iter()
                .map(HelpLine::Text),
        );
    }
    if !words.is_empty() {
        footer.extend(wrap(&words, text_width).into_iter().map(HelpLine::Text));
    }
    if !footer.is_empty() {
        footer.insert(0, HelpLine::Text(String::new()));
    }
    footer.push(HelpLine::Text(String::new()));
    footer.extend(
        wrap(&[app.t("help.close")], text_width)
            .into_iter()
            .map(HelpLine::Hint),
    );

    // The keys in two columns when one does not leave room for the rest.
    let room = visible.saturating_sub(footer.len());
    // Over an open lookup list, its keys come first: they are the ones the clerk is using.
    let in_lookup = matches!(
        app.overlay,
        Some(Overlay::Help {
            in_lookup: true,
            ..
        })
    );
    let lookup_keys: Vec<HelpLine> = if in_lookup {
        let mut keys: Vec<HelpLine> = wrap(&[app.t("help.lookup")], text_width)
            .into_iter()
            .map(HelpLine::Text)
            .collect();
        keys.push(HelpLine::Text(String::new()));
        keys
    } else {
        Vec::new()
    };
    let room = room.saturating_sub(lookup_keys.len());
    let mut lines: Vec<HelpLine> = if rows.len() <= room {
        rows.into_iter()
            .map(|row| HelpLine::Keys(vec![row]))
            .collect()
    } else {
        let half = rows.len().div_ceil(2);
        let (left, right) = rows.split_at(half);
        left.iter()
            .enumerate()
            .map(|(i, row)| {
                HelpLine::Keys(
                    [Some(row), right.get(i)]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect(),
                )
            })
            .collect()
    };
    lines.extend(footer);
    lines.splice(0..0, lookup_keys);
    HelpPage {
        lines,
        key_width,
        column: inner_width / 2,
        visible,
    }
}

/// `words` (each a piece that is not broken, unless it is wider than a row) as rows of at most
/// `cells` columns, each row starting with one blank cell like the rest of the box.
fn wrap<S: AsRef<str>>(words: &[S], cells: usize) -> Vec<String> {
    let cells = cells.saturating_sub(1).max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in words.iter().flat_map(|text| text.as_ref().split(' ')) {
        let need = if row.is_empty() {
            word.width()
        } else {
            row.width() + 1 + word.width()
        };
        if need > cells && !row.is_empty() {
            rows.push(format!(" {}", std::mem::take(&mut row)));
        }
        if !row.is_empty() {
            row.push(' ');
        }
        row.push_str(word);
        while row.width() > cells {
            let cut = row
                .char_indices()
                .scan(0, |used, (at, c)| {
                    *used += c.to_string().width();
                    Some((at, *used))
                })
                .find(|&(_, used)| used > cells)
                .map_or(row.len(), |(at, _)| at);
            let rest = row.split_off(cut);
            rows.push(format!(" {row}"));
            row = rest;
        }
    }
    rows.push(format!(" {row}"));
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn words_wrap_at_the_row_and_a_long_word_is_cut() {
        assert_eq!(wrap(&[""], 10), vec![" "]);
        assert_eq!(wrap(&["abc def"], 8), vec![" abc def"]);
        assert_eq!(wrap(&["abc defg"], 8), vec![" abc", " defg"]);
        assert_eq!(wrap(&["abc", "def ghi"], 8), vec![" abc def", " ghi"]);
        assert_eq!(wrap(&["abcdefghij"], 5), vec![" abcd", " efgh", " ij"]);
        // A CJK character is two cells.
        assert_eq!(wrap(&["命令行： :help"], 10), vec![" 命令行：", " :help"]);
    }
}
