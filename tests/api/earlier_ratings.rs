//! The member ratings of other years generated for a demonstration province
//! (`demo::earlier_ratings`): imported into a server that holds the province, every row is
//! accepted by the import's rules, and the annual report of each year counts what was written,
//! every member on the roll at the year's end with one rating. Both loading orders: the extra
//! years after every file, and right after the province's own ratings (before its discipline,
//! whose decisions are then checked against them).

use std::collections::BTreeMap;

use party_records::demo::dataset::DataSet;
use party_records::demo::earlier_ratings::{earlier_ratings_csv, EARLIER_YEARS};
use party_records::demo::figures::Figures;
use party_records::import::Kind;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

/// The smallest province `Figures::scaled` makes (about 7,000 members).
fn province() -> DataSet {
    let f = Figures::hau_giang_2024().scaled("TT", "Đảng bộ tỉnh Thử Nghiệm", 0.2);
    DataSet::generate(31, &f).unwrap()
}

/// Rows per year and level of the generated file.
fn counts(csv: &str) -> BTreeMap<i32, BTreeMap<String, i64>> {
    let mut counts: BTreeMap<i32, BTreeMap<String, i64>> = BTreeMap::new();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("profile_number,year,level,score,reason,self_corrected,decided_on,override_reason")
    );
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 8, "{line}");
        *counts
            .entry(cells[1].parse().unwrap())
            .or_default()
            .entry(cells[2].to_string())
            .or_default() += 1;
    }
    counts
}

async fn import(app: &TestApp, token: &str, kind: Kind, csv: &str, rows: usize) {
    let answer = app.import_csv(token, kind.as_str(), csv).await;
    assert_eq!(answer.status, 200, "{kind}: {}", answer.body);
    assert_eq!(answer.body["rows"], json!(rows), "{kind}: {}", answer.body);
    assert_eq!(
        answer.body["inserted"],
        json!(rows),
        "{kind}: {}",
        answer.body
    );
}

/// Loads the province's files in import order, the extra years right after its own member
/// ratings (`early`) or after everything; then the report of each year counts them.
async fn load_and_check(early: bool) {
    let data = province();
    let mut extra = Vec::new();
    let written = earlier_ratings_csv(&data, 77, &EARLIER_YEARS, &mut extra, true).unwrap();
    let extra = String::from_utf8(extra).unwrap();
    let counts = counts(&extra);
    assert_eq!(
        counts.values().flat_map(|c| c.values()).sum::<i64>(),
        written as i64
    );
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), EARLIER_YEARS);

    let app = spawn_app().await;
    let admin = app.admin().await;
    for (kind, csv) in data.csv_files() {
        let csv = String::from_utf8(csv).unwrap();
        import(&app, &admin, kind, &csv, data.rows(kind).len()).await;
        if early && kind == Kind::MemberRatings {
            import(&app, &admin, Kind::MemberRatings, &extra, written).await;
        }
    }
    if !early {
        import(&app, &admin, Kind::MemberRatings, &extra, written).await;
    }

    for (year, levels) in &counts {
        // The report of a year gives the ratings of the year before.
        let r = app
            .get(
                &format!("/api/v1/reports/annual?organization=TT&year={}", year + 1),
                &admin,
            )
            .await
            .expect(200)
            .body
            .clone();
        let m = &r["ratings"]["members"];
        let get = |level: &str| levels.get(level).copied().unwrap_or(0);
        let rated = get("excellent") + get("good") + get("completed") + get("not_completed");
        let all: i64 = levels.values().sum();
        assert_eq!(
            m["total"],
            json!(all),
            "{year}: one rating per member on the roll"
        );
        assert_eq!(m["rated"], json!(rated), "{year}");
        assert_eq!(m["exempt"], json!(get("exempt")), "{year}");
        assert_eq!(m["not_rated"], json!(get("not_rated")), "{year}");
        for level in ["excellent", "good", "completed", "not_completed"] {
            assert_eq!(m[level]["count"], json!(get(level)), "{year} {level}");
        }
        assert_eq!(m["excellent_quota"]["within"], true, "{year}");
        // The structure at the year's end counts the same members.
        assert_eq!(r["structure"]["members"], json!(all), "{year}");
    }
}

#[tokio::test]
async fn earlier_years_imported_after_the_whole_province_are_all_accepted_and_counted() {
    load_and_check(false).await;
}

#[tokio::test]
async fn earlier_years_imported_before_the_provinces_discipline_are_all_accepted() {
    load_and_check(true).await;
}
