//! A utility's first day, in tmux on the real binary: meterdesk started on an empty data
//! directory makes its embedded database and asks for the first administrator on the
//! terminal, who signs in, changes their password and adds a clerk; the clerk signs in with
//! the temporary password shown once and must choose their own first. (The refund refused
//! for the clerk and done by a supervisor is tmux-tested with the card rig in e2e_cards.)

mod support;

use std::time::Duration;

use support::pg::scratch_spec;
use support::tmux::{Tmux, embedded_launcher, scratch};

const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn the_first_start_makes_the_database_and_its_first_administrator() {
    let dir = scratch("setup");
    // A fresh, short directory (the socket path is limited) that is cleaned up at exit.
    let data_dir = scratch_spec().data_dir;
    let tmux = Tmux::start(
        "setup",
        &embedded_launcher(&dir, &data_dir, ""),
        &dir.join("exit"),
    );
    tmux.wait_for("Create the first administrator", PATIENCE);
    tmux.text("ada");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Full name", PATIENCE);
    tmux.text("Ada Admin");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Password:", PATIENCE);
    tmux.text("first-day-1");
    tmux.keys(&["Enter"]);
    tmux.text("first-day-1");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("meterdesk — sign in", PATIENCE);
    assert!(
        !screen.contains("first-day-1"),
        "a password never shows: {screen}"
    );

    tmux.text("ada");
    tmux.keys(&["Enter"]);
    tmux.text("first-day-1");
    tmux.keys(&["Enter"]);
    let home = tmux.wait_for("Ada Admin@Administration", PATIENCE);
    assert!(home.contains("Welcome, Ada Admin."), "{home}");

    tmux.text(":password");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Change your password", PATIENCE);
    for text in ["first-day-1", "second-day-2", "second-day-2"] {
        tmux.text(text);
        tmux.keys(&["Enter"]);
    }
    tmux.wait_for("Your password is changed.", PATIENCE);
    // Signed out (asked first) and in again with the new one.
    tmux.keys(&["F3"]);
    tmux.wait_for("Sign out?", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("meterdesk — sign in", PATIENCE);
    tmux.text("ada");
    tmux.keys(&["Enter"]);
    tmux.text("second-day-2");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Welcome, Ada Admin.", PATIENCE);

    // The administrator adds a clerk: the temporary password is shown once.
    tmux.text(":operators");
    tmux.keys(&["Enter"]);
    // The list's own count: "ada" was on the screen before it (the status line), and an `a`
    // pressed then waits for the list (session 34: under load the form came up without it).
    tmux.wait_for("1 in all", PATIENCE);
    tmux.keys(&["a"]);
    tmux.wait_for("Login", PATIENCE);
    tmux.text("wang.fang");
    tmux.keys(&["Tab"]);
    tmux.text("Wang Fang");
    tmux.keys(&["Tab"]);
    tmux.text("Adm");
    tmux.keys(&["Enter", "Tab", "F2"]);
    let shown = tmux.wait_for("The temporary password of wang.fang", PATIENCE);
    let temporary = shown
        .lines()
        .map(|line| line.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .find(|word| word.len() == 12 && word.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| panic!("no temporary password on the screen: {shown}"))
        .to_owned();
    tmux.keys(&["F2"]);
    tmux.wait_for_absence(&temporary, PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("Search:", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("Sign out?", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("meterdesk — sign in", PATIENCE);

    // The clerk's first sign-in: their own password before anything else.
    tmux.text("wang.fang");
    tmux.keys(&["Enter"]);
    tmux.text(&temporary);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Your password is temporary", PATIENCE);
    for _ in 0..2 {
        tmux.text("wang-own-1");
        tmux.keys(&["Enter"]);
    }
    let home = tmux.wait_for("Your password is changed.", PATIENCE);
    assert!(home.contains("Search:"), "{home}");
    tmux.keys(&["F10"]);
}
