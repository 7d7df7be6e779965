//! The panic hook that restores the terminal acts only for a panic of the UI thread, which ends
//! the app; a panic on any other thread (a request's task) leaves the terminal to the app.
//! A binary of its own: it replaces the process's panic hook.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use meterdesk::app::request_task::keep_terminal_unless_ui_panics;

#[test]
fn only_a_panic_of_the_ui_thread_reaches_the_terminal_restoring_hook() {
    // Stands in for ratatui's hook, which restores the terminal.
    let restored = Arc::new(AtomicUsize::new(0));
    let count = restored.clone();
    std::panic::set_hook(Box::new(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    }));
    keep_terminal_unless_ui_panics();

    let task = std::thread::spawn(|| panic!("a request's task"));
    assert!(task.join().is_err());
    assert_eq!(restored.load(Ordering::SeqCst), 0);

    assert!(std::panic::catch_unwind(|| panic!("the UI thread")).is_err());
    assert_eq!(restored.load(Ordering::SeqCst), 1);
}
