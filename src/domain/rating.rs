//! Annual quality ratings (đánh giá, xếp loại chất lượng) of members and organisations.
//!
//! Versioned by rating year: QĐ 124-QĐ/TW (04/10/2023) with HD 25-HD/BTCTW for the 2023 and
//! 2024 rating years; QĐ 366-QĐ/TW (30/8/2025) with its 100-point score from 2025 on
//! (domain-rules.md §0, §1). Where the 2025 texts were NOT FOUND (KHTNV criteria, who is not
//! rated, the 20% quota) the QĐ 124 rules are kept, as the research advises.

use chrono::NaiveDate;

use super::member::months_between;
use super::{text_enum, RuleViolation};

text_enum! {
    pub enum Level {
        /// Hoàn thành xuất sắc nhiệm vụ (HTXSNV).
        Excellent = "excellent",
        /// Hoàn thành tốt nhiệm vụ (HTTNV).
        Good = "good",
        /// Hoàn thành nhiệm vụ (HTNV).
        Completed = "completed",
        /// Không hoàn thành nhiệm vụ (KHTNV).
        NotCompleted = "not_completed",
        /// Miễn đánh giá, xếp loại.
        Exempt = "exempt",
        /// Chưa đánh giá, xếp loại.
        NotRated = "not_rated",
    }
}

impl Level {
    /// One of the four levels (as opposed to exempt or not rated).
    pub fn is_rated(self) -> bool {
        matches!(
            self,
            Level::Excellent | Level::Good | Level::Completed | Level::NotCompleted
        )
    }

    /// Vietnamese label, for report text.
    pub fn label(self) -> &'static str {
        match self {
            Level::Excellent => "Hoàn thành xuất sắc nhiệm vụ",
            Level::Good => "Hoàn thành tốt nhiệm vụ",
            Level::Completed => "Hoàn thành nhiệm vụ",
            Level::NotCompleted => "Không hoàn thành nhiệm vụ",
            Level::Exempt => "Miễn đánh giá, xếp loại",
            Level::NotRated => "Chưa đánh giá, xếp loại",
        }
    }
}

/// The first rating year with QĐ 366's 100-point score.
pub const SCORE_FROM_YEAR: i32 = 2025;

/// The last day of a rating year: the review is held at its end.
pub fn year_end(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 12, 31).expect("valid year")
}

pub fn year_start(year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year")
}

fn level_error(code: &'static str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(code, "level", message)
}

/// `rating.score_before_2025`, `rating.score_band`: QĐ 366 Điều 11 — HTXSNV from 90 points,
/// HTTNV 70 to under 90, HTNV 50 to under 70 (CONFIRMED); KHTNV below 50 (the band left over;
/// its criteria were NOT FOUND). No score before the 2025 rating year.
pub fn check_score(year: i32, level: Level, score: Option<i32>) -> Result<(), RuleViolation> {
    let Some(score) = score else { return Ok(()) };
    if year < SCORE_FROM_YEAR {
        return Err(RuleViolation::new(
            "rating.score_before_2025",
            "score",
            format!("Scores start with the {SCORE_FROM_YEAR} rating year (QĐ 366-QĐ/TW)."),
        ));
    }
    let band = match level {
        Level::Excellent => 90..=100,
        Level::Good => 70..=89,
        Level::Completed => 50..=69,
        Level::NotCompleted => 0..=49,
        Level::Exempt | Level::NotRated => {
            return Err(RuleViolation::new(
                "rating.score_band",
                "score",
                "Only a rated level carries a score.",
            ))
        }
    };
    if band.contains(&score) {
        Ok(())
    } else {
        Err(RuleViolation::new(
            "rating.score_band",
            "score",
            format!(
                "A {level} rating has {} to {} points; {score} is outside.",
                band.start(),
                band.end()
            ),
        ))
    }
}

/// `rating.reason_required`: exempt and not-rated subjects are recorded with the reason.
pub fn check_reason(level: Level, reason: Option<&str>) -> Result<(), RuleViolation> {
    if !level.is_rated() && reason.is_none_or(|r| r.trim().is_empty()) {
        Err(RuleViolation::new(
            "rating.reason_required",
            "reason",
            format!("A rating of {level} states the reason."),
        ))
    } else {
        Ok(())
    }
}

/// "Less than 6 months before the year's end": established or admitted after June 30.
pub fn under_six_months(start: NaiveDate, year: i32) -> bool {
    months_between(start, year_end(year)) < 6
}

/// What the records say about a member for a rating year.
#[derive(Debug, Clone, Copy)]
pub struct MemberFacts {
    pub admitted_on: NaiveDate,
    pub left_on: Option<NaiveDate>,
    /// Exempt from party work and activities at the year's end.
    pub exempt_at_year_end: bool,
    /// Exempt at some time during the year.
    pub exempt_during_year: bool,
    /// Disciplined by a decision dated in the year (not annulled).
    pub disciplined_in_year: bool,
}

/// The hard rules for a member's rating (QĐ 124, Điều 5 khoản 2.1 and Điều 12):
/// `rating.subject_not_on_roll`, `rating.exempt_member`, `rating.exempt_without_exemption`,
/// `rating.new_member_not_rated`, `rating.disciplined_member_not_above_not_completed`.
pub fn check_member_rating(
    year: i32,
    level: Level,
    self_corrected: bool,
    facts: &MemberFacts,
) -> Result<(), RuleViolation> {
    if facts.admitted_on > year_end(year)
        || facts.left_on.is_some_and(|left| left <= year_start(year))
    {
        return Err(RuleViolation::new(
            "rating.subject_not_on_roll",
            "profile_number",
            format!("The member was not on the roll during {year}."),
        ));
    }
    // Exempt members: "được miễn đánh giá chất lượng đảng viên trong thời gian được miễn công
    // tác và sinh hoạt đảng" (QĐ 29, 7.2).
    if facts.exempt_at_year_end && level != Level::Exempt {
        return Err(level_error(
            "rating.exempt_member",
            format!("The member is exempt from party work and activities at the end of {year}: rate them exempt."),
        ));
    }
    if level == Level::Exempt && !facts.exempt_during_year {
        return Err(level_error(
            "rating.exempt_without_exemption",
            format!("The member was not exempt from party work and activities in {year}."),
        ));
    }
    // "đảng viên mới kết nạp chưa đủ 6 tháng" are not rated (QĐ 124, Điều 5, 2.1).
    if under_six_months(facts.admitted_on, year)
        && level != Level::NotRated
        && level != Level::Exempt
    {
        return Err(level_error(
            "rating.new_member_not_rated",
            format!(
                "Admitted on {}, less than 6 months before the end of {year}: not rated.",
                facts.admitted_on
            ),
        ));
    }
    // "Bị xử lý kỷ luật trong năm đánh giá (trừ trường hợp tự phát hiện và khắc phục xong hậu
    // quả)" is KHTNV (QĐ 124, Điều 12, 4.3(d)).
    if facts.disciplined_in_year
        && !self_corrected
        && matches!(level, Level::Excellent | Level::Good | Level::Completed)
    {
        return Err(level_error(
            "rating.disciplined_member_not_above_not_completed",
            format!(
                "The member was disciplined in {year}: rated not_completed, unless they found and \
                 corrected the fault themselves (self_corrected)."
            ),
        ));
    }
    Ok(())
}

/// What the records say about an organisation for a rating year.
#[derive(Debug, Clone, Copy)]
pub struct OrganizationFacts {
    pub established_on: NaiveDate,
    pub dissolved_on: Option<NaiveDate>,
    pub disciplined_in_year: bool,
    /// Direct subordinates existing during the year, and how many were disciplined in it.
    pub subordinates: usize,
    pub subordinates_disciplined: usize,
}

/// The hard rules for an organisation's rating (QĐ 124, Điều 12; HD 21 for new organisations):
/// `rating.organization_not_existing`, `rating.new_organization_not_rated`,
/// `rating.disciplined_organization_not_completed`, `rating.subordinates_disciplined`.
pub fn check_organization_rating(
    year: i32,
    level: Level,
    facts: &OrganizationFacts,
) -> Result<(), RuleViolation> {
    if facts.established_on > year_end(year)
        || facts
            .dissolved_on
            .is_some_and(|end| end <= year_start(year))
    {
        return Err(RuleViolation::new(
            "rating.organization_not_existing",
            "organization_code",
            format!("The organisation did not exist during {year}."),
        ));
    }
    // "Không đánh giá, xếp loại chất lượng đối với tổ chức đảng … mới thành lập chưa đủ 06
    // tháng" (HD 21, 2019: SECONDARY for 2023 on; kept until HD 25/HD 43 say otherwise).
    if under_six_months(facts.established_on, year) && level != Level::NotRated {
        return Err(level_error(
            "rating.new_organization_not_rated",
            format!(
                "Established on {}, less than 6 months before the end of {year}: not rated.",
                facts.established_on
            ),
        ));
    }
    let above = matches!(level, Level::Excellent | Level::Good | Level::Completed);
    // "Tập thể lãnh đạo, quản lý bị xử lý kỷ luật hoặc có trên 20% số đơn vị trực thuộc bị kỷ
    // luật trong năm" is KHTNV (QĐ 124, Điều 12).
    if above && facts.disciplined_in_year {
        return Err(level_error(
            "rating.disciplined_organization_not_completed",
            format!("The organisation was disciplined in {year}: rated not_completed."),
        ));
    }
    if above && facts.subordinates_disciplined * 5 > facts.subordinates {
        return Err(level_error(
            "rating.subordinates_disciplined",
            format!(
                "{} of its {} direct subordinate organisations were disciplined in {year} (more than \
                 20%): rated not_completed.",
                facts.subordinates_disciplined, facts.subordinates
            ),
        ));
    }
    Ok(())
}

/// The soft rule `rating.excellent_quota`: the number rated excellent is at most 20% of the
/// number rated good, within one comparison group (QĐ 124 Điều 12 for collectives, CONFIRMED;
/// HD 21 "trong từng tổ chức cơ sở đảng" for members, SECONDARY). It never blocks: the
/// competent level decides. Configurable per year; the 2025 texts were NOT FOUND.
pub fn excellent_quota_holds(excellent: usize, good: usize) -> bool {
    excellent * 5 <= good
}

pub const QUOTA_PERCENT: u32 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn member() -> MemberFacts {
        MemberFacts {
            admitted_on: d("2015-01-01"),
            left_on: None,
            exempt_at_year_end: false,
            exempt_during_year: false,
            disciplined_in_year: false,
        }
    }

    fn code(r: Result<(), RuleViolation>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn scores_follow_the_2025_bands() {
        assert!(check_score(2025, Level::Excellent, Some(90)).is_ok());
        assert!(check_score(2025, Level::Good, Some(89)).is_ok());
        assert!(check_score(2025, Level::Completed, Some(50)).is_ok());
        assert!(check_score(2025, Level::NotCompleted, Some(49)).is_ok());
        assert!(check_score(2024, Level::Good, None).is_ok());
        assert_eq!(
            code(check_score(2025, Level::Excellent, Some(89))),
            "rating.score_band"
        );
        assert_eq!(
            code(check_score(2025, Level::Exempt, Some(10))),
            "rating.score_band"
        );
        assert_eq!(
            code(check_score(2024, Level::Good, Some(80))),
            "rating.score_before_2025"
        );
    }

    #[test]
    fn exempt_and_not_rated_need_a_reason() {
        assert!(check_reason(Level::Good, None).is_ok());
        assert!(check_reason(Level::NotRated, Some("mới kết nạp")).is_ok());
        assert_eq!(
            code(check_reason(Level::Exempt, Some("  "))),
            "rating.reason_required"
        );
    }

    #[test]
    fn member_on_the_roll_during_the_year() {
        assert!(check_member_rating(2023, Level::Good, false, &member()).is_ok());
        let gone = MemberFacts {
            left_on: Some(d("2023-01-01")),
            ..member()
        };
        assert_eq!(
            code(check_member_rating(2023, Level::Good, false, &gone)),
            "rating.subject_not_on_roll"
        );
        let late = MemberFacts {
            admitted_on: d("2024-01-01"),
            ..member()
        };
        assert_eq!(
            code(check_member_rating(2023, Level::NotRated, false, &late)),
            "rating.subject_not_on_roll"
        );
    }

    #[test]
    fn exempt_members_are_rated_exempt_and_only_they() {
        let exempt = MemberFacts {
            exempt_at_year_end: true,
            exempt_during_year: true,
            ..member()
        };
        assert!(check_member_rating(2023, Level::Exempt, false, &exempt).is_ok());
        assert_eq!(
            code(check_member_rating(2023, Level::Good, false, &exempt)),
            "rating.exempt_member"
        );
        assert_eq!(
            code(check_member_rating(2023, Level::Exempt, false, &member())),
            "rating.exempt_without_exemption"
        );
    }

    #[test]
    fn members_admitted_in_the_last_six_months_are_not_rated() {
        let new = MemberFacts {
            admitted_on: d("2023-07-01"),
            ..member()
        };
        assert!(check_member_rating(2023, Level::NotRated, false, &new).is_ok());
        assert_eq!(
            code(check_member_rating(2023, Level::Good, false, &new)),
            "rating.new_member_not_rated"
        );
        let six_months = MemberFacts {
            admitted_on: d("2023-06-30"),
            ..member()
        };
        assert!(check_member_rating(2023, Level::Good, false, &six_months).is_ok());
    }

    #[test]
    fn disciplined_members_are_not_completed_unless_self_corrected() {
        let disciplined = MemberFacts {
            disciplined_in_year: true,
            ..member()
        };
        assert!(check_member_rating(2023, Level::NotCompleted, false, &disciplined).is_ok());
        assert!(check_member_rating(2023, Level::Good, true, &disciplined).is_ok());
        assert_eq!(
            code(check_member_rating(
                2023,
                Level::Completed,
                false,
                &disciplined
            )),
            "rating.disciplined_member_not_above_not_completed"
        );
    }

    fn organization() -> OrganizationFacts {
        OrganizationFacts {
            established_on: d("2010-01-01"),
            dissolved_on: None,
            disciplined_in_year: false,
            subordinates: 10,
            subordinates_disciplined: 0,
        }
    }

    #[test]
    fn organization_rules() {
        assert!(check_organization_rating(2023, Level::Excellent, &organization()).is_ok());
        let gone = OrganizationFacts {
            dissolved_on: Some(d("2023-01-01")),
            ..organization()
        };
        assert_eq!(
            code(check_organization_rating(2023, Level::Good, &gone)),
            "rating.organization_not_existing"
        );
        let new = OrganizationFacts {
            established_on: d("2023-09-01"),
            ..organization()
        };
        assert_eq!(
            code(check_organization_rating(2023, Level::Good, &new)),
            "rating.new_organization_not_rated"
        );
        assert!(check_organization_rating(2023, Level::NotRated, &new).is_ok());
        let disciplined = OrganizationFacts {
            disciplined_in_year: true,
            ..organization()
        };
        assert_eq!(
            code(check_organization_rating(
                2023,
                Level::Completed,
                &disciplined
            )),
            "rating.disciplined_organization_not_completed"
        );
        assert!(check_organization_rating(2023, Level::NotCompleted, &disciplined).is_ok());
        let two_of_ten = OrganizationFacts {
            subordinates_disciplined: 2,
            ..organization()
        };
        assert!(check_organization_rating(2023, Level::Good, &two_of_ten).is_ok());
        let three_of_ten = OrganizationFacts {
            subordinates_disciplined: 3,
            ..organization()
        };
        assert_eq!(
            code(check_organization_rating(2023, Level::Good, &three_of_ten)),
            "rating.subordinates_disciplined"
        );
    }

    #[test]
    fn the_quota_is_a_fifth_of_good() {
        assert!(excellent_quota_holds(77, 403));
        assert!(excellent_quota_holds(1, 5));
        assert!(!excellent_quota_holds(1, 4));
        assert!(excellent_quota_holds(0, 0));
        assert!(!excellent_quota_holds(1, 0));
    }
}
