//! What the card on the reader is, for the status line and every screen: the hub's part of
//! the cards. A card is read whenever one is inserted (`Msg::Reader` with a new card) while
//! someone is signed in; the read, the resolution of pending operations and the lookup of the
//! card number run off the UI task as [`ReadCard`], and the answer lands in `App::card`. The
//! card screens (`screens::card`) read `App::card` and ask for a read after a write.

pub use super::card_seen::{CardRead, CardSeen, NewerWriteBack};
use super::hub::{
    Answer, App, Failure, Hub, MessageKind, Outgoing, Problem, Request, ScreenReply, ScreenRequest,
    drop_type_ahead_written, say, send,
};
use super::services::{Progress, Services};
use crate::card::apdu::CardCause;
use crate::card::reader::ReaderState;
use crate::card::water_card::Record;
use crate::cardflow::{self, FlowError, Touched, WritesStopped};
use crate::db::card_ops::{self, OperationKind, OperationState, Settled};
use crate::db::cards;
use crate::domain::card_records::CardContent;
use crate::i18n::Lang;

/// Why a card is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFor {
    /// A card came (or the clerk pressed F5): for the status line and the card screen, while
    /// the clerk goes on typing.
    Status,
    /// After a write: the next keys (Go to recharge, a recharge) need the card as written, so
    /// they wait for it.
    AfterWrite,
}

/// Read the card on the reader, resolve pending operations from it, look its number up. The
/// hub's own request: no screen asks it, so its answer is heard wherever the clerk is.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCard {
    pub operator_id: i64,
    pub after: ReadFor,
}

impl ScreenRequest for ReadCard {
    /// The read after a write cannot be called back: it holds the keyboard (the next keys
    /// need the card as written), F12 drops the typed-ahead keys but the answer is still
    /// awaited and shown.
    fn writes(&self) -> bool {
        self.after == ReadFor::AfterWrite
    }

    /// Parked, it leaves the write's outcome on the message line (the status line says the
    /// database is reconnecting, the card pane that the card is being read).
    fn parked_says(&self) -> Option<&'static str> {
        None
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move { Ok(Box::new(read(services, self.operator_id).await?) as _) })
    }

    /// The read after a write: the keys typed while it held the keyboard are dropped, and
    /// said, once what it brought is on screen (review of session 45: a tired clerk's F3s,
    /// Enter and F2 typed while the card was read back were replayed on the receipt or the
    /// pane that followed).
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(read) = reply.of::<CardRead>() {
            on_read(hub.app, read);
            (hub.app.registry.after_a_read)(hub, read);
        }
        if self.after == ReadFor::AfterWrite {
            drop_type_ahead_written(hub.app);
        }
    }
}

/// Reads the card, resolves pending operations from it, and looks a user card's number up.
async fn read(services: &Services, operator_id: i64) -> Result<CardRead, Failure> {
    let touched = cardflow::touch(&services.desk(operator_id), None).await;
    seen(services, operator_id, touched).await
}

/// [`read`] for the card a write has just left, as its card session read it back (`Flow`'s
/// `card`): no APDU, the rest as for a read.
pub async fn read_written(
    services: &Services,
    operator_id: i64,
    card: [Record; 3],
) -> Result<CardRead, Failure> {
    let desk = services.desk(operator_id);
    seen(
        services,
        operator_id,
        cardflow::touch_written(&desk, None, card).await,
    )
    .await
}

/// What a card read found, as the screens see it.
async fn seen(
    services: &Services,
    operator_id: i64,
    touched: Result<Touched, FlowError>,
) -> Result<CardRead, Failure> {
    let unreadable = |why: CardCause| CardRead {
        seen: CardSeen::Unreadable(why),
        settled: Vec::new(),
        discrepancies: Vec::new(),
    };
    let key = match services.card_access.key() {
        Ok(key) => key,
        Err(stopped) => return Ok(unreadable(stopped.into())),
    };
    let touched = match touched {
        Ok(touched) => touched,
        Err(FlowError::Card(error)) => return Ok(unreadable(error.cause())),
        Err(FlowError::Stopped(stopped)) => return Ok(unreadable(stopped.into())),
        Err(FlowError::Database(error)) => return Err(error.into()),
    };
    let seen = match touched.content {
        None => CardSeen::NotOurs,
        Some(CardContent::Blank) => CardSeen::Blank,
        // A tool card is no user card: the user-card rules call it foreign.
        Some(CardContent::Foreign { ef, .. }) => {
            let desk = services.desk(operator_id);
            let system = match &touched.records {
                Some(records) => cardflow::system_card_on(&desk, records).await,
                None => Ok(None),
            };
            match system {
                Ok(Some(system)) => CardSeen::System(Box::new(system)),
                Ok(None) => CardSeen::Foreign { ef },
                Err(FlowError::Database(error)) => return Err(error.into()),
                Err(FlowError::Card(error)) => return Ok(unreadable(error.cause())),
                Err(FlowError::Stopped(stopped)) => return Ok(unreadable(stopped.into())),
            }
        }
        Some(CardContent::User(card)) => {
            let client = services.pool.get().await?;
            let owner = cards::owner_of(&client, card.issue.card_number).await?;
            let active = match &owner {
                Some(owner) => card_ops::card_holder(&client, owner.customer_id, key)
                    .await?
                    .and_then(|holder| holder.active().cloned()),
                None => None,
            };
            CardSeen::User {
                card: Box::new(card),
                owner,
                active,
                newer: NewerWriteBack::found_in(&touched.discrepancies),
                pin_tries: touched.pin_tries,
            }
        }
    };
    Ok(CardRead {
        seen,
        settled: touched.settled,
        discrepancies: touched.discrepancies,
    })
}

/// The card as a write left it, read with the write's answer: taken as a read's answer is, and
/// any read still on its way is forgotten (it would answer for the card before the write).
pub fn written_card_seen(hub: &mut Hub, read: &CardRead) {
    forget_reads(hub.app);
    on_read(hub.app, read);
    (hub.app.registry.after_a_read)(hub, read);
}

/// A read answered: it counts only while the card it read is still in; an operation it
/// resolved is told.
fn on_read(app: &mut App, read: &CardRead) {
    if matches!(app.reader, ReaderState::CardPresent { .. }) {
        app.card = Some(read.seen.clone());
    }
    if let Some(settled) = read.settled.iter().find(|settled| settled.now) {
        let text = resolved_text(app, settled);
        say(app, MessageKind::Info, text);
    }
}

fn resolved_text(app: &App, settled: &Settled) -> String {
    let kind = app.lang.t(kind_key(settled.kind));
    // A failure reverses the operation's money row (sql/V78): what that left is said with the
    // amount the journal holds, never "if any". A recharge's price stays on the balance; a
    // refund's credit is taken back, nothing paid out; none moved no money.
    if let (OperationState::Failed, Some(amount)) = (settled.state, settled.amount) {
        let key = match settled.kind {
            OperationKind::Recharge => "ic.resolved_failed_amount",
            OperationKind::Refund => "ic.resolved_failed_refund",
            _ => "ic.resolved_failed_reversed",
        };
        return app.lang.tf(
            key,
            &[
                ("id", &settled.operation_id),
                ("kind", &kind),
                ("amount", &amount),
            ],
        );
    }
    let key = match settled.state {
        OperationState::Done => return done_text(app.lang, settled.kind, settled.operation_id),
        OperationState::Failed => "ic.resolved_failed",
        OperationState::Pending => "ic.resolved_pending",
    };
    app.lang
        .tf(key, &[("id", &settled.operation_id), ("kind", &kind)])
}

/// What a card read says of pending operation `id` of `kind` it found written: a recharge's
/// receipt, read back after it, is told in its place (`screens::card::receipt`).
pub fn done_text(lang: Lang, kind: OperationKind, id: i64) -> String {
    lang.tf(
        "ic.resolved_done",
        &[("id", &id), ("kind", &lang.t(kind_key(kind)))],
    )
}

/// A read that failed (the database refused or erred; a lost connection parks it instead): the
/// card is no longer being read, so the keys that wait for its read
/// (`screens::card::waits_for_the_card_read`), and every key typed behind them, go on.
pub(super) fn on_read_failed(app: &mut App, why: String) {
    if app.card == Some(CardSeen::Reading) {
        app.card = Some(CardSeen::Unreadable(CardCause::Said(why)));
    }
}

/// Whether `request` is the read of the card after a write: the keys typed while it held the
/// keyboard are dropped however it ends ([`ReadCard::answered_after_close`]).
pub(super) fn is_read_back(request: &Request) -> bool {
    request
        .of::<ReadCard>()
        .is_some_and(|read| read.after == ReadFor::AfterWrite)
}

/// Forgets the reads on their way (they answer for a card that may have gone); the keys a read
/// after a write held are dropped, and said.
fn forget_reads(app: &mut App) {
    let read_back = app.in_flight.iter().any(|f| is_read_back(&f.request));
    app.in_flight.retain(|f| !is_read(&f.request));
    if read_back {
        drop_type_ahead_written(app);
    }
}

/// Whether the card's read waits for the database (parked for a lost connection): the card
/// stays `Reading` until the database is back and the read, sent again, answers.
pub(super) fn read_parked(app: &App) -> bool {
    app.parked.iter().any(|parked| is_read(&parked.request))
}

/// Whether `request` is a card read (kept when the clerk logs out: it is for the status line).
pub fn is_read(request: &Request) -> bool {
    request.of::<ReadCard>().is_some()
}

/// A new reader state: a card that came is read, a card that went is forgotten.
pub(super) fn on_reader(app: &mut App, state: ReaderState, out: &mut Vec<Outgoing>) -> bool {
    if state == app.reader {
        return false;
    }
    app.reader = state;
    read_card(app, ReadFor::Status, out);
    true
}

/// Reads the card on the reader, if there is one and someone is signed in; forgets any read
/// still on its way (it answers for a card that may have gone).
pub fn read_card(app: &mut App, after: ReadFor, out: &mut Vec<Outgoing>) {
    forget_reads(app);
    let present = matches!(app.reader, ReaderState::CardPresent { .. });
    match (&app.session, present) {
        (Some(session), true) => {
            let operator_id = session.operator_id;
            app.card = Some(CardSeen::Reading);
            // Asked by no screen: the answer is the hub's, wherever the clerk is by then.
            let caller = app.calling.take();
            let read = ReadCard { operator_id, after };
            send(app, Request(Box::new(read)), out);
            app.calling = caller;
        }
        (None, true) => app.card = Some(CardSeen::Reading),
        (_, false) => app.card = None,
    }
}

/// The catalogue key naming an operation kind.
/// Why this desk writes no card, and what fixes it.
pub fn writes_stopped(stopped: WritesStopped) -> Problem {
    let key = match stopped {
        WritesStopped::NotConfigured => "failure.card_secrets_missing",
        WritesStopped::PinRefused => "failure.card_pin_refused_before",
    };
    Problem::new(key, "")
}

pub fn kind_key(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Open => "ic.op_open",
        OperationKind::Recharge => "ic.op_recharge",
        OperationKind::Refund => "ic.op_refund",
        OperationKind::Replace => "ic.op_replace",
        OperationKind::Recycle => "ic.op_recycle",
    }
}

/// The catalogue key naming an operation state.
pub fn state_key(state: OperationState) -> &'static str {
    match state {
        OperationState::Pending => "ic.opstate_pending",
        OperationState::Done => "ic.opstate_done",
        OperationState::Failed => "ic.opstate_failed",
    }
}
