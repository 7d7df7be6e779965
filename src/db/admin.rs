//! An administrator's changes (operators, departments, a role's permissions) applied exactly
//! once (`write_once`, sql/V101), as the customer and reference-data writes are: sent again
//! after a connection lost past the commit, a change answers Done and writes nothing more.

use crate::db::Transaction;
use deadpool_postgres::ClientWrapper as Client;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::applied_write::{outcome_done, write_once};
use super::operators::{
    NewOperator, Placed, create_unless_taken, reset_password, save_department, set_department,
    set_enabled, set_roles,
};
use super::roles::set_permissions_in;
use super::rows::{accepted, as_read, read_opt};

/// An administrator's change, as the operators, departments and roles screens send it.
#[derive(Debug, Clone, Copy)]
pub enum AdminChange<'a> {
    Create(NewOperator<'a>),
    SetEnabled {
        id: i64,
        enabled: bool,
    },
    ResetPassword {
        id: i64,
        password: &'a str,
    },
    /// The operator's roles and department (sql/V102), the same again writing nothing; its
    /// form filled from `read` (as the list showed them): changed by another desk since, it is
    /// `Changed`.
    SetRoles {
        id: i64,
        read: &'a Placed,
        role_codes: &'a [&'a str],
        department_id: i64,
    },
    /// A department added (`renaming` None) or renamed: `renaming` is its id and the name
    /// its list showed; renamed by another desk since, it is `Changed`.
    Department {
        renaming: Option<(i64, &'a str)>,
        name: &'a str,
    },
    /// Role `code`'s permissions, its form filled from `read` (sorted, as the list shows
    /// them); changed by another desk since, it is `Changed`.
    RolePermissions {
        code: &'a str,
        read: &'a [String],
        permissions: &'a [String],
    },
}

impl AdminChange<'_> {
    /// Its kind in `applied_write`: the audit action it writes (sql/V101).
    fn kind(&self) -> &'static str {
        match self {
            AdminChange::Create(_) => "operator.create",
            AdminChange::SetEnabled { enabled: true, .. } => "operator.enable",
            AdminChange::SetEnabled { enabled: false, .. } => "operator.disable",
            AdminChange::ResetPassword { .. } => "operator.reset_password",
            AdminChange::SetRoles { .. } => "operator.set_roles",
            AdminChange::Department { renaming: None, .. } => "department.add",
            AdminChange::Department {
                renaming: Some(_), ..
            } => "department.rename",
            AdminChange::RolePermissions { .. } => "role.set_permissions",
        }
    }
}

/// What an administrator's change answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Done,
    /// The login or the department's name is another's (case-insensitively).
    Taken,
    /// What an administrator may not do to themselves (sql/V15).
    NotToYourself,
    /// The role's permissions would leave nobody able to maintain operators or roles.
    KeepsAdministration,
    /// Saved by another desk since its form was read: nothing saved (`db::rows::as_read`).
    Changed,
}

outcome_done!(AdminOutcome::Done);

/// Applies `change` once under `key` (`write_once`, sql/V101): sent again after a connection
/// lost past its commit, it changes nothing and answers Done, instead of a second audit row
/// (a reset, a disabling, a role's permissions) or "taken" for the department just added.
pub async fn change_once(
    client: &mut Client,
    operator_id: i64,
    key: &str,
    change: AdminChange<'_>,
) -> Result<AdminOutcome, DbError> {
    let refused_for_self = |result: Result<(), tokio_postgres::Error>| {
        Ok(match accepted(result, &SqlState::CHECK_VIOLATION)? {
            Some(()) => AdminOutcome::Done,
            None => AdminOutcome::NotToYourself,
        })
    };
    let done_unless = |saved: Option<()>, refused: AdminOutcome| match saved {
        Some(()) => AdminOutcome::Done,
        None => refused,
    };
    write_once(
        client,
        key,
        change.kind(),
        operator_id,
        async |transaction: &Transaction<'_>| match change {
            AdminChange::Create(operator) => Ok(done_unless(
                create_unless_taken(transaction, &operator).await?.map(drop),
                AdminOutcome::Taken,
            )),
            AdminChange::SetEnabled { id, enabled } => {
                refused_for_self(set_enabled(transaction, id, enabled).await)
            }
            AdminChange::ResetPassword { id, password } => {
                reset_password(transaction, id, password).await?;
                Ok(AdminOutcome::Done)
            }
            AdminChange::SetRoles {
                id,
                read,
                role_codes,
                department_id,
            } => {
                // Locked by the database (sql/V276): an administrator may not lock the row.
                let locked = "SELECT department_id, roles FROM operator_placed_for_save($1)";
                if let Err(changed) =
                    still(transaction, locked, &id, read, Placed::from_row).await?
                {
                    return Ok(changed);
                }
                // The department first: it refuses nothing an administrator's own roles are
                // refused.
                set_department(transaction, id, department_id).await?;
                refused_for_self(set_roles(transaction, id, role_codes).await)
            }
            AdminChange::Department { renaming, name } => {
                if let Some((id, read)) = renaming {
                    let locked = "SELECT name AS now FROM department WHERE id = $1 FOR UPDATE";
                    let now = |row: &Row| row.get("now");
                    if let Err(changed) =
                        still(transaction, locked, &id, &read.to_owned(), now).await?
                    {
                        return Ok(changed);
                    }
                }
                Ok(done_unless(
                    save_department(transaction, renaming.map(|(id, _)| id), name).await?,
                    AdminOutcome::Taken,
                ))
            }
            AdminChange::RolePermissions {
                code,
                read,
                permissions,
            } => {
                let locked = "SELECT ARRAY(SELECT permission_code FROM role_permission
                                           WHERE role_code = r.code ORDER BY 1) AS now
                              FROM role r WHERE r.code = $1 FOR UPDATE";
                let now = |row: &Row| row.get("now");
                if let Err(changed) = still(transaction, locked, &code, &read.to_vec(), now).await?
                {
                    return Ok(changed);
                }
                Ok(done_unless(
                    set_permissions_in(transaction, code, permissions).await?,
                    AdminOutcome::KeepsAdministration,
                ))
            }
        },
    )
    .await
}

/// Whether the row `locked` reads (by the key `$1`, locking the row until the change commits),
/// as `now` takes it from its columns, is still `read`, what the administrator's list or form
/// showed (`db::rows::as_read`); else `Changed`.
async fn still<K, T>(
    transaction: &Transaction<'_>,
    locked: &str,
    key: &K,
    read: &T,
    now: impl FnOnce(&Row) -> T,
) -> Result<Result<(), AdminOutcome>, DbError>
where
    K: ToSql + Sync,
    T: PartialEq,
{
    let key = [key as &(dyn ToSql + Sync)];
    let now = read_opt(transaction, locked, &key, |row| Ok(now(row)));
    as_read(now, read, AdminOutcome::Changed).await
}
