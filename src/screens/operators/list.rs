//! `:operators`, for administrators (`operator.maintain`; anyone else is refused the screen):
//! every operator by login, with their department, roles, whether they may sign in and whether
//! their password is temporary. `a` adds one (a form; the temporary password is shown once
//! after the save), `m` changes the selected one's roles, `e` disables or enables them and `k`
//! gives them a new temporary password (each asked once on the message line).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;

use super::requests::{OperatorListing, OperatorReply, OperatorRequest};
use crate::app::form::{Choice, Field, FieldKind, Form, field_error_text};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::operators::OperatorRow;
use crate::domain::password::Secret;
use crate::domain::validation;
use crate::i18n::Lang;
use crate::screens::reference::common::{commands_with, move_in, note, table};
use crate::screens::reference::form::{
    Errors, FormTarget, RefForm, Saves, choose, choose_many, key_of, keys_of, text_of,
};
use crate::screens::reference::requests::{
    RefAnswer, RefWork, answer, change_done, reload, send, show_after,
};
use crate::ui::inert::inert;
use crate::ui::table::Column;
use crate::ui::theme::Theme;

/// A change asked once on the message line: F2 makes it, any other key keeps things as they
/// are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    SetEnabled(bool),
    ResetPassword,
}

#[derive(Debug, Clone, Default)]
pub struct OperatorsView {
    pub listing: OperatorListing,
    pub selected: usize,
    pub loading: bool,
    pub asking: Option<Ask>,
}

/// `:operators`.
pub fn open() -> Box<dyn Screen> {
    Box::new(OperatorsView {
        loading: true,
        ..OperatorsView::default()
    })
}

impl OperatorsView {
    pub fn selected_row(&self) -> Option<&OperatorRow> {
        self.listing.operators.get(self.selected)
    }

    /// Asks once for `ask` on the selected operator; an administrator may not disable
    /// themselves (the database refuses it too).
    fn ask(&mut self, ask: Ask, hub: &mut Hub) {
        let Some(row) = self.selected_row() else {
            return;
        };
        if ask == Ask::SetEnabled(false) && is_yours(row, hub.app) {
            hub.say(MessageKind::Error, hub.app.lang.t("operators.not_yourself"));
            return;
        }
        let key = match ask {
            Ask::SetEnabled(true) => "operators.ask_enable",
            Ask::SetEnabled(false) => "operators.ask_disable",
            Ask::ResetPassword => "operators.ask_reset",
        };
        let text = hub.app.tf(key, &[("login", &inert(&row.login))]);
        hub.say(MessageKind::Info, text);
        self.asking = Some(ask);
    }

    /// The asked change, made on F2.
    fn confirmed(&self, ask: Ask, idempotency_key: String) -> Option<OperatorRequest> {
        let row = self.selected_row()?;
        let (id, login) = (row.id, row.login.clone());
        Some(match ask {
            Ask::SetEnabled(enabled) => OperatorRequest::SetEnabled {
                idempotency_key,
                id,
                login,
                enabled,
            },
            Ask::ResetPassword => OperatorRequest::ResetPassword {
                idempotency_key,
                id,
                login,
                password: Secret::generate(),
            },
        })
    }

    /// The form that adds an operator.
    fn add_form(&self, lang: Lang) -> RefForm {
        let departments = self
            .listing
            .departments
            .iter()
            .map(|d| Choice {
                key: d.id.to_string(),
                label: inert(&d.name).into_owned(),
            })
            .collect();
        let mut form = Form::new(vec![
            Field::new("operators.f_login", FieldKind::Text { max: 30 }, true),
            Field::new("operators.f_full_name", FieldKind::Text { max: 50 }, true),
            Field::new(
                "operators.f_department",
                FieldKind::Choice(departments),
                true,
            ),
            Field::new("operators.f_roles", self.role_choices(lang), true),
        ]);
        if let [only] = self.listing.departments.as_slice() {
            choose(&mut form, "operators.f_department", &only.id.to_string());
        }
        // Most operators added are clerks.
        choose_many(&mut form, "operators.f_roles", &["clerk".to_owned()]);
        RefForm::new(form, FormTarget::Operator, &SAVES)
    }

    /// The form that changes `row`'s roles.
    fn roles_form(&self, row: &OperatorRow, app: &App) -> RefForm {
        let mut form = Form::new(vec![Field::new(
            "operators.f_roles",
            self.role_choices(app.lang),
            true,
        )]);
        choose_many(&mut form, "operators.f_roles", &row.roles);
        let yours = is_yours(row, app).then(|| {
            self.listing
                .roles
                .iter()
                .filter(|role| role.permissions.iter().any(|p| p == PERMISSION))
                .map(|role| role.code.clone())
                .collect()
        });
        let target = FormTarget::OperatorRoles {
            id: row.id,
            login: row.login.clone(),
            yours,
        };
        RefForm::new(form, target, &SAVES)
    }

    /// The roles, by their names in the desk's language.
    fn role_choices(&self, lang: Lang) -> FieldKind {
        FieldKind::Choices(
            self.listing
                .roles
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

impl Screen for OperatorsView {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("operators.screen").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.asking.is_some() {
            return vec![
                (Command::Save, "operators.legend_confirm"),
                (Command::Cancel, "command.cancel"),
            ];
        }
        commands_with(&[
            (Command::Add, "command.add"),
            (Command::Modify, "operators.legend_roles"),
            (Command::SwitchEnabled, "operators.cmd_switch_enabled"),
            (Command::ResetPassword, "operators.cmd_reset_password"),
            (Command::Refresh, "command.refresh"),
        ])
    }

    /// A title line with a count, then the operators.
    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let (lang, theme) = (app.lang, &Theme::new(app.look));
        let [title, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        let count = lang.tf("ref.count", &[("count", &self.listing.operators.len())]);
        frame.render_widget(Paragraph::new(note(&count, theme)), title);
        let rows: Vec<Vec<String>> = self
            .listing
            .operators
            .iter()
            .map(|row| cells(row, lang))
            .collect();
        let empty = lang.t(if self.loading {
            "ref.loading"
        } else {
            "ref.none"
        });
        let selected = (!rows.is_empty()).then_some(self.selected);
        table(frame, rest, &COLUMNS, &rows, selected, empty, lang, theme);
    }

    /// Only for whoever may maintain operators: anyone else is told why and stays where they
    /// were.
    fn on_open(&mut self, hub: &mut Hub) {
        if !hub.allowed(PERMISSION) {
            hub.leave();
        } else {
            send(hub, OperatorRequest::List);
        }
    }

    /// F2 or a cancel while a change is asked; Up/Down. A change waiting for the database
    /// refuses the next one.
    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if let Some(ask) = self.asking.take() {
            if command == Some(Command::Save) {
                if let Some(request) = self.confirmed(ask, hub.app.write_key()) {
                    send(hub, request);
                }
            } else {
                hub.say(MessageKind::Info, hub.app.lang.t("msg.cancelled"));
            }
            return true;
        }
        let changes = matches!(
            command,
            Some(Command::Add | Command::Modify | Command::SwitchEnabled | Command::ResetPassword)
        );
        if changes && hub.saving() {
            hub.say(MessageKind::Info, hub.app.lang.t("db.write_parked"));
            return true;
        }
        let step = match key.code {
            KeyCode::Up => -1,
            KeyCode::Down => 1,
            _ => return false,
        };
        move_in(&mut self.selected, self.listing.operators.len(), step);
        true
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match command {
            Command::Refresh => send(hub, OperatorRequest::List),
            Command::Add => hub.open(Box::new(self.add_form(hub.app.lang))),
            Command::Modify => {
                if let Some(row) = self.selected_row() {
                    let form = self.roles_form(row, hub.app);
                    hub.open(Box::new(form));
                }
            }
            Command::SwitchEnabled => {
                let enabled = self.selected_row().is_some_and(|row| row.enabled);
                self.ask(Ask::SetEnabled(!enabled), hub);
            }
            Command::ResetPassword => self.ask(Ask::ResetPassword, hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some((work, answer)) = answer::<OperatorRequest>(request, reply) else {
            return;
        };
        if let RefAnswer::Done(OperatorReply::Listed(listing)) = answer {
            self.loading = false;
            self.selected = self.selected.min(listing.operators.len().saturating_sub(1));
            self.listing = listing.clone();
        } else if change_done(work, answer, hub) {
            send(hub, OperatorRequest::List);
            show_after(work, answer, hub);
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        reload(notice, OperatorRequest::List, hub);
    }
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
    let login = text_of(f, "operators.f_login");
    let login = errors.check(
        "operators.f_login",
        crate::init::valid_login(login)
            .then(|| login.to_owned())
            .ok_or(()),
        |()| lang.t("operators.login_format").to_owned(),
    );
    let full_name = errors.check(
        "operators.f_full_name",
        validation::plain_text(text_of(f, "operators.f_full_name"), 50),
        |error| field_error_text(lang, &error),
    );
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

/// New roles for an operator; the administrator's own keep one that maintains operators.
fn build_roles(
    f: &Form,
    (id, login, yours): (i64, &str, Option<&Vec<String>>),
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<OperatorRequest> {
    let roles = keys_of(f, "operators.f_roles");
    let keeps = yours.is_none_or(|maintaining| roles.iter().any(|r| maintaining.contains(r)));
    let roles = errors.check(
        "operators.f_roles",
        keeps.then_some(roles).ok_or(()),
        |()| lang.t("operators.keep_your_maintain").to_owned(),
    );
    Some(OperatorRequest::SetRoles {
        idempotency_key,
        id,
        login: login.to_owned(),
        roles: roles?,
    })
}

/// What the operator forms are saved with.
static SAVES: Saves<OperatorRequest> = Saves(|target, f, errors, lang, key| match target {
    FormTarget::Operator => build_new(f, errors, lang, key),
    FormTarget::OperatorRoles { id, login, yours } => {
        build_roles(f, (*id, login, yours.as_ref()), errors, lang, key)
    }
    _ => None,
});
