//! A card write from start to end (docs/card.md, "Card and ledger never disagree"): read the
//! card → present this desk's issuer PIN (VERIFY: a card that refuses it ends the flow with
//! nothing paid or journaled) → [`card_ops::begin`] (resolve what was pending, plan, journal as
//! pending with the money, one transaction) → write the plan (one UPDATE BINARY per record, the
//! decisive one read back) → [`card_ops::settle`] (done, or failed and the money reversed, with
//! the card's reason when it refused the write). The read, the VERIFY and the write are one
//! card session (`ReaderHandle::card_session`): the reader thread waits for the plan while the
//! database begins, so nothing comes between them and a recharge costs 7 APDUs.
//!
//! Plain async functions over the pool and the reader thread, for the app's request tasks. Any
//! failure after the journal leaves the operation pending ([`Flow::Pending`]); the next
//! [`touch`] of the card or the customer, or the next operation's `begin`, resolves it from
//! what the card then holds. A request is retried with the same idempotency key: it never
//! journals, charges or writes twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, MutexGuard};

use crate::card::apdu::CardCause;
use crate::card::reader::{CardError, ReaderHandle, Reply, SessionWrite};
use crate::card::water_card::{CardRead, IssuerPin, PinTries, Record};
use crate::db::DbError;
use crate::db::card_ops::{
    self, Begin, BeginOutcome, Begun, ClearedCredit, Discrepancy, FailureReason, Journaled,
    OperationState, Payment, RechargeFacts, Refusal, Request, SettingApplied, Settled,
    SystemCardFacts, SystemCardRefusal,
};
use crate::db::session::Sessions;
use crate::domain::card_counter::{CardWritePlan, Resolution};
use crate::domain::card_records::{CardContent, MacKey, MeterNumber, PurchaseRecord, UserCard};
use crate::domain::system_cards::{SystemCard, SystemCardKind};

/// One card flow at a time in this process. Resolving a pending operation as failed is right
/// only when its write can no longer land: a second flow of the same session (a request sent
/// twice) must not read the card, and resolve the first from it, between the first's journal and
/// its write. A session follows one reader, so this costs nothing.
static ONE_FLOW_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn exclusive() -> MutexGuard<'static, ()> {
    ONE_FLOW_AT_A_TIME.lock().await
}

/// What a card operation needs from the session: the database, the reader, the card secrets
/// from the configuration, the operator signed in.
#[derive(Clone, Copy)]
pub struct Desk<'a> {
    pub pool: &'a Sessions,
    pub reader: &'a ReaderHandle,
    pub access: &'a CardAccess,
    pub operator_id: i64,
}

/// The card secrets of this desk, and whether a card has refused its PIN. A card that answers
/// "wrong PIN" says the configured PIN is wrong, and each further write would spend a try of
/// the next customer's card (3 and it is blocked for good): from then on this process writes
/// no card, until it is restarted with the right PIN. Reading needs only the key.
#[derive(Debug)]
pub struct CardAccess {
    secrets: Option<(MacKey, IssuerPin)>,
    pin_refused: PinRefusal,
}

/// Whether a card has refused this desk's issuer PIN: shared by the card tasks, which record
/// it, and the screens, which then refuse a card-writing command before its confirmation.
#[derive(Debug, Clone, Default)]
pub struct PinRefusal(Arc<AtomicBool>);

impl PinRefusal {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Records the refusal; true the first time.
    pub fn record(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }
}

/// Why this desk writes no card; nothing was sent to the card, nothing journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WritesStopped {
    #[error(
        "no card PIN and key are configured (card.secrets_file, or METERDESK_CARD_PIN and \
         METERDESK_CARD_KEY)"
    )]
    NotConfigured,
    #[error(
        "a card refused this desk's issuer PIN: card writes are stopped until the PIN is \
         corrected and meterdesk restarted"
    )]
    PinRefused,
}

impl From<WritesStopped> for CardCause {
    /// Why a card was not read or written here, as the clerk is told it (a catalogue text).
    fn from(stopped: WritesStopped) -> CardCause {
        match stopped {
            WritesStopped::NotConfigured => CardCause::NoSecrets,
            WritesStopped::PinRefused => CardCause::WritesStopped,
        }
    }
}

impl CardAccess {
    pub fn new(key: MacKey, pin: IssuerPin) -> Self {
        Self {
            secrets: Some((key, pin)),
            pin_refused: PinRefusal::default(),
        }
    }

    /// No secrets: cards are neither read (their MACs cannot be checked) nor written.
    pub fn unconfigured() -> Self {
        Self {
            secrets: None,
            pin_refused: PinRefusal::default(),
        }
    }

    /// The MAC key, to read a card.
    pub fn key(&self) -> Result<&MacKey, WritesStopped> {
        self.secrets
            .as_ref()
            .map(|(key, _)| key)
            .ok_or(WritesStopped::NotConfigured)
    }

    /// The key and the PIN, unless this desk may not write cards.
    pub fn for_writing(&self) -> Result<(&MacKey, &IssuerPin), WritesStopped> {
        let (key, pin) = self.secrets.as_ref().ok_or(WritesStopped::NotConfigured)?;
        if self.pin_refused.happened() {
            return Err(WritesStopped::PinRefused);
        }
        Ok((key, pin))
    }

    /// Whether a card has refused this desk's PIN, as the screens watch it.
    pub fn pin_refusal(&self) -> PinRefusal {
        self.pin_refused.clone()
    }

    /// Notes what a card answered to this desk's PIN: a refusal stops its writes.
    fn heard(&self, error: &CardError) {
        if let CardError::WrongPin { .. } = error {
            self.refuse_pin();
        }
    }

    fn refuse_pin(&self) {
        if self.pin_refused.record() {
            tracing::error!(
                "a card refused the configured issuer PIN: no card is written until meterdesk \
                 is restarted with the right one"
            );
        }
    }
}

/// Why an operation did not start. Nothing was written to the card; nothing was journaled,
/// except when the database stopped answering in the middle of [`card_ops::begin`]'s commit:
/// retry with the same idempotency key to find out.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Stopped(#[from] WritesStopped),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Why a journaled operation is still pending.
#[derive(Debug, thiserror::Error)]
pub enum PendingCause {
    /// The write or the read-back failed (card pulled, reader gone, card refused a command).
    #[error(transparent)]
    Card(CardError),
    /// The card was written and read back, but the database did not take the result.
    #[error(transparent)]
    Database(DbError),
    /// The card refused the write (its issuer PIN, a command: nothing written on it, read
    /// again as it is), and the database did not take the refusal: the operation fails when
    /// the card is read again with the database back.
    #[error(transparent)]
    RefusalUnrecorded(DbError),
    /// The card read back is neither as before nor as planned (another card, changed since).
    #[error("the card read back is not the card of the operation")]
    NotTheCard,
    /// Nothing was sent: a card refused the PIN between the journal and the write.
    #[error(transparent)]
    Stopped(WritesStopped),
}

/// How an operation ended; `resolved` is the customer's earlier pending operation, settled on
/// the way from the card presented. `card`: the card's records as the write left them (the
/// decisive one read back), so nothing need read the card again to show it.
#[derive(Debug)]
pub enum Flow {
    /// Written, read back, journaled done.
    Done {
        begun: Begun,
        settled: Settled,
        resolved: Option<Settled>,
        card: [Record; 3],
    },
    /// The card read back still holds the old record: failed, its money reversed.
    Failed {
        begun: Begun,
        settled: Settled,
        resolved: Option<Settled>,
        card: [Record; 3],
        /// Why nothing was written, when the card refused the write (its issuer PIN).
        refused: Option<CardError>,
    },
    /// The outcome is not known yet: resolved when the card or the customer is touched next.
    Pending {
        begun: Begun,
        cause: PendingCause,
        resolved: Option<Settled>,
    },
    /// Nothing written, nothing journaled.
    Refused {
        refusal: Refusal,
        resolved: Option<Settled>,
    },
    /// This idempotency key's operation was finished before.
    Finished(Settled),
}

/// A card read at the counter, with the pending operations it resolved and what differs
/// from the database (audited).
#[derive(Debug)]
pub struct Touched {
    /// `None`: a card without the WATER application (foreign).
    pub content: Option<CardContent>,
    pub records: Option<[Record; 3]>,
    pub settled: Vec<Settled>,
    pub discrepancies: Vec<Discrepancy>,
    /// The issuer PIN's tries, when the read's SELECT answer gave them (`None` after a write:
    /// its read-back does not SELECT again).
    pub pin_tries: Option<PinTries>,
}

impl Touched {
    /// The card as it reads once this read wrote `records` onto it: those, and what they are.
    fn now_holds(&mut self, records: [Record; 3], key: &MacKey) {
        self.content = Some(CardContent::classify(&records, key));
        self.records = Some(records);
    }
}

/// Reads the card on the reader, resolves from it the pending operation of `customer_id`
/// (the customer on screen, if any) and of the card's owner, and reconciles the card with the
/// database (`card_ops::reconcile`). Call it whenever a card is
/// presented or a customer's card screen opens.
pub async fn touch(desk: &Desk<'_>, customer_id: Option<i64>) -> Result<Touched, FlowError> {
    let key = desk.access.key()?;
    let _flow = exclusive().await;
    let Some((records, pin_tries)) = desk.reader.read_card_and_fci_tries().recv().await? else {
        return Ok(Touched {
            content: None,
            records: None,
            settled: Vec::new(),
            discrepancies: Vec::new(),
            pin_tries: None,
        });
    };
    let mut touched = touched(desk, customer_id, records, key).await?;
    touched.pin_tries = pin_tries;
    refund_written_on_read(desk, &mut touched, key).await?;
    unpaid_purchase_replaced_on_read(desk, &mut touched, key).await?;
    Ok(touched)
}

/// The card that took a recharge settled failed from an old copy, whose money the balance has
/// spent since (`FailedPurchaseFound`, not taken back), still carries the purchase valid: swiped
/// before the card that carries the purchase paid with that money, the meter would load both,
/// and the first was never paid for (s38-d, step 11). The database cannot tell the copy from a
/// write that did not land, but this card tells: no meter has loaded the purchase yet
/// (`MeterSaw::NotLoaded`), so the read writes over it the books' later purchase, which the card
/// lacks, as a recharge on it would (no money, audited `card.missing_purchase`): the meter
/// loads that purchase's sequence number once whichever card brings it, and the unpaid one
/// from neither. Told as `Discrepancy::FailedPurchaseReplaced`. A desk that writes no card, a
/// write that does not land, or a meter that loaded it leave the discrepancy told as read.
async fn unpaid_purchase_replaced_on_read(
    desk: &Desk<'_>,
    touched: &mut Touched,
    key: &MacKey,
) -> Result<(), FlowError> {
    let Some(index) = touched.discrepancies.iter().position(|found| {
        matches!(
            found,
            Discrepancy::FailedPurchaseFound {
                taken_back: false,
                meter: card_ops::MeterSaw::NotLoaded,
                ..
            }
        )
    }) else {
        return Ok(());
    };
    let Discrepancy::FailedPurchaseFound {
        operation_id,
        sequence,
        litres,
        amount,
        ..
    } = touched.discrepancies[index].clone()
    else {
        return Ok(());
    };
    let Some(CardContent::User(card)) = &touched.content else {
        return Ok(());
    };
    // Written over already by this read (the refund an older copy lacked, just above).
    if let Some(on_card) = card.purchase.as_ref().filter(|on| on.sequence != sequence) {
        touched.discrepancies[index] = Discrepancy::FailedPurchaseReplaced {
            operation_id,
            sequence,
            litres,
            amount,
            written: on_card.sequence,
        };
        return Ok(());
    }
    let Some((record, written)) = written_on_read(desk, card).await? else {
        return Ok(());
    };
    touched.discrepancies[index] = Discrepancy::FailedPurchaseReplaced {
        operation_id,
        sequence,
        litres,
        amount,
        written: record.sequence,
    };
    // The purchase the card lacked is on it now.
    touched.discrepancies.retain(|found| {
        !matches!(found, Discrepancy::MissingPurchase { sequence, .. } if *sequence == record.sequence)
    });
    touched.now_holds(written, key);
    Ok(())
}

/// An older copy of the card saved before its purchase was refunded still shows the purchase
/// valid, and a meter would load the water paid back: the read writes the refund onto it at
/// once, as a recharge or refund on it would (no money, audited `card.missing_purchase`), and
/// tells it (`Discrepancy::RefundWritten`). A desk that writes no card, or a write that does
/// not land, leaves the discrepancy told as read.
async fn refund_written_on_read(
    desk: &Desk<'_>,
    touched: &mut Touched,
    key: &MacKey,
) -> Result<(), FlowError> {
    let Some(index) = touched
        .discrepancies
        .iter()
        .position(|found| matches!(found, Discrepancy::MissingPurchase { refunded: true, .. }))
    else {
        return Ok(());
    };
    let Some(CardContent::User(card)) = &touched.content else {
        return Ok(());
    };
    if let Some((record, written)) = written_on_read(desk, card).await? {
        touched.discrepancies[index] = Discrepancy::RefundWritten {
            sequence: record.sequence,
            shown: card.purchase.as_ref().map(|purchase| purchase.sequence),
        };
        touched.now_holds(written, key);
    }
    Ok(())
}

/// The purchase the books hold that the card on the reader lacks, written onto it by a read
/// (no money, audited `card.missing_purchase`): what was written and the card's records after.
/// `None` where this desk writes no card, the card is no customer's here, or the write did
/// not land (the discrepancy is then told as read).
async fn written_on_read(
    desk: &Desk<'_>,
    card: &UserCard,
) -> Result<Option<(PurchaseRecord, [Record; 3])>, FlowError> {
    if desk.access.for_writing().is_err() {
        return Ok(None);
    }
    let client = desk.pool.get().await.map_err(DbError::from)?;
    let Some(owner) = card_ops::card_owner(&client, card.issue.card_number).await? else {
        return Ok(None);
    };
    drop(client);
    Ok(match write_missing(desk, owner, card, desk.reader).await? {
        Some((record, Some(written))) => Some((record, written)),
        _ => None,
    })
}

/// [`touch`] for the card a write has just left (`Flow::Done`'s or `Flow::Failed`'s `card`):
/// resolved and reconciled as read, with no APDU — the write's session read it back.
pub async fn touch_written(
    desk: &Desk<'_>,
    customer_id: Option<i64>,
    card: [Record; 3],
) -> Result<Touched, FlowError> {
    let key = desk.access.key()?;
    let _flow = exclusive().await;
    touched(desk, customer_id, card, key).await
}

async fn touched(
    desk: &Desk<'_>,
    customer_id: Option<i64>,
    records: [Record; 3],
    key: &MacKey,
) -> Result<Touched, FlowError> {
    let mut client = desk.pool.get().await.map_err(DbError::from)?;
    let settled = card_ops::touch(&mut client, customer_id, &records, key).await?;
    let discrepancies = card_ops::reconcile(&mut client, desk.operator_id, &records, key).await?;
    Ok(Touched {
        content: Some(CardContent::classify(&records, key)),
        records: Some(records),
        settled,
        discrepancies,
        pin_tries: None,
    })
}

/// Wipes the card in the reader back to blank; its owner is found from the card.
pub async fn recycle(desk: &Desk<'_>, idempotency_key: &str) -> Result<Flow, FlowError> {
    desk.access.for_writing()?;
    let _flow = exclusive().await;
    let ran = recycle_read(desk, idempotency_key).await;
    or_sent_before(desk, idempotency_key, ran).await?.flow
}

/// [`recycle`] of the card read now.
async fn recycle_read(desk: &Desk<'_>, idempotency_key: &str) -> Result<Ran, FlowError> {
    let (key, _) = desk.access.for_writing()?;
    let (records, session) = match read(desk).await? {
        Ok(read) => read,
        Err(refusal) => return Ok(Ran::refused(refusal)),
    };
    let owner = match CardContent::classify(&records, key) {
        CardContent::User(card) => {
            let client = desk.pool.get().await.map_err(DbError::from)?;
            card_ops::card_owner(&client, card.issue.card_number).await?
        }
        CardContent::Blank => return Ok(Ran::refused(Refusal::BlankCard)),
        CardContent::Foreign { .. } => return Ok(Ran::refused(Refusal::ForeignCard)),
    };
    let Some(customer_id) = owner else {
        return Ok(Ran::refused(Refusal::UnknownCard));
    };
    let on = Presented {
        customer_id,
        request: &Request::Recycle,
        idempotency_key,
        records: &records,
        decided_from: None,
        owed: &[],
    };
    run_on(desk, &on, session).await
}

/// Any request but recycle for `customer_id` (open, recharge, refund, replace — see
/// [`Request`]): read the card, begin, write, settle. A desk that may not write cards
/// ([`WritesStopped`]) refuses before anything is sent or journaled.
pub async fn run(
    desk: &Desk<'_>,
    customer_id: i64,
    request: &Request,
    idempotency_key: &str,
) -> Result<Flow, FlowError> {
    run_decided(desk, customer_id, request, idempotency_key, None, &[])
        .await?
        .flow
}

/// How a flow ended, and the debts it paid before its begin (see [`run_decided`]). `flow` is
/// an error only when debts were paid and the begin then failed for certain (the database
/// refused it, the card failed before anything was journaled): the debts' receipts are the
/// customer's all the same, and the request's answer must carry them.
#[derive(Debug)]
pub struct Ran {
    pub flow: Result<Flow, FlowError>,
    pub owed: Vec<card_ops::OwedPaid>,
}

impl Ran {
    /// Nothing written, nothing journaled, nothing paid: `refusal`.
    fn refused(refusal: Refusal) -> Self {
        Self {
            flow: Ok(refused(refusal)),
            owed: Vec::new(),
        }
    }
}

/// [`run`], for a recharge decided from the facts its form read with the quote
/// (`decided_from`, see [`card_ops::begin_decided`]): its begin is one round trip. `owed`:
/// the recharge's operations whose purchase a meter loaded unpaid, which its confirmation
/// showed, paid with its payment method once the card has taken this desk's PIN, before the
/// begin ([`pay_owed`]).
pub async fn run_decided(
    desk: &Desk<'_>,
    customer_id: i64,
    request: &Request,
    idempotency_key: &str,
    decided_from: Option<&RechargeFacts>,
    owed: &[i64],
) -> Result<Ran, FlowError> {
    desk.access.for_writing()?;
    let _flow = exclusive().await;
    let ran = match read(desk).await {
        Ok(Ok((records, session))) => {
            let on = Presented {
                customer_id,
                request,
                idempotency_key,
                records: &records,
                decided_from,
                owed,
            };
            run_on(desk, &on, session).await
        }
        Ok(Err(refusal)) => Ok(Ran::refused(refusal)),
        Err(error) => Err(error),
    };
    or_sent_before(desk, idempotency_key, ran).await
}

/// `ran`; or, failed before the card took the PIN, with what the key's earlier send left
/// ([`sent_before`]).
async fn or_sent_before(
    desk: &Desk<'_>,
    key: &str,
    ran: Result<Ran, FlowError>,
) -> Result<Ran, FlowError> {
    match ran {
        Err(error @ (FlowError::Card(_) | FlowError::Stopped(_))) => {
            sent_before(desk, key, error).await
        }
        ran => ran,
    }
}

/// A send that failed before the card took the PIN (the card pulled, refused, not presented
/// it) did nothing, but it may be the request sent again after a lost connection, whose first
/// send paid the debts its confirmation showed and began (s42-b's "Found, not fixed": the
/// card's error alone was answered, the debt's receipt in the books and not at the desk). What
/// that send left is answered with `error`: its debts' receipts, and its operation — pending,
/// to be finished by the same card, or finished since. Nothing left: `error` as it was. One
/// round trip, only on this failure.
async fn sent_before(desk: &Desk<'_>, key: &str, error: FlowError) -> Result<Ran, FlowError> {
    let left = {
        let mut client = desk.pool.get().await.map_err(DbError::from)?;
        card_ops::sent_before(&mut client, key).await?
    };
    let flow = match left.operation {
        Some(Journaled::Pending(begun)) => Ok(Flow::Pending {
            begun: *begun,
            cause: match error {
                FlowError::Card(error) => PendingCause::Card(error),
                FlowError::Stopped(stopped) => PendingCause::Stopped(stopped),
                FlowError::Database(error) => PendingCause::Database(error),
            },
            resolved: None,
        }),
        Some(Journaled::Finished(settled)) => Ok(Flow::Finished(settled)),
        None if left.owed.is_empty() => return Err(error),
        None => Err(error),
    };
    Ok(Ran {
        flow,
        owed: left.owed,
    })
}

/// A request with the card presented for it.
struct Presented<'a> {
    customer_id: i64,
    request: &'a Request,
    idempotency_key: &'a str,
    records: &'a [Record; 3],
    /// A recharge's facts read before F2 (see [`run_decided`]).
    decided_from: Option<&'a RechargeFacts>,
    /// The debts to pay first (see [`run_decided`]).
    owed: &'a [i64],
}

/// The refusal of a recharge while `owed` is outstanding: the first debt and what they come
/// to.
fn owes(owed: &[card_ops::Owed]) -> Refusal {
    Refusal::Owes {
        amount: card_ops::Owed::total(owed),
        sequence: owed.first().map_or(0, |debt| debt.sequence),
        more: owed.len().saturating_sub(1),
    }
}

/// Pays, before a recharge, the debts its confirmation showed (`owed`, the recharge's
/// operations whose purchase a meter loaded unpaid, sql/V163) with the recharge's payment
/// method, each on its receipt, exactly once under the request's key `key` (sql/V190): the
/// water is the customer's already, whatever the card write after it does. A debt paid
/// meanwhile is left out; the request sent again answers the receipts it paid. Also the debts
/// paid at the counter on their own, without a card (`screens::card::PayOwed`).
pub async fn pay_owed(
    pool: &Sessions,
    (operator_id, key): (i64, &str),
    owed: &[i64],
    method: &str,
) -> Result<Vec<card_ops::OwedPaid>, FlowError> {
    let mut client = pool.get().await.map_err(DbError::from)?;
    Ok(card_ops::pay_owed(&mut client, key, operator_id, owed, method).await?)
}

fn refused(refusal: Refusal) -> Flow {
    Flow::Refused {
        refusal,
        resolved: None,
    }
}

/// The card's records and the card session they were read in, to write in; or the refusal of a
/// card without the WATER application. A card whose PIN this desk may not present (one try
/// left, or blocked) is an error here, before anything is journaled: a write it cannot
/// authorize must not move money.
async fn read(desk: &Desk<'_>) -> Result<Result<([Record; 3], SessionWrite), Refusal>, FlowError> {
    let (read, session) = desk.reader.card_session();
    Ok(match read.recv().await? {
        Some((records, tries)) => {
            tries.may_present()?;
            Ok((records, session))
        }
        None => Err(Refusal::ForeignCard),
    })
}

/// How a journaled plan reaches the card: on the session its card was read in, or on a new one.
trait Writer {
    fn write(self, plan: &CardWritePlan, pin: &IssuerPin) -> Reply<[Record; 3]>;
}

impl Writer for SessionWrite {
    fn write(self, plan: &CardWritePlan, pin: &IssuerPin) -> Reply<[Record; 3]> {
        SessionWrite::write(self, plan, pin)
    }
}

impl Writer for &ReaderHandle {
    fn write(self, plan: &CardWritePlan, pin: &IssuerPin) -> Reply<[Record; 3]> {
        self.write_plan(plan, pin)
    }
}

/// The card's PIN presented on its session before anything is paid or journaled, then the
/// debts the confirmation showed paid, then the operation begun, written and settled. A card
/// that refuses the PIN (this desk's is wrong), or may not be presented it (one try left,
/// blocked), ends it here with nothing charged: the card's try counter moves as it would have
/// at the write.
async fn run_on(
    desk: &Desk<'_>,
    on: &Presented<'_>,
    session: SessionWrite,
) -> Result<Ran, FlowError> {
    let (_, pin) = desk.access.for_writing()?;
    verified(desk, &session, pin).await?;
    let owed = match (on.request, on.owed) {
        (_, []) => Vec::new(),
        (
            Request::Recharge {
                payment: Payment::Method(method),
                ..
            },
            owed,
        ) => {
            pay_owed(
                desk.pool,
                (desk.operator_id, on.idempotency_key),
                owed,
                method,
            )
            .await?
        }
        // Owed water is paid with a method, never from the balance: the begin refuses it.
        _ => Vec::new(),
    };
    match begin_on(desk, on, session).await {
        // Nothing paid, or the begin's outcome unknown (the connection lost, perhaps after
        // its COMMIT): the request is sent again as it was, and its key answers the receipts.
        Err(error) if owed.is_empty() || lost(&error) => Err(error),
        flow => Ok(Ran { flow, owed }),
    }
}

/// Whether `error` leaves unknown what the database did with the statements sent.
fn lost(error: &FlowError) -> bool {
    matches!(error, FlowError::Database(error) if error.is_connection_lost())
}

/// Presents this desk's PIN to the card of `session` (see [`SessionWrite::verify`]); a
/// refusal stops this desk's card writes ([`CardAccess`]).
async fn verified(
    desk: &Desk<'_>,
    session: &SessionWrite,
    pin: &IssuerPin,
) -> Result<(), FlowError> {
    session.verify(pin).recv().await.map_err(|error| {
        desk.access.heard(&error);
        FlowError::Card(error)
    })
}

/// Begins the operation presented (its card verified), writes and settles it.
async fn begin_on(
    desk: &Desk<'_>,
    on: &Presented<'_>,
    session: SessionWrite,
) -> Result<Flow, FlowError> {
    let (key, _) = desk.access.for_writing()?;
    let Presented {
        customer_id,
        request,
        records,
        ..
    } = *on;
    let begin = Begin {
        customer_id,
        operator_id: desk.operator_id,
        idempotency_key: on.idempotency_key,
        card: records,
        key,
    };
    let report = {
        let mut client = desk.pool.get().await.map_err(DbError::from)?;
        let report = match on.decided_from {
            Some(facts) => card_ops::begin_decided(&mut client, &begin, request, facts).await,
            None => card_ops::begin(&mut client, &begin, request).await,
        };
        match report {
            // The customer owes water a meter loaded unpaid (sql/V163): nothing was written,
            // and the refusal names the debt.
            Err(error) if card_ops::owes(&error) => {
                let owed = card_ops::owed(&client, customer_id).await?;
                return Ok(refused(owes(&owed)));
            }
            report => report?,
        }
    };
    let resolved = report.resolved;
    Ok(match report.outcome {
        BeginOutcome::Begun(begun) => write_and_settle_on(desk, *begun, resolved, session).await,
        BeginOutcome::Refused(behind @ Refusal::MissingPurchase { .. }) => Flow::Refused {
            refusal: write_missing_purchase(desk, customer_id, records, session)
                .await?
                .unwrap_or(behind),
            resolved,
        },
        BeginOutcome::Refused(refusal) => Flow::Refused { refusal, resolved },
        BeginOutcome::Finished(settled) => Flow::Finished(settled),
    })
}

/// Writes onto the card the purchase a supervisor settled without it (docs/decisions.md,
/// "Settled without its card"), or the refund an older copy of the card lacks, before anything
/// is sold or refunded over it. No money moves and nothing is
/// journaled: the purchase is the database's already, and the meter loads its sequence number
/// once whichever card brings it. Audited either way. `Some(MissingPurchaseWritten)` once the
/// card reads it back; `None` when the card is not behind (any more).
async fn write_missing_purchase(
    desk: &Desk<'_>,
    customer_id: i64,
    records: &[Record; 3],
    session: SessionWrite,
) -> Result<Option<Refusal>, FlowError> {
    let key = desk.access.key()?;
    let CardContent::User(card) = CardContent::classify(records, key) else {
        return Ok(None);
    };
    Ok(write_missing(desk, customer_id, &card, session)
        .await?
        .map(|(record, written)| card_ops::missing_on_card(&record, written.is_some())))
}

/// Writes onto `card`, `customer_id`'s active card, the record of the database's last purchase
/// it lacks, and audits it. `None`: the card is not behind; else that record and the card as
/// read back when the write landed.
async fn write_missing(
    desk: &Desk<'_>,
    customer_id: i64,
    card: &UserCard,
    writer: impl Writer,
) -> Result<Option<(PurchaseRecord, Option<[Record; 3]>)>, FlowError> {
    let (key, pin) = desk.access.for_writing()?;
    let client = desk.pool.get().await.map_err(DbError::from)?;
    let Some(missing) = card_ops::missing_purchase(&client, customer_id, card, key).await? else {
        return Ok(None);
    };
    let written = match writer.write(&missing.plan, pin).recv().await {
        Ok(read_back) => {
            (missing.plan.resolve(&read_back) == Resolution::Done).then_some(read_back)
        }
        Err(error) => {
            desk.access.heard(&error);
            None
        }
    };
    card_ops::missing_purchase_written(
        &client,
        desk.operator_id,
        customer_id,
        card.issue.card_number,
        missing.record.sequence,
        written.is_some(),
    )
    .await?;
    Ok(Some((missing.record, written)))
}

/// Steps 2 and 3 for an operation begun by [`card_ops::begin`]: writes the journaled plan on a
/// new card session (SELECT again), reads it back and settles the operation. Never fails: what
/// goes wrong leaves the operation pending, and says why. Tests call it to put faults between
/// the steps; the flows above write on the session they read the card in.
pub async fn write_and_settle(desk: &Desk<'_>, begun: Begun, resolved: Option<Settled>) -> Flow {
    write_and_settle_on(desk, begun, resolved, desk.reader).await
}

async fn write_and_settle_on(
    desk: &Desk<'_>,
    begun: Begun,
    resolved: Option<Settled>,
    writer: impl Writer,
) -> Flow {
    let (key, pin) = match desk.access.for_writing() {
        Ok(secrets) => secrets,
        Err(stopped) => {
            return Flow::Pending {
                begun,
                cause: PendingCause::Stopped(stopped),
                resolved,
            };
        }
    };
    let (read_back, refused) = match writer.write(&begun.plan, pin).recv().await {
        Ok(read_back) => (read_back, None),
        Err(error) => {
            desk.access.heard(&error);
            // A card that refused the write (its PIN, or a command) answered: read as it is,
            // it settles the operation now (failed, its money on the balance, the card's
            // reason kept), rather than leaving it pending for a read that, of a blank card,
            // finds no owner to settle it for.
            match refused_card(desk, &error).await {
                Some((card, why)) => (card, Some((error, why))),
                None => {
                    return Flow::Pending {
                        begun,
                        cause: PendingCause::Card(error),
                        resolved,
                    };
                }
            }
        }
    };
    let settled = async {
        let mut client = desk.pool.get().await?;
        let operation_id = begun.operation_id;
        match &refused {
            Some((_, why)) => {
                card_ops::settle_refused(&mut client, operation_id, &read_back, key, *why).await
            }
            None => card_ops::settle(&mut client, operation_id, &read_back, key).await,
        }
    }
    .await;
    let refused = refused.map(|(error, _)| error);
    match settled {
        Err(error) => Flow::Pending {
            begun,
            cause: match refused {
                None => PendingCause::Database(error),
                Some(_) => PendingCause::RefusalUnrecorded(error),
            },
            resolved,
        },
        Ok(settled) => match settled.state {
            card_ops::OperationState::Done => Flow::Done {
                begun,
                settled,
                resolved,
                card: read_back,
            },
            card_ops::OperationState::Failed => Flow::Failed {
                begun,
                settled,
                resolved,
                card: read_back,
                refused,
            },
            card_ops::OperationState::Pending => Flow::Pending {
                begun,
                cause: PendingCause::NotTheCard,
                resolved,
            },
        },
    }
}

/// The card as it is now, read again, and why it refused, when `error` is the card's refusal
/// (its issuer PIN, which comes before any UPDATE, or a command it answered with a refusal);
/// `None` for any other error (pulled, reader gone: only a later read tells what the card
/// took) or when it cannot be read (then the operation stays pending for the next touch).
async fn refused_card(desk: &Desk<'_>, error: &CardError) -> Option<([Record; 3], FailureReason)> {
    let why = refusal_reason(error)?;
    match desk.reader.read_card().recv().await {
        Ok(CardRead::Application(records)) => Some((records, why)),
        _ => None,
    }
}

/// Why the card refused a write, as the journal keeps it (sql/V175); `None`: not a refusal.
fn refusal_reason(error: &CardError) -> Option<FailureReason> {
    Some(match error {
        CardError::WrongPin { .. } => FailureReason::PinRefused,
        CardError::PinBlocked => FailureReason::PinBlocked,
        CardError::LastPinTries { .. } => FailureReason::PinLastTry,
        CardError::Refused { .. } => FailureReason::CardRefused,
        _ => return None,
    })
}

/// How issuing a system card ended.
#[derive(Debug)]
pub enum SystemIssue {
    /// Written, read back, journaled done.
    Done(SystemCard),
    /// The card read back is still blank: journaled failed.
    Failed { card_no: u32 },
    /// The write was cut off: journaled pending until [`read_system_card`] reads the card.
    Pending { card_no: u32, cause: CardError },
    /// Nothing written, nothing journaled.
    Refused(SystemCardRefusal),
}

/// Issues a system card (docs/card-records.md, "System cards") onto the blank card in the
/// reader: journaled pending (`card.system`, supervisors), written, read back, settled. No
/// money moves.
pub async fn issue_system_card(
    desk: &Desk<'_>,
    kind: SystemCardKind,
    meter_number: &MeterNumber,
) -> Result<SystemIssue, FlowError> {
    let (key, pin) = desk.access.for_writing()?;
    let _flow = exclusive().await;
    let (records, session) = match read(desk).await? {
        Ok(read) => read,
        Err(_) => return Ok(SystemIssue::Refused(SystemCardRefusal::ForeignCard)),
    };
    match CardContent::classify(&records, key) {
        CardContent::Blank => {}
        CardContent::User(_) | CardContent::Foreign { .. } => {
            return Ok(SystemIssue::Refused(SystemCardRefusal::NotBlank));
        }
    }
    verified(desk, &session, pin).await?;
    let written_at = card_ops::unix_now();
    let mut client = desk.pool.get().await.map_err(DbError::from)?;
    let card_no =
        match card_ops::begin_system_card(&mut client, kind, meter_number, written_at).await? {
            Ok(card_no) => card_no,
            Err(refusal) => return Ok(SystemIssue::Refused(refusal)),
        };
    let card = SystemCard {
        card_number: card_no,
        meter_number: meter_number.clone(),
        kind,
        written_at,
        applied: None,
    };
    let plan = card.plan(key);
    let read_back = match session.write(&plan, pin).recv().await {
        Ok(read_back) => read_back,
        Err(cause) => {
            desk.access.heard(&cause);
            return Ok(SystemIssue::Pending { card_no, cause });
        }
    };
    let written = plan.resolve(&read_back) == Resolution::Done;
    card_ops::finish_system_card(&client, card_no, written).await?;
    Ok(match written {
        true => SystemIssue::Done(card),
        false => SystemIssue::Failed { card_no },
    })
}

/// A system card read at the counter: what it is, what the database knows of it, and, for a
/// clear card back from its meter, what reading it did with the credit wiped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCardSeen {
    pub card: SystemCard,
    /// `None`: this database never issued it.
    pub facts: Option<SystemCardFacts>,
    /// A clear card its meter applied: the credit recorded and credited now, before, or left
    /// for a supervisor.
    pub cleared: Option<ClearedCredit>,
    /// A setting card its meter applied, written by this desk: its application recorded now
    /// or before (the meter's maximum credit from then on, `db::cards::meter_max_credit`).
    pub setting_applied: Option<SettingApplied>,
}

/// Reads the system card in the reader, if it is one (see [`system_card_on`]). `None`: not a
/// system card.
pub async fn read_system_card(desk: &Desk<'_>) -> Result<Option<SystemCardSeen>, FlowError> {
    let _flow = exclusive().await;
    let CardRead::Application(records) = desk.reader.read_card().recv().await? else {
        return Ok(None);
    };
    system_card_on(desk, &records).await
}

/// The system card in `records` (a card just read), if it is one: its issue settled if that
/// was cut off, a clear card's credit wiped recorded and credited to the meter's customer
/// (once; a supervisor's read, `card.system`), and a setting card's application by its meter
/// recorded (once; any read). `None`: not a system card of this key.
pub async fn system_card_on(
    desk: &Desk<'_>,
    records: &[Record; 3],
) -> Result<Option<SystemCardSeen>, FlowError> {
    let Ok(Some(card)) = SystemCard::read(records, desk.access.key()?) else {
        return Ok(None);
    };
    let client = desk.pool.get().await.map_err(DbError::from)?;
    let number = card.card_number;
    if card_ops::system_card_pending(&client, number).await?
        && card_ops::may_issue_system_cards(&client).await?
    {
        card_ops::finish_system_card(&client, number, true).await?;
    }
    let cleared = match (card.kind, &card.applied) {
        (SystemCardKind::Clear, Some(applied)) => {
            Some(card_ops::record_cleared_credit(&client, number, applied).await?)
        }
        _ => None,
    };
    let facts = card_ops::system_card_facts(&client, number).await?;
    // Only a card the journal says was written: one still pending (a clerk's read cannot
    // settle it) or never issued here is shown, not recorded.
    let written = facts
        .as_ref()
        .is_some_and(|facts| facts.state == OperationState::Done);
    let setting_applied = match (card.kind, &card.applied) {
        (SystemCardKind::Setting { .. }, Some(applied)) if written => Some(
            card_ops::record_setting_applied(&client, number, &card.meter_number, applied).await?,
        ),
        _ => None,
    };
    Ok(Some(SystemCardSeen {
        card,
        facts,
        cleared,
        setting_applied,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_secrets_cards_are_neither_read_nor_written() {
        let access = CardAccess::unconfigured();
        assert_eq!(access.key().err(), Some(WritesStopped::NotConfigured));
        assert_eq!(
            access.for_writing().err(),
            Some(WritesStopped::NotConfigured)
        );
    }

    #[test]
    fn a_refused_pin_stops_writing_but_not_reading_and_never_shows_the_secrets() {
        let access = CardAccess::new(MacKey::demo(), "24680".parse().unwrap());
        assert!(access.for_writing().is_ok());
        let watched = access.pin_refusal();
        assert!(!watched.happened());
        access.refuse_pin();
        assert_eq!(access.for_writing().err(), Some(WritesStopped::PinRefused));
        assert!(watched.happened(), "the screens' copy sees the refusal");
        assert_eq!(access.key().ok(), Some(&MacKey::demo()));
        let printed = format!("{access:?}");
        assert!(!printed.contains("24680"), "{printed}");
        assert!(printed.contains("MacKey(..)"), "{printed}");
    }
}
