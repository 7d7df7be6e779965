//! The card write protocol end to end (`cardflow` over `db::card_ops`): the real reader thread,
//! pcscd with the vpcd virtual reader and our emulated card (`vcard`), a real PostgreSQL, and
//! the meter — the `meterdesk meter` simulator in the life cycle, its rules in-process in the
//! randomized run. Faults are real: the card process killed before, during and after writes, a
//! pool pointing at a closed port, the test cluster stopped, backends terminated, the flow's
//! task dropped half-way.
//!
//! Every test ends with the books checked (`support::card_desk::books`): card and ledger agree,
//! no payment lost, no credit doubled.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meterdesk::card::reader::CardError;
use meterdesk::card::water_card::{CardRead, IssuerPin, Record};
use meterdesk::cardflow::{self, CardAccess, Desk, Flow, FlowError, PendingCause, WritesStopped};
use meterdesk::db::card_ops::{
    self, Begin, BeginOutcome, Begun, Discrepancy, LossReason, OperationState, Payment, Quantity,
    Refusal, Request,
};
use meterdesk::db::pool_from_conn_str;
use meterdesk::db::session::Sessions;
use meterdesk::domain::card_counter::{
    NotBlank, RechargeRefusal, Resolution, plan_open, plan_recharge,
};
use meterdesk::domain::card_records::{CardContent, MacKey, MeterNumber, PurchaseStatus};
use meterdesk::domain::meter::MeterState;
use meterdesk::tools::rig::virtual_card::WaterApplication;
use rust_decimal::Decimal;
use support::card_desk::{
    Books, CLERK, CardCustomer, SUPERVISOR, books, card_customer, key, open_customer,
};
use support::card_rig::*;
use support::pg::{cluster, give_password};

/// The counter: the rig, a card customer, the card secrets, and the in-process meter.
struct Station {
    rig: Rig,
    customer: CardCustomer,
    key: MacKey,
    pin: IssuerPin,
    /// The customer's database as the desk reaches it, signed in as the clerk and as the
    /// supervisor: each request goes as its operator's own role (`operator_for`), and the
    /// database decides what it may do.
    clerk: Sessions,
    supervisor: Sessions,
    /// The desk's secrets: `key` and `pin`, unless a test gives the desk another PIN.
    access: CardAccess,
    /// A pool whose server is not there (a closed port): the database unreachable.
    dead_pool: Sessions,
    meter: MeterState,
    used_litres: u64,
    keys: u32,
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn recharge(volume: &str) -> Request {
    Request::Recharge {
        quantity: Quantity::Volume(dec(volume)),
        payment: Payment::Method("cash".into()),
    }
}

fn refund() -> Request {
    Request::Refund {
        payout: Payment::Method("cash".into()),
    }
}

fn replace() -> Request {
    Request::Replace {
        reason: LossReason::Lost,
    }
}

/// The request's operator: supervisors refund and replace.
fn operator_for(request: &Request) -> i64 {
    match request {
        Request::Refund { .. } | Request::Replace { .. } => SUPERVISOR,
        _ => CLERK,
    }
}

fn unix_now() -> u32 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u32::try_from(since.as_secs()).unwrap()
}

impl Station {
    async fn start(test: &str) -> Option<Station> {
        Self::start_with_desk_pin(test, PIN).await
    }

    /// The cards' PIN is [`PIN`]; the desk's is `desk_pin`.
    async fn start_with_desk_pin(test: &str, desk_pin: &str) -> Option<Station> {
        let rig = Rig::start(test)?;
        let customer = card_customer().await;
        give_password(&customer.client, CLERK).await;
        give_password(&customer.client, SUPERVISOR).await;
        Some(Station {
            rig,
            clerk: Sessions::signed_in(customer.db.pool_of("clerk")),
            supervisor: Sessions::signed_in(customer.db.pool_of("super")),
            customer,
            key: key(),
            pin: PIN.parse().unwrap(),
            access: CardAccess::new(key(), desk_pin.parse().unwrap()),
            dead_pool: Sessions::signed_in(
                pool_from_conn_str("host=127.0.0.1 port=1 user=nobody dbname=none", 1).unwrap(),
            ),
            meter: MeterState::new(MeterNumber::new(METER).unwrap()),
            used_litres: 0,
            keys: 0,
        })
    }

    fn desk_on<'a>(&'a self, pool: &'a Sessions, operator_id: i64) -> Desk<'a> {
        Desk {
            pool,
            reader: &self.rig.reader,
            access: &self.access,
            operator_id,
        }
    }

    /// The connections of operator `operator_id` (CLERK or SUPERVISOR).
    fn live_for(&self, operator_id: i64) -> &Sessions {
        if operator_id == SUPERVISOR {
            &self.supervisor
        } else {
            &self.clerk
        }
    }

    fn desk(&self, operator_id: i64) -> Desk<'_> {
        self.desk_on(self.live_for(operator_id), operator_id)
    }

    fn next_key(&mut self) -> String {
        self.keys += 1;
        format!("flow-{}", self.keys)
    }

    /// The whole flow; recycle finds its customer from the card.
    async fn run(&mut self, request: &Request) -> Result<Flow, FlowError> {
        let key = self.next_key();
        let live = self.live_for(operator_for(request)).clone();
        self.run_on(&live, request, &key).await
    }

    async fn run_on(
        &self,
        pool: &Sessions,
        request: &Request,
        key: &str,
    ) -> Result<Flow, FlowError> {
        let desk = self.desk_on(pool, operator_for(request));
        match request {
            Request::Recycle => cardflow::recycle(&desk, key).await,
            _ => cardflow::run(&desk, self.customer.customer_id, request, key).await,
        }
    }

    async fn done(&mut self, request: &Request) -> Begun {
        match self.run(request).await.unwrap() {
            Flow::Done { begun, .. } => begun,
            other => panic!("{request:?} not done: {other:?}"),
        }
    }

    async fn refused(&mut self, request: &Request) -> Refusal {
        match self.run(request).await.unwrap() {
            Flow::Refused { refusal, .. } => refusal,
            other => panic!("{request:?} not refused: {other:?}"),
        }
    }

    async fn records(&self) -> [Record; 3] {
        match self.rig.reader.read_card().recv().await.unwrap() {
            CardRead::Application(records) => records,
            CardRead::NoApplication => panic!("a foreign card"),
        }
    }

    /// Step 1 only (read, begin); `None` when refused.
    async fn begin(&mut self, request: &Request) -> Option<Begun> {
        let records = self.records().await;
        let key = self.next_key();
        let mut client = self.customer.db.pool.get().await.unwrap();
        let begin = Begin {
            customer_id: self.customer.customer_id,
            operator_id: operator_for(request),
            idempotency_key: &key,
            card: &records,
            key: &self.key,
        };
        match card_ops::begin(&mut client, &begin, request)
            .await
            .unwrap()
            .outcome
        {
            BeginOutcome::Begun(begun) => Some(*begun),
            _ => None,
        }
    }

    /// Resolves from the card in the reader; returns the states settled.
    async fn touch(&self) -> Vec<OperationState> {
        let touched = cardflow::touch(&self.desk(CLERK), Some(self.customer.customer_id))
            .await
            .unwrap();
        touched
            .settled
            .iter()
            .map(|settled| settled.state)
            .collect()
    }

    /// What the card in the reader holds that the database disagrees with.
    async fn discrepancies(&self) -> Vec<Discrepancy> {
        cardflow::touch(&self.desk(CLERK), None)
            .await
            .unwrap()
            .discrepancies
    }

    /// The meter's rules applied to the card in the reader, its write-back written like
    /// `meterdesk meter swipe` does. `false`: refused.
    async fn swipe(&mut self) -> bool {
        let records = self.records().await;
        let Ok(outcome) = self.meter.swipe(&records, &self.key, unix_now()) else {
            return false;
        };
        let plan = outcome.write_back_plan(&records);
        let read_back = self
            .rig
            .reader
            .write_plan(&plan, &self.pin)
            .recv()
            .await
            .unwrap();
        assert_eq!(plan.resolve(&read_back), Resolution::Done);
        true
    }

    /// The books, and what the meter got: never more than was sold.
    async fn books(&self) -> Books {
        // A connection from the pool: the test may have restarted the server under any other.
        let client = self.customer.db.pool.get().await.unwrap();
        let books = books(&client, self.customer.customer_id).await;
        let metered = u64::from(self.meter.credit_litres) + self.used_litres;
        assert!(
            metered <= u64::try_from(books.litres_sold).unwrap(),
            "the meter holds more than was sold: {metered} l > {books:?}"
        );
        books
    }

    fn content(records: &[Record; 3]) -> CardContent {
        CardContent::classify(records, &key())
    }
}

/// The card was written and read back, but the database did not take the result.
fn assert_pending_on_the_database(flow: &Flow) {
    assert!(
        matches!(
            flow,
            Flow::Pending {
                cause: PendingCause::Database(_),
                ..
            }
        ),
        "{flow:?}"
    );
}

/// What one flow cost at the reader and in all.
fn cost(station: &Station, apdus_before: u64, started: Instant) -> Cost {
    Cost {
        apdus: station.rig.reader.apdus_sent() - apdus_before,
        elapsed: started.elapsed(),
    }
}

#[tokio::test]
async fn the_card_life_cycle_through_the_counter_and_the_meter() {
    let Some(mut station) = Station::start("card-flow-life").await else {
        return;
    };
    // The app runs flows on tokio tasks, so their futures must be Send (checked, not run).
    fn is_send<T: Send>(_: &T) {}
    let desk = station.desk(CLERK);
    is_send(&cardflow::run(&desk, 1, &Request::Open, "send"));
    is_send(&cardflow::recycle(&desk, "send"));
    is_send(&cardflow::touch(&desk, None));
    // A foreign card and a card of another customer are refused at open; nothing is written.
    let foreign = VirtualCardProcess::insert_foreign(PORT_0);
    station.rig.wait_for_card();
    assert_eq!(station.refused(&Request::Open).await, Refusal::ForeignCard);
    station.rig.pull(foreign);

    let first = station.rig.insert_blank("first");
    let mut figures = Vec::new();
    let (apdus, started) = (station.rig.reader.apdus_sent(), Instant::now());
    let opened = station.done(&Request::Open).await;
    figures.push(format!("open {}", cost(&station, apdus, started)));
    let before = station.records().await;
    assert_eq!(
        station.refused(&Request::Open).await,
        Refusal::AlreadyHasCard
    );
    assert_eq!(station.records().await, before);

    let (apdus, started) = (station.rig.reader.apdus_sent(), Instant::now());
    station.done(&recharge("10")).await;
    figures.push(format!("recharge {}", cost(&station, apdus, started)));
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("loaded purchase 1 (10000 l)"), "{swiped}");
    station.done(&recharge("5")).await;
    station.rig.pull(first);

    // Lost before the meter saw purchase 2: the new card carries it.
    let second = station.rig.insert_blank("second");
    let (apdus, started) = (station.rig.reader.apdus_sent(), Instant::now());
    let replaced = station.done(&replace()).await;
    figures.push(format!("replace {}", cost(&station, apdus, started)));
    assert_ne!(replaced.card_no, opened.card_no);
    assert_eq!(
        station.refused(&recharge("1")).await,
        Refusal::Recharge(RechargeRefusal::SwipeNewCardOnMeterFirst)
    );
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("loaded purchase 2 (5000 l)"), "{swiped}");
    assert!(swiped.contains("credit 15000 l"), "{swiped}");
    station.done(&recharge("3")).await;

    // Refunded before the meter loads it: the meter loads nothing, the money is paid out.
    let refunded = station.done(&refund()).await;
    assert_eq!(refunded.purchase.unwrap().amount, dec("3.00"));
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("nothing to load"), "{swiped}");
    station.done(&recharge("2")).await;
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("credit 17000 l"), "{swiped}");
    station.rig.pull(second);

    // The old card: refused by the meter, refused at the counter, recycled to blank.
    let first = station.rig.insert("first", &[]);
    let refused = station.rig.meter_refuses(&["swipe"]);
    assert!(
        refused.contains("refused the card: blacklisted card"),
        "{refused}"
    );
    assert_eq!(
        station.refused(&recharge("1")).await,
        Refusal::Recharge(RechargeRefusal::NotTheActiveCard)
    );
    station.done(&Request::Recycle).await;
    assert_eq!(
        Station::content(&station.records().await),
        CardContent::Blank
    );
    assert_eq!(
        station.refused(&Request::Open).await,
        Refusal::AlreadyHasCard
    );
    station.rig.pull(first);

    let books = station.books().await;
    assert_eq!(
        (
            books.litres_sold,
            books.paid_in,
            books.paid_out,
            books.balance
        ),
        (17_000, dec("20.00"), dec("3.00"), Decimal::ZERO)
    );
    eprintln!(
        "through cardflow (read + begin + write + settle): {}",
        figures.join("; ")
    );
}

/// Finding 3 of #11: a refunded purchase's water leaves the year's tier volume.
#[tokio::test]
async fn refunded_water_does_not_count_toward_the_years_tiers() {
    let Some(mut station) = Station::start("card-flow-refunded-tiers").await else {
        return;
    };
    let card = station.rig.insert_blank("card");
    station.done(&Request::Open).await;
    station.done(&recharge("30.5")).await;
    station.rig.meter(&["swipe"]);
    station.done(&recharge("40")).await;
    station.done(&refund()).await;
    // 30.5 m³ this year, not 70.5: 19.5 × 1.00 + 0.5 × 2.00.
    let next = station.done(&recharge("20")).await;
    assert_eq!(next.purchase.unwrap().amount, dec("20.50"));
    station.rig.pull(card);
}

/// Finding 2 of #11: the meter loads purchase #2, the counter reads the card, the card's
/// earlier image (purchase #2 not loaded) is put back and presented for a refund.
#[tokio::test]
async fn a_replayed_card_image_is_refunded_nothing_the_meter_loaded() {
    let Some(mut station) = Station::start("card-flow-replay").await else {
        return;
    };
    let card = station.rig.insert_blank("card");
    station.done(&Request::Open).await;
    station.done(&recharge("4")).await;
    station.rig.meter(&["swipe"]);
    station.done(&recharge("5")).await;
    station.rig.pull(card);
    let image = station.rig.state_file("card");
    let earlier_image = station.rig.state_file("earlier-image");
    std::fs::copy(&image, &earlier_image).unwrap();

    let card = station.rig.insert("card", &[]);
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("loaded purchase 2 (5000 l)"), "{swiped}");
    assert!(station.touch().await.is_empty(), "nothing was pending");
    station.rig.pull(card);

    std::fs::copy(&earlier_image, &image).unwrap();
    let card = station.rig.insert("card", &[]);
    let replayed = station.records().await;
    let CardContent::User(earlier) = Station::content(&replayed) else {
        panic!("not a user card");
    };
    assert_eq!(
        earlier
            .write_back
            .map(|write_back| write_back.last_loaded_sequence),
        Some(1),
        "the earlier image"
    );
    let seen_at = match station.refused(&refund()).await {
        Refusal::OlderCardImage { seen_at } => seen_at,
        other => panic!("the replayed image's refund: {other:?}"),
    };
    assert!(seen_at <= chrono::Utc::now());
    assert_eq!(station.records().await, replayed, "nothing written");
    let refused: i64 = station
        .customer
        .client
        .query_one(
            "SELECT count(*) FROM audit_log
             WHERE action = 'card.refund_refused' AND (detail ->> 'customer_id')::bigint = $1
               AND (detail ->> 'card_no')::bigint = entity_id",
            &[&station.customer.customer_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refused, 1, "audited with the card and the customer");
    station.rig.pull(card);

    let books = station.books().await;
    assert_eq!(
        (books.paid_in, books.paid_out, books.litres_sold),
        (dec("9.00"), Decimal::ZERO, 9_000)
    );
}

/// Finding 1 of #11: a recharge left pending with its card never written is settled by a
/// supervisor without the card; then the same card comes back, still holding the purchase
/// before. Nothing is sold over the missing purchase: it is written onto the card first.
#[tokio::test]
async fn a_purchase_settled_without_its_card_reaches_the_meter_when_the_card_comes_back() {
    let Some(mut station) = Station::start("card-flow-settled-without-card").await else {
        return;
    };
    let card = station.rig.insert_blank("card");
    station.done(&Request::Open).await;
    station.done(&recharge("4")).await;
    assert!(station.swipe().await);
    let pending = station.begin(&recharge("5")).await.expect("journaled");
    let mut supervisor = station.supervisor.get().await.unwrap();
    let settled = card_ops::settle_without_card(&mut supervisor, pending.operation_id, SUPERVISOR)
        .await
        .unwrap()
        .expect("a supervisor may");
    assert_eq!(settled.state, OperationState::Done);
    drop(supervisor);

    // The card comes back holding purchase #1 (loaded): the read tells; a new recharge is not
    // sold over #2.
    assert_eq!(
        station.discrepancies().await,
        [Discrepancy::MissingPurchase { sequence: 2 }]
    );
    let before = station.records().await;
    assert_eq!(
        station.refused(&recharge("3")).await,
        Refusal::MissingPurchaseWritten { sequence: 2 }
    );
    let CardContent::User(caught_up) = Station::content(&station.records().await) else {
        panic!("not a user card");
    };
    assert_ne!(station.records().await, before);
    assert_eq!(
        caught_up.purchase.map(|p| (p.sequence, p.volume_litres)),
        Some((2, 5_000))
    );
    assert_eq!(
        station.refused(&recharge("3")).await,
        Refusal::Recharge(RechargeRefusal::SwipeMeterFirst)
    );
    assert!(station.swipe().await);
    assert_eq!(station.meter.credit_litres, 9_000);
    station.done(&recharge("3")).await;
    assert!(station.swipe().await);
    station.rig.pull(card);

    let books = station.books().await;
    assert_eq!(
        (
            books.paid_in,
            books.litres_sold,
            station.meter.credit_litres
        ),
        (dec("12.00"), 12_000, 12_000),
        "paid for is what the meter holds"
    );
    let audited: i64 = station
        .customer
        .client
        .query_one(
            "SELECT count(*) FROM audit_log
             WHERE action = 'card.missing_purchase' AND (detail ->> 'customer_id')::bigint = $1
               AND (detail ->> 'purchase_seq')::bigint = 2 AND (detail ->> 'written')::boolean",
            &[&station.customer.customer_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1, "written to the card and audited once");
}

/// Item 2 of #11: every read compares the card with the database; a purchase this system never
/// sold (written with the key elsewhere) and a void card are told and audited.
#[tokio::test]
async fn a_purchase_never_sold_here_and_a_void_card_are_flagged_and_audited_when_read() {
    let Some(mut station) = Station::start("card-flow-reconcile").await else {
        return;
    };
    let first = station.rig.insert_blank("first");
    station.done(&Request::Open).await;
    station.done(&recharge("2")).await;
    assert!(station.swipe().await);
    assert_eq!(station.discrepancies().await, [], "the card agrees");

    let CardContent::User(card) = Station::content(&station.records().await) else {
        panic!("not a user card");
    };
    let forged = plan_recharge(
        &card,
        Some(&card.issue),
        6,
        50_000,
        unix_now(),
        &station.key,
    )
    .unwrap();
    let read_back = station
        .rig
        .reader
        .write_plan(&forged.plan, &station.pin)
        .recv()
        .await
        .unwrap();
    assert_eq!(forged.plan.resolve(&read_back), Resolution::Done);
    assert_eq!(
        station.discrepancies().await,
        [Discrepancy::UnknownPurchase {
            sequence: 7,
            litres: 50_000
        }]
    );
    station.rig.pull(first);

    let second = station.rig.insert_blank("second");
    station.done(&replace()).await;
    station.rig.pull(second);
    let first = station.rig.insert("first", &[]);
    assert_eq!(
        station.discrepancies().await,
        [Discrepancy::VoidCard {
            reason: Some("lost".into())
        }]
    );
    station.rig.pull(first);

    let audited: Vec<String> = station
        .customer
        .client
        .query(
            "SELECT detail ->> 'kind' FROM audit_log
             WHERE action = 'card.discrepancy' AND (detail ->> 'customer_id')::bigint = $1
               AND (detail ->> 'card_no')::bigint = entity_id ORDER BY id",
            &[&station.customer.customer_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(audited, ["unknown_purchase", "void_card"]);
}

/// Item 5 of #11: a card reported lost (no replacement yet) is refused at the counter at once;
/// the next card issued carries its number to the meter's blacklist, and the meter simulator
/// refuses it — exiting non-zero — from the new card's first swipe on.
#[tokio::test]
async fn a_card_reported_lost_is_blocked_at_once_and_blacklisted_by_the_next_card() {
    let Some(mut station) = Station::start("card-flow-report-lost").await else {
        return;
    };
    let lost = station.rig.insert_blank("lost");
    station.done(&Request::Open).await;
    station.done(&recharge("2")).await;
    station.rig.meter(&["swipe"]);
    let mut clerk = station.clerk.get().await.unwrap();
    let customer_id = station.customer.customer_id;
    assert_eq!(
        card_ops::report_lost(&mut clerk, customer_id)
            .await
            .unwrap(),
        Err(Refusal::NotPermitted)
    );
    drop(clerk);
    let mut supervisor = station.supervisor.get().await.unwrap();
    let lost_no = card_ops::report_lost(&mut supervisor, customer_id)
        .await
        .unwrap()
        .expect("reported lost");
    assert_eq!(
        card_ops::report_lost(&mut supervisor, customer_id)
            .await
            .unwrap(),
        Err(Refusal::NoActiveCard)
    );
    drop(supervisor);
    assert_eq!(
        station.refused(&recharge("1")).await,
        Refusal::Recharge(RechargeRefusal::NotTheActiveCard)
    );
    assert_eq!(
        station.discrepancies().await,
        [Discrepancy::VoidCard {
            reason: Some("lost".into())
        }]
    );
    // The meter has not heard of it yet.
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("nothing to load"), "{swiped}");
    station.rig.pull(lost);

    let new = station.rig.insert_blank("new");
    station.done(&replace()).await;
    let CardContent::User(new_card) = Station::content(&station.records().await) else {
        panic!("not a user card");
    };
    let carried = new_card.purchase.expect("the last purchase");
    assert_eq!(
        (carried.sequence, carried.blacklisted_card),
        (1, Some(lost_no))
    );
    let swiped = station.rig.meter(&["swipe"]);
    assert!(swiped.contains("nothing to load"), "{swiped}");
    station.rig.pull(new);

    let lost = station.rig.insert("lost", &[]);
    let before = station.records().await;
    let refused = station.rig.meter_refuses(&["swipe"]);
    assert!(
        refused.contains(&format!("refused the card: blacklisted card {lost_no}")),
        "{refused}"
    );
    assert_eq!(
        station.records().await,
        before,
        "a refused card is not written"
    );
    station.rig.pull(lost);
    let audited: i64 = station
        .customer
        .client
        .query_one(
            "SELECT count(*) FROM audit_log
             WHERE action = 'card.report_lost' AND entity_id = $2
               AND (detail ->> 'customer_id')::bigint = $1",
            &[&customer_id, &i64::from(lost_no)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_card_that_is_not_blank_is_refused_and_a_request_sent_twice_sells_once() {
    let Some(mut station) = Station::start("card-flow-not-blank").await else {
        return;
    };
    // Another customer's card, written by the counter's plan straight to the card.
    let card = station.rig.insert_blank("other");
    let other = plan_open(
        &CardContent::Blank,
        99_000_001,
        10_000_017,
        MeterNumber::new("WM-9999").unwrap(),
        &station.key,
    )
    .unwrap();
    station
        .rig
        .reader
        .write_plan(&other.plan, &station.pin)
        .recv()
        .await
        .unwrap();
    let before = station.records().await;
    assert_eq!(
        station.refused(&Request::Open).await,
        Refusal::NotBlank(NotBlank::UserCard)
    );
    assert_eq!(station.records().await, before, "nothing written");
    station.rig.pull(card);

    let card = station.rig.insert_blank("card");
    station.done(&Request::Open).await;
    // The customer's own card presented for a replacement: refused.
    let before = station.records().await;
    assert_eq!(
        station.refused(&replace()).await,
        Refusal::NotBlank(NotBlank::UserCard)
    );
    assert_eq!(station.records().await, before);

    // A recharge sent twice at once (two keys): one sale; the other finds it on the card.
    let desk = station.desk(CLERK);
    let (customer, request) = (station.customer.customer_id, recharge("1"));
    let (first, second) = tokio::join!(
        cardflow::run(&desk, customer, &request, "twice-1"),
        cardflow::run(&desk, customer, &request, "twice-2"),
    );
    let mut outcomes = [first.unwrap(), second.unwrap()].map(|flow| match flow {
        Flow::Done { .. } => "done".to_owned(),
        Flow::Refused { refusal, .. } => refusal.to_string(),
        other => format!("{other:?}"),
    });
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            "done".to_owned(),
            RechargeRefusal::SwipeMeterFirst.to_string()
        ]
    );
    station.rig.pull(card);
    let books = station.books().await;
    assert_eq!((books.pending, books.litres_sold), (0, 1_000));
    let cards: i64 = station
        .customer
        .client
        .query_one("SELECT count(*) FROM card", &[])
        .await
        .unwrap()
        .get("count");
    assert_eq!(cards, 1, "nothing of the refused attempts stays");
}

/// One operation with one fault, resolved by touching the card again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The card is pulled after the journal, before the first write.
    PullBeforeWrite,
    /// The database is unreachable when the result comes to be settled; the card is pulled
    /// after the write and presented again later.
    DatabaseGoneAtSettle,
    /// The database is unreachable at begin: nothing is journaled or written.
    DatabaseGoneAtBegin,
}

impl Station {
    /// `request` with `fault` on the card named `card` (in the reader); returns the card
    /// process, back in the reader, and whether the operation ended done.
    async fn with_fault(
        &mut self,
        card: &str,
        process: VirtualCardProcess,
        request: &Request,
        fault: Fault,
    ) -> (VirtualCardProcess, bool) {
        let before = self.records().await;
        match fault {
            Fault::DatabaseGoneAtBegin => {
                let key = self.next_key();
                let outcome = self.run_on(&self.dead_pool.clone(), request, &key).await;
                assert!(
                    matches!(outcome, Err(FlowError::Database(ref error)) if error.is_connection_lost()),
                    "{outcome:?}"
                );
                assert_eq!(self.records().await, before, "nothing written");
                assert!(self.touch().await.is_empty(), "nothing journaled");
                (process, false)
            }
            Fault::PullBeforeWrite => {
                let begun = self.begin(request).await.expect("begun");
                self.rig.pull(process);
                let flow = cardflow::write_and_settle(&self.desk(CLERK), begun, None).await;
                assert!(
                    matches!(
                        flow,
                        Flow::Pending {
                            cause: PendingCause::Card(_),
                            ..
                        }
                    ),
                    "{flow:?}"
                );
                let process = self.rig.insert(card, &[]);
                assert_eq!(self.records().await, before, "nothing written");
                assert_eq!(self.touch().await, [OperationState::Failed]);
                (process, false)
            }
            Fault::DatabaseGoneAtSettle => {
                let begun = self.begin(request).await.expect("begun");
                let dead = self.desk_on(&self.dead_pool, CLERK);
                let flow = cardflow::write_and_settle(&dead, begun, None).await;
                assert_pending_on_the_database(&flow);
                assert_eq!(self.books().await.pending, 1);
                // The card leaves with the write on it, and comes back later.
                self.rig.pull(process);
                let process = self.rig.insert(card, &[]);
                assert_eq!(self.touch().await, [OperationState::Done]);
                (process, true)
            }
        }
    }
}

/// The PIN tries left that the virtual card keeps in its state file.
fn pin_tries_left(station: &Station, card: &str) -> u8 {
    let state = std::fs::read_to_string(station.rig.state_file(card)).unwrap();
    let line = state
        .lines()
        .find_map(|line| line.strip_prefix("pin-tries-left "))
        .expect("the state file keeps the try counter");
    line.parse().unwrap()
}

/// A desk configured with another PIN than its cards': the first card refuses it and the
/// write fails saying so; from then on every write is refused before anything is journaled
/// or sent, so no other card loses a try. Reading (and resolving) still works.
#[tokio::test]
async fn after_a_card_refuses_the_pin_no_card_is_written_or_asked() {
    let Some(mut station) = Station::start_with_desk_pin("card-flow-wrong-pin", "13579").await
    else {
        return;
    };
    let card = station.rig.insert_blank("first");
    let flow = station.run(&Request::Open).await.unwrap();
    let Flow::Pending {
        cause: PendingCause::Card(error),
        ..
    } = flow
    else {
        panic!("not pending on the card: {flow:?}");
    };
    assert!(
        matches!(error, CardError::WrongPin { tries_left: 2 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("issuer PIN"), "{error}");
    assert_eq!(pin_tries_left(&station, "first"), 2);
    station.rig.pull(card);

    let card = station.rig.insert_blank("second");
    let apdus = station.rig.reader.apdus_sent();
    for request in [Request::Open, Request::Recycle] {
        let refused = station.run(&request).await;
        assert!(
            matches!(refused, Err(FlowError::Stopped(WritesStopped::PinRefused))),
            "{request:?}: {refused:?}"
        );
    }
    assert_eq!(station.rig.reader.apdus_sent(), apdus, "no APDU sent");
    assert_eq!(pin_tries_left(&station, "second"), 3);
    assert_eq!(station.books().await.pending, 1, "only the first journaled");
    station.rig.pull(card);

    // The first card back: read, and its open resolved as failed, since it is still blank.
    let _card = station.rig.insert("first", &[]);
    assert_eq!(station.touch().await, [OperationState::Failed]);
    assert_eq!(station.books().await.pending, 0);
}

/// Puts `card`'s state file back with `tries` PIN tries left (a blank card if it has none yet).
fn set_pin_tries(station: &Station, card: &str, tries: u8) {
    let path = station.rig.state_file(card);
    let mut application =
        WaterApplication::load(&path).unwrap_or_else(|_| WaterApplication::blank());
    application.pin_tries_left = tries;
    application.save(&path).unwrap();
}

/// The customer's card operations of every state: what was journaled.
async fn journaled(station: &Station) -> i64 {
    let client = station.customer.db.pool.get().await.unwrap();
    client
        .query_one(
            "SELECT count(*) FROM card_operation WHERE customer_id = $1",
            &[&station.customer.customer_id],
        )
        .await
        .unwrap()
        .get(0)
}

/// The try counter at 3, 2, 1 with a desk whose PIN is wrong: at 3 and 2 the PIN is presented
/// once, the card keeps 2 and 1, and the desk stops writing; at 1 the PIN is never presented,
/// nothing is journaled, and the desk (which has learnt nothing of its PIN) is not stopped. With
/// the right PIN, a recharge on a card with one try left is refused before its money is
/// journaled, and goes through at two.
#[tokio::test]
async fn the_pin_is_never_presented_to_a_card_with_one_try_left() {
    let Some(mut station) = Station::start("card-flow-pin-tries").await else {
        return;
    };
    for tries in [3, 2, 1] {
        station.access = CardAccess::new(key(), "13579".parse().unwrap());
        let name = format!("tries-{tries}");
        set_pin_tries(&station, &name, tries);
        let card = station.rig.insert(&name, &[]);
        let (apdus, before) = (station.rig.reader.apdus_sent(), journaled(&station).await);
        let flow = station.run(&Request::Open).await;
        if tries == 1 {
            assert!(
                matches!(
                    flow,
                    Err(FlowError::Card(CardError::LastPinTries { tries_left: 1 }))
                ),
                "{flow:?}"
            );
            assert_eq!(
                station.rig.reader.apdus_sent() - apdus,
                5,
                "SELECT, the tries asked, three READ BINARY: no PIN"
            );
            assert_eq!(journaled(&station).await, before, "nothing journaled");
            assert!(station.access.for_writing().is_ok(), "the desk writes on");
        } else {
            let Ok(Flow::Pending {
                cause: PendingCause::Card(CardError::WrongPin { tries_left }),
                ..
            }) = flow
            else {
                panic!("{tries} tries: not pending on the PIN: {flow:?}");
            };
            assert_eq!(tries_left, tries - 1);
            let refused = station.run(&Request::Open).await;
            assert!(
                matches!(refused, Err(FlowError::Stopped(WritesStopped::PinRefused))),
                "{refused:?}"
            );
            assert_eq!(station.touch().await, [OperationState::Failed]);
        }
        let left_after = if tries == 1 { 1 } else { tries - 1 };
        assert_eq!(pin_tries_left(&station, &name), left_after);
        station.rig.pull(card);
    }

    station.access = CardAccess::new(key(), station.pin.clone());
    let card = station.rig.insert_blank("paid");
    station.done(&Request::Open).await;
    station.rig.pull(card);
    set_pin_tries(&station, "paid", 1);
    let card = station.rig.insert("paid", &[]);
    let status = station.rig.meterdesk(&["card", "status"]);
    assert!(status.contains("content: user card "), "{status}");
    assert!(status.contains("issuer PIN: 1 try left"), "{status}");
    let (books, before, records) = (
        station.books().await,
        journaled(&station).await,
        station.records().await,
    );
    let flow = station.run(&recharge("10")).await;
    assert!(
        matches!(
            flow,
            Err(FlowError::Card(CardError::LastPinTries { tries_left: 1 }))
        ),
        "{flow:?}"
    );
    assert_eq!(station.books().await, books, "no money moved");
    assert_eq!(journaled(&station).await, before, "nothing journaled");
    assert_eq!(station.records().await, records);
    assert_eq!(pin_tries_left(&station, "paid"), 1);
    station.rig.pull(card);

    set_pin_tries(&station, "paid", 2);
    let _card = station.rig.insert("paid", &[]);
    station.done(&recharge("10")).await;
    assert_eq!(
        pin_tries_left(&station, "paid"),
        3,
        "the right PIN resets the count"
    );
    assert_eq!(station.books().await.litres_sold, 10_000);
}

#[tokio::test]
async fn every_operation_survives_a_pulled_card_and_an_unreachable_database() {
    let Some(mut station) = Station::start("card-flow-faults").await else {
        return;
    };
    const FAULTS: [Fault; 3] = [
        Fault::DatabaseGoneAtBegin,
        Fault::PullBeforeWrite,
        Fault::DatabaseGoneAtSettle,
    ];
    let mut card = station.rig.insert_blank("first");
    for fault in FAULTS {
        let done;
        (card, done) = station
            .with_fault("first", card, &Request::Open, fault)
            .await;
        assert_eq!(done, fault == Fault::DatabaseGoneAtSettle);
    }
    for (litres, fault) in [3, 4, 5].into_iter().zip(FAULTS) {
        let done;
        (card, done) = station
            .with_fault("first", card, &recharge(&litres.to_string()), fault)
            .await;
        if done {
            assert!(station.swipe().await);
        }
        let books = station.books().await;
        assert_eq!(books.pending, 0, "{fault:?}");
    }
    assert_eq!(station.books().await.litres_sold, 5_000);
    station.done(&recharge("6")).await;
    for fault in FAULTS {
        (card, _) = station.with_fault("first", card, &refund(), fault).await;
    }
    let books = station.books().await;
    assert_eq!((books.litres_sold, books.paid_out), (5_000, dec("6.00")));
    station.rig.pull(card);

    let mut card = station.rig.insert_blank("second");
    for fault in FAULTS {
        (card, _) = station.with_fault("second", card, &replace(), fault).await;
    }
    assert!(station.swipe().await, "the new card at the meter");
    station.rig.pull(card);
    let mut card = station.rig.insert("first", &[]);
    for fault in FAULTS {
        (card, _) = station
            .with_fault("first", card, &Request::Recycle, fault)
            .await;
    }
    assert_eq!(
        Station::content(&station.records().await),
        CardContent::Blank
    );
    station.rig.pull(card);

    // The test cluster stopped between the write and its settlement, then started again.
    let card = station.rig.insert("second", &[]);
    let begun = station.begin(&recharge("7")).await.expect("begun");
    tokio::task::spawn_blocking(|| cluster().stop().unwrap())
        .await
        .unwrap();
    let flow = cardflow::write_and_settle(&station.desk(CLERK), begun, None).await;
    assert_pending_on_the_database(&flow);
    tokio::task::spawn_blocking(|| cluster().ensure_running().unwrap())
        .await
        .unwrap();
    assert_eq!(station.touch().await, [OperationState::Done]);
    assert!(station.swipe().await);
    let books = station.books().await;
    assert_eq!(books.litres_sold, 12_000);
    assert_eq!(
        u64::from(station.meter.credit_litres),
        12_000,
        "every litre sold reached the meter, once"
    );
    station.rig.pull(card);
}

/// A nominal APDU without TCP_QUICKACK (`vcard --no-quick-ack`): the delayed ACK makes each
/// exchange take at least 40 ms, so a write is slow enough to be cut where wanted.
const SLOW_APDU_MS: u64 = 45;

/// When in a card write (SELECT, VERIFY, one UPDATE per record written with the decisive one
/// last, then three READs to read it back) the card is pulled.
#[derive(Debug, Clone, Copy)]
enum PullMoment {
    /// Half-way through the SELECT: nothing can be on the card.
    FirstApdu,
    /// Half-way through the decisive UPDATE: the earlier writes are on the card, the decisive
    /// one may or may not be.
    DecisiveUpdate,
    /// Half-way through the second READ of the read-back.
    ReadBack,
}

impl PullMoment {
    fn after(self, writes: usize) -> Duration {
        let writes = u64::try_from(writes).unwrap();
        let halves = match self {
            PullMoment::FirstApdu => 1,
            PullMoment::DecisiveUpdate => 2 * (1 + writes) + 1,
            PullMoment::ReadBack => 2 * (2 + writes + 1) + 1,
        };
        Duration::from_millis(halves * SLOW_APDU_MS / 2)
    }
}

/// Each operation, the operations that make it possible for a new customer, and whether it is
/// written to a new blank card (a replacement) rather than the card they were done on.
fn operations_to_pull() -> [(Request, Vec<Request>, bool); 5] {
    [
        (Request::Open, vec![], false),
        (recharge("2"), vec![Request::Open], false),
        (refund(), vec![Request::Open, recharge("2")], false),
        (replace(), vec![Request::Open], true),
        (Request::Recycle, vec![Request::Open], false),
    ]
}

impl Station {
    /// A new card-meter customer on a new meter, who becomes the station's customer.
    async fn new_customer(&mut self) {
        let meter_no = format!("WM-9{:04}", self.keys);
        let meter_id: i64 = self
            .customer
            .client
            .query_one(
                "INSERT INTO meter (meter_no, meter_type_id) VALUES ($1, 1) RETURNING id",
                &[&meter_no],
            )
            .await
            .unwrap()
            .get("id");
        let key = format!("open-{meter_no}");
        let (customer_id, customer_no) =
            open_customer(&mut self.customer.client, 1, meter_id, &key).await;
        self.customer.customer_id = customer_id;
        self.customer.customer_no = customer_no;
    }

    /// `request` for a new customer, after `before` (done), with its card pulled at `moment` of
    /// the write; the card is put back and resolves the operation. Checks that the operation
    /// ended done exactly when its decisive record is on the card, that the database's active
    /// card is the card's, that the litres sold are the card's valid purchase, and the books.
    /// Returns the state the operation ended in.
    async fn pull_during_write(
        &mut self,
        request: &Request,
        before: &[Request],
        new_blank: bool,
        moment: PullMoment,
    ) -> OperationState {
        self.new_customer().await;
        let name = format!("{}-{moment:?}", request.kind().as_str());
        let mut card = self.rig.insert(&name, &["--blank", "--no-quick-ack"]);
        for earlier in before {
            self.done(earlier).await;
        }
        let name = if new_blank {
            self.rig.pull(card);
            let name = format!("{name}-new");
            card = self.rig.insert(&name, &["--blank", "--no-quick-ack"]);
            name
        } else {
            name
        };
        let begun = self.begin(request).await.expect("begun");
        let (kind, decisive) = (begun.kind, begun.plan.decisive.clone());
        let after = moment.after(begun.plan.writes().count());
        let puller = tokio::task::spawn_blocking(move || {
            std::thread::sleep(after);
            card.pull();
        });
        let flow = cardflow::write_and_settle(&self.desk(operator_for(request)), begun, None).await;
        puller.await.unwrap();
        wait_for(&self.rig.events, &no_card(READER_0), Duration::from_secs(2));
        let card = self.rig.insert(&name, &[]);
        let records = self.records().await;
        let expected = if records[decisive.ef.index()] == decisive.after {
            OperationState::Done
        } else {
            OperationState::Failed
        };
        let settled = match flow {
            Flow::Done { .. } => vec![OperationState::Done],
            Flow::Failed { .. } => vec![OperationState::Failed],
            Flow::Pending { .. } => self.touch().await,
            other => panic!("{other:?}"),
        };
        let context = format!("{kind:?} pulled at {moment:?} ({after:?})");
        assert_eq!(settled, [expected], "{context}");

        let client = self.customer.db.pool.get().await.unwrap();
        let journal = client
            .query_one(
                "SELECT count(*) FILTER (WHERE kind = $2) AS operations,
                        count(*) FILTER (WHERE kind = $2 AND state = $3) AS settled,
                        (SELECT card_no FROM card WHERE customer_id = $1 AND state = 'active')
                            AS active_card
                 FROM card_operation WHERE customer_id = $1",
                &[
                    &self.customer.customer_id,
                    &kind.as_str(),
                    &format!("{expected:?}").to_lowercase(),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            (
                journal.get::<_, i64>("operations"),
                journal.get::<_, i64>("settled")
            ),
            (1, 1),
            "{context}: one operation, {expected:?}"
        );
        let (on_card, valid_litres) = match Station::content(&records) {
            CardContent::User(user) => (
                Some(i64::from(user.issue.card_number)),
                user.purchase
                    .filter(|purchase| purchase.status == PurchaseStatus::Valid)
                    .map_or(0, |purchase| i64::from(purchase.volume_litres)),
            ),
            _ => (None, 0),
        };
        assert_eq!(
            journal.get::<_, Option<i64>>("active_card"),
            on_card,
            "{context}: the active card is the card's"
        );
        let books = self.books().await;
        assert_eq!(
            (books.pending, books.litres_sold),
            (0, valid_litres),
            "{context}: sold what the card holds, once"
        );
        self.rig.pull(card);
        expected
    }
}

#[tokio::test]
async fn a_card_pulled_during_any_write_resolves_to_what_it_holds() {
    let Some(mut station) = Station::start("card-flow-during").await else {
        return;
    };
    let mut outcomes = Vec::new();
    for (request, before, new_blank) in operations_to_pull() {
        let mut states = Vec::new();
        for moment in [
            PullMoment::FirstApdu,
            PullMoment::DecisiveUpdate,
            PullMoment::ReadBack,
        ] {
            let state = station
                .pull_during_write(&request, &before, new_blank, moment)
                .await;
            states.push(format!("{moment:?} {state:?}"));
        }
        // Before the first UPDATE could be sent, nothing is on the card.
        assert!(states[0].ends_with("Failed"), "{request:?}: {states:?}");
        outcomes.push(format!(
            "{}: {}",
            request.kind().as_str(),
            states.join(", ")
        ));
    }
    eprintln!("pulled during the write: {}", outcomes.join("; "));
}

#[tokio::test]
async fn a_randomized_run_with_faults_ends_with_meter_card_and_ledger_agreeing() {
    let Some(mut station) = Station::start("card-flow-random").await else {
        return;
    };
    // The seed repeats the choices; where a pulled card lands in a flow also depends on timing.
    let seed = std::env::var("CARD_FLOW_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| u64::from(unix_now()));
    eprintln!("randomized card run: seed {seed} (CARD_FLOW_SEED={seed} repeats it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut run = RandomRun {
        active: None,
        in_reader: "card-0".into(),
        process: Some(station.rig.insert_blank("card-0")),
        void: Vec::new(),
        blanks: 0,
        tally: Tally::default(),
        figures: BTreeMap::new(),
    };
    for step in 0..120 {
        let request = run.choose(&mut rng);
        run.prepare(&station, &request);
        let fault = random_fault(&mut rng);
        let flow = run.step(&mut station, &request, fault).await;
        run.after(&mut station, &request, flow).await;
        if rng.bool() && run.active.as_deref() == Some(run.in_reader.as_str()) {
            run.tally.swipes += u32::from(station.swipe().await);
        }
        if rng.u8(..10) == 0 {
            station.used_litres += u64::from(station.meter.use_water(rng.u32(100..3_000)));
        }
        let books = station.books().await;
        assert_eq!(books.pending, 0, "step {step}: {request:?} with {fault:?}");
    }
    // The end: the active card at the meter loads whatever was sold and not yet loaded.
    if run.active.is_none() {
        // Open when no card was ever issued, else Replace: `choose` knows which.
        let issue = run.choose(&mut rng);
        run.prepare(&station, &issue);
        let flow = station.run(&issue).await;
        run.after(&mut station, &issue, Some(flow)).await;
    }
    assert!(run.active.is_some(), "an active card (seed {seed})");
    // The run may have ended with another card in the reader (a void one being recycled).
    run.prepare(&station, &recharge("1"));
    assert!(station.swipe().await);
    let books = station.books().await;
    assert_eq!(
        u64::from(station.meter.credit_litres) + station.used_litres,
        u64::try_from(books.litres_sold).unwrap(),
        "the meter got every litre sold, once (seed {seed})"
    );
    eprintln!(
        "randomized card run (seed {seed}): {:?}; {books:?}",
        run.tally
    );
    eprintln!("through cardflow, no fault: {}", run.figures());
}

#[derive(Debug, Default)]
struct Tally {
    done: u32,
    failed: u32,
    refused: u32,
    pending_then_resolved: u32,
    abandoned: u32,
    not_started: u32,
    swipes: u32,
}

/// The physical cards of the randomized run.
struct RandomRun {
    /// The name of the customer's active card, if any.
    active: Option<String>,
    /// The name of the card in the reader, and its process (taken while a fault pulls it).
    in_reader: String,
    process: Option<VirtualCardProcess>,
    /// Cards voided by replacement, not yet recycled.
    void: Vec<String>,
    blanks: u32,
    tally: Tally,
    /// What each kind of operation cost when nothing went wrong.
    figures: BTreeMap<&'static str, Vec<Cost>>,
}

impl RandomRun {
    /// Median and slowest per kind of operation.
    fn figures(&mut self) -> String {
        let mut lines = Vec::new();
        for (kind, costs) in &mut self.figures {
            costs.sort_by_key(|cost| cost.elapsed);
            let median = &costs[costs.len() / 2];
            let slowest = &costs[costs.len() - 1];
            lines.push(format!(
                "{kind} ×{}: median {median}, slowest {slowest}",
                costs.len()
            ));
        }
        lines.join("; ")
    }
}

fn random_fault(rng: &mut fastrand::Rng) -> Option<RandomFault> {
    match rng.u8(..20) {
        0..=1 => Some(RandomFault::Pull(Duration::from_micros(rng.u64(0..25_000)))),
        2 => Some(RandomFault::DatabaseGoneAtSettle),
        3 => Some(RandomFault::DatabaseGoneAtBegin),
        4 => Some(RandomFault::BackendsTerminated),
        5 => Some(RandomFault::Abandoned(Duration::from_micros(
            rng.u64(0..20_000),
        ))),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
enum RandomFault {
    /// The card process killed this long after the flow starts: during the read, the begin,
    /// the write or the settlement, or after.
    Pull(Duration),
    DatabaseGoneAtSettle,
    DatabaseGoneAtBegin,
    /// Every connection of the test database killed between begin and write.
    BackendsTerminated,
    Abandoned(Duration),
}

impl RandomRun {
    fn choose(&self, rng: &mut fastrand::Rng) -> Request {
        if self.active.is_none() {
            return if self.blanks == 0 && self.void.is_empty() {
                Request::Open
            } else {
                replace()
            };
        }
        match rng.u8(..100) {
            0..=69 => Request::Recharge {
                quantity: if rng.bool() {
                    Quantity::Volume(Decimal::new(rng.i64(1..20_000), 3))
                } else {
                    Quantity::Amount(Decimal::new(rng.i64(100..4_000), 2))
                },
                payment: if rng.u8(..5) == 0 {
                    Payment::Balance
                } else {
                    Payment::Method("cash".into())
                },
            },
            70..=89 => refund(),
            90..=94 if !self.void.is_empty() => Request::Recycle,
            90..=94 => recharge("1"),
            _ => replace(),
        }
    }

    /// Puts the card the request needs into the reader.
    fn prepare(&mut self, station: &Station, request: &Request) {
        let wanted = match request {
            Request::Open | Request::Replace { .. } => {
                if self.active.as_deref() != Some(self.in_reader.as_str())
                    && !self.void.contains(&self.in_reader)
                {
                    return; // the card in the reader is blank (or a failed issue): use it
                }
                self.blanks += 1;
                let name = format!("card-{}", self.blanks);
                self.swap(station, &name, &["--blank"]);
                return;
            }
            Request::Recycle => self.void[0].clone(),
            _ => self.active.clone().expect("an active card"),
        };
        if self.in_reader != wanted {
            self.swap(station, &wanted, &[]);
        }
    }

    fn swap(&mut self, station: &Station, name: &str, extra: &[&str]) {
        if let Some(process) = self.process.take() {
            station.rig.pull(process);
        }
        self.in_reader = name.to_owned();
        self.process = Some(station.rig.insert(name, extra));
    }

    async fn step(
        &mut self,
        station: &mut Station,
        request: &Request,
        fault: Option<RandomFault>,
    ) -> Option<Result<Flow, FlowError>> {
        Some(match fault {
            None => {
                let (apdus, started) = (station.rig.reader.apdus_sent(), Instant::now());
                let flow = station.run(request).await;
                if let Ok(Flow::Done { begun, .. }) = &flow {
                    let cost = cost(station, apdus, started);
                    self.figures
                        .entry(begun.kind.as_str())
                        .or_default()
                        .push(cost);
                }
                flow
            }
            Some(RandomFault::DatabaseGoneAtBegin) => {
                let key = station.next_key();
                let before = station.records().await;
                let flow = station
                    .run_on(&station.dead_pool.clone(), request, &key)
                    .await;
                assert!(matches!(flow, Err(FlowError::Database(_))), "{flow:?}");
                assert_eq!(station.records().await, before);
                flow
            }
            Some(RandomFault::DatabaseGoneAtSettle | RandomFault::BackendsTerminated) => {
                let Some(begun) = station.begin(request).await else {
                    return Some(station.run(request).await);
                };
                let pool = match fault {
                    Some(RandomFault::DatabaseGoneAtSettle) => station.dead_pool.clone(),
                    _ => {
                        terminate_backends(station).await;
                        station.live_for(operator_for(request)).clone()
                    }
                };
                Ok(cardflow::write_and_settle(
                    &station.desk_on(&pool, operator_for(request)),
                    begun,
                    None,
                )
                .await)
            }
            Some(RandomFault::Pull(after)) => {
                let process = self.process.take().expect("a card in the reader");
                let puller = tokio::task::spawn_blocking(move || {
                    std::thread::sleep(after);
                    process.pull();
                });
                let flow = station.run(request).await;
                puller.await.unwrap();
                wait_for(
                    &station.rig.events,
                    &no_card(READER_0),
                    Duration::from_secs(2),
                );
                self.process = Some(station.rig.insert(&self.in_reader, &[]));
                flow
            }
            // The request's task is dropped this long after it started (the app quit, the
            // clerk cancelled): whatever it had done stays, and what was journaled is resolved.
            Some(RandomFault::Abandoned(after)) => {
                return tokio::time::timeout(after, station.run(request)).await.ok();
            }
        })
    }

    /// Resolves what the step left pending from the card in the reader, and follows which
    /// card is now the customer's.
    async fn after(
        &mut self,
        station: &mut Station,
        request: &Request,
        flow: Option<Result<Flow, FlowError>>,
    ) {
        match &flow {
            Some(Ok(Flow::Done { .. })) => self.tally.done += 1,
            Some(Ok(Flow::Failed { .. })) => self.tally.failed += 1,
            Some(Ok(Flow::Refused { .. })) => self.tally.refused += 1,
            Some(Ok(Flow::Pending { .. })) => self.tally.pending_then_resolved += 1,
            Some(Ok(Flow::Finished(_)) | Err(_)) => self.tally.not_started += 1,
            None => self.tally.abandoned += 1,
        }
        let settled = station.touch().await;
        assert!(
            !settled.contains(&OperationState::Pending),
            "{request:?}: {flow:?} left pending"
        );
        // Which card is active now: the database says, the card in the reader tells its name.
        let active_no: Option<i64> = station
            .customer
            .db
            .pool
            .get()
            .await
            .unwrap()
            .query_opt(
                "SELECT card_no FROM card WHERE customer_id = $1 AND state = 'active'",
                &[&station.customer.customer_id],
            )
            .await
            .unwrap()
            .map(|row| row.get("card_no"));
        let in_reader = match Station::content(&station.records().await) {
            CardContent::User(card) => Some(i64::from(card.issue.card_number)),
            _ => None,
        };
        let name = self.in_reader.clone();
        match request {
            // A blank card in the reader and no active card is a failed issue, not a match.
            Request::Open | Request::Replace { .. }
                if in_reader.is_some() && active_no == in_reader =>
            {
                if let Some(old) = self.active.replace(name) {
                    self.void.push(old);
                }
            }
            Request::Replace { .. } if active_no.is_none() => {
                // The replacement failed: the old card is void all the same.
                if let Some(old) = self.active.take() {
                    self.void.push(old);
                }
            }
            Request::Recycle if in_reader.is_none() => self.void.retain(|card| *card != name),
            _ => {}
        }
    }
}

/// Kills every other connection to the test database, as a server restart or a network cut
/// would; the pool must notice and reconnect.
async fn terminate_backends(station: &Station) {
    station
        .customer
        .client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
}
