//! Running the PostgreSQL server programs from a test, for clusters the tests set up by hand.

use std::path::Path;
use std::process::{Command, Output};

/// `program` as the `postgres` account when the tests run as root (the server refuses root).
pub fn as_server_user(program: &Path) -> Command {
    if rustix::process::geteuid().is_root() {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(program);
        runuser
    } else {
        Command::new(program)
    }
}

/// Runs `command`, failing the test with its output unless it succeeds.
pub fn run(command: &mut Command) -> Output {
    let output = command.output().expect("running a command");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
