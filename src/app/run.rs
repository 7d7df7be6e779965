//! The runner: owns the terminal and the one queue. Terminal events come from an input
//! thread, database answers from tokio tasks, reader states from the card thread, health
//! reports from a watcher task; `update` turns each into state, and a frame is drawn only when
//! something visible changed.

use std::collections::HashMap;
use std::time::Duration;

use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event, KeyEventKind};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use std::sync::Arc;

use super::hub::{App, DbStatus, Msg, RequestId};
use super::key_burst;
use super::request_task;
use super::requests::{self, ReceiptOutput, Services};
use super::update::update;
use crate::card::reader::{self, ReaderConfig};
use crate::cardflow::CardAccess;
use crate::config::CardCredentials;
use crate::db::session::Sessions;
use crate::db::{DbError, HealthProbe};

/// How often the health watcher asks the server whether it is there.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the app until the operator quits.
pub async fn run(
    mut app: App,
    sessions: Sessions,
    reader_config: ReaderConfig,
    card: CardCredentials,
    receipts: ReceiptOutput,
) -> std::io::Result<()> {
    let (tx, mut rx) = unbounded_channel();
    spawn_input_thread(tx.clone());
    spawn_health_watcher(HealthProbe::new(sessions.clone()), tx.clone());
    spawn_ticker(tx.clone());
    let reader_tx = tx.clone();
    let reader = reader::spawn(reader_config, move |state| {
        let _ = reader_tx.send(Msg::Reader(state));
    });
    let services = Services {
        pool: sessions,
        reader: Arc::new(reader),
        card_access: Arc::new(card_access(card)),
        receipts,
    };
    app.card_pin = services.card_access.pin_refusal();

    // ratatui::try_init also installs a panic hook that restores the terminal first: only
    // for a panic of this, the UI's, thread, which ends the app.
    let mut terminal = ratatui::try_init()?;
    request_task::keep_terminal_unless_ui_panics();
    // A paste arrives as one text (`Msg::Paste`), so its Tabs and line breaks are text, not
    // navigation; a terminal without bracketed paste types it as keys, as before.
    crossterm::execute!(std::io::stdout(), EnableBracketedPaste)?;
    let size = terminal.size()?;
    let _ = tx.send(Msg::Resize(size.width, size.height));
    let result = event_loop(&mut app, &mut terminal, &mut rx, &services, &tx).await;
    let _ = crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
    ratatui::restore();
    // Card tasks still running hold the reader too; the last one dropped stops its thread.
    if let Ok(reader) = Arc::try_unwrap(services.reader) {
        reader.shutdown();
    }
    result
}

/// The desk's card secrets; without them (and not in demo mode) cards are neither read nor
/// written, which the log says once and each card write tells the clerk.
fn card_access(card: CardCredentials) -> CardAccess {
    match card.secrets {
        Some(secrets) => CardAccess::new(secrets.key, secrets.pin),
        None => {
            tracing::warn!(
                "no card PIN and key configured (card.secrets_file, METERDESK_CARD_PIN and \
                 METERDESK_CARD_KEY) and card.demo is not set: card writes are refused"
            );
            CardAccess::unconfigured()
        }
    }
}

/// The tasks executing requests, by request id: a request `update` no longer waits for
/// (superseded by a newer search, cancelled, logged out) is aborted, and dropping its query
/// cancels it on the server too.
#[derive(Default)]
struct Tasks(HashMap<RequestId, AbortHandle>);

impl Tasks {
    fn abort_abandoned(&mut self, app: &App) {
        self.0.retain(|id, task| {
            let wanted = app.in_flight.iter().any(|f| f.id == *id);
            if !wanted {
                task.abort();
            }
            wanted
        });
    }
}

async fn event_loop(
    app: &mut App,
    terminal: &mut ratatui::DefaultTerminal,
    rx: &mut UnboundedReceiver<Msg>,
    services: &Services,
    tx: &UnboundedSender<Msg>,
) -> std::io::Result<()> {
    let mut tasks = Tasks::default();
    terminal.draw(|frame| (app.registry.draw)(frame, app))?;
    while let Some(msg) = rx.recv().await {
        let mut redraw = apply(app, msg, services, tx, &mut tasks);
        // Take everything already queued before drawing: one frame for a burst of keys.
        while let Ok(msg) = rx.try_recv() {
            redraw |= apply(app, msg, services, tx, &mut tasks);
        }
        tasks.abort_abandoned(app);
        if app.quit {
            break;
        }
        if redraw {
            terminal.draw(|frame| (app.registry.draw)(frame, app))?;
        }
    }
    Ok(())
}

/// Updates the state and sends the requests it asks for; true when the screen changed.
fn apply(
    app: &mut App,
    msg: Msg,
    services: &Services,
    tx: &UnboundedSender<Msg>,
    tasks: &mut Tasks,
) -> bool {
    let step = update(app, msg);
    for (id, request) in step.requests {
        let services = services.clone();
        let progress_tx = tx.clone();
        let work = async move {
            let progress = move |done, total| {
                let _ = progress_tx.send(Msg::Progress { id, done, total });
            };
            requests::execute_reporting(&services, request, &progress).await
        };
        tasks
            .0
            .insert(id, request_task::spawn(tx.clone(), id, work));
    }
    step.redraw
}

/// How long a poll that should only see what is already read waits instead (see
/// [`Terminal`]): it returns as soon as an event is there, so only a plain Esc with nothing
/// behind it waits this long; no one types a key this soon after an Esc.
const ALREADY_READ: Duration = Duration::from_millis(10);

/// crossterm's `read` blocks, so it gets a thread of its own.
fn spawn_input_thread(tx: UnboundedSender<Msg>) {
    std::thread::spawn(move || {
        loop {
            let events = match key_burst::read_burst(&mut Terminal) {
                Ok(events) => events,
                Err(err) => {
                    tracing::error!("terminal input failed: {err}");
                    return;
                }
            };
            for msg in events.into_iter().filter_map(input_msg) {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
}

/// The terminal, as `key_burst` reads it, through crossterm's `use-dev-tty` source: it polls
/// the terminal level-triggered, so a burst longer than its 1 024-byte read is read on (its
/// default mio source left the rest in the kernel until the next key). That source answers a
/// zero-wait poll without looking at the events it has already parsed from a read, so a poll
/// for "only what is already read" waits [`ALREADY_READ`] instead, which the parsed events
/// answer at once.
struct Terminal;

impl key_burst::Events for Terminal {
    fn poll(&mut self, wait: Duration) -> std::io::Result<bool> {
        event::poll(wait.max(ALREADY_READ))
    }

    fn read(&mut self) -> std::io::Result<Event> {
        event::read()
    }
}

fn input_msg(event: Event) -> Option<Msg> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => Some(Msg::Key(key)),
        Event::Resize(columns, rows) => Some(Msg::Resize(columns, rows)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        _ => None,
    }
}

/// Reports the database's state every second while an operator is signed in, on a connection
/// of its own; `update` ignores reports that change nothing.
pub fn spawn_health_watcher(mut health: HealthProbe, tx: UnboundedSender<Msg>) {
    tokio::spawn(async move {
        loop {
            let report = match health.ping().await {
                None => None,
                Some(Ok(())) => Some(Msg::Database(DbStatus::Connected)),
                Some(Err(DbError::SignedOut(detail))) => Some(Msg::SessionEnded(detail)),
                Some(Err(err)) => {
                    tracing::warn!("database health check failed: {err}");
                    Some(Msg::Database(DbStatus::Reconnecting))
                }
            };
            if let Some(report) = report
                && tx.send(report).is_err()
            {
                return;
            }
            tokio::time::sleep(HEALTH_INTERVAL).await;
        }
    });
}

fn spawn_ticker(tx: UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(super::hub::TICK);
        loop {
            ticks.tick().await;
            if tx.send(Msg::Tick).is_err() {
                return;
            }
        }
    });
}
