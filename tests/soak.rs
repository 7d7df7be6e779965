//! `meterdesk soak` for a short while on a throw-away database: four desks (one a
//! supervisor's) as their own operators, no pauses, then the books checked and pgbench run on
//! the same cluster. No timing is asserted: only that nothing failed and the books balance.

mod support;

use std::time::Duration;

use meterdesk::tools::soak::report::Kind;
use meterdesk::tools::soak::{self, SoakOptions, Target};
use support::pg::{cluster, fresh_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_desks_for_twenty_seconds_fail_nothing_and_the_books_balance() {
    let db = fresh_db().await;
    // A database an earlier run left without meters in stock: the run delivers its own
    // (without them it opened no account and so no card).
    meterdesk::tools::demo::load(&db.pool, 2_000, |_| {})
        .await
        .expect("the demo customers load");
    let emptied = db
        .pool
        .get()
        .await
        .unwrap()
        .execute("DELETE FROM meter WHERE status = 'uninstalled'", &[])
        .await
        .unwrap();
    assert!(emptied > 0);
    let target = Target {
        owner_conn: db.conn_str.clone(),
        pool_size: 4,
        deadlines: Default::default(),
        pgbench_admin: cluster().superuser_connection_string("postgres"),
    };
    let options = SoakOptions {
        desks: 4,
        duration: Duration::from_secs(20),
        think: false,
        customers: 2_000,
    };
    let summary = soak::run(&target, options).await.expect("the soak runs");

    let report = soak::report::report(&summary.tally, summary.elapsed);
    assert_eq!(summary.tally.failures(), 0, "{report}");
    assert_eq!(summary.disagreements, 0, "{report}");
    for kind in [
        Kind::Search,
        Kind::Details,
        Kind::OpenAccount,
        Kind::Reading,
        Kind::DepositPayingBills,
        Kind::CardOpen,
        // A recharge as the screen makes it: its facts and quote read first, then F2's begin.
        Kind::CardQuote,
        Kind::CardRecharge,
    ] {
        let done = summary.tally.kinds.get(&kind).map_or(0, |tally| tally.done);
        assert!(done > 0, "no {} done:\n{report}", kind.name());
    }
    // A statistical meter's type charges nothing: its readings are recorded like any other,
    // never refused for want of a price (sql/V37; the demo data has such meters).
    let reading_refusals = summary
        .tally
        .kinds
        .get(&Kind::Reading)
        .map(|tally| tally.refused.clone())
        .unwrap_or_default();
    assert!(!reading_refusals.contains_key("NoPrice"), "{report}");
    let form_refusals = &summary.tally.kinds[&Kind::FormRead].refused;
    assert!(!form_refusals.contains_key("no meter in stock"), "{report}");
    let tps = summary.pgbench_tps.expect("pgbench measured");
    assert!(tps > 0.0);
    // The test's server runs on this machine: what it and the desks spent is read from /proc.
    assert!(summary.cpu.server.is_some_and(|seconds| seconds > 0.0));
    assert!(summary.cpu.desks.is_some_and(|seconds| seconds > 0.0));

    // The desks wrote as their own operators, who sign in no more.
    let client = db.pool.get().await.unwrap();
    let soak_operators = client
        .query_one(
            "SELECT count(*) AS operators, count(*) FILTER (WHERE enabled) AS enabled,
                    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM audit_log a
                                                   WHERE a.operator_id = o.id
                                                     AND a.action <> 'login.succeeded')) AS wrote
             FROM operator o WHERE login LIKE 'soak-%'",
            &[],
        )
        .await
        .unwrap();
    let counts: [i64; 3] = ["operators", "enabled", "wrote"].map(|c| soak_operators.get(c));
    assert_eq!(counts, [4, 0, 4], "{report}");
}
