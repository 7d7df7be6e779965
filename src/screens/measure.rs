//! Figures for `meterdesk bench`: how long a full frame takes to draw, and how many bytes a
//! row move sends to the terminal through the real crossterm backend (what an SSH link carries).

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::table::CustomerTable;
use crate::app::state::{Msg, Session, Slot};
use crate::app::{App, KeyMap, update};
use crate::db::customers::Page;
use crate::i18n::Lang;

/// The terminal the figures are taken on: columns, rows.
pub const SCREEN: (u16, u16) = (120, 40);

/// What the screen side of the benchmark measured.
#[derive(Debug, Clone, Copy)]
pub struct ScreenFigures {
    pub frame: Latency,
    pub bytes_per_row_move: f64,
}

/// p50, p95 and p99 of one kind of timing (nearest rank): the bench's and the soak's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl Latency {
    /// Of unsorted samples; all zero when there are none.
    pub fn of(mut times: Vec<Duration>) -> Latency {
        times.sort_unstable();
        Latency {
            p50: percentile(&times, 0.50),
            p95: percentile(&times, 0.95),
            p99: percentile(&times, 0.99),
        }
    }
}

/// A terminal that counts what it is sent.
#[derive(Clone, Default)]
struct ByteCounter(Rc<Cell<usize>>);

impl Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The customer table showing `page` on a `columns`×`rows` terminal, as after sign-in.
fn table_app(page: Page, columns: u16, rows: u16) -> App {
    let mut app = super::app(KeyMap::default(), Lang::En, Default::default());
    app.viewport = (columns, rows);
    app.session = Some(Session {
        must_change_password: false,
        serves_customers: true,
        permissions: Vec::new(),
        operator_id: 1,
        login: "bench".into(),
        full_name: "Bench".into(),
        department: "Counter Hall 1".into(),
        roles: vec!["clerk".into()],
    });
    app.screen = Slot::Module(
        app.screen_id(),
        Box::new(CustomerTable {
            page,
            loading: false,
            ..CustomerTable::default()
        }),
    );
    app
}

/// The `share`-th percentile of sorted samples (nearest rank).
fn percentile(sorted: &[Duration], share: f64) -> Duration {
    let rank = (sorted.len() as f64 * share).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// Draws `page` `runs` times at 120×40 for the frame time, then moves the selection down
/// through the rows of a page on a crossterm backend writing into memory, counting the bytes
/// per move.
pub fn measure(page: Page, runs: usize) -> std::io::Result<ScreenFigures> {
    let (columns, rows) = SCREEN;
    let mut app = table_app(page, columns, rows);
    // The test backend cannot fail (its error type is `Infallible`).
    let Ok(mut terminal) = Terminal::new(TestBackend::new(columns, rows));
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        // A fresh buffer each time, so every run draws the whole frame, not a diff.
        let Ok(()) = terminal.clear();
        let start = Instant::now();
        let Ok(_) = terminal.draw(|frame| crate::ui::draw(frame, &app));
        samples.push(start.elapsed());
    }

    let area = Rect::new(0, 0, columns, rows);
    let sent = ByteCounter::default();
    let mut wire = Terminal::with_options(
        CrosstermBackend::new(sent.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(area),
        },
    )?;
    wire.draw(|frame| crate::ui::draw(frame, &app))?;
    // Through the rows of a page the table reads at this size: past them, Down reads the
    // next page (the table's rows then scroll: what is measured is a move within the page).
    let moves = super::table::page_rows(&app).saturating_sub(1).max(1);
    sent.0.set(0);
    for _ in 0..moves {
        update(
            &mut app,
            Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        );
        wire.draw(|frame| crate::ui::draw(frame, &app))?;
    }
    let bytes = sent.0.get();
    Ok(ScreenFigures {
        frame: Latency::of(samples),
        bytes_per_row_move: bytes as f64 / moves as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_nearest_rank_of_the_unsorted_samples() {
        let ms = Duration::from_millis;
        let times: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let latency = |p50, p95, p99| Latency { p50, p95, p99 };
        assert_eq!(Latency::of(times), latency(ms(50), ms(95), ms(99)));
        assert_eq!(Latency::of(vec![ms(7)]), latency(ms(7), ms(7), ms(7)));
        let zero = Duration::ZERO;
        assert_eq!(Latency::of(Vec::new()), latency(zero, zero, zero));
    }
}
