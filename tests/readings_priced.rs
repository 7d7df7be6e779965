//! A reading's water and money are what the database works out (sql/V34): the desk prices in
//! Rust (domain::billing, the screen's preview) and `reading_write` refuses any call whose
//! consumption, bills or deductions are not the scheme's price. Here the two pricings are held
//! side by side over many cases, and a clerk's forged readings, sent as the desk's own role
//! would send them from psql, are refused with nothing written.

mod support;

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use meterdesk::db::price_schemes;
use meterdesk::db::readings::{self, BillDetail, NewReading, ReadingOutcome, ReadingSource};
use meterdesk::domain::billing::{self, Slice};
use meterdesk::domain::money::Volume;
use rust_decimal::Decimal;
use support::billing_desk::{Desk, NonCharging, desk, non_charging};
use support::pg::fresh_db;
use tokio_postgres::error::SqlState;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A small deterministic generator (xorshift64): the same cases on every run.
struct Cases(u64);

impl Cases {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }

    /// m³ with litres: often a few litres, often round, mostly up to 120 m³.
    fn volume(&mut self) -> Volume {
        let litres = match self.below(4) {
            0 => self.below(20),
            1 => self.below(121) * 1000,
            _ => self.below(120_001),
        };
        Volume::exact(Decimal::new(litres as i64, 3)).unwrap()
    }
}

/// Schemes of every mode with price changes, cycles starting on a month's last day, tier
/// bounds and prices with every decimal, VAT rates that do not divide evenly; kind prepaid
/// (the kind does not price).
const SCHEMES: &str = "
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, accumulation_cycle_months, start_date)
    VALUES ('stepped 12', 'prepaid', 'stepped', 0.09, 12, '2025-01-01'),
           ('leap 3', 'prepaid', 'leap', 0.13, 3, '2025-01-31'),
           ('fixed', 'prepaid', 'fixed', 0.0625, NULL, '2025-02-28'),
           ('stepped 1', 'prepaid', 'stepped', 0, 1, '2025-01-31'),
           ('leap 5', 'prepaid', 'leap', 0.09, 5, '2024-11-30');
    INSERT INTO price_version (price_scheme_id, effective_from)
    VALUES (1, '2025-01-01'), (1, '2025-05-01'), (2, '2025-01-31'), (2, '2025-07-15'),
           (3, '2025-02-28'), (3, '2025-09-01'), (4, '2025-01-31'), (4, '2025-03-31'),
           (5, '2024-11-30');
    INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
    VALUES (1, 1, 50, 1), (1, 2, 100, 2), (1, 3, NULL, 3),
           (2, 1, 50, 1.3333), (2, 2, 100, 2.1111), (2, 3, NULL, 3.0007),
           (3, 1, 10, 0.5), (3, 2, 20.5, 0.7777), (3, 3, NULL, 1.2345),
           (4, 1, 5, 0), (4, 2, NULL, 4.9999),
           (5, 1, NULL, 3.3333), (6, 1, NULL, 0.01),
           (7, 1, 0.005, 1), (7, 2, NULL, 1),
           (8, 1, 1.5, 0.9999), (8, 2, 2, 1.0001), (8, 3, NULL, 7.0303),
           (9, 1, 50, 1), (9, 2, 100, 2), (9, 3, NULL, 3);
";

/// Slices as the two arrays `md_price` is given them from here (dates, m³).
fn columns(slices: &[Slice]) -> (Vec<NaiveDate>, Vec<Decimal>) {
    slices
        .iter()
        .map(|slice| (slice.read_on, slice.volume.to_decimal()))
        .unzip()
}

/// 1 500 cases: water charged before (any order, any cycle) and slices in date order, over
/// two years of each scheme; the database's price (amount, VAT, volume, the bill's version and
/// its details) is the desk's to the cent and the character.
#[tokio::test]
async fn the_database_prices_water_as_the_desk_does() {
    let db = fresh_db().await;
    let owner = db.pool.get().await.unwrap();
    owner.batch_execute(SCHEMES).await.unwrap();
    let version_ids: HashMap<(i64, NaiveDate), i64> = owner
        .query(
            "SELECT id, price_scheme_id, effective_from FROM price_version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| ((row.get(1), row.get(2)), row.get(0)))
        .collect();
    let mut cases = Cases(0x5eed_cafe);
    let mut compared = 0;
    for scheme_id in 1..=5_i64 {
        let detail = price_schemes::scheme(&owner, scheme_id)
            .await
            .unwrap()
            .unwrap();
        let scheme = detail.pricing().unwrap();
        let start = detail.row.fields.start_date;
        let on = |offset: u64| start.checked_add_days(Days::new(offset)).unwrap();
        for _ in 0..300 {
            let earlier: Vec<Slice> = (0..cases.below(5))
                .map(|_| Slice {
                    read_on: on(cases.below(600)),
                    volume: cases.volume(),
                })
                .collect();
            let mut next = cases.below(400);
            let slices: Vec<Slice> = (0..1 + cases.below(4))
                .map(|_| {
                    next += cases.below(70);
                    Slice {
                        read_on: on(next),
                        volume: cases.volume(),
                    }
                })
                .collect();
            let desk = billing::price(&scheme, &earlier, &slices).unwrap();
            let (earlier_on, earlier_m3) = columns(&earlier);
            let (slices_on, slices_m3) = columns(&slices);
            let row = owner
                .query_one(
                    "SELECT amount, vat, volume, version_id, detail::text AS detail
                     FROM md_price($1,
                         ARRAY(SELECT ROW(d, v)::md_slice FROM unnest($2::date[], $3::numeric[]) u(d, v)),
                         ARRAY(SELECT ROW(d, v)::md_slice
                               FROM unnest($4::date[], $5::numeric[]) WITH ORDINALITY u(d, v, n)
                               ORDER BY n))",
                    &[&scheme_id, &earlier_on, &earlier_m3, &slices_on, &slices_m3],
                )
                .await
                .unwrap();
            let case = format!("scheme {scheme_id}, earlier {earlier:?}, slices {slices:?}");
            assert_eq!(
                row.get::<_, Decimal>("amount"),
                desk.amount.to_decimal(),
                "{case}"
            );
            assert_eq!(
                row.get::<_, Decimal>("vat"),
                desk.vat.to_decimal(),
                "{case}"
            );
            assert_eq!(
                row.get::<_, Decimal>("volume"),
                desk.volume.to_decimal(),
                "{case}"
            );
            let last_part = desk.parts.last().unwrap().prices_from;
            assert_eq!(
                row.get::<_, i64>("version_id"),
                version_ids[&(scheme_id, last_part)],
                "{case}"
            );
            let stored: serde_json::Value =
                serde_json::from_str(row.get::<_, &str>("detail")).unwrap();
            assert_eq!(
                stored,
                serde_json::to_value(BillDetail::from(&desk)).unwrap(),
                "{case}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 1500);
}

/// The consumption between two readings (a rollover's wraps at the register's power of ten)
/// and the cycle a date lies in are the desk's too.
#[tokio::test]
async fn the_database_counts_water_and_cycles_as_the_desk_does() {
    let db = fresh_db().await;
    let owner = db.pool.get().await.unwrap();
    let mut cases = Cases(0xc0ffee);
    for _ in 0..300 {
        let digits = 1 + cases.below(9) as u32;
        let reading = |cases: &mut Cases| {
            let litres = cases.below(10_u64.pow(digits) * 1000);
            Volume::exact(Decimal::new(litres as i64, 3)).unwrap()
        };
        let previous = reading(&mut cases);
        let current = reading(&mut cases);
        let desk = billing::consumption(previous, current, current < previous).unwrap();
        let row = owner
            .query_one(
                "SELECT md_consumption($1, $2) AS used",
                &[&previous.to_decimal(), &current.to_decimal()],
            )
            .await
            .unwrap();
        assert_eq!(
            row.get::<_, Decimal>("used"),
            desk.to_decimal(),
            "{previous} → {current}"
        );

        let start = day("2024-01-31")
            .checked_add_days(Days::new(cases.below(400)))
            .unwrap();
        let months = 1 + cases.below(120) as u32;
        let date = day("2020-01-01")
            .checked_add_days(Days::new(cases.below(6000)))
            .unwrap();
        let period = billing::SettlementCycles::new(start, months)
            .unwrap()
            .period_of(date);
        let row = owner
            .query_one(
                "SELECT first_day, next_first_day FROM md_cycle($1, $2, $3)",
                &[&start, &(months as i32), &date],
            )
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, NaiveDate>(0), row.get::<_, NaiveDate>(1)),
            (period.first_day, period.next_first_day),
            "{date} in cycles of {months} months from {start}"
        );
    }
}

/// What a refused call must leave as it was: readings, bills, ledger, balances, audit entries.
async fn written(desk: &Desk) -> String {
    desk.owner
        .query_one(
            "SELECT concat_ws(E'\\n',
                 (SELECT json_agg(r ORDER BY id) FROM meter_reading r),
                 (SELECT json_agg(b ORDER BY id) FROM bill b),
                 (SELECT json_agg(t ORDER BY id) FROM ledger_transaction t),
                 (SELECT json_agg(a ORDER BY id) FROM account a),
                 (SELECT count(*) FROM audit_log)) AS rows",
            &[],
        )
        .await
        .unwrap()
        .get("rows")
}

/// A reading as `reading_write` takes it (db::readings::batch), as psql would send it.
struct Sent<'a> {
    key: &'a str,
    bills: String,
    readings: String,
}

impl Sent<'_> {
    fn sql(&self) -> String {
        format!(
            "SELECT reading_write('{}', 'counter', '{}', '{}')",
            self.key, self.bills, self.readings
        )
    }
}

/// The postpaid meter (initial 100) read at `electronic` on 2025-02-10 with `consumption`,
/// on a new first-quarter bill of `volume`, `amount`, `vat` and `tiers`.
fn postpaid_reading<'a>(
    desk: &Desk,
    account: i64,
    key: &'a str,
    electronic: &str,
    consumption: &str,
    bill: (&str, &str, &str, &str),
) -> Sent<'a> {
    let (volume, amount, vat, tiers) = bill;
    Sent {
        key,
        bills: format!(
            r#"[{{"ref": "n0", "bill_id": null, "account_id": {account},
                 "period_start": "2025-01-01", "period_end": "2025-03-31", "due_date": "2025-04-30",
                 "previous_reading": "100.000", "current_reading": "{electronic}",
                 "volume": "{volume}", "amount": "{amount}", "vat": "{vat}", "price_version_id": 1,
                 "detail": {{"parts": [{{"prices_from": "2025-01-01", "accumulated_before": "0.000",
                     "volume": "{volume}", "amount": "{amount}", "vat": "{vat}", "tiers": [{tiers}]}}]}}}}]"#
        ),
        readings: format!(
            r#"[{{"seq": 0, "line": 1, "meter_id": 1, "customer_id": {customer}, "account_id": {account},
                 "read_on": "2025-02-10", "electronic": "{electronic}", "previous_id": null,
                 "previous": "100.000", "consumption": "{consumption}", "abnormal": false,
                 "bill_ref": "n0"}}]"#,
            customer = desk.postpaid
        ),
    }
}

/// The system-prepaid meter (initial 0, 2.50/m³) read at 10 on 2025-02-10 and deducted
/// `amount` for `consumption`.
fn prepaid_reading<'a>(
    desk: &Desk,
    account: i64,
    key: &'a str,
    consumption: &str,
    amount: &str,
) -> Sent<'a> {
    Sent {
        key,
        bills: "[]".into(),
        readings: format!(
            r#"[{{"seq": 0, "line": 1, "meter_id": 2, "customer_id": {customer}, "account_id": {account},
                 "read_on": "2025-02-10", "electronic": "10.000", "previous_id": null,
                 "previous": "0.000", "consumption": "{consumption}", "abnormal": false,
                 "bill_ref": null, "amount": "{amount}", "volume": "{consumption}",
                 "unit_price": "2.5000"}}]"#,
            customer = desk.prepaid
        ),
    }
}

fn tier(number: u32, volume: &str, price: &str, amount: &str) -> String {
    format!(
        r#"{{"tier": {number}, "volume": "{volume}", "unit_price": "{price}", "amount": "{amount}"}}"#
    )
}

/// The tier lines of 60 m³ from nothing at the manual's stepped prices: 50 × 1.00 + 10 × 2.00.
fn sixty_m3_tiers() -> String {
    format!(
        "{}, {}",
        tier(1, "50.000", "1.0000", "50.00"),
        tier(2, "10.000", "2.0000", "20.00")
    )
}

async fn account_of(desk: &Desk, customer: i64) -> i64 {
    desk.owner
        .query_one(
            "SELECT id FROM account WHERE customer_id = $1",
            &[&customer],
        )
        .await
        .unwrap()
        .get("id")
}

/// What V34's check says of a reading it refuses.
const MISPRICED: &str = "is priced by its scheme";
/// …and V58's.
const MISMARKED: &str = "is marked abnormal by the meter's history";

/// Refused by the check that says `because` (V34's, V58's), not by another of reading_write's.
fn refused_because(refused: &tokio_postgres::Error, sql: &str, because: &str) {
    let server = refused.as_db_error().expect("a refusal by the server");
    assert_eq!(
        server.code(),
        &SqlState::INSUFFICIENT_PRIVILEGE,
        "{sql}: {server:?}"
    );
    assert!(
        server.message().contains(because),
        "{sql}: refused for another reason: {}",
        server.message()
    );
}

/// Each of `forged`, sent by `clerk`, is refused by the check that says `because` and leaves
/// everything as it was.
async fn refused_writing_nothing(
    desk: &Desk,
    clerk: &tokio_postgres::Client,
    forged: &[Sent<'_>],
    because: &str,
) {
    let before = written(desk).await;
    for sent in forged {
        let refused = clerk.execute(&sent.sql(), &[]).await.unwrap_err();
        refused_because(&refused, &sent.sql(), because);
        assert_eq!(
            written(desk).await,
            before,
            "a refused call wrote: {}",
            sent.sql()
        );
    }
}

/// A clerk's own role sends `reading_write` what the desk would not: each is refused by the
/// server (insufficient_privilege) and nothing changes; the honest call, sent the same way,
/// is recorded.
#[tokio::test]
async fn a_reading_priced_by_the_clerk_is_refused() {
    let desk = desk().await;
    let clerk = desk.clerk.get().await.unwrap();
    let postpaid = account_of(&desk, desk.postpaid).await;
    let prepaid = account_of(&desk, desk.prepaid).await;
    // 60 m³ from nothing: 50 × 1.00 + 10 × 2.00 = 70.00, VAT 9 % inside: 5.78.
    let honest_tiers = sixty_m3_tiers();
    let honest = |key| {
        postpaid_reading(
            &desk,
            postpaid,
            key,
            "160.000",
            "60.000",
            ("60.000", "70.00", "5.78", &honest_tiers),
        )
    };
    let forged = [
        // The amount alone.
        postpaid_reading(
            &desk,
            postpaid,
            "k1",
            "160.000",
            "60.000",
            ("60.000", "0.01", "5.78", &honest_tiers),
        ),
        // Every m³ in the first tier, lines and amount agreeing.
        postpaid_reading(
            &desk,
            postpaid,
            "k2",
            "160.000",
            "60.000",
            (
                "60.000",
                "60.00",
                "4.95",
                &tier(1, "60.000", "1.0000", "60.00"),
            ),
        ),
        // Less water than the meter shows, billed as that.
        postpaid_reading(
            &desk,
            postpaid,
            "k3",
            "160.000",
            "1.000",
            ("1.000", "1.00", "0.08", &tier(1, "1.000", "1.0000", "1.00")),
        ),
        // The right price on a bill of another quarter.
        {
            let sent = honest("k4");
            Sent {
                bills: sent.bills.replace(
                    r#""period_start": "2025-01-01", "period_end": "2025-03-31""#,
                    r#""period_start": "2024-10-01", "period_end": "2024-12-31""#,
                ),
                ..sent
            }
        },
        // A postpaid reading on no bill at all.
        {
            let sent = honest("k5");
            Sent {
                bills: "[]".into(),
                readings: sent
                    .readings
                    .replace(r#""bill_ref": "n0""#, r#""bill_ref": null"#),
                ..sent
            }
        },
        // A deduction of a cent for 10 m³ at 2.50, and one for no water.
        prepaid_reading(&desk, prepaid, "k6", "10.000", "0.01"),
        prepaid_reading(&desk, prepaid, "k7", "0.000", "0.00"),
    ];
    refused_writing_nothing(&desk, &clerk, &forged, MISPRICED).await;
    // The system-prepaid reading put on a bill of its account, deducted its price or nothing:
    // refused by the deduction's check, which runs for a call that names a bill too (sql/V62).
    let prepaid_on_a_bill = |key, deducted: &str| {
        let sent = prepaid_reading(&desk, prepaid, key, "10.000", deducted);
        Sent {
            bills: honest(key).bills.replace(
                &format!(r#""account_id": {postpaid}"#),
                &format!(r#""account_id": {prepaid}"#),
            ),
            readings: sent
                .readings
                .replace(r#""bill_ref": null"#, r#""bill_ref": "n0""#),
            ..sent
        }
    };
    refused_writing_nothing(
        &desk,
        &clerk,
        &[
            prepaid_on_a_bill("k8", "25.00"),
            prepaid_on_a_bill("k9", "0.00"),
        ],
        "line 1 is not deducted the price of its water",
    )
    .await;
    let before = written(&desk).await;
    // Tables and types of the clerk's own session named like those the check reads decide
    // nothing: with a free tier of its own, water at no price is still refused.
    let free = postpaid_reading(
        &desk,
        postpaid,
        "free",
        "160.000",
        "60.000",
        (
            "60.000",
            "0.00",
            "0.00",
            &tier(1, "60.000", "0.0000", "0.00"),
        ),
    );
    let shadowed = clerk
        .batch_execute(&format!(
            "BEGIN;
             CREATE TEMP TABLE price_tier (price_version_id bigint, tier_no smallint,
                                           upper_bound_m3 numeric, unit_price numeric);
             INSERT INTO price_tier VALUES (1, 1, NULL, 0);
             CREATE TEMP TABLE md_slice (read_on date, volume numeric);
             {};",
            free.sql()
        ))
        .await
        .unwrap_err();
    clerk.batch_execute("ROLLBACK").await.unwrap();
    // Since sql/V159 a clerk makes no temporary table at all ("permission denied to create
    // temporary tables"), the shadow's first step; a role that may (the meter import's) meets
    // V34's check as before (boundary's shadowing test, as the supervisor).
    let temporary_refused = shadowed
        .as_db_error()
        .is_some_and(|e| e.message().contains("create temporary tables"));
    if !temporary_refused {
        refused_because(&shadowed, "shadowed", MISPRICED);
    }
    assert_eq!(written(&desk).await, before);
    for sent in [
        honest("ok1"),
        prepaid_reading(&desk, prepaid, "ok2", "10.000", "25.00"),
    ] {
        clerk.execute(&sent.sql(), &[]).await.unwrap();
    }
    let billed: Decimal = desk
        .owner
        .query_one("SELECT sum(amount) AS billed FROM bill", &[])
        .await
        .unwrap()
        .get("billed");
    assert_eq!(billed, Decimal::new(7000, 2));
    let deducted: Decimal = desk
        .owner
        .query_one(
            "SELECT -sum(amount) AS deducted FROM ledger_transaction WHERE kind = 'consumption'",
            &[],
        )
        .await
        .unwrap()
        .get("deducted");
    assert_eq!(deducted, Decimal::new(2500, 2));
}

/// sql/V72: a reading that deducts nothing (a postpaid one, on its bill) writes no ledger row
/// and calls none of the ledger's triggers, where its one write statement fired the ledger's
/// statement trigger over an empty INSERT; a system-prepaid deduction calls them as before.
/// Counted by the server (`track_functions`, set by the superuser before it becomes the clerk).
#[tokio::test]
async fn a_reading_without_a_deduction_calls_no_ledger_trigger() {
    let desk = desk().await;
    let postpaid = account_of(&desk, desk.postpaid).await;
    let prepaid = account_of(&desk, desk.prepaid).await;
    let tiers = sixty_m3_tiers();
    let superuser = meterdesk::db::pool_from_conn_str(
        &support::pg::cluster().superuser_connection_string(&desk.db.name),
        1,
    )
    .unwrap();
    let clerk = superuser.get().await.unwrap();
    clerk
        .batch_execute(&format!(
            "SET track_functions = 'pl'; SET SESSION AUTHORIZATION \"clerk@{}\"; BEGIN",
            desk.db.name
        ))
        .await
        .unwrap();
    let calls = || async {
        clerk
            .query_one(
                "SELECT coalesce(string_agg(funcname || ' ' || calls, ', ' ORDER BY funcname), '')
                     AS calls
                 FROM pg_stat_xact_user_functions
                 WHERE funcname IN ('reading_write', 'ledger_posted', 'ledger_apply_to_balance')",
                &[],
            )
            .await
            .unwrap()
            .get::<_, String>("calls")
    };
    let on_a_bill = postpaid_reading(
        &desk,
        postpaid,
        "counted-1",
        "160.000",
        "60.000",
        ("60.000", "70.00", "5.78", &tiers),
    );
    clerk.execute(&on_a_bill.sql(), &[]).await.unwrap();
    assert_eq!(calls().await, "reading_write 1");
    let deducted = prepaid_reading(&desk, prepaid, "counted-2", "10.000", "25.00");
    clerk.execute(&deducted.sql(), &[]).await.unwrap();
    assert_eq!(
        calls().await,
        "ledger_apply_to_balance 1, ledger_posted 1, reading_write 2"
    );
    clerk.batch_execute("COMMIT").await.unwrap();
    let (readings, deductions): (i64, i64) = {
        let row = desk
            .owner
            .query_one(
                "SELECT (SELECT count(*) FROM meter_reading) AS readings,
                        (SELECT count(*) FROM ledger_transaction l
                         JOIN meter_reading r ON r.transaction_id = l.id
                         WHERE l.kind = 'consumption' AND l.amount = -25.00
                           AND l.idempotency_key = 'reading:counted-2:1') AS deductions",
                &[],
            )
            .await
            .unwrap();
        (row.get("readings"), row.get("deductions"))
    };
    assert_eq!((readings, deductions), (2, 1));
}

/// A reading of customer `of` on meter `of.meter_id` (initial 0) read at `electronic` on
/// 2025-02-10 with `consumption`, as psql would send it: `money` is what follows `"bill_ref"`
/// (the bill it names, or a deduction).
fn free_reading<'a>(of: &NonCharging, key: &'a str, consumption: &str, money: &str) -> Sent<'a> {
    Sent {
        key,
        bills: "[]".into(),
        readings: format!(
            r#"[{{"seq": 0, "line": 1, "meter_id": {meter}, "customer_id": {customer},
                 "account_id": {account}, "read_on": "2025-02-10", "electronic": "10.000",
                 "previous_id": null, "previous": "0.000", "consumption": "{consumption}",
                 "abnormal": false, "bill_ref": {money}}}]"#,
            meter = of.meter_id,
            customer = of.customer_id,
            account = of.account_id,
        ),
    }
}

/// sql/V37 as a clerk's own role sends it from psql: a reading of a type that does not charge
/// is recorded on no bill and with no deduction, and refused with either (or with water other
/// than the meter's); a reading of a type that charges is still refused without its bill or its
/// deduction. Each refusal leaves readings, bills, ledger, balances and audit as they were.
#[tokio::test]
async fn a_type_that_does_not_charge_is_sent_no_money_and_a_charging_one_still_is() {
    let mut desk = desk().await;
    let district = non_charging(&mut desk, "postpaid", true, "ST-0001").await;
    let hydrant = non_charging(&mut desk, "system_prepaid", true, "ST-0002").await;
    let clerk = desk.clerk.get().await.unwrap();
    let postpaid = account_of(&desk, desk.postpaid).await;
    let prepaid = account_of(&desk, desk.prepaid).await;
    let honest_tiers = sixty_m3_tiers();
    let billed = postpaid_reading(
        &desk,
        postpaid,
        "b",
        "160.000",
        "60.000",
        ("60.000", "70.00", "5.78", &honest_tiers),
    );
    let forged = [
        // A charging postpaid customer's reading on no bill, a charging system-prepaid one's
        // with no deduction.
        Sent {
            key: "k1",
            bills: "[]".into(),
            readings: billed
                .readings
                .replace(r#""bill_ref": "n0""#, r#""bill_ref": null"#),
        },
        {
            let sent = prepaid_reading(&desk, prepaid, "k2", "10.000", "25.00");
            Sent {
                readings: sent
                    .readings
                    .replace(r#""amount": "25.00""#, r#""amount": null"#)
                    .replace(r#""volume": "10.000""#, r#""volume": null"#)
                    .replace(r#""unit_price": "2.5000""#, r#""unit_price": null"#),
                ..sent
            }
        },
        // A district meter's reading put on a bill, or deducted; one with less water than
        // the meter shows.
        Sent {
            bills: billed.bills.replace(
                &format!(r#""account_id": {postpaid}"#),
                &format!(r#""account_id": {}"#, district.account_id),
            ),
            ..free_reading(&district, "k3", "10.000", r#""n0""#)
        },
        free_reading(
            &hydrant,
            "k4",
            "10.000",
            r#"null, "amount": "0.01", "volume": "10.000", "unit_price": "0.0010""#,
        ),
        free_reading(&hydrant, "k5", "10.000", r#"null, "amount": "0.00""#),
        free_reading(&district, "k6", "1.000", "null"),
    ];
    refused_writing_nothing(&desk, &clerk, &forged, MISPRICED).await;
    for sent in [
        free_reading(&district, "ok1", "10.000", "null"),
        free_reading(&hydrant, "ok2", "10.000", "null"),
    ] {
        clerk.execute(&sent.sql(), &[]).await.unwrap();
    }
    let left = desk
        .owner
        .query_one(
            "SELECT (SELECT count(*) FROM meter_reading
                     WHERE customer_id IN ($1, $2) AND consumption = 10
                       AND bill_id IS NULL AND transaction_id IS NULL) AS readings,
                    (SELECT count(*) FROM bill) AS bills,
                    (SELECT count(*) FROM ledger_transaction) AS ledger,
                    (SELECT sum(abs(balance)) FROM account) AS balances",
            &[&district.customer_id, &hydrant.customer_id],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            left.get::<_, i64>("readings"),
            left.get::<_, i64>("bills"),
            left.get::<_, i64>("ledger"),
            left.get::<_, Decimal>("balances"),
        ),
        (2, 0, 0, Decimal::ZERO)
    );
}

/// Readings of `of`'s meter (a type that does not charge) in one call, as psql would send them:
/// each `(day, electronic m³, abnormal)` follows the one before, the first the meter's latest
/// reading `after` (its id and value; none: the initial 0).
fn district_readings<'a>(
    of: &NonCharging,
    key: &'a str,
    after: Option<(i64, u32)>,
    readings: &[(&str, u32, bool)],
) -> Sent<'a> {
    let mut previous = after.map_or(0, |(_, value)| value);
    let records: Vec<String> = readings
        .iter()
        .enumerate()
        .map(|(seq, (day, electronic, abnormal))| {
            let record = format!(
                r#"{{"seq": {seq}, "line": {line}, "meter_id": {meter}, "customer_id": {customer},
                    "account_id": {account}, "read_on": "{day}", "electronic": "{electronic}",
                    "previous_id": {previous_id}, "previous": "{previous}",
                    "consumption": "{consumption}", "abnormal": {abnormal}, "bill_ref": null}}"#,
                line = seq + 1,
                meter = of.meter_id,
                customer = of.customer_id,
                account = of.account_id,
                previous_id = after.map_or("null".to_owned(), |(id, _)| id.to_string()),
                consumption = electronic - previous,
            );
            previous = *electronic;
            record
        })
        .collect();
    Sent {
        key,
        bills: "[]".into(),
        readings: format!("[{}]", records.join(", ")),
    }
}

/// sql/V58 as a clerk's own role sends it from psql: a reading's abnormal mark is what the
/// meter's history makes it (above 3 × the average of its latest 6 consumptions, the call's
/// earlier readings of the meter included; none without history), and a call marking any
/// reading otherwise — an abnormal one hidden, a normal one added — is refused whole, nothing
/// written. The honest calls are recorded with their marks, and only the abnormal ones are on
/// the supervisors' list.
#[tokio::test]
async fn the_abnormal_mark_is_the_databases_not_the_clerks() {
    let mut desk = desk().await;
    let district = non_charging(&mut desk, "postpaid", true, "ST-0001").await;
    let clerk = desk.clerk.get().await.unwrap();
    // Six months of 10 m³, then 31 m³: above 3 × 10.
    let months = [
        "2025-01-10",
        "2025-02-10",
        "2025-03-10",
        "2025-04-10",
        "2025-05-10",
    ];
    let half_year = |key, last: bool| {
        let mut readings: Vec<(&str, u32, bool)> = months
            .iter()
            .zip(1..)
            .map(|(day, n)| (*day, 10 * n, false))
            .collect();
        readings.push(("2025-06-10", 60, false));
        readings.push(("2025-07-10", 91, last));
        district_readings(&district, key, None, &readings)
    };
    let forged = [
        // No history: nothing is abnormal, however much.
        district_readings(&district, "k1", None, &[("2025-01-10", 500, true)]),
        // The seventh hidden from the list.
        half_year("k2", false),
        // Exactly 3 × the average added to it.
        {
            let sent = half_year("k3", true);
            Sent {
                readings: sent
                    .readings
                    .replace(r#""electronic": "91""#, r#""electronic": "90""#)
                    .replace(r#""consumption": "31""#, r#""consumption": "30""#),
                ..sent
            }
        },
    ];
    refused_writing_nothing(&desk, &clerk, &forged, MISMARKED).await;
    clerk
        .execute(&half_year("ok1", true).sql(), &[])
        .await
        .unwrap();
    // The stored history now: 10 × 5, 31 (average 13.5; 3 × that is 40.5).
    let latest: i64 = desk
        .owner
        .query_one("SELECT max(id) AS id FROM meter_reading", &[])
        .await
        .unwrap()
        .get("id");
    let next = |key, electronic, abnormal| {
        district_readings(
            &district,
            key,
            Some((latest, 91)),
            &[("2025-08-10", electronic, abnormal)],
        )
    };
    refused_writing_nothing(
        &desk,
        &clerk,
        &[next("k4", 132, false), next("k5", 131, true)],
        MISMARKED,
    )
    .await;
    clerk
        .execute(&next("ok2", 132, true).sql(), &[])
        .await
        .unwrap();
    let marked: Vec<(Decimal, bool)> = desk
        .owner
        .query(
            "SELECT consumption, abnormal FROM meter_reading ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("consumption"), row.get("abnormal")))
        .collect();
    let ten = (Decimal::new(10, 0), false);
    assert_eq!(
        marked,
        [
            ten,
            ten,
            ten,
            ten,
            ten,
            ten,
            (Decimal::new(31, 0), true),
            (Decimal::new(41, 0), true)
        ]
    );
    let supervisor = desk.supervisor.get().await.unwrap();
    let listed = readings::abnormal_between(&**supervisor, day("2025-08-10"), day("2025-08-10"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    // A range's list has the abnormal readings of every day in it, largest first; the days
    // between them have none.
    let summer = readings::abnormal_between(&**supervisor, day("2025-07-01"), day("2025-08-31"))
        .await
        .unwrap();
    assert_eq!(
        summer.iter().map(|row| row.read_on).collect::<Vec<_>>(),
        [day("2025-08-10"), day("2025-07-10")]
    );
    let between = readings::abnormal_between(&**supervisor, day("2025-07-11"), day("2025-08-09"))
        .await
        .unwrap();
    assert_eq!(between, []);
}

/// An open bill is extended only to the price of all its water: a second reading that says the
/// quarter's bill now costs less than its water is refused, and a bill named by no reading of
/// the call is not touched.
#[tokio::test]
async fn an_open_bill_is_extended_only_to_its_price() {
    let desk = desk().await;
    let clerk = desk.clerk.get().await.unwrap();
    let postpaid = account_of(&desk, desk.postpaid).await;
    let first = postpaid_reading(
        &desk,
        postpaid,
        "first",
        "130.000",
        "30.000",
        (
            "30.000",
            "30.00",
            "2.48",
            &tier(1, "30.000", "1.0000", "30.00"),
        ),
    );
    clerk.execute(&first.sql(), &[]).await.unwrap();
    let (bill, reading): (i64, i64) = {
        let row = desk
            .owner
            .query_one("SELECT bill_id, id FROM meter_reading", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    // 30 more m³ on 2025-03-20: the quarter's 60 m³ cost 70.00; sent as 60.00 (all tier 1).
    let extend = |key: &str, amount: &str, vat: &str, tiers: &str, reading_ref: &str| {
        format!(
            r#"SELECT reading_write('{key}', 'counter',
                 '[{{"ref": "s{bill}", "bill_id": {bill}, "account_id": {postpaid},
                    "period_start": "2025-01-01", "period_end": "2025-03-31", "due_date": "2025-04-30",
                    "previous_reading": "100.000", "current_reading": "160.000",
                    "volume": "60.000", "amount": "{amount}", "vat": "{vat}", "price_version_id": 1,
                    "detail": {{"parts": [{{"prices_from": "2025-01-01", "accumulated_before": "0.000",
                        "volume": "60.000", "amount": "{amount}", "vat": "{vat}", "tiers": [{tiers}]}}]}}}}]',
                 '[{{"seq": 0, "line": 1, "meter_id": 1, "customer_id": {customer},
                    "account_id": {postpaid}, "read_on": "2025-03-20", "electronic": "160.000",
                    "previous_id": {reading}, "previous": "130.000", "consumption": "30.000",
                    "abnormal": false, "bill_ref": {reading_ref}}}]')"#,
            customer = desk.postpaid
        )
    };
    let honest_tiers = sixty_m3_tiers();
    let before = written(&desk).await;
    for forged in [
        extend(
            "x1",
            "60.00",
            "4.95",
            &tier(1, "60.000", "1.0000", "60.00"),
            &format!("\"s{bill}\""),
        ),
        // The honest bill, but the reading put on no bill of the call.
        extend("x2", "70.00", "5.78", &honest_tiers, "null"),
    ] {
        let refused = clerk.execute(&forged, &[]).await.unwrap_err();
        refused_because(&refused, &forged, MISPRICED);
        assert_eq!(
            written(&desk).await,
            before,
            "a refused call wrote: {forged}"
        );
    }
    clerk
        .execute(
            &extend(
                "x3",
                "70.00",
                "5.78",
                &honest_tiers,
                &format!("\"s{bill}\""),
            ),
            &[],
        )
        .await
        .unwrap();
    let amount: Decimal = desk
        .owner
        .query_one("SELECT amount FROM bill WHERE id = $1", &[&bill])
        .await
        .unwrap()
        .get("amount");
    assert_eq!(amount, Decimal::new(7000, 2));
}

/// Settled every 3 months but accumulated every 2 (both from 1 January): the second quarter's
/// bill, priced again with each reading, starts in an accumulation cycle (March–April) that
/// began in the first quarter. Its April water counts March's towards the tiers, as the
/// database prices it; the desk read the charged water only from the quarter's first day and
/// billed 40.00 (refused by V34) for what costs 50.00.
#[tokio::test]
async fn a_bill_priced_again_counts_its_whole_accumulation_cycle() {
    let desk = desk().await;
    desk.owner
        .execute(
            "UPDATE price_scheme SET accumulation_cycle_months = 2 WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    let mut clerk = desk.clerk.get().await.unwrap();
    let mut bills = Vec::new();
    // From 100: 40 m³ on 5 March (first quarter), 20 on 10 April (40 → 60 in March–April:
    // 10 × 1.00 + 10 × 2.00), 20 on 20 May (a new accumulation cycle: 20 × 1.00).
    for (key, on, electronic) in [
        ("march", "2025-03-05", "140"),
        ("april", "2025-04-10", "160"),
        ("may", "2025-05-20", "180"),
    ] {
        let reading = NewReading {
            meter_id: 1,
            read_on: day(on),
            electronic: Volume::exact(electronic.parse().unwrap()).unwrap(),
            mechanical: None,
            source: ReadingSource::Counter,
            rollover: false,
            abnormal_confirmed: false,
        };
        match readings::enter_reading(&mut clerk, key, &reading).await {
            Ok(ReadingOutcome::Recorded { bill, .. }) => bills.push(bill.unwrap().to_string()),
            other => panic!("{key}: {other:?}"),
        }
    }
    assert_eq!(bills, ["40.00", "30.00", "50.00"]);
}
