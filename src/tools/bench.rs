//! `meterdesk bench`: how fast the customer table answers on a big database.
//!
//! For each kind of search, p50/p95 of the app's path (a pooled connection and
//! [`customers::page`]) next to the same SQL sent directly on one connection, and their ratio;
//! the first page against a page 40 000 rows deep reached by keyset; the database's size on
//! disk per million customers; the screen figures; the resident memory of the running app
//! (`running_app`). The two sides of each comparison run in turn, one run each, so both meet
//! the same cache and the same load of the machine's other work.

pub mod running_app;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::db::customers::{self, Cursor, PageAt, PageQuery};
use crate::db::{self, Pool};
use crate::domain::search::{CustomerSearch, classify};
use crate::screens::measure::{Latency, SCREEN, measure};
use crate::startup;

/// Customers loaded when the database is empty.
const CUSTOMERS: u64 = 1_000_000;
/// Rows of a page: the table on a 120×40 terminal.
const PAGE: usize = 40;
/// Timed runs of each measurement.
const RUNS: usize = 200;
/// How deep the deep page is.
const DEEP_ROWS: usize = 40_000;

/// Whether to load the demo customers first.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub customers_already_loaded: bool,
    /// How long the running app is driven for its memory over time (0: not at all).
    pub session_minutes: u64,
}

/// `config_path`: the `--config` file `config` was read from last; the app the bench runs for
/// its memory figure is started with it (and reads the same system and user files).
pub async fn run(
    config: &Config,
    config_path: Option<&Path>,
    options: BenchOptions,
) -> anyhow::Result<()> {
    let pool = startup::open_as_owner(config).await?;
    // "Direct": one connection held for the whole run, the statement sent on it as it is.
    let direct = pool.get().await.map_err(db::DbError::from)?;
    db::without_statement_timeout(&direct).await?;
    if !options.customers_already_loaded {
        if super::demo::has_customers(&direct).await? {
            bail!(
                "the database already has customers: pass --customers-already-loaded to \
                 measure them, or use an empty database"
            );
        }
        eprintln!("loading {CUSTOMERS} demo customers…");
        let line = super::demo::ProgressLine::starting_now();
        super::demo::load(&pool, CUSTOMERS, |progress| line.show(progress)).await?;
        eprintln!();
    }
    let direct: &tokio_postgres::Client = &direct;
    let customers: i64 = direct
        .query_one("SELECT count(*) AS customers FROM customer", &[])
        .await?
        .get("customers");
    println!("meterdesk bench: {customers} customers, pages of {PAGE} rows, {RUNS} runs each");
    let bytes: i64 = direct
        .query_one("SELECT pg_database_size(current_database()) AS bytes", &[])
        .await?
        .get("bytes");
    println!(
        "database size on disk: {:.2} GB, {:.0} MB per million customers",
        bytes as f64 / 1e9,
        bytes as f64 / 1e6 / (customers.max(1) as f64 / 1e6)
    );
    println!();
    println!(
        "{:<34} {:>7} {:>9} {:>9} {:>11} {:>11} {:>9}",
        "search", "rows", "app p50", "app p95", "direct p50", "direct p95", "p95 ratio"
    );
    // The statement the desk sends for a text search depends on what its connection knows of
    // the statistics (`customers::SearchStatistics`): the direct side sends the same.
    let statistics = customers::search_statistics(direct).await?;
    for (label, queries) in search_kinds(direct).await? {
        let searches = queries
            .iter()
            .map(|typed| classify(typed).with_context(|| format!("bench query {typed:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let first = customers::page(direct, &searches[0], &PageAt::First, PAGE).await?;
        let (app, direct_runs) = time_side_by_side(
            |run| {
                let (pool, search) = (&pool, &searches[run % searches.len()]);
                async move { app_page(pool, search, &PageAt::First).await }
            },
            |run| {
                let search = &searches[run % searches.len()];
                let query = PageQuery::new(search, &PageAt::First, PAGE, &statistics);
                async move {
                    direct
                        .query(query.sql.as_str(), &query.param_refs())
                        .await?;
                    Ok(())
                }
            },
        )
        .await?;
        println!(
            "{:<34} {:>7} {:>9} {:>9} {:>11} {:>11} {:>9.2}",
            label,
            first.rows.len(),
            millis(app.p50),
            millis(app.p95),
            millis(direct_runs.p50),
            millis(direct_runs.p95),
            app.p95.as_secs_f64() / direct_runs.p95.as_secs_f64(),
        );
    }

    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>12} {:>12} {:>6}",
        "page 40 000 rows deep", "first p50", "first p95", "deep p50", "deep p95", "ratio"
    );
    for typed in ["", "王", "朝阳", "138"] {
        let search = classify(typed)?;
        let Some(deep) = cursor_rows_deep(&pool, &search, DEEP_ROWS).await? else {
            println!("{:<34} fewer than {DEEP_ROWS} rows", describe(typed));
            continue;
        };
        let at = PageAt::After(deep);
        let (first, deep) = time_side_by_side(
            |_| app_page(&pool, &search, &PageAt::First),
            |_| app_page(&pool, &search, &at),
        )
        .await?;
        println!(
            "{:<34} {:>9} {:>9} {:>12} {:>12} {:>6.2}",
            describe(typed),
            millis(first.p50),
            millis(first.p95),
            millis(deep.p50),
            millis(deep.p95),
            deep.p95.as_secs_f64() / first.p95.as_secs_f64(),
        );
    }

    // The screen as the clerk sees it after sign-in: the first page of all customers.
    let rows = usize::from(SCREEN.1) - 5;
    let first_page = customers::page_on(
        pool.get().await?,
        &CustomerSearch::All,
        &PageAt::First,
        rows,
    )
    .await?;
    let screen = measure(first_page, RUNS)?;
    println!();
    println!(
        "frame time of a 120×40 customer table: p50 {} p95 {}",
        millis(screen.frame.p50),
        millis(screen.frame.p95)
    );
    println!(
        "bytes written to the terminal per row move: {:.0}",
        screen.bytes_per_row_move
    );
    let exe = std::env::current_exe().context("finding meterdesk's own binary")?;
    // tmux starts the app in its own working directory: a relative path would not be found.
    let config_path = config_path
        .map(std::path::absolute)
        .transpose()
        .context("the config file's path")?;
    let launch = running_app::Launch {
        exe: &exe,
        config: config_path.as_deref(),
        lang: config.language(),
    };
    match running_app::measure(&pool, &launch, options.session_minutes).await? {
        running_app::Outcome::Measured(app) => print_running_app(&app),
        running_app::Outcome::Skipped(why) => println!("the running app: skipped, {why}"),
    }
    Ok(())
}

fn print_running_app(app: &running_app::AppFigures) {
    let (columns, rows) = SCREEN;
    println!();
    println!("the running app in a {columns}×{rows} tmux pane, timed from outside:");
    println!("  start to first frame: {}", millis(app.first_frame));
    for (label, latency) in [
        ("row move, key to frame", app.row_move),
        ("search by number, typed to its row", app.search_shown),
    ] {
        println!(
            "  {label:<36} p50 {} p95 {} p99 {}",
            millis(latency.p50),
            millis(latency.p95),
            millis(latency.p99)
        );
    }
    let kb = |memory: running_app::Memory| {
        format!(
            "VmRSS {} kB, peak VmHWM {} kB",
            memory.resident_kb, memory.peak_kb
        )
    };
    println!(
        "  memory after sign-in, {} pages down, searches and Details: {}",
        running_app::PAGES,
        kb(app.memory)
    );
    for (minutes, memory) in &app.memory_over_time {
        println!(
            "  memory after {minutes} min of rounds at the counter: {}",
            kb(*memory)
        );
    }
}

/// The searches of each kind: several queries, taken in turn, so no single lucky or unlucky
/// value decides the figure.
async fn search_kinds(
    client: &tokio_postgres::Client,
) -> anyhow::Result<Vec<(&'static str, Vec<String>)>> {
    let sample = |sql: &'static str| async move {
        let rows = client.query(sql, &[]).await?;
        let values: Vec<String> = rows.iter().map(|row| row.get("sample")).collect();
        if values.is_empty() {
            bail!("no sample for the bench: {sql}");
        }
        Ok(values)
    };
    Ok(vec![
        (
            "customer number",
            sample(
                "SELECT customer_no::text AS sample FROM customer TABLESAMPLE SYSTEM (1)
                 ORDER BY random() LIMIT 50",
            )
            .await?,
        ),
        (
            "name prefix (2 chars)",
            sample(
                "SELECT DISTINCT left(name, 2) AS sample FROM customer TABLESAMPLE SYSTEM (1)
                 WHERE name ~ '^[^ -~]{2}' LIMIT 50",
            )
            .await?,
        ),
        ("name contains common \"王\"", vec!["王".into()]),
        ("name contains common \"伟\"", vec!["伟".into()]),
        ("name contains common \"Anna\"", vec!["anna".into()]),
        (
            "name contains rare",
            vec![
                "晓涵".into(),
                "欣然".into(),
                "Wang".into(),
                "Kowalski".into(),
            ],
        ),
        ("name contains none", vec!["无此人".into(), "Zq".into()]),
        ("phone prefix \"138\"", vec!["138".into()]),
        (
            "phone prefix (7 digits)",
            sample(
                "SELECT left(phone, 7) AS sample FROM customer TABLESAMPLE SYSTEM (1)
                 WHERE phone ~ '^1[0-9]{10}$' ORDER BY random() LIMIT 50",
            )
            .await?,
        ),
        (
            "meter number (10 of 12)",
            sample(
                "SELECT left(meter_no, 10) AS sample FROM meter TABLESAMPLE SYSTEM (1)
                 ORDER BY random() LIMIT 50",
            )
            .await?,
        ),
        (
            "card number",
            // As printed (nine digits or more: sql/V8); cards of a database loaded before V8
            // have eight, which a leading zero keeps from being read as a customer number.
            sample(
                "SELECT lpad(card_no::text, 9, '0') AS sample FROM card TABLESAMPLE SYSTEM (1)
                 ORDER BY random() LIMIT 50",
            )
            .await?,
        ),
        ("address fragment \"朝阳\"", vec!["朝阳".into()]),
        (
            "address fragment (road + no.)",
            vec!["建国路88号".into(), "人民路1号".into(), "幸福里27".into()],
        ),
    ])
}

/// The app's path: a connection from the pool, then one page.
async fn app_page(pool: &Pool, search: &CustomerSearch, at: &PageAt) -> anyhow::Result<()> {
    customers::page_on(pool.get().await?, search, at, PAGE).await?;
    Ok(())
}

/// The cursor of the row `depth` rows into `search`, reached page by page as a clerk holding
/// PgDn would; None if the search has fewer rows.
async fn cursor_rows_deep(
    pool: &Pool,
    search: &CustomerSearch,
    depth: usize,
) -> anyhow::Result<Option<Cursor>> {
    let client = pool.get().await.map_err(db::DbError::from)?;
    let mut at = PageAt::First;
    let mut passed = 0;
    loop {
        let page = customers::page(&**client, search, &at, PAGE).await?;
        let Some(last) = page.rows.last() else {
            return Ok(None);
        };
        passed += page.rows.len();
        if passed >= depth {
            return Ok(Some(last.cursor(search)));
        }
        if !page.more_after {
            return Ok(None);
        }
        at = PageAt::After(last.cursor(search));
    }
}

/// Runs `left(i)` and `right(i)` in turn, a few times to warm up, then [`RUNS`] times each
/// timed, each side first every other run: measured one after the other, the second would
/// find the cache the first warmed (or autovacuum's fresh statistics) and a different load of
/// the machine.
async fn time_side_by_side<L, LF, R, RF>(
    mut left: L,
    mut right: R,
) -> anyhow::Result<(Latency, Latency)>
where
    L: FnMut(usize) -> LF,
    LF: Future<Output = anyhow::Result<()>>,
    R: FnMut(usize) -> RF,
    RF: Future<Output = anyhow::Result<()>>,
{
    for i in 0..10 {
        left(i).await?;
        right(i).await?;
    }
    let mut left_times = Vec::with_capacity(RUNS);
    let mut right_times = Vec::with_capacity(RUNS);
    // Each side goes first every other run: the one timed second would otherwise always
    // find the pages the first just read (at 10 M a cold name prefix made the app look 1.5 ×).
    for i in 0..RUNS {
        let left_first = i % 2 == 0;
        for left_now in [left_first, !left_first] {
            let started = Instant::now();
            if left_now {
                left(i).await?;
                left_times.push(started.elapsed());
            } else {
                right(i).await?;
                right_times.push(started.elapsed());
            }
        }
    }
    Ok((Latency::of(left_times), Latency::of(right_times)))
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn describe(typed: &str) -> String {
    if typed.is_empty() {
        "all customers".to_owned()
    } else {
        format!("search \"{typed}\"")
    }
}
