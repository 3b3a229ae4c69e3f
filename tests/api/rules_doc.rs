//! Every rule code used in the source is documented in docs/rules.md.

use std::path::Path;

const PREFIXES: [&str; 9] = [
    "import.",
    "organization.",
    "user.",
    "api_key.",
    "member.",
    "rating.",
    "discipline.",
    "insignia.",
    "admission_target.",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // The report names its CSV sections like codes ("discipline.members"); none is a rule.
            if !path.ends_with("report") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rule_code_in_the_source_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/rules.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut codes = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            let is_code = PREFIXES.iter().any(|p| piece.starts_with(p))
                && piece
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
            if is_code {
                codes.insert(piece.to_string());
            }
        }
    }
    assert!(codes.len() >= 15, "found only {codes:?}");
    let undocumented: Vec<_> = codes
        .iter()
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "rule codes missing from docs/rules.md: {undocumented:?}"
    );
}
