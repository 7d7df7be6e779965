//! What happened to each demo customer, generated deterministically from the seed and the
//! customer's index. Each table's COPY pass regenerates the parts it needs instead of holding a
//! million customers in memory; separate random streams keep the parts independent, so a pass
//! that needs only the profile never pays for names or history.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use fastrand::Rng;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::names;
use crate::domain::billing::{SettlementCycles, is_abnormal, last_day_and_due};
use crate::domain::money::{Money, Volume};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nature {
    Personal,
    Enterprise,
    Statistical,
}

impl Nature {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Enterprise => "enterprise",
            Self::Statistical => "statistical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessModel {
    MeterPrepaid,
    SystemPrepaid,
    Postpaid,
}

impl BusinessModel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MeterPrepaid => "meter_prepaid",
            Self::SystemPrepaid => "system_prepaid",
            Self::Postpaid => "postpaid",
        }
    }

    pub fn account_kind(self) -> &'static str {
        match self {
            Self::Postpaid => "postpaid",
            Self::MeterPrepaid | Self::SystemPrepaid => "prepaid",
        }
    }
}

/// A customer type as the generator needs it.
pub struct CustomerTypeInfo {
    pub id: i64,
    pub nature: Nature,
    pub model: BusinessModel,
    pub meter_type_ids: Vec<i64>,
    pub payment_methods: &'static [&'static str],
    /// The first tier of the scheme's current price, for types that charge. Demo volumes stay
    /// within it, so one unit price per transaction is exact.
    pub unit_price: Option<Decimal>,
    pub price_version_id: Option<i64>,
    /// The settlement cycles of the type's postpaid scheme.
    pub settlement: Option<SettlementCycles>,
    /// Share of the customers, in ‰.
    pub per_mille: u32,
}

/// The reference data the stories are told against.
pub struct Catalogue {
    pub seed: u64,
    pub now: DateTime<Utc>,
    pub types: Vec<CustomerTypeInfo>,
    pub meter_type_ids: Vec<i64>,
    pub clerk_id: i64,
    pub supervisor_id: i64,
}

/// Independent random streams per customer.
#[derive(Clone, Copy)]
enum Stream {
    Profile = 1,
    BasicInfo,
    History,
    PreviousOwner,
    UninstalledMeter,
}

fn rng_for(seed: u64, index: u64, stream: Stream) -> Rng {
    Rng::with_seed(
        seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (stream as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    )
}

fn days(rng: &mut Rng, from: i64, to: i64) -> TimeDelta {
    TimeDelta::seconds(rng.i64(from * 86_400..to * 86_400))
}

fn money(amount: Decimal) -> Decimal {
    Money::round_half_up(amount).to_decimal()
}

/// The facts every table about a customer agrees on.
pub struct Profile {
    pub type_index: usize,
    pub meter_type_id: i64,
    pub initial_reading: Decimal,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

pub struct BasicInfo {
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub id_document_no: Option<String>,
    pub household_size: Option<u32>,
    pub email: Option<String>,
    pub credit_code: Option<String>,
    pub contact_person: Option<String>,
    pub remark: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Deposit,
    Refund,
    Consumption,
    BillPayment,
    CardPurchase,
    Reversal,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deposit => "deposit",
            Self::Refund => "refund",
            Self::Consumption => "consumption",
            Self::BillPayment => "bill_payment",
            Self::CardPurchase => "card_purchase",
            Self::Reversal => "reversal",
        }
    }
}

/// References between parts of one history are indexes into its vectors.
pub struct Entry {
    pub kind: EntryKind,
    pub amount: Decimal,
    pub volume: Option<Decimal>,
    pub unit_price: Option<Decimal>,
    pub payment_method: Option<&'static str>,
    pub receipt: Option<usize>,
    pub operator_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub reverses: Option<usize>,
    pub bill: Option<usize>,
}

impl Entry {
    fn new(kind: EntryKind, amount: Decimal, at: DateTime<Utc>, operator_id: Option<i64>) -> Self {
        Self {
            kind,
            amount,
            volume: None,
            unit_price: None,
            payment_method: None,
            receipt: None,
            operator_id,
            at,
            reverses: None,
            bill: None,
        }
    }
}

pub struct Receipt {
    pub at: DateTime<Utc>,
    pub operator_id: i64,
}

pub struct Bill {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub previous_reading: Decimal,
    pub current_reading: Decimal,
    pub volume: Decimal,
    pub amount: Decimal,
    pub issued_at: DateTime<Utc>,
    /// As a reading's bill has it: `DAYS_TO_PAY` after the cycle's last day.
    pub due_date: NaiveDate,
    pub paid_at: Option<DateTime<Utc>>,
}

/// A meter reading: the one that priced a bill (postpaid) or a deduction (system prepaid), each
/// following the one before it, the first the meter's initial reading.
pub struct Reading {
    pub read_on: NaiveDate,
    /// When it was entered (a bill's: when the bill was made).
    pub entered_at: DateTime<Utc>,
    pub previous: Decimal,
    pub electronic: Decimal,
    pub consumption: Volume,
    /// As the database marks it (sql/V58): above 3 × the average of the latest 6 before it.
    pub abnormal: bool,
    /// What it priced: one of these.
    pub bill: Option<usize>,
    pub transaction: Option<usize>,
}

/// What the meter reported at the last swipe, as read back at the counter.
pub struct MeterState {
    pub loaded_seq: u32,
    pub generation: u8,
    pub read_at: DateTime<Utc>,
}

pub struct Card {
    pub generation: u8,
    pub issued_at: DateTime<Utc>,
    pub issued_by: i64,
    /// When and why it stopped being the customer's card; None while active.
    pub voided: Option<(DateTime<Utc>, &'static str)>,
    pub meter: Option<MeterState>,
}

pub struct CardOp {
    pub kind: &'static str,
    pub card: usize,
    pub replaced_card: Option<usize>,
    pub purchase_seq: Option<u32>,
    pub volume_litres: Option<i64>,
    pub transaction: Option<usize>,
    pub at: DateTime<Utc>,
    pub operator_id: i64,
}

/// One customer's money and cards; reused between customers to spare the allocator.
#[derive(Default)]
pub struct History {
    pub receipts: Vec<Receipt>,
    pub bills: Vec<Bill>,
    pub ledger: Vec<Entry>,
    pub cards: Vec<Card>,
    pub card_ops: Vec<CardOp>,
    pub readings: Vec<Reading>,
    /// The readings' consumptions, oldest first: the history the abnormal mark is judged by.
    consumptions: Vec<Volume>,
    /// The sum of the ledger; never negative at any point of the story.
    pub balance: Decimal,
}

impl History {
    fn clear(&mut self) {
        self.receipts.clear();
        self.bills.clear();
        self.ledger.clear();
        self.cards.clear();
        self.card_ops.clear();
        self.readings.clear();
        self.consumptions.clear();
        self.balance = Decimal::ZERO;
    }

    /// The meter read `consumption` more than at its reading before (or its initial reading,
    /// `initial`), pricing `bill` or the deduction `transaction`.
    fn read(
        &mut self,
        initial: Decimal,
        (read_on, entered_at): (NaiveDate, DateTime<Utc>),
        consumption: Decimal,
        (bill, transaction): (Option<usize>, Option<usize>),
    ) {
        let previous = self.readings.last().map_or(initial, |last| last.electronic);
        let consumption = Volume::round_down(consumption);
        let abnormal = is_abnormal(consumption, &self.consumptions);
        self.consumptions.push(consumption);
        self.readings.push(Reading {
            read_on,
            entered_at,
            previous,
            electronic: previous + consumption.to_decimal(),
            consumption,
            abnormal,
            bill,
            transaction,
        });
    }

    fn receipt(&mut self, at: DateTime<Utc>, operator_id: i64) -> usize {
        self.receipts.push(Receipt { at, operator_id });
        self.receipts.len() - 1
    }

    fn record(&mut self, entry: Entry) -> usize {
        self.balance += entry.amount;
        debug_assert!(
            self.balance >= Decimal::ZERO,
            "a demo story overdrew an account"
        );
        self.ledger.push(entry);
        self.ledger.len() - 1
    }

    /// Money paid in at the counter, with its receipt.
    fn pay_in(
        &mut self,
        at: DateTime<Utc>,
        operator_id: i64,
        method: &'static str,
        amount: Decimal,
    ) -> usize {
        let receipt = self.receipt(at, operator_id);
        self.record(Entry {
            payment_method: Some(method),
            receipt: Some(receipt),
            ..Entry::new(EntryKind::Deposit, amount, at, Some(operator_id))
        });
        receipt
    }

    /// Money paid back at the counter.
    fn pay_out(&mut self, at: DateTime<Utc>, operator_id: i64, amount: Decimal) {
        let receipt = self.receipt(at, operator_id);
        self.record(Entry {
            payment_method: Some("cash"),
            receipt: Some(receipt),
            ..Entry::new(EntryKind::Refund, -amount, at, Some(operator_id))
        });
    }

    fn issue_card(&mut self, generation: u8, at: DateTime<Utc>, operator_id: i64) -> usize {
        self.cards.push(Card {
            generation,
            issued_at: at,
            issued_by: operator_id,
            voided: None,
            meter: None,
        });
        self.cards.len() - 1
    }
}

impl Catalogue {
    /// Every id of the reference data the rows refer to, in one list.
    pub fn ids(&self) -> Vec<Option<i64>> {
        let mut ids: Vec<Option<i64>> = self.meter_type_ids.iter().copied().map(Some).collect();
        for info in &self.types {
            ids.extend([Some(info.id), info.price_version_id]);
            ids.extend(info.meter_type_ids.iter().copied().map(Some));
        }
        ids.extend([Some(self.clerk_id), Some(self.supervisor_id)]);
        ids
    }

    pub fn profile(&self, customer: u64) -> Profile {
        let mut rng = rng_for(self.seed, customer, Stream::Profile);
        let mut roll = rng.u32(..1000);
        let type_index = self
            .types
            .iter()
            .position(|ty| {
                let hit = roll < ty.per_mille;
                roll = roll.saturating_sub(ty.per_mille);
                hit
            })
            .unwrap_or(0);
        let ty = &self.types[type_index];
        let meter_type_id = ty.meter_type_ids[rng.usize(..ty.meter_type_ids.len())];
        let initial_reading = Decimal::new(rng.i64(0..=50_000), 3);
        let opened_at = self.now - days(&mut rng, 40, 4 * 365);
        // Closing a card-meter account means recycling cards; the demo keeps those open.
        let closed_at = (ty.model != BusinessModel::MeterPrepaid && rng.u32(..1000) < 5)
            .then(|| self.now - days(&mut rng, 1, 30));
        Profile {
            type_index,
            meter_type_id,
            initial_reading,
            opened_at,
            closed_at,
        }
    }

    pub fn basic_info(&self, customer: u64, profile: &Profile) -> BasicInfo {
        let mut rng = rng_for(self.seed, customer, Stream::BasicInfo);
        let latin = rng.u32(..100) < 6;
        let mut info = BasicInfo {
            name: String::new(),
            address: String::new(),
            phone: None,
            id_document_no: None,
            household_size: None,
            email: None,
            credit_code: None,
            contact_person: None,
            remark: None,
        };
        match self.types[profile.type_index].nature {
            Nature::Personal => {
                let (address, district_code) = names::address(&mut rng);
                info.name = if latin {
                    names::latin_name(&mut rng)
                } else {
                    names::chinese_name(&mut rng)
                };
                info.address = address;
                info.phone = Some(names::mobile(&mut rng));
                info.id_document_no = (rng.u32(..100) < 70).then(|| {
                    if latin {
                        format!("E{:08}", rng.u32(..100_000_000))
                    } else {
                        names::resident_id(&mut rng, district_code)
                    }
                });
                info.household_size = (rng.u32(..100) < 80).then(|| rng.u32(1..=6));
                info.email =
                    (rng.u32(..100) < 20).then(|| format!("customer{customer}@example.com"));
                info.remark = (rng.u32(..100) < 5).then(|| names::remark(&mut rng));
            }
            Nature::Enterprise => {
                info.name = names::company(&mut rng, latin);
                info.address = names::address(&mut rng).0;
                info.phone = Some(names::landline(&mut rng));
                info.credit_code = (rng.u32(..100) < 90).then(|| names::credit_code(&mut rng));
                info.contact_person = Some(if latin {
                    names::latin_name(&mut rng)
                } else {
                    names::chinese_name(&mut rng)
                });
                info.remark = (rng.u32(..100) < 3).then(|| names::remark(&mut rng));
            }
            Nature::Statistical => {
                (info.name, info.address) = names::statistical_point(&mut rng);
            }
        }
        info
    }

    /// For a few personal customers, the owner before a transfer: (basic information as JSON,
    /// when it changed hands).
    pub fn previous_owner(
        &self,
        customer: u64,
        profile: &Profile,
    ) -> Option<(String, DateTime<Utc>)> {
        let mut rng = rng_for(self.seed, customer, Stream::PreviousOwner);
        let personal = self.types[profile.type_index].nature == Nature::Personal;
        if !personal || rng.u32(..100) >= 3 {
            return None;
        }
        let owner = format!(
            r#"{{"name":"{}","phone":"{}"}}"#,
            names::chinese_name(&mut rng),
            names::mobile(&mut rng)
        );
        let until = profile.closed_at.unwrap_or(self.now);
        let transferred_at = profile.opened_at + (until - profile.opened_at) / 2;
        Some((owner, transferred_at))
    }

    /// An uninstalled meter's type and arrival date.
    pub fn uninstalled_meter(&self, index: u64) -> (i64, DateTime<Utc>) {
        let mut rng = rng_for(self.seed, index, Stream::UninstalledMeter);
        let meter_type_id = self.meter_type_ids[rng.usize(..self.meter_type_ids.len())];
        (meter_type_id, self.now - days(&mut rng, 1, 400))
    }

    /// Fills `history` with the customer's ledger, receipts, bills and cards.
    pub fn history(&self, customer: u64, profile: &Profile, history: &mut History) {
        history.clear();
        let ty = &self.types[profile.type_index];
        let Some(price) = ty.unit_price else {
            return;
        };
        let mut story = Story {
            catalogue: self,
            ty,
            price,
            rng: rng_for(self.seed, customer, Stream::History),
            history,
            // A closing customer's last day is spent settling up.
            until: profile
                .closed_at
                .map_or(self.now, |closed| closed - TimeDelta::days(1)),
        };
        let start = profile.opened_at + TimeDelta::minutes(story.rng.i64(5..60));
        match ty.model {
            BusinessModel::MeterPrepaid => story.card_meter(start),
            BusinessModel::SystemPrepaid => story.system_prepaid(start, profile.initial_reading),
            BusinessModel::Postpaid => {
                story.postpaid(profile, profile.closed_at.is_some());
            }
        }
        if let Some(closed_at) = profile.closed_at {
            let balance = story.history.balance;
            if balance > Decimal::ZERO {
                story
                    .history
                    .pay_out(closed_at - TimeDelta::hours(1), self.supervisor_id, balance);
            }
        }
    }
}

struct Story<'a> {
    catalogue: &'a Catalogue,
    ty: &'a CustomerTypeInfo,
    price: Decimal,
    rng: Rng,
    history: &'a mut History,
    until: DateTime<Utc>,
}

impl Story<'_> {
    fn method(&mut self) -> &'static str {
        self.ty.payment_methods[self.rng.usize(..self.ty.payment_methods.len())]
    }

    /// Enterprises use about ten times as much water.
    fn scale(&self) -> i64 {
        if self.ty.nature == Nature::Enterprise {
            10
        } else {
            1
        }
    }

    fn clerk_or_supervisor(&mut self) -> i64 {
        if self.rng.u32(..10) == 0 {
            self.catalogue.supervisor_id
        } else {
            self.catalogue.clerk_id
        }
    }

    fn card_meter(&mut self, mut at: DateTime<Utc>) {
        if self.rng.u32(..100) >= 85 {
            return; // account opened, card not yet
        }
        let clerk = self.catalogue.clerk_id;
        let mut card = self.history.issue_card(1, at, clerk);
        self.history.card_ops.push(CardOp {
            kind: "open",
            card,
            replaced_card: None,
            purchase_seq: None,
            volume_litres: None,
            transaction: None,
            at,
            operator_id: clerk,
        });
        let purchases = self.rng.u32(0..=4);
        let replace_before = (self.rng.u32(..100) < 8).then(|| self.rng.u32(0..=purchases));
        let mut seq = 0;
        let mut purchases_on_card = 0;
        for purchase in 0..=purchases {
            if replace_before == Some(purchase) {
                at += days(&mut self.rng, 3, 60);
                if at >= self.until {
                    break;
                }
                card = self.replace_card(card, seq, at);
                purchases_on_card = 0;
            }
            if purchase == purchases {
                break;
            }
            at += days(&mut self.rng, 15, 90);
            if at >= self.until {
                break;
            }
            seq += 1;
            purchases_on_card += 1;
            self.card_purchase(card, seq, at);
        }
        let generation = self.history.cards[card].generation;
        if seq > 0 {
            // Some customers have not swiped their last purchase (or their new card) yet.
            let unloaded = self.rng.u32(..100) < 15;
            self.history.cards[card].meter = Some(MeterState {
                loaded_seq: if unloaded { seq - 1 } else { seq },
                generation: if purchases_on_card == 0 {
                    generation - 1
                } else {
                    generation
                },
                read_at: at.min(self.until),
            });
        }
    }

    fn replace_card(&mut self, old: usize, seq: u32, at: DateTime<Utc>) -> usize {
        let supervisor = self.catalogue.supervisor_id;
        let reason = if self.rng.bool() { "lost" } else { "damaged" };
        self.history.cards[old].voided = Some((at, reason));
        let generation = self.history.cards[old].generation + 1;
        let new = self.history.issue_card(generation, at, supervisor);
        self.history.card_ops.push(CardOp {
            kind: "replace",
            card: new,
            replaced_card: Some(old),
            purchase_seq: (seq > 0).then_some(seq),
            volume_litres: None,
            transaction: None,
            at,
            operator_id: supervisor,
        });
        new
    }

    /// Paid at the counter and written to the card: the deposit and the card purchase cancel
    /// out, since the credit now travels on the card to the meter.
    fn card_purchase(&mut self, card: usize, seq: u32, at: DateTime<Utc>) {
        let operator = self.clerk_or_supervisor();
        let (amount, volume) = if self.rng.bool() {
            const AMOUNTS: [i64; 6] = [30, 50, 100, 150, 200, 300];
            let amount = Decimal::from(AMOUNTS[self.rng.usize(..AMOUNTS.len())] * self.scale());
            let volume = Volume::round_down(amount / self.price).to_decimal();
            (amount, volume)
        } else {
            let volume = Decimal::from(self.rng.i64(5..=40) * self.scale());
            (money(volume * self.price), volume)
        };
        let method = self.method();
        let receipt = self.history.pay_in(at, operator, method, amount);
        let transaction = self.history.record(Entry {
            volume: Some(volume),
            unit_price: Some(self.price),
            receipt: Some(receipt),
            ..Entry::new(EntryKind::CardPurchase, -amount, at, Some(operator))
        });
        self.history.card_ops.push(CardOp {
            kind: "recharge",
            card,
            replaced_card: None,
            purchase_seq: Some(seq),
            volume_litres: (volume * Decimal::ONE_THOUSAND).to_i64(),
            transaction: Some(transaction),
            at,
            operator_id: operator,
        });
    }

    /// The system holds the balance and deducts each month's consumption from it.
    fn system_prepaid(&mut self, opened: DateTime<Utc>, initial_reading: Decimal) {
        let mut at = opened.max(self.until - TimeDelta::days(120));
        let first = Decimal::from([100, 200, 300, 500][self.rng.usize(..4)] * self.scale());
        let (clerk, method) = (self.catalogue.clerk_id, self.method());
        self.history.pay_in(at, clerk, method, first);
        if self.rng.u32(..100) < 2 {
            // A deposit keyed with the wrong amount, reversed at once by a supervisor.
            let wrong = first * Decimal::TEN;
            let receipt = self.history.pay_in(at, clerk, method, wrong);
            let reversed = self.history.ledger.len() - 1;
            self.history.record(Entry {
                reverses: Some(reversed),
                receipt: Some(receipt),
                ..Entry::new(
                    EntryKind::Reversal,
                    -wrong,
                    at,
                    Some(self.catalogue.supervisor_id),
                )
            });
        }
        loop {
            at += days(&mut self.rng, 25, 35);
            if at >= self.until {
                break;
            }
            let volume = Decimal::new(self.rng.i64(2_000..=25_000) * self.scale(), 3);
            let amount = money(volume * self.price);
            if amount > self.history.balance {
                // Topped up after the low-balance notice.
                let missing = amount - self.history.balance;
                let top_up = (missing / Decimal::ONE_HUNDRED).ceil() * Decimal::ONE_HUNDRED
                    + Decimal::ONE_HUNDRED;
                let (operator, method) = (self.clerk_or_supervisor(), self.method());
                self.history
                    .pay_in(at - TimeDelta::hours(2), operator, method, top_up);
            }
            let deduction = self.history.record(Entry {
                volume: Some(volume),
                unit_price: Some(self.price),
                ..Entry::new(EntryKind::Consumption, -amount, at, None)
            });
            self.history.read(
                initial_reading,
                (at.date_naive(), at),
                volume,
                (None, Some(deduction)),
            );
        }
        let balance = self.history.balance;
        if self.rng.u32(..100) < 3 && balance >= Decimal::TWO {
            let half = (balance / Decimal::TWO).floor();
            self.history.pay_out(
                self.until - TimeDelta::hours(3),
                self.catalogue.supervisor_id,
                half,
            );
        }
    }

    /// Bills for the last few settlement periods, paid from deposits; often the newest is open.
    fn postpaid(&mut self, profile: &Profile, settle_everything: bool) {
        let Some(cycles) = self.ty.settlement else {
            return;
        };
        let months = cycles.months();
        let periods = self.rng.u32(2..=4);
        // The cycles before the one running at `until`, oldest first.
        let mut before = Vec::new();
        let mut first_day = cycles.period_of(self.until.date_naive()).first_day;
        for _ in 0..periods {
            let Some(day_before) = first_day.pred_opt() else {
                break;
            };
            let period = cycles.period_of(day_before);
            first_day = period.first_day;
            before.push(period);
        }
        let mut reading = profile.initial_reading;
        for (back, period) in (1..=before.len()).rev().zip(before.into_iter().rev()) {
            let start = period.first_day;
            let (end, due_date) = last_day_and_due(&period);
            if start < profile.opened_at.date_naive() {
                continue;
            }
            let volume = Decimal::new(
                self.rng.i64(3_000..=30_000) * i64::from(months) * self.scale(),
                3,
            );
            let amount = money(volume * self.price);
            let issued_at = end.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
                + TimeDelta::days(1)
                + TimeDelta::hours(self.rng.i64(7..18));
            let pay_at = issued_at + days(&mut self.rng, 1, 25);
            let leave_open = back == 1 && self.rng.u32(..100) < 40;
            let paid_at = if settle_everything {
                Some(pay_at.min(self.until))
            } else {
                (!leave_open && pay_at < self.until).then_some(pay_at)
            };
            self.history.bills.push(Bill {
                period_start: start,
                period_end: end,
                previous_reading: reading,
                current_reading: reading + volume,
                volume,
                amount,
                issued_at,
                due_date,
                paid_at,
            });
            reading += volume;
            let bill = self.history.bills.len() - 1;
            // Read on the cycle's last day; the bill was made when it was entered.
            self.history.read(
                profile.initial_reading,
                (end, issued_at),
                volume,
                (Some(bill), None),
            );
            if let Some(paid_at) = paid_at {
                self.pay_bill(bill, amount, paid_at);
            }
        }
    }

    fn pay_bill(&mut self, bill: usize, amount: Decimal, at: DateTime<Utc>) {
        let operator = self.clerk_or_supervisor();
        let receipt = if amount > self.history.balance {
            // Customers round up; the change stays on the account for the next bill.
            let missing = amount - self.history.balance;
            let paid = (missing / Decimal::TEN).ceil() * Decimal::TEN;
            let method = self.method();
            self.history.pay_in(at, operator, method, paid)
        } else {
            self.history.receipt(at, operator)
        };
        self.history.record(Entry {
            receipt: Some(receipt),
            bill: Some(bill),
            ..Entry::new(EntryKind::BillPayment, -amount, at, Some(operator))
        });
    }
}
