//! Customer management against a real PostgreSQL: meter types and meters, the meter import,
//! customer types, opening accounts (and the race for one meter), modify and transfer. Each
//! action runs as the operator who does it at the desk, signed in as their own database role:
//! reference data as a supervisor, customers as a clerk; the owner only lays the fixture's rows
//! and looks at what was written.

mod support;

use std::time::Instant;

use deadpool_postgres::Object;
use meterdesk::app::state::Failure;
use meterdesk::db::customer_changes::{
    self, CustomerBasics, ModifyOutcome, OpenOutcome, OpenedAccount, Opening, TransferOutcome,
};
use meterdesk::db::customer_types::{self, CustomerTypeInput, CustomerTypeOutcome};
use meterdesk::db::customers::{self, PageAt};
use meterdesk::db::meters::{
    self, ImportChoice, ImportReport, MeterFields, MeterOutcome, MeterType, MeterTypeFields,
    MeterTypeOutcome,
};
use meterdesk::db::pool_from_conn_str;
use meterdesk::domain::customer_rules::{
    AccountKind, BasicInfo, BusinessModel, CustomerTypeProblem, EnterpriseInfo, Field, Nature,
    PaymentModel, PersonalInfo, StatisticalInfo,
};
use meterdesk::domain::meter_csv::{
    LineProblem, METER_CSV_TEMPLATE, MeterCsv, MeterNo, MeterTypeNames, parse_meter_csv,
};
use meterdesk::domain::money::Money;
use meterdesk::domain::search::classify;
use meterdesk::i18n::Lang;
use rust_decimal::Decimal;
use support::commit_cutter::CommitCutter;
use support::pg::{TestDb, count, fresh_db, rows_read_in_transaction};
use tokio_postgres::error::SqlState;

/// Ids of the fixture's operators, made in this order.
const CLERK: i64 = 1;
const SUPERVISOR: i64 = 2;
const ADMINISTRATOR: i64 = 3;
/// Ids of the fixture's rows.
const CARD_METERS: i64 = 1;
const PLAIN_METERS: i64 = 2;
const PREPAID_SCHEME: i64 = 1;
const POSTPAID_SCHEME: i64 = 2;

/// A card and a plain meter type, a prepaid and a postpaid scheme.
const FIXTURE: &str = "
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer) VALUES
        ('Card DN15', 'prepayment', true, 'DN15', 'Acme'),
        ('Plain DN20', 'postpayment', false, 'DN20', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date, settlement_cycle_months)
        VALUES ('prepaid flat', 'prepaid', 'fixed', 0.09, '2024-01-01', NULL),
               ('postpaid flat', 'postpaid', 'fixed', 0.09, '2024-01-01', 2);
";

/// A fresh idempotency key, as the app makes one per F2.
fn key() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    format!(
        "test-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// A test's database and who works on it, each connection signed in as its own role.
struct Desks {
    db: TestDb,
    /// Lays the fixture's rows and looks at what was written.
    owner: Object,
    /// Meter types, meters, the import, customer types.
    supervisor: Object,
    /// Opens, modifies and transfers customers.
    clerk: Object,
}

async fn with_fixture() -> Desks {
    let db = fresh_db().await;
    let owner = db.pool.get().await.expect("connect to the test database");
    owner
        .batch_execute(FIXTURE)
        .await
        .expect("load the fixture");
    for (login, role, id) in [
        ("clerk", "clerk", CLERK),
        ("super", "supervisor", SUPERVISOR),
        ("admin", "administrator", ADMINISTRATOR),
    ] {
        assert_eq!(db.create_operator(login, &[role]).await, id);
    }
    let supervisor = db
        .pool_of("super")
        .get()
        .await
        .expect("sign in as the supervisor");
    let clerk = db
        .pool_of("clerk")
        .get()
        .await
        .expect("sign in as the clerk");
    Desks {
        db,
        owner,
        supervisor,
        clerk,
    }
}

fn type_input(name: &str, business_model: BusinessModel) -> CustomerTypeInput {
    let (meter_type, scheme) = match business_model {
        BusinessModel::MeterPrepaid => (CARD_METERS, PREPAID_SCHEME),
        BusinessModel::SystemPrepaid => (PLAIN_METERS, PREPAID_SCHEME),
        BusinessModel::Postpaid => (PLAIN_METERS, POSTPAID_SCHEME),
    };
    CustomerTypeInput {
        name: name.to_owned(),
        nature: Nature::Personal,
        business_model,
        meter_type_ids: vec![meter_type],
        counts_water_usage: true,
        charges: true,
        price_scheme_id: Some(scheme),
        payment_methods: vec!["cash".to_owned()],
    }
}

/// Adds a customer type as the supervisor `client`.
async fn add_type(client: &mut Object, name: &str, business_model: BusinessModel) -> i64 {
    match customer_types::add_customer_type(
        client,
        SUPERVISOR,
        &key(),
        &type_input(name, business_model),
    )
    .await
    .unwrap()
    {
        CustomerTypeOutcome::Saved { id } => id,
        other => panic!("{other:?}"),
    }
}

/// Adds an uninstalled meter as the supervisor `client`.
/// Meter type `id` as the list reads it, the form of a change filled from it.
async fn listed_type(client: &Object, id: i64) -> MeterType {
    let types = meters::meter_types(&**client).await.unwrap();
    types.into_iter().find(|t| t.id == id).unwrap()
}

/// The fields a meter is added with by [`add_meter`].
fn added_meter(meter_type_id: i64) -> MeterFields {
    MeterFields {
        meter_type_id,
        initial_electronic_reading: Decimal::ZERO,
        initial_mechanical_reading: Decimal::ZERO,
    }
}

async fn add_meter(client: &mut Object, number: &str, meter_type_id: i64) -> i64 {
    let fields = added_meter(meter_type_id);
    let meter_no = MeterNo::parse(number).unwrap();
    let outcome = meters::add_meter(client, SUPERVISOR, &key(), &meter_no, &fields)
        .await
        .unwrap();
    assert_eq!(outcome, MeterOutcome::Done);
    client
        .query_one("SELECT id FROM meter WHERE meter_no = $1", &[&number])
        .await
        .unwrap()
        .get("id")
}

fn person(name: &str, mobile: &str) -> BasicInfo {
    BasicInfo::Personal(PersonalInfo {
        name: name.to_owned(),
        id_document_no: None,
        mobile: mobile.to_owned(),
        address: "建国路88号".to_owned(),
        household_size: Some(3),
        email: None,
        remark: None,
    })
}

/// A cash deposit of `amount` into `customer_id`'s account, taken by `client` (the clerk) as the
/// desk takes it: `money_move`, its receipt and its audit entry (sql/V132).
async fn deposit_at_the_counter(client: &Object, customer_id: i64, amount: &str) {
    let taken: i64 = client
        .query_one(
            "SELECT count(*) FROM money_move($1, $2, 'deposit', $3::text::numeric, 'cash',
                                             NULL, NULL)
             WHERE refusal IS NULL",
            &[&key(), &customer_id, &amount],
        )
        .await
        .expect("the clerk takes a deposit")
        .get(0);
    assert_eq!(taken, 1, "the deposit's receipt line");
}

/// A cash deposit of `amount` into `account_id`, taken by `client` (the owner, for a fixture)
/// through the ledger.
async fn deposit(client: &Object, account_id: i64, amount: &str) {
    client
        .execute(
            "SELECT ledger_post($1, 'deposit', $2::text::numeric, NULL, NULL, 'cash', NULL, $3)",
            &[&account_id, &amount, &key()],
        )
        .await
        .expect("the clerk takes a deposit");
}

/// Opens an account as the clerk `client`.
async fn open(client: &mut Object, customer_type_id: i64, meter_id: i64) -> OpenedAccount {
    let info = person("张伟", "13800138000");
    let opening = Opening {
        customer_type_id,
        info: &info,
        meter_id,
    };
    match customer_changes::open_account(client, CLERK, &key(), &opening)
        .await
        .unwrap()
    {
        OpenOutcome::Opened(opened) => opened,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn meter_types_are_added_and_changed_but_keep_a_payment_model_in_use() {
    let Desks {
        owner,
        mut supervisor,
        ..
    } = with_fixture().await;
    let fields = MeterTypeFields {
        name: "Remote DN25",
        payment_model: PaymentModel::Postpayment,
        caliber: "DN25",
        manufacturer: "Ningbo",
    };
    let MeterTypeOutcome::Saved { id } =
        meters::save_meter_type(&mut supervisor, SUPERVISOR, &key(), None, fields)
            .await
            .unwrap()
    else {
        panic!("not added");
    };
    let same_name = MeterTypeFields {
        name: "Card DN15",
        ..fields
    };
    assert_eq!(
        meters::save_meter_type(&mut supervisor, SUPERVISOR, &key(), None, same_name)
            .await
            .unwrap(),
        MeterTypeOutcome::NameTaken
    );
    let card = MeterTypeFields {
        payment_model: PaymentModel::Prepayment,
        ..fields
    };
    let read = listed_type(&supervisor, id).await;
    assert_eq!(
        meters::save_meter_type(&mut supervisor, SUPERVISOR, &key(), Some(&read), card)
            .await
            .unwrap(),
        MeterTypeOutcome::Saved { id }
    );
    let listed = meters::meter_types(&**supervisor).await.unwrap();
    let changed = listed.iter().find(|t| t.id == id).unwrap();
    assert_eq!(changed.payment_model, PaymentModel::Prepayment);
    assert!(changed.takes_card);
    let gone = MeterType {
        id: 999,
        ..changed.clone()
    };
    assert_eq!(
        meters::save_meter_type(&mut supervisor, SUPERVISOR, &key(), Some(&gone), fields)
            .await
            .unwrap(),
        MeterTypeOutcome::NotFound
    );
    // A customer type allows the plain meters for a postpayment business model.
    add_type(&mut supervisor, "Residents", BusinessModel::Postpaid).await;
    let plain_to_card = MeterTypeFields {
        name: "Plain DN20",
        payment_model: PaymentModel::Prepayment,
        caliber: "DN20",
        manufacturer: "Acme",
    };
    let read = listed_type(&supervisor, PLAIN_METERS).await;
    assert_eq!(
        meters::save_meter_type(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            Some(&read),
            plain_to_card
        )
        .await
        .unwrap(),
        MeterTypeOutcome::PaymentModelInUse
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action LIKE 'meter_type.%'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn meters_change_and_go_only_while_uninstalled_and_never_change_number() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let meter_id = add_meter(&mut supervisor, "M-1", PLAIN_METERS).await;
    let number = MeterNo::parse("M-1").unwrap();
    let fields = MeterFields {
        meter_type_id: PLAIN_METERS,
        initial_electronic_reading: "1.5".parse().unwrap(),
        initial_mechanical_reading: "2".parse().unwrap(),
    };
    assert_eq!(
        meters::add_meter(&mut supervisor, SUPERVISOR, &key(), &number, &fields)
            .await
            .unwrap(),
        MeterOutcome::NumberTaken
    );
    let unknown_type = MeterFields {
        meter_type_id: 99,
        ..fields.clone()
    };
    let other = MeterNo::parse("M-2").unwrap();
    assert_eq!(
        meters::add_meter(&mut supervisor, SUPERVISOR, &key(), &other, &unknown_type)
            .await
            .unwrap(),
        MeterOutcome::UnknownMeterType
    );
    assert_eq!(
        meters::modify_meter(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            &number,
            &added_meter(PLAIN_METERS),
            &unknown_type
        )
        .await
        .unwrap(),
        MeterOutcome::UnknownMeterType
    );
    assert_eq!(
        meters::modify_meter(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            &number,
            &added_meter(PLAIN_METERS),
            &fields
        )
        .await
        .unwrap(),
        MeterOutcome::Done
    );
    let reading: Decimal = owner
        .query_one(
            "SELECT initial_electronic_reading FROM meter WHERE id = $1",
            &[&meter_id],
        )
        .await
        .unwrap()
        .get("initial_electronic_reading");
    assert_eq!(reading.to_string(), "1.500");
    assert_eq!(
        meters::modify_meter(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            &other,
            &fields,
            &fields
        )
        .await
        .unwrap(),
        MeterOutcome::NotFound
    );

    let customer_type = add_type(&mut supervisor, "Residents", BusinessModel::Postpaid).await;
    open(&mut clerk, customer_type, meter_id).await;
    let installed = MeterOutcome::NotUninstalled {
        status: "installed".to_owned(),
    };
    assert_eq!(
        meters::modify_meter(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            &number,
            &fields,
            &fields
        )
        .await
        .unwrap(),
        installed
    );
    assert_eq!(
        meters::delete_meter(&mut supervisor, SUPERVISOR, &key(), &number, &fields)
            .await
            .unwrap(),
        installed
    );

    add_meter(&mut supervisor, "M-3", PLAIN_METERS).await;
    let spare = MeterNo::parse("m-3").unwrap();
    let plain = added_meter(PLAIN_METERS);
    assert_eq!(
        meters::delete_meter(&mut supervisor, SUPERVISOR, &key(), &spare, &plain)
            .await
            .unwrap(),
        MeterOutcome::Done
    );
    assert_eq!(
        meters::delete_meter(&mut supervisor, SUPERVISOR, &key(), &spare, &plain)
            .await
            .unwrap(),
        MeterOutcome::NotFound
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action IN ('meter.add', 'meter.modify', 'meter.delete')"
        )
        .await,
        4
    );
}

#[tokio::test]
async fn uninstalled_meters_of_given_types_page_by_number_with_a_prefix() {
    let Desks {
        mut supervisor,
        clerk,
        ..
    } = with_fixture().await;
    for n in 0..25 {
        add_meter(&mut supervisor, &format!("A-{n:02}"), PLAIN_METERS).await;
    }
    add_meter(&mut supervisor, "B-01", PLAIN_METERS).await;
    add_meter(&mut supervisor, "A-99", CARD_METERS).await;
    let page = |prefix: &'static str, after: Option<String>| {
        let clerk = &clerk;
        async move {
            meters::uninstalled_meters(&***clerk, &[PLAIN_METERS], prefix, after.as_deref(), 10)
                .await
                .unwrap()
                .into_iter()
                .map(|meter| meter.meter_no)
                .collect::<Vec<_>>()
        }
    };
    let first = page("a-", None).await;
    assert_eq!(first.len(), 10);
    assert_eq!(first[0], "A-00");
    let second = page("A-", first.last().cloned()).await;
    assert_eq!(second[0], "A-10");
    let third = page("A-", second.last().cloned()).await;
    assert_eq!(third, ["A-20", "A-21", "A-22", "A-23", "A-24"]);
    assert_eq!(page("", third.last().cloned()).await, ["B-01"]);
    assert_eq!(page("A-2", None).await.len(), 5);
    assert!(page("A%", None).await.is_empty());
    assert!(page("_", None).await.is_empty());
}

/// The open-account wizard's page reads the stock, never the meters placed with customers: a
/// plan walking the meter numbers' unique index (the column's order, not the stock's index's)
/// read every installed meter numbered before the stock, and all of them past its end.
#[tokio::test]
async fn the_page_of_uninstalled_meters_reads_only_the_stock() {
    let Desks { owner, clerk, .. } = with_fixture().await;
    // As many placed meters as a district has, numbered before a stock of 300.
    owner
        .batch_execute(&format!(
            "INSERT INTO meter (meter_no, meter_type_id, status)
             SELECT '0-' || lpad(n::text, 5, '0'), {PLAIN_METERS}, 'installed'
             FROM generate_series(1, 5000) n;
             INSERT INTO meter (meter_no, meter_type_id)
             SELECT 'A-' || lpad(n::text, 3, '0'), {PLAIN_METERS} FROM generate_series(1, 300) n;
             ANALYZE meter"
        ))
        .await
        .unwrap();
    let page_and_rows_read = async |after: Option<&str>| {
        clerk.batch_execute("BEGIN").await.unwrap();
        let page = meters::uninstalled_meters(&**clerk, &[PLAIN_METERS], "", after, 10)
            .await
            .unwrap();
        let read = rows_read_in_transaction(&clerk, "meter").await;
        clerk.batch_execute("ROLLBACK").await.unwrap();
        let numbers: Vec<String> = page.into_iter().map(|meter| meter.meter_no).collect();
        (numbers, read)
    };
    let (page, read) = page_and_rows_read(None).await;
    assert_eq!(page.first().map(String::as_str), Some("A-001"));
    assert_eq!(page.last().map(String::as_str), Some("A-010"));
    assert!(read <= 10, "the first page of 10 read {read} meters");
    let (page, read) = page_and_rows_read(Some("A-300")).await;
    assert!(page.is_empty());
    assert!(
        read <= 300,
        "the page after a stock of 300 read {read} meters"
    );
}

#[tokio::test]
async fn customer_types_keep_the_rules_and_a_type_in_use_stays_what_it_is() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let card = add_type(
        &mut supervisor,
        "Card residents",
        BusinessModel::MeterPrepaid,
    )
    .await;

    let mut wrong = type_input("Wrong", BusinessModel::MeterPrepaid);
    wrong.meter_type_ids = vec![PLAIN_METERS];
    wrong.price_scheme_id = Some(POSTPAID_SCHEME);
    wrong.payment_methods.clear();
    let CustomerTypeOutcome::Refused(problems) =
        customer_types::add_customer_type(&mut supervisor, SUPERVISOR, &key(), &wrong)
            .await
            .unwrap()
    else {
        panic!("accepted");
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(matches!(
        problems[0],
        CustomerTypeProblem::MeterTypeDoesNotFit { .. }
    ));
    assert!(matches!(
        problems[1],
        CustomerTypeProblem::PriceSchemeKind { .. }
    ));
    assert_eq!(problems[2], CustomerTypeProblem::NoPaymentMethods);
    assert_eq!(
        customer_types::add_customer_type(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            &type_input("Card residents", BusinessModel::Postpaid)
        )
        .await
        .unwrap(),
        CustomerTypeOutcome::NameTaken
    );

    // Not in use yet: anything may change, the business model and the meter types included.
    let postpaid = type_input("Households", BusinessModel::Postpaid);
    let read = stored_type(&supervisor, card).await;
    assert_eq!(
        customer_types::modify_customer_type(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            card,
            &read,
            &postpaid
        )
        .await
        .unwrap(),
        CustomerTypeOutcome::Saved { id: card }
    );
    let meter = add_meter(&mut supervisor, "P-1", PLAIN_METERS).await;
    let opened = open(&mut clerk, card, meter).await;
    assert_eq!(opened.account_kind, AccountKind::Postpaid);

    // In use: the business model stays, and the type is not deleted.
    let CustomerTypeOutcome::Refused(problems) = customer_types::modify_customer_type(
        &mut supervisor,
        SUPERVISOR,
        &key(),
        card,
        &postpaid,
        &type_input("Households", BusinessModel::SystemPrepaid),
    )
    .await
    .unwrap() else {
        panic!("business model changed while in use");
    };
    assert_eq!(problems, [CustomerTypeProblem::BusinessModelInUse]);
    let mut renamed = postpaid.clone();
    renamed.name = "Households 2026".to_owned();
    renamed.charges = false;
    assert_eq!(
        customer_types::modify_customer_type(
            &mut supervisor,
            SUPERVISOR,
            &key(),
            card,
            &postpaid,
            &renamed
        )
        .await
        .unwrap(),
        CustomerTypeOutcome::Saved { id: card }
    );
    let listed = customer_types::customer_type_rows(&*supervisor)
        .await
        .unwrap()
        .into_iter()
        .find(|row| row.id == card)
        .unwrap()
        .input;
    assert_eq!(
        customer_types::delete_customer_type(&mut supervisor, SUPERVISOR, &key(), card, &listed)
            .await
            .unwrap(),
        CustomerTypeOutcome::Refused(vec![CustomerTypeProblem::InUse { customers: 1 }])
    );

    let unused = add_type(&mut supervisor, "Spare", BusinessModel::SystemPrepaid).await;
    let spare = type_input("Spare", BusinessModel::SystemPrepaid);
    assert_eq!(
        customer_types::delete_customer_type(&mut supervisor, SUPERVISOR, &key(), unused, &spare)
            .await
            .unwrap(),
        CustomerTypeOutcome::Deleted
    );
    assert_eq!(
        customer_types::delete_customer_type(&mut supervisor, SUPERVISOR, &key(), unused, &spare)
            .await
            .unwrap(),
        CustomerTypeOutcome::NotFound
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action LIKE 'customer_type.%'"
        )
        .await,
        5
    );
}

#[tokio::test]
async fn the_customer_after_the_nine_millionth_gets_a_ten_digit_number_and_is_found_by_it() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let prepaid = add_type(&mut supervisor, "Residents", BusinessModel::SystemPrepaid).await;
    let first_meter = add_meter(&mut supervisor, "P-1", PLAIN_METERS).await;
    let second_meter = add_meter(&mut supervisor, "P-2", PLAIN_METERS).await;
    // As if nine million minus one customers had been opened.
    owner
        .batch_execute("SELECT setval('customer_serial', 9999998)")
        .await
        .unwrap();

    let last_short = open(&mut clerk, prepaid, first_meter).await.customer_no;
    let first_long = open(&mut clerk, prepaid, second_meter).await.customer_no;
    assert_eq!(last_short.serial(), 9_999_999);
    assert_eq!(last_short.to_string().len(), 8);
    assert_eq!(first_long.serial(), 100_000_000);
    assert_eq!(first_long.to_string().len(), 10);

    for number in [last_short, first_long] {
        let search = classify(&number.to_string()).unwrap();
        let page = customers::page(&**clerk, &search, &PageAt::First, 10)
            .await
            .unwrap();
        let found: Vec<i64> = page.rows.iter().map(|row| row.customer_no).collect();
        assert_eq!(found, [i64::from(number.value())], "{number}");
    }
    // Nine digits are no customer number: the database refuses one too.
    let refused = owner
        .execute(
            "UPDATE customer SET customer_no = 100000000 WHERE customer_no = $1",
            &[&i64::from(first_long.value())],
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(&SqlState::CHECK_VIOLATION));
}

#[tokio::test]
async fn opening_an_account_installs_the_meter_and_opens_an_empty_account() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let card = add_type(
        &mut supervisor,
        "Card residents",
        BusinessModel::MeterPrepaid,
    )
    .await;
    let card_meter = add_meter(&mut supervisor, "C-1", CARD_METERS).await;
    let plain_meter = add_meter(&mut supervisor, "P-1", PLAIN_METERS).await;

    let info = person("张伟", "13800138000");
    let not_allowed = Opening {
        customer_type_id: card,
        info: &info,
        meter_id: plain_meter,
    };
    assert_eq!(
        customer_changes::open_account(&mut clerk, CLERK, &key(), &not_allowed)
            .await
            .unwrap(),
        OpenOutcome::MeterNotAllowed
    );
    let statistical = BasicInfo::validate(
        Nature::Statistical,
        meterdesk::domain::validation::IdDocumentPolicy::FreeForm,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        |field| match field {
            Field::Label => "Hydrant".to_owned(),
            Field::Location => "Park".to_owned(),
            _ => String::new(),
        },
    )
    .unwrap();
    let wrong_nature = Opening {
        customer_type_id: card,
        info: &statistical,
        meter_id: card_meter,
    };
    assert_eq!(
        customer_changes::open_account(&mut clerk, CLERK, &key(), &wrong_nature)
            .await
            .unwrap(),
        OpenOutcome::WrongNature {
            nature: Nature::Personal
        }
    );

    let opened = open(&mut clerk, card, card_meter).await;
    assert_eq!(opened.account_kind, AccountKind::Prepaid);
    let row = owner
        .query_one(
            "SELECT c.customer_no, c.name, c.phone, c.household_size, m.status, a.balance, a.kind
             FROM customer c JOIN meter m ON m.id = c.meter_id JOIN account a ON a.customer_id = c.id
             WHERE c.id = $1",
            &[&opened.customer_id],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i64>("customer_no"),
        i64::from(opened.customer_no.value())
    );
    assert_eq!(row.get::<_, &str>("name"), "张伟");
    assert_eq!(row.get::<_, &str>("phone"), "13800138000");
    assert_eq!(row.get::<_, Option<i16>>(3), Some(3));
    assert_eq!(row.get::<_, &str>("status"), "installed");
    assert_eq!(row.get::<_, Decimal>("balance"), Decimal::ZERO);
    assert_eq!(row.get::<_, &str>("kind"), "prepaid");
    assert_eq!(
        opened.customer_no.to_string().parse(),
        Ok(opened.customer_no)
    );
    assert_eq!(
        customer_changes::open_account(
            &mut clerk,
            CLERK,
            &key(),
            &Opening {
                customer_type_id: card,
                info: &info,
                meter_id: card_meter
            }
        )
        .await
        .unwrap(),
        OpenOutcome::MeterTaken
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = 'customer.open'"
        )
        .await,
        1
    );
    let basics = customer_changes::customer_basics(&**clerk, opened.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(basics.info, info);
    assert_eq!(basics.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clerks_opening_accounts_on_one_meter_one_succeeds_the_rest_hear_it_is_taken() {
    const CLERKS: usize = 50;
    let Desks {
        db,
        owner,
        mut supervisor,
        ..
    } = with_fixture().await;
    let customer_type = add_type(&mut supervisor, "Residents", BusinessModel::SystemPrepaid).await;
    let meter = add_meter(&mut supervisor, "RACE-1", PLAIN_METERS).await;
    // Fifty connections of one login stand for fifty clerks: the owner lifts the 16 one
    // operator may hold (sql/V99).
    owner
        .batch_execute(&format!(
            "ALTER ROLE \"{}\" CONNECTION LIMIT -1",
            meterdesk::db::session::role_name("clerk", &db.name)
        ))
        .await
        .unwrap();
    // One connection per clerk, all open before the race starts, so they really run at once.
    let pool = pool_from_conn_str(&db.operator_conn_str("clerk"), CLERKS).unwrap();
    let mut connections = Vec::new();
    for _ in 0..CLERKS {
        connections.push(pool.get().await.unwrap());
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CLERKS));
    let clerks = connections.into_iter().enumerate().map(|(n, mut clerk)| {
        let start = start.clone();
        tokio::spawn(async move {
            let info = person("王芳", &format!("139{n:08}"));
            let opening = Opening {
                customer_type_id: customer_type,
                info: &info,
                meter_id: meter,
            };
            start.wait().await;
            customer_changes::open_account(&mut clerk, CLERK, &key(), &opening).await
        })
    });
    let started = Instant::now();
    let outcomes: Vec<OpenOutcome> = futures_util::future::join_all(clerks)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().expect("no database error, no deadlock"))
        .collect();
    println!("50 openings on one meter: {:?}", started.elapsed());
    let opened = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, OpenOutcome::Opened(_)))
        .count();
    let taken = outcomes
        .iter()
        .filter(|outcome| **outcome == OpenOutcome::MeterTaken)
        .count();
    assert_eq!((opened, taken), (1, CLERKS - 1));
    assert_eq!(count(&owner, "SELECT count(*) FROM customer").await, 1);
    assert_eq!(count(&owner, "SELECT count(*) FROM account").await, 1);
}

fn generated_csv(rows: usize) -> String {
    let mut text = String::from(METER_CSV_TEMPLATE);
    for n in 0..rows {
        let meter_type = if n % 2 == 0 {
            "Card DN15"
        } else {
            "plain dn20"
        };
        text.push_str(&format!("W{n:08},{meter_type},{}.5,0\n", n % 1000));
    }
    text
}

/// The supervisor imports every row of `csv`, all or nothing.
async fn import_all(supervisor: &mut Object, csv: &MeterCsv) -> ImportReport {
    meters::import_meters(
        supervisor,
        SUPERVISOR,
        &key(),
        csv,
        ImportChoice::AllOrNothing,
    )
    .await
    .unwrap()
}

async fn meters_in_stock(owner: &Object) -> i64 {
    count(
        owner,
        "SELECT count(*) FROM meter WHERE status = 'uninstalled'",
    )
    .await
}

async fn type_names(client: &Object) -> MeterTypeNames {
    let types = meters::meter_types(&***client).await.unwrap();
    MeterTypeNames::new(types.iter().map(|t| (t.name.as_str(), t.id)))
}

/// A file of meters is one statement per table: on a busy server a large one outlasts the
/// pool's statement deadline (30 s), meant for a clerk's single requests, and the server
/// cancelled it. The import sets its own; here the session allows 50 ms, which copying and
/// inserting 20 000 meters exceeds.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_outlasting_the_pools_statement_deadline_is_not_cancelled() {
    let Desks {
        owner,
        mut supervisor,
        ..
    } = with_fixture().await;
    let names = type_names(&supervisor).await;
    let csv = parse_meter_csv(&generated_csv(20_000), &names);
    supervisor
        .batch_execute("SET statement_timeout = '50ms'")
        .await
        .unwrap();
    let report = import_all(&mut supervisor, &csv).await;
    assert_eq!(report.imported, 20_000);
    assert_eq!(meters_in_stock(&owner).await, 20_000);
}

/// 100 000 meters imported in one go; the times are printed, never asserted.
#[tokio::test]
async fn importing_100000_meters_imports_them_all() {
    let Desks {
        owner,
        mut supervisor,
        ..
    } = with_fixture().await;
    let text = generated_csv(100_000);
    let names = type_names(&supervisor).await;
    let started = Instant::now();
    let csv = parse_meter_csv(&text, &names);
    let parsed = started.elapsed();
    assert_eq!((csv.rows.len(), csv.errors.len()), (100_000, 0));
    let checked = Instant::now();
    assert_eq!(meters::check_import(&**supervisor, &csv).await.unwrap(), []);
    let check_time = checked.elapsed();
    let imported = Instant::now();
    let report = import_all(&mut supervisor, &csv).await;
    let import_time = imported.elapsed();
    println!(
        "100 000 meters: parse {parsed:?}, check {check_time:?}, import {import_time:?}, total {:?}",
        started.elapsed()
    );
    assert_eq!(report.imported, 100_000);
    assert!(report.errors.is_empty());
    assert_eq!(meters_in_stock(&owner).await, 100_000);
    // Told by an entry a chunk of 10 000 rows (sql/V256: no temporary table), each exact.
    assert_eq!(
        count(
            &owner,
            "SELECT sum((detail->>'imported')::bigint)::bigint AS count FROM audit_log
             WHERE action = 'meter.import'
             HAVING count(*) = 10
                AND sum(jsonb_array_length(detail->'meter_nos')) = 100000"
        )
        .await,
        100_000
    );
}

#[tokio::test]
async fn an_import_reports_bad_lines_and_imports_the_good_rows_or_nothing() {
    let Desks {
        owner,
        mut supervisor,
        ..
    } = with_fixture().await;
    add_meter(&mut supervisor, "OLD-1", PLAIN_METERS).await;
    let text = format!(
        "{METER_CSV_TEMPLATE}NEW-1,Card DN15,0,0\nOLD-1,Plain DN20,0,0\nNEW-2,Gas meter,0,0\n\
         NEW-3,Plain DN20,-1,0\nNEW-4,Plain DN20,0\nNEW-5,Plain DN20,0,0\nNEW-5,Plain DN20,1,1\n\
         NEW-6,\"Plain DN20\",\"7\",8\n"
    );
    let csv = parse_meter_csv(&text, &type_names(&supervisor).await);
    let problems = |errors: &[meterdesk::domain::meter_csv::LineError]| {
        errors
            .iter()
            .map(|error| (error.line, error.problem.clone()))
            .collect::<Vec<_>>()
    };
    let expected_lines = [3, 4, 5, 6, 7, 8];
    let checked = meters::check_import(&**supervisor, &csv).await.unwrap();
    assert_eq!(
        checked.iter().map(|error| error.line).collect::<Vec<_>>(),
        expected_lines
    );
    assert_eq!(
        problems(&checked)[0],
        (3, LineProblem::AlreadyInDatabase("OLD-1".to_owned()))
    );

    let nothing = import_all(&mut supervisor, &csv).await;
    assert_eq!(nothing.imported, 0);
    assert_eq!(problems(&nothing.errors), problems(&checked));
    assert_eq!(count(&owner, "SELECT count(*) FROM meter").await, 1);
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = 'meter.import'"
        )
        .await,
        0
    );

    let good = meters::import_meters(
        &mut supervisor,
        SUPERVISOR,
        &key(),
        &csv,
        ImportChoice::GoodRows,
    )
    .await
    .unwrap();
    assert_eq!(good.imported, 2);
    assert_eq!(problems(&good.errors), problems(&checked));
    let numbers: Vec<String> = owner
        .query("SELECT meter_no FROM meter ORDER BY meter_no", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("meter_no"))
        .collect();
    assert_eq!(numbers, ["NEW-1", "NEW-6", "OLD-1"]);
    let reading: Decimal = owner
        .query_one(
            "SELECT initial_mechanical_reading FROM meter WHERE meter_no = 'NEW-6'",
            &[],
        )
        .await
        .unwrap()
        .get("initial_mechanical_reading");
    assert_eq!(reading.to_string(), "8.000");
}

/// A customer the clerk opened on a customer type and a meter the supervisor added.
async fn opened_customer(
    supervisor: &mut Object,
    clerk: &mut Object,
    business_model: BusinessModel,
) -> CustomerBasics {
    let customer_type = add_type(supervisor, "Residents", business_model).await;
    let meter = add_meter(supervisor, "P-1", PLAIN_METERS).await;
    let opened = open(clerk, customer_type, meter).await;
    customer_changes::customer_basics(&***clerk, opened.customer_id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn the_second_of_two_clerks_saving_a_customer_hears_what_the_first_changed() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let read = opened_customer(&mut supervisor, &mut clerk, BusinessModel::SystemPrepaid).await;
    // Both clerks opened the form on the same version.
    let first = read.clone();
    let second = read.clone();
    let BasicInfo::Personal(mut by_first) = first.info.clone() else {
        panic!("personal");
    };
    by_first.mobile = "13900139000".to_owned();
    by_first.email = Some("zhang@example.com".to_owned());
    let saved = customer_changes::modify_basic_info(
        &mut clerk,
        CLERK,
        &key(),
        &first,
        &BasicInfo::Personal(by_first),
    )
    .await
    .unwrap();
    assert_eq!(saved, ModifyOutcome::Saved { version: 2 });

    let BasicInfo::Personal(mut by_second) = second.info.clone() else {
        panic!("personal");
    };
    by_second.address = "鼓楼区1号".to_owned();
    let refused = customer_changes::modify_basic_info(
        &mut clerk,
        CLERK,
        &key(),
        &second,
        &BasicInfo::Personal(by_second.clone()),
    )
    .await
    .unwrap();
    let ModifyOutcome::Conflict {
        changed_fields,
        current,
    } = refused
    else {
        panic!("{refused:?}");
    };
    assert_eq!(changed_fields, [Field::Mobile, Field::Email]);
    assert_eq!(current.version, 2);
    let stored = customer_changes::customer_basics(&**clerk, read.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, current, "nothing overwritten");
    // Editing again from what is stored now succeeds.
    let again = customer_changes::modify_basic_info(
        &mut clerk,
        CLERK,
        &key(),
        &current,
        &BasicInfo::Personal(by_second),
    )
    .await
    .unwrap();
    assert_eq!(again, ModifyOutcome::Saved { version: 3 });
    let audit: (String, String) = {
        let row = owner
            .query_one(
                "SELECT detail->>'before' AS before, detail->>'after' AS after FROM audit_log
                 WHERE action = 'customer.modify' ORDER BY id LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        (row.get("before"), row.get("after"))
    };
    assert_eq!(
        audit,
        (
            r#"{"email": null, "mobile": "13800138000"}"#.to_owned(),
            r#"{"email": "zhang@example.com", "mobile": "13900139000"}"#.to_owned()
        )
    );
}

#[tokio::test]
async fn a_transfer_keeps_the_previous_owner_as_history_and_the_balance_with_the_account() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let read = opened_customer(&mut supervisor, &mut clerk, BusinessModel::SystemPrepaid).await;
    deposit_at_the_counter(&clerk, read.customer_id, "88.50").await;
    let preview = customer_changes::transfer_preview(&**clerk, read.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(preview.balance.to_string(), "88.50");
    assert_eq!(preview.unpaid_bills, 0);
    let new_owner = person("Anna Schmidt", "13700137000");
    let outcome =
        customer_changes::transfer(&mut clerk, CLERK, &key(), read.customer_id, &new_owner)
            .await
            .unwrap();
    assert_eq!(
        outcome,
        TransferOutcome::Transferred {
            balance: "88.50".parse().unwrap(),
            version: 2
        }
    );
    let history = owner
        .query_one(
            "SELECT previous_owner->>'name' AS name, previous_owner->>'mobile' AS mobile,
                    transferred_by
             FROM customer_owner_history WHERE customer_id = $1",
            &[&read.customer_id],
        )
        .await
        .unwrap();
    assert_eq!(history.get::<_, &str>("name"), "张伟");
    assert_eq!(history.get::<_, &str>("mobile"), "13800138000");
    assert_eq!(history.get::<_, i64>("transferred_by"), CLERK);
    let now = customer_changes::customer_basics(&**clerk, read.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.info, new_owner);
    // A clerk still editing the previous owner is told what the transfer changed.
    let BasicInfo::Personal(mut edited) = read.info.clone() else {
        panic!("personal");
    };
    edited.remark = Some("gate code 12".to_owned());
    let stale = customer_changes::modify_basic_info(
        &mut clerk,
        CLERK,
        &key(),
        &read,
        &BasicInfo::Personal(edited),
    )
    .await
    .unwrap();
    let ModifyOutcome::Conflict { changed_fields, .. } = stale else {
        panic!("{stale:?}");
    };
    assert_eq!(changed_fields, [Field::Name, Field::Mobile]);
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = 'customer.transfer'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_transfer_is_refused_while_a_postpaid_account_has_unpaid_bills() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let read = opened_customer(&mut supervisor, &mut clerk, BusinessModel::Postpaid).await;
    // No desk action bills yet: the bills are the fixture's.
    owner
        .batch_execute(
            "INSERT INTO bill (account_id, period_start, period_end, previous_reading, current_reading, volume, amount)
             VALUES (1, '2026-01-01', '2026-02-28', 0, 10, 10, 30),
                    (1, '2026-03-01', '2026-04-30', 10, 25, 15, 45)",
        )
        .await
        .unwrap();
    let new_owner = person("Anna Schmidt", "13700137000");
    assert_eq!(
        customer_changes::transfer(&mut clerk, CLERK, &key(), read.customer_id, &new_owner)
            .await
            .unwrap(),
        TransferOutcome::UnpaidBills { count: 2 }
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer_owner_history").await,
        0
    );
    // The clerk's psql meets the same refusal (sql/V134): the database is the boundary.
    let by_hand = clerk
        .batch_execute(&format!(
            "INSERT INTO customer_owner_history (customer_id, previous_owner, transferred_by)
             VALUES ({}, '{{}}', {CLERK})",
            read.customer_id
        ))
        .await
        .expect_err("an owner history row while the account has unpaid bills");
    assert_eq!(
        by_hand.as_db_error().map(|e| e.code().code()),
        Some("MD421"),
        "{by_hand:?}"
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer_owner_history").await,
        0
    );
    owner
        .batch_execute("UPDATE bill SET status = 'void'")
        .await
        .unwrap();
    assert!(matches!(
        customer_changes::transfer(&mut clerk, CLERK, &key(), read.customer_id, &new_owner)
            .await
            .unwrap(),
        TransferOutcome::Transferred { .. }
    ));
}

/// A lost connection is what the app parks and sends again with the same key.
fn lost_after_commit<T: std::fmt::Debug>(outcome: Result<T, meterdesk::db::DbError>) {
    match outcome {
        Err(error) => assert!(
            matches!(Failure::from(error), Failure::Unreachable(_)),
            "a lost connection parks the request"
        ),
        Ok(outcome) => panic!("the reply was to be lost: {outcome:?}"),
    }
}

#[tokio::test]
async fn writes_sent_twice_with_one_key_are_applied_once_and_answer_the_same() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let customer_type = add_type(&mut supervisor, "Residents", BusinessModel::SystemPrepaid).await;
    let meter = add_meter(&mut supervisor, "TWICE-1", PLAIN_METERS).await;
    let info = person("张伟", "13800138000");
    let opening = Opening {
        customer_type_id: customer_type,
        info: &info,
        meter_id: meter,
    };
    let open_key = key();
    let first = customer_changes::open_account(&mut clerk, CLERK, &open_key, &opening)
        .await
        .unwrap();
    let second = customer_changes::open_account(&mut clerk, CLERK, &open_key, &opening)
        .await
        .unwrap();
    assert!(matches!(first, OpenOutcome::Opened(_)), "{first:?}");
    assert_eq!(second, first, "not MeterTaken, not a second account");
    assert_eq!(count(&owner, "SELECT count(*) FROM customer").await, 1);
    assert_eq!(count(&owner, "SELECT count(*) FROM account").await, 1);

    let OpenOutcome::Opened(opened) = first else {
        unreachable!()
    };
    let read = customer_changes::customer_basics(&**clerk, opened.customer_id)
        .await
        .unwrap()
        .unwrap();
    let modify_key = key();
    let new_mobile = person("张伟", "13900139000");
    let mut modified = Vec::new();
    for _ in 0..2 {
        modified.push(
            customer_changes::modify_basic_info(&mut clerk, CLERK, &modify_key, &read, &new_mobile)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        modified,
        [
            ModifyOutcome::Saved { version: 2 },
            ModifyOutcome::Saved { version: 2 }
        ],
        "no conflict with itself"
    );

    let transfer_key = key();
    let new_owner = person("Anna Schmidt", "13700137000");
    let mut transferred = Vec::new();
    for _ in 0..2 {
        transferred.push(
            customer_changes::transfer(
                &mut clerk,
                CLERK,
                &transfer_key,
                opened.customer_id,
                &new_owner,
            )
            .await
            .unwrap(),
        );
    }
    let once = TransferOutcome::Transferred {
        balance: Decimal::ZERO,
        version: 3,
    };
    assert_eq!(transferred, [once.clone(), once]);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer_owner_history").await,
        1
    );
    for (action, times) in [
        ("customer.open", 1),
        ("customer.modify", 1),
        ("customer.transfer", 1),
    ] {
        let sql = format!("SELECT count(*) FROM audit_log WHERE action = '{action}'");
        assert_eq!(count(&owner, &sql).await, times, "{action}");
    }
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM applied_write WHERE kind LIKE 'customer.%'"
        )
        .await,
        3
    );
    // A key is one write: used for another kind it is refused, nothing written.
    let misuse =
        customer_changes::transfer(&mut clerk, CLERK, &open_key, opened.customer_id, &new_owner)
            .await;
    assert!(misuse.is_err(), "{misuse:?}");
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer_owner_history").await,
        1
    );
}

#[tokio::test]
async fn a_modify_that_changes_nothing_writes_nothing() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let read = opened_customer(&mut supervisor, &mut clerk, BusinessModel::SystemPrepaid).await;
    let outcome = customer_changes::modify_basic_info(&mut clerk, CLERK, &key(), &read, &read.info)
        .await
        .unwrap();
    assert_eq!(outcome, ModifyOutcome::Unchanged);
    let now = customer_changes::customer_basics(&**clerk, read.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.version, read.version, "no version taken");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = 'customer.modify'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM applied_write WHERE kind LIKE 'customer.%'"
        )
        .await,
        1,
        "the opening's"
    );
}

#[tokio::test]
async fn a_write_whose_reply_is_lost_after_the_commit_answers_its_outcome_when_sent_again() {
    let Desks {
        db,
        owner,
        mut supervisor,
        ..
    } = with_fixture().await;
    let customer_type = add_type(&mut supervisor, "Residents", BusinessModel::SystemPrepaid).await;
    let meter = add_meter(&mut supervisor, "CUT-1", PLAIN_METERS).await;
    let cutter = CommitCutter::start(&db);
    let pool = pool_from_conn_str(&db.as_operator(&cutter.conn_str, "clerk"), 1).unwrap();
    let info = person("张伟", "13800138000");
    let opening = Opening {
        customer_type_id: customer_type,
        info: &info,
        meter_id: meter,
    };

    let open_key = key();
    cutter.arm();
    let mut desk = pool.get().await.unwrap();
    lost_after_commit(customer_changes::open_account(&mut desk, CLERK, &open_key, &opening).await);
    drop(desk);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer").await,
        1,
        "committed"
    );
    let mut desk = pool.get().await.expect("the pool reconnects");
    let again = customer_changes::open_account(&mut desk, CLERK, &open_key, &opening)
        .await
        .unwrap();
    let OpenOutcome::Opened(opened) = again else {
        panic!("the re-send answers the account it opened: {again:?}");
    };
    let stored = owner
        .query_one(
            "SELECT c.id AS customer_id, c.customer_no, a.id AS account_id
             FROM customer c JOIN account a ON a.customer_id = c.id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(opened.customer_id, stored.get::<_, i64>("customer_id"));
    assert_eq!(
        i64::from(opened.customer_no.value()),
        stored.get::<_, i64>("customer_no")
    );
    assert_eq!(opened.account_id, stored.get::<_, i64>("account_id"));
    assert_eq!(count(&owner, "SELECT count(*) FROM customer").await, 1);

    let read = customer_changes::customer_basics(&**desk, opened.customer_id)
        .await
        .unwrap()
        .unwrap();
    let modify_key = key();
    let new_mobile = person("张伟", "13900139000");
    cutter.arm();
    lost_after_commit(
        customer_changes::modify_basic_info(&mut desk, CLERK, &modify_key, &read, &new_mobile)
            .await,
    );
    drop(desk);
    let mut desk = pool.get().await.unwrap();
    assert_eq!(
        customer_changes::modify_basic_info(&mut desk, CLERK, &modify_key, &read, &new_mobile)
            .await
            .unwrap(),
        ModifyOutcome::Saved { version: 2 },
        "its own save is no conflict"
    );

    let transfer_key = key();
    let new_owner = person("Anna Schmidt", "13700137000");
    cutter.arm();
    lost_after_commit(
        customer_changes::transfer(
            &mut desk,
            CLERK,
            &transfer_key,
            opened.customer_id,
            &new_owner,
        )
        .await,
    );
    drop(desk);
    let mut desk = pool.get().await.unwrap();
    assert_eq!(
        customer_changes::transfer(
            &mut desk,
            CLERK,
            &transfer_key,
            opened.customer_id,
            &new_owner
        )
        .await
        .unwrap(),
        TransferOutcome::Transferred {
            balance: Decimal::ZERO,
            version: 3
        }
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer_owner_history").await,
        1
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action LIKE 'customer.%'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_transfer_leaves_number_meter_card_and_balance_with_the_customer_and_dates_the_history() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let customer_type = add_type(
        &mut supervisor,
        "Card residents",
        BusinessModel::MeterPrepaid,
    )
    .await;
    let meter = add_meter(&mut supervisor, "C-1", CARD_METERS).await;
    let opened = open(&mut clerk, customer_type, meter).await;
    let customer_id = opened.customer_id;
    // A card is issued on the card rig (tests/card_flow.rs); here its row is the fixture's.
    owner
        .execute(
            "INSERT INTO card (card_no, customer_id, generation, issued_by) VALUES (4242, $1, 1, $2)",
            &[&customer_id, &CLERK],
        )
        .await
        .unwrap();
    // A balance on the card meter's account: the desk leaves one there only as a card refund's
    // credit (no deposit at the counter, sql/V121), so here it is the owner's fixture.
    deposit(&owner, opened.account_id, "31.40").await;
    let before = meterdesk::db::customers::details(&**clerk, customer_id)
        .await
        .unwrap()
        .unwrap();
    let started = chrono::Utc::now();
    let outcome = customer_changes::transfer(
        &mut clerk,
        CLERK,
        &key(),
        customer_id,
        &person("Anna Schmidt", "13700137000"),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, TransferOutcome::Transferred { .. }),
        "{outcome:?}"
    );
    let after = meterdesk::db::customers::details(&**clerk, customer_id)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(after.basic.name, "Anna Schmidt");
    assert_eq!(after.basic.customer_no, before.basic.customer_no);
    assert_eq!(
        after.basic.customer_no,
        i64::from(opened.customer_no.value())
    );
    assert_eq!(after.meter, before.meter);
    assert_eq!(after.meter.meter_no, "C-1");
    let card = after
        .card
        .as_ref()
        .expect("the card stays with the customer");
    assert_eq!((card.card_no, card.state.as_str()), (4242, "active"));
    assert_eq!(after.account.balance, "31.40".parse::<Money>().unwrap());
    assert_eq!(after.account.balance, before.account.balance);
    assert_eq!(
        after.account.recent_transactions, before.account.recent_transactions,
        "the account's movements stay: no money moved"
    );

    let [owner] = after.owner_history.as_slice() else {
        panic!("one previous owner: {:?}", after.owner_history)
    };
    assert_eq!(owner.transferred_by, "clerk", "the clerk's full name");
    let elapsed = owner.transferred_at - started;
    assert!(
        elapsed >= -chrono::Duration::seconds(5) && elapsed <= chrono::Duration::seconds(60),
        "dated at the transfer: {} vs {started}",
        owner.transferred_at
    );
    let kept: Vec<(&str, &str)> = owner
        .kept
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("address", "建国路88号"),
            ("household_size", "3"),
            ("mobile", "13800138000"),
            ("name", "张伟"),
        ],
        "the previous owner as kept, blank fields left out"
    );
}

/// `answer` is the database's refusal for want of a permission.
fn refused<T: std::fmt::Debug>(what: &str, answer: Result<T, meterdesk::db::DbError>) {
    match answer {
        Err(error) => assert_eq!(
            error.sql_state(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{what}: {error}"
        ),
        Ok(outcome) => panic!("{what} was done: {outcome:?}"),
    }
}

#[tokio::test]
async fn the_clerks_connection_is_refused_reference_data_and_the_administrators_customers() {
    let Desks {
        db,
        owner,
        mut supervisor,
        mut clerk,
    } = with_fixture().await;
    let residents = add_type(&mut supervisor, "Residents", BusinessModel::SystemPrepaid).await;
    let meter = add_meter(&mut supervisor, "KEEP-1", PLAIN_METERS).await;
    let kept = MeterNo::parse("KEEP-1").unwrap();
    let fields = MeterFields {
        meter_type_id: PLAIN_METERS,
        initial_electronic_reading: Decimal::ONE,
        initial_mechanical_reading: Decimal::ONE,
    };
    let meter_type = MeterTypeFields {
        name: "Remote DN25",
        payment_model: PaymentModel::Postpayment,
        caliber: "DN25",
        manufacturer: "Ningbo",
    };
    let csv = parse_meter_csv(
        &format!("{METER_CSV_TEMPLATE}NEW-1,Plain DN20,0,0\n"),
        &type_names(&clerk).await,
    );
    let written = async || {
        count(
            &owner,
            "SELECT (SELECT count(*) FROM meter_type) + (SELECT count(*) FROM meter)
                  + (SELECT count(*) FROM customer_type) + (SELECT count(*) FROM customer)
                  + (SELECT count(*) FROM applied_write) + (SELECT count(*) FROM audit_log)
                  + (SELECT sum(initial_electronic_reading)::bigint FROM meter) AS count",
        )
        .await
    };
    let before = written().await;

    refused(
        "a clerk adding a meter type",
        meters::save_meter_type(&mut clerk, CLERK, &key(), None, meter_type).await,
    );
    let read = listed_type(&clerk, PLAIN_METERS).await;
    refused(
        "a clerk changing a meter type",
        meters::save_meter_type(&mut clerk, CLERK, &key(), Some(&read), meter_type).await,
    );
    refused(
        "a clerk adding a meter",
        meters::add_meter(
            &mut clerk,
            CLERK,
            &key(),
            &MeterNo::parse("NEW-2").unwrap(),
            &fields,
        )
        .await,
    );
    refused(
        "a clerk changing a meter",
        meters::modify_meter(
            &mut clerk,
            CLERK,
            &key(),
            &kept,
            &added_meter(PLAIN_METERS),
            &fields,
        )
        .await,
    );
    refused(
        "a clerk deleting a meter",
        meters::delete_meter(&mut clerk, CLERK, &key(), &kept, &fields).await,
    );
    refused(
        "a clerk importing meters",
        meters::import_meters(&mut clerk, CLERK, &key(), &csv, ImportChoice::GoodRows).await,
    );
    refused(
        "a clerk adding a customer type",
        customer_types::add_customer_type(
            &mut clerk,
            CLERK,
            &key(),
            &type_input("Shops", BusinessModel::Postpaid),
        )
        .await,
    );
    refused(
        "a clerk changing a customer type",
        customer_types::modify_customer_type(
            &mut clerk,
            CLERK,
            &key(),
            residents,
            &type_input("Households", BusinessModel::SystemPrepaid),
            &type_input("Households", BusinessModel::SystemPrepaid),
        )
        .await,
    );
    let households = type_input("Households", BusinessModel::SystemPrepaid);
    refused(
        "a clerk deleting a customer type",
        customer_types::delete_customer_type(&mut clerk, CLERK, &key(), residents, &households)
            .await,
    );
    // Told at the desk in words, in its language, not as the database's permission code.
    let error =
        customer_types::delete_customer_type(&mut clerk, CLERK, &key(), residents, &households)
            .await
            .unwrap_err();
    let Failure::Error(problem) = Failure::from(error) else {
        panic!("a refusal, not a lost connection")
    };
    assert_eq!(
        problem.text(Lang::En),
        "Your roles do not allow you to maintain customer types."
    );
    assert_eq!(problem.text(Lang::Zh), "您的角色无权维护用户类型。");
    assert_eq!(
        written().await,
        before,
        "nothing the clerk was refused is written"
    );

    // The administrator maintains operators, not customers.
    let mut admin = db.pool_of("admin").get().await.unwrap();
    let info = person("张伟", "13800138000");
    let opening = Opening {
        customer_type_id: residents,
        info: &info,
        meter_id: meter,
    };
    refused(
        "an administrator opening an account",
        customer_changes::open_account(&mut admin, ADMINISTRATOR, &key(), &opening).await,
    );
    assert_eq!(written().await, before);
    let opened = open(&mut clerk, residents, meter).await;
    let read = customer_changes::customer_basics(&**admin, opened.customer_id)
        .await
        .unwrap()
        .expect("the administrator sees the customer");
    let new_owner = person("Anna Schmidt", "13700137000");
    refused(
        "an administrator modifying a customer",
        customer_changes::modify_basic_info(&mut admin, ADMINISTRATOR, &key(), &read, &new_owner)
            .await,
    );
    refused(
        "an administrator transferring a customer",
        customer_changes::transfer(
            &mut admin,
            ADMINISTRATOR,
            &key(),
            opened.customer_id,
            &new_owner,
        )
        .await,
    );
    let now = customer_changes::customer_basics(&**owner, opened.customer_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, read, "the customer is as the clerk opened it");
}

/// `person` with an identity number.
fn holder(name: &str, id: Option<&str>) -> BasicInfo {
    let BasicInfo::Personal(info) = person(name, "13800138000") else {
        unreachable!("person is personal");
    };
    BasicInfo::Personal(PersonalInfo {
        id_document_no: id.map(str::to_owned),
        ..info
    })
}

/// The clerk's modify of `read` to `info`, answered.
async fn modify(desk: &mut Object, read: &CustomerBasics, info: &BasicInfo) -> ModifyOutcome {
    customer_changes::modify_basic_info(desk, CLERK, &key(), read, info)
        .await
        .unwrap()
}

/// The customer's basic information as stored now.
async fn stored(desk: &Object, customer_id: i64) -> CustomerBasics {
    customer_changes::customer_basics(&***desk, customer_id)
        .await
        .unwrap()
        .unwrap()
}

/// s43-f's "Found, not fixed": a modify changed the holder's name and identity number at once,
/// a transfer without its owner history, its waits for bills, a debt or a card operation. The
/// database refuses it as a modify (sql/V230); the one-field correction, the number filled in
/// where there was none, and the transfer stay possible.
#[tokio::test]
async fn a_new_name_with_a_new_identity_number_is_refused_as_a_modify_and_made_by_a_transfer() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let read = opened_customer(&mut supervisor, &mut clerk, BusinessModel::SystemPrepaid).await;
    // The number filled in where there was none, with a corrected name: a correction.
    let filled = holder("张玮", Some("110101199003078515"));
    assert_eq!(
        modify(&mut clerk, &read, &filled).await,
        ModifyOutcome::Saved { version: 2 }
    );
    let read = stored(&clerk, read.customer_id).await;
    let modified = count(
        &owner,
        "SELECT count(*) FROM audit_log WHERE action = 'customer.modify'",
    )
    .await;

    // Another name and another number: another holder.
    let other = holder("李娜", Some("110101198001010053"));
    assert_eq!(
        modify(&mut clerk, &read, &other).await,
        ModifyOutcome::ChangeOfOwner {
            nature: Nature::Personal,
            in_steps: false,
        }
    );
    // The number taken away with the name is no way round it.
    assert_eq!(
        modify(&mut clerk, &read, &holder("李娜", None)).await,
        ModifyOutcome::ChangeOfOwner {
            nature: Nature::Personal,
            in_steps: false,
        }
    );
    assert_eq!(
        stored(&clerk, read.customer_id).await,
        read,
        "nothing written"
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = 'customer.modify'"
        )
        .await,
        modified
    );

    // The transfer makes it, with the owner history.
    let TransferOutcome::Transferred { version, .. } =
        customer_changes::transfer_from(&mut clerk, CLERK, &key(), &read, &other)
            .await
            .unwrap()
    else {
        panic!("transferred");
    };
    assert_eq!(version, 3);
    assert_eq!(stored(&clerk, read.customer_id).await.info, other);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM customer_owner_history").await,
        1
    );

    // One field at a time is a correction.
    let read = stored(&clerk, read.customer_id).await;
    let renamed = holder("李娜娜", Some("110101198001010053"));
    assert_eq!(
        modify(&mut clerk, &read, &renamed).await,
        ModifyOutcome::Saved { version: 4 }
    );
}

/// s44-b's "Found, not fixed": two corrections of one day changed the owner in steps — the
/// name by one modify, the identity number by the next (or the number cleared, then the name).
/// The second is refused as a change of owner (sql/V263, `ChangeOfOwner { in_steps }`), nothing
/// written, whichever clerk made the first; a modify of another field, a number filled in where
/// there was none, the day after, and after a transfer are corrections as before.
#[tokio::test]
async fn a_name_and_a_number_changed_by_two_modifies_of_a_day_are_a_change_of_owner() {
    let Desks {
        owner,
        mut supervisor,
        mut clerk,
        ..
    } = with_fixture().await;
    let read = opened_customer(&mut supervisor, &mut clerk, BusinessModel::SystemPrepaid).await;
    let in_steps = ModifyOutcome::ChangeOfOwner {
        nature: Nature::Personal,
        in_steps: true,
    };
    let modifies = "SELECT count(*) FROM audit_log WHERE action = 'customer.modify'";
    // The number filled in where there was none: a correction, which starts nothing.
    let filled = holder("张伟", Some("110101199003078515"));
    assert!(matches!(
        modify(&mut clerk, &read, &filled).await,
        ModifyOutcome::Saved { .. }
    ));
    let read = stored(&clerk, read.customer_id).await;
    let renamed = holder("张玮", Some("110101199003078515"));
    assert!(matches!(
        modify(&mut clerk, &read, &renamed).await,
        ModifyOutcome::Saved { .. }
    ));
    // The name changed today (by the supervisor too): the number now is the second step.
    let read = stored(&clerk, read.customer_id).await;
    let before = count(&owner, modifies).await;
    let renumbered = holder("张玮", Some("110101198001010053"));
    for desk in [&mut clerk, &mut supervisor] {
        assert_eq!(modify(desk, &read, &renumbered).await, in_steps);
    }
    // The number cleared is no way round it; the mobile alone is a correction.
    assert_eq!(
        modify(&mut clerk, &read, &holder("张玮", None)).await,
        in_steps
    );
    assert_eq!(
        stored(&clerk, read.customer_id).await,
        read,
        "nothing written"
    );
    assert_eq!(count(&owner, modifies).await, before);
    let BasicInfo::Personal(mut info) = renamed.clone() else {
        unreachable!()
    };
    info.mobile = "13900001111".into();
    assert!(matches!(
        modify(&mut clerk, &read, &BasicInfo::Personal(info)).await,
        ModifyOutcome::Saved { .. }
    ));

    // The day after, the number is a correction.
    owner
        .batch_execute(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_is_append_only;
             UPDATE audit_log SET at = at - interval '1 day' WHERE action = 'customer.modify';
             ALTER TABLE audit_log ENABLE TRIGGER audit_log_is_append_only;",
        )
        .await
        .unwrap();
    let read = stored(&clerk, read.customer_id).await;
    let renumbered = holder("张玮", Some("110101198001010053"));
    assert!(matches!(
        modify(&mut clerk, &read, &renumbered).await,
        ModifyOutcome::Saved { .. }
    ));
    // The other way round: the number changed today, the name now.
    let read = stored(&clerk, read.customer_id).await;
    assert_eq!(
        modify(
            &mut clerk,
            &read,
            &holder("李娜", Some("110101198001010053"))
        )
        .await,
        in_steps
    );
    // A transfer after it starts the day afresh: the name then alone is a correction.
    let other = holder("李娜", Some("440300199001011238"));
    let TransferOutcome::Transferred { .. } =
        customer_changes::transfer_from(&mut clerk, CLERK, &key(), &read, &other)
            .await
            .unwrap()
    else {
        panic!("transferred");
    };
    let read = stored(&clerk, read.customer_id).await;
    assert!(matches!(
        modify(
            &mut clerk,
            &read,
            &holder("李娜娜", Some("440300199001011238"))
        )
        .await,
        ModifyOutcome::Saved { .. }
    ));
}

/// The desk's rule (`BasicInfo::changes_owner`) and the database's (`customer_owner_changes`,
/// sql/V230) answer alike, over every nature and the cases of a number filled, changed,
/// cleared or kept.
#[tokio::test]
async fn the_desk_and_the_database_agree_on_a_change_of_owner() {
    let Desks { owner, .. } = with_fixture().await;
    let enterprise = |name: &str, code: Option<&str>| {
        BasicInfo::Enterprise(EnterpriseInfo {
            company_name: name.to_owned(),
            registration_no: code.map(str::to_owned),
            contact_person: "李娜".to_owned(),
            phone: "010-1234567".to_owned(),
            address: "建国路1号".to_owned(),
            remark: None,
        })
    };
    let statistical = |label: &str| {
        BasicInfo::Statistical(StatisticalInfo {
            label: label.to_owned(),
            location: "东区".to_owned(),
            remark: None,
        })
    };
    // The customer row's columns the rule reads.
    let columns = |info: &BasicInfo| match info {
        BasicInfo::Personal(info) => serde_json::json!({
            "nature": "personal", "name": info.name, "id_document_no": info.id_document_no,
        }),
        BasicInfo::Enterprise(info) => serde_json::json!({
            "nature": "enterprise", "name": info.company_name, "credit_code": info.registration_no,
        }),
        BasicInfo::Statistical(info) => serde_json::json!({
            "nature": "statistical", "name": info.label,
        }),
    };
    let (a, b) = (Some("110101199003078515"), Some("110101198001010053"));
    let (x, y) = (Some("91350100M000100Y43"), Some("91110000100000000X"));
    let cases = [
        (holder("张伟", a), holder("李娜", b)),
        (holder("张伟", a), holder("李娜", None)),
        (holder("张伟", a), holder("张伟", b)),
        (holder("张伟", a), holder("李娜", a)),
        (holder("张伟", None), holder("李娜", b)),
        (holder("张伟", None), holder("李娜", None)),
        (enterprise("Acme", x), enterprise("Bolt", y)),
        (enterprise("Acme", x), enterprise("Acme Ltd", x)),
        (enterprise("Acme", x), enterprise("Acme", y)),
        (enterprise("Acme", None), enterprise("Bolt", y)),
        (statistical("zone 1"), statistical("zone 2")),
    ];
    let mut changes = Vec::new();
    for (before, after) in &cases {
        let database: bool = owner
            .query_one(
                "SELECT customer_owner_changes(
                            jsonb_populate_record(NULL::customer, $1::text::jsonb),
                            jsonb_populate_record(NULL::customer, $2::text::jsonb)) AS changes",
                &[&columns(before).to_string(), &columns(after).to_string()],
            )
            .await
            .unwrap()
            .get("changes");
        assert_eq!(
            database,
            before.changes_owner(after),
            "{before:?} → {after:?}"
        );
        changes.push(database);
    }
    assert_eq!(
        changes,
        [
            true, true, false, false, false, false, true, false, false, false, false
        ]
    );
}

/// Customer type `id` as the list reads it: what a form to modify it is filled from.
async fn stored_type(client: &Object, id: i64) -> CustomerTypeInput {
    customer_types::customer_type_rows(client)
        .await
        .unwrap()
        .into_iter()
        .find(|row| row.id == id)
        .expect("the type")
        .input
}
