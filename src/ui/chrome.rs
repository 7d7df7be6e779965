//! The frame around every screen: the top line (breadcrumbs and status), the message line,
//! the command line and the key legend.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::inert::inert;
use super::text::{lines as text_lines, split_line, truncate, truncate_left, width};
use super::theme::Theme;
use crate::app::App;
use crate::app::state::{CommandLine, DbStatus, MessageKind};

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

/// Clears `area` for a box drawn over the screen. A wide (CJK) character just left of it is
/// blanked too: its second half covers the box's first column, and the terminal would never
/// be sent the border drawn there.
pub fn clear(frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
    let Some(left) = area.x.checked_sub(1) else {
        return;
    };
    let buffer = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        if let Some(cell) = buffer.cell_mut((left, y))
            && width(cell.symbol()) > 1
        {
            cell.set_symbol(" ");
        }
    }
}

/// A box of `w`×`h` cells centred in `area` over what is drawn there: a border titled
/// `title`, and `lines` wrapped at words inside it (`trim`: without the spaces that start a
/// wrapped line).
#[allow(clippy::too_many_arguments)]
pub fn popup(
    frame: &mut Frame,
    area: Rect,
    (w, h): (u16, u16),
    title: &str,
    lines: Vec<Line>,
    trim: bool,
    theme: &Theme,
) {
    let boxed = centred(area, w, h);
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(format!(" {title} "), theme.title()));
    clear(frame, boxed);
    // Broken where Chinese breaks too (ratatui's wrap breaks only at spaces: "（1" / "笔购水）").
    let room = usize::from(boxed.width.saturating_sub(2));
    let lines: Vec<Line> = lines
        .into_iter()
        .flat_map(|line| broken(line, room))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim }).block(block),
        boxed,
    );
}

/// `line` in lines of at most `room` cells broken as [`text_lines`] breaks (between Chinese
/// characters, never between a count and its measure word), when it is one span too long; a
/// line of several spans is left to the paragraph's wrap.
fn broken(line: Line<'_>, room: usize) -> Vec<Line<'_>> {
    let [span] = line.spans.as_slice() else {
        return vec![line];
    };
    if width(&span.content) <= room {
        return vec![line];
    }
    text_lines(&span.content, room)
        .into_iter()
        .map(|piece| Line {
            spans: vec![Span::styled(piece.to_owned(), span.style)],
            ..line.clone()
        })
        .collect()
}

/// Draws `lines` cut to the width instead of wrapped, so the layout stays one fact per line;
/// each line keeps the style of its first span.
pub fn draw_lines(frame: &mut Frame, area: Rect, lines: Vec<Line>) {
    let room = usize::from(area.width);
    let fitted: Vec<Line> = lines
        .into_iter()
        .map(|line| {
            let style = line
                .spans
                .first()
                .map(|span| span.style)
                .unwrap_or_default();
            let text: String = line
                .spans
                .iter()
                .map(|span| span.content.as_ref())
                .collect();
            Line::styled(truncate(&text, room), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(fitted), area);
}

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Cells the breadcrumbs keep however narrow the line: the screen on top, named.
const FEWEST_CRUMBS: usize = 16;
/// Cells the operator and office keep before the breadcrumbs give up their outer levels: the
/// start of the operator's name ("李晓明…", "Li Xi…"). The place comes first (session 37:
/// at 80 columns the card screen read "… › IC卡" beside 24 cells of the operator's name).
const FEWEST_WHO: usize = 6;

/// The operator and office signed in, as the top line shows them whole.
fn operator(app: &App) -> Option<String> {
    let session = app.session.as_ref()?;
    Some(format!(
        "{}@{}",
        inert(&session.full_name),
        inert(&session.department)
    ))
}

/// The states on the top line after the operator: database, reader, spinner.
fn states(app: &App) -> String {
    let lang = app.lang;
    let database = match app.database {
        DbStatus::Connected => lang.t("status.db_connected"),
        DbStatus::Reconnecting => lang.t("status.db_reconnecting"),
        DbStatus::Unknown => lang.t("status.db_unknown"),
        DbStatus::Unreachable => lang.t("status.db_unreachable"),
    };
    let spinner = if app.busy() {
        SPINNER[app.spinner % SPINNER.len()]
    } else {
        ' '
    };
    format!("{database} │ {} {spinner}", super::card_status::status(app))
}

/// The top line: breadcrumbs on the left, operator, office and states on the right. Where it
/// is too narrow for all, it cuts in this order (decisions.md, session 32, "where the clerk
/// is", and session 37): the office, from its end; then the operator's name, down to
/// [`FEWEST_WHO`] cells; only then the breadcrumbs' outer levels, down to "… › " and the
/// screen on top. The breadcrumbs say where the clerk is (ui.md's first fact of the line);
/// the database and reader states are never cut for the others.
pub fn top_line(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let crumbs = format!(" meterdesk › {}", app.breadcrumbs().join(" › "));
    let line = top_line_text(
        usize::from(area.width),
        &crumbs,
        operator(app).as_deref(),
        &states(app),
    );
    frame.render_widget(Paragraph::new(Line::raw(line)).style(theme.bar()), area);
}

/// The top line in `room` cells: `crumbs` on the left, `who` and `states` on the right, cut as
/// [`top_line`] says.
fn top_line_text(room: usize, crumbs: &str, who: Option<&str>, states: &str) -> String {
    let deepest = crumbs.rsplit(" › ").next().unwrap_or_default();
    let fewest_crumbs = width(crumbs)
        .min(width(deepest) + width("… › "))
        .min(FEWEST_CRUMBS);
    // The breadcrumbs keep all but the states and the fewest cells of the operator; what they
    // leave (whole levels go, so it may be more than they had to give up) is the operator's.
    let fewest_who = who.map_or(0, |who| width(&truncate(who, FEWEST_WHO)) + width(" │ "));
    let crumbs = truncate_left(
        crumbs,
        room.saturating_sub(fewest_who + width(states) + 1)
            .max(fewest_crumbs),
    );
    let status = match who {
        Some(who) => {
            let who_room = room.saturating_sub(width(&crumbs) + 1 + 3 + width(states));
            format!("{} │ {states}", truncate(who, who_room))
        }
        None => states.to_owned(),
    };
    let status = truncate(&status, room.saturating_sub(width(&crumbs) + 1));
    let gap = room.saturating_sub(width(&crumbs) + width(&status));
    format!("{crumbs}{}{status}", " ".repeat(gap))
}

/// `:messages`: the last messages with their times, newest at the bottom, each whole (broken
/// into lines, nothing cut); the newest `back` left out, to read older ones.
pub fn messages(frame: &mut Frame, area: Rect, app: &App, back: usize, theme: &Theme) {
    const TIME: &str = "%H:%M:%S ";
    let inner = usize::from(area.width.saturating_sub(2)).max(10);
    let room = usize::from(area.height.saturating_sub(3));
    let mut lines: Vec<Line> = Vec::new();
    for said in app.said.iter().take(app.said.len().saturating_sub(back)) {
        let time = said.at.with_timezone(&app.zone).format(TIME).to_string();
        let (mark, style) = match said.message.kind {
            MessageKind::Error => ("! ", theme.error()),
            MessageKind::Info => ("", theme.good()),
        };
        let text = format!("{mark}{}", inert(&said.message.text));
        // Broken between words (s36-d: "w│as refunded", "noth│ing" in English).
        for (index, piece) in text_lines(&text, inner - width(&time))
            .into_iter()
            .enumerate()
        {
            let lead = if index == 0 {
                time.clone()
            } else {
                " ".repeat(width(&time))
            };
            lines.push(Line::from(vec![
                Span::styled(lead, theme.dim()),
                Span::styled(piece.to_owned(), style),
            ]));
        }
    }
    if lines.is_empty() {
        lines.push(Line::styled(app.t("whole.no_messages"), theme.dim()));
    }
    let mut shown = lines.split_off(lines.len().saturating_sub(room));
    shown.push(Line::styled(app.t("whole.messages_keys"), theme.dim()));
    popup(
        frame,
        area,
        (area.width, area.height),
        &app.t("whole.messages_title"),
        shown,
        false,
        theme,
    );
}

/// The message in `area`, its line; one too long for it goes on in the rows above as well
/// (the body's last, while `spill` allows, which the screen leaves it: `message_spill` — the
/// message is what the clerk must read: "…; F2 saves yours over them" cut off left them
/// guessing). Every text of the catalogue fits two
/// rows; the third (`SPILL_ROWS`) is for what is said together: a refusal and the words added
/// after it ("… The keys pressed after F2 were not done."), the card's two differences ("…
/// Call a supervisor. Reported." and "… lacks purchase #10 …"), which two rows cut (s39). Only
/// past the rows it may take is it cut, between words, ending in the mark that the rest is in
/// `:messages` (`whole.more_in_messages`), always whole: a bare `…` left the clerk not knowing
/// that the lost words could be read (s37-e: "Reported."). Under the `:messages` overlay
/// (`whole_above`), where the whole text is just above, the cut ends in a bare `…`: the mark
/// would send the clerk where they already are (s37-h).
pub fn message_line(
    frame: &mut Frame,
    area: Rect,
    spill: u16,
    whole_above: bool,
    app: &App,
    theme: &Theme,
) {
    let Some(message) = &app.message else {
        return;
    };
    let style = match message.kind {
        MessageKind::Error => theme.error(),
        MessageKind::Info => theme.good(),
    };
    let rows = message_rows_of(app, area, spill, whole_above);
    let height = rows.len() as u16;
    let shown = Rect {
        y: area.y + 1 - height,
        height,
        ..area
    };
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|row| Line::styled(row, style))
        .collect();
    frame.render_widget(Clear, shown);
    frame.render_widget(Paragraph::new(lines), shown);
}

/// The rows of the body a message may take above its line: what is said together fits three
/// rows at 80 columns (`whole_in_three_rows_…`), one of the catalogue two.
pub const SPILL_ROWS: u16 = 2;

/// How many rows above its line `area` the message takes (`spill` at most), which the body
/// gives it: the screen is drawn above them (`ui::draw`), so a message said over three rows
/// hides no field — a form scrolls to its focused one, a lookup list ends above it (s41-c).
pub fn message_spill(app: &App, area: Rect, spill: u16) -> u16 {
    if app.message.is_none() {
        return 0;
    }
    message_rows_of(app, area, spill, false).len() as u16 - 1
}

/// The message's rows as drawn on its line `area`, with up to `spill` rows above it.
fn message_rows_of(app: &App, area: Rect, spill: u16, whole_above: bool) -> Vec<String> {
    let Some(message) = &app.message else {
        return Vec::new();
    };
    let mark = match message.kind {
        MessageKind::Error => "! ",
        MessageKind::Info => "",
    };
    let text = format!("{mark}{}", inert(&message.text));
    let more = if whole_above {
        "…".to_owned()
    } else {
        app.t("whole.more_in_messages")
    };
    message_rows(
        &text,
        usize::from(area.width),
        usize::from(spill.min(area.y)),
        &more,
    )
}

/// `text` broken between words into rows of `room` cells, at most `spill` + 1 of them; the last
/// cut with `more` when the rest does not fit.
fn message_rows(text: &str, room: usize, spill: usize, more: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut rest = text;
    while rows.len() < spill {
        let (row, after) = split_line(rest, room);
        if after.is_empty() {
            break;
        }
        rows.push(row.to_owned());
        rest = after;
    }
    rows.push(cut_for_messages(rest, room, more));
    rows
}

/// `text` whole if it fits in `room` cells; else cut where a line may break so that `more`
/// (the mark that the whole is in `:messages`) fits after it.
fn cut_for_messages(text: &str, room: usize, more: &str) -> String {
    if width(text) <= room {
        return text.to_owned();
    }
    let room_for_text = room.saturating_sub(width(more));
    let (kept, _) = split_line(text, room_for_text);
    let mut kept = kept.trim_end().to_owned();
    // One long word (a command typed, a path) is cut within itself rather than dropped whole.
    if width(&kept) * 3 < room_for_text * 2 {
        kept = truncate(text, room_for_text + 1);
        kept.pop();
    }
    truncate(&format!("{kept}{more}"), room)
}

pub fn command_line(frame: &mut Frame, area: Rect, line: &CommandLine, theme: &Theme) {
    let room = usize::from(area.width.saturating_sub(1));
    let scroll = line.input.visual_scroll(room);
    let shown = Line::from(vec![
        Span::styled(":", theme.key()),
        Span::raw(line.input.value()),
    ]);
    frame.render_widget(Paragraph::new(shown).scroll((0, scroll as u16)), area);
    let cursor = (line.input.visual_cursor().max(scroll) - scroll) as u16;
    frame.set_cursor_position((area.x + 1 + cursor, area.y));
}

/// The key legend: the commands this screen offers that the operator's roles allow, each with
/// its first key in the live keymap, in the screen's order until one does not fit. The two
/// spaces after the last one shown need no room: a command that ends at the line's last cell
/// is shown.
pub fn legend(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    const GAP: usize = 2;
    let mut spans = Vec::new();
    let mut used = 0;
    for (command, label) in app.allowed_commands() {
        let Some(key) = app.keymap.keys(command).first() else {
            continue;
        };
        let key = key.to_string();
        let label = app.lang.t(label);
        let cost = width(&key) + width(label) + 1 + GAP;
        if used + cost - GAP > usize::from(area.width) {
            break;
        }
        used += cost;
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {label}  ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: &str = "李晓明 Li Xiaoming@营业一厅 Counter Hall 1";
    const STATES: &str = "数据库：正常 │ 卡：无卡  ";

    #[test]
    fn the_office_gives_way_before_the_breadcrumbs() {
        let home = " meterdesk › 客户";
        let wide = top_line_text(100, home, Some(WHO), STATES);
        assert!(wide.contains(&format!("{WHO} │ {STATES}")), "{wide}");
        assert_eq!(width(&wide), 100);
        let top = top_line_text(80, home, Some(WHO), STATES);
        assert!(top.starts_with(" meterdesk › 客户 "), "{top}");
        assert!(top.contains("李晓明 Li Xiaoming@营业一厅 Count"), "{top}");
        assert!(top.ends_with(&format!("… │ {STATES}")), "{top}");
        assert_eq!(width(&top), 80);
    }

    /// s36-d on the card rig at 80 columns: with a card on the reader naming its customer, the
    /// card screen's top line read "… › IC卡" beside "李晓明 Li Xiaom…". The place stays whole;
    /// the operator's name gives way, down to its start.
    #[test]
    fn on_the_card_screen_the_place_stays_whole_and_the_name_gives_way() {
        let card = " meterdesk › 客户 › IC卡";
        let states = "数据库：正常 │ 卡 100000756 · 10000057 陈芳  ";
        let top = top_line_text(80, card, Some(WHO), states);
        assert!(top.starts_with(&format!("{card} 李晓明…")), "{top}");
        assert!(top.ends_with(&format!(" │ {states}")), "{top}");
        assert_eq!(width(&top), 80);
        let english = " meterdesk › Customers › IC card";
        let states = "DB: ok │ Card 100000756 · 10000057 Chen Fang  ";
        let top = top_line_text(80, english, Some("Li Xiaoming@Counter Hall 1"), states);
        // The longer English states leave the name its start, and the program's name goes:
        // the place, "Customers › IC card", stays.
        assert!(top.starts_with("… › Customers › IC card "), "{top}");
        assert!(top.contains(" Li Xia… │ "), "{top}");
        assert!(top.ends_with(states), "{top}");
        assert_eq!(width(&top), 80);
    }

    #[test]
    fn deeper_the_office_gives_way_first_then_the_name_then_the_outer_levels() {
        let deep = " meterdesk › 客户 › 10023457 › 更换卡片 › 确认";
        let top = top_line_text(100, deep, Some(WHO), STATES);
        assert!(top.starts_with(deep), "{top}");
        assert!(top.contains(" 李晓明 Li Xiaoming@营业…"), "{top}");
        assert_eq!(width(&top), 100);
        // At 80 the name down to its start; the breadcrumbs whole.
        let top = top_line_text(80, deep, Some(WHO), STATES);
        assert!(top.starts_with(&format!("{deep} 李晓… │ ")), "{top}");
        assert_eq!(width(&top), 80);
        let narrow = top_line_text(60, deep, Some(WHO), STATES);
        assert!(
            narrow.starts_with("… › ") && narrow.contains("› 确认 "),
            "{narrow}"
        );
        assert!(narrow.ends_with(STATES), "the states stay whole: {narrow}");
        assert!(width(&narrow) <= 60, "{narrow}");
    }

    /// The catalogue's sections whose texts are never said on the message line: the screens'
    /// own words (titles, labels, legends, help pages, names put into other texts), the
    /// command line's program output.
    const NOT_ON_THE_MESSAGE_LINE: &[&str] = &[
        "screen",
        "legend",
        "help",
        "helps",
        "punct",
        "permission_name",
        "role_name",
        "audit_action",
        "audit_detail",
        "init",
        "login",
        "whole",
        "keyboard",
    ];
    /// Keys in other sections that are not message-line texts: the card replacement's note on
    /// its confirmation (lines of its own).
    const NOT_MESSAGES: &[&str] = &["ic.replace_note"];
    /// Messages that cannot be two rows at 80 columns without losing a fact; the message line
    /// cuts them with the mark that the whole is in `:messages` (s37-h's decisions section).
    /// None is left: s38-d fitted English `ic.discrepancy_failed_purchase_not_covered`, and
    /// s38-e put `failure.database_unknown`'s code and constraint last, so a constraint's name
    /// longer than the 40 cells of "SQLSTATE 23514, customer_customer_no_check" is what goes
    /// to `:messages` whole. A text added here must say which fact it cannot lose.
    const LEFT_TO_THE_MARK: &[&str] = &[];

    /// A placeholder's widest realistic value: numbers of ten digits, amounts in the
    /// thousands, a long Chinese name, key names as the keymap names them.
    fn widest(name: &str) -> &'static str {
        match name {
            n if n.starts_with("key:") => "Ctrl-s",
            n if n.starts_with("keys:") => "Ctrl-s / F2",
            "amount" | "balance" | "total" | "credit" | "arrears" | "payout" | "vat"
            | "settlement" => "-12 345.67",
            "volume" | "reading" | "previous" | "current" => "12 345.678",
            "price" => "12.3456",
            "name" | "owner" | "operator" | "by" => "欧阳晓明明",
            "at" | "date" | "on" | "today" | "until" | "due" | "day" => "2026-12-06 03:45",
            "login" => "li.xiaoming",
            "permission" => "modify a customer's basic information",
            // A card counts its sequence in two bytes; PIN tries left are few.
            "seq" | "sequence" | "later_seq" => "65535",
            "tries" => "1",
            "method" => "Bank transfer",
            "path" => "/home/clerk/readings-2026-12.csv",
            _ => "1234567890",
        }
    }

    fn filled(key: &str, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            // The PIN tries left, when the desk stops, are one.
            let value = match (key, name) {
                ("failure.card_last_pin_tries", "detail") => "1",
                // A refusal the desk has no words for is named by its code and constraint.
                ("failure.database_unknown", "detail") => {
                    "SQLSTATE 23514, customer_customer_no_check"
                }
                _ => widest(name),
            };
            out.push_str(value);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }

    /// s37-f's "Found, not fixed": `transfer.card_pending` took 239 cells in English, so the
    /// clerk read it cut, the rest in `:messages`. Every message-line text of the catalogue,
    /// in both languages, its placeholders at their widest and with the error mark "! ",
    /// broken as `message_line` breaks it, fits its two rows at 80 columns.
    #[test]
    fn every_message_is_whole_in_two_rows_at_80_columns_in_both_languages() {
        let mut too_long = Vec::new();
        for (lang, catalogue) in CATALOGUES {
            for (key, filled, _) in said_texts(catalogue) {
                let text = format!("! {filled}");
                let (_, rest) = split_line(&text, 80);
                if width(rest) > 80 && !LEFT_TO_THE_MARK.contains(&format!("{lang} {key}").as_str())
                {
                    too_long.push(format!("{lang} {key} ({}): {text}", width(&text)));
                }
            }
        }
        assert!(
            too_long.is_empty(),
            "{} not whole in two rows at 80 columns:\n{}",
            too_long.len(),
            too_long.join("\n")
        );
    }

    /// The catalogues, by language code.
    const CATALOGUES: [(&str, &str); 2] = [
        ("en", include_str!("../i18n/en.toml")),
        ("zh", include_str!("../i18n/zh.toml")),
    ];

    /// The mark that the rest is in `:messages`, in language `lang`.
    fn more_mark(lang: &str) -> &'static str {
        if lang == "en" {
            "… (all in :messages)"
        } else {
            "…（全文见 :messages）"
        }
    }

    /// Every message-line text of `catalogue` with its placeholders at their widest, by key,
    /// and as the catalogue has it.
    fn said_texts(catalogue: &str) -> Vec<(String, String, String)> {
        use std::collections::BTreeMap;
        let sections: BTreeMap<String, BTreeMap<String, String>> =
            toml::from_str(catalogue).expect("the catalogue is well-formed");
        let mut said = Vec::new();
        for (section, texts) in &sections {
            if NOT_ON_THE_MESSAGE_LINE.contains(&section.as_str()) {
                continue;
            }
            for (key, text) in texts {
                let key = format!("{section}.{key}");
                if NOT_MESSAGES.contains(&key.as_str()) || text.contains('\n') {
                    continue;
                }
                said.push((key.clone(), filled(&key, text), text.clone()));
            }
        }
        said
    }

    /// s39's "Found, not fixed": a refusal that filled the message line's two rows cut the
    /// words added after it ("… The keys pressed after F2 were not done.", "按 F2 之后键入的 … 个
    /// 键已丢弃"), seen only in `:messages`. Any refusal, its placeholders at their widest,
    /// with the words added after it is whole in the three rows a message may take
    /// (`SPILL_ROWS`), broken as `message_line` breaks it, in both languages.
    #[test]
    fn a_refusal_and_the_words_added_after_it_are_whole_in_three_rows_at_80_columns() {
        let mut cut = Vec::new();
        for (lang, catalogue) in CATALOGUES {
            let said = said_texts(catalogue);
            let text = |wanted: &str| {
                said.iter()
                    .find(|(key, _, _)| key == wanted)
                    .map(|(_, _, raw)| raw.clone())
                    .unwrap_or_else(|| panic!("{wanted} in the catalogue"))
            };
            let sections: toml::Table = toml::from_str(catalogue).expect("well-formed");
            let dropped = |key: &str| filled("", sections["keyboard"][key].as_str().unwrap());
            let (ahead_dropped, written_dropped) =
                (dropped("ahead_dropped"), dropped("written_dropped"));
            let more = more_mark(lang);
            for (key, refusal, _) in &said {
                let mut together = vec![
                    filled(
                        "",
                        &text("msg.keys_after_save_dropped").replace("{failure}", refusal),
                    ),
                    filled(
                        "",
                        &text("msg.waiting_keys_dropped").replace("{failure}", refusal),
                    ),
                ];
                // A question asked on the line with the keys typed before it dropped after it.
                if key.starts_with("basic.id_elsewhere") || key.starts_with("bills.confirm_pay") {
                    together.push(format!("{refusal} {ahead_dropped}"));
                }
                // A card write's outcome with the keys typed while it ran dropped (s45-e).
                if ["ic.", "card_by_hand.", "refused."]
                    .iter()
                    .any(|said| key.starts_with(said))
                {
                    together.push(format!("{refusal} {written_dropped}"));
                }
                for text in together {
                    let text = format!("! {text}");
                    let rows = message_rows(&text, 80, usize::from(SPILL_ROWS), more);
                    if rows.last().is_some_and(|row| row.ends_with(more)) {
                        cut.push(format!("{lang} {key} ({}): {text}", width(&text)));
                    }
                }
            }
        }
        assert!(
            cut.is_empty(),
            "{} cut at 80 columns:\n{}",
            cut.len(),
            cut.join("\n")
        );
    }

    /// The card's differences said together (`screens::card::reader`, the one that says what
    /// to do first): the first is whole, and what does not fit after it ends in the mark that
    /// the rest is in `:messages`, itself whole (s39-a: "lacks purchase #10 … Reported." with
    /// the not-covered one, cut at 80 columns, its own "Reported." lost).
    #[test]
    fn the_first_of_two_card_differences_is_whole_and_the_mark_after_it_at_80_columns() {
        let mut cut = Vec::new();
        for (lang, catalogue) in CATALOGUES {
            let more = more_mark(lang);
            let space = if lang == "en" { " " } else { "" };
            let differences: Vec<_> = said_texts(catalogue)
                .into_iter()
                .filter(|(key, _, _)| key.starts_with("ic.discrepancy_"))
                .map(|(key, text, _)| (key, text))
                .collect();
            for (first_key, first) in &differences {
                for (second_key, second) in &differences {
                    let text = format!("! {first}{space}{second}");
                    let rows = message_rows(&text, 80, usize::from(SPILL_ROWS), more);
                    let shown: String = rows.concat();
                    let whole_first = shown
                        .replace(' ', "")
                        .contains(&format!("! {first}").replace(' ', ""));
                    let last = rows.last().map(String::as_str).unwrap_or_default();
                    let whole_rest = last.ends_with(more)
                        || shown.replace(' ', "").ends_with(&second.replace(' ', ""));
                    if !whole_first || !whole_rest {
                        cut.push(format!("{lang} {first_key} + {second_key}: {rows:?}"));
                    }
                }
            }
        }
        assert!(
            cut.is_empty(),
            "{} cut at 80 columns:\n{}",
            cut.len(),
            cut.join("\n")
        );
    }
}
