//! Executes a `Request` against the database and the card reader and answers with a `Reply`
//! or a `Failure`. Runs on tokio tasks, never on the UI task; CPU-heavy steps go to
//! `spawn_blocking`, card I/O to the reader thread (awaited).

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;

use super::accounts::METER_PAGE;
use super::card_requests;
pub use super::card_requests::{ReceiptOutput, Services};
use super::state::{Failure, LoginRefusal, Problem, Reply, Request, Session};
use crate::db::customer_changes::{self, Opening};
use crate::db::{DbError, Pool, customer_types, customers, meters, operators, overview};
use crate::domain::login::delay_after;
use crate::domain::password::{generate_password, hash_password, verify_password};

impl From<DbError> for Failure {
    fn from(err: DbError) -> Failure {
        if err.is_connection_lost() {
            Failure::Unreachable(err.to_string())
        } else {
            Failure::Error(Problem::new("failure.database", err))
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(err: tokio_postgres::Error) -> Failure {
        DbError::from(err).into()
    }
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(err: deadpool_postgres::PoolError) -> Failure {
        DbError::from(err).into()
    }
}

/// Reports a long request's progress: `done` of `total`. The runner turns each report into a
/// `Msg::Progress` on the one queue.
pub type Progress<'a> = dyn Fn(u64, u64) + Send + Sync + 'a;

pub async fn execute(services: &Services, request: Request) -> Result<Reply, Failure> {
    execute_reporting(services, request, &|_, _| {}).await
}

/// [`execute`], with a long request reporting its progress through `progress`.
pub async fn execute_reporting(
    services: &Services,
    request: Request,
    progress: &Progress<'_>,
) -> Result<Reply, Failure> {
    let pool = &services.pool;
    match request {
        Request::Ref(operator_id, request) => {
            super::ref_requests::execute(pool, operator_id, request, progress)
                .await
                .map(Reply::Ref)
        }
        Request::Login { login, password } => sign_in(pool, &login, password).await,
        Request::Overview => {
            let client = pool.get().await?;
            Ok(Reply::Overview(overview::today(&**client).await?))
        }
        Request::Customers {
            search, at, size, ..
        } => {
            let page = customers::page_from_pool(pool, &search, &at, size).await?;
            Ok(Reply::Customers(page))
        }
        Request::CustomerTypes => {
            let client = pool.get().await?;
            let types = customer_types::customer_type_options(&**client).await?;
            Ok(Reply::CustomerTypes(types))
        }
        Request::UninstalledMeters {
            meter_type_ids,
            prefix,
            after,
            ..
        } => {
            let client = pool.get().await?;
            let limit = METER_PAGE as i64 + 1;
            let page = meters::uninstalled_meters(
                &**client,
                &meter_type_ids,
                &prefix,
                after.as_deref(),
                limit,
            )
            .await?;
            Ok(Reply::Meters(page))
        }
        Request::OpenAccount {
            operator_id,
            idempotency_key,
            customer_type_id,
            info,
            meter_id,
        } => {
            let mut client = pool.get().await?;
            let opening = Opening {
                customer_type_id,
                info: &info,
                meter_id,
            };
            let outcome = customer_changes::open_account(
                &mut client,
                operator_id,
                &idempotency_key,
                &opening,
            )
            .await?;
            Ok(Reply::Opened(outcome))
        }
        Request::CustomerBasics { customer_id } => {
            let client = pool.get().await?;
            let basics = customer_changes::customer_basics(&**client, customer_id).await?;
            Ok(Reply::Basics(basics))
        }
        Request::Modify {
            operator_id,
            idempotency_key,
            read,
            info,
        } => {
            let mut client = pool.get().await?;
            let outcome = customer_changes::modify_basic_info(
                &mut client,
                operator_id,
                &idempotency_key,
                &read,
                &info,
            )
            .await?;
            Ok(Reply::Modified(outcome))
        }
        Request::TransferPreview { customer_id } => {
            let client = pool.get().await?;
            let preview = customer_changes::transfer_preview(&**client, customer_id).await?;
            Ok(Reply::TransferPreview(preview))
        }
        Request::Transfer {
            operator_id,
            idempotency_key,
            customer_id,
            info,
        } => {
            let mut client = pool.get().await?;
            let outcome = customer_changes::transfer(
                &mut client,
                operator_id,
                &idempotency_key,
                customer_id,
                &info,
            )
            .await?;
            Ok(Reply::Transferred(outcome))
        }
        Request::Details { customer_id } => {
            let client = pool.get().await?;
            let details = customers::details(&**client, customer_id).await?;
            Ok(Reply::Details(details.map(Box::new)))
        }
        Request::Card(request) => card_requests::execute(services, request)
            .await
            .map(Reply::Card),
    }
}

/// Checks a password off the UI task; `None` for the hash means "no such operator", which
/// is checked against a throw-away hash so an unknown name costs as much time as a wrong
/// password and names cannot be probed by timing.
async fn password_matches(password: String, hash: Option<String>) -> Result<bool, Failure> {
    static NO_SUCH_OPERATOR: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            let stand_in = NO_SUCH_OPERATOR.get_or_init(|| hash_password(&generate_password()));
            // Spend the time; the answer is no either way.
            verify_password(&password, stand_in);
            false
        }
    })
    .await
    .map_err(|err| Failure::Error(Problem::new("failure.password_check", err)))
}

async fn sign_in(pool: &Pool, login: &str, password: String) -> Result<Reply, Failure> {
    let client = pool.get().await?;
    let Some(operator) = operators::find_for_login(&**client, login).await? else {
        password_matches(password, None).await?;
        operators::record_failed_login(&**client, login).await?;
        return Ok(Reply::LoginRefused(LoginRefusal::WrongCredentials));
    };
    let since_failure = operator
        .last_failed_login_at
        .map(|at| (Utc::now() - at).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(Duration::MAX);
    let wait = delay_after(operator.failed_logins).saturating_sub(since_failure);
    if !wait.is_zero() {
        return Ok(Reply::LoginRefused(LoginRefusal::Wait(wait)));
    }
    if !password_matches(password, Some(operator.password_hash.clone())).await? {
        operators::record_failed_login(&**client, login).await?;
        return Ok(Reply::LoginRefused(LoginRefusal::WrongCredentials));
    }
    if !operator.enabled {
        return Ok(Reply::LoginRefused(LoginRefusal::Disabled));
    }
    operators::record_successful_login(&**client, operator.id).await?;
    Ok(Reply::LoggedIn(Session {
        operator_id: operator.id,
        login: operator.login,
        full_name: operator.full_name,
        department: operator.department,
        roles: operator.roles,
        permissions: operator.permissions,
    }))
}
