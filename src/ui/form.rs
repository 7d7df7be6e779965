//! Draws an `app::form::Form`: one line per field — label (from the catalogue, `*` when
//! required), the field, and its error next to it — and, over it, the lookup list of a choice
//! field. Field text may come from the database: it is drawn inert.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use tui_input::Input;

use super::chrome::{centred, clear};
use super::inert::inert;
use super::text::{fit, truncate, widest, width, window};
use super::theme::Theme;
use crate::app::form::{Field, FieldKind, Form};
use crate::i18n::Lang;

/// Widest a field is drawn; longer text scrolls inside it.
const FIELD_ROOM: usize = 32;

/// Cells the field takes on screen.
fn field_width(field: &Field) -> usize {
    match &field.kind {
        FieldKind::Text { max } => (*max + 1).min(FIELD_ROOM),
        FieldKind::Digits { len } => len + 1,
        FieldKind::Amount { .. } | FieldKind::Volume { .. } => 14,
        FieldKind::Date => 11,
        FieldKind::Choices(_) => FIELD_ROOM,
        FieldKind::Choice(choices) => choices
            .iter()
            .map(|c| width(&c.label) + 1)
            .max()
            .unwrap_or(0)
            .clamp(12, FIELD_ROOM),
    }
}

/// The label as drawn: its text and a `*` for a required field.
fn label(field: &Field, lang: Lang) -> String {
    let mark = if field.required { " *" } else { "" };
    format!("{}{mark}", lang.t(field.label))
}

/// The form's fields at the top of `area`, scrolled so the focused one shows; the cursor on the
/// focused field; the lookup list over `area` when open. Give it the rows below the fields too
/// and draw it after what they hold: the list opens over them (the fields' own rows alone may
/// have no room for a single choice).
pub fn draw(frame: &mut Frame, area: Rect, form: &Form, lang: Lang, theme: &Theme) {
    if area.is_empty() {
        // A tiny terminal: no row is the form's, and the rows around it are others'.
        return;
    }
    let label_width = widest(form.fields.iter().map(|f| label(f, lang))) + 2;
    let rows = usize::from(area.height);
    let first = (form.focus + 1).saturating_sub(rows);
    for (line, (index, field)) in form
        .fields
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .enumerate()
    {
        let row = Rect {
            y: area.y + line as u16,
            height: 1,
            ..area
        };
        let room = usize::from(row.width);
        let cells = field_width(field).min(room.saturating_sub(label_width + 2));
        let focused = index == form.focus;
        let right = matches!(field.kind, FieldKind::Amount { .. });
        // Choices are not edited with a cursor: they show from their start.
        let scroll = if right || matches!(field.kind, FieldKind::Choice(_) | FieldKind::Choices(_))
        {
            0
        } else {
            field.input.visual_scroll(cells.saturating_sub(1))
        };
        let shown = match field.kind {
            FieldKind::Choices(_) => ticked(field, cells, lang),
            // Only the focused field follows its cursor: another shows its start (an address
            // read as "市南山区…" lost its city), cut with `…`.
            _ if !focused => truncate(&inert(field.input.value()), cells),
            _ => visible(&field.input, scroll, cells),
        };
        let style = theme.input(focused);
        let text = label(field, lang);
        let mut spans = vec![
            Span::raw(format!(
                "  {text}{}",
                " ".repeat(label_width - width(&text) - 2)
            )),
            Span::raw(" "),
        ];
        if focused && form.is_selected() {
            // The selection covers the text, not the empty rest of the field.
            let cut = truncate(&shown, cells);
            let pad = Span::styled(" ".repeat(cells.saturating_sub(width(&cut))), style);
            let cut = Span::styled(cut, theme.selection());
            spans.extend(if right { [pad, cut] } else { [cut, pad] });
        } else {
            spans.push(Span::styled(fit(&shown, cells as u16, right), style));
        }
        let used = label_width + 1 + cells;
        if let Some(error) = &field.error {
            // An error can quote stored text (a conflict shows the value saved meanwhile).
            let note = truncate(&format!(" ! {}", inert(error)), room.saturating_sub(used));
            spans.push(Span::styled(note, theme.error()));
        } else if field.offered {
            let note = truncate(
                &format!(" {}", lang.t("form_offer.note")),
                room.saturating_sub(used),
            );
            spans.push(Span::styled(note, theme.dim()));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), row);
        if focused && form.lookup.is_none() {
            let cursor = field.input.visual_cursor().saturating_sub(scroll);
            let x = if right {
                let end = width(&shown).min(cells);
                cells - end + cursor.min(end)
            } else {
                cursor.min(cells.saturating_sub(1))
            };
            frame.set_cursor_position((row.x + (label_width + 1 + x) as u16, row.y));
        }
    }
    if let Some(lookup) = &form.lookup {
        // A multiple-choice list marks what is ticked.
        let field = &form.fields[form.focus];
        let ticked = field.chosen_many();
        let items: Vec<String> = form
            .lookup_matches()
            .iter()
            .map(|c| match field.kind {
                FieldKind::Choices(_) if ticked.contains(c) => format!("[x] {}", c.label),
                FieldKind::Choices(_) => format!("[ ] {}", c.label),
                _ => c.label.clone(),
            })
            .collect();
        let height = (items.len().max(1) + 3).min(usize::from(area.height)) as u16;
        let boxed = centred(area, 50, height);
        list(
            frame,
            boxed,
            lang.t("form.lookup_title"),
            &lookup.filter,
            &items,
            lookup.selected,
            lang.t("form.lookup_none"),
            theme,
        );
    }
}

/// A multiple choice's ticked labels in `cells`, drawn inert and listed as `lang` lists
/// (`Card DN15, Plain DN20 +2`; `收费员、主管`): as many as fit, then how many more, so no
/// ticked one is hidden without a sign; when not even the first fits, it is cut with `…`
/// before the count.
fn ticked(field: &Field, cells: usize, lang: Lang) -> String {
    let labels: Vec<String> = field
        .chosen_many()
        .iter()
        .map(|choice| inert(&choice.label).into_owned())
        .collect();
    let with_more = |listed: String, more: usize| match more {
        0 => listed,
        _ => format!("{listed} +{more}"),
    };
    (1..=labels.len())
        .rev()
        .map(|shown| with_more(lang.list(&labels[..shown]), labels.len() - shown))
        .find(|text| width(text) <= cells)
        .unwrap_or_else(|| {
            let more = labels.len().saturating_sub(1);
            let suffix = with_more(String::new(), more);
            let first = labels.first().map_or("", String::as_str);
            format!(
                "{}{suffix}",
                truncate(first, cells.saturating_sub(width(&suffix)))
            )
        })
}

/// The part of `input` after `scroll` cells that fits in `cells`, drawn inert; scrolled, its
/// first cell is a `…`, as a text cut at its end ends in one: "12o" in the two-digit household
/// size showed "2o", the 1 hidden without a sign (s38-f). The `…` takes the place of what it
/// covers, so the cursor stays where the text is.
fn visible(input: &Input, scroll: usize, cells: usize) -> String {
    let shown = window(&inert(input.value()), scroll, cells);
    if scroll == 0 {
        return shown;
    }
    let mut chars = shown.chars();
    match chars.next() {
        Some(first) => {
            let pad = " ".repeat(width(&first.to_string()).saturating_sub(1));
            format!("…{pad}{}", chars.as_str())
        }
        None => shown,
    }
}

/// A searchable list in a box: the filter on the first line (with the cursor), then the items
/// that fit around `selected`, which is reversed; `empty` when there are none. Items are
/// drawn inert. Used by the lookup and by screens that search the database as you type.
#[allow(clippy::too_many_arguments)]
pub fn list(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    filter: &Input,
    items: &[String],
    selected: usize,
    empty: &str,
    theme: &Theme,
) {
    clear(frame, area);
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(format!(" {title} "), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let room = usize::from(inner.width);
    let scroll = filter.visual_scroll(room.saturating_sub(3));
    let filter_line = format!("> {}", visible(filter, scroll, room.saturating_sub(3)));
    frame.render_widget(
        Paragraph::new(Span::styled(filter_line, theme.field())),
        Rect { height: 1, ..inner },
    );
    frame.set_cursor_position((
        inner.x + 2 + filter.visual_cursor().saturating_sub(scroll) as u16,
        inner.y,
    ));
    let rows = usize::from(inner.height - 1);
    let mut lines = Vec::new();
    if items.is_empty() {
        lines.push(Line::from(Span::styled(format!(" {empty}"), theme.dim())));
    }
    let first = (selected + 1).saturating_sub(rows);
    for (index, item) in items.iter().enumerate().skip(first).take(rows) {
        let text = fit(&format!(" {}", inert(item)), inner.width, false);
        let style = if index == selected {
            theme.selected()
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(
        Paragraph::new(lines),
        Rect {
            y: inner.y + 1,
            height: inner.height - 1,
            ..inner
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::form::Choice;

    #[test]
    fn a_multiple_choice_shows_every_ticked_label_or_how_many_more() {
        let choice = |label: &str| Choice {
            key: label.to_owned(),
            label: label.to_owned(),
        };
        let labels = ["IC卡水表 DN15", "Plain DN20", "Remote DN25", "Bulk DN50"];
        let mut form = Form::new(vec![Field::new(
            "ref.col_meter_types",
            FieldKind::Choices(labels.map(choice).to_vec()),
            false,
        )]);
        form.choose_many(0, &labels.map(str::to_owned));
        let field = &form.fields[0];
        assert_eq!(
            ticked(field, 80, Lang::En),
            "IC卡水表 DN15, Plain DN20, Remote DN25, Bulk DN50"
        );
        assert_eq!(ticked(field, 32, Lang::En), "IC卡水表 DN15, Plain DN20 +2");
        assert_eq!(ticked(field, 12, Lang::En), "IC卡水表… +3");
        assert_eq!(
            ticked(field, 80, Lang::Zh),
            "IC卡水表 DN15、Plain DN20、Remote DN25、Bulk DN50"
        );
        assert_eq!(ticked(field, 31, Lang::Zh), "IC卡水表 DN15、Plain DN20 +2");
    }

    /// The text selected on entering a field is drawn reversed, in colour or not, and only
    /// the text: a cursor key drops the selection, and its drawing.
    #[test]
    fn a_selected_field_is_drawn_reversed() {
        use crate::app::command::Command;
        use crate::app::hub::Look;
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        use ratatui::style::Modifier;
        let mut form = Form::new(vec![
            Field::new("details.phone", FieldKind::Text { max: 20 }, true),
            Field::new("details.address", FieldKind::Text { max: 20 }, true),
        ]);
        form.set(0, "0755-1234");
        form.set(1, "DN15");
        // Which cells of the second line are reversed, as `x`.
        let reversed = |form: &Form, monochrome: bool| {
            let mut terminal = Terminal::new(TestBackend::new(40, 2)).unwrap();
            let look = Look {
                monochrome,
                ..Look::default()
            };
            terminal
                .draw(|frame| draw(frame, frame.area(), form, Lang::En, &Theme::new(look)))
                .unwrap();
            let buffer = terminal.backend().buffer();
            (0..40)
                .map(|x| {
                    let cell = &buffer[(x, 1)];
                    if cell.modifier.contains(Modifier::REVERSED) {
                        cell.symbol().to_owned()
                    } else {
                        ".".into()
                    }
                })
                .collect::<String>()
        };
        assert!(!reversed(&form, false).contains("DN15"), "not focused");
        form.on_key(
            KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
            Some(Command::NextField),
            Lang::En,
        );
        for monochrome in [false, true] {
            let line = reversed(&form, monochrome);
            assert_eq!(line.trim_matches('.'), "DN15", "{monochrome}: {line}");
        }
        form.on_key(
            KeyEvent::new(KeyCode::End, KeyModifiers::NONE),
            None,
            Lang::En,
        );
        assert!(
            !reversed(&form, false).contains("DN15"),
            "the selection dropped"
        );
    }

    /// A field the cursor is not in shows the start of its text, cut with `…`; the focused
    /// one follows its cursor.
    #[test]
    fn only_the_focused_field_scrolls_to_its_cursor() {
        use crate::app::hub::Look;
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        let address = "深圳市南山区中山路294号2单元1804室";
        let mut form = Form::new(vec![
            Field::new("details.phone", FieldKind::Text { max: 100 }, true),
            Field::new("details.address", FieldKind::Text { max: 100 }, true),
        ]);
        form.set(1, address);
        let lines = |form: &Form| {
            let mut terminal = Terminal::new(TestBackend::new(60, 2)).unwrap();
            terminal
                .draw(|frame| {
                    let theme = Theme::new(Look::default());
                    draw(frame, frame.area(), form, Lang::En, &theme);
                })
                .unwrap();
            let buffer = terminal.backend().buffer().clone();
            (0..2)
                .map(|y| {
                    (0..60)
                        .map(|x| buffer[(x, y)].symbol().to_owned())
                        .collect::<String>()
                        // A wide character's second cell is drawn as a space.
                        .replace(' ', "")
                })
                .collect::<Vec<_>>()
        };
        let unfocused = lines(&form)[1].clone();
        assert!(unfocused.contains("深圳市南山区中山路"), "{unfocused}");
        assert!(unfocused.contains('…'), "{unfocused}");
        form.focus = 1;
        let focused = lines(&form)[1].clone();
        assert!(focused.contains("1804室"), "{focused}");
        assert!(!focused.contains("深圳"), "{focused}");
    }
}
