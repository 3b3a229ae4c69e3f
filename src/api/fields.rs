//! Field shapes shared by request bodies, for `#[validate(custom(function = …))]`, and the
//! serde helper that tells an absent field from an explicit `null`.

use serde::{Deserialize, Deserializer};
use validator::ValidationError;

fn shape_error(message: &'static str) -> ValidationError {
    let mut e = ValidationError::new("pattern");
    e.message = Some(message.into());
    e
}

fn ascii_key(value: &str, max: usize, extra: &[char]) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// Organisation codes: `^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$` (they appear in URLs and files).
pub fn org_code(code: &str) -> Result<(), ValidationError> {
    if ascii_key(code, 32, &['.', '_', '-']) {
        Ok(())
    } else {
        Err(shape_error(
            "Use 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        ))
    }
}

/// Profile numbers (số lý lịch): `^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$`.
pub fn profile_number(value: &str) -> Result<(), ValidationError> {
    if ascii_key(value, 32, &['.', '_', '-', '/']) {
        Ok(())
    } else {
        Err(shape_error(
            "Use 1 to 32 letters, digits, '.', '_', '/' or '-', starting with a letter or digit.",
        ))
    }
}

/// User names: `^[a-z0-9][a-z0-9._-]{2,63}$`.
pub fn username(value: &str) -> Result<(), ValidationError> {
    if value.len() >= 3
        && ascii_key(value, 64, &['.', '_', '-'])
        && !value.chars().any(|c| c.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(shape_error(
            "Use 3 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.",
        ))
    }
}

/// National identity numbers: 9 digits (CMND) or 12 (CCCD).
pub fn national_id(value: &str) -> Result<(), ValidationError> {
    if (value.len() == 9 || value.len() == 12) && value.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(shape_error(
            "A national identity number has 9 or 12 digits.",
        ))
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An optional text, normalised; empty is absent.
pub fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| crate::domain::text::normalize(&v))
        .filter(|v| !v.is_empty())
}

/// A `year` query parameter: 2000 to 2100.
pub fn query_year(year: Option<i32>) -> crate::error::Result<Option<i32>> {
    match year {
        Some(y) if !(2000..=2100).contains(&y) => Err(crate::error::Error::BadRequest {
            detail: "year is between 2000 and 2100.".into(),
            errors: vec![crate::error::FieldError::new(
                "year",
                "range",
                "Must be between 2000 and 2100.",
            )],
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(org_code("HG.VT-01").is_ok());
        assert!(org_code(".HG").is_err());
        assert!(org_code(&"A".repeat(33)).is_err());
        assert!(profile_number("HG/2024-0001").is_ok());
        assert!(profile_number("HG 1").is_err());
        assert!(username("hoa.nguyen").is_ok());
        assert!(username("Hoa").is_err());
        assert!(username("ab").is_err());
        assert!(national_id("093201001234").is_ok());
        assert!(national_id("123456789").is_ok());
        assert!(national_id("12345678X").is_err());
        assert!(national_id("1234567890").is_err());
    }
}
