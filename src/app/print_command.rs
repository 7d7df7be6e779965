//! The receipt print command (`receipts.print_command`), run by `sh -c` with the receipt on
//! its standard input, and stopped when it runs past `receipts.print_limit_secs`: a printer
//! queue that hangs must not keep the receipt's request, and the clerk, waiting.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

use crate::config::ReceiptConfig;

/// How long the print command may run (`receipts.print_limit_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintLimit(pub Duration);

impl Default for PrintLimit {
    fn default() -> Self {
        PrintLimit(Duration::from_secs(
            ReceiptConfig::default().print_limit_secs,
        ))
    }
}

/// How often a running print command is looked at.
const POLL: Duration = Duration::from_millis(50);

/// Runs `command` with `text` on its standard input; blocks until it ends or `limit` has
/// passed, when it and everything it started is killed. The error says what went wrong in a
/// line the clerk can pass on.
pub fn print(command: &str, text: &str, limit: Duration) -> Result<(), String> {
    let mut child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // A group of its own, so the kill reaches what the shell started too.
        .process_group(0)
        // Installed set-group-id `meterdesk`, the desk may read the card secrets; a command
        // from the clerk's own configuration runs as the clerk alone.
        .gid(rustix::process::getgid().as_raw())
        .spawn()
        .map_err(|e| format!("{command}: {e}"))?;
    // A receipt is far smaller than a pipe's buffer: this never waits for the command.
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{command}: {e}"))?;
    }
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{command}: {e}"))? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("{command}: {status}"))
            };
        }
        if started.elapsed() >= limit {
            let group = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
            let _ = kill_process_group(group, Signal::KILL);
            let _ = child.wait();
            return Err(format!(
                "{command}: stopped after {} s without finishing",
                limit.as_secs()
            ));
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch_dir::ScratchDir;

    #[test]
    fn a_print_command_that_hangs_is_stopped_after_the_limit() {
        let started = Instant::now();
        let error = print("sleep 60", "receipt", Duration::from_secs(1)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(error, "sleep 60: stopped after 1 s without finishing");
    }

    #[test]
    fn the_print_command_gets_the_receipt_and_its_failure_is_told() {
        let dir = ScratchDir::new("print");
        let printed = dir.path().join("printed.txt");
        let command = format!("cat > '{}'", printed.display());
        print(&command, "RECEIPT 42\n", Duration::from_secs(30)).unwrap();
        assert_eq!(std::fs::read_to_string(&printed).unwrap(), "RECEIPT 42\n");
        let error = print("exit 3", "", Duration::from_secs(30)).unwrap_err();
        assert_eq!(error, "exit 3: exit status: 3");
    }
}
