//! A prepaid card water meter as card.md's meter rules describe it, for the meter simulator
//! and for tests: no real meter is here, so this is the one the counter is proven against.

use serde::{Deserialize, Serialize};

use super::card_counter::{CardWritePlan, DecisiveWrite};
use super::card_records::{
    CardBoundRecord, CardContent, Ef, MacKey, MeterNumber, MeterStatus, MeterWriteBack,
    PurchaseRecord, PurchaseStatus, Record, RecordError,
};
use super::system_cards::{CHECK_CARD_LITRES, SystemCard, SystemCardKind};

/// Below this much credit the meter raises its low credit alarm (status bit 3), until a
/// setting card says otherwise.
pub const LOW_CREDIT_LITRES: u32 = 2_000;

fn low_credit_litres() -> u32 {
    LOW_CREDIT_LITRES
}

/// What the meter remembers between swipes; a simulator keeps it in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterState {
    pub meter_number: MeterNumber,
    /// 0 until the first card is swiped.
    pub registered_generation: u8,
    pub last_loaded_sequence: u32,
    pub credit_litres: u32,
    /// Every litre ever delivered; wraps like a mechanical register.
    pub total_litres: u32,
    /// Valve and low credit follow the credit; low battery and tamper are set by whoever runs
    /// the simulator.
    pub status: MeterStatus,
    /// Card numbers refused from now on, learnt from a replacement card's purchase record
    /// (its `blacklisted_card`: the card it replaced, lost or damaged).
    #[serde(default)]
    pub blacklist: Vec<u32>,
    /// The low credit alarm's volume, from the last setting card.
    #[serde(default = "low_credit_litres")]
    pub alarm_litres: u32,
    /// The most credit the meter may hold, from the last setting card; `None`: no limit.
    #[serde(default)]
    pub max_credit_litres: Option<u32>,
    /// The customer whose cards this meter takes, registered by the first user card after
    /// installation; `None` until then.
    #[serde(default)]
    pub registered_customer: Option<u32>,
    /// A clear card wiped the meter for reinstallation: the next user card registers its
    /// customer — the same one carries on where the meter was (nothing loaded twice), another
    /// starts afresh.
    #[serde(default)]
    pub awaiting_installation: bool,
    /// System cards applied here: each is applied once.
    #[serde(default)]
    pub system_cards_applied: Vec<u32>,
}

/// An accepted swipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwipeOutcome {
    /// The purchase whose volume was added to the credit, if any.
    pub loaded: Option<PurchaseRecord>,
    /// EF 0003 to write to the card.
    pub write_back: Record,
    /// The system card applied, when it was one.
    pub system_card: Option<SystemCardKind>,
}

impl SwipeOutcome {
    /// EF 0003 written back to the card that was read (`records`), as a one-record plan. It
    /// resolves done only on that card: the write-back's MAC is void on any other.
    pub fn write_back_plan(&self, records: &[Record; 3]) -> CardWritePlan {
        CardWritePlan {
            preparatory: Vec::new(),
            decisive: DecisiveWrite {
                ef: Ef::MeterWriteBack,
                before: records[Ef::MeterWriteBack.index()],
                after: self.write_back,
            },
            issue_record: Some(records[Ef::Issue.index()]),
        }
    }
}

/// Why the meter refused a card; a refused card is not written to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeterRefusal {
    #[error("blank card")]
    BlankCard,
    #[error("not a card of this utility ({ef:?}: {error})")]
    ForeignCard { ef: Ef, error: RecordError },
    #[error("card for meter {card_meter}, not this one")]
    OtherMeter { card_meter: MeterNumber },
    #[error("blacklisted card {card_number} (replaced: reported lost or damaged)")]
    BlacklistedCard { card_number: u32 },
    #[error("replaced card: generation {card_generation}, registered {registered_generation}")]
    ReplacedCard {
        card_generation: u8,
        registered_generation: u8,
    },
    /// The purchase stays on the card, to be loaded once enough water has been used.
    #[error("the purchase would overflow the meter's credit")]
    CreditFull,
    #[error("card of customer {card_customer}, this meter is registered to another")]
    OtherCustomer { card_customer: u32 },
    #[error("system card {card_number} was applied here already")]
    SystemCardUsed { card_number: u32 },
}

impl MeterState {
    /// A meter fresh from the factory: no card registered, no credit, valve closed.
    pub fn new(meter_number: MeterNumber) -> Self {
        let mut meter = Self {
            meter_number,
            registered_generation: 0,
            last_loaded_sequence: 0,
            credit_litres: 0,
            total_litres: 0,
            status: MeterStatus::default(),
            blacklist: Vec::new(),
            alarm_litres: LOW_CREDIT_LITRES,
            max_credit_litres: None,
            registered_customer: None,
            awaiting_installation: false,
            system_cards_applied: Vec::new(),
        };
        meter.follow_credit();
        meter
    }

    /// card.md's meter rules. `records` are the three records as read, indexed by
    /// [`Ef::index`]; `now` is unix seconds. Nothing changes when the card is refused.
    pub fn swipe<R: AsRef<[u8]>>(
        &mut self,
        records: &[R; 3],
        key: &MacKey,
        now: u32,
    ) -> Result<SwipeOutcome, MeterRefusal> {
        match SystemCard::read(records, key) {
            Ok(Some(card)) => return self.apply(card, key, now),
            Ok(None) => {}
            Err((ef, error)) => return Err(MeterRefusal::ForeignCard { ef, error }),
        }
        let card = match CardContent::classify(records, key) {
            CardContent::User(card) => card,
            CardContent::Blank => return Err(MeterRefusal::BlankCard),
            CardContent::Foreign { ef, error } => {
                return Err(MeterRefusal::ForeignCard { ef, error });
            }
        };
        if card.issue.meter_number != self.meter_number {
            return Err(MeterRefusal::OtherMeter {
                card_meter: card.issue.meter_number,
            });
        }
        if self.blacklist.contains(&card.issue.card_number) {
            return Err(MeterRefusal::BlacklistedCard {
                card_number: card.issue.card_number,
            });
        }
        let customer = card.issue.customer_number;
        let new_customer = self
            .registered_customer
            .is_some_and(|known| known != customer);
        if new_customer && !self.awaiting_installation {
            return Err(MeterRefusal::OtherCustomer {
                card_customer: customer,
            });
        }
        // Reinstalled for another customer, whose cards and sequence numbers start again.
        let (known_generation, last_loaded) = match new_customer {
            true => (0, 0),
            false => (self.registered_generation, self.last_loaded_sequence),
        };
        if card.issue.generation < known_generation {
            return Err(MeterRefusal::ReplacedCard {
                card_generation: card.issue.generation,
                registered_generation: known_generation,
            });
        }
        let registered_generation = card.issue.generation;
        let blacklisted = card
            .purchase
            .as_ref()
            .and_then(|purchase| purchase.blacklisted_card);
        // Idempotent by sequence number: a purchase copied to a later card is loaded once.
        let loaded = card.purchase.filter(|purchase| {
            purchase.status == PurchaseStatus::Valid
                && purchase.generation >= registered_generation
                && purchase.sequence > last_loaded
        });
        if let Some(purchase) = &loaded {
            self.credit_litres = self.credit_after_adding(purchase.volume_litres)?;
        }
        self.last_loaded_sequence = loaded
            .as_ref()
            .map_or(last_loaded, |purchase| purchase.sequence);
        self.registered_generation = registered_generation;
        self.registered_customer = Some(customer);
        self.awaiting_installation = false;
        if let Some(blacklisted) = blacklisted
            && !self.blacklist.contains(&blacklisted)
        {
            self.blacklist.push(blacklisted);
        }
        self.follow_credit();
        let write_back = self.write_back(now).encode(card.issue.card_number, key);
        Ok(SwipeOutcome {
            loaded,
            write_back,
            system_card: None,
        })
    }

    /// The credit with `litres` more, within the meter's register and its maximum credit.
    fn credit_after_adding(&self, litres: u32) -> Result<u32, MeterRefusal> {
        self.credit_litres
            .checked_add(litres)
            .filter(|credit| self.max_credit_litres.is_none_or(|max| *credit <= max))
            .ok_or(MeterRefusal::CreditFull)
    }

    /// A system card for this meter, once (docs/card-records.md, "System cards"). The card gets
    /// the meter's state after it — a clear card the state before, so the counter learns the
    /// credit it wiped.
    fn apply(
        &mut self,
        card: SystemCard,
        key: &MacKey,
        now: u32,
    ) -> Result<SwipeOutcome, MeterRefusal> {
        if card.meter_number != self.meter_number {
            return Err(MeterRefusal::OtherMeter {
                card_meter: card.meter_number,
            });
        }
        if self.system_cards_applied.contains(&card.card_number) {
            return Err(MeterRefusal::SystemCardUsed {
                card_number: card.card_number,
            });
        }
        let before = self.write_back(now);
        match card.kind {
            SystemCardKind::Setting {
                alarm_litres,
                max_credit_litres,
            } => {
                self.alarm_litres = alarm_litres;
                self.max_credit_litres = Some(max_credit_litres);
            }
            SystemCardKind::Check => {
                self.credit_litres = self.credit_after_adding(CHECK_CARD_LITRES)?;
            }
            SystemCardKind::Clear => {
                self.credit_litres = 0;
                self.awaiting_installation = true;
            }
        }
        self.system_cards_applied.push(card.card_number);
        self.follow_credit();
        let reported = match card.kind {
            SystemCardKind::Clear => before,
            _ => self.write_back(now),
        };
        Ok(SwipeOutcome {
            loaded: None,
            write_back: reported.encode(card.card_number, key),
            system_card: Some(card.kind),
        })
    }

    fn write_back(&self, now: u32) -> MeterWriteBack {
        MeterWriteBack {
            last_loaded_sequence: self.last_loaded_sequence,
            registered_generation: self.registered_generation,
            credit_litres: self.credit_litres,
            total_litres: self.total_litres,
            status: self.status,
            written_at: now,
        }
    }

    /// Draws up to `litres` through an open valve; returns the litres delivered. The valve
    /// closes when the credit runs out.
    pub fn use_water(&mut self, litres: u32) -> u32 {
        if self.status.valve_closed {
            return 0;
        }
        let delivered = litres.min(self.credit_litres);
        self.credit_litres -= delivered;
        self.total_litres = self.total_litres.wrapping_add(delivered);
        self.follow_credit();
        delivered
    }

    fn follow_credit(&mut self) {
        self.status.valve_closed = self.credit_litres == 0;
        self.status.low_credit = self.credit_litres < self.alarm_litres;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::domain::card_counter::tests::written;
    use crate::domain::card_counter::{
        RechargeRefusal, plan_open, plan_recharge, plan_refund, plan_replace,
    };
    use crate::domain::card_records::tests::meter_number;
    use crate::domain::card_records::{EMPTY_RECORD, IssueRecord, UserCard};

    const METER: &str = "WM-0042";
    const START: u32 = 1_760_000_000;

    /// The counter and its database for one customer, writing cards by the counter's rules.
    struct Counter {
        key: MacKey,
        active: IssueRecord,
        last_purchase: Option<PurchaseRecord>,
        last_sequence: u32,
        /// Every card ever written, the active one last.
        cards: Vec<[Record; 3]>,
        /// Valid purchases sold, by sequence number, and the ones refunded since.
        sold: BTreeMap<u32, u32>,
        refunded: BTreeSet<u32>,
        now: u32,
    }

    impl Counter {
        fn open() -> Self {
            let key = MacKey::demo();
            let planned = plan_open(
                &CardContent::Blank,
                40_000_017,
                10_023_457,
                meter_number(METER),
                &key,
            )
            .unwrap();
            Self {
                key,
                cards: vec![written(&planned.plan, [EMPTY_RECORD; 3])],
                active: planned.record,
                last_purchase: None,
                last_sequence: 0,
                sold: BTreeMap::new(),
                refunded: BTreeSet::new(),
                now: START,
            }
        }

        fn active_card(&self) -> UserCard {
            match CardContent::classify(self.cards.last().unwrap(), &self.key) {
                CardContent::User(card) => card,
                other => panic!("the active card reads as {other:?}"),
            }
        }

        fn recharge(&mut self, volume_litres: u32) -> Result<u32, RechargeRefusal> {
            self.now += 60;
            let planned = plan_recharge(
                &self.active_card(),
                Some(&self.active),
                self.last_sequence,
                volume_litres,
                self.now,
                &self.key,
            )?;
            let card = self.cards.pop().unwrap();
            self.cards.push(written(&planned.plan, card));
            self.last_sequence = planned.record.sequence;
            self.sold.insert(planned.record.sequence, volume_litres);
            self.last_purchase = Some(planned.record);
            Ok(self.last_sequence)
        }

        fn refund(&mut self) -> bool {
            let Ok(planned) = plan_refund(&self.active_card(), Some(&self.active), &self.key)
            else {
                return false;
            };
            let card = self.cards.pop().unwrap();
            self.cards.push(written(&planned.plan, card));
            self.refunded.insert(planned.record.sequence);
            self.last_purchase = Some(planned.record);
            true
        }

        fn replace(&mut self) {
            let card_number = self.active.card_number + 8;
            let planned = plan_replace(
                &CardContent::Blank,
                &self.active,
                self.last_purchase.as_ref(),
                card_number,
                &self.key,
            )
            .unwrap();
            self.cards.push(written(&planned.plan, [EMPTY_RECORD; 3]));
            self.active = planned.record;
        }

        /// Swipes card `index` (0 = the first ever) and writes the meter's EF 0003 to it.
        fn swipe(
            &mut self,
            meter: &mut MeterState,
            index: usize,
        ) -> Result<Option<u32>, MeterRefusal> {
            self.now += 60;
            let outcome = meter.swipe(&self.cards[index], &self.key, self.now)?;
            self.cards[index][Ef::MeterWriteBack.index()] = outcome.write_back;
            Ok(outcome.loaded.map(|purchase| purchase.sequence))
        }

        fn newest(&self) -> usize {
            self.cards.len() - 1
        }
    }

    fn meter() -> MeterState {
        MeterState::new(meter_number(METER))
    }

    /// A new customer's counter that sold a first purchase of `litres`, and the meter that
    /// loaded it from the card.
    fn first_purchase_loaded(litres: u32) -> (Counter, MeterState) {
        let mut counter = Counter::open();
        let mut meter = meter();
        counter.recharge(litres).unwrap();
        counter.swipe(&mut meter, 0).unwrap();
        (counter, meter)
    }

    #[test]
    fn life_cycle_of_a_customer_with_a_replaced_card() {
        let mut counter = Counter::open();
        let mut meter = meter();
        assert!(meter.status.valve_closed);

        assert_eq!(counter.recharge(10_000), Ok(1));
        assert_eq!(counter.recharge(1), Err(RechargeRefusal::SwipeMeterFirst));
        assert_eq!(counter.swipe(&mut meter, 0), Ok(Some(1)));
        assert_eq!(meter.credit_litres, 10_000);
        assert!(!meter.status.valve_closed);
        assert_eq!(counter.swipe(&mut meter, 0), Ok(None));
        assert_eq!(meter.credit_litres, 10_000);

        // Bought, then the card is lost before it reaches the meter.
        assert_eq!(counter.recharge(5_000), Ok(2));
        counter.replace();
        let new_card = counter.active_card();
        assert_eq!(new_card.issue.generation, 2);
        assert!(new_card.issue.replacement);
        assert_eq!(new_card.purchase.as_ref().unwrap().sequence, 2);
        assert_eq!(new_card.purchase.as_ref().unwrap().generation, 2);
        assert_eq!(
            counter.recharge(1),
            Err(RechargeRefusal::SwipeNewCardOnMeterFirst)
        );

        // The new card's first swipe registers generation 2 and brings the purchase.
        assert_eq!(counter.swipe(&mut meter, 1), Ok(Some(2)));
        assert_eq!(meter.registered_generation, 2);
        assert_eq!(meter.credit_litres, 15_000);
        // From now on the old card is refused (the new card's purchase record blacklisted
        // it) and changes nothing.
        assert_eq!(meter.blacklist, [40_000_017]);
        let before = meter.clone();
        assert_eq!(
            counter.swipe(&mut meter, 0),
            Err(MeterRefusal::BlacklistedCard {
                card_number: 40_000_017
            })
        );
        assert_eq!(meter, before);
        assert_eq!(counter.swipe(&mut meter, 1), Ok(None));
        assert_eq!(meter.credit_litres, 15_000);

        assert_eq!(counter.recharge(3_000), Ok(3));
        assert_eq!(counter.swipe(&mut meter, 1), Ok(Some(3)));
        assert_eq!(meter.credit_litres, 18_000);
    }

    #[test]
    fn an_old_card_swiped_before_the_new_one_loads_the_purchase_only_once() {
        // The meter learns of a replacement only from the new card: until then the old card
        // is still accepted, and the purchase both carry is loaded by whichever comes first.
        let (mut counter, mut meter) = first_purchase_loaded(10_000);
        counter.recharge(5_000).unwrap();
        counter.replace();
        assert_eq!(counter.swipe(&mut meter, 0), Ok(Some(2)));
        assert_eq!(counter.swipe(&mut meter, 1), Ok(None));
        assert_eq!(meter.credit_litres, 15_000);
        assert_eq!(meter.registered_generation, 2);
        assert!(matches!(
            counter.swipe(&mut meter, 0),
            Err(MeterRefusal::BlacklistedCard { .. })
        ));
        // The new card now carries the write-back the counter waits for.
        assert!(counter.active_card().meter_has_registered());
        assert_eq!(counter.recharge(1_000), Ok(3));
    }

    #[test]
    fn the_write_back_tells_the_counter_what_the_meter_holds() {
        let (mut counter, mut meter) = first_purchase_loaded(2_500);
        assert_eq!(meter.use_water(600), 600);
        counter.swipe(&mut meter, 0).unwrap();
        assert_eq!(
            counter.active_card().write_back,
            Some(MeterWriteBack {
                last_loaded_sequence: 1,
                registered_generation: 1,
                credit_litres: 1_900,
                total_litres: 600,
                status: MeterStatus {
                    low_credit: true,
                    ..MeterStatus::default()
                },
                written_at: counter.now,
            })
        );
    }

    #[test]
    fn a_cancelled_purchase_is_not_loaded() {
        let mut counter = Counter::open();
        let mut meter = meter();
        counter.recharge(5_000).unwrap();
        assert!(counter.refund());
        assert_eq!(counter.swipe(&mut meter, 0), Ok(None));
        assert_eq!(meter.credit_litres, 0);
        assert_eq!(meter.registered_generation, 1);
    }

    #[test]
    fn the_meter_refuses_cards_it_must_not_take() {
        let key = MacKey::demo();
        let counter = Counter::open();
        let mut other_meter = MeterState::new(meter_number("WM-0099"));
        assert_eq!(
            other_meter.swipe(&counter.cards[0], &key, START),
            Err(MeterRefusal::OtherMeter {
                card_meter: meter_number(METER)
            })
        );
        let mut meter = meter();
        assert_eq!(
            meter.swipe(&[EMPTY_RECORD; 3], &key, START),
            Err(MeterRefusal::BlankCard)
        );
        let mut forged = counter.cards[0];
        forged[Ef::Issue.index()][7] ^= 1;
        assert_eq!(
            meter.swipe(&forged, &key, START),
            Err(MeterRefusal::ForeignCard {
                ef: Ef::Issue,
                error: RecordError::BadMac
            })
        );
        let other_key: MacKey = "11".repeat(32).parse().unwrap();
        assert!(matches!(
            meter.swipe(&counter.cards[0], &other_key, START),
            Err(MeterRefusal::ForeignCard { .. })
        ));
        assert_eq!(meter, self::meter());
    }

    #[test]
    fn a_purchase_that_would_overflow_the_credit_waits_on_the_card() {
        let mut counter = Counter::open();
        let mut meter = meter();
        meter.credit_litres = u32::MAX - 10;
        counter.recharge(11).unwrap();
        let before = meter.clone();
        assert_eq!(counter.swipe(&mut meter, 0), Err(MeterRefusal::CreditFull));
        assert_eq!(meter, before);
        meter.status.valve_closed = false;
        meter.use_water(1);
        assert_eq!(counter.swipe(&mut meter, 0), Ok(Some(1)));
        assert_eq!(meter.credit_litres, u32::MAX);
    }

    #[test]
    fn water_stops_when_the_credit_runs_out() {
        let mut meter = meter();
        assert_eq!(meter.use_water(100), 0);
        meter.credit_litres = 2_500;
        meter.follow_credit();
        assert!(!meter.status.valve_closed && !meter.status.low_credit);
        assert_eq!(meter.use_water(1_000), 1_000);
        assert!(meter.status.low_credit && !meter.status.valve_closed);
        assert_eq!(meter.use_water(2_000), 1_500);
        assert_eq!(meter.credit_litres, 0);
        assert_eq!(meter.total_litres, 2_500);
        assert!(meter.status.valve_closed);
        assert_eq!(meter.use_water(1), 0);
        assert_eq!(meter.total_litres, 2_500);
    }

    #[test]
    fn the_meter_state_survives_a_file() {
        let mut meter = meter();
        meter.credit_litres = 1_500;
        meter.status.tamper = true;
        let text = toml::to_string(&meter).unwrap();
        assert_eq!(toml::from_str::<MeterState>(&text).unwrap(), meter);
        let bad = text.replace(METER, "WM-0042 ");
        assert!(toml::from_str::<MeterState>(&bad).is_err());
    }

    #[derive(Debug, Clone)]
    enum Step {
        Recharge(u32),
        Refund,
        Replace,
        Swipe(proptest::sample::Index),
        UseWater(u32),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (1u32..50_000).prop_map(Step::Recharge),
            1 => Just(Step::Refund),
            1 => Just(Step::Replace),
            4 => any::<proptest::sample::Index>().prop_map(Step::Swipe),
            2 => (0u32..20_000).prop_map(Step::UseWater),
        ]
    }

    proptest! {
        #[test]
        fn credit_is_every_distinct_purchase_loaded_once_minus_the_water_used(
            steps in proptest::collection::vec(step(), 0..40),
        ) {
            let mut counter = Counter::open();
            let mut meter = meter();
            let mut loaded = BTreeSet::new();
            let mut used = 0u64;
            let loaded_litres = |loaded: &BTreeSet<u32>, counter: &Counter| -> u64 {
                loaded.iter().map(|sequence| u64::from(counter.sold[sequence])).sum()
            };
            for step in steps {
                match step {
                    Step::Recharge(volume) => _ = counter.recharge(volume),
                    Step::Refund => _ = counter.refund(),
                    Step::Replace => counter.replace(),
                    Step::Swipe(which) => {
                        let index = which.index(counter.cards.len());
                        if let Ok(Some(sequence)) = counter.swipe(&mut meter, index) {
                            prop_assert!(loaded.insert(sequence), "purchase {} loaded twice", sequence);
                            prop_assert!(!counter.refunded.contains(&sequence), "refunded purchase {} loaded", sequence);
                        }
                    }
                    Step::UseWater(litres) => used += u64::from(meter.use_water(litres)),
                }
                prop_assert_eq!(
                    u64::from(meter.credit_litres),
                    loaded_litres(&loaded, &counter) - used
                );
            }
            // Nothing is lost either: the active card brings whatever is still owed.
            let newest = counter.newest();
            if let Ok(Some(sequence)) = counter.swipe(&mut meter, newest) {
                prop_assert!(loaded.insert(sequence));
            }
            let owed: BTreeSet<u32> = counter
                .sold
                .keys()
                .filter(|sequence| !counter.refunded.contains(sequence))
                .copied()
                .collect();
            prop_assert_eq!(&loaded, &owed);
            prop_assert_eq!(
                u64::from(meter.credit_litres),
                loaded_litres(&loaded, &counter) - used
            );
        }
    }

    /// `kind` written onto a blank card numbered `card_number` for `meter_no`.
    fn system_card(kind: SystemCardKind, card_number: u32, meter_no: &str) -> [Record; 3] {
        let card = SystemCard {
            card_number,
            meter_number: meter_number(meter_no),
            kind,
            written_at: START,
            applied: None,
        };
        written(&card.plan(&MacKey::demo()), [EMPTY_RECORD; 3])
    }

    #[test]
    fn a_setting_card_sets_the_alarm_and_caps_the_credit_once() {
        let (mut counter, mut meter) = first_purchase_loaded(5_000);
        let setting = SystemCardKind::Setting {
            alarm_litres: 6_000,
            max_credit_litres: 8_000,
        };
        let card = system_card(setting, 90_000_001, METER);
        let outcome = meter.swipe(&card, &counter.key, START).unwrap();
        assert_eq!(outcome.system_card, Some(setting));
        assert_eq!(
            (meter.alarm_litres, meter.max_credit_litres),
            (6_000, Some(8_000))
        );
        assert!(meter.status.low_credit, "5 000 l is below the new alarm");
        let applied = SystemCard::read(
            &{
                let mut card = card;
                card[Ef::MeterWriteBack.index()] = outcome.write_back;
                card
            },
            &counter.key,
        )
        .unwrap()
        .unwrap()
        .applied
        .unwrap();
        assert_eq!(applied.credit_litres, 5_000);
        assert_eq!(
            meter.swipe(&card, &counter.key, START),
            Err(MeterRefusal::SystemCardUsed {
                card_number: 90_000_001
            })
        );
        // 5 000 + 4 000 is over the maximum: the purchase waits on the card.
        counter.recharge(4_000).unwrap();
        assert_eq!(counter.swipe(&mut meter, 0), Err(MeterRefusal::CreditFull));
        meter.use_water(2_000);
        assert_eq!(counter.swipe(&mut meter, 0), Ok(Some(2)));
        assert_eq!(meter.credit_litres, 7_000);
    }

    #[test]
    fn a_check_card_loads_the_test_volume_once_for_its_meter_only() {
        let mut meter = meter();
        let key = MacKey::demo();
        let other_meter = system_card(SystemCardKind::Check, 90_000_002, "WM-0043");
        assert!(matches!(
            meter.swipe(&other_meter, &key, START),
            Err(MeterRefusal::OtherMeter { .. })
        ));
        let check = system_card(SystemCardKind::Check, 90_000_003, METER);
        meter.swipe(&check, &key, START).unwrap();
        assert_eq!(meter.credit_litres, CHECK_CARD_LITRES);
        assert!(!meter.status.valve_closed);
        assert!(meter.swipe(&check, &key, START).is_err());
        assert_eq!(meter.credit_litres, CHECK_CARD_LITRES);
    }

    #[test]
    fn a_clear_card_reports_the_credit_it_wipes_and_frees_the_meter_for_another_customer() {
        let (mut counter, mut meter) = first_purchase_loaded(5_000);
        let clear = system_card(SystemCardKind::Clear, 90_000_004, METER);
        let outcome = meter.swipe(&clear, &counter.key, START).unwrap();
        let mut returned = clear;
        returned[Ef::MeterWriteBack.index()] = outcome.write_back;
        let applied = SystemCard::read(&returned, &counter.key)
            .unwrap()
            .unwrap()
            .applied
            .unwrap();
        assert_eq!(
            (applied.credit_litres, applied.last_loaded_sequence),
            (5_000, 1)
        );
        assert_eq!(
            (meter.credit_litres, meter.awaiting_installation),
            (0, true)
        );
        assert!(meter.status.valve_closed);
        // The same customer's card after the clear: purchase 1, loaded before, is not again.
        let mut same_customer = meter.clone();
        assert_eq!(counter.swipe(&mut same_customer, 0), Ok(None));
        assert_eq!(same_customer.credit_litres, 0);
        // The next customer's card registers the meter; the old customer's is refused then.
        let mut next = Counter::open();
        let next_customer = IssueRecord {
            customer_number: 10_023_458,
            card_number: 40_000_099,
            ..next.active.clone()
        };
        next.active = next_customer.clone();
        next.cards = vec![written(
            &plan_open(
                &CardContent::Blank,
                next_customer.card_number,
                next_customer.customer_number,
                meter_number(METER),
                &next.key,
            )
            .unwrap()
            .plan,
            [EMPTY_RECORD; 3],
        )];
        next.recharge(1_000).unwrap();
        assert_eq!(next.swipe(&mut meter, 0), Ok(Some(1)));
        assert_eq!(
            counter.swipe(&mut meter, 0),
            Err(MeterRefusal::OtherCustomer {
                card_customer: 10_023_457
            })
        );
    }
}
