//! Customer types (4.6.1): add, change and delete under `domain::customer_rules`, each in one
//! transaction with its audit row. Changes lock the type's row; account opening holds it
//! `FOR SHARE`, so "in use" cannot change between the check and the write.
//!
//! Each change is exactly-once under the idempotency key the app gives it
//! (`db::applied_write`): a key already applied writes nothing and answers what it answered.

use crate::db::{CachingClient, Transaction};
use deadpool_postgres::ClientWrapper as Client;
use serde_json::json;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::applied_write::{Outcome, write_once};
use super::operators::require;
use super::rows::{accepted, as_read, from_columns, read_all, word};
use crate::domain::customer_rules::{
    Charging, CustomerTypeForm, CustomerTypeProblem, CustomerTypeSpec, MeterTypeRef,
    PriceSchemeRef, TypeUsage, may_change_customer_type, may_delete_customer_type,
    validate_customer_type,
};

/// The customer type form as the screen holds it: ids of the chosen meter types and scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTypeInput {
    pub name: String,
    pub nature: crate::domain::customer_rules::Nature,
    pub business_model: crate::domain::customer_rules::BusinessModel,
    pub meter_type_ids: Vec<i64>,
    pub counts_water_usage: bool,
    pub charges: bool,
    pub price_scheme_id: Option<i64>,
    pub payment_methods: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerTypeOutcome {
    Saved {
        id: i64,
    },
    Deleted,
    Refused(Vec<CustomerTypeProblem>),
    NameTaken,
    NotFound,
    /// Saved by another desk since the form was read (`read` of [`modify_customer_type`]):
    /// nothing saved, so that one save does not undo another unseen (s44-e).
    Changed,
}

/// A save is recorded with the id it saved, a deletion as done.
impl Outcome for CustomerTypeOutcome {
    const FIELDS: &str = "(outcome->>'id')::bigint AS id";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        Ok(match row.get("id") {
            Some(id) => CustomerTypeOutcome::Saved { id },
            None => CustomerTypeOutcome::Deleted,
        })
    }

    fn to_record(&self) -> Option<serde_json::Value> {
        match self {
            CustomerTypeOutcome::Saved { id } => Some(json!({ "id": id })),
            CustomerTypeOutcome::Deleted => Some(json!({})),
            _ => None,
        }
    }
}

const ADD: &str = "customer_type.add";
const MODIFY: &str = "customer_type.modify";
const DELETE: &str = "customer_type.delete";

/// Adds a customer type.
pub async fn add_customer_type(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    input: &CustomerTypeInput,
) -> Result<CustomerTypeOutcome, DbError> {
    write_once(client, key, ADD, operator_id, async |transaction| {
        let spec = match validate_customer_type(&form_of(transaction, input).await?) {
            Ok(spec) => spec,
            Err(problems) => return Ok(CustomerTypeOutcome::Refused(problems)),
        };
        let inserted = transaction
            .query_one(
                "INSERT INTO customer_type (name, nature, business_model, counts_water_usage,
                                            charges, price_scheme_id)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &TypeColumns::of(&spec).params(),
            )
            .await;
        let Some(inserted) = accepted(inserted, &SqlState::UNIQUE_VIOLATION)? else {
            return Ok(CustomerTypeOutcome::NameTaken);
        };
        let id: i64 = inserted.get("id");
        save_lists(transaction, operator_id, ADD, id, &spec).await
    })
    .await
}

/// Changes a customer type whose form was filled from `read` (as [`customer_type_rows`] listed
/// it); while customers have it, its nature, business model and the meter types of their
/// meters stay. Saved by another desk since (its row no longer `read`): `Changed`.
pub async fn modify_customer_type(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    id: i64,
    read: &CustomerTypeInput,
    input: &CustomerTypeInput,
) -> Result<CustomerTypeOutcome, DbError> {
    let change = async |transaction: &Transaction<'_>, usage: TypeUsage| {
        if let Err(changed) = type_as_read(transaction, id, read).await? {
            return Ok(changed);
        }
        let spec = match validate_customer_type(&form_of(transaction, input).await?) {
            Ok(spec) => spec,
            Err(problems) => return Ok(CustomerTypeOutcome::Refused(problems)),
        };
        if let Err(problems) = may_change_customer_type(&usage, &spec) {
            return Ok(CustomerTypeOutcome::Refused(problems));
        }
        // The allowed meter types carry the payment model the business model needs (a
        // composite key): rows that no longer fit go before the business model changes.
        transaction
            .execute(
                "DELETE FROM customer_type_meter_type
                 WHERE customer_type_id = $1
                   AND (meter_payment_model <> $2 OR meter_type_id <> ALL($3))",
                &[
                    &id,
                    &spec.business_model.meter_payment_model().as_str(),
                    &spec.meter_type_ids,
                ],
            )
            .await?;
        let columns = TypeColumns::of(&spec);
        let mut params = columns.params().to_vec();
        params.push(&id);
        let updated = transaction
            .execute(
                "UPDATE customer_type
                 SET name = $1, nature = $2, business_model = $3, counts_water_usage = $4,
                     charges = $5, price_scheme_id = $6
                 WHERE id = $7",
                &params,
            )
            .await;
        if accepted(updated, &SqlState::UNIQUE_VIOLATION)?.is_none() {
            return Ok(CustomerTypeOutcome::NameTaken);
        }
        transaction
            .execute(
                "DELETE FROM customer_type_payment_method WHERE customer_type_id = $1",
                &[&id],
            )
            .await?;
        save_lists(transaction, operator_id, MODIFY, id, &spec).await
    };
    change_type(client, key, MODIFY, operator_id, id, change).await
}

/// Whether customer type `id`, its row locked (`locked_usage`), still holds `read`, as its
/// list or form showed it (`db::rows::as_read`; lists compared as sets); else `Changed`.
async fn type_as_read(
    transaction: &Transaction<'_>,
    id: i64,
    read: &CustomerTypeInput,
) -> Result<Result<(), CustomerTypeOutcome>, DbError> {
    let now = async {
        let stored = type_rows(transaction, Some(id)).await?;
        Ok(stored.first().map(|row| sorted(&row.input)))
    };
    as_read(now, &sorted(read), CustomerTypeOutcome::Changed).await
}

/// Deletes a customer type no customer has, still `read` as the list showed it: changed by
/// another desk since, it is `Changed` and stays.
pub async fn delete_customer_type(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    id: i64,
    read: &CustomerTypeInput,
) -> Result<CustomerTypeOutcome, DbError> {
    let change = async |transaction: &Transaction<'_>, usage: TypeUsage| {
        if let Err(changed) = type_as_read(transaction, id, read).await? {
            return Ok(changed);
        }
        if let Err(problem) = may_delete_customer_type(&usage) {
            return Ok(CustomerTypeOutcome::Refused(vec![problem]));
        }
        transaction
            .execute(
                "WITH deleted AS (DELETE FROM customer_type WHERE id = $1 RETURNING id, name)
                 INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 SELECT $2, 'customer_type.delete', 'customer_type', id,
                        jsonb_build_object('name', name)
                 FROM deleted",
                &[&id, &operator_id],
            )
            .await?;
        Ok(CustomerTypeOutcome::Deleted)
    };
    change_type(client, key, DELETE, operator_id, id, change).await
}

/// A customer type's own columns, as the INSERT and the UPDATE name them ($1 … $6).
struct TypeColumns<'a> {
    name: &'a str,
    nature: &'static str,
    business_model: &'static str,
    counts_water_usage: bool,
    charges: bool,
    price_scheme_id: Option<i64>,
}

impl<'a> TypeColumns<'a> {
    fn of(spec: &'a CustomerTypeSpec) -> Self {
        TypeColumns {
            name: &spec.name,
            nature: spec.nature.as_str(),
            business_model: spec.business_model.as_str(),
            counts_water_usage: spec.counts_water_usage,
            charges: matches!(spec.charging, Charging::Charged { .. }),
            price_scheme_id: scheme_id(spec),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.name,
            &self.nature,
            &self.business_model,
            &self.counts_water_usage,
            &self.charges,
            &self.price_scheme_id,
        ]
    }
}

fn scheme_id(spec: &CustomerTypeSpec) -> Option<i64> {
    match spec.charging {
        Charging::Free => None,
        Charging::Charged {
            price_scheme_id, ..
        } => Some(price_scheme_id),
    }
}

/// The form with the chosen meter types and scheme looked up. Ids that name nothing are
/// dropped here, and the rules then see the choice as missing.
async fn form_of(
    client: &impl CachingClient,
    input: &CustomerTypeInput,
) -> Result<CustomerTypeForm, DbError> {
    let meter_types = meter_type_refs(
        client,
        "SELECT id, name, payment_model FROM meter_type WHERE id = ANY($1) ORDER BY name",
        &input.meter_type_ids,
    )
    .await?;
    let price_scheme = match input.price_scheme_id {
        None => None,
        Some(id) => client
            .query_opt(
                "SELECT id, name, kind FROM price_scheme WHERE id = $1",
                &[&id],
            )
            .await?
            .map(|row| {
                Ok::<_, DbError>(PriceSchemeRef {
                    id: row.get("id"),
                    name: row.get("name"),
                    kind: word(&row, "kind")?,
                })
            })
            .transpose()?,
    };
    Ok(CustomerTypeForm {
        name: input.name.clone(),
        nature: input.nature,
        business_model: input.business_model,
        meter_types,
        counts_water_usage: input.counts_water_usage,
        charges: input.charges,
        price_scheme,
        payment_methods: input.payment_methods.clone(),
    })
}

/// Meter types from `sql`, which selects id, name and payment model given an id list or id.
async fn meter_type_refs(
    client: &impl CachingClient,
    sql: &str,
    param: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Vec<MeterTypeRef>, DbError> {
    read_all(client, sql, &[param], |row| {
        Ok(MeterTypeRef {
            id: row.get("id"),
            name: row.get("name"),
            payment_model: word(row, "payment_model")?,
        })
    })
    .await
}

/// A change of customer type `id` (`kind`, written once under `key`): `change` runs with the
/// type locked and its use read ([`locked_usage`]); a type that is not there is `NotFound`.
async fn change_type(
    client: &mut Client,
    key: &str,
    kind: &str,
    operator_id: i64,
    id: i64,
    change: impl AsyncFnOnce(&Transaction<'_>, TypeUsage) -> Result<CustomerTypeOutcome, DbError>,
) -> Result<CustomerTypeOutcome, DbError> {
    write_once(client, key, kind, operator_id, async move |transaction| {
        require(transaction, &["customer_type.maintain"]).await?;
        match locked_usage(transaction, id).await? {
            Some(usage) => change(transaction, usage).await,
            None => Ok(CustomerTypeOutcome::NotFound),
        }
    })
    .await
}

/// Locks the type and tells how customers use it; None if there is no such type.
async fn locked_usage(
    transaction: &Transaction<'_>,
    id: i64,
) -> Result<Option<TypeUsage>, DbError> {
    let Some(row) = transaction
        .query_opt(
            "SELECT nature, business_model,
                    (SELECT count(*) FROM customer WHERE customer_type_id = $1) AS customers
             FROM customer_type WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(TypeUsage {
        nature: word(&row, "nature")?,
        business_model: word(&row, "business_model")?,
        customers: row.get("customers"),
        meter_types_in_use: meter_type_refs(
            transaction,
            "SELECT id, name, payment_model FROM meter_type
             WHERE id IN (SELECT meter_type_id FROM customer WHERE customer_type_id = $1)
             ORDER BY name",
            &id,
        )
        .await?,
    }))
}

/// Ends the save of type `id` (`action` is the write's kind): its allowed meter types (kept
/// ones stay), its payment methods and its audit row.
async fn save_lists(
    transaction: &Transaction<'_>,
    operator_id: i64,
    action: &str,
    id: i64,
    spec: &CustomerTypeSpec,
) -> Result<CustomerTypeOutcome, DbError> {
    let payment_methods = match &spec.charging {
        Charging::Free => Vec::new(),
        Charging::Charged {
            payment_methods, ..
        } => payment_methods.clone(),
    };
    transaction
        .execute(
            "WITH meter_types AS (
                 INSERT INTO customer_type_meter_type (customer_type_id, meter_type_id,
                                                       meter_payment_model)
                 SELECT $1, meter_type_id, $2 FROM unnest($3::bigint[]) AS meter_type_id
                 ON CONFLICT DO NOTHING
             )
             INSERT INTO customer_type_payment_method (customer_type_id, payment_method_code)
             SELECT $1, code FROM unnest($4::text[]) AS code",
            &[
                &id,
                &spec.business_model.meter_payment_model().as_str(),
                &spec.meter_type_ids,
                &payment_methods,
            ],
        )
        .await?;
    transaction
        .execute(
            "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
             SELECT $1, $2, 'customer_type', $3,
                    jsonb_build_object('name', $4::text, 'nature', $5::text,
                                       'business_model', $6::text, 'meter_type_ids', $7::bigint[],
                                       'price_scheme_id', $8::bigint)",
            &[
                &operator_id,
                &action,
                &id,
                &spec.name,
                &spec.nature.as_str(),
                &spec.business_model.as_str(),
                &spec.meter_type_ids,
                &scheme_id(spec),
            ],
        )
        .await?;
    Ok(CustomerTypeOutcome::Saved { id })
}

/// A customer type as the account-opening wizard offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTypeOption {
    pub id: i64,
    pub name: String,
    pub nature: crate::domain::customer_rules::Nature,
    pub business_model: crate::domain::customer_rules::BusinessModel,
    /// The meter types its customers' meters may have.
    pub meter_type_ids: Vec<i64>,
    /// The name of the price scheme it charges by; none for a type that does not charge.
    pub price_scheme: Option<String>,
}

/// Every customer type with the meter types it allows, by name.
pub async fn customer_type_options(
    client: &impl CachingClient,
) -> Result<Vec<CustomerTypeOption>, DbError> {
    read_all(
        client,
        "SELECT t.id, t.name, t.nature, t.business_model,
                ARRAY(SELECT m.meter_type_id FROM customer_type_meter_type m
                      WHERE m.customer_type_id = t.id ORDER BY m.meter_type_id)
                    AS meter_type_ids,
                s.name AS price_scheme
         FROM customer_type t LEFT JOIN price_scheme s ON s.id = t.price_scheme_id
         ORDER BY t.name",
        &[],
        |row| {
            Ok(from_columns!(row => CustomerTypeOption {
                id, name,
                nature: word(row, "nature")?,
                business_model: word(row, "business_model")?,
                meter_type_ids, price_scheme,
            }))
        },
    )
    .await
}

/// A customer type as the list and its form show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTypeRow {
    pub id: i64,
    pub input: CustomerTypeInput,
    /// Names of the allowed meter types, in the order of `input.meter_type_ids`.
    pub meter_type_names: Vec<String>,
    pub price_scheme_name: Option<String>,
    /// Customers of this type: while any, it cannot be deleted nor change business model.
    pub customers: i64,
}

/// Every customer type, by name, with what it allows and how many customers have it.
pub async fn customer_type_rows(
    client: &impl CachingClient,
) -> Result<Vec<CustomerTypeRow>, DbError> {
    type_rows(client, None).await
}

/// A form of a type with its lists in order: two forms that say the same are equal.
fn sorted(input: &CustomerTypeInput) -> CustomerTypeInput {
    let mut input = input.clone();
    input.meter_type_ids.sort_unstable();
    input.payment_methods.sort_unstable();
    input
}

/// The customer types as [`customer_type_rows`] lists them, or type `id`'s alone.
async fn type_rows(
    client: &impl CachingClient,
    id: Option<i64>,
) -> Result<Vec<CustomerTypeRow>, DbError> {
    read_all(
        client,
        "SELECT t.id, t.name, t.nature, t.business_model, t.counts_water_usage, t.charges,
                t.price_scheme_id, s.name AS price_scheme_name,
                ARRAY(SELECT m.id FROM customer_type_meter_type a
                      JOIN meter_type m ON m.id = a.meter_type_id
                      WHERE a.customer_type_id = t.id ORDER BY m.name) AS meter_type_ids,
                ARRAY(SELECT m.name FROM customer_type_meter_type a
                      JOIN meter_type m ON m.id = a.meter_type_id
                      WHERE a.customer_type_id = t.id ORDER BY m.name) AS meter_type_names,
                ARRAY(SELECT payment_method_code FROM customer_type_payment_method p
                      WHERE p.customer_type_id = t.id ORDER BY payment_method_code)
                    AS payment_methods,
                (SELECT count(*) FROM customer c WHERE c.customer_type_id = t.id) AS customers
         FROM customer_type t LEFT JOIN price_scheme s ON s.id = t.price_scheme_id
         WHERE $1::bigint IS NULL OR t.id = $1
         ORDER BY t.name",
        &[&id],
        |row| {
            Ok(from_columns!(row => CustomerTypeRow {
                id,
                input: CustomerTypeInput {
                    name: row.get("name"),
                    nature: word(row, "nature")?,
                    business_model: word(row, "business_model")?,
                    counts_water_usage: row.get("counts_water_usage"),
                    charges: row.get("charges"),
                    price_scheme_id: row.get("price_scheme_id"),
                    meter_type_ids: row.get("meter_type_ids"),
                    payment_methods: row.get("payment_methods"),
                },
                price_scheme_name, meter_type_names, customers,
            }))
        },
    )
    .await
}

/// The enabled payment methods, code and name, in the order the counter lists them.
pub async fn payment_methods(
    client: &impl CachingClient,
) -> Result<Vec<(String, String)>, DbError> {
    read_all(
        client,
        "SELECT code, name FROM payment_method WHERE enabled ORDER BY name",
        &[],
        |row| Ok((row.get("code"), row.get("name"))),
    )
    .await
}
