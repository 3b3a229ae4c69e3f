//! Reading records from a stream: CSV (header row, RFC 4180 quoting, optional UTF-8 BOM), a JSON
//! array of objects, or NDJSON (one object per line). Records are handed over one at a time, so
//! memory stays flat whatever the size of the body.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::domain::text::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
}

impl Format {
    /// From a `Content-Type` header (parameters such as `charset` ignored).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        match content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "text/csv" => Some(Format::Csv),
            "application/json" => Some(Format::Json),
            "application/x-ndjson" | "application/ndjson" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// One record: its 1-based data row (the header is not counted), every key or column it
/// named, and the values that are present (an empty cell or `null` is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub row: usize,
    pub keys: Vec<String>,
    pub values: BTreeMap<String, String>,
    /// Keys whose JSON value was a number or a boolean (empty for CSV): a text column refuses
    /// them.
    pub non_text: Vec<String>,
}

/// The body cannot be read at all from `row` on (a broken quote, invalid UTF-8, bad JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub row: Option<usize>,
    pub message: String,
}

fn error(row: Option<usize>, message: impl Into<String>) -> ReadError {
    ReadError {
        row,
        message: message.into(),
    }
}

/// The most bytes one record (a CSV record, an NDJSON line, an element of a JSON array) may
/// take. A member's row is a few hundred bytes; without a bound, a body of one endless line
/// or cell would be held whole in memory, however the rest is streamed.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

fn too_long(row: usize) -> ReadError {
    let what = match row {
        0 => "The header row".to_string(),
        row => format!("Row {row}"),
    };
    error(
        (row > 0).then_some(row),
        format!(
            "{what} is longer than {} MB: is a line break or a closing quote missing?",
            MAX_RECORD_BYTES >> 20
        ),
    )
}

/// Skips a UTF-8 byte order mark.
fn without_bom<R: Read>(reader: R) -> Result<BufReader<R>, ReadError> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let buffered = reader
        .fill_buf()
        .map_err(|e| error(None, format!("The body could not be read: {e}")))?;
    if buffered.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(reader)
}

/// What a body yields, in order: for CSV its header row first, then every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The CSV header's column names (normalised), before any record: a header can be checked
    /// even when no row follows it.
    Header(Vec<String>),
    Record(Record),
}

/// Reads every record and hands it to `each`, which answers whether to go on; returns how
/// many records were read (see [`read_events`]).
pub fn read<R: Read>(
    format: Format,
    reader: R,
    mut each: impl FnMut(Record) -> bool,
) -> Result<usize, ReadError> {
    read_events(format, reader, |event| match event {
        Event::Header(_) => true,
        Event::Record(record) => each(record),
    })
}

/// Reads the body and hands each [`Event`] to `each`, which answers whether to go on; returns
/// how many records were read. An empty body (nothing but perhaps a byte order mark) is an
/// error in every format; a CSV header without rows, `[]`, or NDJSON of blank lines is a file
/// with no records, as an export of an empty table is in CSV and JSON.
pub fn read_events<R: Read>(
    format: Format,
    reader: R,
    mut each: impl FnMut(Event) -> bool,
) -> Result<usize, ReadError> {
    let mut reader = without_bom(reader)?;
    let empty = reader
        .fill_buf()
        .map_err(|e| error(None, format!("The body could not be read: {e}")))?
        .is_empty();
    if empty {
        return Err(error(None, "The body is empty."));
    }
    match format {
        Format::Csv => read_csv(QuoteCheck::new(reader), &mut each),
        Format::Ndjson => read_ndjson(reader, &mut |r| each(Event::Record(r))),
        Format::Json => read_json(reader, &mut |r| each(Event::Record(r))),
    }
}

fn read_csv<R: Read>(reader: R, each: &mut impl FnMut(Event) -> bool) -> Result<usize, ReadError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| {
            quote_error(&e)
                .unwrap_or_else(|| error(None, format!("The header row could not be read: {e}")))
        })?
        .iter()
        .map(normalize)
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(error(None, "The body has no header row."));
    }
    if !each(Event::Header(headers.clone())) {
        return Ok(0);
    }
    let mut count = 0;
    for (i, line) in csv.records().enumerate() {
        let row = i + 1;
        let line = line.map_err(|e| {
            quote_error(&e)
                .unwrap_or_else(|| error(Some(row), format!("Row {row} could not be read: {e}")))
        })?;
        let values = headers
            .iter()
            .zip(line.iter())
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.clone(), normalize(v)))
            .collect();
        count += 1;
        if !each(Event::Record(Record {
            row,
            keys: headers.clone(),
            values,
            non_text: Vec::new(),
        })) {
            break;
        }
    }
    Ok(count)
}

/// The [`QuoteCheck`] error inside a CSV reader's error, if that is what stopped it.
fn quote_error(e: &csv::Error) -> Option<ReadError> {
    match e.kind() {
        csv::ErrorKind::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<Carried>())
            .map(|broken| broken.0.clone()),
        _ => None,
    }
}

/// An error found on the bytes' way to a parser ([`QuoteCheck`], [`ElementLimit`]), carried
/// through the parser as an I/O error.
#[derive(Debug)]
struct Carried(ReadError);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Carried {}

/// Where the bytes read so far leave a CSV field, for [`QuoteCheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Start,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: it closes the field, or a second one escapes it.
    QuoteInQuoted,
}

/// RFC 4180 quoting, checked on the bytes on their way to the CSV reader. The `csv` crate is
/// lenient: a quote never closed swallows the rest of the file into one cell (the rows after
/// it vanish without an error), and a stray quote or text after a closing quote is taken as
/// it stands. Here each is an error naming its data row, so a broken file is refused instead
/// of being imported wrong.
struct QuoteCheck<R> {
    inner: R,
    field: Field,
    /// Records ended so far, the header included: the current record's data row.
    records: usize,
    /// Whether the current record has any byte yet (blank lines are not records).
    in_record: bool,
    /// The data row whose quote is open.
    opened_at: usize,
    /// Bytes of the current record so far ([`MAX_RECORD_BYTES`]).
    record_bytes: usize,
    failed: Option<ReadError>,
}

impl<R> QuoteCheck<R> {
    fn new(inner: R) -> Self {
        QuoteCheck {
            inner,
            field: Field::Start,
            records: 0,
            in_record: false,
            opened_at: 0,
            record_bytes: 0,
            failed: None,
        }
    }

    fn at(&self, row: usize, what: &str) -> ReadError {
        match row {
            0 => error(None, format!("The header row {what}.")),
            row => error(Some(row), format!("Row {row} {what}.")),
        }
    }

    fn check(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        for &b in bytes {
            let (field, step) = self.field.next(b);
            match step {
                Step::Opened => self.opened_at = self.records,
                Step::LineBreak if self.in_record => {
                    self.records += 1;
                    self.in_record = false;
                    self.record_bytes = 0;
                }
                Step::QuoteInUnquoted => {
                    return Err(self.at(
                        self.records,
                        "has a quote inside a field that does not begin with one: quote the \
                         whole field and double the quote (\"\")",
                    ))
                }
                Step::TextAfterQuote => {
                    return Err(self.at(
                        self.records,
                        "has text after a closing quote: quote the whole field and double each \
                         quote inside it (\"\")",
                    ))
                }
                _ => {}
            }
            self.field = field;
            if self.in_record {
                self.record_bytes += 1;
                if self.record_bytes > MAX_RECORD_BYTES {
                    return Err(too_long(self.records));
                }
            }
            // A line break inside quotes belongs to a record already begun (by its quote).
            if !matches!(b, b'\n' | b'\r') {
                self.in_record = true;
            }
        }
        Ok(())
    }
}

/// What a byte did besides moving a CSV field to its next state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Other,
    /// A quote opened a quoted field.
    Opened,
    /// A line break outside quotes: the end of a record, if one was begun.
    LineBreak,
    /// RFC 4180 forbids these two; the state after them is what a lenient reader would assume.
    QuoteInUnquoted,
    TextAfterQuote,
}

impl Field {
    /// The field's state after byte `b` (RFC 4180), and what the byte did.
    fn next(self, b: u8) -> (Field, Step) {
        match (self, b) {
            (Field::Quoted, b'"') => (Field::QuoteInQuoted, Step::Other),
            (Field::Quoted, _) => (Field::Quoted, Step::Other),
            (Field::QuoteInQuoted, b'"') => (Field::Quoted, Step::Other),
            (Field::Start, b'"') => (Field::Quoted, Step::Opened),
            (_, b',') => (Field::Start, Step::Other),
            (_, b'\n' | b'\r') => (Field::Start, Step::LineBreak),
            (Field::Unquoted, b'"') => (Field::Unquoted, Step::QuoteInUnquoted),
            (Field::QuoteInQuoted, _) => (Field::Unquoted, Step::TextAfterQuote),
            (Field::Start | Field::Unquoted, _) => (Field::Unquoted, Step::Other),
        }
    }
}

impl<R: Read> Read for QuoteCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(failed) = &self.failed {
            return Err(broken(failed.clone()));
        }
        let n = self.inner.read(buf)?;
        let checked = if n == 0 && self.field == Field::Quoted {
            Err(self.at(self.opened_at, "opens a quote that is never closed"))
        } else {
            self.check(&buf[..n])
        };
        checked.map(|_| n).map_err(|e| {
            self.failed = Some(e.clone());
            broken(e)
        })
    }
}

/// Counts a file's data rows as its bytes go by, without parsing them: the command line's
/// progress line (`party-records import`), which the server's answer then confirms. CSV:
/// records (a line break inside a quoted cell does not end one, as in [`QuoteCheck`]), the
/// header and blank lines not counted. NDJSON: lines with anything but spaces on them. A JSON
/// array: the objects at its top level (a one-line file counts as it goes).
pub struct RowCounter {
    format: Format,
    field: Field,
    /// Whether the current line or record has begun (CSV, NDJSON).
    in_record: bool,
    /// Records ended (CSV, NDJSON) or objects begun (JSON).
    records: u64,
    /// JSON: how deep in arrays and objects, and whether inside a string (after a backslash).
    depth: u32,
    /// JSON: whether the outermost value is an array (a lone object is not rows).
    in_array: bool,
    in_string: bool,
    escaped: bool,
}

impl RowCounter {
    pub fn new(format: Format) -> Self {
        RowCounter {
            format,
            field: Field::Start,
            in_record: false,
            records: 0,
            depth: 0,
            in_array: false,
            in_string: false,
            escaped: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        match self.format {
            Format::Csv => {
                for &b in bytes {
                    let (field, step) = self.field.next(b);
                    self.field = field;
                    if step == Step::LineBreak {
                        self.end_record();
                    } else if !matches!(b, b'\n' | b'\r') {
                        self.in_record = true;
                    }
                }
            }
            Format::Ndjson => {
                for &b in bytes {
                    match b {
                        b'\n' => self.end_record(),
                        b' ' | b'\t' | b'\r' => {}
                        _ => self.in_record = true,
                    }
                }
            }
            Format::Json => {
                for &b in bytes {
                    self.json_byte(b);
                }
            }
        }
    }

    fn end_record(&mut self) {
        if self.in_record {
            self.records += 1;
            self.in_record = false;
        }
    }

    fn json_byte(&mut self, b: u8) {
        if self.in_string {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => {
                match (self.depth, b) {
                    (0, b'[') => self.in_array = true,
                    (1, b'{') if self.in_array => self.records += 1,
                    _ => {}
                }
                self.depth += 1;
            }
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }

    /// The data rows seen so far (a CSV or NDJSON row still being sent included).
    pub fn rows(&self) -> u64 {
        let begun = self.records + u64::from(self.in_record);
        match self.format {
            Format::Csv => begun.saturating_sub(1),
            Format::Ndjson => begun,
            Format::Json => self.records,
        }
    }
}

fn broken(e: ReadError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, Carried(e))
}

fn record_from(row: usize, object: Map<String, Value>) -> Result<Record, ReadError> {
    let mut keys = Vec::with_capacity(object.len());
    let mut values = BTreeMap::new();
    let mut non_text = Vec::new();
    for (key, value) in object {
        let key = normalize(&key);
        if matches!(value, Value::Bool(_) | Value::Number(_)) {
            non_text.push(key.clone());
        }
        let text = match value {
            Value::Null => None,
            Value::String(s) => Some(normalize(&s)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(_) | Value::Object(_) => {
                return Err(error(
                    Some(row),
                    format!("Row {row}: \"{key}\" must be text, a number or a boolean."),
                ))
            }
        };
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            values.insert(key.clone(), text);
        }
        keys.push(key);
    }
    Ok(Record {
        row,
        keys,
        values,
        non_text,
    })
}

/// One object a line, each line read up to [`MAX_RECORD_BYTES`]; blank lines are skipped.
fn read_ndjson<R: BufRead>(
    mut reader: R,
    each: &mut impl FnMut(Record) -> bool,
) -> Result<usize, ReadError> {
    let mut count = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let row = count + 1;
        let read = (&mut reader)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| error(Some(row), format!("Row {row} could not be read: {e}")))?;
        if read == 0 {
            break;
        }
        if line.len() > MAX_RECORD_BYTES && line.last() != Some(&b'\n') {
            return Err(too_long(row));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|e| error(Some(row), format!("Row {row} is not valid UTF-8: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        count = row;
        let object: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| error(Some(row), format!("Row {row} is not a JSON object: {e}")))?;
        if !each(record_from(row, object)?) {
            break;
        }
    }
    Ok(count)
}

/// A JSON body on its way to the parser, with each element of the top-level array held to
/// [`MAX_RECORD_BYTES`] (the parser keeps a whole element, and a string, in memory). Tracks
/// strings and nesting as [`RowCounter`] does.
struct ElementLimit<R> {
    inner: R,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Elements begun, and the bytes of the current one.
    elements: usize,
    element_bytes: usize,
    /// Where the last byte read lies (line and column from 1, as `serde_json` reports an
    /// error), where the current element began, and the first `,` or `]` after it: a parse
    /// error between the two is the element's (the parser reads on to the array's end after
    /// an error, so where reading stopped does not tell).
    at: (usize, usize),
    element_at: (usize, usize),
    separator_at: Option<(usize, usize)>,
}

impl<R> ElementLimit<R> {
    fn new(inner: R) -> Self {
        ElementLimit {
            inner,
            depth: 0,
            in_string: false,
            escaped: false,
            elements: 0,
            element_bytes: 0,
            at: (1, 0),
            element_at: (0, 0),
            separator_at: None,
        }
    }

    fn check(&mut self, bytes: &[u8]) -> Result<(), ReadError> {
        for &b in bytes {
            self.at = match b {
                b'\n' => (self.at.0 + 1, 0),
                _ => (self.at.0, self.at.1 + 1),
            };
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => {
                        if self.depth == 1 {
                            self.elements += 1;
                            self.element_bytes = 0;
                            self.element_at = self.at;
                            self.separator_at = None;
                        }
                        self.depth += 1;
                    }
                    b',' | b']' if self.depth == 1 => {
                        self.separator_at.get_or_insert(self.at);
                        self.depth -= u32::from(b == b']');
                    }
                    b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
            }
            // Inside an element, or a string at the top level (a lone huge value).
            if self.depth >= 2 || self.in_string {
                self.element_bytes += 1;
                if self.element_bytes > MAX_RECORD_BYTES {
                    return Err(too_long(self.elements.max(1)));
                }
            }
        }
        Ok(())
    }
}

impl<R> ElementLimit<R> {
    /// The row of the element that holds the position `at`, if any.
    fn element_of(&self, at: (usize, usize)) -> Option<usize> {
        (self.elements > 0
            && at >= self.element_at
            && self.separator_at.is_none_or(|separator| at <= separator))
        .then_some(self.elements)
    }
}

impl<R: Read> Read for ElementLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check(&buf[..n]).map(|_| n).map_err(broken)
    }
}

/// A JSON array read element by element: `serde_json` hands each object to the callback as
/// soon as it is parsed.
fn read_json<R: Read>(
    reader: R,
    each: &mut impl FnMut(Record) -> bool,
) -> Result<usize, ReadError> {
    struct Elements<'a, F> {
        each: &'a mut F,
        failure: Option<ReadError>,
        stopped: Option<usize>,
    }
    impl<'de, F: FnMut(Record) -> bool> Visitor<'de> for &mut Elements<'_, F> {
        type Value = usize;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of objects")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut count = 0;
            while let Some(object) = seq.next_element::<Map<String, Value>>()? {
                count += 1;
                match record_from(count, object) {
                    Ok(record) => {
                        if !(self.each)(record) {
                            self.stopped = Some(count);
                            return Err(serde::de::Error::custom("stop"));
                        }
                    }
                    Err(e) => {
                        self.failure = Some(e);
                        return Err(serde::de::Error::custom("stop"));
                    }
                }
            }
            Ok(count)
        }
    }
    impl<'de, F: FnMut(Record) -> bool> DeserializeSeed<'de> for &mut Elements<'_, F> {
        type Value = usize;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }
    let mut elements = Elements {
        each,
        failure: None,
        stopped: None,
    };
    let mut limited = ElementLimit::new(reader);
    let mut deserializer = serde_json::Deserializer::from_reader(&mut limited);
    let result = (&mut elements)
        .deserialize(&mut deserializer)
        .and_then(|n| deserializer.end().map(|_| n));
    drop(deserializer);
    if let Some(count) = elements.stopped {
        return Ok(count);
    }
    match (result, elements.failure) {
        (_, Some(failure)) => Err(failure),
        (Ok(n), None) => Ok(n),
        (Err(e), None) if e.is_io() => {
            let io = std::io::Error::from(e);
            match io.get_ref().and_then(|i| i.downcast_ref::<Carried>()) {
                Some(carried) => Err(carried.0.clone()),
                None => Err(error(None, format!("The body could not be read: {io}"))),
            }
        }
        (Err(e), None) => {
            let row = limited.element_of((e.line(), e.column()));
            Err(error(
                row,
                format!("The body is not a JSON array of objects: {e}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(format: Format, body: &[u8]) -> Result<Vec<Record>, ReadError> {
        let mut out = Vec::new();
        read(format, body, |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    }

    #[test]
    fn csv_with_bom_quotes_and_empty_cells() {
        let body = "\u{feff}code,name,parent_code\nHG,\"Đảng bộ tỉnh, Hậu Giang\",\nVT,\"Thành ủy \"\"Vị Thanh\"\"\",HG\n";
        let records = all(Format::Csv, body.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].row, 1);
        assert_eq!(records[0].keys, ["code", "name", "parent_code"]);
        assert_eq!(records[0].values["name"], "Đảng bộ tỉnh, Hậu Giang");
        assert!(
            !records[0].values.contains_key("parent_code"),
            "an empty cell is absent"
        );
        assert_eq!(records[1].values["name"], "Thành ủy \"Vị Thanh\"");
    }

    #[test]
    fn broken_csv_and_invalid_utf8_name_the_row() {
        let broken = all(Format::Csv, b"code,name\nHG,ok\nVT,\"unclosed\nNB,x\n").unwrap_err();
        assert_eq!(broken.row, Some(2), "{broken:?}");
        let ragged = all(Format::Csv, b"code,name\nHG,ok\nVT,too,many\n").unwrap_err();
        assert_eq!(ragged.row, Some(2));
        let invalid = all(Format::Csv, b"code,name\nHG,\xff\xfe\n").unwrap_err();
        assert_eq!(invalid.row, Some(1));
    }

    /// The rows an unclosed quote would swallow, and the other RFC 4180 breaks the `csv`
    /// crate lets through, are errors naming the data row where the break is.
    #[test]
    fn broken_quotes_are_errors_naming_their_row() {
        let row_of = |body: &[u8]| all(Format::Csv, body).unwrap_err().row;
        // An unclosed quote in the last column, then a row it would swallow.
        let swallowing = b"profile_number,year,level,reason\nm1,2024,good,\"ok\nm2,2024,good,x\n";
        assert_eq!(row_of(swallowing), Some(1));
        // In the last cell of the file, with or without a final line break.
        assert_eq!(
            row_of(b"code,on\nA1,2015-01-01\nA2,\"2015-01-01\n"),
            Some(2)
        );
        assert_eq!(row_of(b"code,on\nA1,\"2015-01-01"), Some(1));
        // A quote inside an unquoted field, and text after a closing quote.
        assert_eq!(row_of(b"code,name\nA,ok\nB,12\" pipe\n"), Some(2));
        assert_eq!(row_of(b"code,name\nA,\"ok\"x\n"), Some(1));
        // In the header: no row.
        let header = all(Format::Csv, b"code,\"name\nA,b\n").unwrap_err();
        assert_eq!(header.row, None, "{header:?}");
        // Blank lines are not rows, and CRLF ends a row once.
        assert_eq!(row_of(b"code,name\r\n\r\nA,ok\r\n\nB,\"x\n"), Some(2));
        // Far into a body larger than any buffer: still its own row.
        let mut long = b"code,name\n".to_vec();
        for i in 0..20_000 {
            long.extend_from_slice(format!("C{i},name {i}\n").as_bytes());
        }
        long.extend_from_slice(b"D,\"open\nE,x\n");
        assert_eq!(row_of(&long), Some(20_001));
    }

    #[test]
    fn what_rfc_4180_allows_passes_the_quote_check() {
        let body = b"code,name,note\r\nA,\"a, \"\"b\"\"\",\"two\r\nlines\"\r\nB,,\"\"\r\n";
        let records = all(Format::Csv, body).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].values["name"], "a, \"b\"");
        assert!(records[0].values["note"].contains("lines"));
        assert!(
            !records[1].values.contains_key("note"),
            "an empty quoted cell"
        );
    }

    #[test]
    fn a_csv_header_comes_before_the_records_even_alone() {
        let mut events = Vec::new();
        read_events(Format::Csv, b"code,name\n".as_slice(), |e| {
            events.push(e);
            true
        })
        .unwrap();
        assert_eq!(events, [Event::Header(vec!["code".into(), "name".into()])]);
    }

    #[test]
    fn json_arrays_and_ndjson_give_the_same_records() {
        let array =
            br#"[{"code": "HG", "target": 1150, "active": true, "note": null}, {"code": "VT"}]"#;
        let lines = b"{\"code\": \"HG\", \"target\": 1150, \"active\": true, \"note\": null}\n\n{\"code\": \"VT\"}\n";
        let a = all(Format::Json, array).unwrap();
        let b = all(Format::Ndjson, lines).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].values["target"], "1150");
        assert_eq!(a[0].values["active"], "true");
        assert!(!a[0].values.contains_key("note"));
        assert_eq!(a[0].keys, ["active", "code", "note", "target"]);
        assert_eq!(a[1].row, 2);
    }

    #[test]
    fn bad_json_empty_bodies_and_nested_values_are_errors() {
        assert!(all(Format::Json, b"{\"code\": \"HG\"}").is_err());
        assert!(all(Format::Json, b"[{\"code\": \"HG\"},").is_err());
        assert_eq!(all(Format::Json, b"[]").unwrap(), vec![]);
        assert_eq!(all(Format::Csv, b"code,name\n").unwrap(), vec![]);
        assert_eq!(
            all(Format::Csv, b"").unwrap_err().message,
            "The body is empty."
        );
        assert!(all(Format::Json, b"\xEF\xBB\xBF").is_err());
        assert_eq!(
            all(Format::Ndjson, b"").unwrap_err().message,
            "The body is empty."
        );
        assert!(all(Format::Ndjson, b"\xEF\xBB\xBF").is_err());
        assert_eq!(all(Format::Ndjson, b"\n\n").unwrap(), vec![]);
        let nested = all(Format::Ndjson, b"{\"code\": \"HG\"}\n{\"code\": [1]}\n").unwrap_err();
        assert_eq!(nested.row, Some(2));
        let bad_line = all(Format::Ndjson, b"{\"code\": \"HG\"}\nnot json\n").unwrap_err();
        assert_eq!(bad_line.row, Some(2));
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_content_type("application/x-ndjson"),
            Some(Format::Ndjson)
        );
        assert_eq!(
            Format::from_content_type("application/JSON"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_content_type("text/plain"), None);
    }

    /// The rows counted when the bytes come whole and when they come one at a time.
    fn counted(format: Format, body: &str) -> (u64, u64) {
        let mut whole = RowCounter::new(format);
        whole.feed(body.as_bytes());
        let mut bytewise = RowCounter::new(format);
        for b in body.as_bytes() {
            bytewise.feed(std::slice::from_ref(b));
        }
        (whole.rows(), bytewise.rows())
    }

    #[test]
    fn the_row_counter_counts_csv_records_not_lines() {
        let body = "code,name\r\n\r\nA,\"two\nlines, \"\"quoted\"\"\"\r\nB,x\n\nC,\"\"";
        assert_eq!(counted(Format::Csv, body), (3, 3));
        // The rows the reader finds: the counter agrees with it.
        assert_eq!(all(Format::Csv, body.as_bytes()).unwrap().len(), 3);
        assert_eq!(counted(Format::Csv, "code,name\n"), (0, 0));
        assert_eq!(counted(Format::Csv, ""), (0, 0));
    }

    /// A record longer than `MAX_RECORD_BYTES` is refused, naming its row, in every format
    /// (an endless cell, line or element would otherwise be held whole); the rows before it
    /// are read, and a long record under the bound is read whole.
    #[test]
    fn a_record_past_the_bound_is_refused_with_its_row() {
        let long = "x".repeat(MAX_RECORD_BYTES + 10);
        let near = "y".repeat(MAX_RECORD_BYTES - 100);
        let csv = format!("code,name\nHG,{near}\nVT,\"{long}\"\n");
        let e = all(Format::Csv, csv.as_bytes()).unwrap_err();
        assert_eq!(e.row, Some(2), "{e:?}");
        assert!(e.message.contains("longer than 1 MB"), "{e:?}");
        let header = format!("code,{long}\nHG\n");
        assert_eq!(all(Format::Csv, header.as_bytes()).unwrap_err().row, None);
        let fine = format!("code,name\nHG,{near}\n");
        assert_eq!(
            all(Format::Csv, fine.as_bytes()).unwrap()[0].values["name"],
            near
        );

        let ndjson = format!("{{\"code\": \"HG\"}}\n\n{{\"code\": \"{long}\"}}\n");
        let e = all(Format::Ndjson, ndjson.as_bytes()).unwrap_err();
        assert_eq!(e.row, Some(2), "{e:?}");
        let endless = format!("{{\"code\": \"{long}");
        assert_eq!(
            all(Format::Ndjson, endless.as_bytes()).unwrap_err().row,
            Some(1)
        );
        let fine = format!("{{\"code\": \"{near}\"}}\n");
        assert_eq!(all(Format::Ndjson, fine.as_bytes()).unwrap().len(), 1);

        let json = format!("[{{\"code\": \"HG\"}}, {{\"code\": \"{long}\"}}]");
        let e = all(Format::Json, json.as_bytes()).unwrap_err();
        assert_eq!(e.row, Some(2), "{e:?}");
        assert!(e.message.contains("longer than 1 MB"), "{e:?}");
        let fine = format!("[{{\"code\": \"{near}\"}}, {{\"code\": \"{near}\"}}]");
        assert_eq!(all(Format::Json, fine.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn broken_json_inside_an_element_names_its_row() {
        let e = all(Format::Json, b"[{\"code\": \"HG\"}, {\"code\": }]").unwrap_err();
        assert_eq!(e.row, Some(2), "{e:?}");
        let e = all(Format::Json, b"[{\"code\": \"HG\"}, ]").unwrap_err();
        assert_eq!(e.row, None, "between elements: {e:?}");
    }

    #[test]
    fn invalid_utf8_in_ndjson_names_the_data_row_not_the_line() {
        let e = all(
            Format::Ndjson,
            b"{\"code\": \"HG\"}\n\n\n{\"code\": \"\xff\"}\n",
        )
        .unwrap_err();
        assert_eq!(e.row, Some(2), "{e:?}");
    }

    #[test]
    fn the_row_counter_counts_ndjson_lines_with_content() {
        let body = "{\"a\":1}\n  \n{\"a\":\"}\\n\"}\r\n\n{\"a\":3}";
        assert_eq!(counted(Format::Ndjson, body), (3, 3));
        assert_eq!(counted(Format::Ndjson, "\n \n"), (0, 0));
    }

    #[test]
    fn the_row_counter_counts_a_json_arrays_top_level_objects_on_one_line() {
        let body = r#"[{"a":{"b":[1,{"c":2}]},"s":"}{[\"{"},{"a":"\\"},{}]"#;
        assert_eq!(counted(Format::Json, body), (3, 3));
        // Cells only, as the reader takes them: the counter agrees with it.
        let cells = r#"[{"a":"}{[\"{","b":1},{"a":"\\","b":true}, {} ]"#;
        assert_eq!(counted(Format::Json, cells), (3, 3));
        assert_eq!(all(Format::Json, cells.as_bytes()).unwrap().len(), 3);
        assert_eq!(counted(Format::Json, "[]"), (0, 0));
        // A lone object is not an array of rows.
        assert_eq!(counted(Format::Json, r#"{"a":{"b":1}}"#), (0, 0));
    }
}
