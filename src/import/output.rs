//! Writing exported rows in the import's formats: CSV with a header of every column of the
//! kind, a JSON array, or NDJSON. Numbers and booleans are JSON numbers and booleans, so an
//! export reads back through the import unchanged.

use serde_json::{Map, Value};

use super::columns::Cell;
use super::records::Format;
use super::Kind;
use crate::store::export::ExportRow;

pub struct Writer {
    kind: Kind,
    format: Format,
    rows: usize,
}

impl Writer {
    pub fn new(kind: Kind, format: Format) -> Writer {
        Writer {
            kind,
            format,
            rows: 0,
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self.format {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    /// What comes before the first row.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                let names: Vec<&str> = self.kind.columns().iter().map(|c| c.name).collect();
                write_csv_line(out, names.iter().map(|s| Some(*s)));
            }
            Format::Json => out.push(b'['),
            Format::Ndjson => {}
        }
    }

    pub fn row(&mut self, out: &mut Vec<u8>, row: &ExportRow) {
        let value = |name: &str| row.iter().find(|(c, _)| *c == name).map(|(_, v)| v);
        match self.format {
            Format::Csv => {
                let cells = self
                    .kind
                    .columns()
                    .iter()
                    .map(|c| value(c.name).map(String::as_str));
                write_csv_line(out, cells);
            }
            Format::Json | Format::Ndjson => {
                let mut object = Map::new();
                for column in self.kind.columns() {
                    if let Some(text) = value(column.name) {
                        let typed = match column.cell {
                            Cell::Int => text.parse::<i64>().map(Value::from).ok(),
                            Cell::Bool => text.parse::<bool>().map(Value::Bool).ok(),
                            _ => None,
                        };
                        object.insert(
                            column.name.to_string(),
                            typed.unwrap_or_else(|| Value::String(text.clone())),
                        );
                    }
                }
                if self.format == Format::Json && self.rows > 0 {
                    out.push(b',');
                }
                if self.format == Format::Json {
                    out.push(b'\n');
                }
                serde_json::to_writer(&mut *out, &object).expect("a map serialises");
                if self.format == Format::Ndjson {
                    out.push(b'\n');
                }
            }
        }
        self.rows += 1;
    }

    /// What comes after the last row. NDJSON without rows is one blank line: an empty body is
    /// refused by the import in every format, and an export must import back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.extend_from_slice(b"\n]\n"),
            Format::Ndjson if self.rows == 0 => out.push(b'\n'),
            Format::Csv | Format::Ndjson => {}
        }
    }
}

/// One RFC 4180 line: a cell is quoted when it holds a comma, a quote or a line break.
fn write_csv_line<'a>(out: &mut Vec<u8>, cells: impl Iterator<Item = Option<&'a str>>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = cell.unwrap_or("");
        if cell.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::records::read;

    #[test]
    fn what_is_written_reads_back() {
        let row: ExportRow = vec![
            ("organization_code", "HG, \"A\"".to_string()),
            ("year", "2024".to_string()),
            ("target", "12".to_string()),
        ];
        for format in [Format::Csv, Format::Json, Format::Ndjson] {
            let mut w = Writer::new(Kind::AdmissionTargets, format);
            let mut out = Vec::new();
            w.start(&mut out);
            w.row(&mut out, &row);
            w.row(&mut out, &row);
            w.finish(&mut out);
            let mut back = Vec::new();
            read(format, out.as_slice(), |r| {
                back.push(r);
                true
            })
            .unwrap();
            assert_eq!(back.len(), 2, "{format:?}");
            assert_eq!(back[1].values["organization_code"], "HG, \"A\"");
            assert_eq!(back[1].values["target"], "12");
        }
    }

    #[test]
    fn an_export_without_rows_reads_back_as_no_records() {
        for format in [Format::Csv, Format::Json, Format::Ndjson] {
            let mut w = Writer::new(Kind::AdmissionTargets, format);
            let mut out = Vec::new();
            w.start(&mut out);
            w.finish(&mut out);
            let read = read(format, out.as_slice(), |_| true);
            assert_eq!(
                read,
                Ok(0),
                "{format:?}: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
}
