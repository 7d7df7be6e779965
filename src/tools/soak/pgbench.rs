//! `pgbench -b tpcb-like` on the soak's server, in a scratch database made for it and dropped
//! after: the yardstick of what the server and machine do with as many clients as desks.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::db::embedded::BinSearch;

/// The scratch database's name.
pub const SCRATCH_DATABASE: &str = "meterdesk_pgbench";

/// Where pgbench runs: `admin` is a libpq key=value string of a role that may create databases,
/// in a database other than the scratch one; pgbench connects with it and the scratch
/// database's name appended (a later keyword wins in libpq).
pub struct Server {
    pub admin: String,
}

impl Server {
    fn scratch(&self) -> String {
        format!("{} dbname={SCRATCH_DATABASE}", self.admin)
    }
}

/// The server programs' pgbench: the same directory the embedded cluster's programs are taken
/// from.
pub fn program() -> anyhow::Result<PathBuf> {
    let program = BinSearch::default().find()?.join("pgbench");
    if !program.is_file() {
        bail!("{} is missing", program.display());
    }
    Ok(program)
}

/// Transactions per second of `clients` pgbench clients running the TPC-B-like script for
/// `duration`, on a scratch database of scale `clients` (one branch row per client, as
/// pgbench's documentation asks: fewer would make the clients wait on each other's branch).
pub async fn tps(server: &Server, clients: usize, duration: Duration) -> anyhow::Result<f64> {
    let program = program()?;
    recreate_scratch(server, true).await?;
    let measured = async {
        let scale = clients.to_string();
        run(
            &program,
            &["-i", "-q", "-I", "dtGvp", "-s", &scale, &server.scratch()],
        )
        .await?;
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(clients);
        let output = run(
            &program,
            &[
                "-b",
                "tpcb-like",
                "-c",
                &clients.to_string(),
                "-j",
                &threads.to_string(),
                "-T",
                &duration.as_secs().max(1).to_string(),
                &server.scratch(),
            ],
        )
        .await?;
        parse_tps(&output).with_context(|| format!("no tps in pgbench's output:\n{output}"))
    }
    .await;
    recreate_scratch(server, false).await?;
    measured
}

/// Drops the scratch database, and creates it again when `create`.
async fn recreate_scratch(server: &Server, create: bool) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(&server.admin, tokio_postgres::NoTls)
        .await
        .context("connecting to make pgbench's scratch database")?;
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"
        ))
        .await?;
    if create {
        client
            .batch_execute(&format!("CREATE DATABASE {SCRATCH_DATABASE}"))
            .await
            .context("creating pgbench's scratch database")?;
    }
    drop(client);
    let _ = connection.await;
    Ok(())
}

/// pgbench's standard output; a failure's standard error in the error.
async fn run(program: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "pgbench {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `tps = 1234.5 (without initial connection time)`: the rate pgbench reports.
pub fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_read_from_pgbenchs_summary() {
        let output = "transaction type: <builtin: TPC-B (sort of)>\n\
                      number of clients: 64\n\
                      latency average = 52.123 ms\n\
                      initial connection time = 301.2 ms\n\
                      tps = 1227.981504 (without initial connection time)\n";
        assert_eq!(parse_tps(output), Some(1227.981504));
        assert_eq!(parse_tps("pgbench: error: connection failed"), None);
    }
}
