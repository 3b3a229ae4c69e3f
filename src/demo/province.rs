//! A province of a given shape: its organisation tree (named after Hậu Giang's districts and
//! towns) and its members, generated deterministically from a seed.

use chrono::{Datelike, Months, NaiveDate};

use super::{names, Rng};
use crate::domain::member::Gender;
use crate::domain::organization::OrgKind;
use crate::store::members::NewMember;
use crate::store::organizations::NewOrganization;

/// How many of each kind a province has.
#[derive(Debug, Clone)]
pub struct Shape {
    pub grassroots_committees: usize,
    pub grassroots_branches: usize,
    pub sub_branches: usize,
    pub members: usize,
}

impl Shape {
    /// Hậu Giang at the end of 2023: 164 + 342 grassroots organisations, 1,516 sub-branches,
    /// 33,923 members (report-figures.md).
    pub fn province() -> Shape {
        Shape {
            grassroots_committees: 164,
            grassroots_branches: 342,
            sub_branches: 1516,
            members: 33_923,
        }
    }
}

/// The 11 committees directly under the provincial committee: the province's cities, towns
/// and districts, the bloc committee, and the armed forces.
pub const SUBORDINATES: [(&str, &str); 11] = [
    ("VT", "Thành ủy Vị Thanh"),
    ("NB", "Thành ủy Ngã Bảy"),
    ("LMX", "Thị ủy Long Mỹ"),
    ("CT", "Huyện ủy Châu Thành"),
    ("CTA", "Huyện ủy Châu Thành A"),
    ("PH", "Huyện ủy Phụng Hiệp"),
    ("VTH", "Huyện ủy Vị Thủy"),
    ("LMH", "Huyện ủy Long Mỹ"),
    ("KCQ", "Đảng ủy Khối Cơ quan và Doanh nghiệp tỉnh"),
    ("QS", "Đảng ủy Quân sự tỉnh"),
    ("CA", "Đảng ủy Công an tỉnh"),
];

const COMMITTEE_UNITS: [&str; 6] = ["xã", "phường", "thị trấn", "cơ quan", "trường", "công ty"];
const BRANCH_UNITS: [&str; 5] = ["trường", "trạm y tế", "ban", "hợp tác xã", "cơ quan"];
const SUB_BRANCH_UNITS: [&str; 3] = ["ấp", "khu vực", "tổ"];

pub struct Province {
    pub organizations: Vec<NewOrganization>,
    pub members: Vec<NewMember>,
}

fn org(
    code: String,
    name: String,
    kind: OrgKind,
    parent: Option<&str>,
    established_on: NaiveDate,
) -> NewOrganization {
    NewOrganization {
        code,
        name,
        kind,
        parent_code: parent.map(str::to_string),
        established_on,
        dissolved_on: None,
        has_branch_committee: false,
    }
}

/// The province `code` (e.g. `HG`) of `shape`, everything established on `founded`.
pub fn generate(seed: u64, code: &str, name: &str, shape: &Shape, founded: NaiveDate) -> Province {
    let mut rng = Rng::new(seed);
    let mut organizations = vec![org(
        code.into(),
        name.into(),
        OrgKind::ProvincialCommittee,
        None,
        founded,
    )];
    let districts: Vec<String> = SUBORDINATES
        .iter()
        .map(|(c, _)| format!("{code}.{c}"))
        .collect();
    for ((_, district_name), district) in SUBORDINATES.iter().zip(&districts) {
        organizations.push(org(
            district.clone(),
            district_name.to_string(),
            OrgKind::SubordinateCommittee,
            Some(code),
            founded,
        ));
    }
    let mut committees = Vec::new();
    for i in 0..shape.grassroots_committees {
        let district = &districts[i % districts.len()];
        let c = format!("{district}.{:02}", i / districts.len() + 1);
        let unit = rng.pick(&COMMITTEE_UNITS);
        organizations.push(org(
            c.clone(),
            format!("Đảng bộ {unit} {}", i + 1),
            OrgKind::GrassrootsCommittee,
            Some(district),
            founded,
        ));
        committees.push(c);
    }
    let mut branches = Vec::new();
    for i in 0..shape.grassroots_branches {
        let district = &districts[i % districts.len()];
        let c = format!("{district}.B{:02}", i / districts.len() + 1);
        let unit = rng.pick(&BRANCH_UNITS);
        organizations.push(org(
            c.clone(),
            format!("Chi bộ {unit} {}", i + 1),
            OrgKind::GrassrootsBranch,
            Some(district),
            founded,
        ));
        branches.push(c);
    }
    for i in 0..shape.sub_branches {
        let committee = &committees[i % committees.len().max(1)];
        let c = format!("{committee}.{:02}", i / committees.len().max(1) + 1);
        let unit = rng.pick(&SUB_BRANCH_UNITS);
        organizations.push(org(
            c.clone(),
            format!("Chi bộ {unit} {}", i + 1),
            OrgKind::SubBranch,
            Some(committee),
            founded,
        ));
        branches.push(c);
    }

    let last_admission = NaiveDate::from_ymd_opt(2023, 6, 30).expect("valid date");
    let mut members = Vec::with_capacity(shape.members);
    for i in 0..shape.members {
        let gender = if rng.chance(0.62) {
            Gender::Male
        } else {
            Gender::Female
        };
        let born_on = NaiveDate::from_ymd_opt(
            rng.between(1945, 2004) as i32,
            rng.between(1, 12) as u32,
            rng.between(1, 28) as u32,
        )
        .expect("valid date");
        let eighteen = born_on
            .checked_add_months(Months::new(18 * 12 + 1))
            .expect("in range");
        let latest = born_on
            .checked_add_months(Months::new(45 * 12))
            .expect("in range")
            .min(last_admission);
        let span = (latest - eighteen).num_days().max(0);
        let admitted_on = eighteen + chrono::Duration::days(rng.between(0, span));
        let ceremony_on = admitted_on + chrono::Duration::days(rng.between(0, 30));
        let official = ceremony_on
            .checked_add_months(Months::new(12))
            .expect("in range");
        let is_full = official <= last_admission;
        let branch = rng.pick(&branches).clone();
        let century =
            if born_on.year() >= 2000 { 2 } else { 0 } + u32::from(gender == Gender::Female);
        members.push(NewMember {
            profile_number: format!("{code}-{:06}", i + 1),
            card_number: is_full.then(|| format!("{:08}", 10_000_000 + i)),
            full_name: names::full_name(&mut rng, gender),
            gender,
            born_on,
            ethnicity: Some(names::ethnicity(&mut rng)),
            religion: names::religion(&mut rng),
            national_id: Some(format!(
                "093{century}{:02}{:06}",
                born_on.year() % 100,
                rng.below(1_000_000)
            )),
            organization_code: branch,
            organization_since: Some(admitted_on.max(founded)),
            admitted_on,
            ceremony_on: Some(ceremony_on),
            official_on: is_full.then_some(official),
            exempt_since: None,
            override_reason: None,
        });
    }
    Province {
        organizations,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_province_and_the_shape_holds() {
        let shape = Shape {
            grassroots_committees: 12,
            grassroots_branches: 20,
            sub_branches: 40,
            members: 300,
        };
        let founded = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        let a = generate(7, "HG", "Đảng bộ tỉnh Hậu Giang", &shape, founded);
        let b = generate(7, "HG", "Đảng bộ tỉnh Hậu Giang", &shape, founded);
        assert_eq!(a.organizations.len(), 1 + 11 + 12 + 20 + 40);
        assert_eq!(a.members.len(), 300);
        let names = |p: &Province| {
            p.members
                .iter()
                .map(|m| m.full_name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        for m in &a.members {
            let months = crate::domain::member::months_between(m.born_on, m.admitted_on);
            assert!(
                (216..=720).contains(&months),
                "{} admitted at {months} months",
                m.profile_number
            );
            assert!(m.ceremony_on.unwrap() >= m.admitted_on);
        }
    }
}
