//! Quantities with tc's units and meanings: rates, sizes, durations, percentages.

use std::fmt;

/// Bits per second. `kbps`/`mbps`/`gbps` in the source are bytes per second, as in tc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Rate(pub u64);

/// Bytes. `1kb` is 1024 bytes, as in tc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Size(pub u64);

/// Nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Duration(pub u64);

/// A percentage, `0.25%` is 0.25.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
pub struct Percent(pub f64);

impl Rate {
    pub fn bytes_per_sec(self) -> u64 {
        self.0 / 8
    }
}

impl Duration {
    pub fn micros(self) -> u64 {
        self.0 / 1_000
    }
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0)
    }
}

/// Parses the unit suffix of a rate; the number is already split off.
pub fn rate_multiplier(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "bit" => 1,
        "kbit" => 1_000,
        "mbit" => 1_000_000,
        "gbit" => 1_000_000_000,
        "tbit" => 1_000_000_000_000,
        "bps" => 8,
        "kbps" => 8_000,
        "mbps" => 8_000_000,
        "gbps" => 8_000_000_000,
        "tbps" => 8_000_000_000_000,
        _ => return None,
    })
}

pub fn size_multiplier(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "b" => 1,
        "k" | "kb" => 1024,
        "m" | "mb" => 1024 * 1024,
        "g" | "gb" => 1024 * 1024 * 1024,
        "kbit" => 1024 / 8,
        "mbit" => 1024 * 1024 / 8,
        "gbit" => 1024 * 1024 * 1024 / 8,
        _ => return None,
    })
}

pub fn duration_multiplier(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" => 1_000_000_000,
        _ => return None,
    })
}

/// Applies a multiplier to a decimal number written as text ("1.5"), exactly where it can be.
pub fn scale(number: &str, multiplier: u64) -> Option<u64> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut value = int.checked_mul(multiplier as u128)?;
    if !frac.is_empty() {
        let digits: u32 = frac.len() as u32;
        if digits > 18 {
            return None;
        }
        let frac_value: u128 = frac.parse().ok()?;
        value = value.checked_add(frac_value * multiplier as u128 / 10u128.pow(digits))?;
    }
    u64::try_from(value).ok()
}

impl fmt::Display for Rate {
    /// As tc prints rates: the largest unit that divides evenly, in bits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (unit, m) in [("gbit", 1_000_000_000u64), ("mbit", 1_000_000), ("kbit", 1_000)] {
            if v >= m && v.is_multiple_of(m) {
                return write!(f, "{}{}", v / m, unit);
            }
        }
        write!(f, "{}bit", v)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (unit, m) in [("mb", 1024 * 1024u64), ("kb", 1024)] {
            if v >= m && v.is_multiple_of(m) {
                return write!(f, "{}{}", v / m, unit);
            }
        }
        write!(f, "{}b", v)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        for (unit, m) in [("s", 1_000_000_000u64), ("ms", 1_000_000), ("us", 1_000)] {
            if v >= m && v.is_multiple_of(m) {
                return write!(f, "{}{}", v / m, unit);
            }
        }
        write!(f, "{}ns", v)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc_units() {
        assert_eq!(scale("1", rate_multiplier("mbit").unwrap()), Some(1_000_000));
        assert_eq!(scale("1", rate_multiplier("mbps").unwrap()), Some(8_000_000));
        assert_eq!(scale("10", size_multiplier("kb").unwrap()), Some(10_240));
        assert_eq!(scale("1.5", rate_multiplier("mbit").unwrap()), Some(1_500_000));
        assert_eq!(scale("70", duration_multiplier("ms").unwrap()), Some(70_000_000));
        assert_eq!(Rate(1_000_000).to_string(), "1mbit");
        assert_eq!(Size(10_240).to_string(), "10kb");
        assert_eq!(Duration(70_000_000).to_string(), "70ms");
        assert_eq!(scale("99999999999999999999", 1), None);
    }
}
