//! Kubernetes resource quantities ("500m", "2Gi", "1e3"), parsed so that errors are caught in
//! the cell and requests can be compared with limits.

use std::fmt;

/// A parsed quantity: the text the user wrote (what the manifest carries) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    text: String,
    value: f64,
}

impl Quantity {
    /// Parses a non-negative quantity, or explains what a quantity looks like.
    pub fn parse(text: &str) -> Result<Quantity, String> {
        let text = text.trim();
        let digits_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(digits_end);
        let number_ok = !number.is_empty()
            && number != "."
            && number.matches('.').count() <= 1;
        let multiplier = suffix_multiplier(suffix);
        match (number_ok, multiplier) {
            (true, Some(multiplier)) => {
                let base: f64 = number.parse().map_err(|_| describe(text))?;
                let value = base * multiplier;
                if value.is_finite() {
                    Ok(Quantity { text: text.to_string(), value })
                } else {
                    Err(describe(text))
                }
            }
            _ => Err(describe(text)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value in base units (cores, bytes).
    pub fn value(&self) -> f64 {
        self.value
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn suffix_multiplier(suffix: &str) -> Option<f64> {
    let binary = |power: i32| Some(1024f64.powi(power));
    let decimal = |power: i32| Some(10f64.powi(power));
    match suffix {
        "" => Some(1.0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..].parse().ok()?;
            if power.abs() > 30 { None } else { decimal(power) }
        }
        _ => None,
    }
}

fn describe(text: &str) -> String {
    format!("{text:?} is not a Kubernetes quantity")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kubernetes_accepts() {
        assert_eq!(Quantity::parse("500m").unwrap().value(), 0.5);
        assert_eq!(Quantity::parse("2").unwrap().value(), 2.0);
        assert_eq!(Quantity::parse("1.5").unwrap().value(), 1.5);
        assert_eq!(Quantity::parse("2Gi").unwrap().value(), 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(Quantity::parse("1G").unwrap().value(), 1e9);
        assert_eq!(Quantity::parse("1e3").unwrap().value(), 1000.0);
        assert_eq!(Quantity::parse("500M").unwrap().as_str(), "500M");
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in ["", "-1", "abc", "1GB", "2 Gi", "1.2.3", ".", "1e99", "Gi"] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }
}
