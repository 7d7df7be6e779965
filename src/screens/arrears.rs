//! Customers with unpaid bills (`:arrears`): largest arrears first, then the oldest bill, a
//! page at a time (PgDn / PgUp / Home), read by `db::arrears`.

use chrono::{DateTime, Utc};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::legend::{BACK, framed, usual};
use super::reference::common::read_or_loading;
use crate::app::requests::Read;
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::arrears::{self, After, Owing};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::{Column, Table};
use crate::ui::theme::Theme;

/// Rows on a page: what 80×24 shows under the header.
pub const PAGE_ROWS: usize = 18;

/// The list: the page shown and where each page before it started.
#[derive(Debug, Clone, Default)]
pub struct ArrearsScreen {
    rows: Option<Vec<Owing>>,
    /// The start of every page before this one (None: the first).
    starts: Vec<Option<After>>,
    start: Option<After>,
    /// Whether a row follows this page.
    more: bool,
}

/// A page of customers who owe, after `after`; answered with [`OwingPage`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOwing {
    pub after: Option<After>,
}

/// The page read, with one row more than a page when more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct OwingPage(pub Vec<Owing>);

impl Read for LoadOwing {
    const TOLERATES_LAG: bool = true;

    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let rows = arrears::page(client, self.after.as_ref(), PAGE_ROWS as i64 + 1).await?;
        Ok(OwingPage(rows))
    }
}

const COLUMNS: [Column; 5] = [
    Column::new("arrears.col_customer", 8, 0, false).whole(),
    Column::new("arrears.col_name", 10, 4, false),
    Column::new("arrears.col_bills", 5, 0, true),
    Column::new("arrears.col_oldest", 10, 0, false),
    Column::new("arrears.col_arrears", 12, 1, true).whole(),
];

fn day(at: &DateTime<Utc>, app: &App) -> String {
    at.with_timezone(&app.zone).format("%Y-%m-%d").to_string()
}

impl ArrearsScreen {
    fn load(&mut self, after: Option<After>, hub: &mut Hub) {
        self.start = after.clone();
        hub.send(LoadOwing { after });
    }
}

impl Screen for ArrearsScreen {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("arrears.crumb").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        framed(
            [BACK]
                .into_iter()
                .chain(usual([Command::Refresh]))
                .chain(usual([Command::PageDown, Command::PageUp, Command::First])),
        )
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let Some(rows) = read_or_loading(&self.rows, "arrears.loading", frame, area, (lang, theme))
        else {
            return;
        };
        let cells: Vec<[String; 5]> = rows
            .iter()
            .map(|row| {
                [
                    format!("{:08}", row.customer_no),
                    inert(&row.name).into_owned(),
                    row.bills.to_string(),
                    day(&row.oldest, app),
                    row.arrears.to_string(),
                ]
            })
            .collect();
        Table::new(&COLUMNS, &cells, lang.t("arrears.none")).draw(frame, area, (lang, theme));
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.load(None, hub);
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Refresh => self.load(self.start.clone(), hub),
            Command::First => {
                self.starts.clear();
                self.load(None, hub);
            }
            Command::PageDown if self.more => {
                let last = self.rows.as_ref().and_then(|rows| rows.last());
                if let Some(after) = last.map(After::from) {
                    self.starts.push(self.start.clone());
                    self.load(Some(after), hub);
                }
            }
            Command::PageUp => {
                if let Some(start) = self.starts.pop() {
                    self.load(start, hub);
                }
            }
            Command::PageDown => {}
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, _hub: &mut Hub) {
        if let Some(OwingPage(rows)) = reply.of::<OwingPage>() {
            self.more = rows.len() > PAGE_ROWS;
            self.rows = Some(rows.iter().take(PAGE_ROWS).cloned().collect());
        }
    }
}
