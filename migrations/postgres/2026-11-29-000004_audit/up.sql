-- The audit trail (nhật ký kiểm tra): one row per write, each row's hash covering its content
-- and the previous row's hash (src/domain/audit.rs), so that an edited, deleted or reordered
-- row is detectable. Ids are numbered by the chain itself (no identity): 1, 2, 3…
CREATE TABLE audit_events (
    id BIGINT PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    -- Who: the user (and the API key, when one was used), by id and by name at the time.
    user_id BIGINT,
    api_key_id BIGINT,
    actor TEXT NOT NULL,
    -- From where: the client's address and the request id of the access log.
    ip TEXT,
    request_id TEXT,
    -- What: the kind of record, its natural key, the action.
    entity TEXT NOT NULL,
    record_key TEXT NOT NULL,
    action TEXT NOT NULL,
    -- The organisation the record belonged to (auditors see the events of their subtree).
    organization_code TEXT,
    -- The record before and after, as JSON, personal identifiers masked or left out.
    before_json TEXT,
    after_json TEXT,
    override_reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_record_idx ON audit_events (entity, record_key, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- The chain's head: the last event's id and hash. Appending locks this one row (PostgreSQL),
-- so that events are chained one at a time; verifying compares it with the last event, so a
-- deleted tail is detectable too.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
