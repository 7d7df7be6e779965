//! Price schemes: what a volume of water costs, and what volume an amount of money buys.
//!
//! A scheme is a list of [`PriceVersion`]s, each in force from its date until the next one, and
//! an [`AccumulationCycle`] that says which earlier volume counts towards the tiers. A version
//! prices by tiers of accumulated volume; `fixed` is the one-tier case, so every billing mode
//! goes through the same tier arithmetic.
//!
//! Units follow the database: volumes in m³ with 3 decimals (`NUMERIC(12,3)`), unit prices with
//! 4 decimals (`NUMERIC(10,4)`), money with 2 decimals (`NUMERIC(14,2)`).
//!
//! **Prices include VAT.** The tier prices are the prices posted at the counter and the amount a
//! customer hands over buys water at those prices, so a recharge of 100.00 costs 100.00. The VAT
//! part of a charge is worked out of the total for the receipt: `amount × rate ÷ (100 + rate)`,
//! rounded half-up to 0.01.
//!
//! **Rounding.** By volume, the amount is Σ(slice × tier price) computed exactly and rounded
//! half-up to 0.01 once, on the total; the per-tier lines carry the exact products. By amount,
//! the volume is the most whole litres whose exact price does not exceed the amount (per tier,
//! amount ÷ unit price rounded down to 0.001 m³); the charge is then that volume's by-volume
//! amount, never more than offered, and the rest of the money is not taken.
//!
//! **Tier boundaries.** A tier "to 50" covers accumulated volume above the previous bound up to
//! and including 50 m³: the 50th m³ is still priced in the first tier. Leap charges the whole
//! slice at the price of the tier its last litre lands in, so a slice ending exactly at 50 m³
//! pays the first tier's price, one ending at 50.001 m³ the second's.

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;

use super::customer_rules::AccountKind;
pub use super::money::{MAX_MONEY, MAX_UNIT_PRICE, MAX_VOLUME};
use super::money::{Money, UnitPrice, Volume};

/// Longest accumulation cycle accepted: ten years.
pub const MAX_CYCLE_MONTHS: u32 = 120;

/// How a price version turns volume into money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingMode {
    /// One unit price per m³ (a version with a single, unbounded tier).
    Fixed,
    /// Each part of a slice pays the price of the tier it falls in.
    Stepped,
    /// The whole slice pays the price of the tier its last litre falls in.
    Leap,
}

/// A tier of a price version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The accumulated volume in m³ where the tier ends (inclusive); `None` for the last tier,
    /// which never ends.
    pub up_to: Option<Decimal>,
    /// Price per m³, VAT included.
    pub unit_price: Decimal,
}

/// Why a price scheme cannot be saved. Tiers are numbered from 1, as the clerk sees them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("a price needs at least one tier")]
    NoTiers,
    #[error("a fixed price has exactly one tier")]
    FixedNeedsOneTier,
    #[error("the last tier has no upper bound")]
    LastTierBounded,
    #[error("tier {tier} has no upper bound but is not the last")]
    UnboundedTierNotLast { tier: usize },
    #[error("tier {tier}: the upper bound must be above the previous tier's")]
    BoundNotIncreasing { tier: usize },
    #[error("tier {tier}: the upper bound is m³ with at most 3 decimals, up to 999999999.999")]
    BoundOutOfRange { tier: usize },
    #[error("tier {tier}: the price is 0 or more with at most 4 decimals, up to 999999.9999")]
    PriceOutOfRange { tier: usize },
    #[error("tier {tier}: the price must not be below the previous tier's")]
    PriceFalls { tier: usize },
    #[error("the last tier must cost something, or an amount would buy unlimited water")]
    FreeLastTier,
    #[error("the VAT rate is 0 to 100 % with at most 2 decimals")]
    VatRateOutOfRange,
    #[error("an accumulation cycle is 1 to 120 months, not {months}")]
    CycleMonths { months: u32 },
    #[error("a price scheme needs at least one price version")]
    NoVersions,
    #[error("two price versions start on {date}")]
    SameEffectiveDate { date: NaiveDate },
}

/// Every problem of a price version that [`PriceVersion::new`] refused, in the order of the
/// form's fields (the tiers', then the VAT rate); never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PriceProblems(Vec<SchemeError>);

impl PriceProblems {
    pub fn all(&self) -> &[SchemeError] {
        &self.0
    }

    /// The first problem, where one answer is enough: a stored version that is not valid, or
    /// the desk's save refused without its form.
    pub fn into_first(self) -> SchemeError {
        self.0
            .into_iter()
            .next()
            .expect("a refused version has a problem")
    }
}

/// Why a purchase cannot be priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    #[error("a volume is 0 to 999999999.999 m³ with at most 3 decimals")]
    Volume,
    #[error("an amount is 0 to 999999999999.99 with at most 2 decimals")]
    Amount,
    #[error("the amount buys more water than one purchase can hold")]
    VolumeTooLarge,
}

/// Prices in force from one date on. Built only through [`PriceVersion::new`], so every
/// version that exists is valid and pricing never meets a malformed tier list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceVersion {
    effective_from: NaiveDate,
    mode: BillingMode,
    tiers: Vec<Tier>,
    /// The tiers, checked, as pricing uses them.
    ranges: Vec<TierRange>,
    vat_percent: Decimal,
}

/// What one tier contributes to a charge: a line of the confirmation screen and the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCharge {
    /// The tier's number, 1 for the first.
    pub tier: usize,
    /// m³ charged in this tier.
    pub volume: Volume,
    /// The tier's price per m³.
    pub unit_price: UnitPrice,
    /// `volume × unit_price` exactly (up to 7 decimals).
    pub exact: Decimal,
    /// The line's part of the charge's amount: the exact products up to and including this
    /// line rounded half-up, less the lines before it. So the lines of a receipt add up to its
    /// amount to the cent, and each is its exact product rounded up or down.
    pub amount: Money,
}

/// The price of one slice of water.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// m³ accumulated in the cycle before this slice: where the slice starts in the tiers.
    pub accumulated_before: Volume,
    /// m³ in the slice.
    pub volume: Volume,
    /// The tiers the slice is charged in, in tier order; empty for a zero slice.
    pub tiers: Vec<TierCharge>,
    /// What the customer pays, VAT included: the exact tier products' sum rounded half-up to
    /// 0.01, once.
    pub amount: Money,
    /// The VAT contained in `amount`.
    pub vat: Money,
}

/// A purchase by amount: the water the money buys, and what is left of the money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountPurchase {
    /// The amount the customer offered.
    pub offered: Money,
    /// The water bought and its price; `charge.amount ≤ offered`.
    pub charge: Charge,
    /// `offered − charge.amount`: not taken, because the next litre would cost more than is
    /// left. The clerk hands it back (or the customer offers a different amount).
    pub not_taken: Money,
}

/// When accumulated volume starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccumulationCycle {
    first_day: NaiveDate,
    months: u32,
}

/// One accumulation cycle: from `first_day` up to, not including, `next_first_day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CyclePeriod {
    pub first_day: NaiveDate,
    pub next_first_day: NaiveDate,
}

/// A price scheme's prices over time, with the cycle its tiers accumulate over. The cycle
/// belongs to the scheme, not to a version: a price change in the middle of a cycle keeps the
/// volume already accumulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceScheme {
    cycle: AccumulationCycle,
    /// Sorted by `effective_from`, no two on the same date.
    versions: Vec<PriceVersion>,
}

/// A tier with its lower end made explicit: it covers accumulated volume in `(from, to]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TierRange {
    number: usize,
    from: Volume,
    to: Option<Volume>,
    unit_price: UnitPrice,
}

/// Is `value` non-negative, at most `max`, with at most `decimals` decimals?
fn fits(value: Decimal, decimals: u32, max: Decimal) -> bool {
    value >= Decimal::ZERO && value <= max && value.normalize().scale() <= decimals
}

/// `value` as a `T` if it has no more decimals than `T` holds and lies in 0 ..= `max`.
fn within<T: Into<Decimal> + Copy, E>(
    value: Decimal,
    exact: impl FnOnce(Decimal) -> Result<T, E>,
    max: Decimal,
) -> Option<T> {
    exact(value)
        .ok()
        .filter(|typed| (Decimal::ZERO..=max).contains(&(*typed).into()))
}

fn volume_in_range(volume: Decimal) -> Result<Volume, PurchaseError> {
    within(volume, Volume::exact, MAX_VOLUME).ok_or(PurchaseError::Volume)
}

/// The lines of a charge, in tier order, each amount its share of the rounded total.
fn tier_lines<'a>(slices: impl IntoIterator<Item = (&'a TierRange, Volume)>) -> Vec<TierCharge> {
    let mut exact_so_far = Decimal::ZERO;
    let mut charged = Money::ZERO;
    slices
        .into_iter()
        .map(|(range, volume)| {
            let exact = volume * range.unit_price;
            exact_so_far += exact;
            let amount = Money::round_half_up(exact_so_far) - charged;
            charged += amount;
            TierCharge {
                tier: range.number,
                volume,
                unit_price: range.unit_price,
                exact,
                amount,
            }
        })
        .collect()
}

/// `tiers` as pricing uses them, each problem found added to `problems`: at most one a tier's
/// bound and one its price. A tier list of the wrong length (none, or more than one for a
/// fixed price) is that problem alone: its bounds mean nothing. Each tier's bound and price
/// are checked against the last ones before it that were right: a bound typed too small is its
/// own tier's problem, not the next one's too.
fn tier_ranges(
    mode: BillingMode,
    tiers: &[Tier],
    problems: &mut Vec<SchemeError>,
) -> Vec<TierRange> {
    if tiers.is_empty() {
        problems.push(SchemeError::NoTiers);
        return Vec::new();
    }
    if mode == BillingMode::Fixed && tiers.len() != 1 {
        problems.push(SchemeError::FixedNeedsOneTier);
        return Vec::new();
    }
    let mut ranges = Vec::with_capacity(tiers.len());
    let (mut from, mut floor) = (Volume::ZERO, None);
    for (index, tier) in tiers.iter().enumerate() {
        let number = index + 1;
        let last = number == tiers.len();
        let to = match (tier.up_to, last) {
            (None, true) => Ok(None),
            (None, false) => Err(SchemeError::UnboundedTierNotLast { tier: number }),
            (Some(_), true) => Err(SchemeError::LastTierBounded),
            (Some(bound), false) => match within(bound, Volume::exact, MAX_VOLUME) {
                None => Err(SchemeError::BoundOutOfRange { tier: number }),
                Some(bound) if bound <= from => {
                    Err(SchemeError::BoundNotIncreasing { tier: number })
                }
                Some(bound) => Ok(Some(bound)),
            },
        };
        let unit_price = match within(tier.unit_price, UnitPrice::exact, MAX_UNIT_PRICE) {
            None => Err(SchemeError::PriceOutOfRange { tier: number }),
            Some(price) if floor.is_some_and(|floor| price < floor) => {
                Err(SchemeError::PriceFalls { tier: number })
            }
            Some(_) if last && tier.unit_price.is_zero() => Err(SchemeError::FreeLastTier),
            Some(price) => Ok(price),
        };
        let next_from = match to {
            Ok(Some(bound)) => bound,
            _ => from,
        };
        if let Ok(price) = unit_price {
            floor = Some(price);
        }
        match (to, unit_price) {
            (Ok(to), Ok(unit_price)) => ranges.push(TierRange {
                number,
                from,
                to,
                unit_price,
            }),
            (to, unit_price) => problems.extend(to.err().into_iter().chain(unit_price.err())),
        }
        from = next_from;
    }
    ranges
}

impl TierRange {
    /// How much of the accumulated-volume interval `[start, end]` lies in this tier.
    fn overlap(&self, start: Volume, end: Volume) -> Volume {
        let top = self.to.map_or(end, |to| to.min(end));
        (top - start.max(self.from)).max(Volume::ZERO)
    }
}

impl PriceVersion {
    /// A price version, checked: at least one tier (exactly one for `Fixed`), upper bounds
    /// strictly increasing from 0 with the last tier unbounded, prices ≥ 0 that never fall from
    /// one tier to the next, a last tier that is not free, VAT 0–100 %. Refused with every
    /// problem found, in the order of the form's fields: a clerk who typed two bad tiers sees
    /// both at once.
    ///
    /// Prices may not fall because a cheaper higher tier would make a leap charge drop as the
    /// volume grows, and "the most water an amount buys" would stop being well defined.
    pub fn new(
        effective_from: NaiveDate,
        mode: BillingMode,
        tiers: Vec<Tier>,
        vat_percent: Decimal,
    ) -> Result<Self, PriceProblems> {
        let mut problems = Vec::new();
        let ranges = tier_ranges(mode, &tiers, &mut problems);
        if !fits(vat_percent, 2, Decimal::ONE_HUNDRED) {
            problems.push(SchemeError::VatRateOutOfRange);
        }
        if !problems.is_empty() {
            return Err(PriceProblems(problems));
        }
        Ok(Self {
            effective_from,
            mode,
            tiers,
            ranges,
            vat_percent,
        })
    }

    pub fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }

    pub fn mode(&self) -> BillingMode {
        self.mode
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The VAT rate in percent, e.g. 9 for 9 %.
    pub fn vat_percent(&self) -> Decimal {
        self.vat_percent
    }

    /// The price of `volume` m³ bought when `accumulated` m³ are already counted in the cycle.
    pub fn charge_for_volume(
        &self,
        accumulated: Decimal,
        volume: Decimal,
    ) -> Result<Charge, PurchaseError> {
        Ok(self.charge(volume_in_range(accumulated)?, volume_in_range(volume)?))
    }

    /// The most water `offered` buys when `accumulated` m³ are already counted in the cycle.
    pub fn charge_for_amount(
        &self,
        accumulated: Decimal,
        offered: Decimal,
    ) -> Result<AmountPurchase, PurchaseError> {
        let accumulated = volume_in_range(accumulated)?;
        let offered = within(offered, Money::exact, MAX_MONEY).ok_or(PurchaseError::Amount)?;
        let volume = match self.mode {
            BillingMode::Fixed | BillingMode::Stepped => {
                self.stepped_litres_for(accumulated, offered)
            }
            BillingMode::Leap => self.leap_litres_for(accumulated, offered),
        };
        if volume.to_decimal() > MAX_VOLUME {
            return Err(PurchaseError::VolumeTooLarge);
        }
        let charge = self.charge(accumulated, volume);
        Ok(AmountPurchase {
            offered,
            not_taken: offered - charge.amount,
            charge,
        })
    }

    fn charge(&self, accumulated: Volume, volume: Volume) -> Charge {
        let end = accumulated + volume;
        let tiers = match self.mode {
            BillingMode::Fixed | BillingMode::Stepped => tier_lines(
                self.ranges
                    .iter()
                    .map(|range| (range, range.overlap(accumulated, end)))
                    .filter(|(_, slice)| !slice.is_zero()),
            ),
            BillingMode::Leap if volume.is_zero() => Vec::new(),
            BillingMode::Leap => tier_lines([(self.range_ending_at(end), volume)]),
        };
        let amount = Money::round_half_up(tiers.iter().map(|tier| tier.exact).sum());
        let vat =
            amount.to_decimal() * self.vat_percent / (Decimal::ONE_HUNDRED + self.vat_percent);
        Charge {
            accumulated_before: accumulated,
            volume,
            tiers,
            amount,
            vat: Money::round_half_up(vat),
        }
    }

    /// The tier an accumulated volume of `end` m³ lies in.
    fn range_ending_at(&self, end: Volume) -> &TierRange {
        self.ranges
            .iter()
            .find(|range| range.to.is_none_or(|to| end <= to))
            .expect("the last tier is unbounded (checked by PriceVersion::new)")
    }

    /// Fills tiers in order while the money pays for a whole tier, then buys what the rest
    /// buys in the tier where it runs out.
    fn stepped_litres_for(&self, accumulated: Volume, offered: Money) -> Volume {
        let mut money = offered.to_decimal();
        let mut volume = Volume::ZERO;
        for range in &self.ranges {
            let start = accumulated.max(range.from);
            match range.to {
                Some(to) if to <= start => {}
                Some(to) if (to - start) * range.unit_price <= money => {
                    money -= (to - start) * range.unit_price;
                    volume += to - start;
                }
                // A free tier always fits above and the last tier is never free, so the price
                // here is above zero.
                _ => return volume + Volume::affordable(money, range.unit_price),
            }
        }
        unreachable!("the last tier is unbounded (checked by PriceVersion::new)")
    }

    /// For each tier, the most water whose last litre lands in that tier and which the money
    /// pays for at that tier's price; the largest of these wins (a leap price never falls as
    /// the volume grows, so no larger volume is affordable).
    fn leap_litres_for(&self, accumulated: Volume, offered: Money) -> Volume {
        self.ranges
            .iter()
            .filter_map(|range| {
                let smallest = (range.from - accumulated).max(Volume::ZERO) + Volume::LITRE;
                let ceiling = range.to.map(|to| to - accumulated);
                let affordable = if range.unit_price.is_zero() {
                    ceiling?
                } else {
                    let litres = offered / range.unit_price;
                    ceiling.map_or(litres, |ceiling| ceiling.min(litres))
                };
                (affordable >= smallest).then_some(affordable)
            })
            .max()
            .unwrap_or(Volume::ZERO)
    }
}

impl Charge {
    /// The amount without its VAT.
    pub fn net_of_vat(&self) -> Money {
        self.amount - self.vat
    }
}

impl AccumulationCycle {
    /// Cycles of `months` months, one of them starting on `first_day`.
    pub fn new(first_day: NaiveDate, months: u32) -> Result<Self, SchemeError> {
        if !(1..=MAX_CYCLE_MONTHS).contains(&months) {
            return Err(SchemeError::CycleMonths { months });
        }
        Ok(Self { first_day, months })
    }

    pub fn first_day(&self) -> NaiveDate {
        self.first_day
    }

    pub fn months(&self) -> u32 {
        self.months
    }

    /// The cycle `date` falls in (dates before `first_day` fall in earlier cycles).
    pub fn period_containing(&self, date: NaiveDate) -> CyclePeriod {
        let months_apart = i64::from(date.year() - self.first_day.year()) * 12
            + i64::from(date.month())
            - i64::from(self.first_day.month());
        let mut cycle = months_apart.div_euclid(i64::from(self.months));
        // In the start's month, a start day clamped to the month's end may still lie ahead.
        if self.start_of(cycle) > date {
            cycle -= 1;
        }
        CyclePeriod {
            first_day: self.start_of(cycle),
            next_first_day: self.start_of(cycle + 1),
        }
    }

    /// The first day of cycle number `cycle` (0 starts on `first_day`). Counted from
    /// `first_day` each time, not from the previous start, so cycles starting on the 31st come
    /// back to the 31st after a short month. Cut at the calendar's ends.
    fn start_of(&self, cycle: i64) -> NaiveDate {
        let offset = cycle * i64::from(self.months);
        let shifted = u32::try_from(offset.unsigned_abs())
            .ok()
            .map(Months::new)
            .and_then(|months| {
                if offset >= 0 {
                    self.first_day.checked_add_months(months)
                } else {
                    self.first_day.checked_sub_months(months)
                }
            });
        shifted.unwrap_or(if offset >= 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        })
    }
}

impl CyclePeriod {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first_day <= date && date < self.next_first_day
    }

    /// The volume that counts towards the tiers: the sum of the `(date, m³)` slices already
    /// charged in this period.
    pub fn accumulated(&self, history: impl IntoIterator<Item = (NaiveDate, Volume)>) -> Volume {
        history
            .into_iter()
            .filter(|(date, _)| self.contains(*date))
            .map(|(_, volume)| volume)
            .sum()
    }
}

impl PriceScheme {
    /// A scheme from its versions in any order; no two may start on the same date.
    pub fn new(
        cycle: AccumulationCycle,
        mut versions: Vec<PriceVersion>,
    ) -> Result<Self, SchemeError> {
        versions.sort_by_key(PriceVersion::effective_from);
        if versions.is_empty() {
            return Err(SchemeError::NoVersions);
        }
        if let Some(pair) = versions
            .windows(2)
            .find(|pair| pair[0].effective_from == pair[1].effective_from)
        {
            return Err(SchemeError::SameEffectiveDate {
                date: pair[0].effective_from,
            });
        }
        Ok(Self { cycle, versions })
    }

    pub fn cycle(&self) -> &AccumulationCycle {
        &self.cycle
    }

    /// The version in force on `date`: the latest to start on or before it; `None` before the
    /// scheme starts. A past transaction is priced with the version of its own date (and its
    /// stored amounts are never recomputed).
    pub fn prices_on(&self, date: NaiveDate) -> Option<&PriceVersion> {
        let in_force = self
            .versions
            .partition_point(|version| version.effective_from <= date);
        in_force.checked_sub(1).map(|index| &self.versions[index])
    }
}

/// Why a scheme's own fields (not its prices) do not fit together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SchemeFieldsError {
    #[error("the VAT rate is 0 to 99.99 % with at most 2 decimals")]
    VatRate,
    #[error(
        "a fixed price has no accumulation cycle; stepped and leap prices need one of 1 to 120 months"
    )]
    AccumulationCycle,
    #[error(
        "a postpaid scheme settles every 1 to 12 months; a prepaid one has no settlement cycle"
    )]
    SettlementCycle,
}

/// Checks a scheme's own fields as the database holds them: VAT below 100 % (`NUMERIC(5,4)` as
/// a fraction), an accumulation cycle exactly for tiered modes, a settlement cycle exactly for
/// postpaid schemes.
pub fn check_scheme_fields(
    mode: BillingMode,
    kind: AccountKind,
    vat_percent: Decimal,
    accumulation_months: Option<u32>,
    settlement_months: Option<u32>,
) -> Result<(), SchemeFieldsError> {
    if !fits(vat_percent, 2, Decimal::ONE_HUNDRED) || vat_percent == Decimal::ONE_HUNDRED {
        return Err(SchemeFieldsError::VatRate);
    }
    match (mode, accumulation_months) {
        (BillingMode::Fixed, None) => {}
        (BillingMode::Stepped | BillingMode::Leap, Some(1..=MAX_CYCLE_MONTHS)) => {}
        _ => return Err(SchemeFieldsError::AccumulationCycle),
    }
    match (kind, settlement_months) {
        (AccountKind::Prepaid, None) | (AccountKind::Postpaid, Some(1..=12)) => Ok(()),
        _ => Err(SchemeFieldsError::SettlementCycle),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::money::{MONEY_DECIMALS, PRICE_DECIMALS, VOLUME_DECIMALS};
    use proptest::prelude::*;

    pub(crate) fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    pub(crate) fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    pub(crate) fn tier(up_to: Option<&str>, unit_price: &str) -> Tier {
        Tier {
            up_to: up_to.map(dec),
            unit_price: dec(unit_price),
        }
    }

    /// The manual's tiers: 1.00/m³ to 50, 2.00/m³ to 100, 3.00/m³ above.
    fn manual_tiers() -> Vec<Tier> {
        vec![
            tier(Some("50"), "1.00"),
            tier(Some("100"), "2.00"),
            tier(None, "3.00"),
        ]
    }

    fn version(mode: BillingMode, tiers: Vec<Tier>, vat: &str) -> PriceVersion {
        PriceVersion::new(day("2025-01-01"), mode, tiers, dec(vat)).unwrap()
    }

    fn stepped() -> PriceVersion {
        version(BillingMode::Stepped, manual_tiers(), "9")
    }

    fn leap() -> PriceVersion {
        version(BillingMode::Leap, manual_tiers(), "9")
    }

    /// Σ(slice × price) before rounding: the exact price of a charge.
    fn exact(charge: &Charge) -> Decimal {
        charge.tiers.iter().map(|tier| tier.exact).sum()
    }

    pub(crate) fn m3(text: &str) -> Volume {
        Volume::exact(dec(text)).unwrap()
    }

    /// What `volume` m³ cost after `used` m³: the amount as shown, and the tier lines.
    fn charged(prices: &PriceVersion, used: Volume, volume: &str) -> (String, Vec<TierCharge>) {
        let charge = prices
            .charge_for_volume(used.to_decimal(), dec(volume))
            .unwrap();
        (charge.amount.to_string(), charge.tiers)
    }

    fn line(tier: usize, volume: &str, unit_price: &str, amount: &str) -> TierCharge {
        let volume = m3(volume);
        let unit_price = UnitPrice::exact(dec(unit_price)).unwrap();
        TierCharge {
            tier,
            volume,
            unit_price,
            exact: volume * unit_price,
            amount: Money::exact(dec(amount)).unwrap(),
        }
    }

    #[test]
    fn the_manuals_worked_example() {
        let cycle = AccumulationCycle::new(day("2025-01-01"), 12).unwrap();
        let prices = stepped();

        let q1 = cycle.period_containing(day("2025-03-31"));
        assert_eq!(
            charged(&prices, q1.accumulated([]), "30"),
            ("30.00".into(), vec![line(1, "30", "1.00", "30")])
        );

        let q2 = cycle.period_containing(day("2025-06-30"));
        let accumulated = q2.accumulated([(day("2025-03-31"), m3("30"))]);
        assert_eq!(accumulated, m3("30"));
        let q2_lines = vec![line(1, "20", "1.00", "20"), line(2, "40", "2.00", "80")];
        assert_eq!(
            charged(&prices, accumulated, "60"),
            ("100.00".into(), q2_lines)
        );
    }

    #[test]
    fn a_new_cycle_starts_from_the_first_tier_again() {
        let cycle = AccumulationCycle::new(day("2025-01-01"), 12).unwrap();
        let next_year = cycle.period_containing(day("2026-02-01"));
        assert_eq!(
            next_year.accumulated([(day("2025-12-31"), m3("90"))]),
            Volume::ZERO
        );
    }

    #[test]
    fn leap_charges_the_whole_slice_at_the_tier_reached() {
        assert_eq!(
            charged(&leap(), m3("30"), "60"),
            ("120.00".into(), vec![line(2, "60", "2.00", "120")])
        );
    }

    #[test]
    fn a_slice_ending_on_a_bound_stays_in_the_lower_tier() {
        for prices in [stepped(), leap()] {
            let on_bound = prices.charge_for_volume(dec("30"), dec("20")).unwrap();
            assert_eq!(on_bound.amount.to_string(), "20.00");
            assert_eq!(on_bound.tiers.last().unwrap().tier, 1);
            let past_bound = prices.charge_for_volume(dec("30"), dec("20.001")).unwrap();
            assert_eq!(past_bound.tiers.last().unwrap().tier, 2);
        }
        assert_eq!(
            leap()
                .charge_for_volume(dec("30"), dec("20.001"))
                .unwrap()
                .amount
                .to_string(),
            "40.00"
        );
    }

    #[test]
    fn fixed_price_is_one_price_for_every_m3() {
        let prices = version(BillingMode::Fixed, vec![tier(None, "3.45")], "0");
        let charge = prices.charge_for_volume(dec("1000"), dec("2.5")).unwrap();
        assert_eq!(charge.amount.to_string(), "8.63"); // 8.625 rounds half-up
        assert_eq!(charge.vat.to_string(), "0.00");
    }

    #[test]
    fn tier_lines_share_the_rounded_amount() {
        // 0.005 m³ in each of two tiers at 1.0000 and 1.0000: each line is 0.005 exactly,
        // which rounded alone would be 0.01 + 0.01 = 0.02; the total 0.010 is 0.01.
        let prices = version(
            BillingMode::Stepped,
            vec![tier(Some("0.005"), "1"), tier(None, "1")],
            "0",
        );
        let lines = vec![line(1, "0.005", "1", "0.01"), line(2, "0.005", "1", "0")];
        assert_eq!(
            charged(&prices, Volume::ZERO, "0.010"),
            ("0.01".into(), lines)
        );
    }

    #[test]
    fn a_zero_slice_costs_nothing() {
        for prices in [stepped(), leap()] {
            let charge = prices.charge_for_volume(dec("30"), dec("0")).unwrap();
            assert!(charge.tiers.is_empty());
            assert_eq!(charge.amount.to_string(), "0.00");
        }
    }

    #[test]
    fn vat_is_worked_out_of_the_inclusive_amount() {
        let prices = version(BillingMode::Fixed, vec![tier(None, "1.09")], "9");
        let charge = prices.charge_for_volume(dec("0"), dec("100")).unwrap();
        assert_eq!(charge.amount.to_string(), "109.00");
        assert_eq!(charge.vat.to_string(), "9.00");
        assert_eq!(charge.net_of_vat().to_string(), "100.00");

        let charge = stepped().charge_for_volume(dec("0"), dec("100")).unwrap();
        assert_eq!(charge.amount.to_string(), "150.00");
        assert_eq!(charge.vat.to_string(), "12.39"); // 150 × 9 / 109 = 12.385…
    }

    /// By amount, each case: the billing mode (the manual's tiers), m³ used in the cycle and the
    /// money offered; then the volume bought, the amount charged and the money not taken.
    #[test]
    fn by_amount_buys_the_most_whole_litres_the_money_pays_for() {
        use BillingMode::{Leap, Stepped};
        let cases = [
            // The tiers fill in order: 20 m³ at 1.00, 40 m³ at 2.00.
            (Stepped, "30", "100.00", ["60.000", "100.00", "0.00"]),
            // 1.00 ÷ 3.00 = 0.3333… m³ → 0.333 m³, whose exact price 0.999 is charged as 1.00.
            (Stepped, "100", "1.00", ["0.333", "1.00", "0.00"]),
            // 0.003 m³ costs 0.009, charged as 0.01.
            (Stepped, "100", "0.01", ["0.003", "0.01", "0.00"]),
            // From 0: 50 m³ at 1.00 fit; 50.001 m³ would all cost 2.00/m³ = 100.002.
            (Leap, "0", "60.00", ["50.000", "50.00", "10.00"]),
            (Leap, "30", "100.00", ["50.000", "100.00", "0.00"]),
        ];
        for (mode, used, offered, expected) in cases {
            let purchase = version(mode, manual_tiers(), "9")
                .charge_for_amount(dec(used), dec(offered))
                .unwrap();
            let bought = [
                purchase.charge.volume.to_string(),
                purchase.charge.amount.to_string(),
                purchase.not_taken.to_string(),
            ];
            assert_eq!(
                bought, expected,
                "{mode:?}, {used} m³ used, {offered} offered"
            );
        }
        let leap_purchase = leap().charge_for_amount(dec("30"), dec("100.00")).unwrap();
        assert_eq!(
            leap_purchase.charge.tiers,
            [line(2, "50.000", "2.00", "100")],
            "leap charges the whole volume at the tier reached"
        );
    }

    #[test]
    fn a_free_first_tier_is_given_before_money_is_spent() {
        let tiers = vec![tier(Some("5"), "0"), tier(None, "2.00")];
        for mode in [BillingMode::Stepped, BillingMode::Leap] {
            let purchase = version(mode, tiers.clone(), "0")
                .charge_for_amount(dec("0"), dec("0.00"))
                .unwrap();
            assert_eq!(purchase.charge.volume.to_string(), "5.000");
        }
    }

    #[test]
    fn bad_purchases_say_why() {
        let prices = stepped();
        for (used, volume) in [("0", "-1"), ("0", "1.0001"), ("-1", "1")] {
            assert_eq!(
                prices.charge_for_volume(dec(used), dec(volume)),
                Err(PurchaseError::Volume),
                "{used} used, {volume} m³"
            );
        }
        for amount in ["1.001", "-0.01"] {
            assert_eq!(
                prices.charge_for_amount(dec("0"), dec(amount)),
                Err(PurchaseError::Amount),
                "{amount}"
            );
        }
        let cheap = version(BillingMode::Fixed, vec![tier(None, "0.0001")], "0");
        assert_eq!(
            cheap.charge_for_amount(dec("0"), MAX_MONEY),
            Err(PurchaseError::VolumeTooLarge)
        );
    }

    #[test]
    fn database_limits_are_what_they_say() {
        assert_eq!(MAX_VOLUME.to_string(), "999999999.999");
        assert_eq!(MAX_UNIT_PRICE.to_string(), "999999.9999");
        assert_eq!(MAX_MONEY.to_string(), "999999999999.99");
        assert_eq!(Volume::LITRE.to_string(), "0.001");
    }

    /// Tiers from `(up to, unit price)` pairs; `None` for the last, unbounded, tier.
    fn tiers(spec: &[(Option<&str>, &str)]) -> Vec<Tier> {
        spec.iter()
            .map(|(up_to, unit_price)| tier(*up_to, unit_price))
            .collect()
    }

    #[test]
    fn bad_schemes_say_why() {
        use BillingMode::*;
        use SchemeError::*;
        // The unbounded last tier, and a tier to 5 m³, at `price`.
        let last = |price| (None, price);
        let to_5 = |price| (Some("5"), price);
        // Each case: mode, tiers, VAT %, and what is wrong.
        let cases = [
            (Stepped, vec![], "0", NoTiers),
            (Fixed, manual_tiers(), "0", FixedNeedsOneTier),
            (Stepped, tiers(&[(Some("50"), "1")]), "0", LastTierBounded),
            (
                Stepped,
                tiers(&[last("1"), last("2")]),
                "0",
                UnboundedTierNotLast { tier: 1 },
            ),
            (
                Stepped,
                tiers(&[(Some("50"), "1"), (Some("50"), "2"), last("3")]),
                "0",
                BoundNotIncreasing { tier: 2 },
            ),
            (
                Stepped,
                tiers(&[(Some("0"), "1"), last("2")]),
                "0",
                BoundNotIncreasing { tier: 1 },
            ),
            (
                Stepped,
                tiers(&[(Some("0.0005"), "1"), last("2")]),
                "0",
                BoundOutOfRange { tier: 1 },
            ),
            (
                Stepped,
                tiers(&[to_5("-1"), last("2")]),
                "0",
                PriceOutOfRange { tier: 1 },
            ),
            (
                Fixed,
                tiers(&[last("1.00001")]),
                "0",
                PriceOutOfRange { tier: 1 },
            ),
            (
                Leap,
                tiers(&[to_5("2"), last("1")]),
                "0",
                PriceFalls { tier: 2 },
            ),
            (Fixed, tiers(&[last("0")]), "0", FreeLastTier),
            (Fixed, tiers(&[last("1")]), "100.01", VatRateOutOfRange),
            (Fixed, tiers(&[last("1")]), "-1", VatRateOutOfRange),
        ];
        for (mode, tiers, vat, error) in cases {
            let case = format!("{mode:?} {tiers:?} at {vat} % VAT");
            let new = PriceVersion::new(day("2025-01-01"), mode, tiers, dec(vat));
            assert_eq!(
                new.map_err(|problems| problems.all().to_vec()),
                Err(vec![error]),
                "{case}"
            );
        }
        let full_vat = PriceVersion::new(day("2025-01-01"), Fixed, tiers(&[last("1")]), dec("100"));
        assert!(full_vat.is_ok(), "100 % VAT is allowed");
        for months in [0, 121] {
            assert_eq!(
                AccumulationCycle::new(day("2025-01-01"), months),
                Err(CycleMonths { months })
            );
        }
    }

    /// Every problem at once, at most one a tier's bound and one its price, in the form's order
    /// (session 33: two bad tiers took two F2s); each checked against the last right ones.
    #[test]
    fn every_problem_is_told_at_once() {
        use BillingMode::*;
        use SchemeError::*;
        let cases = [
            (
                tiers(&[(Some("50"), "2"), (Some("40"), "3"), (None, "1")]),
                "101",
                vec![
                    BoundNotIncreasing { tier: 2 },
                    PriceFalls { tier: 3 },
                    VatRateOutOfRange,
                ],
            ),
            (
                tiers(&[(Some("0.0005"), "-1"), (Some("5"), "0"), (Some("9"), "0")]),
                "0",
                vec![
                    BoundOutOfRange { tier: 1 },
                    PriceOutOfRange { tier: 1 },
                    LastTierBounded,
                    FreeLastTier,
                ],
            ),
            // A bound typed too small (2 for 20) is its tier's problem alone.
            (
                tiers(&[
                    (Some("10"), "1"),
                    (Some("2"), "2"),
                    (Some("30"), "3"),
                    (None, "4"),
                ]),
                "9",
                vec![BoundNotIncreasing { tier: 2 }],
            ),
            (
                tiers(&[(None, "1"), (None, "2"), (None, "3")]),
                "9",
                vec![
                    UnboundedTierNotLast { tier: 1 },
                    UnboundedTierNotLast { tier: 2 },
                ],
            ),
        ];
        for (tiers, vat, problems) in cases {
            let case = format!("{tiers:?} at {vat} % VAT");
            let new = PriceVersion::new(day("2025-01-01"), Stepped, tiers, dec(vat));
            assert_eq!(
                new.map_err(|refused| refused.all().to_vec()),
                Err(problems),
                "{case}"
            );
        }
        // A tier list of the wrong length is that problem alone, beside the VAT rate's.
        let fixed = PriceVersion::new(day("2025-01-01"), Fixed, manual_tiers(), dec("-1"));
        assert_eq!(
            fixed.map_err(|refused| refused.all().to_vec()),
            Err(vec![FixedNeedsOneTier, VatRateOutOfRange])
        );
    }

    #[test]
    fn prices_on_picks_the_version_in_force() {
        let cycle = AccumulationCycle::new(day("2025-01-01"), 12).unwrap();
        let at = |date: &str, price: &str| {
            PriceVersion::new(
                day(date),
                BillingMode::Fixed,
                vec![tier(None, price)],
                dec("0"),
            )
            .unwrap()
        };
        let scheme = PriceScheme::new(
            cycle,
            vec![at("2025-07-01", "2.00"), at("2025-01-01", "1.00")],
        )
        .unwrap();
        let price_on = |date: &str| {
            scheme
                .prices_on(day(date))
                .map(|version| version.tiers()[0].unit_price.to_string())
        };
        assert_eq!(price_on("2024-12-31"), None);
        assert_eq!(price_on("2025-01-01").as_deref(), Some("1.00"));
        assert_eq!(price_on("2025-06-30").as_deref(), Some("1.00"));
        assert_eq!(price_on("2025-07-01").as_deref(), Some("2.00"));
        assert_eq!(price_on("2030-01-01").as_deref(), Some("2.00"));

        assert_eq!(
            PriceScheme::new(cycle, vec![]),
            Err(SchemeError::NoVersions)
        );
        assert_eq!(
            PriceScheme::new(cycle, vec![at("2025-01-01", "1"), at("2025-01-01", "2")]),
            Err(SchemeError::SameEffectiveDate {
                date: day("2025-01-01")
            })
        );
    }

    #[test]
    fn cycles_count_from_their_first_day() {
        // Each case: the cycle's first day and months, a date, and the period holding it.
        let cases = [
            ("2025-01-01", 3, "2025-05-15", ["2025-04-01", "2025-07-01"]),
            ("2025-01-01", 3, "2024-12-31", ["2024-10-01", "2025-01-01"]),
            // Monthly from the 31st: a shorter month's period starts on its last day.
            ("2025-01-31", 1, "2025-02-27", ["2025-01-31", "2025-02-28"]),
            ("2025-01-31", 1, "2025-02-28", ["2025-02-28", "2025-03-31"]),
            ("2025-01-31", 1, "2025-03-30", ["2025-02-28", "2025-03-31"]),
            ("2025-01-31", 1, "2024-12-30", ["2024-11-30", "2024-12-31"]),
        ];
        for (first_day, months, date, expected) in cases {
            let cycle = AccumulationCycle::new(day(first_day), months).unwrap();
            let period = cycle.period_containing(day(date));
            let found = [
                period.first_day.to_string(),
                period.next_first_day.to_string(),
            ];
            assert_eq!(
                found, expected,
                "{date}, {months}-month cycle from {first_day}"
            );
        }
    }

    /// Tier lists the scheme validation accepts: 1–4 tiers, bounds with `bound_decimals`
    /// decimals, prices with `price_decimals` decimals that never fall.
    fn any_tiers(bound_decimals: u32, price_decimals: u32) -> impl Strategy<Value = Vec<Tier>> {
        (
            prop::collection::vec((1i64..200_000, 0i64..50_000), 0..3),
            0i64..50_000,
        )
            .prop_map(move |(steps, last_step)| {
                let mut bound = 0;
                let mut price = 0;
                let mut tiers: Vec<Tier> = steps
                    .into_iter()
                    .map(|(width, rise)| {
                        bound += width;
                        price += rise;
                        Tier {
                            up_to: Some(Decimal::new(bound, bound_decimals)),
                            unit_price: Decimal::new(price, price_decimals),
                        }
                    })
                    .collect();
                tiers.push(Tier {
                    up_to: None,
                    unit_price: Decimal::new(price + last_step + 1, price_decimals),
                });
                tiers
            })
    }

    /// Versions with bounds in whole litres and prices of `price_decimals` decimals.
    fn any_version(mode: BillingMode, price_decimals: u32) -> impl Strategy<Value = PriceVersion> {
        any_version_in(mode, VOLUME_DECIMALS, price_decimals)
    }

    fn any_version_in(
        mode: BillingMode,
        bound_decimals: u32,
        price_decimals: u32,
    ) -> impl Strategy<Value = PriceVersion> {
        (any_tiers(bound_decimals, price_decimals), 0i64..=10_000).prop_map(move |(tiers, vat)| {
            let tiers = if mode == BillingMode::Fixed {
                tiers[tiers.len() - 1..].to_vec()
            } else {
                tiers
            };
            PriceVersion::new(day("2025-01-01"), mode, tiers, Decimal::new(vat, 2)).unwrap()
        })
    }

    fn any_mode() -> impl Strategy<Value = BillingMode> {
        prop_oneof![
            Just(BillingMode::Fixed),
            Just(BillingMode::Stepped),
            Just(BillingMode::Leap)
        ]
    }

    fn litres(max: i64) -> impl Strategy<Value = Decimal> {
        (0..=max).prop_map(|litres| Decimal::new(litres, VOLUME_DECIMALS))
    }

    /// Charges `slices` one after the other from `start`, as purchases within one cycle.
    fn charge_in_slices(prices: &PriceVersion, start: Decimal, slices: &[Decimal]) -> Vec<Charge> {
        slices
            .iter()
            .scan(start, |accumulated, slice| {
                let charge = prices.charge_for_volume(*accumulated, *slice).unwrap();
                *accumulated += *slice;
                Some(charge)
            })
            .collect()
    }

    /// m³ charged in each tier, summed over charges.
    fn volume_per_tier(charges: &[Charge]) -> std::collections::BTreeMap<usize, Volume> {
        let mut per_tier = std::collections::BTreeMap::new();
        for line in charges.iter().flat_map(|charge| &charge.tiers) {
            *per_tier.entry(line.tier).or_insert(Volume::ZERO) += line.volume;
        }
        per_tier
    }

    proptest! {
        /// Stepped: buying in slices puts exactly the same m³ in each tier as buying at once,
        /// so the exact (unrounded) prices are equal, and the rounded amounts differ only by
        /// the rounding of each purchase: less than half a cent per purchase, plus half a cent.
        #[test]
        fn stepped_slices_fill_the_same_tiers_as_the_whole(
            prices in any_version(BillingMode::Stepped, PRICE_DECIMALS),
            start in litres(300_000),
            slices in prop::collection::vec(litres(100_000), 1..6),
        ) {
            let whole = prices.charge_for_volume(start, slices.iter().sum()).unwrap();
            let parts = charge_in_slices(&prices, start, &slices);
            prop_assert_eq!(volume_per_tier(&parts), volume_per_tier(std::slice::from_ref(&whole)));
            prop_assert_eq!(parts.iter().map(exact).sum::<Decimal>(), exact(&whole));
            let drift = (parts.iter().map(|part| part.amount).sum::<Money>() - whole.amount).to_decimal();
            let bound = Decimal::new(5, 3) * Decimal::from(slices.len() + 1);
            prop_assert!(drift.abs() < bound, "drift {} ≥ {}", drift, bound);
        }

        /// Stepped with prices of at most 2 decimals, and tier bounds and purchases in whole
        /// m³: every product is whole cents, nothing is rounded, so the slices' amounts add up
        /// to the whole's exactly. (Whole litres are not enough: at 1.00/m³, 0.004 + 0.001 m³
        /// cost 0.00 + 0.00 but 0.005 m³ costs 0.01.)
        #[test]
        fn stepped_slices_cost_the_whole_exactly_when_nothing_rounds(
            prices in any_version_in(BillingMode::Stepped, 0, MONEY_DECIMALS),
            start in 0i64..300,
            slices in prop::collection::vec(0i64..100, 1..6),
        ) {
            let slices: Vec<Decimal> = slices.into_iter().map(Decimal::from).collect();
            let start = Decimal::from(start);
            let whole = prices.charge_for_volume(start, slices.iter().sum()).unwrap();
            let parts = charge_in_slices(&prices, start, &slices);
            prop_assert_eq!(parts.iter().map(|part| part.amount).sum::<Money>(), whole.amount);
        }

        #[test]
        fn leap_is_never_below_stepped(
            tiers in any_tiers(VOLUME_DECIMALS, PRICE_DECIMALS),
            start in litres(300_000),
            slice in litres(300_000),
        ) {
            let stepped = version(BillingMode::Stepped, tiers.clone(), "0");
            let leap = version(BillingMode::Leap, tiers, "0");
            let stepped = stepped.charge_for_volume(start, slice).unwrap();
            let leap = leap.charge_for_volume(start, slice).unwrap();
            prop_assert!(exact(&leap) >= exact(&stepped));
            prop_assert!(leap.amount >= stepped.amount);
        }

        #[test]
        fn more_water_never_costs_less(
            prices in any_mode().prop_flat_map(|mode| any_version(mode, PRICE_DECIMALS)),
            start in litres(300_000),
            smaller in litres(300_000),
            extra in litres(300_000),
        ) {
            let less = prices.charge_for_volume(start, smaller).unwrap();
            let more = prices.charge_for_volume(start, smaller + extra).unwrap();
            prop_assert!(less.amount <= more.amount);
        }

        /// By amount: the volume's by-volume charge is what is charged, never more than
        /// offered, and one litre more would cost (exactly, before rounding) more than offered.
        #[test]
        fn an_amount_buys_the_most_litres_it_pays_for(
            prices in any_mode().prop_flat_map(|mode| any_version(mode, PRICE_DECIMALS)),
            start in litres(300_000),
            cents in 0i64..100_000_000,
        ) {
            let offered = Decimal::new(cents, MONEY_DECIMALS);
            let purchase = match prices.charge_for_amount(start, offered) {
                // At the tiniest prices the money buys more than one purchase holds.
                Err(PurchaseError::VolumeTooLarge) => {
                    let most = prices.charge_for_volume(start, MAX_VOLUME).unwrap();
                    prop_assert!(exact(&most) <= offered);
                    return Ok(());
                }
                other => other.unwrap(),
            };
            let volume = purchase.charge.volume;
            prop_assert_eq!(&purchase.charge, &prices.charge_for_volume(start, volume.to_decimal()).unwrap());
            prop_assert_eq!(purchase.offered.to_decimal(), offered);
            prop_assert!(purchase.charge.amount <= purchase.offered);
            prop_assert_eq!(purchase.not_taken, purchase.offered - purchase.charge.amount);
            prop_assert!(exact(&purchase.charge) <= offered);
            let one_litre_more = prices
                .charge_for_volume(start, (volume + Volume::LITRE).to_decimal())
                .unwrap();
            prop_assert!(exact(&one_litre_more) > offered);
        }

        /// A receipt's tier lines add up to its amount to the cent, by volume and by amount,
        /// in every mode and at any VAT rate; each line is its exact product rounded up or
        /// down, never by a cent or more.
        #[test]
        fn tier_lines_add_up_to_the_amount(
            prices in any_mode().prop_flat_map(|mode| any_version(mode, PRICE_DECIMALS)),
            start in litres(300_000),
            slice in litres(300_000),
            cents in 0i64..100_000_000,
        ) {
            let by_volume = prices.charge_for_volume(start, slice).unwrap();
            let by_amount = match prices.charge_for_amount(start, Decimal::new(cents, MONEY_DECIMALS)) {
                Err(PurchaseError::VolumeTooLarge) => None,
                other => Some(other.unwrap().charge),
            };
            for charge in std::iter::once(&by_volume).chain(&by_amount) {
                prop_assert_eq!(charge.tiers.iter().map(|line| line.amount).sum::<Money>(), charge.amount);
                prop_assert_eq!(charge.tiers.iter().map(|line| line.volume).sum::<Volume>(), charge.volume);
                for line in &charge.tiers {
                    prop_assert_eq!(line.exact, line.volume * line.unit_price);
                    prop_assert!((line.amount.to_decimal() - line.exact).abs() < Decimal::new(1, 2));
                }
                prop_assert!(charge.vat <= charge.amount);
            }
        }

        #[test]
        fn vat_is_a_part_of_the_amount(
            prices in any_mode().prop_flat_map(|mode| any_version(mode, PRICE_DECIMALS)),
            slice in litres(300_000),
        ) {
            let charge = prices.charge_for_volume(Decimal::ZERO, slice).unwrap();
            prop_assert!(charge.vat >= Money::ZERO && charge.vat <= charge.amount);
            prop_assert_eq!(charge.vat + charge.net_of_vat(), charge.amount);
        }

        /// Every date lies in exactly one cycle, and cycles follow each other without gaps.
        #[test]
        fn cycles_tile_the_calendar(
            first_day in 0i64..40_000,
            months in 1u32..=MAX_CYCLE_MONTHS,
            date in 0i64..40_000,
        ) {
            let epoch = day("1970-01-01");
            let cycle = AccumulationCycle::new(epoch + chrono::Days::new(first_day as u64), months).unwrap();
            let date = epoch + chrono::Days::new(date as u64);
            let period = cycle.period_containing(date);
            prop_assert!(period.contains(date));
            prop_assert_eq!(cycle.period_containing(period.next_first_day).first_day, period.next_first_day);
            prop_assert_eq!(cycle.period_containing(period.first_day), period);
        }
    }

    #[test]
    fn scheme_fields_fit_the_mode_and_kind() {
        use AccountKind::{Postpaid, Prepaid};
        use BillingMode::{Fixed, Leap, Stepped};
        use SchemeFieldsError::{AccumulationCycle, SettlementCycle};
        // Each case: mode, kind, accumulation and settlement months, and the verdict.
        let cases = [
            (Fixed, Prepaid, None, None, Ok(())),
            (Stepped, Postpaid, Some(12), Some(2), Ok(())),
            (Fixed, Prepaid, Some(12), None, Err(AccumulationCycle)),
            (Leap, Prepaid, Some(121), None, Err(AccumulationCycle)),
            (Fixed, Postpaid, None, None, Err(SettlementCycle)),
            (Fixed, Prepaid, None, Some(1), Err(SettlementCycle)),
        ];
        for (mode, kind, accumulation, settlement, verdict) in cases {
            assert_eq!(
                check_scheme_fields(mode, kind, dec("9"), accumulation, settlement),
                verdict,
                "{mode:?} {kind:?}, accumulation {accumulation:?}, settlement {settlement:?}"
            );
        }
        for vat in ["100", "-1", "9.001"] {
            assert_eq!(
                check_scheme_fields(BillingMode::Fixed, Prepaid, dec(vat), None, None),
                Err(SchemeFieldsError::VatRate),
                "{vat}"
            );
        }
    }
}
