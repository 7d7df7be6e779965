//! The desk's "today" is its database sessions' "today" (db::zone) and the utility's, the
//! installation's zone its installer's desk's (sql/V280: the test template is migrated in the
//! desk's zone, as `meterdesk migrate` is): on a database whose `TimeZone` is UTC, a desk hours
//! east or west of it, at a moment when their dates differ, has a counter reading and a reading
//! import dated its own today taken and recorded with that date, and one dated its tomorrow
//! refused as after its today.
//!
//! The machine's clock cannot be moved, so the desk's zone is chosen from the hour now: eight
//! hours east (Beijing's) when that is already tomorrow in UTC's terms, else fourteen hours
//! east, else twelve west. Every test of this binary fixes the same zone before any pool is
//! made.

mod support;

use std::sync::OnceLock;

use chrono::{FixedOffset, NaiveDate, Timelike, Utc};
use meterdesk::db::readings::{self, NewReading, ReadingOutcome, ReadingRefusal, ReadingSource};
use meterdesk::db::zone;
use meterdesk::domain::billing::ReadingError;
use meterdesk::domain::money::Volume;
use meterdesk::domain::reading_csv::{READING_CSV_TEMPLATE, ReadingProblem, parse_reading_csv};
use support::billing_desk::{Desk, desk};

/// A zone whose date differs from UTC's now (and for the next hour at least).
fn desk_zone() -> FixedOffset {
    static ZONE: OnceLock<FixedOffset> = OnceLock::new();
    let wanted = *ZONE.get_or_init(|| {
        let hours = match Utc::now().hour() {
            16.. => 8,
            10.. => 14,
            _ => -12,
        };
        FixedOffset::east_opt(hours * 3600).unwrap()
    });
    assert_eq!(
        zone::fix_desk_zone(wanted),
        wanted,
        "the desk's zone fixed first"
    );
    wanted
}

fn desk_today(zone: FixedOffset) -> NaiveDate {
    Utc::now().with_timezone(&zone).date_naive()
}

/// A desk (billing_desk's) on a database whose own `TimeZone` is UTC, as a utility's server
/// may run; checked on a connection without the desk's settings, whose date is not the
/// desk's.
async fn desk_on_a_utc_database(zone: FixedOffset) -> Desk {
    let desk = desk().await;
    desk.db
        .execute_as_superuser(&format!(
            "ALTER DATABASE {} SET TimeZone = 'UTC'",
            desk.db.name
        ))
        .await;
    let (plain, connection) = tokio_postgres::connect(&desk.db.conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = plain
        .query_one(
            "SELECT current_setting('TimeZone') AS zone, current_date AS today",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>("zone"), "UTC");
    assert_ne!(
        row.get::<_, NaiveDate>("today"),
        desk_today(zone),
        "the server's date and the desk's differ now"
    );
    desk
}

fn reading(meter_id: i64, on: NaiveDate, value: &str) -> NewReading {
    NewReading {
        meter_id,
        read_on: on,
        electronic: Volume::exact(value.parse().unwrap()).unwrap(),
        mechanical: None,
        source: ReadingSource::Counter,
        rollover: false,
        abnormal_confirmed: false,
    }
}

async fn read_on_of(desk: &Desk, meter_id: i64) -> Vec<NaiveDate> {
    desk.owner
        .query(
            "SELECT read_on FROM meter_reading WHERE meter_id = $1 ORDER BY id",
            &[&meter_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("read_on"))
        .collect()
}

/// Every session the desk opens says the desk's date and offset, whatever the server's zone.
#[tokio::test]
async fn a_desk_session_runs_in_the_desks_zone() {
    let zone = desk_zone();
    let desk = desk_on_a_utc_database(zone).await;
    let clerk = desk.clerk.get().await.unwrap();
    let row = clerk
        .query_one(
            "SELECT current_date AS today, now()::date AS now_day,
                    extract(timezone FROM now())::integer AS east",
            &[],
        )
        .await
        .unwrap();
    let today = desk_today(zone);
    assert_eq!(row.get::<_, NaiveDate>("today"), today);
    assert_eq!(row.get::<_, NaiveDate>("now_day"), today);
    assert_eq!(row.get::<_, i32>("east"), zone.local_minus_utc());
}

/// At the counter: the form's "today" is the desk's; a reading dated it is recorded with that
/// date; one dated the desk's tomorrow is refused as after the desk's today.
#[tokio::test]
async fn a_counter_reading_dated_the_desks_today_is_taken_and_dated_so() {
    let zone = desk_zone();
    let desk = desk_on_a_utc_database(zone).await;
    let today = desk_today(zone);
    let tomorrow = today.succ_opt().unwrap();
    let mut clerk = desk.clerk.get().await.unwrap();
    let context = readings::reading_context(&**clerk, desk.postpaid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.today, today);
    assert_eq!(
        readings::enter_reading(&mut clerk, "tomorrow", &reading(1, tomorrow, "105"))
            .await
            .unwrap(),
        ReadingOutcome::Refused(ReadingRefusal::Reading(ReadingError::AfterToday { today }))
    );
    let outcome = readings::enter_reading(&mut clerk, "today", &reading(1, today, "110"))
        .await
        .unwrap();
    assert!(
        matches!(outcome, ReadingOutcome::Recorded { .. }),
        "{outcome:?}"
    );
    assert_eq!(read_on_of(&desk, 1).await, vec![today]);
}

/// A reading import: a line dated the desk's today is imported with that date; a line dated
/// its tomorrow is a bad line, after the desk's today.
#[tokio::test]
async fn an_imported_reading_dated_the_desks_today_is_taken_and_dated_so() {
    let zone = desk_zone();
    let desk = desk_on_a_utc_database(zone).await;
    let today = desk_today(zone);
    let tomorrow = today.succ_opt().unwrap();
    let mut clerk = desk.clerk.get().await.unwrap();

    let file = parse_reading_csv(&format!("{READING_CSV_TEMPLATE}PM-0001,{tomorrow},105,,\n"));
    let refused = readings::import_readings(&mut clerk, Some("tomorrow"), &file)
        .await
        .unwrap();
    let bad: Vec<_> = refused
        .bad
        .iter()
        .map(|line| (line.line, line.problems.clone()))
        .collect();
    assert_eq!(
        (bad, refused.good),
        (
            vec![(
                2,
                vec![ReadingProblem::Reading(ReadingError::AfterToday { today })]
            )],
            0
        )
    );

    let file = parse_reading_csv(&format!(
        "{READING_CSV_TEMPLATE}PM-0001,{today},110,,\nPM-0002,{today},5,,\n"
    ));
    let imported = readings::import_readings(&mut clerk, Some("today"), &file)
        .await
        .unwrap();
    assert!(imported.bad.is_empty(), "{:?}", imported.bad);
    assert_eq!((imported.good, imported.written), (2, true));
    assert_eq!(read_on_of(&desk, 1).await, vec![today]);
    assert_eq!(read_on_of(&desk, 2).await, vec![today]);
}

/// The session option's sign, as the server reads it: east is east, for whole and part hours
/// either side of Greenwich (POSIX zones count west).
#[tokio::test]
async fn the_servers_offset_is_the_desks_either_side_of_greenwich() {
    let zone = desk_zone();
    let desk = desk_on_a_utc_database(zone).await;
    for east in [
        -12 * 3600,
        -(5 * 3600 + 30 * 60),
        0,
        5 * 3600 + 45 * 60,
        8 * 3600,
        14 * 3600,
    ] {
        let offset = FixedOffset::east_opt(east).unwrap();
        let conn = format!(
            "{} options='{}'",
            desk.db.conn_str,
            zone::time_zone_option(offset)
        );
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT extract(timezone FROM now())::integer AS east, current_date AS today",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i32>("east"), east, "{offset}");
        assert_eq!(
            row.get::<_, NaiveDate>("today"),
            desk_today(offset),
            "{offset}"
        );
    }
}
