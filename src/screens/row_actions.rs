//! The commands on one customer — modify, transfer, open, replace and recharge a card — from
//! the table's selected row and from the customer's details alike: the same keys, the same
//! permissions, the same screens they open.

use super::card;
use super::modify::ModifyView;
use super::transfer;
use crate::app::{Command, Hub};
use crate::db::customers::CustomerRow;

/// The commands on one customer, from the table's selected row and from the customer's details
/// alike (same keys, same checks).
pub const ROW_ACTIONS: [Command; 5] = [
    Command::Modify,
    Command::Transfer,
    Command::OpenCard,
    Command::ReplaceCard,
    Command::Recharge,
];

/// Does `command`, one of [`ROW_ACTIONS`], on the customer of `row`: the form or the card
/// screen it opens, or why the row refuses it.
pub fn act_on(row: &CustomerRow, command: Command, hub: &mut Hub) {
    match command {
        Command::Modify => hub.open(Box::new(ModifyView::of(row.id, row.customer_no))),
        Command::Transfer => transfer::start(row, hub),
        _ => card::for_customer(hub, command, row),
    }
}

/// The permission a command needs on a customer: `Modify` modifies the customer here; the
/// others need theirs everywhere (`Command::permission`).
pub fn row_permission(command: Command) -> Option<&'static str> {
    match command {
        Command::Modify => Some("customer.modify"),
        _ => command.permission(),
    }
}
