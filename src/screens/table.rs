//! The customer table (after sign-in): the search box, a page of customers kept by keyset
//! paging, and the commands on the selected row (details, open account, modify, transfer, the
//! card operations). Its request is a page of customers; a newer one supersedes any on its way.
//! Drawn as a search line, a header and one line per customer, truncated by display width,
//! numbers right-aligned.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::card;
use super::details::Details;
use super::legend::{PAGING, usual};
use super::open_account;
use super::row_actions::{ROW_ACTIONS, act_on, labelled_on, refuse_not_offered, row_permission};
use crate::app::card_status::{ReadFor, read_card};
use crate::app::form::on_selection;
use crate::app::keymap::{Key, edits_text};
use crate::app::paging::{self, PageApply};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, Notice, ScreenReply, ScreenRequest, new_screen};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::customers::{self, CustomerRow, Page, PageAt};
use crate::domain::money::Money;
use crate::domain::search::{CustomerSearch, SearchError, classify};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table, scrolled_sideways, table_width, widths_for};
use crate::ui::text::{truncate, width, window};
use crate::ui::theme::Theme;

/// The customer table: the search box and the page of rows on screen.
#[derive(Debug, Clone)]
pub struct CustomerTable {
    pub search: Input,
    /// Typing goes to the search box (after `/`) rather than to the rows.
    pub search_focused: bool,
    /// `/` selected the last search's whole text, as a browser's address bar does, or a form's
    /// field entered: a character typed replaces it (a fast clerk's "/10000012⏎" after
    /// another search searches 10000012), → / End / ← / Home put the cursor in it to refine
    /// it, Backspace or Ctrl-U clear it (`form::on_selection`). Any edit ends the selection.
    pub search_selected: bool,
    /// The search the rows answer (once its page is in): the last text that could be searched.
    /// Paging goes on through it while the box holds text that cannot be searched.
    pub query: CustomerSearch,
    /// Why the text in the box cannot be searched (a wrong check digit); the rows stay.
    pub typed_error: Option<SearchError>,
    pub page: Page,
    pub selected: usize,
    /// Until the first page arrives.
    pub loading: bool,
    /// Cells the rows are scrolled to the left (Left / Right on the rows), when the table is
    /// wider than the screen.
    pub sideways: u16,
    /// The search on its way was asked by `:c` (ui.md): the customer's details open when its
    /// page comes, or the clerk is told there is no such customer.
    pub open_when_found: bool,
}

impl Default for CustomerTable {
    fn default() -> Self {
        CustomerTable {
            search: Input::default(),
            search_focused: false,
            search_selected: false,
            query: CustomerSearch::All,
            typed_error: None,
            page: Page::default(),
            sideways: 0,
            selected: 0,
            loading: true,
            open_when_found: false,
        }
    }
}

/// A page of the customer table, and what to do with it when it comes; answered with a
/// [`Page`].
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub search: CustomerSearch,
    pub at: PageAt,
    pub size: usize,
    pub apply: PageApply,
}

impl ScreenRequest for Fetch {
    /// A search as you type does not hold the keys: the next key simply supersedes it.
    fn holds_input(&self) -> bool {
        self.apply != PageApply::Search
    }

    fn execute<'a>(&'a self, services: &'a Services, _progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let page = customers::page_on(
                services.pool.for_reads().await?,
                &self.search,
                &self.at,
                self.size,
            )
            .await?;
            Ok(Box::new(page) as _)
        })
    }
}

/// A digit typed on the rows, which no row command takes: every number a clerk searches by
/// (customer, phone, meter, card) starts with one.
fn starts_a_search(key: &KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char(c) if c.is_ascii_digit())
        && crate::app::keymap::Key::of(key).is_text()
}

/// Whether the first page of a customer search is on its way.
fn searching(app: &App) -> bool {
    crate::app::screen::asking(app, |request| {
        request
            .of::<Fetch>()
            .is_some_and(|fetch| fetch.apply == PageApply::Search)
    })
}

impl CustomerTable {
    /// Where a sign-in ends, with a password of the operator's own (a temporary one changed
    /// first): the table in the sign-in's place, and a card inserted before it read now.
    pub fn after_sign_in(hub: &mut Hub) {
        hub.replace(Box::new(CustomerTable::default()));
        read_card(hub.app, ReadFor::Status, hub.out);
    }

    pub fn selected_row(&self) -> Option<&CustomerRow> {
        self.page.rows.get(self.selected)
    }

    /// The search box changed: search again, unless the text cannot be searched (then say
    /// why and keep the rows of the last good search).
    fn search_as_typed(&mut self, hub: &mut Hub) {
        match classify(self.search.value()) {
            Ok(search) => {
                self.query = search.clone();
                self.typed_error = None;
                hub.app.message = None;
                let size = page_rows(hub.app);
                fetch(hub, search, PageAt::First, size, PageApply::Search);
            }
            Err(error @ SearchError::CheckDigit) => {
                self.typed_error = Some(error);
                hub.say(MessageKind::Error, hub.app.lang.t("customers.check_digit"));
            }
        }
    }

    /// Left/Right: the rows move a step sideways, within what does not fit on the screen.
    fn scroll_sideways(&mut self, direction: i16, app: &App) {
        let rows: Vec<[String; 10]> = self
            .page
            .rows
            .iter()
            .map(|row| cells(row, app.lang))
            .collect();
        let screen = app.viewport.0;
        let widths = widths_for(&COLUMNS, &rows, screen);
        self.sideways = scrolled_sideways(self.sideways, direction, &widths, screen);
    }

    /// Up/Down: move within the page; past its edge, fetch one more row and scroll.
    fn move_selection(&mut self, step: isize, hub: &mut Hub) {
        let search = self.query.clone();
        if let Some((at, apply)) = paging::scroll(&self.page, &mut self.selected, step, |row| {
            row.cursor(&search)
        }) {
            fetch(hub, search, at, 1, apply);
        }
    }

    /// PgDn / PgUp / Home / End / F5.
    fn page_command(&mut self, command: Command, hub: &mut Hub) {
        let size = page_rows(hub.app);
        let search = self.query.clone();
        if let Some((at, apply)) = paging::page_for(
            &self.page,
            &mut self.selected,
            command,
            |row| row.cursor(&search),
            |row| row.id,
        ) {
            fetch(hub, search, at, size, apply);
        }
    }

    /// A page arrived: put it on screen as the request said. A reload that should keep the
    /// selected customer but no longer holds it (rows came in above it, or its name changed)
    /// asks for the page that starts at that customer instead, so the selection survives; if
    /// the customer has gone, that page starts at the one after it.
    fn show(&mut self, asked: &Fetch, page: &Page, hub: &mut Hub) {
        if let PageApply::Keep(Some(kept)) = asked.apply
            && !page.rows.iter().any(|row| row.id == kept)
            && let Some(selected) = self.selected_row().filter(|row| row.id == kept)
        {
            let from_selected = PageAt::From(selected.cursor(&asked.search));
            if asked.at != from_selected {
                let search = asked.search.clone();
                return fetch(hub, search, from_selected, asked.size, asked.apply);
            }
        }
        self.loading = false;
        paging::show(
            &mut self.page,
            &mut self.selected,
            page.clone(),
            asked.apply,
            |row| row.id,
        );
        if asked.apply == PageApply::Search && std::mem::take(&mut self.open_when_found) {
            self.open_found(hub);
        }
    }

    /// `:c`'s customer number searched: its details opened (the table's Enter, with its
    /// permission), or the clerk told it names no customer.
    fn open_found(&mut self, hub: &mut Hub) {
        if self.page.rows.is_empty() {
            let text = hub.app.lang.tf(
                "customers.no_such_number",
                &[("number", &self.search.value())],
            );
            hub.say(MessageKind::Error, text);
        } else if hub.app.lacks(Command::Details).is_none() {
            self.selected = 0;
            self.on_command(Command::Details, hub);
        }
    }
}

/// Sends a page request; a newer one supersedes any still on its way, so a stale answer can
/// never overwrite a fresher one.
fn fetch(hub: &mut Hub, search: CustomerSearch, at: PageAt, size: usize, apply: PageApply) {
    hub.forget(|request| request.of::<Fetch>().is_some());
    hub.send(Fetch {
        search,
        at,
        size,
        apply,
    });
}

impl Screen for CustomerTable {
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("screen.customers").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.search_focused {
            return vec![
                (Command::Details, "legend.to_rows"),
                (Command::Cancel, "legend.to_rows"),
                (Command::Help, "command.help"),
                (Command::Quit, "command.quit"),
            ];
        }
        use Command::*;
        usual([Help, Search, Details, OpenAccount])
            // What the selected row takes, as on its details: no card keys on a customer
            // without a card meter.
            .chain(labelled_on(self.selected_row()))
            .chain(usual([Refresh]))
            .chain(usual(PAGING))
            .chain([(Leave, "legend.log_out")])
            .chain(usual([CommandLine, Overview, Quit]))
            .collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let [search_line, header_line, rows_area] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(area);
        draw_search(frame, search_line, self, lang, theme);
        let [rows_area, whole_line] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(rows_area);

        let rows: Vec<[String; 10]> = self.page.rows.iter().map(|row| cells(row, lang)).collect();
        let widths = widths_for(&COLUMNS, &rows, area.width);
        draw_whole_row(frame, whole_line, self, &widths, lang, theme);
        // An operator whose roles serve no customer reads none (sql/V224): said, not "none
        // matches".
        let none = if app.session.as_ref().is_some_and(|s| !s.serves_customers) {
            lang.t("customers.none_served").to_owned()
        } else {
            lang.tf("customers.none", &[("query", &inert(self.search.value()))])
        };
        let selected = (!self.search_focused).then_some(self.selected);
        Table::new(&COLUMNS, &rows, &none)
            .loading(self.loading, lang.t("customers.loading"))
            .selected(selected, SELECTION_COLUMNS)
            .sideways(self.sideways)
            .draw(frame, header_line.union(rows_area), (lang, theme));
    }

    fn on_open(&mut self, hub: &mut Hub) {
        let size = page_rows(hub.app);
        fetch(
            hub,
            CustomerSearch::All,
            PageAt::First,
            size,
            PageApply::Search,
        );
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if !self.search_focused && command.is_none() && starts_a_search(&key) {
            // A clerk who left the box (Enter) types the next customer's number, phone, meter
            // or card: a new search, not keys lost on the rows.
            self.search = Input::default();
            self.search_focused = true;
            self.search_selected = false;
        }
        if self.search_focused && edits_text(&key) {
            let before = self.search.value().to_owned();
            let selected = std::mem::take(&mut self.search_selected);
            if selected && Key::of(&key).is_text() {
                // Typed over the selection: a new search.
                self.search.reset();
            }
            match on_selection(&key).filter(|_| selected) {
                Some(request) => {
                    self.search.handle(request);
                }
                None => {
                    self.search.handle_event(&crossterm::event::Event::Key(key));
                }
            }
            if self.search.value() != before {
                self.search_as_typed(hub);
            }
            return true;
        }
        match key.code {
            KeyCode::Enter | KeyCode::Down | KeyCode::Tab if self.search_focused => {
                self.search_focused = false;
                self.search_selected = false;
            }
            KeyCode::Up if !self.search_focused => self.move_selection(-1, hub),
            KeyCode::Down if !self.search_focused => self.move_selection(1, hub),
            KeyCode::Left if !self.search_focused => self.scroll_sideways(-1, hub.app),
            KeyCode::Right if !self.search_focused => self.scroll_sideways(1, hub.app),
            _ => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Search => {
                self.search_focused = true;
                self.search_selected = !self.search.value().is_empty();
            }
            Command::Details | Command::Cancel if self.search_focused => {
                self.search_focused = false;
                self.search_selected = false;
            }
            Command::Refresh
            | Command::PageDown
            | Command::PageUp
            | Command::First
            | Command::Last => self.page_command(command, hub),
            Command::Details => {
                if let Some(row) = self.selected_row() {
                    hub.open(Box::new(Details::of(row)));
                }
            }
            Command::OpenAccount => hub.open(new_screen::<open_account::OpenAccountWizard>()),
            command if ROW_ACTIONS.contains(&command) => {
                if let Some(row) = self.selected_row() {
                    act_on(row, command, hub);
                }
            }
            _ => return false,
        }
        true
    }

    fn permission(&self, command: Command) -> Option<&'static str> {
        row_permission(command, self.selected_row())
    }

    fn on_not_offered(&mut self, command: Command, hub: &mut Hub) -> bool {
        refuse_not_offered(self.selected_row(), command, hub)
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let (Some(asked), Some(page)) = (request.of::<Fetch>(), reply.of::<Page>()) {
            self.show(asked, page, hub);
        }
    }

    /// While the search is on its way, a key for the rows (a move, a page, Enter for Details,
    /// …) waits for its answer, so it acts on the rows the clerk is looking for, not on those
    /// of the text typed before. Keys that edit the search box go on at once: each searches
    /// again, and the newest search supersedes the one on its way.
    fn key_waits(&self, key: &KeyEvent, app: &App) -> bool {
        searching(app) && !(self.search_focused && app.overlay.is_none() && edits_text(key))
            || card::waits_for_the_card_read(key, app)
    }

    fn on_resize(&mut self, hub: &mut Hub) {
        if searching(hub.app) {
            // The rows on screen are not the search's yet: ask its first page again.
            self.search_as_typed(hub);
        } else {
            self.page_command(Command::Refresh, hub);
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        match notice {
            Notice::Reload => self.page_command(Command::Refresh, hub),
            Notice::ShowCustomer { number, open } => {
                self.search = Input::new(number.clone());
                self.search_focused = false;
                self.search_selected = false;
                self.open_when_found = *open;
                self.search_as_typed(hub);
            }
        }
    }
}

/// At 80 columns the minimums plus one space between columns fill the line exactly; money
/// and numbers always fit in full, only text is cut. A number wider than its column's
/// minimum (the demo's twelve-digit meter numbers) takes its cells from the address, then
/// the name — both shown whole under the rows for the selected customer — rather than push
/// the status, which a clerk must see, past the screen's edge.
const COLUMNS: [Column; 10] = [
    Column::new("customers.col_number", 8, 0, false).whole(),
    Column::new("customers.col_name", 8, 4, false).gives_way_to(6),
    Column::new("customers.col_type", 5, 2, false),
    Column::new("customers.col_meter", 9, 1, false).whole(),
    Column::new("customers.col_account", 4, 0, false),
    Column::new("customers.col_balance", 10, 1, true).whole(),
    Column::new("customers.col_card", 5, 1, false),
    Column::new("customers.col_phone", 11, 1, false),
    Column::new("customers.col_address", 5, 6, false).gives_way_to(3),
    Column::new("customers.col_status", 6, 0, false),
];

/// The cells of one customer, in column order, as they are shown.
fn cells(row: &CustomerRow, lang: Lang) -> [String; 10] {
    let kind = match row.account_kind.as_str() {
        "prepaid" => lang.t("customers.kind_prepaid"),
        _ => lang.t("customers.kind_postpaid"),
    };
    let card = match row.card_state.as_deref() {
        Some("active") => lang.t("customers.card_active"),
        Some("void") => lang.t("customers.card_void"),
        Some(_) => lang.t("customers.card_recycled"),
        None => "—",
    };
    // Unpaid bills are marked where the status is: an open customer who owes says so.
    let status = match row.status.as_str() {
        "active" if !row.arrears.is_zero() => lang.t("arrears.mark_owes"),
        "active" => lang.t("customers.status_active"),
        _ => lang.t("customers.status_closed"),
    };
    [
        format!("{:08}", row.customer_no),
        inert(&row.name).into_owned(),
        inert(&row.customer_type).into_owned(),
        inert(&row.meter_no).into_owned(),
        kind.to_owned(),
        Money::round_half_up(row.balance).to_string(),
        card.to_owned(),
        inert(row.phone.as_deref().unwrap_or("")).into_owned(),
        inert(&row.address).into_owned(),
        status.to_owned(),
    ]
}

/// The selection marks the customer number and the name only: a row move then rewrites
/// those cells of two rows instead of two whole rows, which keeps it cheap on a slow SSH link
/// (`meterdesk bench` counts the bytes) while the number and name are what the eye looks for.
const SELECTION_COLUMNS: usize = 2;

/// The rows of a page: the lines for tables, less the line that shows the selected row whole.
pub(crate) fn page_rows(app: &App) -> usize {
    app.table_rows().saturating_sub(1).max(1)
}

/// Under the rows: the selected customer's name and address whole, which the columns may
/// cut; and, when the table is wider than the screen, that Left and Right scroll it.
fn draw_whole_row(
    frame: &mut Frame,
    area: Rect,
    table: &CustomerTable,
    widths: &[u16],
    lang: Lang,
    theme: &Theme,
) {
    let room = usize::from(area.width);
    let more = if table_width(widths) > area.width {
        format!(" {}", lang.t("whole.sideways"))
    } else {
        String::new()
    };
    let whole = table
        .selected_row()
        .map(|row| format!(" {} · {}", inert(&row.name), inert(&row.address)))
        .unwrap_or_default();
    let whole = truncate(&whole, room.saturating_sub(width(&more)));
    let pad = " ".repeat(room.saturating_sub(width(&whole) + width(&more)));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(whole, theme.title()),
            Span::raw(pad),
            Span::styled(more, theme.dim()),
        ])),
        area,
    );
}

fn draw_search(frame: &mut Frame, area: Rect, table: &CustomerTable, lang: Lang, theme: &Theme) {
    let label = format!(" {} ", lang.t("customers.search"));
    let room = usize::from(area.width)
        .saturating_sub(width(&label))
        .min(30);
    let value = table.search.value();
    let scroll = table.search.visual_scroll(room);
    // `visual_scroll` counts cells, not characters: a CJK character takes two.
    let shown = window(&inert(value), scroll, room);
    let style = theme.input(table.search_focused);
    let pad = " ".repeat(room.saturating_sub(width(&shown)));
    let mut spans = if table.search_focused && table.search_selected {
        // The selection covers the text, not the empty rest of the box (as a form's field).
        vec![
            Span::raw(label.clone()),
            Span::styled(shown, theme.selection()),
            Span::styled(pad, style),
        ]
    } else {
        vec![
            Span::raw(label.clone()),
            Span::styled(format!("{shown}{pad}"), style),
        ]
    };
    let note = match table.typed_error {
        Some(_) => Span::styled(
            format!(" ! {}", lang.t("customers.check_digit")),
            theme.error(),
        ),
        None => Span::styled(format!(" {}", lang.t("customers.search_hint")), theme.dim()),
    };
    spans.push(note);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if table.search_focused {
        let cursor = (table.search.visual_cursor().max(scroll) - scroll).min(room) as u16;
        frame.set_cursor_position((area.x + width(&label) as u16 + cursor, area.y));
    }
}
