//! Money, water and unit prices as types (domain.md, "Numbers and formats"): [`Money`] has 2
//! decimals, [`Volume`] (m³) 3, [`UnitPrice`] (per m³) 4. Each holds a `Decimal` at exactly its
//! scale, so it always shows all its decimals and compares and hashes by value.
//!
//! Each has one way in from a raw `Decimal` that may have more decimals, with its rule:
//! amounts are rounded half-up to 0.01 ([`Money::round_half_up`]), volumes bought by amount
//! down to 0.001 ([`Volume::round_down`], [`Volume::affordable`]), and unit prices are never
//! rounded: [`UnitPrice::exact`] refuses a fifth decimal, as `exact` does for the others and as
//! reading a `NUMERIC` with too many decimals from the database does.
//!
//! Display shows exactly the type's decimals and ignores a precision in the format string:
//! `{:.2}` on a `Decimal` truncates, so the types never let a format cut a price.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Decimals of money.
pub const MONEY_DECIMALS: u32 = 2;
/// Decimals of a volume in m³: whole litres.
pub const VOLUME_DECIMALS: u32 = 3;
/// Decimals of a unit price per m³.
pub const PRICE_DECIMALS: u32 = 4;
/// Largest volume the database holds, 999999999.999 m³ (`NUMERIC(12,3)`).
pub const MAX_VOLUME: Decimal = Decimal::from_parts(0xd4a5_0fff, 0xe8, 0, false, VOLUME_DECIMALS);
/// Largest unit price the database holds, 999999.9999 (`NUMERIC(10,4)`).
pub const MAX_UNIT_PRICE: Decimal = Decimal::from_parts(0x540b_e3ff, 0x2, 0, false, PRICE_DECIMALS);
/// Largest amount of money the database holds, 999999999999.99 (`NUMERIC(14,2)`).
pub const MAX_MONEY: Decimal = Decimal::from_parts(0x107a_3fff, 0x5af3, 0, false, MONEY_DECIMALS);

/// The most one movement at the counter takes (a deposit, a refund, a card recharge by amount):
/// a typo guard far above any real payment, and the database's limit too
/// (sql/V104's `md_counter_most_amount()`; tests/boundary.rs asks that the two agree).
pub const COUNTER_MAX_AMOUNT: Decimal =
    Decimal::from_parts(10_000_000, 0, 0, false, MONEY_DECIMALS);
/// …and of water in one card recharge by volume, 100 000.000 m³ (`md_counter_most_volume()`).
pub const COUNTER_MAX_VOLUME: Decimal =
    Decimal::from_parts(100_000_000, 0, 0, false, VOLUME_DECIMALS);

/// A value with more decimals than its type holds, where nothing may round it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{value} has more than {decimals} decimals")]
pub struct TooManyDecimals {
    pub value: Decimal,
    pub decimals: u32,
}

/// Text that is not a number of the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a number: {0:?}")]
    NotANumber(String),
    #[error(transparent)]
    TooManyDecimals(#[from] TooManyDecimals),
}

/// `value` as a clerk may type it and as the forms' hints write a number: its thousands
/// separated by commas (`1,234.567`), its decimals as its scale has them.
pub fn with_thousands(value: Decimal) -> String {
    let text = value.abs().to_string();
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3 + 1);
    if value.is_sign_negative() && !value.is_zero() {
        grouped.push('-');
    }
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(fraction) = fraction {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    grouped
}

/// `value` at exactly `decimals` decimals, which it must fit; a zero is never negative (a
/// rounded −0.001 must not show as −0.00).
fn at_scale(mut value: Decimal, decimals: u32) -> Decimal {
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    value.rescale(decimals);
    value
}

/// `value` rounded by `strategy` to `decimals`, at exactly that scale.
fn rounded(value: Decimal, decimals: u32, strategy: RoundingStrategy) -> Decimal {
    at_scale(value.round_dp_with_strategy(decimals, strategy), decimals)
}

/// `text` in `f`'s width, fill and alignment (right by default, as numbers are); the precision
/// is ignored because the type has already decided its decimals.
fn pad_number(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let missing = f.width().unwrap_or(0).saturating_sub(text.chars().count());
    let (before, after) = match f.align() {
        Some(fmt::Alignment::Left) => (0, missing),
        Some(fmt::Alignment::Center) => (missing / 2, missing - missing / 2),
        Some(fmt::Alignment::Right) | None => (missing, 0),
    };
    let fill = f.fill().to_string();
    f.write_str(&fill.repeat(before))?;
    f.write_str(text)?;
    f.write_str(&fill.repeat(after))
}

/// A quantity with a fixed number of decimals: construction, Display, parsing, serde (as a
/// string, `"12.50"`), `NUMERIC` in and out, and the sums within the type.
macro_rules! fixed_decimal {
    ($(#[$meta:meta])* $name:ident, $decimals:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Decimal);

        impl $name {
            /// Its decimals.
            pub const DECIMALS: u32 = $decimals;
            pub const ZERO: Self = Self(Decimal::from_parts(0, 0, 0, false, $decimals));

            /// `value`, which must have at most the type's decimals (trailing zeros aside).
            pub fn exact(value: Decimal) -> Result<Self, TooManyDecimals> {
                if value.normalize().scale() > Self::DECIMALS {
                    return Err(TooManyDecimals {
                        value,
                        decimals: Self::DECIMALS,
                    });
                }
                Ok(Self(at_scale(value, Self::DECIMALS)))
            }

            /// The value, with exactly the type's decimals.
            pub fn to_decimal(self) -> Decimal {
                self.0
            }

            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::ZERO
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Decimal {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                pad_number(f, &self.0.to_string())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(text: &str) -> Result<Self, ParseError> {
                let value = Decimal::from_str_exact(text.trim())
                    .map_err(|_| ParseError::NotANumber(text.to_owned()))?;
                Ok(Self::exact(value)?)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl ToSql for $name {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <Decimal as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $name {
            /// A stored value with more decimals than the type holds is an error, not rounded:
            /// it means a column or a query that does not say what the code believes.
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                Ok(Self::exact(Decimal::from_sql(ty, raw)?)?)
            }

            fn accepts(ty: &Type) -> bool {
                <Decimal as FromSql>::accepts(ty)
            }
        }

        impl Add for $name {
            type Output = Self;

            fn add(self, other: Self) -> Self {
                Self(self.0 + other.0)
            }
        }

        impl Sub for $name {
            type Output = Self;

            fn sub(self, other: Self) -> Self {
                Self(at_scale(self.0 - other.0, Self::DECIMALS))
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, other: Self) {
                *self = *self + other;
            }
        }

        impl Sum for $name {
            fn sum<I: Iterator<Item = Self>>(values: I) -> Self {
                values.fold(Self::ZERO, Add::add)
            }
        }
    };
}

fixed_decimal!(
    /// An amount of money: 2 decimals (`NUMERIC(14,2)`).
    Money,
    MONEY_DECIMALS
);
fixed_decimal!(
    /// A volume of water in m³: 3 decimals, whole litres (`NUMERIC(12,3)`).
    Volume,
    VOLUME_DECIMALS
);
fixed_decimal!(
    /// A price per m³: 4 decimals (`NUMERIC(10,4)`). Never rounded.
    UnitPrice,
    PRICE_DECIMALS
);

impl Money {
    /// An exact amount (a sum of tier products, a VAT share) rounded half-up to 0.01: 0.005
    /// becomes 0.01 (and −0.005 −0.01, away from zero).
    pub fn round_half_up(exact: Decimal) -> Money {
        Money(rounded(
            exact,
            MONEY_DECIMALS,
            RoundingStrategy::MidpointAwayFromZero,
        ))
    }

    /// Whole cents.
    pub fn from_cents(cents: i64) -> Money {
        Money(Decimal::new(cents, MONEY_DECIMALS))
    }
}

impl Volume {
    /// A volume rounded down to whole litres (0.0019 m³ becomes 0.001).
    pub fn round_down(exact: Decimal) -> Volume {
        Volume(rounded(
            exact,
            VOLUME_DECIMALS,
            RoundingStrategy::ToNegativeInfinity,
        ))
    }

    /// One litre, the smallest volume sold.
    pub const LITRE: Volume = Volume(Decimal::from_parts(1, 0, 0, false, VOLUME_DECIMALS));

    /// The card counts litres.
    pub fn from_litres(litres: u32) -> Volume {
        Volume(Decimal::new(i64::from(litres), VOLUME_DECIMALS))
    }

    /// Whole litres, if the volume is not negative and fits a card's counter.
    pub fn to_litres(self) -> Option<u32> {
        u32::try_from(self.0.mantissa()).ok()
    }

    /// The most whole litres whose exact price at `price` is at most `budget`: the quotient
    /// rounded down to 0.001 m³. `budget` is exact money (it may be what is left of an amount
    /// after whole tiers' exact prices). Panics on a zero price, as any division by zero does:
    /// a free tier buys without limit, which the caller decides.
    pub fn affordable(budget: Decimal, price: UnitPrice) -> Volume {
        let volume = Volume::round_down(budget / price.0);
        // The division rounds at 28 significant digits, so a quotient a hair below a whole
        // litre can come out on it; the exact product tells.
        if volume * price > budget {
            volume - Volume::LITRE
        } else {
            volume
        }
    }

    /// The price of this volume at `price`, rounded half-up to 0.01.
    pub fn priced_at(self, price: UnitPrice) -> Money {
        Money::round_half_up(self * price)
    }
}

/// The exact price of a volume: up to 7 decimals, not yet money. Sum the products of a charge
/// and round the total once with [`Money::round_half_up`].
impl Mul<UnitPrice> for Volume {
    type Output = Decimal;

    fn mul(self, price: UnitPrice) -> Decimal {
        self.0 * price.0
    }
}

/// The water an amount buys at one price, rounded down to whole litres ([`Volume::affordable`];
/// the price must not be zero).
impl Div<UnitPrice> for Money {
    type Output = Volume;

    fn div(self, price: UnitPrice) -> Volume {
        Volume::affordable(self.0, price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::tests::dec;
    use proptest::prelude::*;

    #[test]
    fn a_number_with_its_thousands_separated_keeps_its_decimals() {
        for (value, shown) in [
            ("0.000", "0.000"),
            ("999.5", "999.5"),
            ("1000", "1,000"),
            ("100000.00", "100,000.00"),
            ("999999999.999", "999,999,999.999"),
            ("-1234.56", "-1,234.56"),
        ] {
            assert_eq!(with_thousands(dec(value)), shown);
        }
        let example =
            |decimals| with_thousands(crate::domain::validation::number_example(decimals));
        assert_eq!(example(3), "1,234.567");
        assert_eq!(example(2), "1,234.56");
        assert_eq!(example(0), "1,234");
    }

    #[test]
    fn amounts_round_half_up_at_the_third_decimal() {
        let money = |text: &str| Money::round_half_up(dec(text)).to_string();
        assert_eq!(money("0.005"), "0.01");
        assert_eq!(money("0.015"), "0.02");
        assert_eq!(money("0.025"), "0.03", "not to even, as round_dp would");
        assert_eq!(money("0.0049999"), "0.00");
        assert_eq!(money("2.675"), "2.68");
        assert_eq!(money("-0.005"), "-0.01");
        assert_eq!(money("-0.004"), "0.00", "a rounded zero is not negative");
        assert_eq!(money("7"), "7.00");
    }

    #[test]
    fn volumes_round_down_to_litres() {
        let volume = |text: &str| Volume::round_down(dec(text)).to_string();
        assert_eq!(volume("0.0019"), "0.001");
        assert_eq!(volume("34.7829999"), "34.782");
        assert_eq!(volume("5"), "5.000");
        assert_eq!(volume("0.0009"), "0.000");
    }

    #[test]
    fn display_shows_the_types_decimals_whatever_the_format_asks() {
        let price = UnitPrice::exact(dec("3.4567")).unwrap();
        assert_eq!(
            format!("{price:.2}"),
            "3.4567",
            "a precision never cuts a price"
        );
        assert_eq!(format!("{:>8}", Money::from_cents(150)), "    1.50");
        assert_eq!(format!("{:<6}|", Volume::from_litres(1)), "0.001 |");
        assert_eq!(format!("{:*^8}", Money::from_cents(5)), "**0.05**");
        assert_eq!(
            format!("{:>10.3}", Volume::from_litres(34_782)),
            "    34.782"
        );
    }

    #[test]
    fn exact_values_must_fit() {
        assert_eq!(
            UnitPrice::exact(dec("1.50000")).unwrap().to_string(),
            "1.5000"
        );
        assert_eq!(
            UnitPrice::exact(dec("1.00001")),
            Err(TooManyDecimals {
                value: dec("1.00001"),
                decimals: 4
            })
        );
        assert!("1.005".parse::<Money>().is_err());
        assert!("abc".parse::<Money>().is_err());
        assert_eq!("12.5".parse::<Money>().unwrap(), Money::from_cents(1250));
    }

    #[test]
    fn database_values_with_more_decimals_are_refused() {
        let mut raw = bytes::BytesMut::new();
        dec("1.005").to_sql(&Type::NUMERIC, &mut raw).unwrap();
        assert!(Money::from_sql(&Type::NUMERIC, &raw).is_err());
        assert_eq!(
            Volume::from_sql(&Type::NUMERIC, &raw).unwrap(),
            Volume::from_litres(1005)
        );
        let mut written = bytes::BytesMut::new();
        Money::from_cents(-1234)
            .to_sql(&Type::NUMERIC, &mut written)
            .unwrap();
        assert_eq!(
            Decimal::from_sql(&Type::NUMERIC, &written).unwrap(),
            dec("-12.34")
        );
    }

    #[test]
    fn serde_writes_strings_at_full_scale() {
        let json = serde_json::to_string(&Money::from_cents(1200)).unwrap();
        assert_eq!(json, "\"12.00\"");
        assert_eq!(
            serde_json::from_str::<Money>(&json).unwrap(),
            Money::from_cents(1200)
        );
        assert!(serde_json::from_str::<Money>("\"12.001\"").is_err());
    }

    #[test]
    fn an_amount_buys_whole_litres() {
        let price = UnitPrice::exact(dec("3.45")).unwrap();
        assert_eq!(
            Money::from_cents(12_000) / price,
            Volume::from_litres(34_782)
        );
        assert_eq!(
            Volume::from_litres(34_782).priced_at(price),
            Money::from_cents(12_000)
        );
        // 1/3 m³ at 3.0000 is 0.999 of a unit: the quotient comes out as 0.333 m³ exactly.
        let third = UnitPrice::exact(dec("3")).unwrap();
        assert_eq!(Money::from_cents(100) / third, Volume::from_litres(333));
        assert_eq!(Volume::from_litres(1_234).to_litres(), Some(1_234));
        assert_eq!((Volume::ZERO - Volume::LITRE).to_litres(), None);
    }

    fn any_money() -> impl Strategy<Value = Money> {
        (-99_999_999_999_999i64..=99_999_999_999_999).prop_map(Money::from_cents)
    }

    fn any_volume() -> impl Strategy<Value = Volume> {
        (0i64..=999_999_999_999).prop_map(|litres| Volume(Decimal::new(litres, VOLUME_DECIMALS)))
    }

    fn any_price() -> impl Strategy<Value = UnitPrice> {
        (0i64..=9_999_999_999).prop_map(|units| UnitPrice(Decimal::new(units, PRICE_DECIMALS)))
    }

    /// Any decimal of up to 7 decimals, as tier products have.
    fn any_exact() -> impl Strategy<Value = Decimal> {
        (
            -999_999_999_999_999_999i64..=999_999_999_999_999_999,
            0u32..=7,
        )
            .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
    }

    proptest! {
        /// What is shown reads back as the same value, for every value of each type.
        #[test]
        fn display_reads_back_as_the_value(
            money in any_money(),
            volume in any_volume(),
            price in any_price(),
        ) {
            prop_assert_eq!(money.to_string().parse::<Money>().unwrap(), money);
            prop_assert_eq!(volume.to_string().parse::<Volume>().unwrap(), volume);
            prop_assert_eq!(price.to_string().parse::<UnitPrice>().unwrap(), price);
            prop_assert_eq!(format!("{money:.0}"), money.to_string());
        }

        /// A rounded value shows exactly the rounded number at full scale: nothing is cut or
        /// rounded again by the display.
        #[test]
        fn display_of_a_rounded_value_is_the_rounded_value(exact in any_exact()) {
            let money = Money::round_half_up(exact);
            let expected = at_scale(
                exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
                2,
            );
            prop_assert_eq!(money.to_string(), expected.to_string());
            prop_assert_eq!(money.to_string().split_once('.').map(|(_, cents)| cents.len()), Some(2));
            prop_assert!((money.to_decimal() - exact).abs() <= dec("0.005"));

            let volume = Volume::round_down(exact);
            prop_assert!(volume.to_decimal() <= exact);
            prop_assert!(exact - volume.to_decimal() < dec("0.001"));
            prop_assert_eq!(volume.to_string().split_once('.').map(|(_, litres)| litres.len()), Some(3));
        }

        /// Half a cent always rounds up (away from zero), never to even.
        #[test]
        fn half_a_cent_rounds_up(cents in 0i64..10_000_000_000) {
            let half = Decimal::new(cents * 10 + 5, 3);
            prop_assert_eq!(Money::round_half_up(half), Money::from_cents(cents + 1));
            prop_assert_eq!(Money::round_half_up(-half), Money::from_cents(-cents - 1));
        }

        /// An amount buys the most whole litres it pays for exactly.
        #[test]
        fn division_buys_the_most_litres(money in any_money(), units in 1i64..=9_999_999_999) {
            let price = UnitPrice(Decimal::new(units, PRICE_DECIMALS));
            let money = Money(money.0.abs());
            let volume = money / price;
            prop_assert!(volume * price <= money.to_decimal());
            prop_assert!((volume + Volume::LITRE) * price > money.to_decimal());
        }
    }
}
