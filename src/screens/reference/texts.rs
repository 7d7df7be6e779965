//! The texts the reference screens share: the names of stored words (statuses, models, kinds,
//! modes, natures) and the problems of a scheme, a meter number or a customer type, in the
//! clerk's language.

use crate::app::form::field_error_text;
use crate::domain::customer_rules::{
    AccountKind, BusinessModel, CustomerTypeProblem, Nature, PaymentModel,
};
use crate::domain::meter_csv::MeterNoError;
use crate::domain::pricing::{BillingMode, SchemeError};
use crate::i18n::Lang;
use crate::ui::inert::inert;

pub fn in_use_text(lang: Lang, meters: i64, customer_types: i64) -> String {
    lang.tf(
        "ref.meter_type_in_use",
        &[("meters", &meters), ("types", &customer_types)],
    )
}

/// The catalogue key of a meter status.
pub fn status_key(status: &str) -> &'static str {
    match status {
        "uninstalled" => "ref.status_uninstalled",
        "installed" => "ref.status_installed",
        _ => "ref.status_removed",
    }
}

pub fn scheme_error_text(lang: Lang, error: &SchemeError) -> String {
    match error {
        SchemeError::NoTiers => lang.t("ref.se_no_tiers").into(),
        SchemeError::FixedNeedsOneTier => lang.t("ref.se_fixed_one_tier").into(),
        SchemeError::LastTierBounded => lang.t("ref.se_last_bounded").into(),
        SchemeError::UnboundedTierNotLast { tier } => {
            lang.tf("ref.se_unbounded_not_last", &[("tier", tier)])
        }
        SchemeError::BoundNotIncreasing { tier } => {
            lang.tf("ref.se_bound_not_increasing", &[("tier", tier)])
        }
        SchemeError::BoundOutOfRange { tier } => lang.tf("ref.se_bound_range", &[("tier", tier)]),
        SchemeError::PriceOutOfRange { tier } => lang.tf("ref.se_price_range", &[("tier", tier)]),
        SchemeError::PriceFalls { tier } => lang.tf("ref.se_price_falls", &[("tier", tier)]),
        SchemeError::FreeLastTier => lang.t("ref.se_free_last").into(),
        SchemeError::VatRateOutOfRange => lang.t("ref.se_vat").into(),
        SchemeError::CycleMonths { months } => lang.tf("ref.se_cycle", &[("months", months)]),
        SchemeError::NoVersions => lang.t("ref.se_no_versions").into(),
        SchemeError::SameEffectiveDate { date } => lang.tf("ref.se_same_date", &[("date", date)]),
    }
}

pub fn meter_no_error_text(lang: Lang, error: &MeterNoError) -> String {
    match error {
        MeterNoError::Length => lang.t("ref.meter_no_length").into(),
        MeterNoError::Character(c) => lang.tf(
            "ref.meter_no_character",
            &[("character", &format!("{c:?}"))],
        ),
    }
}

/// A customer type problem in the clerk's language.
pub fn problem_text(lang: Lang, problem: &CustomerTypeProblem) -> String {
    match problem {
        CustomerTypeProblem::Name(error) => field_error_text(lang, error),
        CustomerTypeProblem::NoMeterTypes => lang.t("ref.ct_no_meter_types").into(),
        CustomerTypeProblem::MeterTypeDoesNotFit {
            meter_type, needs, ..
        } => lang.tf(
            "ref.ct_meter_type_fit",
            &[
                ("meter_type", &inert(meter_type)),
                ("needs", &lang.t(payment_model_key(*needs))),
            ],
        ),
        CustomerTypeProblem::NoPriceScheme => lang.t("ref.ct_no_scheme").into(),
        CustomerTypeProblem::PriceSchemeKind { scheme, needs } => lang.tf(
            "ref.ct_scheme_kind",
            &[
                ("scheme", &inert(scheme)),
                ("needs", &lang.t(kind_key(*needs))),
            ],
        ),
        CustomerTypeProblem::NoPaymentMethods => lang.t("ref.ct_no_payment_methods").into(),
        CustomerTypeProblem::InUse { customers } => {
            lang.tf("ref.ct_in_use", &[("customers", customers)])
        }
        CustomerTypeProblem::NatureInUse => lang.t("ref.ct_nature_in_use").into(),
        CustomerTypeProblem::BusinessModelInUse => lang.t("ref.ct_model_in_use").into(),
        CustomerTypeProblem::MeterTypeInUse { meter_type } => lang.tf(
            "ref.ct_meter_type_in_use",
            &[("meter_type", &inert(meter_type))],
        ),
    }
}

pub fn payment_model_key(model: PaymentModel) -> &'static str {
    match model {
        PaymentModel::Prepayment => "ref.pm_prepayment",
        PaymentModel::Postpayment => "ref.pm_postpayment",
    }
}

pub fn kind_key(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Prepaid => "ref.kind_prepaid",
        AccountKind::Postpaid => "ref.kind_postpaid",
    }
}

pub fn mode_key(mode: BillingMode) -> &'static str {
    match mode {
        BillingMode::Fixed => "ref.mode_fixed",
        BillingMode::Stepped => "ref.mode_stepped",
        BillingMode::Leap => "ref.mode_leap",
    }
}

pub fn business_model_key(model: BusinessModel) -> &'static str {
    match model {
        BusinessModel::MeterPrepaid => "ref.bm_meter_prepaid",
        BusinessModel::SystemPrepaid => "ref.bm_system_prepaid",
        BusinessModel::Postpaid => "ref.bm_postpaid",
    }
}

pub fn nature_key(nature: Nature) -> &'static str {
    match nature {
        Nature::Personal => "ref.nature_personal",
        Nature::Enterprise => "ref.nature_enterprise",
        Nature::Statistical => "ref.nature_statistical",
    }
}
