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
    /// The least it is cut to when the whole columns' numbers need more than the screen:
    /// `min` unless [`Column::gives_way_to`] says less.
    pub floor: u16,
}

impl Column {
    pub const fn new(header: &'static str, min: u16, grow: u16, right_aligned: bool) -> Column {
        Column {
            header,
            min,
            grow,
            right_aligned,
            whole: false,
            floor: min,
        }
    }

    /// A text column that is cut down to `floor` cells rather than have the table scroll
    /// sideways when a whole column's cells are wider than its minimum (the customer table's
    /// twelve-digit meter numbers at 80 columns): one whose whole text is shown elsewhere.
    pub const fn gives_way_to(self, floor: u16) -> Column {
        Column { floor, ..self }
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
    let mut mins = mins;
    give_way(columns, &mut mins, total.saturating_sub(gaps));
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

/// When the columns' widths `mins` need more than `room`, the columns that give way
/// ([`Column::gives_way_to`]) are cut towards their floors, the one that grows most first,
/// so that the table fits. If all they could give would not make it fit, none gives
/// anything: the table scrolls sideways as it did, its text no more cut than before.
fn give_way(columns: &[Column], mins: &mut [u16], room: u16) {
    let mut over = mins.iter().sum::<u16>().saturating_sub(room);
    let can_give: u16 = columns
        .iter()
        .zip(mins.iter())
        .filter(|(column, _)| !column.whole)
        .map(|(column, min)| min.saturating_sub(column.floor))
        .sum();
    if over > can_give {
        return;
    }
    let mut order: Vec<usize> = (0..columns.len())
        .filter(|&i| !columns[i].whole && columns[i].floor < columns[i].min)
        .collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(columns[i].grow), i));
    for i in order {
        if over == 0 {
            break;
        }
        let given = mins[i].saturating_sub(columns[i].floor).min(over);
        mins[i] -= given;
        over -= given;
    }
}

/// What of a table shows on a screen scrolled sideways: the columns from `first` on, each as
/// wide as it shows, after `pad` blank cells (the scroll stopped on the space between two
/// columns). A column the screen's edge cuts is drawn as wide as the part in sight, so its
/// cell is cut with `…` as any cut cell is, not in the middle of a word with nothing said.
pub struct InSight {
    first: usize,
    widths: Vec<u16>,
    pad: u16,
}

impl InSight {
    /// The part of a table of columns `widths` wide, scrolled `sideways` cells to the left,
    /// that shows on a screen `screen` cells wide.
    pub fn of(widths: &[u16], sideways: u16, screen: u16) -> InSight {
        let (left, right) = (sideways, sideways.saturating_add(screen));
        let mut sight = InSight {
            first: 0,
            widths: Vec::new(),
            pad: 0,
        };
        let mut start = 0u16;
        for (index, &cells) in widths.iter().enumerate() {
            let end = start.saturating_add(cells);
            if end > left && start < right {
                let from = start.max(left);
                if sight.widths.is_empty() {
                    sight.first = index;
                    sight.pad = from - left;
                }
                sight.widths.push(end.min(right) - from);
            }
            start = end.saturating_add(1);
        }
        sight
    }
}

/// The header line: every column's header in `lang`, in `style`.
pub fn header_of(columns: &[Column], sight: &InSight, lang: Lang, style: Style) -> Line<'static> {
    let headers: Vec<String> = columns
        .iter()
        .map(|column| lang.t(column.header).to_owned())
        .collect();
    line_of(columns, &headers, sight, style, columns.len())
}

/// One table line, as much of it as is in `sight`; `style` covers the first `styled` columns.
pub fn line_of(
    columns: &[Column],
    cells: &[String],
    sight: &InSight,
    style: Style,
    styled: usize,
) -> Line<'static> {
    let fitted: Vec<String> = columns
        .iter()
        .zip(cells)
        .skip(sight.first)
        .zip(&sight.widths)
        .map(|((column, cell), cells)| fit(cell, *cells, column.right_aligned))
        .collect();
    let styled = styled.saturating_sub(sight.first).min(fitted.len());
    let (marked, rest) = fitted.split_at(styled);
    let mut spans = vec![Span::raw(" ".repeat(usize::from(sight.pad)))];
    if !marked.is_empty() {
        spans.push(Span::styled(marked.join(" "), style));
    }
    if !rest.is_empty() {
        let gap = if marked.is_empty() { "" } else { " " };
        spans.push(Span::raw(format!("{gap}{}", rest.join(" "))));
    }
    Line::from(spans)
}

/// The one table every list screen draws (the customer table, the short lists, the meter
/// list, the audit log, the ledger, the bills, the arrears, the reports): the header on its
/// area's first line, then the rows that fit, the selected one always among them, scrolled
/// sideways by `sideways` cells within what does not fit; or, when there are no rows, the
/// text `empty` dimmed.
pub struct Table<'a, R> {
    columns: &'a [Column],
    rows: &'a [R],
    selected: Option<usize>,
    /// How many columns, from the left, the selection's colour covers.
    marked: usize,
    sideways: u16,
    empty: &'a str,
    /// What an empty table says while its rows are on their way.
    loading: Option<&'a str>,
    /// How many of the last rows are a total, kept in sight below the others (a report's
    /// total, and what it says under it), and their style.
    total: Option<(usize, Style)>,
}

impl<'a, R: AsRef<[String]>> Table<'a, R> {
    /// `rows` under `columns`, none selected, not scrolled sideways.
    pub fn new(columns: &'a [Column], rows: &'a [R], empty: &'a str) -> Self {
        Table {
            columns,
            rows,
            selected: None,
            marked: columns.len(),
            sideways: 0,
            empty,
            loading: None,
            total: None,
        }
    }

    /// Row `selected` (if any) in the selection's colour over its first `marked` columns.
    pub fn selected(self, selected: Option<usize>, marked: usize) -> Self {
        Table {
            selected,
            marked,
            ..self
        }
    }

    /// While `loading`, no rows say `text` (not that there are none).
    pub fn loading(self, loading: bool, text: &'a str) -> Self {
        Table {
            loading: loading.then_some(text),
            ..self
        }
    }

    /// Scrolled `sideways` cells to the left, within what does not fit.
    pub fn sideways(self, sideways: u16) -> Self {
        Table { sideways, ..self }
    }

    /// The last `lines` rows a total in `style`, always in sight.
    pub fn total(self, lines: usize, style: Style) -> Self {
        Table {
            total: Some((lines, style)),
            ..self
        }
    }

    /// Draws it in `area`; true when some columns are off screen.
    pub fn draw(self, frame: &mut Frame, area: Rect, (lang, theme): (Lang, &Theme)) -> bool {
        let [header, body] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        let columns = self.columns;
        let widths = widths_for(columns, self.rows, area.width);
        let hidden = table_width(&widths).saturating_sub(area.width);
        let sight = InSight::of(&widths, self.sideways.min(hidden), area.width);
        let header_line = header_of(columns, &sight, lang, theme.header());
        frame.render_widget(Paragraph::new(header_line), header);
        let (rows, total) = match self.total {
            Some((lines, style)) if lines > 0 && lines <= self.rows.len() => {
                let (rows, total) = self.rows.split_at(self.rows.len() - lines);
                (rows, Some((total, style)))
            }
            _ => (self.rows, None),
        };
        if rows.is_empty() && total.is_none() {
            let empty = self.loading.unwrap_or(self.empty);
            let none = Line::styled(format!(" {empty}"), theme.dim());
            frame.render_widget(Paragraph::new(none), body);
            return hidden > 0;
        }
        let room =
            usize::from(body.height).saturating_sub(total.map_or(0, |(lines, _)| lines.len()));
        // The selected row is always in sight: a list loaded whole follows it down, and a page
        // read to fit the screen scrolls when fewer rows fit than it has (a message said over
        // three rows takes two of them, `ui::draw`; a terminal made smaller).
        let first = self
            .selected
            .map_or(0, |selected| (selected + 1).saturating_sub(room.max(1)));
        let lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .skip(first)
            .take(room)
            .map(|(index, cells)| {
                let style = if Some(index) == self.selected {
                    theme.selected()
                } else {
                    Style::new()
                };
                line_of(columns, cells.as_ref(), &sight, style, self.marked)
            })
            .chain(total.into_iter().flat_map(|(lines, style)| {
                let sight = &sight;
                lines
                    .iter()
                    .map(move |cells| line_of(columns, cells.as_ref(), sight, style, columns.len()))
            }))
            .collect();
        frame.render_widget(Paragraph::new(lines), body);
        hidden > 0
    }
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

    /// The lines `table` draws in a 14×3 area: its header and two rows.
    fn drawn(table: Table<Vec<String>>) -> Vec<String> {
        drawn_at(table, 3)
    }

    /// The lines `table` draws in an area 14 wide and `height` high.
    fn drawn_at(table: Table<Vec<String>>, height: u16) -> Vec<String> {
        use crate::app::hub::Look;
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        let mut terminal = Terminal::new(TestBackend::new(14, height)).unwrap();
        terminal
            .draw(|frame| {
                table.draw(
                    frame,
                    frame.area(),
                    (Lang::En, &Theme::new(Look::default())),
                );
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..height)
            .map(|y| {
                let line: String = (0..14).map(|x| buffer[(x, y)].symbol()).collect();
                line.trim_end().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_table_shows_its_selection_keeps_its_total_and_says_why_it_has_no_rows() {
        let rows: Vec<Vec<String>> = (1..=5)
            .map(|n| ["1", "x", "y"].map(|cell| format!("{cell}{n}")).to_vec())
            .collect();
        let shown = |table: Table<Vec<String>>| drawn(table)[1..].to_vec();
        let page = Table::new(&COLUMNS, &rows, "none").selected(Some(1), 1);
        assert_eq!(shown(page), ["11   x1     y1", "12   x2     y2"]);
        let below = Table::new(&COLUMNS, &rows, "none").selected(Some(3), 1);
        assert_eq!(
            shown(below),
            ["13   x3     y3", "14   x4     y4"],
            "a selected row below what fits is scrolled into sight"
        );
        let report = Table::new(&COLUMNS, &rows, "none").total(1, Style::new());
        assert_eq!(shown(report), ["11   x1     y1", "15   x5     y5"]);
        let two_lines = |height| {
            let table = Table::new(&COLUMNS, &rows, "none").total(2, Style::new());
            drawn_at(table, height)[1..].to_vec()
        };
        assert_eq!(
            two_lines(4),
            ["11   x1     y1", "14   x4     y4", "15   x5     y5"],
            "a total of two lines keeps both in sight"
        );
        assert_eq!(shown(Table::new(&COLUMNS, &[], "none")), [" none", ""]);
        let loading = Table::new(&COLUMNS, &[], "none").loading(true, "loading");
        assert_eq!(shown(loading), [" loading", ""]);
    }

    #[test]
    fn a_column_the_screen_edge_cuts_is_as_wide_as_its_part_in_sight() {
        let sight = InSight::of(&[4, 4, 4], 4, 8);
        assert_eq!(
            (sight.first, sight.widths.as_slice(), sight.pad),
            (1, [4, 2].as_slice(), 1),
            "scrolled onto the space before the second column, the third cut by the edge"
        );
        // Twenty cells wide on fourteen: the whole number is cut by the edge, then the text.
        let rows = rows(["1234", "abcd", "1234567890"]);
        let shown =
            |sideways| drawn(Table::new(&COLUMNS, &rows, "none").sideways(sideways))[1].clone();
        assert_eq!(shown(0), "1234 abcd 123…");
        assert_eq!(shown(6), "ab… 1234567890");
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
