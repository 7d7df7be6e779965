//! The customer types (`:custtypes`): the list, with add, modify and delete
//! (`customer_type.maintain`). A type's form chooses from the meter types, price schemes and
//! payment methods read with the list.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::form::{
    FormTarget, RefForm, choose, choose_many, key_of, keys_of, set, text_of, word_choices, yes_no,
};
use super::requests::{RefReply, RefRequest, TypeChoices};
use super::texts::{business_model_key, nature_key, payment_model_key, problem_text};
use super::{ListView, deleted, ref_answer, send};
use crate::app::form::{Choice, Field, FieldKind, Form};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::customer_types::{CustomerTypeInput, CustomerTypeRow};
use crate::domain::customer_rules::{BusinessModel, CustomerTypeProblem, Nature};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::Column;

#[derive(Debug, Clone, Default)]
pub struct CustomerTypes {
    pub list: ListView<CustomerTypeRow>,
    /// What the form chooses from, read with the list.
    pub choices: TypeChoices,
}

/// The registry's way to open it (`:custtypes`).
pub fn open() -> Box<dyn Screen> {
    Box::new(CustomerTypes::default())
}

const PERMISSION: &str = "customer_type.maintain";

impl CustomerTypes {
    /// Delete: refused at once when customers have the type, else asked once.
    fn ask_delete(&mut self, hub: &mut Hub) {
        match self.list.rows.get(self.list.selected) {
            Some(row) if row.customers > 0 => {
                let problem = CustomerTypeProblem::InUse {
                    customers: row.customers,
                };
                hub.say(MessageKind::Error, problem_text(hub.app.lang, &problem));
            }
            Some(row) => {
                let name = row.input.name.clone();
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
        let schemes = std::iter::once(Choice {
            key: String::new(),
            label: lang.t("ref.no_scheme").to_owned(),
        })
        .chain(self.choices.schemes.iter().map(|s| Choice {
            key: s.id.to_string(),
            label: s.name.clone(),
        }))
        .collect();
        let mut form = Form::new(vec![
            Field::new("ref.f_name", FieldKind::Text { max: 50 }, true),
            Field::new(
                "ref.f_nature",
                word_choices(
                    lang,
                    &[
                        ("personal", "ref.nature_personal"),
                        ("enterprise", "ref.nature_enterprise"),
                        ("statistical", "ref.nature_statistical"),
                    ],
                ),
                true,
            ),
            Field::new(
                "ref.f_business_model",
                word_choices(
                    lang,
                    &[
                        ("meter_prepaid", "ref.bm_meter_prepaid"),
                        ("system_prepaid", "ref.bm_system_prepaid"),
                        ("postpaid", "ref.bm_postpaid"),
                    ],
                ),
                true,
            ),
            Field::new(
                "ref.f_meter_types",
                FieldKind::Choices(
                    self.choices
                        .meter_types
                        .iter()
                        .map(|t| Choice {
                            key: t.id.to_string(),
                            label: format!(
                                "{} · {}",
                                t.name,
                                lang.t(payment_model_key(t.payment_model))
                            ),
                        })
                        .collect(),
                ),
                true,
            ),
            Field::new("ref.f_counts", yes_no(lang), true),
            Field::new("ref.f_charges", yes_no(lang), true),
            Field::new("ref.f_scheme", FieldKind::Choice(schemes), false),
            Field::new(
                "ref.f_payment_methods",
                FieldKind::Choices(
                    self.choices
                        .payment_methods
                        .iter()
                        .map(|(code, name)| Choice {
                            key: code.clone(),
                            label: name.clone(),
                        })
                        .collect(),
                ),
                false,
            ),
        ]);
        match row {
            Some(row) => {
                let input = &row.input;
                set(&mut form, "ref.f_name", &input.name);
                choose(&mut form, "ref.f_nature", input.nature.as_str());
                choose(
                    &mut form,
                    "ref.f_business_model",
                    input.business_model.as_str(),
                );
                let ids: Vec<String> = input
                    .meter_type_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                choose_many(&mut form, "ref.f_meter_types", &ids);
                let yes = |b: bool| if b { "yes" } else { "no" };
                choose(&mut form, "ref.f_counts", yes(input.counts_water_usage));
                choose(&mut form, "ref.f_charges", yes(input.charges));
                choose(
                    &mut form,
                    "ref.f_scheme",
                    &input
                        .price_scheme_id
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                );
                choose_many(&mut form, "ref.f_payment_methods", &input.payment_methods);
            }
            None => {
                choose(&mut form, "ref.f_counts", "yes");
                choose(&mut form, "ref.f_charges", "yes");
                choose_many(&mut form, "ref.f_payment_methods", &["cash".to_owned()]);
            }
        }
        let id = row.map(|row| row.id);
        Some(RefForm::new(form, FormTarget::CustomerType { id }))
    }
}

/// The customer type form's request; the database checks its rules (`CustomerTypeProblem`).
pub(super) fn build(f: &Form, id: Option<i64>, idempotency_key: String) -> Option<RefRequest> {
    let meter_type_ids = keys_of(f, "ref.f_meter_types")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let yes = |label| key_of(f, label) == Some("yes");
    Some(RefRequest::SaveCustomerType {
        idempotency_key,
        id,
        input: CustomerTypeInput {
            name: text_of(f, "ref.f_name").to_owned(),
            nature: key_of(f, "ref.f_nature").and_then(|k| k.parse::<Nature>().ok())?,
            business_model: key_of(f, "ref.f_business_model")
                .and_then(|k| k.parse::<BusinessModel>().ok())?,
            meter_type_ids,
            counts_water_usage: yes("ref.f_counts"),
            charges: yes("ref.f_charges"),
            price_scheme_id: key_of(f, "ref.f_scheme").and_then(|k| k.parse().ok()),
            payment_methods: keys_of(f, "ref.f_payment_methods"),
        },
    })
}

impl Screen for CustomerTypes {
    fn crumb(&self, lang: Lang) -> String {
        lang.t("ref.screen_customer_types").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        if self.list.deleting {
            return super::delete_question_commands();
        }
        super::commands_with(&super::meter_types::LIST_COMMANDS)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let lang = app.lang;
        super::short_list(
            frame,
            area,
            &self.list,
            &COLUMNS,
            |row| {
                let input = &row.input;
                let charging = match (&row.price_scheme_name, input.charges) {
                    (Some(name), true) => {
                        format!("{} ({})", inert(name), input.payment_methods.join(", "))
                    }
                    _ => lang.t("ref.free").to_owned(),
                };
                vec![
                    inert(&input.name).into_owned(),
                    lang.t(nature_key(input.nature)).to_owned(),
                    lang.t(business_model_key(input.business_model)).to_owned(),
                    inert(&row.meter_type_names.join(", ")).into_owned(),
                    charging,
                    row.customers.to_string(),
                ]
            },
            app,
        );
    }

    fn on_open(&mut self, hub: &mut Hub) {
        send(hub, RefRequest::CustomerTypes);
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
                let id = row.id;
                send(
                    hub,
                    RefRequest::DeleteCustomerType {
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
            Command::Refresh => send(hub, RefRequest::CustomerTypes),
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
            RefReply::CustomerTypes { rows, choices } => {
                self.list.show(rows.clone());
                self.choices = choices.clone();
            }
            reply => {
                if let Some(answer) = super::answer_of(hub.app.lang, request, reply)
                    && deleted(answer, hub)
                {
                    send(hub, RefRequest::CustomerTypes);
                }
            }
        }
    }

    fn on_notice(&mut self, notice: &Notice, hub: &mut Hub) {
        if *notice == Notice::Reload {
            send(hub, RefRequest::CustomerTypes);
        }
    }
}

const COLUMNS: [Column; 6] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_nature", 10, 0, false),
    Column::new("ref.col_business_model", 14, 0, false),
    Column::new("ref.col_meter_types", 10, 3, false),
    Column::new("ref.col_charging", 12, 2, false),
    Column::new("ref.col_customers", 9, 0, true),
];

/// The form field a customer type problem belongs to.
pub(super) fn problem_label(problem: &CustomerTypeProblem) -> &'static str {
    match problem {
        CustomerTypeProblem::Name(_) => "ref.f_name",
        CustomerTypeProblem::NoMeterTypes
        | CustomerTypeProblem::MeterTypeDoesNotFit { .. }
        | CustomerTypeProblem::MeterTypeInUse { .. } => "ref.f_meter_types",
        CustomerTypeProblem::NoPriceScheme | CustomerTypeProblem::PriceSchemeKind { .. } => {
            "ref.f_scheme"
        }
        CustomerTypeProblem::NoPaymentMethods => "ref.f_payment_methods",
        CustomerTypeProblem::NatureInUse => "ref.f_nature",
        CustomerTypeProblem::BusinessModelInUse | CustomerTypeProblem::InUse { .. } => {
            "ref.f_business_model"
        }
    }
}
