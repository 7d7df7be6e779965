//! The reader thread: the only place that calls PC/SC.
//!
//! pcsc is blocking, so it gets an OS thread of its own. The thread follows pcscd, the readers
//! and the card live with `SCardGetStatusChange` (including the `\\?PnP?\Notification`
//! pseudo-reader, so plugged and unplugged readers are seen too) and reports every change of
//! [`ReaderState`] through a callback. Card work reaches it as requests on a channel; each
//! request is answered on its own oneshot channel, so the app never blocks on a card.
//!
//! A request is one operation of one or more APDUs (a card profile's `read_card`, say): the
//! thread runs it to the end before it looks at readers or other requests again, so nothing of
//! ours comes between the APDUs of an operation. Nor does another program's within a run of
//! them: each run holds the card in one PC/SC transaction ([`Session::exclusive`]); a card
//! session's read and write are one run, the database's decision between them included.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcsc::{Card, Context, Disposition, Protocols, Scope, ShareMode, State};
use tokio::sync::oneshot;

pub use super::apdu::{CardError, Exchange};
use super::apdu::{CommandApdu, ResponseApdu};
use super::water_card::{
    self, CardRead, IssuerPin, PinTries, Record, RecordsAndFciTries, RecordsAndPinTries,
};
use crate::domain::card_counter::CardWritePlan;

/// What the counter can see of its card reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderState {
    /// pcscd is not running (or its socket, e.g. one forwarded over SSH, is not there).
    NoService,
    /// pcscd runs but has no reader: a normal state, the clerk may plug one in.
    NoReader,
    NoCard {
        reader: String,
    },
    CardPresent {
        reader: String,
        atr: Vec<u8>,
    },
}

/// How long pcscd must stay away before a thread that saw no reader says [`ReaderState::NoService`]:
/// a quick restart (an upgrade, a card test's own pcscd between two tests on a shared
/// machine: 1.5–2.5 s apart, measured) is no outage, and a desk whose configured reader does
/// not exist said "no reader" and "no service" by turns from one second to the next (s43-e's
/// walk). A reader or a card followed is said gone at once, as is the service missing when
/// the thread starts; a card operation meanwhile is refused for the service, in words.
pub const SERVICE_GONE_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// The reader to follow. `None`: the first reader that has a card, else the first reader.
    pub reader_name: Option<String>,
    /// How long to wait between attempts to reach pcscd while it is away.
    pub reconnect_interval: Duration,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            reader_name: None,
            reconnect_interval: Duration::from_millis(500),
        }
    }
}

/// The answer to one request, arriving later from the reader thread.
#[must_use = "the card's answer arrives here"]
pub struct Reply<T>(oneshot::Receiver<Result<T, CardError>>);

impl<T> Reply<T> {
    pub async fn recv(self) -> Result<T, CardError> {
        self.0.await.unwrap_or(Err(CardError::ReaderStopped))
    }

    /// For callers outside an async runtime (tests, tools); panics inside one.
    pub fn blocking_recv(self) -> Result<T, CardError> {
        self.0
            .blocking_recv()
            .unwrap_or(Err(CardError::ReaderStopped))
    }
}

/// How long a card session waits for its plan: longer than a database transaction may take
/// (its statements end within `[database]`'s deadlines), short enough that a forgotten session
/// does not hold the reader.
pub const PLAN_WAIT: Duration = Duration::from_secs(60);

/// The write half of a [`ReaderHandle::card_session`].
#[must_use = "dropping it ends the card session without a write"]
pub struct SessionWrite {
    steps: mpsc::Sender<SessionStep>,
    written: Reply<[Record; 3]>,
}

/// What a card session is asked after its read.
enum SessionStep {
    /// Present the PIN now (see [`SessionWrite::verify`]).
    Verify(IssuerPin, oneshot::Sender<Result<(), CardError>>),
    /// Write the plan and read it back; the session's last step.
    Write(CardWritePlan, IssuerPin),
}

impl SessionWrite {
    /// Presents `pin` to the card the session read (VERIFY, see [`water_card::verify`]), before
    /// the caller decides what to write: a card that refuses it is known before anything is
    /// journaled. The write that follows sends no VERIFY of its own. A session whose read
    /// failed, or which waited longer than [`PLAN_WAIT`], presents nothing and says so.
    pub fn verify(&self, pin: &IssuerPin) -> Reply<()> {
        let (reply, answer) = oneshot::channel();
        // The session may have ended already: the dropped reply says so.
        let _ = self.steps.send(SessionStep::Verify(pin.clone(), reply));
        Reply(answer)
    }

    /// Writes `plan` on the card the session read; the answer is the card as it now is (the
    /// decisive record read back). A session whose read failed, or which waited longer than
    /// [`PLAN_WAIT`], writes nothing and says so.
    pub fn write(self, plan: &CardWritePlan, pin: &IssuerPin) -> Reply<[Record; 3]> {
        // The session may have ended already; its answer then says why.
        let _ = self
            .steps
            .send(SessionStep::Write(plan.clone(), pin.clone()));
        self.written
    }
}

/// Runs on the reader thread with the card (or with no service at all) and sends its own reply.
type Operation = Box<dyn FnOnce(&mut Session<'_>) + Send>;

enum Request {
    Operation {
        /// For the log, which says how many APDUs and how long each operation took.
        name: &'static str,
        operation: Operation,
    },
    Shutdown,
}

/// Owns the reader thread; dropping it stops the thread too.
pub struct ReaderHandle {
    requests: mpsc::Sender<Request>,
    apdus_sent: Arc<AtomicU64>,
    wakeup: Arc<Wakeup>,
    worker: Option<JoinHandle<()>>,
    waker: Option<JoinHandle<()>>,
}

/// How soon the waker cancels again while a request is still not taken.
const CANCEL_RETRY: Duration = Duration::from_millis(1);

/// Gets requests to the worker while it blocks in `SCardGetStatusChange`.
///
/// `SCardCancel` only wakes a wait that is already under way; one that arrives while the worker
/// is still entering the wait is lost (pcsc-lite), and a request sent right after the previous
/// answer lands in that window nearly every time. So a small waker thread cancels, and cancels
/// again every [`CANCEL_RETRY`], until the worker has taken every request sent.
struct Wakeup {
    /// The worker's current PC/SC context, if it has one.
    live_context: Mutex<Option<Context>>,
    queue: Mutex<QueueCount>,
    queue_changed: Condvar,
}

#[derive(Default)]
struct QueueCount {
    /// Requests sent and not yet taken by the worker.
    untaken: usize,
    /// The worker has ended: the waker ends too.
    closed: bool,
}

impl Wakeup {
    fn lock_queue(&self) -> MutexGuard<'_, QueueCount> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_live_context(&self, context: Option<Context>) {
        *self
            .live_context
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = context;
    }

    fn sent(&self) {
        self.lock_queue().untaken += 1;
        self.queue_changed.notify_one();
    }

    fn taken(&self) {
        let mut queue = self.lock_queue();
        queue.untaken = queue.untaken.saturating_sub(1);
    }

    fn close(&self) {
        self.lock_queue().closed = true;
        self.queue_changed.notify_one();
    }

    fn run_waker(&self) {
        let mut queue = self.lock_queue();
        loop {
            queue = self
                .queue_changed
                .wait_while(queue, |queue| queue.untaken == 0 && !queue.closed)
                .unwrap_or_else(PoisonError::into_inner);
            if queue.closed {
                return;
            }
            drop(queue);
            if let Some(context) = self
                .live_context
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                // Fails only when nothing is blocked, which the retry covers.
                let _ = context.cancel();
            }
            std::thread::sleep(CANCEL_RETRY);
            queue = self.lock_queue();
        }
    }
}

pub fn spawn(
    config: ReaderConfig,
    on_event: impl Fn(ReaderState) + Send + 'static,
) -> ReaderHandle {
    let (requests, incoming) = mpsc::channel();
    let wakeup = Arc::new(Wakeup {
        live_context: Mutex::new(None),
        queue: Mutex::new(QueueCount::default()),
        queue_changed: Condvar::new(),
    });
    let apdus_sent = Arc::new(AtomicU64::new(0));
    let worker = Worker {
        config,
        on_event: Box::new(on_event),
        incoming,
        wakeup: Arc::clone(&wakeup),
        apdus_sent: Arc::clone(&apdus_sent),
        reported: None,
        connection: None,
    };
    let worker = std::thread::Builder::new()
        .name("card-reader".into())
        .spawn(move || worker.run())
        .expect("spawning the card reader thread");
    let waker = {
        let wakeup = Arc::clone(&wakeup);
        std::thread::Builder::new()
            .name("card-reader-waker".into())
            .spawn(move || wakeup.run_waker())
            .expect("spawning the card reader's waker thread")
    };
    ReaderHandle {
        requests,
        apdus_sent,
        wakeup,
        worker: Some(worker),
        waker: Some(waker),
    }
}

impl ReaderHandle {
    /// Sends one APDU to the card of the current [`ReaderState::CardPresent`]. A response
    /// without a status word comes back as an error, never as an empty success.
    pub fn transmit(&self, command: CommandApdu) -> Reply<ResponseApdu> {
        self.operate("transmit", move |card| card.exchange(&command))
    }

    /// SELECT and the three records (see [`water_card::read_card`]).
    pub fn read_card(&self) -> Reply<CardRead> {
        self.operate("read card", water_card::read_card)
    }

    /// SELECT and the three records, with the PIN's tries SELECT's answer gave (see
    /// [`water_card::read_card_and_fci_tries`]): what a read for the screens takes.
    pub fn read_card_and_fci_tries(&self) -> Reply<RecordsAndFciTries> {
        self.operate("read card", water_card::read_card_and_fci_tries)
    }

    /// SELECT, the PIN's tries, the three records (see
    /// [`water_card::read_card_and_pin_tries`]): what a write reads first.
    pub fn read_card_and_pin_tries(&self) -> Reply<RecordsAndPinTries> {
        self.operate(
            "read card and PIN tries",
            water_card::read_card_and_pin_tries,
        )
    }

    /// A card session: the card read with its PIN's tries (see
    /// [`water_card::read_card_and_pin_tries`]), the PIN presented when the caller asks
    /// ([`SessionWrite::verify`]), then, once the caller has decided from what it read (a
    /// journal's begin in the database), one plan written in the same operation (see
    /// [`water_card::write_in_session`]). The thread waits for each step, up to [`PLAN_WAIT`],
    /// and serves nothing else meanwhile: nothing comes between the read and the write, which
    /// therefore needs no second SELECT, no second question of the tries and no read-back of
    /// what it did not write. Dropping the [`SessionWrite`] without writing ends the session.
    pub fn card_session(&self) -> (Reply<RecordsAndPinTries>, SessionWrite) {
        let (read_reply, read_answer) = oneshot::channel();
        let (written_reply, written_answer) = oneshot::channel();
        let (steps, step) = mpsc::channel::<SessionStep>();
        // One PC/SC transaction from the read to the write, the database's decision between
        // them included: another program's read or write there would be decided on, or
        // overwritten by, a card this write then changes (docs/decisions.md, s34-e).
        let operation: Operation = Box::new(move |session| {
            let mut read_reply = Some(read_reply);
            let written = session.exclusive(|card| {
                let read = water_card::read_card_and_pin_tries(card);
                let decided_from = read.as_ref().ok().cloned().flatten();
                // The requester may have given up; then no plan comes and the session ends.
                if let Some(reply) = read_reply.take() {
                    let _ = reply.send(read);
                }
                let Some((records, mut tries)) = decided_from else {
                    return Ok(None);
                };
                let mut verified_here = false;
                loop {
                    let ended = match step.recv_timeout(PLAN_WAIT) {
                        Ok(SessionStep::Verify(pin, reply)) => {
                            let verified = water_card::verify(card, tries, &pin);
                            if verified.is_ok() {
                                tries = PinTries::Verified;
                                verified_here = true;
                            }
                            // The caller gives up after a refusal: the session then ends.
                            let _ = reply.send(verified);
                            continue;
                        }
                        Ok(SessionStep::Write(plan, pin)) => {
                            return water_card::write_in_session(
                                card, &records, tries, &plan, &pin,
                            )
                            .map(Some);
                        }
                        Err(RecvTimeoutError::Timeout) => Err(CardError::SessionExpired),
                        // Nothing to write: the caller decided so, or gave up.
                        Err(RecvTimeoutError::Disconnected) => Ok(None),
                    };
                    // Verified for a write that does not come (the database refused it): the
                    // card is not left open to another program's UPDATE on this reader.
                    if verified_here {
                        let _ = water_card::end_verification(card);
                    }
                    return ended;
                }
            });
            match (read_reply, written) {
                // The card could not be held, so it was not read: the read says why.
                (Some(reply), Err(error)) => {
                    let _ = reply.send(Err(error));
                }
                (_, Ok(Some(records))) => {
                    let _ = written_reply.send(Ok(records));
                }
                (_, Err(error)) => {
                    let _ = written_reply.send(Err(error));
                }
                (_, Ok(None)) => {}
            }
        });
        self.send(Request::Operation {
            name: "card session",
            operation,
        });
        (
            Reply(read_answer),
            SessionWrite {
                steps,
                written: Reply(written_answer),
            },
        )
    }

    /// Writes the plan's records in its order and reads the card back (see
    /// [`water_card::write_plan`]); the caller resolves the plan from what comes back.
    pub fn write_plan(&self, plan: &CardWritePlan, pin: &IssuerPin) -> Reply<[Record; 3]> {
        let (plan, pin) = (plan.clone(), pin.clone());
        self.operate("write plan", move |card| {
            water_card::write_plan(card, &plan, &pin)
        })
    }

    /// APDUs sent to cards since the thread started. The difference across one operation is
    /// that operation's count, as operations run one at a time.
    pub fn apdus_sent(&self) -> u64 {
        self.apdus_sent.load(Ordering::Relaxed)
    }

    fn operate<T: Send + 'static>(
        &self,
        name: &'static str,
        operation: impl FnOnce(&mut dyn Exchange) -> Result<T, CardError> + Send + 'static,
    ) -> Reply<T> {
        let (reply, answer) = oneshot::channel();
        let operation: Operation = Box::new(move |session| {
            // The requester may have given up waiting; nothing to do then.
            let _ = reply.send(session.exclusive(operation));
        });
        self.send(Request::Operation { name, operation });
        Reply(answer)
    }

    /// Stops the thread and waits for it; the same happens on drop.
    pub fn shutdown(self) {
        drop(self);
    }

    fn send(&self, request: Request) {
        // A send fails only when the worker has ended; the dropped reply sender then tells the
        // caller so through its `Reply`.
        if self.requests.send(request).is_ok() {
            self.wakeup.sent();
        }
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        self.send(Request::Shutdown);
        let worker_panicked = self
            .worker
            .take()
            .is_some_and(|worker| worker.join().is_err());
        self.wakeup.close();
        let waker_panicked = self.waker.take().is_some_and(|waker| waker.join().is_err());
        if worker_panicked || waker_panicked {
            tracing::error!("a card reader thread panicked");
        }
    }
}

/// An open connection to the card, kept between requests because dropping a pcsc `Card` resets
/// it, which would undo SELECT and VERIFY. Dropped (so reset) when the thread stops: a card left
/// in the reader must not stay verified for other programs.
struct Connection {
    reader: CString,
    card: Card,
}

struct Worker {
    config: ReaderConfig,
    on_event: Box<dyn Fn(ReaderState) + Send>,
    incoming: mpsc::Receiver<Request>,
    wakeup: Arc<Wakeup>,
    apdus_sent: Arc<AtomicU64>,
    reported: Option<ReaderState>,
    connection: Option<Connection>,
}

/// The card as one operation sees it; `context` is `None` while pcscd is away.
struct Session<'w> {
    worker: &'w mut Worker,
    context: Option<&'w Context>,
    first_run: bool,
}

impl Session<'_> {
    /// Runs `apdus` with the card held for this connection alone: one PC/SC transaction
    /// (`SCardBeginTransaction`), ended (leaving the card as it is) when they are done. Another
    /// program on the same reader (a bank card tool, a second desk) gets the card only between
    /// our runs: its SELECT between our VERIFY and UPDATE BINARY would end the PIN's
    /// verification and get the write refused. A card session also holds it while its plan
    /// is decided: another program then waits for up to that round trip.
    fn exclusive<T>(
        &mut self,
        apdus: impl FnOnce(&mut dyn Exchange) -> Result<T, CardError>,
    ) -> Result<T, CardError> {
        let context = self.context.ok_or(CardError::NoService)?;
        let may_reconnect = std::mem::replace(&mut self.first_run, false);
        let apdus_sent = Arc::clone(&self.worker.apdus_sent);
        let begun = match self.worker.connect(context)?.card.transaction2() {
            // The transaction ends (leaving the card as it is) with this arm.
            Ok(transaction) => Ok(run_held(&transaction, &apdus_sent, apdus)),
            Err((_, error)) => Err((error, apdus)),
        };
        match begun {
            Ok((result, failed)) => {
                if failed {
                    // The card's state is unknown (pulled, reset, half a command): start over
                    // with a fresh connection next time.
                    self.worker.abandon_connection();
                }
                result
            }
            // Another program reset the card since our last operation (every pcsc program
            // that disconnects does). An operation assumes nothing of the card's state before
            // its first run, so that one simply begins again on a fresh connection.
            Err((pcsc::Error::ResetCard, apdus)) if may_reconnect => {
                tracing::debug!("the card was reset by another program; reconnecting");
                self.worker.abandon_connection();
                self.exclusive(apdus)
            }
            Err((error, _)) => {
                self.worker.abandon_connection();
                Err(error.into())
            }
        }
    }
}

/// Runs `apdus` on `card`, inside a transaction; also says whether an exchange failed.
fn run_held<T>(
    card: &Card,
    apdus_sent: &AtomicU64,
    apdus: impl FnOnce(&mut dyn Exchange) -> Result<T, CardError>,
) -> (Result<T, CardError>, bool) {
    let mut held = Held {
        card,
        apdus_sent,
        failed: false,
    };
    let result = apdus(&mut held);
    (result, held.failed)
}

/// The card inside one PC/SC transaction.
struct Held<'t> {
    card: &'t Card,
    apdus_sent: &'t AtomicU64,
    failed: bool,
}

impl Exchange for Held<'_> {
    fn exchange(&mut self, command: &CommandApdu) -> Result<ResponseApdu, CardError> {
        let bytes = command.to_bytes()?;
        let mut buffer = [0; pcsc::MAX_BUFFER_SIZE];
        let answered = self.card.transmit(&bytes, &mut buffer);
        // Counted when it reached the card, pulled card's empty answer included; a call pcscd
        // refused at once (a reset card, a stale handle) sent nothing.
        if answered.is_ok() {
            self.apdus_sent.fetch_add(1, Ordering::Relaxed);
        }
        let result = answered
            .map_err(CardError::from)
            .and_then(|response| Ok(ResponseApdu::parse(response)?));
        self.failed |= result.is_err();
        result
    }
}

enum Flow {
    Continue,
    Stop,
}

impl Worker {
    fn run(mut self) {
        // Since when pcscd has been out of reach, while it is.
        let mut away_since: Option<Instant> = None;
        loop {
            match Context::establish(Scope::User) {
                Ok(context) => {
                    away_since = None;
                    self.wakeup.set_live_context(Some(context.clone()));
                    let flow = self.follow(&context);
                    self.connection = None;
                    self.wakeup.set_live_context(None);
                    if let Flow::Stop = flow {
                        return;
                    }
                    // pcscd went away; try again at once so a quick restart is not reported
                    // as an outage, and report NoService only if it is really gone.
                }
                Err(error) => {
                    tracing::debug!(%error, "no PC/SC service");
                    let away = *away_since.get_or_insert_with(Instant::now);
                    // No reader was there to lose: "no service" only once pcscd stays away.
                    if self.reported != Some(ReaderState::NoReader)
                        || away.elapsed() >= SERVICE_GONE_AFTER
                    {
                        self.report(ReaderState::NoService);
                    }
                    if let Flow::Stop = self.serve_until(self.config.reconnect_interval) {
                        return;
                    }
                }
            }
        }
    }

    /// Follows readers and cards until pcscd goes away (Continue) or the app stops us (Stop).
    fn follow(&mut self, context: &Context) -> Flow {
        let mut watched: Vec<pcsc::ReaderState> = Vec::new();
        let mut readers_changed = true;
        loop {
            if readers_changed {
                match watch_list(context) {
                    Ok(list) => watched = list,
                    Err(error) => {
                        tracing::info!(%error, "lost the PC/SC service");
                        return Flow::Continue;
                    }
                }
                readers_changed = false;
                // The PnP pseudo-reader alone does not answer an UNAWARE wait at once, so the
                // wait below would not return until a reader appears: say so now.
                if watched.len() == 1 {
                    self.report(ReaderState::NoReader);
                }
            }
            match context.get_status_change(None, &mut watched) {
                Ok(()) => {
                    readers_changed = watched.iter().any(|entry| {
                        let event = entry.event_state();
                        entry.name() == pcsc::PNP_NOTIFICATION() && event.contains(State::CHANGED)
                            || event.intersects(State::UNKNOWN | State::IGNORE)
                    });
                    watched
                        .iter_mut()
                        .for_each(pcsc::ReaderState::sync_current_state);
                    let state = self.derive_state(&watched[1..]);
                    self.report(state);
                }
                // The waker: requests are waiting.
                Err(pcsc::Error::Cancelled) => {}
                // A reader vanished between listing and waiting.
                Err(pcsc::Error::UnknownReader) => readers_changed = true,
                Err(error) => {
                    tracing::info!(%error, "lost the PC/SC service");
                    return Flow::Continue;
                }
            }
            if let Flow::Stop = self.serve_pending(context) {
                return Flow::Stop;
            }
        }
    }

    fn derive_state(&self, readers: &[pcsc::ReaderState]) -> ReaderState {
        let name_of = |entry: &pcsc::ReaderState| entry.name().to_string_lossy().into_owned();
        // A mute card (no ATR) cannot be talked to, so for the counter it is no card.
        let has_card = |entry: &&pcsc::ReaderState| {
            let event = entry.event_state();
            event.contains(State::PRESENT) && !event.contains(State::MUTE)
        };
        let followed = match &self.config.reader_name {
            Some(wanted) => readers.iter().find(|entry| name_of(entry) == *wanted),
            None => readers.iter().find(has_card).or(readers.first()),
        };
        match followed {
            None => ReaderState::NoReader,
            Some(entry) if has_card(&entry) => ReaderState::CardPresent {
                reader: name_of(entry),
                atr: entry.atr().to_vec(),
            },
            Some(entry) => ReaderState::NoCard {
                reader: name_of(entry),
            },
        }
    }

    fn report(&mut self, state: ReaderState) {
        if self.reported.as_ref() == Some(&state) {
            return;
        }
        // Any change means another card, or none: an old connection must not reach it.
        self.abandon_connection();
        tracing::debug!(?state, "card reader");
        (self.on_event)(state.clone());
        self.reported = Some(state);
    }

    /// While there is no PC/SC context: answer requests as they come, for up to `wait`.
    fn serve_until(&mut self, wait: Duration) -> Flow {
        let request = self.incoming.recv_timeout(wait);
        if request.is_ok() {
            self.wakeup.taken();
        }
        match request {
            Ok(Request::Operation { operation, .. }) => {
                operation(&mut Session {
                    worker: self,
                    context: None,
                    first_run: true,
                });
                Flow::Continue
            }
            Ok(Request::Shutdown) | Err(RecvTimeoutError::Disconnected) => Flow::Stop,
            Err(RecvTimeoutError::Timeout) => Flow::Continue,
        }
    }

    fn serve_pending(&mut self, context: &Context) -> Flow {
        while let Ok(request) = self.incoming.try_recv() {
            self.wakeup.taken();
            match request {
                Request::Operation { name, operation } => {
                    let started = Instant::now();
                    let apdus_before = self.apdus_sent.load(Ordering::Relaxed);
                    operation(&mut Session {
                        worker: self,
                        context: Some(context),
                        first_run: true,
                    });
                    let apdus = self.apdus_sent.load(Ordering::Relaxed) - apdus_before;
                    tracing::debug!(name, apdus, elapsed = ?started.elapsed(), "card operation");
                }
                Request::Shutdown => return Flow::Stop,
            }
        }
        Flow::Continue
    }

    /// Closes a connection to a card that is gone or in doubt without resetting it. A reset
    /// of a pulled card fails, and pcscd then marks the reader empty behind its own poller's
    /// back: seen with vpcd, a card put back within one poll (≈ 0.4 s) was never reported.
    fn abandon_connection(&mut self) {
        if let Some(Connection { card, .. }) = self.connection.take()
            && let Err((_, error)) = card.disconnect(Disposition::LeaveCard)
        {
            tracing::debug!(%error, "closing an abandoned card connection");
        }
    }

    fn connect(&mut self, context: &Context) -> Result<&mut Connection, CardError> {
        let Some(ReaderState::CardPresent { reader, .. }) = &self.reported else {
            return Err(CardError::NoCard);
        };
        let reader = CString::new(reader.as_str()).expect("pcsc reader names have no NUL");
        if self
            .connection
            .as_ref()
            .is_none_or(|open| open.reader != reader)
        {
            let card = context.connect(&reader, ShareMode::Shared, Protocols::ANY)?;
            self.connection = Some(Connection { reader, card });
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }
}

/// The PnP pseudo-reader first, then every reader, all in "tell me everything" state.
fn watch_list(context: &Context) -> Result<Vec<pcsc::ReaderState>, pcsc::Error> {
    let readers = match context.list_readers_owned() {
        Ok(readers) => readers,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(error) => return Err(error),
    };
    Ok(std::iter::once(pcsc::PNP_NOTIFICATION().to_owned())
        .chain(readers)
        .map(|name| pcsc::ReaderState::new(name, State::UNAWARE))
        .collect())
}
