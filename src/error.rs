//! The crate's one error type. Every layer returns it; the API layer turns it into RFC 9457
//! problem+json in one place (`api::problem`). Unexpected errors keep their cause for the log
//! and show nothing internal to the client.

use serde::Serialize;

use crate::domain::RuleViolation;

/// One problem with one input field: `code` is a plain validation code (`length`, `required`,
/// `invalid`, …) or a rule code with a dot (`organization.cycle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The 1-based data row of a bulk import (0: the header); absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            row: None,
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<RuleViolation> for FieldError {
    fn from(v: RuleViolation) -> Self {
        FieldError::new(v.field, v.code, v.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request could not be read (malformed JSON, unknown field, bad query string).
    #[error("bad request: {detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// 401: no credentials, or credentials that do not hold.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: the caller's role does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: no such record, or one outside the caller's scope (the same answer on purpose).
    #[error("not found: {0}")]
    NotFound(String),
    /// 412: the If-Match version is not the record's current one.
    #[error("precondition failed")]
    PreconditionFailed { current_version: i64 },
    /// 428: an update without If-Match.
    #[error("precondition required")]
    PreconditionRequired,
    /// 413
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// 415
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 422: input that is well-formed but breaks validation or a domain rule.
    #[error("unprocessable: {0:?}")]
    Unprocessable(Vec<FieldError>),
    /// 422: a bulk import whose rows break validation or rules; nothing was written.
    #[error("rows rejected: {total} errors in {failed_rows} of {rows} rows")]
    RowsRejected {
        rows: usize,
        failed_rows: usize,
        total: usize,
        errors: Vec<FieldError>,
    },
    /// 422: a bulk import whose body cannot be read (a broken quote, invalid UTF-8, bad JSON).
    #[error("unreadable body: {detail}")]
    Unreadable { detail: String, row: Option<usize> },
    /// 503: the database is unreachable or its pool is exhausted; the client may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected database error. The message is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    pub fn forbidden(what: impl Into<String>) -> Self {
        Error::Forbidden(what.into())
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Error::BadRequest {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Unprocessable(vec![FieldError::new(field, code, message)])
    }
}

/// For a record named in a request body: a missing one (or one outside the caller's scope) is
/// not a 404 of the resource asked for but a 422 on the field that named it. Other errors pass.
pub fn missing_reference(
    field: &'static str,
    code: &'static str,
    message: impl Into<String>,
) -> impl FnOnce(Error) -> Error {
    let message = message.into();
    move |e| match e {
        Error::NotFound(_) => Error::invalid(field, code, message),
        other => other,
    }
}

impl From<RuleViolation> for Error {
    fn from(v: RuleViolation) -> Self {
        Error::Unprocessable(vec![v.into()])
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => Error::NotFound("record not found".into()),
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Error::Unavailable(info.message().to_string())
            }
            D::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => Error::Unavailable(
                "another change to the same records was made at the same time; repeat the request"
                    .into(),
            ),
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // Writes check their keys first; reaching this means two writers raced.
                Error::Unprocessable(vec![FieldError::new(
                    "",
                    "conflict",
                    format!(
                        "The record was changed by another request at the same time ({}); try again.",
                        info.message()
                    ),
                )])
            }
            other => {
                let text = other.to_string();
                // PostgreSQL's text cannot hold U+0000 (SQLite's can): the client sent it.
                if text.contains("invalid byte sequence for encoding \"UTF8\": 0x00") {
                    return Error::BadRequest {
                        detail: "Text may not contain the character U+0000 (NUL).".into(),
                        errors: Vec::new(),
                    };
                }
                // SQLite reports a lock it waited for in vain; PostgreSQL a lost connection, or
                // a deadlock it broke by aborting this transaction (two writers adding to the
                // same summary rows in different orders, `store::summaries`): both pass.
                if text.contains("database is locked")
                    || text.contains("deadlock detected")
                    || text.contains("server closed the connection")
                    || text.contains("connection")
                        && (text.contains("refused") || text.contains("terminat"))
                {
                    Error::Unavailable(text)
                } else {
                    Error::Internal(text)
                }
            }
        }
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Error::Unavailable(format!("no database connection: {e}"))
    }
}

impl From<validator::ValidationErrors> for Error {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut out = Vec::new();
        collect_validation_errors("", &errors, &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field));
        Error::Unprocessable(out)
    }
}

fn collect_validation_errors(
    prefix: &str,
    errors: &validator::ValidationErrors,
    out: &mut Vec<FieldError>,
) {
    use validator::ValidationErrorsKind as K;
    for (field, kind) in errors.errors() {
        let name = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            K::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| default_message(&e.code, e));
                    out.push(FieldError::new(name.clone(), e.code.to_string(), message));
                }
            }
            K::Struct(inner) => collect_validation_errors(&name, inner, out),
            K::List(items) => {
                for (i, inner) in items {
                    collect_validation_errors(&format!("{name}[{i}]"), inner, out);
                }
            }
        }
    }
}

fn default_message(code: &str, e: &validator::ValidationError) -> String {
    let param = |k: &str| e.params.get(k).map(|v| v.to_string());
    match code {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("Must be between {min} and {max} characters long."),
            (Some(min), None) => format!("Must be at least {min} characters long."),
            (None, Some(max)) => format!("Must be at most {max} characters long."),
            _ => "Has the wrong length.".into(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("Must be between {min} and {max}."),
            _ => "Is out of range.".into(),
        },
        "regex" | "pattern" => "Has the wrong format.".into(),
        _ => "Is not valid.".into(),
    }
}
