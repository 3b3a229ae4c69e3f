//! Generated records as import files: the same columns as the bulk import reads and the export
//! writes, so that the demonstration and the benchmark load through the import pipeline.

use crate::import::output::Writer;
use crate::import::records::Format;
use crate::import::Kind;
use crate::store::export::{put, ExportRow};
use crate::store::members::NewMember;
use crate::store::organizations::NewOrganization;

/// `rows` of `kind` as a CSV file (header included).
pub fn csv(kind: Kind, rows: impl IntoIterator<Item = ExportRow>) -> Vec<u8> {
    let mut writer = Writer::new(kind, Format::Csv);
    let mut out = Vec::new();
    writer.start(&mut out);
    for row in rows {
        writer.row(&mut out, &row);
    }
    writer.finish(&mut out);
    out
}

pub fn organization_row(o: &NewOrganization) -> ExportRow {
    let mut row = vec![
        ("code", o.code.clone()),
        ("name", o.name.clone()),
        ("kind", o.kind.as_str().to_string()),
    ];
    put(&mut row, "parent_code", o.parent_code.as_ref());
    put(&mut row, "established_on", Some(o.established_on));
    put(&mut row, "dissolved_on", o.dissolved_on);
    put(
        &mut row,
        "has_branch_committee",
        Some(o.has_branch_committee),
    );
    row
}

pub fn member_row(m: &NewMember) -> ExportRow {
    let mut row = vec![
        ("profile_number", m.profile_number.clone()),
        ("full_name", m.full_name.clone()),
        ("gender", m.gender.as_str().to_string()),
    ];
    put(&mut row, "card_number", m.card_number.as_ref());
    put(&mut row, "born_on", Some(m.born_on));
    put(&mut row, "ethnicity", m.ethnicity.as_ref());
    put(&mut row, "religion", m.religion.as_ref());
    put(&mut row, "national_id", m.national_id.as_ref());
    put(&mut row, "organization_code", Some(&m.organization_code));
    put(&mut row, "organization_since", m.organization_since);
    put(&mut row, "admitted_on", Some(m.admitted_on));
    put(&mut row, "ceremony_on", m.ceremony_on);
    put(&mut row, "official_on", m.official_on);
    put(&mut row, "exempt_since", m.exempt_since);
    row
}
