//! Operators: each is a PostgreSQL role (sql/V13), made, enabled, disabled and given roles and
//! passwords only through the database's own functions, which check that the session may. A
//! password is handed over as a SCRAM verifier ([`password_verifier`]), never in clear.

use std::fmt;

use crate::db::CachingClient;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::DbError;
use super::rows::{accepted, from_columns, read_all};
use super::session::password_verifier;

/// An operator to create, with a temporary password (changed at the first sign-in).
#[derive(Clone, Copy)]
pub struct NewOperator<'a> {
    pub login: &'a str,
    pub full_name: &'a str,
    pub department_id: i64,
    pub role_codes: &'a [&'a str],
    pub password: &'a str,
}

impl fmt::Debug for NewOperator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOperator")
            .field("login", &self.login)
            .field("full_name", &self.full_name)
            .field("department_id", &self.department_id)
            .field("role_codes", &self.role_codes)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// The operator a session is signed in as, and what the desk needs of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub operator_id: i64,
    pub login: String,
    pub full_name: String,
    pub department: String,
    pub roles: Vec<String>,
    /// What the groups the operator's role is in may do, e.g. `card.replace`, sorted: the
    /// same table and memberships the database checks (`md_permitted`).
    pub permissions: Vec<String>,
    /// A temporary password, to be changed before anything else.
    pub must_change_password: bool,
    /// Whether the operator's roles serve customers, so that the database lets them read the
    /// customer side (sql/V224's readers, V254's `md_serves_customers()`): an
    /// administration-only role reads no customer, and the desk says why instead of "none".
    pub serves_customers: bool,
}

/// Creates an operator with its PostgreSQL role, groups and temporary password; returns its
/// id. Needs `operator.maintain` (or the owner, at set-up). An unknown role or department, or a
/// login already taken (case-insensitively), is refused by the database.
pub async fn create(
    client: &impl CachingClient,
    operator: &NewOperator<'_>,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT operator_create($1, $2, $3, $4, $5) AS id",
            &[
                &operator.login,
                &operator.full_name,
                &operator.department_id,
                &operator.role_codes,
                &password_verifier(operator.password),
            ],
        )
        .await?
        .get("id"))
}

/// An operator as the administrator's list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    pub id: i64,
    pub login: String,
    pub full_name: String,
    pub department_id: i64,
    pub department: String,
    /// Role codes, sorted.
    pub roles: Vec<String>,
    pub enabled: bool,
    pub must_change_password: bool,
}

/// An operator's roles (sorted) and department, as a list showed them: what their roles'
/// form is filled from, and what a save from it expects to find (`admin::AdminChange::SetRoles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub roles: Vec<String>,
    pub department_id: i64,
}

impl Placed {
    /// Its columns `roles` and `department_id`.
    pub(super) fn from_row(row: &Row) -> Placed {
        from_columns!(row => Placed { roles, department_id })
    }
}

impl OperatorRow {
    /// Its roles and department.
    pub fn placed(&self) -> Placed {
        Placed {
            roles: self.roles.clone(),
            department_id: self.department_id,
        }
    }
}

/// Every operator, by login.
pub async fn list(client: &impl CachingClient) -> Result<Vec<OperatorRow>, DbError> {
    read_all(
        client,
        "SELECT o.id, o.login, o.full_name, o.department_id, d.name AS department, o.enabled,
                o.must_change_password,
                ARRAY(SELECT r.role_code FROM operator_role r
                      WHERE r.operator_id = o.id ORDER BY r.role_code) AS roles
         FROM operator o JOIN department d ON d.id = o.department_id
         ORDER BY lower(o.login)",
        &[],
        |row| {
            Ok(from_columns!(row => OperatorRow {
                id, login, full_name, department_id, department, roles, enabled,
                must_change_password,
            }))
        },
    )
    .await
}

/// [`create`], or None when the login is taken (case-insensitively).
pub async fn create_unless_taken(
    client: &impl CachingClient,
    operator: &NewOperator<'_>,
) -> Result<Option<i64>, DbError> {
    accepted(create(client, operator).await, &SqlState::UNIQUE_VIOLATION)
}

/// Gives an operator exactly these roles (their PostgreSQL groups follow).
pub async fn set_roles(
    client: &impl CachingClient,
    operator_id: i64,
    role_codes: &[&str],
) -> Result<(), tokio_postgres::Error> {
    on_operator(
        client,
        "SELECT operator_set_roles($1, $2)",
        operator_id,
        &role_codes,
    )
    .await
}

/// Moves an operator to another department (sql/V102); the same one again changes nothing.
pub async fn set_department(
    client: &impl CachingClient,
    operator_id: i64,
    department_id: i64,
) -> Result<(), tokio_postgres::Error> {
    on_operator(
        client,
        "SELECT operator_set_department($1, $2)",
        operator_id,
        &department_id,
    )
    .await
}

/// Enables or disables an operator; a disabled one's sessions end at once.
pub async fn set_enabled(
    client: &impl CachingClient,
    operator_id: i64,
    enabled: bool,
) -> Result<(), tokio_postgres::Error> {
    on_operator(
        client,
        "SELECT operator_set_enabled($1, $2)",
        operator_id,
        &enabled,
    )
    .await
}

/// Gives an operator a temporary password.
pub async fn reset_password(
    client: &impl CachingClient,
    operator_id: i64,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    on_operator(
        client,
        "SELECT operator_reset_password($1, $2)",
        operator_id,
        &password_verifier(password),
    )
    .await
}

/// Runs `call`, one of sql/'s `operator_…($1, $2)` functions (they check that the session
/// may), on operator `operator_id` with `value`.
async fn on_operator(
    client: &impl CachingClient,
    call: &str,
    operator_id: i64,
    value: &(dyn ToSql + Sync),
) -> Result<(), tokio_postgres::Error> {
    client.execute(call, &[&operator_id, value]).await?;
    Ok(())
}

/// The signed-in operator's own new password; a temporary one is over.
pub async fn change_own_password(
    client: &impl CachingClient,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT operator_change_own_password($1)",
            &[&password_verifier(password)],
        )
        .await?;
    Ok(())
}

/// Makes an operator's password permanent without a change: only the owner may (the demo's
/// operators, whose passwords are printed once).
pub async fn keep_password(
    client: &impl CachingClient,
    operator_id: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE operator SET must_change_password = false WHERE id = $1",
            &[&operator_id],
        )
        .await?;
    Ok(())
}

/// The id of the department called `name`, created if there is none.
pub async fn department(
    client: &impl CachingClient,
    name: &str,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "INSERT INTO department (name) VALUES ($1)
             ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
             RETURNING id",
            &[&name],
        )
        .await?
        .get("id"))
}

/// A department, with how many operators belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub id: i64,
    pub name: String,
    pub operators: i64,
}

/// Every department, by name.
pub async fn departments(client: &impl CachingClient) -> Result<Vec<Department>, DbError> {
    read_all(
        client,
        "SELECT d.id, d.name,
                (SELECT count(*) FROM operator o WHERE o.department_id = d.id) AS operators
         FROM department d ORDER BY d.name",
        &[],
        |row| Ok(from_columns!(row => Department { id, name, operators })),
    )
    .await
}

/// Adds a department (`id` None) or renames one, with its audit row; None when another has
/// the name. Needs `department.maintain` (the database's guard).
pub async fn save_department(
    client: &impl CachingClient,
    id: Option<i64>,
    name: &str,
) -> Result<Option<()>, DbError> {
    // One statement each: the change and its audit row are written together or not at all.
    let saved =
        match id {
            None => client
                .execute(
                    "WITH saved AS (INSERT INTO department (name) VALUES ($1) RETURNING id, name)
                     INSERT INTO audit_log (action, entity, entity_id, detail)
                     SELECT 'department.add', 'department', id,
                            jsonb_build_object('after', jsonb_build_object('name', name))
                     FROM saved",
                    &[&name],
                )
                .await,
            Some(id) => {
                client
                    .execute(
                        "WITH before AS (SELECT name FROM department WHERE id = $1),
                          saved AS (UPDATE department SET name = $2 WHERE id = $1
                                    RETURNING id, name)
                     INSERT INTO audit_log (action, entity, entity_id, detail)
                     SELECT 'department.rename', 'department', saved.id,
                            jsonb_build_object('before', jsonb_build_object('name', before.name),
                                               'after', jsonb_build_object('name', saved.name))
                     FROM saved, before",
                        &[&id, &name],
                    )
                    .await
            }
        };
    Ok(accepted(saved, &SqlState::UNIQUE_VIOLATION)?.map(|_| ()))
}

/// The operator this connection is signed in as (`session_user`), or None when it is no
/// operator's (the owner, a superuser).
pub async fn signed_in(
    client: &impl CachingClient,
) -> Result<Option<SignedIn>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT o.id, o.login, o.full_name, d.name AS department, o.must_change_password,
                    ARRAY(SELECT r.code FROM role r
                          WHERE pg_has_role(session_user, md_role_name(r.code), 'MEMBER')
                          ORDER BY r.code) AS roles,
                    ARRAY(SELECT DISTINCT rp.permission_code FROM role_permission rp
                          WHERE pg_has_role(session_user, md_role_name(rp.role_code), 'MEMBER')
                          ORDER BY rp.permission_code) AS permissions,
                    md_serves_customers() AS serves_customers
             FROM operator o JOIN department d ON d.id = o.department_id
             WHERE o.db_role = session_user",
            &[],
        )
        .await?;
    Ok(row.map(|row| {
        from_columns!(row => SignedIn {
            operator_id: row.get("id"),
            login, full_name, department, roles, permissions, must_change_password,
            serves_customers,
        })
    }))
}

/// Writes the sign-in to the audit log (the database stamps who and when).
pub async fn record_sign_in(
    client: &impl CachingClient,
    operator_id: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit_log (action, entity, entity_id)
             VALUES ('login.succeeded', 'operator', $1)",
            &[&operator_id],
        )
        .await?;
    Ok(())
}

/// Refuses an operator holding none of `permissions` as the database's guards do ("… may not
/// do this (needs <code>)"), which the desk words: asked first by a write that deletes from a
/// reference table, whose DELETE privilege (sql/V36) would refuse it without naming the
/// permission.
pub async fn require(client: &impl CachingClient, permissions: &[&str]) -> Result<(), DbError> {
    client
        .execute("SELECT md_require(VARIADIC $1::text[])", &[&permissions])
        .await?;
    Ok(())
}

/// Whether this connection's operator may do what `permission` names, by the database's own
/// rule (`md_permitted`): asked by writes that want to refuse with a clear message before the
/// database's guards refuse them anyway.
pub async fn has_permission(
    client: &impl CachingClient,
    permission: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT md_permitted($1) AS permitted", &[&permission])
        .await?
        .get("permitted"))
}
