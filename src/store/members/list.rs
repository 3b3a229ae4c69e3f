//! Lists of members: filters, the plan chosen by the subtree's share of the members, keyset
//! paging.

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

/// How a list finds its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Walk the name index `members_sort_idx (sort_key, id, search_name, organization_id)` in
    /// order, test each member (name words, then scope) and stop at the page's end: cheap when
    /// a good share of the members pass.
    Walk,
    /// Start from the subtree's members (`members_organization_idx (organization_id, sort_key,
    /// id, search_name)`, which also answers the name test and the order) and sort the few
    /// that pass: cheap when the subtree is a small share of all members.
    Subtree,
}

/// The share of members one searched word (`% word%`) keeps: family and middle names such as
/// Nguyễn or Thị keep a quarter, given names a few percent; two words keep about 1%.
const WORD_SHARE: f64 = 0.1;

/// What a row read by the subtree plan costs against a row walked in name order: it is read
/// in organisation order and must be sorted with the others that pass.
const SUBTREE_ROW_COST: f64 = 2.0;

/// The cheaper plan for a page of `page_rows` rows from a subtree of `subtree_orgs`
/// organisations, in a database of about `all_orgs` organisations and `all_members` members,
/// when the filters keep about `kept` of the members.
///
/// The walk reads about `page_rows / (share × kept)` index entries (at most the whole
/// index); the subtree plan reads the subtree's members, `share × all_members`, whatever the
/// page. The share of members is estimated by the share of organisations. A province of a
/// national database (0.6% of the members) is walked for its plain pages (8,000 entries
/// against 35,000) and started from its members for a name search; in a database of that
/// province alone, only a district's name search or a small subtree starts from its members.
fn choose(page_rows: usize, subtree_orgs: i64, all_orgs: i64, all_members: i64, kept: f64) -> Plan {
    let share = subtree_orgs.max(1) as f64 / all_orgs.max(subtree_orgs).max(1) as f64;
    let members = all_members.max(0) as f64;
    let walk = (page_rows as f64 / (share * kept)).min(members);
    let subtree = share * members * SUBTREE_ROW_COST;
    if subtree < walk {
        Plan::Subtree
    } else {
        Plan::Walk
    }
}

/// The share of members the filters other than the subtree keep (rough: only the order of
/// magnitude matters to [`choose`]).
fn kept_share(filter: &ListFilter, words: usize) -> f64 {
    let mut kept = WORD_SHARE.powi(words.min(6) as i32);
    kept *= match filter.status {
        Some(Status::Left) | Some(Status::Probationary) => 0.05,
        Some(Status::Full) | None => 1.0,
    };
    if filter.exempt == Some(true) {
        kept *= 0.1;
    }
    if filter.admitted_year.is_some() {
        kept *= 0.05;
    }
    kept
}

/// The organisations of `root`'s subtree on `day`, and estimates of all organisations and all
/// members (the largest ids: one index probe each, where a count would read every row).
fn sizes(conn: &mut DbConn, root: i64, day: NaiveDate) -> Result<(i64, i64, i64)> {
    use crate::db::schema::organization_tree as t;
    use diesel::dsl::max;
    let (subtree, orgs_max, members_max): (Option<i64>, Option<i64>, Option<i64>) =
        diesel::select((
            t::table
                .filter(t::ancestor_id.eq(root))
                .filter(t::valid_from.le(day))
                .filter(t::valid_to.is_null().or(t::valid_to.gt(day)))
                .count()
                .single_value(),
            orgs::table.select(max(orgs::id)).single_value(),
            members::table.select(max(members::id)).single_value(),
        ))
        .get_result(conn)?;
    Ok((
        subtree.unwrap_or(0),
        orgs_max.unwrap_or(0),
        members_max.unwrap_or(0),
    ))
}

/// Members in Vietnamese name order (given name, then full name), keyset-paged on
/// `(sort_key, id)`: page 1,000 costs what page 1 costs.
pub fn list(conn: &mut DbConn, vis: Visibility, filter: ListFilter) -> Result<Page<Member>> {
    // Cheap per-row tests (name words, dates) come first in the WHERE clause and the scope's
    // per-row probe last, so that SQLite probes only the rows that pass them.
    let mut query = members::table.into_boxed();
    let patterns = filter
        .q
        .as_deref()
        .map(text::search_patterns)
        .unwrap_or_default();
    let words = patterns.len();
    for pattern in patterns {
        query = query.filter(members::search_name.like(pattern));
    }
    let day = filter.on.unwrap_or_else(crate::time::today);
    let under = match &filter.under {
        Some(code) => Some(find_org(conn, vis, code)?.id),
        None => None,
    };
    // The narrowest subtree that restricts the list decides the plan (see `choose`).
    let narrowest = under.or(match vis {
        Visibility::All => None,
        Visibility::Subtree(scope) => Some(scope),
    });
    let plan = match narrowest {
        Some(root) => {
            let (subtree, all_orgs, all_members) =
                sizes(conn, root, filter.on.unwrap_or_else(far_future))?;
            choose(
                filter.limit + 1,
                subtree,
                all_orgs,
                all_members,
                kept_share(&filter, words),
            )
        }
        None => Plan::Walk,
    };
    let small = plan == Plan::Subtree;
    // Whether the query already keeps only members currently in the caller's scope: the
    // subtree plan without a date starts from the current subtree of the scope, or of a
    // visible organisation (itself in the scope, and so is its current subtree).
    let mut scoped = false;
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
            scoped = true;
        }
        (None, Some(root)) => query = query.filter(currently_under!(root)),
        (None, None) => {
            if let (true, Some(scope)) = (small, narrowest) {
                // A small share: start from the scope's organisations' members.
                query = query.filter(members::organization_id.eq_any(descendants!(
                    scope,
                    0,
                    i32::MAX,
                    far_future()
                )));
                scoped = true;
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
        // `sort_key >= key` is implied by the OR below, but neither engine derives an index
        // range from that OR when its two keys are separate parameters: without it, every
        // page walked the index from its first entry (at national scale, 175 ms half-way).
        query = query.filter(members::sort_key.ge(key.clone())).filter(
            members::sort_key
                .gt(key.clone())
                .or(members::sort_key.eq(key).and(members::id.gt(id))),
        );
    }
    if !scoped {
        query = restrict(query, vis);
    }
    // A SQL literal keeps diesel from caching the statement, so it goes unnamed and PostgreSQL
    // plans it for its values every time. A cached statement gets a generic plan after five
    // executions, one that knows neither the subtree nor the name words: it started every
    // name search of a province from the province's 2,046 organisations (11–22 ms, where the
    // walk the values call for takes 0.5–1 ms). SQLite prepares this statement again on every
    // execution anyway (its LIMIT is a bound parameter).
    query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>("TRUE"));
    // The page's ids first: both plans answer them from their index alone (unless a filter
    // reads the table), then the page's rows by primary key. PostgreSQL would otherwise read
    // the table row of every member walked or started from before testing it.
    let ids_query = query
        .order((members::sort_key.asc(), members::id.asc()))
        .limit(filter.limit as i64 + 1)
        .select(members::id);
    // No parallel workers for one page: PostgreSQL costs the walk of a national index as
    // worth three processes, and starting them took 30–45 ms of a province's page 1 in a
    // database of 5.3 million members, where one process walks it in 8–12 ms.
    let ids: Vec<i64> = crate::db::transaction_with_settings(
        conn,
        &[("max_parallel_workers_per_gather", "0")],
        |conn| ids_query.load(conn),
    )?;
    let mut rows: Vec<MemberRow> = members::table
        .filter(members::id.eq_any(&ids))
        .select(MemberRow::as_select())
        .load(conn)?;
    let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    rows.sort_by_key(|r| position.get(&r.id).copied());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_follows_the_subtree_share() {
        // Hậu Giang alone: the province and its districts are walked, a branch is not.
        assert_eq!(choose(51, 2046, 2046, 35_242, 1.0), Plan::Walk);
        assert_eq!(choose(51, 150, 2046, 35_242, 1.0), Plan::Walk);
        assert_eq!(choose(51, 5, 2046, 35_242, 1.0), Plan::Subtree);
        // A two-word name search: the province is walked, a district starts from its members.
        assert_eq!(choose(51, 2046, 2046, 35_242, 0.01), Plan::Walk);
        assert_eq!(choose(51, 150, 2046, 35_242, 0.01), Plan::Subtree);
        // Hậu Giang in the national database (0.6%): its plain pages are walked (about 8,000
        // entries against its 35,000 members), its name searches start from its members.
        assert_eq!(choose(51, 2046, 317_136, 5_506_021, 1.0), Plan::Walk);
        assert_eq!(choose(51, 2046, 317_136, 5_506_021, 0.1), Plan::Subtree);
        assert_eq!(choose(51, 2046, 317_136, 5_506_021, 0.01), Plan::Subtree);
        // tests/api/member_search.rs: subtree A, 5 of 16 organisations, 30 members.
        assert_eq!(choose(2, 5, 16, 30, 1.0), Plan::Walk);
        assert_eq!(choose(3, 5, 16, 30, 1.0), Plan::Walk);
        assert_eq!(choose(51, 5, 16, 30, 1.0), Plan::Subtree);
        assert_eq!(choose(2, 5, 16, 30, WORD_SHARE), Plan::Subtree);
        assert_eq!(choose(51, 16, 16, 30, WORD_SHARE), Plan::Walk);
        // An empty database.
        assert_eq!(choose(51, 1, 1, 0, 1.0), Plan::Walk);
    }
}
