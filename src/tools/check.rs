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
    let mut checks = db::books::check(&mut client).await?;
    // The debts' records are signed with the card key, which only a program of the meterdesk
    // group reads: checked where it is configured, said to be unchecked where it is not.
    let key = config
        .card
        .credentials()?
        .secrets
        .map(|secrets| secrets.key);
    if let Some(key) = &key {
        checks.push(db::books::check_debt_evidence_with(&**client, key).await?);
    }
    print!("{}", report(&checks));
    if key.is_none() {
        println!(
            "not checked: the debts' card records (no card key here: card.secrets_file or \
             METERDESK_CARD_KEY)"
        );
    }
    let disagreements: usize = checks.iter().map(|c| c.disagreements.len()).sum();
    if disagreements > 0 {
        anyhow::bail!(
            "the books do not balance: {}",
            super::counted(disagreements, "disagreement")
        );
    }
    Ok(())
}

/// One line per rule (`ok`, `FAILED`, or `PARTLY` when it agrees but found what it could not
/// check; what was checked), each disagreement and each thing not checked under its rule.
pub fn report(checks: &[Check]) -> String {
    let mut text = String::new();
    for check in checks {
        let verdict = match (check.disagreements.is_empty(), check.unchecked.is_empty()) {
            (false, _) => "FAILED",
            (true, false) => "PARTLY",
            (true, true) => "ok    ",
        };
        let not_checked = match check.unchecked.len() {
            0 => String::new(),
            count => format!(", {count} not checked"),
        };
        let _ = writeln!(
            text,
            "{verdict} {} ({} checked, {} disagree{not_checked})",
            check.rule,
            check.checked,
            check.disagreements.len()
        );
        for disagreement in &check.disagreements {
            let _ = writeln!(text, "       {disagreement}");
        }
        for unchecked in &check.unchecked {
            let _ = writeln!(text, "       not checked: {unchecked}");
        }
    }
    text
}
