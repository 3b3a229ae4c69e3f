//! Dates and timestamps. Timestamps are stored as UTC `TIMESTAMP` (a type both engines share)
//! and shown as RFC 3339 with `Z`; "today" is the calendar day in Vietnam (UTC+7), where the
//! records are kept.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Today's date in Vietnam (Asia/Ho_Chi_Minh has been UTC+7 without daylight saving since 1975).
pub fn today() -> NaiveDate {
    let vietnam = FixedOffset::east_opt(7 * 3600).expect("valid offset");
    Utc::now().with_timezone(&vietnam).date_naive()
}

pub fn rfc3339(ts: &NaiveDateTime) -> String {
    ts.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `#[serde(serialize_with = "crate::time::ser")]` for a UTC `NaiveDateTime`.
pub fn ser<S: serde::Serializer>(ts: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(ts))
}

/// The same for an optional timestamp.
pub fn ser_opt<S: serde::Serializer>(ts: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => s.serialize_str(&rfc3339(ts)),
        None => s.serialize_none(),
    }
}
