//! The operators screen's requests and replies: the list (with the departments and roles its
//! forms choose from) and the changes, each one of the database's `operator_*` functions run
//! as the signed-in administrator (`db::operators`).

use super::shown_once::PasswordShown;
use crate::app::Screen;
use crate::app::state::Failure;
use crate::db::admin::{self, AdminChange, AdminOutcome};
use crate::db::operators::{self, Department, NewOperator, OperatorRow, Placed};
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
    /// The roles and the department (sql/V102) of the operator `id`, its form filled from
    /// `read` (as the list showed them): changed by another desk since, it is refused.
    SetRoles {
        idempotency_key: String,
        id: i64,
        login: String,
        read: Placed,
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
    /// The operator's roles or department were changed by another desk since the list was
    /// read: nothing saved.
    Changed,
}

impl RefWork for OperatorRequest {
    type Reply = OperatorReply;

    const PERMISSION: &'static str = "operator.maintain";

    keyed!(OperatorRequest, reads: [List], writes: [Create, SetEnabled, ResetPassword, SetRoles]);

    async fn run(&self, db: Db<'_>) -> Result<OperatorReply, Failure> {
        let (key, change, roles);
        match self {
            OperatorRequest::List => {
                let client = &*db.client;
                return Ok(OperatorReply::Listed(OperatorListing {
                    operators: operators::list(client).await?,
                    departments: operators::departments(client).await?,
                    roles: roles::roles(client).await?,
                }));
            }
            OperatorRequest::Create {
                idempotency_key,
                login,
                full_name,
                department_id,
                roles: codes,
                password,
            } => {
                roles = codes.iter().map(String::as_str).collect::<Vec<_>>();
                key = idempotency_key;
                change = AdminChange::Create(NewOperator {
                    login,
                    full_name,
                    department_id: *department_id,
                    role_codes: &roles,
                    password: password.as_str(),
                });
            }
            OperatorRequest::SetEnabled {
                idempotency_key,
                id,
                enabled,
                ..
            } => {
                key = idempotency_key;
                change = AdminChange::SetEnabled {
                    id: *id,
                    enabled: *enabled,
                };
            }
            OperatorRequest::ResetPassword {
                idempotency_key,
                id,
                password,
                ..
            } => {
                key = idempotency_key;
                change = AdminChange::ResetPassword {
                    id: *id,
                    password: password.as_str(),
                };
            }
            OperatorRequest::SetRoles {
                idempotency_key,
                id,
                read,
                roles: codes,
                department_id,
                ..
            } => {
                roles = codes.iter().map(String::as_str).collect::<Vec<_>>();
                key = idempotency_key;
                change = AdminChange::SetRoles {
                    id: *id,
                    read,
                    role_codes: &roles,
                    department_id: *department_id,
                };
            }
        }
        // Exactly once under its key (sql/V101): sent again after a connection lost past its
        // commit, it answers Done, not "login taken" or a second audit row.
        Ok(
            match admin::change_once(db.client, db.operator_id, key, change).await? {
                AdminOutcome::Done => OperatorReply::Done,
                AdminOutcome::Taken => OperatorReply::LoginTaken,
                AdminOutcome::Changed => OperatorReply::Changed,
                AdminOutcome::NotToYourself => OperatorReply::NotToYourself,
                // A role's refusal: never an operator's change.
                AdminOutcome::KeepsAdministration => OperatorReply::NotToYourself,
            },
        )
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
            (_, OperatorReply::Changed) => says.changed("audit_log.entity_operator"),
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
