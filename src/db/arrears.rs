//! Customers who owe (`:arrears`): unpaid bills, and a card meter's water a meter loaded unpaid
//! (sql/V163's debts, while their recharge is still failed); largest arrears first, then the
//! oldest, in keyset pages over the unpaid bills' partial index (sql/V21) and the debts.

use crate::db::CachingClient;
use chrono::{DateTime, Utc};

use super::DbError;
use super::card_ops::DEBTS_STILL_OWED;
use super::customers::{Page, PageAt};
use super::rows::{from_columns, read_all};
use crate::domain::money::Money;

/// One customer who owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owing {
    pub customer_no: i64,
    pub name: String,
    pub arrears: Money,
    pub bills: i64,
    /// Card purchases a meter loaded unpaid (a card meter's customer has no bills).
    pub card_debts: i64,
    /// When the oldest unpaid bill was issued, or the oldest debt found.
    pub oldest: DateTime<Utc>,
}

/// Where a row stands in the list's order (largest arrears, then oldest bill, then number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwingCursor {
    pub arrears: Money,
    pub oldest: DateTime<Utc>,
    pub customer_no: i64,
}

impl From<&Owing> for OwingCursor {
    fn from(row: &Owing) -> OwingCursor {
        OwingCursor {
            arrears: row.arrears,
            oldest: row.oldest,
            customer_no: row.customer_no,
        }
    }
}

/// The page of customers who owe at `at`, at most `size` rows, in the list's order.
pub async fn page(
    client: &impl CachingClient,
    at: &PageAt<OwingCursor>,
    size: usize,
) -> Result<Page<Owing>, DbError> {
    let seek = at.seek();
    let beyond = seek.cursor.map(|cursor| (cursor, seek.comparison(true)));
    let rows = read(client, beyond, seek.forward, size + 1).await?;
    at.page_of(rows, size, async |cursor| {
        Ok(!read(client, Some((cursor, "<")), false, 1)
            .await?
            .is_empty())
    })
    .await
}

/// At most `limit` customers who owe beyond `cursor` (compared by the given comparison in the
/// list's order), in that order when `forward`, else backwards. The order's key ascends as
/// (−arrears, oldest, number), so one row comparison serves both ways.
async fn read(
    client: &impl CachingClient,
    beyond: Option<(&OwingCursor, &str)>,
    forward: bool,
    limit: usize,
) -> Result<Vec<Owing>, DbError> {
    let comparison = beyond.map_or(">", |(_, comparison)| comparison);
    let (arrears, oldest, customer_no) = match beyond {
        Some((cursor, _)) => (
            Some(cursor.arrears),
            Some(cursor.oldest),
            Some(cursor.customer_no),
        ),
        None => (None, None, None),
    };
    let order = if forward { "ASC" } else { "DESC" };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    read_all(
        client,
        &format!(
            "WITH billed AS (
                 SELECT b.account_id, sum(b.amount) AS arrears, count(*) AS bills,
                        min(b.issued_at) AS oldest
                 FROM bill b WHERE b.status = 'unpaid' GROUP BY b.account_id
             ), debts AS (
                 -- The debts still owed (`card_ops::DEBTS_STILL_OWED`): the few debts, never
                 -- a scan of the card operations.
                 SELECT a.id AS account_id, sum(w.amount) AS arrears, count(*) AS card_debts,
                        min(w.found_at) AS oldest
                 FROM {DEBTS_STILL_OWED} w
                 JOIN account a ON a.customer_id = w.customer_id
                 GROUP BY a.id
             ), owed AS (
                 -- Joined, not one aggregate over both: the bills' groups keep their estimate
                 -- (an aggregate over a UNION is guessed at 200 groups, and the customers were
                 -- then read one by one: 13 times the buffers of the bills alone).
                 SELECT account_id, coalesce(b.arrears, 0) + coalesce(d.arrears, 0) AS arrears,
                        coalesce(b.bills, 0) AS bills, coalesce(d.card_debts, 0) AS card_debts,
                        least(b.oldest, d.oldest) AS oldest
                 FROM billed b FULL JOIN debts d USING (account_id)
             )
             SELECT c.customer_no, c.name, o.arrears, o.bills, o.card_debts, o.oldest
             FROM owed o
             JOIN account a ON a.id = o.account_id
             JOIN customer c ON c.id = a.customer_id
             WHERE $1::numeric IS NULL
                OR (-o.arrears, o.oldest, c.customer_no) {comparison} (-$1::numeric, $2, $3)
             ORDER BY -o.arrears {order}, o.oldest {order}, c.customer_no {order}
             LIMIT $4"
        ),
        &[&arrears, &oldest, &customer_no, &limit],
        |row| {
            Ok(from_columns!(row => Owing {
                customer_no, name, arrears, bills, card_debts, oldest
            }))
        },
    )
    .await
}
