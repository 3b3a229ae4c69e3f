//! The audit trail's hash chain (chuỗi băm của nhật ký), pure: the canonical form of an event,
//! its hash, a walker that finds the first break, and the masking of personal identifiers in
//! the before/after images. No I/O: `store::audit` reads and writes the rows.
//!
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical(event))`, hex. The canonical form is a JSON
//! array of the event's fields in a fixed order (with a format version first), so an edit of any
//! field, a deleted event (the next one's `prev_hash` no longer matches, and its id leaves a
//! gap) and a reordering are all detected.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Bumped if the canonical form ever changes (old events keep verifying under their version).
const FORMAT: u32 = 1;

/// One event's content: everything its hash covers except the previous hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Content {
    pub id: i64,
    /// RFC 3339 UTC with microseconds (both engines keep microseconds).
    pub at: String,
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub actor: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub entity: String,
    pub record_key: String,
    pub action: String,
    pub organization_code: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub override_reason: Option<String>,
}

/// The canonical serialisation: a JSON array in a fixed field order.
pub fn canonical(c: &Content) -> Vec<u8> {
    serde_json::to_vec(&(
        FORMAT,
        c.id,
        &c.at,
        c.user_id,
        c.api_key_id,
        &c.actor,
        &c.ip,
        &c.request_id,
        &c.entity,
        &c.record_key,
        &c.action,
        &c.organization_code,
        &c.before,
        &c.after,
        &c.override_reason,
    ))
    .expect("plain values serialise")
}

/// The hash of an event that follows `prev_hash`.
pub fn hash(content: &Content, prev_hash: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(prev_hash.as_bytes());
    digest.update(b"\n");
    digest.update(canonical(content));
    hex::encode(digest.finalize())
}

/// Where and why a chain stops holding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The first event that does not verify (for `head_mismatch`: the head's last id).
    pub id: i64,
    /// `missing_event` (an id skipped: deleted or reordered events), `prev_hash_mismatch`
    /// (the event does not follow the one before it), `hash_mismatch` (the event was edited),
    /// `head_mismatch` (the chain's head names another last event: the tail was cut).
    pub reason: &'static str,
}

/// Walks a chain in id order, one event at a time.
#[derive(Debug, Clone)]
pub struct Walker {
    expected_id: i64,
    prev_hash: String,
}

impl Default for Walker {
    fn default() -> Self {
        Walker {
            expected_id: 1,
            prev_hash: GENESIS.to_string(),
        }
    }
}

impl Walker {
    /// Checks the next stored event (its content, stored `prev_hash` and `hash`).
    pub fn step(&mut self, content: &Content, prev_hash: &str, stored: &str) -> Result<(), Break> {
        let fail = |reason| {
            Err(Break {
                id: content.id,
                reason,
            })
        };
        if content.id != self.expected_id {
            return fail("missing_event");
        }
        if prev_hash != self.prev_hash {
            return fail("prev_hash_mismatch");
        }
        if hash(content, prev_hash) != stored {
            return fail("hash_mismatch");
        }
        self.expected_id += 1;
        self.prev_hash = stored.to_string();
        Ok(())
    }

    /// After the last event: the head must name it.
    pub fn finish(&self, head_id: i64, head_hash: &str) -> Result<i64, Break> {
        if head_id != self.expected_id - 1 || head_hash != self.prev_hash {
            return Err(Break {
                id: head_id,
                reason: "head_mismatch",
            });
        }
        Ok(head_id)
    }
}

/// Fields of a record image that identify a person: masked (national id, card number) or left
/// out (birth date) before the image enters the trail, which auditors read.
pub fn mask_personal(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            map.remove("born_on");
            for field in ["national_id", "card_number"] {
                if let Some(Value::String(s)) = map.get_mut(field) {
                    *s = crate::domain::member::mask(s, 3);
                }
            }
            map.values_mut().for_each(mask_personal);
        }
        Value::Array(items) => items.iter_mut().for_each(mask_personal),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, key: &str) -> Content {
        Content {
            id,
            at: format!("2026-11-29T10:00:0{id}.000000Z"),
            user_id: Some(1),
            api_key_id: None,
            actor: "admin".into(),
            ip: Some("127.0.0.1".into()),
            request_id: Some(format!("req-{id}")),
            entity: "member".into(),
            record_key: key.into(),
            action: "update".into(),
            organization_code: Some("HG".into()),
            before: Some(r#"{"full_name":"Nguyễn Văn A"}"#.into()),
            after: Some(r#"{"full_name":"Nguyễn Văn B"}"#.into()),
            override_reason: None,
        }
    }

    /// (content, prev_hash, hash) rows of a chain of `n` events.
    fn chain(n: i64) -> Vec<(Content, String, String)> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|id| {
                let c = event(id, &format!("HG-{id}"));
                let h = hash(&c, &prev);
                let row = (c, prev.clone(), h.clone());
                prev = h;
                row
            })
            .collect()
    }

    fn walk(rows: &[(Content, String, String)]) -> Result<i64, Break> {
        let mut w = Walker::default();
        for (c, prev, h) in rows {
            w.step(c, prev, h)?;
        }
        let (head_id, head_hash) = rows
            .last()
            .map(|(c, _, h)| (c.id, h.clone()))
            .unwrap_or((0, GENESIS.into()));
        w.finish(head_id, &head_hash)
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(walk(&chain(5)), Ok(5));
        assert_eq!(walk(&[]), Ok(0));
    }

    #[test]
    fn an_edited_event_is_detected() {
        let mut rows = chain(5);
        rows[2].0.after = Some(r#"{"full_name":"Someone else"}"#.into());
        assert_eq!(
            walk(&rows),
            Err(Break {
                id: 3,
                reason: "hash_mismatch"
            })
        );
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut rows = chain(5);
        rows[2].0.actor = "clerk".into();
        rows[2].2 = hash(&rows[2].0, &rows[2].1);
        assert_eq!(
            walk(&rows),
            Err(Break {
                id: 4,
                reason: "prev_hash_mismatch"
            })
        );
    }

    #[test]
    fn a_deleted_event_is_detected() {
        let mut rows = chain(5);
        rows.remove(1);
        assert_eq!(
            walk(&rows),
            Err(Break {
                id: 3,
                reason: "missing_event"
            })
        );
    }

    #[test]
    fn a_deleted_tail_is_detected_by_the_head() {
        let rows = chain(5);
        let mut w = Walker::default();
        for (c, prev, h) in &rows[..4] {
            w.step(c, prev, h).unwrap();
        }
        assert_eq!(w.finish(5, &rows[4].2).unwrap_err().reason, "head_mismatch");
    }

    #[test]
    fn a_reordering_is_detected() {
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert_eq!(walk(&rows).unwrap_err().id, 3);
        // Renumbering the swapped events does not help: the links no longer match.
        let mut rows = chain(5);
        rows.swap(1, 2);
        rows[1].0.id = 2;
        rows[2].0.id = 3;
        assert_eq!(
            walk(&rows),
            Err(Break {
                id: 2,
                reason: "prev_hash_mismatch"
            })
        );
    }

    #[test]
    fn the_canonical_form_is_fixed() {
        let c = event(1, "HG-1");
        let text = String::from_utf8(canonical(&c)).unwrap();
        assert!(text.starts_with(r#"[1,1,"2026-11-29T10:00:01.000000Z",1,null,"admin""#));
        assert_eq!(hash(&c, GENESIS).len(), 64);
        assert_ne!(hash(&c, GENESIS), hash(&c, &hash(&c, GENESIS)));
    }

    #[test]
    fn personal_identifiers_are_masked_or_left_out() {
        let mut v = serde_json::json!({
            "profile_number": "HG-1", "national_id": "093201001234", "card_number": "52001234",
            "born_on": "1990-01-02", "items": [{"born_on": "1980-01-01", "card_number": "123456"}]
        });
        mask_personal(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "profile_number": "HG-1", "national_id": "*********234", "card_number": "*****234",
                "items": [{"card_number": "***456"}]
            })
        );
    }
}
