//! The prepaid price of a recharge.

use super::*;
use crate::db::price_schemes::{billing_mode_of, versions_of};

/// The prepaid price of `quantity` for the customer today: the customer type's scheme, the
/// version in force, the volume already bought in the accumulation cycle (reversed purchases and
/// refunded ones do not count: that water was never the customer's; nor does water a clear
/// card credited back, counted in the cycle of the purchase it came from, sql/V28). The
/// database prices the recharge again from the same purchases (`md_card_water`, sql/V38) and
/// takes it only at this price.
pub async fn quote_recharge(
    client: &impl CachingClient,
    customer_id: i64,
    quantity: Quantity,
) -> Result<Result<Quote, Refusal>, DbError> {
    let (row, scheme, accumulated) = tokio::try_join!(
        async {
            client
                .query_opt(
                    "SELECT current_date AS today
                     FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
                    &[&customer_id],
                )
                .await
                .map_err(DbError::from)
        },
        prepaid_scheme(client, customer_id),
        cycle_water(client, customer_id),
    )?;
    let Some(row) = row else {
        return Ok(Err(Refusal::NoSuchCustomer));
    };
    Ok(price(
        scheme.as_ref(),
        row.get("today"),
        accumulated,
        quantity,
    ))
}

/// The water the customer bought in today's accumulation cycle of their type's prepaid scheme
/// (0 without one): the same slices the database prices a recharge from (`md_card_water`,
/// sql/V38), in the cycle `md_cycle` finds, as `AccumulationCycle::period_containing` does.
/// Asked by the customer, not by the scheme read first, so it goes out with that read.
pub(super) async fn cycle_water(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Decimal, DbError> {
    Ok(client
        .query_one(
            "SELECT coalesce(sum(w.volume), 0) AS accumulated
             FROM customer c
             JOIN customer_type t ON t.id = c.customer_type_id
             JOIN price_scheme s ON s.id = t.price_scheme_id AND s.kind = 'prepaid'
             JOIN account a ON a.customer_id = c.id
             CROSS JOIN LATERAL md_cycle(s.start_date, coalesce(s.accumulation_cycle_months, 12),
                                         current_date) in_cycle
             CROSS JOIN LATERAL md_card_water(a.id, in_cycle.first_day, in_cycle.next_first_day) w
             WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
        .get("accumulated"))
}

/// `quantity` priced by the customer type's prepaid `scheme` (see [`prepaid_scheme`]) on
/// `today`, after `accumulated` m³ bought in the cycle (see [`cycle_water`]).
pub(super) fn price(
    scheme: Option<&PriceScheme>,
    today: NaiveDate,
    accumulated: Decimal,
    quantity: Quantity,
) -> Result<Quote, Refusal> {
    let Some(prices) = scheme.and_then(|scheme| scheme.prices_on(today)) else {
        return Err(Refusal::NoPrice);
    };
    let (charge, not_taken) = match quantity {
        Quantity::Volume(volume) => prices
            .charge_for_volume(accumulated, volume)
            .map(|charge| (charge, Decimal::ZERO)),
        Quantity::Amount(offered) => prices
            .charge_for_amount(accumulated, offered)
            .map(|purchase| (purchase.charge, purchase.not_taken.to_decimal())),
    }?;
    // The ledger records payments: water that costs nothing is not sold at the counter.
    if charge.volume.is_zero() || charge.amount.is_zero() {
        return Err(Refusal::NothingBought);
    }
    let Some(litres) = charge.volume.to_litres() else {
        return Err(Refusal::TooMuchWater);
    };
    Ok(Quote {
        charge,
        litres,
        not_taken,
    })
}

/// The prepaid price scheme of the customer's type, with every version and its tiers.
pub(super) async fn prepaid_scheme(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<PriceScheme>, DbError> {
    // The scheme and its versions in one round trip: both are asked by the customer, not by
    // the customer type's or the scheme's id read first.
    const PREPAID_SCHEME: &str = "(SELECT s.id FROM customer c
                                   JOIN customer_type t ON t.id = c.customer_type_id
                                   JOIN price_scheme s ON s.id = t.price_scheme_id
                                   WHERE c.id = $1 AND s.kind = 'prepaid')";
    let (scheme, versions) = tokio::try_join!(
        async {
            client
                .query_opt(
                    &format!(
                        "SELECT s.id, s.billing_mode, s.vat_rate * 100 AS vat_percent,
                                s.accumulation_cycle_months, s.start_date
                         FROM price_scheme s WHERE s.id = {PREPAID_SCHEME}"
                    ),
                    &[&customer_id],
                )
                .await
                .map_err(DbError::from)
        },
        versions_of(client, PREPAID_SCHEME, &customer_id),
    )?;
    let Some(scheme) = scheme else {
        return Ok(None);
    };
    let mode = billing_mode_of(scheme.get("billing_mode"))?;
    let vat_percent: Decimal = scheme.get("vat_percent");
    let scheme_id: i64 = scheme.get("id");
    let inconsistent = |error: crate::domain::pricing::SchemeError| {
        DbError::Inconsistent(format!("price scheme {scheme_id}: {error}"))
    };
    let versions = versions
        .into_iter()
        .map(|version| {
            PriceVersion::new(
                version.effective_from,
                mode,
                version.tiers,
                vat_percent.normalize(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(inconsistent)?;
    if versions.is_empty() {
        return Ok(None);
    }
    // A fixed price has no cycle; any one will do, since nothing accumulates across tiers.
    let months = scheme
        .get::<_, Option<i16>>("accumulation_cycle_months")
        .unwrap_or(12);
    let cycle = AccumulationCycle::new(scheme.get("start_date"), u32::from(months.unsigned_abs()))
        .map_err(inconsistent)?;
    PriceScheme::new(cycle, versions)
        .map(Some)
        .map_err(inconsistent)
}

/// Whether the customer's type takes payment method `method`.
pub(super) async fn method_allowed(
    client: &impl CachingClient,
    customer_id: i64,
    method: &str,
) -> Result<bool, DbError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM customer c
                            JOIN customer_type_payment_method tm
                              ON tm.customer_type_id = c.customer_type_id
                            JOIN payment_method m ON m.code = tm.payment_method_code
                            WHERE c.id = $1 AND m.code = $2 AND m.enabled) AS allowed",
            &[&customer_id, &method],
        )
        .await?
        .get("allowed"))
}
