//! Deterministic fixed-point decimals: an `i128` counting units of 10^-18.
//!
//! No floating point anywhere. Sums and differences are exact (or overflow). Products and
//! quotients go through a 256-bit intermediate and are **truncated toward zero** at the 18th
//! decimal place: the one rounding rule, the same on every machine. Every operation is
//! checked: overflow and division by zero are errors, never wrapped or saturated values.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::U256;

/// Decimal places kept.
pub const SCALE: u32 = 18;
/// 10^18: the representation of 1.
const ONE: i128 = 1_000_000_000_000_000_000;

/// A fixed-point decimal with 18 places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal(i128);

/// An arithmetic failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ArithmeticError {
    /// The result does not fit (about ±1.7 × 10^20).
    #[error("overflow")]
    Overflow,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
}

/// Text that is not a decimal in plain notation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal (plain notation such as 51.9 or -3, at most 18 decimal places)")]
pub struct ParseDecimalError(pub String);

impl Decimal {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// One.
    pub const ONE: Self = Self(ONE);
    /// The largest value.
    pub const MAX: Self = Self(i128::MAX);
    /// The smallest value.
    pub const MIN: Self = Self(i128::MIN);

    /// The decimal whose representation (in units of 10^-18) is `units`.
    pub const fn from_units(units: i128) -> Self {
        Self(units)
    }

    /// The representation, in units of 10^-18.
    pub const fn units(self) -> i128 {
        self.0
    }

    /// The whole number `n`.
    pub fn from_integer(n: i64) -> Self {
        Self(i128::from(n) * ONE)
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`.
    pub fn checked_add(self, other: Self) -> Result<Self, ArithmeticError> {
        self.0
            .checked_add(other.0)
            .map(Self)
            .ok_or(ArithmeticError::Overflow)
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Self) -> Result<Self, ArithmeticError> {
        self.0
            .checked_sub(other.0)
            .map(Self)
            .ok_or(ArithmeticError::Overflow)
    }

    /// `-self`.
    pub fn checked_neg(self) -> Result<Self, ArithmeticError> {
        self.0
            .checked_neg()
            .map(Self)
            .ok_or(ArithmeticError::Overflow)
    }

    /// `self × other`, truncated toward zero at the 18th place.
    pub fn checked_mul(self, other: Self) -> Result<Self, ArithmeticError> {
        let negative = (self.0 < 0) != (other.0 < 0);
        let product = magnitude(self.0) * magnitude(other.0) / magnitude(ONE);
        signed(product, negative)
    }

    /// `self ÷ other`, truncated toward zero at the 18th place.
    pub fn checked_div(self, other: Self) -> Result<Self, ArithmeticError> {
        if other.0 == 0 {
            return Err(ArithmeticError::DivisionByZero);
        }
        let negative = (self.0 < 0) != (other.0 < 0);
        let quotient = magnitude(self.0) * magnitude(ONE) / magnitude(other.0);
        signed(quotient, negative)
    }
}

fn magnitude(value: i128) -> U256 {
    U256::from(value.unsigned_abs())
}

/// The i128 with this magnitude and sign, if it fits.
fn signed(magnitude: U256, negative: bool) -> Result<Decimal, ArithmeticError> {
    let magnitude = u128::try_from(magnitude).map_err(|_| ArithmeticError::Overflow)?;
    if negative {
        // -2^127 fits although 2^127 does not.
        0i128
            .checked_sub_unsigned(magnitude)
            .map(Decimal)
            .ok_or(ArithmeticError::Overflow)
    } else {
        i128::try_from(magnitude)
            .map(Decimal)
            .map_err(|_| ArithmeticError::Overflow)
    }
}

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    /// Plain notation: an optional `-`, digits, and optionally `.` and 1 to 18 digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseDecimalError(text.to_string());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > SCALE as usize) {
            return Err(error());
        }
        let mut units = U256::from(0u8);
        let ten = U256::from(10u8);
        for byte in whole.bytes() {
            units = units
                .checked_mul(ten)
                .and_then(|u| u.checked_add(U256::from(byte - b'0')))
                .ok_or_else(error)?;
            if units > U256::from(u128::MAX) {
                return Err(error());
            }
        }
        let fraction = fraction.unwrap_or("");
        for position in 0..SCALE as usize {
            let digit = fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
            units = units * ten + U256::from(digit);
        }
        signed(units, negative).map_err(|_| error())
    }
}

impl fmt::Display for Decimal {
    /// Plain notation without trailing zeros: `51.9`, `900`, `-0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.unsigned_abs();
        let one = ONE.unsigned_abs();
        let (whole, fraction) = (magnitude / one, magnitude % one);
        if self.0 < 0 {
            f.write_str("-")?;
        }
        write!(f, "{whole}")?;
        if fraction != 0 {
            let digits = format!("{fraction:018}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use num_bigint::BigInt;
    use proptest::prelude::*;

    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn plain_notation_round_trips() {
        for text in [
            "0",
            "1",
            "51.9",
            "900",
            "-0.05",
            "0.000000000000000001",
            "170141183460469231731.687303715884105727",
        ] {
            assert_eq!(d(text).to_string(), text);
        }
        assert_eq!(d("1.50").to_string(), "1.5");
        assert_eq!(d("007").to_string(), "7");
        assert_eq!(
            Decimal::MIN.to_string(),
            "-170141183460469231731.687303715884105728"
        );
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "1e3",
            "1.0000000000000000001",
            "+1",
            "1,5",
            " 1",
            "170141183460469231732",
        ] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_seeds_arithmetic_is_exact() {
        // holder: $axdc * $sprate * (1 - $rate) with 3 unpaid dividends, 0.20 and 0.05.
        let one_minus_rate = Decimal::ONE.checked_sub(d("0.05")).unwrap();
        let axd = d("3")
            .checked_mul(d("0.20"))
            .unwrap()
            .checked_mul(one_minus_rate)
            .unwrap();
        assert_eq!(axd, d("0.57"));
        // operator: $eps = p.bl / p.rc.
        assert_eq!(
            d("1000").checked_div(d("3")).unwrap().to_string(),
            "333.333333333333333333"
        );
        assert_eq!(
            d("-1000").checked_div(d("3")).unwrap().to_string(),
            "-333.333333333333333333"
        );
    }

    #[test]
    fn failures_are_errors() {
        assert_eq!(
            Decimal::ONE.checked_div(Decimal::ZERO),
            Err(ArithmeticError::DivisionByZero)
        );
        assert_eq!(
            Decimal::MAX.checked_add(Decimal::from_units(1)),
            Err(ArithmeticError::Overflow)
        );
        assert_eq!(Decimal::MIN.checked_neg(), Err(ArithmeticError::Overflow));
        assert_eq!(
            Decimal::MAX.checked_mul(d("2")),
            Err(ArithmeticError::Overflow)
        );
        assert_eq!(
            Decimal::MAX.checked_div(d("0.5")),
            Err(ArithmeticError::Overflow)
        );
        // The smallest value is reachable by a product, although its negation is not.
        assert_eq!(Decimal::MIN.checked_mul(Decimal::ONE), Ok(Decimal::MIN));
    }

    /// The model: exact rationals as big integers over 10^18, truncated toward zero.
    fn model(a: i128, b: i128, op: char) -> Option<i128> {
        let (a, b, one) = (BigInt::from(a), BigInt::from(b), BigInt::from(ONE));
        let exact = match op {
            '+' => a + b,
            '-' => a - b,
            // BigInt division truncates toward zero, as the rule says.
            '*' => a * b / one,
            '/' if b == BigInt::from(0) => return None,
            '/' => a * one / b,
            _ => unreachable!(),
        };
        i128::try_from(exact).ok()
    }

    fn small() -> impl Strategy<Value = i128> {
        prop_oneof![
            any::<i128>(),
            (-(10i128.pow(24))..10i128.pow(24)),
            (-(10i128.pow(20))..10i128.pow(20)),
            Just(0i128),
            Just(ONE),
            Just(-ONE),
        ]
    }

    proptest! {
        #[test]
        fn arithmetic_matches_an_arbitrary_precision_model(a in small(), b in small()) {
            let (x, y) = (Decimal(a), Decimal(b));
            prop_assert_eq!(x.checked_add(y).ok().map(Decimal::units), model(a, b, '+'));
            prop_assert_eq!(x.checked_sub(y).ok().map(Decimal::units), model(a, b, '-'));
            prop_assert_eq!(x.checked_mul(y).ok().map(Decimal::units), model(a, b, '*'));
            prop_assert_eq!(x.checked_div(y).ok().map(Decimal::units), model(a, b, '/'));
        }

        #[test]
        fn display_and_parse_are_inverse(a in any::<i128>()) {
            prop_assert_eq!(Decimal(a).to_string().parse::<Decimal>(), Ok(Decimal(a)));
        }
    }
}
