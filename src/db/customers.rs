//! The customer table: keyset pages of a search, and one customer's details.
//!
//! Pages are found by keyset, never OFFSET: a page 40 000 rows deep costs what the first one
//! does. The plan choices behind each search are explained in `sql/V3__customer_search.sql`.

use crate::db::{CachingClient, Planning};
use chrono::{DateTime, Utc};
use deadpool_postgres::StatementCache;
use rust_decimal::Decimal;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio_postgres::types::{ToSql, Type};

use super::DbError;
use super::cancel::Cancellable;
use super::card_ops::{DEBTS_OWED, DEBTS_STILL_OWED, WATER_OWED};
use super::cards::PaymentMethod;
use super::rows::from_columns;
use crate::domain::customer_number::{self, CustomerNumber};
use crate::domain::money::{Money, Volume};
use crate::domain::search::CustomerSearch;

/// One line of the customer table.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub id: i64,
    pub customer_no: i64,
    pub name: String,
    pub customer_type: String,
    pub meter_no: String,
    pub account_kind: String,
    /// `meter_prepaid` for a card-meter customer (the card screens refuse the others at once).
    pub business_model: String,
    pub balance: Decimal,
    /// What the customer owes: the unpaid bills (sql/V21: one probe of the unpaid bills'
    /// index), and a card meter's water a meter loaded unpaid (sql/V163).
    pub arrears: Money,
    /// The state of the customer's newest card; None if the customer never had one.
    pub card_state: Option<String>,
    pub phone: Option<String>,
    pub address: String,
    pub status: String,
}

/// A row's position in the display order of a search.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    customer_no: i64,
    /// Set for text searches, which are shown by name.
    name: Option<String>,
}

impl CustomerRow {
    /// This row's position in the display order of `search`.
    pub fn cursor(&self, search: &CustomerSearch) -> Cursor {
        Cursor {
            customer_no: self.customer_no,
            name: matches!(search, CustomerSearch::Text(_)).then(|| self.name.clone()),
        }
    }
}

/// Which page to fetch.
/// Which page to fetch; `C` places a row in the display order (the meter list uses the meter
/// number).
#[derive(Clone, Debug, PartialEq)]
pub enum PageAt<C = Cursor> {
    First,
    Last,
    /// The page after the cursor's row.
    After(C),
    /// The page before the cursor's row.
    Before(C),
    /// The page starting at the cursor's row (or the next one, if it has gone): keeps the
    /// selection over a refresh.
    From(C),
}

impl<C> PageAt<C> {
    /// How a keyset read of this page starts.
    pub(crate) fn seek(&self) -> Seek<'_, C> {
        let (forward, cursor, inclusive) = match self {
            PageAt::First => (true, None, false),
            PageAt::Last => (false, None, false),
            PageAt::After(cursor) => (true, Some(cursor), false),
            PageAt::Before(cursor) => (false, Some(cursor), false),
            PageAt::From(cursor) => (true, Some(cursor), true),
        };
        Seek {
            forward,
            cursor,
            inclusive,
        }
    }

    /// This page from `rows`, read as [`seek`](Self::seek) says (`size + 1` at most). A page
    /// from a row holds that row, so the read cannot tell whether anything lies before it:
    /// `anything_before` asks, given that row's cursor.
    pub(crate) async fn page_of<R>(
        &self,
        rows: Vec<R>,
        size: usize,
        anything_before: impl AsyncFnOnce(&C) -> Result<bool, DbError>,
    ) -> Result<Page<R>, DbError> {
        let seek = self.seek();
        let mut page = page_of(rows, size, seek.forward, seek.cursor.is_none());
        if let PageAt::From(cursor) = self {
            page.more_before = anything_before(cursor).await?;
        }
        Ok(page)
    }
}

/// Where a keyset read starts: which way it reads (forward: in display order), from which
/// cursor (none: from an end), and whether the cursor's own row is read too.
pub(crate) struct Seek<'a, C> {
    pub forward: bool,
    pub cursor: Option<&'a C>,
    pub inclusive: bool,
}

impl<C> Seek<'_, C> {
    /// The comparison that keeps the rows beyond the cursor, the way the read goes, in a
    /// display order whose key ascends (`ascending`) or descends.
    pub(crate) fn comparison(&self, ascending: bool) -> &'static str {
        match (self.forward == ascending, self.inclusive) {
            (true, false) => ">",
            (true, true) => ">=",
            (false, false) => "<",
            (false, true) => "<=",
        }
    }
}

/// Rows in display order, and whether the search has more on either side.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<R = CustomerRow> {
    pub rows: Vec<R>,
    pub more_before: bool,
    pub more_after: bool,
}

impl<R> Default for Page<R> {
    fn default() -> Self {
        Page {
            rows: Vec::new(),
            more_before: false,
            more_after: false,
        }
    }
}

/// [`page`] on a connection from the pool, cancelled on the server if the caller drops the
/// future before the answer arrives (the clerk typed on and the UI dropped this search).
pub async fn page_on(
    connection: deadpool_postgres::Object,
    search: &CustomerSearch,
    at: &PageAt,
    size: usize,
) -> Result<Page, DbError> {
    let connection = Cancellable::new(connection);
    let page = page(connection.client(), search, at, size).await;
    connection.finish();
    page
}

/// The page of `search` at `at`, at most `size` rows, in display order: by customer number,
/// or by name then customer number for text searches. A cursor made for another kind of
/// search counts as no cursor (the page starts at the top, or at the bottom for `Before`).
pub async fn page(
    client: &impl CachingClient,
    search: &CustomerSearch,
    at: &PageAt,
    size: usize,
) -> Result<Page, DbError> {
    page_within(client, search, at, size, ContainsBounds::DEFAULT).await
}

/// [`page`] with other bounds of a "contains" search: tests make them small, so that a few
/// hundred customers take every way a page can be found.
pub async fn page_within(
    client: &impl CachingClient,
    search: &CustomerSearch,
    at: &PageAt,
    size: usize,
    bounds: ContainsBounds,
) -> Result<Page, DbError> {
    let statistics = match search {
        CustomerSearch::Text(text) if !fragment_keys(text).is_empty() => {
            kept_statistics(client).await?
        }
        // No address fragment is looked for (digits, or two Latin letters at most: a name's
        // start only).
        _ => SearchStatistics::Unknown,
    };
    page_judged(client, search, at, size, bounds, &statistics).await
}

/// [`page_within`] sent as a connection knowing `statistics` sends it: tests take each
/// statement a fragment may be sent with, whatever the database's statistics say.
pub async fn page_judged(
    client: &impl CachingClient,
    search: &CustomerSearch,
    at: &PageAt,
    size: usize,
    bounds: ContainsBounds,
    statistics: &SearchStatistics,
) -> Result<Page, DbError> {
    let page_query = PageQuery::within(search, at, size, bounds, statistics);
    if let PageAt::From(cursor) = at {
        // Whether anything lies before the cursor needs a second statement; sent together
        // with the first, it costs no extra round trip.
        let probe = PageQuery::within(
            search,
            &PageAt::Before(cursor.clone()),
            0,
            bounds,
            statistics,
        );
        let (rows, before) = tokio::try_join!(page_query.fetch(client), probe.fetch(client))?;
        return Ok(Page {
            more_before: !before.is_empty(),
            ..page_query.into_page(rows, size)
        });
    }
    let rows = page_query.fetch(client).await?;
    Ok(page_query.into_page(rows, size))
}

/// One statement of a page: its text and parameters, and which way it reads.
pub(crate) struct PageQuery {
    pub sql: String,
    params: Params,
    direction: Direction,
    at_start: bool,
    /// How the server plans it (`fetch`).
    planning: Planning,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

impl Direction {
    fn order(self) -> &'static str {
        match self {
            Direction::Forward => "ASC",
            Direction::Backward => "DESC",
        }
    }
}

/// How the display order is keyed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    ByNumber,
    ByName,
}

impl Order {
    fn of(search: &CustomerSearch) -> Self {
        match search {
            CustomerSearch::Text(_) => Order::ByName,
            CustomerSearch::All | CustomerSearch::CustomerNo(_) | CustomerSearch::Digits(_) => {
                Order::ByNumber
            }
        }
    }

    /// The key columns of `c` (customer), as the ORDER BY and the row comparison spell them.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Order::ByNumber => &["c.customer_no"],
            Order::ByName => &["c.name", "c.customer_no"],
        }
    }
}

impl PageQuery {
    /// The statement for `at`, reading `size + 1` rows so the extra one tells whether there
    /// are more.
    /// `statistics`: what the connection it is sent on knows ([`kept_statistics`]).
    pub(crate) fn new(
        search: &CustomerSearch,
        at: &PageAt,
        size: usize,
        statistics: &SearchStatistics,
    ) -> Self {
        Self::within(search, at, size, ContainsBounds::DEFAULT, statistics)
    }

    fn within(
        search: &CustomerSearch,
        at: &PageAt,
        size: usize,
        bounds: ContainsBounds,
        statistics: &SearchStatistics,
    ) -> Self {
        let order = Order::of(search);
        let address_rarity = match search {
            CustomerSearch::Text(text) => statistics.judge(text),
            _ => Judged::InTheStatement,
        };
        let Seek {
            forward,
            cursor,
            inclusive,
        } = at.seek();
        let direction = if forward {
            Direction::Forward
        } else {
            Direction::Backward
        };
        // A cursor from a search of the other order cannot be placed in this one.
        let cursor = cursor.filter(|cursor| cursor.name.is_some() == (order == Order::ByName));
        let mut params = Params::default();
        let keyset = cursor.map(|cursor| KeysetBound {
            number: params.bind(cursor.customer_no),
            name: cursor.name.as_ref().map(|name| params.bind(name.clone())),
            forward,
            inclusive,
        });
        let key_order = order
            .columns()
            .iter()
            .map(|column| format!("{column} {}", direction.order()))
            .collect::<Vec<_>>()
            .join(", ");
        // Limits are literals: they are the same at every call of a page size, and a kept
        // statement's generic plan then knows them.
        let limit = size + 1;
        let conditions = search_conditions(search, statistics, &mut params);
        let mut bound = |seek: &Keyset| match &keyset {
            None => "TRUE".to_owned(),
            Some(keyset) => keyset.condition(seek, &mut params),
        };
        let walk_bound = bound(&Keyset::InOrder);
        let mut branches: Vec<String> = conditions
            .branches
            .iter()
            .map(|branch| {
                format!(
                    "(SELECT c.id, c.name, c.customer_no FROM {} AND {} \
                     ORDER BY {key_order} LIMIT {limit})",
                    branch.from_where,
                    bound(&branch.keyset)
                )
            })
            .collect();
        let mut with = String::new();
        if let Some(contains) = &conditions.contains {
            let columns = order.columns().join(", ");
            let beyond = match direction {
                Direction::Forward => ">",
                Direction::Backward => "<",
            };
            let window = bounds.walk;
            let most_candidates = format!("{}::bigint", bounds.candidates);
            // The CTEs are read only as far as their readers pull: `walk_hits` stops the walk at a
            // page of matches (a common fragment walks a few dozen rows), and a fragment the
            // address index's statistics find too rare to have two matches in the window walks none
            // of it (`rare`: docs/decisions.md, "Digits kept; a rare fragment asks the index
            // first"; judged by the desk when its connection knows the statistics, and then sent
            // without the walk: `SearchStatistics`). The window's matches are a sample of the
            // fragment's share: from COMMON_IN_WINDOW of them on (yet less than a page), a page
            // is expected within `walk_on` rows more (`limit × window ÷ COMMON_IN_WINDOW`):
            // `walk_end`, the window's last row, is read by a second walk of the name index that
            // keeps nothing but that row (the window kept whole for both cost more than walking
            // it twice: docs/decisions.md,
            // "The walk kept in no CTE"), and the rows after it are walked (`walk_on_hits`, read
            // straight off the index: no row is kept) before the index is asked; if they too hold
            // less than a page, the seek starts from their end (`seek_from`). Otherwise (a rare
            // fragment) the seek starts where the walk did (`seek_from_start`): the window is not
            // walked again to find its end, and its few matches, which the seek finds too, are the
            // walk's (the UNION keeps one of each; same section). The seek reads the fragment's
            // candidates through its index, at most `most_candidates + 1` of them; the bitmap index
            // scan counts every entry it proposes before the first row is read, in the statistics
            // of the transaction (`index_entries`): when it counted more than the bound, no row
            // after the first is read and the walk goes on from where the seek began instead. The
            // runs the index is asked for are computed once, in `asked` (sql/V35).
            // At least one row: a page of none (the probe of what lies before a page read from
            // a row, `limit` 1) in a window under two rows would make it 0 and `seek_from`'s
            // OFFSET -1, which the server refuses as soon as `seek_from` is read, run or not.
            let walk_on = (i64::try_from(limit)
                .unwrap_or(i64::MAX)
                .saturating_mul(window)
                / COMMON_IN_WINDOW)
                .max(1);
            let on_row = &contains.on_row;
            let indexed = &contains.indexed;
            let keys = &contains.keys;
            // The candidates' count and the walk past too many (sql/V35's bound). A fragment
            // shorter than a run of three reads the character-set index, whose entries are not
            // counted: nothing is ever too many for it, and its statement asks nothing of it.
            let (counted, not_too_many, or_too_many) = match &contains.index_entries {
                Some(index_entries) => (
                    format!(
                        ", first_candidate AS MATERIALIZED (
                             SELECT FROM every_candidate LIMIT 1
                         ), too_many AS MATERIALIZED (
                             -- Read once the first candidate is: the index has then proposed
                             -- them all.
                             SELECT FROM asked k WHERE EXISTS (SELECT FROM first_candidate)
                               AND {index_entries} - k.entries_before > {most_candidates}
                         )"
                    ),
                    " WHERE NOT EXISTS (SELECT FROM too_many)",
                    " OR EXISTS (SELECT FROM too_many)",
                ),
                None => (String::new(), "", ""),
            };
            // Without the walk, nothing has to be read before the index is but the counter of
            // its entries: a shorter fragment's rare statement has no `asked`.
            let rare = address_rarity == Judged::Rare;
            let asked_first = if rare && contains.index_entries.is_none() {
                ""
            } else {
                " AND EXISTS (SELECT FROM asked)"
            };
            let candidates = format!(
                "every_candidate AS MATERIALIZED (
                     -- Through the fragment's index, without a LIMIT the planner would plan
                     -- for (it might then scan the table in the hope of an early end); the
                     -- key bound is applied outside, so it cannot choose to walk an unknown
                     -- range instead. `asked` is read before the index is.
                     SELECT c.id, c.name, c.customer_no, ({on_row}) AS hit FROM customer c
                     WHERE ({indexed}){asked_first}
                 ){counted}, candidates AS MATERIALIZED (
                     SELECT * FROM every_candidate{not_too_many}
                     LIMIT {most_candidates} + 1
                 )"
            );
            let too_many =
                format!("((SELECT count(*) FROM candidates) > {most_candidates}{or_too_many})");
            if rare {
                // Rare (the desk judged it, `SearchStatistics`): the window would not be walked,
                // the seek starts where the walk would have, and nothing of the walk is in the
                // statement (each part of a statement is started at every call, run or not).
                with = match &contains.index_entries {
                    Some(index_entries) => format!(
                        "WITH asked AS MATERIALIZED (
                             SELECT {keys} AS keys, {index_entries} AS entries_before
                         ), {candidates}"
                    ),
                    None => format!("WITH {candidates}"),
                };
                branches.push(format!(
                    "(SELECT c.id, c.name, c.customer_no FROM candidates c \
                     WHERE c.hit AND {walk_bound} \
                       AND (SELECT count(*) FROM candidates) <= {most_candidates} \
                     ORDER BY {key_order} LIMIT {limit})"
                ));
                branches.push(format!(
                    "(SELECT c.id, c.name, c.customer_no FROM customer c \
                     WHERE {walk_bound} AND ({on_row}) AND {too_many} \
                     ORDER BY {key_order} LIMIT {limit})"
                ));
            } else {
                let not_rare = match (&address_rarity, &contains.rare) {
                    (Judged::InTheStatement, rare) => format!(" AND NOT (SELECT {rare})"),
                    _ => String::new(),
                };
                with = format!(
                    "WITH walk_hits AS MATERIALIZED (
                         SELECT w.id, w.name, w.customer_no FROM (
                             SELECT c.id, c.name, c.customer_no, ({on_row}) AS hit FROM customer c
                             WHERE {walk_bound}{not_rare}
                             ORDER BY {key_order} LIMIT {window}
                         ) w WHERE w.hit LIMIT {limit}
                     ), walk_end AS MATERIALIZED (
                         SELECT c.name, c.customer_no FROM customer c
                         WHERE {walk_bound} AND (SELECT count(*) FROM walk_hits) < {limit}
                           AND (SELECT count(*) FROM walk_hits) >= {COMMON_IN_WINDOW}
                         ORDER BY {key_order} OFFSET {window} - 1 LIMIT 1
                     ), walk_on_hits AS MATERIALIZED (
                         SELECT w.id, w.name, w.customer_no FROM (
                             SELECT c.id, c.name, c.customer_no, ({on_row}) AS hit FROM customer c
                             WHERE ({columns}) {beyond} (SELECT {columns} FROM walk_end c)
                               AND (SELECT count(*) FROM walk_hits) >= {COMMON_IN_WINDOW}
                             ORDER BY {key_order} LIMIT {walk_on}
                         ) w WHERE w.hit LIMIT {limit}
                     ), seek_from AS MATERIALIZED (
                         SELECT c.name, c.customer_no FROM customer c
                         WHERE ({columns}) {beyond} (SELECT {columns} FROM walk_end c)
                           AND (SELECT count(*) FROM walk_hits) >= {COMMON_IN_WINDOW}
                           AND (SELECT count(*) FROM walk_hits)
                               + (SELECT count(*) FROM walk_on_hits) < {limit}
                         ORDER BY {key_order} OFFSET {walk_on} - 1 LIMIT 1
                     ), seek_from_start AS MATERIALIZED (
                         SELECT WHERE (SELECT count(*) FROM walk_hits) < {COMMON_IN_WINDOW}
                     ), asked AS MATERIALIZED (
                         SELECT {keys} AS keys, {index_entries} AS entries_before
                         WHERE EXISTS (SELECT FROM seek_from) OR EXISTS (SELECT FROM seek_from_start)
                     ), {candidates}",
                    index_entries = contains.index_entries.as_deref().unwrap_or("NULL::bigint"),
                );
                let beyond_walk_on =
                    format!("({columns}) {beyond} (SELECT {columns} FROM seek_from c)");
                let from_start = format!("EXISTS (SELECT FROM seek_from_start) AND {walk_bound}");
                branches.push("(SELECT c.id, c.name, c.customer_no FROM walk_hits c)".to_owned());
                branches
                    .push("(SELECT c.id, c.name, c.customer_no FROM walk_on_hits c)".to_owned());
                branches.push(format!(
                    "(SELECT c.id, c.name, c.customer_no FROM candidates c \
                     WHERE c.hit AND ({beyond_walk_on} OR {from_start}) \
                       AND (SELECT count(*) FROM candidates) <= {most_candidates} \
                     ORDER BY {key_order} LIMIT {limit})"
                ));
                // Too many candidates: the walk goes on from where the seek began. Two
                // branches, so that each one's bound is where its index scan starts.
                for seek_start in [beyond_walk_on, from_start] {
                    branches.push(format!(
                        "(SELECT c.id, c.name, c.customer_no FROM customer c \
                         WHERE {seek_start} AND ({on_row}) AND {too_many} \
                         ORDER BY {key_order} LIMIT {limit})"
                    ));
                }
            }
        }
        let hits = if branches.is_empty() {
            // Nothing can match (e.g. only dashes typed), but the statement keeps its shape.
            format!(
                "(SELECT c.id, c.name, c.customer_no FROM customer c WHERE FALSE \
                 ORDER BY {key_order} LIMIT {limit})"
            )
        } else {
            branches.join(" UNION ")
        };
        let hit_order = key_order.replace("c.", "hit.");
        // The keys are cut to the page before they are joined: each branch reads up to a page,
        // and joined whole, their union looked big enough to a small table's planner to read
        // the whole account table into a hash (docs/decisions.md, "The soak's other
        // operations"). Each join gives one row (one account per customer): the rows are the
        // same. The customer's type and meter are subqueries, not joins: each is one row by
        // its key (both columns NOT NULL, foreign keys), and out of the join the planner has
        // three tables to order instead of five, a quarter of this statement's planning,
        // which every search pays (docs/decisions.md, "The search's planning and keys").
        let arrears = arrears();
        let sql = format!(
            "{with}
             SELECT c.id, c.customer_no, c.name,
                    (SELECT t.name FROM customer_type t WHERE t.id = c.customer_type_id)
                        AS customer_type,
                    (SELECT m.meter_no FROM meter m WHERE m.id = c.meter_id) AS meter_no,
                    c.account_kind, a.balance, card.state AS card_state, c.phone, c.address,
                    c.status, c.business_model, {arrears} AS arrears
             FROM (SELECT * FROM ({hits}) hit ORDER BY {hit_order} LIMIT {limit}) hit
             JOIN customer c ON c.id = hit.id
             -- Opening a customer opens the account in the same transaction: there is always one.
             JOIN account a ON a.customer_id = c.id
             LEFT JOIN LATERAL (
                 SELECT k.state FROM card k WHERE k.customer_id = c.id AND {ISSUED_CARD}
                 ORDER BY k.generation DESC LIMIT 1
             ) card ON TRUE
             ORDER BY {hit_order}
             LIMIT {limit}"
        );
        PageQuery {
            sql,
            params,
            direction,
            at_start: cursor.is_none(),
            planning: planning_of(search),
        }
    }

    pub(crate) fn param_refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.refs()
    }

    async fn fetch(&self, client: &impl CachingClient) -> Result<Vec<CustomerRow>, DbError> {
        // A statement whose best plan depends on its values is a fresh one each time: the
        // server plans it with them. The others are kept on their connection and run on their
        // generic plan, made once (planning was a third of a name search's cost,
        // docs/decisions.md "The search's statement kept").
        let sql = self.sql.as_str();
        let params = self.params.typed();
        let rows = client.query_planned(sql, &params, self.planning).await?;
        Ok(rows
            .iter()
            .map(|row| {
                from_columns!(row => CustomerRow {
                    id, customer_no, name, customer_type, meter_no, account_kind, business_model,
                    balance, arrears, card_state, phone, address, status,
                })
            })
            .collect())
    }

    /// Trims the extra row and puts the rows in display order.
    fn into_page(self, rows: Vec<CustomerRow>, size: usize) -> Page {
        page_of(
            rows,
            size,
            self.direction == Direction::Forward,
            self.at_start,
        )
    }
}

/// A page from `size + 1` rows read in one direction: the extra row tells there are more that
/// way, and a read that started from a cursor came from a row on the other side.
pub(crate) fn page_of<R>(mut rows: Vec<R>, size: usize, forward: bool, at_start: bool) -> Page<R> {
    let more_in_direction = rows.len() > size;
    rows.truncate(size);
    let more_behind = !at_start;
    if forward {
        Page {
            rows,
            more_before: more_behind,
            more_after: more_in_direction,
        }
    } else {
        rows.reverse();
        Page {
            rows,
            more_before: more_in_direction,
            more_after: more_behind,
        }
    }
}

/// The parameters of a statement as it is built (the audit log's pages are built so too), each
/// with the PostgreSQL type it is sent as: a statement planned per call is sent with its types
/// and values in one round trip, never described by the server first
/// ([`CachingClient::query_uncached`]).
#[derive(Default)]
pub(crate) struct Params {
    values: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
}

/// A value a built statement takes, and its PostgreSQL type.
pub(crate) trait Param: ToSql + Sync + Send + 'static {
    const TYPE: Type;
}

impl Param for i64 {
    const TYPE: Type = Type::INT8;
}

impl Param for String {
    const TYPE: Type = Type::TEXT;
}

impl Param for Vec<String> {
    const TYPE: Type = Type::TEXT_ARRAY;
}

impl Param for DateTime<Utc> {
    const TYPE: Type = Type::TIMESTAMPTZ;
}

impl Params {
    /// Adds a parameter and returns its placeholder.
    pub(crate) fn bind<T: Param>(&mut self, value: T) -> String {
        self.values.push((Box::new(value), T::TYPE));
        format!("${}", self.values.len())
    }

    /// The parameters as a statement takes them.
    pub(crate) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|(value, _)| &**value as &(dyn ToSql + Sync))
            .collect()
    }

    /// The parameters with their types.
    fn typed(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.values
            .iter()
            .map(|(value, ty)| (&**value as &(dyn ToSql + Sync), ty.clone()))
            .collect()
    }
}

/// ASCII fragments shorter than a trigram match only the start of a name: two Latin letters
/// are in a large share of all names and addresses, no index narrows them, and a clerk types
/// on (docs/decisions.md).
const TRIGRAM: usize = 3;

/// What a search looks for.
struct Conditions {
    /// The UNION's branches, each one condition an index serves.
    branches: Vec<Branch>,
    /// A text fragment anywhere in the address, or an ASCII one in the name.
    contains: Option<Contains>,
}

/// One branch of a search's UNION.
struct Branch {
    /// `FROM … WHERE …`; `c` is the customer (or a row with its `id`, `name` and
    /// `customer_no`).
    from_where: String,
    keyset: Keyset,
}

impl Branch {
    fn in_order(from_where: String) -> Branch {
        Branch {
            from_where,
            keyset: Keyset::InOrder,
        }
    }
}

/// How a branch keeps the rows beyond the cursor (in the display order by name) so that its
/// index scan starts at the cursor, not at the first row of the cursor's name: a common name
/// ("王华", 3 083 customers at 10 M) would have the scan read all of them before the cursor.
enum Keyset {
    /// The branch reads an index in display order (after equal leading columns): the row
    /// comparison with the cursor is where its scan starts.
    InOrder,
    /// A name prefix's range of the name index, and the prefix as the range starts. Next to
    /// the range's own bounds the btree starts at a row comparison even when the range begins
    /// far beyond it, walking everything between: reading forward, the row compared is the
    /// later of the cursor and the range's start; reading backward (the range's end is not
    /// spelled here), the name bounds the scan and the number filters within one name.
    NamePrefix(String),
    /// Rows found by another key (the meters'), then sorted: the name bounds them, the number
    /// decides within one name.
    ByNameThenNumber,
}

/// A cursor's key as placeholders, and which way the page reads from it.
struct KeysetBound {
    number: String,
    /// None: the search is shown by customer number.
    name: Option<String>,
    forward: bool,
    inclusive: bool,
}

impl KeysetBound {
    /// The condition that keeps the rows beyond the cursor, as `keyset` reads them.
    fn condition(&self, keyset: &Keyset, params: &mut Params) -> String {
        let (strict, or_equal) = if self.forward {
            (">", ">=")
        } else {
            ("<", "<=")
        };
        let beyond = if self.inclusive { or_equal } else { strict };
        let number = &self.number;
        let Some(name) = &self.name else {
            return format!("c.customer_no {beyond} {number}");
        };
        match keyset {
            Keyset::NamePrefix(start) if self.forward => {
                // Every row of the range is beyond a cursor before the range's start.
                let start = params.bind(start.clone());
                let before_range = format!("{name} < {start}");
                let lowest = params.bind(i64::MIN);
                format!(
                    "(c.name, c.customer_no) {beyond} \
                     (GREATEST({name}, {start}), \
                      CASE WHEN {before_range} THEN {lowest} ELSE {number} END)"
                )
            }
            Keyset::InOrder => format!("(c.name, c.customer_no) {beyond} ({name}, {number})"),
            Keyset::NamePrefix(_) | Keyset::ByNameThenNumber => format!(
                "c.name {or_equal} {name} \
                 AND (c.name {strict} {name} OR c.customer_no {beyond} {number})"
            ),
        }
    }
}

/// "Contains" in the address is neither a range of an index nor reliably estimated (how
/// common is a fragment of two characters?), so it is not left to the planner's choice between
/// walking and seeking. The page walks at most [`ContainsBounds::walk`] rows of the name index
/// (an index-only scan), stopping at a page of matches: common fragments end there. If the
/// window held less than a page but [`COMMON_IN_WINDOW`] matches or more, the fragment is
/// common enough to walk on (a bounded number of rows more) before seeking. The seek reads the
/// fragment's candidates from its index, at most [`ContainsBounds::candidates`] + 1 of them: if
/// that is all of them, the page is their matches beyond the walk, sorted (a rare fragment); if
/// not (or the index counted more before any was read), the fragment is common enough that
/// walking on from the walk's end finds a page soon. Either way the cost is bounded, at
/// the top of the list and 40 000 rows deep, and grows with the square root of the customers
/// at most, not with their number.
struct Contains {
    /// The condition on a row of the walk (customer_by_name's columns only).
    on_row: String,
    /// Whether the address index's statistics find the fragment too rare to walk for (a
    /// character in hardly any address, sql/V80): its window is then not walked, and the
    /// index is asked at once. Asked in the statement when the desk does not know
    /// ([`SearchStatistics`]).
    rare: String,
    /// The candidates' condition, spelled so the character-set or trigram index serves it
    /// (the runs of three as `asked` holds them: `(SELECT k.keys FROM asked k)`).
    indexed: String,
    /// The runs of three the trigram index is asked for (sql/V35), or NULL (a shorter
    /// fragment).
    keys: String,
    /// The number of entries the fragment's index has proposed in this transaction so far
    /// (its statistics' `idx_tup_read`, which a bitmap index scan raises by all it proposes
    /// before the first row is read), or None where candidates are not counted (the
    /// character-set index of a shorter fragment).
    index_entries: Option<String>,
}

/// Matches in the window from which a fragment counts as common: its page is then walked to
/// rather than sought (see `PageQuery::within`). At ten million customers two in 1 000 rows
/// is a share of 0.2 %, 20 000 customers, four times the candidates' bound; a fragment with
/// 2 000 matches (a road and house number) shows two in 1 000 rows about once in fifty.
const COMMON_IN_WINDOW: i64 = 2;

/// How far a "contains" search walks and seeks ([`Contains`]).
#[derive(Clone, Copy, Debug)]
pub struct ContainsBounds {
    /// Rows of the name order walked before seeking: a fragment in one address of 25 fills a
    /// page within them.
    pub walk: i64,
    /// Candidates read from the fragment's index before walking on instead: a fragment with
    /// more has a page within the next ~40 × customers / `candidates` rows (80 000 at ten
    /// million, ~25 ms), and reading that many candidates from the heap costs about as much
    /// (measured at 5 M: "幸福里27", 11 500 matches, 54 ms with 10 000, 26 ms with 5 000).
    pub candidates: i64,
}

impl ContainsBounds {
    pub const DEFAULT: ContainsBounds = ContainsBounds {
        walk: 1_000,
        candidates: 5_000,
    };
}

/// What a connection knows of the statistics a text search's statement is chosen by (sql/V169):
/// from them the desk judges an address fragment rare (a character in hardly any address: its
/// window of the name order is not walked, V80) and sends the statement of the way its page is
/// found, and chooses the name key whose range the name-contains branch reads (V158's rule).
/// Each part of a statement is started at every call, run or not, and a function called in it
/// costs as much as the choice it makes (docs/decisions.md, "The name search's server cost
/// (s40-d)"). Either choice costs time only, never rows.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchStatistics {
    /// Nothing (a bare connection, which keeps nothing between statements): the statement asks
    /// the server (`address_fragment_is_rare`, V80; `name_key_rarest`, V158) and holds every
    /// way.
    Unknown,
    Known {
        /// The characters ANALYZE finds in enough addresses to walk for
        /// (`address_chars_not_rare`); None: no character is known rare (no statistics, or a
        /// full list).
        address_chars_not_rare: Option<String>,
        /// customer_name_char's most common keys by ANALYZE, the most common first (empty
        /// without statistics).
        name_keys_common: Vec<String>,
    },
}

/// How a fragment was judged ([`SearchStatistics::judge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Judged {
    InTheStatement,
    Rare,
    Common,
}

impl SearchStatistics {
    /// Whether `fragment` is judged rare; None when the statement asks the server.
    pub fn is_rare(&self, fragment: &str) -> Option<bool> {
        match self.judge(fragment) {
            Judged::InTheStatement => None,
            judged => Some(judged == Judged::Rare),
        }
    }

    /// V80's rule: a fragment is rare when one of its characters, lower-cased as the database
    /// lower-cases them in its C collation (ASCII letters only), is not listed.
    fn judge(&self, fragment: &str) -> Judged {
        match self {
            SearchStatistics::Unknown => Judged::InTheStatement,
            SearchStatistics::Known {
                address_chars_not_rare: None,
                ..
            } => Judged::Common,
            SearchStatistics::Known {
                address_chars_not_rare: Some(common),
                ..
            } => {
                if fragment
                    .chars()
                    .any(|c| !common.contains(c.to_ascii_lowercase()))
                {
                    Judged::Rare
                } else {
                    Judged::Common
                }
            }
        }
    }

    /// V158's `name_key_rarest`: of `keys` (as [`fragment_keys`] gives them, sorted), the first
    /// one, lower-cased as the database lower-cases (ASCII letters only), that is not among the
    /// common keys, else the one listed last (the least common); the only key as it is. None
    /// when the statement asks the server.
    pub fn name_key_rarest(&self, keys: &[String]) -> Option<String> {
        let SearchStatistics::Known {
            name_keys_common, ..
        } = self
        else {
            return None;
        };
        let mut rarest: Option<(usize, String)> = None;
        for key in keys {
            let key = key.to_ascii_lowercase();
            if keys.len() < 2 {
                return Some(key);
            }
            match name_keys_common.iter().position(|common| *common == key) {
                None => return Some(key),
                Some(at) if rarest.as_ref().is_none_or(|(rarest_at, _)| at > *rarest_at) => {
                    rarest = Some((at, key));
                }
                Some(_) => {}
            }
        }
        rarest.map(|(_, key)| key)
    }
}

/// What the desk keeps of the statistics: a connection's are read again after ten minutes, as
/// V80 and V158 kept them in the session.
const STATISTICS_KEPT: Duration = Duration::from_secs(600);

/// A connection's statistics, the connection known by its statement cache (one per connection,
/// made with it; kept weakly, as `db::session` knows connections).
struct KeptStatistics {
    connection: Weak<StatementCache>,
    read_at: Instant,
    statistics: SearchStatistics,
}

static KEPT_STATISTICS: Mutex<Vec<KeptStatistics>> = Mutex::new(Vec::new());

/// What `client`'s connection knows of the statistics: read on its first text search and every
/// ten minutes (one statement), kept with the connection; [`SearchStatistics::Unknown`] on a
/// bare client, which keeps nothing.
pub(crate) async fn kept_statistics(
    client: &impl CachingClient,
) -> Result<SearchStatistics, DbError> {
    let Some(connection) = client.keeper() else {
        return Ok(SearchStatistics::Unknown);
    };
    let connection = Arc::downgrade(&connection.statement_cache);
    {
        let mut kept = KEPT_STATISTICS
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        kept.retain(|kept| {
            kept.connection.strong_count() > 0 && kept.read_at.elapsed() < STATISTICS_KEPT
        });
        if let Some(kept) = kept.iter().find(|kept| kept.connection.ptr_eq(&connection)) {
            return Ok(kept.statistics.clone());
        }
    }
    let statistics = search_statistics(client).await?;
    KEPT_STATISTICS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(KeptStatistics {
            connection,
            read_at: Instant::now(),
            statistics: statistics.clone(),
        });
    Ok(statistics)
}

/// The statistics as the database has them now, each read as the owner: the address
/// characters' list (sql/V169: pg_stats shows an index's statistics to its table's owner only)
/// and the name keys' (sql/V227: pg_stats shows no row of a table whose row security is active
/// for the reader, as customer_name_char's is for an operator, V224).
pub async fn search_statistics(client: &impl CachingClient) -> Result<SearchStatistics, DbError> {
    let row = client
        .query_one(
            "SELECT address_chars_not_rare() AS address_chars,
                    md_name_keys_common() AS name_keys",
            &[],
        )
        .await?;
    let address_chars: String = row.get("address_chars");
    let name_keys: Option<Vec<String>> = row.get("name_keys");
    Ok(SearchStatistics::Known {
        address_chars_not_rare: (address_chars != "*").then_some(address_chars),
        name_keys_common: name_keys.unwrap_or_default(),
    })
}

/// A card row that was written to a card: a failed issue (`not_issued`, sql/V5) is no card
/// of the customer's, and the partial index on (customer_id, generation) serves only this.
const ISSUED_CARD: &str = "k.void_reason IS DISTINCT FROM 'not_issued'";

/// A page row's arrears: its account's unpaid bills, found through their partial index
/// (`bill_unpaid_by_account_issued`, sql/V21), a few probes per page whatever the search; and a
/// card meter's water a meter loaded unpaid (sql/V163), probed by the debts' customer index for
/// a card meter's row only: a debt is a card's, and a card's customer is a card meter's (V1's
/// foreign key on `card (customer_id, business_model)`), so the other rows ask nothing more.
fn arrears() -> String {
    format!(
        "(SELECT coalesce(sum(b.amount), 0) FROM bill b \
          WHERE b.account_id = a.id AND b.status = 'unpaid') \
         + CASE WHEN c.business_model = 'meter_prepaid' THEN ({WATER_OWED}) ELSE 0 END"
    )
}

fn search_conditions(
    search: &CustomerSearch,
    statistics: &SearchStatistics,
    params: &mut Params,
) -> Conditions {
    let branches = match search {
        CustomerSearch::All => vec!["customer c WHERE TRUE".to_owned()],
        CustomerSearch::CustomerNo(number) => vec![customer_number_branch(*number, params)],
        CustomerSearch::Digits(digits) => {
            let prefix = PrefixRange::new(digits, params);
            let phones = if selective_digits(digits) {
                // Kept on its generic plan, which cannot know the prefix: the phones are
                // found first by their index, then their customers by key, as the meters are.
                format!(
                    "customer c WHERE c.id = ANY (ARRAY(\
                         SELECT p.id FROM customer p WHERE {}))",
                    prefix.of("phone_digits(p.phone)")
                )
            } else {
                format!("customer c WHERE {}", prefix.of("phone_digits(c.phone)"))
            };
            let mut branches = vec![phones, meter_prefix_branch(&prefix)];
            // Ten digits may be a customer number past nine million (domain::search).
            if digits.len() == customer_number::LONG_LEN
                && let Ok(number) = digits.parse::<CustomerNumber>()
            {
                branches.push(customer_number_branch(number, params));
            }
            // Card numbers are u32: longer digit strings are no card number.
            if let Ok(card_no) = digits.parse::<u32>() {
                branches.push(format!(
                    "card k JOIN customer c ON c.id = k.customer_id WHERE k.card_no = {}",
                    params.bind(i64::from(card_no))
                ));
            }
            branches
        }
        CustomerSearch::Text(text) => return text_conditions(text, statistics, params),
    };
    Conditions {
        // Shown by customer number: every branch is bounded on the number alone.
        branches: branches.into_iter().map(Branch::in_order).collect(),
        contains: None,
    }
}

fn customer_number_branch(number: CustomerNumber, params: &mut Params) -> String {
    format!(
        "customer c WHERE c.customer_no = {}",
        params.bind(i64::from(number.value()))
    )
}

/// Customers whose meter number starts with the prefix. Joined the obvious way, the planner
/// may walk the display order probing each customer's meter, which for a prefix that matches
/// no meter (most digit strings are phone prefixes) reads the whole table. The meters are
/// found first (an InitPlan over meter_no_without_dashes), then their customers by key. A very
/// short prefix matching a large share of all meters ("2016") is the price: see the report.
fn meter_prefix_branch(prefix: &PrefixRange) -> String {
    format!(
        "customer c WHERE c.meter_id = ANY (ARRAY(\
             SELECT m.id FROM meter m WHERE {}))",
        prefix.of("replace(m.meter_no, '-', '')")
    )
}

fn text_conditions(text: &str, statistics: &SearchStatistics, params: &mut Params) -> Conditions {
    let escaped = like_escape(text);
    let mut branches = Vec::new();
    // Name prefix: a range of the name index. Latin letters have case, and a case-insensitive
    // prefix is no btree range; left to ILIKE, a prefix of two letters that no name has walked
    // the whole index. So the cases of the first two characters are spelled out, one range
    // each ("zq": ZQ, Zq, zQ, zq), and ILIKE checks the rest of the prefix within them.
    let head: String = text.chars().take(2).collect();
    let rest = &text[head.len()..];
    // Letters after the head: the range is the head's, ILIKE checks the rest.
    let (rest_in_range, rest_check) = if rest.chars().any(|c| c.is_ascii_alphabetic()) {
        let check = format!(" AND c.name ILIKE {}", params.bind(format!("{escaped}%")));
        ("", check)
    } else {
        (rest, String::new())
    };
    for spelling in case_spellings(&head) {
        let start = format!("{spelling}{rest_in_range}");
        let range = PrefixRange::new(&start, params);
        branches.push(Branch {
            from_where: format!("customer c WHERE {}{rest_check}", range.of("c.name")),
            keyset: Keyset::NamePrefix(start),
        });
    }
    let keys = fragment_keys(text);
    let contains = if keys.is_empty() {
        // Two ASCII characters or fewer: a name's start only (docs/decisions.md).
        None
    } else {
        let typed = params.bind(text.to_owned());
        let holds = Holds::new(&typed, text);
        // Name contains (after the first character: that is the prefix's) through the range
        // of one of its keys in customer_name_char (why: see the migrations V7, V11). The
        // range walked is that of the fragment's rarest key by ANALYZE's most common values
        // (sql/V158, `name_key_rarest`; it counted up to 1 000 entries of every key before,
        // a third of a two-character name's search): "建国路88号" walks 路's names, not 建's.
        // Chosen by the desk when its connection knows the statistics (s40-d: the function's
        // call cost 0.08 M instructions, 5 % of a rare name's search).
        let key = match statistics.name_key_rarest(&keys) {
            Some(key) => params.bind(key),
            None => format!("(SELECT name_key_rarest({}::text[]))", params.bind(keys)),
        };
        branches.push(Branch::in_order(format!(
            "(SELECT k.customer_id AS id, k.name, k.customer_no, k.ch \
              FROM customer_name_char k) c \
             WHERE c.ch = {key} \
               AND {}",
            holds.in_column("substr(c.name, 2)")
        )));
        // The address: candidates through the index of its runs of three characters (those
        // not common, V35), or of its character set for a shorter fragment (V12, V3, V30);
        // `on_row` decides.
        let (indexed, keys, index_entries) = if text.chars().count() >= TRIGRAM {
            (
                "text_trigrams(c.address) @> (SELECT k.keys FROM asked k)".to_owned(),
                format!("address_index_keys({typed})"),
                Some(
                    "pg_stat_get_xact_tuples_returned('customer_address_trigrams'::regclass)"
                        .to_owned(),
                ),
            )
        } else {
            (
                format!(
                    "string_to_array(lower(c.address), NULL) \
                     @> string_to_array(lower({typed}), NULL)"
                ),
                "NULL::text[]".to_owned(),
                None,
            )
        };
        Some(Contains {
            indexed,
            keys,
            index_entries,
            on_row: holds.in_column("c.address"),
            rare: format!("address_fragment_is_rare({typed})"),
        })
    };
    // Meter numbers are upper-case letters, digits and dashes.
    let meter_key: String = text.chars().filter(|c| *c != '-').collect();
    if !meter_key.is_empty() && meter_key.chars().all(|c| c.is_ascii_alphanumeric()) {
        let prefix = PrefixRange::new(&meter_key.to_ascii_uppercase(), params);
        branches.push(Branch {
            from_where: meter_prefix_branch(&prefix),
            keyset: Keyset::ByNameThenNumber,
        });
    }
    Conditions { branches, contains }
}

/// The keys of customer_name_char (sql/V11) that every name holding `fragment` after its
/// first character has: the fragment's non-ASCII characters and its runs of three ASCII
/// characters, as typed (the SQL lower-cases them as it does the names'). None for a fragment
/// of two ASCII characters or fewer. Of a whole name after its first character, lower-cased,
/// they are the name's rows of customer_name_char (the demo loader writes them so).
pub fn fragment_keys(fragment: &str) -> Vec<String> {
    let chars: Vec<char> = fragment.chars().collect();
    let mut keys: Vec<String> = chars
        .iter()
        .filter(|c| !c.is_ascii())
        .map(|c| c.to_string())
        .collect();
    keys.extend(
        chars
            .windows(TRIGRAM)
            .filter(|run| run.iter().all(char::is_ascii))
            .map(|run| run.iter().collect::<String>()),
    );
    keys.sort();
    keys.dedup();
    keys
}

/// How a row is checked for the typed text `text` (bound as the placeholder `typed`).
struct Holds<'a> {
    typed: &'a str,
    /// Whether `text` has letters with case: only then are both sides lower-cased. Lower-casing
    /// the addresses of the 10 000-row walk is most of its cost, and "朝阳" needs none.
    cased: bool,
}

impl<'a> Holds<'a> {
    fn new(typed: &'a str, text: &str) -> Holds<'a> {
        Holds {
            typed,
            cased: text.chars().any(|c| c.is_lowercase() || c.is_uppercase()),
        }
    }

    /// `column` holds the typed text anywhere, in any case.
    fn in_column(&self, column: &str) -> String {
        let typed = self.typed;
        if self.cased {
            format!("strpos(lower({column}), lower({typed})) > 0")
        } else {
            format!("strpos({column}, {typed}) > 0")
        }
    }
}

/// Every spelling of `text` in upper and lower case of its ASCII letters (other characters as
/// they are): 2^letters spellings, so only for a short head.
fn case_spellings(text: &str) -> Vec<String> {
    text.chars().fold(vec![String::new()], |spellings, c| {
        let cases = if c.is_ascii_alphabetic() {
            vec![c.to_ascii_uppercase(), c.to_ascii_lowercase()]
        } else {
            vec![c]
        };
        spellings
            .iter()
            .flat_map(|spelling| cases.iter().map(move |case| format!("{spelling}{case}")))
            .collect()
    })
}

/// How a search's statement is planned. Digits too few to be selective are planned for their
/// values at every call: a phone prefix of a few digits matches a large share of all
/// customers and is best read walking the customer numbers, one of seven or more matches a few and
/// is best read from the phone index; a generic plan must take one way for both (docs/decisions.md,
/// "The search's statement kept"), so the selective ones are spelled to take the index whatever the
/// plan (`search_conditions`) and kept ("Digits kept; a rare fragment asks the index first").
/// The search by customer number is left to the server's choice (s39-d), the others run on
/// their generic plan.
fn planning_of(search: &CustomerSearch) -> Planning {
    match search {
        CustomerSearch::Digits(digits) if !selective_digits(digits) => Planning::PerValue,
        CustomerSearch::CustomerNo(_) => Planning::ServersChoice,
        _ => Planning::Generic,
    }
}

/// Digits from which a phone prefix matches a few customers at most: a mobile number's
/// carrier prefix and four digits more (about a hundred customers at ten million).
const SELECTIVE_DIGITS: usize = 7;

fn selective_digits(digits: &str) -> bool {
    digits.len() >= SELECTIVE_DIGITS
}

/// The strings that start with a prefix, as a range of an index: from the prefix itself up to
/// (not including) the prefix with its last character raised by one. Exactly LIKE
/// 'prefix%' in the database's collation, C (the embedded cluster is made with --no-locale,
/// sql/V3), where text compares as its UTF-8 bytes, in the order of the code points. Unlike
/// LIKE with a placeholder, the range is one a kept statement's generic plan reads an index by.
struct PrefixRange {
    /// The placeholders of the range's start and its end, if there is one.
    start: String,
    end: Option<String>,
}

impl PrefixRange {
    fn new(prefix: &str, params: &mut Params) -> PrefixRange {
        PrefixRange {
            start: params.bind(prefix.to_owned()),
            end: prefix_end(prefix).map(|end| params.bind(end)),
        }
    }

    /// `column` starts with the prefix.
    fn of(&self, column: &str) -> String {
        let start = &self.start;
        match &self.end {
            Some(end) => format!("{column} >= {start} AND {column} < {end}"),
            None => format!("{column} >= {start}"),
        }
    }
}

/// The first string beyond every string starting with `prefix`, in the C collation: the
/// prefix with its last character raised to the next one (a last character that has none,
/// U+10FFFF, is dropped and the one before raised); None when every character is U+10FFFF,
/// or there is none (every string starts with the empty prefix).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // Surrogates are no characters: U+D7FF is followed by U+E000.
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            _ => char::from_u32(u32::from(last) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Typed text as a literal inside a LIKE pattern (backslash is LIKE's default escape).
fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

// ───────────────────────────── Details ─────────────────────────────

/// Everything the details screen shows about one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDetails {
    pub customer_type: CustomerTypeSummary,
    pub basic: BasicInfo,
    pub meter: MeterSummary,
    pub account: AccountSummary,
    /// The newest card; None if the customer never had one.
    pub card: Option<CardSummary>,
    /// Previous owners, newest first.
    pub owner_history: Vec<PreviousOwner>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerTypeSummary {
    pub name: String,
    /// personal, enterprise or statistical.
    pub nature: String,
    /// meter_prepaid, system_prepaid or postpaid.
    pub business_model: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BasicInfo {
    pub id: i64,
    pub customer_no: i64,
    pub name: String,
    pub address: String,
    pub phone: Option<String>,
    pub id_document_no: Option<String>,
    pub household_size: Option<i16>,
    pub email: Option<String>,
    pub credit_code: Option<String>,
    pub contact_person: Option<String>,
    pub remark: Option<String>,
    /// active or closed.
    pub status: String,
    /// For the optimistic concurrency of a later modify.
    pub version: i32,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeterSummary {
    pub meter_no: String,
    pub meter_type: String,
    pub caliber: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountSummary {
    /// prepaid or postpaid.
    pub kind: String,
    pub balance: Money,
    /// What the customer owes: the unpaid bills and the card purchases a meter loaded unpaid
    /// (sql/V163, still owed), and how many of each.
    pub arrears: Money,
    pub unpaid_bills: i64,
    pub card_debts: i64,
    /// The latest transactions, newest first.
    pub recent_transactions: Vec<TransactionSummary>,
}

/// How many transactions the details screen shows.
pub const RECENT_TRANSACTIONS: i64 = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct TransactionSummary {
    pub at: DateTime<Utc>,
    pub kind: String,
    /// Signed: its effect on the balance.
    pub amount: Money,
    pub volume: Option<Volume>,
    pub payment_method: Option<PaymentMethod>,
    pub receipt_no: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardSummary {
    /// active, void or recycled.
    pub state: String,
    pub card_no: i64,
    pub generation: i16,
    /// The newest purchase written to the card (None: nothing bought on it yet).
    pub last_purchase_seq: Option<i64>,
    /// Whether the meter has reported loading that purchase at the last swipe read at the
    /// counter. None when there is no purchase.
    pub last_purchase_loaded: Option<bool>,
    /// What the customer owes for water a meter loaded unpaid (sql/V163): paid in the details,
    /// and before a recharge, a transfer or the account's close; None when nothing is owed.
    pub owed: Option<Money>,
    /// The first purchase owed for.
    pub owed_seq: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreviousOwner {
    /// The previous owner's basic information as it was kept: (field key, value), the fields
    /// left blank left out, sorted by key (the screen puts them in form order).
    pub kept: Vec<(String, String)>,
    pub transferred_at: DateTime<Utc>,
    pub transferred_by: String,
}

/// The details of one customer, or None if there is no such customer.
pub async fn details(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<CustomerDetails>, DbError> {
    let by_customer: [&(dyn ToSql + Sync); 1] = [&customer_id];
    let recent_of_customer: [&(dyn ToSql + Sync); 2] = [&customer_id, &RECENT_TRANSACTIONS];
    let card_sql = format!(
        // The purchase the card carries is the customer's newest completed recharge (a
        // replacement card carries it over); the meter has loaded it once its write-back,
        // as last read at the counter, reached that sequence number.
        "SELECT k.state, k.card_no, k.generation, purchase.seq AS last_purchase_seq,
                    CASE WHEN purchase.seq IS NOT NULL
                         THEN coalesce(k.meter_loaded_seq >= purchase.seq, false) END
                        AS last_purchase_loaded,
                    owed.amount AS owed, owed.seq AS owed_seq
             FROM card k
             LEFT JOIN LATERAL (
                 SELECT sum(w.amount) AS amount, min(o.purchase_seq) AS seq
                 FROM {DEBTS_STILL_OWED} w
                 JOIN card_operation o ON o.id = w.operation_id
                 WHERE w.customer_id = k.customer_id
             ) owed ON TRUE
             LEFT JOIN LATERAL (
                 SELECT o.purchase_seq AS seq FROM card_operation o
                 WHERE o.customer_id = k.customer_id AND o.kind = 'recharge' AND o.state = 'done'
                 ORDER BY o.purchase_seq DESC LIMIT 1
             ) purchase ON TRUE
             WHERE k.customer_id = $1 AND {ISSUED_CARD}
             ORDER BY k.generation DESC
             LIMIT 1"
    );
    // The account's arrears: the unpaid bills and the card debts still owed, each counted.
    let customer_sql = format!(
        "SELECT t.name AS customer_type, t.nature, t.business_model,
                    c.id, c.customer_no, c.name, c.address, c.phone, c.id_document_no,
                    c.household_size, c.email, c.credit_code, c.contact_person, c.remark,
                    c.status, c.version, c.opened_at, c.closed_at,
                    m.meter_no, mt.name AS meter_type, mt.caliber, a.kind AS account_kind,
                    a.balance, unpaid.arrears + debts.water_owed AS arrears,
                    unpaid.bills AS unpaid_bills, debts.card_debts
             FROM customer c
             JOIN customer_type t ON t.id = c.customer_type_id
             JOIN meter m ON m.id = c.meter_id
             JOIN meter_type mt ON mt.id = m.meter_type_id
             JOIN account a ON a.customer_id = c.id
             CROSS JOIN LATERAL (
                 SELECT coalesce(sum(b.amount), 0) AS arrears, count(*) AS bills
                 FROM bill b WHERE b.account_id = a.id AND b.status = 'unpaid'
             ) unpaid
             CROSS JOIN LATERAL ({DEBTS_OWED}) debts
             WHERE c.id = $1"
    );
    // Independent statements, sent together: one round trip.
    let (customer, transactions, card, owners) = tokio::try_join!(
        client.query_opt(customer_sql.as_str(), &by_customer),
        client.query(
            "SELECT x.created_at, x.kind, x.amount, x.volume,
                    x.payment_method_code AS method_code, m.name AS method, x.receipt_no
             FROM account a
             JOIN ledger_transaction x ON x.account_id = a.id
             LEFT JOIN payment_method m ON m.code = x.payment_method_code
             WHERE a.customer_id = $1
             ORDER BY x.created_at DESC, x.id DESC
             LIMIT $2",
            &recent_of_customer,
        ),
        client.query_opt(card_sql.as_str(), &by_customer,),
        client.query(
            // Fields the owner left blank are kept as JSON null: nothing to show for them.
            "SELECT ARRAY(SELECT key FROM jsonb_each_text(h.previous_owner)
                          WHERE value IS NOT NULL ORDER BY key) AS keys,
                    ARRAY(SELECT value FROM jsonb_each_text(h.previous_owner)
                          WHERE value IS NOT NULL ORDER BY key) AS kept_values,
                    h.transferred_at, o.full_name AS transferred_by
             FROM customer_owner_history h
             JOIN operator o ON o.id = h.transferred_by
             WHERE h.customer_id = $1
             ORDER BY h.transferred_at DESC, h.id DESC",
            &by_customer,
        ),
    )?;
    let Some(row) = customer else {
        return Ok(None);
    };
    Ok(Some(CustomerDetails {
        customer_type: CustomerTypeSummary {
            name: row.get("customer_type"),
            nature: row.get("nature"),
            business_model: row.get("business_model"),
        },
        basic: from_columns!(row => BasicInfo {
            id, customer_no, name, address, phone, id_document_no, household_size, email,
            credit_code, contact_person, remark, status, version, opened_at, closed_at,
        }),
        meter: from_columns!(row => MeterSummary { meter_no, meter_type, caliber }),
        account: from_columns!(row => AccountSummary {
            kind: row.get("account_kind"),
            balance, arrears, unpaid_bills, card_debts,
            recent_transactions: transactions
                .iter()
                .map(|row| TransactionSummary {
                    at: row.get("created_at"),
                    kind: row.get("kind"),
                    amount: row.get("amount"),
                    volume: row.get("volume"),
                    payment_method: PaymentMethod::of_row(row),
                    receipt_no: row.get("receipt_no"),
                })
                .collect(),
        }),
        card: card.map(|row| {
            from_columns!(row => CardSummary {
                state, card_no, generation, last_purchase_seq, last_purchase_loaded, owed,
                owed_seq,
            })
        }),
        owner_history: owners
            .iter()
            .map(|row| {
                let keys: Vec<String> = row.get("keys");
                let values: Vec<String> = row.get("kept_values");
                PreviousOwner {
                    kept: keys.into_iter().zip(values).collect(),
                    transferred_at: row.get("transferred_at"),
                    transferred_by: row.get("transferred_by"),
                }
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::{case_spellings, fragment_keys, prefix_end};

    #[test]
    fn case_spellings_cover_every_case_of_the_letters_only() {
        assert_eq!(case_spellings("zq"), ["ZQ", "Zq", "zQ", "zq"]);
        assert_eq!(case_spellings("王伟"), ["王伟"]);
        assert_eq!(case_spellings("a1"), ["A1", "a1"]);
        assert_eq!(case_spellings(""), [""]);
    }

    #[test]
    fn a_prefix_ends_at_its_last_character_raised() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a%").as_deref(), Some("a&"));
        assert_eq!(prefix_end("王").as_deref(), Some("玌"));
        assert_eq!(prefix_end("a\u{7f}").as_deref(), Some("a\u{80}"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn a_fragment_keys_its_characters_and_its_latin_runs() {
        assert_eq!(fragment_keys("Anna"), ["Ann", "nna"]);
        assert_eq!(fragment_keys("nnnn"), ["nnn"]);
        assert_eq!(fragment_keys("建国路88号"), ["号", "国", "建", "路"]);
        assert_eq!(fragment_keys("王"), ["王"]);
        assert_eq!(fragment_keys("an"), Vec::<String>::new());
        assert_eq!(fragment_keys("a王b"), ["王"]);
        assert_eq!(fragment_keys("Li Na"), [" Na", "Li ", "i N"]);
    }
}
