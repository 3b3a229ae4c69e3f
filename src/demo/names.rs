//! Vietnamese names: family names in their approximate national shares, middle and given
//! names by gender, with correct diacritics; ethnicities and religions in plausible shares for
//! the Mekong delta.

use super::Rng;
use crate::domain::member::Gender;

/// Họ, weighted by their approximate share of the population (per mille).
const FAMILY: [(&str, u32); 16] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Huỳnh", 50),
    ("Phan", 45),
    ("Võ", 39),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Trương", 10),
    ("Lâm", 8),
];

const MIDDLE_MALE: [&str; 10] = [
    "Văn", "Hữu", "Minh", "Quốc", "Thanh", "Công", "Đức", "Hoàng", "Trung", "Tấn",
];
const MIDDLE_FEMALE: [&str; 10] = [
    "Thị", "Ngọc", "Thanh", "Kim", "Thu", "Mỹ", "Bích", "Thị", "Hồng", "Thúy",
];

const GIVEN_MALE: [&str; 32] = [
    "An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hùng", "Huy", "Khoa", "Long", "Minh", "Nam",
    "Phong", "Phúc", "Quang", "Sơn", "Tài", "Thắng", "Thành", "Trung", "Tuấn", "Việt", "Vinh",
    "Hiếu", "Tâm", "Tín", "Lộc", "Nghĩa", "Toàn", "Khánh", "Hậu", "Lợi",
];
const GIVEN_FEMALE: [&str; 32] = [
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hồng", "Hương", "Lan", "Linh",
    "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Phương", "Quyên", "Thảo", "Thủy", "Trang",
    "Tuyết", "Vân", "Xuân", "Yến", "Diễm", "Thúy", "Hoà", "Oanh", "Châu",
];

/// Dân tộc in a Mekong-delta province: mostly Kinh, some Khmer and Hoa.
const ETHNICITIES: [(&str, u32); 3] = [("Kinh", 965), ("Khmer", 25), ("Hoa", 10)];

/// Tôn giáo: most members follow none.
const RELIGIONS: [(Option<&str>, u32); 5] = [
    (None, 900),
    (Some("Phật giáo"), 60),
    (Some("Công giáo"), 20),
    (Some("Cao Đài"), 12),
    (Some("Phật giáo Hòa Hảo"), 8),
];

pub fn full_name(rng: &mut Rng, gender: Gender) -> String {
    let family = rng.weighted(&FAMILY);
    let (middle, given) = match gender {
        Gender::Male => (rng.pick(&MIDDLE_MALE), rng.pick(&GIVEN_MALE)),
        Gender::Female => (rng.pick(&MIDDLE_FEMALE), rng.pick(&GIVEN_FEMALE)),
    };
    format!("{family} {middle} {given}")
}

pub fn ethnicity(rng: &mut Rng) -> String {
    rng.weighted(&ETHNICITIES).to_string()
}

pub fn religion(rng: &mut Rng) -> Option<String> {
    rng.weighted(&RELIGIONS).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::normalize;

    #[test]
    fn names_are_three_nfc_words() {
        let mut rng = Rng::new(1);
        for i in 0..200 {
            let gender = if i % 2 == 0 {
                Gender::Male
            } else {
                Gender::Female
            };
            let name = full_name(&mut rng, gender);
            assert_eq!(name.split(' ').count(), 3, "{name}");
            assert_eq!(normalize(&name), name, "stored names are NFC");
        }
    }
}
