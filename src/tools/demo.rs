//! Demo data: a realistic utility with as many customers as asked for, loaded with COPY on
//! both cores (`db::bulk_load`: a load that fails or is killed leaves nothing behind). Everything is generated deterministically from [`SEED`] and the load
//! time, except the operators' passwords, which are fresh and shown once.

mod copy;
pub(in crate::tools) mod names;
mod queue;
mod story;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use tokio_postgres::{Client, Transaction};

use crate::domain::billing::SettlementCycles;
use crate::domain::customer_number::{CustomerNumber, SEQUENCE_VALUES};
use crate::domain::password::generate_password;

use crate::config::Config;
use crate::db::bulk_load::{Abandoned, Definition, Filled, Kind};
use crate::db::customers::fragment_keys;
use crate::db::embedded::Cluster;
use crate::db::operators::{self, NewOperator};
use crate::db::{self, Pool};
use crate::startup;
use copy::copy_in;
use queue::Queue;
use story::{BusinessModel, Catalogue, CustomerTypeInfo, History, Nature, Profile};

/// The seed of every generated row.
pub const SEED: u64 = 0x6d65_7465_7264_6573;

/// The tables filled in bulk; their keys and indexes are built after the data is in.
pub const BULK_TABLES: &[&str] = &[
    "meter",
    "customer",
    // Filled by the customers' insert trigger (sql/V7), a few rows per customer.
    "customer_name_char",
    "customer_owner_history",
    "account",
    "receipt",
    "bill",
    "ledger_transaction",
    "meter_reading",
    "card",
    "card_operation",
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the database already has {0} customers: demo data is only loaded into an empty database"
    )]
    NotEmpty(i64),
    #[error("at most {max} customers fit the customer number range, {requested} were asked for")]
    TooMany { requested: u64, max: u64 },
    #[error(
        "a demo data load is under way on this database (another meterdesk demo-data): wait \
         for it to end"
    )]
    InProgress,
    #[error("database: {}", describe(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error("database: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(
        "the reference data got other ids than those the rows were written with (did someone \
         add a meter or customer type meanwhile?); the load is undone"
    )]
    ReferenceIdsMoved,
    #[error(
        "the load failed and undoing it failed too ({}): the next start of meterdesk, \
         `meterdesk init` or `meterdesk demo-data` undoes it",
        describe(.0)
    )]
    NotUndone(tokio_postgres::Error),
    #[error(
        "the load failed, and one of its server processes was still at work 30 s later: the \
         next start of meterdesk, `meterdesk init` or `meterdesk demo-data` undoes the load"
    )]
    UndoWaited,
    #[error("a demo price scheme is wrong: {0}")]
    Scheme(String),
    #[error("a generator thread failed: {0}")]
    Thread(#[from] tokio::task::JoinError),
    #[error(
        "the demo data is loaded, but vacuuming it failed (autovacuum will do it later; until \
         then searches read the table for what the indexes hold): {}",
        describe(.0)
    )]
    Vacuum(tokio_postgres::Error),
}

/// The server's own words: tokio-postgres's Display says only "db error".
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

/// A step of the load, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    ReferenceData,
    Meters,
    Customers,
    NameCharacters,
    OwnerHistory,
    Accounts,
    Receipts,
    Bills,
    Ledger,
    Readings,
    Cards,
    CardOperations,
    KeysAndIndexes,
    Statistics,
    ForeignKeys,
    Commit,
    Vacuum,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReferenceData => "reference data",
            Self::Meters => "meters",
            Self::Customers => "customers",
            Self::NameCharacters => "name characters",
            Self::OwnerHistory => "owner history",
            Self::Accounts => "accounts",
            Self::Receipts => "receipts",
            Self::Bills => "bills",
            Self::Ledger => "ledger transactions",
            Self::Readings => "meter readings",
            Self::Cards => "cards",
            Self::CardOperations => "card operations",
            Self::KeysAndIndexes => "keys and indexes",
            Self::Statistics => "planner statistics",
            Self::ForeignKeys => "foreign keys",
            Self::Commit => "last transaction",
            Self::Vacuum => "vacuum",
        })
    }
}

impl Phase {
    /// Every phase, in the order of the load.
    const ALL: [Phase; 17] = [
        Self::ReferenceData,
        Self::Meters,
        Self::Customers,
        Self::NameCharacters,
        Self::OwnerHistory,
        Self::Accounts,
        Self::Receipts,
        Self::Bills,
        Self::Ledger,
        Self::Readings,
        Self::Cards,
        Self::CardOperations,
        Self::KeysAndIndexes,
        Self::Statistics,
        Self::ForeignKeys,
        Self::Commit,
        Self::Vacuum,
    ];

    /// The phase's share of a whole load's time, per mille, as measured at 1 M customers with
    /// the owner's no-op row triggers off (the time of each phase grows with the customers,
    /// the keys' and indexes' a little faster, so the shares roughly hold at other sizes): what
    /// the estimate of the time left weighs the phases by.
    fn share(self) -> u32 {
        match self {
            Self::ReferenceData => 0,
            Self::Meters => 26,
            Self::Customers => 110,
            Self::NameCharacters => 40,
            Self::OwnerHistory => 1,
            Self::Accounts => 12,
            Self::Receipts => 19,
            Self::Bills => 23,
            Self::Ledger => 125,
            Self::Readings => 36,
            Self::Cards => 14,
            Self::CardOperations => 36,
            Self::KeysAndIndexes => 351,
            Self::Statistics => 124,
            // Those between loaded tables; the others (to the reference data, about 3 in 10
            // of the checking) are the last transaction's.
            Self::ForeignKeys => 70,
            Self::Commit => 28,
            Self::Vacuum => 6,
        }
    }
}

/// Reported as the load goes: the phase, the rows written in it so far, and the share of the
/// phase done, 0 to 1 (of the customers a table's phase goes through, of the statements that
/// build keys and indexes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub rows: u64,
    pub of_phase: f64,
    /// The share of the whole load done, 0 to 1: each phase's share done (they overlap: the
    /// connections work on several at once), weighed by [`Phase::share`].
    pub done: f64,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} rows", self.phase, self.rows)
    }
}

/// The line a load keeps rewriting on the terminal: the phase, how much of the whole load is
/// done and about how long the rest takes.
pub struct ProgressLine {
    started: Instant,
}

impl ProgressLine {
    pub fn starting_now() -> Self {
        ProgressLine {
            started: Instant::now(),
        }
    }

    pub fn show(&self, progress: Progress) {
        let done = progress.done;
        let elapsed = self.started.elapsed().as_secs_f64();
        // Too early, the estimate is noise.
        let left = if done >= 0.01 {
            format!(", about {} left", minutes(elapsed * (1.0 - done) / done))
        } else {
            String::new()
        };
        eprint!(
            "\r{progress} — {:.0} % done in {}{left}\x1b[K",
            done * 100.0,
            minutes(elapsed)
        );
    }
}

/// Seconds as minutes and seconds, e.g. 12:05.
fn minutes(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// A generated operator; the password exists nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOperator {
    pub login: String,
    pub full_name: String,
    pub role: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseTiming {
    pub phase: Phase,
    pub rows: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub customers: u64,
    pub operators: Vec<DemoOperator>,
    pub phases: Vec<PhaseTiming>,
    pub elapsed: Duration,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Demo data loaded: {} customers in {:.1} s.",
            self.customers,
            self.elapsed.as_secs_f64()
        )?;
        for phase in &self.phases {
            writeln!(
                f,
                "  {:<32} {:>11} rows {:>8.1} s",
                phase.phase.to_string(),
                phase.rows,
                phase.elapsed.as_secs_f64()
            )?;
        }
        writeln!(f, "Operators (the passwords are shown only this once):")?;
        for operator in &self.operators {
            writeln!(
                f,
                "  {:<12} {:<14} {}",
                operator.login, operator.role, operator.password
            )?;
        }
        Ok(())
    }
}

/// True when at least one customer exists (demo data is then refused).
pub async fn has_customers(client: &Client) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one("SELECT EXISTS (SELECT 1 FROM customer) AS any", &[])
        .await?;
    Ok(row.get("any"))
}

/// Connections the load works on at once: the machine's two cores, each a server backend
/// building what the other is not.
const CONNECTIONS: usize = 2;

/// Settings of the load's connections for the whole load: no statement deadline; a server
/// backend whose loader is gone (killed) notices within a second and stops, instead of building
/// a 10 M-row index for no one; index builds sort in memory.
const LOAD_SETTINGS: &str = "SET statement_timeout = 0;
     SET client_connection_check_interval = '1s';
     SET maintenance_work_mem = '1GB'";

/// Fills an empty database with `customers` customers and everything around them, on
/// [`CONNECTIONS`] connections of `pool` at once, table by table in transactions of their own
/// (see `db::bulk_load`): the keys and indexes dropped, each table copied, its keys and indexes
/// built and its statistics gathered as soon as it is in, the foreign keys between loaded
/// tables added and checked as soon as both are done, whichever connection is free; then in one
/// last transaction the reference data, the foreign keys to it (each checked by a join) and the
/// sequences moved past the rows. On any error the load is undone: every table as before,
/// every definition back, not even a used-up sequence value (the reference rows' ids apart:
/// see docs/decisions.md); a load that is killed is undone by the next start. Then vacuums the
/// loaded tables; only that can fail after the data is in ([`DemoError::Vacuum`]).
pub async fn load(
    pool: &Pool,
    customers: u64,
    progress: impl FnMut(Progress) + Send,
) -> Result<DemoSummary, DemoError> {
    let started = Instant::now();
    let tracker = Tracker::new(progress);
    let mut first = pool.get().await?;
    let mut second = pool.get().await?;
    for client in [&first, &second] {
        client.batch_execute(LOAD_SETTINGS).await?;
    }
    match db::bulk_load::finish_abandoned(&mut first).await? {
        Abandoned::StillLoading => return Err(DemoError::InProgress),
        Abandoned::Nothing | Abandoned::Undone => {}
    }
    if !db::bulk_load::hold(&**first).await? {
        return Err(DemoError::InProgress);
    }
    db::bulk_load::hold_other(&**second).await?;
    let loaded = async {
        let plan = begin(&mut first, customers, &tracker).await?;
        let loaded = fill(&mut first, &mut second, &plan, &tracker).await;
        if loaded.is_err() {
            undo(&mut first, &mut second).await?;
        }
        loaded
    }
    .await;
    // The locks are the connections' until they close: a pooled connection must not keep them.
    let released = match db::bulk_load::release_other(&**second).await {
        Ok(()) => db::bulk_load::release(&**first).await,
        Err(error) => Err(error),
    };
    let operators = loaded?;
    released?;

    // Freshly loaded pages are in no table's visibility map until a VACUUM: every index-only
    // scan (the name order's walks, customer_name_char's ranges) then reads the table too. At
    // 10 M before it, an address "road + no." took 100 ms at p95 and a rare name 35 ms; after
    // it (22 s for every bulk table) 26 and 6 ms. After the commit (VACUUM runs in no
    // transaction), so a failure here leaves the data loaded and says so.
    let vacuums = Queue::new(
        BULK_TABLES
            .iter()
            .map(|table| {
                let vacuum = format!("VACUUM {table}");
                (Work::Statement(Phase::Vacuum, vacuum), Vec::new())
            })
            .collect(),
    );
    let (one, two) = tokio::join!(
        work_through(&mut first, &vacuums, None, &tracker),
        work_through(&mut second, &vacuums, None, &tracker),
    );
    one.and(two).map_err(|error| match error {
        DemoError::Database(error) => DemoError::Vacuum(error),
        other => other,
    })?;
    for client in [&first, &second] {
        client.batch_execute("RESET ALL").await?;
    }
    Ok(DemoSummary {
        customers,
        operators,
        phases: tracker.timings(),
        elapsed: started.elapsed(),
    })
}

/// What the load's first transaction decided, for the rest of it.
struct Plan {
    ids: Ids,
    catalogue: Arc<Catalogue>,
    /// The bulk tables that held no row: truncated where they are filled (so COPY may freeze
    /// their rows and, with `wal_level = minimal`, write them without WAL).
    fresh: Vec<&'static str>,
    definitions: Vec<Definition>,
    /// Each bulk table's ANALYZE, as (table, statements): `db::bulk_load::statistics_statements`.
    statistics: Vec<(String, String)>,
    /// The server processes of the load's connections.
    backends: Vec<i32>,
}

/// The first transaction, committed: refuses a database with customers or too few numbers
/// left, finds the reference data's ids (inserted for good only at the end), and writes the
/// marker of a load in progress with the definitions it drops.
async fn begin(
    client: &mut Client,
    customers: u64,
    tracker: &Tracker<impl FnMut(Progress)>,
) -> Result<Plan, DemoError> {
    tracker.start(Phase::ReferenceData);
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        BULK_TABLES.join(", ")
    ))
    .await?;
    let existing: i64 = tx
        .query_one("SELECT count(*) AS customers FROM customer", &[])
        .await?
        .get("customers");
    if existing > 0 {
        return Err(DemoError::NotEmpty(existing));
    }
    // Rows take the values their sequences would give next, read, not taken: a sequence
    // taken from is not given back by a rollback. The sequences are moved past the rows in the
    // load's last transaction (`SequenceMoves`).
    let ids = Ids {
        customers,
        customer: next_value(&tx, "customer_id_seq").await?,
        serial: next_value(&tx, "customer_serial").await?,
        meter: next_value(&tx, "meter_id_seq").await?,
        owner_history: next_value(&tx, "customer_owner_history_id_seq").await?,
        account: next_value(&tx, "account_id_seq").await?,
        receipt: next_value(&tx, "receipt_no_seq").await?,
        bill: next_value(&tx, "bill_id_seq").await?,
        ledger: next_value(&tx, "ledger_transaction_id_seq").await?,
        reading: next_value(&tx, "meter_reading_id_seq").await?,
        card_id: next_value(&tx, "card_id_seq").await?,
        card_no: next_value(&tx, "card_no_seq").await?,
        card_op: next_value(&tx, "card_operation_id_seq").await?,
    };
    let numbers_left = (i64::from(*SEQUENCE_VALUES.end()) + 1 - ids.serial).max(0) as u64;
    if customers > numbers_left {
        return Err(DemoError::TooMany {
            requested: customers,
            max: numbers_left,
        });
    }
    let catalogue = Arc::new(reference_ids(&tx).await?);
    let mut fresh = Vec::new();
    let mut filled = Vec::new();
    for table in BULK_TABLES {
        let empty: bool = tx
            .query_one(
                &format!("SELECT NOT EXISTS (SELECT 1 FROM {table}) AS empty"),
                &[],
            )
            .await?
            .get("empty");
        if empty {
            fresh.push(*table);
            filled.push(Filled::Empty((*table).to_owned()));
        } else {
            // Meters in stock (nothing else exists without a customer): the loaded ones follow.
            let (column, first) = ids.first_loaded(table);
            filled.push(Filled::RowsFrom {
                table: (*table).to_owned(),
                column,
                first,
            });
        }
    }
    let definitions = db::bulk_load::definitions(&tx, BULK_TABLES).await?;
    let statistics = db::bulk_load::statistics_statements(&tx, BULK_TABLES).await?;
    db::bulk_load::begin(&tx, &filled, &definitions).await?;
    tx.commit().await?;
    tracker.finish(Phase::ReferenceData, OPERATORS.len() as u64);
    Ok(Plan {
        ids,
        catalogue,
        fresh,
        definitions,
        statistics,
        backends: Vec::new(),
    })
}

/// The reference data's ids as the load's last transaction will give them: inserted and rolled
/// back, and their sequences set back to where they were (a rollback does not).
async fn reference_ids(tx: &Transaction<'_>) -> Result<Catalogue, DemoError> {
    let before = sequence_positions(tx).await?;
    tx.batch_execute("SAVEPOINT reference_ids").await?;
    let (catalogue, _) = reference_data(tx).await?;
    tx.batch_execute("ROLLBACK TO SAVEPOINT reference_ids")
        .await?;
    for (before, after) in before.iter().zip(sequence_positions(tx).await?) {
        if *before != after {
            tx.execute(
                "SELECT setval($1::text::regclass, $2, $3)",
                &[&before.0, &before.1, &before.2],
            )
            .await?;
        }
    }
    Ok(catalogue)
}

/// Where every sequence stands: (name, last value, whether it was taken).
async fn sequence_positions(
    tx: &Transaction<'_>,
) -> Result<Vec<(String, i64, bool)>, tokio_postgres::Error> {
    let mut positions = Vec::new();
    for row in tx
        .query(
            "SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences ORDER BY 1",
            &[],
        )
        .await?
    {
        let name: String = row.get("name");
        let at = tx
            .query_one(&format!("SELECT last_value, is_called FROM {name}"), &[])
            .await?;
        positions.push((name, at.get("last_value"), at.get("is_called")));
    }
    Ok(positions)
}

/// One task of the load, done in its own transaction by whichever connection is free.
enum Work {
    /// A table's rows (its phase).
    Copy(Phase),
    /// A statement of `Phase`: an index, a table's keys attached to theirs, an ANALYZE, a
    /// foreign key added or checked, a VACUUM.
    Statement(Phase, String),
}

/// The bulk tables in the order their work is preferred: the longest chain of copy, keys,
/// indexes and statistics first (the customers', with six GIN indexes), so that the other
/// connection fills the rest meanwhile.
const PREFERRED: [(&str, Phase); 11] = [
    ("customer", Phase::Customers),
    ("customer_name_char", Phase::NameCharacters),
    ("ledger_transaction", Phase::Ledger),
    ("meter_reading", Phase::Readings),
    ("meter", Phase::Meters),
    ("card_operation", Phase::CardOperations),
    ("bill", Phase::Bills),
    ("receipt", Phase::Receipts),
    ("card", Phase::Cards),
    ("account", Phase::Accounts),
    ("customer_owner_history", Phase::OwnerHistory),
];

/// Copies, indexes and analyzes every bulk table on both connections, then commits the rest in
/// one transaction on `first`. Returns the operators.
async fn fill(
    first: &mut Client,
    second: &mut Client,
    plan: &Plan,
    tracker: &Tracker<impl FnMut(Progress) + Send>,
) -> Result<Vec<DemoOperator>, DemoError> {
    let mut backends = Vec::new();
    for client in [&*first, &*second] {
        backends.push(
            client
                .query_one("SELECT pg_backend_pid() AS pid", &[])
                .await?
                .get::<_, i32>("pid"),
        );
    }
    let plan = Plan {
        backends,
        ids: plan.ids,
        catalogue: Arc::clone(&plan.catalogue),
        fresh: plan.fresh.clone(),
        definitions: plan.definitions.clone(),
        statistics: plan.statistics.clone(),
    };
    let tasks = tasks(&plan.definitions, &plan.statistics);
    for phase in [Phase::KeysAndIndexes, Phase::Statistics, Phase::ForeignKeys] {
        let steps = tasks
            .iter()
            .filter(|(work, _)| matches!(work, Work::Statement(of, _) if *of == phase))
            .count();
        tracker.set_steps(phase, steps);
    }
    tracker.set_steps(Phase::Vacuum, BULK_TABLES.len());
    let queue = Queue::new(tasks);
    let (one, two) = tokio::join!(
        work_through(first, &queue, Some(&plan), tracker),
        work_through(second, &queue, Some(&plan), tracker),
    );
    one.and(two)?;

    tracker.start(Phase::Commit);
    let tx = first.transaction().await?;
    let (catalogue, operators) = reference_data(&tx).await?;
    if catalogue.ids() != plan.catalogue.ids() {
        return Err(DemoError::ReferenceIdsMoved);
    }
    // The foreign keys to the reference data (and from the tables the load does not fill):
    // checked here, where the reference rows are inserted.
    for foreign_key in plan
        .definitions
        .iter()
        .filter(|definition| definition.kind == Kind::ForeignKey && !between_loaded(definition))
    {
        tx.batch_execute(&foreign_key.statement()).await?;
    }
    shifts_of_the_payments(&tx).await?;
    // sql/V245: the water each card purchase counts, which the ledger's and the card
    // operations' row triggers keep (off while the rows stream in): one pass over the ledger.
    tx.batch_execute("SELECT card_water_from_the_books()")
        .await?;
    tx.execute(
        "INSERT INTO audit_log (action, entity, detail)
         VALUES ('demo.load', 'customer', jsonb_build_object('customers', $1::bigint))",
        &[&(plan.ids.customers as i64)],
    )
    .await?;
    db::bulk_load::end(&tx).await?;
    // Last before the commit: only a failing commit can leave the sequences moved.
    tracker.sequence_moves(plan.ids).apply(&tx).await?;
    tx.commit().await?;
    tracker.finish(Phase::Commit, 0);
    Ok(operators)
}

/// The shifts the loaded payments were taken in, as sql/V21's trigger opens them for an
/// operator's money (a COPY by the owner opens none): each operator's shift of a day opened
/// at their first ledger row of that day, with the desk's day (this machine's zone, which the
/// desk's `App::zone` is too), and closed at the day's end, or now for today's, so that the
/// demo's clerk starts the next payment in a shift of their own. One pass over the ledger, a
/// few thousand rows written, in the load's last transaction.
async fn shifts_of_the_payments(tx: &Transaction<'_>) -> Result<(), DemoError> {
    let zone_seconds = crate::db::zone::desk_zone().local_minus_utc();
    tx.execute(
        "WITH zone AS (SELECT make_interval(secs => $1::integer) AS east),
              money_day AS (
                  SELECT t.operator_id, (t.created_at AT TIME ZONE zone.east)::date AS day,
                         min(t.created_at) AS first_money
                  FROM ledger_transaction t, zone
                  WHERE t.operator_id IS NOT NULL
                  GROUP BY 1, 2)
         INSERT INTO shift (operator_id, opened_at, closed_at, opened_by_payment)
         SELECT d.operator_id, d.first_money,
                least((d.day + 1)::timestamp AT TIME ZONE zone.east, now()), true
         FROM money_day d, zone
         ORDER BY d.first_money",
        &[&zone_seconds],
    )
    .await?;
    Ok(())
}

/// The load's tasks, each with those it waits for, in the order they are preferred. Per table
/// (in [`PREFERRED`]'s order): its COPY; its keys' and other indexes, GIN first (single-process
/// builds; a btree build has parallel workers of its own), side by side; its keys attached to
/// their indexes; its ANALYZE. Then the foreign keys between loaded tables, each added unchecked
/// once both its tables are done, and checked.
fn tasks(definitions: &[Definition], statistics: &[(String, String)]) -> Vec<(Work, Vec<usize>)> {
    let mut tasks: Vec<(Work, Vec<usize>)> = Vec::new();
    let mut analyzed = Vec::new();
    for (table, phase) in PREFERRED {
        let copied = tasks.len();
        tasks.push((Work::Copy(phase), Vec::new()));
        let of_table: Vec<&Definition> = definitions
            .iter()
            .filter(|definition| definition.table == table)
            .collect();
        let mut indexes: Vec<&str> = of_table
            .iter()
            .filter_map(|definition| definition.index_statement())
            .collect();
        indexes.sort_by_key(|index| !index.contains(" USING gin "));
        let mut built = vec![copied];
        for index in indexes {
            built.push(tasks.len());
            tasks.push((
                Work::Statement(Phase::KeysAndIndexes, index.to_owned()),
                vec![copied],
            ));
        }
        // Attaching a key locks its table against every other statement: once, at the end.
        let keys: Vec<String> = of_table
            .iter()
            .filter_map(|definition| definition.attach_statement())
            .collect();
        if !keys.is_empty() {
            tasks.push((
                Work::Statement(Phase::KeysAndIndexes, keys.join(";\n")),
                built,
            ));
            built = vec![tasks.len() - 1];
        }
        // After the indexes: an ANALYZE gathers the statistics of an index's expression (the
        // phone's digits, the characters of names and addresses) only when it finds the
        // index. Without them the planner guesses that a phone prefix matches thousands of
        // customers and walks the customer numbers in order, computing every phone's digits
        // (2 s at 1 M). Before the foreign keys: they are checked by joins the planner must
        // plan well.
        let analyze = statistics.iter().find(|(of, _)| of == table).map_or_else(
            || format!("ANALYZE {table}"),
            |(_, statements)| statements.clone(),
        );
        analyzed.push((table, tasks.len()));
        tasks.push((Work::Statement(Phase::Statistics, analyze), built));
    }
    let analyze_of = |table: &str| {
        analyzed
            .iter()
            .find(|(of, _)| *of == table)
            .map(|(_, task)| *task)
    };
    // Adding a foreign key locks both its tables against all but reads for a moment; checking
    // it locks its own table against other checks and schema changes, and the table it refers
    // to against schema changes only. So each check waits for every addition that touches its
    // table, and for the check before it on the same table; checks of different tables run side
    // by side, even when they refer to the same one.
    let foreign_keys: Vec<(&Definition, usize, usize)> = definitions
        .iter()
        .filter(|definition| definition.kind == Kind::ForeignKey && between_loaded(definition))
        .filter_map(|definition| {
            let referenced = definition.references.as_deref()?;
            Some((
                definition,
                analyze_of(&definition.table)?,
                analyze_of(referenced)?,
            ))
        })
        .collect();
    let mut added = Vec::new();
    for (foreign_key, own, referenced) in &foreign_keys {
        added.push((*foreign_key, tasks.len()));
        tasks.push((
            Work::Statement(Phase::ForeignKeys, foreign_key.unchecked_statement()),
            vec![*own, *referenced],
        ));
    }
    let mut last_check: Vec<(&str, usize)> = Vec::new();
    for (foreign_key, _, _) in &foreign_keys {
        let table = foreign_key.table.as_str();
        let mut waits: Vec<usize> = added
            .iter()
            .filter(|(other, _)| other.table == table || other.references.as_deref() == Some(table))
            .map(|(_, task)| *task)
            .collect();
        if let Some((_, before)) = last_check.iter().find(|(of, _)| *of == table) {
            waits.push(*before);
        }
        last_check.retain(|(of, _)| *of != table);
        last_check.push((table, tasks.len()));
        tasks.push((
            Work::Statement(Phase::ForeignKeys, foreign_key.validate_statement()),
            waits,
        ));
    }
    tasks
}

/// A foreign key from a bulk table to a bulk table: added as soon as both are loaded (the
/// others refer to the reference data, inserted in the load's last transaction, or come from
/// tables the load does not fill).
fn between_loaded(foreign_key: &Definition) -> bool {
    BULK_TABLES.contains(&foreign_key.table.as_str())
        && foreign_key
            .references
            .as_deref()
            .is_some_and(|table| BULK_TABLES.contains(&table))
}

/// Undoes a failed load from its marker, on whichever connection still works. The other
/// connection's statement has ended by now; if that connection broke, its server process may
/// still be finishing it (and stops within a second, `LOAD_SETTINGS`): the undoing waits.
async fn undo(first: &mut Client, second: &mut Client) -> Result<(), DemoError> {
    let _ = db::bulk_load::release_other(&*second).await;
    for _ in 0..UNDO_WAITS {
        let undone = match db::bulk_load::finish_abandoned(first).await {
            Ok(undone) => Ok(undone),
            Err(_) => db::bulk_load::finish_abandoned(second).await,
        };
        match undone {
            Ok(Abandoned::StillLoading) => tokio::time::sleep(UNDO_WAIT).await,
            Ok(Abandoned::Nothing | Abandoned::Undone) => return Ok(()),
            Err(error) => return Err(DemoError::NotUndone(error)),
        }
    }
    Err(DemoError::UndoWaited)
}

/// How long a failed load's undoing waits for its other connection's server process.
const UNDO_WAIT: Duration = Duration::from_millis(200);
const UNDO_WAITS: u32 = 150;

/// Takes the queue's tasks one by one until none is left. On the first failure the other
/// connection's statement is cancelled (`plan`'s backends), so that the undoing need not wait
/// for it; that connection's error is then no error of its own.
async fn work_through(
    client: &mut Client,
    queue: &Queue<Work>,
    plan: Option<&Plan>,
    tracker: &Tracker<impl FnMut(Progress) + Send>,
) -> Result<(), DemoError> {
    while let Some((task, work)) = queue.take().await {
        if let Err(error) = perform(client, work, plan, tracker).await {
            if !queue.fail() {
                return Ok(());
            }
            if let Some(plan) = plan {
                let _ = client
                    .execute(
                        "SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid
                         WHERE pid <> pg_backend_pid()",
                        &[&plan.backends],
                    )
                    .await;
            }
            return Err(error);
        }
        queue.done(task);
    }
    Ok(())
}

async fn perform(
    client: &mut Client,
    work: &Work,
    plan: Option<&Plan>,
    tracker: &Tracker<impl FnMut(Progress) + Send>,
) -> Result<(), DemoError> {
    let (phase, statement) = match (work, plan) {
        (Work::Copy(phase), Some(plan)) => {
            tracker.start(*phase);
            let table = table_of(*phase);
            let fresh = plan.fresh.contains(&table);
            let tx = client.transaction().await?;
            let transition_triggers = db::bulk_load::set_aside(
                &tx,
                table,
                &triggers_of(TRANSITION_TRIGGERS_DROPPED, table).collect::<Vec<_>>(),
            )
            .await?;
            let mut setup = row_triggers(table, "DISABLE");
            if fresh {
                setup += &truncated(table);
            }
            setup += &transition_triggers.drop;
            tx.batch_execute(&setup).await?;
            let rows = copy_table(&tx, &plan.catalogue, plan.ids, *phase, fresh, tracker).await?;
            tx.batch_execute(&(row_triggers(table, "ENABLE") + &transition_triggers.create))
                .await?;
            tx.commit().await?;
            tracker.finish(*phase, rows);
            return Ok(());
        }
        (Work::Statement(phase, statement), _) => (*phase, statement),
        (Work::Copy(_), None) => return Ok(()),
    };
    tracker.start(phase);
    client.batch_execute(statement).await?;
    tracker.step_done(phase);
    Ok(())
}

/// The statements that truncate `table` (which holds no row), with the triggers that refuse
/// a TRUNCATE ([`TRUNCATE_GUARDS`]) off around it.
fn truncated(table: &str) -> String {
    let guards = triggers_of(TRUNCATE_GUARDS, table);
    let mut statements = String::new();
    for trigger in guards.clone() {
        statements += &format!("ALTER TABLE {table} DISABLE TRIGGER {trigger};\n");
    }
    statements += &format!("TRUNCATE {table};\n");
    for trigger in guards {
        statements += &format!("ALTER TABLE {table} ENABLE TRIGGER {trigger};\n");
    }
    statements
}

/// How far the load is, reported as it goes by the tasks of both connections, and how long
/// each phase took (from its first task's start to its last one's end).
struct Tracker<F> {
    state: Mutex<TrackerState<F>>,
}

struct TrackerState<F> {
    report: F,
    of_phase: [f64; Phase::ALL.len()],
    rows: [u64; Phase::ALL.len()],
    /// Statements a phase has (keys and indexes, statistics, vacuum) and those done.
    steps: [(usize, usize); Phase::ALL.len()],
    spans: [Option<(Instant, Option<Instant>)>; Phase::ALL.len()],
}

impl<F: FnMut(Progress)> Tracker<F> {
    fn new(report: F) -> Self {
        Tracker {
            state: Mutex::new(TrackerState {
                report,
                of_phase: [0.0; Phase::ALL.len()],
                rows: [0; Phase::ALL.len()],
                steps: [(0, 0); Phase::ALL.len()],
                spans: [None; Phase::ALL.len()],
            }),
        }
    }

    fn with<T>(&self, change: impl FnOnce(&mut TrackerState<F>) -> T) -> T {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A phase (or one of its tasks) starts.
    fn start(&self, phase: Phase) {
        self.with(|state| {
            state.spans[phase as usize].get_or_insert((Instant::now(), None));
            state.tell(phase);
        });
    }

    /// `phase` is done, having written `rows`.
    fn finish(&self, phase: Phase, rows: u64) {
        self.with(|state| {
            let span = state.spans[phase as usize].get_or_insert((Instant::now(), None));
            span.1 = Some(Instant::now());
            state.rows[phase as usize] = rows;
            state.of_phase[phase as usize] = 1.0;
            state.tell(phase);
        });
    }

    fn set_steps(&self, phase: Phase, steps: usize) {
        self.with(|state| state.steps[phase as usize] = (0, steps));
    }

    /// One more of the phase's statements is done.
    fn step_done(&self, phase: Phase) {
        self.with(|state| {
            let steps = &mut state.steps[phase as usize];
            steps.0 += 1;
            let of_phase = steps.0 as f64 / steps.1.max(1) as f64;
            if let Some(span) = &mut state.spans[phase as usize] {
                span.1 = Some(Instant::now());
            }
            state.of_phase[phase as usize] = of_phase;
            state.tell(phase);
        });
    }

    /// A table's COPY has written `rows`, for the share `of_phase` of the customers.
    fn copied(&self, phase: Phase, rows: u64, of_phase: f64) {
        self.with(|state| {
            state.rows[phase as usize] = rows;
            state.of_phase[phase as usize] = of_phase;
            state.tell(phase);
        });
    }

    /// Where each sequence goes once the rows are in: past the values the load used.
    fn sequence_moves(&self, ids: Ids) -> SequenceMoves {
        self.with(|state| {
            let rows = |phase: Phase| state.rows[phase as usize];
            let mut moves = SequenceMoves::default();
            for (sequence, first, used) in [
                ("meter_id_seq", ids.meter, rows(Phase::Meters)),
                ("customer_id_seq", ids.customer, rows(Phase::Customers)),
                ("customer_serial", ids.serial, rows(Phase::Customers)),
                // Owner history ids follow the customers (row k's, if any, is first + k).
                (
                    "customer_owner_history_id_seq",
                    ids.owner_history,
                    ids.customers,
                ),
                ("account_id_seq", ids.account, rows(Phase::Accounts)),
                ("receipt_no_seq", ids.receipt, rows(Phase::Receipts)),
                ("bill_id_seq", ids.bill, rows(Phase::Bills)),
                ("ledger_transaction_id_seq", ids.ledger, rows(Phase::Ledger)),
                ("meter_reading_id_seq", ids.reading, rows(Phase::Readings)),
                ("card_id_seq", ids.card_id, rows(Phase::Cards)),
                ("card_no_seq", ids.card_no, rows(Phase::Cards)),
                (
                    "card_operation_id_seq",
                    ids.card_op,
                    rows(Phase::CardOperations),
                ),
            ] {
                moves.past(sequence, first, used);
            }
            moves
        })
    }

    /// Each phase's rows and time, in the load's order.
    fn timings(&self) -> Vec<PhaseTiming> {
        self.with(|state| {
            Phase::ALL
                .iter()
                .filter_map(|&phase| {
                    let (from, to) = state.spans[phase as usize]?;
                    Some(PhaseTiming {
                        phase,
                        rows: state.rows[phase as usize],
                        elapsed: to.unwrap_or_else(Instant::now) - from,
                    })
                })
                .collect()
        })
    }
}

impl<F: FnMut(Progress)> TrackerState<F> {
    fn tell(&mut self, phase: Phase) {
        let progress = Progress {
            phase,
            rows: self.rows[phase as usize],
            of_phase: self.of_phase[phase as usize],
            done: share_done(&self.of_phase),
        };
        (self.report)(progress);
    }
}

/// The share of the whole load done, 0 to 1, from each phase's share done.
fn share_done(of_phase: &[f64; Phase::ALL.len()]) -> f64 {
    let all: u32 = Phase::ALL.iter().map(|phase| phase.share()).sum();
    let done: f64 = Phase::ALL
        .iter()
        .map(|&phase| f64::from(phase.share()) * of_phase[phase as usize].clamp(0.0, 1.0))
        .sum();
    done / f64::from(all)
}

/// The first id (or number) of each bulk table's rows; row k of the load gets first + k.
#[derive(Debug, Clone, Copy)]
struct Ids {
    customers: u64,
    customer: i64,
    serial: i64,
    meter: i64,
    owner_history: i64,
    account: i64,
    receipt: i64,
    bill: i64,
    ledger: i64,
    reading: i64,
    card_id: i64,
    card_no: i64,
    card_op: i64,
}

impl Ids {
    /// The column that tells a table's loaded rows, and its value in the first of them.
    fn first_loaded(&self, table: &str) -> (&'static str, i64) {
        match table {
            "meter" => ("id", self.meter),
            "customer" => ("id", self.customer),
            "customer_name_char" => ("customer_id", self.customer),
            "customer_owner_history" => ("id", self.owner_history),
            "account" => ("id", self.account),
            "receipt" => ("receipt_no", self.receipt),
            "bill" => ("id", self.bill),
            "ledger_transaction" => ("id", self.ledger),
            "meter_reading" => ("id", self.reading),
            "card" => ("id", self.card_id),
            _ => ("id", self.card_op),
        }
    }

    fn customer_id(&self, index: u64) -> i64 {
        self.customer + index as i64
    }

    fn account_id(&self, index: u64) -> i64 {
        self.account + index as i64
    }

    /// Installed meters come first, one per customer, in customer order.
    fn meter_id(&self, index: u64) -> i64 {
        self.meter + index as i64
    }

    fn customer_number(&self, index: u64) -> i64 {
        let value = u32::try_from(self.serial + index as i64)
            .expect("numbers left were checked before the load");
        let number = CustomerNumber::from_sequence_value(value)
            .expect("numbers left were checked before the load");
        i64::from(number.value())
    }
}

/// Meter number of the n-th demo meter: a batch year and a running number, 12 characters.
fn meter_number(index: u64) -> String {
    format!("{:04}{:08}", 2016 + index % 9, index + 1)
}

/// The value `nextval` would give `sequence` now, without taking it (every sequence of the
/// schema counts up by one).
async fn next_value(tx: &Transaction<'_>, sequence: &str) -> Result<i64, DemoError> {
    Ok(tx
        .query_one(
            &format!(
                "SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END AS value FROM {sequence}"
            ),
            &[],
        )
        .await?
        .get("value"))
}

/// Where each sequence goes once the rows are in: past the values the load used.
#[derive(Default)]
struct SequenceMoves(Vec<(&'static str, i64)>);

impl SequenceMoves {
    /// `used` values from `first` on were used.
    fn past(&mut self, sequence: &'static str, first: i64, used: u64) {
        if used > 0 {
            self.0.push((sequence, first + used as i64 - 1));
        }
    }

    /// setval is not undone by a rollback, so this is the load's last statement.
    async fn apply(self, tx: &Transaction<'_>) -> Result<(), DemoError> {
        for (sequence, last_used) in self.0 {
            tx.execute(
                "SELECT setval($1::text::regclass, $2)",
                &[&sequence, &last_used],
            )
            .await?;
        }
        Ok(())
    }
}

fn utc(at: DateTime<Utc>) -> impl fmt::Display {
    // COPY text input; Postgres keeps microseconds and the demo times are whole seconds.
    at.format("%Y-%m-%d %H:%M:%S+00")
}

/// Row triggers that do nothing for the owner, who loads, or whose work the loader does itself,
/// as (table, trigger): off while the rows stream in, each would cost a PL/pgSQL call per row.
pub const ROW_TRIGGERS_OFF: &[(&str, &str)] = &[
    // The balances are computed by the generator and written with the accounts; this would add
    // every transaction a second time. It keeps the card purchases' water too (sql/V245),
    // which the loader makes from the books once the rows are in (`fill`).
    ("ledger_transaction", "ledger_apply_to_balance"),
    // Stamp the signed-in operator over what the row says; the owner is no operator.
    ("customer", "stamp_opened_by"),
    ("customer_owner_history", "stamp_transferred_by"),
    ("card", "stamp_issued_by"),
    // sql/V68: asks an operator's permission, checks what an operator writes (the owner's rows
    // at once, a closed customer's asked of the session), stamps the operator.
    ("card_operation", "rules"),
    // Check what an operator writes (sql/V31 and before) and return at once for the owner; yet
    // each is a PL/pgSQL call per row with its own search_path, and the customer number's asks
    // the sequence in a block that catches an error (a subtransaction per row): at 1 M they
    // were three quarters of the cards', card operations' and half the receipts' time.
    ("customer", "takes_the_issued_number"),
    // sql/V82: also stamps the operator, as sql/V63's own trigger did.
    ("receipt", "rules"),
    ("card", "takes_the_issued_number"),
    ("card", "refuses_closed_customer"),
    // Deferred checks whose WHEN skips the owner, evaluated per row all the same.
    ("customer_owner_history", "is_a_transfer"),
    ("card", "is_journaled"),
    // sql/V104: the counter's limits, an operator's rows only.
    ("ledger_transaction", "within_the_counters_limits"),
    // sql/V107: a payment method the customer's type takes, an operator's rows only.
    ("ledger_transaction", "a_method_the_type_takes"),
    ("card_operation", "a_method_the_type_takes"),
    // sql/V108: a phone and an identity number as the desk stores them, an operator's only.
    ("customer", "written_as_the_desk_stores_it"),
    // sql/V138 (V131, V134): a transfer waits for the account's unpaid bills and the
    // customer's pending card operation, an operator's only.
    ("customer_owner_history", "waits_for_the_bills_and_the_card"),
    // sql/V201 (V135, V121, V82, V132): a card purchase, a reversal, a card refund's pay-out
    // go with their card operation, a card meter's deposit is its recharge's payment, a
    // card_refund is journaled, a counter movement comes with its audit entry; one deferred
    // trigger, an operator's rows only.
    ("ledger_transaction", "money_checked_at_commit"),
    // sql/V173: an operator's recharge journals the purchase after the customer's last.
    ("card_operation", "sequence_follows"),
    // sql/V245: a done refund takes its purchase's water away; the loader makes the water's
    // rows from the books once they are in (`fill`), as the ledger's balance trigger's.
    ("card_operation", "refund_takes_back_its_water"),
];

/// Statement triggers with a transition table of a bulk table's inserts that do nothing for the
/// owner, or whose work the loader does itself, as (table, trigger). Turned off they would
/// still cost a copy of every loaded row (PostgreSQL fills a transition table for every trigger
/// defined, enabled or not: at 10 M about 630 MB of temporary file for the meters alone), so
/// each is dropped in the transaction that fills its table and created again, as the catalog
/// defined it, before that transaction commits (`db::bulk_load::set_aside`).
pub const TRANSITION_TRIGGERS_DROPPED: &[(&str, &str)] = &[
    // sql/V56: a meter written by an operator commits only with its audit entry; its WHEN
    // skips the owner (the loader), but only once the statement's rows are all kept.
    ("meter", "added_is_told"),
    // Fills customer_name_char from the COPY's customers with a set-returning SQL function per
    // name. The loader writes those rows itself (`HistoryRows::name_keys`), as `name_keys`
    // gives them (a test compares).
    ("customer", "customer_name_char_after_insert"),
    // sql/V63 (V24's and V21's): refuses money on a closed account (the owner's loads are not
    // asked), then opens the posting operator's shift (the owner is no operator).
    ("ledger_transaction", "refuses_closed_then_opens_the_shift"),
];

/// The triggers of `table` in a list of (table, trigger).
fn triggers_of<'a>(
    list: &'a [(&str, &'static str)],
    table: &'a str,
) -> impl Iterator<Item = &'static str> + Clone + 'a {
    list.iter()
        .filter(move |(of, _)| *of == table)
        .map(|(_, trigger)| *trigger)
}

/// Triggers that refuse a TRUNCATE of a bulk table, as (table, trigger): the loader truncates
/// the empty ones where it fills them (`truncated`), which loses nothing.
pub const TRUNCATE_GUARDS: &[(&str, &str)] = &[(
    "ledger_transaction",
    "ledger_transaction_is_never_truncated",
)];

/// The statements that `DISABLE` or `ENABLE` the [`ROW_TRIGGERS_OFF`] of `table`, inside the
/// transaction that fills it (so a failed load leaves them on).
fn row_triggers(table: &str, switch: &str) -> String {
    triggers_of(ROW_TRIGGERS_OFF, table)
        .map(|trigger| format!("ALTER TABLE {table} {switch} TRIGGER {trigger};\n"))
        .collect()
}

/// Where one customer's history rows start in each table.
#[derive(Clone, Copy)]
struct HistoryCursor {
    receipt: i64,
    bill: i64,
    ledger: i64,
    reading: i64,
    card: i64,
    card_op: i64,
}

impl HistoryCursor {
    fn advance(&mut self, history: &History) {
        self.receipt += history.receipts.len() as i64;
        self.bill += history.bills.len() as i64;
        self.ledger += history.ledger.len() as i64;
        self.reading += history.readings.len() as i64;
        self.card += history.cards.len() as i64;
        self.card_op += history.card_ops.len() as i64;
    }
}

/// The table `phase` fills.
fn table_of(phase: Phase) -> &'static str {
    table_and_columns(phase)
        .split(' ')
        .next()
        .unwrap_or_default()
}

/// The table `phase` fills and the columns its COPY writes.
fn table_and_columns(phase: Phase) -> &'static str {
    match phase {
        Phase::Meters => {
            "meter (id, meter_no, meter_type_id, initial_electronic_reading, \
             initial_mechanical_reading, status, created_at)"
        }
        Phase::Customers => {
            "customer (id, customer_no, customer_type_id, nature, business_model, name, \
             address, phone, id_document_no, household_size, email, credit_code, \
             contact_person, remark, meter_id, meter_type_id, meter_status, status, opened_at, \
             opened_by, closed_at)"
        }
        Phase::NameCharacters => "customer_name_char (ch, name, customer_no, customer_id)",
        Phase::OwnerHistory => {
            "customer_owner_history (id, customer_id, previous_owner, transferred_at, transferred_by)"
        }
        Phase::Accounts => "account (id, customer_id, kind, balance, opened_at)",
        Phase::Receipts => {
            "receipt (receipt_no, customer_id, operator_id, issued_at, customer_name, meter_no)"
        }
        Phase::Bills => {
            "bill (id, account_id, period_start, period_end, previous_reading, current_reading, \
             volume, amount, price_version_id, status, issued_at, due_date, paid_at)"
        }
        Phase::Ledger => {
            "ledger_transaction (id, account_id, kind, amount, volume, unit_price, \
             payment_method_code, receipt_no, operator_id, created_at, idempotency_key, \
             reverses_id, bill_id)"
        }
        Phase::Readings => {
            "meter_reading (id, meter_id, customer_id, read_on, electronic, source, previous_id, \
             previous, consumption, abnormal, bill_id, transaction_id, operator_id, created_at, \
             idempotency_key)"
        }
        Phase::Cards => {
            "card (id, card_no, customer_id, generation, state, blacklisted, void_reason, \
             issued_at, issued_by, voided_at, meter_loaded_seq, meter_generation, meter_read_at)"
        }
        _ => {
            "card_operation (id, customer_id, card_id, replaced_card_id, kind, state, \
             purchase_seq, volume_litres, transaction_id, idempotency_key, operator_id, \
             started_at, finished_at)"
        }
    }
}

/// One pass over every customer, writing the rows of the table `phase` loads; `fresh`: the
/// table was truncated in `tx` (its rows are written frozen).
async fn copy_table(
    tx: &Transaction<'_>,
    catalogue: &Arc<Catalogue>,
    ids: Ids,
    phase: Phase,
    fresh: bool,
    tracker: &Tracker<impl FnMut(Progress) + Send>,
) -> Result<u64, DemoError> {
    let catalogue = Arc::clone(catalogue);
    copy_in(
        tx,
        ids.customers,
        table_and_columns(phase),
        fresh,
        |rows, of_phase| tracker.copied(phase, rows, of_phase),
        move |rows| {
            let mut history = History::default();
            let mut cursor = HistoryCursor {
                receipt: ids.receipt,
                bill: ids.bill,
                ledger: ids.ledger,
                reading: ids.reading,
                card: ids.card_id,
                card_op: ids.card_op,
            };
            for index in 0..ids.customers {
                if !rows.is_open() {
                    return;
                }
                let profile = catalogue.profile(index);
                // The customer's own tables are written from the profile alone.
                if !matches!(
                    phase,
                    Phase::Meters | Phase::Customers | Phase::NameCharacters | Phase::OwnerHistory
                ) {
                    catalogue.history(index, &profile, &mut history);
                }
                let customer = HistoryRows {
                    catalogue: &catalogue,
                    ids,
                    index,
                    profile: &profile,
                    history: &history,
                    cursor,
                };
                match phase {
                    Phase::Meters => customer.meter(rows),
                    Phase::Customers => customer.customer(rows),
                    Phase::NameCharacters => customer.name_keys(rows),
                    Phase::OwnerHistory => customer.owner_history(rows),
                    Phase::Accounts => customer.account(rows),
                    Phase::Receipts => customer.receipts(rows),
                    Phase::Bills => customer.bills(rows),
                    Phase::Ledger => customer.ledger(rows),
                    Phase::Readings => customer.readings(rows),
                    Phase::Cards => customer.cards(rows),
                    _ => customer.card_operations(rows),
                }
                cursor.advance(&history);
                rows.customer_done();
            }
            if phase == Phase::Meters {
                uninstalled_meters(rows, &catalogue, ids);
            }
        },
    )
    .await
}

/// The meters in stock, after the installed ones: one per hundred customers and 2 000 more.
fn uninstalled_meters(rows: &mut copy::CopyRows, catalogue: &Catalogue, ids: Ids) {
    for extra in 0..2_000 + ids.customers / 100 {
        let index = ids.customers + extra;
        let (meter_type_id, arrived) = catalogue.uninstalled_meter(index);
        rows.field(ids.meter_id(index))
            .field(meter_number(index))
            .field(meter_type_id)
            .field(Decimal::ZERO)
            .field(Decimal::ZERO)
            .field("uninstalled")
            .field(utc(arrived))
            .end_row();
    }
}

/// The rows one customer's history contributes to each table.
struct HistoryRows<'a> {
    catalogue: &'a Catalogue,
    ids: Ids,
    index: u64,
    profile: &'a Profile,
    history: &'a History,
    cursor: HistoryCursor,
}

impl HistoryRows<'_> {
    fn offset(first: i64, position: usize) -> i64 {
        first + position as i64
    }

    fn meter(&self, rows: &mut copy::CopyRows) {
        let profile = self.profile;
        let status = if profile.closed_at.is_some() {
            "removed"
        } else {
            "installed"
        };
        rows.field(self.ids.meter_id(self.index))
            .field(meter_number(self.index))
            .field(profile.meter_type_id)
            .field(profile.initial_reading)
            .field(profile.initial_reading)
            .field(status)
            .field(utc(profile.opened_at - chrono::TimeDelta::days(3)))
            .end_row();
    }

    fn customer(&self, rows: &mut copy::CopyRows) {
        let (catalogue, ids, index, profile) = (self.catalogue, self.ids, self.index, self.profile);
        let ty = &catalogue.types[profile.type_index];
        let info = catalogue.basic_info(index, profile);
        let closed = profile.closed_at.is_some();
        rows.field(ids.customer_id(index))
            .field(ids.customer_number(index))
            .field(ty.id)
            .field(ty.nature.as_str())
            .field(ty.model.as_str())
            .field(&info.name)
            .field(&info.address)
            .opt(info.phone.as_ref())
            .opt(info.id_document_no.as_ref())
            .opt(info.household_size)
            .opt(info.email.as_ref())
            .opt(info.credit_code.as_ref())
            .opt(info.contact_person.as_ref())
            .opt(info.remark)
            .field(ids.meter_id(index))
            .field(profile.meter_type_id)
            .field(if closed { "removed" } else { "installed" })
            .field(if closed { "closed" } else { "active" })
            .field(utc(profile.opened_at))
            .field(catalogue.clerk_id)
            .opt(profile.closed_at.map(utc))
            .end_row();
    }

    /// The customer's rows of customer_name_char, the keys sql/V11's `name_keys` gives: those
    /// of the name after its first character, lower-cased (the demo's names hold no upper-case
    /// letter outside ASCII, so ASCII's lower case is SQL's `lower` of them).
    fn name_keys(&self, rows: &mut copy::CopyRows) {
        let info = self.catalogue.basic_info(self.index, self.profile);
        let after_first: String = info.name.chars().skip(1).collect();
        for key in fragment_keys(&after_first.to_ascii_lowercase()) {
            rows.field(key)
                .field(&info.name)
                .field(self.ids.customer_number(self.index))
                .field(self.ids.customer_id(self.index))
                .end_row();
        }
    }

    fn owner_history(&self, rows: &mut copy::CopyRows) {
        if let Some((owner, at)) = self.catalogue.previous_owner(self.index, self.profile) {
            rows.field(self.ids.owner_history + self.index as i64)
                .field(self.ids.customer_id(self.index))
                .field(owner)
                .field(utc(at))
                .field(self.catalogue.clerk_id)
                .end_row();
        }
    }

    fn account(&self, rows: &mut copy::CopyRows) {
        let ty = &self.catalogue.types[self.profile.type_index];
        rows.field(self.ids.account_id(self.index))
            .field(self.ids.customer_id(self.index))
            .field(ty.model.account_kind())
            .field(self.history.balance)
            .field(utc(self.profile.opened_at))
            .end_row();
    }

    /// Each names the holder when it was issued, as the receipt's `rules` trigger (turned off
    /// for the load) writes it (sql/V109): the previous owner before the transfer, if any; and
    /// the customer's meter (sql/V116), the one meter a demo customer ever has.
    fn receipts(&self, rows: &mut copy::CopyRows) {
        let now = self.catalogue.basic_info(self.index, self.profile).name;
        let meter_no = meter_number(self.index);
        let before = self
            .catalogue
            .previous_owner(self.index, self.profile)
            .and_then(|(owner, at)| {
                let owner: serde_json::Value = serde_json::from_str(&owner).ok()?;
                Some((owner.get("name")?.as_str()?.to_owned(), at))
            });
        for (position, receipt) in self.history.receipts.iter().enumerate() {
            let holder = match &before {
                Some((name, transferred_at)) if receipt.at < *transferred_at => name,
                _ => &now,
            };
            rows.field(Self::offset(self.cursor.receipt, position))
                .field(self.ids.customer_id(self.index))
                .field(receipt.operator_id)
                .field(utc(receipt.at))
                .field(holder)
                .field(&meter_no)
                .end_row();
        }
    }

    fn bills(&self, rows: &mut copy::CopyRows) {
        let price_version = self.catalogue.types[self.profile.type_index].price_version_id;
        for (position, bill) in self.history.bills.iter().enumerate() {
            rows.field(Self::offset(self.cursor.bill, position))
                .field(self.ids.account_id(self.index))
                .field(bill.period_start)
                .field(bill.period_end)
                .field(bill.previous_reading)
                .field(bill.current_reading)
                .field(bill.volume)
                .field(bill.amount)
                .opt(price_version)
                .field(if bill.paid_at.is_some() {
                    "paid"
                } else {
                    "unpaid"
                })
                .field(utc(bill.issued_at))
                .field(bill.due_date)
                .opt(bill.paid_at.map(utc))
                .end_row();
        }
    }

    fn ledger(&self, rows: &mut copy::CopyRows) {
        for (position, entry) in self.history.ledger.iter().enumerate() {
            let id = Self::offset(self.cursor.ledger, position);
            rows.field(id)
                .field(self.ids.account_id(self.index))
                .field(entry.kind.as_str())
                .field(entry.amount)
                .opt(entry.volume)
                .opt(entry.unit_price)
                .opt(entry.payment_method)
                .opt(entry.receipt.map(|r| Self::offset(self.cursor.receipt, r)))
                .opt(entry.operator_id)
                .field(utc(entry.at))
                .field(format_args!("demo-{id}"))
                .opt(entry.reverses.map(|t| Self::offset(self.cursor.ledger, t)))
                .opt(entry.bill.map(|b| Self::offset(self.cursor.bill, b)))
                .end_row();
        }
    }

    /// Entered by the clerk from the meter readers' files.
    fn readings(&self, rows: &mut copy::CopyRows) {
        for (position, reading) in self.history.readings.iter().enumerate() {
            let id = Self::offset(self.cursor.reading, position);
            rows.field(id)
                .field(self.ids.meter_id(self.index))
                .field(self.ids.customer_id(self.index))
                .field(reading.read_on)
                .field(reading.electronic)
                .field("import")
                .opt(
                    position
                        .checked_sub(1)
                        .map(|p| Self::offset(self.cursor.reading, p)),
                )
                .field(reading.previous)
                .field(reading.consumption)
                .field(reading.abnormal)
                .opt(reading.bill.map(|b| Self::offset(self.cursor.bill, b)))
                .opt(
                    reading
                        .transaction
                        .map(|t| Self::offset(self.cursor.ledger, t)),
                )
                .field(self.catalogue.clerk_id)
                .field(utc(reading.entered_at))
                .field(format_args!("demo-reading-{id}"))
                .end_row();
        }
    }

    fn cards(&self, rows: &mut copy::CopyRows) {
        for (position, card) in self.history.cards.iter().enumerate() {
            let card_id = Self::offset(self.cursor.card, position);
            let (state, blacklisted) = match card.voided {
                None => ("active", false),
                Some(_) => ("void", true),
            };
            rows.field(card_id)
                .field(self.ids.card_no + (card_id - self.ids.card_id))
                .field(self.ids.customer_id(self.index))
                .field(card.generation)
                .field(state)
                .field(blacklisted)
                .opt(card.voided.map(|(_, reason)| reason))
                .field(utc(card.issued_at))
                .field(card.issued_by)
                .opt(card.voided.map(|(at, _)| utc(at)))
                .opt(card.meter.as_ref().map(|meter| meter.loaded_seq))
                .opt(card.meter.as_ref().map(|meter| meter.generation))
                .opt(card.meter.as_ref().map(|meter| utc(meter.read_at)))
                .end_row();
        }
    }

    fn card_operations(&self, rows: &mut copy::CopyRows) {
        for (position, op) in self.history.card_ops.iter().enumerate() {
            let id = Self::offset(self.cursor.card_op, position);
            rows.field(id)
                .field(self.ids.customer_id(self.index))
                .field(Self::offset(self.cursor.card, op.card))
                .opt(op.replaced_card.map(|c| Self::offset(self.cursor.card, c)))
                .field(op.kind)
                .field("done")
                .opt(op.purchase_seq)
                .opt(op.volume_litres)
                .opt(op.transaction.map(|t| Self::offset(self.cursor.ledger, t)))
                .field(format_args!("demo-card-{id}"))
                .field(op.operator_id)
                .field(utc(op.at))
                .field(utc(op.at))
                .end_row();
        }
    }
}

// ───────────────────────────── Reference data ─────────────────────────────

struct MeterTypeSpec {
    name: &'static str,
    card: bool,
    caliber: &'static str,
    manufacturer: &'static str,
}

const METER_TYPES: &[MeterTypeSpec] = &[
    MeterTypeSpec {
        name: "IC卡水表 DN15 宁波",
        card: true,
        caliber: "DN15",
        manufacturer: "宁波水表",
    },
    MeterTypeSpec {
        name: "IC卡水表 DN20 三川",
        card: true,
        caliber: "DN20",
        manufacturer: "三川智慧",
    },
    MeterTypeSpec {
        name: "IC卡水表 DN25 新天",
        card: true,
        caliber: "DN25",
        manufacturer: "新天科技",
    },
    MeterTypeSpec {
        name: "机械水表 DN15 宁波",
        card: false,
        caliber: "DN15",
        manufacturer: "宁波水表",
    },
    MeterTypeSpec {
        name: "远传水表 DN20 Itron",
        card: false,
        caliber: "DN20",
        manufacturer: "Itron",
    },
    MeterTypeSpec {
        name: "远传水表 DN25 Sensus",
        card: false,
        caliber: "DN25",
        manufacturer: "Sensus",
    },
    MeterTypeSpec {
        name: "超声波水表 DN50 Kamstrup",
        card: false,
        caliber: "DN50",
        manufacturer: "Kamstrup",
    },
    MeterTypeSpec {
        name: "电磁流量计 DN100 汇中",
        card: false,
        caliber: "DN100",
        manufacturer: "汇中仪表",
    },
];

struct SchemeSpec {
    name: &'static str,
    kind: &'static str,
    mode: &'static str,
    accumulation_months: Option<i16>,
    settlement_months: Option<i16>,
    /// Price versions: (effective from, tiers).
    versions: &'static [(&'static str, &'static [Tier])],
}

/// (upper bound m³ or None for the last tier, unit price in 1/10000 yuan).
type Tier = (Option<i64>, i64);

/// The manual's worked example: 1.00/m³ to 50, 2.00/m³ to 100, 3.00/m³ above.
const MANUAL_TIERS: &[Tier] = &[(Some(50), 10_000), (Some(100), 20_000), (None, 30_000)];

const PRICE_SCHEMES: &[SchemeSpec] = &[
    SchemeSpec {
        name: "居民阶梯水价（预付费） Residential stepped, prepaid",
        kind: "prepaid",
        mode: "stepped",
        accumulation_months: Some(12),
        settlement_months: None,
        versions: &[
            (
                "2022-01-01",
                &[(Some(50), 9_000), (Some(100), 18_000), (None, 27_000)],
            ),
            ("2024-07-01", MANUAL_TIERS),
        ],
    },
    SchemeSpec {
        name: "居民阶梯水价（后付费） Residential stepped, postpaid",
        kind: "postpaid",
        mode: "stepped",
        accumulation_months: Some(12),
        settlement_months: Some(2),
        versions: &[("2024-07-01", MANUAL_TIERS)],
    },
    SchemeSpec {
        name: "非居民水价（预付费） Non-residential fixed, prepaid",
        kind: "prepaid",
        mode: "fixed",
        accumulation_months: None,
        settlement_months: None,
        versions: &[("2024-01-01", &[(None, 45_000)])],
    },
    SchemeSpec {
        name: "非居民水价（后付费） Non-residential fixed, postpaid",
        kind: "postpaid",
        mode: "fixed",
        accumulation_months: None,
        settlement_months: Some(1),
        versions: &[("2024-01-01", &[(None, 45_000)])],
    },
    SchemeSpec {
        name: "特种行业跳档水价（预付费） Special industry leap, prepaid",
        kind: "prepaid",
        mode: "leap",
        accumulation_months: Some(12),
        settlement_months: None,
        versions: &[(
            "2024-01-01",
            &[(Some(500), 80_000), (Some(1000), 120_000), (None, 160_000)],
        )],
    },
    SchemeSpec {
        name: "特种行业跳档水价（后付费） Special industry leap, postpaid",
        kind: "postpaid",
        mode: "leap",
        accumulation_months: Some(12),
        settlement_months: Some(1),
        versions: &[(
            "2024-01-01",
            &[(Some(500), 80_000), (Some(1000), 120_000), (None, 160_000)],
        )],
    },
];

struct CustomerTypeSpec {
    name: &'static str,
    nature: Nature,
    model: BusinessModel,
    /// Indexes into METER_TYPES.
    meter_types: &'static [usize],
    /// Index into PRICE_SCHEMES; None: the type does not charge.
    scheme: Option<usize>,
    payment_methods: &'static [&'static str],
    per_mille: u32,
}

const PERSONAL_PAYMENT: &[&str] = &["cash", "bank_card", "wechat_pay", "alipay"];
const ENTERPRISE_PAYMENT: &[&str] = &["bank_transfer", "bank_card", "cash", "wechat_pay"];

/// Every nature × business model.
const CUSTOMER_TYPES: &[CustomerTypeSpec] = &[
    CustomerTypeSpec {
        name: "居民IC卡表 Residential card meter",
        nature: Nature::Personal,
        model: BusinessModel::MeterPrepaid,
        meter_types: &[0, 1],
        scheme: Some(0),
        payment_methods: PERSONAL_PAYMENT,
        per_mille: 380,
    },
    CustomerTypeSpec {
        name: "居民预付费 Residential prepaid",
        nature: Nature::Personal,
        model: BusinessModel::SystemPrepaid,
        meter_types: &[4, 5],
        scheme: Some(0),
        payment_methods: PERSONAL_PAYMENT,
        per_mille: 220,
    },
    CustomerTypeSpec {
        name: "居民后付费 Residential postpaid",
        nature: Nature::Personal,
        model: BusinessModel::Postpaid,
        meter_types: &[3, 4, 5],
        scheme: Some(1),
        payment_methods: PERSONAL_PAYMENT,
        per_mille: 250,
    },
    CustomerTypeSpec {
        name: "企业IC卡表 Business card meter",
        nature: Nature::Enterprise,
        model: BusinessModel::MeterPrepaid,
        meter_types: &[1, 2],
        scheme: Some(2),
        payment_methods: ENTERPRISE_PAYMENT,
        per_mille: 40,
    },
    CustomerTypeSpec {
        name: "企业预付费 Business prepaid",
        nature: Nature::Enterprise,
        model: BusinessModel::SystemPrepaid,
        meter_types: &[5, 6],
        scheme: Some(4),
        payment_methods: ENTERPRISE_PAYMENT,
        per_mille: 30,
    },
    CustomerTypeSpec {
        name: "企业后付费 Business postpaid",
        nature: Nature::Enterprise,
        model: BusinessModel::Postpaid,
        meter_types: &[4, 5, 6, 7],
        scheme: Some(3),
        payment_methods: ENTERPRISE_PAYMENT,
        per_mille: 50,
    },
    CustomerTypeSpec {
        name: "统计IC卡表 Statistical card meter",
        nature: Nature::Statistical,
        model: BusinessModel::MeterPrepaid,
        meter_types: &[2],
        scheme: None,
        payment_methods: &[],
        per_mille: 5,
    },
    CustomerTypeSpec {
        name: "统计预付费 Statistical prepaid",
        nature: Nature::Statistical,
        model: BusinessModel::SystemPrepaid,
        meter_types: &[5, 6],
        scheme: None,
        payment_methods: &[],
        per_mille: 5,
    },
    CustomerTypeSpec {
        name: "统计总表 Statistical district meter",
        nature: Nature::Statistical,
        model: BusinessModel::Postpaid,
        meter_types: &[6, 7],
        scheme: None,
        payment_methods: &[],
        per_mille: 20,
    },
];

struct OperatorSpec {
    login: &'static str,
    full_name: &'static str,
    department: &'static str,
    role: &'static str,
}

const OPERATORS: &[OperatorSpec] = &[
    OperatorSpec {
        login: "admin",
        full_name: "系统管理员 System Administrator",
        department: "信息中心 IT Centre",
        role: "administrator",
    },
    OperatorSpec {
        login: "supervisor",
        full_name: "王建国 Wang Jianguo",
        department: "营业一厅 Counter Hall 1",
        role: "supervisor",
    },
    OperatorSpec {
        login: "clerk",
        full_name: "李晓明 Li Xiaoming",
        department: "营业一厅 Counter Hall 1",
        role: "clerk",
    },
];

const DEPARTMENTS: &[(&str, Option<&str>)] = &[
    ("自来水公司 Water Company", None),
    ("营业一厅 Counter Hall 1", Some("自来水公司 Water Company")),
    ("营业二厅 Counter Hall 2", Some("自来水公司 Water Company")),
    ("信息中心 IT Centre", Some("自来水公司 Water Company")),
];

/// Departments, operators, meter types, price schemes and customer types; returns what the
/// generator needs to know about them, and the operators with their passwords.
async fn reference_data(tx: &Transaction<'_>) -> Result<(Catalogue, Vec<DemoOperator>), DemoError> {
    for (name, parent) in DEPARTMENTS {
        tx.execute(
            "INSERT INTO department (name, parent_id)
             VALUES ($1, (SELECT id FROM department WHERE name = $2))",
            &[name, parent],
        )
        .await?;
    }
    let mut operators = Vec::new();
    let mut operator_ids = Vec::new();
    for spec in OPERATORS {
        let password = generate_password();
        let department_id: i64 = tx
            .query_one(
                "SELECT id FROM department WHERE name = $1",
                &[&spec.department],
            )
            .await?
            .get("id");
        let id = operators::create(
            tx,
            &NewOperator {
                login: spec.login,
                full_name: spec.full_name,
                department_id,
                role_codes: &[spec.role],
                password: &password,
            },
        )
        .await?;
        // The demo prints its passwords once, to be used as they are.
        operators::keep_password(tx, id).await?;
        operator_ids.push(id);
        operators.push(DemoOperator {
            login: spec.login.to_owned(),
            full_name: spec.full_name.to_owned(),
            role: spec.role.to_owned(),
            password,
        });
    }
    let operator_id = |role: &str| {
        OPERATORS
            .iter()
            .zip(&operator_ids)
            .find(|(spec, _)| spec.role == role)
            .map_or(0, |(_, id)| *id)
    };

    let mut meter_type_ids = Vec::new();
    for spec in METER_TYPES {
        let id: i64 = tx
            .query_one(
                "INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
                 VALUES ($1, CASE WHEN $2 THEN 'prepayment' ELSE 'postpayment' END, $2, $3, $4)
                 RETURNING id",
                &[&spec.name, &spec.card, &spec.caliber, &spec.manufacturer],
            )
            .await?
            .get("id");
        meter_type_ids.push(id);
    }

    // (current version id, first tier's unit price) per scheme.
    let mut schemes = Vec::new();
    for spec in PRICE_SCHEMES {
        let start = spec.versions.first().map_or("2024-01-01", |(from, _)| from);
        let scheme_id: i64 = tx
            .query_one(
                "INSERT INTO price_scheme (name, kind, billing_mode, vat_rate,
                     accumulation_cycle_months, settlement_cycle_months, start_date)
                 VALUES ($1, $2, $3, 0.09, $4, $5, $6::text::date)
                 RETURNING id",
                &[
                    &spec.name,
                    &spec.kind,
                    &spec.mode,
                    &spec.accumulation_months,
                    &spec.settlement_months,
                    &start,
                ],
            )
            .await?
            .get("id");
        let mut current = (0, Decimal::ZERO);
        for (from, tiers) in spec.versions {
            let from = NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap_or_default();
            let version_id: i64 = tx
                .query_one(
                    "INSERT INTO price_version (price_scheme_id, effective_from)
                     VALUES ($1, $2) RETURNING id",
                    &[&scheme_id, &from],
                )
                .await?
                .get("id");
            for (tier_no, (bound, price)) in (1i16..).zip(tiers.iter()) {
                tx.execute(
                    "INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
                     VALUES ($1, $2, $3, $4)",
                    &[
                        &version_id,
                        &tier_no,
                        &bound.map(Decimal::from),
                        &Decimal::new(*price, 4),
                    ],
                )
                .await?;
            }
            current = (version_id, Decimal::new(tiers[0].1, 4));
        }
        // Bills fall in the scheme's own settlement cycles, counted from its start, as a
        // reading's bill does.
        let settlement = spec
            .settlement_months
            .map(|months| {
                let start = NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap_or_default();
                SettlementCycles::new(start, months.unsigned_abs().into())
            })
            .transpose()
            .map_err(|error| DemoError::Scheme(error.to_string()))?;
        schemes.push((scheme_id, current, settlement));
    }

    let mut types = Vec::new();
    for spec in CUSTOMER_TYPES {
        let scheme = spec.scheme.map(|index| schemes[index]);
        let type_id: i64 = tx
            .query_one(
                "INSERT INTO customer_type (name, nature, business_model, counts_water_usage,
                     charges, price_scheme_id)
                 VALUES ($1, $2, $3, true, $4, $5) RETURNING id",
                &[
                    &spec.name,
                    &spec.nature.as_str(),
                    &spec.model.as_str(),
                    &scheme.is_some(),
                    &scheme.map(|(id, _, _)| id),
                ],
            )
            .await?
            .get("id");
        let allowed: Vec<i64> = spec
            .meter_types
            .iter()
            .map(|&i| meter_type_ids[i])
            .collect();
        tx.execute(
            "INSERT INTO customer_type_meter_type (customer_type_id, meter_type_id, meter_payment_model)
             SELECT $1, meter_type_id, (SELECT meter_payment_model FROM customer_type WHERE id = $1)
             FROM unnest($2::bigint[]) AS meter_type_id",
            &[&type_id, &allowed],
        )
        .await?;
        tx.execute(
            "INSERT INTO customer_type_payment_method (customer_type_id, payment_method_code)
             SELECT $1, unnest($2::text[])",
            &[&type_id, &spec.payment_methods],
        )
        .await?;
        types.push(CustomerTypeInfo {
            id: type_id,
            nature: spec.nature,
            model: spec.model,
            meter_type_ids: allowed,
            payment_methods: spec.payment_methods,
            unit_price: scheme.map(|(_, (_, price), _)| price),
            price_version_id: scheme.map(|(_, (version, _), _)| version),
            settlement: scheme.and_then(|(_, _, settlement)| settlement),
            per_mille: spec.per_mille,
        });
    }
    let catalogue = Catalogue {
        seed: SEED,
        now: DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default(),
        types,
        meter_type_ids,
        clerk_id: operator_id("clerk"),
        supervisor_id: operator_id("supervisor"),
    };
    Ok((catalogue, operators))
}

/// `meterdesk demo-data`.
pub async fn demo_data_command(
    config: &Config,
    customers: u64,
    if_empty: bool,
) -> anyhow::Result<()> {
    let pool = startup::open_as_owner(config).await?;
    let client = pool.get().await.map_err(db::DbError::from)?;
    if if_empty && has_customers(&client).await? {
        println!("meterdesk: the database already has customers; demo data not loaded.");
        return Ok(());
    }
    let server = startup::find_server(config).await?;
    let cluster = match startup::installed_cluster(config, &server)? {
        Some(cluster) if may_restart_for_the_load(&client).await? => Some(cluster),
        _ => None,
    };
    drop(client);
    drop(pool);
    let deadlines = config.database.deadlines();
    let Some(cluster) = cluster else {
        let pool = db::pool_with_deadlines(&server.conn, CONNECTIONS, &deadlines)?;
        let loaded = interruptible_load(&pool, customers).await;
        drop(pool);
        return finish(config, loaded).await;
    };
    let cluster = restart(cluster, true).await?;
    let loaded = match db::pool_with_deadlines(&server.conn, CONNECTIONS, &deadlines) {
        Ok(pool) => interruptible_load(&pool, customers).await,
        Err(error) => Err(error.into()),
    };
    // Whether the load worked or not, the cluster gets its usual settings back.
    restart(cluster, false).await?;
    finish(config, loaded).await
}

/// The load with its progress line; None when Ctrl-C stopped it.
async fn interruptible_load(pool: &Pool, customers: u64) -> anyhow::Result<Option<DemoSummary>> {
    let line = ProgressLine::starting_now();
    let loaded = tokio::select! {
        loaded = load(pool, customers, |progress| line.show(progress)) => Some(loaded?),
        _ = tokio::signal::ctrl_c() => None,
    };
    eprintln!();
    Ok(loaded)
}

/// Prints what was loaded; after a Ctrl-C, undoes what the load had committed (its connections
/// are closed: their server processes stop within a second, `LOAD_SETTINGS`).
async fn finish(
    config: &Config,
    loaded: anyhow::Result<Option<DemoSummary>>,
) -> anyhow::Result<()> {
    if let Some(summary) = loaded? {
        println!("{summary}");
        return Ok(());
    }
    for _ in 0..60 {
        match startup::open_as_owner(config).await {
            Ok(_) => anyhow::bail!("interrupted: the demo data load is undone"),
            Err(error) if error.is::<db::bulk_load::StillLoading>() => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error),
        }
    }
    anyhow::bail!("interrupted; the next start of meterdesk undoes the demo data load")
}

/// Whether the embedded cluster may be restarted for the load with `wal_level = minimal`: no
/// one else is connected (a stop would end their sessions), and no WAL archiving is
/// configured (the server refuses to start with both).
async fn may_restart_for_the_load(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT current_setting('archive_mode') = 'off'
                AND NOT EXISTS (SELECT 1 FROM pg_stat_activity
                                WHERE backend_type = 'client backend'
                                  AND pid <> pg_backend_pid()) AS alone",
            &[],
        )
        .await?
        .get("alone"))
}

async fn restart(cluster: Cluster, for_bulk_load: bool) -> anyhow::Result<Cluster> {
    Ok(
        tokio::task::spawn_blocking(move || cluster.restart(for_bulk_load).map(|()| cluster))
            .await??,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_done_grows_phase_by_phase_from_nothing_to_all() {
        let mut of_phase = [0.0; Phase::ALL.len()];
        assert_eq!(share_done(&of_phase), 0.0);
        let mut last = 0.0;
        for phase in Phase::ALL {
            for share in [0.5, 1.0] {
                of_phase[phase as usize] = share;
                let done = share_done(&of_phase);
                assert!(
                    done >= last && done <= 1.0,
                    "{phase} {share}: {done} after {last}"
                );
                last = done;
            }
        }
        assert!((last - 1.0).abs() < 1e-9);
    }
}
