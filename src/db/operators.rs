//! Operators: creation and what the login screen needs. Every function is one SQL statement
//! (data-modifying CTEs), so each change and its audit row commit together even on a plain
//! client outside a transaction.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

/// An operator to create. The password is already hashed (`domain::password::hash_password`,
/// which is CPU-heavy and belongs on a blocking thread).
#[derive(Debug, Clone, Copy)]
pub struct NewOperator<'a> {
    pub login: &'a str,
    pub full_name: &'a str,
    pub department_id: i64,
    pub role_codes: &'a [&'a str],
    pub password_hash: &'a str,
}

/// Everything the login screen needs to decide and to set up the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOperator {
    pub id: i64,
    pub login: String,
    pub full_name: String,
    pub department: String,
    pub roles: Vec<String>,
    /// The union of the roles' permissions, e.g. `card.replace`, sorted.
    pub permissions: Vec<String>,
    pub password_hash: String,
    pub enabled: bool,
    /// Consecutive failed logins; feeds `domain::login::delay_after`.
    pub failed_logins: u32,
    pub last_failed_login_at: Option<DateTime<Utc>>,
}

/// Creates an operator with its roles and returns its id. `created_by` is the administrator
/// doing it (None when the system does, e.g. the demo data or the first install).
/// An unknown role or department, or a login already taken (case-insensitively), is refused by
/// the database.
pub async fn create(
    client: &impl GenericClient,
    operator: &NewOperator<'_>,
    created_by: Option<i64>,
) -> Result<i64, tokio_postgres::Error> {
    let row = client
        .query_one(
            "WITH created AS (
                 INSERT INTO operator (login, full_name, department_id, password_hash)
                 VALUES ($1, $2, $3, $4)
                 RETURNING id
             ), roles AS (
                 INSERT INTO operator_role (operator_id, role_code)
                 SELECT created.id, role_code FROM created, unnest($5::text[]) AS role_code
             ), audit AS (
                 INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 SELECT $6, 'operator.create', 'operator', created.id,
                        jsonb_build_object('login', $1::text, 'department_id', $3::bigint,
                                           'roles', $5::text[])
                 FROM created
             )
             SELECT id FROM created",
            &[
                &operator.login,
                &operator.full_name,
                &operator.department_id,
                &operator.password_hash,
                &operator.role_codes,
                &created_by,
            ],
        )
        .await?;
    Ok(row.get("id"))
}

/// Disables an operator: it can no longer sign in. `by` is who does it (None: the system).
pub async fn disable(
    client: &impl GenericClient,
    operator_id: i64,
    by: Option<i64>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "WITH disabled AS (
                 UPDATE operator SET enabled = false WHERE id = $1 RETURNING id
             )
             INSERT INTO audit_log (operator_id, action, entity, entity_id)
             SELECT $2, 'operator.disable', 'operator', id FROM disabled",
            &[&operator_id, &by],
        )
        .await?;
    Ok(())
}

/// The id of the department called `name`, created if there is none.
pub async fn department(
    client: &impl GenericClient,
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

/// The operator signing in as `login` (case-insensitive), or None if there is no such operator.
pub async fn find_for_login(
    client: &impl GenericClient,
    login: &str,
) -> Result<Option<LoginOperator>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "SELECT o.id, o.login, o.full_name, d.name AS department, o.password_hash,
                        o.enabled, o.failed_logins, o.last_failed_login_at,
                        ARRAY(SELECT role_code FROM operator_role
                              WHERE operator_id = o.id ORDER BY role_code) AS roles,
                        ARRAY(SELECT DISTINCT permission_code FROM ({GRANTED}) AS granted
                              ORDER BY permission_code) AS permissions
                 FROM operator o JOIN department d ON d.id = o.department_id
                 WHERE lower(o.login) = lower($1)"
            ),
            &[&login],
        )
        .await?;
    Ok(row.map(|row| LoginOperator {
        id: row.get("id"),
        login: row.get("login"),
        full_name: row.get("full_name"),
        department: row.get("department"),
        password_hash: row.get("password_hash"),
        enabled: row.get("enabled"),
        failed_logins: count_from_db(row.get("failed_logins")),
        last_failed_login_at: row.get("last_failed_login_at"),
        roles: row.get("roles"),
        permissions: row.get("permissions"),
    }))
}

/// Records a failed login for the name typed and returns the operator's new count of consecutive
/// failures, or None when no operator has that name (the attempt is still audited).
pub async fn record_failed_login(
    client: &impl GenericClient,
    login: &str,
) -> Result<Option<u32>, tokio_postgres::Error> {
    let row = client
        .query_one(
            "WITH bumped AS (
                 UPDATE operator
                 SET failed_logins = failed_logins + 1, last_failed_login_at = now()
                 WHERE lower(login) = lower($1)
                 RETURNING id, failed_logins
             ), audit AS (
                 INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 SELECT bumped.id, 'login.failed', 'operator', bumped.id,
                        jsonb_build_object('login', $1::text, 'failed_logins', bumped.failed_logins)
                 FROM (SELECT 1) AS always LEFT JOIN bumped ON true
             )
             SELECT (SELECT failed_logins FROM bumped) AS failed_logins",
            &[&login],
        )
        .await?;
    Ok(row
        .get::<_, Option<i32>>("failed_logins")
        .map(count_from_db))
}

/// Records a successful login: the failure count starts again from zero.
pub async fn record_successful_login(
    client: &impl GenericClient,
    operator_id: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "WITH reset AS (
                 UPDATE operator SET failed_logins = 0 WHERE id = $1 RETURNING id
             )
             INSERT INTO audit_log (operator_id, action, entity, entity_id)
             SELECT id, 'login.succeeded', 'operator', id FROM reset",
            &[&operator_id],
        )
        .await?;
    Ok(())
}

/// The column has `CHECK (failed_logins >= 0)`, so the conversion cannot fail.
fn count_from_db(count: i32) -> u32 {
    u32::try_from(count).unwrap_or(0)
}

/// The permissions the roles of operator `o` grant (sql/V2's `role_permission`), one row each
/// (`permission_code`): the one place that says how an operator's permissions are found.
const GRANTED: &str = "SELECT p.permission_code
     FROM operator_role r JOIN role_permission p ON p.role_code = r.role_code
     WHERE r.operator_id = o.id";

/// Whether an enabled operator holds `permission` through one of their roles: what every
/// write checks in its own transaction (reference data, card operations, settling).
pub async fn has_permission(
    client: &impl GenericClient,
    operator_id: i64,
    permission: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT FROM operator o
                                WHERE o.id = $1 AND o.enabled
                                  AND $2 IN ({GRANTED})) AS permitted"
            ),
            &[&operator_id, &permission],
        )
        .await?
        .get("permitted"))
}
