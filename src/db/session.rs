//! The database as the operator who signed in. Each operator is a PostgreSQL role of their own
//! (`<login>@<database>`, sql/V13), so signing in is connecting: the server checks the password
//! (SCRAM), and every later request runs on connections authenticated as that role, which is
//! what the database's grants, guards and audit stamps see. Nothing before the sign-in holds a
//! connection, and no connection of the desk is the owner's or a superuser's.

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::domain::validation::halfwidth_text;
use deadpool_postgres::{ClientWrapper, Object, PoolError, StatementCache};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::error::SqlState;

use super::{
    DbError, Deadlines, LostConnection, Pool, connection_config, pool_from_config, primary_config,
};

/// The database to use when the connection settings name none.
pub const DEFAULT_DATABASE: &str = "meterdesk";

/// How long after this desk's own write its lag-tolerant reads still go to the primary, so the
/// clerk sees what they just saved even while the replica is a moment behind (replay on a
/// standby of the same site is milliseconds behind, seconds under heavy load).
const OWN_WRITES_READ_FROM_PRIMARY: Duration = Duration::from_secs(5);

/// How long lag-tolerant reads go to the primary after the replica could not be reached, before
/// the replica is tried again: each try of a dead server costs up to the connect deadline.
const REPLICA_RESTS_AFTER_FAILING: Duration = Duration::from_secs(10);

/// The PostgreSQL role of the operator who types `login`, in `database` (sql/V13's
/// `operator_role_name`): logins are case-insensitive, and ASCII, so a login typed full-width
/// by a Chinese input method is its ASCII twin (`validation::halfwidth_text`).
pub fn role_name(login: &str, database: &str) -> String {
    let login = halfwidth_text(login);
    format!("{}@{database}", login.trim().to_lowercase())
}

/// A SCRAM-SHA-256 verifier of `password`, the form in which a password is handed to the
/// server: the clear text never crosses the connection nor reaches the server's log.
pub fn password_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

tokio::task_local! {
    /// The connections the request running on this task took ([`Sessions::answering_within`]).
    static TAKEN: Taken;
}

/// Connections, each known by its statement cache (one per connection, made with it): kept
/// weakly, so a connection gone meanwhile is not kept alive by being named here.
type Taken = Arc<Mutex<Vec<Weak<StatementCache>>>>;

/// Why the server refused a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown operator or wrong password: the server does not tell them apart either.
    WrongCredentials,
    /// The operator's role may not log in: disabled by an administrator.
    Disabled,
    /// The operator's role holds as many connections as it may (sql/V99): other desks signed
    /// in as them, or something else connected with their password. Told at the sign-in only:
    /// later, a connection refused so is a failed request, not a sign-out.
    TooManyConnections,
}

/// The signed-in operator's connections, shared by every request task. Empty before the
/// sign-in and after a sign-out.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    /// The server and database, without a user: each operator brings their own.
    server: tokio_postgres::Config,
    /// TLS as the settings' sslmode says (`db::tls`).
    tls: MakeTlsConnector,
    /// The read-only standby for reads that tolerate its lag (`[database] replica`), with its
    /// own TLS; the same database and operators as `server`.
    replica: Option<(tokio_postgres::Config, MakeTlsConnector)>,
    pool_size: usize,
    deadlines: Deadlines,
    current: RwLock<Option<Current>>,
    /// Until then lag-tolerant reads go to the primary: after this desk's own write, or after
    /// the replica failed.
    reads_on_primary_until: Mutex<Option<Instant>>,
    /// The connections of requests given up at their deadline: never handed out again.
    abandoned: Taken,
}

#[derive(Clone)]
struct Current {
    pool: Pool,
    /// The same operator's connections to the replica, when one is configured.
    replica: Option<Pool>,
    /// How the pool connects; None for a pool made elsewhere ([`Sessions::signed_in`]).
    config: Option<tokio_postgres::Config>,
    /// Counts sign-ins, so the health watcher knows when to connect anew.
    generation: u64,
}

impl Sessions {
    /// The server of `conn` (a libpq string; a user or password in it is not used).
    pub fn new(conn: &str, pool_size: usize, deadlines: Deadlines) -> Result<Sessions, DbError> {
        Sessions::with_replica(conn, None, pool_size, deadlines)
    }

    /// The server of `conn` and, if given, its read-only standby `replica` (a libpq string of
    /// its host, port and TLS; the database and each operator's role are the primary's).
    pub fn with_replica(
        conn: &str,
        replica: Option<&str>,
        pool_size: usize,
        deadlines: Deadlines,
    ) -> Result<Sessions, DbError> {
        let (mut server, tls) = primary_config(conn, &deadlines)?;
        if server.get_dbname().is_none() {
            server.dbname(DEFAULT_DATABASE);
        }
        let replica = replica
            .map(|replica| replica_config(replica, &server, &deadlines))
            .transpose()?;
        Ok(Sessions {
            inner: Arc::new(Inner {
                server,
                tls,
                replica,
                pool_size,
                deadlines,
                current: RwLock::new(None),
                reads_on_primary_until: Mutex::new(None),
                abandoned: Taken::default(),
            }),
        })
    }

    /// Already signed in with `pool`, made elsewhere (tests, tools); no health watcher.
    pub fn signed_in(pool: Pool) -> Sessions {
        let (server, tls) = super::tls::parse("").expect("empty settings are valid");
        let sessions = Sessions {
            inner: Arc::new(Inner {
                server,
                tls,
                replica: None,
                pool_size: pool.status().max_size,
                deadlines: Deadlines::default(),
                current: RwLock::new(None),
                reads_on_primary_until: Mutex::new(None),
                abandoned: Taken::default(),
            }),
        };
        sessions.keep(pool, None, None);
        sessions
    }

    /// Signs in with the connection settings as they are, their own user and password
    /// included (tests, tools).
    pub fn open_as_configured(&self) -> Result<(), DbError> {
        let config = self.inner.server.clone();
        let replica = self.replica_pool(&config)?;
        self.keep(self.new_pool(&config)?, replica, Some(config));
        Ok(())
    }

    /// A pool connecting with `config`.
    fn new_pool(&self, config: &tokio_postgres::Config) -> Result<Pool, DbError> {
        self.pool_with(config.clone(), self.inner.tls.clone())
    }

    fn pool_with(
        &self,
        config: tokio_postgres::Config,
        tls: MakeTlsConnector,
    ) -> Result<Pool, DbError> {
        pool_from_config(config, tls, self.inner.pool_size, &self.inner.deadlines)
    }

    /// A pool on the replica signed in as `primary` is (its user and password), if there is a
    /// replica. It connects on first use: a replica that is down does not stop a sign-in.
    fn replica_pool(&self, primary: &tokio_postgres::Config) -> Result<Option<Pool>, DbError> {
        let Some((replica, tls)) = &self.inner.replica else {
            return Ok(None);
        };
        let mut config = replica.clone();
        if let Some(user) = primary.get_user() {
            config.user(user);
        }
        if let Some(password) = primary.get_password() {
            config.password(password);
        }
        self.pool_with(config, tls.clone()).map(Some)
    }

    fn keep(&self, pool: Pool, replica: Option<Pool>, config: Option<tokio_postgres::Config>) {
        let mut current = self.write();
        let generation = current.as_ref().map_or(0, |current| current.generation) + 1;
        *current = Some(Current {
            pool,
            replica,
            config,
            generation,
        });
    }

    pub fn deadlines(&self) -> Deadlines {
        self.inner.deadlines
    }

    /// The database's name, part of every operator's role name.
    pub fn database(&self) -> &str {
        self.inner.server.get_dbname().unwrap_or(DEFAULT_DATABASE)
    }

    /// The connection settings of `login` with `password`.
    fn config_for(&self, login: &str, password: &str) -> tokio_postgres::Config {
        let mut config = self.inner.server.clone();
        config
            .user(role_name(login, self.database()))
            .password(password);
        config
    }

    /// Connects as the operator `login`: on success their pool serves every request from now
    /// on (the previous operator's, if any, is dropped).
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Result<(), Refusal>, DbError> {
        let config = self.config_for(login, password);
        let pool = self.new_pool(&config)?;
        let replica = self.replica_pool(&config)?;
        // The pool's first connection is the server's check of the password; it then serves
        // the desk's first request (one handshake, not two).
        if let Err(error) = pool.get().await {
            if let PoolError::Backend(error) = &error {
                if let Some(refusal) = refusal(error) {
                    return Ok(Err(refusal));
                }
                if error.code() == Some(&SqlState::TOO_MANY_CONNECTIONS)
                    && error
                        .as_db_error()
                        .is_some_and(|db| db.message().contains("for role"))
                {
                    return Ok(Err(Refusal::TooManyConnections));
                }
            }
            return Err(error.into());
        }
        self.keep(pool, replica, Some(config));
        Ok(Ok(()))
    }

    /// Whether `password` is `login`'s password now, by the server's own check: a connection
    /// made and dropped.
    pub async fn password_is(&self, login: &str, password: &str) -> Result<bool, DbError> {
        Ok(self.check(&self.config_for(login, password)).await?.is_ok())
    }

    async fn check(&self, config: &tokio_postgres::Config) -> Result<Result<(), Refusal>, DbError> {
        match config.connect(self.inner.tls.clone()).await {
            Ok((client, connection)) => {
                drop(client);
                // Ends at once: the client is gone.
                let _ = connection.await;
                Ok(Ok(()))
            }
            Err(error) => match refusal(&error) {
                Some(refusal) => Ok(Err(refusal)),
                None => Err(error.into()),
            },
        }
    }

    /// Drops the operator's connections.
    pub fn sign_out(&self) {
        *self.write() = None;
    }

    /// A connection of the signed-in operator. Before the sign-in (or after a sign-out) there
    /// is none: the pool's "closed" error.
    pub async fn get(&self) -> Result<Object, PoolError> {
        self.take_from(&self.pool()?).await
    }

    /// A connection of `pool`, never one a request was given up on (such a one leaves the
    /// pool when its turn comes); noted as taken by the request running on this task, if any.
    async fn take_from(&self, pool: &Pool) -> Result<Object, PoolError> {
        loop {
            let connection = pool.get().await?;
            if self.was_abandoned(&connection) {
                drop(Object::take(connection));
                continue;
            }
            let _ = TAKEN.try_with(|taken| {
                lock(taken).push(Arc::downgrade(&connection.statement_cache));
            });
            return Ok(connection);
        }
    }

    fn was_abandoned(&self, connection: &ClientWrapper) -> bool {
        lock(&self.inner.abandoned)
            .iter()
            .any(|abandoned| Weak::as_ptr(abandoned) == Arc::as_ptr(&connection.statement_cache))
    }

    /// Runs `request` for at most `limit`. Past it the request is given up and answered as
    /// the database unreachable, as a lost connection is, and every connection it took leaves
    /// its pool: a statement sent on one may still be on its way or waiting for its answer (a
    /// frozen server, a stuck proxy, which TCP's own deadlines do not see), and whatever the
    /// next request sent there would wait behind it.
    pub async fn answering_within<T, E: From<DbError>>(
        &self,
        limit: Duration,
        request: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let taken = Taken::default();
        let mut request = Box::pin(TAKEN.scope(taken.clone(), request));
        if let Ok(answer) = tokio::time::timeout(limit, &mut request).await {
            return answer;
        }
        // Named before they go back to the pool, which hands them to no one after.
        {
            let mut abandoned = lock(&self.inner.abandoned);
            abandoned.retain(|connection| connection.strong_count() > 0);
            abandoned.append(&mut lock(&taken));
        }
        drop(request);
        Err(DbError::Unreachable(LostConnection::NoAnswerWithin(limit)).into())
    }

    /// A connection for a read that tolerates a slight lag (a search, a customer's details, a
    /// report): the replica's when one is configured, else, and for a while after this desk
    /// wrote or the replica failed, the primary's. When the one asked cannot be reached the
    /// other answers, so searches go on from the replica while the primary is gone.
    pub async fn for_reads(&self) -> Result<Object, DbError> {
        let current = self.read().ok_or(PoolError::Closed)?;
        let Some(replica) = current.replica else {
            return Ok(self.take_from(&current.pool).await?);
        };
        let replica_first = !self.reads_on_primary();
        let (first, second) = if replica_first {
            (&replica, &current.pool)
        } else {
            (&current.pool, &replica)
        };
        match self.take_from(first).await.map_err(DbError::from) {
            Err(error) if error.is_connection_lost() => {
                tracing::warn!(replica_first, "reading from the other server: {error}");
                if replica_first {
                    self.read_from_primary_for(REPLICA_RESTS_AFTER_FAILING);
                } else {
                    // The primary is gone (a failover?): the replica is the one to read from.
                    *self.reads_on_primary_until() = None;
                }
                Ok(self.take_from(second).await?)
            }
            result => result,
        }
    }

    /// This desk wrote: its next reads go to the primary for a moment, so the clerk sees what
    /// was saved before the replica has replayed it.
    pub fn wrote(&self) {
        if self.inner.replica.is_some() {
            self.read_from_primary_for(OWN_WRITES_READ_FROM_PRIMARY);
        }
    }

    fn reads_on_primary(&self) -> bool {
        self.reads_on_primary_until()
            .is_some_and(|until| Instant::now() < until)
    }

    /// Lag-tolerant reads go to the primary for at least `period` from now.
    fn read_from_primary_for(&self, period: Duration) {
        let until = Instant::now() + period;
        let mut current = self.reads_on_primary_until();
        *current = Some(current.map_or(until, |already| already.max(until)));
    }

    fn reads_on_primary_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.inner
            .reads_on_primary_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The signed-in operator's pool.
    pub fn pool(&self) -> Result<Pool, PoolError> {
        self.read()
            .map(|current| current.pool)
            .ok_or(PoolError::Closed)
    }

    /// Connection settings for the health watcher's own connection, as the signed-in
    /// operator, with the sign-in they belong to.
    pub fn health_config(&self) -> Option<(u64, tokio_postgres::Config, MakeTlsConnector)> {
        let current = self.read()?;
        Some((current.generation, current.config?, self.inner.tls.clone()))
    }

    fn read(&self) -> Option<Current> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Current>> {
        self.inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `mutex`'s content: a panic while it was held left nothing half-changed in a list.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The replica's settings from `replica`, on the database of `primary`: each operator's role is
/// named after that database, and the replica is a copy of it.
fn replica_config(
    replica: &str,
    primary: &tokio_postgres::Config,
    deadlines: &Deadlines,
) -> Result<(tokio_postgres::Config, MakeTlsConnector), DbError> {
    let (mut config, tls) = connection_config(replica, deadlines)?;
    let database = primary.get_dbname().unwrap_or(DEFAULT_DATABASE);
    match config.get_dbname() {
        Some(named) if named != database => {
            return Err(DbError::InvalidSettings(format!(
                "the replica names database {named:?}, the primary {database:?}: a replica is a \
                 copy of the primary's database"
            )));
        }
        _ => config.dbname(database),
    };
    Ok((config, tls))
}

/// The server's refusal of a sign-in, when `error` is one: 28P01 for a wrong password or an
/// unknown role, 28000 "not permitted to log in" for a disabled one.
pub fn refusal(error: &tokio_postgres::Error) -> Option<Refusal> {
    let code = error.code()?;
    if *code == SqlState::INVALID_PASSWORD {
        Some(Refusal::WrongCredentials)
    } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        && error
            .as_db_error()
            .is_some_and(|db| db.message().contains("not permitted to log in"))
    {
        Some(Refusal::Disabled)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_role_is_the_lower_case_login_at_the_database() {
        assert_eq!(role_name("Li.Wei", "meterdesk"), "li.wei@meterdesk");
        assert_eq!(role_name(" clerk ", "test_7"), "clerk@test_7");
        // A login a Chinese input method typed full-width is its ASCII twin (s43-e).
        assert_eq!(
            role_name("\u{3000}Ｌｉ．Ｗｅｉ", "meterdesk"),
            "li.wei@meterdesk"
        );
    }

    #[test]
    fn a_password_is_handed_over_as_a_scram_verifier_never_in_clear() {
        let verifier = password_verifier("river-17");
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
        assert!(!verifier.contains("river-17"));
        // Salted: the same password gives another verifier each time.
        assert_ne!(verifier, password_verifier("river-17"));
    }

    #[test]
    fn the_replica_reads_the_primarys_database() {
        let deadlines = Deadlines::default();
        let primary = "host=db1 dbname=water".parse().unwrap();
        let (replica, _) = replica_config("host=db2 port=5433", &primary, &deadlines).unwrap();
        assert_eq!(replica.get_dbname(), Some("water"));
        assert_eq!(replica.get_ports(), [5433]);
        let refused = replica_config("host=db2 dbname=other", &primary, &deadlines);
        assert!(matches!(refused, Err(DbError::InvalidSettings(_))));
    }

    /// The pool's and the health watcher's settings (`server`) and the replica's set the
    /// session's zone to the desk's (db::zone), whatever the connection string says.
    #[test]
    fn every_connection_runs_in_the_desks_zone() {
        let sessions = Sessions::with_replica(
            "host=db1 dbname=water options='-c search_path=public'",
            Some("host=db2"),
            2,
            Deadlines::default(),
        )
        .unwrap();
        let zone = super::super::zone::time_zone_option(super::super::zone::desk_zone());
        let (replica, _) = sessions.inner.replica.as_ref().unwrap();
        for config in [&sessions.inner.server, replica] {
            let options = config.get_options().unwrap_or_default();
            assert!(options.contains(&zone), "{options}");
        }
        assert!(
            sessions
                .inner
                .server
                .get_options()
                .is_some_and(|options| options.starts_with("-c search_path=public "))
        );
    }

    #[test]
    fn settings_without_a_database_use_meterdesk() {
        let sessions = Sessions::new("host=/tmp port=5432", 2, Deadlines::default()).unwrap();
        assert_eq!(sessions.database(), DEFAULT_DATABASE);
        let sessions = Sessions::new("host=/tmp dbname=water", 2, Deadlines::default()).unwrap();
        assert_eq!(sessions.database(), "water");
    }
}
