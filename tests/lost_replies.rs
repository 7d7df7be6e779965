//! The writes of one statement (a database function in a transaction of its own) whose reply
//! is lost right after the server committed them: the link cut at that moment, as when the
//! server is restarted by IT or a frozen peer is given up at the desk's deadline after its
//! write went through. The desk must hear "unreachable" (the write is parked and re-sent with
//! its key, never said failed, which would have the clerk type it again), and the re-send must
//! answer what the first attempt did and write nothing more. The writes in a transaction of
//! several statements are cut at their COMMIT in `customer_management`, `account_money`,
//! `reference_data` and `operators`.

mod support;

use chrono::NaiveDate;
use meterdesk::app::state::Failure;
use meterdesk::db::accounts::{self, MoneyMove, MoveOutcome, Movement};
use meterdesk::db::readings::{
    self, NewReading, PayOutcome, ReadingOutcome, ReadingSource, VoidOutcome,
};
use meterdesk::db::shifts::{self, Closed, Opened};
use meterdesk::db::{DbError, Pool, pool_from_conn_str};
use meterdesk::domain::money::{Money, Volume};
use rust_decimal::Decimal;
use support::billing_desk::{Desk, desk};
use support::commit_cutter::CommitCutter;
use support::pg::count;

fn reading(on: &str, value: &str) -> NewReading {
    NewReading {
        meter_id: 1,
        read_on: on.parse::<NaiveDate>().unwrap(),
        electronic: Volume::exact(value.parse().unwrap()).unwrap(),
        mechanical: None,
        source: ReadingSource::Counter,
        rollover: false,
        abnormal_confirmed: false,
    }
}

fn money(text: &str) -> Money {
    Money::exact(text.parse().unwrap()).unwrap()
}

/// `login`'s desk of one connection, through the cutter.
fn through(desk: &Desk, cutter: &CommitCutter, login: &str) -> Pool {
    pool_from_conn_str(&desk.db.as_operator(&cutter.conn_str, login), 1).unwrap()
}

/// The first attempt's answer: lost, and said as the database unreachable (parked).
fn lost<T: std::fmt::Debug>(answer: Result<T, DbError>) {
    match answer {
        Err(error) => {
            let failure = Failure::from(error);
            assert!(
                matches!(failure, Failure::Unreachable(_)),
                "a lost reply parks the write: {failure:?}"
            );
        }
        Ok(answer) => panic!("the reply was to be lost: {answer:?}"),
    }
}

/// What the writes below leave, counted as the owner.
async fn written(desk: &Desk) -> [i64; 6] {
    let owner = &desk.owner;
    [
        count(owner, "SELECT count(*) FROM meter_reading").await,
        count(owner, "SELECT count(*) FROM bill").await,
        count(owner, "SELECT count(*) FROM receipt").await,
        count(owner, "SELECT count(*) FROM ledger_transaction").await,
        count(owner, "SELECT count(*) FROM audit_log").await,
        count(
            owner,
            "SELECT count(*) FROM shift WHERE closed_at IS NOT NULL",
        )
        .await,
    ]
}

#[tokio::test]
async fn a_one_statement_write_whose_reply_is_lost_after_its_commit_is_done_once() {
    let desk = desk().await;
    let cutter = CommitCutter::start(&desk.db);
    let clerk = through(&desk, &cutter, "clerk");
    let supervisor = through(&desk, &cutter, "super");

    // A counter reading: its bill made once.
    let q1 = reading("2025-03-20", "130");
    let before = written(&desk).await;
    cutter.arm_at_completion("SELECT 1");
    lost(readings::enter_reading(&mut clerk.get().await.unwrap(), "lost-r1", &q1).await);
    let after = written(&desk).await;
    assert_eq!(
        (after[0], after[1]),
        (before[0] + 1, before[1] + 1),
        "committed"
    );
    let again = readings::enter_reading(&mut clerk.get().await.unwrap(), "lost-r1", &q1)
        .await
        .expect("the pool reconnects");
    assert!(
        matches!(again, ReadingOutcome::Recorded { bill: Some(bill), .. } if bill == money("30.00")),
        "its own reading, not one below or before itself: {again:?}"
    );
    assert_eq!(written(&desk).await, after, "nothing more");

    // Its bill paid from the balance: one receipt.
    desk.owner
        .execute(
            "SELECT ledger_post(a.id, 'deposit', 50, NULL, NULL, 'cash', NULL, 'lost-dep')
             FROM account a WHERE a.customer_id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap();
    let bill: i64 = desk
        .owner
        .query_one("SELECT max(id) AS id FROM bill", &[])
        .await
        .unwrap()
        .get("id");
    cutter.arm_at_completion("SELECT 1");
    lost(
        readings::pay_bills(
            &**clerk.get().await.unwrap(),
            "lost-pay",
            &[bill],
            money("30.00"),
        )
        .await,
    );
    let after = written(&desk).await;
    let again = readings::pay_bills(
        &**clerk.get().await.unwrap(),
        "lost-pay",
        &[bill],
        money("30.00"),
    )
    .await
    .unwrap();
    let receipt_no: i64 = desk
        .owner
        .query_one("SELECT max(receipt_no) AS n FROM receipt", &[])
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        again,
        PayOutcome::Paid { receipt_no },
        "its own receipt, not \"changed\""
    );
    assert_eq!(written(&desk).await, after);

    // A supervisor's refund of what is left: one ledger row, one receipt.
    let refund = MoneyMove {
        customer_id: desk.postpaid,
        movement: Movement::Refund,
        amount: money("20.00"),
        method: "cash".into(),
        pays: None,
    };
    cutter.arm();
    lost(accounts::move_money(&mut supervisor.get().await.unwrap(), "lost-refund", &refund).await);
    let after = written(&desk).await;
    let again = accounts::move_money(&mut supervisor.get().await.unwrap(), "lost-refund", &refund)
        .await
        .unwrap();
    assert!(
        matches!(again.outcome, MoveOutcome::Moved { .. }),
        "{again:?}"
    );
    assert_eq!(written(&desk).await, after);
    let balance: Decimal = desk
        .owner
        .query_one(
            "SELECT balance FROM account WHERE customer_id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap()
        .get("balance");
    assert_eq!(balance, Decimal::ZERO, "refunded once");

    // A supervisor's void of the next bill: one audit entry.
    readings::enter_reading(
        &mut clerk.get().await.unwrap(),
        "lost-r2",
        &reading("2025-05-15", "135"),
    )
    .await
    .unwrap();
    let next_bill: i64 = desk
        .owner
        .query_one("SELECT max(id) AS id FROM bill", &[])
        .await
        .unwrap()
        .get("id");
    cutter.arm_at_completion("SELECT 1");
    lost(readings::void_bill(&**supervisor.get().await.unwrap(), next_bill, "typed twice").await);
    let after = written(&desk).await;
    assert_eq!(
        readings::void_bill(&**supervisor.get().await.unwrap(), next_bill, "typed twice")
            .await
            .unwrap(),
        VoidOutcome::Voided
    );
    assert_eq!(written(&desk).await, after);

    // The clerk's shift (opened by the payment) closed: closed now, by this close.
    let shift = shifts::own_latest(&**clerk.get().await.unwrap())
        .await
        .unwrap()
        .expect("the payment opened a shift");
    assert_eq!(
        shifts::open(&**clerk.get().await.unwrap()).await.unwrap(),
        Opened::AlreadyOpen
    );
    cutter.arm_at_completion("SELECT 1");
    lost(shifts::close(&**clerk.get().await.unwrap(), shift.id, "lost-z").await);
    let after = written(&desk).await;
    assert_eq!(
        shifts::close(&**clerk.get().await.unwrap(), shift.id, "lost-z")
            .await
            .unwrap(),
        Closed::Now,
        "this close, not \"closed before at another desk\""
    );
    assert_eq!(written(&desk).await, after);
}
