//! The prepaid price of a recharge.

use super::*;
use crate::db::cards::{self, MeterMaxCredit};
use crate::db::price_schemes::{SchemeVersion, billing_mode_of};
use crate::domain::pricing::{PriceProblems, Tier};
use std::sync::LazyLock;
use tokio_postgres::types::FromSql;

/// The prepaid price of `quantity` for the customer today: the customer type's scheme, the
/// version in force, the volume already bought in the accumulation cycle (reversed purchases and
/// refunded ones do not count: that water was never the customer's; nor does water a clear
/// card credited back, counted in the cycle of the purchase it came from, sql/V28). The
/// database prices the recharge again from the same purchases (`md_card_water`, sql/V38) and
/// takes it only at this price. One statement: `card_sale_facts` (sql/V77), which a recharge's
/// begin reads too.
pub async fn quote_recharge(
    client: &impl CachingClient,
    customer_id: i64,
    quantity: Quantity,
) -> Result<Result<Quote, Refusal>, DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT md_today() AS today, sale.*
             FROM customer c JOIN account a ON a.customer_id = c.id
             CROSS JOIN LATERAL card_sale_facts(c.customer_type_id, a.id, NULL) sale
             WHERE c.id = $1",
            &[&customer_id],
        )
        .await?
    else {
        return Ok(Err(Refusal::NoSuchCustomer));
    };
    Ok(price(
        scheme_of(&row)?.as_ref(),
        row.get("today"),
        row.get("accumulated"),
        quantity,
    ))
}

/// What the recharge form reads before its confirmation (`screens::card::QuoteRecharge`, and
/// the soak's card visit, which is timed as "card quote"): the quote, or why the recharge
/// cannot be sold; the most credit the customer's meter holds ([`cards::meter_max_credit`]);
/// with the card key, the facts F2 decides the recharge from ([`begin_decided`]); and what the
/// customer owes for water a meter loaded unpaid ([`owed`](super::owed)).
#[derive(Debug, Clone, PartialEq)]
pub struct RechargeQuote {
    pub quote: Result<Quote, Refusal>,
    pub max_credit: Option<MeterMaxCredit>,
    pub facts: Option<RechargeFacts>,
    /// The water a meter loaded unpaid that the customer owes (sql/V163): paid before the
    /// recharge, which the database refuses until then.
    pub owed: Vec<super::Owed>,
}

/// [`RechargeQuote`] for a recharge of `quantity` of customer `customer_id` paid with
/// `payment`, in ONE statement ([`RECHARGE_QUOTE`]): the facts with the price, the meter's
/// maximum credit and the debts. They were three statements sent together in one round trip
/// (and before that two round trips): each statement is a start and an end of the server's
/// own. Without the card key `key` the price alone is made of the same row (the facts need the
/// key to read the holder's last purchase).
pub async fn read_recharge_quote(
    client: &impl CachingClient,
    customer_id: i64,
    quantity: Quantity,
    payment: &Payment,
    key: Option<&MacKey>,
) -> Result<RechargeQuote, DbError> {
    let rows = client
        .query(&RECHARGE_QUOTE, &[&customer_id, &method_of(payment)])
        .await?;
    let Some(row) = rows.first() else {
        return Ok(RechargeQuote {
            quote: Err(Refusal::NoSuchCustomer),
            max_credit: None,
            facts: None,
            owed: Vec::new(),
        });
    };
    let (quote, facts) = match key {
        Some(key) => {
            let facts = RechargeFacts::of(customer_id, row, key)?;
            (facts.quote(quantity), Some(facts))
        }
        None => (SaleFacts::of(row)?.price(row.get("today"), quantity), None),
    };
    let owed = rows
        .iter()
        .filter(|row| row.get::<_, Option<i64>>("owed_operation_id").is_some())
        .map(super::owed::owed_of)
        .collect::<Result<_, _>>()?;
    Ok(RechargeQuote {
        quote,
        max_credit: MeterMaxCredit::of(row)?,
        facts,
        owed,
    })
}

/// The statement of [`read_recharge_quote`] for customer `$1` paid with method `$2` (NULL:
/// from the balance): `card_recharge_facts`' row (sql/V81; none: no such customer) with the
/// meter's maximum credit ([`cards::METER_MAX_CREDIT`]) and one row a debt
/// ([`OWED`](super::owed::OWED)), or one row with none.
static RECHARGE_QUOTE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT facts.*, credit.max_credit_litres, credit.applied, debt.*
         FROM card_recharge_facts($1, $2) facts
         LEFT JOIN LATERAL ({}) credit ON true
         LEFT JOIN LATERAL ({}) debt ON true
         ORDER BY debt.owed_operation_id",
        cards::METER_MAX_CREDIT,
        super::owed::OWED
    )
});

/// The payment method's code as the facts take it; `None`: from the balance.
fn method_of(payment: &Payment) -> Option<&str> {
    match payment {
        Payment::Method(method) => Some(method.as_str()),
        Payment::Balance => None,
    }
}

/// What a recharge of one customer is decided from, read before F2 with its quote and without
/// a lock (`card_recharge_facts`, sql/V81): the card holder, whether the operator may recharge,
/// the sale's facts, and the digest under which the database finds them again
/// ([`begin_decided`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeFacts {
    pub(super) holder: CardHolder,
    pub(super) permitted: bool,
    pub(super) sale: SaleFacts,
    pub(super) digest: String,
}

/// The facts of a recharge of `customer_id` paid with `payment`, in one statement; `None`: no
/// such customer.
pub async fn recharge_facts(
    client: &impl CachingClient,
    customer_id: i64,
    payment: &Payment,
    key: &MacKey,
) -> Result<Option<RechargeFacts>, DbError> {
    client
        .query_opt(
            "SELECT * FROM card_recharge_facts($1, $2)",
            &[&customer_id, &method_of(payment)],
        )
        .await?
        .map(|row| RechargeFacts::of(customer_id, &row, key))
        .transpose()
}

impl RechargeFacts {
    /// From a row of `card_recharge_facts` (sql/V81), or of `card_recharge`'s answer with them.
    pub(super) fn of(customer_id: i64, row: &Row, key: &MacKey) -> Result<Self, DbError> {
        Ok(Self {
            holder: CardHolder::of(customer_id, row, key)?,
            permitted: row.get("permitted"),
            sale: SaleFacts::of(row)?,
            digest: row.get("digest"),
        })
    }

    /// The price of `quantity`, as [`quote_recharge`] answers it.
    pub fn quote(&self, quantity: Quantity) -> Result<Quote, Refusal> {
        self.sale.price(self.holder.today, quantity)
    }

    /// The recharge decided and planned from these facts and the card read (`content`); `None`
    /// when the begin decides under its lock what these facts say (a pending operation to
    /// resolve first, a refusal).
    pub(super) fn sold<'m>(
        &self,
        begin: &Begin<'_>,
        content: &CardContent,
        quantity: Quantity,
        payment: &'m Payment,
    ) -> Option<Sold<'m>> {
        let holder = &self.holder;
        if holder.pending.is_some() || !holder.meter_prepaid || holder.closed || !self.permitted {
            return None;
        }
        sell(holder, begin, content, quantity, payment, &self.sale).ok()
    }
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

/// The prepaid price scheme of the customer's type, with every version and its tiers, from a
/// row of `card_sale_facts` (sql/V77): `None` without one.
pub(super) fn scheme_of(row: &Row) -> Result<Option<PriceScheme>, DbError> {
    let Some(scheme_id) = row.get::<_, Option<i64>>("scheme_id") else {
        return Ok(None);
    };
    let mode = billing_mode_of(row.get("billing_mode"))?;
    let vat_percent: Decimal = row.get("vat_percent");
    let inconsistent = |error: crate::domain::pricing::SchemeError| {
        DbError::Inconsistent(format!("price scheme {scheme_id}: {error}"))
    };
    // One element a tier, oldest version first, each version's tiers in order (none: NULL).
    fn tiers<'r, T: FromSql<'r>>(row: &'r Row, column: &str) -> Vec<T> {
        row.get::<_, Option<Vec<T>>>(column).unwrap_or_default()
    }
    let mut versions: Vec<(i64, SchemeVersion)> = Vec::new();
    for (((version_id, effective_from), up_to), unit_price) in tiers::<i64>(row, "tier_version_ids")
        .into_iter()
        .zip(tiers::<NaiveDate>(row, "tier_effective_from"))
        .zip(tiers::<Option<Decimal>>(row, "tier_upper_bounds"))
        .zip(tiers::<Decimal>(row, "tier_unit_prices"))
    {
        let tier = Tier { up_to, unit_price };
        match versions.last_mut() {
            Some((last, version)) if *last == version_id => version.tiers.push(tier),
            _ => versions.push((
                version_id,
                SchemeVersion {
                    effective_from,
                    tiers: vec![tier],
                },
            )),
        }
    }
    let versions = versions
        .into_iter()
        .map(|(_, version)| {
            PriceVersion::new(
                version.effective_from,
                mode,
                version.tiers,
                vat_percent.normalize(),
            )
            .map_err(PriceProblems::into_first)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(inconsistent)?;
    if versions.is_empty() {
        return Ok(None);
    }
    // A fixed price has no cycle; any one will do, since nothing accumulates across tiers.
    let months = row
        .get::<_, Option<i16>>("accumulation_cycle_months")
        .unwrap_or(12);
    let cycle = AccumulationCycle::new(row.get("start_date"), u32::from(months.unsigned_abs()))
        .map_err(inconsistent)?;
    PriceScheme::new(cycle, versions)
        .map(Some)
        .map_err(inconsistent)
}
