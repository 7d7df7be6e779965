//! Shared test helpers. Each test binary compiles this module on its own and uses only part
//! of it, so unused helpers there are expected.
#![allow(dead_code)]

pub mod billing_desk;
pub mod card_desk;
pub mod card_rig;
pub mod commit_cutter;
pub mod desk;
pub mod pg;
pub mod server_programs;
pub mod stalling_relay;
pub mod standby;
pub mod tmux;

use std::sync::{Arc, OnceLock};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meterdesk::app::requests::{self, ReceiptOutput, Services};
use meterdesk::app::state::{Msg, Request, RequestId};
use meterdesk::app::{App, update};
use meterdesk::card::reader::{self, ReaderConfig, ReaderHandle};
use meterdesk::cardflow::CardAccess;
use meterdesk::db::Pool;
use meterdesk::db::session::Sessions;
use meterdesk::tools::demo::{DemoOperator, DemoSummary};

/// What `requests::execute` runs against, for tests that send no card request: the pool, and
/// one reader thread per test binary that is never asked for a card.
/// The demo operator `login` of a demo load, with the password it printed.
pub fn demo_operator<'a>(summary: &'a DemoSummary, login: &str) -> &'a DemoOperator {
    summary
        .operators
        .iter()
        .find(|operator| operator.login == login)
        .unwrap_or_else(|| panic!("the demo data has no operator {login}"))
}

pub fn services(pool: &Pool) -> Services {
    services_on(Sessions::signed_in(pool.clone()))
}

/// What the desk runs against before anyone signed in on the server of `conn_str`: signing in
/// through the keys connects as that operator, as the app does.
pub fn desk_services(conn_str: &str) -> Services {
    services_on(Sessions::new(conn_str, 4, Default::default()).expect("the server's settings"))
}

pub fn services_on(sessions: Sessions) -> Services {
    static READER: OnceLock<Arc<ReaderHandle>> = OnceLock::new();
    let reader = READER.get_or_init(|| Arc::new(reader::spawn(ReaderConfig::default(), |_| {})));
    Services {
        pool: sessions,
        reader: reader.clone(),
        card_access: Arc::new(CardAccess::unconfigured()),
        receipts: ReceiptOutput::default(),
    }
}

/// Executes every request `update` asked for against `services`, feeds the replies back, and
/// goes on with the requests those replies ask for, until none is left: the app as it runs,
/// one request at a time.
pub async fn settle(app: &mut App, services: &Services, mut queue: Vec<(RequestId, Request)>) {
    while !queue.is_empty() {
        let mut next = Vec::new();
        for (id, request) in queue {
            let outcome = requests::execute(services, request).await;
            next.extend(update(app, Msg::Reply { id, outcome }).requests);
        }
        queue = next;
    }
}

/// The clerk read the question on screen: the next key answers it (an F2 within
/// `hub::READ_TIME` of a sum the desk worked out is dropped, s44-d, s45-d).
pub fn read_the_question(app: &mut App) {
    app.asked_at = app.asked_at.map(|at| at - meterdesk::app::hub::READ_TIME);
}

/// A key pressed, and everything it asks for run to its end.
pub async fn press_and_settle(app: &mut App, services: &Services, code: KeyCode) {
    let sent = update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))).requests;
    settle(app, services, sent).await;
}
