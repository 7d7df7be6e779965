//! Closing an account on a real database (sql/V24, db::closing), as the operators' own roles:
//! the database refuses a clerk, refuses each step still to take, closes once per key, and
//! keeps a closed customer read-only whatever the client sends.

mod support;

use meterdesk::db::DbError;
use meterdesk::db::Pool;
use meterdesk::db::accounts::{self, MoneyMove, MoveOutcome, Movement};
use meterdesk::db::closing::{self, CloseBlocker, CloseOutcome, Closing};
use meterdesk::db::readings::{self, NewReading, PayOutcome, ReadingOutcome, ReadingSource};
use meterdesk::domain::money::{Money, Volume};
use support::billing_desk::{Desk, desk};
use tokio_postgres::error::SqlState;

fn reading(meter_id: i64, on: &str, value: &str, source: ReadingSource) -> NewReading {
    NewReading {
        meter_id,
        read_on: on.parse().unwrap(),
        electronic: Volume::exact(value.parse().unwrap()).unwrap(),
        mechanical: None,
        source,
        rollover: false,
        abnormal_confirmed: false,
    }
}

fn money(text: &str) -> Money {
    Money::exact(text.parse().unwrap()).unwrap()
}

async fn state(pool: &Pool, customer_id: i64) -> Closing {
    let client = pool.get().await.unwrap();
    closing::closing(&**client, customer_id)
        .await
        .unwrap()
        .expect("the customer")
}

async fn close(pool: &Pool, key: &str, customer_id: i64) -> Result<CloseOutcome, DbError> {
    let client = pool.get().await.unwrap();
    closing::close(&**client, key, customer_id).await
}

async fn enter(pool: &Pool, key: &str, new: &NewReading) -> ReadingOutcome {
    let mut client = pool.get().await.unwrap();
    readings::enter_reading(&mut client, key, new)
        .await
        .unwrap()
}

async fn move_money(pool: &Pool, key: &str, change: &MoneyMove) -> MoveOutcome {
    let mut client = pool.get().await.unwrap();
    accounts::move_money(&mut client, key, change)
        .await
        .unwrap()
        .outcome
}

fn cash(customer_id: i64, movement: Movement, amount: &str) -> MoneyMove {
    MoneyMove {
        customer_id,
        movement,
        amount: money(amount),
        method: "cash".into(),
        pays: None,
    }
}

fn sqlstate(error: &DbError) -> Option<&SqlState> {
    match error {
        DbError::Query(error) => error.code(),
        _ => None,
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

async fn status(desk: &Desk, customer_id: i64) -> (String, String) {
    let row = desk
        .owner
        .query_one(
            "SELECT c.status, m.status AS meter_status FROM customer c
             JOIN meter m ON m.id = c.meter_id WHERE c.id = $1",
            &[&customer_id],
        )
        .await
        .unwrap();
    (row.get("status"), row.get("meter_status"))
}

/// A postpaid account walked to its close: each step refuses the close until it is taken
/// (final reading, its bill, the balance left), then the supervisor's close releases the
/// meter as removed, once per key, audited, with who closed it.
#[tokio::test]
async fn a_postpaid_account_closes_after_every_step() {
    let desk = desk().await;
    let customer = desk.postpaid;
    let meter = meter_of(&desk, customer).await;

    let clerk_tries = close(&desk.clerk, "close-clerk", customer)
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&clerk_tries),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    );

    assert_eq!(
        state(&desk.supervisor, customer).await.blocker,
        Some(CloseBlocker::FinalReading)
    );
    // An ordinary reading is not the final one.
    let counter = reading(meter, "2025-02-10", "130", ReadingSource::Counter);
    assert!(matches!(
        enter(&desk.clerk, "r-1", &counter).await,
        ReadingOutcome::Recorded { .. }
    ));
    assert_eq!(
        close(&desk.supervisor, "close-1", customer).await.unwrap(),
        CloseOutcome::Refused(CloseBlocker::FinalReading)
    );
    let last = reading(meter, "2025-03-20", "140", ReadingSource::Final);
    let ReadingOutcome::Recorded {
        bill: Some(bill), ..
    } = enter(&desk.clerk, "r-final", &last).await
    else {
        panic!("the final reading makes the final bill");
    };
    assert_eq!(bill, money("40.00"));
    let now = state(&desk.supervisor, customer).await;
    assert_eq!(now.blocker, Some(CloseBlocker::UnpaidBills));
    assert_eq!((now.unpaid_bills, now.arrears), (1, money("40.00")));
    assert_eq!(
        now.final_reading
            .map(|r| r.electronic.to_string())
            .as_deref(),
        Some("140.000")
    );
    assert_eq!(
        close(&desk.supervisor, "close-2", customer).await.unwrap(),
        CloseOutcome::Refused(CloseBlocker::UnpaidBills)
    );

    move_money(
        &desk.clerk,
        "dep",
        &cash(customer, Movement::Deposit, "50.00"),
    )
    .await;
    let bills = {
        let client = desk.clerk.get().await.unwrap();
        readings::bills(&**client, customer).await.unwrap().unwrap()
    };
    let ids: Vec<i64> = bills.bills.iter().map(|b| b.id).collect();
    let client = desk.clerk.get().await.unwrap();
    let paid = readings::pay_bills(&**client, "pay", &ids, bills.arrears()).await;
    assert!(matches!(paid.unwrap(), PayOutcome::Paid { .. }));
    let now = state(&desk.supervisor, customer).await;
    assert_eq!(
        (now.blocker, now.balance),
        (Some(CloseBlocker::BalanceLeft), money("10.00"))
    );
    assert_eq!(
        close(&desk.supervisor, "close-3", customer).await.unwrap(),
        CloseOutcome::Refused(CloseBlocker::BalanceLeft)
    );
    assert_eq!(
        status(&desk, customer).await,
        ("active".into(), "installed".into())
    );

    move_money(
        &desk.supervisor,
        "refund",
        &cash(customer, Movement::Refund, "10.00"),
    )
    .await;
    assert_eq!(state(&desk.supervisor, customer).await.blocker, None);
    assert_eq!(
        close(&desk.supervisor, "close-4", customer).await.unwrap(),
        CloseOutcome::Closed
    );
    assert_eq!(
        status(&desk, customer).await,
        ("closed".into(), "removed".into())
    );
    // The same key again: closed, nothing written twice; another key: already closed.
    assert_eq!(
        close(&desk.supervisor, "close-4", customer).await.unwrap(),
        CloseOutcome::Closed
    );
    assert_eq!(
        close(&desk.supervisor, "close-5", customer).await.unwrap(),
        CloseOutcome::Refused(CloseBlocker::AlreadyClosed)
    );
    let audit = desk
        .owner
        .query_one(
            "SELECT count(*) AS closes, min(o.login) AS login,
                    (SELECT closed_by FROM account_closing WHERE customer_id = $1) AS closed_by
             FROM audit_log l JOIN operator o ON o.id = l.operator_id
             WHERE l.action = 'customer.close' AND l.entity_id = $1",
            &[&customer],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, i64>("closes"), 1);
    assert_eq!(audit.get::<_, &str>("login"), "super");
    assert_eq!(audit.get::<_, Option<i64>>("closed_by"), Some(2));
}

/// A closed customer is read-only in the database, whatever the client sends: its row, its
/// money, its readings; and no operator closes an account by writing the row itself.
#[tokio::test]
async fn a_closed_customer_is_read_only_in_the_database() {
    let desk = desk().await;
    let customer = desk.prepaid;
    let meter = meter_of(&desk, customer).await;
    // A system-prepaid account that consumption took below zero: the customer pays first.
    let last = reading(meter, "2025-03-20", "4", ReadingSource::Final);
    assert!(matches!(
        enter(&desk.clerk, "r-final", &last).await,
        ReadingOutcome::Recorded {
            deducted: Some(_),
            ..
        }
    ));
    let now = state(&desk.supervisor, customer).await;
    assert_eq!(
        (now.blocker, now.balance),
        (Some(CloseBlocker::BalanceOwed), money("-10.00"))
    );
    move_money(
        &desk.clerk,
        "dep",
        &cash(customer, Movement::Deposit, "10.00"),
    )
    .await;

    // Writing the row closed is not closing it, not even for a supervisor.
    let client = desk.supervisor.get().await.unwrap();
    let by_hand = client
        .execute(
            "UPDATE customer SET status = 'closed', closed_at = now() WHERE id = $1",
            &[&customer],
        )
        .await
        .unwrap_err();
    assert_eq!(by_hand.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(
        close(&desk.supervisor, "close", customer).await.unwrap(),
        CloseOutcome::Closed
    );

    let clerk = desk.clerk.get().await.unwrap();
    let modify = clerk
        .execute(
            "UPDATE customer SET remark = 'x' WHERE id = $1",
            &[&customer],
        )
        .await
        .unwrap_err();
    assert_eq!(
        modify.code(),
        Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE)
    );
    let deposit = clerk
        .execute(
            "SELECT ledger_post(a.id, 'deposit', 5, NULL, NULL, 'cash', NULL, 'after-close')
             FROM account a WHERE a.customer_id = $1",
            &[&customer],
        )
        .await
        .unwrap_err();
    assert_eq!(
        deposit.code(),
        Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE)
    );
    let later = reading(meter, "2025-04-20", "9", ReadingSource::Counter);
    let mut clerk = desk.clerk.get().await.unwrap();
    assert!(
        !matches!(
            readings::enter_reading(&mut clerk, "r-after", &later).await,
            Ok(ReadingOutcome::Recorded { .. })
        ),
        "no reading is recorded for a closed customer"
    );
    // The money the screens offer is refused before it reaches the ledger.
    assert!(matches!(
        move_money(
            &desk.clerk,
            "dep-after",
            &cash(customer, Movement::Deposit, "5.00")
        )
        .await,
        MoveOutcome::Refused(_)
    ));
    let balance: rust_decimal::Decimal = desk
        .owner
        .query_one(
            "SELECT balance FROM account WHERE customer_id = $1",
            &[&customer],
        )
        .await
        .unwrap()
        .get("balance");
    assert!(balance.is_zero());
}

/// A card-meter account needs no reading; its active card keeps it open until reported lost
/// (or recycled), and a pending card operation keeps it open until resolved.
#[tokio::test]
async fn a_card_account_closes_once_its_card_is_gone() {
    let desk = support::card_desk::card_customer().await;
    let customer = desk.customer_id;
    desk.db.create_operator("boss", &["supervisor"]).await;
    let supervisor = desk.db.pool_of("boss");
    desk.client
        .execute(
            "INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (10000001, $1, 1, 1)",
            &[&customer],
        )
        .await
        .unwrap();
    let now = state(&supervisor, customer).await;
    assert_eq!(
        (now.blocker, now.card_no),
        (Some(CloseBlocker::CardActive), Some(10000001))
    );
    desk.client
        .execute(
            "INSERT INTO card_operation (customer_id, card_id, kind, idempotency_key, operator_id,
                                         issue_record_after, plan)
             VALUES ($1, 1, 'recycle', 'pending-recycle', 1, decode(repeat('00', 32), 'hex'), '{}')",
            &[&customer],
        )
        .await
        .unwrap();
    assert_eq!(
        close(&supervisor, "close-1", customer).await.unwrap(),
        CloseOutcome::Refused(CloseBlocker::CardPending)
    );
    desk.client
        .execute("UPDATE card_operation SET state = 'failed', finished_at = now(), failure_reason = 'not_on_card'", &[])
        .await
        .unwrap();
    let mut client = supervisor.get().await.unwrap();
    let lost = meterdesk::db::card_ops::report_lost(&mut client, customer)
        .await
        .unwrap();
    assert_eq!(lost, Ok(10000001));
    assert_eq!(
        close(&supervisor, "close-2", customer).await.unwrap(),
        CloseOutcome::Closed
    );
    // No card is written for a closed customer.
    let opened = client
        .execute(
            "INSERT INTO card (card_no, customer_id, generation) VALUES (10000002, $1, 2)",
            &[&customer],
        )
        .await
        .unwrap_err();
    assert_eq!(
        opened.code(),
        Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE)
    );
}
