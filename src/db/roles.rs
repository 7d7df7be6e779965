//! Roles and what they may do (`role_permission`): the one table the client's messages and the
//! database's checks (`md_permitted`) both read. Changing it needs `role.maintain`, checked by
//! the database's guard on the table (sql/V13).

use crate::db::{CachingClient, Transaction};
use deadpool_postgres::ClientWrapper as Client;
use tokio_postgres::error::SqlState;

use super::DbError;
use super::operators::require;
use super::rows::{accepted, from_columns, read_all};

/// A role with its permissions and how many operators have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub code: String,
    pub name: String,
    /// Permission codes, sorted.
    pub permissions: Vec<String>,
    pub operators: i64,
}

/// A permission a role can be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub code: String,
    pub description: String,
}

/// Every role, by code.
pub async fn roles(client: &impl CachingClient) -> Result<Vec<RoleRow>, DbError> {
    read_all(
        client,
        "SELECT r.code, r.name,
                ARRAY(SELECT rp.permission_code FROM role_permission rp
                      WHERE rp.role_code = r.code ORDER BY 1) AS permissions,
                (SELECT count(*) FROM operator_role o WHERE o.role_code = r.code) AS operators
         FROM role r ORDER BY r.code",
        &[],
        |row| Ok(from_columns!(row => RoleRow { code, name, permissions, operators })),
    )
    .await
}

/// Every permission, by code.
pub async fn permissions(client: &impl CachingClient) -> Result<Vec<Permission>, DbError> {
    read_all(
        client,
        "SELECT code, description FROM permission ORDER BY code",
        &[],
        |row| {
            Ok(Permission {
                code: row.get("code"),
                description: row.get("description"),
            })
        },
    )
    .await
}

/// Gives role `code` exactly `permissions`, with an audit row saying what it had before, in
/// one transaction; None (nothing changed) when that would leave no enabled operator able to
/// maintain operators or roles (sql/V15).
pub async fn set_permissions(
    client: &mut Client,
    code: &str,
    permissions: &[String],
) -> Result<Option<()>, DbError> {
    let transaction = Transaction::new(client);
    if set_permissions_in(&transaction, code, permissions)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    transaction.commit().await?;
    Ok(Some(()))
}

/// [`set_permissions`] in `transaction`, which the caller commits (or rolls back on None).
pub(super) async fn set_permissions_in(
    transaction: &Transaction<'_>,
    code: &str,
    permissions: &[String],
) -> Result<Option<()>, DbError> {
    require(transaction, &["role.maintain"]).await?;
    let before: Vec<String> = transaction
        .query_one(
            "SELECT ARRAY(SELECT permission_code FROM role_permission
                          WHERE role_code = $1 ORDER BY 1) AS permissions",
            &[&code],
        )
        .await?
        .get("permissions");
    let taken = transaction
        .execute(
            "DELETE FROM role_permission
             WHERE role_code = $1 AND permission_code <> ALL ($2)",
            &[&code, &permissions],
        )
        .await;
    if accepted(taken, &SqlState::CHECK_VIOLATION)?.is_none() {
        return Ok(None);
    }
    transaction
        .execute(
            "INSERT INTO role_permission (role_code, permission_code)
             SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
            &[&code, &permissions],
        )
        .await?;
    transaction
        .execute(
            "INSERT INTO audit_log (action, entity, detail)
             VALUES ('role.set_permissions', 'role',
                     jsonb_build_object('role', $1::text,
                                        'before', jsonb_build_object('permissions', $2::text[]),
                                        'after', jsonb_build_object('permissions', $3::text[])))",
            &[&code, &before, &permissions],
        )
        .await?;
    Ok(Some(()))
}
