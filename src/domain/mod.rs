//! The domain: plain types and the party's rules as pure functions. No I/O, no database, no
//! HTTP: everything here is decided from values, so it can be unit-tested exhaustively.
//!
//! A rule that a write breaks is a [`RuleViolation`] with a stable `code` (documented in
//! `docs/rules.md`), the field it concerns, and a message a clerk understands.

pub mod audit;
pub mod discipline;
pub mod figures;
pub mod insignia;
pub mod member;
pub mod organization;
pub mod rating;
pub mod summary;
pub mod text;

use std::fmt;

/// A broken rule. `code` is stable: clients and tests match on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

impl RuleViolation {
    pub fn new(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        RuleViolation {
            code,
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.field, self.message)
    }
}

/// Declares an enumeration stored as text and exposed as snake_case codes: `as_str`, `parse`,
/// `ALL`, serde in both directions. One definition per enum keeps the database CHECK
/// constraints, the JSON codes and the Rust names in step.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The codes, comma-separated, for error messages.
            pub fn codes() -> String {
                [$($code),+].join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                $name::parse(code.trim()).ok_or_else(|| {
                    ::serde::de::Error::custom(format!(
                        "unknown value `{}`, expected one of: {}", code, $name::codes()
                    ))
                })
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// What a user may do (design.md, "Access"). Every user has exactly one.
    pub enum Role {
        /// Global: everything, including users and other people's API keys.
        Admin = "admin",
        /// Cán bộ Ban Tổ chức: reads and writes records in their scope, except discipline.
        Clerk = "clerk",
        /// Ủy ban Kiểm tra: reads records in scope, writes discipline.
        Inspector = "inspector",
        /// Reads in scope with personal identifiers masked; the audit trail.
        Auditor = "auditor",
    }
}
