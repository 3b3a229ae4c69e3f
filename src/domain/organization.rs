//! Party organisations (tổ chức đảng): their kinds, where each kind may sit in the tree, and
//! the rules for creating, moving and dissolving them.
//!
//! Sources: Điều lệ Đảng, Điều 10 khoản 3 and Điều 21–24; design.md (kinds and parents).

use chrono::NaiveDate;

use super::{text_enum, RuleViolation};

text_enum! {
    /// The kind of a party organisation (glossary.md).
    pub enum OrgKind {
        /// Đảng bộ tỉnh / Tỉnh ủy: the root of a province.
        ProvincialCommittee = "provincial_committee",
        /// Đảng bộ trực thuộc Tỉnh ủy: huyện ủy, thị ủy, thành ủy, đảng ủy khối, quân sự, công an.
        SubordinateCommittee = "subordinate_committee",
        /// Đảng bộ cơ sở: a grassroots organisation with sub-branches.
        GrassrootsCommittee = "grassroots_committee",
        /// Chi bộ cơ sở: a grassroots organisation without sub-branches.
        GrassrootsBranch = "grassroots_branch",
        /// Đảng bộ bộ phận: between a grassroots committee and some of its branches.
        PartialCommittee = "partial_committee",
        /// Chi bộ trực thuộc đảng ủy cơ sở: where most members are active.
        SubBranch = "sub_branch",
        /// Đảng đoàn: a leadership body with no members of its own.
        PartyDelegation = "party_delegation",
        /// Ban cán sự đảng: likewise.
        PartyAffairsCommittee = "party_affairs_committee",
        /// Other bodies, such as the Ban Thường vụ Tỉnh đoàn.
        OtherBody = "other_body",
    }
}

impl OrgKind {
    /// The kinds a parent of this kind may have; empty for the root.
    ///
    /// Grassroots organisations sit under a subordinate committee or directly under the
    /// provincial committee (the organisation department admits the latter's members, QĐ 294
    /// 6.3.1); a branch sits under a grassroots committee or a partial committee (Điều lệ,
    /// Điều 21; "các chi bộ trong đảng bộ bộ phận do đảng ủy bộ phận quản lý").
    pub fn allowed_parents(self) -> &'static [OrgKind] {
        use OrgKind::*;
        match self {
            ProvincialCommittee => &[],
            SubordinateCommittee => &[ProvincialCommittee],
            GrassrootsCommittee | GrassrootsBranch => &[ProvincialCommittee, SubordinateCommittee],
            PartialCommittee => &[GrassrootsCommittee],
            SubBranch => &[GrassrootsCommittee, PartialCommittee],
            PartyDelegation | PartyAffairsCommittee | OtherBody => {
                &[ProvincialCommittee, SubordinateCommittee]
            }
        }
    }

    /// A grassroots organisation (tổ chức cơ sở đảng): đảng bộ cơ sở or chi bộ cơ sở.
    pub fn is_grassroots(self) -> bool {
        matches!(
            self,
            OrgKind::GrassrootsCommittee | OrgKind::GrassrootsBranch
        )
    }

    /// A branch (chi bộ) in which members are active: chi bộ cơ sở or chi bộ trực thuộc.
    pub fn is_branch(self) -> bool {
        matches!(self, OrgKind::GrassrootsBranch | OrgKind::SubBranch)
    }
}

/// The life of an organisation: it exists on `d` when `established_on <= d < dissolved_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub established_on: NaiveDate,
    pub dissolved_on: Option<NaiveDate>,
}

impl Lifetime {
    pub fn exists_on(&self, day: NaiveDate) -> bool {
        self.established_on <= day && self.dissolved_on.is_none_or(|end| day < end)
    }
}

/// `organization.parent_required`, `organization.root_has_no_parent`,
/// `organization.parent_kind_not_allowed`: each kind sits under the kinds design.md allows.
pub fn check_parent_kind(child: OrgKind, parent: Option<OrgKind>) -> Result<(), RuleViolation> {
    let allowed = child.allowed_parents();
    match parent {
        None if allowed.is_empty() => Ok(()),
        None => Err(RuleViolation::new(
            "organization.parent_required",
            "parent_code",
            format!("A {child} needs a parent organisation."),
        )),
        Some(_) if allowed.is_empty() => Err(RuleViolation::new(
            "organization.root_has_no_parent",
            "parent_code",
            format!("A {child} is the root of a province and has no parent."),
        )),
        Some(parent) if allowed.contains(&parent) => Ok(()),
        Some(parent) => Err(RuleViolation::new(
            "organization.parent_kind_not_allowed",
            "parent_code",
            format!(
                "A {child} cannot sit under a {parent}; allowed parents: {}.",
                allowed
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `organization.dissolved_before_established`: an organisation is dissolved after it was
/// established (a dissolution on the founding day would leave it existing on no day).
pub fn check_lifetime(life: Lifetime) -> Result<(), RuleViolation> {
    match life.dissolved_on {
        Some(end) if end <= life.established_on => Err(RuleViolation::new(
            "organization.dissolved_before_established",
            "dissolved_on",
            format!(
                "The dissolution date {end} must be after the establishment date {}.",
                life.established_on
            ),
        )),
        _ => Ok(()),
    }
}

/// `organization.parent_not_existing`: the parent exists on the day the child is placed under
/// it (established, not yet dissolved), and does not end while the child still exists.
/// "Cấp ủy cấp trên trực tiếp quyết định lập hoặc giải thể" (Điều lệ, Điều 10, khoản 3).
pub fn check_parent_exists(
    parent_code: &str,
    parent: Lifetime,
    from: NaiveDate,
    child_dissolved_on: Option<NaiveDate>,
) -> Result<(), RuleViolation> {
    if !parent.exists_on(from) {
        return Err(RuleViolation::new(
            "organization.parent_not_existing",
            "parent_code",
            match parent.dissolved_on {
                Some(end) if end <= from => {
                    format!("The parent {parent_code} was dissolved on {end}, before {from}.")
                }
                _ => format!(
                    "The parent {parent_code} is established on {}, after {from}.",
                    parent.established_on
                ),
            },
        ));
    }
    if let Some(parent_end) = parent.dissolved_on {
        if child_dissolved_on.is_none_or(|child_end| child_end > parent_end) {
            return Err(RuleViolation::new(
                "organization.parent_not_existing",
                "parent_code",
                format!(
                    "The parent {parent_code} is dissolved on {parent_end}; the organisation \
                     would outlive it."
                ),
            ));
        }
    }
    Ok(())
}

/// `organization.cycle`: an organisation cannot move under itself or one of its descendants.
pub fn check_no_cycle(new_parent_is_in_own_subtree: bool) -> Result<(), RuleViolation> {
    if new_parent_is_in_own_subtree {
        Err(RuleViolation::new(
            "organization.cycle",
            "parent_code",
            "An organisation cannot be moved under itself or one of its own subordinates.",
        ))
    } else {
        Ok(())
    }
}

/// `organization.move_before_last_change`: moves are appended to the history. A move dated on
/// or before the last change of the moving subtree would rewrite periods that statistics for
/// past dates rely on; record it as a correction instead.
pub fn check_move_date(
    on: NaiveDate,
    last_change: NaiveDate,
    life: Lifetime,
) -> Result<(), RuleViolation> {
    if !life.exists_on(on) {
        return Err(RuleViolation::new(
            "organization.move_before_last_change",
            "on",
            format!("The organisation does not exist on {on}."),
        ));
    }
    if on <= last_change {
        return Err(RuleViolation::new(
            "organization.move_before_last_change",
            "on",
            format!(
                "A move must be dated after the last change in the tree below it ({last_change})."
            ),
        ));
    }
    Ok(())
}

/// `organization.same_parent`: a move changes the parent.
pub fn check_parent_changes(current: Option<i64>, new: i64) -> Result<(), RuleViolation> {
    if current == Some(new) {
        Err(RuleViolation::new(
            "organization.same_parent",
            "parent_code",
            "The organisation is already under this parent.",
        ))
    } else {
        Ok(())
    }
}

/// `organization.already_dissolved`, `organization.dissolved_before_established`,
/// `organization.has_active_children`: dissolving (giải thể) ends an organisation on a date
/// after its establishment; its subordinate organisations must be dissolved or moved first.
pub fn check_dissolution(
    life: Lifetime,
    on: NaiveDate,
    children_existing_on_or_after: usize,
) -> Result<(), RuleViolation> {
    if let Some(end) = life.dissolved_on {
        return Err(RuleViolation::new(
            "organization.already_dissolved",
            "on",
            format!("The organisation was already dissolved on {end}."),
        ));
    }
    check_lifetime(Lifetime {
        established_on: life.established_on,
        dissolved_on: Some(on),
    })
    .map_err(|v| RuleViolation { field: "on", ..v })?;
    if children_existing_on_or_after > 0 {
        return Err(RuleViolation::new(
            "organization.has_active_children",
            "on",
            format!(
                "{children_existing_on_or_after} subordinate organisation(s) still exist on {on}; \
                 dissolve or move them first."
            ),
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

    fn life(from: &str, to: Option<&str>) -> Lifetime {
        Lifetime {
            established_on: d(from),
            dissolved_on: to.map(d),
        }
    }

    #[test]
    fn parent_kinds_follow_the_design_table() {
        use OrgKind::*;
        assert!(check_parent_kind(ProvincialCommittee, None).is_ok());
        assert!(check_parent_kind(SubBranch, Some(GrassrootsCommittee)).is_ok());
        assert!(check_parent_kind(SubBranch, Some(PartialCommittee)).is_ok());
        assert!(check_parent_kind(GrassrootsBranch, Some(ProvincialCommittee)).is_ok());
        assert_eq!(
            check_parent_kind(SubBranch, Some(GrassrootsBranch))
                .unwrap_err()
                .code,
            "organization.parent_kind_not_allowed"
        );
        assert_eq!(
            check_parent_kind(SubordinateCommittee, None)
                .unwrap_err()
                .code,
            "organization.parent_required"
        );
        assert_eq!(
            check_parent_kind(ProvincialCommittee, Some(ProvincialCommittee))
                .unwrap_err()
                .code,
            "organization.root_has_no_parent"
        );
    }

    #[test]
    fn every_kind_but_the_root_has_a_parent_kind() {
        for kind in OrgKind::ALL {
            let root = *kind == OrgKind::ProvincialCommittee;
            assert_eq!(kind.allowed_parents().is_empty(), root, "{kind}");
        }
    }

    #[test]
    fn lifetime_is_half_open() {
        let l = life("2020-01-01", Some("2024-07-01"));
        assert!(!l.exists_on(d("2019-12-31")));
        assert!(l.exists_on(d("2020-01-01")));
        assert!(l.exists_on(d("2024-06-30")));
        assert!(!l.exists_on(d("2024-07-01")));
        assert!(check_lifetime(l).is_ok());
        assert_eq!(
            check_lifetime(life("2020-01-01", Some("2020-01-01")))
                .unwrap_err()
                .code,
            "organization.dissolved_before_established"
        );
    }

    #[test]
    fn parent_must_exist_when_the_child_is_placed() {
        let parent = life("2010-01-01", Some("2020-01-01"));
        assert!(check_parent_exists("P", parent, d("2015-01-01"), Some(d("2019-01-01"))).is_ok());
        // Parent dissolved before the child is established.
        let e = check_parent_exists("P", parent, d("2021-01-01"), None).unwrap_err();
        assert_eq!(e.code, "organization.parent_not_existing");
        assert!(e.message.contains("dissolved"));
        // Parent not established yet.
        let e = check_parent_exists("P", parent, d("2009-01-01"), None).unwrap_err();
        assert_eq!(e.code, "organization.parent_not_existing");
        // Child would outlive its parent.
        let e = check_parent_exists("P", parent, d("2015-01-01"), None).unwrap_err();
        assert_eq!(e.code, "organization.parent_not_existing");
    }

    #[test]
    fn cycle_and_same_parent() {
        assert!(check_no_cycle(false).is_ok());
        assert_eq!(check_no_cycle(true).unwrap_err().code, "organization.cycle");
        assert!(check_parent_changes(Some(1), 2).is_ok());
        assert_eq!(
            check_parent_changes(Some(2), 2).unwrap_err().code,
            "organization.same_parent"
        );
    }

    #[test]
    fn moves_are_appended_to_history() {
        let l = life("2010-01-01", None);
        assert!(check_move_date(d("2025-07-01"), d("2010-01-01"), l).is_ok());
        assert_eq!(
            check_move_date(d("2010-01-01"), d("2010-01-01"), l)
                .unwrap_err()
                .code,
            "organization.move_before_last_change"
        );
        assert_eq!(
            check_move_date(d("2009-01-01"), d("2008-01-01"), l)
                .unwrap_err()
                .code,
            "organization.move_before_last_change"
        );
    }

    #[test]
    fn dissolution_rules() {
        let l = life("2010-01-01", None);
        assert!(check_dissolution(l, d("2025-07-01"), 0).is_ok());
        assert_eq!(
            check_dissolution(l, d("2025-07-01"), 2).unwrap_err().code,
            "organization.has_active_children"
        );
        assert_eq!(
            check_dissolution(l, d("2009-07-01"), 0).unwrap_err().code,
            "organization.dissolved_before_established"
        );
        assert_eq!(
            check_dissolution(life("2010-01-01", Some("2012-01-01")), d("2013-01-01"), 0)
                .unwrap_err()
                .code,
            "organization.already_dissolved"
        );
    }

    #[test]
    fn kinds_round_trip_through_their_codes() {
        for kind in OrgKind::ALL {
            assert_eq!(OrgKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(OrgKind::parse("chi_bo"), None);
    }
}
