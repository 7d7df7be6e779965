//! `meterdesk soak`: many desks at once on one server. N headless desks, each signed in as an
//! operator of its own (a PostgreSQL role made through `operator_create`, as the
//! administrator's screen makes one), serve customers through the `db` API the screens'
//! requests call (`desk`), with a clerk's pauses or none. Then the report per kind of
//! operation (`report`), `meterdesk check`'s rules on the books, and `pgbench -b tpcb-like`
//! with as many clients on the same server (`pgbench`), for the ratio of the two rates.

mod card;
pub mod cpu;
mod desk;
mod pgbench;
pub mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::config::Config;
use crate::db::embedded::{Cluster, ClusterSpec};
use crate::db::operators::{self, NewOperator};
use crate::db::session::Sessions;
use crate::db::{self, Deadlines};
use crate::domain::password::generate_password;
use crate::startup;
use cpu::{Sample, Spent};
use desk::{Arrival, Desk, Operator};
use report::Tally;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct SoakOptions {
    pub desks: usize,
    pub duration: Duration,
    /// A clerk's pauses between requests; without them every desk sends its next request as
    /// soon as the previous one is answered.
    pub think: bool,
    /// Demo customers loaded first when the database has none.
    pub customers: u64,
}

/// One desk in this many is a supervisor's (refunds, card replacements), the fourth of each
/// eight (so a run of four desks has one); the rest are clerks'.
const SUPERVISOR_EVERY: usize = 8;
const SUPERVISOR_AT: usize = 3;
/// The customers who come to the desks, drawn at random from the table before the run.
const ARRIVALS: i64 = 4096;
/// pgbench runs as long as the soak, up to this.
const PGBENCH_AT_MOST: Duration = Duration::from_secs(60);
/// Meters of each type kept in stock while the desks run, per desk, topped up every [`RESTOCK_EVERY`]: a
/// desk without pauses opens up to three accounts a second (four desks on a quiet server),
/// and a run on a database an earlier run had emptied opened no account and so no card at all,
/// a lighter mix than a counter's.
const STOCK_PER_DESK: i64 = 20;
const RESTOCK_EVERY: Duration = Duration::from_millis(500);

/// Where the soak runs.
pub struct Target {
    /// A libpq string as the database's owner; the desks connect to the same server and
    /// database as their own operators.
    pub owner_conn: String,
    /// Each desk's pool, as the app's (`[database] pool_size`).
    pub pool_size: usize,
    pub deadlines: Deadlines,
    /// A role that may create pgbench's scratch database (see `pgbench::Server`).
    pub pgbench_admin: String,
}

/// What a soak found.
pub struct Summary {
    pub tally: Tally,
    pub elapsed: Duration,
    /// Of `meterdesk check`'s rules.
    pub disagreements: usize,
    /// pgbench's transactions per second, or why there is no figure.
    pub pgbench_tps: Result<f64, String>,
    /// The CPU the server and the desks' process spent while the desks ran.
    pub cpu: Spent,
}

impl Summary {
    /// Operations done per second, of every kind.
    pub fn ops_per_second(&self) -> f64 {
        self.tally.done() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// `meterdesk soak`: on the configured database, else the embedded one. Fails on any failed
/// operation or disagreement in the books.
pub async fn soak_command(config: &Config, options: SoakOptions) -> anyhow::Result<()> {
    let server = startup::find_server(config).await?;
    let configured = db::effective_conn_str(config.database.url.as_deref(), |name| {
        std::env::var(name).ok()
    })?;
    let pgbench_admin = match configured {
        Some(conn) => conn,
        None => Cluster::new(ClusterSpec::new(startup::data_dir(config)?))?
            .superuser_connection_string("postgres"),
    };
    let target = Target {
        owner_conn: server.conn,
        pool_size: config.database.pool_size,
        deadlines: config.database.deadlines(),
        pgbench_admin,
    };
    // The owner's pool migrates first, as every owner's command does.
    startup::open_as_owner(config).await?;
    let summary = run(&target, options).await?;
    let failures = summary.tally.failures();
    if failures > 0 || summary.disagreements > 0 {
        bail!(
            "the soak failed: {}, {} in the books",
            super::counted(failures, "failed operation"),
            super::counted(summary.disagreements, "disagreement")
        );
    }
    Ok(())
}

/// Runs the soak on `target` and prints what it finds as it goes.
pub async fn run(target: &Target, options: SoakOptions) -> anyhow::Result<Summary> {
    // One held here, two for the demo loader.
    let owner = db::pool_with_deadlines(&target.owner_conn, 3, &target.deadlines)?;
    let mut client = owner.get().await.map_err(db::DbError::from)?;
    db::without_statement_timeout(&client).await?;
    if !crate::tools::demo::has_customers(&client).await? {
        eprintln!("loading {} demo customers…", options.customers);
        crate::tools::demo::load(&owner, options.customers, |progress| {
            eprint!("\r{progress}\x1b[K");
        })
        .await?;
        eprintln!();
    }
    let mut last_no = last_delivered_number(&client).await?;
    let in_stock = stock_meters(&client, options.desks, &mut last_no)
        .await?
        .in_stock;
    let settings = client
        .query_one(
            "SELECT current_setting('max_connections') AS max_connections,
                    (SELECT count(*) FROM customer) AS customers",
            &[],
        )
        .await?;
    let (max_connections, customers): (String, i64) =
        (settings.get("max_connections"), settings.get("customers"));
    let backend: i32 = client
        .query_one("SELECT pg_backend_pid() AS pid", &[])
        .await?
        .get("pid");
    let postmaster = cpu::postmaster_of(backend);
    println!(
        "meterdesk soak: {} desks ({} supervisors), {} s, {}, {customers} customers, \
         {in_stock} meters in stock; server max_connections {max_connections}, pool of {} per \
         desk",
        options.desks,
        (0..options.desks)
            .filter(|index| index % SUPERVISOR_EVERY == SUPERVISOR_AT)
            .count(),
        options.duration.as_secs(),
        if options.think {
            "clerk's pauses"
        } else {
            "no pauses"
        },
        target.pool_size,
    );
    let run_id = format!("soak-{:08x}", fastrand::u32(..));
    let department_id = operators::department(&client, "Soak").await?;
    let mut operators = Vec::with_capacity(options.desks);
    let mut operator_ids = Vec::with_capacity(options.desks);
    for index in 0..options.desks {
        let operator = Operator {
            login: format!("{run_id}-{index:03}"),
            password: generate_password(),
            supervisor: index % SUPERVISOR_EVERY == SUPERVISOR_AT,
        };
        let role = if operator.supervisor {
            "supervisor"
        } else {
            "clerk"
        };
        let id = operators::create(
            &client,
            &NewOperator {
                login: &operator.login,
                full_name: &operator.login,
                department_id,
                role_codes: &[role],
                password: &operator.password,
            },
        )
        .await?;
        operators::keep_password(&client, id).await?;
        operator_ids.push(id);
        operators.push(operator);
    }
    // The owner draws them, as the bench samples its search terms: who comes to the counter
    // is no desk's query.
    let arrivals: Arc<[Arrival]> = client
        .query(
            "SELECT customer_no, phone, name FROM customer ORDER BY random() LIMIT $1",
            &[&ARRIVALS],
        )
        .await?
        .iter()
        .map(|row| Arrival::new(row.get("customer_no"), row.get("phone"), row.get("name")))
        .collect();
    let stock_keeper = StockKeeper {
        client: owner.get().await.map_err(db::DbError::from)?,
        last_no,
    };
    let served = serve(
        target,
        options,
        &run_id,
        &operators,
        arrivals,
        postmaster,
        stock_keeper,
    )
    .await;
    // Whatever happened, the run's operators sign in no more.
    for id in operator_ids {
        operators::set_enabled(&client, id, false).await?;
    }
    let (tally, elapsed, cpu, delivered) = served?;
    println!();
    println!("meters delivered to the stock while the desks ran: {delivered}");
    print!("{}", report::report(&tally, elapsed));
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    println!("{}", cpu.line(elapsed, tally.done(), cores));

    let checks = db::books::check(&mut client).await?;
    println!();
    println!("the books (meterdesk check):");
    print!("{}", crate::tools::check::report(&checks));
    let disagreements = checks.iter().map(|check| check.disagreements.len()).sum();
    drop(client);
    drop(owner);

    let pgbench_duration = options.duration.min(PGBENCH_AT_MOST);
    let server = pgbench::Server {
        admin: target.pgbench_admin.clone(),
    };
    let pgbench_tps = pgbench::tps(&server, options.desks, pgbench_duration)
        .await
        .map_err(|error| format!("{error:#}"));
    let summary = Summary {
        tally,
        elapsed,
        disagreements,
        pgbench_tps,
        cpu,
    };
    println!();
    match &summary.pgbench_tps {
        Ok(tps) => {
            println!(
                "pgbench -b tpcb-like, {} clients, {} s: {tps:.1} tps",
                options.desks,
                pgbench_duration.as_secs()
            );
            println!(
                "ratio: {:.2} (business operations done per second {:.1} ÷ pgbench tps)",
                summary.ops_per_second() / tps,
                summary.ops_per_second()
            );
        }
        Err(why) => println!("pgbench: no figure, {why}"),
    }
    Ok(summary)
}

/// What a delivery of meters did.
struct Stock {
    in_stock: i64,
    delivered: i64,
}

/// Where the run's deliveries of meters are numbered: `9` and eleven digits, after the highest
/// such number. Read once a run: the meter table is scanned for it.
async fn last_delivered_number(client: &tokio_postgres::Client) -> anyhow::Result<i64> {
    let row = client
        .query_one(
            "SELECT coalesce(max(meter_no::bigint), 900000000000) AS no
             FROM meter WHERE meter_no ~ '^9[0-9]{11}$'",
            &[],
        )
        .await
        .context("reading the meters delivered before")?;
    Ok(row.get("no"))
}

/// Delivers meters to the stock, as a utility receives them, up to [`STOCK_PER_DESK`] for
/// each desk of every meter type (a new customer's type takes some of them only), numbered on
/// from `last_no`, which it moves past them.
async fn stock_meters(
    client: &tokio_postgres::Client,
    desks: usize,
    last_no: &mut i64,
) -> anyhow::Result<Stock> {
    let wanted = desks as i64 * STOCK_PER_DESK;
    let row = client
        .query_one(
            "WITH stock AS (
                 SELECT t.id, count(m.id) AS meters
                 FROM meter_type t
                 LEFT JOIN meter m ON m.meter_type_id = t.id AND m.status = 'uninstalled'
                 GROUP BY t.id
             ), missing AS (
                 SELECT stock.id, row_number() OVER () AS n
                 FROM stock, generate_series(1, $1 - stock.meters)
             ), delivered AS (
                 INSERT INTO meter (meter_no, meter_type_id)
                 SELECT ($2 + missing.n)::text, missing.id FROM missing
                 RETURNING 1
             )
             SELECT (SELECT sum(meters)::bigint FROM stock) AS in_stock,
                    (SELECT count(*) FROM delivered) AS delivered",
            &[&wanted, &*last_no],
        )
        .await
        .context("delivering meters to the stock")?;
    let delivered: i64 = row.get("delivered");
    *last_no += delivered;
    Ok(Stock {
        in_stock: row.get::<_, i64>("in_stock") + delivered,
        delivered,
    })
}

/// The owner's connection that keeps the stock while the desks run, and the last number it
/// delivered.
struct StockKeeper {
    client: deadpool_postgres::Object,
    last_no: i64,
}

impl StockKeeper {
    /// Tops the stock up until `until`; how many meters it delivered.
    async fn keep(mut self, desks: usize, until: Instant) -> anyhow::Result<i64> {
        let mut delivered = 0;
        while Instant::now() < until {
            tokio::time::sleep(RESTOCK_EVERY).await;
            delivered += stock_meters(&self.client, desks, &mut self.last_no)
                .await?
                .delivered;
        }
        Ok(delivered)
    }
}

/// Signs every desk in, lets them serve for the run's duration at once, and tallies them and
/// the CPU spent meanwhile (the server's when `postmaster` is of this machine).
async fn serve(
    target: &Target,
    options: SoakOptions,
    run_id: &str,
    operators: &[Operator],
    arrivals: Arc<[Arrival]>,
    postmaster: Option<u32>,
    stock_keeper: StockKeeper,
) -> anyhow::Result<(Tally, Duration, Spent, i64)> {
    let mut desks = Vec::with_capacity(operators.len());
    for (index, operator) in operators.iter().enumerate() {
        let sessions = Sessions::new(&target.owner_conn, target.pool_size, target.deadlines)?;
        let key_prefix = format!("{run_id}-{index}");
        desks.push(
            Desk::sign_in(
                sessions,
                operator,
                options.think,
                key_prefix,
                index as u64,
                arrivals.clone(),
            )
            .await
            .with_context(|| format!("signing in desk {index}"))?,
        );
    }
    let before = Sample::now(postmaster);
    let started = Instant::now();
    let until = started + options.duration;
    let running: Vec<_> = desks
        .into_iter()
        .map(|desk| tokio::spawn(desk.run(until)))
        .collect();
    let keeper = tokio::spawn(stock_keeper.keep(operators.len(), until));
    let mut tally = Tally::default();
    for desk in running {
        tally.merge(desk.await.context("a desk's task")?);
    }
    let elapsed = started.elapsed();
    let spent = Spent::between(before, Sample::now(postmaster));
    let delivered = keeper.await.context("the stock keeper's task")??;
    Ok((tally, elapsed, spent, delivered))
}
