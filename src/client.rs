//! `party-records import` and `party-records export`: send a file to a running server, or fetch
//! one, over plain HTTP/1.1 (a few lines over a socket: the binary needs no HTTP client crate,
//! and a TLS-terminating proxy in front of the server is the place for HTTPS).
//!
//! Exit codes: 0 success, 1 rows rejected, 2 usage or connection errors.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::path::Path;

use serde_json::Value;

use crate::import::records::{Format, RowCounter};

/// Why a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The server refused rows (exit 1): the table has been printed.
    Rejected,
    /// Usage, connection or server errors (exit 2).
    Usage(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Usage(e.to_string())
    }
}

/// `http://host:port` → `host:port`.
fn authority(server: &str) -> Result<String, Failure> {
    let rest = server.strip_prefix("http://").ok_or_else(|| {
        Failure::Usage(format!("--server must be an http:// address, not {server}"))
    })?;
    Ok(rest.trim_end_matches('/').to_string())
}

fn connect(authority: &str) -> Result<TcpStream, Failure> {
    TcpStream::connect(authority)
        .map_err(|e| Failure::Usage(format!("cannot reach the server at {authority}: {e}")))
}

/// The status line and headers of an answer; the reader is left at the body.
pub(crate) fn read_head(
    reader: &mut impl BufRead,
) -> Result<(u16, Vec<(String, String)>), Failure> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::Usage(format!("not an HTTP answer: {status_line}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok((status, headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Copies the body (Content-Length or chunked) to `out`; returns the bytes copied.
pub(crate) fn copy_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    out: &mut impl Write,
) -> Result<u64, Failure> {
    if header(headers, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut total = 0;
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = u64::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| Failure::Usage("a broken chunked answer".into()))?;
            if size == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                return Ok(total);
            }
            total += std::io::copy(&mut reader.by_ref().take(size), out)?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    }
    let length: u64 = header(headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(std::io::copy(&mut reader.by_ref().take(length), out)?)
}

/// The file's format, from its name, with the content type it is sent as.
fn format_of(path: &Path) -> Result<(Format, &'static str), Failure> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => Ok((Format::Csv, "text/csv")),
        Some("json") => Ok((Format::Json, "application/json")),
        Some("ndjson" | "jsonl") => Ok((Format::Ndjson, "application/x-ndjson")),
        _ => Err(Failure::Usage(format!(
            "{}: name the file .csv, .json or .ndjson so that its format is known",
            path.display()
        ))),
    }
}

/// Sends `file` to `POST /api/v1/imports/{kind}` with a progress line (bytes and rows).
pub fn import(
    server: &str,
    token: &str,
    kind: &str,
    file: &Path,
    dry_run: bool,
    mode: &str,
) -> Result<(), Failure> {
    let (format, content_type) = format_of(file)?;
    let mut input = File::open(file)
        .map_err(|e| Failure::Usage(format!("cannot open {}: {e}", file.display())))?;
    let size = input.metadata()?.len();
    let authority = authority(server)?;
    let mut stream = connect(&authority)?;
    let head = format!(
        "POST /api/v1/imports/{kind}?dry_run={dry_run}&mode={mode} HTTP/1.1\r\nHost: {authority}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {size}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())?;
    let progress = std::io::stderr().is_terminal();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut sent = 0u64;
    let mut rows = RowCounter::new(format);
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        // The server may answer early (413, 403) and close: stop sending and read why.
        if stream.write_all(&buffer[..n]).is_err() {
            break;
        }
        sent += n as u64;
        if progress {
            rows.feed(&buffer[..n]);
            eprint!(
                "\r{kind}: {:.1} of {:.1} MB sent, {} rows",
                sent as f64 / 1e6,
                size as f64 / 1e6,
                rows.rows()
            );
        }
    }
    if progress {
        eprintln!();
    }
    eprintln!("{kind}: {sent} bytes sent; waiting for the server to check and write every row…");
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader)?;
    let mut body = Vec::new();
    copy_body(&mut reader, &headers, &mut body)?;
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match status {
        200 => {
            println!(
                "{}{}: {} rows — {} inserted, {} updated, {} unchanged",
                answer["kind"].as_str().unwrap_or(kind),
                if dry_run {
                    " (dry run, nothing written)"
                } else {
                    ""
                },
                answer["rows"],
                answer["inserted"],
                answer["updated"],
                answer["unchanged"]
            );
            Ok(())
        }
        422 => {
            println!(
                "{}",
                answer["detail"]
                    .as_str()
                    .unwrap_or("The rows were rejected.")
            );
            print_errors(&answer);
            Err(Failure::Rejected)
        }
        _ => Err(Failure::Usage(format!(
            "the server answered {status}: {}",
            answer["detail"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned())
        ))),
    }
}

/// The row errors as a table.
fn print_errors(answer: &Value) {
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    println!("{:>7}  {:<20}  {:<36}  message", "row", "field", "code");
    for e in &errors {
        println!(
            "{:>7}  {:<20}  {:<36}  {}",
            e["row"].as_u64().map(|r| r.to_string()).unwrap_or_default(),
            e["field"].as_str().unwrap_or(""),
            e["code"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        );
    }
    if let Some(total) = answer["total_errors"].as_u64() {
        if total as usize > errors.len() {
            println!("… and {} more errors.", total as usize - errors.len());
        }
    }
}

/// Fetches `GET /api/v1/exports/{kind}` into `out` (a file, or stdout when `None`).
pub fn export(
    server: &str,
    token: &str,
    kind: &str,
    under: Option<&str>,
    format: &str,
    out: Option<&Path>,
) -> Result<(), Failure> {
    let authority = authority(server)?;
    let mut stream = connect(&authority)?;
    let under = under.map(|u| format!("&under={u}")).unwrap_or_default();
    let head = format!(
        "GET /api/v1/exports/{kind}?format={format}{under} HTTP/1.1\r\nHost: {authority}\r\n\
         Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader)?;
    if status != 200 {
        let mut body = Vec::new();
        copy_body(&mut reader, &headers, &mut body)?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        return Err(Failure::Usage(format!(
            "the server answered {status}: {}",
            answer["detail"].as_str().unwrap_or("")
        )));
    }
    let counter = match format {
        "json" => Format::Json,
        "ndjson" => Format::Ndjson,
        _ => Format::Csv,
    };
    let (bytes, rows) = match out {
        Some(path) => {
            let file = File::create(path)
                .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", path.display())))?;
            let mut counted = Counted::new(file, kind, counter);
            copy_body(&mut reader, &headers, &mut counted)?;
            counted.finish()
        }
        None => {
            let mut counted = Counted::new(std::io::stdout().lock(), kind, counter);
            copy_body(&mut reader, &headers, &mut counted)?;
            counted.finish()
        }
    };
    eprintln!("{kind}: {rows} rows, {bytes} bytes exported");
    Ok(())
}

/// An export's destination that counts the bytes and rows written through it and, on a
/// terminal, shows them as they come (the import's progress line, for the way back).
struct Counted<W: Write> {
    out: W,
    kind: String,
    bytes: u64,
    rows: RowCounter,
    progress: bool,
    shown_at: u64,
}

impl<W: Write> Counted<W> {
    fn new(out: W, kind: &str, format: Format) -> Self {
        Counted {
            out,
            kind: kind.to_string(),
            bytes: 0,
            rows: RowCounter::new(format),
            progress: std::io::stderr().is_terminal(),
            shown_at: 0,
        }
    }

    /// The bytes and rows written, once the progress line is ended.
    fn finish(self) -> (u64, u64) {
        if self.progress && self.shown_at > 0 {
            eprintln!();
        }
        (self.bytes, self.rows.rows())
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bytes += n as u64;
        self.rows.feed(&buf[..n]);
        // A line a megabyte, not one per chunk of the body.
        if self.progress && self.bytes - self.shown_at >= 1 << 20 {
            self.shown_at = self.bytes;
            eprint!(
                "\r{}: {:.1} MB received, {} rows",
                self.kind,
                self.bytes as f64 / 1e6,
                self.rows.rows()
            );
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
