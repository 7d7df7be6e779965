//! System cards as the database authorizes them (sql/V20, V23, V65): a clerk's role is refused
//! issuing one and crediting a clear card's wiped water, by the server itself, whatever the
//! client checks; a supervisor's issue records the meter's customer; a setting card's
//! application is recorded only for a card written, of its kind, for its own meter.

mod support;

use meterdesk::db::card_ops::{self, ClearedCredit, SettingApplied, SystemCardRefusal};
use meterdesk::db::cards::MeterMaxCredit;
use meterdesk::domain::card_records::{MeterNumber, MeterStatus, MeterWriteBack};
use meterdesk::domain::system_cards::SystemCardKind;
use support::card_desk::{CLERK, SUPERVISOR, card_customer};
use support::card_rig::METER;
use support::pg::give_password;

#[tokio::test]
async fn a_clerk_is_refused_by_the_database_and_a_supervisor_is_not() {
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    give_password(&customer.client, SUPERVISOR).await;
    let mut clerk = customer.db.pool_of("clerk").get().await.unwrap();
    let mut supervisor = customer.db.pool_of("super").get().await.unwrap();
    let meter = MeterNumber::new(METER).unwrap();

    // Straight to the server, past any check of the app's: insufficient_privilege.
    for statement in [
        "SELECT system_card_begin('check', 'WM-0042', NULL, NULL, 100, 0)",
        "SELECT system_card_cleared(1, 10000, 1)",
        "SELECT system_card_finish(1, true)",
    ] {
        let error = clerk.execute(statement, &[]).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{statement}: {error}"
        );
    }
    // Through the app's calls, a refusal in words, nothing journaled.
    assert_eq!(
        card_ops::begin_system_card(&mut clerk, SystemCardKind::Clear, &meter, 0)
            .await
            .unwrap(),
        Err(SystemCardRefusal::NotPermitted)
    );
    let wiped = MeterWriteBack {
        last_loaded_sequence: 1,
        registered_generation: 1,
        credit_litres: 10_000,
        total_litres: 10_000,
        status: MeterStatus::default(),
        written_at: 0,
    };
    assert_eq!(
        card_ops::record_cleared_credit(&**clerk, 1, &wiped)
            .await
            .unwrap(),
        ClearedCredit::NotPermitted
    );

    let card_no = card_ops::begin_system_card(&mut supervisor, SystemCardKind::Clear, &meter, 0)
        .await
        .unwrap()
        .expect("a supervisor issues it");
    let row = customer
        .client
        .query_one(
            "SELECT count(*) FILTER (WHERE kind = 'clear' AND customer_id = $1) AS clear,
                    count(*) AS cards
             FROM system_card",
            &[&customer.customer_id],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>("clear"), row.get::<_, i64>("cards")),
        (1, 1),
        "only the supervisor's, for the meter's customer"
    );
    // Not written yet (pending): nothing to credit, even for a supervisor.
    assert_eq!(
        card_ops::record_cleared_credit(&**supervisor, card_no, &wiped)
            .await
            .unwrap(),
        ClearedCredit::Before
    );
}

/// A setting card back from its meter (sql/V65): as the clerk's own role, straight to the
/// server, no application is recorded for a card never written (unknown or pending), for
/// another kind, or for another meter than the card's, and nothing is written by a refusal; the
/// desk's call records it once. The meter's maximum is then the card it applied last, not the
/// newest written.
#[tokio::test]
async fn a_setting_cards_application_is_recorded_once_and_only_for_its_own_meter() {
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    give_password(&customer.client, SUPERVISOR).await;
    customer
        .client
        .batch_execute("INSERT INTO meter (meter_no, meter_type_id) VALUES ('WM-0043', 1)")
        .await
        .unwrap();
    let clerk = customer.db.pool_of("clerk").get().await.unwrap();
    let mut supervisor = customer.db.pool_of("super").get().await.unwrap();
    let meter = MeterNumber::new(METER).unwrap();
    let mut issue = async |kind, written: bool| {
        let card_no = card_ops::begin_system_card(&mut supervisor, kind, &meter, 1_796_295_600)
            .await
            .unwrap()
            .unwrap();
        if written {
            card_ops::finish_system_card(&**supervisor, card_no, true)
                .await
                .unwrap();
        }
        card_no
    };
    let setting = |max_credit_litres| SystemCardKind::Setting {
        alarm_litres: 3_000,
        max_credit_litres,
    };
    let applied_30 = issue(setting(30_000), true).await;
    let written_50 = issue(setting(50_000), true).await;
    let pending = issue(setting(20_000), false).await;
    let check = issue(SystemCardKind::Check, true).await;
    let max = async || {
        meterdesk::db::cards::meter_max_credit(&customer.client, customer.customer_id)
            .await
            .unwrap()
    };
    assert_eq!(
        max().await,
        Some(MeterMaxCredit {
            litres: 50_000,
            applied: false
        }),
        "none brought back: the newest written"
    );

    let refusals = [
        (
            "SELECT system_card_applied(99999, 'WM-0042', 1796299200, 24000)".to_owned(),
            "permission denied: system card 99999 was never written".to_owned(),
        ),
        (
            format!("SELECT system_card_applied({pending}, 'WM-0042', 1796299200, 24000)"),
            format!("permission denied: system card {pending} was never written"),
        ),
        (
            format!("SELECT system_card_applied({check}, 'WM-0042', 1796299200, 24000)"),
            format!("permission denied: system card {check} is a check card, not a setting card"),
        ),
        (
            format!("SELECT system_card_applied({applied_30}, 'WM-0043', 1796299200, 24000)"),
            format!(
                "permission denied: setting card {applied_30} was written for meter WM-0042, \
                 not WM-0043"
            ),
        ),
        (
            format!("UPDATE system_card SET applied_at = 1 WHERE card_no = {written_50}"),
            "permission denied for table system_card".to_owned(),
        ),
    ];
    for (statement, message) in refusals {
        let error = clerk.execute(&statement, &[]).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{statement}: {error}"
        );
        assert_eq!(error.as_db_error().unwrap().message(), message);
    }
    let recorded = async || -> (i64, i64) {
        let row = customer
            .client
            .query_one(
                "SELECT (SELECT count(*) FROM system_card WHERE applied_seen_at IS NOT NULL),
                        (SELECT count(*) FROM audit_log WHERE action = 'card.system_applied')",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(recorded().await, (0, 0), "a refusal writes nothing");
    assert_eq!(max().await.map(|max| max.litres), Some(50_000));

    // The desk's call, as the clerk: recorded once, the first read's figures kept.
    let after = |credit_litres| MeterWriteBack {
        last_loaded_sequence: 0,
        registered_generation: 0,
        credit_litres,
        total_litres: 0,
        status: MeterStatus::default(),
        written_at: 1_796_299_200,
    };
    for (credit, expected) in [
        (24_000, SettingApplied::RecordedNow),
        (1, SettingApplied::RecordedBefore),
    ] {
        assert_eq!(
            card_ops::record_setting_applied(&**clerk, applied_30, &meter, &after(credit))
                .await
                .unwrap(),
            expected
        );
    }
    assert_eq!(recorded().await, (1, 1), "once, audited");
    let row = customer
        .client
        .query_one(
            "SELECT applied_at, applied_credit_litres FROM system_card WHERE card_no = $1",
            &[&i64::from(applied_30)],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (1_796_299_200, 24_000)
    );
    assert_eq!(
        max().await,
        Some(MeterMaxCredit {
            litres: 30_000,
            applied: true
        }),
        "the card the meter applied, not the newer one it never saw"
    );
    // The newer card brought back too, applied before the older by the meter's clock (the
    // installer swiped them out of order): the meter holds what it applied last.
    let earlier = MeterWriteBack {
        written_at: 1_796_299_100,
        ..after(24_000)
    };
    assert_eq!(
        card_ops::record_setting_applied(&**clerk, written_50, &meter, &earlier)
            .await
            .unwrap(),
        SettingApplied::RecordedNow
    );
    assert_eq!(max().await.map(|max| max.litres), Some(30_000));
}

/// A system card is a card meter's tool (sql/V83): the server refuses to journal one for a
/// meter whose type takes no card, and the app's look-up says the meter takes none (session 31,
/// by hand: a setting card for a postpaid remote-read meter was checked, confirmed and would
/// have been written).
#[tokio::test]
async fn a_system_card_is_only_for_a_meter_that_takes_cards() {
    let customer = card_customer().await;
    give_password(&customer.client, SUPERVISOR).await;
    customer
        .client
        .batch_execute(
            "INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
                 VALUES ('Remote read DN20', 'postpayment', false, 'DN20', 'Itron');
             INSERT INTO meter (meter_no, meter_type_id)
                 SELECT 'WM-0777', id FROM meter_type WHERE name = 'Remote read DN20'",
        )
        .await
        .unwrap();
    let mut supervisor = customer.db.pool_of("super").get().await.unwrap();
    let postpaid = MeterNumber::new("WM-0777").unwrap();
    let card_meter = MeterNumber::new(METER).unwrap();

    let looked_up = card_ops::system_card_meter(&**supervisor, &postpaid)
        .await
        .unwrap()
        .expect("the meter is known");
    assert!(!looked_up.takes_card);
    let looked_up = card_ops::system_card_meter(&**supervisor, &card_meter)
        .await
        .unwrap()
        .expect("the meter is known");
    assert!(looked_up.takes_card);

    let error = supervisor
        .execute(
            "SELECT system_card_begin('check', 'WM-0777', NULL, NULL, 100, 0)",
            &[],
        )
        .await
        .unwrap_err();
    let refused = error.as_db_error().expect("refused by the server");
    assert_eq!(
        refused.message(),
        "meter WM-0777 takes no card: a system card is for a card meter"
    );
    let journaled: i64 = customer
        .client
        .query_one("SELECT count(*) FROM system_card", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(journaled, 0, "nothing journaled");
    // The card meter's still is.
    card_ops::begin_system_card(&mut supervisor, SystemCardKind::Check, &card_meter, 0)
        .await
        .unwrap()
        .expect("journaled");
}
