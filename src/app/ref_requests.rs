//! Executes the reference screens' requests (`app::refdata::RefRequest`) against the pool.
//! The import reports its progress through `progress` (rows sent, of all) as it goes.

use std::sync::Arc;

use super::refdata::{ImportCheck, ImportFileError, RefReply, RefRequest, TypeChoices};
use super::requests::Progress;
use super::state::{Failure, Problem};
use crate::db::meters::{self, MeterTypeFields};
use crate::db::{Pool, customer_types, operators, price_schemes};
use crate::domain::meter_csv::{LineProblem, MeterTypeNames, parse_meter_csv};

pub async fn execute(
    pool: &Pool,
    operator_id: i64,
    request: RefRequest,
    progress: &Progress<'_>,
) -> Result<RefReply, Failure> {
    let mut client = pool.get().await?;
    // The screen checks the session's permissions; the roles may have changed since sign-in.
    if let Some(permission) = request.permission()
        && !operators::has_permission(&**client, operator_id, permission).await?
    {
        return Ok(RefReply::NotPermitted(permission));
    }
    Ok(match request {
        RefRequest::MeterTypes => RefReply::MeterTypes(meters::meter_type_rows(&**client).await?),
        RefRequest::SaveMeterType {
            idempotency_key,
            id,
            name,
            payment_model,
            caliber,
            manufacturer,
        } => RefReply::MeterTypeSaved(
            meters::save_meter_type(
                &mut client,
                operator_id,
                &idempotency_key,
                id,
                MeterTypeFields {
                    name: &name,
                    payment_model,
                    caliber: &caliber,
                    manufacturer: &manufacturer,
                },
            )
            .await?,
        ),
        RefRequest::DeleteMeterType {
            idempotency_key,
            id,
        } => RefReply::MeterTypeDeleted(
            meters::delete_meter_type(&mut client, operator_id, &idempotency_key, id).await?,
        ),
        RefRequest::Meters {
            listing,
            prefix,
            at,
            size,
            ..
        } => RefReply::Meters(meters::meter_page(&**client, listing, &prefix, &at, size).await?),
        RefRequest::SaveMeter {
            idempotency_key: key,
            add,
            meter_no,
            fields,
        } => RefReply::MeterSaved(if add {
            meters::add_meter(&mut client, operator_id, &key, &meter_no, &fields).await?
        } else {
            meters::modify_meter(&mut client, operator_id, &key, &meter_no, &fields).await?
        }),
        RefRequest::DeleteMeter {
            idempotency_key,
            meter_no,
        } => RefReply::MeterDeleted(
            meters::delete_meter(&mut client, operator_id, &idempotency_key, &meter_no).await?,
        ),
        RefRequest::CheckImport { path } => {
            let text = match tokio::fs::read(&path).await {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(_) => return Ok(RefReply::ImportChecked(Err(ImportFileError::NotUtf8))),
                },
                Err(error) => {
                    return Ok(RefReply::ImportChecked(Err(ImportFileError::Unreadable(
                        error.to_string(),
                    ))));
                }
            };
            let types = meters::meter_types(&**client).await?;
            let csv = tokio::task::spawn_blocking(move || {
                let names = MeterTypeNames::new(types.iter().map(|t| (t.name.as_str(), t.id)));
                parse_meter_csv(&text, &names)
            })
            .await
            .map_err(|error| Failure::Error(Problem::new("failure.file", error)))?;
            let errors = meters::check_import(&**client, &csv).await?;
            let present = errors
                .iter()
                .filter(|e| matches!(e.problem, LineProblem::AlreadyInDatabase(_)))
                .count();
            RefReply::ImportChecked(Ok(ImportCheck {
                good: csv.rows.len() - present,
                csv: Arc::new(csv),
                errors,
            }))
        }
        RefRequest::Import {
            idempotency_key: key,
            csv,
            choice,
        } => RefReply::Imported(
            meters::import_meters_reporting(&mut client, operator_id, &key, &csv, choice, progress)
                .await?,
        ),
        RefRequest::Schemes => RefReply::Schemes(price_schemes::schemes(&**client).await?),
        RefRequest::Scheme { id } => {
            RefReply::Scheme(price_schemes::scheme(&**client, id).await?.map(Box::new))
        }
        RefRequest::AddScheme {
            idempotency_key: key,
            fields,
            tiers,
        } => RefReply::SchemeSaved(
            price_schemes::add_scheme(&mut client, operator_id, &key, &fields, &tiers).await?,
        ),
        RefRequest::ModifyScheme {
            idempotency_key: key,
            id,
            fields,
        } => RefReply::SchemeSaved(
            price_schemes::modify_scheme(&mut client, operator_id, &key, id, &fields).await?,
        ),
        RefRequest::ChangePrices {
            idempotency_key: key,
            id,
            effective_from,
            tiers,
        } => RefReply::SchemeSaved(
            price_schemes::change_prices(
                &mut client,
                operator_id,
                &key,
                id,
                effective_from,
                &tiers,
            )
            .await?,
        ),
        RefRequest::CustomerTypes => RefReply::CustomerTypes {
            rows: customer_types::customer_type_rows(&**client).await?,
            choices: TypeChoices {
                meter_types: meters::meter_types(&**client).await?,
                schemes: price_schemes::schemes(&**client).await?,
                payment_methods: customer_types::payment_methods(&**client).await?,
            },
        },
        RefRequest::SaveCustomerType {
            idempotency_key: key,
            id,
            input,
        } => RefReply::CustomerTypeSaved(match id {
            None => {
                customer_types::add_customer_type(&mut client, operator_id, &key, &input).await?
            }
            Some(id) => {
                customer_types::modify_customer_type(&mut client, operator_id, &key, id, &input)
                    .await?
            }
        }),
        RefRequest::DeleteCustomerType {
            idempotency_key: key,
            id,
        } => RefReply::CustomerTypeSaved(
            customer_types::delete_customer_type(&mut client, operator_id, &key, id).await?,
        ),
    })
}
