//! Text as clerks type it: every input string is normalised to Unicode NFC and trimmed, and
//! names are searched without diacritics ("nguyen thi hoa" finds "Nguyễn Thị Hoa", `đ` = `d`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// NFC and trimmed: the form in which every text is stored.
pub fn normalize(input: &str) -> String {
    input.trim().nfc().collect()
}

/// Lower case, without diacritics, `đ` as `d`, runs of whitespace as one space: the form used
/// to search names. Stored beside the name so that a search is a plain `LIKE` on one column.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    for ch in input.nfd() {
        if is_combining_mark(ch) {
            continue;
        }
        if ch.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match ch {
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(ch.to_lowercase()),
        }
    }
    out
}

/// The words of a search query, folded, for a `LIKE '%word%'` each (all must match).
/// `%`, `_` and `\` are dropped: a name never needs them, and they would be wildcards.
pub fn search_words(query: &str) -> Vec<String> {
    fold(query)
        .split(' ')
        .map(|w| w.replace(['%', '_', '\\'], ""))
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_composes_and_trims() {
        // "ễ" typed as e + circumflex + tilde (decomposed) becomes one code point.
        let decomposed = "  Nguye\u{0302}\u{0303}n ";
        assert_eq!(normalize(decomposed), "Nguyễn");
    }

    #[test]
    fn fold_removes_diacritics_and_maps_d_stroke() {
        assert_eq!(fold("Nguyễn Thị Hoa"), "nguyen thi hoa");
        assert_eq!(fold("Đảng bộ  Phường   I"), "dang bo phuong i");
        assert_eq!(fold("  Ngã Bảy "), "nga bay");
    }

    #[test]
    fn fold_does_not_equate_different_letters() {
        assert_ne!(fold("Hòa"), fold("Hoa Lan"));
        assert_ne!(fold("Vị Thanh"), fold("Vị Thủy"));
    }

    #[test]
    fn search_words_split_and_drop_wildcards() {
        assert_eq!(search_words(" Nguyen  thị_% "), vec!["nguyen", "thi"]);
        assert!(search_words("  %% ").is_empty());
    }
}
