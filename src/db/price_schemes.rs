//! Price schemes (4.8.1 and the prepaid scheme): the list, one scheme with every price version
//! and its tiers, adding a scheme with its first prices, changing the scheme's own fields, and a
//! price change from a date (a new version). The arithmetic is `domain::pricing`; every tier
//! list is checked there before it is stored. Each change writes its audit row in the same
//! transaction, and is exactly-once under the idempotency key the app gives it
//! (`db::applied_write`): a key already applied writes nothing and answers what it answered.

use crate::db::{CachingClient, Transaction};
use chrono::NaiveDate;
use deadpool_postgres::ClientWrapper as Client;
use rust_decimal::Decimal;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::applied_write::{Outcome, write_once};
use super::rows::{accepted, as_read, from_columns, read_all, read_opt, word};
use crate::domain::customer_rules::AccountKind;
use crate::domain::pricing::{
    AccumulationCycle, BillingMode, PriceProblems, PriceScheme, PriceVersion, SchemeError,
    SchemeFieldsError, Tier, check_scheme_fields,
};

/// A scheme as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeRow {
    pub id: i64,
    /// Its own fields, as the form that modifies it holds them.
    pub fields: SchemeFields,
    /// The version in force today, if the scheme has started.
    pub current_from: Option<NaiveDate>,
    pub versions: i64,
    /// Customer types that price with it.
    pub used_by: i64,
}

/// One version of a scheme's prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeVersion {
    pub effective_from: NaiveDate,
    pub tiers: Vec<Tier>,
}

/// A scheme with every version, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeDetail {
    pub row: SchemeRow,
    pub versions: Vec<SchemeVersion>,
}

impl SchemeDetail {
    /// The scheme as `domain::pricing` prices with it.
    pub fn pricing(&self) -> Result<PriceScheme, SchemeError> {
        let row = &self.row;
        let versions = self
            .versions
            .iter()
            .map(|version| {
                PriceVersion::new(
                    version.effective_from,
                    row.fields.mode,
                    version.tiers.clone(),
                    row.fields.vat_percent,
                )
                .map_err(PriceProblems::into_first)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A fixed price accumulates nothing: any cycle gives the same prices.
        let cycle = AccumulationCycle::new(
            row.fields.start_date,
            row.fields.accumulation_months.unwrap_or(12),
        )?;
        PriceScheme::new(cycle, versions)
    }
}

/// The scheme's own fields, as the form holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeFields {
    pub name: String,
    pub kind: AccountKind,
    pub mode: BillingMode,
    /// Percent, e.g. 9 for 9 %.
    pub vat_percent: Decimal,
    /// `None` for a fixed price.
    pub accumulation_months: Option<u32>,
    /// Postpaid only.
    pub settlement_months: Option<u32>,
    pub start_date: NaiveDate,
}

impl SchemeFields {
    /// Whether the fields fit together (`domain::pricing::check_scheme_fields`): the form
    /// checks them before it sends them, and the database before it stores them.
    pub fn check(&self) -> Result<(), SchemeFieldsError> {
        check_scheme_fields(
            self.mode,
            self.kind,
            self.vat_percent,
            self.accumulation_months,
            self.settlement_months,
        )
    }

    /// A new scheme's first prices: `tiers`, in force from its start, at its billing mode and
    /// VAT rate.
    pub fn first_prices(&self, tiers: &[Tier]) -> Result<PriceVersion, PriceProblems> {
        PriceVersion::new(self.start_date, self.mode, tiers.to_vec(), self.vat_percent)
    }
}

/// What became of a change to a price scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeOutcome {
    Saved {
        id: i64,
    },
    /// Prices not yet in force corrected in place on their date (sql/V250): told as a
    /// correction, not as new prices.
    Corrected {
        id: i64,
    },
    NotFound,
    NameTaken,
    /// The scheme's fields do not fit together.
    Fields(SchemeFieldsError),
    /// The tiers of the prices are not a valid price.
    Prices(SchemeError),
    /// Kind, billing mode and start date are chosen once: prices already charged used them.
    Fixed,
    /// A price change starts today at the earliest: past prices stay as they were charged.
    PastDate {
        today: NaiveDate,
    },
    /// A version already starts on that date.
    DateTaken,
    /// Saved by another desk since its form was read: nothing saved (`db::rows::as_read`).
    Changed,
}

pub fn billing_mode_of(word: &str) -> Result<BillingMode, DbError> {
    match word {
        "fixed" => Ok(BillingMode::Fixed),
        "stepped" => Ok(BillingMode::Stepped),
        "leap" => Ok(BillingMode::Leap),
        other => Err(DbError::Inconsistent(format!(
            "price_scheme.billing_mode {other:?}"
        ))),
    }
}

pub fn billing_mode_word(mode: BillingMode) -> &'static str {
    match mode {
        BillingMode::Fixed => "fixed",
        BillingMode::Stepped => "stepped",
        BillingMode::Leap => "leap",
    }
}

const ROW_COLUMNS: &str = "s.id, s.name, s.kind, s.billing_mode, s.vat_rate * 100 AS vat_percent,
    s.accumulation_cycle_months, s.settlement_cycle_months, s.start_date,
    (SELECT max(effective_from) FROM price_version v
     WHERE v.price_scheme_id = s.id AND v.effective_from <= md_today()) AS current_from,
    (SELECT count(*) FROM price_version v WHERE v.price_scheme_id = s.id) AS versions,
    (SELECT count(*) FROM customer_type t WHERE t.price_scheme_id = s.id) AS used_by";

fn row_from(row: &Row) -> Result<SchemeRow, DbError> {
    let months = |column| {
        row.get::<_, Option<i16>>(column)
            .map(|months| u32::from(months.unsigned_abs()))
    };
    Ok(SchemeRow {
        id: row.get("id"),
        fields: SchemeFields {
            name: row.get("name"),
            kind: word(row, "kind")?,
            mode: billing_mode_of(row.get("billing_mode"))?,
            vat_percent: row.get::<_, Decimal>("vat_percent").normalize(),
            accumulation_months: months("accumulation_cycle_months"),
            settlement_months: months("settlement_cycle_months"),
            start_date: row.get("start_date"),
        },
        current_from: row.get("current_from"),
        versions: row.get("versions"),
        used_by: row.get("used_by"),
    })
}

/// Every scheme, by name.
pub async fn schemes(client: &impl CachingClient) -> Result<Vec<SchemeRow>, DbError> {
    read_all(
        client,
        &format!("SELECT {ROW_COLUMNS} FROM price_scheme s ORDER BY s.name"),
        &[],
        row_from,
    )
    .await
}

/// Scheme `id` as the list shows it; None if there is no such scheme.
async fn scheme_row(client: &impl CachingClient, id: i64) -> Result<Option<SchemeRow>, DbError> {
    read_opt(
        client,
        &format!("SELECT {ROW_COLUMNS} FROM price_scheme s WHERE s.id = $1"),
        &[&id],
        row_from,
    )
    .await
}

/// One scheme with every version and its tiers; None if there is no such scheme.
pub async fn scheme(client: &impl CachingClient, id: i64) -> Result<Option<SchemeDetail>, DbError> {
    let Some(row) = scheme_row(client, id).await? else {
        return Ok(None);
    };
    let versions = versions(client, id)
        .await?
        .into_iter()
        .map(|version| SchemeVersion {
            effective_from: version.effective_from,
            tiers: version
                .tiers
                .into_iter()
                .map(|tier| Tier {
                    up_to: tier.up_to.map(|bound| bound.normalize()),
                    unit_price: tier.unit_price.normalize(),
                })
                .collect(),
        })
        .collect();
    Ok(Some(SchemeDetail { row, versions }))
}

/// Every version of scheme `id`'s prices with its tiers, oldest first, as stored (with the
/// columns' scale: `scheme` shows them normalized, the card journal prices with them as they
/// are).
pub(crate) async fn versions(
    client: &impl CachingClient,
    id: i64,
) -> Result<Vec<SchemeVersion>, DbError> {
    versions_of(client, "$1", &id).await
}

/// As [`versions`], of the scheme `scheme` (an SQL expression of `$1`) names: a caller that
/// knows only what leads to the scheme asks for its versions without waiting for its id.
pub(crate) async fn versions_of(
    client: &impl CachingClient,
    scheme: &str,
    param: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Vec<SchemeVersion>, DbError> {
    let tiers = client
        .query(
            &format!(
                "SELECT v.id AS version_id, v.effective_from, t.upper_bound_m3, t.unit_price
                 FROM price_version v JOIN price_tier t ON t.price_version_id = v.id
                 WHERE v.price_scheme_id = {scheme} ORDER BY v.effective_from, t.tier_no"
            ),
            &[param],
        )
        .await?;
    Ok(tiers
        .chunk_by(|a, b| a.get::<_, i64>("version_id") == b.get::<_, i64>("version_id"))
        .map(|group| SchemeVersion {
            effective_from: group[0].get("effective_from"),
            tiers: group
                .iter()
                .map(|row| Tier {
                    up_to: row.get("upper_bound_m3"),
                    unit_price: row.get("unit_price"),
                })
                .collect(),
        })
        .collect())
}

const ADD: &str = "price_scheme.add";
const MODIFY: &str = "price_scheme.modify";
const NEW_PRICES: &str = "price_version.add";

/// Every change is recorded with the scheme it saved (`{"id": …}`), a correction of prices
/// not yet in force with `"corrected": true`: sent again, it is told as what it was.
impl Outcome for SchemeOutcome {
    const FIELDS: &str = "(outcome->>'id')::bigint AS id, outcome ? 'corrected' AS corrected";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        let id = row.get("id");
        Ok(if row.get("corrected") {
            SchemeOutcome::Corrected { id }
        } else {
            SchemeOutcome::Saved { id }
        })
    }

    fn to_record(&self) -> Option<serde_json::Value> {
        match self {
            SchemeOutcome::Saved { id } => Some(serde_json::json!({ "id": id })),
            SchemeOutcome::Corrected { id } => {
                Some(serde_json::json!({ "id": id, "corrected": true }))
            }
            _ => None,
        }
    }
}

/// Adds a scheme with its first prices, in force from the scheme's start date.
pub async fn add_scheme(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    fields: &SchemeFields,
    tiers: &[Tier],
) -> Result<SchemeOutcome, DbError> {
    if let Err(refusal) = check_fields(fields) {
        return Ok(refusal);
    }
    if let Err(problems) = fields.first_prices(tiers) {
        return Ok(SchemeOutcome::Prices(problems.into_first()));
    }
    write_once(client, key, ADD, operator_id, async |transaction| {
        let columns = SchemeColumns::of(fields);
        let mut params = columns.params().to_vec();
        params.push(&fields.start_date);
        let inserted = transaction
            .query_one(
                "INSERT INTO price_scheme (name, kind, billing_mode, vat_rate,
                     accumulation_cycle_months, settlement_cycle_months, start_date)
                 VALUES ($1, $2, $3, $4::numeric / 100, $5, $6, $7) RETURNING id",
                &params,
            )
            .await;
        let Some(inserted) = accepted(inserted, &SqlState::UNIQUE_VIOLATION)? else {
            return Ok(SchemeOutcome::NameTaken);
        };
        let id: i64 = inserted.get("id");
        let first = Version {
            scheme_id: id,
            effective_from: fields.start_date,
            tiers,
        };
        write_version(transaction, operator_id, &first, None).await?;
        audit(transaction, operator_id, ADD, id, fields).await?;
        Ok(SchemeOutcome::Saved { id })
    })
    .await
}

/// Changes a scheme's name, VAT rate and cycles, whose form was filled from `read`. Its kind,
/// billing mode and start date were chosen once and stay (a different tariff is a new scheme).
/// Saved by another desk since: `Changed`, nothing saved.
pub async fn modify_scheme(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    id: i64,
    read: &SchemeFields,
    fields: &SchemeFields,
) -> Result<SchemeOutcome, DbError> {
    if let Err(refusal) = check_fields(fields) {
        return Ok(refusal);
    }
    let change = async |transaction: &Transaction<'_>, stored: LockedScheme| {
        if let Err(changed) = scheme_as_read(transaction, id, read).await? {
            return Ok(changed);
        }
        if stored.kind != fields.kind.as_str()
            || stored.mode != fields.mode
            || stored.start_date != fields.start_date
        {
            return Ok(SchemeOutcome::Fixed);
        }
        let columns = SchemeColumns::of(fields);
        let updated = transaction
            .execute(
                "UPDATE price_scheme
                 SET name = $2, vat_rate = $3::numeric / 100, accumulation_cycle_months = $4,
                     settlement_cycle_months = $5
                 WHERE id = $1",
                &[
                    &id,
                    &columns.name,
                    &columns.vat_percent,
                    &columns.accumulation_months,
                    &columns.settlement_months,
                ],
            )
            .await;
        if accepted(updated, &SqlState::UNIQUE_VIOLATION)?.is_none() {
            return Ok(SchemeOutcome::NameTaken);
        }
        audit(transaction, operator_id, MODIFY, id, fields).await?;
        Ok(SchemeOutcome::Saved { id })
    };
    change_scheme(client, key, MODIFY, operator_id, id, change).await
}

/// Whether scheme `id`, its row locked (`locked_scheme`), still has the fields `read`, as its
/// list or form showed them (`db::rows::as_read`); else `Changed`.
async fn scheme_as_read(
    transaction: &Transaction<'_>,
    id: i64,
    read: &SchemeFields,
) -> Result<Result<(), SchemeOutcome>, DbError> {
    let now = async { Ok(scheme_row(transaction, id).await?.map(|row| row.fields)) };
    as_read(now, read, SchemeOutcome::Changed).await
}

/// A price change: new tiers in force from `effective_from` (today or later) on, at the billing
/// mode and VAT rate of the scheme's fields `read`, which its form checked the tiers against:
/// changed by another desk since (a VAT rate), it is `Changed` and nothing is saved.
pub async fn change_prices(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    id: i64,
    read: &SchemeFields,
    effective_from: NaiveDate,
    tiers: &[Tier],
) -> Result<SchemeOutcome, DbError> {
    let change = async |transaction: &Transaction<'_>, stored: LockedScheme| {
        if let Err(changed) = scheme_as_read(transaction, id, read).await? {
            return Ok(changed);
        }
        let today = stored.today;
        if effective_from < today {
            return Ok(SchemeOutcome::PastDate { today });
        }
        let version = PriceVersion::new(
            effective_from,
            stored.mode,
            tiers.to_vec(),
            stored.vat_percent,
        );
        if let Err(error) = version {
            return Ok(SchemeOutcome::Prices(error.into_first()));
        }
        // A version on that date: corrected while it is not in force (sql/V250), else taken.
        let same_date = read_opt(
            transaction,
            "SELECT id, effective_from > md_today() AS ahead FROM price_version
             WHERE price_scheme_id = $1 AND effective_from = $2",
            &[&id, &effective_from],
            |row| Ok((row.get::<_, i64>("id"), row.get::<_, bool>("ahead"))),
        )
        .await?;
        let replacing = match same_date {
            Some((_, false)) => return Ok(SchemeOutcome::DateTaken),
            Some((version, true)) => Some(version),
            None => None,
        };
        let saved = Version {
            scheme_id: id,
            effective_from,
            tiers,
        };
        write_version(transaction, operator_id, &saved, replacing).await?;
        Ok(match replacing {
            Some(_) => SchemeOutcome::Corrected { id },
            None => SchemeOutcome::Saved { id },
        })
    };
    change_scheme(client, key, NEW_PRICES, operator_id, id, change).await
}

/// A change of scheme `id` (`kind`, written once under `key`): `change` runs with the scheme's
/// row locked until it commits ([`locked_scheme`]); a scheme that is not there is `NotFound`.
async fn change_scheme(
    client: &mut Client,
    key: &str,
    kind: &str,
    operator_id: i64,
    id: i64,
    change: impl AsyncFnOnce(&Transaction<'_>, LockedScheme) -> Result<SchemeOutcome, DbError>,
) -> Result<SchemeOutcome, DbError> {
    write_once(
        client,
        key,
        kind,
        operator_id,
        async move |transaction| match locked_scheme(transaction, id).await? {
            Some(stored) => change(transaction, stored).await,
            None => Ok(SchemeOutcome::NotFound),
        },
    )
    .await
}

/// A scheme's row as a change to it reads it first.
struct LockedScheme {
    kind: String,
    mode: BillingMode,
    start_date: NaiveDate,
    vat_percent: Decimal,
    /// The transaction's date: new prices take effect from it on.
    today: NaiveDate,
}

/// Scheme `id` locked until the change commits (two changes of one scheme go one after the
/// other), or `None` when there is no such scheme.
async fn locked_scheme(
    transaction: &Transaction<'_>,
    id: i64,
) -> Result<Option<LockedScheme>, DbError> {
    read_opt(
        transaction,
        "SELECT kind, billing_mode, start_date, vat_rate * 100 AS vat_percent,
                md_today() AS today
         FROM price_scheme WHERE id = $1 FOR UPDATE",
        &[&id],
        |row| {
            Ok(from_columns!(row => LockedScheme {
                kind,
                mode: billing_mode_of(row.get("billing_mode"))?,
                start_date, vat_percent, today,
            }))
        },
    )
    .await
}

/// Whether the scheme's own fields fit together ([`SchemeFields::check`]).
fn check_fields(fields: &SchemeFields) -> Result<(), SchemeOutcome> {
    fields.check().map_err(SchemeOutcome::Fields)
}

/// A scheme's fields as its columns store them, in the order [`SchemeColumns::params`] gives
/// them to the statements that write them.
struct SchemeColumns<'a> {
    name: &'a str,
    kind: &'static str,
    billing_mode: &'static str,
    vat_percent: Decimal,
    accumulation_months: Option<i16>,
    settlement_months: Option<i16>,
}

impl<'a> SchemeColumns<'a> {
    fn of(fields: &'a SchemeFields) -> Self {
        let column = |months: Option<u32>| months.and_then(|months| i16::try_from(months).ok());
        SchemeColumns {
            name: fields.name.trim(),
            kind: fields.kind.as_str(),
            billing_mode: billing_mode_word(fields.mode),
            vat_percent: fields.vat_percent,
            accumulation_months: column(fields.accumulation_months),
            settlement_months: column(fields.settlement_months),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.name,
            &self.kind,
            &self.billing_mode,
            &self.vat_percent,
            &self.accumulation_months,
            &self.settlement_months,
        ]
    }
}

/// A scheme's prices from a date, as a change writes them.
struct Version<'a> {
    scheme_id: i64,
    effective_from: NaiveDate,
    tiers: &'a [Tier],
}

/// Writes `version` with its audit entry (`price_version.add`): a new version, or, `replacing`
/// one on its date not yet in force, that version's tiers replaced in place (sql/V250: its row
/// written again first, then its tiers; the entry tells the tiers it replaces).
async fn write_version(
    transaction: &Transaction<'_>,
    operator_id: i64,
    version: &Version<'_>,
    replacing: Option<i64>,
) -> Result<(), DbError> {
    // The tiers replaced, told by the entry.
    let (mut replaced_bounds, mut replaced_prices) = (Vec::<Option<Decimal>>::new(), Vec::new());
    if let Some(version_id) = replacing {
        transaction
            .execute(
                "UPDATE price_version SET created_at = now() WHERE id = $1",
                &[&version_id],
            )
            .await?;
        for row in transaction
            .query(
                "WITH gone AS (DELETE FROM price_tier WHERE price_version_id = $1
                               RETURNING tier_no, upper_bound_m3, unit_price)
                 SELECT upper_bound_m3, unit_price FROM gone ORDER BY tier_no",
                &[&version_id],
            )
            .await?
        {
            replaced_bounds.push(row.get("upper_bound_m3"));
            replaced_prices.push(row.get::<_, Decimal>("unit_price"));
        }
    }
    let bounds: Vec<Option<Decimal>> = version.tiers.iter().map(|tier| tier.up_to).collect();
    let prices: Vec<Decimal> = version.tiers.iter().map(|tier| tier.unit_price).collect();
    transaction
        .execute(
            "WITH added AS (
                 INSERT INTO price_version (price_scheme_id, effective_from, created_by)
                 SELECT $1, $2, $3 WHERE $6::bigint IS NULL
                 RETURNING id
             ), version AS (
                 SELECT id FROM added
                 UNION ALL SELECT $6::bigint WHERE $6::bigint IS NOT NULL
             ), tiers AS (
                 INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
                 SELECT version.id, tier.no, tier.bound, tier.price
                 FROM version,
                      unnest($4::numeric[], $5::numeric[]) WITH ORDINALITY
                          AS tier (bound, price, no)
             )
             INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
             SELECT $3, 'price_version.add', 'price_scheme', $1,
                    jsonb_build_object('effective_from', $2::date, 'upper_bounds', $4::numeric[],
                                       'unit_prices', $5::numeric[])
                    || CASE WHEN $6::bigint IS NULL THEN '{}'::jsonb
                            ELSE jsonb_build_object('replaces', jsonb_build_object(
                                     'upper_bounds', $7::numeric[], 'unit_prices', $8::numeric[]))
                       END
             FROM version",
            &[
                &version.scheme_id,
                &version.effective_from,
                &operator_id,
                &bounds,
                &prices,
                &replacing,
                &replaced_bounds,
                &replaced_prices,
            ],
        )
        .await?;
    Ok(())
}

async fn audit(
    transaction: &Transaction<'_>,
    operator_id: i64,
    action: &str,
    id: i64,
    fields: &SchemeFields,
) -> Result<(), DbError> {
    let columns = SchemeColumns::of(fields);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&operator_id, &action, &id];
    params.extend(columns.params());
    transaction
        .execute(
            "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
             SELECT $1, $2, 'price_scheme', $3,
                    jsonb_build_object('name', $4::text, 'kind', $5::text, 'billing_mode', $6::text,
                                       'vat_percent', $7::numeric,
                                       'accumulation_cycle_months', $8::smallint,
                                       'settlement_cycle_months', $9::smallint)",
            &params,
        )
        .await?;
    Ok(())
}
