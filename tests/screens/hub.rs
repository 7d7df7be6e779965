//! The hub's routing, with two small screens of the test's own: an answer goes back to the
//! screen that asked although another screen covers it, also when its request was parked on a
//! lost connection and sent again; a covered screen that leaves closes itself, not the cover;
//! a screen knows while its write waits, and hears how far its long request is; a registered
//! screen opens from anywhere once signed in, in the place of the screen its `:` command was
//! typed on unless that one holds unsaved typing.

use meterdesk::app::requests::{Progress, Services};
use meterdesk::app::screen::{Answer, Registry, ScreenReply, ScreenRequest};
use meterdesk::app::state::{Look, MessageKind, Slot};
use meterdesk::app::{Command, Hub, Screen};
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::support::*;

/// A write the test answers itself with a number.
#[derive(Debug, Clone, PartialEq)]
struct Ask;

impl ScreenRequest for Ask {
    fn writes(&self) -> bool {
        true
    }

    /// Unlike the app's writes, it leaves the keys free: the test covers its screen meanwhile.
    fn holds_input(&self) -> bool {
        false
    }

    fn execute<'a>(&'a self, _services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async { panic!("the test answers it") })
    }
}

/// Asks on F5, unless its question waits; keeps the answers; an answer of 0 closes it.
#[derive(Debug, Clone, Default)]
struct Asker {
    answers: Vec<u32>,
    progress: Option<(u64, u64)>,
}

impl Screen for Asker {
    fn crumb(&self, _lang: Lang) -> String {
        "asker".into()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        vec![
            (Command::Refresh, "command.refresh"),
            (Command::CommandLine, "command.command_line"),
            (Command::Overview, "command.overview"),
        ]
    }

    fn draw(&self, _frame: &mut Frame, _area: Rect, _app: &App) {}

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        if command != Command::Refresh {
            return false;
        }
        if hub.saving() {
            hub.say(MessageKind::Info, "waits");
        } else {
            hub.send(Ask);
        }
        true
    }

    fn on_progress(&mut self, done: u64, total: u64) -> bool {
        self.progress = Some((done, total));
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        match reply.of::<u32>() {
            Some(0) => hub.leave(),
            answer => self.answers.extend(answer),
        }
    }
}

/// Covers the asker (opened by `:overview` here).
#[derive(Debug, Clone)]
struct Cover;

impl Screen for Cover {
    fn crumb(&self, _lang: Lang) -> String {
        "cover".into()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        vec![
            (Command::Leave, "legend.back"),
            (Command::CommandLine, "command.command_line"),
        ]
    }

    fn draw(&self, _frame: &mut Frame, _area: Rect, _app: &App) {}
}

static REGISTRY: Registry = Registry {
    after_a_read: |_, _| {},
    sign_in: || Box::new(Asker::default()),
    opens: &[(Command::Overview, || Box::new(Cover))],
    opens_anywhere: &[(Command::PendingCards, || Box::new(Asker::default()))],
    draw: ui::draw,
};

fn asker_below(app: &App) -> &Asker {
    let [asker] = app.below.as_slice() else {
        panic!("the asker is under the cover: {:?}", app.below)
    };
    asker.module::<Asker>().expect("the asker")
}

fn answers_below(app: &App) -> &[u32] {
    &asker_below(app).answers
}

fn cover(app: &mut App) {
    press(app, KeyCode::Char(':'));
    type_text(app, "overview");
    press(app, KeyCode::Enter);
    assert!(app.screen.is::<Cover>(), "{:?}", app.screen);
}

#[test]
fn an_answer_goes_to_the_screen_that_asked_under_another_one() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    let sent = press(&mut app, KeyCode::F(5));
    cover(&mut app);
    answer(&mut app, &sent, Reply::screen(7_u32));
    assert_eq!(answers_below(&app), [7]);
    assert!(app.screen.is::<Cover>(), "the cover stays on top");
}

#[test]
fn a_parked_request_answers_to_the_screen_that_sent_it_first() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    let sent = press(&mut app, KeyCode::F(5));
    connection_lost(&mut app, &sent);
    cover(&mut app);
    let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
    answer(&mut app, &resent, Reply::screen(8_u32));
    assert_eq!(answers_below(&app), [8]);
}

#[test]
fn a_covered_screen_that_leaves_closes_itself_not_the_one_on_top() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    let sent = press(&mut app, KeyCode::F(5));
    cover(&mut app);
    answer(&mut app, &sent, Reply::screen(0_u32));
    assert!(app.screen.is::<Cover>(), "{:?}", app.screen);
    assert!(app.below.is_empty(), "{:?}", app.below);
}

#[test]
fn a_screen_knows_while_its_write_is_on_its_way_or_parked() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    let sent = press(&mut app, KeyCode::F(5));
    assert!(press(&mut app, KeyCode::F(5)).is_empty(), "on its way");
    connection_lost(&mut app, &sent);
    assert!(press(&mut app, KeyCode::F(5)).is_empty(), "parked");
    assert_eq!(app.message.as_ref().map(|m| m.text.as_str()), Some("waits"));
    let resent = update(&mut app, Msg::Database(DbStatus::Connected)).requests;
    answer(&mut app, &resent, Reply::screen(9_u32));
    assert_eq!(
        press(&mut app, KeyCode::F(5)).len(),
        1,
        "answered: it asks again"
    );
}

#[test]
fn progress_goes_to_the_screen_that_asked() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    let sent = press(&mut app, KeyCode::F(5));
    cover(&mut app);
    let id = sent[0].0;
    let step = update(
        &mut app,
        Msg::Progress {
            id,
            done: 3,
            total: 10,
        },
    );
    assert!(step.redraw);
    assert_eq!(asker_below(&app).progress, Some((3, 10)));
}

#[test]
fn a_screen_registered_for_anywhere_opens_from_a_screen_that_does_not_offer_it() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    cover(&mut app);
    let pending = |app: &mut App| {
        press(app, KeyCode::Char(':'));
        type_text(app, "pending-cards");
        press(app, KeyCode::Enter);
    };
    pending(&mut app);
    assert_eq!(app.below.len(), 1, "not before signing in");
    assert!(app.screen.is::<Cover>());
    app.session = Some(session());
    pending(&mut app);
    assert!(app.screen.is::<Asker>(), "opened once signed in");
    assert_eq!(
        app.below.len(),
        1,
        "in the place of the cover it was typed on, not over it"
    );
}

/// A screen holding typing not saved.
#[derive(Debug, Clone)]
struct Draft;

impl Screen for Draft {
    fn crumb(&self, _lang: Lang) -> String {
        "draft".into()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        vec![
            (Command::Leave, "legend.back"),
            (Command::CommandLine, "command.command_line"),
        ]
    }

    fn draw(&self, _frame: &mut Frame, _area: Rect, _app: &App) {}

    fn unsaved(&self) -> bool {
        true
    }
}

#[test]
fn a_command_opens_over_a_screen_holding_typing_which_stays_below() {
    let mut app = App::new(KeyMap::default(), Lang::En, Look::default(), &REGISTRY);
    app.session = Some(session());
    cover(&mut app);
    let covered = std::mem::replace(&mut app.screen, Slot::Module(99, Box::new(Draft)));
    app.below.push(covered);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "pending-cards");
    press(&mut app, KeyCode::Enter);
    assert!(app.screen.is::<Asker>());
    assert_eq!(app.below.len(), 3, "over the draft, not in its place");
    assert!(app.below.last().is_some_and(|slot| slot.is::<Draft>()));
}

/// s39-g, by hand (the desk at 80×24): `:logout` Enter, then the next operator's sign-in typed
/// in one burst without looking (`admin` Tab, the password, F2). The sign-out asks first
/// ("Sign out? F2 signs out, any other key stays."); the `a` answered it and was then taken
/// as a table command too ("Add is not available here."), `m` opened Modify on the selected
/// customer, and the password went into its ID card field. A sign-in typed after the
/// question must not become table commands and customer data: held behind the question
/// (s39-b's `hold_behind_question`).
#[test]
fn a_sign_in_typed_after_logout_is_not_taken_as_table_commands() {
    let mut app = signed_in(Lang::En);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "logout");
    press(&mut app, KeyCode::Enter);
    let mut sent = Vec::new();
    for key in "admin".chars() {
        sent.extend(press(&mut app, KeyCode::Char(key)));
    }
    sent.extend(press(&mut app, KeyCode::Tab));
    for key in "QtmraWPemPdP".chars() {
        sent.extend(press(&mut app, KeyCode::Char(key)));
    }
    assert!(
        !app.screen.is::<meterdesk::screens::modify::ModifyView>(),
        "{}",
        render(&app)
    );
    assert!(sent.is_empty(), "{sent:?}");
}
