//! RFC 9457 problem+json: the one shape of every error answer, including those that actix
//! produces before a handler runs (malformed JSON, bad query strings, unknown routes, wrong
//! methods, oversized bodies). Handlers return [`crate::error::Error`]; this module renders it.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{Error, FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Bulk imports: how many errors there were in all (at most 1,000 are listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_errors: Option<usize>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: kind.into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            total_errors: None,
        }
    }

    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .content_type(PROBLEM_JSON)
            .body(serde_json::to_string(&self).expect("problem serialises"))
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Error::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unprocessable(_) | Error::RowsRejected { .. } | Error::Unreadable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let problem = match self {
            Error::BadRequest { detail, errors } => Problem {
                errors: errors.clone(),
                ..Problem::new(status, "/problems/bad-request", detail.clone())
            },
            Error::Unauthorized(detail) => Problem::new(status, "about:blank", detail.clone()),
            Error::Forbidden(detail) => Problem::new(status, "about:blank", detail.clone()),
            Error::NotFound(detail) => Problem::new(status, "about:blank", detail.clone()),
            Error::PreconditionFailed { current_version } => Problem::new(
                status,
                "/problems/stale-version",
                format!(
                    "The record was changed since you read it (it is now at version \
                     {current_version}). Read it again, then repeat your change."
                ),
            ),
            Error::PreconditionRequired => Problem::new(
                status,
                "/problems/if-match-required",
                "Send If-Match with the ETag of the record you read, so that no change is \
                 silently overwritten.",
            ),
            Error::PayloadTooLarge { limit } => Problem::new(
                status,
                "about:blank",
                format!("The request body is larger than the limit of {limit} bytes."),
            ),
            Error::UnsupportedMediaType(detail) => {
                Problem::new(status, "about:blank", detail.clone())
            }
            Error::Unprocessable(errors) => Problem {
                errors: errors.clone(),
                ..Problem::new(
                    status,
                    "/problems/validation",
                    match errors.as_slice() {
                        [one] => one.message.clone(),
                        many => format!("{} fields are not valid.", many.len()),
                    },
                )
            },
            Error::RowsRejected {
                rows,
                failed_rows,
                total,
                errors,
            } => Problem {
                errors: errors.clone(),
                total_errors: Some(*total),
                ..Problem::new(
                    status,
                    "/problems/import-rejected",
                    format!(
                        "{failed_rows} of {rows} rows have errors ({total} in all); nothing was imported."
                    ),
                )
            },
            Error::Unreadable { detail, row } => Problem {
                errors: vec![FieldError {
                    row: *row,
                    ..FieldError::new("", "import.unreadable", detail.clone())
                }],
                total_errors: Some(1),
                ..Problem::new(
                    status,
                    "/problems/import-rejected",
                    format!("The body cannot be read: {detail} Nothing was imported."),
                )
            },
            Error::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Problem::new(
                    status,
                    "/problems/unavailable",
                    "The database is busy or unreachable. Try again shortly.",
                )
            }
            Error::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Problem::new(status, "about:blank", "Something went wrong on the server.")
            }
        };
        let mut response = problem.into_response();
        let headers = response.headers_mut();
        match self {
            Error::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"party-records\""),
                );
            }
            Error::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        response
    }
}

pub fn json_error(err: JsonPayloadError, _req: &HttpRequest, limit: usize) -> actix_web::Error {
    let error = match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            Error::PayloadTooLarge { limit }
        }
        JsonPayloadError::ContentType => Error::UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json.".into(),
        ),
        JsonPayloadError::Deserialize(e) => {
            Error::bad_request(format!("The JSON body could not be read: {e}"))
        }
        JsonPayloadError::Serialize(e) => Error::Internal(e.to_string()),
        other => Error::bad_request(format!("The request body could not be read: {other}")),
    };
    error.into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        QueryPayloadError::Deserialize(e) => format!("The query string is not valid: {e}"),
        other => format!("The query string is not valid: {other}"),
    };
    Error::bad_request(detail).into()
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    Error::not_found(format!("No such resource: {err}")).into()
}

/// Unknown routes.
pub async fn no_route(req: HttpRequest) -> Result<HttpResponse, Error> {
    Err(Error::not_found(format!(
        "There is no resource at {}.",
        req.path()
    )))
}

/// Turns any error answer that is not yet problem+json (actix's own 405, a 413 from the
/// payload limit, …) into one, keeping its status.
pub fn ensure_problem<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            format!(
                "{} is not allowed on {}.",
                res.request().method(),
                res.request().path()
            )
        }
        StatusCode::NOT_FOUND => format!("There is no resource at {}.", res.request().path()),
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.".to_string(),
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    let (req, old) = res.into_parts();
    let mut response = Problem::new(status, "about:blank", detail).into_response();
    // Keep headers such as Allow or WWW-Authenticate that the original answer carried.
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let response: HttpResponse<EitherBody<B, BoxBody>> = response.map_into_right_body();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(
        req, response,
    )))
}
