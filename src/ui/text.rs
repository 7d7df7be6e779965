//! Fitting text into cells by display width (CJK characters take two), never by bytes.

use chrono::{DateTime, FixedOffset, Utc};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::inert::inert;
use crate::i18n::Lang;

/// Display width of `text` in terminal cells.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The cells the widest of `texts` takes (0 for none): a column of labels' width.
pub fn widest<T: AsRef<str>>(texts: impl IntoIterator<Item = T>) -> usize {
    texts
        .into_iter()
        .map(|text| width(text.as_ref()))
        .max()
        .unwrap_or(0)
}

/// `text` cut to at most `max` cells, ending in `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        kept.push(c);
        used += w;
    }
    kept.push('…');
    kept
}

/// `line` cut to at most `max` cells as [`truncate`] cuts text, its spans' styles kept: the
/// span the edge falls in ends in `…`, the ones after it go.
pub fn truncate_line(
    line: ratatui::text::Line<'static>,
    max: usize,
) -> ratatui::text::Line<'static> {
    if line.width() <= max {
        return line;
    }
    let mut used = 0;
    let mut spans = Vec::new();
    for span in line.spans {
        let w = width(&span.content);
        if used + w < max {
            used += w;
            spans.push(span);
            continue;
        }
        let cut = truncate(&span.content, max - used);
        spans.push(ratatui::text::Span::styled(cut, span.style));
        break;
    }
    ratatui::text::Line { spans, ..line }
}

/// Breadcrumbs (`levels` joined by ` › `) cut from the left to at most `max` cells: whole
/// levels go first ("… › 10011420 › IC卡", never "…户 › IC卡"), the deepest level matters
/// most; only a deepest level wider than `max` is cut within, starting with `…`.
pub fn truncate_left(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut deeper = text;
    while let Some((_, rest)) = deeper.split_once(" › ") {
        let kept = format!("… › {rest}");
        if width(&kept) <= max {
            return kept;
        }
        deeper = rest;
    }
    // One cell for the leading `…`.
    let reversed: String = deeper.chars().rev().collect();
    let cut = truncate(&reversed, max.saturating_sub(1));
    let mut kept: String = cut.trim_end_matches('…').chars().rev().collect();
    kept.insert(0, '…');
    kept
}

/// `text` broken into lines of at most `max` cells at spaces (a word longer than a line is
/// cut with `…`): for a question that must be read whole. A unit (m³) is not parted from the
/// figure before it.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match words.last_mut() {
            Some(figure) if word.starts_with("m³") => {
                figure.push(' ');
                figure.push_str(word);
            }
            _ => words.push(word.to_owned()),
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in &words {
        if !line.is_empty() && width(&line) + 1 + width(word) > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.into_iter().map(|line| truncate(&line, max)).collect()
}

/// `text`'s first line of at most `max` cells and the rest after it: broken at the last place
/// that fits where a line may break — a space (dropped), or either side of a wide (CJK)
/// character, as Chinese has no spaces, but never before closing punctuation — else within
/// a word.
pub fn split_line(text: &str, max: usize) -> (&str, &str) {
    let mut used = 0;
    let mut previous_wide = false;
    // The two characters before `c`: a count and its measure word are not parted at the space
    // between them, nor after it.
    let (mut before, mut previous) = (None, None);
    // The last place a line may end: the first line's end and where the rest begins.
    let mut last_break: Option<(usize, usize)> = None;
    for (index, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        let wide = w > 1;
        let after_count = previous == Some(' ') && binds_count(before, Some(c));
        if index > 0 && c == ' ' && !binds_count(previous, text[index + 1..].chars().next()) {
            last_break = Some((index, index + 1));
        } else if index > 0 && (wide || previous_wide) && !closes(c) && !after_count {
            last_break = Some((index, index));
        }
        if used + w > max {
            let (end, rest) = last_break.unwrap_or((index, index));
            return (&text[..end], &text[rest..]);
        }
        previous_wide = wide;
        (before, previous) = (previous, Some(c));
        used += w;
    }
    (text, "")
}

/// Whether a space between `before` and `after` keeps a count with its Chinese measure word
/// ("1 笔", "5 个"; a key with its name, "F2 收款"): a line never breaks there.
fn binds_count(before: Option<char>, after: Option<char>) -> bool {
    before.is_some_and(|c| c.is_ascii_digit()) && after.is_some_and(|c| c.width() == Some(2))
}

/// Chinese punctuation that ends what comes before it, which no line starts with.
fn closes(c: char) -> bool {
    matches!(
        c,
        '、' | '，' | '。' | '：' | '；' | '！' | '？' | '）' | '」' | '』' | '》' | '〉' | '】'
    )
}

/// `text` broken into lines of at most `max` cells where [`split_line`] breaks, nothing left
/// out: a long CJK run after a space goes on from the same line instead of starting a new one.
pub fn lines(mut text: &str, max: usize) -> Vec<&str> {
    let mut lines = Vec::new();
    while !text.is_empty() {
        let (line, rest) = split_line(text, max.max(2));
        lines.push(line);
        text = rest;
    }
    lines
}

/// `text` cut into pieces of at most `max` cells, nothing left out: for a stored value that
/// must be read whole, which may have no spaces (CJK, JSON).
pub fn chunks(text: &str, max: usize) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max && used > 0 {
            pieces.push(String::new());
            used = 0;
        }
        pieces.last_mut().expect("one piece at least").push(c);
        used += w;
    }
    pieces
}

/// `text` fitted to exactly `cells` columns: cut with `…`, padded on the side away from its
/// alignment.
pub fn fit(text: &str, cells: u16, right_aligned: bool) -> String {
    let cells = usize::from(cells);
    let cut = truncate(text, cells);
    let pad = " ".repeat(cells.saturating_sub(width(&cut)));
    if right_aligned {
        format!("{pad}{cut}")
    } else {
        format!("{cut}{pad}")
    }
}

/// The part of `text` that shows in a field `cells` wide scrolled by `scroll` cells.
pub fn window(text: &str, scroll: usize, cells: usize) -> String {
    let mut skipped = 0;
    let mut shown = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if skipped < scroll {
            skipped += w;
            continue;
        }
        if used + w > cells {
            break;
        }
        shown.push(c);
        used += w;
    }
    shown
}

/// A catalogue text for a stored code (`nature_personal`), the code itself when unknown.
pub fn coded(lang: Lang, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}{code}");
    let text = lang.t(&key);
    if text == key {
        inert(code).into_owned()
    } else {
        text.to_owned()
    }
}

/// A moment in the desk's time zone (`App::zone`, fixed at start), to the minute.
pub fn local(at: &DateTime<Utc>, zone: FixedOffset) -> String {
    at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_by_display_width() {
        assert_eq!(
            wrap("充值 120.00 到卡 00012345？", 12),
            ["充值 120.00", "到卡", "00012345？"]
        );
        assert_eq!(wrap("a bb ccc", 80), ["a bb ccc"]);
        assert_eq!(wrap("abcdefgh ij", 4), ["abc…", "ij"]);
    }

    /// s45-e on the rig (zh): the refund's confirmation broke "…上水表未读入的 5.000" / "m³？",
    /// the volume parted from its unit. A unit stays on the line of its figure.
    #[test]
    fn wrap_keeps_a_figure_with_its_unit() {
        assert_eq!(wrap("未读入的 5.000 m³？", 16), ["未读入的", "5.000 m³？"]);
        assert_eq!(
            wrap("of 3.333 m³ on card", 9),
            ["of", "3.333 m³", "on card"]
        );
    }

    #[test]
    fn a_split_line_breaks_at_the_last_space_that_fits_else_by_display_width() {
        assert_eq!(
            split_line("Not saved: F2 saves", 12),
            ("Not saved:", "F2 saves")
        );
        assert_eq!(
            split_line("未保存：按 F2 覆盖", 8),
            ("未保存：", "按 F2 覆盖")
        );
        assert_eq!(split_line("未保存按F2覆盖", 7), ("未保存", "按F2覆盖"));
        assert_eq!(split_line("fits", 4), ("fits", ""));
        assert_eq!(
            split_line("操作 #2099 未完成：请将", 14),
            ("操作 #2099 未", "完成：请将")
        );
    }

    /// Chinese punctuation that closes (、，。：；）」…) never starts a line: the break goes
    /// before the character it follows (session 31: a role's permissions broke as
    /// "回收退回的卡" / "、修改用户基本信息").
    #[test]
    fn a_split_line_leaves_no_closing_punctuation_at_the_start_of_a_line() {
        assert_eq!(split_line("开卡、读卡", 4), ("开", "卡、读卡"));
        assert_eq!(split_line("开卡。读卡", 4), ("开", "卡。读卡"));
        assert_eq!(split_line("余额（元）：12", 8), ("余额（", "元）：12"));
        assert_eq!(lines("读卡、开卡、充值", 6), ["读卡、", "开卡、", "充值"]);
    }

    /// A count keeps its Chinese measure word on its line (s43-d: "（1" / "笔购水）").
    #[test]
    fn a_count_keeps_its_measure_word_on_its_line() {
        for (text, max, first, rest) in [
            ("水费 5.00（1 笔购水）", 14, "水费 5.00（", "1 笔购水）"),
            ("键入的 5 个键", 9, "键入的", "5 个键"),
            ("键入的 5 个键", 10, "键入的", "5 个键"),
            ("Pay 5 bills", 6, "Pay 5", "bills"),
            // A key keeps its name too.
            ("收款 · 按 F2 收款", 13, "收款 · 按", "F2 收款"),
        ] {
            assert_eq!(split_line(text, max), (first, rest), "{text} in {max}");
        }
    }

    #[test]
    fn chunks_keep_every_character_and_fit_the_cells() {
        assert_eq!(chunks("张伟伟abc", 5), ["张伟", "伟abc"]);
        assert_eq!(chunks("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(chunks("", 3), [""]);
    }

    #[test]
    fn cjk_is_measured_by_cells() {
        assert_eq!(width("张伟"), 4);
        assert_eq!(truncate("张伟伟伟", 5), "张伟…");
        assert_eq!(truncate("张伟", 4), "张伟");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn a_window_skips_the_scrolled_cells_and_keeps_what_fits() {
        assert_eq!(window("张伟abc", 2, 3), "伟a");
        assert_eq!(window("abc", 0, 10), "abc");
    }

    #[test]
    fn left_truncation_keeps_the_end() {
        assert_eq!(truncate_left("a › b › c", 5), "… › c");
        assert_eq!(truncate_left("abc", 5), "abc");
        // Whole levels: a word is never cut in its middle while a level can go instead.
        let crumbs = " meterdesk › 客户 › 10011420 › IC卡";
        assert_eq!(truncate_left(crumbs, 30), "… › 客户 › 10011420 › IC卡");
        assert_eq!(truncate_left(crumbs, 20), "… › 10011420 › IC卡");
        assert_eq!(truncate_left(crumbs, 9), "… › IC卡");
        assert_eq!(truncate_left(crumbs, 4), "…卡");
    }
}
