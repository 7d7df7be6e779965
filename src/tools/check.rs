//! `meterdesk check`: runs `db::books::check` as the database's owner, prints each rule with
//! what it checked and every disagreement, and fails (exit status 1) if anything disagrees.

use std::fmt::Write;

use crate::config::Config;
use crate::db::{self, books::Check};
use crate::startup;

pub async fn check_command(config: &Config) -> anyhow::Result<()> {
    let pool = startup::open_as_owner(config).await?;
    let mut client = pool.get().await.map_err(db::DbError::from)?;
    db::without_statement_timeout(&client).await?;
    let checks = db::books::check(&mut client).await?;
    print!("{}", report(&checks));
    let disagreements: usize = checks.iter().map(|c| c.disagreements.len()).sum();
    if disagreements > 0 {
        anyhow::bail!("the books do not balance: {disagreements} disagreement(s)");
    }
    Ok(())
}

/// One line per rule (`ok` or `FAILED`, what was checked), each disagreement under its rule.
pub fn report(checks: &[Check]) -> String {
    let mut text = String::new();
    for check in checks {
        let verdict = if check.disagreements.is_empty() {
            "ok    "
        } else {
            "FAILED"
        };
        let _ = writeln!(
            text,
            "{verdict} {} ({} checked, {} disagree)",
            check.rule,
            check.checked,
            check.disagreements.len()
        );
        for disagreement in &check.disagreements {
            let _ = writeln!(text, "       {disagreement}");
        }
    }
    text
}
