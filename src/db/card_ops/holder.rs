//! What the database knows of a customer's cards.

use super::*;

/// The card the database considers the customer's, with the issue record it must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCard {
    pub card_id: i64,
    pub issue: IssueRecord,
    pub active: bool,
}

/// A card customer as the journal needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardHolder {
    pub customer_id: i64,
    pub customer_no: u32,
    pub meter_no: MeterNumber,
    pub account_id: i64,
    pub balance: Decimal,
    pub customer_type_id: i64,
    /// The active card, else the latest card really issued (void or recycled); `None` before
    /// the first card.
    pub card: Option<KnownCard>,
    /// The highest purchase sequence number ever given to the customer (0 before the first).
    pub last_sequence: u32,
    /// The last purchase written to a card for good (what a replacement card carries).
    pub last_purchase: Option<PurchaseRecord>,
    pub pending: Option<i64>,
    /// The server's date when the facts were read: a recharge's prices are today's.
    pub today: NaiveDate,
    pub(super) closed: bool,
    pub(super) meter_prepaid: bool,
}

impl CardHolder {
    pub fn active(&self) -> Option<&IssueRecord> {
        self.card
            .as_ref()
            .filter(|card| card.active)
            .map(|card| &card.issue)
    }

    /// The purchase the database settled that `card` (the active card) never received.
    pub fn missing_purchase(
        &self,
        card: &UserCard,
        key: &MacKey,
    ) -> Option<Planned<PurchaseRecord>> {
        plan_missing_purchase(card, self.active(), self.last_purchase.as_ref(), key)
    }

    /// The refusal of an operation on `card` while it is behind the database.
    pub(super) fn behind(&self, card: &UserCard, key: &MacKey) -> Option<Refusal> {
        self.missing_purchase(card, key)
            .map(|missing| missing_on_card(&missing.record, false))
    }
}

/// `record`, which a card lacks, as [`Refusal::MissingPurchase`] or, `written` onto it now,
/// [`Refusal::MissingPurchaseWritten`].
pub fn missing_on_card(record: &PurchaseRecord, written: bool) -> Refusal {
    let (sequence, refunded) = (record.sequence, record.status == PurchaseStatus::Cancelled);
    match written {
        true => Refusal::MissingPurchaseWritten { sequence, refunded },
        false => Refusal::MissingPurchase { sequence, refunded },
    }
}

/// The customer's card facts, without a lock (a screen's, a begin's check): one statement
/// (`card_holder_facts`, sql/V77).
pub async fn card_holder(
    client: &impl CachingClient,
    customer_id: i64,
    key: &MacKey,
) -> Result<Option<CardHolder>, DbError> {
    read_opt(
        client,
        "SELECT * FROM card_holder_facts($1)",
        &[&customer_id],
        |row| CardHolder::of(customer_id, row, key),
    )
    .await
}

impl CardHolder {
    /// The card holder of the customer whose `card_holder_facts` (sql/V77) are `row`: also a
    /// row of `card_begin_facts`, which returns them under the same names.
    pub(super) fn of(customer_id: i64, row: &Row, key: &MacKey) -> Result<Self, DbError> {
        let customer_no = to_u32(row.get::<_, i64>("customer_no"), "customer.customer_no")?;
        let meter_no = MeterNumber::new(row.get("meter_no"))
            .map_err(|error| DbError::Inconsistent(format!("meter number: {error}")))?;
        let card = row
            .get::<_, Option<i64>>("card_id")
            .map(|card_id| {
                let generation = u8::try_from(row.get::<_, i16>("generation"))
                    .map_err(|_| DbError::Inconsistent("card.generation".into()))?;
                Ok::<_, DbError>(KnownCard {
                    card_id,
                    active: row.get("active"),
                    issue: IssueRecord {
                        card_number: to_u32(row.get("card_no"), "card.card_no")?,
                        customer_number: customer_no,
                        meter_number: meter_no.clone(),
                        generation,
                        // Only the first card is opened; every later one is a replacement.
                        replacement: generation > 1,
                    },
                })
            })
            .transpose()?;
        let last_sequence = row
            .get::<_, Option<i64>>("last_sequence")
            .map_or(Ok(0), |seq| to_u32(seq, "card_operation.purchase_seq"))?;
        Ok(CardHolder {
            customer_id,
            customer_no,
            meter_no,
            account_id: row.get("account_id"),
            balance: row.get("balance"),
            customer_type_id: row.get("customer_type_id"),
            card,
            last_sequence,
            last_purchase: last_purchase(row, key)?,
            pending: row.get("pending"),
            today: row.get("today"),
            closed: row.get("closed"),
            meter_prepaid: row.get("meter_prepaid"),
        })
    }
}

/// The last purchase written to a card for good, of a [`CardHolder::of`] row: from the latest
/// finished recharge, refund or replacement (which carries it). Rows without record bytes (demo
/// data) are rebuilt from their columns.
fn last_purchase(row: &Row, key: &MacKey) -> Result<Option<PurchaseRecord>, DbError> {
    let Some(card_no) = row.get::<_, Option<i64>>("purchase_card_no") else {
        return Ok(None);
    };
    let card_no = to_u32(card_no, "card.card_no")?;
    if let Some(bytes) = row.get::<_, Option<Vec<u8>>>("purchase_record_after") {
        return PurchaseRecord::decode(&bytes, card_no, key)
            .map_err(|error| DbError::Inconsistent(format!("stored purchase record: {error}")));
    }
    let (Some(sequence), Some(litres)) = (
        row.get::<_, Option<i64>>("purchase_seq"),
        row.get("volume_litres"),
    ) else {
        return Ok(None);
    };
    let kind: String = row.get("purchase_kind");
    Ok(Some(PurchaseRecord {
        sequence: to_u32(sequence, "card_operation.purchase_seq")?,
        volume_litres: to_u32(litres, "card_operation.volume_litres")?,
        generation: u8::try_from(row.get::<_, i16>("purchase_generation")).unwrap_or(u8::MAX),
        status: if kind == "refund" {
            PurchaseStatus::Cancelled
        } else {
            PurchaseStatus::Valid
        },
        written_at: u32::try_from(row.get::<_, i64>("written_at")).unwrap_or(0),
        blacklisted_card: None,
    }))
}

pub(super) fn to_u32(value: i64, what: &str) -> Result<u32, DbError> {
    u32::try_from(value).map_err(|_| DbError::Inconsistent(format!("{what} = {value}")))
}

/// The customer that card number `card_no` was issued to.
pub async fn card_owner(client: &impl CachingClient, card_no: u32) -> Result<Option<i64>, DbError> {
    Ok(client
        .query_opt(
            "SELECT customer_id FROM card WHERE card_no = $1",
            &[&i64::from(card_no)],
        )
        .await?
        .map(|row| row.get("customer_id")))
}
