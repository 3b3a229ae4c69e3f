//! Statistics computed from the records at request time, for an organisation's subtree as the
//! tree stood on the day in question. Organisation figures count the organisations below the
//! root; member figures its whole subtree. A member counts toward the organisation of their
//! official membership on the event's day (or their last one before it, for members no longer
//! on the roll). Annulled decisions and returned insignia are left out.
//!
//! Every figure is one aggregate query with bound parameters, in SQL that both engines run.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Text};
use serde::Serialize;

use crate::auth::Visibility;
use crate::db::schema::admission_targets as targets;
use crate::db::DbConn;
use crate::domain::figures::{percent, Rounding};
use crate::domain::organization::OrgKind;
use crate::domain::rating::{excellent_quota_holds, year_end, year_start, QUOTA_PERCENT};
use crate::error::Result;
use crate::store::organizations::{find_visible, OrgRow};

/// `org_column` has a closure row matching `rows` (a condition on `t`) that holds on `day`.
fn in_tree_on(rows: &str, org_column: &str, day: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM organization_tree t WHERE {rows} AND t.descendant_id = {org_column} \
         AND t.valid_from <= {day} AND (t.valid_to IS NULL OR t.valid_to > {day}))"
    )
}

/// What a set of figures counts over (phạm vi thống kê).
#[derive(Debug, Clone)]
pub enum Scope {
    /// One organisation's subtree, as the tree stood on each day counted.
    Subtree(OrgRow),
    /// Every organisation in the database: the whole party (toàn Đảng), whose figures are the
    /// sums of those of its top-level committees' subtrees, read in one pass over each table
    /// instead of one subtree at a time. An organisation is in it from its establishment on
    /// (its own closure row, of depth 0, never ends), and nothing is recorded at an
    /// organisation before it exists (a membership, and so a member's summary rows, decisions
    /// and awards, starts at an existing organisation: `member.organization_not_existing`):
    /// so every row of the records and of the summaries counts, with no condition on the tree.
    /// Organisation figures count the organisations with a parent on the day, as a subtree's
    /// count those below its root.
    Whole,
}

/// The name the whole party's figures go under.
pub const WHOLE_NAME: &str = "Toàn Đảng";

impl Scope {
    /// The root's code; none for the whole party.
    pub fn code(&self) -> Option<String> {
        match self {
            Scope::Subtree(root) => Some(root.code.clone()),
            Scope::Whole => None,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Scope::Subtree(root) => root.name.clone(),
            Scope::Whole => WHOLE_NAME.to_string(),
        }
    }

    /// Bound as `$1` by every statement of the figures; the whole party's statements do not
    /// read it (both engines accept a bound parameter that the text does not use).
    fn root_id(&self) -> i64 {
        match self {
            Scope::Subtree(root) => root.id,
            Scope::Whole => 0,
        }
    }

    /// The closure rows (`t`) that place an organisation `min_depth` or more levels below the
    /// root; for the whole party, below some organisation (an ancestor exactly `min_depth`
    /// up has one at every greater depth too).
    fn tree_rows(&self, min_depth: u8) -> String {
        match self {
            Scope::Subtree(_) => format!("t.ancestor_id = $1 AND t.depth >= {min_depth}"),
            Scope::Whole => format!("t.depth = {min_depth}"),
        }
    }

    /// `org_column` lies in the scope, `min_depth` or more levels down, on the day given by the
    /// SQL expression `day`.
    ///
    /// For a subtree, two conditions, for speed: the uncorrelated `IN` (the organisations ever
    /// under the root) lets the engine start from the subtree's rows through their organisation
    /// index, so that a province's figures cost the same in a national database as in its own;
    /// the correlated `EXISTS` ([`Scope::contains_on`]) then keeps the rows under the root on
    /// the day. With the `EXISTS` alone, every row of the table was visited: a province's annual
    /// report took 9.7 s in a database of 5.5 million members (BENCHMARKS.md).
    fn contains(&self, org_column: &str, day: &str, min_depth: u8) -> String {
        match self {
            Scope::Subtree(_) => format!(
                "{org_column} IN (SELECT s.descendant_id FROM organization_tree s WHERE s.ancestor_id = $1 \
                 AND s.depth >= {min_depth}) AND {}",
                self.contains_on(org_column, day, min_depth)
            ),
            Scope::Whole => self.contains_on(org_column, day, min_depth),
        }
    }

    /// `org_column` lies between the least and the greatest id of the organisations ever under
    /// the root `$1` (at `min_depth` or deeper): two probes of the tree's primary key; no bound
    /// for the whole party. For the tables read per organisation of a subtree (the
    /// organisations themselves, and the summary tables, whose rows are keyed by organisation
    /// first): a subtree's organisations are mostly created together, so their ids are close,
    /// and the bound lets the engine read the subtree's rows as one range of the key. Without
    /// it PostgreSQL read the nation's summary rows for each province (member figures of Hưng
    /// Yên, 15,792 organisations: 678 ms; with it 97 ms). When the ids are scattered the bound
    /// is merely weak, never wrong.
    fn ids(&self, org_column: &str, min_depth: u8) -> String {
        match self {
            Scope::Subtree(_) => {
                let ids = |f: &str| {
                    format!(
                        "(SELECT {f}(r.descendant_id) FROM organization_tree r WHERE r.ancestor_id = $1 \
                         AND r.depth >= {min_depth})"
                    )
                };
                format!("{org_column} BETWEEN {} AND {}", ids("min"), ids("max"))
            }
            Scope::Whole => "TRUE".to_string(),
        }
    }

    /// The dated `EXISTS` of [`Scope::contains`] alone, for rows already bounded otherwise;
    /// none for a row of the whole party (see [`Scope::Whole`]).
    fn contains_on(&self, org_column: &str, day: &str, min_depth: u8) -> String {
        match (self, min_depth) {
            (Scope::Whole, 0) => "TRUE".to_string(),
            _ => in_tree_on(&self.tree_rows(min_depth), org_column, day),
        }
    }
}

/// The official membership that holds on `day`, or the last one that began by then.
fn membership_on(member: &str, day: &str) -> String {
    format!(
        "ms.member_id = {member} AND ms.kind = 'official' AND ms.valid_from = \
         (SELECT max(x.valid_from) FROM memberships x WHERE x.member_id = {member} AND x.kind = 'official' \
          AND x.valid_from <= {day})"
    )
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Whether SQLite should start a year's dated records (discipline, insignia) from their date
/// index rather than from the subtree's memberships: when the subtree holds a large share of
/// the database's organisations (a province in its own database), the year's rows are a few
/// hundred against tens of thousands of memberships (12 ms against 1 ms a query); in a
/// national database the year's rows are the nation's and the subtree's memberships the fewer.
/// Without statistics SQLite always started from the subtree (its `IN`). PostgreSQL's planner
/// reorders a `CROSS JOIN` like any inner join and makes this choice from its own statistics,
/// whichever way the join is written.
fn from_dates(conn: &mut DbConn, scope: &Scope) -> Result<bool> {
    let Scope::Subtree(root) = scope else {
        return Ok(true);
    };
    let found: Flag = crate::db::sql_query(
        conn,
        "SELECT (SELECT count(*) FROM organization_tree t WHERE t.ancestor_id = $1) * 4 \
           >= COALESCE((SELECT max(o.id) FROM organizations o), 0) AS flag",
    )
    .bind::<BigInt, _>(root.id)
    .get_result(conn)?;
    Ok(found.flag)
}

/// The join of a dated record to the membership that held on its day, and the `WHERE` that
/// follows: a `CROSS JOIN` (SQLite keeps its order: the records first) or an inner join the
/// engine may start from either side.
fn join_membership_on(from_dates: bool, member: &str, day: &str) -> String {
    if from_dates {
        format!(
            "CROSS JOIN memberships ms WHERE {} AND",
            membership_on(member, day)
        )
    } else {
        format!(
            "JOIN memberships ms ON {} WHERE",
            membership_on(member, day)
        )
    }
}

#[derive(QueryableByName)]
struct AwardGroup {
    #[diesel(sql_type = Integer)]
    tier: i32,
    #[diesel(sql_type = Date)]
    awarded_on: NaiveDate,
    #[diesel(sql_type = Bool)]
    posthumous: bool,
    #[diesel(sql_type = Bool)]
    early: bool,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `f`, a set of statistics, in one read transaction: its figures come from one snapshot
/// of the records. (PostgreSQL connections run without JIT: `db::ConnectionSetup`.)
pub fn read<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T>) -> Result<T> {
    conn.transaction(f)
}

/// The root's subtree as one row per organisation ever under it (the root included), with
/// whether it lay under the root on day `a` (`in_a`) and on day `b` (`in_b`). Binds: `$1` the
/// root, `{a}` and `{b}` the days. Reused by every figure of a pass instead of one `EXISTS`
/// per row and figure. `MATERIALIZED` (both engines know it): computed once and joined as a
/// table. Inlined, PostgreSQL without statistics of the summary table joined each summary row
/// to the whole grouped subtree in a nested loop (a province's member figures: 440 ms, against
/// 10 ms by hash join).
fn subtree_cte(scope: &Scope, a: &str, b: &str) -> String {
    format!(
        "sub AS MATERIALIZED (SELECT t.descendant_id AS id, \
           max(CASE WHEN t.valid_from <= {a} AND (t.valid_to IS NULL OR t.valid_to > {a}) THEN 1 ELSE 0 END) AS in_a, \
           max(CASE WHEN t.valid_from <= {b} AND (t.valid_to IS NULL OR t.valid_to > {b}) THEN 1 ELSE 0 END) AS in_b \
         FROM organization_tree t WHERE {} GROUP BY t.descendant_id)",
        scope.tree_rows(0)
    )
}

/// Everything the report counts over the subtree's memberships, in one pass: the roll on day
/// A (all, probationary, exempt), the rating levels of A's roll for the rating year, the roll
/// on day B, and the members admitted in the admission year (counted where their first
/// official membership began, under the root on that day).
#[derive(QueryableByName, Debug, Clone, Copy)]
struct MemberFigures {
    #[diesel(sql_type = BigInt)]
    total_a: i64,
    #[diesel(sql_type = BigInt)]
    probationary_a: i64,
    #[diesel(sql_type = BigInt)]
    exempt_a: i64,
    #[diesel(sql_type = BigInt)]
    excellent: i64,
    #[diesel(sql_type = BigInt)]
    good: i64,
    #[diesel(sql_type = BigInt)]
    completed: i64,
    #[diesel(sql_type = BigInt)]
    not_completed: i64,
    #[diesel(sql_type = BigInt)]
    rated_exempt: i64,
    #[diesel(sql_type = BigInt)]
    total_b: i64,
    #[diesel(sql_type = BigInt)]
    admitted: i64,
}

impl MemberFigures {
    fn levels(&self) -> BTreeMap<String, i64> {
        [
            ("excellent", self.excellent),
            ("good", self.good),
            ("completed", self.completed),
            ("not_completed", self.not_completed),
            ("exempt", self.rated_exempt),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect()
    }
}

/// The member figures of the subtree: the roll on day `a` with its ratings of `rating_year`,
/// the roll on day `b`, and the admissions of `year`. When both days are year ends kept in
/// the summaries (`store::summaries`), they are summed from the organisations' summary rows;
/// otherwise counted from the records. Both ways count the same things (`domain::summary`;
/// tests/api/summaries.rs holds them equal).
fn member_figures(
    conn: &mut DbConn,
    scope: &Scope,
    a: NaiveDate,
    rating_year: i32,
    b: NaiveDate,
    year: i32,
) -> Result<MemberFigures> {
    if a == year_end(rating_year) && b == year_end(year) && summarised(conn, &[rating_year, year])?
    {
        summary_figures(conn, scope, rating_year, year)
    } else {
        record_figures(conn, scope, a, rating_year, b, year)
    }
}

/// The member figures of two year ends from the summary rows of the organisations under the
/// root on those days, and the admissions of `year` from those of the organisations under
/// it on the day the first membership began. The years are an `IN` list, not an `OR`: both
/// engines then look up each organisation's two rows by the whole primary key, where with the
/// `OR` PostgreSQL read all thirteen years of each organisation and estimated each lookup
/// three times dearer (45.9 against 15.8), nearer to a scan of the whole table. The admissions
/// need no `IN` over `sub` besides the id range: the dated `EXISTS` already keeps the subtree's
/// rows, and with that `IN` PostgreSQL, without statistics, compared each admission row with
/// every organisation of the subtree (156 ms for a province of 2,046).
fn summary_figures(
    conn: &mut DbConn,
    scope: &Scope,
    rating_year: i32,
    year: i32,
) -> Result<MemberFigures> {
    let on_a = |column: &str| {
        format!(
            "CAST(COALESCE(sum(CASE WHEN y.year = $3 AND s.in_a = 1 THEN y.{column} END), 0) AS BIGINT) AS {}",
            match column {
                "members" => "total_a",
                "probationary" => "probationary_a",
                "exempt" => "exempt_a",
                other => other,
            }
        )
    };
    let columns: Vec<String> = crate::store::summaries::YEAR_COUNTS
        .into_iter()
        .map(on_a)
        .collect();
    // The summary rows `y` with `s.in_a`, `s.in_b`: whether their organisation lay in the scope
    // on days A and B. The whole party holds every row (`Scope::Whole`): no subtree to join
    // (its 317,136 organisations cost the nation's report 0.6 s: BENCHMARKS.md).
    let (subtree, rows) = match scope {
        Scope::Subtree(_) => (
            format!("{}, ", subtree_cte(scope, "$2", "$4")),
            "sub s JOIN member_year_summaries y ON y.organization_id = s.id AND",
        ),
        Scope::Whole => (
            String::new(),
            "(SELECT 1 AS in_a, 1 AS in_b) s JOIN member_year_summaries y ON",
        ),
    };
    let sql = format!(
        "WITH {subtree}\
         admitted AS (SELECT CAST(COALESCE(sum(a.admitted), 0) AS BIGINT) AS n FROM admission_summaries a \
           WHERE a.year = $5 AND {ids_a} AND {in_a}) \
         SELECT {}, \
           CAST(COALESCE(sum(CASE WHEN y.year = $5 AND s.in_b = 1 THEN y.members END), 0) AS BIGINT) AS total_b, \
           (SELECT n FROM admitted) AS admitted \
         FROM {rows} y.year IN ($3, $5) AND {ids_y}",
        columns.join(", "),
        ids_a = scope.ids("a.organization_id", 0),
        in_a = scope.contains_on("a.organization_id", "a.since", 0),
        ids_y = scope.ids("y.organization_id", 0),
    );
    Ok(crate::db::sql_query(conn, &sql)
        .bind::<BigInt, _>(scope.root_id())
        .bind::<Date, _>(year_end(rating_year))
        .bind::<Integer, _>(rating_year)
        .bind::<Date, _>(year_end(year))
        .bind::<Integer, _>(year)
        .get_result(conn)?)
}

/// The member pass over the records: the subtree's official memberships (through the
/// organisation index), each joined once to its member and its rating of `rating_year`.
fn record_figures(
    conn: &mut DbConn,
    scope: &Scope,
    a: NaiveDate,
    rating_year: i32,
    b: NaiveDate,
    year: i32,
) -> Result<MemberFigures> {
    let sql = format!(
        "WITH {}, \
         rows AS (SELECT ms.member_id AS member_id, ms.organization_id AS org, ms.valid_from AS since, \
           m.official_on AS official_on, m.admitted_on AS admitted_on, r.level AS level, \
           CASE WHEN s.in_a = 1 AND ms.valid_from <= $2 AND (ms.valid_to IS NULL OR ms.valid_to > $2) THEN 1 ELSE 0 END AS on_a, \
           CASE WHEN s.in_b = 1 AND ms.valid_from <= $4 AND (ms.valid_to IS NULL OR ms.valid_to > $4) THEN 1 ELSE 0 END AS on_b \
           FROM sub s JOIN memberships ms ON ms.organization_id = s.id JOIN members m ON m.id = ms.member_id \
           LEFT JOIN member_ratings r ON r.member_id = ms.member_id AND r.year = $3 \
           WHERE ms.kind = 'official') \
         SELECT count(*) FILTER (WHERE on_a = 1) AS total_a, \
           count(*) FILTER (WHERE on_a = 1 AND (official_on IS NULL OR official_on > $2)) AS probationary_a, \
           count(*) FILTER (WHERE on_a = 1 AND EXISTS (SELECT 1 FROM member_exemptions e WHERE e.member_id = rows.member_id \
             AND e.starts_on <= $2 AND (e.ends_on IS NULL OR e.ends_on > $2))) AS exempt_a, \
           count(*) FILTER (WHERE on_a = 1 AND level = 'excellent') AS excellent, \
           count(*) FILTER (WHERE on_a = 1 AND level = 'good') AS good, \
           count(*) FILTER (WHERE on_a = 1 AND level = 'completed') AS completed, \
           count(*) FILTER (WHERE on_a = 1 AND level = 'not_completed') AS not_completed, \
           count(*) FILTER (WHERE on_a = 1 AND level = 'exempt') AS rated_exempt, \
           count(*) FILTER (WHERE on_b = 1) AS total_b, \
           count(*) FILTER (WHERE admitted_on >= $5 AND admitted_on <= $6 \
             AND since = (SELECT min(x.valid_from) FROM memberships x WHERE x.member_id = rows.member_id AND x.kind = 'official') \
             AND {}) AS admitted \
         FROM rows",
        subtree_cte(scope, "$2", "$4"),
        scope.contains_on("rows.org", "rows.since", 0)
    );
    Ok(crate::db::sql_query(conn, &sql)
        .bind::<BigInt, _>(scope.root_id())
        .bind::<Date, _>(a)
        .bind::<Integer, _>(rating_year)
        .bind::<Date, _>(b)
        .bind::<Date, _>(year_start(year))
        .bind::<Date, _>(year_end(year))
        .get_result(conn)?)
}

#[derive(QueryableByName, Debug, Clone)]
struct OrgKindLevel {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    level: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The organisation pass: the organisations below the root existing on `day`, by kind and by
/// their rating level of `rating_year` (none if not rated).
fn organization_figures(
    conn: &mut DbConn,
    scope: &Scope,
    day: NaiveDate,
    rating_year: i32,
) -> Result<Vec<OrgKindLevel>> {
    // The organisations below the root on the day: for a subtree its closure rows, gathered
    // first; for the whole party every organisation, kept when it has a parent that day (one
    // probe each, where the gathering took 0.96 s against 0.4 s: BENCHMARKS.md).
    let (subtree, from, below) = match scope {
        Scope::Subtree(_) => (
            format!(
                "WITH sub AS (SELECT DISTINCT t.descendant_id AS id FROM organization_tree t WHERE {} \
                   AND t.valid_from <= $2 AND (t.valid_to IS NULL OR t.valid_to > $2)) ",
                scope.tree_rows(1)
            ),
            "sub s JOIN organizations o ON o.id = s.id",
            scope.ids("o.id", 1),
        ),
        Scope::Whole => (
            String::new(),
            "organizations o",
            scope.contains("o.id", "$2", 1),
        ),
    };
    let sql = format!(
        "{subtree}SELECT o.kind AS kind, r.level AS level, count(*) AS n FROM {from} \
         LEFT JOIN organization_ratings r ON r.organization_id = o.id AND r.year = $3 \
         WHERE {below} AND o.established_on <= $2 AND (o.dissolved_on IS NULL OR o.dissolved_on > $2) \
         GROUP BY o.kind, r.level"
    );
    Ok(crate::db::sql_query(conn, &sql)
        .bind::<BigInt, _>(scope.root_id())
        .bind::<Date, _>(day)
        .bind::<Integer, _>(rating_year)
        .load(conn)?)
}

/// The organisations of `kinds` (all, and by rating level) in an organisation pass.
fn organizations_of(found: &[OrgKindLevel], kinds: &[&str]) -> (i64, BTreeMap<String, i64>) {
    let mut total = 0;
    let mut levels = BTreeMap::new();
    for row in found.iter().filter(|r| kinds.contains(&r.kind.as_str())) {
        total += row.n;
        if let Some(level) = &row.level {
            *levels.entry(level.clone()).or_default() += row.n;
        }
    }
    (total, levels)
}

#[derive(Debug, Clone, Serialize)]
pub struct Structure {
    pub organization: Option<String>,
    pub on: NaiveDate,
    pub organizations: BTreeMap<String, i64>,
    pub grassroots_organizations: i64,
    pub members: i64,
    pub probationary_members: i64,
    pub exempt_members: i64,
}

/// The scope of figures asked for: the organisation named (404 outside the caller's scope);
/// with none named, the caller's own scope: the subtree of their organisation, or the whole
/// party for a caller who sees everything.
pub fn scope(conn: &mut DbConn, vis: Visibility, code: Option<&str>) -> Result<Scope> {
    match (code, vis) {
        (Some(code), _) => Ok(Scope::Subtree(find_visible(conn, vis, code)?)),
        (None, Visibility::All) => Ok(Scope::Whole),
        (None, Visibility::Subtree(id)) => {
            use crate::db::schema::organizations as orgs;
            Ok(Scope::Subtree(
                orgs::table
                    .find(id)
                    .select(OrgRow::as_select())
                    .first(conn)?,
            ))
        }
    }
}

const GRASSROOTS: [&str; 2] = ["grassroots_committee", "grassroots_branch"];
const SUB_BRANCHES: [&str; 1] = ["sub_branch"];

fn structure_of(
    scope: &Scope,
    on: NaiveDate,
    orgs: &[OrgKindLevel],
    members: &MemberFigures,
) -> Structure {
    let organizations: BTreeMap<String, i64> = OrgKind::ALL
        .iter()
        .filter(|k| **k != OrgKind::ProvincialCommittee)
        .map(|k| {
            (
                k.as_str().to_string(),
                organizations_of(orgs, &[k.as_str()]).0,
            )
        })
        .collect();
    let grassroots = organizations["grassroots_committee"] + organizations["grassroots_branch"];
    Structure {
        organization: scope.code(),
        on,
        organizations,
        grassroots_organizations: grassroots,
        members: members.total_a,
        probationary_members: members.probationary_a,
        exempt_members: members.exempt_a,
    }
}

pub fn structure(conn: &mut DbConn, scope: &Scope, on: NaiveDate) -> Result<Structure> {
    let orgs = organization_figures(conn, scope, on, on.year())?;
    let members = member_figures(conn, scope, on, on.year(), on, on.year())?;
    Ok(structure_of(scope, on, &orgs, &members))
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelFigure {
    pub count: i64,
    pub percent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quota {
    pub limit_percent: String,
    pub actual_percent: Option<String>,
    pub within: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RatingTable {
    pub total: i64,
    pub rated: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<i64>,
    pub not_rated: i64,
    pub rated_percent: Option<String>,
    pub excellent: LevelFigure,
    pub good: LevelFigure,
    pub completed: LevelFigure,
    pub not_completed: LevelFigure,
    pub excellent_quota: Quota,
}

fn table(
    total: i64,
    levels: &BTreeMap<String, i64>,
    with_exempt: bool,
    rounding: Rounding,
) -> RatingTable {
    let get = |k: &str| levels.get(k).copied().unwrap_or(0);
    let rated = get("excellent") + get("good") + get("completed") + get("not_completed");
    let exempt = get("exempt");
    let figure = |k: &str| LevelFigure {
        count: get(k),
        percent: percent(get(k), rated, rounding),
    };
    RatingTable {
        total,
        rated,
        exempt: with_exempt.then_some(exempt),
        not_rated: total - rated - exempt,
        rated_percent: percent(rated, total, rounding),
        excellent: figure("excellent"),
        good: figure("good"),
        completed: figure("completed"),
        not_completed: figure("not_completed"),
        excellent_quota: Quota {
            limit_percent: format!("{QUOTA_PERCENT}.00"),
            actual_percent: percent(get("excellent"), get("good"), rounding),
            within: excellent_quota_holds(get("excellent") as usize, get("good") as usize),
        },
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Ratings {
    pub organization: Option<String>,
    pub year: i32,
    pub on: NaiveDate,
    pub grassroots_organizations: RatingTable,
    pub sub_branches: RatingTable,
    pub members: RatingTable,
}

/// The rating tables of `year` from passes made on its last day.
fn ratings_of(
    scope: &Scope,
    year: i32,
    orgs: &[OrgKindLevel],
    members: &MemberFigures,
    rounding: Rounding,
) -> Ratings {
    let org_table = |kinds: &[&str]| {
        let (total, levels) = organizations_of(orgs, kinds);
        table(total, &levels, false, rounding)
    };
    Ratings {
        organization: scope.code(),
        year,
        on: year_end(year),
        grassroots_organizations: org_table(&GRASSROOTS),
        sub_branches: org_table(&SUB_BRANCHES),
        members: table(members.total_a, &members.levels(), true, rounding),
    }
}

pub fn ratings(conn: &mut DbConn, scope: &Scope, year: i32, rounding: Rounding) -> Result<Ratings> {
    let end = year_end(year);
    let orgs = organization_figures(conn, scope, end, year)?;
    let members = member_figures(conn, scope, end, year, end, year)?;
    Ok(ratings_of(scope, year, &orgs, &members, rounding))
}

#[derive(Debug, Clone, Serialize)]
pub struct MembersOn {
    pub date: NaiveDate,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Admissions {
    pub organization: Option<String>,
    pub year: i32,
    pub admitted: i64,
    pub target: Option<i64>,
    pub target_percent: Option<String>,
    pub members_on: MembersOn,
}

#[derive(QueryableByName)]
struct TopTargets {
    #[diesel(sql_type = BigInt)]
    committees: i64,
    #[diesel(sql_type = BigInt)]
    with_target: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// The admission target of `year` (chỉ tiêu kết nạp): the root's; for the whole party the sum of
/// its top-level committees' (those without a parent at the end of the year), when every one
/// of them has a target (a sum over some would make the percentage mean nothing).
fn admission_target(conn: &mut DbConn, scope: &Scope, year: i32) -> Result<Option<i64>> {
    match scope {
        Scope::Subtree(root) => {
            let target: Option<i32> = targets::table
                .filter(targets::organization_id.eq(root.id))
                .filter(targets::year.eq(year))
                .select(targets::target)
                .first(conn)
                .optional()?;
            Ok(target.map(i64::from))
        }
        Scope::Whole => {
            let found: TopTargets = crate::db::sql_query(
                conn,
                &format!(
                    "SELECT count(*) AS committees, count(g.target) AS with_target, \
                       CAST(COALESCE(sum(g.target), 0) AS BIGINT) AS total \
                     FROM organizations o LEFT JOIN admission_targets g ON g.organization_id = o.id AND g.year = $2 \
                     WHERE o.established_on <= $1 AND (o.dissolved_on IS NULL OR o.dissolved_on > $1) AND NOT {}",
                    Scope::Whole.contains_on("o.id", "$1", 1)
                ),
            )
            .bind::<Date, _>(year_end(year))
            .bind::<Integer, _>(year)
            .get_result(conn)?;
            Ok(
                (found.committees > 0 && found.with_target == found.committees)
                    .then_some(found.total),
            )
        }
    }
}

fn admissions_of(
    conn: &mut DbConn,
    scope: &Scope,
    year: i32,
    members: &MemberFigures,
    rounding: Rounding,
) -> Result<Admissions> {
    let target = admission_target(conn, scope, year)?;
    Ok(Admissions {
        organization: scope.code(),
        year,
        admitted: members.admitted,
        target,
        target_percent: target.and_then(|t| percent(members.admitted, t, rounding)),
        members_on: MembersOn {
            date: year_end(year),
            count: members.total_b,
        },
    })
}

pub fn admissions(
    conn: &mut DbConn,
    scope: &Scope,
    year: i32,
    rounding: Rounding,
) -> Result<Admissions> {
    let end = year_end(year);
    let members = member_figures(conn, scope, end, year, end, year)?;
    admissions_of(conn, scope, year, &members, rounding)
}

/// The structure and ratings of the review at the end of `rating_year` and the admissions of
/// `year`: what the annual report counts over the subtree's organisations and memberships, in
/// one organisation pass and one member pass.
pub fn annual_sections(
    conn: &mut DbConn,
    scope: &Scope,
    year: i32,
    rating_year: i32,
    rounding: Rounding,
) -> Result<(Structure, Ratings, Admissions)> {
    let on = year_end(rating_year);
    let orgs = organization_figures(conn, scope, on, rating_year)?;
    let members = member_figures(conn, scope, on, rating_year, year_end(year), year)?;
    Ok((
        structure_of(scope, on, &orgs, &members),
        ratings_of(scope, rating_year, &orgs, &members, rounding),
        admissions_of(conn, scope, year, &members, rounding)?,
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct DisciplineFigures {
    pub total: i64,
    #[serde(flatten)]
    pub forms: BTreeMap<String, i64>,
    pub previous_year_total: i64,
    pub change: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Discipline {
    pub organization: Option<String>,
    pub year: i32,
    pub members: DisciplineFigures,
    pub organizations: DisciplineFigures,
}

#[derive(QueryableByName)]
struct YearFormCount {
    #[diesel(sql_type = Bool)]
    current: bool,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The forms decided in `year` (`true`) and in the year before (`false`), one query for both.
fn split_years(rows: Vec<YearFormCount>) -> [BTreeMap<String, i64>; 2] {
    let mut years = [BTreeMap::new(), BTreeMap::new()];
    for r in rows {
        *years[usize::from(r.current)].entry(r.key).or_default() += r.n;
    }
    years
}

/// Whether all of `years` are kept in the summaries (`store::summaries`).
fn summarised(conn: &mut DbConn, years: &[i32]) -> Result<bool> {
    let window = crate::store::summaries::window(conn)?;
    Ok(years.iter().all(|y| window.contains(*y)))
}

/// The forms of the members' decisions of `year` and the year before under the root: summed
/// from the organisations' summary rows when both years are kept there, else counted from the
/// records (tests/api/summaries.rs holds the two equal).
fn member_forms(conn: &mut DbConn, scope: &Scope, year: i32) -> Result<[BTreeMap<String, i64>; 2]> {
    if !summarised(conn, &[year - 1, year])? {
        return member_forms_of_records(conn, scope, year);
    }
    Ok(split_years(
        crate::db::sql_query(conn, &format!(
            "SELECT d.decided_on >= $4 AS current, d.form AS key, CAST(sum(d.members) AS BIGINT) AS n \
             FROM discipline_summaries d WHERE d.decided_on >= $2 AND d.decided_on <= $3 AND {} AND {} \
             GROUP BY 1, 2 HAVING sum(d.members) <> 0",
            scope.ids("d.organization_id", 0),
            scope.contains("d.organization_id", "d.decided_on", 0)
        ))
        .bind::<BigInt, _>(scope.root_id())
        .bind::<Date, _>(year_start(year - 1))
        .bind::<Date, _>(year_end(year))
        .bind::<Date, _>(year_start(year))
        .load(conn)?,
    ))
}

fn member_forms_of_records(
    conn: &mut DbConn,
    scope: &Scope,
    year: i32,
) -> Result<[BTreeMap<String, i64>; 2]> {
    let from_dates = from_dates(conn, scope)?;
    Ok(split_years(
        crate::db::sql_query(conn, &format!(
            "SELECT a.decided_on >= $4 AS current, COALESCE(a.reduced_form, a.form) AS key, count(*) AS n FROM disciplinary_actions a \
             {} a.subject_type = 'member' AND a.decided_on >= $2 AND a.decided_on <= $3 \
             AND (a.appeal_outcome IS NULL OR a.appeal_outcome <> 'annulled') AND {} GROUP BY 1, 2",
            join_membership_on(from_dates, "a.member_id", "a.decided_on"),
            scope.contains("ms.organization_id", "a.decided_on", 0)
        ))
        .bind::<BigInt, _>(scope.root_id())
        .bind::<Date, _>(year_start(year - 1))
        .bind::<Date, _>(year_end(year))
        .bind::<Date, _>(year_start(year))
        .load(conn)?,
    ))
}

fn organization_forms(
    conn: &mut DbConn,
    scope: &Scope,
    year: i32,
) -> Result<[BTreeMap<String, i64>; 2]> {
    Ok(split_years(
        crate::db::sql_query(conn, &format!(
            "SELECT a.decided_on >= $4 AS current, COALESCE(a.reduced_form, a.form) AS key, count(*) AS n FROM disciplinary_actions a \
             WHERE a.subject_type = 'organization' AND a.decided_on >= $2 AND a.decided_on <= $3 \
             AND (a.appeal_outcome IS NULL OR a.appeal_outcome <> 'annulled') AND {} GROUP BY 1, 2",
            scope.contains("a.organization_id", "a.decided_on", 1)
        ))
        .bind::<BigInt, _>(scope.root_id())
        .bind::<Date, _>(year_start(year - 1))
        .bind::<Date, _>(year_end(year))
        .bind::<Date, _>(year_start(year))
        .load(conn)?,
    ))
}

fn figures(found: BTreeMap<String, i64>, forms: &[&str], previous: i64) -> DisciplineFigures {
    let forms: BTreeMap<String, i64> = forms
        .iter()
        .map(|f| (f.to_string(), found.get(*f).copied().unwrap_or(0)))
        .collect();
    let total = forms.values().sum();
    DisciplineFigures {
        total,
        forms,
        previous_year_total: previous,
        change: total - previous,
    }
}

pub fn discipline(conn: &mut DbConn, scope: &Scope, year: i32) -> Result<Discipline> {
    const MEMBER_FORMS: [&str; 4] = ["reprimand", "warning", "dismissal", "expulsion"];
    const ORG_FORMS: [&str; 3] = ["reprimand", "warning", "dissolution"];
    let [previous_members, members] = member_forms(conn, scope, year)?;
    let [previous_orgs, orgs] = organization_forms(conn, scope, year)?;
    Ok(Discipline {
        organization: scope.code(),
        year,
        members: figures(members, &MEMBER_FORMS, previous_members.values().sum()),
        organizations: figures(orgs, &ORG_FORMS, previous_orgs.values().sum()),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct TierFigure {
    pub tier: i32,
    pub total: i64,
    pub posthumous: i64,
    pub early: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchFigure {
    pub awarded_on: NaiveDate,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Insignia {
    pub organization: Option<String>,
    pub year: i32,
    pub total: i64,
    pub posthumous: i64,
    pub early: i64,
    pub tiers: Vec<TierFigure>,
    pub batches: Vec<BatchFigure>,
}

/// The insignia awarded in `year` under the root, in groups of a tier, a day and the two flags:
/// summed from the organisations' summary rows when the year is kept there, else counted from
/// the records (tests/api/summaries.rs holds the two equal).
fn award_groups(conn: &mut DbConn, scope: &Scope, year: i32) -> Result<Vec<AwardGroup>> {
    if !summarised(conn, &[year])? {
        return award_groups_of_records(conn, scope, year);
    }
    Ok(crate::db::sql_query(conn, &format!(
        "SELECT w.tier AS tier, w.awarded_on AS awarded_on, w.posthumous AS posthumous, w.early AS early, \
         CAST(sum(w.awards) AS BIGINT) AS n FROM insignia_summaries w \
         WHERE w.awarded_on >= $2 AND w.awarded_on <= $3 AND {} AND {} \
         GROUP BY w.tier, w.awarded_on, w.posthumous, w.early HAVING sum(w.awards) <> 0",
        scope.ids("w.organization_id", 0),
        scope.contains("w.organization_id", "w.awarded_on", 0)
    ))
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(year_start(year))
    .bind::<Date, _>(year_end(year))
    .load(conn)?)
}

fn award_groups_of_records(conn: &mut DbConn, scope: &Scope, year: i32) -> Result<Vec<AwardGroup>> {
    let from_dates = from_dates(conn, scope)?;
    Ok(crate::db::sql_query(conn, &format!(
        "SELECT w.tier AS tier, w.awarded_on AS awarded_on, w.posthumous AS posthumous, w.early AS early, count(*) AS n \
         FROM insignia_awards w {} w.awarded_on >= $2 AND w.awarded_on <= $3 AND w.revoked_on IS NULL AND {} \
         GROUP BY w.tier, w.awarded_on, w.posthumous, w.early",
        join_membership_on(from_dates, "w.member_id", "w.awarded_on"),
        scope.contains("ms.organization_id", "w.awarded_on", 0)
    ))
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(year_start(year))
    .bind::<Date, _>(year_end(year))
    .load(conn)?)
}

pub fn insignia(conn: &mut DbConn, scope: &Scope, year: i32) -> Result<Insignia> {
    let groups = award_groups(conn, scope, year)?;
    let mut tiers: BTreeMap<i32, TierFigure> = BTreeMap::new();
    let mut batches: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for g in &groups {
        let t = tiers.entry(g.tier).or_insert(TierFigure {
            tier: g.tier,
            total: 0,
            posthumous: 0,
            early: 0,
        });
        t.total += g.n;
        t.posthumous += if g.posthumous { g.n } else { 0 };
        t.early += if g.early { g.n } else { 0 };
        *batches.entry(g.awarded_on).or_default() += g.n;
    }
    let tiers: Vec<TierFigure> = tiers.into_values().collect();
    Ok(Insignia {
        organization: scope.code(),
        year,
        total: tiers.iter().map(|t| t.total).sum(),
        posthumous: tiers.iter().map(|t| t.posthumous).sum(),
        early: tiers.iter().map(|t| t.early).sum(),
        tiers,
        batches: batches
            .into_iter()
            .map(|(awarded_on, total)| BatchFigure { awarded_on, total })
            .collect(),
    })
}

/// At most this many records are named per check item (the count is always complete).
const CHECK_RECORDS: usize = 100;

#[derive(Debug, Clone, Serialize)]
pub struct CheckItem {
    /// The rule that does not hold (a rule code of docs/rules.md).
    pub rule: &'static str,
    pub message: String,
    /// The group the item is about, where there is one.
    pub organization_code: Option<String>,
    pub count: i64,
    /// Profile numbers or organisation codes, the first hundred.
    pub records: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    pub organization: Option<String>,
    pub year: i32,
    pub on: NaiveDate,
    pub items: Vec<CheckItem>,
}

#[derive(QueryableByName)]
struct GroupLevels {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    excellent: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    good: Option<i64>,
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    key: String,
}

#[derive(QueryableByName)]
struct BranchCount {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Bool)]
    has_branch_committee: bool,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn item(
    rule: &'static str,
    message: String,
    organization_code: Option<String>,
    records: Vec<String>,
) -> Option<CheckItem> {
    (!records.is_empty()).then(|| CheckItem {
        rule,
        message,
        organization_code,
        count: records.len() as i64,
        records: records.into_iter().take(CHECK_RECORDS).collect(),
    })
}

/// What does not add up or breaks a soft rule in the subtree for a rating year: quotas
/// exceeded per group, ratings missing, branches with fewer than 3 full members, branches of 9
/// or more full members without a branch committee, disciplined members rated above
/// not_completed.
pub fn checks(conn: &mut DbConn, vis: Visibility, scope: &Scope, year: i32) -> Result<Checks> {
    let end = year_end(year);
    // Records are named only if they lie in the caller's scope today (a member who has since
    // moved out is counted in the figures of the past but not named): `-1` means everything.
    let seen_from = match vis {
        Visibility::All => -1,
        Visibility::Subtree(id) => id,
    };
    let visible = |org_column: &str, n: u8| {
        format!(
            "(${n} < 0 OR EXISTS (SELECT 1 FROM organization_tree sc WHERE sc.ancestor_id = ${n} \
             AND sc.descendant_id = {org_column} AND sc.valid_to IS NULL))"
        )
    };
    let mut items = Vec::new();
    let on_roll = "ms.kind = 'official' AND ms.valid_from <= $2 AND (ms.valid_to IS NULL OR ms.valid_to > $2)";
    let exists_on = "o.established_on <= $2 AND (o.dissolved_on IS NULL OR o.dissolved_on > $2)";

    // The excellence quota of members, per grassroots organisation.
    let groups: Vec<GroupLevels> = crate::db::sql_query(
        conn,
        &format!(
            "SELECT g.code AS key, sum(CASE WHEN r.level = 'excellent' THEN 1 ELSE 0 END) AS excellent, \
               sum(CASE WHEN r.level = 'good' THEN 1 ELSE 0 END) AS good \
             FROM member_ratings r JOIN memberships ms ON ms.member_id = r.member_id AND {on_roll} \
             JOIN organization_tree gt ON gt.descendant_id = ms.organization_id AND gt.valid_from <= $2 \
               AND (gt.valid_to IS NULL OR gt.valid_to > $2) \
             JOIN organizations g ON g.id = gt.ancestor_id \
             WHERE r.year = $3 AND g.kind IN ('grassroots_committee', 'grassroots_branch') AND {} AND {} \
             GROUP BY g.code ORDER BY g.code",
            scope.contains("g.id", "$2", 0),
            visible("g.id", 4)
        ),
    )
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(end)
    .bind::<Integer, _>(year)
    .bind::<BigInt, _>(seen_from)
    .load(conn)?;
    for g in groups {
        let (e, good) = (g.excellent.unwrap_or(0), g.good.unwrap_or(0));
        if !excellent_quota_holds(e as usize, good as usize) {
            items.push(CheckItem {
                rule: "rating.excellent_quota",
                message: format!("{e} members rated excellent against {good} rated good: more than {QUOTA_PERCENT}% of good."),
                organization_code: Some(g.key),
                count: e,
                records: Vec::new(),
            });
        }
    }
    // …and of organisations, per parent and kind.
    let groups: Vec<GroupLevels> = crate::db::sql_query(
        conn,
        &format!(
            "SELECT p.code || ' ' || o.kind AS key, sum(CASE WHEN r.level = 'excellent' THEN 1 ELSE 0 END) AS excellent, \
               sum(CASE WHEN r.level = 'good' THEN 1 ELSE 0 END) AS good \
             FROM organization_ratings r JOIN organizations o ON o.id = r.organization_id \
             JOIN organization_tree pt ON pt.descendant_id = o.id AND pt.depth = 1 AND pt.valid_from <= $2 \
               AND (pt.valid_to IS NULL OR pt.valid_to > $2) \
             JOIN organizations p ON p.id = pt.ancestor_id \
             WHERE r.year = $3 AND {} AND {} GROUP BY p.code, o.kind ORDER BY p.code, o.kind",
            scope.contains("o.id", "$2", 1),
            visible("p.id", 4)
        ),
    )
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(end)
    .bind::<Integer, _>(year)
    .bind::<BigInt, _>(seen_from)
    .load(conn)?;
    for g in groups {
        let (e, good) = (g.excellent.unwrap_or(0), g.good.unwrap_or(0));
        if !excellent_quota_holds(e as usize, good as usize) {
            let (parent, kind) = g.key.split_once(' ').unwrap_or((&g.key, ""));
            items.push(CheckItem {
                rule: "rating.excellent_quota",
                message: format!("{e} {kind}s rated excellent against {good} rated good: more than {QUOTA_PERCENT}% of good."),
                organization_code: Some(parent.to_string()),
                count: e,
                records: Vec::new(),
            });
        }
    }

    // Ratings missing.
    let keys = |rows: Vec<Key>| rows.into_iter().map(|k| k.key).collect::<Vec<_>>();
    let unrated_members: Vec<Key> = crate::db::sql_query(
        conn,
        &format!(
            "SELECT m.profile_number AS key FROM memberships ms JOIN members m ON m.id = ms.member_id \
             WHERE {on_roll} AND {} AND NOT EXISTS (SELECT 1 FROM member_ratings r WHERE r.member_id = m.id AND r.year = $3) \
             AND {} ORDER BY m.profile_number",
            scope.contains("ms.organization_id", "$2", 0),
            visible("m.organization_id", 4)
        ),
    )
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(end)
    .bind::<Integer, _>(year)
    .bind::<BigInt, _>(seen_from)
    .load(conn)?;
    items.extend(item(
        "rating.missing",
        format!("Members on the roll at the end of {year} without a rating (exempt or not rated ones are recorded too)."),
        None,
        keys(unrated_members),
    ));
    let unrated_orgs: Vec<Key> = crate::db::sql_query(
        conn,
        &format!(
            "SELECT o.code AS key FROM organizations o WHERE o.kind IN ('grassroots_committee', 'grassroots_branch', 'sub_branch') \
             AND {exists_on} AND {} AND NOT EXISTS (SELECT 1 FROM organization_ratings r WHERE r.organization_id = o.id AND r.year = $3) \
             AND {} ORDER BY o.code",
            scope.contains("o.id", "$2", 1),
            visible("o.id", 4)
        ),
    )
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(end)
    .bind::<Integer, _>(year)
    .bind::<BigInt, _>(seen_from)
    .load(conn)?;
    items.extend(item(
        "rating.missing",
        format!("Grassroots organisations and sub-branches existing at the end of {year} without a rating."),
        None,
        keys(unrated_orgs),
    ));

    // Full members per branch: at least 3 (Điều lệ, Điều 21); a branch committee from 9 (Điều 24).
    let branches: Vec<BranchCount> = crate::db::sql_query(
        conn,
        &format!(
            "SELECT o.code AS key, o.has_branch_committee AS has_branch_committee, \
               (SELECT count(*) FROM memberships ms JOIN members m ON m.id = ms.member_id WHERE ms.organization_id = o.id \
                AND {on_roll} AND m.official_on IS NOT NULL AND m.official_on <= $2) AS n \
             FROM organizations o WHERE o.kind IN ('grassroots_branch', 'sub_branch') AND {exists_on} AND {} AND {} ORDER BY o.code",
            scope.contains("o.id", "$2", 0),
            visible("o.id", 3)
        ),
    )
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(end)
    .bind::<BigInt, _>(seen_from)
    .load(conn)?;
    items.extend(item(
        "organization.min_full_members",
        format!("Branches with fewer than 3 full members at the end of {year}."),
        None,
        branches
            .iter()
            .filter(|b| b.n < 3)
            .map(|b| b.key.clone())
            .collect(),
    ));
    items.extend(item(
        "organization.branch_committee_required",
        format!("Branches with 9 or more full members at the end of {year} and no branch committee (chi ủy)."),
        None,
        branches.iter().filter(|b| b.n >= 9 && !b.has_branch_committee).map(|b| b.key.clone()).collect(),
    ));

    // Disciplined in the year, yet rated above not_completed without self-correction.
    let disciplined: Vec<Key> = crate::db::sql_query(
        conn,
        &format!(
            "SELECT m.profile_number AS key FROM member_ratings r JOIN members m ON m.id = r.member_id \
             JOIN memberships ms ON {} \
             WHERE r.year = $3 AND r.level IN ('excellent', 'good', 'completed') AND r.self_corrected = $4 \
             AND EXISTS (SELECT 1 FROM disciplinary_actions a WHERE a.member_id = m.id AND a.decided_on >= $5 \
               AND a.decided_on <= $2 AND (a.appeal_outcome IS NULL OR a.appeal_outcome <> 'annulled')) \
             AND {} AND {} ORDER BY m.profile_number",
            membership_on("m.id", "$2"),
            scope.contains("ms.organization_id", "$2", 0),
            visible("m.organization_id", 6)
        ),
    )
    .bind::<BigInt, _>(scope.root_id())
    .bind::<Date, _>(end)
    .bind::<Integer, _>(year)
    .bind::<Bool, _>(false)
    .bind::<Date, _>(year_start(year))
    .bind::<BigInt, _>(seen_from)
    .load(conn)?;
    items.extend(item(
        "rating.disciplined_member_not_above_not_completed",
        format!("Members disciplined in {year} and rated above not_completed (an override or self-correction explains some)."),
        None,
        keys(disciplined),
    ));
    Ok(Checks {
        organization: scope.code(),
        year,
        on: end,
        items,
    })
}
