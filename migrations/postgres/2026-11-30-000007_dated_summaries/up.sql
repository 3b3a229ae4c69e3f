-- Members' disciplinary decisions (kỷ luật đảng viên) and Party insignia (Huy hiệu Đảng) per
-- organisation and day, kept exact by the transactions that change the records, like the
-- yearly summaries of 2026-11-30-000006 (src/store/summaries.rs): a report sums a few rows
-- per organisation instead of joining every decision and award of the subtree to the
-- membership of its day (issue 10, BENCHMARKS.md). What one member adds is
-- src/domain/summary.rs. Organisations' own decisions are few and counted from the records.

-- A database that already holds decisions or awards of members counts them from the records
-- until `party-records summaries` builds these rows: its window is emptied, as 000006 does
-- for a database that already holds members.
UPDATE summary_window SET first_year = 1, last_year = 0
WHERE EXISTS (SELECT 1 FROM disciplinary_actions WHERE member_id IS NOT NULL)
   OR EXISTS (SELECT 1 FROM insignia_awards);

-- Decisions that stand (not annulled), in the form in force, where the member's official
-- membership of the day was.
CREATE TABLE discipline_summaries (
    organization_id BIGINT NOT NULL,
    decided_on DATE NOT NULL,
    form TEXT NOT NULL,
    members BIGINT NOT NULL,
    PRIMARY KEY (organization_id, decided_on, form)
);

-- Insignia held (not returned), where the member's official membership of the day was.
CREATE TABLE insignia_summaries (
    organization_id BIGINT NOT NULL,
    awarded_on DATE NOT NULL,
    tier INTEGER NOT NULL,
    posthumous BOOLEAN NOT NULL,
    early BOOLEAN NOT NULL,
    awards BIGINT NOT NULL,
    PRIMARY KEY (organization_id, awarded_on, tier, posthumous, early)
);
