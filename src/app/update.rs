//! `update`: the entry of the update path, the only code that changes `App`; each screen's
//! part of it lives with the screen (`accounts`, `card`, `refdata`). Pure: it returns the
//! requests to send instead of doing I/O, so flows are tested by feeding key sequences.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::accounts;
use super::card::{self, CardRequest};
use super::command::Command;
use super::form::FormEvent;
use super::keymap::Key;
use super::paging;
use super::refdata;
use super::state::*;
use crate::db::customers::{Page, PageAt};
use crate::domain::search::{CustomerSearch, SearchError, classify};
use crate::i18n::Lang;

/// A request to send, with the id its reply will carry.
pub type Outgoing = (RequestId, Request);

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
            // Keys already waiting go first: a key never overtakes one typed before it.
            if app.type_ahead.is_empty() || app.holds_input() {
                on_key(app, key, &mut out);
            } else {
                app.type_ahead.push_back(key);
            }
            true
        }
        Msg::Resize(columns, rows) => {
            let old_rows = app.table_rows();
            app.viewport = (columns, rows);
            if app.table_rows() != old_rows && matches!(app.screen, Screen::Customers(_)) {
                if searching(app) {
                    // The rows on screen are not the search's yet: ask its first page again.
                    search_as_typed(app, &mut out);
                } else {
                    page_command(app, Command::Refresh, &mut out);
                }
            }
            true
        }
        Msg::Tick => {
            app.spinner = app.spinner.wrapping_add(1);
            app.busy()
        }
        Msg::Reply { id, outcome } => match app.in_flight.iter().position(|f| f.id == id) {
            Some(at) => {
                let request = app.in_flight.remove(at).request;
                on_reply(app, request, outcome, &mut out);
                true
            }
            None => false, // cancelled or superseded: the answer no longer matters
        },
        Msg::Database(status) => {
            let changed = status != app.database;
            app.database = status;
            if status == DbStatus::Connected && !app.parked.is_empty() {
                for request in std::mem::take(&mut app.parked) {
                    send(app, request, &mut out);
                }
                say(app, MessageKind::Info, app.lang.t("db.back"));
            }
            changed || !out.is_empty()
        }
        Msg::Reader(state) => card::on_reader(app, state, &mut out),
        Msg::Progress { id, done, total } => {
            app.in_flight.iter().any(|f| f.id == id) && refdata::on_progress(app, done, total)
        }
    };
    // After any message, not only a reply: a request that held input may have been dropped
    // without one (a card read forgotten when the card went), and its keys must not wait on.
    let replayed = replay_type_ahead(app, &mut out);
    Update {
        requests: out,
        redraw: redraw || replayed,
    }
}

pub(super) fn send(app: &mut App, request: Request, out: &mut Vec<Outgoing>) {
    let id = app.next_request;
    app.next_request += 1;
    app.in_flight.push(InFlight {
        id,
        request: request.clone(),
    });
    out.push((id, request));
}

pub(super) fn say(app: &mut App, kind: MessageKind, text: impl Into<String>) {
    app.message = Some(Message {
        kind,
        text: text.into(),
    });
}

/// Applies waiting keys while nothing holds them; whether any was applied.
fn replay_type_ahead(app: &mut App, out: &mut Vec<Outgoing>) -> bool {
    let mut replayed = false;
    while let Some(&key) = app.type_ahead.front()
        && !app.holds_input()
        && !waits_for_search(app, &key)
    {
        app.type_ahead.pop_front();
        on_key(app, key, out);
        replayed = true;
    }
    replayed
}

/// While the customer table's search is on its way, a key for the rows (a move, a page, Enter
/// for Details, …) waits for its answer, so it acts on the rows the clerk is looking for, not
/// on those of the text typed before. Keys that edit the search box go on at once: each
/// searches again, and the newest search supersedes the one on its way.
fn waits_for_search(app: &App, key: &KeyEvent) -> bool {
    let Screen::Customers(table) = &app.screen else {
        return false;
    };
    searching(app) && !(table.search_focused && app.overlay.is_none() && edits_text(key))
}

/// Whether the first page of a customer search is on its way.
fn searching(app: &App) -> bool {
    app.in_flight.iter().any(|f| {
        matches!(
            f.request,
            Request::Customers {
                apply: PageApply::Search,
                ..
            }
        )
    })
}

fn on_key(app: &mut App, key: KeyEvent, out: &mut Vec<Outgoing>) {
    let command = app.keymap.command_for(&key);
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
            app.in_flight.retain(|f| !f.request.holds_input());
            app.type_ahead.clear();
            say(app, MessageKind::Info, app.lang.t("msg.cancelled"));
        } else {
            app.type_ahead.push_back(key);
        }
        return;
    }
    if waits_for_search(app, &key) {
        app.type_ahead.push_back(key);
        return;
    }
    match &mut app.overlay {
        Some(Overlay::Help) => {
            if matches!(
                command,
                Some(Command::Help | Command::Cancel | Command::Leave)
            ) {
                app.overlay = None;
            }
        }
        Some(Overlay::CommandLine(line)) => match command {
            Some(Command::Cancel) => app.overlay = None,
            Some(Command::NextField) => complete(line),
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
        None => on_screen_key(app, key, command, out),
    }
}

/// Keys that edit a text field rather than invoke a command: characters, the cursor keys,
/// and the readline keys tui-input knows (Ctrl-U clears, Ctrl-W deletes a word, …).
pub(super) fn edits_text(key: &KeyEvent) -> bool {
    const READLINE: [char; 7] = ['u', 'w', 'k', 'a', 'e', 'b', 'f'];
    let key_of = Key::of(key);
    key_of.is_text()
        || (key_of.modifiers == KeyModifiers::CONTROL
            && matches!(key_of.code, KeyCode::Char(c) if READLINE.contains(&c)))
        || matches!(
            key.code,
            KeyCode::Backspace
                | KeyCode::Delete
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Home
                | KeyCode::End
        )
}

/// The text field that has the focus, if any: it takes the text keys.
fn focused_input(screen: &mut Screen) -> Option<&mut Input> {
    match screen {
        Screen::Login(form) => Some(match form.focus {
            LoginField::Operator => &mut form.operator,
            LoginField::Password => &mut form.password,
        }),
        Screen::Customers(table) if table.search_focused => Some(&mut table.search),
        Screen::Ref(screen) => screen.focused_input(),
        Screen::Customers(_)
        | Screen::Details(_)
        | Screen::Overview(_)
        | Screen::OpenAccount(_)
        | Screen::Modify(_)
        | Screen::Transfer(_)
        | Screen::Card(_) => None,
    }
}

fn on_screen_key(app: &mut App, key: KeyEvent, command: Option<Command>, out: &mut Vec<Outgoing>) {
    if accounts::key_while_saving(app, &key, command) {
        return;
    }
    if accounts::wizard_key(app, key, command, out) || accounts::transfer_key(app, command, out) {
        return;
    }
    let lang = app.lang;
    if let Some(form) = app.screen.form_mut() {
        match form.on_key(key, command, lang) {
            FormEvent::Unhandled => {}
            event => return on_form_event(app, event, out),
        }
    }
    if refdata::on_key(app, key, command, out) {
        return;
    }
    if edits_text(&key)
        && let Some(input) = focused_input(&mut app.screen)
    {
        let before = input.value().to_owned();
        input.handle_event(&crossterm::event::Event::Key(key));
        if input.value() != before {
            search_as_typed(app, out);
        }
        return;
    }
    match (&mut app.screen, key.code) {
        (Screen::Login(form), KeyCode::Enter) => match form.focus {
            LoginField::Operator => form.focus = LoginField::Password,
            LoginField::Password => sign_in(app, out),
        },
        (Screen::Customers(table), KeyCode::Enter | KeyCode::Down | KeyCode::Tab)
            if table.search_focused =>
        {
            table.search_focused = false;
        }
        (Screen::Card(_), KeyCode::Up) => card::move_selection(app, -1),
        (Screen::Card(_), KeyCode::Down) => card::move_selection(app, 1),
        (Screen::Customers(table), KeyCode::Up) if !table.search_focused => {
            move_selection(app, -1, out)
        }
        (Screen::Customers(table), KeyCode::Down) if !table.search_focused => {
            move_selection(app, 1, out)
        }
        _ => {
            if let Some(command) = command {
                invoke(app, command, out);
            }
        }
    }
}

/// What a screen's form asked for after a key.
fn on_form_event(app: &mut App, event: FormEvent, out: &mut Vec<Outgoing>) {
    match event {
        FormEvent::Consumed | FormEvent::Unhandled => {}
        FormEvent::Edited(_) => app.message = None,
        FormEvent::Invalid => say_form_error(app),
        FormEvent::AskLeave => say(app, MessageKind::Info, app.t("form.ask_leave")),
        FormEvent::Leave if matches!(app.screen, Screen::Card(_)) => card::leave_form(app),
        FormEvent::Leave => leave(app),
        FormEvent::Submit => submit_form(app, out),
    }
}

/// Puts the first bad field of the screen's form on the message line, named by its label.
pub(super) fn say_form_error(app: &mut App) {
    let lang = app.lang;
    let Some(form) = app.screen.form_mut() else {
        return;
    };
    if let Some((index, error)) = form.first_error() {
        let text = lang.tf(
            "form.fix_field",
            &[
                ("field", &lang.t(form.fields[index].label)),
                ("error", &error),
            ],
        );
        say(app, MessageKind::Error, text);
    }
}

/// F2 (or Enter on the last field) on a form whose fields passed their own checks: each
/// screen with a form adds its arm here (apply its rules, `Form::fail` or send the request).
fn submit_form(app: &mut App, out: &mut Vec<Outgoing>) {
    match &app.screen {
        Screen::Ref(_) => refdata::submit(app, out),
        // Enter on the last field of a wizard step goes on to the next step.
        Screen::OpenAccount(_) => accounts::wizard_step(app, true, out),
        Screen::Modify(_) => accounts::submit_modify(app, out),
        Screen::Transfer(_) => accounts::submit_transfer(app, out),
        Screen::Card(_) => card::ask_price(app, out),
        Screen::Login(_) | Screen::Customers(_) | Screen::Details(_) | Screen::Overview(_) => {}
    }
}

/// The customer table after a change: reload it where it was, keeping the selected customer.
pub(super) fn refresh_table(app: &mut App, out: &mut Vec<Outgoing>) {
    page_command(app, Command::Refresh, out);
}

/// The customer table searching for one customer number, so that customer is selected.
pub(super) fn show_customer(app: &mut App, number: &str, out: &mut Vec<Outgoing>) {
    if let Screen::Customers(table) = &mut app.screen {
        table.search = Input::new(number.to_owned());
        table.search_focused = false;
        search_as_typed(app, out);
    }
}

/// Back to the screen below (F3 on a screen without unsaved changes).
pub(super) fn leave(app: &mut App) {
    if let Some(previous) = app.below.pop() {
        app.screen = previous;
    }
}

/// The search box changed: search again, unless the text cannot be searched (then say why
/// and keep the rows of the last good search).
fn search_as_typed(app: &mut App, out: &mut Vec<Outgoing>) {
    let size = app.table_rows();
    let Screen::Customers(table) = &mut app.screen else {
        return;
    };
    match classify(table.search.value()) {
        Ok(search) => {
            table.query = search.clone();
            table.typed_error = None;
            app.message = None;
            fetch(app, search, PageAt::First, size, PageApply::Search, out);
        }
        Err(error @ SearchError::CheckDigit) => {
            table.typed_error = Some(error);
            say(app, MessageKind::Error, app.lang.t("customers.check_digit"));
        }
    }
}

/// Sends a page request for the customer table; a newer one supersedes any still on its way,
/// so a stale answer can never overwrite a fresher one.
fn fetch(
    app: &mut App,
    search: CustomerSearch,
    at: PageAt,
    size: usize,
    apply: PageApply,
    out: &mut Vec<Outgoing>,
) {
    app.in_flight
        .retain(|f| !matches!(f.request, Request::Customers { .. }));
    send(
        app,
        Request::Customers {
            search,
            at,
            size,
            apply,
        },
        out,
    );
}

/// Up/Down: move within the page; past its edge, fetch one more row and scroll.
fn move_selection(app: &mut App, step: isize, out: &mut Vec<Outgoing>) {
    let Screen::Customers(table) = &mut app.screen else {
        return;
    };
    let search = table.query.clone();
    if let Some((at, apply)) = paging::scroll(&table.page, &mut table.selected, step, |row| {
        row.cursor(&search)
    }) {
        fetch(app, search, at, 1, apply, out);
    }
}

/// PgDn / PgUp / Home / End / F5 on the customer table.
fn page_command(app: &mut App, command: Command, out: &mut Vec<Outgoing>) {
    let size = app.table_rows();
    let Screen::Customers(table) = &mut app.screen else {
        return;
    };
    let search = table.query.clone();
    if let Some((at, apply)) = paging::page_for(
        &table.page,
        &mut table.selected,
        command,
        |row| row.cursor(&search),
        |row| row.id,
    ) {
        fetch(app, search, at, size, apply, out);
    }
}

/// A page of customers arrived for the table: put it on screen as the request said. A reload
/// that should keep the selected customer but no longer holds it (rows came in above it, or its
/// name changed) asks for the page that starts at that customer instead, so the selection
/// survives; if the customer has gone, that page starts at the one after it.
fn show_customers(
    app: &mut App,
    search: CustomerSearch,
    at: PageAt,
    size: usize,
    apply: PageApply,
    page: Page,
    out: &mut Vec<Outgoing>,
) {
    let Screen::Customers(table) = &mut app.screen else {
        return;
    };
    if let PageApply::Keep(Some(kept)) = apply
        && !page.rows.iter().any(|row| row.id == kept)
        && let Some(selected) = table.selected_row().filter(|row| row.id == kept)
    {
        let from_selected = PageAt::From(selected.cursor(&search));
        if at != from_selected {
            return fetch(app, search, from_selected, size, apply, out);
        }
    }
    table.loading = false;
    paging::show(&mut table.page, &mut table.selected, page, apply, |row| {
        row.id
    });
}

/// Runs a command, whether it came from a key or the command line.
fn invoke(app: &mut App, command: Command, out: &mut Vec<Outgoing>) {
    // `:card` works from every screen once signed in.
    if command == Command::Card && app.session.is_some() {
        card::open_card_screen(app);
        return;
    }
    // The reference lists are reachable from every screen once signed in (`:meters` …).
    let navigation = app.session.is_some()
        && matches!(
            command,
            Command::Meters | Command::MeterTypes | Command::Schemes | Command::CustomerTypes
        );
    if !navigation
        && !app
            .commands()
            .iter()
            .any(|(offered, _)| *offered == command)
    {
        let text = app.lang.tf(
            "msg.not_here",
            &[("command", &app.lang.t(command.label_key()))],
        );
        say(app, MessageKind::Error, text);
        return;
    }
    if card::invoke(app, command, out) {
        return;
    }
    if matches!(app.screen, Screen::Ref(_)) && refdata::invoke(app, command, out) {
        return;
    }
    match (&mut app.screen, command) {
        (_, Command::Help) => app.overlay = Some(Overlay::Help),
        (_, Command::CommandLine) => {
            app.overlay = Some(Overlay::CommandLine(CommandLine::default()))
        }
        // Quitting drops a save waiting for the database: said once, the second quit quits
        // (the database may never come back).
        (_, Command::Quit) if app.parked.iter().any(Request::writes) && !app.quit_warned => {
            app.quit_warned = true;
            say(app, MessageKind::Error, app.t("msg.quit_loses_save"));
        }
        (_, Command::Quit) => app.quit = true,
        (_, Command::Meters | Command::MeterTypes | Command::Schemes | Command::CustomerTypes) => {
            refdata::open_list(app, command, out)
        }
        (Screen::Login(_), Command::Save) => sign_in(app, out),
        (Screen::Login(form), Command::NextField | Command::PrevField) => {
            form.focus = match form.focus {
                LoginField::Operator => LoginField::Password,
                LoginField::Password => LoginField::Operator,
            };
        }
        (Screen::Customers(table), Command::Search) => table.search_focused = true,
        (Screen::Customers(table), Command::Details | Command::Cancel) if table.search_focused => {
            table.search_focused = false
        }
        (
            Screen::Customers(_),
            Command::Refresh | Command::PageDown | Command::PageUp | Command::First | Command::Last,
        ) => page_command(app, command, out),
        (Screen::Customers(table), Command::Details) => {
            if let Some(row) = table.selected_row() {
                let customer_id = row.id;
                let view = DetailsView {
                    customer_id,
                    customer_no: row.customer_no,
                    details: None,
                };
                open(app, Screen::Details(view));
                send(app, Request::Details { customer_id }, out);
            }
        }
        (
            Screen::Customers(table),
            Command::OpenCard | Command::ReplaceCard | Command::Recharge,
        ) => {
            if let Some(row) = table.selected_row().cloned() {
                card::for_customer(app, command, &row);
            }
        }
        (Screen::Customers(_), Command::OpenAccount) => accounts::start_open_account(app, out),
        (Screen::Customers(_), Command::Modify) => accounts::start_change(app, false, out),
        (Screen::Customers(_), Command::Transfer) => accounts::start_change(app, true, out),
        (Screen::OpenAccount(_), Command::PageDown | Command::PageUp) => {
            accounts::wizard_step(app, command == Command::PageDown, out)
        }
        (Screen::Details(view), Command::Refresh) => {
            let customer_id = view.customer_id;
            send(app, Request::Details { customer_id }, out);
        }
        (_, Command::Overview) => {
            open(app, Screen::Overview(OverviewView::default()));
            send(app, Request::Overview, out);
        }
        (Screen::Overview(_), Command::Refresh) => send(app, Request::Overview, out),
        (_, Command::Leave) if !app.below.is_empty() => leave(app),
        // Logging out would drop a save waiting for the database, its outcome never told.
        (_, Command::Leave | Command::Logout) if app.parked.iter().any(Request::writes) => {
            say(app, MessageKind::Error, app.lang.t("msg.logout_waits"))
        }
        (_, Command::Leave | Command::Logout) => {
            app.session = None;
            app.screen = Screen::Login(LoginForm::default());
            app.below.clear();
            // The card on the reader is still being read for the status line.
            app.in_flight
                .retain(|f| matches!(f.request, Request::Card(CardRequest::Read { .. })));
            app.parked.clear();
            say(app, MessageKind::Info, app.lang.t("msg.logged_out"));
        }
        _ => {}
    }
}

/// Puts `screen` on top; F3 comes back to the one it covers.
pub(super) fn open(app: &mut App, screen: Screen) {
    let covered = std::mem::replace(&mut app.screen, screen);
    app.below.push(covered);
}

fn sign_in(app: &mut App, out: &mut Vec<Outgoing>) {
    let Screen::Login(form) = &mut app.screen else {
        return;
    };
    let login = form.operator.value().trim().to_owned();
    let password = form.password.value().to_owned();
    if login.is_empty() {
        form.focus = LoginField::Operator;
        say(app, MessageKind::Error, app.lang.t("login.need_operator"));
        return;
    }
    if password.is_empty() {
        form.focus = LoginField::Password;
        say(app, MessageKind::Error, app.lang.t("login.need_password"));
        return;
    }
    say(app, MessageKind::Info, app.lang.t("login.signing_in"));
    send(app, Request::Login { login, password }, out);
}

fn on_reply(
    app: &mut App,
    request: Request,
    outcome: Result<Reply, Failure>,
    out: &mut Vec<Outgoing>,
) {
    if let Ok(reply) = &outcome
        && accounts::on_reply(app, &request, reply, out)
    {
        return;
    }
    match outcome {
        Ok(Reply::LoggedIn(session)) => {
            let text = app
                .lang
                .tf("login.welcome", &[("name", &session.full_name)]);
            app.session = Some(session);
            app.screen = Screen::Customers(CustomerTable::default());
            say(app, MessageKind::Info, text);
            let size = app.table_rows();
            fetch(
                app,
                CustomerSearch::All,
                PageAt::First,
                size,
                PageApply::Search,
                out,
            );
            // A card inserted before the sign-in is read now.
            card::read_card(app, card::ReadFor::Status, out);
        }
        Ok(Reply::LoginRefused(refusal)) => {
            let text = match refusal {
                LoginRefusal::WrongCredentials => app.lang.t("login.wrong").to_owned(),
                LoginRefusal::Disabled => app.lang.t("login.disabled").to_owned(),
                LoginRefusal::Wait(wait) => app
                    .lang
                    .tf("login.wait", &[("seconds", &wait.as_secs().max(1))]),
            };
            if let Screen::Login(form) = &mut app.screen {
                form.password.reset();
                form.focus = LoginField::Password;
            }
            say(app, MessageKind::Error, text);
        }
        Ok(Reply::Overview(overview)) => {
            if let Screen::Overview(view) = &mut app.screen {
                view.overview = Some(overview);
            }
        }
        Ok(Reply::Details(details)) => match (&mut app.screen, details) {
            (Screen::Details(view), Some(details)) => view.details = Some(details),
            (Screen::Details(_), None) => {
                say(app, MessageKind::Error, app.lang.t("details.gone"));
            }
            _ => {}
        },
        Ok(Reply::Ref(reply)) => {
            if let Request::Ref(_, request) = &request {
                refdata::on_reply(app, request, reply, out);
            }
        }
        Ok(Reply::Customers(page)) => {
            if let Request::Customers {
                search,
                at,
                size,
                apply,
            } = request
            {
                show_customers(app, search, at, size, apply, page, out);
            }
        }
        Ok(Reply::Card(reply)) => card::on_reply(app, reply, out),
        Err(Failure::Unreachable(detail)) => {
            app.database = DbStatus::Reconnecting;
            // A write may have committed before the connection went: every write waits with its
            // idempotency key, so the re-send cannot apply it twice. Nothing is to be typed
            // again; the screen that sent it refuses a second save meanwhile.
            if request.writes() {
                say(app, MessageKind::Info, app.lang.t("db.write_parked"));
            } else {
                let text = app.lang.tf("db.unreachable", &[("detail", &detail)]);
                say(app, MessageKind::Error, text);
            }
            app.parked.push(request);
        }
        Err(Failure::Error(detail)) => {
            // The write was rolled back: its screen may save again.
            if let Some(key) = request.idempotency_key() {
                accounts::answered(app, key);
            }
            if let Request::Ref(_, ref_request) = &request {
                refdata::on_failure(app, ref_request);
            }
            say(app, MessageKind::Error, detail.text(app.lang))
        }
        // A read whose screen has gone: nothing to show (writes are told in accounts and
        // refdata).
        Ok(_) => {}
    }
}

/// Names the command line accepts: every command, plus `lang`.
fn command_names() -> impl Iterator<Item = &'static str> {
    Command::ALL.into_iter().map(Command::name).chain(["lang"])
}

/// Tab on the command line: complete the typed prefix, cycling through the matches.
fn complete(line: &mut CommandLine) {
    let (prefix, turn) = line
        .completing
        .clone()
        .unwrap_or_else(|| (line.input.value().to_owned(), 0));
    let matches: Vec<_> = command_names()
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
        ("q", None) => invoke(app, Command::Quit, out),
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
        }
        (name, None) => match Command::from_name(name) {
            Some(command) => invoke(app, command, out),
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
