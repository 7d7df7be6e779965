//! The IC card management screen (`:card`): what the card on the reader holds, the card usage
//! records, the pending card operations; and the card part of the status line.

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rust_decimal::Decimal;

use super::chrome::draw_lines;
use super::inert::inert;
use super::text::{coded, fit, local, wrap};
use super::theme::Theme;
use crate::app::card::{
    CardPane, CardScreen, CardSeen, Confirm, Customer, RechargeForm, kind_key, m3 as litres_m3,
    state_key, tier_line,
};
use crate::app::{App, Command};
use crate::card::reader::ReaderState;
use crate::db::card_ops::{LossReason, PendingOperation, UsageRecord, resolution_without_card};
use crate::db::cards::CardOwner;
use crate::domain::card_counter::{PurchaseState, Resolution};
use crate::domain::card_records::{MeterWriteBack, PurchaseRecord, UserCard};
use crate::i18n::Lang;

/// The reader part of the status line.
pub fn status(app: &App) -> String {
    let lang = app.lang;
    match (&app.reader, &app.card) {
        (ReaderState::NoService, _) => lang.t("status.reader_no_service").to_owned(),
        (ReaderState::NoReader, _) => lang.t("status.reader_none").to_owned(),
        (ReaderState::NoCard { .. }, _) => lang.t("status.reader_no_card").to_owned(),
        // Cards are read for a signed-in operator only.
        (ReaderState::CardPresent { .. }, _) if app.session.is_none() => {
            lang.t("ic.status_present").to_owned()
        }
        (ReaderState::CardPresent { .. }, None | Some(CardSeen::Reading)) => {
            lang.t("ic.status_reading").to_owned()
        }
        (ReaderState::CardPresent { .. }, Some(seen)) => match seen {
            CardSeen::Reading => unreachable!("matched above"),
            CardSeen::NotOurs | CardSeen::Foreign { .. } => lang.t("ic.status_foreign").to_owned(),
            CardSeen::Blank => lang.t("ic.status_blank").to_owned(),
            CardSeen::Unreadable(_) => lang.t("ic.status_unreadable").to_owned(),
            CardSeen::User {
                card, owner: None, ..
            } => lang.tf(
                "ic.status_unknown",
                &[("card", &card_no(card.issue.card_number))],
            ),
            CardSeen::User {
                card,
                owner: Some(owner),
                ..
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
fn card_time(seconds: u32, zone: FixedOffset) -> String {
    DateTime::<Utc>::from_timestamp(i64::from(seconds), 0)
        .filter(|_| seconds != 0)
        .map_or_else(|| "—".to_owned(), |at| local(&at, zone))
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
            usage_lines(app.lang, app.zone, theme, &title, rows.as_deref())
        }
        CardPane::Pending { rows, selected } => {
            pending_lines(app.lang, app.zone, theme, rows.as_deref(), *selected)
        }
        CardPane::Recharge(form) => return recharge_form(frame, area, form, app, theme),
        CardPane::Confirm(confirm) => confirm_lines(app, theme, confirm, area.width),
        CardPane::Receipt { lines } => receipt_lines(app.lang, theme, lines),
        CardPane::GoToRecharge { card_no: number } => {
            let offer = app.lang.tf(
                "ic.go_to_recharge",
                &[
                    ("card", &card_no(*number)),
                    ("save", &key_of(app, Command::Save)),
                    ("cancel", &key_of(app, Command::Cancel)),
                ],
            );
            vec![
                Line::raw(""),
                Line::from(Span::styled(format!(" {offer}"), theme.title())),
            ]
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
        CardSeen::User { card, owner, .. } => {
            user_card_lines(lang, app.zone, theme, card, owner, &mut lines)
        }
    }
    lines
}

fn user_card_lines(
    lang: Lang,
    zone: FixedOffset,
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
    lines.push(text(purchase_line(lang, zone, card)));
    lines.push(heading(lang, theme, "ic.write_back"));
    match &card.write_back {
        None => lines.push(text(lang.t("ic.never_swiped"))),
        Some(write_back) => lines.extend(
            write_back_lines(lang, zone, write_back)
                .into_iter()
                .map(text),
        ),
    }
}

fn purchase_line(lang: Lang, zone: FixedOffset, card: &UserCard) -> String {
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
            ("at", &card_time(*written_at, zone)),
            ("state", &state),
        ],
    )
}

fn write_back_lines(lang: Lang, zone: FixedOffset, write_back: &MeterWriteBack) -> Vec<String> {
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
                &[("at", &card_time(write_back.written_at, zone))]
            )
        ),
    ]
}

/// A table of card operations: a heading, then the header and rows, or a word while they load.
fn table(
    lang: Lang,
    theme: &Theme,
    title: &str,
    header: String,
    rows: Option<Vec<String>>,
    selected: Option<usize>,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(format!(" {title}"), theme.title()))];
    match rows {
        None => lines.push(Line::styled(
            format!("   {}", lang.t("ic.loading")),
            theme.dim(),
        )),
        Some(rows) if rows.is_empty() => lines.push(text(lang.t("ic.no_operations"))),
        Some(rows) => {
            lines.push(Line::styled(header, theme.header()));
            // The selected row is marked, not only coloured.
            lines.extend(rows.into_iter().enumerate().map(|(index, row)| {
                if Some(index) == selected {
                    Line::styled(format!("›{}", &row[1..]), theme.selected())
                } else {
                    Line::raw(row)
                }
            }));
        }
    }
    lines
}

fn usage_lines(
    lang: Lang,
    zone: FixedOffset,
    theme: &Theme,
    title: &str,
    rows: Option<&[UsageRecord]>,
) -> Vec<Line<'static>> {
    let header = format!(
        " {} {} {} {} {} {} {}",
        fit(lang.t("ic.col_time"), 16, false),
        fit(lang.t("ic.col_card"), 8, false),
        fit(lang.t("ic.col_kind"), 9, false),
        fit(lang.t("ic.col_state"), 7, false),
        fit(lang.t("ic.col_amount"), 10, true),
        fit(lang.t("ic.col_volume"), 9, true),
        lang.t("ic.col_operator"),
    );
    let rows = rows.map(|rows| {
        rows.iter()
            .map(|row| {
                let amount = row.amount.map(|a| format!("{a:.2}")).unwrap_or_default();
                let volume = row
                    .volume_litres
                    .map(|litres| format!("{:.3}", Decimal::new(litres, 3)))
                    .unwrap_or_default();
                let mut last = inert(&row.operator).into_owned();
                if let Some(reason) = &row.failure_reason {
                    last.push_str(&format!(" — {}", coded(lang, "ic.failure_", reason)));
                }
                format!(
                    " {} {} {} {} {} {} {last}",
                    local(&row.started_at, zone),
                    card_no(row.card_no),
                    fit(lang.t(kind_key(row.kind)), 9, false),
                    fit(lang.t(state_key(row.state)), 7, false),
                    fit(&amount, 10, true),
                    fit(&volume, 9, true),
                )
            })
            .collect()
    });
    table(lang, theme, title, header, rows, None)
}

fn pending_lines(
    lang: Lang,
    zone: FixedOffset,
    theme: &Theme,
    rows: Option<&[PendingOperation]>,
    selected: usize,
) -> Vec<Line<'static>> {
    let header = format!(
        " {} {} {} {} {} {}",
        fit(lang.t("ic.col_time"), 16, false),
        fit("#", 6, true),
        fit(lang.t("ic.col_card"), 8, false),
        fit(lang.t("ic.col_kind"), 9, false),
        fit(lang.t("ic.col_operator"), 12, false),
        lang.t("ic.col_customer"),
    );
    let rows = rows.map(|rows| {
        rows.iter()
            .map(|row| {
                format!(
                    " {} {} {} {} {} {:08} {}",
                    local(&row.started_at, zone),
                    fit(&row.operation_id.to_string(), 6, true),
                    card_no(row.card_no),
                    fit(lang.t(kind_key(row.kind)), 9, false),
                    fit(&inert(&row.operator), 12, false),
                    row.customer_no,
                    inert(&row.customer_name),
                )
            })
            .collect()
    });
    table(
        lang,
        theme,
        lang.t("ic.pending_title"),
        header,
        rows,
        Some(selected),
    )
}

/// The first key of `command` in the live keymap, for texts that name it.
fn key_of(app: &App, command: Command) -> String {
    app.keymap.name(command)
}

fn customer_line(customer: &Customer) -> String {
    format!("{:08} {}", customer.number, inert(&customer.name))
}

/// The question, echoing the facts, then the details behind the figures.
fn confirm_lines(app: &App, theme: &Theme, confirm: &Confirm, cells: u16) -> Vec<Line<'static>> {
    let lang = app.lang;
    let ask = |key: &str, facts: &[(&str, String)]| {
        let args: Vec<(&str, &dyn std::fmt::Display)> = facts
            .iter()
            .map(|(k, v)| (*k, v as &dyn std::fmt::Display))
            .collect();
        lang.tf(key, &args)
    };
    let mut details = Vec::new();
    let question = match confirm {
        Confirm::Open { customer } => {
            ask("ic.confirm_open", &[("customer", customer_line(customer))])
        }
        Confirm::Replace { customer, reason } => {
            let reason = match reason {
                LossReason::Lost => lang.t("ic.reason_lost"),
                LossReason::Damaged => lang.t("ic.reason_damaged"),
            };
            details.push(lang.tf(
                "ic.replace_reason",
                &[
                    ("reason", &reason),
                    ("key", &key_of(app, Command::NextField)),
                ],
            ));
            details.push(lang.t("ic.replace_note").to_owned());
            ask(
                "ic.confirm_replace",
                &[("customer", customer_line(customer))],
            )
        }
        Confirm::Recharge { form, quote, .. } => {
            let charge = &quote.charge;
            details.extend(charge.tiers.iter().map(tier_line));
            details.push(lang.tf(
                "ic.vat_contained",
                &[("vat", &format!("{:.2}", charge.vat))],
            ));
            if !quote.not_taken.is_zero() {
                details.push(lang.tf(
                    "ic.not_taken",
                    &[("amount", &format!("{:.2}", quote.not_taken))],
                ));
            }
            ask(
                "ic.confirm_recharge",
                &[
                    ("amount", format!("{:.2}", charge.amount)),
                    ("volume", format!("{:.3}", litres_m3(quote.litres))),
                    ("card", card_no(form.card_no)),
                    ("customer", customer_line(&form.customer)),
                ],
            )
        }
        Confirm::Refund {
            customer,
            card_no: number,
            litres,
            payout_label,
            ..
        } => ask(
            "ic.confirm_refund",
            &[
                ("payout", inert(payout_label).into_owned()),
                ("volume", m3(*litres)),
                ("card", card_no(*number)),
                ("customer", customer_line(customer)),
            ],
        ),
        Confirm::WithoutCard { operation } => {
            let outcome = match resolution_without_card(operation.kind) {
                Resolution::Done => "ic.without_card_done",
                _ => "ic.without_card_failed",
            };
            details.push(lang.t(outcome).to_owned());
            ask(
                "ic.confirm_without_card",
                &[
                    ("kind", lang.t(kind_key(operation.kind)).to_owned()),
                    ("id", operation.operation_id.to_string()),
                    ("card", card_no(operation.card_no)),
                    (
                        "customer",
                        format!(
                            "{:08} {}",
                            operation.customer_no,
                            inert(&operation.customer_name)
                        ),
                    ),
                ],
            )
        }
        Confirm::Recycle {
            customer,
            card_no: number,
        } => ask(
            "ic.confirm_recycle",
            &[
                ("card", card_no(*number)),
                ("customer", customer_line(customer)),
            ],
        ),
    };
    let mut lines = vec![Line::raw("")];
    lines.extend(
        wrap(&question, usize::from(cells).saturating_sub(2))
            .into_iter()
            .map(|line| Line::from(Span::styled(format!(" {line}"), theme.title()))),
    );
    let keys = lang.tf(
        "ic.confirm_keys",
        &[
            ("save", &key_of(app, Command::Save)),
            ("cancel", &key_of(app, Command::Cancel)),
        ],
    );
    lines.push(Line::from(Span::styled(format!(" {keys}"), theme.key())));
    lines.push(Line::raw(""));
    lines.extend(details.into_iter().map(text));
    lines
}

fn receipt_lines(lang: Lang, theme: &Theme, receipt: &[String]) -> Vec<Line<'static>> {
    let mut lines = vec![heading(lang, theme, "ic.receipt_title")];
    lines.extend(receipt.iter().map(|line| Line::raw(format!("   {line}"))));
    lines
}

/// The recharge form: a title, amount or volume (whichever is filled) on the shared form,
/// and a hint.
fn recharge_form(frame: &mut Frame, area: Rect, recharge: &RechargeForm, app: &App, theme: &Theme) {
    let lang = app.lang;
    let title = lang.tf(
        "ic.recharge_title",
        &[
            ("card", &card_no(recharge.card_no)),
            ("customer", &customer_line(&recharge.customer)),
        ],
    );
    let hint = lang.tf(
        "ic.recharge_hint",
        &[
            ("save", &key_of(app, Command::Save)),
            ("cancel", &key_of(app, Command::Cancel)),
        ],
    );
    let [head, fields, foot] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(recharge.form.fields.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(area);
    let head_lines = vec![
        Line::raw(""),
        Line::from(Span::styled(format!(" {title}"), theme.title())),
        Line::raw(""),
    ];
    frame.render_widget(Paragraph::new(head_lines), head);
    super::form::draw(frame, fields, &recharge.form, lang, theme);
    frame.render_widget(Paragraph::new(text(hint)), foot);
}
