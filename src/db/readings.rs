//! Meter readings, postpaid bills and system-prepaid deductions (sql/V18): entering a reading
//! (priced here by `domain::billing` while the meter's row is locked, recorded by
//! `reading_record`), a customer's bills with their details, paying bills (`bill_pay`, one
//! receipt) and voiding one (`bill_void`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient, Row};

use super::DbError;
use super::price_schemes::scheme;
use super::rows::accepted_or;
use crate::domain::billing::{
    self, BillingError, Priced, ReadingError, SettlementCycles, Slice, last_day_and_due,
};
use crate::domain::money::{Money, UnitPrice, Volume};
use crate::domain::pricing::PriceScheme;

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingSource {
    Counter,
    Import,
}

impl ReadingSource {
    fn word(self) -> &'static str {
        match self {
            ReadingSource::Counter => "counter",
            ReadingSource::Import => "import",
        }
    }
}

/// The previous reading a new one follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousReading {
    /// None: the meter's initial reading.
    pub id: Option<i64>,
    pub read_on: Option<NaiveDate>,
    pub electronic: Volume,
}

/// What the reading form shows of a customer's meter before a reading is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingContext {
    pub customer_id: i64,
    pub customer_no: i64,
    pub name: String,
    pub meter_id: i64,
    pub meter_no: String,
    pub business_model: String,
    pub previous: PreviousReading,
    pub today: NaiveDate,
}

/// A reading as typed or imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReading {
    pub meter_id: i64,
    pub read_on: NaiveDate,
    pub electronic: Volume,
    pub mechanical: Option<Volume>,
    pub source: ReadingSource,
    pub rollover: bool,
    /// The clerk confirmed an abnormal consumption.
    pub abnormal_confirmed: bool,
}

/// Why a reading was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingRefusal {
    Reading(ReadingError),
    /// Above 3 × the recent average: recorded only once confirmed.
    Abnormal {
        consumption: Volume,
    },
    NoPrice,
    CardMeter,
    NoCustomer,
    /// Another reading, a payment or a void came in between: read again.
    Changed,
}

/// What entering a reading did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingOutcome {
    Recorded {
        consumption: Volume,
        abnormal: bool,
        /// The bill made or extended (postpaid): its id and total.
        bill: Option<(i64, Money)>,
        /// The amount deducted at once (system prepaid).
        deducted: Option<Money>,
    },
    Refused(ReadingRefusal),
}

/// The details of a bill as `bill.detail` keeps them: the parts, each under one price version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BillDetail {
    pub parts: Vec<BillPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillPart {
    #[serde(with = "iso_date")]
    pub prices_from: NaiveDate,
    pub accumulated_before: Volume,
    pub volume: Volume,
    pub amount: Money,
    pub vat: Money,
    pub tiers: Vec<BillTier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillTier {
    pub tier: usize,
    pub volume: Volume,
    pub unit_price: UnitPrice,
    pub amount: Money,
}

impl From<&Priced> for BillDetail {
    fn from(priced: &Priced) -> Self {
        BillDetail {
            parts: priced
                .parts
                .iter()
                .map(|part| BillPart {
                    prices_from: part.prices_from,
                    accumulated_before: part.charge.accumulated_before,
                    volume: part.charge.volume,
                    amount: part.charge.amount,
                    vat: part.charge.vat,
                    tiers: part
                        .charge
                        .tiers
                        .iter()
                        .map(|line| BillTier {
                            tier: line.tier,
                            volume: line.volume,
                            unit_price: line.unit_price,
                            amount: line.amount,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A date in JSON as `YYYY-MM-DD` (chrono's serde feature is not on).
mod iso_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &NaiveDate, to: S) -> Result<S::Ok, S::Error> {
        to.collect_str(date)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<NaiveDate, D::Error> {
        String::deserialize(from)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A bill as the bills list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub id: i64,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub previous_reading: Volume,
    pub current_reading: Volume,
    pub volume: Volume,
    pub amount: Money,
    pub vat: Money,
    /// `unpaid`, `paid` or `void`.
    pub status: String,
    pub void_reason: Option<String>,
    pub detail: BillDetail,
}

/// A customer's bills, oldest first, with what the account holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bills {
    pub customer_id: i64,
    pub customer_no: i64,
    pub name: String,
    pub balance: Money,
    pub bills: Vec<Bill>,
}

impl Bills {
    /// Σ of the unpaid bills.
    pub fn arrears(&self) -> Money {
        self.bills
            .iter()
            .filter(|bill| bill.status == "unpaid")
            .map(|bill| bill.amount)
            .sum()
    }
}

/// What paying bills did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    Paid {
        receipt_no: i64,
    },
    /// The balance does not cover the bills chosen.
    NotCovered,
    /// A bill chosen is no longer unpaid.
    Changed,
}

/// What voiding a bill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidOutcome {
    Voided,
    /// A paid bill is never changed.
    Paid,
}

fn volume(row: &Row, column: &str) -> Result<Volume, DbError> {
    Volume::exact(row.get(column))
        .map_err(|error| DbError::Inconsistent(format!("{column}: {error}")))
}

fn money(row: &Row, column: &str) -> Result<Money, DbError> {
    Money::exact(row.get(column))
        .map_err(|error| DbError::Inconsistent(format!("{column}: {error}")))
}

/// The customer's meter and the reading a new one follows; None if there is no such customer.
pub async fn reading_context(
    client: &impl GenericClient,
    customer_id: i64,
) -> Result<Option<ReadingContext>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, c.business_model, m.id AS meter_id, m.meter_no,
                    l.id AS previous_id, l.read_on AS previous_on,
                    reading_previous_value(m.id) AS previous_electronic, current_date AS today
             FROM customer c JOIN meter m ON m.id = c.meter_id
             LEFT JOIN LATERAL reading_latest(m.id) l ON true
             WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(ReadingContext {
        customer_id: row.get("id"),
        customer_no: row.get("customer_no"),
        name: row.get("name"),
        meter_id: row.get("meter_id"),
        meter_no: row.get("meter_no"),
        business_model: row.get("business_model"),
        previous: PreviousReading {
            id: row.get("previous_id"),
            read_on: row.get("previous_on"),
            electronic: volume(&row, "previous_electronic")?,
        },
        today: row.get("today"),
    }))
}

/// The customer type's price scheme and, for a postpaid one, its settlement cycles.
async fn prices_of(
    client: &impl GenericClient,
    customer_id: i64,
) -> Result<Option<(i64, PriceScheme, Option<SettlementCycles>)>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT t.price_scheme_id FROM customer c JOIN customer_type t ON t.id = c.customer_type_id
             WHERE c.id = $1 AND t.price_scheme_id IS NOT NULL",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let scheme_id: i64 = row.get("price_scheme_id");
    let Some(detail) = scheme(client, scheme_id).await? else {
        return Ok(None);
    };
    let inconsistent = |error: crate::domain::pricing::SchemeError| {
        DbError::Inconsistent(format!("price scheme {scheme_id}: {error}"))
    };
    let prices = detail.pricing().map_err(inconsistent)?;
    let settlement = detail
        .row
        .settlement_months
        .map(|months| SettlementCycles::new(detail.row.start_date, months))
        .transpose()
        .map_err(inconsistent)?;
    Ok(Some((scheme_id, prices, settlement)))
}

/// The water charged to the customer from `since` on, with the bill it is on, in date order:
/// the readings that count (a void bill's do not), and the part of a bill's volume that no
/// reading shows (history loaded without readings, the demo data), dated its first day.
async fn counted_readings(
    client: &impl GenericClient,
    customer_id: i64,
    since: NaiveDate,
) -> Result<Vec<(Slice, Option<i64>)>, DbError> {
    client
        .query(
            "SELECT r.read_on, r.consumption, r.bill_id, r.id AS seq FROM meter_reading r
             LEFT JOIN bill b ON b.id = r.bill_id
             WHERE r.customer_id = $1 AND r.read_on >= $2 AND b.status IS DISTINCT FROM 'void'
             UNION ALL
             SELECT b.period_start, b.volume - coalesce(sum(r.consumption), 0), b.id, 0
             FROM account a JOIN bill b ON b.account_id = a.id
             LEFT JOIN meter_reading r ON r.bill_id = b.id
             WHERE a.customer_id = $1 AND b.period_end >= $2 AND b.status <> 'void'
             GROUP BY b.id
             HAVING b.volume > coalesce(sum(r.consumption), 0)
             ORDER BY read_on, seq",
            &[&customer_id, &since],
        )
        .await?
        .iter()
        .map(|row| {
            Ok((
                Slice {
                    read_on: row.get("read_on"),
                    volume: volume(row, "consumption")?,
                },
                row.get("bill_id"),
            ))
        })
        .collect()
}

/// The latest [`billing::ABNORMAL_WINDOW`] consumptions of the meter that count, oldest first.
async fn recent_consumptions(
    client: &impl GenericClient,
    meter_id: i64,
) -> Result<Vec<Volume>, DbError> {
    let mut recent = client
        .query(
            "SELECT r.consumption FROM meter_reading r LEFT JOIN bill b ON b.id = r.bill_id
             WHERE r.meter_id = $1 AND b.status IS DISTINCT FROM 'void'
             ORDER BY r.read_on DESC, r.id DESC LIMIT $2",
            &[&meter_id, &(billing::ABNORMAL_WINDOW as i64)],
        )
        .await?
        .iter()
        .map(|row| volume(row, "consumption"))
        .collect::<Result<Vec<_>, _>>()?;
    recent.reverse();
    Ok(recent)
}

/// Enters a reading exactly once (`key`): the consumption since the meter's previous reading,
/// the abnormal check, then the bill of its settlement cycle made or extended (postpaid) or the
/// deduction (system prepaid), all in one transaction holding the meter's row lock.
pub async fn enter_reading(
    client: &mut Client,
    key: &str,
    reading: &NewReading,
) -> Result<ReadingOutcome, DbError> {
    let tx = client.transaction().await?;
    tx.query_opt(
        "SELECT id FROM meter WHERE id = $1 FOR UPDATE",
        &[&reading.meter_id],
    )
    .await?;
    let Some(customer) = tx
        .query_opt(
            "SELECT id FROM customer WHERE meter_id = $1 AND status = 'active'",
            &[&reading.meter_id],
        )
        .await?
    else {
        return Ok(ReadingOutcome::Refused(ReadingRefusal::NoCustomer));
    };
    let customer_id: i64 = customer.get("id");
    let Some(context) = reading_context(&tx, customer_id).await? else {
        return Ok(ReadingOutcome::Refused(ReadingRefusal::NoCustomer));
    };
    if context.business_model == "meter_prepaid" {
        return Ok(ReadingOutcome::Refused(ReadingRefusal::CardMeter));
    }
    let refused = |refusal| Ok(ReadingOutcome::Refused(refusal));
    if let Some(previous_on) = context.previous.read_on
        && previous_on > reading.read_on
    {
        return refused(ReadingRefusal::Reading(ReadingError::BeforePrevious {
            previous: previous_on,
        }));
    }
    let used = match billing::consumption(
        context.previous.electronic,
        reading.electronic,
        reading.rollover,
    ) {
        Ok(used) => used,
        Err(error) => return refused(ReadingRefusal::Reading(error)),
    };
    let abnormal = billing::is_abnormal(used, &recent_consumptions(&tx, reading.meter_id).await?);
    if abnormal && !reading.abnormal_confirmed {
        return refused(ReadingRefusal::Abnormal { consumption: used });
    }
    let Some((scheme_id, prices, settlement)) = prices_of(&tx, customer_id).await? else {
        return refused(ReadingRefusal::NoPrice);
    };
    let new = Slice {
        read_on: reading.read_on,
        volume: used,
    };
    let since = prices.cycle().period_containing(reading.read_on).first_day;
    let counted = counted_readings(&tx, customer_id, since.min(reading.read_on)).await?;
    let (priced_json, priced) = match settlement {
        Some(cycles) => {
            let period = cycles.period_of(reading.read_on);
            let open_bill: Option<i64> = tx
                .query_opt(
                    "SELECT b.id FROM bill b JOIN account a ON a.id = b.account_id
                     WHERE a.customer_id = $1 AND b.period_start = $2 AND b.status = 'unpaid'",
                    &[&customer_id, &period.first_day],
                )
                .await?
                .map(|row| row.get("id"));
            let (mut on_bill, earlier): (Vec<_>, Vec<_>) = counted
                .iter()
                .partition(|(_, bill)| open_bill.is_some() && *bill == open_bill);
            on_bill.push((new, None));
            let slices: Vec<Slice> = on_bill.iter().map(|(slice, _)| *slice).collect();
            let earlier: Vec<Slice> = earlier.iter().map(|(slice, _)| *slice).collect();
            let priced = match billing::price(&prices, &earlier, &slices) {
                Ok(priced) => priced,
                Err(BillingError::NoPriceOn(_)) => return refused(ReadingRefusal::NoPrice),
                Err(error @ BillingError::Purchase(_)) => {
                    return Err(DbError::Inconsistent(error.to_string()));
                }
            };
            let (last_day, due) = last_day_and_due(&period);
            let prices_from = priced.parts.last().map(|part| part.prices_from);
            let json = serde_json::json!({
                "bill_id": open_bill,
                "period_start": period.first_day.to_string(),
                "period_end": last_day.to_string(),
                "due_date": due.to_string(),
                "volume": priced.volume,
                "amount": priced.amount,
                "vat": priced.vat,
                "price_version_id": version_id(&tx, scheme_id, prices_from).await?,
                "detail": BillDetail::from(&priced),
            });
            (json, priced)
        }
        None => {
            let earlier: Vec<Slice> = counted.iter().map(|(slice, _)| *slice).collect();
            let priced = match billing::price(&prices, &earlier, &[new]) {
                Ok(priced) => priced,
                Err(BillingError::NoPriceOn(_)) => return refused(ReadingRefusal::NoPrice),
                Err(error @ BillingError::Purchase(_)) => {
                    return Err(DbError::Inconsistent(error.to_string()));
                }
            };
            let lines: Vec<_> = priced
                .parts
                .iter()
                .flat_map(|part| &part.charge.tiers)
                .collect();
            let unit_price = match lines.as_slice() {
                [only] => Some(only.unit_price),
                _ => None,
            };
            let json = serde_json::json!({
                "amount": priced.amount,
                "volume": priced.volume,
                "unit_price": unit_price,
            });
            (json, priced)
        }
    };
    let recorded = tx
        .query_one(
            "SELECT reading_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb)::text AS outcome",
            &[
                &key,
                &reading.meter_id,
                &reading.read_on,
                &reading.electronic.to_decimal(),
                &reading.mechanical.map(Volume::to_decimal),
                &reading.source.word(),
                &context.previous.id,
                &used.to_decimal(),
                &abnormal,
                &priced_json.to_string(),
            ],
        )
        .await;
    let Ok(recorded) = accepted_or(recorded, [(SqlState::T_R_SERIALIZATION_FAILURE, ())])? else {
        return refused(ReadingRefusal::Changed);
    };
    let outcome: serde_json::Value = serde_json::from_str(recorded.get("outcome"))
        .map_err(|error| DbError::Inconsistent(format!("reading_record: {error}")))?;
    tx.commit().await?;
    let bill = outcome["bill_id"].as_i64().map(|id| (id, priced.amount));
    Ok(ReadingOutcome::Recorded {
        consumption: used,
        abnormal,
        deducted: (bill.is_none()).then_some(priced.amount),
        bill,
    })
}

/// The id of the scheme's version starting on `from`.
async fn version_id(
    client: &impl GenericClient,
    scheme_id: i64,
    from: Option<NaiveDate>,
) -> Result<Option<i64>, DbError> {
    Ok(client
        .query_opt(
            "SELECT id FROM price_version WHERE price_scheme_id = $1 AND effective_from = $2",
            &[&scheme_id, &from],
        )
        .await?
        .map(|row| row.get("id")))
}

/// A customer's bills, oldest first, with the account's balance; None if no such customer.
pub async fn bills(
    client: &impl GenericClient,
    customer_id: i64,
) -> Result<Option<Bills>, DbError> {
    let Some(head) = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, a.balance, a.id AS account_id
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let account_id: i64 = head.get("account_id");
    let bills = client
        .query(
            "SELECT id, period_start, period_end, due_date, previous_reading, current_reading,
                    volume, amount, vat, status, void_reason, detail::text AS detail
             FROM bill WHERE account_id = $1 ORDER BY period_start, id",
            &[&account_id],
        )
        .await?
        .iter()
        .map(|row| {
            let detail: &str = row.get("detail");
            Ok(Bill {
                id: row.get("id"),
                period_start: row.get("period_start"),
                period_end: row.get("period_end"),
                due_date: row.get("due_date"),
                previous_reading: volume(row, "previous_reading")?,
                current_reading: volume(row, "current_reading")?,
                volume: volume(row, "volume")?,
                amount: money(row, "amount")?,
                vat: money(row, "vat")?,
                status: row.get("status"),
                void_reason: row.get("void_reason"),
                detail: serde_json::from_str(detail)
                    .map_err(|error| DbError::Inconsistent(format!("bill detail: {error}")))?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Some(Bills {
        customer_id: head.get("id"),
        customer_no: head.get("customer_no"),
        name: head.get("name"),
        balance: money(&head, "balance")?,
        bills,
    }))
}

/// Pays `bill_ids` (of one account) from its balance exactly once (`key`), oldest first, on
/// one receipt.
pub async fn pay_bills(
    client: &impl GenericClient,
    key: &str,
    bill_ids: &[i64],
) -> Result<PayOutcome, DbError> {
    let paid = client
        .query_one("SELECT bill_pay($1, $2) AS receipt_no", &[&key, &bill_ids])
        .await;
    // The balance's guard and a bill no longer unpaid both say check_violation; which one it
    // was is told by the bills as they now stand.
    match accepted_or(paid, [(SqlState::CHECK_VIOLATION, ())])? {
        Ok(row) => Ok(PayOutcome::Paid {
            receipt_no: row.get("receipt_no"),
        }),
        Err(()) => {
            let unpaid: i64 = client
                .query_one(
                    "SELECT count(*) AS unpaid FROM bill WHERE id = ANY ($1) AND status = 'unpaid'",
                    &[&bill_ids],
                )
                .await?
                .get("unpaid");
            Ok(if unpaid == bill_ids.len() as i64 {
                PayOutcome::NotCovered
            } else {
                PayOutcome::Changed
            })
        }
    }
}

/// Voids an unpaid bill with `reason` (a supervisor).
pub async fn void_bill(
    client: &impl GenericClient,
    bill_id: i64,
    reason: &str,
) -> Result<VoidOutcome, DbError> {
    let voided = client
        .execute("SELECT bill_void($1, $2)", &[&bill_id, &reason])
        .await;
    Ok(
        match accepted_or(voided, [(SqlState::CHECK_VIOLATION, ())])? {
            Ok(_) => VoidOutcome::Voided,
            Err(()) => VoidOutcome::Paid,
        },
    )
}
