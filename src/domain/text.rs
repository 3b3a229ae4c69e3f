//! Text as clerks type it: every input string is normalised to Unicode NFC and trimmed, and
//! names are searched without diacritics ("nguyen thi hoa" finds "Nguyễn Thị Hoa", `đ` = `d`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// NFC and trimmed: the form in which every text is stored.
pub fn normalize(input: &str) -> String {
    let trimmed = input.trim();
    // Most text arrives in NFC already (and codes are ASCII): the quick check answers without
    // decomposing and recomposing, which was most of an import's reading time.
    if trimmed.is_ascii() || is_nfc_quick(trimmed.chars()) == IsNormalized::Yes {
        return trimmed.to_owned();
    }
    trimmed.nfc().collect()
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

/// The stored search form of a name: folded, with a leading space so that every word of it
/// starts after a space and a word-prefix search is one `LIKE '% word%'`.
pub fn search_key(name: &str) -> String {
    format!(" {}", fold(name))
}

/// `LIKE` patterns for a search query against [`search_key`]: each word of the query must
/// begin a word of the name ("an" finds "Lê Văn An" and "Phạm Đức Ánh", not "Trần Văn Bình").
/// `%`, `_` and `\` are dropped: a name never needs them, and they would be wildcards.
pub fn search_patterns(query: &str) -> Vec<String> {
    fold(query)
        .split(' ')
        .map(|w| w.replace(['%', '_', '\\'], ""))
        .filter(|w| !w.is_empty())
        .map(|w| format!("% {w}%"))
        .collect()
}

/// The Vietnamese alphabet in dictionary order, with the Latin letters it lacks (f, j, w, z)
/// in their Latin places. A letter's index is its primary weight.
const ALPHABET: [char; 33] = [
    'a', 'ă', 'â', 'b', 'c', 'd', 'đ', 'e', 'ê', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'ô', 'ơ', 'p', 'q', 'r', 's', 't', 'u', 'ư', 'v', 'w', 'x', 'y', 'z',
];

/// Tone marks in dictionary order after the level tone (thanh ngang): huyền, hỏi, ngã, sắc, nặng.
const TONES: [char; 5] = ['\u{0300}', '\u{0309}', '\u{0303}', '\u{0301}', '\u{0323}'];

/// One letter's primary weight (as a sortable character) and its tone (0 = level tone), or
/// `None` for what does not sort (punctuation).
fn weigh(letter: &str) -> Option<(char, u8)> {
    let mut base = None;
    let mut modifier = None;
    let mut tone = 0u8;
    for ch in letter.nfd() {
        match ch {
            '\u{0306}' | '\u{0302}' | '\u{031B}' => modifier = Some(ch),
            c if TONES.contains(&c) => {
                tone = TONES
                    .iter()
                    .position(|t| *t == c)
                    .map(|p| p as u8 + 1)
                    .unwrap_or(0)
            }
            c if is_combining_mark(c) => {}
            c => base = Some(c.to_lowercase().next().unwrap_or(c)),
        }
    }
    let base = base?;
    if base.is_ascii_digit() {
        return Some((base, tone));
    }
    let letter = match (base, modifier) {
        ('a', Some('\u{0306}')) => 'ă',
        ('a', Some('\u{0302}')) => 'â',
        ('e', Some('\u{0302}')) => 'ê',
        ('o', Some('\u{0302}')) => 'ô',
        ('o', Some('\u{031B}')) => 'ơ',
        ('u', Some('\u{031B}')) => 'ư',
        (b, _) => b,
    };
    let index = ALPHABET.iter().position(|a| *a == letter)?;
    Some((char::from(b'A' + index as u8), tone))
}

/// The primary letters of `words` and one tone per word (a syllable has one tone, wherever
/// it is written: "hoà" and "hòa" are the same word).
fn weigh_words(words: &str, primary: &mut String, tones: &mut String) {
    for (i, word) in words.split_whitespace().enumerate() {
        if i > 0 {
            primary.push(' ');
        }
        // Group each base character with the combining marks that follow it.
        let decomposed: String = word.nfd().collect();
        let mut tone = 0u8;
        let mut letter = String::new();
        let mut flush = |letter: &mut String| {
            if let Some((p, t)) = weigh(letter) {
                primary.push(p);
                tone = tone.max(t);
            }
            letter.clear();
        };
        for ch in decomposed.chars() {
            if !is_combining_mark(ch) && !letter.is_empty() {
                flush(&mut letter);
            }
            letter.push(ch);
        }
        flush(&mut letter);
        tones.push(char::from(b'0' + tone));
    }
}

/// A key that sorts names the Vietnamese way with plain byte comparison (SQLite's BINARY,
/// PostgreSQL's `COLLATE "C"`): by the given name (the last word) first, then the whole name.
/// Each is compared by its letters in Vietnamese alphabet order (a < ă < â, d < đ, o < ô < ơ,
/// u < ư) and, where the letters tie, by its tones (level, huyền, hỏi, ngã, sắc, nặng).
/// Case is ignored.
pub fn vietnamese_name_key(full_name: &str) -> String {
    let given = full_name.split_whitespace().last().unwrap_or("");
    let mut key = String::new();
    for part in [given, full_name] {
        let mut primary = String::new();
        let mut tones = String::new();
        weigh_words(part, &mut primary, &mut tones);
        // \u{1} sorts below every letter and the space: a name that is a prefix of another
        // comes first, and the tones are compared only where the letters tie.
        key.push_str(&primary);
        key.push('\u{1}');
        key.push_str(&tones);
        key.push('\u{1}');
    }
    key
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

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by_key(|n| vietnamese_name_key(n));
        v
    }

    #[test]
    fn names_sort_by_given_name_then_full_name() {
        assert_eq!(
            sorted(&[
                "Trần Văn Bình",
                "Nguyễn Thị An",
                "Lê Văn An",
                "Phạm Minh Châu"
            ]),
            [
                "Lê Văn An",
                "Nguyễn Thị An",
                "Trần Văn Bình",
                "Phạm Minh Châu"
            ]
        );
    }

    #[test]
    fn letters_follow_the_vietnamese_alphabet() {
        // a < ă < â; d < đ; o < ô < ơ; u < ư — whatever the tones.
        assert_eq!(
            sorted(&["Lê Ân", "Lê Ăn", "Lê An"]),
            ["Lê An", "Lê Ăn", "Lê Ân"]
        );
        assert_eq!(sorted(&["Võ Đức", "Võ Dũng"]), ["Võ Dũng", "Võ Đức"]);
        assert_eq!(
            sorted(&["Hà Ơn", "Hà Ôn", "Hà On"]),
            ["Hà On", "Hà Ôn", "Hà Ơn"]
        );
        assert_eq!(sorted(&["Lý Ưng", "Lý Ung"]), ["Lý Ung", "Lý Ưng"]);
        assert_eq!(
            sorted(&["Mai Út", "Mai Yến", "Mai Vân"]),
            ["Mai Út", "Mai Vân", "Mai Yến"]
        );
    }

    #[test]
    fn tones_break_ties_only() {
        // ngang < huyền < hỏi < ngã < sắc < nặng
        assert_eq!(
            sorted(&["Lê Mạ", "Lê Má", "Lê Mã", "Lê Mả", "Lê Mà", "Lê Ma"]),
            ["Lê Ma", "Lê Mà", "Lê Mả", "Lê Mã", "Lê Má", "Lê Mạ"]
        );
        // Letters decide before tones: "An" is a prefix of the others; "Anh" and "Ánh" tie on
        // letters and the level tone comes first.
        assert_eq!(
            sorted(&["Lê Ánh", "Lê Anh", "Lê An"]),
            ["Lê An", "Lê Anh", "Lê Ánh"]
        );
    }

    #[test]
    fn the_given_name_decides_with_its_tones_before_the_family_name() {
        assert_eq!(
            sorted(&["Đặng Thị Hòa", "Nguyễn Thị Hoa", "Lê Văn Hoà"]),
            ["Nguyễn Thị Hoa", "Đặng Thị Hòa", "Lê Văn Hoà"]
        );
    }

    #[test]
    fn case_and_composition_do_not_matter() {
        assert_eq!(
            vietnamese_name_key("NGUYỄN THỊ HOA"),
            vietnamese_name_key("nguyễn thị hoa")
        );
        assert_eq!(
            vietnamese_name_key("Nguye\u{0302}\u{0303}n Hoa"),
            vietnamese_name_key("Nguyễn Hoa")
        );
    }

    #[test]
    fn search_patterns_match_word_starts_and_drop_wildcards() {
        assert_eq!(
            search_patterns(" Nguyen  thị_% "),
            vec!["% nguyen%", "% thi%"]
        );
        assert!(search_patterns("  %% ").is_empty());
        assert_eq!(search_key("Nguyễn Thị Hoa"), " nguyen thi hoa");
    }
}
