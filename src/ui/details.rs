//! One customer's details: type, basic information, meter, account with its latest
//! transactions, card, previous owners. Every stored text goes through `inert`.

use chrono::FixedOffset;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::inert::inert;
use super::text::{fit, local, truncate, width};
use super::theme::Theme;
use crate::app::App;
use crate::app::accounts::label_key;
use crate::app::state::DetailsView;
use crate::db::customers::CustomerDetails;
use crate::domain::customer_rules::{Field, Nature};
use crate::i18n::Lang;

/// A catalogue text for a stored code (`nature_personal`), the code itself when unknown.
pub(super) fn coded(lang: Lang, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}{code}");
    let text = lang.t(&key);
    if text == key {
        inert(code).into_owned()
    } else {
        text.to_owned()
    }
}

/// `label: value` lines with the labels padded to one width; empty values are left out.
fn fields(lang: Lang, pairs: &[(&str, Option<String>)]) -> Vec<Line<'static>> {
    let present: Vec<_> = pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (lang.t(key), v)))
        .collect();
    let label_width = present
        .iter()
        .map(|(label, _)| width(label))
        .max()
        .unwrap_or(0);
    present
        .into_iter()
        .map(|(label, value)| {
            let pad = " ".repeat(label_width - width(label));
            Line::raw(format!("   {label}{pad}  {}", inert(value)))
        })
        .collect()
}

fn lines(
    details: &CustomerDetails,
    lang: Lang,
    zone: FixedOffset,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let heading = |key: &str| Line::from(Span::styled(format!(" {}", lang.t(key)), theme.title()));
    let basic = &details.basic;
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!(" {:08}  {}", basic.customer_no, inert(&basic.name)),
            theme.title(),
        ),
        Span::raw(format!(
            "   {} · {} ({})",
            inert(&details.customer_type.name),
            coded(lang, "details.nature_", &details.customer_type.nature),
            coded(
                lang,
                "details.model_",
                &details.customer_type.business_model
            ),
        )),
    ])];
    lines.push(heading("details.basic"));
    lines.extend(fields(
        lang,
        &[
            ("details.phone", basic.phone.clone()),
            ("details.contact", basic.contact_person.clone()),
            ("details.id_document", basic.id_document_no.clone()),
            ("details.credit_code", basic.credit_code.clone()),
            (
                "details.household",
                basic.household_size.map(|n| n.to_string()),
            ),
            ("details.email", basic.email.clone()),
            ("details.address", Some(basic.address.clone())),
            ("details.remark", basic.remark.clone()),
            ("details.opened", Some(local(&basic.opened_at, zone))),
            (
                "details.closed",
                basic.closed_at.as_ref().map(|at| local(at, zone)),
            ),
        ],
    ));
    let meter = &details.meter;
    lines.push(Line::raw(format!(
        " {}  {} · {} · {}",
        lang.t("details.meter"),
        inert(&meter.meter_no),
        inert(&meter.meter_type),
        inert(&meter.caliber)
    )));
    let account = &details.account;
    lines.push(Line::raw(format!(
        " {}  {} · {} {:.2}",
        lang.t("details.account"),
        coded(lang, "details.kind_", &account.kind),
        lang.t("details.balance"),
        account.balance
    )));
    lines.extend(card_lines(details, lang));
    lines.push(heading("details.transactions"));
    if account.recent_transactions.is_empty() {
        lines.push(Line::raw(format!(
            "   {}",
            lang.t("details.no_transactions")
        )));
    }
    for transaction in &account.recent_transactions {
        let volume = transaction
            .volume
            .map(|v| format!("{v:.3} m³"))
            .unwrap_or_default();
        lines.push(Line::raw(format!(
            "   {}  {} {:>11.2} {:>12}  {:<14} {}",
            local(&transaction.at, zone),
            fit(&coded(lang, "details.tx_", &transaction.kind), 13, false),
            transaction.amount,
            volume,
            inert(transaction.payment_method.as_deref().unwrap_or("")),
            transaction
                .receipt_no
                .map(|n| format!("#{n}"))
                .unwrap_or_default(),
        )));
    }
    lines.push(heading("details.owners"));
    if details.owner_history.is_empty() {
        lines.push(Line::raw(format!("   {}", lang.t("details.no_owners"))));
    }
    for owner in &details.owner_history {
        let when = lang.tf(
            "details.owner_line",
            &[
                ("date", &local(&owner.transferred_at, zone)),
                ("operator", &inert(&owner.transferred_by)),
            ],
        );
        // Two lines: a long address must not push the date and the clerk off the screen.
        let kept = previous_owner(lang, &details.customer_type.nature, &owner.kept);
        lines.push(Line::raw(format!("   {kept}")));
        lines.push(Line::raw(format!("     {when}")));
    }
    lines
}

/// A previous owner's kept information, labelled as the form labels it and in its order (the
/// form of the customer's nature); a key no form has is shown as stored, last.
fn previous_owner(lang: Lang, nature: &str, kept: &[(String, String)]) -> String {
    let form = nature.parse::<Nature>().map_or(&[][..], Field::of);
    let mut fields: Vec<_> = kept
        .iter()
        .map(|(key, value)| (Field::from_key(key), key, value))
        .collect();
    fields.sort_by_key(|(field, key, _)| {
        let place = field.and_then(|field| form.iter().position(|f| *f == field));
        (place.is_none(), place, field.is_none(), *field, *key)
    });
    fields
        .into_iter()
        .map(|(field, key, value)| {
            let label = field.map_or_else(|| inert(key), |field| lang.t(label_key(field)).into());
            format!("{label}: {}", inert(value))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The card line, and what the meter has made of the last purchase on it.
fn card_lines(details: &CustomerDetails, lang: Lang) -> Vec<Line<'static>> {
    let label = lang.t("details.card");
    let Some(card) = &details.card else {
        return vec![Line::raw(format!(
            " {label}  {}",
            lang.t("details.no_card")
        ))];
    };
    let state = coded(lang, "customers.card_", &card.state);
    let line = lang.tf(
        "details.card_line",
        &[
            ("number", &format!("{:08}", card.card_no)),
            ("generation", &card.generation),
            ("state", &state),
        ],
    );
    let purchase = match (card.last_purchase_seq, card.last_purchase_loaded) {
        (Some(seq), Some(true)) => lang.tf("details.purchase_loaded", &[("seq", &seq)]),
        (Some(seq), _) => lang.tf("details.purchase_not_loaded", &[("seq", &seq)]),
        (None, _) => lang.t("details.no_purchase").to_owned(),
    };
    let indent = " ".repeat(width(label) + 3);
    vec![
        Line::raw(format!(" {label}  {line}")),
        Line::raw(format!("{indent}{purchase}")),
    ]
}

pub fn draw(frame: &mut Frame, area: Rect, view: &DetailsView, app: &App, theme: &Theme) {
    let Some(details) = &view.details else {
        let loading = Line::styled(format!(" {}", app.lang.t("details.loading")), theme.dim());
        frame.render_widget(Paragraph::new(loading), area);
        return;
    };
    draw_lines(frame, area, lines(details, app.lang, app.zone, theme));
}

/// Draws `lines` cut to the width instead of wrapped, so the layout stays one fact per line;
/// each line keeps the style of its first span.
pub(super) fn draw_lines(frame: &mut Frame, area: Rect, lines: Vec<Line>) {
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
