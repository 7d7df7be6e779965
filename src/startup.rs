//! What the `meterdesk` subcommands do before and around the app: find or start the
//! database, migrate it, set up logging, and hand over to the runner.

use std::path::PathBuf;

use anyhow::{Context, anyhow};

use crate::app::{App, KeyMap, run};
use crate::app::state::{Look, Message, MessageKind};
use crate::card::reader::ReaderConfig;
use crate::config::{Config, Loaded};
use crate::db::embedded::{Cluster, ClusterSpec};
use crate::db::{self, Pool};

/// The data directory: configured, else the platform default.
pub fn data_dir(config: &Config) -> PathBuf {
    config
        .database
        .data_dir
        .clone()
        .unwrap_or_else(db::embedded::default_data_dir)
}

/// The server to use: configured or from the environment, else the embedded cluster
/// (created and started if need be). Checked reachable and migrated before returning.
pub async fn open_database(config: &Config) -> anyhow::Result<Pool> {
    let conn = match db::effective_connection_string(config.database.url.as_deref()) {
        Some(conn) => conn,
        None => {
            let spec = ClusterSpec {
                data_dir: data_dir(config),
                durable: true,
            };
            let cluster = tokio::task::spawn_blocking(move || Cluster::ensure_running(&spec))
                .await
                .context("starting the embedded database")??;
            cluster.connection_string("meterdesk")
        }
    };
    let pool = db::pool_from_conn_str(&conn, config.database.pool_size)?;
    db::ping(&pool)
        .await
        .map_err(|err| anyhow!("{err}\nCheck [database] url in config.toml, DATABASE_URL and PG* variables."))?;
    let mut client = pool.get().await.map_err(db::DbError::from)?;
    db::migrate::run(&mut client)
        .await
        .context("applying database migrations")?;
    Ok(pool)
}

/// Log to `meterdesk.log` in the data directory; the terminal belongs to the app.
fn init_logging(config: &Config) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = data_dir(config);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(&dir, "meterdesk.log"));
    let filter = tracing_subscriber::EnvFilter::try_from_env("METERDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .init();
    Ok(guard)
}

/// `meterdesk` / `meterdesk run`.
pub async fn run_app(loaded: Loaded) -> anyhow::Result<()> {
    let config = loaded.config;
    let _log = init_logging(&config)?;
    let keymap = KeyMap::new(&config.ui.keys)?;
    let pool = open_database(&config).await?;
    let look = Look {
        monochrome: config.monochrome(),
        ascii_borders: config.ui.ascii_borders,
    };
    let mut app = App::new(keymap, config.language(), look);
    if let Some(warning) = loaded.warnings.first() {
        app.message = Some(Message {
            kind: MessageKind::Error,
            text: warning.clone(),
        });
    }
    let reader = ReaderConfig {
        reader: config.card.reader.clone(),
    };
    run::run(app, pool, reader).await?;
    Ok(())
}

/// `meterdesk migrate`.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    open_database(config).await?;
    println!("meterdesk: the database schema is up to date.");
    Ok(())
}

/// `meterdesk demo-data`.
pub async fn demo_data(config: &Config, customers: u64, if_empty: bool) -> anyhow::Result<()> {
    let pool = open_database(config).await?;
    let mut client = pool.get().await.map_err(db::DbError::from)?;
    if if_empty && db::demo::has_customers(&client).await? {
        println!("meterdesk: the database already has customers; demo data not loaded.");
        return Ok(());
    }
    let summary = db::demo::load(&mut client, customers, |progress| {
        eprint!("\r{progress}\x1b[K");
    })
    .await?;
    eprintln!();
    println!("{summary}");
    Ok(())
}

/// `meterdesk db stop`.
pub async fn stop_embedded(config: &Config) -> anyhow::Result<()> {
    let spec = ClusterSpec {
        data_dir: data_dir(config),
        durable: true,
    };
    tokio::task::spawn_blocking(move || Cluster::stop_dir(&spec)).await??;
    println!("meterdesk: the embedded database is stopped.");
    Ok(())
}
