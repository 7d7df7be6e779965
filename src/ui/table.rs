//! Tables of one line per row: columns with a minimum width and a share of the spare room,
//! cells fitted by display width (cut with `…`, never wrapped), numbers right-aligned.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::text::{fit, width};
use super::theme::Theme;
use crate::i18n::Lang;

/// A column: its header's catalogue key, the cells it needs, its share of spare room, and
/// whether its cells are always shown whole (numbers a clerk reads out or types elsewhere:
/// customer, meter and receipt numbers, amounts).
pub struct Column {
    pub header: &'static str,
    pub min: u16,
    pub grow: u16,
    pub right_aligned: bool,
    pub whole: bool,
}

impl Column {
    pub const fn new(header: &'static str, min: u16, grow: u16, right_aligned: bool) -> Column {
        Column {
            header,
            min,
            grow,
            right_aligned,
            whole: false,
        }
    }

    /// The column's cells are never cut: it is as wide as its widest cell.
    pub const fn whole(self) -> Column {
        Column {
            whole: true,
            ..self
        }
    }
}

/// Each column's width for `rows` in a table `total` cells wide: the minimums (a whole
/// column's is its widest cell), then the spare room shared by the columns' weights (what
/// rounding leaves goes to the column that grows most). The sum (with a space between
/// columns) may exceed `total`: the table then scrolls sideways (the customer table) rather
/// than cut a number.
pub fn widths_for<R: AsRef<[String]>>(columns: &[Column], rows: &[R], total: u16) -> Vec<u16> {
    let mins: Vec<u16> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let widest = rows
                .iter()
                .filter(|_| column.whole)
                .filter_map(|cells| cells.as_ref().get(index))
                .map(|cell| u16::try_from(width(cell)).unwrap_or(u16::MAX))
                .max()
                .unwrap_or(0);
            column.min.max(widest)
        })
        .collect();
    let gaps = columns.len().saturating_sub(1) as u16;
    let needed: u16 = mins.iter().sum::<u16>() + gaps;
    let spare = total.saturating_sub(needed);
    let weights: u16 = columns.iter().map(|c| c.grow).sum::<u16>().max(1);
    let mut widths: Vec<u16> = columns
        .iter()
        .zip(mins)
        .map(|(c, min)| min + spare * c.grow / weights)
        .collect();
    let given: u16 = widths.iter().sum::<u16>() + gaps;
    if let Some(widest) = (0..columns.len()).max_by_key(|&i| (columns[i].grow, usize::MAX - i)) {
        widths[widest] += total.saturating_sub(given).min(spare);
    }
    widths
}

/// The header line: every column's header in `lang`, in `style`.
pub fn header_of(columns: &[Column], widths: &[u16], lang: Lang, style: Style) -> Line<'static> {
    let headers: Vec<String> = columns
        .iter()
        .map(|column| lang.t(column.header).to_owned())
        .collect();
    line_of(columns, &headers, widths, style, columns.len())
}

/// One table line; `style` covers the first `styled` columns.
pub fn line_of(
    columns: &[Column],
    cells: &[String],
    widths: &[u16],
    style: Style,
    styled: usize,
) -> Line<'static> {
    let fitted: Vec<String> = columns
        .iter()
        .zip(cells.iter().zip(widths))
        .map(|(column, (cell, cells))| fit(cell, *cells, column.right_aligned))
        .collect();
    let styled = styled.min(fitted.len());
    let mut spans = vec![Span::styled(fitted[..styled].join(" "), style)];
    if styled < fitted.len() {
        spans.push(Span::raw(format!(" {}", fitted[styled..].join(" "))));
    }
    Line::from(spans)
}

/// A table filling `area`: the header on its first line, then the rows of `cells` (the
/// `selected` one highlighted), or, when there are none, the text `none` dimmed.
pub fn draw_table<R: AsRef<[String]>>(
    frame: &mut Frame,
    area: Rect,
    columns: &[Column],
    (cells, selected): (&[R], Option<usize>),
    none: &str,
    (lang, theme): (Lang, &Theme),
) {
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let widths = widths_for(columns, cells, area.width);
    frame.render_widget(
        Paragraph::new(header_of(columns, &widths, lang, theme.header())),
        header,
    );
    if cells.is_empty() {
        let none = Line::styled(format!(" {none}"), theme.dim());
        frame.render_widget(Paragraph::new(none), body);
        return;
    }
    let lines: Vec<Line> = cells
        .iter()
        .enumerate()
        .map(|(index, cells)| {
            let style = if Some(index) == selected {
                theme.selected()
            } else {
                Style::new()
            };
            line_of(columns, cells.as_ref(), &widths, style, columns.len())
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

/// Cells a Left or Right moves a table that does not fit on the screen.
const SIDEWAYS_STEP: i16 = 10;

/// The sideways scroll of a table of columns `widths` wide on a screen `screen` cells wide,
/// after a Left (`-1`) or a Right (`1`): a step, within what does not fit.
pub fn scrolled_sideways(scroll: u16, direction: i16, widths: &[u16], screen: u16) -> u16 {
    let hidden = table_width(widths).saturating_sub(screen);
    scroll
        .saturating_add_signed(direction * SIDEWAYS_STEP)
        .min(hidden)
}

/// The width of a table of columns `widths` wide, a space between them.
pub fn table_width(widths: &[u16]) -> u16 {
    widths.iter().sum::<u16>() + widths.len().saturating_sub(1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [
        Column::new("a", 4, 0, false).whole(),
        Column::new("b", 4, 1, false),
        Column::new("c", 4, 0, true).whole(),
    ];

    fn rows(cells: [&str; 3]) -> Vec<Vec<String>> {
        vec![cells.map(str::to_owned).to_vec()]
    }

    #[test]
    fn a_whole_column_is_as_wide_as_its_widest_cell() {
        assert_eq!(widths_for(&COLUMNS, &rows(["1", "x", "2"]), 20), [4, 10, 4]);
        let wide = rows(["201700000001", "name", "1234567.89"]);
        assert_eq!(widths_for(&COLUMNS, &wide, 20), [12, 4, 10]);
        assert_eq!(
            table_width(&widths_for(&COLUMNS, &wide, 20)),
            28,
            "wider than 20"
        );
    }
}
