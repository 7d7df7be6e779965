//! A reading and a transfer of the same customer, interleaved step by step on a real database
//! (docs/decisions.md, "The reading's locks and cost (s23-a)"). The transfer locks the customer
//! and its account, then updates the customer; on PostgreSQL 15 that update locks the row as
//! strongly as `FOR UPDATE` (a BEFORE trigger and a generated key column, `account_kind`), so it
//! waits for any `FOR KEY SHARE` of the row — the one a reading's foreign key to the customer
//! takes. A reading that took that key share and then waited for the account the transfer held
//! deadlocked with it (seen once in `meterdesk soak`). A reading now takes its account before
//! anything else of the customer's, as the transfer and the payments do.
//!
//! A close and a transfer of one customer at once (s25-c): the close (`customer_close`) locked
//! the account, then the customer; the transfer the customer, then the account, in one
//! statement. Held between its two locks, the close deadlocked with a transfer that had the
//! customer and waited for the account. Every write of a customer now takes its account first,
//! then the customer, then the meter.
//!
//! Each interleaving is forced: a superuser holds a lock the one write's next statement needs
//! (a table's, or a `FOR KEY SHARE` of the customer), the other write runs until it waits (read
//! from pg_locks), then the lock goes.

mod support;

use std::time::Duration;

use meterdesk::db::books;
use meterdesk::db::closing::{self, CloseOutcome};
use meterdesk::db::customer_changes::{self, TransferOutcome};
use meterdesk::db::readings::{self, NewReading, ReadingOutcome, ReadingSource};
use meterdesk::domain::customer_rules::{BasicInfo, PersonalInfo};
use meterdesk::domain::money::{Money, Volume};
use rust_decimal::Decimal;
use support::billing_desk::{Desk, desk};
use support::card_desk::open_customer;
use support::pg::cluster;
use tokio::task::JoinHandle;

/// The clerk's operator id (support::card_desk::OPERATORS).
const CLERK: i64 = 1;

fn new_owner() -> BasicInfo {
    BasicInfo::Personal(PersonalInfo {
        name: "Anna Schmidt".into(),
        id_document_no: None,
        mobile: "13700137000".into(),
        address: "1 River Road".into(),
        household_size: Some(2),
        email: None,
        remark: None,
    })
}

/// 10 m³ on the system-prepaid customer's meter (PM-0002, from 0): 25.00 at 2.50/m³.
fn ten_m3(meter_id: i64) -> NewReading {
    NewReading {
        meter_id,
        read_on: "2025-06-01".parse().unwrap(),
        electronic: Volume::exact(Decimal::TEN).unwrap(),
        mechanical: None,
        source: ReadingSource::Counter,
        rollover: false,
        abnormal_confirmed: true,
    }
}

async fn superuser(desk: &Desk) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(
        &cluster().superuser_connection_string(&desk.db.name),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    client
}

/// Waits until backend `pid` waits for a lock; what it waits for, as pg_locks names it.
async fn waiting(watcher: &tokio_postgres::Client, pid: i32) -> String {
    for _ in 0..200 {
        let row = watcher
            .query_opt(
                "SELECT l.locktype || coalesce(' on ' || l.relation::regclass::text, '')
                 FROM pg_locks l WHERE l.pid = $1 AND NOT l.granted",
                &[&pid],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("backend {pid} never waited for a lock");
}

/// The writes of the same customer, each on a connection of its own: the clerk's, the
/// supervisor's for the close.
#[derive(Debug, Clone, Copy)]
enum Write {
    Reading,
    Transfer,
    Close,
}

/// What a write answered.
#[derive(Debug)]
enum Answer {
    Reading(ReadingOutcome),
    Transfer(TransferOutcome),
    Close(CloseOutcome),
}

impl Answer {
    /// A word for each answer a close and a transfer of one customer may give; any other
    /// answer whole.
    fn said(&self) -> String {
        match self {
            Answer::Close(CloseOutcome::Closed) => "closed".into(),
            Answer::Transfer(TransferOutcome::Transferred { version: 2, .. }) => {
                "transferred".into()
            }
            Answer::Transfer(TransferOutcome::Closed) => "found it closed".into(),
            other => format!("{other:?}"),
        }
    }
}

/// What a superuser holds to stop a write where it waits.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// The table the write's next statement writes, after it locked what it locks, held in
    /// SHARE mode ([`Write::stopped_by`]).
    BeforeItWrites,
    /// The customer's row `FOR KEY SHARE`: a close, which locks it `FOR UPDATE`, waits there
    /// holding the account; a transfer's `FOR NO KEY UPDATE` does not wait for it.
    AtTheCustomer,
}

impl Write {
    /// A table the write's next statement writes, after it locked what it locks: held in
    /// SHARE mode by a superuser, it stops the write there.
    fn stopped_by(self) -> &'static str {
        match self {
            // Its first statement locked the account and the customer; the next one writes
            // the owner history and then updates the customer.
            Write::Transfer => "customer_owner_history",
            // reading_enter locked its account and meter; it then writes the reading.
            Write::Reading => "meter_reading",
            // customer_close locked the account and the customer and wrote both, and the
            // meter; it records the close last.
            Write::Close => "account_closing",
        }
    }

    /// Starts the write of `customer_id` (on `meter_id`); its backend's pid and its answer.
    async fn start(
        self,
        desk: &Desk,
        customer_id: i64,
        meter_id: i64,
    ) -> (i32, JoinHandle<Answer>) {
        let pool = match self {
            Write::Close => &desk.supervisor,
            Write::Reading | Write::Transfer => &desk.clerk,
        };
        let mut client = pool.get().await.unwrap();
        let pid = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        let task = tokio::spawn(async move {
            match self {
                Write::Reading => Answer::Reading(
                    readings::enter_reading(&mut client, "reading-1", &ten_m3(meter_id))
                        .await
                        .expect("the reading is recorded, not rolled back"),
                ),
                Write::Transfer => Answer::Transfer(
                    customer_changes::transfer(
                        &mut client,
                        CLERK,
                        &format!("transfer-{customer_id}"),
                        customer_id,
                        &new_owner(),
                    )
                    .await
                    .expect("the transfer is done, not rolled back"),
                ),
                Write::Close => Answer::Close(
                    closing::close(&*client, &format!("close-{customer_id}"), customer_id)
                        .await
                        .expect("the close is done, not rolled back"),
                ),
            }
        });
        (pid, task)
    }
}

/// `first` runs until `stop` holds it; `second` runs until it waits for `first`; then the stop
/// goes. Their answers, in that order.
async fn interleaved(
    desk: &Desk,
    (customer_id, meter_id): (i64, i64),
    first: Write,
    stop: Stop,
    second: Write,
) -> [Answer; 2] {
    let watcher = superuser(desk).await;
    let blocker = superuser(desk).await;
    let (hold, first_waits_for) = match stop {
        Stop::BeforeItWrites => (
            format!("LOCK TABLE {} IN SHARE MODE", first.stopped_by()),
            format!("relation on {}", first.stopped_by()),
        ),
        Stop::AtTheCustomer => (
            format!("SELECT FROM customer WHERE id = {customer_id} FOR KEY SHARE"),
            "transactionid".to_owned(),
        ),
    };
    blocker
        .batch_execute(&format!("BEGIN; {hold}"))
        .await
        .unwrap();
    let (first_pid, first_task) = first.start(desk, customer_id, meter_id).await;
    assert_eq!(
        waiting(&watcher, first_pid).await,
        first_waits_for,
        "{first:?} holds its locks and waits ({stop:?})"
    );
    let (second_pid, second_task) = second.start(desk, customer_id, meter_id).await;
    assert_eq!(
        waiting(&watcher, second_pid).await,
        "transactionid",
        "{second:?} waits for {first:?}"
    );
    blocker.batch_execute("ROLLBACK").await.unwrap();
    [first_task.await.unwrap(), second_task.await.unwrap()]
}

/// Every rule of `meterdesk check` holds.
async fn books_hold(desk: &Desk) {
    let mut checker = desk.db.pool.get().await.unwrap();
    let checks = books::check(&mut checker).await.unwrap();
    assert!(
        checks.iter().all(|check| check.disagreements.is_empty()),
        "{checks:?}"
    );
}

/// A prepaid customer's desk with 100.00 on the account, and its meter's id.
async fn with_money() -> (Desk, i64) {
    let desk = desk().await;
    let meter_id = desk
        .owner
        .query_one(
            "SELECT c.meter_id,
                    ledger_post(a.id, 'deposit', 100, NULL, NULL, 'cash', NULL, 'deposit-1')
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&desk.prepaid],
        )
        .await
        .unwrap()
        .get("meter_id");
    (desk, meter_id)
}

/// `first` runs until it has taken its locks and is stopped before its next write; `second`
/// runs until it waits for `first`; then `first` goes on. Both are done once: the reading
/// recorded with its one deduction, the transfer made, the balance 100.00 less 25.00, and
/// every rule of `meterdesk check` holding.
async fn first_holds_and_second_waits(first: Write, second: Write) {
    let (desk, meter_id) = with_money().await;
    let written = (desk.prepaid, meter_id);
    for answer in interleaved(&desk, written, first, Stop::BeforeItWrites, second).await {
        match answer {
            Answer::Reading(recorded) => assert!(
                matches!(
                    recorded,
                    ReadingOutcome::Recorded { deducted: Some(money), .. }
                        if money == Money::from_cents(2500)
                ),
                "{recorded:?}"
            ),
            Answer::Transfer(transferred) => assert!(
                matches!(transferred, TransferOutcome::Transferred { version: 2, .. }),
                "{transferred:?}"
            ),
            Answer::Close(closed) => panic!("no close here: {closed:?}"),
        }
    }
    let row = desk
        .owner
        .query_one(
            "SELECT (SELECT count(*) FROM meter_reading WHERE customer_id = c.id) AS readings,
                    (SELECT count(*) FROM ledger_transaction
                     WHERE account_id = a.id AND kind = 'consumption') AS deductions,
                    (SELECT count(*) FROM customer_owner_history WHERE customer_id = c.id)
                        AS transfers,
                    c.name, a.balance
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&desk.prepaid],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>("readings"), 1);
    assert_eq!(row.get::<_, i64>("deductions"), 1);
    assert_eq!(row.get::<_, i64>("transfers"), 1);
    assert_eq!(row.get::<_, &str>("name"), "Anna Schmidt");
    assert_eq!(row.get::<_, Decimal>("balance"), Decimal::new(7500, 2));
    books_hold(&desk).await;
}

/// The soak's deadlock: the transfer holds the customer and its account and is stopped before
/// it updates the customer; the reading runs meanwhile. It waits for the account before it
/// touches the customer, so the transfer's update waits for nobody, and both are done.
#[tokio::test]
async fn a_reading_during_a_transfer_waits_for_the_account_and_both_are_done() {
    first_holds_and_second_waits(Write::Transfer, Write::Reading).await;
}

/// The other order: the reading holds its account and meter and is stopped before it writes;
/// the transfer waits for the account, and goes on when the reading is in.
#[tokio::test]
async fn a_transfer_during_a_reading_waits_for_the_account_and_both_are_done() {
    first_holds_and_second_waits(Write::Reading, Write::Transfer).await;
}

/// A prepaid customer opened on a new meter, with its final reading (0 m³, nothing to
/// deduct), so its account may close: its id and its meter's.
async fn closable(desk: &mut Desk, round: usize) -> (i64, i64) {
    let meter_id: i64 = desk
        .owner
        .query_one(
            "INSERT INTO meter (meter_no, meter_type_id) VALUES ('CT-' || $1::text, 1)
             RETURNING id",
            &[&round.to_string()],
        )
        .await
        .unwrap()
        .get("id");
    let (customer_id, _) =
        open_customer(&mut desk.owner, 2, meter_id, &format!("open-{round}")).await;
    let mut clerk = desk.clerk.get().await.unwrap();
    let last = NewReading {
        electronic: Volume::exact(Decimal::ZERO).unwrap(),
        source: ReadingSource::Final,
        ..ten_m3(meter_id)
    };
    let recorded = readings::enter_reading(&mut clerk, &format!("final-{round}"), &last)
        .await
        .unwrap();
    assert!(
        matches!(recorded, ReadingOutcome::Recorded { .. }),
        "{recorded:?}"
    );
    (customer_id, meter_id)
}

/// The customer's status, its meter's, its name and how often it was transferred.
async fn closed_or_transferred(desk: &Desk, customer_id: i64) -> (String, String, String, i64) {
    let row = desk
        .owner
        .query_one(
            "SELECT c.status, m.status AS meter_status, c.name,
                    (SELECT count(*) FROM customer_owner_history WHERE customer_id = c.id)
                        AS transfers
             FROM customer c JOIN meter m ON m.id = c.meter_id WHERE c.id = $1",
            &[&customer_id],
        )
        .await
        .unwrap();
    (
        row.get("status"),
        row.get("meter_status"),
        row.get("name"),
        row.get("transfers"),
    )
}

/// A close and a transfer of one customer at once, many rounds, in both orders. The close
/// held at the customer, with its account locked, while the transfer came: the transfer took
/// the customer and waited for the account, the close then waited for the customer —
/// deadlocked, PostgreSQL rolled one back. The transfer now waits at the account, holding
/// nothing of the customer's, and finds it closed. Held before it writes, the transfer goes
/// first and the close waits at the account, then closes the transferred customer.
#[tokio::test]
async fn a_close_and_a_transfer_of_one_customer_at_once_take_the_account_first() {
    let mut desk = desk().await;
    // Who goes first and where it is held, who comes, what each answers, and the closed
    // customer's name and transfers.
    let orders = [
        (
            Write::Close,
            Stop::AtTheCustomer,
            Write::Transfer,
            ["closed", "found it closed"],
            "张伟",
            0,
        ),
        (
            Write::Transfer,
            Stop::BeforeItWrites,
            Write::Close,
            ["transferred", "closed"],
            "Anna Schmidt",
            1,
        ),
    ];
    for round in 0..10 {
        let (first, stop, second, said, name, transfers) = orders[round % 2];
        let written = closable(&mut desk, round).await;
        let answers = interleaved(&desk, written, first, stop, second)
            .await
            .map(|answer| answer.said());
        assert_eq!(answers, said, "round {round}");
        assert_eq!(
            closed_or_transferred(&desk, written.0).await,
            ("closed".into(), "removed".into(), name.into(), transfers)
        );
    }
    books_hold(&desk).await;
}
