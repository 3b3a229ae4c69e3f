//! The national scale: 34 provinces of the demonstration's shape — Hậu Giang itself first, so
//! that the province workloads run on national data, then 33 of random sizes — 5.3 million
//! members in all, written as one import file a kind, one province at a time, so that memory
//! holds one province and never the nation. The member ratings are six years': the data set's
//! own (2023) and `demo::earlier_ratings` for 2019–2022 and 2024, after each province's own.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::demo::dataset::DataSet;
use crate::demo::earlier_ratings::{earlier_ratings_csv, EARLIER_YEARS};
use crate::demo::figures::Figures;
use crate::demo::Rng;
use crate::import::Kind;

/// Members of the party (about 5.3 million in 2025).
pub const NATIONAL_MEMBERS: usize = 5_300_000;

/// The 33 provinces and cities besides the demonstration's, for codes and names.
const PROVINCES: [(&str, &str); 33] = [
    ("HN", "Đảng bộ thành phố Hà Nội"),
    ("HUE", "Đảng bộ thành phố Huế"),
    ("LCH", "Đảng bộ tỉnh Lai Châu"),
    ("DB", "Đảng bộ tỉnh Điện Biên"),
    ("SL", "Đảng bộ tỉnh Sơn La"),
    ("LS", "Đảng bộ tỉnh Lạng Sơn"),
    ("QN", "Đảng bộ tỉnh Quảng Ninh"),
    ("TH", "Đảng bộ tỉnh Thanh Hóa"),
    ("NA", "Đảng bộ tỉnh Nghệ An"),
    ("HT", "Đảng bộ tỉnh Hà Tĩnh"),
    ("CB", "Đảng bộ tỉnh Cao Bằng"),
    ("TQ", "Đảng bộ tỉnh Tuyên Quang"),
    ("LCA", "Đảng bộ tỉnh Lào Cai"),
    ("TNG", "Đảng bộ tỉnh Thái Nguyên"),
    ("PT", "Đảng bộ tỉnh Phú Thọ"),
    ("BN", "Đảng bộ tỉnh Bắc Ninh"),
    ("HY", "Đảng bộ tỉnh Hưng Yên"),
    ("HP", "Đảng bộ thành phố Hải Phòng"),
    ("NB", "Đảng bộ tỉnh Ninh Bình"),
    ("QT", "Đảng bộ tỉnh Quảng Trị"),
    ("DN", "Đảng bộ thành phố Đà Nẵng"),
    ("QNG", "Đảng bộ tỉnh Quảng Ngãi"),
    ("GL", "Đảng bộ tỉnh Gia Lai"),
    ("KH", "Đảng bộ tỉnh Khánh Hòa"),
    ("LD", "Đảng bộ tỉnh Lâm Đồng"),
    ("DL", "Đảng bộ tỉnh Đắk Lắk"),
    ("HCM", "Đảng bộ Thành phố Hồ Chí Minh"),
    ("DNA", "Đảng bộ tỉnh Đồng Nai"),
    ("TNI", "Đảng bộ tỉnh Tây Ninh"),
    ("CT", "Đảng bộ thành phố Cần Thơ"),
    ("VL", "Đảng bộ tỉnh Vĩnh Long"),
    ("DT", "Đảng bộ tỉnh Đồng Tháp"),
    ("CM", "Đảng bộ tỉnh Cà Mau"),
];

/// The codes of the 34 provincial committees, the demonstration's first.
pub fn province_codes() -> Vec<String> {
    std::iter::once("HG")
        .chain(PROVINCES.iter().map(|(code, _)| *code))
        .map(String::from)
        .collect()
}

/// What the national files hold.
pub struct NationalFiles {
    /// Each kind written, with its row count and file, in import order.
    pub files: Vec<(Kind, usize, PathBuf)>,
    pub provinces: usize,
    pub organizations: usize,
    pub members: usize,
}

/// Writes the national files of `kinds` into `dir`.
pub fn write_files(seed: u64, dir: &Path, kinds: &[Kind]) -> Result<NationalFiles, String> {
    let hau_giang = Figures::hau_giang_2024();
    let mut rng = Rng::new(seed);
    // The other provinces' sizes: random weights, scaled so that the nation has its members.
    let weights: Vec<f64> = PROVINCES
        .iter()
        .map(|_| 0.4 + rng.below(1000) as f64 / 1000.0 * 1.6)
        .collect();
    let left = NATIONAL_MEMBERS as f64 / hau_giang.structure.members as f64 - 1.0;
    let sum: f64 = weights.iter().sum();
    let mut provinces = vec![hau_giang.clone()];
    for ((code, name), weight) in PROVINCES.iter().zip(&weights) {
        provinces.push(hau_giang.scaled(code, name, weight * left / sum));
    }

    let mut writers = Vec::new();
    for kind in kinds {
        let path = dir.join(format!("{kind}.csv"));
        let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        writers.push((*kind, 0usize, path, std::io::BufWriter::new(file)));
    }
    let mut card = 10_000_000;
    let (mut organizations, mut members) = (0, 0);
    for (i, figures) in provinces.iter().enumerate() {
        let data = DataSet::generate_numbered(seed.wrapping_add(i as u64), figures, card)?;
        card += data.member_count() as u64;
        organizations += data.rows(Kind::Organizations).len();
        members += data.member_count();
        for (kind, csv) in data.csv_files() {
            let Some((_, rows, _, out)) = writers.iter_mut().find(|(k, ..)| *k == kind) else {
                continue;
            };
            // One header, at the top of the national file.
            let body = if i == 0 {
                &csv[..]
            } else {
                let end = csv
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(csv.len(), |p| p + 1);
                &csv[end..]
            };
            out.write_all(body).map_err(|e| e.to_string())?;
            *rows += data.rows(kind).len();
            if kind == Kind::MemberRatings {
                *rows += earlier_ratings_csv(
                    &data,
                    seed.wrapping_add(i as u64),
                    &EARLIER_YEARS,
                    out,
                    false,
                )?;
            }
        }
    }
    let mut files = Vec::new();
    for (kind, rows, path, mut out) in writers {
        out.flush().map_err(|e| e.to_string())?;
        files.push((kind, rows, path));
    }
    Ok(NationalFiles {
        files,
        provinces: provinces.len(),
        organizations,
        members,
    })
}
