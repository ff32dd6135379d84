//! The `Entitlements` port: what a learner's plan allows, and its consumption.
//!
//! Training asks [`Entitlements::allowance`] before grading and calls
//! [`Entitlements::consume`] inside the attempt transaction, so a quota is spent exactly when
//! the attempt commits. Only graded answers consume (a skip or an ungraded answer never does).
//! The transaction type is the implementation's choice (the services use the database
//! transaction); the domain does not know it. [`OpenEntitlements`] allows everything (tests and
//! tools); the platform uses the plan-backed implementation of `myqcm_services::commerce`.

use std::marker::PhantomData;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalogue::ItemKind;

/// Something a plan may limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Graded QCS/QCM answers.
    McqAnswer,
    /// Graded QROC answers.
    QrocAnswer,
    /// Explanations after an attempt.
    Explanations,
    /// Clinical cases among the items a session serves.
    ClinicalCases,
    /// A QROC answer the tolerant match is unsure about judged by the language model.
    QrocGrading,
}

impl Feature {
    /// The answer feature an item kind consumes.
    pub fn answer_of(kind: ItemKind) -> Self {
        match kind {
            ItemKind::Qcs | ItemKind::Qcm => Self::McqAnswer,
            ItemKind::Qroc => Self::QrocAnswer,
        }
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::McqAnswer => "mcq_answer",
            Self::QrocAnswer => "qroc_answer",
            Self::Explanations => "explanations",
            Self::ClinicalCases => "clinical_cases",
            Self::QrocGrading => "qroc_grading",
        }
    }
}

/// How much of a feature is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// No limit.
    Unlimited,
    /// This many uses left in the current window (0 = exhausted).
    Remaining(u64),
    /// Not part of the plan.
    Denied,
}

impl Allowance {
    /// Whether `n` more uses are allowed.
    pub fn permits(self, n: u64) -> bool {
        match self {
            Self::Unlimited => true,
            Self::Remaining(left) => left >= n,
            Self::Denied => false,
        }
    }
}

/// A used-up allowance: which feature, and when its window starts afresh (`None` when it never
/// does, e.g. a feature the plan does not include).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhaustion {
    /// The feature.
    pub feature: Feature,
    /// Start of the next window in which the feature is allowed again.
    pub resets_at: Option<DateTime<Utc>>,
}

impl Exhaustion {
    /// Exhausted with no known reset.
    pub fn of(feature: Feature) -> Self {
        Self {
            feature,
            resets_at: None,
        }
    }
}

/// Why an entitlement call failed.
#[derive(Debug, thiserror::Error)]
pub enum EntitlementError {
    /// The allowance is used up (the attempt must roll back).
    #[error("allowance exhausted for {:?}", .0.feature)]
    Exhausted(Exhaustion),
    /// The backing store failed.
    #[error("entitlements unavailable: {0}")]
    Unavailable(String),
}

/// The port. `Tx` is the transaction [`Entitlements::consume`] joins.
#[async_trait]
pub trait Entitlements: Send + Sync + std::fmt::Debug {
    /// The transaction type consumption is written in.
    type Tx: Send + Sync;

    /// What `learner` may still use of `feature`.
    async fn allowance(
        &self,
        learner: Uuid,
        feature: Feature,
    ) -> Result<Allowance, EntitlementError>;

    /// Refuses with [`EntitlementError::Exhausted`] unless `n` more uses of `feature` are
    /// allowed (the default says no reset time; implementations with windows say when). Called
    /// inside the answer's transaction `tx`: an implementation that must read does so through
    /// `tx`, never through a second pooled connection (a transaction waiting for a connection
    /// while holding one exhausts the pool under load).
    async fn require(
        &self,
        tx: &Self::Tx,
        learner: Uuid,
        feature: Feature,
        n: u64,
    ) -> Result<(), EntitlementError> {
        let _ = tx;
        if self.allowance(learner, feature).await?.permits(n) {
            Ok(())
        } else {
            Err(EntitlementError::Exhausted(Exhaustion::of(feature)))
        }
    }

    /// Spends `n` uses of `feature` inside `tx` (committed or rolled back with it).
    async fn consume(
        &self,
        tx: &Self::Tx,
        learner: Uuid,
        feature: Feature,
        n: u64,
    ) -> Result<(), EntitlementError>;
}

/// Allows everything and records nothing (until commerce lands).
pub struct OpenEntitlements<T>(PhantomData<fn() -> T>);

impl<T> OpenEntitlements<T> {
    /// The open implementation.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Default for OpenEntitlements<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for OpenEntitlements<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenEntitlements")
    }
}

#[async_trait]
impl<T: Send + Sync> Entitlements for OpenEntitlements<T> {
    type Tx = T;

    async fn allowance(&self, _: Uuid, _: Feature) -> Result<Allowance, EntitlementError> {
        Ok(Allowance::Unlimited)
    }

    async fn consume(&self, _: &T, _: Uuid, _: Feature, _: u64) -> Result<(), EntitlementError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_permit_what_is_left() {
        assert!(Allowance::Unlimited.permits(1_000_000));
        assert!(Allowance::Remaining(1).permits(1));
        assert!(!Allowance::Remaining(0).permits(1));
        assert!(!Allowance::Denied.permits(1));
        assert_eq!(Feature::answer_of(ItemKind::Qroc), Feature::QrocAnswer);
        assert_eq!(Feature::answer_of(ItemKind::Qcs), Feature::McqAnswer);
    }
}
