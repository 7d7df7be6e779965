//! The customer table: search line, header, one line per customer, truncated by display
//! width, numbers right-aligned.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::inert::inert;
use super::table::{Column, column_widths, line_of};
use super::text::{truncate, width};
use super::theme::Theme;
use crate::app::App;
use crate::app::state::CustomerTable;
use crate::db::customers::CustomerRow;
use crate::i18n::Lang;

/// At 80 columns the minimums plus one space between columns fill the line exactly; money
/// and numbers always fit in full, only text is cut.
const COLUMNS: [Column; 10] = [
    Column {
        header: "customers.col_number",
        min: 8,
        grow: 0,
        right_aligned: false,
    },
    Column {
        header: "customers.col_name",
        min: 8,
        grow: 4,
        right_aligned: false,
    },
    Column {
        header: "customers.col_type",
        min: 5,
        grow: 2,
        right_aligned: false,
    },
    Column {
        header: "customers.col_meter",
        min: 9,
        grow: 1,
        right_aligned: false,
    },
    Column {
        header: "customers.col_account",
        min: 4,
        grow: 0,
        right_aligned: false,
    },
    Column {
        header: "customers.col_balance",
        min: 10,
        grow: 1,
        right_aligned: true,
    },
    Column {
        header: "customers.col_card",
        min: 5,
        grow: 1,
        right_aligned: false,
    },
    Column {
        header: "customers.col_phone",
        min: 11,
        grow: 1,
        right_aligned: false,
    },
    Column {
        header: "customers.col_address",
        min: 5,
        grow: 6,
        right_aligned: false,
    },
    Column {
        header: "customers.col_status",
        min: 6,
        grow: 0,
        right_aligned: false,
    },
];

/// The cells of one customer, in column order, as they are shown.
fn cells(row: &CustomerRow, lang: Lang) -> [String; 10] {
    let kind = match row.account_kind.as_str() {
        "prepaid" => lang.t("customers.kind_prepaid"),
        _ => lang.t("customers.kind_postpaid"),
    };
    let card = match row.card_state.as_deref() {
        Some("active") => lang.t("customers.card_active"),
        Some("void") => lang.t("customers.card_void"),
        Some(_) => lang.t("customers.card_recycled"),
        None => "—",
    };
    let status = match row.status.as_str() {
        "active" => lang.t("customers.status_active"),
        _ => lang.t("customers.status_closed"),
    };
    [
        format!("{:08}", row.customer_no),
        inert(&row.name).into_owned(),
        inert(&row.customer_type).into_owned(),
        inert(&row.meter_no).into_owned(),
        kind.to_owned(),
        format!("{:.2}", row.balance),
        card.to_owned(),
        inert(row.phone.as_deref().unwrap_or("")).into_owned(),
        inert(&row.address).into_owned(),
        status.to_owned(),
    ]
}

/// The selection marks the customer number and the name only: a row move then rewrites
/// those cells of two rows instead of two whole rows, which keeps it cheap on a slow SSH link
/// (`meterdesk bench` counts the bytes) while the number and name are what the eye looks for.
const SELECTION_COLUMNS: usize = 2;

pub fn draw(frame: &mut Frame, area: Rect, table: &CustomerTable, app: &App, theme: &Theme) {
    let lang = app.lang;
    let [search_line, header_line, rows_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    draw_search(frame, search_line, table, lang, theme);

    let widths = column_widths(&COLUMNS, area.width);
    let headers: Vec<String> = COLUMNS
        .iter()
        .map(|c| lang.t(c.header).to_owned())
        .collect();
    frame.render_widget(
        Paragraph::new(line_of(
            &COLUMNS,
            &headers,
            &widths,
            theme.header(),
            COLUMNS.len(),
        )),
        header_line,
    );

    if table.page.rows.is_empty() {
        let note = if table.loading {
            lang.t("customers.loading").to_owned()
        } else {
            lang.tf("customers.none", &[("query", &inert(table.search.value()))])
        };
        frame.render_widget(
            Paragraph::new(Line::styled(format!(" {note}"), theme.dim())),
            rows_area,
        );
        return;
    }
    let lines: Vec<Line> = table
        .page
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let style = if index == table.selected && !table.search_focused {
                theme.selected()
            } else {
                Style::new()
            };
            line_of(
                &COLUMNS,
                &cells(row, lang),
                &widths,
                style,
                SELECTION_COLUMNS,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows_area);
}

fn draw_search(frame: &mut Frame, area: Rect, table: &CustomerTable, lang: Lang, theme: &Theme) {
    let label = format!(" {} ", lang.t("customers.search"));
    let room = usize::from(area.width)
        .saturating_sub(width(&label))
        .min(30);
    let value = table.search.value();
    let scroll = table.search.visual_scroll(room);
    let shown: String = truncate(&inert(value).chars().skip(scroll).collect::<String>(), room);
    let style = if table.search_focused {
        theme.focused()
    } else {
        theme.field()
    };
    let mut spans = vec![
        Span::raw(label.clone()),
        Span::styled(
            format!("{shown}{}", " ".repeat(room.saturating_sub(width(&shown)))),
            style,
        ),
    ];
    let note = match table.typed_error {
        Some(_) => Span::styled(
            format!(" ! {}", lang.t("customers.check_digit")),
            theme.error(),
        ),
        None => Span::styled(format!(" {}", lang.t("customers.search_hint")), theme.dim()),
    };
    spans.push(note);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if table.search_focused {
        let cursor = (table.search.visual_cursor().max(scroll) - scroll).min(room) as u16;
        frame.set_cursor_position((area.x + width(&label) as u16 + cursor, area.y));
    }
}
