//! Drives the real binary in a private, headless tmux server: type keys, read the screen.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use meterdesk::config::SYSTEM_CONFIG_ENV;

/// The meterdesk binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_meterdesk");

/// A scratch directory for the app's config, log and exit code.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meterdesk-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A receipt's last line: once it is in a file, the whole receipt is.
pub const RECEIPT_END: &str = "Please keep this receipt.";

/// The text of the file at `path` once it holds `awaited`, within `within`. Receipts are kept
/// off the UI task, so the file may come a moment after the screen; a print command appends
/// each paper to one file, so being there does not say the awaited paper is in it yet.
pub fn wait_for_file(path: &Path, awaited: &str, within: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.contains(awaited)
        {
            return text;
        }
        assert!(
            start.elapsed() < within,
            "{} never held {awaited:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A script that runs meterdesk against `conn_str` with a config whose data dir is `dir`.
pub fn launcher(dir: &Path, conn_str: &str) -> String {
    launcher_with(dir, conn_str, "")
}

/// As [`launcher`], with more config sections (`[card]`, `[receipts]` …) after `[database]`.
pub fn launcher_with(dir: &Path, conn_str: &str, more_config: &str) -> String {
    let database_url = format!(
        "export DATABASE_URL=\"{}\"\n",
        conn_str.replace('"', "\\\"")
    );
    write_launcher(dir, dir, &database_url, more_config)
}

/// A script that runs meterdesk on its embedded database in `data_dir` (made on first start),
/// with its config, log and exit code in `dir`.
pub fn embedded_launcher(dir: &Path, data_dir: &Path, more_config: &str) -> String {
    write_launcher(dir, data_dir, "", more_config)
}

fn write_launcher(dir: &Path, data_dir: &Path, database_env: &str, more_config: &str) -> String {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\ndata_dir = \"{}\"\n\n{more_config}",
            data_dir.display()
        ),
    )
    .unwrap();
    let script = dir.join("run.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{database_env}export LANG=C.UTF-8\n\
             export {SYSTEM_CONFIG_ENV}={}\nexport XDG_CONFIG_HOME={}\n\
             exec {BIN} --config {}\n",
            dir.join("no-system-config.toml").display(),
            dir.display(),
            config.display()
        ),
    )
    .unwrap();
    format!("sh {}", script.display())
}

/// One stroke of a [`Tmux::burst`].
#[derive(Debug, Clone, Copy)]
pub enum Stroke<'a> {
    /// Literal text, typed as is.
    Text(&'a str),
    /// A key by tmux name: "F2", "Enter", "Tab".
    Key(&'a str),
    /// Text pasted into the terminal.
    Paste(&'a str),
}

/// One tmux server with one 80×24 pane running a command; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (run by `sh -c`) in a fresh tmux server named after `name`; its exit
    /// code is written to `exit_file` because tmux does not keep it reliably.
    pub fn start(name: &str, command: &str, exit_file: &Path) -> Tmux {
        let socket = format!("meterdesk-{name}-{}", std::process::id());
        let wrapped = format!("{command}; echo $? > {}", exit_file.display());
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "start-server", ";"])
            .args(["set", "-g", "remain-on-exit", "on", ";"])
            .args([
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
                "sh",
                "-c",
                &wrapped,
            ])
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux could not start {command}");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Keys by tmux name: "F2", "Enter", "Tab", "Escape".
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Literal text, typed as is.
    pub fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    /// Strokes sent in one tmux command, one after the other without looking at the screen in
    /// between, as a fast clerk types.
    pub fn burst(&self, strokes: &[Stroke]) {
        let mut args: Vec<&str> = Vec::new();
        for stroke in strokes {
            if !args.is_empty() {
                args.push(";");
            }
            match stroke {
                Stroke::Text(text) => args.extend(["send-keys", "-t", "0", "-l", text]),
                Stroke::Key(key) => args.extend(["send-keys", "-t", "0", key]),
                // A bracketed paste when the app asked for it (tmux's `paste-buffer -p`).
                Stroke::Paste(text) => args.extend([
                    "set-buffer",
                    "-b",
                    "burst",
                    text,
                    ";",
                    "paste-buffer",
                    "-p",
                    "-d",
                    "-b",
                    "burst",
                    "-t",
                    "0",
                ]),
            }
        }
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until the screen contains `text`; panics with the screen after `within`.
    /// Signs in at the sign-in form as `login` with `password` and waits for the customer
    /// table.
    pub fn sign_in(&self, login: &str, password: &str, within: Duration) {
        self.wait_for("Operator", within);
        self.text(login);
        self.keys(&["Enter"]);
        self.text(password);
        self.keys(&["Enter"]);
        self.wait_for("Cust.No.", within);
    }

    pub fn wait_for(&self, text: &str, within: Duration) -> String {
        self.wait_until(&format!("{text:?} on the screen"), within, |screen| {
            screen.contains(text)
        })
    }

    /// Waits until the screen no longer contains `text`.
    pub fn wait_for_absence(&self, text: &str, within: Duration) -> String {
        self.wait_until(&format!("{text:?} gone"), within, |screen| {
            !screen.contains(text)
        })
    }

    /// Waits until `done` holds for the screen; `what` names it in the panic.
    pub fn wait_until(&self, what: &str, within: Duration, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < within,
                "waited {within:?} for {what}; the screen is:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}
