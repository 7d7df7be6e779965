//! What the hub knows of a screen. Each screen is a module of `crate::screens` that implements
//! [`Screen`] (its state, keys, replies, commands, crumb and draw) and owns its requests, each
//! a [`ScreenRequest`] that knows how to execute itself. The hub routes: a key to the screen on
//! top, a reply to the screen that asked (wherever it is in the stack), effects back to the
//! loop through [`Hub`] (send, say, open, leave, replace). The hub never names a screen: the
//! first screen and the screens a command opens come from the [`Registry`] that the
//! composition root (`screens::REGISTRY`) hands to `App::new`.

use std::any::Any;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::command::Command;
use super::requests::{Progress, Services};
use super::state::{App, Failure, InFlight, MessageKind, Request, Slot};
use super::update::{Outgoing, say, send};
use crate::i18n::Lang;

/// A screen: one module of `crate::screens`. The hub calls it only while it is on top (keys,
/// commands, notices, draw) or when an answer to one of its requests arrives.
pub trait Screen: ScreenBase + Debug + Send {
    /// Its part of the breadcrumbs on the top line.
    fn crumb(&self, lang: Lang) -> String;

    /// The commands it offers with the catalogue key of each label: the legend, the help and
    /// the command line are built from this, and `invoke` refuses any other command.
    fn commands(&self) -> Vec<(Command, &'static str)>;

    /// Draws its body: a pure function of its state and the app's shared parts (language,
    /// keymap, look, session, time zone).
    fn draw(&self, frame: &mut Frame, area: Rect, app: &App);

    /// Just put on the stack: ask for what it shows.
    fn on_open(&mut self, _hub: &mut Hub) {}

    /// A key no overlay took, with the command it is bound to; true when the screen used it,
    /// otherwise the hub invokes the command.
    fn on_key(&mut self, _key: KeyEvent, _command: Option<Command>, _hub: &mut Hub) -> bool {
        false
    }

    /// A command it offers, from a key or the command line; true when it handled it (the hub
    /// handles help, the command line, quit, the registry's screens, leave and log out).
    fn on_command(&mut self, _command: Command, _hub: &mut Hub) -> bool {
        false
    }

    /// The answer to one of its requests, even if other screens cover it meanwhile.
    fn on_reply(&mut self, _request: &dyn ScreenRequest, _reply: &dyn ScreenReply, _hub: &mut Hub) {
    }

    /// One of its requests failed (the hub says why on the message line): a screen that
    /// waited on a save may save again.
    fn on_failure(&mut self, _request: &dyn ScreenRequest, _hub: &mut Hub) {}

    /// Whether `key` must wait for an answer on its way (type-ahead), beyond the requests that
    /// hold input: the customer table's rows wait for the search typed before.
    fn key_waits(&self, _key: &KeyEvent, _app: &App) -> bool {
        false
    }

    /// A long request of its own is `done` of `total` through (the meter import); true when
    /// the screen shows it.
    fn on_progress(&mut self, _done: u64, _total: u64) -> bool {
        false
    }

    /// The terminal's rows changed the table's page size.
    fn on_resize(&mut self, _hub: &mut Hub) {}

    /// Another screen changed what this one shows (see [`Notice`]).
    fn on_notice(&mut self, _notice: &Notice, _hub: &mut Hub) {}
}

/// What one screen tells the one below it after a change (the screens that save, to the
/// customer table they were opened from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Data changed: reload where you are.
    Reload,
    /// Show this customer number (just opened).
    ShowCustomer(String),
}

/// Cloning and downcasting a boxed screen; implemented for every `Clone` screen.
pub trait ScreenBase: Any {
    fn clone_box(&self) -> Box<dyn Screen>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Screen + Clone> ScreenBase for T {
    fn clone_box(&self) -> Box<dyn Screen> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn Screen> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Identifies a screen on the stack, so an answer finds the screen that asked.
pub type ScreenId = u64;

/// What executing a request answers: the screen's own reply type, or why it failed.
pub type Answer<'a> =
    Pin<Box<dyn Future<Output = Result<Box<dyn ScreenReply>, Failure>> + Send + 'a>>;

/// A screen's request: its own type, executed off the UI task by the runner. The hub knows of
/// it only what it needs for type-ahead and for writes exactly once.
pub trait ScreenRequest: RequestBase + Debug + Send + Sync {
    /// Its answer changes the screen: keys typed meanwhile wait for it. A read that only fills
    /// in what the screen shows does not.
    fn holds_input(&self) -> bool {
        false
    }

    /// It changes the database: once sent it is never cancelled, and when the connection is
    /// lost it is parked and sent again as it was (with its idempotency key).
    fn writes(&self) -> bool {
        false
    }

    /// The key that makes a write apply once however often it is sent (`App::write_key`).
    fn idempotency_key(&self) -> Option<&str> {
        None
    }

    /// Runs it against the database (and the reader): on a tokio task, never the UI task. A
    /// long one reports how far it is through `progress` (the meter import).
    fn execute<'a>(&'a self, services: &'a Services, progress: &'a Progress<'a>) -> Answer<'a>;

    /// Its answer came after its screen was closed: a write tells its outcome here, on the
    /// message line wherever the clerk is; a read is simply dropped.
    fn answered_after_close(&self, _reply: &dyn ScreenReply, _hub: &mut Hub) {}
}

/// Cloning, comparing and downcasting a boxed request; implemented for every request type.
pub trait RequestBase: Any {
    fn clone_box(&self) -> Box<dyn ScreenRequest>;
    fn eq_dyn(&self, other: &dyn Any) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<T: ScreenRequest + Clone + PartialEq> RequestBase for T {
    fn clone_box(&self) -> Box<dyn ScreenRequest> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Clone for Box<dyn ScreenRequest> {
    fn clone(&self) -> Self {
        RequestBase::clone_box(self.as_ref())
    }
}

impl PartialEq for Box<dyn ScreenRequest> {
    fn eq(&self, other: &Self) -> bool {
        RequestBase::eq_dyn(self.as_ref(), RequestBase::as_any(other.as_ref()))
    }
}

impl dyn ScreenRequest {
    /// This request as the screen's own type.
    pub fn of<T: 'static>(&self) -> Option<&T> {
        RequestBase::as_any(self).downcast_ref()
    }
}

/// A screen's answer: any plain data type; the screen that asked knows which.
pub trait ScreenReply: Any + Debug + Send + Sync {
    fn clone_box(&self) -> Box<dyn ScreenReply>;
    fn eq_dyn(&self, other: &dyn Any) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any + Debug + Clone + PartialEq + Send + Sync> ScreenReply for T {
    fn clone_box(&self) -> Box<dyn ScreenReply> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Clone for Box<dyn ScreenReply> {
    fn clone(&self) -> Self {
        ScreenReply::clone_box(self.as_ref())
    }
}

impl PartialEq for Box<dyn ScreenReply> {
    fn eq(&self, other: &Self) -> bool {
        ScreenReply::eq_dyn(self.as_ref(), ScreenReply::as_any(other.as_ref()))
    }
}

impl dyn ScreenReply {
    /// This reply as the type the screen's request answers with.
    pub fn of<T: 'static>(&self) -> Option<&T> {
        ScreenReply::as_any(self).downcast_ref()
    }
}

/// What the hub cannot name, handed over by the composition root (`screens::REGISTRY`): the
/// first screen, the screens a command opens from any screen that offers it, and the drawing
/// of a whole frame (`ui::draw`, which the runner calls).
#[derive(Debug)]
pub struct Registry {
    /// The sign-in screen: at start and after logging out.
    pub sign_in: NewScreen,
    /// A command and the screen it opens on top, from a screen that offers the command.
    pub opens: &'static [(Command, NewScreen)],
    /// A command and the screen it opens on top from any screen once signed in (`:meters`).
    pub opens_anywhere: &'static [(Command, NewScreen)],
    pub draw: fn(&mut Frame, &App),
}

/// Makes a screen, to be opened.
pub type NewScreen = fn() -> Box<dyn Screen>;

/// What a screen may do to the rest of the app while the hub calls it: read the shared state
/// (`app`), send requests, say a message, open, leave or replace screens. The screen being
/// called is out of the stack meanwhile (a vacant slot keeps its place).
pub struct Hub<'a> {
    pub app: &'a mut App,
    pub out: &'a mut Vec<Outgoing>,
}

impl Hub<'_> {
    /// Sends a request; its answer comes back to the screen being called.
    pub fn send(&mut self, request: impl ScreenRequest + Clone + PartialEq) {
        send(self.app, Request(Box::new(request)), self.out);
    }

    /// Forgets the requests on their way that `unwanted` picks: their answers are dropped and
    /// their tasks aborted (a newer search supersedes an older one).
    pub fn forget(&mut self, unwanted: impl Fn(&dyn ScreenRequest) -> bool) {
        self.app.in_flight.retain(|InFlight { request, .. }| {
            !matches!(request, Request(request) if unwanted(request.as_ref()))
        });
    }

    /// Whether a request on its way matches `wanted`.
    pub fn asking(&self, wanted: impl Fn(&dyn ScreenRequest) -> bool) -> bool {
        asking(self.app, wanted)
    }

    /// Whether a write the calling screen sent is on its way or parked: what was sent is what
    /// will be saved, so the screen refuses to edit or save again meanwhile (and says that the
    /// save waits, `db.write_parked`).
    pub fn saving(&self) -> bool {
        let mine = |request: &Request, asker: Option<ScreenId>| {
            asker.is_some() && asker == self.app.calling && request.writes()
        };
        self.app.in_flight.iter().any(|f| mine(&f.request, f.asker))
            || self.app.parked.iter().any(|p| mine(&p.request, p.asker))
    }

    pub fn say(&mut self, kind: MessageKind, text: impl Into<String>) {
        say(self.app, kind, text);
    }

    /// Tells the screen on top (not the one being called) that what it shows changed: a save,
    /// to the list or table it was opened from.
    pub fn notify(&mut self, notice: Notice) {
        super::update::notify(self.app, notice, self.out);
    }

    /// Puts `screen` on top (F3 comes back) and lets it ask for what it shows.
    pub fn open(&mut self, screen: Box<dyn Screen>) {
        let id = self.app.screen_id();
        super::update::open(self.app, Slot::Module(id, screen));
        super::update::opened(self.app, self.out, id);
    }

    /// Puts `screen` in the place of the screen being called (sign-in → the customer table)
    /// and lets it ask for what it shows.
    pub fn replace(&mut self, screen: Box<dyn Screen>) {
        let id = self.app.screen_id();
        let slot = Slot::Module(id, screen);
        match super::update::calling_slot(self.app) {
            Some(place) => *place = slot,
            None => self.app.screen = slot,
        }
        super::update::opened(self.app, self.out, id);
    }

    /// Closes the screen being called; if it was on top, the one below comes back.
    pub fn leave(&mut self) {
        match self.app.calling {
            Some(id) if !matches!(self.app.screen, Slot::Vacant(at) if at == id) => self
                .app
                .below
                .retain(|slot| !matches!(slot, Slot::Vacant(at) if *at == id)),
            _ => super::update::leave(self.app),
        }
    }
}

/// Whether a screen request on its way matches `wanted`.
pub fn asking(app: &App, wanted: impl Fn(&dyn ScreenRequest) -> bool) -> bool {
    app.in_flight
        .iter()
        .any(|f| matches!(&f.request, Request(request) if wanted(request.as_ref())))
}

impl Slot {
    /// The screen module in this slot as its own type.
    pub fn module<T: 'static>(&self) -> Option<&T> {
        match self {
            Slot::Module(_, screen) => screen.as_ref().as_any().downcast_ref(),
            _ => None,
        }
    }

    pub fn module_mut<T: 'static>(&mut self) -> Option<&mut T> {
        match self {
            Slot::Module(_, screen) => screen.as_mut().as_any_mut().downcast_mut(),
            _ => None,
        }
    }

    pub fn is<T: 'static>(&self) -> bool {
        self.module::<T>().is_some()
    }
}
