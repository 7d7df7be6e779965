//! The real binary in tmux on demo data: a clerk finds a postpaid customer whose balance does
//! not cover their unpaid bills by number, opens the bills (`b`), and F2 takes a deposit of
//! what is lacking that pays them in the same step: one receipt lists the deposit and every
//! bill, written to the receipts directory, and reprinted from the account's transactions
//! marked COPY. Counts the keys beyond the number typed (issue 12: at most 6).

mod support;

use std::time::Duration;

use meterdesk::domain::money::Money;
use meterdesk::tools::demo;
use support::pg::fresh_db;
use support::tmux::{RECEIPT_END, Tmux, launcher_with, scratch, wait_for_file};

const PATIENCE: Duration = Duration::from_secs(15);

/// Most keys (other than the number typed) to find a postpaid customer and take a deposit
/// that pays their bills.
const DEPOSIT_PAYS_BILLS_KEY_BUDGET: usize = 6;

#[tokio::test(flavor = "multi_thread")]
async fn a_deposit_found_by_number_pays_the_bills_on_one_receipt() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 200, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let customer = client
        .query_one(
            "SELECT c.customer_no, a.id AS account_id, a.balance, sum(b.amount) AS arrears,
                    count(*) AS bills
             FROM customer c JOIN account a ON a.customer_id = c.id
             JOIN bill b ON b.account_id = a.id AND b.status = 'unpaid'
             WHERE c.business_model = 'postpaid' AND c.status = 'active'
             GROUP BY c.customer_no, a.id HAVING sum(b.amount) > a.balance
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .expect("the demo data has a postpaid customer in arrears");
    let number: i64 = customer.get("customer_no");
    let account_id: i64 = customer.get("account_id");
    let balance: Money = customer.get("balance");
    let arrears: Money = customer.get("arrears");
    let bills: i64 = customer.get("bills");
    let lacking = arrears - balance;

    let dir = scratch("counter-bills");
    let receipts = dir.join("receipts");
    let config = format!(
        "[receipts]\nwidth = 48\ndirectory = {:?}\n",
        receipts.display().to_string()
    );
    let tmux = Tmux::start(
        "counter-bills",
        &launcher_with(&dir, &db.conn_str, &config),
        &dir.join("exit"),
    );
    tmux.sign_in("clerk", &clerk.password, PATIENCE);

    // Search, the number, to the rows, the bills, F2: the deposit of what is lacking.
    tmux.keys(&["/"]);
    tmux.text(&format!("{number:08}"));
    tmux.keys(&["Enter", "b"]);
    tmux.wait_for("arrears", PATIENCE);
    tmux.keys(&["F2"]);
    let form = tmux.wait_for("Take a deposit", PATIENCE);
    assert!(form.contains(&lacking.to_string()), "{form}");
    // F2 checks the form, F2 confirms.
    tmux.keys(&["F2"]);
    let confirmation = tmux.wait_for("…and pay", PATIENCE);
    assert!(
        confirmation.contains(&format!(
            "pay {bills} {}, {arrears} in all",
            if bills == 1 { "bill" } else { "bills" }
        )),
        "{confirmation}"
    );
    // Read: an F2 within READ_TIME of a sum the desk worked out is dropped (s44-d, s45-d).
    std::thread::sleep(meterdesk::app::hub::READ_TIME.to_std().unwrap());
    tmux.keys(&["F2"]);
    let screen = tmux.wait_for("Done; receipt #", PATIENCE);
    let presses = 1 + 2 + 1 + 1 + 1;
    println!(
        "keys beyond the typed data to find a postpaid customer and take a deposit that pays \
         their bills: {presses}"
    );
    assert!(presses <= DEPOSIT_PAYS_BILLS_KEY_BUDGET);
    assert!(screen.contains("PAYMENT RECEIPT"), "{screen}");

    let moved = client
        .query_one(
            "SELECT count(*) AS rows, count(DISTINCT receipt_no) AS receipts,
                    max(receipt_no) AS receipt_no,
                    (SELECT balance FROM account WHERE id = $1) AS balance,
                    (SELECT count(*) FROM bill WHERE account_id = $1 AND status = 'unpaid')
                        AS unpaid
             FROM ledger_transaction
             WHERE account_id = $1 AND created_at > now() - interval '1 minute'",
            &[&account_id],
        )
        .await
        .unwrap();
    assert_eq!(
        moved.get::<_, i64>("rows"),
        1 + bills,
        "a deposit and each bill"
    );
    assert_eq!(moved.get::<_, i64>("receipts"), 1, "one receipt");
    assert_eq!(moved.get::<_, i64>("unpaid"), 0);
    assert_eq!(moved.get::<_, Money>("balance"), Money::ZERO);
    let receipt_no: i64 = moved.get("receipt_no");
    let kept = wait_for_file(
        &receipts.join(format!("receipt-{receipt_no:010}.txt")),
        RECEIPT_END,
        PATIENCE,
    );
    assert!(kept.contains("Deposit"), "{kept}");
    assert_eq!(kept.matches("Bill 20").count() as i64, bills, "{kept}");

    // Back to the transactions: the newest row is on that receipt; reprinted, it says COPY.
    tmux.keys(&["F3"]);
    tmux.wait_for("bill", PATIENCE);
    tmux.keys(&["#"]);
    tmux.wait_for("*** COPY 1 ***", PATIENCE);
    let copy = wait_for_file(
        &receipts.join(format!("receipt-{receipt_no:010}-2.txt")),
        RECEIPT_END,
        PATIENCE,
    );
    assert!(
        copy.contains("*** COPY 1 ***") && copy.contains("Bill 20"),
        "{copy}"
    );
    tmux.keys(&["F10"]);
}
