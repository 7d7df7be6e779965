//! The pending operations pane (supervisors): every card operation whose outcome is not known
//! yet, and settling one whose card cannot be presented.

use chrono::FixedOffset;
use deadpool_postgres::Client;
use ratatui::text::Line;

use super::common::{CardPane, CardScreen, amount_text, card_cells, card_no, table, volume_text};
use super::receipt::{Receipt, keep_and_show, receipt_of};
use crate::app::Hub;
use crate::app::card_status::{kind_key, state_key};
use crate::app::permissions;
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::db::DbError;
use crate::db::card_ops::{self, PendingOperation, Settled};
use crate::i18n::Lang;
use crate::screens::reference::common::move_in;
use crate::ui::inert::inert;
use crate::ui::text::{fit, local};
use crate::ui::theme::Theme;

/// Reads every pending card operation; answered with a `Vec<PendingOperation>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPending;

impl Read for LoadPending {
    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        card_ops::pending_operations(client).await
    }
}

/// A supervisor settles a pending operation whose card cannot be presented; answered with
/// [`SettledWithoutCard`].
#[derive(Debug, Clone, PartialEq)]
pub struct SettleWithoutCard {
    pub operator_id: i64,
    pub operation_id: i64,
}

/// `None`: the operator may not settle operations (`card.resolve`). A recharge settled done
/// here brings its receipt, handed over at this desk.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledWithoutCard(pub Option<Settled>, pub Option<Box<Receipt>>);

impl ScreenRequest for SettleWithoutCard {
    /// It cannot be called back once sent: it holds the keys, and F12 drops the typed-ahead
    /// ones, not the answer.
    fn writes(&self) -> bool {
        true
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let mut client = services.pool.get().await?;
            let settled =
                card_ops::settle_without_card(&mut client, self.operation_id, self.operator_id)
                    .await?;
            let receipt = match settled.as_ref().filter(|settled| settled.now) {
                Some(settled) => match card_ops::journaled(&client, settled.operation_id).await? {
                    Some(begun) => receipt_of(services, &begun, settled.receipt_no).await?,
                    None => None,
                },
                None => None,
            };
            Ok(Box::new(SettledWithoutCard(settled, receipt.map(Box::new))) as _)
        })
    }
}

impl CardScreen {
    /// The pending list, a supervisor's.
    pub(super) fn show_pending(&mut self, hub: &mut Hub) {
        if hub.allowed("card.resolve") {
            hub.app.message = None;
            self.load_pending(hub);
        }
    }

    /// The pending list's pane, its rows read afresh.
    pub(super) fn load_pending(&mut self, hub: &mut Hub) {
        self.set_pane(CardPane::Pending {
            rows: None,
            selected: 0,
        });
        hub.send(LoadPending);
    }

    /// The settlement is told, and the list read again; a recharge's receipt is kept (file,
    /// print command) and shown instead of the list.
    pub(super) fn settled_without_card(&mut self, settled: &SettledWithoutCard, hub: &mut Hub) {
        let lang = hub.app.lang;
        if let Some(receipt) = &settled.1 {
            let lines = keep_and_show(receipt, hub);
            self.set_pane(CardPane::Receipt { lines });
        }
        match &settled.0 {
            Some(settled) => {
                let text = lang.tf(
                    "ic.settled_without_card",
                    &[
                        ("kind", &lang.t(kind_key(settled.kind))),
                        ("id", &settled.operation_id),
                        ("state", &lang.t(state_key(settled.state))),
                    ],
                );
                hub.say(MessageKind::Info, text);
            }
            None => permissions::say_refusal(hub, lang.t("ic.not_permitted"), true),
        }
        if settled.1.is_none() {
            self.load_pending(hub);
        }
    }
}

/// Up (`up`) or Down on the list: the selection stays on a row.
pub(super) fn move_selection(rows: Option<&[PendingOperation]>, selected: &mut usize, up: bool) {
    if let Some(rows) = rows {
        move_in(selected, rows.len(), if up { -1 } else { 1 });
    }
}

pub(super) fn lines(
    lang: Lang,
    zone: FixedOffset,
    theme: &Theme,
    rows: Option<&[PendingOperation]>,
    selected: usize,
) -> Vec<Line<'static>> {
    // The operator last: at 80 columns the customer's name is what the supervisor needs.
    let card_cells = card_cells(rows.unwrap_or_default().iter().map(|row| row.card_no));
    let header = format!(
        " {} {} {} {} {} {} {} {}",
        fit(lang.t("ic.col_time"), 16, false),
        fit("#", 5, true),
        fit(lang.t("ic.col_card"), card_cells, false),
        fit(lang.t("ic.col_kind"), 9, false),
        fit(lang.t("ic.col_amount"), 9, true),
        fit(lang.t("ic.col_volume"), 8, true),
        fit(lang.t("ic.col_customer"), 21, false),
        lang.t("ic.col_operator"),
    );
    let rows = rows.map(|rows| {
        rows.iter()
            .map(|row| {
                format!(
                    " {} {} {} {} {} {} {:08} {} {}",
                    local(&row.started_at, zone),
                    fit(&row.operation_id.to_string(), 5, true),
                    fit(&card_no(row.card_no), card_cells, false),
                    fit(lang.t(kind_key(row.kind)), 9, false),
                    fit(&amount_text(row.amount), 9, true),
                    fit(&volume_text(row.volume_litres), 8, true),
                    row.customer_no,
                    fit(&inert(&row.customer_name), 12, false),
                    inert(&row.operator),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_stays_on_the_list() {
        let rows = vec![
            PendingOperation {
                operation_id: 1,
                ..sample()
            },
            PendingOperation {
                operation_id: 2,
                ..sample()
            },
        ];
        let mut selected = 0;
        move_selection(Some(&rows), &mut selected, true);
        assert_eq!(selected, 0, "Up on the first row stays there");
        move_selection(Some(&rows), &mut selected, false);
        move_selection(Some(&rows), &mut selected, false);
        assert_eq!(selected, 1, "Down on the last row stays there");
        move_selection(None, &mut selected, true);
        assert_eq!(selected, 1, "nothing moves while the list loads");
    }

    fn sample() -> PendingOperation {
        PendingOperation {
            operation_id: 0,
            kind: card_ops::OperationKind::Recharge,
            customer_id: 1,
            customer_no: 1,
            customer_name: String::new(),
            card_no: 1,
            operator: String::new(),
            started_at: chrono::DateTime::UNIX_EPOCH,
            amount: None,
            volume_litres: None,
        }
    }
}
