//! `:roles`: the roles with their permissions and how many operators have each; `m` sets which
//! permissions a role has (`role.maintain`, checked by the database's guard on
//! `role_permission`). The database's checks read the same table (`md_permitted`), so a change
//! holds for every session at its next request.

use crate::app::form::{Choice, Field, FieldKind, Form};
use crate::app::state::Failure;
use crate::app::{App, Command};
use crate::db::admin::{self, AdminChange, AdminOutcome};
use crate::db::roles::{self, Permission, RoleRow};
use crate::i18n::Lang;
use crate::screens::reference::form::{FormTarget, RefForm, Saves, choose_many, keys_of};
use crate::screens::reference::list::{ListKind, ShortList};
use crate::screens::reference::requests::{ChangeAnswer, Db, RefWork, Says, keyed};
use crate::ui::inert::inert;
use crate::ui::table::Column;

pub type Roles = ShortList<RoleList>;

#[derive(Debug, Clone, PartialEq)]
pub enum RoleRequest {
    List,
    /// Role `code`'s permissions, its form filled from `read` (as the list showed them):
    /// changed by another desk since, it is refused (`Changed`).
    SetPermissions {
        idempotency_key: String,
        code: String,
        read: Vec<String>,
        permissions: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoleReply {
    Listed {
        roles: Vec<RoleRow>,
        permissions: Vec<Permission>,
    },
    Saved,
    /// Nobody enabled would be left to maintain operators or roles (sql/V15).
    KeepsAdministration,
    /// Changed by another desk since the form was read: nothing saved.
    Changed,
}

impl RefWork for RoleRequest {
    type Reply = RoleReply;

    const PERMISSION: &'static str = "role.maintain";

    keyed!(RoleRequest, reads: [List], writes: [SetPermissions]);

    async fn run(&self, db: Db<'_>) -> Result<RoleReply, Failure> {
        Ok(match self {
            RoleRequest::List => RoleReply::Listed {
                roles: roles::roles(&*db.client).await?,
                permissions: roles::permissions(&*db.client).await?,
            },
            RoleRequest::SetPermissions {
                idempotency_key,
                code,
                read,
                permissions,
            } => {
                let change = AdminChange::RolePermissions {
                    code,
                    read,
                    permissions,
                };
                match admin::change_once(db.client, db.operator_id, idempotency_key, change).await?
                {
                    AdminOutcome::Done => RoleReply::Saved,
                    AdminOutcome::Changed => RoleReply::Changed,
                    _ => RoleReply::KeepsAdministration,
                }
            }
        })
    }

    fn told(&self, reply: &RoleReply, lang: Lang) -> Option<ChangeAnswer> {
        match reply {
            RoleReply::Listed { .. } => None,
            // Named: a save that waited for the database may be told on another screen.
            RoleReply::Saved => {
                let role = match self {
                    RoleRequest::SetPermissions { code, .. } => code.as_str(),
                    RoleRequest::List => "",
                };
                Some(Ok(
                    lang.tf("operators.role_saved", &[("role", &inert(role))])
                ))
            }
            RoleReply::KeepsAdministration => Some(Says { lang }.on(
                "operators.f_permissions",
                lang.t("operators.keeps_administration").into(),
            )),
            RoleReply::Changed => Some(Says { lang }.changed("audit_log.entity_role")),
        }
    }

    fn changes_permissions(&self) -> bool {
        matches!(self, RoleRequest::SetPermissions { .. })
    }
}

/// The roles' list, with every permission a role can be given (for its form).
#[derive(Debug, Clone, Default)]
pub struct RoleList {
    permissions: Vec<Permission>,
}

impl ListKind for RoleList {
    type Row = RoleRow;
    const CRUMB: &'static str = "operators.screen_roles";
    const COLUMNS: &'static [Column] = &[
        Column::new("operators.col_role", 13, 1, false),
        Column::new("operators.col_role_name", 13, 1, false),
        Column::new("operators.col_operators", 9, 0, true),
        Column::new("operators.col_permissions", 11, 0, true),
    ];
    const COMMANDS: &'static [(Command, &'static str)] = &[
        (Command::Modify, "operators.legend_permissions"),
        (Command::Refresh, "command.refresh"),
    ];
    type Work = RoleRequest;
    const READ: RoleRequest = RoleRequest::List;

    fn rows(&mut self, reply: &RoleReply) -> Option<Vec<RoleRow>> {
        match reply {
            RoleReply::Listed { roles, permissions } => {
                self.permissions = permissions.clone();
                Some(roles.clone())
            }
            RoleReply::Saved | RoleReply::KeepsAdministration | RoleReply::Changed => None,
        }
    }

    fn cells(row: &RoleRow, lang: Lang) -> Vec<String> {
        vec![
            inert(&row.code).into_owned(),
            lang.role_name(&row.code),
            row.operators.to_string(),
            row.permissions.len().to_string(),
        ]
    }

    /// Its permissions, all of them.
    fn detail(row: &RoleRow, lang: Lang) -> Option<String> {
        Some(
            lang.tf(
                "operators.role_permissions",
                &[
                    ("role", &lang.role_name(&row.code)),
                    (
                        "permissions",
                        &inert(
                            &lang.list(
                                &row.permissions
                                    .iter()
                                    .map(|code| lang.permission_name(code))
                                    .collect::<Vec<_>>(),
                            ),
                        ),
                    ),
                ],
            ),
        )
    }

    /// The permissions by their names in the desk's language, as the list above speaks; the
    /// codes are what is saved.
    fn form(&self, row: Option<&RoleRow>, _command: Command, app: &App) -> Option<RefForm> {
        let row = row?;
        let choices = self
            .permissions
            .iter()
            .map(|p| Choice {
                key: p.code.clone(),
                label: app.lang.permission_name(&p.code),
            })
            .collect();
        let mut form = Form::new(vec![Field::new(
            "operators.f_permissions",
            FieldKind::Choices(choices),
            false,
        )]);
        choose_many(&mut form, "operators.f_permissions", &row.permissions);
        let target = FormTarget::RolePermissions {
            code: row.code.clone(),
            read: row.permissions.clone(),
        };
        Some(RefForm::new(form, target, &SAVES))
    }
}

/// A role's permissions: any of them, none included.
static SAVES: Saves<RoleRequest> =
    Saves(|target, f, _errors, _lang, idempotency_key| match target {
        FormTarget::RolePermissions { code, read } => Some(RoleRequest::SetPermissions {
            idempotency_key,
            code: code.clone(),
            read: read.clone(),
            permissions: keys_of(f, "operators.f_permissions"),
        }),
        _ => None,
    });
