//! The meter types (`:metertypes`): the list, with add, modify and delete (`meter.maintain`).

use super::form::{Errors, FormTarget, RefForm, Saves, choose, key_of, set, text_of, word_choices};
use super::list::{ListKind, ShortList};
use super::requests::{ChangeAnswer, Db, RefWork, Says, keyed};
use super::texts::{in_use_text, payment_model_key};
use crate::app::form::{Field, FieldKind, Form};
use crate::app::state::Failure;
use crate::app::{App, Command};
use crate::db::meters::{
    self, MeterType, MeterTypeDeletion, MeterTypeFields, MeterTypeOutcome, MeterTypeRow,
};
use crate::domain::customer_rules::PaymentModel;
use crate::domain::meter_csv::caliber;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::table::Column;

pub type MeterTypes = ShortList<MeterTypeList>;

/// The meter types' requests.
#[derive(Debug, Clone, PartialEq)]
pub enum MeterTypeRequest {
    List,
    /// Adds (`modifying` None) or modifies the type `modifying` is, as its form was filled
    /// from it: saved by another desk since, it is refused (`Changed`).
    Save {
        idempotency_key: String,
        modifying: Option<MeterType>,
        name: String,
        payment_model: PaymentModel,
        caliber: String,
        manufacturer: String,
    },
    /// Deletes the type `read` is, as the list showed it: changed by another desk since, it is
    /// refused (`Changed`).
    Delete {
        idempotency_key: String,
        read: MeterType,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MeterTypeReply {
    Rows(Vec<MeterTypeRow>),
    Saved(MeterTypeOutcome),
    Deleted(MeterTypeDeletion),
}

impl RefWork for MeterTypeRequest {
    type Reply = MeterTypeReply;

    const PERMISSION: &'static str = "meter.maintain";

    keyed!(MeterTypeRequest, reads: [List], writes: [Save, Delete]);

    async fn run(&self, db: Db<'_>) -> Result<MeterTypeReply, Failure> {
        Ok(match self {
            MeterTypeRequest::List => {
                MeterTypeReply::Rows(meters::meter_type_rows(&*db.client).await?)
            }
            MeterTypeRequest::Save {
                idempotency_key,
                modifying,
                name,
                payment_model,
                caliber,
                manufacturer,
            } => MeterTypeReply::Saved(
                meters::save_meter_type(
                    db.client,
                    db.operator_id,
                    idempotency_key,
                    modifying.as_ref(),
                    MeterTypeFields {
                        name,
                        payment_model: *payment_model,
                        caliber,
                        manufacturer,
                    },
                )
                .await?,
            ),
            MeterTypeRequest::Delete {
                idempotency_key,
                read,
            } => MeterTypeReply::Deleted(
                meters::delete_meter_type(db.client, db.operator_id, idempotency_key, read).await?,
            ),
        })
    }

    fn told(&self, reply: &MeterTypeReply, lang: Lang) -> Option<ChangeAnswer> {
        let says = Says { lang };
        let name = match self {
            MeterTypeRequest::List => "",
            MeterTypeRequest::Save { name, .. } => name,
            MeterTypeRequest::Delete { read, .. } => &read.name,
        };
        Some(match reply {
            MeterTypeReply::Rows(_) => return None,
            MeterTypeReply::Saved(outcome) => match outcome {
                MeterTypeOutcome::Saved { .. } => says.saved("audit_log.entity_meter_type", name),
                MeterTypeOutcome::NameTaken => {
                    says.on("ref.f_name", lang.t("ref.name_taken").into())
                }
                MeterTypeOutcome::PaymentModelInUse => says.on(
                    "ref.f_payment_model",
                    lang.t("ref.payment_model_in_use").into(),
                ),
                MeterTypeOutcome::NotFound => says.said(lang.t("ref.gone").into()),
                MeterTypeOutcome::Changed => says.changed("audit_log.entity_meter_type"),
            },
            MeterTypeReply::Deleted(outcome) => match outcome {
                MeterTypeDeletion::Deleted => says.deleted("audit_log.entity_meter_type", name),
                MeterTypeDeletion::InUse {
                    meters,
                    customer_types,
                } => says.said(in_use_text(lang, *meters, *customer_types)),
                MeterTypeDeletion::NotFound => says.done("ref.gone"),
                MeterTypeDeletion::Changed => says.not_deleted("audit_log.entity_meter_type"),
            },
        })
    }
}

/// The meter types' list.
#[derive(Debug, Clone, Default)]
pub struct MeterTypeList;

/// The commands of a short list that adds, modifies and deletes its rows.
pub(super) const LIST_COMMANDS: [(Command, &str); 4] = [
    (Command::Add, "command.add"),
    (Command::Modify, "command.modify"),
    (Command::Delete, "command.delete"),
    (Command::Refresh, "command.refresh"),
];

impl ListKind for MeterTypeList {
    type Row = MeterTypeRow;
    const CRUMB: &'static str = "ref.screen_meter_types";
    const COLUMNS: &'static [Column] = &COLUMNS;
    const COMMANDS: &'static [(Command, &'static str)] = &LIST_COMMANDS;
    type Work = MeterTypeRequest;
    const READ: MeterTypeRequest = MeterTypeRequest::List;

    fn rows(&mut self, reply: &MeterTypeReply) -> Option<Vec<MeterTypeRow>> {
        match reply {
            MeterTypeReply::Rows(rows) => Some(rows.clone()),
            _ => None,
        }
    }

    fn cells(row: &MeterTypeRow, lang: Lang) -> Vec<String> {
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
    }

    /// Refused at once when meters or customer types use the type.
    fn deletable(row: &MeterTypeRow, lang: Lang) -> Result<String, String> {
        if row.meters + row.customer_types > 0 {
            return Err(in_use_text(lang, row.meters, row.customer_types));
        }
        Ok(row.meter_type.name.clone())
    }

    fn delete(row: &MeterTypeRow, idempotency_key: String) -> Option<MeterTypeRequest> {
        Some(MeterTypeRequest::Delete {
            idempotency_key,
            read: row.meter_type.clone(),
        })
    }

    fn form(&self, row: Option<&MeterTypeRow>, _command: Command, app: &App) -> Option<RefForm> {
        let lang = app.lang;
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
        let stored = row.map(|row| row.meter_type.clone());
        Some(RefForm::new(form, FormTarget::MeterType { stored }, &SAVES))
    }
}

/// The meter type form's rules: the request, or None with the bad fields in `errors`.
pub(super) fn build(
    f: &Form,
    modifying: Option<&MeterType>,
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<MeterTypeRequest> {
    let caliber = errors.check(
        "ref.f_caliber",
        caliber(text_of(f, "ref.f_caliber")).ok_or(()),
        |()| lang.t("ref.caliber_format").to_owned(),
    );
    let payment_model = key_of(f, "ref.f_payment_model").and_then(|k| k.parse().ok());
    let name = errors.plain_text("ref.f_name", 50, lang);
    let manufacturer = errors.plain_text("ref.f_manufacturer", 50, lang);
    Some(MeterTypeRequest::Save {
        idempotency_key,
        modifying: modifying.cloned(),
        name: name?,
        payment_model: payment_model?,
        caliber: caliber?,
        manufacturer: manufacturer?,
    })
}

const COLUMNS: [Column; 7] = [
    Column::new("ref.col_name", 10, 3, false),
    Column::new("ref.col_payment_model", 11, 1, false),
    Column::new("ref.col_card", 4, 0, false),
    Column::new("ref.col_caliber", 7, 0, false),
    Column::new("ref.col_manufacturer", 10, 2, false),
    Column::new("ref.col_meters", 8, 0, true),
    Column::new("ref.col_used_by_types", 10, 0, true),
];

/// What its forms are saved with: its rules and its request.
static SAVES: Saves<MeterTypeRequest> = Saves(|target, f, errors, lang, key| match target {
    FormTarget::MeterType { stored } => build(f, stored.as_ref(), errors, lang, key),
    _ => None,
});
