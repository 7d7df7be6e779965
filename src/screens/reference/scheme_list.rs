//! The price schemes (`:schemes`): the list; a scheme's details with its price preview are
//! [`super::scheme_detail`], the requests and forms [`super::schemes`].

use super::form::RefForm;
use super::list::{ListKind, ShortList};
use super::scheme_detail::SchemeView;
use super::schemes::{SchemeReply, SchemeRequest, months, prices_form, scheme_form};
use super::texts::{kind_key, mode_key};
use crate::app::{App, Command, Hub};
use crate::db::price_schemes::SchemeRow;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::Column;

pub type Schemes = ShortList<SchemeList>;

/// The price schemes' list.
#[derive(Debug, Clone, Default)]
pub struct SchemeList;

impl ListKind for SchemeList {
    type Row = SchemeRow;
    const CRUMB: &'static str = "ref.screen_schemes";
    const COLUMNS: &'static [Column] = &COLUMNS;
    const COMMANDS: &'static [(Command, &'static str)] = &[
        (Command::Details, "command.details"),
        (Command::Add, "command.add"),
        (Command::Modify, "command.modify"),
        (Command::Prices, "command.prices"),
        (Command::Refresh, "command.refresh"),
    ];
    type Work = SchemeRequest;
    const READ: SchemeRequest = SchemeRequest::List;

    fn rows(&mut self, reply: &SchemeReply) -> Option<Vec<SchemeRow>> {
        match reply {
            SchemeReply::Rows(rows) => Some(rows.clone()),
            _ => None,
        }
    }

    fn cells(row: &SchemeRow, lang: Lang) -> Vec<String> {
        vec![
            inert(&row.fields.name).into_owned(),
            lang.t(kind_key(row.fields.kind)).to_owned(),
            lang.t(mode_key(row.fields.mode)).to_owned(),
            format!("{}%", row.fields.vat_percent),
            months(row.fields.accumulation_months),
            months(row.fields.settlement_months),
            row.fields.start_date.to_string(),
            row.current_from
                .map_or_else(|| "—".to_owned(), |d| d.to_string()),
            row.used_by.to_string(),
        ]
    }

    fn form(&self, row: Option<&SchemeRow>, command: Command, app: &App) -> Option<RefForm> {
        let lang = app.lang;
        Some(match (command, row) {
            (Command::Prices, Some(row)) => prices_form(row.id, &row.fields, &[], app.zone),
            _ => scheme_form(row, lang),
        })
    }

    /// Details: the scheme with its versions and the price preview.
    fn on_command(&self, row: Option<&SchemeRow>, command: Command, hub: &mut Hub) -> bool {
        if command != Command::Details {
            return false;
        }
        if let Some(row) = row {
            let view = SchemeView::new(row.id, &row.fields.name);
            hub.open(Box::new(view));
        }
        true
    }
}

const COLUMNS: [Column; 9] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_kind", 8, 0, false),
    Column::new("ref.col_mode", 8, 0, false),
    Column::new("ref.col_vat", 6, 0, true),
    Column::new("ref.col_accumulation", 6, 0, true),
    Column::new("ref.col_settlement", 6, 0, true),
    Column::new("ref.col_start", 10, 0, false),
    Column::new("ref.col_in_force", 10, 0, false),
    Column::new("ref.col_used_by_types", 5, 0, true),
];
