//! Annual records over HTTP (issue 4): quality ratings of members and organisations, party
//! discipline and its effects, Party insignia, admission targets.

use chrono::{Months, NaiveDate};
use party_records::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Answer, TestApp};

const MEMBER_RATINGS: &str = "/api/v1/ratings/members";
const ORG_RATINGS: &str = "/api/v1/ratings/organizations";
const ACTIONS: &str = "/api/v1/disciplinary-actions";
const AWARDS: &str = "/api/v1/insignia-awards";
const TARGETS: &str = "/api/v1/admission-targets";

// ─── Fixtures ───────────────────────────────────────────────────────────────────────────────

/// HG ─┬─ VT ── VT.P1 (grassroots committee) ─┬─ VT.P1.A (sub-branch)
///     │                                      └─ VT.P1.B (sub-branch)
///     └─ NB ── NB.CB (grassroots branch)
async fn province(app: &TestApp, admin: &str) {
    for (code, kind, parent) in [
        ("HG", "provincial_committee", None),
        ("VT", "subordinate_committee", Some("HG")),
        ("NB", "subordinate_committee", Some("HG")),
        ("VT.P1", "grassroots_committee", Some("VT")),
        ("VT.P1.A", "sub_branch", Some("VT.P1")),
        ("VT.P1.B", "sub_branch", Some("VT.P1")),
        ("NB.CB", "grassroots_branch", Some("NB")),
    ] {
        app.org(admin, code, kind, parent, "2004-01-01").await;
    }
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

fn name_of(profile: &str) -> String {
    format!("Đảng viên {profile}")
}

/// A member admitted at 30 on `admitted_on`, ceremony the same day, active in `org` since the
/// admission (or since the tree was founded in 2004, for older members).
fn member_body(profile: &str, org: &str, admitted_on: &str) -> Value {
    let admitted = date(admitted_on);
    let born = admitted.checked_sub_months(Months::new(30 * 12)).unwrap();
    let since = admitted.max(date("2004-01-01"));
    json!({
        "profile_number": profile,
        "full_name": name_of(profile),
        "gender": "male",
        "born_on": born.to_string(),
        "organization_code": org,
        "organization_since": since.to_string(),
        "admitted_on": admitted_on,
        "ceremony_on": admitted_on,
    })
}

/// A probationary member (never recognised).
async fn probationary(app: &TestApp, token: &str, profile: &str, org: &str, admitted_on: &str) {
    app.post(
        "/api/v1/members",
        token,
        member_body(profile, org, admitted_on),
    )
    .await
    .expect(201);
}

/// A full member: official 12 months after the ceremony.
async fn member(app: &TestApp, token: &str, profile: &str, org: &str, admitted_on: &str) {
    let mut body = member_body(profile, org, admitted_on);
    let official = date(admitted_on)
        .checked_add_months(Months::new(12))
        .unwrap();
    body["official_on"] = json!(official.to_string());
    let answer = app.post("/api/v1/members", token, body).await;
    answer.expect(201);
    assert_eq!(answer.body["status"], "full", "{}", answer.text);
}

async fn leave(app: &TestApp, token: &str, profile: &str, reason: &str, on: &str) {
    app.post(
        &format!("/api/v1/members/{profile}/leave"),
        token,
        json!({"reason": reason, "on": on}),
    )
    .await
    .expect(200);
}

async fn exempt(app: &TestApp, token: &str, profile: &str, starts_on: &str) {
    app.post(
        &format!("/api/v1/members/{profile}/exemptions"),
        token,
        json!({"starts_on": starts_on, "reason": "tuổi cao"}),
    )
    .await
    .expect(200);
}

async fn position(app: &TestApp, token: &str, profile: &str, starts_on: &str, ends_on: Value) {
    app.post(
        &format!("/api/v1/members/{profile}/positions"),
        token,
        json!({"title": "Bí thư chi bộ", "starts_on": starts_on, "ends_on": ends_on}),
    )
    .await
    .expect(200);
}

async fn get_member(app: &TestApp, token: &str, profile: &str) -> Value {
    let answer = app.get(&format!("/api/v1/members/{profile}"), token).await;
    answer.expect(200);
    answer.body.clone()
}

/// Profile numbers on the roll under `under` on `on`.
async fn on_roll(app: &TestApp, token: &str, under: &str, on: &str) -> Vec<String> {
    let answer = app
        .get(
            &format!("/api/v1/members?under={under}&on={on}&limit=500"),
            token,
        )
        .await;
    answer.expect(200);
    strings(&answer.body["items"], "profile_number")
}

/// `base` with the keys of `extra` set (a null in `extra` removes the key).
fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("an object") {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// The field of the error with this code (the answer must carry it).
#[track_caller]
fn field_of(answer: &Answer, code: &str) -> String {
    answer.body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["code"] == code))
        .and_then(|e| e["field"].as_str())
        .unwrap_or_else(|| panic!("no error {code} with a field in {}", answer.text))
        .to_string()
}

/// 422 with this rule code on this field.
#[track_caller]
fn expect_rule(answer: &Answer, code: &str, field: &str) {
    answer.expect_problem(422, Some(code));
    assert_eq!(field_of(answer, code), field, "{}", answer.text);
}

/// 422 (with some error on `field`), whatever the validation code.
#[track_caller]
fn expect_invalid(answer: &Answer, field: &str) {
    answer.expect_problem(422, None);
    let fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&field),
        "expected an error on {field}: {}",
        answer.text
    );
}

/// A reference the caller cannot see: either 404 or 422 with a `*_not_found` code.
#[track_caller]
fn expect_not_found_reference(answer: &Answer) {
    match answer.status.as_u16() {
        404 => {
            answer.expect_problem(404, None);
        }
        _ => {
            answer.expect_problem(422, None);
            assert!(
                answer.body["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["code"].as_str().is_some_and(|c| c.ends_with("not_found"))),
                "expected a *_not_found code: {}",
                answer.text
            );
        }
    }
}

/// The values of `key` in the items of a list (numbers written as text).
fn strings(items: &Value, key: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {items}"))
        .iter()
        .map(|item| text(&item[key]))
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn get_path(app: &TestApp, path: String, token: &str) -> Answer {
    app.get(&path, token).await
}

async fn post_path(app: &TestApp, path: String, token: &str, body: Value) -> Answer {
    app.post(&path, token, body).await
}

fn etag_of(version: &Value) -> String {
    format!("\"{}\"", version.as_i64().expect("a numeric version"))
}

#[track_caller]
fn assert_timestamp(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "not RFC 3339: {s}"
    );
}

/// Walks a list in pages of `limit`, returning every item.
async fn walk(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut url = format!("{path}{sep}limit={limit}");
    for _ in 0..100 {
        let page = app.get(&url, token).await;
        page.expect(200);
        let batch = page.body["items"].as_array().unwrap();
        assert!(batch.len() <= limit, "page larger than the limit");
        items.extend(batch.iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => url = format!("{path}{sep}limit={limit}&cursor={cursor}"),
            None => return items,
        }
    }
    panic!("paging does not end");
}

async fn clerk(app: &TestApp, name: &str, scope: &str) -> String {
    app.insert_user(name, Role::Clerk, Some(scope));
    app.token(name).await
}

async fn inspector(app: &TestApp, name: &str, scope: &str) -> String {
    app.insert_user(name, Role::Inspector, Some(scope));
    app.token(name).await
}

async fn auditor(app: &TestApp, name: &str, scope: &str) -> String {
    app.insert_user(name, Role::Auditor, Some(scope));
    app.token(name).await
}

// ─── Request helpers ────────────────────────────────────────────────────────────────────────

async fn rate(
    app: &TestApp,
    token: &str,
    profile: &str,
    year: i32,
    level: &str,
    extra: Value,
) -> Answer {
    let body = json!({"profile_number": profile, "year": year, "level": level});
    app.post(MEMBER_RATINGS, token, with(body, extra)).await
}

async fn rate_org(
    app: &TestApp,
    token: &str,
    code: &str,
    year: i32,
    level: &str,
    extra: Value,
) -> Answer {
    let body = json!({"organization_code": code, "year": year, "level": level});
    app.post(ORG_RATINGS, token, with(body, extra)).await
}

/// (year, profile number) of each rating in a member-rating list.
fn rating_keys(list: &Value) -> Vec<(i64, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["year"].as_i64().unwrap(),
                r["profile_number"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A disciplinary action body issued by the provincial committee HG.
fn action(subject_type: &str, subject: &str, form: &str, number: &str, decided_on: &str) -> Value {
    json!({
        "subject_type": subject_type,
        "subject": subject,
        "form": form,
        "decision_number": number,
        "authority_code": "HG",
        "decided_on": decided_on,
    })
}

async fn discipline(app: &TestApp, token: &str, body: Value) -> Answer {
    app.post(ACTIONS, token, body).await
}

/// Records a disciplinary action on a member; returns its id.
async fn discipline_member(
    app: &TestApp,
    token: &str,
    profile: &str,
    form: &str,
    decided_on: &str,
    announced_on: Option<&str>,
) -> String {
    let number = format!("{form}-{profile}-{decided_on}");
    let mut body = action("member", profile, form, &number, decided_on);
    if let Some(on) = announced_on {
        body["announced_on"] = json!(on);
    }
    let answer = discipline(app, token, body).await;
    answer.expect(201);
    text(&answer.body["id"])
}

async fn appeal(app: &TestApp, token: &str, id: &str, body: Value) -> Answer {
    app.post(&format!("{ACTIONS}/{id}/appeal"), token, body)
        .await
}

/// Annuls an action on appeal.
async fn annul(app: &TestApp, token: &str, id: &str, filed_on: &str, decided_on: &str) -> Value {
    let answer = appeal(
        app,
        token,
        id,
        json!({"filed_on": filed_on, "outcome": "annulled", "decided_on": decided_on}),
    )
    .await;
    answer.expect(200);
    assert_eq!(answer.body["annulled"], true, "{}", answer.text);
    answer.body.clone()
}

/// Subjects of the actions in force on `on`, in list order.
async fn in_force(app: &TestApp, token: &str, on: &str) -> Vec<String> {
    let answer = app
        .get(&format!("{ACTIONS}?in_force_on={on}&limit=500"), token)
        .await;
    answer.expect(200);
    strings(&answer.body["items"], "subject")
}

async fn award(
    app: &TestApp,
    token: &str,
    profile: &str,
    tier: i64,
    awarded_on: &str,
    extra: Value,
) -> Answer {
    let body = json!({"profile_number": profile, "tier": tier, "awarded_on": awarded_on});
    app.post(AWARDS, token, with(body, extra)).await
}

async fn party_age(app: &TestApp, token: &str, profile: &str, on: &str) -> Value {
    let answer = app
        .get(
            &format!("/api/v1/members/{profile}/party-age?on={on}"),
            token,
        )
        .await;
    answer.expect(200);
    answer.body.clone()
}

fn age_triple(age: &Value) -> (i64, i64, i64) {
    (
        age["years"].as_i64().unwrap_or(-1),
        age["months"].as_i64().unwrap_or(-1),
        age["days"].as_i64().unwrap_or(-1),
    )
}

// ─── Member ratings ─────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_member_rating_is_created_read_and_listed_with_every_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;

    let created = rate(
        &app,
        &admin,
        "HG-0001",
        2024,
        "good",
        json!({"reason": "Hoàn thành tốt nhiệm vụ", "decided_on": "2024-12-20"}),
    )
    .await;
    created.expect(201);
    assert_eq!(
        created.header("location"),
        Some("/api/v1/ratings/members/HG-0001/2024")
    );
    let r = &created.body;
    assert_eq!(
        created.header("etag"),
        Some(etag_of(&r["version"]).as_str())
    );
    assert_eq!(r["profile_number"], "HG-0001");
    assert_eq!(r["full_name"], name_of("HG-0001"));
    assert_eq!(r["year"], 2024);
    assert_eq!(r["level"], "good");
    assert_eq!(r["score"], Value::Null);
    assert_eq!(r["reason"], "Hoàn thành tốt nhiệm vụ");
    assert_eq!(r["self_corrected"], false);
    assert_eq!(r["decided_on"], "2024-12-20");
    assert_eq!(r["override_reason"], Value::Null);
    assert_eq!(r["version"], 1);
    assert_timestamp(&r["created_at"]);
    assert_timestamp(&r["updated_at"]);
    assert_eq!(r["warnings"], json!([]));

    let got = app
        .get("/api/v1/ratings/members/HG-0001/2024", &admin)
        .await;
    got.expect(200);
    assert_eq!(got.header("etag"), created.header("etag"));
    assert_eq!(got.body, created.body);

    // Optional fields left out are null / false.
    member(&app, &admin, "HG-0002", "VT.P1.A", "2015-05-19").await;
    let bare = rate(&app, &admin, "HG-0002", 2024, "completed", json!({})).await;
    bare.expect(201);
    assert_eq!(bare.body["reason"], Value::Null);
    assert_eq!(bare.body["decided_on"], Value::Null);
    assert_eq!(bare.body["self_corrected"], false);

    let list = app
        .get(&format!("{MEMBER_RATINGS}?year=2024"), &admin)
        .await;
    list.expect(200);
    assert_eq!(
        rating_keys(&list.body),
        [(2024, "HG-0001".into()), (2024, "HG-0002".into())]
    );
    assert_eq!(list.body["next_cursor"], Value::Null);
    assert_eq!(list.body["items"][0]["level"], "good");
    assert_eq!(list.body["items"][0]["full_name"], name_of("HG-0001"));

    app.get("/api/v1/ratings/members/HG-0001/2023", &admin)
        .await
        .expect_problem(404, None);
    app.get("/api/v1/ratings/members/NOPE/2024", &admin)
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn a_member_is_rated_only_for_years_on_the_roll() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "HG-0002", "VT.P1.A", "2015-05-19").await;
    leave(&app, &admin, "HG-0002", "deceased", "2020-03-10").await;

    // Not yet admitted by the end of 2014.
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2014, "good", json!({})).await,
        "rating.subject_not_on_roll",
        "profile_number",
    );
    rate(&app, &admin, "HG-0001", 2015, "good", json!({}))
        .await
        .expect(201);
    // Left in March 2020: rated for 2020, not for 2021.
    expect_rule(
        &rate(&app, &admin, "HG-0002", 2021, "good", json!({})).await,
        "rating.subject_not_on_roll",
        "profile_number",
    );
    rate(&app, &admin, "HG-0002", 2020, "good", json!({}))
        .await
        .expect(201);
    // Unknown.
    expect_rule(
        &rate(&app, &admin, "NOPE-1", 2020, "good", json!({})).await,
        "rating.member_not_found",
        "profile_number",
    );
}

#[tokio::test]
async fn exempt_members_are_rated_exempt_and_only_they_are() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // Exempt since 2020, still exempt.
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    exempt(&app, &admin, "HG-0001", "2020-01-01").await;
    // Never exempt.
    member(&app, &admin, "HG-0002", "VT.P1.A", "2015-05-19").await;
    // Exempt from March to September 2023.
    member(&app, &admin, "HG-0003", "VT.P1.A", "2015-05-19").await;
    exempt(&app, &admin, "HG-0003", "2023-03-01").await;
    app.post(
        "/api/v1/members/HG-0003/exemptions/end",
        &admin,
        json!({"on": "2023-09-01"}),
    )
    .await
    .expect(200);

    let reason = json!({"reason": "Miễn sinh hoạt đảng"});
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2023, "good", json!({})).await,
        "rating.exempt_member",
        "level",
    );
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2023, "exempt", json!({})).await,
        "rating.reason_required",
        "reason",
    );
    let ok = rate(&app, &admin, "HG-0001", 2023, "exempt", reason.clone()).await;
    ok.expect(201);
    assert_eq!(ok.body["level"], "exempt");
    assert_eq!(ok.body["reason"], "Miễn sinh hoạt đảng");

    expect_rule(
        &rate(&app, &admin, "HG-0002", 2023, "exempt", reason.clone()).await,
        "rating.exempt_without_exemption",
        "level",
    );
    rate(&app, &admin, "HG-0002", 2023, "good", json!({}))
        .await
        .expect(201);

    // Exempt for part of 2023: exempt is allowed that year (and not required), not in 2022.
    expect_rule(
        &rate(&app, &admin, "HG-0003", 2022, "exempt", reason.clone()).await,
        "rating.exempt_without_exemption",
        "level",
    );
    rate(&app, &admin, "HG-0003", 2023, "exempt", reason.clone())
        .await
        .expect(201);
    rate(&app, &admin, "HG-0003", 2024, "good", json!({}))
        .await
        .expect(201);
}

#[tokio::test]
async fn members_admitted_after_june_30_are_not_rated_that_year() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    probationary(&app, &admin, "HG-0001", "VT.P1.A", "2024-07-01").await;
    probationary(&app, &admin, "HG-0002", "VT.P1.A", "2024-06-30").await;

    expect_rule(
        &rate(&app, &admin, "HG-0001", 2024, "good", json!({})).await,
        "rating.new_member_not_rated",
        "level",
    );
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2024, "not_rated", json!({})).await,
        "rating.reason_required",
        "reason",
    );
    let ok = rate(
        &app,
        &admin,
        "HG-0001",
        2024,
        "not_rated",
        json!({"reason": "Kết nạp chưa đủ 6 tháng"}),
    )
    .await;
    ok.expect(201);
    assert_eq!(ok.body["level"], "not_rated");
    // Admitted on June 30: rated normally; and the next year for the other.
    rate(&app, &admin, "HG-0002", 2024, "good", json!({}))
        .await
        .expect(201);
    rate(&app, &admin, "HG-0001", 2025, "good", json!({}))
        .await
        .expect(201);
}

#[tokio::test]
async fn scores_start_with_the_2025_year_and_follow_the_level_bands() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for p in ["HG-0001", "HG-0002", "HG-0003", "HG-0004"] {
        member(&app, &admin, p, "VT.P1.A", "2015-05-19").await;
    }
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2024, "good", json!({"score": 80})).await,
        "rating.score_before_2025",
        "score",
    );
    rate(&app, &admin, "HG-0001", 2024, "good", json!({}))
        .await
        .expect(201);

    for (level, score) in [
        ("excellent", 89),
        ("good", 90),
        ("good", 69),
        ("completed", 70),
        ("completed", 49),
        ("not_completed", 50),
    ] {
        let answer = rate(
            &app,
            &admin,
            "HG-0001",
            2025,
            level,
            json!({"score": score}),
        )
        .await;
        expect_rule(&answer, "rating.score_band", "score");
    }
    for (profile, level, score) in [
        ("HG-0001", "excellent", 90),
        ("HG-0002", "good", 70),
        ("HG-0003", "completed", 50),
        ("HG-0004", "not_completed", 49),
    ] {
        let answer = rate(&app, &admin, profile, 2025, level, json!({"score": score})).await;
        answer.expect(201);
        assert_eq!(answer.body["score"], score);
        assert_eq!(answer.body["level"], level);
    }
    // The other ends of the bands, through PATCH.
    for (profile, score) in [
        ("HG-0001", 100),
        ("HG-0002", 89),
        ("HG-0003", 69),
        ("HG-0004", 0),
    ] {
        let path = format!("/api/v1/ratings/members/{profile}/2025");
        let current = app.get(&path, &admin).await;
        let etag = current.header("etag").unwrap().to_string();
        let patched = app
            .patch(&path, &admin, &etag, json!({"score": score}))
            .await;
        patched.expect(200);
        assert_eq!(patched.body["score"], score);
    }
    // Out of 0..100 is a validation error.
    member(&app, &admin, "HG-0005", "VT.P1.A", "2015-05-19").await;
    for score in [101, -1] {
        let answer = rate(
            &app,
            &admin,
            "HG-0005",
            2025,
            "excellent",
            json!({"score": score}),
        )
        .await;
        expect_invalid(&answer, "score");
    }
}

#[tokio::test]
async fn one_rating_per_member_and_year() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    rate(&app, &admin, "HG-0001", 2024, "good", json!({}))
        .await
        .expect(201);
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2024, "completed", json!({})).await,
        "rating.exists",
        "year",
    );
    rate(&app, &admin, "HG-0001", 2023, "completed", json!({}))
        .await
        .expect(201);
    let got = app
        .get("/api/v1/ratings/members/HG-0001/2024", &admin)
        .await;
    assert_eq!(got.body["level"], "good");
}

#[tokio::test]
async fn a_member_disciplined_in_the_year_is_rated_not_completed_unless_self_corrected() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for p in ["HG-0001", "HG-0002", "HG-0003"] {
        member(&app, &admin, p, "VT.P1.A", "2015-05-19").await;
        discipline_member(&app, &admin, p, "reprimand", "2024-03-01", None).await;
    }
    for level in ["excellent", "good", "completed"] {
        expect_rule(
            &rate(&app, &admin, "HG-0001", 2024, level, json!({})).await,
            "rating.disciplined_member_not_above_not_completed",
            "level",
        );
    }
    rate(&app, &admin, "HG-0001", 2024, "not_completed", json!({}))
        .await
        .expect(201);
    let corrected = rate(
        &app,
        &admin,
        "HG-0002",
        2024,
        "good",
        json!({"self_corrected": true}),
    )
    .await;
    corrected.expect(201);
    assert_eq!(corrected.body["self_corrected"], true);
    // The discipline counts in the year of its decision only.
    rate(&app, &admin, "HG-0003", 2023, "good", json!({}))
        .await
        .expect(201);
    rate(&app, &admin, "HG-0003", 2025, "good", json!({}))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_discipline_contradicting_a_recorded_rating_is_refused_on_decided_on() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for p in ["HG-0001", "HG-0002", "HG-0003"] {
        member(&app, &admin, p, "VT.P1.A", "2015-05-19").await;
    }
    rate(&app, &admin, "HG-0001", 2024, "good", json!({}))
        .await
        .expect(201);
    rate(
        &app,
        &admin,
        "HG-0002",
        2024,
        "good",
        json!({"self_corrected": true}),
    )
    .await
    .expect(201);
    rate(&app, &admin, "HG-0003", 2024, "not_completed", json!({}))
        .await
        .expect(201);

    let refused = discipline(
        &app,
        &admin,
        action("member", "HG-0001", "reprimand", "1-QĐ", "2024-06-01"),
    )
    .await;
    expect_rule(
        &refused,
        "rating.disciplined_member_not_above_not_completed",
        "decided_on",
    );
    let list = app.get(ACTIONS, &admin).await;
    list.expect(200);
    assert_eq!(list.body["items"], json!([]), "nothing written");
    // Decided in another year, or for members whose rating allows it: recorded.
    discipline(
        &app,
        &admin,
        action("member", "HG-0001", "reprimand", "1-QĐ", "2025-01-10"),
    )
    .await
    .expect(201);
    discipline(
        &app,
        &admin,
        action("member", "HG-0002", "reprimand", "2-QĐ", "2024-06-01"),
    )
    .await
    .expect(201);
    discipline(
        &app,
        &admin,
        action("member", "HG-0003", "reprimand", "3-QĐ", "2024-06-01"),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn an_annulled_discipline_does_not_limit_the_rating() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    let id = discipline_member(&app, &admin, "HG-0001", "warning", "2024-03-01", None).await;
    expect_rule(
        &rate(&app, &admin, "HG-0001", 2024, "good", json!({})).await,
        "rating.disciplined_member_not_above_not_completed",
        "level",
    );
    annul(&app, &admin, &id, "2024-03-10", "2024-05-01").await;
    rate(&app, &admin, "HG-0001", 2024, "good", json!({}))
        .await
        .expect(201);
}

#[tokio::test]
async fn member_rating_input_errors_are_400_and_out_of_range_numbers_422() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    let base = json!({"profile_number": "HG-0001", "year": 2024, "level": "good"});

    for extra in [
        json!({"level": "outstanding"}),
        json!({"grade": "A"}),
        json!({"year": "2024"}),
        json!({"self_corrected": "yes"}),
        json!({"decided_on": "2024-02-30"}),
        json!({"score": "high"}),
    ] {
        app.post(MEMBER_RATINGS, &admin, with(base.clone(), extra.clone()))
            .await
            .expect_problem(400, None);
    }
    for (extra, field) in [
        (json!({"year": 1999}), "year"),
        (json!({"year": 2101}), "year"),
        (json!({"reason": "x".repeat(501)}), "reason"),
        (
            json!({"override_reason": "x".repeat(501)}),
            "override_reason",
        ),
    ] {
        let answer = app
            .post(MEMBER_RATINGS, &admin, with(base.clone(), extra))
            .await;
        expect_invalid(&answer, field);
    }
    let list = app.get(MEMBER_RATINGS, &admin).await;
    assert_eq!(list.body["items"], json!([]), "nothing written");
    // The edges of the ranges pass.
    app.post(
        MEMBER_RATINGS,
        &admin,
        with(
            base.clone(),
            json!({"year": 2100, "reason": "x".repeat(500)}),
        ),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn ratings_are_written_by_admins_and_clerks_and_read_by_every_role() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "HG-0002", "VT.P1.A", "2015-05-19").await;
    let clerk = clerk(&app, "clerk", "HG").await;
    let inspector = inspector(&app, "inspector", "HG").await;
    let auditor = auditor(&app, "auditor", "HG").await;

    for token in [&inspector, &auditor] {
        rate(&app, token, "HG-0001", 2024, "good", json!({}))
            .await
            .expect_problem(403, None);
        app.post(
            &format!("{MEMBER_RATINGS}/batch"),
            token,
            json!({"year": 2024, "ratings": [{"profile_number": "HG-0001", "level": "good"}]}),
        )
        .await
        .expect_problem(403, None);
    }
    let created = rate(&app, &clerk, "HG-0001", 2024, "good", json!({})).await;
    created.expect(201);
    let etag = created.header("etag").unwrap().to_string();
    for token in [&inspector, &auditor] {
        app.patch(
            "/api/v1/ratings/members/HG-0001/2024",
            token,
            &etag,
            json!({"level": "completed"}),
        )
        .await
        .expect_problem(403, None);
    }
    for token in [&admin, &clerk, &inspector, &auditor] {
        let got = app.get("/api/v1/ratings/members/HG-0001/2024", token).await;
        got.expect(200);
        assert_eq!(got.body["full_name"], name_of("HG-0001"));
        let list = app.get(MEMBER_RATINGS, token).await;
        list.expect(200);
        assert_eq!(rating_keys(&list.body), [(2024, "HG-0001".into())]);
    }
}

#[tokio::test]
async fn only_an_admin_may_override_a_rating_rule_and_the_reason_is_kept() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    probationary(&app, &admin, "HG-0002", "VT.P1.A", "2024-07-01").await;
    let clerk = clerk(&app, "clerk", "HG").await;
    let inspector = inspector(&app, "inspector", "HG").await;
    let override_reason = json!({"override_reason": "Ban Thường vụ Tỉnh ủy quyết định"});

    // Even for a rating that breaks nothing, a clerk's override reason is refused.
    rate(
        &app,
        &clerk,
        "HG-0001",
        2024,
        "good",
        override_reason.clone(),
    )
    .await
    .expect_problem(403, None);
    rate(
        &app,
        &clerk,
        "HG-0002",
        2024,
        "good",
        override_reason.clone(),
    )
    .await
    .expect_problem(403, None);
    rate(
        &app,
        &inspector,
        "HG-0002",
        2024,
        "good",
        override_reason.clone(),
    )
    .await
    .expect_problem(403, None);
    // Without one the rule holds; the admin's override records the decision.
    expect_rule(
        &rate(&app, &admin, "HG-0002", 2024, "good", json!({})).await,
        "rating.new_member_not_rated",
        "level",
    );
    let created = rate(
        &app,
        &admin,
        "HG-0002",
        2024,
        "good",
        override_reason.clone(),
    )
    .await;
    created.expect(201);
    assert_eq!(created.body["level"], "good");
    assert_eq!(
        created.body["override_reason"],
        "Ban Thường vụ Tỉnh ủy quyết định"
    );
    let got = app
        .get("/api/v1/ratings/members/HG-0002/2024", &clerk)
        .await;
    assert_eq!(
        got.body["override_reason"],
        "Ban Thường vụ Tỉnh ủy quyết định"
    );
    // PATCH: the same.
    let etag = got.header("etag").unwrap().to_string();
    app.patch(
        "/api/v1/ratings/members/HG-0002/2024",
        &clerk,
        &etag,
        with(json!({"level": "excellent"}), override_reason.clone()),
    )
    .await
    .expect_problem(403, None);
}

#[tokio::test]
async fn clerks_rate_and_see_only_members_of_their_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "HG-0002", "NB.CB", "2015-05-19").await;
    rate(&app, &admin, "HG-0002", 2024, "good", json!({}))
        .await
        .expect(201);
    let vt = clerk(&app, "vt", "VT").await;

    expect_rule(
        &rate(&app, &vt, "HG-0002", 2023, "good", json!({})).await,
        "rating.member_not_found",
        "profile_number",
    );
    app.get("/api/v1/ratings/members/HG-0002/2024", &vt)
        .await
        .expect_problem(404, None);
    app.patch(
        "/api/v1/ratings/members/HG-0002/2024",
        &vt,
        "\"1\"",
        json!({"level": "completed"}),
    )
    .await
    .expect_problem(404, None);
    let batch = app
        .post(
            &format!("{MEMBER_RATINGS}/batch"),
            &vt,
            json!({"year": 2023, "ratings": [
                {"profile_number": "HG-0001", "level": "good"},
                {"profile_number": "HG-0002", "level": "good"},
            ]}),
        )
        .await;
    expect_rule(
        &batch,
        "rating.member_not_found",
        "ratings[1].profile_number",
    );

    rate(&app, &vt, "HG-0001", 2024, "good", json!({}))
        .await
        .expect(201);
    let list = app.get(MEMBER_RATINGS, &vt).await;
    assert_eq!(rating_keys(&list.body), [(2024, "HG-0001".into())]);
    let list = app.get(MEMBER_RATINGS, &admin).await;
    assert_eq!(
        rating_keys(&list.body),
        [(2024, "HG-0001".into()), (2024, "HG-0002".into())]
    );
    // The unchanged record of the other district.
    let other = app
        .get("/api/v1/ratings/members/HG-0002/2024", &admin)
        .await;
    assert_eq!(other.body["level"], "good");
    assert_eq!(other.body["version"], 1);
}

#[tokio::test]
async fn a_member_rating_patch_needs_if_match_and_keeps_the_rules() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    let path = "/api/v1/ratings/members/HG-0001/2024";
    let created = rate(&app, &admin, "HG-0001", 2024, "good", json!({})).await;
    created.expect(201);
    let etag = created.header("etag").unwrap().to_string();

    app.call(
        Method::PATCH,
        path,
        Some(&admin),
        Some(json!({"level": "completed"})),
    )
    .await
    .expect_problem(428, None);
    app.patch(path, &admin, "\"999\"", json!({"level": "completed"}))
        .await
        .expect_problem(412, None);
    expect_rule(
        &app.patch(
            path,
            &admin,
            &etag,
            json!({"level": "exempt", "reason": "x"}),
        )
        .await,
        "rating.exempt_without_exemption",
        "level",
    );
    expect_rule(
        &app.patch(path, &admin, &etag, json!({"score": 75})).await,
        "rating.score_before_2025",
        "score",
    );
    app.patch(path, &admin, &etag, json!({"grade": "A"}))
        .await
        .expect_problem(400, None);
    app.patch(path, &admin, &etag, json!({"level": "outstanding"}))
        .await
        .expect_problem(400, None);

    let updated = app
        .patch(
            path,
            &admin,
            &etag,
            json!({"level": "completed", "reason": "Còn hạn chế", "self_corrected": true, "decided_on": "2024-12-28"}),
        )
        .await;
    updated.expect(200);
    let r = &updated.body;
    assert_eq!(r["level"], "completed");
    assert_eq!(r["reason"], "Còn hạn chế");
    assert_eq!(r["self_corrected"], true);
    assert_eq!(r["decided_on"], "2024-12-28");
    assert_eq!(r["version"], 2);
    assert_eq!(updated.header("etag"), Some("\"2\""));
    assert_eq!(r["created_at"], created.body["created_at"]);
    assert_timestamp(&r["updated_at"]);
    assert_eq!(r["profile_number"], "HG-0001");
    assert_eq!(r["year"], 2024);

    app.patch(path, &admin, &etag, json!({"level": "good"}))
        .await
        .expect_problem(412, None);
    let got = app.get(path, &admin).await;
    assert_eq!(got.body["level"], "completed");
    assert_eq!(got.header("etag"), Some("\"2\""));
    app.patch(
        "/api/v1/ratings/members/HG-0001/2023",
        &admin,
        "\"1\"",
        json!({"level": "good"}),
    )
    .await
    .expect_problem(404, None);
}

#[tokio::test]
async fn member_ratings_list_by_year_end_organisation_level_and_in_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "P1", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "P2", "VT.P1.B", "2015-05-19").await;
    member(&app, &admin, "P3", "NB.CB", "2015-05-19").await;
    member(&app, &admin, "P4", "VT.P1.A", "2015-05-19").await;
    app.post(
        "/api/v1/members/P4/transfers",
        &admin,
        json!({"organization_code": "NB.CB", "on": "2024-06-01"}),
    )
    .await
    .expect(200);
    for (p, year, level) in [
        ("P4", 2024, "completed"),
        ("P3", 2023, "completed"),
        ("P1", 2024, "excellent"),
        ("P2", 2024, "good"),
        ("P1", 2023, "good"),
        ("P3", 2024, "good"),
        ("P4", 2023, "good"),
    ] {
        rate(&app, &admin, p, year, level, json!({}))
            .await
            .expect(201);
    }
    let keys = |list: &[(i64, &str)]| -> Vec<(i64, String)> {
        list.iter().map(|(y, p)| (*y, p.to_string())).collect()
    };
    let get = |query: &'static str| get_path(&app, format!("{MEMBER_RATINGS}{query}"), &admin);

    let all = get("").await;
    all.expect(200);
    let everything = keys(&[
        (2023, "P1"),
        (2023, "P3"),
        (2023, "P4"),
        (2024, "P1"),
        (2024, "P2"),
        (2024, "P3"),
        (2024, "P4"),
    ]);
    assert_eq!(rating_keys(&all.body), everything);
    assert_eq!(
        rating_keys(&get("?year=2024").await.body),
        keys(&[(2024, "P1"), (2024, "P2"), (2024, "P3"), (2024, "P4")])
    );
    // P4 was in VT at the end of 2023 and in NB at the end of 2024.
    assert_eq!(
        rating_keys(&get("?year=2023&under=VT").await.body),
        keys(&[(2023, "P1"), (2023, "P4")])
    );
    assert_eq!(
        rating_keys(&get("?year=2024&under=VT").await.body),
        keys(&[(2024, "P1"), (2024, "P2")])
    );
    assert_eq!(
        rating_keys(&get("?year=2024&under=NB").await.body),
        keys(&[(2024, "P3"), (2024, "P4")])
    );
    assert_eq!(
        rating_keys(&get("?year=2024&under=VT.P1.B").await.body),
        keys(&[(2024, "P2")])
    );
    // Without a year: where they are now.
    assert_eq!(
        rating_keys(&get("?under=NB").await.body),
        keys(&[(2023, "P3"), (2023, "P4"), (2024, "P3"), (2024, "P4")])
    );
    assert_eq!(
        rating_keys(&get("?level=good").await.body),
        keys(&[(2023, "P1"), (2023, "P4"), (2024, "P2"), (2024, "P3")])
    );
    assert_eq!(
        rating_keys(&get("?year=2024&level=excellent").await.body),
        keys(&[(2024, "P1")])
    );

    // Pages of 2 walk the same order with nothing lost or repeated.
    let walked = walk(&app, &admin, MEMBER_RATINGS, 2).await;
    assert_eq!(rating_keys(&json!({"items": walked})), everything);

    for query in [
        "?level=outstanding",
        "?year=abc",
        "?limit=0",
        "?limit=501",
        "?cursor=bm90LWpzb24",
        "?colour=red",
    ] {
        get(query).await.expect_problem(400, None);
    }
    get("?under=NOPE").await.expect_problem(404, None);
}

#[tokio::test]
async fn the_member_rating_batch_is_all_or_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for p in ["HG-0001", "HG-0002", "HG-0003"] {
        member(&app, &admin, p, "VT.P1.A", "2015-05-19").await;
    }
    probationary(&app, &admin, "HG-0004", "VT.P1.A", "2024-07-01").await;
    let batch = |body: Value| post_path(&app, format!("{MEMBER_RATINGS}/batch"), &admin, body);
    let nothing_written = || async {
        let list = app.get(MEMBER_RATINGS, &admin).await;
        list.expect(200);
        assert_eq!(list.body["items"], json!([]), "nothing written");
    };

    let answer = batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good"},
        {"profile_number": "HG-0002", "level": "exempt", "reason": "x"},
        {"profile_number": "HG-0003", "level": "good"},
    ]}))
    .await;
    expect_rule(
        &answer,
        "rating.exempt_without_exemption",
        "ratings[1].level",
    );
    nothing_written().await;

    let answer = batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good"},
        {"profile_number": "HG-0002", "level": "good"},
        {"profile_number": "HG-0003", "level": "good"},
        {"profile_number": "HG-0004", "level": "good"},
    ]}))
    .await;
    expect_rule(&answer, "rating.new_member_not_rated", "ratings[3].level");
    nothing_written().await;

    let answer = batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good", "score": 80},
    ]}))
    .await;
    expect_rule(&answer, "rating.score_before_2025", "ratings[0].score");
    let answer = batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good"},
        {"profile_number": "HG-0004", "level": "not_rated"},
    ]}))
    .await;
    expect_rule(&answer, "rating.reason_required", "ratings[1].reason");
    nothing_written().await;

    batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "outstanding"},
    ]}))
    .await
    .expect_problem(400, None);
    batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good", "colour": "red"},
    ]}))
    .await
    .expect_problem(400, None);
    expect_invalid(
        &batch(json!({"year": 2024, "ratings": []})).await,
        "ratings",
    );
    nothing_written().await;

    let done = batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good", "decided_on": "2024-12-20"},
        {"profile_number": "HG-0002", "level": "completed", "reason": "Còn hạn chế"},
        {"profile_number": "HG-0003", "level": "not_completed", "self_corrected": false},
        {"profile_number": "HG-0004", "level": "not_rated", "reason": "Mới kết nạp"},
    ]}))
    .await;
    done.expect(200);
    assert_eq!(done.body["year"], 2024);
    assert_eq!(done.body["count"], 4);
    assert_eq!(done.body["warnings"], json!([]));
    let list = app
        .get(&format!("{MEMBER_RATINGS}?year=2024"), &admin)
        .await;
    let levels: Vec<(String, String)> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (text(&r["profile_number"]), text(&r["level"])))
        .collect();
    assert_eq!(
        levels,
        [
            ("HG-0001".to_string(), "good".to_string()),
            ("HG-0002".into(), "completed".into()),
            ("HG-0003".into(), "not_completed".into()),
            ("HG-0004".into(), "not_rated".into()),
        ]
    );
    let one = app
        .get("/api/v1/ratings/members/HG-0001/2024", &admin)
        .await;
    assert_eq!(one.body["decided_on"], "2024-12-20");
    let one = app
        .get("/api/v1/ratings/members/HG-0004/2024", &admin)
        .await;
    assert_eq!(one.body["reason"], "Mới kết nạp");

    // A second batch over a rated member is refused whole.
    let again = batch(json!({"year": 2024, "ratings": [
        {"profile_number": "HG-0001", "level": "good"},
    ]}))
    .await;
    again.expect_problem(422, Some("rating.exists"));
    assert!(field_of(&again, "rating.exists").starts_with("ratings[0]"));

    // Overrides: admin only.
    let clerk = clerk(&app, "clerk", "HG").await;
    app.post(
        &format!("{MEMBER_RATINGS}/batch"),
        &clerk,
        json!({"year": 2025, "override_reason": "x", "ratings": [
            {"profile_number": "HG-0001", "level": "good"},
        ]}),
    )
    .await
    .expect_problem(403, None);
    let overridden = batch(
        json!({"year": 2025, "override_reason": "Quyết định đặc biệt", "ratings": [
            {"profile_number": "HG-0001", "level": "exempt", "reason": "x"},
        ]}),
    )
    .await;
    overridden.expect(200);
    assert_eq!(overridden.body["count"], 1);
    let one = app
        .get("/api/v1/ratings/members/HG-0001/2025", &admin)
        .await;
    assert_eq!(one.body["level"], "exempt");
    assert_eq!(one.body["override_reason"], "Quyết định đặc biệt");
}

#[tokio::test]
async fn the_excellent_quota_warns_per_grassroots_organisation_without_blocking() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // Grassroots organisation VT.P1 (through its two sub-branches): 1 good, 1 excellent.
    member(&app, &admin, "Q1", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "Q2", "VT.P1.B", "2015-05-19").await;
    // Grassroots branch NB.CB: 5 good, 1 excellent (exactly 20%).
    for i in 1..=7 {
        member(&app, &admin, &format!("N{i}"), "NB.CB", "2015-05-19").await;
    }
    let mut items = vec![
        json!({"profile_number": "Q1", "level": "good"}),
        json!({"profile_number": "Q2", "level": "excellent"}),
    ];
    for i in 1..=5 {
        items.push(json!({"profile_number": format!("N{i}"), "level": "good"}));
    }
    items.push(json!({"profile_number": "N6", "level": "excellent"}));
    let done = app
        .post(
            &format!("{MEMBER_RATINGS}/batch"),
            &admin,
            json!({"year": 2024, "ratings": items}),
        )
        .await;
    done.expect(200);
    assert_eq!(done.body["count"], 8);
    let warnings = done.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", done.text);
    assert_eq!(warnings[0]["code"], "rating.excellent_quota");
    assert_eq!(warnings[0]["organization_code"], "VT.P1");
    assert!(warnings[0]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));

    // A second excellent in NB.CB passes 20% of 5: recorded, with the warning.
    let single = rate(&app, &admin, "N7", 2024, "excellent", json!({})).await;
    single.expect(201);
    let warnings = single.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", single.text);
    assert_eq!(warnings[0]["code"], "rating.excellent_quota");
    assert_eq!(warnings[0]["organization_code"], "NB.CB");
    // Warnings belong to the write, not to the record.
    let got = app.get("/api/v1/ratings/members/N7/2024", &admin).await;
    got.expect(200);
    assert_eq!(got.body["warnings"], json!([]));
    assert_eq!(got.body["level"], "excellent");
    let list = app
        .get(&format!("{MEMBER_RATINGS}?level=excellent"), &admin)
        .await;
    assert_eq!(
        rating_keys(&list.body),
        [
            (2024, "N6".into()),
            (2024, "N7".into()),
            (2024, "Q2".into())
        ]
    );
}

// ─── Organisation ratings ───────────────────────────────────────────────────────────────────

#[tokio::test]
async fn an_organisation_rating_is_created_read_patched_and_listed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let created = rate_org(
        &app,
        &admin,
        "VT.P1.A",
        2024,
        "good",
        json!({"reason": "Hoàn thành tốt", "decided_on": "2024-12-25"}),
    )
    .await;
    created.expect(201);
    assert_eq!(
        created.header("location"),
        Some("/api/v1/ratings/organizations/VT.P1.A/2024")
    );
    let r = &created.body;
    assert_eq!(
        created.header("etag"),
        Some(etag_of(&r["version"]).as_str())
    );
    assert_eq!(r["organization_code"], "VT.P1.A");
    assert_eq!(r["name"], "Tổ chức VT.P1.A");
    assert_eq!(r["kind"], "sub_branch");
    assert_eq!(r["year"], 2024);
    assert_eq!(r["level"], "good");
    assert_eq!(r["score"], Value::Null);
    assert_eq!(r["reason"], "Hoàn thành tốt");
    assert_eq!(r["decided_on"], "2024-12-25");
    assert_eq!(r["override_reason"], Value::Null);
    assert_eq!(r["version"], 1);
    assert_timestamp(&r["created_at"]);
    assert_timestamp(&r["updated_at"]);
    assert_eq!(r["warnings"], json!([]));

    let path = "/api/v1/ratings/organizations/VT.P1.A/2024";
    let got = app.get(path, &admin).await;
    got.expect(200);
    assert_eq!(got.body, created.body);
    app.get("/api/v1/ratings/organizations/VT.P1.A/2023", &admin)
        .await
        .expect_problem(404, None);

    // PATCH with If-Match.
    app.call(
        Method::PATCH,
        path,
        Some(&admin),
        Some(json!({"level": "completed"})),
    )
    .await
    .expect_problem(428, None);
    app.patch(path, &admin, "\"7\"", json!({"level": "completed"}))
        .await
        .expect_problem(412, None);
    expect_rule(
        &app.patch(path, &admin, "\"1\"", json!({"score": 60})).await,
        "rating.score_before_2025",
        "score",
    );
    let patched = app
        .patch(path, &admin, "\"1\"", json!({"level": "completed"}))
        .await;
    patched.expect(200);
    assert_eq!(patched.body["level"], "completed");
    assert_eq!(patched.body["reason"], "Hoàn thành tốt");
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.header("etag"), Some("\"2\""));
    app.patch(path, &admin, "\"1\"", json!({"level": "good"}))
        .await
        .expect_problem(412, None);

    // Lists.
    for (code, level) in [
        ("VT", "good"),
        ("VT.P1", "excellent"),
        ("NB.CB", "good"),
        ("NB", "completed"),
    ] {
        rate_org(&app, &admin, code, 2024, level, json!({}))
            .await
            .expect(201);
    }
    rate_org(&app, &admin, "VT.P1", 2023, "good", json!({}))
        .await
        .expect(201);
    let codes = |answer: Answer| {
        answer.expect(200);
        let mut codes: Vec<(String, String)> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (text(&r["year"]), text(&r["organization_code"])))
            .collect();
        codes.sort();
        codes
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(y, c)| (y.to_string(), c.to_string()))
            .collect()
    };
    let list = |q: &'static str| get_path(&app, format!("{ORG_RATINGS}{q}"), &admin);
    assert_eq!(
        codes(list("?year=2024").await),
        pairs(&[
            ("2024", "NB"),
            ("2024", "NB.CB"),
            ("2024", "VT"),
            ("2024", "VT.P1"),
            ("2024", "VT.P1.A"),
        ])
    );
    assert_eq!(
        codes(list("?year=2024&under=VT").await),
        pairs(&[("2024", "VT"), ("2024", "VT.P1"), ("2024", "VT.P1.A")])
    );
    assert_eq!(
        codes(list("?kind=sub_branch").await),
        pairs(&[("2024", "VT.P1.A")])
    );
    assert_eq!(
        codes(list("?level=good").await),
        pairs(&[("2023", "VT.P1"), ("2024", "NB.CB"), ("2024", "VT")])
    );
    assert_eq!(
        codes(list("?under=VT.P1").await),
        pairs(&[("2023", "VT.P1"), ("2024", "VT.P1"), ("2024", "VT.P1.A")])
    );
    let walked = walk(&app, &admin, ORG_RATINGS, 2).await;
    assert_eq!(walked.len(), 6);
    for q in [
        "?kind=district",
        "?level=outstanding",
        "?limit=0",
        "?year=x",
    ] {
        list(q).await.expect_problem(400, None);
    }

    // `under` follows the tree of the year's end: VT.P1 moves to NB in 2025.
    app.post(
        "/api/v1/organizations/VT.P1/move",
        &admin,
        json!({"parent_code": "NB", "on": "2025-01-01"}),
    )
    .await
    .expect(200);
    assert_eq!(
        codes(list("?year=2024&under=VT").await),
        pairs(&[("2024", "VT"), ("2024", "VT.P1"), ("2024", "VT.P1.A")])
    );
    assert_eq!(
        codes(list("?year=2024&under=NB").await),
        pairs(&[("2024", "NB"), ("2024", "NB.CB")])
    );
}

#[tokio::test]
async fn organisation_rating_rules_answer_with_their_codes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // Dissolved in May 2023; founded in March 2025; founded on July 1 and June 30 2024.
    app.org(
        &admin,
        "NB.OLD",
        "grassroots_branch",
        Some("NB"),
        "2004-01-01",
    )
    .await;
    app.post(
        "/api/v1/organizations/NB.OLD/dissolve",
        &admin,
        json!({"on": "2023-05-01"}),
    )
    .await
    .expect(200);
    app.org(
        &admin,
        "NB.FUT",
        "grassroots_branch",
        Some("NB"),
        "2025-03-01",
    )
    .await;
    app.org(
        &admin,
        "NB.NEW",
        "grassroots_branch",
        Some("NB"),
        "2024-07-01",
    )
    .await;
    app.org(
        &admin,
        "NB.EDGE",
        "grassroots_branch",
        Some("NB"),
        "2024-06-30",
    )
    .await;

    expect_rule(
        &rate_org(&app, &admin, "NB.OLD", 2024, "good", json!({})).await,
        "rating.organization_not_existing",
        "organization_code",
    );
    rate_org(&app, &admin, "NB.OLD", 2023, "good", json!({}))
        .await
        .expect(201);
    expect_rule(
        &rate_org(&app, &admin, "NB.FUT", 2024, "good", json!({})).await,
        "rating.organization_not_existing",
        "organization_code",
    );
    rate_org(&app, &admin, "NB.FUT", 2025, "good", json!({}))
        .await
        .expect(201);

    expect_rule(
        &rate_org(&app, &admin, "NB.NEW", 2024, "good", json!({})).await,
        "rating.new_organization_not_rated",
        "level",
    );
    expect_rule(
        &rate_org(&app, &admin, "NB.NEW", 2024, "not_rated", json!({})).await,
        "rating.reason_required",
        "reason",
    );
    rate_org(
        &app,
        &admin,
        "NB.NEW",
        2024,
        "not_rated",
        json!({"reason": "Mới thành lập"}),
    )
    .await
    .expect(201);
    rate_org(&app, &admin, "NB.EDGE", 2024, "good", json!({}))
        .await
        .expect(201);

    expect_rule(
        &rate_org(&app, &admin, "NB.CB", 2024, "good", json!({"score": 80})).await,
        "rating.score_before_2025",
        "score",
    );
    expect_rule(
        &rate_org(
            &app,
            &admin,
            "NB.CB",
            2025,
            "excellent",
            json!({"score": 85}),
        )
        .await,
        "rating.score_band",
        "score",
    );
    expect_rule(
        &rate_org(&app, &admin, "NB.CB", 2025, "good", json!({"score": 49})).await,
        "rating.score_band",
        "score",
    );
    let scored = rate_org(
        &app,
        &admin,
        "NB.CB",
        2025,
        "excellent",
        json!({"score": 95}),
    )
    .await;
    scored.expect(201);
    assert_eq!(scored.body["score"], 95);
    expect_invalid(
        &rate_org(&app, &admin, "NB.CB", 2026, "good", json!({"score": 101})).await,
        "score",
    );

    rate_org(&app, &admin, "NB.CB", 2024, "good", json!({}))
        .await
        .expect(201);
    expect_rule(
        &rate_org(&app, &admin, "NB.CB", 2024, "completed", json!({})).await,
        "rating.exists",
        "year",
    );
    expect_rule(
        &rate_org(&app, &admin, "NOPE", 2024, "good", json!({})).await,
        "rating.organization_not_found",
        "organization_code",
    );

    // Bad input.
    let base = json!({"organization_code": "NB", "year": 2024, "level": "good"});
    for extra in [
        json!({"level": "outstanding"}),
        json!({"self_corrected": true}),
        json!({"year": "2024"}),
        json!({"colour": "red"}),
    ] {
        app.post(ORG_RATINGS, &admin, with(base.clone(), extra))
            .await
            .expect_problem(400, None);
    }
    expect_invalid(
        &app.post(
            ORG_RATINGS,
            &admin,
            with(base.clone(), json!({"year": 1999})),
        )
        .await,
        "year",
    );

    // Overrides: admin only, and recorded.
    let clerk = clerk(&app, "clerk", "HG").await;
    let reason = json!({"override_reason": "Theo chỉ đạo của Tỉnh ủy"});
    rate_org(&app, &clerk, "NB.NEW", 2025, "good", reason.clone())
        .await
        .expect_problem(403, None);
    app.org(
        &admin,
        "NB.NEW2",
        "grassroots_branch",
        Some("NB"),
        "2024-08-01",
    )
    .await;
    let overridden = rate_org(&app, &admin, "NB.NEW2", 2024, "good", reason).await;
    overridden.expect(201);
    assert_eq!(
        overridden.body["override_reason"],
        "Theo chỉ đạo của Tỉnh ủy"
    );
}

#[tokio::test]
async fn organisation_ratings_are_written_by_admins_and_clerks_in_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    rate_org(&app, &admin, "NB.CB", 2024, "good", json!({}))
        .await
        .expect(201);
    let vt = clerk(&app, "vt", "VT").await;
    let inspector = inspector(&app, "inspector", "HG").await;
    let auditor = auditor(&app, "auditor", "HG").await;

    for token in [&inspector, &auditor] {
        rate_org(&app, token, "VT.P1.A", 2024, "good", json!({}))
            .await
            .expect_problem(403, None);
        app.post(
            &format!("{ORG_RATINGS}/batch"),
            token,
            json!({"year": 2024, "ratings": [{"organization_code": "VT.P1.A", "level": "good"}]}),
        )
        .await
        .expect_problem(403, None);
        app.patch(
            "/api/v1/ratings/organizations/NB.CB/2024",
            token,
            "\"1\"",
            json!({"level": "completed"}),
        )
        .await
        .expect_problem(403, None);
        app.get("/api/v1/ratings/organizations/NB.CB/2024", token)
            .await
            .expect(200);
    }
    expect_rule(
        &rate_org(&app, &vt, "NB.CB", 2023, "good", json!({})).await,
        "rating.organization_not_found",
        "organization_code",
    );
    app.get("/api/v1/ratings/organizations/NB.CB/2024", &vt)
        .await
        .expect_problem(404, None);
    app.patch(
        "/api/v1/ratings/organizations/NB.CB/2024",
        &vt,
        "\"1\"",
        json!({"level": "completed"}),
    )
    .await
    .expect_problem(404, None);
    rate_org(&app, &vt, "VT.P1.A", 2024, "good", json!({}))
        .await
        .expect(201);
    let list = app.get(ORG_RATINGS, &vt).await;
    list.expect(200);
    assert_eq!(
        strings(&list.body["items"], "organization_code"),
        ["VT.P1.A"]
    );
}

#[tokio::test]
async fn disciplined_organisations_and_their_parents_are_rated_not_completed_in_either_order() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // K: a grassroots committee with five sub-branches.
    app.org(
        &admin,
        "K",
        "grassroots_committee",
        Some("NB"),
        "2004-01-01",
    )
    .await;
    for i in 1..=5 {
        app.org(
            &admin,
            &format!("K.{i}"),
            "sub_branch",
            Some("K"),
            "2004-01-01",
        )
        .await;
    }

    // Discipline first.
    discipline(
        &app,
        &admin,
        action(
            "organization",
            "VT.P1.B",
            "reprimand",
            "10-QĐ",
            "2024-04-01",
        ),
    )
    .await
    .expect(201);
    expect_rule(
        &rate_org(&app, &admin, "VT.P1.B", 2024, "good", json!({})).await,
        "rating.disciplined_organization_not_completed",
        "level",
    );
    rate_org(&app, &admin, "VT.P1.B", 2024, "not_completed", json!({}))
        .await
        .expect(201);
    rate_org(&app, &admin, "VT.P1.B", 2023, "good", json!({}))
        .await
        .expect(201);
    // One of VT.P1's two sub-branches: 50% > 20%.
    expect_rule(
        &rate_org(&app, &admin, "VT.P1", 2024, "good", json!({})).await,
        "rating.subordinates_disciplined",
        "level",
    );
    rate_org(&app, &admin, "VT.P1", 2024, "not_completed", json!({}))
        .await
        .expect(201);
    // One of K's five: exactly 20%, allowed.
    discipline(
        &app,
        &admin,
        action("organization", "K.1", "reprimand", "11-QĐ", "2024-04-01"),
    )
    .await
    .expect(201);
    rate_org(&app, &admin, "K", 2024, "good", json!({}))
        .await
        .expect(201);

    // Rating first: a second sub-branch of K (40%) and NB.CB itself.
    expect_rule(
        &discipline(
            &app,
            &admin,
            action("organization", "K.2", "warning", "12-QĐ", "2024-05-01"),
        )
        .await,
        "rating.subordinates_disciplined",
        "decided_on",
    );
    rate_org(&app, &admin, "NB.CB", 2024, "good", json!({}))
        .await
        .expect(201);
    expect_rule(
        &discipline(
            &app,
            &admin,
            action("organization", "NB.CB", "reprimand", "13-QĐ", "2024-05-01"),
        )
        .await,
        "rating.disciplined_organization_not_completed",
        "decided_on",
    );
    let list = app
        .get(&format!("{ACTIONS}?subject_type=organization"), &admin)
        .await;
    assert_eq!(
        strings(&list.body["items"], "subject"),
        ["VT.P1.B", "K.1"],
        "the refused actions are not written"
    );
    // In another year they are recorded.
    discipline(
        &app,
        &admin,
        action("organization", "NB.CB", "reprimand", "13-QĐ", "2025-01-05"),
    )
    .await
    .expect(201);
    discipline(
        &app,
        &admin,
        action("organization", "K.2", "warning", "12-QĐ", "2025-01-05"),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn the_organisation_rating_batch_is_all_or_nothing_and_warns_per_group() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    app.org(
        &admin,
        "K",
        "grassroots_committee",
        Some("NB"),
        "2004-01-01",
    )
    .await;
    for i in 1..=5 {
        app.org(
            &admin,
            &format!("K.{i}"),
            "sub_branch",
            Some("K"),
            "2004-01-01",
        )
        .await;
    }
    let batch = |body: Value| post_path(&app, format!("{ORG_RATINGS}/batch"), &admin, body);

    let answer = batch(json!({"year": 2024, "ratings": [
        {"organization_code": "K.1", "level": "good"},
        {"organization_code": "K.2", "level": "good"},
        {"organization_code": "NOPE", "level": "good"},
    ]}))
    .await;
    expect_rule(
        &answer,
        "rating.organization_not_found",
        "ratings[2].organization_code",
    );
    let answer = batch(json!({"year": 2024, "ratings": [
        {"organization_code": "K.1", "level": "good", "score": 75},
    ]}))
    .await;
    expect_rule(&answer, "rating.score_before_2025", "ratings[0].score");
    let list = app.get(ORG_RATINGS, &admin).await;
    assert_eq!(list.body["items"], json!([]), "nothing written");
    batch(json!({"year": 2024, "ratings": [
        {"organization_code": "K.1", "level": "outstanding"},
    ]}))
    .await
    .expect_problem(400, None);

    // 1 excellent for 1 good among K's sub-branches: a warning for that group.
    let done = batch(json!({"year": 2024, "ratings": [
        {"organization_code": "K.1", "level": "good", "decided_on": "2024-12-30"},
        {"organization_code": "K.2", "level": "excellent"},
        {"organization_code": "K", "level": "good"},
    ]}))
    .await;
    done.expect(200);
    assert_eq!(done.body["year"], 2024);
    assert_eq!(done.body["count"], 3);
    let warnings = done.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", done.text);
    assert_eq!(warnings[0]["code"], "rating.excellent_quota");
    assert_eq!(
        warnings[0]["organization_code"], "K",
        "the group is named by its parent"
    );
    let list = app
        .get(&format!("{ORG_RATINGS}?year=2024&under=K"), &admin)
        .await;
    let mut got = strings(&list.body["items"], "organization_code");
    got.sort();
    assert_eq!(got, ["K", "K.1", "K.2"]);
    let one = app
        .get("/api/v1/ratings/organizations/K.1/2024", &admin)
        .await;
    assert_eq!(one.body["decided_on"], "2024-12-30");

    // 5 good, 1 excellent: no warning. (2025, with scores.)
    app.org(&admin, "K.6", "sub_branch", Some("K"), "2004-01-01")
        .await;
    let mut items: Vec<Value> = (1..=5)
        .map(|i| json!({"organization_code": format!("K.{i}"), "level": "good", "score": 80}))
        .collect();
    items.push(json!({"organization_code": "K.6", "level": "excellent", "score": 95}));
    let done = batch(json!({"year": 2025, "ratings": items})).await;
    done.expect(200);
    assert_eq!(done.body["count"], 6);
    assert_eq!(done.body["warnings"], json!([]));
}

// ─── Party discipline ───────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_disciplinary_action_is_created_read_and_listed_with_every_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;

    let created = discipline(
        &app,
        &admin,
        json!({
            "subject_type": "member",
            "subject": "HG-0001",
            "form": "warning",
            "decision_number": "15-QĐ/UBKTHU",
            "authority_code": "VT",
            "decided_on": "2024-03-01",
            "announced_on": "2024-03-05",
            "violation": "Vi phạm quy định về những điều đảng viên không được làm",
            "regulation_article": "Điều 7 Quy định 69-QĐ/TW",
        }),
    )
    .await;
    created.expect(201);
    let a = &created.body;
    let id = text(&a["id"]);
    assert_eq!(
        created.header("location"),
        Some(format!("{ACTIONS}/{id}").as_str())
    );
    assert_eq!(
        created.header("etag"),
        Some(etag_of(&a["version"]).as_str())
    );
    assert_eq!(a["subject_type"], "member");
    assert_eq!(a["subject"], "HG-0001");
    assert_eq!(a["subject_name"], name_of("HG-0001"));
    assert_eq!(a["form"], "warning");
    assert_eq!(a["effective_form"], "warning");
    assert_eq!(a["decision_number"], "15-QĐ/UBKTHU");
    assert_eq!(a["authority_code"], "VT");
    assert_eq!(a["decided_on"], "2024-03-01");
    assert_eq!(a["announced_on"], "2024-03-05");
    assert_eq!(
        a["violation"],
        "Vi phạm quy định về những điều đảng viên không được làm"
    );
    assert_eq!(a["regulation_article"], "Điều 7 Quy định 69-QĐ/TW");
    assert_eq!(a["especially_serious"], false);
    assert_eq!(a["expires_on"], "2025-03-05", "announced_on + 12 months");
    assert_eq!(a["appeal"], Value::Null);
    assert_eq!(a["annulled"], false);
    assert_eq!(a["override_reason"], Value::Null);
    assert_eq!(a["version"], 1);
    assert_timestamp(&a["created_at"]);
    assert_timestamp(&a["updated_at"]);

    let got = app.get(&format!("{ACTIONS}/{id}"), &admin).await;
    got.expect(200);
    assert_eq!(got.body, created.body);
    assert_eq!(got.header("etag"), created.header("etag"));

    // Without an announcement the year runs from the decision; optional texts are null.
    let plain = discipline(
        &app,
        &admin,
        action("member", "HG-0001", "reprimand", "16-QĐ", "2024-06-10"),
    )
    .await;
    plain.expect(201);
    assert_eq!(plain.body["announced_on"], Value::Null);
    assert_eq!(plain.body["expires_on"], "2025-06-10");
    assert_eq!(plain.body["violation"], Value::Null);
    assert_eq!(plain.body["regulation_article"], Value::Null);
    // An organisation as subject.
    let org = discipline(
        &app,
        &admin,
        action(
            "organization",
            "VT.P1.B",
            "reprimand",
            "17-QĐ",
            "2024-05-01",
        ),
    )
    .await;
    org.expect(201);
    assert_eq!(org.body["subject_type"], "organization");
    assert_eq!(org.body["subject"], "VT.P1.B");
    assert_eq!(org.body["subject_name"], "Tổ chức VT.P1.B");
    assert_eq!(org.body["expires_on"], "2025-05-01");

    let list = app.get(ACTIONS, &admin).await;
    list.expect(200);
    assert_eq!(
        strings(&list.body["items"], "decision_number"),
        ["15-QĐ/UBKTHU", "17-QĐ", "16-QĐ"],
        "ordered by decided_on"
    );
    assert_eq!(list.body["next_cursor"], Value::Null);
    app.get(&format!("{ACTIONS}/999999"), &admin)
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn discipline_rules_answer_with_their_codes_and_fields() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // F: full since 2016-05-19. P: probationary. G: holds a position since 2022.
    member(&app, &admin, "F", "VT.P1.A", "2015-05-19").await;
    probationary(&app, &admin, "P", "VT.P1.A", "2023-05-01").await;
    member(&app, &admin, "G", "VT.P1.A", "2015-05-19").await;
    position(&app, &admin, "G", "2022-01-01", Value::Null).await;
    position(&app, &admin, "F", "2018-01-01", json!("2020-01-01")).await;
    let refused = |body: Value| discipline(&app, &admin, body);

    // Forms by subject.
    expect_rule(
        &refused(action("member", "F", "dissolution", "1", "2024-03-01")).await,
        "discipline.form_not_for_subject",
        "form",
    );
    for form in ["expulsion", "dismissal"] {
        expect_rule(
            &refused(action("organization", "NB.CB", form, "1", "2024-03-01")).await,
            "discipline.form_not_for_subject",
            "form",
        );
    }
    // A probationary member: reprimand or warning only (F was probationary until 2016-05-19).
    for form in ["expulsion", "dismissal"] {
        expect_rule(
            &refused(action("member", "P", form, "2", "2024-03-01")).await,
            "discipline.probationary_member_form",
            "form",
        );
    }
    expect_rule(
        &refused(action("member", "F", "expulsion", "2", "2016-05-01")).await,
        "discipline.probationary_member_form",
        "form",
    );
    refused(action("member", "P", "warning", "2", "2024-03-01"))
        .await
        .expect(201);
    // Dismissal needs a position held that day.
    expect_rule(
        &refused(action("member", "F", "dismissal", "3", "2024-03-01")).await,
        "discipline.dismissal_needs_position",
        "form",
    );
    refused(action("member", "F", "dismissal", "3", "2019-03-01"))
        .await
        .expect(201);
    refused(action("member", "G", "dismissal", "3", "2024-03-01"))
        .await
        .expect(201);
    // Announcement before the decision.
    expect_rule(
        &refused(with(
            action("member", "F", "reprimand", "4", "2024-03-01"),
            json!({"announced_on": "2024-02-28"}),
        ))
        .await,
        "discipline.dates_out_of_order",
        "announced_on",
    );
    refused(with(
        action("member", "F", "reprimand", "4", "2024-03-01"),
        json!({"announced_on": "2024-03-01"}),
    ))
    .await
    .expect(201);
    // References.
    expect_rule(
        &refused(with(
            action("member", "F", "reprimand", "5", "2024-03-01"),
            json!({"authority_code": "NOPE"}),
        ))
        .await,
        "discipline.authority_not_found",
        "authority_code",
    );
    expect_rule(
        &refused(action("member", "NOPE-1", "reprimand", "5", "2024-03-01")).await,
        "discipline.subject_not_found",
        "subject",
    );
    expect_rule(
        &refused(action(
            "organization",
            "NOPE",
            "reprimand",
            "5",
            "2024-03-01",
        ))
        .await,
        "discipline.subject_not_found",
        "subject",
    );
    // One decision number per authority and subject.
    expect_rule(
        &refused(action("member", "F", "reprimand", "4", "2024-09-01")).await,
        "discipline.duplicate",
        "decision_number",
    );
    refused(action("member", "G", "reprimand", "4", "2024-09-01"))
        .await
        .expect(201);
    refused(with(
        action("member", "F", "reprimand", "4", "2024-09-01"),
        json!({"authority_code": "VT"}),
    ))
    .await
    .expect(201);

    // Unreadable input is 400, out-of-range text 422.
    let base = action("member", "F", "reprimand", "9", "2024-10-01");
    for extra in [
        json!({"form": "suspension"}),
        json!({"subject_type": "person"}),
        json!({"especially_serious": "yes"}),
        json!({"decided_on": "2024-13-01"}),
        json!({"penalty": "x"}),
    ] {
        refused(with(base.clone(), extra))
            .await
            .expect_problem(400, None);
    }
    for (extra, field) in [
        (json!({"decision_number": ""}), "decision_number"),
        (
            json!({"decision_number": "x".repeat(65)}),
            "decision_number",
        ),
        (json!({"violation": "x".repeat(2001)}), "violation"),
        (
            json!({"regulation_article": "x".repeat(201)}),
            "regulation_article",
        ),
    ] {
        expect_invalid(&refused(with(base.clone(), extra)).await, field);
    }
    refused(with(
        base.clone(),
        json!({"violation": "x".repeat(2000), "regulation_article": "x".repeat(200), "decision_number": "x".repeat(64)}),
    ))
    .await
    .expect(201);
}

#[tokio::test]
async fn a_member_who_left_is_disciplined_only_when_deceased_and_especially_serious() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "D", "VT.P1.A", "2015-05-19").await;
    leave(&app, &admin, "D", "deceased", "2020-03-10").await;
    member(&app, &admin, "R", "VT.P1.A", "2015-05-19").await;
    leave(&app, &admin, "R", "removed", "2020-03-10").await;

    expect_rule(
        &discipline(
            &app,
            &admin,
            action("member", "D", "warning", "1", "2021-01-01"),
        )
        .await,
        "discipline.member_left_the_roll",
        "subject",
    );
    let serious = discipline(
        &app,
        &admin,
        with(
            action("member", "D", "warning", "1", "2021-01-01"),
            json!({"especially_serious": true}),
        ),
    )
    .await;
    serious.expect(201);
    assert_eq!(serious.body["especially_serious"], true);

    expect_rule(
        &discipline(
            &app,
            &admin,
            with(
                action("member", "R", "warning", "2", "2021-01-01"),
                json!({"especially_serious": true}),
            ),
        )
        .await,
        "discipline.member_left_the_roll",
        "subject",
    );
    // Decided before they left: fine.
    discipline(
        &app,
        &admin,
        action("member", "R", "warning", "2", "2020-01-15"),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn discipline_is_written_by_admins_and_inspectors_and_read_by_every_role() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    probationary(&app, &admin, "HG-0002", "VT.P1.A", "2024-05-01").await;
    let clerk = clerk(&app, "clerk", "HG").await;
    let inspector = inspector(&app, "inspector", "HG").await;
    let auditor = auditor(&app, "auditor", "HG").await;
    let body = action("member", "HG-0001", "reprimand", "1-QĐ", "2024-03-01");

    for token in [&clerk, &auditor] {
        discipline(&app, token, body.clone())
            .await
            .expect_problem(403, None);
    }
    let created = discipline(&app, &inspector, body.clone()).await;
    created.expect(201);
    let id = text(&created.body["id"]);
    for token in [&admin, &clerk, &inspector, &auditor] {
        let got = app.get(&format!("{ACTIONS}/{id}"), token).await;
        got.expect(200);
        assert_eq!(got.body["subject"], "HG-0001");
        let list = app.get(ACTIONS, token).await;
        list.expect(200);
        assert_eq!(
            strings(&list.body["items"], "id"),
            std::slice::from_ref(&id)
        );
    }
    for token in [&clerk, &auditor] {
        appeal(&app, token, &id, json!({"filed_on": "2024-03-10"}))
            .await
            .expect_problem(403, None);
    }
    appeal(&app, &inspector, &id, json!({"filed_on": "2024-03-10"}))
        .await
        .expect(200);

    // Overrides: an inspector's is refused even on a valid action; an admin's records
    // the expulsion of a probationary member.
    let expel = action("member", "HG-0002", "expulsion", "2-QĐ", "2024-09-01");
    let reason = json!({"override_reason": "Ban Bí thư chỉ đạo"});
    discipline(
        &app,
        &inspector,
        with(
            action("member", "HG-0001", "reprimand", "3-QĐ", "2024-04-01"),
            reason.clone(),
        ),
    )
    .await
    .expect_problem(403, None);
    expect_rule(
        &discipline(&app, &admin, expel.clone()).await,
        "discipline.probationary_member_form",
        "form",
    );
    let overridden = discipline(&app, &admin, with(expel, reason)).await;
    overridden.expect(201);
    assert_eq!(overridden.body["override_reason"], "Ban Bí thư chỉ đạo");
    assert_eq!(overridden.body["expires_on"], Value::Null);
    let expelled = get_member(&app, &admin, "HG-0002").await;
    assert_eq!(expelled["status"], "left");
    assert_eq!(expelled["leave_reason"], "expelled");
    // Annulled: back on the roll, probationary as before.
    annul(
        &app,
        &admin,
        &text(&overridden.body["id"]),
        "2024-09-10",
        "2024-10-01",
    )
    .await;
    let back = get_member(&app, &admin, "HG-0002").await;
    assert_eq!(back["status"], "probationary");
    assert_eq!(back["leave_reason"], Value::Null);
    assert_eq!(back["left_on"], Value::Null);
}

#[tokio::test]
async fn inspectors_discipline_and_see_only_their_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "HG-0002", "NB.CB", "2015-05-19").await;
    let other = discipline_member(&app, &admin, "HG-0002", "reprimand", "2024-03-01", None).await;
    let vt = inspector(&app, "vt", "VT").await;

    expect_rule(
        &discipline(
            &app,
            &vt,
            action("member", "HG-0002", "warning", "1", "2024-04-01"),
        )
        .await,
        "discipline.subject_not_found",
        "subject",
    );
    expect_rule(
        &discipline(
            &app,
            &vt,
            action("organization", "NB.CB", "warning", "1", "2024-04-01"),
        )
        .await,
        "discipline.subject_not_found",
        "subject",
    );
    app.get(&format!("{ACTIONS}/{other}"), &vt)
        .await
        .expect_problem(404, None);
    appeal(&app, &vt, &other, json!({"filed_on": "2024-03-10"}))
        .await
        .expect_problem(404, None);
    let mine = discipline(
        &app,
        &vt,
        with(
            action("member", "HG-0001", "warning", "1", "2024-04-01"),
            json!({"authority_code": "VT"}),
        ),
    )
    .await;
    mine.expect(201);
    let list = app.get(ACTIONS, &vt).await;
    assert_eq!(strings(&list.body["items"], "subject"), ["HG-0001"]);
    let list = app.get(ACTIONS, &admin).await;
    assert_eq!(
        strings(&list.body["items"], "subject"),
        ["HG-0002", "HG-0001"]
    );
}

#[tokio::test]
async fn an_appeal_records_one_outcome_and_reduces_to_a_lighter_form() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "F", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "U", "VT.P1.A", "2015-05-19").await;
    let id = discipline_member(
        &app,
        &admin,
        "F",
        "warning",
        "2024-03-01",
        Some("2024-03-05"),
    )
    .await;

    expect_rule(
        &appeal(&app, &admin, &id, json!({"filed_on": "2024-02-01"})).await,
        "discipline.dates_out_of_order",
        "filed_on",
    );
    let filed = appeal(&app, &admin, &id, json!({"filed_on": "2024-03-20"})).await;
    filed.expect(200);
    assert_eq!(
        filed.body["appeal"],
        json!({"filed_on": "2024-03-20", "outcome": null, "decided_on": null, "reduced_form": null})
    );
    assert_eq!(filed.body["effective_form"], "warning");
    assert_eq!(filed.body["annulled"], false);

    // Incomplete outcomes.
    appeal(
        &app,
        &admin,
        &id,
        json!({"filed_on": "2024-03-20", "outcome": "upheld"}),
    )
    .await
    .expect_problem(422, None);
    appeal(
        &app,
        &admin,
        &id,
        json!({"filed_on": "2024-03-20", "outcome": "reduced", "decided_on": "2024-05-01"}),
    )
    .await
    .expect_problem(422, None);
    appeal(
        &app,
        &admin,
        &id,
        json!({"filed_on": "2024-03-20", "outcome": "pardoned", "decided_on": "2024-05-01"}),
    )
    .await
    .expect_problem(400, None);
    appeal(
        &app,
        &admin,
        &id,
        json!({"filed_on": "2024-03-20", "outcome": "reduced", "decided_on": "2024-05-01", "reduced_form": "caution"}),
    )
    .await
    .expect_problem(400, None);
    expect_rule(
        &appeal(
            &app,
            &admin,
            &id,
            json!({"filed_on": "2024-03-20", "outcome": "reduced", "decided_on": "2024-03-10", "reduced_form": "reprimand"}),
        )
        .await,
        "discipline.dates_out_of_order",
        "decided_on",
    );
    for heavier in ["warning", "dismissal", "expulsion"] {
        expect_rule(
            &appeal(
                &app,
                &admin,
                &id,
                json!({"filed_on": "2024-03-20", "outcome": "reduced", "decided_on": "2024-05-01", "reduced_form": heavier}),
            )
            .await,
            "discipline.reduced_form_not_lighter",
            "reduced_form",
        );
    }
    let reduced = appeal(
        &app,
        &admin,
        &id,
        json!({"filed_on": "2024-03-20", "outcome": "reduced", "decided_on": "2024-05-01", "reduced_form": "reprimand"}),
    )
    .await;
    reduced.expect(200);
    assert_eq!(reduced.body["form"], "warning");
    assert_eq!(reduced.body["effective_form"], "reprimand");
    assert_eq!(
        reduced.body["appeal"],
        json!({"filed_on": "2024-03-20", "outcome": "reduced", "decided_on": "2024-05-01", "reduced_form": "reprimand"})
    );
    assert_eq!(reduced.body["annulled"], false);
    assert!(reduced.body["version"].as_i64().unwrap() > 1);
    expect_rule(
        &appeal(
            &app,
            &admin,
            &id,
            json!({"filed_on": "2024-03-20", "outcome": "upheld", "decided_on": "2024-06-01"}),
        )
        .await,
        "discipline.appeal_decided",
        "outcome",
    );
    let got = app.get(&format!("{ACTIONS}/{id}"), &admin).await;
    assert_eq!(got.body["effective_form"], "reprimand");

    // Upheld in one step: nothing changes but the appeal.
    let other = discipline_member(&app, &admin, "U", "reprimand", "2024-03-01", None).await;
    let upheld = appeal(
        &app,
        &admin,
        &other,
        json!({"filed_on": "2024-03-15", "outcome": "upheld", "decided_on": "2024-04-15"}),
    )
    .await;
    upheld.expect(200);
    assert_eq!(upheld.body["effective_form"], "reprimand");
    assert_eq!(upheld.body["annulled"], false);
    assert_eq!(upheld.body["appeal"]["outcome"], "upheld");
    assert_eq!(upheld.body["appeal"]["reduced_form"], Value::Null);
    appeal(&app, &admin, "999999", json!({"filed_on": "2024-03-15"}))
        .await
        .expect_problem(404, None);
}

#[tokio::test]
async fn expulsion_takes_the_member_off_the_roll_and_an_annulled_appeal_puts_them_back() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "X", "VT.P1.A", "1994-05-19").await;
    let insignia = award(&app, &admin, "X", 30, "2024-09-02", json!({})).await;
    insignia.expect(201);
    let award_id = text(&insignia.body["id"]);
    assert_eq!(insignia.body["revoked_on"], Value::Null);

    let expelled = discipline(
        &app,
        &admin,
        with(
            action("member", "X", "expulsion", "99-QĐ/TU", "2025-01-10"),
            json!({"announced_on": "2025-01-15"}),
        ),
    )
    .await;
    expelled.expect(201);
    assert_eq!(expelled.body["expires_on"], Value::Null);
    let id = text(&expelled.body["id"]);

    let m = get_member(&app, &admin, "X").await;
    assert_eq!(m["status"], "left");
    assert_eq!(m["leave_reason"], "expelled");
    assert_eq!(m["left_on"], "2025-01-10");
    assert_eq!(on_roll(&app, &admin, "HG", "2025-01-09").await, ["X"]);
    assert!(on_roll(&app, &admin, "HG", "2025-01-10").await.is_empty());
    let a = app.get(&format!("{AWARDS}/{award_id}"), &admin).await;
    a.expect(200);
    assert_eq!(a.body["revoked_on"], "2025-01-10");
    let age = party_age(&app, &admin, "X", "2025-06-01").await;
    let gaps = age["gaps"].as_array().unwrap();
    assert!(
        gaps.iter()
            .any(|g| g["reason"] == "expelled" && g["starts_on"] == "2025-01-10"),
        "an expulsion gap from the decision: {age}"
    );
    let open_gap = gaps.iter().find(|g| g["reason"] == "expelled").unwrap();
    assert!(
        open_gap["ends_on"].is_null(),
        "the gap stays open: {open_gap}"
    );
    assert_eq!(in_force(&app, &admin, "2030-01-01").await, ["X"]);

    let annulled = annul(&app, &admin, &id, "2025-02-01", "2025-04-01").await;
    assert_eq!(annulled["appeal"]["outcome"], "annulled");
    let m = get_member(&app, &admin, "X").await;
    assert_eq!(m["status"], "full");
    assert_eq!(m["leave_reason"], Value::Null);
    assert_eq!(m["left_on"], Value::Null);
    assert_eq!(on_roll(&app, &admin, "HG", "2025-06-01").await, ["X"]);
    let a = app.get(&format!("{AWARDS}/{award_id}"), &admin).await;
    assert_eq!(a.body["revoked_on"], Value::Null);
    let age = party_age(&app, &admin, "X", "2025-06-01").await;
    assert!(
        !age["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["reason"] == "expelled"),
        "the gap is removed: {age}"
    );
    assert_eq!(age["years"], 31);
    assert!(in_force(&app, &admin, "2030-01-01").await.is_empty());
    // The annulled action is still readable.
    let got = app.get(&format!("{ACTIONS}/{id}"), &admin).await;
    got.expect(200);
    assert_eq!(got.body["annulled"], true);
}

#[tokio::test]
async fn dissolution_dissolves_the_organisation_and_annulment_restores_it() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let dissolved = discipline(
        &app,
        &admin,
        with(
            action(
                "organization",
                "VT.P1.B",
                "dissolution",
                "50-QĐ",
                "2024-09-01",
            ),
            json!({"authority_code": "VT"}),
        ),
    )
    .await;
    dissolved.expect(201);
    assert_eq!(dissolved.body["form"], "dissolution");
    assert_eq!(dissolved.body["expires_on"], Value::Null);
    let id = text(&dissolved.body["id"]);
    let org = app.get("/api/v1/organizations/VT.P1.B", &admin).await;
    org.expect(200);
    assert_eq!(org.body["dissolved_on"], "2024-09-01");
    // No one joins a dissolved branch.
    let late = app
        .post(
            "/api/v1/members",
            &admin,
            member_body("HG-0009", "VT.P1.B", "2024-10-01"),
        )
        .await;
    late.expect_problem(422, Some("member.organization_not_existing"));
    assert_eq!(
        in_force(&app, &admin, "2030-01-01").await,
        ["VT.P1.B"],
        "dissolution stays in force"
    );

    annul(&app, &admin, &id, "2024-09-15", "2024-11-01").await;
    let org = app.get("/api/v1/organizations/VT.P1.B", &admin).await;
    assert_eq!(org.body["dissolved_on"], Value::Null);
    assert!(in_force(&app, &admin, "2030-01-01").await.is_empty());
    app.post(
        "/api/v1/members",
        &admin,
        member_body("HG-0009", "VT.P1.B", "2024-12-01"),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn in_force_on_lists_the_actions_in_force_that_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for p in ["F1", "F2", "F3", "F4"] {
        member(&app, &admin, p, "VT.P1.A", "2015-05-19").await;
    }
    // F1: reprimand decided 2024-02-20, announced 2024-03-01, expires 2025-03-01.
    discipline_member(
        &app,
        &admin,
        "F1",
        "reprimand",
        "2024-02-20",
        Some("2024-03-01"),
    )
    .await;
    // F2: expelled 2024-05-01, for good.
    discipline_member(&app, &admin, "F2", "expulsion", "2024-05-01", None).await;
    // F3: warning of 2024-06-01, annulled.
    let f3 = discipline_member(&app, &admin, "F3", "warning", "2024-06-01", None).await;
    annul(&app, &admin, &f3, "2024-06-10", "2024-07-01").await;
    // F4: warning of 2023-01-10, never announced: expires 2024-01-10.
    discipline_member(&app, &admin, "F4", "warning", "2023-01-10", None).await;

    for (on, expected) in [
        ("2023-01-09", vec![]),
        ("2023-01-10", vec!["F4"]),
        ("2024-01-09", vec!["F4"]),
        ("2024-01-10", vec![]),
        ("2024-02-19", vec![]),
        ("2024-02-20", vec!["F1"]),
        ("2024-06-15", vec!["F1", "F2"]),
        ("2025-02-28", vec!["F1", "F2"]),
        ("2025-03-01", vec!["F2"]),
        ("2040-01-01", vec!["F2"]),
    ] {
        assert_eq!(
            in_force(&app, &admin, on).await,
            expected,
            "in force on {on}"
        );
    }
    app.get(&format!("{ACTIONS}?in_force_on=tomorrow"), &admin)
        .await
        .expect_problem(400, None);
}

#[tokio::test]
async fn disciplinary_actions_list_by_year_subtree_type_and_form_in_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "V1", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "N1", "NB.CB", "2015-05-19").await;
    let mut ids = Vec::new();
    for (body, label) in [
        (
            action("member", "V1", "reprimand", "1", "2024-03-01"),
            "V1 2024-03-01",
        ),
        (
            action("member", "N1", "warning", "2", "2023-06-01"),
            "N1 2023-06-01",
        ),
        (
            action("organization", "NB.CB", "warning", "3", "2024-03-01"),
            "NB.CB 2024-03-01",
        ),
        (
            action("organization", "VT.P1.B", "reprimand", "4", "2024-01-15"),
            "VT.P1.B 2024-01-15",
        ),
        (
            action("member", "V1", "warning", "5", "2025-02-01"),
            "V1 2025-02-01",
        ),
    ] {
        let answer = discipline(&app, &admin, body).await;
        answer.expect(201);
        ids.push((text(&answer.body["id"]), label));
    }
    let numbers = |answer: Answer| {
        answer.expect(200);
        strings(&answer.body["items"], "decision_number")
    };
    let list = |q: &'static str| get_path(&app, format!("{ACTIONS}{q}"), &admin);
    // decided_on, then id (V1's and NB.CB's of 2024-03-01 in creation order).
    assert_eq!(numbers(list("").await), ["2", "4", "1", "3", "5"]);
    assert_eq!(numbers(list("?year=2024").await), ["4", "1", "3"]);
    assert_eq!(numbers(list("?under=NB").await), ["2", "3"]);
    assert_eq!(numbers(list("?under=VT.P1").await), ["4", "1", "5"]);
    assert_eq!(
        numbers(list("?subject_type=organization").await),
        ["4", "3"]
    );
    assert_eq!(numbers(list("?form=warning").await), ["2", "3", "5"]);
    assert_eq!(numbers(list("?year=2024&subject_type=member").await), ["1"]);
    let walked = walk(&app, &admin, ACTIONS, 2).await;
    assert_eq!(
        walked
            .iter()
            .map(|a| text(&a["decision_number"]))
            .collect::<Vec<_>>(),
        ["2", "4", "1", "3", "5"]
    );
    for q in [
        "?subject_type=person",
        "?form=caution",
        "?year=x",
        "?limit=0",
        "?limit=501",
        "?colour=red",
    ] {
        list(q).await.expect_problem(400, None);
    }
    list("?under=NOPE").await.expect_problem(404, None);
}

// ─── Party insignia ─────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn an_insignia_award_is_created_read_and_listed_with_every_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "1994-05-19").await;
    member(&app, &admin, "HG-0002", "NB.CB", "1984-05-19").await;

    let created = award(
        &app,
        &admin,
        "HG-0001",
        30,
        "2024-09-02",
        json!({"decision_number": "123-QĐ/TU"}),
    )
    .await;
    created.expect(201);
    let a = &created.body;
    let id = text(&a["id"]);
    assert_eq!(
        created.header("location"),
        Some(format!("{AWARDS}/{id}").as_str())
    );
    assert_eq!(a["profile_number"], "HG-0001");
    assert_eq!(a["full_name"], name_of("HG-0001"));
    assert_eq!(a["tier"], 30);
    assert_eq!(a["awarded_on"], "2024-09-02");
    assert_eq!(a["decision_number"], "123-QĐ/TU");
    assert_eq!(a["posthumous"], false);
    assert_eq!(a["early"], false);
    assert_eq!(a["revoked_on"], Value::Null);
    assert_eq!(age_triple(&a["party_age"]), (30, 3, 14));
    assert_eq!(a["override_reason"], Value::Null);
    assert_eq!(a["version"], 1);
    assert_timestamp(&a["created_at"]);

    let got = app.get(&format!("{AWARDS}/{id}"), &admin).await;
    got.expect(200);
    assert_eq!(got.body, created.body);
    app.get(&format!("{AWARDS}/999999"), &admin)
        .await
        .expect_problem(404, None);

    // More awards for the lists.
    let forty = award(&app, &admin, "HG-0002", 40, "2024-06-01", json!({})).await;
    forty.expect(201);
    assert_eq!(forty.body["decision_number"], Value::Null);
    award(&app, &admin, "HG-0002", 30, "2014-06-01", json!({}))
        .await
        .expect_problem(422, Some("insignia.lower_tier"));
    let list = |q: &'static str| get_path(&app, format!("{AWARDS}{q}"), &admin);
    let tiers = |answer: Answer| {
        answer.expect(200);
        answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (text(&a["profile_number"]), a["tier"].as_i64().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tiers(list("").await),
        [("HG-0002".to_string(), 40), ("HG-0001".to_string(), 30)],
        "ordered by awarded_on"
    );
    assert_eq!(tiers(list("?tier=30").await), [("HG-0001".to_string(), 30)]);
    assert_eq!(
        tiers(list("?under=NB").await),
        [("HG-0002".to_string(), 40)]
    );
    assert_eq!(tiers(list("?year=2024").await).len(), 2);
    assert!(tiers(list("?year=2023").await).is_empty());
    let walked = walk(&app, &admin, AWARDS, 1).await;
    assert_eq!(walked.len(), 2);
    for q in ["?tier=abc", "?year=x", "?limit=0", "?colour=red"] {
        list(q).await.expect_problem(400, None);
    }
}

#[tokio::test]
async fn insignia_needs_the_party_age_and_early_awards_have_a_window() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "A", "VT.P1.A", "1994-05-19").await;
    // 11 and 13 months short of 30 years on 2024-09-02.
    member(&app, &admin, "B", "VT.P1.A", "1995-08-02").await;
    member(&app, &admin, "C", "VT.P1.A", "1995-10-02").await;
    // 70 years fall due on 2026-05-19: a 24-month window.
    member(&app, &admin, "D", "VT.P1.A", "1956-05-19").await;

    expect_rule(
        &award(&app, &admin, "A", 30, "2024-05-18", json!({})).await,
        "insignia.party_age_short",
        "awarded_on",
    );
    let due = award(&app, &admin, "A", 30, "2024-05-19", json!({})).await;
    due.expect(201);
    assert_eq!(age_triple(&due.body["party_age"]), (30, 0, 0));

    expect_rule(
        &award(&app, &admin, "B", 30, "2024-09-02", json!({})).await,
        "insignia.party_age_short",
        "awarded_on",
    );
    let early = award(&app, &admin, "B", 30, "2024-09-02", json!({"early": true})).await;
    early.expect(201);
    assert_eq!(early.body["early"], true);
    assert_eq!(age_triple(&early.body["party_age"]), (29, 1, 0));
    expect_rule(
        &award(&app, &admin, "C", 30, "2024-09-02", json!({"early": true})).await,
        "insignia.too_early",
        "early",
    );

    // 25 months early is too early for 70; 20 months is within the window.
    expect_rule(
        &award(&app, &admin, "D", 70, "2024-04-18", json!({"early": true})).await,
        "insignia.too_early",
        "early",
    );
    award(&app, &admin, "D", 70, "2024-09-02", json!({"early": true}))
        .await
        .expect(201);

    // Tiers outside the list.
    for tier in [35, 100, 0] {
        expect_rule(
            &award(&app, &admin, "D", tier, "2024-09-02", json!({})).await,
            "insignia.tier_unknown",
            "tier",
        );
    }
}

#[tokio::test]
async fn posthumous_awards_go_to_deceased_members_only() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "G", "VT.P1.A", "1994-01-10").await;
    leave(&app, &admin, "G", "deceased", "2024-03-10").await;
    member(&app, &admin, "H", "VT.P1.A", "1994-01-10").await;
    member(&app, &admin, "R", "VT.P1.A", "1990-01-10").await;
    leave(&app, &admin, "R", "removed", "2023-01-01").await;
    // Died 11 months short of 30 years, and 20 months short of 70.
    member(&app, &admin, "K", "VT.P1.A", "1995-08-02").await;
    leave(&app, &admin, "K", "deceased", "2024-08-20").await;
    member(&app, &admin, "J", "VT.P1.A", "1956-05-19").await;
    leave(&app, &admin, "J", "deceased", "2024-09-01").await;

    expect_rule(
        &award(&app, &admin, "G", 30, "2024-09-02", json!({})).await,
        "insignia.member_not_on_roll",
        "profile_number",
    );
    let posthumous = award(
        &app,
        &admin,
        "G",
        30,
        "2024-09-02",
        json!({"posthumous": true}),
    )
    .await;
    posthumous.expect(201);
    assert_eq!(posthumous.body["posthumous"], true);
    assert_eq!(posthumous.body["full_name"], name_of("G"));

    expect_rule(
        &award(
            &app,
            &admin,
            "H",
            30,
            "2024-09-02",
            json!({"posthumous": true}),
        )
        .await,
        "insignia.posthumous_needs_deceased",
        "posthumous",
    );
    award(&app, &admin, "H", 30, "2024-09-02", json!({}))
        .await
        .expect(201);

    expect_rule(
        &award(&app, &admin, "R", 30, "2024-09-02", json!({})).await,
        "insignia.member_not_on_roll",
        "profile_number",
    );
    expect_rule(
        &award(
            &app,
            &admin,
            "R",
            30,
            "2024-09-02",
            json!({"posthumous": true}),
        )
        .await,
        "insignia.posthumous_needs_deceased",
        "posthumous",
    );

    award(
        &app,
        &admin,
        "K",
        30,
        "2024-09-02",
        json!({"posthumous": true, "early": true}),
    )
    .await
    .expect(201);
    // Posthumous awards come at most 12 months early, whatever the tier.
    expect_rule(
        &award(
            &app,
            &admin,
            "J",
            70,
            "2024-10-01",
            json!({"posthumous": true, "early": true}),
        )
        .await,
        "insignia.too_early",
        "early",
    );
}

#[tokio::test]
async fn each_tier_is_awarded_once_and_never_below_one_held() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "L", "VT.P1.A", "1984-05-19").await;
    member(&app, &admin, "M", "VT.P1.A", "1994-05-19").await;

    award(&app, &admin, "M", 30, "2024-09-02", json!({}))
        .await
        .expect(201);
    expect_rule(
        &award(&app, &admin, "M", 30, "2025-01-01", json!({})).await,
        "insignia.tier_awarded",
        "tier",
    );
    award(&app, &admin, "L", 40, "2024-09-02", json!({}))
        .await
        .expect(201);
    expect_rule(
        &award(&app, &admin, "L", 40, "2025-01-01", json!({})).await,
        "insignia.tier_awarded",
        "tier",
    );
    expect_rule(
        &award(&app, &admin, "L", 30, "2025-01-01", json!({})).await,
        "insignia.lower_tier",
        "tier",
    );
    let list = app.get(&format!("{AWARDS}?under=HG"), &admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn discipline_blocks_insignia_for_a_while_and_expulsion_for_ever() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    for p in ["N", "O", "Q", "S"] {
        member(&app, &admin, p, "VT.P1.A", "1994-01-10").await;
    }
    position(&app, &admin, "O", "2020-01-01", Value::Null).await;
    // A warning announced on 2024-03-01 blocks for 6 months.
    discipline_member(
        &app,
        &admin,
        "N",
        "warning",
        "2024-02-20",
        Some("2024-03-01"),
    )
    .await;
    expect_rule(
        &award(&app, &admin, "N", 30, "2024-08-31", json!({})).await,
        "insignia.discipline_in_force",
        "awarded_on",
    );
    award(&app, &admin, "N", 30, "2024-09-02", json!({}))
        .await
        .expect(201);
    // A dismissal announced on 2024-01-15 blocks for 12 months.
    discipline_member(
        &app,
        &admin,
        "O",
        "dismissal",
        "2024-01-10",
        Some("2024-01-15"),
    )
    .await;
    expect_rule(
        &award(&app, &admin, "O", 30, "2024-12-01", json!({})).await,
        "insignia.discipline_in_force",
        "awarded_on",
    );
    award(&app, &admin, "O", 30, "2025-01-20", json!({}))
        .await
        .expect(201);
    // A reprimand does not block.
    discipline_member(&app, &admin, "Q", "reprimand", "2024-03-01", None).await;
    award(&app, &admin, "Q", 30, "2024-04-01", json!({}))
        .await
        .expect(201);
    // Never to an expelled member.
    discipline_member(&app, &admin, "S", "expulsion", "2024-03-01", None).await;
    expect_rule(
        &award(&app, &admin, "S", 30, "2024-09-02", json!({})).await,
        "insignia.expelled",
        "profile_number",
    );
    // Nor later, when the expulsion is long past.
    expect_rule(
        &award(&app, &admin, "S", 30, "2030-01-01", json!({})).await,
        "insignia.expelled",
        "profile_number",
    );
}

#[tokio::test]
async fn the_eligibility_list_names_members_due_for_a_tier_on_the_batch_date() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // E1: 30 years on 2024-05-19. E3: 29 years only. E7: due, in NB.
    member(&app, &admin, "E1", "VT.P1.A", "1994-05-19").await;
    member(&app, &admin, "E3", "VT.P1.A", "1995-01-10").await;
    member(&app, &admin, "E7", "NB.CB", "1994-01-10").await;
    // E4: a warning announced 2024-06-01 (blocks until December).
    member(&app, &admin, "E4", "VT.P1.A", "1994-01-10").await;
    discipline_member(
        &app,
        &admin,
        "E4",
        "warning",
        "2024-06-01",
        Some("2024-06-01"),
    )
    .await;
    // E5: holds the 30-year insignia.
    member(&app, &admin, "E5", "VT.P1.A", "1994-01-10").await;
    award(&app, &admin, "E5", 30, "2024-02-01", json!({}))
        .await
        .expect(201);
    // E8: died in March.
    member(&app, &admin, "E8", "VT.P1.A", "1994-01-10").await;
    leave(&app, &admin, "E8", "deceased", "2024-03-01").await;
    // E9: only reprimanded.
    member(&app, &admin, "E9", "VT.P1.A", "1994-01-10").await;
    discipline_member(&app, &admin, "E9", "reprimand", "2024-03-01", None).await;
    // E2: holds 30, has reached 40. E10: holds 40.
    member(&app, &admin, "E2", "VT.P1.B", "1984-05-19").await;
    award(&app, &admin, "E2", 30, "2014-06-01", json!({}))
        .await
        .expect(201);
    member(&app, &admin, "E10", "VT.P1.B", "1984-05-19").await;
    award(&app, &admin, "E10", 40, "2024-06-01", json!({}))
        .await
        .expect(201);

    let eligible = |q: &'static str| get_path(&app, format!("{AWARDS}/eligible{q}"), &admin);
    let rows = |answer: &Answer| -> Vec<(String, i64)> {
        answer.expect(200);
        let mut rows: Vec<(String, i64)> = answer.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items: {}", answer.text))
            .iter()
            .map(|e| (text(&e["profile_number"]), e["tier"].as_i64().unwrap_or(-1)))
            .collect();
        rows.sort();
        rows
    };
    let expect = |list: &[(&str, i64)]| -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = list.iter().map(|(p, t)| (p.to_string(), *t)).collect();
        v.sort();
        v
    };

    let thirty = eligible("?on=2024-09-02&tier=30").await;
    assert_eq!(thirty.body["on"], "2024-09-02");
    assert_eq!(rows(&thirty), expect(&[("E1", 30), ("E7", 30), ("E9", 30)]));
    let e1 = thirty.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["profile_number"] == "E1")
        .unwrap();
    assert_eq!(e1["full_name"], name_of("E1"));
    assert_eq!(e1["organization_code"], "VT.P1.A");
    assert_eq!(age_triple(&e1["party_age"]), (30, 3, 14));

    assert_eq!(
        rows(&eligible("?on=2024-09-02&tier=30&under=VT").await),
        expect(&[("E1", 30), ("E9", 30)])
    );
    assert_eq!(
        rows(&eligible("?on=2024-09-02&tier=40").await),
        expect(&[("E2", 40)])
    );
    assert_eq!(
        rows(&eligible("?on=2024-09-02").await),
        expect(&[("E1", 30), ("E2", 40), ("E7", 30), ("E9", 30)])
    );
    // Once the warning no longer blocks, E4 is due too; before E1's anniversary, E1 is not.
    assert_eq!(
        rows(&eligible("?on=2024-12-02&tier=30").await),
        expect(&[("E1", 30), ("E4", 30), ("E7", 30), ("E9", 30)])
    );
    assert_eq!(
        rows(&eligible("?on=2024-05-18&tier=30").await),
        expect(&[("E4", 30), ("E7", 30), ("E9", 30)])
    );
    eligible("").await.expect_problem(400, None);
    eligible("?on=soon").await.expect_problem(400, None);
    eligible("?on=2024-09-02&under=NOPE")
        .await
        .expect_problem(404, None);

    // Auditors and clerks read it within their scope.
    let nb = clerk(&app, "nb", "NB").await;
    let answer = app
        .get(&format!("{AWARDS}/eligible?on=2024-09-02&tier=30"), &nb)
        .await;
    assert_eq!(rows(&answer), expect(&[("E7", 30)]));
    let audit = auditor(&app, "audit", "HG").await;
    app.get(&format!("{AWARDS}/eligible?on=2024-09-02"), &audit)
        .await
        .expect(200);
}

#[tokio::test]
async fn insignia_roles_scope_and_overrides() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "V1", "VT.P1.A", "1994-01-10").await;
    member(&app, &admin, "V2", "VT.P1.A", "1999-01-10").await;
    member(&app, &admin, "N1", "NB.CB", "1994-01-10").await;
    let theirs = award(&app, &admin, "N1", 30, "2024-09-02", json!({})).await;
    theirs.expect(201);
    let theirs = text(&theirs.body["id"]);
    let vt = clerk(&app, "vt", "VT").await;
    let inspector = inspector(&app, "inspector", "HG").await;
    let auditor = auditor(&app, "auditor", "HG").await;

    for token in [&inspector, &auditor] {
        award(&app, token, "V1", 30, "2024-09-02", json!({}))
            .await
            .expect_problem(403, None);
        app.get(&format!("{AWARDS}/{theirs}"), token)
            .await
            .expect(200);
    }
    expect_not_found_reference(&award(&app, &vt, "N1", 40, "2034-09-02", json!({})).await);
    expect_not_found_reference(&award(&app, &vt, "NOPE-1", 30, "2024-09-02", json!({})).await);
    app.get(&format!("{AWARDS}/{theirs}"), &vt)
        .await
        .expect_problem(404, None);
    let mine = award(&app, &vt, "V1", 30, "2024-09-02", json!({})).await;
    mine.expect(201);
    let list = app.get(AWARDS, &vt).await;
    assert_eq!(strings(&list.body["items"], "profile_number"), ["V1"]);

    // Overrides: admin only, recorded on the award.
    let reason = json!({"override_reason": "Trường hợp đặc biệt, Ban Thường vụ đồng ý"});
    award(&app, &vt, "V2", 30, "2024-09-02", reason.clone())
        .await
        .expect_problem(403, None);
    expect_rule(
        &award(&app, &admin, "V2", 30, "2024-09-02", json!({})).await,
        "insignia.party_age_short",
        "awarded_on",
    );
    let overridden = award(&app, &admin, "V2", 30, "2024-09-02", reason).await;
    overridden.expect(201);
    assert_eq!(
        overridden.body["override_reason"],
        "Trường hợp đặc biệt, Ban Thường vụ đồng ý"
    );
    let got = app
        .get(
            &format!("{AWARDS}/{}", text(&overridden.body["id"])),
            &admin,
        )
        .await;
    assert_eq!(
        got.body["override_reason"],
        "Trường hợp đặc biệt, Ban Thường vụ đồng ý"
    );

    // Unreadable input.
    let base = json!({"profile_number": "V1", "tier": 40, "awarded_on": "2034-09-02"});
    for extra in [
        json!({"tier": "30"}),
        json!({"posthumous": "yes"}),
        json!({"early": 1}),
        json!({"awarded_on": "2024-02-30"}),
        json!({"medal": "gold"}),
    ] {
        app.post(AWARDS, &admin, with(base.clone(), extra))
            .await
            .expect_problem(400, None);
    }
    expect_invalid(
        &app.post(
            AWARDS,
            &admin,
            with(base.clone(), json!({"override_reason": "x".repeat(501)})),
        )
        .await,
        "override_reason",
    );
}

// ─── Admission targets ──────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn admission_targets_are_created_read_updated_and_listed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let created = app
        .post(
            TARGETS,
            &admin,
            json!({"organization_code": "VT.P1", "year": 2025, "target": 30}),
        )
        .await;
    created.expect(201);
    assert_eq!(
        created.header("location"),
        Some("/api/v1/admission-targets/VT.P1/2025")
    );
    let t = &created.body;
    assert_eq!(
        created.header("etag"),
        Some(etag_of(&t["version"]).as_str())
    );
    assert_eq!(t["organization_code"], "VT.P1");
    assert_eq!(t["year"], 2025);
    assert_eq!(t["target"], 30);
    assert_eq!(t["version"], 1);
    assert_timestamp(&t["created_at"]);
    assert_timestamp(&t["updated_at"]);
    let path = "/api/v1/admission-targets/VT.P1/2025";
    let got = app.get(path, &admin).await;
    got.expect(200);
    assert_eq!(got.body, created.body);
    assert_eq!(got.header("etag"), Some("\"1\""));
    app.get("/api/v1/admission-targets/VT.P1/2024", &admin)
        .await
        .expect_problem(404, None);

    // PATCH.
    app.call(
        Method::PATCH,
        path,
        Some(&admin),
        Some(json!({"target": 40})),
    )
    .await
    .expect_problem(428, None);
    app.patch(path, &admin, "\"9\"", json!({"target": 40}))
        .await
        .expect_problem(412, None);
    expect_invalid(
        &app.patch(path, &admin, "\"1\"", json!({"target": -5}))
            .await,
        "target",
    );
    app.patch(path, &admin, "\"1\"", json!({"target": "40"}))
        .await
        .expect_problem(400, None);
    app.patch(path, &admin, "\"1\"", json!({"year": 2026}))
        .await
        .expect_problem(400, None);
    let patched = app
        .patch(path, &admin, "\"1\"", json!({"target": 40}))
        .await;
    patched.expect(200);
    assert_eq!(patched.body["target"], 40);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.header("etag"), Some("\"2\""));
    assert_eq!(patched.body["created_at"], created.body["created_at"]);
    app.patch(path, &admin, "\"1\"", json!({"target": 50}))
        .await
        .expect_problem(412, None);
    assert_eq!(app.get(path, &admin).await.body["target"], 40);

    // Lists.
    for (code, year, target) in [
        ("NB.CB", 2025, 0),
        ("NB", 2025, 1_000_000),
        ("VT.P1.A", 2024, 5),
    ] {
        app.post(
            TARGETS,
            &admin,
            json!({"organization_code": code, "year": year, "target": target}),
        )
        .await
        .expect(201);
    }
    let codes = |answer: Answer| {
        answer.expect(200);
        let mut v = strings(&answer.body["items"], "organization_code");
        v.sort();
        v
    };
    let list = |q: &'static str| get_path(&app, format!("{TARGETS}{q}"), &admin);
    assert_eq!(codes(list("?year=2025").await), ["NB", "NB.CB", "VT.P1"]);
    assert_eq!(codes(list("?under=VT").await), ["VT.P1", "VT.P1.A"]);
    assert_eq!(codes(list("?year=2025&under=NB").await), ["NB", "NB.CB"]);
    assert_eq!(walk(&app, &admin, TARGETS, 3).await.len(), 4);
    for q in ["?year=x", "?limit=0", "?colour=red"] {
        list(q).await.expect_problem(400, None);
    }
}

#[tokio::test]
async fn admission_target_rules_roles_and_scope() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    let body = |code: &str, year: i32, target: Value| json!({"organization_code": code, "year": year, "target": target});
    app.post(TARGETS, &admin, body("NB.CB", 2025, json!(12)))
        .await
        .expect(201);
    expect_rule(
        &app.post(TARGETS, &admin, body("NB.CB", 2025, json!(13)))
            .await,
        "admission_target.exists",
        "year",
    );
    expect_rule(
        &app.post(TARGETS, &admin, body("NOPE", 2025, json!(13)))
            .await,
        "admission_target.organization_not_found",
        "organization_code",
    );
    for target in [json!(-1), json!(1_000_001)] {
        expect_invalid(
            &app.post(TARGETS, &admin, body("VT", 2025, target)).await,
            "target",
        );
    }
    for bad in [
        body("VT", 2025, json!("30")),
        body("VT", 2025, json!(1.5)),
        json!({"organization_code": "VT", "year": "2025", "target": 3}),
        json!({"organization_code": "VT", "year": 2025, "target": 3, "note": "x"}),
    ] {
        app.post(TARGETS, &admin, bad)
            .await
            .expect_problem(400, None);
    }
    assert_eq!(
        app.get(TARGETS, &admin).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Roles.
    let inspector = inspector(&app, "inspector", "HG").await;
    let auditor = auditor(&app, "auditor", "HG").await;
    for token in [&inspector, &auditor] {
        app.post(TARGETS, token, body("VT", 2025, json!(3)))
            .await
            .expect_problem(403, None);
        app.patch(
            "/api/v1/admission-targets/NB.CB/2025",
            token,
            "\"1\"",
            json!({"target": 3}),
        )
        .await
        .expect_problem(403, None);
        let got = app.get("/api/v1/admission-targets/NB.CB/2025", token).await;
        got.expect(200);
        assert_eq!(got.body["target"], 12);
    }

    // Scope.
    let vt = clerk(&app, "vt", "VT").await;
    expect_rule(
        &app.post(TARGETS, &vt, body("NB.CB", 2026, json!(3))).await,
        "admission_target.organization_not_found",
        "organization_code",
    );
    app.get("/api/v1/admission-targets/NB.CB/2025", &vt)
        .await
        .expect_problem(404, None);
    app.patch(
        "/api/v1/admission-targets/NB.CB/2025",
        &vt,
        "\"1\"",
        json!({"target": 3}),
    )
    .await
    .expect_problem(404, None);
    app.post(TARGETS, &vt, body("VT.P1.A", 2025, json!(4)))
        .await
        .expect(201);
    let list = app.get(TARGETS, &vt).await;
    assert_eq!(
        strings(&list.body["items"], "organization_code"),
        ["VT.P1.A"]
    );
    let patched = app
        .patch(
            "/api/v1/admission-targets/VT.P1.A/2025",
            &vt,
            "\"1\"",
            json!({"target": 6}),
        )
        .await;
    patched.expect(200);
    assert_eq!(patched.body["target"], 6);
    assert_eq!(
        app.get("/api/v1/admission-targets/NB.CB/2025", &admin)
            .await
            .body["target"],
        12
    );
}

// ─── Credentials ────────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn the_annual_routes_need_credentials() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, MEMBER_RATINGS.to_string()),
        (Method::POST, MEMBER_RATINGS.to_string()),
        (Method::POST, format!("{MEMBER_RATINGS}/batch")),
        (Method::GET, format!("{MEMBER_RATINGS}/HG-0001/2024")),
        (Method::GET, ORG_RATINGS.to_string()),
        (Method::POST, format!("{ORG_RATINGS}/batch")),
        (Method::GET, ACTIONS.to_string()),
        (Method::POST, ACTIONS.to_string()),
        (Method::GET, format!("{ACTIONS}/1")),
        (Method::POST, format!("{ACTIONS}/1/appeal")),
        (Method::GET, AWARDS.to_string()),
        (Method::POST, AWARDS.to_string()),
        (Method::GET, format!("{AWARDS}/eligible?on=2024-09-02")),
        (Method::GET, TARGETS.to_string()),
        (Method::POST, TARGETS.to_string()),
        (Method::GET, format!("{TARGETS}/HG/2025")),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        let answer = app.call(method.clone(), &path, None, body).await;
        assert_eq!(
            answer.status.as_u16(),
            401,
            "{method} {path}: {}",
            answer.text
        );
    }
}

// ─── Further cases ──────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn a_rating_patch_is_held_to_the_reason_and_discipline_rules() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    member(&app, &admin, "HG-0002", "VT.P1.A", "2015-05-19").await;
    rate(&app, &admin, "HG-0001", 2024, "good", json!({}))
        .await
        .expect(201);
    let path = "/api/v1/ratings/members/HG-0001/2024";
    expect_rule(
        &app.patch(path, &admin, "\"1\"", json!({"level": "not_rated"}))
            .await,
        "rating.reason_required",
        "reason",
    );
    let patched = app
        .patch(
            path,
            &admin,
            "\"1\"",
            json!({"level": "not_rated", "reason": "Đi công tác nước ngoài"}),
        )
        .await;
    patched.expect(200);
    assert_eq!(patched.body["level"], "not_rated");

    // Disciplined in 2024, rated good as self-corrected: the flag cannot be dropped.
    discipline_member(&app, &admin, "HG-0002", "reprimand", "2024-03-01", None).await;
    rate(
        &app,
        &admin,
        "HG-0002",
        2024,
        "good",
        json!({"self_corrected": true}),
    )
    .await
    .expect(201);
    expect_rule(
        &app.patch(
            "/api/v1/ratings/members/HG-0002/2024",
            &admin,
            "\"1\"",
            json!({"self_corrected": false}),
        )
        .await,
        "rating.disciplined_member_not_above_not_completed",
        "level",
    );
    let patched = app
        .patch(
            "/api/v1/ratings/members/HG-0002/2024",
            &admin,
            "\"1\"",
            json!({"self_corrected": false, "level": "not_completed"}),
        )
        .await;
    patched.expect(200);
    assert_eq!(patched.body["self_corrected"], false);
    assert_eq!(patched.body["level"], "not_completed");
}

#[tokio::test]
async fn insignia_party_age_leaves_out_the_recorded_gaps() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "1994-05-19").await;
    app.post(
        "/api/v1/members/HG-0001/party-age-gaps",
        &admin,
        json!({"reason": "transfer_gap", "starts_on": "2000-01-01", "ends_on": "2001-01-01"}),
    )
    .await
    .expect(200);
    // 366 days out: 30 years on 2025-05-20 instead of 2024-05-19.
    expect_rule(
        &award(&app, &admin, "HG-0001", 30, "2024-09-02", json!({})).await,
        "insignia.party_age_short",
        "awarded_on",
    );
    let listed =
        |on: &'static str| get_path(&app, format!("{AWARDS}/eligible?on={on}&tier=30"), &admin);
    let none = listed("2024-09-02").await;
    none.expect(200);
    assert_eq!(none.body["items"], json!([]));
    let due = listed("2025-05-20").await;
    due.expect(200);
    assert_eq!(strings(&due.body["items"], "profile_number"), ["HG-0001"]);
    let done = award(&app, &admin, "HG-0001", 30, "2025-05-20", json!({})).await;
    done.expect(201);
    assert_eq!(age_triple(&done.body["party_age"]), (30, 0, 0));
}

#[tokio::test]
async fn an_expelled_member_is_not_disciplined_again_and_an_annulled_expulsion_frees_the_insignia()
{
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "X", "VT.P1.A", "1994-01-10").await;
    let id = discipline_member(&app, &admin, "X", "expulsion", "2024-03-01", None).await;
    expect_rule(
        &discipline(
            &app,
            &admin,
            action("member", "X", "warning", "2", "2024-06-01"),
        )
        .await,
        "discipline.member_left_the_roll",
        "subject",
    );
    award(&app, &admin, "X", 30, "2024-09-02", json!({}))
        .await
        .expect_problem(422, Some("insignia.expelled"));
    let eligible = app
        .get(&format!("{AWARDS}/eligible?on=2024-09-02&tier=30"), &admin)
        .await;
    assert_eq!(eligible.body["items"], json!([]));

    annul(&app, &admin, &id, "2024-03-15", "2024-05-01").await;
    // One outcome only.
    expect_rule(
        &appeal(
            &app,
            &admin,
            &id,
            json!({"filed_on": "2024-03-15", "outcome": "upheld", "decided_on": "2024-06-01"}),
        )
        .await,
        "discipline.appeal_decided",
        "outcome",
    );
    let eligible = app
        .get(&format!("{AWARDS}/eligible?on=2024-09-02&tier=30"), &admin)
        .await;
    assert_eq!(strings(&eligible.body["items"], "profile_number"), ["X"]);
    award(&app, &admin, "X", 30, "2024-09-02", json!({}))
        .await
        .expect(201);
    // The annulled expulsion no longer limits the 2024 rating either.
    rate(&app, &admin, "X", 2024, "good", json!({}))
        .await
        .expect(201);
}

#[tokio::test]
async fn a_lone_excellent_rating_warns_and_is_still_recorded() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "N1", "NB.CB", "2015-05-19").await;
    member(&app, &admin, "V1", "VT.P1.A", "2015-05-19").await;
    let answer = rate(&app, &admin, "N1", 2024, "excellent", json!({})).await;
    answer.expect(201);
    let warnings = answer.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", answer.text);
    assert_eq!(warnings[0]["code"], "rating.excellent_quota");
    assert_eq!(warnings[0]["organization_code"], "NB.CB");
    // Another grassroots organisation is not concerned.
    let other = rate(&app, &admin, "V1", 2024, "good", json!({})).await;
    other.expect(201);
    assert_eq!(other.body["warnings"], json!([]));
}

#[tokio::test]
async fn out_of_scope_records_are_404_for_every_role() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "N1", "NB.CB", "1994-01-10").await;
    rate(&app, &admin, "N1", 2024, "good", json!({}))
        .await
        .expect(201);
    rate_org(&app, &admin, "NB.CB", 2024, "good", json!({}))
        .await
        .expect(201);
    let on_member = discipline_member(&app, &admin, "N1", "reprimand", "2025-03-01", None).await;
    let on_org = discipline(
        &app,
        &admin,
        action("organization", "NB.CB", "reprimand", "9", "2025-03-01"),
    )
    .await;
    on_org.expect(201);
    let on_org = text(&on_org.body["id"]);
    let insignia = award(&app, &admin, "N1", 30, "2024-09-02", json!({})).await;
    insignia.expect(201);
    let insignia = text(&insignia.body["id"]);
    app.post(
        TARGETS,
        &admin,
        json!({"organization_code": "NB.CB", "year": 2025, "target": 3}),
    )
    .await
    .expect(201);

    let tokens = [
        clerk(&app, "c", "VT").await,
        inspector(&app, "i", "VT").await,
        auditor(&app, "a", "VT").await,
    ];
    for token in &tokens {
        for path in [
            "/api/v1/ratings/members/N1/2024".to_string(),
            "/api/v1/ratings/organizations/NB.CB/2024".to_string(),
            format!("{ACTIONS}/{on_member}"),
            format!("{ACTIONS}/{on_org}"),
            format!("{AWARDS}/{insignia}"),
            "/api/v1/admission-targets/NB.CB/2025".to_string(),
        ] {
            app.get(&path, token).await.expect_problem(404, None);
        }
        for path in [MEMBER_RATINGS, ORG_RATINGS, ACTIONS, AWARDS, TARGETS] {
            let list = app.get(path, token).await;
            list.expect(200);
            assert_eq!(list.body["items"], json!([]), "{path}");
        }
    }
}

#[tokio::test]
async fn a_member_is_official_from_the_day_of_recognition_for_discipline() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    // Ceremony on the admission day, official on 2016-05-19.
    member(&app, &admin, "F", "VT.P1.A", "2015-05-19").await;
    expect_rule(
        &discipline(
            &app,
            &admin,
            action("member", "F", "expulsion", "1", "2016-05-18"),
        )
        .await,
        "discipline.probationary_member_form",
        "form",
    );
    discipline(
        &app,
        &admin,
        action("member", "F", "expulsion", "1", "2016-05-19"),
    )
    .await
    .expect(201);
    assert_eq!(get_member(&app, &admin, "F").await["left_on"], "2016-05-19");
}

#[tokio::test]
async fn batch_years_are_checked_like_single_ones() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    province(&app, &admin).await;
    member(&app, &admin, "HG-0001", "VT.P1.A", "2015-05-19").await;
    for year in [1999, 2101] {
        let answer = app
            .post(
                &format!("{MEMBER_RATINGS}/batch"),
                &admin,
                json!({"year": year, "ratings": [{"profile_number": "HG-0001", "level": "good"}]}),
            )
            .await;
        expect_invalid(&answer, "year");
    }
    app.post(
        &format!("{MEMBER_RATINGS}/batch"),
        &admin,
        json!({"year": "2024", "ratings": [{"profile_number": "HG-0001", "level": "good"}]}),
    )
    .await
    .expect_problem(400, None);
    app.post(
        &format!("{MEMBER_RATINGS}/batch"),
        &admin,
        json!({"year": 2024, "ratings": [{"profile_number": "HG-0001", "level": "good"}], "note": "x"}),
    )
    .await
    .expect_problem(400, None);
    let list = app.get(MEMBER_RATINGS, &admin).await;
    assert_eq!(list.body["items"], json!([]));
}
