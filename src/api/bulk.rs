//! Bulk import and export over HTTP. The body is streamed both ways through a small channel
//! between the async side (the socket) and the blocking side (the database), so memory stays
//! flat whatever the size of the file.

use std::io::{self, Read};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::api::AppState;
use crate::auth::{role_allows, Caller};
use crate::domain::{text, Role};
use crate::error::{Error, Result};
use crate::import::output::Writer;
use crate::import::records::Format;
use crate::import::{self, Kind, Mode, Options};
use crate::store::export::{self, Scope};

/// Chunks of the body in flight between the socket and the importer.
const CHANNEL_CHUNKS: usize = 16;

/// A client that sends nothing for this long loses its import: the import holds a write
/// transaction (on SQLite, the database's one write lock) while it reads the body.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn kind_of(path: &str, caller: &Caller, writing: bool) -> Result<Kind> {
    let kind = Kind::parse(path).ok_or_else(|| {
        Error::not_found(format!(
            "There is no import kind {path}; the kinds are: {}.",
            Kind::codes()
        ))
    })?;
    // A role that may not write the kind is refused row by row (code `scope`, like a row
    // outside the caller's scope) by the import itself; an export is refused whole.
    if !writing && !role_allows(caller.role, kind.read_access()) {
        return Err(Error::forbidden(format!(
            "The {} role may not export {kind}.",
            caller.role
        )));
    }
    Ok(kind)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    dry_run: Option<bool>,
    mode: Option<Mode>,
}

/// A blocking `Read` over the chunks the socket side sends.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.current = chunk?,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Feeds the body to the importer; an error if it is larger than `limit` (the importer then
/// sees a read error and writes nothing).
async fn pump(
    mut payload: web::Payload,
    tx: mpsc::Sender<io::Result<Bytes>>,
    limit: u64,
) -> Result<()> {
    let mut total: u64 = 0;
    loop {
        let next = match actix_web::rt::time::timeout(BODY_IDLE_TIMEOUT, payload.next()).await {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(_) => {
                let _ = tx
                    .send(Err(io::Error::other("the client stopped sending the body")))
                    .await;
                return Err(Error::bad_request(format!(
                    "The body stopped arriving for {} s; nothing was imported.",
                    BODY_IDLE_TIMEOUT.as_secs()
                )));
            }
        };
        let chunk = match next {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                return Err(Error::bad_request(format!(
                    "The body could not be read: {e}"
                )));
            }
        };
        total += chunk.len() as u64;
        if total > limit {
            let _ = tx
                .send(Err(io::Error::other("the body is over the limit")))
                .await;
            return Err(Error::PayloadTooLarge {
                limit: limit as usize,
            });
        }
        if tx.send(Ok(chunk)).await.is_err() {
            // The importer stopped reading (a fatal error): the rest is not needed.
            break;
        }
    }
    Ok(())
}

pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let kind = kind_of(&path.into_inner(), &caller, true)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::from_content_type(content_type).ok_or_else(|| {
        Error::UnsupportedMediaType(
            "Send the file as text/csv, application/json (an array of objects) or \
             application/x-ndjson (one object per line)."
                .into(),
        )
    })?;
    let limit = state.max_import_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::PayloadTooLarge {
            limit: limit as usize,
        });
    }
    let options = Options {
        kind,
        mode: query.mode.unwrap_or(Mode::Upsert),
        dry_run: query.dry_run.unwrap_or(false),
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let reader = ChannelReader {
        rx,
        current: Bytes::new(),
    };
    let job = state.db(move |conn| import::run(conn, &caller, options, format, reader));
    let (result, pumped) = futures_util::join!(job, pump(payload, tx, limit));
    // An oversized body is the answer whatever the importer made of its truncated copy.
    pumped?;
    let summary = result?;
    tracing::info!(
        kind = %kind,
        rows = summary.rows,
        inserted = summary.inserted,
        updated = summary.updated,
        unchanged = summary.unchanged,
        dry_run = summary.dry_run,
        sqlite_memory_peak_mb = crate::db::sqlite_memory_peak_mb(),
        "import"
    );
    Ok(HttpResponse::Ok().json(summary))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    under: Option<String>,
    format: Option<String>,
}

/// Bytes gathered before they are sent as one chunk.
const EXPORT_CHUNK: usize = 64 * 1024;

pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse> {
    let kind = kind_of(&path.into_inner(), &caller, false)?;
    let q = query.into_inner();
    let format = match q.format.as_deref().unwrap_or("csv") {
        "csv" => Format::Csv,
        "json" => Format::Json,
        "ndjson" => Format::Ndjson,
        other => {
            return Err(Error::BadRequest {
                detail: format!("format is csv, json or ndjson, not {other}."),
                errors: vec![crate::error::FieldError::new(
                    "format",
                    "invalid",
                    "format is csv, json or ndjson.",
                )],
            })
        }
    };
    let vis = caller.visibility();
    let under = q
        .under
        .map(|c| text::normalize(&c))
        .filter(|c| !c.is_empty());
    // The root is looked up before the answer starts, so that a bad one is a clean 404.
    let root = match under {
        None => None,
        Some(code) => Some(
            state
                .db(move |conn| crate::store::organizations::find_visible(conn, vis, &code))
                .await?
                .id,
        ),
    };
    let scope = Scope::of(vis, root, caller.role == Role::Auditor);
    let mut writer = Writer::new(kind, format);
    let content_type = writer.content_type();
    let (tx, rx) = mpsc::channel::<Result<Bytes>>(4);
    let pool = state.pool.clone();
    // The export runs beside the answer: rows leave as they are read.
    actix_web::rt::task::spawn_blocking(move || {
        let result = (|| -> Result<()> {
            let mut conn = pool.get()?;
            let mut buffer = Vec::with_capacity(EXPORT_CHUNK * 2);
            writer.start(&mut buffer);
            let mut open = true;
            export::rows(&mut conn, kind, scope, &mut |row| {
                writer.row(&mut buffer, &row);
                if buffer.len() >= EXPORT_CHUNK {
                    let chunk = Bytes::from(std::mem::take(&mut buffer));
                    open = tx.blocking_send(Ok(chunk)).is_ok();
                }
                open
            })?;
            writer.finish(&mut buffer);
            let _ = tx.blocking_send(Ok(Bytes::from(buffer)));
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, kind = %kind, "export failed midway");
            let _ = tx.blocking_send(Err(e));
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{kind}.{}\"",
                match format {
                    Format::Csv => "csv",
                    Format::Json => "json",
                    Format::Ndjson => "ndjson",
                }
            ),
        ))
        .streaming(body))
}
