//! The receipt of a card recharge as text: shown on screen, written to the receipts directory
//! and sent to the print command (config `[receipts]`). A pure function of the facts, so the
//! screen, the file and the paper say the same.

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;

use super::card::tier_line;
use crate::domain::pricing::TierCharge;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{truncate, width};

/// Everything a card recharge's receipt shows (domain.md, "Accounts").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub receipt_no: i64,
    pub at: DateTime<Utc>,
    pub operator: String,
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    pub card_no: u32,
    pub amount: Decimal,
    /// m³ written to the card.
    pub volume: Decimal,
    /// The price, tier by tier; empty when a retried request found the recharge done before.
    pub tiers: Vec<TierCharge>,
    pub vat: Option<Decimal>,
    /// Of an amount offered, what the water did not take (handed back).
    pub not_taken: Decimal,
    /// The payment method's name; `None`: paid from the balance.
    pub method: Option<String>,
    pub balance: Decimal,
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

/// The receipt, `cells` wide (`receipts.width`). Stored text goes through `inert`.
pub fn receipt_text(lang: Lang, zone: FixedOffset, receipt: &Receipt, cells: usize) -> String {
    let rule = "-".repeat(cells);
    let title = lang.t("receipt.title");
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
        &format!("{:.3} m³", receipt.volume),
        cells,
    ));
    lines.push(row(
        lang.t("receipt.amount"),
        &format!("{:.2}", receipt.amount),
        cells,
    ));
    if let Some(vat) = receipt.vat {
        lines.push(row(lang.t("receipt.vat"), &format!("{vat:.2}"), cells));
    }
    if !receipt.not_taken.is_zero() {
        lines.push(row(
            lang.t("receipt.not_taken"),
            &format!("{:.2}", receipt.not_taken),
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
        &format!("{:.2}", receipt.balance),
        cells,
    ));
    lines.push(rule);
    lines.push(truncate(lang.t("receipt.swipe"), cells));
    lines.join("\n") + "\n"
}
