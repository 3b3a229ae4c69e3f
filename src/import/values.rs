//! Reading one cell: dates, booleans, numbers and enumerations as clerks write them.

use chrono::NaiveDate;

use crate::domain::discipline::{AppealOutcome, Form, SubjectType};
use crate::domain::member::{GapReason, Gender, LeaveReason, MembershipKind};
use crate::domain::organization::OrgKind;
use crate::domain::rating::Level;
use crate::domain::text::fold;

/// `YYYY-MM-DD` or `DD/MM/YYYY` (day and month of one or two digits); an impossible day
/// (31/02/2024) is an error. The year has four digits: chrono's `%Y` alone would read
/// `15/01/25` as the year 25, a date no rule refuses everywhere.
pub fn date(cell: &str) -> Result<NaiveDate, String> {
    let cell = cell.trim();
    let number = |part: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u32>().ok())
            .flatten()
    };
    let parts: Vec<&str> = cell.split(['-', '/']).collect();
    let (year, month, day) = match parts.as_slice() {
        [y, m, d] if cell.contains('-') && !cell.contains('/') => (y, m, d),
        [d, m, y] if cell.contains('/') && !cell.contains('-') => (y, m, d),
        _ => (&"", &"", &""),
    };
    number(year, 4..=4)
        .zip(number(month, 1..=2))
        .zip(number(day, 1..=2))
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y as i32, m, d))
        .ok_or_else(|| format!("\"{cell}\" is not a date (YYYY-MM-DD or DD/MM/YYYY)."))
}

/// `true`/`false`/`1`/`0`, any case.
pub fn boolean(cell: &str) -> Result<bool, String> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("\"{other}\" is not true, false, 1 or 0.")),
    }
}

/// A whole number as the API's fields hold it (years, tiers, scores, targets: 32 bits), so a
/// number too large is refused on its own column, not by the request as a whole.
pub fn integer(cell: &str) -> Result<i64, String> {
    let cell = cell.trim();
    match cell.parse::<i64>() {
        Ok(n) if i32::try_from(n).is_ok() => Ok(n),
        Ok(_) => Err(format!("\"{cell}\" is too large a number.")),
        Err(_) => Err(format!("\"{cell}\" is not a whole number.")),
    }
}

/// Reads an enumeration by any of its names, compared without case or diacritics.
fn by_name<T: Copy>(cell: &str, names: &[(T, &[&str])], what: &str) -> Result<T, String> {
    let wanted = fold(cell).replace(['_', '-'], " ");
    names
        .iter()
        .find(|(_, aliases)| {
            aliases
                .iter()
                .any(|a| fold(a).replace(['_', '-'], " ") == wanted)
        })
        .map(|(value, _)| *value)
        .ok_or_else(|| format!("\"{}\" is not a known {what}.", cell.trim()))
}

pub fn level(cell: &str) -> Result<Level, String> {
    by_name(
        cell,
        &[
            (
                Level::Excellent,
                &["excellent", "Hoàn thành xuất sắc nhiệm vụ", "HTXSNV"],
            ),
            (Level::Good, &["good", "Hoàn thành tốt nhiệm vụ", "HTTNV"]),
            (
                Level::Completed,
                &["completed", "Hoàn thành nhiệm vụ", "HTNV"],
            ),
            (
                Level::NotCompleted,
                &["not_completed", "Không hoàn thành nhiệm vụ", "KHTNV"],
            ),
            (
                Level::Exempt,
                &["exempt", "Miễn đánh giá, xếp loại", "miễn đánh giá", "miễn"],
            ),
            (
                Level::NotRated,
                &["not_rated", "Chưa đánh giá, xếp loại", "chưa đánh giá"],
            ),
        ],
        "rating level",
    )
}

pub fn form(cell: &str) -> Result<Form, String> {
    by_name(
        cell,
        &[
            (Form::Reprimand, &["reprimand", "khiển trách"]),
            (Form::Warning, &["warning", "cảnh cáo"]),
            (Form::Dismissal, &["dismissal", "cách chức"]),
            (Form::Expulsion, &["expulsion", "khai trừ"]),
            (Form::Dissolution, &["dissolution", "giải tán"]),
        ],
        "form of discipline",
    )
}

pub fn gender(cell: &str) -> Result<Gender, String> {
    by_name(
        cell,
        &[
            (Gender::Male, &["male", "nam"]),
            (Gender::Female, &["female", "nữ"]),
        ],
        "gender",
    )
}

pub fn leave_reason(cell: &str) -> Result<LeaveReason, String> {
    by_name(
        cell,
        &[
            (LeaveReason::Deceased, &["deceased", "từ trần", "qua đời"]),
            (
                LeaveReason::TransferredOut,
                &[
                    "transferred_out",
                    "chuyển đi",
                    "chuyển sinh hoạt ra ngoài tỉnh",
                ],
            ),
            (LeaveReason::Removed, &["removed", "xóa tên"]),
            (LeaveReason::Expelled, &["expelled", "khai trừ"]),
        ],
        "leave reason",
    )
}

pub fn gap_reason(cell: &str) -> Result<GapReason, String> {
    by_name(
        cell,
        &[
            (
                GapReason::Expelled,
                &["expelled", "khai trừ", "bị khai trừ"],
            ),
            (GapReason::Removed, &["removed", "xóa tên", "bị xóa tên"]),
            (
                GapReason::LostContact,
                &[
                    "lost_contact",
                    "mất liên lạc",
                    "mất liên lạc với tổ chức đảng",
                ],
            ),
            (
                GapReason::TransferGap,
                &[
                    "transfer_gap",
                    "gián đoạn do chuyển sinh hoạt",
                    "chuyển sinh hoạt",
                ],
            ),
        ],
        "party-age gap reason",
    )
}

pub fn membership_kind(cell: &str) -> Result<MembershipKind, String> {
    by_name(
        cell,
        &[
            (MembershipKind::Official, &["official", "chính thức"]),
            (MembershipKind::Temporary, &["temporary", "tạm thời"]),
        ],
        "kind of transfer",
    )
}

pub fn subject_type(cell: &str) -> Result<SubjectType, String> {
    by_name(
        cell,
        &[
            (SubjectType::Member, &["member", "đảng viên"]),
            (
                SubjectType::Organization,
                &["organization", "organisation", "tổ chức đảng", "tổ chức"],
            ),
        ],
        "subject type",
    )
}

pub fn appeal_outcome(cell: &str) -> Result<AppealOutcome, String> {
    by_name(
        cell,
        &[
            (AppealOutcome::Upheld, &["upheld", "giữ nguyên"]),
            (AppealOutcome::Reduced, &["reduced", "giảm hình thức"]),
            (AppealOutcome::Annulled, &["annulled", "hủy bỏ", "xóa bỏ"]),
        ],
        "appeal outcome",
    )
}

pub fn org_kind(cell: &str) -> Result<OrgKind, String> {
    by_name(
        cell,
        &[
            (
                OrgKind::ProvincialCommittee,
                &["provincial_committee", "Đảng bộ tỉnh", "Tỉnh ủy"],
            ),
            (
                OrgKind::SubordinateCommittee,
                &[
                    "subordinate_committee",
                    "đảng bộ trực thuộc",
                    "đảng bộ cấp trên trực tiếp cơ sở",
                    "huyện ủy",
                    "thị ủy",
                    "thành ủy",
                    "đảng ủy khối",
                ],
            ),
            (
                OrgKind::GrassrootsCommittee,
                &["grassroots_committee", "đảng bộ cơ sở"],
            ),
            (
                OrgKind::GrassrootsBranch,
                &["grassroots_branch", "chi bộ cơ sở"],
            ),
            (
                OrgKind::PartialCommittee,
                &["partial_committee", "đảng bộ bộ phận"],
            ),
            (
                OrgKind::SubBranch,
                &[
                    "sub_branch",
                    "chi bộ trực thuộc",
                    "chi bộ trực thuộc đảng ủy cơ sở",
                ],
            ),
            (OrgKind::PartyDelegation, &["party_delegation", "đảng đoàn"]),
            (
                OrgKind::PartyAffairsCommittee,
                &["party_affairs_committee", "ban cán sự đảng"],
            ),
            (OrgKind::OtherBody, &["other_body", "khác"]),
        ],
        "kind of organisation",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_forms_and_no_impossible_days() {
        let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(date("2024-02-29"), Ok(day));
        assert_eq!(date(" 29/02/2024 "), Ok(day));
        assert!(date("31/02/2024").is_err());
        assert!(date("2024-13-01").is_err());
        assert!(date("02/29/2024").is_err());
    }

    #[test]
    fn a_date_has_a_four_digit_year_and_one_form() {
        let day = NaiveDate::from_ymd_opt(2025, 1, 5).unwrap();
        assert_eq!(date("5/1/2025"), Ok(day));
        assert_eq!(date("2025-1-5"), Ok(day));
        for bad in [
            "15/01/25",
            "01/01/04",
            "24-05-01",
            "0024-05",
            "2024/05/01",
            "01-05-2024",
            "2024-05-01/",
            "+2024-05-01",
            "2024-005-01",
            "",
        ] {
            assert!(date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_past_32_bits_are_refused_on_their_own() {
        assert_eq!(integer(" 2147483647 "), Ok(2_147_483_647));
        assert_eq!(integer("-2147483648"), Ok(-2_147_483_648));
        assert!(integer("3000000000").unwrap_err().contains("too large"));
        assert!(integer("99999999999999999999").is_err());
    }

    #[test]
    fn booleans_and_numbers() {
        assert_eq!(boolean("TRUE"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("yes").is_err());
        assert_eq!(integer(" 1150 "), Ok(1150));
        assert!(integer("1.150").is_err());
    }

    #[test]
    fn enumerations_by_code_label_or_abbreviation_with_or_without_diacritics() {
        for cell in [
            "excellent",
            "Hoàn thành xuất sắc nhiệm vụ",
            "HTXSNV",
            "htxsnv",
            "hoan thanh xuat sac nhiem vu",
        ] {
            assert_eq!(level(cell), Ok(Level::Excellent), "{cell}");
        }
        assert_eq!(level("KHTNV"), Ok(Level::NotCompleted));
        assert_eq!(level("not-completed"), Ok(Level::NotCompleted));
        assert_eq!(form("Khiển trách"), Ok(Form::Reprimand));
        assert_eq!(form("khien trach"), Ok(Form::Reprimand));
        assert_eq!(gender("Nữ"), Ok(Gender::Female));
        assert_eq!(gender("nu"), Ok(Gender::Female));
        assert_eq!(leave_reason("Xóa tên"), Ok(LeaveReason::Removed));
        assert_eq!(org_kind("Chi bộ cơ sở"), Ok(OrgKind::GrassrootsBranch));
        assert_eq!(subject_type("đảng viên"), Ok(SubjectType::Member));
        assert_eq!(membership_kind("tạm thời"), Ok(MembershipKind::Temporary));
        assert_eq!(appeal_outcome("annulled"), Ok(AppealOutcome::Annulled));
        assert!(level("HTX").is_err());
        assert!(form("warn").is_err());
    }
}
