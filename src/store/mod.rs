//! Persistence: diesel queries, one module per aggregate. Each function takes the caller's
//! [`Visibility`](crate::auth::Visibility) where records are scoped and applies it in SQL.
//! The store persists and looks up; the rules it applies come from `crate::domain`.

/// The ids below `$ancestor` (itself included at depth 0) whose depth lies in
/// `$min..=$max`, in the tree as it stood on `$day` (`far_future()` for the current tree).
/// A macro because the subselect must stay unboxed to be embedded in a boxed query.
macro_rules! descendants {
    ($ancestor:expr, $min:expr, $max:expr, $day:expr) => {{
        use $crate::db::schema::organization_tree as t;
        let day: chrono::NaiveDate = $day;
        t::table
            .select(t::descendant_id)
            .filter(t::ancestor_id.eq($ancestor))
            .filter(t::depth.between($min, $max))
            .filter(t::valid_from.le(day))
            .filter(t::valid_to.is_null().or(t::valid_to.gt(day)))
    }};
}

pub mod audit;
pub mod discipline;
pub mod export;
pub mod insignia;
pub mod members;
pub mod organizations;
pub mod ratings;
pub mod stats;
pub mod summaries;
pub mod targets;
pub mod users;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;

use crate::error::{Error, FieldError};

/// A day after every real date: a period "holds on" it exactly when it is still open, so the
/// same SQL finds the subtree of a past day and the current one.
pub fn far_future() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date")
}

/// One page of a keyset-paged list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says that there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key a cursor carries; a cursor the server did not issue answers 400.
pub fn decode_cursor(cursor: &str) -> Result<String, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::BadRequest {
            detail: "The cursor is not one this server issued.".into(),
            errors: vec![FieldError::new(
                "cursor",
                "invalid",
                "Use next_cursor of the previous page.",
            )],
        })
}

/// Checks an `If-Match` version against the record's current one.
pub fn check_version(expected: i64, current: i64) -> Result<(), Error> {
    if expected == current {
        Ok(())
    } else {
        Err(Error::PreconditionFailed {
            current_version: current,
        })
    }
}
