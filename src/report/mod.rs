//! The annual party-building report (báo cáo công tác xây dựng Đảng): the statistics of one
//! year as JSON, as Vietnamese text in the report's own style, and as CSV (one row a figure).

use serde::Serialize;

use crate::domain::figures::{vi_count, vi_percent};
use crate::store::stats::{Admissions, Discipline, Insignia, RatingTable, Ratings, Structure};

#[derive(Debug, Clone, Serialize)]
pub struct AnnualReport {
    /// The root's code; none for the whole party (`stats::Scope::Whole`).
    pub organization: Option<String>,
    pub organization_name: String,
    pub year: i32,
    pub rating_year: i32,
    pub structure: Structure,
    pub ratings: Ratings,
    pub admissions: Admissions,
    pub discipline: Discipline,
    pub insignia: Insignia,
}

fn pct(p: &Option<String>) -> String {
    vi_percent(p)
}

fn rating_sentence(what: &str, t: &RatingTable) -> String {
    let mut s = format!(
        "{what}: đã đánh giá, xếp loại {}/{}, đạt {}",
        vi_count(t.rated),
        vi_count(t.total),
        pct(&t.rated_percent)
    );
    if let Some(exempt) = t.exempt {
        s.push_str(&format!("; miễn đánh giá, xếp loại {}", vi_count(exempt)));
    }
    s.push_str(&format!(
        "; chưa đánh giá, xếp loại {}. Trong đó: hoàn thành xuất sắc nhiệm vụ {}, chiếm {}; hoàn thành tốt \
         nhiệm vụ {}, chiếm {}; hoàn thành nhiệm vụ {}, chiếm {}; không hoàn thành nhiệm vụ {}, chiếm {}.",
        vi_count(t.not_rated),
        vi_count(t.excellent.count),
        pct(&t.excellent.percent),
        vi_count(t.good.count),
        pct(&t.good.percent),
        vi_count(t.completed.count),
        pct(&t.completed.percent),
        vi_count(t.not_completed.count),
        pct(&t.not_completed.percent),
    ));
    s
}

/// Vietnamese text, one paragraph per topic, in the report's number format.
pub fn text(r: &AnnualReport) -> String {
    let s = &r.structure;
    let o = &s.organizations;
    let mut out = format!(
        "{} — số liệu công tác xây dựng Đảng năm {}\n\n",
        r.organization_name, r.year
    );
    out.push_str(&format!(
        "1. Tổ chức bộ máy (đến {}): {} đảng đoàn, {} ban cán sự đảng, {} tổ chức khác; {} đảng bộ trực thuộc; \
         {} tổ chức cơ sở đảng (gồm {} đảng bộ cơ sở và {} chi bộ cơ sở); {} đảng bộ bộ phận; {} chi bộ trực thuộc \
         đảng ủy cơ sở; {} đảng viên (trong đó {} đảng viên dự bị, {} đảng viên được miễn công tác và sinh hoạt đảng).\n\n",
        s.on.format("%d/%m/%Y"),
        vi_count(o["party_delegation"]),
        vi_count(o["party_affairs_committee"]),
        vi_count(o["other_body"]),
        vi_count(o["subordinate_committee"]),
        vi_count(s.grassroots_organizations),
        vi_count(o["grassroots_committee"]),
        vi_count(o["grassroots_branch"]),
        vi_count(o["partial_committee"]),
        vi_count(o["sub_branch"]),
        vi_count(s.members),
        vi_count(s.probationary_members),
        vi_count(s.exempt_members),
    ));
    out.push_str(&format!(
        "2. Kết quả đánh giá, xếp loại chất lượng năm {}:\n",
        r.rating_year
    ));
    out.push_str(&format!(
        "- {}\n",
        rating_sentence("Tổ chức cơ sở đảng", &r.ratings.grassroots_organizations)
    ));
    out.push_str(&format!(
        "- {}\n",
        rating_sentence("Chi bộ trực thuộc đảng ủy cơ sở", &r.ratings.sub_branches)
    ));
    out.push_str(&format!(
        "- {}\n\n",
        rating_sentence("Đảng viên", &r.ratings.members)
    ));
    let a = &r.admissions;
    out.push_str(&format!(
        "3. Kết nạp đảng viên: năm {} kết nạp {} đảng viên{}; tổng số đảng viên đến {} là {}.\n\n",
        r.year,
        vi_count(a.admitted),
        match a.target {
            Some(t) => format!(
                ", đạt {} chỉ tiêu kế hoạch ({}/{})",
                pct(&a.target_percent),
                vi_count(a.admitted),
                vi_count(t)
            ),
            None => String::new(),
        },
        a.members_on.date.format("%d/%m/%Y"),
        vi_count(a.members_on.count),
    ));
    let d = &r.discipline;
    let m = &d.members;
    let change = if m.change >= 0 {
        format!("tăng {}", vi_count(m.change))
    } else {
        format!("giảm {}", vi_count(-m.change))
    };
    out.push_str(&format!(
        "4. Thi hành kỷ luật: thi hành kỷ luật {} đảng viên ({} so cùng kỳ), gồm khiển trách {}, cảnh cáo {}, \
         cách chức {}, khai trừ {}; kỷ luật {} tổ chức đảng (khiển trách {}, cảnh cáo {}, giải tán {}).\n\n",
        vi_count(m.total),
        change,
        vi_count(m.forms["reprimand"]),
        vi_count(m.forms["warning"]),
        vi_count(m.forms["dismissal"]),
        vi_count(m.forms["expulsion"]),
        vi_count(d.organizations.total),
        vi_count(d.organizations.forms["reprimand"]),
        vi_count(d.organizations.forms["warning"]),
        vi_count(d.organizations.forms["dissolution"]),
    ));
    let i = &r.insignia;
    let tiers: Vec<String> = i
        .tiers
        .iter()
        .map(|t| format!("{} huy hiệu {} năm", vi_count(t.total), t.tier))
        .collect();
    let batches: Vec<String> = i
        .batches
        .iter()
        .map(|b| b.awarded_on.format("%-d/%-m").to_string())
        .collect();
    out.push_str(&format!(
        "5. Trao tặng Huy hiệu Đảng: năm {} trao tặng {} Huy hiệu Đảng ({}), trong đó truy tặng {}, tặng trước hạn {}; \
         trao vào các đợt {}.\n",
        r.year,
        vi_count(i.total),
        tiers.join(", "),
        vi_count(i.posthumous),
        vi_count(i.early),
        batches.join(", "),
    ));
    out
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// `section,figure,count,of,percent`, one row a figure.
pub fn csv(r: &AnnualReport) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut row =
        |section: &str, figure: &str, count: i64, of: Option<i64>, percent: &Option<String>| {
            rows.push([
                section.to_string(),
                figure.to_string(),
                count.to_string(),
                of.map(|v| v.to_string()).unwrap_or_default(),
                percent.clone().unwrap_or_default(),
            ]);
        };
    let s = &r.structure;
    for (kind, n) in &s.organizations {
        row("structure", kind, *n, None, &None);
    }
    row(
        "structure",
        "grassroots_organizations",
        s.grassroots_organizations,
        None,
        &None,
    );
    row("structure", "members", s.members, None, &None);
    row(
        "structure",
        "probationary_members",
        s.probationary_members,
        None,
        &None,
    );
    row("structure", "exempt_members", s.exempt_members, None, &None);
    for (section, t) in [
        (
            "ratings.grassroots_organizations",
            &r.ratings.grassroots_organizations,
        ),
        ("ratings.sub_branches", &r.ratings.sub_branches),
        ("ratings.members", &r.ratings.members),
    ] {
        row(section, "total", t.total, None, &None);
        row(section, "rated", t.rated, Some(t.total), &t.rated_percent);
        if let Some(exempt) = t.exempt {
            row(section, "exempt", exempt, None, &None);
        }
        row(section, "not_rated", t.not_rated, None, &None);
        for (name, f) in [
            ("excellent", &t.excellent),
            ("good", &t.good),
            ("completed", &t.completed),
            ("not_completed", &t.not_completed),
        ] {
            row(section, name, f.count, Some(t.rated), &f.percent);
        }
        row(
            section,
            "excellent_of_good",
            t.excellent.count,
            Some(t.good.count),
            &t.excellent_quota.actual_percent,
        );
    }
    let a = &r.admissions;
    row(
        "admissions",
        "admitted",
        a.admitted,
        a.target,
        &a.target_percent,
    );
    row(
        "admissions",
        "members_at_year_end",
        a.members_on.count,
        None,
        &None,
    );
    for (section, f) in [
        ("discipline.members", &r.discipline.members),
        ("discipline.organizations", &r.discipline.organizations),
    ] {
        row(section, "total", f.total, None, &None);
        for (form, n) in &f.forms {
            row(section, form, *n, None, &None);
        }
        row(
            section,
            "previous_year_total",
            f.previous_year_total,
            None,
            &None,
        );
        row(section, "change", f.change, None, &None);
    }
    let i = &r.insignia;
    row("insignia", "total", i.total, None, &None);
    row("insignia", "posthumous", i.posthumous, None, &None);
    row("insignia", "early", i.early, None, &None);
    for t in &i.tiers {
        row(
            "insignia",
            &format!("tier_{}", t.tier),
            t.total,
            None,
            &None,
        );
        row(
            "insignia",
            &format!("tier_{}_posthumous", t.tier),
            t.posthumous,
            None,
            &None,
        );
        row(
            "insignia",
            &format!("tier_{}_early", t.tier),
            t.early,
            None,
            &None,
        );
    }
    for b in &i.batches {
        row(
            "insignia",
            &format!("batch_{}", b.awarded_on),
            b.total,
            None,
            &None,
        );
    }
    let mut out = String::from("section,figure,count,of,percent\n");
    for r in rows {
        out.push_str(&r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
