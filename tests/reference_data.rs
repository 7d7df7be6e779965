//! The reference-data screens' requests against a real PostgreSQL: each rule reached the way the
//! screen reaches it, through `requests::execute` with the request a screen sends (`RefCall`).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Days, NaiveDate};
use meterdesk::app::paging::PageApply;
use meterdesk::app::requests::{Services, execute, execute_reporting};
use meterdesk::app::state::{Failure, Reply, Request};
use meterdesk::db::customer_changes::{self, OpenOutcome, Opening};
use meterdesk::db::customer_types::{self, CustomerTypeInput, CustomerTypeOutcome};
use meterdesk::db::customers::PageAt;
use meterdesk::db::meters::{
    ImportChoice, MeterFields, MeterListing, MeterOutcome, MeterType, MeterTypeDeletion,
    MeterTypeOutcome,
};
use meterdesk::db::pool_from_conn_str;
use meterdesk::db::price_schemes::{SchemeFields, SchemeOutcome};
use meterdesk::domain::customer_rules::{
    AccountKind, BasicInfo, BusinessModel, CustomerTypeProblem, Nature, PaymentModel, PersonalInfo,
};
use meterdesk::domain::meter_csv::{LineError, LineProblem, MeterNo};
use meterdesk::domain::pricing::{BillingMode, SchemeError, Tier};
use meterdesk::i18n::Lang;
use meterdesk::screens::reference::customer_types::{CustomerTypeReply, CustomerTypeRequest};
use meterdesk::screens::reference::meter_import::{ImportCheck, ImportReply, ImportRequest};
use meterdesk::screens::reference::meter_types::{MeterTypeReply, MeterTypeRequest};
use meterdesk::screens::reference::meters::{MeterReply, MeterRequest};
use meterdesk::screens::reference::requests::{RefAnswer, RefCall, RefWork};
use meterdesk::screens::reference::schemes::{SchemeReply, SchemeRequest};
use rust_decimal::Decimal;
use support::commit_cutter::CommitCutter;
use support::pg::{TestDb, fresh_db, give_password};

const SUPERVISOR: i64 = 1;
const CLERK: i64 = 2;
const ADMINISTRATOR: i64 = 3;
const CARD_METERS: i64 = 1;
const PLAIN_METERS: i64 = 2;
const PREPAID_SCHEME: i64 = 1;

/// A department, a supervisor, a clerk and an administrator, a card and a plain meter type, a prepaid scheme.
const FIXTURE: &str = "
    INSERT INTO department (name) VALUES ('Hall 1');
    INSERT INTO operator (login, full_name, department_id) VALUES
        ('super', 'Supervisor One', 1),
        ('clerk', 'Clerk One', 1),
        ('admin', 'Admin One', 1);
    INSERT INTO operator_role (operator_id, role_code) VALUES
        (1, 'supervisor'), (2, 'clerk'), (3, 'administrator');
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer) VALUES
        ('Card DN15', 'prepayment', true, 'DN15', 'Acme'),
        ('Plain DN20', 'postpayment', false, 'DN20', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date,
                              accumulation_cycle_months)
        VALUES ('prepaid stepped', 'prepaid', 'stepped', 0.09, '2024-01-01', 12);
    INSERT INTO price_version (price_scheme_id, effective_from) VALUES (1, '2024-01-01');
    INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price) VALUES
        (1, 1, 50, 1), (1, 2, 100, 2), (1, 3, NULL, 3);
";

async fn with_fixture() -> TestDb {
    let db = fresh_db().await;
    let client = db.pool.get().await.expect("connect to the test database");
    client
        .batch_execute(FIXTURE)
        .await
        .expect("load the fixture");
    for operator in [SUPERVISOR, CLERK, ADMINISTRATOR] {
        give_password(&client, operator).await;
    }
    db
}

/// The desk of `operator`, signed in as them: the database decides what they may change.
fn desk_of(db: &TestDb, operator: i64) -> Services {
    let login = match operator {
        SUPERVISOR => "super",
        CLERK => "clerk",
        ADMINISTRATOR => "admin",
        other => panic!("no operator {other} in the fixture"),
    };
    support::services(&db.pool_of(login))
}

/// `request` as a screen sends it on behalf of the operator `operator_id`.
fn on_behalf<W: RefWork>(operator_id: i64, work: W) -> Request {
    Request(Box::new(RefCall { operator_id, work }))
}

/// The reference reply in an answer, if it is one.
fn ref_reply<R: 'static>(answer: &Result<Reply, Failure>) -> Option<&R> {
    match answer {
        Ok(Reply(reply)) => match reply.of::<RefAnswer<R>>() {
            Some(RefAnswer::Done(reply)) => Some(reply),
            _ => None,
        },
        _ => None,
    }
}

async fn ask<W: RefWork>(db: &TestDb, work: W) -> W::Reply {
    let answer = execute(&desk_of(db, SUPERVISOR), on_behalf(SUPERVISOR, work)).await;
    match ref_reply::<W::Reply>(&answer) {
        Some(reply) => reply.clone(),
        None => panic!("{answer:?}"),
    }
}

/// `work` sent twice as it is (the same idempotency key), with both answers.
async fn twice<W: RefWork>(db: &TestDb, work: W) -> [W::Reply; 2] {
    [ask(db, work.clone()).await, ask(db, work).await]
}

/// A fresh idempotency key, as the app makes one for each confirmed change.
fn key() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("test-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn fields(meter_type_id: i64) -> MeterFields {
    MeterFields {
        meter_type_id,
        initial_electronic_reading: dec("1.5"),
        initial_mechanical_reading: Decimal::ZERO,
    }
}

async fn add_meter(db: &TestDb, number: &str, meter_type_id: i64) {
    let reply = ask(
        db,
        MeterRequest::Save {
            idempotency_key: key(),
            read: None,
            meter_no: MeterNo::parse(number).unwrap(),
            fields: fields(meter_type_id),
        },
    )
    .await;
    assert_eq!(reply, MeterReply::Saved(MeterOutcome::Done));
}

fn card_type(name: &str) -> CustomerTypeInput {
    CustomerTypeInput {
        name: name.to_owned(),
        nature: Nature::Personal,
        business_model: BusinessModel::MeterPrepaid,
        meter_type_ids: vec![CARD_METERS],
        counts_water_usage: true,
        charges: true,
        price_scheme_id: Some(PREPAID_SCHEME),
        payment_methods: vec!["cash".to_owned()],
    }
}

/// A new card-meter customer type named `name`, as the supervisor's desk adds it.
async fn add_card_type(db: &TestDb, name: &str) -> CustomerTypeReply {
    ask(
        db,
        CustomerTypeRequest::Save {
            idempotency_key: key(),
            modifying: None,
            input: card_type(name),
        },
    )
    .await
}

/// A customer on meter `number` of a new card-meter customer type; returns the type's id.
async fn install(db: &TestDb, number: &str) -> i64 {
    let CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { id: type_id }) = ask(
        db,
        CustomerTypeRequest::Save {
            idempotency_key: key(),
            modifying: None,
            input: card_type(&format!("Residents {number}")),
        },
    )
    .await
    else {
        panic!("the type is saved")
    };
    add_meter(db, number, CARD_METERS).await;
    let mut client = db.pool.get().await.unwrap();
    let meter_id: i64 = client
        .query_one("SELECT id FROM meter WHERE meter_no = $1", &[&number])
        .await
        .unwrap()
        .get("id");
    let info = BasicInfo::Personal(PersonalInfo {
        name: "张伟".to_owned(),
        id_document_no: None,
        mobile: "13800138000".to_owned(),
        address: "建国路88号".to_owned(),
        household_size: None,
        email: None,
        remark: None,
    });
    let opening = Opening {
        customer_type_id: type_id,
        info: &info,
        meter_id,
    };
    let outcome = customer_changes::open_account(
        &mut client,
        SUPERVISOR,
        &format!("install-{number}"),
        &opening,
    )
    .await
    .unwrap();
    assert!(matches!(outcome, OpenOutcome::Opened(_)), "{outcome:?}");
    type_id
}

/// Meter type `id` as the meter type list shows it.
async fn listed_meter_type(db: &TestDb, id: i64) -> MeterType {
    let MeterTypeReply::Rows(rows) = ask(db, MeterTypeRequest::List).await else {
        panic!("rows")
    };
    let row = rows.into_iter().find(|row| row.meter_type.id == id);
    row.expect("listed").meter_type
}

/// Meter `number`'s type and initial readings, as the uninstalled meters' list shows them.
async fn listed_meter(db: &TestDb, number: &str) -> MeterFields {
    let page = MeterRequest::Page {
        listing: MeterListing::Uninstalled,
        prefix: number.to_owned(),
        at: PageAt::First,
        size: 10,
        apply: PageApply::Search,
    };
    let MeterReply::Page(page) = ask(db, page).await else {
        panic!("a page")
    };
    let row = page.rows.iter().find(|row| row.meter.meter_no == number);
    row.expect("listed").meter.fields()
}

/// Scheme `id`'s own fields, as the scheme list shows them.
async fn listed_scheme(db: &TestDb, id: i64) -> SchemeFields {
    let SchemeReply::Rows(rows) = ask(db, SchemeRequest::List).await else {
        panic!("rows")
    };
    let row = rows.into_iter().find(|row| row.id == id);
    row.expect("listed").fields
}

/// Customer type `id` as the customer type list shows it.
async fn listed_customer_type(db: &TestDb, id: i64) -> CustomerTypeInput {
    let CustomerTypeReply::Rows { rows, .. } = ask(db, CustomerTypeRequest::List).await else {
        panic!("rows")
    };
    let row = rows.into_iter().find(|row| row.id == id);
    row.expect("listed").input
}

#[tokio::test]
async fn only_the_roles_that_maintain_reference_data_change_it() {
    let db = with_fixture().await;
    let add = MeterRequest::Save {
        idempotency_key: key(),
        read: None,
        meter_no: MeterNo::parse("N1").unwrap(),
        fields: fields(CARD_METERS),
    };
    for operator in [CLERK, ADMINISTRATOR] {
        let reply = execute(&desk_of(&db, operator), on_behalf(operator, add.clone())).await;
        assert_eq!(
            reply,
            Ok(Reply::screen(RefAnswer::<MeterReply>::NotPermitted(
                "meter.maintain"
            ))),
            "operator {operator}"
        );
        let list = execute(
            &desk_of(&db, operator),
            on_behalf(operator, SchemeRequest::List),
        )
        .await;
        assert!(
            matches!(ref_reply::<SchemeReply>(&list), Some(SchemeReply::Rows(_))),
            "viewing is free"
        );
    }
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 0);
    assert_eq!(ask(&db, add).await, MeterReply::Saved(MeterOutcome::Done));
}

#[tokio::test]
async fn a_meter_type_in_use_stays_and_an_unused_one_goes() {
    let db = with_fixture().await;
    add_meter(&db, "M1", PLAIN_METERS).await;
    assert_eq!(
        ask(
            &db,
            MeterTypeRequest::Delete {
                idempotency_key: key(),
                read: listed_meter_type(&db, PLAIN_METERS).await,
            }
        )
        .await,
        MeterTypeReply::Deleted(MeterTypeDeletion::InUse {
            meters: 1,
            customer_types: 0
        })
    );
    let MeterTypeReply::Saved(saved) = ask(
        &db,
        MeterTypeRequest::Save {
            idempotency_key: key(),
            modifying: None,
            name: "Spare DN25".into(),
            payment_model: PaymentModel::Postpayment,
            caliber: "DN25".into(),
            manufacturer: "Acme".into(),
        },
    )
    .await
    else {
        panic!("saved")
    };
    let meterdesk::db::meters::MeterTypeOutcome::Saved { id } = saved else {
        panic!("{saved:?}")
    };
    let MeterTypeReply::Rows(rows) = ask(&db, MeterTypeRequest::List).await else {
        panic!("the list")
    };
    let names: Vec<(&str, i64)> = rows
        .iter()
        .map(|row| (row.meter_type.name.as_str(), row.meters))
        .collect();
    assert_eq!(
        names,
        [("Card DN15", 0), ("Plain DN20", 1), ("Spare DN25", 0)]
    );
    let spare = listed_meter_type(&db, id).await;
    assert_eq!(
        ask(
            &db,
            MeterTypeRequest::Delete {
                idempotency_key: key(),
                read: spare.clone(),
            }
        )
        .await,
        MeterTypeReply::Deleted(MeterTypeDeletion::Deleted)
    );
    assert_eq!(
        ask(
            &db,
            MeterTypeRequest::Delete {
                idempotency_key: key(),
                read: spare.clone(),
            }
        )
        .await,
        MeterTypeReply::Deleted(MeterTypeDeletion::NotFound)
    );
}

#[tokio::test]
async fn an_installed_meter_is_read_only_and_shows_its_customer() {
    let db = with_fixture().await;
    install(&db, "C-100").await;
    add_meter(&db, "C-101", CARD_METERS).await;
    let meter_no = MeterNo::parse("c-100").unwrap();
    let installed = MeterReply::Saved(MeterOutcome::NotUninstalled {
        status: "installed".into(),
    });
    assert_eq!(
        ask(
            &db,
            MeterRequest::Save {
                idempotency_key: key(),
                read: Some(fields(CARD_METERS)),
                meter_no: meter_no.clone(),
                fields: fields(CARD_METERS),
            },
        )
        .await,
        installed
    );
    assert_eq!(
        ask(
            &db,
            MeterRequest::Delete {
                idempotency_key: key(),
                meter_no,
                read: fields(CARD_METERS),
            }
        )
        .await,
        MeterReply::Deleted(MeterOutcome::NotUninstalled {
            status: "installed".into()
        })
    );
    let page = |listing| MeterRequest::Page {
        listing,
        prefix: "c-".into(),
        at: PageAt::First,
        size: 10,
        apply: PageApply::Search,
    };
    let MeterReply::Page(placed) = ask(&db, page(MeterListing::Placed)).await else {
        panic!("a page")
    };
    assert_eq!(placed.rows.len(), 1);
    let row = &placed.rows[0];
    assert_eq!(row.meter.meter_no, "C-100");
    assert_eq!(row.status, "installed");
    let (customer_no, name) = row.customer.clone().expect("its customer");
    assert!(customer_no >= 10_000_000);
    assert_eq!(name, "张伟");
    let MeterReply::Page(free) = ask(&db, page(MeterListing::Uninstalled)).await else {
        panic!("a page")
    };
    let numbers: Vec<&str> = free
        .rows
        .iter()
        .map(|r| r.meter.meter_no.as_str())
        .collect();
    assert_eq!(numbers, ["C-101"]);
    // The uninstalled one changes and goes.
    let meter_no = MeterNo::parse("C-101").unwrap();
    assert_eq!(
        ask(
            &db,
            MeterRequest::Save {
                idempotency_key: key(),
                read: Some(fields(CARD_METERS)),
                meter_no: meter_no.clone(),
                fields: fields(CARD_METERS),
            },
        )
        .await,
        MeterReply::Saved(MeterOutcome::Done)
    );
    assert_eq!(
        ask(
            &db,
            MeterRequest::Delete {
                idempotency_key: key(),
                meter_no,
                read: fields(CARD_METERS),
            }
        )
        .await,
        MeterReply::Deleted(MeterOutcome::Done)
    );
}

#[tokio::test]
async fn the_meter_list_pages_by_number_both_ways() {
    let db = with_fixture().await;
    {
        let client = db.pool.get().await.unwrap();
        client
            .batch_execute(
                "INSERT INTO meter (meter_no, meter_type_id)
                 SELECT 'P' || lpad(n::text, 5, '0'), 2 FROM generate_series(1, 25) AS n;
                 INSERT INTO meter (meter_no, meter_type_id) VALUES ('Q1', 2), ('P-1', 2);",
            )
            .await
            .unwrap();
    }
    let fetch = |at| MeterRequest::Page {
        listing: MeterListing::Uninstalled,
        prefix: "p0".into(),
        at,
        size: 10,
        apply: PageApply::Search,
    };
    let numbers = |reply: MeterReply| match reply {
        MeterReply::Page(page) => (
            page.rows
                .iter()
                .map(|r| r.meter.meter_no.clone())
                .collect::<Vec<_>>(),
            page.more_before,
            page.more_after,
        ),
        other => panic!("{other:?}"),
    };
    let (first, before, after) = numbers(ask(&db, fetch(PageAt::First)).await);
    assert_eq!(first.first().map(String::as_str), Some("P00001"));
    assert_eq!(first.len(), 10);
    assert!(!before && after);
    let (second, before, _) = numbers(ask(&db, fetch(PageAt::After(first[9].clone()))).await);
    assert_eq!(second[0], "P00011");
    assert!(before);
    let (last, _, after) = numbers(ask(&db, fetch(PageAt::Last)).await);
    assert_eq!(last.last().map(String::as_str), Some("P00025"));
    assert!(!after);
    let (back, _, _) = numbers(ask(&db, fetch(PageAt::Before(second[0].clone()))).await);
    assert_eq!(back, first);
    let (from, before, _) = numbers(ask(&db, fetch(PageAt::From("P00005".into()))).await);
    assert_eq!(from[0], "P00005");
    assert!(before, "rows before the cursor are known");
    let (from, before, _) = numbers(ask(&db, fetch(PageAt::From("P00001".into()))).await);
    assert_eq!(from, first);
    assert!(!before, "nothing lies before the first meter");
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_bytes(bytes: &[u8]) -> TempFile {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("meterdesk-import-{}-{n}.csv", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    TempFile(path)
}

fn write_file(text: &str) -> TempFile {
    write_bytes(text.as_bytes())
}

async fn check(db: &TestDb, path: &str) -> ImportCheck {
    match ask(db, ImportRequest::Check { path: path.into() }).await {
        ImportReply::Checked(Ok(check)) => check,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_import_reports_every_bad_line_and_imports_the_good_rows() {
    let db = with_fixture().await;
    add_meter(&db, "A3", CARD_METERS).await;
    let file = write_file(
        "meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n\
         A1,Card DN15,0,0\n\
         A2,plain dn20,1.5,\n\
         A3,Card DN15,0,0\n\
         a b,Card DN15,0,0\n\
         A4,Gold DN99,-1,0\n\
         A5,Card DN15,0\n\
         A6,Card DN15,0,0\n\
         A6,Card DN15,0,0\n",
    );
    let checked = check(&db, file.path().to_str().unwrap()).await;
    assert_eq!(checked.good, 2, "A1 and A2; A3 is in the database");
    let lines: Vec<(usize, &LineProblem)> = checked
        .errors
        .iter()
        .map(|e| (e.line, &e.problem))
        .collect();
    assert!(matches!(lines[0], (4, LineProblem::AlreadyInDatabase(n)) if n == "A3"));
    assert!(matches!(lines[1], (5, LineProblem::MeterNo(_))));
    assert!(matches!(lines[2], (6, LineProblem::UnknownMeterType(n)) if n == "Gold DN99"));
    assert!(matches!(lines[3], (6, LineProblem::Reading { .. })));
    assert!(matches!(
        lines[4],
        (7, LineProblem::ColumnCount { found: 3 })
    ));
    assert!(matches!(lines[5], (8, LineProblem::DuplicateInFile { .. })));
    assert!(matches!(lines[6], (9, LineProblem::DuplicateInFile { .. })));
    assert_eq!(lines.len(), 7);
    // "Import nothing" sends nothing: the database is as it was.
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 1);

    let reports = Mutex::new(Vec::new());
    let reply = execute_reporting(
        &desk_of(&db, SUPERVISOR),
        on_behalf(
            SUPERVISOR,
            ImportRequest::Import {
                idempotency_key: key(),
                csv: Arc::clone(&checked.csv),
                choice: ImportChoice::GoodRows,
            },
        ),
        &|done, total| reports.lock().unwrap().push((done, total)),
    )
    .await;
    let Some(ImportReply::Imported(report)) = ref_reply::<ImportReply>(&reply) else {
        panic!("{reply:?}")
    };
    assert_eq!(report.imported, 2);
    assert_eq!(report.errors.len(), 7);
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 3);
    let reports = reports.into_inner().unwrap();
    assert_eq!(reports.first(), Some(&(0, 3)), "rows sent, A3 among them");
    assert_eq!(reports.last(), Some(&(3, 3)));

    let missing = ask(
        &db,
        ImportRequest::Check {
            path: "/nonexistent/meters.csv".into(),
        },
    )
    .await;
    let ImportReply::Checked(Err(unreadable)) = missing else {
        panic!("a missing file is unreadable: {missing:?}");
    };
    assert_eq!(
        unreadable.text(Lang::En),
        "/nonexistent/meters.csv: there is no such file or folder"
    );
    // A byte that is not UTF-8 is the problem of its line, named; the other lines are read.
    let latin1 = write_bytes(
        b"meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n\
          C1,Card DN15,0,0\nC2,Card DN15 Stra\xdfe,0,0\n",
    );
    let checked = check(&db, latin1.path().to_str().unwrap()).await;
    assert_eq!(checked.good, 1);
    assert_eq!(
        checked.errors,
        [LineError {
            line: 3,
            problem: LineProblem::NotUtf8
        }]
    );
    // The problems list written to a file (over the file just checked: a temporary one).
    let written = ask(
        &db,
        ImportRequest::WriteProblems {
            path: latin1.path().to_str().unwrap().into(),
            csv: "line,problem\r\n3,not UTF-8\r\n".into(),
        },
    )
    .await;
    assert_eq!(written, ImportReply::ProblemsWritten(Ok(())));
    assert_eq!(
        std::fs::read_to_string(latin1.path()).unwrap(),
        "line,problem\r\n3,not UTF-8\r\n"
    );
}

#[tokio::test]
async fn a_clean_file_goes_in_whole_or_not_at_all() {
    let db = with_fixture().await;
    let file = write_file(
        "meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n\
         B1,Card DN15,0,0\nB2,Card DN15,0,0\n",
    );
    let checked = check(&db, file.path().to_str().unwrap()).await;
    assert!(checked.errors.is_empty());
    // Someone adds B2 between the check and the import: nothing of the file goes in.
    add_meter(&db, "B2", CARD_METERS).await;
    let ImportReply::Imported(report) = ask(
        &db,
        ImportRequest::Import {
            idempotency_key: key(),
            csv: checked.csv,
            choice: ImportChoice::AllOrNothing,
        },
    )
    .await
    else {
        panic!("a report")
    };
    assert_eq!(report.imported, 0);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].line, 3);
    assert_eq!(
        db.count("SELECT count(*) FROM meter").await,
        1,
        "only B2, added by hand"
    );
}

/// 100 000 meters through the import dialog, with progress as the rows go, then paged by the
/// list at any position. Times are printed, never asserted (a loaded machine is no verdict).
#[tokio::test]
async fn importing_100000_meters_through_the_dialog_pages_them_all() {
    let db = with_fixture().await;
    let mut text =
        String::from("meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n");
    for n in 0..100_000 {
        text.push_str(&format!("X{n:07},Plain DN20,{}.5,0\n", n % 50));
    }
    let file = write_file(&text);
    let started = Instant::now();
    let checked = check(&db, file.path().to_str().unwrap()).await;
    let checked_in = started.elapsed();
    assert_eq!(checked.csv.rows.len(), 100_000);
    let reports = Mutex::new(0u32);
    let reply = execute_reporting(
        &desk_of(&db, SUPERVISOR),
        on_behalf(
            SUPERVISOR,
            ImportRequest::Import {
                idempotency_key: key(),
                csv: checked.csv,
                choice: ImportChoice::AllOrNothing,
            },
        ),
        &|_, _| *reports.lock().unwrap() += 1,
    )
    .await;
    let total = started.elapsed();
    let Some(ImportReply::Imported(report)) = ref_reply::<ImportReply>(&reply) else {
        panic!("{reply:?}")
    };
    assert_eq!(report.imported, 100_000);
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 100_000);
    let reports = reports.into_inner().unwrap();
    eprintln!(
        "100 000 meters: read and checked in {checked_in:?}, imported in {:?}, {reports} progress messages",
        total - checked_in
    );
    assert!(
        reports >= 10,
        "progress is reported as the rows go: {reports}"
    );
    // The list pages through them by index, at any position.
    for (prefix, at) in [
        ("", PageAt::First),
        ("", PageAt::Last),
        ("x00512", PageAt::First),
        ("", PageAt::After("X0050000".to_owned())),
    ] {
        let started = Instant::now();
        let MeterReply::Page(page) = ask(
            &db,
            MeterRequest::Page {
                listing: MeterListing::Uninstalled,
                prefix: prefix.into(),
                at: at.clone(),
                size: 19,
                apply: PageApply::Search,
            },
        )
        .await
        else {
            panic!("a page")
        };
        let took = started.elapsed();
        eprintln!("meter list page {prefix:?} {at:?}: {took:?}");
        assert!(!page.rows.is_empty());
    }
}

/// s44-e, by hand: two supervisors' desks modified one customer type; B's form, read before
/// A's save, put back everything A had changed, silently ("Saved"). A save
/// from a form read before another desk's is refused and changes nothing; read again, it saves.
#[tokio::test]
async fn a_customer_type_saved_from_a_form_read_before_another_desks_save_is_refused() {
    let db = with_fixture().await;
    let type_id = install(&db, "E1").await;
    let read = card_type("Residents E1");
    let save = |read: &CustomerTypeInput, input: CustomerTypeInput| CustomerTypeRequest::Save {
        idempotency_key: key(),
        modifying: Some((type_id, read.clone())),
        input,
    };
    // Desk A renames the type; desk B, its form read before, renames it otherwise.
    let mut a = read.clone();
    a.name = "Residents E1 (A)".into();
    assert!(matches!(
        ask(&db, save(&read, a.clone())).await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { .. })
    ));
    let mut b = read.clone();
    b.name = "Residents E1 renamed".into();
    assert_eq!(
        ask(&db, save(&read, b.clone())).await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Changed)
    );
    let stored = customer_types::customer_type_rows(&**db.pool.get().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|row| row.id == type_id)
        .unwrap();
    assert_eq!(stored.input, a, "A's save stands");
    // Read again (A's name in the form, which B types over), B's rename saves.
    assert!(matches!(
        ask(&db, save(&stored.input, b)).await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { .. })
    ));
}

/// s44-g: what s44-e found of customer types held of meter types, meters and schemes too: a
/// save from a form read before another desk's (or a psql) save put the old values back,
/// "Saved". `save(read, values)` modifies one row of a kind from a form filled from `read`;
/// `stored` reads the row back. Desk A's save stands; desk B's, read before it, is refused
/// (`changed`) and writes nothing, not even its audit; read again, B's saves.
async fn a_stale_save_is_refused<W: RefWork, T: Clone + PartialEq + std::fmt::Debug>(
    db: &TestDb,
    read: T,
    [a, b]: [T; 2],
    save: impl Fn(&T, T) -> W,
    changed: W::Reply,
    stored: impl AsyncFn() -> T,
) where
    W::Reply: PartialEq + std::fmt::Debug,
{
    let audited = || db.count("SELECT count(*) FROM audit_log");
    let saved = ask(db, save(&read, a.clone())).await;
    assert_ne!(saved, changed, "A's form was read from the row");
    assert_eq!(stored().await, a);
    let before = audited().await;
    assert_eq!(ask(db, save(&read, b.clone())).await, changed);
    assert_eq!(stored().await, a, "A's save stands");
    assert_eq!(audited().await, before, "nothing written");
    assert_eq!(
        ask(db, save(&a, b.clone())).await,
        saved,
        "read again, it saves"
    );
    assert_eq!(stored().await, b);
}

#[tokio::test]
async fn a_meter_type_saved_from_a_form_read_before_another_desks_save_is_refused() {
    let db = with_fixture().await;
    let listed = async || listed_meter_type(&db, PLAIN_METERS).await;
    let read = listed().await;
    let renamed = |name: &str| MeterType {
        name: name.into(),
        ..read.clone()
    };
    let save = |read: &MeterType, values: MeterType| MeterTypeRequest::Save {
        idempotency_key: key(),
        modifying: Some(read.clone()),
        name: values.name,
        payment_model: values.payment_model,
        caliber: values.caliber,
        manufacturer: values.manufacturer,
    };
    let changed = MeterTypeReply::Saved(MeterTypeOutcome::Changed);
    let [a, b] = [renamed("Plain DN20 (A)"), renamed("Plain DN20 B")];
    a_stale_save_is_refused(&db, read, [a, b], save, changed, listed).await;
}

#[tokio::test]
async fn a_meter_saved_from_a_form_read_before_another_desks_save_is_refused() {
    let db = with_fixture().await;
    add_meter(&db, "G-1", PLAIN_METERS).await;
    let stored = async || listed_meter(&db, "G-1").await;
    let read = stored().await;
    let reading = |text: &str| MeterFields {
        initial_mechanical_reading: dec(text),
        ..read.clone()
    };
    let save = |read: &MeterFields, fields: MeterFields| MeterRequest::Save {
        idempotency_key: key(),
        read: Some(read.clone()),
        meter_no: MeterNo::parse("G-1").unwrap(),
        fields,
    };
    let changed = MeterReply::Saved(MeterOutcome::Changed);
    let [a, b] = [reading("7"), reading("8.25")];
    a_stale_save_is_refused(&db, read.clone(), [a, b], save, changed, stored).await;
    // A psql write is another desk's save too: the form read before it is refused.
    let read = stored().await;
    db.pool
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE meter SET initial_electronic_reading = 3 WHERE meter_no = 'G-1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        ask(&db, save(&read, reading("9"))).await,
        MeterReply::Saved(MeterOutcome::Changed)
    );
}

#[tokio::test]
async fn a_schemes_fields_saved_from_a_form_read_before_another_desks_save_are_refused() {
    let db = with_fixture().await;
    let stored = async || listed_scheme(&db, PREPAID_SCHEME).await;
    let read = stored().await;
    let save = |read: &SchemeFields, fields: SchemeFields| SchemeRequest::Modify {
        idempotency_key: key(),
        id: PREPAID_SCHEME,
        read: read.clone(),
        fields,
    };
    let changed = SchemeReply::Saved(SchemeOutcome::Changed);
    // A changes the VAT rate; B, its form read before, only the cycle: saved, it would put
    // the old rate back.
    let a = SchemeFields {
        vat_percent: dec("6"),
        ..read.clone()
    };
    let b = SchemeFields {
        accumulation_months: Some(6),
        ..read.clone()
    };
    a_stale_save_is_refused(&db, read, [a, b], save, changed, stored).await;
}

/// s45-a (s44-g's found, not fixed): a delete went by id, so a row another desk (or psql)
/// changed after the list was read was deleted unseen. `listed` reads one row as its list
/// shows it; `meanwhile` changes it; the delete of what was listed answers `changed`, the row
/// stays and nothing is written; listed again, the delete goes (`deleted`).
async fn a_stale_delete_is_refused<W: RefWork, T>(
    db: &TestDb,
    listed: impl AsyncFn() -> T,
    meanwhile: &str,
    delete: impl Fn(T) -> W,
    [changed, deleted]: [W::Reply; 2],
) where
    W::Reply: PartialEq + std::fmt::Debug,
{
    let read = listed().await;
    let client = db.pool.get().await.unwrap();
    client.batch_execute(meanwhile).await.unwrap();
    let audited = db.count("SELECT count(*) FROM audit_log").await;
    assert_eq!(ask(db, delete(read)).await, changed);
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log").await,
        audited,
        "nothing written"
    );
    assert_eq!(ask(db, delete(listed().await)).await, deleted);
}

#[tokio::test]
async fn a_row_changed_after_its_list_was_read_is_not_deleted() {
    let db = with_fixture().await;
    a_stale_delete_is_refused(
        &db,
        async || listed_meter_type(&db, PLAIN_METERS).await,
        "UPDATE meter_type SET name = 'Plain DN20 (renamed)' WHERE id = 2",
        |read| MeterTypeRequest::Delete {
            idempotency_key: key(),
            read,
        },
        [MeterTypeDeletion::Changed, MeterTypeDeletion::Deleted].map(MeterTypeReply::Deleted),
    )
    .await;
    add_meter(&db, "H-1", CARD_METERS).await;
    a_stale_delete_is_refused(
        &db,
        async || listed_meter(&db, "H-1").await,
        "UPDATE meter SET initial_mechanical_reading = 4 WHERE meter_no = 'H-1'",
        |read| MeterRequest::Delete {
            idempotency_key: key(),
            meter_no: MeterNo::parse("H-1").unwrap(),
            read,
        },
        [MeterOutcome::Changed, MeterOutcome::Done].map(MeterReply::Deleted),
    )
    .await;
    let CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { id }) =
        add_card_type(&db, "Spare H").await
    else {
        panic!("saved")
    };
    a_stale_delete_is_refused(
        &db,
        async || listed_customer_type(&db, id).await,
        &format!("UPDATE customer_type SET name = 'Spare H (renamed)' WHERE id = {id}"),
        |read| CustomerTypeRequest::Delete {
            idempotency_key: key(),
            id,
            read,
        },
        [CustomerTypeOutcome::Changed, CustomerTypeOutcome::Deleted].map(CustomerTypeReply::Saved),
    )
    .await;
}

/// The database's today (the desk's time zone, as every session's).
async fn database_today(db: &TestDb) -> NaiveDate {
    let client = db.pool.get().await.unwrap();
    let row = client.query_one("SELECT current_date", &[]).await.unwrap();
    row.get("current_date")
}

/// s45-a (s44-g's found, not fixed): a new-prices form checks its tiers against the billing
/// mode and VAT rate it was opened with; another desk's VAT change made meanwhile was not told,
/// and the prices were saved over a rate their typist never saw. Now they are refused, nothing
/// written; the form filled again from the scheme as it is, they save.
#[tokio::test]
async fn new_prices_typed_before_another_desk_changed_the_schemes_vat_are_refused() {
    let db = with_fixture().await;
    let today = database_today(&db).await;
    let read = listed_scheme(&db, PREPAID_SCHEME).await;
    let prices = |read: &SchemeFields| SchemeRequest::ChangePrices {
        idempotency_key: key(),
        id: PREPAID_SCHEME,
        read: read.clone(),
        effective_from: today + Days::new(3),
        tiers: vec![tier(Some("50"), "1.2"), tier(None, "3.5")],
    };
    let saved = SchemeReply::Saved(SchemeOutcome::Saved { id: PREPAID_SCHEME });
    let vat = SchemeRequest::Modify {
        idempotency_key: key(),
        id: PREPAID_SCHEME,
        read: read.clone(),
        fields: SchemeFields {
            vat_percent: dec("6"),
            ..read.clone()
        },
    };
    assert_eq!(ask(&db, vat).await, saved);
    let written = async || {
        (
            db.count("SELECT count(*) FROM price_version").await,
            db.count("SELECT count(*) FROM audit_log").await,
        )
    };
    let before = written().await;
    assert_eq!(
        ask(&db, prices(&read)).await,
        SchemeReply::Saved(SchemeOutcome::Changed)
    );
    assert_eq!(written().await, before, "nothing written");
    let read = listed_scheme(&db, PREPAID_SCHEME).await;
    assert_eq!(ask(&db, prices(&read)).await, saved);
}

/// s45-a (s44-e's found, not fixed): prices saved from tomorrow with a wrong price could not be
/// corrected — their date "taken", and a version never changed (sql/V47) — so tomorrow's bills
/// would use them. A version not yet in force is now corrected on its date, in place, with its
/// audit entry telling the prices it replaces (sql/V250); one in force never, by the desk nor
/// by psql.
#[tokio::test]
async fn prices_not_yet_in_force_are_corrected_on_their_date_and_those_in_force_never() {
    let db = with_fixture().await;
    let today = database_today(&db).await;
    let read = listed_scheme(&db, PREPAID_SCHEME).await;
    let prices = |effective_from, first: &str| SchemeRequest::ChangePrices {
        idempotency_key: key(),
        id: PREPAID_SCHEME,
        read: read.clone(),
        effective_from,
        tiers: vec![tier(Some("50"), first), tier(None, "3.5")],
    };
    let saved = SchemeReply::Saved(SchemeOutcome::Saved { id: PREPAID_SCHEME });
    let tomorrow = today + Days::new(1);
    let stored = async |date: NaiveDate| -> String {
        let client = db.pool.get().await.unwrap();
        let row = client
            .query_one(
                "SELECT string_agg(concat_ws(' ', t.upper_bound_m3, t.unit_price), '; '
                                   ORDER BY t.tier_no) AS tiers
                 FROM price_version v JOIN price_tier t ON t.price_version_id = v.id
                 WHERE v.price_scheme_id = 1 AND v.effective_from = $1",
                &[&date],
            )
            .await
            .unwrap();
        row.get("tiers")
    };
    assert_eq!(ask(&db, prices(tomorrow, "0")).await, saved);
    let corrected = SchemeReply::Saved(SchemeOutcome::Corrected { id: PREPAID_SCHEME });
    assert_eq!(ask(&db, prices(tomorrow, "1.2")).await, corrected);
    assert_eq!(stored(tomorrow).await, "50.000 1.2000; 3.5000");
    assert_eq!(db.count("SELECT count(*) FROM price_version").await, 2);
    let told = db
        .count(
            "SELECT count(*) FROM audit_log WHERE action = 'price_version.add'
               AND detail #>> '{replaces,unit_prices,0}' = '0'
               AND detail #>> '{unit_prices,0}' = '1.2'",
        )
        .await;
    let details = {
        let client = db.pool.get().await.unwrap();
        let rows = client
            .query(
                "SELECT detail::text AS d FROM audit_log WHERE action = 'price_version.add'",
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<_, String>("d"))
            .collect::<Vec<_>>()
    };
    assert_eq!(told, 1, "the entry tells what it replaced: {details:?}");

    // Today's prices are in force: the same date is taken.
    assert_eq!(ask(&db, prices(today, "1.1")).await, saved);
    assert_eq!(
        ask(&db, prices(today, "0")).await,
        SchemeReply::Saved(SchemeOutcome::DateTaken)
    );
    assert_eq!(stored(today).await, "50.000 1.1000; 3.5000");

    // psql as the supervisor: a version in force is never rewritten nor its tiers deleted; one
    // ahead not without its entry.
    let supervisor = db.pool_of("super").get().await.unwrap();
    for sql in [
        "BEGIN; UPDATE price_version SET created_at = now() WHERE effective_from = current_date;
         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
         SELECT current_operator_id(), 'price_version.add', 'price_scheme', 1,
                jsonb_build_object('effective_from', current_date);
         COMMIT;",
        "DELETE FROM price_tier WHERE price_version_id = 1",
        "UPDATE price_version SET created_at = now() WHERE effective_from > current_date",
        "BEGIN; UPDATE price_version SET effective_from = effective_from + 1
                WHERE effective_from > current_date;
         COMMIT;",
    ] {
        let error = supervisor.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {error}"
        );
        supervisor.batch_execute("ROLLBACK").await.ok();
    }
    assert_eq!(stored(today).await, "50.000 1.1000; 3.5000");
    assert_eq!(stored(tomorrow).await, "50.000 1.2000; 3.5000");
}

#[tokio::test]
async fn a_customer_type_in_use_cannot_be_deleted_nor_change_its_business_model() {
    let db = with_fixture().await;
    let type_id = install(&db, "D1").await;
    assert_eq!(
        ask(
            &db,
            CustomerTypeRequest::Delete {
                idempotency_key: key(),
                id: type_id,
                read: listed_customer_type(&db, type_id).await,
            }
        )
        .await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Refused(vec![
            CustomerTypeProblem::InUse { customers: 1 }
        ]))
    );
    let mut changed = card_type("Residents D1");
    changed.business_model = BusinessModel::SystemPrepaid;
    changed.meter_type_ids = vec![PLAIN_METERS];
    let CustomerTypeReply::Saved(CustomerTypeOutcome::Refused(problems)) = ask(
        &db,
        CustomerTypeRequest::Save {
            idempotency_key: key(),
            modifying: Some((type_id, card_type("Residents D1"))),
            input: changed,
        },
    )
    .await
    else {
        panic!("refused")
    };
    assert!(
        problems.contains(&CustomerTypeProblem::BusinessModelInUse),
        "{problems:?}"
    );
    // Charging needs a scheme of the matching kind and a payment method.
    let mut free_riding = card_type("Shops");
    free_riding.price_scheme_id = None;
    free_riding.payment_methods.clear();
    let CustomerTypeReply::Saved(CustomerTypeOutcome::Refused(problems)) = ask(
        &db,
        CustomerTypeRequest::Save {
            idempotency_key: key(),
            modifying: None,
            input: free_riding,
        },
    )
    .await
    else {
        panic!("refused")
    };
    assert_eq!(
        problems,
        [
            CustomerTypeProblem::NoPriceScheme,
            CustomerTypeProblem::NoPaymentMethods
        ]
    );
    let CustomerTypeReply::Rows { rows, choices } = ask(&db, CustomerTypeRequest::List).await
    else {
        panic!("the list")
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].customers, 1);
    assert_eq!(rows[0].meter_type_names, ["Card DN15"]);
    assert_eq!(
        rows[0].price_scheme_name.as_deref(),
        Some("prepaid stepped")
    );
    assert_eq!(choices.meter_types.len(), 2);
    assert_eq!(choices.schemes.len(), 1);
    assert!(
        choices
            .payment_methods
            .iter()
            .any(|(code, _)| code == "cash")
    );
    // An unused type goes.
    let CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { id }) =
        add_card_type(&db, "Spare").await
    else {
        panic!("saved")
    };
    assert_eq!(
        ask(
            &db,
            CustomerTypeRequest::Delete {
                idempotency_key: key(),
                id,
                read: listed_customer_type(&db, id).await,
            }
        )
        .await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Deleted)
    );
}

fn tier(up_to: Option<&str>, price: &str) -> Tier {
    Tier {
        up_to: up_to.map(dec),
        unit_price: dec(price),
    }
}

#[tokio::test]
async fn price_schemes_are_added_changed_from_a_date_and_priced() {
    let db = with_fixture().await;
    let fields = SchemeFields {
        name: "Postpaid leap".into(),
        kind: AccountKind::Postpaid,
        mode: BillingMode::Leap,
        vat_percent: dec("9"),
        accumulation_months: Some(12),
        settlement_months: Some(2),
        start_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
    };
    let manual = vec![
        tier(Some("50"), "1"),
        tier(Some("100"), "2"),
        tier(None, "3"),
    ];
    let SchemeReply::Saved(SchemeOutcome::Saved { id }) = ask(
        &db,
        SchemeRequest::Add {
            idempotency_key: key(),
            fields: fields.clone(),
            tiers: manual.clone(),
        },
    )
    .await
    else {
        panic!("saved")
    };
    assert_eq!(
        ask(
            &db,
            SchemeRequest::Add {
                idempotency_key: key(),
                fields: fields.clone(),
                tiers: manual.clone()
            }
        )
        .await,
        SchemeReply::Saved(SchemeOutcome::NameTaken)
    );
    let falling = vec![tier(Some("50"), "2"), tier(None, "1")];
    assert_eq!(
        ask(
            &db,
            SchemeRequest::Add {
                idempotency_key: key(),
                fields: SchemeFields {
                    name: "Falling".into(),
                    ..fields.clone()
                },
                tiers: falling
            }
        )
        .await,
        SchemeReply::Saved(SchemeOutcome::Prices(SchemeError::PriceFalls { tier: 2 }))
    );
    // Kind, mode and start date stay; name and VAT change.
    assert_eq!(
        ask(
            &db,
            SchemeRequest::Modify {
                idempotency_key: key(),
                id,
                read: fields.clone(),
                fields: SchemeFields {
                    mode: BillingMode::Stepped,
                    ..fields.clone()
                }
            }
        )
        .await,
        SchemeReply::Saved(SchemeOutcome::Fixed)
    );
    assert_eq!(
        ask(
            &db,
            SchemeRequest::Modify {
                idempotency_key: key(),
                id,
                read: fields.clone(),
                fields: SchemeFields {
                    name: "Postpaid leap 2025".into(),
                    vat_percent: dec("6"),
                    ..fields.clone()
                }
            }
        )
        .await,
        SchemeReply::Saved(SchemeOutcome::Saved { id })
    );
    // Price changes: today or later, one per date (corrected on it while not in force).
    let today = database_today(&db).await;
    let yesterday = today - Days::new(1);
    let next_month = today + Days::new(30);
    let dearer = vec![tier(Some("50"), "1.5"), tier(None, "4")];
    let SchemeReply::Saved(SchemeOutcome::PastDate { .. }) = ask(
        &db,
        SchemeRequest::ChangePrices {
            idempotency_key: key(),
            read: listed_scheme(&db, id).await,
            id,
            effective_from: yesterday,
            tiers: dearer.clone(),
        },
    )
    .await
    else {
        panic!("a past date is refused")
    };
    assert_eq!(
        ask(
            &db,
            SchemeRequest::ChangePrices {
                idempotency_key: key(),
                read: listed_scheme(&db, id).await,
                id,
                effective_from: next_month,
                tiers: dearer.clone()
            }
        )
        .await,
        SchemeReply::Saved(SchemeOutcome::Saved { id })
    );
    let correction = SchemeRequest::ChangePrices {
        idempotency_key: key(),
        read: listed_scheme(&db, id).await,
        id,
        effective_from: next_month,
        tiers: dearer,
    };
    assert_eq!(
        ask(&db, correction.clone()).await,
        SchemeReply::Saved(SchemeOutcome::Corrected { id }),
        "next month's prices, not yet in force, are corrected on their date (sql/V250), \
         and told as corrected (s46-c)"
    );
    assert_eq!(
        ask(&db, correction).await,
        SchemeReply::Saved(SchemeOutcome::Corrected { id }),
        "sent again under its key: the correction recorded, told as one again"
    );
    let SchemeReply::Detail(Some(detail)) = ask(&db, SchemeRequest::Detail { id }).await else {
        panic!("the scheme")
    };
    assert_eq!(detail.row.fields.name, "Postpaid leap 2025");
    assert_eq!(detail.row.fields.vat_percent, dec("6"));
    assert_eq!(detail.versions.len(), 2);
    assert_eq!(detail.row.current_from, Some(fields.start_date));
    let pricing = detail.pricing().unwrap();
    let in_force = pricing.prices_on(today).unwrap();
    // Leap: 60 m³ from 30 ends in tier 2, all at 2.00.
    assert_eq!(
        in_force
            .charge_for_volume(dec("30"), dec("60"))
            .unwrap()
            .amount
            .to_decimal(),
        dec("120.00")
    );
    let later = pricing.prices_on(next_month).unwrap();
    assert_eq!(later.tiers()[1].unit_price, dec("4"));
    let SchemeReply::Rows(rows) = ask(&db, SchemeRequest::List).await else {
        panic!("the list")
    };
    let names: Vec<(&str, i64, i64)> = rows
        .iter()
        .map(|r| (r.fields.name.as_str(), r.versions, r.used_by))
        .collect();
    assert_eq!(
        names,
        [("Postpaid leap 2025", 2, 0), ("prepaid stepped", 1, 0)]
    );
}

/// A change re-sent with its key after a connection lost past the commit (the app parks it and
/// sends the identical request again) is applied once and answers what it answered the first
/// time; a new key is a new change, decided afresh.
#[tokio::test]
async fn a_change_sent_twice_with_one_key_is_applied_once_and_answers_the_same() {
    let db = with_fixture().await;

    // A meter added: not "meter number exists" the second time.
    let add = MeterRequest::Save {
        idempotency_key: key(),
        read: None,
        meter_no: MeterNo::parse("K-1").unwrap(),
        fields: fields(CARD_METERS),
    };
    let done = MeterReply::Saved(MeterOutcome::Done);
    assert_eq!(twice(&db, add.clone()).await, [done.clone(), done]);
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 1);
    let MeterRequest::Save {
        read: None,
        meter_no,
        fields: meter_fields,
        ..
    } = add
    else {
        unreachable!()
    };
    let again = MeterRequest::Save {
        idempotency_key: key(),
        read: None,
        meter_no: meter_no.clone(),
        fields: meter_fields.clone(),
    };
    assert_eq!(
        ask(&db, again).await,
        MeterReply::Saved(MeterOutcome::NumberTaken),
        "another key is another add"
    );
    // A delete: done both times, not "gone" the second.
    let delete = MeterRequest::Delete {
        idempotency_key: key(),
        meter_no,
        read: meter_fields,
    };
    let deleted = MeterReply::Deleted(MeterOutcome::Done);
    assert_eq!(twice(&db, delete).await, [deleted.clone(), deleted]);
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 0);

    // An import run again: the same report, rebuilt from the file and the lines it skipped,
    // and not one meter more.
    add_meter(&db, "I-2", CARD_METERS).await;
    let file = write_file(
        "meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n\
         I-1,Card DN15,0,0\n\
         I-2,Card DN15,0,0\n\
         I-3,Plain DN20,0,0\n\
         bad no,Card DN15,0,0\n",
    );
    let checked = check(&db, file.path().to_str().unwrap()).await;
    assert_eq!((checked.good, checked.errors.len()), (2, 2));
    let import = ImportRequest::Import {
        idempotency_key: key(),
        csv: Arc::clone(&checked.csv),
        choice: ImportChoice::GoodRows,
    };
    let [first, second] = twice(&db, import).await;
    let ImportReply::Imported(report) = &first else {
        panic!("{first:?}")
    };
    assert_eq!(report.imported, 2);
    let lines: Vec<usize> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 5], "I-2 is in the database, line 5 is bad");
    assert_eq!(second, first);
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 3);
    assert_eq!(
        db.count("SELECT count(*) FROM audit_log WHERE action = 'meter.import'")
            .await,
        1
    );

    // A new price version from a date: added once, not "a version starts then" the second time.
    let today = database_today(&db).await;
    let change = SchemeRequest::ChangePrices {
        idempotency_key: key(),
        read: listed_scheme(&db, PREPAID_SCHEME).await,
        id: PREPAID_SCHEME,
        effective_from: today + Days::new(7),
        tiers: vec![tier(Some("50"), "1.2"), tier(None, "3.5")],
    };
    let saved = SchemeReply::Saved(SchemeOutcome::Saved { id: PREPAID_SCHEME });
    assert_eq!(twice(&db, change).await, [saved.clone(), saved]);
    assert_eq!(
        db.count("SELECT count(*) FROM price_version").await,
        2,
        "the first version and one new"
    );

    // The other changes alike: a meter type, a scheme and a customer type added once.
    let meter_type = MeterTypeRequest::Save {
        idempotency_key: key(),
        modifying: None,
        name: "Remote DN25".into(),
        payment_model: PaymentModel::Postpayment,
        caliber: "DN25".into(),
        manufacturer: "Ningbo".into(),
    };
    let [first, second] = twice(&db, meter_type).await;
    assert!(matches!(first, MeterTypeReply::Saved(_)), "{first:?}");
    assert_eq!(second, first);
    let scheme = SchemeRequest::Add {
        idempotency_key: key(),
        fields: SchemeFields {
            name: "Fixed".into(),
            kind: AccountKind::Prepaid,
            mode: BillingMode::Fixed,
            vat_percent: dec("9"),
            accumulation_months: None,
            settlement_months: None,
            start_date: today,
        },
        tiers: vec![tier(None, "2")],
    };
    let [first, second] = twice(&db, scheme).await;
    assert!(matches!(
        first,
        SchemeReply::Saved(SchemeOutcome::Saved { .. })
    ));
    assert_eq!(second, first);
    let customer_type = CustomerTypeRequest::Save {
        idempotency_key: key(),
        modifying: None,
        input: card_type("Residents"),
    };
    let [first, second] = twice(&db, customer_type).await;
    assert!(matches!(
        first,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { .. })
    ));
    assert_eq!(second, first);
    for (table, rows) in [("meter_type", 3), ("price_scheme", 2), ("customer_type", 1)] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(db.count(&sql).await, rows, "{table}");
    }

    // A key is one change: used for another kind it is an error, nothing written.
    let reused = MeterRequest::Save {
        idempotency_key: "reused".into(),
        read: None,
        meter_no: MeterNo::parse("R-1").unwrap(),
        fields: fields(CARD_METERS),
    };
    assert_eq!(
        ask(&db, reused).await,
        MeterReply::Saved(MeterOutcome::Done)
    );
    let misuse = execute(
        &desk_of(&db, SUPERVISOR),
        on_behalf(
            SUPERVISOR,
            MeterTypeRequest::Delete {
                idempotency_key: "reused".into(),
                read: listed_meter_type(&db, PLAIN_METERS).await,
            },
        ),
    )
    .await;
    assert!(misuse.is_err(), "{misuse:?}");
    assert_eq!(db.count("SELECT count(*) FROM meter_type").await, 3);
}

/// The connection lost right after the server committed: the app gets `Unreachable`, parks the
/// change and, the database back, sends it again as it was; the re-send finds its key applied
/// and answers the outcome, with nothing written twice.
#[tokio::test]
async fn a_change_whose_reply_is_lost_after_the_commit_answers_its_outcome_when_sent_again() {
    let db = with_fixture().await;
    let cutter = CommitCutter::start(&db);
    let services = support::services(&pool_from_conn_str(&cutter.conn_str, 1).unwrap());
    let send = |request: Request| execute(&services, request);

    let file = write_file(
        "meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n\
         C-1,Card DN15,0,0\n\
         C-2,Plain DN20,0,0\n",
    );
    let checked = check(&db, file.path().to_str().unwrap()).await;
    let import = ImportRequest::Import {
        idempotency_key: key(),
        csv: Arc::clone(&checked.csv),
        choice: ImportChoice::AllOrNothing,
    };
    cutter.arm();
    let lost = send(on_behalf(SUPERVISOR, import.clone())).await;
    assert!(matches!(lost, Err(Failure::Unreachable(_))), "{lost:?}");
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 2, "committed");
    let again = send(on_behalf(SUPERVISOR, import)).await;
    assert!(again.is_ok(), "the pool reconnects: {again:?}");
    let Some(ImportReply::Imported(report)) = ref_reply::<ImportReply>(&again) else {
        panic!("{again:?}")
    };
    assert_eq!((report.imported, report.errors.len()), (2, 0));
    assert_eq!(db.count("SELECT count(*) FROM meter").await, 2);

    let today = database_today(&db).await;
    let change = SchemeRequest::ChangePrices {
        idempotency_key: key(),
        read: listed_scheme(&db, PREPAID_SCHEME).await,
        id: PREPAID_SCHEME,
        effective_from: today,
        tiers: vec![tier(Some("50"), "1.1"), tier(None, "3.3")],
    };
    cutter.arm();
    let lost = send(on_behalf(SUPERVISOR, change.clone())).await;
    assert!(matches!(lost, Err(Failure::Unreachable(_))), "{lost:?}");
    let again = send(on_behalf(SUPERVISOR, change))
        .await
        .expect("the pool reconnects");
    assert_eq!(
        again,
        Reply::screen(RefAnswer::Done(SchemeReply::Saved(SchemeOutcome::Saved {
            id: PREPAID_SCHEME
        }))),
        "its own version, not \"a version starts on that date\""
    );
    assert_eq!(db.count("SELECT count(*) FROM price_version").await, 2);
}

/// Names are apart whatever their case, as logins are (s33-c's walk): the twin is refused with
/// the answer the exact duplicate gets, for each of the four kinds of named reference data.
#[tokio::test]
async fn a_name_taken_in_another_case_is_taken() {
    let db = with_fixture().await;
    let admin = db.pool_of("admin").get().await.unwrap();
    assert_eq!(
        meterdesk::db::operators::save_department(&**admin, None, "HALL 1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        meterdesk::db::operators::save_department(&**admin, None, "Hall 2")
            .await
            .unwrap(),
        Some(())
    );
    assert_eq!(
        ask(
            &db,
            MeterTypeRequest::Save {
                idempotency_key: key(),
                modifying: None,
                name: "card dn15".into(),
                payment_model: PaymentModel::Prepayment,
                caliber: "DN15".into(),
                manufacturer: "Acme".into(),
            },
        )
        .await,
        MeterTypeReply::Saved(meterdesk::db::meters::MeterTypeOutcome::NameTaken)
    );
    assert!(matches!(
        add_card_type(&db, "Card Residents").await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::Saved { .. })
    ));
    assert_eq!(
        add_card_type(&db, "CARD residents").await,
        CustomerTypeReply::Saved(CustomerTypeOutcome::NameTaken)
    );
    assert_eq!(
        ask(
            &db,
            SchemeRequest::Add {
                idempotency_key: key(),
                fields: SchemeFields {
                    name: "Prepaid Stepped".into(),
                    kind: AccountKind::Prepaid,
                    mode: BillingMode::Stepped,
                    vat_percent: dec("9"),
                    accumulation_months: Some(12),
                    settlement_months: None,
                    start_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                },
                tiers: vec![tier(Some("50"), "1"), tier(None, "2")],
            },
        )
        .await,
        SchemeReply::Saved(SchemeOutcome::NameTaken)
    );
}

/// A database that holds twins in case when it is migrated keeps the oldest's name and renames
/// the later one apart, so the migration that forbids them does not fail on it.
#[tokio::test]
async fn twins_in_case_already_there_are_renamed_apart_by_the_migration() {
    let db = with_fixture().await;
    let owner = db.pool.get().await.unwrap();
    owner
        .batch_execute(
            "DROP INDEX department_name_any_case;
             INSERT INTO department (name) VALUES ('hall 1'), ('HALL 1 #2'), ('Hall 2');",
        )
        .await
        .unwrap();
    owner
        .batch_execute(include_str!(
            "../sql/V89__names_apart_in_any_case_and_the_loads_own_locks.sql"
        ))
        .await
        .unwrap();
    let names: Vec<String> = owner
        .query("SELECT name FROM department ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(names, ["Hall 1", "hall 1 #2 #2", "HALL 1 #2", "Hall 2"]);
}
