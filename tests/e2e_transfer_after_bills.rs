//! The real binary in tmux (issue 12, item 10): a postpaid reading makes a bill; the transfer
//! is refused for it and offers the bills; F2 there takes the deposit that pays them; back on
//! the transfer, it is allowed now and the property changes hands.

mod support;

use std::time::Duration;

use rust_decimal::Decimal;
use support::billing_desk::desk;
use support::tmux::{Tmux, launcher_with, scratch};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn a_reading_s_bill_paid_by_a_deposit_lets_the_transfer_go_on() {
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

    let dir = scratch("transfer-after-bills");
    let config = format!(
        "[receipts]\ndirectory = {:?}\n",
        dir.join("receipts").display().to_string()
    );
    let tmux = Tmux::start(
        "transfer-after-bills",
        &launcher_with(&dir, &desk.db.conn_str, &config),
        &dir.join("exit"),
    );
    tmux.sign_in("clerk", "river-17", PATIENCE);
    tmux.text("/");
    tmux.text(&number);
    tmux.wait_for(&format!("\n{number} "), PATIENCE);
    tmux.keys(&["Enter"]);

    // The meter started at 100 m³: 160 is 60 m³, a bill of 70.00.
    tmux.keys(&["g"]);
    tmux.wait_for("previous reading 100.000 m³", PATIENCE);
    tmux.text("160");
    tmux.keys(&["F2"]);
    tmux.wait_for("the bill of its cycle is now 70.00", PATIENCE);

    // The transfer is refused for the bill, and offers it.
    tmux.keys(&["t"]);
    tmux.wait_for("1 unpaid bill", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("F2 again opens the bills to pay", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("arrears 70.00", PATIENCE);
    // The balance (0.00) does not cover it: F2 is the deposit that pays it.
    tmux.keys(&["F2"]);
    tmux.wait_for("Take a deposit", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("…and pay 1 bill, 70.00 in all", PATIENCE);
    // Read: an F2 within READ_TIME of a sum the desk worked out is dropped (s44-d, s45-d).
    std::thread::sleep(meterdesk::app::hub::READ_TIME.to_std().unwrap());
    tmux.keys(&["F2"]);
    tmux.wait_for("Done; receipt #", PATIENCE);
    // Back from the receipt to the transactions, to the bills (paid), to the transfer.
    tmux.keys(&["F3"]);
    tmux.wait_for("# Reprint", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("F2 Pay", PATIENCE);
    tmux.keys(&["F3"]);
    let transfer = tmux.wait_for("The balance 0.00 stays with the account.", PATIENCE);
    assert!(!transfer.contains("unpaid"), "{transfer}");

    // Allowed now: the new owner, checked, confirmed.
    tmux.text("李娜");
    tmux.keys(&["Tab", "Tab"]);
    tmux.text("13900139000");
    tmux.keys(&["Tab"]);
    tmux.text("朝阳路1号");
    tmux.keys(&["F2"]);
    tmux.wait_for("Confirm the transfer", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Transferred to the new owner", PATIENCE);

    let books = desk
        .owner
        .query_one(
            "SELECT c.name, a.balance,
                    (SELECT count(*) FROM customer_owner_history h WHERE h.customer_id = c.id)
                        AS owners_before,
                    (SELECT count(*) FROM bill b WHERE b.account_id = a.id AND b.status = 'paid')
                        AS paid
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&desk.postpaid],
        )
        .await
        .unwrap();
    assert_eq!(books.get::<_, &str>("name"), "李娜");
    assert_eq!(books.get::<_, Decimal>("balance"), Decimal::ZERO);
    assert_eq!(books.get::<_, i64>("owners_before"), 1);
    assert_eq!(books.get::<_, i64>("paid"), 1);
    tmux.keys(&["F10"]);
}
