//! The resident memory of the running app (issue 3 asks for it, not the bench's own): the app's
//! binary runs in a tmux pane of the bench screen's size, a bench operator of its own signs in,
//! pages down, searches and opens Details, and then the app's `/proc/<pid>/status` is read.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::db::operators::{self, NewOperator};
use crate::db::{self, Pool};
use crate::domain::password::generate_password;
use crate::i18n::Lang;
use crate::screens::measure::SCREEN;

/// PgDn presses after sign-in.
pub const PAGES: usize = 5;
/// How long one step may take before the bench gives up and shows the screen.
const PATIENCE: Duration = Duration::from_secs(30);
/// The screen counts as settled (pages in, spinner stopped) when it is the same this long.
const SETTLED: Duration = Duration::from_millis(400);

/// How the app is started: its binary and its configuration, as the bench was given them.
pub struct Launch<'a> {
    pub exe: &'a Path,
    pub config: Option<&'a Path>,
    /// The configured language: the bench waits for the app's texts in it.
    pub lang: Lang,
}

/// The app's memory once the clerk's steps are done, in kB as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS: resident now.
    pub resident_kb: u64,
    /// VmHWM: the most that was ever resident.
    pub peak_kb: u64,
}

#[derive(Debug)]
pub enum Outcome {
    Measured(Memory),
    /// Why there is no figure (tmux is not installed).
    Skipped(String),
}

/// Starts the app, drives it through sign-in, `PAGES` pages down, a search by name, a search
/// by customer number and its Details, and reads its memory. A bench operator with a generated
/// password signs in; it is disabled afterwards, whatever happened.
pub async fn measure(pool: &Pool, launch: &Launch<'_>) -> anyhow::Result<Outcome> {
    if let Err(why) = tmux_version() {
        return Ok(Outcome::Skipped(format!(
            "tmux is needed to run the app: {why}"
        )));
    }
    let client = pool.get().await.map_err(db::DbError::from)?;
    let customer = client
        .query_opt(
            "SELECT customer_no, name FROM customer ORDER BY customer_no DESC LIMIT 1",
            &[],
        )
        .await?
        .context("the app's memory is measured on a database with customers")?;
    let customer: (i64, String) = (customer.get("customer_no"), customer.get("name"));
    let login = format!("bench-{:08x}", fastrand::u32(..));
    let password = generate_password();
    let department_id = operators::department(&**client, "Bench").await?;
    let operator_id = operators::create(
        &**client,
        &NewOperator {
            login: &login,
            full_name: "Bench",
            department_id,
            role_codes: &["clerk"],
            password: &password,
        },
    )
    .await?;
    operators::keep_password(&**client, operator_id).await?;
    let exe = launch.exe.to_owned();
    let config = launch.config.map(Path::to_owned);
    let lang = launch.lang;
    let measured = tokio::task::spawn_blocking(move || {
        let mut command = vec![exe.as_os_str()];
        if let Some(config) = &config {
            command.extend([OsStr::new("--config"), config.as_os_str()]);
        }
        command.push(OsStr::new("run"));
        let pane = Pane::start(&command)?;
        drive(&pane, lang, &login, &password, &customer)?;
        memory_of(pane.pid()?)
    })
    .await;
    operators::set_enabled(&**client, operator_id, false).await?;
    Ok(Outcome::Measured(measured??))
}

/// The clerk's steps, each waited for on the screen.
fn drive(
    pane: &Pane,
    lang: Lang,
    login: &str,
    password: &str,
    (number, name): &(i64, String),
) -> anyhow::Result<()> {
    pane.wait_for(lang.t("login.operator"))?;
    pane.text(login)?;
    pane.keys(&["Enter"])?;
    pane.text(password)?;
    pane.keys(&["Enter"])?;
    pane.wait_for(lang.t("status.db_connected"))?;
    pane.wait_for(lang.t("screen.customers"))?;
    pane.settle()?;
    for _ in 0..PAGES {
        pane.keys(&["PageDown"])?;
        pane.settle()?;
    }
    pane.text("/")?;
    pane.text(name)?;
    pane.settle()?;
    pane.keys(&["C-u"])?;
    let number = format!("{number:08}");
    pane.text(&number)?;
    pane.settle()?;
    // Enter leaves the search box, Enter again opens Details; its breadcrumb is the number.
    pane.keys(&["Enter"])?;
    pane.keys(&["Enter"])?;
    pane.wait_for(&format!("› {number}"))?;
    pane.settle()
}

/// VmRSS and VmHWM of process `pid`.
pub fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kb = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    };
    Ok(Memory {
        resident_kb: kb("VmRSS:")?,
        peak_kb: kb("VmHWM:")?,
    })
}

fn tmux_version() -> anyhow::Result<String> {
    let output = Command::new("tmux").arg("-V").output()?;
    if !output.status.success() {
        bail!("`tmux -V` failed: {}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// One pane of `SCREEN`'s size in a private tmux server, running the app directly (no shell),
/// so the pane's process is the app; the server is killed on drop, which ends the app.
struct Pane {
    socket: String,
}

impl Pane {
    fn start(command: &[&OsStr]) -> anyhow::Result<Pane> {
        let pane = Pane {
            socket: format!("meterdesk-bench-{}", std::process::id()),
        };
        let (columns, rows) = (SCREEN.0.to_string(), SCREEN.1.to_string());
        let status = Command::new("tmux")
            .args(["-L", &pane.socket, "-f", "/dev/null", "start-server", ";"])
            // Kept after the app exits, so a failed start shows why.
            .args(["set", "-g", "remain-on-exit", "on", ";"])
            .args(["new-session", "-d", "-x", &columns, "-y", &rows])
            .args(command)
            .env("TERM", "xterm-256color")
            .status()
            .context("starting tmux")?;
        if !status.success() {
            bail!("tmux could not start the app: {status}");
        }
        Ok(pane)
    }

    fn tmux(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .context("running tmux")?;
        if !output.status.success() {
            bail!(
                "tmux {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Keys by tmux name: "Enter", "PageDown", "C-u".
    fn keys(&self, keys: &[&str]) -> anyhow::Result<()> {
        self.tmux(&[&["send-keys", "-t", "0"][..], keys].concat())
            .map(drop)
    }

    /// Literal text, typed as is.
    fn text(&self, text: &str) -> anyhow::Result<()> {
        self.tmux(&["send-keys", "-t", "0", "-l", text]).map(drop)
    }

    fn screen(&self) -> anyhow::Result<String> {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// The app's process id.
    fn pid(&self) -> anyhow::Result<u32> {
        let pid = self.tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"])?;
        pid.trim()
            .parse()
            .with_context(|| format!("tmux gave no pane pid: {pid:?}"))
    }

    fn wait_for(&self, text: &str) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let screen = self.screen()?;
            if screen.contains(text) {
                return Ok(screen);
            }
            if start.elapsed() > PATIENCE {
                bail!("waited {PATIENCE:?} for {text:?}; the app's screen is:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen stops changing: the answer is in and the spinner has stopped.
    fn settle(&self) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut last = self.screen()?;
        let mut same_since = Instant::now();
        while same_since.elapsed() < SETTLED {
            if start.elapsed() > PATIENCE {
                bail!("the app's screen did not settle in {PATIENCE:?}:\n{last}");
            }
            std::thread::sleep(Duration::from_millis(50));
            let screen = self.screen()?;
            if screen != last {
                last = screen;
                same_since = Instant::now();
            }
        }
        Ok(())
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
