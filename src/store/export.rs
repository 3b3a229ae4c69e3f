//! The records of one import kind, in the import's columns and in an order the import can
//! replay (parents before children, each member's history in date order), read in batches so
//! that a national export never holds the whole table in memory.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::auth::Visibility;
use crate::db::schema::{
    admission_targets as targets, disciplinary_actions as actions, insignia_awards as awards,
    member_exemptions as exemptions, member_ratings as mr, members, memberships,
    organization_ratings as orr, organization_tree as tree, organizations as orgs,
    party_age_gaps as gaps, positions,
};
use crate::db::DbConn;
use crate::domain::member::mask;
use crate::error::Result;
use crate::import::Kind;
use crate::store::far_future;

/// One exported record: `(column, value)`, absent values left out.
pub type ExportRow = Vec<(&'static str, String)>;

/// Members are read this many at a time, with everything of theirs.
const BATCH: i64 = 1000;

/// What to export: everything the caller sees, or the subtree of one organisation in it.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// The root organisation; `None` for everything (administrators only).
    pub root: Option<i64>,
    /// Personal identifiers masked, birth dates left out (auditors).
    pub masked: bool,
}

impl Scope {
    pub fn of(vis: Visibility, under: Option<i64>, masked: bool) -> Scope {
        let root = under.or(match vis {
            Visibility::All => None,
            Visibility::Subtree(id) => Some(id),
        });
        Scope { root, masked }
    }
}

/// Adds `column` to `row` when it has a value.
pub fn put(row: &mut ExportRow, column: &'static str, value: Option<impl ToString>) {
    if let Some(value) = value {
        row.push((column, value.to_string()));
    }
}

/// Hands every row of `kind` in `scope` to `each`, which answers whether to go on.
pub fn rows(
    conn: &mut DbConn,
    kind: Kind,
    scope: Scope,
    each: &mut dyn FnMut(ExportRow) -> bool,
) -> Result<()> {
    match kind {
        Kind::Organizations => {
            for row in organization_rows(conn, scope)? {
                if !each(row) {
                    break;
                }
            }
            Ok(())
        }
        Kind::OrganizationMoves => {
            for row in move_rows(conn, scope)? {
                if !each(row) {
                    break;
                }
            }
            Ok(())
        }
        Kind::OrganizationRatings | Kind::AdmissionTargets => {
            let orgs = organizations_in(conn, scope)?;
            for chunk in orgs.chunks(BATCH as usize) {
                for row in org_child_rows(conn, kind, chunk)? {
                    if !each(row) {
                        return Ok(());
                    }
                }
            }
            Ok(())
        }
        Kind::DisciplinaryActions => {
            if !member_batches(conn, kind, scope, each)? {
                return Ok(());
            }
            let orgs = organizations_in(conn, scope)?;
            for chunk in orgs.chunks(BATCH as usize) {
                for row in org_child_rows(conn, kind, chunk)? {
                    if !each(row) {
                        return Ok(());
                    }
                }
            }
            Ok(())
        }
        _ => member_batches(conn, kind, scope, each).map(|_| ()),
    }
}

/// The organisations in scope: (id, code).
fn organizations_in(conn: &mut DbConn, scope: Scope) -> Result<Vec<(i64, String)>> {
    let mut query = orgs::table.select((orgs::id, orgs::code)).into_boxed();
    if let Some(root) = scope.root {
        query = query.filter(orgs::id.eq_any(descendants!(root, 0, i32::MAX, far_future())));
    }
    Ok(query.order(orgs::code).load(conn)?)
}

type OrgTuple = (
    i64,
    String,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    bool,
);

/// The organisations in scope, as `organization_rows` reads them.
fn organization_list(conn: &mut DbConn, scope: Scope) -> Result<Vec<OrgTuple>> {
    let mut query = orgs::table
        .select((
            orgs::id,
            orgs::code,
            orgs::name,
            orgs::kind,
            orgs::established_on,
            orgs::dissolved_on,
            orgs::has_branch_committee,
        ))
        .into_boxed();
    if let Some(root) = scope.root {
        query = query.filter(orgs::id.eq_any(descendants!(root, 0, i32::MAX, far_future())));
    }
    Ok(query.order(orgs::id).load(conn)?)
}

/// Every parent an organisation has had: (organisation, parent, parent's code, from), each
/// organisation's in date order.
type ParentSpan = (i64, i64, String, NaiveDate);

fn parent_spans(conn: &mut DbConn) -> Result<Vec<ParentSpan>> {
    Ok(tree::table
        .inner_join(orgs::table.on(orgs::id.eq(tree::ancestor_id)))
        .filter(tree::depth.eq(1))
        .order((tree::descendant_id, tree::valid_from))
        .select((
            tree::descendant_id,
            tree::ancestor_id,
            orgs::code,
            tree::valid_from,
        ))
        .load(conn)?)
}

/// Each exported organisation's parent as the organisations file writes it: the one it was
/// established under, whose later moves are `organization-moves` rows; when that parent is not
/// exported (a subtree's export), the current one, and no moves. So a subtree export's root
/// names its current parent: the file imports into a database that holds that parent (left
/// out, the root's row was refused there as a root that is not one). The flag says whether
/// the parent is the first one.
fn file_parents(
    spans: &[ParentSpan],
    exported: &std::collections::HashSet<i64>,
) -> HashMap<i64, (i64, String, bool)> {
    let mut first: HashMap<i64, (i64, &String)> = HashMap::new();
    let mut current: HashMap<i64, (i64, &String)> = HashMap::new();
    for (org, parent, code, _) in spans {
        first.entry(*org).or_insert((*parent, code));
        current.insert(*org, (*parent, code));
    }
    exported
        .iter()
        .filter_map(|id| {
            let chosen = match first.get(id) {
                Some((p, c)) if exported.contains(p) => (*p, (*c).clone(), true),
                _ => {
                    let (p, c) = current.get(id)?;
                    (*p, (*c).clone(), false)
                }
            };
            Some((*id, chosen))
        })
        .collect()
}

/// Organisations, each after its parent (the parent of its row, see `file_parents`).
fn organization_rows(conn: &mut DbConn, scope: Scope) -> Result<Vec<ExportRow>> {
    let list = organization_list(conn, scope)?;
    let exported = list.iter().map(|o| o.0).collect();
    let parents = file_parents(&parent_spans(conn)?, &exported);
    let depth = |mut id: i64| {
        let mut d = 0;
        // Bounded: a parent is established before its child, so the chain ends, but a
        // record broken by hand must not hang the export.
        while let Some((parent, _, _)) = parents.get(&id) {
            d += 1;
            id = *parent;
            if d > exported.len() {
                break;
            }
        }
        d
    };
    let mut list: Vec<(usize, OrgTuple)> = list.into_iter().map(|o| (depth(o.0), o)).collect();
    list.sort_by(|a, b| (a.0, &a.1 .1).cmp(&(b.0, &b.1 .1)));
    Ok(list
        .into_iter()
        .map(
            |(_, (id, code, name, kind, established_on, dissolved_on, bc))| {
                let mut row = vec![("code", code), ("name", name), ("kind", kind)];
                put(
                    &mut row,
                    "parent_code",
                    parents.get(&id).map(|p| p.1.clone()),
                );
                put(&mut row, "established_on", Some(established_on));
                put(&mut row, "dissolved_on", dissolved_on);
                put(&mut row, "has_branch_committee", Some(bc));
                row
            },
        )
        .collect())
}

/// The moves of the exported organisations whose rows give their first parent, in date order,
/// each to a parent that is exported too.
fn move_rows(conn: &mut DbConn, scope: Scope) -> Result<Vec<ExportRow>> {
    let list = organization_list(conn, scope)?;
    let code: HashMap<i64, String> = list.iter().map(|o| (o.0, o.1.clone())).collect();
    let exported = code.keys().copied().collect();
    let spans = parent_spans(conn)?;
    let parents = file_parents(&spans, &exported);
    let mut moves: Vec<(NaiveDate, &String, &String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (org, parent, parent_code, from) in &spans {
        // Each organisation's first span is its establishment, not a move.
        if !seen.insert(*org) && parents.get(org).is_some_and(|p| p.2) && exported.contains(parent)
        {
            moves.push((*from, &code[org], parent_code));
        }
    }
    moves.sort();
    Ok(moves
        .into_iter()
        .map(|(on, org, parent)| {
            let mut row = vec![("code", org.clone()), ("parent_code", parent.clone())];
            put(&mut row, "on", Some(on));
            row
        })
        .collect())
}

/// Rows attached to organisations (ratings, targets, discipline of organisations).
fn org_child_rows(
    conn: &mut DbConn,
    kind: Kind,
    chunk: &[(i64, String)],
) -> Result<Vec<ExportRow>> {
    let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
    let code: HashMap<i64, &String> = chunk.iter().map(|(id, c)| (*id, c)).collect();
    let mut out = Vec::new();
    match kind {
        Kind::OrganizationRatings => {
            type T = (
                i64,
                i32,
                String,
                Option<i32>,
                Option<String>,
                Option<NaiveDate>,
                Option<String>,
            );
            let mut list: Vec<T> = orr::table
                .filter(orr::organization_id.eq_any(ids))
                .order((orr::organization_id, orr::year))
                .select((
                    orr::organization_id,
                    orr::year,
                    orr::level,
                    orr::score,
                    orr::reason,
                    orr::decided_on,
                    orr::override_reason,
                ))
                .load(conn)?;
            list.sort_by(|a, b| (code[&a.0], a.1).cmp(&(code[&b.0], b.1)));
            for (org, year, level, score, reason, decided_on, override_reason) in list {
                let mut row = vec![("organization_code", code[&org].clone())];
                put(&mut row, "year", Some(year));
                put(&mut row, "level", Some(level));
                put(&mut row, "score", score);
                put(&mut row, "reason", reason);
                put(&mut row, "decided_on", decided_on);
                put(&mut row, "override_reason", override_reason);
                out.push(row);
            }
        }
        Kind::AdmissionTargets => {
            let mut list: Vec<(i64, i32, i32)> = targets::table
                .filter(targets::organization_id.eq_any(ids))
                .order((targets::organization_id, targets::year))
                .select((targets::organization_id, targets::year, targets::target))
                .load(conn)?;
            list.sort_by(|a, b| (code[&a.0], a.1).cmp(&(code[&b.0], b.1)));
            for (org, year, target) in list {
                let mut row = vec![("organization_code", code[&org].clone())];
                put(&mut row, "year", Some(year));
                put(&mut row, "target", Some(target));
                out.push(row);
            }
        }
        Kind::DisciplinaryActions => {
            out = action_rows(conn, ids, false)?;
        }
        _ => unreachable!("not a kind attached to organisations"),
    }
    Ok(out)
}

type ActionTuple = (
    (
        String,
        String,
        String,
        String,
        String,
        NaiveDate,
        Option<NaiveDate>,
    ),
    (
        Option<String>,
        Option<String>,
        bool,
        Option<String>,
        Option<NaiveDate>,
        Option<NaiveDate>,
        Option<String>,
        Option<String>,
    ),
);

/// Decisions about the members (`by_member`) or organisations `ids`, in date order.
fn action_rows(conn: &mut DbConn, ids: Vec<i64>, by_member: bool) -> Result<Vec<ExportRow>> {
    let mut query = actions::table
        .inner_join(orgs::table.on(orgs::id.eq(actions::authority_id)))
        .into_boxed();
    query = if by_member {
        query
            .filter(actions::member_id.eq_any(ids))
            .filter(actions::subject_type.eq("member"))
    } else {
        query
            .filter(actions::organization_id.eq_any(ids))
            .filter(actions::subject_type.eq("organization"))
    };
    let list: Vec<ActionTuple> = query
        .order((actions::decided_on, actions::id))
        .select((
            (
                actions::subject_type,
                actions::subject_key,
                actions::form,
                actions::decision_number,
                orgs::code,
                actions::decided_on,
                actions::announced_on,
            ),
            (
                actions::violation,
                actions::regulation_article,
                actions::especially_serious,
                actions::appeal_outcome,
                actions::appeal_filed_on,
                actions::appeal_decided_on,
                actions::reduced_form,
                actions::override_reason,
            ),
        ))
        .load(conn)?;
    Ok(list
        .into_iter()
        .map(|(a, b)| {
            let (
                subject_type,
                subject_key,
                form,
                decision_number,
                authority,
                decided_on,
                announced_on,
            ) = a;
            let (
                violation,
                article,
                serious,
                outcome,
                filed_on,
                appeal_decided_on,
                reduced,
                override_reason,
            ) = b;
            let subject = subject_key
                .split_once(':')
                .map(|(_, s)| s.to_string())
                .unwrap_or(subject_key);
            let mut row = vec![
                ("subject_type", subject_type),
                ("subject", subject),
                ("form", form),
                ("decision_number", decision_number),
                ("authority_code", authority),
            ];
            put(&mut row, "decided_on", Some(decided_on));
            put(&mut row, "announced_on", announced_on);
            put(&mut row, "violation", violation);
            put(&mut row, "regulation_article", article);
            put(&mut row, "especially_serious", Some(serious));
            put(&mut row, "appeal_outcome", outcome);
            put(&mut row, "appeal_filed_on", filed_on);
            put(&mut row, "appeal_decided_on", appeal_decided_on);
            put(&mut row, "reduced_form", reduced);
            put(&mut row, "override_reason", override_reason);
            row
        })
        .collect())
}

/// Walks the members in scope a batch at a time and exports `kind` for each batch; false if
/// `each` asked to stop.
fn member_batches(
    conn: &mut DbConn,
    kind: Kind,
    scope: Scope,
    each: &mut dyn FnMut(ExportRow) -> bool,
) -> Result<bool> {
    let mut after = 0i64;
    loop {
        let mut query = members::table
            .filter(members::id.gt(after))
            .order(members::id)
            .limit(BATCH)
            .select(crate::store::members::MemberRow::as_select())
            .into_boxed();
        if let Some(root) = scope.root {
            query = query.filter(members::organization_id.eq_any(descendants!(
                root,
                0,
                i32::MAX,
                far_future()
            )));
        }
        let batch = query.load(conn)?;
        let Some(last) = batch.last() else {
            return Ok(true);
        };
        after = last.id;
        for row in member_rows(conn, kind, scope, &batch)? {
            if !each(row) {
                return Ok(false);
            }
        }
    }
}

fn member_rows(
    conn: &mut DbConn,
    kind: Kind,
    scope: Scope,
    batch: &[crate::store::members::MemberRow],
) -> Result<Vec<ExportRow>> {
    let ids: Vec<i64> = batch.iter().map(|m| m.id).collect();
    let pn: HashMap<i64, &String> = batch.iter().map(|m| (m.id, &m.profile_number)).collect();
    let mut out = Vec::new();
    match kind {
        Kind::Members => {
            let spans: Vec<(i64, String, NaiveDate)> = memberships::table
                .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
                .filter(memberships::member_id.eq_any(ids.clone()))
                .filter(memberships::kind.eq("official"))
                .order((memberships::member_id, memberships::valid_from.desc()))
                .select((memberships::member_id, orgs::code, memberships::valid_from))
                .load(conn)?;
            // Ordered latest first, so the last insert per member is the first membership.
            let first: HashMap<i64, (String, NaiveDate)> =
                spans.into_iter().map(|(m, c, f)| (m, (c, f))).collect();
            let exempt: Vec<(i64, NaiveDate, Option<NaiveDate>)> = exemptions::table
                .filter(exemptions::member_id.eq_any(ids))
                .order((exemptions::member_id, exemptions::starts_on))
                .select((
                    exemptions::member_id,
                    exemptions::starts_on,
                    exemptions::ends_on,
                ))
                .load(conn)?;
            let latest: HashMap<i64, (NaiveDate, Option<NaiveDate>)> =
                exempt.into_iter().map(|(m, s, e)| (m, (s, e))).collect();
            for m in batch {
                let mut row = vec![("profile_number", m.profile_number.clone())];
                let (card, national_id, born_on) = if scope.masked {
                    (
                        m.card_number.as_ref().map(|c| mask(c, 3)),
                        m.national_id.as_ref().map(|c| mask(c, 3)),
                        None,
                    )
                } else {
                    (
                        m.card_number.clone(),
                        m.national_id.clone(),
                        Some(m.born_on),
                    )
                };
                put(&mut row, "card_number", card);
                put(&mut row, "full_name", Some(&m.full_name));
                put(&mut row, "gender", Some(&m.gender));
                put(&mut row, "born_on", born_on);
                put(&mut row, "ethnicity", m.ethnicity.as_ref());
                put(&mut row, "religion", m.religion.as_ref());
                put(&mut row, "national_id", national_id);
                if let Some((code, since)) = first.get(&m.id) {
                    put(&mut row, "organization_code", Some(code));
                    put(&mut row, "organization_since", Some(since));
                }
                put(&mut row, "admitted_on", Some(m.admitted_on));
                put(&mut row, "ceremony_on", m.ceremony_on);
                put(&mut row, "official_on", m.official_on);
                // The current exemption, or the one that ended when the member left.
                let exempt_since = latest
                    .get(&m.id)
                    .filter(|(_, end)| end.is_none() || *end == m.left_on)
                    .map(|(since, _)| *since);
                put(&mut row, "exempt_since", exempt_since);
                put(&mut row, "left_on", m.left_on);
                put(&mut row, "leave_reason", m.leave_reason.as_ref());
                out.push(row);
            }
        }
        Kind::Exemptions => {
            type T = (i64, NaiveDate, Option<NaiveDate>, Option<String>);
            let list: Vec<T> = exemptions::table
                .filter(exemptions::member_id.eq_any(ids))
                .order((exemptions::member_id, exemptions::starts_on))
                .select((
                    exemptions::member_id,
                    exemptions::starts_on,
                    exemptions::ends_on,
                    exemptions::reason,
                ))
                .load(conn)?;
            for (member, from, to, reason) in list {
                let mut row = vec![("profile_number", pn[&member].clone())];
                put(&mut row, "from", Some(from));
                put(&mut row, "to", to);
                put(&mut row, "reason", reason);
                out.push(row);
            }
        }
        Kind::PartyAgeGaps => {
            // The open gap of an expulsion comes back with its decision, not from this file.
            type T = (i64, String, NaiveDate, Option<NaiveDate>, Option<String>);
            let list: Vec<T> = gaps::table
                .filter(gaps::member_id.eq_any(ids))
                .filter(gaps::ends_on.is_not_null())
                .order((gaps::member_id, gaps::starts_on))
                .select((
                    gaps::member_id,
                    gaps::reason,
                    gaps::starts_on,
                    gaps::ends_on,
                    gaps::note,
                ))
                .load(conn)?;
            for (member, reason, from, to, note) in list {
                let mut row = vec![("profile_number", pn[&member].clone())];
                put(&mut row, "reason", Some(reason));
                put(&mut row, "from", Some(from));
                put(&mut row, "to", to);
                put(&mut row, "note", note);
                out.push(row);
            }
        }
        Kind::Positions => {
            type T = (i64, String, Option<String>, NaiveDate, Option<NaiveDate>);
            let list: Vec<T> = positions::table
                .left_join(orgs::table.on(orgs::id.nullable().eq(positions::organization_id)))
                .filter(positions::member_id.eq_any(ids))
                .order((positions::member_id, positions::starts_on, positions::id))
                .select((
                    positions::member_id,
                    positions::title,
                    orgs::code.nullable(),
                    positions::starts_on,
                    positions::ends_on,
                ))
                .load(conn)?;
            for (member, title, org, from, to) in list {
                let mut row = vec![("profile_number", pn[&member].clone()), ("title", title)];
                put(&mut row, "organization_code", org);
                put(&mut row, "from", Some(from));
                put(&mut row, "to", to);
                out.push(row);
            }
        }
        Kind::Transfers => {
            type T = (i64, String, String, NaiveDate, Option<NaiveDate>);
            let list: Vec<T> = memberships::table
                .inner_join(orgs::table.on(orgs::id.eq(memberships::organization_id)))
                .filter(memberships::member_id.eq_any(ids))
                .order((
                    memberships::member_id,
                    memberships::valid_from,
                    memberships::id,
                ))
                .select((
                    memberships::member_id,
                    memberships::kind,
                    orgs::code,
                    memberships::valid_from,
                    memberships::valid_to,
                ))
                .load(conn)?;
            let mut seen_official = std::collections::HashSet::new();
            for (member, kind, code, from, to) in list {
                // The first official membership is the member row's own organisation.
                if kind == "official" && seen_official.insert(member) {
                    continue;
                }
                let mut row = vec![
                    ("profile_number", pn[&member].clone()),
                    ("organization_code", code),
                ];
                put(&mut row, "on", Some(from));
                let until = if kind == "temporary" { to } else { None };
                put(&mut row, "kind", Some(kind));
                put(&mut row, "until", until);
                out.push(row);
            }
        }
        Kind::MemberRatings => {
            type T = (
                i64,
                i32,
                String,
                Option<i32>,
                Option<String>,
                bool,
                Option<NaiveDate>,
                Option<String>,
            );
            let list: Vec<T> = mr::table
                .filter(mr::member_id.eq_any(ids))
                .order((mr::member_id, mr::year))
                .select((
                    mr::member_id,
                    mr::year,
                    mr::level,
                    mr::score,
                    mr::reason,
                    mr::self_corrected,
                    mr::decided_on,
                    mr::override_reason,
                ))
                .load(conn)?;
            for (member, year, level, score, reason, self_corrected, decided_on, override_reason) in
                list
            {
                let mut row = vec![("profile_number", pn[&member].clone())];
                put(&mut row, "year", Some(year));
                put(&mut row, "level", Some(level));
                put(&mut row, "score", score);
                put(&mut row, "reason", reason);
                put(&mut row, "self_corrected", Some(self_corrected));
                put(&mut row, "decided_on", decided_on);
                put(&mut row, "override_reason", override_reason);
                out.push(row);
            }
        }
        Kind::DisciplinaryActions => {
            out = action_rows(conn, ids, true)?;
        }
        Kind::InsigniaAwards => {
            type T = (
                i64,
                i32,
                NaiveDate,
                Option<String>,
                bool,
                bool,
                Option<String>,
            );
            let list: Vec<T> = awards::table
                .filter(awards::member_id.eq_any(ids))
                .order((awards::member_id, awards::tier))
                .select((
                    awards::member_id,
                    awards::tier,
                    awards::awarded_on,
                    awards::decision_number,
                    awards::posthumous,
                    awards::early,
                    awards::override_reason,
                ))
                .load(conn)?;
            for (member, tier, awarded_on, decision, posthumous, early, override_reason) in list {
                let mut row = vec![("profile_number", pn[&member].clone())];
                put(&mut row, "tier", Some(tier));
                put(&mut row, "awarded_on", Some(awarded_on));
                put(&mut row, "decision_number", decision);
                put(&mut row, "posthumous", Some(posthumous));
                put(&mut row, "early", Some(early));
                put(&mut row, "override_reason", override_reason);
                out.push(row);
            }
        }
        _ => unreachable!("not a kind attached to members"),
    }
    Ok(out)
}
