//! Closing a customer's account (sql/V24): what still stands in the way
//! (`customer_close_blocker`, the database's own words, read with the facts the close screen
//! shows) and the close itself (`customer_close`: checked again, exactly once per key).

use std::str::FromStr;

use crate::db::CachingClient;
use chrono::NaiveDate;

use super::DbError;
use super::card_ops::WATER_OWED;
use super::rows::{from_columns, read_opt, word};
use crate::domain::money::{Money, Volume};

/// The first step that keeps an account from being closed, in the order the steps are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseBlocker {
    NotFound,
    AlreadyClosed,
    /// A card operation still pending: resolved first (the card screen's pending list).
    CardPending,
    /// No final reading yet (postpaid and system-prepaid meters): it makes the final bill or
    /// deduction.
    FinalReading,
    UnpaidBills,
    /// Water a meter loaded unpaid is owed (sql/V163, V184): paid on the close's step itself
    /// (`screens::card::DebtPayment`), or by the next card recharge first.
    WaterOwed,
    /// A system-prepaid balance below zero: the customer pays it first.
    BalanceOwed,
    /// Money left on the account: refunded first.
    BalanceLeft,
    /// The card is still active: recycled or reported lost first.
    CardActive,
}

impl FromStr for CloseBlocker {
    type Err = String;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        Ok(match word {
            "not_found" => CloseBlocker::NotFound,
            "already_closed" => CloseBlocker::AlreadyClosed,
            "card_pending" => CloseBlocker::CardPending,
            "final_reading" => CloseBlocker::FinalReading,
            "unpaid_bills" => CloseBlocker::UnpaidBills,
            "water_owed" => CloseBlocker::WaterOwed,
            "balance_owed" => CloseBlocker::BalanceOwed,
            "balance_left" => CloseBlocker::BalanceLeft,
            "card_active" => CloseBlocker::CardActive,
            other => return Err(format!("no close blocker is called {other}")),
        })
    }
}

/// The final reading: the meter's latest counted reading, entered as final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalReading {
    pub read_on: NaiveDate,
    pub electronic: Volume,
}

/// A customer's account as the close screen shows it: each step's facts and the first step
/// still to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    pub customer_no: i64,
    pub name: String,
    pub meter_no: String,
    pub business_model: String,
    pub balance: Money,
    pub unpaid_bills: i64,
    pub arrears: Money,
    /// What the customer owes for water a meter loaded unpaid (zero: nothing).
    pub water_owed: Money,
    pub final_reading: Option<FinalReading>,
    /// The active card's number.
    pub card_no: Option<i64>,
    pub blocker: Option<CloseBlocker>,
}

/// The close of `customer_id` as it stands; None: no such customer.
pub async fn closing(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<Closing>, DbError> {
    read_opt(
        client,
        &format!(
            "SELECT c.customer_no, c.name, m.meter_no, c.business_model, a.balance,
                (SELECT count(*) FROM bill b
                 WHERE b.account_id = a.id AND b.status = 'unpaid') AS unpaid_bills,
                (SELECT coalesce(sum(b.amount), 0) FROM bill b
                 WHERE b.account_id = a.id AND b.status = 'unpaid') AS arrears,
                ({WATER_OWED}) AS water_owed,
                l.read_on AS final_on, l.electronic AS final_electronic,
                (SELECT k.card_no FROM card k
                 WHERE k.customer_id = c.id AND k.state = 'active') AS card_no,
                customer_close_blocker(c.id) AS blocker
         FROM customer c JOIN account a ON a.customer_id = c.id
         JOIN meter m ON m.id = c.meter_id
         LEFT JOIN LATERAL reading_latest(c.meter_id) l ON l.source = 'final'
         WHERE c.id = $1"
        ),
        &[&customer_id],
        |row| {
            Ok(from_columns!(row => Closing {
                customer_no, name, meter_no, business_model, balance, unpaid_bills, arrears,
                water_owed,
                final_reading: row.get::<_, Option<NaiveDate>>("final_on").map(|read_on| {
                    FinalReading { read_on, electronic: row.get("final_electronic") }
                }),
                card_no,
                blocker: row
                    .get::<_, Option<&str>>("blocker")
                    .map(|_| word(row, "blocker"))
                    .transpose()?,
            }))
        },
    )
    .await
}

/// What a close did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    Closed,
    /// Nothing written: the first step still to take.
    Refused(CloseBlocker),
}

/// Closes the account of `customer_id` exactly once per `key`: the meter released as
/// `removed`, the customer read-only, audited. The database checks the permission
/// (`customer.close`) and every step again.
pub async fn close(
    client: &impl CachingClient,
    key: &str,
    customer_id: i64,
) -> Result<CloseOutcome, DbError> {
    let row = client
        .query_one(
            "SELECT customer_close($1, $2) AS outcome",
            &[&customer_id, &key],
        )
        .await?;
    Ok(match row.get::<_, &str>("outcome") {
        "closed" => CloseOutcome::Closed,
        _ => CloseOutcome::Refused(word(&row, "outcome")?),
    })
}
