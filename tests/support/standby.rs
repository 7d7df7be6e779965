//! A primary and its hot standby, as a utility's IT runs them: two throw-away clusters of the
//! harness (`pg::scratch_spec`), the standby a `pg_basebackup -R` copy of the primary (which
//! writes its `standby.signal` and `primary_conninfo`) streaming the primary's WAL over the
//! primary's socket, each server on a socket directory of its own.

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;

use meterdesk::db::embedded::{APP_DATABASE, BinSearch, Cluster};
use tokio_postgres::config::Host;

use super::pg::scratch_spec;
use super::server_programs::{as_server_user, run};

pub struct StandbyPair {
    pub primary: Cluster,
    pub standby: Cluster,
    bin: PathBuf,
}

/// Lets the server's own account stream the primary's WAL (a base backup, then the standby's
/// WAL receiver), by the kernel's word as for the superuser: the harness's clusters accept
/// nothing but the app's sessions otherwise.
const REPLICATION_HBA_LINE: &str = "local replication postgres peer map=installers\n";

impl StandbyPair {
    /// Starts the primary, runs `prepare` with the owner's connection string to its
    /// application database (migrate it, write what the test needs), then copies it into a
    /// standby and starts that; `prepare`'s answer is handed back.
    pub async fn start<T, F: Future<Output = T>>(
        prepare: impl FnOnce(String) -> F,
    ) -> (StandbyPair, T) {
        let primary = tokio::task::spawn_blocking(start_primary)
            .await
            .expect("start the primary");
        let prepared = prepare(primary.connection_string(APP_DATABASE)).await;
        let pair = tokio::task::spawn_blocking(move || start_standby(primary))
            .await
            .expect("start the standby");
        (pair, prepared)
    }

    /// The desk's `[database] url`: both servers, the primary first.
    pub fn url(&self) -> String {
        let (primary, port) = socket(&self.primary);
        let (standby, _) = socket(&self.standby);
        format!("host={primary},{standby} port={port} dbname={APP_DATABASE}")
    }

    /// The desk's `[database] replica`: the standby.
    pub fn replica(&self) -> String {
        let (standby, port) = socket(&self.standby);
        format!("host={standby} port={port}")
    }

    /// Stops the primary as an administrator would (`pg_ctl stop -m fast`: its sessions are
    /// ended, and its last WAL is sent to the standby before it goes). Blocking.
    pub fn stop_primary(&self) {
        self.primary.stop().expect("stop the primary");
    }

    /// `pg_ctl promote`: the standby leaves recovery and accepts writes. Blocking.
    pub fn promote(&self) {
        run(as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.standby.pgdata())
            .args(["promote", "-w", "-t", "60"]));
    }
}

/// The socket directory and port of `cluster`'s server.
fn socket(cluster: &Cluster) -> (String, u16) {
    let config: tokio_postgres::Config = cluster
        .connection_string(APP_DATABASE)
        .parse()
        .expect("the harness's connection string parses");
    let [Host::Unix(dir)] = config.get_hosts() else {
        panic!("the harness's clusters listen on a socket: {config:?}")
    };
    (dir.display().to_string(), config.get_ports()[0])
}

fn start_primary() -> Cluster {
    let primary = Cluster::new(scratch_spec()).expect("find the PostgreSQL server programs");
    primary.ensure_running().expect("start the primary");
    // The harness rewrites its pg_hba before every start; this one is never restarted.
    let hba = primary.pgdata().join("meterdesk_hba.conf");
    let mut lines = std::fs::read_to_string(&hba).expect("read the primary's pg_hba");
    lines.push_str(REPLICATION_HBA_LINE);
    std::fs::write(&hba, lines).expect("allow replication on the primary");
    run(as_server_user(&bin_dir().join("pg_ctl"))
        .arg("-D")
        .arg(primary.pgdata())
        .args(["reload", "-s"]));
    primary
}

fn start_standby(primary: Cluster) -> StandbyPair {
    let bin = bin_dir();
    let spec = scratch_spec();
    if rustix::process::geteuid().is_root() {
        run(Command::new("chown").arg("postgres:").arg(&spec.data_dir));
    }
    let standby = Cluster::new(spec).expect("find the PostgreSQL server programs");
    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL made meanwhile.
    run(as_server_user(&bin.join("pg_basebackup"))
        .arg("-D")
        .arg(standby.pgdata())
        .args(["-R", "-X", "stream", "-c", "fast", "--no-sync", "-d"])
        .arg(primary.superuser_connection_string("postgres")));
    // Starting it rewrites its settings: its own socket directory, and its own pg_hba.
    standby.ensure_running().expect("start the standby");
    StandbyPair {
        primary,
        standby,
        bin,
    }
}

fn bin_dir() -> PathBuf {
    BinSearch::default()
        .find()
        .expect("PostgreSQL server programs")
}
