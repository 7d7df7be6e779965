//! The reference-data screens: meter types, meters (and the import dialog), price schemes (and
//! one scheme with its price preview), customer types, and their forms (`ui::form`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::form;
use super::inert::inert;
use super::table::{Column, column_widths, line_of};
use super::text::{truncate, width};
use super::theme::Theme;
use crate::app::App;
use crate::app::form::field_error_text;
use crate::app::refdata::{
    FormTarget, ImportStage, ImportView, ListView, MetersView, RefForm, RefScreen, SchemeView,
    business_model_key, kind_key, meter_no_error_text, mode_key, nature_key, payment_model_key,
    status_key,
};
use crate::db::meters::MeterListing;
use crate::domain::meter_csv::{LineError, LineProblem, METER_CSV_TEMPLATE, Reading};
use crate::domain::pricing::Tier;
use crate::i18n::Lang;

pub fn draw(frame: &mut Frame, area: Rect, screen: &RefScreen, app: &App, theme: &Theme) {
    match screen {
        RefScreen::MeterTypes(list) => meter_types(frame, area, list, app.lang, theme),
        RefScreen::Meters(view) => meters(frame, area, view, app.lang, theme),
        RefScreen::Import(view) => import(frame, area, view, app, theme),
        RefScreen::Schemes(list) => schemes(frame, area, list, app.lang, theme),
        RefScreen::Scheme(view) => scheme(frame, area, view, app.lang, theme),
        RefScreen::CustomerTypes(list, _) => customer_types(frame, area, list, app.lang, theme),
        RefScreen::Form(form) => ref_form(frame, area, form, app, theme),
    }
}

/// A note on one line, dimmed.
fn note(text: &str, theme: &Theme) -> Line<'static> {
    Line::styled(format!(" {text}"), theme.dim())
}

/// A table: a header line, then the rows that fit, scrolled so the selection shows.
#[allow(clippy::too_many_arguments)]
fn table(
    frame: &mut Frame,
    area: Rect,
    columns: &[Column],
    rows: &[Vec<String>],
    selected: Option<usize>,
    empty: &str,
    lang: Lang,
    theme: &Theme,
) {
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let widths = column_widths(columns, area.width);
    let headers: Vec<String> = columns
        .iter()
        .map(|c| lang.t(c.header).to_owned())
        .collect();
    frame.render_widget(
        Paragraph::new(line_of(
            columns,
            &headers,
            &widths,
            theme.header(),
            columns.len(),
        )),
        header,
    );
    if rows.is_empty() {
        frame.render_widget(Paragraph::new(note(empty, theme)), body);
        return;
    }
    let height = usize::from(body.height).max(1);
    let first = selected.map_or(0, |s| (s + 1).saturating_sub(height));
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(index, cells)| {
            let style = if Some(index) == selected {
                theme.selected()
            } else {
                Style::new()
            };
            line_of(columns, cells, &widths, style, 1)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
}

/// A short list: a title line with a count, then its table.
#[allow(clippy::too_many_arguments)]
fn short_list<R>(
    frame: &mut Frame,
    area: Rect,
    list: &ListView<R>,
    columns: &[Column],
    cells: impl Fn(&R) -> Vec<String>,
    lang: Lang,
    theme: &Theme,
) {
    let [title, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let count = lang.tf("ref.count", &[("count", &list.rows.len())]);
    frame.render_widget(Paragraph::new(note(&count, theme)), title);
    let rows: Vec<Vec<String>> = list.rows.iter().map(cells).collect();
    let empty = if list.loading {
        lang.t("ref.loading")
    } else {
        lang.t("ref.none")
    };
    table(
        frame,
        rest,
        columns,
        &rows,
        (!list.rows.is_empty()).then_some(list.selected),
        empty,
        lang,
        theme,
    );
}

const METER_TYPE_COLUMNS: [Column; 7] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_payment_model", 11, 1, false),
    Column::new("ref.col_card", 4, 0, false),
    Column::new("ref.col_caliber", 7, 0, false),
    Column::new("ref.col_manufacturer", 10, 2, false),
    Column::new("ref.col_meters", 8, 0, true),
    Column::new("ref.col_used_by_types", 10, 0, true),
];

fn yes_no(lang: Lang, yes: bool) -> String {
    lang.t(if yes { "ref.yes" } else { "ref.no" }).to_owned()
}

fn meter_types(
    frame: &mut Frame,
    area: Rect,
    list: &ListView<crate::db::meters::MeterTypeRow>,
    lang: Lang,
    theme: &Theme,
) {
    short_list(
        frame,
        area,
        list,
        &METER_TYPE_COLUMNS,
        |row| {
            let t = &row.meter_type;
            vec![
                inert(&t.name).into_owned(),
                lang.t(payment_model_key(t.payment_model)).to_owned(),
                yes_no(lang, t.takes_card),
                inert(&t.caliber).into_owned(),
                inert(&t.manufacturer).into_owned(),
                row.meters.to_string(),
                row.customer_types.to_string(),
            ]
        },
        lang,
        theme,
    );
}

const METER_COLUMNS: [Column; 6] = [
    Column::new("ref.col_meter_no", 12, 0, false),
    Column::new("ref.col_meter_type", 10, 3, false),
    Column::new("ref.col_electronic", 12, 0, true),
    Column::new("ref.col_mechanical", 12, 0, true),
    Column::new("ref.col_status", 11, 0, false),
    Column::new("ref.col_customer", 8, 4, false),
];

fn meters(frame: &mut Frame, area: Rect, view: &MetersView, lang: Lang, theme: &Theme) {
    let [search_line, rest] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let label = format!(" {} ", lang.t("ref.search_meter"));
    let room = 13;
    let value = truncate(&inert(view.search.value()), room);
    let style = if view.search_focused {
        theme.focused()
    } else {
        theme.field()
    };
    let listing = match view.listing {
        MeterListing::Uninstalled => lang.t("ref.listing_uninstalled"),
        MeterListing::Placed => lang.t("ref.listing_placed"),
    };
    let line = Line::from(vec![
        Span::raw(label.clone()),
        Span::styled(
            format!("{value}{}", " ".repeat(room.saturating_sub(width(&value)))),
            style,
        ),
        Span::styled(format!("  {listing}"), theme.title()),
    ]);
    frame.render_widget(Paragraph::new(line), search_line);
    if view.search_focused {
        let cursor = view.search.visual_cursor().min(room) as u16;
        frame.set_cursor_position((search_line.x + width(&label) as u16 + cursor, search_line.y));
    }
    let rows: Vec<Vec<String>> = view
        .page
        .rows
        .iter()
        .map(|row| {
            vec![
                row.meter.meter_no.clone(),
                inert(&row.meter.meter_type).into_owned(),
                format!("{:.3}", row.meter.initial_electronic_reading),
                format!("{:.3}", row.meter.initial_mechanical_reading),
                lang.t(status_key(&row.status)).to_owned(),
                row.customer
                    .as_ref()
                    .map(|(no, name)| format!("{no:08} {}", inert(name)))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let empty = if view.loading {
        lang.t("ref.loading").to_owned()
    } else {
        lang.t("ref.no_meters").to_owned()
    };
    table(
        frame,
        rest,
        &METER_COLUMNS,
        &rows,
        (!view.search_focused && !rows.is_empty()).then_some(view.selected),
        &empty,
        lang,
        theme,
    );
}

/// A problem of an import line in the clerk's language.
pub fn line_problem_text(lang: Lang, problem: &LineProblem) -> String {
    match problem {
        LineProblem::Header => lang.tf(
            "ref.lp_header",
            &[("header", &METER_CSV_TEMPLATE.trim_end())],
        ),
        LineProblem::ColumnCount { found } => lang.tf("ref.lp_columns", &[("found", found)]),
        LineProblem::UnclosedQuote => lang.t("ref.lp_unclosed_quote").into(),
        LineProblem::StrayQuote => lang.t("ref.lp_stray_quote").into(),
        LineProblem::MeterNo(error) => meter_no_error_text(lang, error),
        LineProblem::UnknownMeterType(name) => {
            lang.tf("ref.lp_unknown_type", &[("name", &inert(name))])
        }
        LineProblem::Reading { column, error } => lang.tf(
            match column {
                Reading::Electronic => "ref.lp_electronic",
                Reading::Mechanical => "ref.lp_mechanical",
            },
            &[("error", &field_error_text(lang, error))],
        ),
        LineProblem::DuplicateInFile {
            meter_no,
            other_lines,
        } => {
            let lines: Vec<String> = other_lines.iter().map(ToString::to_string).collect();
            lang.tf(
                "ref.lp_duplicate",
                &[("meter", &inert(meter_no)), ("lines", &lines.join(", "))],
            )
        }
        LineProblem::AlreadyInDatabase(meter_no) => {
            lang.tf("ref.lp_present", &[("meter", &inert(meter_no))])
        }
    }
}

/// The problems from `scroll` on, one per line with its line number.
fn problems(errors: &[LineError], scroll: usize, height: usize, lang: Lang) -> Vec<Line<'static>> {
    errors
        .iter()
        .skip(scroll)
        .take(height)
        .map(|error| {
            let line = lang.tf("ref.line_no", &[("line", &error.line)]);
            Line::from(vec![
                Span::raw(format!(" {line:>12} ")),
                Span::raw(line_problem_text(lang, &error.problem)),
            ])
        })
        .collect()
}

fn import(frame: &mut Frame, area: Rect, view: &ImportView, app: &App, theme: &Theme) {
    let lang = app.lang;
    let [path, hint, status, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(2),
        Constraint::Min(0),
    ])
    .areas(area);
    form::draw(frame, path, &view.form, lang, theme);
    frame.render_widget(
        Paragraph::new(vec![
            note(lang.t("ref.import_template"), theme),
            note(
                &lang.tf(
                    "ref.import_columns",
                    &[("header", &METER_CSV_TEMPLATE.trim_end())],
                ),
                theme,
            ),
        ]),
        hint,
    );
    let height = usize::from(list.height);
    let (summary, shown): (Vec<Line>, Vec<Line>) = match &view.stage {
        ImportStage::Path => (
            vec![note(&app.t("ref.import_enter_path"), theme)],
            Vec::new(),
        ),
        ImportStage::Checking => (vec![note(lang.t("ref.checking"), theme)], Vec::new()),
        ImportStage::Checked { check, scroll } => (
            vec![
                Line::styled(
                    format!(
                        " {}",
                        lang.tf(
                            "ref.checked",
                            &[("good", &check.good), ("bad", &check.errors.len())],
                        )
                    ),
                    if check.errors.is_empty() {
                        theme.good()
                    } else {
                        theme.error()
                    },
                ),
                Line::styled(format!(" {}", app.t("ref.import_choice")), theme.title()),
            ],
            problems(&check.errors, *scroll, height, lang),
        ),
        ImportStage::Importing { done, total, .. } => {
            let bar_width = 40usize;
            let filled = if *total == 0 {
                bar_width
            } else {
                (*done as usize * bar_width) / (*total as usize).max(1)
            };
            let bar = format!("[{}{}]", "#".repeat(filled), "-".repeat(bar_width - filled));
            (
                vec![
                    Line::raw(format!(" {}", lang.t("ref.importing"))),
                    Line::raw(format!(
                        " {bar} {}",
                        lang.tf("ref.progress", &[("done", done), ("total", total)])
                    )),
                ],
                Vec::new(),
            )
        }
        ImportStage::Done { report, scroll } => (
            vec![Line::styled(
                format!(
                    " {}",
                    lang.tf(
                        "ref.imported",
                        &[("count", &report.imported), ("bad", &report.errors.len())],
                    )
                ),
                theme.good(),
            )],
            problems(&report.errors, *scroll, height, lang),
        ),
    };
    frame.render_widget(Paragraph::new(summary), status);
    frame.render_widget(Paragraph::new(shown), list);
}

const SCHEME_COLUMNS: [Column; 9] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_kind", 8, 0, false),
    Column::new("ref.col_mode", 8, 0, false),
    Column::new("ref.col_vat", 6, 0, true),
    Column::new("ref.col_accumulation", 6, 0, true),
    Column::new("ref.col_settlement", 6, 0, true),
    Column::new("ref.col_start", 10, 0, false),
    Column::new("ref.col_in_force", 10, 0, false),
    Column::new("ref.col_used_by_types", 5, 0, true),
];

fn months(months: Option<u32>) -> String {
    months.map_or_else(|| "—".to_owned(), |m| m.to_string())
}

fn schemes(
    frame: &mut Frame,
    area: Rect,
    list: &ListView<crate::db::price_schemes::SchemeRow>,
    lang: Lang,
    theme: &Theme,
) {
    short_list(
        frame,
        area,
        list,
        &SCHEME_COLUMNS,
        |row| {
            vec![
                inert(&row.name).into_owned(),
                lang.t(kind_key(row.kind)).to_owned(),
                lang.t(mode_key(row.mode)).to_owned(),
                format!("{}%", row.vat_percent),
                months(row.accumulation_months),
                months(row.settlement_months),
                row.start_date.to_string(),
                row.current_from
                    .map_or_else(|| "—".to_owned(), |d| d.to_string()),
                row.used_by.to_string(),
            ]
        },
        lang,
        theme,
    );
}

/// A version's tiers on one line: `≤ 50 m³ 1.0000 · ≤ 100 m³ 2.0000 · above 3.0000`.
fn tiers_text(tiers: &[Tier], lang: Lang) -> String {
    tiers
        .iter()
        .map(|tier| match tier.up_to {
            Some(bound) => lang.tf(
                "ref.tier_to",
                &[
                    ("bound", &bound),
                    ("price", &format!("{:.4}", tier.unit_price)),
                ],
            ),
            None => lang.tf(
                "ref.tier_rest",
                &[("price", &format!("{:.4}", tier.unit_price))],
            ),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn scheme(frame: &mut Frame, area: Rect, view: &SchemeView, lang: Lang, theme: &Theme) {
    let mut lines = vec![Line::styled(
        format!(" {}", inert(&view.name)),
        theme.title(),
    )];
    let Some(detail) = &view.detail else {
        lines.push(note(lang.t("ref.loading"), theme));
        frame.render_widget(Paragraph::new(lines), area);
        return;
    };
    let row = &detail.row;
    let room = usize::from(area.width).saturating_sub(1);
    lines.push(Line::raw(format!(
        " {}",
        truncate(
            &lang.tf(
                "ref.scheme_facts",
                &[
                    ("kind", &lang.t(kind_key(row.kind))),
                    ("mode", &lang.t(mode_key(row.mode))),
                    ("vat", &row.vat_percent),
                    ("accumulation", &months(row.accumulation_months)),
                    ("settlement", &months(row.settlement_months)),
                    ("start", &row.start_date),
                ],
            ),
            room,
        )
    )));
    lines.push(Line::raw(""));
    for version in &detail.versions {
        let in_force = Some(version.effective_from) == row.current_from;
        let mark = if in_force { lang.t("ref.in_force") } else { "" };
        let text = format!(
            " {} {} {mark}",
            lang.tf("ref.from_date", &[("date", &version.effective_from)]),
            tiers_text(&version.tiers, lang)
        );
        let style = if in_force {
            theme.title()
        } else {
            Style::new()
        };
        lines.push(Line::styled(
            truncate(&text, usize::from(area.width)),
            style,
        ));
    }
    lines.push(Line::raw(""));
    // The two number fields, the one typed into marked; the cursor goes to it.
    let mut cursor_at = None;
    let fields = [
        ("ref.preview_volume", &view.volume, !view.on_accumulated),
        (
            "ref.preview_accumulated",
            &view.accumulated,
            view.on_accumulated,
        ),
    ];
    let label_width = fields
        .iter()
        .map(|(key, ..)| width(lang.t(key)))
        .max()
        .unwrap_or(0);
    for (key, input, focused) in fields {
        let text = lang.t(key);
        let label = format!(" {text}{} ", " ".repeat(label_width - width(text)));
        let value = truncate(&inert(input.value()), 13);
        let style = if focused {
            theme.focused()
        } else {
            theme.field()
        };
        lines.push(Line::from(vec![
            Span::raw(label.clone()),
            Span::styled(
                format!(
                    "{value}{}",
                    " ".repeat(13usize.saturating_sub(width(&value)))
                ),
                style,
            ),
        ]));
        if focused {
            cursor_at = Some((
                lines.len() - 1,
                width(&label) + input.visual_cursor().min(13),
            ));
        }
    }
    lines.push(note(lang.t("ref.preview_hint"), theme));
    match &view.preview {
        None => {}
        Some(Err(error)) => lines.push(Line::styled(format!(" ! {error}"), theme.error())),
        Some(Ok(charge)) => {
            for tier in &charge.tiers {
                lines.push(Line::raw(format!(
                    " {}",
                    lang.tf(
                        "ref.preview_tier",
                        &[
                            ("tier", &tier.tier),
                            ("volume", &format!("{:.3}", tier.volume)),
                            ("price", &format!("{:.4}", tier.unit_price)),
                            ("amount", &tier.exact.normalize()),
                        ],
                    )
                )));
            }
            lines.push(Line::styled(
                format!(
                    " {}",
                    lang.tf(
                        "ref.preview_total",
                        &[
                            ("amount", &format!("{:.2}", charge.amount)),
                            ("vat", &format!("{:.2}", charge.vat)),
                        ],
                    )
                ),
                theme.title(),
            ));
        }
    }
    if let Some((row, column)) = cursor_at
        && let (Ok(row), Ok(column)) = (u16::try_from(row), u16::try_from(column))
        && row < area.height
    {
        frame.set_cursor_position((area.x + column, area.y + row));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

const CUSTOMER_TYPE_COLUMNS: [Column; 6] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_nature", 10, 0, false),
    Column::new("ref.col_business_model", 14, 0, false),
    Column::new("ref.col_meter_types", 10, 3, false),
    Column::new("ref.col_charging", 12, 2, false),
    Column::new("ref.col_customers", 9, 0, true),
];

fn customer_types(
    frame: &mut Frame,
    area: Rect,
    list: &ListView<crate::db::customer_types::CustomerTypeRow>,
    lang: Lang,
    theme: &Theme,
) {
    short_list(
        frame,
        area,
        list,
        &CUSTOMER_TYPE_COLUMNS,
        |row| {
            let input = &row.input;
            let charging = match (&row.price_scheme_name, input.charges) {
                (Some(name), true) => {
                    format!("{} ({})", inert(name), input.payment_methods.join(", "))
                }
                _ => lang.t("ref.free").to_owned(),
            };
            vec![
                inert(&input.name).into_owned(),
                lang.t(nature_key(input.nature)).to_owned(),
                lang.t(business_model_key(input.business_model)).to_owned(),
                inert(&row.meter_type_names.join(", ")).into_owned(),
                charging,
                row.customers.to_string(),
            ]
        },
        lang,
        theme,
    );
}

fn ref_form(frame: &mut Frame, area: Rect, form: &RefForm, app: &App, theme: &Theme) {
    let lang = app.lang;
    let hints: Vec<String> = match &form.target {
        FormTarget::MeterType { .. } => vec![lang.t("ref.hint_meter_type").to_owned()],
        FormTarget::Meter { meter_no: Some(no) } => {
            vec![lang.tf("ref.hint_meter_modify", &[("meter", no)])]
        }
        FormTarget::Meter { meter_no: None } => vec![lang.t("ref.hint_meter_add").to_owned()],
        FormTarget::Scheme { stored: Some(row) } => vec![lang.tf(
            "ref.hint_scheme_modify",
            &[
                ("kind", &lang.t(kind_key(row.kind))),
                ("mode", &lang.t(mode_key(row.mode))),
                ("start", &row.start_date),
            ],
        )],
        FormTarget::Scheme { stored: None } => vec![lang.t("ref.hint_tiers").to_owned()],
        FormTarget::Prices { name, .. } => vec![
            lang.tf("ref.hint_prices", &[("name", &inert(name))]),
            lang.t("ref.hint_tiers").to_owned(),
        ],
        FormTarget::CustomerType { .. } => vec![app.t("ref.hint_customer_type")],
    };
    let [top, fields] = Layout::vertical([
        Constraint::Length(hints.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(area);
    let lines: Vec<Line> = hints
        .iter()
        .map(|hint| {
            note(
                &truncate(hint, usize::from(area.width).saturating_sub(2)),
                theme,
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), top);
    form::draw(frame, fields, &form.form, lang, theme);
}
