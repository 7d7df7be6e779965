//! What changes a customer (4.6.2): opening an account, modifying the basic information and
//! transferring to a new owner, each in one transaction with its audit row. The customer
//! table's search and details are read in `customers.rs`.
//!
//! Each write is exactly-once under the idempotency key the app gives it (`applied_write`):
//! the key and the outcome are recorded in the write's transaction, and a request whose key is
//! recorded already writes nothing and answers the recorded outcome. So a request re-sent
//! after a connection lost between the commit and the reply cannot write twice.

use crate::db::CachingClient;
use deadpool_postgres::ClientWrapper as Client;
use rust_decimal::Decimal;
use serde_json::json;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::applied_write::{Outcome, write_once};
use super::card_ops::WATER_OWED;
use super::rows::{from_columns, word};
use crate::domain::customer_number::CustomerNumber;
use crate::domain::customer_rules::{
    AccountKind, BasicInfo, BusinessModel, EnterpriseInfo, Field, Nature, PersonalInfo,
    StatisticalInfo,
};
use crate::domain::money::Money;

/// The customer columns that hold the basic information, in the order of [`Columns::values`].
const BASIC_COLUMNS: &str = "name, address, phone, id_document_no, household_size, email, credit_code, contact_person, remark";

/// [`BASIC_COLUMNS`] set to `$2` … `$10`, in an UPDATE of the customer `$1`.
const SET_BASIC_COLUMNS: &str = "name = $2, address = $3, phone = $4, id_document_no = $5,
     household_size = $6, email = $7, credit_code = $8, contact_person = $9, remark = $10,
     version = version + 1";

/// The basic information as the customer table stores it: `name` is the person, the company or
/// the label; `address` the address or the location; `phone` the mobile or the phone.
#[derive(Debug, Default)]
struct Columns {
    name: String,
    address: String,
    phone: Option<String>,
    id_document_no: Option<String>,
    household_size: Option<i16>,
    email: Option<String>,
    credit_code: Option<String>,
    contact_person: Option<String>,
    remark: Option<String>,
}

impl Columns {
    fn of(info: &BasicInfo) -> Self {
        match info.clone() {
            BasicInfo::Personal(info) => Columns {
                name: info.name,
                address: info.address,
                phone: Some(info.mobile),
                id_document_no: info.id_document_no,
                // 1–99 by the validator.
                household_size: info
                    .household_size
                    .and_then(|size| i16::try_from(size).ok()),
                email: info.email,
                remark: info.remark,
                ..Columns::default()
            },
            BasicInfo::Enterprise(info) => Columns {
                name: info.company_name,
                address: info.address,
                phone: Some(info.phone),
                credit_code: info.registration_no,
                contact_person: Some(info.contact_person),
                remark: info.remark,
                ..Columns::default()
            },
            BasicInfo::Statistical(info) => Columns {
                name: info.label,
                address: info.location,
                remark: info.remark,
                ..Columns::default()
            },
        }
    }

    /// Reads [`BASIC_COLUMNS`] of `row`.
    fn read(row: &Row) -> Self {
        from_columns!(row => Columns {
            name, address, phone, id_document_no, household_size, email, credit_code,
            contact_person, remark,
        })
    }

    /// The values of [`BASIC_COLUMNS`], as statement parameters in that order.
    fn values(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.name,
            &self.address,
            &self.phone,
            &self.id_document_no,
            &self.household_size,
            &self.email,
            &self.credit_code,
            &self.contact_person,
            &self.remark,
        ]
    }

    /// The schema's CHECKs give every nature its required columns; a missing one is reported,
    /// not guessed.
    fn into_info(self, nature: Nature) -> Result<BasicInfo, DbError> {
        let missing =
            |column| DbError::Inconsistent(format!("a {nature} customer without {column}"));
        Ok(match nature {
            Nature::Personal => BasicInfo::Personal(PersonalInfo {
                name: self.name,
                id_document_no: self.id_document_no,
                mobile: self.phone.ok_or_else(|| missing("phone"))?,
                address: self.address,
                household_size: self
                    .household_size
                    .and_then(|size| u32::try_from(size).ok()),
                email: self.email,
                remark: self.remark,
            }),
            Nature::Enterprise => BasicInfo::Enterprise(EnterpriseInfo {
                company_name: self.name,
                registration_no: self.credit_code,
                contact_person: self
                    .contact_person
                    .ok_or_else(|| missing("contact_person"))?,
                phone: self.phone.ok_or_else(|| missing("phone"))?,
                address: self.address,
                remark: self.remark,
            }),
            Nature::Statistical => BasicInfo::Statistical(StatisticalInfo {
                label: self.name,
                location: self.address,
                remark: self.remark,
            }),
        })
    }
}

/// The basic information as `jsonb_object(keys, values)` takes it: field keys and values.
fn as_key_values(
    info: &BasicInfo,
    fields: Option<&[Field]>,
) -> (Vec<&'static str>, Vec<Option<String>>) {
    info.values()
        .into_iter()
        .filter(|(field, _)| fields.is_none_or(|fields| fields.contains(field)))
        .map(|(field, value)| (field.key(), value))
        .unzip()
}

// ───────────────────────────── Applied writes ─────────────────────────────

/// The row lock of a modify or transfer: the rows change, their keys do not. `FOR UPDATE`
/// would also wait for (and deadlock with) a reading or payment whose foreign key to the
/// customer takes `FOR KEY SHARE` while it holds the account (seen in `meterdesk soak`).
const NO_KEY_UPDATE: &str = "FOR NO KEY UPDATE";

/// `applied_write.kind`, also the audit action of the write.
const OPEN: &str = "customer.open";
const MODIFY: &str = "customer.modify";
const TRANSFER: &str = "customer.transfer";

// ───────────────────────────── Open account ─────────────────────────────

/// The three steps of the account opening wizard.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    pub customer_type_id: i64,
    pub info: &'a BasicInfo,
    pub meter_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedAccount {
    pub customer_id: i64,
    pub customer_no: CustomerNumber,
    pub account_id: i64,
    pub account_kind: AccountKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    Opened(OpenedAccount),
    /// Another clerk installed the meter (or it was deleted) since the list was shown: the
    /// wizard stays in step 3 with a fresh list.
    MeterTaken,
    /// The meter's type is not (or no longer) one the customer type allows.
    MeterNotAllowed,
    CustomerTypeGone,
    /// The basic information is of another nature than the customer type's.
    WrongNature {
        nature: Nature,
    },
}

/// Opens an account: in one transaction the meter goes from uninstalled to installed, the
/// customer gets a new number and the basic information, and an account of the business
/// model's kind opens with balance 0.
///
/// Two clerks choosing the same meter: the meter's conditional UPDATE takes its row lock, the
/// second waits for the first to finish, then finds the meter installed and gets
/// [`OpenOutcome::MeterTaken`] (or takes the meter if the first rolled back). Under READ
/// COMMITTED this waits rather than failing with a serialization error, and every opening takes
/// the same locks in the same order (the key, the customer type shared, then the meter), so
/// none deadlock. A key already applied answers the account it opened.
pub async fn open_account(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    opening: &Opening<'_>,
) -> Result<OpenOutcome, DbError> {
    write_once(client, key, OPEN, operator_id, async |transaction| {
        // FOR SHARE: the type can be neither deleted nor changed while customers are opened
        // on it.
        let Some(customer_type) = transaction
            .query_opt(
                "SELECT nature, business_model FROM customer_type WHERE id = $1 FOR SHARE",
                &[&opening.customer_type_id],
            )
            .await?
        else {
            return Ok(OpenOutcome::CustomerTypeGone);
        };
        let nature: Nature = word(&customer_type, "nature")?;
        let business_model: BusinessModel = word(&customer_type, "business_model")?;
        if nature != opening.info.nature() {
            return Ok(OpenOutcome::WrongNature { nature });
        }
        let installed = transaction
            .query_opt(
                "UPDATE meter SET status = 'installed'
                 WHERE id = $1 AND status = 'uninstalled'
                   AND meter_type_id IN (SELECT meter_type_id FROM customer_type_meter_type
                                         WHERE customer_type_id = $2)
                 RETURNING meter_no, meter_type_id",
                &[&opening.meter_id, &opening.customer_type_id],
            )
            .await?;
        let Some(meter) = installed else {
            let allowed: Option<bool> = transaction
                .query_opt(
                    "SELECT meter_type_id IN (SELECT meter_type_id FROM customer_type_meter_type
                                              WHERE customer_type_id = $2) AS allowed
                     FROM meter WHERE id = $1 AND status = 'uninstalled'",
                    &[&opening.meter_id, &opening.customer_type_id],
                )
                .await?
                .map(|row| row.get("allowed"));
            return Ok(match allowed {
                Some(false) => OpenOutcome::MeterNotAllowed,
                _ => OpenOutcome::MeterTaken,
            });
        };
        let meter_no: String = meter.get("meter_no");
        let meter_type_id: i64 = meter.get("meter_type_id");
        let sequence_value: i32 = transaction
            .query_one("SELECT customer_serial_next()::integer AS value", &[])
            .await?
            .get("value");
        let customer_no = u32::try_from(sequence_value)
            .ok()
            .and_then(CustomerNumber::from_sequence_value)
            .ok_or_else(|| {
                DbError::Inconsistent(format!("customer_serial value {sequence_value}"))
            })?;
        let customer_no_value = i64::from(customer_no.value());
        let account_kind = business_model.account_kind();
        let columns = Columns::of(opening.info);
        let row = transaction
            .query_one(
                &format!(
                    "WITH customer AS (
                         INSERT INTO customer (customer_no, customer_type_id, nature,
                                               business_model, meter_id, meter_type_id,
                                               opened_by, {BASIC_COLUMNS})
                         VALUES ($1, $2, $3, $4, $5, $6, $7,
                                 $8, $9, $10, $11, $12, $13, $14, $15, $16)
                         RETURNING id
                     ), account AS (
                         INSERT INTO account (customer_id, kind)
                         SELECT id, $17 FROM customer
                         RETURNING id
                     ), audit AS (
                         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                         SELECT $7, 'customer.open', 'customer', customer.id,
                                jsonb_build_object('customer_no', $1::bigint,
                                                   'customer_type_id', $2::bigint,
                                                   'meter_no', $18::text,
                                                   'account_id', account.id,
                                                   'account_kind', $17::text)
                         FROM customer, account
                     )
                     SELECT customer.id AS customer_id, account.id AS account_id
                     FROM customer, account"
                ),
                &[
                    &[
                        &customer_no_value as &(dyn ToSql + Sync),
                        &opening.customer_type_id,
                        &nature.as_str(),
                        &business_model.as_str(),
                        &opening.meter_id,
                        &meter_type_id,
                        &operator_id,
                    ][..],
                    &columns.values(),
                    &[&account_kind.as_str(), &meter_no],
                ]
                .concat(),
            )
            .await?;
        Ok(OpenOutcome::Opened(OpenedAccount {
            customer_id: row.get("customer_id"),
            customer_no,
            account_id: row.get("account_id"),
            account_kind,
        }))
    })
    .await
}

impl Outcome for OpenOutcome {
    const FIELDS: &str = "(outcome->>'customer_id')::bigint AS customer_id,
        (outcome->>'customer_no')::bigint AS customer_no,
        (outcome->>'account_id')::bigint AS account_id,
        outcome->>'account_kind' AS account_kind";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        let customer_no = u32::try_from(row.get::<_, i64>("customer_no"))
            .ok()
            .and_then(|no| CustomerNumber::try_from(no).ok())
            .ok_or_else(|| DbError::Inconsistent("applied write: customer_no".to_owned()))?;
        Ok(OpenOutcome::Opened(OpenedAccount {
            customer_id: row.get("customer_id"),
            customer_no,
            account_id: row.get("account_id"),
            account_kind: word(row, "account_kind")?,
        }))
    }

    fn to_record(&self) -> Option<serde_json::Value> {
        let OpenOutcome::Opened(opened) = self else {
            return None;
        };
        Some(json!({
            "customer_id": opened.customer_id,
            "customer_no": i64::from(opened.customer_no.value()),
            "account_id": opened.account_id,
            "account_kind": opened.account_kind.as_str(),
        }))
    }
}

// ───────────────────────────── Modify ─────────────────────────────

/// A customer's basic information as read for editing, with the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerBasics {
    pub customer_id: i64,
    pub version: i32,
    /// Closed customers are read-only.
    pub active: bool,
    pub info: BasicInfo,
}

/// The basic information of a customer, to fill the modify form; None if there is no such
/// customer.
pub async fn customer_basics(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<CustomerBasics>, DbError> {
    read_basics(client, customer_id, "").await
}

/// [`customer_basics`], with `lock` (`FOR NO KEY UPDATE` or nothing) appended to the query.
async fn read_basics(
    client: &impl CachingClient,
    customer_id: i64,
    lock: &str,
) -> Result<Option<CustomerBasics>, DbError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT nature, version, status = 'active' AS active, {BASIC_COLUMNS}
                 FROM customer WHERE id = $1 {lock}"
            ),
            &[&customer_id],
        )
        .await?;
    row.map(|row| {
        Ok(CustomerBasics {
            customer_id,
            version: row.get("version"),
            active: row.get("active"),
            info: Columns::read(&row).into_info(word(&row, "nature")?)?,
        })
    })
    .transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModifyOutcome {
    Saved {
        version: i32,
    },
    /// The information is what was read: nothing was written, no version taken.
    Unchanged,
    /// Someone saved the customer since `read`: nothing was written. `changed_fields` are the
    /// fields the other save changed, never none; `current` is what is stored now, to edit
    /// again.
    Conflict {
        changed_fields: Vec<Field>,
        current: CustomerBasics,
    },
    Closed,
    NotFound,
    WrongNature {
        nature: Nature,
    },
    /// Both the holder's name and identifying number change (`BasicInfo::changes_owner`): a
    /// change of owner, which a transfer makes with its owner history; the database refuses it
    /// as a modify (sql/V230, SQLSTATE MD441). Nothing was written. `in_steps`: one of them
    /// now, the other by a modify earlier the same day (sql/V263, SQLSTATE MD442).
    ChangeOfOwner {
        nature: Nature,
        in_steps: bool,
    },
}

/// Saves new basic information if no field changed since `read` (optimistic concurrency:
/// the customer row is locked and compared with what the clerk read; a version that moved
/// without changing a field, as a transfer to an identical owner, overwrites nothing and is
/// no conflict). Writes the changed fields, before and after, to the audit log. Nothing
/// changed: nothing is written. A new name with a new identifying number is refused by the
/// database ([`ModifyOutcome::ChangeOfOwner`]), so is one of them when a modify changed the
/// other earlier the same day. A key already applied answers the version it
/// saved.
pub async fn modify_basic_info(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    read: &CustomerBasics,
    info: &BasicInfo,
) -> Result<ModifyOutcome, DbError> {
    if info.nature() != read.info.nature() {
        return Ok(ModifyOutcome::WrongNature {
            nature: read.info.nature(),
        });
    }
    write_once(client, key, MODIFY, operator_id, async |transaction| {
        if read.info.changed_fields(info).is_empty() {
            return Ok(ModifyOutcome::Unchanged);
        }
        let current = match read_basics(transaction, read.customer_id, NO_KEY_UPDATE).await? {
            None => return Ok(ModifyOutcome::NotFound),
            Some(current) if !current.active => return Ok(ModifyOutcome::Closed),
            Some(current) => current,
        };
        if current.version != read.version {
            let theirs = read.info.changed_fields(&current.info);
            if !theirs.is_empty() {
                return Ok(ModifyOutcome::Conflict {
                    changed_fields: theirs,
                    current,
                });
            }
        }
        let changed = current.info.changed_fields(info);
        let (keys, before) = as_key_values(&current.info, Some(&changed));
        let (_, after) = as_key_values(info, Some(&changed));
        let columns = Columns::of(info);
        let saved = transaction
            .query_one(
                &format!(
                    "WITH saved AS (
                         UPDATE customer SET {SET_BASIC_COLUMNS}
                         WHERE id = $1
                         RETURNING id, version
                     ), audit AS (
                         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                         SELECT $11, 'customer.modify', 'customer', id,
                                jsonb_build_object('version', version,
                                                   'before', jsonb_object($12::text[], $13::text[]),
                                                   'after', jsonb_object($12::text[], $14::text[]))
                         FROM saved
                     )
                     SELECT version FROM saved"
                ),
                &[
                    &[&read.customer_id as &(dyn ToSql + Sync)][..],
                    &columns.values(),
                    &[&operator_id, &keys, &before, &after],
                ]
                .concat(),
            )
            .await;
        match saved {
            Ok(row) => Ok(ModifyOutcome::Saved {
                version: row.get("version"),
            }),
            Err(error) if refused_as(&error, OWNER_CHANGES) => Ok(ModifyOutcome::ChangeOfOwner {
                nature: info.nature(),
                in_steps: false,
            }),
            Err(error) if refused_as(&error, OWNER_CHANGED_IN_STEPS) => {
                Ok(ModifyOutcome::ChangeOfOwner {
                    nature: info.nature(),
                    in_steps: true,
                })
            }
            Err(error) => Err(error.into()),
        }
    })
    .await
}

impl Outcome for ModifyOutcome {
    const FIELDS: &str = "(outcome->>'version')::integer AS version";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        Ok(ModifyOutcome::Saved {
            version: row.get("version"),
        })
    }

    fn to_record(&self) -> Option<serde_json::Value> {
        match self {
            ModifyOutcome::Saved { version } => Some(json!({ "version": version })),
            _ => None,
        }
    }
}

// ───────────────────────────── Transfer ─────────────────────────────

/// What the transfer confirmation shows before the clerk confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferPreview {
    /// Stays with the account, and so with the property.
    pub balance: Decimal,
    pub account_kind: AccountKind,
    /// A transfer is refused while there are any.
    pub unpaid_bills: i64,
    /// What the customer owes for water a meter loaded unpaid (sql/V163; zero: nothing): the
    /// present owner's to pay before a transfer, as the bills are
    /// ([`TransferOutcome::WaterOwed`]).
    pub water_owed: Money,
    /// A card operation of the customer is pending: the transfer waits until it is settled
    /// (sql/V131, [`TransferOutcome::CardOperationPending`]), said before the new owner is typed.
    pub card_operation_pending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    /// `balance` stayed with the account.
    Transferred {
        balance: Decimal,
        version: i32,
    },
    /// A postpaid account has this many unpaid bills: they are the previous owner's to pay.
    UnpaidBills {
        count: i64,
    },
    /// The customer owes `amount` for water a meter loaded unpaid (sql/V163), which the
    /// present owner drew: paid (with the next card recharge) before a transfer, or the new
    /// owner's first recharge would take it (sql/V183, SQLSTATE MD431). Nothing was written.
    WaterOwed {
        amount: Money,
    },
    /// The owner changed since the clerk read them (another desk transferred the customer, or
    /// saved a change of their information): nothing was written. `current` is who is stored
    /// now, the owner a transfer sent again hands over.
    Changed {
        current: CustomerBasics,
    },
    Closed,
    NotFound,
    WrongNature {
        nature: Nature,
    },
    /// A card operation of the customer is pending (its card's write not yet settled): the
    /// customer is transferred once it is settled, so that its money moves for the owner its
    /// begin checked and the balance the confirmation shows is the one that stays (sql/V131,
    /// SQLSTATE MD420). Nothing was written.
    CardOperationPending,
}

/// The balance, unpaid bills and pending card operation a transfer of the customer would meet;
/// None if there is no such customer. One statement: the card operation is asked as
/// `transfer_of` asks it (V1's one pending operation per customer, an index probe).
pub async fn transfer_preview(
    client: &impl CachingClient,
    customer_id: i64,
) -> Result<Option<TransferPreview>, DbError> {
    client
        .query_opt(
            &format!(
                "SELECT a.balance, a.kind,
                    (SELECT count(*) FROM bill b WHERE b.account_id = a.id AND b.status = 'unpaid')
                        AS unpaid_bills,
                    ({WATER_OWED}) AS water_owed,
                    EXISTS (SELECT FROM card_operation o
                            WHERE o.customer_id = a.customer_id AND o.state = 'pending')
                        AS card_operation_pending
             FROM account a WHERE a.customer_id = $1"
            ),
            &[&customer_id],
        )
        .await?
        .map(|row| {
            Ok(TransferPreview {
                balance: row.get("balance"),
                account_kind: word(&row, "kind")?,
                unpaid_bills: row.get("unpaid_bills"),
                water_owed: row.get("water_owed"),
                card_operation_pending: row.get("card_operation_pending"),
            })
        })
        .transpose()
}

/// Transfers the customer to a new owner: the stored basic information goes to the owner
/// history (with the time and operator), `new_owner` replaces it; number, meter, account,
/// balance and card stay. No version is asked for: the history keeps whatever was stored, so
/// nothing is lost, and the version moves, so a clerk still editing the previous owner gets a
/// conflict. A key already applied answers the transfer it made, never a second one.
pub async fn transfer(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    customer_id: i64,
    new_owner: &BasicInfo,
) -> Result<TransferOutcome, DbError> {
    transfer_of(client, operator_id, key, customer_id, None, new_owner).await
}

/// [`transfer`] from the owner the clerk read (`read`, what the screen shows as the present
/// owner): if another desk transferred the customer or changed a field of their information
/// since, nothing is written and the answer is [`TransferOutcome::Changed`] with who is stored
/// now, as the modify form's conflict (a version that moved without changing a field, as a
/// transfer to an identical owner, is no change). Without it, two clerks transferring one
/// customer at once both transferred: the second handed over an owner its clerk never saw.
pub async fn transfer_from(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    read: &CustomerBasics,
    new_owner: &BasicInfo,
) -> Result<TransferOutcome, DbError> {
    let customer_id = read.customer_id;
    transfer_of(client, operator_id, key, customer_id, Some(read), new_owner).await
}

async fn transfer_of(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    customer_id: i64,
    read: Option<&CustomerBasics>,
    new_owner: &BasicInfo,
) -> Result<TransferOutcome, DbError> {
    write_once(client, key, TRANSFER, operator_id, async |transaction| {
        // The account row too: bills and payments on it wait until the transfer is done. The
        // account first, then the customer, as every write of a customer takes them (a close
        // holding the account and waiting for the customer deadlocked with a transfer that took
        // them the other way): the CTE's rows are locked before the join yields the customer's.
        let Some(row) = transaction
            .query_opt(
                &format!(
                    "WITH a AS MATERIALIZED (
                         SELECT id, customer_id, balance FROM account WHERE customer_id = $1
                         FOR NO KEY UPDATE
                     )
                     SELECT c.nature, c.version, c.status = 'active' AS active, a.id AS account_id,
                            a.balance, {BASIC_COLUMNS}
                     FROM customer c JOIN a ON a.customer_id = c.id
                     WHERE c.id = $1
                     FOR NO KEY UPDATE OF c"
                ),
                &[&customer_id],
            )
            .await?
        else {
            return Ok(TransferOutcome::NotFound);
        };
        let nature: Nature = word(&row, "nature")?;
        let account_id: i64 = row.get("account_id");
        let balance: Decimal = row.get("balance");
        if !row.get::<_, bool>("active") {
            return Ok(TransferOutcome::Closed);
        }
        let previous = Columns::read(&row).into_info(nature)?;
        let version: i32 = row.get("version");
        if let Some(read) = read
            && version != read.version
            && !read.info.changed_fields(&previous).is_empty()
        {
            return Ok(TransferOutcome::Changed {
                current: CustomerBasics {
                    customer_id,
                    version,
                    active: true,
                    info: previous,
                },
            });
        }
        if nature != new_owner.nature() {
            return Ok(TransferOutcome::WrongNature { nature });
        }
        // Behind the account's lock: a card operation's begin holds the account while it
        // journals, so one pending now was committed, and no other can begin until this ends.
        // Asked before the customer's row is written: a settle in flight holds the customer
        // (its receipt's key) and waits for the account (sql/V131 refuses it too, for psql).
        let blockers = transaction
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM bill
                             WHERE account_id = a.id AND status = 'unpaid') AS unpaid,
                            ({WATER_OWED}) AS water_owed,
                            EXISTS (SELECT FROM card_operation
                                    WHERE customer_id = a.customer_id AND state = 'pending')
                                AS card_pending
                     FROM account a WHERE a.id = $1"
                ),
                &[&account_id],
            )
            .await?;
        let unpaid: i64 = blockers.get("unpaid");
        if unpaid > 0 {
            return Ok(TransferOutcome::UnpaidBills { count: unpaid });
        }
        let water_owed: Money = blockers.get("water_owed");
        if !water_owed.is_zero() {
            return Ok(TransferOutcome::WaterOwed { amount: water_owed });
        }
        if blockers.get::<_, bool>("card_pending") {
            return Ok(TransferOutcome::CardOperationPending);
        }
        let (keys, previous_values) = as_key_values(&previous, None);
        let (_, new_values) = as_key_values(new_owner, None);
        let columns = Columns::of(new_owner);
        // The owner history's row refuses a customer whose card operation is pending
        // (sql/V131, MD420), asked in this statement behind the account taken above.
        let saved = transaction
            .query_one(
                &format!(
                    "WITH history AS (
                         INSERT INTO customer_owner_history (customer_id, previous_owner,
                                                             transferred_by)
                         VALUES ($1, jsonb_object($11::text[], $12::text[]), $13)
                         RETURNING id
                     ), saved AS (
                         UPDATE customer SET {SET_BASIC_COLUMNS}
                         WHERE id = $1
                         RETURNING version
                     ), audit AS (
                         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                         SELECT $13, 'customer.transfer', 'customer', $1,
                                jsonb_build_object('history_id', history.id,
                                                   'new_owner', jsonb_object($11::text[], $14::text[]),
                                                   'balance', $15::numeric)
                         FROM history
                     )
                     SELECT version FROM saved"
                ),
                &[
                    &[&customer_id as &(dyn ToSql + Sync)][..],
                    &columns.values(),
                    &[
                        &keys,
                        &previous_values,
                        &operator_id,
                        &new_values,
                        &balance,
                    ],
                ]
                .concat(),
            )
            .await;
        let version: i32 = match saved {
            Ok(row) => row.get("version"),
            Err(error) if refused_as(&error, CARD_OPERATION_PENDING) => {
                return Ok(TransferOutcome::CardOperationPending);
            }
            Err(error) => return Err(error.into()),
        };
        Ok(TransferOutcome::Transferred { balance, version })
    })
    .await
}

/// The owner history's refusal of a customer whose card operation is pending (sql/V131).
const CARD_OPERATION_PENDING: &str = "MD420";

/// The customer's refusal of a modify that changes the owner (sql/V230).
const OWNER_CHANGES: &str = "MD441";

/// Its refusal of a modify that changes the other of name and number one changed today
/// (sql/V263).
const OWNER_CHANGED_IN_STEPS: &str = "MD442";

/// Whether `error` is the database's refusal with SQLSTATE `code`.
fn refused_as(error: &tokio_postgres::Error, code: &str) -> bool {
    error
        .as_db_error()
        .is_some_and(|server| server.code().code() == code)
}

impl Outcome for TransferOutcome {
    const FIELDS: &str =
        "(outcome->>'balance')::numeric AS balance, (outcome->>'version')::integer AS version";

    fn read_back(row: &Row) -> Result<Self, DbError> {
        Ok(TransferOutcome::Transferred {
            balance: row.get("balance"),
            version: row.get("version"),
        })
    }

    fn to_record(&self) -> Option<serde_json::Value> {
        match self {
            TransferOutcome::Transferred { balance, version } => {
                Some(json!({ "balance": balance.to_string(), "version": version }))
            }
            _ => None,
        }
    }
}

/// Another customer holding an identity number (`id_elsewhere`): their number and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdHolder {
    pub customer_no: i64,
    pub name: String,
}

/// How many other holders of one identity number the desk names (`id_elsewhere`).
pub const ID_HOLDERS_NAMED: i64 = 3;

/// The customers other than `except` whose identity number is `id_document_no` (as the desk
/// stores it), the first [`ID_HOLDERS_NAMED`] by number: domain.md lets one person hold
/// several premises, so it is said, not refused. Read as the signed-in operator, through the
/// grants their roles have (sql/V152's index makes it one probe).
pub async fn id_elsewhere(
    client: &impl CachingClient,
    id_document_no: &str,
    except: Option<i64>,
) -> Result<Vec<IdHolder>, DbError> {
    let rows = client
        .query(
            "SELECT customer_no, name FROM customer
             WHERE id_document_no = $1 AND id IS DISTINCT FROM $2
             ORDER BY customer_no LIMIT $3",
            &[&id_document_no, &except, &ID_HOLDERS_NAMED],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| IdHolder {
            customer_no: row.get("customer_no"),
            name: row.get("name"),
        })
        .collect())
}
