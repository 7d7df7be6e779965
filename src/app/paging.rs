//! Keyset paging of a table on screen, whatever its rows: which page to ask for on a key, and
//! how an arriving page changes the rows and the selection. The customer table and the meter
//! list both page this way; each says how a row is placed (`cursor`) and identified (`id`).

use super::command::Command;
use crate::db::customers::{Page, PageAt};

/// How a fetched page changes the table on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageApply {
    /// A new search: replace the rows, select the first.
    Search,
    /// Replace the rows and select this row index (clamped).
    Select(usize),
    /// Replace the rows and keep the selected row if it is still there.
    Keep(Option<i64>),
    /// One row below the page: scroll up by one, select the last row.
    ScrollDown,
    /// One row above the page: scroll down by one, select the first row.
    ScrollUp,
}

/// Up/Down by `step`: moves within the page, or past its edge asks for one more row.
pub fn scroll<R, C>(
    page: &Page<R>,
    selected: &mut usize,
    step: isize,
    cursor: impl Fn(&R) -> C,
) -> Option<(PageAt<C>, PageApply)> {
    let rows = &page.rows;
    match selected.checked_add_signed(step) {
        Some(index) if index < rows.len() => {
            *selected = index;
            None
        }
        Some(_) if page.more_after => rows
            .last()
            .map(|last| (PageAt::After(cursor(last)), PageApply::ScrollDown)),
        None if page.more_before => rows
            .first()
            .map(|first| (PageAt::Before(cursor(first)), PageApply::ScrollUp)),
        _ => None,
    }
}

/// PgDn / PgUp / Home / End / F5: the page to ask for, or None when the selection just moves
/// to the edge of the last (or first) page.
pub fn page_for<R, C>(
    page: &Page<R>,
    selected: &mut usize,
    command: Command,
    cursor: impl Fn(&R) -> C,
    id: impl Fn(&R) -> i64,
) -> Option<(PageAt<C>, PageApply)> {
    let rows = &page.rows;
    match (command, rows.first(), rows.last()) {
        (Command::First, ..) => Some((PageAt::First, PageApply::Select(0))),
        (Command::Last, ..) => Some((PageAt::Last, PageApply::Select(usize::MAX))),
        (Command::PageDown, _, Some(last)) if page.more_after => {
            Some((PageAt::After(cursor(last)), PageApply::Select(*selected)))
        }
        (Command::PageDown, ..) => {
            *selected = rows.len().saturating_sub(1);
            None
        }
        (Command::PageUp, Some(first), _) if page.more_before => {
            Some((PageAt::Before(cursor(first)), PageApply::Select(*selected)))
        }
        (Command::PageUp, ..) => {
            *selected = 0;
            None
        }
        (_, Some(first), _) => Some((
            PageAt::From(cursor(first)),
            PageApply::Keep(rows.get(*selected).map(id)),
        )),
        (_, None, _) => Some((PageAt::First, PageApply::Select(0))),
    }
}

/// A page arrived: put it on screen as the request said.
pub fn show<R>(
    shown: &mut Page<R>,
    selected: &mut usize,
    page: Page<R>,
    apply: PageApply,
    id: impl Fn(&R) -> i64,
) {
    match apply {
        PageApply::ScrollDown => {
            if let Some(row) = page.rows.into_iter().next() {
                if !shown.rows.is_empty() {
                    shown.rows.remove(0);
                }
                shown.rows.push(row);
                shown.more_before = true;
                shown.more_after = page.more_after;
                *selected = shown.rows.len() - 1;
            }
        }
        PageApply::ScrollUp => {
            if let Some(row) = page.rows.into_iter().next() {
                shown.rows.pop();
                shown.rows.insert(0, row);
                shown.more_after = true;
                shown.more_before = page.more_before;
                *selected = 0;
            }
        }
        PageApply::Search | PageApply::Select(_) | PageApply::Keep(_) => {
            let index = match apply {
                PageApply::Keep(Some(kept)) => page.rows.iter().position(|row| id(row) == kept),
                PageApply::Select(index) => Some(index),
                _ => None,
            };
            *selected = index.unwrap_or(0).min(page.rows.len().saturating_sub(1));
            *shown = page;
        }
    }
}
