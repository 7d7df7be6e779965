//! Customer management rules (domain.md, 4.6.1 and 4.6.2): the vocabularies the schema stores as
//! text, what makes a customer type valid and what may change once customers use it, and the
//! basic-information form per nature of water usage.

use std::fmt;

use super::validation::{self, FieldError, IdDocumentPolicy, optional};

/// A closed vocabulary stored as `text` with a CHECK: the enum, its stored words and parsing.
macro_rules! stored_words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The word the database stores.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownWord;

            fn from_str(word: &str) -> Result<Self, UnknownWord> {
                match word {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(UnknownWord(word.to_owned())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A stored word outside its vocabulary: the schema's CHECKs make this a broken database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a known value")]
pub struct UnknownWord(pub String);

stored_words!(
    /// How a meter type is paid for: a prepayment meter holds credit (the IC-card meter).
    PaymentModel { Prepayment => "prepayment", Postpayment => "postpayment" }
);
stored_words!(
    /// Nature of water usage: decides the basic-information form.
    Nature { Personal => "personal", Enterprise => "enterprise", Statistical => "statistical" }
);
stored_words!(
    /// Business model of a customer type.
    BusinessModel {
        MeterPrepaid => "meter_prepaid",
        SystemPrepaid => "system_prepaid",
        Postpaid => "postpaid",
    }
);
stored_words!(
    /// Prepaid or postpaid: the kind of an account, and of the price scheme that prices it.
    AccountKind { Prepaid => "prepaid", Postpaid => "postpaid" }
);

impl BusinessModel {
    /// Only a card meter can hold the credit of a meter-prepaid customer; the system-side
    /// models read an ordinary meter.
    pub fn meter_payment_model(self) -> PaymentModel {
        match self {
            BusinessModel::MeterPrepaid => PaymentModel::Prepayment,
            BusinessModel::SystemPrepaid | BusinessModel::Postpaid => PaymentModel::Postpayment,
        }
    }

    /// The account opened for a customer, and the kind of price scheme that charges it.
    pub fn account_kind(self) -> AccountKind {
        match self {
            BusinessModel::MeterPrepaid | BusinessModel::SystemPrepaid => AccountKind::Prepaid,
            BusinessModel::Postpaid => AccountKind::Postpaid,
        }
    }
}

// ───────────────────────────── Customer types ─────────────────────────────

/// Longest customer type name, in characters.
pub const CUSTOMER_TYPE_NAME_MAX: usize = 50;

/// A meter type as the customer type form shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterTypeRef {
    pub id: i64,
    pub name: String,
    pub payment_model: PaymentModel,
}

/// A price scheme as the customer type form shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceSchemeRef {
    pub id: i64,
    pub name: String,
    pub kind: AccountKind,
}

/// The customer type form, with the meter types and scheme chosen already looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTypeForm {
    pub name: String,
    pub nature: Nature,
    pub business_model: BusinessModel,
    pub meter_types: Vec<MeterTypeRef>,
    pub counts_water_usage: bool,
    pub charges: bool,
    /// Ignored unless `charges`: the screen hides it then.
    pub price_scheme: Option<PriceSchemeRef>,
    /// Payment method codes; ignored unless `charges`.
    pub payment_methods: Vec<String>,
}

/// Whether and how customers of a type are charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charging {
    Free,
    Charged {
        price_scheme_id: i64,
        payment_methods: Vec<String>,
    },
}

/// A customer type that keeps every rule of 4.6.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTypeSpec {
    pub name: String,
    pub nature: Nature,
    pub business_model: BusinessModel,
    /// Sorted, without repeats.
    pub meter_type_ids: Vec<i64>,
    pub counts_water_usage: bool,
    pub charging: Charging,
}

/// Why a customer type cannot be saved; the form shows all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerTypeProblem {
    #[error("name: {0}")]
    Name(FieldError),
    #[error("choose at least one meter type")]
    NoMeterTypes,
    #[error("meter type {meter_type} is not a {needs} meter, which a {business_model} type needs")]
    MeterTypeDoesNotFit {
        meter_type: String,
        needs: PaymentModel,
        business_model: BusinessModel,
    },
    #[error("a type that charges needs a price scheme")]
    NoPriceScheme,
    #[error("price scheme {scheme} is not {needs}")]
    PriceSchemeKind { scheme: String, needs: AccountKind },
    #[error("a type that charges needs at least one payment method")]
    NoPaymentMethods,
    #[error("{customers} customers have this type: it cannot be deleted")]
    InUse { customers: i64 },
    #[error("customers have this type: its nature of water usage cannot change")]
    NatureInUse,
    #[error("customers have this type: its business model cannot change")]
    BusinessModelInUse,
    #[error("customers of this type have meters of type {meter_type}: it must stay allowed")]
    MeterTypeInUse { meter_type: String },
}

/// Checks a customer type form: a name, one or more meter types that fit the business model,
/// and, when it charges, a price scheme of the business model's kind and a payment method.
pub fn validate_customer_type(
    form: &CustomerTypeForm,
) -> Result<CustomerTypeSpec, Vec<CustomerTypeProblem>> {
    let mut problems = Vec::new();
    let name = validation::plain_text(&form.name, CUSTOMER_TYPE_NAME_MAX)
        .map_err(|error| problems.push(CustomerTypeProblem::Name(error)))
        .unwrap_or_default();
    if form.meter_types.is_empty() {
        problems.push(CustomerTypeProblem::NoMeterTypes);
    }
    let needs = form.business_model.meter_payment_model();
    problems.extend(
        form.meter_types
            .iter()
            .filter(|meter_type| meter_type.payment_model != needs)
            .map(|meter_type| CustomerTypeProblem::MeterTypeDoesNotFit {
                meter_type: meter_type.name.clone(),
                needs,
                business_model: form.business_model,
            }),
    );
    let charging = if form.charges {
        let kind = form.business_model.account_kind();
        let scheme_id = match &form.price_scheme {
            None => {
                problems.push(CustomerTypeProblem::NoPriceScheme);
                0
            }
            Some(scheme) if scheme.kind != kind => {
                problems.push(CustomerTypeProblem::PriceSchemeKind {
                    scheme: scheme.name.clone(),
                    needs: kind,
                });
                0
            }
            Some(scheme) => scheme.id,
        };
        let mut payment_methods = form.payment_methods.clone();
        payment_methods.sort();
        payment_methods.dedup();
        if payment_methods.is_empty() {
            problems.push(CustomerTypeProblem::NoPaymentMethods);
        }
        Charging::Charged {
            price_scheme_id: scheme_id,
            payment_methods,
        }
    } else {
        Charging::Free
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut meter_type_ids: Vec<i64> = form.meter_types.iter().map(|t| t.id).collect();
    meter_type_ids.sort_unstable();
    meter_type_ids.dedup();
    Ok(CustomerTypeSpec {
        name,
        nature: form.nature,
        business_model: form.business_model,
        meter_type_ids,
        counts_water_usage: form.counts_water_usage,
        charging,
    })
}

/// How a stored customer type is used by customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeUsage {
    pub nature: Nature,
    pub business_model: BusinessModel,
    /// Customers (open or closed) of the type: closed ones keep their history under it.
    pub customers: i64,
    /// Meter types of those customers' meters.
    pub meter_types_in_use: Vec<MeterTypeRef>,
}

/// May a customer type be deleted? Only while no customer has it.
pub fn may_delete_customer_type(usage: &TypeUsage) -> Result<(), CustomerTypeProblem> {
    match usage.customers {
        0 => Ok(()),
        customers => Err(CustomerTypeProblem::InUse { customers }),
    }
}

/// May a stored type become `change`? While in use its nature and business model stay (the
/// customers' basic information, meters and accounts were chosen for them; the schema holds the
/// nature too), and every meter type its customers' meters have stays allowed.
pub fn may_change_customer_type(
    usage: &TypeUsage,
    change: &CustomerTypeSpec,
) -> Result<(), Vec<CustomerTypeProblem>> {
    if usage.customers == 0 {
        return Ok(());
    }
    let mut problems = Vec::new();
    if change.nature != usage.nature {
        problems.push(CustomerTypeProblem::NatureInUse);
    }
    if change.business_model != usage.business_model {
        problems.push(CustomerTypeProblem::BusinessModelInUse);
    }
    problems.extend(
        usage
            .meter_types_in_use
            .iter()
            .filter(|used| !change.meter_type_ids.contains(&used.id))
            .map(|used| CustomerTypeProblem::MeterTypeInUse {
                meter_type: used.name.clone(),
            }),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

// ───────────────────────────── Basic information ─────────────────────────────

/// A field of the basic-information form. `key` names it in the catalogue, the audit log and
/// the owner history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Name,
    IdDocumentNo,
    Mobile,
    Address,
    HouseholdSize,
    Email,
    CompanyName,
    RegistrationNo,
    ContactPerson,
    Phone,
    Label,
    Location,
    Remark,
}

impl Field {
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::IdDocumentNo => "id_document_no",
            Field::Mobile => "mobile",
            Field::Address => "address",
            Field::HouseholdSize => "household_size",
            Field::Email => "email",
            Field::CompanyName => "company_name",
            Field::RegistrationNo => "registration_no",
            Field::ContactPerson => "contact_person",
            Field::Phone => "phone",
            Field::Label => "label",
            Field::Location => "location",
            Field::Remark => "remark",
        }
    }

    /// The field a stored key names (the owner history keeps information by key).
    pub fn from_key(key: &str) -> Option<Field> {
        [Nature::Personal, Nature::Enterprise, Nature::Statistical]
            .into_iter()
            .flat_map(Field::of)
            .copied()
            .find(|field| field.key() == key)
    }

    /// The form's fields for a nature, in the order the screen shows them.
    pub fn of(nature: Nature) -> &'static [Field] {
        match nature {
            Nature::Personal => &[
                Field::Name,
                Field::IdDocumentNo,
                Field::Mobile,
                Field::Address,
                Field::HouseholdSize,
                Field::Email,
                Field::Remark,
            ],
            Nature::Enterprise => &[
                Field::CompanyName,
                Field::RegistrationNo,
                Field::ContactPerson,
                Field::Phone,
                Field::Address,
                Field::Remark,
            ],
            Nature::Statistical => &[Field::Label, Field::Location, Field::Remark],
        }
    }

    /// Marked * on the form.
    pub fn is_required(self) -> bool {
        !matches!(
            self,
            Field::IdDocumentNo
                | Field::HouseholdSize
                | Field::Email
                | Field::RegistrationNo
                | Field::Remark
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalInfo {
    pub name: String,
    pub id_document_no: Option<String>,
    /// 11 digits.
    pub mobile: String,
    pub address: String,
    pub household_size: Option<u32>,
    pub email: Option<String>,
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseInfo {
    pub company_name: String,
    /// A unified social credit code or another registration number.
    pub registration_no: Option<String>,
    pub contact_person: String,
    /// A mobile or a landline.
    pub phone: String,
    pub address: String,
    pub remark: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticalInfo {
    pub label: String,
    pub location: String,
    pub remark: Option<String>,
}

/// A customer's basic information, validated: which fields exist follows the nature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicInfo {
    Personal(PersonalInfo),
    Enterprise(EnterpriseInfo),
    Statistical(StatisticalInfo),
}

/// Every field in error, in form order, each with its reason.
pub type FieldErrors = Vec<(Field, FieldError)>;

/// Collects field results so one pass reports every bad field.
struct Checker<'a> {
    typed: &'a dyn Fn(Field) -> String,
    errors: FieldErrors,
}

impl Checker<'_> {
    /// A required field; an empty string stands in for a bad one (never used: errors win).
    fn required<T: Default>(
        &mut self,
        field: Field,
        validate: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> T {
        validate(&(self.typed)(field)).unwrap_or_else(|error| {
            self.errors.push((field, error));
            T::default()
        })
    }

    fn optional<T>(
        &mut self,
        field: Field,
        validate: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        optional(&(self.typed)(field), validate).unwrap_or_else(|error| {
            self.errors.push((field, error));
            None
        })
    }
}

impl BasicInfo {
    /// Validates the form of `nature`; `typed` gives the text typed into a field (blank for
    /// none). Reports every field in error, so the screen marks them all at once. `today` is
    /// the desk's (an identity number's birth date must not be after it).
    pub fn validate(
        nature: Nature,
        policy: IdDocumentPolicy,
        today: chrono::NaiveDate,
        typed: impl Fn(Field) -> String,
    ) -> Result<BasicInfo, FieldErrors> {
        let mut check = Checker {
            typed: &typed,
            errors: Vec::new(),
        };
        let info = match nature {
            Nature::Personal => BasicInfo::Personal(PersonalInfo {
                name: check.required(Field::Name, validation::personal_name),
                id_document_no: check.optional(Field::IdDocumentNo, |text| {
                    validation::id_document_number(text, policy, today)
                }),
                mobile: check.required(Field::Mobile, validation::mobile),
                address: check.required(Field::Address, validation::address),
                household_size: check.optional(Field::HouseholdSize, validation::household_size),
                email: check.optional(Field::Email, validation::email),
                remark: check.optional(Field::Remark, validation::remark),
            }),
            Nature::Enterprise => BasicInfo::Enterprise(EnterpriseInfo {
                company_name: check.required(Field::CompanyName, validation::company_name),
                registration_no: check
                    .optional(Field::RegistrationNo, validation::registration_number),
                contact_person: check.required(Field::ContactPerson, validation::personal_name),
                phone: check.required(Field::Phone, validation::phone),
                address: check.required(Field::Address, validation::address),
                remark: check.optional(Field::Remark, validation::remark),
            }),
            Nature::Statistical => BasicInfo::Statistical(StatisticalInfo {
                label: check.required(Field::Label, validation::label),
                location: check.required(Field::Location, validation::address),
                remark: check.optional(Field::Remark, validation::remark),
            }),
        };
        if check.errors.is_empty() {
            Ok(info)
        } else {
            Err(check.errors)
        }
    }

    pub fn nature(&self) -> Nature {
        match self {
            BasicInfo::Personal(_) => Nature::Personal,
            BasicInfo::Enterprise(_) => Nature::Enterprise,
            BasicInfo::Statistical(_) => Nature::Statistical,
        }
    }

    /// Each field of the nature with its value as shown (None: left blank), in form order.
    pub fn values(&self) -> Vec<(Field, Option<String>)> {
        let text = |value: &String| Some(value.clone());
        match self {
            BasicInfo::Personal(info) => vec![
                (Field::Name, text(&info.name)),
                (Field::IdDocumentNo, info.id_document_no.clone()),
                (Field::Mobile, text(&info.mobile)),
                (Field::Address, text(&info.address)),
                (
                    Field::HouseholdSize,
                    info.household_size.map(|size| size.to_string()),
                ),
                (Field::Email, info.email.clone()),
                (Field::Remark, info.remark.clone()),
            ],
            BasicInfo::Enterprise(info) => vec![
                (Field::CompanyName, text(&info.company_name)),
                (Field::RegistrationNo, info.registration_no.clone()),
                (Field::ContactPerson, text(&info.contact_person)),
                (Field::Phone, text(&info.phone)),
                (Field::Address, text(&info.address)),
                (Field::Remark, info.remark.clone()),
            ],
            BasicInfo::Statistical(info) => vec![
                (Field::Label, text(&info.label)),
                (Field::Location, text(&info.location)),
                (Field::Remark, info.remark.clone()),
            ],
        }
    }

    /// The holder's name and identifying number (identity document; an enterprise's credit
    /// code) as stored; None for a statistical customer, which has no holder.
    fn holder(&self) -> Option<(&str, Option<&str>)> {
        match self {
            BasicInfo::Personal(info) => Some((&info.name, info.id_document_no.as_deref())),
            BasicInfo::Enterprise(info) => {
                Some((&info.company_name, info.registration_no.as_deref()))
            }
            BasicInfo::Statistical(_) => None,
        }
    }

    /// Whether changing `self` into `new` is a change of owner, not a correction: both the
    /// name and an identifying number that was filled in change (a personal customer's name
    /// and identity document number; an enterprise's company name and credit code). One of
    /// them alone is a correction, so is a number filled in where there was none; a
    /// statistical customer has no owner. A transfer keeps the owner history; a modify may
    /// not do it (sql/V230 refuses it, SQLSTATE MD441, with the same rule).
    pub fn changes_owner(&self, new: &BasicInfo) -> bool {
        match (self.holder(), new.holder()) {
            (Some((name, Some(number))), Some((new_name, new_number))) => {
                name != new_name && Some(number) != new_number
            }
            _ => false,
        }
    }

    /// The fields whose values differ between `self` and `other`; every field when the natures
    /// differ.
    pub fn changed_fields(&self, other: &BasicInfo) -> Vec<Field> {
        if self.nature() != other.nature() {
            return Field::of(self.nature()).to_vec();
        }
        self.values()
            .into_iter()
            .zip(other.values())
            .filter(|((_, mine), (_, theirs))| mine != theirs)
            .map(|((field, _), _)| field)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn meter_type(id: i64, model: PaymentModel) -> MeterTypeRef {
        MeterTypeRef {
            id,
            name: format!("type {id}"),
            payment_model: model,
        }
    }

    fn scheme(kind: AccountKind) -> PriceSchemeRef {
        PriceSchemeRef {
            id: 7,
            name: format!("{kind} scheme"),
            kind,
        }
    }

    fn card_type_form() -> CustomerTypeForm {
        CustomerTypeForm {
            name: "  Residents   card ".to_owned(),
            nature: Nature::Personal,
            business_model: BusinessModel::MeterPrepaid,
            meter_types: vec![
                meter_type(2, PaymentModel::Prepayment),
                meter_type(1, PaymentModel::Prepayment),
            ],
            counts_water_usage: true,
            charges: true,
            price_scheme: Some(scheme(AccountKind::Prepaid)),
            payment_methods: vec!["cash".to_owned(), "alipay".to_owned(), "cash".to_owned()],
        }
    }

    #[test]
    fn business_models_pick_meters_accounts_and_schemes() {
        use BusinessModel::*;
        assert_eq!(MeterPrepaid.meter_payment_model(), PaymentModel::Prepayment);
        assert_eq!(
            SystemPrepaid.meter_payment_model(),
            PaymentModel::Postpayment
        );
        assert_eq!(Postpaid.meter_payment_model(), PaymentModel::Postpayment);
        assert_eq!(MeterPrepaid.account_kind(), AccountKind::Prepaid);
        assert_eq!(SystemPrepaid.account_kind(), AccountKind::Prepaid);
        assert_eq!(Postpaid.account_kind(), AccountKind::Postpaid);
        for model in [MeterPrepaid, SystemPrepaid, Postpaid] {
            assert_eq!(model.as_str().parse(), Ok(model));
        }
        assert!("prepaid".parse::<BusinessModel>().is_err());
    }

    #[test]
    fn a_valid_customer_type_is_normalised() {
        let spec = validate_customer_type(&card_type_form()).unwrap();
        assert_eq!(spec.name, "Residents card");
        assert_eq!(spec.meter_type_ids, [1, 2]);
        assert_eq!(
            spec.charging,
            Charging::Charged {
                price_scheme_id: 7,
                payment_methods: vec!["alipay".to_owned(), "cash".to_owned()],
            }
        );
    }

    #[test]
    fn meter_types_must_fit_the_business_model() {
        let mut form = card_type_form();
        form.meter_types
            .push(meter_type(3, PaymentModel::Postpayment));
        assert_eq!(
            validate_customer_type(&form),
            Err(vec![CustomerTypeProblem::MeterTypeDoesNotFit {
                meter_type: "type 3".to_owned(),
                needs: PaymentModel::Prepayment,
                business_model: BusinessModel::MeterPrepaid,
            }])
        );
        form.business_model = BusinessModel::Postpaid;
        form.meter_types = vec![meter_type(3, PaymentModel::Postpayment)];
        form.price_scheme = Some(scheme(AccountKind::Postpaid));
        assert!(validate_customer_type(&form).is_ok());
        form.meter_types.clear();
        assert_eq!(
            validate_customer_type(&form),
            Err(vec![CustomerTypeProblem::NoMeterTypes])
        );
    }

    #[test]
    fn charging_needs_a_scheme_of_the_right_kind_and_a_payment_method() {
        let mut form = card_type_form();
        form.business_model = BusinessModel::SystemPrepaid;
        form.meter_types = vec![meter_type(3, PaymentModel::Postpayment)];
        form.price_scheme = Some(scheme(AccountKind::Postpaid));
        form.payment_methods.clear();
        form.name = " ".to_owned();
        assert_eq!(
            validate_customer_type(&form),
            Err(vec![
                CustomerTypeProblem::Name(FieldError::Required),
                CustomerTypeProblem::PriceSchemeKind {
                    scheme: "postpaid scheme".to_owned(),
                    needs: AccountKind::Prepaid,
                },
                CustomerTypeProblem::NoPaymentMethods,
            ])
        );
        form.price_scheme = None;
        form.name = "x".to_owned();
        form.payment_methods = vec!["cash".to_owned()];
        assert_eq!(
            validate_customer_type(&form),
            Err(vec![CustomerTypeProblem::NoPriceScheme])
        );
        // Not charging: scheme and payment methods are not asked for, and dropped if left.
        form.charges = false;
        form.price_scheme = Some(scheme(AccountKind::Postpaid));
        assert_eq!(
            validate_customer_type(&form).unwrap().charging,
            Charging::Free
        );
    }

    #[test]
    fn a_type_in_use_keeps_its_nature_business_model_and_used_meter_types() {
        let spec = validate_customer_type(&card_type_form()).unwrap();
        let mut usage = TypeUsage {
            nature: Nature::Enterprise,
            business_model: BusinessModel::Postpaid,
            customers: 0,
            meter_types_in_use: vec![],
        };
        assert_eq!(may_delete_customer_type(&usage), Ok(()));
        assert_eq!(may_change_customer_type(&usage, &spec), Ok(()));
        usage.customers = 3;
        usage.meter_types_in_use = vec![meter_type(1, PaymentModel::Prepayment)];
        assert_eq!(
            may_delete_customer_type(&usage),
            Err(CustomerTypeProblem::InUse { customers: 3 })
        );
        assert_eq!(
            may_change_customer_type(&usage, &spec),
            Err(vec![
                CustomerTypeProblem::NatureInUse,
                CustomerTypeProblem::BusinessModelInUse
            ])
        );
        usage.nature = Nature::Personal;
        usage.business_model = BusinessModel::MeterPrepaid;
        assert_eq!(may_change_customer_type(&usage, &spec), Ok(()));
        usage
            .meter_types_in_use
            .push(meter_type(9, PaymentModel::Prepayment));
        assert_eq!(
            may_change_customer_type(&usage, &spec),
            Err(vec![CustomerTypeProblem::MeterTypeInUse {
                meter_type: "type 9".to_owned()
            }])
        );
    }

    fn typed(pairs: &[(Field, &str)]) -> impl Fn(Field) -> String {
        let map: HashMap<Field, String> = pairs
            .iter()
            .map(|&(field, text)| (field, text.to_owned()))
            .collect();
        move |field| map.get(&field).cloned().unwrap_or_default()
    }

    /// The desk's today the forms are checked on.
    fn a_day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    #[test]
    fn personal_information_is_validated_into_values() {
        let info = BasicInfo::validate(
            Nature::Personal,
            IdDocumentPolicy::ResidentIdentityCard,
            a_day(),
            typed(&[
                (Field::Name, " 张 伟 "),
                (Field::IdDocumentNo, "11010519491231002x"),
                (Field::Mobile, "+86 138 0013 8000"),
                (Field::Address, "建国路88号"),
                (Field::HouseholdSize, "3"),
                // Fields of another nature are not looked at.
                (Field::CompanyName, "\u{202E}"),
            ]),
        )
        .unwrap();
        assert_eq!(
            info,
            BasicInfo::Personal(PersonalInfo {
                name: "张 伟".to_owned(),
                id_document_no: Some("11010519491231002X".to_owned()),
                mobile: "13800138000".to_owned(),
                address: "建国路88号".to_owned(),
                household_size: Some(3),
                email: None,
                remark: None,
            })
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        use FieldError::*;
        // Each case: the nature, what is typed, and every field refused with why, in order.
        let cases = [
            (
                Nature::Personal,
                vec![
                    (Field::Name, "Li 138"),
                    (Field::HouseholdSize, "0"),
                    (Field::Email, "li@"),
                ],
                vec![
                    (Field::Name, NameCharacter { character: '1' }),
                    (Field::Mobile, Required),
                    (Field::Address, Required),
                    (Field::HouseholdSize, OutOfRange { min: 1, max: 99 }),
                    (Field::Email, Email),
                ],
            ),
            (
                Nature::Enterprise,
                vec![],
                vec![
                    (Field::CompanyName, Required),
                    (Field::ContactPerson, Required),
                    (Field::Phone, Required),
                    (Field::Address, Required),
                ],
            ),
            (
                Nature::Statistical,
                vec![(Field::Label, "Hydrant 7")],
                vec![(Field::Location, Required)],
            ),
        ];
        for (nature, fields, refused) in cases {
            let errors =
                BasicInfo::validate(nature, IdDocumentPolicy::FreeForm, a_day(), typed(&fields));
            assert_eq!(errors, Err(refused), "{nature:?}");
        }
    }

    #[test]
    fn enterprise_and_statistical_information() {
        let info = BasicInfo::validate(
            Nature::Enterprise,
            IdDocumentPolicy::FreeForm,
            a_day(),
            typed(&[
                (Field::CompanyName, "福州自来水(集团)有限公司"),
                (Field::RegistrationNo, "9135 0100 m000 100y43"),
                (Field::ContactPerson, "王芳"),
                (Field::Phone, "0591-87654321 ext 12"),
                (Field::Address, "鼓楼区"),
                (Field::Remark, "gate B"),
            ]),
        )
        .unwrap();
        let BasicInfo::Enterprise(enterprise) = &info else {
            panic!("{info:?}");
        };
        assert_eq!(
            enterprise.registration_no.as_deref(),
            Some("91350100M000100Y43")
        );
        assert_eq!(enterprise.phone, "0591-87654321-12");
        assert_eq!(info.nature(), Nature::Enterprise);
        assert!(
            Field::of(Nature::Enterprise)
                .iter()
                .zip(info.values())
                .all(|(field, (shown, _))| *field == shown)
        );
        let errors = BasicInfo::validate(
            Nature::Enterprise,
            IdDocumentPolicy::FreeForm,
            a_day(),
            typed(&[(Field::RegistrationNo, "91350100M000100Y44")]),
        )
        .unwrap_err();
        assert!(errors.contains(&(Field::RegistrationNo, FieldError::CreditCodeCheckCharacter)));
    }

    #[test]
    fn a_new_name_with_a_new_number_is_a_change_of_owner() {
        let personal = |name: &str, id: Option<&str>| {
            BasicInfo::Personal(PersonalInfo {
                name: name.to_owned(),
                id_document_no: id.map(str::to_owned),
                mobile: "13800138000".to_owned(),
                address: "Rue 1".to_owned(),
                household_size: None,
                email: None,
                remark: None,
            })
        };
        let anna = personal("Anna", Some("110101199003078515"));
        // Both the name and the number: another holder.
        assert!(anna.changes_owner(&personal("Bert", Some("110101198001010053"))));
        // The number taken away with the name: another holder too.
        assert!(anna.changes_owner(&personal("Bert", None)));
        // One of them alone: a correction.
        assert!(!anna.changes_owner(&personal("Anne", Some("110101199003078515"))));
        assert!(!anna.changes_owner(&personal("Anna", Some("110101198001010053"))));
        assert!(!anna.changes_owner(&anna));
        // A number filled in where there was none: a correction, whatever the name.
        assert!(
            !personal("Anna", None).changes_owner(&personal("Bert", Some("110101198001010053")))
        );
        let enterprise = |name: &str, code: Option<&str>| {
            BasicInfo::Enterprise(EnterpriseInfo {
                company_name: name.to_owned(),
                registration_no: code.map(str::to_owned),
                contact_person: "Li".to_owned(),
                phone: "010-1234567".to_owned(),
                address: "Rue 2".to_owned(),
                remark: None,
            })
        };
        let acme = enterprise("Acme", Some("91350100M000100Y43"));
        assert!(acme.changes_owner(&enterprise("Bolt", Some("91110000100000000X"))));
        assert!(!acme.changes_owner(&enterprise("Acme Ltd", Some("91350100M000100Y43"))));
        assert!(
            !enterprise("Acme", None)
                .changes_owner(&enterprise("Bolt", Some("91110000100000000X")))
        );
        let statistical = |label: &str| {
            BasicInfo::Statistical(StatisticalInfo {
                label: label.to_owned(),
                location: label.to_owned(),
                remark: None,
            })
        };
        assert!(!statistical("zone 1").changes_owner(&statistical("zone 2")));
    }

    #[test]
    fn changed_fields_name_what_differs() {
        let form = |mobile: &str, remark: &str| {
            BasicInfo::validate(
                Nature::Personal,
                IdDocumentPolicy::FreeForm,
                a_day(),
                typed(&[
                    (Field::Name, "Anna"),
                    (Field::Mobile, mobile),
                    (Field::Address, "Rue 1"),
                    (Field::Remark, remark),
                ]),
            )
            .unwrap()
        };
        let before = form("13800138000", "");
        let after = form("13900139000", "dog");
        assert_eq!(before.changed_fields(&before), []);
        assert_eq!(
            before.changed_fields(&after),
            [Field::Mobile, Field::Remark]
        );
        let statistical = BasicInfo::Statistical(StatisticalInfo {
            label: "x".to_owned(),
            location: "y".to_owned(),
            remark: None,
        });
        assert_eq!(
            statistical.changed_fields(&before),
            Field::of(Nature::Statistical)
        );
    }

    #[test]
    fn required_fields_are_the_starred_ones() {
        let required = |nature| -> Vec<&str> {
            Field::of(nature)
                .iter()
                .filter(|field| field.is_required())
                .map(|field| field.key())
                .collect()
        };
        assert_eq!(required(Nature::Personal), ["name", "mobile", "address"]);
        assert_eq!(
            required(Nature::Enterprise),
            ["company_name", "contact_person", "phone", "address"]
        );
        assert_eq!(required(Nature::Statistical), ["label", "location"]);
    }

    #[test]
    fn every_field_is_found_by_its_stored_key() {
        for nature in [Nature::Personal, Nature::Enterprise, Nature::Statistical] {
            for field in Field::of(nature) {
                assert_eq!(Field::from_key(field.key()), Some(*field));
            }
        }
        assert_eq!(Field::from_key("name: "), None);
    }
}
