//! What the operator's roles allow, kept true during a session. The sign-in reads it
//! (`db::operators::signed_in`); a supervisor may change a role's permissions while its
//! operators are signed in, and the database checks the new ones at once. The desk reads
//! them again with the sign-in's query, as [`RereadPermissions`]:
//!
//! * when the database refused an operation for want of a permission (the desk believed it
//!   allowed): at once, so the legend and the help stop offering what was taken — a refusal
//!   that fails the request (`Failure`, in `update`), or one a screen's request answers in
//!   its own words, mostly said by [`say_refusal`]: the reference screens'
//!   `RefAnswer::NotPermitted`, a deposit or refund, a receipt's reprint, a card operation or
//!   a card reported lost, a settlement without the card, a system card issued, a report, the
//!   audit log, and a clear card's credit a read could not record for an operator the desk
//!   believed may (`screens::card::after_a_read`);
//! * every [`REREAD_EVERY`] while signed in: a permission given shows within that, and one
//!   taken before the clerk tries it.
//!
//! The database stays the boundary: a desk that has not learnt yet is refused, in words.

use std::time::Duration;

use super::hub::{
    Answer, App, Hub, Outgoing, Request, ScreenReply, ScreenRequest, TICK, asking, send,
};
use super::services::{Progress, Services};
use super::state::MessageKind;
use crate::db::operators::{self, SignedIn};

/// How often a signed-in desk reads its permissions again: one small query per desk, cheap
/// beside the searches a clerk makes in that time.
pub const REREAD_EVERY: Duration = Duration::from_secs(300);

/// Read the signed-in operator's roles and permissions again. The hub's own request: no
/// screen asks it, and its answer lands in `App::session` wherever the clerk is.
#[derive(Debug, Clone, PartialEq)]
pub struct RereadPermissions;

/// The operator as the database knows them now; `None` when the read failed.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionsNow(pub Option<SignedIn>);

impl ScreenRequest for RereadPermissions {
    /// A read in the background: a failure says nothing and changes nothing (the next
    /// refusal or period reads again, and the database refuses meanwhile as it must).
    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let now = match services.pool.get().await {
                Ok(client) => operators::signed_in(&client).await.ok().flatten(),
                Err(_) => None,
            };
            Ok(Box::new(PermissionsNow(now)) as _)
        })
    }

    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(PermissionsNow(Some(now))) = reply.of::<PermissionsNow>()
            && let Some(session) = hub.app.session.as_mut()
            && session.operator_id == now.operator_id
        {
            session.roles.clone_from(&now.roles);
            session.permissions.clone_from(&now.permissions);
        }
    }
}

/// A tick: the permissions are read again once they are [`REREAD_EVERY`] old.
pub fn on_tick(app: &mut App, out: &mut Vec<Outgoing>) {
    app.permissions_age = app.permissions_age.saturating_add(1);
    if TICK * app.permissions_age >= REREAD_EVERY {
        reread(app, out);
    }
}

/// Reads the permissions again, unless no one is signed in or a read is on its way already.
pub fn reread(app: &mut App, out: &mut Vec<Outgoing>) {
    let reading = asking(app, |request| request.as_any().is::<RereadPermissions>());
    app.permissions_age = 0;
    if app.session.is_some() && !reading {
        // Sent as the hub's own, whichever screen's refusal prompted it: its answer goes to
        // the session (`answered_after_close`), not to that screen.
        let caller = app.calling.take();
        send(app, Request(Box::new(RereadPermissions)), out);
        app.calling = caller;
    }
}

/// Says `text`, a screen's own words for a refusal its request was answered with, as an error;
/// one `for_want_of_permission` reads the permissions again, as a failed request's does in
/// `update`.
pub fn say_refusal(hub: &mut Hub, text: impl Into<String>, for_want_of_permission: bool) {
    if for_want_of_permission {
        reread(hub.app, hub.out);
    }
    hub.say(MessageKind::Error, text);
}
