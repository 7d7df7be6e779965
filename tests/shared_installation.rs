//! One installation per machine: two Unix accounts (here `nobody` and `daemon`, run with the
//! `meterdesk` group as the set-group-id binary would be) reach the embedded cluster root made,
//! and see one database; an account without the group cannot reach the socket at all, and a
//! clerk's account cannot act as the owner. Needs root (to run as other accounts) and the
//! `meterdesk` group with the `postgres` account in it (`scripts/install-deps.sh`).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use meterdesk::db::embedded::{APP_DATABASE, BinSearch, Cluster, DESK_GROUP};
use meterdesk::db::{migrate, pool_from_conn_str};
use support::pg::{TEST_PASSWORD, scratch_spec};
use support::tmux::BIN;

/// `psql -c sql` as Unix account `account` (with group `group`, if any), signed in as the
/// operator `clerk`.
fn psql_as(account: &str, group: Option<&str>, cluster: &Cluster, sql: &str) -> Output {
    let psql = BinSearch::default().find().unwrap().join("psql");
    let mut runuser = Command::new("runuser");
    runuser.args(["-u", account]);
    if let Some(group) = group {
        runuser.args(["-g", group]);
    }
    runuser
        .arg("--")
        .arg(psql)
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(format!(
            "{} user=clerk@{APP_DATABASE} password={TEST_PASSWORD}",
            cluster
                .connection_string(APP_DATABASE)
                .replace("user=meterdesk_owner", "")
        ))
        .current_dir("/")
        .output()
        .expect("run psql as another account")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_unix_accounts_share_one_database_and_others_cannot_reach_it() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: running as other Unix accounts needs root");
        return;
    }
    let groups = Command::new("id")
        .args(["-nG", "postgres"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&groups.stdout)
            .split_whitespace()
            .any(|group| group == DESK_GROUP),
        "the postgres account is not in the meterdesk group: run scripts/install-deps.sh"
    );
    let spec = scratch_spec();
    let data_dir = spec.data_dir.clone();
    let cluster = tokio::task::spawn_blocking(move || {
        let cluster = Cluster::new(spec).unwrap();
        cluster.ensure_running().unwrap();
        cluster
    })
    .await
    .unwrap();
    // Root, the installer, migrates and makes an operator, as `meterdesk init` does.
    let owner = pool_from_conn_str(&cluster.connection_string(APP_DATABASE), 1).unwrap();
    let mut client = owner.get().await.unwrap();
    migrate::run(&mut client).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO department (name) VALUES ('Hall 1');
             INSERT INTO operator (login, full_name, department_id) VALUES ('clerk', 'Clerk', 1);
             INSERT INTO operator_role (operator_id, role_code) VALUES (1, 'clerk');",
        )
        .await
        .unwrap();
    support::pg::give_password(&client, 1).await;

    let first = psql_as(
        "nobody",
        Some(DESK_GROUP),
        &cluster,
        "INSERT INTO audit_log (action, entity, entity_id)
         VALUES ('login.succeeded', 'operator', 1) RETURNING db_user",
    );
    assert!(first.status.success(), "{}", said(&first));
    let second = psql_as(
        "daemon",
        Some(DESK_GROUP),
        &cluster,
        "SELECT count(*) FROM audit_log WHERE action = 'login.succeeded'",
    );
    assert!(second.status.success(), "{}", said(&second));
    assert_eq!(
        said(&second).trim(),
        "1",
        "the second account sees the first one's row"
    );

    // Without the group the socket is out of reach, whatever the password.
    let outsider = psql_as("nobody", None, &cluster, "SELECT 1");
    assert!(!outsider.status.success());
    assert!(
        said(&outsider).contains("Permission denied"),
        "{}",
        said(&outsider)
    );

    // A clerk's account is not the owner: it cannot migrate (nor load demo data).
    let config = data_dir.join("clerk.toml");
    std::fs::write(
        &config,
        format!("[database]\ndata_dir = \"{}\"\n", data_dir.display()),
    )
    .unwrap();
    let migrate = Command::new("runuser")
        .args(["-u", "nobody", "-g", DESK_GROUP, "--", BIN, "--config"])
        .arg(&config)
        .arg("migrate")
        .env("METERDESK_SYSTEM_CONFIG", data_dir.join("none.toml"))
        .env("XDG_STATE_HOME", Path::new("/tmp"))
        .current_dir("/")
        .output()
        .unwrap();
    assert!(!migrate.status.success(), "{}", said(&migrate));
    assert!(
        said(&migrate).contains("runs as the database's owner"),
        "{}",
        said(&migrate)
    );
}
