//! The `meterdesk` command: the counter app, and the tools around it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use meterdesk::config::{Config, config_files};
use meterdesk::domain::card_records::MeterNumber;
use meterdesk::startup;
use meterdesk::tools::{bench, card_status, check, demo, meter_sim, soak};

#[derive(Parser)]
#[command(version, about = "meterdesk — the counter desk for metered water")]
struct Cli {
    /// A configuration file read last: over /etc/meterdesk/config.toml (or
    /// $METERDESK_SYSTEM_CONFIG) and the user's ~/.config/meterdesk/config.toml, key by key.
    #[arg(long, env = "METERDESK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the counter app (the default).
    Run,
    /// Set up an installation: the schema and reference data (no demo customers), and the first
    /// administrator, asked for on the terminal. Run it as root (or the owner role).
    Init,
    /// Apply the database migrations and exit.
    Migrate,
    /// Fill an empty database with realistic demo data and print the demo operators' passwords.
    DemoData {
        /// How many customers to create.
        #[arg(long, default_value_t = 10_000)]
        customers: u64,
        /// Do nothing (and succeed) when the database already has customers.
        #[arg(long)]
        if_empty: bool,
    },
    /// Check that the books balance: every account's balance against its ledger, bills against
    /// their payments, card operations against the ledger, receipt numbers. Prints what it
    /// checked; fails if anything disagrees.
    Check,
    /// Measure the customer table's searches on a big database (loads 1 000 000 demo
    /// customers into an empty one first), its screen, and the running app's memory (in tmux).
    Bench {
        /// Measure the customers already in the database instead of loading them.
        #[arg(long)]
        customers_already_loaded: bool,
        /// Then drive the running app through clerk's rounds for this many minutes, reading its
        /// memory at 1, 10 and 60 minutes and at the end.
        #[arg(long, default_value_t = 0)]
        session_minutes: u64,
    },
    /// Many desks at once: N headless desks, each signed in as an operator of its own, serve
    /// customers through the counter's operations; prints operations per second and p50/p95/p99
    /// per kind, refusals apart from failures, checks the books and compares with pgbench
    /// (tpcb-like, as many clients) on the same server. Fails on any failure or disagreement.
    Soak {
        /// How many desks.
        #[arg(long, default_value_t = 8)]
        desks: usize,
        /// How long, in minutes (fractions allowed).
        #[arg(long, default_value_t = 2.0)]
        minutes: f64,
        /// No pauses: each desk sends its next request as soon as one is answered.
        #[arg(long)]
        no_think: bool,
        /// Demo customers loaded first when the database has none.
        #[arg(long, default_value_t = 10_000)]
        customers: u64,
    },
    /// The embedded database cluster.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Meters.
    Meters {
        #[command(subcommand)]
        action: MetersAction,
    },
    /// Meter readings.
    Readings {
        #[command(subcommand)]
        action: ReadingsAction,
    },
    /// The IC card reader and the card in it.
    Card {
        #[command(subcommand)]
        action: CardAction,
    },
    /// A simulated card water meter, for the card in the reader.
    Meter {
        #[command(subcommand)]
        action: MeterAction,
    },
}

#[derive(Subcommand)]
enum ReadingsAction {
    /// Print a reading import file (CSV) to start from: the header, the columns explained and
    /// an example row, as comment lines the importer skips.
    Template,
}

#[derive(Subcommand)]
enum MetersAction {
    /// Print a meter import file (CSV) to start from: the header, the columns explained and an
    /// example row, as comment lines the importer skips.
    Template,
}

#[derive(Subcommand)]
enum CardAction {
    /// Print the reader, the card in it and its issuer PIN's tries left (the PIN is not
    /// presented, so no try is spent).
    Status,
}

#[derive(Subcommand)]
enum MeterAction {
    /// Swipe the card on the meter: load its purchase, write the meter's state back to it.
    Swipe(MeterArgs),
    /// Draw water from the meter's credit.
    Use {
        #[command(flatten)]
        meter: MeterArgs,
        #[arg(long)]
        litres: u32,
    },
}

#[derive(Args)]
struct MeterArgs {
    /// The meter's number, as on its cards.
    #[arg(long = "meter", value_parser = MeterNumber::new)]
    number: MeterNumber,
    /// The meter's memory; default meters/<NUMBER>.json in the data directory.
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(Subcommand)]
enum DbAction {
    /// Start the embedded cluster again after `db stop` (nothing done if it runs already).
    Start,
    /// Stop the embedded cluster (it keeps running after meterdesk exits, for other sessions).
    Stop,
}

/// The desk runs on two worker threads whatever the server's core count: its I/O is a handful
/// of connections and one reader, and on a shared server with dozens of cores and dozens of
/// desks, a worker (and a malloc arena) per core per desk would be memory spent on nothing.
/// The tools (soak, bench, demo-data) keep one worker per core.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(command, Command::Run) {
        builder.worker_threads(DESK_WORKER_THREADS);
    }
    builder.enable_all().build()
}

const DESK_WORKER_THREADS: usize = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let files = config_files(cli.config.as_deref(), &|name| std::env::var_os(name));
    let loaded = match Config::load(&files) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("meterdesk: {err}");
            return ExitCode::from(2);
        }
    };
    for warning in &loaded.warnings {
        eprintln!("meterdesk: warning: {warning}");
    }
    let command = cli.command.unwrap_or(Command::Run);
    let runtime = match runtime_for(&command) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("meterdesk: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Run => startup::run_app(loaded).await,
            Command::Init => startup::init(&loaded.config).await,
            Command::Migrate => startup::migrate(&loaded.config).await,
            Command::DemoData {
                customers,
                if_empty,
            } => demo::demo_data_command(&loaded.config, customers, if_empty).await,
            Command::Check => check::check_command(&loaded.config).await,
            Command::Bench {
                customers_already_loaded,
                session_minutes,
            } => {
                let options = bench::BenchOptions {
                    customers_already_loaded,
                    session_minutes,
                };
                bench::run(&loaded.config, cli.config.as_deref(), options).await
            }
            Command::Soak {
                desks,
                minutes,
                no_think,
                customers,
            } => {
                let options = soak::SoakOptions {
                    desks,
                    duration: std::time::Duration::from_secs_f64(minutes.max(0.0) * 60.0),
                    think: !no_think,
                    customers,
                };
                soak::soak_command(&loaded.config, options).await
            }
            Command::Db {
                action: DbAction::Start,
            } => startup::start_embedded(&loaded.config).await,
            Command::Db {
                action: DbAction::Stop,
            } => startup::stop_embedded(&loaded.config).await,
            Command::Meters {
                action: MetersAction::Template,
            } => {
                let lang = loaded.config.language();
                print!(
                    "{}",
                    meterdesk::screens::reference::meter_import::meter_import_template(lang)
                );
                Ok(())
            }
            Command::Readings {
                action: ReadingsAction::Template,
            } => {
                let lang = loaded.config.language();
                print!(
                    "{}",
                    meterdesk::screens::reading_import::reading_import_template(lang)
                );
                Ok(())
            }
            Command::Card {
                action: CardAction::Status,
            } => card_status::card_status(&loaded.config).await,
            Command::Meter {
                action: MeterAction::Swipe(meter),
            } => meter_sim::swipe(&loaded.config, &meter.number, meter.state.as_deref()).await,
            Command::Meter {
                action: MeterAction::Use { meter, litres },
            } => meter_sim::use_water(
                &loaded.config,
                &meter.number,
                litres,
                meter.state.as_deref(),
            ),
        }
    });
    // Background tasks (health watcher, ticker) must not keep a finished command alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("meterdesk: {err:#}");
            ExitCode::FAILURE
        }
    }
}
