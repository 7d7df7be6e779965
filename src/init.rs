//! Setting up an installation: the first administrator, asked for on the terminal by
//! `meterdesk init` and by the first start on a database with no operator. Runs as the owner
//! (the embedded cluster's installer, or the owner role configured for another server).

use std::io::{BufRead, Write};

use anyhow::{Context, bail};

use crate::db::{Pool, operators};
use crate::domain::password::check_new_password;
use crate::i18n::Lang;

/// The first administrator's department.
const FIRST_DEPARTMENT: &str = "Administration";

/// What the installer types for the first administrator.
pub struct FirstAdministrator {
    pub login: String,
    pub full_name: String,
    pub password: String,
}

/// Whether the installation has an operator yet.
pub async fn has_operators(owner: &Pool) -> anyhow::Result<bool> {
    let client = owner.get().await.map_err(crate::db::DbError::from)?;
    Ok(client
        .query_one("SELECT EXISTS (SELECT FROM operator) AS any", &[])
        .await?
        .get("any"))
}

/// Creates the first administrator; its password is the installer's own, not temporary.
pub async fn create_first_administrator(
    owner: &Pool,
    first: &FirstAdministrator,
) -> anyhow::Result<()> {
    let mut client = owner.get().await.map_err(crate::db::DbError::from)?;
    let tx = tokio_postgres::Client::transaction(&mut client).await?;
    let department_id = operators::department(&tx, FIRST_DEPARTMENT).await?;
    let id = operators::create(
        &tx,
        &operators::NewOperator {
            login: &first.login,
            full_name: &first.full_name,
            department_id,
            role_codes: &["administrator"],
            password: &first.password,
        },
    )
    .await
    .context("creating the first administrator")?;
    operators::keep_password(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// `meterdesk init`, and the first start: asks for the first administrator when there is no
/// operator, then says what to do next.
pub async fn first_administrator_if_none(owner: &Pool, lang: Lang) -> anyhow::Result<()> {
    if has_operators(owner).await? {
        return Ok(());
    }
    let stdin = std::io::stdin();
    let first = ask_first_administrator(&mut stdin.lock(), &mut std::io::stdout(), lang)?;
    create_first_administrator(owner, &first).await?;
    let next = lang.tf(
        "init.next",
        &[("name", &first.full_name), ("login", &first.login)],
    );
    println!("\n{next}\n");
    Ok(())
}

/// Reads the first administrator from `input`, prompting on `output`. The password is typed
/// twice; on a terminal it is not echoed.
pub fn ask_first_administrator(
    input: &mut impl BufRead,
    output: &mut impl Write,
    lang: Lang,
) -> anyhow::Result<FirstAdministrator> {
    writeln!(output, "{}", lang.t("init.no_operator"))?;
    let login = loop {
        let login = prompt(input, output, lang.t("init.login"), true)?;
        if valid_login(&login) {
            break login;
        }
        writeln!(output, "{}", lang.t("init.bad_login"))?;
    };
    let full_name = loop {
        let name = prompt(input, output, lang.t("init.full_name"), true)?;
        if !name.is_empty() {
            break name;
        }
    };
    let password = loop {
        let password = prompt(input, output, lang.t("init.password"), false)?;
        let again = prompt(input, output, lang.t("init.again"), false)?;
        match check_new_password(&login, None, &password, &again) {
            Ok(()) => break password,
            Err(problem) => writeln!(output, "{}", lang.t(problem.key()))?,
        }
    };
    Ok(FirstAdministrator {
        login,
        full_name,
        password,
    })
}

/// Whether `login` can be an operator's name (sql/V13's `operator_login_is_a_name`).
pub fn valid_login(login: &str) -> bool {
    let mut chars = login.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric())
        && login.chars().count() <= 30
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn prompt(
    input: &mut impl BufRead,
    output: &mut impl Write,
    question: &str,
    echo: bool,
) -> anyhow::Result<String> {
    write!(output, "{question}")?;
    output.flush()?;
    let _quiet = (!echo).then(EchoOff::new).flatten();
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        bail!("no answer: the first administrator was not created");
    }
    if !echo {
        writeln!(output)?;
    }
    Ok(line.trim_end_matches(['\n', '\r']).trim().to_owned())
}

/// The terminal's echo off while a password is typed; on again when dropped. Nothing when
/// standard input is no terminal (a script).
struct EchoOff(rustix::termios::Termios);

impl EchoOff {
    fn new() -> Option<EchoOff> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet).ok()?;
        Some(EchoOff(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_names_a_role_can_carry() {
        for good in ["admin", "li.wei", "Clerk-2", "a", "x_1"] {
            assert!(valid_login(good), "{good}");
        }
        for bad in ["", ".admin", "li wei", "张三", "a@b", &"x".repeat(31)] {
            assert!(!valid_login(bad), "{bad}");
        }
    }

    #[test]
    fn the_first_administrator_is_asked_until_each_answer_is_good() {
        let typed = "bad name\nadmin\n\nAda Admin\nshort\nshort\nriver-17a\nriver-17a\n";
        let mut output = Vec::new();
        let first = ask_first_administrator(&mut typed.as_bytes(), &mut output, Lang::En).unwrap();
        assert_eq!(first.login, "admin");
        assert_eq!(first.full_name, "Ada Admin");
        assert_eq!(first.password, "river-17a");
        let said = String::from_utf8(output).unwrap();
        assert!(said.contains("That name cannot be used"), "{said}");
        assert!(said.contains("at least 8 characters"), "{said}");
    }

    #[test]
    fn no_answer_creates_nobody() {
        let mut output = Vec::new();
        assert!(ask_first_administrator(&mut "admin\n".as_bytes(), &mut output, Lang::Zh).is_err());
        let said = String::from_utf8(output).unwrap();
        assert!(
            said.contains("第一个管理员"),
            "in the desk's language: {said}"
        );
    }
}
