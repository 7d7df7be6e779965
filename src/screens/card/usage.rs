//! The usage records pane: a customer's card operations, newest first.

use chrono::FixedOffset;
use deadpool_postgres::Client;
use ratatui::text::Line;

use super::common::{
    CardPane, CardScreen, amount_text, card_cells, card_no, known_card, need_user_card, table,
    volume_text,
};
use crate::app::card_status::{kind_key, state_key};
use crate::app::requests::Read;
use crate::app::screen::ScreenReply;
use crate::app::state::MessageKind;
use crate::app::{App, Hub};
use crate::db::DbError;
use crate::db::card_ops::{self, OperationKind, OperationState, UsageDebt, UsageOf, UsageRecord};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{coded, fit, local};
use crate::ui::theme::Theme;

/// How many usage records to fetch: more than a screen holds, far fewer than would slow a
/// terminal.
pub const USAGE_LIMIT: i64 = 200;

/// Reads the usage records; answered with a `Vec<UsageRecord>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadUsage {
    pub of: UsageOf,
}

impl Read for LoadUsage {
    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        card_ops::usage_records(client, self.of, USAGE_LIMIT).await
    }
}

impl CardScreen {
    /// The usage records of the customer whose card is on the reader.
    pub(super) fn show_usage(&mut self, hub: &mut Hub) {
        let Some((_, owner, _)) = known_card(hub.app) else {
            hub.say(MessageKind::Error, need_user_card(hub.app));
            return;
        };
        let of = UsageOf::Customer(owner.customer_id);
        let customer_no = owner.customer_no;
        self.set_pane(CardPane::Usage {
            customer_no,
            rows: None,
            of,
        });
        hub.send(LoadUsage { of });
    }
}

pub(super) fn lines(
    app: &App,
    theme: &Theme,
    customer_no: i64,
    rows: Option<&[UsageRecord]>,
) -> Vec<Line<'static>> {
    let (lang, zone) = (app.lang, app.zone);
    let title = lang.tf(
        "ic.usage_title",
        &[("customer", &format!("{customer_no:08}"))],
    );
    let card_cells = card_cells(rows.unwrap_or_default().iter().map(|row| row.card_no));
    let header = format!(
        " {} {} {} {} {} {} {}",
        fit(lang.t("ic.col_time"), 16, false),
        fit(lang.t("ic.col_card"), card_cells, false),
        fit(lang.t("ic.col_kind"), 9, false),
        fit(lang.t("ic.col_state"), 7, false),
        fit(lang.t("ic.col_amount"), 10, true),
        fit(lang.t("ic.col_volume"), 9, true),
        lang.t("ic.col_operator"),
    );
    // Which notes the brackets need: a failed recharge's price is on the balance; a failed
    // refund paid nothing out and left nothing on the balance (sql/V78 reverses its credit).
    // A recharge a meter loaded unpaid says what it owes on its own line instead.
    let failed_with = |refund: bool| {
        rows.is_some_and(|rows| {
            rows.iter().any(|row| {
                not_taken(row)
                    && row.debt.is_none()
                    && (row.kind == OperationKind::Refund) == refund
            })
        })
    };
    let notes: Vec<&str> = [
        (failed_with(false), "ic.usage_not_taken"),
        (failed_with(true), "ic.usage_not_refunded"),
    ]
    .into_iter()
    .filter_map(|(shown, key)| shown.then_some(key))
    .collect();
    // Why an operation failed goes on a line of its own under its row: after the operator it
    // was cut at 80 columns (s38-d on the rig: "李晓明 Li Xi…", the reason never seen). A debt
    // says itself there in place of the failure an old copy of the card reported.
    let rows = rows.map(|rows| {
        rows.iter()
            .flat_map(|row| {
                let reason = debt_said(row, lang)
                    .or_else(|| {
                        row.failure_reason
                            .as_ref()
                            .map(|reason| coded(lang, "ic.failure_", reason))
                    })
                    .or_else(|| carried_refunded(row, lang))
                    .map(|why| format!(" {} — {why}", " ".repeat(16)));
                std::iter::once(row_line(lang, zone, row, card_cells)).chain(reason)
            })
            .collect()
    });
    let mut lines = table(lang, theme, &title, header, rows, None);
    for note in notes {
        lines.push(Line::styled(format!(" {}", lang.t(note)), theme.dim()));
    }
    lines
}

/// A replacement that carried a refunded purchase says so under its row: the purchase is on
/// the new card cancelled, no water (s38-d's walk showed its 15.000 m³ as if carried valid).
fn carried_refunded(row: &UsageRecord, lang: Lang) -> Option<String> {
    let seq = row.purchase_seq.filter(|_| row.carries_refunded)?;
    Some(lang.tf("ic.usage_carried_refunded", &[("seq", &seq)]))
}

/// A recharge whose purchase a meter loaded unpaid (sql/V163) says so under its row: what it
/// owes, or how it was paid since (s41-f's walk: a plain failed row, then a plain done one).
fn debt_said(row: &UsageRecord, lang: Lang) -> Option<String> {
    Some(match row.debt? {
        UsageDebt::Owed(amount) => lang.tf("ic.usage_owed", &[("amount", &amount)]),
        UsageDebt::Paid {
            receipt_no: Some(receipt),
        } => lang.tf("ic.usage_owed_paid", &[("receipt", &receipt)]),
        UsageDebt::Paid { receipt_no: None } => {
            lang.t("ic.usage_owed_paid_from_balance").to_owned()
        }
    })
}

/// A failed operation's money was never taken (a failed recharge's price is on the balance):
/// its amount reads in brackets, unsigned, not as paid.
fn not_taken(row: &UsageRecord) -> bool {
    row.state == OperationState::Failed && row.amount.is_some()
}

fn row_line(lang: Lang, zone: FixedOffset, row: &UsageRecord, card_cells: u16) -> String {
    let amount = match row.amount {
        Some(amount) if not_taken(row) => format!("({})", amount_text(Some(amount.abs()))),
        amount => amount_text(amount),
    };
    // Refunded before: the new card carries no water.
    let volume = match row.carries_refunded {
        true => String::new(),
        false => volume_text(row.volume_litres),
    };
    let last = inert(&row.operator);
    let state = match row.debt {
        Some(UsageDebt::Owed(_)) => "ic.usage_state_owed",
        _ => state_key(row.state),
    };
    format!(
        " {} {} {} {} {} {} {last}",
        local(&row.started_at, zone),
        fit(&card_no(row.card_no), card_cells, false),
        fit(lang.t(kind_key(row.kind)), 9, false),
        fit(lang.t(state), 7, false),
        fit(&amount, 10, true),
        fit(&volume, 9, true),
    )
}
