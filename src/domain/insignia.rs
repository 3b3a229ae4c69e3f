//! Party insignia (Huy hiệu Đảng): tiers of party age and who may receive them when.
//!
//! Sources (domain-rules.md §3, CONFIRMED): HD 01-HD/TW 2021 mục 18 (tiers; early awards for the
//! seriously ill: at most 12 months for 30–65 years, 24 months for 70–90; posthumous at most 12
//! months early); QĐ 24/QĐ 29 (waiting after a warning or dismissal; see
//! `discipline::insignia_blocked_until`); HD 01 (returned on leaving the party). "Never a tier
//! below one already awarded" is not a quoted rule: the research found only a transitional
//! one and a local Q&A applying the ladder strictly; it is enforced as the safe reading.

use chrono::{Months, NaiveDate};

use super::RuleViolation;

pub const TIERS: [u32; 12] = [30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90];

/// `insignia.tier_unknown`.
pub fn check_tier(tier: i32) -> Result<u32, RuleViolation> {
    u32::try_from(tier)
        .ok()
        .filter(|t| TIERS.contains(t))
        .ok_or_else(|| {
            RuleViolation::new(
                "insignia.tier_unknown",
                "tier",
                "The tiers are 30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85 and 90 years of party age.",
            )
        })
}

/// How many months early an award may come: 12 posthumously, whatever else is said; for a
/// seriously ill member 12 (tiers 30–65) or 24 (70–90); none otherwise.
pub fn allowed_months_early(tier: u32, early: bool, posthumous: bool) -> u32 {
    match (early, posthumous) {
        (_, true) => 12,
        (true, false) if tier >= 70 => 24,
        (true, false) => 12,
        (false, false) => 0,
    }
}

/// `insignia.party_age_short`, `insignia.too_early`: `due` is the day the party age reaches the
/// tier (the admission date shifted by the gaps, plus the tier's years).
pub fn check_due(
    due: NaiveDate,
    awarded_on: NaiveDate,
    tier: u32,
    early: bool,
    posthumous: bool,
) -> Result<(), RuleViolation> {
    if awarded_on >= due {
        return Ok(());
    }
    let allowed = allowed_months_early(tier, early, posthumous);
    if allowed == 0 {
        return Err(RuleViolation::new(
            "insignia.party_age_short",
            "awarded_on",
            format!("The party age reaches {tier} years on {due}."),
        ));
    }
    let earliest = due
        .checked_sub_months(Months::new(allowed))
        .expect("in range");
    if awarded_on < earliest {
        return Err(RuleViolation::new(
            "insignia.too_early",
            if early { "early" } else { "posthumous" },
            format!("The party age reaches {tier} years on {due}; this award may come {allowed} months early at most, from {earliest}."),
        ));
    }
    Ok(())
}

/// `insignia.tier_awarded`, `insignia.lower_tier`: one award per tier, never below a tier
/// already held (awards returned on leaving the party do not count).
pub fn check_ladder(tier: u32, held: &[u32]) -> Result<(), RuleViolation> {
    if held.contains(&tier) {
        return Err(RuleViolation::new(
            "insignia.tier_awarded",
            "tier",
            format!("The {tier}-year insignia was awarded already."),
        ));
    }
    if let Some(highest) = held.iter().copied().filter(|h| *h > tier).max() {
        return Err(RuleViolation::new(
            "insignia.lower_tier",
            "tier",
            format!("The member holds the {highest}-year insignia; a lower tier is not awarded after it."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn tiers() {
        assert_eq!(check_tier(45), Ok(45));
        assert_eq!(check_tier(35).unwrap_err().code, "insignia.tier_unknown");
        assert_eq!(check_tier(-30).unwrap_err().code, "insignia.tier_unknown");
    }

    #[test]
    fn due_dates_and_early_awards() {
        let due = d("2024-05-19");
        assert!(check_due(due, d("2024-05-19"), 30, false, false).is_ok());
        assert_eq!(
            check_due(due, d("2024-05-18"), 30, false, false)
                .unwrap_err()
                .code,
            "insignia.party_age_short"
        );
        assert!(check_due(due, d("2023-06-19"), 30, true, false).is_ok());
        assert_eq!(
            check_due(due, d("2023-05-18"), 30, true, false)
                .unwrap_err()
                .code,
            "insignia.too_early"
        );
        assert!(check_due(due, d("2022-06-01"), 70, true, false).is_ok());
        assert!(check_due(due, d("2023-05-19"), 60, false, true).is_ok());
        // Posthumously, 12 months at most even for the high tiers.
        assert_eq!(
            check_due(due, d("2022-06-01"), 70, true, true)
                .unwrap_err()
                .code,
            "insignia.too_early"
        );
        assert_eq!(
            check_due(due, d("2023-05-18"), 60, false, true)
                .unwrap_err()
                .code,
            "insignia.too_early"
        );
    }

    #[test]
    fn the_ladder() {
        assert!(check_ladder(40, &[30]).is_ok());
        assert_eq!(
            check_ladder(30, &[30]).unwrap_err().code,
            "insignia.tier_awarded"
        );
        assert_eq!(
            check_ladder(45, &[50]).unwrap_err().code,
            "insignia.lower_tier"
        );
    }
}
