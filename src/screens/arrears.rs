//! Customers who owe (`:arrears`): unpaid bills, and card meters' water a meter loaded unpaid
//! (said as such in the count column); largest arrears first, then the oldest, a page at a time (PgDn / PgUp / Home / End), read by `db::arrears`. Up/Down select a row;
//! Enter opens that customer's details, as on the customer table.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::details::Details;
use super::legend::{BACK, PAGING, framed, usual};
use super::reference::common::read_or_loading;
use crate::app::requests::Read;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::arrears::{self, Owing, OwingCursor};
use crate::db::customers::{self, CustomerRow, Page, PageAt};
use crate::domain::customer_number::CustomerNumber;
use crate::domain::search::CustomerSearch;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table};
use crate::ui::theme::Theme;

/// Rows on a page: what 80×24 shows under the header.
pub const PAGE_ROWS: usize = 18;

/// The list: the page shown (None: on its way).
#[derive(Debug, Clone, Default)]
pub struct ArrearsScreen {
    page: Option<Page<Owing>>,
    /// The selected row of the page.
    pub selected: usize,
}

/// The page of customers who owe at `at`; answered with [`OwingPage`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOwing {
    pub at: PageAt<OwingCursor>,
}

/// The page read, and whether rows lie before and after it.
#[derive(Debug, Clone, PartialEq)]
pub struct OwingPage(pub Page<Owing>);

impl Read for LoadOwing {
    const TOLERATES_LAG: bool = true;

    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        Ok(OwingPage(arrears::page(client, &self.at, PAGE_ROWS).await?))
    }
}

/// The customer on a row, read as the customer table reads it, to open their details;
/// answered with [`OwingCustomer`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOwingCustomer {
    pub customer_no: CustomerNumber,
}

/// That customer's row; None if the customer is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct OwingCustomer(pub Option<CustomerRow>);

impl Read for LoadOwingCustomer {
    const TOLERATES_LAG: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let search = CustomerSearch::CustomerNo(self.customer_no);
        let page = customers::page(client, &search, &PageAt::First, 1).await?;
        Ok(OwingCustomer(page.rows.into_iter().next()))
    }
}

const COLUMNS: [Column; 5] = [
    Column::new("arrears.col_customer", 8, 0, false).whole(),
    Column::new("arrears.col_name", 10, 4, false),
    Column::new("arrears.col_bills", 6, 0, true),
    Column::new("arrears.col_oldest", 10, 0, false),
    Column::new("arrears.col_arrears", 12, 1, true).whole(),
];

/// What a row owes for, counted: its bills, or a card meter's debts of water loaded unpaid.
fn unpaid(row: &Owing, lang: Lang) -> String {
    match row.card_debts {
        0 => row.bills.to_string(),
        debts => lang.tf("arrears.card_debts", &[("count", &debts)]),
    }
}

fn day(at: &DateTime<Utc>, app: &App) -> String {
    at.with_timezone(&app.zone).format("%Y-%m-%d").to_string()
}

impl ArrearsScreen {
    /// The page a paging key asks for; None when there is none that way.
    fn page_at(&self, command: Command) -> Option<PageAt<OwingCursor>> {
        let page = self.page.as_ref();
        let rows = page.map(|page| page.rows.as_slice()).unwrap_or_default();
        match command {
            Command::First => Some(PageAt::First),
            Command::Last => Some(PageAt::Last),
            Command::PageDown if page.is_some_and(|page| page.more_after) => {
                rows.last().map(|row| PageAt::After(row.into()))
            }
            Command::PageUp if page.is_some_and(|page| page.more_before) => {
                rows.first().map(|row| PageAt::Before(row.into()))
            }
            Command::Refresh => Some(
                rows.first()
                    .map_or(PageAt::First, |row| PageAt::From(row.into())),
            ),
            _ => None,
        }
    }
}

impl Screen for ArrearsScreen {
    fn has_fields(&self) -> bool {
        false
    }

    fn crumb(&self, lang: Lang) -> String {
        lang.t("arrears.crumb").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        framed(
            [BACK]
                .into_iter()
                .chain(usual([Command::Details, Command::Refresh]))
                .chain(usual(PAGING)),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let Some(page) = read_or_loading(&self.page, "arrears.loading", frame, area, (lang, theme))
        else {
            return;
        };
        let cells: Vec<[String; 5]> = page
            .rows
            .iter()
            .map(|row| {
                [
                    format!("{:08}", row.customer_no),
                    inert(&row.name).into_owned(),
                    unpaid(row, lang),
                    day(&row.oldest, app),
                    row.arrears.to_string(),
                ]
            })
            .collect();
        Table::new(&COLUMNS, &cells, lang.t("arrears.none"))
            .selected(Some(self.selected), 2)
            .draw(frame, area, (lang, theme));
    }

    fn on_open(&mut self, hub: &mut Hub) {
        hub.send(LoadOwing { at: PageAt::First });
    }

    fn on_key(&mut self, key: KeyEvent, _command: Option<Command>, _hub: &mut Hub) -> bool {
        let rows = self.page.as_ref().map_or(0, |page| page.rows.len());
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => self.selected = (self.selected + 1).min(rows.saturating_sub(1)),
            _ => return false,
        }
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Details => {
                let selected = self
                    .page
                    .as_ref()
                    .and_then(|page| page.rows.get(self.selected));
                if let Some(customer_no) = selected
                    .and_then(|row| u32::try_from(row.customer_no).ok())
                    .and_then(|no| CustomerNumber::try_from(no).ok())
                {
                    hub.send(LoadOwingCustomer { customer_no });
                }
                true
            }
            Command::First
            | Command::Last
            | Command::PageDown
            | Command::PageUp
            | Command::Refresh => {
                if let Some(at) = self.page_at(command) {
                    hub.send(LoadOwing { at });
                }
                true
            }
            _ => false,
        }
    }

    /// A change saved on a screen above (a debt paid on the close, bills paid from Details):
    /// the page is read again from its first row, so what was paid is not listed (walk s42-f).
    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            self.on_command(Command::Refresh, hub);
        }
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(OwingPage(page)) = reply.of::<OwingPage>() {
            self.selected = self.selected.min(page.rows.len().saturating_sub(1));
            self.page = Some(page.clone());
        }
        match reply.of::<OwingCustomer>() {
            Some(OwingCustomer(Some(row))) => hub.open(Box::new(Details::of(row))),
            Some(OwingCustomer(None)) => {
                hub.say(MessageKind::Error, hub.app.lang.t("details.gone"))
            }
            None => {}
        }
    }
}
