//! The customer-management screens against a real PostgreSQL: keys go through `update`, every
//! request it sends is executed by `requests::execute` on the test database and answered, as
//! the runner would. Open an account (a second clerk taking the meter meanwhile), modify it
//! (a second clerk saving meanwhile), transfer it and see the previous owner in the details;
//! a transfer refused while bills are unpaid; an abnormal reading of a demo customer confirmed.

mod support;

use crossterm::event::KeyCode;
use deadpool_postgres::Object;
use meterdesk::app::hub::TICK;
use meterdesk::app::permissions::REREAD_EVERY;
use meterdesk::app::state::Msg;
use meterdesk::db::customer_changes::{self, ModifyOutcome, OpenOutcome, Opening};
use meterdesk::db::roles;
use meterdesk::domain::customer_number::CustomerNumber;
use meterdesk::domain::customer_rules::{BasicInfo, Field, PersonalInfo};
use meterdesk::i18n::Lang;
use meterdesk::screens::account::AccountScreen;
use meterdesk::screens::bills::BillsScreen;
use meterdesk::screens::details::Details;
use meterdesk::screens::modify::ModifyView;
use meterdesk::screens::open_account::{OpenAccountWizard, WizardStep};
use meterdesk::screens::table::CustomerTable;
use meterdesk::screens::transfer::TransferView;
use meterdesk::tools::demo;
use rust_decimal::Decimal;
use support::desk::Desk;
use support::pg::{TestDb, fresh_db, give_password};
use support::read_the_question;

/// Demo data, and the clerk signed in through the keys.
async fn signed_in() -> (TestDb, Object, Desk) {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 60, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let mut desk = Desk::new(&db.conn_str, Lang::En);
    desk.sign_in("clerk", &clerk.password).await;
    assert!(desk.app.screen.is::<CustomerTable>());
    (db, client, desk)
}

fn person(name: &str, mobile: &str) -> BasicInfo {
    BasicInfo::Personal(PersonalInfo {
        name: name.to_owned(),
        id_document_no: None,
        mobile: mobile.to_owned(),
        address: "东城区和平里1号".to_owned(),
        household_size: None,
        email: None,
        remark: None,
    })
}

const OTHER_CLERK: i64 = 1;

async fn phone_and_address(client: &Object, customer_id: i64) -> (String, String) {
    let row = client
        .query_one(
            "SELECT phone, address FROM customer WHERE id = $1",
            &[&customer_id],
        )
        .await
        .unwrap();
    (row.get("phone"), row.get("address"))
}

#[tokio::test(flavor = "multi_thread")]
async fn open_modify_and_transfer_through_the_screens() {
    let (_db, mut client, mut desk) = signed_in().await;

    // Open: step 1 lists the types; typing filters them.
    desk.key(KeyCode::Char('o')).await;
    assert!(desk.screen().contains("Step 1 of 3"));
    desk.text("Residential card").await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::PageDown).await;
    desk.text("王小明").await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::Enter).await;
    desk.text("13912345678").await;
    desk.key(KeyCode::Tab).await;
    desk.text("西城区金融街7号").await;
    desk.key(KeyCode::PageDown).await;
    let Some(wizard) = desk.app.screen.module::<OpenAccountWizard>() else {
        panic!("{}", desk.screen())
    };
    assert_eq!(wizard.step, WizardStep::Meter);
    let type_id = wizard.customer_type().unwrap().id;
    let first = wizard
        .meters
        .selected_meter()
        .expect("uninstalled meters")
        .clone();

    // Another clerk installs that meter before F2.
    let other = person("赵六", "13600136000");
    let taken = customer_changes::open_account(
        &mut client,
        OTHER_CLERK,
        "other-desk-1",
        &Opening {
            customer_type_id: type_id,
            info: &other,
            meter_id: first.id,
        },
    )
    .await
    .unwrap();
    assert!(matches!(taken, OpenOutcome::Opened(_)));
    desk.key(KeyCode::F(2)).await;
    let Some(wizard) = desk.app.screen.module::<OpenAccountWizard>() else {
        panic!("MeterTaken keeps the wizard: {}", desk.screen())
    };
    assert_eq!(wizard.step, WizardStep::Meter);
    assert!(desk.message().contains("installed by someone else"));
    assert!(
        wizard.meters.rows.iter().all(|m| m.id != first.id),
        "the fresh list no longer offers the taken meter"
    );
    assert_eq!(wizard.basic.as_ref().unwrap().value(Field::Name), "王小明");
    let chosen = wizard.meters.selected_meter().unwrap().clone();
    desk.key(KeyCode::F(2)).await;
    let Some(table) = desk.app.screen.module::<CustomerTable>() else {
        panic!("{}", desk.screen())
    };
    let row = table
        .selected_row()
        .expect("the new customer is selected")
        .clone();
    assert_eq!(row.name, "王小明");
    assert_eq!(row.meter_no, chosen.meter_no);
    assert!(desk.message().contains(&format!("{:08}", row.customer_no)));
    let status: String = client
        .query_one("SELECT status FROM meter WHERE id = $1", &[&chosen.id])
        .await
        .unwrap()
        .get("status");
    assert_eq!(status, "installed");

    // Modify: the clerk changes the address while another clerk changes the mobile.
    desk.key(KeyCode::Char('m')).await;
    assert!(desk.screen().contains("Modify"));
    let read = customer_changes::customer_basics(&**client, row.id)
        .await
        .unwrap()
        .unwrap();
    let saved = customer_changes::modify_basic_info(
        &mut client,
        OTHER_CLERK,
        "other-desk-2",
        &read,
        &person("王小明", "13900000001"),
    )
    .await
    .unwrap();
    assert!(matches!(saved, ModifyOutcome::Saved { .. }));
    for _ in 0..3 {
        desk.key(KeyCode::Tab).await;
    }
    // Entered by Tab, the address is selected: End puts the cursor after it to add to it.
    desk.key(KeyCode::End).await;
    desk.text("B座").await;
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.message()
            .contains("another clerk changed Mobile, Address"),
        "{}",
        desk.message()
    );
    let stored = phone_and_address(&client, row.id).await;
    assert_eq!(
        stored,
        ("13900000001".to_owned(), "东城区和平里1号".to_owned()),
        "nothing of the clerk's was written over the other save"
    );
    desk.key(KeyCode::F(2)).await;
    assert!(desk.message().contains("saved"), "{}", desk.message());
    let stored = phone_and_address(&client, row.id).await;
    assert_eq!(
        stored,
        ("13900000001".to_owned(), "西城区金融街7号B座".to_owned()),
        "the other clerk's mobile kept, the clerk's address saved knowingly"
    );

    // Transfer to a new owner, confirmed; the details show the previous owner.
    desk.key(KeyCode::Char('t')).await;
    assert!(
        desk.screen().contains("The balance 0.00 stays"),
        "{}",
        desk.screen()
    );
    desk.text("李四").await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::Enter).await;
    desk.text("13511112222").await;
    desk.key(KeyCode::Tab).await;
    desk.text("海淀区1号").await;
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.screen().contains("from 王小明 to 李四"),
        "{}",
        desk.screen()
    );
    desk.key(KeyCode::F(2)).await;
    assert!(desk.message().contains("stayed with the account"));
    let Some(table) = desk.app.screen.module::<CustomerTable>() else {
        panic!("{}", desk.screen())
    };
    assert_eq!(table.selected_row().map(|r| r.name.as_str()), Some("李四"));
    desk.key(KeyCode::Enter).await;
    let Some(view) = desk.app.screen.module::<Details>() else {
        panic!("{}", desk.screen())
    };
    let details = view.details.as_ref().unwrap();
    let [owner] = details.owner_history.as_slice() else {
        panic!("{:?}", details.owner_history)
    };
    assert!(
        owner
            .kept
            .contains(&("name".to_owned(), "王小明".to_owned())),
        "{owner:?}"
    );
    // What stays with the customer: the number, the meter, the account and its balance.
    assert_eq!(details.basic.customer_no, row.customer_no);
    assert_eq!(details.meter.meter_no, chosen.meter_no);
    assert_eq!(details.account.balance.to_decimal(), row.balance);
    let screen = desk.screen();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let clerk = desk.app.session.as_ref().unwrap().full_name.clone();
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.contains("王小明"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        lines[at].contains("Name: 王小明, Mobile: 13900000001, Address: 西城区金融街7号B座"),
        "labelled in form order: {}",
        lines[at]
    );
    assert!(
        lines[at + 1].contains(&today) && lines[at + 1].contains(&clerk),
        "dated and signed: {}",
        lines[at + 1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_is_refused_on_screen_while_bills_are_unpaid() {
    let (_db, client, mut desk) = signed_in().await;
    let number: i64 = client
        .query_one(
            "SELECT c.customer_no FROM customer c JOIN account a ON a.customer_id = c.id
             WHERE c.status = 'active' AND c.nature = 'personal'
               AND EXISTS (SELECT 1 FROM bill b WHERE b.account_id = a.id AND b.status = 'unpaid')
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .expect("the demo data has unpaid bills")
        .get("customer_no");
    desk.key(KeyCode::Char('/')).await;
    desk.text(&format!("{number:08}")).await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::Char('t')).await;
    assert!(desk.message().contains("unpaid bill"), "{}", desk.screen());
    desk.text("李四").await;
    desk.key(KeyCode::F(2)).await;
    assert!(desk.message().contains("the owner pays first"));
    assert!(!desk.screen().contains("Confirm the transfer"));
    // The refusal offers to take the payment first: F2 again opens the customer's bills, F2
    // there pays them all, oldest first — a deposit of what the balance lacks (form, then
    // confirmation), or from the balance after its question.
    desk.key(KeyCode::F(2)).await;
    assert!(desk.app.screen.is::<BillsScreen>(), "{}", desk.screen());
    desk.key(KeyCode::F(2)).await;
    // Read before it is answered: an F2 within a second of a sum the desk worked out (the
    // bills' question, a deposit paying them) pays nothing.
    if desk.app.screen.is::<AccountScreen>() {
        desk.key(KeyCode::F(2)).await;
        read_the_question(&mut desk.app);
        desk.key(KeyCode::F(2)).await;
        assert!(
            desk.message().contains("Done; receipt #"),
            "{}",
            desk.screen()
        );
        // The receipt, the transactions, back to the bills.
        desk.key(KeyCode::F(3)).await;
        desk.key(KeyCode::F(3)).await;
    } else {
        read_the_question(&mut desk.app);
        desk.key(KeyCode::F(2)).await;
        assert!(desk.message().contains("Paid"), "{}", desk.screen());
    }
    assert!(desk.app.screen.is::<BillsScreen>(), "{}", desk.screen());
    desk.key(KeyCode::F(3)).await;
    assert!(desk.app.screen.is::<TransferView>(), "{}", desk.screen());
    assert!(!desk.screen().contains("unpaid"), "{}", desk.screen());
    let unpaid: i64 = client
        .query_one(
            "SELECT count(*) AS n FROM bill b JOIN account a ON a.id = b.account_id
             JOIN customer c ON c.id = a.customer_id
             WHERE c.customer_no = $1 AND b.status = 'unpaid'",
            &[&number],
        )
        .await
        .unwrap()
        .get("n");
    assert_eq!(unpaid, 0);
    // The transfer goes on: F2 checks the new owner, whose name was kept.
    desk.key(KeyCode::F(2)).await;
    assert!(!desk.message().contains("unpaid"), "{}", desk.screen());
    assert!(desk.screen().contains("李四"), "{}", desk.screen());
}

/// An active personal customer without unpaid bills (one a transfer may take), selected on the
/// table; its id.
/// Two desks transfer one customer at once (s35-c), each to the new owner at its window: the
/// first transfers; the second, confirmed from the owner its screen read, is told another desk
/// changed the owner and who owns it now, its new owner kept, and F2 transfers from them. Before,
/// the second transferred too, from an owner its clerk never saw.
#[tokio::test(flavor = "multi_thread")]
async fn two_desks_transferring_one_customer_the_second_hears_of_the_first() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 60, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let mut desks = [
        Desk::new(&db.conn_str, Lang::En),
        Desk::new(&db.conn_str, Lang::En),
    ];
    let mut customer_id = 0;
    for (desk, (name, mobile)) in desks
        .iter_mut()
        .zip([("李四", "13511112222"), ("王五", "13633334444")])
    {
        desk.sign_in("clerk", &clerk.password).await;
        customer_id = select_a_transferable_customer(&client, desk).await;
        desk.key(KeyCode::Char('t')).await;
        desk.text(name).await;
        desk.key(KeyCode::Enter).await;
        desk.key(KeyCode::Enter).await;
        desk.text(mobile).await;
        desk.key(KeyCode::F(2)).await;
        assert!(
            desk.screen().contains("Confirm the transfer"),
            "{}",
            desk.screen()
        );
    }
    let before = stored_owner(&client, customer_id).await[0].clone().unwrap();
    let [first, second] = &mut desks;
    first.key(KeyCode::F(2)).await;
    assert!(
        first.message().contains("stayed with the account"),
        "{}",
        first.screen()
    );

    second.key(KeyCode::F(2)).await;
    assert!(
        second
            .message()
            .contains("another desk changed the owner meanwhile, now 李四"),
        "{}",
        second.screen()
    );
    assert!(
        second.screen().contains("from 李四 to 王五"),
        "{}",
        second.screen()
    );
    assert_eq!(
        stored_owner(&client, customer_id).await[0].as_deref(),
        Some("李四")
    );
    second.key(KeyCode::F(2)).await;
    assert!(
        second.message().contains("stayed with the account"),
        "{}",
        second.screen()
    );
    let history: Vec<String> = client
        .query(
            "SELECT previous_owner->>'name' AS name FROM customer_owner_history
             WHERE customer_id = $1 ORDER BY id",
            &[&customer_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("name"))
        .collect();
    assert_eq!(history, [before, "李四".to_owned()]);
    assert_eq!(
        stored_owner(&client, customer_id).await[0].as_deref(),
        Some("王五")
    );
}

async fn select_a_transferable_customer(client: &Object, desk: &mut Desk) -> i64 {
    let row = client
        .query_one(
            "SELECT c.id, c.customer_no FROM customer c JOIN account a ON a.customer_id = c.id
             WHERE c.status = 'active' AND c.nature = 'personal'
               AND NOT EXISTS (SELECT 1 FROM bill b
                               WHERE b.account_id = a.id AND b.status = 'unpaid')
             ORDER BY c.customer_no LIMIT 1",
            &[],
        )
        .await
        .expect("the demo data has a personal customer without unpaid bills");
    let number: i64 = row.get("customer_no");
    desk.key(KeyCode::Char('/')).await;
    desk.text(&format!("{number:08}")).await;
    desk.key(KeyCode::Enter).await;
    row.get("id")
}

/// Every basic-information column of a customer, as stored.
async fn stored_owner(client: &Object, customer_id: i64) -> [Option<String>; 6] {
    let row = client
        .query_one(
            "SELECT name, id_document_no, phone, address, household_size::text AS household,
                    email FROM customer WHERE id = $1",
            &[&customer_id],
        )
        .await
        .unwrap();
    [
        "name",
        "id_document_no",
        "phone",
        "address",
        "household",
        "email",
    ]
    .map(|c| row.get(c))
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_advance_when_configured_moves_on_and_swallows_the_clerks_tab() {
    let (_db, client, mut desk) = signed_in().await;
    desk.app.auto_advance = true;
    let customer = select_a_transferable_customer(&client, &mut desk).await;
    desk.key(KeyCode::Char('t')).await;
    // The clerk presses Tab after every field, as always: after the full mobile and the
    // household size (both moved on by themselves) the Tab is swallowed.
    for (text, tabs) in [
        ("李四", 1),
        ("", 1),
        ("13511112222", 1),
        ("海淀区中关村1号", 1),
        ("12", 1),
        ("li@example.cn", 0),
    ] {
        desk.text(text).await;
        for _ in 0..tabs {
            desk.key(KeyCode::Tab).await;
        }
    }
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.screen().contains("Confirm the transfer"),
        "{}",
        desk.screen()
    );
    desk.key(KeyCode::F(2)).await;
    assert_eq!(
        stored_owner(&client, customer).await,
        [
            Some("李四".into()),
            None,
            Some("13511112222".into()),
            Some("海淀区中关村1号".into()),
            Some("12".into()),
            Some("li@example.cn".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_tab_or_line_break_is_text_in_the_field_it_lands_in() {
    let (_db, client, mut desk) = signed_in().await;
    let customer = select_a_transferable_customer(&client, &mut desk).await;
    desk.key(KeyCode::Char('t')).await;
    desk.paste("李四").await;
    desk.key(KeyCode::Tab).await;
    desk.key(KeyCode::Tab).await;
    desk.paste("13511112222\t").await;
    desk.key(KeyCode::Tab).await;
    desk.paste("海淀区\t中关村\r\n1号\n").await;
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.screen().contains("Confirm the transfer"),
        "{}",
        desk.screen()
    );
    desk.key(KeyCode::F(2)).await;
    let [name, _, phone, address, household, email] = stored_owner(&client, customer).await;
    assert_eq!(name.as_deref(), Some("李四"));
    assert_eq!(
        phone.as_deref(),
        Some("13511112222"),
        "the pasted Tab moved nothing"
    );
    assert_eq!(address.as_deref(), Some("海淀区 中关村 1号"));
    assert_eq!(
        (household, email),
        (None, None),
        "nothing landed further on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_paste_then_f2_is_answered_on_the_first_f2() {
    let (_db, client, mut desk) = signed_in().await;
    let customer = select_a_transferable_customer(&client, &mut desk).await;
    let before = stored_owner(&client, customer).await;
    desk.key(KeyCode::Char('m')).await;
    for _ in 0..3 {
        desk.key(KeyCode::Tab).await;
    }
    desk.paste(&"巷".repeat(5_000)).await;
    desk.key(KeyCode::F(2)).await;
    assert!(
        desk.message().starts_with("Address:") && desk.message().contains("at most"),
        "{}",
        desk.message()
    );
    assert_eq!(
        stored_owner(&client, customer).await,
        before,
        "nothing saved"
    );
    let Some(modify) = desk.app.screen.module::<ModifyView>() else {
        panic!("{}", desk.screen())
    };
    let typed = modify.basic.as_ref().unwrap().value(Field::Address);
    assert_eq!(
        typed.chars().filter(|c| *c == '巷').count(),
        5_000,
        "nothing typed is lost"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn home_from_a_price_scheme_is_one_key_and_asks_over_unsaved_typing() {
    let (_db, client, mut desk) = signed_in().await;
    let customer = select_a_transferable_customer(&client, &mut desk).await;
    let before = stored_owner(&client, customer).await;
    desk.key(KeyCode::Enter).await;
    desk.command("schemes").await;
    desk.key(KeyCode::Enter).await;
    // Details, then `:schemes` in its place, then a scheme.
    assert_eq!(
        desk.app.breadcrumbs().len(),
        3,
        "{:?}",
        desk.app.breadcrumbs()
    );
    desk.ctrl('g').await;
    assert!(desk.app.screen.is::<CustomerTable>(), "{}", desk.screen());
    assert!(desk.app.below.is_empty());
    assert!(desk.app.session.is_some());

    // Over a form holding typing, home asks once; any other key keeps editing.
    desk.key(KeyCode::Char('m')).await;
    desk.text("李").await;
    desk.key(KeyCode::F(4)).await;
    desk.ctrl('g').await;
    assert!(
        desk.message().starts_with("Unsaved changes on ") && desk.message().contains("Modify"),
        "{}",
        desk.message()
    );
    assert!(!desk.app.screen.is::<CustomerTable>());
    read_the_question(&mut desk.app);
    desk.key(KeyCode::Down).await;
    desk.ctrl('g').await;
    assert!(!desk.app.screen.is::<CustomerTable>(), "asked afresh");
    desk.ctrl('g').await;
    assert!(desk.app.screen.is::<CustomerTable>(), "{}", desk.screen());
    assert!(desk.app.below.is_empty());
    assert_eq!(stored_owner(&client, customer).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_asks_first_and_logout_works_from_anywhere() {
    let (_db, _client, mut desk) = signed_in().await;
    desk.key(KeyCode::F(3)).await;
    assert!(desk.app.session.is_some(), "F3 on the table asks first");
    assert!(
        desk.message().starts_with("Sign out?"),
        "{}",
        desk.message()
    );
    // Read (a key within a second of the question waits behind it, s39-b).
    read_the_question(&mut desk.app);
    desk.key(KeyCode::Down).await;
    desk.key(KeyCode::F(3)).await;
    assert!(
        desk.app.session.is_some(),
        "another key said no: asked again"
    );
    desk.key(KeyCode::F(3)).await;
    assert!(desk.app.session.is_some(), "F3 again does not sign out");
    desk.key(KeyCode::F(3)).await;
    desk.key(KeyCode::F(2)).await;
    assert!(desk.app.session.is_none(), "F2 signs out");

    // A tired clerk presses F3 six times to get back from a customer's details: back on the
    // table, still signed in.
    let (_db, _client, mut desk) = signed_in().await;
    desk.key(KeyCode::Enter).await;
    assert!(desk.app.screen.is::<Details>());
    for _ in 0..6 {
        desk.key(KeyCode::F(3)).await;
    }
    assert!(desk.app.screen.is::<CustomerTable>(), "{}", desk.screen());
    assert!(desk.app.session.is_some(), "{}", desk.message());
    read_the_question(&mut desk.app);
    desk.key(KeyCode::Enter).await;
    assert!(desk.app.screen.is::<Details>());
    desk.command("logout").await;
    assert!(desk.app.session.is_some(), "{}", desk.message());
    assert!(
        desk.message().starts_with("Sign out?"),
        "{}",
        desk.message()
    );
    desk.command("logout").await;
    assert!(desk.app.session.is_none(), "{}", desk.message());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_replaces_the_screen_it_was_typed_on() {
    let (_db, client, mut desk) = signed_in().await;
    select_a_transferable_customer(&client, &mut desk).await;
    desk.key(KeyCode::Enter).await;
    desk.command("meters").await;
    desk.command("schemes").await;
    desk.command("custtypes").await;
    assert_eq!(
        desk.app.breadcrumbs().len(),
        2,
        "one screen over the table: {:?}",
        desk.app.breadcrumbs()
    );
    desk.key(KeyCode::F(3)).await;
    assert!(desk.app.screen.is::<CustomerTable>());

    // On a form, `:` is text like any character: nothing typed is taken for a command.
    desk.key(KeyCode::Char('m')).await;
    desk.key(KeyCode::End).await;
    desk.command("meters").await;
    let Some(modify) = desk.app.screen.module::<ModifyView>() else {
        panic!("{}", desk.screen())
    };
    let name = modify.basic.as_ref().unwrap().value(Field::Name);
    assert!(name.ends_with(":meters"), "{name}");
}

/// `:c` and a customer number (ui.md) opens that customer's details from wherever the clerk is
/// (the table below, F3 back to it); a number without its check digit, or one no customer has,
/// is said, and the clerk stays where they were.
#[tokio::test(flavor = "multi_thread")]
async fn a_customer_number_on_the_command_line_opens_the_customer() {
    let (_db, client, mut desk) = signed_in().await;
    let numbers: Vec<i64> = client
        .query(
            "SELECT customer_no FROM customer ORDER BY customer_no LIMIT 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    desk.key(KeyCode::Enter).await;
    desk.command("meters").await;
    desk.command(&format!("c {}", numbers[1])).await;
    let Some(details) = desk.app.screen.module::<Details>() else {
        panic!("{}", desk.screen())
    };
    assert_eq!(details.row.customer_no, numbers[1], "{}", desk.screen());
    assert_eq!(desk.app.below.len(), 1, "{:?}", desk.app.breadcrumbs());
    desk.key(KeyCode::F(3)).await;
    let table = desk.app.screen.module::<CustomerTable>().unwrap();
    assert_eq!(table.selected_row().unwrap().customer_no, numbers[1]);

    desk.command(&format!("customer {}", numbers[0])).await;
    assert!(desk.app.screen.is::<Details>(), "{}", desk.screen());
    let unknown = (1..10)
        .map(|serial| CustomerNumber::from_serial(9_999_990 + serial).unwrap())
        .find(|number| !numbers.contains(&i64::from(number.value())))
        .unwrap();
    desk.command(&format!("c {unknown}")).await;
    assert!(desk.app.screen.is::<CustomerTable>(), "{}", desk.screen());
    assert_eq!(
        desk.message(),
        format!("No customer has the number {unknown}.")
    );
    desk.command(&format!("c {}", numbers[0])).await;
    desk.command("c 1234").await;
    assert!(desk.app.screen.is::<Details>(), "stays: {}", desk.screen());
    assert!(
        desk.message()
            .starts_with(":c takes a customer number with its check digit"),
        "{}",
        desk.message()
    );
}

/// The demo's meters have the readings their bills and deductions came from (its postpaid and
/// system-prepaid customers'), so a reading far above them is abnormal at the desk: it is
/// refused until confirmed, then recorded as abnormal, following the demo's latest reading.
#[tokio::test(flavor = "multi_thread")]
async fn a_demo_customers_abnormal_reading_is_confirmed_at_the_desk() {
    for model in ["postpaid", "system_prepaid"] {
        let (_db, client, mut desk) = signed_in().await;
        let row = client
            .query_one(
                "SELECT c.id, c.customer_no, p.previous, r.id AS latest_id
                 FROM customer c JOIN account a ON a.customer_id = c.id
                 CROSS JOIN LATERAL reading_previous_value(c.meter_id) p(previous)
                 LEFT JOIN LATERAL reading_latest(c.meter_id) r ON true
                 WHERE c.status = 'active' AND c.business_model = $1
                   AND (EXISTS (SELECT 1 FROM bill b WHERE b.account_id = a.id)
                        OR EXISTS (SELECT 1 FROM ledger_transaction t
                                   WHERE t.account_id = a.id AND t.kind = 'consumption'))
                 ORDER BY c.customer_no LIMIT 1",
                &[&model],
            )
            .await
            .unwrap_or_else(|error| panic!("a {model} demo customer who was billed: {error}"));
        let (customer_id, number): (i64, i64) = (row.get("id"), row.get("customer_no"));
        let latest: Decimal = row.get("previous");
        let latest_id: Option<i64> = row.get("latest_id");
        assert!(latest_id.is_some(), "{model}: the demo's readings");
        let readings = || async {
            client
                .query_one(
                    "SELECT count(*) AS n FROM meter_reading WHERE customer_id = $1",
                    &[&customer_id],
                )
                .await
                .unwrap()
                .get::<_, i64>("n")
        };
        let before = readings().await;
        desk.key(KeyCode::Char('/')).await;
        desk.text(&format!("{number:08}")).await;
        desk.key(KeyCode::Enter).await;
        desk.key(KeyCode::Char('g')).await;
        assert!(
            desk.screen()
                .contains(&format!("previous reading {latest} m³")),
            "{model}: {}",
            desk.screen()
        );
        desk.text(&(latest + Decimal::from(927)).to_string()).await;
        desk.key(KeyCode::F(2)).await;
        assert!(
            desk.message()
                .contains("Abnormal consumption: 927.000 m³ is above 3 × the recent average"),
            "{model}: {}",
            desk.screen()
        );
        assert_eq!(
            readings().await,
            before,
            "{model}: not recorded unconfirmed"
        );

        desk.key(KeyCode::F(2)).await;
        let recorded = client
            .query_one(
                "SELECT previous_id, consumption, abnormal FROM meter_reading
                 WHERE customer_id = $1 ORDER BY id DESC LIMIT 1",
                &[&customer_id],
            )
            .await
            .unwrap();
        assert_eq!(readings().await, before + 1, "{model}: {}", desk.screen());
        assert_eq!(recorded.get::<_, Option<i64>>("previous_id"), latest_id);
        assert_eq!(
            recorded.get::<_, Decimal>("consumption"),
            Decimal::from(927)
        );
        assert!(recorded.get::<_, bool>("abnormal"), "{model}");
    }
}

/// The administrator takes `customer.modify` from the clerks while a clerk is signed in (their
/// desk still offers `m`, as it was told at sign-in): the database refuses the save at commit,
/// on the change's audit entry, and the clerk is told in words that their roles no longer allow
/// it, their typing kept (session 31, by hand: "database error: permission denied: audit entry
/// 20 (customer.modify) tells no write of this transaction that clerk@meterdesk may m…").
/// The refusal makes the desk read the permissions again: back on the table, the legend and
/// the help no longer offer `m`; given back, it is offered again at the next periodic read.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_refused_for_a_permission_taken_since_sign_in_is_told_in_words() {
    let (_db, client, mut desk) = signed_in().await;
    client
        .execute(
            "DELETE FROM role_permission WHERE role_code = 'clerk' AND permission_code = 'customer.modify'",
            &[],
        )
        .await
        .unwrap();
    desk.key(KeyCode::Char('m')).await;
    assert!(desk.app.screen.is::<ModifyView>(), "{}", desk.screen());
    desk.text("平").await;
    desk.key(KeyCode::F(2)).await;
    assert!(desk.app.screen.is::<ModifyView>(), "{}", desk.screen());
    assert_eq!(
        desk.message(),
        "The database refused: your roles no longer allow you to modify a customer's basic \
         information. The desk has read them again and offers only what they allow."
    );
    assert!(desk.screen().contains("平"), "{}", desk.screen());
    assert!(!desk.app.may("customer.modify"), "read again");
    assert!(desk.app.may("customer.view"), "the others kept");

    let legend = |desk: &Desk| desk.screen().lines().last().unwrap_or_default().to_owned();
    desk.key(KeyCode::F(3)).await;
    desk.key(KeyCode::F(3)).await;
    assert!(desk.app.screen.is::<CustomerTable>(), "{}", desk.screen());
    assert!(!legend(&desk).contains("Modify"), "{}", desk.screen());
    desk.key(KeyCode::F(1)).await;
    assert!(
        !desk.screen().contains("Modify"),
        "the help: {}",
        desk.screen()
    );
    desk.key(KeyCode::Esc).await;

    client
        .execute(
            "INSERT INTO role_permission (role_code, permission_code) VALUES ('clerk', 'customer.modify')",
            &[],
        )
        .await
        .unwrap();
    let period = (REREAD_EVERY.as_millis() / TICK.as_millis()) as usize;
    for _ in 1..period {
        desk.send(Msg::Tick).await;
    }
    assert!(!legend(&desk).contains("Modify"), "not yet read again");
    desk.send(Msg::Tick).await;
    assert!(legend(&desk).contains("m Modify"), "{}", desk.screen());
}

/// The administrator takes `account.deposit` from the clerks (`db::roles::set_permissions`, as
/// the roles screen saves it) while a clerk is signed in with the account open, its legend
/// offering the deposit as the sign-in told the desk. The database refuses the deposit, the
/// account screen says so in its own words (`MoveRefusal::NotPermitted`), and the desk reads
/// the permissions again: the legend and the help no longer offer it.
#[tokio::test(flavor = "multi_thread")]
async fn a_deposit_refused_for_a_permission_taken_since_sign_in_is_no_longer_offered() {
    let (db, client, mut desk) = signed_in().await;
    let (number, balance): (i64, Decimal) = {
        let row = client
            .query_one(
                "SELECT c.customer_no, a.balance FROM customer c
                 JOIN account a ON a.customer_id = c.id
                 WHERE c.status = 'active' AND c.business_model = 'postpaid'
                   AND NOT EXISTS (SELECT 1 FROM bill b
                                   WHERE b.account_id = a.id AND b.status = 'unpaid')
                 ORDER BY c.customer_no LIMIT 1",
                &[],
            )
            .await
            .expect("the demo data has a postpaid customer");
        (row.get("customer_no"), row.get("balance"))
    };
    desk.key(KeyCode::Char('/')).await;
    desk.text(&format!("{number:08}")).await;
    desk.key(KeyCode::Enter).await;
    desk.key(KeyCode::Char('$')).await;
    assert!(desk.app.screen.is::<AccountScreen>(), "{}", desk.screen());
    let legend = |desk: &Desk| desk.screen().lines().last().unwrap_or_default().to_owned();
    assert!(legend(&desk).contains("F8 Deposit"), "{}", desk.screen());

    let admin: i64 = client
        .query_one("SELECT id FROM operator WHERE login = 'admin'", &[])
        .await
        .unwrap()
        .get("id");
    give_password(&client, admin).await;
    let kept: Vec<String> = client
        .query_one(
            "SELECT ARRAY(SELECT permission_code FROM role_permission
                          WHERE role_code = 'clerk' AND permission_code <> 'account.deposit')
                    AS kept",
            &[],
        )
        .await
        .unwrap()
        .get("kept");
    let mut admin = db.pool_of("admin").get().await.unwrap();
    roles::set_permissions(&mut admin, "clerk", &kept)
        .await
        .unwrap()
        .expect("the clerk role");

    desk.key(KeyCode::F(8)).await;
    desk.text("50").await;
    desk.key(KeyCode::F(2)).await;
    desk.key(KeyCode::F(2)).await;
    assert_eq!(
        desk.message(),
        "Refused by the database: your roles do not allow this.",
        "{}",
        desk.screen()
    );
    assert!(!desk.app.may("account.deposit"), "read again");
    assert!(desk.app.may("receipt.reprint"), "the others kept");
    assert!(!legend(&desk).contains("Deposit"), "{}", desk.screen());
    desk.key(KeyCode::F(1)).await;
    assert!(
        !desk.screen().contains("Deposit"),
        "the help: {}",
        desk.screen()
    );
    let now: Decimal = client
        .query_one(
            "SELECT a.balance FROM account a JOIN customer c ON c.id = a.customer_id
             WHERE c.customer_no = $1",
            &[&number],
        )
        .await
        .unwrap()
        .get("balance");
    assert_eq!(now, balance, "nothing moved");
}
