//! The customer-management screens: the account-opening wizard, modify and transfer. The
//! fields are drawn by `ui::form`; stored text (type names, owners, meters) goes through
//! `inert`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::chrome::centred;
use super::form;
use super::inert::inert;
use super::text::{fit, truncate};
use super::theme::Theme;
use crate::app::App;
use crate::app::accounts::{
    BasicForm, METER_PAGE, ModifyView, OpenAccount, TransferView, WizardStep, money, unpaid_text,
};
use crate::domain::customer_rules::{BasicInfo, Nature};
use crate::i18n::Lang;

fn nature_text(lang: Lang, nature: Nature) -> &'static str {
    match nature {
        Nature::Personal => lang.t("details.nature_personal"),
        Nature::Enterprise => lang.t("details.nature_enterprise"),
        Nature::Statistical => lang.t("details.nature_statistical"),
    }
}

/// One line of text at row `y` of `area` (if it has that row).
fn line_at(frame: &mut Frame, area: Rect, y: u16, line: Line) {
    if y < area.height {
        let row = Rect {
            y: area.y + y,
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(line), row);
    }
}

/// `area` below its first `rows` rows.
fn below(area: Rect, rows: u16) -> Rect {
    let rows = rows.min(area.height);
    Rect {
        y: area.y + rows,
        height: area.height - rows,
        ..area
    }
}

/// The first value of the information: the person, the company or the label.
fn who(info: &BasicInfo) -> String {
    info.values()
        .into_iter()
        .next()
        .and_then(|(_, value)| value)
        .unwrap_or_default()
}

pub fn draw_open_account(
    frame: &mut Frame,
    area: Rect,
    wizard: &OpenAccount,
    app: &App,
    theme: &Theme,
) {
    let lang = app.lang;
    let step = lang.tf(
        "open.step",
        &[
            ("step", &wizard.step.number()),
            ("title", &lang.t(wizard.step.title_key())),
        ],
    );
    line_at(
        frame,
        area,
        0,
        Line::from(Span::styled(format!(" {step}"), theme.title())),
    );
    let room = usize::from(area.width);
    if let Some(customer_type) = wizard.customer_type() {
        let mut text = format!(
            " {}: {} ({})",
            lang.t("open.customer_type"),
            inert(&customer_type.name),
            nature_text(lang, customer_type.nature)
        );
        if let (WizardStep::Meter, Some(info)) = (wizard.step, &wizard.info) {
            text.push_str(&format!(" · {}", inert(&who(info))));
        }
        line_at(frame, area, 1, Line::raw(truncate(&text, room)));
    }
    let body = below(area, 3);
    match wizard.step {
        WizardStep::CustomerType => match &wizard.types {
            None => line_at(
                frame,
                body,
                0,
                Line::raw(format!("  {}", lang.t("customers.loading"))),
            ),
            Some(_) => form::draw(frame, body, &wizard.type_form, lang, theme),
        },
        WizardStep::BasicInfo => {
            if let Some(basic) = &wizard.basic {
                form::draw(frame, body, &basic.form, lang, theme);
            }
        }
        WizardStep::Meter => {
            let pick = &wizard.meters;
            // The header sits over the list's items: past its border and their one space.
            let header = METER_COLUMNS.map(|(key, ..)| lang.t(key).to_owned());
            line_at(
                frame,
                area,
                2,
                Line::from(Span::styled(
                    format!("  {}", meter_columns(&header)),
                    theme.dim(),
                )),
            );
            let items: Vec<String> = pick
                .rows
                .iter()
                .map(|m| {
                    meter_columns(&[
                        inert(&m.meter_no).into_owned(),
                        inert(&m.meter_type).into_owned(),
                        format!("{:.3}", m.initial_electronic_reading),
                        format!("{:.3}", m.initial_mechanical_reading),
                    ])
                })
                .collect();
            let empty = if pick.loading {
                lang.t("customers.loading")
            } else {
                lang.t("open.no_meters")
            };
            let height = (METER_PAGE as u16 + 3).min(body.height);
            let boxed = Rect { height, ..body };
            form::list(
                frame,
                boxed,
                lang.t("open.meter_list"),
                &pick.search,
                &items,
                pick.selected,
                empty,
                theme,
            );
        }
    }
}

/// Step 3's columns: header key, cells, right-aligned. The readings are m³ to the litre.
const METER_COLUMNS: [(&str, u16, bool); 4] = [
    ("ref.col_meter_no", 12, false),
    ("ref.col_meter_type", 24, false),
    ("ref.col_electronic", 12, true),
    ("ref.col_mechanical", 12, true),
];

/// One line of step 3's list (or its header), each value fitted to its column's cells.
fn meter_columns(values: &[String; 4]) -> String {
    values
        .iter()
        .zip(METER_COLUMNS)
        .map(|(value, (_, cells, right))| fit(value, cells, right))
        .collect::<Vec<_>>()
        .join("  ")
}

/// A basic-information form from row 3 of `area` with a dim `note` above it, or "Loading…"
/// until it is there.
fn basic_form(
    frame: &mut Frame,
    area: Rect,
    basic: Option<&BasicForm>,
    note: Option<String>,
    lang: Lang,
    theme: &Theme,
) {
    let Some(basic) = basic else {
        let loading = format!("  {}", lang.t("customers.loading"));
        return line_at(frame, area, 2, Line::raw(loading));
    };
    if let Some(note) = note {
        line_at(
            frame,
            area,
            2,
            Line::from(Span::styled(format!(" {note}"), theme.dim())),
        );
    }
    form::draw(frame, below(area, 3), &basic.form, lang, theme);
}

pub fn draw_modify(frame: &mut Frame, area: Rect, view: &ModifyView, app: &App, theme: &Theme) {
    let lang = app.lang;
    let title = format!(" {} — {:08}", lang.t("screen.modify"), view.customer_no);
    line_at(
        frame,
        area,
        0,
        Line::from(Span::styled(title, theme.title())),
    );
    let note = view
        .basic
        .as_ref()
        .map(|basic| nature_text(lang, basic.nature).to_owned());
    basic_form(frame, area, view.basic.as_ref(), note, lang, theme);
}

pub fn draw_transfer(frame: &mut Frame, area: Rect, view: &TransferView, app: &App, theme: &Theme) {
    let lang = app.lang;
    let room = usize::from(area.width);
    let title = format!(
        " {} — {:08} {}",
        lang.t("screen.transfer"),
        view.customer_no,
        inert(&view.owner)
    );
    line_at(
        frame,
        area,
        0,
        Line::from(Span::styled(truncate(&title, room), theme.title())),
    );
    if let Some(preview) = &view.preview {
        let line = if let Some(count) = view.unpaid_bills() {
            let text = unpaid_text(lang, count);
            Line::from(Span::styled(
                truncate(&format!(" ! {text}"), room),
                theme.error(),
            ))
        } else {
            let text = lang.tf(
                "transfer.balance_stays",
                &[("balance", &money(preview.balance))],
            );
            Line::raw(truncate(&format!(" {text}"), room))
        };
        line_at(frame, area, 1, line);
    }
    let note = lang.t("transfer.new_owner").to_owned();
    basic_form(frame, area, view.basic.as_ref(), Some(note), lang, theme);
    if let (Some(info), Some(preview)) = (&view.confirming, &view.preview) {
        let question = lang.tf(
            "transfer.confirm",
            &[
                ("number", &format!("{:08}", view.customer_no)),
                ("from", &inert(&view.owner)),
                ("to", &inert(&who(info))),
            ],
        );
        let stays = lang.tf(
            "transfer.balance_stays",
            &[("balance", &money(preview.balance))],
        );
        let boxed = centred(area, 64, 8);
        frame.render_widget(Clear, boxed);
        let block = Block::bordered()
            .border_set(theme.border())
            .title(Span::styled(
                format!(" {} ", lang.t("transfer.confirm_title")),
                theme.title(),
            ));
        let lines = vec![
            Line::raw(question),
            Line::raw(""),
            Line::raw(stays),
            Line::raw(""),
            Line::from(Span::styled(app.t("transfer.confirm_keys"), theme.key())),
        ];
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
            boxed,
        );
    }
}
