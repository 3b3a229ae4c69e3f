//! Who is calling and what they may do: passwords, tokens, roles and scopes.
//!
//! Access has two parts, checked in this order:
//! 1. the role: each route declares an [`Access`] level (in `api::routes`), and [`role_allows`]
//!    answers 403 when the caller's role lacks it;
//! 2. the scope: a non-admin user sees only their scope organisation's subtree. The store
//!    enforces it in SQL ([`Visibility`]), and a record outside it answers 404 like a missing one.

pub mod password;
pub mod tokens;

use crate::domain::Role;

/// What a route requires, declared once per route in the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed.
    Public,
    /// Any signed-in user (their own account, their own API keys).
    Authenticated,
    /// Records (organisations, members; ratings, insignia and targets later): read in scope.
    RecordRead,
    /// The same records: create and change in scope.
    RecordWrite,
    /// Statistics and reports of a subtree in scope (every role).
    StatisticsRead,
    /// Disciplinary actions: read in scope (every role).
    DisciplineRead,
    /// Disciplinary actions: record decisions and appeals (inspection commissions).
    DisciplineWrite,
    /// Bulk import: any role that writes some kind of record (clerks, inspectors, admins);
    /// the handler then checks the kind's own access (`RecordWrite` or `DisciplineWrite`).
    Import,
    /// User management.
    Admin,
    /// The audit trail: administrators, and auditors within their scope.
    AuditRead,
}

/// The access table of design.md, as data.
pub fn role_allows(role: Role, access: Access) -> bool {
    match access {
        Access::Public | Access::Authenticated | Access::RecordRead => true,
        Access::RecordWrite => matches!(role, Role::Admin | Role::Clerk),
        Access::DisciplineRead | Access::StatisticsRead => true,
        Access::DisciplineWrite => matches!(role, Role::Admin | Role::Inspector),
        Access::Import => role != Role::Auditor,
        Access::Admin => role == Role::Admin,
        Access::AuditRead => matches!(role, Role::Admin | Role::Auditor),
    }
}

/// The scope organisation of a non-admin user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeOrg {
    pub id: i64,
    pub code: String,
}

/// An authenticated caller, loaded fresh from the database on every request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub scope: Option<ScopeOrg>,
    /// The session of a JWT; `None` for an API key.
    pub session_id: Option<String>,
    /// The API key used, if any.
    pub api_key_id: Option<i64>,
    /// Where the request came from (set by the extractor; empty elsewhere).
    pub origin: Origin,
}

/// Where a request came from, for the audit trail: the client's address and the request id.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    pub fn visibility(&self) -> Visibility {
        match &self.scope {
            None => Visibility::All,
            Some(scope) => Visibility::Subtree(scope.id),
        }
    }

    /// Who is writing and from where, for the audit event of the write.
    pub fn actor(&self) -> crate::store::audit::Actor {
        crate::store::audit::Actor {
            user_id: Some(self.user_id),
            api_key_id: self.api_key_id,
            name: self.username.clone(),
            ip: self.origin.ip.clone(),
            request_id: self.origin.request_id.clone(),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Which records a caller may see: everything, or the current subtree of one organisation.
/// Passed to every store query, which turns it into a join on the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    Subtree(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_and_clerks_write_organizations() {
        assert!(role_allows(Role::Admin, Access::RecordWrite));
        assert!(role_allows(Role::Clerk, Access::RecordWrite));
        assert!(!role_allows(Role::Inspector, Access::RecordWrite));
        assert!(!role_allows(Role::Auditor, Access::RecordWrite));
    }

    #[test]
    fn only_admins_and_inspectors_write_discipline() {
        assert!(role_allows(Role::Inspector, Access::DisciplineWrite));
        assert!(!role_allows(Role::Clerk, Access::DisciplineWrite));
        assert!(!role_allows(Role::Auditor, Access::DisciplineWrite));
        assert!(role_allows(Role::Auditor, Access::DisciplineRead));
    }

    #[test]
    fn only_admins_manage_users() {
        for role in Role::ALL {
            assert_eq!(role_allows(*role, Access::Admin), *role == Role::Admin);
            assert!(role_allows(*role, Access::RecordRead));
        }
    }
}
