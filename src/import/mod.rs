//! Bulk import (issue 5, in progress): the reading layer. Bodies in CSV (with or without a
//! BOM, RFC 4180 quoting), a JSON array or NDJSON are read record by record from a stream —
//! never whole into memory — and each value is read the way clerks write it (dates as
//! `YYYY-MM-DD` or `DD/MM/YYYY`, enumerations by English code, Vietnamese label or
//! abbreviation, with or without diacritics). Writing the records goes through the same store
//! functions as the single-record API; that part and the HTTP endpoint are the next step.

pub mod records;
pub mod values;
