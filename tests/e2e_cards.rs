//! The real binary in tmux with the real card rig (pcscd + vpcd + `vcard`) and a card-meter
//! customer: the status line follows the blank card, F6 opens it, Go to recharge, 120.00 is
//! confirmed with its figures and written, the receipt is on screen and in the receipts
//! directory; the clerk is refused the refund (card.refund), the supervisor who signs in at the
//! same desk refunds the purchase, and the ledger names the supervisor. The app reaches pcscd the way a server reaches a clerk's reader over `ssh -R`:
//! through `PCSCLITE_CSOCK_NAME`, a socket path other than the default, relayed to pcscd.

mod support;

use std::time::Duration;

use meterdesk::config::{KEY_ENV, PIN_ENV};
use support::card_desk::{CLERK, SUPERVISOR, card_customer};
use support::card_rig::{KEY, PIN, READER_0, Rig, relay_pcscd_socket};
use support::tmux::{Tmux, launcher_with, scratch};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn open_a_card_recharge_it_and_a_supervisor_refunds_it_in_tmux() {
    let Some(rig) = Rig::start("e2e_cards") else {
        return;
    };
    let customer = card_customer().await;
    support::pg::give_password(&customer.client, CLERK).await;
    support::pg::give_password(&customer.client, SUPERVISOR).await;

    let dir = scratch("cards");
    let receipts = dir.join("printed");
    let config = format!(
        "[card]\nreader = {READER_0:?}\n\n\
         [receipts]\ndirectory = {:?}\n",
        receipts.display().to_string()
    );
    let forwarded = dir.join("pcscd-desk7.comm");
    let _ = std::fs::remove_file(&forwarded);
    let relayed = relay_pcscd_socket(&forwarded);
    let tmux = Tmux::start(
        "cards",
        &format!(
            "env PCSCLITE_CSOCK_NAME={} {PIN_ENV}={PIN} {KEY_ENV}={KEY} {}",
            forwarded.display(),
            launcher_with(&dir, &customer.db.conn_str, &config)
        ),
        &dir.join("exit"),
    );
    tmux.wait_for("Operator", PATIENCE);
    tmux.text("clerk");
    tmux.keys(&["Enter"]);
    tmux.text("river-17");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Card: none", PATIENCE);
    assert!(
        relayed.try_recv().is_ok(),
        "the app reached pcscd through the forwarded socket"
    );

    let _card = rig.insert_blank("c1");
    tmux.wait_for("Card: blank", PATIENCE);
    tmux.keys(&["F6"]);
    tmux.wait_for("Open a card for", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Go to recharge", PATIENCE);
    tmux.keys(&["F2"]);
    let screen = tmux.wait_for("Recharge card", PATIENCE);
    assert!(screen.contains("Payment"), "{screen}");
    tmux.text("120");
    tmux.keys(&["F2"]);
    tmux.wait_for("Recharge 120.00 (85.000 m³) to card", PATIENCE);
    tmux.keys(&["F2"]);
    let screen = tmux.wait_for("WATER CARD RECHARGE", PATIENCE);
    assert!(screen.contains("85.000 m³"), "{screen}");
    // The status line names the card and its customer once the card read after the write
    // and the owner's lookup have answered (they may come just after the receipt).
    let number = format!("{:08}", customer.customer_no);
    tmux.wait_until("the customer on the status line", PATIENCE, |screen| {
        screen
            .lines()
            .next()
            .is_some_and(|line| line.contains(&number))
    });

    // The receipt file is written by its own request, just after the screen shows it.
    let printed = || std::fs::read_dir(&receipts).map_or(0, |files| files.count());
    let start = std::time::Instant::now();
    while printed() == 0 && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(printed(), 1, "one receipt file");

    // A refund is not the clerk's: refused on the card screen, naming the permission in words…
    tmux.keys(&["F3"]);
    tmux.text(":card");
    tmux.keys(&["Enter"]);
    // The card screen reads the card in the reader first; F9 acts on what it read.
    tmux.wait_for("User card 100000001", PATIENCE);
    tmux.keys(&["F9"]);
    tmux.wait_for(
        "do not allow you to refund a purchase still on a card",
        PATIENCE,
    );
    // …and a supervisor's, who signs in at the same desk.
    tmux.keys(&["F3"]);
    tmux.wait_for("Search:", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("Sign out?", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Operator", PATIENCE);
    tmux.text("super");
    tmux.keys(&["Enter"]);
    tmux.text("river-17");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Super Visor@", PATIENCE);
    tmux.text(":card");
    tmux.keys(&["Enter"]);
    tmux.wait_for("User card 100000001", PATIENCE);
    tmux.keys(&["F9"]);
    tmux.wait_for(
        "Refund 120.00 for the unloaded purchase of 85.000 m³",
        PATIENCE,
    );
    tmux.keys(&["F2"]);
    tmux.wait_for("Purchase cancelled on the card and refunded", PATIENCE);
    let refunded_by: i64 = customer
        .client
        .query_one(
            "SELECT operator_id FROM ledger_transaction WHERE kind = 'refund'",
            &[],
        )
        .await
        .unwrap()
        .get("operator_id");
    assert_eq!(refunded_by, SUPERVISOR, "the database names who paid out");
    tmux.keys(&["F10"]);
}

/// Session 36, by hand on the rig (s36-d): a recharge left pending (the card left the reader at
/// its decisive UPDATE) and the card lost; the supervisor's Replace card was refused "present the
/// card it was for", the one card there is not. The refusal now names the way (F12, p, w), and
/// following it in the real binary settles the recharge without the card and lets the
/// replacement through, carrying the purchase.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_cards_pending_recharge_is_settled_as_the_refusal_says_in_tmux() {
    let Some(rig) = Rig::start("e2e_cards_lost") else {
        return;
    };
    let customer = card_customer().await;
    support::pg::give_password(&customer.client, SUPERVISOR).await;
    let dir = scratch("cards-lost");
    let config = format!("[card]\nreader = {READER_0:?}\n");
    let tmux = Tmux::start(
        "cards-lost",
        &format!(
            "env {PIN_ENV}={PIN} {KEY_ENV}={KEY} {}",
            launcher_with(&dir, &customer.db.conn_str, &config)
        ),
        &dir.join("exit"),
    );
    tmux.wait_for("Operator", PATIENCE);
    tmux.text("super");
    tmux.keys(&["Enter"]);
    tmux.text("river-17");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Card: none", PATIENCE);

    // A card opened, a recharge of 120.00 priced…
    let card = rig.insert_blank("c1");
    tmux.wait_for("Card: blank", PATIENCE);
    tmux.keys(&["F6"]);
    tmux.wait_for("Open a card for", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Go to recharge", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Recharge card", PATIENCE);
    tmux.text("120");
    tmux.keys(&["F2"]);
    tmux.wait_for("Recharge 120.00 (85.000 m³) to card", PATIENCE);
    // …and the card leaves the reader at the recharge's UPDATE (SELECT and three READs when
    // it comes in, the same again, VERIFY, then the UPDATE: the 10th APDU), never to return.
    rig.pull(card);
    let gone = rig.insert("c1", &["--vanish-at-apdu", "10"]);
    tmux.wait_for("Card 100000001", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("put the same card back to finish it", PATIENCE);
    rig.pull(gone);

    // The supervisor replaces it on a blank card: refused for the pending recharge, and told
    // how to settle it without the card.
    let _blank = rig.insert_blank("c2");
    tmux.wait_for("Card: blank", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.wait_for("Search:", PATIENCE);
    tmux.keys(&["F7"]);
    tmux.wait_for("Reason: lost", PATIENCE);
    tmux.keys(&["F2"]);
    let screen = tmux.wait_for("then w: settled without it.", PATIENCE);
    assert!(
        screen.contains("present the card it was for")
            && screen.contains("F12, p (pending operations)"),
        "{screen}"
    );
    tmux.keys(&["F12"]);
    tmux.keys(&["p"]);
    tmux.wait_for("Pending card operations", PATIENCE);
    tmux.keys(&["w"]);
    tmux.wait_for("It counts as done", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Settled without its card: recharge", PATIENCE);
    tmux.keys(&["F3"]);
    tmux.keys(&["F3"]);
    tmux.wait_for("Search:", PATIENCE);
    tmux.keys(&["F7"]);
    tmux.wait_for("Reason: lost", PATIENCE);
    tmux.keys(&["F2"]);
    tmux.wait_for("Card replaced; the old card is void.", PATIENCE);

    let states: Vec<(String, String)> = customer
        .client
        .query(
            "SELECT kind, state FROM card_operation WHERE customer_id = $1 ORDER BY id",
            &[&customer.customer_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("kind"), row.get("state")))
        .collect();
    let expected = [("open", "done"), ("recharge", "done"), ("replace", "done")];
    assert_eq!(
        states,
        expected.map(|(kind, state)| (kind.to_owned(), state.to_owned())),
    );
    let books = support::card_desk::books(&customer.client, customer.customer_id).await;
    assert_eq!((books.pending, books.litres_sold), (0, 85_000));
    tmux.keys(&["F10"]);
}
