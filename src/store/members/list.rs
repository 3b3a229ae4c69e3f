//! Lists of members: filters, the plan chosen by subtree size, keyset paging.

use super::*;

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub under: Option<String>,
    pub on: Option<NaiveDate>,
    pub status: Option<Status>,
    pub exempt: Option<bool>,
    pub admitted_year: Option<i32>,
    pub q: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// The members exempt on `$day` (a macro: subselects stay unboxed to embed in boxed queries).
macro_rules! exempt_ids_on {
    ($day:expr) => {{
        let day: NaiveDate = $day;
        exemptions::table
            .select(exemptions::member_id)
            .filter(exemptions::starts_on.le(day))
            .filter(
                exemptions::ends_on
                    .is_null()
                    .or(exemptions::ends_on.gt(day)),
            )
    }};
}

/// The members with an official membership on `$day`: on the roll that day.
macro_rules! on_roll_ids {
    ($day:expr) => {{
        let day: NaiveDate = $day;
        memberships::table
            .select(memberships::member_id)
            .filter(memberships::kind.eq("official"))
            .filter(memberships::valid_from.le(day))
            .filter(
                memberships::valid_to
                    .is_null()
                    .or(memberships::valid_to.gt(day)),
            )
    }};
}

/// Members in Vietnamese name order (given name, then full name), keyset-paged on
/// `(sort_key, id)`: page 1,000 costs what page 1 costs.
pub fn list(conn: &mut DbConn, vis: Visibility, filter: ListFilter) -> Result<Page<Member>> {
    // Cheap per-row tests (name words, dates) come first in the WHERE clause and the scope's
    // per-row probe last, so that SQLite probes only the rows that pass them.
    let mut query = members::table.into_boxed();
    for pattern in filter
        .q
        .as_deref()
        .map(text::search_patterns)
        .unwrap_or_default()
    {
        query = query.filter(members::search_name.like(pattern));
    }
    let day = filter.on.unwrap_or_else(crate::time::today);
    let under = match &filter.under {
        Some(code) => Some(find_org(conn, vis, code)?.id),
        None => None,
    };
    // The narrowest subtree that restricts the list decides the plan (see SMALL_SUBTREE).
    let narrowest = under.or(match vis {
        Visibility::All => None,
        Visibility::Subtree(scope) => Some(scope),
    });
    let small = match narrowest {
        Some(root) => {
            subtree_size(conn, root, filter.on.unwrap_or_else(far_future))? <= SMALL_SUBTREE
        }
        None => false,
    };
    match (filter.on, under) {
        // On a date: on the roll that day, in the subtree as it stood that day.
        (Some(on), Some(root)) if small => {
            query =
                query.filter(members::id.eq_any(on_roll_ids!(on).filter(
                    memberships::organization_id.eq_any(descendants!(root, 0, i32::MAX, on)),
                )));
        }
        (Some(on), Some(root)) => {
            query = query.filter(diesel::dsl::exists(
                on_roll_ids!(on)
                    .filter(memberships::member_id.eq(members::id))
                    .filter(memberships::organization_id.eq_any(descendants!(
                        root,
                        0,
                        i32::MAX,
                        on
                    ))),
            ));
        }
        (Some(on), None) => {
            query = query.filter(diesel::dsl::exists(
                on_roll_ids!(on).filter(memberships::member_id.eq(members::id)),
            ));
        }
        (None, Some(root)) if small => {
            query = query.filter(members::organization_id.eq_any(descendants!(
                root,
                0,
                i32::MAX,
                far_future()
            )));
        }
        (None, Some(root)) => query = query.filter(currently_under!(root)),
        (None, None) => {
            if let (true, Some(scope)) = (small, narrowest) {
                // A small scope: start from its organisations' members.
                query = query.filter(members::organization_id.eq_any(descendants!(
                    scope,
                    0,
                    i32::MAX,
                    far_future()
                )));
            }
        }
    }
    match filter.status {
        Some(Status::Left) => query = query.filter(members::left_on.le(day)),
        Some(Status::Full) => {
            query = query
                .filter(members::left_on.is_null().or(members::left_on.gt(day)))
                .filter(members::official_on.le(day))
        }
        Some(Status::Probationary) => {
            query = query
                .filter(members::left_on.is_null().or(members::left_on.gt(day)))
                .filter(
                    members::official_on
                        .is_null()
                        .or(members::official_on.gt(day)),
                )
        }
        None => {}
    }
    match filter.exempt {
        Some(true) => query = query.filter(members::id.eq_any(exempt_ids_on!(day))),
        Some(false) => query = query.filter(members::id.ne_all(exempt_ids_on!(day))),
        None => {}
    }
    if let Some(year) = filter.admitted_year {
        let first = NaiveDate::from_ymd_opt(year, 1, 1);
        let next = NaiveDate::from_ymd_opt(year + 1, 1, 1);
        if let (Some(first), Some(next)) = (first, next) {
            query = query
                .filter(members::admitted_on.ge(first))
                .filter(members::admitted_on.lt(next));
        }
    }
    if let Some(cursor) = &filter.cursor {
        let (key, id) = decode_member_cursor(cursor)?;
        query = query.filter(
            members::sort_key
                .gt(key.clone())
                .or(members::sort_key.eq(key).and(members::id.gt(id))),
        );
    }
    let rows: Vec<MemberRow> = restrict(query, vis)
        .order((members::sort_key.asc(), members::id.asc()))
        .limit(filter.limit as i64 + 1)
        .select(MemberRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, filter.limit, |r| {
        serde_json::to_string(&(r.sort_key.as_str(), r.id)).expect("serialises")
    });
    Ok(Page {
        items: views(conn, page.items, day)?,
        next_cursor: page.next_cursor,
    })
}

fn decode_member_cursor(cursor: &str) -> Result<(String, i64)> {
    let raw = crate::store::decode_cursor(cursor)?;
    serde_json::from_str(&raw).map_err(|_| crate::store::decode_cursor("!").unwrap_err())
}
