//! Report lost, from the Replace card confirmation (supervisors): the customer's card is void
//! and blacklisted at once, before a blank card for the replacement is at hand.

use super::common::{CardScreen, Customer, card_no, leave_changed, say_refusal};
use crate::app::Hub;
use crate::app::card_status::{ReadFor, read_card};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenRequest};
use crate::app::state::MessageKind;
use crate::card::reader::ReaderState;
use crate::db::card_ops::{self, Refusal};

/// Reports `customer_id`'s active card lost; answered with [`ReportedLost`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLost {
    pub customer_id: i64,
}

/// The card number reported lost, or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedLost(pub Result<u32, Refusal>);

impl ScreenRequest for ReportLost {
    /// Once sent it cannot be called back: its answer is awaited and shown.
    fn writes(&self) -> bool {
        true
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let mut client = services.pool.get().await?;
            let reported = card_ops::report_lost(&mut client, self.customer_id).await?;
            Ok(Box::new(ReportedLost(reported)) as _)
        })
    }
}

impl CardScreen {
    pub(super) fn report_lost(&mut self, customer: &Customer, hub: &mut Hub) {
        if hub.allowed("card.replace") {
            hub.send(ReportLost {
                customer_id: customer.id,
            });
        }
    }

    pub(super) fn reported_lost(&mut self, reported: &ReportedLost, hub: &mut Hub) {
        match &reported.0 {
            Ok(number) => {
                let text = hub
                    .app
                    .lang
                    .tf("ic.reported_lost", &[("card", &card_no(*number))]);
                hub.say(MessageKind::Info, text);
                // The lost card may be the one on the reader: show it void.
                if matches!(hub.app.reader, ReaderState::CardPresent { .. }) {
                    read_card(hub.app, ReadFor::Status, hub.out);
                }
                // No new card yet: back to the row the clerk came from, which shows the card
                // lost; the card pane would show whatever card is on the reader instead.
                leave_changed(hub);
            }
            Err(refusal) => say_refusal(hub, refusal),
        }
    }
}
