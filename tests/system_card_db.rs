//! System cards as the database authorizes them (sql/V20, V23): a clerk's role is refused
//! issuing one and crediting a clear card's wiped water, by the server itself, whatever the
//! client checks; a supervisor's issue records the meter's customer.

mod support;

use meterdesk::db::card_ops::{self, ClearedCredit, SystemCardRefusal};
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
