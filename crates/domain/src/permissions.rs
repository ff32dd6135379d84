//! Roles, admin scopes and the one permission table: which role or scope may perform which
//! action. Deny by default: an action not listed for any of a user's roles or scopes is refused.
//! `docs/ADMIN.md` prints this table (a test keeps the two in step).

use std::fmt;
use std::str::FromStr;

/// A role; a user holds a set of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Trains on approved items.
    Student,
    /// Writes items (freelance, paid per approved item).
    Author,
    /// Approves or rejects other authors' items.
    Reviewer,
    /// Runs the platform; what exactly is given by admin scopes.
    Admin,
}

/// An admin scope; meaningful only with the admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminScope {
    /// Everything below.
    Super,
    /// Curriculum, items, taxonomy, blueprints, imports.
    Content,
    /// Plans, cards, payments, author payouts.
    Finance,
    /// Accounts and learner support.
    Support,
    /// Jobs, backups, calibration runs.
    Operations,
}

/// Something a request may try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Train: sessions, answers, own progress (also needs a verified email).
    Train,
    /// Read the approved catalogue (learner view, no answers before an attempt).
    CatalogueRead,
    /// Report a problem on an item.
    ReportCreate,
    /// Create drafts and edit one's own drafts.
    ItemAuthor,
    /// Approve or reject items in review (never one's own).
    ItemReview,
    /// Triage learner reports.
    ReportTriage,
    /// Retire approved items; edit the curriculum, knowledge components and blueprints.
    CatalogueManage,
    /// Import and export items and taxonomies.
    CatalogueImportExport,
    /// Read user accounts and change roles.
    UsersManage,
    /// Read the audit log.
    AuditRead,
    /// List, retry and cancel background jobs; run calibrations.
    OperationsManage,
    /// Plans, activation cards, payments, payouts.
    FinanceManage,
}

impl Action {
    /// Every action, for documentation and tests.
    pub const ALL: [Self; 12] = [
        Self::Train,
        Self::CatalogueRead,
        Self::ReportCreate,
        Self::ItemAuthor,
        Self::ItemReview,
        Self::ReportTriage,
        Self::CatalogueManage,
        Self::CatalogueImportExport,
        Self::UsersManage,
        Self::AuditRead,
        Self::OperationsManage,
        Self::FinanceManage,
    ];

    /// Staff actions need TOTP enrolment first.
    pub fn is_staff(self) -> bool {
        !matches!(
            self,
            Self::Train | Self::CatalogueRead | Self::ReportCreate | Self::ItemAuthor
        )
    }
}

/// The permission table for roles.
pub fn role_actions(role: Role) -> &'static [Action] {
    use Action::*;
    match role {
        Role::Student => &[Train, CatalogueRead, ReportCreate],
        Role::Author => &[CatalogueRead, ItemAuthor],
        Role::Reviewer => &[CatalogueRead, ItemReview, ReportTriage],
        Role::Admin => &[CatalogueRead],
    }
}

/// The permission table for admin scopes (given only to users who hold the admin role).
pub fn scope_actions(scope: AdminScope) -> &'static [Action] {
    use Action::*;
    match scope {
        AdminScope::Super => &[
            ItemReview,
            ReportTriage,
            CatalogueManage,
            CatalogueImportExport,
            UsersManage,
            AuditRead,
            OperationsManage,
            FinanceManage,
        ],
        AdminScope::Content => &[
            ItemReview,
            ReportTriage,
            CatalogueManage,
            CatalogueImportExport,
        ],
        AdminScope::Finance => &[FinanceManage],
        AdminScope::Support => &[UsersManage, AuditRead, ReportTriage],
        AdminScope::Operations => &[OperationsManage, AuditRead],
    }
}

/// Whether a user with `roles` and `scopes` may perform `action`. Scopes count only with the
/// admin role.
pub fn allowed(roles: &[Role], scopes: &[AdminScope], action: Action) -> bool {
    roles.iter().any(|r| role_actions(*r).contains(&action))
        || (roles.contains(&Role::Admin)
            && scopes.iter().any(|s| scope_actions(*s).contains(&action)))
}

/// An unknown role or scope name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    /// `role` or `scope`.
    pub kind: &'static str,
    /// The name given.
    pub name: String,
}

macro_rules! names {
    ($t:ty, $kind:literal, $($v:ident = $s:literal),*) => {
        impl $t {
            /// The stored name.
            pub fn as_str(self) -> &'static str { match self { $(Self::$v => $s),* } }
            /// Every value.
            pub const ALL_VALUES: &'static [Self] = &[$(Self::$v),*];
        }
        impl FromStr for $t {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s.trim() { $($s => Ok(Self::$v),)* other => Err(UnknownName { kind: $kind, name: other.to_owned() }) }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

names!(
    Role,
    "role",
    Student = "student",
    Author = "author",
    Reviewer = "reviewer",
    Admin = "admin"
);
names!(
    AdminScope,
    "scope",
    Super = "super",
    Content = "content",
    Finance = "finance",
    Support = "support",
    Operations = "operations"
);

/// Parses a comma-separated list as stored in the database (empty entries ignored).
pub fn parse_list<T: FromStr<Err = UnknownName>>(s: &str) -> Result<Vec<T>, UnknownName> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::parse)
        .collect()
}

/// The permission table as Markdown (printed in `docs/ADMIN.md`).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| action | student | author | reviewer | admin (any) | super | content | finance | support | operations |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let mark = |b: bool| if b { "yes" } else { "" };
    for a in Action::ALL {
        out.push_str(&format!(
            "| {a:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            mark(role_actions(Role::Student).contains(&a)),
            mark(role_actions(Role::Author).contains(&a)),
            mark(role_actions(Role::Reviewer).contains(&a)),
            mark(role_actions(Role::Admin).contains(&a)),
            mark(scope_actions(AdminScope::Super).contains(&a)),
            mark(scope_actions(AdminScope::Content).contains(&a)),
            mark(scope_actions(AdminScope::Finance).contains(&a)),
            mark(scope_actions(AdminScope::Support).contains(&a)),
            mark(scope_actions(AdminScope::Operations).contains(&a)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_by_default_and_scopes_need_the_admin_role() {
        assert!(!allowed(&[], &[], Action::CatalogueRead));
        assert!(allowed(&[Role::Student], &[], Action::Train));
        assert!(!allowed(&[Role::Author], &[], Action::Train));
        assert!(!allowed(&[Role::Author], &[], Action::ItemReview));
        assert!(allowed(
            &[Role::Author, Role::Reviewer],
            &[],
            Action::ItemReview
        ));
        assert!(
            !allowed(&[Role::Student], &[AdminScope::Super], Action::UsersManage),
            "scope without admin role"
        );
        assert!(allowed(
            &[Role::Admin],
            &[AdminScope::Support],
            Action::UsersManage
        ));
        assert!(!allowed(
            &[Role::Admin],
            &[AdminScope::Finance],
            Action::UsersManage
        ));
        assert!(
            !allowed(&[Role::Admin], &[], Action::UsersManage),
            "admin without scope can do little"
        );
    }

    #[test]
    fn super_covers_every_other_scope() {
        for s in AdminScope::ALL_VALUES {
            for a in scope_actions(*s) {
                assert!(
                    scope_actions(AdminScope::Super).contains(a),
                    "{s} grants {a:?} that super lacks"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL_VALUES {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        assert_eq!(
            parse_list::<Role>("student, admin,").unwrap(),
            vec![Role::Student, Role::Admin]
        );
        assert!(parse_list::<AdminScope>("super,root").is_err());
    }

    #[test]
    fn the_admin_guide_prints_the_current_table() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ADMIN.md"))
                .unwrap();
        assert!(
            doc.contains(&markdown_table()),
            "docs/ADMIN.md is out of date; the table is:\n{}",
            markdown_table()
        );
    }
}
