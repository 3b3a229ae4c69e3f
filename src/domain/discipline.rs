//! Party discipline (kỷ luật đảng): forms, who may receive which, dates, effects in time.
//!
//! Sources (domain-rules.md §2): QĐ 69-QĐ/TW Điều 7 (forms), Điều 2 khoản 5 (automatic expiry
//! after 12 months), Điều lệ Điều 39–40; QĐ 24/QĐ 29 (insignia waiting periods).

use chrono::{Months, NaiveDate};

use super::member::LeaveReason;
use super::{text_enum, RuleViolation};

text_enum! {
    pub enum SubjectType {
        Member = "member",
        Organization = "organization",
    }
}

text_enum! {
    /// Hình thức kỷ luật, from the lightest.
    pub enum Form {
        /// Khiển trách.
        Reprimand = "reprimand",
        /// Cảnh cáo.
        Warning = "warning",
        /// Cách chức.
        Dismissal = "dismissal",
        /// Khai trừ.
        Expulsion = "expulsion",
        /// Giải tán.
        Dissolution = "dissolution",
    }
}

impl Form {
    pub fn label(self) -> &'static str {
        match self {
            Form::Reprimand => "khiển trách",
            Form::Warning => "cảnh cáo",
            Form::Dismissal => "cách chức",
            Form::Expulsion => "khai trừ",
            Form::Dissolution => "giải tán",
        }
    }

    fn severity(self) -> u8 {
        match self {
            Form::Reprimand => 1,
            Form::Warning => 2,
            Form::Dismissal => 3,
            Form::Expulsion | Form::Dissolution => 4,
        }
    }

    /// Expulsion and dissolution do not lapse.
    pub fn is_permanent(self) -> bool {
        matches!(self, Form::Expulsion | Form::Dissolution)
    }
}

text_enum! {
    pub enum AppealOutcome {
        Upheld = "upheld",
        Reduced = "reduced",
        Annulled = "annulled",
    }
}

/// The form in which a decision counts in the statistics: the reduced one once reduced on
/// appeal, none once annulled (the report leaves annulled decisions out). `store::stats`
/// counts `COALESCE(reduced_form, form)` of the decisions not annulled; the summaries
/// (`store::summaries`) count this.
pub fn counted_form(
    form: Form,
    reduced: Option<Form>,
    outcome: Option<AppealOutcome>,
) -> Option<Form> {
    (outcome != Some(AppealOutcome::Annulled)).then(|| reduced.unwrap_or(form))
}

/// `discipline.form_not_for_subject`: "Khiển trách, cảnh cáo, giải tán" for organisations;
/// "khiển trách, cảnh cáo, cách chức, khai trừ" for members (QĐ 69, Điều 7).
pub fn check_form(subject: SubjectType, form: Form) -> Result<(), RuleViolation> {
    let allowed = match subject {
        SubjectType::Member => form != Form::Dissolution,
        SubjectType::Organization => {
            matches!(form, Form::Reprimand | Form::Warning | Form::Dissolution)
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(RuleViolation::new(
            "discipline.form_not_for_subject",
            "form",
            format!(
                "{} ({}) is not a form of discipline for a {subject}.",
                form,
                form.label()
            ),
        ))
    }
}

/// `discipline.probationary_member_form`, `discipline.dismissal_needs_position`: a probationary
/// member is only reprimanded or warned; removal from post ("cách chức (nếu có chức vụ)")
/// needs a position held on the decision date (QĐ 69, Điều 7).
pub fn check_member_form(
    form: Form,
    probationary: bool,
    holds_position: bool,
) -> Result<(), RuleViolation> {
    if probationary && !matches!(form, Form::Reprimand | Form::Warning) {
        return Err(RuleViolation::new(
            "discipline.probationary_member_form",
            "form",
            "A probationary member can only be reprimanded or warned (khiển trách, cảnh cáo).",
        ));
    }
    if form == Form::Dismissal && !holds_position {
        return Err(RuleViolation::new(
            "discipline.dismissal_needs_position",
            "form",
            "Removal from post (cách chức) needs a position held on the decision date.",
        ));
    }
    Ok(())
}

/// `discipline.member_left_the_roll`: a member who left the roll before the decision is not
/// disciplined, except a deceased member for an especially serious violation (QĐ 69 Điều 2
/// khoản 14: "đã qua đời … trừ trường hợp vi phạm đặc biệt nghiêm trọng").
pub fn check_member_subject(
    left: Option<(NaiveDate, LeaveReason)>,
    decided_on: NaiveDate,
    especially_serious: bool,
) -> Result<(), RuleViolation> {
    match left {
        Some((left_on, reason)) if left_on <= decided_on => {
            if reason == LeaveReason::Deceased && especially_serious {
                Ok(())
            } else {
                Err(RuleViolation::new(
                    "discipline.member_left_the_roll",
                    "subject",
                    format!(
                        "The member left the roll on {left_on} ({reason}); only a deceased member \
                         is disciplined afterwards, and only for an especially serious violation."
                    ),
                ))
            }
        }
        _ => Ok(()),
    }
}

/// `discipline.dates_out_of_order`: announced on or after the decision; an appeal filed after
/// the announcement and decided after it was filed.
pub fn check_dates(
    decided_on: NaiveDate,
    announced_on: Option<NaiveDate>,
    appeal_filed_on: Option<NaiveDate>,
    appeal_decided_on: Option<NaiveDate>,
) -> Result<(), RuleViolation> {
    let fail = |field: &'static str, message: &str| {
        Err(RuleViolation::new(
            "discipline.dates_out_of_order",
            field,
            message,
        ))
    };
    if announced_on.is_some_and(|a| a < decided_on) {
        return fail(
            "announced_on",
            "The announcement cannot come before the decision.",
        );
    }
    let effective = announced_on.unwrap_or(decided_on);
    if appeal_filed_on.is_some_and(|f| f < effective) {
        return fail(
            "filed_on",
            "An appeal is filed after the decision is announced.",
        );
    }
    if let (Some(filed), Some(decided)) = (appeal_filed_on, appeal_decided_on) {
        if decided < filed {
            return fail("decided_on", "An appeal is decided after it was filed.");
        }
    }
    Ok(())
}

/// `discipline.reduced_form_not_lighter`: a reduced decision replaces the form by a lighter one.
pub fn check_reduced_form(form: Form, reduced: Form) -> Result<(), RuleViolation> {
    if reduced.severity() < form.severity() && reduced != Form::Dissolution {
        Ok(())
    } else {
        Err(RuleViolation::new(
            "discipline.reduced_form_not_lighter",
            "reduced_form",
            format!("A reduced decision replaces {form} by a lighter form."),
        ))
    }
}

/// The day the decision lapses: 12 months after its announcement (QĐ 69, Điều 2 khoản 5);
/// `None` for expulsion and dissolution, which do not lapse.
pub fn expires_on(
    form: Form,
    decided_on: NaiveDate,
    announced_on: Option<NaiveDate>,
) -> Option<NaiveDate> {
    if form.is_permanent() {
        None
    } else {
        announced_on
            .unwrap_or(decided_on)
            .checked_add_months(Months::new(12))
    }
}

/// In force on `day`: decided by then, not annulled, not lapsed.
pub fn in_force(
    form: Form,
    decided_on: NaiveDate,
    announced_on: Option<NaiveDate>,
    annulled: bool,
    day: NaiveDate,
) -> bool {
    !annulled
        && decided_on <= day
        && expires_on(form, decided_on, announced_on).is_none_or(|end| day < end)
}

/// Until when a decision holds back the Party insignia: "từ hình thức cảnh cáo trở lên thì chưa
/// được xét tặng; sau 6 tháng (cảnh cáo), 12 tháng (cách chức)" (QĐ 24/QĐ 29, CONFIRMED),
/// counted from the announcement. A reprimand does not; expulsion always does (`None` inside
/// `Some` means for ever).
pub fn insignia_blocked_until(
    form: Form,
    decided_on: NaiveDate,
    announced_on: Option<NaiveDate>,
) -> Option<Option<NaiveDate>> {
    let from = announced_on.unwrap_or(decided_on);
    match form {
        Form::Reprimand | Form::Dissolution => None,
        Form::Warning => Some(from.checked_add_months(Months::new(6))),
        Form::Dismissal => Some(from.checked_add_months(Months::new(12))),
        Form::Expulsion => Some(None),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_decision_counts_in_its_reduced_form_and_not_once_annulled() {
        use Form::*;
        assert_eq!(counted_form(Warning, None, None), Some(Warning));
        assert_eq!(
            counted_form(Warning, Some(Reprimand), Some(AppealOutcome::Reduced)),
            Some(Reprimand)
        );
        assert_eq!(
            counted_form(Expulsion, None, Some(AppealOutcome::Upheld)),
            Some(Expulsion)
        );
        assert_eq!(
            counted_form(Expulsion, None, Some(AppealOutcome::Annulled)),
            None
        );
    }

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn forms_per_subject() {
        assert!(check_form(SubjectType::Member, Form::Expulsion).is_ok());
        assert!(check_form(SubjectType::Organization, Form::Dissolution).is_ok());
        assert_eq!(
            check_form(SubjectType::Member, Form::Dissolution)
                .unwrap_err()
                .code,
            "discipline.form_not_for_subject"
        );
        assert_eq!(
            check_form(SubjectType::Organization, Form::Dismissal)
                .unwrap_err()
                .code,
            "discipline.form_not_for_subject"
        );
    }

    #[test]
    fn probationary_members_and_dismissal() {
        assert!(check_member_form(Form::Warning, true, false).is_ok());
        assert_eq!(
            check_member_form(Form::Expulsion, true, false)
                .unwrap_err()
                .code,
            "discipline.probationary_member_form"
        );
        assert!(check_member_form(Form::Dismissal, false, true).is_ok());
        assert_eq!(
            check_member_form(Form::Dismissal, false, false)
                .unwrap_err()
                .code,
            "discipline.dismissal_needs_position"
        );
    }

    #[test]
    fn members_who_left() {
        let decided = d("2024-05-01");
        assert!(check_member_subject(None, decided, false).is_ok());
        assert!(check_member_subject(
            Some((d("2024-06-01"), LeaveReason::Removed)),
            decided,
            false
        )
        .is_ok());
        assert!(check_member_subject(
            Some((d("2024-01-01"), LeaveReason::Deceased)),
            decided,
            true
        )
        .is_ok());
        for reason in [LeaveReason::Deceased, LeaveReason::TransferredOut] {
            assert_eq!(
                check_member_subject(Some((d("2024-01-01"), reason)), decided, false)
                    .unwrap_err()
                    .code,
                "discipline.member_left_the_roll"
            );
        }
    }

    #[test]
    fn dates_in_order() {
        assert!(check_dates(
            d("2024-01-10"),
            Some(d("2024-01-15")),
            Some(d("2024-02-01")),
            Some(d("2024-03-01"))
        )
        .is_ok());
        assert_eq!(
            check_dates(d("2024-01-10"), Some(d("2024-01-09")), None, None)
                .unwrap_err()
                .field,
            "announced_on"
        );
        assert_eq!(
            check_dates(d("2024-01-10"), None, Some(d("2024-01-09")), None)
                .unwrap_err()
                .field,
            "filed_on"
        );
        assert_eq!(
            check_dates(
                d("2024-01-10"),
                None,
                Some(d("2024-02-01")),
                Some(d("2024-01-20"))
            )
            .unwrap_err()
            .field,
            "decided_on"
        );
    }

    #[test]
    fn lapse_after_twelve_months_except_expulsion_and_dissolution() {
        let decided = d("2024-02-20");
        let announced = Some(d("2024-03-01"));
        assert_eq!(
            expires_on(Form::Reprimand, decided, announced),
            Some(d("2025-03-01"))
        );
        assert!(in_force(
            Form::Reprimand,
            decided,
            announced,
            false,
            d("2025-02-28")
        ));
        assert!(!in_force(
            Form::Reprimand,
            decided,
            announced,
            false,
            d("2025-03-01")
        ));
        assert!(!in_force(
            Form::Reprimand,
            decided,
            announced,
            false,
            d("2024-02-19")
        ));
        assert!(in_force(
            Form::Expulsion,
            decided,
            announced,
            false,
            d("2040-01-01")
        ));
        assert!(!in_force(
            Form::Expulsion,
            decided,
            announced,
            true,
            d("2024-06-01")
        ));
        assert_eq!(expires_on(Form::Dissolution, decided, None), None);
    }

    #[test]
    fn reduced_forms_are_lighter() {
        assert!(check_reduced_form(Form::Expulsion, Form::Warning).is_ok());
        assert_eq!(
            check_reduced_form(Form::Warning, Form::Warning)
                .unwrap_err()
                .code,
            "discipline.reduced_form_not_lighter"
        );
        assert_eq!(
            check_reduced_form(Form::Reprimand, Form::Warning)
                .unwrap_err()
                .code,
            "discipline.reduced_form_not_lighter"
        );
    }

    #[test]
    fn insignia_waits() {
        let day = d("2024-01-10");
        assert_eq!(insignia_blocked_until(Form::Reprimand, day, None), None);
        assert_eq!(
            insignia_blocked_until(Form::Warning, day, None),
            Some(Some(d("2024-07-10")))
        );
        assert_eq!(
            insignia_blocked_until(Form::Dismissal, day, Some(d("2024-02-01"))),
            Some(Some(d("2025-02-01")))
        );
        assert_eq!(
            insignia_blocked_until(Form::Expulsion, day, None),
            Some(None)
        );
    }
}
