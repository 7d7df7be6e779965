//! The counter day: the operator's shift (open, close, its X/Z figures) and the supervisor's
//! daily reports, all through sql/V21's functions, which decide who sees what.

use crate::db::CachingClient;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use tokio_postgres::error::SqlState;

use super::DbError;
use super::readings::{self, AbnormalReading, LowBalance};
use super::rows::{from_columns, read_all, read_opt};
use crate::domain::money::{Money, Volume};

/// One shift of one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub id: i64,
    pub operator: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Opened by the operator's first payment, not by the clerk.
    pub opened_by_payment: bool,
}

/// Money in and out by one payment method, with the reversals it counts: sql/V21's rule
/// counts a reversal with what it reverses, against whoever reversed, on their day (only the
/// owner reverses a deposit or a refund, in an operator's name); sql/V198 says them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodTakings {
    pub method: String,
    pub takings: Money,
    /// Paid out, as a positive amount.
    pub refunds: Money,
    pub payments: i64,
    pub refund_count: i64,
    /// The deposits reversed: how many, and their money (negative), which `takings` counts.
    pub reversals: i64,
    pub reversed: Money,
    /// The refunds reversed: how many, and their money (negative), which `refunds` counts.
    pub refund_reversals: i64,
    pub refunds_reversed: Money,
}

impl MethodTakings {
    /// The figures of `all` added up, under no method (a total).
    pub fn total<'a>(all: impl IntoIterator<Item = &'a MethodTakings>) -> MethodTakings {
        let mut total = MethodTakings {
            method: String::new(),
            takings: Money::ZERO,
            refunds: Money::ZERO,
            payments: 0,
            refund_count: 0,
            reversals: 0,
            reversed: Money::ZERO,
            refund_reversals: 0,
            refunds_reversed: Money::ZERO,
        };
        all.into_iter().for_each(|one| total.add(one));
        total
    }

    /// Adds `other`'s figures (another day's of the same operator and method) to these.
    pub fn add(&mut self, other: &MethodTakings) {
        self.takings += other.takings;
        self.refunds += other.refunds;
        self.payments += other.payments;
        self.refund_count += other.refund_count;
        self.reversals += other.reversals;
        self.reversed += other.reversed;
        self.refund_reversals += other.refund_reversals;
        self.refunds_reversed += other.refunds_reversed;
    }
}

/// What an X or Z report says: the shift, its money by method, its receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftReport {
    pub shift: Shift,
    pub methods: Vec<MethodTakings>,
    pub receipts: i64,
    pub first_receipt: Option<i64>,
    pub last_receipt: Option<i64>,
}

impl ShiftReport {
    /// Every method's figures added up.
    pub fn total(&self) -> MethodTakings {
        MethodTakings::total(&self.methods)
    }
}

/// Opening a shift: opened, or one was open already (the database allows one per operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Opened(i64),
    AlreadyOpen,
}

const SHIFT_COLUMNS: &str =
    "s.id, o.login AS operator, s.opened_at, s.closed_at, s.opened_by_payment";

/// A row of `shift_takings` or `report_takings`.
fn method_takings(row: &tokio_postgres::Row) -> MethodTakings {
    MethodTakings {
        method: row.get("payment_method_code"),
        ..figures(row)
    }
}

/// The figures of a row of `shift_takings`, `report_takings` or `report_shifts` (a shift's
/// total: under no method).
fn figures(row: &tokio_postgres::Row) -> MethodTakings {
    from_columns!(row => MethodTakings {
        method: String::new(),
        takings, refunds, payments, refund_count, reversals, reversed, refund_reversals,
        refunds_reversed,
    })
}

fn shift_of(row: &tokio_postgres::Row) -> Shift {
    from_columns!(row => Shift { id, operator, opened_at, closed_at, opened_by_payment })
}

/// The session operator's open shift, else their last one; None before their first.
pub async fn own_latest(client: &impl CachingClient) -> Result<Option<Shift>, DbError> {
    read_opt(
        client,
        &format!(
            "SELECT {SHIFT_COLUMNS} FROM shift s JOIN operator o ON o.id = s.operator_id
             WHERE s.operator_id = current_operator_id()
             ORDER BY s.closed_at IS NULL DESC, s.opened_at DESC, s.id DESC LIMIT 1"
        ),
        &[],
        |row| Ok(shift_of(row)),
    )
    .await
}

/// Opens a shift for the session operator.
pub async fn open(client: &impl CachingClient) -> Result<Opened, DbError> {
    match client.query_one("SELECT shift_open() AS id", &[]).await {
        Ok(row) => Ok(Opened::Opened(row.get("id"))),
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Opened::AlreadyOpen),
        Err(error) => Err(error.into()),
    }
}

/// What closing a shift did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// This close closed it (or, sent again after a lost answer, had closed it).
    Now,
    /// Another close had closed it already: another desk of the same operator.
    Before,
    /// Not the operator's shift, or no such shift: nothing was closed.
    Not,
}

/// Closes shift `shift_id` of the session operator with the close's idempotency `key`: sent
/// again with the same key it closes nothing else and answers as the first (sql/V84).
pub async fn close(
    client: &impl CachingClient,
    shift_id: i64,
    key: &str,
) -> Result<Closed, DbError> {
    let outcome: String = client
        .query_one("SELECT shift_close($1, $2) AS outcome", &[&shift_id, &key])
        .await?
        .get("outcome");
    match outcome.as_str() {
        "closed" => Ok(Closed::Now),
        "closed_before" => Ok(Closed::Before),
        "not_closed" => Ok(Closed::Not),
        other => Err(DbError::Inconsistent(format!(
            "shift_close answered {other}"
        ))),
    }
}

/// The figures of shift `shift_id`: refused by the database (insufficient_privilege) for
/// another operator's shift without `reports.view`. None: no such shift.
pub async fn report(
    client: &impl CachingClient,
    shift_id: i64,
) -> Result<Option<ShiftReport>, DbError> {
    let receipts = client
        .query_one(
            "SELECT receipts, first_no, last_no FROM shift_receipts($1)",
            &[&shift_id],
        )
        .await?;
    let Some(shift) = client
        .query_opt(
            &format!(
                "SELECT {SHIFT_COLUMNS} FROM shift s JOIN operator o ON o.id = s.operator_id
                 WHERE s.id = $1"
            ),
            &[&shift_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let methods = read_all(
        client,
        "SELECT * FROM shift_takings($1)",
        &[&shift_id],
        |row| Ok(method_takings(row)),
    )
    .await?;
    Ok(Some(ShiftReport {
        shift: shift_of(&shift),
        methods,
        receipts: receipts.get("receipts"),
        first_receipt: receipts.get("first_no"),
        last_receipt: receipts.get("last_no"),
    }))
}

/// The days a report covers, in the desk's zone, both included: the instants from the first
/// day's start to the start of the day after the last, and the zone's offset east of UTC in
/// seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub offset_secs: i32,
}

impl Window {
    pub fn of_day(day: NaiveDate, zone: FixedOffset) -> Window {
        Window::of_days(day, day, zone)
    }

    pub fn of_days(first: NaiveDate, last: NaiveDate, zone: FixedOffset) -> Window {
        let start = |day: NaiveDate| {
            day.and_time(NaiveTime::MIN)
                .and_local_timezone(zone)
                .single()
                .map_or_else(Utc::now, |at| at.with_timezone(&Utc))
        };
        Window {
            first,
            last,
            from: start(first),
            to: start(last + chrono::Days::new(1)),
            offset_secs: zone.local_minus_utc(),
        }
    }

    pub fn is_one_day(&self) -> bool {
        self.first == self.last
    }
}

/// Takings by day, operator and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakingsRow {
    pub day: NaiveDate,
    pub operator: String,
    /// That day's by this method, with the reversals this operator made (sql/V171, V177).
    pub takings: MethodTakings,
}

/// One shift of the day with its totals (the supervisor's view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftRow {
    pub shift_id: i64,
    pub operator: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub receipts: i64,
    /// The shift's X/Z total ([`ShiftReport::total`]), its reversals with it (sql/V210).
    pub figures: MethodTakings,
}

/// Water sold by price scheme and nature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaterRow {
    pub scheme: String,
    pub nature: String,
    pub volume: Volume,
    pub amount: Money,
}

/// What was owed at the end of the report's day in one age bucket (`0-30`, `31-90`, `90+` days
/// past due, or since issued without a due date; a card debt since it was found): the unpaid
/// bills and the card debts (sql/V194), the customers owing either, and the sum of both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrearsAge {
    pub age: String,
    pub bills: i64,
    pub card_debts: i64,
    pub customers: i64,
    pub amount: Money,
}

/// A report's rows, or the database's refusal (no `reports.view`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Takings(Vec<TakingsRow>),
    Shifts(Vec<ShiftRow>),
    Water(Vec<WaterRow>),
    ArrearsByAge(Vec<ArrearsAge>),
    Abnormal(Vec<AbnormalReading>),
    LowBalances(Vec<LowBalance>),
    NotPermitted,
}

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    Takings,
    Shifts,
    Water,
    ArrearsByAge,
    /// The abnormal consumptions read on the window's days.
    Abnormal,
    /// The low-balance (valve-close) list as it stands when read.
    LowBalances,
}

impl ReportKind {
    pub const ALL: [ReportKind; 6] = [
        ReportKind::Takings,
        ReportKind::Shifts,
        ReportKind::Water,
        ReportKind::ArrearsByAge,
        ReportKind::Abnormal,
        ReportKind::LowBalances,
    ];

    /// The report's name in files and the catalogue.
    pub fn code(self) -> &'static str {
        match self {
            ReportKind::Takings => "takings",
            ReportKind::Shifts => "shifts",
            ReportKind::Water => "water",
            ReportKind::ArrearsByAge => "arrears",
            ReportKind::Abnormal => "abnormal",
            ReportKind::LowBalances => "low-balances",
        }
    }
}

/// Reads report `kind` of `window`'s days; the arrears are those owed at the end of its last
/// day (sql/V90, V194).
pub async fn report_of(
    client: &impl CachingClient,
    kind: ReportKind,
    window: &Window,
) -> Result<Report, DbError> {
    match read_report(client, kind, window).await {
        Err(DbError::Query(error)) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
            Ok(Report::NotPermitted)
        }
        other => other,
    }
}

/// The lists of the readings' half (db::readings), whose rows any operator reads: as reports
/// the database asks for `reports.view`, as it does for the others.
async fn listed(
    client: &impl CachingClient,
    kind: ReportKind,
    window: &Window,
) -> Result<Report, DbError> {
    client
        .execute("SELECT md_require('reports.view')", &[])
        .await?;
    Ok(match kind {
        ReportKind::LowBalances => {
            Report::LowBalances(readings::low_balances(client, i64::MAX).await?)
        }
        _ => Report::Abnormal(readings::abnormal_between(client, window.first, window.last).await?),
    })
}

async fn read_report(
    client: &impl CachingClient,
    kind: ReportKind,
    window: &Window,
) -> Result<Report, DbError> {
    let (from, to, offset) = (&window.from, &window.to, &window.offset_secs);
    Ok(match kind {
        ReportKind::Abnormal | ReportKind::LowBalances => listed(client, kind, window).await?,
        ReportKind::Takings => Report::Takings(
            read_all(
                client,
                "SELECT * FROM report_takings($1, $2, $3)",
                &[from, to, offset],
                |row| {
                    Ok(from_columns!(row => TakingsRow {
                        day, operator, takings: method_takings(row),
                    }))
                },
            )
            .await?,
        ),
        ReportKind::Shifts => Report::Shifts(
            read_all(
                client,
                "SELECT * FROM report_shifts($1, $2)",
                &[from, to],
                |row| {
                    Ok(from_columns!(row => ShiftRow {
                        shift_id, operator, opened_at, closed_at, receipts,
                        figures: figures(row),
                    }))
                },
            )
            .await?,
        ),
        ReportKind::Water => Report::Water(
            read_all(
                client,
                "SELECT * FROM report_water_sold($1, $2)",
                &[from, to],
                |row| Ok(from_columns!(row => WaterRow { scheme, nature, volume, amount })),
            )
            .await?,
        ),
        ReportKind::ArrearsByAge => Report::ArrearsByAge(
            read_all(
                client,
                "SELECT * FROM report_arrears_by_age($1, $2)",
                &[&window.last, offset],
                |row| {
                    Ok(from_columns!(row => ArrearsAge {
                        age, bills, card_debts, customers, amount
                    }))
                },
            )
            .await?,
        ),
    })
}
