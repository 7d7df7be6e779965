//! The commands on one customer — modify, transfer, open, replace and recharge a card, the
//! account, a meter reading, the bills, closing the account — from the table's selected row and from the customer's details alike: the same
//! keys, the same permissions, the same screens they open.

use super::account::AccountScreen;
use super::bills::BillsScreen;
use super::card;
use super::close_account;
use super::legend::Labelled;
use super::modify::ModifyView;
use super::reading::ReadingForm;
use super::transfer;
use crate::app::{Command, Hub};
use crate::db::accounts::Movement;
use crate::db::customers::CustomerRow;

/// The commands on one customer, from the table's selected row and from the customer's details
/// alike (same keys, same checks).
pub const ROW_ACTIONS: [Command; 9] = [
    Command::Modify,
    Command::Transfer,
    Command::OpenCard,
    Command::ReplaceCard,
    Command::Recharge,
    Command::Account,
    Command::EnterReading,
    Command::Bills,
    Command::CloseAccount,
];

/// The card's own keys: offered only to a customer whose meter takes a card.
const CARD_ONLY: [Command; 2] = [Command::OpenCard, Command::ReplaceCard];

/// The row actions offered on `row`'s customer: the card's own keys only where the meter takes
/// a card (`card::takes_a_card`); with no row, every one.
pub fn offered_on(row: Option<&CustomerRow>) -> impl Iterator<Item = Command> + '_ {
    ROW_ACTIONS
        .into_iter()
        .filter(move |command| !CARD_ONLY.contains(command) || row.is_none_or(card::takes_a_card))
}

/// [`offered_on`] with the label each command has on `row`'s customer: F8 on a postpaid
/// customer takes a deposit, and says so ("F8 Recharge" / "F8 充值" led to "Take a deposit" /
/// "预存", s38-e by hand); elsewhere the usual label.
pub fn labelled_on(row: Option<&CustomerRow>) -> impl Iterator<Item = Labelled> + '_ {
    offered_on(row).map(move |command| match command {
        Command::Recharge if row.is_some_and(|row| row.business_model == "postpaid") => {
            (command, "acct.cmd_deposit")
        }
        _ => (command, command.label_key()),
    })
}

/// A card key typed anyway on a customer whose meter takes no card (not offered there): told
/// why in the row's words ("no card meter"; a permission's refusal first), as `act_on` does.
/// False for any other command.
pub fn refuse_not_offered(row: Option<&CustomerRow>, command: Command, hub: &mut Hub) -> bool {
    match row {
        Some(row) if CARD_ONLY.contains(&command) && !card::takes_a_card(row) => {
            act_on(row, command, hub);
            true
        }
        _ => false,
    }
}

/// Money of a customer without a card meter does not travel on a card: their recharge is the
/// account's recharge (system-side prepaid) or deposit (postpaid).
fn recharges_the_account(row: &CustomerRow) -> bool {
    !card::takes_a_card(row)
}

/// Does `command`, one of [`ROW_ACTIONS`], on the customer of `row`: the form or the screen it
/// opens, or why the row refuses it.
pub fn act_on(row: &CustomerRow, command: Command, hub: &mut Hub) {
    match command {
        Command::Modify => hub.open(Box::new(ModifyView::of(row.id, row.customer_no))),
        Command::Transfer => transfer::start(row, hub),
        Command::Account => hub.open(Box::new(AccountScreen::of(row, None))),
        Command::EnterReading if row.status != "active" => {
            // A closed customer's meter is removed: it is read no more.
            let number = format!("{:08}", row.customer_no);
            let text = hub
                .app
                .lang
                .tf("close_account.read_only", &[("number", &number)]);
            hub.say(crate::app::state::MessageKind::Error, text);
        }
        Command::EnterReading if !recharges_the_account(row) => {
            // A card meter's water is paid on its card: the database takes no reading of it
            // (sql/V76), so the clerk is told before typing one, not at F2.
            let text = hub.app.lang.t("readings.card_meter").to_owned();
            hub.say(crate::app::state::MessageKind::Error, text);
        }
        Command::EnterReading => hub.open(Box::new(ReadingForm::of(row.id, row.customer_no))),
        Command::Bills => hub.open(Box::new(BillsScreen::of(row.id, row.customer_no))),
        Command::CloseAccount => close_account::start(row, hub),
        Command::Recharge if recharges_the_account(row) => {
            hub.open(Box::new(AccountScreen::of(row, Some(Movement::Deposit))));
        }
        _ => card::for_customer(hub, command, row),
    }
}

/// The permission a command needs on the customer of `row` (none selected: what it needs on a
/// card customer): `Modify` modifies the customer here, a recharge without a card meter takes
/// money into the account; the others need theirs everywhere (`Command::permission`).
pub fn row_permission(command: Command, row: Option<&CustomerRow>) -> Option<&'static str> {
    match command {
        Command::Modify => Some("customer.modify"),
        Command::Recharge if row.is_some_and(recharges_the_account) => Some("account.deposit"),
        _ => command.permission(),
    }
}
