//! The real binary in tmux on demo data: a supervisor closes a postpaid customer's account
//! from the customer table, step by step as the close screen offers them (issue 12, item 7):
//! `C`, F2 enters the final reading (its bill), F2 opens the bills, F2 takes the deposit
//! that pays them, back, and F2 twice closes (asked first); the meter is removed, the customer closed
//! and read-only at the counter.

mod support;

use std::time::Duration;

use meterdesk::domain::money::Volume;
use meterdesk::tools::demo;
use support::pg::fresh_db;
use support::tmux::{Tmux, launcher_with, scratch};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_closes_a_postpaid_account_step_by_step() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 200, |_| {}).await.unwrap();
    let supervisor = support::demo_operator(&summary, "supervisor");
    // In arrears beyond the balance, so the bills' F2 takes a deposit of what is lacking and
    // the balance ends at zero; no card, no pending operation.
    let customer = client
        .query_one(
            "SELECT c.id, c.customer_no, m.meter_no, p.previous
             FROM customer c JOIN account a ON a.customer_id = c.id
             JOIN meter m ON m.id = c.meter_id
             CROSS JOIN LATERAL reading_previous_value(c.meter_id) AS p(previous)
             JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
             WHERE c.business_model = 'postpaid' AND c.status = 'active'
             GROUP BY c.id, m.meter_no, p.previous, a.balance HAVING sum(b.amount) > a.balance
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .expect("the demo data has a postpaid customer in arrears");
    let customer_id: i64 = customer.get("id");
    let number: i64 = customer.get("customer_no");
    let meter_no: String = customer.get("meter_no");
    let previous: Volume = customer.get("previous");
    let last = (previous.to_decimal() + rust_decimal::Decimal::ONE).to_string();

    let dir = scratch("close-account");
    let config = format!(
        "[receipts]\nwidth = 48\ndirectory = {:?}\n",
        dir.join("receipts").display().to_string()
    );
    let tmux = Tmux::start(
        "close-account",
        &launcher_with(&dir, &db.conn_str, &config),
        &dir.join("exit"),
    );
    tmux.sign_in("supervisor", &supervisor.password, PATIENCE);
    tmux.keys(&["/"]);
    tmux.text(&format!("{number:08}"));
    tmux.keys(&["Enter", "C"]);
    tmux.wait_for("not entered yet", PATIENCE);

    // The final reading, one cubic metre on: the screen says so, the first F2 enters it.
    tmux.wait_for("No final reading yet", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Final reading —", PATIENCE);
    tmux.text(&last);
    tmux.keys(&["F2"]);
    let screen = tmux.wait_until("the reading saved or called abnormal", PATIENCE, |screen| {
        screen.contains("[x] 1 Final reading") || screen.contains("Abnormal consumption")
    });
    if screen.contains("Abnormal consumption") {
        tmux.keys(&["F2"]);
    }
    tmux.wait_for("[x] 1 Final reading", PATIENCE);

    // The bills, and the deposit that pays them.
    tmux.wait_for("the customer pays first", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("arrears", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Take a deposit", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("…and pay", PATIENCE);
    // Read: an F2 within READ_TIME of a sum the desk worked out is dropped (s44-d, s45-d).
    std::thread::sleep(meterdesk::app::hub::READ_TIME.to_std().unwrap());
    tmux.keys(&["F2"]);
    tmux.wait_for("Done; receipt #", PATIENCE);
    // Back from the receipt to the transactions, to the bills (paid), to the close.
    tmux.keys(&["F3"]);
    tmux.wait_for("# Reprint", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("F2 Pay", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("Close account —", PATIENCE);
    tmux.wait_for("Every step is done", PATIENCE);

    // Asked, then closed.
    tmux.keys(&["F2"]);
    tmux.wait_for("Close the account of", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for(
        &format!("Account {number:08} closed: meter {meter_no} removed"),
        PATIENCE,
    );
    let closed = client
        .query_one(
            "SELECT c.status, m.status AS meter_status,
                    (SELECT count(*) FROM account_closing WHERE customer_id = c.id) AS closings
             FROM customer c JOIN meter m ON m.id = c.meter_id WHERE c.id = $1",
            &[&customer_id],
        )
        .await
        .unwrap();
    assert_eq!(closed.get::<_, &str>("status"), "closed");
    assert_eq!(closed.get::<_, &str>("meter_status"), "removed");
    assert_eq!(closed.get::<_, i64>("closings"), 1);

    // Read-only at the counter from now on: the row says closed, and takes no reading.
    tmux.wait_for("closed", PATIENCE);
    tmux.keys(&["g"]);
    tmux.wait_for("is closed: it is read-only", PATIENCE);
    tmux.keys(&["F10"]);
}
