//! The real binary in tmux on a database with demo data: a supervisor imports 100 000 meters
//! through the import dialog (checked, then the good rows), and the meter list finds them.

mod support;

use std::time::{Duration, Instant};

use meterdesk::tools::demo;
use support::pg::fresh_db;
use support::tmux::{Tmux, launcher, scratch};

const PATIENCE: Duration = Duration::from_secs(15);
const IMPORT_PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_imports_100000_meters_through_the_dialog() {
    let db = fresh_db().await;
    let client = db.pool.get().await.unwrap();
    let summary = demo::load(&db.pool, 50, |_| {}).await.unwrap();
    let supervisor = support::demo_operator(&summary, "supervisor");
    let meter_type: String = client
        .query_one(
            "SELECT name FROM meter_type WHERE payment_model = 'postpayment' ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get("name");

    let dir = scratch("reference");
    let file = dir.join("meters.csv");
    let mut text =
        String::from("meter_no,meter_type,initial_electronic_reading,initial_mechanical_reading\n");
    for n in 0..100_000 {
        text.push_str(&format!("IMP{n:07},{meter_type},0,0\n"));
    }
    // Two bad lines: line 100 002 repeats a number, line 100 003 has an unknown type.
    text.push_str(&format!("IMP0000007,{meter_type},0,0\n"));
    text.push_str("IMPX,No such type,0,0\n");
    std::fs::write(&file, text).unwrap();

    let tmux = Tmux::start(
        "reference",
        &launcher(&dir, &db.conn_str),
        &dir.join("exit"),
    );
    tmux.wait_for("Operator", PATIENCE);
    tmux.text("supervisor");
    tmux.keys(&["Enter"]);
    tmux.text(&supervisor.password);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Cust.No.", PATIENCE);
    tmux.text(":meters");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Uninstalled meters", PATIENCE);
    tmux.text("i");
    tmux.wait_for("meterdesk meters template", PATIENCE);
    tmux.text(file.to_str().unwrap());
    tmux.keys(&["F2"]);
    let checked = tmux.wait_for("99999 good rows, 3 bad lines.", IMPORT_PATIENCE);
    assert!(checked.contains("line 9:"), "{checked}");
    assert!(checked.contains("line 100002:"), "{checked}");
    assert!(checked.contains("line 100003:"), "{checked}");
    let started = Instant::now();
    tmux.keys(&["F2"]);
    tmux.wait_for(
        "Imported 99999 meters; 3 lines not imported.",
        IMPORT_PATIENCE,
    );
    eprintln!(
        "99 999 meters imported through the dialog in {:?}",
        started.elapsed()
    );
    let imported: i64 = client
        .query_one("SELECT count(*) FROM meter WHERE meter_no LIKE 'IMP%'", &[])
        .await
        .unwrap()
        .get("count");
    assert_eq!(imported, 99_999);

    tmux.keys(&["F3"]);
    tmux.wait_for("Uninstalled meters", PATIENCE);
    tmux.text("/imp00999");
    tmux.wait_for("IMP0099900", PATIENCE);
    // Enter back to the rows, End to the last page of the search.
    tmux.keys(&["Enter", "End"]);
    tmux.wait_for("IMP0099999", PATIENCE);
    tmux.keys(&["F10"]);
}
