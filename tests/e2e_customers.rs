//! The real binary in tmux on a database with demo customers: search the customer table by
//! name and by meter number, a wrong check digit, and open a customer's details. Also: Esc and
//! a function key in one burst are two keys.

mod support;

use std::time::Duration;

use meterdesk::tools::demo;
use support::pg::{TEST_PASSWORD, fresh_db};
use support::tmux::{Stroke, Tmux, launcher, scratch};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn search_by_name_and_meter_number_then_details() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 300, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    // A personal customer whose name is unique, so the search must find exactly this one.
    let row = client
        .query_one(
            "SELECT c.customer_no, c.name, m.meter_no
             FROM customer c JOIN meter m ON m.id = c.meter_id
             WHERE c.nature = 'personal'
               AND (SELECT count(*) FROM customer o WHERE o.name = c.name) = 1
             ORDER BY c.customer_no DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (number, name, meter): (i64, String, String) =
        (row.get("customer_no"), row.get("name"), row.get("meter_no"));
    let number = format!("{number:08}");
    // Another customer past the first page, for a fast clerk's next search.
    let next: i64 = client
        .query_one(
            "SELECT customer_no FROM customer ORDER BY customer_no DESC OFFSET 1 LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let next = format!("{next:08}");

    let dir = scratch("customers");
    let tmux = Tmux::start(
        "customers",
        &launcher(&dir, &db.conn_str),
        &dir.join("exit"),
    );
    tmux.wait_for("Operator", PATIENCE);
    tmux.text("clerk");
    tmux.keys(&["Enter"]);
    tmux.text(&clerk.password);
    tmux.keys(&["Enter"]);
    let table = tmux.wait_for("Cust.No.", PATIENCE);
    assert!(
        !table.contains(&number),
        "the last customer is not on the first page"
    );

    // The customer's row, at the start of a line (the search box may show the same digits).
    let row = format!("\n{number} ");

    // By name.
    tmux.text("/");
    tmux.text(&name);
    tmux.wait_for(&row, PATIENCE);

    // By meter number: Ctrl-U clears the box (back to the first page, without the customer),
    // then the meter number.
    tmux.keys(&["C-u"]);
    tmux.wait_for_absence(&row, PATIENCE);
    tmux.text(&meter);
    tmux.wait_for(&row, PATIENCE);

    // A mistyped customer number says so.
    tmux.keys(&["C-u"]);
    let mut mistyped = number.clone().into_bytes();
    mistyped[3] = b'0' + (mistyped[3] - b'0' + 1) % 10;
    tmux.text(std::str::from_utf8(&mistyped).unwrap());
    tmux.wait_for("check digit is wrong", PATIENCE);

    // The right number, then Enter to the row and Enter for the details.
    tmux.keys(&["C-u"]);
    tmux.wait_for_absence(&row, PATIENCE);
    tmux.text(&number);
    tmux.wait_for(&row, PATIENCE);
    tmux.keys(&["Enter"]);
    tmux.keys(&["Enter"]);
    let details = tmux.wait_for("Basic information", PATIENCE);
    assert!(
        details.contains(&format!("Customers › {number}")),
        "{details}"
    );
    assert!(
        details.contains(&meter),
        "the details show the meter in full: {details}"
    );
    assert!(details.contains("Latest transactions"), "{details}");

    tmux.keys(&["F3"]);
    tmux.wait_for("Cust.No.", PATIENCE);

    // A fast clerk's next customer in one burst, the box still holding the last search: `/`
    // selects its text, so the number typed replaces it (s35-f: it was appended, searching
    // "{number}{next}", and nothing was found).
    tmux.burst(&[Stroke::Text("/"), Stroke::Text(&next), Stroke::Key("Enter")]);
    let screen = tmux.wait_for(&format!("\n{next} "), PATIENCE);
    assert!(
        !screen.contains(&format!("{number}{next}")) && !screen.contains(&row),
        "{screen}"
    );
    tmux.keys(&["F10"]);
}

/// `meterdesk bench`'s running-app figures are the real binary's in tmux: its own operator signs
/// in (the app records the login), Down and searches by number are timed to their frames (a
/// search's row at the start of a table line, which only the answer puts there), it pages,
/// searches and opens Details (the bench waits for the customer number in the breadcrumbs),
/// and the app's `/proc/<pid>/status` is read; the operator is disabled afterwards.
/// crossterm reads ESC ESC as one Esc, so F1's `ESC O P` right behind an Esc came as the
/// characters "OP", and Shift+O is "Open shift" on the customer table ("Open shift is not
/// available here"). The input thread mends it (`app::key_burst`).
#[tokio::test(flavor = "multi_thread")]
async fn an_esc_and_a_function_key_in_one_burst_are_two_keys() {
    let db = fresh_db().await;
    db.create_operator("li.na", &["clerk"]).await;
    let dir = scratch("esc-burst");
    let tmux = Tmux::start(
        "esc-burst",
        &launcher(&dir, &db.conn_str),
        &dir.join("exit"),
    );
    tmux.sign_in("li.na", TEST_PASSWORD, PATIENCE);
    for round in 0..5 {
        tmux.burst(&["F1", "Escape", "F1"].map(Stroke::Key));
        let screen = tmux.wait_for("Help — keys on this screen", PATIENCE);
        assert!(!screen.contains("not available"), "round {round}: {screen}");
        tmux.keys(&["Escape"]);
        tmux.wait_for_absence("Help — keys on this screen", PATIENCE);
    }
    // Esc then F5 (`ESC [ 1 5 ~`): a refresh, not "[15~" typed.
    tmux.burst(&["F1", "Escape", "F5"].map(Stroke::Key));
    let screen = tmux.wait_for_absence("Help — keys on this screen", PATIENCE);
    assert!(!screen.contains("not available"), "{screen}");
    assert!(!screen.contains("[15~"), "{screen}");
    tmux.keys(&["F10"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bench_measures_the_memory_of_the_running_app() {
    use meterdesk::i18n::Lang;
    use meterdesk::tools::bench::running_app::{Launch, Outcome, measure};

    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    demo::load(&db.pool, 300, |_| {}).await.unwrap();
    let dir = scratch("bench");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\ndata_dir = \"{}\"\n\n[ui]\nlanguage = \"en\"\n",
            db.conn_str.replace('"', "\\\""),
            dir.display()
        ),
    )
    .unwrap();
    let launch = Launch {
        exe: std::path::Path::new(support::tmux::BIN),
        config: Some(&config),
        lang: Lang::En,
    };
    let Outcome::Measured(app) = measure(&db.pool, &launch, 0).await.unwrap() else {
        panic!("tmux is installed where the tests run")
    };
    eprintln!("the running app, 300 customers, this build: {app:?}");
    for latency in [app.row_move, app.search_shown] {
        assert!(
            Duration::ZERO < latency.p50
                && latency.p50 <= latency.p95
                && latency.p95 <= latency.p99,
            "{latency:?}"
        );
    }
    assert!(app.first_frame > Duration::ZERO);
    assert!(app.memory_over_time.is_empty(), "no long session was asked");
    let memory = app.memory;
    // A process of this size is the app with its pool, not a shell or tmux itself.
    assert!(
        memory.resident_kb > 4_000 && memory.peak_kb >= memory.resident_kb,
        "{memory:?}"
    );
    let bench_operator = client
        .query_one(
            "SELECT o.enabled,
                    EXISTS (SELECT FROM audit_log a WHERE a.operator_id = o.id
                            AND a.action = 'login.succeeded') AS signed_in
             FROM operator o WHERE o.login LIKE 'bench-%'",
            &[],
        )
        .await
        .unwrap();
    let (enabled, signed_in): (bool, bool) = (
        bench_operator.get("enabled"),
        bench_operator.get("signed_in"),
    );
    assert!(signed_in, "the running app signed the bench operator in");
    assert!(!enabled, "the bench operator is disabled afterwards");
}

/// s38-e by hand: on a customer's details, `:logout Enter` and the next operator's sign-in
/// typed in one burst. `:logout` asks first, and the keys behind it went to the details: `m`
/// opened Modify, the rest went into the name and the ID number. Now they wait behind the
/// question; `:logout` again, pressed once it is read, signs out and they sign the next
/// operator in. Nothing is written on the customer.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_typed_behind_logout_signs_in_and_touches_no_customer() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 300, |_| {}).await.unwrap();
    let clerk = support::demo_operator(&summary, "clerk");
    let admin = support::demo_operator(&summary, "admin");
    let customer = "SELECT version, name, coalesce(id_document_no, '') AS id FROM customer
                    ORDER BY customer_no LIMIT 1";
    let before = client.query_one(customer, &[]).await.unwrap();
    let admin_name: String = client
        .query_one("SELECT full_name FROM operator WHERE login = 'admin'", &[])
        .await
        .unwrap()
        .get(0);

    let dir = scratch("sign_out_burst");
    let tmux = Tmux::start(
        "sign_out_burst",
        &launcher(&dir, &db.conn_str),
        &dir.join("exit"),
    );
    tmux.sign_in("clerk", &clerk.password, PATIENCE);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Basic information", PATIENCE);
    tmux.burst(&[
        Stroke::Text(":logout"),
        Stroke::Key("Enter"),
        Stroke::Text("admin"),
        Stroke::Key("Tab"),
        Stroke::Text(&admin.password),
        Stroke::Key("Enter"),
    ]);
    let screen = tmux.wait_for("keys typed after this wait", PATIENCE);
    assert!(screen.contains("Basic information"), "{screen}");
    assert!(!screen.contains(&admin.password), "{screen}");
    // Read, then answered.
    std::thread::sleep(Duration::from_millis(1200));
    tmux.text(":logout");
    tmux.keys(&["Enter"]);
    let table = tmux.wait_for("Cust.No.", PATIENCE);
    let first = table.lines().next().unwrap_or_default();
    let start: String = admin_name.chars().take(6).collect();
    assert!(first.contains(&start), "signed in as admin: {table}");

    let after = client.query_one(customer, &[]).await.unwrap();
    for column in ["name", "id"] {
        assert_eq!(
            before.get::<_, String>(column),
            after.get::<_, String>(column)
        );
    }
    assert_eq!(
        before.get::<_, i32>("version"),
        after.get::<_, i32>("version")
    );
    tmux.keys(&["F10"]);
}
