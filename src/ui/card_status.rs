//! The reader part of the status line: what the card on the reader is (`App::card`).

use super::inert::inert;
use crate::app::App;
use crate::app::card_status::CardSeen;
use crate::card::reader::ReaderState;

/// The reader part of the status line.
pub fn status(app: &App) -> String {
    let lang = app.lang;
    let card_no = |number: u32| format!("{number:08}");
    match (&app.reader, &app.card) {
        (ReaderState::NoService, _) => lang.t("status.reader_no_service").to_owned(),
        (ReaderState::NoReader, _) => lang.t("status.reader_none").to_owned(),
        (ReaderState::NoCard { .. }, _) => lang.t("status.reader_no_card").to_owned(),
        // Cards are read for a signed-in operator only.
        (ReaderState::CardPresent { .. }, _) if app.session.is_none() => {
            lang.t("ic.status_present").to_owned()
        }
        (ReaderState::CardPresent { .. }, None | Some(CardSeen::Reading)) => {
            lang.t("ic.status_reading").to_owned()
        }
        (ReaderState::CardPresent { .. }, Some(seen)) => match seen {
            CardSeen::Reading => unreachable!("matched above"),
            CardSeen::NotOurs | CardSeen::Foreign { .. } => lang.t("ic.status_foreign").to_owned(),
            CardSeen::Blank => lang.t("ic.status_blank").to_owned(),
            CardSeen::Unreadable(_) => lang.t("ic.status_unreadable").to_owned(),
            CardSeen::System(seen) => {
                let kind = format!("system_card.kind_{}", seen.card.kind.as_str());
                lang.tf(
                    "system_card.status",
                    &[
                        ("kind", &lang.t(&kind)),
                        ("card", &card_no(seen.card.card_number)),
                        ("meter", &inert(seen.card.meter_number.as_str())),
                    ],
                )
            }
            CardSeen::User {
                card, owner: None, ..
            } => lang.tf(
                "ic.status_unknown",
                &[("card", &card_no(card.issue.card_number))],
            ),
            CardSeen::User {
                card,
                owner: Some(owner),
                ..
            } => {
                let key = if owner.card_state == "active" {
                    "ic.status_user"
                } else {
                    "ic.status_void"
                };
                lang.tf(
                    key,
                    &[
                        ("card", &card_no(card.issue.card_number)),
                        ("customer", &format!("{:08}", owner.customer_no)),
                        ("name", &inert(&owner.name)),
                    ],
                )
            }
        },
    }
}
