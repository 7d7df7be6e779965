//! The reference-data screens' requests and replies, and their execution against the pool: a
//! screen sends one as a [`RefCall`] on behalf of the operator signed in. Every change is
//! checked against the operator's permission again here (the roles may have changed since
//! sign-in); the import reports its progress through `progress` (rows sent, of all).

use std::sync::Arc;

use chrono::NaiveDate;

use crate::app::paging::PageApply;
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, Hub, ScreenReply, ScreenRequest};
use crate::app::state::{Failure, Problem};
use crate::db::customer_types::{self, CustomerTypeInput, CustomerTypeOutcome, CustomerTypeRow};
use crate::db::customers::{Page, PageAt};
use crate::db::meters::{
    self, ImportChoice, ImportReport, MeterFields, MeterListRow, MeterListing, MeterOutcome,
    MeterType, MeterTypeDeletion, MeterTypeFields, MeterTypeOutcome, MeterTypeRow,
};
use crate::db::price_schemes::{self, SchemeDetail, SchemeFields, SchemeOutcome, SchemeRow};
use crate::db::{Pool, operators};
use crate::domain::customer_rules::PaymentModel;
use crate::domain::meter_csv::{
    LineError, LineProblem, MeterCsv, MeterNo, MeterTypeNames, parse_meter_csv,
};
use crate::domain::pricing::Tier;

/// Work for the database on behalf of these screens (executed by [`execute`]). Every change carries
/// the idempotency key made when the clerk pressed F2 ([`App::write_key`]): sent again after a
/// lost connection, it is applied once (`db::applied_write`).
#[derive(Debug, Clone, PartialEq)]
pub enum RefRequest {
    MeterTypes,
    SaveMeterType {
        idempotency_key: String,
        id: Option<i64>,
        name: String,
        payment_model: PaymentModel,
        caliber: String,
        manufacturer: String,
    },
    DeleteMeterType {
        idempotency_key: String,
        id: i64,
    },
    Meters {
        listing: MeterListing,
        prefix: String,
        at: PageAt<String>,
        size: usize,
        apply: PageApply,
    },
    /// Adds (`add`) or modifies an uninstalled meter.
    SaveMeter {
        idempotency_key: String,
        add: bool,
        meter_no: MeterNo,
        fields: MeterFields,
    },
    DeleteMeter {
        idempotency_key: String,
        meter_no: MeterNo,
    },
    /// Reads and checks an import file: nothing is written.
    CheckImport {
        path: String,
    },
    Import {
        idempotency_key: String,
        csv: Arc<MeterCsv>,
        choice: ImportChoice,
    },
    Schemes,
    Scheme {
        id: i64,
    },
    AddScheme {
        idempotency_key: String,
        fields: SchemeFields,
        tiers: Vec<Tier>,
    },
    ModifyScheme {
        idempotency_key: String,
        id: i64,
        fields: SchemeFields,
    },
    ChangePrices {
        idempotency_key: String,
        id: i64,
        effective_from: NaiveDate,
        tiers: Vec<Tier>,
    },
    CustomerTypes,
    SaveCustomerType {
        idempotency_key: String,
        id: Option<i64>,
        input: CustomerTypeInput,
    },
    DeleteCustomerType {
        idempotency_key: String,
        id: i64,
    },
}

impl RefRequest {
    /// The permission the request needs (`sql/V2`); viewing needs none.
    pub fn permission(&self) -> Option<&'static str> {
        match self {
            RefRequest::MeterTypes
            | RefRequest::Meters { .. }
            | RefRequest::CheckImport { .. }
            | RefRequest::Schemes
            | RefRequest::Scheme { .. }
            | RefRequest::CustomerTypes => None,
            RefRequest::SaveMeterType { .. }
            | RefRequest::DeleteMeterType { .. }
            | RefRequest::SaveMeter { .. }
            | RefRequest::DeleteMeter { .. } => Some("meter.maintain"),
            RefRequest::Import { .. } => Some("meter.import"),
            RefRequest::AddScheme { .. }
            | RefRequest::ModifyScheme { .. }
            | RefRequest::ChangePrices { .. } => Some("price.maintain"),
            RefRequest::SaveCustomerType { .. } | RefRequest::DeleteCustomerType { .. } => {
                Some("customer_type.maintain")
            }
        }
    }

    /// The idempotency key of a change or an import.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            RefRequest::SaveMeterType {
                idempotency_key, ..
            }
            | RefRequest::DeleteMeterType {
                idempotency_key, ..
            }
            | RefRequest::SaveMeter {
                idempotency_key, ..
            }
            | RefRequest::DeleteMeter {
                idempotency_key, ..
            }
            | RefRequest::Import {
                idempotency_key, ..
            }
            | RefRequest::AddScheme {
                idempotency_key, ..
            }
            | RefRequest::ModifyScheme {
                idempotency_key, ..
            }
            | RefRequest::ChangePrices {
                idempotency_key, ..
            }
            | RefRequest::SaveCustomerType {
                idempotency_key, ..
            }
            | RefRequest::DeleteCustomerType {
                idempotency_key, ..
            } => Some(idempotency_key),
            // The others read.
            _ => None,
        }
    }

    /// A change or an import writes: F12 does not drop its answer (it may have been written).
    pub fn writes(&self) -> bool {
        self.idempotency_key().is_some()
    }

    /// A change or an import holds the keys until it answers; lists, pages and the check of a
    /// file do not (F3 or F12 leaves a long check, whose answer is then dropped).
    pub fn holds_input(&self) -> bool {
        self.writes()
    }
}

/// A checked import file: the good rows, and every problem (the file's and the database's).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportCheck {
    pub csv: Arc<MeterCsv>,
    pub errors: Vec<LineError>,
    /// Rows that would go in: the file's good rows not already in the database.
    pub good: usize,
}

/// Why an import file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportFileError {
    /// The system's reason (no such file, permission denied …).
    Unreadable(String),
    NotUtf8,
}

/// What the customer type form chooses from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeChoices {
    pub meter_types: Vec<MeterType>,
    pub schemes: Vec<SchemeRow>,
    /// Code and name.
    pub payment_methods: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefReply {
    MeterTypes(Vec<MeterTypeRow>),
    MeterTypeSaved(MeterTypeOutcome),
    MeterTypeDeleted(MeterTypeDeletion),
    Meters(Page<MeterListRow>),
    MeterSaved(MeterOutcome),
    MeterDeleted(MeterOutcome),
    ImportChecked(Result<ImportCheck, ImportFileError>),
    Imported(ImportReport),
    Schemes(Vec<SchemeRow>),
    Scheme(Option<Box<SchemeDetail>>),
    SchemeSaved(SchemeOutcome),
    CustomerTypes {
        rows: Vec<CustomerTypeRow>,
        choices: TypeChoices,
    },
    CustomerTypeSaved(CustomerTypeOutcome),
    /// The operator's roles (as the database holds them now) do not allow the change.
    NotPermitted(&'static str),
}

/// A reference request sent by a screen, on behalf of the operator signed in.
#[derive(Debug, Clone, PartialEq)]
pub struct RefCall {
    pub operator_id: i64,
    pub request: RefRequest,
}

impl RefCall {
    /// `request` on behalf of the operator signed in.
    pub fn new(hub: &Hub, request: RefRequest) -> RefCall {
        let operator_id = hub.app.session.as_ref().map_or(0, |s| s.operator_id);
        RefCall {
            operator_id,
            request,
        }
    }
}

impl ScreenRequest for RefCall {
    fn holds_input(&self) -> bool {
        self.request.holds_input()
    }

    fn writes(&self) -> bool {
        self.request.writes()
    }

    fn idempotency_key(&self) -> Option<&str> {
        self.request.idempotency_key()
    }

    fn execute<'a>(&'a self, services: &'a Services, progress: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let reply = execute(
                &services.pool,
                self.operator_id,
                self.request.clone(),
                progress,
            )
            .await?;
            Ok(Box::new(reply) as _)
        })
    }

    /// A change answered after its screen closed is still told; the screen on top shows it.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some(reply) = reply.of::<RefReply>() else {
            return;
        };
        if super::change_done(&self.request, reply, hub)
            && !matches!(self.request, RefRequest::Import { .. })
        {
            hub.notify(crate::app::screen::Notice::Reload);
        }
    }
}

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
