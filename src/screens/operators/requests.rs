//! The operators screen's requests and replies: the list (with the departments and roles its
//! forms choose from) and the changes, each one of the database's `operator_*` functions run
//! as the signed-in administrator (`db::operators`).

use tokio_postgres::error::SqlState;

use super::shown_once::PasswordShown;
use crate::app::Screen;
use crate::app::state::Failure;
use crate::db::operators::{self, Department, NewOperator, OperatorRow};
use crate::db::roles::{self, RoleRow};
use crate::domain::password::Secret;
use crate::i18n::Lang;
use crate::screens::reference::requests::{ChangeAnswer, Db, RefWork, Says, keyed};
use crate::ui::inert::inert;

/// What the operators screen asks of the database. A temporary password travels in the
/// request (sent again as it was after a lost connection) and never shows in its `Debug`.
#[derive(Debug, Clone, PartialEq)]
pub enum OperatorRequest {
    List,
    Create {
        idempotency_key: String,
        login: String,
        full_name: String,
        department_id: i64,
        roles: Vec<String>,
        password: Secret,
    },
    SetEnabled {
        idempotency_key: String,
        id: i64,
        login: String,
        enabled: bool,
    },
    ResetPassword {
        idempotency_key: String,
        id: i64,
        login: String,
        password: Secret,
    },
    /// The roles and the department (sql/V102) of the operator `id`.
    SetRoles {
        idempotency_key: String,
        id: i64,
        login: String,
        roles: Vec<String>,
        department_id: i64,
    },
}

/// The operators, and what an operator's form chooses from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperatorListing {
    pub operators: Vec<OperatorRow>,
    pub departments: Vec<Department>,
    pub roles: Vec<RoleRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OperatorReply {
    Listed(OperatorListing),
    Done,
    LoginTaken,
    /// The database refused what an administrator may not do to themselves (sql/V15).
    NotToYourself,
}

impl RefWork for OperatorRequest {
    type Reply = OperatorReply;

    const PERMISSION: &'static str = "operator.maintain";

    keyed!(OperatorRequest, reads: [List], writes: [Create, SetEnabled, ResetPassword, SetRoles]);

    async fn run(&self, db: Db<'_>) -> Result<OperatorReply, Failure> {
        let client = &*db.client;
        let refused_for_self = |result: Result<(), tokio_postgres::Error>| match result {
            Ok(()) => Ok(OperatorReply::Done),
            Err(error) if error.code() == Some(&SqlState::CHECK_VIOLATION) => {
                Ok(OperatorReply::NotToYourself)
            }
            Err(error) => Err(Failure::from(error)),
        };
        match self {
            OperatorRequest::List => Ok(OperatorReply::Listed(OperatorListing {
                operators: operators::list(client).await?,
                departments: operators::departments(client).await?,
                roles: roles::roles(client).await?,
            })),
            OperatorRequest::Create {
                login,
                full_name,
                department_id,
                roles,
                password,
                ..
            } => {
                let role_codes: Vec<&str> = roles.iter().map(String::as_str).collect();
                let operator = NewOperator {
                    login,
                    full_name,
                    department_id: *department_id,
                    role_codes: &role_codes,
                    password: password.as_str(),
                };
                if operators::create_unless_taken(client, &operator)
                    .await?
                    .is_some()
                {
                    return Ok(OperatorReply::Done);
                }
                // Sent again after a lost connection, the first attempt may have committed:
                // then the login is ours, and its password is the one in this request.
                Ok(
                    if db.sessions.password_is(login, password.as_str()).await? {
                        OperatorReply::Done
                    } else {
                        OperatorReply::LoginTaken
                    },
                )
            }
            OperatorRequest::SetEnabled { id, enabled, .. } => {
                refused_for_self(operators::set_enabled(client, *id, *enabled).await)
            }
            OperatorRequest::ResetPassword { id, password, .. } => {
                operators::reset_password(client, *id, password.as_str()).await?;
                Ok(OperatorReply::Done)
            }
            OperatorRequest::SetRoles {
                id,
                roles,
                department_id,
                ..
            } => {
                // The department first: it refuses nothing an administrator's own roles are
                // refused, and both are the same again when sent again.
                operators::set_department(client, *id, *department_id).await?;
                let role_codes: Vec<&str> = roles.iter().map(String::as_str).collect();
                refused_for_self(operators::set_roles(client, *id, &role_codes).await)
            }
        }
    }

    fn told(&self, reply: &OperatorReply, lang: Lang) -> Option<ChangeAnswer> {
        let says = Says { lang };
        let done = |key: &str, login: &str| Ok(lang.tf(key, &[("login", &inert(login))]));
        Some(match (self, reply) {
            (OperatorRequest::List, _) | (_, OperatorReply::Listed(_)) => return None,
            (_, OperatorReply::LoginTaken) => {
                says.on("operators.f_login", lang.t("operators.login_taken").into())
            }
            (_, OperatorReply::NotToYourself) => says.said(lang.t("operators.not_yourself").into()),
            (OperatorRequest::Create { login, .. }, OperatorReply::Done) => {
                done("operators.created", login)
            }
            (OperatorRequest::SetEnabled { login, enabled, .. }, OperatorReply::Done) => {
                let key = if *enabled {
                    "operators.enabled_done"
                } else {
                    "operators.disabled_done"
                };
                done(key, login)
            }
            (OperatorRequest::ResetPassword { login, .. }, OperatorReply::Done) => {
                done("operators.reset_done", login)
            }
            (OperatorRequest::SetRoles { login, .. }, OperatorReply::Done) => {
                done("operators.roles_done", login)
            }
        })
    }

    fn changes_permissions(&self) -> bool {
        matches!(self, OperatorRequest::SetRoles { .. })
    }

    /// A new or reset temporary password is shown once, when the database has it.
    fn shown_after(&self, reply: &OperatorReply) -> Option<Box<dyn Screen>> {
        match (self, reply) {
            (
                OperatorRequest::Create {
                    login, password, ..
                }
                | OperatorRequest::ResetPassword {
                    login, password, ..
                },
                OperatorReply::Done,
            ) => Some(Box::new(PasswordShown::new(login, password.clone()))),
            _ => None,
        }
    }
}
