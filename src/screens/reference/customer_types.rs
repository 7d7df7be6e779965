//! The customer types (`:custtypes`): the list, with add, modify and delete
//! (`customer_type.maintain`). A type's form chooses from the meter types, price schemes and
//! payment methods read with the list.

use super::form::{
    FormTarget, RefForm, Saves, choose, choose_many, key_of, keys_of, set, text_of, word_choices,
    yes_no,
};
use super::list::{ListKind, ShortList};
use super::requests::{ChangeAnswer, Db, RefWork, Says, keyed};
use super::texts::{business_model_key, nature_key, payment_model_key, problem_text};
use crate::app::form::{Choice, Field, FieldKind, Form};
use crate::app::state::Failure;
use crate::app::{App, Command};
use crate::db::customer_types::{self, CustomerTypeInput, CustomerTypeOutcome, CustomerTypeRow};
use crate::db::meters::{self, MeterType};
use crate::db::price_schemes::{self, SchemeRow};
use crate::domain::customer_rules::{BusinessModel, CustomerTypeProblem, Nature};
use crate::i18n::Lang;
use crate::screens::receipt::{named_payment_method, payment_method_of_code};
use crate::ui::inert::inert;
use crate::ui::table::Column;

pub type CustomerTypes = ShortList<CustomerTypeList>;

/// The customer types' requests.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomerTypeRequest {
    /// The types, with what their form chooses from.
    List,
    /// Adds (`modifying` None) or modifies type `modifying.0`, whose form was filled from
    /// `modifying.1`: saved by another desk since, it is refused (`Changed`).
    Save {
        idempotency_key: String,
        modifying: Option<(i64, CustomerTypeInput)>,
        input: CustomerTypeInput,
    },
    /// Deletes type `id`, as the list showed it (`read`): changed by another desk since, it
    /// is refused (`Changed`).
    Delete {
        idempotency_key: String,
        id: i64,
        read: CustomerTypeInput,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum CustomerTypeReply {
    Rows {
        rows: Vec<CustomerTypeRow>,
        choices: TypeChoices,
    },
    Saved(CustomerTypeOutcome),
}

/// What the customer type form chooses from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeChoices {
    pub meter_types: Vec<MeterType>,
    pub schemes: Vec<SchemeRow>,
    /// Code and name.
    pub payment_methods: Vec<(String, String)>,
}

impl RefWork for CustomerTypeRequest {
    type Reply = CustomerTypeReply;

    const PERMISSION: &'static str = "customer_type.maintain";

    keyed!(CustomerTypeRequest, reads: [List], writes: [Save, Delete]);

    async fn run(&self, db: Db<'_>) -> Result<CustomerTypeReply, Failure> {
        Ok(match self {
            CustomerTypeRequest::List => CustomerTypeReply::Rows {
                rows: customer_types::customer_type_rows(&*db.client).await?,
                choices: TypeChoices {
                    meter_types: meters::meter_types(&*db.client).await?,
                    schemes: price_schemes::schemes(&*db.client).await?,
                    payment_methods: customer_types::payment_methods(&*db.client).await?,
                },
            },
            CustomerTypeRequest::Save {
                idempotency_key: key,
                modifying,
                input,
            } => CustomerTypeReply::Saved(match modifying {
                Some((id, read)) => {
                    customer_types::modify_customer_type(
                        db.client,
                        db.operator_id,
                        key,
                        *id,
                        read,
                        input,
                    )
                    .await?
                }
                None => {
                    customer_types::add_customer_type(db.client, db.operator_id, key, input).await?
                }
            }),
            CustomerTypeRequest::Delete {
                idempotency_key: key,
                id,
                read,
            } => CustomerTypeReply::Saved(
                customer_types::delete_customer_type(db.client, db.operator_id, key, *id, read)
                    .await?,
            ),
        })
    }

    fn told(&self, reply: &CustomerTypeReply, lang: Lang) -> Option<ChangeAnswer> {
        let says = Says { lang };
        let CustomerTypeReply::Saved(outcome) = reply else {
            return None;
        };
        let name = match self {
            CustomerTypeRequest::List => "",
            CustomerTypeRequest::Save { input, .. } => &input.name,
            CustomerTypeRequest::Delete { read, .. } => &read.name,
        };
        Some(match outcome {
            CustomerTypeOutcome::Saved { .. } => says.saved("audit_log.entity_customer_type", name),
            CustomerTypeOutcome::Deleted => says.deleted("audit_log.entity_customer_type", name),
            CustomerTypeOutcome::NameTaken => {
                says.on("ref.f_name", lang.t("ref.name_taken").into())
            }
            CustomerTypeOutcome::NotFound => says.said(lang.t("ref.gone").into()),
            CustomerTypeOutcome::Changed => match self {
                CustomerTypeRequest::Delete { .. } => {
                    says.not_deleted("audit_log.entity_customer_type")
                }
                _ => says.changed("audit_log.entity_customer_type"),
            },
            CustomerTypeOutcome::Refused(problems) => Err(problems
                .iter()
                .map(|problem| (Some(problem_label(problem)), problem_text(lang, problem)))
                .collect()),
        })
    }
}

/// The customer types' list, and what their form chooses from, read with it.
#[derive(Debug, Clone, Default)]
pub struct CustomerTypeList {
    pub choices: TypeChoices,
}

impl ListKind for CustomerTypeList {
    type Row = CustomerTypeRow;
    const CRUMB: &'static str = "ref.screen_customer_types";
    const COLUMNS: &'static [Column] = &COLUMNS;
    const COMMANDS: &'static [(Command, &'static str)] = &super::meter_types::LIST_COMMANDS;
    type Work = CustomerTypeRequest;
    const READ: CustomerTypeRequest = CustomerTypeRequest::List;

    fn rows(&mut self, reply: &CustomerTypeReply) -> Option<Vec<CustomerTypeRow>> {
        match reply {
            CustomerTypeReply::Rows { rows, choices } => {
                self.choices = choices.clone();
                Some(rows.clone())
            }
            _ => None,
        }
    }

    fn cells(row: &CustomerTypeRow, lang: Lang) -> Vec<String> {
        let input = &row.input;
        let charging = match (&row.price_scheme_name, input.charges) {
            (Some(name), true) => {
                let methods: Vec<String> = input
                    .payment_methods
                    .iter()
                    .map(|code| payment_method_of_code(lang, code))
                    .collect();
                lang.aside(&inert(name), &lang.list(&methods))
            }
            _ => lang.t("ref.free").to_owned(),
        };
        vec![
            inert(&input.name).into_owned(),
            lang.t(nature_key(input.nature)).to_owned(),
            lang.t(business_model_key(input.business_model)).to_owned(),
            inert(&lang.list(&row.meter_type_names)).into_owned(),
            charging,
            row.customers.to_string(),
        ]
    }

    /// Refused at once when customers have the type.
    fn deletable(row: &CustomerTypeRow, lang: Lang) -> Result<String, String> {
        if row.customers > 0 {
            let problem = CustomerTypeProblem::InUse {
                customers: row.customers,
            };
            return Err(problem_text(lang, &problem));
        }
        Ok(row.input.name.clone())
    }

    fn delete(row: &CustomerTypeRow, idempotency_key: String) -> Option<CustomerTypeRequest> {
        Some(CustomerTypeRequest::Delete {
            idempotency_key,
            id: row.id,
            read: row.input.clone(),
        })
    }

    fn form(&self, row: Option<&CustomerTypeRow>, _command: Command, app: &App) -> Option<RefForm> {
        let lang = app.lang;
        let schemes = std::iter::once(Choice {
            key: String::new(),
            label: lang.t("ref.no_scheme").to_owned(),
        })
        .chain(self.choices.schemes.iter().map(|s| Choice {
            key: s.id.to_string(),
            label: s.fields.name.clone(),
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
                            label: named_payment_method(lang, code, name),
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
        let stored = row.map(|row| (row.id, row.input.clone()));
        Some(RefForm::new(
            form,
            FormTarget::CustomerType { stored },
            &SAVES,
        ))
    }
}

/// The customer type form's request; the database checks its rules (`CustomerTypeProblem`).
pub(super) fn build(
    f: &Form,
    stored: Option<&(i64, CustomerTypeInput)>,
    idempotency_key: String,
) -> Option<CustomerTypeRequest> {
    let meter_type_ids = keys_of(f, "ref.f_meter_types")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let yes = |label| key_of(f, label) == Some("yes");
    Some(CustomerTypeRequest::Save {
        idempotency_key,
        modifying: stored.cloned(),
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

const COLUMNS: [Column; 6] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_nature", 10, 0, false),
    Column::new("ref.col_business_model", 14, 0, false),
    Column::new("ref.col_meter_types", 10, 3, false),
    Column::new("ref.col_charging", 12, 2, false),
    Column::new("ref.col_customers", 9, 0, true),
];

/// The form field a customer type problem belongs to.
fn problem_label(problem: &CustomerTypeProblem) -> &'static str {
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

/// What its forms are saved with: its rules and its request.
static SAVES: Saves<CustomerTypeRequest> = Saves(|target, f, _, _, key| match target {
    // Its rules are the fields' own.
    FormTarget::CustomerType { stored } => build(f, stored.as_ref(), key),
    _ => None,
});
