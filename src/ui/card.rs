//! The IC card management screen (`:card`): what the card on the reader holds, the card usage
//! records, the pending card operations; and the card part of the status line.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use rust_decimal::Decimal;

use super::details::{coded, draw_lines, local};
use super::inert::inert;
use super::text::fit;
use super::theme::Theme;
use crate::app::App;
use crate::app::card::{CardPane, CardScreen, CardSeen};
use crate::card::reader::ReaderState;
use crate::db::cards::{CardOperationRow, CardOwner};
use crate::domain::card_counter::PurchaseState;
use crate::domain::card_records::{MeterWriteBack, PurchaseRecord, UserCard};
use crate::i18n::Lang;

/// The reader part of the status line.
pub fn status(app: &App) -> String {
    let lang = app.lang;
    match (&app.reader, &app.card) {
        (ReaderState::NoService, _) => lang.t("status.reader_no_service").to_owned(),
        (ReaderState::NoReader, _) => lang.t("status.reader_none").to_owned(),
        (ReaderState::NoCard { .. }, _) => lang.t("status.reader_no_card").to_owned(),
        (ReaderState::CardPresent { .. }, None | Some(CardSeen::Reading)) => {
            lang.t("ic.status_reading").to_owned()
        }
        (ReaderState::CardPresent { .. }, Some(seen)) => match seen {
            CardSeen::Reading => unreachable!("matched above"),
            CardSeen::NotOurs | CardSeen::Foreign { .. } => lang.t("ic.status_foreign").to_owned(),
            CardSeen::Blank => lang.t("ic.status_blank").to_owned(),
            CardSeen::Unreadable(_) => lang.t("ic.status_unreadable").to_owned(),
            CardSeen::User { card, owner: None } => lang.tf(
                "ic.status_unknown",
                &[("card", &card_no(card.issue.card_number))],
            ),
            CardSeen::User {
                card,
                owner: Some(owner),
            } => {
                let key = if owner.card_state == "active" {
                    "ic.status_user"
                } else {
                    "ic.status_void"
                };
                lang.tf(
                    key,
                    &[
                        ("card", &card_no(card.issue.card_number)),
                        ("customer", &format!("{:08}", owner.customer_no)),
                        ("name", &inert(&owner.name)),
                    ],
                )
            }
        },
    }
}

fn card_no(number: impl Into<i64>) -> String {
    format!("{:08}", number.into())
}

/// Litres as m³ with three decimals.
fn m3(litres: impl Into<i64>) -> String {
    format!("{:.3}", Decimal::new(litres.into(), 3))
}

/// Unix seconds written on a card, in local time; 0 shows as "—".
fn card_time(seconds: u32) -> String {
    DateTime::<Utc>::from_timestamp(i64::from(seconds), 0)
        .filter(|_| seconds != 0)
        .map_or_else(|| "—".to_owned(), |at| local(&at))
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &CardScreen, app: &App, theme: &Theme) {
    let lines = match &screen.pane {
        CardPane::Card => card_lines(app, theme),
        CardPane::Usage {
            customer_no, rows, ..
        } => {
            let title = app.lang.tf(
                "ic.usage_title",
                &[("customer", &format!("{customer_no:08}"))],
            );
            operation_lines(app.lang, theme, &title, rows.as_deref(), false)
        }
        CardPane::Pending { rows } => {
            let title = app.lang.t("ic.pending_title");
            operation_lines(app.lang, theme, title, rows.as_deref(), true)
        }
    };
    draw_lines(frame, area, lines);
}

fn heading(lang: Lang, theme: &Theme, key: &str) -> Line<'static> {
    Line::from(Span::styled(format!(" {}", lang.t(key)), theme.title()))
}

fn text(line: impl Into<String>) -> Line<'static> {
    Line::raw(format!("   {}", line.into()))
}

/// What the card on the reader holds.
fn card_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let lang = app.lang;
    let mut lines = vec![heading(lang, theme, "ic.on_reader")];
    let say = |key: &str| vec![heading(lang, theme, "ic.on_reader"), text(lang.t(key))];
    let seen = match (&app.reader, &app.card) {
        (ReaderState::CardPresent { .. }, Some(seen)) => seen,
        (ReaderState::CardPresent { .. }, None) => return say("ic.reading"),
        (ReaderState::NoService, _) => return say("ic.no_service"),
        _ => return say("ic.insert"),
    };
    match seen {
        CardSeen::Reading => lines.push(text(lang.t("ic.reading"))),
        CardSeen::NotOurs => lines.push(text(lang.t("ic.not_ours"))),
        CardSeen::Foreign { ef } => lines.push(text(
            lang.tf("ic.foreign", &[("ef", &format!("{:04X}", ef.file_id()))]),
        )),
        CardSeen::Blank => lines.push(text(lang.t("ic.blank"))),
        CardSeen::Unreadable(why) => {
            lines.push(text(lang.tf("ic.unreadable", &[("why", &inert(why))])))
        }
        CardSeen::User { card, owner } => user_card_lines(lang, theme, card, owner, &mut lines),
    }
    lines
}

fn user_card_lines(
    lang: Lang,
    theme: &Theme,
    card: &UserCard,
    owner: &Option<CardOwner>,
    lines: &mut Vec<Line<'static>>,
) {
    let issue = &card.issue;
    let kind = if issue.replacement {
        lang.t("ic.replacement")
    } else {
        lang.t("ic.first_issue")
    };
    lines.push(text(lang.tf(
        "ic.user_line",
        &[
            ("card", &card_no(issue.card_number)),
            ("generation", &issue.generation),
            ("kind", &kind),
        ],
    )));
    let customer = match owner {
        Some(owner) => format!("{:08}  {}", owner.customer_no, inert(&owner.name)),
        None => format!("{:08}", issue.customer_number),
    };
    lines.push(text(format!("{}  {customer}", lang.t("ic.customer"))));
    lines.push(text(format!(
        "{}  {}",
        lang.t("ic.meter"),
        inert(issue.meter_number.as_str())
    )));
    let in_system = match owner {
        None => lang.t("ic.not_issued_here").to_owned(),
        Some(owner) if owner.card_state == "active" => lang.t("ic.state_active").to_owned(),
        Some(owner) => lang.tf(
            "ic.state_void",
            &[
                ("state", &coded(lang, "customers.card_", &owner.card_state)),
                (
                    "reason",
                    &owner
                        .void_reason
                        .as_deref()
                        .map(|reason| coded(lang, "ic.reason_", reason))
                        .unwrap_or_default(),
                ),
            ],
        ),
    };
    lines.push(text(format!("{}  {in_system}", lang.t("ic.in_system"))));
    lines.push(heading(lang, theme, "ic.last_purchase"));
    lines.push(text(purchase_line(lang, card)));
    lines.push(heading(lang, theme, "ic.write_back"));
    match &card.write_back {
        None => lines.push(text(lang.t("ic.never_swiped"))),
        Some(write_back) => lines.extend(write_back_lines(lang, write_back).into_iter().map(text)),
    }
}

fn purchase_line(lang: Lang, card: &UserCard) -> String {
    let Some(PurchaseRecord {
        sequence,
        volume_litres,
        written_at,
        ..
    }) = &card.purchase
    else {
        return lang.t("ic.no_purchase").to_owned();
    };
    let state = match card.purchase_state() {
        PurchaseState::NoPurchase => unreachable!("a purchase is on the card"),
        PurchaseState::Cancelled => lang.t("ic.purchase_cancelled"),
        PurchaseState::Loaded => lang.t("ic.purchase_loaded"),
        PurchaseState::NotLoaded => lang.t("ic.purchase_not_loaded"),
        PurchaseState::UnknownUntilSwiped => lang.t("ic.purchase_until_swiped"),
    };
    lang.tf(
        "ic.purchase_line",
        &[
            ("seq", sequence),
            ("volume", &m3(*volume_litres)),
            ("at", &card_time(*written_at)),
            ("state", &state),
        ],
    )
}

fn write_back_lines(lang: Lang, write_back: &MeterWriteBack) -> Vec<String> {
    let status = &write_back.status;
    let mut flags = vec![if status.valve_closed {
        lang.t("ic.valve_closed")
    } else {
        lang.t("ic.valve_open")
    }];
    for (on, key) in [
        (status.low_credit, "ic.low_credit"),
        (status.low_battery, "ic.low_battery"),
        (status.tamper, "ic.tamper"),
    ] {
        if on {
            flags.push(lang.t(key));
        }
    }
    vec![
        lang.tf(
            "ic.write_back_line",
            &[
                ("seq", &write_back.last_loaded_sequence),
                ("generation", &write_back.registered_generation),
                ("credit", &m3(write_back.credit_litres)),
                ("total", &m3(write_back.total_litres)),
            ],
        ),
        format!(
            "{} · {}",
            flags.join(" · "),
            lang.tf(
                "ic.written_at",
                &[("at", &card_time(write_back.written_at))]
            )
        ),
    ]
}

/// The usage records (one customer) or the pending list (every customer).
fn operation_lines(
    lang: Lang,
    theme: &Theme,
    title: &str,
    rows: Option<&[CardOperationRow]>,
    with_customer: bool,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(format!(" {title}"), theme.title()))];
    let Some(rows) = rows else {
        lines.push(Line::styled(
            format!("   {}", lang.t("ic.loading")),
            theme.dim(),
        ));
        return lines;
    };
    if rows.is_empty() {
        lines.push(text(lang.t("ic.no_operations")));
        return lines;
    }
    let mut header = format!(
        " {} {} {} {} {} {}",
        fit(lang.t("ic.col_time"), 16, false),
        fit(lang.t("ic.col_card"), 8, false),
        fit(lang.t("ic.col_kind"), 9, false),
        fit(lang.t("ic.col_state"), 7, false),
        fit(lang.t("ic.col_amount"), 10, true),
        fit(lang.t("ic.col_volume"), 9, true),
    );
    if with_customer {
        header.push_str(&format!(" {}", lang.t("ic.col_customer")));
    } else {
        header.push_str(&format!(" {}", lang.t("ic.col_operator")));
    }
    lines.push(Line::styled(header, theme.header()));
    for row in rows {
        let amount = row.amount.map(|a| format!("{a:.2}")).unwrap_or_default();
        let volume = row.volume.map(|v| format!("{v:.3}")).unwrap_or_default();
        let last = if with_customer {
            format!("{:08} {}", row.customer_no, inert(&row.customer_name))
        } else {
            let mut last = inert(&row.operator).into_owned();
            if let Some(reason) = &row.failure_reason {
                last.push_str(&format!(" — {}", inert(reason)));
            }
            last
        };
        lines.push(Line::raw(format!(
            " {} {} {} {} {} {} {last}",
            local(&row.started_at),
            card_no(row.card_no),
            fit(&coded(lang, "ic.op_", &row.kind), 9, false),
            fit(&coded(lang, "ic.opstate_", &row.state), 7, false),
            fit(&amount, 10, true),
            fit(&volume, 9, true),
        )));
    }
    lines
}
