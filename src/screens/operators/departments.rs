//! `:departments`: the departments operators belong to, with how many each has; add and rename
//! (`department.maintain`, checked by the database's guard on the table).

use crate::app::form::{Field, FieldKind, Form};
use crate::app::state::Failure;
use crate::app::{App, Command};
use crate::db::admin::{self, AdminChange, AdminOutcome};
use crate::db::operators::{self, Department};
use crate::i18n::Lang;
use crate::screens::reference::form::{Errors, FormTarget, RefForm, Saves, set};
use crate::screens::reference::list::{ListKind, ShortList};
use crate::screens::reference::requests::{ChangeAnswer, Db, RefWork, Says, keyed};
use crate::ui::inert::inert;
use crate::ui::table::Column;

pub type Departments = ShortList<DepartmentList>;

#[derive(Debug, Clone, PartialEq)]
pub enum DepartmentRequest {
    List,
    /// `renaming` None: add one; else rename department `renaming.0`, whose name the list
    /// showed as `renaming.1`: renamed by another desk since, it is refused (`Changed`).
    Save {
        idempotency_key: String,
        renaming: Option<(i64, String)>,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum DepartmentReply {
    Rows(Vec<Department>),
    Saved,
    NameTaken,
    /// Renamed by another desk since the form was read: nothing saved.
    Changed,
}

impl RefWork for DepartmentRequest {
    type Reply = DepartmentReply;

    const PERMISSION: &'static str = "department.maintain";

    keyed!(DepartmentRequest, reads: [List], writes: [Save]);

    async fn run(&self, db: Db<'_>) -> Result<DepartmentReply, Failure> {
        Ok(match self {
            DepartmentRequest::List => {
                DepartmentReply::Rows(operators::departments(&*db.client).await?)
            }
            DepartmentRequest::Save {
                idempotency_key,
                renaming,
                name,
            } => {
                let renaming = renaming.as_ref().map(|(id, read)| (*id, read.as_str()));
                let change = AdminChange::Department { renaming, name };
                match admin::change_once(db.client, db.operator_id, idempotency_key, change).await?
                {
                    AdminOutcome::Done => DepartmentReply::Saved,
                    AdminOutcome::Changed => DepartmentReply::Changed,
                    _ => DepartmentReply::NameTaken,
                }
            }
        })
    }

    fn told(&self, reply: &DepartmentReply, lang: Lang) -> Option<ChangeAnswer> {
        let says = Says { lang };
        match reply {
            DepartmentReply::Rows(_) => None,
            // Named: a save that waited for the database may be told on another screen.
            DepartmentReply::Saved => {
                let name = match self {
                    DepartmentRequest::Save { name, .. } => name.as_str(),
                    DepartmentRequest::List => "",
                };
                Some(Ok(
                    lang.tf("operators.department_saved", &[("name", &inert(name))])
                ))
            }
            DepartmentReply::NameTaken => Some(says.on(
                "operators.f_department_name",
                lang.t("ref.name_taken").into(),
            )),
            DepartmentReply::Changed => Some(says.changed("audit_log.entity_department")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DepartmentList;

impl ListKind for DepartmentList {
    type Row = Department;
    const CRUMB: &'static str = "operators.screen_departments";
    const COLUMNS: &'static [Column] = &[
        Column::new("operators.col_department", 20, 1, false),
        Column::new("operators.col_operators", 9, 0, true),
    ];
    const COMMANDS: &'static [(Command, &'static str)] = &[
        (Command::Add, "command.add"),
        (Command::Modify, "operators.legend_rename"),
        (Command::Refresh, "command.refresh"),
    ];
    type Work = DepartmentRequest;
    const READ: DepartmentRequest = DepartmentRequest::List;

    fn rows(&mut self, reply: &DepartmentReply) -> Option<Vec<Department>> {
        match reply {
            DepartmentReply::Rows(rows) => Some(rows.clone()),
            _ => None,
        }
    }

    fn cells(row: &Department, _lang: Lang) -> Vec<String> {
        vec![inert(&row.name).into_owned(), row.operators.to_string()]
    }

    fn form(&self, row: Option<&Department>, _command: Command, _app: &App) -> Option<RefForm> {
        let mut form = Form::new(vec![Field::new(
            "operators.f_department_name",
            FieldKind::Text { max: 50 },
            true,
        )]);
        if let Some(row) = row {
            set(&mut form, "operators.f_department_name", &row.name);
        }
        let target = FormTarget::Department {
            stored: row.map(|row| (row.id, row.name.clone())),
        };
        Some(RefForm::new(form, target, &SAVES))
    }
}

/// A department's name: plain text, at most 50 characters.
fn build(
    renaming: Option<(i64, String)>,
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<DepartmentRequest> {
    let name = errors.plain_text("operators.f_department_name", 50, lang);
    Some(DepartmentRequest::Save {
        idempotency_key,
        renaming,
        name: name?,
    })
}

static SAVES: Saves<DepartmentRequest> = Saves(|target, _form, errors, lang, key| match target {
    FormTarget::Department { stored } => build(stored.clone(), errors, lang, key),
    _ => None,
});
