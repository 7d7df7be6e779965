//! The real binary in tmux: a postpaid customer found by number, a reading entered from the
//! table row (`g`), the bill it made in the bills list (`b`) with its tier lines, paid from the
//! balance with F2 (confirm, F2), and the books as the database keeps them.

mod support;

use std::time::Duration;

use rust_decimal::Decimal;
use support::billing_desk::desk;
use support::tmux::{Tmux, launcher, scratch};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn a_postpaid_reading_makes_a_bill_that_is_paid() {
    let desk = desk().await;
    let number: i64 = desk
        .owner
        .query_one(
            "SELECT customer_no FROM customer WHERE id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap()
        .get("customer_no");
    let number = format!("{number:08}");
    desk.owner
        .batch_execute(
            "SELECT ledger_post(a.id, 'deposit', 500.00, NULL, NULL, 'cash', NULL, 'e2e-deposit')
             FROM account a JOIN customer c ON c.id = a.customer_id WHERE c.meter_id = 1",
        )
        .await
        .unwrap();

    let dir = scratch("readings");
    let tmux = Tmux::start(
        "readings",
        &launcher(&dir, &desk.db.conn_str),
        &dir.join("exit"),
    );
    tmux.wait_for("Operator", PATIENCE);
    tmux.text("clerk");
    tmux.keys(&["Enter"]);
    tmux.text("river-17");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Cust.No.", PATIENCE);
    tmux.text("/");
    tmux.text(&number);
    tmux.wait_for(&format!("\n{number} "), PATIENCE);
    tmux.keys(&["Enter"]);

    // The meter started at 100 m³: 160 is 60 m³, 50 in the first tier and 10 in the second.
    tmux.keys(&["g"]);
    let form = tmux.wait_for("previous reading 100.000 m³", PATIENCE);
    assert!(form.contains("PM-0001"), "{form}");
    tmux.text("160");
    tmux.keys(&["F2"]);
    tmux.wait_for("the bill of its cycle is now 70.00", PATIENCE);

    tmux.keys(&["b"]);
    let bills = tmux.wait_for("tier 2: 10.000 m³ × 2.0000 = 20.00", PATIENCE);
    assert!(bills.contains("arrears 70.00"), "{bills}");
    tmux.keys(&["F2"]);
    tmux.wait_for(
        "Pay 1 bill, 70.00 in all, from the balance 500.00?",
        PATIENCE,
    );
    // Read before it is answered: an F2 within a second of the question pays nothing.
    std::thread::sleep(meterdesk::app::hub::READ_TIME.to_std().unwrap());
    tmux.keys(&["F2"]);
    let paid = tmux.wait_for("Paid: receipt No.", PATIENCE);
    tmux.wait_for("arrears 0.00", PATIENCE);
    // The payment's receipt is shown over the bills; the next key puts them back, paid.
    assert!(
        paid.contains("PAYMENT RECEIPT") && paid.contains("from the balance"),
        "{paid}"
    );
    tmux.keys(&["Up"]);
    tmux.wait_for(" paid", PATIENCE);

    let books = desk
        .owner
        .query_one(
            "SELECT a.balance, b.status, t.receipt_no, t.amount
             FROM account a JOIN bill b ON b.account_id = a.id
             JOIN ledger_transaction t ON t.bill_id = b.id
             WHERE a.customer_id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap();
    assert_eq!(books.get::<_, Decimal>("balance"), Decimal::new(43000, 2));
    assert_eq!(books.get::<_, &str>("status"), "paid");
    assert_eq!(books.get::<_, Decimal>("amount"), Decimal::new(-7000, 2));
    let receipt: i64 = books.get("receipt_no");
    assert!(paid.contains(&format!("receipt No. {receipt}")), "{paid}");
    tmux.keys(&["F3"]);
    tmux.wait_for("Cust.No.", PATIENCE);
    tmux.keys(&["F10"]);
}
