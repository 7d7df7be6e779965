//! `:operators`, for administrators (`operator.maintain`; anyone else is refused the screen):
//! every operator by login, with their department, roles, whether they may sign in and whether
//! their password is temporary. `a` adds one (a form; the temporary password is shown once
//! after the save), `m` changes the selected one's roles and department, `e` disables or enables them and `k`
//! gives them a new temporary password (each asked once on the message line).

use super::requests::{OperatorReply, OperatorRequest};
use crate::app::form::{Choice, Field, FieldKind, Form};
use crate::app::{App, Command};
use crate::db::operators::{Department, OperatorRow, Placed};
use crate::db::roles::RoleRow;
use crate::domain::password::Secret;
use crate::domain::validation::halfwidth_text;
use crate::i18n::Lang;
use crate::screens::reference::form::{
    Errors, FormTarget, RefForm, Saves, YourRoles, choose, choose_many, key_of, keys_of, text_of,
};
use crate::screens::reference::list::{ListKind, ShortList};
use crate::screens::reference::requests::RefWork;
use crate::ui::inert::inert;
use crate::ui::table::Column;

pub type OperatorsView = ShortList<OperatorList>;

/// The operators' list, with the departments and roles its forms choose from.
#[derive(Debug, Clone, Default)]
pub struct OperatorList {
    departments: Vec<Department>,
    roles: Vec<RoleRow>,
}

impl ListKind for OperatorList {
    type Row = OperatorRow;
    const CRUMB: &'static str = "operators.screen";
    const COLUMNS: &'static [Column] = &COLUMNS;
    const COMMANDS: &'static [(Command, &'static str)] = &[
        (Command::Add, "command.add"),
        (Command::Modify, "operators.legend_roles"),
        (Command::SwitchEnabled, "operators.cmd_switch_enabled"),
        (Command::ResetPassword, "operators.cmd_reset_password"),
        (Command::Refresh, "command.refresh"),
    ];
    const CHANGES: &'static [Command] = &[
        Command::Add,
        Command::Modify,
        Command::SwitchEnabled,
        Command::ResetPassword,
    ];
    const PRIVATE: bool = true;
    const QUESTIONS: &'static [Command] = &[Command::SwitchEnabled, Command::ResetPassword];
    const CONFIRM: &'static str = "operators.legend_confirm";
    type Work = OperatorRequest;
    const READ: OperatorRequest = OperatorRequest::List;

    fn rows(&mut self, reply: &OperatorReply) -> Option<Vec<OperatorRow>> {
        let OperatorReply::Listed(listing) = reply else {
            return None;
        };
        self.departments = listing.departments.clone();
        self.roles = listing.roles.clone();
        Some(listing.operators.clone())
    }

    fn cells(row: &OperatorRow, lang: Lang) -> Vec<String> {
        cells(row, lang)
    }

    fn form(&self, row: Option<&OperatorRow>, _command: Command, app: &App) -> Option<RefForm> {
        Some(match row {
            None => self.add_form(app.lang),
            Some(row) => self.roles_form(row, app),
        })
    }

    /// Disable or enable, or a new temporary password; an administrator may not disable
    /// themselves (the database refuses it too).
    fn question(&self, row: &OperatorRow, command: Command, app: &App) -> Result<String, String> {
        let key = match command {
            Command::SwitchEnabled if row.enabled && is_yours(row, app) => {
                return Err(app.lang.t("operators.not_yourself").to_owned());
            }
            Command::SwitchEnabled if row.enabled => "operators.ask_disable",
            Command::SwitchEnabled => "operators.ask_enable",
            _ => "operators.ask_reset",
        };
        Ok(app.tf(key, &[("login", &inert(&row.login))]))
    }

    fn confirmed(
        &self,
        row: &OperatorRow,
        command: Command,
        idempotency_key: String,
    ) -> Option<OperatorRequest> {
        let (id, login) = (row.id, row.login.clone());
        Some(match command {
            Command::SwitchEnabled => OperatorRequest::SetEnabled {
                idempotency_key,
                id,
                login,
                enabled: !row.enabled,
            },
            _ => OperatorRequest::ResetPassword {
                idempotency_key,
                id,
                login,
                password: Secret::generate(),
            },
        })
    }
}

impl OperatorList {
    /// The form that adds an operator.
    fn add_form(&self, lang: Lang) -> RefForm {
        let mut form = Form::new(vec![
            Field::new("operators.f_login", FieldKind::Text { max: 30 }, true),
            Field::new("operators.f_full_name", FieldKind::Text { max: 50 }, true),
            Field::new("operators.f_department", self.department_choices(), true),
            Field::new("operators.f_roles", self.role_choices(lang), true),
        ]);
        if let [only] = self.departments.as_slice() {
            choose(&mut form, "operators.f_department", &only.id.to_string());
        }
        // Most operators added are clerks.
        choose_many(&mut form, "operators.f_roles", &["clerk".to_owned()]);
        RefForm::new(form, FormTarget::Operator, &SAVES)
    }

    /// The form that changes `row`'s roles and department: the roles first, as the form was
    /// before it had the department (`m`, F4 and a role's name still tick a role).
    fn roles_form(&self, row: &OperatorRow, app: &App) -> RefForm {
        let mut form = Form::new(vec![
            Field::new("operators.f_roles", self.role_choices(app.lang), true),
            Field::new("operators.f_department", self.department_choices(), true),
        ]);
        choose_many(&mut form, "operators.f_roles", &row.roles);
        choose(
            &mut form,
            "operators.f_department",
            &row.department_id.to_string(),
        );
        let yours = is_yours(row, app).then(|| YourRoles {
            held: row.roles.clone(),
            maintaining: (self.roles.iter())
                .filter(|role| role.permissions.iter().any(|p| p == PERMISSION))
                .map(|role| role.code.clone())
                .collect(),
        });
        let target = FormTarget::OperatorRoles {
            id: row.id,
            login: row.login.clone(),
            read: row.placed(),
            yours,
        };
        RefForm::new(form, target, &SAVES)
    }

    /// The departments, by name.
    fn department_choices(&self) -> FieldKind {
        FieldKind::Choice(
            self.departments
                .iter()
                .map(|d| Choice {
                    key: d.id.to_string(),
                    label: inert(&d.name).into_owned(),
                })
                .collect(),
        )
    }

    /// The roles, by their names in the desk's language.
    fn role_choices(&self, lang: Lang) -> FieldKind {
        FieldKind::Choices(
            self.roles
                .iter()
                .map(|role| Choice {
                    key: role.code.clone(),
                    label: lang.role_name(&role.code),
                })
                .collect(),
        )
    }
}

const PERMISSION: &str = OperatorRequest::PERMISSION;

/// Whether `row` is the administrator signed in.
fn is_yours(row: &OperatorRow, app: &App) -> bool {
    app.session
        .as_ref()
        .is_some_and(|session| session.operator_id == row.id)
}

fn cells(row: &OperatorRow, lang: Lang) -> Vec<String> {
    vec![
        inert(&row.login).into_owned(),
        inert(&row.full_name).into_owned(),
        inert(&row.department).into_owned(),
        lang.roles_named(&row.roles),
        lang.t(if row.enabled {
            "operators.enabled"
        } else {
            "operators.disabled"
        })
        .to_owned(),
        lang.t(if row.must_change_password {
            "operators.temporary"
        } else {
            "operators.own"
        })
        .to_owned(),
    ]
}

const COLUMNS: [Column; 6] = [
    Column::new("operators.col_login", 10, 1, false),
    Column::new("operators.col_name", 8, 2, false),
    Column::new("operators.col_department", 8, 1, false),
    Column::new("operators.col_roles", 18, 1, false),
    Column::new("operators.col_state", 8, 0, false),
    Column::new("operators.col_password", 9, 0, false),
];

/// A new operator: the login as the database takes it (sql/V13), a plain name, a department,
/// at least one role, and a fresh temporary password.
fn build_new(
    f: &Form,
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<OperatorRequest> {
    // A login is ASCII (sql/V13): typed full-width by a Chinese input method, it is its ASCII
    // twin, as the sign-in takes it (`session::role_name`).
    let login = halfwidth_text(text_of(f, "operators.f_login"));
    let login = errors.check(
        "operators.f_login",
        crate::init::valid_login(&login).then_some(login).ok_or(()),
        |()| lang.t("operators.login_format").to_owned(),
    );
    let full_name = errors.plain_text("operators.f_full_name", 50, lang);
    let department_id = key_of(f, "operators.f_department").and_then(|key| key.parse().ok());
    Some(OperatorRequest::Create {
        idempotency_key,
        login: login?,
        full_name: full_name?,
        department_id: department_id?,
        roles: keys_of(f, "operators.f_roles"),
        password: Secret::generate(),
    })
}

/// New roles and department for an operator; the administrator's own roles gain none and keep
/// one that maintains operators (the database refuses both too, sql/V264).
fn build_roles(
    f: &Form,
    (id, login, read, yours): (i64, &str, &Placed, Option<&YourRoles>),
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<OperatorRequest> {
    let roles = keys_of(f, "operators.f_roles");
    let refusal = yours.and_then(|yours| {
        if !roles.iter().all(|r| yours.held.contains(r)) {
            Some("operators.no_role_to_yourself")
        } else if !roles.iter().any(|r| yours.maintaining.contains(r)) {
            Some("operators.keep_your_maintain")
        } else {
            None
        }
    });
    let roles = errors.check("operators.f_roles", refusal.map_or(Ok(roles), Err), |key| {
        lang.t(key).to_owned()
    });
    let department_id = key_of(f, "operators.f_department").and_then(|key| key.parse().ok());
    Some(OperatorRequest::SetRoles {
        idempotency_key,
        id,
        login: login.to_owned(),
        read: read.clone(),
        roles: roles?,
        department_id: department_id?,
    })
}

/// What the operator forms are saved with.
static SAVES: Saves<OperatorRequest> = Saves(|target, f, errors, lang, key| match target {
    FormTarget::Operator => build_new(f, errors, lang, key),
    FormTarget::OperatorRoles {
        id,
        login,
        read,
        yours,
    } => build_roles(f, (*id, login, read, yours.as_ref()), errors, lang, key),
    _ => None,
});
