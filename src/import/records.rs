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

/// Reads every record and hands it to `each`, which answers whether to go on; returns how
/// many records were read. An empty CSV or JSON body is an error; a header without rows, `[]`,
/// or NDJSON without lines is a file with no records, as an export of an empty table is.
pub fn read<R: Read>(
    format: Format,
    reader: R,
    mut each: impl FnMut(Record) -> bool,
) -> Result<usize, ReadError> {
    let mut reader = without_bom(reader)?;
    let empty = reader
        .fill_buf()
        .map_err(|e| error(None, format!("The body could not be read: {e}")))?
        .is_empty();
    if empty && format != Format::Ndjson {
        return Err(error(None, "The body is empty."));
    }
    match format {
        Format::Csv => read_csv(reader, &mut each),
        Format::Ndjson => read_ndjson(reader, &mut each),
        Format::Json => read_json(reader, &mut each),
    }
}

fn read_csv<R: Read>(reader: R, each: &mut impl FnMut(Record) -> bool) -> Result<usize, ReadError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| error(None, format!("The header row could not be read: {e}")))?
        .iter()
        .map(normalize)
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(error(None, "The body has no header row."));
    }
    let mut count = 0;
    for (i, line) in csv.records().enumerate() {
        let row = i + 1;
        let line =
            line.map_err(|e| error(Some(row), format!("Row {row} could not be read: {e}")))?;
        let values = headers
            .iter()
            .zip(line.iter())
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.clone(), normalize(v)))
            .collect();
        count += 1;
        if !each(Record {
            row,
            keys: headers.clone(),
            values,
            non_text: Vec::new(),
        }) {
            break;
        }
    }
    Ok(count)
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

fn read_ndjson<R: BufRead>(
    reader: R,
    each: &mut impl FnMut(Record) -> bool,
) -> Result<usize, ReadError> {
    let mut count = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| {
            error(
                Some(i + 1),
                format!("Line {} could not be read: {e}", i + 1),
            )
        })?;
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        let object: Map<String, Value> = serde_json::from_str(&line).map_err(|e| {
            error(
                Some(count),
                format!("Row {count} is not a JSON object: {e}"),
            )
        })?;
        if !each(record_from(count, object)?) {
            break;
        }
    }
    Ok(count)
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
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let result = (&mut elements)
        .deserialize(&mut deserializer)
        .and_then(|n| deserializer.end().map(|_| n));
    if let Some(count) = elements.stopped {
        return Ok(count);
    }
    match (result, elements.failure) {
        (_, Some(failure)) => Err(failure),
        (Ok(n), None) => Ok(n),
        (Err(e), None) => Err(error(
            None,
            format!("The body is not a JSON array of objects: {e}"),
        )),
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
        let broken = all(Format::Csv, b"code,name\nHG,ok\nVT,\"unclosed\nNB,x\n");
        assert!(broken.is_err() || broken.unwrap().len() < 3);
        let ragged = all(Format::Csv, b"code,name\nHG,ok\nVT,too,many\n").unwrap_err();
        assert_eq!(ragged.row, Some(2));
        let invalid = all(Format::Csv, b"code,name\nHG,\xff\xfe\n").unwrap_err();
        assert_eq!(invalid.row, Some(1));
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
        assert_eq!(all(Format::Ndjson, b"").unwrap(), vec![]);
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
}
