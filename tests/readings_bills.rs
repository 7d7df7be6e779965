//! Meter readings, bills and deductions on a real database (sql/V18, db::readings), as the
//! operators' own roles: a clerk enters readings and pays bills, a supervisor voids a bill, and
//! the database refuses a clerk's void.

mod support;

use chrono::NaiveDate;
use meterdesk::app::requests::execute;
use meterdesk::app::state::{Failure, Request};
use meterdesk::db::accounts::{self, BillsToPay, MoneyMove, MoveOutcome, MoveRefusal, Movement};
use meterdesk::db::readings::{
    self, ImportReport, NewReading, PayOutcome, ReadingOutcome, ReadingRefusal, ReadingSource,
    VoidOutcome,
};
use meterdesk::db::receipts;
use meterdesk::db::{CachingClient, Pool, pool_from_conn_str};
use meterdesk::domain::billing::ReadingError;
use meterdesk::domain::money::{Money, Volume};
use meterdesk::domain::reading_csv::{
    READING_CSV_TEMPLATE, ReadingCsv, ReadingProblem, parse_reading_csv,
};
use meterdesk::i18n::Lang;
use meterdesk::screens::bills::WriteBill;
use rust_decimal::Decimal;
use support::billing_desk::{Desk, NonCharging, desk, non_charging};
use support::pg::rows_read_in_transaction;
use support::stalling_relay::StallingRelay;
use tokio_postgres::error::SqlState;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn m3(text: &str) -> Volume {
    Volume::exact(text.parse().unwrap()).unwrap()
}

fn reading(meter_id: i64, on: &str, value: &str) -> NewReading {
    NewReading {
        meter_id,
        read_on: day(on),
        electronic: m3(value),
        mechanical: None,
        source: ReadingSource::Counter,
        rollover: false,
        abnormal_confirmed: false,
    }
}

async fn enter(pool: &Pool, key: &str, new: &NewReading) -> ReadingOutcome {
    let mut client = pool.get().await.unwrap();
    readings::enter_reading(&mut client, key, new)
        .await
        .unwrap()
}

async fn deposit(desk: &Desk, customer_id: i64, amount: &str) {
    let amount: Decimal = amount.parse().unwrap();
    desk.owner
        .execute(
            "SELECT ledger_post(a.id, 'deposit', $2, NULL, NULL, 'cash', NULL, 'dep-' || $2::numeric::text)
             FROM account a WHERE a.customer_id = $1",
            &[&customer_id, &amount],
        )
        .await
        .unwrap();
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

fn money(text: &str) -> Money {
    Money::exact(text.parse().unwrap()).unwrap()
}

/// The manual's worked example end to end: readings in Q1 (two, 30 m³ in all) make and extend
/// one bill of 30.00; a reading in Q2 (60 m³ more) makes a bill of 100.00; a deposit pays both,
/// oldest first, on one receipt; the same payment again moves no money.
#[tokio::test]
async fn the_manuals_example_from_readings_to_payment() {
    let desk = desk().await;
    let first = enter(&desk.clerk, "r1", &reading(1, "2025-02-10", "112")).await;
    assert_eq!(
        first,
        ReadingOutcome::Recorded {
            consumption: m3("12"),
            abnormal: false,
            bill: Some(money("12.00")),
            deducted: None,
        }
    );
    // The same key again records nothing more, and answers as the first time.
    assert_eq!(
        enter(&desk.clerk, "r1", &reading(1, "2025-02-10", "112")).await,
        first
    );
    let second = enter(&desk.clerk, "r2", &reading(1, "2025-03-20", "130")).await;
    assert!(
        matches!(second, ReadingOutcome::Recorded { bill: Some(amount), .. } if amount == money("30.00"))
    );
    let mut third = reading(1, "2025-05-15", "190");
    third.abnormal_confirmed = true;
    let third = enter(&desk.clerk, "r3", &third).await;
    assert!(
        matches!(third, ReadingOutcome::Recorded { bill: Some(amount), abnormal: true, .. } if amount == money("100.00"))
    );

    let client = desk.clerk.get().await.unwrap();
    let bills = readings::bills(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bills.bills.len(), 2);
    assert_eq!(bills.arrears(), money("130.00"));
    let q2 = &bills.bills[1];
    assert_eq!(
        (q2.period_start, q2.period_end, q2.due_date),
        (
            day("2025-04-01"),
            day("2025-06-30"),
            Some(day("2025-07-30"))
        )
    );
    assert_eq!(q2.vat, money("8.26"));
    let lines: Vec<_> = q2.detail.parts[0]
        .tiers
        .iter()
        .map(|t| (t.tier, t.volume, t.amount))
        .collect();
    assert_eq!(
        lines,
        [(1, m3("20"), money("20.00")), (2, m3("40"), money("80.00"))]
    );
    let readings_kept = readings_stored(&desk).await;
    assert_eq!(readings_kept, 3);

    // Not covered: nothing paid.
    assert_eq!(
        readings::pay_bills(&**client, "pay-0", &[1, 2], money("130.00"))
            .await
            .unwrap(),
        PayOutcome::NotCovered
    );
    deposit(&desk, desk.postpaid, "150.00").await;
    // A total other than the bills' (a reading extended one since it was shown): nothing paid.
    assert_eq!(
        readings::pay_bills(&**client, "pay-1", &[2, 1], money("120.00"))
            .await
            .unwrap(),
        PayOutcome::Changed
    );
    let paid = readings::pay_bills(&**client, "pay-1", &[2, 1], money("130.00"))
        .await
        .unwrap();
    let PayOutcome::Paid { receipt_no } = paid else {
        panic!("{paid:?}")
    };
    assert_eq!(
        readings::pay_bills(&**client, "pay-1", &[2, 1], money("130.00"))
            .await
            .unwrap(),
        paid,
        "exactly once"
    );
    assert_eq!(
        balance(&desk, desk.postpaid).await,
        "20.00".parse::<Decimal>().unwrap()
    );
    let rows = desk.owner.query(
        "SELECT bill_id, amount, receipt_no FROM ledger_transaction WHERE kind = 'bill_payment' ORDER BY id", &[]).await.unwrap();
    let rows: Vec<(i64, Decimal, i64)> = rows
        .iter()
        .map(|r| (r.get("bill_id"), r.get("amount"), r.get("receipt_no")))
        .collect();
    assert_eq!(
        rows,
        [
            (1, "-30.00".parse().unwrap(), receipt_no),
            (2, "-100.00".parse().unwrap(), receipt_no)
        ]
    );
    // The receipt as the clerk's screen reads it to print: the bills paid, oldest first.
    let printed = receipts::receipt(&**client, receipt_no)
        .await
        .unwrap()
        .expect("the payment's receipt");
    let paid_lines: Vec<_> = printed
        .lines
        .iter()
        .map(|line| (line.kind.as_str(), line.cycle, line.amount))
        .collect();
    assert_eq!(
        paid_lines,
        [
            ("bill_payment", Some(day("2025-01-01")), money("-30.00")),
            ("bill_payment", Some(day("2025-04-01")), money("-100.00"))
        ]
    );
    assert_eq!(
        (printed.method, printed.balance_after),
        (None, money("20.00"))
    );
    let bills = readings::bills(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert!(bills.bills.iter().all(|bill| bill.status == "paid"));
    assert_eq!(
        readings::pay_bills(&**client, "pay-2", &[1], money("30.00"))
            .await
            .unwrap(),
        PayOutcome::Changed
    );
    drop(desk.db);
}

/// sql/V76: a reading at the counter is one statement in one round trip, whatever it answers —
/// a bill extended, a deduction, a re-sent entry answered as the first, each refusal — where
/// the desk's transaction took about ten (BEGIN, the look-up, the locks, the meter's book, the
/// prices, the history, `reading_write`, COMMIT).
#[tokio::test]
async fn a_counter_reading_is_one_round_trip() {
    let desk = desk().await;
    let relay = StallingRelay::start(&desk.db);
    let clerk =
        meterdesk::db::pool_from_conn_str(&desk.db.as_operator(&relay.conn_str, "clerk"), 1)
            .unwrap();
    // The first reading on the connection prepares its statement.
    enter(&clerk, "first", &reading(1, "2025-01-10", "110")).await;
    let today: NaiveDate = desk
        .owner
        .query_one("SELECT current_date AS today", &[])
        .await
        .unwrap()
        .get("today");
    let mut not_a_rollover = reading(1, "2025-01-25", "121");
    not_a_rollover.rollover = true;
    let extended = ReadingOutcome::Recorded {
        consumption: m3("10"),
        abnormal: false,
        bill: Some(money("20.00")),
        deducted: None,
    };
    let cases = [
        ("extends", reading(1, "2025-01-20", "120"), extended.clone()),
        ("extends", reading(1, "2025-01-20", "120"), extended),
        (
            "deducts",
            reading(2, "2025-01-20", "10"),
            ReadingOutcome::Recorded {
                consumption: m3("10"),
                abnormal: false,
                bill: None,
                deducted: Some(money("25.00")),
            },
        ),
        (
            "below",
            reading(1, "2025-01-25", "119"),
            ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::BelowPrevious {
                previous: m3("120"),
            })),
        ),
        (
            "wrapped",
            not_a_rollover,
            ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::NotARollover {
                previous: m3("120"),
            })),
        ),
        (
            "before",
            reading(1, "2025-01-05", "130"),
            ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::BeforePrevious {
                previous: day("2025-01-20"),
            })),
        ),
        (
            "ahead",
            reading(1, &today.succ_opt().unwrap().to_string(), "130"),
            ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::AfterToday { today })),
        ),
        (
            "abnormal",
            reading(1, "2025-01-30", "151"),
            ReadingOutcome::Refused(ReadingRefusal::Abnormal {
                consumption: m3("31"),
            }),
        ),
        (
            "nobody",
            reading(999, "2025-01-30", "151"),
            ReadingOutcome::Refused(ReadingRefusal::NoCustomer),
        ),
    ];
    for (key, new, answer) in cases {
        relay.take_turns();
        relay.take_sent();
        assert_eq!(enter(&clerk, key, &new).await, answer, "{key}");
        let sent = relay.take_sent();
        let syncs = sent.iter().filter(|kind| **kind == b'S').count();
        assert_eq!(
            (relay.take_turns(), syncs),
            (1, 1),
            "{key}: {:?}",
            String::from_utf8_lossy(&sent)
        );
    }
    assert_eq!(readings_stored(&desk).await, 3);
}

/// More water on one bill than a bill can hold (999 999 999.999 m³) is refused as too much
/// water, nothing written: 599 999 900 m³, then a rollover of 900 000 000 in the same quarter.
#[tokio::test]
async fn a_bill_that_cannot_hold_its_water_is_refused() {
    let desk = desk().await;
    let first = enter(&desk.clerk, "a", &reading(1, "2025-01-10", "600000000")).await;
    assert!(
        matches!(first, ReadingOutcome::Recorded { .. }),
        "{first:?}"
    );
    let mut wrapped = reading(1, "2025-01-20", "500000000");
    wrapped.rollover = true;
    assert_eq!(
        enter(&desk.clerk, "b", &wrapped).await,
        ReadingOutcome::Refused(ReadingRefusal::TooMuchWater)
    );
    assert_eq!(readings_stored(&desk).await, 1);
}

/// sql/V76: `reading_write_rows` writes what it is given and checks nothing, so no operator may
/// call it; a clerk writes a reading through `reading_enter` or `reading_write`, which do.
#[tokio::test]
async fn no_operator_calls_the_readings_unchecked_write() {
    let desk = desk().await;
    let clerk = desk.clerk.get().await.unwrap();
    let unchecked = clerk
        .execute(
            "SELECT reading_write_rows('forged', 'counter', ARRAY[ROW(0, 1, 1, $1, NULL,
                 DATE '2025-02-01', 110, NULL, NULL, 100, 10, false, NULL, NULL, NULL,
                 NULL)::reading_write_reading], '{}', false)",
            &[&desk.postpaid],
        )
        .await
        .unwrap_err();
    // Refused at the call, not only later by the tables' rights of the clerk it would run as.
    let refusal = unchecked.as_db_error().expect("a refusal by the server");
    assert_eq!(
        (refusal.code(), refusal.message()),
        (
            &SqlState::INSUFFICIENT_PRIVILEGE,
            "permission denied for function reading_write_rows"
        )
    );
    assert_eq!(readings_stored(&desk).await, 0);
}

/// `reading_enter` asked from psql with no answer to its confirmations (NULL) confirms
/// nothing: an abnormal consumption and a reading below the previous one are refused as the
/// form's unticked boxes are, and nothing is written.
#[tokio::test]
async fn a_reading_from_psql_without_its_confirmations_confirms_nothing() {
    let desk = desk().await;
    enter(&desk.clerk, "a", &reading(1, "2025-01-10", "110")).await;
    enter(&desk.clerk, "b", &reading(1, "2025-01-20", "120")).await;
    let clerk = desk.clerk.get().await.unwrap();
    let outcome = async |key: &str, electronic: &str| -> String {
        clerk
            .query_one(
                "SELECT outcome FROM reading_enter($1, 'counter', 1, DATE '2025-01-30',
                     $2::text::numeric, NULL, NULL, NULL)",
                &[&key, &electronic],
            )
            .await
            .unwrap()
            .get("outcome")
    };
    assert_eq!(outcome("psql-abnormal", "151").await, "abnormal");
    assert_eq!(outcome("psql-below", "119").await, "below_previous");
    assert_eq!(readings_stored(&desk).await, 2);
}

/// sql/V105: a reading finer than a litre from psql is refused, as the form refuses a fourth
/// decimal; before it `reading_enter(…, 120.0004, …)` recorded 120.000 (the column rounded it),
/// and an import's row of 130.0005 the same through `reading_write`.
#[tokio::test]
async fn a_reading_finer_than_a_litre_from_psql_is_refused_not_rounded() {
    let desk = desk().await;
    enter(&desk.clerk, "a", &reading(1, "2025-01-10", "110")).await;
    let clerk = desk.clerk.get().await.unwrap();
    for (electronic, mechanical) in [("120.0004", None), ("120", Some("120.0001"))] {
        let refused = clerk
            .query_one(
                "SELECT outcome FROM reading_enter('finer', 'counter', 1, DATE '2025-01-20',
                     $1::text::numeric, $2::text::numeric, false, true)",
                &[&electronic, &mechanical],
            )
            .await
            .unwrap_err();
        let refusal = refused.as_db_error().expect("a refusal by the server");
        assert_eq!(
            refusal.code(),
            &SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "{electronic} / {mechanical:?}: {refusal}"
        );
    }
    let imported = clerk
        .execute(
            "SELECT reading_write('finer-import', 'import', '[]',
                 jsonb_build_array(jsonb_build_object('seq', 0, 'line', 1, 'meter_id', 1,
                     'read_on', '2025-01-20', 'electronic', 130.0005)))",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        imported.as_db_error().map(|e| e.code()),
        Some(&SqlState::NUMERIC_VALUE_OUT_OF_RANGE),
        "{imported}"
    );
    assert_eq!(readings_stored(&desk).await, 1);
    // A litre is taken.
    let outcome: String = clerk
        .query_one(
            "SELECT outcome FROM reading_enter('litre', 'counter', 1, DATE '2025-01-20',
                 120.001, NULL, false, true)",
            &[],
        )
        .await
        .unwrap()
        .get("outcome");
    assert_eq!(outcome, "recorded");
}

#[tokio::test]
async fn readings_below_the_previous_abnormal_ones_and_rollovers() {
    let desk = desk().await;
    enter(&desk.clerk, "a", &reading(1, "2025-01-10", "110")).await;
    enter(&desk.clerk, "b", &reading(1, "2025-01-20", "120")).await;
    assert_eq!(
        enter(&desk.clerk, "c", &reading(1, "2025-01-25", "119")).await,
        ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::BelowPrevious {
            previous: m3("120")
        }))
    );
    assert_eq!(
        enter(&desk.clerk, "c", &reading(1, "2025-01-05", "130")).await,
        ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::BeforePrevious {
            previous: day("2025-01-20")
        }))
    );
    // 10 and 10 before: 31 is above three times the average.
    assert_eq!(
        enter(&desk.clerk, "c", &reading(1, "2025-01-30", "151")).await,
        ReadingOutcome::Refused(ReadingRefusal::Abnormal {
            consumption: m3("31")
        })
    );
    // Confirmed, it is recorded and listed as abnormal.
    let mut confirmed = reading(1, "2025-01-30", "990");
    confirmed.abnormal_confirmed = true;
    enter(&desk.clerk, "c", &confirmed).await;
    // The register wraps at 1 000: 10 m³ to the wrap, then 5.
    let mut wrapped = reading(1, "2025-02-10", "5");
    wrapped.rollover = true;
    assert!(
        matches!(enter(&desk.clerk, "d", &wrapped).await, ReadingOutcome::Recorded { consumption, .. } if consumption == m3("15"))
    );
    let abnormal: i64 = desk
        .owner
        .query_one(
            "SELECT count(*) AS n FROM meter_reading WHERE abnormal",
            &[],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(abnormal, 1);
}

/// The meter's latest reading entered again — the same meter, date and figure (s36-b,
/// sql/V113; before: recorded again with 0 m³, a second line of nothing on the bill) — is
/// refused with the reading and who entered it, nothing written, by `reading_enter` and
/// `reading_enter_after` alike; the first reading's key still answers as the first. Another
/// figure on that date and the same figure on a later date (a meter that did not move) are
/// recorded; a final reading is recorded with the latest counter reading's date and figure
/// (the account closes on the day its meter was read), and refused once it is recorded.
#[tokio::test]
async fn a_reading_already_recorded_is_refused_and_writes_nothing() {
    let desk = desk().await;
    let first = enter(&desk.clerk, "a", &reading(1, "2025-01-10", "110")).await;
    assert!(
        matches!(first, ReadingOutcome::Recorded { .. }),
        "{first:?}"
    );
    let recorded = ReadingOutcome::Refused(ReadingRefusal::AlreadyRecorded {
        electronic: m3("110"),
        on: day("2025-01-10"),
        by: Some("Clerk One".into()),
    });
    assert_eq!(
        enter(&desk.clerk, "b", &reading(1, "2025-01-10", "110")).await,
        recorded
    );
    let latest: Option<i64> = desk
        .owner
        .query_one("SELECT (SELECT id FROM reading_latest(1))", &[])
        .await
        .unwrap()
        .get(0);
    for after in [latest, None] {
        let mut client = desk.clerk.get().await.unwrap();
        let again = readings::enter_reading_after(
            &mut client,
            "c",
            &reading(1, "2025-01-10", "110"),
            after,
        )
        .await
        .unwrap();
        assert_eq!(again, recorded, "after {after:?}");
    }
    // The first one's key answers its first answer.
    assert_eq!(
        enter(&desk.clerk, "a", &reading(1, "2025-01-10", "110")).await,
        first
    );
    assert_eq!(readings_stored(&desk).await, 1);
    let audited: i64 = desk
        .owner
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'reading.enter'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);
    // Another figure on the same date, then the same figure on a later date: recorded.
    assert!(matches!(
        enter(&desk.clerk, "d", &reading(1, "2025-01-10", "111")).await,
        ReadingOutcome::Recorded { consumption, .. } if consumption == m3("1")
    ));
    assert!(matches!(
        enter(&desk.clerk, "e", &reading(1, "2025-01-11", "111")).await,
        ReadingOutcome::Recorded { consumption, .. } if consumption == m3("0")
    ));
    // From psql as the clerk: the same refusal, with who entered it.
    let clerk = desk.clerk.get().await.unwrap();
    let row = clerk
        .query_one(
            "SELECT outcome, previous, recorded_by FROM reading_enter('psql', 'counter', 1,
                 DATE '2025-01-11', 111, NULL, false, false)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, &str>(0),
            row.get::<_, Decimal>(1),
            row.get::<_, &str>(2)
        ),
        ("already_recorded", Decimal::new(111_000, 3), "Clerk One")
    );
    drop(clerk);
    assert_eq!(readings_stored(&desk).await, 3);
    // A final reading of the latest counter reading's date and figure is the account's last
    // bill: recorded; entered again, it is the same reading.
    let mut last = reading(1, "2025-01-11", "111");
    last.source = ReadingSource::Final;
    assert!(matches!(
        enter(&desk.clerk, "f", &last).await,
        ReadingOutcome::Recorded { .. }
    ));
    assert!(matches!(
        enter(&desk.clerk, "g", &last).await,
        ReadingOutcome::Refused(ReadingRefusal::AlreadyRecorded { on, .. }) if on == day("2025-01-11")
    ));
    assert_eq!(readings_stored(&desk).await, 4);
}

/// An import line that is the meter's latest reading (s36-b; before: imported again as 0 m³,
/// and a file imported twice doubled every reading) is listed as recorded already and left
/// out; the file's other lines are imported. `reading_write` from psql refuses such a reading.
#[tokio::test]
async fn an_import_line_already_recorded_is_listed_and_not_written() {
    let desk = desk().await;
    enter(&desk.clerk, "a", &reading(1, "2025-02-10", "112")).await;
    let file = csv("PM-0001,2025-02-10,112,,\n\
         PM-0001,2025-03-20,130,,\n");
    let already = |electronic: &str, on: &str| {
        vec![ReadingProblem::AlreadyRecorded {
            electronic: m3(electronic),
            on: day(on),
            by: Some("Clerk One".into()),
        }]
    };
    let checked = import(&desk.clerk, None, &file).await;
    assert_eq!(bad_lines(&checked), [(2, already("112", "2025-02-10"))]);
    assert_eq!(checked.good, 1);
    let imported = import(&desk.clerk, Some("file-1"), &file).await;
    assert_eq!(bad_lines(&imported), [(2, already("112", "2025-02-10"))]);
    assert_eq!((imported.good, imported.written), (1, true));
    assert_eq!(readings_stored(&desk).await, 2);
    // The same file once more, under another key: nothing of it is recorded again.
    let twice = import(&desk.clerk, Some("file-2"), &file).await;
    assert_eq!(
        bad_lines(&twice),
        [
            (
                2,
                vec![ReadingProblem::Reading(ReadingError::BeforePrevious {
                    previous: day("2025-03-20")
                })]
            ),
            (3, already("130", "2025-03-20")),
        ]
    );
    assert_eq!(twice.good, 0);
    assert_eq!(readings_stored(&desk).await, 2);
    let bills = {
        let client = desk.clerk.get().await.unwrap();
        readings::bills(&**client, desk.postpaid)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(bills.arrears(), money("30.00"));

    // psql: reading_write with the latest reading again, following it.
    let latest: i64 = desk
        .owner
        .query_one("SELECT id FROM reading_latest(1)", &[])
        .await
        .unwrap()
        .get(0);
    let clerk = desk.clerk.get().await.unwrap();
    let refused = clerk
        .execute(
            "SELECT reading_write('psql', 'import', '[]', jsonb_build_array(jsonb_build_object(
                 'seq', 0, 'line', 1, 'meter_id', 1, 'read_on', '2025-03-20',
                 'electronic', 130, 'previous_id', $1::bigint, 'previous', 130,
                 'consumption', 0, 'abnormal', false)))",
            &[&latest],
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some(&SqlState::CHECK_VIOLATION),
        "{refused}"
    );
    drop(clerk);
    assert_eq!(readings_stored(&desk).await, 2);
}

/// A date mistyped forward (2027 for 2026) is refused at the counter and in an import, and
/// records nothing: priced at a future price, it would also refuse every real reading dated
/// before it. Today itself is taken.
#[tokio::test]
async fn a_reading_dated_after_today_is_refused() {
    let desk = desk().await;
    let today: NaiveDate = desk
        .owner
        .query_one("SELECT current_date AS today", &[])
        .await
        .unwrap()
        .get("today");
    let tomorrow = today.succ_opt().unwrap();
    let after_today = ReadingError::AfterToday { today };
    assert_eq!(
        enter(&desk.clerk, "a", &reading(1, &tomorrow.to_string(), "110")).await,
        ReadingOutcome::Refused(ReadingRefusal::Reading(after_today))
    );
    let file = csv(&format!("PM-0001,{tomorrow},110,,\n"));
    let imported = import(&desk.clerk, Some("future"), &file).await;
    let bad = bad_lines(&imported);
    assert_eq!(
        (bad, imported.good),
        (vec![(2, vec![ReadingProblem::Reading(after_today)])], 0)
    );
    let written = readings_stored(&desk).await;
    assert_eq!(written, 0);
    assert!(matches!(
        enter(&desk.clerk, "b", &reading(1, &today.to_string(), "110")).await,
        ReadingOutcome::Recorded { .. }
    ));
}

/// A system-prepaid reading is deducted at once, and may take the balance below zero; a
/// deduction-free refund may not.
#[tokio::test]
async fn a_system_prepaid_reading_is_deducted_at_once() {
    let desk = desk().await;
    deposit(&desk, desk.prepaid, "10.00").await;
    let outcome = enter(&desk.clerk, "p1", &reading(2, "2025-03-01", "6")).await;
    assert_eq!(
        outcome,
        ReadingOutcome::Recorded {
            consumption: m3("6"),
            abnormal: false,
            bill: None,
            deducted: Some(money("15.00"))
        }
    );
    assert_eq!(
        balance(&desk, desk.prepaid).await,
        "-5.00".parse::<Decimal>().unwrap()
    );
    let row = desk.owner.query_one(
        "SELECT amount, volume, unit_price, operator_id FROM ledger_transaction WHERE kind = 'consumption'", &[]).await.unwrap();
    assert_eq!(
        row.get::<_, Decimal>("amount"),
        "-15.00".parse::<Decimal>().unwrap()
    );
    assert_eq!(row.get::<_, Option<i64>>("operator_id"), Some(1));
    let refund = desk.owner.execute(
        "SELECT ledger_post(a.id, 'refund', -1.00, NULL, NULL, 'cash', NULL, 'refund-1') FROM account a WHERE customer_id = $1",
        &[&desk.prepaid]).await;
    assert!(refund.is_err(), "a refund never takes a balance below zero");
    // Below the scheme's threshold (0 by default): on the low-balance list.
    let client = desk.clerk.get().await.unwrap();
    let low = readings::low_balances(&**client, 100).await.unwrap();
    assert_eq!(
        low.iter()
            .map(|row| (row.customer_no, row.balance))
            .collect::<Vec<_>>(),
        [(desk.prepaid_no, money("-5.00"))]
    );
    deposit(&desk, desk.prepaid, "20.00").await;
    desk.owner
        .batch_execute("UPDATE price_scheme SET alert_threshold = 20 WHERE id = 2")
        .await
        .unwrap();
    let low = readings::low_balances(&**client, 100).await.unwrap();
    assert_eq!(
        low[0].threshold,
        money("20.00"),
        "15.00 is below a threshold of 20.00"
    );
}

/// s44-e, by hand: two supervisors' desks voided one bill at once, each with its reason; both
/// were told "The bill is void", and the second's reason was nowhere — the database had
/// answered the second void as if it were the first sent again. The second now hears who
/// voided it and why; sent again (the same operator, the same reason), it is the void.
#[tokio::test]
async fn a_bill_voided_already_says_by_whom_and_why() {
    let desk = desk().await;
    let mut typo = reading(1, "2025-02-10", "1100");
    typo.abnormal_confirmed = true;
    enter(&desk.clerk, "typo", &typo).await;
    let supervisor = desk.supervisor.get().await.unwrap();
    assert_eq!(
        readings::void_bill(&**supervisor, 1, " typed 1100 for 110 ")
            .await
            .unwrap(),
        VoidOutcome::Voided
    );
    // The same void sent again (its reply lost): the void, whatever the spaces around it.
    assert_eq!(
        readings::void_bill(&**supervisor, 1, "typed 1100 for 110")
            .await
            .unwrap(),
        VoidOutcome::Voided
    );
    let again = readings::void_bill(&**supervisor, 1, "meter read wrongly")
        .await
        .unwrap();
    let VoidOutcome::VoidedBefore { by, reason } = again else {
        panic!("told voided already: {again:?}");
    };
    assert_eq!(
        (by.as_str(), reason.as_str()),
        ("super", "typed 1100 for 110")
    );
    let (stored, entries): (String, i64) = {
        let row = desk
            .owner
            .query_one(
                "SELECT void_reason, (SELECT count(*) FROM audit_log WHERE action = 'bill.void') AS n
                 FROM bill WHERE id = 1",
                &[],
            )
            .await
            .unwrap();
        (row.get("void_reason"), row.get("n"))
    };
    assert_eq!((stored.as_str(), entries), ("typed 1100 for 110", 1));
}

/// A supervisor voids an unpaid bill with a reason; arrears follow; the corrected reading makes
/// the bill that replaces it. A clerk's void is refused by the database; a paid bill stays.
#[tokio::test]
async fn a_supervisor_voids_a_bill_and_a_clerk_cannot() {
    let desk = desk().await;
    let mut typo = reading(1, "2025-02-10", "1100");
    typo.abnormal_confirmed = true;
    enter(&desk.clerk, "typo", &typo).await;
    let clerk = desk.clerk.get().await.unwrap();
    let refused = clerk
        .execute("SELECT bill_void(1, 'typo')", &[])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let forged = clerk.execute("UPDATE bill SET status = 'void'", &[]).await;
    assert!(forged.is_err(), "bills change only through their functions");
    let supervisor = desk.supervisor.get().await.unwrap();
    assert_eq!(
        readings::void_bill(&**supervisor, 1, "typed 1100 for 110")
            .await
            .unwrap(),
        VoidOutcome::Voided
    );
    let bills = readings::bills(&**clerk, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bills.arrears(), Money::ZERO);
    assert_eq!(
        bills.bills[0].void_reason.as_deref(),
        Some("typed 1100 for 110")
    );
    // The corrected reading follows the initial one again.
    let corrected = enter(&desk.clerk, "fixed", &reading(1, "2025-02-10", "110")).await;
    assert!(
        matches!(corrected, ReadingOutcome::Recorded { bill: Some(amount), .. } if amount == money("10.00"))
    );
    deposit(&desk, desk.postpaid, "10.00").await;
    readings::pay_bills(&**clerk, "pay", &[2], money("10.00"))
        .await
        .unwrap();
    assert_eq!(
        readings::void_bill(&**supervisor, 2, "late").await.unwrap(),
        VoidOutcome::Paid
    );
    let audit: i64 = desk.owner.query_one(
        "SELECT count(*) AS n FROM audit_log WHERE action IN ('reading.enter', 'bill.void', 'bill.pay')", &[]).await.unwrap().get("n");
    assert_eq!(audit, 4);
}

/// A bill loaded without readings (history, the demo data) is where the next reading starts,
/// and its volume counts: in its own cycle the reading extends it, priced as a whole.
#[tokio::test]
async fn a_bill_without_readings_is_where_readings_start() {
    let desk = desk().await;
    desk.owner
        .batch_execute(
            "INSERT INTO bill (account_id, period_start, period_end, previous_reading,
                               current_reading, volume, amount)
             SELECT id, '2025-04-01', '2025-06-30', 100, 140, 40, 40.00 FROM account
             WHERE customer_id = 1",
        )
        .await
        .unwrap();
    let client = desk.clerk.get().await.unwrap();
    let context = readings::reading_context(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.previous.electronic, m3("140"));
    // 20 m³ more in the same cycle: 60 m³ from 0, 10 of them in the second tier.
    let outcome = enter(&desk.clerk, "r", &reading(1, "2025-05-20", "160")).await;
    assert!(
        matches!(outcome, ReadingOutcome::Recorded { bill: Some(amount), .. } if amount == money("70.00")),
        "{outcome:?}"
    );
}

fn csv(body: &str) -> ReadingCsv {
    parse_reading_csv(&format!("{READING_CSV_TEMPLATE}{body}"))
}

async fn import(pool: &Pool, key: Option<&str>, file: &ReadingCsv) -> ImportReport {
    let mut client = pool.get().await.unwrap();
    readings::import_readings(&mut client, key, file)
        .await
        .unwrap()
}

/// How many readings are stored.
async fn readings_stored(desk: &Desk) -> i64 {
    desk.owner
        .query_one("SELECT count(*) AS n FROM meter_reading", &[])
        .await
        .unwrap()
        .get("n")
}

/// An import's bad lines: each line number with its problems.
fn bad_lines(report: &ImportReport) -> Vec<(usize, Vec<ReadingProblem>)> {
    report
        .bad
        .iter()
        .map(|bad| (bad.line, bad.problems.clone()))
        .collect()
}

/// How many readings came from an import file.
async fn readings_imported(desk: &Desk) -> i64 {
    desk.owner
        .query_one(
            "SELECT count(*) AS n FROM meter_reading WHERE source = 'import'",
            &[],
        )
        .await
        .unwrap()
        .get("n")
}

/// The import file: checked without writing, every bad line once with its number, abnormal
/// ones listed; then imported exactly once, the good lines making bills and deductions.
#[tokio::test]
async fn readings_are_imported_from_a_file() {
    let desk = desk().await;
    deposit(&desk, desk.prepaid, "100.00").await;
    let file = csv("PM-0001,2025-02-10,112,,\n\
         PM-0001,2025-03-20,130,,\n\
         PM-0002,2025-03-01,4,,\n\
         NO-SUCH,2025-03-01,1,,\n\
         PM-0001,2025-05-15,129,,\n\
         PM-0002,2025-04-01,404,,\n\
         PM-0002,2025-04-01,5,,\n\
         PM-0001,2025-13-01,x,,maybe\n");
    let checked = import(&desk.clerk, None, &file).await;
    let bad = bad_lines(&checked);
    assert_eq!(
        bad,
        [
            (5, vec![ReadingProblem::UnknownMeter("NO-SUCH".into())]),
            (
                6,
                vec![ReadingProblem::Reading(ReadingError::BelowPrevious {
                    previous: m3("130")
                })]
            ),
            (
                7,
                vec![ReadingProblem::SameDay {
                    meter_no: "PM-0002".into(),
                    other_lines: vec![8]
                }]
            ),
            (
                8,
                vec![ReadingProblem::SameDay {
                    meter_no: "PM-0002".into(),
                    other_lines: vec![7]
                }]
            ),
            (
                9,
                vec![
                    ReadingProblem::Date("2025-13-01".into()),
                    ReadingProblem::Electronic(
                        meterdesk::domain::validation::FieldError::NotANumber {
                            example: rust_decimal::Decimal::new(1_234_567, 3)
                        }
                    ),
                    ReadingProblem::Rollover
                ]
            ),
        ]
    );
    assert_eq!(checked.good, 3);
    assert!(!checked.written);
    let written = readings_stored(&desk).await;
    assert_eq!(written, 0, "a check writes nothing");

    let imported = import(&desk.clerk, Some("file-1"), &file).await;
    assert_eq!(
        (imported.good, imported.written, imported.bad.len()),
        (3, true, 5)
    );
    assert_eq!(
        import(&desk.clerk, Some("file-1"), &file).await.good,
        3,
        "exactly once"
    );
    let client = desk.clerk.get().await.unwrap();
    let bills = readings::bills(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bills.bills.len(), 1);
    assert_eq!(bills.bills[0].amount, money("30.00"));
    // 4 m³ at 2.50 deducted at once.
    assert_eq!(
        balance(&desk, desk.prepaid).await,
        "90.00".parse::<Decimal>().unwrap()
    );
    assert_eq!(readings_imported(&desk).await, 3);
    let audit: i64 = desk
        .owner
        .query_one(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'reading.import'",
            &[],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(audit, 1);
}

/// The statements a desk prepared on its one connection, each with how often it ran a generic
/// and a custom plan (pg_prepared_statements).
async fn plans_kept(pool: &Pool) -> Vec<(String, i64, i64)> {
    pool.get()
        .await
        .unwrap()
        .query_uncached(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             ORDER BY statement",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get("statement"),
                row.get("generic_plans"),
                row.get("custom_plans"),
            )
        })
        .collect()
}

/// sql/V48: a reading at the counter is planned once per connection. Since sql/V76 a reading is
/// one statement, the call of `reading_enter`, whose every statement — the look-up of a re-sent
/// entry, the lock, the meter's book, the prices, the write — keeps a generic plan (its SET
/// clause); an import after three readings is planned for its file (a custom plan of each).
/// The readings are the manual's bill all the same.
#[tokio::test]
async fn a_counter_reading_keeps_its_plans_and_an_import_does_not() {
    let desk = desk().await;
    let one = meterdesk::db::pool_from_conn_str(&desk.db.operator_conn_str("clerk"), 1).unwrap();
    for (n, (on, value)) in [
        ("2025-02-10", "112"),
        ("2025-02-20", "120"),
        ("2025-03-20", "130"),
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = enter(&one, &format!("kept-{n}"), &reading(1, on, value)).await;
        assert!(
            matches!(outcome, ReadingOutcome::Recorded { .. }),
            "{outcome:?}"
        );
    }
    let counter = plans_kept(&one).await;
    assert!(
        matches!(counter.as_slice(), [(text, _, 3)] if text.contains("FROM reading_enter(")),
        "{counter:#?}"
    );
    let settings: Vec<String> = desk
        .owner
        .query_one(
            "SELECT proconfig FROM pg_proc WHERE proname = 'reading_enter'",
            &[],
        )
        .await
        .unwrap()
        .get("proconfig");
    assert!(
        settings.contains(&"plan_cache_mode=force_generic_plan".to_owned()),
        "{settings:?}"
    );
    let client = one.get().await.unwrap();
    let bill = readings::bills(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bill.arrears(), money("30.00"));
    drop(client);

    let imported = import(&one, Some("after"), &csv("PM-0001,2025-03-25,131,,\n")).await;
    assert!(imported.written && imported.bad.is_empty(), "{imported:?}");
    let after = plans_kept(&one).await;
    let write = after
        .iter()
        .find(|(text, _, _)| text.contains("SELECT reading_write("))
        .unwrap();
    assert_eq!((write.1, write.2), (0, 1), "{after:#?}");
}

/// 100 000 postpaid meters read once each: checked and imported, one bill each. The times are
/// printed (`--nocapture`), never asserted: a loaded machine is no verdict on the code.
#[tokio::test]
async fn importing_100000_readings_bills_every_meter() {
    let desk = desk().await;
    desk.owner
        .batch_execute(
            "BEGIN;
             SET LOCAL statement_timeout = 0;
             INSERT INTO meter (meter_no, meter_type_id, status)
             SELECT 'R' || lpad(n::text, 8, '0'), 1, 'installed' FROM generate_series(1, 100000) n;
             INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name,
                                   address, phone, meter_id, meter_type_id)
             SELECT 20000000 + m.id, 1, 'personal', 'postpaid', 'Reader ' || m.id, 'Street 1',
                    '13800000000', m.id, 1
             FROM meter m WHERE m.meter_no LIKE 'R%';
             INSERT INTO account (customer_id, kind)
             SELECT id, 'postpaid' FROM customer WHERE customer_no > 20000000;
             COMMIT;",
        )
        .await
        .unwrap();
    let mut text = String::from(READING_CSV_TEMPLATE);
    for n in 1..=100_000 {
        text.push_str(&format!("R{n:08},2025-03-01,{}.5,,\n", n % 90));
    }
    let started = std::time::Instant::now();
    let file = parse_reading_csv(&text);
    let parsed = started.elapsed();
    assert_eq!((file.rows.len(), file.bad.len()), (100_000, 0));
    let checked = import(&desk.clerk, None, &file).await;
    let check_time = started.elapsed() - parsed;
    assert_eq!((checked.good, checked.bad.len()), (100_000, 0));
    let imported = import(&desk.clerk, Some("big"), &file).await;
    println!(
        "100 000 readings: parse {parsed:?}, check {check_time:?}, total {:?}",
        started.elapsed()
    );
    assert!(imported.written);
    let bills: i64 = desk
        .owner
        .query_one("SELECT count(*) AS n FROM bill", &[])
        .await
        .unwrap()
        .get("n");
    assert_eq!(bills, 100_000);
}

/// A long file is priced by the desk between the import's statements, inside its transaction:
/// on a busy server that outlasts the pool's idle-in-transaction deadline (30 s), and the
/// server ended the session ("connection closed"). The import sets its own; here the session
/// allows 1 ms idle, which the loop over 20 000 lines exceeds.
#[tokio::test]
async fn an_import_keeps_its_transaction_while_the_desk_prices_the_file() {
    let desk = desk().await;
    let mut body = String::from("PM-0001,2025-02-10,112,,\n");
    for n in 0..20_000 {
        body.push_str(&format!("NO-SUCH-{n},2025-03-01,1,,\n"));
    }
    let file = csv(&body);
    let mut client = desk.clerk.get().await.unwrap();
    client
        .batch_execute("SET idle_in_transaction_session_timeout = '1ms'")
        .await
        .unwrap();
    let imported = readings::import_readings(&mut client, Some("slow"), &file)
        .await
        .unwrap();
    assert!(imported.written);
    assert_eq!((imported.good, imported.bad.len()), (1, 20_000));
    assert_eq!(readings_imported(&desk).await, 1);
}

/// What the database itself refuses, whoever calls (psql included): an operator without
/// `reading.enter` or `account.pay_bills`, a reading that does not follow the meter's latest,
/// and one that names another customer's account.
#[tokio::test]
async fn the_database_refuses_forged_readings_and_payments() {
    let desk = desk().await;
    desk.db.create_operator("admin", &["administrator"]).await;
    let admin = desk.db.pool_of("admin").get().await.unwrap();
    let refused = |result: Result<u64, tokio_postgres::Error>| {
        result
            .unwrap_err()
            .code()
            .cloned()
            .expect("a refusal by the server")
    };
    let forged = |previous_id: &str, account_id: i64| {
        format!(
            "SELECT reading_write('forged', 'counter', '[]', '[{{\"seq\": 0, \"line\": 1, \
             \"meter_id\": 1, \"customer_id\": {customer}, \"account_id\": {account_id}, \
             \"read_on\": \"2025-02-01\", \"electronic\": \"110\", \"previous_id\": {previous_id}, \
             \"previous\": \"100\", \"consumption\": \"10\", \"abnormal\": false}}]')",
            customer = desk.postpaid
        )
    };
    let account: i64 = desk
        .owner
        .query_one(
            "SELECT id FROM account WHERE customer_id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap()
        .get("id");
    let other_account: i64 = desk
        .owner
        .query_one(
            "SELECT id FROM account WHERE customer_id = $1",
            &[&desk.prepaid],
        )
        .await
        .unwrap()
        .get("id");
    assert_eq!(
        refused(admin.execute(&forged("null", account), &[]).await),
        SqlState::INSUFFICIENT_PRIVILEGE
    );
    assert_eq!(
        refused(
            admin
                .execute("SELECT bill_pay('k', ARRAY[1]::bigint[], 0)", &[])
                .await
        ),
        SqlState::INSUFFICIENT_PRIVILEGE
    );
    let clerk = desk.clerk.get().await.unwrap();
    assert_eq!(
        refused(clerk.execute(&forged("null", other_account), &[]).await),
        SqlState::CHECK_VIOLATION
    );
    enter(&desk.clerk, "real", &reading(1, "2025-01-20", "105")).await;
    assert_eq!(
        refused(clerk.execute(&forged("null", account), &[]).await),
        SqlState::T_R_SERIALIZATION_FAILURE,
        "the reading must follow the one entered meanwhile"
    );
    assert_eq!(
        refused(
            clerk
                .execute("INSERT INTO meter_reading (meter_id) VALUES (1)", &[])
                .await
        ),
        SqlState::INSUFFICIENT_PRIVILEGE
    );
    // Dated after today: the desk refuses it (`a_reading_dated_after_today_is_refused`), and
    // so does the table, whoever writes (a clerk's forged call is refused earlier, unpriced).
    let ahead = desk
        .owner
        .execute(
            "INSERT INTO meter_reading (meter_id, customer_id, read_on, electronic, source, \
                                        previous_id, previous, consumption, idempotency_key) \
             SELECT meter_id, customer_id, current_date + 1, electronic, source, id, electronic, \
                    0, 'ahead' \
             FROM meter_reading ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        ahead.as_db_error().and_then(|error| error.constraint()),
        Some("meter_reading_not_after_today"),
        "{ahead:?}"
    );
    let kept = readings_stored(&desk).await;
    assert_eq!(kept, 1);
}

/// The postpaid customer's two unpaid bills: 30.00 (1st quarter, bill 1) and 100.00 (2nd,
/// bill 2, its reading confirmed abnormal).
async fn two_bills(desk: &Desk) {
    enter(&desk.clerk, "r1", &reading(1, "2025-03-20", "130")).await;
    let mut q2 = reading(1, "2025-05-15", "190");
    q2.abnormal_confirmed = true;
    enter(&desk.clerk, "r2", &q2).await;
}

/// A deposit paying bills is one round trip with its receipt (sql/V79's `money_move`: the
/// key's lock and look-up, the account's check, the receipt, the ledger row, its audit entry,
/// the bills paid, the commit and the receipt read back as recorded — nine round trips before).
/// Counted on the clerk's one connection once its statement is prepared.
#[tokio::test]
async fn a_deposit_paying_bills_is_one_round_trip_with_its_receipt() {
    let desk = desk().await;
    two_bills(&desk).await;
    let relay = StallingRelay::start(&desk.db);
    let through_relay = desk.db.as_operator(&relay.conn_str, "clerk");
    let mut clerk = pool_from_conn_str(&through_relay, 1)
        .unwrap()
        .get()
        .await
        .unwrap();
    let mut turns = Vec::new();
    for (key, bill, amount) in [("dep-q1", 1, "30.00"), ("dep-q2", 2, "100.00")] {
        let paying = MoneyMove {
            customer_id: desk.postpaid,
            movement: Movement::Deposit,
            amount: money(amount),
            method: "cash".into(),
            pays: Some(BillsToPay {
                bill_ids: vec![bill],
                total: money(amount),
            }),
        };
        relay.take_turns();
        let moved = accounts::move_money(&mut clerk, key, &paying)
            .await
            .unwrap();
        turns.push(relay.take_turns());
        let MoveOutcome::Moved { receipt_no } = moved.outcome else {
            panic!("{moved:?}")
        };
        let recorded = receipts::receipt(&**desk.owner, receipt_no).await.unwrap();
        assert_eq!(
            moved.receipt.as_deref(),
            recorded.as_ref(),
            "the receipt as recorded"
        );
    }
    assert_eq!(turns[1], 1, "round trips: {turns:?}");
    assert_eq!(balance(&desk, desk.postpaid).await, Decimal::ZERO);
}

/// A deposit at the counter pays the chosen bills in the same step (`accounts::move_money`
/// with `pays`): one transaction, one receipt listing the deposit and each bill, exactly once
/// by its key; bills changed since are refused with nothing written, and a receipt of another
/// payment cannot be borrowed by `bill_pay`.
#[tokio::test]
async fn a_deposit_pays_the_chosen_bills_on_one_receipt_exactly_once() {
    let desk = desk().await;
    two_bills(&desk).await;
    deposit(&desk, desk.postpaid, "50.00").await;
    let depositing = |amount: &str, total: &str| MoneyMove {
        customer_id: desk.postpaid,
        movement: Movement::Deposit,
        amount: money(amount),
        method: "cash".into(),
        pays: Some(BillsToPay {
            bill_ids: vec![1, 2],
            total: money(total),
        }),
    };
    let mut clerk = desk.clerk.get().await.unwrap();
    // Too little with the balance (50 + 70 < 130): nothing at all is written.
    assert_eq!(
        accounts::move_money(&mut clerk, "dep-short", &depositing("70.00", "130.00"))
            .await
            .unwrap()
            .outcome,
        MoveOutcome::Refused(MoveRefusal::BillsNotCovered)
    );
    // A total other than the bills' (one was extended since it was shown).
    assert_eq!(
        accounts::move_money(&mut clerk, "dep-old", &depositing("80.00", "120.00"))
            .await
            .unwrap()
            .outcome,
        MoveOutcome::Refused(MoveRefusal::BillsChanged)
    );
    assert_eq!(balance(&desk, desk.postpaid).await, Decimal::new(5000, 2));
    let paying = depositing("80.00", "130.00");
    let moved = accounts::move_money(&mut clerk, "dep-pays", &paying)
        .await
        .unwrap()
        .outcome;
    let MoveOutcome::Moved { receipt_no } = moved else {
        panic!("{moved:?}")
    };
    assert_eq!(
        accounts::move_money(&mut clerk, "dep-pays", &paying)
            .await
            .unwrap()
            .outcome,
        moved,
        "exactly once"
    );
    assert_eq!(balance(&desk, desk.postpaid).await, Decimal::ZERO);
    let printed = receipts::receipt(&**clerk, receipt_no)
        .await
        .unwrap()
        .expect("one receipt for both");
    let lines: Vec<_> = printed
        .lines
        .iter()
        .map(|line| (line.kind.as_str(), line.cycle, line.amount))
        .collect();
    assert_eq!(
        lines,
        [
            ("deposit", None, money("80.00")),
            ("bill_payment", Some(day("2025-01-01")), money("-30.00")),
            ("bill_payment", Some(day("2025-04-01")), money("-100.00"))
        ]
    );
    assert_eq!(
        printed.method.as_ref().map(|m| m.code.as_str()),
        Some("cash")
    );
    let receipts_made: i64 = desk
        .owner
        .query_one("SELECT count(*) AS n FROM receipt", &[])
        .await
        .unwrap()
        .get("n");
    assert_eq!(receipts_made, 1, "refused attempts leave no receipt");
    // bill_pay takes no receipt this operator did not take in the same transaction.
    let third = enter(&desk.clerk, "r3", &reading(1, "2025-08-15", "200")).await;
    assert!(
        matches!(third, ReadingOutcome::Recorded { .. }),
        "{third:?}"
    );
    deposit(&desk, desk.postpaid, "20.00").await;
    let borrowed = clerk
        .execute(
            "SELECT bill_pay('borrow', array_agg(id), sum(amount), $1)
             FROM bill WHERE status = 'unpaid'",
            &[&receipt_no],
        )
        .await
        .unwrap_err();
    assert_eq!(borrowed.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    drop(desk.db);
}

/// sql/V54: a payment of several bills posts them in one statement, so the ledger's statement
/// triggers run once a payment, not once a bill; the rows are the loop's: oldest cycle first,
/// each bill's amount, and both bills paid.
#[tokio::test]
async fn a_payment_of_two_bills_posts_them_in_one_statement() {
    let desk = desk().await;
    two_bills(&desk).await;
    deposit(&desk, desk.postpaid, "150.00").await;
    desk.owner
        .batch_execute(
            "CREATE TABLE ledger_statements (at timestamptz NOT NULL);
             CREATE FUNCTION ledger_statement_counted() RETURNS trigger
             LANGUAGE plpgsql SECURITY DEFINER AS $$
             BEGIN
                 INSERT INTO ledger_statements VALUES (clock_timestamp());
                 RETURN NULL;
             END $$;
             CREATE TRIGGER ledger_statement_counted AFTER INSERT ON ledger_transaction
             FOR EACH STATEMENT EXECUTE FUNCTION ledger_statement_counted();",
        )
        .await
        .unwrap();
    let client = desk.clerk.get().await.unwrap();
    let paid = readings::pay_bills(&**client, "pay-two", &[2, 1], money("130.00"))
        .await
        .unwrap();
    assert!(matches!(paid, PayOutcome::Paid { .. }), "{paid:?}");
    let statements: i64 = desk
        .owner
        .query_one("SELECT count(*) AS n FROM ledger_statements", &[])
        .await
        .unwrap()
        .get("n");
    assert_eq!(statements, 1, "one INSERT for both bills");
    let posted: Vec<(i64, Decimal)> = desk
        .owner
        .query(
            "SELECT bill_id, amount FROM ledger_transaction WHERE kind = 'bill_payment' ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("bill_id"), row.get("amount")))
        .collect();
    assert_eq!(
        posted,
        [(1, Decimal::new(-3000, 2)), (2, Decimal::new(-10000, 2))]
    );
    let unpaid: i64 = desk
        .owner
        .query_one("SELECT count(*) AS n FROM bill WHERE status <> 'paid'", &[])
        .await
        .unwrap()
        .get("n");
    assert_eq!(unpaid, 0);
    assert_eq!(balance(&desk, desk.postpaid).await, Decimal::new(2000, 2));
    drop(desk.db);
}

/// sql/V74: a deposit's bill payment checks that its receipt pays no other bills by the
/// receipt's own entry, not by reading every payment ever made (a district's years of them).
#[tokio::test]
async fn a_deposit_paying_bills_reads_no_other_payment() {
    let desk = desk().await;
    two_bills(&desk).await;
    deposit(&desk, desk.postpaid, "150.00").await;
    desk.owner
        .execute(
            "WITH earlier AS (
                 INSERT INTO receipt (receipt_no, customer_id, operator_id)
                 SELECT nextval('receipt_no_seq'), $1, (SELECT min(id) FROM operator)
                 FROM generate_series(1, 2000)
                 RETURNING receipt_no)
             INSERT INTO bill_payment_applied SELECT 'earlier-' || receipt_no, receipt_no
             FROM earlier",
            &[&desk.postpaid],
        )
        .await
        .unwrap();
    desk.owner
        .batch_execute("ANALYZE bill_payment_applied")
        .await
        .unwrap();
    let clerk = desk.clerk.get().await.unwrap();
    clerk.batch_execute("BEGIN").await.unwrap();
    let receipt_no: i64 = clerk
        .query_one(
            "INSERT INTO receipt (receipt_no, customer_id, operator_id)
             VALUES (nextval('receipt_no_seq'), $1, current_operator_id())
             RETURNING receipt_no",
            &[&desk.postpaid],
        )
        .await
        .unwrap()
        .get("receipt_no");
    clerk
        .execute(
            "SELECT bill_pay('pays', ARRAY[1, 2]::bigint[], 130.00, $1)",
            &[&receipt_no],
        )
        .await
        .unwrap();
    let read = rows_read_in_transaction(&clerk, "bill_payment_applied").await;
    clerk.batch_execute("COMMIT").await.unwrap();
    assert_eq!(read, 0, "bill_pay read {read} earlier payments");
    assert_eq!(balance(&desk, desk.postpaid).await, Decimal::new(2000, 2));
    drop(desk.db);
}

/// The readings' lists among the daily reports: the abnormal consumptions read on a day and
/// the low balances, to a supervisor; the database refuses them to a clerk.
#[tokio::test]
async fn abnormal_consumptions_and_low_balances_are_reports_for_supervisors() {
    use meterdesk::db::shifts::{self, Report, ReportKind, Window};
    let desk = desk().await;
    let meter: i64 = desk
        .owner
        .query_one(
            "SELECT meter_id FROM customer WHERE id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap()
        .get("meter_id");
    enter(&desk.clerk, "r-1", &reading(meter, "2025-01-10", "110")).await;
    let mut big = reading(meter, "2025-02-10", "210");
    big.abnormal_confirmed = true;
    assert!(matches!(
        enter(&desk.clerk, "r-2", &big).await,
        ReadingOutcome::Recorded { abnormal: true, .. }
    ));
    let prepaid_meter: i64 = desk
        .owner
        .query_one(
            "SELECT meter_id FROM customer WHERE id = $1",
            &[&desk.prepaid],
        )
        .await
        .unwrap()
        .get("meter_id");
    enter(
        &desk.clerk,
        "r-3",
        &reading(prepaid_meter, "2025-02-10", "2"),
    )
    .await;

    let window = Window::of_day(day("2025-02-10"), chrono::FixedOffset::east_opt(0).unwrap());
    let supervisor = desk.supervisor.get().await.unwrap();
    let Report::Abnormal(abnormal) =
        shifts::report_of(&**supervisor, ReportKind::Abnormal, &window)
            .await
            .unwrap()
    else {
        panic!("the abnormal consumptions");
    };
    assert_eq!(
        abnormal
            .iter()
            .map(|row| (row.consumption, row.read_on))
            .collect::<Vec<_>>(),
        [(m3("100"), day("2025-02-10"))]
    );
    let other_day = Window::of_day(day("2025-01-10"), chrono::FixedOffset::east_opt(0).unwrap());
    assert_eq!(
        shifts::report_of(&**supervisor, ReportKind::Abnormal, &other_day)
            .await
            .unwrap(),
        Report::Abnormal(vec![])
    );
    let Report::LowBalances(low) =
        shifts::report_of(&**supervisor, ReportKind::LowBalances, &window)
            .await
            .unwrap()
    else {
        panic!("the low balances");
    };
    assert_eq!(
        low.iter()
            .map(|row| (row.customer_no, row.balance))
            .collect::<Vec<_>>(),
        [(desk.prepaid_no, money("-5.00"))]
    );
    let clerk = desk.clerk.get().await.unwrap();
    for kind in [ReportKind::Abnormal, ReportKind::LowBalances] {
        assert_eq!(
            shifts::report_of(&**clerk, kind, &window).await.unwrap(),
            Report::NotPermitted
        );
    }
}

/// A meter whose history is bills without readings (loaded from elsewhere, the demo data)
/// follows the last bill's current reading, and says which bill it is.
#[tokio::test]
async fn the_previous_reading_of_bills_without_readings_names_the_bill() {
    let desk = desk().await;
    let client = desk.clerk.get().await.unwrap();
    let before = readings::reading_context(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (before.previous.billed_until, before.previous.electronic),
        (None, m3("100")),
        "the meter's initial reading"
    );
    desk.owner
        .execute(
            "INSERT INTO bill (account_id, period_start, period_end, previous_reading,
                               current_reading, volume, amount, due_date)
             SELECT a.id, '2025-01-01', '2025-03-31', 100, 130, 30, 30.00, '2025-04-30'
             FROM account a WHERE a.customer_id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap();
    let after = readings::reading_context(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            after.previous.id,
            after.previous.billed_until,
            after.previous.electronic
        ),
        (None, Some(day("2025-03-31")), m3("130"))
    );
}

/// What readings write, linked as the screens read it back: a reading follows the meter's
/// previous one, a second reading of the cycle extends its bill, a system-prepaid one is its
/// ledger deduction; each typed reading has an audit row with the reading as priced.
#[tokio::test]
async fn readings_are_linked_to_their_bills_deductions_and_audit() {
    let desk = desk().await;
    enter(&desk.clerk, "r1", &reading(1, "2025-02-10", "112")).await;
    enter(&desk.clerk, "r2", &reading(1, "2025-03-20", "130")).await;
    enter(&desk.clerk, "p1", &reading(2, "2025-03-01", "6")).await;
    let rows = desk
        .owner
        .query(
            "SELECT r.idempotency_key,
                    r.previous_id IS NOT DISTINCT FROM
                        lag(r.id) OVER (PARTITION BY r.meter_id ORDER BY r.id) AS follows,
                    r.previous_id IS NULL AS first, r.bill_id, t.idempotency_key AS deduction,
                    t.amount AS deducted, t.kind
             FROM meter_reading r LEFT JOIN ledger_transaction t ON t.id = r.transaction_id
             ORDER BY r.id",
            &[],
        )
        .await
        .unwrap();
    let bill: i64 = rows[0].get("bill_id");
    let described: Vec<_> = rows
        .iter()
        .map(|row| {
            (
                row.get::<_, String>("idempotency_key"),
                row.get::<_, bool>("follows"),
                row.get::<_, bool>("first"),
                row.get::<_, Option<i64>>("bill_id"),
                row.get::<_, Option<String>>("deduction"),
                row.get::<_, Option<Decimal>>("deducted"),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("r1:1".into(), true, true, Some(bill), None, None),
            ("r2:1".into(), true, false, Some(bill), None, None),
            (
                "p1:1".into(),
                true,
                true,
                None,
                Some("reading:p1:1".into()),
                Some("-15.00".parse().unwrap())
            ),
        ]
    );
    let stored = desk
        .owner
        .query_one(
            "SELECT count(*) OVER () AS bills, previous_reading, current_reading, amount, status
             FROM bill WHERE id = $1",
            &[&bill],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            stored.get::<_, i64>("bills"),
            stored.get::<_, Decimal>("previous_reading"),
            stored.get::<_, Decimal>("current_reading"),
            stored.get::<_, Decimal>("amount"),
            stored.get::<_, String>("status"),
        ),
        (
            1,
            "100".parse().unwrap(),
            "130".parse().unwrap(),
            "30.00".parse().unwrap(),
            "unpaid".into()
        )
    );
    let audit = desk
        .owner
        .query(
            "SELECT l.entity_id, l.operator_id,
                    (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(l.detail->'after') k) AS keys,
                    l.detail->'after'->>'bill_ref' AS bill_ref,
                    (l.detail->'after'->>'previous_id')::bigint AS previous_id,
                    (l.detail->'after'->>'consumption')::numeric AS consumption,
                    (l.detail->'after'->>'amount')::numeric AS amount
             FROM audit_log l WHERE l.action = 'reading.enter' ORDER BY l.id",
            &[],
        )
        .await
        .unwrap();
    let reading_ids: Vec<i64> = desk
        .owner
        .query("SELECT id FROM meter_reading ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("id"))
        .collect();
    let keys: Vec<String> = [
        "abnormal",
        "account_id",
        "amount",
        "bill_ref",
        "consumption",
        "customer_id",
        "electronic",
        "line",
        "mechanical",
        "meter_id",
        "previous",
        "previous_id",
        "read_on",
        "seq",
        "unit_price",
        "volume",
    ]
    .map(String::from)
    .into();
    let audited: Vec<_> = audit
        .iter()
        .map(|row| {
            (
                row.get::<_, Option<i64>>("entity_id"),
                row.get::<_, Option<i64>>("operator_id"),
                row.get::<_, Vec<String>>("keys"),
                row.get::<_, Option<String>>("bill_ref"),
                row.get::<_, Option<i64>>("previous_id"),
                row.get::<_, Decimal>("consumption"),
                row.get::<_, Option<Decimal>>("amount"),
            )
        })
        .collect();
    assert_eq!(
        audited,
        [
            (
                Some(desk.postpaid),
                Some(1),
                keys.clone(),
                Some("n0".into()),
                None,
                "12".parse().unwrap(),
                None
            ),
            (
                Some(desk.postpaid),
                Some(1),
                keys.clone(),
                Some(format!("s{bill}")),
                Some(reading_ids[0]),
                "18".parse().unwrap(),
                None
            ),
            (
                Some(desk.prepaid),
                Some(1),
                keys,
                None,
                None,
                "6".parse().unwrap(),
                Some("15.00".parse().unwrap())
            ),
        ]
    );
}

/// A bill paid after the reading was priced: the call is refused whole (the client enters it
/// again), and nothing of it stays — no reading, no bill, no audit row. So is a bill of an
/// account none of the readings is of.
#[tokio::test]
async fn a_reading_on_a_bill_paid_meanwhile_is_refused_and_writes_nothing() {
    let desk = desk().await;
    enter(&desk.clerk, "r1", &reading(1, "2025-02-10", "112")).await;
    let first = desk
        .owner
        .query_one(
            "SELECT r.id, r.bill_id, a.id AS account_id FROM meter_reading r
             JOIN account a ON a.customer_id = r.customer_id",
            &[],
        )
        .await
        .unwrap();
    let (reading_id, bill, account): (i64, i64, i64) = (
        first.get("id"),
        first.get("bill_id"),
        first.get("account_id"),
    );
    let counts = || async {
        let row = desk
            .owner
            .query_one(
                "SELECT (SELECT count(*) FROM meter_reading) AS readings,
                        (SELECT count(*) FROM bill) AS bills,
                        (SELECT count(*) FROM audit_log WHERE action = 'reading.enter') AS audited",
                &[],
            )
            .await
            .unwrap();
        ["readings", "bills", "audited"].map(|column| row.get::<_, i64>(column))
    };
    let before = counts().await;
    // Priced while the bill was open (at the scheme's price, which the database checks): it
    // extends the bill, and a reading of the next cycle makes a new one.
    let part = |accumulated: &str, volume: &str, amount: &str, vat: &str| {
        format!(
            r#"{{"parts": [{{"prices_from": "2025-01-01", "accumulated_before": "{accumulated}",
                "volume": "{volume}", "amount": "{amount}", "vat": "{vat}", "tiers": [{{"tier": 1,
                "volume": "{volume}", "unit_price": "1.0000", "amount": "{amount}"}}]}}]}}"#
        )
    };
    let bills = format!(
        r#"[{{"ref": "s{bill}", "bill_id": {bill}, "account_id": {account},
             "period_start": "2025-01-01", "period_end": "2025-03-31", "due_date": "2025-04-30",
             "previous_reading": "100", "current_reading": "130", "volume": "30",
             "amount": "30.00", "vat": "2.48", "price_version_id": 1, "detail": {q1}}},
            {{"ref": "n0", "bill_id": null, "account_id": {account},
             "period_start": "2025-04-01", "period_end": "2025-06-30", "due_date": "2025-07-30",
             "previous_reading": "130", "current_reading": "140", "volume": "10",
             "amount": "10.00", "vat": "0.83", "price_version_id": 1, "detail": {q2}}}]"#,
        q1 = part("0.000", "30.000", "30.00", "2.48"),
        q2 = part("30.000", "10.000", "10.00", "0.83"),
    );
    let readings = format!(
        r#"[{{"seq": 0, "line": 1, "meter_id": 1, "customer_id": {customer},
             "account_id": {account}, "read_on": "2025-03-20", "electronic": "130",
             "previous_id": {reading_id}, "previous": "112", "consumption": "18",
             "abnormal": false, "bill_ref": "s{bill}"}},
            {{"seq": 1, "line": 2, "meter_id": 1, "customer_id": {customer},
             "account_id": {account}, "read_on": "2025-04-20", "electronic": "140",
             "previous": "130", "consumption": "10", "abnormal": false, "bill_ref": "n0"}}]"#,
        customer = desk.postpaid
    );
    let clerk = desk.clerk.get().await.unwrap();
    // A bill of an account no reading names is refused, not written.
    let prepaid_account: i64 = desk
        .owner
        .query_one(
            "SELECT id FROM account WHERE customer_id = $1",
            &[&desk.prepaid],
        )
        .await
        .unwrap()
        .get("id");
    let foreign = bills.replace(
        &format!(r#""ref": "n0", "bill_id": null, "account_id": {account}"#),
        &format!(r#""ref": "n0", "bill_id": null, "account_id": {prepaid_account}"#),
    );
    assert_ne!(foreign, bills);
    let refused = clerk
        .execute(
            "SELECT reading_write('forged', 'counter', $1::text::jsonb, $2::text::jsonb)",
            &[&foreign, &readings],
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(&SqlState::CHECK_VIOLATION));
    assert_eq!(counts().await, before);

    desk.owner
        .execute(
            "UPDATE bill SET status = 'paid', paid_at = now() WHERE id = $1",
            &[&bill],
        )
        .await
        .unwrap();
    let refused = clerk
        .execute(
            "SELECT reading_write('late', 'counter', $1::text::jsonb, $2::text::jsonb)",
            &[&bills, &readings],
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(&SqlState::T_R_SERIALIZATION_FAILURE));
    assert_eq!(counts().await, before);

    // The same call on the open bill is written: both readings, the bill extended, one made.
    desk.owner
        .execute(
            "UPDATE bill SET status = 'unpaid', paid_at = NULL WHERE id = $1",
            &[&bill],
        )
        .await
        .unwrap();
    clerk
        .execute(
            "SELECT reading_write('late', 'counter', $1::text::jsonb, $2::text::jsonb)",
            &[&bills, &readings],
        )
        .await
        .unwrap();
    assert_eq!(
        counts().await,
        [before[0] + 2, before[1] + 1, before[2] + 1]
    );
}

/// Asserts that `customer`'s readings are of `consumptions` m³ (in order), each on no bill and
/// with no ledger row, and that its account has no bill, no ledger row and a balance of 0.
async fn only_water_recorded(desk: &Desk, customer: &NonCharging, consumptions: &[&str]) {
    let readings: Vec<(Decimal, bool, bool)> = desk
        .owner
        .query(
            "SELECT consumption, bill_id IS NOT NULL AS billed,
                    transaction_id IS NOT NULL AS deducted
             FROM meter_reading WHERE customer_id = $1 ORDER BY id",
            &[&customer.customer_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.get("consumption"),
                row.get("billed"),
                row.get("deducted"),
            )
        })
        .collect();
    let water: Vec<(Decimal, bool, bool)> = consumptions
        .iter()
        .map(|used| (used.parse().unwrap(), false, false))
        .collect();
    assert_eq!(readings, water);
    let account = desk
        .owner
        .query_one(
            "SELECT (SELECT count(*) FROM bill WHERE account_id = $1) AS bills,
                    (SELECT count(*) FROM ledger_transaction WHERE account_id = $1) AS rows,
                    (SELECT balance FROM account WHERE id = $1) AS balance",
            &[&customer.account_id],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            account.get::<_, i64>("bills"),
            account.get::<_, i64>("rows"),
            account.get::<_, Decimal>("balance"),
        ),
        (0, 0, Decimal::ZERO)
    );
}

/// A statistical district meter's type counts water and charges nothing (no price scheme): its
/// readings are recorded with their water — the previous reading, rollovers and the abnormal
/// check as for any meter — and make no bill and no deduction, postpaid or system-prepaid, and
/// whether the type counts water usage or not. The same key answers as the first time. A type
/// that charges and has no price on the date is still refused.
#[tokio::test]
async fn a_type_that_does_not_charge_has_its_readings_recorded_and_nothing_billed() {
    let mut desk = desk().await;
    let district = non_charging(&mut desk, "postpaid", true, "ST-0001").await;
    let hydrant = non_charging(&mut desk, "system_prepaid", false, "ST-0002").await;
    let not_charged = |consumption: &str, abnormal| ReadingOutcome::Recorded {
        consumption: m3(consumption),
        abnormal,
        bill: None,
        deducted: None,
    };
    let first = enter(
        &desk.clerk,
        "s1",
        &reading(district.meter_id, "2025-02-10", "12.5"),
    )
    .await;
    assert_eq!(first, not_charged("12.5", false));
    assert_eq!(
        enter(
            &desk.clerk,
            "s1",
            &reading(district.meter_id, "2025-02-10", "12.5")
        )
        .await,
        first,
        "exactly once, answered as the first time"
    );
    assert_eq!(
        enter(
            &desk.clerk,
            "s2",
            &reading(district.meter_id, "2025-03-10", "20")
        )
        .await,
        not_charged("7.5", false)
    );
    assert_eq!(
        enter(
            &desk.clerk,
            "s3",
            &reading(district.meter_id, "2025-04-10", "19")
        )
        .await,
        ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::BelowPrevious {
            previous: m3("20")
        }))
    );
    // The register wraps at 100: 80 m³ to the wrap, then 3; above 3 × the average of 10.
    let mut wrapped = reading(district.meter_id, "2025-04-10", "3");
    wrapped.rollover = true;
    assert_eq!(
        enter(&desk.clerk, "s3", &wrapped).await,
        ReadingOutcome::Refused(ReadingRefusal::Abnormal {
            consumption: m3("83")
        })
    );
    wrapped.abnormal_confirmed = true;
    assert_eq!(
        enter(&desk.clerk, "s4", &wrapped).await,
        not_charged("83", true)
    );
    assert_eq!(
        enter(
            &desk.clerk,
            "h1",
            &reading(hydrant.meter_id, "2025-03-01", "6")
        )
        .await,
        not_charged("6", false)
    );
    // An account being closed takes its final reading like any other, and then nothing
    // stands in the way of closing it (its final reading was refused for no price before).
    let mut last = reading(hydrant.meter_id, "2025-03-31", "6.5");
    last.source = ReadingSource::Final;
    assert_eq!(
        enter(&desk.clerk, "h2", &last).await,
        not_charged("0.5", false)
    );
    let blocker: Option<String> = desk
        .owner
        .query_one(
            "SELECT customer_close_blocker($1) AS blocker",
            &[&hydrant.customer_id],
        )
        .await
        .unwrap()
        .get("blocker");
    assert_eq!(blocker, None);
    only_water_recorded(&desk, &district, &["12.5", "7.5", "83"]).await;
    only_water_recorded(&desk, &hydrant, &["6", "0.5"]).await;
    let audited: i64 = desk
        .owner
        .query_one(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'reading.enter'
             AND entity_id IN ($1, $2)",
            &[&district.customer_id, &hydrant.customer_id],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(audited, 5, "each reading recorded has its audit entry");
    // The abnormal one is on the supervisors' list like any other.
    let supervisor = desk.supervisor.get().await.unwrap();
    let abnormal = readings::abnormal_between(&**supervisor, day("2025-04-10"), day("2025-04-10"))
        .await
        .unwrap();
    assert_eq!(
        abnormal
            .iter()
            .map(|row| row.meter_no.as_str())
            .collect::<Vec<_>>(),
        ["ST-0001"]
    );

    // The charging types still bill and deduct; one whose scheme has no price on the date is
    // still refused: that is a configuration to fix, not a type that does not charge.
    assert!(matches!(
        enter(&desk.clerk, "c1", &reading(1, "2025-02-10", "112")).await,
        ReadingOutcome::Recorded {
            bill: Some(_),
            deducted: None,
            ..
        }
    ));
    assert_eq!(
        enter(&desk.clerk, "c2", &reading(2, "2024-12-31", "4")).await,
        ReadingOutcome::Refused(ReadingRefusal::NoPrice)
    );
}

/// An import file mixing meters whose types charge with meters whose types do not: one
/// transaction; the charging ones billed and deducted, the others recorded with their water
/// and nothing else; the check and the import agree.
#[tokio::test]
async fn an_import_mixes_charging_and_non_charging_meters() {
    let mut desk = desk().await;
    let district = non_charging(&mut desk, "postpaid", true, "ST-0001").await;
    let hydrant = non_charging(&mut desk, "system_prepaid", false, "ST-0002").await;
    deposit(&desk, desk.prepaid, "100.00").await;
    let file = csv("PM-0001,2025-02-10,112,,\n\
         ST-0001,2025-02-10,40,,\n\
         PM-0002,2025-03-01,4,,\n\
         ST-0002,2025-03-01,9.25,,\n\
         ST-0001,2025-03-10,55.5,,\n\
         PM-0001,2025-03-20,130,,\n");
    let checked = import(&desk.clerk, None, &file).await;
    assert_eq!(
        (checked.good, checked.bad.clone(), checked.written),
        (6, vec![], false)
    );
    let imported = import(&desk.clerk, Some("mixed"), &file).await;
    assert_eq!(
        (imported.good, imported.bad.clone(), imported.written),
        (6, vec![], true)
    );
    let client = desk.clerk.get().await.unwrap();
    let bills = readings::bills(&**client, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bills
            .bills
            .iter()
            .map(|bill| bill.amount)
            .collect::<Vec<_>>(),
        [money("30.00")]
    );
    // 4 m³ at 2.50 deducted at once.
    assert_eq!(
        balance(&desk, desk.prepaid).await,
        "90.00".parse::<Decimal>().unwrap()
    );
    only_water_recorded(&desk, &district, &["40", "15.5"]).await;
    only_water_recorded(&desk, &hydrant, &["9.25"]).await;
    assert_eq!(readings_imported(&desk).await, 6);
}

/// A bill written to a folder that is not there is the file's trouble, said in words: it was
/// reported as "The database refused this: …" with the system's English.
#[tokio::test]
async fn a_bill_written_where_there_is_no_folder_is_said_as_the_files_trouble() {
    let db = support::pg::fresh_db().await;
    let services = support::services(&db.pool);
    let write = WriteBill {
        path: "/nonexistent/bill-10000017.txt".into(),
        text: "a bill".into(),
    };
    let Err(Failure::Error(problem)) = execute(&services, Request(Box::new(write))).await else {
        panic!("the bill cannot be written");
    };
    assert_eq!(
        problem.text(Lang::Zh),
        "无法写入文件：/nonexistent/bill-10000017.txt：没有这个文件或文件夹"
    );
    assert_eq!(
        problem.text(Lang::En),
        "The file could not be written: /nonexistent/bill-10000017.txt: there is no such file or \
         folder"
    );
}

/// s39's walk: the audit entry of a bill paid named it by its id ("修改后 · 账单：[6]"), which no
/// clerk sees anywhere. The entry is read with each bill's cycle (its first day, as the bills
/// screen's Cycle column shows it), read now as the audit's reader (`audit::page`), and
/// shown by it in both languages.
#[tokio::test]
async fn the_audit_entry_of_bills_paid_names_them_by_their_cycles() {
    use meterdesk::db::audit::{self, AuditFilter};
    use meterdesk::db::customers::PageAt;
    let desk = desk().await;
    two_bills(&desk).await;
    let paying = MoneyMove {
        customer_id: desk.postpaid,
        movement: Movement::Deposit,
        amount: money("130.00"),
        method: "cash".into(),
        pays: Some(BillsToPay {
            bill_ids: vec![1, 2],
            total: money("130.00"),
        }),
    };
    let mut clerk = desk.clerk.get().await.unwrap();
    let moved = accounts::move_money(&mut clerk, "pay-both", &paying)
        .await
        .unwrap();
    assert!(
        matches!(moved.outcome, MoveOutcome::Moved { .. }),
        "{moved:?}"
    );
    let cycles: Vec<(i64, NaiveDate)> = desk
        .owner
        .query("SELECT id, period_start FROM bill ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(cycles.len(), 2, "{cycles:?}");
    let supervisor = desk.supervisor.get().await.unwrap();
    let page = audit::page(&**supervisor, &AuditFilter::default(), &PageAt::First, 50)
        .await
        .unwrap();
    let paid = page
        .rows
        .iter()
        .find(|row| row.detail["after"]["bills"].is_array())
        .unwrap_or_else(|| panic!("the payment's entry: {:?}", page.rows));
    assert_eq!(paid.bill_cycles, cycles.iter().copied().collect());
    assert!(
        page.rows
            .iter()
            .filter(|row| !std::ptr::eq(*row, paid))
            .all(|row| row.bill_cycles.is_empty()),
        "only an entry naming bills reads their cycles"
    );
    for (lang, label) in [(Lang::Zh, "账单："), (Lang::En, "Bills: ")] {
        let shown = meterdesk::screens::audit::entry::lines(
            paid,
            lang,
            chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
            80,
            &meterdesk::ui::theme::Theme::new(meterdesk::app::state::Look::default()),
            false,
        );
        let text: String = shown
            .iter()
            .map(|line| {
                line.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
                    + "\n"
            })
            .collect();
        let named = lang.list(&[cycles[0].1.to_string(), cycles[1].1.to_string()]);
        assert!(
            text.contains(&format!("{label}{named}")),
            "{lang:?}: {text}"
        );
        assert!(!text.contains("[1"), "{lang:?}: no ids: {text}");
    }
}

/// sql/V168: a counter reading's new bill and its extension name their price version without
/// locking its row (every desk's readings name the same few versions: the row was one every
/// writer joined a multixact on), and the version is kept as the key kept it: never changed nor
/// deleted, by the owner either (V47 let the owner through). A reading locks neither the
/// reading before it nor its deduction (both tables append-only), and those are kept too.
#[tokio::test]
async fn a_readings_rows_lock_no_price_version_earlier_reading_nor_deduction() {
    let desk = desk().await;
    let locks = || async {
        desk.owner
            .query_one(
                "SELECT string_agg(id || ':' || xmax::text, ' ' ORDER BY id) FROM price_version",
                &[],
            )
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    let untouched = locks().await;
    let billed = enter(&desk.clerk, "v168-new", &reading(1, "2025-02-10", "112")).await;
    assert!(
        matches!(billed, ReadingOutcome::Recorded { bill: Some(_), .. }),
        "{billed:?}"
    );
    let earlier = || async {
        desk.owner
            .query_one(
                "SELECT xmax::text FROM meter_reading WHERE idempotency_key = 'v168-new:1'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    let before_next = earlier().await;
    let extended = enter(&desk.clerk, "v168-more", &reading(1, "2025-02-20", "115")).await;
    assert!(
        matches!(extended, ReadingOutcome::Recorded { bill: Some(_), .. }),
        "{extended:?}"
    );
    assert_eq!(
        desk.owner
            .query_one(
                "SELECT count(*) FROM meter_reading r JOIN bill b ON b.id = r.bill_id
                 JOIN price_version v ON v.id = b.price_version_id
                 WHERE r.idempotency_key LIKE 'v168-%'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0),
        2,
        "each reading's bill names a version"
    );
    assert_eq!(locks().await, untouched, "a bill locked its price version");
    assert_eq!(
        earlier().await,
        before_next,
        "a reading locked the one before it"
    );
    let deducted = enter(&desk.clerk, "v168-deduct", &reading(2, "2025-01-20", "10")).await;
    assert!(
        matches!(
            deducted,
            ReadingOutcome::Recorded {
                deducted: Some(_),
                ..
            }
        ),
        "{deducted:?}"
    );
    let deduction: String = desk
        .owner
        .query_one(
            "SELECT t.xmax::text FROM meter_reading r
             JOIN ledger_transaction t ON t.id = r.transaction_id
             WHERE r.idempotency_key = 'v168-deduct:1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(deduction, "0", "a reading locked its deduction");
    for (change, words) in [
        ("DELETE FROM price_version", "is kept"),
        ("UPDATE price_version SET id = DEFAULT", "is kept"),
        ("DELETE FROM meter_reading", "never changed or removed"),
        (
            "UPDATE meter_reading SET id = DEFAULT",
            "never changed or removed",
        ),
        ("DELETE FROM ledger_transaction", "never changed or removed"),
    ] {
        let refusal = desk
            .owner
            .execute(change, &[])
            .await
            .expect_err("a row a bill or a reading may name is kept");
        let server = refusal.as_db_error().expect("the server's refusal");
        assert!(server.message().contains(words), "{change}: {server:?}");
    }
}
