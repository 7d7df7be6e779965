//! Meter readings, postpaid bills and system-prepaid deductions (sql/V18): entering a reading
//! (one call of `reading_enter`, which prices and records it, sql/V76), importing readings
//! (priced here by `domain::billing` while their meters' rows are locked, recorded by
//! `reading_write`), a customer's bills with their details, paying bills (`bill_pay`, one
//! receipt) and voiding one (`bill_void`).

use crate::db::{CachingClient, Transaction, import_deadlines};
use chrono::NaiveDate;
use deadpool_postgres::ClientWrapper as Client;
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

mod batch;

use super::DbError;
use super::receipts::Issued;
use super::rows::{accepted_or, from_columns, read_all, read_opt};
use crate::domain::billing::{Priced, ReadingError};
use crate::domain::money::{Money, UnitPrice, Volume};
use crate::domain::reading_csv::{BadLine, ReadingCsv, ReadingProblem, ReadingRow};
use batch::{Batch, Take};

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingSource {
    Counter,
    Import,
    /// The last reading of an account being closed (sql/V24): its bill or deduction is the
    /// final one.
    Final,
}

impl ReadingSource {
    pub(crate) fn word(self) -> &'static str {
        match self {
            ReadingSource::Counter => "counter",
            ReadingSource::Import => "import",
            ReadingSource::Final => "final",
        }
    }
}

/// The previous reading a new one follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousReading {
    /// None: the meter's initial reading, or the last bill's.
    pub id: Option<i64>,
    pub read_on: Option<NaiveDate>,
    /// No reading yet, but bills made without readings (history loaded from elsewhere, the
    /// demo data): the last day of the latest, whose current reading this is.
    pub billed_until: Option<NaiveDate>,
    pub electronic: Volume,
    /// The full name of the operator who entered the reading `id` (none: no reading, or one
    /// loaded without an operator).
    pub entered_by: Option<String>,
}

impl PreviousReading {
    /// Whether a reading on `read_on` of `electronic` is this one, already recorded (sql/V113):
    /// a counter reading of the same figure on the same date as the meter's latest reading.
    pub fn same_reading(&self, read_on: NaiveDate, electronic: Volume) -> bool {
        self.id.is_some() && self.read_on == Some(read_on) && self.electronic == electronic
    }
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
    /// More water than a bill can hold.
    TooMuchWater,
    /// Another reading of the meter was entered (or the latest one's bill voided) since the
    /// form read the previous reading: the reading now previous, with its date (none: the
    /// meter's initial or billed value). Nothing was written.
    PreviousChanged {
        previous: Volume,
        on: Option<NaiveDate>,
    },
    /// The meter's latest reading is this one, the same date and figure (sql/V113): it is
    /// recorded already, by `by` (none: loaded without an operator). Nothing was written.
    AlreadyRecorded {
        electronic: Volume,
        on: NaiveDate,
        by: Option<String>,
    },
}

/// What entering a reading did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingOutcome {
    /// The reading and its water were recorded; with neither a bill nor a deduction when the
    /// customer's type does not charge (a statistical district meter's, sql/V37).
    Recorded {
        consumption: Volume,
        abnormal: bool,
        /// The total of the bill made or extended (postpaid).
        bill: Option<Money>,
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
    /// Which owner `name` is (`customer_owner_seen`, sql/V110), sent back with a payment
    /// ([`pay_bills_for`]).
    pub owner_seen: i64,
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
    /// A bill chosen was paid, voided or extended since it was shown.
    Changed,
    /// Another desk transferred the customer since the screen read its owner
    /// ([`pay_bills_for`]); nothing paid. `owner`: the name stored now.
    OwnerChanged {
        owner: String,
    },
}

impl Issued for PayOutcome {
    fn receipt_no(&self) -> Option<i64> {
        match self {
            PayOutcome::Paid { receipt_no } => Some(*receipt_no),
            PayOutcome::NotCovered | PayOutcome::Changed | PayOutcome::OwnerChanged { .. } => None,
        }
    }
}

/// What voiding a bill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidOutcome {
    /// Voided by this request, or by this operator with this reason (the request sent again).
    Voided,
    /// Voided already by another desk (another operator, or another reason): by whom and why;
    /// this request's reason is not kept.
    VoidedBefore { by: String, reason: String },
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
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<ReadingContext>, DbError> {
    read_opt(
        client,
        "SELECT c.id, c.customer_no, c.name, c.business_model, m.id AS meter_id, m.meter_no,
                    l.id AS previous_id, l.read_on AS previous_on, o.full_name AS entered_by,
                    CASE WHEN l.id IS NULL THEN
                        (SELECT b.period_end FROM account a JOIN bill b ON b.account_id = a.id
                         WHERE a.customer_id = c.id AND b.status <> 'void'
                         ORDER BY b.period_end DESC, b.id DESC LIMIT 1)
                    END AS billed_until,
                    p.previous AS previous_electronic, md_today() AS today
             FROM customer c JOIN meter m ON m.id = c.meter_id
             LEFT JOIN LATERAL reading_latest(m.id) l ON true
             LEFT JOIN operator o ON o.id = l.operator_id
             CROSS JOIN LATERAL reading_previous_value(m.id) AS p(previous)
             WHERE c.id = $1",
        &[&customer_id],
        |row| {
            Ok(ReadingContext {
                customer_id: row.get("id"),
                customer_no: row.get("customer_no"),
                name: row.get("name"),
                meter_id: row.get("meter_id"),
                meter_no: row.get("meter_no"),
                business_model: row.get("business_model"),
                previous: PreviousReading {
                    id: row.get("previous_id"),
                    read_on: row.get("previous_on"),
                    billed_until: row.get("billed_until"),
                    electronic: volume(row, "previous_electronic")?,
                    entered_by: row.get("entered_by"),
                },
                today: row.get("today"),
            })
        },
    )
    .await
}

/// Enters a reading exactly once (`key`) in one call of `reading_enter` (sql/V76), which locks
/// the customer's account and meter, works out the consumption and the abnormal check, then,
/// when the customer's type charges, makes or extends the bill of its settlement cycle
/// (postpaid) or deducts its price (system prepaid), and answers what it did, or why it
/// refused: one statement, one round trip. The meter's latest reading typed again (the same
/// date and figure) is [`ReadingRefusal::AlreadyRecorded`], nothing written (sql/V113).
pub async fn enter_reading(
    client: &mut Client,
    key: &str,
    reading: &NewReading,
) -> Result<ReadingOutcome, DbError> {
    enter(client, key, reading, None).await
}

/// [`enter_reading`] of a reading that follows reading `after` (`None`: the meter had none), the
/// previous reading the clerk's form showed, by `reading_enter_after` (sql/V98): if another
/// reading of the meter was entered meanwhile, or the latest one's bill voided, nothing is
/// written and the answer is [`ReadingRefusal::PreviousChanged`]. Without it, the reading's
/// water was worked out from a previous reading the clerk never saw (two clerks entering one
/// meter at once: the same figure recorded twice, a lower one said to be a wrapped register).
pub async fn enter_reading_after(
    client: &mut Client,
    key: &str,
    reading: &NewReading,
    after: Option<i64>,
) -> Result<ReadingOutcome, DbError> {
    enter(client, key, reading, Some(after)).await
}

async fn enter(
    client: &mut Client,
    key: &str,
    reading: &NewReading,
    after: Option<Option<i64>>,
) -> Result<ReadingOutcome, DbError> {
    const COLUMNS: &str = "SELECT outcome, consumption, abnormal, bill, deducted, previous, previous_on, today, \
         recorded_by";
    let (source, electronic) = (reading.source.word(), reading.electronic.to_decimal());
    let mechanical = reading.mechanical.map(Volume::to_decimal);
    // reading_enter_after takes the previous reading the form showed after the meter.
    let mut arguments: Vec<&(dyn ToSql + Sync)> = vec![&key, &source, &reading.meter_id];
    let function = match &after {
        None => "reading_enter",
        Some(after) => {
            arguments.push(after);
            "reading_enter_after"
        }
    };
    arguments.extend([
        &reading.read_on as &(dyn ToSql + Sync),
        &electronic,
        &mechanical,
        &reading.rollover,
        &reading.abnormal_confirmed,
    ]);
    let placeholders: Vec<String> = (1..=arguments.len()).map(|n| format!("${n}")).collect();
    let entered = client
        .query_one(
            &format!("{COLUMNS} FROM {function}({})", placeholders.join(", ")),
            &arguments,
        )
        .await;
    // What a bill or a deduction cannot hold overflows md_price's or the tables' numbers.
    let row = match accepted_or(
        entered,
        [(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            ReadingRefusal::TooMuchWater,
        )],
    )? {
        Ok(row) => row,
        Err(refusal) => return Ok(ReadingOutcome::Refused(refusal)),
    };
    let optional_money = |column: &str| -> Result<Option<Money>, DbError> {
        match row.get::<_, Option<rust_decimal::Decimal>>(column) {
            Some(_) => money(&row, column).map(Some),
            None => Ok(None),
        }
    };
    let refusal = match row.get::<_, &str>("outcome") {
        "recorded" => {
            return Ok(ReadingOutcome::Recorded {
                consumption: volume(&row, "consumption")?,
                abnormal: row.get("abnormal"),
                bill: optional_money("bill")?,
                deducted: optional_money("deducted")?,
            });
        }
        "no_customer" => ReadingRefusal::NoCustomer,
        "card_meter" => ReadingRefusal::CardMeter,
        "after_today" => ReadingRefusal::Reading(ReadingError::AfterToday {
            today: row.get("today"),
        }),
        "before_previous" => ReadingRefusal::Reading(ReadingError::BeforePrevious {
            previous: row.get("previous_on"),
        }),
        "below_previous" => ReadingRefusal::Reading(ReadingError::BelowPrevious {
            previous: volume(&row, "previous")?,
        }),
        "not_a_rollover" => ReadingRefusal::Reading(ReadingError::NotARollover {
            previous: volume(&row, "previous")?,
        }),
        "abnormal" => ReadingRefusal::Abnormal {
            consumption: volume(&row, "consumption")?,
        },
        "no_price" => ReadingRefusal::NoPrice,
        "previous_changed" => ReadingRefusal::PreviousChanged {
            previous: volume(&row, "previous")?,
            on: row.get("previous_on"),
        },
        "already_recorded" => ReadingRefusal::AlreadyRecorded {
            electronic: volume(&row, "previous")?,
            on: row.get("previous_on"),
            by: row.get("recorded_by"),
        },
        other => {
            return Err(DbError::Inconsistent(format!(
                "reading_enter answered {other}"
            )));
        }
    };
    Ok(ReadingOutcome::Refused(refusal))
}

/// What a reading import did, or would do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Readings recorded (or, checked, that would be).
    pub good: usize,
    /// Lines whose consumption is abnormal, with it: recorded, and listed.
    pub abnormal: Vec<(usize, Volume)>,
    /// Every bad line once, the file's and the database's, in line order.
    pub bad: Vec<BadLine>,
    /// False for a check, or when the meters changed since (then nothing was written).
    pub written: bool,
}

/// An import's statements are planned for the file's numbers of meters and readings at every
/// import (sql/V48), never a plan kept from another.
const IMPORT_PLANS: &str = "SET LOCAL plan_cache_mode = force_custom_plan";

/// Checks a reading import file against the database (`key` None: nothing is written) or
/// imports its good lines exactly once (`key`): every line a reading would be refused for is
/// listed with its number; the abnormal ones are recorded (the F2 after the check confirmed
/// them) and listed. One transaction: all the good lines or none.
pub async fn import_readings(
    client: &mut Client,
    key: Option<&str>,
    csv: &ReadingCsv,
) -> Result<ImportReport, DbError> {
    let mut report = ImportReport {
        bad: csv.bad.clone(),
        ..ImportReport::default()
    };
    let mut rows: Vec<&ReadingRow> = csv.rows.iter().collect();
    rows.sort_by_key(|row| (row.read_on, row.line));
    let Some(earliest) = rows.first().map(|row| row.read_on) else {
        return Ok(report);
    };
    if let Some(key) = key {
        let keys: Vec<String> = rows
            .iter()
            .map(|row| format!("{key}:{}", row.line))
            .collect();
        let stored = client
            .query(
                "SELECT r.idempotency_key, r.consumption, r.abnormal FROM meter_reading r
                 WHERE r.idempotency_key = ANY ($1)",
                &[&keys],
            )
            .await?;
        if !stored.is_empty() {
            report.good = stored.len();
            report.written = true;
            for row in &stored {
                if row.get::<_, bool>("abnormal") {
                    let line = row.get::<_, &str>("idempotency_key").rsplit(':').next();
                    let line = line.and_then(|line| line.parse().ok()).unwrap_or_default();
                    report.abnormal.push((line, volume(row, "consumption")?));
                }
            }
            report.abnormal.sort_by_key(|(line, _)| *line);
            return Ok(report);
        }
    }
    let numbers: Vec<String> = rows
        .iter()
        .map(|row| row.meter_no.as_str().to_owned())
        .collect();
    let tx = Transaction::new(client);
    tx.batch_execute(&format!("{}; {IMPORT_PLANS}", import_deadlines()))
        .await?;
    let mut batch = Batch::load(&tx, &numbers, earliest).await?;
    for row in rows {
        let Some(meter_id) = batch.meter_id(row.meter_no.as_str()) else {
            report.bad.push(BadLine {
                line: row.line,
                problems: vec![ReadingProblem::UnknownMeter(
                    row.meter_no.as_str().to_owned(),
                )],
            });
            continue;
        };
        let taken = batch.take(&Take {
            line: row.line,
            meter_id,
            read_on: row.read_on,
            electronic: row.electronic,
            mechanical: row.mechanical,
            rollover: row.rollover,
        });
        match taken {
            Ok(taken) => {
                report.good += 1;
                if taken.abnormal {
                    report.abnormal.push((row.line, taken.consumption));
                }
            }
            Err(refusal) => report.bad.push(BadLine {
                line: row.line,
                problems: vec![match refusal {
                    ReadingRefusal::Reading(error) => ReadingProblem::Reading(error),
                    ReadingRefusal::NoPrice => ReadingProblem::NoPrice,
                    ReadingRefusal::CardMeter => ReadingProblem::CardMeter,
                    ReadingRefusal::TooMuchWater => ReadingProblem::TooMuchWater,
                    ReadingRefusal::AlreadyRecorded { electronic, on, by } => {
                        ReadingProblem::AlreadyRecorded { electronic, on, by }
                    }
                    // Never what a batch's take answers (its refusals are the rules').
                    ReadingRefusal::NoCustomer
                    | ReadingRefusal::Abnormal { .. }
                    | ReadingRefusal::PreviousChanged { .. } => {
                        ReadingProblem::UnknownMeter(row.meter_no.as_str().to_owned())
                    }
                }],
            }),
        }
    }
    report.bad.sort_by_key(|bad| bad.line);
    report.abnormal.sort_by_key(|(line, _)| *line);
    if let Some(key) = key {
        report.written = batch.write(&tx, key, ReadingSource::Import).await?;

        if report.written {
            tx.commit().await?;
        }
    }
    Ok(report)
}

/// A system-prepaid customer below the alert threshold of their type's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowBalance {
    pub customer_no: i64,
    pub name: String,
    pub balance: Money,
    pub threshold: Money,
}

/// The low-balance (valve-close) list: system-prepaid customers whose balance is below their
/// scheme's alert threshold, lowest first, at most `limit`.
pub async fn low_balances(
    client: &impl CachingClient,
    limit: i64,
) -> Result<Vec<LowBalance>, DbError> {
    read_all(
        client,
        "SELECT c.customer_no, c.name, a.balance, s.alert_threshold
         FROM account a JOIN customer c ON c.id = a.customer_id
         JOIN customer_type t ON t.id = c.customer_type_id
         JOIN price_scheme s ON s.id = t.price_scheme_id
         WHERE a.kind = 'prepaid' AND c.business_model = 'system_prepaid'
           AND c.status = 'active' AND a.balance < s.alert_threshold
         ORDER BY a.balance, c.customer_no LIMIT $1",
        &[&limit],
        |row| {
            Ok(LowBalance {
                customer_no: row.get("customer_no"),
                name: row.get("name"),
                balance: money(row, "balance")?,
                threshold: money(row, "alert_threshold")?,
            })
        },
    )
    .await
}

/// A reading accepted as abnormal (above 3 × the recent average, after a confirmation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbnormalReading {
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    pub read_on: NaiveDate,
    pub electronic: Volume,
    pub consumption: Volume,
}

/// The abnormal consumptions read from `first` to `last`, both included (not those of a void
/// bill's readings), largest first.
pub async fn abnormal_between(
    client: &impl CachingClient,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<AbnormalReading>, DbError> {
    read_all(
        client,
        "SELECT c.customer_no, c.name, m.meter_no, r.read_on, r.electronic, r.consumption
         FROM meter_reading r JOIN customer c ON c.id = r.customer_id
         JOIN meter m ON m.id = r.meter_id
         LEFT JOIN bill b ON b.id = r.bill_id
         WHERE r.abnormal AND r.read_on BETWEEN $1 AND $2 AND b.status IS DISTINCT FROM 'void'
         ORDER BY r.consumption DESC, c.customer_no, r.read_on",
        &[&first, &last],
        |row| {
            Ok(from_columns!(row => AbnormalReading {
                customer_no, name, meter_no, read_on,
                electronic: volume(row, "electronic")?,
                consumption: volume(row, "consumption")?,
            }))
        },
    )
    .await
}

/// A customer's bills, oldest first, with the account's balance; None if no such customer.
pub async fn bills(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<Bills>, DbError> {
    let Some(head) = client
        .query_opt(
            "SELECT c.id, c.customer_no, c.name, a.balance, a.id AS account_id,
                    customer_owner_seen(c.id) AS owner_seen
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let account_id: i64 = head.get("account_id");
    let bills = read_all(
        client,
        "SELECT id, period_start, period_end, due_date, previous_reading, current_reading,
                volume, amount, vat, status, void_reason, detail::text AS detail
         FROM bill WHERE account_id = $1 ORDER BY period_start, id",
        &[&account_id],
        |row| {
            let detail: &str = row.get("detail");
            Ok(from_columns!(row => Bill {
                id, period_start, period_end, due_date,
                previous_reading: volume(row, "previous_reading")?,
                current_reading: volume(row, "current_reading")?,
                volume: volume(row, "volume")?,
                amount: money(row, "amount")?,
                vat: money(row, "vat")?,
                status, void_reason,
                detail: serde_json::from_str(detail)
                    .map_err(|error| DbError::Inconsistent(format!("bill detail: {error}")))?,
            }))
        },
    )
    .await?;
    Ok(Some(Bills {
        customer_id: head.get("id"),
        customer_no: head.get("customer_no"),
        name: head.get("name"),
        balance: money(&head, "balance")?,
        bills,
        owner_seen: head.get("owner_seen"),
    }))
}

/// Pays `bill_ids` (of one account) from its balance exactly once (`key`), oldest first, on
/// one receipt, if they still come to `total` (what the clerk confirmed).
pub async fn pay_bills(
    client: &impl CachingClient,
    key: &str,
    bill_ids: &[i64],
    total: Money,
) -> Result<PayOutcome, DbError> {
    let paid = client
        .query_one(
            "SELECT bill_pay($1, $2, $3) AS receipt_no",
            &[&key, &bill_ids, &total.to_decimal()],
        )
        .await;
    paid_or_refused(paid)
}

/// [`pay_bills`] for the owner the clerk's screen showed (`owner_seen`, from [`Bills`]):
/// `bill_pay_for` (sql/V110), holding the account, refuses with [`PayOutcome::OwnerChanged`]
/// if another desk transferred the customer since, nothing paid; a key already applied
/// answers its receipt.
pub async fn pay_bills_for(
    client: &impl CachingClient,
    key: &str,
    bill_ids: &[i64],
    total: Money,
    owner_seen: i64,
) -> Result<PayOutcome, DbError> {
    let paid = client
        .query_one(
            "SELECT bill_pay_for($1, $2, $3, $4) AS receipt_no",
            &[&key, &bill_ids, &total.to_decimal(), &owner_seen],
        )
        .await;
    match paid_or_refused(paid)? {
        PayOutcome::OwnerChanged { .. } => {
            let owner = client
                .query_opt(
                    "SELECT c.name FROM customer c JOIN account a ON a.customer_id = c.id
                     JOIN bill b ON b.account_id = a.id WHERE b.id = $1",
                    &[&bill_ids.first()],
                )
                .await?
                .map(|row| row.get("name"))
                .unwrap_or_default();
            Ok(PayOutcome::OwnerChanged { owner })
        }
        outcome => Ok(outcome),
    }
}

fn paid_or_refused(
    paid: Result<tokio_postgres::Row, tokio_postgres::Error>,
) -> Result<PayOutcome, DbError> {
    Ok(
        match accepted_or(
            paid,
            [
                (SqlState::CHECK_VIOLATION, PayOutcome::NotCovered),
                (SqlState::T_R_SERIALIZATION_FAILURE, PayOutcome::Changed),
                (
                    SqlState::from_code("MD410"),
                    PayOutcome::OwnerChanged {
                        owner: String::new(),
                    },
                ),
            ],
        )? {
            Ok(row) => PayOutcome::Paid {
                receipt_no: row.get("receipt_no"),
            },
            Err(refused) => refused,
        },
    )
}

/// Voids an unpaid bill with `reason` (a supervisor).
pub async fn void_bill(
    client: &impl CachingClient,
    bill_id: i64,
    reason: &str,
) -> Result<VoidOutcome, DbError> {
    let voided = client
        .query_one("SELECT * FROM bill_void($1, $2)", &[&bill_id, &reason])
        .await;
    Ok(
        match accepted_or(voided, [(SqlState::CHECK_VIOLATION, ())])? {
            Ok(row) if row.get("voided") => VoidOutcome::Voided,
            Ok(row) => VoidOutcome::VoidedBefore {
                by: row.get("voided_by"),
                reason: row.get("void_reason"),
            },
            Err(()) => VoidOutcome::Paid,
        },
    )
}
