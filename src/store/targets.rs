//! Admission targets (chỉ tiêu kết nạp): one per organisation and year.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Visibility;
use crate::db::schema::{admission_targets as targets, organizations as orgs};
use crate::db::{DbConn, MultiBackend};
use crate::domain::rating::year_end;
use crate::error::{Error, Result};
use crate::store::organizations::find_visible as find_org;
use crate::store::{check_version, decode_cursor, far_future, Page};

#[derive(Debug, Clone, Serialize)]
pub struct AdmissionTarget {
    pub organization_code: String,
    pub year: i32,
    pub target: i32,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
}

type Row = (String, i32, i32, i64, NaiveDateTime, NaiveDateTime);

fn view(row: Row) -> AdmissionTarget {
    let (organization_code, year, target, version, created_at, updated_at) = row;
    AdmissionTarget {
        organization_code,
        year,
        target,
        version,
        created_at,
        updated_at,
    }
}

macro_rules! columns {
    () => {
        (
            orgs::code,
            targets::year,
            targets::target,
            targets::version,
            targets::created_at,
            targets::updated_at,
        )
    };
}

fn load(conn: &mut DbConn, org_id: i64, year: i32) -> Result<Option<AdmissionTarget>> {
    Ok(targets::table
        .inner_join(orgs::table)
        .filter(targets::organization_id.eq(org_id))
        .filter(targets::year.eq(year))
        .select(columns!())
        .first::<Row>(conn)
        .optional()?
        .map(view))
}

pub fn create(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    year: i32,
    target: i32,
) -> Result<AdmissionTarget> {
    crate::db::write_transaction(conn, |conn| {
        let org = find_org(conn, vis, code).map_err(crate::error::missing_reference(
            "organization_code",
            "admission_target.organization_not_found",
            format!("There is no organisation with code {code}."),
        ))?;
        if load(conn, org.id, year)?.is_some() {
            return Err(Error::invalid(
                "year",
                "admission_target.exists",
                format!("{code} has a target for {year}; change it instead."),
            ));
        }
        let now = crate::time::now();
        diesel::insert_into(targets::table)
            .values((
                targets::organization_id.eq(org.id),
                targets::year.eq(year),
                targets::target.eq(target),
                targets::version.eq(1i64),
                targets::created_at.eq(now),
                targets::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(load(conn, org.id, year)?.expect("just written"))
    })
}

pub fn get(conn: &mut DbConn, vis: Visibility, code: &str, year: i32) -> Result<AdmissionTarget> {
    let org = find_org(conn, vis, code)?;
    load(conn, org.id, year)?
        .ok_or_else(|| Error::not_found(format!("{code} has no admission target for {year}.")))
}

pub fn update(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    year: i32,
    expected_version: i64,
    target: i32,
) -> Result<AdmissionTarget> {
    crate::db::write_transaction(conn, |conn| {
        let org = find_org(conn, vis, code)?;
        // Under the organisation's lock, so that the version compared is the latest one.
        crate::db::lock_row(conn, "organizations", org.id)?;
        let current = load(conn, org.id, year)?.ok_or_else(|| {
            Error::not_found(format!("{code} has no admission target for {year}."))
        })?;
        check_version(expected_version, current.version)?;
        diesel::update(
            targets::table
                .filter(targets::organization_id.eq(org.id))
                .filter(targets::year.eq(year)),
        )
        .set((
            targets::target.eq(target),
            targets::version.eq(current.version + 1),
            targets::updated_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
        Ok(load(conn, org.id, year)?.expect("just written"))
    })
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub year: Option<i32>,
    pub under: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

pub fn list(
    conn: &mut DbConn,
    vis: Visibility,
    filter: ListFilter,
) -> Result<Page<AdmissionTarget>> {
    let mut query = targets::table
        .inner_join(orgs::table)
        .select(columns!())
        .into_boxed::<MultiBackend>();
    if let Visibility::Subtree(scope) = vis {
        query = query.filter(targets::organization_id.eq_any(descendants!(
            scope,
            0,
            i32::MAX,
            far_future()
        )));
    }
    if let Some(year) = filter.year {
        query = query.filter(targets::year.eq(year));
    }
    if let Some(code) = &filter.under {
        let root = find_org(conn, vis, code)?;
        let day = filter.year.map(year_end).unwrap_or_else(far_future);
        query =
            query.filter(targets::organization_id.eq_any(descendants!(root.id, 0, i32::MAX, day)));
    }
    if let Some(cursor) = &filter.cursor {
        let raw = decode_cursor(cursor)?;
        let (year, code): (i32, String) =
            serde_json::from_str(&raw).map_err(|_| decode_cursor("!").unwrap_err())?;
        query = query.filter(
            targets::year
                .gt(year)
                .or(targets::year.eq(year).and(orgs::code.gt(code))),
        );
    }
    let rows: Vec<Row> = query
        .order((targets::year.asc(), orgs::code.asc()))
        .limit(filter.limit as i64 + 1)
        .load(conn)?;
    Ok(Page::from_rows(
        rows.into_iter().map(view).collect(),
        filter.limit,
        |t: &AdmissionTarget| {
            serde_json::to_string(&(t.year, &t.organization_code)).expect("serialises")
        },
    ))
}
