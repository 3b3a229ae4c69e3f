//! The audit trail (nhật ký): appending an event in the caller's transaction, listing events
//! within a scope, verifying the chain. The chain's arithmetic is in `domain::audit`; this
//! module only reads and writes rows. It never decides *whether* a write is audited: every
//! write path hands its [`Change`] to [`append`] (the API through `AppState::write`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Visibility;
use crate::db::schema::{audit_events as ev, audit_head as head, members, organizations as orgs};
use crate::db::{DbConn, MultiBackend};
use crate::domain::audit::{self as chain, Break, Content, Walker};
use crate::error::Result;
use crate::store::{decode_cursor, far_future, Page};

/// Who made a change and from where: the one context that handlers pass down with a write
/// (`Caller::actor()`), the command line and the sign-in path build their own.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    /// The username at the time (or what a failed sign-in tried, or `command-line`).
    pub name: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// The operator at the console (CLI subcommands that write).
    pub fn command_line() -> Actor {
        Actor {
            name: "command-line".into(),
            ..Actor::default()
        }
    }
}

/// One change to record: which record, what happened, the images before and after.
#[derive(Debug, Clone)]
pub struct Change {
    pub entity: &'static str,
    pub key: String,
    pub action: &'static str,
    pub organization: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub override_reason: Option<String>,
}

fn image(value: &impl Serialize) -> Option<Value> {
    let mut v = serde_json::to_value(value).ok()?;
    chain::mask_personal(&mut v);
    Some(v)
}

impl Change {
    pub fn new(entity: &'static str, key: impl ToString, action: &'static str) -> Change {
        Change {
            entity,
            key: key.to_string(),
            action,
            organization: None,
            before: None,
            after: None,
            override_reason: None,
        }
    }

    /// The record before the change (personal identifiers masked or left out).
    pub fn before(mut self, value: &impl Serialize) -> Change {
        self.before = image(value);
        self
    }

    /// The record after the change, or what the event is about (counts of an import…).
    pub fn after(mut self, value: &impl Serialize) -> Change {
        self.after = image(value);
        self
    }

    /// The administrator's reason for recording a decision that breaks a rule.
    pub fn reason(mut self, reason: Option<String>) -> Change {
        self.override_reason = reason;
        self
    }

    /// The organisation whose subtree's auditors see the event, when the images do not say.
    pub fn organization(mut self, code: Option<String>) -> Change {
        self.organization = code;
        self
    }
}

/// A created record and its event (for `AppState::write`).
pub fn created<T: Serialize>(entity: &'static str, key: impl ToString, value: T) -> (T, Change) {
    let change = Change::new(entity, key, "create").after(&value);
    (value, change)
}

/// A changed record and its event, with the image from before the change.
pub fn changed<B: Serialize, T: Serialize>(
    entity: &'static str,
    key: impl ToString,
    action: &'static str,
    before: &B,
    value: T,
) -> (T, Change) {
    let change = Change::new(entity, key, action)
        .before(before)
        .after(&value);
    (value, change)
}

impl From<Change> for Vec<Change> {
    fn from(c: Change) -> Self {
        vec![c]
    }
}

/// The organisation an event belongs to: named, or read from the images (an organisation
/// code, or the member's current organisation).
fn organization_of(conn: &mut DbConn, c: &Change) -> Result<Option<String>> {
    if c.organization.is_some() {
        return Ok(c.organization.clone());
    }
    if c.entity == "organization" {
        return Ok(Some(c.key.clone()));
    }
    let image = c.after.as_ref().or(c.before.as_ref());
    let field = |name: &str| image.and_then(|v| v.get(name)).and_then(Value::as_str);
    if let Some(code) = field("organization_code") {
        return Ok(Some(code.to_string()));
    }
    let profile = match field("subject_type") {
        Some("organization") => return Ok(field("subject").map(str::to_string)),
        Some(_) => field("subject"),
        None => field("profile_number"),
    };
    let Some(profile) = profile else {
        return Ok(None);
    };
    Ok(members::table
        .inner_join(orgs::table)
        .filter(members::profile_number.eq(profile))
        .select(orgs::code)
        .first::<String>(conn)
        .optional()?)
}

fn timestamp(at: &NaiveDateTime) -> String {
    at.and_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Appends the changes as events, in the caller's (write) transaction. The chain's head is
/// locked first (PostgreSQL; SQLite's write transaction already runs alone), so appends are
/// chained one at a time and a rolled-back write leaves no event.
pub fn append(conn: &mut DbConn, actor: &Actor, changes: Vec<Change>) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    crate::db::lock_row(conn, "audit_head", 1)?;
    let (mut last_id, mut last_hash): (i64, String) = head::table
        .select((head::last_id, head::last_hash))
        .first(conn)?;
    // Both engines keep microseconds; the hash covers what is read back.
    let at = crate::time::now();
    let at = at
        .with_nanosecond(at.nanosecond() / 1000 * 1000)
        .unwrap_or(at);
    for change in changes {
        let organization_code = organization_of(conn, &change)?;
        let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
        let content = Content {
            id: last_id + 1,
            at: timestamp(&at),
            user_id: actor.user_id,
            api_key_id: actor.api_key_id,
            actor: actor.name.clone(),
            ip: actor.ip.clone(),
            request_id: actor.request_id.clone(),
            entity: change.entity.into(),
            record_key: change.key,
            action: change.action.into(),
            organization_code,
            before: text(&change.before),
            after: text(&change.after),
            override_reason: change.override_reason,
        };
        let hash = chain::hash(&content, &last_hash);
        diesel::insert_into(ev::table)
            .values((
                ev::id.eq(content.id),
                ev::at.eq(at),
                ev::user_id.eq(content.user_id),
                ev::api_key_id.eq(content.api_key_id),
                ev::actor.eq(&content.actor),
                ev::ip.eq(&content.ip),
                ev::request_id.eq(&content.request_id),
                ev::entity.eq(&content.entity),
                ev::record_key.eq(&content.record_key),
                ev::action.eq(&content.action),
                ev::organization_code.eq(&content.organization_code),
                ev::before_json.eq(&content.before),
                ev::after_json.eq(&content.after),
                ev::override_reason.eq(&content.override_reason),
                ev::prev_hash.eq(&last_hash),
                ev::hash.eq(&hash),
            ))
            .execute(conn)?;
        last_id = content.id;
        last_hash = hash;
    }
    diesel::update(head::table.filter(head::id.eq(1i64)))
        .set((head::last_id.eq(last_id), head::last_hash.eq(&last_hash)))
        .execute(conn)?;
    Ok(())
}

use chrono::Timelike as _;

type Row = (
    i64,
    NaiveDateTime,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

macro_rules! columns {
    () => {
        (
            ev::id,
            ev::at,
            ev::user_id,
            ev::api_key_id,
            ev::actor,
            ev::ip,
            ev::request_id,
            ev::entity,
            ev::record_key,
            ev::action,
            ev::organization_code,
            ev::before_json,
            ev::after_json,
            ev::override_reason,
            ev::prev_hash,
            ev::hash,
        )
    };
}

fn content(row: Row) -> (Content, String, String) {
    let (id, at, user_id, api_key_id, actor, ip, request_id, entity, record_key, action) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    (
        Content {
            id,
            at: timestamp(&at),
            user_id,
            api_key_id,
            actor,
            ip,
            request_id,
            entity,
            record_key,
            action,
            organization_code: row.10,
            before: row.11,
            after: row.12,
            override_reason: row.13,
        },
        row.14,
        row.15,
    )
}

/// One event as the API shows it.
#[derive(Debug, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub actor: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub entity: String,
    pub key: String,
    pub action: String,
    pub organization_code: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub override_reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

fn view(row: Row) -> Event {
    let (c, prev_hash, hash) = content(row);
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    Event {
        id: c.id,
        at: c.at,
        user_id: c.user_id,
        api_key_id: c.api_key_id,
        actor: c.actor,
        ip: c.ip,
        request_id: c.request_id,
        entity: c.entity,
        key: c.record_key,
        action: c.action,
        organization_code: c.organization_code,
        before: json(c.before),
        after: json(c.after),
        override_reason: c.override_reason,
        prev_hash,
        hash,
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub entity: Option<String>,
    pub key: Option<String>,
    pub user: Option<String>,
    pub action: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Events, newest first. A scoped caller (an auditor) sees the events of records in their
/// subtree, and none about users, keys or sign-ins.
pub fn list(conn: &mut DbConn, vis: Visibility, filter: ListFilter) -> Result<Page<Event>> {
    let mut query = ev::table.select(columns!()).into_boxed::<MultiBackend>();
    if let Visibility::Subtree(scope) = vis {
        let codes = orgs::table
            .select(orgs::code)
            .filter(orgs::id.eq_any(descendants!(scope, 0, i32::MAX, far_future())));
        query = query.filter(ev::organization_code.eq_any(codes.nullable()));
    }
    if let Some(entity) = filter.entity {
        query = query.filter(ev::entity.eq(entity));
    }
    if let Some(key) = filter.key {
        query = query.filter(ev::record_key.eq(key));
    }
    if let Some(user) = filter.user {
        query = query.filter(ev::actor.eq(user));
    }
    if let Some(action) = filter.action {
        query = query.filter(ev::action.eq(action));
    }
    if let Some(from) = filter.from {
        query = query.filter(ev::at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(ev::at.lt(to));
    }
    if let Some(cursor) = &filter.cursor {
        let before: i64 = decode_cursor(cursor)?
            .parse()
            .map_err(|_| decode_cursor("!").unwrap_err())?;
        query = query.filter(ev::id.lt(before));
    }
    let rows: Vec<Row> = query
        .order(ev::id.desc())
        .limit(filter.limit as i64 + 1)
        .load(conn)?;
    Ok(Page::from_rows(
        rows.into_iter().map(view).collect(),
        filter.limit,
        |e: &Event| e.id.to_string(),
    ))
}

/// What a walk of the chain found.
#[derive(Debug, Serialize)]
pub struct Verification {
    pub ok: bool,
    /// Events that verified before the first break (all of them when `ok`).
    pub verified: i64,
    pub last_id: i64,
    pub first_break: Option<Break>,
}

/// Walks the whole chain in id order, a thousand events at a time, and stops at the first
/// break.
pub fn verify(conn: &mut DbConn) -> Result<Verification> {
    const BATCH: i64 = 1000;
    let mut walker = Walker::default();
    let mut verified = 0;
    let mut after = 0i64;
    let outcome = loop {
        let rows: Vec<Row> = ev::table
            .select(columns!())
            .filter(ev::id.gt(after))
            .order(ev::id.asc())
            .limit(BATCH)
            .load(conn)?;
        let done = (rows.len() as i64) < BATCH;
        let mut broken = None;
        for row in rows {
            let (c, prev, hash) = content(row);
            after = c.id;
            if let Err(b) = walker.step(&c, &prev, &hash) {
                broken = Some(b);
                break;
            }
            verified += 1;
        }
        if broken.is_some() {
            break broken;
        }
        if done {
            let (last_id, last_hash): (i64, String) = head::table
                .select((head::last_id, head::last_hash))
                .first(conn)?;
            break walker.finish(last_id, &last_hash).err();
        }
    };
    Ok(Verification {
        ok: outcome.is_none(),
        verified,
        last_id: after,
        first_break: outcome,
    })
}
