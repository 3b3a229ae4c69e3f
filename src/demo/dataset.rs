//! The demonstration data set: a whole province whose records reproduce a report's figures
//! (`Figures`), generated deterministically from a seed, as the bulk import's files.
//!
//! The records are built so that every rule of the domain holds without overrides, and the
//! figures come out of them by the statistics' own definitions:
//! - structure and ratings at the end of the rating year R = year − 1: organisations existing
//!   then, members on the roll then, one R rating per member on the roll (excellent … not
//!   completed, `exempt` for the exempt, `not_rated` with its reason for the others);
//! - admissions: members admitted during the year; the roll at its end follows from the
//!   leavers (deaths, transfers out of the province, removals, expulsions);
//! - discipline of the year and of R (year over year), each decision on a member whose R
//!   rating agrees with it (not completed, or self-corrected);
//! - insignia: each award on a member whose party age reaches the tier by the batch day (or
//!   within the months the rules allow, for posthumous and early awards).
//!
//! Around the figures it adds the history a real province has: admissions in each of the five
//! years before, transfers between branches, lighter discipline in earlier years, the lower
//! tier each insignia holder received before, admission targets for every year and district.

use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, Months, NaiveDate};

use super::figures::Figures;
use super::files::{csv, member_row, organization_row};
use super::names;
use super::Rng;
use crate::domain::discipline::Form;
use crate::domain::insignia::TIERS;
use crate::domain::member::{Gender, LeaveReason};
use crate::domain::organization::OrgKind;
use crate::domain::rating::Level;
use crate::import::Kind;
use crate::store::export::{put, ExportRow};
use crate::store::members::NewMember;
use crate::store::organizations::NewOrganization;

/// The files of a data set, one per import kind, in the order they are loaded.
pub struct DataSet {
    files: Vec<(Kind, Vec<ExportRow>)>,
}

impl DataSet {
    /// The data set of `figures` for `seed` (the same seed gives the same files, byte for byte).
    pub fn generate(seed: u64, figures: &Figures) -> Result<DataSet, String> {
        Self::generate_numbered(seed, figures, FIRST_CARD_NUMBER)
    }

    /// The same, with party card numbers from `first_card_number` on (card numbers are unique
    /// across provinces: the national benchmark gives each province its own range).
    pub fn generate_numbered(
        seed: u64,
        figures: &Figures,
        first_card_number: u64,
    ) -> Result<DataSet, String> {
        figures.check()?;
        Builder::new(seed, figures, first_card_number).build()
    }

    /// How many members the data set holds (on the roll or not): the card numbers it may use.
    pub fn member_count(&self) -> usize {
        self.rows(Kind::Members).len()
    }

    pub fn rows(&self, kind: Kind) -> &[ExportRow] {
        self.files
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, rows)| rows.as_slice())
            .unwrap_or(&[])
    }

    /// Every kind with its CSV file, in import order.
    pub fn csv_files(&self) -> Vec<(Kind, Vec<u8>)> {
        self.files
            .iter()
            .map(|(kind, rows)| (*kind, csv(*kind, rows.iter().cloned())))
            .collect()
    }

    /// Writes `<kind>.csv` for every kind into `dir` (created if missing): each kind with its
    /// file, in import order.
    pub fn write_files(&self, dir: &Path) -> std::io::Result<Vec<(Kind, PathBuf)>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        for (kind, bytes) in self.csv_files() {
            let path = dir.join(format!("{kind}.csv"));
            std::fs::write(&path, bytes)?;
            written.push((kind, path));
        }
        Ok(written)
    }
}

/// The demonstration's first party card number.
pub const FIRST_CARD_NUMBER: u64 = 20_000_000;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn years_before(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_sub_months(Months::new(12 * years))
        .expect("in range")
}

/// `total` split in proportion to `weights`, largest remainders first (deterministic).
fn apportion(total: usize, weights: &[usize]) -> Vec<usize> {
    let sum: usize = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<usize> = weights.iter().map(|w| total * w / sum).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(total * weights[i] % sum), i));
    let given: usize = shares.iter().sum();
    for &i in order.iter().take(total - given) {
        shares[i] += 1;
    }
    shares
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

/// Relative sizes of Hậu Giang's subordinate committees (districts and towns, then the bloc
/// committee and the armed forces), used to spread grassroots organisations and members.
const SUBORDINATE_WEIGHTS: [usize; 11] = [9, 7, 5, 9, 8, 12, 8, 9, 14, 3, 3];

/// Place names of the province, for grassroots organisations and sub-branches.
const PLACES: [&str; 36] = [
    "Vị Tân",
    "Hỏa Lựu",
    "Tân Tiến",
    "Hỏa Tiến",
    "Long Thạnh",
    "Vĩnh Tường",
    "Vĩnh Viễn",
    "Lương Tâm",
    "Xà Phiên",
    "Thuận Hưng",
    "Tân Phú",
    "Đại Thành",
    "Hiệp Thành",
    "Ngã Sáu",
    "Mái Dầm",
    "Phú Hữu",
    "Đông Phước",
    "Nhơn Nghĩa A",
    "Tân Hòa",
    "Thạnh Xuân",
    "Cây Dương",
    "Hòa An",
    "Phương Bình",
    "Vị Thủy",
    "Vĩnh Thuận Tây",
    "Trà Lồng",
    "Long Bình",
    "Tân Long",
    "Kinh Cùng",
    "Búng Tàu",
    "Phụng Hiệp",
    "Tân Bình",
    "Vị Bình",
    "Vị Trung",
    "Long Trị",
    "Bình Thành",
];
const AGENCIES: [&str; 12] = [
    "Sở Tài chính",
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    "Sở Nông nghiệp và Phát triển nông thôn",
    "Sở Giao thông vận tải",
    "Bệnh viện Đa khoa tỉnh",
    "Văn phòng Ủy ban nhân dân tỉnh",
    "Trường Chính trị tỉnh",
    "Công ty Điện lực Hậu Giang",
    "Báo Hậu Giang",
    "Đài Phát thanh và Truyền hình",
    "Kho bạc Nhà nước tỉnh",
];
const COMMUNE_UNITS: [&str; 3] = ["xã", "phường", "thị trấn"];
const BRANCH_UNITS: [&str; 5] = [
    "Trường Tiểu học",
    "Trạm Y tế",
    "Trường Trung học cơ sở",
    "Hợp tác xã",
    "Ngân hàng",
];
const SUB_BRANCH_UNITS: [&str; 3] = ["ấp", "khu vực", "Trường Mầm non"];
const DELEGATIONS: [&str; 8] = [
    "Đảng đoàn Hội đồng nhân dân tỉnh",
    "Đảng đoàn Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh",
    "Đảng đoàn Liên đoàn Lao động tỉnh",
    "Đảng đoàn Hội Nông dân tỉnh",
    "Đảng đoàn Hội Liên hiệp Phụ nữ tỉnh",
    "Đảng đoàn Hội Cựu chiến binh tỉnh",
    "Đảng đoàn Liên hiệp các Hội Khoa học và Kỹ thuật tỉnh",
    "Đảng đoàn Hội Văn học Nghệ thuật tỉnh",
];
const AFFAIRS_COMMITTEES: [&str; 3] = [
    "Ban cán sự đảng Ủy ban nhân dân tỉnh",
    "Ban cán sự đảng Tòa án nhân dân tỉnh",
    "Ban cán sự đảng Viện kiểm sát nhân dân tỉnh",
];
const VIOLATIONS: [&str; 6] = [
    "Vi phạm những điều đảng viên không được làm",
    "Thiếu trách nhiệm trong thực hiện nhiệm vụ được giao",
    "Vi phạm quy định về quản lý đất đai",
    "Vi phạm chính sách dân số",
    "Vi phạm nguyên tắc tập trung dân chủ",
    "Vi phạm quy định về phòng, chống tham nhũng, tiêu cực",
];
const NOT_RATED_REASONS: [&str; 3] = [
    "Đang điều trị bệnh dài ngày",
    "Đi học tập dài hạn ở nước ngoài",
    "Nghỉ thai sản trong thời gian kiểm điểm",
];

struct Org {
    code: String,
    name: String,
    kind: OrgKind,
    parent: Option<usize>,
    established_on: NaiveDate,
    /// The subordinate committee above it (itself for one), for authorities and targets.
    subordinate: Option<usize>,
}

/// What a member is in the data set; `Free` members may still be given a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Free,
    Taken,
}

struct Spec {
    gender: Gender,
    born_on: NaiveDate,
    admitted_on: NaiveDate,
    ceremony_on: NaiveDate,
    branch: usize,
    since: NaiveDate,
    exempt_since: Option<NaiveDate>,
    leave: Option<(LeaveReason, NaiveDate)>,
    /// On the roll at the end of the rating year.
    on_roll: bool,
    rating: Option<(Level, bool, Option<&'static str>)>,
    role: Role,
}

enum Subject {
    Member(usize),
    Organization(usize),
}

struct Action {
    subject: Subject,
    form: Form,
    authority: usize,
    decided_on: NaiveDate,
}

struct Award {
    member: usize,
    tier: u32,
    awarded_on: NaiveDate,
    posthumous: bool,
    early: bool,
}

struct Builder<'f> {
    rng: Rng,
    f: &'f Figures,
    /// The rating year: structure and ratings at its end.
    r: i32,
    as_of: NaiveDate,
    orgs: Vec<Org>,
    /// Branches members may belong to from before the rating year's second half.
    old_branches: Vec<usize>,
    /// Every branch that holds members.
    branches: Vec<usize>,
    members: Vec<Spec>,
    positions: Vec<(usize, &'static str, NaiveDate)>,
    transfers: Vec<(usize, usize, NaiveDate)>,
    actions: Vec<Action>,
    awards: Vec<Award>,
    targets: Vec<(usize, i32, usize)>,
    org_ratings: Vec<(usize, Level)>,
    /// Admissions in each year before the report's, oldest first.
    admissions_before: Vec<(i32, usize)>,
    first_card_number: u64,
}

impl<'f> Builder<'f> {
    fn new(seed: u64, f: &'f Figures, first_card_number: u64) -> Builder<'f> {
        Builder {
            rng: Rng::new(seed),
            f,
            r: f.year - 1,
            as_of: date(f.year, 12, 31),
            orgs: Vec::new(),
            old_branches: Vec::new(),
            branches: Vec::new(),
            members: Vec::new(),
            positions: Vec::new(),
            transfers: Vec::new(),
            actions: Vec::new(),
            awards: Vec::new(),
            targets: Vec::new(),
            org_ratings: Vec::new(),
            admissions_before: Vec::new(),
            first_card_number,
        }
    }

    fn build(mut self) -> Result<DataSet, String> {
        self.organizations();
        self.organization_ratings();
        self.roll()?;
        self.member_ratings()?;
        self.year_of_report()?;
        self.history()?;
        Ok(self.into_files())
    }

    fn day_in(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(0);
        from + Duration::days(self.rng.between(0, span))
    }

    fn push_org(
        &mut self,
        code: String,
        name: String,
        kind: OrgKind,
        parent: Option<usize>,
        established_on: NaiveDate,
    ) -> usize {
        let subordinate = match kind {
            OrgKind::SubordinateCommittee => Some(self.orgs.len()),
            _ => parent.and_then(|p| self.orgs[p].subordinate),
        };
        self.orgs.push(Org {
            code,
            name,
            kind,
            parent,
            established_on,
            subordinate,
        });
        self.orgs.len() - 1
    }

    /// The tree at the end of the rating year, plus the organisations the report's year needs.
    fn organizations(&mut self) {
        let f = self.f;
        let s = &f.structure;
        let founded = f.province.established_on;
        let root_code = f.province.code.clone();
        self.push_org(
            root_code.clone(),
            f.province.name.clone(),
            OrgKind::ProvincialCommittee,
            None,
            founded,
        );
        // Organisations set up in the five years before the report, more than six months
        // before the review.
        let recent = (date(self.r - 4, 1, 1), date(self.r, 6, 30));
        let established = |rng: &mut Rng| {
            if rng.chance(0.04) {
                let span = (recent.1 - recent.0).num_days();
                recent.0 + Duration::days(rng.between(0, span))
            } else {
                founded
            }
        };
        let mut subordinates = Vec::new();
        for i in 0..s.subordinate_committees {
            let (code, name) = SUBORDINATES
                .get(i)
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .unwrap_or_else(|| {
                    (
                        format!("D{}", i + 1),
                        format!("Đảng bộ trực thuộc số {}", i + 1),
                    )
                });
            subordinates.push(self.push_org(
                format!("{root_code}.{code}"),
                name,
                OrgKind::SubordinateCommittee,
                Some(0),
                founded,
            ));
        }
        let bodies = [
            (
                OrgKind::PartyDelegation,
                s.party_delegations,
                &DELEGATIONS[..],
                "DD",
            ),
            (
                OrgKind::PartyAffairsCommittee,
                s.party_affairs_committees,
                &AFFAIRS_COMMITTEES[..],
                "BCS",
            ),
            (
                OrgKind::OtherBody,
                s.other_bodies,
                &["Ban Thường vụ Tỉnh đoàn"][..],
                "K",
            ),
        ];
        for (kind, count, names, prefix) in bodies {
            for i in 0..count {
                let name = names
                    .get(i)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| format!("{} {}", names[0], i + 1));
                self.push_org(
                    format!("{root_code}.{prefix}{:02}", i + 1),
                    name,
                    kind,
                    Some(0),
                    founded,
                );
            }
        }
        let weights: Vec<usize> = (0..subordinates.len())
            .map(|i| SUBORDINATE_WEIGHTS.get(i).copied().unwrap_or(8))
            .collect();
        let committees_per = apportion(s.grassroots_committees, &weights);
        let branches_per = apportion(s.grassroots_branches, &weights);
        let mut committees = Vec::new();
        let mut grassroots_branches = Vec::new();
        for (d, &district) in subordinates.iter().enumerate() {
            let code = self.orgs[district].code.clone();
            let bloc = SUBORDINATES.get(d).is_some_and(|(c, _)| *c == "KCQ");
            let armed = SUBORDINATES.get(d).and_then(|(c, _)| match *c {
                "QS" => Some("Quân sự"),
                "CA" => Some("Công an"),
                _ => None,
            });
            for n in 0..committees_per[d] {
                let name = match (bloc, armed) {
                    (true, _) => format!("Đảng bộ {}", self.rng.pick(&AGENCIES)),
                    (_, Some(force)) => format!("Đảng bộ {force} {}", self.rng.pick(&PLACES)),
                    _ => format!(
                        "Đảng bộ {} {}",
                        self.rng.pick(&COMMUNE_UNITS),
                        self.rng.pick(&PLACES)
                    ),
                };
                let on = established(&mut self.rng);
                committees.push(self.push_org(
                    format!("{code}.{:02}", n + 1),
                    name,
                    OrgKind::GrassrootsCommittee,
                    Some(district),
                    on,
                ));
            }
            for n in 0..branches_per[d] {
                let name = format!(
                    "Chi bộ {} {}",
                    self.rng.pick(&BRANCH_UNITS),
                    self.rng.pick(&PLACES)
                );
                let on = established(&mut self.rng);
                grassroots_branches.push(self.push_org(
                    format!("{code}.B{:02}", n + 1),
                    name,
                    OrgKind::GrassrootsBranch,
                    Some(district),
                    on,
                ));
            }
        }
        // Sub-branches: every grassroots committee has some, the rest spread by chance.
        let mut per_committee = vec![0usize; committees.len()];
        for i in 0..s.sub_branches {
            let c = if i < committees.len() {
                i
            } else {
                self.rng.below(committees.len() as u64) as usize
            };
            per_committee[c] += 1;
        }
        let mut sub_branches = Vec::new();
        for (c, &committee) in committees.iter().enumerate() {
            let code = self.orgs[committee].code.clone();
            let from = self.orgs[committee].established_on;
            for n in 0..per_committee[c] {
                let unit = self.rng.pick(&SUB_BRANCH_UNITS);
                let name = if *unit == "khu vực" {
                    format!("Chi bộ khu vực {}", n + 1)
                } else {
                    format!("Chi bộ {unit} {}", self.rng.pick(&PLACES))
                };
                let on = established(&mut self.rng).max(from);
                sub_branches.push(self.push_org(
                    format!("{code}.{:02}", n + 1),
                    name,
                    OrgKind::SubBranch,
                    Some(committee),
                    on,
                ));
            }
        }
        // The organisations too new to be rated: established in the rating year's second half.
        let new_grassroots = self.f.organization_ratings.grassroots.not_rated;
        for (i, &o) in grassroots_branches
            .iter()
            .rev()
            .take(new_grassroots)
            .enumerate()
        {
            self.orgs[o].established_on = date(self.r, 8, 15) + Duration::days(i as i64 % 90);
        }
        let new_sub = self.f.organization_ratings.sub_branches.not_rated;
        for (i, &o) in sub_branches.iter().rev().take(new_sub).enumerate() {
            self.orgs[o].established_on = date(self.r, 9, 15) + Duration::days(i as i64 % 90);
        }
        self.branches = grassroots_branches
            .iter()
            .chain(&sub_branches)
            .copied()
            .collect();
        let six_months_before = date(self.r, 6, 30);
        self.old_branches = self
            .branches
            .iter()
            .copied()
            .filter(|&b| self.orgs[b].established_on <= six_months_before)
            .collect();
    }

    /// Organisations of `kinds` existing at the review, by whether they are too new to rate.
    fn rated_organizations(&self, kinds: &[OrgKind]) -> (Vec<usize>, Vec<usize>) {
        let six_months_before = date(self.r, 6, 30);
        let review = date(self.r, 12, 31);
        self.orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| kinds.contains(&o.kind) && o.established_on <= review)
            .map(|(i, _)| i)
            .partition(|&i| self.orgs[i].established_on <= six_months_before)
    }

    fn organization_ratings(&mut self) {
        let tables = [
            (
                vec![OrgKind::GrassrootsCommittee, OrgKind::GrassrootsBranch],
                self.f.organization_ratings.grassroots.clone(),
            ),
            (
                vec![OrgKind::SubBranch],
                self.f.organization_ratings.sub_branches.clone(),
            ),
        ];
        for (kinds, levels) in tables {
            let (mut rated, new) = self.rated_organizations(&kinds);
            self.shuffle(&mut rated);
            let mut levels_in_order = Vec::new();
            for (level, n) in [
                (Level::Excellent, levels.excellent),
                (Level::Good, levels.good),
                (Level::Completed, levels.completed),
                (Level::NotCompleted, levels.not_completed),
            ] {
                levels_in_order.extend(std::iter::repeat_n(level, n));
            }
            for (o, level) in rated.into_iter().zip(levels_in_order) {
                self.org_ratings.push((o, level));
            }
            for o in new {
                self.org_ratings.push((o, Level::NotRated));
            }
        }
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A member admitted on `admitted_on` aged `ages` years (18 or more), in `branch`.
    fn admit(&mut self, admitted_on: NaiveDate, ages: (u32, u32), branch: usize) -> usize {
        let gender = if self.rng.chance(0.62) {
            Gender::Male
        } else {
            Gender::Female
        };
        let months = self
            .rng
            .between(ages.0 as i64 * 12 + 1, ages.1 as i64 * 12 + 11) as u32;
        let born_on = admitted_on
            .checked_sub_months(Months::new(months))
            .expect("in range")
            - Duration::days(self.rng.between(0, 27));
        let ceremony_on = (admitted_on + Duration::days(self.rng.between(7, 40))).min(self.as_of);
        let since = admitted_on.max(self.orgs[branch].established_on);
        self.members.push(Spec {
            gender,
            born_on,
            admitted_on,
            ceremony_on,
            branch,
            since,
            exempt_since: None,
            leave: None,
            on_roll: true,
            rating: None,
            role: Role::Free,
        });
        self.members.len() - 1
    }

    fn old_branch(&mut self) -> usize {
        let i = self.rng.below(self.old_branches.len() as u64) as usize;
        self.old_branches[i]
    }

    /// A branch that exists on `day` (any, new ones included).
    fn branch_on(&mut self, day: NaiveDate) -> usize {
        for _ in 0..64 {
            let b = self.branches[self.rng.below(self.branches.len() as u64) as usize];
            if self.orgs[b].established_on <= day {
                return b;
            }
        }
        self.old_branch()
    }

    /// The members on the roll at the end of the rating year, and the insignia awards of the
    /// report's year (their admission dates follow from the tiers).
    fn roll(&mut self) -> Result<(), String> {
        let f = self.f;
        let n = f.structure.members;
        let batches = f.batch_days()?;
        // Insignia holders: the party age reaches the tier between the previous batch and this one.
        for t in &f.insignia.tiers {
            let normal = t.awarded - t.posthumous - t.early;
            let per_batch = apportion(normal, &vec![1; batches.len()]);
            for (b, &count) in per_batch.iter().enumerate() {
                let day = batches[b];
                let previous = if b == 0 {
                    batches
                        .last()
                        .map(|d| date(d.year() - 1, d.month(), d.day()))
                        .expect("batches")
                } else {
                    batches[b - 1]
                };
                for _ in 0..count {
                    let due = self.day_in(previous + Duration::days(1), day);
                    let m = self.insignia_holder(due, t.tier);
                    self.awards.push(Award {
                        member: m,
                        tier: t.tier,
                        awarded_on: day,
                        posthumous: false,
                        early: false,
                    });
                }
            }
            // Posthumous (truy tặng): died two months short of the tier, awarded at the next
            // batch after the death.
            for k in 0..t.posthumous {
                let day = batches[batches.len() - 1 - k % batches.len()];
                let died = (day - Duration::days(40)).max(date(f.year, 1, 10));
                let due = died + Duration::days(60);
                let m = self.insignia_holder(due, t.tier);
                self.members[m].leave = Some((LeaveReason::Deceased, died));
                self.awards.push(Award {
                    member: m,
                    tier: t.tier,
                    awarded_on: day.max(died),
                    posthumous: true,
                    early: false,
                });
            }
            // Early (trước hạn, for the seriously ill): five months before the tier.
            for k in 0..t.early {
                let day = batches[k % batches.len()];
                let m = self.insignia_holder(day + Duration::days(150), t.tier);
                self.awards.push(Award {
                    member: m,
                    tier: t.tier,
                    awarded_on: day,
                    posthumous: false,
                    early: true,
                });
            }
        }
        // Exempt from party work and activities (miễn công tác và sinh hoạt đảng): members
        // over seventy.
        let review = date(self.r, 12, 31);
        for _ in 0..f.member_ratings.exempt {
            let born_year = self.rng.between(1930, (self.r - 71) as i64) as i32;
            let born = date(
                born_year,
                self.rng.between(1, 12) as u32,
                self.rng.between(1, 28) as u32,
            );
            let admitted = self.day_in(
                born.checked_add_months(Months::new(12 * 20))
                    .expect("in range"),
                born.checked_add_months(Months::new(12 * 40))
                    .expect("in range"),
            );
            let branch = self.old_branch();
            let m = self.admit(admitted, (18, 18), branch);
            let spec = &mut self.members[m];
            spec.born_on = born;
            let from = born
                .checked_add_months(Months::new(12 * 70))
                .expect("in range")
                .max(spec.since + Duration::days(30));
            spec.exempt_since = Some(from.min(review));
            spec.rating = Some((
                Level::Exempt,
                false,
                Some("Được miễn công tác và sinh hoạt đảng"),
            ));
            spec.role = Role::Taken;
        }
        // Admissions of the five years before the report's, like the report's own.
        let fixed = self.members.len();
        let budget = n.saturating_sub(fixed) / 4;
        let mut yearly: Vec<(i32, usize)> = (self.r - 4..=self.r)
            .map(|y| {
                (
                    y,
                    f.admissions.admitted * self.rng.between(85, 105) as usize / 100,
                )
            })
            .collect();
        let sum: usize = yearly.iter().map(|(_, c)| c).sum();
        if sum > budget {
            for (_, c) in &mut yearly {
                *c = *c * budget / sum.max(1);
            }
        }
        let last = yearly.last().map(|(_, c)| *c).unwrap_or(0);
        // Admitted less than six months before the review: not rated (chưa đủ 6 tháng).
        let new_members = (f.member_ratings.not_rated * 3 / 5).min(last / 2);
        for &(year, count) in &yearly {
            for i in 0..count {
                let (from, to) = if year == self.r && i < new_members {
                    (date(year, 7, 1), date(year, 12, 20))
                } else if year == self.r {
                    (date(year, 1, 5), date(year, 6, 30))
                } else {
                    (date(year, 1, 5), date(year, 12, 20))
                };
                let admitted = self.day_in(from, to);
                let branch = self.branch_on(admitted);
                let m = self.admit(admitted, (18, 34), branch);
                if year == self.r && i < new_members {
                    self.members[m].rating = Some((
                        Level::NotRated,
                        false,
                        Some("Đảng viên mới kết nạp chưa đủ 6 tháng"),
                    ));
                    self.members[m].role = Role::Taken;
                }
            }
        }
        self.admissions_before = yearly;
        let generic = n.checked_sub(self.members.len()).ok_or(
            "too few members for the insignia holders, the exempt and five years of admissions",
        )?;
        for _ in 0..generic {
            // Admitted before the five years, more of them in recent decades.
            let year = loop {
                let y = self.rng.between(1975, (self.r - 5) as i64) as i32;
                if self.rng.chance((y - 1965) as f64 / (self.r - 1965) as f64) {
                    break y;
                }
            };
            let admitted = self.day_in(date(year, 1, 5), date(year, 12, 20));
            let branch = self.old_branch();
            self.admit(admitted, (18, 40), branch);
        }
        Ok(())
    }

    /// A member whose party age reaches `tier` years on `due`.
    fn insignia_holder(&mut self, due: NaiveDate, tier: u32) -> usize {
        let admitted = years_before(due, tier);
        let branch = self.old_branch();
        let m = self.admit(admitted, (18, 30), branch);
        self.members[m].role = Role::Taken;
        m
    }

    /// Free members on the roll, in a random order, that `keep` accepts.
    fn free(&mut self, count: usize, keep: impl Fn(&Spec) -> bool) -> Result<Vec<usize>, String> {
        let mut found: Vec<usize> = (0..self.members.len())
            .filter(|&m| {
                self.members[m].role == Role::Free
                    && self.members[m].on_roll
                    && keep(&self.members[m])
            })
            .collect();
        if found.len() < count {
            return Err(format!(
                "the figures need {count} more members of a kind than the province has ({})",
                found.len()
            ));
        }
        // A partial shuffle: the first `count` are a random choice.
        for i in 0..count {
            let j = i + self.rng.below((found.len() - i) as u64) as usize;
            found.swap(i, j);
        }
        found.truncate(count);
        for &m in &found {
            self.members[m].role = Role::Taken;
        }
        Ok(found)
    }

    fn official_on(&self, m: usize) -> Option<NaiveDate> {
        let official = crate::domain::member::official_date(self.members[m].ceremony_on);
        (official <= self.as_of).then_some(official)
    }

    fn is_full_on(&self, m: usize, day: NaiveDate) -> bool {
        self.official_on(m).is_some_and(|o| o <= day)
    }

    /// Member discipline of `year`: `forms` in order; dismissals come with the post they end.
    fn discipline(&mut self, year: i32, forms: [(Form, usize); 4]) -> Result<Vec<usize>, String> {
        let mut subjects = Vec::new();
        for (form, count) in forms {
            let first = date(year, 1, 10);
            let picked = self.free(count, |s| {
                // Full members well before the year, so that any form fits.
                s.since < date(year - 1, 1, 1) && s.admitted_on < date(year - 2, 1, 1)
            })?;
            for m in picked {
                let decided_on = self.day_in(first, date(year, 12, 10));
                debug_assert!(self.is_full_on(m, decided_on));
                if form == Form::Dismissal {
                    let from = (decided_on - Duration::days(self.rng.between(300, 1500)))
                        .max(self.members[m].since + Duration::days(1));
                    self.positions.push((m, "Bí thư chi bộ", from));
                }
                let authority = self.orgs[self.members[m].branch]
                    .subordinate
                    .expect("in a district");
                self.actions.push(Action {
                    subject: Subject::Member(m),
                    form,
                    authority,
                    decided_on,
                });
                subjects.push(m);
            }
        }
        Ok(subjects)
    }

    /// One rating of the rating year for every member on the roll at its end.
    fn member_ratings(&mut self) -> Result<(), String> {
        let f = self.f;
        let prev = f.discipline.previous_year_members;
        let m = &f.discipline.members;
        let weights = [m.reprimand, m.warning, m.dismissal, m.expulsion];
        let split = apportion(prev, &weights);
        let r = self.r;
        // Expelled in the rating year: off the roll before the review.
        let expelled = self.free(split[3], |s| {
            s.since < date(r - 1, 1, 1) && s.admitted_on < date(r - 2, 1, 1)
        })?;
        let review = date(r, 12, 31);
        for &x in &expelled {
            let decided_on = self.day_in(date(r, 1, 10), date(r, 12, 10));
            self.members[x].on_roll = false;
            let authority = self.orgs[self.members[x].branch]
                .subordinate
                .expect("in a district");
            self.actions.push(Action {
                subject: Subject::Member(x),
                form: Form::Expulsion,
                authority,
                decided_on,
            });
        }
        // The roll was built to the figure: an expelled member is replaced by one more
        // admitted long ago, so the review still counts the figure.
        for _ in 0..expelled.len() {
            let admitted = self.day_in(date(1990, 1, 5), date(r - 6, 12, 20));
            let branch = self.old_branch();
            self.admit(admitted, (18, 40), branch);
        }
        let disciplined = self.discipline(
            r,
            [
                (Form::Reprimand, split[0]),
                (Form::Warning, split[1]),
                (Form::Dismissal, split[2]),
                (Form::Expulsion, 0),
            ],
        )?;
        let other_not_rated = f
            .member_ratings
            .not_rated
            .checked_sub(
                self.members
                    .iter()
                    .filter(|s| matches!(s.rating, Some((Level::NotRated, ..))))
                    .count(),
            )
            .ok_or("more new members than members not rated")?;
        for x in self.free(other_not_rated, |_| true)? {
            // Maternity leave is one of the reasons for women only.
            let reasons = match self.members[x].gender {
                Gender::Female => &NOT_RATED_REASONS[..],
                Gender::Male => &NOT_RATED_REASONS[..2],
            };
            let reason = *self.rng.pick(reasons);
            self.members[x].rating = Some((Level::NotRated, false, Some(reason)));
        }
        // Disciplined in the year: not completed, or self-corrected (tự phát hiện, khắc phục).
        let mut levels: Vec<(Level, usize)> = vec![
            (Level::Excellent, f.member_ratings.excellent),
            (Level::Good, f.member_ratings.good),
            (Level::Completed, f.member_ratings.completed),
            (Level::NotCompleted, f.member_ratings.not_completed),
        ];
        for &x in &disciplined {
            let (level, self_corrected) = if levels[3].1 > 0 {
                levels[3].1 -= 1;
                (Level::NotCompleted, false)
            } else if levels[2].1 > 0 {
                levels[2].1 -= 1;
                (Level::Completed, true)
            } else {
                return Err(
                    "more members disciplined the year before than rated completed or below".into(),
                );
            };
            self.members[x].rating = Some((level, self_corrected, None));
        }
        let mut rest: Vec<usize> = (0..self.members.len())
            .filter(|&x| self.members[x].on_roll && self.members[x].rating.is_none())
            .collect();
        self.shuffle(&mut rest);
        let mut next = rest.into_iter();
        for (level, count) in levels {
            for x in next.by_ref().take(count) {
                self.members[x].rating = Some((level, false, None));
            }
        }
        if next.next().is_some()
            || self
                .members
                .iter()
                .filter(|s| s.on_roll && s.admitted_on <= review)
                .count()
                != f.structure.members
        {
            return Err("the roll and the ratings do not add up".into());
        }
        Ok(())
    }

    /// The report's year: admissions, discipline, departures.
    fn year_of_report(&mut self) -> Result<(), String> {
        let f = self.f;
        let y = f.year;
        let m = &f.discipline.members;
        self.discipline(
            y,
            [
                (Form::Reprimand, m.reprimand),
                (Form::Warning, m.warning),
                (Form::Dismissal, m.dismissal),
                (Form::Expulsion, m.expulsion),
            ],
        )?;
        // Leavers besides the expelled and the deceased holders of posthumous insignia.
        let posthumous: usize = f.insignia.tiers.iter().map(|t| t.posthumous).sum();
        let others = f.leavers().expect("checked") - m.expulsion - posthumous;
        let deceased = others / 2;
        let transferred = others * 3 / 10;
        let removed = others - deceased - transferred;
        let old = date(y - 75, 1, 1);
        for (reason, count) in [
            (LeaveReason::Deceased, deceased),
            (LeaveReason::TransferredOut, transferred),
            (LeaveReason::Removed, removed),
        ] {
            let picked = if reason == LeaveReason::Deceased {
                match self.free(count, |s| s.born_on < old) {
                    Ok(p) => p,
                    Err(_) => self.free(count, |_| true)?,
                }
            } else {
                self.free(count, |_| true)?
            };
            for x in picked {
                let on = self.day_in(date(y, 1, 5), date(y, 12, 20));
                self.members[x].leave = Some((reason, on));
            }
        }
        // Admissions of the year.
        for _ in 0..f.admissions.admitted {
            let admitted = self.day_in(date(y, 1, 5), date(y, 12, 20));
            let branch = self.branch_on(admitted);
            let x = self.admit(admitted, (18, 34), branch);
            self.members[x].on_roll = false;
            self.members[x].role = Role::Taken;
        }
        // Organisations disciplined in the year: grassroots organisations and sub-branches,
        // decided by the committee above them.
        let o = &f.discipline.organizations;
        let mut candidates: Vec<usize> = self
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, org)| {
                matches!(
                    org.kind,
                    OrgKind::GrassrootsCommittee | OrgKind::GrassrootsBranch | OrgKind::SubBranch
                ) && org.established_on <= date(self.r, 6, 30)
            })
            .map(|(i, _)| i)
            .collect();
        self.shuffle(&mut candidates);
        let mut candidates = candidates.into_iter();
        for (form, count) in [(Form::Reprimand, o.reprimand), (Form::Warning, o.warning)] {
            for org in candidates.by_ref().take(count) {
                let decided_on = self.day_in(date(y, 2, 1), date(y, 11, 30));
                let authority = self.orgs[org].parent.expect("has a parent");
                self.actions.push(Action {
                    subject: Subject::Organization(org),
                    form,
                    authority,
                    decided_on,
                });
            }
        }
        // A dissolution (giải tán) ends a sub-branch set up that year and never staffed.
        let committees: Vec<usize> = (0..self.orgs.len())
            .filter(|&i| self.orgs[i].kind == OrgKind::GrassrootsCommittee)
            .collect();
        for k in 0..o.dissolution {
            let committee = committees[k % committees.len()];
            let code = format!("{}.G{:02}", self.orgs[committee].code, k + 1);
            let name = format!("Chi bộ tổ {}", self.rng.pick(&PLACES));
            let org = self.push_org(
                code,
                name,
                OrgKind::SubBranch,
                Some(committee),
                date(y, 1, 15),
            );
            let decided_on = self.day_in(date(y, 6, 1), date(y, 11, 30));
            self.actions.push(Action {
                subject: Subject::Organization(org),
                form: Form::Dissolution,
                authority: committee,
                decided_on,
            });
        }
        Ok(())
    }

    /// The history around the figures.
    fn history(&mut self) -> Result<(), String> {
        let f = self.f;
        let y = f.year;
        // Lighter discipline in the earlier years (reprimands and warnings).
        for year in y - 5..y - 1 {
            let total =
                f.discipline.previous_year_members * self.rng.between(75, 110) as usize / 100;
            let warnings = total / 4;
            self.discipline(
                year,
                [
                    (Form::Reprimand, total - warnings),
                    (Form::Warning, warnings),
                    (Form::Dismissal, 0),
                    (Form::Expulsion, 0),
                ],
            )?;
        }
        // Transfers between branches of the province.
        let movers = self.free(f.structure.members / 150, |_| true)?;
        for x in movers {
            let from = self.members[x].since.max(date(y - 5, 1, 1)) + Duration::days(30);
            let on = self.day_in(from, date(y, 11, 30));
            let to = loop {
                let b = self.old_branch();
                if b != self.members[x].branch && self.orgs[b].established_on <= on {
                    break b;
                }
            };
            self.transfers.push((x, to, on));
        }
        // The lower tier each insignia holder received before, at the first batch after it
        // was due.
        let batches = f.batch_days()?;
        let mut earlier = Vec::new();
        for a in &self.awards {
            let Some(lower) = TIERS.iter().rev().find(|&&t| t < a.tier).copied() else {
                continue;
            };
            let due = self.members[a.member]
                .admitted_on
                .checked_add_months(Months::new(12 * lower))
                .expect("in range");
            let day = (due.year()..)
                .flat_map(|year| batches.iter().map(move |b| date(year, b.month(), b.day())))
                .find(|d| *d >= due)
                .expect("a batch day follows");
            if day < a.awarded_on && day < date(y, 1, 1) {
                earlier.push(Award {
                    member: a.member,
                    tier: lower,
                    awarded_on: day,
                    posthumous: false,
                    early: false,
                });
            }
        }
        self.awards.extend(earlier);
        // Admission targets: the province's and each subordinate committee's, every year.
        let subordinates: Vec<usize> = (0..self.orgs.len())
            .filter(|&i| self.orgs[i].kind == OrgKind::SubordinateCommittee)
            .collect();
        let weights: Vec<usize> = (0..subordinates.len())
            .map(|i| SUBORDINATE_WEIGHTS.get(i).copied().unwrap_or(8))
            .collect();
        let mut years: Vec<(i32, usize)> = self
            .admissions_before
            .iter()
            .map(|&(year, admitted)| (year, admitted * 100 / self.rng.between(95, 112) as usize))
            .collect();
        years.push((y, f.admissions.target));
        for (year, target) in years {
            self.targets.push((0, year, target));
            for (&d, share) in subordinates.iter().zip(apportion(target, &weights)) {
                self.targets.push((d, year, share));
            }
        }
        Ok(())
    }

    fn national_id(&mut self, code: &str, gender: Gender, born_on: NaiveDate) -> String {
        // The province digits of the citizen id: 093 is Hậu Giang.
        let province = if code == "HG" {
            93
        } else {
            code.bytes().map(u32::from).sum::<u32>() % 96 + 1
        };
        let century =
            if born_on.year() >= 2000 { 2 } else { 0 } + u32::from(gender == Gender::Female);
        format!(
            "{province:03}{century}{:02}{:06}",
            born_on.year() % 100,
            self.rng.below(1_000_000)
        )
    }

    fn into_files(mut self) -> DataSet {
        let code = self.f.province.code.clone();
        let r = self.r;
        // Profile numbers in order of admission.
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.sort_by_key(|&m| (self.members[m].admitted_on, m));
        let mut profile = vec![String::new(); self.members.len()];
        for (n, &m) in order.iter().enumerate() {
            profile[m] = format!("{code}-{:06}", n + 1);
        }
        let codes: Vec<String> = self.orgs.iter().map(|o| o.code.clone()).collect();
        let org_code = |o: usize| codes[o].clone();

        let organizations: Vec<ExportRow> = self
            .orgs
            .iter()
            .map(|o| {
                organization_row(&NewOrganization {
                    code: o.code.clone(),
                    name: o.name.clone(),
                    kind: o.kind,
                    parent_code: o.parent.map(|p| self.orgs[p].code.clone()),
                    established_on: o.established_on,
                    dissolved_on: None,
                    has_branch_committee: false,
                })
            })
            .collect();

        let mut members = Vec::with_capacity(order.len());
        for (n, &m) in order.iter().enumerate() {
            let official_on = self.official_on(m);
            let s = &self.members[m];
            let (gender, born_on) = (s.gender, s.born_on);
            let national_id = self.national_id(&code, gender, born_on);
            let full_name = names::full_name(&mut self.rng, gender);
            let ethnicity = names::ethnicity(&mut self.rng);
            let religion = names::religion(&mut self.rng);
            let s = &self.members[m];
            let mut row = member_row(&NewMember {
                profile_number: profile[m].clone(),
                card_number: official_on
                    .map(|_| format!("{:08}", self.first_card_number + n as u64)),
                full_name,
                gender,
                born_on,
                ethnicity: Some(ethnicity),
                religion,
                national_id: Some(national_id),
                organization_code: self.orgs[s.branch].code.clone(),
                organization_since: Some(s.since),
                admitted_on: s.admitted_on,
                ceremony_on: Some(s.ceremony_on),
                official_on,
                exempt_since: s.exempt_since,
                override_reason: None,
            });
            if let Some((reason, on)) = s.leave {
                put(&mut row, "left_on", Some(on));
                put(&mut row, "leave_reason", Some(reason));
            }
            members.push(row);
        }

        self.positions.sort_by_key(|p| (p.2, p.0));
        let positions = self
            .positions
            .iter()
            .map(|&(m, title, from)| {
                let mut row = vec![
                    ("profile_number", profile[m].clone()),
                    ("title", title.to_string()),
                ];
                put(
                    &mut row,
                    "organization_code",
                    Some(org_code(self.members[m].branch)),
                );
                put(&mut row, "from", Some(from));
                row
            })
            .collect();

        self.transfers.sort_by_key(|t| (t.2, t.0));
        let transfers = self
            .transfers
            .iter()
            .map(|&(m, to, on)| {
                vec![
                    ("profile_number", profile[m].clone()),
                    ("organization_code", org_code(to)),
                    ("on", on.to_string()),
                ]
            })
            .collect();

        let member_ratings = order
            .iter()
            .filter_map(|&m| {
                let (level, self_corrected, reason) = self.members[m].rating?;
                let mut row = vec![
                    ("profile_number", profile[m].clone()),
                    ("year", r.to_string()),
                    ("level", level.as_str().to_string()),
                ];
                put(&mut row, "reason", reason);
                if self_corrected {
                    put(&mut row, "self_corrected", Some(true));
                }
                Some(row)
            })
            .collect();

        let organization_ratings = self
            .org_ratings
            .iter()
            .map(|&(o, level)| {
                let mut row = vec![
                    ("organization_code", org_code(o)),
                    ("year", r.to_string()),
                    ("level", level.as_str().to_string()),
                ];
                if level == Level::NotRated {
                    put(&mut row, "reason", Some("Mới thành lập chưa đủ 6 tháng"));
                }
                row
            })
            .collect();

        let mut actions = std::mem::take(&mut self.actions);
        actions.sort_by_key(|a| a.decided_on);
        let mut numbers: std::collections::BTreeMap<(usize, i32), usize> = Default::default();
        let mut disciplinary_actions = Vec::with_capacity(self.actions.len());
        for a in &actions {
            let seq = numbers
                .entry((a.authority, a.decided_on.year()))
                .or_default();
            *seq += 1;
            let (subject_type, subject) = match a.subject {
                Subject::Member(m) => ("member", profile[m].clone()),
                Subject::Organization(o) => ("organization", org_code(o)),
            };
            let announced_on = a.decided_on + Duration::days(self.rng.between(3, 15));
            let violation = *self.rng.pick(&VIOLATIONS);
            let mut row = vec![
                ("subject_type", subject_type.to_string()),
                ("subject", subject),
                ("form", a.form.as_str().to_string()),
                (
                    "decision_number",
                    format!("{:03}-QĐ/UBKT/{}", seq, a.decided_on.year()),
                ),
                ("authority_code", org_code(a.authority)),
            ];
            put(&mut row, "decided_on", Some(a.decided_on));
            put(&mut row, "announced_on", Some(announced_on));
            put(&mut row, "violation", Some(violation));
            disciplinary_actions.push(row);
        }

        self.awards
            .sort_by_key(|a| (a.awarded_on, a.member, a.tier));
        let insignia_awards = self
            .awards
            .iter()
            .map(|a| {
                let mut row = vec![
                    ("profile_number", profile[a.member].clone()),
                    ("tier", a.tier.to_string()),
                ];
                put(&mut row, "awarded_on", Some(a.awarded_on));
                put(
                    &mut row,
                    "decision_number",
                    Some(format!(
                        "{}-QĐ/TU/{}",
                        a.awarded_on.format("%m%d"),
                        a.awarded_on.year()
                    )),
                );
                if a.posthumous {
                    put(&mut row, "posthumous", Some(true));
                }
                if a.early {
                    put(&mut row, "early", Some(true));
                }
                row
            })
            .collect();

        let admission_targets = self
            .targets
            .iter()
            .map(|&(o, year, target)| {
                vec![
                    ("organization_code", org_code(o)),
                    ("year", year.to_string()),
                    ("target", target.to_string()),
                ]
            })
            .collect();

        DataSet {
            files: vec![
                (Kind::Organizations, organizations),
                (Kind::Members, members),
                (Kind::Positions, positions),
                (Kind::Transfers, transfers),
                (Kind::MemberRatings, member_ratings),
                (Kind::OrganizationRatings, organization_ratings),
                (Kind::DisciplinaryActions, disciplinary_actions),
                (Kind::InsigniaAwards, insignia_awards),
                (Kind::AdmissionTargets, admission_targets),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_files_and_one_rating_per_member_on_the_roll() {
        let f = Figures::hau_giang_2024();
        let a = DataSet::generate(1, &f).unwrap();
        let b = DataSet::generate(1, &f).unwrap();
        assert!(a.csv_files() == b.csv_files());
        assert_eq!(a.rows(Kind::MemberRatings).len(), f.structure.members);
        let orgs = &f.structure;
        assert_eq!(
            a.rows(Kind::Organizations).len(),
            1 + orgs.subordinate_committees
                + orgs.party_delegations
                + orgs.party_affairs_committees
                + orgs.other_bodies
                + orgs.grassroots_committees
                + orgs.grassroots_branches
                + orgs.sub_branches
        );
    }

    #[test]
    fn figures_the_province_cannot_hold_are_refused() {
        let mut f = Figures::hau_giang_2024();
        // More members disciplined the year before than rated completed or below.
        f.discipline.previous_year_members = 5000;
        assert!(DataSet::generate(1, &f).is_err());
    }

    #[test]
    fn apportioning_keeps_the_total() {
        assert_eq!(apportion(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(apportion(182, &[1, 1, 1, 1]), [46, 46, 45, 45]);
        assert_eq!(apportion(0, &[3, 1]), [0, 0]);
        assert_eq!(apportion(5, &[0, 0]), [0, 0]);
    }
}
