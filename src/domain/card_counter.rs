//! The counter's rules for the WATER card (card.md, "The counter's rules" and "Card and ledger
//! never disagree"): whether an operation may touch the card on the reader, the records it
//! writes, and how a journaled write left pending is resolved from what the card holds.
//!
//! "The active card" is the customer's card as the database knows it: its issue record. A card
//! whose issue record differs from it (an older generation, another card number) is void.

use serde::{Deserialize, Serialize};

use super::card_records::{
    CardBoundRecord, CardContent, EMPTY_RECORD, Ef, FIRST_GENERATION, IssueRecord, MacKey,
    MeterNumber, MeterWriteBack, PurchaseRecord, PurchaseStatus, Record, UserCard,
};
use super::money::Volume;

/// Where the purchase on a card stands with the meter, as far as the card can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseState {
    NoPurchase,
    Cancelled,
    Loaded,
    NotLoaded,
    /// A replacement card carries the last purchase the database knows, which the meter may
    /// have loaded from the old card; only the new card's first swipe tells.
    UnknownUntilSwiped,
}

impl UserCard {
    /// The card's write-back is from a meter that registered this card's generation.
    pub fn meter_has_registered(&self) -> bool {
        self.write_back
            .as_ref()
            .is_some_and(|write_back| write_back.registered_generation == self.issue.generation)
    }

    pub fn purchase_state(&self) -> PurchaseState {
        let Some(purchase) = &self.purchase else {
            return PurchaseState::NoPurchase;
        };
        if purchase.status == PurchaseStatus::Cancelled {
            return PurchaseState::Cancelled;
        }
        if self.issue.replacement && !self.meter_has_registered() {
            return PurchaseState::UnknownUntilSwiped;
        }
        if purchase.sequence > self.last_loaded() {
            PurchaseState::NotLoaded
        } else {
            PurchaseState::Loaded
        }
    }

    /// The last purchase the card's write-back says a meter loaded; 0 without a write-back
    /// (the card not swiped since it was issued).
    fn last_loaded(&self) -> u32 {
        self.write_back
            .as_ref()
            .map_or(0, |write_back| write_back.last_loaded_sequence)
    }

    /// Which write-back noted in the books makes this image of the card an older one.
    pub fn older_if(&self) -> OlderIf {
        match self.write_back {
            Some(_) => OlderIf::LoadedAbove(self.last_loaded()),
            None => OlderIf::ItselfSwiped,
        }
    }

    fn is(&self, active: Option<&IssueRecord>) -> bool {
        active == Some(&self.issue)
    }
}

/// The write-back noted in the books that makes an image of a card older
/// (`UserCard::older_if`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OlderIf {
    /// The image's write-back says a meter loaded up to this purchase: a card of the
    /// customer's that loaded a later one (a meter's sequence runs on across the customer's
    /// cards).
    LoadedAbove(u32),
    /// The image has no write-back: it is of the card before its first swipe, and a write-back
    /// of this very card (its real self swiped since) makes it older. The customer's older
    /// cards loaded purchases too, which do not make a replacement never swiped older.
    ItselfSwiped,
}

/// One UPDATE BINARY of a whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWrite {
    pub ef: Ef,
    pub record: Record,
}

/// The write that completes an operation: seeing `after` on the card means it happened,
/// seeing `before` means it did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisiveWrite {
    pub ef: Ef,
    pub before: Record,
    pub after: Record,
}

/// What an operation writes to the card, journaled as pending before the first write.
///
/// The decisive write comes last, so once it is on the card the preparatory ones are too: the
/// card answers each UPDATE BINARY before the next is sent, and a pulled card takes no more.
/// The preparatory ones are never checked afterwards, because a meter may legitimately
/// overwrite EF 0003 as soon as the card has left the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardWritePlan {
    pub preparatory: Vec<RecordWrite>,
    pub decisive: DecisiveWrite,
    /// EF 0001 as it must read back for the card to be the one written, when the operation
    /// leaves it alone: without it, any card with no purchase would look like the card before
    /// its first recharge.
    pub issue_record: Option<Record>,
}

/// What a pending operation turned out to be, from the card read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The new record is on the card: mark the operation done.
    Done,
    /// The old record is still there: the operation failed; reverse its money movement.
    Failed,
    /// Neither: another card, or a card changed since. Nothing can be concluded from it.
    Conflict,
}

impl CardWritePlan {
    /// Every UPDATE BINARY in the order it must be sent.
    pub fn writes(&self) -> impl Iterator<Item = RecordWrite> + '_ {
        self.preparatory.iter().cloned().chain([RecordWrite {
            ef: self.decisive.ef,
            record: self.decisive.after,
        }])
    }

    /// `read_back` holds the three records as read, indexed by [`Ef::index`].
    ///
    /// Open and replace go from a blank card, recycle to one, and every blank card looks the
    /// same: their `Failed` (open, replace) and `Done` (recycle) are only as sure as the clerk's
    /// word that this is the card of the operation, since no record carries a serial number
    /// of the chip.
    pub fn resolve<R: AsRef<[u8]>>(&self, read_back: &[R; 3]) -> Resolution {
        let read = |ef: Ef| read_back[ef.index()].as_ref();
        if let Some(issue_record) = &self.issue_record
            && read(Ef::Issue) != issue_record
        {
            return Resolution::Conflict;
        }
        let found = read(self.decisive.ef);
        // `after` first: a write that changed nothing is done all the same.
        if found == self.decisive.after {
            Resolution::Done
        } else if found == self.decisive.before {
            Resolution::Failed
        } else {
            Resolution::Conflict
        }
    }
}

/// An operation's plan with the typed record its decisive write carries, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned<R> {
    pub record: R,
    pub plan: CardWritePlan,
}

/// Open and replace write only to a blank card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotBlank {
    #[error("this card already belongs to a customer: use a blank card")]
    UserCard,
    #[error("this is not a card of this system: use a blank card")]
    Foreign,
}

fn require_blank(card_on_reader: &CardContent) -> Result<(), NotBlank> {
    match card_on_reader {
        CardContent::Blank => Ok(()),
        CardContent::User(_) => Err(NotBlank::UserCard),
        CardContent::Foreign { .. } => Err(NotBlank::Foreign),
    }
}

/// A new card's records: the zeroed write-back and the purchase first, the issue record last,
/// because until it is there the card is still blank and nothing else on it counts.
fn issue_plan(issue: IssueRecord, purchase: Record, key: &MacKey) -> Planned<IssueRecord> {
    Planned {
        plan: onto_blank_card(issue.encode(key), purchase),
        record: issue,
    }
}

/// A new card's records onto a blank card: EF 0003 zeroed, EF 0002, then EF 0001 — decisive,
/// since a card whose EF 0001 is still zero is blank whatever else it holds.
pub(crate) fn onto_blank_card(issue: Record, purchase: Record) -> CardWritePlan {
    CardWritePlan {
        preparatory: vec![
            RecordWrite {
                ef: Ef::MeterWriteBack,
                record: EMPTY_RECORD,
            },
            RecordWrite {
                ef: Ef::Purchase,
                record: purchase,
            },
        ],
        decisive: DecisiveWrite {
            ef: Ef::Issue,
            before: EMPTY_RECORD,
            after: issue,
        },
        issue_record: None,
    }
}

/// Open a card: generation 1, no purchase, no write-back. `card_number` is new from the
/// database.
pub fn plan_open(
    card_on_reader: &CardContent,
    card_number: u32,
    customer_number: u32,
    meter_number: MeterNumber,
    key: &MacKey,
) -> Result<Planned<IssueRecord>, NotBlank> {
    require_blank(card_on_reader)?;
    let issue = IssueRecord {
        card_number,
        customer_number,
        meter_number,
        generation: FIRST_GENERATION,
        replacement: false,
    };
    Ok(issue_plan(issue, EMPTY_RECORD, key))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceRefusal {
    #[error(transparent)]
    NotBlank(#[from] NotBlank),
    #[error("this card has been replaced 254 times: no higher generation exists")]
    GenerationsExhausted,
}

/// Replace the active card by the blank card on the reader: the next generation, flagged as a
/// replacement, carrying the database's last purchase (same sequence number, so the meter loads
/// it only if it never did). `card_number` is new from the database.
pub fn plan_replace(
    card_on_reader: &CardContent,
    active: &IssueRecord,
    last_purchase: Option<&PurchaseRecord>,
    card_number: u32,
    key: &MacKey,
) -> Result<Planned<IssueRecord>, ReplaceRefusal> {
    require_blank(card_on_reader)?;
    let generation = active
        .generation
        .checked_add(1)
        .ok_or(ReplaceRefusal::GenerationsExhausted)?;
    let issue = IssueRecord {
        card_number,
        generation,
        replacement: true,
        ..active.clone()
    };
    // Rewritten for the new generation: a meter that registers it would refuse the old one's.
    // It carries the replaced card's number to the meter's blacklist (docs/card-records.md).
    let purchase = last_purchase.map_or(EMPTY_RECORD, |purchase| {
        PurchaseRecord {
            generation,
            blacklisted_card: Some(active.card_number),
            ..purchase.clone()
        }
        .encode(card_number, key)
    });
    Ok(issue_plan(issue, purchase, key))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RechargeRefusal {
    #[error("this card is void: it is not the customer's active card")]
    NotTheActiveCard,
    #[error("swipe the new card on the meter first")]
    SwipeNewCardOnMeterFirst,
    #[error("the card carries a purchase the meter has not loaded: swipe the meter first")]
    SwipeMeterFirst,
    #[error("the customer's purchase sequence numbers are used up")]
    SequenceNumbersExhausted,
}

/// Whether the card may be recharged now, before the clerk types an amount.
pub fn check_recharge(
    card: &UserCard,
    active: Option<&IssueRecord>,
) -> Result<(), RechargeRefusal> {
    if !card.is(active) {
        return Err(RechargeRefusal::NotTheActiveCard);
    }
    if card.issue.replacement && !card.meter_has_registered() {
        return Err(RechargeRefusal::SwipeNewCardOnMeterFirst);
    }
    match card.purchase_state() {
        PurchaseState::NotLoaded => Err(RechargeRefusal::SwipeMeterFirst),
        PurchaseState::UnknownUntilSwiped => Err(RechargeRefusal::SwipeNewCardOnMeterFirst),
        PurchaseState::NoPurchase | PurchaseState::Cancelled | PurchaseState::Loaded => Ok(()),
    }
}

/// A purchase the meter will not load whole (docs/card-records.md, "Setting"): the meter loads
/// a purchase whole or not at all, within the most credit it holds (its setting card).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditOverflow {
    /// On top of the credit the meter last reported holding (the card's write-back) it passes
    /// `max`: the meter takes `room` now (none when it is full), and the purchase waits on the
    /// card until `wait` has been used.
    Waits {
        max: Volume,
        held: Volume,
        room: Volume,
        wait: Volume,
    },
    /// The purchase alone passes `max`: the meter never loads it.
    Never { max: Volume },
}

/// Whether `purchase` on top of `held` (what the meter reported at its last swipe; `None`: the
/// card has not been swiped) passes `max`, and by how much.
pub fn credit_overflow(
    purchase: Volume,
    held: Option<Volume>,
    max: Volume,
) -> Option<CreditOverflow> {
    if purchase > max {
        return Some(CreditOverflow::Never { max });
    }
    let held = held?;
    let after = purchase + held;
    (after > max).then(|| CreditOverflow::Waits {
        max,
        held,
        // purchase ≤ max, so wait ≤ held: using what the meter holds makes room.
        room: if held < max { max - held } else { Volume::ZERO },
        wait: after - max,
    })
}

/// Recharge: a valid purchase with the customer's next sequence number. `last_sequence` is the
/// highest the database ever gave this customer (0 before the first purchase), refunded ones
/// included, since a number is never reused.
pub fn plan_recharge(
    card: &UserCard,
    active: Option<&IssueRecord>,
    last_sequence: u32,
    volume_litres: u32,
    now: u32,
    key: &MacKey,
) -> Result<Planned<PurchaseRecord>, RechargeRefusal> {
    check_recharge(card, active)?;
    let purchase = PurchaseRecord {
        sequence: last_sequence
            .checked_add(1)
            .ok_or(RechargeRefusal::SequenceNumbersExhausted)?,
        volume_litres,
        generation: card.issue.generation,
        status: PurchaseStatus::Valid,
        written_at: now,
        blacklisted_card: None,
    };
    Ok(purchase_plan(card, purchase, key))
}

/// A purchase the database settled for the active card that the card does not carry as
/// settled: one settled without the card (a supervisor's settle-without-card), whose sequence
/// number is above the one the card carries; or its refund, on an older copy of the card made
/// before it, which still shows the purchase valid (the meter would load water paid back). The
/// plan writes it as settled, rewritten for the card's generation; the meter loads it once by
/// its sequence number even if another image of it reached the meter, and a refunded one never.
/// `None`: the card is not behind (or not the active card, whose purchases the active card
/// carries).
pub fn plan_missing_purchase(
    card: &UserCard,
    active: Option<&IssueRecord>,
    settled: Option<&PurchaseRecord>,
    key: &MacKey,
) -> Option<Planned<PurchaseRecord>> {
    let settled = settled?;
    let on_card = card.purchase.as_ref();
    let behind = match on_card {
        None => true,
        Some(on_card) if on_card.sequence == settled.sequence => {
            settled.status == PurchaseStatus::Cancelled && on_card.status == PurchaseStatus::Valid
        }
        Some(on_card) => settled.sequence > on_card.sequence,
    };
    if !card.is(active) || !behind {
        return None;
    }
    let missing = PurchaseRecord {
        generation: card.issue.generation,
        ..settled.clone()
    };
    Some(purchase_plan(card, missing, key))
}

fn purchase_plan(
    card: &UserCard,
    purchase: PurchaseRecord,
    key: &MacKey,
) -> Planned<PurchaseRecord> {
    let card_number = card.issue.card_number;
    let before = card
        .purchase
        .as_ref()
        .map_or(EMPTY_RECORD, |old| old.encode(card_number, key));
    let plan = CardWritePlan {
        preparatory: Vec::new(),
        decisive: DecisiveWrite {
            ef: Ef::Purchase,
            before,
            after: purchase.encode(card_number, key),
        },
        issue_record: Some(card.issue.encode(key)),
    };
    Planned {
        record: purchase,
        plan,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("this card is void: it is not the customer's active card")]
    NotTheActiveCard,
    #[error("the card carries no purchase")]
    NoPurchase,
    #[error("the purchase on the card is already refunded")]
    AlreadyRefunded,
    #[error("the meter has loaded the purchase on the card")]
    AlreadyLoaded,
    #[error("swipe the new card on the meter first: it may have loaded the purchase already")]
    SwipeNewCardOnMeterFirst,
}

/// Refund on card: the same purchase, cancelled, and only while the meter has not loaded it.
pub fn plan_refund(
    card: &UserCard,
    active: Option<&IssueRecord>,
    key: &MacKey,
) -> Result<Planned<PurchaseRecord>, RefundRefusal> {
    if !card.is(active) {
        return Err(RefundRefusal::NotTheActiveCard);
    }
    match card.purchase_state() {
        PurchaseState::NotLoaded => {
            let purchase = card.purchase.clone().ok_or(RefundRefusal::NoPurchase)?;
            let cancelled = PurchaseRecord {
                status: PurchaseStatus::Cancelled,
                ..purchase
            };
            Ok(purchase_plan(card, cancelled, key))
        }
        PurchaseState::NoPurchase => Err(RefundRefusal::NoPurchase),
        PurchaseState::Cancelled => Err(RefundRefusal::AlreadyRefunded),
        PurchaseState::Loaded => Err(RefundRefusal::AlreadyLoaded),
        PurchaseState::UnknownUntilSwiped => Err(RefundRefusal::SwipeNewCardOnMeterFirst),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecycleRefusal {
    #[error("the card carries a purchase the meter has not loaded: swipe the meter or refund it")]
    UnloadedPurchase,
    #[error("swipe the card on the meter first: it may carry a purchase the meter has not loaded")]
    SwipeNewCardOnMeterFirst,
}

/// Whether the card may be recycled now, before the clerk is asked to confirm: a void card
/// always (its purchases travel on the active card); the active card only when no purchase on it
/// can still be lost.
pub fn check_recycle(card: &UserCard, active: Option<&IssueRecord>) -> Result<(), RecycleRefusal> {
    if !card.is(active) {
        return Ok(());
    }
    match card.purchase_state() {
        PurchaseState::NotLoaded => Err(RecycleRefusal::UnloadedPurchase),
        PurchaseState::UnknownUntilSwiped => Err(RecycleRefusal::SwipeNewCardOnMeterFirst),
        PurchaseState::NoPurchase | PurchaseState::Cancelled | PurchaseState::Loaded => Ok(()),
    }
}

/// Recycle: zero the three records, when `check_recycle` allows it.
pub fn plan_recycle(
    card: &UserCard,
    active: Option<&IssueRecord>,
    key: &MacKey,
) -> Result<CardWritePlan, RecycleRefusal> {
    check_recycle(card, active)?;
    // The issue record last: until it is gone the card is still the customer's.
    Ok(CardWritePlan {
        preparatory: [Ef::Purchase, Ef::MeterWriteBack]
            .map(|ef| RecordWrite {
                ef,
                record: EMPTY_RECORD,
            })
            .to_vec(),
        decisive: DecisiveWrite {
            ef: Ef::Issue,
            before: card.issue.encode(key),
            after: EMPTY_RECORD,
        },
        issue_record: None,
    })
}

/// What is wrong with the records a debt of water a meter loaded unpaid was recorded from
/// (sql/V173 keeps them with the debt; the database holds no key to check them): the
/// recharge's journaled purchase and the meter write-back the card showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebtEvidenceFault {
    /// The journaled purchase is not a purchase `sequence` of this card signed by the key.
    PurchaseNotSigned,
    /// The write-back is not one the key signed for this card (forged, or another card's).
    WriteBackNotSigned,
    /// Signed, but the last purchase the meter loaded is `last`, not the debt's.
    NotLoadedLast { last: u32 },
}

/// Whether the records debt `sequence` of card `card_number` was recorded from show, under
/// `key`, that the meter loaded that very purchase last (the desk's `MeterSaw::Loaded`).
pub fn check_debt_evidence(
    card_number: u32,
    sequence: u32,
    purchase: &[u8],
    write_back: &[u8],
    key: &MacKey,
) -> Result<(), DebtEvidenceFault> {
    match PurchaseRecord::decode(purchase, card_number, key) {
        Ok(Some(record)) if record.sequence == sequence => {}
        _ => return Err(DebtEvidenceFault::PurchaseNotSigned),
    }
    match MeterWriteBack::decode(write_back, card_number, key) {
        Ok(Some(back)) if back.last_loaded_sequence == sequence => Ok(()),
        Ok(Some(back)) => Err(DebtEvidenceFault::NotLoadedLast {
            last: back.last_loaded_sequence,
        }),
        _ => Err(DebtEvidenceFault::WriteBackNotSigned),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::card_records::MeterStatus;
    use crate::domain::card_records::tests::{issue, meter_number};

    const CARD: u32 = 40_000_017;
    const NEW_CARD: u32 = 40_000_025;
    const NOW: u32 = 1_760_000_000;

    /// The card after every write of the plan.
    pub(crate) fn written(plan: &CardWritePlan, mut card: [Record; 3]) -> [Record; 3] {
        for write in plan.writes() {
            card[write.ef.index()] = write.record;
        }
        card
    }

    /// The card pulled just before the decisive write.
    fn prepared(plan: &CardWritePlan, mut card: [Record; 3]) -> [Record; 3] {
        for write in &plan.preparatory {
            card[write.ef.index()] = write.record;
        }
        card
    }

    fn purchase(sequence: u32, generation: u8, status: PurchaseStatus) -> PurchaseRecord {
        PurchaseRecord {
            sequence,
            volume_litres: 5_000,
            generation,
            status,
            written_at: NOW - 60,
            blacklisted_card: None,
        }
    }

    fn write_back(last_loaded_sequence: u32, registered_generation: u8) -> MeterWriteBack {
        MeterWriteBack {
            last_loaded_sequence,
            registered_generation,
            credit_litres: 1_234,
            total_litres: 99_000,
            status: MeterStatus::default(),
            written_at: NOW - 30,
        }
    }

    /// A valid purchase `sequence` written for `generation`.
    fn valid(sequence: u32, generation: u8) -> Option<PurchaseRecord> {
        Some(purchase(sequence, generation, Valid))
    }

    /// A refunded purchase `sequence` written for `generation`.
    fn cancelled(sequence: u32, generation: u8) -> Option<PurchaseRecord> {
        Some(purchase(sequence, generation, Cancelled))
    }

    /// What a meter that loaded up to `last_loaded_sequence` and knows `registered_generation`
    /// wrote back at the last swipe.
    fn swiped(last_loaded_sequence: u32, registered_generation: u8) -> Option<MeterWriteBack> {
        Some(write_back(last_loaded_sequence, registered_generation))
    }

    fn card(
        generation: u8,
        purchase: Option<PurchaseRecord>,
        write_back: Option<MeterWriteBack>,
    ) -> UserCard {
        UserCard {
            issue: issue(CARD, generation),
            purchase,
            write_back,
        }
    }

    /// s43-b's "Found, not fixed": an image of a card never swiped (no write-back) was never
    /// called older; only a write-back of that card itself makes it so, not the old card's.
    #[test]
    fn an_image_is_older_than_a_later_write_back_of_the_customers_or_of_its_never_swiped_self() {
        // Swiped: any of the customer's cards that loaded past it.
        assert_eq!(
            card(1, valid(5, 1), swiped(4, 1)).older_if(),
            OlderIf::LoadedAbove(4)
        );
        // Never swiped, first issue or replacement: its own card swiped since.
        for generation in [1, 2] {
            let mut never_swiped = card(generation, valid(5, 1), None);
            never_swiped.issue.replacement = generation > 1;
            assert_eq!(never_swiped.older_if(), OlderIf::ItselfSwiped);
        }
    }

    fn records(card: &UserCard) -> [Record; 3] {
        let key = MacKey::demo();
        let number = card.issue.card_number;
        [
            card.issue.encode(&key),
            card.purchase
                .as_ref()
                .map_or(EMPTY_RECORD, |purchase| purchase.encode(number, &key)),
            card.write_back
                .as_ref()
                .map_or(EMPTY_RECORD, |write_back| write_back.encode(number, &key)),
        ]
    }

    fn read(records: &[Record; 3]) -> CardContent {
        CardContent::classify(records, &MacKey::demo())
    }

    use PurchaseStatus::{Cancelled, Valid};

    #[test]
    fn where_the_purchase_on_a_card_stands() {
        use PurchaseState::*;
        let cases = [
            (card(1, None, None), NoPurchase),
            (card(1, None, swiped(4, 1)), NoPurchase),
            (card(1, cancelled(5, 1), None), Cancelled),
            (card(1, valid(5, 1), None), NotLoaded),
            (card(1, valid(5, 1), swiped(4, 1)), NotLoaded),
            (card(1, valid(5, 1), swiped(5, 1)), Loaded),
            (card(1, valid(5, 1), swiped(9, 1)), Loaded),
            (card(2, valid(5, 2), None), UnknownUntilSwiped),
            (card(2, valid(5, 2), swiped(5, 1)), UnknownUntilSwiped),
            (card(2, valid(5, 2), swiped(4, 2)), NotLoaded),
            (card(2, valid(5, 2), swiped(5, 2)), Loaded),
            (card(2, cancelled(5, 2), None), Cancelled),
        ];
        for (card, state) in cases {
            assert_eq!(card.purchase_state(), state, "{card:?}");
        }
    }

    #[test]
    fn open_writes_generation_1_and_zeroes_the_rest_issue_record_last() {
        let key = MacKey::demo();
        let planned = plan_open(
            &CardContent::Blank,
            CARD,
            10_023_457,
            meter_number("WM-0042"),
            &key,
        )
        .unwrap();
        assert_eq!(planned.record, issue(CARD, 1));
        let writes: Vec<_> = planned.plan.writes().collect();
        assert_eq!(
            writes.iter().map(|write| write.ef).collect::<Vec<_>>(),
            [Ef::MeterWriteBack, Ef::Purchase, Ef::Issue]
        );
        let leftovers = [EMPTY_RECORD, [7; 32], [9; 32]];
        assert_eq!(
            read(&written(&planned.plan, leftovers)),
            CardContent::User(card(1, None, None))
        );
    }

    #[test]
    fn open_and_replace_write_only_to_a_blank_card() {
        let key = MacKey::demo();
        let user = read(&records(&card(1, None, None)));
        let foreign = read(&[[0xFF; 32], EMPTY_RECORD, EMPTY_RECORD]);
        for (card_on_reader, refusal) in [(user, NotBlank::UserCard), (foreign, NotBlank::Foreign)]
        {
            assert_eq!(
                plan_open(&card_on_reader, CARD, 1, meter_number("M"), &key),
                Err(refusal)
            );
            assert_eq!(
                plan_replace(&card_on_reader, &issue(CARD, 1), None, NEW_CARD, &key),
                Err(ReplaceRefusal::NotBlank(refusal))
            );
        }
    }

    #[test]
    fn replace_carries_the_last_purchase_for_the_next_generation() {
        // Replaces the active card of `generation` by NEW_CARD, carrying `last`.
        let replaced = |generation, last: Option<PurchaseRecord>| {
            plan_replace(
                &CardContent::Blank,
                &issue(CARD, generation),
                last.as_ref(),
                NEW_CARD,
                &MacKey::demo(),
            )
            .unwrap()
        };
        let planned = replaced(1, valid(5, 1));
        let expected_issue = IssueRecord {
            card_number: NEW_CARD,
            ..issue(CARD, 2)
        };
        assert_eq!(planned.record, expected_issue);
        assert_eq!(planned.plan.writes().last().unwrap().ef, Ef::Issue);
        assert_eq!(
            read(&written(&planned.plan, [EMPTY_RECORD, [7; 32], [9; 32]])),
            CardContent::User(UserCard {
                issue: expected_issue,
                purchase: Some(PurchaseRecord {
                    blacklisted_card: Some(CARD),
                    ..purchase(5, 2, Valid)
                }),
                write_back: None,
            })
        );

        // A refunded last purchase stays refunded; no purchase ever leaves EF 0002 empty.
        let planned = replaced(2, cancelled(5, 1));
        let CardContent::User(new_card) = read(&written(&planned.plan, [EMPTY_RECORD; 3])) else {
            panic!("not a user card");
        };
        assert_eq!(new_card.issue.generation, 3);
        assert_eq!(
            new_card.purchase,
            Some(PurchaseRecord {
                blacklisted_card: Some(CARD),
                ..purchase(5, 3, Cancelled)
            })
        );
        let planned = replaced(1, None);
        let CardContent::User(new_card) = read(&written(&planned.plan, [EMPTY_RECORD; 3])) else {
            panic!("not a user card");
        };
        assert_eq!(new_card.purchase, None);
    }

    #[test]
    fn generation_255_cannot_be_replaced() {
        assert_eq!(
            plan_replace(
                &CardContent::Blank,
                &issue(CARD, u8::MAX),
                None,
                NEW_CARD,
                &MacKey::demo()
            ),
            Err(ReplaceRefusal::GenerationsExhausted)
        );
    }

    #[test]
    fn recharge_is_refused_on_a_void_card() {
        let on_card = card(1, None, None);
        let other_number = IssueRecord {
            card_number: NEW_CARD,
            ..issue(CARD, 1)
        };
        for active in [None, Some(issue(CARD, 2)), Some(other_number)] {
            assert_eq!(
                check_recharge(&on_card, active.as_ref()),
                Err(RechargeRefusal::NotTheActiveCard)
            );
        }
    }

    #[test]
    fn recharge_waits_for_the_meter() {
        use RechargeRefusal::*;
        let cases = [
            (card(1, None, None), Ok(())),
            (card(1, cancelled(5, 1), None), Ok(())),
            (card(1, valid(5, 1), swiped(5, 1)), Ok(())),
            (card(1, valid(5, 1), None), Err(SwipeMeterFirst)),
            (card(1, valid(5, 1), swiped(4, 1)), Err(SwipeMeterFirst)),
            // A replacement card must come back from the meter first, purchase or not.
            (card(2, None, None), Err(SwipeNewCardOnMeterFirst)),
            (
                card(2, cancelled(5, 2), swiped(5, 1)),
                Err(SwipeNewCardOnMeterFirst),
            ),
            (card(2, valid(5, 2), None), Err(SwipeNewCardOnMeterFirst)),
            (card(2, valid(5, 2), swiped(5, 2)), Ok(())),
            (card(2, None, swiped(0, 2)), Ok(())),
        ];
        for (card, expected) in cases {
            assert_eq!(
                check_recharge(&card, Some(&card.issue)),
                expected,
                "{card:?}"
            );
        }
    }

    #[test]
    fn recharge_writes_the_next_sequence_number_for_the_card_generation() {
        let key = MacKey::demo();
        let on_card = card(2, valid(5, 2), swiped(5, 2));
        let planned = plan_recharge(&on_card, Some(&on_card.issue), 6, 12_000, NOW, &key).unwrap();
        let expected = PurchaseRecord {
            sequence: 7,
            volume_litres: 12_000,
            generation: 2,
            status: Valid,
            written_at: NOW,
            blacklisted_card: None,
        };
        assert_eq!(planned.record, expected);
        assert_eq!(
            planned.plan,
            CardWritePlan {
                preparatory: Vec::new(),
                decisive: DecisiveWrite {
                    ef: Ef::Purchase,
                    before: purchase(5, 2, Valid).encode(CARD, &key),
                    after: expected.encode(CARD, &key),
                },
                issue_record: Some(issue(CARD, 2).encode(&key)),
            }
        );
        assert_eq!(
            plan_recharge(&on_card, Some(&on_card.issue), u32::MAX, 1, NOW, &key),
            Err(RechargeRefusal::SequenceNumbersExhausted)
        );
        let refused = card(1, valid(5, 1), None);
        assert_eq!(
            plan_recharge(&refused, Some(&refused.issue), 5, 1, NOW, &key),
            Err(RechargeRefusal::SwipeMeterFirst)
        );
    }

    #[test]
    fn a_purchase_settled_without_the_card_is_written_when_the_card_comes_back() {
        let key = MacKey::demo();
        let settled = purchase(6, 1, Valid);
        let behind = card(1, valid(5, 1), swiped(5, 1));
        let active = Some(&behind.issue);
        let planned = plan_missing_purchase(&behind, active, Some(&settled), &key).unwrap();
        assert_eq!(planned.record, settled);
        let after = written(&planned.plan, records(&behind));
        assert_eq!(planned.plan.resolve(&after), Resolution::Done);
        let CardContent::User(caught_up) = read(&after) else {
            panic!("not a user card");
        };
        assert_eq!(caught_up.purchase_state(), PurchaseState::NotLoaded);
        assert_eq!(
            check_recharge(&caught_up, active),
            Err(RechargeRefusal::SwipeMeterFirst)
        );
        // A card without any purchase is behind too; one holding it (or later) is not.
        let empty = card(1, None, None);
        assert!(plan_missing_purchase(&empty, Some(&empty.issue), Some(&settled), &key).is_some());
        for not_behind in [card(1, valid(6, 1), None), card(1, cancelled(6, 1), None)] {
            let active = Some(&not_behind.issue);
            assert_eq!(
                plan_missing_purchase(&not_behind, active, Some(&settled), &key),
                None
            );
        }
        assert_eq!(plan_missing_purchase(&behind, active, None, &key), None);
        // An older copy made before the purchase's refund is behind by the refund alone.
        let refunded = purchase(6, 1, Cancelled);
        let older_copy = card(1, valid(6, 1), None);
        let active = Some(&older_copy.issue);
        let planned = plan_missing_purchase(&older_copy, active, Some(&refunded), &key).unwrap();
        let after = written(&planned.plan, records(&older_copy));
        let CardContent::User(caught_up) = read(&after) else {
            panic!("not a user card");
        };
        assert_eq!(caught_up.purchase_state(), PurchaseState::Cancelled);
        for not_behind in [card(1, cancelled(6, 1), None), card(1, valid(7, 1), None)] {
            let active = Some(&not_behind.issue);
            assert_eq!(
                plan_missing_purchase(&not_behind, active, Some(&refunded), &key),
                None
            );
        }
        // A void card is not written: the active card carries the customer's purchases.
        let void = card(1, valid(5, 1), None);
        let newer = issue(NEW_CARD, 2);
        assert_eq!(
            plan_missing_purchase(&void, Some(&newer), Some(&settled), &key),
            None
        );
    }

    #[test]
    fn refund_only_a_valid_purchase_the_meter_has_not_loaded() {
        use RefundRefusal::*;
        let key = MacKey::demo();
        let cases = [
            (card(1, None, None), Err(NoPurchase)),
            (card(1, cancelled(5, 1), None), Err(AlreadyRefunded)),
            (card(1, valid(5, 1), swiped(5, 1)), Err(AlreadyLoaded)),
            (card(2, valid(5, 2), None), Err(SwipeNewCardOnMeterFirst)),
            (card(1, valid(5, 1), swiped(4, 1)), Ok(())),
            (card(2, valid(5, 2), swiped(4, 2)), Ok(())),
        ];
        for (card, expected) in cases {
            let outcome = plan_refund(&card, Some(&card.issue), &key).map(|_| ());
            assert_eq!(outcome, expected, "{card:?}");
        }
        let on_card = card(1, valid(5, 1), None);
        assert_eq!(
            plan_refund(&on_card, Some(&issue(CARD, 2)), &key),
            Err(NotTheActiveCard)
        );
        let planned = plan_refund(&on_card, Some(&on_card.issue), &key).unwrap();
        assert_eq!(planned.record, purchase(5, 1, Cancelled));
        assert_eq!(
            planned.plan.decisive,
            DecisiveWrite {
                ef: Ef::Purchase,
                before: purchase(5, 1, Valid).encode(CARD, &key),
                after: purchase(5, 1, Cancelled).encode(CARD, &key),
            }
        );
    }

    #[test]
    fn recycle_a_void_card_or_one_whose_purchases_cannot_be_lost() {
        use RecycleRefusal::*;
        let key = MacKey::demo();
        let unloaded = card(1, valid(5, 1), None);
        let cases = [
            (card(1, None, None), true, Ok(())),
            (card(1, cancelled(5, 1), None), true, Ok(())),
            (card(1, valid(5, 1), swiped(5, 1)), true, Ok(())),
            (unloaded.clone(), true, Err(UnloadedPurchase)),
            (
                card(2, valid(5, 2), None),
                true,
                Err(SwipeNewCardOnMeterFirst),
            ),
            // Void: the replacement card carries whatever this one did.
            (unloaded.clone(), false, Ok(())),
            (card(2, valid(5, 2), None), false, Ok(())),
        ];
        for (card, is_active, expected) in cases {
            let active = is_active.then(|| card.issue.clone());
            let outcome = plan_recycle(&card, active.as_ref(), &key).map(|_| ());
            assert_eq!(outcome, expected, "{card:?} active {is_active}");
        }
        let plan = plan_recycle(&unloaded, Some(&issue(CARD, 2)), &key).unwrap();
        assert_eq!(plan.writes().last().unwrap().ef, Ef::Issue);
        assert_eq!(written(&plan, records(&unloaded)), [EMPTY_RECORD; 3]);
        assert_eq!(plan.decisive.before, records(&unloaded)[0]);
    }

    /// One pending operation of each kind, on the card it was planned for.
    fn pending_operations() -> Vec<(&'static str, CardWritePlan, [Record; 3])> {
        let key = MacKey::demo();
        let blank = [EMPTY_RECORD, [7; 32], EMPTY_RECORD];
        let active = card(1, valid(5, 1), swiped(5, 1));
        let unloaded = card(1, valid(6, 1), swiped(5, 1));
        let open = plan_open(&read(&blank), CARD, 1, meter_number("WM-0042"), &key).unwrap();
        let replace = plan_replace(
            &read(&blank),
            &active.issue,
            active.purchase.as_ref(),
            NEW_CARD,
            &key,
        )
        .unwrap();
        let recharge = plan_recharge(&active, Some(&active.issue), 5, 1_000, NOW, &key).unwrap();
        let refund = plan_refund(&unloaded, Some(&unloaded.issue), &key).unwrap();
        let recycle = plan_recycle(&active, None, &key).unwrap();
        vec![
            ("open", open.plan, blank),
            ("replace", replace.plan, blank),
            ("recharge", recharge.plan, records(&active)),
            ("refund", refund.plan, records(&unloaded)),
            ("recycle", recycle, records(&active)),
        ]
    }

    #[test]
    fn a_pending_operation_is_resolved_from_the_card() {
        use Resolution::*;
        let key = MacKey::demo();
        let someone_elses_card = records(&UserCard {
            issue: IssueRecord {
                card_number: 40_000_033,
                ..issue(CARD, 1)
            },
            purchase: valid(6, 1),
            write_back: None,
        });
        for (operation, plan, before) in pending_operations() {
            let after = written(&plan, before);
            let mut swiped_since = after;
            swiped_since[Ef::MeterWriteBack.index()] = write_back(6, 1).encode(CARD, &key);
            let expectations = [
                ("all written", after, Done),
                ("pulled before the first write", before, Failed),
                (
                    "pulled before the decisive write",
                    prepared(&plan, before),
                    Failed,
                ),
                ("written, then swiped on the meter", swiped_since, Done),
                ("another customer's card", someone_elses_card, Conflict),
            ];
            for (situation, card_read_back, expected) in expectations {
                assert_eq!(
                    plan.resolve(&card_read_back),
                    expected,
                    "{operation}: {situation}"
                );
            }
        }
    }

    #[test]
    fn a_purchase_is_resolved_only_on_its_own_card() {
        let key = MacKey::demo();
        // The first recharge: EF 0002 was empty before, as on every new card.
        let on_card = card(1, None, swiped(0, 1));
        let plan = plan_recharge(&on_card, Some(&on_card.issue), 8, 1_000, NOW, &key)
            .unwrap()
            .plan;
        assert_eq!(plan.resolve(&records(&on_card)), Resolution::Failed);
        let another_new_card = records(&UserCard {
            issue: IssueRecord {
                card_number: NEW_CARD,
                ..issue(CARD, 1)
            },
            purchase: None,
            write_back: None,
        });
        assert_eq!(plan.resolve(&another_new_card), Resolution::Conflict);
        assert_eq!(plan.resolve(&[EMPTY_RECORD; 3]), Resolution::Conflict);
        let mut other_purchase = records(&on_card);
        other_purchase[Ef::Purchase.index()] = purchase(8, 1, Valid).encode(CARD, &key);
        assert_eq!(plan.resolve(&other_purchase), Resolution::Conflict);
        let short: [&[u8]; 3] = [&[], &[], &[]];
        assert_eq!(plan.resolve(&short), Resolution::Conflict);
    }

    /// The simulator's refusal by hand (s26): 24 m³ held under a 30 m³ maximum, 16.665 m³
    /// bought: the meter takes 6 m³ now, and the purchase once 10.665 m³ have been used.
    #[test]
    fn a_purchase_above_the_meters_maximum_says_what_the_meter_takes() {
        let m3 = |text: &str| text.parse::<Volume>().unwrap();
        let max = m3("30");
        let under_30 = |purchase, held| credit_overflow(m3(purchase), Some(m3(held)), max);
        let waits = |held, room, wait| {
            Some(CreditOverflow::Waits {
                max,
                held: m3(held),
                room: m3(room),
                wait: m3(wait),
            })
        };
        assert_eq!(under_30("16.665", "24"), waits("24", "6", "10.665"));
        assert_eq!(under_30("6", "24"), None, "exactly the maximum is taken");
        assert_eq!(
            under_30("6.001", "24"),
            waits("24", "6", "0.001"),
            "one litre too many"
        );
        // A maximum lowered below what the meter holds: it takes nothing now.
        assert_eq!(under_30("1", "35"), waits("35", "0", "6"));
        assert_eq!(under_30("30", "0"), None);
        // More than the meter ever holds: never loaded, whatever it holds, swiped or not.
        for held in [Some(m3("0")), Some(m3("24")), None] {
            assert_eq!(
                credit_overflow(m3("30.001"), held, max),
                Some(CreditOverflow::Never { max })
            );
        }
        assert_eq!(
            credit_overflow(max, None, max),
            None,
            "an unswiped card: only the maximum is known"
        );
    }

    #[test]
    fn blank_cards_cannot_be_told_apart() {
        // Documented limitation: open and replace start from a blank card, recycle ends in one.
        let blank = [EMPTY_RECORD; 3];
        for (operation, plan, _) in pending_operations() {
            let expected = match operation {
                "open" | "replace" => Resolution::Failed,
                "recycle" => Resolution::Done,
                _ => Resolution::Conflict,
            };
            assert_eq!(plan.resolve(&blank), expected, "{operation}");
        }
    }

    #[test]
    fn a_plan_survives_the_journal() {
        for (operation, plan, _) in pending_operations() {
            let stored = toml::to_string(&plan).unwrap();
            assert_eq!(
                toml::from_str::<CardWritePlan>(&stored).unwrap(),
                plan,
                "{operation}"
            );
        }
    }

    #[test]
    fn a_debts_records_are_its_purchase_and_a_write_back_that_loaded_it_last_under_the_key() {
        let key = MacKey::demo();
        let other_key: MacKey = "11".repeat(32).parse().unwrap();
        let bought = purchase(4, 1, PurchaseStatus::Valid).encode(CARD, &key);
        let loaded = write_back(4, 1).encode(CARD, &key);
        assert_eq!(check_debt_evidence(CARD, 4, &bought, &loaded, &key), Ok(()));
        // The database's own checks pass bytes that say 4 whatever their MAC.
        let mut forged = loaded;
        forged[31] ^= 1;
        for (purchase, back, fault) in [
            (bought, forged, DebtEvidenceFault::WriteBackNotSigned),
            (
                bought,
                write_back(4, 1).encode(CARD, &other_key),
                DebtEvidenceFault::WriteBackNotSigned,
            ),
            (
                bought,
                write_back(4, 1).encode(NEW_CARD, &key),
                DebtEvidenceFault::WriteBackNotSigned,
            ),
            (bought, EMPTY_RECORD, DebtEvidenceFault::WriteBackNotSigned),
            (
                bought,
                write_back(5, 1).encode(CARD, &key),
                DebtEvidenceFault::NotLoadedLast { last: 5 },
            ),
            (
                purchase(3, 1, PurchaseStatus::Valid).encode(CARD, &key),
                loaded,
                DebtEvidenceFault::PurchaseNotSigned,
            ),
            (
                purchase(4, 1, PurchaseStatus::Valid).encode(CARD, &other_key),
                loaded,
                DebtEvidenceFault::PurchaseNotSigned,
            ),
        ] {
            assert_eq!(
                check_debt_evidence(CARD, 4, &purchase, &back, &key),
                Err(fault)
            );
        }
    }
}
