//! The real binary in tmux on demo data: a clerk finds a system-prepaid customer by number,
//! recharges the account with `r`, confirms, and the receipt is shown, written to the
//! receipts directory and piped to the print command at 32 characters; the reprint from the
//! transaction list says COPY and is counted. Counts the keys beyond the data typed.

mod support;

use std::time::Duration;

use meterdesk::domain::money::Money;
use meterdesk::tools::demo;
use support::pg::fresh_db;
use support::tmux::{RECEIPT_END, Tmux, launcher_with, scratch, wait_for_file};

const PATIENCE: Duration = Duration::from_secs(15);

/// Most keys (other than the number and the amount typed) to find a customer and recharge.
const RECHARGE_KEY_BUDGET: usize = 5;

#[tokio::test(flavor = "multi_thread")]
async fn a_clerk_recharges_a_system_prepaid_account_and_prints_its_receipt() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 200, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let customer = client
        .query_one(
            "SELECT c.customer_no, a.balance, a.id AS account_id FROM customer c
             JOIN account a ON a.customer_id = c.id
             WHERE c.business_model = 'system_prepaid' AND c.status = 'active'
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let number: i64 = customer.get("customer_no");
    let balance: Money = customer.get("balance");
    let account_id: i64 = customer.get("account_id");

    let dir = scratch("money");
    let receipts = dir.join("receipts");
    let printed = dir.join("printed.txt");
    let config = format!(
        "[receipts]\nwidth = 32\ndirectory = {:?}\nprint_command = \"cat >> {}\"\n",
        receipts.display().to_string(),
        printed.display()
    );
    let tmux = Tmux::start(
        "money",
        &launcher_with(&dir, &db.conn_str, &config),
        &dir.join("exit"),
    );
    tmux.sign_in("clerk", &clerk.password, PATIENCE);

    // Typed ahead: search, the number, to the rows, recharge, the amount, F2 and F2.
    tmux.keys(&["/"]);
    tmux.text(&format!("{number:08}"));
    tmux.keys(&["Enter", "r"]);
    tmux.text("88");
    tmux.keys(&["F2"]);
    let confirmation = tmux.wait_for("Recharge 88.00 to", PATIENCE);
    assert!(
        confirmation.contains(&format!("{number:08}")),
        "{confirmation}"
    );
    tmux.keys(&["F2"]);
    let screen = tmux.wait_for("Done; receipt #", PATIENCE);
    let presses = 1 + 2 + 2;
    println!(
        "keys beyond the typed data to find a system-prepaid customer and recharge: {presses}"
    );
    assert!(presses <= RECHARGE_KEY_BUDGET);
    assert!(screen.contains("PAYMENT RECEIPT"), "{screen}");

    let moved = client
        .query_one(
            "SELECT count(*) AS rows, max(receipt_no) AS receipt_no FROM ledger_transaction
             WHERE account_id = $1 AND operator_id IS NOT NULL
               AND created_at > now() - interval '1 minute'",
            &[&account_id],
        )
        .await
        .unwrap();
    assert_eq!(moved.get::<_, i64>("rows"), 1, "moved once");
    let receipt_no: i64 = moved.get("receipt_no");
    let now: Money = client
        .query_one("SELECT balance FROM account WHERE id = $1", &[&account_id])
        .await
        .unwrap()
        .get("balance");
    assert_eq!(now, balance + "88.00".parse().unwrap());

    let file = receipts.join(format!("receipt-{receipt_no:010}.txt"));
    let kept = wait_for_file(&file, RECEIPT_END, PATIENCE);
    assert!(
        kept.contains("PAYMENT RECEIPT") && kept.contains("88.00"),
        "{kept}"
    );
    assert!(kept.contains(&format!("{number:08}")), "{kept}");
    assert!(
        kept.lines().all(|line| line.chars().count() <= 32),
        "{kept}"
    );
    assert!(
        wait_for_file(&printed, RECEIPT_END, PATIENCE).contains(&now.to_string()),
        "the printer got the new balance"
    );

    // Back to the transactions: the recharge is the newest row; reprinted, it says COPY.
    tmux.keys(&["F3"]);
    tmux.wait_for("recharge", PATIENCE);
    tmux.keys(&["#"]);
    tmux.wait_for("*** COPY 1 ***", PATIENCE);
    let copy = wait_for_file(
        &receipts.join(format!("receipt-{receipt_no:010}-2.txt")),
        RECEIPT_END,
        PATIENCE,
    );
    assert!(copy.contains("*** COPY 1 ***"), "{copy}");
    let reprints: i32 = client
        .query_one(
            "SELECT reprints FROM receipt WHERE receipt_no = $1",
            &[&receipt_no],
        )
        .await
        .unwrap()
        .get("reprints");
    assert_eq!(reprints, 1);
    tmux.keys(&["F10"]);
}
