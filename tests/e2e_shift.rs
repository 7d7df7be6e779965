//! The real binary in tmux on demo data: a clerk opens a shift, recharges a system-prepaid
//! account from the customer table, sees it on the shift's X report, closes the shift, and
//! its Z report is kept with its CSV, and the desk says where it went.

mod support;

use std::time::Duration;

use meterdesk::tools::demo;
use support::pg::fresh_db;
use support::tmux::{Tmux, launcher_with, scratch, wait_for_file};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn a_clerk_closes_a_shift_and_its_z_report_is_printed() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 200, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let number: i64 = client
        .query_one(
            "SELECT c.customer_no FROM customer c
             WHERE c.business_model = 'system_prepaid' AND c.status = 'active'
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get("customer_no");

    let dir = scratch("shift");
    let receipts = dir.join("receipts");
    let printed = dir.join("printed.txt");
    let config = format!(
        "[receipts]\nwidth = 32\ndirectory = {:?}\nprint_command = \"cat >> {}\"\n",
        receipts.display().to_string(),
        printed.display()
    );
    let tmux = Tmux::start(
        "shift",
        &launcher_with(&dir, &db.conn_str, &config),
        &dir.join("exit"),
    );
    tmux.sign_in("clerk", &clerk.password, PATIENCE);

    tmux.keys(&[":"]);
    tmux.text("shift");
    tmux.keys(&["Enter"]);
    // The demo's clerk took money in shifts of their own, the last closed by the load.
    tmux.wait_for("Last shift, closed", PATIENCE);
    tmux.keys(&["O"]);
    tmux.wait_for("Shift opened.", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("Cust.No.", PATIENCE);

    tmux.keys(&["/"]);
    tmux.text(&format!("{number:08}"));
    tmux.keys(&["Enter", "r"]);
    tmux.text("88");
    tmux.keys(&["F2"]);
    tmux.wait_for("Recharge 88.00 to", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Done; receipt #", PATIENCE);

    tmux.keys(&[":"]);
    tmux.text("shift");
    tmux.keys(&["Enter"]);
    let x = tmux.wait_for("X REPORT", PATIENCE);
    assert!(x.contains("88.00"), "{x}");
    tmux.keys(&["Z"]);
    tmux.wait_for("Close the shift", PATIENCE);
    tmux.keys(&["F2"]);
    // "Shift closed; its Z report on its way.", then where it went, once it is kept.
    let closed = tmux.wait_for("Z report sent to", PATIENCE);
    assert!(
        closed.contains("Z REPORT") && closed.contains("Last shift, closed"),
        "{closed}"
    );

    let shift_id: i64 = client
        .query_one(
            "SELECT s.id FROM shift s JOIN operator o ON o.id = s.operator_id
             WHERE o.login = 'clerk' AND s.closed_by_key IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get("id");
    let z = wait_for_file(
        &receipts.join(format!("shift-{shift_id:06}-z.txt")),
        "Z REPORT",
        PATIENCE,
    );
    assert!(z.contains("Z REPORT") && z.contains("88.00"), "{z}");
    assert!(z.lines().all(|line| line.chars().count() <= 32), "{z}");
    let csv = wait_for_file(
        &receipts.join(format!("shift-{shift_id:06}-z.csv")),
        ",cash,88.00,1,",
        PATIENCE,
    );
    assert!(
        csv.lines().nth(1).unwrap().contains(",cash,88.00,1,"),
        "{csv}"
    );
    let paper = wait_for_file(&printed, "Z REPORT", PATIENCE);
    assert!(
        paper.contains("Z REPORT"),
        "the printer got the Z report: {paper}"
    );
    tmux.keys(&["F10"]);
}
