//! The private PostgreSQL cluster, the pool on top of it and the test harness itself.

mod support;

use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use meterdesk::db::embedded::{
    APP_DATABASE, BinSearch, Cluster, ClusterSpec, Startup, StopOutcome,
};
use meterdesk::db::session::Sessions;
use meterdesk::db::{DbError, Deadlines, HealthProbe};
use support::pg;
use tokio::sync::RwLock;

/// Tests that stop the shared server take it exclusively; the others share it.
static SHARED_SERVER: RwLock<()> = RwLock::const_new(());

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("blocking work panicked")
}

fn postmaster_pid(cluster: &Cluster) -> u32 {
    let pid_file = std::fs::read_to_string(cluster.pgdata().join("postmaster.pid"))
        .expect("read postmaster.pid of a running server");
    pid_file
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .expect("a pid on the first line of postmaster.pid")
}

async fn connect(conn_str: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conn_str, tokio_postgres::NoTls)
        .await
        .expect("connect to the cluster");
    tokio::spawn(connection);
    client
}

async fn show(client: &tokio_postgres::Client, setting: &str) -> String {
    client
        .query_one(&format!("SHOW {setting}"), &[])
        .await
        .expect("read a setting")
        .get(0)
}

/// `demo-data` restarts the cluster it alone uses with `wal_level = minimal`: a table truncated
/// and filled in one transaction is written without WAL. The next start is as usual again.
#[tokio::test]
async fn a_restart_for_a_bulk_load_writes_no_wal_for_a_table_filled_where_it_was_truncated() {
    let cluster = Cluster::new(pg::scratch_spec()).unwrap();
    let cluster = blocking(move || {
        cluster.ensure_running().unwrap();
        cluster.restart(true).unwrap();
        cluster
    })
    .await;
    let mut client = connect(&cluster.connection_string(APP_DATABASE)).await;
    assert_eq!(show(&client, "wal_level").await, "minimal");
    client
        .batch_execute("CREATE TABLE bulk (n bigint, note text)")
        .await
        .unwrap();
    let wal_before: i64 = client
        .query_one(
            "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint AS lsn",
            &[],
        )
        .await
        .unwrap()
        .get("lsn");
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(
        "TRUNCATE bulk;
         INSERT INTO bulk SELECT n, repeat('x', 40) FROM generate_series(1, 200000) n;",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (rows, table_bytes, wal_bytes): (i64, i64, i64) = {
        let row = client
            .query_one(
                "SELECT count(*) AS rows, pg_table_size('bulk') AS table_bytes,
                        (pg_current_wal_insert_lsn() - '0/0')::bigint - $1 AS wal_bytes
                 FROM bulk",
                &[&wal_before],
            )
            .await
            .unwrap();
        (
            row.get("rows"),
            row.get("table_bytes"),
            row.get("wal_bytes"),
        )
    };
    assert_eq!(rows, 200_000);
    assert!(
        wal_bytes * 20 < table_bytes,
        "{wal_bytes} bytes of WAL for a table of {table_bytes}"
    );
    drop(client);

    let cluster = blocking(move || {
        cluster.restart(false).unwrap();
        cluster
    })
    .await;
    let client = connect(&cluster.connection_string(APP_DATABASE)).await;
    assert_eq!(show(&client, "wal_level").await, "replica");
    let rows: i64 = client
        .query_one("SELECT count(*) AS rows FROM bulk", &[])
        .await
        .unwrap()
        .get("rows");
    assert_eq!(rows, 200_000, "kept over the restart");
    blocking(move || cluster.stop().unwrap()).await;
}

#[tokio::test]
async fn first_run_initialises_then_reuses_the_running_server_and_keeps_data_over_restarts() {
    let spec = pg::scratch_spec();
    let first_session = Cluster::new(spec.clone()).unwrap();
    let (first_session, startup) = blocking(move || {
        let startup = first_session.ensure_running().unwrap();
        (first_session, startup)
    })
    .await;
    assert_eq!(startup, Startup::Initialised);
    let pid = postmaster_pid(&first_session);

    let client = connect(&first_session.connection_string(APP_DATABASE)).await;
    assert_eq!(show(&client, "listen_addresses").await, "", "no TCP port");
    assert_eq!(show(&client, "fsync").await, "off", "durable: false");
    assert_eq!(show(&client, "max_connections").await, "250", "64 desks");
    assert_eq!(show(&client, "jit").await, "off", "short statements");
    client
        .batch_execute("CREATE TABLE marker (note text); INSERT INTO marker VALUES ('kept')")
        .await
        .unwrap();
    drop(client);

    let second_spec = spec.clone();
    let (second_session, startup) = blocking(move || {
        let second_session = Cluster::new(second_spec).unwrap();
        let startup = second_session.ensure_running().unwrap();
        (second_session, startup)
    })
    .await;
    assert_eq!(startup, Startup::AlreadyRunning);
    assert_eq!(postmaster_pid(&second_session), pid, "the same server");

    let (stopped, stopped_again, restarted) = blocking(move || {
        (
            second_session.stop().unwrap(),
            second_session.stop().unwrap(),
            second_session.ensure_running().unwrap(),
        )
    })
    .await;
    assert_eq!(stopped, StopOutcome::Stopped);
    assert_eq!(stopped_again, StopOutcome::WasNotRunning);
    assert_eq!(
        restarted,
        Startup::Started,
        "started, not initialised again"
    );

    let client = connect(&first_session.connection_string(APP_DATABASE)).await;
    let note: String = client
        .query_one("SELECT note FROM marker", &[])
        .await
        .unwrap()
        .get("note");
    assert_eq!(note, "kept");
    blocking(move || first_session.stop().unwrap()).await;
}

#[tokio::test]
async fn concurrent_first_runs_make_one_cluster() {
    let spec = pg::scratch_spec();
    let barrier = std::sync::Arc::new(Barrier::new(2));
    let sessions: Vec<_> = (0..2)
        .map(|_| {
            let (spec, barrier) = (spec.clone(), barrier.clone());
            std::thread::spawn(move || {
                let cluster = Cluster::new(spec).unwrap();
                barrier.wait();
                let startup = cluster.ensure_running().unwrap();
                (cluster, startup)
            })
        })
        .collect();
    let mut results: Vec<_> = sessions
        .into_iter()
        .map(|session| session.join().expect("session thread panicked"))
        .collect();
    results.sort_by_key(|(_, startup)| *startup != Startup::Initialised);
    assert_eq!(results[0].1, Startup::Initialised);
    assert_eq!(results[1].1, Startup::AlreadyRunning);
    assert_eq!(postmaster_pid(&results[0].0), postmaster_pid(&results[1].0));
    let (cluster, _) = results.remove(0);
    let client = connect(&cluster.connection_string(APP_DATABASE)).await;
    client.simple_query("SELECT 1").await.unwrap();
    blocking(move || cluster.stop().unwrap()).await;
}

#[tokio::test]
async fn an_initdb_interrupted_by_a_crash_is_redone() {
    let spec = pg::scratch_spec();
    // What a first run killed halfway through initdb leaves behind.
    let half_made = spec.data_dir.join("pg.init");
    std::fs::create_dir_all(half_made.join("base")).unwrap();
    std::fs::write(half_made.join("PG_VERSION"), "15\n").unwrap();

    let cluster = Cluster::new(spec).unwrap();
    let (cluster, startup) = blocking(move || {
        let startup = cluster.ensure_running().unwrap();
        (cluster, startup)
    })
    .await;
    assert_eq!(startup, Startup::Initialised);
    assert!(!half_made.exists(), "the scratch initdb is gone");
    let client = connect(&cluster.connection_string(APP_DATABASE)).await;
    client.simple_query("SELECT 1").await.unwrap();
    blocking(move || cluster.stop().unwrap()).await;
}

#[tokio::test]
async fn a_crashed_server_is_started_again() {
    let cluster = Cluster::new(pg::scratch_spec()).unwrap();
    let (cluster, startup) = blocking(move || {
        let first = cluster.ensure_running().unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &postmaster_pid(&cluster).to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let startup = cluster.ensure_running().unwrap();
        assert_eq!(first, Startup::Initialised);
        (cluster, startup)
    })
    .await;
    assert_eq!(startup, Startup::Started);
    let client = connect(&cluster.connection_string(APP_DATABASE)).await;
    client.simple_query("SELECT 1").await.unwrap();
    blocking(move || cluster.stop().unwrap()).await;
}

#[test]
fn missing_server_programs_ask_for_apt_get_install_and_touch_nothing() {
    let data_dir = PathBuf::from(format!("/tmp/mdpg-none-{}", std::process::id()));
    let nowhere = data_dir.join("nowhere");
    let spec = ClusterSpec {
        data_dir: data_dir.clone(),
        durable: false,
        bin_search: BinSearch {
            pg_config: nowhere.join("pg_config"),
            versions_root: nowhere,
        },
    };
    let message = Cluster::new(spec).unwrap_err().to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(!data_dir.exists());
}

#[tokio::test]
async fn fresh_databases_are_migrated_and_separate() {
    let _shared = SHARED_SERVER.read().await;
    let (one, two) = tokio::join!(pg::fresh_db(), pg::fresh_db());
    assert_ne!(one.name, two.name);
    let one_client = one.pool.get().await.unwrap();
    let migrations: i64 = one_client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get("count");
    assert!(migrations >= 1, "migrations applied");
    one_client
        .batch_execute("CREATE TABLE only_in_one ()")
        .await
        .unwrap();
    let two_client = two.pool.get().await.unwrap();
    let seen: Option<String> = two_client
        .query_one("SELECT to_regclass('only_in_one')::text AS seen", &[])
        .await
        .unwrap()
        .get("seen");
    assert_eq!(seen, None);
}

#[tokio::test]
async fn pool_reports_a_stopped_server_as_lost_and_recovers_after_restart() {
    let _exclusive = SHARED_SERVER.write().await;
    let db = pg::fresh_db().await;
    let client = db.pool.get().await.unwrap();
    client
        .batch_execute("CREATE TABLE payment (amount int); INSERT INTO payment VALUES (42)")
        .await
        .unwrap();
    // A constraint violation is the server refusing a statement, not a lost connection.
    let refused = DbError::from(
        client
            .batch_execute("INSERT INTO payment VALUES ('not a number')")
            .await
            .unwrap_err(),
    );
    assert!(!refused.is_connection_lost(), "{refused}");
    assert!(refused.sql_state().is_some());
    drop(client);
    let sessions = Sessions::new(&db.conn_str, 1, Deadlines::default()).unwrap();
    sessions.open_as_configured().unwrap();
    let mut health = HealthProbe::new(sessions);
    health.ping().await.unwrap().unwrap();

    blocking(|| pg::cluster().stop().unwrap()).await;
    let started = Instant::now();
    let lost = health.ping().await.unwrap().unwrap_err();
    assert!(lost.is_connection_lost(), "{lost:?}");
    assert!(
        lost.to_string().starts_with("database unreachable"),
        "{lost}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "reported quickly"
    );

    let lost = DbError::from(db.pool.get().await.unwrap_err());
    assert!(lost.is_connection_lost(), "{lost:?}");

    blocking(|| pg::cluster().ensure_running().unwrap()).await;
    health.ping().await.unwrap().unwrap();
    let amount: i32 = db
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT amount FROM payment", &[])
        .await
        .unwrap()
        .get("amount");
    assert_eq!(amount, 42);
}

/// `meterdesk db <action>` run as this account with a configuration naming `data_dir` (and
/// nothing else from the machine or the shell: no system config, no DATABASE_URL, no PGHOST);
/// `env` added. Its exit status, and what it printed.
fn meterdesk_db(
    data_dir: &std::path::Path,
    action: &str,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let home = data_dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\ndata_dir = {:?}\n",
            data_dir.display().to_string()
        ),
    )
    .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_meterdesk"));
    command
        .args(["--config", &config.display().to_string(), "db", action])
        .env(meterdesk::config::SYSTEM_CONFIG_ENV, home.join("none.toml"))
        .env("XDG_CONFIG_HOME", &home)
        .env("HOME", &home)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("METERDESK_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run meterdesk db");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status, text)
}

/// After `meterdesk db stop` only `migrate` or the installer's `meterdesk` started the embedded
/// cluster again (s40-f's walk). `db start` starts it, with its data; run again it says the
/// cluster runs already and leaves that server as it is; before the cluster is made it says
/// what makes it, and with another server configured it refuses to act on the embedded one.
#[tokio::test]
async fn db_start_starts_the_stopped_cluster_and_says_when_it_runs_or_is_not_the_one() {
    let spec = pg::scratch_spec();
    let data_dir = spec.data_dir.clone();
    let (status, said) = meterdesk_db(&data_dir, "start", &[]);
    assert!(!status.success(), "{said}");
    assert!(said.contains("no embedded database"), "{said}");
    assert!(said.contains("meterdesk init"), "{said}");
    assert!(
        !Cluster::new(spec.clone()).unwrap().pgdata().exists(),
        "nothing made"
    );

    let cluster = Cluster::new(spec).unwrap();
    let cluster = blocking(move || {
        cluster.ensure_running().unwrap();
        cluster
    })
    .await;
    let client = connect(&cluster.connection_string(APP_DATABASE)).await;
    client
        .batch_execute("CREATE TABLE marker (note text); INSERT INTO marker VALUES ('kept')")
        .await
        .unwrap();
    drop(client);
    let (status, said) = meterdesk_db(&data_dir, "stop", &[]);
    assert!(status.success(), "{said}");
    assert!(said.contains("the embedded database is stopped"), "{said}");
    let (cluster, running) = blocking(move || {
        let running = cluster.is_running().unwrap();
        (cluster, running)
    })
    .await;
    assert!(!running);

    let (status, said) = meterdesk_db(&data_dir, "start", &[]);
    assert!(status.success(), "{said}");
    assert!(said.contains("the embedded database is started"), "{said}");
    let client = connect(&cluster.connection_string(APP_DATABASE)).await;
    let note: String = client
        .query_one("SELECT note FROM marker", &[])
        .await
        .unwrap()
        .get("note");
    assert_eq!(note, "kept");
    let pid = postmaster_pid(&cluster);

    let (status, said) = meterdesk_db(&data_dir, "start", &[]);
    assert!(status.success(), "idempotent: {said}");
    assert!(
        said.contains("the embedded database was already running"),
        "{said}"
    );
    assert_eq!(postmaster_pid(&cluster), pid, "the same server");
    client
        .simple_query("SELECT 1")
        .await
        .expect("left as it was");

    // Another server configured: the embedded one is not what the desks use.
    let elsewhere = [("DATABASE_URL", "host=db.example.org dbname=meterdesk")];
    for action in ["start", "stop"] {
        let (status, said) = meterdesk_db(&data_dir, action, &elsewhere);
        assert!(!status.success(), "{action}: {said}");
        assert!(said.contains("not the embedded one"), "{action}: {said}");
    }
    assert_eq!(postmaster_pid(&cluster), pid, "not stopped");
    drop(client);
    blocking(move || cluster.stop().unwrap()).await;
}

/// Two installers started in the same second (s45-b): both migrate a new installation's
/// database at once. Before the migrations were serialised (db::migrate's session lock), one
/// of them stopped with "tuple concurrently updated" or a migration's error, and both could;
/// now the second waits for the first and then finds every migration applied, once.
#[tokio::test]
async fn two_installers_at_once_both_find_the_schema_migrated() {
    let cluster = Cluster::new(pg::scratch_spec()).unwrap();
    let conn_str = cluster.connection_string(APP_DATABASE);
    blocking(move || cluster.ensure_running().unwrap()).await;
    let installer = async || {
        let (mut client, connection) = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)
            .await
            .expect("connect as the owner");
        tokio::spawn(connection);
        meterdesk::db::migrate::run(&mut client)
            .await
            .map_err(|error| format!("{error:?}"))
    };
    let (first, second) = tokio::join!(installer(), installer());
    assert_eq!((first, second), (Ok(()), Ok(())));
    let (client, connection) = tokio_postgres::connect(&conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let applied: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    let migrations = std::fs::read_dir("sql")
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with('V') && name.ends_with(".sql")
        })
        .count();
    assert_eq!(
        applied,
        i64::try_from(migrations).unwrap(),
        "each migration applied once"
    );
}
