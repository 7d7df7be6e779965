//! The figures of the overview screen.

use chrono::FixedOffset;

use tokio_postgres::error::SqlState;

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
    /// Today's payments and takings; `None`: the database refused them, as it refuses the
    /// customer side's rows, to an operator whose roles serve no customer (sql/V254).
    pub today: Option<Takings>,
}

/// The payments taken today and their money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Takings {
    pub payments: i64,
    pub takings: Money,
}

/// Today's figures: customers, card customers, meters in stock, active cards, and the
/// payments taken today at the desk in `zone`: the takings report's of the day, by its own rule
/// (sql/V91's `takings_today` runs sql/V21's `md_takings`), a reversed payment's money taken
/// back. The two statements go together (one round trip); the second refused is no takings.
pub async fn today(client: &impl CachingClient, zone: FixedOffset) -> Result<Overview, DbError> {
    let offset = zone.local_minus_utc();
    let offset: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&offset];
    let (counts, takings) = tokio::join!(
        client.query_one(
            "SELECT (SELECT count(*) FROM customer) AS customers,
                    (SELECT count(*) FROM customer WHERE business_model = 'meter_prepaid')
                        AS card_customers,
                    (SELECT count(*) FROM meter WHERE status = 'uninstalled')
                        AS uninstalled_meters,
                    (SELECT count(*) FROM card WHERE state = 'active') AS active_cards",
            &[],
        ),
        client.query_one("SELECT payments, takings FROM takings_today($1)", &offset),
    );
    let counts = counts?;
    let today = match takings {
        Ok(row) => Some(from_columns!(row => Takings { payments, takings })),
        Err(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => None,
        Err(error) => return Err(error.into()),
    };
    Ok(from_columns!(counts => Overview {
        customers, card_customers, uninstalled_meters, active_cards, today: today,
    }))
}
