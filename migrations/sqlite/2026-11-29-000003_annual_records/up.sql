-- Annual records: quality ratings of members and organisations, party discipline, Party
-- insignia, admission targets. Same tables, columns, constraints and indexes as
-- migrations/postgres.

CREATE TABLE member_ratings (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    year INTEGER NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('excellent', 'good', 'completed', 'not_completed', 'exempt', 'not_rated')),
    score INTEGER CHECK (score BETWEEN 0 AND 100),
    reason TEXT,
    self_corrected BOOLEAN NOT NULL DEFAULT FALSE,
    decided_on DATE,
    override_reason TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT member_ratings_key UNIQUE (member_id, year)
);
CREATE INDEX member_ratings_year_idx ON member_ratings (year, level);

CREATE TABLE organization_ratings (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    year INTEGER NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('excellent', 'good', 'completed', 'not_completed', 'exempt', 'not_rated')),
    score INTEGER CHECK (score BETWEEN 0 AND 100),
    reason TEXT,
    decided_on DATE,
    override_reason TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT organization_ratings_key UNIQUE (organization_id, year)
);
CREATE INDEX organization_ratings_year_idx ON organization_ratings (year, level);

CREATE TABLE disciplinary_actions (
    id INTEGER PRIMARY KEY,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('member', 'organization')),
    member_id BIGINT REFERENCES members (id),
    organization_id BIGINT REFERENCES organizations (id),
    -- 'member:<profile number>' or 'organization:<code>': one key for both kinds of subject.
    subject_key TEXT NOT NULL,
    form TEXT NOT NULL CHECK (form IN ('reprimand', 'warning', 'dismissal', 'expulsion', 'dissolution')),
    decision_number TEXT NOT NULL,
    authority_id BIGINT NOT NULL REFERENCES organizations (id),
    decided_on DATE NOT NULL,
    announced_on DATE,
    violation TEXT,
    regulation_article TEXT,
    especially_serious BOOLEAN NOT NULL DEFAULT FALSE,
    appeal_filed_on DATE,
    appeal_outcome TEXT CHECK (appeal_outcome IN ('upheld', 'reduced', 'annulled')),
    appeal_decided_on DATE,
    reduced_form TEXT CHECK (reduced_form IN ('reprimand', 'warning', 'dismissal')),
    -- When the decision lapses (12 months after its announcement or the appeal's decision);
    -- NULL for expulsion and dissolution. Kept by the store so "in force on a day" is one test.
    expires_on DATE,
    override_reason TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT disciplinary_actions_key UNIQUE (authority_id, decision_number, subject_key),
    CONSTRAINT disciplinary_actions_subject_check CHECK (
        (subject_type = 'member' AND member_id IS NOT NULL AND organization_id IS NULL)
        OR (subject_type = 'organization' AND organization_id IS NOT NULL AND member_id IS NULL))
);
CREATE INDEX disciplinary_actions_decided_idx ON disciplinary_actions (decided_on);
CREATE INDEX disciplinary_actions_member_idx ON disciplinary_actions (member_id);
CREATE INDEX disciplinary_actions_organization_idx ON disciplinary_actions (organization_id);

CREATE TABLE insignia_awards (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    tier INTEGER NOT NULL CHECK (tier IN (30, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90)),
    awarded_on DATE NOT NULL,
    decision_number TEXT,
    posthumous BOOLEAN NOT NULL DEFAULT FALSE,
    early BOOLEAN NOT NULL DEFAULT FALSE,
    -- Returned on leaving the party (an expulsion sets it; annulling the expulsion clears it).
    revoked_on DATE,
    override_reason TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT insignia_awards_key UNIQUE (member_id, tier)
);
CREATE INDEX insignia_awards_awarded_idx ON insignia_awards (awarded_on);

CREATE TABLE admission_targets (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    year INTEGER NOT NULL,
    target INTEGER NOT NULL CHECK (target >= 0),
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT admission_targets_key UNIQUE (organization_id, year)
);
