//! Meter readings and what they cost: the consumption a reading shows (rollover, readings below
//! the previous one), abnormal consumption, and the price of a settlement cycle's consumption
//! (a postpaid bill) or of one reading's (a system-prepaid deduction) by a [`PriceScheme`].
//!
//! **Which price applies.** The meter says how much water ran between two readings, not when:
//! the one date a reading has is the day it was read. A reading's consumption is therefore
//! priced by the version in force on its reading date, and a price change applies to readings
//! taken on or after its date (docs/decisions.md, "Bills: the price of a reading's date").
//!
//! **A bill is priced as a whole.** A bill's readings are priced together: consecutive readings
//! under the same price version and in the same accumulation cycle form one slice, charged from
//! the volume accumulated before it and rounded once. So a settlement cycle read once or read
//! five times costs the same to the cent, as long as no price change or accumulation cycle
//! starts within it.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use super::money::{Money, Volume};
use super::pricing::{AccumulationCycle, Charge, CyclePeriod, PriceScheme, PurchaseError};

/// A consumption above this many times the average of recent ones needs a confirmation.
pub const ABNORMAL_FACTOR: Decimal = Decimal::from_parts(3, 0, 0, false, 0);
/// How many of the latest consumptions the average is taken over.
pub const ABNORMAL_WINDOW: usize = 6;
/// A bill is due this many days after its settlement cycle ends.
pub const DAYS_TO_PAY: u64 = 30;

/// Why a reading cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    #[error(
        "the reading is below the previous one ({previous}); mark it a rollover if the register wrapped"
    )]
    BelowPrevious { previous: Volume },
    #[error("a rollover reading is below the previous one ({previous})")]
    NotARollover { previous: Volume },
    #[error("the reading is dated before the previous one ({previous})")]
    BeforePrevious { previous: NaiveDate },
    /// A year or a month mistyped forward: the meter cannot have been read yet, and the
    /// reading would be priced at a future price and block the real readings before it.
    #[error("the reading is dated after today ({today})")]
    AfterToday { today: NaiveDate },
}

/// The water a reading shows since the previous one (the meter's initial reading for its first).
///
/// A reading below the previous one is refused unless it is marked a rollover: the register
/// wrapped at its maximum. The register's size is not recorded per meter; a register wraps only
/// when it is near full, so its capacity is taken as the smallest power of ten above the
/// previous reading (99 870 → 100 000), and the consumption is what ran up to the wrap plus
/// the new reading.
pub fn consumption(
    previous: Volume,
    current: Volume,
    rollover: bool,
) -> Result<Volume, ReadingError> {
    match (rollover, current >= previous) {
        (false, true) => Ok(current - previous),
        (false, false) => Err(ReadingError::BelowPrevious { previous }),
        (true, true) => Err(ReadingError::NotARollover { previous }),
        (true, false) => Ok(register_capacity(previous) - previous + current),
    }
}

/// The smallest power of ten (at least 10 m³) above `reading`.
pub fn register_capacity(reading: Volume) -> Volume {
    let mut capacity = Decimal::TEN;
    while capacity <= reading.to_decimal() {
        capacity *= Decimal::TEN;
    }
    Volume::exact(capacity).expect("a power of ten is whole m³")
}

/// Whether `consumption` is abnormal: above [`ABNORMAL_FACTOR`] × the average of the latest
/// [`ABNORMAL_WINDOW`] consumptions in `history` (oldest first). Without history nothing is.
pub fn is_abnormal(consumption: Volume, history: &[Volume]) -> bool {
    let recent = &history[history.len().saturating_sub(ABNORMAL_WINDOW)..];
    if recent.is_empty() {
        return false;
    }
    let total: Volume = recent.iter().copied().sum();
    // consumption > factor × total ÷ n, without dividing.
    consumption.to_decimal() * Decimal::from(recent.len()) > ABNORMAL_FACTOR * total.to_decimal()
}

/// The water of one reading, on its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub read_on: NaiveDate,
    pub volume: Volume,
}

/// A part of a priced consumption: the slices under one price version in one accumulation
/// cycle, charged together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedPart {
    /// The price version's first day.
    pub prices_from: NaiveDate,
    /// The part's m³, tier lines, amount and VAT.
    pub charge: Charge,
}

/// The price of some readings' water: a bill, or a deduction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub volume: Volume,
    pub parts: Vec<PricedPart>,
    /// Σ of the parts' amounts, VAT included.
    pub amount: Money,
    /// Σ of the parts' VAT.
    pub vat: Money,
}

/// Why readings cannot be priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("the price scheme has no price on {0}")]
    NoPriceOn(NaiveDate),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
}

/// The price of `slices` (in date order) when `earlier` slices (any order) were charged before
/// them: each slice's tiers start from the volume of its accumulation cycle charged before it.
pub fn price(
    scheme: &PriceScheme,
    earlier: &[Slice],
    slices: &[Slice],
) -> Result<Priced, BillingError> {
    let cycle = scheme.cycle();
    let mut parts: Vec<PricedPart> = Vec::new();
    // (cycle, version start, volume) of each group of consecutive slices.
    let mut groups: Vec<(CyclePeriod, NaiveDate, Volume)> = Vec::new();
    for slice in slices {
        let prices = scheme
            .prices_on(slice.read_on)
            .ok_or(BillingError::NoPriceOn(slice.read_on))?;
        let period = cycle.period_containing(slice.read_on);
        match groups.last_mut() {
            Some((last_period, from, volume))
                if *last_period == period && *from == prices.effective_from() =>
            {
                *volume += slice.volume
            }
            _ => groups.push((period, prices.effective_from(), slice.volume)),
        }
    }
    let mut charged_before: Vec<Slice> = earlier.to_vec();
    for (period, from, volume) in groups {
        let prices = scheme.prices_on(from).expect("the version was found above");
        let accumulated = period.accumulated(charged_before.iter().map(|s| (s.read_on, s.volume)));
        let charge = prices.charge_for_volume(accumulated.to_decimal(), volume.to_decimal())?;
        charged_before.push(Slice {
            read_on: period.first_day.max(from),
            volume,
        });
        parts.push(PricedPart {
            prices_from: from,
            charge,
        });
    }
    Ok(Priced {
        volume: slices.iter().map(|slice| slice.volume).sum(),
        amount: parts.iter().map(|part| part.charge.amount).sum(),
        vat: parts.iter().map(|part| part.charge.vat).sum(),
        parts,
    })
}

/// A postpaid scheme's settlement cycles: every `months` months from the scheme's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementCycles(AccumulationCycle);

impl SettlementCycles {
    pub fn new(start: NaiveDate, months: u32) -> Result<Self, super::pricing::SchemeError> {
        AccumulationCycle::new(start, months).map(Self)
    }

    /// The cycle a reading on `date` is settled in: its bill's period.
    pub fn period_of(&self, date: NaiveDate) -> CyclePeriod {
        self.0.period_containing(date)
    }

    pub fn months(&self) -> u32 {
        self.0.months()
    }
}

/// A bill's last day and due date for a settlement `period`.
pub fn last_day_and_due(period: &CyclePeriod) -> (NaiveDate, NaiveDate) {
    let last_day = period
        .next_first_day
        .pred_opt()
        .unwrap_or(period.next_first_day);
    let due = last_day
        .checked_add_days(Days::new(DAYS_TO_PAY))
        .unwrap_or(NaiveDate::MAX);
    (last_day, due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::tests::{day, dec, m3, tier};
    use crate::domain::pricing::{BillingMode, PriceVersion};
    use proptest::prelude::*;

    fn slice(date: &str, volume: &str) -> Slice {
        Slice {
            read_on: day(date),
            volume: m3(volume),
        }
    }

    /// The manual's tiers: 1.00/m³ to 50, 2.00/m³ to 100, 3.00/m³ above.
    fn manual_version(from: &str, mode: BillingMode, scale: &str) -> PriceVersion {
        let scaled = |up_to, price| {
            let mut scaled = tier(up_to, price);
            scaled.unit_price *= dec(scale);
            scaled
        };
        PriceVersion::new(
            day(from),
            mode,
            vec![
                scaled(Some("50"), "1"),
                scaled(Some("100"), "2"),
                scaled(None, "3"),
            ],
            dec("9"),
        )
        .unwrap()
    }

    /// The manual's scheme: cycles of 12 months from 2025-01-01.
    fn manual_scheme(mode: BillingMode) -> PriceScheme {
        PriceScheme::new(
            AccumulationCycle::new(day("2025-01-01"), 12).unwrap(),
            vec![manual_version("2025-01-01", mode, "1")],
        )
        .unwrap()
    }

    #[test]
    fn consumption_is_the_difference_from_the_previous_reading() {
        assert_eq!(consumption(m3("120.5"), m3("130"), false), Ok(m3("9.5")));
        assert_eq!(consumption(m3("130"), m3("130"), false), Ok(Volume::ZERO));
    }

    #[test]
    fn a_reading_below_the_previous_is_refused_unless_a_rollover() {
        assert_eq!(
            consumption(m3("99870"), m3("12"), false),
            Err(ReadingError::BelowPrevious {
                previous: m3("99870")
            })
        );
        // The register wrapped at 100 000: 130 m³ to the wrap, then 12.
        assert_eq!(consumption(m3("99870"), m3("12"), true), Ok(m3("142")));
        assert_eq!(consumption(m3("9998.5"), m3("0.5"), true), Ok(m3("2")));
        assert_eq!(
            consumption(m3("50"), m3("60"), true),
            Err(ReadingError::NotARollover { previous: m3("50") })
        );
    }

    #[test]
    fn register_capacity_is_the_next_power_of_ten() {
        assert_eq!(register_capacity(m3("0")), m3("10"));
        assert_eq!(register_capacity(m3("9.999")), m3("10"));
        assert_eq!(register_capacity(m3("10")), m3("100"));
        assert_eq!(register_capacity(m3("99870")), m3("100000"));
    }

    #[test]
    fn abnormal_is_above_three_times_the_recent_average() {
        let history = [m3("10"), m3("12"), m3("8")];
        assert!(!is_abnormal(m3("30"), &history), "exactly 3 × 10 is normal");
        assert!(is_abnormal(m3("30.001"), &history));
        assert!(
            !is_abnormal(m3("1000"), &[]),
            "no history: nothing to compare"
        );
        // Only the latest six count: an old huge one is forgotten.
        let long = [
            m3("900"),
            m3("1"),
            m3("1"),
            m3("1"),
            m3("1"),
            m3("1"),
            m3("1"),
        ];
        assert!(is_abnormal(m3("4"), &long));
    }

    /// The manual's worked example, through readings: 30 m³ read in Q1 costs 30.00; 60 m³ in
    /// Q2 (running 30 → 90) costs 20 × 1.00 + 40 × 2.00 = 100.00, VAT 9 % inside: 8.26.
    #[test]
    fn the_manuals_worked_example_by_readings() {
        let scheme = manual_scheme(BillingMode::Stepped);
        let q1 = [slice("2025-02-10", "12"), slice("2025-03-20", "18")];
        let first = price(&scheme, &[], &q1).unwrap();
        assert_eq!(first.amount.to_string(), "30.00");
        assert_eq!(first.vat.to_string(), "2.48");
        let q2 = [slice("2025-05-15", "60")];
        let second = price(&scheme, &q1, &q2).unwrap();
        assert_eq!(second.amount.to_string(), "100.00");
        assert_eq!(second.vat.to_string(), "8.26");
        let lines: Vec<_> = second.parts[0]
            .charge
            .tiers
            .iter()
            .map(|tier| (tier.tier, tier.volume.to_string(), tier.amount.to_string()))
            .collect();
        assert_eq!(
            lines,
            [
                (1, "20.000".into(), "20.00".into()),
                (2, "40.000".into(), "80.00".into())
            ]
        );
        // A new accumulation cycle starts from the first tier again.
        let next_year = price(
            &scheme,
            &[q1[0], q1[1], q2[0]],
            &[slice("2026-01-20", "60")],
        )
        .unwrap();
        assert_eq!(next_year.amount.to_string(), "70.00");
    }

    #[test]
    fn leap_prices_the_whole_slice_at_the_tier_reached() {
        let scheme = manual_scheme(BillingMode::Leap);
        let q2 = price(
            &scheme,
            &[slice("2025-03-01", "30")],
            &[slice("2025-05-15", "60")],
        )
        .unwrap();
        assert_eq!(q2.amount.to_string(), "120.00");
    }

    #[test]
    fn a_price_change_applies_from_the_reading_date_on() {
        // Prices double from 2025-05-01; water accumulated before still counts.
        let scheme = PriceScheme::new(
            AccumulationCycle::new(day("2025-01-01"), 12).unwrap(),
            vec![
                manual_version("2025-01-01", BillingMode::Stepped, "1"),
                manual_version("2025-05-01", BillingMode::Stepped, "2"),
            ],
        )
        .unwrap();
        let bill = price(
            &scheme,
            &[],
            &[slice("2025-04-20", "40"), slice("2025-05-20", "20")],
        )
        .unwrap();
        // 40 × 1.00, then 10 × 2.00 (to 50) + 10 × 4.00.
        assert_eq!(bill.amount.to_string(), "100.00");
        assert_eq!(bill.parts.len(), 2);
        assert_eq!(bill.parts[1].prices_from, day("2025-05-01"));
        assert_eq!(
            price(&scheme, &[], &[slice("2024-12-31", "1")]),
            Err(BillingError::NoPriceOn(day("2024-12-31")))
        );
    }

    #[test]
    fn settlement_cycles_and_due_dates() {
        let cycles = SettlementCycles::new(day("2025-01-01"), 3).unwrap();
        let period = cycles.period_of(day("2025-05-15"));
        assert_eq!(period.first_day, day("2025-04-01"));
        assert_eq!(
            last_day_and_due(&period),
            (day("2025-06-30"), day("2025-07-30"))
        );
    }

    fn any_mode() -> impl Strategy<Value = BillingMode> {
        prop_oneof![Just(BillingMode::Stepped), Just(BillingMode::Leap)]
    }

    proptest! {
        /// A cycle read in several readings costs what it costs read once, to the cent.
        #[test]
        fn several_readings_cost_what_one_does(
            mode in any_mode(),
            before in 0i64..200_000,
            litres in proptest::collection::vec(0i64..80_000, 1..8),
            scale in prop_oneof![Just("1"), Just("1.3333"), Just("2.1111")],
        ) {
            let scheme = PriceScheme::new(
                AccumulationCycle::new(day("2025-01-01"), 12).unwrap(),
                vec![manual_version("2025-01-01", mode, scale)],
            ).unwrap();
            let earlier = [Slice { read_on: day("2025-02-01"), volume: Volume::exact(Decimal::new(before, 3)).unwrap() }];
            let slices: Vec<Slice> = litres.iter().enumerate().map(|(index, litres)| Slice {
                read_on: day("2025-04-01") + Days::new(index as u64),
                volume: Volume::exact(Decimal::new(*litres, 3)).unwrap(),
            }).collect();
            let total: Volume = slices.iter().map(|slice| slice.volume).sum();
            let once = [Slice { read_on: slices.last().unwrap().read_on, volume: total }];
            let several = price(&scheme, &earlier, &slices).unwrap();
            let single = price(&scheme, &earlier, &once).unwrap();
            prop_assert_eq!(several.amount, single.amount);
            prop_assert_eq!(several.vat, single.vat);
            prop_assert_eq!(several.volume, total);
        }

        /// A rollover's consumption is never negative and the register's capacity lies above
        /// the previous reading.
        #[test]
        fn a_rollover_never_goes_back(previous in 0i64..999_999_999, current in 0i64..999_999_999) {
            let previous = Volume::exact(Decimal::new(previous, 3)).unwrap();
            let current = Volume::exact(Decimal::new(current, 3)).unwrap();
            if current < previous {
                let used = consumption(previous, current, true).unwrap();
                prop_assert!(used > Volume::ZERO);
                prop_assert!(register_capacity(previous) > previous);
            }
        }
    }
}
