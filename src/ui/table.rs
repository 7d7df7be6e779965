//! Tables of one line per row: columns with a minimum width and a share of the spare room,
//! cells fitted by display width (cut with `…`, never wrapped), numbers right-aligned.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::text::fit;
use crate::i18n::Lang;

/// A column: its header's catalogue key, the cells it needs, and its share of spare room.
pub struct Column {
    pub header: &'static str,
    pub min: u16,
    pub grow: u16,
    pub right_aligned: bool,
}

impl Column {
    pub const fn new(header: &'static str, min: u16, grow: u16, right_aligned: bool) -> Column {
        Column {
            header,
            min,
            grow,
            right_aligned,
        }
    }
}

/// Each column's width for a table `total` cells wide: the minimums, then the spare room
/// shared by the columns' weights (what rounding leaves goes to the column that grows most).
pub fn column_widths(columns: &[Column], total: u16) -> Vec<u16> {
    let gaps = columns.len().saturating_sub(1) as u16;
    let needed: u16 = columns.iter().map(|c| c.min).sum::<u16>() + gaps;
    let spare = total.saturating_sub(needed);
    let weights: u16 = columns.iter().map(|c| c.grow).sum::<u16>().max(1);
    let mut widths: Vec<u16> = columns
        .iter()
        .map(|c| c.min + spare * c.grow / weights)
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
