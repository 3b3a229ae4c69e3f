//! Party organisations and their tree over time.
//!
//! The tree is the closure table `organization_tree` with validity periods (see the migration):
//! the subtree of `A` on day `D` is one indexed lookup, `ancestor_id = A` and a period that
//! holds on `D`; the caller's scope is the current subtree (open periods). Moves close the
//! periods that cross the moving subtree's boundary and open new ones, so statistics for a past
//! date still see the tree as it stood then.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date};
use serde::Serialize;

use crate::auth::Visibility;
use crate::db::schema::{organization_tree as tree, organizations as orgs};
use crate::db::{Day, DbConn, MultiBackend, Stamp};
use crate::domain::organization::{self as rules, Lifetime, OrgKind};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::{check_version, decode_cursor, far_future, Page};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orgs)]
pub struct OrgRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub established_on: NaiveDate,
    pub dissolved_on: Option<NaiveDate>,
    pub has_branch_committee: bool,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl OrgRow {
    pub fn kind(&self) -> OrgKind {
        OrgKind::parse(&self.kind).expect("kind is CHECK-constrained")
    }

    pub fn lifetime(&self) -> Lifetime {
        Lifetime {
            established_on: self.established_on,
            dissolved_on: self.dissolved_on,
        }
    }
}

/// An organisation as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    /// The current parent (the open period), `None` for a root.
    pub parent_code: Option<String>,
    pub established_on: NaiveDate,
    pub dissolved_on: Option<NaiveDate>,
    pub has_branch_committee: bool,
    pub version: i64,
    #[serde(serialize_with = "crate::time::ser")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::ser")]
    pub updated_at: NaiveDateTime,
    /// The parent history, oldest first; only on single-record answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parents: Option<Vec<ParentPeriod>>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ParentPeriod {
    pub parent_code: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl Organization {
    fn from_row(row: OrgRow, parent_code: Option<String>) -> Organization {
        let kind = row.kind();
        Organization {
            code: row.code,
            name: row.name,
            kind,
            parent_code,
            established_on: row.established_on,
            dissolved_on: row.dissolved_on,
            has_branch_committee: row.has_branch_committee,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            parents: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeNode {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub established_on: NaiveDate,
    pub dissolved_on: Option<NaiveDate>,
    pub has_branch_committee: bool,
    pub children: Vec<TreeNode>,
}

/// Input of a new organisation, already normalised and validated for form by the API layer.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub parent_code: Option<String>,
    pub established_on: NaiveDate,
    pub dissolved_on: Option<NaiveDate>,
    pub has_branch_committee: bool,
}

#[derive(Debug, Clone, Default)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub has_branch_committee: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub kind: Option<OrgKind>,
    pub parent: Option<String>,
    pub under: Option<String>,
    pub on: Option<NaiveDate>,
    pub q: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

type Boxed<'a> = orgs::BoxedQuery<'a, MultiBackend>;

fn restrict(query: Boxed<'static>, vis: Visibility) -> Boxed<'static> {
    match vis {
        Visibility::All => query,
        Visibility::Subtree(scope) => {
            query.filter(orgs::id.eq_any(descendants!(scope, 0, i32::MAX, far_future())))
        }
    }
}

/// The organisation `code` if the caller may see it; 404 otherwise (missing or out of scope).
pub fn find_visible(conn: &mut DbConn, vis: Visibility, code: &str) -> Result<OrgRow> {
    restrict(orgs::table.into_boxed(), vis)
        .filter(orgs::code.eq(code.to_string()))
        .select(OrgRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("Organisation {code} was not found.")))
}

/// The organisations among `codes` that the caller may see (the others are left out).
pub fn find_visible_many(
    conn: &mut DbConn,
    vis: Visibility,
    codes: &[String],
) -> Result<Vec<OrgRow>> {
    Ok(restrict(orgs::table.into_boxed(), vis)
        .filter(orgs::code.eq_any(codes.to_vec()))
        .select(OrgRow::as_select())
        .load(conn)?)
}

/// The organisations one writer has looked up, found or not: each code is read once, not once
/// per batch (a members import names the same branches in batch after batch).
///
/// Valid only while the writer writes no organisation: a members import holds one for its
/// whole transaction; a single admission makes its own. (An organisation another writer
/// commits during the file is not seen by the file's later rows, as it would not be under
/// a snapshot of the file's start.)
#[derive(Default)]
pub struct Known(HashMap<String, Option<OrgRow>>);

impl Known {
    /// Reads those of `codes` not looked up before (the caller may see the others or not,
    /// as [`find_visible_many`] decides).
    pub fn look_up(&mut self, conn: &mut DbConn, vis: Visibility, codes: &[String]) -> Result<()> {
        let mut missing: Vec<String> = codes
            .iter()
            .filter(|code| !self.0.contains_key(*code))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort();
        missing.dedup();
        let found = find_visible_many(conn, vis, &missing)?;
        for code in missing {
            self.0.insert(code, None);
        }
        for org in found {
            self.0.insert(org.code.clone(), Some(org));
        }
        Ok(())
    }

    /// The organisation `code`, if it was looked up and the caller may see it.
    pub fn get(&self, code: &str) -> Option<&OrgRow> {
        self.0.get(code).and_then(Option::as_ref)
    }
}

/// Like [`find_visible`], but a missing reference in a request body is a 422 on `field`.
fn find_reference(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    field: &'static str,
) -> Result<OrgRow> {
    find_visible(conn, vis, code).map_err(crate::error::missing_reference(
        field,
        "organization.parent_not_found",
        format!("There is no organisation with code {code}."),
    ))
}

fn current_parent_codes(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String)> = tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
        .filter(tree::descendant_id.eq_any(ids.to_vec()))
        .filter(tree::depth.eq(1))
        .filter(tree::valid_to.is_null())
        .select((tree::descendant_id, orgs::code))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

fn parent_history(conn: &mut DbConn, id: i64) -> Result<Vec<ParentPeriod>> {
    let rows: Vec<(String, NaiveDate, Option<NaiveDate>)> = tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
        .filter(tree::descendant_id.eq(id))
        .filter(tree::depth.eq(1))
        .order(tree::valid_from.asc())
        .select((orgs::code, tree::valid_from, tree::valid_to))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(parent_code, valid_from, valid_to)| ParentPeriod {
            parent_code,
            valid_from,
            valid_to,
        })
        .collect())
}

fn full(conn: &mut DbConn, row: OrgRow) -> Result<Organization> {
    let history = parent_history(conn, row.id)?;
    let parent = history
        .iter()
        .find(|p| p.valid_to.is_none())
        .map(|p| p.parent_code.clone());
    let mut org = Organization::from_row(row, parent);
    org.parents = Some(history);
    Ok(org)
}

/// How many organisations are recorded (none: an empty database).
pub fn count(conn: &mut DbConn) -> Result<i64> {
    Ok(orgs::table.count().get_result(conn)?)
}

pub fn get(conn: &mut DbConn, vis: Visibility, code: &str) -> Result<Organization> {
    let row = find_visible(conn, vis, code)?;
    full(conn, row)
}

pub fn list(conn: &mut DbConn, vis: Visibility, filter: ListFilter) -> Result<Page<Organization>> {
    let mut query = restrict(orgs::table.into_boxed(), vis);
    if let Some(kind) = filter.kind {
        query = query.filter(orgs::kind.eq(kind.as_str()));
    }
    if let Some(code) = &filter.parent {
        let parent = find_visible(conn, vis, code)?;
        let day = filter.on.unwrap_or_else(far_future);
        query = query.filter(orgs::id.eq_any(descendants!(parent.id, 1, 1, day)));
    }
    if let Some(code) = &filter.under {
        let root = find_visible(conn, vis, code)?;
        let day = filter.on.unwrap_or_else(far_future);
        query = query.filter(orgs::id.eq_any(descendants!(root.id, 0, i32::MAX, day)));
    }
    if let Some(day) = filter.on {
        query = query
            .filter(orgs::established_on.le(day))
            .filter(orgs::dissolved_on.is_null().or(orgs::dissolved_on.gt(day)));
    }
    for pattern in filter
        .q
        .as_deref()
        .map(text::search_patterns)
        .unwrap_or_default()
    {
        query = query.filter(orgs::search_name.like(pattern));
    }
    if let Some(cursor) = &filter.cursor {
        query = query.filter(orgs::code.gt(decode_cursor(cursor)?));
    }
    let rows: Vec<OrgRow> = query
        .order(orgs::code.asc())
        .limit(filter.limit as i64 + 1)
        .select(OrgRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, filter.limit, |r| r.code.clone());
    let ids: Vec<i64> = page.items.iter().map(|r| r.id).collect();
    let mut parents = current_parent_codes(conn, &ids)?;
    Ok(Page {
        next_cursor: page.next_cursor,
        items: page
            .items
            .into_iter()
            .map(|row| {
                let parent = parents.remove(&row.id);
                Organization::from_row(row, parent)
            })
            .collect(),
    })
}

/// Creates an organisation and its tree periods. Only admins create roots (the API checks the
/// role); a clerk's parent must be in scope, which `find_reference` enforces.
pub fn create(conn: &mut DbConn, vis: Visibility, new: NewOrganization) -> Result<Organization> {
    crate::db::write_transaction(conn, |conn| {
        let id = create_many(conn, vis, vec![new])?.remove(0)?;
        let row = orgs::table
            .find(id)
            .select(OrgRow::as_select())
            .first(conn)?;
        full(conn, row)
    })
}

/// Organisations per multi-row INSERT (10 columns): far below either engine's parameter limit.
const INSERT_CHUNK: usize = 1000;

/// What an organisation's checks need of its parent: recorded, or created earlier in the batch.
struct ParentRef {
    kind: OrgKind,
    life: Lifetime,
    /// The parent's closure rows (`ancestor_id`, depth, period), its own row of depth 0
    /// included; for a parent of the same batch, with its index in the batch for the id.
    ancestry: Vec<Ancestry>,
}

#[derive(Clone, Copy)]
struct Ancestry {
    ancestor: AncestorId,
    depth: i32,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
}

/// An ancestor recorded before the batch, or one created by it (index in the batch).
#[derive(Clone, Copy)]
enum AncestorId {
    Recorded(i64),
    New(usize),
}

#[derive(Insertable)]
#[diesel(table_name = orgs, treat_none_as_default_value = false)]
struct OrgInsert<'a> {
    code: &'a str,
    name: &'a str,
    search_name: String,
    kind: &'static str,
    established_on: Day,
    dissolved_on: Option<Day>,
    has_branch_committee: bool,
    version: i64,
    created_at: Stamp,
    updated_at: Stamp,
}

#[derive(Insertable)]
#[diesel(table_name = tree, treat_none_as_default_value = false)]
struct TreeInsert {
    ancestor_id: i64,
    descendant_id: i64,
    depth: i32,
    valid_from: Day,
    valid_to: Option<Day>,
}

/// Creates `news` in order: the checks of each are those of a single creation, with the codes
/// and the recorded parents looked up once for the batch (a parent may be an earlier
/// organisation of the same batch), then multi-row inserts (`COPY` on PostgreSQL) of the
/// organisations and their closure rows. One result per organisation: its id, or why it was
/// refused (the others are written all the same; callers that need all or nothing roll back).
/// The single-record API creates a batch of one, so there is one way in.
pub fn create_many(
    conn: &mut DbConn,
    vis: Visibility,
    news: Vec<NewOrganization>,
) -> Result<Vec<Result<i64>>> {
    crate::db::write_transaction(conn, |conn| {
        let codes: Vec<&String> = news.iter().map(|n| &n.code).collect();
        let mut taken: std::collections::HashSet<String> = orgs::table
            .filter(orgs::code.eq_any(&codes))
            .select(orgs::code)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let mut parent_codes: Vec<String> =
            news.iter().filter_map(|n| n.parent_code.clone()).collect();
        parent_codes.sort();
        parent_codes.dedup();
        let recorded = find_visible_many(conn, vis, &parent_codes)?;
        let recorded_ids: Vec<i64> = recorded.iter().map(|o| o.id).collect();
        let mut recorded_ancestry: HashMap<i64, Vec<Ancestry>> = HashMap::new();
        if !recorded_ids.is_empty() {
            let rows: Vec<(i64, i64, i32, NaiveDate, Option<NaiveDate>)> = tree::table
                .filter(tree::descendant_id.eq_any(&recorded_ids))
                .select((
                    tree::descendant_id,
                    tree::ancestor_id,
                    tree::depth,
                    tree::valid_from,
                    tree::valid_to,
                ))
                .load(conn)?;
            for (descendant, ancestor, depth, valid_from, valid_to) in rows {
                recorded_ancestry
                    .entry(descendant)
                    .or_default()
                    .push(Ancestry {
                        ancestor: AncestorId::Recorded(ancestor),
                        depth,
                        valid_from,
                        valid_to,
                    });
            }
        }
        let mut parents: HashMap<String, ParentRef> = recorded
            .into_iter()
            .map(|o| {
                let ancestry = recorded_ancestry.remove(&o.id).unwrap_or_default();
                let parent = ParentRef {
                    kind: o.kind(),
                    life: o.lifetime(),
                    ancestry,
                };
                (o.code, parent)
            })
            .collect();

        let mut results: Vec<Result<i64>> = Vec::with_capacity(news.len());
        // The batch's accepted organisations: index in `news`, closure rows.
        let mut accepted: Vec<(usize, Vec<Ancestry>)> = Vec::new();
        for (i, new) in news.iter().enumerate() {
            match check_new(new, &taken, &parents, i) {
                Ok(ancestry) => {
                    taken.insert(new.code.clone());
                    // A later organisation of the batch may sit under this one.
                    parents.insert(
                        new.code.clone(),
                        ParentRef {
                            kind: new.kind,
                            life: Lifetime {
                                established_on: new.established_on,
                                dissolved_on: new.dissolved_on,
                            },
                            ancestry: ancestry.clone(),
                        },
                    );
                    accepted.push((i, ancestry));
                    results.push(Ok(0));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if accepted.is_empty() {
            return Ok(results);
        }

        let now = crate::time::now();
        let mut ids: HashMap<usize, i64> = HashMap::new();
        for chunk in accepted.chunks(INSERT_CHUNK) {
            let rows: Vec<OrgInsert> = chunk
                .iter()
                .map(|(i, _)| {
                    let n = &news[*i];
                    OrgInsert {
                        code: &n.code,
                        name: &n.name,
                        search_name: text::search_key(&n.name),
                        kind: n.kind.as_str(),
                        established_on: Day(n.established_on),
                        dissolved_on: n.dissolved_on.map(Day),
                        has_branch_committee: n.has_branch_committee,
                        version: 1,
                        created_at: Stamp(now),
                        updated_at: Stamp(now),
                    }
                })
                .collect();
            crate::bulk_insert!(conn, orgs::table, &rows)?;
            let codes: Vec<&str> = rows.iter().map(|r| r.code).collect();
            let by_code: HashMap<String, i64> = orgs::table
                .filter(orgs::code.eq_any(&codes))
                .select((orgs::code, orgs::id))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .collect();
            for (i, _) in chunk {
                ids.insert(*i, by_code[&news[*i].code]);
            }
        }
        let closure: Vec<TreeInsert> = accepted
            .iter()
            .flat_map(|(i, ancestry)| {
                let ids = &ids;
                ancestry.iter().map(move |a| TreeInsert {
                    ancestor_id: match a.ancestor {
                        AncestorId::Recorded(id) => id,
                        AncestorId::New(j) => ids[&j],
                    },
                    descendant_id: ids[i],
                    depth: a.depth,
                    valid_from: Day(a.valid_from),
                    valid_to: a.valid_to.map(Day),
                })
            })
            .collect();
        for part in closure.chunks(INSERT_CHUNK) {
            crate::bulk_insert!(conn, tree::table, part)?;
        }
        for (i, result) in results.iter_mut().enumerate() {
            if let Some(id) = ids.get(&i) {
                *result = Ok(*id);
            }
        }
        Ok(results)
    })
}

/// Every check of one new organisation against what the batch looked up; its closure rows.
fn check_new(
    new: &NewOrganization,
    taken: &std::collections::HashSet<String>,
    parents: &HashMap<String, ParentRef>,
    index: usize,
) -> Result<Vec<Ancestry>> {
    // Taken by a recorded organisation, or by an earlier one of the same batch.
    if taken.contains(&new.code) {
        return Err(Error::invalid(
            "code",
            "organization.code_taken",
            format!("An organisation with code {} already exists.", new.code),
        ));
    }
    rules::check_lifetime(Lifetime {
        established_on: new.established_on,
        dissolved_on: new.dissolved_on,
    })?;
    let parent = match &new.parent_code {
        Some(code) => Some(parents.get(code).ok_or_else(|| {
            Error::invalid(
                "parent_code",
                "organization.parent_not_found",
                format!("There is no organisation with code {code}."),
            )
        })?),
        None => None,
    };
    rules::check_parent_kind(new.kind, parent.map(|p| p.kind))?;
    let mut ancestry = vec![Ancestry {
        ancestor: AncestorId::New(index),
        depth: 0,
        valid_from: new.established_on,
        valid_to: None,
    }];
    if let (Some(parent), Some(code)) = (parent, &new.parent_code) {
        rules::check_parent_exists(code, parent.life, new.established_on, new.dissolved_on)?;
        // The child inherits every period of its parent's ancestry from its own establishment
        // on, clipped to start no earlier than that day.
        let from = new.established_on;
        ancestry.extend(
            parent
                .ancestry
                .iter()
                .filter(|a| a.valid_to.is_none_or(|to| to > from))
                .map(|a| Ancestry {
                    ancestor: a.ancestor,
                    depth: a.depth + 1,
                    valid_from: a.valid_from.max(from),
                    valid_to: a.valid_to,
                }),
        );
    }
    Ok(ancestry)
}

pub fn update(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    expected_version: i64,
    patch: OrganizationPatch,
) -> Result<Organization> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, code)?;
        crate::db::lock_row(conn, "organizations", row.id)?;
        // Read again under the lock (a concurrent update may have committed in between).
        let row = orgs::table
            .find(row.id)
            .select(OrgRow::as_select())
            .first(conn)?;
        check_version(expected_version, row.version)?;
        let name = patch.name.unwrap_or(row.name);
        let has_branch_committee = patch
            .has_branch_committee
            .unwrap_or(row.has_branch_committee);
        diesel::update(orgs::table.find(row.id))
            .set((
                orgs::search_name.eq(text::search_key(&name)),
                orgs::name.eq(name),
                orgs::has_branch_committee.eq(has_branch_committee),
                orgs::version.eq(row.version + 1),
                orgs::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        let row = orgs::table
            .find(row.id)
            .select(OrgRow::as_select())
            .first(conn)?;
        full(conn, row)
    })
}

/// Giải thể: ends the organisation on `on`. It keeps its last place in the tree, so that its
/// history (and discipline of a dissolved organisation) stays within the same scopes.
pub fn dissolve(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    on: NaiveDate,
) -> Result<Organization> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, code)?;
        crate::db::lock_row(conn, "organizations", row.id)?;
        let children: i64 = tree::table
            .inner_join(orgs::table.on(orgs::id.eq(tree::descendant_id)))
            .filter(tree::ancestor_id.eq(row.id))
            .filter(tree::depth.eq(1))
            .filter(tree::valid_to.is_null().or(tree::valid_to.gt(on)))
            .filter(orgs::dissolved_on.is_null().or(orgs::dissolved_on.gt(on)))
            .count()
            .get_result(conn)?;
        rules::check_dissolution(row.lifetime(), on, children as usize)?;
        diesel::update(orgs::table.find(row.id))
            .set((
                orgs::dissolved_on.eq(Some(on)),
                orgs::version.eq(row.version + 1),
                orgs::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        let row = orgs::table
            .find(row.id)
            .select(OrgRow::as_select())
            .first(conn)?;
        full(conn, row)
    })
}

/// Moves an organisation with its whole subtree under `parent_code` from `on`.
pub fn move_to(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    parent_code: &str,
    on: NaiveDate,
) -> Result<Organization> {
    crate::db::write_transaction(conn, |conn| {
        let row = find_visible(conn, vis, code)?;
        crate::db::lock_row(conn, "organizations", row.id)?;
        let parent = find_reference(conn, vis, parent_code, "parent_code")?;
        // The cycle first: it is the more basic mistake, and kinds alone would hide it.
        let subtree: Vec<i64> = descendants!(row.id, 0, i32::MAX, far_future()).load(conn)?;
        rules::check_no_cycle(subtree.contains(&parent.id))?;
        rules::check_parent_kind(row.kind(), Some(parent.kind()))?;
        let current_parent: Option<i64> = tree::table
            .select(tree::ancestor_id)
            .filter(tree::descendant_id.eq(row.id))
            .filter(tree::depth.eq(1))
            .filter(tree::valid_to.is_null())
            .first(conn)
            .optional()?;
        rules::check_parent_changes(current_parent, parent.id)?;

        // The last change that the move must come after: any open period of the moving subtree
        // or of the new parent's ancestry.
        let mut touched = subtree.clone();
        touched.push(parent.id);
        let last_change: Option<NaiveDate> = tree::table
            .filter(tree::descendant_id.eq_any(touched))
            .filter(tree::valid_to.is_null())
            .select(diesel::dsl::max(tree::valid_from))
            .first(conn)?;
        rules::check_move_date(
            on,
            last_change.unwrap_or(row.established_on),
            row.lifetime(),
        )?;
        rules::check_parent_exists(&parent.code, parent.lifetime(), on, row.dissolved_on)?;

        // Close the periods linking the subtree to ancestors outside it…
        diesel::update(
            tree::table
                .filter(tree::valid_to.is_null())
                .filter(tree::descendant_id.eq_any(subtree.clone()))
                .filter(tree::ancestor_id.ne_all(subtree.clone())),
        )
        .set(tree::valid_to.eq(Some(on)))
        .execute(conn)?;
        // …and open the new ones: every ancestor of the new parent (itself included) over
        // every member of the subtree.
        crate::db::sql_query(
                conn,
            "INSERT INTO organization_tree (ancestor_id, descendant_id, depth, valid_from, valid_to) \
             SELECT a.ancestor_id, s.descendant_id, a.depth + 1 + s.depth, $1, NULL \
             FROM organization_tree a, organization_tree s \
             WHERE a.descendant_id = $2 AND a.valid_to IS NULL \
               AND s.ancestor_id = $3 AND s.valid_to IS NULL",
        )
        .bind::<Date, _>(on)
        .bind::<BigInt, _>(parent.id)
        .bind::<BigInt, _>(row.id)
        .execute(conn)?;

        diesel::update(orgs::table.find(row.id))
            .set((
                orgs::version.eq(row.version + 1),
                orgs::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        let row = orgs::table
            .find(row.id)
            .select(OrgRow::as_select())
            .first(conn)?;
        full(conn, row)
    })
}

/// The organisation and its subordinates down to `depth` levels, as the tree stood on `on`,
/// with only the organisations existing that day.
pub fn tree(
    conn: &mut DbConn,
    vis: Visibility,
    code: &str,
    on: NaiveDate,
    depth: i32,
) -> Result<TreeNode> {
    let root = find_visible(conn, vis, code)?;
    let exists = |day: NaiveDate| {
        orgs::established_on
            .le(day)
            .and(orgs::dissolved_on.is_null().or(orgs::dissolved_on.gt(day)))
    };
    let mut rows: Vec<OrgRow> = tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::descendant_id)))
        .filter(tree::ancestor_id.eq(root.id))
        .filter(tree::depth.le(depth))
        .filter(tree::valid_from.le(on))
        .filter(tree::valid_to.is_null().or(tree::valid_to.gt(on)))
        .filter(exists(on))
        .select(OrgRow::as_select())
        .load(conn)?;
    // A past tree may hold organisations that have since moved out of the caller's scope:
    // they are left out, as everywhere else.
    if let Visibility::Subtree(scope) = vis {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let visible: std::collections::HashSet<i64> = orgs::table
            .select(orgs::id)
            .filter(orgs::id.eq_any(ids))
            .filter(orgs::id.eq_any(descendants!(scope, 0, i32::MAX, far_future())))
            .load::<i64>(conn)?
            .into_iter()
            .collect();
        rows.retain(|r| visible.contains(&r.id));
    }
    if !rows.iter().any(|r| r.id == root.id) {
        return Err(Error::not_found(format!(
            "Organisation {code} did not exist on {on}."
        )));
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let parent_of: Vec<(i64, i64)> = tree::table
        .select((tree::descendant_id, tree::ancestor_id))
        .filter(tree::descendant_id.eq_any(ids))
        .filter(tree::depth.eq(1))
        .filter(tree::valid_from.le(on))
        .filter(tree::valid_to.is_null().or(tree::valid_to.gt(on)))
        .load(conn)?;
    let parent_of: HashMap<i64, i64> = parent_of.into_iter().collect();

    let mut children: HashMap<i64, Vec<OrgRow>> = HashMap::new();
    for row in rows.iter().filter(|r| r.id != root.id) {
        if let Some(parent) = parent_of.get(&row.id) {
            children.entry(*parent).or_default().push(row.clone());
        }
    }
    fn build(row: OrgRow, children: &mut HashMap<i64, Vec<OrgRow>>) -> TreeNode {
        let mut kids = children.remove(&row.id).unwrap_or_default();
        kids.sort_by(|a, b| a.code.cmp(&b.code));
        let kind = row.kind();
        TreeNode {
            code: row.code,
            name: row.name,
            kind,
            established_on: row.established_on,
            dissolved_on: row.dissolved_on,
            has_branch_committee: row.has_branch_committee,
            children: kids.into_iter().map(|k| build(k, children)).collect(),
        }
    }
    let root_row = rows
        .into_iter()
        .find(|r| r.id == root.id)
        .expect("checked above");
    Ok(build(root_row, &mut children))
}
