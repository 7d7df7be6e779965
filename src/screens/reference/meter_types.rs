//! The meter types (`:metertypes`): the list, with add, modify and delete (`meter.maintain`).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::form::{Errors, FormTarget, RefForm, choose, key_of, set, text_of, word_choices};
use super::requests::{RefReply, RefRequest};
use super::texts::{in_use_text, payment_model_key};
use super::{ListView, deleted, ref_answer, send};
use crate::app::form::{Field, FieldKind, Form, field_error_text};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::meters::MeterTypeRow;
use crate::domain::meter_csv::caliber;
use crate::domain::validation;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::Column;

#[derive(Debug, Clone, Default)]
pub struct MeterTypes {
    pub list: ListView<MeterTypeRow>,
}

/// The registry's way to open it (`:metertypes`).
pub fn open() -> Box<dyn Screen> {
    Box::new(MeterTypes::default())
}

const PERMISSION: &str = "meter.maintain";

impl MeterTypes {
    /// Delete: refused at once when the type is plainly in use, else asked once.
    fn ask_delete(&mut self, hub: &mut Hub) {
        match self.list.rows.get(self.list.selected) {
            Some(row) if row.meters + row.customer_types > 0 => {
                let text = in_use_text(hub.app.lang, row.meters, row.customer_types);
                hub.say(MessageKind::Error, text);
            }
            Some(row) => {
                let name = row.meter_type.name.clone();
                super::ask_delete(&mut self.list.deleting, &name, hub);
            }
            None => hub.say(MessageKind::Info, String::new()),
        }
    }

    fn form(&self, add: bool, lang: Lang) -> Option<RefForm> {
        let row = if add {
            None
        } else {
            Some(self.list.selected_row()?)
        };
        let mut form = Form::new(vec![
            Field::new("ref.f_name", FieldKind::Text { max: 50 }, true),
            Field::new(
                "ref.f_payment_model",
                word_choices(
                    lang,
                    &[
                        ("prepayment", "ref.pm_prepayment"),
                        ("postpayment", "ref.pm_postpayment"),
                    ],
                ),
                true,
            ),
            Field::new("ref.f_caliber", FieldKind::Text { max: 8 }, true),
            Field::new("ref.f_manufacturer", FieldKind::Text { max: 50 }, true),
        ]);
        if let Some(row) = row {
            let t = &row.meter_type;
            set(&mut form, "ref.f_name", &t.name);
            choose(&mut form, "ref.f_payment_model", t.payment_model.as_str());
            set(&mut form, "ref.f_caliber", &t.caliber);
            set(&mut form, "ref.f_manufacturer", &t.manufacturer);
        } else {
            set(&mut form, "ref.f_caliber", "DN15");
        }
        let id = row.map(|row| row.meter_type.id);
        Some(RefForm::new(form, FormTarget::MeterType { id }))
    }
}

/// The meter type form's rules: the request, or None with the bad fields in `errors`.
pub(super) fn build(
    f: &Form,
    id: Option<i64>,
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<RefRequest> {
    let field_error = |error| field_error_text(lang, &error);
    let caliber = errors.check(
        "ref.f_caliber",
        caliber(text_of(f, "ref.f_caliber")).ok_or(()),
        |()| lang.t("ref.caliber_format").to_owned(),
    );
    let payment_model = key_of(f, "ref.f_payment_model").and_then(|k| k.parse().ok());
    let name = errors.check(
        "ref.f_name",
        validation::plain_text(text_of(f, "ref.f_name"), 50),
        field_error,
    );
    let manufacturer = errors.check(
        "ref.f_manufacturer",
        validation::plain_text(text_of(f, "ref.f_manufacturer"), 50),
        field_error,
    );
    Some(RefRequest::SaveMeterType {
        idempotency_key,
        id,
        name: name?,
        payment_model: payment_model?,
        caliber: caliber?,
        manufacturer: manufacturer?,
    })
}

impl Screen for MeterTypes {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("ref.screen_meter_types").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.list.deleting {
            return super::delete_question_commands();
        }
        super::commands_with(&LIST_COMMANDS)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let lang = app.lang;
        super::short_list(
            frame,
            area,
            &self.list,
            &COLUMNS,
            |row| {
                let t = &row.meter_type;
                vec![
                    inert(&t.name).into_owned(),
                    lang.t(payment_model_key(t.payment_model)).to_owned(),
                    lang.t(if t.takes_card { "ref.yes" } else { "ref.no" })
                        .to_owned(),
                    inert(&t.caliber).into_owned(),
                    inert(&t.manufacturer).into_owned(),
                    row.meters.to_string(),
                    row.customer_types.to_string(),
                ]
            },
            app,
        );
    }

    fn on_open(&mut self, hub: &mut Hub) {
        send(hub, RefRequest::MeterTypes);
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if super::waits_for_save(hub, &key, command, false) {
            return true;
        }
        if self.list.deleting {
            if super::confirms_delete(&mut self.list.deleting, command, hub)
                && let Some(row) = self.list.selected_row()
            {
                let idempotency_key = hub.app.write_key();
                let id = row.meter_type.id;
                send(
                    hub,
                    RefRequest::DeleteMeterType {
                        idempotency_key,
                        id,
                    },
                );
            }
            return true;
        }
        self.list.on_arrow(&key)
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        if super::refused(hub, super::change_permission(command, PERMISSION)) {
            return true;
        }
        match command {
            Command::Refresh => send(hub, RefRequest::MeterTypes),
            Command::Add | Command::Modify => {
                if let Some(form) = self.form(command == Command::Add, hub.app.lang) {
                    hub.open(Box::new(form));
                }
            }
            Command::Delete => self.ask_delete(hub),
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let Some((request, reply)) = ref_answer(request, reply) else {
            return;
        };
        match reply {
            RefReply::MeterTypes(rows) => self.list.show(rows.clone()),
            reply => {
                if let Some(answer) = super::answer_of(hub.app.lang, request, reply)
                    && deleted(answer, hub)
                {
                    send(hub, RefRequest::MeterTypes);
                }
            }
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            send(hub, RefRequest::MeterTypes);
        }
    }
}

/// The commands of a short list that adds, modifies and deletes its rows.
pub(super) const LIST_COMMANDS: [(Command, &str); 4] = [
    (Command::Add, "command.add"),
    (Command::Modify, "command.modify"),
    (Command::Delete, "command.delete"),
    (Command::Refresh, "command.refresh"),
];

const COLUMNS: [Column; 7] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_payment_model", 11, 1, false),
    Column::new("ref.col_card", 4, 0, false),
    Column::new("ref.col_caliber", 7, 0, false),
    Column::new("ref.col_manufacturer", 10, 2, false),
    Column::new("ref.col_meters", 8, 0, true),
    Column::new("ref.col_used_by_types", 10, 0, true),
];
