//! `update`: the hub's router, the only code that changes `App` for a message. It routes a
//! key to the screen on top, a reply to the screen that asked, a command to the screen or the
//! registry; what screens ask through `Hub` (send, say, open, leave) is carried out in `hub`.
//! Pure: it returns the requests to send instead of doing I/O, so flows are tested by feeding
//! key sequences.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::card_status;
use super::command::Command;
use super::help;
use super::hub::*;
use super::permissions;
use crate::cardflow::WritesStopped;
use crate::domain::search::{CustomerSearch, classify};
use crate::i18n::Lang;

/// What one message asks of the runner.
#[derive(Debug, Default)]
pub struct Update {
    /// Requests to execute off the UI task.
    pub requests: Vec<Outgoing>,
    /// Whether the screen changed; most ticks and health reports change nothing, and an SSH
    /// link should not carry a frame for them.
    pub redraw: bool,
}

/// Applies one message.
pub fn update(app: &mut App, msg: Msg) -> Update {
    let mut out = Vec::new();
    let redraw = match msg {
        Msg::Key(key) => {
            for key in escape_apart(app, key) {
                typed(app, Typed::Key(key), &mut out);
            }
            true
        }
        Msg::Paste(text) => {
            for c in pasted_text(&text) {
                typed(app, Typed::Pasted(c), &mut out);
            }
            true
        }
        Msg::Resize(columns, rows) => {
            let old_rows = app.table_rows();
            app.viewport = (columns, rows);
            if app.table_rows() != old_rows {
                call_top(app, &mut out, |screen, hub| screen.on_resize(hub));
            }
            true
        }
        Msg::Tick => {
            app.spinner = app.spinner.wrapping_add(1);
            permissions::on_tick(app, &mut out);
            tell_waiting_saves(app);
            app.busy()
        }
        Msg::Reply { id, outcome } => match app.in_flight.iter().position(|f| f.id == id) {
            Some(at) => {
                let InFlight { request, asker, .. } = app.in_flight.remove(at);
                on_reply(app, request, asker, outcome, &mut out);
                true
            }
            None => false, // cancelled or superseded: the answer no longer matters
        },
        Msg::Database(status) => {
            let changed = status != app.database;
            app.database = status;
            if status == DbStatus::Connected && !app.parked.is_empty() {
                // A save sent again may wait once more (a lock, a slow server): said, lest the
                // clerk read "restored" as the save done and type it again.
                let back = if app.parked.iter().any(|p| p.request.writes()) {
                    "db.back_resending"
                } else {
                    "db.back"
                };
                for Parked { request, asker } in std::mem::take(&mut app.parked) {
                    // Sent again for the screen that sent it first.
                    let caller = std::mem::replace(&mut app.calling, asker);
                    send(app, request, &mut out);
                    app.calling = caller;
                }
                say(app, MessageKind::Info, app.lang.t(back));
            }
            changed || !out.is_empty()
        }
        Msg::SessionEnded(detail) => {
            session_ended(app, &detail);
            true
        }
        Msg::Reader(state) => card_status::on_reader(app, state, &mut out),
        Msg::Progress { id, done, total } => match app.in_flight.iter().find(|f| f.id == id) {
            Some(InFlight {
                request: Request(_),
                asker: Some(asker),
                ..
            }) => {
                let asker = *asker;
                call(app, &mut out, Place::Id(asker), |screen, _| {
                    screen.on_progress(done, total)
                }) == Some(true)
            }
            _ => false,
        },
    };
    // After any message, not only a reply: a request that held input may have been dropped
    // without one (a card read forgotten when the card went), and its keys must not wait on.
    let replayed = replay_type_ahead(app, &mut out);
    Update {
        requests: out,
        redraw: redraw || replayed,
    }
}

/// A key or a pasted character as it arrives.
fn typed(app: &mut App, typed: Typed, out: &mut Vec<Outgoing>) {
    // Keys already waiting go first: a key never overtakes one typed before it.
    if app.type_ahead.is_empty() || app.holds_input() {
        on_typed_key(app, typed, out);
    } else if matches!(typed, Typed::Key(key) if app.keymap.command_for(&key) == Some(Command::Cancel))
    {
        // ui.md: F12 and Esc are never queued. The keys wait for an answer a key asked for
        // (`Screen::key_waits`: a card still being read), which nothing holds: they go, the
        // answer lands as it would have anyway.
        app.type_ahead.clear();
        say(app, MessageKind::Info, app.lang.t("msg.cancelled"));
    } else {
        app.type_ahead.push_back(typed);
    }
}

/// Applies waiting keys while nothing holds them; whether any was applied.
fn replay_type_ahead(app: &mut App, out: &mut Vec<Outgoing>) -> bool {
    let mut replayed = false;
    loop {
        // Also a screen or pane a key replayed just brought on top: the keys behind it were
        // typed before it was seen.
        if top_drops_type_ahead(app) {
            drop_type_ahead_unread(app);
        }
        let Some(&typed) = app.type_ahead.front() else {
            return replayed;
        };
        if app.holds_input() || key_waits(app, &typed.key()) {
            return replayed;
        }
        app.type_ahead.pop_front();
        on_key(app, typed, out);
        replayed = true;
    }
}

fn top_drops_type_ahead(app: &App) -> bool {
    match &app.screen {
        Slot::Module(_, screen) => screen.drops_type_ahead(),
        _ => false,
    }
}

/// What the screen on top says while its keys wait for a read (`Screen::waiting_says`).
fn waiting_says(app: &App) -> Option<&'static str> {
    match &app.screen {
        Slot::Module(_, screen) => screen.waiting_says(app),
        _ => None,
    }
}

/// Whether the screen on top makes `key` wait for an answer on its way.
fn key_waits(app: &App, key: &KeyEvent) -> bool {
    match &app.screen {
        Slot::Module(_, screen) => screen.key_waits(key, app),
        _ => false,
    }
}

/// A key or a pasted character as typed. A message said on a screen it left does not linger on
/// the next one; one it said itself (`Saved`, then back to the table) stays. (What is replayed
/// from the type-ahead keeps the message: it may be the answer the key waited for.)
fn on_typed_key(app: &mut App, typed: Typed, out: &mut Vec<Outgoing>) {
    let (screen, said) = (app.top_screen(), app.said_count);
    on_key(app, typed, out);
    if app.top_screen() != screen && app.said_count == said {
        app.message = None;
    }
}

/// Esc and the key typed right after it arrive as one Alt+key when they travel together (type
/// ahead over SSH, a slow link): crossterm cannot tell them apart. An Alt+key the keymap does
/// not bind is therefore taken for what a clerk types, Esc and then the key (ui.md binds
/// nothing to Alt alone).
fn escape_apart(app: &App, key: KeyEvent) -> Vec<KeyEvent> {
    if !key.modifiers.contains(KeyModifiers::ALT) || app.keymap.command_for(&key).is_some() {
        return vec![key];
    }
    vec![
        KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
        KeyEvent::new(key.code, key.modifiers - KeyModifiers::ALT),
    ]
}

fn on_key(app: &mut App, typed: Typed, out: &mut Vec<Outgoing>) {
    let key = typed.key();
    // A pasted character is text: never a command, whatever key it would be.
    let command = match typed {
        Typed::Key(key) => app.keymap.command_for(&key),
        Typed::Pasted(_) => None,
    };
    if app.holds_input() {
        if command == Some(Command::Cancel) && app.in_flight.iter().any(|f| f.request.writes()) {
            // The database or the card may have been written already: the answer must be
            // heard. The keys typed ahead are dropped: the clerk asked to stop.
            app.type_ahead.clear();
            say(
                app,
                MessageKind::Info,
                app.lang.t("msg.write_not_cancelled"),
            );
        } else if command == Some(Command::Cancel) {
            // A reload is not the clerk's to cancel (`InFlight::reload`): with only reloads
            // on their way, a tired Esc drops the keys typed ahead, if any, and nothing else.
            let before = app.in_flight.len();
            app.in_flight
                .retain(|f| f.reload || !f.request.holds_input());
            let cancelled = app.in_flight.len() < before || !app.type_ahead.is_empty();
            app.type_ahead.clear();
            if cancelled {
                say(app, MessageKind::Info, app.lang.t("msg.cancelled"));
            }
        } else {
            app.type_ahead.push_back(typed);
        }
        return;
    }
    if key_waits(app, &key) {
        // A read the lost connection parked answers only once the database is back: said,
        // lest the key seem lost (F12/Esc cancel it meanwhile).
        if card_status::read_parked(app) {
            say(
                app,
                MessageKind::Info,
                app.t("ic.read_waits_for_the_database"),
            );
        } else if app.type_ahead.is_empty()
            && let Some(says) = waiting_says(app)
        {
            // Once, at the first key that waits: the keys behind it wait as well.
            say(app, MessageKind::Info, app.t(says));
        }
        app.type_ahead.push_back(typed);
        return;
    }
    // Tab on the command line completes the names typed there that run on this screen.
    let names = matches!(app.overlay, Some(Overlay::CommandLine(_))).then(|| command_names(app));
    match &mut app.overlay {
        Some(Overlay::Help { scroll, .. }) => {
            if matches!(
                command,
                Some(Command::Help | Command::Cancel | Command::Leave)
            ) {
                app.overlay = None;
            } else {
                let scroll = *scroll;
                let next = help_scrolled(app, scroll, key.code, command);
                if let Some(Overlay::Help { scroll, .. }) = &mut app.overlay {
                    *scroll = next;
                }
            }
        }
        Some(Overlay::Messages { back }) => match (key.code, command) {
            (_, Some(Command::Help | Command::Cancel | Command::Leave)) => app.overlay = None,
            (KeyCode::Up, _) => *back = (*back + 1).min(app.said.len().saturating_sub(1)),
            (KeyCode::Down, _) => *back = back.saturating_sub(1),
            _ => {}
        },
        Some(Overlay::CommandLine(line)) => match command {
            Some(Command::Cancel) => app.overlay = None,
            Some(Command::NextField) => complete(line, &names.unwrap_or_default()),
            _ if key.code == KeyCode::Enter => {
                let typed = line.input.value().trim().to_owned();
                app.overlay = None;
                run_command_line(app, &typed, out);
            }
            _ => {
                line.completing = None;
                line.input.handle_event(&crossterm::event::Event::Key(key));
            }
        },
        None => {
            if hold_behind_question(app, typed, command) {
                return;
            }
            // A question on the message line is answered by this key: only its own command
            // (or `:`, to type it) keeps it for `invoke`.
            // Another key says no: the question goes from the message line with it, lest F2,
            // read there, be pressed to answer what is no longer asked.
            let asked = app.asked;
            let answering = command.is_some_and(|command| {
                command == Command::CommandLine || answers(app, asked, command)
            });
            if !answering && app.asked.take().is_some() {
                app.message = None;
                // The keys held behind it were typed for where the yes would have gone: they
                // are dropped. Pressed once the question was read, this key only says no to
                // signing out or going home; to a form's leave it keeps editing, as it says.
                if !app.held.is_empty() {
                    let dropped = held_dropped(app);
                    if asked == Some(Question::Leave) {
                        on_screen_key(app, key, command, out);
                    }
                    say(app, dropped.kind, dropped.text);
                    return;
                }
            }
            let top = app.top_screen();
            let asked_at = app.asked_at;
            on_screen_key(app, key, command, out);
            // The form answered its own question (`invoke`, which takes a question away, never
            // saw the key): it is asked no more, or the keys typed next would wait behind it.
            let answered_in_form = answering
                && asked == Some(Question::Leave)
                && command != Some(Command::CommandLine)
                && app.asked_at == asked_at;
            if answered_in_form {
                app.asked = None;
            }
            // The form answered yes: the keys held go to the screen its leave put on top. A
            // pane that closed leaves the same screen, whose form they were not typed for:
            // dropped, and said.
            if answered_in_form && !app.held.is_empty() {
                if app.top_screen() != top {
                    release_held(app);
                } else {
                    let dropped = held_dropped(app);
                    say(app, dropped.kind, dropped.text);
                }
            }
        }
    }
}

/// Holds `typed` behind the question on the message line when it comes before the question
/// could be read: within [`READ_TIME`] of it being asked, or of the key held before it. A
/// clerk who typed `:logout Enter` and the next operator's sign-in in one burst meant the
/// sign-in for the sign-in screen, not for the details the question was asked on, where `m`
/// opened Modify and the password went into the ID number (s38-e). The keys wait for the
/// answer ([`App::held`]): a yes types them on the screen it puts on top, any other key drops
/// them and says how many. Not held: the question's own answer typed ahead by a clerk who
/// knows it (F3 F3 F2 from the details signs out) and F12 / Esc, which are never queued
/// (ui.md) and say no.
fn hold_behind_question(app: &mut App, typed: Typed, command: Option<Command>) -> bool {
    let (Some(question), Some(at)) = (app.asked, app.asked_at) else {
        return false;
    };
    let now = chrono::Utc::now();
    if now - at >= READ_TIME || command == Some(Command::Cancel) {
        return false;
    }
    let answer =
        command.is_some_and(|c| c == Command::CommandLine || answers(app, Some(question), c));
    // F3 again on the table only asks again (a tired clerk's F3s, session 27): not held.
    let asks_again =
        question == Question::SignOut && app.below.is_empty() && command == Some(Command::Leave);
    if app.held.is_empty() && (answer || asks_again) {
        return false;
    }
    let count = app.held.len() + 1;
    let text = match question {
        Question::SignOut if app.below.is_empty() => {
            app.tf("keyboard.held_sign_out", &[("count", &count)])
        }
        Question::SignOut => app.tf("keyboard.held_sign_out_anywhere", &[("count", &count)]),
        Question::Leave => app.tf("keyboard.held_leave", &[("count", &count)]),
        Question::Home => {
            let screen = unsaved_screen(app).unwrap_or_default();
            app.tf(
                "keyboard.held_home",
                &[("count", &count), ("screen", &screen)],
            )
        }
    };
    // Said as the question is: still asked (`say` would take it away), kept for `:messages`
    // once, not at every key of the burst.
    let message = Message {
        kind: MessageKind::Info,
        text,
    };
    if count == 1 {
        say(app, message.kind.clone(), message.text.clone());
        app.asked = Some(question);
    }
    app.message = Some(message);
    app.held.push_back(typed);
    app.asked_at = Some(now);
    true
}

/// The keys held behind a question answered yes go first, before any typed after the answer,
/// to the screen the answer puts on top.
fn release_held(app: &mut App) {
    while let Some(typed) = app.held.pop_back() {
        app.type_ahead.push_front(typed);
    }
}

/// Where the help's first row is after a key: ↑↓ a row, a page (the box less one row), the
/// first or last page; never past the row that shows its end.
fn help_scrolled(app: &App, scroll: usize, code: KeyCode, command: Option<Command>) -> usize {
    let page = help::page(app);
    let step = page.visible.saturating_sub(1).max(1);
    match (code, command) {
        (KeyCode::Up, _) => scroll.saturating_sub(1),
        (KeyCode::Down, _) => scroll + 1,
        (_, Some(Command::PageUp)) => scroll.saturating_sub(step),
        (_, Some(Command::PageDown)) => scroll + step,
        (_, Some(Command::First)) => 0,
        (_, Some(Command::Last)) => usize::MAX,
        _ => scroll,
    }
    .min(page.last_scroll())
}

/// Whether `command` says yes to the question `asked`.
fn answers(app: &App, asked: Option<Question>, command: Command) -> bool {
    match asked {
        // On the table the confirm key says yes: F3, the key that asked, pressed again by a
        // tired clerk on the way back, says no.
        Some(Question::SignOut) => {
            command == Command::Logout || (command == Command::Save && app.below.is_empty())
        }
        Some(Question::Home) => command == Command::Home,
        Some(Question::Leave) => matches!(command, Command::Leave | Command::Cancel),
        None => false,
    }
}

fn on_screen_key(app: &mut App, key: KeyEvent, command: Option<Command>, out: &mut Vec<Outgoing>) {
    let used = call_top(app, out, |screen, hub| screen.on_key(key, command, hub));
    if used != Some(true)
        && let Some(command) = command
    {
        invoke(app, command, false, out);
    }
}

/// Runs a command, whether it came from a key or the command line (`from_line`: a screen it
/// opens takes the place of the one it came from).
fn invoke(app: &mut App, command: Command, from_line: bool, out: &mut Vec<Outgoing>) {
    let asked = app.asked.take();
    if command == Command::CommandLine {
        app.asked = asked;
    }
    // A form's leave is answered in the form (`Question::Leave`), never here: F3 reaching the
    // hub on the table asks to sign out as ever.
    let confirmed = asked != Some(Question::Leave) && answers(app, asked, command);
    if !confirmed && command != Command::CommandLine && !app.held.is_empty() {
        // Another command typed on the line once the question was read: it runs, and the keys
        // held for the yes are dropped, said before whatever it says.
        let dropped = held_dropped(app);
        say(app, dropped.kind, dropped.text);
    }
    // The answer signs out wherever the key that gave it is bound (F2 is no table command).
    let command = if confirmed && asked == Some(Question::SignOut) {
        Command::Logout
    } else {
        command
    };
    // ui.md: F12 / Esc cancel or go back one level. Where there is nothing to cancel (a list)
    // they go back, as F3 does; the first screen, which F3 leaves by signing out, is left alone.
    let offered =
        |app: &App, wanted: Command| app.commands().iter().any(|(offered, _)| *offered == wanted);
    let command = if command == Command::Cancel
        && !app.below.is_empty()
        && !offered(app, Command::Cancel)
        && offered(app, Command::Leave)
    {
        Command::Leave
    } else {
        command
    };
    // On the first screen, with nothing to cancel (Esc pressed once too often on leaving a
    // form), the key does nothing, as Home does there: not an error for a tired key. (A
    // question on the message line went with the key, as with any key but its answer.)
    if command == Command::Cancel && app.below.is_empty() && !offered(app, Command::Cancel) {
        return;
    }
    // The reference lists are reachable from every screen once signed in (`:meters` …).
    let anywhere = app
        .registry
        .opens_anywhere
        .iter()
        .find(|(c, _)| *c == command);
    // A temporary password is changed before anything else.
    let navigation = app
        .session
        .as_ref()
        .is_some_and(|session| !session.must_change_password)
        && anywhere.is_some();
    // Going home and signing out work from every screen once signed in.
    let everywhere = app.session.is_some() && matches!(command, Command::Home | Command::Logout);
    if !navigation && !everywhere && !offered(app, command) {
        // F2 pressed on after a save took the clerk back to a list: the message line keeps
        // what the save said rather than calling the repeat an error.
        if command == Command::Save
            && app
                .message
                .as_ref()
                .is_some_and(|message| message.kind == MessageKind::Info)
        {
            return;
        }
        // The key and the command line meet the same words: the screen's, if it has any.
        if call_top(app, out, |screen, hub| screen.on_not_offered(command, hub)) == Some(true) {
            return;
        }
        let text = app.lang.tf(
            "msg.not_here",
            &[("command", &app.lang.t(command.label_key()))],
        );
        say_not_available(app, text);
        return;
    }
    // What the roles do not allow is refused here, in words, before a form is typed in vain
    // (the database refuses the write anyway).
    if !navigation && let Some(permission) = app.lacks(command) {
        let text = not_permitted(app.lang, &[permission]);
        say(app, MessageKind::Error, text);
        return;
    }
    // After a card refused this desk's PIN no card is written until a restart: said before
    // a form or a confirmation, not after the clerk typed and confirmed it.
    if command.writes_card() && app.card_pin.happened() {
        let text = card_status::writes_stopped(WritesStopped::PinRefused).text(app.lang);
        say(app, MessageKind::Error, text);
        return;
    }
    let for_the_hub = matches!(
        command,
        Command::Help | Command::CommandLine | Command::Quit | Command::Logout | Command::Home
    ) || navigation;
    if !for_the_hub
        && call_top(app, out, |screen, hub| screen.on_command(command, hub)) == Some(true)
    {
        return;
    }
    let opens = app.registry.opens.iter().find(|(c, _)| *c == command);
    if let Some((_, screen)) = opens.or(anywhere.filter(|_| navigation)) {
        let id = app.screen_id();
        let screen = screen();
        let same = matches!(&app.screen, Slot::Module(_, on_top)
            if on_top.as_ref().as_any().type_id() == screen.as_ref().as_any().type_id());
        if from_line && same {
            // The screen asked for is the one on top: it stays as it is.
            return;
        }
        let replaces = from_line && replaceable(app);
        open(app, Slot::Module(id, screen));
        opened(app, out, id);
        // Only once it stayed open: a screen that refuses as it opens (a permission) leaves
        // the clerk where they were.
        if replaces && matches!(app.screen, Slot::Module(on_top, _) if on_top == id) {
            app.below.pop();
        }
        return;
    }
    match command {
        Command::Help => {
            app.overlay = Some(Overlay::Help {
                scroll: 0,
                in_lookup: false,
            })
        }
        Command::CommandLine => app.overlay = Some(Overlay::CommandLine(CommandLine::default())),
        // Quitting drops a save waiting for the database (its first attempt may have landed,
        // which the desk cannot know): said once, the second quit quits (the database may
        // never come back).
        Command::Quit if app.parked.iter().any(|p| p.request.writes()) && !app.quit_warned => {
            app.quit_warned = true;
            say(app, MessageKind::Error, app.t("msg.quit_loses_save"));
        }
        Command::Quit => app.quit = true,
        Command::Home => {
            if confirmed {
                release_held(app);
            }
            go_home(app, confirmed)
        }
        Command::Leave if !app.below.is_empty() => leave(app),
        // Logging out would drop a save waiting for the database, its outcome never told.
        Command::Leave | Command::Logout if app.parked.iter().any(|p| p.request.writes()) => {
            say(app, MessageKind::Error, app.lang.t("msg.logout_waits"))
        }
        Command::Leave | Command::Logout if confirmed || !asks_before_signing_out(app) => {
            // The keys held behind the question are for the sign-in it puts on top. (Refused
            // above while a save waits: `say` drops them, kept in `:messages`.)
            release_held(app);
            sign_out(app);
            say(app, MessageKind::Info, app.lang.t("msg.logged_out"));
        }
        // Signing out ends the clerk's day at the desk: asked once, answered on the table by
        // F2, everywhere by `:logout` again (F3 elsewhere goes back a screen).
        Command::Leave | Command::Logout => {
            let question = if app.below.is_empty() {
                "keyboard.ask_sign_out"
            } else {
                "keyboard.ask_sign_out_anywhere"
            };
            ask(app, Question::SignOut, app.t(question));
        }
        // Refresh the screen does not handle itself reads again what it read when it opened.
        Command::Refresh => {
            call_top(app, out, |screen, hub| screen.on_open(hub));
        }
        _ => {}
    }
}

/// `:c 10023457` (ui.md): back to the customer table, which searches the number and opens the
/// customer's details when it is found. Screens with unsaved typing ask first, as `:home`
/// does; the command is typed again once they are left.
fn open_customer(app: &mut App, typed: &str, out: &mut Vec<Outgoing>) {
    let signed_in = app
        .session
        .as_ref()
        .is_some_and(|session| !session.must_change_password);
    if !signed_in {
        let text = app.tf("msg.not_here", &[("command", &":c")]);
        say(app, MessageKind::Error, text);
        return;
    }
    if !matches!(classify(typed), Ok(CustomerSearch::CustomerNo(_))) {
        let text = app.tf("msg.not_a_customer_number", &[("typed", &typed)]);
        say(app, MessageKind::Error, text);
        return;
    }
    go_home(app, false);
    if !app.below.is_empty() {
        return;
    }
    let notice = Notice::ShowCustomer {
        number: typed.to_owned(),
        open: true,
    };
    notify(app, notice, out);
}

/// Signing out is asked first, except from the forced change of a temporary password, where
/// there is nothing yet to leave.
fn asks_before_signing_out(app: &App) -> bool {
    app.session
        .as_ref()
        .is_some_and(|session| !session.must_change_password)
}

/// Whether a screen a `:` command opens may take the place of the one on top: not the
/// customer table at the bottom (home), not a screen holding unsaved typing or whose save is
/// on its way or waiting (it stays below, F3 comes back to it).
fn replaceable(app: &App) -> bool {
    let Slot::Module(id, screen) = &app.screen else {
        return false;
    };
    !app.below.is_empty() && !screen.unsaved() && !saving(app, *id)
}

/// Back to the customer table at the bottom of the stack, closing every screen above it; a
/// screen holding unsaved typing makes it ask first (`confirmed`: asked and answered).
fn go_home(app: &mut App, confirmed: bool) {
    if app.below.is_empty() {
        return;
    }
    if let Some(screen) = unsaved_screen(app)
        && !confirmed
    {
        let text = app.tf("keyboard.ask_home", &[("screen", &screen)]);
        ask(app, Question::Home, text);
        return;
    }
    app.screen = app.below.swap_remove(0);
    app.below.clear();
}

/// The first screen on the way home that holds unsaved typing, by its crumb.
fn unsaved_screen(app: &App) -> Option<String> {
    std::iter::once(&app.screen)
        .chain(app.below.iter().skip(1).rev())
        .find_map(|slot| match slot {
            Slot::Module(_, screen) if screen.unsaved() => Some(screen.crumb(app.lang)),
            _ => None,
        })
}

fn on_reply(
    app: &mut App,
    request: Request,
    asker: Option<ScreenId>,
    outcome: Result<Reply, Failure>,
    out: &mut Vec<Outgoing>,
) {
    match outcome {
        Ok(Reply(reply)) => {
            let Request(request) = &request;
            let first = app.next_request;
            let told = asker.and_then(|id| {
                call(app, out, Place::Id(id), |screen, hub| {
                    screen.on_reply(request.as_ref(), reply.as_ref(), hub)
                })
            });
            if told.is_none() {
                request.answered_after_close(reply.as_ref(), &mut Hub { app, out });
            }
            // What a write's answer reads again shows what it left.
            if request.writes() {
                reloads_since(app, first);
            }
        }
        Err(Failure::Unreachable(detail)) => {
            app.database = DbStatus::Reconnecting;
            // A write may have committed before the connection went: every write waits with its
            // idempotency key, so the re-send cannot apply it twice. Nothing is to be typed
            // again; the screen that sent it refuses a second save meanwhile.
            if request.writes() {
                if let Some(parked) = request.0.parked_says() {
                    say(app, MessageKind::Info, app.lang.t(parked));
                }
            } else {
                let cause = lost_connection_words(app.lang, &detail);
                let text = app.lang.tf("db.unreachable", &[("detail", &cause)]);
                say(app, MessageKind::Error, text);
            }
            app.parked.push(Parked { request, asker });
        }
        Err(Failure::SignedOut(detail)) => session_ended(app, &detail),
        Err(Failure::Error(detail)) => {
            // Keys that waited for this read of the screen on top were typed for what it
            // would bring (a form's choices): they are dropped, and the clerk told so.
            // (Its request is no longer on its way: a key that waits no more waited for it.)
            let dropped = !request.writes()
                && asker == Some(app.top_screen())
                && waiting_says(app).is_some()
                && app
                    .type_ahead
                    .front()
                    .is_some_and(|typed| !key_waits(app, &typed.key()));
            if dropped {
                app.type_ahead.clear();
            }
            // A save of the screen on top refused: the keys typed behind its F2 were typed for
            // where the save would have gone (back to the table, the next step), not for the
            // form that stays on top with the refusal; given to it they would land in its
            // fields or fire its keys. Dropped, and said so.
            let after_save =
                request.writes() && asker == Some(app.top_screen()) && !app.type_ahead.is_empty();
            if after_save {
                app.type_ahead.clear();
            }
            // The write was rolled back: its screen may save again.
            if let (Request(request), Some(id)) = (&request, asker) {
                call(app, out, Place::Id(id), |screen, hub| {
                    screen.on_failure(request.as_ref(), hub)
                });
            }
            // Refused for a permission the desk believed the operator had: their roles changed
            // since it read them, so the legend and the help learn what they allow now.
            if !detail.permissions.is_empty() {
                permissions::reread(app, out);
            }
            if card_status::is_read(&request) {
                card_status::on_read_failed(app, detail.text(app.lang));
            }
            let mut text = detail.text(app.lang);
            if dropped {
                text = app.tf("msg.waiting_keys_dropped", &[("failure", &text)]);
            } else if after_save {
                text = app.tf("msg.keys_after_save_dropped", &[("failure", &text)]);
            }
            say(app, MessageKind::Error, text);
            if card_status::is_read_back(&request) {
                drop_type_ahead_written(app);
            }
        }
    }
}

/// Says, once for each save, that it still waits for the database when it has for
/// `SAVE_WAIT_TOLD`: until its deadline parks it, nothing else would be said.
fn tell_waiting_saves(app: &mut App) {
    let mut waiting = None;
    for flight in &mut app.in_flight {
        flight.ticks = flight.ticks.saturating_add(1);
        if TICK * flight.ticks == SAVE_WAIT_TOLD && flight.request.is_save() {
            waiting = Some(flight.request.0.still_waiting());
        }
    }
    if let Some(key) = waiting {
        say(app, MessageKind::Info, app.lang.t(key));
    }
}

/// Disabled, or the password changed elsewhere: nothing of this session can go on.
fn session_ended(app: &mut App, detail: &str) {
    if app.session.is_none() {
        return;
    }
    // Keys waiting for an answer were typed for the session that ended, not for the sign-in.
    app.type_ahead.clear();
    sign_out(app);
    // The server's own words (its English) are for whoever supports the desk: the log.
    tracing::warn!("the database ended the session: {detail}");
    let text = app.t("msg.signed_out_by_server");
    say(app, MessageKind::Error, text);
}

/// Back to the sign-in screen, with nothing of the session left.
fn sign_out(app: &mut App) {
    app.session = None;
    app.screen = Slot::Module(app.screen_id(), (app.registry.sign_in)());
    app.below.clear();
    // The card on the reader is still being read for the status line.
    app.in_flight.retain(|f| card_status::is_read(&f.request));
    app.parked.clear();
}

/// Names the command line runs on this screen (`App::typed_commands`, as the help lists
/// them), plus `lang`, `messages` and `customer` (`:c` for short).
fn command_names(app: &App) -> Vec<&'static str> {
    app.typed_commands()
        .into_iter()
        .map(Command::name)
        .chain(["lang", "messages", "customer"])
        .collect()
}

/// Tab on the command line: complete the typed prefix from `names`, cycling through the
/// matches.
fn complete(line: &mut CommandLine, names: &[&'static str]) {
    let (prefix, turn) = line
        .completing
        .clone()
        .unwrap_or_else(|| (line.input.value().to_owned(), 0));
    let matches: Vec<_> = names
        .iter()
        .copied()
        .filter(|name| name.starts_with(&prefix))
        .collect();
    if matches.is_empty() {
        return;
    }
    line.input = Input::new(matches[turn % matches.len()].to_owned());
    line.completing = Some((prefix, turn + 1));
}

fn run_command_line(app: &mut App, typed: &str, out: &mut Vec<Outgoing>) {
    let mut words = typed.split_whitespace();
    let Some(name) = words.next() else {
        return;
    };
    match (name, words.next()) {
        ("q", None) => invoke(app, Command::Quit, true, out),
        ("c" | "customer", Some(number)) if words.next().is_none() => {
            open_customer(app, number, out)
        }
        ("lang", language) => {
            let next = Lang::ALL
                .into_iter()
                .find(|lang| Some(lang.code()) == language)
                .unwrap_or_else(|| {
                    if app.lang == Lang::En {
                        Lang::Zh
                    } else {
                        Lang::En
                    }
                });
            app.lang = next;
            // A message in the other language does not stay (`:messages` keeps it).
            app.message = None;
        }
        ("messages", None) => app.overlay = Some(Overlay::Messages { back: 0 }),
        (name, None) => match Command::from_name(name) {
            Some(command) => invoke(app, command, true, out),
            None => {
                let text = app.tf("msg.unknown_command", &[("command", &name)]);
                say(app, MessageKind::Error, text);
            }
        },
        (_, Some(_)) => {
            let text = app.tf("msg.unknown_command", &[("command", &typed)]);
            say(app, MessageKind::Error, text);
        }
    }
}
