//! Yearly summaries (số liệu tổng hợp theo năm): what one member adds to the annual report's
//! member figures, per organisation and year.
//!
//! The report counts, over a subtree, the official memberships that hold at the end of a year
//! (the roll: all, probationary, exempt, and by that year's rating level), the admissions
//! of a year (where the first official membership began), and the members' disciplinary
//! decisions (kỷ luật đảng viên) and Party insignia (Huy hiệu Đảng) of a year, each where the
//! member's official membership stood on its day. Summed per organisation and year (and day,
//! for decisions and awards), those counts are kept in four tables by the transactions that
//! change the records
//! (`store::summaries`), so a report reads a few rows per organisation instead of every
//! membership (issue 10). A write computes a member's [`Tally`] before and after it and adds
//! the difference; [`Tally::of_member`] is the one definition of what a member contributes, and
//! `store::stats` counts the same things from the records for years outside the
//! [`Window`] — a test holds the two equal.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use super::discipline::Form;
use super::rating::{year_end, Level};

/// The years kept in summaries, both ends included. Reports of other years are counted from
/// the records. Empty when `first > last` (a database that had records before summaries
/// existed, until `party-records summaries` builds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first: i32,
    pub last: i32,
}

impl Window {
    pub fn contains(&self, year: i32) -> bool {
        self.first <= year && year <= self.last
    }

    pub fn is_empty(&self) -> bool {
        self.first > self.last
    }

    pub fn years(&self) -> std::ops::RangeInclusive<i32> {
        self.first..=self.last
    }
}

/// The window a new database starts with (migration `2026-11-30-000006_member_summaries`
/// seeds the same years), and the default of `party-records summaries`: the rating years of
/// the current rules and the report years a province is asked about, with room ahead.
pub const DEFAULT_WINDOW: Window = Window {
    first: 2018,
    last: 2030,
};

/// An official membership (sinh hoạt đảng chính thức): where and from when, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub organization_id: i64,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Span {
    fn holds(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|to| to > day)
    }
}

/// The organisations a member's dated record (a decision, an award) counts under: those of
/// the official memberships that began last on or before `day` — the one that holds on the
/// day, or for a member no longer on the roll the last one before it. None before the first
/// membership. (`store::stats` joins the records to the memberships the same way.)
pub fn organizations_on(spans: &[Span], day: NaiveDate) -> impl Iterator<Item = i64> + '_ {
    let last = spans.iter().map(|s| s.from).filter(|f| *f <= day).max();
    spans
        .iter()
        .filter(move |s| Some(s.from) == last)
        .map(|s| s.organization_id)
}

/// A Party insignia award (Huy hiệu Đảng) as the report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Award {
    pub awarded_on: NaiveDate,
    /// Years of membership the insignia marks (30, 40, … 90).
    pub tier: i32,
    pub posthumous: bool,
    pub early: bool,
}

/// What the summaries depend on of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    pub admitted_on: NaiveDate,
    pub official_on: Option<NaiveDate>,
    pub spans: Vec<Span>,
    /// Exemptions (miễn công tác và sinh hoạt đảng): from, until.
    pub exemptions: Vec<(NaiveDate, Option<NaiveDate>)>,
    /// Ratings: year, level.
    pub ratings: Vec<(i32, Level)>,
    /// Disciplinary decisions that stand (not annulled on appeal): day, form in force (the
    /// reduced one after an appeal).
    pub decisions: Vec<(NaiveDate, Form)>,
    /// Insignia held (not returned).
    pub awards: Vec<Award>,
}

/// The counts of one organisation's roll at the end of one year.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct YearCounts {
    pub members: i64,
    pub probationary: i64,
    pub exempt: i64,
    pub excellent: i64,
    pub good: i64,
    pub completed: i64,
    pub not_completed: i64,
    pub rated_exempt: i64,
}

impl YearCounts {
    pub fn as_array(&self) -> [i64; 8] {
        [
            self.members,
            self.probationary,
            self.exempt,
            self.excellent,
            self.good,
            self.completed,
            self.not_completed,
            self.rated_exempt,
        ]
    }

    fn add(&mut self, other: &YearCounts, sign: i64) {
        self.members += sign * other.members;
        self.probationary += sign * other.probationary;
        self.exempt += sign * other.exempt;
        self.excellent += sign * other.excellent;
        self.good += sign * other.good;
        self.completed += sign * other.completed;
        self.not_completed += sign * other.not_completed;
        self.rated_exempt += sign * other.rated_exempt;
    }

    fn is_zero(&self) -> bool {
        self.as_array().iter().all(|n| *n == 0)
    }

    /// The counter of a rating level (`not_rated` has none: it is neither rated nor exempt).
    fn level_mut(&mut self, level: Level) -> Option<&mut i64> {
        match level {
            Level::Excellent => Some(&mut self.excellent),
            Level::Good => Some(&mut self.good),
            Level::Completed => Some(&mut self.completed),
            Level::NotCompleted => Some(&mut self.not_completed),
            Level::Exempt => Some(&mut self.rated_exempt),
            Level::NotRated => None,
        }
    }
}

/// Summary counts of some members, or a change to them: per (organisation, year) the roll at
/// the year's end, per (organisation, year of admission, day the first membership began)
/// the admissions, per (organisation, day, form) the decisions and per (organisation, award)
/// the insignia.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub years: BTreeMap<(i64, i32), YearCounts>,
    pub admissions: BTreeMap<(i64, i32, NaiveDate), i64>,
    pub decisions: BTreeMap<(i64, NaiveDate, Form), i64>,
    pub awards: BTreeMap<(i64, Award), i64>,
}

impl Tally {
    /// Adds what one member contributes to the years of `window`: each official membership
    /// that holds on 31 December counts once on its organisation's roll, as probationary
    /// while the member is not yet official on that day, as exempt while an exemption holds,
    /// and at its level of that year's rating; the membership that began first counts as the
    /// admission of the year the member was admitted (kết nạp).
    pub fn add_member(&mut self, facts: &MemberFacts, window: Window) {
        for year in window.years() {
            let end = year_end(year);
            for span in facts.spans.iter().filter(|s| s.holds(end)) {
                let counts = self.years.entry((span.organization_id, year)).or_default();
                counts.members += 1;
                if facts.official_on.is_none_or(|o| o > end) {
                    counts.probationary += 1;
                }
                if facts
                    .exemptions
                    .iter()
                    .any(|(from, to)| *from <= end && to.is_none_or(|t| t > end))
                {
                    counts.exempt += 1;
                }
            }
        }
        for (year, level) in &facts.ratings {
            self.add_rating(&facts.spans, *year, *level, 1, window);
        }
        for (day, form) in &facts.decisions {
            self.add_decision(&facts.spans, *day, *form, 1, window);
        }
        for award in &facts.awards {
            self.add_award(&facts.spans, *award, 1, window);
        }
        let admitted = facts.admitted_on.year();
        if window.contains(admitted) {
            if let Some(first) = facts.spans.iter().map(|s| s.from).min() {
                for span in facts.spans.iter().filter(|s| s.from == first) {
                    *self
                        .admissions
                        .entry((span.organization_id, admitted, first))
                        .or_default() += 1;
                }
            }
        }
    }

    /// Adds (`sign` 1) or takes away (-1) one rating of a member whose official memberships are
    /// `spans`: it counts at its level where the member is on the roll at the year's end.
    pub fn add_rating(
        &mut self,
        spans: &[Span],
        year: i32,
        level: Level,
        sign: i64,
        window: Window,
    ) {
        if !window.contains(year) {
            return;
        }
        let end = year_end(year);
        for span in spans.iter().filter(|s| s.holds(end)) {
            let counts = self.years.entry((span.organization_id, year)).or_default();
            if let Some(n) = counts.level_mut(level) {
                *n += sign;
            }
        }
    }

    /// Adds (`sign` 1) or takes away (-1) one disciplinary decision of a member whose official
    /// memberships are `spans`, in force in `form`, under the organisations of its day.
    pub fn add_decision(
        &mut self,
        spans: &[Span],
        day: NaiveDate,
        form: Form,
        sign: i64,
        window: Window,
    ) {
        if !window.contains(day.year()) {
            return;
        }
        for org in organizations_on(spans, day) {
            *self.decisions.entry((org, day, form)).or_default() += sign;
        }
    }

    /// Adds (`sign` 1) or takes away (-1) one insignia award of a member whose official
    /// memberships are `spans`, under the organisations of its day.
    pub fn add_award(&mut self, spans: &[Span], award: Award, sign: i64, window: Window) {
        if !window.contains(award.awarded_on.year()) {
            return;
        }
        for org in organizations_on(spans, award.awarded_on) {
            *self.awards.entry((org, award)).or_default() += sign;
        }
    }

    /// Adds `other` times `sign` (1 or -1).
    pub fn add(&mut self, other: &Tally, sign: i64) {
        for (key, counts) in &other.years {
            self.years.entry(*key).or_default().add(counts, sign);
        }
        for (key, n) in &other.admissions {
            *self.admissions.entry(*key).or_default() += sign * n;
        }
        for (key, n) in &other.decisions {
            *self.decisions.entry(*key).or_default() += sign * n;
        }
        for (key, n) in &other.awards {
            *self.awards.entry(*key).or_default() += sign * n;
        }
    }

    /// `after` less `before`, without the entries that did not change.
    pub fn change(before: &Tally, after: &Tally) -> Tally {
        let mut change = after.clone();
        change.add(before, -1);
        change.years.retain(|_, c| !c.is_zero());
        change.admissions.retain(|_, n| *n != 0);
        change.decisions.retain(|_, n| *n != 0);
        change.awards.retain(|_, n| *n != 0);
        change
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries held: what bounds a batch's memory (`store::summaries::Batch`).
    pub fn len(&self) -> usize {
        self.years.len() + self.admissions.len() + self.decisions.len() + self.awards.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const WINDOW: Window = Window {
        first: 2022,
        last: 2024,
    };

    fn member() -> MemberFacts {
        MemberFacts {
            admitted_on: d("2022-03-01"),
            official_on: Some(d("2023-03-01")),
            spans: vec![
                Span {
                    organization_id: 1,
                    from: d("2022-03-01"),
                    to: Some(d("2023-06-01")),
                },
                Span {
                    organization_id: 2,
                    from: d("2023-06-01"),
                    to: None,
                },
            ],
            exemptions: vec![(d("2024-01-01"), None)],
            ratings: vec![
                (2023, Level::Good),
                (2024, Level::Exempt),
                (2021, Level::Good),
            ],
            decisions: vec![(d("2023-05-10"), Form::Warning)],
            awards: vec![Award {
                awarded_on: d("2023-09-02"),
                tier: 30,
                posthumous: false,
                early: true,
            }],
        }
    }

    #[test]
    fn a_member_counts_where_and_as_what_they_are_at_each_year_end() {
        let mut t = Tally::default();
        t.add_member(&member(), WINDOW);
        let at = |org, year| t.years.get(&(org, year)).copied().unwrap_or_default();
        assert_eq!(
            at(1, 2022),
            YearCounts {
                members: 1,
                probationary: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            at(1, 2023),
            YearCounts::default(),
            "transferred out in 2023"
        );
        assert_eq!(
            at(2, 2023),
            YearCounts {
                members: 1,
                good: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            at(2, 2024),
            YearCounts {
                members: 1,
                exempt: 1,
                rated_exempt: 1,
                ..Default::default()
            }
        );
        assert!(
            !t.years.keys().any(|(_, y)| *y == 2021),
            "outside the window"
        );
        assert_eq!(
            t.admissions.into_iter().collect::<Vec<_>>(),
            vec![((1, 2022, d("2022-03-01")), 1)]
        );
    }

    #[test]
    fn a_member_off_the_roll_at_the_year_end_counts_nowhere_that_year() {
        let mut facts = member();
        facts.spans[1].to = Some(d("2024-12-31"));
        let mut t = Tally::default();
        t.add_member(&facts, WINDOW);
        assert!(!t.years.contains_key(&(2, 2024)), "left on 31 December");
        assert!(t.years.contains_key(&(2, 2023)));
    }

    #[test]
    fn a_change_is_the_difference_and_drops_what_did_not_move() {
        let before = member();
        let mut after = member();
        after.ratings[0].1 = Level::Excellent;
        let (mut a, mut b) = (Tally::default(), Tally::default());
        b.add_member(&before, WINDOW);
        a.add_member(&after, WINDOW);
        let change = Tally::change(&b, &a);
        assert_eq!(change.years.len(), 1);
        assert_eq!(
            change.years[&(2, 2023)],
            YearCounts {
                excellent: 1,
                good: -1,
                ..Default::default()
            }
        );
        assert!(change.admissions.is_empty());
        assert!(Tally::change(&a, &a).is_empty());
    }

    #[test]
    fn a_rating_alone_is_what_it_adds_to_the_whole_member() {
        let mut facts = member();
        let mut without = Tally::default();
        without.add_member(&facts, WINDOW);
        facts.ratings.push((2022, Level::NotCompleted));
        let mut with = Tally::default();
        with.add_member(&facts, WINDOW);
        let mut by_rating = Tally::default();
        by_rating.add_rating(&facts.spans, 2022, Level::NotCompleted, 1, WINDOW);
        assert_eq!(Tally::change(&without, &with), by_rating);
    }

    #[test]
    fn an_empty_window_keeps_nothing() {
        let empty = Window { first: 1, last: 0 };
        assert!(empty.is_empty());
        let mut t = Tally::default();
        t.add_member(&member(), empty);
        assert!(t.is_empty());
    }

    #[test]
    fn a_dated_record_counts_under_the_membership_that_began_last_by_its_day() {
        let spans = member().spans;
        let on = |day: &str| organizations_on(&spans, d(day)).collect::<Vec<_>>();
        assert_eq!(on("2023-05-31"), [1]);
        assert_eq!(on("2023-06-01"), [2], "the transfer's own day");
        assert_eq!(
            on("2022-02-28"),
            Vec::<i64>::new(),
            "before the first membership"
        );
        let mut left = spans.clone();
        left[1].to = Some(d("2024-01-01"));
        assert_eq!(
            organizations_on(&left, d("2024-06-01")).collect::<Vec<_>>(),
            [2],
            "off the roll: the last membership before the day"
        );
    }

    #[test]
    fn decisions_and_awards_count_where_the_member_stood_that_day() {
        let mut t = Tally::default();
        t.add_member(&member(), WINDOW);
        assert_eq!(
            t.decisions.into_iter().collect::<Vec<_>>(),
            [((1, d("2023-05-10"), Form::Warning), 1)]
        );
        let award = member().awards[0];
        assert_eq!(t.awards.into_iter().collect::<Vec<_>>(), [((2, award), 1)]);
    }

    #[test]
    fn a_transfer_back_dated_before_a_decision_moves_the_decision() {
        let before = member();
        let mut after = member();
        after.spans[0].to = Some(d("2023-05-01"));
        after.spans[1].from = d("2023-05-01");
        let (mut b, mut a) = (Tally::default(), Tally::default());
        b.add_member(&before, WINDOW);
        a.add_member(&after, WINDOW);
        let change = Tally::change(&b, &a);
        assert_eq!(
            change.decisions.into_iter().collect::<Vec<_>>(),
            [
                ((1, d("2023-05-10"), Form::Warning), -1),
                ((2, d("2023-05-10"), Form::Warning), 1)
            ]
        );
        assert!(change.awards.is_empty(), "the award's day did not move");
    }

    #[test]
    fn decisions_and_awards_outside_the_window_are_not_kept() {
        let mut facts = member();
        facts.decisions = vec![(d("2021-12-31"), Form::Reprimand)];
        facts.awards[0].awarded_on = d("2025-01-01");
        let mut t = Tally::default();
        t.add_member(&facts, WINDOW);
        assert!(t.decisions.is_empty() && t.awards.is_empty());
    }
}
