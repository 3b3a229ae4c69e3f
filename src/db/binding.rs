//! Dates and timestamps for the bulk inserts' rows, bound exactly as diesel binds `NaiveDate`
//! and `NaiveDateTime`, only faster on SQLite. There diesel writes each value as text through
//! chrono's format strings (`%F`, `%F %T%.f`), parsing the format again for every value: in the
//! members import that was about 5% of the writing thread's time (perf, BENCHMARKS.md, twelfth
//! pass), for three timestamps and up to five dates a row. [`Day`] and [`Stamp`] write the same
//! text by hand; PostgreSQL gets chrono's own binary encoding.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Date, Timestamp};
use diesel::sqlite::Sqlite;

/// A `DATE` value of an inserted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Date)]
pub struct Day(pub NaiveDate);

/// A `TIMESTAMP` value of an inserted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct Stamp(pub NaiveDateTime);

impl From<NaiveDate> for Day {
    fn from(day: NaiveDate) -> Day {
        Day(day)
    }
}

impl From<NaiveDateTime> for Stamp {
    fn from(at: NaiveDateTime) -> Stamp {
        Stamp(at)
    }
}

fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut digits = [b'0'; 9];
    let mut v = value;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend(digits[..width].iter().map(|&d| d as char));
}

/// `%F` (`YYYY-MM-DD`) for years 0–9999; chrono's own text outside them (a sign, more digits).
fn day_text(day: NaiveDate, out: &mut String) {
    match u32::try_from(day.year()) {
        Ok(year) if year <= 9999 => {
            push_digits(out, year, 4);
            out.push('-');
            push_digits(out, day.month(), 2);
            out.push('-');
            push_digits(out, day.day(), 2);
        }
        _ => out.push_str(&day.format("%F").to_string()),
    }
}

/// `%F %T%.f`: the fraction only when there is one, in 3, 6 or 9 digits, the fewest that
/// hold it, as chrono writes it. A leap second (chrono's nanoseconds past 10⁹) is left to
/// chrono.
fn stamp_text(at: NaiveDateTime) -> String {
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return at.format("%F %T%.f").to_string();
    }
    let mut out = String::with_capacity(29);
    day_text(at.date(), &mut out);
    out.push(' ');
    push_digits(&mut out, at.hour(), 2);
    out.push(':');
    push_digits(&mut out, at.minute(), 2);
    out.push(':');
    push_digits(&mut out, at.second(), 2);
    if nanos != 0 {
        out.push('.');
        if nanos % 1_000_000 == 0 {
            push_digits(&mut out, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            push_digits(&mut out, nanos / 1_000, 6);
        } else {
            push_digits(&mut out, nanos, 9);
        }
    }
    out
}

impl ToSql<Date, Sqlite> for Day {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        let mut text = String::with_capacity(10);
        day_text(self.0, &mut text);
        out.set_value(text);
        Ok(IsNull::No)
    }
}

impl ToSql<Date, Pg> for Day {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        ToSql::<Date, Pg>::to_sql(&self.0, &mut out.reborrow())
    }
}

impl ToSql<Timestamp, Sqlite> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(stamp_text(self.0));
        Ok(IsNull::No)
    }
}

impl ToSql<Timestamp, Pg> for Stamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        ToSql::<Timestamp, Pg>::to_sql(&self.0, &mut out.reborrow())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn days_are_written_as_chrono_writes_them() {
        for d in [
            day(2024, 2, 29),
            day(1930, 1, 1),
            day(9999, 12, 31),
            day(0, 1, 1),
            day(7, 7, 7),
            day(10_000, 1, 1),
            day(-1, 12, 31),
        ] {
            let mut text = String::new();
            day_text(d, &mut text);
            assert_eq!(text, d.format("%F").to_string());
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        for nanos in [
            0,
            1,
            7_000_000,
            120_000_000,
            123_400_000,
            123_456_000,
            100_000_001,
            999_999_999,
            1_500_000_000, // a leap second
        ] {
            let at = day(2026, 12, 1)
                .and_hms_nano_opt(23, 59, 59, nanos)
                .unwrap();
            assert_eq!(stamp_text(at), at.format("%F %T%.f").to_string(), "{nanos}");
        }
        let early = day(5, 3, 4).and_hms_opt(1, 2, 3).unwrap();
        assert_eq!(stamp_text(early), "0005-03-04 01:02:03");
    }
}
