//! The figures of the overview screen.

use chrono::FixedOffset;

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
/// payments taken today at the desk in `zone`: the takings report's of the day, by its own rule
/// (sql/V91's `takings_today` runs sql/V21's `md_takings`), a reversed payment's money taken
/// back.
pub async fn today(client: &impl CachingClient, zone: FixedOffset) -> Result<Overview, DbError> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM customer) AS customers,
                    (SELECT count(*) FROM customer WHERE business_model = 'meter_prepaid')
                        AS card_customers,
                    (SELECT count(*) FROM meter WHERE status = 'uninstalled')
                        AS uninstalled_meters,
                    (SELECT count(*) FROM card WHERE state = 'active') AS active_cards,
                    t.payments AS payments_today, t.takings AS takings_today
             FROM takings_today($1) t",
            &[&zone.local_minus_utc()],
        )
        .await?;
    Ok(from_columns!(row => Overview {
        customers, card_customers, uninstalled_meters, active_cards, payments_today, takings_today,
    }))
}
