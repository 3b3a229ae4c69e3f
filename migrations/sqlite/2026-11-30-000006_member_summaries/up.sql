-- Yearly summaries (số liệu tổng hợp theo năm) of the annual report's member figures, kept
-- exact by the transactions that change the records (src/store/summaries.rs): the annual
-- report of a year inside the window sums a few rows per organisation instead of reading every
-- membership (issue 10, BENCHMARKS.md). What one member adds is src/domain/summary.rs.

-- No foreign key to organizations: the rows are derived from records that have theirs, are
-- rebuilt by `party-records summaries`, and a national import adds about four million of them,
-- each of which would check its organisation again.

-- The years kept. A database that already holds members gets an empty window (first > last):
-- its reports are counted from the records until `party-records summaries` builds them.
CREATE TABLE summary_window (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    first_year INTEGER NOT NULL,
    last_year INTEGER NOT NULL
);
INSERT INTO summary_window (id, first_year, last_year)
SELECT 1, 2018, 2030 WHERE NOT EXISTS (SELECT 1 FROM members);
INSERT INTO summary_window (id, first_year, last_year)
SELECT 1, 1, 0 WHERE EXISTS (SELECT 1 FROM members);

-- An organisation's roll at the end of a year: official memberships holding on 31 December,
-- of them probationary and exempt, and by that year's rating level.
CREATE TABLE member_year_summaries (
    organization_id BIGINT NOT NULL,
    year INTEGER NOT NULL,
    members BIGINT NOT NULL,
    probationary BIGINT NOT NULL,
    exempt BIGINT NOT NULL,
    excellent BIGINT NOT NULL,
    good BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    not_completed BIGINT NOT NULL,
    rated_exempt BIGINT NOT NULL,
    PRIMARY KEY (organization_id, year)
) WITHOUT ROWID;

-- Admissions (kết nạp) of a year, where and on the day the first official membership began
-- (the report counts them under the subtree of that day).
CREATE TABLE admission_summaries (
    organization_id BIGINT NOT NULL,
    year INTEGER NOT NULL,
    since DATE NOT NULL,
    admitted BIGINT NOT NULL,
    PRIMARY KEY (organization_id, year, since)
) WITHOUT ROWID;
