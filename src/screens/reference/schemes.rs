//! The price schemes' requests and replies, and the forms that add or modify a scheme and
//! change its prices from a date (`price.maintain`): what the list (`super::scheme_list`) and
//! a scheme's details (`super::scheme_detail`) both use.

use chrono::{FixedOffset, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::form::{Errors, FormTarget, RefForm, Saves, key_of, set, text_of, word_choices};
use super::requests::{ChangeAnswer, Db, RefWork, Says, keyed};
use super::texts::scheme_error_text;
use crate::app::form::{Field, FieldKind, Form, field_error_text};
use crate::app::state::Failure;
use crate::db::price_schemes::{self, SchemeDetail, SchemeFields, SchemeOutcome, SchemeRow};
use crate::domain::customer_rules::AccountKind;
use crate::domain::money::{MAX_UNIT_PRICE, MAX_VOLUME};
use crate::domain::pricing::{PriceProblems, PriceVersion, SchemeError, SchemeFieldsError, Tier};
use crate::domain::validation;
use crate::i18n::Lang;
use crate::ui::inert::inert;

/// Tiers a scheme form offers; the last one filled has no upper bound.
pub const TIER_FIELDS: usize = 4;

/// The price schemes' requests.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemeRequest {
    List,
    /// One scheme with its versions.
    Detail {
        id: i64,
    },
    Add {
        idempotency_key: String,
        fields: SchemeFields,
        tiers: Vec<Tier>,
    },
    /// Scheme `id`'s own fields, its form filled from `read`: saved by another desk since, it
    /// is refused (`Changed`).
    Modify {
        idempotency_key: String,
        id: i64,
        read: SchemeFields,
        fields: SchemeFields,
    },
    /// New prices of scheme `id`, their form filled from the scheme's fields `read` (its
    /// name told once saved; its billing mode and VAT rate the tiers were checked against):
    /// changed by another desk since, they are refused (`Changed`).
    ChangePrices {
        idempotency_key: String,
        id: i64,
        read: SchemeFields,
        effective_from: NaiveDate,
        tiers: Vec<Tier>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SchemeReply {
    Rows(Vec<SchemeRow>),
    /// None: no such scheme (any more).
    Detail(Option<Box<SchemeDetail>>),
    Saved(SchemeOutcome),
}

impl RefWork for SchemeRequest {
    type Reply = SchemeReply;

    const PERMISSION: &'static str = "price.maintain";

    keyed!(SchemeRequest, reads: [List, Detail], writes: [Add, Modify, ChangePrices]);

    async fn run(&self, db: Db<'_>) -> Result<SchemeReply, Failure> {
        Ok(match self {
            SchemeRequest::List => SchemeReply::Rows(price_schemes::schemes(&*db.client).await?),
            SchemeRequest::Detail { id } => {
                SchemeReply::Detail(price_schemes::scheme(&*db.client, *id).await?.map(Box::new))
            }
            SchemeRequest::Add {
                idempotency_key: key,
                fields,
                tiers,
            } => SchemeReply::Saved(
                price_schemes::add_scheme(db.client, db.operator_id, key, fields, tiers).await?,
            ),
            SchemeRequest::Modify {
                idempotency_key: key,
                id,
                read,
                fields,
            } => SchemeReply::Saved(
                price_schemes::modify_scheme(db.client, db.operator_id, key, *id, read, fields)
                    .await?,
            ),
            SchemeRequest::ChangePrices {
                idempotency_key: key,
                id,
                read,
                effective_from,
                tiers,
            } => SchemeReply::Saved(
                price_schemes::change_prices(
                    db.client,
                    db.operator_id,
                    key,
                    *id,
                    read,
                    *effective_from,
                    tiers,
                )
                .await?,
            ),
        })
    }

    fn told(&self, reply: &SchemeReply, lang: Lang) -> Option<ChangeAnswer> {
        let says = Says { lang };
        let SchemeReply::Saved(outcome) = reply else {
            return None;
        };
        Some(match outcome {
            SchemeOutcome::Saved { .. } | SchemeOutcome::Corrected { .. } => match self {
                SchemeRequest::Add { fields, .. } | SchemeRequest::Modify { fields, .. } => {
                    says.saved("audit_log.entity_price_scheme", &fields.name)
                }
                SchemeRequest::ChangePrices {
                    effective_from,
                    read,
                    ..
                } => Ok(lang.tf(
                    match outcome {
                        SchemeOutcome::Corrected { .. } => "ref.corrected_prices",
                        _ => "ref.saved_prices",
                    },
                    &[
                        ("date", &effective_from.format("%Y-%m-%d")),
                        ("name", &inert(&read.name)),
                    ],
                )),
                // The reads answer no change: never `Saved`.
                SchemeRequest::List | SchemeRequest::Detail { .. } => return None,
            },
            SchemeOutcome::NotFound => says.said(lang.t("ref.gone").into()),
            SchemeOutcome::Changed => says.changed("audit_log.entity_price_scheme"),
            SchemeOutcome::NameTaken => says.on("ref.f_name", lang.t("ref.name_taken").into()),
            SchemeOutcome::Fields(error) => {
                says.on(fields_error_label(*error), fields_error_text(lang, *error))
            }
            SchemeOutcome::Prices(error) => {
                let tiers = match self {
                    SchemeRequest::Add { tiers, .. }
                    | SchemeRequest::ChangePrices { tiers, .. } => tiers.len(),
                    _ => TIER_FIELDS,
                };
                says.on(
                    scheme_error_label(error, tiers),
                    scheme_error_text(lang, error),
                )
            }
            SchemeOutcome::Fixed => says.said(lang.t("ref.scheme_fixed").into()),
            SchemeOutcome::PastDate { today } => {
                says.on("ref.f_from", lang.tf("ref.past_date", &[("today", today)]))
            }
            SchemeOutcome::DateTaken => says.on("ref.f_from", lang.t("ref.date_taken").into()),
        })
    }
}

/// The form that adds a scheme (no row) or modifies `row`.
pub(super) fn scheme_form(row: Option<&SchemeRow>, lang: Lang) -> RefForm {
    let add = row.is_none();
    let mut fields = vec![Field::new("ref.f_name", FieldKind::Text { max: 50 }, true)];
    if add {
        fields.extend([
            Field::new(
                "ref.f_kind",
                word_choices(
                    lang,
                    &[
                        ("prepaid", "ref.kind_prepaid"),
                        ("postpaid", "ref.kind_postpaid"),
                    ],
                ),
                true,
            ),
            Field::new(
                "ref.f_mode",
                word_choices(
                    lang,
                    &[
                        ("fixed", "ref.mode_fixed"),
                        ("stepped", "ref.mode_stepped"),
                        ("leap", "ref.mode_leap"),
                    ],
                ),
                true,
            ),
            Field::new("ref.f_start", FieldKind::Date, true),
        ]);
    }
    fields.extend([
        Field::new("ref.f_vat", FieldKind::Text { max: 6 }, true),
        Field::new("ref.f_accumulation", FieldKind::Digits { len: 3 }, false),
        Field::new("ref.f_settlement", FieldKind::Digits { len: 2 }, false),
    ]);
    if add {
        tier_fields(&mut fields);
    }
    let mut form = Form::new(fields);
    if let Some(row) = row {
        set(&mut form, "ref.f_name", &row.fields.name);
        set(&mut form, "ref.f_vat", &row.fields.vat_percent.to_string());
        let months = |m: Option<u32>| m.map(|m| m.to_string()).unwrap_or_default();
        set(
            &mut form,
            "ref.f_accumulation",
            &months(row.fields.accumulation_months),
        );
        set(
            &mut form,
            "ref.f_settlement",
            &months(row.fields.settlement_months),
        );
    } else {
        set(&mut form, "ref.f_vat", "9");
    }
    let stored = row.cloned().map(Box::new);
    RefForm::new(form, FormTarget::Scheme { stored }, &SAVES)
}

/// The form that changes the prices of scheme `id` from a date, starting from `tiers`;
/// `read`: the scheme's fields as the screen read them (its billing mode and VAT rate the
/// tiers are checked against); `zone`: the desk's.
pub(super) fn prices_form(
    id: i64,
    read: &SchemeFields,
    tiers: &[Tier],
    zone: FixedOffset,
) -> RefForm {
    let mut fields = vec![Field::new("ref.f_from", FieldKind::Date, true)];
    tier_fields(&mut fields);
    let mut form = Form::new(fields);
    set_tiers(&mut form, tiers);
    let target = FormTarget::Prices {
        id,
        read: Box::new(read.clone()),
        today: Utc::now().with_timezone(&zone).date_naive(),
    };
    RefForm::new(form, target, &SAVES)
}

/// The scheme form's rules: the request, or None with the bad fields in `errors`. `stored`:
/// the scheme modified (its kind, mode and start never change); None: a new scheme with its
/// first prices.
pub(super) fn build(
    f: &Form,
    stored: Option<&SchemeRow>,
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<SchemeRequest> {
    let name = errors.plain_text("ref.f_name", 50, lang);
    let vat = errors.valid(
        "ref.f_vat",
        validation::percent(text_of(f, "ref.f_vat"), Decimal::new(9999, 2)),
        lang,
    );
    let months = |label| text_of(f, label).parse::<u32>().ok();
    let (kind, mode, start) = match stored {
        Some(row) => (
            Some(row.fields.kind),
            Some(row.fields.mode),
            Some(row.fields.start_date),
        ),
        None => (
            key_of(f, "ref.f_kind").and_then(|k| k.parse::<AccountKind>().ok()),
            key_of(f, "ref.f_mode").and_then(|k| crate::db::price_schemes::billing_mode_of(k).ok()),
            NaiveDate::parse_from_str(text_of(f, "ref.f_start"), "%Y-%m-%d").ok(),
        ),
    };
    let tiers = if stored.is_none() {
        tiers_of(f, errors, lang)
    } else {
        Some(Vec::new())
    };
    let (name, vat, kind, mode, start, tiers) = (name?, vat?, kind?, mode?, start?, tiers?);
    let fields = SchemeFields {
        name,
        kind,
        mode,
        vat_percent: vat,
        accumulation_months: months("ref.f_accumulation"),
        settlement_months: months("ref.f_settlement"),
        start_date: start,
    };
    if let Err(error) = fields.check() {
        errors.add(fields_error_label(error), fields_error_text(lang, error));
        None
    } else if let Some(row) = stored {
        Some(SchemeRequest::Modify {
            idempotency_key,
            id: row.id,
            read: row.fields.clone(),
            fields,
        })
    } else if let Err(problems) = fields.first_prices(&tiers) {
        mark_price_problems(&problems, tiers.len(), errors, lang);
        None
    } else {
        Some(SchemeRequest::Add {
            idempotency_key,
            fields,
            tiers,
        })
    }
}

/// The prices form's rules, every problem found at once: the request, or None with the bad
/// fields in `errors`. The tiers are checked against the billing mode and VAT rate of the
/// scheme's fields `read`; a date before `today`, the desk's, only beside another problem:
/// alone, the database's date decides (the two clocks' dates may differ by a day).
pub(super) fn build_prices(
    f: &Form,
    (id, read, today): (i64, &SchemeFields, NaiveDate),
    errors: &mut Errors,
    lang: Lang,
    idempotency_key: String,
) -> Option<SchemeRequest> {
    let from = NaiveDate::parse_from_str(text_of(f, "ref.f_from"), "%Y-%m-%d").ok();
    let tiers = tiers_of(f, errors, lang);
    if let Some(tiers) = &tiers {
        // The date takes no part in the tiers' rules.
        let effective_from = from.unwrap_or(today);
        let version = PriceVersion::new(effective_from, read.mode, tiers.clone(), read.vat_percent);
        if let Err(problems) = version {
            mark_price_problems(&problems, tiers.len(), errors, lang);
        }
    }
    if from.is_some_and(|from| from < today) && errors.any() {
        errors.add("ref.f_from", lang.tf("ref.past_date", &[("today", &today)]));
    }
    Some(SchemeRequest::ChangePrices {
        idempotency_key,
        id,
        read: read.clone(),
        effective_from: from?,
        tiers: tiers?,
    })
}

/// A cycle in months, or a dash for none.
pub(super) fn months(months: Option<u32>) -> String {
    months.map_or_else(|| "—".to_owned(), |m| m.to_string())
}

// ───────────────────────────── Tiers ─────────────────────────────

const TIER_TO: [&str; TIER_FIELDS] = [
    "ref.f_tier1_to",
    "ref.f_tier2_to",
    "ref.f_tier3_to",
    "ref.f_tier4_to",
];
const TIER_PRICE: [&str; TIER_FIELDS] = [
    "ref.f_tier1_price",
    "ref.f_tier2_price",
    "ref.f_tier3_price",
    "ref.f_tier4_price",
];

fn tier_fields(fields: &mut Vec<Field>) {
    for (to, price) in TIER_TO.iter().zip(TIER_PRICE) {
        fields.push(Field::new(to, FieldKind::Text { max: 16 }, false));
        fields.push(Field::new(price, FieldKind::Text { max: 12 }, false));
    }
}

fn set_tiers(form: &mut Form, tiers: &[Tier]) {
    for ((to, price), tier) in TIER_TO.iter().zip(TIER_PRICE).zip(tiers) {
        set(
            form,
            to,
            &tier.up_to.map(|b| b.to_string()).unwrap_or_default(),
        );
        set(form, price, &tier.unit_price.to_string());
    }
}

/// The tiers typed in the tier fields, in order; the last filled one has no upper bound.
fn tiers_of(form: &Form, errors: &mut Errors, lang: Lang) -> Option<Vec<Tier>> {
    let mut tiers = Vec::new();
    let mut ok = true;
    let mut ended = false;
    for (to, price) in TIER_TO.iter().zip(TIER_PRICE) {
        let (to_text, price_text) = (text_of(form, to), text_of(form, price));
        if price_text.is_empty() {
            if !to_text.is_empty() {
                errors.add(
                    price,
                    field_error_text(lang, &validation::FieldError::Required),
                );
                ok = false;
            }
            ended = true;
            continue;
        }
        if ended {
            errors.add(price, lang.t("ref.tier_gap").to_owned());
            ok = false;
            continue;
        }
        let unit_price = errors.valid(
            price,
            validation::unit_price(price_text, MAX_UNIT_PRICE),
            lang,
        );
        let up_to = if to_text.is_empty() {
            Some(None)
        } else {
            errors
                .valid(to, validation::volume(to_text, MAX_VOLUME), lang)
                .map(Some)
        };
        match (unit_price, up_to) {
            (Some(unit_price), Some(up_to)) => tiers.push(Tier { up_to, unit_price }),
            _ => ok = false,
        }
    }
    if tiers.is_empty() && ok {
        errors.add(
            TIER_PRICE[0],
            field_error_text(lang, &validation::FieldError::Required),
        );
        ok = false;
    }
    ok.then_some(tiers)
}

/// Each of a price's `problems` on its field, in a form with `tiers` tiers filled.
fn mark_price_problems(problems: &PriceProblems, tiers: usize, errors: &mut Errors, lang: Lang) {
    for problem in problems.all() {
        errors.add(
            scheme_error_label(problem, tiers),
            scheme_error_text(lang, problem),
        );
    }
}

/// The field a price problem belongs to, in a form with `tiers` tiers filled: the tier that
/// is wrong (the last filled one for a bound or a price the last tier must not have, the
/// second for a fixed price with more than one).
fn scheme_error_label(error: &SchemeError, tiers: usize) -> &'static str {
    let at = |tier: usize| (tier.max(1) - 1).min(TIER_FIELDS - 1);
    match error {
        SchemeError::UnboundedTierNotLast { tier }
        | SchemeError::BoundNotIncreasing { tier }
        | SchemeError::BoundOutOfRange { tier } => TIER_TO[at(*tier)],
        SchemeError::LastTierBounded => TIER_TO[at(tiers)],
        SchemeError::PriceOutOfRange { tier } | SchemeError::PriceFalls { tier } => {
            TIER_PRICE[at(*tier)]
        }
        SchemeError::FreeLastTier => TIER_PRICE[at(tiers)],
        SchemeError::FixedNeedsOneTier => TIER_PRICE[at(2)],
        SchemeError::VatRateOutOfRange => "ref.f_vat",
        _ => TIER_PRICE[0],
    }
}

fn fields_error_label(error: SchemeFieldsError) -> &'static str {
    match error {
        SchemeFieldsError::VatRate => "ref.f_vat",
        SchemeFieldsError::AccumulationCycle => "ref.f_accumulation",
        SchemeFieldsError::SettlementCycle => "ref.f_settlement",
    }
}

fn fields_error_text(lang: Lang, error: SchemeFieldsError) -> String {
    lang.t(match error {
        SchemeFieldsError::VatRate => "ref.se_vat",
        SchemeFieldsError::AccumulationCycle => "ref.se_accumulation",
        SchemeFieldsError::SettlementCycle => "ref.se_settlement",
    })
    .to_owned()
}

/// What its forms are saved with: its rules and its request.
static SAVES: Saves<SchemeRequest> = Saves(|target, f, errors, lang, key| match target {
    FormTarget::Scheme { stored } => build(f, stored.as_deref(), errors, lang, key),
    FormTarget::Prices { id, read, today } => {
        build_prices(f, (*id, read, *today), errors, lang, key)
    }
    _ => None,
});
