//! The real binary in tmux against the test cluster: sign in (a wrong password first), lose the
//! database under the running app and get it back, quit. Also: an unreachable database at
//! start is a clear message. This binary stops its cluster, so it has its tests to itself.

mod support;

use std::time::Duration;

use support::pg::{TestDb, cluster, fresh_db};
use support::tmux::{BIN, Tmux, launcher, scratch};

const PATIENCE: Duration = Duration::from_secs(15);

async fn with_clerk(db: &TestDb) {
    db.create_operator("wang.fang", &["clerk"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_survive_a_database_outage_and_quit() {
    let db = fresh_db().await;
    with_clerk(&db).await;
    let dir = scratch("signin");
    let exit_file = dir.join("exit");
    let tmux = Tmux::start("signin", &launcher(&dir, &db.conn_str), &exit_file);

    tmux.wait_for("Operator", PATIENCE);
    tmux.text("wang.fang");
    tmux.keys(&["Enter"]);
    tmux.text("wrong-password");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Wrong operator name or password", PATIENCE);

    tmux.text("river-17");
    tmux.keys(&["F2"]);
    let home = tmux.wait_for("Customers", PATIENCE);
    assert!(home.contains("wang.fang@Counter"), "{home}");
    assert!(home.contains("DB: ok"), "{home}");

    // The server goes away under the running app…
    tokio::task::spawn_blocking(|| cluster().stop().unwrap())
        .await
        .unwrap();
    tmux.wait_for("DB: reconnecting", PATIENCE);
    // …a refresh meets the outage and is kept…
    tmux.keys(&["F5"]);
    tmux.wait_for("Database unreachable", PATIENCE);
    // …and everything recovers by itself when it is back.
    tokio::task::spawn_blocking(|| cluster().ensure_running().unwrap())
        .await
        .unwrap();
    let back = tmux.wait_for("Database connection restored", PATIENCE);
    assert!(back.contains("DB: ok"), "{back}");

    tmux.keys(&["F10"]);
    let start = std::time::Instant::now();
    while !exit_file.exists() {
        assert!(start.elapsed() < PATIENCE, "meterdesk did not quit on F10");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&exit_file).unwrap().trim(), "0");
}

#[test]
fn an_unreachable_database_at_start_is_a_clear_message() {
    let dir = scratch("unreachable");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[database]\ndata_dir = \"{}\"\n", dir.display()),
    )
    .unwrap();
    let output = std::process::Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "migrate"])
        .env(
            "DATABASE_URL",
            format!("host={} dbname=nothing user=nobody", dir.display()),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("database unreachable"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
