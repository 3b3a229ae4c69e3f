-- The spine: organisations and their tree over time, users, sessions, refresh tokens, API keys.
-- Same tables, columns, constraints and indexes as migrations/postgres (a test checks parity).
-- Type names mirror PostgreSQL's; ids are INTEGER PRIMARY KEY (SQLite's 64-bit rowid).

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('provincial_committee', 'subordinate_committee',
        'grassroots_committee', 'grassroots_branch', 'partial_committee', 'sub_branch',
        'party_delegation', 'party_affairs_committee', 'other_body')),
    established_on DATE NOT NULL,
    dissolved_on DATE,
    has_branch_committee BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT organizations_code_key UNIQUE (code),
    CONSTRAINT organizations_dates_check CHECK (dissolved_on IS NULL OR dissolved_on > established_on)
);

-- The tree as a closure table with validity periods: one row per (ancestor, descendant) pair
-- for each period in which that pair held, including the organisation itself at depth 0.
-- Depth-1 rows are the parent history. valid_to is exclusive; NULL means "still so".
CREATE TABLE organization_tree (
    ancestor_id BIGINT NOT NULL REFERENCES organizations (id),
    descendant_id BIGINT NOT NULL REFERENCES organizations (id),
    depth INTEGER NOT NULL CHECK (depth >= 0),
    valid_from DATE NOT NULL,
    valid_to DATE,
    PRIMARY KEY (ancestor_id, descendant_id, valid_from),
    CONSTRAINT organization_tree_period_check CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX organization_tree_descendant_idx ON organization_tree (descendant_id, depth, valid_from);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'inspector', 'auditor')),
    scope_id BIGINT REFERENCES organizations (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    token_version BIGINT NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_scope_check CHECK ((role = 'admin' AND scope_id IS NULL) OR (role <> 'admin' AND scope_id IS NOT NULL))
);

-- A session is one sign-in: the family of its rotating refresh tokens and the access tokens
-- issued from them (their `sid` claim). Revoking it ends them all.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    CONSTRAINT refresh_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    CONSTRAINT api_keys_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);
