//! Card operations (`ReaderHandle::read_card`, `write_plan`, `card_session`) and the meter
//! simulator (`meterdesk meter`) against real PC/SC, in the card rig of `support::card_rig`.
//!
//! Cards are written as the counter will write them: the counter's plans from
//! `domain::card_counter`, `write_plan`, then the plan resolved from the card read back.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meterdesk::card::apdu::StatusWord;
use meterdesk::card::reader::{CardError, ReaderHandle};
use meterdesk::card::water_card::{CardRead, Ef, IssuerPin, Record, ask_pin_tries};
use meterdesk::domain::card_counter::{
    CardWritePlan, Planned, Resolution, plan_open, plan_recharge, plan_replace,
};
use meterdesk::domain::card_records::{
    CardContent, IssueRecord, MacKey, MeterNumber, PurchaseRecord, UserCard,
};
use support::card_rig::*;

const CUSTOMER: u32 = 10_023_457;
const FIRST_CARD: u32 = 40_000_017;
const SECOND_CARD: u32 = 40_000_025;

/// A counter operation: the card read and planned on, then the plan written and read back.
struct CounterCost {
    read: Cost,
    write: Cost,
}

impl std::fmt::Display for CounterCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = Cost {
            apdus: self.read.apdus + self.write.apdus,
            elapsed: self.read.elapsed + self.write.elapsed,
        };
        write!(f, "{total} (read {} + write {})", self.read, self.write)
    }
}

impl Rig {
    fn measured<T>(&self, operation: impl FnOnce(&ReaderHandle) -> T) -> (T, Cost) {
        let apdus = self.reader.apdus_sent();
        let started = Instant::now();
        let result = operation(&self.reader);
        let cost = Cost {
            apdus: self.reader.apdus_sent() - apdus,
            elapsed: started.elapsed(),
        };
        (result, cost)
    }

    fn read_records(&self) -> [Record; 3] {
        match self
            .reader
            .read_card()
            .blocking_recv()
            .expect("reading the card")
        {
            CardRead::Application(records) => records,
            CardRead::NoApplication => panic!("the card has no WATER application"),
        }
    }

    fn read(&self) -> CardContent {
        CardContent::classify(&self.read_records(), &key())
    }

    fn read_user_card(&self) -> UserCard {
        match self.read() {
            CardContent::User(card) => card,
            other => panic!("not a user card: {other:?}"),
        }
    }

    /// Writes the plan, checks the card now holds it, and says what that cost.
    fn write(&self, plan: &CardWritePlan) -> Cost {
        let (read_back, cost) =
            self.measured(|reader| reader.write_plan(plan, &pin()).blocking_recv());
        let read_back = read_back.expect("writing the card");
        assert_eq!(plan.resolve(&read_back), Resolution::Done);
        assert_eq!(
            read_back,
            self.read_records(),
            "write_plan returns what the card holds"
        );
        cost
    }

    /// The counter's way: read the card, plan on what it holds, write the plan.
    fn counter<R>(&self, plan: impl FnOnce(CardContent) -> Planned<R>) -> (R, CounterCost) {
        let (content, read) = self.measured(|_| self.read());
        let planned = plan(content);
        let write = self.write(&planned.plan);
        (planned.record, CounterCost { read, write })
    }

    /// Opens the blank card on the reader; returns its issue record.
    fn open(&self, card_number: u32) -> (IssueRecord, CounterCost) {
        self.counter(|content| {
            plan_open(&content, card_number, CUSTOMER, meter_number(), &key())
                .expect("a blank card")
        })
    }

    /// Recharges the active card on the reader.
    fn recharge(
        &self,
        active: &IssueRecord,
        last_sequence: u32,
        litres: u32,
    ) -> (PurchaseRecord, CounterCost) {
        self.counter(|content| {
            let CardContent::User(card) = content else {
                panic!("not a user card: {content:?}");
            };
            plan_recharge(
                &card,
                Some(active),
                last_sequence,
                litres,
                unix_now(),
                &key(),
            )
            .expect("the card may be recharged")
        })
    }
}

fn key() -> MacKey {
    KEY.parse().unwrap()
}

fn pin() -> IssuerPin {
    PIN.parse().unwrap()
}

fn meter_number() -> MeterNumber {
    MeterNumber::new(METER).unwrap()
}

fn unix_now() -> u32 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u32::try_from(since.as_secs()).unwrap()
}

#[test]
fn read_card_tells_blank_foreign_and_user_cards() {
    let Some(rig) = Rig::start("card-ops-read") else {
        return;
    };
    let blank = rig.insert_blank("blank");
    let (content, cost) = rig.measured(|_| rig.read());
    assert_eq!(content, CardContent::Blank);
    assert_eq!(cost.apdus, 4, "SELECT and one READ BINARY per EF");
    eprintln!("read a card: {cost}");
    rig.pull(blank);

    let foreign = VirtualCardProcess::insert_foreign(PORT_0);
    rig.wait_for_card();
    assert_eq!(
        rig.reader.read_card().blocking_recv().unwrap(),
        CardRead::NoApplication
    );
    let open = plan_open(
        &CardContent::Blank,
        FIRST_CARD,
        CUSTOMER,
        meter_number(),
        &key(),
    )
    .unwrap()
    .plan;
    assert!(matches!(
        rig.reader.write_plan(&open, &pin()).blocking_recv(),
        Err(CardError::NoApplication)
    ));
    rig.pull(foreign);

    let user = rig.insert_blank("user");
    let (issue, _) = rig.open(FIRST_CARD);
    assert_eq!(
        rig.read(),
        CardContent::User(UserCard {
            issue,
            purchase: None,
            write_back: None
        })
    );
    // A card written with another key is foreign.
    assert!(matches!(
        CardContent::classify(&rig.read_records(), &MacKey::demo()),
        CardContent::Foreign { ef: Ef::Issue, .. }
    ));
    rig.pull(user);
}

/// A card session (`ReaderHandle::card_session`) writes on the card it read with no SELECT of
/// its own and answers the card as written; one that ends without a write (its `SessionWrite`
/// dropped: a refusal, a dropped task) frees the reader at once, not after `PLAN_WAIT`.
#[test]
fn a_card_session_writes_the_card_it_read_and_frees_the_reader_without_a_write() {
    let Some(rig) = Rig::start("card-ops-session") else {
        return;
    };
    let card = rig.insert_blank("session");
    let open = plan_open(
        &CardContent::Blank,
        FIRST_CARD,
        CUSTOMER,
        meter_number(),
        &key(),
    )
    .unwrap()
    .plan;
    let apdus = rig.reader.apdus_sent();
    let (read, session) = rig.reader.card_session();
    let (records, tries) = read.blocking_recv().unwrap().expect("the application");
    assert_eq!(CardContent::classify(&records, &key()), CardContent::Blank);
    assert!(tries.may_present().is_ok(), "{tries:?}");
    // The PIN presented before the decision (cardflow's order), not again at the write.
    session.verify(&pin()).blocking_recv().unwrap();
    let written = session.write(&open, &pin()).blocking_recv().unwrap();
    assert_eq!(
        rig.reader.apdus_sent() - apdus,
        4 + 5,
        "SELECT, 3 READ; VERIFY; 3 UPDATE, the decisive record read back"
    );
    assert_eq!(written, rig.read_records(), "the card as a read finds it");
    assert_eq!(open.resolve(&written), Resolution::Done);

    // Verified for a write that does not come (the database refused it): the session ends
    // the verification, so the card is not left open to another program's UPDATE.
    let (read, session) = rig.reader.card_session();
    read.blocking_recv().unwrap().expect("the application");
    session.verify(&pin()).blocking_recv().unwrap();
    drop(session);
    let asked = rig
        .reader
        .transmit(ask_pin_tries())
        .blocking_recv()
        .unwrap();
    assert_ne!(asked.status, StatusWord::SUCCESS, "left verified");

    let started = Instant::now();
    let (read, session) = rig.reader.card_session();
    read.blocking_recv().unwrap().expect("the application");
    drop(session);
    rig.read_records();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the reader waited {:?} for a plan that was never coming",
        started.elapsed()
    );
    rig.pull(card);
}

#[test]
fn recharged_card_loads_once_on_the_meter_and_water_uses_the_credit() {
    let Some(rig) = Rig::start("card-ops-meter") else {
        return;
    };
    let card = rig.insert_blank("card");
    let (active, open_cost) = rig.open(FIRST_CARD);
    let (purchase, recharge_cost) = rig.recharge(&active, 0, 10_000);
    eprintln!("open: {open_cost}\nrecharge: {recharge_cost}");
    assert_eq!(purchase.sequence, 1);

    let swiped = rig.meter(&["swipe"]);
    assert!(swiped.contains("loaded purchase 1 (10000 l)"), "{swiped}");
    assert!(
        swiped.contains("credit 10000 l, total 0 l, valve open"),
        "{swiped}"
    );
    let again = rig.meter(&["swipe"]);
    assert!(
        again.contains("nothing to load (last loaded purchase 1)"),
        "{again}"
    );
    let used = rig.meter(&["use", "--litres", "600"]);
    assert!(
        used.contains("delivered 600 l of 600 l; credit 9400 l, total 600 l"),
        "{used}"
    );
    assert!(
        rig.dir.join("data/meters/WM-0042.json").exists(),
        "the meter's state lives in the data directory"
    );

    // The meter wrote its state back with the same PIN, and the counter can sell again.
    let on_card = rig.read_user_card();
    let write_back = on_card.write_back.clone().expect("the meter wrote EF 0003");
    assert_eq!(
        (write_back.last_loaded_sequence, write_back.credit_litres),
        (1, 10_000)
    );
    let (purchase, _) = rig.recharge(&active, purchase.sequence, 5_000);
    let swiped = rig.meter(&["swipe"]);
    assert!(
        swiped.contains(&format!("loaded purchase {} (5000 l)", purchase.sequence)),
        "{swiped}"
    );
    assert!(swiped.contains("credit 14400 l"), "{swiped}");
    rig.pull(card);
}

#[test]
fn a_replaced_card_is_refused_once_the_new_one_was_swiped() {
    let Some(rig) = Rig::start("card-ops-replace") else {
        return;
    };
    let old = rig.insert_blank("old");
    let (active, _) = rig.open(FIRST_CARD);
    let (first, _) = rig.recharge(&active, 0, 10_000);
    rig.meter(&["swipe"]);
    // Sold, then the card is lost before it reaches the meter.
    let (unloaded, _) = rig.recharge(&active, first.sequence, 3_000);
    rig.pull(old);

    let new = rig.insert_blank("new");
    let (_, cost) = rig.counter(|blank| {
        plan_replace(&blank, &active, Some(&unloaded), SECOND_CARD, &key()).unwrap()
    });
    eprintln!("replace: {cost}");
    let new_card = rig.read_user_card();
    assert_eq!(
        (new_card.issue.generation, new_card.issue.replacement),
        (2, true)
    );

    let swiped = rig.meter(&["swipe"]);
    assert!(swiped.contains("loaded purchase 2 (3000 l)"), "{swiped}");
    assert!(swiped.contains("credit 13000 l"), "{swiped}");
    rig.pull(new);

    let old = rig.insert("old", &[]);
    let before = rig.read_records();
    let refused = rig.meter_refuses(&["swipe"]);
    assert!(
        refused.contains(&format!("refused the card: blacklisted card {FIRST_CARD}")),
        "{refused}"
    );
    assert_eq!(
        rig.read_records(),
        before,
        "a refused card is not written to"
    );
    rig.pull(old);
}

#[test]
fn a_card_pulled_before_or_during_a_write_resolves_from_what_it_holds() {
    let Some(rig) = Rig::start("card-ops-pulled") else {
        return;
    };
    let open = |card_number| {
        plan_open(
            &CardContent::Blank,
            card_number,
            CUSTOMER,
            meter_number(),
            &key(),
        )
        .unwrap()
        .plan
    };

    // Pulled before: at once (pcscd still says present), and once the reader has seen it go.
    let card = rig.insert_blank("before");
    let plan = open(FIRST_CARD);
    card.pull();
    assert!(
        rig.reader
            .write_plan(&plan, &pin())
            .blocking_recv()
            .is_err()
    );
    wait_for(&rig.events, &no_card(READER_0), Duration::from_secs(2));
    assert!(matches!(
        rig.reader.write_plan(&plan, &pin()).blocking_recv(),
        Err(CardError::NoCard)
    ));
    let card = rig.insert("before", &[]);
    assert_eq!(plan.resolve(&rig.read_records()), Resolution::Failed);
    rig.pull(card);

    // Pulled during: without TCP_QUICKACK every APDU takes ≥ 40 ms, so the 8 APDUs of an open
    // (SELECT, VERIFY, 3 UPDATE, 3 READ) take over 320 ms and a pull at these delays lands
    // before, between or inside the writes and the read-back.
    let mut outcomes = Vec::new();
    for (attempt, delay_ms) in [0, 60, 110, 160, 200, 240, 280].into_iter().enumerate() {
        let name = format!("during-{delay_ms}");
        let plan = open(FIRST_CARD + 8 * attempt as u32);
        let card = rig.insert(&name, &["--blank", "--no-quick-ack"]);
        assert_eq!(rig.read(), CardContent::Blank);
        let reply = rig.reader.write_plan(&plan, &pin());
        std::thread::sleep(Duration::from_millis(delay_ms));
        rig.pull(card);
        let written = reply.blocking_recv();
        assert!(written.is_err(), "pulled after {delay_ms} ms: {written:?}");

        let card = rig.insert(&name, &[]);
        let on_card = rig.read_records();
        let resolution = plan.resolve(&on_card);
        let decisive_is_there = on_card[Ef::Issue.index()] == plan.decisive.after;
        let expected = match decisive_is_there {
            true => Resolution::Done,
            false => Resolution::Failed,
        };
        assert_eq!(resolution, expected, "pulled after {delay_ms} ms");
        outcomes.push(format!("{delay_ms} ms: {resolution:?}"));
        rig.pull(card);
    }
    eprintln!("open pulled after: {}", outcomes.join(", "));
}
