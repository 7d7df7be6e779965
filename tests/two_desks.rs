//! Two desks on one customer at once (session 35, s35-c): a clerk at each window, or a clerk
//! and a supervisor, writing the same account, bills or meter on a real database. Each race is
//! forced, never slept into: a superuser holds, in SHARE mode, a table the first write's next
//! statement writes, so the first write stops there with everything it has locked; the second
//! write runs until it waits for a lock (read from pg_locks); then the table goes and both end.
//! What each desk was answered and what the books hold are the test.

mod support;

use std::time::Duration;

use deadpool_postgres::Object;
use meterdesk::db::accounts::{self, BillsToPay, MoneyMove, MoveOutcome, MoveRefusal, Movement};
use meterdesk::db::books;
use meterdesk::db::cards;
use meterdesk::db::closing::{self, CloseBlocker, CloseOutcome};
use meterdesk::db::customer_changes::{self, CustomerBasics, TransferOutcome};
use meterdesk::db::readings::{
    self, NewReading, PayOutcome, ReadingOutcome, ReadingRefusal, ReadingSource, VoidOutcome,
};
use meterdesk::db::receipts::{self, ReceiptRecord};
use meterdesk::domain::customer_rules::{BasicInfo, PersonalInfo};
use meterdesk::domain::money::{Money, Volume};
use rust_decimal::Decimal;
use support::billing_desk::{Desk, desk};
use support::pg::cluster;
use tokio::task::JoinHandle;

/// The clerk's operator id (support::card_desk::OPERATORS).
const CLERK: i64 = 1;

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
    for _ in 0..400 {
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

/// A connection of `pool`'s and its backend's pid.
async fn connection(pool: &meterdesk::db::Pool) -> (Object, i32) {
    let client = pool.get().await.unwrap();
    let pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (client, pid)
}

/// A write started on a connection of its own: its backend's pid and its answer.
type Started<T> = (i32, JoinHandle<T>);

/// `first` runs until it waits for `table` (held in SHARE mode by a superuser, so it stops
/// there with what it locked before); `second` runs until it waits for a lock; then the table
/// goes. Their answers, in that order.
async fn interleaved<A, B, FA, FB>(desk: &Desk, table: &str, first: FA, second: FB) -> (A, B)
where
    FA: AsyncFnOnce() -> Started<A>,
    FB: AsyncFnOnce() -> Started<B>,
{
    let watcher = superuser(desk).await;
    let blocker = superuser(desk).await;
    blocker
        .batch_execute(&format!("BEGIN; LOCK TABLE {table} IN SHARE MODE"))
        .await
        .unwrap();
    let (first_pid, first_task) = first().await;
    assert_eq!(
        waiting(&watcher, first_pid).await,
        format!("relation on {table}"),
        "the first desk holds its locks and waits at {table}"
    );
    let (second_pid, second_task) = second().await;
    let waits_for = waiting(&watcher, second_pid).await;
    assert_ne!(
        waits_for,
        format!("relation on {table}"),
        "the second desk waits for the first, not for the table"
    );
    blocker.batch_execute("ROLLBACK").await.unwrap();
    (first_task.await.unwrap(), second_task.await.unwrap())
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

fn volume(text: &str) -> Volume {
    Volume::exact(text.parse().unwrap()).unwrap()
}

fn reading(meter_id: i64, on: &str, value: &str) -> NewReading {
    NewReading {
        meter_id,
        read_on: on.parse().unwrap(),
        electronic: volume(value),
        mechanical: None,
        source: ReadingSource::Counter,
        rollover: false,
        abnormal_confirmed: true,
    }
}

async fn meter_of(desk: &Desk, customer_id: i64) -> i64 {
    desk.owner
        .query_one(
            "SELECT meter_id FROM customer WHERE id = $1",
            &[&customer_id],
        )
        .await
        .unwrap()
        .get("meter_id")
}

async fn balance(desk: &Desk, customer_id: i64) -> Decimal {
    desk.owner
        .query_one(
            "SELECT balance FROM account WHERE customer_id = $1",
            &[&customer_id],
        )
        .await
        .unwrap()
        .get("balance")
}

/// Puts `amount` on the customer's account as the owner (a deposit of its own).
async fn deposit_by_owner(desk: &Desk, customer_id: i64, amount: &str, key: &str) {
    desk.owner
        .execute(
            "SELECT ledger_post(a.id, 'deposit', $2::text::numeric, NULL, NULL, 'cash', NULL, $3)
             FROM account a WHERE a.customer_id = $1",
            &[&customer_id, &amount, &key],
        )
        .await
        .unwrap();
}

/// The postpaid customer with one unpaid bill (10 m³ from 100) and its amount on the
/// account: the bill's id and amount.
async fn postpaid_with_a_bill(desk: &Desk) -> (i64, Money) {
    let meter_id = meter_of(desk, desk.postpaid).await;
    let mut clerk = desk.clerk.get().await.unwrap();
    let recorded = readings::enter_reading(
        &mut clerk,
        "bill-1",
        &reading(meter_id, "2025-02-01", "110"),
    )
    .await
    .unwrap();
    let ReadingOutcome::Recorded {
        bill: Some(amount), ..
    } = recorded
    else {
        panic!("{recorded:?}");
    };
    let bill_id: i64 = desk
        .owner
        .query_one(
            "SELECT b.id FROM bill b JOIN account a ON a.id = b.account_id
             WHERE a.customer_id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap()
        .get("id");
    (bill_id, amount)
}

/// How often the bill was paid (its ledger rows) and its status.
async fn bill_state(desk: &Desk, bill_id: i64) -> (i64, String) {
    let row = desk
        .owner
        .query_one(
            "SELECT (SELECT count(*) FROM ledger_transaction
                     WHERE bill_id = b.id AND kind = 'bill_payment') AS payments,
                    b.status
             FROM bill b WHERE b.id = $1",
            &[&bill_id],
        )
        .await
        .unwrap();
    (row.get("payments"), row.get("status"))
}

fn cash(customer_id: i64, movement: Movement, amount: Money) -> MoneyMove {
    MoneyMove {
        customer_id,
        movement,
        amount,
        method: "cash".into(),
        pays: None,
    }
}

fn start_pay(
    pool: &meterdesk::db::Pool,
    key: &'static str,
    bill_id: i64,
    total: Money,
) -> impl AsyncFnOnce() -> Started<PayOutcome> {
    let pool = pool.clone();
    async move || {
        let (client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            readings::pay_bills(&**client, key, &[bill_id], total)
                .await
                .expect("the payment is answered")
        });
        (pid, task)
    }
}

fn start_move(
    pool: &meterdesk::db::Pool,
    key: &'static str,
    change: MoneyMove,
) -> impl AsyncFnOnce() -> Started<MoveOutcome> {
    let pool = pool.clone();
    async move || {
        let (mut client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            accounts::move_money(&mut client, key, &change)
                .await
                .expect("the movement is answered")
                .outcome
        });
        (pid, task)
    }
}

fn start_void(
    pool: &meterdesk::db::Pool,
    bill_id: i64,
) -> impl AsyncFnOnce() -> Started<VoidOutcome> {
    let pool = pool.clone();
    async move || {
        let (client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            readings::void_bill(&**client, bill_id, "read wrongly")
                .await
                .expect("the void is answered")
        });
        (pid, task)
    }
}

fn start_reading(
    pool: &meterdesk::db::Pool,
    key: &'static str,
    after: Option<i64>,
    new: NewReading,
) -> impl AsyncFnOnce() -> Started<ReadingOutcome> {
    let pool = pool.clone();
    async move || {
        let (mut client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            readings::enter_reading_after(&mut client, key, &new, after)
                .await
                .expect("the reading is answered")
        });
        (pid, task)
    }
}

/// A pays the bill from the balance while B takes a deposit that pays the same bill: A's
/// payment holds the account and the bill; B's deposit waits for the account, then its
/// payment of the bill is refused as changed and its deposit goes with it (nothing taken,
/// the clerk told): the bill is paid once, the balance never below zero.
#[tokio::test]
async fn a_bill_paid_from_the_balance_and_by_a_deposit_at_once_is_paid_once() {
    let desk = desk().await;
    let (bill_id, amount) = postpaid_with_a_bill(&desk).await;
    deposit_by_owner(&desk, desk.postpaid, &amount.to_string(), "owner-1").await;
    let paying = MoneyMove {
        pays: Some(BillsToPay {
            bill_ids: vec![bill_id],
            total: amount,
        }),
        ..cash(desk.postpaid, Movement::Deposit, amount)
    };
    let (paid, deposited) = interleaved(
        &desk,
        "bill_payment_applied",
        start_pay(&desk.clerk, "pay-a", bill_id, amount),
        start_move(&desk.clerk, "deposit-b", paying),
    )
    .await;
    assert!(matches!(paid, PayOutcome::Paid { .. }), "{paid:?}");
    assert_eq!(deposited, MoveOutcome::Refused(MoveRefusal::BillsChanged));
    assert_eq!(bill_state(&desk, bill_id).await, (1, "paid".into()));
    assert_eq!(balance(&desk, desk.postpaid).await, Decimal::ZERO);
    books_hold(&desk).await;
}

/// The other order: B's deposit paying the bill holds the account; A's payment from the
/// balance waits, then hears the bill changed. One payment; B's deposit is on the account.
#[tokio::test]
async fn a_bill_paid_by_a_deposit_and_from_the_balance_at_once_is_paid_once() {
    let desk = desk().await;
    let (bill_id, amount) = postpaid_with_a_bill(&desk).await;
    deposit_by_owner(&desk, desk.postpaid, &amount.to_string(), "owner-1").await;
    let paying = MoneyMove {
        pays: Some(BillsToPay {
            bill_ids: vec![bill_id],
            total: amount,
        }),
        ..cash(desk.postpaid, Movement::Deposit, amount)
    };
    let (deposited, paid) = interleaved(
        &desk,
        "bill_payment_applied",
        start_move(&desk.clerk, "deposit-b", paying),
        start_pay(&desk.clerk, "pay-a", bill_id, amount),
    )
    .await;
    assert!(
        matches!(deposited, MoveOutcome::Moved { .. }),
        "{deposited:?}"
    );
    assert_eq!(paid, PayOutcome::Changed);
    assert_eq!(bill_state(&desk, bill_id).await, (1, "paid".into()));
    assert_eq!(balance(&desk, desk.postpaid).await, amount.to_decimal());
    books_hold(&desk).await;
}

/// A supervisor voids the bill a clerk is paying: the void waits for the bill, then hears it
/// paid and leaves it; voided first, the payment hears the bill changed and takes nothing.
#[tokio::test]
async fn a_bill_voided_while_it_is_paid_is_either_paid_or_void_never_both() {
    let desk = desk().await;
    let (bill_id, amount) = postpaid_with_a_bill(&desk).await;
    deposit_by_owner(&desk, desk.postpaid, &amount.to_string(), "owner-1").await;
    let (paid, voided) = interleaved(
        &desk,
        "bill_payment_applied",
        start_pay(&desk.clerk, "pay-a", bill_id, amount),
        start_void(&desk.supervisor, bill_id),
    )
    .await;
    assert!(matches!(paid, PayOutcome::Paid { .. }), "{paid:?}");
    assert_eq!(voided, VoidOutcome::Paid);
    assert_eq!(bill_state(&desk, bill_id).await, (1, "paid".into()));

    // Voided first (held before its audit entry, the bill locked), paid second.
    let desk = desk_with_bill_paid_second().await;
    books_hold(&desk).await;
}

async fn desk_with_bill_paid_second() -> Desk {
    let desk = desk().await;
    let (bill_id, amount) = postpaid_with_a_bill(&desk).await;
    deposit_by_owner(&desk, desk.postpaid, &amount.to_string(), "owner-1").await;
    let (voided, paid) = interleaved(
        &desk,
        "audit_log",
        start_void(&desk.supervisor, bill_id),
        start_pay(&desk.clerk, "pay-a", bill_id, amount),
    )
    .await;
    assert_eq!(voided, VoidOutcome::Voided);
    assert_eq!(paid, PayOutcome::Changed);
    assert_eq!(bill_state(&desk, bill_id).await, (0, "void".into()));
    assert_eq!(balance(&desk, desk.postpaid).await, amount.to_decimal());
    desk
}

/// Two supervisors refund the same balance at once: the first refunds it, the second waits
/// for the account and is refused above the balance; nothing paid out twice.
#[tokio::test]
async fn the_same_balance_refunded_at_two_desks_is_paid_out_once() {
    let desk = desk().await;
    deposit_by_owner(&desk, desk.prepaid, "100.00", "owner-1").await;
    let all = Money::from_cents(10000);
    let (first, second) = interleaved(
        &desk,
        "receipt",
        start_move(
            &desk.supervisor,
            "refund-a",
            cash(desk.prepaid, Movement::Refund, all),
        ),
        start_move(
            &desk.supervisor,
            "refund-b",
            cash(desk.prepaid, Movement::Refund, all),
        ),
    )
    .await;
    assert!(matches!(first, MoveOutcome::Moved { .. }), "{first:?}");
    assert_eq!(second, MoveOutcome::Refused(MoveRefusal::AboveBalance));
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::ZERO);
    books_hold(&desk).await;
}

/// A deposit taken while the balance is refunded: both land, in turn; the refund took what
/// its clerk typed, the deposit stays.
#[tokio::test]
async fn a_deposit_while_the_balance_is_refunded_is_kept() {
    let desk = desk().await;
    deposit_by_owner(&desk, desk.prepaid, "100.00", "owner-1").await;
    let (refunded, deposited) = interleaved(
        &desk,
        "receipt",
        start_move(
            &desk.supervisor,
            "refund-a",
            cash(desk.prepaid, Movement::Refund, Money::from_cents(10000)),
        ),
        start_move(
            &desk.clerk,
            "deposit-b",
            cash(desk.prepaid, Movement::Deposit, Money::from_cents(5000)),
        ),
    )
    .await;
    assert!(
        matches!(refunded, MoveOutcome::Moved { .. }),
        "{refunded:?}"
    );
    assert!(
        matches!(deposited, MoveOutcome::Moved { .. }),
        "{deposited:?}"
    );
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::new(5000, 2));
    books_hold(&desk).await;
}

fn start_close(
    pool: &meterdesk::db::Pool,
    customer_id: i64,
) -> impl AsyncFnOnce() -> Started<CloseOutcome> {
    let pool = pool.clone();
    async move || {
        let (client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            closing::close(&**client, "close-1", customer_id)
                .await
                .expect("the close is answered")
        });
        (pid, task)
    }
}

/// The system-prepaid customer with its final reading (0 m³, nothing deducted) and nothing on
/// the account: closable.
async fn closable(desk: &Desk) {
    let meter_id = meter_of(desk, desk.prepaid).await;
    let mut clerk = desk.clerk.get().await.unwrap();
    let last = NewReading {
        source: ReadingSource::Final,
        ..reading(meter_id, "2025-06-01", "0")
    };
    let recorded = readings::enter_reading(&mut clerk, "final-1", &last)
        .await
        .unwrap();
    assert!(
        matches!(recorded, ReadingOutcome::Recorded { .. }),
        "{recorded:?}"
    );
}

/// A clerk takes a deposit while a supervisor closes the account: the close holds the account,
/// the deposit waits for it and is refused as closed (no money on a closed account, nothing
/// taken); taken first, the deposit holds the account and the close then finds money left on
/// it and closes nothing.
#[tokio::test]
async fn a_deposit_and_a_close_of_one_account_at_once_never_leave_money_on_a_closed_one() {
    let desk = desk().await;
    closable(&desk).await;
    let deposit = cash(desk.prepaid, Movement::Deposit, Money::from_cents(5000));
    let (closed, deposited) = interleaved(
        &desk,
        "account_closing",
        start_close(&desk.supervisor, desk.prepaid),
        start_move(&desk.clerk, "deposit-a", deposit.clone()),
    )
    .await;
    assert_eq!(closed, CloseOutcome::Closed);
    assert_eq!(deposited, MoveOutcome::Refused(MoveRefusal::Closed));
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::ZERO);
    books_hold(&desk).await;

    let desk = desk_after_a_deposit_then_a_close().await;
    books_hold(&desk).await;
}

async fn desk_after_a_deposit_then_a_close() -> Desk {
    let desk = desk().await;
    closable(&desk).await;
    let deposit = cash(desk.prepaid, Movement::Deposit, Money::from_cents(5000));
    let (deposited, closed) = interleaved(
        &desk,
        "receipt",
        start_move(&desk.clerk, "deposit-a", deposit),
        start_close(&desk.supervisor, desk.prepaid),
    )
    .await;
    assert!(
        matches!(deposited, MoveOutcome::Moved { .. }),
        "{deposited:?}"
    );
    assert_eq!(closed, CloseOutcome::Refused(CloseBlocker::BalanceLeft));
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::new(5000, 2));
    desk
}

/// A clerk takes a deposit while another transfers the customer: the transfer holds the
/// account; the deposit waits, then lands on the account it was taken for, whose balance stays
/// with the property (domain: the balance is the account's). Its ledger row comes after the
/// transfer, so its receipt names the holder then — the new one — and so does every reprint,
/// even after the customer is transferred again (before V109 a reprint named whoever owned the
/// customer when it was printed).
#[tokio::test]
async fn a_deposit_during_a_transfer_lands_on_the_account_after_it() {
    let desk = desk().await;
    let read = {
        let clerk = desk.clerk.get().await.unwrap();
        customer_changes::customer_basics(&**clerk, desk.prepaid)
            .await
            .unwrap()
            .unwrap()
    };
    let (transferred, deposited) = interleaved(
        &desk,
        "customer_owner_history",
        start_transfer(&desk.clerk, "transfer-a", read, "Anna Schmidt"),
        start_receipted_move(
            &desk.clerk,
            "deposit-b",
            cash(desk.prepaid, Movement::Deposit, Money::from_cents(5000)),
        ),
    )
    .await;
    assert!(
        matches!(transferred, TransferOutcome::Transferred { .. }),
        "{transferred:?}"
    );
    let receipt = deposited.expect("the deposit moved and answered its receipt");
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::new(5000, 2));
    assert_eq!(receipt.name, "Anna Schmidt", "{receipt:?}");
    transfer_again(&desk, "Li Na").await;
    let copy = reprint(&desk, receipt.receipt_no).await;
    assert_eq!(
        (copy.name.as_str(), copy.reprints),
        ("Anna Schmidt", 1),
        "the reprint names the holder the money was paid under: {copy:?}"
    );
    books_hold(&desk).await;
}

/// A clerk takes a deposit from the owner's family member while another desk transfers the
/// customer: the deposit holds the account (stopped at its receipt), the transfer waits for
/// it. The money moved under the old owner — the ledger row comes before the transfer — and
/// the receipt printed then names 张伟; read again (a reprint) after the transfer, and after a
/// second one, it still names 张伟 (before V109: "Anna Schmidt", then "Li Na", the owner at
/// the time of the reprint, whom the paper and the account screen never named).
#[tokio::test]
async fn a_receipt_written_before_a_transfer_names_the_owner_it_was_paid_for_on_every_copy() {
    let desk = desk().await;
    let read = {
        let clerk = desk.clerk.get().await.unwrap();
        customer_changes::customer_basics(&**clerk, desk.prepaid)
            .await
            .unwrap()
            .unwrap()
    };
    let (before, _) = owners(&desk, desk.prepaid).await;
    assert!(before.is_empty(), "{before:?}");
    let holder = owners(&desk, desk.prepaid).await.1;
    let (deposited, transferred) = interleaved(
        &desk,
        "receipt",
        start_receipted_move(
            &desk.clerk,
            "deposit-a",
            cash(desk.prepaid, Movement::Deposit, Money::from_cents(5000)),
        ),
        start_transfer(&desk.clerk, "transfer-b", read, "Anna Schmidt"),
    )
    .await;
    assert!(
        matches!(transferred, TransferOutcome::Transferred { .. }),
        "{transferred:?}"
    );
    let printed = deposited.expect("the deposit moved and answered its receipt");
    assert_eq!(printed.name, holder, "{printed:?}");
    assert_eq!(
        owners(&desk, desk.prepaid).await,
        (vec![holder.clone()], "Anna Schmidt".into())
    );
    let read_again = {
        let clerk = desk.clerk.get().await.unwrap();
        receipts::receipt(&**clerk, printed.receipt_no)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        read_again, *printed,
        "read again, the receipt is the one printed"
    );
    let copy = reprint(&desk, printed.receipt_no).await;
    assert_eq!(copy.name, holder, "{copy:?}");
    transfer_again(&desk, "Li Na").await;
    let copy = reprint(&desk, printed.receipt_no).await;
    assert_eq!((copy.name, copy.reprints), (holder, 2));
    books_hold(&desk).await;
}

/// A deposit started on a connection of its own, answered with the receipt it printed.
fn start_receipted_move(
    pool: &meterdesk::db::Pool,
    key: &'static str,
    change: MoneyMove,
) -> impl AsyncFnOnce() -> Started<Option<Box<ReceiptRecord>>> {
    let pool = pool.clone();
    async move || {
        let (mut client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            let moved = accounts::move_money(&mut client, key, &change)
                .await
                .expect("the movement is answered");
            assert!(
                matches!(moved.outcome, MoveOutcome::Moved { .. }),
                "{moved:?}"
            );
            moved.receipt
        });
        (pid, task)
    }
}

/// The clerk transfers the prepaid customer once more, from whoever owns it now.
async fn transfer_again(desk: &Desk, to: &str) {
    let mut clerk = desk.clerk.get().await.unwrap();
    let current = customer_changes::customer_basics(&**clerk, desk.prepaid)
        .await
        .unwrap()
        .unwrap();
    let key = format!("transfer-to-{to}");
    let outcome = customer_changes::transfer_from(&mut clerk, CLERK, &key, &current, &owner(to))
        .await
        .unwrap();
    assert!(
        matches!(outcome, TransferOutcome::Transferred { .. }),
        "{outcome:?}"
    );
}

/// The clerk reprints receipt `receipt_no`: the copy as the desk prints it.
async fn reprint(desk: &Desk, receipt_no: i64) -> ReceiptRecord {
    let clerk = desk.clerk.get().await.unwrap();
    receipts::reprint(&**clerk, receipt_no)
        .await
        .unwrap()
        .expect("the receipt is there")
}

/// Two clerks enter a reading of the same meter at once, each after the previous reading
/// their form showed. The second waits for the meter, then is told the same reading is
/// recorded, or another reading came in, with its figure and date, and writes nothing
/// (before: the same register typed twice was
/// recorded twice, the second with no water; a figure between was refused as "below the
/// previous one … set Rollover to Yes", and with Rollover set it was recorded as a register
/// that wrapped: a meter's range of water). Sent again after the reading it was told of, it is
/// recorded with the water since.
#[tokio::test]
async fn two_readings_of_one_meter_at_once_the_second_is_told_of_the_first() {
    let desk = desk().await;
    let meter_id = meter_of(&desk, desk.prepaid).await;
    deposit_by_owner(&desk, desk.prepaid, "100.00", "owner-1").await;
    let (first, second) = interleaved(
        &desk,
        "meter_reading",
        start_reading(
            &desk.clerk,
            "reading-a",
            None,
            reading(meter_id, "2025-06-01", "10"),
        ),
        start_reading(
            &desk.clerk,
            "reading-b",
            None,
            reading(meter_id, "2025-06-01", "10"),
        ),
    )
    .await;
    assert!(
        matches!(first, ReadingOutcome::Recorded { deducted: Some(money), .. }
            if money == Money::from_cents(2500)),
        "{first:?}"
    );
    // The same figure on the same date: the reading the first desk recorded (s36-b; s35-c
    // told it as another desk's reading, whose F2 then recorded it after itself, 0 m³).
    assert_eq!(
        second,
        ReadingOutcome::Refused(ReadingRefusal::AlreadyRecorded {
            electronic: volume("10"),
            on: "2025-06-01".parse().unwrap(),
            by: Some("Clerk One".into()),
        })
    );
    assert_eq!(readings_of(&desk, meter_id).await, 1);
    let latest = latest_reading(&desk, meter_id).await;

    // A figure between the one the second form showed and the first's: told, not a rollover.
    let (first, second) = interleaved(
        &desk,
        "meter_reading",
        start_reading(
            &desk.clerk,
            "reading-c",
            latest,
            reading(meter_id, "2025-06-02", "14"),
        ),
        start_reading(
            &desk.clerk,
            "reading-d",
            latest,
            reading(meter_id, "2025-06-02", "12"),
        ),
    )
    .await;
    assert!(
        matches!(first, ReadingOutcome::Recorded { .. }),
        "{first:?}"
    );
    assert!(
        matches!(second, ReadingOutcome::Refused(ReadingRefusal::PreviousChanged { previous, .. })
            if previous == volume("14")),
        "{second:?}"
    );
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::new(6500, 2));

    // Sent again after the reading it was told of: recorded, with the water since.
    let latest = latest_reading(&desk, meter_id).await;
    let mut clerk = desk.clerk.get().await.unwrap();
    let again = readings::enter_reading_after(
        &mut clerk,
        "reading-e",
        &reading(meter_id, "2025-06-02", "15"),
        latest,
    )
    .await
    .unwrap();
    assert!(
        matches!(again, ReadingOutcome::Recorded { consumption, .. } if consumption == volume("1")),
        "{again:?}"
    );
    assert_eq!(readings_of(&desk, meter_id).await, 3);
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::new(6250, 2));
    books_hold(&desk).await;
}

/// A second reading screen, opened before or after the first desk's reading was saved, with
/// the same figure on the same date typed on it (s35-e's "Found, not fixed"; before: recorded
/// again, 0 m³, and a second deduction line of nothing): told it is recorded already, with who
/// entered it, nothing written; the first's key still answers as the first. Another figure is
/// recorded after it, and the same figure on a later date (a meter that did not move) too.
#[tokio::test]
async fn the_same_reading_typed_at_a_second_desk_after_the_first_was_saved_is_recorded_once() {
    let desk = desk().await;
    let meter_id = meter_of(&desk, desk.prepaid).await;
    deposit_by_owner(&desk, desk.prepaid, "100.00", "owner-1").await;
    let enter = async |key: &str, after: Option<i64>, on: &str, value: &str| {
        let mut clerk = desk.clerk.get().await.unwrap();
        readings::enter_reading_after(&mut clerk, key, &reading(meter_id, on, value), after)
            .await
            .unwrap()
    };
    let first = enter("desk-a", None, "2025-06-01", "10").await;
    assert!(
        matches!(first, ReadingOutcome::Recorded { .. }),
        "{first:?}"
    );
    let latest = latest_reading(&desk, meter_id).await;
    let recorded = ReadingOutcome::Refused(ReadingRefusal::AlreadyRecorded {
        electronic: volume("10"),
        on: "2025-06-01".parse().unwrap(),
        by: Some("Clerk One".into()),
    });
    // Desk B's form read the meter before A's save, then after it.
    assert_eq!(enter("desk-b", None, "2025-06-01", "10").await, recorded);
    assert_eq!(enter("desk-b2", latest, "2025-06-01", "10").await, recorded);
    assert_eq!(enter("desk-a", None, "2025-06-01", "10").await, first);
    assert_eq!(readings_of(&desk, meter_id).await, 1);
    assert_eq!(balance(&desk, desk.prepaid).await, Decimal::new(7500, 2));
    let deductions: i64 = desk
        .owner
        .query_one(
            "SELECT count(*) FROM ledger_transaction WHERE kind = 'consumption'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(deductions, 1);
    // Another figure on that date, then the same on a later date: recorded.
    assert!(matches!(
        enter("desk-b3", latest, "2025-06-01", "11").await,
        ReadingOutcome::Recorded { consumption, .. } if consumption == volume("1")
    ));
    let latest = latest_reading(&desk, meter_id).await;
    assert!(matches!(
        enter("desk-b4", latest, "2025-06-02", "11").await,
        ReadingOutcome::Recorded { consumption, .. } if consumption == volume("0")
    ));
    assert_eq!(readings_of(&desk, meter_id).await, 3);
    books_hold(&desk).await;
}

async fn readings_of(desk: &Desk, meter_id: i64) -> i64 {
    desk.owner
        .query_one(
            "SELECT count(*) FROM meter_reading WHERE meter_id = $1",
            &[&meter_id],
        )
        .await
        .unwrap()
        .get(0)
}

async fn latest_reading(desk: &Desk, meter_id: i64) -> Option<i64> {
    desk.owner
        .query_one("SELECT (SELECT id FROM reading_latest($1))", &[&meter_id])
        .await
        .unwrap()
        .get(0)
}

fn owner(name: &str) -> BasicInfo {
    BasicInfo::Personal(PersonalInfo {
        name: name.into(),
        id_document_no: None,
        mobile: "13700137000".into(),
        address: "1 River Road".into(),
        household_size: Some(2),
        email: None,
        remark: None,
    })
}

fn start_transfer(
    pool: &meterdesk::db::Pool,
    key: &'static str,
    from: CustomerBasics,
    to: &str,
) -> impl AsyncFnOnce() -> Started<TransferOutcome> {
    let pool = pool.clone();
    let to = owner(to);
    async move || {
        let (mut client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            customer_changes::transfer_from(&mut client, CLERK, key, &from, &to)
                .await
                .expect("the transfer is answered")
        });
        (pid, task)
    }
}

/// Who owned the customer before each transfer, oldest first, and who owns it now.
async fn owners(desk: &Desk, customer_id: i64) -> (Vec<String>, String) {
    let history = desk
        .owner
        .query(
            "SELECT previous_owner->>'name' AS name FROM customer_owner_history
             WHERE customer_id = $1 ORDER BY id",
            &[&customer_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("name"))
        .collect();
    let name = desk
        .owner
        .query_one("SELECT name FROM customer WHERE id = $1", &[&customer_id])
        .await
        .unwrap()
        .get("name");
    (history, name)
}

/// Two clerks transfer the same customer at once, each to the new owner at their window, both
/// from 张伟, the owner their screens read. The first transfers; the second waits for the
/// account, then is told the owner changed meanwhile, with who owns it now, and writes nothing
/// (before: it transferred too, handing over Anna Schmidt, whom its clerk never saw, and the
/// first window's new owner was gone from the customer a moment after being given it). Sent
/// again from the owner it was told of, it transfers without anything typed again.
#[tokio::test]
async fn two_transfers_of_one_customer_at_once_hand_over_only_the_owner_read() {
    let desk = desk().await;
    let read = {
        let clerk = desk.clerk.get().await.unwrap();
        customer_changes::customer_basics(&**clerk, desk.prepaid)
            .await
            .unwrap()
            .unwrap()
    };
    let (first, second) = interleaved(
        &desk,
        "customer_owner_history",
        start_transfer(&desk.clerk, "transfer-a", read.clone(), "Anna Schmidt"),
        start_transfer(&desk.clerk, "transfer-b", read, "Li Na"),
    )
    .await;
    assert!(
        matches!(first, TransferOutcome::Transferred { version: 2, .. }),
        "{first:?}"
    );
    let TransferOutcome::Changed { current } = second else {
        panic!("the second desk is told the owner changed: {second:?}");
    };
    assert_eq!(current.version, 2);
    assert_eq!(current.info, owner("Anna Schmidt"));
    assert_eq!(
        owners(&desk, desk.prepaid).await,
        (vec!["张伟".to_owned()], "Anna Schmidt".to_owned())
    );

    // The second clerk confirms again, from the owner they were told of.
    let mut clerk = desk.clerk.get().await.unwrap();
    let again =
        customer_changes::transfer_from(&mut clerk, CLERK, "transfer-c", &current, &owner("Li Na"))
            .await
            .unwrap();
    assert!(
        matches!(again, TransferOutcome::Transferred { version: 3, .. }),
        "{again:?}"
    );
    assert_eq!(
        owners(&desk, desk.prepaid).await,
        (
            vec!["张伟".to_owned(), "Anna Schmidt".to_owned()],
            "Li Na".to_owned()
        )
    );
}

/// sql/V109 run over receipts written before it: each is filled with the holder when it was
/// issued — the previous owner for those before a transfer (`customer_owner_history`), the
/// present one after the last. The migration is run again for real: its column dropped and its
/// row taken out of refinery's history, as the database stood before it (with the later
/// migrations refinery would not skip: V110's functions, V111's new bodies of them, V112's
/// card recharge, whose steps run again unchanged, V113's function, V116's column and new
/// bodies of V109's functions, V119's owner check and the card recharge's new body, V120's
/// new body of the ledger's statement trigger, V121's receipt column, that trigger's body again
/// and its deferred check of a card meter's deposit, V123's new bodies of V113's
/// reading_recorded and V31's customer_basic_info, V124's of V38's md_card_water, V128's
/// reading_enter_book and its new bodies of reading_enter, reading_enter_after, money_move_for,
/// money_move and bill_pay: every
/// migration after V109 is taken out and runs again after it — refinery refuses a history with
/// a version missing below one applied — so each must run again on the schema it made). A
/// fourth receipt, of a deposit that started before a transfer and took the account after it,
/// names the new owner: V109's fill ordered them by their transactions' starts and named the
/// old one ("Li Na"); V116 orders them by their audit entries, written holding the account.
#[tokio::test]
async fn receipts_written_before_v109_name_the_holder_when_they_were_issued() {
    let desk = desk().await;
    let first = deposit(&desk, "deposit-1").await;
    transfer_again(&desk, "Anna Schmidt").await;
    let second = deposit(&desk, "deposit-2").await;
    transfer_again(&desk, "Li Na").await;
    let third = deposit(&desk, "deposit-3").await;
    // A fourth deposit starts, waits for its key's lock (a superuser holds it) while another
    // desk transfers the customer to 王芳, then goes in under 王芳: it started before the
    // transfer and took the account after it.
    let watcher = superuser(&desk).await;
    let blocker = superuser(&desk).await;
    blocker
        .execute("SELECT pg_advisory_lock(9, hashtext('deposit-late'))", &[])
        .await
        .unwrap();
    let (pid, late) = start_receipted_move(
        &desk.clerk,
        "deposit-late",
        cash(desk.prepaid, Movement::Deposit, Money::from_cents(1000)),
    )()
    .await;
    assert_eq!(waiting(&watcher, pid).await, "advisory");
    transfer_again(&desk, "王芳").await;
    blocker
        .execute(
            "SELECT pg_advisory_unlock(9, hashtext('deposit-late'))",
            &[],
        )
        .await
        .unwrap();
    let late = late
        .await
        .unwrap()
        .expect("the deposit answered its receipt");
    assert_eq!(late.name, "王芳", "{late:?}");
    let holder = owners(&desk, desk.prepaid).await.0[0].clone();

    let (mut owner, connection) = tokio_postgres::connect(&desk.db.conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    owner
        .batch_execute(
            "ALTER TABLE receipt DROP COLUMN customer_name, DROP COLUMN meter_no;
             DROP FUNCTION money_move_for, bill_pay_for, customer_owner_seen,
                 reading_recorded;
             DELETE FROM refinery_schema_history WHERE version >= 109;",
        )
        .await
        .unwrap();
    meterdesk::db::migrate::run(&mut owner).await.unwrap();

    let mut names = Vec::new();
    for receipt_no in [first, second, third, late.receipt_no] {
        names.push(reprint(&desk, receipt_no).await.name);
    }
    assert_eq!(names, [holder.as_str(), "Anna Schmidt", "Li Na", "王芳"]);
    books_hold(&desk).await;
}

/// s35-k's "found, not fixed": a receipt read its meter number from the customer's meter as
/// it is now. The customer's meter is changed (only the owner can: no desk path, no operator's
/// privilege, see `change_meter`) after a deposit; the reprint of that deposit's receipt, its
/// receipt read again and its card-receipt facts name PM-0002, the meter the money was paid for
/// and the first print named (before V116: "PM-0003", the meter at the time of the reprint); a
/// deposit after the change names PM-0003.
#[tokio::test]
async fn a_receipt_reprinted_after_the_customers_meter_changed_names_the_meter_it_was_paid_for() {
    let desk = desk().await;
    let printed = {
        let mut clerk = desk.clerk.get().await.unwrap();
        let moved = accounts::move_money(
            &mut clerk,
            "deposit-before",
            &cash(desk.prepaid, Movement::Deposit, Money::from_cents(1000)),
        )
        .await
        .unwrap();
        moved.receipt.expect("the deposit answered its receipt")
    };
    assert_eq!(printed.meter_no, "PM-0002", "{printed:?}");

    change_meter(&desk, desk.prepaid, "PM-0003").await;
    let copy = reprint(&desk, printed.receipt_no).await;
    assert_eq!(
        (copy.meter_no.as_str(), copy.reprints),
        ("PM-0002", 1),
        "the reprint names the meter the money was paid for: {copy:?}"
    );
    let clerk = desk.clerk.get().await.unwrap();
    let read_again = receipts::receipt(&**clerk, printed.receipt_no)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_again.meter_no, "PM-0002", "{read_again:?}");
    let facts = cards::receipt_facts(&**clerk, printed.receipt_no)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.meter_no, "PM-0002", "{facts:?}");
    drop(clerk);

    let after = deposit(&desk, "deposit-after").await;
    assert_eq!(reprint(&desk, after).await.meter_no, "PM-0003");
    books_hold(&desk).await;
}

/// The receipts written before V116, filled by it from what history shows of the customer's
/// meters: the opening's audit entry and the readings. A deposit on PM-0002 (opened on it), a
/// reading of PM-0002; the meter changed to PM-0003; a deposit before any reading of PM-0003,
/// then a reading of it and a deposit. V116 is run again for real (its column dropped, its row
/// taken out of refinery's history, with every later one's, which run again after it): the first names PM-0002, the last PM-0003; the one between
/// cannot be placed (nothing recorded when the meter changed) and names the meter last seen
/// before it, PM-0002. A customer whose meter never changed has the present one on every receipt.
#[tokio::test]
async fn receipts_written_before_v116_name_the_meter_history_shows_at_their_moment() {
    let desk = desk().await;
    let first = deposit(&desk, "deposit-1").await;
    let old_meter = meter_of(&desk, desk.prepaid).await;
    let mut clerk = desk.clerk.get().await.unwrap();
    let outcome = readings::enter_reading(
        &mut clerk,
        "reading-old",
        &reading(old_meter, "2025-06-01", "2"),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, ReadingOutcome::Recorded { .. }),
        "{outcome:?}"
    );
    drop(clerk);
    change_meter(&desk, desk.prepaid, "PM-0003").await;
    let between = deposit(&desk, "deposit-2").await;
    let new_meter = meter_of(&desk, desk.prepaid).await;
    let mut clerk = desk.clerk.get().await.unwrap();
    let outcome = readings::enter_reading(
        &mut clerk,
        "reading-new",
        &reading(new_meter, "2025-06-02", "1"),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, ReadingOutcome::Recorded { .. }),
        "{outcome:?}"
    );
    drop(clerk);
    let last = deposit(&desk, "deposit-3").await;
    let postpaid = {
        let mut clerk = desk.clerk.get().await.unwrap();
        let moved = accounts::move_money(
            &mut clerk,
            "deposit-postpaid",
            &cash(desk.postpaid, Movement::Deposit, Money::from_cents(1000)),
        )
        .await
        .unwrap();
        moved
            .receipt
            .expect("the deposit answered its receipt")
            .receipt_no
    };

    let (mut owner, connection) = tokio_postgres::connect(&desk.db.conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    owner
        .batch_execute(
            "ALTER TABLE receipt DROP COLUMN meter_no;
             DELETE FROM refinery_schema_history WHERE version >= 116;",
        )
        .await
        .unwrap();
    meterdesk::db::migrate::run(&mut owner).await.unwrap();

    let mut meters = Vec::new();
    for receipt_no in [first, between, last, postpaid] {
        meters.push(reprint(&desk, receipt_no).await.meter_no);
    }
    assert_eq!(meters, ["PM-0002", "PM-0002", "PM-0003", "PM-0001"]);
    books_hold(&desk).await;
}

/// The owner changes customer `customer_id`'s meter to a new meter `meter_no` of the same type
/// (initial reading 0): the new one installed on the customer, the old one removed. Only the
/// owner can: the desk has no meter change, and no operator may update `customer.meter_id`
/// (sql/V31).
async fn change_meter(desk: &Desk, customer_id: i64, meter_no: &str) {
    let old = meter_of(desk, customer_id).await;
    desk.owner
        .batch_execute(&format!(
            "BEGIN;
             INSERT INTO meter (meter_no, meter_type_id, status)
                 SELECT '{meter_no}', meter_type_id, 'installed' FROM meter WHERE id = {old};
             UPDATE customer SET meter_id = (SELECT id FROM meter WHERE meter_no = '{meter_no}')
                 WHERE id = {customer_id};
             UPDATE meter SET status = 'removed' WHERE id = {old};
             COMMIT;"
        ))
        .await
        .unwrap();
}

/// The clerk's deposit of 10.00 on the prepaid customer's account: its receipt number.
async fn deposit(desk: &Desk, key: &str) -> i64 {
    let mut clerk = desk.clerk.get().await.unwrap();
    let moved = accounts::move_money(
        &mut clerk,
        key,
        &cash(desk.prepaid, Movement::Deposit, Money::from_cents(1000)),
    )
    .await
    .unwrap();
    match moved.outcome {
        MoveOutcome::Moved { receipt_no } => receipt_no,
        refused => panic!("{refused:?}"),
    }
}

/// A movement started on a connection of its own for the owner the clerk's account screen
/// showed (`Account::owner_seen`).
fn start_move_for(
    pool: &meterdesk::db::Pool,
    key: &'static str,
    change: MoneyMove,
    owner_seen: i64,
) -> impl AsyncFnOnce() -> Started<MoveOutcome> {
    let pool = pool.clone();
    async move || {
        let (mut client, pid) = connection(&pool).await;
        let task = tokio::spawn(async move {
            accounts::move_money_for(&mut client, key, &change, owner_seen)
                .await
                .expect("the movement is answered")
                .outcome
        });
        (pid, task)
    }
}

/// What the clerk's account screen read: the owner's name and which owner that is.
async fn screen_of(desk: &Desk, customer_id: i64) -> (String, i64) {
    let clerk = desk.clerk.get().await.unwrap();
    let account = accounts::account(&clerk, customer_id)
        .await
        .unwrap()
        .unwrap();
    (account.name, account.owner_seen)
}

async fn ledger_rows_of(desk: &Desk, key: &str) -> i64 {
    desk.owner
        .query_one(
            "SELECT count(*) AS n FROM ledger_transaction WHERE idempotency_key = $1",
            &[&key],
        )
        .await
        .unwrap()
        .get("n")
}

/// s35-k's "found, not fixed": the clerk's account screen shows 张伟 (his daughter pays 100.00
/// for him) while another desk transfers the customer to Anna Schmidt. The transfer holds the
/// account (stopped at the owner history), the deposit waits for it; before V110 it then went
/// in under Anna Schmidt — the balance stays with the property, so 张伟's money became hers —
/// and the clerk was told "moved". Now: refused, nothing written, the clerk told who owns the
/// customer now; a re-send of that key is refused the same; sent again for the owner read
/// again, it moves, and a re-send of that key after yet another transfer answers the same
/// receipt. The same for a refund.
#[tokio::test]
async fn money_moved_while_another_desk_transfers_the_customer_is_refused_for_the_owner_shown() {
    let desk = desk().await;
    deposit_by_owner(&desk, desk.prepaid, "80.00", "owner-deposit").await;
    let rounds = [
        (Movement::Deposit, "deposit", "Anna Schmidt", 10000, "王芳"),
        (Movement::Refund, "refund", "Li Na", 3000, "赵敏"),
    ];
    let mut expected = Decimal::new(8000, 2);
    for (movement, word, to, cents, then) in rounds {
        // A refund is a supervisor's.
        let desk_of = match movement {
            Movement::Deposit => &desk.clerk,
            Movement::Refund => &desk.supervisor,
        };
        let (shown, owner_seen) = screen_of(&desk, desk.prepaid).await;
        let read = {
            let clerk = desk.clerk.get().await.unwrap();
            customer_changes::customer_basics(&**clerk, desk.prepaid)
                .await
                .unwrap()
                .unwrap()
        };
        let key: &'static str = Box::leak(format!("{word}-stale").into_boxed_str());
        let change = cash(desk.prepaid, movement, Money::from_cents(cents));
        let transfer_key: &'static str = Box::leak(format!("transfer-to-{to}").into_boxed_str());
        let (transferred, moved) = interleaved(
            &desk,
            "customer_owner_history",
            start_transfer(&desk.clerk, transfer_key, read, to),
            start_move_for(desk_of, key, change.clone(), owner_seen),
        )
        .await;
        assert!(
            matches!(transferred, TransferOutcome::Transferred { .. }),
            "{transferred:?}"
        );
        assert_eq!(
            moved,
            MoveOutcome::Refused(MoveRefusal::OwnerChanged { owner: to.into() }),
            "the {word} for {shown} waited behind the transfer to {to}"
        );
        assert_eq!(
            balance(&desk, desk.prepaid).await,
            expected,
            "nothing moved"
        );
        assert_eq!(ledger_rows_of(&desk, key).await, 0);
        // The same key sent again (a lost reply): refused the same, still nothing.
        let mut clerk = desk_of.get().await.unwrap();
        let again = accounts::move_money_for(&mut clerk, key, &change, owner_seen)
            .await
            .unwrap();
        assert_eq!(again.outcome, moved);
        // For the owner read again (the screen's F2 after its confirmation names them).
        let (name_now, owner_now) = screen_of(&desk, desk.prepaid).await;
        assert_eq!(name_now, to);
        let key_now: &'static str = Box::leak(format!("{word}-for-{to}").into_boxed_str());
        let taken = accounts::move_money_for(&mut clerk, key_now, &change, owner_now)
            .await
            .unwrap();
        let MoveOutcome::Moved { receipt_no } = taken.outcome else {
            panic!("{taken:?}");
        };
        assert_eq!(taken.receipt.as_ref().unwrap().name, to);
        expected += match movement {
            Movement::Deposit => Decimal::new(cents, 2),
            Movement::Refund => -Decimal::new(cents, 2),
        };
        assert_eq!(balance(&desk, desk.prepaid).await, expected);
        drop(clerk);
        // Exactly once: the moved key re-sent after another transfer answers its receipt.
        transfer_again(&desk, then).await;
        let mut clerk = desk_of.get().await.unwrap();
        let resent = accounts::move_money_for(&mut clerk, key_now, &change, owner_now)
            .await
            .unwrap();
        assert_eq!(resent.outcome, MoveOutcome::Moved { receipt_no });
        assert_eq!(balance(&desk, desk.prepaid).await, expected);
        assert_eq!(ledger_rows_of(&desk, key_now).await, 1);
    }
    books_hold(&desk).await;
}

/// The bills screen read 张伟's bill and balance; another desk took the payment of it, then
/// transferred the customer (a transfer refuses unpaid bills, so the bill must be paid first)
/// and the new owner's reading made a bill of theirs. The clerk's payment of the bills
/// read is refused — for the owner as well as for the bills — and a payment of the new owner's
/// bill for the owner the clerk's screen showed is refused naming them; for the owner read
/// again it is paid, and its key re-sent answers the same receipt.
#[tokio::test]
async fn a_bill_paid_from_the_balance_for_an_owner_transferred_meanwhile_is_refused() {
    let desk = desk().await;
    let (bill_id, amount) = postpaid_with_a_bill(&desk).await;
    deposit_by_owner(&desk, desk.postpaid, "500.00", "owner-deposit").await;
    let shown = {
        let clerk = desk.clerk.get().await.unwrap();
        readings::bills(&clerk, desk.postpaid)
            .await
            .unwrap()
            .unwrap()
    };
    let mut clerk = desk.clerk.get().await.unwrap();
    let paid_elsewhere = readings::pay_bills(&clerk, "elsewhere", &[bill_id], amount)
        .await
        .unwrap();
    assert!(matches!(paid_elsewhere, PayOutcome::Paid { .. }));
    let read = customer_changes::customer_basics(&**clerk, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    let transferred =
        customer_changes::transfer_from(&mut clerk, CLERK, "t", &read, &owner("Anna Schmidt"))
            .await
            .unwrap();
    assert!(
        matches!(transferred, TransferOutcome::Transferred { .. }),
        "{transferred:?}"
    );
    let meter_id = meter_of(&desk, desk.postpaid).await;
    readings::enter_reading(
        &mut clerk,
        "bill-2",
        &reading(meter_id, "2025-03-01", "120"),
    )
    .await
    .unwrap();
    let now = readings::bills(&clerk, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    let new_bill = now
        .bills
        .iter()
        .find(|bill| bill.status == "unpaid")
        .unwrap();
    let stale = readings::pay_bills_for(
        &clerk,
        "stale",
        &[new_bill.id],
        new_bill.amount,
        shown.owner_seen,
    )
    .await
    .unwrap();
    assert_eq!(
        stale,
        PayOutcome::OwnerChanged {
            owner: "Anna Schmidt".into()
        }
    );
    assert_eq!(bill_state(&desk, new_bill.id).await, (0, "unpaid".into()));
    let paid = readings::pay_bills_for(
        &clerk,
        "fresh",
        &[new_bill.id],
        new_bill.amount,
        now.owner_seen,
    )
    .await
    .unwrap();
    assert!(matches!(paid, PayOutcome::Paid { .. }), "{paid:?}");
    let resent = readings::pay_bills_for(
        &clerk,
        "fresh",
        &[new_bill.id],
        new_bill.amount,
        shown.owner_seen,
    )
    .await
    .unwrap();
    assert_eq!(resent, paid, "a key already applied answers as it did");
    assert_eq!(bill_state(&desk, new_bill.id).await, (1, "paid".into()));
    books_hold(&desk).await;
}
