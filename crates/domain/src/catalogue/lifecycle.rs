//! The item lifecycle and who may move an item along it.
//!
//! ```text
//!   draft ──submit──▶ in_review ──approve──▶ approved ──retire──▶ retired
//!     ▲                  │  │  │                 │
//!     └──reject(reason)──┘  │  └─decline(reason)─┼──────────────────▶ retired
//!        (changes requested) └──withdraw (author) │
//!     in_review ◀──────────edit (staff)──────────┘   (new revision, back through review)
//! ```
//! `reject` sends the item back to its author with the changes to make; `decline` refuses it
//! for good (a reviewer's final "no", with the reason), so it never reaches learners.
//! Every edit writes a new immutable revision; nothing is overwritten. Authors edit only their
//! own drafts. Editing an approved item is a staff action (reviewer or content admin, e.g. to fix
//! a reported typo): it creates a revision and sends the item back to review, so learners stop
//! seeing it until another reviewer approves it. Reviewers never approve or reject an item they
//! wrote or whose current revision they wrote.

use uuid::Uuid;

use super::text_enum;
use crate::permissions::{Action, AdminScope, Role, allowed};

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemStatus {
    /// Being written; only its author (and staff) see it.
    Draft,
    /// Waiting for a reviewer.
    InReview,
    /// Visible to learners.
    Approved,
    /// Withdrawn for good; kept for the attempts that reference it.
    Retired,
}
text_enum!(
    ItemStatus,
    "item status",
    Draft = "draft",
    InReview = "in_review",
    Approved = "approved",
    Retired = "retired"
);

/// The person acting, as far as the catalogue rules care.
///
/// Staff (anyone whose roles or scopes grant a staff action: reviewers, admins) must enrol
/// TOTP before they may use any of those powers. [`Actor::can`] therefore grants a staff action
/// only to an enrolled actor, and [`Actor::enrolment_pending`] tells the services to refuse a
/// staff use case outright with `mfa_enrolment_required`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User id.
    pub id: Uuid,
    /// Roles held.
    pub roles: Vec<Role>,
    /// Admin scopes held.
    pub scopes: Vec<AdminScope>,
    /// Whether the account has enrolled TOTP (two-step verification).
    pub mfa_enrolled: bool,
}

impl Actor {
    /// Whether the permission table grants `action`, and, for a staff action, the actor has
    /// enrolled TOTP (an unenrolled reviewer has no reviewer power at all).
    pub fn can(&self, action: Action) -> bool {
        allowed(&self.roles, &self.scopes, action) && (self.mfa_enrolled || !action.is_staff())
    }

    /// Whether the permission table grants the actor some staff action (enrolled or not).
    pub fn holds_staff_power(&self) -> bool {
        Action::ALL
            .iter()
            .any(|a| a.is_staff() && allowed(&self.roles, &self.scopes, *a))
    }

    /// Staff who have not enrolled TOTP yet: every staff use case refuses them until they do.
    pub fn enrolment_pending(&self) -> bool {
        !self.mfa_enrolled && self.holds_staff_power()
    }

    /// Staff who may see every item whatever its status.
    pub fn sees_all_items(&self) -> bool {
        self.can(Action::ItemReview) || self.can(Action::CatalogueManage)
    }
}

/// A requested move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Write a new revision.
    Edit,
    /// Author sends a draft to review.
    Submit,
    /// Author takes an item back from review.
    Withdraw,
    /// Reviewer accepts.
    Approve,
    /// Reviewer sends back to the author with a reason (changes requested).
    Reject,
    /// Reviewer refuses the item for good, with a reason: it is retired without ever being
    /// approved.
    Decline,
    /// Content admin withdraws the item for good.
    Retire,
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The actor may not do this at all, or not to this item (e.g. someone else's draft).
    #[error("not allowed")]
    Forbidden,
    /// A reviewer tried to review their own work.
    #[error("reviewers cannot review their own items")]
    OwnItem,
    /// The item is not in a state that allows the move.
    #[error("cannot {transition:?} an item that is {status}")]
    WrongState {
        /// Requested move.
        transition: Transition,
        /// Current status.
        status: ItemStatus,
    },
    /// A rejection needs a reason.
    #[error("a reason is required")]
    ReasonRequired,
}

/// Facts about the item that the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct ItemFacts {
    /// Current status.
    pub status: ItemStatus,
    /// Who created the item.
    pub author_id: Uuid,
    /// Who wrote its current revision.
    pub revision_author_id: Uuid,
}

/// Decides whether `actor` may apply `t` to an item, and the resulting status.
pub fn decide(
    actor: &Actor,
    item: ItemFacts,
    t: Transition,
    reason: Option<&str>,
) -> Result<ItemStatus, LifecycleError> {
    use ItemStatus::*;
    use Transition::*;
    let own = actor.id == item.author_id;
    let wrong = || LifecycleError::WrongState {
        transition: t,
        status: item.status,
    };
    match t {
        Edit => match item.status {
            Draft if own && actor.can(Action::ItemAuthor) => Ok(Draft),
            Draft if actor.can(Action::CatalogueManage) => Ok(Draft),
            Draft => Err(LifecycleError::Forbidden),
            Approved if actor.can(Action::ItemReview) || actor.can(Action::CatalogueManage) => {
                Ok(InReview)
            }
            Approved => Err(LifecycleError::Forbidden),
            InReview | Retired => Err(wrong()),
        },
        Submit | Withdraw => {
            if !(actor.can(Action::CatalogueManage) || own && actor.can(Action::ItemAuthor)) {
                return Err(LifecycleError::Forbidden);
            }
            match (t, item.status) {
                (Submit, Draft) => Ok(InReview),
                (Withdraw, InReview) => Ok(Draft),
                _ => Err(wrong()),
            }
        }
        Approve | Reject | Decline => {
            if !actor.can(Action::ItemReview) {
                return Err(LifecycleError::Forbidden);
            }
            if own || actor.id == item.revision_author_id {
                return Err(LifecycleError::OwnItem);
            }
            if item.status != InReview {
                return Err(wrong());
            }
            if t != Approve && reason.is_none_or(|r| r.trim().is_empty()) {
                return Err(LifecycleError::ReasonRequired);
            }
            Ok(match t {
                Reject => Draft,
                Decline => Retired,
                _ => Approved,
            })
        }
        Retire => {
            if !actor.can(Action::CatalogueManage) {
                return Err(LifecycleError::Forbidden);
            }
            if item.status == Retired {
                Err(wrong())
            } else {
                Ok(Retired)
            }
        }
    }
}

/// Whether `actor` may read an item in `status` written by `author_id` (staff view). Learners go
/// through the learner view, which only ever serves approved items.
pub fn may_read(actor: &Actor, status: ItemStatus, author_id: Uuid) -> bool {
    status == ItemStatus::Approved || actor.id == author_id || actor.sees_all_items()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn actor(roles: &[Role]) -> Actor {
        Actor {
            id: Uuid::new_v4(),
            roles: roles.to_vec(),
            scopes: vec![],
            mfa_enrolled: true,
        }
    }

    fn facts(status: ItemStatus, author: &Actor) -> ItemFacts {
        ItemFacts {
            status,
            author_id: author.id,
            revision_author_id: author.id,
        }
    }

    #[test]
    fn authors_edit_only_their_own_drafts() {
        let a = actor(&[Role::Author]);
        let b = actor(&[Role::Author]);
        assert_eq!(
            decide(&a, facts(ItemStatus::Draft, &a), Transition::Edit, None),
            Ok(ItemStatus::Draft)
        );
        assert_eq!(
            decide(&b, facts(ItemStatus::Draft, &a), Transition::Edit, None),
            Err(LifecycleError::Forbidden)
        );
        assert_eq!(
            decide(&a, facts(ItemStatus::Approved, &a), Transition::Edit, None),
            Err(LifecycleError::Forbidden)
        );
    }

    #[test]
    fn reviewers_never_review_their_own_items_and_reject_with_a_reason() {
        let ar = actor(&[Role::Author, Role::Reviewer]);
        let r = actor(&[Role::Reviewer]);
        let f = facts(ItemStatus::InReview, &ar);
        assert_eq!(
            decide(&ar, f, Transition::Approve, None),
            Err(LifecycleError::OwnItem)
        );
        assert_eq!(
            decide(&r, f, Transition::Reject, Some("  ")),
            Err(LifecycleError::ReasonRequired)
        );
        assert_eq!(
            decide(&r, f, Transition::Reject, Some("key wrong")),
            Ok(ItemStatus::Draft)
        );
        assert_eq!(
            decide(&r, f, Transition::Approve, None),
            Ok(ItemStatus::Approved)
        );
        assert_eq!(
            decide(&r, f, Transition::Decline, None),
            Err(LifecycleError::ReasonRequired)
        );
        assert_eq!(
            decide(&r, f, Transition::Decline, Some("out of the curriculum")),
            Ok(ItemStatus::Retired)
        );
        assert_eq!(
            decide(&ar, f, Transition::Decline, Some("mine")),
            Err(LifecycleError::OwnItem)
        );
        let mut edited = facts(ItemStatus::InReview, &ar);
        edited.revision_author_id = r.id;
        assert_eq!(
            decide(&r, edited, Transition::Approve, None),
            Err(LifecycleError::OwnItem)
        );
    }

    #[test]
    fn editing_an_approved_item_sends_it_back_to_review() {
        let a = actor(&[Role::Author]);
        let r = actor(&[Role::Reviewer]);
        assert_eq!(
            decide(&r, facts(ItemStatus::Approved, &a), Transition::Edit, None),
            Ok(ItemStatus::InReview)
        );
        assert!(matches!(
            decide(&a, facts(ItemStatus::Draft, &a), Transition::Approve, None),
            Err(LifecycleError::Forbidden)
        ));
    }

    #[test]
    fn staff_powers_need_totp_enrolment() {
        let mut r = actor(&[Role::Author, Role::Reviewer]);
        r.mfa_enrolled = false;
        assert!(r.enrolment_pending());
        assert!(!r.can(Action::ItemReview) && !r.sees_all_items());
        // Non-staff powers stay (the services still refuse staff accounts until they enrol).
        assert!(r.can(Action::ItemAuthor));
        let a = actor(&[Role::Author]);
        let unenrolled_author = Actor {
            mfa_enrolled: false,
            ..a
        };
        assert!(!unenrolled_author.enrolment_pending());
        let admin = Actor {
            roles: vec![Role::Admin],
            scopes: vec![AdminScope::Content],
            mfa_enrolled: false,
            id: Uuid::new_v4(),
        };
        assert!(admin.enrolment_pending() && !admin.can(Action::CatalogueManage));
        assert!(
            Actor {
                mfa_enrolled: true,
                ..admin
            }
            .can(Action::CatalogueManage)
        );
    }
}
