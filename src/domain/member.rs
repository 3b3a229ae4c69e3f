//! Party members (đảng viên): their life on the roll and the rules it follows.
//!
//! Sources (domain-rules.md §4): Điều lệ Đảng Điều 5 (party age from the admission decision;
//! 12 months' probation from the ceremony), QĐ 24/QĐ 294 1.1.1 (age at admission), QĐ 29 4.2
//! (full membership exactly at the end of probation, even when approved late), QĐ 29 tiết 4.5
//! (periods not counted toward party age).

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use super::{text_enum, RuleViolation};

text_enum! {
    pub enum Gender {
        Male = "male",
        Female = "female",
    }
}

text_enum! {
    /// Why a member left the roll.
    pub enum LeaveReason {
        /// Từ trần.
        Deceased = "deceased",
        /// Chuyển sinh hoạt đảng ra ngoài tỉnh.
        TransferredOut = "transferred_out",
        /// Xóa tên.
        Removed = "removed",
        /// Khai trừ: only through a disciplinary action.
        Expelled = "expelled",
    }
}

text_enum! {
    pub enum MembershipKind {
        /// Sinh hoạt đảng chính thức: where the member counts.
        Official = "official",
        /// Sinh hoạt đảng tạm thời: not counted there ("không tính vào đảng số").
        Temporary = "temporary",
    }
}

text_enum! {
    /// Periods that do not count toward party age (QĐ 29, tiết 4.5).
    pub enum GapReason {
        /// Thời gian bị khai trừ (before readmission).
        Expelled = "expelled",
        /// Thời gian bị xóa tên.
        Removed = "removed",
        /// Thời gian mất liên lạc với tổ chức đảng.
        LostContact = "lost_contact",
        /// Thời gian gián đoạn do chuyển sinh hoạt đảng.
        TransferGap = "transfer_gap",
    }
}

/// Whole months from `from` to `to` (negative when `to` is earlier).
pub fn months_between(from: NaiveDate, to: NaiveDate) -> i32 {
    let mut months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    if to.day() < from.day() {
        months -= 1;
    }
    months
}

pub const MIN_ADMISSION_MONTHS: i32 = 18 * 12;
pub const MAX_ADMISSION_MONTHS: i32 = 60 * 12;

/// `member.admission_age`: "đủ 18 tuổi đến đủ 60 tuổi (tính theo tháng)" at admission
/// (QĐ 24 1.1.1; QĐ 294 Điều 1 1.1.1). Older applicants are admitted by the committee directly
/// under the Central Committee, so an admission above 60 passes only with an override reason;
/// under 18 never.
pub fn check_admission_age(
    born_on: NaiveDate,
    admitted_on: NaiveDate,
    override_reason: bool,
) -> Result<(), RuleViolation> {
    let months = months_between(born_on, admitted_on);
    if months < MIN_ADMISSION_MONTHS {
        return Err(RuleViolation::new(
            "member.admission_age",
            "admitted_on",
            format!(
                "A member is at least 18 years old when admitted; this one was {} years {} months.",
                months.max(0) / 12,
                months.max(0) % 12
            ),
        ));
    }
    if months > MAX_ADMISSION_MONTHS && !override_reason {
        return Err(RuleViolation::new(
            "member.admission_age",
            "admitted_on",
            format!(
                "The member was {} years {} months old when admitted; admission after 60 is \
                 decided above the province: give an override reason to record it.",
                months / 12,
                months % 12
            ),
        ));
    }
    Ok(())
}

/// The day a probationary member becomes a full member: 12 months after the admission
/// ceremony (Điều lệ, Điều 5 khoản 1), "đúng thời điểm hết 12 tháng dự bị" even when the branch
/// meets or the committee approves late (QĐ 29 4.2).
pub fn official_date(ceremony_on: NaiveDate) -> NaiveDate {
    ceremony_on
        .checked_add_months(Months::new(12))
        .expect("dates stay in range")
}

/// `member.dates_out_of_order`: born < admitted ≤ ceremony < official.
pub fn check_dates(
    born_on: NaiveDate,
    admitted_on: NaiveDate,
    ceremony_on: Option<NaiveDate>,
) -> Result<(), RuleViolation> {
    if born_on >= admitted_on {
        return Err(RuleViolation::new(
            "member.dates_out_of_order",
            "born_on",
            "The date of birth must be before the admission decision.",
        ));
    }
    if let Some(ceremony) = ceremony_on {
        if ceremony < admitted_on {
            return Err(RuleViolation::new(
                "member.dates_out_of_order",
                "ceremony_on",
                "The admission ceremony cannot be before the admission decision.",
            ));
        }
    }
    Ok(())
}

/// `member.ceremony_missing`, `member.already_official`, `member.official_too_early`,
/// `member.official_date_fixed`: recognition as a full member (công nhận đảng viên chính
/// thức). The date is derived, never chosen: ceremony + 12 months. A date given must be that
/// one; the probation must be over by `today`.
pub fn check_recognition(
    ceremony_on: Option<NaiveDate>,
    already_official: bool,
    requested: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<NaiveDate, RuleViolation> {
    if already_official {
        return Err(RuleViolation::new(
            "member.already_official",
            "official_on",
            "The member is a full member already.",
        ));
    }
    let ceremony = ceremony_on.ok_or_else(|| {
        RuleViolation::new(
            "member.ceremony_missing",
            "ceremony_on",
            "Record the admission ceremony first: probation runs 12 months from it.",
        )
    })?;
    let due = official_date(ceremony);
    match requested {
        Some(date) if date < due => Err(RuleViolation::new(
            "member.official_too_early",
            "official_on",
            format!("Probation ends on {due}, 12 months after the ceremony; {date} is too early."),
        )),
        Some(date) if date > due => Err(RuleViolation::new(
            "member.official_date_fixed",
            "official_on",
            format!(
                "Full membership starts on {due}, exactly 12 months after the ceremony, even when \
                 approved late; record {due}."
            ),
        )),
        _ if due > today => Err(RuleViolation::new(
            "member.official_too_early",
            "official_on",
            format!("Probation ends on {due}; the member cannot be recognised before then."),
        )),
        _ => Ok(due),
    }
}

/// `member.organization_not_branch`, `member.organization_not_existing`: members are active
/// in a branch (chi bộ cơ sở or chi bộ trực thuộc) that exists on the date.
pub fn check_branch(
    code: &str,
    is_branch: bool,
    exists_on_date: bool,
    field: &'static str,
) -> Result<(), RuleViolation> {
    if !is_branch {
        return Err(RuleViolation::new(
            "member.organization_not_branch",
            field,
            format!("{code} is not a branch (chi bộ); members are active in a grassroots branch or a sub-branch."),
        ));
    }
    if !exists_on_date {
        return Err(RuleViolation::new(
            "member.organization_not_existing",
            field,
            format!("{code} does not exist on that date (not yet established, or dissolved)."),
        ));
    }
    Ok(())
}

/// `member.left_the_roll`: nothing happens to a member on or after the day they left the roll.
pub fn check_on_roll(
    left_on: Option<NaiveDate>,
    on: NaiveDate,
    field: &'static str,
) -> Result<(), RuleViolation> {
    match left_on {
        Some(left) if on >= left => Err(RuleViolation::new(
            "member.left_the_roll",
            field,
            format!("The member left the roll on {left}."),
        )),
        _ => Ok(()),
    }
}

/// `member.left_the_roll`: a member leaves the roll after everything recorded of them began;
/// an exemption or a temporary activity from the day of leaving on would outlive the roll.
/// `first_later` is the earliest such start on or after `on`, if any.
pub fn check_nothing_begins_after_leaving(
    first_later: Option<NaiveDate>,
    on: NaiveDate,
    field: &'static str,
) -> Result<(), RuleViolation> {
    match first_later {
        Some(_) => Err(RuleViolation::new(
            "member.left_the_roll",
            field,
            format!("An exemption or temporary activity is recorded from {on} or later; the member cannot leave the roll before it."),
        )),
        None => Ok(()),
    }
}

/// `member.overlapping_membership`: a member leaves the roll after their last official
/// membership began (open, or closed by an earlier departure).
pub fn check_leaves_after_membership(
    last_from: Option<NaiveDate>,
    on: NaiveDate,
    field: &'static str,
) -> Result<(), RuleViolation> {
    match last_from {
        Some(from) if on <= from => Err(RuleViolation::new(
            "member.overlapping_membership",
            field,
            format!("The last membership starts on {from}; the member leaves after it."),
        )),
        _ => Ok(()),
    }
}

/// `member.before_admission`: the member's party life starts with the admission decision.
pub fn check_after_admission(
    admitted_on: NaiveDate,
    on: NaiveDate,
    field: &'static str,
) -> Result<(), RuleViolation> {
    if on < admitted_on {
        Err(RuleViolation::new(
            "member.before_admission",
            field,
            format!("{on} is before the admission decision ({admitted_on})."),
        ))
    } else {
        Ok(())
    }
}

/// `member.overlapping_membership`: at most one official membership on any date, so an
/// official transfer starts after the current membership started.
pub fn check_transfer_date(current_from: NaiveDate, on: NaiveDate) -> Result<(), RuleViolation> {
    if on <= current_from {
        Err(RuleViolation::new(
            "member.overlapping_membership",
            "on",
            format!(
                "The current membership starts on {current_from}; a transfer must come after it."
            ),
        ))
    } else {
        Ok(())
    }
}

/// `member.expulsion_needs_discipline`: khai trừ is a form of discipline; it is recorded as a
/// disciplinary action, whose effect takes the member off the roll.
pub fn check_leave_reason(
    reason: LeaveReason,
    through_discipline: bool,
) -> Result<(), RuleViolation> {
    if reason == LeaveReason::Expelled && !through_discipline {
        Err(RuleViolation::new(
            "member.expulsion_needs_discipline",
            "reason",
            "Expulsion (khai trừ) is recorded as a disciplinary action, which takes the member off the roll.",
        ))
    } else {
        Ok(())
    }
}

/// `member.period_out_of_order`: a period ends after it starts.
pub fn check_period(
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    field: &'static str,
) -> Result<(), RuleViolation> {
    match ends_on {
        Some(end) if end <= starts_on => Err(RuleViolation::new(
            "member.period_out_of_order",
            field,
            format!("The period must end after it starts ({starts_on})."),
        )),
        _ => Ok(()),
    }
}

/// `member.periods_overlap`: two periods of one kind (gaps, exemptions) do not overlap.
pub fn check_no_overlap(
    new: (NaiveDate, Option<NaiveDate>),
    existing: &[(NaiveDate, Option<NaiveDate>)],
    field: &'static str,
) -> Result<(), RuleViolation> {
    let overlaps = |a: (NaiveDate, Option<NaiveDate>), b: (NaiveDate, Option<NaiveDate>)| {
        a.1.is_none_or(|a_end| b.0 < a_end) && b.1.is_none_or(|b_end| a.0 < b_end)
    };
    if existing.iter().any(|e| overlaps(new, *e)) {
        Err(RuleViolation::new(
            "member.periods_overlap",
            field,
            "This period overlaps one already recorded.",
        ))
    } else {
        Ok(())
    }
}

/// Party age (tuổi đảng) on a date: from the admission decision, less the periods that do not
/// count (Điều lệ Điều 5 khoản 4; QĐ 29 tiết 4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartyAge {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    /// Days subtracted for the gaps between the admission and the date.
    pub gap_days: i64,
}

impl PartyAge {
    /// Whole years, for insignia tiers.
    pub fn whole_years(&self) -> u32 {
        self.years
    }
}

/// The party age on `on`. Gaps are clipped to the admission–date interval; the remaining days
/// are counted as a calendar span starting from the admission date shifted by the gap days,
/// so "30 years" means the 30th anniversary of that shifted date has come.
pub fn party_age(
    admitted_on: NaiveDate,
    gaps: &[(NaiveDate, Option<NaiveDate>)],
    on: NaiveDate,
) -> Result<PartyAge, RuleViolation> {
    check_after_admission(admitted_on, on, "on")?;
    let gap_days: i64 = gaps
        .iter()
        .map(|(start, end)| {
            let start = (*start).max(admitted_on);
            let end = end.unwrap_or(on).min(on);
            (end - start).num_days().max(0)
        })
        .sum();
    let start = admitted_on + chrono::Duration::days(gap_days);
    let months = months_between(start, on).max(0) as u32;
    let anniversary = start
        .checked_add_months(Months::new(months))
        .expect("dates stay in range");
    Ok(PartyAge {
        years: months / 12,
        months: months % 12,
        days: (on - anniversary).num_days().max(0) as u32,
        gap_days,
    })
}

/// Masks all but the last `keep` characters: what auditors see of identifiers.
pub fn mask(value: &str, keep: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    // Short values show less, so that most of them stays hidden.
    let shown = if chars.len() >= 2 * keep {
        keep
    } else {
        chars.len() / 3
    };
    let hidden = chars.len() - shown;
    std::iter::repeat_n('*', hidden)
        .chain(chars[hidden..].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_are_counted_by_calendar() {
        assert_eq!(months_between(d("2000-05-20"), d("2018-05-20")), 216);
        assert_eq!(months_between(d("2000-05-20"), d("2018-05-19")), 215);
        assert_eq!(months_between(d("2000-01-31"), d("2000-02-29")), 0);
    }

    #[test]
    fn admission_age_is_18_to_60_by_months() {
        let born = d("2000-05-20");
        assert!(check_admission_age(born, d("2018-05-20"), false).is_ok());
        let e = check_admission_age(born, d("2018-05-19"), false).unwrap_err();
        assert_eq!(e.code, "member.admission_age");
        assert!(check_admission_age(born, d("2060-05-20"), false).is_ok());
        assert_eq!(
            check_admission_age(born, d("2060-06-20"), false)
                .unwrap_err()
                .code,
            "member.admission_age"
        );
        // Over 60 passes with an override; under 18 never does.
        assert!(check_admission_age(born, d("2060-06-20"), true).is_ok());
        assert!(check_admission_age(born, d("2017-01-01"), true).is_err());
    }

    #[test]
    fn dates_must_be_in_order() {
        assert!(check_dates(d("1990-01-01"), d("2020-01-01"), Some(d("2020-01-01"))).is_ok());
        assert_eq!(
            check_dates(d("2020-01-01"), d("2020-01-01"), None)
                .unwrap_err()
                .field,
            "born_on"
        );
        assert_eq!(
            check_dates(d("1990-01-01"), d("2020-01-02"), Some(d("2020-01-01")))
                .unwrap_err()
                .field,
            "ceremony_on"
        );
    }

    #[test]
    fn full_membership_is_exactly_twelve_months_after_the_ceremony() {
        let today = d("2026-01-01");
        let ceremony = Some(d("2024-02-29"));
        assert_eq!(official_date(d("2024-02-29")), d("2025-02-28"));
        assert_eq!(
            check_recognition(ceremony, false, None, today),
            Ok(d("2025-02-28"))
        );
        assert_eq!(
            check_recognition(ceremony, false, Some(d("2025-02-28")), today),
            Ok(d("2025-02-28"))
        );
        let early = check_recognition(ceremony, false, Some(d("2025-02-01")), today);
        assert_eq!(early.unwrap_err().code, "member.official_too_early");
        let late = check_recognition(ceremony, false, Some(d("2025-06-01")), today);
        assert_eq!(late.unwrap_err().code, "member.official_date_fixed");
        let not_yet = check_recognition(ceremony, false, None, d("2025-01-01"));
        assert_eq!(not_yet.unwrap_err().code, "member.official_too_early");
        assert_eq!(
            check_recognition(None, false, None, today)
                .unwrap_err()
                .code,
            "member.ceremony_missing"
        );
        assert_eq!(
            check_recognition(ceremony, true, None, today)
                .unwrap_err()
                .code,
            "member.already_official"
        );
    }

    #[test]
    fn members_are_active_in_existing_branches() {
        assert!(check_branch("CB", true, true, "organization_code").is_ok());
        assert_eq!(
            check_branch("DB", false, true, "organization_code")
                .unwrap_err()
                .code,
            "member.organization_not_branch"
        );
        assert_eq!(
            check_branch("CB", true, false, "organization_code")
                .unwrap_err()
                .code,
            "member.organization_not_existing"
        );
    }

    #[test]
    fn nothing_happens_after_leaving_or_before_admission() {
        assert!(check_on_roll(None, d("2030-01-01"), "on").is_ok());
        assert!(check_on_roll(Some(d("2024-01-01")), d("2023-12-31"), "on").is_ok());
        assert_eq!(
            check_on_roll(Some(d("2024-01-01")), d("2024-01-01"), "on")
                .unwrap_err()
                .code,
            "member.left_the_roll"
        );
        assert!(check_after_admission(d("2020-01-01"), d("2020-01-01"), "on").is_ok());
        assert_eq!(
            check_after_admission(d("2020-01-01"), d("2019-12-31"), "on")
                .unwrap_err()
                .code,
            "member.before_admission"
        );
    }

    #[test]
    fn transfers_and_leaving() {
        assert!(check_transfer_date(d("2020-01-01"), d("2020-01-02")).is_ok());
        assert_eq!(
            check_transfer_date(d("2020-01-01"), d("2020-01-01"))
                .unwrap_err()
                .code,
            "member.overlapping_membership"
        );
        assert!(check_leave_reason(LeaveReason::Deceased, false).is_ok());
        assert!(check_leave_reason(LeaveReason::Expelled, true).is_ok());
        assert_eq!(
            check_leave_reason(LeaveReason::Expelled, false)
                .unwrap_err()
                .code,
            "member.expulsion_needs_discipline"
        );
    }

    #[test]
    fn periods_are_ordered_and_do_not_overlap() {
        assert!(check_period(d("2020-01-01"), None, "ends_on").is_ok());
        assert_eq!(
            check_period(d("2020-01-01"), Some(d("2020-01-01")), "ends_on")
                .unwrap_err()
                .code,
            "member.period_out_of_order"
        );
        let existing = [(d("2020-01-01"), Some(d("2021-01-01")))];
        assert!(check_no_overlap((d("2021-01-01"), None), &existing, "starts_on").is_ok());
        assert_eq!(
            check_no_overlap(
                (d("2020-06-01"), Some(d("2020-07-01"))),
                &existing,
                "starts_on"
            )
            .unwrap_err()
            .code,
            "member.periods_overlap"
        );
        assert!(check_no_overlap((d("2019-01-01"), None), &existing, "starts_on").is_err());
    }

    #[test]
    fn party_age_subtracts_gaps() {
        let admitted = d("1994-05-19");
        let age = party_age(admitted, &[], d("2024-05-19")).unwrap();
        assert_eq!(
            (age.years, age.months, age.days, age.gap_days),
            (30, 0, 0, 0)
        );
        let age = party_age(admitted, &[], d("2024-05-18")).unwrap();
        assert_eq!((age.years, age.months, age.days), (29, 11, 29));
        // One year out of the party (a transfer gap) delays the 30th year by that year.
        let gaps = [(d("2000-01-01"), Some(d("2001-01-01")))];
        let age = party_age(admitted, &gaps, d("2024-05-19")).unwrap();
        assert_eq!(age.gap_days, 366);
        assert_eq!((age.years, age.months), (28, 11));
        let age = party_age(admitted, &gaps, d("2025-05-20")).unwrap();
        assert_eq!(age.years, 30);
        // A gap still open on the date counts up to the date only.
        let age = party_age(
            admitted,
            &[(d("2024-01-01"), Some(d("2030-01-01")))],
            d("2024-02-01"),
        )
        .unwrap();
        assert_eq!(age.gap_days, 31);
        // An open gap (an expulsion not reversed) runs up to the date.
        let age = party_age(admitted, &[(d("2024-01-01"), None)], d("2024-03-01")).unwrap();
        assert_eq!(age.gap_days, 60);
        assert_eq!(
            party_age(admitted, &[], d("1990-01-01")).unwrap_err().code,
            "member.before_admission"
        );
    }

    #[test]
    fn masking_keeps_only_the_tail() {
        assert_eq!(mask("093201001234", 3), "*********234");
        assert_eq!(mask("52001234", 3), "*****234");
        assert_eq!(mask("12345", 3), "****5");
        assert_eq!(mask("12", 3), "**");
        assert_eq!(mask("", 3), "");
    }

    #[test]
    fn leaving_comes_after_everything_that_began() {
        let on = d("2020-06-01");
        assert!(check_nothing_begins_after_leaving(None, on, "on").is_ok());
        let e = check_nothing_begins_after_leaving(Some(on), on, "on").unwrap_err();
        assert_eq!(e.code, "member.left_the_roll");
        assert!(check_leaves_after_membership(Some(d("2020-05-31")), on, "on").is_ok());
        assert!(check_leaves_after_membership(None, on, "on").is_ok());
        let e = check_leaves_after_membership(Some(on), on, "left_on").unwrap_err();
        assert_eq!(
            (e.code, e.field),
            ("member.overlapping_membership", "left_on")
        );
    }
}
