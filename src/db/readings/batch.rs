//! Readings priced together: a whole import file (a reading typed at the counter is priced and
//! written by one call of `reading_enter`, sql/V76). The meters'
//! state is read in a few set-based queries (latest reading, recent consumptions, the water
//! already charged and the open bills of their customers, the price schemes), each reading is
//! taken in date order against it in memory (`domain::billing`), and what they make — readings,
//! bills made or extended, system-prepaid deductions — is written by one call of
//! `reading_write` (sql/V18, V29). 100 000 readings are a handful of statements, not 100 000 round
//! trips.

use std::collections::HashMap;

use crate::db::{CachingClient, Transaction};
use chrono::NaiveDate;
use serde::Serialize;
use tokio_postgres::error::SqlState;

use super::{BillDetail, DbError, ReadingRefusal, ReadingSource, volume};
use crate::db::price_schemes::scheme;
use crate::db::rows::accepted_or;
use crate::domain::billing::{
    self, BillingError, Priced, ReadingError, SettlementCycles, Slice, last_day_and_due,
};
use crate::domain::money::{Money, UnitPrice, Volume};
use crate::domain::pricing::PriceScheme;

/// A scheme's prices, its settlement cycles (postpaid) and its versions' ids by first day.
struct Prices {
    scheme: PriceScheme,
    settlement: Option<SettlementCycles>,
    version_ids: HashMap<NaiveDate, i64>,
}

/// A bill the batch puts water on: stored (an open bill extended), or made by the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum BillRef {
    Stored(i64),
    New(usize),
}

impl BillRef {
    fn key(self) -> String {
        match self {
            BillRef::Stored(id) => format!("s{id}"),
            BillRef::New(index) => format!("n{index}"),
        }
    }
}

/// A bill as the batch leaves it.
struct BillDraft {
    account_id: i64,
    period_start: NaiveDate,
    period_end: NaiveDate,
    due: NaiveDate,
    /// The reading the bill starts from (a new bill's first reading's previous one).
    previous: Volume,
    current: Volume,
    priced: Priced,
    version_id: Option<i64>,
}

/// A meter and its customer as the next reading is priced from.
struct Book {
    meter_id: i64,
    customer_id: i64,
    account_id: i64,
    business_model: String,
    /// The customer's type charges for water (`customer_type.charges`); its scheme is
    /// `scheme_id`.
    charges: bool,
    scheme_id: Option<i64>,
    /// The stored latest reading the batch's first reading of the meter follows.
    stored_latest: Option<i64>,
    /// That reading's date, figure and who entered it, until the batch takes a reading of the
    /// meter: a line that is this reading is recorded already (sql/V113).
    recorded: Option<(NaiveDate, Volume, Option<String>)>,
    previous_on: Option<NaiveDate>,
    previous: Volume,
    /// The database's date when the meter was read from: no reading is dated after it.
    today: NaiveDate,
    /// The latest consumptions, oldest first.
    recent: Vec<Volume>,
    /// The water charged to the customer so far, with the bill it is on.
    charged: Vec<(Slice, Option<BillRef>)>,
    /// The open bill of each settlement cycle, by its first day.
    open_bills: HashMap<NaiveDate, BillRef>,
}

/// What charging a reading makes: the bill it is on (postpaid), or its deduction and the one
/// unit price it was at (system prepaid).
type Charge = (Option<BillRef>, Option<(Money, Option<UnitPrice>)>);

/// A reading to take.
pub(super) struct Take {
    pub line: usize,
    pub meter_id: i64,
    pub read_on: NaiveDate,
    pub electronic: Volume,
    pub mechanical: Option<Volume>,
    pub rollover: bool,
}

/// What taking a reading made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Taken {
    pub consumption: Volume,
    pub abnormal: bool,
    /// The bill made or extended, and its total with this reading.
    pub bill: Option<Money>,
    pub deducted: Option<Money>,
}

/// A reading as `reading_write` takes it.
#[derive(Serialize)]
struct ReadingRecord {
    seq: usize,
    line: usize,
    meter_id: i64,
    customer_id: i64,
    account_id: i64,
    #[serde(with = "super::iso_date")]
    read_on: NaiveDate,
    electronic: Volume,
    mechanical: Option<Volume>,
    previous_id: Option<i64>,
    previous: Volume,
    consumption: Volume,
    abnormal: bool,
    bill_ref: Option<String>,
    /// A system-prepaid deduction.
    amount: Option<Money>,
    volume: Option<Volume>,
    unit_price: Option<UnitPrice>,
}

/// A bill as `reading_write` takes it.
#[derive(Serialize)]
struct BillRecord {
    r#ref: String,
    bill_id: Option<i64>,
    account_id: i64,
    #[serde(with = "super::iso_date")]
    period_start: NaiveDate,
    #[serde(with = "super::iso_date")]
    period_end: NaiveDate,
    #[serde(with = "super::iso_date")]
    due_date: NaiveDate,
    previous_reading: Volume,
    current_reading: Volume,
    volume: Volume,
    amount: Money,
    vat: Money,
    price_version_id: Option<i64>,
    detail: BillDetail,
}

/// The meters of a batch and what their readings make.
pub(super) struct Batch {
    books: HashMap<i64, Book>,
    meter_ids: HashMap<String, i64>,
    prices: HashMap<i64, Prices>,
    drafts: HashMap<BillRef, BillDraft>,
    /// Bills made by the batch so far.
    made: usize,
    readings: Vec<ReadingRecord>,
}

impl Batch {
    /// Locks the meters numbered `numbers` and their customers' accounts, as `reading_write`
    /// does (sql/V42: the accounts first, then the meters), and reads what their readings are
    /// priced from, back to `earliest`, the first reading date of the batch.
    pub(super) async fn load(
        tx: &Transaction<'_>,
        numbers: &[String],
        earliest: NaiveDate,
    ) -> Result<Batch, DbError> {
        const LOCK: &str = "SELECT reading_lock(ARRAY(SELECT id FROM meter
                                WHERE meter_no = ANY ($1::text[])))";
        // The meters' books are read behind their locks, in the same round trip: a connection
        // runs its statements in the order they are sent, so the read runs once the locks are
        // granted. The lock is prepared first, so that a read prepared sooner cannot overtake it.
        tx.prepared(LOCK).await?;
        let (_, rows) = tokio::try_join!(
            biased;
            async { tx.execute(LOCK, &[&numbers]).await },
            async {
                tx.query(
                "SELECT m.id AS meter_id, m.meter_no, c.id AS customer_id, c.business_model,
                        t.charges, t.price_scheme_id, a.id AS account_id, l.id AS latest_id,
                        l.read_on AS latest_on, l.electronic AS latest_electronic,
                        o.full_name AS latest_by, p.previous, md_today() AS today
                 FROM meter m
                 JOIN customer c ON c.meter_id = m.id AND c.status = 'active'
                 JOIN customer_type t ON t.id = c.customer_type_id
                 JOIN account a ON a.customer_id = c.id
                 LEFT JOIN LATERAL reading_latest(m.id) l ON true
                 LEFT JOIN operator o ON o.id = l.operator_id
                 CROSS JOIN LATERAL reading_previous_value(m.id) AS p(previous)
                 WHERE m.meter_no = ANY ($1::text[])",
                &[&numbers],
                )
                .await
            },
        )?;
        let mut books = HashMap::new();
        let mut meter_ids = HashMap::new();
        for row in rows {
            let meter_id: i64 = row.get("meter_id");
            meter_ids.insert(row.get("meter_no"), meter_id);
            let recorded = match row.get::<_, Option<NaiveDate>>("latest_on") {
                Some(on) => Some((on, volume(&row, "latest_electronic")?, row.get("latest_by"))),
                None => None,
            };
            books.insert(
                meter_id,
                Book {
                    meter_id,
                    customer_id: row.get("customer_id"),
                    account_id: row.get("account_id"),
                    business_model: row.get("business_model"),
                    charges: row.get("charges"),
                    scheme_id: row.get("price_scheme_id"),
                    stored_latest: row.get("latest_id"),
                    recorded,
                    previous_on: row.get("latest_on"),
                    previous: volume(&row, "previous")?,
                    today: row.get("today"),
                    recent: Vec::new(),
                    charged: Vec::new(),
                    open_bills: HashMap::new(),
                },
            );
        }
        let mut prices = HashMap::new();
        for scheme_id in books.values().filter_map(|book| book.scheme_id) {
            if let std::collections::hash_map::Entry::Vacant(entry) = prices.entry(scheme_id)
                && let Some(loaded) = load_prices(tx, scheme_id).await?
            {
                entry.insert(loaded);
            }
        }
        let mut batch = Batch {
            books,
            meter_ids,
            prices,
            drafts: HashMap::new(),
            made: 0,
            readings: Vec::new(),
        };
        batch.load_history(tx, earliest).await?;
        Ok(batch)
    }

    /// The recent consumptions, the water charged and the open bills of the batch's meters.
    async fn load_history(
        &mut self,
        tx: &Transaction<'_>,
        earliest: NaiveDate,
    ) -> Result<(), DbError> {
        let meter_ids: Vec<i64> = self.books.keys().copied().collect();
        let customers: HashMap<i64, i64> = self
            .books
            .values()
            .map(|book| (book.customer_id, book.meter_id))
            .collect();
        let (customer_ids, their_meters): (Vec<i64>, Vec<i64>) = customers
            .iter()
            .map(|(customer, meter)| (*customer, *meter))
            .unzip();
        // Charged water counts from the start of the earliest accumulation cycle priced: the
        // one the earliest reading falls in, or an open bill's first day (its water is priced
        // again with the reading), when that cycle starts before the bill's.
        let since = self
            .prices
            .values()
            .map(|prices| {
                let priced_from = prices
                    .settlement
                    .map_or(earliest, |cycles| cycles.period_of(earliest).first_day);
                prices
                    .scheme
                    .cycle()
                    .period_containing(priced_from)
                    .first_day
            })
            .min()
            .unwrap_or(earliest);
        for row in tx
            .query(
                "SELECT meter_id, consumption FROM (
                     SELECT r.meter_id, r.consumption, row_number() OVER (
                         PARTITION BY r.meter_id ORDER BY r.read_on DESC, r.id DESC) AS back
                     FROM meter_reading r LEFT JOIN bill b ON b.id = r.bill_id
                     WHERE r.meter_id = ANY ($1) AND b.status IS DISTINCT FROM 'void') recent
                 WHERE back <= $2 ORDER BY meter_id, back DESC",
                &[&meter_ids, &(billing::ABNORMAL_WINDOW as i64)],
            )
            .await?
        {
            let meter_id: i64 = row.get("meter_id");
            let used = volume(&row, "consumption")?;
            if let Some(book) = self.books.get_mut(&meter_id) {
                book.recent.push(used);
            }
        }
        for row in tx
            .query(
                // The customer's readings of its meter, as md_charged_water (sql/V34) counts
                // them: found by the meter's index, not by a scan of every reading.
                "SELECT r.customer_id, r.read_on, r.consumption, r.bill_id, r.id AS seq
                 FROM unnest($1::bigint[], $3::bigint[]) AS k(customer_id, meter_id)
                 JOIN meter_reading r ON r.meter_id = k.meter_id AND r.customer_id = k.customer_id
                 LEFT JOIN bill b ON b.id = r.bill_id
                 WHERE r.read_on >= $2 AND b.status IS DISTINCT FROM 'void'
                 UNION ALL
                 SELECT a.customer_id, b.period_start, b.volume - coalesce(sum(r.consumption), 0),
                        b.id, 0
                 FROM account a JOIN bill b ON b.account_id = a.id
                 LEFT JOIN meter_reading r ON r.bill_id = b.id
                 WHERE a.customer_id = ANY ($1) AND b.period_end >= $2 AND b.status <> 'void'
                 GROUP BY a.customer_id, b.id
                 HAVING b.volume > coalesce(sum(r.consumption), 0)
                 ORDER BY read_on, seq",
                &[&customer_ids, &since, &their_meters],
            )
            .await?
        {
            let meter_id = customers[&row.get::<_, i64>("customer_id")];
            let slice = Slice {
                read_on: row.get("read_on"),
                volume: volume(&row, "consumption")?,
            };
            let bill = row.get::<_, Option<i64>>("bill_id").map(BillRef::Stored);
            if let Some(book) = self.books.get_mut(&meter_id) {
                book.charged.push((slice, bill));
            }
        }
        for row in tx
            .query(
                "SELECT a.customer_id, b.id, b.period_start FROM bill b
                 JOIN account a ON a.id = b.account_id
                 WHERE a.customer_id = ANY ($1) AND b.status = 'unpaid'",
                &[&customer_ids],
            )
            .await?
        {
            let meter_id = customers[&row.get::<_, i64>("customer_id")];
            if let Some(book) = self.books.get_mut(&meter_id) {
                book.open_bills
                    .insert(row.get("period_start"), BillRef::Stored(row.get("id")));
            }
        }
        Ok(())
    }

    /// The id of the meter numbered `meter_no`, if it has an active customer.
    pub(super) fn meter_id(&self, meter_no: &str) -> Option<i64> {
        self.meter_ids.get(meter_no).copied()
    }

    /// Prices a reading after those taken before it and keeps what it makes; a refused reading
    /// changes nothing.
    pub(super) fn take(&mut self, reading: &Take) -> Result<Taken, ReadingRefusal> {
        let book = self
            .books
            .get(&reading.meter_id)
            .ok_or(ReadingRefusal::NoCustomer)?;
        if book.business_model == "meter_prepaid" {
            return Err(ReadingRefusal::CardMeter);
        }
        if reading.read_on > book.today {
            return Err(ReadingRefusal::Reading(ReadingError::AfterToday {
                today: book.today,
            }));
        }
        if let Some(previous) = book.previous_on.filter(|on| *on > reading.read_on) {
            return Err(ReadingRefusal::Reading(ReadingError::BeforePrevious {
                previous,
            }));
        }
        // The meter's stored latest reading typed again: recorded already, never twice.
        if let Some((on, electronic, by)) = &book.recorded
            && *on == reading.read_on
            && *electronic == reading.electronic
        {
            return Err(ReadingRefusal::AlreadyRecorded {
                electronic: *electronic,
                on: *on,
                by: by.clone(),
            });
        }
        let used = billing::consumption(book.previous, reading.electronic, reading.rollover)
            .map_err(ReadingRefusal::Reading)?;
        // An import records an abnormal consumption, and lists it.
        let abnormal = billing::is_abnormal(used, &book.recent);
        let new = Slice {
            read_on: reading.read_on,
            volume: used,
        };
        // A type that does not charge (a statistical district meter's) has its readings recorded
        // with their water and nothing else: no bill, no deduction (sql/V37).
        let (bill, deduction) = if book.charges {
            self.charge(reading, new)?
        } else {
            (None, None)
        };
        let book = self.books.get_mut(&reading.meter_id).expect("found above");
        self.readings.push(ReadingRecord {
            seq: self.readings.len(),
            line: reading.line,
            meter_id: book.meter_id,
            customer_id: book.customer_id,
            account_id: book.account_id,
            read_on: reading.read_on,
            electronic: reading.electronic,
            mechanical: reading.mechanical,
            previous_id: book.stored_latest,
            previous: book.previous,
            consumption: used,
            abnormal,
            bill_ref: bill.map(BillRef::key),
            amount: deduction.map(|(amount, _)| amount),
            volume: deduction.map(|_| used),
            unit_price: deduction.and_then(|(_, price)| price),
        });
        if let Some(bill) = bill {
            book.open_bills
                .insert(self.drafts[&bill].period_start, bill);
        }
        book.charged.push((new, bill));
        book.previous = reading.electronic;
        book.previous_on = Some(reading.read_on);
        book.recorded = None;
        book.recent.push(used);
        Ok(Taken {
            consumption: used,
            abnormal,
            bill: bill.map(|bill| self.drafts[&bill].priced.amount),
            deducted: deduction.map(|(amount, _)| amount),
        })
    }

    /// Prices reading `new` of a customer whose type charges: the bill it is on (postpaid,
    /// kept among the drafts), or its deduction and the one price it was at (system prepaid).
    fn charge(&mut self, reading: &Take, new: Slice) -> Result<Charge, ReadingRefusal> {
        let book = &self.books[&reading.meter_id];
        let prices = book
            .scheme_id
            .and_then(|id| self.prices.get(&id))
            .ok_or(ReadingRefusal::NoPrice)?;
        let priced = |earlier: &[Slice], slices: &[Slice]| {
            billing::price(&prices.scheme, earlier, slices).map_err(|error| match error {
                BillingError::NoPriceOn(_) => ReadingRefusal::NoPrice,
                // The volumes come from NUMERIC(12,3) columns and sums of them.
                BillingError::Purchase(_) => ReadingRefusal::TooMuchWater,
            })
        };
        // The bill the reading is on (postpaid), or its deduction and the one price it was at.
        Ok(match prices.settlement {
            Some(cycles) => {
                let period = cycles.period_of(reading.read_on);
                let bill = book
                    .open_bills
                    .get(&period.first_day)
                    .copied()
                    .unwrap_or(BillRef::New(self.made));
                let mut on_bill = Vec::new();
                let mut earlier = Vec::new();
                for (slice, on) in &book.charged {
                    if *on == Some(bill) {
                        on_bill.push(*slice);
                    } else {
                        earlier.push(*slice);
                    }
                }
                on_bill.push(new);
                let total = priced(&earlier, &on_bill)?;
                let version_id = total
                    .parts
                    .last()
                    .and_then(|part| prices.version_ids.get(&part.prices_from).copied());
                let (period_end, due) = last_day_and_due(&period);
                let draft = self.drafts.entry(bill).or_insert_with(|| BillDraft {
                    account_id: book.account_id,
                    period_start: period.first_day,
                    period_end,
                    due,
                    previous: book.previous,
                    current: reading.electronic,
                    priced: total.clone(),
                    version_id,
                });
                draft.current = reading.electronic;
                draft.priced = total;
                draft.version_id = version_id;
                if bill == BillRef::New(self.made) {
                    self.made += 1;
                }
                (Some(bill), None)
            }
            None => {
                let earlier: Vec<Slice> = book.charged.iter().map(|(slice, _)| *slice).collect();
                let deduction = priced(&earlier, &[new])?;
                let lines: Vec<_> = deduction
                    .parts
                    .iter()
                    .flat_map(|part| &part.charge.tiers)
                    .collect();
                let unit_price = match lines.as_slice() {
                    [only] => Some(only.unit_price),
                    _ => None,
                };
                (None, Some((deduction.amount, unit_price)))
            }
        })
    }

    /// Writes what the batch took; false when a meter was read, or a bill paid or voided,
    /// since the batch read them (nothing is written then).
    pub(super) async fn write(
        &self,
        tx: &Transaction<'_>,
        key: &str,
        source: ReadingSource,
    ) -> Result<bool, DbError> {
        if self.readings.is_empty() {
            return Ok(true);
        }
        let bills: Vec<BillRecord> = self
            .drafts
            .iter()
            .map(|(bill, draft)| BillRecord {
                r#ref: bill.key(),
                bill_id: match bill {
                    BillRef::Stored(id) => Some(*id),
                    BillRef::New(_) => None,
                },
                account_id: draft.account_id,
                period_start: draft.period_start,
                period_end: draft.period_end,
                due_date: draft.due,
                previous_reading: draft.previous,
                current_reading: draft.current,
                volume: draft.priced.volume,
                amount: draft.priced.amount,
                vat: draft.priced.vat,
                price_version_id: draft.version_id,
                detail: BillDetail::from(&draft.priced),
            })
            .collect();
        let as_json = |error: serde_json::Error| DbError::Inconsistent(error.to_string());
        let bills_text = serde_json::to_string(&bills).map_err(as_json)?;
        let readings_text = serde_json::to_string(&self.readings).map_err(as_json)?;
        let written = tx
            .execute(
                "SELECT reading_write($1, $2, $3::text::jsonb, $4::text::jsonb)",
                &[&key, &source.word(), &bills_text, &readings_text],
            )
            .await;
        Ok(accepted_or(written, [(SqlState::T_R_SERIALIZATION_FAILURE, ())])?.is_ok())
    }
}

/// A scheme's prices and its versions' ids; None if it has no version.
async fn load_prices(
    client: &impl CachingClient,
    scheme_id: i64,
) -> Result<Option<Prices>, DbError> {
    let Some(detail) = scheme(client, scheme_id).await? else {
        return Ok(None);
    };
    if detail.versions.is_empty() {
        return Ok(None);
    }
    let inconsistent = |error: crate::domain::pricing::SchemeError| {
        DbError::Inconsistent(format!("price scheme {scheme_id}: {error}"))
    };
    let version_ids = client
        .query(
            "SELECT id, effective_from FROM price_version WHERE price_scheme_id = $1",
            &[&scheme_id],
        )
        .await?
        .iter()
        .map(|row| (row.get("effective_from"), row.get("id")))
        .collect();
    Ok(Some(Prices {
        scheme: detail.pricing().map_err(inconsistent)?,
        settlement: detail
            .row
            .fields
            .settlement_months
            .map(|months| SettlementCycles::new(detail.row.fields.start_date, months))
            .transpose()
            .map_err(inconsistent)?,
        version_ids,
    }))
}
