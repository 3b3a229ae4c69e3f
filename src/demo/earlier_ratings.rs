//! Member ratings of other years for a generated province: the data set rates its members for
//! one year only (the report's rating year); the national benchmark wants several (issue 10).
//!
//! From a [`DataSet`]'s own records (members, departures, transfers, exemptions, disciplinary
//! decisions) it writes, as rows of the member-ratings import file, one rating per year for
//! every member on the roll of a branch at that year's end, each within the import's rules
//! (`domain::rating::check_member_rating`, as `store::ratings::create_member_ratings_many`
//! applies them):
//! - members on the roll at the year's end only (admitted by then, not left by then; an
//!   expulsion takes the member off the roll on its decision day), and with a branch then
//!   (`organization_since` reached): the members the annual report counts;
//! - exempt from party work and activities (miễn công tác và sinh hoạt đảng) at the year's end:
//!   `exempt` with its reason, and only they;
//! - admitted less than six months before the year's end (after 30 June): `not_rated` with the
//!   reason;
//! - disciplined by a decision of the year: `not_completed`, or for a few `completed` with
//!   `self_corrected` (tự phát hiện và khắc phục);
//! - a few others `not_rated` (long illness, study abroad, maternity leave), with the reason;
//! - the rest by level shares drawn from the seed (about 15% excellent, 76% good, 7.5%
//!   completed, 1.5% not completed), the excellence quota (excellent at most a fifth of good,
//!   within each grassroots organisation: a warning only, `rating.excellent_quota`) kept by
//!   rating the surplus good;
//! - no score (scores start with the 2025 rating year), no decision date, no override.
//!
//! Deterministic for a seed: each year has its own stream, so the rows of a year do not depend
//! on which other years are asked for.

use std::collections::HashMap;
use std::io::Write;

use chrono::{Datelike, NaiveDate};

use super::dataset::DataSet;
use super::Rng;
use crate::domain::discipline::Form;
use crate::domain::organization::OrgKind;
use crate::domain::rating::{self as rules, year_end, Level, SCORE_FROM_YEAR};
use crate::import::output::Writer;
use crate::import::records::Format;
use crate::import::Kind;
use crate::store::export::ExportRow;

/// The years issue 10 asks for besides the data set's own 2023.
pub const EARLIER_YEARS: [i32; 5] = [2019, 2020, 2021, 2022, 2024];

const EXEMPT_REASON: &str = "Được miễn công tác và sinh hoạt đảng";
const NEW_MEMBER_REASON: &str = "Đảng viên mới kết nạp chưa đủ 6 tháng";
const NOT_RATED_REASONS: [&str; 3] = [
    "Đang điều trị bệnh dài ngày",
    "Đi học tập dài hạn ở nước ngoài",
    "Nghỉ thai sản trong thời gian kiểm điểm",
];
/// Members not rated for another reason than being new, per million.
const OTHER_NOT_RATED_PPM: u64 = 5_000;
/// Members disciplined in the year who found and corrected the fault themselves, per million.
const SELF_CORRECTED_PPM: u64 = 150_000;

/// The level shares of the members rated by chance, per ten thousand, before a year's jitter.
/// Excellent is drawn above the 15% wanted: the quota rates the surplus of the smaller
/// grassroots organisations good.
const SHARES: [(Level, u32); 4] = [
    (Level::Excellent, 2_000),
    (Level::Good, 7_100),
    (Level::Completed, 750),
    (Level::NotCompleted, 150),
];

/// What the data set says of one member, for every year.
struct Member<'a> {
    profile_number: &'a str,
    female: bool,
    admitted_on: NaiveDate,
    /// The first day in a branch (the first official membership).
    since: NaiveDate,
    /// Off the roll from this day: a departure, or an expulsion's decision.
    left_on: Option<NaiveDate>,
    exempt_since: Option<NaiveDate>,
    /// The grassroots organisation of the first branch (an index into the organisations).
    grassroots: u32,
    /// Official transfers: from the day, the grassroots organisation of the new branch.
    transfers: Vec<(NaiveDate, u32)>,
    /// The years of the decisions that disciplined the member, as bits from [`FIRST_YEAR`].
    disciplined: u64,
}

/// The year of bit 0 of [`Member::disciplined`].
const FIRST_YEAR: i32 = 1990;

fn year_bit(year: i32) -> u64 {
    u32::try_from(year - FIRST_YEAR)
        .ok()
        .and_then(|b| 1u64.checked_shl(b))
        .unwrap_or(0)
}

impl Member<'_> {
    fn disciplined_in(&self, year: i32) -> bool {
        self.disciplined & year_bit(year) != 0
    }
}

/// The level of one member for one year, before the quota.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pick {
    Skip,
    Level(Level),
    SelfCorrected,
    NotRated(&'static str),
}

fn column<'a>(row: &'a ExportRow, name: &str) -> Option<&'a str> {
    row.iter()
        .find(|(c, _)| *c == name)
        .map(|(_, v)| v.as_str())
}

fn date_of(row: &ExportRow, name: &str) -> Result<Option<NaiveDate>, String> {
    column(row, name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<NaiveDate>()
                .map_err(|e| format!("{name} {v:?}: {e}"))
        })
        .transpose()
}

fn required<'a>(row: &'a ExportRow, name: &str) -> Result<&'a str, String> {
    column(row, name).ok_or_else(|| format!("a row without {name}: {row:?}"))
}

/// Each organisation's grassroots organisation (tổ chức cơ sở đảng): itself for one, the
/// nearest above for a branch under one; `u32::MAX` for none (the committees above).
fn grassroots_of(data: &DataSet) -> Result<(HashMap<&str, u32>, Vec<u32>), String> {
    let rows = data.rows(Kind::Organizations);
    let index: HashMap<&str, u32> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Ok((required(r, "code")?, i as u32)))
        .collect::<Result<_, String>>()?;
    let mut parent = Vec::with_capacity(rows.len());
    let mut grassroots_kind = Vec::with_capacity(rows.len());
    for row in rows {
        parent.push(column(row, "parent_code").and_then(|p| index.get(p).copied()));
        let kind = OrgKind::parse(required(row, "kind")?)
            .ok_or_else(|| format!("an organisation of no known kind: {row:?}"))?;
        grassroots_kind.push(matches!(
            kind,
            OrgKind::GrassrootsCommittee | OrgKind::GrassrootsBranch
        ));
    }
    let grassroots = (0..rows.len())
        .map(|i| {
            let mut at = Some(i as u32);
            while let Some(o) = at {
                if grassroots_kind[o as usize] {
                    return o;
                }
                at = parent[o as usize];
            }
            u32::MAX
        })
        .collect();
    Ok((index, grassroots))
}

/// The members of the data set with their departures, expulsions, branches and decisions.
fn members_of(data: &DataSet) -> Result<Vec<Member<'_>>, String> {
    let (org_index, grassroots) = grassroots_of(data)?;
    let grassroots_of_code = |code: &str| -> Result<u32, String> {
        org_index
            .get(code)
            .map(|&o| grassroots[o as usize])
            .ok_or_else(|| format!("no organisation {code}"))
    };
    // Decisions on members that are not annulled (the data set has no appeals).
    let mut decisions: HashMap<&str, Vec<(NaiveDate, bool)>> = HashMap::new();
    for row in data.rows(Kind::DisciplinaryActions) {
        if required(row, "subject_type")? != "member"
            || column(row, "appeal_outcome") == Some("annulled")
        {
            continue;
        }
        let on = date_of(row, "decided_on")?.ok_or("a decision without decided_on")?;
        let expelled = required(row, "form")? == Form::Expulsion.as_str();
        decisions
            .entry(required(row, "subject")?)
            .or_default()
            .push((on, expelled));
    }
    let mut moves: HashMap<&str, Vec<(NaiveDate, u32)>> = HashMap::new();
    for row in data.rows(Kind::Transfers) {
        // A temporary activity elsewhere leaves the official membership where it is.
        if column(row, "kind").is_some_and(|k| k != "official") {
            continue;
        }
        let on = date_of(row, "on")?.ok_or("a transfer without on")?;
        moves
            .entry(required(row, "profile_number")?)
            .or_default()
            .push((on, grassroots_of_code(required(row, "organization_code")?)?));
    }
    let rows = data.rows(Kind::Members);
    let mut members = Vec::with_capacity(rows.len());
    for row in rows {
        let profile_number = required(row, "profile_number")?;
        let admitted_on = date_of(row, "admitted_on")?.ok_or("a member without admitted_on")?;
        let mut left_on = date_of(row, "left_on")?;
        let mut disciplined = 0;
        for &(on, expelled) in decisions.get(profile_number).into_iter().flatten() {
            if expelled {
                left_on = Some(left_on.map_or(on, |l| l.min(on)));
            }
            disciplined |= year_bit(on.year());
        }
        let mut transfers = moves.remove(profile_number).unwrap_or_default();
        transfers.sort();
        members.push(Member {
            profile_number,
            female: column(row, "gender") == Some("female"),
            admitted_on,
            since: date_of(row, "organization_since")?.unwrap_or(admitted_on),
            left_on,
            exempt_since: date_of(row, "exempt_since")?,
            grassroots: grassroots_of_code(required(row, "organization_code")?)?,
            transfers,
            disciplined,
        });
    }
    Ok(members)
}

/// The shares of a year: the base shares but good's, each moved by up to a tenth of itself;
/// good takes what the others leave of the ten thousand.
fn year_shares(rng: &mut Rng) -> [(Level, u32); 4] {
    let mut shares = SHARES;
    for (level, w) in shares.iter_mut() {
        if *level != Level::Good {
            let tenth = (*w / 10) as i64;
            *w = (*w as i64 + rng.between(-tenth, tenth)) as u32;
        }
    }
    let others: u32 = shares
        .iter()
        .filter(|(l, _)| *l != Level::Good)
        .map(|(_, w)| w)
        .sum();
    shares[1].1 = 10_000 - others;
    shares
}

/// The most members of a group that may be rated excellent when `excellent` and `good` were
/// drawn and the surplus is rated good: the largest `e` with `5e ≤ good + (excellent − e)`.
pub fn excellent_allowed(excellent: usize, good: usize) -> usize {
    if rules::excellent_quota_holds(excellent, good) {
        excellent
    } else {
        (excellent + good) / 6
    }
}

/// One CSV line of the member-ratings file (columns of `Kind::MemberRatings`: profile_number,
/// year, level, score, reason, self_corrected, decided_on, override_reason). The reasons are
/// this module's own, without a comma, a quote or a line break.
fn line(out: &mut Vec<u8>, profile_number: &str, year: &str, pick: Pick) {
    let (level, reason, self_corrected) = match pick {
        Pick::Level(Level::Exempt) => (Level::Exempt, EXEMPT_REASON, ""),
        Pick::Level(level) => (level, "", ""),
        Pick::SelfCorrected => (Level::Completed, "", "true"),
        Pick::NotRated(reason) => (Level::NotRated, reason, ""),
        Pick::Skip => unreachable!("skipped members have no line"),
    };
    out.extend_from_slice(profile_number.as_bytes());
    out.push(b',');
    out.extend_from_slice(year.as_bytes());
    out.push(b',');
    out.extend_from_slice(level.as_str().as_bytes());
    out.extend_from_slice(b",,");
    out.extend_from_slice(reason.as_bytes());
    out.push(b',');
    out.extend_from_slice(self_corrected.as_bytes());
    out.extend_from_slice(b",,\r\n");
}

/// Writes the member ratings of `years` for the members of `data` (one province) as rows of
/// the member-ratings import file, preceded by its header if `with_header`; the number of rows
/// written. Refuses the data set's own rating year (its ratings are in its file already) and
/// years from 2025 on (they would need QĐ 366's score). Years are written in the order given,
/// members in the data set's order.
pub fn earlier_ratings_csv(
    data: &DataSet,
    seed: u64,
    years: &[i32],
    out: &mut impl Write,
    with_header: bool,
) -> Result<usize, String> {
    let own: Vec<&str> = data
        .rows(Kind::MemberRatings)
        .iter()
        .filter_map(|r| column(r, "year"))
        .take(1)
        .collect();
    for &year in years {
        if own.iter().any(|y| y.parse() == Ok(year)) {
            return Err(format!("the data set rates its members for {year} already"));
        }
        if year >= SCORE_FROM_YEAR {
            return Err(format!(
                "ratings from {SCORE_FROM_YEAR} on carry a score; {year} is not generated"
            ));
        }
        if years.iter().filter(|&&y| y == year).count() > 1 {
            return Err(format!("{year} is asked for twice"));
        }
    }
    let members = members_of(data)?;
    let groups = members
        .iter()
        .flat_map(|m| std::iter::once(m.grassroots).chain(m.transfers.iter().map(|t| t.1)))
        .filter(|&g| g != u32::MAX)
        .max()
        .map_or(0, |g| g as usize + 1);
    let io = |e: std::io::Error| format!("writing the ratings: {e}");
    let mut buffer = Vec::with_capacity(1 << 17);
    if with_header {
        let mut writer = Writer::new(Kind::MemberRatings, Format::Csv);
        writer.start(&mut buffer);
    }
    let mut written = 0;
    let mut picks = vec![Pick::Skip; members.len()];
    let mut group_of = vec![u32::MAX; members.len()];
    for &year in years {
        let end = year_end(year);
        let year_text = year.to_string();
        let mut rng = Rng::new(seed ^ (year as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let shares = year_shares(&mut rng);
        let mut drawn = vec![(0usize, 0usize); groups];
        for (i, m) in members.iter().enumerate() {
            // Two draws per member whatever its facts, so that one member's facts do not move
            // another's level.
            let (a, b) = (rng.next_u64(), rng.next_u64());
            let on_roll =
                m.admitted_on <= end && m.since <= end && m.left_on.is_none_or(|left| left > end);
            if !on_roll {
                picks[i] = Pick::Skip;
                continue;
            }
            let ppm = |x: u64| x % 1_000_000;
            picks[i] = if m.exempt_since.is_some_and(|from| from <= end) {
                Pick::Level(Level::Exempt)
            } else if rules::under_six_months(m.admitted_on, year) {
                Pick::NotRated(NEW_MEMBER_REASON)
            } else if m.disciplined_in(year) {
                if ppm(a) < SELF_CORRECTED_PPM {
                    Pick::SelfCorrected
                } else {
                    Pick::Level(Level::NotCompleted)
                }
            } else if ppm(a) < OTHER_NOT_RATED_PPM {
                // Maternity leave is a reason for women only.
                let reasons = if m.female {
                    &NOT_RATED_REASONS[..]
                } else {
                    &NOT_RATED_REASONS[..2]
                };
                Pick::NotRated(reasons[(b % reasons.len() as u64) as usize])
            } else {
                let mut pick = (b % 10_000) as u32;
                let mut level = Level::Good;
                for (l, w) in shares {
                    if pick < w {
                        level = l;
                        break;
                    }
                    pick -= w;
                }
                Pick::Level(level)
            };
            let group = m
                .transfers
                .iter()
                .rev()
                .find(|(on, _)| *on <= end)
                .map_or(m.grassroots, |(_, g)| *g);
            group_of[i] = group;
            if group != u32::MAX {
                let counts = &mut drawn[group as usize];
                match picks[i] {
                    Pick::Level(Level::Excellent) => counts.0 += 1,
                    Pick::Level(Level::Good) => counts.1 += 1,
                    _ => {}
                }
            }
        }
        // The quota: the excellent beyond it in a group (the last drawn) are rated good.
        let mut allowed: Vec<usize> = drawn
            .iter()
            .map(|&(excellent, good)| excellent_allowed(excellent, good))
            .collect();
        for (i, m) in members.iter().enumerate() {
            let mut pick = picks[i];
            if pick == Pick::Skip {
                continue;
            }
            if pick == Pick::Level(Level::Excellent) && group_of[i] != u32::MAX {
                let left = &mut allowed[group_of[i] as usize];
                if *left == 0 {
                    pick = Pick::Level(Level::Good);
                } else {
                    *left -= 1;
                }
            }
            debug_assert!(
                obeys_the_rules(m, year, pick),
                "{} {year}",
                m.profile_number
            );
            line(&mut buffer, m.profile_number, &year_text, pick);
            written += 1;
            if buffer.len() >= 1 << 16 {
                out.write_all(&buffer).map_err(io)?;
                buffer.clear();
            }
        }
    }
    out.write_all(&buffer).map_err(io)?;
    Ok(written)
}

/// The import's own rules for the row (`check_reason`, `check_score`, `check_member_rating`
/// with the facts `store::ratings::facts_of` would find).
fn obeys_the_rules(m: &Member, year: i32, pick: Pick) -> bool {
    let (level, reason, self_corrected) = match pick {
        Pick::Level(Level::Exempt) => (Level::Exempt, Some(EXEMPT_REASON), false),
        Pick::Level(level) => (level, None, false),
        Pick::SelfCorrected => (Level::Completed, None, true),
        Pick::NotRated(reason) => (Level::NotRated, Some(reason), false),
        Pick::Skip => return false,
    };
    let (start, end) = (rules::year_start(year), year_end(year));
    // The exemption ends when the member leaves the roll.
    let exemption = m.exempt_since.map(|from| (from, m.left_on));
    let facts = rules::MemberFacts {
        admitted_on: m.admitted_on,
        left_on: m.left_on,
        exempt_at_year_end: exemption.is_some_and(|(s, e)| s <= end && e.is_none_or(|e| end < e)),
        exempt_during_year: exemption.is_some_and(|(s, e)| s <= end && e.is_none_or(|e| start < e)),
        disciplined_in_year: m.disciplined_in(year),
    };
    rules::check_reason(level, reason).is_ok()
        && rules::check_score(year, level, None).is_ok()
        && rules::check_member_rating(year, level, self_corrected, &facts).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::figures::Figures;
    use crate::import::records::read;

    fn small() -> DataSet {
        let f = Figures::hau_giang_2024().scaled("TT", "Đảng bộ tỉnh Thử", 0.2);
        DataSet::generate(11, &f).unwrap()
    }

    fn generate(data: &DataSet, seed: u64, years: &[i32]) -> (usize, Vec<u8>) {
        let mut out = Vec::new();
        let n = earlier_ratings_csv(data, seed, years, &mut out, true).unwrap();
        (n, out)
    }

    #[test]
    fn the_quota_rates_the_surplus_good() {
        assert_eq!(excellent_allowed(2, 10), 2);
        assert_eq!(excellent_allowed(3, 10), 2);
        assert_eq!(excellent_allowed(1, 0), 0);
        assert_eq!(excellent_allowed(0, 0), 0);
        for (e, g) in [(7, 3), (30, 100), (100, 0), (13, 64)] {
            let a = excellent_allowed(e, g);
            assert!(rules::excellent_quota_holds(a, g + e - a), "{e} {g}");
            assert!(!rules::excellent_quota_holds(a + 1, g + e - a - 1) || a == e);
        }
    }

    #[test]
    fn a_line_reads_back_as_the_import_writer_writes_it() {
        let picks = [
            Pick::Level(Level::Good),
            Pick::Level(Level::Exempt),
            Pick::SelfCorrected,
            Pick::NotRated(NOT_RATED_REASONS[2]),
        ];
        for pick in picks {
            let mut mine = Vec::new();
            line(&mut mine, "TT-000001", "2021", pick);
            let mut row: ExportRow = vec![
                ("profile_number", "TT-000001".into()),
                ("year", "2021".into()),
            ];
            match pick {
                Pick::Level(Level::Exempt) => {
                    row.push(("level", "exempt".into()));
                    row.push(("reason", EXEMPT_REASON.into()));
                }
                Pick::Level(level) => row.push(("level", level.as_str().into())),
                Pick::SelfCorrected => {
                    row.push(("level", "completed".into()));
                    row.push(("self_corrected", "true".into()));
                }
                Pick::NotRated(reason) => {
                    row.push(("level", "not_rated".into()));
                    row.push(("reason", reason.into()));
                }
                Pick::Skip => unreachable!(),
            }
            let mut theirs = Vec::new();
            Writer::new(Kind::MemberRatings, Format::Csv).row(&mut theirs, &row);
            assert_eq!(
                String::from_utf8(mine).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }

    #[test]
    fn a_seed_gives_the_same_rows_and_each_member_one_a_year_within_the_rules() {
        let data = small();
        let (n, first) = generate(&data, 5, &EARLIER_YEARS);
        let (m, again) = generate(&data, 5, &EARLIER_YEARS);
        assert_eq!((n, &first), (m, &again));
        let (_, other) = generate(&data, 6, &EARLIER_YEARS);
        assert_ne!(first, other);
        // A year's rows do not depend on the other years asked for.
        let (_, only_2021) = generate(&data, 5, &[2021]);
        let lines_2021 = |bytes: &[u8]| -> Vec<String> {
            String::from_utf8(bytes.to_vec())
                .unwrap()
                .lines()
                .filter(|l| l.contains(",2021,"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(lines_2021(&first), lines_2021(&only_2021));

        let mut rows = Vec::new();
        read(Format::Csv, first.as_slice(), |r| {
            rows.push(r.values);
            true
        })
        .unwrap();
        assert_eq!(rows.len(), n);
        let members = data.member_count();
        let mut seen = std::collections::HashSet::new();
        let mut per_year: HashMap<i32, [usize; 6]> = HashMap::new();
        for r in &rows {
            let year: i32 = r["year"].parse().unwrap();
            assert!(seen.insert((r["profile_number"].clone(), year)));
            let level = Level::parse(&r["level"]).unwrap();
            per_year.entry(year).or_default()[level as usize] += 1;
            assert_eq!(
                !level.is_rated(),
                r.get("reason").is_some_and(|s| !s.is_empty())
            );
        }
        let mut years: Vec<i32> = per_year.keys().copied().collect();
        years.sort();
        assert_eq!(years, EARLIER_YEARS);
        for (year, counts) in per_year {
            let total: usize = counts.iter().sum();
            assert!(total > members / 2 && total <= members, "{year}: {total}");
            let rated: usize = counts[..4].iter().sum();
            let share = |n: usize| n as f64 / rated as f64;
            assert!(
                (0.12..0.18).contains(&share(counts[0])),
                "{year} {counts:?}"
            );
            assert!(
                (0.70..0.82).contains(&share(counts[1])),
                "{year} {counts:?}"
            );
            assert!(rules::excellent_quota_holds(counts[0], counts[1]));
            assert!(counts[4] > 0, "exempt members in {year}");
        }
    }

    #[test]
    fn the_data_sets_own_year_and_scored_years_are_refused() {
        let data = small();
        let mut out = Vec::new();
        assert!(earlier_ratings_csv(&data, 1, &[2022, 2023], &mut out, false).is_err());
        assert!(earlier_ratings_csv(&data, 1, &[2025], &mut out, false).is_err());
        assert!(earlier_ratings_csv(&data, 1, &[2022, 2022], &mut out, false).is_err());
        assert!(out.is_empty());
    }
}
