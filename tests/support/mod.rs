//! Shared test helpers. Each test binary compiles this module on its own and uses only part
//! of it, so unused helpers there are expected.
#![allow(dead_code)]

pub mod billing_desk;
pub mod card_desk;
pub mod card_rig;
pub mod commit_cutter;
pub mod desk;
pub mod pg;
pub mod stalling_relay;
pub mod tmux;

use std::sync::{Arc, OnceLock};

use meterdesk::app::requests::{ReceiptOutput, Services};
use meterdesk::card::reader::{self, ReaderConfig, ReaderHandle};
use meterdesk::cardflow::CardAccess;
use meterdesk::db::Pool;
use meterdesk::db::session::Sessions;

/// What `requests::execute` runs against, for tests that send no card request: the pool, and
/// one reader thread per test binary that is never asked for a card.
pub fn services(pool: &Pool) -> Services {
    services_on(Sessions::signed_in(pool.clone()))
}

/// What the desk runs against before anyone signed in on the server of `conn_str`: signing in
/// through the keys connects as that operator, as the app does.
pub fn desk_services(conn_str: &str) -> Services {
    services_on(Sessions::new(conn_str, 4, Default::default()).expect("the server's settings"))
}

fn services_on(sessions: Sessions) -> Services {
    static READER: OnceLock<Arc<ReaderHandle>> = OnceLock::new();
    let reader = READER.get_or_init(|| Arc::new(reader::spawn(ReaderConfig::default(), |_| {})));
    Services {
        pool: sessions,
        reader: reader.clone(),
        card_access: Arc::new(CardAccess::unconfigured()),
        receipts: ReceiptOutput::default(),
    }
}
