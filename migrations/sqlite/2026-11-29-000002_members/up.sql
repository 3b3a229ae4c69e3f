-- The member register: members, their memberships over time, exemptions, periods that do not
-- count toward party age, positions, and the history of every change.
-- Same tables, columns, constraints and indexes as migrations/postgres.

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    profile_number TEXT NOT NULL,
    card_number TEXT,
    full_name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    gender TEXT NOT NULL CHECK (gender IN ('male', 'female')),
    born_on DATE NOT NULL,
    ethnicity TEXT,
    religion TEXT,
    national_id TEXT,
    -- The current official membership's organisation, or the last one for members who left:
    -- where the member is counted and who may see them (kept with memberships by the store).
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    admitted_on DATE NOT NULL,
    ceremony_on DATE,
    official_on DATE,
    left_on DATE,
    leave_reason TEXT CHECK (leave_reason IN ('deceased', 'transferred_out', 'removed', 'expelled')),
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT members_profile_number_key UNIQUE (profile_number),
    CONSTRAINT members_card_number_key UNIQUE (card_number),
    CONSTRAINT members_leave_check CHECK ((left_on IS NULL) = (leave_reason IS NULL)),
    CONSTRAINT members_dates_check CHECK (born_on < admitted_on AND (ceremony_on IS NULL OR ceremony_on >= admitted_on))
);
-- Covers the list walk: name order, the name search and the scope probe read the index only.
CREATE INDEX members_sort_idx ON members (sort_key, id, search_name, organization_id);
CREATE INDEX members_organization_idx ON members (organization_id);

CREATE TABLE memberships (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL CHECK (kind IN ('official', 'temporary')),
    valid_from DATE NOT NULL,
    valid_to DATE,
    CONSTRAINT memberships_period_check CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX memberships_member_idx ON memberships (member_id, valid_from);
CREATE INDEX memberships_organization_idx ON memberships (organization_id, valid_from);
-- At most one open official membership per member, whatever writers race.
CREATE UNIQUE INDEX memberships_one_open_official ON memberships (member_id) WHERE kind = 'official' AND valid_to IS NULL;

CREATE TABLE member_exemptions (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    starts_on DATE NOT NULL,
    ends_on DATE,
    reason TEXT,
    CONSTRAINT member_exemptions_period_check CHECK (ends_on IS NULL OR ends_on > starts_on)
);
CREATE INDEX member_exemptions_member_idx ON member_exemptions (member_id, starts_on);

CREATE TABLE party_age_gaps (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    reason TEXT NOT NULL CHECK (reason IN ('expelled', 'removed', 'lost_contact', 'transfer_gap')),
    starts_on DATE NOT NULL,
    -- Open while it lasts: an expulsion's gap ends only if the member is readmitted.
    ends_on DATE,
    note TEXT,
    CONSTRAINT party_age_gaps_period_check CHECK (ends_on IS NULL OR ends_on > starts_on)
);
CREATE INDEX party_age_gaps_member_idx ON party_age_gaps (member_id, starts_on);

CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    title TEXT NOT NULL,
    organization_id BIGINT REFERENCES organizations (id),
    starts_on DATE NOT NULL,
    ends_on DATE,
    CONSTRAINT positions_key UNIQUE (member_id, title, starts_on),
    CONSTRAINT positions_period_check CHECK (ends_on IS NULL OR ends_on > starts_on)
);

-- Every change to a member, in the order it happened: what the history endpoint shows.
CREATE TABLE member_events (
    id INTEGER PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    occurred_on DATE NOT NULL,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    recorded_by TEXT
);
CREATE INDEX member_events_member_idx ON member_events (member_id, occurred_on, id);
