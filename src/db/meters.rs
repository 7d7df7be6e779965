//! Meters and meter types (4.5.1): maintenance of uninstalled meters, the uninstalled meters an
//! account can be opened on, and the CSV import. Each change writes its audit row in the same
//! statement or transaction. The schema's `meter_guard` refuses, as a backstop, what the
//! conditions here already leave alone: changing an installed meter or its number.
//!
//! Each change is exactly-once under the idempotency key the app gives it
//! (`db::applied_write`): a key already applied writes nothing and answers what it answered.

use std::collections::HashSet;

use crate::db::{CachingClient, Transaction, import_deadlines};
use deadpool_postgres::ClientWrapper as Client;
use rust_decimal::Decimal;
use serde_json::json;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::applied_write::{Outcome, outcome_done, outcome_saved_id, write_once};
use super::operators::require;
use super::rows::{accepted, accepted_or, as_read, from_columns, read_all, read_opt, word};
use crate::domain::customer_rules::PaymentModel;
use crate::domain::meter_csv::{LineError, LineProblem, MeterCsv, MeterNo, MeterRow};
use crate::domain::money::Volume;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterType {
    pub id: i64,
    pub name: String,
    pub payment_model: PaymentModel,
    /// Follows the payment model: the IC card is how credit reaches a prepayment meter.
    pub takes_card: bool,
    pub caliber: String,
    pub manufacturer: String,
}

/// A meter type to add, or what to change one to. `caliber` is `DN` and digits.
#[derive(Debug, Clone, Copy)]
pub struct MeterTypeFields<'a> {
    pub name: &'a str,
    pub payment_model: PaymentModel,
    pub caliber: &'a str,
    pub manufacturer: &'a str,
}

// How each answer is recorded under its idempotency key (`db::applied_write`).
outcome_saved_id!(MeterTypeOutcome::Saved);
outcome_done!(MeterOutcome::Done);
outcome_done!(MeterTypeDeletion::Deleted);

/// What became of a change to a meter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterTypeOutcome {
    Saved {
        id: i64,
    },
    NameTaken,
    NotFound,
    /// Customer types allow it for their business model: its payment model must stay.
    PaymentModelInUse,
    /// Saved by another desk since its form was read: nothing saved (`db::rows::as_read`).
    Changed,
}

/// A meter, as the meter screens and step 3 of the account opening show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    pub id: i64,
    pub meter_no: String,
    pub meter_type_id: i64,
    pub meter_type: String,
    pub initial_electronic_reading: Decimal,
    pub initial_mechanical_reading: Decimal,
}

/// The columns [`Meter::from_row`] reads, of `meter m JOIN meter_type t`.
const METER_COLUMNS: &str = "m.id, m.meter_no, m.meter_type_id, t.name AS meter_type,
    m.initial_electronic_reading, m.initial_mechanical_reading";

impl Meter {
    fn from_row(row: &Row) -> Self {
        from_columns!(row => Meter {
            id, meter_no, meter_type_id, meter_type, initial_electronic_reading,
            initial_mechanical_reading,
        })
    }

    /// Its type and initial readings, as a form that modifies it holds them.
    pub fn fields(&self) -> MeterFields {
        MeterFields {
            meter_type_id: self.meter_type_id,
            initial_electronic_reading: self.initial_electronic_reading,
            initial_mechanical_reading: self.initial_mechanical_reading,
        }
    }
}

/// A meter to add, or the new type and readings of one (readings compared by value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterFields {
    pub meter_type_id: i64,
    pub initial_electronic_reading: Decimal,
    pub initial_mechanical_reading: Decimal,
}

/// What became of a change to a meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterOutcome {
    Done,
    NotFound,
    NumberTaken,
    UnknownMeterType,
    /// Installed or removed meters are read-only.
    NotUninstalled {
        status: String,
    },
    /// Saved by another desk since its form was read: nothing saved (`db::rows::as_read`).
    Changed,
}

/// Import the good rows and report the bad, or import only a file without a bad row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportChoice {
    GoodRows,
    AllOrNothing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: u64,
    /// Every problem, the file's and the database's, in line order.
    pub errors: Vec<LineError>,
}

fn meter_type_from(row: &Row) -> Result<MeterType, DbError> {
    Ok(from_columns!(row => MeterType {
        id, name,
        payment_model: word(row, "payment_model")?,
        takes_card, caliber, manufacturer,
    }))
}

/// The columns [`meter_type_from`] reads.
const METER_TYPE_COLUMNS: &str = "id, name, payment_model, takes_card, caliber, manufacturer";

/// Every meter type, by name.
pub async fn meter_types(client: &impl CachingClient) -> Result<Vec<MeterType>, DbError> {
    read_all(
        client,
        &format!("SELECT {METER_TYPE_COLUMNS} FROM meter_type ORDER BY name"),
        &[],
        meter_type_from,
    )
    .await
}

/// Adds a meter type (`modifying` None) or changes the one `modifying` is, as its form was
/// filled from it: saved by another desk since, it is `Changed` and nothing is saved.
pub async fn save_meter_type(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    modifying: Option<&MeterType>,
    fields: MeterTypeFields<'_>,
) -> Result<MeterTypeOutcome, DbError> {
    let kind = match modifying {
        None => "meter_type.add",
        Some(_) => "meter_type.modify",
    };
    let id = modifying.map(|read| read.id);
    write_once(client, key, kind, operator_id, async |transaction| {
        if let Some(read) = modifying
            && let Err(changed) =
                meter_type_as_read(transaction, read, MeterTypeOutcome::Changed).await?
        {
            return Ok(changed);
        }
        let result = transaction
            .query_opt(
                "WITH added AS (
                     INSERT INTO meter_type (name, payment_model, takes_card, caliber,
                                             manufacturer)
                     SELECT $2, $3, $3 = 'prepayment', $4, $5 WHERE $1::bigint IS NULL
                     RETURNING id
                 ), changed AS (
                     UPDATE meter_type
                     SET name = $2, payment_model = $3, takes_card = $3 = 'prepayment',
                         caliber = $4, manufacturer = $5
                     WHERE id = $1
                     RETURNING id
                 ), saved AS (
                     SELECT id, 'meter_type.add' AS action FROM added
                     UNION ALL SELECT id, 'meter_type.modify' FROM changed
                 ), audit AS (
                     INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                     SELECT $6, action, 'meter_type', id,
                            jsonb_build_object('name', $2::text, 'payment_model', $3::text,
                                               'caliber', $4::text, 'manufacturer', $5::text)
                     FROM saved
                 )
                 SELECT id FROM saved",
                &[
                    &id,
                    &fields.name,
                    &fields.payment_model.as_str(),
                    &fields.caliber,
                    &fields.manufacturer,
                    &operator_id,
                ],
            )
            .await;
        let refusals = [
            (SqlState::UNIQUE_VIOLATION, MeterTypeOutcome::NameTaken),
            // customer_type_meter_type's composite key holds the payment model it was
            // allowed for.
            (
                SqlState::FOREIGN_KEY_VIOLATION,
                MeterTypeOutcome::PaymentModelInUse,
            ),
        ];
        Ok(match accepted_or(result, refusals)? {
            Ok(Some(row)) => MeterTypeOutcome::Saved { id: row.get("id") },
            Ok(None) => MeterTypeOutcome::NotFound,
            Err(refused) => refused,
        })
    })
    .await
}

/// Whether meter type `read.id` is still `read`, as its list or form showed it
/// (`db::rows::as_read`), its row locked until the change commits; else `changed`.
async fn meter_type_as_read<O>(
    transaction: &Transaction<'_>,
    read: &MeterType,
    changed: O,
) -> Result<Result<(), O>, DbError> {
    let locked = format!("SELECT {METER_TYPE_COLUMNS} FROM meter_type WHERE id = $1 FOR UPDATE");
    let id = [&read.id as &(dyn ToSql + Sync)];
    as_read(
        read_opt(transaction, &locked, &id, meter_type_from),
        read,
        changed,
    )
    .await
}

/// Whether meter `meter_no` still has the type and initial readings `read`, as its list or
/// form showed them (`db::rows::as_read`; decimals by value), its row locked until the change
/// commits; else `Changed`.
async fn meter_as_read(
    transaction: &Transaction<'_>,
    meter_no: &MeterNo,
    read: &MeterFields,
) -> Result<Result<(), MeterOutcome>, DbError> {
    let number = meter_no.as_str();
    let number = [&number as &(dyn ToSql + Sync)];
    let now = read_opt(
        transaction,
        "SELECT meter_type_id, initial_electronic_reading, initial_mechanical_reading
         FROM meter WHERE meter_no = $1 FOR UPDATE",
        &number,
        |row| {
            Ok(from_columns!(row => MeterFields {
                meter_type_id, initial_electronic_reading, initial_mechanical_reading,
            }))
        },
    );
    as_read(now, read, MeterOutcome::Changed).await
}

/// Adds an uninstalled meter.
pub async fn add_meter(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    meter_no: &MeterNo,
    fields: &MeterFields,
) -> Result<MeterOutcome, DbError> {
    write_once(client, key, "meter.add", operator_id, async |transaction| {
        let result = transaction
            .execute(
                "WITH added AS (
                     INSERT INTO meter (meter_no, meter_type_id, initial_electronic_reading,
                                        initial_mechanical_reading)
                     VALUES ($1, $2, $3, $4)
                     RETURNING id
                 )
                 INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 SELECT $5, 'meter.add', 'meter', id,
                        jsonb_build_object('meter_no', $1::text, 'meter_type_id', $2::bigint,
                                           'initial_electronic_reading', $3::numeric,
                                           'initial_mechanical_reading', $4::numeric)
                 FROM added",
                &meter_params(&meter_no.as_str(), fields, &operator_id),
            )
            .await;
        let refusals = [
            (SqlState::UNIQUE_VIOLATION, MeterOutcome::NumberTaken),
            (
                SqlState::FOREIGN_KEY_VIOLATION,
                MeterOutcome::UnknownMeterType,
            ),
        ];
        Ok(match accepted_or(result, refusals)? {
            Ok(_) => MeterOutcome::Done,
            Err(refused) => refused,
        })
    })
    .await
}

/// `$1` … `$5` of a statement that adds or changes a meter: its number, type and initial
/// readings, and the operator.
fn meter_params<'a>(
    meter_no: &'a &'a str,
    fields: &'a MeterFields,
    operator_id: &'a i64,
) -> [&'a (dyn ToSql + Sync); 5] {
    [
        meter_no,
        &fields.meter_type_id,
        &fields.initial_electronic_reading,
        &fields.initial_mechanical_reading,
        operator_id,
    ]
}

/// Changes an uninstalled meter's type and initial readings, whose form was filled from
/// `read`; its number never changes. Saved by another desk since: `Changed`, nothing saved.
pub async fn modify_meter(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    meter_no: &MeterNo,
    read: &MeterFields,
    fields: &MeterFields,
) -> Result<MeterOutcome, DbError> {
    write_once(
        client,
        key,
        "meter.modify",
        operator_id,
        async |transaction| {
            if let Err(changed) = meter_as_read(transaction, meter_no, read).await? {
                return Ok(changed);
            }
            let result = transaction
                .query_one(
                    "WITH changed AS (
                     UPDATE meter
                     SET meter_type_id = $2, initial_electronic_reading = $3,
                         initial_mechanical_reading = $4
                     WHERE meter_no = $1 AND status = 'uninstalled'
                     RETURNING id
                 ), audit AS (
                     INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                     SELECT $5, 'meter.modify', 'meter', id,
                            jsonb_build_object('meter_no', $1::text, 'meter_type_id', $2::bigint,
                                               'initial_electronic_reading', $3::numeric,
                                               'initial_mechanical_reading', $4::numeric)
                     FROM changed
                 )
                 SELECT EXISTS (SELECT FROM changed) AS done,
                        (SELECT status FROM meter WHERE meter_no = $1) AS status",
                    &meter_params(&meter_no.as_str(), fields, &operator_id),
                )
                .await;
            Ok(accepted(result, &SqlState::FOREIGN_KEY_VIOLATION)?
                .map_or(MeterOutcome::UnknownMeterType, |row| outcome_of(&row)))
        },
    )
    .await
}

/// Deletes an uninstalled meter (one added by mistake) that still has the type and initial
/// readings `read` its list showed: changed by another desk since, it is `Changed` and stays.
pub async fn delete_meter(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    meter_no: &MeterNo,
    read: &MeterFields,
) -> Result<MeterOutcome, DbError> {
    write_once(
        client,
        key,
        "meter.delete",
        operator_id,
        async |transaction| {
            require(transaction, &["meter.maintain", "meter.import"]).await?;
            if let Err(changed) = meter_as_read(transaction, meter_no, read).await? {
                return Ok(changed);
            }
            let row = transaction
                .query_one(
                    "WITH deleted AS (
                     DELETE FROM meter WHERE meter_no = $1 AND status = 'uninstalled'
                     RETURNING id, meter_type_id
                 ), audit AS (
                     INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                     SELECT $2, 'meter.delete', 'meter', id,
                            jsonb_build_object('meter_no', $1::text,
                                               'meter_type_id', meter_type_id)
                     FROM deleted
                 )
                 SELECT EXISTS (SELECT FROM deleted) AS done,
                        (SELECT status FROM meter WHERE meter_no = $1) AS status",
                    &[&meter_no.as_str(), &operator_id],
                )
                .await?;
            Ok(outcome_of(&row))
        },
    )
    .await
}

/// A conditional change's outcome from whether it happened (`done`) and the meter's `status`
/// as the statement found it.
fn outcome_of(row: &Row) -> MeterOutcome {
    match (row.get("done"), row.get::<_, Option<String>>("status")) {
        (true, _) => MeterOutcome::Done,
        (false, None) => MeterOutcome::NotFound,
        // "uninstalled" here means another clerk installed it while the statement waited.
        (false, Some(status)) if status == "uninstalled" => MeterOutcome::NotUninstalled {
            status: "installed".to_owned(),
        },
        (false, Some(status)) => MeterOutcome::NotUninstalled { status },
    }
}

/// A page of uninstalled meters of the given types whose number starts with `prefix`, in
/// meter-number order after `after` (keyset paging: the last number of the previous page).
pub async fn uninstalled_meters(
    client: &impl CachingClient,
    meter_type_ids: &[i64],
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Meter>, DbError> {
    let prefix = prefix.trim().to_ascii_uppercase();
    // Anything else cannot start a meter number, and `%` or `_` would be LIKE wildcards.
    if !prefix
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-')
    {
        return Ok(Vec::new());
    }
    // In the byte order of sql/V6's `meter_uninstalled_by_no`, which holds only the stock: the
    // column's own order (the same, the database being code-point ordered) walked every meter.
    read_all(
        client,
        &format!(
            "SELECT {METER_COLUMNS}
             FROM meter m JOIN meter_type t ON t.id = m.meter_type_id
             WHERE m.status = 'uninstalled' AND m.meter_type_id = ANY($1)
               AND (m.meter_no COLLATE \"C\") LIKE $2 || '%'
               AND ($3::text IS NULL OR (m.meter_no COLLATE \"C\") > $3)
             ORDER BY (m.meter_no COLLATE \"C\")
             LIMIT $4"
        ),
        &[&meter_type_ids, &prefix, &after, &limit],
        |row| Ok(Meter::from_row(row)),
    )
    .await
}

/// Every problem of an import file, the database's (numbers already present) added to the
/// file's: what the clerk sees before choosing [`ImportChoice`].
pub async fn check_import(
    client: &impl CachingClient,
    csv: &MeterCsv,
) -> Result<Vec<LineError>, DbError> {
    let numbers: Vec<&str> = csv.rows.iter().map(|row| row.meter_no.as_str()).collect();
    let present: HashSet<String> = client
        .query(
            "SELECT meter_no FROM meter WHERE meter_no = ANY($1)",
            &[&numbers],
        )
        .await?
        .iter()
        .map(|row| row.get("meter_no"))
        .collect();
    Ok(with_present(csv, &|row| {
        present.contains(row.meter_no.as_str())
    }))
}

/// The file's errors and one for each row `is_present` says is already in the database.
fn with_present(csv: &MeterCsv, is_present: &dyn Fn(&MeterRow) -> bool) -> Vec<LineError> {
    let mut errors = csv.errors.clone();
    errors.extend(
        csv.rows
            .iter()
            .filter(|row| is_present(row))
            .map(|row| LineError {
                line: row.line,
                problem: LineProblem::AlreadyInDatabase(row.meter_no.as_str().to_owned()),
            }),
    );
    errors.sort_by_key(|error| error.line);
    errors
}

/// Imports the good rows of a meter file in one transaction (INSERTs of [`IMPORT_CHUNK`] rows
/// sent as arrays, each skipping numbers already present, so a meter added meanwhile is
/// reported, not an error, and each with its `meter.import` entry). With
/// [`ImportChoice::AllOrNothing`], any problem leaves the database untouched.
/// A key already applied imports nothing and answers the first import's report, rebuilt from
/// the file and the lines it skipped.
pub async fn import_meters(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    csv: &MeterCsv,
    choice: ImportChoice,
) -> Result<ImportReport, DbError> {
    import_meters_reporting(client, operator_id, key, csv, choice, &|_, _| {}).await
}

/// [`import_meters`], telling `progress` how many of the rows have been sent (none, then after
/// each chunk).
pub async fn import_meters_reporting(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    csv: &MeterCsv,
    choice: ImportChoice,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<ImportReport, DbError> {
    let total = csv.rows.len() as u64;
    progress(0, total);
    let import = write_once(
        client,
        key,
        "meter.import",
        operator_id,
        async |transaction| {
            transaction.batch_execute(&import_deadlines()).await?;
            // The rows go as arrays, a chunk an INSERT that skips the numbers already present
            // (a meter added meanwhile is reported, not an error) and writes the `meter.import`
            // entry naming the meters it inserted (V56's check, at the end of each statement):
            // no temporary table, so no operator needs TEMPORARY (sql/V256). The progress
            // after each chunk.
            let mut inserted: HashSet<String> = HashSet::with_capacity(csv.rows.len());
            let mut sent = 0u64;
            for chunk in csv.rows.chunks(IMPORT_CHUNK) {
                let numbers: Vec<&str> = chunk.iter().map(|row| row.meter_no.as_str()).collect();
                let types: Vec<i64> = chunk.iter().map(|row| row.meter_type_id).collect();
                let readings = |reading: fn(&MeterRow) -> Volume| -> Vec<Decimal> {
                    chunk.iter().map(|row| reading(row).to_decimal()).collect()
                };
                let electronic = readings(|row| row.initial_electronic_reading);
                let mechanical = readings(|row| row.initial_mechanical_reading);
                let rows = transaction
                    .query(
                        "WITH inserted AS (
                         INSERT INTO meter (meter_no, meter_type_id, initial_electronic_reading,
                                            initial_mechanical_reading)
                         SELECT r.meter_no, r.meter_type_id, r.electronic, r.mechanical
                         FROM unnest($2::text[], $3::bigint[], $4::numeric[], $5::numeric[])
                              WITH ORDINALITY
                              AS r (meter_no, meter_type_id, electronic, mechanical, line)
                         ORDER BY r.line
                         ON CONFLICT (meter_no) DO NOTHING
                         RETURNING meter_no
                     ), audit AS (
                         INSERT INTO audit_log (operator_id, action, entity, detail)
                         SELECT $1, 'meter.import', 'meter',
                                jsonb_build_object('imported', count(*),
                                                   'meter_nos',
                                                   coalesce(jsonb_agg(meter_no), '[]'))
                         FROM inserted
                     )
                     SELECT meter_no FROM inserted",
                        &[&operator_id, &numbers, &types, &electronic, &mechanical],
                    )
                    .await?;
                inserted.extend(rows.iter().map(|row| row.get::<_, String>("meter_no")));
                sent += chunk.len() as u64;
                progress(sent, total);
            }
            // The good rows not inserted: numbers present in the database by the time of the
            // INSERT.
            let skipped_lines = csv
                .rows
                .iter()
                .filter(|row| !inserted.contains(row.meter_no.as_str()))
                .map(|row| row.line)
                .collect::<Vec<_>>();
            let refused = choice == ImportChoice::AllOrNothing
                && !(csv.errors.is_empty() && skipped_lines.is_empty());
            Ok(Import {
                imported: if refused { 0 } else { inserted.len() as u64 },
                skipped_lines,
                applied: !refused,
            })
        },
    )
    .await?;
    // A re-sent import answers from its record without sending a row.
    progress(total, total);
    let skipped: HashSet<usize> = import.skipped_lines.into_iter().collect();
    Ok(ImportReport {
        imported: import.imported,
        errors: with_present(csv, &|row| skipped.contains(&row.line)),
    })
}

/// The rows an import sends a statement (arrays of a few hundred kilobytes), each with its own
/// `meter.import` entry: a progress step.
const IMPORT_CHUNK: usize = 10_000;

/// What an import did, as it is recorded: the report is rebuilt from it and the file.
struct Import {
    imported: u64,
    /// The lines of good rows whose number was present in the database.
    skipped_lines: Vec<usize>,
    /// False when [`ImportChoice::AllOrNothing`] met a problem: nothing stays.
    applied: bool,
}

impl Outcome for Import {
    const FIELDS: &str = "(outcome->>'imported')::bigint AS imported,
        outcome->>'skipped_lines' AS skipped_lines";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        Ok(Import {
            imported: u64::try_from(row.get::<_, i64>("imported")).unwrap_or_default(),
            skipped_lines: serde_json::from_str(row.get("skipped_lines"))
                .map_err(|error| DbError::Inconsistent(format!("applied import: {error}")))?,
            applied: true,
        })
    }

    fn to_record(&self) -> Option<serde_json::Value> {
        self.applied
            .then(|| json!({ "imported": self.imported, "skipped_lines": self.skipped_lines }))
    }
}

/// A meter type with how much depends on it, as the meter type list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterTypeRow {
    pub meter_type: MeterType,
    /// Meters of this type, whatever their status.
    pub meters: i64,
    /// Customer types that allow it.
    pub customer_types: i64,
}

/// Every meter type with its usage, by name.
pub async fn meter_type_rows(client: &impl CachingClient) -> Result<Vec<MeterTypeRow>, DbError> {
    read_all(
        client,
        "SELECT id, name, payment_model, takes_card, caliber, manufacturer,
                (SELECT count(*) FROM meter m WHERE m.meter_type_id = t.id) AS meters,
                (SELECT count(*) FROM customer_type_meter_type c
                 WHERE c.meter_type_id = t.id) AS customer_types
         FROM meter_type t ORDER BY name",
        &[],
        |row| {
            Ok(MeterTypeRow {
                meter_type: meter_type_from(row)?,
                meters: row.get("meters"),
                customer_types: row.get("customer_types"),
            })
        },
    )
    .await
}

/// What became of deleting a meter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterTypeDeletion {
    Deleted,
    NotFound,
    /// Meters of the type exist, or customer types allow it: it stays.
    InUse {
        meters: i64,
        customer_types: i64,
    },
    /// Changed by another desk since the list was read: it stays (`db::rows::as_read`).
    Changed,
}

/// Deletes a meter type no meter has and no customer type allows (one added by mistake),
/// still `read` as the list showed it: changed by another desk since, it is `Changed`.
pub async fn delete_meter_type(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    read: &MeterType,
) -> Result<MeterTypeDeletion, DbError> {
    let id = read.id;
    write_once(
        client,
        key,
        "meter_type.delete",
        operator_id,
        async |transaction| {
            require(transaction, &["meter.maintain"]).await?;
            if let Err(changed) =
                meter_type_as_read(transaction, read, MeterTypeDeletion::Changed).await?
            {
                return Ok(changed);
            }
            let row = transaction
                .query_one(
                    "WITH usage AS (
                     SELECT (SELECT count(*) FROM meter WHERE meter_type_id = $1) AS meters,
                            (SELECT count(*) FROM customer_type_meter_type
                             WHERE meter_type_id = $1) AS customer_types
                 ), deleted AS (
                     DELETE FROM meter_type
                     WHERE id = $1 AND (SELECT meters + customer_types FROM usage) = 0
                     RETURNING id, name
                 ), audit AS (
                     INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                     SELECT $2, 'meter_type.delete', 'meter_type', id,
                            jsonb_build_object('name', name)
                     FROM deleted
                 )
                 SELECT EXISTS (SELECT FROM deleted) AS deleted,
                        EXISTS (SELECT FROM meter_type WHERE id = $1) AS found,
                        meters, customer_types
                 FROM usage",
                    &[&id, &operator_id],
                )
                .await;
            Ok(match accepted(row, &SqlState::FOREIGN_KEY_VIOLATION)? {
                Some(row) if row.get("deleted") => MeterTypeDeletion::Deleted,
                Some(row) if !row.get::<_, bool>("found") => MeterTypeDeletion::NotFound,
                Some(row) => MeterTypeDeletion::InUse {
                    meters: row.get("meters"),
                    customer_types: row.get("customer_types"),
                },
                // A meter or an allowing customer type added while the statement ran.
                None => MeterTypeDeletion::InUse {
                    meters: 0,
                    customer_types: 0,
                },
            })
        },
    )
    .await
}

/// Which meters the meter list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeterListing {
    /// In the store, waiting for a customer: these can be changed and deleted.
    #[default]
    Uninstalled,
    /// Installed or removed: read-only, shown with their customer.
    Placed,
}

/// A line of the meter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterListRow {
    pub meter: Meter,
    pub status: String,
    /// The customer's number and name, for a placed meter.
    pub customer: Option<(i64, String)>,
}

/// A page of the meter list in meter-number order (byte order, so a prefix is one index range),
/// numbers starting with `prefix` (typed in any case). Keyset paging by meter number.
pub async fn meter_page(
    client: &impl CachingClient,
    listing: MeterListing,
    prefix: &str,
    at: &crate::db::customers::PageAt<String>,
    size: usize,
) -> Result<crate::db::customers::Page<MeterListRow>, DbError> {
    let prefix = prefix.trim().to_ascii_uppercase();
    // Anything else cannot start a meter number, and `%` or `_` would be LIKE wildcards.
    if !prefix
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-')
    {
        return Ok(Default::default());
    }
    let seek = at.seek();
    let (forward, cursor, comparison) = (seek.forward, seek.cursor, seek.comparison(true));
    // The partial indexes of V6 match these predicates literally.
    let status = match listing {
        MeterListing::Uninstalled => "m.status = 'uninstalled'",
        MeterListing::Placed => "m.status <> 'uninstalled'",
    };
    let order = if forward { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT {METER_COLUMNS}, m.status, c.customer_no, c.name AS customer_name
         FROM meter m JOIN meter_type t ON t.id = m.meter_type_id
         LEFT JOIN customer c ON c.meter_id = m.id
         WHERE {status} AND (m.meter_no COLLATE \"C\") LIKE $1 || '%'
           AND ($2::text IS NULL OR (m.meter_no COLLATE \"C\") {comparison} $2)
         ORDER BY (m.meter_no COLLATE \"C\") {order}
         LIMIT $3"
    );
    let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
    let rows = read_all(client, &sql, &[&prefix, &cursor, &limit], |row| {
        Ok(MeterListRow {
            meter: Meter::from_row(row),
            status: row.get("status"),
            customer: row.get::<_, Option<i64>>("customer_no").map(|no| {
                (
                    no,
                    row.get::<_, Option<String>>("customer_name")
                        .unwrap_or_default(),
                )
            }),
        })
    })
    .await?;
    at.page_of(rows, size, async |no| {
        Ok(client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT FROM meter m WHERE {status}
                         AND (m.meter_no COLLATE \"C\") LIKE $1 || '%'
                         AND (m.meter_no COLLATE \"C\") < $2) AS more_before"
                ),
                &[&prefix, no],
            )
            .await?
            .get("more_before"))
    })
    .await
}
