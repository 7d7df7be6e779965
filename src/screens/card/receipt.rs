//! The receipt of a card recharge or a card refund paid out: its facts, its text — shown on the receipt pane, written to
//! the receipts directory and sent to the print command (config `[receipts]`) — and the
//! request that keeps it. The text is a pure function of the facts, so the screen, the file
//! and the paper say the same.

use std::io::Write;

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::text::Line;

use super::common::{heading, tier_line};
use crate::app::Hub;
use crate::app::print_command;
use crate::app::requests::{Progress, ReceiptOutput, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::db::card_ops::{self, Begun, OperationKind, OperationState, Settled};
use crate::db::{DbError, cards};
use crate::domain::money::{Money, Volume};
use crate::domain::pricing::TierCharge;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{truncate, width};
use crate::ui::theme::Theme;

/// What the receipt is for: money paid in for water on the card, or paid out for a purchase
/// cancelled on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Recharge,
    Refund,
}

/// Everything a card recharge's or refund's receipt shows (domain.md, "Accounts").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub kind: ReceiptKind,
    pub receipt_no: i64,
    pub at: DateTime<Utc>,
    pub operator: String,
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    pub card_no: u32,
    pub amount: Money,
    /// m³ written to the card, or cancelled on it.
    pub volume: Volume,
    /// The price, tier by tier; empty when a retried request found the recharge done before.
    pub tiers: Vec<TierCharge>,
    pub vat: Option<Money>,
    /// Of an amount offered, what the water did not take (handed back).
    pub not_taken: Money,
    /// The payment method's name; `None`: paid from the balance.
    pub method: Option<String>,
    pub balance: Money,
}

/// Keep a receipt: a text file in the receipts directory, and the print command if one is
/// configured; answered with [`ReceiptKept`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeepReceipt {
    pub receipt_no: i64,
    pub text: String,
}

/// Where the receipt was kept, or why it could not be.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptKept(pub Result<String, String>);

impl ScreenRequest for KeepReceipt {
    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let receipts = services.receipts.clone();
            let (receipt_no, text) = (self.receipt_no, self.text.clone());
            let kept =
                tokio::task::spawn_blocking(move || keep_receipt(&receipts, receipt_no, &text))
                    .await
                    .unwrap_or_else(|error| Err(error.to_string()));
            Ok(Box::new(ReceiptKept(kept)) as _)
        })
    }
}

/// Sends the receipt to be kept (file, print command) in the desk's language, zone and width;
/// returns its lines for the receipt pane.
pub(super) fn keep_and_show(receipt: &Receipt, hub: &mut Hub) -> Vec<String> {
    let app = &*hub.app;
    let text = receipt_text(app.lang, app.zone, receipt, app.receipt_width);
    let lines = text.lines().map(str::to_owned).collect();
    hub.send(KeepReceipt {
        receipt_no: receipt.receipt_no,
        text,
    });
    lines
}

/// The receipts of recharges a card read finished, wherever the clerk is: each is read back
/// ([`ReceiptOfFinished`]) and then kept and told.
pub fn keep_receipts_of(hub: &mut Hub, settled: &[Settled]) {
    for settled in settled {
        if let (true, OperationState::Done, OperationKind::Recharge, Some(receipt_no)) =
            (settled.now, settled.state, settled.kind, settled.receipt_no)
        {
            let caller = hub.app.calling.take();
            hub.send(ReceiptOfFinished {
                operation_id: settled.operation_id,
                receipt_no,
            });
            hub.app.calling = caller;
        }
    }
}

/// The receipt of a recharge finished away from the request that sold it; answered with
/// [`FinishedReceipt`], which is kept (file, print command) wherever the clerk is.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptOfFinished {
    pub operation_id: i64,
    pub receipt_no: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinishedReceipt(pub Option<Box<Receipt>>);

impl ScreenRequest for ReceiptOfFinished {
    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let begun = {
                let client = services.pool.get().await?;
                card_ops::journaled(&**client, self.operation_id).await?
            };
            let receipt = match begun {
                Some(begun) => receipt_of(services, &begun, Some(self.receipt_no)).await?,
                None => None,
            };
            Ok(Box::new(FinishedReceipt(receipt.map(Box::new))) as _)
        })
    }

    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(FinishedReceipt(Some(receipt))) = reply.of::<FinishedReceipt>() {
            keep_and_show(receipt, hub);
            let lang = hub.app.lang;
            let text = lang.tf(
                "ic.finished_receipt",
                &[("id", &self.operation_id), ("receipt", &receipt.receipt_no)],
            );
            hub.say(MessageKind::Info, text);
        }
    }
}

/// Writes `receipt-<no>.txt` (never overwriting one already there) and pipes the text to the
/// print command. Returns where it went.
fn keep_receipt(receipts: &ReceiptOutput, receipt_no: i64, text: &str) -> Result<String, String> {
    let mut kept = Vec::new();
    if let Some(directory) = &receipts.directory {
        std::fs::create_dir_all(directory).map_err(|e| format!("{}: {e}", directory.display()))?;
        let path = directory.join(format!("receipt-{receipt_no:010}.txt"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        file.write_all(text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        kept.push(path.display().to_string());
    }
    if let Some(command) = &receipts.print_command {
        print_command::print(command, text, receipts.print_limit.0)?;
        kept.push(command.clone());
    }
    Ok(kept.join(", "))
}

/// The receipt `receipt_no` of a recharge or refund finished here (`Settled::receipt_no`): the
/// price from the quote it was sold at (none when it was sold before, by another request), the
/// rest as recorded. The database's amounts are NUMERIC(…, 2), so they are money as they are.
pub(super) async fn receipt_of(
    services: &Services,
    begun: &Begun,
    receipt_no: Option<i64>,
) -> Result<Option<Receipt>, DbError> {
    let kind = match begun.kind {
        OperationKind::Recharge => ReceiptKind::Recharge,
        OperationKind::Refund => ReceiptKind::Refund,
        OperationKind::Open | OperationKind::Replace | OperationKind::Recycle => return Ok(None),
    };
    let (Some(purchase), Some(receipt_no)) = (&begun.purchase, receipt_no) else {
        return Ok(None);
    };
    let client = services.pool.get().await?;
    let Some(facts) = cards::receipt_facts(&**client, receipt_no).await? else {
        return Ok(None);
    };
    let quote = purchase.quote.as_ref();
    Ok(Some(Receipt {
        kind,
        receipt_no,
        at: facts.issued_at,
        operator: facts.operator,
        customer_no: facts.customer_no,
        name: facts.name,
        meter_no: facts.meter_no,
        card_no: begun.card_no,
        amount: Money::round_half_up(purchase.amount),
        volume: Volume::from_litres(purchase.litres),
        tiers: quote.map(|q| q.charge.tiers.clone()).unwrap_or_default(),
        vat: quote.map(|q| q.charge.vat),
        not_taken: quote.map_or(Money::ZERO, |q| Money::round_half_up(q.not_taken)),
        method: facts.method,
        balance: facts.balance,
    }))
}

/// `label ……… value` on one line of `width` cells; a value too long for the line comes on
/// its own line, right-aligned.
fn row(label: &str, value: &str, cells: usize) -> String {
    let gap = cells.saturating_sub(width(label) + width(value));
    if gap >= 1 {
        format!("{label}{}{value}", " ".repeat(gap))
    } else {
        let pad = cells.saturating_sub(width(value));
        format!(
            "{}\n{}{}",
            truncate(label, cells),
            " ".repeat(pad),
            truncate(value, cells)
        )
    }
}

/// The receipt, `cells` wide (`receipts.width`), times in `zone`. Stored text goes through
/// `inert`.
pub fn receipt_text(lang: Lang, zone: FixedOffset, receipt: &Receipt, cells: usize) -> String {
    let rule = "-".repeat(cells);
    let (title, amount, last_line) = match receipt.kind {
        ReceiptKind::Recharge => ("receipt.title", "receipt.amount", "receipt.swipe"),
        ReceiptKind::Refund => (
            "receipt.refund_title",
            "receipt.paid_out",
            "receipt.cancelled",
        ),
    };
    let title = lang.t(title);
    let centre = " ".repeat(cells.saturating_sub(width(title)) / 2);
    let at = receipt
        .at
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let mut lines = vec![
        format!("{centre}{title}"),
        rule.clone(),
        row(
            lang.t("receipt.number"),
            &receipt.receipt_no.to_string(),
            cells,
        ),
        row(lang.t("receipt.date"), &at, cells),
        row(lang.t("receipt.operator"), &inert(&receipt.operator), cells),
        row(
            lang.t("receipt.customer"),
            &format!("{:08}", receipt.customer_no),
            cells,
        ),
        truncate(&inert(&receipt.name), cells),
        row(lang.t("receipt.meter"), &inert(&receipt.meter_no), cells),
        row(
            lang.t("receipt.card"),
            &format!("{:08}", receipt.card_no),
            cells,
        ),
        rule.clone(),
    ];
    for tier in &receipt.tiers {
        lines.push(truncate(&tier_line(tier), cells));
    }
    lines.push(row(
        lang.t("receipt.volume"),
        &format!("{} m³", receipt.volume),
        cells,
    ));
    lines.push(row(lang.t(amount), &receipt.amount.to_string(), cells));
    if let Some(vat) = receipt.vat {
        lines.push(row(lang.t("receipt.vat"), &vat.to_string(), cells));
    }
    if !receipt.not_taken.is_zero() {
        lines.push(row(
            lang.t("receipt.not_taken"),
            &receipt.not_taken.to_string(),
            cells,
        ));
    }
    let method = receipt.method.as_deref().map_or_else(
        || lang.t("receipt.from_balance").to_owned(),
        |m| inert(m).into_owned(),
    );
    lines.push(row(lang.t("receipt.method"), &method, cells));
    lines.push(row(
        lang.t("receipt.balance"),
        &receipt.balance.to_string(),
        cells,
    ));
    lines.push(rule);
    lines.push(truncate(lang.t(last_line), cells));
    lines.join("\n") + "\n"
}

/// The receipt pane: the receipt as printed.
pub(super) fn lines(lang: Lang, theme: &Theme, receipt: &[String]) -> Vec<Line<'static>> {
    let mut lines = vec![heading(lang, theme, "ic.receipt_title")];
    lines.extend(receipt.iter().map(|line| Line::raw(format!("   {line}"))));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::UnitPrice;
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    fn money(cents: i64) -> Money {
        Money::from_cents(cents)
    }

    /// 12.345 m³ at 2.4567: one tier line whose amount is its exact product rounded half-up.
    fn receipt() -> Receipt {
        let volume = Volume::exact(Decimal::new(12_345, 3)).unwrap();
        let unit_price = UnitPrice::exact(Decimal::new(24_567, 4)).unwrap();
        Receipt {
            kind: ReceiptKind::Recharge,
            receipt_no: 1017,
            at: Utc.with_ymd_and_hms(2026, 11, 28, 9, 30, 0).unwrap(),
            operator: "王芳".into(),
            customer_no: 10_023_457,
            name: "Zhang\x1b]0;x\x07 Wei".into(),
            meter_no: "WM-0042".into(),
            card_no: 40_000_017,
            amount: volume.priced_at(unit_price),
            volume,
            tiers: vec![TierCharge {
                tier: 1,
                volume,
                unit_price,
                exact: volume * unit_price,
                amount: volume.priced_at(unit_price),
            }],
            vat: Some(money(250)),
            not_taken: money(5),
            method: None,
            balance: money(-1),
        }
    }

    fn text(receipt: &Receipt, zone: FixedOffset) -> String {
        receipt_text(Lang::En, zone, receipt, 40)
    }

    #[test]
    fn the_figures_show_their_own_decimals_never_cut() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let text = text(&receipt(), utc);
        // 12.345 × 2.4567 = 30.3279615: 30.33, half-up; the price keeps its 4 decimals.
        assert!(text.contains("12.345 m³ × 2.4567 = 30.33"), "{text}");
        let line = |label: &str| {
            text.lines()
                .find(|line| line.starts_with(Lang::En.t(label)))
                .unwrap_or_else(|| panic!("a {label} line: {text}"))
                .to_owned()
        };
        assert!(line("receipt.volume").ends_with(" 12.345 m³"));
        assert!(line("receipt.amount").ends_with(" 30.33"));
        assert!(line("receipt.vat").ends_with(" 2.50"));
        assert!(line("receipt.not_taken").ends_with(" 0.05"));
        assert!(line("receipt.balance").ends_with(" -0.01"));
        assert!(line("receipt.method").ends_with(Lang::En.t("receipt.from_balance")));
        assert!(text.lines().all(|line| width(line) <= 40), "{text}");
    }

    #[test]
    fn nothing_handed_back_and_no_vat_leave_their_lines_out() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let receipt = Receipt {
            vat: None,
            not_taken: Money::ZERO,
            method: Some("Cash".into()),
            ..receipt()
        };
        let text = text(&receipt, utc);
        assert!(!text.contains(Lang::En.t("receipt.vat")), "{text}");
        assert!(!text.contains(Lang::En.t("receipt.not_taken")), "{text}");
        assert!(text.contains("Cash"), "{text}");
    }

    #[test]
    fn the_time_is_the_desks_and_stored_text_is_inert() {
        let shanghai = FixedOffset::east_opt(8 * 3600).unwrap();
        let text = text(&receipt(), shanghai);
        assert!(text.contains("2026-11-28 17:30:00"), "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    }

    #[test]
    fn a_refund_receipt_says_paid_out_and_cancelled_in_both_languages() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let refund = Receipt {
            kind: ReceiptKind::Refund,
            tiers: Vec::new(),
            vat: None,
            not_taken: Money::ZERO,
            method: Some("Cash".into()),
            ..receipt()
        };
        let text = text(&refund, utc);
        assert!(text.contains("WATER CARD REFUND"), "{text}");
        assert!(text.contains("Amount paid out"), "{text}");
        assert!(
            text.contains("The purchase is cancelled on the card."),
            "{text}"
        );
        assert!(!text.contains("RECHARGE"), "{text}");
        assert!(!text.contains(Lang::En.t("receipt.swipe")), "{text}");
        let zh = receipt_text(Lang::Zh, utc, &refund, 40);
        assert!(
            zh.contains("水卡退款收据") && zh.contains("实退金额"),
            "{zh}"
        );
    }

    #[test]
    fn a_value_too_long_for_its_line_comes_on_its_own() {
        assert_eq!(row("Card", "40000017", 20), "Card        40000017");
        assert_eq!(
            row("Operator", "a very long name", 20),
            "Operator\n    a very long name"
        );
    }
}
