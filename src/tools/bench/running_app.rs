//! The running app measured from outside, as a clerk's terminal sees it (issues 3 and 14): the
//! app's binary runs in a tmux pane of the bench screen's size, a bench operator of its own
//! signs in, and the bench times start to first frame, key to frame for a row move and for a
//! search, and reads the app's `/proc/<pid>/status` after the clerk's steps — and, when asked,
//! again and again over a long scripted session, to show whether the desk grows.
//!
//! Key to frame is timed by polling the pane (`tmux capture-pane`, a process of its own each
//! time, about 1–2 ms): each figure includes tmux's own relay and up to one poll.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::db::operators::{self, NewOperator};
use crate::db::{self, Pool};
use crate::domain::password::generate_password;
use crate::i18n::Lang;
use crate::screens::measure::{Latency, SCREEN};

/// PgDn presses in a clerk's round.
pub const PAGES: usize = 5;
/// Row moves timed.
const ROW_MOVES: usize = 120;
/// Customers searched by number, each timed (the last ones of the table, never on its first
/// page, so their row appears only when the search is answered).
const SEARCHES: i64 = 40;
/// How long one step may take before the bench gives up and shows the screen.
const PATIENCE: Duration = Duration::from_secs(30);
/// The screen counts as settled (pages in, spinner stopped) when it is the same this long.
const SETTLED: Duration = Duration::from_millis(400);
/// The minutes of a long session at which its memory is read (those within its length).
const MEMORY_AT_MINUTES: [u64; 3] = [1, 10, 60];

/// How the app is started: its binary and its configuration, as the bench was given them.
pub struct Launch<'a> {
    pub exe: &'a Path,
    pub config: Option<&'a Path>,
    /// The configured language: the bench waits for the app's texts in it.
    pub lang: Lang,
}

/// The app's memory, in kB as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// VmRSS: resident now.
    pub resident_kb: u64,
    /// VmHWM: the most that was ever resident.
    pub peak_kb: u64,
}

/// What the running app was measured at.
#[derive(Debug, Clone, PartialEq)]
pub struct AppFigures {
    /// From starting the binary to the sign-in form on the screen.
    pub first_frame: Duration,
    /// Down on the customer table to the moved selection on the screen.
    pub row_move: Latency,
    /// A customer number typed into the search box to its row on the screen.
    pub search_shown: Latency,
    /// After sign-in, `PAGES` pages down, a search by name and by number, and Details.
    pub memory: Memory,
    /// The long session's readings: minutes since sign-in, and the memory then.
    pub memory_over_time: Vec<(u64, Memory)>,
}

#[derive(Debug)]
pub enum Outcome {
    Measured(AppFigures),
    /// Why there is no figure (tmux is not installed).
    Skipped(String),
}

/// Starts the app and measures it (see [`AppFigures`]); with `session_minutes` above zero, the
/// clerk's round (pages, searches, Details and back) then repeats for that long and the memory
/// is read at [`MEMORY_AT_MINUTES`] and at the end. A bench operator with a generated password
/// signs in; it is disabled afterwards, whatever happened.
pub async fn measure(
    pool: &Pool,
    launch: &Launch<'_>,
    session_minutes: u64,
) -> anyhow::Result<Outcome> {
    if let Err(why) = tmux_version() {
        return Ok(Outcome::Skipped(format!(
            "tmux is needed to run the app: {why}"
        )));
    }
    let client = pool.get().await.map_err(db::DbError::from)?;
    let customers: Vec<Customer> = client
        .query(
            "SELECT customer_no, name FROM customer ORDER BY customer_no DESC LIMIT $1",
            &[&SEARCHES],
        )
        .await?
        .iter()
        .map(|row| Customer {
            number: format!("{:08}", row.get::<_, i64>("customer_no")),
            name: row.get("name"),
        })
        .collect();
    if customers.is_empty() {
        bail!("the app is measured on a database with customers");
    }
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
        let started = Instant::now();
        let pane = Pane::start(&command)?;
        pane.wait_for_quickly(lang.t("login.operator"))?;
        let first_frame = started.elapsed();
        let clerk = Clerk {
            pane: &pane,
            lang,
            customers: &customers,
        };
        clerk.sign_in(&login, &password)?;
        let row_move = clerk.time_row_moves()?;
        let search_shown = clerk.time_searches()?;
        clerk.round(0)?;
        let memory = memory_of(pane.pid()?)?;
        let memory_over_time = clerk.long_session(session_minutes)?;
        anyhow::Ok(AppFigures {
            first_frame,
            row_move,
            search_shown,
            memory,
            memory_over_time,
        })
    })
    .await;
    operators::set_enabled(&**client, operator_id, false).await?;
    Ok(Outcome::Measured(measured??))
}

/// A customer the clerk looks for: the number as typed and the name.
struct Customer {
    number: String,
    name: String,
}

/// The clerk's steps in the pane, each waited for on the screen.
struct Clerk<'a> {
    pane: &'a Pane,
    lang: Lang,
    customers: &'a [Customer],
}

impl Clerk<'_> {
    fn sign_in(&self, login: &str, password: &str) -> anyhow::Result<()> {
        self.pane.text(login)?;
        self.pane.keys(&["Enter"])?;
        self.pane.text(password)?;
        self.pane.keys(&["Enter"])?;
        self.pane.wait_for(self.lang.t("status.db_connected"))?;
        self.pane.wait_for(self.lang.t("screen.customers"))?;
        self.pane.settle()
    }

    /// Down on the table, each timed to the first change of the screen (with its colours: the
    /// selection is a highlight).
    fn time_row_moves(&self) -> anyhow::Result<Latency> {
        let mut times = Vec::with_capacity(ROW_MOVES);
        for _ in 0..ROW_MOVES {
            let before = self.pane.screen_with_colours()?;
            let sent = Instant::now();
            self.pane.keys(&["Down"])?;
            self.pane.wait_until(Duration::ZERO, || {
                Ok(self.pane.screen_with_colours()? != before)
            })?;
            times.push(sent.elapsed());
        }
        Ok(Latency::of(times))
    }

    /// Each customer's number typed into a cleared search box, timed to its row at the start
    /// of a table line (the box itself shows the number at once).
    fn time_searches(&self) -> anyhow::Result<Latency> {
        self.pane.text("/")?;
        let mut times = Vec::with_capacity(self.customers.len());
        for customer in self.customers {
            self.pane.keys(&["C-u"])?;
            self.pane.settle()?;
            let sent = Instant::now();
            self.pane.text(&customer.number)?;
            self.pane.wait_until(Duration::ZERO, || {
                Ok(self
                    .pane
                    .screen()?
                    .lines()
                    .any(|line| line.starts_with(&customer.number)))
            })?;
            times.push(sent.elapsed());
        }
        self.pane.keys(&["C-u", "Enter"])?;
        self.pane.settle()?;
        Ok(Latency::of(times))
    }

    /// One round at the counter, from the table with the search box closed and back: `PAGES`
    /// pages down, a search by name, by number, the customer's Details, back to the table.
    fn round(&self, round: usize) -> anyhow::Result<()> {
        let customer = &self.customers[round % self.customers.len()];
        for _ in 0..PAGES {
            self.pane.keys(&["PageDown"])?;
            self.pane.settle()?;
        }
        self.pane.text("/")?;
        self.pane.keys(&["C-u"])?;
        self.pane.text(&customer.name)?;
        self.pane.settle()?;
        self.pane.keys(&["C-u"])?;
        self.pane.text(&customer.number)?;
        self.pane.settle()?;
        // Enter leaves the search box, Enter again opens Details; its breadcrumb is the number.
        self.pane.keys(&["Enter"])?;
        self.pane.keys(&["Enter"])?;
        self.pane.wait_for(&format!("› {}", customer.number))?;
        self.pane.settle()?;
        self.pane.keys(&["F3"])?;
        self.pane.wait_for(self.lang.t("screen.customers"))?;
        self.pane.text("/")?;
        self.pane.keys(&["C-u", "Enter"])?;
        self.pane.settle()
    }

    /// Rounds for `minutes`, the memory read at each of [`MEMORY_AT_MINUTES`] within it and
    /// at the end.
    fn long_session(&self, minutes: u64) -> anyhow::Result<Vec<(u64, Memory)>> {
        let pid = self.pane.pid()?;
        let started = Instant::now();
        let length = Duration::from_secs(minutes * 60);
        let mut marks = MEMORY_AT_MINUTES
            .into_iter()
            .filter(|&mark| mark < minutes)
            .chain((minutes > 0).then_some(minutes))
            .peekable();
        let mut readings = Vec::new();
        let mut round = 1;
        while let Some(&mark) = marks.peek() {
            if started.elapsed() >= Duration::from_secs(mark * 60).min(length) {
                readings.push((mark, memory_of(pid)?));
                marks.next();
                continue;
            }
            self.round(round)?;
            round += 1;
        }
        Ok(readings)
    }
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

    /// The screen with its colours and attributes as escape sequences.
    fn screen_with_colours(&self) -> anyhow::Result<String> {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "0"])
    }

    /// The app's process id.
    fn pid(&self) -> anyhow::Result<u32> {
        let pid = self.tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"])?;
        pid.trim()
            .parse()
            .with_context(|| format!("tmux gave no pane pid: {pid:?}"))
    }

    fn wait_for(&self, text: &str) -> anyhow::Result<()> {
        self.wait_until(Duration::from_millis(50), || {
            Ok(self.screen()?.contains(text))
        })
    }

    /// [`Pane::wait_for`] polling without pause: for timings, where a sleep would be measured.
    fn wait_for_quickly(&self, text: &str) -> anyhow::Result<()> {
        self.wait_until(Duration::ZERO, || Ok(self.screen()?.contains(text)))
    }

    /// Polls `done` every `pause` until it holds, for at most [`PATIENCE`].
    fn wait_until(
        &self,
        pause: Duration,
        mut done: impl FnMut() -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        while !done()? {
            if start.elapsed() > PATIENCE {
                bail!(
                    "waited {PATIENCE:?}; the app's screen is:\n{}",
                    self.screen()?
                );
            }
            std::thread::sleep(pause);
        }
        Ok(())
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
