//! Customers with unpaid bills (`:arrears`): largest arrears first, then the oldest bill, in
//! keyset pages over the unpaid bills' partial index (sql/V21).

use crate::db::CachingClient;
use chrono::{DateTime, Utc};

use super::DbError;
use super::rows::{from_columns, read_all};
use crate::domain::money::Money;

/// One customer who owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owing {
    pub customer_no: i64,
    pub name: String,
    pub arrears: Money,
    pub bills: i64,
    /// When the oldest unpaid bill was issued.
    pub oldest: DateTime<Utc>,
}

/// Where a page starts: after this row in the list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub arrears: Money,
    pub oldest: DateTime<Utc>,
    pub customer_no: i64,
}

impl From<&Owing> for After {
    fn from(row: &Owing) -> After {
        After {
            arrears: row.arrears,
            oldest: row.oldest,
            customer_no: row.customer_no,
        }
    }
}

/// Up to `size` customers who owe, after `after` (None: from the first).
pub async fn page(
    client: &impl CachingClient,
    after: Option<&After>,
    size: i64,
) -> Result<Vec<Owing>, DbError> {
    let (arrears, oldest, customer_no) = match after {
        Some(after) => (
            Some(after.arrears),
            Some(after.oldest),
            Some(after.customer_no),
        ),
        None => (None, None, None),
    };
    read_all(
        client,
        "WITH owed AS (
             SELECT b.account_id, sum(b.amount) AS arrears, count(*) AS bills,
                    min(b.issued_at) AS oldest
             FROM bill b WHERE b.status = 'unpaid' GROUP BY b.account_id
         )
         SELECT c.customer_no, c.name, o.arrears, o.bills, o.oldest
         FROM owed o
         JOIN account a ON a.id = o.account_id
         JOIN customer c ON c.id = a.customer_id
         WHERE $1::numeric IS NULL OR o.arrears < $1
            OR (o.arrears = $1 AND (o.oldest > $2
                OR (o.oldest = $2 AND c.customer_no > $3)))
         ORDER BY o.arrears DESC, o.oldest, c.customer_no
         LIMIT $4",
        &[&arrears, &oldest, &customer_no, &size],
        |row| Ok(from_columns!(row => Owing { customer_no, name, arrears, bills, oldest })),
    )
    .await
}
