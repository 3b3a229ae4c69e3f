//! How the report writes its figures: percentages as exact two-decimal strings, truncated
//! unless half-up rounding is asked for (report-figures.md: every percentage of the 2024 report
//! fits truncation and four of them do not fit rounding), and the Vietnamese number format
//! (`33.923`, `99,80%`, counts below ten as `01`…`09`).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// 77/505 = 15.247…% → "15.24", as the report prints.
    #[default]
    Truncate,
    /// 77/505 → "15.25".
    HalfUp,
}

/// `part / whole` as a percentage with two decimals, e.g. `"15.24"`; `None` when `whole` is 0.
pub fn percent(part: i64, whole: i64, rounding: Rounding) -> Option<String> {
    if whole == 0 {
        return None;
    }
    let scaled = part as i128 * 10_000;
    let whole = whole as i128;
    let hundredths = match rounding {
        Rounding::Truncate => scaled / whole,
        Rounding::HalfUp => (2 * scaled + whole) / (2 * whole),
    };
    let sign = if hundredths < 0 { "-" } else { "" };
    let h = hundredths.abs();
    Some(format!("{sign}{}.{:02}", h / 100, h % 100))
}

/// A count the Vietnamese way: `.` between thousands, two digits below ten (`01`).
pub fn vi_count(n: i64) -> String {
    if (0..10).contains(&n) {
        return format!("{n:02}");
    }
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A percentage string (`"99.80"`) the Vietnamese way (`99,80%`).
pub fn vi_percent(p: &Option<String>) -> String {
    match p {
        Some(p) => {
            let (whole, decimals) = p.split_once('.').unwrap_or((p, "00"));
            let whole: i64 = whole.parse().unwrap_or(0);
            let grouped = if whole < 10 {
                whole.to_string()
            } else {
                vi_count(whole)
            };
            format!("{grouped},{decimals}%")
        }
        None => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reports_percentages_are_truncated() {
        assert_eq!(percent(77, 505, Rounding::Truncate).unwrap(), "15.24");
        assert_eq!(percent(26, 1515, Rounding::Truncate).unwrap(), "1.71");
        assert_eq!(percent(13, 1515, Rounding::Truncate).unwrap(), "0.85");
        assert_eq!(percent(24344, 30946, Rounding::Truncate).unwrap(), "78.66");
        assert_eq!(percent(505, 506, Rounding::Truncate).unwrap(), "99.80");
        assert_eq!(percent(1293, 1150, Rounding::Truncate).unwrap(), "112.43");
        assert_eq!(percent(0, 505, Rounding::Truncate).unwrap(), "0.00");
    }

    #[test]
    fn half_up_on_request_and_null_for_nothing() {
        assert_eq!(percent(77, 505, Rounding::HalfUp).unwrap(), "15.25");
        assert_eq!(percent(26, 1515, Rounding::HalfUp).unwrap(), "1.72");
        assert_eq!(percent(1, 3, Rounding::HalfUp).unwrap(), "33.33");
        assert_eq!(percent(2, 3, Rounding::HalfUp).unwrap(), "66.67");
        assert_eq!(percent(5, 0, Rounding::Truncate), None);
    }

    #[test]
    fn vietnamese_numbers() {
        assert_eq!(vi_count(33923), "33.923");
        assert_eq!(vi_count(1293), "1.293");
        assert_eq!(vi_count(1), "01");
        assert_eq!(vi_count(77), "77");
        assert_eq!(vi_count(1234567), "1.234.567");
        assert_eq!(vi_percent(&Some("99.80".into())), "99,80%");
        assert_eq!(vi_percent(&Some("0.85".into())), "0,85%");
        assert_eq!(vi_percent(&Some("112.43".into())), "112,43%");
        assert_eq!(vi_percent(&None), "—");
    }
}
