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
use crate::ui::text::{fit, width};
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

/// Cells the operator who began an operation keeps at the least: a Chinese name whole
/// ("李晓明明" and more), a Latin one to its surname's start ("Li Xiaom…").
const OPERATOR_CELLS: usize = 8;
/// Cells of the customer's name at the most: the rest is the operator's.
const NAME_CELLS: usize = 12;
/// Cells of the customer's name the time's year does not take: four Chinese characters,
/// "Zhang W…".
const NAME_WITH_YEAR: usize = 8;

/// The list at `width` cells. Each column as wide as its header or its widest value, so at 80
/// columns every fact of a row is seen, the operator who began it last (s38-d's walk: it
/// started past 80 columns, "…10000057 陈芳 …"). Where the time with its year leaves the
/// operator fewer than [`OPERATOR_CELLS`] or the customer's name fewer than [`NAME_WITH_YEAR`],
/// the year goes ("12-06 05:39"): pending operations are days old, and `#` orders them; the
/// name gives way down to two Chinese characters only then.
pub(super) fn lines(
    lang: Lang,
    zone: FixedOffset,
    theme: &Theme,
    (rows, selected): (Option<&[PendingOperation]>, usize),
    width_cells: u16,
) -> Vec<Line<'static>> {
    let listed = rows.unwrap_or_default();
    let widest = |header: &str, values: &mut dyn Iterator<Item = String>| {
        values
            .map(|value| width(&value))
            .fold(width(header), usize::max)
    };
    let id_cells = widest(
        "#",
        &mut listed.iter().map(|row| row.operation_id.to_string()),
    );
    let card_cells = usize::from(card_cells(listed.iter().map(|row| row.card_no)));
    let kind_cells = widest(
        lang.t("ic.col_kind"),
        &mut listed
            .iter()
            .map(|row| lang.t(kind_key(row.kind)).to_owned()),
    );
    let amount_cells = widest(
        lang.t("ic.col_amount"),
        &mut listed.iter().map(|row| amount_text(row.amount)),
    );
    let volume_cells = widest(
        lang.t("ic.col_volume"),
        &mut listed.iter().map(|row| volume_text(row.volume_litres)),
    );
    let operator_cells = widest(
        lang.t("ic.col_operator"),
        &mut listed.iter().map(|row| inert(&row.operator).into_owned()),
    )
    .min(OPERATOR_CELLS);
    let room = usize::from(width_cells);
    // Everything but the time and the customer's name, with the spaces between columns.
    let fixed = 1 + id_cells + card_cells + kind_cells + amount_cells + volume_cells + 8 + 8;
    let with_year = width("2026-12-06 05:39");
    let year = fixed + with_year + NAME_WITH_YEAR + operator_cells <= room;
    let (format, time_cells) = if year {
        ("%Y-%m-%d %H:%M", with_year)
    } else {
        ("%m-%d %H:%M", width("12-06 05:39"))
    };
    // The name as wide as the widest, the header's cells after the number counted: what it
    // leaves is the operator's.
    let names = widest(
        "",
        &mut listed
            .iter()
            .map(|row| inert(&row.customer_name).into_owned()),
    )
    .max(width(lang.t("ic.col_customer")).saturating_sub(9));
    let name_cells = room
        .saturating_sub(fixed + time_cells + operator_cells)
        .clamp(4, NAME_CELLS)
        .min(names);
    let cells = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let header = format!(
        " {} {} {} {} {} {} {} {}",
        fit(lang.t("ic.col_time"), cells(time_cells), false),
        fit("#", cells(id_cells), true),
        fit(lang.t("ic.col_card"), cells(card_cells), false),
        fit(lang.t("ic.col_kind"), cells(kind_cells), false),
        fit(lang.t("ic.col_amount"), cells(amount_cells), true),
        fit(lang.t("ic.col_volume"), cells(volume_cells), true),
        fit(lang.t("ic.col_customer"), cells(8 + 1 + name_cells), false),
        lang.t("ic.col_operator"),
    );
    let rows = rows.map(|rows| {
        rows.iter()
            .map(|row| {
                format!(
                    " {} {} {} {} {} {} {:08} {} {}",
                    row.started_at.with_timezone(&zone).format(format),
                    fit(&row.operation_id.to_string(), cells(id_cells), true),
                    fit(&card_no(row.card_no), cells(card_cells), false),
                    fit(lang.t(kind_key(row.kind)), cells(kind_cells), false),
                    fit(&amount_text(row.amount), cells(amount_cells), true),
                    fit(&volume_text(row.volume_litres), cells(volume_cells), true),
                    row.customer_no,
                    fit(&inert(&row.customer_name), cells(name_cells), false),
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
