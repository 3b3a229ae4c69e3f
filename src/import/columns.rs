//! The columns of each import kind, and the reading of one record into typed values.
//!
//! A record's cells become a JSON object with the same names and typed values (dates as
//! `YYYY-MM-DD`, booleans, numbers, enumeration codes), which is then read into the very request
//! struct of the single-record API: the same validation, one code path.

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::records::Record;
use super::values;
use super::Kind;
use crate::error::{Error, FieldError, Result};

/// How a cell is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Text as given (codes, numbers of decisions, reasons).
    Text,
    /// Text that names something (a person, a place, a title): it holds a letter.
    Name,
    Date,
    Bool,
    Int,
    OrgKind,
    Gender,
    LeaveReason,
    GapReason,
    MembershipKind,
    Level,
    SubjectType,
    Form,
    AppealOutcome,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub cell: Cell,
    pub required: bool,
    /// The cell read when a row leaves it empty, for a column that is part of the key: an
    /// absent value and its default are then one key.
    pub default: Option<&'static str>,
}

const fn req(name: &'static str, cell: Cell) -> Column {
    Column {
        name,
        cell,
        required: true,
        default: None,
    }
}

const fn opt(name: &'static str, cell: Cell) -> Column {
    Column {
        name,
        cell,
        required: false,
        default: None,
    }
}

const fn defaulted(name: &'static str, cell: Cell, default: &'static str) -> Column {
    Column {
        name,
        cell,
        required: false,
        default: Some(default),
    }
}

/// Administrators may give it where the single-record API takes it.
const OVERRIDE: Column = opt("override_reason", Cell::Text);

const ORGANIZATIONS: &[Column] = &[
    req("code", Cell::Text),
    req("name", Cell::Name),
    req("kind", Cell::OrgKind),
    // Required except for a root (a provincial committee): the store's rule says so.
    opt("parent_code", Cell::Text),
    req("established_on", Cell::Date),
    opt("dissolved_on", Cell::Date),
    opt("has_branch_committee", Cell::Bool),
];

const MEMBERS: &[Column] = &[
    req("profile_number", Cell::Text),
    opt("card_number", Cell::Text),
    req("full_name", Cell::Name),
    req("gender", Cell::Gender),
    req("born_on", Cell::Date),
    opt("ethnicity", Cell::Name),
    opt("religion", Cell::Name),
    opt("national_id", Cell::Text),
    req("organization_code", Cell::Text),
    opt("organization_since", Cell::Date),
    req("admitted_on", Cell::Date),
    opt("ceremony_on", Cell::Date),
    opt("official_on", Cell::Date),
    opt("exempt_since", Cell::Date),
    opt("left_on", Cell::Date),
    opt("leave_reason", Cell::LeaveReason),
    OVERRIDE,
];

const POSITIONS: &[Column] = &[
    req("profile_number", Cell::Text),
    req("title", Cell::Name),
    opt("organization_code", Cell::Text),
    req("from", Cell::Date),
    opt("to", Cell::Date),
];

const TRANSFERS: &[Column] = &[
    req("profile_number", Cell::Text),
    req("organization_code", Cell::Text),
    req("on", Cell::Date),
    defaulted("kind", Cell::MembershipKind, "official"),
    opt("until", Cell::Date),
];

const MEMBER_RATINGS: &[Column] = &[
    req("profile_number", Cell::Text),
    req("year", Cell::Int),
    req("level", Cell::Level),
    opt("score", Cell::Int),
    opt("reason", Cell::Text),
    opt("self_corrected", Cell::Bool),
    opt("decided_on", Cell::Date),
    OVERRIDE,
];

/// The tree's history: an organisation moved under another parent on a day (the organisations
/// file gives each one's parent at its establishment).
const ORGANIZATION_MOVES: &[Column] = &[
    req("code", Cell::Text),
    req("parent_code", Cell::Text),
    req("on", Cell::Date),
];

/// Miễn công tác và sinh hoạt đảng: every period of a member's, open or ended (the members
/// file's `exempt_since` carries only the current one).
const EXEMPTIONS: &[Column] = &[
    req("profile_number", Cell::Text),
    req("from", Cell::Date),
    opt("to", Cell::Date),
    opt("reason", Cell::Text),
];

/// Time that does not count towards party age (tuổi đảng), entered by hand; the open gap an
/// expulsion decision opens comes with the decision.
const PARTY_AGE_GAPS: &[Column] = &[
    req("profile_number", Cell::Text),
    req("reason", Cell::GapReason),
    req("from", Cell::Date),
    req("to", Cell::Date),
    opt("note", Cell::Text),
];

const ORGANIZATION_RATINGS: &[Column] = &[
    req("organization_code", Cell::Text),
    req("year", Cell::Int),
    req("level", Cell::Level),
    opt("score", Cell::Int),
    opt("reason", Cell::Text),
    opt("decided_on", Cell::Date),
    OVERRIDE,
];

const DISCIPLINARY_ACTIONS: &[Column] = &[
    req("subject_type", Cell::SubjectType),
    req("subject", Cell::Text),
    req("form", Cell::Form),
    req("decision_number", Cell::Text),
    req("authority_code", Cell::Text),
    req("decided_on", Cell::Date),
    opt("announced_on", Cell::Date),
    opt("violation", Cell::Text),
    opt("regulation_article", Cell::Text),
    opt("especially_serious", Cell::Bool),
    opt("appeal_outcome", Cell::AppealOutcome),
    opt("appeal_filed_on", Cell::Date),
    opt("appeal_decided_on", Cell::Date),
    opt("reduced_form", Cell::Form),
    OVERRIDE,
];

const INSIGNIA_AWARDS: &[Column] = &[
    req("profile_number", Cell::Text),
    req("tier", Cell::Int),
    req("awarded_on", Cell::Date),
    opt("decision_number", Cell::Text),
    opt("posthumous", Cell::Bool),
    opt("early", Cell::Bool),
    OVERRIDE,
];

const ADMISSION_TARGETS: &[Column] = &[
    req("organization_code", Cell::Text),
    req("year", Cell::Int),
    req("target", Cell::Int),
];

impl Kind {
    /// Every column the kind accepts, in the order exports write them.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Organizations => ORGANIZATIONS,
            Kind::OrganizationMoves => ORGANIZATION_MOVES,
            Kind::Members => MEMBERS,
            Kind::Exemptions => EXEMPTIONS,
            Kind::PartyAgeGaps => PARTY_AGE_GAPS,
            Kind::Positions => POSITIONS,
            Kind::Transfers => TRANSFERS,
            Kind::MemberRatings => MEMBER_RATINGS,
            Kind::OrganizationRatings => ORGANIZATION_RATINGS,
            Kind::DisciplinaryActions => DISCIPLINARY_ACTIONS,
            Kind::InsigniaAwards => INSIGNIA_AWARDS,
            Kind::AdmissionTargets => ADMISSION_TARGETS,
        }
    }

    /// The columns that identify a record: one row per key in a file.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Kind::Organizations => &["code"],
            Kind::Members => &["profile_number"],
            Kind::OrganizationMoves => &["code", "on"],
            Kind::Exemptions | Kind::PartyAgeGaps => &["profile_number", "from"],
            Kind::Positions => &["profile_number", "title", "from"],
            // An official move and a temporary activity may start on one day.
            Kind::Transfers => &["profile_number", "on", "kind"],
            Kind::MemberRatings => &["profile_number", "year"],
            Kind::OrganizationRatings | Kind::AdmissionTargets => &["organization_code", "year"],
            Kind::DisciplinaryActions => &["authority_code", "decision_number", "subject"],
            Kind::InsigniaAwards => &["profile_number", "tier"],
        }
    }
}

/// Problems with the set of columns a record names: unknown ones and missing required ones.
pub fn check_columns(kind: Kind, keys: &[String]) -> Vec<FieldError> {
    let columns = kind.columns();
    let mut errors = Vec::new();
    for key in keys {
        if !columns.iter().any(|c| c.name == key) {
            errors.push(FieldError::new(
                key.clone(),
                "import.unknown_column",
                format!(
                    "\"{key}\" is not a column of {kind}; the columns are: {}.",
                    columns
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            errors.push(FieldError::new(
                key.clone(),
                "import.duplicate_column",
                format!("\"{key}\" appears twice in the header."),
            ));
        }
    }
    for column in columns.iter().filter(|c| c.required) {
        if !keys.iter().any(|k| k == column.name) {
            errors.push(FieldError::new(
                column.name,
                "import.missing_column",
                format!("The column \"{}\" is required.", column.name),
            ));
        }
    }
    errors
}

/// A record read into typed values, ready for the request struct of its kind.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: usize,
    pub values: Map<String, Value>,
}

/// Reads every cell of `record`; all the problems of the row at once.
pub fn typed(kind: Kind, record: &Record) -> Result<Row, Vec<FieldError>> {
    let mut values = Map::new();
    let mut errors = Vec::new();
    for column in kind.columns() {
        match record
            .values
            .get(column.name)
            .map(String::as_str)
            .or(column.default)
        {
            None => {
                if column.required && record.keys.iter().any(|k| k == column.name) {
                    errors.push(FieldError::new(
                        column.name,
                        "required",
                        format!("\"{}\" must not be empty.", column.name),
                    ));
                }
            }
            Some(cell) => {
                let from_json_number = record.non_text.iter().any(|k| k == column.name);
                match read_cell(column.cell, cell, from_json_number) {
                    Ok(value) => {
                        values.insert(column.name.to_string(), value);
                    }
                    Err(message) => errors.push(FieldError::new(column.name, "invalid", message)),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(Row {
            number: record.row,
            values,
        })
    } else {
        Err(errors)
    }
}

fn read_cell(cell: Cell, text: &str, from_json_number: bool) -> Result<Value, String> {
    let code = |s: &str| Value::String(s.to_string());
    Ok(match cell {
        Cell::Text | Cell::Name if from_json_number => {
            return Err(format!(
                "\"{text}\" must be text, not a number or a boolean."
            ))
        }
        Cell::Name if !text.chars().any(char::is_alphabetic) => {
            return Err(format!("\"{text}\" is not a name: it holds no letter."))
        }
        Cell::Text | Cell::Name => Value::String(text.to_string()),
        // `Display` is ISO 8601 (what serde reads back), without parsing a format string.
        Cell::Date => Value::String(values::date(text)?.to_string()),
        Cell::Bool => Value::Bool(values::boolean(text)?),
        Cell::Int => Value::from(values::integer(text)?),
        Cell::OrgKind => code(values::org_kind(text)?.as_str()),
        Cell::Gender => code(values::gender(text)?.as_str()),
        Cell::LeaveReason => code(values::leave_reason(text)?.as_str()),
        Cell::GapReason => code(values::gap_reason(text)?.as_str()),
        Cell::MembershipKind => code(values::membership_kind(text)?.as_str()),
        Cell::Level => code(values::level(text)?.as_str()),
        Cell::SubjectType => code(values::subject_type(text)?.as_str()),
        Cell::Form => code(values::form(text)?.as_str()),
        Cell::AppealOutcome => code(values::appeal_outcome(text)?.as_str()),
    })
}

impl Row {
    /// Whether the row gives the column a value (an empty cell gives none).
    pub fn states(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }

    pub fn date(&self, name: &str) -> Option<NaiveDate> {
        self.text(name).and_then(|d| d.parse::<NaiveDate>().ok())
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.values.get(name).and_then(Value::as_i64)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.values.get(name).and_then(Value::as_bool)
    }

    /// The row's key, as one string (for finding a key twice in a file).
    pub fn key(&self, kind: Kind) -> String {
        kind.key()
            .iter()
            .map(|k| match self.values.get(*k) {
                Some(Value::String(s)) => crate::domain::text::normalize(s),
                Some(other) => other.to_string(),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\u{1f}")
    }

    /// The request struct of the single-record API, read from the named columns (`(column,
    /// field)` pairs; a column absent from the row is absent from the request).
    pub fn request<T: DeserializeOwned>(&self, fields: &[(&str, &str)]) -> Result<T> {
        let mut object = Map::new();
        for (column, field) in fields {
            if let Some(value) = self.values.get(*column) {
                object.insert(field.to_string(), value.clone());
            }
        }
        serde_json::from_value(Value::Object(object))
            .map_err(|e| Error::invalid("", "invalid", format!("The row is not valid: {e}")))
    }
}

/// `(column, field)` pairs where both have the same name.
pub fn same(names: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    names.iter().map(|n| (*n, *n)).collect()
}
