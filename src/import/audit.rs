//! An import's one audit event: what kind and mode, the counts, the body's SHA-256 and size,
//! and the keys inserted and updated (compactly: keys, not row images), not one event per row.

use serde::Serialize;

use super::digest::BodyDigest;
use super::{Mode, Outcome, Writer};
use crate::auth::Caller;
use crate::store::audit::Change;

/// The keys an import wrote (several key columns joined by `/`).
#[derive(Debug, Default, Serialize)]
pub struct RowKeys {
    pub inserted: Vec<String>,
    pub updated: Vec<String>,
}

impl RowKeys {
    /// Notes a row's key if the row was inserted or updated (several key columns joined by
    /// `/`).
    pub fn note(&mut self, outcome: Outcome, key: impl FnOnce() -> String) {
        let list = match outcome {
            Outcome::Inserted => &mut self.inserted,
            Outcome::Updated => &mut self.updated,
            Outcome::Unchanged => return,
        };
        list.push(key().replace('\u{1f}', "/"));
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
