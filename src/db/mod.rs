//! The only place with SQL: the pool, the embedded cluster, migrations, one file per aggregate.

pub mod accounts;
pub mod admin;
mod applied_write;
pub mod arrears;
pub mod audit;
pub mod books;
pub mod bulk_load;
mod caching_client;
pub mod cancel;
pub mod card_ops;
pub mod cards;
pub mod closing;
pub mod customer_changes;
pub mod customer_types;
pub mod customers;
pub mod embedded;
pub mod health;
pub mod lost;
pub mod meters;
pub mod migrate;
pub mod operators;
pub mod overview;
pub mod pgpass;
pub mod price_schemes;
pub mod readings;
pub mod receipts;
pub mod refused;
pub mod roles;
mod rows;
pub mod session;
pub mod shifts;
pub mod tls;
mod transaction;
pub mod zone;

use std::time::Duration;

pub use deadpool_postgres::Pool;
use deadpool_postgres::{
    Manager, ManagerConfig, PoolError, RecyclingMethod, Runtime, Timeouts, tokio_postgres,
};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::{Host, TargetSessionAttrs};
use tokio_postgres::error::SqlState;

pub use caching_client::{CachingClient, Planning};
pub use health::HealthProbe;
pub use lost::LostConnection;
pub use transaction::Transaction;

/// How long a database call may take before the database counts as unreachable, from
/// `[database]` in config.toml: a clerk must hear about a dead server or network in seconds,
/// not stare at a frozen screen. Past a deadline the request is parked and sent again when the
/// server answers (writes with their idempotency key, so that is safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The server cancels a statement that runs longer (`statement_timeout`).
    pub statement: Duration,
    /// Data sent but not acknowledged this long ends the connection (`TCP_USER_TIMEOUT`); the
    /// TCP keepalive finds an idle connection's dead peer in about twice this.
    pub tcp_user: Duration,
    /// Connecting, making a pool connection, checking one, and the health ping.
    pub connect: Duration,
    /// Waiting for a free connection when every pooled one is in use.
    pub pool_wait: Duration,
}

impl Deadlines {
    /// How long a request of the desk may go unanswered before it is given up as the database
    /// unreachable (`Sessions::answering_within`): its statement's own deadline, plus as long
    /// as its data may go unacknowledged, plus its waits for a connection and for making one,
    /// so that a live server's statement timeout always answers first. The app's requests
    /// are short lookups and writes: one statement that may take long, at most.
    pub fn request(&self) -> Duration {
        self.statement + self.tcp_user + self.connect + self.pool_wait
    }

    /// [`Deadlines::request`] for an import, whose one long statement may take
    /// [`IMPORT_STATEMENT_TIMEOUT`].
    pub fn import(&self) -> Duration {
        Deadlines {
            statement: IMPORT_STATEMENT_TIMEOUT,
            ..*self
        }
        .request()
    }
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            statement: Duration::from_secs(30),
            tcp_user: Duration::from_secs(10),
            connect: Duration::from_secs(2),
            pool_wait: Duration::from_secs(2),
        }
    }
}

/// The environment variables that override the configured connection, in libpq's spelling.
const ENV_OVERRIDES: [(&str, &str); 5] = [
    ("PGHOST", "host"),
    ("PGPORT", "port"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGDATABASE", "dbname"),
];

/// The payment method (its code) the ledger's and the journal's trigger `a_method_the_type_takes`
/// (sql/V107) refused: disabled, or taken off the customer's type, after the desk read the
/// type's methods and after the request's own check asked. `None` for any other error.
pub fn method_no_longer_taken(error: &tokio_postgres::Error) -> Option<String> {
    let server = error.as_db_error()?;
    if *server.code() != SqlState::CHECK_VIOLATION {
        return None;
    }
    let rest = server.message().strip_prefix("payment method ")?;
    let (code, _) = rest.split_once(" is not one the customer's type takes")?;
    Some(code.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "the database connection settings are not valid ({0}): fix the connection string in \
         config.toml, DATABASE_URL or the PG* variables"
    )]
    InvalidSettings(String),

    #[error(
        "database unreachable: {0}. Check that the database server is running; meterdesk \
         reconnects by itself once it is back"
    )]
    Unreachable(LostConnection),

    #[error(
        "database error: {}. If it happens again, report it with this message",
        describe(.0)
    )]
    Query(#[source] tokio_postgres::Error),

    #[error("the database holds what its rules forbid ({0}). Report it with this message")]
    Inconsistent(String),

    /// The server no longer lets the signed-in operator connect: disabled, or their password
    /// changed elsewhere. Waiting does not heal it; signing in again might.
    #[error("the database no longer accepts this operator's sign-in ({0})")]
    SignedOut(String),
}

/// What the server said (its message and SQLSTATE), or the client-side cause: the error's
/// own text is only "db error" for everything the server refused.
fn describe(error: &tokio_postgres::Error) -> String {
    match (error.as_db_error(), std::error::Error::source(error)) {
        (Some(server), _) => format!("{} (SQLSTATE {})", server.message(), server.code().code()),
        (None, Some(cause)) => format!("{error}: {cause}"),
        (None, None) => error.to_string(),
    }
}

impl DbError {
    /// True when the server could not be reached or the connection dropped, as opposed to the
    /// server refusing a statement: the first heals by waiting, the second does not.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, DbError::Unreachable(_))
    }

    /// The server's SQLSTATE for a refused statement, for callers that turn known ones
    /// (unique violation, serialization failure, …) into their own messages.
    pub fn sql_state(&self) -> Option<&SqlState> {
        match self {
            DbError::Query(error) => error.code(),
            _ => None,
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        if session::refusal(&error).is_some() {
            DbError::SignedOut(describe(&error))
        } else if let Some(cause) = connection_lost(&error) {
            DbError::Unreachable(cause)
        } else {
            DbError::Query(error)
        }
    }
}

impl From<PoolError> for DbError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            PoolError::Timeout(_) => DbError::Unreachable(LostConnection::NoConnectionInTime),
            other => {
                tracing::warn!(
                    "no database connection, for a cause the desk has no words for: {other}"
                );
                DbError::Unreachable(LostConnection::Other(other.to_string()))
            }
        }
    }
}

/// Why `error` means the connection is lost or the server unreachable, or `None` when the
/// server refused a statement.
fn connection_lost(error: &tokio_postgres::Error) -> Option<LostConnection> {
    if error.is_closed() {
        return Some(LostConnection::Closed);
    }
    if let Some(code) = error.code() {
        // Class 08: connection exception; 57P01..57P03: the server is shutting down,
        // crashed or is not yet accepting connections. 57014: a statement cancelled, by the
        // statement timeout (a cancel the app sends itself is for a search nobody waits for).
        // 25P03: the server ended a session whose transaction idled (its client's network
        // died with the COMMIT in flight); the COMMIT hears it first when no earlier request
        // (such as the closing of a statement prepared afresh) is still waiting for its answer.
        // Class 08's own message is the server's English: the desk says the class.
        return LostConnection::of_state(code);
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        // A handshake the TLS library refused (an untrusted certificate, no common protocol).
        if cause.is::<openssl::ssl::Error>() || cause.is::<openssl::error::ErrorStack>() {
            tracing::warn!("TLS with the database failed: {}", describe(error));
            return Some(LostConnection::Tls);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(LostConnection::of_io(io.kind()).unwrap_or_else(|| {
                tracing::warn!(
                    "connection lost for a cause the desk has no words for: {}",
                    describe(error)
                );
                LostConnection::Other(describe(error))
            }));
        }
        source = cause.source();
    }
    None
}

/// The connection string meterdesk should use, or `None` for its embedded cluster.
///
/// `DATABASE_URL` replaces the configured string; then each of `PGHOST`, `PGPORT`, `PGUSER`,
/// `PGPASSWORD`, `PGDATABASE` replaces its parameter (the environment wins over the config
/// file, so an administrator can redirect one session). Only a configured string,
/// `DATABASE_URL` or `PGHOST` selects an external server: a lone `PGUSER` left in someone's
/// shell does not turn the embedded cluster off. With no PG* override the chosen string is
/// returned unchanged; with one, it is rewritten in key=value form (see [`key_values`]).
///
/// `env` looks a variable up (`|name| std::env::var(name).ok()` in the app); empty values
/// count as unset.
pub fn effective_conn_str(
    configured: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, DbError> {
    let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let base = env("DATABASE_URL").or_else(|| configured.map(str::to_owned));
    if base.is_none() && env("PGHOST").is_none() {
        return Ok(None);
    }
    let base = base.unwrap_or_default();
    let parsed_base = tls::parse_plain(&base)?;
    let overrides: Vec<(&str, String)> = ENV_OVERRIDES
        .iter()
        .filter_map(|&(variable, key)| Some((key, env(variable)?)))
        .collect();
    if overrides.is_empty() {
        return Ok(Some(base));
    }
    let mut params = key_values(&parsed_base);
    for (key, value) in overrides {
        params.retain(|(existing, _)| *existing != key);
        params.push((key, value));
    }
    let conn_str = params
        .iter()
        .map(|(key, value)| format!("{key}={}", quote_conn_value(value)))
        .collect::<Vec<_>>()
        .join(" ");
    let conn_str = tls::carry_params(&base, conn_str)?;
    // Parse the result too, so a bad PGPORT is reported here rather than at connect time.
    tls::parse_plain(&conn_str)?;
    Ok(Some(conn_str))
}

/// The parameters of `config` that differ from the defaults, as libpq key=value pairs. Going
/// through the parsed form lets a URL and a key=value string be overridden alike. Carries the
/// parameters a counter installation sets (the TLS ones: `tls::carry_params`; a host list and
/// its `target_session_attrs`); TCP keepalive and load balancing are not carried.
fn key_values(config: &tokio_postgres::Config) -> Vec<(&str, String)> {
    let join = |items: Vec<String>| items.join(",");
    let mut params = Vec::new();
    let mut add = |key, value: Option<String>| {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            params.push((key, value));
        }
    };
    add(
        "host",
        Some(join(
            config
                .get_hosts()
                .iter()
                .map(|host| match host {
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(path) => path.to_string_lossy().into_owned(),
                })
                .collect(),
        )),
    );
    add(
        "hostaddr",
        Some(join(
            config
                .get_hostaddrs()
                .iter()
                .map(ToString::to_string)
                .collect(),
        )),
    );
    add(
        "port",
        Some(join(
            config.get_ports().iter().map(ToString::to_string).collect(),
        )),
    );
    add("user", config.get_user().map(str::to_owned));
    add(
        "password",
        config
            .get_password()
            .map(|password| String::from_utf8_lossy(password).into_owned()),
    );
    add("dbname", config.get_dbname().map(str::to_owned));
    add("options", config.get_options().map(str::to_owned));
    add(
        "application_name",
        config.get_application_name().map(str::to_owned),
    );
    add(
        "target_session_attrs",
        match config.get_target_session_attrs() {
            TargetSessionAttrs::ReadWrite => Some("read-write".to_owned()),
            TargetSessionAttrs::ReadOnly => Some("read-only".to_owned()),
            _ => None,
        },
    );
    add(
        "connect_timeout",
        config
            .get_connect_timeout()
            .map(|timeout| timeout.as_secs().to_string()),
    );
    params
}

/// Quotes a libpq key=value value.
fn quote_conn_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A pool with the default [`Deadlines`].
pub fn pool_from_conn_str(conn: &str, max_size: usize) -> Result<Pool, DbError> {
    pool_with_deadlines(conn, max_size, &Deadlines::default())
}

/// A pool whose every call ends within its [`Deadlines`] instead of hanging, and that checks
/// each connection before handing it out, so one dropped by a server restart is replaced
/// rather than failing the clerk's next action.
pub fn pool_with_deadlines(
    conn: &str,
    max_size: usize,
    deadlines: &Deadlines,
) -> Result<Pool, DbError> {
    let (config, tls) = primary_config(conn, deadlines)?;
    pool_from_config(config, tls, max_size, deadlines)
}

/// [`pool_with_deadlines`] for settings already made (with a user and password, e.g.).
pub fn pool_from_config(
    config: tokio_postgres::Config,
    tls: MakeTlsConnector,
    max_size: usize,
    deadlines: &Deadlines,
) -> Result<Pool, DbError> {
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            // A connection the server closed is seen as closed; one that stopped answering fails
            // its request as unreachable, which parks it until the health watcher sees the
            // server again. A verifying round trip on every checkout would cost each search.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .timeouts(Timeouts {
            wait: Some(deadlines.pool_wait),
            create: Some(deadlines.connect),
            recycle: Some(deadlines.connect),
        })
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|error| DbError::InvalidSettings(error.to_string()))
}

/// [`connection_config`] for the server the desk writes to. With several hosts (libpq's
/// `host=a,b`, a primary and its hot standby) it connects to the one that accepts writes, as
/// `target_session_attrs=read-write` says, whether or not the string says so: after a standby
/// is promoted the pool's new connections find it, and never land on a read-only server.
fn primary_config(
    conn: &str,
    deadlines: &Deadlines,
) -> Result<(tokio_postgres::Config, MakeTlsConnector), DbError> {
    let (mut config, tls) = connection_config(conn, deadlines)?;
    if config.get_hosts().len().max(config.get_hostaddrs().len()) > 1 {
        if config.get_target_session_attrs() == TargetSessionAttrs::ReadOnly {
            return Err(DbError::InvalidSettings(
                "target_session_attrs=read-only: the desk writes, so its server must accept \
                 writes (name a read-only standby as [database] replica)"
                    .into(),
            ));
        }
        config.target_session_attrs(TargetSessionAttrs::ReadWrite);
    }
    Ok((config, tls))
}

/// The connection settings of `conn` with the app's session options and `deadlines`, the
/// password from the password file if `conn` has none, and the TLS its `sslmode` asks for.
fn connection_config(
    conn: &str,
    deadlines: &Deadlines,
) -> Result<(tokio_postgres::Config, MakeTlsConnector), DbError> {
    let (mut config, tls) = tls::parse(conn)?;
    pgpass::fill_password(&mut config);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(deadlines.connect);
    }
    config
        .tcp_user_timeout(deadlines.tcp_user)
        .keepalives(true)
        .keepalives_idle(deadlines.tcp_user)
        .keepalives_interval((deadlines.tcp_user / 3).max(Duration::from_secs(1)))
        .keepalives_retries(3);
    // Every statement of the app is a short lookup or write, and a parallel plan costs more to
    // start than it saves; worse, its Gather evaluates every InitPlan up front, which turns the
    // bounded "contains" search (src/db/customers.rs) into a full walk of its window.
    // A transaction whose client went away (a dropped network) is ended by the server after
    // 30 s instead of at TCP keepalive (hours): until then it holds its write's idempotency key
    // (db::applied_write), and the re-sent write waits on it. The app never idles inside a
    // transaction: card I/O happens between them.
    // The session's zone is the desk's (db::zone): the times the SQL formats are the desk's,
    // whatever zone the server runs in; the days the rules hang on are the utility's (sql/V280).
    let options = [
        config.get_options().map(str::to_owned),
        Some(format!(
            "-c max_parallel_workers_per_gather=0 -c idle_in_transaction_session_timeout=30s \
             -c statement_timeout={} {}",
            deadlines.statement.as_millis(),
            zone::time_zone_option(zone::desk_zone())
        )),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    config.options(options);
    Ok((config, tls))
}

/// The statement deadline of a clerk's import: one file is one statement per table and may
/// rightly outlast the pool's statement deadline (meant for a clerk's single requests).
pub const IMPORT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The deadlines of a clerk's import, set first in its transaction: [`IMPORT_STATEMENT_TIMEOUT`]
/// for its statements and as long between them, where the desk reads and checks the file,
/// which on a busy server outlasts the pool's idle-in-transaction deadline; the server would
/// end either.
pub(crate) fn import_deadlines() -> String {
    let millis = IMPORT_STATEMENT_TIMEOUT.as_millis();
    format!(
        "SET LOCAL statement_timeout = {millis}; \
         SET LOCAL idle_in_transaction_session_timeout = {millis}"
    )
}

/// Lifts the statement timeout on `client` for bulk work (migrations, demo data) that may
/// rightly run for minutes; `RESET statement_timeout` brings the pool's back.
pub async fn without_statement_timeout(client: &tokio_postgres::Client) -> Result<(), DbError> {
    client.batch_execute("SET statement_timeout = 0").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }
    }

    fn parsed(conn: &str) -> tokio_postgres::Config {
        conn.parse().expect("a valid connection string")
    }

    #[test]
    fn nothing_configured_means_the_embedded_cluster() {
        assert_eq!(effective_conn_str(None, env_of(&[])).unwrap(), None);
    }

    #[test]
    fn stray_pg_variables_without_a_host_keep_the_embedded_cluster() {
        let env = env_of(&[("PGUSER", "bob"), ("PGDATABASE", "x"), ("PGHOST", " ")]);
        assert_eq!(effective_conn_str(None, env).unwrap(), None);
    }

    #[test]
    fn configured_string_is_used_as_is() {
        let conn = effective_conn_str(Some("host=db1 user=desk dbname=water"), env_of(&[]))
            .unwrap()
            .unwrap();
        let config = parsed(&conn);
        assert_eq!(config.get_hosts(), [Host::Tcp("db1".into())]);
        assert_eq!(config.get_user(), Some("desk"));
        assert_eq!(config.get_dbname(), Some("water"));
    }

    #[test]
    fn database_url_replaces_the_configured_string() {
        let env = env_of(&[("DATABASE_URL", "postgres://anna:s%3Acret@db2:6543/prod")]);
        let conn = effective_conn_str(Some("host=db1 user=desk dbname=water"), env)
            .unwrap()
            .unwrap();
        let config = parsed(&conn);
        assert_eq!(config.get_hosts(), [Host::Tcp("db2".into())]);
        assert_eq!(config.get_ports(), [6543]);
        assert_eq!(config.get_user(), Some("anna"));
        assert_eq!(config.get_password(), Some(&b"s:cret"[..]));
        assert_eq!(config.get_dbname(), Some("prod"));
    }

    #[test]
    fn pg_variables_override_single_parameters_of_url_or_config() {
        let env = env_of(&[
            (
                "DATABASE_URL",
                "postgres://anna@db2:6543/prod?application_name=desk",
            ),
            ("PGHOST", "db3"),
            ("PGPORT", "7000"),
            ("PGPASSWORD", "it's"),
        ]);
        let config = parsed(&effective_conn_str(None, env).unwrap().unwrap());
        // Replaced, not added as a second host to try.
        assert_eq!(config.get_hosts(), [Host::Tcp("db3".into())]);
        assert_eq!(config.get_ports(), [7000]);
        assert_eq!(config.get_password(), Some(&b"it's"[..]));
        assert_eq!(config.get_user(), Some("anna"));
        assert_eq!(config.get_application_name(), Some("desk"));

        let env = env_of(&[("PGUSER", "clerk"), ("PGDATABASE", "test")]);
        let config = parsed(
            &effective_conn_str(Some("host=/run/pg user=x"), env)
                .unwrap()
                .unwrap(),
        );
        assert_eq!(config.get_hosts(), [Host::Unix("/run/pg".into())]);
        assert_eq!(config.get_user(), Some("clerk"));
        assert_eq!(config.get_dbname(), Some("test"));
    }

    #[test]
    fn pghost_alone_selects_an_external_server() {
        let conn = effective_conn_str(None, env_of(&[("PGHOST", "db4")]))
            .unwrap()
            .unwrap();
        assert_eq!(parsed(&conn).get_hosts(), [Host::Tcp("db4".into())]);
    }

    #[test]
    fn bad_settings_are_reported_with_what_to_fix() {
        let error = effective_conn_str(Some("host=db1"), env_of(&[("PGPORT", "abc")])).unwrap_err();
        assert!(matches!(error, DbError::InvalidSettings(_)));
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
        assert!(effective_conn_str(Some("nonsense"), env_of(&[])).is_err());
    }

    #[test]
    fn connection_values_are_quoted() {
        assert_eq!(quote_conn_value(r"a b'c\d"), r"'a b\'c\\d'");
        let config = parsed(&format!("password={}", quote_conn_value(r"a b'c\d")));
        assert_eq!(config.get_password(), Some(&br"a b'c\d"[..]));
    }

    #[test]
    fn with_several_hosts_the_desk_connects_to_the_one_accepting_writes() {
        let deadlines = Deadlines::default();
        let (config, _) = primary_config("host=db1,db2 port=5432,5433", &deadlines).unwrap();
        assert_eq!(
            config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        let (config, _) = primary_config("host=db1", &deadlines).unwrap();
        assert_eq!(config.get_target_session_attrs(), TargetSessionAttrs::Any);
        let refused = primary_config("host=db1,db2 target_session_attrs=read-only", &deadlines);
        assert!(matches!(refused, Err(DbError::InvalidSettings(_))));
    }

    #[test]
    fn a_pg_variable_keeps_the_host_list_and_its_session_attrs() {
        let env = env_of(&[("PGUSER", "clerk")]);
        let conn = effective_conn_str(
            Some("host=db1,db2 port=5432,5433 target_session_attrs=read-write"),
            env,
        )
        .unwrap()
        .unwrap();
        let config = parsed(&conn);
        assert_eq!(
            config.get_hosts(),
            [Host::Tcp("db1".into()), Host::Tcp("db2".into())]
        );
        assert_eq!(config.get_ports(), [5432, 5433]);
        assert_eq!(
            config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert_eq!(config.get_user(), Some("clerk"));
    }

    #[test]
    fn pool_timeouts_count_as_unreachable() {
        let error = DbError::from(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait));
        assert!(error.is_connection_lost());
        assert!(error.to_string().starts_with("database unreachable"));
    }
}
