//! The figures a demonstration data set is built to reproduce: what a province's annual report
//! says (số liệu báo cáo), as input to the generator. The statistics never read these: they are
//! computed from the generated records, and the end-to-end test compares the two.
//!
//! `Figures::hau_giang_2024()` holds the 2024 report of the Hậu Giang Provincial Party
//! Committee; any other province and year can be described in the same shape (JSON, for
//! `party-records demo --figures FILE`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    pub province: Province,
    /// The report's year: admissions, discipline and insignia of this year; structure and
    /// ratings of the year before (the review at its end).
    pub year: i32,
    pub structure: Structure,
    pub organization_ratings: OrganizationRatings,
    pub member_ratings: MemberRatings,
    pub admissions: Admissions,
    pub discipline: Discipline,
    pub insignia: Insignia,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Province {
    /// Organisation code of the provincial committee, e.g. `HG`.
    pub code: String,
    pub name: String,
    pub established_on: NaiveDate,
}

/// Organisations and members at the end of the rating year (year − 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Structure {
    pub party_delegations: usize,
    pub party_affairs_committees: usize,
    pub other_bodies: usize,
    pub subordinate_committees: usize,
    pub grassroots_committees: usize,
    pub grassroots_branches: usize,
    pub sub_branches: usize,
    pub members: usize,
}

/// One rating table of organisations. `not_rated` are the organisations established less
/// than six months before the review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationLevels {
    pub excellent: usize,
    pub good: usize,
    pub completed: usize,
    pub not_completed: usize,
    pub not_rated: usize,
}

impl OrganizationLevels {
    pub fn rated(&self) -> usize {
        self.excellent + self.good + self.completed + self.not_completed
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationRatings {
    /// Grassroots organisations (tổ chức cơ sở đảng).
    pub grassroots: OrganizationLevels,
    /// Sub-branches (chi bộ trực thuộc đảng ủy cơ sở).
    pub sub_branches: OrganizationLevels,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRatings {
    pub exempt: usize,
    pub not_rated: usize,
    pub excellent: usize,
    pub good: usize,
    pub completed: usize,
    pub not_completed: usize,
}

impl MemberRatings {
    pub fn rated(&self) -> usize {
        self.excellent + self.good + self.completed + self.not_completed
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admissions {
    /// Admitted during the year (kết nạp).
    pub admitted: usize,
    /// The province's plan target (chỉ tiêu).
    pub target: usize,
    /// Members on the roll at the end of the year.
    pub members_at_end: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberForms {
    pub reprimand: usize,
    pub warning: usize,
    pub dismissal: usize,
    pub expulsion: usize,
}

impl MemberForms {
    pub fn total(&self) -> usize {
        self.reprimand + self.warning + self.dismissal + self.expulsion
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationForms {
    pub reprimand: usize,
    pub warning: usize,
    pub dissolution: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discipline {
    pub members: MemberForms,
    /// Members disciplined the year before (the report gives only the total, "tăng 40").
    pub previous_year_members: usize,
    pub organizations: OrganizationForms,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub tier: u32,
    /// All awards of the tier in the year, posthumous and early ones included.
    pub awarded: usize,
    pub posthumous: usize,
    pub early: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insignia {
    /// The award days of the year, as `MM-DD` (3/2, 19/5, 2/9, 7/11).
    pub batches: Vec<String>,
    pub tiers: Vec<Tier>,
}

impl Figures {
    /// The 2024 work report of the Hậu Giang Provincial Party Committee (report-figures.md):
    /// structure and ratings at the end of 2023, admissions, discipline and insignia of 2024.
    pub fn hau_giang_2024() -> Figures {
        let levels = |excellent, good, completed, not_completed, not_rated| OrganizationLevels {
            excellent,
            good,
            completed,
            not_completed,
            not_rated,
        };
        let tier = |tier, awarded, posthumous, early| Tier {
            tier,
            awarded,
            posthumous,
            early,
        };
        Figures {
            province: Province {
                code: "HG".into(),
                name: "Đảng bộ tỉnh Hậu Giang".into(),
                established_on: NaiveDate::from_ymd_opt(2004, 1, 1).expect("valid date"),
            },
            year: 2024,
            structure: Structure {
                party_delegations: 8,
                party_affairs_committees: 3,
                other_bodies: 1,
                subordinate_committees: 11,
                grassroots_committees: 164,
                grassroots_branches: 342,
                sub_branches: 1516,
                members: 33_923,
            },
            organization_ratings: OrganizationRatings {
                grassroots: levels(77, 403, 25, 0, 1),
                sub_branches: levels(230, 1246, 26, 13, 1),
            },
            member_ratings: MemberRatings {
                exempt: 2595,
                not_rated: 382,
                excellent: 4571,
                good: 24_344,
                completed: 1823,
                not_completed: 208,
            },
            admissions: Admissions {
                admitted: 1293,
                target: 1150,
                members_at_end: 34_801,
            },
            discipline: Discipline {
                members: MemberForms {
                    reprimand: 90,
                    warning: 32,
                    dismissal: 7,
                    expulsion: 34,
                },
                previous_year_members: 123,
                organizations: OrganizationForms {
                    reprimand: 1,
                    warning: 1,
                    dissolution: 0,
                },
            },
            insignia: Insignia {
                batches: ["02-03", "05-19", "09-02", "11-07"]
                    .map(String::from)
                    .to_vec(),
                tiers: vec![
                    tier(30, 182, 0, 0),
                    tier(40, 182, 0, 0),
                    tier(45, 57, 0, 0),
                    tier(50, 42, 0, 0),
                    tier(55, 32, 0, 0),
                    tier(60, 24, 1, 1),
                    tier(65, 2, 1, 0),
                ],
            },
        }
    }

    /// A province of the same shape `factor` times the size (0.2 to 10), under another code
    /// and name: every count scaled, the parts made to add up again (the national benchmark's
    /// provinces).
    pub fn scaled(&self, code: &str, name: &str, factor: f64) -> Figures {
        let factor = factor.clamp(0.2, 10.0);
        let n = |count: usize| ((count as f64) * factor).round() as usize;
        let mut f = self.clone();
        f.province.code = code.into();
        f.province.name = name.into();
        let s = &mut f.structure;
        s.subordinate_committees = ((s.subordinate_committees as f64) * factor.sqrt())
            .round()
            .max(3.0) as usize;
        s.grassroots_committees = n(s.grassroots_committees).max(s.subordinate_committees);
        s.grassroots_branches = n(s.grassroots_branches).max(1);
        s.sub_branches = n(s.sub_branches).max(s.grassroots_committees);
        for (levels, total) in [
            (
                &mut f.organization_ratings.grassroots,
                s.grassroots_committees + s.grassroots_branches,
            ),
            (&mut f.organization_ratings.sub_branches, s.sub_branches),
        ] {
            levels.excellent = n(levels.excellent);
            levels.completed = n(levels.completed);
            levels.not_completed = n(levels.not_completed);
            levels.good = total
                - levels.not_rated
                - levels.excellent
                - levels.completed
                - levels.not_completed;
        }
        let m = &mut f.member_ratings;
        s.members = n(s.members);
        m.exempt = n(m.exempt);
        m.not_rated = n(m.not_rated);
        m.excellent = n(m.excellent);
        m.completed = n(m.completed);
        m.not_completed = n(m.not_completed);
        m.good = s.members - m.exempt - m.not_rated - m.excellent - m.completed - m.not_completed;
        let leavers = n(self.leavers().unwrap_or(0));
        let a = &mut f.admissions;
        a.admitted = n(a.admitted);
        a.target = n(a.target);
        a.members_at_end = s.members + a.admitted - leavers;
        let d = &mut f.discipline;
        d.members.reprimand = n(d.members.reprimand);
        d.members.warning = n(d.members.warning);
        d.members.dismissal = n(d.members.dismissal);
        d.members.expulsion = n(d.members.expulsion);
        d.previous_year_members = n(d.previous_year_members);
        for t in &mut f.insignia.tiers {
            t.awarded = n(t.awarded).max(t.posthumous + t.early);
        }
        f
    }

    /// Members who leave the roll during the year: the roll at its start, plus admissions,
    /// minus the roll at its end.
    pub fn leavers(&self) -> Option<usize> {
        (self.structure.members + self.admissions.admitted)
            .checked_sub(self.admissions.members_at_end)
    }

    /// The award days of the year.
    pub fn batch_days(&self) -> Result<Vec<NaiveDate>, String> {
        let mut days = self
            .insignia
            .batches
            .iter()
            .map(|b| {
                NaiveDate::parse_from_str(&format!("{}-{b}", self.year), "%Y-%m-%d")
                    .map_err(|_| format!("insignia batch {b:?} is not MM-DD"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        days.sort();
        if days.is_empty() {
            return Err("insignia needs at least one batch day".into());
        }
        Ok(days)
    }

    /// The figures describe a province that can exist: the parts add up to the wholes.
    pub fn check(&self) -> Result<(), String> {
        let s = &self.structure;
        let o = &self.organization_ratings;
        let m = &self.member_ratings;
        let mut problems = Vec::new();
        let mut expect = |what: &str, found: usize, wanted: usize| {
            if found != wanted {
                problems.push(format!(
                    "{what}: the parts make {found}, the whole is {wanted}"
                ));
            }
        };
        expect(
            "grassroots organisations rated + not rated",
            o.grassroots.rated() + o.grassroots.not_rated,
            s.grassroots_committees + s.grassroots_branches,
        );
        expect(
            "sub-branches rated + not rated",
            o.sub_branches.rated() + o.sub_branches.not_rated,
            s.sub_branches,
        );
        expect(
            "members rated + exempt + not rated",
            m.rated() + m.exempt + m.not_rated,
            s.members,
        );
        if s.subordinate_committees == 0 || s.grassroots_committees == 0 {
            problems.push("a province has subordinate and grassroots committees".into());
        }
        if o.grassroots.not_rated > s.grassroots_branches {
            problems.push("the new grassroots organisations are grassroots branches".into());
        }
        let leavers = self.leavers();
        match leavers {
            None => problems.push(
                "more members at the end of the year than on the roll plus admissions".into(),
            ),
            Some(l) => {
                let posthumous: usize = self.insignia.tiers.iter().map(|t| t.posthumous).sum();
                if l < self.discipline.members.expulsion + posthumous {
                    problems.push(format!(
                        "{l} members leave during the year, fewer than the expelled and the deceased with posthumous insignia"
                    ));
                }
            }
        }
        for t in &self.insignia.tiers {
            if crate::domain::insignia::check_tier(t.tier as i32).is_err() {
                problems.push(format!("{} is not an insignia tier", t.tier));
            }
            if t.posthumous + t.early > t.awarded {
                problems.push(format!(
                    "tier {}: more posthumous and early awards than awards",
                    t.tier
                ));
            }
        }
        if let Err(e) = self.batch_days() {
            problems.push(e);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hau_giang_figures_add_up() {
        let f = Figures::hau_giang_2024();
        assert_eq!(f.check(), Ok(()));
        assert_eq!(f.leavers(), Some(415));
        assert_eq!(f.member_ratings.rated(), 30_946);
        let total: usize = f.insignia.tiers.iter().map(|t| t.awarded).sum();
        assert_eq!(total, 521);
    }

    #[test]
    fn figures_that_do_not_add_up_are_refused() {
        let mut f = Figures::hau_giang_2024();
        f.member_ratings.good -= 1;
        f.admissions.members_at_end = 40_000;
        let problems = f.check().unwrap_err();
        assert!(
            problems.contains("members rated + exempt + not rated"),
            "{problems}"
        );
        assert!(problems.contains("more members at the end"), "{problems}");
    }

    #[test]
    fn scaled_figures_still_add_up() {
        let hg = Figures::hau_giang_2024();
        for factor in [0.2, 0.7, 1.0, 2.5, 4.6, 10.0] {
            let f = hg.scaled("T01", "Đảng bộ tỉnh Một", factor);
            assert_eq!(f.check(), Ok(()), "factor {factor}");
            assert_eq!(f.province.code, "T01");
        }
        assert_eq!(hg.scaled("HG", &hg.province.name, 1.0), hg);
        assert_eq!(hg.scaled("X", "X", 2.0).structure.members, 67_846);
    }

    #[test]
    fn figures_read_from_json() {
        let f = Figures::hau_giang_2024();
        let json = serde_json::to_string(&f).unwrap();
        let back: Figures = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<Figures>(&json.replace("\"year\"", "\"yaer\"")).is_err());
    }
}
