//! The clerk's shift and the daily reports on a real database, as the operators' own roles:
//! a clerk opens and closes their own shift and sees its figures; a payment with no shift
//! open opens one; the database refuses a clerk another clerk's shift and the office's
//! reports, and shows a supervisor all of them.

mod support;

use meterdesk::db::accounts::{self, MoneyMove, MoveOutcome, Movement};
use meterdesk::db::shifts::{self, Closed, Opened, Report, ReportKind, TakingsRow, Window};
use meterdesk::db::{DbError, Pool};
use meterdesk::domain::money::Money;
use support::pg::{TestDb, fresh_db};

/// Customers 1 (system-prepaid, cash or WeChat Pay) and 2 (postpaid, cash) with an unpaid bill
/// issued 45 days ago.
const FIXTURE: &str = "
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer) VALUES
        ('plain DN15', 'postpayment', false, 'DN15', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date, settlement_cycle_months)
        VALUES ('flat', 'prepaid', 'fixed', 0.09, '2024-01-01', NULL),
               ('bills', 'postpaid', 'fixed', 0.09, '2024-01-01', 2);
    INSERT INTO customer_type (name, nature, business_model, counts_water_usage, charges, price_scheme_id)
        VALUES ('prepaid', 'personal', 'system_prepaid', true, true, 1),
               ('postpaid', 'personal', 'postpaid', true, true, 2);
    INSERT INTO customer_type_meter_type VALUES (1, 1, 'postpayment'), (2, 1, 'postpayment');
    INSERT INTO customer_type_payment_method VALUES (1, 'cash'), (1, 'wechat_pay'), (2, 'cash');
    INSERT INTO meter (meter_no, meter_type_id, status) VALUES
        ('P-1', 1, 'installed'), ('P-2', 1, 'installed');
    INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name, address, phone,
                          meter_id, meter_type_id)
        VALUES (10000012, 1, 'personal', 'system_prepaid', 'Anna Schmidt', 'Rue 1', '13900000000', 1, 1),
               (10000020, 2, 'personal', 'postpaid', '李娜', '长安街1号', '13700000000', 2, 1);
    INSERT INTO account (customer_id, kind) VALUES (1, 'prepaid'), (2, 'postpaid');
    INSERT INTO bill (account_id, period_start, period_end, previous_reading, current_reading, volume,
                      amount, issued_at)
        VALUES (2, '2026-01-01', '2026-02-28', 0, 10, 10, 38.15, now() - interval '45 days');
";

async fn with_fixture() -> TestDb {
    let db = fresh_db().await;
    let owner = db.pool.get().await.unwrap();
    owner.batch_execute(FIXTURE).await.expect("the fixture");
    db.create_operator("anna", &["clerk"]).await;
    db.create_operator("ben", &["clerk"]).await;
    db.create_operator("boss", &["supervisor"]).await;
    db
}

async fn take(pool: &Pool, key: &str, movement: Movement, amount: &str, method: &str) {
    let mut client = pool.get().await.unwrap();
    let change = MoneyMove {
        customer_id: 1,
        movement,
        amount: amount.parse().unwrap(),
        method: method.to_owned(),
        pays: None,
    };
    let outcome = accounts::move_money(&mut client, key, &change)
        .await
        .unwrap()
        .outcome;
    assert!(matches!(outcome, MoveOutcome::Moved { .. }), "{outcome:?}");
}

/// The offset east of UTC, in seconds, of the server's zone (the test cluster's TimeZone).
async fn server_offset(owner: &tokio_postgres::Client) -> i32 {
    owner
        .query_one("SELECT extract(timezone FROM now())::int AS offset", &[])
        .await
        .unwrap()
        .get("offset")
}

/// The arrears by age of `window`'s day: each bucket's age (one of the names the database
/// answers, as the expectations write them), bills and amount.
async fn arrears_by_age(
    client: &tokio_postgres::Client,
    window: &Window,
) -> Vec<(&'static str, i64, Money)> {
    let Report::ArrearsByAge(ages) = shifts::report_of(client, ReportKind::ArrearsByAge, window)
        .await
        .unwrap()
    else {
        panic!("arrears")
    };
    ages.iter()
        .map(|a| {
            let age = ["0-30", "31-90", "90+"]
                .into_iter()
                .find(|age| *age == a.age);
            (age.expect("a bucket's age"), a.bills, a.amount)
        })
        .collect()
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

fn refused(outcome: Result<impl std::fmt::Debug, DbError>) -> bool {
    match outcome {
        Err(error) => error
            .sql_state()
            .is_some_and(|s| *s == tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        Ok(answer) => panic!("refused: {answer:?}"),
    }
}

#[tokio::test]
async fn a_clerk_opens_takes_and_closes_their_shift_and_the_z_report_says_what_was_taken() {
    let db = with_fixture().await;
    let anna = db.pool_of("anna");
    let client = anna.get().await.unwrap();
    assert_eq!(shifts::own_latest(&**client).await.unwrap(), None);
    let Opened::Opened(shift_id) = shifts::open(&**client).await.unwrap() else {
        panic!("opened")
    };
    assert_eq!(
        shifts::open(&**client).await.unwrap(),
        Opened::AlreadyOpen,
        "one open shift per operator, the database's rule"
    );
    take(&anna, "a-1", Movement::Deposit, "100.00", "cash").await;
    take(&anna, "a-2", Movement::Deposit, "20.50", "wechat_pay").await;
    take(&anna, "a-3", Movement::Deposit, "30.00", "cash").await;

    let x = shifts::report(&**client, shift_id).await.unwrap().unwrap();
    assert_eq!(x.shift.closed_at, None, "an X report of the open shift");
    assert_eq!(x.total().takings, money("150.50"));
    assert_eq!(x.receipts, 3);
    assert_eq!(x.last_receipt.unwrap() - x.first_receipt.unwrap(), 2);
    let cash = x.methods.iter().find(|m| m.method == "cash").unwrap();
    assert_eq!((cash.takings, cash.payments), (money("130.00"), 2));

    assert_eq!(
        shifts::close(&**client, shift_id, "z-1").await.unwrap(),
        Closed::Now
    );
    assert_eq!(
        shifts::close(&**client, shift_id, "z-1").await.unwrap(),
        Closed::Now,
        "the close re-sent after a lost answer answers as the first and closes nothing else"
    );
    assert_eq!(
        shifts::close(&**client, shift_id, "z-2").await.unwrap(),
        Closed::Before,
        "another desk's close of the closed shift is told it was closed before"
    );
    let keyless = client
        .query_one("SELECT shift_close($1, NULL)", &[&shift_id])
        .await
        .unwrap_err();
    assert_eq!(
        keyless.code(),
        Some(&tokio_postgres::error::SqlState::NULL_VALUE_NOT_ALLOWED),
        "a close without its key is refused: {keyless:?}"
    );
    let z = shifts::report(&**client, shift_id).await.unwrap().unwrap();
    assert!(z.shift.closed_at.is_some());
    assert_eq!(z.total().takings, money("150.50"));
    assert_eq!(z.total().refunds, Money::ZERO);
}

#[tokio::test]
async fn a_payment_with_no_shift_open_opens_one_and_refunds_are_counted_apart() {
    let db = with_fixture().await;
    let boss = db.pool_of("boss");
    take(&boss, "b-1", Movement::Deposit, "80.00", "cash").await;
    take(&boss, "b-2", Movement::Refund, "30.00", "cash").await;
    let client = boss.get().await.unwrap();
    let shift = shifts::own_latest(&**client)
        .await
        .unwrap()
        .expect("opened");
    assert!(shift.opened_by_payment && shift.closed_at.is_none());
    let report = shifts::report(&**client, shift.id).await.unwrap().unwrap();
    assert_eq!(
        (
            report.total().takings,
            report.total().refunds,
            report.receipts
        ),
        (money("80.00"), money("30.00"), 2)
    );
}

/// The overview's payments and takings of today are the takings report's of the desk's day:
/// counted from the desk's midnight, not the server's, and a reversed payment's money taken
/// back as the report takes it (session 33, by hand at 22:45 in Beijing on a server in UTC:
/// the overview said 21 payments, 21 968.00, the report of the day 29, 26 428.00), to the
/// day's end (session 34: the overview counted from midnight on, tomorrow's too). A clerk
/// sees the same figures and still runs no `md_takings` of their own (sql/V91).
#[tokio::test]
async fn the_overviews_today_is_the_takings_report_of_the_desks_day() {
    use chrono::{Duration, FixedOffset, Utc};
    use meterdesk::db::overview;
    let db = with_fixture().await;
    let owner = db.pool.get().await.unwrap();
    let server_offset = server_offset(&owner).await;
    // A desk eight hours away from the server: their midnights differ.
    let hours = if server_offset <= 0 { 8 } else { -8 };
    let zone = FixedOffset::east_opt(server_offset + hours * 3600).unwrap();
    let window = Window::of_day(Utc::now().with_timezone(&zone).date_naive(), zone);
    let server_midnight: chrono::DateTime<Utc> = owner
        .query_one("SELECT date_trunc('day', now())", &[])
        .await
        .unwrap()
        .get(0);
    // Between the two midnights: of today for one of them only. After the day's end: a
    // server clock ahead of the desk's stamps tomorrow.
    let between = window.from.min(server_midnight) + Duration::hours(4);
    let after_the_day = window.to + Duration::hours(1);
    let cleo_id = db.create_operator("cleo", &["clerk"]).await;
    owner
        .execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code,
                                             operator_id, created_at, idempotency_key)
             VALUES (1, 'deposit', 40.00, 'cash', $1, $2, 'early-1'),
                    (1, 'deposit', 7.00, 'cash', $1, $3, 'late-1')",
            &[&cleo_id, &between, &after_the_day],
        )
        .await
        .expect("a deposit between the midnights, one after the day");
    let boss = db.pool_of("boss");
    take(&boss, "b-1", Movement::Deposit, "80.00", "cash").await;
    take(&boss, "b-2", Movement::Deposit, "15.00", "wechat_pay").await;
    take(&boss, "b-3", Movement::Refund, "5.00", "cash").await;
    owner
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id, operator_id,
                                             idempotency_key)
             SELECT account_id, 'reversal', -amount, id, operator_id, 'reversal-1'
             FROM ledger_transaction WHERE idempotency_key = 'b-2'",
        )
        .await
        .expect("the second payment reversed");

    let client = boss.get().await.unwrap();
    let Report::Takings(rows) = shifts::report_of(&**client, ReportKind::Takings, &window)
        .await
        .unwrap()
    else {
        panic!("takings")
    };
    let report: (i64, Money) = rows.iter().fold((0, Money::ZERO), |(n, sum), row| {
        (n + row.takings.payments, sum + row.takings.takings)
    });
    // The reversed payment counted with nothing taken, the refund and tomorrow's not at all.
    let counted = if between >= window.from {
        (3, money("120.00"))
    } else {
        (2, money("80.00"))
    };
    assert_eq!(report, counted, "the report's own figures");
    let seen = overview::today(&**client, zone).await.unwrap();
    let today = seen.today.expect("the supervisor reads the day's takings");
    assert_eq!((today.payments, today.takings), report);
    let anna = db.pool_of("anna").get().await.unwrap();
    let seen_by_a_clerk = overview::today(&**anna, zone).await.unwrap();
    assert_eq!(seen_by_a_clerk, seen);
    let refused = anna
        .query(
            "SELECT * FROM md_takings(now() - interval '1 year', now(), NULL, 0)",
            &[],
        )
        .await
        .expect_err("a clerk runs no takings of their choosing");
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

/// Takings of `window` as `pool`'s operator reads them.
async fn takings_of(pool: &Pool, window: &Window) -> Vec<TakingsRow> {
    let client = pool.get().await.unwrap();
    let Report::Takings(rows) = shifts::report_of(&**client, ReportKind::Takings, window)
        .await
        .unwrap()
    else {
        panic!("takings")
    };
    rows
}

/// A range's takings are its days': three days read at once answer the rows each of the three
/// answers (by day, operator and method, in the desk's zone: a payment at 00:30 in Beijing is
/// of that day), and the days either side count in none.
#[tokio::test]
async fn a_three_day_ranges_takings_are_the_sum_of_its_three_days() {
    use chrono::{Days, FixedOffset, NaiveDate, Utc};
    let db = with_fixture().await;
    let dora = db.create_operator("dora", &["clerk"]).await;
    let egon = db.create_operator("egon", &["clerk"]).await;
    let zone = FixedOffset::east_opt(8 * 3600).unwrap();
    let first = Utc::now().with_timezone(&zone).date_naive() - Days::new(10);
    let at = |day: NaiveDate, hour: u32| {
        day.and_hms_opt(hour, 30, 0)
            .unwrap()
            .and_local_timezone(zone)
            .unwrap()
            .with_timezone(&Utc)
    };
    let before = first - Days::new(1);
    let day = |n: u64| first + Days::new(n);
    let owner = db.pool.get().await.unwrap();
    let payments = [
        (before, dora, "cash", "888.00", 23),
        (day(0), dora, "cash", "40.00", 0),
        (day(0), egon, "wechat_pay", "15.50", 23),
        (day(1), dora, "cash", "20.00", 12),
        (day(1), dora, "cash", "5.25", 23),
        (day(2), egon, "cash", "100.00", 0),
        (day(2), dora, "wechat_pay", "7.00", 9),
        (day(3), dora, "cash", "999.00", 0),
    ];
    for (n, (on, operator, method, amount, hour)) in payments.into_iter().enumerate() {
        owner
            .execute(
                &format!(
                    "INSERT INTO ledger_transaction (account_id, kind, amount, payment_method_code,
                                                     operator_id, created_at, idempotency_key)
                     VALUES (1, 'deposit', {amount}, $1, $2, $3, $4)"
                ),
                &[&method, &operator, &at(on, hour), &format!("range-{n}")],
            )
            .await
            .expect("a deposit of a past day");
    }

    let boss = db.pool_of("boss");
    let range = takings_of(&boss, &Window::of_days(day(0), day(2), zone)).await;
    let mut days = Vec::new();
    for n in 0..3 {
        days.extend(takings_of(&boss, &Window::of_day(day(n), zone)).await);
    }
    assert_eq!(range, days);
    let taken: Money = range.iter().map(|row| row.takings.takings).sum();
    let payments: i64 = range.iter().map(|row| row.takings.payments).sum();
    assert_eq!((taken, payments), (money("187.75"), 6));
    assert_eq!(
        range.iter().map(|row| row.day).collect::<Vec<_>>(),
        [day(0), day(0), day(1), day(2), day(2)],
        "dora's two cash payments of the second day are one row"
    );
}

/// A payment posted while the operator's shift is being closed on their other connection waits
/// for that close and opens the next shift: no payment falls outside a shift (sql/V63 skips the
/// shift's insert only for an open shift no transaction is changing).
#[tokio::test]
async fn a_payment_during_the_close_of_its_shift_waits_and_opens_the_next_one() {
    let db = with_fixture().await;
    let anna = db.pool_of("anna");
    let closing = anna.get().await.unwrap();
    let Opened::Opened(shift_id) = shifts::open(&**closing).await.unwrap() else {
        panic!("opened")
    };
    closing.batch_execute("BEGIN").await.unwrap();
    assert_eq!(
        shifts::close(&**closing, shift_id, "z-1").await.unwrap(),
        Closed::Now
    );
    let payment = tokio::spawn({
        let anna = anna.clone();
        async move { take(&anna, "a-1", Movement::Deposit, "10.00", "cash").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!payment.is_finished(), "the payment waits for the close");
    closing.batch_execute("COMMIT").await.unwrap();
    payment.await.unwrap();
    let client = anna.get().await.unwrap();
    let shift = shifts::own_latest(&**client)
        .await
        .unwrap()
        .expect("a shift");
    assert_ne!(shift.id, shift_id);
    assert!(shift.opened_by_payment && shift.closed_at.is_none());
}

#[tokio::test]
async fn a_clerk_sees_only_their_own_shifts_and_a_supervisor_sees_every_one() {
    let db = with_fixture().await;
    let (anna, ben, boss) = (db.pool_of("anna"), db.pool_of("ben"), db.pool_of("boss"));
    take(&anna, "a-1", Movement::Deposit, "10.00", "cash").await;
    take(&ben, "b-1", Movement::Deposit, "25.00", "cash").await;
    let anna_client = anna.get().await.unwrap();
    let ben_shift = shifts::own_latest(&**ben.get().await.unwrap())
        .await
        .unwrap()
        .unwrap();

    assert!(
        refused(shifts::report(&**anna_client, ben_shift.id).await),
        "another clerk's figures are refused by the database"
    );
    let seen: i64 = anna_client
        .query_one("SELECT count(*) FROM shift", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1, "a clerk's connection reads their own shift only");
    assert_eq!(
        shifts::close(&**anna_client, ben_shift.id, "z-1")
            .await
            .unwrap(),
        Closed::Not,
        "a clerk cannot close another's shift"
    );
    let today = chrono::Utc::now().date_naive();
    let window = Window::of_day(today, chrono::FixedOffset::east_opt(0).unwrap());
    for kind in ReportKind::ALL {
        assert_eq!(
            shifts::report_of(&**anna_client, kind, &window)
                .await
                .unwrap(),
            Report::NotPermitted,
            "{kind:?}"
        );
    }

    let boss_client = boss.get().await.unwrap();
    let ben_report = shifts::report(&**boss_client, ben_shift.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ben_report.total().takings, money("25.00"));
    let Report::Shifts(day) = shifts::report_of(&**boss_client, ReportKind::Shifts, &window)
        .await
        .unwrap()
    else {
        panic!("the shifts of the day")
    };
    let mut operators: Vec<_> = day
        .iter()
        .map(|s| (s.operator.as_str(), s.figures.takings))
        .collect();
    operators.sort();
    assert_eq!(
        operators,
        [("anna", money("10.00")), ("ben", money("25.00"))]
    );
    let Report::Takings(takings) = shifts::report_of(&**boss_client, ReportKind::Takings, &window)
        .await
        .unwrap()
    else {
        panic!("takings")
    };
    let office: Money = takings.iter().map(|row| row.takings.takings).sum();
    assert_eq!(office, money("35.00"));
    db.pool
        .get()
        .await
        .unwrap()
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, volume, unit_price,
                                             idempotency_key)
             VALUES (1, 'consumption', -7.00, 2.000, 3.5000, 'reading-1')",
        )
        .await
        .expect("a system deduction");
    let water = shifts::report_of(&**boss_client, ReportKind::Water, &window)
        .await
        .unwrap();
    let Report::Water(sold) = water else {
        panic!("water sold: {water:?}")
    };
    let sold: Vec<_> = sold
        .iter()
        .map(|w| {
            (
                w.scheme.as_str(),
                w.nature.as_str(),
                w.volume.to_string(),
                w.amount,
            )
        })
        .collect();
    assert_eq!(
        sold,
        [("flat", "personal", "2.000".to_owned(), money("7.00"))]
    );
    assert_eq!(
        arrears_by_age(&boss_client, &window).await,
        [
            ("0-30", 0, Money::ZERO),
            ("31-90", 1, money("38.15")),
            ("90+", 0, Money::ZERO)
        ]
    );
}

#[tokio::test]
async fn a_clerk_sees_who_owes_in_the_table_in_details_and_in_the_arrears_list() {
    use meterdesk::db::arrears;
    use meterdesk::db::customers::{self, PageAt};
    use meterdesk::domain::search::CustomerSearch;
    let db = with_fixture().await;
    let anna = db.pool_of("anna");
    let client = anna.get().await.unwrap();
    let page = customers::page(&**client, &CustomerSearch::All, &PageAt::First, 10)
        .await
        .unwrap();
    let arrears_of: Vec<_> = page
        .rows
        .iter()
        .map(|r| (r.customer_no, r.arrears))
        .collect();
    assert_eq!(
        arrears_of,
        [(10000012, Money::ZERO), (10000020, money("38.15"))]
    );
    let details = customers::details(&**client, 2).await.unwrap().unwrap();
    assert_eq!(
        (details.account.arrears, details.account.unpaid_bills),
        (money("38.15"), 1)
    );
    let owing = arrears::page(&**client, &PageAt::First, 10).await.unwrap();
    assert_eq!(owing.rows.len(), 1);
    assert_eq!(
        (owing.rows[0].customer_no, owing.rows[0].bills),
        (10000020, 1)
    );
    assert!(!owing.more_before && !owing.more_after);
}

/// The arrears list pages both ways in one order — largest first, then the oldest bill, then
/// the number —, End reads the last page and a refresh keeps the page it is on.
#[tokio::test]
async fn the_arrears_list_pages_both_ways_and_to_its_end() {
    use meterdesk::db::arrears::{self, OwingCursor};
    use meterdesk::db::customers::PageAt;
    let db = with_fixture().await;
    // The same arrears as the fixture's 38.15 of 10000020, its bill issued a day later:
    // second.
    db.pool
        .get()
        .await
        .unwrap()
        .batch_execute(
            "INSERT INTO meter (meter_no, meter_type_id, status) VALUES ('P-3', 1, 'installed');
             INSERT INTO customer (customer_no, customer_type_id, nature, business_model, name,
                                   address, phone, meter_id, meter_type_id)
                 VALUES (10000036, 2, 'personal', 'postpaid', '王伟', '长安街3号', '13600000000',
                         3, 1);
             INSERT INTO account (customer_id, kind) VALUES (3, 'postpaid');
             INSERT INTO bill (account_id, period_start, period_end, previous_reading,
                               current_reading, volume, amount, issued_at)
                 VALUES (3, '2026-01-01', '2026-02-28', 0, 10, 10, 38.15,
                         now() - interval '44 days');",
        )
        .await
        .unwrap();
    let anna = db.pool_of("anna");
    let client = anna.get().await.unwrap();
    let numbers = |page: &meterdesk::db::customers::Page<arrears::Owing>| {
        let rows: Vec<i64> = page.rows.iter().map(|row| row.customer_no).collect();
        (rows, page.more_before, page.more_after)
    };
    let first = arrears::page(&**client, &PageAt::First, 1).await.unwrap();
    assert_eq!(numbers(&first), (vec![10000020], false, true));
    let last = arrears::page(&**client, &PageAt::Last, 1).await.unwrap();
    assert_eq!(numbers(&last), (vec![10000036], true, false));
    let second = OwingCursor::from(&last.rows[0]);
    let before = arrears::page(&**client, &PageAt::Before(second.clone()), 1)
        .await
        .unwrap();
    assert_eq!(numbers(&before), (vec![10000020], false, true));
    let after = arrears::page(
        &**client,
        &PageAt::After(OwingCursor::from(&first.rows[0])),
        1,
    )
    .await
    .unwrap();
    assert_eq!(numbers(&after), (vec![10000036], true, false));
    let refreshed = arrears::page(&**client, &PageAt::From(second), 1)
        .await
        .unwrap();
    assert_eq!(numbers(&refreshed), (vec![10000036], true, false));
}

/// Arrears are aged from the bill's due date (sql/V24): a bill issued 45 days ago but due 10
/// days ago is in the first bucket, as is one not yet due; one due 100 days ago is over 90.
#[tokio::test]
async fn arrears_are_aged_from_the_due_date() {
    let db = with_fixture().await;
    db.pool
        .get()
        .await
        .unwrap()
        .batch_execute(
            "INSERT INTO bill (account_id, period_start, period_end, previous_reading,
                               current_reading, volume, amount, issued_at, due_date)
             VALUES (2, '2025-01-01', '2025-02-28', 10, 20, 10, 5.00, now() - interval '130 days',
                     current_date - 100),
                    (2, '2025-03-01', '2025-04-30', 20, 30, 10, 7.00, now() - interval '2 days',
                     current_date + 28);
             UPDATE bill SET due_date = current_date - 10 WHERE amount = 38.15;",
        )
        .await
        .unwrap();
    let boss = db.pool_of("boss");
    let client = boss.get().await.unwrap();
    let today: chrono::NaiveDate = client
        .query_one("SELECT current_date AS today", &[])
        .await
        .unwrap()
        .get("today");
    let window = Window::of_day(today, chrono::FixedOffset::east_opt(0).unwrap());
    assert_eq!(
        arrears_by_age(&client, &window).await,
        [
            ("0-30", 2, money("45.15")),
            ("31-90", 0, Money::ZERO),
            ("90+", 1, money("5.00"))
        ]
    );
}

/// Arrears by age of a past day are the arrears as they stood at the end of that day in the
/// desk's zone (session 33 found them to be today's unpaid bills): a bill paid, or voided, on
/// day 5 is owed on days 3 and 4 and not on days 5 and 6; a bill issued on day 4 is not owed on
/// day 3. The payment and the void come half an hour into day 5 at the desk, eight hours east
/// of the server, where it is still day 4.
#[tokio::test]
async fn arrears_of_a_past_day_are_the_bills_owed_at_its_end() {
    use chrono::{Days, FixedOffset, NaiveDate, NaiveTime, Utc};
    let db = with_fixture().await;
    let owner = db.pool.get().await.unwrap();
    let server_offset = server_offset(&owner).await;
    let zone = FixedOffset::east_opt(server_offset + 8 * 3600).unwrap();
    let day_1 = Utc::now().with_timezone(&zone).date_naive() - Days::new(100);
    let day = |n: u64| day_1 + Days::new(n - 1);
    let at = |day: NaiveDate, hour: u32, minute: u32| {
        day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap())
            .and_local_timezone(zone)
            .unwrap()
            .with_timezone(&Utc)
    };
    owner
        .execute(
            "INSERT INTO bill (account_id, period_start, period_end, previous_reading,
                               current_reading, volume, amount, issued_at, status, paid_at,
                               voided_at, void_reason)
             VALUES (2, '2025-01-01', '2025-02-28', 0, 1, 1, 10.00, $1, 'paid', $2, NULL, NULL),
                    (2, '2025-03-01', '2025-04-30', 1, 2, 1, 20.00, $1, 'void', NULL, $2,
                     'misread'),
                    (2, '2025-05-01', '2025-06-30', 2, 3, 1, 40.00, $3, 'unpaid', NULL, NULL,
                     NULL)",
            &[&at(day(1), 10, 0), &at(day(5), 0, 30), &at(day(4), 9, 0)],
        )
        .await
        .expect("a bill paid and one voided on day 5, one issued on day 4");
    let boss = db.pool_of("boss");
    let client = boss.get().await.unwrap();
    let mut owed = Vec::new();
    for n in [3, 4, 5, 6] {
        owed.push(arrears_by_age(&client, &Window::of_day(day(n), zone)).await);
    }
    let none = |age| (age, 0, Money::ZERO);
    let first = |bills, amount| ("0-30", bills, money(amount));
    assert_eq!(
        owed,
        [
            vec![first(2, "30.00"), none("31-90"), none("90+")],
            vec![first(3, "70.00"), none("31-90"), none("90+")],
            vec![first(1, "40.00"), none("31-90"), none("90+")],
            vec![first(1, "40.00"), none("31-90"), none("90+")],
        ]
    );
    let anna = db.pool_of("anna").get().await.unwrap();
    let refusal = |outcome: Result<_, tokio_postgres::Error>| match outcome {
        Err(error) => error
            .as_db_error()
            .map(|e| (e.code().clone(), e.message().to_owned())),
        Ok(rows) => panic!("refused: {rows:?}"),
    };
    let needs_reports_view = refusal(anna.query("SELECT md_require('reports.view')", &[]).await);
    for asked in [
        "SELECT * FROM report_arrears_by_age(current_date)",
        "SELECT * FROM report_arrears_by_age(current_date, 0)",
    ] {
        assert_eq!(
            refusal(anna.query(asked, &[]).await),
            needs_reports_view,
            "{asked}"
        );
    }
}

/// s39's walk: a supervisor's takings row read "现金 29 -63760.00", the deposits of a clerk
/// they reversed counted against them on their day (sql/V21), unexplained. The report's row
/// now says how many deposits it counts reversed and for how much (sql/V171); the takings and
/// the other operators' rows stay as the books have them.
#[tokio::test]
async fn a_takings_row_says_the_deposits_its_operator_reversed() {
    use chrono::{FixedOffset, Utc};
    let db = with_fixture().await;
    let owner = db.pool.get().await.unwrap();
    let zone = FixedOffset::east_opt(server_offset(&owner).await).unwrap();
    let window = Window::of_day(Utc::now().with_timezone(&zone).date_naive(), zone);
    let anna = db.pool_of("anna");
    take(&anna, "a-1", Movement::Deposit, "300.00", "cash").await;
    take(&anna, "a-2", Movement::Deposit, "200.00", "cash").await;
    take(&anna, "a-3", Movement::Deposit, "50.00", "wechat_pay").await;
    let boss = db.pool_of("boss");
    take(&boss, "b-1", Movement::Deposit, "20.00", "cash").await;
    owner
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id, operator_id,
                                             idempotency_key)
             SELECT t.account_id, 'reversal', -t.amount, t.id, boss.id, 'reversal-' || t.idempotency_key
             FROM ledger_transaction t, operator boss
             WHERE t.idempotency_key IN ('a-1', 'a-2') AND boss.login = 'boss'",
        )
        .await
        .expect("two of anna's payments reversed by the supervisor");
    let rows = takings_of(&boss, &window).await;
    let row = |login: &str, method: &str| {
        rows.iter()
            .find(|row| row.operator == login && row.takings.method == method)
            .unwrap_or_else(|| panic!("{login} {method}: {rows:?}"))
    };
    let boss_cash = row("boss", "cash");
    assert_eq!(
        (
            boss_cash.takings.payments,
            boss_cash.takings.takings,
            boss_cash.takings.reversals,
            boss_cash.takings.reversed
        ),
        (1, money("-480.00"), 2, money("-500.00")),
        "the supervisor's row: one payment, two reversals, net takings"
    );
    let anna_cash = row("anna", "cash");
    assert_eq!(
        (
            anna_cash.takings.takings,
            anna_cash.takings.reversals,
            anna_cash.takings.reversed
        ),
        (money("500.00"), 0, Money::ZERO),
        "the clerk's row as taken"
    );
    assert_eq!(row("anna", "wechat_pay").takings.reversals, 0);
    let total: Money = rows.iter().map(|row| row.takings.takings).sum();
    assert_eq!(total, money("70.00"), "the books' takings, unchanged");
}

/// A refund reversed (the owner's correction: no operator may reverse one, sql/V163) counts in
/// the refunds of whoever it names as reversing, on their day (sql/V21), as a reversed deposit
/// does in the takings: the supervisor's refunds read 20.00 for the 50.00 they paid out. The
/// row says it (sql/V177): one refund reversed, -30.00. A card refund's credit taken back (a
/// failed card refund, sql/V78: its money is a `card_refund` row, and its reversal reverses
/// that) is no refund, reversed or not: it counts in no column.
#[tokio::test]
async fn a_takings_row_says_the_refunds_its_operator_reversed() {
    use chrono::{FixedOffset, Utc};
    let db = with_fixture().await;
    let owner = db.pool.get().await.unwrap();
    let zone = FixedOffset::east_opt(server_offset(&owner).await).unwrap();
    let window = Window::of_day(Utc::now().with_timezone(&zone).date_naive(), zone);
    let anna = db.pool_of("anna");
    take(&anna, "a-1", Movement::Deposit, "300.00", "cash").await;
    let boss = db.pool_of("boss");
    take(&boss, "b-1", Movement::Refund, "30.00", "cash").await;
    take(&boss, "b-2", Movement::Refund, "20.00", "cash").await;
    take(&boss, "b-3", Movement::Refund, "10.00", "wechat_pay").await;
    owner
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id, operator_id,
                                             idempotency_key)
             SELECT t.account_id, 'reversal', -t.amount, t.id, boss.id, 'reversal-' || t.idempotency_key
             FROM ledger_transaction t, operator boss
             WHERE t.idempotency_key = 'b-1' AND boss.login = 'boss'",
        )
        .await
        .expect("the supervisor's first cash refund reversed");
    let rows = takings_of(&boss, &window).await;
    let row = |login: &str, method: &str| {
        rows.iter()
            .find(|row| row.operator == login && row.takings.method == method)
            .unwrap_or_else(|| panic!("{login} {method}: {rows:?}"))
    };
    let boss_cash = row("boss", "cash");
    assert_eq!(
        (
            boss_cash.takings.refunds,
            boss_cash.takings.refund_count,
            boss_cash.takings.refund_reversals,
            boss_cash.takings.refunds_reversed,
            boss_cash.takings.reversals,
        ),
        (money("20.00"), 2, 1, money("-30.00"), 0),
        "two refunds paid out, one reversed: net refunds, and what of them is the reversal"
    );
    let boss_wechat = row("boss", "wechat_pay");
    assert_eq!(
        (
            boss_wechat.takings.refund_reversals,
            boss_wechat.takings.refunds_reversed
        ),
        (0, Money::ZERO)
    );
    let anna_cash = row("anna", "cash");
    assert_eq!(
        (
            anna_cash.takings.refund_reversals,
            anna_cash.takings.reversals
        ),
        (0, 0),
        "{anna_cash:?}"
    );
    let total: Money = rows.iter().map(|row| row.takings.refunds).sum();
    assert_eq!(total, money("30.00"), "the books' refunds, unchanged");

    // A failed card refund's money: its credit, and the reversal that takes it back.
    owner
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key)
             SELECT 1, 'card_refund', 15.00, anna.id, 'card-refund-1'
             FROM operator anna WHERE anna.login = 'anna';
             INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id, operator_id,
                                             idempotency_key)
             SELECT t.account_id, 'reversal', -t.amount, t.id, t.operator_id,
                    'reversal-card-refund-1'
             FROM ledger_transaction t WHERE t.idempotency_key = 'card-refund-1'",
        )
        .await
        .expect("a card refund's credit and its reversal");
    assert_eq!(
        takings_of(&boss, &window).await,
        rows,
        "counted in no column, said in none"
    );
}

/// s41-c's "found, not fixed": the shift's X and Z reports (`shift_takings`) counted the
/// reversals the owner made in their operator's name — deposits in the takings, refunds in the
/// refunds — unsaid, and the Z report is printed. Each method of the shift now says how many of
/// its deposits and refunds are reversals and their money (sql/V198), the very figures of the
/// takings report's row (one rule, md_takings'); the X of the open shift and the Z of it closed
/// alike. A card refund's credit taken back is still no refund, said nowhere; the clerk whose
/// deposits were reversed keeps them in their own shift, unmarked. The supervisor's shifts
/// report says each shift's figures as its X/Z total, the reversals with them (sql/V210).
#[tokio::test]
async fn a_shifts_x_and_z_reports_say_the_reversals_they_count() {
    use chrono::{FixedOffset, Utc};
    let db = with_fixture().await;
    let owner = db.pool.get().await.unwrap();
    let zone = FixedOffset::east_opt(server_offset(&owner).await).unwrap();
    let window = Window::of_day(Utc::now().with_timezone(&zone).date_naive(), zone);
    let anna = db.pool_of("anna");
    take(&anna, "a-1", Movement::Deposit, "300.00", "cash").await;
    take(&anna, "a-2", Movement::Deposit, "200.00", "cash").await;
    take(&anna, "a-3", Movement::Deposit, "50.00", "wechat_pay").await;
    let boss = db.pool_of("boss");
    take(&boss, "b-1", Movement::Deposit, "20.00", "cash").await;
    take(&boss, "b-2", Movement::Refund, "30.00", "cash").await;
    take(&boss, "b-3", Movement::Refund, "20.00", "cash").await;
    owner
        .batch_execute(
            "INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id, operator_id,
                                             idempotency_key)
             SELECT t.account_id, 'reversal', -t.amount, t.id, boss.id, 'reversal-' || t.idempotency_key
             FROM ledger_transaction t, operator boss
             WHERE t.idempotency_key IN ('a-1', 'a-2', 'b-2') AND boss.login = 'boss';
             INSERT INTO ledger_transaction (account_id, kind, amount, operator_id, idempotency_key)
             SELECT 1, 'card_refund', 15.00, boss.id, 'card-refund-1'
             FROM operator boss WHERE boss.login = 'boss';
             INSERT INTO ledger_transaction (account_id, kind, amount, reverses_id, operator_id,
                                             idempotency_key)
             SELECT t.account_id, 'reversal', -t.amount, t.id, t.operator_id,
                    'reversal-card-refund-1'
             FROM ledger_transaction t WHERE t.idempotency_key = 'card-refund-1'",
        )
        .await
        .expect("two of anna's deposits and a refund of the supervisor's reversed in their name");
    let client = boss.get().await.unwrap();
    let shift = shifts::own_latest(&**client)
        .await
        .unwrap()
        .expect("opened");
    let cash = |report: &shifts::ShiftReport| {
        report
            .methods
            .iter()
            .find(|m| m.method == "cash")
            .cloned()
            .unwrap_or_else(|| panic!("{report:?}"))
    };
    let x = shifts::report(&**client, shift.id).await.unwrap().unwrap();
    let x_cash = cash(&x);
    assert_eq!(
        (
            (x_cash.payments, x_cash.takings),
            (x_cash.reversals, x_cash.reversed),
            (x_cash.refund_count, x_cash.refunds),
            (x_cash.refund_reversals, x_cash.refunds_reversed),
        ),
        (
            (1, money("-480.00")),
            (2, money("-500.00")),
            (2, money("20.00")),
            (1, money("-30.00")),
        ),
        "one payment and two reversals; two refunds paid out, one reversed: {x:?}"
    );
    assert_eq!(
        x.methods.len(),
        1,
        "the card refund's credit in no method: {x:?}"
    );
    let boss_row = takings_of(&boss, &window)
        .await
        .into_iter()
        .find(|row| row.operator == "boss" && row.takings.method == "cash")
        .expect("the supervisor's takings row");
    assert_eq!(
        boss_row.takings, x_cash,
        "the shift says what the takings report's row says"
    );

    assert_eq!(
        shifts::close(&**client, shift.id, "z-1").await.unwrap(),
        Closed::Now
    );
    let z = shifts::report(&**client, shift.id).await.unwrap().unwrap();
    assert!(z.shift.closed_at.is_some());
    assert_eq!(cash(&z), x_cash, "the Z report says them as the X did");
    let total = z.total();
    assert_eq!(
        (
            total.reversals,
            total.reversed,
            total.refund_reversals,
            total.refunds_reversed
        ),
        (2, money("-500.00"), 1, money("-30.00"))
    );

    let anna_client = anna.get().await.unwrap();
    let anna_shift = shifts::own_latest(&**anna_client).await.unwrap().unwrap();
    let anna_x = shifts::report(&**anna_client, anna_shift.id)
        .await
        .unwrap()
        .unwrap();
    let anna_total = anna_x.total();
    assert_eq!(
        (
            anna_total.takings,
            anna_total.reversals,
            anna_total.refund_reversals
        ),
        (money("550.00"), 0, 0),
        "the clerk's shift as taken: {anna_x:?}"
    );

    // s42-d's "Found, not fixed" (s43-c, sql/V210): the supervisor's shifts report said each
    // shift's takings and refunds with the reversals in them, unsaid. Its row of a shift is now
    // the shift's X/Z total, figure by figure: the reversals said as the paper says them.
    let Report::Shifts(day) = shifts::report_of(&**client, ReportKind::Shifts, &window)
        .await
        .unwrap()
    else {
        panic!("the shifts report")
    };
    let figures = |operator: &str| {
        day.iter()
            .find(|row| row.operator == operator)
            .map(|row| row.figures.clone())
            .unwrap_or_else(|| panic!("{operator}'s shift: {day:?}"))
    };
    assert_eq!(figures("boss"), total, "the closed shift, as its Z report");
    assert_eq!(
        figures("anna"),
        anna_total,
        "the open shift, as its X report"
    );
}
