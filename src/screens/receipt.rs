//! Receipts, whichever screen moved the money: the paper's layout (`Paper`: a centred title,
//! rules, `label ……… value` rows, the head every receipt has), keeping a receipt (a text
//! file in the receipts directory and the print command of `[receipts]`: [`KeepReceipt`]),
//! and the receipt of ledger rows as recorded ([`ledger_receipt_text`], read with
//! [`LoadReceipt`], a reprint marked COPY). The card receipts (`card::receipt`) lay out their
//! own body on the same paper.
//!
//! A screen that moves money (the account screen, the bills' payment) shows and keeps the
//! receipt its write issued, as recorded: the record its write answered ([`Receipted`]) or
//! [`LoadReceipt`], and [`keep_and_show`].

use std::io::Write;

use chrono::{DateTime, FixedOffset, Utc};
use tokio_postgres::error::SqlState;

use crate::app::Hub;
use crate::app::file_error::FileError;
use crate::app::form::Choice;
use crate::app::print_command;
use crate::app::requests::{Progress, Read, ReceiptOutput, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::db::DbError;
use crate::db::cards::PaymentMethod;
pub use crate::db::receipts::Receipted;
use crate::db::receipts::{self, ReceiptRecord};
use crate::domain::money::Money;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::{coded, truncate, width};

/// A receipt as it is laid out, `cells` wide (`receipts.width`).
pub(crate) struct Paper {
    cells: usize,
    lines: Vec<String>,
}

/// What the head of every receipt says.
pub(crate) struct Head<'a> {
    pub receipt_no: i64,
    pub at: DateTime<Utc>,
    pub operator: &'a str,
    pub customer_no: i64,
    pub name: &'a str,
    pub meter_no: &'a str,
}

impl Paper {
    pub(crate) fn new(cells: usize) -> Paper {
        Paper {
            cells,
            lines: Vec::new(),
        }
    }

    pub(crate) fn centred(&mut self, text: &str) {
        let centre = " ".repeat(self.cells.saturating_sub(width(text)) / 2);
        self.lines.push(format!("{centre}{text}"));
    }

    pub(crate) fn rule(&mut self) {
        self.lines.push("-".repeat(self.cells));
    }

    /// A line of its own, cut to the paper.
    pub(crate) fn text(&mut self, text: &str) {
        self.lines.push(truncate(text, self.cells));
    }

    pub(crate) fn row(&mut self, label: &str, value: &str) {
        self.lines.push(row(label, value, self.cells));
    }

    /// Number, date and time (in `zone`), operator, customer, name and meter. Stored text
    /// goes through `inert`.
    pub(crate) fn head(&mut self, lang: Lang, zone: FixedOffset, head: &Head) {
        let at = head
            .at
            .with_timezone(&zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        self.row(lang.t("receipt.number"), &head.receipt_no.to_string());
        self.row(lang.t("receipt.date"), &at);
        self.row(lang.t("receipt.operator"), &inert(head.operator));
        self.row(
            lang.t("receipt.customer"),
            &format!("{:08}", head.customer_no),
        );
        self.text(&inert(head.name));
        self.row(lang.t("receipt.meter"), &inert(head.meter_no));
    }

    pub(crate) fn finish(self) -> String {
        self.lines.join("\n") + "\n"
    }
}

/// `label ……… value` on one line of `cells` cells; a value too long for the line comes on
/// its own line, right-aligned.
pub(crate) fn row(label: &str, value: &str, cells: usize) -> String {
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

/// The receipt of ledger rows (a recharge, a deposit, a refund; bill payments), `cells` wide,
/// times in `zone`; a reprint (`reprints` > 0 and `copy`) says COPY and which one under its
/// title.
pub fn ledger_receipt_text(
    lang: Lang,
    zone: FixedOffset,
    record: &ReceiptRecord,
    cells: usize,
    copy: bool,
) -> String {
    // Paying bills lowers the balance too, but it is money taken, not paid out.
    let refund = record.lines.iter().any(|line| line.kind == "refund");
    let mut paper = Paper::new(cells);
    paper.centred(lang.t(if refund {
        "acct_receipt.refund_title"
    } else {
        "acct_receipt.title"
    }));
    if copy {
        paper.centred(&crate::i18n::fill_args(
            lang.t("acct_receipt.copy"),
            &[("n", &record.reprints)],
        ));
    }
    paper.rule();
    paper.head(
        lang,
        zone,
        &Head {
            receipt_no: record.receipt_no,
            at: record.issued_at,
            operator: &record.operator,
            customer_no: record.customer_no,
            name: &record.name,
            meter_no: &record.meter_no,
        },
    );
    paper.rule();
    for line in &record.lines {
        // Money paid out, and bills paid, are said as such, not as their effect on the
        // balance.
        let amount = match line.kind.as_str() {
            "refund" | "bill_payment" => Money::ZERO - line.amount,
            _ => line.amount,
        };
        let label = match line.cycle {
            Some(cycle) => lang.tf("counter_bills.bill_of", &[("cycle", &cycle)]),
            None => line_label(lang, &record.business_model, &line.kind),
        };
        paper.row(&label, &amount.to_string());
        if let (Some(volume), Some(price)) = (line.volume, line.unit_price) {
            paper.text(&format!("  {volume} m³ × {price}"));
        }
    }
    let method = record.method.as_ref().map_or_else(
        || lang.t("receipt.from_balance").to_owned(),
        |method| payment_method_name(lang, method),
    );
    paper.row(lang.t("receipt.method"), &method);
    paper.row(lang.t("receipt.balance"), &record.balance_after.to_string());
    paper.rule();
    paper.text(lang.t("acct_receipt.keep"));
    paper.finish()
}

/// A ledger row's name on the paper: money in is a recharge on a system-prepaid account and a
/// deposit on a postpaid one.
fn line_label(lang: Lang, business_model: &str, kind: &str) -> String {
    match (kind, business_model) {
        ("deposit", "system_prepaid") => lang.t("acct_receipt.kind_recharge").to_owned(),
        _ => coded(lang, "acct_receipt.kind_", kind),
    }
}

/// Reads receipt `receipt_no` as recorded, to print it; `copy`: a reprint, counted first
/// (`receipt.reprints`; the table's guard asks for the reprint permission). Answered with
/// [`ReceiptLoaded`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReceipt {
    pub receipt_no: i64,
    pub copy: bool,
}

/// The receipt read.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiptLoaded {
    Found(Box<ReceiptRecord>),
    /// No such receipt (or one without ledger rows).
    Missing,
    /// The database refused to count a reprint: the operator's roles do not allow it.
    NotPermitted,
}

impl Read for LoadReceipt {
    async fn read(&self, client: &deadpool_postgres::Client) -> Result<impl ScreenReply, DbError> {
        let record = if self.copy {
            match receipts::reprint(client, self.receipt_no).await {
                Err(error) if error.sql_state() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                    return Ok(ReceiptLoaded::NotPermitted);
                }
                record => record?,
            }
        } else {
            receipts::receipt(client, self.receipt_no).await?
        };
        Ok(record.map_or(ReceiptLoaded::Missing, |record| {
            ReceiptLoaded::Found(Box::new(record))
        }))
    }
}

impl<O> Receipted<O> {
    /// Sends the receipt issued, if any, to be kept ([`keep_and_show`]); its lines to show.
    pub fn keep_and_show(&self, hub: &mut Hub) -> Option<Vec<String>> {
        let record = self.receipt.as_ref()?;
        Some(keep_and_show(record, false, hub))
    }
}

/// Sends the ledger receipt to be kept (file, print command) in the desk's language, zone
/// and width; returns its lines to show.
pub fn keep_and_show(record: &ReceiptRecord, copy: bool, hub: &mut Hub) -> Vec<String> {
    let app = &*hub.app;
    let text = ledger_receipt_text(app.lang, app.zone, record, app.receipt_width, copy);
    let lines = text.lines().map(str::to_owned).collect();
    hub.send(KeepReceipt {
        receipt_no: record.receipt_no,
        text,
    });
    lines
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
pub struct ReceiptKept(pub Result<String, NotKept>);

/// Why a receipt or a report was not kept.
#[derive(Debug, Clone, PartialEq)]
pub enum NotKept {
    /// Its file could not be written.
    File(FileError),
    /// A report's CSV has nowhere to go: no receipts directory is configured.
    NoDirectory,
    /// The print command's trouble, in its own words (it names the command), or the
    /// system's.
    Other(String),
}

impl NotKept {
    pub fn text(&self, lang: Lang) -> String {
        match self {
            NotKept::File(file) => file.text(lang),
            NotKept::NoDirectory => lang.t("receipt.no_directory").to_owned(),
            NotKept::Other(text) => text.clone(),
        }
    }
}

impl ScreenRequest for KeepReceipt {
    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        let (receipt_no, text) = (self.receipt_no, self.text.clone());
        kept_off_the_ui(services, move |receipts| {
            keep_receipt(receipts, receipt_no, &text)
        })
    }
}

/// Runs `keep` (files, the print command) on a blocking thread; answered with [`ReceiptKept`].
fn kept_off_the_ui<'a>(
    services: &'a Services,
    keep: impl FnOnce(&ReceiptOutput) -> Result<String, NotKept> + Send + 'static,
) -> Answer<'a> {
    let receipts = services.receipts.clone();
    Box::pin(async move {
        let kept = tokio::task::spawn_blocking(move || keep(&receipts))
            .await
            .unwrap_or_else(|error| Err(NotKept::Other(error.to_string())));
        Ok(Box::new(ReceiptKept(kept)) as _)
    })
}

/// Writes `receipt-<no>.txt` — a copy `receipt-<no>-2.txt`, `-3`, …: a file already there is
/// never overwritten — and pipes the text to the print command. Returns where it went.
fn keep_receipt(receipts: &ReceiptOutput, receipt_no: i64, text: &str) -> Result<String, NotKept> {
    keep_paper(
        receipts,
        &format!("receipt-{receipt_no:010}"),
        Some(text),
        None,
    )
}

/// Writes `<stem>.txt` with `text` and `<stem>.csv` with `csv` into the receipts directory,
/// never over a file already there (`<stem>-2.txt`, …), and pipes the text to the print
/// command. Returns where they went.
fn keep_paper(
    receipts: &ReceiptOutput,
    stem: &str,
    text: Option<&str>,
    csv: Option<&str>,
) -> Result<String, NotKept> {
    let mut kept = Vec::new();
    let files = [("txt", text), ("csv", csv)];
    match &receipts.directory {
        Some(directory) => {
            std::fs::create_dir_all(directory)
                .map_err(|e| NotKept::File(FileError::new(directory, &e)))?;
            for (extension, content) in files {
                if let Some(content) = content {
                    kept.push(write_new(directory, stem, extension, content)?);
                }
            }
        }
        None if csv.is_some() => return Err(NotKept::NoDirectory),
        None => {}
    }
    if let (Some(command), Some(text)) = (&receipts.print_command, text) {
        print_command::print(command, text, receipts.print_limit.0).map_err(NotKept::Other)?;
        kept.push(command.clone());
    }
    Ok(kept.join(", "))
}

fn write_new(
    directory: &std::path::Path,
    stem: &str,
    extension: &str,
    content: &str,
) -> Result<String, NotKept> {
    let mut copy = 1;
    let (path, mut file) = loop {
        let path = match copy {
            1 => directory.join(format!("{stem}.{extension}")),
            n => directory.join(format!("{stem}-{n}.{extension}")),
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => break (path, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => copy += 1,
            Err(e) => return Err(NotKept::File(FileError::new(&path, &e))),
        }
    };
    file.write_all(content.as_bytes())
        .map_err(|e| NotKept::File(FileError::new(&path, &e)))?;
    Ok(path.display().to_string())
}

/// Keep a report: its paper (`text`, printed like a receipt) and its CSV file, named from
/// `stem` in the receipts directory; answered with [`ReceiptKept`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeepReport {
    pub stem: String,
    pub text: Option<String>,
    pub csv: String,
}

impl ScreenRequest for KeepReport {
    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        let report = self.clone();
        kept_off_the_ui(services, move |receipts| {
            keep_paper(
                receipts,
                &report.stem,
                report.text.as_deref(),
                Some(&report.csv),
            )
        })
    }

    /// Kept after its screen was left (a Z report sent when a close that waited for the
    /// database was answered, the clerk gone back to the table): where it went, or why it
    /// could not be written, is said all the same (s39-g, by hand: nothing was said).
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some(ReceiptKept(kept)) = reply.of::<ReceiptKept>() else {
            return;
        };
        let lang = hub.app.lang;
        match kept {
            Ok(went) => hub.say(
                MessageKind::Info,
                lang.tf("report.exported", &[("path", &inert(went))]),
            ),
            Err(why) => hub.say(
                MessageKind::Error,
                lang.tf("report.not_exported", &[("why", &inert(&why.text(lang)))]),
            ),
        }
    }
}

/// A payment method in the desk's language: the catalogue's name for the codes it knows
/// (`payment_method.cash`), else the name the utility gave it.
pub fn payment_method_name(lang: Lang, method: &PaymentMethod) -> String {
    named_payment_method(lang, &method.code, &method.name)
}

/// A payment method by its `code` and the `name` stored with it: the catalogue's name, else
/// the stored one.
pub fn named_payment_method(lang: Lang, code: &str, name: &str) -> String {
    catalogue_method_name(lang, code).unwrap_or_else(|| inert(name).into_owned())
}

/// A payment method known only by its code (a customer type's list): the catalogue's name, else
/// the code.
pub fn payment_method_of_code(lang: Lang, code: &str) -> String {
    catalogue_method_name(lang, code).unwrap_or_else(|| inert(code).into_owned())
}

fn catalogue_method_name(lang: Lang, code: &str) -> Option<String> {
    let key = format!("payment_method.{code}");
    let text = lang.t(&key);
    (text != key).then(|| text.to_owned())
}

/// The payment methods to choose from: each code stored, its name shown.
pub fn payment_choices(lang: Lang, methods: &[PaymentMethod]) -> Vec<Choice> {
    methods
        .iter()
        .map(|method| Choice {
            key: method.code.clone(),
            label: payment_method_name(lang, method),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_gets_a_file_of_its_own_and_the_original_is_never_overwritten() {
        let directory = std::env::temp_dir().join(format!("md-receipts-{}", fastrand::u32(..)));
        let output = ReceiptOutput {
            directory: Some(directory.clone()),
            ..ReceiptOutput::default()
        };
        keep_receipt(&output, 17, "first\n").unwrap();
        let copy = keep_receipt(&output, 17, "copy\n").unwrap();
        assert!(copy.ends_with("receipt-0000000017-2.txt"), "{copy}");
        let read = |name: &str| std::fs::read_to_string(directory.join(name)).unwrap();
        assert_eq!(read("receipt-0000000017.txt"), "first\n");
        assert_eq!(read("receipt-0000000017-2.txt"), "copy\n");
        std::fs::remove_dir_all(directory).unwrap();
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
