//! What happened to a member, in order, and their party age on a day.

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub on: NaiveDate,
    pub kind: String,
    pub details: Value,
    #[serde(serialize_with = "crate::time::ser")]
    pub recorded_at: NaiveDateTime,
    pub recorded_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Position {
    pub title: String,
    pub organization_code: Option<String>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub profile_number: String,
    pub events: Vec<HistoryEntry>,
    pub positions: Vec<Position>,
}

pub fn history(conn: &mut DbConn, vis: Visibility, profile_number: &str) -> Result<History> {
    let row = find_visible(conn, vis, profile_number)?;
    let rows: Vec<(NaiveDate, String, String, NaiveDateTime, Option<String>)> = events::table
        .filter(events::member_id.eq(row.id))
        .order((events::occurred_on.asc(), events::id.asc()))
        .select((
            events::occurred_on,
            events::kind,
            events::details,
            events::recorded_at,
            events::recorded_by,
        ))
        .load(conn)?;
    let held: Vec<(String, Option<i64>, NaiveDate, Option<NaiveDate>)> = positions::table
        .filter(positions::member_id.eq(row.id))
        .order(positions::starts_on.asc())
        .select((
            positions::title,
            positions::organization_id,
            positions::starts_on,
            positions::ends_on,
        ))
        .load(conn)?;
    let org_ids: Vec<i64> = held.iter().filter_map(|p| p.1).collect();
    let codes: HashMap<i64, String> = orgs::table
        .filter(orgs::id.eq_any(org_ids))
        .select((orgs::id, orgs::code))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(History {
        profile_number: row.profile_number,
        events: rows
            .into_iter()
            .map(
                |(on, kind, details, recorded_at, recorded_by)| HistoryEntry {
                    on,
                    kind,
                    details: serde_json::from_str(&details).unwrap_or(Value::Null),
                    recorded_at,
                    recorded_by,
                },
            )
            .collect(),
        positions: held
            .into_iter()
            .map(|(title, org, starts_on, ends_on)| Position {
                title,
                organization_code: org.and_then(|id| codes.get(&id).cloned()),
                starts_on,
                ends_on,
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub reason: GapReason,
    pub starts_on: NaiveDate,
    /// `None` while the gap lasts (an expulsion until readmission).
    pub ends_on: Option<NaiveDate>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartyAgeAnswer {
    pub profile_number: String,
    pub on: NaiveDate,
    pub admitted_on: NaiveDate,
    #[serde(flatten)]
    pub age: PartyAge,
    pub gaps: Vec<Gap>,
}

pub fn gaps_of(conn: &mut DbConn, member_id: i64) -> Result<Vec<Gap>> {
    let rows: Vec<(String, NaiveDate, Option<NaiveDate>, Option<String>)> = gaps::table
        .filter(gaps::member_id.eq(member_id))
        .order(gaps::starts_on.asc())
        .select((gaps::reason, gaps::starts_on, gaps::ends_on, gaps::note))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(reason, starts_on, ends_on, note)| Gap {
            reason: GapReason::parse(&reason).expect("CHECK-constrained"),
            starts_on,
            ends_on,
            note,
        })
        .collect())
}

pub fn party_age(
    conn: &mut DbConn,
    vis: Visibility,
    profile_number: &str,
    on: NaiveDate,
) -> Result<PartyAgeAnswer> {
    let row = find_visible(conn, vis, profile_number)?;
    let gaps = gaps_of(conn, row.id)?;
    let spans: Vec<Period> = gaps.iter().map(|g| (g.starts_on, g.ends_on)).collect();
    let age = rules::party_age(row.admitted_on, &spans, on)?;
    Ok(PartyAgeAnswer {
        profile_number: row.profile_number,
        on,
        admitted_on: row.admitted_on,
        age,
        gaps: gaps.into_iter().filter(|g| g.starts_on < on).collect(),
    })
}
