//! The figures of the overview screen.

use chrono::{DateTime, Utc};

use crate::db::CachingClient;
use crate::domain::money::Money;

use super::DbError;
use super::rows::from_columns;

/// The figures on the home screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overview {
    pub customers: i64,
    pub card_customers: i64,
    pub uninstalled_meters: i64,
    pub active_cards: i64,
    pub payments_today: i64,
    pub takings_today: Money,
}

/// Today's figures: customers, card customers, meters in stock, active cards, and the
/// payments taken since `midnight`, the desk's: the takings report's of the day (sql/V21's
/// `md_takings`), a reversed payment's money taken back.
pub async fn today(
    client: &impl CachingClient,
    midnight: DateTime<Utc>,
) -> Result<Overview, DbError> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM customer) AS customers,
                    (SELECT count(*) FROM customer WHERE business_model = 'meter_prepaid')
                        AS card_customers,
                    (SELECT count(*) FROM meter WHERE status = 'uninstalled')
                        AS uninstalled_meters,
                    (SELECT count(*) FROM card WHERE state = 'active') AS active_cards,
                    count(*) FILTER (WHERE t.kind = 'deposit') AS payments_today,
                    coalesce(sum(t.amount), 0) AS takings_today
             FROM ledger_transaction t
             LEFT JOIN ledger_transaction o ON o.id = t.reverses_id
             WHERE t.created_at >= $1 AND t.operator_id IS NOT NULL
               AND coalesce(o.kind, t.kind) = 'deposit'",
            &[&midnight],
        )
        .await?;
    Ok(from_columns!(row => Overview {
        customers, card_customers, uninstalled_meters, active_cards, payments_today, takings_today,
    }))
}
