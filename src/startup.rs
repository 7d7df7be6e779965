//! What the `meterdesk` subcommands do before and around the app: find or start the
//! database, migrate it, set up logging, and hand over to the runner.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::app::print_command::PrintLimit;
use crate::app::requests::ReceiptOutput;
use crate::app::state::{Look, Message, MessageKind};
use crate::app::{KeyMap, run};
use crate::card::reader::ReaderConfig;
use crate::config::{Config, Loaded};
use crate::db::embedded::{
    APP_DATABASE, Cluster, ClusterSpec, EmbeddedError, Startup, StopOutcome,
};
use crate::db::session::Sessions;
use crate::db::{self, Pool};
use crate::i18n::Lang;

/// The data directory: configured, else the platform default.
pub fn data_dir(config: &Config) -> anyhow::Result<PathBuf> {
    match &config.database.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => Ok(db::embedded::default_data_dir()?),
    }
}

fn embedded_cluster(config: &Config) -> anyhow::Result<Cluster> {
    Ok(Cluster::new(ClusterSpec::new(data_dir(config)?))?)
}

/// Where the database server is.
pub struct Server {
    /// A libpq connection string. Its user is the owner's (the embedded cluster's, or whoever
    /// the configuration names); the desk replaces it with each operator's own role.
    pub conn: String,
    /// Whether this Unix account installed the embedded cluster, and so may act as its owner:
    /// migrate it and make its first administrator.
    pub installer: bool,
    /// The read-only standby for lag-tolerant reads (`[database] replica`).
    pub replica: Option<String>,
}

/// The server to use: configured or from the environment, else the embedded cluster, created
/// and started first when this account is its installer (root or the server's account).
pub async fn find_server(config: &Config) -> anyhow::Result<Server> {
    let configured = config.database.url.as_deref();
    let replica = config.database.replica.clone();
    if let Some(conn) = db::effective_conn_str(configured, |name| std::env::var(name).ok())? {
        return Ok(Server {
            conn,
            installer: false,
            replica,
        });
    }
    if replica.is_some() {
        return Err(anyhow!(
            "[database] replica is set, but no database url: the embedded database has no \
             standby. Name the primary in [database] url, or remove replica."
        ));
    }
    let cluster = embedded_cluster(config)?;
    let installer = cluster.is_installer();
    let cluster = tokio::task::spawn_blocking(move || {
        if installer {
            let startup = cluster.ensure_running()?;
            tracing::info!("embedded database: {startup:?}");
        }
        Ok::<_, EmbeddedError>(cluster)
    })
    .await
    .context("starting the embedded database")??;
    Ok(Server {
        conn: cluster.connection_string(APP_DATABASE),
        installer,
        replica: None,
    })
}

/// The embedded cluster when it is `server` and this account installed it (and so may
/// restart it); `None` for a configured server, which is left as it is.
pub fn installed_cluster(config: &Config, server: &Server) -> anyhow::Result<Option<Cluster>> {
    if !server.installer {
        return Ok(None);
    }
    Ok(Some(embedded_cluster(config)?))
}

/// A pool as the owner, with the schema migrated: for `init`, `migrate`, `demo-data` and the
/// bench. The connection's user must be the owner role (the embedded cluster's installers are,
/// by the kernel's word; for another server, name it in the configuration).
pub async fn open_as_owner(config: &Config) -> anyhow::Result<Pool> {
    let server = find_server(config).await?;
    let deadlines = config.database.deadlines();
    let pool = db::pool_with_deadlines(&server.conn, config.database.pool_size, &deadlines)?;
    let mut client = pool.get().await.map_err(|err| {
        anyhow!(
            "{}\nThis command runs as the database's owner: as root (or the account that \
             installed meterdesk) for the embedded database, or with [database] url naming \
             the owner role for another server.",
            db::DbError::from(err)
        )
    })?;
    db::without_statement_timeout(&client).await?;
    // A demo data load that failed or was killed is undone first (a live one is waited for).
    if db::bulk_load::finish_abandoned(&mut client)
        .await
        .map_err(db::DbError::from)?
        == db::bulk_load::Abandoned::StillLoading
    {
        return Err(db::bulk_load::StillLoading.into());
    }
    db::migrate::require_code_point_order(&client).await??;
    db::migrate::run(&mut client)
        .await
        .context("applying database migrations")?;
    client
        .batch_execute("RESET statement_timeout")
        .await
        .map_err(db::DbError::from)?;
    Ok(pool)
}

/// The log's name in [`own_dir`].
const LOG_FILE: &str = "meterdesk.log";

/// Where this account's own files go (the log, the receipts' copies): the data directory when
/// this account may write there (the installer's), else the account's state directory
/// (`$XDG_STATE_HOME/meterdesk`, `~/.local/state/meterdesk`): a clerk's files are the clerk's,
/// and the machine's installation is not theirs to write.
pub fn own_dir(config: &Config) -> anyhow::Result<PathBuf> {
    let data = data_dir(config)?;
    let writable = std::fs::create_dir_all(&data).is_ok()
        && std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join(LOG_FILE))
            .is_ok();
    if writable {
        return Ok(data);
    }
    let absolute = |dir: std::ffi::OsString| Some(PathBuf::from(dir)).filter(|d| d.is_absolute());
    let state = std::env::var_os("XDG_STATE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|home| home.join(".local/state"))
        })
        .ok_or_else(|| anyhow!("neither XDG_STATE_HOME nor HOME is set: nowhere to keep the log"))?
        .join("meterdesk");
    Ok(state)
}

/// Log lines waiting for the log's writer thread. The queue is allocated and touched whole at
/// start: tracing-appender's default of 128 000 lines was 4 MB of the desk's resident memory
/// (issue 14), for a desk that logs a few lines a minute.
const LOG_LINES_QUEUED: usize = 1_000;

/// Log to `meterdesk.log` in [`own_dir`]; the terminal belongs to the app.
fn init_logging(config: &Config) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = own_dir(config)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_LINES_QUEUED)
        .finish(tracing_appender::rolling::never(&dir, LOG_FILE));
    let filter = tracing_subscriber::EnvFilter::try_from_env("METERDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .init();
    Ok(guard)
}

/// The warning the sign-in screen opens with: the configuration's first (for whoever wrote it,
/// in its words), else the demo card secrets' (for the clerk, in the desk's language).
fn first_warning(config_warnings: &[String], demo_card: bool, lang: Lang) -> Option<String> {
    config_warnings
        .first()
        .cloned()
        .or_else(|| demo_card.then(|| lang.t("login.demo_card_secrets").to_owned()))
}

/// `meterdesk` / `meterdesk run`.
pub async fn run_app(loaded: Loaded) -> anyhow::Result<()> {
    let config = loaded.config;
    let _log = init_logging(&config)?;
    let keymap = KeyMap::new(&config.ui.keys)?;
    // Before the database: a secrets file others may read stops the start at once.
    let card = config.card.credentials()?;
    let server = find_server(&config).await?;
    if server.installer {
        let owner = open_as_owner(&config).await?;
        crate::init::first_administrator_if_none(&owner, config.language()).await?;
    }
    let sessions = Sessions::with_replica(
        &server.conn,
        server.replica.as_deref(),
        config.database.pool_size,
        config.database.deadlines(),
    )?;
    let look = Look {
        monochrome: config.monochrome(),
        ascii_borders: config.ui.ascii_borders,
    };
    let mut app = crate::screens::app(keymap, config.language(), look);
    for warning in &card.demo_warnings {
        tracing::warn!("{warning}");
    }
    if let Some(warning) = first_warning(&loaded.warnings, !card.demo_warnings.is_empty(), app.lang)
    {
        app.message = Some(Message {
            kind: MessageKind::Error,
            text: warning,
        });
    }
    let reader = ReaderConfig {
        reader_name: config.card.reader.clone(),
        ..ReaderConfig::default()
    };
    app.receipt_width = config.receipts.width;
    app.auto_advance = config.ui.auto_advance;
    app.id_policy = config
        .customers
        .id_policy()
        .expect("the identity document policy is validated with the configuration");
    let receipts = ReceiptOutput {
        directory: Some(match &config.receipts.directory {
            Some(directory) => directory.clone(),
            None => own_dir(&config)?.join("receipts"),
        }),
        print_command: config.receipts.print_command.clone(),
        print_limit: PrintLimit(Duration::from_secs(config.receipts.print_limit_secs)),
    };
    run::run(app, sessions, reader, card, receipts).await?;
    Ok(())
}

/// `meterdesk init`.
pub async fn init(config: &Config) -> anyhow::Result<()> {
    let owner = open_as_owner(config).await?;
    if crate::init::has_operators(&owner).await? {
        println!(
            "meterdesk: this installation is set up already; its administrators add operators \
             with :operators."
        );
        return Ok(());
    }
    crate::init::first_administrator_if_none(&owner, config.language()).await
}

/// `meterdesk migrate`.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    open_as_owner(config).await?;
    println!("meterdesk: the database schema is up to date.");
    Ok(())
}

/// The embedded cluster `meterdesk db start` or `db stop` acts on; refused when the
/// configuration or the environment names another server (`[database] url`, `DATABASE_URL`,
/// `PGHOST`), which meterdesk neither starts nor stops: the command would have acted on a
/// cluster the desks do not use.
fn the_embedded_cluster(config: &Config) -> anyhow::Result<Cluster> {
    let configured = config.database.url.as_deref();
    if db::effective_conn_str(configured, |name| std::env::var(name).ok())?.is_some() {
        return Err(anyhow!(
            "the database is not the embedded one: [database] url, DATABASE_URL or PGHOST names \
             a server of its own, which meterdesk neither starts nor stops; start or stop it \
             where it runs"
        ));
    }
    embedded_cluster(config)
}

/// `meterdesk db start`: the embedded cluster started again after `db stop`, as `migrate` or
/// the installer's `meterdesk` would (nothing is migrated); said and left as it is when it
/// runs already. Only the account that installed it starts it, and only once it is made.
pub async fn start_embedded(config: &Config) -> anyhow::Result<()> {
    let cluster = the_embedded_cluster(config)?;
    if !cluster.pgdata().is_dir() {
        return Err(anyhow!(
            "there is no embedded database in {} yet: `meterdesk init` makes it (as root for \
             the machine's installation)",
            data_dir(config)?.display()
        ));
    }
    if !cluster.is_installer() {
        return Err(anyhow!(
            "the embedded database in {} is started by the account that installed it: ask the \
             administrator to run `sudo meterdesk db start`",
            data_dir(config)?.display()
        ));
    }
    let startup = tokio::task::spawn_blocking(move || cluster.ensure_running()).await??;
    match startup {
        Startup::AlreadyRunning => {
            println!("meterdesk: the embedded database was already running.")
        }
        Startup::Started | Startup::Initialised => {
            println!("meterdesk: the embedded database is started.")
        }
    }
    Ok(())
}

/// `meterdesk db stop`.
pub async fn stop_embedded(config: &Config) -> anyhow::Result<()> {
    let cluster = the_embedded_cluster(config)?;
    let outcome = tokio::task::spawn_blocking(move || cluster.stop()).await??;
    match outcome {
        StopOutcome::Stopped => println!("meterdesk: the embedded database is stopped."),
        StopOutcome::WasNotRunning => println!("meterdesk: the embedded database was not running."),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_card_warning_is_in_the_desk_language_and_fits_a_line() {
        for lang in [Lang::En, Lang::Zh] {
            let said = first_warning(&[], true, lang).expect("a warning");
            assert!(!said.contains("source code"), "{said}");
            // The message line is 80 columns at the smallest: "! " and the text.
            assert!(crate::ui::text::width(&said) + 2 <= 80, "{lang:?}: {said}");
        }
        assert!(
            first_warning(&[], true, Lang::Zh)
                .unwrap()
                .contains("演示卡")
        );
        let config = vec!["ui.colour: unknown key".to_owned()];
        assert_eq!(
            first_warning(&config, true, Lang::Zh).as_deref(),
            Some("ui.colour: unknown key")
        );
        assert_eq!(first_warning(&[], false, Lang::Zh), None);
    }
}
