//! How a reference screen's request travels. Each screen module has its own request type (a
//! [`RefWork`]: what it asks the database, how, and what the answer to a change says) and its
//! reply type; the screen sends it as a [`RefCall`], on behalf of the operator signed in, and
//! hears a [`RefAnswer`]. Every change is checked against the operator's permission again here
//! (the roles may have changed since sign-in) and carries the idempotency key made when the
//! clerk pressed F2 ([`App::write_key`](crate::app::App::write_key)): sent again after a lost
//! connection, it is applied once (`db::applied_write`).

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use crossterm::event::KeyEvent;
use deadpool_postgres::Client;

use crate::app::hub::Request;
use crate::app::hub::not_permitted;
use crate::app::permissions;
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, Notice, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, MessageKind};
use crate::app::{App, Command, Hub, Screen};
use crate::db::{Deadlines, operators};
use crate::i18n::Lang;
use crate::ui::inert::inert;

/// What the answer to a change says: done (the text to tell), or refused (each text with the
/// form field it concerns, if any).
pub type ChangeAnswer = Result<String, Vec<(Option<&'static str>, String)>>;

/// The "field" of a save refused as another desk saved the row since its form was read
/// ([`Says::changed`]): no field's, said on the message line, and the list under the form is
/// read again.
pub(crate) const CHANGED_MEANWHILE: &str = "ref.changed_meanwhile";

/// One reference screen's requests.
pub trait RefWork: Debug + Clone + PartialEq + Send + Sync + 'static {
    type Reply: Debug + Clone + PartialEq + Send + Sync + 'static;

    /// The permission its changes need (`sql/V2`); viewing needs none.
    const PERMISSION: &'static str;

    /// The idempotency key of a change or an import; a read has none.
    fn idempotency_key(&self) -> Option<&str>;

    /// How long it may go unanswered ([`ScreenRequest::deadline`]).
    fn deadline(&self, deadlines: &Deadlines) -> Duration {
        deadlines.request()
    }

    /// Runs it (permitted), on a request task.
    fn run(&self, db: Db<'_>) -> impl Future<Output = Result<Self::Reply, Failure>> + Send;

    /// What the answer to a change says; None for the answer to a read.
    fn told(&self, reply: &Self::Reply, lang: Lang) -> Option<ChangeAnswer>;

    /// Whether this change, done, may change what the signed-in operator's roles allow (a
    /// role's permissions, an operator's roles): the desk then reads its permissions again.
    fn changes_permissions(&self) -> bool {
        false
    }

    /// A screen to put on top once a change is done (an operator's temporary password, shown
    /// once); None for most.
    fn shown_after(&self, _reply: &Self::Reply) -> Option<Box<dyn Screen>> {
        None
    }
}

/// A [`RefWork`]'s `idempotency_key`: the variants that only read, then those that change
/// something and carry the key made on F2 (an `idempotency_key` field). The `match` it writes
/// names every variant, so a new one must be put in one of the two lists: a new change cannot
/// silently become a read (sent without a key, it would be "applied once" for all).
macro_rules! keyed {
    ($request:ident, reads: [$($read:ident),*], writes: [$($write:ident),+ $(,)?]) => {
        fn idempotency_key(&self) -> Option<&str> {
            match self {
                $($request::$read { .. } => None,)*
                $($request::$write { idempotency_key, .. } => Some(idempotency_key),)+
            }
        }
    };
}
pub(crate) use keyed;

/// What a request runs with: a connection, the operator it runs for, and where a long one
/// reports how far it is (rows sent, of all).
pub struct Db<'a> {
    pub client: &'a mut Client,
    pub operator_id: i64,
    pub progress: &'a Progress<'a>,
}

/// A reference screen's request `work`, on behalf of the operator `operator_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefCall<W> {
    pub operator_id: i64,
    pub work: W,
}

/// What a [`RefCall`] answers.
#[derive(Debug, Clone, PartialEq)]
pub enum RefAnswer<R> {
    Done(R),
    /// The operator's roles (as the database holds them now) do not allow the change.
    NotPermitted(&'static str),
}

impl<W: RefWork> RefCall<W> {
    /// `work` on behalf of the operator signed in.
    pub fn new(hub: &Hub, work: W) -> RefCall<W> {
        let operator_id = hub.app.session.as_ref().map_or(0, |s| s.operator_id);
        RefCall { operator_id, work }
    }
}

impl<W: RefWork> ScreenRequest for RefCall<W> {
    /// A change or an import has a key, so it writes: it holds the keys until it answers, and
    /// F12 does not drop its answer (it may have been written). Lists, pages and the check of
    /// a file do neither (F3 or F12 leaves a long check, whose answer is then dropped).
    fn idempotency_key(&self) -> Option<&str> {
        self.work.idempotency_key()
    }

    fn deadline(&self, deadlines: &Deadlines) -> Duration {
        self.work.deadline(deadlines)
    }

    fn execute<'a>(&'a self, services: &'a Services, progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let mut client = services.pool.get().await?;
            let permission = W::PERMISSION;
            if self.writes() && !operators::has_permission(&client, permission).await? {
                return Ok(Box::new(RefAnswer::<W::Reply>::NotPermitted(permission)) as _);
            }
            let db = Db {
                client: &mut client,
                operator_id: self.operator_id,
                progress,
            };
            let reply = self.work.run(db).await?;
            Ok(Box::new(RefAnswer::Done(reply)) as _)
        })
    }

    /// A change answered after its screen closed is still told; the screen on top shows it,
    /// read again (a meter import's list too: its dialog closed before the answer).
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(answer) = reply.of::<RefAnswer<W::Reply>>()
            && change_done(&self.work, answer, hub)
        {
            hub.notify(Notice::Reload);
        }
        if let Some(answer) = reply.of::<RefAnswer<W::Reply>>() {
            show_after(&self.work, answer, hub);
        }
    }
}

/// Sends `work` on behalf of the operator signed in.
pub(crate) fn send<W: RefWork>(hub: &mut Hub, work: W) {
    let call = RefCall::new(hub, work);
    hub.send(call);
}

/// Whether `read` is on its way (sent, or parked until the database is back): a key that
/// needs what it brings (a form's choices) waits for it, as the card's keys wait for its read.
fn read_on_its_way<W: RefWork>(app: &App, read: &W) -> bool {
    let is_read = |request: &Request| {
        request
            .of::<RefCall<W>>()
            .is_some_and(|call| call.work == *read)
    };
    app.in_flight.iter().any(|f| is_read(&f.request))
        || app.parked.iter().any(|p| is_read(&p.request))
}

/// Whether `key`, a command that `needs` what `read` brings (a form's choices), waits for it:
/// while `read` is on its way, and no overlay (help, a question) takes the key instead.
pub(crate) fn command_waits_for<W: RefWork>(
    key: &KeyEvent,
    app: &App,
    read: &W,
    needs: impl Fn(Command) -> bool,
) -> bool {
    app.overlay.is_none()
        && app.keymap.command_for(key).is_some_and(needs)
        && read_on_its_way(app, read)
}

/// What a key waiting for `read` says: the list is being read, or its read waits for the
/// database (parked until it is back).
pub(crate) fn read_waiting_says<W: RefWork>(app: &App, read: &W) -> &'static str {
    let parked = app.parked.iter().any(|p| {
        p.request
            .of::<RefCall<W>>()
            .is_some_and(|call| call.work == *read)
    });
    if parked {
        "msg.list_read_waits_for_the_database"
    } else {
        "msg.reading_the_list"
    }
}

/// `request` and `reply` as a `W` request and its answer, if that is what they are.
pub(crate) fn answer<'a, W: RefWork>(
    request: &'a dyn ScreenRequest,
    reply: &'a dyn ScreenReply,
) -> Option<(&'a W, &'a RefAnswer<W::Reply>)> {
    Some((
        &request.of::<RefCall<W>>()?.work,
        reply.of::<RefAnswer<W::Reply>>()?,
    ))
}

/// Whether a `W` request that `wanted` picks is this one.
pub(super) fn is<W: RefWork>(request: &dyn ScreenRequest, wanted: impl Fn(&W) -> bool) -> bool {
    request
        .of::<RefCall<W>>()
        .is_some_and(|call| wanted(&call.work))
}

/// What the answer to `work` says, if it answered a change. Refused for a permission the desk
/// believed the operator had, or done and changing what roles allow, the desk reads their
/// permissions again (`app::permissions`).
pub(super) fn told<W: RefWork>(
    work: &W,
    answer: &RefAnswer<W::Reply>,
    hub: &mut Hub,
) -> Option<ChangeAnswer> {
    let lang = hub.app.lang;
    match answer {
        RefAnswer::NotPermitted(permission) => {
            permissions::reread(hub.app, hub.out);
            Some(Err(vec![(None, not_permitted(lang, &[permission]))]))
        }
        RefAnswer::Done(reply) => {
            let said = work.told(reply, lang);
            if matches!(said, Some(Ok(_))) && work.changes_permissions() {
                permissions::reread(hub.app, hub.out);
            }
            said
        }
    }
}

/// A change was answered: done, it says so (true: the screen asks again for what it shows);
/// refused, it says why.
pub(crate) fn change_done<W: RefWork>(
    work: &W,
    answer: &RefAnswer<W::Reply>,
    hub: &mut Hub,
) -> bool {
    match told(work, answer, hub) {
        Some(Ok(text)) => {
            hub.say(MessageKind::Info, text);
            true
        }
        Some(Err(problems)) => {
            super::common::say_problems(hub, problems);
            false
        }
        None => false,
    }
}

/// A change is done: the screen its work shows after it, if any, goes on top.
pub(crate) fn show_after<W: RefWork>(work: &W, answer: &RefAnswer<W::Reply>, hub: &mut Hub) {
    if let RefAnswer::Done(reply) = answer
        && let Some(screen) = work.shown_after(reply)
    {
        hub.open(screen);
    }
}

/// Texts of a change's answer: done with the catalogue text `key`, refused on the field
/// `label`, or refused on the message line.
pub(crate) struct Says {
    pub lang: Lang,
}

impl Says {
    pub fn done(&self, key: &str) -> ChangeAnswer {
        Ok(self.lang.t(key).to_owned())
    }

    /// A save told by what it saved: it may land after the clerk left the form (a save that
    /// waited for the database), on whatever screen they are on, where "Saved." alone says
    /// nothing. `what` is the kind's catalogue word (`audit_log.entity_*`), `name` the row's.
    pub fn saved(&self, what: &str, name: &str) -> ChangeAnswer {
        Ok(self.lang.tf(
            "ref.saved_named",
            &[("what", &self.lang.t(what)), ("name", &inert(name))],
        ))
    }

    /// A deletion told by what it deleted, as [`Says::saved`].
    pub fn deleted(&self, what: &str, name: &str) -> ChangeAnswer {
        Ok(self.lang.tf(
            "ref.deleted_named",
            &[("what", &self.lang.t(what)), ("name", &inert(name))],
        ))
    }

    /// A modify refused as saved by another desk since its form was read
    /// (`db::rows::as_read`); `what` as for [`Says::saved`]. Marked [`CHANGED_MEANWHILE`]: the
    /// form reads its list again.
    pub fn changed(&self, what: &str) -> ChangeAnswer {
        let text = self
            .lang
            .tf("ref.changed_meanwhile", &[("what", &self.lang.t(what))]);
        Err(vec![(Some(CHANGED_MEANWHILE), text)])
    }

    /// A delete refused as the row was changed by another desk since its list was read
    /// (`db::rows::as_read`); `what` as for [`Says::saved`].
    pub fn not_deleted(&self, what: &str) -> ChangeAnswer {
        self.said(self.lang.tf(
            "ref.changed_meanwhile_not_deleted",
            &[("what", &self.lang.t(what))],
        ))
    }

    pub fn on(&self, label: &'static str, text: String) -> ChangeAnswer {
        Err(vec![(Some(label), text)])
    }

    pub fn said(&self, text: String) -> ChangeAnswer {
        Err(vec![(None, text)])
    }
}

/// Another screen changed what this one shows: it asks for it again with `list`.
pub(crate) fn reload<W: RefWork>(notice: &Notice, list: W, hub: &mut Hub) {
    if *notice == Notice::Reload {
        send(hub, list);
    }
}

#[cfg(test)]
mod tests {
    /// A request with reads of each shape and a change.
    #[derive(Debug)]
    #[expect(dead_code, reason = "the fields only give the variants their shapes")]
    enum Asked {
        List,
        Page { at: u32 },
        Save { idempotency_key: String, id: i64 },
    }

    impl Asked {
        keyed!(Asked, reads: [List, Page], writes: [Save]);
    }

    #[test]
    fn keyed_gives_a_change_its_key_and_a_read_none() {
        let save = Asked::Save {
            idempotency_key: "k-1".into(),
            id: 7,
        };
        assert_eq!(save.idempotency_key(), Some("k-1"), "{save:?}");
        assert_eq!(Asked::List.idempotency_key(), None);
        assert_eq!(Asked::Page { at: 3 }.idempotency_key(), None);
    }
}
