//! One throw-away PostgreSQL cluster per test binary, one database per test.
//!
//! The cluster lives in a fresh short directory under /tmp, without durability (fsync off),
//! and starts on first use. A cluster kept in a `static` is never dropped, so next to every
//! cluster runs a reaper: a tiny shell loop that waits for the test process to exit, then shuts
//! the server down (immediate mode) and removes the directory.
//!
//! Tests that stop the shared server (through [`cluster`]) disturb every other test using it
//! in the same binary: keep them in a binary of their own, or serialise them.

use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use meterdesk::db::embedded::{APP_DATABASE, BinSearch, Cluster, ClusterSpec, OWNER_ROLE};
use meterdesk::db::operators::{self, NewOperator};
use meterdesk::db::session::role_name;
use meterdesk::db::{Pool, migrate, pool_from_conn_str, zone};
use tokio::sync::OnceCell;

/// The cluster's own application database, migrated once per cluster; each test's database is
/// a copy of it (so its roles are the installation's: `meterdesk_owner`, `meterdesk_clerk`, …).
const TEMPLATE_DB: &str = APP_DATABASE;

/// A test's database. `pool` and `conn_str` are the owner's (fixtures, checks of what was
/// written); [`TestDb::operator`] signs in as an operator, which is what the desk does.
pub struct TestDb {
    pub pool: Pool,
    pub conn_str: String,
    pub name: String,
}

/// The password every test operator gets.
pub const TEST_PASSWORD: &str = "river-17";

impl TestDb {
    /// Creates operator `login` with `roles` (password [`TEST_PASSWORD`], not temporary) in
    /// department "Counter"; returns its id.
    pub async fn create_operator(&self, login: &str, roles: &[&str]) -> i64 {
        let client = self.pool.get().await.expect("a connection as the owner");
        let department_id = operators::department(&**client, "Counter").await.unwrap();
        let id = operators::create(
            &**client,
            &NewOperator {
                login,
                full_name: login,
                department_id,
                role_codes: roles,
                password: TEST_PASSWORD,
            },
        )
        .await
        .unwrap_or_else(|error| panic!("create operator {login}: {error}"));
        operators::keep_password(&**client, id).await.unwrap();
        id
    }

    /// The connection string of operator `login` (password [`TEST_PASSWORD`]).
    pub fn operator_conn_str(&self, login: &str) -> String {
        self.as_operator(&self.conn_str, login)
    }

    /// `conn_str` (this database's, or a relay's in front of it) signed in as operator `login`.
    pub fn as_operator(&self, conn_str: &str, login: &str) -> String {
        format!(
            "{conn_str} user={} password={TEST_PASSWORD}",
            role_name(login, &self.name)
        )
    }

    /// A pool signed in as operator `login`, created first with `roles`.
    pub async fn operator(&self, login: &str, roles: &[&str]) -> Pool {
        self.create_operator(login, roles).await;
        pool_from_conn_str(&self.operator_conn_str(login), 4).expect("an operator's pool")
    }
}

/// Makes an operator the fixtures wrote as a row (`INSERT INTO operator …`) able to sign in:
/// its role, groups and the password [`TEST_PASSWORD`], kept.
pub async fn give_password(client: &tokio_postgres::Client, operator_id: i64) {
    operators::reset_password(client, operator_id, TEST_PASSWORD)
        .await
        .expect("give the operator a role and a password");
    operators::keep_password(client, operator_id).await.unwrap();
}

/// The `count` that `sql` selects (`SELECT count(*) …`, or a figure named so).
pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .get("count")
}

/// The rows of `table` read so far in the open transaction of `client` (by sequential and
/// index scans, `pg_stat_xact_user_tables`): what a statement read, whatever its plan.
pub async fn rows_read_in_transaction(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(
            "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) AS read
             FROM pg_stat_xact_user_tables WHERE relname = $1",
            &[&table],
        )
        .await
        .unwrap()
        .get("read")
}

impl TestDb {
    /// [`count`] on a connection as the owner.
    pub async fn count(&self, sql: &str) -> i64 {
        count(
            &self.pool.get().await.expect("a connection as the owner"),
            sql,
        )
        .await
    }

    /// A pool signed in as operator `login`, which exists (see [`give_password`]).
    pub fn pool_of(&self, login: &str) -> Pool {
        pool_from_conn_str(&self.operator_conn_str(login), 4).expect("an operator's pool")
    }

    /// Runs `sql` on this database as the cluster's superuser: for fixtures only it may write
    /// (with `session_replication_role`, past the triggers that guard the books).
    pub async fn execute_as_superuser(&self, sql: &str) {
        execute(&cluster().superuser_connection_string(&self.name), sql).await;
    }
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static TEMPLATE: OnceCell<()> = OnceCell::const_new();
static NEXT_DB: AtomicU32 = AtomicU32::new(1);

/// The binary's shared cluster, started on first use. Blocks while starting: from async code
/// call it through `spawn_blocking`. Stop and restart it with `cluster().stop()` and
/// `cluster().ensure_running()`.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let cluster = Cluster::new(scratch_spec()).expect("find the PostgreSQL server programs");
        cluster
            .ensure_running()
            .expect("start the shared test cluster");
        cluster
    })
}

/// A fresh, migrated database of its own on the shared cluster.
pub async fn fresh_db() -> TestDb {
    let cluster = tokio::task::spawn_blocking(cluster)
        .await
        .expect("start the shared test cluster");
    TEMPLATE.get_or_init(|| create_template(cluster)).await;
    let name = format!("test_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
    execute(
        &cluster.superuser_connection_string("postgres"),
        &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} OWNER {OWNER_ROLE}"),
    )
    .await;
    let conn_str = cluster.connection_string(&name);
    let pool = pool_from_conn_str(&conn_str, 4).expect("build a pool for the test database");
    // A database made from a template has PUBLIC's default privileges again; `meterdesk
    // migrate` gives an installation's its own after every run, as this does.
    migrate::database_privileges(&pool.get().await.expect("a connection as the owner"))
        .await
        .expect("give the test database its privileges");
    TestDb {
        pool,
        conn_str,
        name,
    }
}

/// A spec for a not-yet-created cluster in a fresh directory that is cleaned up when the test
/// process exits, for tests of the cluster itself.
pub fn scratch_spec() -> ClusterSpec {
    let spec = ClusterSpec {
        data_dir: fresh_short_dir(),
        durable: false,
        bin_search: BinSearch::default(),
    };
    let pgdata = Cluster::new(spec.clone())
        .expect("find the PostgreSQL server programs")
        .pgdata();
    spawn_reaper(&spec.data_dir, &pgdata);
    spec
}

/// Migrates the cluster's application database (made by the cluster, owned by the owner) as
/// the owner, as `meterdesk migrate` does: in the desk's zone, which becomes the utility's
/// (sql/V280), as the installer's desk's does.
async fn create_template(cluster: &Cluster) {
    let (mut client, connection) = tokio_postgres::connect(
        &format!(
            "{} options='{}'",
            cluster.connection_string(TEMPLATE_DB),
            zone::time_zone_option(zone::desk_zone())
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to the template database");
    let connection = tokio::spawn(connection);
    migrate::run(&mut client)
        .await
        .expect("migrate the template database");
    // CREATE DATABASE … TEMPLATE refuses while anyone is connected to the template.
    drop(client);
    let _ = connection.await;
}

async fn execute(conn_str: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(conn_str, tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    let connection = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    drop(client);
    let _ = connection.await;
}

/// Short, because the socket path inside must stay under 108 bytes; under /tmp, because
/// the `postgres` user must be able to reach it when the tests run as root.
fn fresh_short_dir() -> PathBuf {
    loop {
        let dir = PathBuf::from(format!("/tmp/mdpg-{:08x}", fastrand::u32(..)));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => panic!("create {}: {error}", dir.display()),
        }
    }
}

const REAPER_SCRIPT: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
if pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null); then
    kill -QUIT "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
fi
rm -rf "$3"
"#;

#[expect(
    clippy::zombie_processes,
    reason = "the reaper outlives the test process by design; init reaps it"
)]
fn spawn_reaper(data_dir: &Path, pgdata: &Path) {
    Command::new("sh")
        .arg("-c")
        .arg(REAPER_SCRIPT)
        .arg("meterdesk-test-reaper")
        .arg(std::process::id().to_string())
        .arg(pgdata)
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so a Ctrl-C on `cargo test` does not kill it before it
        // cleans up.
        .process_group(0)
        .spawn()
        .expect("start the test cluster's reaper");
}
