//! The card screens driven through the real app: keys into `update`, every request it sends
//! executed by `requests::execute` against the real reader thread (pcscd + vpcd + `vcard`) and
//! a real PostgreSQL, every reply fed back. Open a card on a blank card from the customer row,
//! take the "Go to recharge" offer, recharge 120.00, and check the card, the journal, the
//! ledger and the receipt file.

mod support;

use std::sync::Arc;

use crossterm::event::KeyCode;
use meterdesk::app::card_status::CardSeen;
use meterdesk::app::requests::{ReceiptOutput, Services};
use meterdesk::app::state::{Msg, Session, Slot};
use meterdesk::app::{App, KeyMap, update};
use meterdesk::card::reader::{ReaderHandle, ReaderState};
use meterdesk::card::water_card::CardRead;
use meterdesk::cardflow::CardAccess;
use meterdesk::db::card_ops::{
    self, Begin, BeginOutcome, Begun, Payment, Quantity, Request as CardRequest,
};
use meterdesk::db::customers::{CustomerRow, Page};
use meterdesk::db::session::Sessions;
use meterdesk::domain::card_records::{CardContent, IssuerPin, MeterNumber};
use meterdesk::i18n::Lang;
use meterdesk::screens::card::{CardPane, CardScreen};
use meterdesk::screens::table::CustomerTable;
use rust_decimal::Decimal;
use support::card_desk::{CLERK, CardCustomer, SUPERVISOR, books, card_customer, key};
use support::card_rig::*;
use support::pg::give_password;
use support::{press_and_settle as press, read_the_question, settle};

fn message(app: &App) -> String {
    app.message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default()
}

/// The desk's services for the clerk, on the rig's reader thread.
fn clerk_services(
    customer: &CardCustomer,
    reader: ReaderHandle,
    receipts: ReceiptOutput,
) -> Services {
    Services {
        pool: Sessions::signed_in(customer.db.pool_of("clerk")),
        reader: Arc::new(reader),
        card_access: Arc::new(CardAccess::new(key(), PIN.parse::<IssuerPin>().unwrap())),
        receipts,
    }
}

/// The app signed in as the clerk, on the customer table showing `customer`'s row.
fn clerk_on_the_table(customer: &CardCustomer) -> App {
    let mut app = meterdesk::screens::app(KeyMap::default(), Lang::En, Default::default());
    app.session = Some(Session {
        must_change_password: false,
        serves_customers: true,
        operator_id: CLERK,
        login: "clerk".into(),
        full_name: "Clerk One".into(),
        department: "Hall 1".into(),
        roles: vec!["clerk".into()],
        permissions: vec![
            "card.read".into(),
            "card.open".into(),
            "card.recharge".into(),
        ],
    });
    let page = Page {
        rows: vec![CustomerRow {
            id: customer.customer_id,
            customer_no: i64::from(customer.customer_no),
            name: "张伟".into(),
            customer_type: "Card residents".into(),
            meter_no: "WM-0042".into(),
            account_kind: "prepaid".into(),
            business_model: "meter_prepaid".into(),
            balance: Decimal::ZERO,
            arrears: meterdesk::domain::money::Money::ZERO,
            card_state: None,
            phone: None,
            address: "建国路88号".into(),
            status: "active".into(),
        }],
        more_before: false,
        more_after: false,
    };
    app.screen = Slot::Module(
        app.screen_id(),
        Box::new(CustomerTable {
            page,
            loading: false,
            ..CustomerTable::default()
        }),
    );
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_card_then_recharge_through_the_app() {
    let Some(rig) = Rig::start("card_app") else {
        return;
    };
    let customer = card_customer().await;
    // The desk signs in as the clerk, later as the supervisor: the database checks each.
    give_password(&customer.client, CLERK).await;
    give_password(&customer.client, SUPERVISOR).await;
    let receipts = rig.dir.join("receipts");
    // A blank card goes in (the rig waits until the reader thread sees it).
    let _card = rig.insert_blank("c1");
    // The app's services share the rig's reader thread; declared after the rig, they are
    // dropped first.
    let Rig { reader, .. } = rig;
    let services = clerk_services(
        &customer,
        reader,
        ReceiptOutput {
            directory: Some(receipts.clone()),
            ..ReceiptOutput::default()
        },
    );

    let mut app = clerk_on_the_table(&customer);

    // The reader reports the card: the app reads it and the status line says so.
    let sent = update(&mut app, Msg::Reader(card_in(READER_0))).requests;
    settle(&mut app, &services, sent).await;
    assert_eq!(app.card, Some(CardSeen::Blank), "{}", message(&app));

    // F6 on the row, F2 on the confirmation: the card is opened, Go to recharge is offered.
    press(&mut app, &services, KeyCode::F(6)).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    let Some(screen) = app.screen.module::<CardScreen>() else {
        panic!("on the card screen")
    };
    assert!(
        matches!(screen.pane, CardPane::GoToRecharge { .. }),
        "{}",
        message(&app)
    );
    let Some(CardSeen::User { card, owner, .. }) = &app.card else {
        panic!("the card was read again after the write: {:?}", app.card)
    };
    assert_eq!(owner.as_ref().unwrap().customer_id, customer.customer_id);
    let card_no = card.issue.card_number;

    // Go to recharge, 120.00, F2 prices it, F2 writes it.
    press(&mut app, &services, KeyCode::F(2)).await;
    for c in "120".chars() {
        press(&mut app, &services, KeyCode::Char(c)).await;
    }
    press(&mut app, &services, KeyCode::F(2)).await;
    let (apdus, start) = (services.reader.apdus_sent(), std::time::Instant::now());
    press(&mut app, &services, KeyCode::F(2)).await;
    let apdus = services.reader.apdus_sent() - apdus;
    eprintln!(
        "recharge from F2 to the receipt on screen and the card as written on the status line: \
         {apdus} APDUs, {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    // Issue 11 item 6: one SELECT, one VERIFY, the reads the protocol needs, one UPDATE, one
    // read-back — and no read after the receipt: the write's read-back is the card as written.
    assert!(
        apdus <= 7,
        "a recharge through the app costs {apdus} APDUs, at most 7"
    );
    let Some(CardSeen::User { card, .. }) = &app.card else {
        panic!("the card as written is seen: {:?}", app.card)
    };
    assert_eq!(
        card.purchase.as_ref().map(|purchase| purchase.sequence),
        Some(1),
        "the status line shows the purchase written"
    );
    let Some(screen) = app.screen.module::<CardScreen>() else {
        panic!("on the card screen")
    };
    let CardPane::Receipt { lines } = &screen.pane else {
        panic!("the receipt is shown: {}", message(&app))
    };
    // The manual's tiers: 50 m³ at 1.00, then 35 m³ at 2.00.
    let receipt = lines.join("\n");
    assert!(receipt.contains("85.000 m³"), "{receipt}");
    assert!(receipt.contains("120.00"), "{receipt}");

    // The card carries the purchase, for the card the database knows.
    let CardRead::Application(records) = services.reader.read_card().recv().await.unwrap() else {
        panic!("a card of ours")
    };
    let CardContent::User(on_card) = CardContent::classify(&records, &key()) else {
        panic!("a user card")
    };
    assert_eq!(on_card.issue.card_number, card_no);
    let purchase = on_card.purchase.expect("a purchase on the card");
    assert_eq!((purchase.sequence, purchase.volume_litres), (1, 85_000));

    // The journal and the ledger agree with it; the receipt file is there.
    let done: i64 = customer
        .client
        .query_one(
            "SELECT count(*) FROM card_operation WHERE customer_id = $1 AND state = 'done'",
            &[&customer.customer_id],
        )
        .await
        .unwrap()
        .get("count");
    assert_eq!(done, 2, "open and recharge are journaled done");
    let books = books(&customer.client, customer.customer_id).await;
    assert_eq!(books.paid_in, Decimal::new(12_000, 2));
    assert_eq!(books.litres_sold, 85_000);
    assert_eq!(books.pending, 0);
    let files: Vec<_> = std::fs::read_dir(&receipts)
        .expect("the receipts directory")
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0], format!("{receipt}\n"));

    // A supervisor refunds the purchase the meter has not loaded: the cash paid out gets its
    // receipt too, shown and kept.
    let session = app.session.as_mut().unwrap();
    session.operator_id = SUPERVISOR;
    session.permissions.push("card.refund".into());
    let services = Services {
        pool: Sessions::signed_in(customer.db.pool_of("super")),
        ..services
    };
    press(&mut app, &services, KeyCode::F(3)).await;
    press(&mut app, &services, KeyCode::F(9)).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    let Some(screen) = app.screen.module::<CardScreen>() else {
        panic!("on the card screen")
    };
    let CardPane::Receipt { lines } = &screen.pane else {
        panic!("the refund's receipt is shown: {}", message(&app))
    };
    let refund = lines.join("\n");
    assert!(refund.contains("WATER CARD REFUND"), "{refund}");
    assert!(refund.contains("120.00"), "{refund}");
    assert_eq!(
        support::card_desk::books(&customer.client, customer.customer_id)
            .await
            .paid_out,
        Decimal::new(12_000, 2)
    );
    let mut files: Vec<_> = std::fs::read_dir(&receipts)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&format!("{refund}\n")), "{files:?}");

    // A recharge of 5 m³ is written to the card but not settled (the database went away):
    // the next write's begin finishes it, and its receipt is kept here too (#11).
    let CardRead::Application(records) = services.reader.read_card().recv().await.unwrap() else {
        panic!("a card of ours")
    };
    let pending = {
        let mut client = services.pool.get().await.unwrap();
        let begin = Begin {
            customer_id: customer.customer_id,
            operator_id: SUPERVISOR,
            idempotency_key: "written-not-settled",
            card: &records,
            key: &key(),
        };
        let recharge = CardRequest::Recharge {
            quantity: Quantity::Volume(Decimal::new(5, 0)),
            payment: Payment::Method("cash".into()),
            owner_seen: None,
        };
        match card_ops::begin(&mut client, &begin, &recharge)
            .await
            .unwrap()
            .outcome
        {
            BeginOutcome::Begun(begun) => *begun,
            other => panic!("journaled: {other:?}"),
        }
    };
    let pin = PIN.parse::<IssuerPin>().unwrap();
    services
        .reader
        .write_plan(&pending.plan, &pin)
        .recv()
        .await
        .unwrap();
    press(&mut app, &services, KeyCode::Esc).await;
    press(&mut app, &services, KeyCode::Char('r')).await;
    for c in "10".chars() {
        press(&mut app, &services, KeyCode::Char(c)).await;
    }
    press(&mut app, &services, KeyCode::F(2)).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    let receipt_no = pending.purchase.unwrap().receipt_no.unwrap();
    let kept = receipts.join(format!("receipt-{receipt_no:010}.txt"));
    let kept = std::fs::read_to_string(&kept).unwrap_or_else(|_| {
        panic!(
            "receipt #{receipt_no} of the recharge the write finished: {}",
            message(&app)
        )
    });
    assert!(kept.contains("WATER CARD RECHARGE"), "{kept}");
    assert!(kept.contains("5.000 m³"), "{kept}");
    let after = support::card_desk::books(&customer.client, customer.customer_id).await;
    assert_eq!(after.pending, 0);
}

/// Feeds the reader thread's reports to the app, as `run` does, and runs what each asks for,
/// until the reader has said nothing for `quiet`.
async fn follow_the_reader(
    app: &mut App,
    services: &Services,
    events: &std::sync::mpsc::Receiver<ReaderState>,
    quiet: std::time::Duration,
) {
    while let Ok(state) = events.recv_timeout(quiet) {
        eprintln!("reader: {state:?}");
        let sent = update(app, Msg::Reader(state)).requests;
        settle(app, services, sent).await;
    }
}

/// s33-e measured a card put on the reader at 16 APDUs (`vcard --vanish-at-apdu`), where a
/// read is 4. vcard counts every APDU the card receives, from every program on the machine's
/// pcscd: with the virtual card's log (`RUST_LOG=debug vcard …`) the 16 were four reads of 4
/// (SELECT, READ BINARY of EF 0001, 0002, 0003) interleaved, one from this desk and three from
/// other desks running on the same machine, which follow the rig's reader too. The desk's
/// own count, the reader thread's, is what a clerk waits for: one read of 4 for a blank card
/// and for a user card put back, the app following the reader thread's own reports as `run`
/// does (no second read by the screen, none after the status read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_put_on_the_reader_is_read_once() {
    let Some(rig) = Rig::start("card_app_insert") else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let state_file = rig.state_file("c1");
    let Rig { reader, events, .. } = rig;
    let services = clerk_services(&customer, reader, ReceiptOutput::default());
    let mut app = clerk_on_the_table(&customer);
    let quiet = std::time::Duration::from_secs(2);
    let put_on = |extra: &[&str]| {
        let apdus = services.reader.apdus_sent();
        let card = VirtualCardProcess::insert(PORT_0, &state_file, extra);
        (card, apdus)
    };

    let (card, apdus) = put_on(&["--blank"]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let apdus = services.reader.apdus_sent() - apdus;
    eprintln!("a blank card put on the reader: {apdus} APDUs");
    assert_eq!(app.card, Some(CardSeen::Blank), "{}", message(&app));
    assert_eq!(apdus, 4, "a blank card put on the reader is read once");

    // Opened (F6, F2), pulled, put back.
    press(&mut app, &services, KeyCode::F(6)).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    assert!(
        matches!(app.card, Some(CardSeen::User { .. })),
        "{}",
        message(&app)
    );
    drop(card);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    assert_eq!(app.card, None);
    let (_card, apdus) = put_on(&[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let apdus = services.reader.apdus_sent() - apdus;
    eprintln!("the user card put back: {apdus} APDUs");
    let Some(CardSeen::User { owner, .. }) = &app.card else {
        panic!("the card put back is read: {:?}", app.card)
    };
    assert_eq!(owner.as_ref().unwrap().customer_id, customer.customer_id);
    assert_eq!(apdus, 4, "a user card put on the reader is read once");
}

/// A desk with no card PIN and key cannot check a card's records: the card put on the reader
/// is unreadable for that reason, said in the desk's language. Session 35 found it in English
/// on a Chinese desk ("无法读卡：no card PIN and key are configured (card.secrets_file, …)").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_without_card_secrets_says_why_in_its_language() {
    let Some(rig) = Rig::start("card_app_no_secrets") else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let state_file = rig.state_file("c1");
    let Rig { reader, events, .. } = rig;
    let mut services = clerk_services(&customer, reader, ReceiptOutput::default());
    services.card_access = Arc::new(CardAccess::unconfigured());
    let mut app = clerk_on_the_table(&customer);
    app.lang = Lang::Zh;
    let _card = VirtualCardProcess::insert(PORT_0, &state_file, &["--blank"]);
    follow_the_reader(
        &mut app,
        &services,
        &events,
        std::time::Duration::from_secs(2),
    )
    .await;
    let Some(CardSeen::Unreadable(cause)) = &app.card else {
        panic!("unreadable without the secrets: {:?}", app.card)
    };
    let words = meterdesk::app::state::card_cause_words(Lang::Zh, cause);
    assert_eq!(words, "本柜台未配置卡 PIN 和密钥", "{cause:?}");
}

/// s40-f's walk: a recharge of 20.00 on a card that refused the desk's PIN journaled its deposit
/// and purchase, then settled failed "the money is on the balance, no cash back": the customer
/// paid cash and had neither water nor cash. Through the app on the rig, a desk whose PIN the
/// card refuses: F2 says nothing was written or charged, the card lost the one try the write
/// would have cost, and no receipt, no ledger row, no journal row is left; the confirmation
/// stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recharge_on_a_card_that_refuses_the_pin_takes_no_money_through_the_app() {
    let Some(rig) = Rig::start("card_app_wrong_pin") else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let receipts = rig.dir.join("receipts");
    let card_file = rig.state_file("c1");
    let _card = rig.insert_blank("c1");
    let Rig { reader, .. } = rig;
    let services = clerk_services(
        &customer,
        reader,
        ReceiptOutput {
            directory: Some(receipts.clone()),
            ..ReceiptOutput::default()
        },
    );
    let mut app = clerk_on_the_table(&customer);
    let sent = update(&mut app, Msg::Reader(card_in(READER_0))).requests;
    settle(&mut app, &services, sent).await;
    press(&mut app, &services, KeyCode::F(6)).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    assert!(
        matches!(app.card, Some(CardSeen::User { .. })),
        "opened: {}",
        message(&app)
    );

    // The desk's PIN is not the card's from here on.
    let services = Services {
        card_access: Arc::new(CardAccess::new(key(), "13579".parse().unwrap())),
        ..services
    };
    app.card_pin = services.card_access.pin_refusal();
    press(&mut app, &services, KeyCode::F(2)).await;
    for c in "20".chars() {
        press(&mut app, &services, KeyCode::Char(c)).await;
    }
    press(&mut app, &services, KeyCode::F(2)).await;
    let confirmation = message(&app);
    press(&mut app, &services, KeyCode::F(2)).await;
    assert_eq!(
        message(&app),
        "Nothing written, charged or paid out: the card refused this desk's PIN (tries left: 2). \
         Writes stopped: fix the PIN, restart meterdesk.",
        "after {confirmation}"
    );
    let Some(screen) = app.screen.module::<CardScreen>() else {
        panic!("on the card screen")
    };
    assert!(
        matches!(screen.pane, CardPane::Confirm(_)),
        "the confirmation stays"
    );
    let tries = std::fs::read_to_string(&card_file).unwrap();
    assert!(tries.contains("pin-tries-left 2"), "{tries}");
    let count = |sql: &'static str| {
        let client = &customer.client;
        let id = customer.customer_id;
        async move {
            client
                .query_one(sql, &[&id])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM card_operation WHERE customer_id = $1").await,
        1,
        "the opening alone journaled"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM ledger_transaction t JOIN account a ON a.id = t.account_id
             WHERE a.customer_id = $1"
        )
        .await,
        0,
        "no ledger row"
    );
    assert_eq!(
        count("SELECT count(*) FROM receipt WHERE customer_id = $1").await,
        0,
        "no receipt"
    );
    assert!(
        std::fs::read_dir(&receipts).map_or(true, |mut files| files.next().is_none()),
        "no receipt file"
    );
    let books = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        (books.balance, books.paid_in),
        (Decimal::ZERO, Decimal::ZERO)
    );
}

/// s36-d on the rig: a recharge written onto the card but left pending, settled failed from an
/// OLD copy of the card (its price onto the balance), then found done on the real card ("现改为
/// 完成，7.00 已从余额扣回") never printed or kept its receipt: the customer paid and had none
/// (it was first written as the reprint "副本 1"). The read that finds it keeps it now, as the
/// original. On the real parts: the rig's reader thread and virtual cards, PostgreSQL, the
/// app's requests and the receipts directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recharge_failed_from_an_old_copy_then_found_on_its_card_keeps_its_receipt() {
    let Some(rig) = Rig::start("card_app_found_on_card") else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let receipts = rig.dir.join("receipts");
    let (card_file, copy_file) = (rig.state_file("c1"), rig.state_file("old-copy"));
    let Rig { reader, events, .. } = rig;
    let services = clerk_services(
        &customer,
        reader,
        ReceiptOutput {
            directory: Some(receipts.clone()),
            ..ReceiptOutput::default()
        },
    );
    let mut app = clerk_on_the_table(&customer);
    let quiet = std::time::Duration::from_secs(2);

    // A blank card, opened (F6, F2); pulled, its image kept: the old copy. The card back: a
    // recharge of 5 m³ (5.00 cash) is journaled and written onto it, never settled (the card
    // left before its read back, as far as the desk knew).
    let (pending, _) = a_recharge_taken_by_a_card_whose_old_copy_is_kept(
        &mut app,
        &services,
        &events,
        &customer,
        [&card_file, &copy_file],
    )
    .await;
    let receipt_no = pending.purchase.as_ref().unwrap().receipt_no.unwrap();
    let kept = receipts.join(format!("receipt-{receipt_no:010}.txt"));

    // The old copy settles it failed: said with its amount; no receipt.
    let copy = VirtualCardProcess::insert(PORT_0, &copy_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let failed = format!(
        "Pending recharge #{} failed: the card never got it; its 5.00 is on the customer's \
         balance (no cash back).",
        pending.operation_id
    );
    assert_eq!(message(&app), failed);
    assert!(!kept.exists(), "no receipt for a failed recharge");
    drop(copy);
    follow_the_reader(&mut app, &services, &events, quiet).await;

    // The card that took it: done now, paid from the balance, and its receipt kept.
    let _card = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let said = message(&app);
    assert!(
        said.contains("done now: 5.00 off the balance")
            && said.contains(&format!("Its receipt #{receipt_no} is issued now.")),
        "{said}"
    );
    let text = std::fs::read_to_string(&kept)
        .unwrap_or_else(|_| panic!("receipt #{receipt_no} kept: {said}"));
    assert!(text.contains("WATER CARD RECHARGE"), "{text}");
    assert!(text.contains("5.000 m³"), "{text}");
    assert!(text.contains("5.00"), "{text}");
    assert!(!text.contains("COPY"), "kept as the original: {text}");
    let files: Vec<_> = std::fs::read_dir(&receipts)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files,
        [format!("receipt-{receipt_no:010}.txt")],
        "kept once, as the original"
    );
    let books = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        (books.paid_in, books.litres_sold, books.pending),
        (Decimal::new(500, 2), 5_000, 0)
    );
}

/// s38-d's step 11 through the app, on the rig: a recharge written onto the card and left
/// pending; the OLD copy (its image from before) read: failed, its 5.00 on the balance; the
/// balance pays the next recharge onto the copy; then the card that took the first one is put
/// on the reader. It was told "…not repayable. Call a supervisor. Reported." and kept the
/// unpaid purchase for the meter: now the read writes the books' later purchase over it and
/// says so, and that card carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_that_took_a_recharge_failed_by_an_old_copy_is_written_over_and_says_it() {
    let Some(rig) = Rig::start("card_app_unpaid_written_over") else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let (card_file, copy_file) = (rig.state_file("c1"), rig.state_file("old-copy"));
    let Rig { reader, events, .. } = rig;
    let services = clerk_services(&customer, reader, ReceiptOutput::default());
    let mut app = clerk_on_the_table(&customer);
    let quiet = std::time::Duration::from_secs(2);

    // The card that took a recharge never settled, kept aside; its old copy kept.
    let (_, took_it) = a_recharge_taken_by_a_card_whose_old_copy_is_kept(
        &mut app,
        &services,
        &events,
        &customer,
        [&card_file, &copy_file],
    )
    .await;

    // The old copy: failed, 5.00 on the balance; the balance pays 5 m³ onto the copy.
    std::fs::copy(&copy_file, &card_file).unwrap();
    let copy = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    assert!(
        message(&app).contains("failed: the card never got it"),
        "{}",
        message(&app)
    );
    let desk = meterdesk::cardflow::Desk {
        pool: &services.pool,
        reader: &services.reader,
        access: &services.card_access,
        operator_id: CLERK,
    };
    let from_the_balance = CardRequest::Recharge {
        quantity: Quantity::Volume(Decimal::new(5, 0)),
        payment: Payment::Balance,
        owner_seen: None,
    };
    let flow = meterdesk::cardflow::run(&desk, customer.customer_id, &from_the_balance, "spent")
        .await
        .unwrap();
    assert!(
        matches!(flow, meterdesk::cardflow::Flow::Done { .. }),
        "{flow:?}"
    );
    drop(copy);
    follow_the_reader(&mut app, &services, &events, quiet).await;

    // The card that took the failed recharge: written over, and said.
    std::fs::write(&card_file, &took_it).unwrap();
    let _card = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let card_no = match &app.card {
        Some(CardSeen::User { card, .. }) => card.issue.card_number,
        other => panic!("a user card: {other:?}"),
    };
    assert_eq!(
        message(&app),
        format!(
            "Card {card_no} purchase #1, 5.000 m³, failed by an old copy, its 5.00 spent since: \
             #2 now written over it; no meter loads it. Reported."
        )
    );
    let CardRead::Application(records) = services.reader.read_card().recv().await.unwrap() else {
        panic!("a card of ours")
    };
    let CardContent::User(now) = CardContent::classify(&records, &key()) else {
        panic!("a user card")
    };
    assert_eq!(
        now.purchase
            .map(|purchase| (purchase.sequence, purchase.volume_litres)),
        Some((2, 5_000))
    );
    let books = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        (
            books.balance,
            books.paid_in,
            books.litres_sold,
            books.pending
        ),
        (Decimal::ZERO, Decimal::new(500, 2), 5_000, 0)
    );
}

/// The card on the reader swiped on the meter `meter` (the meter's rules, in-process): what it
/// loads, and its write-back written onto the card through the rig's reader, as a meter does.
/// The desk is not told (the reader's reports are not followed here).
async fn swiped(services: &Services, meter: &mut meterdesk::domain::meter::MeterState) {
    // The card just put in: read once the reader sees it.
    let mut read = services.reader.read_card().recv().await;
    for _ in 0..100 {
        if read.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        read = services.reader.read_card().recv().await;
    }
    let Ok(CardRead::Application(records)) = read else {
        panic!("a card of ours: {read:?}")
    };
    let now = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let outcome = meter
        .swipe(&records, &key(), now)
        .expect("the meter takes it");
    let plan = outcome.write_back_plan(&records);
    let pin = PIN.parse::<IssuerPin>().unwrap();
    services
        .reader
        .write_plan(&plan, &pin)
        .recv()
        .await
        .unwrap();
}

/// `r`, 10 m³, F2: the recharge's confirmation, as drawn at 80×24.
async fn confirm_recharge_of_10_m3(app: &mut App, services: &Services) -> String {
    press(app, services, KeyCode::Esc).await;
    press(app, services, KeyCode::Char('r')).await;
    press(app, services, KeyCode::Tab).await;
    for c in "10".chars() {
        press(app, services, KeyCode::Char(c)).await;
    }
    press(app, services, KeyCode::F(2)).await;
    // Read as drawn: an F2 after it answers a debt it names.
    read_the_question(app);
    drawn(app)
}

/// The desk's screen at 80×24.
fn drawn(app: &App) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| meterdesk::ui::draw(frame, app))
        .unwrap();
    terminal.backend().to_string()
}

/// A card customer at the counter owing 5.00 for water a meter loaded unpaid, the clerk at
/// the confirmation of a 10 m³ recharge that names it, the card on the reader (see
/// [`owing_at_a_recharge_confirmation`]).
struct Owing {
    app: App,
    services: Services,
    events: std::sync::mpsc::Receiver<ReaderState>,
    customer: CardCustomer,
    card_file: std::path::PathBuf,
    receipts_dir: std::path::PathBuf,
    /// The copy, its purchase #2 loaded, on the reader.
    copy: VirtualCardProcess,
    _rig: RigHeld,
}

/// s40-a's walk on the rig, through the app's requests: the card that took a recharge an old
/// copy failed is swiped on the meter first (the unpaid 5 m³ loaded), then read at the counter
/// — the debt is recorded and said —; the copy, whose purchase #2 the meter loaded, at the
/// counter: `r`, 10 m³, F2, and the confirmation says the debt first. None without the rig.
async fn owing_at_a_recharge_confirmation(test: &str) -> Option<Owing> {
    let rig = Rig::start(test)?;
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let (card_file, copy_file) = (rig.state_file("c1"), rig.state_file("old-copy"));
    let receipts_dir = rig.dir.join("receipts");
    let (reader, events, held) = rig.into_reader();
    let services = clerk_services(
        &customer,
        reader,
        ReceiptOutput {
            directory: Some(receipts_dir.clone()),
            ..ReceiptOutput::default()
        },
    );
    let mut app = clerk_on_the_table(&customer);
    let quiet = std::time::Duration::from_secs(2);
    let mut meter = meterdesk::domain::meter::MeterState::new(MeterNumber::new("WM-0042").unwrap());

    // The card that took a recharge never settled, kept aside; its old copy kept.
    let (_, took_it) = a_recharge_taken_by_a_card_whose_old_copy_is_kept(
        &mut app,
        &services,
        &events,
        &customer,
        [&card_file, &copy_file],
    )
    .await;

    // The old copy: the recharge failed, 5.00 on the balance, which pays 5 m³ onto the copy.
    std::fs::copy(&copy_file, &card_file).unwrap();
    let copy = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let desk = meterdesk::cardflow::Desk {
        pool: &services.pool,
        reader: &services.reader,
        access: &services.card_access,
        operator_id: CLERK,
    };
    let from_the_balance = CardRequest::Recharge {
        quantity: Quantity::Volume(Decimal::new(5, 0)),
        payment: Payment::Balance,
        owner_seen: None,
    };
    let flow = meterdesk::cardflow::run(&desk, customer.customer_id, &from_the_balance, "spent")
        .await
        .unwrap();
    assert!(
        matches!(flow, meterdesk::cardflow::Flow::Done { .. }),
        "{flow:?}"
    );
    drop(copy);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let copy_now = std::fs::read(&card_file).unwrap();

    // The card that took it, swiped on the meter before the counter: the unpaid 5 m³ loaded.
    std::fs::write(&card_file, &took_it).unwrap();
    let card = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    swiped(&services, &mut meter).await;
    assert_eq!(meter.credit_litres, 5_000, "the unpaid purchase loaded");
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let card_no = match &app.card {
        Some(CardSeen::User { card, .. }) => card.issue.card_number,
        other => panic!("a user card: {other:?}"),
    };
    let said = app
        .said
        .iter()
        .map(|said| said.message.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        said.contains(&format!(
            "Card {card_no} purchase #1, 5.000 m³, failed by an old copy, loaded by the meter \
             unpaid: 5.00 owed, taken before the next recharge. Reported."
        )),
        "{said}"
    );
    drop(card);
    follow_the_reader(&mut app, &services, &events, quiet).await;

    // The copy, its purchase #2 loaded by the meter, at the counter: a recharge of 10 m³.
    std::fs::write(&card_file, &copy_now).unwrap();
    let copy = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    swiped(&services, &mut meter).await;
    assert_eq!(meter.credit_litres, 10_000);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let screen = confirm_recharge_of_10_m3(&mut app, &services).await;
    assert!(
        screen.contains("First paid: 5.00 owed for purchase #1, 5.000 m³, a meter loaded"),
        "{screen}"
    );
    Some(Owing {
        app,
        services,
        events,
        customer,
        card_file,
        receipts_dir,
        copy,
        _rig: held,
    })
}

/// The receipts kept in `dir`, sorted; none before the first is kept.
fn kept_in(dir: &std::path::Path) -> Vec<String> {
    let mut kept: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    kept.sort();
    kept
}

/// s40-a, through the app's requests on the rig ([`owing_at_a_recharge_confirmation`]): the
/// recharge's F2 pays the debt on its own receipt, kept with the recharge's, before the
/// recharge is written: every litre the meter got is paid for. F2 with a wrong PIN, or with the
/// card pulled before F2's read, pays nothing (s41-b: the debt is paid once the card has taken
/// the PIN); F2 again when the card is back pays it, then recharges.
#[tokio::test]
async fn the_water_a_meter_loaded_unpaid_is_paid_by_the_next_recharges_f2() {
    let Some(owing) = owing_at_a_recharge_confirmation("card_app_unpaid_owed").await else {
        return;
    };
    let Owing {
        mut app,
        services,
        events,
        customer,
        card_file,
        receipts_dir,
        copy,
        _rig,
    } = owing;
    let quiet = std::time::Duration::from_secs(2);
    let files = || kept_in(&receipts_dir).len();

    // F2 at a desk whose PIN the card refuses: the debt is not paid either (s41-b).
    let (books_before, files_before, right) = (
        books(&customer.client, customer.customer_id).await,
        files(),
        Arc::clone(&services.card_access),
    );
    let services = Services {
        card_access: Arc::new(CardAccess::new(key(), "13579".parse().unwrap())),
        ..services
    };
    app.card_pin = services.card_access.pin_refusal();
    press(&mut app, &services, KeyCode::F(2)).await;
    let told = message(&app);
    assert!(
        told.starts_with("Nothing written, charged or paid out"),
        "{told}"
    );
    assert_eq!(
        books(&customer.client, customer.customer_id).await,
        books_before,
        "no debt paid, nothing journaled"
    );
    assert_eq!(files(), files_before, "no receipt");
    // The PIN put right (meterdesk restarted): F2 on the same confirmation.
    let services = Services {
        card_access: right,
        ..services
    };
    app.card_pin = services.card_access.pin_refusal();

    // The card pulled before F2 reads it (s40-a's "Found, not fixed"): since s41-b the debt is
    // paid only once the card has taken the PIN, so nothing is paid nor kept.
    drop(copy);
    press(&mut app, &services, KeyCode::F(2)).await;
    let told = message(&app);
    assert!(!told.contains("Debt"), "{told}\n{:?}", app.said);
    assert_eq!(
        books(&customer.client, customer.customer_id).await,
        books_before,
        "no debt paid, nothing journaled"
    );
    assert_eq!(files(), files_before, "no receipt");

    // Put back: F2 on the same confirmation pays the debt first, then recharges.
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let _copy = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let screen = drawn(&app);
    assert!(screen.contains("First paid: 5.00 owed"), "{screen}");
    press(&mut app, &services, KeyCode::F(2)).await;
    let told = message(&app);
    assert!(
        told.starts_with("Debt 5.00 paid, receipt #"),
        "{told}\n{screen}\n{:?}",
        app.said
    );
    paid_for_every_litre(&customer, &receipts_dir).await;
}

/// The debt's receipt and the recharge's kept; 20.00 paid in for 20 m³ sold, nothing pending.
async fn paid_for_every_litre(customer: &CardCustomer, receipts_dir: &std::path::Path) {
    let kept = kept_in(receipts_dir);
    assert!(
        kept.iter()
            .any(|receipt| receipt.contains("WATER LOADED UNPAID — PAID")
                && receipt.contains("5.000 m³")
                && receipt.contains("5.00")),
        "{kept:?}"
    );
    assert!(
        kept.iter()
            .any(|receipt| receipt.contains("WATER CARD RECHARGE")),
        "{kept:?}"
    );
    let books = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        (
            books.balance,
            books.paid_in,
            books.litres_sold,
            books.pending
        ),
        (Decimal::ZERO, Decimal::new(2_000, 2), 20_000, 0),
        "5.00 paid for the failed recharge, spent on the copy; 5.00 for the water loaded \
         unpaid; 10.00 for the new recharge: 20 m³ sold, every litre paid"
    );
}

/// s42-b (s41-a's "Found, not fixed"): the recharge's F2 paid the debt first, and then its
/// begin failed — the database refused it (here a trigger of the test's refuses every new card
/// operation). The answer was the database's error alone: the debt's 5.00 was in the books on
/// its receipt, neither kept nor printed nor named at the desk that took the money. Now the
/// answer keeps and names the debt's receipt and says the recharge was not begun; the refusal
/// gone, the customer's recharge is quoted without the debt and F2 takes only the recharge.
#[tokio::test]
async fn a_recharge_whose_begin_fails_after_its_debt_was_paid_keeps_and_names_the_debts_receipt() {
    let Some(owing) = owing_at_a_recharge_confirmation("card_app_owed_begin_fails").await else {
        return;
    };
    let Owing {
        mut app,
        services,
        customer,
        receipts_dir,
        copy: _copy,
        ..
    } = owing;
    let refuse = "CREATE FUNCTION test_refuses_the_begin() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN RAISE EXCEPTION 'the test refuses every new card operation'; END $$;
                  CREATE TRIGGER test_refuses_the_begin BEFORE INSERT ON card_operation
                      FOR EACH ROW EXECUTE FUNCTION test_refuses_the_begin();";
    customer.db.execute_as_superuser(refuse).await;
    let before = books(&customer.client, customer.customer_id).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    let told = message(&app);
    assert!(
        told.starts_with("Debt 5.00 paid, receipt #")
            && told.contains("Not recharged, nothing charged for it: "),
        "{told}\n{:?}",
        app.said
    );
    let kept = kept_in(&receipts_dir);
    assert!(
        kept.iter()
            .any(|receipt| receipt.contains("WATER LOADED UNPAID — PAID")),
        "the debt's receipt kept: {kept:?}"
    );
    let after = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        (
            after.paid_in - before.paid_in,
            after.litres_sold - before.litres_sold,
            after.pending
        ),
        (Decimal::new(500, 2), 5_000, 0),
        "the debt paid (its water sold to the customer), nothing of the recharge"
    );

    // The refusal gone: quoted again without the debt, F2 takes only the recharge.
    customer
        .db
        .execute_as_superuser(
            "DROP TRIGGER test_refuses_the_begin ON card_operation;
             DROP FUNCTION test_refuses_the_begin();",
        )
        .await;
    let screen = confirm_recharge_of_10_m3(&mut app, &services).await;
    assert!(!screen.contains("First paid"), "{screen}");
    press(&mut app, &services, KeyCode::F(2)).await;
    let told = message(&app);
    assert!(
        told.starts_with("Recharged") && !told.contains("Debt"),
        "{told}\n{:?}",
        app.said
    );
    paid_for_every_litre(&customer, &receipts_dir).await;
}

/// Opened (F6, F2) on the reader, pulled, its image kept as the old copy (`files`: the card's,
/// the copy's); then a 5 m³ recharge journaled and written onto the card, never settled, and
/// the card pulled: the recharge begun and the image of the card that took it.
async fn a_recharge_taken_by_a_card_whose_old_copy_is_kept(
    app: &mut App,
    services: &Services,
    events: &std::sync::mpsc::Receiver<ReaderState>,
    customer: &CardCustomer,
    [card_file, copy_file]: [&std::path::Path; 2],
) -> (Begun, Vec<u8>) {
    let quiet = std::time::Duration::from_secs(2);
    let card = VirtualCardProcess::insert(PORT_0, card_file, &["--blank"]);
    follow_the_reader(app, services, events, quiet).await;
    press(app, services, KeyCode::F(6)).await;
    press(app, services, KeyCode::F(2)).await;
    assert!(
        matches!(app.card, Some(CardSeen::User { .. })),
        "{}",
        message(app)
    );
    drop(card);
    follow_the_reader(app, services, events, quiet).await;
    std::fs::copy(card_file, copy_file).unwrap();
    let card = VirtualCardProcess::insert(PORT_0, card_file, &[]);
    follow_the_reader(app, services, events, quiet).await;
    let CardRead::Application(records) = services.reader.read_card().recv().await.unwrap() else {
        panic!("a card of ours")
    };
    let pending = {
        let mut client = services.pool.get().await.unwrap();
        let begin = Begin {
            customer_id: customer.customer_id,
            operator_id: CLERK,
            idempotency_key: "taken-by-the-card-failed-by-the-copy",
            card: &records,
            key: &key(),
        };
        let recharge = CardRequest::Recharge {
            quantity: Quantity::Volume(Decimal::new(5, 0)),
            payment: Payment::Method("cash".into()),
            owner_seen: None,
        };
        match card_ops::begin(&mut client, &begin, &recharge)
            .await
            .unwrap()
            .outcome
        {
            BeginOutcome::Begun(begun) => *begun,
            other => panic!("journaled: {other:?}"),
        }
    };
    let pin = PIN.parse::<IssuerPin>().unwrap();
    services
        .reader
        .write_plan(&pending.plan, &pin)
        .recv()
        .await
        .unwrap();
    drop(card);
    follow_the_reader(app, services, events, quiet).await;
    (pending, std::fs::read(card_file).unwrap())
}

/// s42-f's walk, step 7 (its "Found, not fixed"): a refund offered from a card image the read
/// had just called older. F9 asked the refund's confirmation and F2 presented the card's PIN —
/// a try of the card spent, with a wrong PIN one closer to blocked — before the database
/// refused the refund on the facts the read had already found. On the rig, through the app: the
/// meter loads purchase #2 from the card, the counter reads it, then the image of the card from
/// before is put back and read ("older than the last one seen"); a supervisor at a desk whose
/// PIN the card would refuse: F9 is refused in the database's words, no confirmation, and F2
/// after it sends the card nothing — no APDU, its three PIN tries kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_from_a_card_image_the_read_called_older_is_refused_at_f9_spending_no_pin_try() {
    // Purchase #1 loaded by the meter before the copy, #2 after it.
    a_copy_put_back_is_refused_at_f9("card_app_older_image_refund", "old-copy", &[4, 5]).await;
}

/// A supervisor, at a desk whose PIN the card on the reader (its state in `card_file`) would
/// refuse, presses F9 on a card image the read called older: refused in the database's words,
/// no confirmation, and F2 after it sends the card nothing — no APDU, its three PIN tries kept.
async fn refused_at_f9_spending_no_pin_try(
    mut app: App,
    services: Services,
    customer: &CardCustomer,
    card_file: &std::path::Path,
) {
    let session = app.session.as_mut().unwrap();
    session.operator_id = SUPERVISOR;
    session.permissions.push("card.refund".into());
    let services = Services {
        pool: Sessions::signed_in(customer.db.pool_of("super")),
        card_access: Arc::new(CardAccess::new(key(), "13579".parse().unwrap())),
        ..services
    };
    app.card_pin = services.card_access.pin_refusal();
    let apdus = services.reader.apdus_sent();
    press(&mut app, &services, KeyCode::F(9)).await;
    let told = message(&app);
    assert!(
        told.starts_with("This card image is older than the last one seen on ")
            && told.ends_with("; nothing can be refunded from it."),
        "{told}"
    );
    let Some(screen) = app.screen.module::<CardScreen>() else {
        panic!("on the card screen")
    };
    assert!(
        matches!(screen.pane, CardPane::Card),
        "no confirmation: {:?}",
        screen.pane
    );
    press(&mut app, &services, KeyCode::F(2)).await;
    assert_eq!(
        services.reader.apdus_sent() - apdus,
        0,
        "nothing sent to the card: {}",
        message(&app)
    );
    let tries = std::fs::read_to_string(card_file).unwrap();
    assert!(tries.contains("pin-tries-left 3"), "{tries}");
}

/// s43-b's "Found, not fixed": a copy of a card taken before its first swipe (no write-back)
/// brought back after its real self was swiped and read here was not called older — the read
/// compared write-backs only — so F9 offered its purchase and F2 presented the PIN before the
/// database refused the refund (the meter loaded it). Now the read compares the image's missing
/// write-back with the one noted from the card itself: older, and F9 is refused before any PIN
/// or APDU, as for s43-b's older image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_from_a_copy_taken_before_the_cards_first_swipe_is_refused_at_f9_spending_no_pin_try()
 {
    // The copy taken before purchase #1, the card's only one, was ever loaded.
    a_copy_put_back_is_refused_at_f9("card_app_never_swiped_copy_refund", "unswiped-copy", &[4])
        .await;
}

/// On the rig, through the app: a card opened and recharged `volumes` m³ a purchase (1.00 a
/// m³), the meter loading each but the last before the card's image is copied; the card then
/// swiped (the meter loads the last) and read at the counter; the copy put back is read as
/// older, and a supervisor's F9 on it is refused spending no PIN try; nothing refunded.
async fn a_copy_put_back_is_refused_at_f9(rig_name: &str, copy_name: &str, volumes: &[i64]) {
    let Some(rig) = Rig::start(rig_name) else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    give_password(&customer.client, SUPERVISOR).await;
    let (card_file, copy_file) = (rig.state_file("c1"), rig.state_file(copy_name));
    let Rig { reader, events, .. } = rig;
    let services = clerk_services(&customer, reader, ReceiptOutput::default());
    let mut app = clerk_on_the_table(&customer);
    let quiet = std::time::Duration::from_secs(2);
    let mut meter = meterdesk::domain::meter::MeterState::new(MeterNumber::new("WM-0042").unwrap());

    // Opened (F6, F2, F3 to the card), recharged, each purchase but the last loaded.
    let card = VirtualCardProcess::insert(PORT_0, &card_file, &["--blank"]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    press(&mut app, &services, KeyCode::F(6)).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    press(&mut app, &services, KeyCode::F(3)).await;
    let desk = meterdesk::cardflow::Desk {
        pool: &services.pool,
        reader: &services.reader,
        access: &services.card_access,
        operator_id: CLERK,
    };
    for (n, &volume) in volumes.iter().enumerate() {
        let recharge = CardRequest::Recharge {
            quantity: Quantity::Volume(Decimal::new(volume, 0)),
            payment: Payment::Method("cash".into()),
            owner_seen: None,
        };
        let key = format!("recharge-{n}");
        let flow = meterdesk::cardflow::run(&desk, customer.customer_id, &recharge, &key)
            .await
            .unwrap();
        assert!(
            matches!(flow, meterdesk::cardflow::Flow::Done { .. }),
            "{flow:?}"
        );
        if n + 1 < volumes.len() {
            swiped(&services, &mut meter).await;
        }
    }
    drop(card);
    follow_the_reader(&mut app, &services, &events, quiet).await;

    // The image from before the meter loads the last purchase kept; the card swiped, read here.
    std::fs::copy(&card_file, &copy_file).unwrap();
    let card = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    swiped(&services, &mut meter).await;
    let bought: i64 = volumes.iter().sum();
    assert_eq!(
        i64::from(meter.credit_litres),
        bought * 1_000,
        "every purchase loaded"
    );
    follow_the_reader(&mut app, &services, &events, quiet).await;
    drop(card);
    follow_the_reader(&mut app, &services, &events, quiet).await;

    // The image from before put back: the read calls it older.
    std::fs::copy(&copy_file, &card_file).unwrap();
    let _copy = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let told = message(&app);
    assert!(
        told.contains("this card image is older than the last one seen on"),
        "{told}"
    );
    refused_at_f9_spending_no_pin_try(app, services, &customer, &card_file).await;
    let books = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        (books.paid_in, books.paid_out, books.pending),
        (Decimal::new(bought * 100, 2), Decimal::ZERO, 0),
        "nothing refunded"
    );
}

/// s42-b's "Found, not fixed": the recharge's F2 paid the debt once the card took the PIN, and
/// its begin's connection was then lost (here a trigger of the test's kills the begin's
/// session): the request is parked and sent again, with its key, once the database is back. The
/// card was pulled meanwhile: the resend's read failed, and it answered the card's error alone
/// ("Card left before the write: nothing written or paid") — the debt's 5.00 in the books on its
/// receipt, neither shown nor kept at the desk that took the money. Now the resend, failing
/// before the card took the PIN, asks what its key's first send left: the debt's receipt is
/// kept and named, with why the recharge was not begun. The card put back, the recharge is
/// quoted again without the debt and F2 takes only the recharge.
#[tokio::test]
async fn a_recharge_resent_after_a_lost_connection_with_its_card_pulled_names_the_debts_receipt() {
    let Some(owing) = owing_at_a_recharge_confirmation("card_app_owed_resent_card_pulled").await
    else {
        return;
    };
    let Owing {
        mut app,
        services,
        events,
        customer,
        card_file,
        receipts_dir,
        copy,
        _rig,
    } = owing;
    let quiet = std::time::Duration::from_secs(2);
    let lose = "CREATE FUNCTION test_loses_the_begin() RETURNS trigger LANGUAGE plpgsql
                    SECURITY DEFINER AS $$
                BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
                CREATE TRIGGER test_loses_the_begin BEFORE INSERT ON card_operation
                    FOR EACH ROW EXECUTE FUNCTION test_loses_the_begin();";
    customer.db.execute_as_superuser(lose).await;
    let before = books(&customer.client, customer.customer_id).await;
    press(&mut app, &services, KeyCode::F(2)).await;
    assert_eq!(app.parked.len(), 1, "parked: {}", message(&app));
    let after = books(&customer.client, customer.customer_id).await;
    assert_eq!(
        after.paid_in - before.paid_in,
        Decimal::new(500, 2),
        "the first send paid the debt"
    );
    assert!(
        kept_in(&receipts_dir)
            .iter()
            .all(|kept| !kept.contains("WATER LOADED UNPAID"))
    );

    // The database back, the card pulled: the request sent again.
    customer
        .db
        .execute_as_superuser(
            "DROP TRIGGER test_loses_the_begin ON card_operation;
             DROP FUNCTION test_loses_the_begin();",
        )
        .await;
    drop(copy);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let sent = update(
        &mut app,
        Msg::Database(meterdesk::app::state::DbStatus::Connected),
    )
    .requests;
    settle(&mut app, &services, sent).await;
    let told = message(&app);
    assert!(
        told.starts_with("Debt 5.00 paid, receipt #")
            && told.contains("Not recharged, nothing charged for it: "),
        "{told}\n{:?}",
        app.said
    );
    let kept = kept_in(&receipts_dir);
    assert!(
        kept.iter()
            .any(|receipt| receipt.contains("WATER LOADED UNPAID — PAID")),
        "the debt's receipt kept: {kept:?}"
    );
    assert_eq!(
        books(&customer.client, customer.customer_id).await,
        after,
        "nothing more paid nor journaled"
    );

    // The card back: quoted again without the debt, F2 takes only the recharge.
    let _copy = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let screen = confirm_recharge_of_10_m3(&mut app, &services).await;
    assert!(!screen.contains("First paid"), "{screen}");
    press(&mut app, &services, KeyCode::F(2)).await;
    let told = message(&app);
    assert!(
        told.starts_with("Recharged") && !told.contains("Debt"),
        "{told}\n{:?}",
        app.said
    );
    paid_for_every_litre(&customer, &receipts_dir).await;
}

/// s42-f's walk: on the card screen, the card put back on the reader under a recharge's
/// confirmation, the decisive UPDATE was the 14th APDU the card received (`vcard
/// --vanish-at-apdu`), where s40-f's walk saw the 10th: the card's read (4) and the write up to
/// its UPDATE (6). Through the app on the rig, the desk's own APDUs (the reader thread's count;
/// the card's own counts every program's on the machine): the card put back is read once, and
/// F2 then writes it in at most 7 — 11 in all, the UPDATE the 10th.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_put_back_under_a_recharges_confirmation_costs_one_read_and_the_write() {
    let Some(rig) = Rig::start("card_app_put_back_apdus") else {
        return;
    };
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let card_file = rig.state_file("c1");
    let Rig { reader, events, .. } = rig;
    let services = clerk_services(&customer, reader, ReceiptOutput::default());
    let mut app = clerk_on_the_table(&customer);
    let quiet = std::time::Duration::from_secs(2);
    let card = VirtualCardProcess::insert(PORT_0, &card_file, &["--blank"]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    open_and_confirm_a_recharge_of_20(&mut app, &services).await;
    let confirming = |app: &App| {
        matches!(
            app.screen.module::<CardScreen>().map(|screen| &screen.pane),
            Some(CardPane::Confirm(_))
        )
    };
    assert!(confirming(&app), "{}", message(&app));

    // Pulled and put back under the confirmation, then F2.
    drop(card);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let apdus = services.reader.apdus_sent();
    let _card = VirtualCardProcess::insert(PORT_0, &card_file, &[]);
    follow_the_reader(&mut app, &services, &events, quiet).await;
    let read = services.reader.apdus_sent() - apdus;
    assert!(confirming(&app), "{}", message(&app));
    press(&mut app, &services, KeyCode::F(2)).await;
    let all = services.reader.apdus_sent() - apdus;
    eprintln!("the card put back: read {read} APDUs, then F2: {all} in all");
    assert!(message(&app).starts_with("Recharged"), "{}", message(&app));
    assert_eq!(read, 4, "the card put back is read once");
    assert!(
        all <= 11,
        "{all} APDUs from the card put back to the receipt"
    );
}

/// The card on the reader opened (F6, F2), Go to recharge (F2), 20 typed and F2: the
/// recharge's confirmation.
async fn open_and_confirm_a_recharge_of_20(app: &mut App, services: &Services) {
    for code in [KeyCode::F(6), KeyCode::F(2), KeyCode::F(2)] {
        press(app, services, code).await;
    }
    for c in "20".chars() {
        press(app, services, KeyCode::Char(c)).await;
    }
    press(app, services, KeyCode::F(2)).await;
}

/// A clerk at the confirmation of a 20.00 recharge on a new card customer's card, opened from
/// blank (see [`confirming_a_recharge_of_20_on_a_blank_card`]). Fields drop in order: the desk,
/// its reader, the database, the card, then the rig.
struct BlankCardConfirming {
    app: App,
    services: Services,
    customer: CardCustomer,
    _card: VirtualCardProcess,
    /// The reader's reports, unread: kept, as the reader task reports into them.
    _events: std::sync::mpsc::Receiver<ReaderState>,
    _rig: RigHeld,
}

async fn confirming_a_recharge_of_20_on_a_blank_card(rig: Rig) -> BlankCardConfirming {
    let customer = card_customer().await;
    give_password(&customer.client, CLERK).await;
    let card = rig.insert_blank("c1");
    let (reader, events, held) = rig.into_reader();
    let services = clerk_services(&customer, reader, ReceiptOutput::default());
    let mut app = clerk_on_the_table(&customer);
    let sent = update(&mut app, Msg::Reader(card_in(READER_0))).requests;
    settle(&mut app, &services, sent).await;
    open_and_confirm_a_recharge_of_20(&mut app, &services).await;
    BlankCardConfirming {
        app,
        services,
        customer,
        _card: card,
        _events: events,
        _rig: held,
    }
}

/// Session 45, by hand on the rig (s45-e): F3 six times and Esc typed while a card was written
/// (a clerk who thinks the desk hangs). The keys after the Esc waited and were replayed on the
/// outcome: the first F3 left the receipt, the next asked "Sign out?" on the customer table —
/// the clerk never saw what the write did. The outcome of a card write is read before a key
/// acts on it: the keys typed while it ran are dropped, and the message line says so after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_six_times_and_esc_typed_during_a_card_write_leave_its_outcome_on_screen() {
    let Some(rig) = Rig::start("card_app_f3_during_write") else {
        return;
    };
    let mut desk = confirming_a_recharge_of_20_on_a_blank_card(rig).await;

    // F2 sends the write; F3 three times, Esc, F3 three times more come while it runs.
    let key = |code| Msg::Key(crossterm::event::KeyEvent::from(code));
    let write = update(&mut desk.app, key(KeyCode::F(2))).requests;
    for code in [KeyCode::F(3); 3]
        .into_iter()
        .chain([KeyCode::Esc])
        .chain([KeyCode::F(3); 3])
    {
        let sent = update(&mut desk.app, key(code)).requests;
        assert!(sent.is_empty(), "{code:?} during the write sent {sent:?}");
    }
    settle(&mut desk.app, &desk.services, write).await;

    let Some(screen) = desk.app.screen.module::<CardScreen>() else {
        panic!("the card screen was left: {}", message(&desk.app))
    };
    assert!(
        matches!(screen.pane, CardPane::Receipt { .. }),
        "the receipt is on screen: {}",
        message(&desk.app)
    );
    assert_eq!(
        message(&desk.app),
        "Recharged; receipt #1. 3 keys typed during the write were dropped."
    );
    assert!(desk.app.type_ahead.is_empty());
    let books = books(&desk.customer.client, desk.customer.customer_id).await;
    assert_eq!((books.paid_in, books.pending), (Decimal::new(2_000, 2), 0));
}

/// Session 45, by hand on the rig (s45-e): the database stopped while a recharge was settled,
/// the card still on the reader. The desk said "put the same card back to finish it" of a card
/// that never left, and then, over it, "The save waits for the database and is sent by itself"
/// — the read of the card after the write, parked, in the words of a save. Now the pending
/// outcome says the card took it and is to be left on the reader, and stays on the message line
/// while the read after it waits; the database back, that read finishes the recharge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_lost_while_a_recharge_is_settled_says_to_leave_the_card_on_the_reader() {
    let Some(rig) = Rig::start("card_app_settle_lost") else {
        return;
    };
    let mut desk = confirming_a_recharge_of_20_on_a_blank_card(rig).await;

    // Every settle's connection is lost (the recharge's, then the read's after it).
    let lose = "CREATE FUNCTION test_loses_the_settle() RETURNS trigger LANGUAGE plpgsql
                    SECURITY DEFINER AS $$
                BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
                CREATE TRIGGER test_loses_the_settle BEFORE UPDATE ON card_operation
                    FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state <> 'pending')
                    EXECUTE FUNCTION test_loses_the_settle();";
    desk.customer.db.execute_as_superuser(lose).await;
    press(&mut desk.app, &desk.services, KeyCode::F(2)).await;
    let told = message(&desk.app);
    assert!(
        told.starts_with("Operation #2 is pending: the card took it")
            && told.contains("Leave the card on the reader")
            && !told.contains("put the same card back"),
        "{told}\n{:?}",
        desk.app.said
    );
    assert_eq!(desk.app.parked.len(), 1, "the read after the write waits");

    desk.customer
        .db
        .execute_as_superuser(
            "DROP TRIGGER test_loses_the_settle ON card_operation;
             DROP FUNCTION test_loses_the_settle();",
        )
        .await;
    let sent = update(
        &mut desk.app,
        Msg::Database(meterdesk::app::state::DbStatus::Connected),
    )
    .requests;
    settle(&mut desk.app, &desk.services, sent).await;
    let told = message(&desk.app);
    assert!(
        told.starts_with("Pending recharge #2 finished: the card shows it was written"),
        "{told}\n{:?}",
        desk.app.said
    );
    let books = books(&desk.customer.client, desk.customer.customer_id).await;
    assert_eq!((books.paid_in, books.pending), (Decimal::new(2_000, 2), 0));
}
