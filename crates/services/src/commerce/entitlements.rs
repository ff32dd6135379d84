//! The plan-backed [`Entitlements`]: what a learner may still do is read from their subscription
//! in force (else the default free plan) and their usage counters, and a graded answer spends
//! one use inside the attempt transaction.
//!
//! Hot path: the answer round trip asks [`Entitlements::require`] and then
//! [`Entitlements::consume`]. Each learner's plan and counters are kept in an in-process `moka`
//! cache (60 s, and never past the end of the subscription in force), so `require` costs no
//! query on a hit; `consume` is one upsert in the attempt's transaction that only counts while
//! both windows stay within the plan's limits (exact under concurrency and across instances:
//! the cache only saves the pre-check, the database statement decides). Redemptions and plan
//! changes in this process drop the cached entries they affect.
//!
//! Windows (docs/COMMERCE.md): a day is an Algerian calendar day (UTC+1, no daylight saving),
//! a month an Algerian calendar month; a window starts afresh at its first instant.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use moka::sync::Cache;
use myqcm_db::commerce::{self as repo, Consumption, plan};
use myqcm_db::{DatabaseConnection, DatabaseTransaction, DbError};
use myqcm_domain::Clock;
use myqcm_domain::entitlements::{Allowance, EntitlementError, Entitlements, Exhaustion, Feature};
use myqcm_domain::localtime::algeria;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// How long a learner's plan and counters stay cached.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(60);

/// The current windows at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Algerian date as `yyyymmdd`.
    pub day_key: i32,
    /// Algerian month as `yyyymm`.
    pub month_key: i32,
    /// Start of the next Algerian day.
    pub next_day: DateTime<Utc>,
    /// Start of the next Algerian month.
    pub next_month: DateTime<Utc>,
}

impl Windows {
    /// The windows `now` falls in.
    pub fn at(now: DateTime<Utc>) -> Self {
        let date = now.with_timezone(&algeria()).date_naive();
        let midnight = |d: NaiveDate| {
            algeria()
                .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .single()
                .map_or(now, |t| t.with_timezone(&Utc))
        };
        let first = date.with_day(1).unwrap_or(date);
        Self {
            day_key: date.year() * 10_000
                + i32::try_from(date.month() * 100 + date.day()).unwrap_or(0),
            month_key: date.year() * 100 + i32::try_from(date.month()).unwrap_or(0),
            next_day: midnight(date.checked_add_days(Days::new(1)).unwrap_or(date)),
            next_month: midnight(first.checked_add_months(Months::new(1)).unwrap_or(first)),
        }
    }
}

/// The limits of one answer feature (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per Algerian day.
    pub per_day: Option<i32>,
    /// Per Algerian month.
    pub per_month: Option<i32>,
}

impl Limits {
    /// The limits `plan` sets on `feature` (`None` for features without counters).
    pub fn of(plan: &plan::Model, feature: Feature) -> Option<Self> {
        match feature {
            Feature::McqAnswer => Some(Self {
                per_day: plan.mcq_per_day,
                per_month: plan.mcq_per_month,
            }),
            Feature::QrocAnswer => Some(Self {
                per_day: plan.qroc_per_day,
                per_month: plan.qroc_per_month,
            }),
            Feature::Explanations | Feature::ClinicalCases | Feature::QrocGrading => None,
        }
    }

    fn unlimited(self) -> bool {
        self.per_day.is_none() && self.per_month.is_none()
    }
}

/// Uses counted in the current windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Window key of `day_used`.
    pub day_key: i32,
    /// Uses that day.
    pub day_used: i32,
    /// Window key of `month_used`.
    pub month_key: i32,
    /// Uses that month.
    pub month_used: i32,
}

impl Usage {
    /// Uses in the windows `w` (a counter of an earlier window counts zero).
    pub fn in_windows(self, w: Windows) -> (i32, i32) {
        (
            if self.day_key == w.day_key {
                self.day_used
            } else {
                0
            },
            if self.month_key == w.month_key {
                self.month_used
            } else {
                0
            },
        )
    }
}

/// What is left of `limits` after `usage` in windows `w`, and when the binding window resets.
pub fn remaining(limits: Limits, usage: Usage, w: Windows) -> (Allowance, Option<DateTime<Utc>>) {
    if limits.unlimited() {
        return (Allowance::Unlimited, None);
    }
    let (day, month) = usage.in_windows(w);
    let left = |limit: Option<i32>, used: i32| limit.map(|l| i64::from(l) - i64::from(used));
    let day_left = left(limits.per_day, day);
    let month_left = left(limits.per_month, month);
    let left = day_left
        .into_iter()
        .chain(month_left)
        .min()
        .unwrap_or(0)
        .max(0);
    // The later of the exhausted windows is when the feature works again.
    let mut reset = None;
    if day_left.is_some_and(|l| l <= 0) {
        reset = Some(w.next_day);
    }
    if month_left.is_some_and(|l| l <= 0) {
        reset = Some(w.next_month);
    }
    (
        Allowance::Remaining(u64::try_from(left).unwrap_or(0)),
        reset,
    )
}

/// A learner's plan and counters as cached.
#[derive(Debug)]
struct Snapshot {
    plan: plan::Model,
    /// End of the subscription in force or start of a queued one (ms): re-read after it.
    stale_at: Option<i64>,
    /// Counters of the answer features: McqAnswer, QrocAnswer.
    usage: Mutex<[Usage; 2]>,
}

fn slot(feature: Feature) -> Option<usize> {
    match feature {
        Feature::McqAnswer => Some(0),
        Feature::QrocAnswer => Some(1),
        Feature::Explanations | Feature::ClinicalCases | Feature::QrocGrading => None,
    }
}

/// The learner's plan in force at `now` (subscription, else the default plan) and when that
/// may change.
pub async fn plan_in_force<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
    now: i64,
) -> Result<(plan::Model, Option<repo::subscription::Model>, Option<i64>), DbError> {
    let open = repo::open_subscriptions(c, learner, now).await?;
    let next_start = open.iter().map(|s| s.starts_at).filter(|s| *s > now).min();
    match repo::current_subscription(c, learner, now).await? {
        Some((sub, p)) => {
            let stale = match (sub.ends_at, next_start) {
                (Some(e), Some(n)) => Some(e.min(n)),
                (e, n) => e.or(n),
            };
            Ok((p, Some(sub), stale))
        }
        None => Ok((repo::default_plan(c).await?, None, next_start)),
    }
}

/// The plan-backed entitlements. Cheap to clone (shared cache).
#[derive(Clone)]
pub struct PlanEntitlements {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    cache: Cache<Uuid, Arc<Snapshot>>,
}

impl std::fmt::Debug for PlanEntitlements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlanEntitlements")
    }
}

fn unavailable(e: DbError) -> EntitlementError {
    EntitlementError::Unavailable(e.to_string())
}

impl PlanEntitlements {
    /// Over `db`, reading time from `clock`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            cache: Cache::builder()
                .max_capacity(200_000)
                .time_to_live(SNAPSHOT_TTL)
                .build(),
        }
    }

    /// Forgets `learner`'s cached plan (after a redemption or subscription change).
    pub fn invalidate(&self, learner: Uuid) {
        self.cache.invalidate(&learner);
    }

    /// Forgets every cached plan (after a plan's quotas changed).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    async fn snapshot<C: ConnectionTrait>(
        &self,
        c: &C,
        learner: Uuid,
    ) -> Result<Arc<Snapshot>, DbError> {
        let now = self.clock.now().timestamp_millis();
        if let Some(s) = self.cache.get(&learner)
            && s.stale_at.is_none_or(|t| now < t)
        {
            return Ok(s);
        }
        let (plan, _, stale_at) = plan_in_force(c, learner, now).await?;
        let mut usage = [Usage::default(); 2];
        for u in repo::usage_of(c, learner).await? {
            let i = match u.feature.as_str() {
                "mcq_answer" => 0,
                "qroc_answer" => 1,
                _ => continue,
            };
            usage[i] = Usage {
                day_key: u.day_key,
                day_used: u.day_used,
                month_key: u.month_key,
                month_used: u.month_used,
            };
        }
        let s = Arc::new(Snapshot {
            plan,
            stale_at,
            usage: Mutex::new(usage),
        });
        self.cache.insert(learner, s.clone());
        Ok(s)
    }

    fn usage(s: &Snapshot, i: usize) -> Usage {
        s.usage.lock().map(|u| u[i]).unwrap_or_default()
    }

    /// What is left of `feature` and when it resets (for the pages and the API).
    ///
    /// # Errors
    /// Storage failure.
    pub async fn status(
        &self,
        learner: Uuid,
        feature: Feature,
    ) -> Result<(Allowance, Option<DateTime<Utc>>), EntitlementError> {
        let s = self
            .snapshot(&self.db, learner)
            .await
            .map_err(unavailable)?;
        Ok(self.status_in(&s, feature))
    }

    fn status_in(&self, s: &Snapshot, feature: Feature) -> (Allowance, Option<DateTime<Utc>>) {
        match (Limits::of(&s.plan, feature), slot(feature)) {
            (Some(limits), Some(i)) => {
                remaining(limits, Self::usage(s, i), Windows::at(self.clock.now()))
            }
            // The features a plan includes or not, without counters.
            _ => {
                let included = match feature {
                    Feature::Explanations => s.plan.explanations,
                    Feature::ClinicalCases => s.plan.clinical_cases,
                    Feature::QrocGrading => s.plan.ai_grading,
                    Feature::McqAnswer | Feature::QrocAnswer => false,
                };
                if included {
                    (Allowance::Unlimited, None)
                } else {
                    (Allowance::Denied, None)
                }
            }
        }
    }
}

#[async_trait]
impl Entitlements for PlanEntitlements {
    type Tx = DatabaseTransaction;

    async fn allowance(
        &self,
        learner: Uuid,
        feature: Feature,
    ) -> Result<Allowance, EntitlementError> {
        Ok(self.status(learner, feature).await?.0)
    }

    async fn require(
        &self,
        tx: &DatabaseTransaction,
        learner: Uuid,
        feature: Feature,
        n: u64,
    ) -> Result<(), EntitlementError> {
        // Through the answer's transaction on a cache miss (see the port).
        let s = self.snapshot(tx, learner).await.map_err(unavailable)?;
        let (allowance, resets_at) = self.status_in(&s, feature);
        if allowance.permits(n) {
            Ok(())
        } else {
            Err(EntitlementError::Exhausted(Exhaustion {
                feature,
                resets_at,
            }))
        }
    }

    async fn consume(
        &self,
        tx: &DatabaseTransaction,
        learner: Uuid,
        feature: Feature,
        n: u64,
    ) -> Result<(), EntitlementError> {
        let s = self.snapshot(tx, learner).await.map_err(unavailable)?;
        let (Some(limits), Some(i)) = (Limits::of(&s.plan, feature), slot(feature)) else {
            return Ok(());
        };
        if limits.unlimited() {
            return Ok(());
        }
        let now = self.clock.now();
        let w = Windows::at(now);
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        let exhausted = |used: Usage| {
            EntitlementError::Exhausted(Exhaustion {
                feature,
                resets_at: remaining(limits, used, w).1.or(Some(w.next_day)),
            })
        };
        let (day_limit, month_limit) = (
            limits.per_day.unwrap_or(i32::MAX),
            limits.per_month.unwrap_or(i32::MAX),
        );
        if n > day_limit || n > month_limit {
            return Err(exhausted(Self::usage(&s, i)));
        }
        let counted = repo::consume(
            tx,
            Consumption {
                learner,
                feature: feature.as_str(),
                day_key: w.day_key,
                month_key: w.month_key,
                n,
                day_limit,
                month_limit,
                now: now.timestamp_millis(),
            },
        )
        .await
        .map_err(unavailable)?;
        let fresh = |(day_used, month_used)| Usage {
            day_key: w.day_key,
            day_used,
            month_key: w.month_key,
            month_used,
        };
        match counted {
            Some(c) => {
                // Counted ahead of the commit: a rolled-back attempt over-counts this cache
                // by one until the entry expires, never the database.
                if let Ok(mut u) = s.usage.lock() {
                    u[i] = fresh(c);
                }
                Ok(())
            }
            None => {
                // Another instance (or a racing request) used the rest: read the counters
                // again (only on this refusing path) to say which window binds.
                self.invalidate(learner);
                let stored = repo::usage_of(tx, learner)
                    .await
                    .map_err(unavailable)?
                    .into_iter()
                    .find(|u| u.feature == feature.as_str())
                    .map(|u| Usage {
                        day_key: u.day_key,
                        day_used: u.day_used,
                        month_key: u.month_key,
                        month_used: u.month_used,
                    })
                    .unwrap_or_default();
                Err(exhausted(stored))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_default()
            .with_timezone(&Utc)
    }

    #[test]
    fn windows_follow_algerian_days_and_months() {
        // 23:30 UTC on 31 Dec is already 1 Jan in Algiers.
        let w = Windows::at(at("2026-12-31T23:30:00Z"));
        assert_eq!(w.day_key, 20270101);
        assert_eq!(w.month_key, 202701);
        assert_eq!(w.next_day, at("2027-01-01T23:00:00Z"));
        assert_eq!(w.next_month, at("2027-01-31T23:00:00Z"));
        let w = Windows::at(at("2026-12-02T10:00:00Z"));
        assert_eq!(w.day_key, 20261202);
        assert_eq!(w.next_day, at("2026-12-02T23:00:00Z"));
        assert_eq!(w.next_month, at("2026-12-31T23:00:00Z"));
    }

    #[test]
    fn the_tighter_window_decides_and_says_when_it_resets() {
        let w = Windows::at(at("2026-12-02T10:00:00Z"));
        let limits = Limits {
            per_day: Some(3),
            per_month: Some(10),
        };
        let used = |d, m| Usage {
            day_key: w.day_key,
            day_used: d,
            month_key: w.month_key,
            month_used: m,
        };
        assert_eq!(
            remaining(limits, used(1, 1), w),
            (Allowance::Remaining(2), None)
        );
        assert_eq!(
            remaining(limits, used(3, 5), w),
            (Allowance::Remaining(0), Some(w.next_day))
        );
        assert_eq!(
            remaining(limits, used(1, 10), w),
            (Allowance::Remaining(0), Some(w.next_month))
        );
        // Yesterday's counter counts nothing today.
        let old = Usage {
            day_key: w.day_key - 1,
            day_used: 3,
            month_key: w.month_key,
            month_used: 4,
        };
        assert_eq!(remaining(limits, old, w), (Allowance::Remaining(3), None));
        let open = Limits {
            per_day: None,
            per_month: None,
        };
        assert_eq!(
            remaining(open, used(99, 99), w),
            (Allowance::Unlimited, None)
        );
    }
}
