//! An import's one audit event: what kind and mode, the counts, the body's SHA-256 and size,
//! and the keys inserted and updated (compactly: keys, not row images), not one event per row.

use serde::Serialize;

use super::digest::BodyDigest;
use super::{Mode, Outcome, Writer};
use crate::auth::Caller;
use crate::store::audit::Change;

/// The keys an import wrote (several key columns joined by `/`), compactly: keys that follow
/// each other with a number one higher (`HG-000001`, `HG-000002`, …) are one run
/// `HG-000001..HG-035242`, so a sorted national file of 5 million members is a few dozen
/// strings. Past `MAX_RUNS` runs the keys are only counted (`unlisted`): the event must stay
/// small in memory and in its row, and the file's SHA-256 names every row anyway.
#[derive(Debug, Default, Serialize)]
pub struct RowKeys {
    pub inserted: KeyRuns,
    pub updated: KeyRuns,
}

impl RowKeys {
    /// Notes a row's key if the row was inserted or updated.
    pub fn note(&mut self, outcome: Outcome, key: impl FnOnce() -> String) {
        let list = match outcome {
            Outcome::Inserted => &mut self.inserted,
            Outcome::Updated => &mut self.updated,
            Outcome::Unchanged => return,
        };
        list.push(key().replace('\u{1f}', "/"));
    }
}

/// Runs listed per outcome; the keys after them are counted.
const MAX_RUNS: usize = 10_000;

/// A run of keys: `prefix` followed by the numbers `first..=last`, written `width` digits wide.
#[derive(Debug)]
struct Run {
    prefix: String,
    width: usize,
    first: u64,
    last: u64,
}

impl Run {
    fn of(key: &str) -> Option<Run> {
        let digits = key.len() - key.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 || digits > 18 {
            return None;
        }
        let (prefix, number) = key.split_at(key.len() - digits);
        let number = number.parse().ok()?;
        Some(Run {
            prefix: prefix.to_string(),
            width: digits,
            first: number,
            last: number,
        })
    }

    fn extends(&self, next: &Run) -> bool {
        next.prefix == self.prefix && next.width == self.width && next.first == self.last + 1
    }

    fn text(&self) -> String {
        let key = |n: u64| format!("{}{:0w$}", self.prefix, n, w = self.width);
        if self.first == self.last {
            key(self.first)
        } else {
            format!("{}..{}", key(self.first), key(self.last))
        }
    }
}

/// The keys of one outcome as runs, in the file's order.
#[derive(Debug, Default)]
pub struct KeyRuns {
    listed: Vec<String>,
    open: Option<Run>,
    unlisted: usize,
}

impl KeyRuns {
    fn push(&mut self, key: String) {
        let next = Run::of(&key);
        if let (Some(open), Some(next)) = (&mut self.open, &next) {
            if open.extends(next) {
                open.last = next.first;
                return;
            }
        }
        if let Some(done) = self.open.take() {
            self.listed.push(done.text());
        }
        if self.listed.len() >= MAX_RUNS {
            self.unlisted += 1;
            return;
        }
        match next {
            Some(run) => self.open = Some(run),
            None => self.listed.push(key),
        }
    }

    fn runs(&self) -> Vec<String> {
        let mut runs = self.listed.clone();
        runs.extend(self.open.as_ref().map(Run::text));
        runs
    }
}

/// A JSON list of the runs, then `"… N more"` when some were only counted.
impl Serialize for KeyRuns {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut runs = self.runs();
        if self.unlisted > 0 {
            runs.push(format!("… {} more", self.unlisted));
        }
        runs.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(keys: &[&str]) -> serde_json::Value {
        let mut list = KeyRuns::default();
        for k in keys {
            list.push(k.to_string());
        }
        serde_json::to_value(&list).unwrap()
    }

    #[test]
    fn consecutive_keys_are_one_run() {
        assert_eq!(
            runs(&[
                "HG-000001",
                "HG-000002",
                "HG-000003",
                "HN-000004",
                "HN-000005",
                "X",
                "A/2023",
                "B/2023",
                "A/2024"
            ]),
            serde_json::json!([
                "HG-000001..HG-000003",
                "HN-000004..HN-000005",
                "X",
                "A/2023",
                "B/2023",
                "A/2024"
            ])
        );
        // Another width, a gap: separate runs.
        assert_eq!(
            runs(&["P-9", "P-10", "P-010", "P-012", "P-013"]),
            serde_json::json!(["P-9", "P-10", "P-010", "P-012..P-013"])
        );
    }

    #[test]
    fn past_the_limit_keys_are_counted() {
        let mut list = KeyRuns::default();
        for i in 0..(MAX_RUNS + 5) {
            list.push(format!("K-{:06}", i * 2));
        }
        let value = serde_json::to_value(&list).unwrap();
        let listed = value.as_array().unwrap();
        assert_eq!(listed.len(), MAX_RUNS + 1);
        assert_eq!(listed[MAX_RUNS], "… 5 more");
    }
}

#[derive(Serialize)]
struct ImportImage<'a> {
    kind: &'a str,
    mode: &'a str,
    rows: usize,
    inserted: usize,
    updated: usize,
    unchanged: usize,
    sha256: String,
    bytes: u64,
    keys: &'a RowKeys,
}

/// The event of an accepted import. Auditors see it within the importer's scope.
pub(super) fn import_event(
    caller: &Caller,
    mode: Mode,
    writer: &Writer<'_>,
    digest: &BodyDigest,
) -> Change {
    let (summary, keys) = (&writer.summary, &writer.changed);
    let (sha256, bytes) = digest.finish();
    let image = ImportImage {
        kind: &summary.kind,
        mode: mode.as_str(),
        rows: summary.rows,
        inserted: summary.inserted,
        updated: summary.updated,
        unchanged: summary.unchanged,
        sha256,
        bytes,
        keys,
    };
    Change::new("import", &summary.kind, "import")
        .after(&image)
        .organization(caller.scope.as_ref().map(|s| s.code.clone()))
}
