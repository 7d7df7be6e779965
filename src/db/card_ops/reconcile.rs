//! Reconciliation on every read (issue 11, item 2): what a user card holds against what the
//! database knows, each difference audited with the card and the customer.

use super::*;
use crate::domain::card_counter::OlderIf;
use crate::domain::money::Money;

/// A difference between the card read and the database. Nothing is written to the card for
/// it here; the counter refuses what it must (a refund, a recharge) when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    /// The card's MACs verify but its number was never issued here (another system's card).
    UnknownCard,
    /// Not its owner's active card (replaced, reported lost, recycled); `reason` is the card
    /// row's `void_reason`.
    VoidCard { reason: Option<String> },
    /// The card carries purchase `sequence` of `litres`, which this system never wrote
    /// (forged with the key, or another system's).
    UnknownPurchase { sequence: u32, litres: u32 },
    /// Purchase `sequence` was settled without the card, or (`refunded`) the card is an older
    /// copy still showing it valid after its refund: the next recharge or refund writes it first.
    MissingPurchase { sequence: u32, refunded: bool },
    /// The card carries the purchase recharge `operation_id` journaled, which was settled
    /// failed from a card that held the old record (an old copy of this card): the write did
    /// land, so a meter will load it. `taken_back`: settled done now, `amount` taken back from
    /// the balance the failure had put it on; `false`: the balance no longer covers it and
    /// nothing changed (a supervisor's case). `receipt_no`: the receipt the recharge was sold
    /// on, never printed as an original (the recharge was never done before): the desk keeps
    /// it when `taken_back`. `meter`: what the card's write-back says of the purchase.
    /// `owed`: not taken back and loaded, the database recorded the debt (sql/V163,
    /// `card_recharge_found_loaded`): `amount` is paid before the customer's next recharge.
    FailedPurchaseFound {
        operation_id: i64,
        sequence: u32,
        litres: u32,
        amount: Money,
        taken_back: bool,
        receipt_no: Option<i64>,
        meter: MeterSaw,
        owed: bool,
    },
    /// A [`FailedPurchaseFound`](Self::FailedPurchaseFound) the balance could not take back,
    /// which no meter had loaded (`MeterSaw::NotLoaded`): the read wrote over it the books'
    /// later purchase `written`, which the card lacked (`cardflow::touch`). No meter can load
    /// the unpaid purchase from this card any more, and the water the failed money bought is
    /// loaded once, from whichever card brings `written` first: nothing is owed.
    FailedPurchaseReplaced {
        operation_id: i64,
        sequence: u32,
        litres: u32,
        amount: Money,
        written: u32,
    },
    /// Purchase `sequence`'s refund, which the card lacked (`MissingPurchase { refunded: true
    /// }`), was written onto it by the read that found it (`cardflow::touch`). `shown`: the
    /// purchase the card showed before (`sequence` itself, valid; an earlier one when the copy
    /// is older than the purchase; none).
    RefundWritten { sequence: u32, shown: Option<u32> },
    /// The card's meter write-back is older than one read on `seen_at` (a replayed image;
    /// `None` for demo rows that never kept the date), which said the meter had loaded up to
    /// purchase `loaded`: a refund of any purchase up to it is refused (`Refusal::OlderCardImage`).
    /// An image without a write-back is older once one was read from the card itself
    /// (`UserCard::older_if`: a copy taken before its first swipe).
    OlderImage {
        seen_at: Option<DateTime<Utc>>,
        loaded: u32,
    },
}

impl Discrepancy {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownCard => "unknown_card",
            Self::VoidCard { .. } => "void_card",
            Self::UnknownPurchase { .. } => "unknown_purchase",
            Self::MissingPurchase { .. } => "missing_purchase",
            Self::RefundWritten { .. } => "refund_written",
            Self::FailedPurchaseFound { .. } => "failed_purchase_found",
            Self::FailedPurchaseReplaced { .. } => "failed_purchase_replaced",
            Self::OlderImage { .. } => "older_image",
        }
    }

    /// What the meter is known to have done with the purchase of a failed recharge found on
    /// the card, for the audit entry.
    fn meter(&self) -> Option<&'static str> {
        match self {
            Self::FailedPurchaseFound { meter, .. } => Some(meter.code()),
            _ => None,
        }
    }

    /// Whether the read audits it: every difference but a debt of water a meter loaded, whose
    /// finding the database audits with the debt, once, when the read records it (sql/V209);
    /// every read after still tells it.
    fn audited_by_the_read(&self) -> bool {
        !matches!(self, Self::FailedPurchaseFound { owed: true, .. })
    }

    fn sequence(&self) -> Option<i64> {
        match self {
            Self::UnknownPurchase { sequence, .. }
            | Self::MissingPurchase { sequence, .. }
            | Self::RefundWritten { sequence, .. }
            | Self::FailedPurchaseFound { sequence, .. }
            | Self::FailedPurchaseReplaced { sequence, .. } => Some(i64::from(*sequence)),
            _ => None,
        }
    }
}

/// What a card's meter write-back (EF 0003) tells of purchase `sequence` on it. Only the card
/// that carries a purchase brings it to the meter, and the meter writes its state back onto
/// each card it reads: loaded (`last loaded` = the purchase), not loaded (below it, or never
/// swiped), or not known (above it: the meter loaded a later purchase from another card first,
/// and then skipped this one, or loaded this one and then a later one and was swiped with this
/// card again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterSaw {
    NotLoaded,
    Loaded,
    Unknown,
}

impl MeterSaw {
    pub fn of(card: &UserCard, sequence: u32) -> Self {
        match card
            .write_back
            .as_ref()
            .map(|back| back.last_loaded_sequence)
        {
            None => Self::NotLoaded,
            Some(last) if last < sequence => Self::NotLoaded,
            Some(last) if last == sequence => Self::Loaded,
            Some(_) => Self::Unknown,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::NotLoaded => "not_loaded",
            Self::Loaded => "loaded",
            Self::Unknown => "unknown",
        }
    }
}

/// Compares the user card in `records` with the database and audits each difference
/// (`card.discrepancy`); a debt of water a meter loaded unpaid the database audits, once, with
/// the debt (every read still answers it). An operator without `card.read` is told nothing and nothing is
/// audited, as with the write-back. Run after [`touch`] has resolved what was pending.
pub async fn reconcile(
    client: &mut Client,
    operator_id: i64,
    records: &[Record; 3],
    key: &MacKey,
) -> Result<Vec<Discrepancy>, DbError> {
    let CardContent::User(card) = CardContent::classify(records, key) else {
        return Ok(Vec::new());
    };
    let transaction = Transaction::new(client);
    if !has_permission(&transaction, "card.read").await? {
        return Ok(Vec::new());
    }
    let card_no = i64::from(card.issue.card_number);
    let row = transaction
        .query_opt(
            "SELECT customer_id, void_reason, meter_loaded_seq, meter_read_at
             FROM card WHERE card_no = $1",
            &[&card_no],
        )
        .await?;
    let (customer_id, found) = match row {
        None => (None, vec![Discrepancy::UnknownCard]),
        Some(row) => {
            let customer_id: i64 = row.get("customer_id");
            let found = differences(&transaction, customer_id, &card, records, &row, key).await?;
            (Some(customer_id), found)
        }
    };
    for discrepancy in found.iter().filter(|found| found.audited_by_the_read()) {
        let mut detail = serde_json::json!({
            "kind": discrepancy.code(),
            "purchase_seq": discrepancy.sequence(),
        });
        if let Some(meter) = discrepancy.meter() {
            detail["meter"] = serde_json::json!(meter);
        }
        audit_card(
            &transaction,
            operator_id,
            "card.discrepancy",
            card_no,
            customer_id,
            &detail,
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(found)
}

/// The differences between the card and the books; `card_row`: the card's row (its
/// `void_reason` and the meter's write-back noted from it).
async fn differences(
    tx: &Transaction<'_>,
    customer_id: i64,
    card: &UserCard,
    records: &[Record; 3],
    card_row: &Row,
    key: &MacKey,
) -> Result<Vec<Discrepancy>, DbError> {
    let Some(holder) = card_holder(tx, customer_id, key).await? else {
        return Ok(Vec::new());
    };
    if holder.active() != Some(&card.issue) {
        let void = Discrepancy::VoidCard {
            reason: card_row.get("void_reason"),
        };
        return Ok(vec![void]);
    }
    let mut found = Vec::new();
    if let Some(missing) = holder.missing_purchase(card, key) {
        let missing = Discrepancy::MissingPurchase {
            sequence: missing.record.sequence,
            refunded: missing.record.status == PurchaseStatus::Cancelled,
        };
        found.push(missing);
    }
    if let Some(purchase) = &card.purchase {
        found.extend(purchase_difference(tx, customer_id, card, purchase, records).await?);
    }
    // A later write-back noted in the books (`UserCard::older_if`): when it was read, and the
    // purchase it said a meter loaded.
    let noted = |row: &Row| -> (Option<DateTime<Utc>>, Option<i64>) {
        (row.get("meter_read_at"), row.get("meter_loaded_seq"))
    };
    let newer = match card.older_if() {
        OlderIf::LoadedAbove(loaded) => tx
            .query_opt(
                "SELECT meter_read_at, meter_loaded_seq FROM card
                 WHERE customer_id = $1 AND meter_loaded_seq > $2
                 ORDER BY meter_loaded_seq DESC LIMIT 1",
                &[&customer_id, &i64::from(loaded)],
            )
            .await?
            .map(|row| noted(&row)),
        // Read with the card's row: no statement more.
        OlderIf::ItselfSwiped => Some(noted(card_row)),
    };
    if let Some((seen_at, Some(loaded))) = newer
        && loaded > 0
    {
        let older = Discrepancy::OlderImage {
            seen_at,
            loaded: to_u32(loaded, "card.meter_loaded_seq")?,
        };
        found.push(older);
    }
    Ok(found)
}

/// The card's purchase against the recharges journaled for it. Written here: a recharge (done
/// or still pending), its refund, or a replacement carrying it. A failed recharge whose very
/// record is on the card was settled from an old copy of the card: it is settled done now
/// (sql/V41) if the balance still holds its money.
async fn purchase_difference(
    tx: &Transaction<'_>,
    customer_id: i64,
    card: &UserCard,
    purchase: &PurchaseRecord,
    records: &[Record; 3],
) -> Result<Option<Discrepancy>, DbError> {
    let record = &records[1];
    let mut row = journaled(tx, customer_id, purchase, record).await?;
    if row.get("known") {
        return Ok(None);
    }
    if row.get::<_, Option<i64>>("failed_id").is_some() {
        // A failed recharge's record, settled below under the account: the account first (the
        // order of every card write, sql/V181), then read again — another desk reading the same
        // card at once may have settled it meanwhile, and then there is nothing to tell.
        tx.execute(
            "SELECT FROM account WHERE customer_id = $1 FOR UPDATE",
            &[&customer_id],
        )
        .await?;
        row = journaled(tx, customer_id, purchase, record).await?;
        if row.get("known") {
            return Ok(None);
        }
    }
    let Some(operation_id) = row.get::<_, Option<i64>>("failed_id") else {
        let unknown = Discrepancy::UnknownPurchase {
            sequence: purchase.sequence,
            litres: purchase.volume_litres,
        };
        return Ok(Some(unknown));
    };
    // Read before the settle below points the operation at its new purchase row, which is on
    // no receipt.
    let receipt_no: Option<i64> = row.get("failed_receipt_no");
    let row = tx
        .query_one(
            "SELECT card_recharge_found_on_card($1, $2) AS taken_back,
                    (SELECT -t.amount FROM card_operation op
                     JOIN ledger_transaction t ON t.id = op.transaction_id
                     WHERE op.id = $1) AS amount",
            &[&operation_id, &record.as_slice()],
        )
        .await?;
    let taken_back: bool = row.get("taken_back");
    let meter = MeterSaw::of(card, purchase.sequence);
    // The card's write-back says a meter loaded the unpaid purchase last: the database records
    // the debt once, with that write-back, and audits what was found then (sql/V173: it must
    // name this purchase; `meterdesk check` verifies its MAC where the key is; V209).
    let owed = !taken_back && meter == MeterSaw::Loaded;
    if owed {
        tx.execute(
            "SELECT card_recharge_found_loaded($1, $2, $3)",
            &[&operation_id, &record.as_slice(), &records[2].as_slice()],
        )
        .await?;
    }
    let found = Discrepancy::FailedPurchaseFound {
        operation_id,
        sequence: purchase.sequence,
        litres: purchase.volume_litres,
        amount: row.get("amount"),
        taken_back,
        receipt_no,
        meter,
        owed,
    };
    Ok(Some(found))
}

/// Whether the card's `purchase` (its `record`) is one customer `customer_id`'s journal holds
/// (`known`: a recharge done or pending, its refund, a replacement carrying it), else the failed
/// recharge whose journaled record it is, if any (`failed_id`, and the receipt it was sold on).
async fn journaled(
    tx: &Transaction<'_>,
    customer_id: i64,
    purchase: &PurchaseRecord,
    record: &Record,
) -> Result<Row, DbError> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM card_operation
                            WHERE customer_id = $1 AND purchase_seq = $2
                              AND volume_litres = $3 AND state <> 'failed') AS known,
                    failed.id AS failed_id, failed.receipt_no AS failed_receipt_no
             FROM (VALUES (1)) one
             LEFT JOIN LATERAL (
                 SELECT op.id, t.receipt_no
                 FROM card_operation op
                 LEFT JOIN ledger_transaction t ON t.id = op.transaction_id
                 WHERE op.customer_id = $1 AND op.kind = 'recharge' AND op.state = 'failed'
                   AND op.purchase_record_after = $4
             ) failed ON TRUE",
            &[
                &customer_id,
                &i64::from(purchase.sequence),
                &i64::from(purchase.volume_litres),
                &record.as_slice(),
            ],
        )
        .await?)
}

/// An audit row about card `card_no` (entity `card`): `detail` with the card and customer
/// numbers added, so the audit viewer finds it by either.
pub(super) async fn audit_card(
    client: &impl CachingClient,
    operator_id: i64,
    action: &str,
    card_no: i64,
    customer_id: Option<i64>,
    detail: &serde_json::Value,
) -> Result<(), DbError> {
    client
        .execute(
            "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
             VALUES ($1, $2, 'card', $3,
                     $5::text::jsonb || jsonb_build_object('customer_id', $4::bigint,
                                                           'card_no', $3::bigint))",
            &[
                &operator_id,
                &action,
                &card_no,
                &customer_id,
                &detail.to_string(),
            ],
        )
        .await?;
    Ok(())
}
