//! The demonstration data set end to end: generated, loaded through the bulk import of a fresh
//! server, and the annual report computed from its records equals the report it was built
//! from — the Hậu Giang 2024 report figure by figure, and another province's figures.

use party_records::demo::dataset::DataSet;
use party_records::demo::figures::{Figures, Insignia, OrganizationLevels, Tier};
use party_records::demo::DEFAULT_SEED;
use party_records::domain::figures::{percent, Rounding};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// Loads every file of `data` the way a script does, in import order; every row is inserted.
async fn load(app: &TestApp, token: &str, data: &DataSet) {
    for (kind, csv) in data.csv_files() {
        let text = String::from_utf8(csv).unwrap();
        assert!(
            data.rows(kind)
                .iter()
                .all(|row| row.iter().all(|(column, _)| *column != "override_reason")),
            "the data set needs no override"
        );
        let answer = app.import_csv(token, kind.as_str(), &text).await;
        answer.expect(200);
        let rows = data.rows(kind).len() as u64;
        assert_eq!(answer.body["rows"], json!(rows), "{kind}");
        assert_eq!(answer.body["inserted"], json!(rows), "{kind}");
    }
}

async fn report(app: &TestApp, token: &str, code: &str, year: i32) -> Value {
    app.get(
        &format!("/api/v1/reports/annual?organization={code}&year={year}"),
        token,
    )
    .await
    .expect(200)
    .body
    .clone()
}

fn level(count: i64, percent: &str) -> Value {
    json!({"count": count, "percent": percent})
}

#[tokio::test]
async fn the_demonstration_reproduces_the_hau_giang_2024_report() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let data = DataSet::generate(DEFAULT_SEED, &Figures::hau_giang_2024()).unwrap();
    load(&app, &admin, &data).await;
    let r = report(&app, &admin, "HG", 2024).await;

    // Structure at the end of 2023 (footnote, line 233): 1,516 sub-branches, as the rating
    // table counts them (the structure line's 1,515 contradicts it; report-figures.md).
    let s = &r["structure"];
    assert_eq!(s["on"], "2023-12-31");
    assert_eq!(
        s["organizations"],
        json!({"party_delegation": 8, "party_affairs_committee": 3, "other_body": 1,
               "subordinate_committee": 11, "grassroots_committee": 164, "grassroots_branch": 342,
               "partial_committee": 0, "sub_branch": 1516})
    );
    assert_eq!(s["grassroots_organizations"], 506);
    assert_eq!(s["members"], 33_923);
    assert_eq!(s["exempt_members"], 2595);

    // The 2023 ratings (lines 236–247), percentages truncated as the report prints them.
    let g = &r["ratings"]["grassroots_organizations"];
    assert_eq!(
        (
            g["total"].clone(),
            g["rated"].clone(),
            g["not_rated"].clone()
        ),
        (json!(506), json!(505), json!(1))
    );
    assert_eq!(g["rated_percent"], "99.80");
    assert_eq!(g["excellent"], level(77, "15.24"));
    assert_eq!(g["good"], level(403, "79.80"));
    assert_eq!(g["completed"], level(25, "4.95"));
    assert_eq!(g["not_completed"]["count"], 0);
    assert_eq!(g["excellent_quota"]["actual_percent"], "19.10");
    let b = &r["ratings"]["sub_branches"];
    assert_eq!(
        (
            b["total"].clone(),
            b["rated"].clone(),
            b["not_rated"].clone()
        ),
        (json!(1516), json!(1515), json!(1))
    );
    assert_eq!(b["rated_percent"], "99.93");
    assert_eq!(b["excellent"], level(230, "15.18"));
    assert_eq!(b["good"], level(1246, "82.24"));
    assert_eq!(b["completed"], level(26, "1.71"));
    assert_eq!(b["not_completed"], level(13, "0.85"));
    assert_eq!(b["excellent_quota"]["actual_percent"], "18.45");
    let m = &r["ratings"]["members"];
    assert_eq!(m["total"], 33_923);
    assert_eq!(m["exempt"], 2595);
    assert_eq!(m["not_rated"], 382);
    assert_eq!(m["rated"], 30_946);
    // The report prints 93,66%, which none of its own numbers give; 30,946 / 33,923 is 91.22%.
    assert_eq!(m["rated_percent"], "91.22");
    assert_eq!(m["excellent"], level(4571, "14.77"));
    assert_eq!(m["good"], level(24_344, "78.66"));
    assert_eq!(m["completed"], level(1823, "5.89"));
    assert_eq!(m["not_completed"], level(208, "0.67"));
    assert_eq!(m["excellent_quota"]["actual_percent"], "18.77");
    assert_eq!(m["excellent_quota"]["within"], true);

    // Admissions in 2024 (line 57).
    let a = &r["admissions"];
    assert_eq!(a["admitted"], 1293);
    assert_eq!(a["target"], 1150);
    assert_eq!(a["target_percent"], "112.43");
    assert_eq!(
        a["members_on"],
        json!({"date": "2024-12-31", "count": 34_801})
    );

    // Discipline in 2024 (line 121): 40 more members than in 2023.
    let d = &r["discipline"];
    assert_eq!(
        d["members"],
        json!({"total": 163, "reprimand": 90, "warning": 32, "dismissal": 7, "expulsion": 34,
               "previous_year_total": 123, "change": 40})
    );
    assert_eq!(d["organizations"]["total"], 2);
    assert_eq!(d["organizations"]["reprimand"], 1);
    assert_eq!(d["organizations"]["warning"], 1);

    // Insignia in 2024 (line 62, footnote line 254).
    let i = &r["insignia"];
    assert_eq!(
        (
            i["total"].clone(),
            i["posthumous"].clone(),
            i["early"].clone()
        ),
        (json!(521), json!(2), json!(1))
    );
    let tiers: Vec<(i64, i64, i64, i64)> = i["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["total"].as_i64().unwrap() > 0)
        .map(|t| {
            (
                t["tier"].as_i64().unwrap(),
                t["total"].as_i64().unwrap(),
                t["posthumous"].as_i64().unwrap(),
                t["early"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tiers,
        [
            (30, 182, 0, 0),
            (40, 182, 0, 0),
            (45, 57, 0, 0),
            (50, 42, 0, 0),
            (55, 32, 0, 0),
            (60, 24, 1, 1),
            (65, 2, 1, 0)
        ]
    );
    let batches: Vec<&str> = i["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["awarded_on"].as_str().unwrap())
        .collect();
    assert_eq!(
        batches,
        ["2024-02-03", "2024-05-19", "2024-09-02", "2024-11-07"]
    );

    // The same numbers in the report's own style.
    let text = app
        .get(
            "/api/v1/reports/annual?organization=HG&year=2024&format=text",
            &admin,
        )
        .await
        .expect(200)
        .text
        .clone();
    for phrase in [
        "08 đảng đoàn, 03 ban cán sự đảng, 01 tổ chức khác; 11 đảng bộ trực thuộc",
        "506 tổ chức cơ sở đảng (gồm 164 đảng bộ cơ sở và 342 chi bộ cơ sở)",
        "33.923 đảng viên",
        "đã đánh giá, xếp loại 505/506, đạt 99,80%",
        "hoàn thành xuất sắc nhiệm vụ 77, chiếm 15,24%",
        "đã đánh giá, xếp loại 1.515/1.516, đạt 99,93%",
        "không hoàn thành nhiệm vụ 13, chiếm 0,85%",
        "đã đánh giá, xếp loại 30.946/33.923, đạt 91,22%; miễn đánh giá, xếp loại 2.595; chưa đánh giá, xếp loại 382",
        "hoàn thành tốt nhiệm vụ 24.344, chiếm 78,66%",
        "kết nạp 1.293 đảng viên, đạt 112,43% chỉ tiêu kế hoạch (1.293/1.150)",
        "tổng số đảng viên đến 31/12/2024 là 34.801",
        "thi hành kỷ luật 163 đảng viên (tăng 40 so cùng kỳ), gồm khiển trách 90, cảnh cáo 32, cách chức 07, khai trừ 34",
        "kỷ luật 02 tổ chức đảng (khiển trách 01, cảnh cáo 01",
        "trao tặng 521 Huy hiệu Đảng (182 huy hiệu 30 năm, 182 huy hiệu 40 năm, 57 huy hiệu 45 năm, 42 huy hiệu 50 năm, 32 huy hiệu 55 năm, 24 huy hiệu 60 năm, 02 huy hiệu 65 năm), trong đó truy tặng 02, tặng trước hạn 01",
        "trao vào các đợt 3/2, 19/5, 2/9, 7/11",
    ] {
        assert!(text.contains(phrase), "{phrase:?} is not in:\n{text}");
    }
}

/// A smaller, made-up province in another year: the generator is not tuned to one report.
fn another_province() -> Figures {
    let levels = |excellent, good, completed, not_completed, not_rated| OrganizationLevels {
        excellent,
        good,
        completed,
        not_completed,
        not_rated,
    };
    let mut f = Figures::hau_giang_2024();
    f.province.code = "TN".into();
    f.province.name = "Đảng bộ tỉnh Thử Nghiệm".into();
    f.province.established_on = "1992-01-01".parse().unwrap();
    f.year = 2022;
    f.structure.party_delegations = 2;
    f.structure.party_affairs_committees = 1;
    f.structure.other_bodies = 0;
    f.structure.subordinate_committees = 4;
    f.structure.grassroots_committees = 12;
    f.structure.grassroots_branches = 20;
    f.structure.sub_branches = 60;
    f.structure.members = 3000;
    f.organization_ratings.grassroots = levels(5, 20, 4, 1, 2);
    f.organization_ratings.sub_branches = levels(9, 40, 6, 3, 2);
    f.member_ratings.exempt = 200;
    f.member_ratings.not_rated = 40;
    f.member_ratings.excellent = 400;
    f.member_ratings.good = 2100;
    f.member_ratings.completed = 230;
    f.member_ratings.not_completed = 30;
    f.admissions.admitted = 150;
    f.admissions.target = 160;
    f.admissions.members_at_end = 3100;
    f.discipline.members.reprimand = 8;
    f.discipline.members.warning = 4;
    f.discipline.members.dismissal = 1;
    f.discipline.members.expulsion = 3;
    f.discipline.previous_year_members = 12;
    f.discipline.organizations.reprimand = 0;
    f.discipline.organizations.warning = 1;
    f.discipline.organizations.dissolution = 1;
    let tier = |tier, awarded, posthumous, early| Tier {
        tier,
        awarded,
        posthumous,
        early,
    };
    f.insignia = Insignia {
        batches: vec!["03-03".into(), "09-02".into()],
        tiers: vec![
            tier(30, 20, 0, 0),
            tier(40, 15, 0, 1),
            tier(50, 6, 1, 0),
            tier(70, 2, 0, 1),
        ],
    };
    f
}

fn table(levels: [usize; 4], total: usize, extra: Value) -> Value {
    let rated: usize = levels.iter().sum();
    let p = |n: usize, of: usize| percent(n as i64, of as i64, Rounding::Truncate);
    let mut t = json!({
        "total": total,
        "rated": rated,
        "rated_percent": p(rated, total),
        "excellent": {"count": levels[0], "percent": p(levels[0], rated)},
        "good": {"count": levels[1], "percent": p(levels[1], rated)},
        "completed": {"count": levels[2], "percent": p(levels[2], rated)},
        "not_completed": {"count": levels[3], "percent": p(levels[3], rated)},
    });
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

/// The figures of `t` that `expected` names.
fn subset(t: &Value, expected: &Value) -> Value {
    let mut out = json!({});
    for k in expected.as_object().unwrap().keys() {
        out[k] = t[k].clone();
    }
    out
}

#[tokio::test]
async fn another_province_and_year_come_out_as_described() {
    let f = another_province();
    let app = spawn_app().await;
    let admin = app.admin().await;
    let data = DataSet::generate(7, &f).unwrap();
    load(&app, &admin, &data).await;
    let r = report(&app, &admin, "TN", 2022).await;

    let s = &r["structure"];
    assert_eq!(s["on"], "2021-12-31");
    assert_eq!(s["organizations"]["party_delegation"], 2);
    assert_eq!(s["organizations"]["party_affairs_committee"], 1);
    assert_eq!(s["organizations"]["subordinate_committee"], 4);
    assert_eq!(s["grassroots_organizations"], 32);
    assert_eq!(s["organizations"]["sub_branch"], 60);
    assert_eq!(s["members"], 3000);
    assert_eq!(s["exempt_members"], 200);

    let g = &r["ratings"]["grassroots_organizations"];
    let expected = table([5, 20, 4, 1], 32, json!({"not_rated": 2}));
    assert_eq!(subset(g, &expected), expected);
    let b = &r["ratings"]["sub_branches"];
    let expected = table([9, 40, 6, 3], 60, json!({"not_rated": 2}));
    assert_eq!(subset(b, &expected), expected);
    let m = &r["ratings"]["members"];
    let expected = table(
        [400, 2100, 230, 30],
        3000,
        json!({"exempt": 200, "not_rated": 40}),
    );
    assert_eq!(subset(m, &expected), expected);

    let a = &r["admissions"];
    assert_eq!(a["admitted"], 150);
    assert_eq!(a["target_percent"], "93.75");
    assert_eq!(a["members_on"]["count"], 3100);

    let d = &r["discipline"];
    assert_eq!(
        d["members"],
        json!({"total": 16, "reprimand": 8, "warning": 4, "dismissal": 1, "expulsion": 3,
               "previous_year_total": 12, "change": 4})
    );
    assert_eq!(d["organizations"]["warning"], 1);
    assert_eq!(d["organizations"]["dissolution"], 1);
    assert_eq!(d["organizations"]["total"], 2);

    let i = &r["insignia"];
    assert_eq!(
        (
            i["total"].clone(),
            i["posthumous"].clone(),
            i["early"].clone()
        ),
        (json!(43), json!(1), json!(2))
    );
    let tiers: Vec<(i64, i64)> = i["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["total"].as_i64().unwrap() > 0)
        .map(|t| (t["tier"].as_i64().unwrap(), t["total"].as_i64().unwrap()))
        .collect();
    assert_eq!(tiers, [(30, 20), (40, 15), (50, 6), (70, 2)]);
}

const BIN: &str = env!("CARGO_BIN_EXE_party-records");

#[test]
fn write_files_gives_the_same_bytes_for_a_seed_and_others_for_another() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: &str| {
        let out = std::process::Command::new(BIN)
            .args(["demo", "--seed", seed, "--write-files"])
            .arg(dir.path().join(name))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path().join(name))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let first = write("a", "2024");
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "admission-targets.csv",
            "disciplinary-actions.csv",
            "insignia-awards.csv",
            "member-ratings.csv",
            "members.csv",
            "organization-ratings.csv",
            "organizations.csv",
            "positions.csv",
            "transfers.csv"
        ]
    );
    assert_eq!(write("b", "2024"), first, "a seed gives the same bytes");
    assert_ne!(write("c", "2025"), first, "another seed, another province");

    let figures = dir.path().join("figures.json");
    std::fs::write(&figures, r#"{"province": {}}"#).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["demo", "--write-files", "x", "--figures"])
        .arg(&figures)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "unreadable figures are a usage error"
    );
}

/// `party-records demo` on an empty database: loads the province, prints the accounts once,
/// serves the report; started again, it serves what is there without loading twice.
#[tokio::test]
async fn the_demo_command_loads_once_and_serves_the_report() {
    use std::io::BufRead;
    let (_db, url) = crate::helpers::TestDb::create();
    let start = || {
        let mut child = std::process::Command::new(BIN)
            .arg("demo")
            .env("DATABASE_URL", &url)
            .env(
                "JWT_SECRET",
                "a test secret that is more than thirty-two bytes long",
            )
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "the demo stopped: {lines:?}"
            );
            let done = line.starts_with("API reference");
            lines.push(line.trim_end().to_string());
            if done {
                break;
            }
        }
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        (child, lines)
    };
    let (mut first, lines) = start();
    let field = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_string))
            .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
    };
    let address = field("party-records demonstration listening on ");
    let clerk = field("demo-clerk");
    let password = clerk.rsplit(' ').next().unwrap().to_string();
    assert!(clerk.contains("clerk") && clerk.contains("HG"), "{clerk}");
    assert!(lines
        .iter()
        .any(|l| l.contains("/api/v1/reports/annual?organization=HG&year=2024&format=text")));

    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"username": "demo-clerk", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"]
        .as_str()
        .expect("signed in")
        .to_string();
    let report: Value = client
        .get(format!(
            "{address}/api/v1/reports/annual?organization=HG&year=2024"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["structure"]["members"], 33_923);
    assert_eq!(report["admissions"]["members_on"]["count"], 34_801);
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, lines) = start();
    assert!(
        lines.iter().any(|l| l.contains("holds records already")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("password:")),
        "passwords are printed once"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}
